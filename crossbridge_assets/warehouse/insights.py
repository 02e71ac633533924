"""The results history the insight assets read: one row per test per CI run.

The analytics themselves are pure functions on this frame (analysis/); this module only reads.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, func, select

from crossbridge_assets.model import ERROR, FAILED, KIND_RESULTS, PASSED, SKIPPED
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import shard_of
from crossbridge_assets.warehouse.landing import LANDED

RESULT_COLUMNS = [
    "run_id", "project", "branch", "build", "commit_sha", "ci_url", "run_time", "partition",
    "test_id", "framework", "suite", "name", "parameters", "file",
    "status", "attempts", "flaky", "duration", "message", "failure_type",
]

# Which status a test has in a run that holds it more than once (a run written by two reporters,
# a test in two shards): the worst one.
_SEVERITY = {ERROR: 3, FAILED: 2, PASSED: 1, SKIPPED: 0}


def _run_time():
    """When a run started, or when its first report arrived if no report said: what orders a
    branch's runs."""
    T = schema.test_runs
    return func.coalesce(T.c.started_at, T.c.created_at).label("run_time")


def _in_window(stmt, since: str | None, until: str | None):
    """`stmt` narrowed to results that arrived on a day in [since, until] (either end open when
    None): rows carry their report's arrival day, and its index narrows the read."""
    TR = schema.test_results
    if since is not None:
        stmt = stmt.where(TR.c.partition >= since)
    if until is not None:
        stmt = stmt.where(TR.c.partition <= until)
    return stmt


def result_frame(engine: Engine, since: str | None = None, until: str | None = None,
                 test_ids: Collection[str] | None = None) -> pd.DataFrame:
    """Every test of every run whose results arrived on a day in [since, until] (YYYY-MM-DD;
    either end open when None): one row per (run_id, test_id), columns RESULT_COLUMNS. With
    `test_ids`, only those tests' rows (one test's history without reading everyone's).

    `run_time` orders a branch's runs: when the run started, or when its first report arrived if no
    report said. A test held twice in a run has its worst status; it is flaky there when any copy
    was, or when one copy passed and another failed. Attempts and duration add up."""
    TR, T, TS = schema.test_results, schema.test_runs, schema.tests
    # The window's rows read a chunk at a time with their run and test as positions in the runs'
    # and tests tables, read apart: a run's project, branch, build... are then one string shared
    # by its thousands of rows, not a copy per row from the driver (most of the memory at a
    # million rows), and the rows are never all held as driver tuples at once.
    stmt = select(*(TR.c[c] for c in _RESULT_OWN)).select_from(
        TR.join(T, T.c.run_id == TR.c.run_id).join(TS, TS.c.test_id == TR.c.test_id))
    stmt = _in_window(stmt, since, until)
    if test_ids is not None:
        stmt = stmt.where(TR.c.test_id.in_(sorted(test_ids)))
    run_stmt = select(
        T.c.run_id, T.c.project, T.c.branch, T.c.build, T.c.commit_sha, T.c.ci_url, _run_time(), T.c.partition,
    )
    test_stmt = select(*(TS.c[c] for c in _TEST_FIELDS))
    if test_ids is not None:
        test_stmt = test_stmt.where(TS.c.test_id.in_(sorted(test_ids)))
    runs, tests = _Keys(), _Keys()
    with engine.connect() as conn:
        chunks = [_Chunk(part, runs, tests)
                  for part in conn.execution_options(yield_per=_CHUNK_ROWS).execute(stmt).partitions()]
        # Read after the rows, so every run and test they name is there (unless deleted since:
        # those rows are left out, as the join would leave them out now).
        runs.read(conn, run_stmt)
        tests.read(conn, test_stmt)
    if not chunks or not sum(len(c.status) for c in chunks):
        frame = pd.DataFrame([], columns=RESULT_COLUMNS)
    else:
        frame = _assemble(chunks, runs, tests)
    frame["run_time"] = pd.to_datetime(frame["run_time"], utc=True)
    frame["flaky"] = frame["flaky"].astype(bool)
    return _one_row_per_run(frame)


