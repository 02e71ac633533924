"""End to end through real Dagster definitions and a real instance, on SQLite and PostgreSQL:
inbox -> sensor -> ingest job -> warehouse."""

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.landing import inbox_sensor
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine

FIX = Path(__file__).parent / "fixtures" / "junit"


def drop(settings, name: str, rel: str, text: str | None = None, source: Path | None = None) -> Path:
    target = settings.inbox / rel / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, target)
    else:
        target.write_text(text, encoding="utf-8")
    old = time.time() - 60  # settled
    os.utime(target, (old, old))
    return target


def sensor_tick(instance, cursor=None):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()}
    ) as ctx:
        result = inbox_sensor(ctx)
    return result


def run_requests_until_ready(instance):
    """Two ticks: the first sees the files, the second finds them unchanged."""
    first = sensor_tick(instance)
    second = sensor_tick(instance, first.cursor)
    return first, second


def execute(instance, request):
    job = defs.resolve_job_def("ingest")
    result = job.execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key, instance=instance, tags=request.tags
    )
    assert result.success
    return result


def counts(settings):
    engine = make_engine(settings.warehouse_url)
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (schema.reports, schema.test_runs, schema.tests, schema.test_results, schema.test_attempts)
        }


def report_rows(settings):
    engine = make_engine(settings.warehouse_url)
    with engine.connect() as conn:
        return {r.original_name: r for r in conn.execute(select(schema.reports))}


def test_sensor_batch_lands_and_loads_and_quarantines_truncated(crossbridge_env, dagster_instance):
    s = crossbridge_env
    good = drop(s, "TEST-cart.xml", "shop/main/101", source=FIX / "pytest-sample.xml")
    drop(s, "TEST-api.xml", "shop/main/101", source=FIX / "surefire-flaky.xml")
    truncated_text = (FIX / "pytest-sample.xml").read_text()[:300]
    drop(s, "TEST-truncated.xml", "shop/main/101", text=truncated_text)

    first, second = run_requests_until_ready(dagster_instance)
    assert not first.run_requests, "files must be seen twice unchanged before they are ingested"
    assert len(second.run_requests) == 1
    request = second.run_requests[0]
    assert len(request.run_config["ops"]["landed_reports"]["config"]["files"]) == 3
    result = execute(dagster_instance, request)

    rows = report_rows(s)
    assert rows["TEST-cart.xml"].status == "landed"
    assert rows["TEST-cart.xml"].project == "shop" and rows["TEST-cart.xml"].branch == "main"
    assert rows["TEST-cart.xml"].build == "101" and rows["TEST-cart.xml"].metadata_source == "path"
    # Run-level timing: pytest's one suite under a root without a time; Surefire's root suite.
    assert rows["TEST-cart.xml"].duration == pytest.approx(0.056)
    assert rows["TEST-api.xml"].duration == pytest.approx(1.204)
    # Run-level properties: Surefire's come before its testcases.
    assert json.loads(rows["TEST-api.xml"].properties) == {"java.version": "17.0.15"}
    assert rows["TEST-cart.xml"].properties is None
    assert rows["TEST-truncated.xml"].status == "quarantined"
    assert "malformed XML" in rows["TEST-truncated.xml"].reason
    assert (s.quarantine / rows["TEST-truncated.xml"].partition / rows["TEST-truncated.xml"].sha256).exists()
    assert not good.exists(), "landed files leave the inbox"
    assert not (s.inbox / "shop").exists(), "emptied drop folders are tidied away"

    c = counts(s)
    assert c["test_results"] == 6 + 1  # pytest sample (6 testcases) + surefire (1)
    assert c["test_attempts"] == 6 + 2  # the flaky surefire test has a failed attempt and a passing one

    # Materialization metadata a user sees in the UI.
    md = result.asset_materializations_for_node("test_results")[0].metadata
    assert md["tests"].value == 7 and md["failures"].value == 1 and md["errors"].value == 1
    assert isinstance(md["pass_rate"].value, float) and 0 < md["pass_rate"].value < 1
    assert "test_divide_by_zero" in md["failed_tests"].value
    assert md["reports_quarantined"].value == 1

    # The parse_errors check names the quarantined file and its reason.
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["parse_errors"].passed is False
    assert checks["parse_errors"].severity == dg.AssetCheckSeverity.WARN
    assert "TEST-truncated.xml" in checks["parse_errors"].description
    assert checks["warehouse_reachable"].passed is True

    # The next tick asks for nothing: the batch is done.
    third = sensor_tick(dagster_instance, second.cursor)
    assert not third.run_requests


