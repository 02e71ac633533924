"""Playwright JSON reporter (`--reporter=json`), merged/sharded reports included.

Counting (shared/corpus/README.md): every suites[..].specs[].tests[] entry (one per project);
test status unexpected -> failure, skipped -> skipped, expected and flaky -> passed.
Every entry of a test's results[] is one Attempt (retry 0, 1, ...), so a flaky test keeps its
failed tries. The project name is the test's parameter part: the same spec run in two
browsers is two tests that share a history group.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    first_line,
    json_items,
    parse_timestamp,
    to_float,
    to_int,
)
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
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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
    return _ANSI.sub("", str(text))


def _output(chunks: object) -> str | None:
    if not chunks:
        return None
    parts = []
    for chunk in chunks if isinstance(chunks, list) else [chunks]:
        if isinstance(chunk, dict):
            parts.append(str(chunk.get("text") if chunk.get("text") is not None else chunk.get("buffer") or ""))
        else:
            parts.append(str(chunk))
    return "".join(parts) or None


def _attempt(result: dict) -> Attempt:
    status = _RESULT_STATUS.get(result.get("status"), FAILED)
    error = result.get("error") or {}
    errors = result.get("errors") or []
    if not error and errors:
        error = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    message = _clean(error.get("message")) if error else None
    stack = _clean(error.get("stack")) if error else None
    a = Attempt(
        status=status,
        duration=(to_float(result.get("duration")) or 0.0) / 1000.0 if result.get("duration") is not None else None,
        message=first_line(message) if message else None,
        stack_trace=stack or message,
        started_at=parse_timestamp(result.get("startTime")),
    )
    if result.get("status") in ("timedOut", "interrupted"):
        a.failure_type = result.get("status")
    a.stdout, a.stdout_size = truncate_output(_output(result.get("stdout")))
    a.stderr, a.stderr_size = truncate_output(_output(result.get("stderr")))
    return a


def _walk(suite: dict, titles: list[str], file: str | None) -> Iterator[TestCase]:
    file = suite.get("file") or file
    # The top-level suite of a file is titled with the file name: the path says it already.
    here = titles + ([suite["title"]] if suite.get("title") and suite.get("title") != file else [])
    for spec in suite.get("specs") or []:
        for test in spec.get("tests") or []:
            yield _case(spec, test, here, spec.get("file") or file)
    for child in suite.get("suites") or []:
        yield from _walk(child, here, file)


def _case(spec: dict, test: dict, titles: list[str], file: str | None) -> TestCase:
    attempts = [_attempt(r) for r in sorted(test.get("results") or [], key=lambda r: to_int(r.get("retry")) or 0)]
    status = _TEST_STATUS.get(test.get("status"))
    if status is None:
        status = attempts[-1].status if attempts else SKIPPED
    if not attempts:
        attempts = [Attempt(status=status)]
    project = test.get("projectName") or test.get("projectId") or ""
    annotations = test.get("annotations") or []
    properties: dict[str, str] = {}
    for note in annotations:
        if isinstance(note, dict) and note.get("type"):
            key = str(note["type"])
            value = str(note.get("description") or "")
            properties[key] = f"{properties[key]}, {value}" if key in properties else value
    if test.get("expectedStatus") and test.get("expectedStatus") != "passed":
        properties["expectedStatus"] = str(test["expectedStatus"])
    if test.get("status") == "flaky":
        properties["flaky"] = "true"
    durations = [a.duration for a in attempts if a.duration is not None]
    return TestCase(
        framework=FRAMEWORK,
        suite=suite_path(file, titles),
        name=spec.get("title") or "",
        parameters=f"[{project}]" if project else None,
        status=status,
        duration=sum(durations) if durations else None,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(spec.get("title"), properties, spec.get("tags") or []),
        file=file,
        line=to_int(spec.get("line")),
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    for prefix, value in json_items(path, ("config.version", "config.shard", "suites.item", "errors.item", "stats")):
        if prefix == "suites.item" and isinstance(value, dict):
            yield from _walk(value, [], None)
        elif prefix == "config.version":
            info.properties["playwright_version"] = str(value)
        elif prefix == "config.shard" and isinstance(value, dict):
            info.properties["shard"] = f"{value.get('current')}/{value.get('total')}"
        elif prefix == "errors.item":
            msg = value.get("message") if isinstance(value, dict) else value
            info.warnings.append(f"global error: {first_line(_clean(msg)) or 'no message'}")
        elif prefix == "stats" and isinstance(value, dict):
            info.started_at = parse_timestamp(value.get("startTime"))
            if value.get("duration") is not None:
                info.duration = (to_float(value.get("duration")) or 0.0) / 1000.0
            counts = {k: to_int(value.get(k)) or 0 for k in ("expected", "unexpected", "flaky", "skipped")}
            info.declared = {
                "tests": sum(counts.values()),
                "failures": counts["unexpected"],
                "errors": 0,
                "skipped": counts["skipped"],
            }


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
