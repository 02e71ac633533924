"""The machine misbehaves under the product: a disk that fills up (or a file bigger than the
service may write) while reports are archived. Nothing may be lost or half kept: the file stays
in the inbox, no partial copy is taken for a report, the rest of its batch lands, the reason is
named, and a later tick lands it once there is room.

The full disk is real, without root: the step runs in a process whose RLIMIT_FSIZE is below the
report's size (with SIGXFSZ ignored, a write past it fails with EFBIG, as on a full disk)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import dagster as dg
import pytest
from sqlalchemy import select

from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.landing import file_sha256, report_key
from crossbridge_assets_tests.conftest import POSTGRES_URL, REPO, fresh_postgres_database
from crossbridge_assets_tests.test_coverage_e2e import checks_of
from crossbridge_assets_tests.test_ingest_e2e import drop, execute, sensor_tick
from crossbridge_assets_tests.test_layer_journeys import _aged

LIMIT = 16 << 20  # above what the warehouse and the Dagster instance write in these tests


def junit(name: str, cases: int, padding: int = 0) -> str:
    body = "".join(f'<testcase classname="tests.test_{name}" name="test_{i}" time="0.01"/>' for i in range(cases))
    pad = f"<!-- {'x' * padding} -->" if padding else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="{cases}">'
            f"{body}{pad}</testsuite></testsuites>")


_RUN_UNDER_LIMIT = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
import dagster as dg
from crossbridge_assets.definitions import defs
request = json.loads(sys.argv[2])
with dg.instance_for_test() as instance:
    result = defs.resolve_job_def(request["job"]).execute_in_process(
        run_config=request["run_config"], partition_key=request["partition"], tags=request["tags"],
        instance=instance, raise_on_error=False)
    failures = [f"{e.message} {e.event_specific_data.error.message if e.event_specific_data.error else ''}"
                for e in result.all_events if e.is_step_failure]
    checks = {e.check_name: [e.passed, e.description] for e in result.get_asset_check_evaluations()}
    print(json.dumps({"success": result.success, "failures": failures, "checks": checks}))
"""


