"""mochawesome JSON (mocha and Cypress runs; mochawesome-merge output).

Counting (shared/corpus/README.md): every tests[] entry in the recursive suites tree; state
failed -> failure, pending or skipped -> skipped. mochawesome >= 3 writes results[] (one root
suite a spec file); mochawesome 2 wrote a single root `suites` object.
"""

from __future__ import annotations

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
)

FORMAT = "mochawesome"
FRAMEWORK = "mocha"


def suite_path(titles: list[str]) -> str:
    """A test's suite: its describe() titles joined by spaces, as mocha's own fullTitle does,
    so the same test read from mocha's JSON reporter (which only has fullTitle) gets the same
    identity (and so do the spans hooks/reports.py derives)."""
    return normalize_suite(" ".join(t for t in titles if t))


def _matches(s: Sniff) -> bool:
    if s.json_type != "object" or not s.has("stats"):
        return False
    return s.has("results") or s.has("stats.passPercent") or s.has("suites.uuid")


def _status(test: dict) -> str:
    if test.get("fail") is True or test.get("state") == "failed":
        return FAILED
    if test.get("pending") is True or test.get("skipped") is True or test.get("state") in ("pending", "skipped"):
        return SKIPPED
    if test.get("pass") is True or test.get("state") == "passed":
        return PASSED
    return SKIPPED


def _case(test: dict, titles: list[str], file: str | None) -> TestCase:
    status = _status(test)
    err = test.get("err") if isinstance(test.get("err"), dict) else {}
    message = err.get("message")
    attempt = Attempt(
        status=status,
        duration=(to_float(test.get("duration")) or 0.0) / 1000.0 if test.get("duration") is not None else None,
        message=first_line(message) if message else first_line(err.get("estack")),
        stack_trace=err.get("estack") or err.get("stack"),
        failure_type=err.get("name"),
    )
    properties = {}
    if err.get("diff"):
        properties["diff"] = str(err["diff"])
    title = str(test.get("title") or "")
    return TestCase(
        framework=FRAMEWORK,
        suite=suite_path(titles),
        name=title,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        properties=properties,
        tags=extract_tags(str(test.get("fullTitle") or title)),
        file=file or None,
    )


def _walk(suite: dict, titles: list[str], file: str | None) -> Iterator[TestCase]:
    file = suite.get("file") or suite.get("fullFile") or file
    here = titles + ([suite["title"]] if suite.get("title") else [])
    for test in suite.get("tests") or []:
        if isinstance(test, dict) and not test.get("isHook"):
            yield _case(test, here, file)
    for child in suite.get("suites") or []:
        if isinstance(child, dict):
            yield from _walk(child, here, file)


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    for prefix, value in json_items(path, ("stats", "results.item", "suites")):
        if not isinstance(value, dict):
            continue
        if prefix == "stats":
            info.started_at = parse_timestamp(value.get("start"))
            if value.get("duration") is not None:
                info.duration = (to_float(value.get("duration")) or 0.0) / 1000.0
            tests = to_int(value.get("testsRegistered"))
            info.declared = {
                "tests": tests if tests is not None else to_int(value.get("tests")) or 0,
                "failures": to_int(value.get("failures")) or 0,
                "skipped": (to_int(value.get("pending")) or 0) + (to_int(value.get("skipped")) or 0),
            }
        else:
            yield from _walk(value, [], None)


def open_mochawesome(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="mochawesome JSON (mocha, Cypress)",
    matches=_matches,
    open=open_mochawesome,
    priority=90,  # before mocha-json: both have a top-level `stats`
)
