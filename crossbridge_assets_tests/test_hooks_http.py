"""The HTTP hook against a real http.server: requests, httpx sync and httpx async."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import requests

from crossbridge_assets.hooks import events, http

from crossbridge_assets_tests.hooks_helpers import http_server, read_events


@pytest.fixture
def server():
    with http_server() as base:
        yield base


@pytest.fixture
def writer(tmp_path):
    previous = events.active()
    w = events.EventWriter(tmp_path / "events", framework="python", env={})
    w.context = events.Context(test="test-identity-1", parent_id="parent-span")
    http.install(w)
    try:
        yield w
    finally:
        http.uninstall()
        w.close()
        events.set_active(previous)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check(writer, client: str, base: str):
    host = base.split("://", 1)[1]
    info, spans = read_events(writer.close())
    assert info.warnings == []
    got = [(s.name, s.status, s.attributes.get("status_code")) for s in spans]
    assert got == [
        (f"GET {host}/users/{{id}}", "200", 200),
        (f"POST {host}/orders/{{id}}/items/{{uuid}}", "404", 404),
        (f"GET {host}/boom", "500", 500),
        (f"GET {host}/redirect", "200", 200),
        (f"GET 127.0.0.1:{spans[-1].attributes['host'].split(':')[1]}/users/{{hash}}", "error", None),
    ]
    for s in spans:
        assert s.kind == "http" and s.test == "test-identity-1" and s.parent_id == "parent-span"
        assert s.attributes["client"] == client
        assert 0 <= s.duration < 10
    assert spans[0].attributes["path"] == "/users/42"
    assert spans[3].attributes["redirects"] == 1
    assert "error" in spans[-1].attributes
    assert "token" not in repr(spans)  # query strings are not recorded


UUID = "123e4567-e89b-12d3-a456-426614174000"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"


def test_requests(server, writer):
    assert requests.get(server + "/users/42?token=secret").status_code == 200
    assert requests.post(f"{server}/orders/7/items/{UUID}").status_code == 404
    assert requests.get(server + "/boom").status_code == 500
    assert requests.get(server + "/redirect").status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{_closed_port()}/users/{SHA}", timeout=5)
    _check(writer, "requests", server)


def test_httpx_sync(server, writer):
    with httpx.Client(follow_redirects=True) as client:
        assert client.get(server + "/users/42", params={"token": "secret"}).status_code == 200
        assert client.post(f"{server}/orders/7/items/{UUID}").status_code == 404
        assert client.get(server + "/boom").status_code == 500
        assert client.get(server + "/redirect").status_code == 200
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{_closed_port()}/users/{SHA}")
    _check(writer, "httpx", server)


def test_httpx_async(server, writer):
    async def main():
        async with httpx.AsyncClient(follow_redirects=True) as client:
            assert (await client.get(server + "/users/42?token=secret")).status_code == 200
            assert (await client.post(f"{server}/orders/7/items/{UUID}")).status_code == 404
            assert (await client.get(server + "/boom")).status_code == 500
            assert (await client.get(server + "/redirect")).status_code == 200
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{_closed_port()}/users/{SHA}")

    asyncio.run(main())
    _check(writer, "httpx", server)
    _, spans = read_events(writer.path)
    assert all(s.attributes.get("async") for s in spans)


def test_module_level_httpx_get_is_recorded(server, writer):
    assert httpx.get(server + "/users/1").status_code == 200
    _, spans = read_events(writer.close())
    assert [s.status for s in spans] == ["200"]


def test_inactive_and_uninstalled_record_nothing(server, tmp_path):
    previous = events.active()
    w = events.EventWriter(tmp_path, framework="python", env={})
    try:
        http.install(w)
        http.uninstall()
        assert not http.installed()
        assert not hasattr(requests.Session.send, "__crossbridge_original__")
        requests.get(server + "/users/1")
        _, spans = read_events(w.close())
        assert spans == []
    finally:
        events.set_active(previous)


def test_install_is_idempotent(writer, server):
    http.install(writer)
    http.install(writer)
    requests.get(server + "/users/1")
    _, spans = read_events(writer.close())
    assert len(spans) == 1


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/users/42", "/users/{id}"),
        ("/users/42/", "/users/{id}/"),
        (f"/orders/{UUID}/items/3", "/orders/{uuid}/items/{id}"),
        (f"/commits/{SHA}", "/commits/{hash}"),
        ("/commits/abc1234", "/commits/{hash}"),
        ("/api/v1/facade/added", "/api/v1/facade/added"),
        ("/search?q=1", "/search"),
        ("", "/"),
    ],
)
def test_path_template(path, expected):
    assert http.path_template(path) == expected


def test_credentials_never_reach_the_span():
    name, attributes = http.describe("get", "https://user:pw@api.example.org/users/9?key=k")
    assert name == "GET api.example.org/users/{id}"
    assert "pw" not in repr(attributes) and "key" not in repr(attributes)
