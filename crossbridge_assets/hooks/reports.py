"""Spans from JavaScript runners' own result reports, so Cypress and Playwright-JS need no
JavaScript hook: the Playwright JSON reporter (a start time and duration per attempt, steps
with durations) and mochawesome (Cypress; durations per test, one start time per run).

    spans = list(spans_from_report("playwright-report.json"))
    write_events(spans, folder=None, framework="playwright")   # into the inbox as an event file

Exact times where the report has them; otherwise starts are laid out one after another from
the nearest known start and the span says so (attribute ``start_estimated``).

Test identity, as the result parsers compute it for the same report: Playwright: framework
"playwright", suite = the spec file plus the describe titles, name = the test title, the
project name as the parameter ("[chromium]"); mochawesome: framework "mocha", suite = the
describe titles, name = the test title.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import mochawesome, playwright
from crossbridge_assets.formats._common import parse_timestamp, to_float
from crossbridge_assets.hooks import events
from crossbridge_assets.model import (
    KIND_PROFILING,
    SPAN_FIELDS,
    ReportInfo,
    Span,
    SpanStream,
    test_identity,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_PLAYWRIGHT_STATUS = {"passed": "passed", "failed": "failed", "timedOut": "failed", "skipped": "skipped",
                      "interrupted": "error"}
_MOCHA_STATE = {"passed": "passed", "failed": "failed", "pending": "skipped", "skipped": "skipped"}


def _run_id(path: Path | None, data: dict) -> str:
    if path is not None:
        return path.stem
    return events.new_id()


# ---------------------------------------------------------------------------- Playwright


def _step_spans(steps: list, start: datetime, run: str, test: str, parent: str) -> Iterator[Span]:
    # The JSON reporter gives steps a duration but no start: lay them out in order.
    cursor = start
    for step in steps or []:
        if not isinstance(step, dict):
            continue
        duration = (to_float(step.get("duration")) or 0.0) / 1000.0
        span_id = events.new_id()
        error = step.get("error")
        attributes: dict[str, object] = {"start_estimated": True}
        if isinstance(error, dict) and error.get("message"):
            attributes["message"] = str(error["message"])[:500]
        yield Span(run=run, kind="step", name=str(step.get("title") or "step"), start=cursor,
                   duration=duration, status="failed" if error else "passed", test=test,
                   span_id=span_id, parent_id=parent, attributes=attributes)
        yield from _step_spans(step.get("steps") or [], cursor, run, test, span_id)
        cursor = cursor + timedelta(seconds=duration)


def playwright_spans(data: dict, run: str) -> Iterator[Span]:
    """One ``test`` span per attempt (retries included, attribute ``retry``), with its steps."""
    stats = data.get("stats") or {}
    session_start = parse_timestamp(stats.get("startTime"))
    session_id = events.new_id()
    earliest = latest = None

    def walk(suite: dict, titles: list[str], file: str | None) -> Iterator[Span]:
        nonlocal earliest, latest
        file = suite.get("file") or file
        # The top-level suite's title is the file itself.
        here = titles + ([suite["title"]] if suite.get("title") and suite.get("title") != file else [])
        for spec in suite.get("specs") or []:
            spec_file = spec.get("file") or file
            for test in spec.get("tests") or []:
                project = test.get("projectName") or test.get("projectId")
                suite_path = playwright.suite_path(spec_file, here)
                name = str(spec.get("title") or "")
                params = f"[{project}]" if project else None
                identity = test_identity(playwright.FRAMEWORK, suite_path, name, params)
                for result in test.get("results") or []:
                    start = parse_timestamp(result.get("startTime"))
                    estimated = start is None
                    start = start or session_start or _EPOCH
                    duration = (to_float(result.get("duration")) or 0.0) / 1000.0
                    earliest = start if earliest is None else min(earliest, start)
                    end = start + timedelta(seconds=duration)
                    latest = end if latest is None else max(latest, end)
                    span_id = events.new_id()
                    status = _PLAYWRIGHT_STATUS.get(result.get("status"), str(result.get("status")))
                    attributes: dict[str, object] = {
                        "framework": "playwright", "suite": suite_path, "test_name": name, "parameters": params,
                        "file": spec_file, "line": spec.get("line"), "project": project,
                        "retry": result.get("retry"), "worker": result.get("workerIndex"),
                        "expected_status": test.get("expectedStatus"), "raw_status": result.get("status"),
                    }
                    if estimated:
                        attributes["start_estimated"] = True
                    error = result.get("error") or next(iter(result.get("errors") or []), None)
                    if isinstance(error, dict) and error.get("message"):
                        attributes["message"] = str(error["message"])[:500]
                    yield Span(run=run, kind="test", name=" > ".join([*here, name]) if here else name,
                               start=start, duration=duration, status=status, test=identity,
                               span_id=span_id, parent_id=session_id, attributes=attributes)
                    yield from _step_spans(result.get("steps") or [], start, run, identity, span_id)
        for child in suite.get("suites") or []:
            yield from walk(child, here, file)

    for top in data.get("suites") or []:
        yield from walk(top, [], None)

    start = session_start or earliest
    if start is not None:
        duration = to_float(stats.get("duration"))
        duration = duration / 1000.0 if duration is not None else ((latest - start).total_seconds() if latest else 0.0)
        failed = (stats.get("unexpected") or 0) > 0 if stats else None
        yield Span(run=run, kind="session", name="playwright test", start=start, duration=max(duration, 0.0),
                   status=None if failed is None else ("failed" if failed else "passed"), span_id=session_id,
                   attributes={"framework": "playwright", "version": (data.get("config") or {}).get("version"),
                               "start_estimated": True if session_start is None else None})


# ---------------------------------------------------------------------------- mochawesome (Cypress)


def mochawesome_spans(data: dict, run: str) -> Iterator[Span]:
    """One ``test`` span per test. mochawesome records one start for the run, so test starts
    are laid out in order from it (Cypress runs a spec's tests one after another)."""
    stats = data.get("stats") or {}
    run_start = parse_timestamp(stats.get("start")) or _EPOCH
    session_id = events.new_id()
    cursor = run_start

    def walk(suite: dict, titles: list[str], file: str | None) -> Iterator[Span]:
        nonlocal cursor
        file = suite.get("file") or suite.get("fullFile") or file
        here = titles + ([suite["title"]] if suite.get("title") else [])
        for test in suite.get("tests") or []:
            if not isinstance(test, dict) or test.get("isHook"):
                continue
            duration = (to_float(test.get("duration")) or 0.0) / 1000.0
            state = test.get("state") or ("skipped" if test.get("skipped") else "pending" if test.get("pending") else None)
            status = _MOCHA_STATE.get(state, str(state) if state else "skipped")
            suite_path = mochawesome.suite_path(here)
            name = str(test.get("title") or "")
            identity = test_identity(mochawesome.FRAMEWORK, suite_path, name, None)
            attributes: dict[str, object] = {
                "framework": "mocha", "suite": suite_path, "test_name": name, "file": file,
                "start_estimated": True,
            }
            err = test.get("err")
            if isinstance(err, dict) and err.get("message"):
                attributes["message"] = str(err["message"])[:500]
            yield Span(run=run, kind="test", name=str(test.get("fullTitle") or name), start=cursor,
                       duration=duration, status=status, test=identity, span_id=events.new_id(),
                       parent_id=session_id, attributes=attributes)
            cursor = cursor + timedelta(seconds=duration)
        for child in suite.get("suites") or []:
            yield from walk(child, here, file)

    for result in data.get("results") or []:
        if isinstance(result, dict):
            # A result is a spec file; its title is usually empty (root suite).
            yield from walk(result, [], None)

    end = parse_timestamp(stats.get("end"))
    duration = (end - run_start).total_seconds() if end and run_start is not _EPOCH else (cursor - run_start).total_seconds()
    failures = stats.get("failures")
    yield Span(run=run, kind="session", name="mochawesome run", start=run_start, duration=max(duration, 0.0),
               status=None if failures is None else ("failed" if failures else "passed"), span_id=session_id,
               attributes={"framework": "mocha", "tests": stats.get("tests")})


# ---------------------------------------------------------------------------- entry points


def report_kind(data: object) -> str | None:
    """'playwright', 'mochawesome' or None, from the report's shape."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("suites"), list) and isinstance(data.get("config"), dict):
        return "playwright"
    if isinstance(data.get("results"), list) and isinstance(data.get("stats"), dict):
        return "mochawesome"
    return None


def spans_from_report(source: str | os.PathLike | dict, run: str | None = None) -> Iterator[Span]:
    """Spans from a Playwright JSON or mochawesome report (a path or the loaded JSON).
    Raises ValueError for anything else."""
    path = None
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        with open(path, encoding="utf-8") as fh:
            try:
                data = json.load(fh)
            except RecursionError:  # nested deeper than any report
                raise ValueError(f"{path}: JSON nested too deep") from None
    kind = report_kind(data)
    run = run or _run_id(path, data)
    if kind == "playwright":
        return playwright_spans(data, run)
    if kind == "mochawesome":
        return mochawesome_spans(data, run)
    raise ValueError(f"{path or 'report'}: neither a Playwright JSON report nor a mochawesome report")


# Result formats (names in the formats registry) whose reports carry timings enough for spans,
# and the framework their tests belong to (as the result parsers name it).
REPORT_FRAMEWORKS = {playwright.FORMAT: playwright.FRAMEWORK, mochawesome.FORMAT: mochawesome.FRAMEWORK}


def report_span_stream(path: str | os.PathLike, fmt: str) -> SpanStream:
    """The spans of a landed Playwright JSON or mochawesome report (format `fmt`), streamed like
    an event file's: profiling_events loads them beside the spans the hooks wrote. Raises
    ValueError (or OSError) when the report is not one of those."""
    spans = spans_from_report(path)
    info = ReportInfo(format=fmt, kind=KIND_PROFILING, framework=REPORT_FRAMEWORKS.get(fmt))

    def counted(make) -> Iterator[object]:
        # A few thousand spans at most: made as Span records, then as the consumer wants them.
        n = 0
        for span in spans:
            n += 1
            yield span if make is Span else make(*_span_fields(span))
        return n

    return SpanStream(info, counted)


_span_fields = attrgetter(*SPAN_FIELDS)


def write_events(spans, folder: str | os.PathLike | None = None, *, framework: str,
                 run: str | None = None) -> Path | None:
    """Write spans as a CrossBridge event file (into the inbox by default); returns its path."""
    writer = events.EventWriter(folder, framework=framework, run=run,
                                metadata={"source": "report"})
    for span in spans:
        writer.span(span.kind, span.name, span.start.timestamp(), span.duration, status=span.status,
                    test=span.test, span_id=span.span_id, parent_id=span.parent_id,
                    attributes=span.attributes)
    return writer.close()
