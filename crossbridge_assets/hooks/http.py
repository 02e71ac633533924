"""HTTP hook: one ``http`` span per request made with ``requests`` or ``httpx`` (sync and async),
attributed to the test that is running.

Installed by the pytest plugin and the Robot listener when profiling is on, or explicitly:

    from crossbridge_assets.hooks import http
    http.install()        # opens an event session if no runner hook did

A client already imported is patched at once, one imported later as soon as its package has run.
The span name is ``METHOD host/path-template``: ids in the path become placeholders
(``/users/42`` -> ``/users/{id}``, uuids -> ``{uuid}``, hex hashes -> ``{hash}``) so the same
endpoint groups together across calls. The query string is left out (it often carries tokens).
Status is the response code as a string, or "error" when no response came back.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import sys
import threading
from urllib.parse import urlsplit

from crossbridge_assets.hooks import events

log = logging.getLogger("crossbridge.hooks")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_INT = re.compile(r"^\d+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DIGIT = re.compile(r"\d")


def _segment(seg: str) -> str:
    if not seg:
        return seg
    if _INT.match(seg):
        return "{id}"
    if _UUID.match(seg):
        return "{uuid}"
    # Hashes (git shas, md5/sha digests, object ids): long hex with at least one digit, so
    # words made of a-f letters ("facade", "added") stay as they are.
    if len(seg) >= 7 and _HEX.match(seg) and _DIGIT.search(seg):
        return "{hash}"
    return seg


def path_template(path: str) -> str:
    """'/users/42/orders/9f86d081884c7d65' -> '/users/{id}/orders/{hash}'."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    return "/".join(_segment(s) for s in path.split("/"))


def describe(method: str, url: str) -> tuple[str, dict[str, object]]:
    """Span name and attributes of a request."""
    parts = urlsplit(str(url))
    host = parts.netloc.rsplit("@", 1)[-1]  # never keep credentials from the URL
    template = path_template(parts.path or "/")
    method = (method or "GET").upper()
    return f"{method} {host}{template}", {
        "method": method,
        "host": host,
        "scheme": parts.scheme,
        "path": parts.path or "/",
        "path_template": template,
    }


def _record(method: str, url: str, start: float, elapsed: float, response, error: BaseException | None,
            extra: dict) -> None:
    """One http span from a finished call: `response` (None when the call raised) gives the
    status code and the redirects followed; `extra` names the client."""
    try:
        name, attributes = describe(method, url)
        status_code = response.status_code if response is not None else None
        if response is not None and response.history:
            attributes["redirects"] = len(response.history)
        if status_code is not None:
            attributes["status_code"] = int(status_code)
        if error is not None:
            attributes["error"] = f"{type(error).__name__}: {error}"
        attributes.update(extra)
        events.record(
            "http",
            name,
            start,
            elapsed,
            status=str(status_code) if status_code is not None else "error",
            attributes=attributes,
        )
    except Exception:  # noqa: BLE001 - profiling must never break the code under test
        log.warning("crossbridge: could not record an HTTP span", exc_info=True)


# ---------------------------------------------------------------------------- requests

# requests follows redirects by calling Session.send again from inside Session.send: only
# the outermost call is recorded (one span for what the caller asked, redirects counted).
_depth = threading.local()


def _wrap_requests_send(original):
    @functools.wraps(original)
    def send(self, request, **kwargs):
        if events.active() is None or getattr(_depth, "n", 0):
            return original(self, request, **kwargs)
        _depth.n = 1
        start, t0 = events.now(), events.perf()
        response = error = None
        try:
            response = original(self, request, **kwargs)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            _depth.n = 0
            _record(request.method, request.url, start, events.perf() - t0, response, error,
                    {"client": "requests"})

    send.__crossbridge_original__ = original
    return send


# ---------------------------------------------------------------------------- httpx


