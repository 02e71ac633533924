"""Schedules and jobs of the health domain, the nightly selection, and the retention sweep that
deletes raw rows and archived files while run aggregates stay."""

import dagster as dg
import pytest
from sqlalchemy import func, select

from crossbridge_assets.defs import health as health_domain
from crossbridge_assets.defs import landing as landing_domain
from crossbridge_assets.defs import results as results_domain
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import health, schema
from crossbridge_assets_tests.test_health_checks import DAY, FIX, check, drop, engine_of, ingest, junit


def test_schedules_sensors_and_jobs_are_defined():
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["nightly_insights"].cron_schedule == "0 2 * * *"
    assert schedules["nightly_insights"].job_name == "nightly_insights"
    assert schedules["hourly_health_checks"].job_name == "health_checks"
    assert schedules["weekly_retention"].job_name == "retention"
    assert {s.name for s in defs.sensors} >= {"check_alerts", "run_failure_alerts", "inbox_sensor"}
    health_job = defs.resolve_job_def("health_checks")
    checks = {k.name for k in health_job.asset_layer.asset_graph.asset_check_keys}
    assert checks >= set(health.CHECKS)
    dg.Definitions.validate_loadable(defs)


def test_nightly_selection_takes_unpartitioned_analytics_and_resolves_when_there_are_none():
    # Only the domains of today's skeleton: no coverage/profiling/insights assets at all.
    bare = dg.Definitions.merge(landing_domain.defs, results_domain.defs, health_domain.defs,
                                dg.Definitions(resources={"warehouse": WarehouseResource()}))
    job = bare.resolve_job_def("nightly_insights")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {"run_aggregates"}

    # Assets added to these groups later are picked up by group, partitioned ones are not.
    @dg.asset(group_name="insights")
    def flaky_tests() -> None:
        return None

    @dg.asset(group_name="coverage", partitions_def=dg.DailyPartitionsDefinition("2026-01-01"))
    def coverage_day() -> None:
        return None

    grown = dg.Definitions.merge(bare, dg.Definitions(assets=[flaky_tests, coverage_day]))
    keys = {k.to_user_string() for k in grown.resolve_job_def("nightly_insights").asset_layer.executable_asset_keys}
    assert keys == {"run_aggregates", "flaky_tests"}


def _output_metadata(result, node: str) -> dict:
    event = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.node_name == node)
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def test_retention_deletes_old_raw_rows_and_files_and_keeps_aggregates(crossbridge_env, dagster_instance, monkeypatch):
    s = crossbridge_env
    old_day, new_day = ingest(s, dagster_instance, [
        drop(s, "shop/main/1/old.xml", FIX / "pytest-sample.xml", age_seconds=5 * DAY),
        drop(s, "shop/main/1/old-broken.xml", text="<testsuite><testcase", age_seconds=5 * DAY),
        drop(s, "shop/main/2/new.xml", text=junit("fresh", tests=3)),
    ])
    assert old_day < new_day
    engine = engine_of(s)
    R, TR, TA, A = schema.reports, schema.test_results, schema.test_attempts, schema.run_aggregates
    with engine.connect() as conn:
        old_run = conn.execute(select(R.c.run_id).where(R.c.original_name == "old.xml")).scalar_one()

    monkeypatch.setenv("CROSSBRIDGE_RETENTION_DAYS", "3")
    result = defs.resolve_job_def("retention").execute_in_process(instance=dagster_instance)
    assert result.success
    md = _output_metadata(result, "apply_retention_op")
    assert md["retention_days"] == 3
    assert md["reports_expired"] == 2  # the old report and the old quarantined one
    assert md["rows_deleted"] == 6 + 6  # 6 results and 6 attempts of the pytest sample
    assert md["files_deleted"] == 2 and md["bytes_freed"] > 0
    assert "| test_results | 6 |" in md["deleted_by_table"]
    assert f"archive/{old_day}" in md["folders_deleted"] and f"quarantine/{old_day}" in md["folders_deleted"]

    with engine.connect() as conn:
        by_report = dict(conn.execute(select(R.c.original_name, R.c.status)).all())
        assert by_report == {"old.xml": "expired", "old-broken.xml": "expired", "new.xml": "landed"}
        assert conn.execute(select(func.count()).select_from(TR)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(TA)).scalar_one() == 3
        aggregates = {r.run_id: r for r in conn.execute(select(A))}
    assert not (s.archive / old_day).exists() and not (s.quarantine / old_day).exists()
    assert (s.archive / new_day).exists()

    # The old run outlives its raw rows.
    old = aggregates[old_run]
    assert (old.tests, old.passed, old.failed, old.errors, old.skipped) == (6, 3, 1, 1, 1)
    assert old.pass_rate == pytest.approx(3 / 5) and old.duration_total is not None and old.project == "shop"
    assert len(aggregates) == 2

    # Expired reports are an explained zero, not an inconsistency; a second sweep finds nothing.
    assert check("counts_consistent", s).passed
    again = _output_metadata(defs.resolve_job_def("retention").execute_in_process(instance=dagster_instance),
                             "apply_retention_op")
    assert again["rows_deleted"] == 0 and again["files_deleted"] == 0 and again["reports_expired"] == 0


@pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)
def test_run_aggregates_asset_refreshes_without_deleting(crossbridge_env, dagster_instance):
    s = crossbridge_env
    ingest(s, dagster_instance, [drop(s, "shop/main/1/a.xml", text=junit("agg", tests=4), age_seconds=2 * DAY)])
    result = dg.materialize([health_domain.run_aggregates], instance=dagster_instance,
                            resources={"warehouse": WarehouseResource()}, selection=[health_domain.run_aggregates])
    mat = result.asset_materializations_for_node("run_aggregates")[0]
    assert mat.metadata["dagster/row_count"].value == 1 and mat.metadata["runs_refreshed"].value == 1
    with engine_of(s).connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.test_results)).scalar_one() == 4
        row = conn.execute(select(schema.run_aggregates)).one()
    assert row.tests == 4 and row.pass_rate == 1.0


@pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)
def test_retention_deletes_dagster_runs_older_than_the_run_history_days(crossbridge_env, dagster_instance, monkeypatch):
    """Dagster keeps every run and its event log (about 0.5 MB a run on the embedded instance):
    with CROSSBRIDGE_RUN_HISTORY_DAYS the weekly sweep deletes the finished ones older than that."""
    from datetime import datetime, timedelta, timezone

    from dagster._core.storage.runs.schema import RunsTable

    s = crossbridge_env
    ingest(s, dagster_instance, [drop(s, "shop/main/1/a.xml", text=junit("a", tests=2))])
    ingest(s, dagster_instance, [drop(s, "shop/main/2/b.xml", text=junit("b", tests=2))])
    runs = dagster_instance.get_runs()
    old, recent = runs[-1], runs[0]  # newest first
    with dagster_instance.run_storage.connect() as conn:
        conn.execute(RunsTable.update().where(RunsTable.c.run_id == old.run_id)
                     .values(create_timestamp=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=40)))

    # By default the run history is kept.
    assert "dagster_runs_deleted" not in _output_metadata(
        defs.resolve_job_def("retention").execute_in_process(instance=dagster_instance), "apply_retention_op")
    assert dagster_instance.get_run_by_id(old.run_id) is not None

    monkeypatch.setenv("CROSSBRIDGE_RUN_HISTORY_DAYS", "30")
    md = _output_metadata(defs.resolve_job_def("retention").execute_in_process(instance=dagster_instance),
                          "apply_retention_op")
    assert md["dagster_runs_deleted"] == 1
    assert dagster_instance.get_run_by_id(old.run_id) is None
    assert dagster_instance.get_run_by_id(recent.run_id) is not None
    assert not dagster_instance.all_logs(old.run_id)
