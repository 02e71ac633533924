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
