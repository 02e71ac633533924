"""Profiling in the warehouse: loading event files with their outbox rows, the outbox drain
with a scripted client, line protocol and InfluxDB settings. SQLite and PostgreSQL."""

import json
import os
import random
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, inspect, select, text

from crossbridge_assets.delivery import influx
from crossbridge_assets.delivery.line_protocol import parse_line, span_line, tag_value, timestamp_ns
from crossbridge_assets.delivery.outbox import backlog, drain, pending_points, retry_rejected
from crossbridge_assets.formats import FormatError, open_report
from crossbridge_assets.model import Span
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import LATEST, MIGRATIONS, make_engine, migrate
from crossbridge_assets.warehouse.profiling import load_profile, span_frame

from crossbridge_assets_tests.influx_helpers import land, write_events

T0 = 1_790_000_000.0


def spans(n: int, kind: str = "test", t0: float = T0) -> list[dict]:
    return [dict(kind=kind, name=f"tests/test_a.py::test_{i}", start=t0 + i, duration=0.01 * (i + 1),
                 status="passed", test=f"id{i}", attributes={"nodeid": f"tests/test_a.py::test_{i}"})
            for i in range(n)]


def count(engine, table, **where) -> int:
    stmt = select(func.count()).select_from(table)
    for k, v in where.items():
        stmt = stmt.where(table.c[k] == v)
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def test_spans_and_outbox_rows_are_written_together_and_reloads_are_idempotent(crossbridge_env, tmp_path):
    s = crossbridge_env
    path = write_events(tmp_path / "out", spans(7) + [dict(kind="http", name="GET api/users/{id}", start=T0 + 3,
                                                          duration=0.2, status="200")])
    report = land(s, path)
    engine = make_engine(s.warehouse_url)
    summary = load_profile(engine, report, open_report(report.archive_path))
    assert summary.spans == 8 and summary.outbox_rows == 8
    assert summary.by_kind == {"test": 7, "http": 1} and summary.complete is True
    assert [s[2] for s in summary.slowest[:2]] == ["GET api/users/{id}", "tests/test_a.py::test_6"]
    assert count(engine, schema.profile_events) == 8
    assert count(engine, schema.profile_outbox) == 1, "the file's spans are queued as one range"
    assert backlog(engine).pending == 8
    S = schema.profile_sources
    with engine.connect() as conn:
        row = conn.execute(select(schema.profile_events).where(schema.profile_events.c.seq == 0)).one()
        source = conn.execute(select(S).where(S.c.id == row.source_id)).one()
        totals = json.loads(conn.execute(select(schema.reports.c.totals)).scalar_one())
    assert row.kind == "test" and row.test_id == "id0" and source.report_sha256 == report.sha256
    assert json.loads(row.attributes) == {"nodeid": "tests/test_a.py::test_0"}
    assert abs(row.duration - 0.01) < 1e-9
    assert totals["spans"] == 8
    # The spans' run and day are the report's.
    frame = span_frame(engine)
    assert len(frame) == 8 and set(frame.run_id) == {report.run_id}

    # Mark everything delivered, load again: no duplicate and nothing to send again.
    with engine.begin() as conn:
        conn.execute(schema.profile_outbox.update().values(delivered_at=datetime.now(timezone.utc)))
    again = load_profile(engine, report, open_report(report.archive_path))
    assert again.kept_delivered == 8
    assert count(engine, schema.profile_events) == 8
    with engine.connect() as conn:
        assert set(conn.execute(select(schema.profile_events.c.source_id)).scalars()) == {source.id}, \
            "a reload keeps the report's key"
    assert count(engine, S) == 1
    assert backlog(engine).pending == 0 and backlog(engine).delivered == 8

    # Without InfluxDB configured there is no outbox to fill.
    load_profile(engine, report, open_report(report.archive_path), outbox=False)
    assert count(engine, schema.profile_outbox) == 0 and count(engine, schema.profile_events) == 8


