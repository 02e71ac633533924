"""Ingestion running at the same time as itself, as it does in production: the sensor's runs
in parallel, a day materialized from the UI while they ingest, the same report in two batches.

Each test forces one interleaving: one thread (or process) is held at a critical point by a
hook on the real code path, the other is let go, and only then the first goes on. Afterwards
the warehouse must hold what a serial ingestion of the same files holds, and the health checks
(no duplicate keys, counts consistent) must pass."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from crossbridge_assets.warehouse import health, schema
from crossbridge_assets.warehouse.engine import make_engine, migrate
from crossbridge_assets.warehouse.landing import LANDED, SUPERSEDED, Landing
from crossbridge_assets.warehouse.queries import day_totals, reports_for
from crossbridge_assets.warehouse.results import load_archived_results
from crossbridge_assets.model import KIND_RESULTS
from crossbridge_assets_tests.insights_helpers import junit

DAY = "2026-11-20"
WRITES = ("INSERT", "UPDATE", "DELETE")
WAIT = 60  # seconds a forced interleaving may take at most before the test gives up


class Worker(threading.Thread):
    """A thread running one ingestion step, keeping what it returned or raised."""

    def __init__(self, name: str, fn):
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.result = None
        self.error: BaseException | None = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def outcome(self):
        self.join(WAIT)
        assert not self.is_alive(), f"{self.name} did not finish"
        if self.error is not None:
            raise self.error
        return self.result


class Gate:
    """Holds the thread named `who` at a hooked point until the test opens the gate."""

    def __init__(self, who: str):
        self.who = who
        self.reached = threading.Event()
        self.opened = threading.Event()

    def __call__(self):
        if threading.current_thread().name == self.who:
            self.reached.set()
            assert self.opened.wait(WAIT), "the gate was never opened"

    def wait_reached(self):
        assert self.reached.wait(WAIT), f"{self.who} never reached the gate"

    def open(self):
        self.opened.set()


def wait_blocked_or_done(engine, worker: Worker, started: threading.Event | None = None) -> None:
    """Wait until `worker` has sent its first statement and, on PostgreSQL, until it waits on a
    lock (or has finished). On SQLite a writer held at a gate keeps the database's write lock, so
    the worker's first write waits for it whatever the moment the gate opens."""
    assert started is None or started.wait(WAIT), f"{worker.name} never reached the warehouse"
    if engine.dialect.name != "postgresql":
        return
    watcher = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        with watcher.connect() as conn:
            for _ in range(WAIT * 20):
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )).scalar_one()
                if waiting or not worker.is_alive():
                    return
                threading.Event().wait(0.05)
        raise AssertionError(f"{worker.name} never waited on a lock")
    finally:
        watcher.dispose()


def first_write(engine, who: str) -> threading.Event:
    """Set once the thread named `who` sends its first write (or lock) to the warehouse."""
    from sqlalchemy import event

    started = threading.Event()

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread().name == who and (
                statement.lstrip().upper().startswith(WRITES) or "pg_advisory" in statement):
            started.set()

    event.listen(engine, "before_cursor_execute", before)
    return started


def healthy(engine) -> None:
    dup = health.duplicate_keys(engine)
    assert dup.passed, dup.rows
    counts = health.counts_consistent(engine)
    assert counts.passed, counts.rows


def drop_report(settings, rel: str, body: str, manifest: dict | None = None) -> Path:
    path = settings.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    if manifest is not None:
        (path.parent / "crossbridge.json").write_text(json.dumps(manifest))
    return path


def result_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.test_results)).scalar_one()


@pytest.fixture
def warehouse(crossbridge_env):
    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    return crossbridge_env, engine, Landing(crossbridge_env, engine)


SUITE = junit({f"test_{i}": ("failed" if i % 7 == 0 else "passed") for i in range(40)})


# ---------------------------------------------------------------- one report loaded by two runs at once


