"""The insights' reads built for a big history give what the plain reads gave: result_frame,
which reads a window's rows apart from their runs and tests, against the one joined query
(values and dtypes), and the comparison's rows, read field by field, against the frame's records.
On SQLite and PostgreSQL, on a history with retries, same-commit re-runs, a test held twice in
a run, skips, parameterized cases, several branches and projects."""

import math

import pandas as pd
import pytest
from sqlalchemy import func, select

from crossbridge_assets.analysis import compare
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.insights import RESULT_COLUMNS, _one_row_per_run, result_frame
from crossbridge_assets_tests.insights_helpers import History, junit


def joined_read(engine, since=None, until=None, test_ids=None) -> pd.DataFrame:
    """The straightforward read: every field of every row from one joined query."""
    TR, T, TS = schema.test_results, schema.test_runs, schema.tests
    stmt = select(
        TR.c.run_id, T.c.project, T.c.branch, T.c.build, T.c.commit_sha, T.c.ci_url,
        func.coalesce(T.c.started_at, T.c.created_at).label("run_time"), T.c.partition,
        TR.c.test_id, TS.c.framework, TS.c.suite, TS.c.name, TS.c.parameters, TS.c.file,
        TR.c.status, TR.c.attempts, TR.c.flaky, TR.c.duration, TR.c.message, TR.c.failure_type,
    ).select_from(TR.join(T, T.c.run_id == TR.c.run_id).join(TS, TS.c.test_id == TR.c.test_id))
    if since is not None:
        stmt = stmt.where(TR.c.partition >= since)
    if until is not None:
        stmt = stmt.where(TR.c.partition <= until)
    if test_ids is not None:
        stmt = stmt.where(TR.c.test_id.in_(sorted(test_ids)))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=RESULT_COLUMNS)
    frame["run_time"] = pd.to_datetime(frame["run_time"], utc=True)
    frame["flaky"] = frame["flaky"].astype(bool)
    return _one_row_per_run(frame)


@pytest.fixture
def varied(crossbridge_env) -> History:
    h = History(crossbridge_env)
    cards = {"test_card[visa]": "passed", "test_card[amex]": ("failed", "card 4242 declined after 310 ms")}
    h.run("1", junit({"test_pay": "passed", "test_refund": "failed", "test_tax": "skipped", **cards}),
          day="2026-11-20", started_at="2026-11-20T08:00:00+00:00", commit="aaa111")
    # A CI re-run of the same commit: the refund passes on a retry, amex still fails after one.
    h.run("2", junit({"test_pay": "passed", "test_refund": "passed", "test_tax": "skipped", **cards},
                     reruns={"test_refund": 1, "test_card[amex]": 1}),
          day="2026-11-20", started_at="2026-11-20T09:00:00+00:00", commit="aaa111")
    # One run written by two reporters that disagree on test_pay; an error in one of them.
    h.run("3", junit({"test_pay": "passed", "test_refund": "passed", "test_new": "error"}), name="a.xml",
          day="2026-11-21", commit="bbb222")
    h.run("3", junit({"test_pay": "failed", "test_refund": "passed"}), name="b.xml", day="2026-11-21", commit="bbb222")
    h.run("7", junit({"test_pay": "failed", "test_refund": "passed"}, suite="tests.test_cart"),
          branch="feature/cart", day="2026-11-21", commit="ccc333")
    h.run("1", junit({"test_post": "passed", "test_close": "failed"}, suite="ledger.test_books"),
          project="ledger", day="2026-11-21")
    # The last day holds passing runs only: no message anywhere in that window.
    h.run("4", junit({"test_pay": "passed", "test_refund": "passed"}), day="2026-11-22", commit="ddd444")
    h.run("2", junit({"test_post": "passed"}, suite="ledger.test_books"), project="ledger", day="2026-11-22")
    return h


def test_result_frame_is_the_joined_read_value_for_value_and_dtype_for_dtype(varied):
    engine = varied.engine
    whole = result_frame(engine)
    # The history is what the fixture made: a test held twice, a retry, a skip, parameters.
    assert len(whole["run_id"].unique()) == 7 and {"shop", "ledger"} == set(whole["project"])
    assert whole["flaky"].any() and (whole["status"] == "skipped").any() and whole["parameters"].notna().any()
    some = whole["test_id"].iloc[:3].tolist()
    for window in ({}, {"since": "2026-11-21"}, {"until": "2026-11-21"}, {"since": "2026-11-22"},
                   {"since": "2026-11-23"}, {"test_ids": some}, {"since": "2026-11-21", "test_ids": some[:1]}):
        ours, plain = result_frame(engine, **window), joined_read(engine, **window)
        pd.testing.assert_frame_equal(ours, plain, check_exact=True, obj=f"result_frame({window})")
    last_day = result_frame(engine, since="2026-11-22")
    assert len(last_day) == 3 and last_day["message"].isna().all()


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def test_a_comparison_row_reads_each_field_as_the_frames_records_hold_it(varied):
    results = result_frame(varied.engine)
    columns = {c: results[c].array for c in results.columns}
    records = results.to_dict("records")
    assert len(records) == len(results) > 10
    for position, record in enumerate(records):
        row = compare._Row(columns, position, record["test_id"], record["status"])
        for field, value in record.items():
            assert _same(row[field], value), (field, row[field], value)
            assert _same(row.get(field), value), field
        assert row.get("no such field") is None


def test_the_insights_benchmark_still_runs():
    """A smoke run of benchmarks/insights_bench.py (speed is measured there, never asserted here)."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.insights_bench", "--quick"], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ("floor read", "floor groupby", "run comparisons", "test history", "flaky tests", "failure clusters",
                "peak RSS MB", "RSS growth"):
        assert row in proc.stdout, proc.stdout