def test_quarantine_and_retention_remove_a_reports_spans_and_no_others(crossbridge_env, tmp_path):
    """Spans are reached through their report's key: quarantining one report, then expiring
    another, deletes exactly their spans and outbox rows; the row checks see no orphan and
    no duplicate, also narrowed to a day."""
    from crossbridge_assets.warehouse.health import counts_consistent, duplicate_keys
    from crossbridge_assets.warehouse.landing import Landing
    from crossbridge_assets.warehouse.retention import apply_retention

    s = crossbridge_env
    engine = make_engine(s.warehouse_url)
    old = land(s, write_events(tmp_path / "a", spans(3)), partition="2026-11-01")
    kept = land(s, write_events(tmp_path / "b", spans(4)), partition="2026-11-30")
    bad = land(s, write_events(tmp_path / "c", spans(5)), partition="2026-11-30")
    for report in (old, kept, bad):
        load_profile(engine, report, open_report(report.archive_path))
    E, O = schema.profile_events, schema.profile_outbox

    def spans_of(report) -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(E).where(schema.report_rows(E, [report.sha256]))
                                ).scalar_one()

    assert [spans_of(r) for r in (old, kept, bad)] == [3, 4, 5]
    assert duplicate_keys(engine, ["profile_events"], partition="2026-11-30").passed
    Landing(s, engine).quarantine_report(bad.sha256, "a test's reason")
    assert [spans_of(r) for r in (old, kept, bad)] == [3, 4, 0]
    assert count(engine, schema.profile_sources, report_sha256=bad.sha256) == 0
    assert count(engine, O, report_sha256=bad.sha256) == 0
    assert counts_consistent(engine).figures.get("orphan_rows", 0) == 0

    swept = apply_retention(s, engine, days=10, today=datetime(2026, 11, 30, tzinfo=timezone.utc).date())
    assert swept.rows_deleted["profile_events"] == 3 and swept.rows_deleted["profile_outbox"] == 1
    assert [spans_of(r) for r in (old, kept, bad)] == [0, 4, 0]
    assert count(engine, E) == 4 and count(engine, O) == 1 and count(engine, schema.profile_sources) == 1
    finding = counts_consistent(engine)
    assert not [r for r in finding.rows if "profile" in r["problem"]], finding.rows


def test_a_file_that_fails_mid_way_leaves_neither_spans_nor_outbox_rows(crossbridge_env, tmp_path):
    s = crossbridge_env
    path = write_events(tmp_path / "out", spans(5))
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "{broken json\n")  # a complete line that is not JSON: a permanent parse error
    path.write_text("".join(lines))
    report = land(s, path)
    engine = make_engine(s.warehouse_url)
    with pytest.raises(FormatError, match="line 4 is not valid JSON"):
        load_profile(engine, report, open_report(report.archive_path))
    assert count(engine, schema.profile_events) == 0 and count(engine, schema.profile_outbox) == 0


def test_truncated_last_line_keeps_the_spans_before_it_with_a_warning(crossbridge_env, tmp_path):
    s = crossbridge_env
    part = write_events(tmp_path / "out", spans(4), close=False)
    with open(part, "a") as fh:
        fh.write('{"kind":"test","name":"cut off","sta')  # the runner died mid-write
    final = part.with_name(part.name.removesuffix(".part"))
    part.rename(final)
    report = land(s, final)
    engine = make_engine(s.warehouse_url)
    summary = load_profile(engine, report, open_report(report.archive_path))
    assert summary.spans == 4 and summary.complete is False
    assert any("truncated" in w for w in summary.warnings)
    assert any("no end line" in w for w in summary.warnings)
    with engine.connect() as conn:
        warnings = json.loads(conn.execute(select(schema.reports.c.warnings)).scalar_one())
    assert any("truncated" in w for w in warnings)


