"""A real InfluxDB 1.x for the profiling tests, and a loopback v2 shim in front of it.

`influxd` (session-scoped) starts Debian's influxd through services/influxd.sh when the binary
exists and CROSSBRIDGE_TEST_INFLUX=1 or CI is set; otherwise the tests that use it are skipped
with the reason. Import the fixtures into a test module: ``from ...influx_helpers import influxd``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import urllib3

SCRIPT = Path(__file__).parent / "services" / "influxd.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Influxd:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "start", str(self.folder), str(self.port)], check=True,
                       capture_output=True, timeout=60)

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.folder)], check=True, capture_output=True, timeout=60)

    def query(self, q: str, db: str | None = None) -> dict:
        params = {"q": q, **({"db": db} if db else {})}
        r = urllib3.request("POST", f"{self.url}/query?{urlencode(params)}", timeout=30)
        assert r.status == 200, r.data
        return r.json()

    def create_database(self, prefix: str = "cb") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.query(f'CREATE DATABASE "{name}"')
        return name

    def rows(self, q: str, db: str) -> list[list]:
        result = self.query(q, db)["results"][0]
        assert "error" not in result, result
        return [row for s in result.get("series", []) for row in s["values"]]

    def env(self, db: str) -> dict[str, str]:
        return {"CROSSBRIDGE_INFLUX_URL": self.url, "CROSSBRIDGE_INFLUX_VERSION": "1", "CROSSBRIDGE_INFLUX_DB": db}


def influx_wanted() -> str | None:
    """None when the real server can run here, else the reason it does not."""
    if shutil.which("influxd") is None:
        return "influxd is not installed (apt-get install -y influxdb; .ci/run installs it)"
    if not (os.environ.get("CROSSBRIDGE_TEST_INFLUX") == "1" or os.environ.get("CI")):
        return "set CROSSBRIDGE_TEST_INFLUX=1 (or CI) to run the tests against a real influxd"
    return None


@pytest.fixture(scope="session")
def influxd():
    reason = influx_wanted()
    if reason:
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="crossbridge-influxd-"))
    server = Influxd(folder, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the v2 shim

class _ShimHandler(BaseHTTPRequestHandler):
    """/api/v2/write?org=&bucket=&precision= -> /write?db=bucket&precision= (what InfluxDB 1.8+
    does itself); anything else (/ping, /health) is passed through."""

    upstream = ""
    seen: list

    def _forward(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if parts.path == "/api/v2/write":
            self.seen.append({"org": query.get("org", [""])[0], "bucket": query.get("bucket", [""])[0],
                              "auth": self.headers.get("Authorization", "")})
            params = {"db": query.get("bucket", [""])[0], "precision": query.get("precision", ["ns"])[0]}
            target = f"{self.upstream}/write?{urlencode(params)}"
        else:
            target = f"{self.upstream}{self.path}"
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-encoding")}
        try:
            r = urllib3.request(method, target, body=body, headers=headers, timeout=30, retries=False)
        except urllib3.exceptions.HTTPError:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(r.status)
        for key, value in r.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(r.data)))
        self.end_headers()
        self.wfile.write(r.data)

    def do_POST(self):  # noqa: N802
        self._forward("POST")

    def do_GET(self):  # noqa: N802
        self._forward("GET")

    def do_HEAD(self):  # noqa: N802
        self._forward("HEAD")

    def log_message(self, *args):
        pass


@contextmanager
def v2_shim(upstream: str):
    """Yields (url, seen requests) of a v2-write shim on 127.0.0.1 in front of a 1.x server."""
    seen: list = []
    handler = type("Shim", (_ShimHandler,), {"upstream": upstream, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- event files

def write_events(folder: Path, spans: list[dict], *, run: str | None = None, metadata: dict | None = None,
                 close: bool = True, env: dict | None = None) -> Path:
    """An event file written by the real writer; spans are dicts of EventWriter.span's arguments
    (kind, name, start epoch seconds, duration seconds, and optional keywords)."""
    from crossbridge_assets.hooks.events import EventWriter

    writer = EventWriter(folder, framework="pytest", run=run or uuid.uuid4().hex, metadata=metadata, env=env or {})
    for s in spans:
        s = dict(s)
        writer.span(s.pop("kind"), s.pop("name"), s.pop("start"), s.pop("duration"), **s)
    if close:
        return writer.close("passed")
    writer._fh.close()
    return writer.part_path


def land(settings, path: Path, partition: str = "2026-11-30", batch: str | None = None):
    """Land one file through the real Landing and return its `reports` row."""
    from crossbridge_assets.warehouse.engine import make_engine, migrate
    from crossbridge_assets.warehouse.landing import Landing
    from crossbridge_assets.warehouse.queries import reports_for

    engine = make_engine(settings.warehouse_url)
    migrate(engine)
    landed = Landing(settings, engine).land(path, partition, batch)
    rows = [r for r in reports_for(engine, partition, "profiling") if r.sha256 == landed.sha256]
    assert rows, f"{path.name} did not land as profiling: {landed}"
    return rows[0]
