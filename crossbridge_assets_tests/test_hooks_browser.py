"""Selenium and Playwright hooks against Debian's chromium on a page served from 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from crossbridge_assets.hooks import events

from crossbridge_assets_tests.hooks_helpers import http_server, read_events

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# As root chromium refuses to start without --no-sandbox; the rest keeps it off the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"),
]


def _needs(module: str, install: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"python package {install!r} is not installed (pip install {install})")


@pytest.fixture
def writer(tmp_path):
    previous = events.active()
    w = events.EventWriter(tmp_path / "events", framework="python", env={})
    w.context = events.Context(test="browser-test", parent_id="call-span")
    events.set_active(w)
    try:
        yield w
    finally:
        w.close()
        events.set_active(previous)


@pytest.fixture
def server():
    with http_server() as base:
        yield base


def test_selenium_listener(server, writer):
    _needs("selenium", "selenium")
    if not os.path.exists(CHROMEDRIVER):
        pytest.skip("chromedriver is missing (apt-get install -y chromium-driver)")
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.events import EventFiringWebDriver

    from crossbridge_assets.hooks.selenium_listener import CrossBridgeListener

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    raw = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver = EventFiringWebDriver(raw, CrossBridgeListener())
    try:
        driver.get(server + "/page/1")
        driver.find_element(By.ID, "name").send_keys("secret-password")
        driver.find_element(By.ID, "go").click()
        assert driver.find_element(By.ID, "title").text == "Clicked"
        driver.execute_script("return document.title")
        with pytest.raises(NoSuchElementException):
            driver.find_element(By.ID, "does-not-exist")
    finally:
        driver.quit()

    info, spans = read_events(writer.close())
    assert info.warnings == []
    assert all(s.kind == "driver_command" for s in spans)
    host = server.split("://", 1)[1]
    names = [s.name for s in spans]
    assert names == [
        f"navigate_to {host}/page/{{id}}",
        "find id=name", "change_value_of", "find id=go", "click", "find id=title",
        "execute_script", "find id=does-not-exist", "quit",
    ]
    assert all(s.test == "browser-test" and s.parent_id == "call-span" for s in spans)
    assert spans[0].status == "ok" and spans[0].duration > 0
    missing = spans[-2]
    assert missing.status == "error" and "NoSuchElementException" in missing.attributes["error"]
    assert "secret-password" not in repr(spans)


def test_playwright_attach(server, writer):
    _needs("playwright", "playwright")
    from playwright.sync_api import sync_playwright

    from crossbridge_assets.hooks.playwright_hook import attach

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"Playwright cannot drive {CHROMIUM}: {str(exc).splitlines()[0]}")
        try:
            page = browser.new_page()
            handle = attach(page)
            page.goto(server + "/page/1", wait_until="load")
            page.wait_for_load_state("networkidle")
            page.click("#next")
            page.wait_for_url("**/page/2")
            page.wait_for_load_state("networkidle")
            page.evaluate("history.pushState({}, '', '/page/3#x')")
            # A request that gets no response at all.
            page.evaluate("url => fetch(url).then(() => 1, () => 0)", f"http://127.0.0.1:{_closed_port()}/api/down")
            handle.detach()
        finally:
            browser.close()

    info, spans = read_events(writer.close())
    assert info.warnings == []
    host = server.split("://", 1)[1]
    navs = [s for s in spans if s.kind == "navigation"]
    assert [(s.name, s.status) for s in navs] == [
        (f"{host}/page/{{id}}", "ok"), (f"{host}/page/{{id}}", "ok"), (f"{host}/page/{{id}}", "ok")]
    assert navs[0].attributes["status_code"] == 200 and navs[0].duration > 0
    assert "commit_ms" in navs[0].attributes
    assert navs[2].attributes["same_document"] is True

    http = [(s.name, s.status) for s in spans if s.kind == "http"]
    assert (f"GET {host}/page/{{id}}", "200") in http
    assert (f"GET {host}/static/style.css", "200") in http
    assert (f"GET {host}/api/users/{{id}}", "200") in http
    assert (f"GET {host}/api/missing", "404") in http
    (down,) = [s for s in spans if s.kind == "http" and s.name.endswith("/api/down")]
    assert down.status == "error" and down.attributes["error"]
    for s in spans:
        assert s.test == "browser-test" and s.parent_id == "call-span"
        if s.kind == "http":
            assert s.attributes["client"] == "playwright" and s.duration >= 0
            assert s.attributes["resource_type"]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
