"""Playwright JSON reporter (`--reporter=json`), merged/sharded reports included.

Counting (shared/corpus/README.md): every suites[..].specs[].tests[] entry (one per project);
test status unexpected -> failure, skipped -> skipped, expected and flaky -> passed.
Every entry of a test's results[] is one Attempt (retry 0, 1, ...), so a flaky test keeps its
failed tries. The project name is the test's parameter part: the same spec run in two
browsers is two tests that share a history group.
A test marked test.fail() (expectedStatus "failed") passes by failing: such a try is a passed
attempt whose message says it failed as expected, and a try that passed is a failed attempt
("Expected to fail, but passed.", as Playwright says).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    add_property,
    first_line,
    json_items,
    parse_timestamp,
    strip_ansi,
    to_int,
    to_line,
    to_seconds,
)
from crossbridge_assets.formats._shape import ShapeError, array, obj, opt_obj, text, texts
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets.model import (
    FAILED,
    KIND_RESULTS,
    PASSED,
    SKIPPED,
    Attempt,
    ReportInfo,
    ResultStream,
    TestCase,
    normalize_suite,
    truncate_output,
)

FORMAT = "playwright-json"
FRAMEWORK = "playwright"

_TEST_STATUS = {"expected": PASSED, "flaky": PASSED, "unexpected": FAILED, "skipped": SKIPPED}
_RESULT_STATUS = {"passed": PASSED, "failed": FAILED, "timedOut": FAILED, "interrupted": FAILED, "skipped": SKIPPED}


def suite_path(file: str | None, titles: list[str]) -> str:
    """A test's suite: its spec file and describe() titles (hooks/reports.py derives spans with it)."""
    return normalize_suite("/".join([p for p in [file or ""] if p] + titles))


def _matches(s: Sniff) -> bool:
    return s.json_type == "object" and s.has("config", "suites") and (
        s.has("config.rootDir") or s.has("config.projects") or s.has("config.version")
    )


def _clean(text: object) -> str | None:
    """Playwright writes colored terminal text into the JSON."""
    if text is None:
        return None
    return strip_ansi(str(text))


def _output(chunks: object, step: str) -> str | None:
    """A result's stdout or stderr: {"text": ...} chunks, and {"buffer": base64} ones for output
    written as bytes that are not UTF-8 on their own (a child's output piped on, a character cut
    in two between chunks). Adjacent byte chunks are joined before decoding, so a character cut
    between them is whole again; bytes that are no UTF-8 at all read as U+FFFD."""
    if not chunks:
        return None
    parts: list[str] = []
    pending = bytearray()  # byte chunks not decoded yet
    for i, chunk in enumerate(chunks if isinstance(chunks, list) else [chunks]):
        if isinstance(chunk, dict):
            buffer = chunk.get("buffer") if chunk.get("text") is None else None
            value = chunk.get("text") if buffer is None else buffer
            if isinstance(value, (dict, list)):
                raise ShapeError("text", "a string", value).at(step, i)
            if isinstance(buffer, str):
                try:
                    pending += base64.b64decode(buffer, validate=True)
                    continue
                except ValueError:  # not base64: kept as written
                    pass
            value = str(value or "")
        else:
            value = str(chunk)
        if pending:
            parts.append(pending.decode("utf-8", "replace"))
            pending.clear()
        parts.append(value)
    if pending:
        parts.append(pending.decode("utf-8", "replace"))
    return "".join(parts) or None


def _retry(result: object) -> int:
    return (to_int(result.get("retry")) or 0) if isinstance(result, dict) else 0


def _attempt(result: dict, expected: str | None) -> Attempt:
    raw = text(result.get("status"), "status")
    status = _RESULT_STATUS.get(raw, FAILED)
    error = opt_obj(result.get("error"), "error")
    errors = array(result.get("errors"), "errors")
    if not error and errors:
        error = errors[0] if isinstance(errors[0], dict) else {"message": text(errors[0], "errors[0]")}
    message = _clean(text(error.get("message"), "error.message")) if error else None
    stack = _clean(text(error.get("stack"), "error.stack")) if error else None
    if len(errors) > 1:
        # Soft assertions that failed, or an error after a timeout: `error` is the first of them,
        # and the trace is every one's, as Playwright's own reporters print them.
        traces = []
        for i, each in enumerate(errors):
            if isinstance(each, dict):
                trace = _clean(text(each.get("stack"), f"errors[{i}].stack")) or _clean(
                    text(each.get("message"), f"errors[{i}].message"))
            else:
                trace = _clean(text(each, f"errors[{i}]"))
            if trace:
                traces.append(trace)
        stack = "\n\n".join(traces) or stack
    a = Attempt(
        status=status,
        duration=to_seconds(result.get("duration"), 1e-3),
        message=first_line(message) if message else None,
        stack_trace=stack or message,
        started_at=parse_timestamp(result.get("startTime")),
    )
    if raw in ("timedOut", "interrupted"):
        a.failure_type = raw
    if expected == "failed" and raw in ("passed", "failed"):
        # test.fail(): failing is what was expected of it, passing is not (Playwright's words).
        if raw == "failed":
            a.status = PASSED
            a.message = f"failed as expected: {a.message or 'no message'}"
        else:
            a.status = FAILED
            a.message = "Expected to fail, but passed."
    a.stdout, a.stdout_size = truncate_output(_output(result.get("stdout"), "stdout"))
    a.stderr, a.stderr_size = truncate_output(_output(result.get("stderr"), "stderr"))
    return a