def test_same_file_twice_gives_one_set_of_rows(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop(s, "a.xml", "shop/main/7", source=FIX / "pytest-sample.xml")
    _, tick = run_requests_until_ready(dagster_instance)
    execute(dagster_instance, tick.run_requests[0])
    before = counts(s)

    drop(s, "copy-of-a.xml", "shop/main/7", source=FIX / "pytest-sample.xml")  # sent again for the same build
    first = sensor_tick(dagster_instance, tick.cursor)
    second = sensor_tick(dagster_instance, first.cursor)
    execute(dagster_instance, second.run_requests[0])
    assert counts(s) == before
    assert not (s.inbox / "shop").exists()


def test_backfill_reingests_the_archive_without_duplicates(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop(s, "a.xml", "shop/main/7", source=FIX / "pytest-sample.xml")
    drop(s, "b.xml", "shop/main/7", source=FIX / "surefire-flaky.xml")
    _, tick = run_requests_until_ready(dagster_instance)
    request = tick.run_requests[0]
    execute(dagster_instance, request)
    before = counts(s)

    # A day materialized (or backfilled) from the UI carries no file list: the whole archive of the day.
    job = defs.resolve_job_def("ingest")
    for _ in range(2):
        result = job.execute_in_process(partition_key=request.partition_key, instance=dagster_instance)
        assert result.success
    assert counts(s) == before

    # Rebuild from the archive alone: wipe derived rows, backfill, same rows back.
    engine = make_engine(s.warehouse_url)
    with engine.begin() as conn:
        for table in (schema.test_attempts, schema.test_results, schema.tests, schema.test_runs, schema.reports):
            conn.execute(table.delete())
    result = job.execute_in_process(partition_key=request.partition_key, instance=dagster_instance)
    assert result.success
    assert counts(s) == before
    assert report_rows(s)["a.xml"].project == "shop", "metadata comes back from the archive sidecars"


def test_manifest_metadata_and_broken_manifest(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop(s, "a.xml", "drop1", source=FIX / "pytest-sample.xml")
    (s.inbox / "drop1" / "crossbridge.json").write_text(
        json.dumps({"project": "billing", "branch": "release/2.0", "commit": "abc123", "build": "55",
                    "shard": "1", "shards_expected": 2, "ci_url": "https://ci.example.com/55"})
    )
    drop(s, "b.xml", "drop2", source=FIX / "surefire-flaky.xml")
    (s.inbox / "drop2" / "crossbridge.json").write_text("{not json")
    _, tick = run_requests_until_ready(dagster_instance)
    execute(dagster_instance, tick.run_requests[0])
    rows = report_rows(s)
    a = rows["a.xml"]
    assert (a.project, a.branch, a.commit_sha, a.build, a.shard, a.shards_expected) == (
        "billing", "release/2.0", "abc123", "55", "1", 2)
    assert a.metadata_source == "manifest"
    assert rows["b.xml"].status == "quarantined"
    assert "crossbridge.json" in rows["b.xml"].reason and "not valid JSON" in rows["b.xml"].reason


def test_transient_storage_fault_is_retried_and_permanent_is_not(crossbridge_env):
    from crossbridge_assets.defs.common import storage_faults
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError):
        with storage_faults("x"):
            raise OperationalError("INSERT", {}, Exception("database is locked"))
    with pytest.raises(dg.Failure) as info:
        with storage_faults("x"):
            raise ValueError("bad data")
    assert info.value.allow_retries is False


def test_event_file_from_a_hook_takes_run_metadata_from_the_ci_environment(crossbridge_env, dagster_instance):
    """Lowest-priority source: the CI variables a hook wrote into its event file's header."""
    from crossbridge_assets.hooks.events import EventWriter

    s = crossbridge_env
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_REF_NAME": "main",
          "GITHUB_SHA": "f00d", "GITHUB_RUN_ID": "314", "GITHUB_RUN_ATTEMPT": "1"}
    writer = EventWriter(s.inbox, framework="pytest", env=ci)
    writer.record("test", "test_checkout", time.time() - 2, 1.5, status="passed")
    path = writer.close()
    old = time.time() - 60
    os.utime(path, (old, old))
    _, tick = run_requests_until_ready(dagster_instance)
    execute(dagster_instance, tick.run_requests[0])
    row = report_rows(s)[path.name]
    assert row.kind == "profiling" and row.status == "landed"
    assert (row.project, row.branch, row.commit_sha, row.build) == ("acme/shop", "main", "f00d", "314.1")
    assert row.metadata_source == "ci"