def test_points_carry_the_run_metadata_landing_read_from_the_event_header(crossbridge_env, tmp_path):
    s = crossbridge_env
    path = write_events(tmp_path / "out", spans(2), env={"CROSSBRIDGE_PROJECT": "shop", "CROSSBRIDGE_BRANCH": "main",
                                                          "CROSSBRIDGE_BUILD": "77"})
    report = land(s, path)
    engine = make_engine(s.warehouse_url)
    summary = load_profile(engine, report, open_report(report.archive_path))
    assert (summary.project, summary.branch) == ("shop", "main")
    with engine.connect() as conn:
        row = conn.execute(select(schema.reports)).one()
    run_ids = set(span_frame(engine).run_id)
    line = pending_points(engine, 1)[0].line
    assert (row.project, row.branch, row.build) == ("shop", "main", "77")
    assert run_ids == {row.run_id}
    assert "project=shop" in line and "branch=main" in line and 'build="77"' in line


def test_empty_optional_text_is_null_in_both_warehouses(crossbridge_env, tmp_path):
    s = crossbridge_env
    rows = spans(2)
    rows[0].update(status="", test="")
    report = land(s, write_events(tmp_path / "out", rows))
    engine = make_engine(s.warehouse_url)
    load_profile(engine, report, open_report(report.archive_path))
    E = schema.profile_events
    with engine.connect() as conn:
        got = conn.execute(select(E.c.status, E.c.test_id, E.c.attributes).order_by(E.c.seq)).all()
    assert got[0][:2] == (None, None) and got[1][:2] == ("passed", "id1")
    assert json.loads(got[0][2]) == {"nodeid": "tests/test_a.py::test_0"}


def _tables_of_version_4(conn, dialect: str) -> None:
    """profile_events and profile_outbox as schema version 4 made them."""
    ts = "DATETIME" if dialect == "sqlite" else "TIMESTAMP WITH TIME ZONE"
    conn.execute(text("DROP TABLE profile_outbox"))
    conn.execute(text("DROP TABLE profile_events"))
    conn.execute(text(
        "CREATE TABLE profile_events (report_sha256 VARCHAR(64) NOT NULL, seq INTEGER NOT NULL, run_id VARCHAR(40) "
        f"NOT NULL, test_id TEXT, kind VARCHAR(32) NOT NULL, name TEXT NOT NULL, start {ts} NOT NULL, duration "
        "FLOAT NOT NULL, status VARCHAR(16), attributes TEXT, span_id VARCHAR(64), parent_id VARCHAR(64), "
        "partition VARCHAR(10) NOT NULL, PRIMARY KEY (report_sha256, seq))"))
    conn.execute(text("CREATE INDEX ix_profile_events_start ON profile_events (start)"))
    conn.execute(text(
        "CREATE TABLE profile_outbox (report_sha256 VARCHAR(64) NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL, "
        f"created_at {ts} NOT NULL, attempts INTEGER NOT NULL, last_error TEXT, last_attempt_at {ts}, "
        f"rejected_at {ts}, delivered_at {ts}, PRIMARY KEY (report_sha256, seq))"))
    conn.execute(text("CREATE INDEX ix_profile_outbox_pending ON profile_outbox (delivered_at, rejected_at, "
                      "created_at, report_sha256, seq)"))
    conn.execute(text("DELETE FROM schema_version WHERE version >= 5"))