def _wrap_httpx_send(original):
    @functools.wraps(original)
    def send(self, request, **kwargs):
        if events.active() is None:
            return original(self, request, **kwargs)
        start, t0 = events.now(), events.perf()
        response = error = None
        try:
            response = original(self, request, **kwargs)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            _record(request.method, str(request.url), start, events.perf() - t0, response, error,
                    {"client": "httpx"})

    send.__crossbridge_original__ = original
    return send


def _wrap_httpx_async_send(original):
    @functools.wraps(original)
    async def send(self, request, **kwargs):
        if events.active() is None:
            return await original(self, request, **kwargs)
        start, t0 = events.now(), events.perf()
        response = error = None
        try:
            response = await original(self, request, **kwargs)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            _record(request.method, str(request.url), start, events.perf() - t0, response, error,
                    {"client": "httpx", "async": True})

    send.__crossbridge_original__ = original
    return send


# ---------------------------------------------------------------------------- install

_lock = threading.Lock()
_installed: list[tuple[type, str]] = []


def _patch(cls: type, attr: str, wrapper) -> None:
    current = cls.__dict__.get(attr)
    if current is None or hasattr(current, "__crossbridge_original__"):
        return
    setattr(cls, attr, wrapper(current))
    _installed.append((cls, attr))


def _patch_requests(requests) -> None:
    _patch(requests.Session, "send", _wrap_requests_send)


def _patch_httpx(httpx) -> None:
    _patch(httpx.Client, "send", _wrap_httpx_send)
    _patch(httpx.AsyncClient, "send", _wrap_httpx_async_send)


# A client the code under test has not imported yet is patched when it is (once its package has
# run): a run that never uses httpx does not pay for importing it.
_CLIENTS = {"requests": _patch_requests, "httpx": _patch_httpx}


class _PatchingLoader:
    """The client module's own loader, patching the module once it has run."""

    def __init__(self, loader, patch):
        self._loader, self._patch = loader, patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        with _lock:
            if _finder not in sys.meta_path:
                return  # uninstalled meanwhile
            try:
                self._patch(module)
            except Exception:  # noqa: BLE001 - profiling must never break the code under test
                log.warning("crossbridge: the HTTP hook could not patch %s", module.__name__, exc_info=True)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _PatchWhenImported:
    """A meta path finder that finds nothing itself: it hands the client modules' loaders a patch."""

    def find_spec(self, fullname, path, target=None):
        patch = _CLIENTS.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


_finder = _PatchWhenImported()


def install(writer: events.EventWriter | None = None) -> list[str]:
    """Patch the HTTP clients that are installed (now if imported, else when they are); returns
    their names. Idempotent.

    With `writer`, that writer becomes the active one; with none and no active writer, a
    session is opened (closed at exit), so a plain script gets an event file too."""
    if writer is not None:
        events.set_active(writer)
    elif events.active() is None:
        events.start_session(framework="python")
    clients = []
    with _lock:
        waiting = False
        for name, patch in _CLIENTS.items():
            module = sys.modules.get(name)
            if module is not None:
                patch(module)
            elif importlib.util.find_spec(name) is not None:
                waiting = True
            else:
                continue
            clients.append(name)
        if waiting and _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
    return clients


def install_for_runner() -> bool:
    """What the runner hooks do: install() unless CROSSBRIDGE_HTTP turns HTTP spans off. A
    failure is logged, never raised: profiling must not stop the test run. True if this call
    installed the hook, so the runner uninstalls it when it ends (not when an outer run did)."""
    if os.environ.get("CROSSBRIDGE_HTTP", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    already = installed()
    try:
        install()
    except Exception:  # noqa: BLE001
        log.warning("crossbridge: the HTTP hook could not be installed", exc_info=True)
        return False
    return not already


def uninstall() -> None:
    """Restore the clients' own methods."""
    with _lock:
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        while _installed:
            cls, attr = _installed.pop()
            current = cls.__dict__.get(attr)
            original = getattr(current, "__crossbridge_original__", None)
            if original is not None:
                setattr(cls, attr, original)


def installed() -> bool:
    return bool(_installed) or _finder in sys.meta_path
