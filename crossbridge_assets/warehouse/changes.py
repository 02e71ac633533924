"""The changes runs send (a diff beside their coverage) and the patch coverage kept per run.

Loading a diff stores the added and modified lines of each file (`run_changes`); the
`patch_coverage` asset measures them against the run's merged coverage and keeps the result per
run (`patch_coverage`), recomputed only when the diff or the run's coverage changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import decode_ranges, encode_ranges
from crossbridge_assets.model import KIND_CHANGE, ChangeTotals
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import bulk_insert, now
from crossbridge_assets.warehouse.landing import LANDED, archived_sidecar, as_its_drop_said, lock_for_load, mark_loaded
from crossbridge_assets.warehouse.runs import register_run

R, RC, PC = schema.reports, schema.run_changes, schema.patch_coverage


@dataclass
class ChangeLoadSummary:
    totals: ChangeTotals = field(default_factory=ChangeTotals)
    warnings: list[str] = field(default_factory=list)


def load_archived_change(engine: Engine, report) -> ChangeLoadSummary:
    """Store the changed lines of an archived diff for its run (delete-then-insert: idempotent)."""
    summary = ChangeLoadSummary()
    with as_its_drop_said(archived_sidecar(report)):
        stream = open_report(report.archive_path)
        rows = [dict(report_sha256=report.sha256, seq=seq, run_id=report.run_id, file=change.path,
                     lines=encode_ranges(change.lines))
                for seq, change in enumerate(stream)]
    with engine.begin() as conn:
        lock_for_load(conn, report.sha256)
        conn.execute(delete(RC).where(RC.c.report_sha256 == report.sha256))
        register_run(conn, report)
        bulk_insert(conn, RC, rows)
        summary.totals = stream.totals
        summary.warnings = list(stream.info.warnings)
        mark_loaded(conn, report, stream.info, summary.totals.as_dict(), summary.warnings)
    return summary


@dataclass
class RunChange:
    """A run's change: the diff it sent last, and its changed lines per file."""

    run_id: str
    sha256: str
    loaded_at: datetime | None
    lines: dict[str, list[int]]


def run_changes(engine: Engine, run_id: str | None = None) -> dict[str, RunChange]:
    """Each run's change (of `run_id` only, when given): of several diffs one run sent, the one
    that arrived last. Its lines are not read: with_lines reads them for the runs that need them."""
    cond = [R.c.kind == KIND_CHANGE, R.c.status == LANDED, R.c.loaded_at.is_not(None)]
    if run_id is not None:
        cond.append(R.c.run_id == run_id)
    with engine.connect() as conn:
        latest = (
            select(R.c.run_id, R.c.sha256, R.c.loaded_at,
                   func.row_number().over(partition_by=R.c.run_id,
                                          order_by=(R.c.arrived_at.desc(), R.c.sha256.desc())).label("n"))
            .where(*cond)
            .subquery()
        )
        return {row.run_id: RunChange(row.run_id, row.sha256, row.loaded_at, {})
                for row in conn.execute(select(latest).where(latest.c.n == 1))}


def with_lines(engine: Engine, changes: list[RunChange]) -> list[RunChange]:
    """`changes` with their changed lines per file read in."""
    by_sha = {c.sha256: c for c in changes}
    shas = list(by_sha)
    with engine.connect() as conn:
        for start in range(0, len(shas), 500):
            for sha, file, lines in conn.execute(
                select(RC.c.report_sha256, RC.c.file, RC.c.lines).where(RC.c.report_sha256.in_(shas[start : start + 500]))
                .order_by(RC.c.report_sha256, RC.c.seq)
            ):
                by_sha[sha].lines[file] = sorted(decode_ranges(lines))
    return changes


def fingerprint(change: RunChange, coverage_fingerprint: str) -> str:
    stamp = change.loaded_at.isoformat() if change.loaded_at else ""
    return hashlib.sha1(f"{change.sha256}:{stamp}\n{coverage_fingerprint}".encode()).hexdigest()


def stored_fingerprints(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(PC.c.run_id, PC.c.fingerprint)).all())


def store_patch_coverage(engine: Engine, rows: list[dict]) -> None:
    """Replace the patch coverage of the runs in `rows`."""
    with engine.begin() as conn:
        ids = [r["run_id"] for r in rows]
        for start in range(0, len(ids), 500):
            conn.execute(delete(PC).where(PC.c.run_id.in_(ids[start : start + 500])))
        stamp = now()
        bulk_insert(conn, PC, [{**r, "computed_at": stamp} for r in rows])


def patch_coverage_rows(engine: Engine, project: str | None = None, branch: str | None = None) -> list[dict]:
    """Stored patch coverage, newest run first, each with its uncovered lines decoded."""
    cond = []
    if project is not None:
        cond.append(PC.c.project == project)
    if branch is not None:
        cond.append(PC.c.branch == branch)
    with engine.connect() as conn:
        rows = conn.execute(
            select(PC).where(*cond).order_by(PC.c.started_at.desc().nulls_last(), PC.c.run_id)
        ).mappings().all()
    return [{**row, "uncovered": json.loads(row["uncovered"]) if row["uncovered"] else []} for row in rows]