def test_migration_5_turns_the_per_span_outbox_into_ranges(crossbridge_env):
    """A warehouse at version 4 (one outbox row a span, rendered line, indexed profile_events)
    keeps every point's state across migration 5 and delivers the same points afterwards."""
    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    sha = "c" * 64
    line = ('crossbridge_span,branch=main,framework=pytest,kind=test,project=my\\ shop,span_name=t{i},status=passed '
            'duration_ms=10.0,span_key="cccccccccccccccc:{i}",run_id="run1",build="7",session="s\\"1" {ns}')
    with engine.begin() as conn:
        _tables_of_version_4(conn, engine.dialect.name)
        conn.execute(schema.reports.insert().values(
            sha256=sha, original_name="e.jsonl", kind="profiling", size=1, arrived_at=datetime.now(timezone.utc),
            partition="2026-11-30", status="landed", project="my shop", branch="main", build="7", run_id="run1"))
        for i in range(6):
            conn.execute(text(
                "INSERT INTO profile_events VALUES (:sha, :i, 'run1', NULL, 'test', :name, '2026-11-30 01:00:00+00:00', "
                "0.01, 'passed', NULL, NULL, NULL, '2026-11-30')"), {"sha": sha, "i": i, "name": f"t{i}"})
            state = {0: "delivered", 1: "delivered", 4: "rejected"}.get(i)
            conn.execute(text(
                "INSERT INTO profile_outbox VALUES (:sha, :i, :line, '2026-11-30 01:00:00', :attempts, :error, NULL, "
                ":rejected, :delivered)"),
                {"sha": sha, "i": i, "line": line.format(i=i, ns=1796000400000000000 + i), "attempts": 1 if state else 0,
                 "error": "refused" if state == "rejected" else None,
                 "rejected": "2026-11-30 02:00:00" if state == "rejected" else None,
                 "delivered": "2026-11-30 02:00:00" if state == "delivered" else None})
    assert migrate(engine) == LATEST
    O = schema.profile_outbox
    with engine.connect() as conn:
        ranges = conn.execute(select(O.c.first_seq, O.c.last_seq, O.c.delivered_at.is_not(None),
                                     O.c.rejected_at.is_not(None), O.c.context).order_by(O.c.first_seq)).all()
        if engine.dialect.name == "sqlite":
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'profile_events'")).scalar()
            assert "WITHOUT ROWID" in ddl.upper()
        assert conn.execute(select(func.count()).select_from(schema.profile_events)).scalar_one() == 6
    assert inspect(engine).get_indexes("profile_events") == [], "no secondary index left"
    assert [r[:4] for r in ranges] == [(0, 1, True, False), (2, 3, False, False), (4, 4, False, True),
                                       (5, 5, False, False)]
    assert json.loads(ranges[0][4]) == {"fields": {"build": "7", "commit": None, "run_id": "run1"},
                                        "session": 's"1',
                                        "tags": {"branch": "main", "framework": "pytest", "project": "my shop"}}
    b = backlog(engine)
    assert (b.pending, b.delivered, b.rejected) == (3, 2, 1)
    points = pending_points(engine, 10)
    assert [p.seq for p in points] == [2, 3, 5]
    assert parse_line(points[0].line) == parse_line(line.format(i=2, ns=1796000400000000000 + 2)), \
        "the same point as before the migration"


def test_migration_5_streams_a_large_outbox(crossbridge_env):
    """More ranges than one insert batch: every point keeps its state, none is lost or doubled."""
    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    n = 12_001
    line = 'crossbridge_span,kind=test,span_name=t duration_ms=1.0,span_key="k:{i}",run_id="r" {i}'
    with engine.begin() as conn:
        _tables_of_version_4(conn, engine.dialect.name)
        conn.execute(
            text("INSERT INTO profile_outbox VALUES (:sha, :i, :line, '2026-11-30 01:00:00', 0, NULL, NULL, NULL, "
                 ":delivered)"),
            [{"sha": "d" * 64, "i": i, "line": line.format(i=i),
              "delivered": "2026-11-30 02:00:00" if i % 2 else None} for i in range(n)])
    assert migrate(engine) == LATEST
    O = schema.profile_outbox
    with engine.connect() as conn:
        ranges = conn.execute(select(O.c.first_seq, O.c.last_seq, O.c.delivered_at.is_not(None))
                              .order_by(O.c.first_seq)).all()
    assert [(first, last, done) for first, last, done in ranges] == [(i, i, bool(i % 2)) for i in range(n)]
    assert (backlog(engine).pending, backlog(engine).delivered) == (6001, 6000)