def run_with_file_size_limit(request: dg.RunRequest, limit: int, job: str = "ingest") -> dict:
    """Execute the job for `request` in a process that cannot write files past `limit`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _RUN_UNDER_LIMIT, str(limit),
         json.dumps({"job": job, "run_config": request.run_config, "partition": request.partition_key,
                     "tags": request.tags})],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def reports(settings) -> dict[str, object]:
    with make_engine(settings.warehouse_url).connect() as conn:
        return {r.original_name: r for r in conn.execute(select(schema.reports))}


def archived(settings) -> list[str]:
    return sorted(p.relative_to(settings.home).as_posix() for folder in (settings.archive, settings.quarantine)
                  for p in folder.rglob("*") if p.is_file())


def test_a_report_too_big_to_archive_stays_in_the_inbox_and_lands_once_there_is_room(crossbridge_env, dagster_instance):
    s = crossbridge_env
    big = drop(s, "TEST-big.xml", "shop/main/7", text=junit("big", 5, padding=LIMIT + (1 << 20)))
    drop(s, "TEST-small.xml", "shop/main/7", text=junit("small", 3))
    first = sensor_tick(dagster_instance)
    second = sensor_tick(dagster_instance, first.cursor)
    (request,) = second.run_requests

    done = run_with_file_size_limit(request, LIMIT)
    # It used to fail the whole run at the big file: the small one never landed, and a partial
    # copy of the big one was left in the archive.
    assert done["success"], done["failures"]
    assert big.exists() and big.stat().st_size > LIMIT
    found = reports(s)
    assert found["TEST-small.xml"].status == "landed"
    kept = found["TEST-big.xml"]
    assert kept.status == "quarantined" and kept.archive_path is None
    assert "File too large" in kept.reason and "stays in the inbox" in kept.reason, kept.reason
    passed, description = done["checks"]["parse_errors"]
    assert passed is False and "TEST-big.xml" in description and "File too large" in description
    # Nothing of the big file is kept: no copy cut short, no sidecar without its report.
    small = found["TEST-small.xml"].sha256
    day = found["TEST-small.xml"].partition
    assert archived(s) == [f"archive/{day}/{small}", f"archive/{day}/{small}.json"]

    # Room again: the batch is asked for again and the file lands, whole.
    again = sensor_tick(dagster_instance, _aged(second.cursor, 31 * 60))
    (retry,) = again.run_requests
    result = execute(dagster_instance, retry)
    assert checks_of(result)["parse_errors"].passed is True
    assert not big.exists()
    found = reports(s)
    assert {n: r.status for n, r in found.items()} == {"TEST-small.xml": "landed", "TEST-big.xml": "landed"}
    assert os.path.getsize(found["TEST-big.xml"].archive_path) > LIMIT
    with make_engine(s.warehouse_url).connect() as conn:
        tests = conn.execute(select(schema.test_results.c.report_sha256)).scalars().all()
    assert sorted(tests.count(found[n].sha256) for n in found) == [3, 5]


def test_a_sidecar_that_cannot_be_written_leaves_no_report_without_its_run(crossbridge_env, dagster_instance):
    """The report's copy fits but its sidecar (its run metadata) cannot be written. The copy used
    to stay in the archive without it, and a backfill of the day then landed it as a report of
    the default project and branch, counted in a run it does not belong to."""
    s = crossbridge_env
    report = drop(s, "TEST-a.xml", "shop/main/7", text=junit("a", 4))
    first = sensor_tick(dagster_instance)
    second = sensor_tick(dagster_instance, first.cursor)
    (request,) = second.run_requests
    day = request.partition_key
    key = report_key(file_sha256(report)[0], {"project": "shop", "branch": "main", "build": "7"})
    # A path that fails: where the sidecar is written before it takes its name is a folder.
    blocker = s.archive / day / f"{key}.json.tmp"
    blocker.mkdir(parents=True)

    result = defs.resolve_job_def("ingest").execute_in_process(
        run_config=request.run_config, partition_key=day, instance=dagster_instance, tags=request.tags,
        raise_on_error=False)
    assert result.success
    assert report.exists()
    (kept,) = reports(s).values()
    assert kept.status == "quarantined" and "stays in the inbox" in kept.reason, kept.reason
    assert archived(s) == []

    # A backfill of the day finds no report without its run in the archive.
    backfill = defs.resolve_job_def("ingest").execute_in_process(partition_key=day, instance=dagster_instance)
    assert backfill.success
    assert [(r.status, r.project) for r in reports(s).values()] == [("quarantined", "shop")]

    blocker.rmdir()
    again = sensor_tick(dagster_instance, _aged(second.cursor, 31 * 60))
    (retry,) = again.run_requests
    execute(dagster_instance, retry)
    (landed,) = reports(s).values()
    assert (landed.status, landed.project, landed.build, landed.sha256) == ("landed", "shop", "7", key)
    assert not report.exists()


# ---------------------------------------------------------------- a run worker killed mid-load

_KILLED = """
import os, signal, sys, json
import dagster as dg
from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import landing, results

# The worker dies (the OOM killer, a reboot) where the test says: while a report's test results
# are written, its attempts not yet, nothing committed; or while the second file of the batch
# is archived, the first landed.
where = sys.argv[2]
if where == "load":
    writes = results.bulk_insert
    def bulk_insert(conn, table, rows):
        if table.name == "test_attempts":
            os.kill(os.getpid(), signal.SIGKILL)
        return writes(conn, table, rows)
    results.bulk_insert = bulk_insert
else:
    place, placed = landing.Landing._place, []
    def _place(source, target, sidecar, copy):
        if placed:
            os.kill(os.getpid(), signal.SIGKILL)
        placed.append(target)
        return place(source, target, sidecar, copy)
    landing.Landing._place = staticmethod(_place)

request = json.loads(sys.argv[1])
with dg.DagsterInstance.get() as instance:
    defs.resolve_job_def("ingest").execute_in_process(
        run_config=request["run_config"], partition_key=request["partition"], tags=request["tags"], instance=instance)
"""


def kill_run(request: dg.RunRequest, where: str) -> None:
    """Run the ingest job for `request` on the instance of DAGSTER_HOME in a process that is
    killed with SIGKILL `where` ("load" or "landing"), leaving no process to say so."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED,
         json.dumps({"run_config": request.run_config, "partition": request.partition_key, "tags": request.tags}),
         where],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]