def _walk(suite: dict, titles: list[str], file: str | None) -> Iterator[TestCase]:
    file = text(suite.get("file"), "file") or file
    title = text(suite.get("title"), "title")
    # The top-level suite of a file is titled with the file name: the path says it already.
    here = titles + [title] if title and title != file else titles
    for i, spec in enumerate(array(suite.get("specs"), "specs")):
        try:
            spec = obj(spec)
            spec_file = text(spec.get("file"), "file") or file
            # What the spec's tests (one a project) share, read once.
            shared = (text(spec.get("title"), "title") or "", texts(spec.get("tags"), "tags"),
                      suite_path(spec_file, here), spec_file, to_line(spec.get("line")))
            for j, test in enumerate(array(spec.get("tests"), "tests")):
                try:
                    case = _case(obj(test), *shared)
                except ShapeError as exc:
                    raise exc.at("tests", j)
                yield case
        except ShapeError as exc:
            raise exc.at("specs", i)
    for i, child in enumerate(array(suite.get("suites"), "suites")):
        try:
            yield from _walk(obj(child), here, file)
        except ShapeError as exc:
            raise exc.at("suites", i)


def add_annotations(properties: dict[str, str], annotations: object) -> None:
    """A test's annotations ({type, description}: test.info().annotations, `annotation:` of
    test()) as properties, type -> description; a type given twice keeps both, comma-separated.
    The CTRF project's Playwright reporter writes the same list under `extra`."""
    for i, note in enumerate(array(annotations, "annotations")):
        if isinstance(note, dict) and note.get("type"):
            try:
                key = text(note["type"], "type")
                value = text(note.get("description"), "description") or ""
            except ShapeError as exc:
                raise exc.at("annotations", i)
            add_property(properties, key, value)


def skip_reason(properties: dict[str, str], attempts: list[Attempt]) -> None:
    """Why Playwright skipped a test: the description given to test.skip() or test.fixme(), which
    its reporters write as the annotation (a property here), is the message of a skipped try
    that has none, as a skip's reason is in the other runners' reports."""
    reason = properties.get("skip") or properties.get("fixme")
    if reason:
        for attempt in attempts:
            if attempt.status == SKIPPED and attempt.message is None:
                attempt.message = reason


def _case(test: dict, title: str, tags: list, suite: str, file: str | None, line: int | None) -> TestCase:
    expected = text(test.get("expectedStatus"), "expectedStatus")
    results = array(test.get("results"), "results")
    attempts = []
    # Retries in order (as merged reports may not list them).
    order = sorted(range(len(results)), key=lambda i: _retry(results[i])) if len(results) > 1 else range(len(results))
    for i in order:
        try:
            attempts.append(_attempt(obj(results[i]), expected))
        except ShapeError as exc:
            raise exc.at("results", i)
    raw_status = text(test.get("status"), "status")
    status = _TEST_STATUS.get(raw_status)
    if status is None:
        status = attempts[-1].status if attempts else SKIPPED
    if not attempts:
        attempts = [Attempt(status=status)]
    project = text(test.get("projectName"), "projectName") or text(test.get("projectId"), "projectId") or ""
    properties: dict[str, str] = {}
    add_annotations(properties, test.get("annotations"))
    if expected and expected != "passed":
        properties["expectedStatus"] = expected
    if raw_status == "flaky":
        properties["flaky"] = "true"
    skip_reason(properties, attempts)
    durations = [a.duration for a in attempts if a.duration is not None]
    return TestCase(
        framework=FRAMEWORK,
        suite=suite,
        name=title,
        parameters=f"[{project}]" if project else None,
        status=status,
        duration=sum(durations) if durations else None,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(title, properties, tags),
        file=file,
        line=line,
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    suites = 0
    try:
        for prefix, value in json_items(path, ("config.version", "config.shard", "suites.item", "errors.item", "stats")):
            if prefix == "suites.item":
                suites += 1
                try:
                    yield from _walk(obj(value), [], None)
                except ShapeError as exc:
                    raise exc.at("suites", suites - 1)
            elif prefix == "config.version":
                info.properties["playwright_version"] = str(value)
            elif prefix == "config.shard" and isinstance(value, dict):
                info.properties["shard"] = f"{value.get('current')}/{value.get('total')}"
            elif prefix == "errors.item":
                msg = value.get("message") if isinstance(value, dict) else value
                info.warnings.append(f"global error: {first_line(_clean(msg)) or 'no message'}")
            elif prefix == "stats" and value is not None:
                value = obj(value, "stats")
                info.started_at = parse_timestamp(value.get("startTime"))
                if value.get("duration") is not None:
                    info.duration = to_seconds(value.get("duration"), 1e-3)
                counts = {k: to_int(value.get(k)) or 0 for k in ("expected", "unexpected", "flaky", "skipped")}
                info.declared = {
                    "tests": sum(counts.values()),
                    "failures": counts["unexpected"],
                    "errors": 0,
                    "skipped": counts["skipped"],
                }
    except ShapeError as exc:
        raise FormatError(path, exc.reason) from None


def open_playwright(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="Playwright JSON reporter (--reporter=json)",
    matches=_matches,
    open=open_playwright,
)
