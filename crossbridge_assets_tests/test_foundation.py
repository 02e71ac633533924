"""Unit tests for settings, logging, the inbox planner, run metadata and the warehouse engine."""

import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crossbridge_assets import settings
from crossbridge_assets.defs.landing import inbox
from crossbridge_assets.log import bound, configure, get_logger
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import LATEST, bulk_insert, is_transient, make_engine, migrate
from crossbridge_assets.warehouse.run_metadata import RunMetadata, from_inbox_path


# ---------------------------------------------------------------- settings

def test_settings_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = settings.load({})
    assert s.home == (tmp_path / ".crossbridge").resolve()
    assert s.inbox == s.home / "inbox" and s.archive == s.home / "archive" and s.quarantine == s.home / "quarantine"
    assert s.warehouse_url == f"sqlite:///{s.home / 'warehouse.db'}"
    assert not s.is_postgres


@pytest.mark.parametrize(
    "env, variable, expected",
    [
        ({"CROSSBRIDGE_WAREHOUSE_URL": "mysql://db/x"}, "CROSSBRIDGE_WAREHOUSE_URL", "postgresql+psycopg2://"),
        ({"CROSSBRIDGE_SETTLE_SECONDS": "soon"}, "CROSSBRIDGE_SETTLE_SECONDS", "whole number"),
        ({"CROSSBRIDGE_MAX_BATCH": "0"}, "CROSSBRIDGE_MAX_BATCH", "from 1"),
        ({"CROSSBRIDGE_PARTITION_START": "30/11/2026"}, "CROSSBRIDGE_PARTITION_START", "YYYY-MM-DD"),
        ({"CROSSBRIDGE_PARTITION_START": "2999-01-01"}, "CROSSBRIDGE_PARTITION_START", "after today"),
        ({"CROSSBRIDGE_LOG_FORMAT": "xml"}, "CROSSBRIDGE_LOG_FORMAT", "json"),
    ],
)
def test_wrong_settings_name_the_variable(env, variable, expected):
    with pytest.raises(settings.SettingsError) as info:
        settings.load(env)
    assert variable in str(info.value) and expected in str(info.value)


def test_plain_postgresql_scheme_gets_the_psycopg2_driver():
    s = settings.load({"CROSSBRIDGE_WAREHOUSE_URL": "postgresql://u:p@h:5432/d"})
    assert s.warehouse_url == "postgresql+psycopg2://u:p@h:5432/d" and s.is_postgres


def test_home_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(settings.SettingsError, match="CROSSBRIDGE_HOME"):
        settings.load({"CROSSBRIDGE_HOME": str(f)})


# ---------------------------------------------------------------- logging

def test_log_events_are_json_with_category_and_bound_context(capfd):
    configure(log_format="json", level="INFO", stderr_level="INFO")
    log = get_logger("persistence", report="a.xml")
    with bound(partition="2026-11-30", run_id="r1"):
        log.info("report landed", rows=3)
    # Other handlers (Dagster's, in a full run) may echo the event too: take our own JSON line.
    line = [l for l in capfd.readouterr().err.splitlines() if l.startswith("{") and "report landed" in l][-1]
    event = json.loads(line)
    assert event["category"] == "persistence" and event["report"] == "a.xml"
    assert event["partition"] == "2026-11-30" and event["run_id"] == "r1" and event["rows"] == 3
    assert event["level"] == "info" and "timestamp" in event


def test_console_rendering_is_readable(capfd):
    configure(log_format="console", level="INFO", stderr_level="INFO")
    get_logger("testing").info("results loaded", tests=5)
    err = capfd.readouterr().err
    ours = [l for l in err.splitlines() if "results loaded" in l and "dagster" not in l]
    assert ours and "tests=5" in ours[-1] and not ours[-1].startswith("{")
    configure(log_format="json", level="INFO")


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="performance"):
        get_logger("misc")


def test_events_reach_dagster_run_logs(crossbridge_env, tmp_path):
    """With the `crossbridge` logger managed (as both instance configurations do), events of an
    asset show up in the run's event log."""
    import dagster as dg

    from crossbridge_assets.definitions import defs

    with dg.instance_for_test(overrides={"python_logs": {"managed_python_loggers": ["crossbridge"]}}) as instance:
        job = defs.resolve_job_def("ingest")
        partition = time.strftime("%Y-%m-%d", time.gmtime())
        result = job.execute_in_process(partition_key=partition, instance=instance)
        assert result.success
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any('"category": "orchestration"' in m and "landing done" in m for m in messages)


# ---------------------------------------------------------------- inbox planner

