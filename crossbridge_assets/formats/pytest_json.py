"""pytest-json-report (`pytest --json-report`).

Outcomes as pytest's own JUnit XML reports them, so that one test read from either file is the
same record: passed and xpassed -> passed, failed -> failure, error (setup or teardown failed)
-> error, skipped and xfailed -> skipped. A failed collector (a module that cannot be imported)
is one errored test, named as pytest --junitxml names it; a module skipped at import
(pytest.skip(allow_module_level=True)) one skipped test.
The identity matches pytest --junitxml too: suite = module path without '.py' plus classes,
name = function name, parameters = the '[...]' part.
With pytest-rerunfailures, a test that passed when run again (outcome "rerun") is passed, with
a failed attempt before the passing one: flaky.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    add_property,
    first_line,
    json_items,
    parse_timestamp,
    to_int,
    to_line,
    to_seconds,
)
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets.model import (
    ERROR,
    FAILED,
    KIND_RESULTS,
    PASSED,
    SKIPPED,
    Attempt,
    ReportInfo,
    ResultStream,
    TestCase,
    normalize_suite,
    split_parameters,
    truncate_output,
)

FORMAT = "pytest-json-report"
FRAMEWORK = "pytest"

_STATUS = {
    "passed": PASSED,
    "xpassed": PASSED,
    "failed": FAILED,
    "error": ERROR,
    "skipped": SKIPPED,
    "xfailed": SKIPPED,
    # pytest-rerunfailures: failed, then passed when run again (a later failure, skip or error
    # would have replaced it).
    "rerun": PASSED,
    # pytest-subtests (pytest < 9): the outcome is the last report's, here a subtest that passed
    # (its test's own phases passed; a subtest that failed before it is lost to the file).
    "subtests passed": PASSED,
}


def _matches(s: Sniff) -> bool:
    return s.json_type == "object" and s.has("exitcode", "root") and (s.has("summary") or s.has("tests"))


def _module(path: str) -> str:
    return path[:-3] if path.endswith(".py") else path


def split_nodeid(nodeid: str) -> tuple[str, str, str | None]:
    """'tests/test_a.py::TestX::test_y[1-2]' -> ('tests.test_a.TestX', 'test_y', '[1-2]'),
    the classname/name pytest --junitxml writes for the same test."""
    path, sep, rest = nodeid.partition("::")
    if not sep:
        # A module-level report (collection error): junitxml names it by the dotted module.
        return "", normalize_suite(_module(path)), None
    # Class and function names hold no '[': a '::' after one is inside the parameter id
    # ('test_connect[::1]'), not between names.
    cut = rest.find("[")
    names = (rest if cut < 0 else rest[:cut]).split("::")
    suite = normalize_suite("/".join([_module(path), *names[:-1]]))
    name, params = split_parameters(names[-1] + ("" if cut < 0 else rest[cut:]))
    return suite, name, params


# pytest-xdist puts its worker's line first in every report's longrepr ('[gw0] linux -- Python
# 3.11.7 /venv/bin/python'), which pytest --junitxml leaves out: not the test's text.
_XDIST_HEADER = re.compile(r"\[gw\d+\] [^\n]* -- Python [^\n]*(?:\n|$)").match


def _phase_text(phase: dict) -> tuple[str | None, str | None]:
    crash = phase.get("crash") or {}
    message = crash.get("message") if isinstance(crash, dict) else None
    longrepr = str(phase.get("longrepr") or "")
    header = _XDIST_HEADER(longrepr)
    if header:
        longrepr = longrepr[header.end():]
    return (str(message) if message is not None else None), (longrepr or None)


def _skip_reason(longrepr: str) -> str:
    """The reason of a skip from its longrepr, "('file', line, 'Skipped: reason')"."""
    message = longrepr.rsplit("'", 2)[-2] if longrepr.count("'") >= 2 else longrepr
    return message.removeprefix("Skipped: ")


# pytest-xdist reports a test whose worker crashed under it with this phase ('when'): the test
# failed (pytest's summary), an error in pytest --junitxml's file ('failed on setup with "worker
# 'gw1' crashed while running ..."').
_CRASH = "???"
_PHASES = ("setup", "call", _CRASH, "teardown")


def _banner(section: str) -> str:
    return f" Captured {section} ".center(80, "-") + "\n"


def _log_lines(phases: dict[str, dict]) -> list[str]:
    """The log records a test's phases captured (pytest-json-report keeps each record's fields),
    as pytest's default log_format writes them: '%(levelname)-8s %(name)s:%(filename)s:%(lineno)d
    %(message)s'."""
    lines = []
    for key in ("setup", "call", "teardown"):
        records = (phases.get(key) or {}).get("log")
        for record in records if isinstance(records, list) else ():
            if not isinstance(record, dict):
                continue
            message = str(record.get("msg", ""))
            args = record.get("args")
            if args:
                try:
                    message = message % (tuple(args) if isinstance(args, list) else args)
                except (TypeError, ValueError, KeyError):
                    pass  # kept as logged: a format and arguments that do not fit
            lines.append(f"{str(record.get('levelname') or ''):<8} {record.get('name')}:"
                         f"{record.get('filename')}:{record.get('lineno')} {message}")
    return lines


