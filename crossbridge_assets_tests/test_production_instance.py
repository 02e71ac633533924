"""The repository's production dagster.yaml, loaded into a real DagsterInstance on PostgreSQL,
runs the ingestion job: storage, queue, pools, retries and settings are what the file says."""

import shutil

import dagster as dg
import pytest
from sqlalchemy import create_engine, func, select, text

from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import POSTGRES_URL, REPO, fresh_postgres_database
from crossbridge_assets.defs.ingest import batches_for
from crossbridge_assets_tests.test_health_checks import FIX, drop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="CROSSBRIDGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)"),
]


def test_production_yaml_runs_the_ingest_job_on_postgres(tmp_path, monkeypatch):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    dagster_url = fresh_postgres_database("cb_dagster")
    assert dagster_url.startswith("postgresql+psycopg2://")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_url)
    monkeypatch.setenv("CROSSBRIDGE_HOME", str(tmp_path / "cbhome"))
    monkeypatch.setenv("CROSSBRIDGE_WAREHOUSE_URL", fresh_postgres_database("cb_warehouse"))
    monkeypatch.setenv("CROSSBRIDGE_SETTLE_SECONDS", "0")
    from crossbridge_assets import settings

    s = settings.load()
    s.ensure_folders()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 4
        assert instance.global_op_concurrency_default_limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False
        assert instance.run_monitoring_enabled
        assert instance.telemetry_enabled is False and instance.nux_enabled is False

        report = drop(s, "shop/main/9/TEST-cart.xml", FIX / "pytest-sample.xml")
        (batch,) = batches_for(s, [report])
        result = defs.resolve_job_def("ingest").execute_in_process(
            run_config=batch.run_config(), partition_key=batch.partition, instance=instance, tags=batch.tags
        )
        assert result.success
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS

        # The warehouse writers went through the pool, created with the configured default limit,
        # and gave their slot back.
        pool = instance.event_log_storage.get_concurrency_info("warehouse")
        assert pool.slot_count == 1 and pool.active_slot_count == 0 and pool.pending_step_count == 0

        # The run's events are in PostgreSQL.
        with create_engine(dagster_url).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 1
            assert conn.execute(text("SELECT count(*) FROM event_logs WHERE run_id = :r"), {"r": result.run_id}).scalar_one() > 10

    with make_engine(s.warehouse_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.test_results)).scalar_one() == 6