def test_a_report_loaded_by_a_batch_run_and_a_day_run_at_once_is_loaded_once(warehouse, monkeypatch):
    """The sensor's run loads its batch while a run materializing the whole day from the UI
    loads the same report: the second load waits for the first and rewrites its rows, it must
    not fail on the first one's rows (PostgreSQL: a unique violation) and quarantine the report."""
    settings, engine, landing = warehouse
    path = drop_report(settings, "shop/main/7/junit.xml", SUITE, {"project": "shop", "branch": "main", "build": "7"})
    landed = landing.land(path, DAY, batch="b1")
    assert landed.status == LANDED
    [report] = reports_for(engine, DAY, KIND_RESULTS, "b1")

    from crossbridge_assets.warehouse import results

    gate = Gate("batch-run")
    real = results.register_run

    def held(conn, *args, **kwargs):
        gate()  # the batch run's rows are written, its transaction still open
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(results, "register_run", held)
    started = first_write(engine, "day-run")
    first = Worker("batch-run", lambda: load_archived_results(engine, report))
    first.start()
    gate.wait_reached()
    second = Worker("day-run", lambda: load_archived_results(engine, reports_for(engine, DAY, KIND_RESULTS)[0]))
    second.start()
    wait_blocked_or_done(engine, second, started)
    gate.open()
    assert first.outcome().rows == 40
    assert second.outcome().rows == 40

    assert result_rows(engine) == 40
    assert day_totals(engine, DAY, KIND_RESULTS)["tests"] == 40
    healthy(engine)


def test_a_report_superseded_while_a_run_is_about_to_load_it_keeps_no_rows(warehouse, monkeypatch):
    """A run has read its batch's reports and is about to load one when a CI job re-run's copy
    of it lands in another batch and supersedes it: the first run must not write the superseded
    report's rows back beside the new copy's (the run's tests would count twice)."""
    settings, engine, landing = warehouse
    manifest = {"project": "shop", "branch": "main", "build": "7"}
    first_try = drop_report(settings, "shop/main/7/junit.xml", SUITE, manifest)
    old = landing.land(first_try, DAY, batch="b1")
    [report] = reports_for(engine, DAY, KIND_RESULTS, "b1")

    from crossbridge_assets.warehouse import results

    gate = Gate("first-run")
    real = results.open_report

    def held(path, *args, **kwargs):
        gate()  # its report's row read, its load not begun
        return real(path, *args, **kwargs)

    monkeypatch.setattr(results, "open_report", held)
    first = Worker("first-run", lambda: load_archived_results(engine, report))
    first.start()
    gate.wait_reached()
    rerun = junit({f"test_{i}": "passed" for i in range(40)})
    again = drop_report(settings, "shop/main/7/junit.xml", rerun, manifest)
    new = landing.land(again, DAY, batch="b2")
    assert new.status == LANDED and new.sha256 != old.sha256
    [fresh] = reports_for(engine, DAY, KIND_RESULTS, "b2")
    assert load_archived_results(engine, fresh).rows == 40
    gate.open()
    with pytest.raises(Exception) as gone:
        first.outcome()
    assert type(gone.value).__name__ == "ReportGone"

    with engine.connect() as conn:
        status = conn.execute(select(schema.reports.c.status).where(schema.reports.c.sha256 == old.sha256)).scalar()
    assert status == SUPERSEDED
    assert result_rows(engine) == 40
    assert day_totals(engine, DAY, KIND_RESULTS) == {**day_totals(engine, DAY, KIND_RESULTS), "tests": 40, "failures": 0}
    healthy(engine)


# ---------------------------------------------------------------- a day re-landed while a batch lands


class _HeldOs:
    """The os module as landing sees it, except that os.replace of a file being placed waits at
    the gate: the copy is in the archive under its temporary name, not yet under its own."""

    def __init__(self, gate: Gate):
        import os

        self._os = os
        self._gate = gate

    def replace(self, src, dst):
        self._gate()
        return self._os.replace(src, dst)

    def __getattr__(self, name):
        return getattr(self._os, name)


