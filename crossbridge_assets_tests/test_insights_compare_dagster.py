"""Run comparisons through a real Dagster instance on SQLite and PostgreSQL: the asset's table and
metadata, the no_new_failures check and its alert, shards still to come, and the insights
waiting while a blocking check on test_results fails."""

import json
from datetime import timedelta

import dagster as dg
import pandas as pd
from sqlalchemy import delete, insert, select

from crossbridge_assets.definitions import defs as all_defs
from crossbridge_assets.defs.common import AFTER_INGESTION, WarehouseResource
from crossbridge_assets.defs.health import no_duplicate_results
from crossbridge_assets.defs.health.alerting import check_alerts
from crossbridge_assets.defs.insights.comparisons import no_new_failures, run_comparisons
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now
from crossbridge_assets_tests.insights_helpers import History, junit
from crossbridge_assets_tests.test_alerts import Receiver

DAY = (now() - timedelta(days=2)).date().isoformat()
RESOURCES = {"warehouse": WarehouseResource()}


def send(h: History, build: str, cases: dict, *, branch: str = "main", hour: int = 8, shard: str | None = None,
         shards: int | None = None, commit: str | None = None, day: str = DAY) -> str:
    """Land and load one CI run (or one shard of it) with its manifest; returns the run id."""
    return h.run(build, junit(cases), branch=branch, day=day, started_at=f"{day}T{hour:02d}:00:00+00:00",
                 commit=commit or f"sha{build}", shard=shard, shards_expected=shards,
                 ci_url=f"https://ci.example/shop/{build}")


def compare_now(instance) -> dg.ExecuteInProcessResult:
    result = dg.materialize([run_comparisons, no_new_failures], instance=instance, resources=RESOURCES)
    assert result.success
    return result


def table(h: History, t) -> pd.DataFrame:
    with h.engine.connect() as conn:
        return pd.DataFrame([dict(r._mapping) for r in conn.execute(select(t))], columns=list(t.c.keys()))


def check_of(result) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_asset_writes_each_runs_comparison_and_the_check_names_the_new_failures(crossbridge_env, dagster_instance, monkeypatch):
    h = History(crossbridge_env)
    first = send(h, "1", {"test_pay": "passed", "test_refund": "failed", "test_ship": "passed"}, hour=8)
    second = send(h, "2", {"test_pay": "failed", "test_refund": "passed", "test_ship": "passed", "test_label": "failed"}, hour=9)
    feature = send(h, "3", {"test_pay": "failed"}, branch="feature/x", hour=10)
    result = compare_now(dagster_instance)

    runs = table(h, schema.run_comparisons).set_index("run_id")
    assert set(runs.index) == {first, second, feature}
    assert runs.loc[first, "state"] == "no_previous_run"
    assert runs.loc[second, "previous_run_id"] == first and runs.loc[second, "new_failures"] == 1
    assert (runs.loc[second, "fixed"], runs.loc[second, "new_failing_tests"]) == (1, 1)
    # feature/x's first run starts from main's run before it.
    assert (runs.loc[feature, "previous_run_id"], runs.loc[feature, "previous_branch"]) == (second, "main")
    changes = table(h, schema.run_test_changes)
    assert set(zip(changes["run_id"], changes["name"], changes["change"])) == {
        (second, "test_pay", "new_failure"), (second, "test_refund", "fixed"), (second, "test_label", "new_test"),
        (feature, "test_pay", "still_failing")}

    md = result.asset_materializations_for_node("run_comparisons")[0].metadata
    assert md["dagster/row_count"].value == 3
    assert md["new_failures"].value == 2 and md["fixed"].value == 1  # the latest runs: test_pay and test_label
    latest = md["latest_runs"].value
    assert "https://ci.example/shop/2" in latest and "test_pay, test_label" in latest and "main #2" in latest

    check = check_of(result)
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    assert "test_pay" in check.description and "test_label" in check.description
    assert json.loads(json.dumps(check.metadata["run_ids"].value)) == [second]
    assert "test_pay" in check.metadata["tests"].value and "what_to_do" in check.metadata

    # Only the default branches count: feature/x's first run has nothing new.
    monkeypatch.setenv("CROSSBRIDGE_DEFAULT_BRANCHES", "feature/*")
    check = check_of(dg.materialize([run_comparisons, no_new_failures], instance=dagster_instance, resources=RESOURCES,
                                    selection=dg.AssetSelection.checks(no_new_failures)))
    assert check.passed is True and "1 default branch" in check.description


