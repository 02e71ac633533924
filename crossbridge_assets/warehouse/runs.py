"""CI runs: one row per project, branch and build, shared by every kind of report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import insert_missing


def register_run(conn: Connection, report, started_at: datetime | None = None) -> None:
    """Record the run a `reports` row belongs to, once (the first report of a run makes the
    row; later ones fill in what it did not say). `created_at` is the first arrival of its
    reports, which orders the runs that say no start time: the time a report was loaded is
    no order (a day's ingestion re-run after the next day's, a rebuild from the archive)."""
    t = schema.test_runs
    row = dict(
        run_id=report.run_id,
        project=report.project,
        branch=report.branch,
        commit_sha=report.commit_sha,
        build=report.build,
        started_at=report.started_at or started_at,
        ci_url=report.ci_url,
        shards_expected=report.shards_expected,
        partition=report.partition,
        created_at=report.arrived_at,
    )
    insert_missing(conn, t, [row], ["run_id"])
    conn.execute(update(t).where(t.c.run_id == report.run_id, t.c.created_at > report.arrived_at)
                 .values(created_at=report.arrived_at))
    # A run first met through a report that does not say (coverage files rarely carry a start
    # time, or a commit) learns it from the next one that does.
    for column in ("started_at", "commit_sha", "ci_url", "shards_expected"):
        if row[column] is not None:
            conn.execute(update(t).where(t.c.run_id == report.run_id, t.c[column].is_(None)).values({column: row[column]}))
