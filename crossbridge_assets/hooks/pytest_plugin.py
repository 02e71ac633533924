"""pytest plugin: one event file per session (per worker under pytest-xdist) with a session span,
a span per test and its setup/call/teardown phases, and the HTTP calls each test made.

Registered under the ``pytest11`` entry point, so it is always loaded, and does nothing unless
asked: ``pytest --crossbridge[=DIR]`` or ``CROSSBRIDGE_PROFILE=1``. When off, only the option
and a configure check exist (no hook runs per test). When on, a hook that fails logs a warning:
profiling never changes a test run's outcome.

Pass a folder as ``--crossbridge=DIR`` (with "="): ``--crossbridge DIR`` would take a test path
for the folder.

Without the installed entry point, load it with ``-p crossbridge_assets.hooks.pytest_plugin``.
With it, do not: pytest refuses a plugin registered under two names; ``-p crossbridge`` (the
entry-point name) is the spelling that works either way once it is installed, and
``-p no:crossbridge`` removes it.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import pytest

from crossbridge_assets.hooks import events
from crossbridge_assets.model import normalize_suite, test_identity

log = logging.getLogger("crossbridge.hooks")

FRAMEWORK = "pytest"
PLUGIN_NAME = "crossbridge-recorder"
# Set while a profiled session runs, and so inherited by the processes its tests start: a pytest
# run inside a test (pytester, a child pytest on example tests) is not a test run of the project,
# and CROSSBRIDGE_PROFILE does not profile it (an explicit --crossbridge still does).
SESSION_VARIABLE = "CROSSBRIDGE_PROFILED_SESSION"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crossbridge", "CrossBridge profiling events")
    group.addoption(
        "--crossbridge",
        action="store",
        nargs="?",
        const="",
        default=None,
        dest="crossbridge",
        metavar="DIR",
        help="write CrossBridge profiling events (spans per test phase and HTTP call) to DIR "
        "(default: $CROSSBRIDGE_EVENTS_DIR, else $CROSSBRIDGE_HOME/inbox, else ./.crossbridge/inbox). "
        "Also enabled by CROSSBRIDGE_PROFILE=1.",
    )


# pytest's dry runs: nothing is timed, and every test would read as passed in no time.
_RUNS_NO_TEST = ("collectonly", "setupplan", "setuponly")


def _requested(config: pytest.Config) -> str | None:
    """The folder asked for ("" = the default folder), or None when profiling is off."""
    if any(config.getoption(name, default=False) for name in _RUNS_NO_TEST):
        return None
    option = config.getoption("crossbridge", default=None)
    if option is not None:
        return option
    if events.truthy(os.environ.get("CROSSBRIDGE_PROFILE")) and not os.environ.get(SESSION_VARIABLE):
        return ""
    return None


def _is_xdist_controller(config: pytest.Config) -> bool:
    # The controller only relays reports; its workers each write their own file.
    if hasattr(config, "workerinput"):
        return False
    return getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config: pytest.Config) -> None:
    try:
        folder = _requested(config)
        if folder is None:
            return
        target = events.resolve_dir(folder or None)
        if not target.is_absolute():
            target = Path(config.invocation_params.dir) / target
        if _is_xdist_controller(config):
            config.pluginmanager.register(_ControllerSummary(target), PLUGIN_NAME)
            return
        config.pluginmanager.register(Recorder(config, target), PLUGIN_NAME)
    except Exception as exc:  # noqa: BLE001 - profiling must never break a test run
        if hasattr(config, "workeroutput"):
            # Every xdist worker meets the same problem: the controller says it once for all.
            config.workeroutput["crossbridge"] = {"path": None, "problem": f"profiling could not start: {exc}"}
        else:
            log.warning("crossbridge: profiling could not start", exc_info=True)


class _ControllerSummary:
    """Under xdist: what the workers wrote, and what went wrong in them, said once for the run."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.finished: list[dict] = []
        self.crashed: list[str] = []

    def pytest_testnodedown(self, node, error) -> None:
        try:
            report = (getattr(node, "workeroutput", None) or {}).get("crossbridge")
            if report is not None:
                self.finished.append(report)
            elif error is not None:
                self.crashed.append(getattr(getattr(node, "gateway", None), "id", None) or "a worker")
        except Exception:  # noqa: BLE001 - profiling must never break a test run
            log.warning("crossbridge: could not read a worker's profiling report", exc_info=True)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        written = sum(1 for report in self.finished if report.get("path"))
        if written or not self.finished:
            terminalreporter.write_line(f"crossbridge: profiling events written to {self.folder} (one file per worker)")
        for problem in dict.fromkeys(report["problem"] for report in self.finished if report.get("problem")):
            terminalreporter.write_line(f"crossbridge: {problem}")
        if self.crashed:
            terminalreporter.write_line(
                f"crossbridge: {', '.join(self.crashed)} stopped before the end: the events up to there stay in "
                f"*.jsonl.part files, ingested as unfinished sessions")