def daemon_hours_later(instance: dg.DagsterInstance, monkeypatch) -> None:
    """What the daemon's run monitoring and concurrency slot reaper do, long after a run died
    (they run only where the instance enables run monitoring)."""
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import EmptyWorkspaceTarget
    from dagster._daemon.monitoring import concurrency, run_monitoring

    assert instance.run_monitoring_enabled, "the instance's daemon does not watch its runs"
    settings = instance.run_monitoring_settings
    later = time.time() + settings.get("max_runtime_seconds", 0) + settings.get(
        "free_slots_after_run_end_seconds", 0) + 3600
    monkeypatch.setattr(run_monitoring, "get_current_timestamp", lambda: later)
    monkeypatch.setattr(concurrency, "get_current_datetime", lambda: datetime.fromtimestamp(later, tz=timezone.utc))
    with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as workspace:
        list(run_monitoring.execute_run_monitoring_iteration(workspace, logging.getLogger("run_monitoring")))
        list(concurrency.execute_concurrency_slots_iteration(workspace, logging.getLogger("concurrency")))


def retry_of(instance: dg.DagsterInstance, run: dg.DagsterRun, request: dg.RunRequest):
    """The run again, as run_retries re-executes it (its config and tags)."""
    retry = defs.resolve_job_def("ingest").execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key, instance=instance,
        tags={**request.tags, "dagster/parent_run_id": run.run_id, "dagster/root_run_id": run.run_id})
    assert retry.success
    return retry


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="CROSSBRIDGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)")
def test_a_run_killed_mid_load_gives_its_warehouse_slot_back_and_its_retry_loads_the_report(
        crossbridge_env, tmp_path, monkeypatch):
    """Under the production dagster.yaml, the worker of an ingestion run is killed (SIGKILL) while
    it loads a report, and no process is left to say so (its code server went down with it: a
    reboot, `kill -9` of the service). The run stayed STARTED for ever, holding the one slot of the
    `warehouse` pool: every later ingestion and insight waited in the queue behind it, and the
    inbox sensor took its batch for in flight. Run monitoring now marks it failed after
    max_runtime_seconds and gives its slot back; its retry then loads the report."""
    from crossbridge_assets.defs.landing import _in_flight

    s = crossbridge_env
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", fresh_postgres_database("cb_dagster"))
    drop(s, "TEST-a.xml", "shop/main/7", text=junit("a", 40))

    with dg.DagsterInstance.from_config(str(home)) as instance:
        first = sensor_tick(instance)
        (request,) = sensor_tick(instance, first.cursor).run_requests
        kill_run(request, "load")

        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED
        pool = instance.event_log_storage.get_concurrency_info("warehouse")
        assert [(slot.run_id, slot.step_key) for slot in pool.claimed_slots] == [(run.run_id, "test_results")]
        (report,) = reports(s).values()
        assert report.status == "landed" and report.loaded_at is None
        assert _in_flight(instance, {request.run_key}) == {request.run_key}

        daemon_hours_later(instance, monkeypatch)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        pool = instance.event_log_storage.get_concurrency_info("warehouse")
        assert pool.active_slot_count == 0, pool.claimed_slots
        assert _in_flight(instance, {request.run_key}) == set()

        retry_of(instance, run, request)
    (report,) = reports(s).values()
    assert report.loaded_at is not None
    with make_engine(s.warehouse_url).connect() as conn:
        assert conn.execute(select(schema.test_results.c.report_sha256)).scalars().all() == [report.sha256] * 40
        assert len(conn.execute(select(schema.test_attempts.c.report_sha256)).scalars().all()) == 40