def _attempt(phases: dict[str, dict], status: str) -> Attempt:
    """One run of a test from its setup/call/teardown phases: the first failed or skipped
    phase gives the message; a teardown that failed after it adds its error to the trace."""
    duration = sum(to_seconds(p.get("duration")) or 0.0 for p in phases.values()) if phases else None
    attempt = Attempt(status=status, duration=duration)
    told = False  # a phase gave the message
    for key in _PHASES:
        phase = phases.get(key) or {}
        state = phase.get("outcome")
        failed = state in ("failed", "rerun")
        if (failed or state == "skipped") and not told:
            told = True
            message, trace = _phase_text(phase)
            if state == "skipped" and trace and message is None:
                message = _skip_reason(trace)
            elif failed and message is None:
                # No crash is written for a failure pytest reports without an exception (a
                # strict xfail that passed, a doctest): its report is the text, as --junitxml has it.
                message = first_line(trace)
            attempt.message = message
            attempt.stack_trace = trace if failed else None
            if key == _CRASH:
                attempt.failure_type = "worker crashed"
            elif key != "call" and failed:
                attempt.failure_type = f"{key} failed"
        elif failed and attempt.stack_trace is not None:
            message, trace = _phase_text(phase)
            attempt.stack_trace = "\n\n".join(t for t in (attempt.stack_trace, message, trace) if t)
    stdout = "".join(str((phases.get(k) or {}).get("stdout") or "") for k in ("setup", "call", "teardown"))
    stderr = "".join(str((phases.get(k) or {}).get("stderr") or "") for k in ("setup", "call", "teardown"))
    log = "\n".join(_log_lines(phases))
    if log:
        # What pytest --junitxml (junit_logging=all) writes: the log, and the output after it,
        # each headed by its banner when both are there.
        stdout = f"{_banner('Log')}{log}\n{_banner('Out')}{stdout}\n" if stdout else log
    attempt.stdout, attempt.stdout_size = truncate_output(stdout or None)
    attempt.stderr, attempt.stderr_size = truncate_output(stderr or None)
    return attempt


def _case(test: dict) -> TestCase:
    outcome = str(test.get("outcome") or "")
    status = _STATUS.get(outcome, ERROR)
    phases = {k: test.get(k) for k in _PHASES if isinstance(test.get(k), dict)}
    # pytest-rerunfailures: pytest-json-report keeps one entry per test, each phase as its last
    # run left it. A phase whose outcome is still "rerun" was not run again by the final
    # attempt (its setup failed, say): it is what is left of an earlier, failed one.
    rerun = {k: p for k, p in phases.items() if p.get("outcome") == "rerun"}
    current = {k: p for k, p in phases.items() if k not in rerun}
    # pytest --junitxml turns a teardown failure after a failed call into an error, and so a
    # worker's crash; so do we.
    if status == FAILED and any((current.get(k) or {}).get("outcome") == "failed" for k in ("teardown", _CRASH)):
        status = ERROR
    attempt = _attempt(current, status)
    if outcome == "xfailed" and attempt.message is None:
        attempt.message = "xfail"
    elif status == FAILED and attempt.message is None and not rerun:
        # pytest 9's subtests: a unittest subTest's failure fails its test, whose phases passed.
        attempt.message = "failed, though none of its phases did (a subtest failed)"
    attempts = [attempt]
    if rerun or outcome == "rerun":
        # The test was run again after failing. How many times is not written anywhere (nor is
        # a failure that every rerun repeated: its entry reads as one plain failure), so the
        # earlier runs are one attempt; it failed in its call unless the phase left says otherwise.
        earlier = _attempt(rerun, FAILED if not rerun or "call" in rerun else ERROR)
        attempts.insert(0, earlier)
    duration = sum(to_seconds(p.get("duration")) or 0.0 for p in phases.values()) if phases else None

    nodeid = str(test.get("nodeid") or "")
    suite, name, params = split_nodeid(nodeid)
    properties = {"nodeid": nodeid}
    if outcome in ("xfailed", "xpassed", "rerun"):
        properties["outcome"] = outcome
    # record_property(name, value), which pytest --junitxml writes as the testcase's <properties>:
    # a list of one-entry objects, in the order recorded (a name recorded again keeps every value).
    recorded = test.get("user_properties")
    if isinstance(recorded, list):
        for entry in recorded:
            if isinstance(entry, dict):
                for key, value in entry.items():
                    if key != "nodeid" and isinstance(value, (str, int, float, bool)):
                        add_property(properties, str(key), str(value))
    metadata = test.get("metadata")
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            if isinstance(value, (str, int, float, bool)):
                properties[str(key)] = str(value)
    lineno = to_int(test.get("lineno"))
    return TestCase(
        framework=FRAMEWORK,
        suite=suite,
        name=name,
        parameters=params,
        status=status,
        duration=duration,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(nodeid, properties, None),
        file=nodeid.split("::", 1)[0] or None,
        # pytest's lineno is 0-based.
        line=to_line(lineno + 1) if lineno is not None else None,
    )


