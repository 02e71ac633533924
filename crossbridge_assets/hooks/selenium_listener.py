"""Selenium hook: WebDriver commands as ``driver_command`` spans, through Selenium's supported
event-listener API.

    from selenium.webdriver.support.events import EventFiringWebDriver
    from crossbridge_assets.hooks.selenium_listener import CrossBridgeListener

    driver = EventFiringWebDriver(webdriver.Chrome(options=...), CrossBridgeListener())

Spans go to the writer given to the listener, else to the active event session (the pytest
plugin's or Robot listener's, attributed to the running test). With neither, as in a plain
script, the listener opens a session itself, as ``http.install()`` does (into ``folder``, else the
inbox, with the CI's run metadata), and closes it when the driver quits, or at exit. Status is
"ok", or "error" with the exception when the command raised.
"""

from __future__ import annotations

import logging
import os
import threading

from selenium.webdriver.support.events import AbstractEventListener

from crossbridge_assets.hooks import events
from crossbridge_assets.hooks.http import describe

log = logging.getLogger("crossbridge.hooks")

_SCRIPT_CHARS = 200
_open_lock = threading.Lock()


class CrossBridgeListener(AbstractEventListener):
    def __init__(self, writer: events.EventWriter | None = None, folder: str | os.PathLike | None = None):
        self.writer = writer
        self.folder = folder
        self._own: events.EventWriter | None = None  # the session this listener opened
        # Commands in flight on this thread: (name, attributes, wall start, perf start).
        self._local = threading.local()

    # -- plumbing

    def _writer(self) -> events.EventWriter | None:
        if self.writer is not None:
            return None if self.writer.closed else self.writer
        with _open_lock:  # drivers on several threads must not open a session each
            writer = events.active()
            if writer is None:
                writer = self._own = events.start_session(self.folder, framework="python")
        return writer

    def _pending(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _before(self, command: str, name: str | None = None, **attributes) -> None:
        try:
            attributes["command"] = command
            self._pending().append((name or command, attributes, events.now(), events.perf()))
        except Exception:  # noqa: BLE001 - never disturb the driver
            log.warning("crossbridge: Selenium listener failed", exc_info=True)

    def _after(self, error: BaseException | None = None) -> None:
        try:
            stack = self._pending()
            if not stack:
                return
            name, attributes, start, t0 = stack.pop()
            if error is not None:
                attributes["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            kw = dict(status="error" if error is not None else "ok", attributes=attributes)
            elapsed = events.perf() - t0
            writer = self._writer()
            if writer is not None:
                writer.record("driver_command", name, start, elapsed, **kw)
        except Exception:  # noqa: BLE001
            log.warning("crossbridge: Selenium listener failed", exc_info=True)

    # -- AbstractEventListener

    def before_navigate_to(self, url, driver):
        name, attrs = describe("GET", url)
        self._before("navigate_to", "navigate_to " + name.split(" ", 1)[1], host=attrs["host"],
                     path=attrs["path"], path_template=attrs["path_template"])

    def after_navigate_to(self, url, driver):
        self._after()

    def before_navigate_back(self, driver):
        self._before("navigate_back")

    def after_navigate_back(self, driver):
        self._after()

    def before_navigate_forward(self, driver):
        self._before("navigate_forward")

    def after_navigate_forward(self, driver):
        self._after()

    def before_find(self, by, value, driver):
        # Locators are stable across runs, so each one is its own series to compare.
        self._before("find", f"find {by}={value}", by=str(by), value=str(value))

    def after_find(self, by, value, driver):
        self._after()

    def before_click(self, element, driver):
        self._before("click", element=getattr(element, "id", None))

    def after_click(self, element, driver):
        self._after()

    def before_change_value_of(self, element, driver):
        # The typed value is not recorded: it may be a password.
        self._before("change_value_of", element=getattr(element, "id", None))

    def after_change_value_of(self, element, driver):
        self._after()

    def before_execute_script(self, script, driver):
        self._before("execute_script", script=str(script)[:_SCRIPT_CHARS])

    def after_execute_script(self, script, driver):
        self._after()

    def before_close(self, driver):
        self._before("close")

    def after_close(self, driver):
        self._after()

    def before_quit(self, driver):
        self._before("quit")

    def after_quit(self, driver):
        self._after()
        # A session of its own ends with the driver: the file reaches the inbox now, not at exit.
        own, self._own = self._own, None
        if own is not None:
            own.close()

    def on_exception(self, exception, driver):
        # Also called for failures outside a dispatched command (no pending entry): nothing to time.
        self._after(exception)