def test_migration_7_keys_spans_by_a_small_integer_and_keeps_every_span(crossbridge_env):
    """A warehouse at version 6 (spans keyed by their report's sha256, with run and day columns)
    keeps every span across migration 7; each report gets one key, reads and delivery find its
    spans through it, and loads after it add to the same tables."""
    from crossbridge_assets.warehouse.engine import _profile_events_v5

    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    shas = {"e" * 64: ("run-e", 3), "f" * 64: ("run-f", 2)}
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE profile_events"))
        conn.execute(text("DROP TABLE profile_sources"))
        _profile_events_v5().create(conn)
        if engine.dialect.name == "postgresql":  # a key named otherwise than by default is found too
            conn.execute(text("ALTER TABLE profile_events RENAME CONSTRAINT profile_events_pkey TO spans_key"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 7"))
        for sha, (run, n) in shas.items():
            conn.execute(schema.reports.insert().values(
                sha256=sha, original_name=f"{run}.jsonl", kind="profiling", size=1, partition="2026-11-30",
                arrived_at=datetime.now(timezone.utc), status="landed", project="p", branch="main", run_id=run))
            for i in range(n):
                conn.execute(text(
                    "INSERT INTO profile_events VALUES (:sha, :i, :run, 'id', 'http', :name, "
                    "'2026-11-30 01:00:00.25+00:00', 0.5, '200', '{\"m\": 1}', :span, NULL, '2026-11-30')"),
                    {"sha": sha, "i": i, "run": run, "name": f"GET /{run}/{i}", "span": f"s{i}"})
            conn.execute(schema.profile_outbox.insert().values(
                report_sha256=sha, first_seq=0, last_seq=n - 1, context='{"fields": {}, "session": null, "tags": {}}',
                created_at=datetime.now(timezone.utc), attempts=0))
    assert migrate(engine) == LATEST
    assert migrate(engine) == LATEST, "a second run finds nothing to do"
    E, S = schema.profile_events, schema.profile_sources
    assert {c["name"] for c in inspect(engine).get_columns("profile_events")} == {c.name for c in E.columns}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S)).scalar_one() == 2
        for sha, (run, n) in shas.items():
            rows = conn.execute(select(E).where(schema.report_rows(E, [sha])).order_by(E.c.seq)).all()
            assert [(r.seq, r.name, r.status, r.attributes, r.span_id) for r in rows] == \
                [(i, f"GET /{run}/{i}", "200", '{"m": 1}', f"s{i}") for i in range(n)]
    frame = span_frame(engine)
    assert sorted(frame.groupby("run_id").size().items()) == [("run-e", 3), ("run-f", 2)]
    points = pending_points(engine, 10)
    assert sorted((p.report_sha256[0], p.seq) for p in points) == [("e", 0), ("e", 1), ("e", 2), ("f", 0), ("f", 1)]
    assert all("GET\\ /run-" in p.line for p in points), "the points are the spans' own"


