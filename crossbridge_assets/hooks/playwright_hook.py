"""Playwright for Python hook: the page's requests (``http`` spans) and main-frame navigations
(``navigation`` spans) with the browser's own timings, from page events.

    from crossbridge_assets.hooks.playwright_hook import attach
    handle = attach(page)      # sync or async API
    ...
    handle.detach()            # optional: flushes a navigation still waiting for "load"

Spans go to the writer given to attach(), else to the active event session (the pytest plugin's
or Robot listener's). With neither, as in a plain script, the recorder opens a session itself,
as ``http.install()`` does (into ``folder``, else the inbox, with the CI's run metadata), and
closes it when the page closes (browser.close() included) or is detached, or at exit.

Only event payloads are read (request.timing, response.status, frame.url), never awaited
methods, so the same handlers serve the sync and the async API.

- http: start = request.timing.startTime, duration = timing.responseEnd (the browser's
  measure) or the wall time between the "request" and "requestfinished"/"requestfailed" events;
  status = the response code, or "error" with the failure text.
- navigation: from the navigation request's start (or the "framenavigated" event for
  same-document navigations) to the page's "load" event; attributes carry the commit time.
  Redirects are part of the navigation (its start is the first hop's, ``redirects`` counts
  them); the browser's error page after a failed navigation is not one.
"""

from __future__ import annotations

import logging
import os

from crossbridge_assets.hooks import events
from crossbridge_assets.hooks.http import describe

log = logging.getLogger("crossbridge.hooks")


