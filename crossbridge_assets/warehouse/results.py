"""Loading parsed test results: one transaction per report, delete-then-insert, so loading the
same report again never duplicates a row."""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import Engine, delete

from crossbridge_assets.formats import open_report
from crossbridge_assets.model import ERROR, FAILED, MAX_OUTPUT_CHARS, ResultStream, ResultTotals, TestCase, truncate_output
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import bulk_insert, insert_missing, now
from crossbridge_assets.warehouse.landing import (
    archived_sidecar,
    as_its_drop_said,
    lock_for_load,
    mark_loaded,
    unzoned_time_warning,
)
from crossbridge_assets.warehouse.runs import register_run

CHUNK = 2_000
KEEP_FAILURES = 20
KEEP_SLOWEST = 10


@dataclass
class LoadSummary:
    totals: ResultTotals = field(default_factory=ResultTotals)
    rows: int = 0  # test_results rows written
    attempt_rows: int = 0
    flaky: int = 0
    failures: list[dict] = field(default_factory=list)  # first KEEP_FAILURES failed/errored tests
    slowest: list[tuple[float, str]] = field(default_factory=list)  # heap of (duration, label)
    warnings: list[str] = field(default_factory=list)


def _capped(text: str | None) -> str | None:
    """A message or stack trace as stored: a runaway one (a dumped payload, a recursion's
    thousand frames) is cut like captured output, saying how long the original was."""
    return text if text is None or len(text) <= MAX_OUTPUT_CHARS else truncate_output(text)[0]


def _label(case: TestCase) -> str:
    name = case.name + (case.parameters or "")
    return f"{case.suite}.{name}" if case.suite else name


def load_archived_results(engine: Engine, report, source_roots: Iterable[str] = ()) -> LoadSummary:
    """Load an archived result report as its drop said, with the configured `source_roots`: a
    suite some runners name by a file's full path (Pester's and doctest's classnames) loses
    that checkout folder, as a coverage path does, so that a test keeps one identity on an
    agent whose checkout no CI layout tells."""
    # Reports are parsed while read: open and load inside the scope.
    with as_its_drop_said(archived_sidecar(report), source_roots):
        return load_results(engine, report, open_report(report.archive_path))


def load_results(engine: Engine, report, stream: ResultStream) -> LoadSummary:
    """Write every test of `stream` for the `reports` row `report` (a Row with sha256, run_id,
    partition and run metadata). Parse errors propagate and roll the whole report back."""
    summary = LoadSummary()
    sha = report.sha256
    started = now()
    with engine.begin() as conn:
        lock_for_load(conn, sha)
        for table in schema.RESULT_TABLES:
            conn.execute(delete(table).where(table.c.report_sha256 == sha))
        tests: dict[str, dict] = {}
        results: list[dict] = []
        attempts: list[dict] = []

        def flush() -> None:
            insert_missing(conn, schema.tests, list(tests.values()), ["test_id"])
            summary.rows += bulk_insert(conn, schema.test_results, results)
            summary.attempt_rows += bulk_insert(conn, schema.test_attempts, attempts)
            tests.clear()
            results.clear()
            attempts.clear()

        for seq, case in enumerate(stream):
            test_id = case.identity
            if test_id not in tests:
                tests[test_id] = dict(
                    test_id=test_id,
                    framework=case.framework,
                    suite=case.suite,
                    name=case.name,
                    parameters=case.parameters,
                    file=case.file,
                    first_seen=started,
                )
            final = case.final
            results.append(
                dict(
                    report_sha256=sha,
                    seq=seq,
                    run_id=report.run_id,
                    test_id=test_id,
                    status=case.status,
                    duration=case.duration,
                    attempts=max(1, len(case.attempts)),
                    flaky=case.flaky,
                    message=_capped(final.message) if final else None,
                    failure_type=final.failure_type if final else None,
                    properties=json.dumps(case.properties) if case.properties else None,
                    tags=json.dumps(case.tags) if case.tags else None,
                    partition=report.partition,
                )
            )
            for number, a in enumerate(case.attempts, start=1):
                attempts.append(
                    dict(
                        report_sha256=sha,
                        seq=seq,
                        attempt=number,
                        status=a.status,
                        duration=a.duration,
                        message=_capped(a.message),
                        failure_type=a.failure_type,
                        stack_trace=_capped(a.stack_trace),
                        stdout=a.stdout,
                        stderr=a.stderr,
                        stdout_size=a.stdout_size,
                        stderr_size=a.stderr_size,
                    )
                )
            if case.flaky:
                summary.flaky += 1
            if case.status in (FAILED, ERROR) and len(summary.failures) < KEEP_FAILURES:
                summary.failures.append(
                    dict(test=_label(case), status=case.status, message=(final.message or "") if final else "")
                )
            if case.duration is not None:
                item = (case.duration, _label(case))
                if len(summary.slowest) < KEEP_SLOWEST:
                    heapq.heappush(summary.slowest, item)
                else:
                    heapq.heappushpop(summary.slowest, item)
            if len(results) >= CHUNK:
                flush()
        flush()
        # After the tests: the report's own start time is known only once it has been read.
        register_run(conn, report, stream.info.started_at)
        summary.totals = stream.totals
        summary.warnings = list(stream.info.warnings)
        late = unzoned_time_warning(stream.info, report.arrived_at)
        if late:
            summary.warnings.append(late)
        mark_loaded(conn, report, stream.info, stream.totals.as_dict(), summary.warnings)
    summary.slowest.sort(reverse=True)
    return summary