def test_migration_3_is_idempotent(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    assert migrate(engine) == LATEST
    step = dict((n, f) for n, _, f in MIGRATIONS)[3]
    with engine.begin() as conn:
        step(conn)  # the tables are there already: nothing happens, nothing fails
    assert migrate(engine) == LATEST
    with engine.connect() as conn:
        versions = list(conn.execute(select(schema.schema_version.c.version)).scalars())
    assert 3 in versions


# ---------------------------------------------------------------- line protocol


def test_line_protocol_escapes_and_stable_timestamps():
    start = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=timezone.utc)
    span = Span(run="r1", kind="http", name="GET host/a b,c=d", start=start, duration=0.25, status="200",
                span_id="abc", test='t"1')
    line = span_line(span, 1234, "sha:1234", {"project": "my proj", "branch": "", "framework": None},
                     {"run_id": "run9"})
    assert line.startswith("crossbridge_span,kind=http,project=my\\ proj,span_name=GET\\ host/a\\ b\\,c\\=d,status=200 ")
    assert "branch=" not in line and "framework=" not in line, "empty tags are left out"
    assert 'test="t\\"1"' in line and 'span_key="sha:1234"' in line and "duration_ms=250.0" in line
    ns = int(line.rsplit(" ", 1)[1])
    assert ns == timestamp_ns(start, 1234) and ns % 1000 == 234 and ns // 1000 % 1_000_000 == 123456
    assert span_line(span, 1234, "sha:1234", {"project": "my proj"}, {"run_id": "run9"}) == \
        span_line(span, 1234, "sha:1234", {"project": "my proj"}, {"run_id": "run9"})
    assert tag_value("ends with \\") == "ends\\ with\\ "
    assert tag_value("  ") is None


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"CROSSBRIDGE_INFLUX_URL": "influx:8086"}, "CROSSBRIDGE_INFLUX_URL"),
        ({"CROSSBRIDGE_INFLUX_URL": "http://u:p@h:8086"}, "CROSSBRIDGE_INFLUX_URL"),
        ({"CROSSBRIDGE_INFLUX_URL": "http://h:8086", "CROSSBRIDGE_INFLUX_VERSION": "4"}, "CROSSBRIDGE_INFLUX_VERSION"),
        ({"CROSSBRIDGE_INFLUX_URL": "http://h:8086", "CROSSBRIDGE_INFLUX_USERNAME": "u"}, "CROSSBRIDGE_INFLUX_PASSWORD"),
        ({"CROSSBRIDGE_INFLUX_URL": "http://h:8086", "CROSSBRIDGE_INFLUX_VERSION": "2",
          "CROSSBRIDGE_INFLUX_TOKEN": "t"}, "CROSSBRIDGE_INFLUX_ORG"),
        ({"CROSSBRIDGE_INFLUX_URL": "http://h:8086", "CROSSBRIDGE_INFLUX_VERSION": "2",
          "CROSSBRIDGE_INFLUX_ORG": "o"}, "CROSSBRIDGE_INFLUX_TOKEN"),
        ({"CROSSBRIDGE_INFLUX_URL": "http://h:8086", "CROSSBRIDGE_INFLUX_BATCH": "lots"}, "CROSSBRIDGE_INFLUX_BATCH"),
    ],
)
def test_wrong_influx_settings_name_the_variable(env, variable):
    with pytest.raises(influx.InfluxConfigError, match=variable):
        influx.load_config(env)


def test_influx_settings_defaults_and_secrets_stay_out_of_reprs():
    assert influx.load_config({}) is None
    v1 = influx.load_config({"CROSSBRIDGE_INFLUX_URL": "http://h:8086/", "CROSSBRIDGE_INFLUX_USERNAME": "u",
                             "CROSSBRIDGE_INFLUX_PASSWORD": "s3cret"})
    assert (v1.version, v1.database, v1.url, v1.batch_size) == (1, "crossbridge", "http://h:8086", influx.DEFAULT_BATCH)
    v2 = influx.load_config({"CROSSBRIDGE_INFLUX_URL": "https://h", "CROSSBRIDGE_INFLUX_TOKEN": "tok3n",
                             "CROSSBRIDGE_INFLUX_ORG": "qa"})
    assert (v2.version, v2.org, v2.bucket) == (2, "qa", "crossbridge")
    v3 = influx.load_config({"CROSSBRIDGE_INFLUX_URL": "https://h", "CROSSBRIDGE_INFLUX_VERSION": "3",
                             "CROSSBRIDGE_INFLUX_TOKEN": "x", "CROSSBRIDGE_INFLUX_ORG": "qa"})
    assert v3.version == 2, "InfluxDB 3 takes the v2 write API"
    for shown in (repr(v1), repr(v2), v1.target, v2.target):
        assert "s3cret" not in shown and "tok3n" not in shown


# ---------------------------------------------------------------- the drain, scripted


class Scripted:
    """A client whose write answers follow a script: 'ok', 'down' or a callable(lines)."""

    def __init__(self, script, batch_size=3):
        self.config = influx.InfluxConfig(url="http://scripted", version=1, batch_size=batch_size)
        self.script = list(script)
        self.written: list[str] = []
        self.calls = 0

    def write(self, lines):
        self.calls += 1
        action = self.script.pop(0) if self.script else "ok"
        if action == "down":
            raise influx.InfluxUnavailable("connection refused")
        if callable(action):
            action(lines)
        self.written.extend(lines)


def _loaded(s, tmp_path, n):
    report = land(s, write_events(tmp_path / "out", spans(n)))
    engine = make_engine(s.warehouse_url)
    load_profile(engine, report, open_report(report.archive_path))
    return engine


