"""Days, times and time zones as teams around the world meet them: report times written in the
writer's local time, a run whose reports arrive on two days, retention at a day boundary, a file
landing on the stroke of midnight, runs that say no start time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, text

from crossbridge_assets import ops_settings
from crossbridge_assets.cli import main
from crossbridge_assets.defs.landing.inbox import arrival_partition
from crossbridge_assets.settings import load as load_settings
from crossbridge_assets.warehouse import health, schema
from crossbridge_assets.warehouse.coverage import load_archived_coverage, refresh_runs
from crossbridge_assets.warehouse.insights import result_frame
from crossbridge_assets.warehouse.landing import LANDED, QUARANTINED
from crossbridge_assets.warehouse.queries import run_summaries
from crossbridge_assets.warehouse.results import load_archived_results
from crossbridge_assets.warehouse.retention import apply_retention
from crossbridge_assets_tests.insights_helpers import History, junit
from crossbridge_assets_tests.test_health_checks import DAY, drop, engine_of, ingest


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


# ---------------------------------------------------------------- times a report writes without a zone


def _drop(settings, build: str, files: dict[str, str | Path], manifest: dict) -> list[Path]:
    folder = settings.inbox / "shop" / "main" / build
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main", "build": build, **manifest}))
    out = []
    for name, content in files.items():
        target = folder / name
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_text(content, encoding="utf-8")
        out.append(target)
    return out


def _land_and_load(history: History, paths: list[Path]) -> dict[str, object]:
    """Land and load the files; returns the start time of each build's report (the run's, when
    a test report says it) by build."""
    day = datetime.now(timezone.utc).date().isoformat()
    for path in paths:
        landed = history.landing.land(path, day)
        assert landed is not None and landed.status == LANDED, landed
    R, T = schema.reports, schema.test_runs
    with history.engine.connect() as conn:
        for report in conn.execute(select(R).where(R.c.loaded_at.is_(None))).all():
            (load_archived_coverage if report.kind == "coverage" else load_archived_results)(history.engine, report)
        starts = {r.build: _utc(r.started_at) for r in conn.execute(select(R.c.build, R.c.started_at))}
        runs = {r.build: _utc(r.started_at) for r in conn.execute(select(T.c.build, T.c.started_at))}
    assert all(runs[b] in (None, starts[b]) for b in runs)
    return starts


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _robot_output(tmp_path: Path, zone: str) -> Path:
    """output.xml written by Robot Framework on a machine whose clock is set to `zone`."""
    suite = tmp_path / f"checkout-{zone.replace('/', '-')}.robot"
    suite.write_text("*** Test Cases ***\nChecks Out\n    Log    paid\n", encoding="utf-8")
    output = tmp_path / f"output-{zone.replace('/', '-')}.xml"
    subprocess.run([str(Path(sys.executable).with_name("robot")), "--output", str(output), "--log", "NONE",
                    "--report", "NONE", str(suite)], env={**os.environ, "TZ": zone}, check=True, capture_output=True)
    return output


def test_robot_output_written_in_tokyo_is_read_in_the_zone_its_manifest_names(crossbridge_env, tmp_path):
    # Robot Framework writes its times in the machine's local time with no zone (RF 7:
    # start="2026-12-01T08:52:13.336670" at 23:52 UTC in Tokyo). Read as UTC, the run started nine
    # hours after it did: after its report had arrived, and after runs of other teams that followed it.
    history = History(crossbridge_env)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    output = _robot_output(tmp_path, "Asia/Tokyo")
    after = datetime.now(timezone.utc)
    starts = _land_and_load(history, _drop(crossbridge_env, "told", {"output.xml": output}, {"timezone": "Asia/Tokyo"})
                            + _drop(crossbridge_env, "untold", {"output.xml": output}, {}))
    assert before <= starts["told"] <= after
    # A drop that does not say is read as UTC, as before: nine hours ahead, after the file
    # arrived, which cannot be. The report says so, and what to do.
    assert starts["untold"] - starts["told"] == timedelta(hours=9)
    R = schema.reports
    with history.engine.connect() as conn:
        warnings = {b: json.loads(w) if w else [] for b, w in conn.execute(select(R.c.build, R.c.warnings))}
    assert warnings["told"] == []
    [warning] = warnings["untold"]
    assert "no time zone" in warning and "ends 9.0 h after the file arrived" in warning and "'timezone'" in warning


def test_coverage_json_written_in_new_york_is_read_in_the_zone_its_manifest_names(crossbridge_env, tmp_path):
    # coverage.py's JSON "timestamp" is local time without a zone (its XML's is epoch milliseconds).
    (tmp_path / "cart.py").write_text("def total(items):\n    return sum(items)\n")
    (tmp_path / "test_cart.py").write_text("import cart\n\ndef test_total():\n    assert cart.total([1, 2]) == 3\n")
    env = {**os.environ, "TZ": "America/New_York", "COVERAGE_FILE": str(tmp_path / ".coverage")}
    coverage = str(Path(sys.executable).with_name("coverage"))
    before = datetime.now(timezone.utc).replace(microsecond=0)
    subprocess.run([coverage, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_cart.py"], cwd=tmp_path,
                   env=env, check=True, capture_output=True)
    subprocess.run([coverage, "json", "-o", "coverage.json"], cwd=tmp_path, env=env, check=True, capture_output=True)
    after = datetime.now(timezone.utc)
    history = History(crossbridge_env)
    starts = _land_and_load(history, _drop(crossbridge_env, "9", {"coverage.json": tmp_path / "coverage.json"},
                                           {"timezone": "America/New_York"}))
    assert before <= starts["9"] <= after


def _pytest_junit(timestamp: str) -> str:
    # pytest 4.6.8 to 8.2: the session's start as datetime.fromtimestamp(...).isoformat(), the
    # machine's local time without a zone (8.3 adds the offset; Ant and Gradle write UTC).
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" '
            f'skipped="0" tests="1" time="0.012" timestamp="{timestamp}" hostname="ci-7">'
            '<testcase classname="tests.test_cart" name="test_total" time="0.001" /></testsuite></testsuites>')


def test_a_local_time_on_a_day_the_clocks_change_is_placed_by_the_zone_rules(crossbridge_env):
    # Berlin's nightly at 01:30 on the last Sunday of October (summer time ends at 03:00) and of
    # March (it begins at 02:00): 23:30 and 00:30 UTC, one hour apart although both read 01:30.
    # New York's 01:30 on 1 November 2026 happens twice: the first pass (EDT) is taken.
    history = History(crossbridge_env)
    paths = []
    for build, stamp, zone in [("oct", "2026-10-25T01:30:00", "Europe/Berlin"), ("mar", "2026-03-29T01:30:00", "Europe/Berlin"),
                               ("nov", "2026-11-01T01:30:00", "America/New_York"), ("fixed", "2026-11-01T01:30:00", "+05:30")]:
        paths += _drop(crossbridge_env, build, {"junit.xml": _pytest_junit(stamp + ".000000")}, {"timezone": zone})
    starts = _land_and_load(history, paths)
    assert starts["oct"] == datetime(2026, 10, 24, 23, 30, tzinfo=timezone.utc)
    assert starts["mar"] == datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    assert starts["nov"] == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)
    assert starts["fixed"] == datetime(2026, 10, 31, 20, 0, tzinfo=timezone.utc)


def test_a_manifest_start_time_without_a_zone_is_in_the_manifest_timezone_and_a_wrong_zone_is_refused(crossbridge_env):
    history = History(crossbridge_env)
    good = _drop(crossbridge_env, "11", {"a.xml": _pytest_junit("2026-07-01T09:00:00")},
                 {"timezone": "America/Sao_Paulo", "started_at": "2026-07-01T08:58:00"})
    assert _land_and_load(history, good)["11"] == datetime(2026, 7, 1, 11, 58, tzinfo=timezone.utc)
    bad = _drop(crossbridge_env, "12", {"b.xml": _pytest_junit("2026-07-01T09:00:00")}, {"timezone": "CEST"})
    landed = history.landing.land(bad[0], "2026-07-01")
    assert landed.status == QUARANTINED and "timezone='CEST' is not a time zone" in landed.reason


def test_crossbridge_ingest_takes_the_zone_of_the_reports(crossbridge_env, capsys, monkeypatch, tmp_path):
    # `crossbridge ingest` writes the drop's manifest: --timezone goes in it, through the real
    # ingest job on a Dagster instance.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    before = datetime.now(timezone.utc).replace(microsecond=0)
    output = _robot_output(tmp_path, "Australia/Sydney")
    after = datetime.now(timezone.utc)
    assert main(["ingest", "--project", "shop", "--build", "21", "--timezone", "Australia/Sydney", str(output)]) == 0
    assert main(["ingest", "--project", "shop", "--build", "22", "--timezone", "Sydney", str(output)]) == 2
    assert "--timezone 'Sydney': not a time zone" in capsys.readouterr().err
    R = schema.reports
    history = History(crossbridge_env)
    with history.engine.connect() as conn:
        (started,) = conn.execute(select(R.c.started_at).where(R.c.build == "21")).one()
    assert before <= _utc(started) <= after


# ---------------------------------------------------------------- an agent's clock ahead


def test_a_report_from_an_agent_whose_clock_is_days_ahead_arrived_when_it_was_landed(crossbridge_env, dagster_instance):
    # The agent's clock is three days ahead: its files' mtimes are in the future. The day is
    # today's (no partition exists for a day to come); the arrival must be now too, or the file
    # counts in "the last 24 hours" for four days and a run without a start time sorts after
    # every run sent in those days.
    s = crossbridge_env
    ahead = drop(s, "shop/main/31/broken.xml", text="<testsuite><testcase", age_seconds=-3 * DAY)
    fine = drop(s, "shop/main/31/junit.xml", text=junit({"test_a": "passed"}), age_seconds=-3 * DAY)
    before = datetime.now(timezone.utc)
    [day] = ingest(s, dagster_instance, [ahead, fine])
    after = datetime.now(timezone.utc)
    assert day == before.date().isoformat() or day == after.date().isoformat()
    engine = engine_of(s)
    R, T = schema.reports, schema.test_runs
    with engine.connect() as conn:
        arrivals = [_utc(a) for (a,) in conn.execute(select(R.c.arrived_at))]
        (created,) = conn.execute(select(T.c.created_at)).one()
    assert len(arrivals) == 2 and all(before - timedelta(seconds=1) <= a <= after for a in arrivals)
    assert _utc(created) <= after
    two_days_on = after + timedelta(days=2)
    assert health.parse_error_rate(engine, 0.05, now=two_days_on).figures["reports"] == 0
    arriving = health.reports_arriving(engine, ops_settings.OpsSettings(cadence={"shop": timedelta(hours=1)}))
    [row] = arriving.rows
    assert arriving.passed and row["status"] == "ok" and not row["silent_for"].startswith("-"), row


# ---------------------------------------------------------------- SQLite and PostgreSQL alike


def test_times_read_back_the_same_from_sqlite_and_from_postgresql_in_another_zone(crossbridge_env, capsys):
    # initdb gives a PostgreSQL server its machine's zone: a Tokyo server's sessions read and
    # write times without an offset in Asia/Tokyo. SQLite hands back times without an offset.
    engine = History(crossbridge_env).engine
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{engine.url.database}" SET timezone TO \'Asia/Tokyo\''))
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar() == "Asia/Tokyo"
    history = History(crossbridge_env)
    history.run("41", junit({"test_a": "passed"}), started_at="2026-11-30T09:00:00+00:00")
    T = schema.test_runs
    with history.engine.begin() as conn:
        # A time without an offset is UTC in the warehouse, whichever database takes it.
        conn.execute(T.update().where(T.c.build == "41").values(created_at=datetime(2026, 11, 30, 8, 0)))
        started, created = conn.execute(select(T.c.started_at, T.c.created_at)).one()
    assert started == datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc) and started.utcoffset() == timedelta(0)
    assert created == datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    [run] = run_summaries(history.engine, project="shop")
    assert run["started_at"] == "2026-11-30T09:00:00+00:00" and run["created_at"] == "2026-11-30T08:00:00+00:00"
    assert main(["summary"]) == 0
    assert "2026-11-30 09:00" in capsys.readouterr().out


def _lcov(lines: dict[int, int]) -> str:
    return "SF:src/shop/cart.py\n" + "".join(f"DA:{n},{hits}\n" for n, hits in lines.items()) + "end_of_record\n"


def test_coverage_of_a_run_outlives_retention_whole_and_when_its_shards_arrived_on_two_days(crossbridge_env):
    # Run 5's coverage came whole on 2026-10-20; run 6's two shards on 2026-10-31 and, after
    # midnight, 2026-11-01. Retention keeps run-level figures: a sweep to 2026-11-01 must leave
    # both runs' coverage as it was, not drop run 5 and halve run 6.
    history = History(crossbridge_env)
    drops = [("5", "all", "2026-10-20", {1: 1, 2: 1, 3: 0, 4: 0}, None),
             ("6", "1", "2026-10-31", {1: 1, 2: 0, 3: 0, 4: 0}, 2), ("6", "2", "2026-11-01", {1: 0, 2: 1, 3: 1, 4: 0}, 2)]
    for build, shard, day, lines, expected in drops:
        folder = crossbridge_env.inbox / "shop" / "main" / build / shard
        manifest = {"project": "shop", "branch": "main", "build": build, "shard": shard}
        if expected:
            manifest["shards_expected"] = expected
        [path] = _drop(crossbridge_env, f"{build}/{shard}", {"coverage.info": _lcov(lines)}, manifest)
        assert folder == path.parent
        landed = history.landing.land(path, day)
        assert landed is not None and landed.status == LANDED, landed
    R, CR = schema.reports, schema.coverage_runs
    with history.engine.connect() as conn:
        for report in conn.execute(select(R)).all():
            load_archived_coverage(history.engine, report)
    refresh_runs(history.engine)

    def figures():
        with history.engine.connect() as conn:
            return {r.build: (r.line_pct, r.shards_seen, r.complete) for r in conn.execute(select(CR))}

    before = figures()
    assert before == {"5": (50.0, 1, True), "6": (75.0, 2, True)}
    report = apply_retention(crossbridge_env, history.engine, 7, today=date(2026, 11, 8))
    assert report.reports_expired == 2
    refresh_runs(history.engine)
    assert figures() == before


def test_every_arrival_day_is_a_partition_dagster_has_at_that_moment(crossbridge_env):
    # The sensor asks for the arrival day's partition at the moment it plans: the stroke of
    # midnight, a leap day, New Year, the first day of CROSSBRIDGE_PARTITION_START, a file older
    # than it (kept in the first day) and one from a clock ahead (kept in today).
    from crossbridge_assets.defs.common import daily

    settings = load_settings()
    assert settings.partition_start == daily.start.date().isoformat()
    start = datetime.fromisoformat(settings.partition_start).replace(tzinfo=timezone.utc)
    cases = [
        (datetime(2027, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc), "2027-01-01"),
        (datetime(2028, 2, 29, 23, 59, 59, tzinfo=timezone.utc), datetime(2028, 2, 29, 23, 59, 59, tzinfo=timezone.utc),
         "2028-02-29"),
        (start, start, settings.partition_start),
        (start - timedelta(days=40), start + timedelta(hours=3), settings.partition_start),
        (datetime(2027, 1, 4, 9, tzinfo=timezone.utc), datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc), "2026-12-31"),
    ]
    for written, planned, expected in cases:
        mtime = int(written.timestamp()) * 10**9
        day = arrival_partition(mtime, settings, today=planned.date())
        assert day == expected, (written, planned)
        assert day in daily.get_partition_keys(current_time=planned), (written, planned)