_RUN_FIELDS = ["run_id", "project", "branch", "build", "commit_sha", "ci_url", "run_time", "partition"]
_TEST_FIELDS = ["test_id", "framework", "suite", "name", "parameters", "file"]
_RESULT_OWN = ["run_id", "test_id", "status", "attempts", "flaky", "duration", "message", "failure_type"]
_CHUNK_ROWS = 100_000


class _Keys:
    """Run (or test) ids numbered in the order the rows name them, and then their table rows."""

    def __init__(self):
        self.number: dict[str, int] = {}
        self.rows: list[tuple | None] = []

    def encode(self, ids) -> np.ndarray:
        codes, uniques = pd.factorize(pd.Index(ids, dtype=object))
        numbers = np.array([self.number.setdefault(u, len(self.number)) for u in uniques], dtype=np.int64)
        return numbers[codes]

    def read(self, conn, stmt) -> None:
        self.rows = [None] * len(self.number)
        for row in conn.execute(stmt):
            at = self.number.get(row[0])
            if at is not None:
                self.rows[at] = tuple(row)

    def missing(self) -> np.ndarray:
        return np.array([row is None for row in self.rows], dtype=bool)


class _Chunk:
    """Result rows as arrays: run and test as numbers (_Keys); a status as one shared string
    each; the rest as they come (message and failure type are set on failures only)."""

    def __init__(self, rows, runs: _Keys, tests: _Keys):
        columns = list(zip(*rows)) or [()] * len(_RESULT_OWN)
        run_id, test_id, status, self.attempts, self.flaky, self.duration, message, failure_type = columns
        self.run, self.test = runs.encode(run_id), tests.encode(test_id)
        codes, uniques = pd.factorize(pd.Index(status, dtype=object))
        self.status = np.asarray(uniques, dtype=object)[codes]
        self.message = np.array(message, dtype=object)
        self.failure_type = np.array(failure_type, dtype=object)


def _assemble(chunks: list[_Chunk], runs: _Keys, tests: _Keys) -> pd.DataFrame:
    """The frame pd.DataFrame(rows) made of the joined rows: the same values, with the dtypes
    inferred from them, each run's and test's fields taken from its one row."""
    run = np.concatenate([c.run for c in chunks])
    test = np.concatenate([c.test for c in chunks])
    kept = ~(runs.missing()[run] | tests.missing()[test])
    run, test = run[kept], test[kept]
    # Only the runs and tests the rows hold: what their columns' dtypes are inferred from.
    used_runs, run = np.unique(run, return_inverse=True)
    used_tests, test = np.unique(test, return_inverse=True)
    run_frame_ = pd.DataFrame([runs.rows[i] for i in used_runs], columns=_RUN_FIELDS)
    test_frame_ = pd.DataFrame([tests.rows[i] for i in used_tests], columns=_TEST_FIELDS)

    def own(name: str):
        # From a list, as the rows' values: its dtype inferred from them (float with NaN for a
        # duration, str with NaN for a message, object when every value is None).
        return pd.Series(np.concatenate([np.array(getattr(c, name), dtype=object) for c in chunks])[kept].tolist())

    columns = {}
    for name in RESULT_COLUMNS:
        if name in _RUN_FIELDS:
            columns[name] = run_frame_[name].take(run).reset_index(drop=True)
        elif name in _TEST_FIELDS:
            columns[name] = test_frame_[name].take(test).reset_index(drop=True)
        else:
            columns[name] = own(name)
    return pd.DataFrame(columns)


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


FAILURE_COLUMNS = [
    "run_id", "project", "branch", "build", "ci_url", "run_time", "partition",
    "test_id", "framework", "suite", "name", "parameters", "status",
    "attempt", "attempt_status", "message", "failure_type", "stack_trace",
]
MESSAGE_HEAD = 2_000  # characters of a failure message read
TRACE_HEAD = 6_000  # characters read from the start of a stack trace
TRACE_TAIL = 2_000  # and from its end, when it is longer: Python prints the failing frame last