def test_drain_retries_with_backoff_then_stops_and_the_next_drain_resumes(crossbridge_env, tmp_path):
    engine = _loaded(crossbridge_env, tmp_path, 7)
    sleeps: list[float] = []
    client = Scripted(["ok", "down", "down", "down"], batch_size=3)
    first = drain(engine, client, retries=2, base_delay=1.0, sleep=sleeps.append)
    assert first.delivered == 3 and first.error and "connection refused" in first.error
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.5 and 1.0 <= sleeps[1] <= 3.0, "exponential with jitter"
    b = backlog(engine)
    assert b.pending == 4 and b.delivered == 3 and "connection refused" in b.last_error
    second = drain(engine, Scripted([]), sleep=sleeps.append)
    assert second.delivered == 4 and second.error is None
    assert backlog(engine).pending == 0
    with engine.connect() as conn:
        ranges = conn.execute(select(schema.profile_outbox.c.first_seq, schema.profile_outbox.c.last_seq)).all()
    assert ranges == [(0, 6)], "delivered parts join up: a drained file is one row again"


def test_drains_at_once_leave_every_span_delivered_once_in_the_outbox(crossbridge_env, tmp_path):
    import threading

    n = 600
    engine = _loaded(crossbridge_env, tmp_path, n)
    # Four at once, small batches: many overlapping splits (this deadlocked on PostgreSQL while
    # drains locked ranges in different orders).
    clients = [Scripted([], batch_size=b) for b in (3, 5, 7, 11)]
    errors: list[BaseException] = []

    def run(client):
        try:
            drain(engine, client)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sent = [line for c in clients for line in c.written]
    assert len({parse_line(line)[2]["span_key"] for line in sent}) == n, "every span went out"
    O = schema.profile_outbox
    with engine.connect() as conn:
        ranges = conn.execute(select(O.c.first_seq, O.c.last_seq, O.c.delivered_at.is_not(None))
                              .order_by(O.c.first_seq)).all()
    covered = [seq for first, last, _ in ranges for seq in range(first, last + 1)]
    assert covered == list(range(n)), "ranges neither overlap nor leave a gap"
    assert all(done for *_, done in ranges) and backlog(engine).delivered == n


def test_points_the_server_refuses_are_isolated_and_the_rest_delivered(crossbridge_env, tmp_path):
    engine = _loaded(crossbridge_env, tmp_path, 8)

    class Picky(Scripted):
        def write(self, lines):
            self.calls += 1
            bad = [line for line in lines if "test_5 " in line.replace("\\ ", " ") or "test_5," in line]
            if bad:
                raise influx.InfluxRejected(400, 'partial write: field type conflict dropped=1')
            self.written.extend(lines)

    client = Picky([], batch_size=8)
    result = drain(engine, client)
    assert result.delivered == 7 and result.rejected == 1
    assert "field type conflict" in result.rejections[0]["reason"]
    b = backlog(engine)
    assert b.pending == 0 and b.rejected == 1
    O = schema.profile_outbox
    with engine.connect() as conn:
        ranges = conn.execute(select(O.c.first_seq, O.c.last_seq, O.c.rejected_at.is_not(None), O.c.last_error)
                              .order_by(O.c.first_seq)).all()
    assert [r[:3] for r in ranges] == [(0, 4, False), (5, 5, True), (6, 7, False)]
    assert "field type conflict" in ranges[1][3]
    assert retry_rejected(engine) == 1 and backlog(engine).pending == 1
    again = drain(engine, Scripted([]))
    assert again.delivered == 1 and backlog(engine).delivered == 8