def test_a_run_waiting_for_its_second_shard_makes_no_test_gone_then_compares_whole(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    send(h, "1", {"test_a": "passed", "test_b": "passed", "test_c": "passed", "test_d": "passed"}, hour=8)
    sharded = send(h, "2", {"test_a": "failed", "test_b": "passed"}, hour=9, shard="1", shards=2)
    compare_now(dagster_instance)
    run = table(h, schema.run_comparisons).set_index("run_id").loc[sharded]
    assert not run["complete"] and (run["shards_seen"], run["shards_expected"]) == (1, 2)
    assert run["gone"] == 0 and "waiting for shards (1 of 2)" in run["note"]
    changes = table(h, schema.run_test_changes)
    assert list(zip(changes["name"], changes["change"])) == [("test_a", "new_failure")]

    send(h, "2", {"test_c": "failed", "test_d": "passed"}, hour=9, shard="2", shards=2)
    compare_now(dagster_instance)
    run = table(h, schema.run_comparisons).set_index("run_id").loc[sharded]
    assert run["complete"] and run["gone"] == 0 and run["new_failures"] == 2
    changes = table(h, schema.run_test_changes)
    assert sorted(zip(changes["name"], changes["change"])) == [("test_a", "new_failure"), ("test_c", "new_failure")]


def test_a_new_failure_on_main_alerts_once_and_recovers_when_fixed(crossbridge_env, dagster_instance, monkeypatch):
    r = Receiver()
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", r.url)
    alert_defs = dg.Definitions(assets=[run_comparisons], asset_checks=[no_new_failures], sensors=[check_alerts],
                                resources=RESOURCES)

    def tick(cursor):
        with dg.build_sensor_context(instance=dagster_instance, cursor=cursor, definitions=alert_defs) as context:
            return check_alerts(context).cursor

    h = History(crossbridge_env)
    try:
        send(h, "1", {"test_pay": "passed", "test_ship": "passed"}, hour=8)
        send(h, "2", {"test_pay": "failed", "test_ship": "passed"}, hour=9)
        compare_now(dagster_instance)
        cursor = tick(None)
        assert [a["event"] for a in r.delivered] == ["check_failed"]
        alert = r.delivered[0]
        assert alert["check"] == "no_new_failures" and alert["asset"] == "run_comparisons"
        assert "test_pay" in alert["description"] and alert["what_to_do"].startswith("Open the CI link")

        # Still failing in the next build: still the same failure, no second message.
        send(h, "3", {"test_pay": "failed", "test_ship": "passed"}, hour=10)
        compare_now(dagster_instance)
        cursor = tick(tick(cursor))
        assert len(r.delivered) == 1

        send(h, "4", {"test_pay": "passed", "test_ship": "passed"}, hour=11)
        compare_now(dagster_instance)
        cursor = tick(cursor)
        assert [a["event"] for a in r.delivered] == ["check_failed", "check_recovered"]
        tick(cursor)
        assert len(r.delivered) == 2
    finally:
        r.close()


def _requested(result) -> set[str]:
    return {x.key.to_user_string() for x in result.results if x.true_subset.size}


def test_insights_wait_while_the_blocking_check_on_test_results_fails(crossbridge_env, dagster_instance):
    """Healthy ingestion requests the insights; a day whose no_duplicate_results fails holds them
    back (an asset on the plain after-ingestion condition still follows); once the day is clean
    they run again."""
    h = History(crossbridge_env)
    ingest = [test_results, no_duplicate_results]

    @dg.asset(deps=[test_results], automation_condition=AFTER_INGESTION)
    def follows_ingestion() -> None:
        return None

    probed = dg.Definitions.merge(all_defs, dg.Definitions(assets=[follows_ingestion]))

    def evaluate(cursor):
        return dg.evaluate_automation_conditions(defs=probed, instance=dagster_instance, cursor=cursor)

    before = evaluate(None)
    send(h, "1", {"test_pay": "passed"})
    assert dg.materialize(ingest, instance=dagster_instance, resources=RESOURCES, partition_key=DAY).success
    healthy = evaluate(before.cursor)
    assert {"run_comparisons", "follows_ingestion"} <= _requested(healthy)
    # The next tick: the request was handled, nothing new arrived.
    quiet = evaluate(healthy.cursor)
    assert not {"run_comparisons", "follows_ingestion"} & _requested(quiet)

    # A second `tests` row for one identity: the blocking check fails on the day.
    with h.engine.begin() as conn:
        row = dict(conn.execute(select(schema.tests).limit(1)).one()._mapping)
        conn.execute(insert(schema.tests).values(**{**row, "test_id": "x" * 20}))
    duplicated = dg.materialize(ingest, instance=dagster_instance, resources=RESOURCES, partition_key=DAY,
                                raise_on_error=False)
    assert [e.passed for e in duplicated.get_asset_check_evaluations() if e.check_name == "no_duplicate_results"] == [False]
    blocked = evaluate(quiet.cursor)
    assert "run_comparisons" not in _requested(blocked)
    assert "follows_ingestion" in _requested(blocked)  # without the blocking-check condition it would run
    still = evaluate(blocked.cursor)  # and the tick after: still waiting
    assert "run_comparisons" not in _requested(still)
    # Materialized anyway (from the UI, the nightly job, or after another day passed the check):
    # the failing day's runs are left out.
    md = compare_now(dagster_instance).asset_materializations_for_node("run_comparisons")[0].metadata
    assert md["dagster/row_count"].value == 0 and md["days_held_back"].value.startswith(DAY)
    settled = evaluate(still.cursor)  # the tick that sees that materialization

    with h.engine.begin() as conn:
        conn.execute(delete(schema.tests).where(schema.tests.c.test_id == "x" * 20))
    assert dg.materialize(ingest, instance=dagster_instance, resources=RESOURCES, partition_key=DAY).success
    assert "run_comparisons" in _requested(evaluate(settled.cursor))
    md = compare_now(dagster_instance).asset_materializations_for_node("run_comparisons")[0].metadata
    assert md["dagster/row_count"].value == 1 and md["days_held_back"].value == "none"


def test_an_empty_warehouse_compares_nothing_and_the_check_passes(crossbridge_env, dagster_instance):
    History(crossbridge_env)
    result = compare_now(dagster_instance)
    md = result.asset_materializations_for_node("run_comparisons")[0].metadata
    assert md["dagster/row_count"].value == 0 and md["new_failures"].value == 0
    assert md["latest_runs"].value == "_no runs in the window_"
    check = check_of(result)
    assert check.passed is True and check.description == "no run of a default branch (main, master) in the window"
