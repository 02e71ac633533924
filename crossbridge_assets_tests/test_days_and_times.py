"""Days, times and time zones as teams around the world meet them: report times written in the
writer's local time, a run whose reports arrive on two days, retention at a day boundary, a file
landing on the stroke of midnight, runs that say no start time."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone

from sqlalchemy import select

from crossbridge_assets.defs.landing.inbox import arrival_partition
from crossbridge_assets.settings import load as load_settings
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.insights import result_frame
from crossbridge_assets.warehouse.queries import run_summaries
from crossbridge_assets.warehouse.results import load_archived_results
from crossbridge_assets.warehouse.retention import apply_retention
from crossbridge_assets_tests.insights_helpers import History, junit


def _aggregate(engine, run_id: str):
    A = schema.run_aggregates
    with engine.connect() as conn:
        return conn.execute(select(A.c.tests, A.c.reports).where(A.c.run_id == run_id)).one()


def test_a_run_whose_shards_arrived_on_two_days_keeps_its_whole_aggregate_after_retention(crossbridge_env):
    # Shard 1 of build 7 arrived late on 2026-10-31, shard 2 just after midnight UTC: one run,
    # two arrival days. Retention that reaches the first day but not the second must not leave
    # the run counted as its second shard alone once the next sweep comes.
    history = History(crossbridge_env)
    run = history.run("7", junit({"test_a": "passed", "test_b": "failed"}), day="2026-10-31", name="shard1.xml")
    assert history.run("7", junit({"test_c": "passed"}, suite="tests.test_cart"), day="2026-11-01",
                       name="shard2.xml") == run
    today = date(2026, 11, 8)
    first = apply_retention(crossbridge_env, history.engine, 7, today=today)
    assert first.cutoff == "2026-11-01" and first.reports_expired == 1
    assert tuple(_aggregate(history.engine, run)) == (3, 2)
    apply_retention(crossbridge_env, history.engine, 7, today=today)  # the next Sunday's sweep, same cutoff
    assert tuple(_aggregate(history.engine, run)) == (3, 2)


def test_a_file_written_in_the_last_nanoseconds_of_a_day_belongs_to_that_day(crossbridge_env, tmp_path):
    # ext4 and tmpfs keep nanoseconds: 23:59:59.9999999 is still the old day (and the old year).
    settings = load_settings()
    path = tmp_path / "late.xml"
    path.write_text("<testsuite/>")
    midnight = int(datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp()) * 10**9
    os.utime(path, ns=(midnight - 100, midnight - 100))
    mtime = path.stat().st_mtime_ns
    assert mtime == midnight - 100
    assert arrival_partition(mtime, settings, today=date(2027, 1, 5)) == "2026-12-31"
    os.utime(path, ns=(midnight, midnight))
    assert arrival_partition(path.stat().st_mtime_ns, settings, today=date(2027, 1, 5)) == "2027-01-01"


def _arrived(history: History, build: str, xml: str, when: datetime) -> None:
    """Land build `build` as a file whose mtime is `when`, in the day it arrived, without loading it."""
    folder = history.settings.inbox / "shop" / "main" / build
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    os.utime(path, (when.timestamp(), when.timestamp()))
    assert history.landing.land(path, when.date().isoformat()) is not None


def _load_all(history: History, builds: list[str]) -> None:
    R = schema.reports
    with history.engine.connect() as conn:
        rows = {r.build: r for r in conn.execute(select(R))}
    for build in builds:
        load_archived_results(history.engine, rows[build])


def test_runs_that_say_no_start_time_are_ordered_by_arrival_not_by_when_they_were_loaded(crossbridge_env):
    # Build 1 arrived on Monday, build 2 on Tuesday; neither report says when it started (a
    # JUnit file without timestamp). Monday's ingestion failed and was re-run after Tuesday's,
    # or the warehouse was rebuilt from the archive a day at a time in another order.
    history = History(crossbridge_env)
    _arrived(history, "1", junit({"test_a": "failed"}), datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc))
    _arrived(history, "2", junit({"test_a": "passed"}), datetime(2026, 11, 24, 21, 0, tzinfo=timezone.utc))
    _load_all(history, ["2", "1"])
    latest, previous = run_summaries(history.engine, project="shop")
    assert (latest["build"], previous["build"]) == ("2", "1")
    frame = result_frame(history.engine)
    newest = frame.sort_values("run_time").iloc[-1]
    assert newest["build"] == "2" and newest["status"] == "passed"