def test_a_day_relanded_while_a_batch_places_a_report_takes_only_whole_reports(warehouse, monkeypatch):
    """A user materializes the day from the UI while the sensor's run copies a report into the
    archive: the day's re-landing must not take the half-written copy (or its sidecar) for a
    report of its own, nor move it from under the batch's run."""
    settings, engine, landing = warehouse
    earlier = drop_report(settings, "shop/main/6/junit.xml", junit({"test_a": "passed"}),
                          {"project": "shop", "branch": "main", "build": "6"})
    assert landing.land(earlier, DAY, batch="b0").status == LANDED
    path = drop_report(settings, "shop/main/7/junit.xml", SUITE, {"project": "shop", "branch": "main", "build": "7"})

    from crossbridge_assets.warehouse import landing as landing_module

    gate = Gate("batch-run")
    monkeypatch.setattr(landing_module, "os", _HeldOs(gate))
    batch = Worker("batch-run", lambda: landing.land(path, DAY, batch="b1"))
    batch.start()
    gate.wait_reached()
    day = Worker("day-run", lambda: landing.reland_partition(DAY))
    day.start()
    relanded = day.outcome()
    gate.open()
    landed = batch.outcome()

    assert landed.status == LANDED
    assert sorted(r.original_name for r in relanded) == ["junit.xml"]
    with engine.connect() as conn:
        rows = conn.execute(select(schema.reports.c.original_name, schema.reports.c.status)).all()
    assert sorted(rows) == [("junit.xml", LANDED), ("junit.xml", LANDED)]
    for report in reports_for(engine, DAY, KIND_RESULTS):
        load_archived_results(engine, report)
    assert result_rows(engine) == 41
    healthy(engine)


# ---------------------------------------------------------------- one report dropped twice, two batches at once


