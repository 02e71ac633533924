"""mocha's built-in JSON reporter (`mocha --reporter json`).

Counting (shared/corpus/README.md): len(tests), len(failures), len(pending). The reporter
writes no status on a test: a test is failed if it is in failures[] (its `err` is not empty),
skipped if it is in pending[], passed otherwise. mocha does not tell an assertion failure from
an exception, so every failure is a failure. A failed hook ("before all" hook) is in failures[]
but not in tests[]; it is reported as an errored test so that it is not lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import first_line, json_items, parse_timestamp, to_float, to_int
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
)

FORMAT = "mocha-json"
FRAMEWORK = "mocha"


def _matches(s: Sniff) -> bool:
    return (
        s.json_type == "object"
        and s.has("stats", "tests")
        and (s.has("stats.passes") or s.has("stats.tests"))
        and not s.has("results")
        and not s.has("stats.passPercent")
    )


MAX_RETRIES = 100  # this.retries(n) is a small number; a hostile file could claim billions


def _key(test: dict) -> tuple:
    return (test.get("fullTitle"), test.get("file"))


def _suite_of(test: dict) -> str:
    full, title = str(test.get("fullTitle") or ""), str(test.get("title") or "")
    if title and full.endswith(title):
        return full[: -len(title)].strip()
    return ""


def _case(test: dict, status: str) -> TestCase:
    err = test.get("err") or {}
    stack = err.get("stack") if isinstance(err, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    attempt = Attempt(
        status=status,
        duration=(to_float(test.get("duration")) or 0.0) / 1000.0 if test.get("duration") is not None else None,
        message=first_line(message) if message else first_line(stack),
        stack_trace=stack,
        failure_type=(err.get("name") or err.get("code")) if isinstance(err, dict) else None,
    )
    properties = {}
    attempts = [attempt]
    retries = to_int(test.get("currentRetry"))
    if retries and retries > 0:
        # mocha keeps only the last try; it retries a test only when it fails, so each earlier
        # try is a failed attempt whose details were not reported (and a pass makes it flaky).
        properties["currentRetry"] = str(retries)
        attempts = [Attempt(status=FAILED) for _ in range(min(retries, MAX_RETRIES))] + attempts
    title = str(test.get("title") or "")
    return TestCase(
        framework=FRAMEWORK,
        suite=normalize_suite(_suite_of(test)),
        name=title,
        status=status,
        duration=attempt.duration,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(str(test.get("fullTitle") or title), None, None),
        file=test.get("file"),
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    failed: set[tuple] = set()
    pending: set[tuple] = set()
    failures: list[dict] = []
    # First pass: which tests failed or were pending (small keys only).
    for prefix, value in json_items(path, ("stats", "failures.item", "pending.item")):
        if prefix == "stats" and isinstance(value, dict):
            info.started_at = parse_timestamp(value.get("start"))
            if value.get("duration") is not None:
                info.duration = (to_float(value.get("duration")) or 0.0) / 1000.0
            info.declared = {
                "tests": to_int(value.get("tests")) or 0,
                "failures": to_int(value.get("failures")) or 0,
                "skipped": to_int(value.get("pending")) or 0,
            }
        elif prefix == "failures.item" and isinstance(value, dict):
            failed.add(_key(value))
            failures.append({k: value.get(k) for k in ("title", "fullTitle", "file", "duration", "err")})
        elif prefix == "pending.item" and isinstance(value, dict):
            pending.add(_key(value))
    seen: set[tuple] = set()
    for _prefix, test in json_items(path, ("tests.item",)):
        if not isinstance(test, dict):
            continue
        key = _key(test)
        seen.add(key)
        if key in failed or (isinstance(test.get("err"), dict) and test["err"]):
            status = FAILED
        elif key in pending or test.get("pending") is True:
            status = SKIPPED
        else:
            status = PASSED
        yield _case(test, status)
    for failure in failures:
        if _key(failure) not in seen:
            # A hook failed ('"before all" hook for ...'): no test entry carries it.
            yield _case(failure, ERROR)


def open_mocha(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="mocha JSON reporter (--reporter json)",
    matches=_matches,
    open=open_mocha,
)
