"""The results history every insight reads: one row per test per run, on SQLite and PostgreSQL."""

from crossbridge_assets.warehouse.insights import RESULT_COLUMNS, result_frame
from crossbridge_assets_tests.insights_helpers import History, junit


def test_one_row_per_test_and_run_with_the_runs_metadata(crossbridge_env):
    h = History(crossbridge_env)
    first = h.run("101", junit({"test_pay": "passed", "test_refund": "failed"}), day="2026-11-20",
                  started_at="2026-11-20T09:00:00+02:00", commit="aaa111")
    second = h.run("102", junit({"test_pay": "passed", "test_refund": "passed"}), day="2026-11-21", commit="bbb222")
    frame = result_frame(h.engine)
    assert list(frame.columns) == RESULT_COLUMNS
    assert len(frame) == 4
    by = {(r.run_id, r.name): r for r in frame.itertuples()}
    refund = by[(first, "test_refund")]
    assert (refund.project, refund.branch, refund.build, refund.commit_sha) == ("shop", "main", "101", "aaa111")
    assert refund.status == "failed" and refund.message.startswith("test_refund went wrong")
    assert refund.run_time.isoformat() == "2026-11-20T07:00:00+00:00"
    assert by[(second, "test_refund")].status == "passed"
    # The window is by arrival day.
    assert set(result_frame(h.engine, since="2026-11-21")["run_id"]) == {second}
    assert set(result_frame(h.engine, until="2026-11-20")["run_id"]) == {first}


def test_a_test_held_twice_in_a_run_has_its_worst_status_and_is_flaky_when_copies_disagree(crossbridge_env):
    h = History(crossbridge_env)
    run = h.run("7", junit({"test_pay": "passed", "test_ship": "passed", "test_tax": "skipped"}), name="a.xml")
    h.run("7", junit({"test_pay": "failed", "test_ship": "passed", "test_tax": "skipped"}), name="b.xml")
    frame = result_frame(h.engine)
    assert len(frame) == 3 and set(frame["run_id"]) == {run}
    rows = frame.set_index("name")
    assert rows.loc["test_pay", "status"] == "failed" and bool(rows.loc["test_pay", "flaky"])
    assert rows.loc["test_pay", "attempts"] == 2 and rows.loc["test_pay", "duration"] == 0.5
    assert rows.loc["test_ship", "status"] == "passed" and not bool(rows.loc["test_ship", "flaky"])
    assert rows.loc["test_tax", "status"] == "skipped"


def test_an_empty_warehouse_gives_an_empty_frame_with_the_columns(crossbridge_env):
    frame = result_frame(History(crossbridge_env).engine)
    assert frame.empty and list(frame.columns) == RESULT_COLUMNS