def test_prepared_bulk_rows_are_stored_exactly_in_both_warehouses(crossbridge_env):
    """The PostgreSQL COPY writes a prepared chunk as JSON when nothing in it needs escaping and
    field by field otherwise: both ways, and SQLite's, must store the very values given."""
    from crossbridge_assets.warehouse.engine import _CopySource, bulk_insert_chunks
    from crossbridge_assets.warehouse.profiling import EVENT_COLUMNS

    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    start = "2026-11-30 10:00:00.123456+00:00"

    def row(seq, name, status=None, attributes=None, test=None, duration=0.25):
        return (1, seq, test, "http", name, start, duration, status, attributes, None, None)

    plain = [  # JSON whose only escapes are \" and \\: the fast path
        row(0, "GET /a,b", status="null", attributes='{"k": [1, "x,y"], "p": "C:\\\\Users"}'),
        row(1, 'héllo ✓ ],  [ say "hi" ""', status="", test="t1", duration=1e-07),
        row(2, "", duration=12345.678901),
        row(3, 'C:\\Users\\Me\\a.py ends in \\"', test="\\"),
    ]
    escaped = [  # a newline, a tab, a control character; a backslash before t: field by field
        row(4, "two\nlines\r\x01\t"),
        row(5, 'C:\\tests\\"new"'),
    ]
    # Each chunk takes the way it is meant to test (JSON comes out as bytes).
    assert [type(_CopySource([chunk], True).read()) for chunk in (plain, escaped)] == [bytes, str]
    # And random text from the characters that matter, a chunk of 7 rows at a time; every other
    # chunk without control characters, so that both ways are taken.
    rng = random.Random(7)
    printable = ['"', "\\", ",", "[", "]", " ", "n", "t", "u", "null", "é", "✓", "\u2028"]
    control = ["\n", "\r", "\t", "\x01"]
    fuzzed = [row(10 + i, "".join(rng.choices(printable + control * (i // 7 % 2), k=rng.randint(0, 12))),
                  status=rng.choice([None, "", "null", '"', "\\"]), duration=rng.random() * 10 ** rng.randint(-7, 5))
              for i in range(140)]
    chunks = [plain, [], escaped] + [fuzzed[i : i + 7] for i in range(0, len(fuzzed), 7)]
    assert {type(_CopySource([chunk], True).read()) for chunk in chunks[3:]} == {bytes, str}
    with engine.begin() as conn:
        n = bulk_insert_chunks(conn, schema.profile_events, EVENT_COLUMNS, chunks, prepared=True)
    assert n == 6 + len(fuzzed)
    E = schema.profile_events
    with engine.connect() as conn:
        got = conn.execute(select(E.c.seq, E.c.name, E.c.status, E.c.attributes, E.c.test_id, E.c.duration,
                                  E.c.span_id).order_by(E.c.seq)).all()
    expected = [(r[1], r[4], r[7], r[8], r[2], r[6], None) for r in plain + escaped + fuzzed]
    assert [tuple(g) for g in got] == expected


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("CROSSBRIDGE_TEST_POSTGRES_URL"), reason="needs CROSSBRIDGE_TEST_POSTGRES_URL")
def test_prepared_rows_reach_postgresql_intact_under_another_client_encoding():
    """The fast COPY path writes UTF-8 bytes: a connection speaking LATIN1 (here by the URL, as
    by PGCLIENTENCODING) gets text instead, which the driver encodes."""
    from crossbridge_assets.warehouse.engine import bulk_insert_chunks
    from crossbridge_assets.warehouse.profiling import EVENT_COLUMNS

    from crossbridge_assets_tests.conftest import fresh_postgres_database

    engine = make_engine(fresh_postgres_database() + "?client_encoding=latin1")
    migrate(engine)
    rows = [(1, i, None, "http", name, "2026-11-30 10:00:00.5+00:00", 0.5, None, None, None, None)
            for i, name in enumerate(["héllo", "naïve café", "plain"])]
    with engine.begin() as conn:
        assert conn.connection.dbapi_connection.encoding == "LATIN1"
        bulk_insert_chunks(conn, schema.profile_events, EVENT_COLUMNS, [rows], prepared=True)
    E = schema.profile_events
    with engine.connect() as conn:
        assert conn.execute(select(E.c.name).order_by(E.c.seq)).scalars().all() == ["héllo", "naïve café", "plain"]
    engine.dispose()
