"""Reports that landed but were never loaded are loaded again by themselves.

A warehouse that fails under a load (its disk full, the database away past the step's retries),
or a run that dies between landing and loading, leaves reports archived and counted as landed
with no rows. The `reload_sensor` finds them and asks for their batch's load again, once no run
of it is queued or running, waiting longer after each attempt that fails."""

from __future__ import annotations

import json
import os
import time

import dagster as dg
import pytest
from sqlalchemy import func, select

from crossbridge_assets.defs.common import BATCH_TAG, WarehouseResource
from crossbridge_assets.defs.landing.reloads import (
    FIRST_WAIT,
    MAX_PER_TICK,
    MAX_WAIT,
    RELOAD_TAG,
    WHOLE_DAY,
    plan,
    reload_sensor,
    wait_after,
)
from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.test_coverage_e2e import checks_of
from crossbridge_assets_tests.test_ingest_e2e import drop, sensor_tick
from crossbridge_assets_tests.test_operator_failures import junit, reports, run_with_file_size_limit

AGO = 20 * 60  # older than the sensor's settling time


def reload_tick(instance, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()}) as ctx:
        return reload_sensor(ctx)


def aged(cursor: str, seconds: float) -> str:
    """The reload sensor's cursor as it is `seconds` later."""
    state = json.loads(cursor)
    for entry in state["asked"].values():
        entry[1] -= seconds
    return json.dumps(state)


def run_reload(instance, request: dg.RunRequest, **kwargs) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("reload").execute_in_process(
        partition_key=request.partition_key, tags=request.tags, instance=instance, **kwargs)


def result_rows(settings) -> int:
    with make_engine(settings.warehouse_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.test_results)).scalar_one()


def drop_aged(settings, name: str, rel: str, text: str):
    path = drop(settings, name, rel, text=text)
    old = time.time() - AGO
    os.utime(path, (old, old))
    return path


def test_a_batch_whose_run_died_after_landing_is_loaded_by_the_reload_sensor(crossbridge_env, dagster_instance):
    """The run landed its batch and died before loading it (a killed worker, retries spent).
    Before, the reports stayed archived with no rows until somebody re-executed the run."""
    s = crossbridge_env
    drop_aged(s, "TEST-a.xml", "shop/main/7", junit("a", 30))
    drop_aged(s, "TEST-b.xml", "shop/main/7", junit("b", 12))
    first = sensor_tick(dagster_instance)
    (request,) = sensor_tick(dagster_instance, first.cursor).run_requests
    landed_only = defs.resolve_job_def("ingest").execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key, tags=request.tags,
        instance=dagster_instance, asset_selection=[dg.AssetKey("landed_reports")])
    assert landed_only.success
    assert [r.loaded_at for r in reports(s).values()] == [None, None] and result_rows(s) == 0

    tick = reload_tick(dagster_instance)
    (reload,) = tick.run_requests
    assert reload.partition_key == request.partition_key
    assert reload.tags == {BATCH_TAG: request.tags[BATCH_TAG], RELOAD_TAG: "1"}
    # Asked for once: the next tick waits for that run.
    assert reload_tick(dagster_instance, tick.cursor).run_requests == []

    done = run_reload(dagster_instance, reload)
    assert done.success
    assert checks_of(done)["parse_errors"].passed is True
    assert all(r.loaded_at is not None for r in reports(s).values())
    assert result_rows(s) == 42
    after = reload_tick(dagster_instance, aged(tick.cursor, MAX_WAIT))
    assert after.run_requests == [] and json.loads(after.cursor) == {"asked": {}}
    assert after.skip_reason.skip_message == "every landed report is loaded"


@pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)  # the limit reaches this process's files only
def test_a_load_the_full_disk_failed_is_tried_again_later_and_loads_once_there_is_room(crossbridge_env, dagster_instance):
    """The warehouse's disk fills up halfway through a batch: the first report loaded, the
    second did not. The sensor asks for the batch again; while the disk is still full that run
    fails too, and the next attempt waits twice as long. Once there is room the batch loads,
    the report loaded the first time without a second copy of its rows."""
    s = crossbridge_env
    drop_aged(s, "TEST-small.xml", "shop/main/9", junit("small", 5))
    cases = 20_000
    body = "".join(f'<testcase classname="tests.test_mod{i % 50}" name="test_{i}" time="0.01">'
                   f'<failure message="expected {i}">{"AssertionError " * 20}</failure></testcase>'
                   for i in range(cases))
    big = drop_aged(s, "TEST-big.xml", "shop/main/9", (
        f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="{cases}" '
        f'failures="{cases}">{body}</testsuite></testsuites>'))
    os.utime(big, (time.time() - AGO + 5,) * 2)  # lands (and loads) after the small one
    limit = big.stat().st_size + (2 << 20)  # room for its copy, not for its rows
    first = sensor_tick(dagster_instance)
    (request,) = sensor_tick(dagster_instance, first.cursor).run_requests
    assert not run_with_file_size_limit(request, limit)["success"]
    state = {name: r.loaded_at is not None for name, r in reports(s).items()}
    assert state == {"TEST-small.xml": True, "TEST-big.xml": False}

    tick = reload_tick(dagster_instance)
    (reload,) = tick.run_requests
    assert reload.tags[RELOAD_TAG] == "1"
    still_full = run_with_file_size_limit(reload, limit, job="reload")
    assert not still_full["success"]

    assert reload_tick(dagster_instance, aged(tick.cursor, FIRST_WAIT - 60)).run_requests == []
    waited = reload_tick(dagster_instance, aged(tick.cursor, FIRST_WAIT + 1))
    (second,) = waited.run_requests
    assert second.tags[RELOAD_TAG] == "2" and second.run_key != reload.run_key
    # The wait doubles after the second attempt.
    assert reload_tick(dagster_instance, aged(waited.cursor, FIRST_WAIT + 1)).run_requests == []

    assert run_reload(dagster_instance, second).success
    assert all(r.loaded_at is not None for r in reports(s).values())
    assert result_rows(s) == cases + 5


def test_no_reload_while_a_run_of_the_batch_or_of_its_whole_day_is_queued(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop_aged(s, "TEST-a.xml", "shop/main/3", junit("a", 3))
    first = sensor_tick(dagster_instance)
    (request,) = sensor_tick(dagster_instance, first.cursor).run_requests
    assert defs.resolve_job_def("ingest").execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key, tags=request.tags,
        instance=dagster_instance, asset_selection=[dg.AssetKey("landed_reports")]).success

    # Created and not started: as a queued run looks to the sensor.
    queued = dagster_instance.create_run_for_job(
        job_def=defs.resolve_job_def("ingest"), run_config=request.run_config,
        tags={**request.tags, "dagster/partition": request.partition_key})
    tick = reload_tick(dagster_instance)
    assert tick.run_requests == []
    assert "1 report(s) landed but not loaded" in tick.skip_reason.skip_message
    dagster_instance.report_run_failed(queued)

    whole_day = dagster_instance.create_run_for_job(
        job_def=defs.resolve_job_def("ingest"), tags={"dagster/partition": request.partition_key})
    assert reload_tick(dagster_instance).run_requests == []
    dagster_instance.report_run_failed(whole_day)

    # Another day's run does not hold this day back.
    other = dagster_instance.create_run_for_job(
        job_def=defs.resolve_job_def("ingest"), tags={"dagster/partition": "2020-01-01"})
    (reload,) = reload_tick(dagster_instance).run_requests
    dagster_instance.report_run_failed(other)
    assert run_reload(dagster_instance, reload).success
    assert result_rows(s) == 3


