"""The results history the insight assets read: one row per test per CI run.

The analytics themselves are pure functions on this frame (analysis/); this module only reads.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from crossbridge_assets.model import ERROR, FAILED, KIND_RESULTS, PASSED, SKIPPED
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import _shard_of
from crossbridge_assets.warehouse.landing import LANDED

RESULT_COLUMNS = [
    "run_id", "project", "branch", "build", "commit_sha", "ci_url", "run_time", "partition",
    "test_id", "framework", "suite", "name", "parameters", "file",
    "status", "attempts", "flaky", "duration", "message", "failure_type",
]

# Which status a test has in a run that holds it more than once (a run written by two reporters,
# a test in two shards): the worst one.
_SEVERITY = {ERROR: 3, FAILED: 2, PASSED: 1, SKIPPED: 0}


def result_frame(engine: Engine, since: str | None = None, until: str | None = None) -> pd.DataFrame:
    """Every test of every run whose results arrived on a day in [since, until] (YYYY-MM-DD;
    either end open when None): one row per (run_id, test_id), columns RESULT_COLUMNS.

    `run_time` orders a branch's runs: when the run started, or when it was first recorded if no
    report said. A test held twice in a run has its worst status; it is flaky there when any copy
    was, or when one copy passed and another failed. Attempts and duration add up."""
    TR, T, TS = schema.test_results, schema.test_runs, schema.tests
    stmt = (
        select(
            TR.c.run_id, T.c.project, T.c.branch, T.c.build, T.c.commit_sha, T.c.ci_url,
            func.coalesce(T.c.started_at, T.c.created_at).label("run_time"), T.c.partition,
            TR.c.test_id, TS.c.framework, TS.c.suite, TS.c.name, TS.c.parameters, TS.c.file,
            TR.c.status, TR.c.attempts, TR.c.flaky, TR.c.duration, TR.c.message, TR.c.failure_type,
        )
        .select_from(TR.join(T, T.c.run_id == TR.c.run_id).join(TS, TS.c.test_id == TR.c.test_id))
    )
    # Rows carry their report's arrival day: the index narrows the read to the window.
    if since is not None:
        stmt = stmt.where(TR.c.partition >= since)
    if until is not None:
        stmt = stmt.where(TR.c.partition <= until)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=RESULT_COLUMNS)
    frame["run_time"] = pd.to_datetime(frame["run_time"], utc=True)
    frame["flaky"] = frame["flaky"].astype(bool)
    return _one_row_per_run(frame)


def _one_row_per_run(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    severity = frame["status"].map(_SEVERITY).fillna(0)
    frame = frame.assign(_severity=severity).sort_values(["run_id", "test_id", "_severity"], ascending=[True, True, False])
    key = ["run_id", "test_id"]
    repeated = frame.duplicated(key, keep=False)
    if not repeated.any():
        return frame.drop(columns="_severity").reset_index(drop=True)
    once, twice = frame[~repeated], frame[repeated]
    grouped = twice.groupby(key, sort=False)
    worst = twice.drop_duplicates(key, keep="first").set_index(key)
    statuses = grouped["status"].agg(set)
    mixed = statuses.map(lambda s: PASSED in s and bool(s & {FAILED, ERROR}))
    worst["flaky"] = grouped["flaky"].any() | mixed
    worst["attempts"] = grouped["attempts"].sum()
    worst["duration"] = grouped["duration"].sum(min_count=1)
    combined = worst.reset_index()[frame.columns]
    return (
        pd.concat([once, combined], ignore_index=True)
        .drop(columns="_severity")
        .sort_values(key, kind="stable")
        .reset_index(drop=True)
    )


def run_shards(engine: Engine, since: str | None = None) -> dict[str, tuple[int, int]]:
    """run_id -> (shards whose test results are loaded, shards announced) for every run that
    announced its shards (test_runs.shards_expected) and arrived on or after `since`. A shard is
    counted as coverage counts it: by its label, else by its upload."""
    T, R = schema.test_runs, schema.reports
    stmt = (
        select(T.c.run_id, T.c.shards_expected, R.c.shard, R.c.source_path, R.c.archive_path, R.c.sha256)
        .select_from(T.outerjoin(R, (R.c.run_id == T.c.run_id) & (R.c.kind == KIND_RESULTS)
                                 & (R.c.status == LANDED) & R.c.loaded_at.is_not(None)))
        .where(T.c.shards_expected.is_not(None))
    )
    if since is not None:
        stmt = stmt.where(T.c.partition >= since)
    seen: dict[str, set] = {}
    expected: dict[str, int] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            expected[row.run_id] = row.shards_expected
            shards = seen.setdefault(row.run_id, set())
            if row.sha256 is not None:
                shards.add(_shard_of(row))
    return {run_id: (len(seen[run_id]), expected[run_id]) for run_id in expected}