def _collector_case(collector: dict, status: str) -> TestCase:
    """A collector that failed (a module that cannot be imported) or was skipped (pytest.skip
    with allow_module_level=True): one test, as pytest --junitxml writes it."""
    nodeid = str(collector.get("nodeid") or "")
    suite, name, params = split_nodeid(nodeid)
    longrepr = collector.get("longrepr")
    text = str(longrepr) if longrepr else None
    if status == SKIPPED:
        attempt = Attempt(status=SKIPPED, message=_skip_reason(text) if text else "collection skipped")
    else:
        attempt = Attempt(status=ERROR, message="collection failure", stack_trace=text, failure_type="collection error")
    return TestCase(
        framework=FRAMEWORK,
        suite=suite,
        name=name,
        parameters=params,
        status=status,
        attempts=[attempt],
        properties={"nodeid": nodeid},
        file=nodeid.split("::", 1)[0] or None,
    )


_COLLECTOR_STATUS = {"failed": ERROR, "skipped": SKIPPED}


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    # With --doctest-modules a module is collected twice (as a Module and a DoctestModule), and a
    # failure or skip at import is reported by both: pytest --junitxml writes one testcase for it.
    collected: dict[str, str] = {}
    errored = 0  # tests the summary counts failed and pytest --junitxml errored (see _case)
    for prefix, value in json_items(path, ("created", "duration", "root", "summary", "collectors.item", "tests.item")):
        if prefix == "tests.item" and isinstance(value, dict):
            case = _case(value)
            if case.status == ERROR and value.get("outcome") == "failed":
                errored += 1  # a crash or a failed teardown: the summary counts it failed
            yield case
        elif prefix == "collectors.item" and isinstance(value, dict):
            status = _COLLECTOR_STATUS.get(str(value.get("outcome") or ""))
            nodeid = str(value.get("nodeid") or "")
            if status is not None and nodeid and nodeid not in collected:
                collected[nodeid] = status
                yield _collector_case(value, status)
        elif prefix == "created":
            info.started_at = parse_timestamp(value)
        elif prefix == "duration":
            info.duration = to_seconds(value)
        elif prefix == "root":
            info.properties["rootdir"] = str(value)
        elif prefix == "summary" and isinstance(value, dict):
            count = {k: to_int(value.get(k)) or 0 for k in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")}
            declared = {
                "failures": count["failed"],
                "errors": count["error"],
                "skipped": count["skipped"] + count["xfailed"],
            }
            if value.get("total") is not None:
                declared["tests"] = to_int(value.get("total")) or 0
            info.declared = declared
    if errored and "failures" in info.declared:
        info.declared["failures"] -= errored
        info.declared["errors"] = info.declared.get("errors", 0) + errored
    if collected and info.declared:
        # The summary counts tests only; here a failed or skipped collector is one: the file's
        # totals in the same terms, so that they can be compared.
        statuses = list(collected.values())
        info.declared["errors"] += statuses.count(ERROR)
        info.declared["skipped"] += statuses.count(SKIPPED)
        if "tests" in info.declared:
            info.declared["tests"] += len(statuses)


def open_pytest_json(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="pytest-json-report (pytest --json-report)",
    matches=_matches,
    open=open_pytest_json,
)