def _ms(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v >= 0 else None


class PageRecorder:
    def __init__(self, page, writer: events.EventWriter | None = None, folder: str | os.PathLike | None = None):
        self.page = page
        self.writer = writer
        self.folder = folder
        self._own: events.EventWriter | None = None  # the session this recorder opened
        self._requests: dict[int, tuple[object, float]] = {}  # id(request) -> (request, wall start)
        self._status: dict[int, int] = {}
        self._nav: dict | None = None  # the main-frame navigation waiting for "load"
        self._handlers = {
            "request": self._on_request,
            "response": self._on_response,
            "requestfinished": self._on_finished,
            "requestfailed": self._on_failed,
            "framenavigated": self._on_navigated,
            "load": self._on_load,
            "close": self._on_close,
        }
        for event, handler in self._handlers.items():
            page.on(event, handler)

    # -- plumbing

    def _writer(self) -> events.EventWriter | None:
        if self.writer is not None:
            return None if self.writer.closed else self.writer
        # Handlers all run on Playwright's dispatcher thread (or event loop): no race to open one.
        writer = events.active()
        if writer is None:
            writer = self._own = events.start_session(self.folder, framework="python")
        return writer

    def _guard(fn):
        def wrapper(self, *args):
            try:
                fn(self, *args)
            except Exception:  # noqa: BLE001 - an event handler must never break the page
                log.warning("crossbridge: Playwright hook failed in %s", fn.__name__, exc_info=True)

        wrapper.__name__ = fn.__name__
        return wrapper

    def _is_main(self, frame) -> bool:
        try:
            return frame == self.page.main_frame
        except Exception:  # noqa: BLE001
            return False

    # -- requests

    @_guard
    def _on_request(self, request):
        self._requests[id(request)] = (request, events.now())
        if request.is_navigation_request() and self._is_main(request.frame):
            nav = self._nav
            if nav is not None and request.redirected_from is not None and request.redirected_from is nav["request"]:
                # The next hop of a redirect: the same navigation goes on, as one span.
                nav.update(request=request, url=request.url, redirects=nav.get("redirects", 0) + 1)
                return
            self._flush_nav("interrupted")
            self._nav = {"request": request, "first": request, "start": events.now(), "url": request.url}

    @_guard
    def _on_response(self, response):
        self._status[id(response.request)] = response.status

    @_guard
    def _on_finished(self, request):
        self._finish(request, None)

    @_guard
    def _on_failed(self, request):
        self._finish(request, request.failure or "failed")

    def _finish(self, request, failure: str | None) -> None:
        _, wall_start = self._requests.pop(id(request), (request, events.now()))
        status_code = self._status.pop(id(request), None)
        timing = request.timing or {}
        start_ms = _ms(timing.get("startTime"))
        start = start_ms / 1000.0 if start_ms else wall_start
        response_end = _ms(timing.get("responseEnd"))
        duration = response_end / 1000.0 if response_end else max(events.now() - wall_start, 0.0)
        name, attributes = describe(request.method, request.url)
        attributes["client"] = "playwright"
        attributes["resource_type"] = request.resource_type
        for key in ("domainLookupStart", "connectStart", "requestStart", "responseStart", "responseEnd"):
            value = _ms(timing.get(key))
            if value is not None:
                attributes[f"{key}_ms"] = round(value, 3)
        if status_code is not None:
            attributes["status_code"] = status_code
        if failure:
            attributes["error"] = str(failure)
        nav = self._nav
        if nav is not None:
            if nav.get("first") is request:  # through redirects, the navigation starts at the first hop
                nav["start"] = start
            if nav.get("request") is request:
                nav["status_code"] = status_code
                if response_end:
                    nav["response_end_ms"] = round(response_end, 3)
                if failure:
                    self._flush_nav("error", failure)
        writer = self._writer()
        if writer is not None:
            writer.record(
                "http", name, start, duration,
                status=str(status_code) if status_code is not None and not failure else "error",
                attributes=attributes,
            )

    # -- navigations

    @_guard
    def _on_navigated(self, frame):
        if not self._is_main(frame):
            return
        now = events.now()
        if self._nav is None and frame.url.startswith("chrome-error://"):
            return  # the browser's error page after a failed navigation, recorded as its error
        if self._nav is None:
            # No request: a same-document navigation (history API, #fragment).
            self._emit_nav({"start": now, "url": frame.url, "same_document": True}, now, "ok")
            return
        self._nav["url"] = frame.url
        self._nav["committed"] = now

    @_guard
    def _on_load(self, *_):
        self._flush_nav("ok")

    @_guard
    def _on_close(self, *_):
        # Nothing comes after: a late event must not open a new session of its own.
        self.detach()

    def _flush_nav(self, status: str, error: str | None = None) -> None:
        nav, self._nav = self._nav, None
        if nav is None:
            return
        if error:
            nav["error"] = str(error)
        self._emit_nav(nav, events.now(), status)

    def _emit_nav(self, nav: dict, end: float, status: str) -> None:
        writer = self._writer()
        if writer is None:
            return
        name, attributes = describe("GET", nav["url"])
        attributes.pop("method", None)
        start = nav["start"]
        if nav.get("committed"):
            attributes["commit_ms"] = round((nav["committed"] - start) * 1000.0, 3)
        for key in ("status_code", "response_end_ms", "redirects", "same_document", "error"):
            if nav.get(key) is not None:
                attributes[key] = nav[key]
        writer.record("navigation", name.split(" ", 1)[1], start, max(end - start, 0.0),
                      status=status, attributes=attributes)

    # -- detach

    def detach(self) -> None:
        try:
            self._flush_nav("interrupted")
        finally:
            for event, handler in self._handlers.items():
                try:
                    self.page.remove_listener(event, handler)
                except Exception:  # noqa: BLE001 - the page may be closed already
                    pass
            # A session of its own ends with the page: the file reaches the inbox now, not at exit.
            own, self._own = self._own, None
            if own is not None:
                own.close()


def attach(page, writer: events.EventWriter | None = None, folder: str | os.PathLike | None = None) -> PageRecorder:
    """Record `page`'s requests and navigations into `writer` (default: the active session, else
    a session of the recorder's own in `folder` or the inbox)."""
    return PageRecorder(page, writer, folder)