def held_after(engine, who: str, statement_start: str, gate: Gate) -> None:
    """Hold the thread named `who` at the gate right after it sent a statement beginning with
    `statement_start`, its transaction still open."""
    from sqlalchemy import event

    def after(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(statement_start):
            gate()

    event.listen(engine, "after_cursor_execute", after)


@pytest.mark.parametrize("second_day", [DAY, "2026-11-21"], ids=["same-day", "next-day"])
def test_a_report_dropped_twice_and_landed_by_two_batches_at_once_lands_once(warehouse, second_day):
    """CI uploads one report twice (a retried upload step) and the two drops land in two
    batches at once, possibly on two arrival days: one lands it, the other finds it landed and
    drops its copy, as it would one after the other; neither run fails."""
    settings, engine, landing = warehouse
    manifest = {"project": "shop", "branch": "main", "build": "7"}
    one = drop_report(settings, "upload-1/junit.xml", SUITE, manifest)
    two = drop_report(settings, "upload-2/junit.xml", SUITE, manifest)

    gate = Gate("batch-1")
    held_after(engine, "batch-1", "INSERT INTO reports", gate)
    started = first_write(engine, "batch-2")
    first = Worker("batch-1", lambda: landing.land(one, DAY, batch="b1"))
    first.start()
    gate.wait_reached()
    second = Worker("batch-2", lambda: landing.land(two, second_day, batch="b2"))
    second.start()
    wait_blocked_or_done(engine, second, started)
    gate.open()
    a, b = first.outcome(), second.outcome()

    assert (a.status, a.duplicate) == (LANDED, False)
    assert (b.status, b.duplicate, b.sha256) == (LANDED, True, a.sha256)
    assert not one.exists() and not two.exists()
    with engine.connect() as conn:
        rows = conn.execute(select(schema.reports.c.partition, schema.reports.c.batch)).all()
    assert rows == [(DAY, "b1")]
    kept = sorted(p.relative_to(settings.archive).as_posix() for p in settings.archive.rglob("*") if p.is_file())
    assert kept == [f"{DAY}/{a.sha256}", f"{DAY}/{a.sha256}.json"]
    # A backfill of either day afterwards keeps it where it is.
    landing.reland_partition(second_day)
    for report in reports_for(engine, DAY, KIND_RESULTS):
        load_archived_results(engine, report)
    assert day_totals(engine, DAY, KIND_RESULTS)["tests"] == 40
    assert result_rows(engine) == 40
    healthy(engine)


# ---------------------------------------------------------------- a sharded run's coverage merged while a shard loads


def lcov(covered: list[int], uncovered: list[int]) -> str:
    lines = [f"DA:{n},1" for n in covered] + [f"DA:{n},0" for n in uncovered]
    return "TN:\nSF:src/shop/cart.py\n" + "\n".join(lines) + "\nend_of_record\n"


def test_a_sharded_runs_coverage_merged_while_its_last_shard_loads_ends_as_the_serial_merge(warehouse, monkeypatch):
    """Shard 1's batch merges the run's coverage while shard 2's batch loads its report and
    merges too: the merge that read the run before shard 2 arrived must not write over the one
    that saw both (the run would stay 'waiting for shards' at half its coverage)."""
    from crossbridge_assets.warehouse import coverage
    from crossbridge_assets.model import KIND_COVERAGE

    settings, engine, landing = warehouse
    run = {"project": "shop", "branch": "main", "build": "9", "shards_expected": 2}
    one = drop_report(settings, "shard-1/lcov.info", lcov([1, 2], [3, 4]), {**run, "shard": "1"})
    two = drop_report(settings, "shard-2/lcov.info", lcov([3, 4], [1, 2]), {**run, "shard": "2"})
    landing.land(one, DAY, batch="b1")
    landing.land(two, DAY, batch="b2")
    [first_shard] = reports_for(engine, DAY, KIND_COVERAGE, "b1")
    [second_shard] = reports_for(engine, DAY, KIND_COVERAGE, "b2")
    coverage.load_archived_coverage(engine, first_shard)

    gate = Gate("shard-1")
    real = coverage.merge_run

    def held(*args, **kwargs):
        gate()  # shard 1's merge has read the run, not written it
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage, "merge_run", held)
    merging = Worker("shard-1", lambda: coverage.refresh_runs(engine))
    merging.start()
    gate.wait_reached()
    started = first_write(engine, "shard-2")
    second = Worker("shard-2", lambda: (coverage.load_archived_coverage(engine, second_shard),
                                        coverage.refresh_runs(engine)))
    second.start()
    wait_blocked_or_done(engine, second, started)
    gate.open()
    merging.outcome()
    second.outcome()

    [merged] = coverage.coverage_runs(engine)
    assert (merged["shards_seen"], merged["complete"], merged["lines_covered"], merged["lines_valid"]) == (2, True, 4, 4)
    assert merged["line_pct"] == 100.0
    assert coverage.refresh_runs(engine) == []  # nothing left stale
    healthy(engine)


# ---------------------------------------------------------------- the ingest job in two processes at once

# One ingest run in a process of its own, as a run worker starts it: the real job, definitions
# and instance. Its hooks only wait and leave marks in the sync folder: `hold` holds the run
# inside its results load (its rows written, its transaction open) until `go` appears; `writes`
# marks when the run first writes the warehouse.
RUN = r"""
import json, sys, threading, time
from pathlib import Path

spec = json.loads(sys.argv[1])
sync = Path(spec["sync"])

import dagster as dg
from sqlalchemy import event

from crossbridge_assets.definitions import defs
from crossbridge_assets.settings import load
from crossbridge_assets.warehouse import results
from crossbridge_assets.warehouse.engine import make_engine


def wait_for(name):
    for _ in range(1200):
        if (sync / name).exists():
            return
        time.sleep(0.05)
    raise SystemExit(f"{name} never appeared")


if spec.get("hold"):
    real = results.register_run

    def held(*args, **kwargs):
        (sync / "held").touch()
        wait_for("go")
        return real(*args, **kwargs)

    results.register_run = held

if spec.get("writes"):
    def first_write(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) or "pg_advisory" in statement:
            (sync / spec["writes"]).touch()

    event.listen(make_engine(load().warehouse_url), "before_cursor_execute", first_write)

config = {"ops": {"landed_reports": {"config": {"files": spec["files"], "batch": spec["batch"]}}}}
tags = {"crossbridge/batch": spec["batch"]} if spec["batch"] else {}
result = defs.resolve_job_def("ingest").execute_in_process(
    run_config=config, partition_key=spec["day"], instance=dg.DagsterInstance.get(), tags=tags, raise_on_error=False)
print(json.dumps({"success": result.success}))
"""