def _write(path: Path, text="<testsuite/>", age=60.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    t = time.time() - age
    os.utime(path, (t, t))


def _settings(tmp_path, **extra):
    env = {"CROSSBRIDGE_HOME": str(tmp_path / "h"), "CROSSBRIDGE_SETTLE_SECONDS": "5", **extra}
    s = settings.load(env)
    s.ensure_folders()
    return s


def test_planner_waits_for_two_equal_scans_and_settle_time(tmp_path):
    s = _settings(tmp_path)
    _write(s.inbox / "p" / "b" / "1" / "a.xml")
    _write(s.inbox / "fresh.xml", age=0)
    first = inbox.plan(s, None)
    assert first.batches == [] and first.waiting == 2
    second = inbox.plan(s, first.cursor)
    assert [b.files for b in second.batches] == [["p/b/1/a.xml"]]
    assert second.waiting == 1  # fresh.xml is younger than the settle time


def test_planner_notices_a_file_still_growing(tmp_path):
    s = _settings(tmp_path)
    f = s.inbox / "big.xml"
    _write(f, "<testsuite>")
    first = inbox.plan(s, None)
    _write(f, "<testsuite><testcase/>")  # grew between ticks
    second = inbox.plan(s, first.cursor)
    assert second.batches == []
    third = inbox.plan(s, second.cursor)
    assert [b.files for b in third.batches] == [["big.xml"]]


def test_planner_is_safe_with_equal_mtimes_and_requests_once(tmp_path):
    s = _settings(tmp_path)
    for i in range(5):
        _write(s.inbox / f"r{i}.xml", age=100)
        os.utime(s.inbox / f"r{i}.xml", (1_700_000_000, 1_700_000_000))
    c = inbox.plan(s, None).cursor
    p = inbox.plan(s, c)
    assert sorted(f for b in p.batches for f in b.files) == [f"r{i}.xml" for i in range(5)]
    # A sixth file with the very same mtime arriving later is not skipped.
    _write(s.inbox / "r5.xml")
    os.utime(s.inbox / "r5.xml", (1_700_000_000, 1_700_000_000))
    p2 = inbox.plan(s, p.cursor)
    p3 = inbox.plan(s, p2.cursor)
    assert [b.files for b in p2.batches + p3.batches] == [["r5.xml"]]


def test_planner_ignores_manifests_partials_and_hidden(tmp_path):
    s = _settings(tmp_path)
    _write(s.inbox / "d" / "crossbridge.json", "{}")
    _write(s.inbox / "d" / "events.jsonl.part")
    _write(s.inbox / ".ingest-x" / "a.xml")
    _write(s.inbox / "d" / ".hidden.xml")
    assert inbox.scan(s.inbox) == {}


def test_stale_event_file_of_a_crashed_session_is_recovered(tmp_path):
    s = _settings(tmp_path, CROSSBRIDGE_STALE_PART_SECONDS="600")
    _write(s.inbox / "w" / "session-gw0.jsonl.part", '{"crossbridge_events": 1}\n', age=3600)
    _write(s.inbox / "w" / "live.jsonl.part", '{"crossbridge_events": 1}\n', age=10)
    assert inbox.recover_crashed_sessions(s) == ["w/session-gw0.crashed.jsonl"]
    assert sorted(inbox.scan(s.inbox)) == ["w/session-gw0.crashed.jsonl"]


def test_planner_batches_by_day_and_size_with_stable_keys(tmp_path):
    s = _settings(tmp_path, CROSSBRIDGE_MAX_BATCH="2", CROSSBRIDGE_PARTITION_START="2020-01-01")
    day1, day2 = 1_750_000_000, 1_750_000_000 + 86_400
    for i, t in enumerate([day1, day1, day1, day2]):
        _write(s.inbox / f"f{i}.xml")
        os.utime(s.inbox / f"f{i}.xml", (t, t))
    p = inbox.plan(s, inbox.plan(s, None).cursor)
    assert [(b.partition, len(b.files)) for b in p.batches] == [("2025-06-15", 2), ("2025-06-15", 1), ("2025-06-16", 1)]
    again = inbox.plan(s, inbox.plan(s, None).cursor)
    assert [b.run_key for b in again.batches] == [b.run_key for b in p.batches]


def test_planner_asks_again_for_a_batch_whose_run_never_landed_it(tmp_path):
    s = _settings(tmp_path)
    _write(s.inbox / "a.xml")
    p1 = inbox.plan(s, inbox.plan(s, None).cursor)
    key = p1.batches[0].run_key
    assert inbox.plan(s, p1.cursor).batches == []  # requested, waiting for its run
    later = time.time() + inbox.RETRY_AFTER_SECONDS + 1
    retry = inbox.plan(s, p1.cursor, now=later)
    assert len(retry.batches) == 1 and retry.batches[0].run_key != key


def test_arrival_partition_is_clamped(tmp_path):
    s = _settings(tmp_path, CROSSBRIDGE_PARTITION_START="2026-01-01")
    assert inbox.arrival_partition(0, s) == "2026-01-01"
    assert inbox.arrival_partition(int(4e18), s) == time.strftime("%Y-%m-%d", time.gmtime())


# ---------------------------------------------------------------- run metadata

@pytest.mark.parametrize(
    "rel, expected",
    [
        ("shop/main/42/junit.xml", ("shop", "main", "42")),
        ("shop/feature/login/42/junit.xml", ("shop", "feature/login", "42")),
        ("shop/main/junit.xml", ("shop", "main", None)),
        ("junit.xml", (None, None, None)),
    ],
)
def test_inbox_path_convention(rel, expected):
    m = from_inbox_path(Path(rel))
    assert (m.project, m.branch, m.build) == expected


def test_run_id_groups_shards_of_one_build():
    a = RunMetadata(project="p", branch="b", build="7", shard="1")
    b = RunMetadata(project="p", branch="b", build="7", shard="2")
    assert a.run_id("sha-a") == b.run_id("sha-b")
    assert RunMetadata().run_id("sha-a") != RunMetadata().run_id("sha-b")


# ---------------------------------------------------------------- warehouse engine

def test_migrations_are_forward_and_idempotent(crossbridge_env):
    engine = make_engine(crossbridge_env.warehouse_url)
    assert migrate(engine) == LATEST
    assert migrate(engine) == LATEST
    with engine.connect() as conn:
        versions = [r.version for r in conn.execute(select(schema.schema_version))]
    assert versions == list(range(1, LATEST + 1))


def test_bulk_insert_round_trips_awkward_text(crossbridge_env):
    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    awkward = 'quote " comma , newline \n backslash \\N tab \t nul \x00 unicode é'
    rows = [
        dict(report_sha256="r", seq=i, attempt=1, status="failed", duration=0.5, message=awkward if i else None,
             failure_type="", stack_trace=None, stdout=None, stderr=None, stdout_size=0, stderr_size=0)
        for i in range(3)
    ]
    with engine.begin() as conn:
        assert bulk_insert(conn, schema.test_attempts, rows) == 3
    with engine.connect() as conn:
        got = {r.seq: r for r in conn.execute(select(schema.test_attempts))}
    assert got[0].message is None
    assert got[1].message == awkward.replace("\x00", "")
    assert got[1].failure_type == ""  # empty string stays empty, not NULL


def test_bulk_insert_fills_whole_statements_and_the_rest(crossbridge_env):
    """Several hundred rows: statements of ROWS_PER_STATEMENT rows, then a remainder row by row."""
    from crossbridge_assets.warehouse.engine import ROWS_PER_STATEMENT

    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    n = 2 * ROWS_PER_STATEMENT + 37
    rows = [dict(report_sha256="r", seq=i, attempt=1, status="passed", duration=i / 8, message=f"m{i}",
                 failure_type=None, stack_trace=None, stdout=None, stderr=None, stdout_size=i, stderr_size=0)
            for i in range(n)]
    with engine.begin() as conn:
        assert bulk_insert(conn, schema.test_attempts, rows) == n
    with engine.connect() as conn:
        got = conn.execute(select(schema.test_attempts.c.seq, schema.test_attempts.c.duration,
                                  schema.test_attempts.c.message, schema.test_attempts.c.stdout_size)
                           .order_by(schema.test_attempts.c.seq)).all()
    assert [tuple(r) for r in got] == [(i, i / 8, f"m{i}", i) for i in range(n)]


def test_a_new_sqlite_warehouse_gets_large_pages_and_an_older_one_keeps_its_own(tmp_path):
    import sqlite3

    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA page_size")).scalar_one() == 16384
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    older = tmp_path / "older.db"
    with sqlite3.connect(older) as raw:  # made with the default pages, as before
        raw.execute("CREATE TABLE t (x)")
    engine = make_engine(f"sqlite:///{older}")
    assert migrate(engine) == LATEST
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA page_size")).scalar_one() == 4096
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_transient_faults_are_told_apart():
    from sqlalchemy.exc import IntegrityError, OperationalError

    assert is_transient(OperationalError("x", {}, Exception("database is locked")))
    assert is_transient(OperationalError("x", {}, Exception("could not connect to server: Connection refused")))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(IntegrityError("x", {}, Exception("duplicate key")))
    assert not is_transient(ValueError("bad"))


def test_migration_6_adds_the_run_time_and_properties_columns_to_an_older_warehouse(crossbridge_env):
    from sqlalchemy import inspect, text

    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    with engine.begin() as conn:  # the reports table as schema version 5 had it
        conn.execute(text("ALTER TABLE reports DROP COLUMN duration"))
        conn.execute(text("ALTER TABLE reports DROP COLUMN properties"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 6"))
    assert not {"duration", "properties"} & {c["name"] for c in inspect(engine).get_columns("reports")}
    assert migrate(engine) == LATEST
    columns = {c["name"] for c in inspect(make_engine(crossbridge_env.warehouse_url)).get_columns("reports")}
    assert {"duration", "properties"} <= columns
