"""Retention: raw per-report rows and archived files older than N days go; run-level aggregates stay.

Order makes a crash harmless: aggregates are refreshed and rows deleted in one transaction, files
are removed after it commits (a crash in between leaves files that the next sweep removes).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, case, delete, distinct, func, or_, select, update

from crossbridge_assets.model import ERROR, FAILED, KIND_RESULTS, PASSED, SKIPPED
from crossbridge_assets.settings import Settings
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import bulk_insert, now
from crossbridge_assets.warehouse.health import EXPIRED, per_report_tables
from crossbridge_assets.warehouse.landing import LANDED, QUARANTINED, SIDECAR_SUFFIX, SUPERSEDED

CHUNK = 500


@dataclass
class RetentionReport:
    days: int
    cutoff: str  # partitions (arrival days) before this day were swept
    runs_aggregated: int = 0
    reports_expired: int = 0
    rows_deleted: dict[str, int] = field(default_factory=dict)
    files_deleted: int = 0
    bytes_freed: int = 0
    folders_deleted: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def runs_with_expired(kind: str):
    """SELECT of the runs that lost loaded reports of `kind` to retention: their run-level
    figures were computed while all their rows were there, and stay as they are."""
    R = schema.reports
    # Loaded ones: a quarantined report that expired took no rows with it.
    return select(R.c.run_id).where(R.c.status == EXPIRED, R.c.kind == kind, R.c.loaded_at.is_not(None),
                                    R.c.run_id.is_not(None))


def _changed_runs():
    """SELECT of the runs whose aggregate is missing or out of date: a result report of theirs
    was loaded (or loaded again, or in place of one superseded) since it was computed, or the
    number of their loaded result reports is not the one it counted (one quarantined since)."""
    R, A = schema.reports, schema.run_aggregates
    loaded = (
        select(R.c.run_id, func.count().label("reports"), func.max(R.c.loaded_at).label("loaded_at"))
        .where(R.c.kind == KIND_RESULTS, R.c.status == LANDED, R.c.loaded_at.is_not(None), R.c.run_id.is_not(None))
        .group_by(R.c.run_id)
        .subquery()
    )
    return select(loaded.c.run_id).select_from(loaded.outerjoin(A, A.c.run_id == loaded.c.run_id)).where(
        or_(A.c.run_id.is_(None), loaded.c.loaded_at >= A.c.computed_at, loaded.c.reports != A.c.reports))


def refresh_run_aggregates(conn: Connection) -> int:
    """Recompute the aggregate of every run that changed since it was computed and still has
    all its raw rows (delete-then-insert by run); runs whose raw rows are gone, or partly gone
    (a run whose reports arrived on two days, one of them past the cutoff), keep the aggregate
    computed before they went. Only changed runs are read: every run's rows, read every night,
    were months of test results (1.4 million rows: 0.9 s, growing by the day)."""
    TR, T = schema.test_results, schema.test_runs
    expired_runs = runs_with_expired(KIND_RESULTS)
    # Stamped before reading: a report loaded while this reads is seen now or looked at next time.
    computed = now()

    def count_of(status):
        return func.sum(case((TR.c.status == status, 1), else_=0))

    stmt = (
        select(
            TR.c.run_id,
            func.count(distinct(TR.c.report_sha256)).label("reports"),
            func.count().label("tests"),
            count_of(PASSED).label("passed"),
            count_of(FAILED).label("failed"),
            count_of(ERROR).label("errors"),
            count_of(SKIPPED).label("skipped"),
            func.sum(case((TR.c.flaky, 1), else_=0)).label("flaky"),
            func.sum(TR.c.duration).label("duration_total"),
            func.max(TR.c.duration).label("duration_max"),
            func.avg(TR.c.duration).label("duration_mean"),
        )
        .where(TR.c.run_id.in_(_changed_runs()), TR.c.run_id.not_in(expired_runs))
        .group_by(TR.c.run_id)
        .subquery()
    )
    joined = select(stmt, T.c.project, T.c.branch, T.c.build, T.c.commit_sha, T.c.started_at, T.c.partition).select_from(
        stmt.outerjoin(T, T.c.run_id == stmt.c.run_id)
    )
    rows = []
    for r in conn.execute(joined):
        d = dict(r._mapping)
        executed = d["tests"] - (d["skipped"] or 0)
        d["pass_rate"] = round((d["passed"] or 0) / executed, 6) if executed else 1.0
        for key in ("duration_total", "duration_max", "duration_mean"):
            d[key] = float(d[key]) if d[key] is not None else None
        d["computed_at"] = computed
        rows.append(d)
    A = schema.run_aggregates
    ids = [r["run_id"] for r in rows]
    for start in range(0, len(ids), CHUNK):
        conn.execute(delete(A).where(A.c.run_id.in_(ids[start : start + CHUNK])))
    bulk_insert(conn, A, rows)
    return len(rows)


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def _expired_folders(settings: Settings, cutoff: date) -> list[Path]:
    out = []
    for root in (settings.archive, settings.quarantine):
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir()):
            day = _day(entry.name)
            if entry.is_dir() and day is not None and day < cutoff:
                out.append(entry)
    return out


def apply_retention(settings: Settings, engine: Engine, days: int, today: date | None = None) -> RetentionReport:
    """Delete raw rows of reports that arrived more than `days` days ago and their archived or
    quarantined files; mark those reports `expired`. Run aggregates are refreshed first."""
    today = today or datetime.now(timezone.utc).date()
    cutoff = today - timedelta(days=days)
    report = RetentionReport(days=days, cutoff=cutoff.isoformat())
    R = schema.reports
    old = select(R.c.sha256).where(R.c.partition < cutoff.isoformat())
    tables = per_report_tables(engine)
    with engine.begin() as conn:
        # The reports' rows locked first (SQLite: the database): a load of one of them still
        # running is waited for, so its rows are counted and removed below, and a load starting
        # later finds its report expired and writes nothing. Aggregated before they are marked:
        # the runs they belong to still have every row, unlike runs an earlier sweep cut.
        expiring = (R.c.partition < cutoff.isoformat(), R.c.status.in_((LANDED, QUARANTINED, SUPERSEDED)))
        conn.execute(update(R).where(*expiring).values(loaded_at=R.c.loaded_at))
        report.runs_aggregated = refresh_run_aggregates(conn)
        report.reports_expired = (
            conn.execute(
                update(R)
                .where(*expiring)
                .values(status=EXPIRED, reason=f"raw rows and file removed by retention after {days} days")
            ).rowcount
            or 0
        )
        for table in tables:
            deleted = conn.execute(delete(table).where(schema.report_rows(table, old))).rowcount or 0
            report.rows_deleted[table.name] = deleted
    for folder in _expired_folders(settings, cutoff):
        for path in folder.rglob("*"):
            if path.is_file():
                if not path.name.endswith(SIDECAR_SUFFIX):
                    report.files_deleted += 1
                report.bytes_freed += path.stat().st_size
        shutil.rmtree(folder, ignore_errors=True)
        report.folders_deleted.append(f"{folder.parent.name}/{folder.name}")
    return report