def start_run(settings, sync: Path, files: list[str], batch: str, **hooks):
    import subprocess
    import sys

    spec = {"sync": str(sync), "files": files, "batch": batch, "day": DAY, **hooks}
    return subprocess.Popen([sys.executable, "-c", RUN, json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finished(process) -> dict:
    out, err = process.communicate(timeout=WAIT * 5)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def wait_file(path: Path, process) -> None:
    for _ in range(WAIT * 20 * 3):
        if path.exists():
            return
        assert process.poll() is None, process.communicate()[1][-3000:]
        threading.Event().wait(0.05)
    raise AssertionError(f"{path.name} never appeared")


def test_a_day_materialized_from_the_ui_while_a_sensor_run_loads_keeps_every_report(warehouse, tmp_path, monkeypatch):
    """Two ingest runs in two processes, as run workers start them: the sensor's run for a
    batch is held inside its results load while a user's materialization of the whole day
    re-lands and loads the same report. Both runs succeed, nothing is quarantined, and the
    day holds what one run alone would have written."""
    settings, engine, landing = warehouse
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    sync = tmp_path / "sync"
    sync.mkdir()
    drop_report(settings, "shop/main/7/junit.xml", SUITE, {"project": "shop", "branch": "main", "build": "7"})
    rel = "shop/main/7/junit.xml"

    sensor_run = start_run(settings, sync, [rel], "b1", hold=True)
    wait_file(sync / "held", sensor_run)
    day_run = start_run(settings, sync, [], "", writes="day-writes")
    wait_file(sync / "day-writes", day_run)
    if engine.dialect.name == "postgresql":
        watcher = Worker("day-run", lambda: day_run.wait(WAIT * 5))
        watcher.start()
        wait_blocked_or_done(engine, watcher)
    (sync / "go").touch()
    assert finished(sensor_run) == {"success": True}
    assert finished(day_run) == {"success": True}

    with engine.connect() as conn:
        rows = conn.execute(select(schema.reports.c.status, schema.reports.c.reason)).all()
    assert rows == [(LANDED, None)]
    assert not any(p.is_file() for p in settings.quarantine.rglob("*"))
    assert result_rows(engine) == 40
    assert day_totals(engine, DAY, KIND_RESULTS)["tests"] == 40
    healthy(engine)


# ---------------------------------------------------------------- the retention sweep while a load runs


def test_the_retention_sweep_during_a_load_of_an_old_day_leaves_no_rows_and_keeps_the_runs_figures(warehouse,
                                                                                                  monkeypatch):
    """A backfill loads a report of a day the weekly retention sweep is expiring, at the same
    moment: the sweep must wait for the load, keep the run's figures in its aggregates and then
    remove the rows, not leave rows behind an expired report (or expire it with no figures)."""
    from datetime import date

    from crossbridge_assets.warehouse import results
    from crossbridge_assets.warehouse.retention import apply_retention

    settings, engine, landing = warehouse
    old_day = "2026-09-01"
    path = drop_report(settings, "shop/main/3/junit.xml", SUITE, {"project": "shop", "branch": "main", "build": "3"})
    landed = landing.land(path, old_day, batch="b1")
    [report] = reports_for(engine, old_day, KIND_RESULTS)

    gate = Gate("backfill")
    real = results.register_run

    def held(conn, *args, **kwargs):
        gate()  # the old report's rows written, the load's transaction open
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(results, "register_run", held)
    load = Worker("backfill", lambda: load_archived_results(engine, report))
    load.start()
    gate.wait_reached()
    started = first_write(engine, "retention")
    sweep = Worker("retention", lambda: apply_retention(settings, engine, 30, today=date(2026, 11, 20)))
    sweep.start()
    wait_blocked_or_done(engine, sweep, started)
    gate.open()
    assert load.outcome().rows == 40
    swept = sweep.outcome()

    assert swept.reports_expired == 1
    with engine.connect() as conn:
        status = conn.execute(select(schema.reports.c.status).where(schema.reports.c.sha256 == landed.sha256)).scalar()
        kept = conn.execute(select(schema.run_aggregates.c.tests, schema.run_aggregates.c.failed)).all()
    assert status == "expired"
    assert result_rows(engine) == 0
    assert kept == [(40, 6)]
    healthy(engine)


# ---------------------------------------------------------------- a CI job re-run landing beside its first try


def test_a_reports_first_try_and_its_rerun_landing_at_once_leave_one_of_them_counted(warehouse, monkeypatch):
    """A CI job's first try and its re-run send the same report (same run, same place, other
    content) and the two land in two batches at once: one must supersede the other, as when
    they land one after the other, or the run counts its tests twice."""
    settings, engine, landing = warehouse
    manifest = {"project": "shop", "branch": "main", "build": "7", "shard": "unit"}
    first_try = drop_report(settings, "try-1/shop/junit.xml", SUITE, manifest)
    rerun = drop_report(settings, "try-2/shop/junit.xml", junit({f"test_{i}": "passed" for i in range(40)}), manifest)

    gate = Gate("first-try")
    real = Landing._place

    def held(source, target, sidecar, copy):
        gate()  # its earlier copies looked up (none yet), not yet placed nor recorded
        return real(source, target, sidecar, copy)

    monkeypatch.setattr(Landing, "_place", staticmethod(held))
    first = Worker("first-try", lambda: landing.land(first_try, DAY, batch="b1"))
    first.start()
    gate.wait_reached()
    second = landing.land(rerun, DAY, batch="b2")
    gate.open()
    one = first.outcome()
    assert one.status == second.status == LANDED

    with engine.connect() as conn:
        statuses = sorted(conn.execute(select(schema.reports.c.status)).scalars())
    assert statuses == [LANDED, SUPERSEDED]
    for report in reports_for(engine, DAY, KIND_RESULTS):
        load_archived_results(engine, report)
    assert result_rows(engine) == 40
    assert day_totals(engine, DAY, KIND_RESULTS)["tests"] == 40
    # A backfill of the day keeps the same one counted.
    landing.reland_partition(DAY)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(schema.reports.c.status)).scalars()) == [LANDED, SUPERSEDED]
    healthy(engine)