def nodeid_parts(nodeid: str) -> tuple[str, str, str | None]:
    """(suite, name, parameters) of a pytest node id, as the model's test identity wants them:
    suite = module path + classes ('tests/test_a.py::TestX::test_y[1]' -> 'tests.test_a.TestX')."""
    # The module path ends at the first '::'; in the rest, the first '[' opens the parameter
    # id, which may itself contain '::' or '/'.
    module, sep, rest = nodeid.partition("::")
    if not sep:
        module, rest = "", nodeid
    params = None
    if rest.endswith("]") and "[" in rest:
        idx = rest.index("[")
        rest, params = rest[:idx], rest[idx:]
    parts = rest.split("::")
    classes, name = parts[:-1], parts[-1]
    suite = normalize_suite(".".join(p for p in [normalize_suite(module), *classes] if p))
    return suite, name, params


def _safe(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.failed:
            return None
        try:
            return method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001 - a hook error is logged, never raised into the run
            self.failed = True
            log.warning("crossbridge: profiling hook %s failed; profiling stops for this session",
                        method.__name__, exc_info=True)
            return None

    return wrapper


def _phase_status(report: pytest.TestReport) -> str:
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            return "xpassed" if xfail else "passed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        if report.failed:
            return "failed"
        return report.outcome  # e.g. "rerun" from pytest-rerunfailures
    if report.failed:
        return "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return "passed" if report.passed else report.outcome


def _message(report: pytest.TestReport) -> str | None:
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skips: (path, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    text = str(longrepr).strip()
    return text.splitlines()[-1] if text else None


class _Test:
    __slots__ = ("nodeid", "identity", "span_id", "start", "stop", "phases", "attributes")

    def __init__(self, nodeid: str, location):
        suite, name, params = nodeid_parts(nodeid)
        self.nodeid = nodeid
        self.identity = test_identity(FRAMEWORK, suite, name, params)
        self.span_id = events.new_id()
        self.start: float | None = None
        self.stop: float | None = None
        self.phases: dict[str, str] = {}
        self.attributes = {"nodeid": nodeid, "framework": FRAMEWORK, "suite": suite, "test_name": name,
                           "parameters": params}
        if location:
            self.attributes["file"] = location[0]
            if location[1] is not None:
                self.attributes["line"] = location[1] + 1

    def status(self) -> str:
        setup = self.phases.get("setup", "passed")
        if setup != "passed":
            return setup
        status = self.phases.get("call", "passed")
        if self.phases.get("teardown") == "error":
            return "error"
        return status


class Recorder:
    """The plugin object registered when profiling is on."""

    def __init__(self, config: pytest.Config, folder: Path):
        self.config = config
        self.failed = False
        self.worker = config.workerinput["workerid"] if hasattr(config, "workerinput") else None
        run = os.environ.get("CROSSBRIDGE_RUN_ID") or (
            config.workerinput.get("testrunuid") if hasattr(config, "workerinput") else None
        )
        self.writer = events.EventWriter(
            folder,
            framework=FRAMEWORK,
            run=run,
            worker=self.worker,
            metadata={"pytest": pytest.__version__, "rootdir": str(config.rootpath),
                      "args": list(config.invocation_params.args)},
        )
        # A session run inside a test of another (explicit --crossbridge) gives the outer one back
        # its writer and HTTP hook when it ends.
        self.outer = events.take_over(self.writer)
        self.marked = SESSION_VARIABLE not in os.environ
        if self.marked:
            os.environ[SESSION_VARIABLE] = self.writer.run
        self.session_id = events.new_id()
        self.session_start = events.now()
        self.writer.context = events.Context(parent_id=self.session_id)
        self.test: _Test | None = None
        self.phase_ids: dict[str, str] = {}
        self.phase_starts: dict[str, float] = {}  # of the phases begun and not yet reported
        self.tests = 0
        self.http = None
        from crossbridge_assets.hooks import http

        if http.install_for_runner():
            self.http = http

    # -- per test

    @pytest.hookimpl(tryfirst=True)
    @_safe
    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.test = _Test(nodeid, location)
        self.phase_ids = {}
        self.phase_starts = {}
        if self.worker:
            self.test.attributes["worker"] = self.worker
        self.writer.context = events.Context(test=self.test.identity, parent_id=self.test.span_id)

    @_safe
    def _enter(self, when: str) -> None:
        # The phase's id is chosen before it runs so that HTTP calls made in it can point at it.
        # The spans so far go to the file now: a worker killed in this phase keeps them.
        self.writer.flush()
        if self.test is None:
            return
        span_id = self.phase_ids[when] = events.new_id()
        self.phase_starts[when] = events.now()
        self.writer.context = events.Context(test=self.test.identity, parent_id=span_id)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item) -> None:
        self._enter("setup")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item) -> None:
        self._enter("call")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem) -> None:
        self._enter("teardown")

    @_safe
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = self.test
        if test is None or report.nodeid != test.nodeid:
            test = self.test = _Test(report.nodeid, report.location)
        stop = getattr(report, "stop", None) or events.now()
        start = getattr(report, "start", None) or stop - (report.duration or 0.0)
        status = _phase_status(report)
        self.phase_starts.pop(report.when, None)
        test.phases[report.when] = status
        test.start = start if test.start is None else min(test.start, start)
        test.stop = stop if test.stop is None else max(test.stop, stop)
        attributes = {"nodeid": test.nodeid}
        if status not in ("passed",):
            attributes["message"] = _message(report)
        if hasattr(report, "wasxfail") and report.wasxfail:
            attributes["xfail_reason"] = report.wasxfail
        self.writer.span(
            report.when,
            f"{report.when} {test.nodeid}",
            start,
            report.duration if report.duration is not None else stop - start,
            status=status,
            test=test.identity,
            span_id=self.phase_ids.pop(report.when, None),
            parent_id=test.span_id,
            attributes=attributes,
        )
        self.writer.context = events.Context(test=test.identity, parent_id=test.span_id)

    @pytest.hookimpl(trylast=True)
    @_safe
    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        test = self.test
        self.test = None
        self.writer.context = events.Context(parent_id=self.session_id)
        if test is None or test.start is None:
            return
        self.tests += 1
        self.writer.span(
            "test",
            test.nodeid,
            test.start,
            (test.stop or test.start) - test.start,
            status=test.status(),
            test=test.identity,
            span_id=test.span_id,
            parent_id=self.session_id,
            attributes=test.attributes,
        )

    @_safe
    def _end_interrupted_test(self) -> None:
        """The test running when the session stopped (Ctrl+C, KeyboardInterrupt from a test) gets
        no report from pytest: its span and the phase it stopped in are written here, as errors,
        so that its setup span and HTTP calls are not left pointing at a parent that never came."""
        test = self.test
        if test is None:
            return
        now = events.now()
        message = "interrupted: the session stopped during this test"
        for when, start in self.phase_starts.items():
            test.phases[when] = "error"
            test.start = start if test.start is None else min(test.start, start)
            self.writer.span(when, f"{when} {test.nodeid}", start, now - start, status="error", test=test.identity,
                             span_id=self.phase_ids.pop(when, None), parent_id=test.span_id,
                             attributes={"nodeid": test.nodeid, "message": message})
        self.phase_starts = {}
        test.stop = now
        test.attributes["message"] = message
        self.pytest_runtest_logfinish(test.nodeid, None)

    # -- session

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus) -> None:
        try:
            self._end_interrupted_test()
            if self.http is not None:
                self.http.uninstall()
            code = int(exitstatus)
            status = {0: "passed", 1: "failed", 2: "interrupted", 5: "passed"}.get(code, "error")
            if not self.failed:
                self.writer.span(
                    "session",
                    f"pytest session{' ' + self.worker if self.worker else ''}",
                    self.session_start,
                    events.now() - self.session_start,
                    status=status,
                    span_id=self.session_id,
                    attributes={"exitstatus": code, "tests": self.tests, "worker": self.worker,
                                "collected": getattr(session, "testscollected", None)},
                )
            self.path = self.writer.close(status)
            self._leave()
            if self.worker:
                # xdist sends this to the controller, which says it once for all workers.
                self.config.workeroutput["crossbridge"] = {
                    "path": str(self.path) if self.path else None, "problem": self.writer.problem}
        except Exception:  # noqa: BLE001
            log.warning("crossbridge: could not finish the event file", exc_info=True)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.worker:
            return
        path = getattr(self, "path", None)
        if path is not None:
            terminalreporter.write_line(f"crossbridge: profiling events written to {path}")
        if self.writer.problem:
            terminalreporter.write_line(f"crossbridge: {self.writer.problem}")

    def _leave(self) -> None:
        if self.marked:
            self.marked = False
            os.environ.pop(SESSION_VARIABLE, None)
        events.give_back(self.outer)

    def pytest_unconfigure(self, config) -> None:
        # Safety net for sessions that never reached sessionfinish (e.g. usage errors).
        try:
            if not self.writer.closed:
                self.writer.close("error")
            self._leave()
        except Exception:  # noqa: BLE001
            pass
