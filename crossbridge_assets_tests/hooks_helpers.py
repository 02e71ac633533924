"""Shared by the hook tests: a real HTTP server on 127.0.0.1 and event-file readers."""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crossbridge_assets.formats.crossbridge_events import open_events

PAGE = b"""<!doctype html><html><head><title>CrossBridge test page</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><h1 id="title">Hello</h1><input id="name"><button id="go" onclick="document.getElementById('title').textContent='Clicked'">Go</button>
<a id="next" href="/page/2">next</a>
<script>fetch('/api/users/42').then(r => r.text()); fetch('/api/missing');</script>
</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path.startswith("/users/") or path.startswith("/api/users/"):
            self._send(200, b'{"ok": true}', "application/json")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/users/1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/boom":
            self._send(500, b"boom", "text/plain")
        elif path.startswith("/page/") or path == "/":
            self._send(200, PAGE, "text/html")
        elif path == "/static/style.css":
            self._send(200, b"h1 { color: teal }", "text/css")
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._send(404, b"not found", "text/plain")

    do_POST = do_GET

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def http_server():
    """Yields the base URL of a real server: /users/<n> 200, /boom 500, /redirect 302, else 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def read_events(path: Path):
    """(info, spans) of one event file."""
    stream = open_events(path)
    spans = stream.read_all()
    return stream.info, spans


def event_files(folder: Path, pattern: str = "*.jsonl") -> list[Path]:
    return sorted(Path(folder).glob(pattern)) if Path(folder).exists() else []


def run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


PYTHON = sys.executable


def _entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "crossbridge_assets.hooks.pytest_plugin" for ep in entry_points(group="pytest11"))


# Once the package declares its pytest11 entry point the plugin loads by itself, and naming the
# module again with -p would register it twice (pytest refuses that).
PLUGIN_ARGS: list[str] = [] if _entry_point_installed() else ["-p", "crossbridge_assets.hooks.pytest_plugin"]