# ---------------------------------------------------------------- an analytics table recomputed by two runs at once


def test_an_analytics_table_recomputed_by_two_runs_at_once_holds_one_computation(warehouse):
    """The nightly schedule recomputes duration baselines while the run automation started
    after ingestion does the same: each replaces the whole table, so the table must end as one
    of them wrote it, not with both one's rows and the other's (duplicated keys)."""
    from datetime import datetime, timezone

    from crossbridge_assets.warehouse.engine import replace_table

    settings, engine, landing = warehouse
    T = schema.profile_baselines

    def rows(runs: int) -> list[dict]:
        return [dict(kind="test", name=f"test_{i}", environment="shop/main", runs=runs, spans=runs, median=1.0,
                     mad=0.1, mean=1.0, max=2.0, p50=1.0, p95=1.9, last_value=1.0, last_run="r",
                     computed_at=datetime(2026, 11, 20, tzinfo=timezone.utc)) for i in range(5)]

    replace_table(engine, T, rows(1))
    gate = Gate("nightly")
    held_after(engine, "nightly", "DELETE FROM profile_baselines", gate)
    started = first_write(engine, "automation")
    nightly = Worker("nightly", lambda: replace_table(engine, T, rows(2)))
    nightly.start()
    gate.wait_reached()
    automation = Worker("automation", lambda: replace_table(engine, T, rows(3)))
    automation.start()
    wait_blocked_or_done(engine, automation, started)
    gate.open()
    nightly.outcome()
    automation.outcome()

    with engine.connect() as conn:
        kept = conn.execute(select(T.c.runs, func.count()).group_by(T.c.runs)).all()
    assert kept == [(3, 5)]
    assert health.duplicate_keys(engine, ["profile_baselines"]).passed


