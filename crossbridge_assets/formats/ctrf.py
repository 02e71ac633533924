"""CTRF (Common Test Report Format) JSON, written by the ctrf.io reporters for Jest, Playwright,
Cypress, mocha, pytest, JUnit and others.

{"results": {"tool": {"name"}, "summary": {tests, passed, failed, skipped, pending, other},
             "tests": [{name, status, duration (ms), message, trace, suite, filePath, tags,
                        retries, flaky, retryAttempts: [{attempt, status, duration, message, trace}]}]}}
status failed -> failure, skipped/pending/other -> skipped. retryAttempts become the attempts
(without them, `retries` failed tries before the last). mocha's failed hooks are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    first_line,
    json_items,
    json_text,
    parse_timestamp,
    strip_ansi,
    to_float,
    to_int,
    to_line,
    to_seconds,
)
from crossbridge_assets.formats._shape import ShapeError, array, obj, text, texts
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets.formats.mocha import HOOK_TITLE, MAX_RETRIES
from crossbridge_assets.formats.playwright import add_annotations, skip_reason
from crossbridge_assets.formats.pytest_json import split_nodeid
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

FORMAT = "ctrf"

_STATUS = {"passed": PASSED, "failed": FAILED, "skipped": SKIPPED, "pending": SKIPPED, "other": SKIPPED}
_NO_PARAMETERS = ("playwright", "mocha")
# pytest-json-ctrf's rawStatus of a test whose setup or teardown phase failed ('<phase>_<outcome>').
_PYTEST_ERRORS = ("setup_failed", "teardown_failed")


def _matches(s: Sniff) -> bool:
    if s.json_type != "object":
        return False
    if str(s.json_values.get("reportFormat") or "").upper() == "CTRF":
        return True
    return s.has("results.tool") and (s.has("results.summary") or s.has("results.tests"))


def _ms(value: object) -> float | None:
    return to_seconds(value, 1e-3)


def _output(value: object, step: str) -> str | None:
    """stdout/stderr: a string, or an array of lines."""
    if isinstance(value, list):
        return "\n".join(map(str, value)) or None
    return text(value, step) or None


def _attempt(entry: dict, status: str | None = None) -> Attempt:
    raw = text(entry.get("status"), "status")
    # Reporters copy the runner's error as it is, terminal colors and all (Playwright's).
    message = strip_ansi(text(entry.get("message"), "message"))
    a = Attempt(
        status=status or _STATUS.get((raw or "").lower(), SKIPPED),
        duration=_ms(entry.get("duration")),
        message=first_line(message) if message else None,
        stack_trace=strip_ansi(text(entry.get("trace"), "trace")) or (message if raw == "failed" else None),
        started_at=parse_timestamp(entry.get("start")) if entry.get("start") else None,
    )
    a.stdout, a.stdout_size = truncate_output(_output(entry.get("stdout"), "stdout"))
    a.stderr, a.stderr_size = truncate_output(_output(entry.get("stderr"), "stderr"))
    return a


def _case(test: dict, framework: str) -> TestCase:
    final = _attempt(test)
    retried = array(test.get("retryAttempts"), "retryAttempts")
    earlier = []
    for i in sorted(range(len(retried)), key=lambda i: _number(retried[i])):
        try:
            earlier.append(_attempt(obj(retried[i])))
        except ShapeError as exc:
            raise exc.at("retryAttempts", i)
    retries = to_int(test.get("retries")) or 0
    # Some reporters list the final try among retryAttempts too: keep it once.
    if earlier and earlier[-1].status == final.status and len(earlier) > retries:
        earlier = earlier[:-1]
    if not earlier and retries > 0 and final.status in (PASSED, FAILED):
        # mocha's, jest's and vitest's CTRF reporters count the retries and write no retryAttempts:
        # those runners retry a test only when it fails, so each earlier try failed (and a test
        # that passed in the end is flaky, as their `flaky` says).
        earlier = [Attempt(status=FAILED) for _ in range(min(retries, MAX_RETRIES))]
    attempts = [*earlier, final]
    suite = test.get("suite")
    parts = [str(p) for p in suite] if isinstance(suite, list) else (text(suite, "suite") or "").split(" > ")
    full_name = text(test.get("name"), "name") or ""
    if framework == "vitest" and parts and " > ".join(parts) == full_name:
        # @d2t/vitest-ctrf-json-reporter writes vitest's full name ('cart > totals > adds') as the
        # suite too: the suite is the describe() path, the name the test's title.
        parts, full_name = parts[:-1], parts[-1]
    # A title ending in [..] is a title where the runner has no parameters of that spelling
    # (mocha has none, Playwright's is the project), as the runner's own reporters' readers
    # have it.
    name, params = (full_name, None) if framework in _NO_PARAMETERS else split_parameters(full_name)
    nodeid = None
    if framework == "pytest" and "::" in full_name:
        # pytest-json-ctrf names a test by its node id ('tests/test_a.py::TestX::test_y[1]') and
        # lists the file and classes as its suite: the node id read as pytest-json-report reads
        # it gives the identity pytest's own reports give.
        nodeid = split_nodeid(full_name)
        name, params = nodeid[1], nodeid[2]
        if test.get("rawStatus") in _PYTEST_ERRORS:
            # A fixture's setup or teardown failed: an error in pytest's reports, not a failure.
            final.status = ERROR
    file_path = text(test.get("filePath"), "filePath")
    if framework == "playwright":
        # Playwright's title path starts with the project, then the file: the project is the
        # test's parameter, as the Playwright JSON reader has it, so both give one identity.
        at = _spec_file_at(parts, file_path)
        if at:
            project, parts = " > ".join(parts[:at]), parts[at:]
            params = params or f"[{project}]"
    suite = "/".join(parts)
    properties: dict[str, str] = {}
    for key in ("flaky", "retries", "type", "browser", "device", "rawStatus"):
        if test.get(key) not in (None, "", False, 0):
            properties[key] = json_text(test[key])
    if retried and "flaky" in properties and not any(a.status == FAILED for a in earlier):
        # playwright-ctrf-json-reporter (0.0.29) says flaky of any test that passed after a retry,
        # as the first test of a retried serial group that passed both times: its tries say it
        # never failed, and Playwright calls it passed, not flaky.
        del properties["flaky"]
    extra = test.get("extra")
    if isinstance(extra, dict):
        for key, value in extra.items():
            if isinstance(value, (str, int, float, bool)):
                properties[str(key)] = json_text(value)
        # `extra` is free-form in CTRF: only the Playwright reporter's annotation list is read,
        # and anything else under that name is no error in the report.
        if isinstance(extra.get("annotations"), list):
            try:
                add_annotations(properties, extra["annotations"])
            except ShapeError:
                pass
    tags = texts(test.get("tags"), "tags")
    if framework == "playwright":
        skip_reason(properties, attempts)
    durations = [a.duration for a in attempts if a.duration is not None]
    return TestCase(
        framework=framework,
        suite=nodeid[0] if nodeid else normalize_suite(suite),
        name=name,
        parameters=params,
        status=final.status,
        duration=sum(durations) if durations else None,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(name, properties, tags),
        file=file_path,
        line=to_line(test.get("line")),
    )


def _spec_file_at(parts: list[str], file_path: str | None) -> int | None:
    """Where the spec file is in a Playwright test's title path (after the project): Playwright
    titles a file by its path under testDir ('api/cart.spec.js'), the end of the filePath
    the reporter writes ('/work/app/tests/api/cart.spec.js')."""
    path = (file_path or "").replace("\\", "/")
    if not path:
        return None
    for i, part in enumerate(parts[1:], 1):
        title = part.replace("\\", "/")
        if title and (path == title or path.endswith("/" + title)):
            return i
    return None


def _number(entry: object) -> int:
    return (to_int(entry.get("attempt")) or 0) if isinstance(entry, dict) else 0


def _mocha_hook(name: str) -> bool:
    """mocha-ctrf-json-reporter's name of a failed hook: mocha's full title of it, the describe()
    titles and then the hook's title ('Orders "before all" hook for "lists"')."""
    match = HOOK_TITLE.search(name)
    return match is not None and (match.start() == 0 or name[match.start() - 1] == " ")


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    framework = "ctrf"
    tests = 0
    errored = 0  # CTRF has no errored tests: the summary counts these among the failed
    wanted = ("results.tool", "results.summary", "results.environment", "results.tests.item")
    for prefix, value in json_items(path, wanted):
        if prefix == "results.tests.item":
            tests += 1
        elif value is None:
            continue  # null: absent
        try:
            value = obj(value)
            if prefix == "results.tests.item":
                case = _case(value, framework)
                if framework == "mocha" and case.status == FAILED and _mocha_hook(case.name):
                    # A failed hook is no failed test: an errored one, as mocha's other reporters
                    # have it (formats/mocha.py).
                    case.status = case.attempts[-1].status = ERROR
                errored += case.status == ERROR
                yield case
            elif prefix == "results.tool":
                framework = (text(value.get("name"), "name") or "ctrf").lower()
                info.framework = framework
                if value.get("version"):
                    info.properties["tool_version"] = str(value["version"])
            elif prefix == "results.summary":
                info.started_at = parse_timestamp(value.get("start"))
                start, stop = to_float(value.get("start")), to_float(value.get("stop"))
                if start is not None and stop is not None:
                    info.duration = max(0.0, (stop - start) / 1000.0)
                counts = {k: to_int(value.get(k)) or 0 for k in ("tests", "failed", "skipped", "pending", "other")}
                info.declared = {
                    "tests": counts["tests"],
                    "failures": counts["failed"],
                    "errors": 0,
                    "skipped": counts["skipped"] + counts["pending"] + counts["other"],
                }
            else:
                for key, v in value.items():
                    if isinstance(v, (str, int, float)):
                        info.properties[str(key)] = json_text(v)
        except ShapeError as exc:
            where = ("results", "tests", tests - 1) if prefix == "results.tests.item" else prefix.split(".")
            raise FormatError(path, exc.at(*where).reason) from None
    if info.framework is None:
        info.framework = framework
    if errored and info.declared:
        info.declared["failures"] = max(0, info.declared["failures"] - errored)
        info.declared["errors"] += errored


def open_ctrf(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="CTRF JSON (Common Test Report Format)",
    matches=_matches,
    open=open_ctrf,
)