def test_on_the_embedded_instance_a_batch_whose_run_died_mid_landing_is_landed_later(
        crossbridge_env, tmp_path, monkeypatch):
    """`crossbridge dev`'s instance: the run landing a batch is killed after its first file, with
    `dagster dev` (a laptop's reboot). Its run stayed STARTED for ever, and the inbox sensor,
    taking the batch for in flight, never asked for the file left in the inbox again. Run
    monitoring marks the run failed; the sensor asks for the file again and its retry loads the
    one that landed."""
    from crossbridge_assets.instance import ensure_dagster_home

    s = crossbridge_env
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home(s)
    a = drop(s, "TEST-a.xml", "shop/main/7", text=junit("a", 3))
    b = drop(s, "TEST-b.xml", "shop/main/7", text=junit("b", 5))

    with dg.DagsterInstance.from_config(str(home)) as instance:
        first = sensor_tick(instance)
        second = sensor_tick(instance, first.cursor)
        (request,) = second.run_requests
        kill_run(request, "landing")
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED
        assert not a.exists() and b.exists()

        daemon_hours_later(instance, monkeypatch)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        again = sensor_tick(instance, _aged(second.cursor, 31 * 60))
        (request_b,) = again.run_requests
        assert request_b.run_config["ops"]["landed_reports"]["config"]["files"] == ["shop/main/7/TEST-b.xml"]
        execute(instance, request_b)
        retry_of(instance, run, request)

    assert not b.exists()
    found = reports(s)
    assert {n: (r.status, r.loaded_at is not None) for n, r in found.items()} == {
        "TEST-a.xml": ("landed", True), "TEST-b.xml": ("landed", True)}
    with make_engine(s.warehouse_url).connect() as conn:
        tests = conn.execute(select(schema.test_results.c.report_sha256)).scalars().all()
    assert sorted(tests.count(found[n].sha256) for n in found) == [3, 5]


# ---------------------------------------------------------------- the warehouse's disk fills up


@pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)  # the limit reaches this process's files only
def test_a_warehouse_that_cannot_write_fails_the_load_and_does_not_blame_the_report(crossbridge_env, dagster_instance):
    """The report is archived, then the SQLite warehouse cannot grow while its rows are written
    (SQLite says "disk I/O error"). The report used to be quarantined as if it could not be
    parsed, and the run succeeded: a good report named unreadable by parse_errors and missing
    from its run's results. Now the load fails, naming the fault, the report stays landed (not
    loaded), and running the load again once there is room loads it."""
    s = crossbridge_env
    cases = 20_000
    body = "".join(f'<testcase classname="tests.test_mod{i % 50}" name="test_{i}" time="0.01">'
                   f'<failure message="expected {i}">{"AssertionError " * 20}</failure></testcase>'
                   for i in range(cases))
    report = drop(s, "TEST-many.xml", "shop/main/8", text=(
        f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="{cases}" '
        f'failures="{cases}">{body}</testsuite></testsuites>'))
    size = report.stat().st_size
    limit = size + (2 << 20)  # room for its copy, not for its rows
    first = sensor_tick(dagster_instance)
    (request,) = sensor_tick(dagster_instance, first.cursor).run_requests

    done = run_with_file_size_limit(request, limit)
    assert not done["success"], (done, [(r.status, r.reason) for r in reports(s).values()], size)
    assert any("I/O error" in f or "disk is full" in f for f in done["failures"]), done["failures"]
    (kept,) = reports(s).values()
    assert (kept.status, kept.loaded_at, kept.reason) == ("landed", None, None)
    assert not report.exists() and os.path.getsize(kept.archive_path) == size

    result = execute(dagster_instance, request)  # the load run again (re-executed from its failure)
    assert checks_of(result)["parse_errors"].passed is True
    (loaded,) = reports(s).values()
    assert loaded.status == "landed" and loaded.loaded_at is not None
    with make_engine(s.warehouse_url).connect() as conn:
        assert len(conn.execute(select(schema.test_results.c.seq)).scalars().all()) == cases


def test_an_embedded_dagster_yaml_of_an_earlier_release_gets_run_monitoring(crossbridge_env, monkeypatch):
    """The embedded instance's dagster.yaml as the first releases wrote it, untouched since: it
    is brought up to date (run monitoring), and an edited one is left as its owner made it."""
    import yaml

    from crossbridge_assets.instance import EMBEDDED_DAGSTER_YAML, ensure_dagster_home

    earlier = EMBEDDED_DAGSTER_YAML.split("run_monitoring:")[0].rstrip("\n") + "\n"
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    config = crossbridge_env.dagster_home / "dagster.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(earlier, encoding="utf-8")
    ensure_dagster_home(crossbridge_env)
    assert yaml.safe_load(config.read_text())["run_monitoring"] == {"enabled": True, "max_runtime_seconds": 21600}

    edited = earlier.replace("max_concurrent_runs: 2", "max_concurrent_runs: 5")
    config.write_text(edited, encoding="utf-8")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ensure_dagster_home(crossbridge_env)
    assert config.read_text() == edited