def failure_frame(engine: Engine, since: str | None = None, until: str | None = None) -> pd.DataFrame:
    """Every failed or errored attempt of a test whose results arrived on a day in [since, until]
    (YYYY-MM-DD, as result_frame): one row per attempt, columns FAILURE_COLUMNS. `status` is the
    test's final status in its report (a test that passed on a retry keeps its failed attempts).

    Memory stays bounded by the failures, not the history: passing attempts are never read, and
    only the head of a message and the head and tail of a stack trace (joined by a line '…')."""
    A, TR, T, TS = schema.test_attempts, schema.test_results, schema.test_runs, schema.tests
    length = func.length(A.c.stack_trace)
    tail_start = case((length - TRACE_TAIL > TRACE_HEAD, length - (TRACE_TAIL - 1)), else_=TRACE_HEAD + 1)
    stmt = (
        select(
            TR.c.run_id, T.c.project, T.c.branch, T.c.build, T.c.ci_url, _run_time(), TR.c.partition,
            TR.c.test_id, TS.c.framework, TS.c.suite, TS.c.name, TS.c.parameters, TR.c.status,
            A.c.attempt, A.c.status.label("attempt_status"), func.substr(A.c.message, 1, MESSAGE_HEAD),
            A.c.failure_type, func.substr(A.c.stack_trace, 1, TRACE_HEAD),
            case((length > TRACE_HEAD, func.substr(A.c.stack_trace, tail_start, TRACE_TAIL)), else_=None),
            length,
        )
        .select_from(
            A.join(TR, (TR.c.report_sha256 == A.c.report_sha256) & (TR.c.seq == A.c.seq))
            .join(T, T.c.run_id == TR.c.run_id)
            .join(TS, TS.c.test_id == TR.c.test_id)
        )
        .where(A.c.status.in_([FAILED, ERROR]))
    )
    stmt = _in_window(stmt, since, until)
    with engine.connect() as conn:
        rows = [(*r[:-3], _head_and_tail(r[-3], r[-2], r[-1])) for r in conn.execute(stmt)]
    frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
    frame["run_time"] = pd.to_datetime(frame["run_time"], utc=True)
    return frame


def _head_and_tail(head: str | None, tail: str | None, length: int | None) -> str | None:
    if tail is None:
        return head
    return head + ("\n…\n" if length > TRACE_HEAD + TRACE_TAIL else "") + tail


TEST_COLUMNS = ["test_id", "framework", "suite", "name", "parameters", "file"]


def known_tests(engine: Engine) -> pd.DataFrame:
    """Every test the warehouse knows, one row per identity, columns TEST_COLUMNS."""
    TS = schema.tests
    with engine.connect() as conn:
        rows = conn.execute(select(*(TS.c[c] for c in TEST_COLUMNS))).all()
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


RUN_COLUMNS = ["run_id", "project", "branch", "build", "run_time", "shards_expected", "shards_seen", "complete"]


def run_frame(engine: Engine, since: str | None = None) -> pd.DataFrame:
    """The runs whose results arrived on `since` or later, columns RUN_COLUMNS: a run that
    announced more shards than have sent results is not complete (a test absent from it may
    be in a shard still to come). Shards are counted as coverage counts them (label, else upload)."""
    T, R = schema.test_runs, schema.reports
    with_results = select(R.c.run_id).where(R.c.kind == KIND_RESULTS, R.c.status == LANDED)
    if since is not None:
        with_results = with_results.where(R.c.partition >= since)
    stmt = select(
        T.c.run_id, T.c.project, T.c.branch, T.c.build, _run_time(), T.c.shards_expected,
    ).where(T.c.run_id.in_(with_results))
    with engine.connect() as conn:
        runs = pd.DataFrame(conn.execute(stmt).all(), columns=RUN_COLUMNS[:6])
        sharded = runs.loc[runs["shards_expected"].fillna(0) > 1, "run_id"].tolist()
        seen: dict[str, set] = {}
        if sharded:
            reports = conn.execute(
                select(R.c.run_id, R.c.sha256, R.c.shard, R.c.source_path, R.c.archive_path)
                .where(R.c.kind == KIND_RESULTS, R.c.status == LANDED, R.c.run_id.in_(sharded))
            ).all()
            for report in reports:
                seen.setdefault(report.run_id, set()).add(shard_of(report))
    runs["run_time"] = pd.to_datetime(runs["run_time"], utc=True)
    runs["shards_seen"] = [len(seen.get(run_id, ())) or 1 for run_id in runs["run_id"]]
    expected = runs["shards_expected"].fillna(1).astype(int)
    runs["complete"] = runs["shards_seen"] >= expected
    return runs[RUN_COLUMNS]
