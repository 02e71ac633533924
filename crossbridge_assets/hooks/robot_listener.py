"""Robot Framework listener (API v3): suite, test and keyword spans with their status.

    robot --listener crossbridge_assets.hooks.robot_listener tests/
    robot --listener crossbridge_assets.hooks.robot_listener:/path/to/inbox tests/

Robot picks the class named like the module, so the listener class is ``robot_listener``.
Each robot process writes one event file (pabot runs one process per worker, so one file
each). HTTP calls made with requests/httpx (RequestsLibrary, custom libraries) are recorded
under the keyword that made them; set CROSSBRIDGE_HTTP=0 to leave them out.

Test identity, as formats/robot.py computes it from output.xml: framework "robot", suite = the
parent suite's full name (Robot's own dotted spelling, not re-normalized: suite names may hold
dots), name = the test name, no parameters.
"""

from __future__ import annotations

import logging
from datetime import datetime

from crossbridge_assets.hooks import events
from crossbridge_assets.model import test_identity

log = logging.getLogger("crossbridge.hooks")

FRAMEWORK = "robot"
_STATUS = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped", "NOT RUN": "not_run", "NOT SET": "not_run"}


def _epoch(result, fallback: float) -> float:
    start = getattr(result, "start_time", None)
    if isinstance(start, datetime):
        # Robot's times are naive local times, which timestamp() reads as local time.
        return start.timestamp()
    return fallback


def _elapsed(result, start: float) -> float:
    elapsed = getattr(result, "elapsed_time", None)
    if elapsed is not None and elapsed.total_seconds() > 0:
        return elapsed.total_seconds()
    return max(events.now() - start, 0.0)


def _is_dry_run() -> bool:
    try:
        from robot.running.context import EXECUTION_CONTEXTS

        context = EXECUTION_CONTEXTS.current or EXECUTION_CONTEXTS.top
        return bool(getattr(context, "dry_run", False))
    except Exception:  # noqa: BLE001 - Robot's internals moved: profile as usual
        return False


class robot_listener:  # noqa: N801 - Robot looks the class up by the module's name
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, folder: str | None = None):
        self.folder = folder or None
        self.writer: events.EventWriter | None = None
        self.outer: events.EventWriter | None = None
        self.failed = False
        self.dry_run = False
        self.http = None
        # Open spans: (span id, wall-clock start) per suite/test/keyword, innermost last.
        self.stack: list[tuple[str, float]] = []
        self.test: str | None = None
        self.status = "passed"

    # -- plumbing

    def _guard(self, fn, *args) -> None:
        if self.failed or self.dry_run:
            return
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a listener error must not disturb the robot run
            self.failed = True
            log.warning("crossbridge: Robot listener failed; profiling stops for this run", exc_info=True)

    def _open(self) -> None:
        if self.writer is not None:
            return
        import robot

        self.writer = events.EventWriter(
            self.folder, framework=FRAMEWORK, metadata={"robot": robot.__version__}
        )
        # Robot run inside a test under the pytest plugin (robot.run): the outer session gets its
        # writer and HTTP hook back when this run ends.
        self.outer = events.take_over(self.writer)
        from crossbridge_assets.hooks import http

        if http.install_for_runner():
            self.http = http

    def _push(self) -> str:
        # The spans so far go to the file before the suite, test or keyword runs: a robot killed
        # in it keeps them.
        self.writer.flush()
        span_id = events.new_id()
        self.stack.append((span_id, events.now()))
        self.writer.context = events.Context(test=self.test, parent_id=span_id)
        return span_id

    def _pop(self, kind: str, name: str, result, attributes: dict) -> None:
        span_id, wall_start = self.stack.pop()
        parent = self.stack[-1][0] if self.stack else None
        status = _STATUS.get(str(getattr(result, "status", "")).upper(), str(getattr(result, "status", "")).lower())
        message = getattr(result, "message", None)
        if message and status != "passed":
            attributes["message"] = message
        start = _epoch(result, wall_start)
        self.writer.span(
            kind,
            name,
            start,
            _elapsed(result, wall_start),
            status=status or None,
            test=self.test,
            span_id=span_id,
            parent_id=parent,
            attributes=attributes,
        )
        self.writer.context = events.Context(test=self.test, parent_id=parent)

    # -- suites

    def start_suite(self, data, result):
        self._guard(self._start_suite, data, result)

    def _start_suite(self, data, result):
        if self.writer is None and _is_dry_run():
            # Nothing runs in a dry run: its "passed" tests and near-zero times are no timings.
            self.dry_run = True
            return
        self._open()
        self._push()

    def end_suite(self, data, result):
        self._guard(self._end_suite, data, result)

    def _end_suite(self, data, result):
        if not self.stack:
            return
        status = _STATUS.get(result.status, "failed")
        if not result.parent and status == "failed":
            self.status = "failed"
        self._pop("suite", result.full_name, result, {
            "source": str(data.source) if getattr(data, "source", None) else None,
            "tests": getattr(getattr(result, "statistics", None), "total", None),
        })

    # -- tests

    def start_test(self, data, result):
        self._guard(self._start_test, data, result)

    def _start_test(self, data, result):
        suite = result.parent.full_name if result.parent is not None else ""
        self.test = test_identity(FRAMEWORK, suite, result.name, None)
        self._push()

    def end_test(self, data, result):
        self._guard(self._end_test, data, result)

    def _end_test(self, data, result):
        suite = result.parent.full_name if result.parent is not None else ""
        self._pop("test", result.full_name, result, {
            "framework": FRAMEWORK,
            "suite": suite,
            "test_name": result.name,
            "tags": list(result.tags) or None,
            "source": str(data.source) if getattr(data, "source", None) else None,
            "line": getattr(data, "lineno", None),
        })
        self.test = None

    # -- keywords (setup/teardown included: their type says which)

    def start_keyword(self, data, result):
        self._guard(self._start_keyword, data, result)

    def _start_keyword(self, data, result):
        self._push()

    def end_keyword(self, data, result):
        self._guard(self._end_keyword, data, result)

    def _end_keyword(self, data, result):
        if str(result.status).upper() == "NOT RUN":
            # Keywords after a failure never ran: no timing to keep.
            self.stack.pop()
            self.writer.context = events.Context(test=self.test, parent_id=self.stack[-1][0] if self.stack else None)
            return
        args = [str(a) for a in getattr(result, "args", ())][:10]
        self._pop("keyword", result.full_name or result.name, result, {
            "type": str(getattr(result, "type", "")).lower() or None,
            "library": getattr(result, "owner", None) or getattr(result, "libname", None),
            "args": args or None,
        })

    # -- end

    def close(self):
        try:
            if self.http is not None:
                self.http.uninstall()
            if self.writer is not None:
                self.writer.close(self.status)
                events.give_back(self.outer)
        except Exception:  # noqa: BLE001
            log.warning("crossbridge: could not finish the event file", exc_info=True)