# ---------------------------------------------------------------- a day re-landed between a batch's landing and its load


def test_a_batch_landed_then_relanded_by_a_cancelled_day_run_is_still_loaded_by_its_own_run(warehouse):
    """The sensor's run lands its batch; before its load step starts, a user's materialization
    of the whole day re-lands the day and is then cancelled (or fails) before loading. The
    batch's run must still load its reports: they stay its batch's, not landed and never loaded."""
    from datetime import datetime, timedelta, timezone

    from crossbridge_assets.defs.common import load_each

    settings, engine, landing = warehouse
    path = drop_report(settings, "shop/main/7/junit.xml", SUITE, {"project": "shop", "branch": "main", "build": "7"})
    assert landing.land(path, DAY, batch="b1").status == LANDED
    landing.reland_partition(DAY)  # the day run's landing step; its load never runs

    bad: list[dict] = []
    loaded = list(load_each(landing, DAY, KIND_RESULTS, "b1", lambda r: load_archived_results(engine, r), bad))
    assert [summary.rows for _, summary in loaded] == [40] and not bad
    assert day_totals(engine, DAY, KIND_RESULTS)["tests"] == 40
    assert health.counts_consistent(engine, now=datetime.now(timezone.utc) + timedelta(days=1)).passed
    healthy(engine)


# ---------------------------------------------------------------- a report taken aside by another run while one loads it


def test_a_report_quarantined_by_another_run_keeps_that_runs_reason(warehouse, monkeypatch):
    """Two runs load one broken report at once (a batch run and a whole-day run): the first
    finds it cut short and moves it to the quarantine; the second, finding its file gone from
    the archive, must leave it as the first recorded it, not quarantine it again as 'file not
    found' in place of the reason a user can act on."""
    from crossbridge_assets.defs.common import load_each
    from crossbridge_assets.warehouse import results

    settings, engine, landing = warehouse
    path = drop_report(settings, "shop/main/7/junit.xml", SUITE, {"project": "shop", "branch": "main", "build": "7"})
    landed = landing.land(path, DAY, batch="b1")

    gate = Gate("day-run")
    real = results.open_report

    def held(archive_path, *args, **kwargs):
        gate()  # its report's row read, its file not yet opened
        return real(archive_path, *args, **kwargs)

    monkeypatch.setattr(results, "open_report", held)
    bad: list[dict] = []
    day = Worker("day-run", lambda: list(load_each(
        landing, DAY, KIND_RESULTS, None, lambda r: load_archived_results(engine, r), bad)))
    day.start()
    gate.wait_reached()
    reason = "truncated: the file ends inside <testsuite> (line 40)"
    landing.quarantine_report(landed.sha256, reason)  # the batch run's verdict
    gate.open()
    assert day.outcome() == [] and bad == []

    with engine.connect() as conn:
        row = conn.execute(select(schema.reports.c.status, schema.reports.c.reason)).one()
    assert tuple(row) == ("quarantined", reason)
    stored = settings.quarantine / DAY / landed.sha256
    assert stored.is_file()
    assert json.loads(stored.with_name(stored.name + ".json").read_text())["reason"] == reason
    healthy(engine)