def test_a_report_that_just_arrived_is_left_to_its_own_run(crossbridge_env, dagster_instance):
    """Between landing and loading, a run that Dagster does not know yet (its record being
    written) may hold the report: a report younger than the settling time is not reloaded."""
    s = crossbridge_env
    drop(s, "TEST-a.xml", "shop/main/4", text=junit("a", 3))
    first = sensor_tick(dagster_instance)
    (request,) = sensor_tick(dagster_instance, first.cursor).run_requests
    assert defs.resolve_job_def("ingest").execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key, tags=request.tags,
        instance=dagster_instance, asset_selection=[dg.AssetKey("landed_reports")]).success
    tick = reload_tick(dagster_instance)
    assert tick.run_requests == [] and tick.skip_reason.skip_message == "every landed report is loaded"


# ---------------------------------------------------------------------------- the plan alone


def test_the_wait_doubles_from_a_quarter_hour_to_six_hours():
    assert [wait_after(n) / 60 for n in (1, 2, 3, 4, 5, 6, 10)] == [15, 30, 60, 120, 240, 360, 360]


def test_plan_asks_once_per_batch_and_forgets_batches_that_loaded():
    now = 1_000_000.0
    unloaded = [("2026-11-30", "b1", 2), ("2026-11-30", None, 1), ("2026-12-01", "b2", 4)]
    reloads, cursor = plan(unloaded, {}, set(), now)
    assert [(r.partition, r.batch, r.reports, r.attempt) for r in reloads] == [
        ("2026-11-30", "b1", 2, 1), ("2026-11-30", WHOLE_DAY, 1, 1), ("2026-12-01", "b2", 4, 1)]
    assert reloads[1].tags == {RELOAD_TAG: "1"}  # no batch: the whole day is loaded
    assert len({r.run_key for r in reloads}) == 3

    again, cursor2 = plan(unloaded[:1], cursor, set(), now + FIRST_WAIT + 1)
    assert [(r.batch, r.attempt) for r in again] == [("b1", 2)]
    assert list(cursor2["asked"]) == ["2026-11-30/b1"]


def test_plan_holds_a_day_back_while_any_run_of_it_may_load_the_same_reports():
    unloaded = [("2026-11-30", "b1", 1), ("2026-11-30", None, 1), ("2026-11-29", "b3", 1)]
    # A batch run: its own batch and the whole day wait; another day does not.
    reloads, _ = plan(unloaded, {}, {("2026-11-30", "b1")}, 0.0)
    assert [(r.partition, r.batch) for r in reloads] == [("2026-11-29", "b3")]
    # A whole-day run holds every batch of that day.
    reloads, _ = plan(unloaded, {}, {("2026-11-30", WHOLE_DAY)}, 0.0)
    assert [(r.partition, r.batch) for r in reloads] == [("2026-11-29", "b3")]
    # Another batch of the day running holds back only a reload of the whole day.
    reloads, _ = plan(unloaded, {}, {("2026-11-30", "b9")}, 0.0)
    assert [(r.partition, r.batch) for r in reloads] == [("2026-11-30", "b1"), ("2026-11-29", "b3")]


def test_the_reload_sensor_is_on_in_the_code_location():
    sensor = defs.resolve_sensor_def("reload_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "reload"
    job = defs.resolve_job_def("reload")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "test_results", "coverage", "profiling_events"}


def test_after_a_long_outage_the_batches_are_asked_for_a_few_at_a_tick():
    unloaded = [("2026-11-30", f"b{i:03d}", 1) for i in range(MAX_PER_TICK * 2 + 5)]
    first, cursor = plan(unloaded, {}, set(), 0.0)
    second, cursor = plan(unloaded, cursor, set(), 300.0)
    third, cursor = plan(unloaded, cursor, set(), 600.0)
    assert [len(first), len(second), len(third)] == [MAX_PER_TICK, MAX_PER_TICK, 5]
    assert len({r.batch for r in first + second + third}) == len(unloaded)
    assert plan(unloaded, cursor, set(), 800.0)[0] == []  # each waits for its next attempt
