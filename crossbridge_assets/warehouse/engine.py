"""Engines, forward migrations, bulk writes and the transient-fault classification."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from datetime import date, datetime, timezone
from functools import cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterable, Sequence

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)

from crossbridge_assets.log import get_logger
from crossbridge_assets.warehouse import schema

BULK_CHUNK = 5_000
ROWS_PER_STATEMENT = 200


@cache
def make_engine(url: str) -> Engine:
    """One engine per URL per process. SQLite gets WAL and a busy timeout so the sensor's runs
    and the CLI can share the file; PostgreSQL gets pre-ping to survive server restarts."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            # A command that only reads (summary, patch-coverage) may be the first to run: an
            # empty warehouse then, not "unable to open database file".
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # connecting fails then, a storage fault its callers report (doctor, checks)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            # Takes effect only while the file is still empty (a new warehouse), and must come
            # before WAL: 16 KiB pages store the bulk loads' millions of rows in 15-20% less time
            # than the 4 KiB default (benchmarks/profiling_bench.py).
            cur.execute("PRAGMA page_size=16384")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def now() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------ migrations


def _v1(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.reports, schema.test_runs, schema.tests, schema.test_results, schema.test_attempts],
    )


def _v2(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.coverage_files, schema.coverage_lines, schema.test_coverage_map, schema.coverage_runs],
    )


def _v3(conn: Connection) -> None:
    # checkfirst: a database that already has some of these tables is brought forward as is.
    schema.metadata.create_all(conn, tables=list(schema.PROFILING_TABLES), checkfirst=True)


def _v4(conn: Connection) -> None:
    # checkfirst keeps the step idempotent: a half-applied earlier attempt is completed, not repeated.
    schema.metadata.create_all(conn, tables=[schema.run_aggregates], checkfirst=True)


def _v5(conn: Connection) -> None:
    """Profiling tables for bulk loading. profile_events: no secondary indexes and, on SQLite, no
    rowid. The outbox: ranges of spans instead of a rendered line a span; waiting, refused and
    delivered points keep their state, each range's context read back from its old line."""
    from crossbridge_assets.delivery.line_protocol import parse_line, point_context

    for name in ("ix_profile_events_partition", "ix_profile_events_run", "ix_profile_events_start"):
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    if conn.dialect.name == "sqlite":
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'profile_events'")).scalar()
        if ddl and "WITHOUT ROWID" not in ddl.upper():
            conn.execute(text("ALTER TABLE profile_events RENAME TO profile_events_v4"))
            events = _profile_events_v5()
            events.create(conn)
            columns = ", ".join(c.name for c in events.columns)
            conn.execute(text(f"INSERT INTO profile_events ({columns}) SELECT {columns} FROM profile_events_v4"))
            conn.execute(text("DROP TABLE profile_events_v4"))

    old = None
    if "profile_outbox" in inspect(conn).get_table_names():
        if "seq" not in {c["name"] for c in inspect(conn).get_columns("profile_outbox")}:
            return  # already ranges: a half-applied earlier attempt
        # The old rows are read as a stream from the renamed table (an outbox can hold
        # millions), the index name is freed for the new table's.
        conn.execute(text("DROP INDEX IF EXISTS ix_profile_outbox_pending"))
        conn.execute(text("ALTER TABLE profile_outbox RENAME TO profile_outbox_v4"))
        old = Table("profile_outbox_v4", MetaData(), autoload_with=conn)
    schema.profile_outbox.create(conn, checkfirst=True)
    if old is None:
        return
    ranges: list[dict] = []
    state = None
    rows = conn.execute(select(old).order_by(old.c.report_sha256, old.c.seq).execution_options(yield_per=BULK_CHUNK))
    for r in rows:
        _, tags, fields, _ = parse_line(r.line)
        context = point_context(
            {k: tags.get(k) for k in ("project", "branch", "framework")},
            {k: fields.get(k) for k in ("run_id", "build", "commit")},
            fields.get("session"),
        )
        previous = state
        state = (r.report_sha256, context, r.created_at, r.attempts, r.last_error, r.last_attempt_at, r.rejected_at,
                 r.delivered_at)
        if state == previous and ranges[-1]["last_seq"] == r.seq - 1:
            ranges[-1]["last_seq"] = r.seq
            continue
        if len(ranges) > BULK_CHUNK:
            conn.execute(insert(schema.profile_outbox), ranges[:-1])
            del ranges[:-1]
        ranges.append({"report_sha256": r.report_sha256, "first_seq": r.seq, "last_seq": r.seq, "context": context,
                       "created_at": r.created_at, "attempts": r.attempts, "last_error": r.last_error,
                       "last_attempt_at": r.last_attempt_at, "rejected_at": r.rejected_at,
                       "delivered_at": r.delivered_at})
    if ranges:
        conn.execute(insert(schema.profile_outbox), ranges)
    old.drop(conn)


def _profile_events_v5() -> Table:
    """profile_events as step 5 left it (a released step never changes, the schema moves on)."""
    return Table(
        "profile_events",
        MetaData(),
        Column("report_sha256", String(64), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("run_id", String(40), nullable=False),
        Column("test_id", Text),
        Column("kind", String(32), nullable=False),
        Column("name", Text, nullable=False),
        Column("start", schema.TS, nullable=False),
        Column("duration", Float, nullable=False),
        Column("status", String(16)),
        Column("attributes", Text),
        Column("span_id", String(64)),
        Column("parent_id", String(64)),
        Column("partition", String(10), nullable=False),
        PrimaryKeyConstraint("report_sha256", "seq"),
        sqlite_with_rowid=False,
    )


def _v6(conn: Connection) -> None:
    """reports.duration and reports.properties: the run time and the run-level properties a
    report states. A database made by _v1 since has them."""
    have = {c["name"] for c in inspect(conn).get_columns("reports")}
    for column, sql_type in (("duration", "FLOAT"), ("properties", "TEXT")):
        if column not in have:
            conn.execute(text(f"ALTER TABLE reports ADD COLUMN {column} {sql_type}"))


def _v7(conn: Connection) -> None:
    """profile_events keyed by a small integer a report (profile_sources) instead of its sha256,
    without the run and day columns its reports row holds: a third of the table's size."""
    schema.profile_sources.create(conn, checkfirst=True)
    if "report_sha256" not in {c["name"] for c in inspect(conn).get_columns("profile_events")}:
        return  # made by _v3 since, or a half-applied earlier attempt
    key = inspect(conn).get_pk_constraint("profile_events").get("name")
    conn.execute(text("ALTER TABLE profile_events RENAME TO profile_events_v6"))
    if conn.dialect.name == "postgresql" and key:
        # The renamed table keeps its key's name (and its index's), which the new table's key takes.
        conn.execute(text(f'ALTER TABLE profile_events_v6 RENAME CONSTRAINT "{key}" TO profile_events_v6_pkey'))
    schema.profile_events.create(conn)
    conn.execute(text(
        "INSERT INTO profile_sources (report_sha256) SELECT DISTINCT e.report_sha256 FROM profile_events_v6 e "
        "WHERE NOT EXISTS (SELECT 1 FROM profile_sources s WHERE s.report_sha256 = e.report_sha256)"
    ))
    kept = [c.name for c in schema.profile_events.columns if c.name != "source_id"]
    conn.execute(text(
        f"INSERT INTO profile_events (source_id, {', '.join(kept)}) "
        f"SELECT s.id, {', '.join('e.' + c for c in kept)} FROM profile_events_v6 e "
        "JOIN profile_sources s ON s.report_sha256 = e.report_sha256"
    ))
    conn.execute(text("DROP TABLE profile_events_v6"))


def _v8(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=list(schema.INSIGHT_TABLES), checkfirst=True)


def _v9(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=list(schema.CHANGE_TABLES), checkfirst=True)


# (version, description, step). Append only: a released step never changes.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "reports and test results", _v1),
    (2, "coverage", _v2),
    (3, "profiling", _v3),
    (4, "run-level aggregates kept by retention", _v4),
    (5, "profiling tables for bulk loading; the outbox as ranges of spans", _v5),
    (6, "the run time and run-level properties each report states", _v6),
    (7, "spans keyed by a small integer a report", _v7),
    (8, "insights: new failures, flaky tests, failure clusters, test history", _v8),
    (9, "the changes runs send, and their patch coverage", _v9),
]

LATEST = MIGRATIONS[-1][0]


def _insight_tables_current(conn: Connection) -> None:
    """Make the insight tables as the schema has them. They grew after step 8 was first released
    (a warehouse it made then has none of the later ones, or older columns), and are derived,
    each recomputed whole by its asset: one missing is made, one of other columns made again,
    empty until its asset's next recomputation fills it."""
    present = set(inspect(conn).get_table_names())
    for table in schema.INSIGHT_TABLES:
        if table.name in present:
            if {c["name"] for c in inspect(conn).get_columns(table.name)} == set(table.columns.keys()):
                continue
            table.drop(conn)
            get_logger("migration").info("insight table made again with its current columns", table=table.name)
        table.create(conn)


def current_version(conn: Connection) -> int:
    schema.schema_version.create(conn, checkfirst=True)
    return conn.execute(select(func.coalesce(func.max(schema.schema_version.c.version), 0))).scalar_one()


def migrate(engine: Engine) -> int:
    """Bring the schema forward to LATEST; safe when several processes start at once
    (PostgreSQL serializes them on an advisory lock; on SQLite the loser of a race re-reads)."""
    log = get_logger("migration")
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
                version = current_version(conn)
                for number, description, step in MIGRATIONS:
                    if number <= version:
                        continue
                    step(conn)
                    conn.execute(
                        insert(schema.schema_version).values(version=number, description=description, applied_at=now())
                    )
                    log.info("schema migrated", version=number, description=description)
                    version = number
                if version == LATEST:
                    _insight_tables_current(conn)
            return version
        except (IntegrityError, OperationalError, ProgrammingError):
            with engine.connect() as conn:
                if current_version(conn) >= LATEST:
                    return LATEST
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    return LATEST


def exclusive(conn: Connection, name: str) -> None:
    """Hold `name` until the current transaction ends: writers that read before they write
    (two merges of one run, two recordings of one report) then run one after the other, and the
    second reads what the first committed. PostgreSQL takes an advisory lock on the name; SQLite
    the database's write lock, taken by a write that changes nothing, so that the reads after it
    are inside the transaction too."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
    else:
        conn.execute(text("UPDATE schema_version SET version = version WHERE version < 0"))


# ------------------------------------------------------------------ bulk writes


def _clean(value):
    # PostgreSQL text cannot hold NUL; real reports sometimes carry it in captured output.
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


# PostgreSQL refuses a btree index entry over 2704 bytes (a third of a page, measured after
# compression: a long random name barely compresses); SQLite has no such bound. Text bound for an
# indexed column is kept within INDEX_TEXT_BYTES on every database, so that both hold the same
# rows; two such columns and a report's sha256 still fit in one key.
INDEX_TEXT_BYTES = 1200
_CUT = "\u2026"


def beyond_index(value: str | None, limit: int = INDEX_TEXT_BYTES) -> int | None:
    """The size in bytes of `value` when it is more than an indexed column keeps, else None."""
    if value is None or len(value) * 4 <= limit:  # no character takes more than 4 bytes
        return None
    size = len(value.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


def index_text(value: str | None, limit: int = INDEX_TEXT_BYTES) -> str | None:
    """`value` as an indexed column can hold it: itself when its UTF-8 is at most `limit` bytes,
    else its head, '…' and a digest of the whole, so that a reader sees it was cut and two long
    values with one head stay apart."""
    if beyond_index(value, limit) is None:
        return value
    raw = value.encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(raw, digest_size=8).hexdigest()
    head = raw[: limit - len(_CUT.encode()) - len(digest)].decode("utf-8", "ignore")  # not half a character
    return head + _CUT + digest


def _csv_field(value, null: str = "", escape: str = '"') -> str:
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if not isinstance(value, str):
        value = json.dumps(value, default=str)
    if escape == "\\":
        value = value.replace("\\", "\\\\")
    return '"' + value.replace('"', escape + '"') + '"'


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict]) -> int:
    """Insert many rows (dicts by column name) in the current transaction."""
    if not rows:
        return 0
    columns = [c.name for c in table.columns]
    getter = itemgetter(*columns)
    try:
        values = [getter(row) for row in rows] if len(columns) > 1 else [(getter(row),) for row in rows]
    except KeyError:
        values = [tuple(row.get(c) for c in columns) for row in rows]
    return bulk_insert_values(conn, table, columns, values)


def replace_table(engine: Engine, table: Table, rows: Sequence[dict]) -> int:
    """Recompute-whole tables (baselines, regressions, insights): one transaction, delete all, insert."""
    return replace_tables(engine, [(table, rows)])


def replace_tables(engine: Engine, contents: Sequence[tuple[Table, Sequence[dict]]]) -> int:
    """Several recompute-whole tables replaced in one transaction (a reader never sees one table's
    new rows beside another's old ones); returns the rows written."""
    with engine.begin() as conn:
        # Two recomputations at once (the nightly schedule and the automation after ingestion)
        # replace them one after the other: on PostgreSQL the second's delete would not see the
        # first's new rows, and both sets would stay. Locks taken in one order, by name.
        for name in sorted(table.name for table, _ in contents):
            exclusive(conn, f"replace {name}")
        for table, _ in contents:
            conn.execute(delete(table))
        return sum(bulk_insert(conn, table, rows) for table, rows in contents)


def bulk_insert_values(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence],
                       *, prepared: bool = False) -> int:
    """Insert many rows given as value tuples in `columns` order (see bulk_insert_chunks)."""
    return bulk_insert_chunks(conn, table, columns, (rows[i : i + BULK_CHUNK] for i in range(0, len(rows), BULK_CHUNK)),
                              prepared=prepared)


def bulk_insert_chunks(conn: Connection, table: Table, columns: Sequence[str], chunks: Iterable[Sequence[Sequence]],
                       *, prepared: bool = False) -> int:
    """Insert rows given as lists of value tuples in `columns` order, in the current transaction:
    one streaming COPY on PostgreSQL (the server inserts a chunk while the next is produced),
    multi-row INSERTs elsewhere. `prepared=True` is for callers whose values are already what
    the driver stores: str, int, finite float or None only, no NUL in text, times as ISO text.
    Returns the number of rows."""
    if conn.dialect.name == "postgresql":
        # Prepared rows are written as JSON (see _CopySource): its bare null is NULL, and a
        # backslash escapes a quote or a backslash as in JSON strings.
        options = "FORMAT csv, NULL 'null', ESCAPE E'\\\\'" if prepared else "FORMAT csv"
        raw = conn.connection.dbapi_connection
        source = _CopySource(chunks, prepared, utf8=raw.encoding in ("UTF8", "UNICODE"))
        with raw.cursor() as cur:
            try:
                cur.copy_expert(f'COPY {table.name} ({", ".join(columns)}) FROM STDIN WITH ({options})', source)
            except Exception:
                if source.error is not None:  # the rows' producer failed (a parse error): that is the error
                    raise source.error from None
                raise
        return source.rows
    # The DBAPI cursor on the same connection (so the same transaction), fed plain tuples: only
    # the columns whose type has a bind processor (booleans) are converted, as SQLAlchemy would
    # store them, without building and compiling a statement per chunk.
    processors, texts = [], []
    if not prepared:
        processors = [(i, p) for i, c in enumerate(columns) if (p := table.c[c].type.bind_processor(conn.dialect))]
        texts = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, String)]

    def convert(row: Sequence) -> Sequence:
        out = list(row)
        for i in texts:
            v = out[i]
            if v is not None and "\x00" in v:
                out[i] = v.replace("\x00", "")
        for i, proc in processors:
            if out[i] is not None:
                out[i] = proc(out[i])
        return out

    # Several rows a statement: one statement step for many rows is cheaper than a step each,
    # up to the build's bound-parameter limit (999 in older SQLite builds, which cannot say so).
    raw = conn.connection.dbapi_connection
    getlimit = getattr(raw, "getlimit", None)
    limit = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999
    per = max(1, min(ROWS_PER_STATEMENT, limit // len(columns)))
    one = "(" + ", ".join("?" * len(columns)) + ")"
    head = f'INSERT INTO {table.name} ({", ".join(columns)}) VALUES '
    many_sql = head + ", ".join([one] * per)
    count = 0
    cursor = raw.cursor()
    try:
        for chunk in chunks:
            if processors or texts:
                chunk = [convert(r) for r in chunk]
            whole = len(chunk) - len(chunk) % per
            for at in range(0, whole, per):
                cursor.execute(many_sql, list(chain.from_iterable(chunk[at : at + per])))
            if whole < len(chunk):
                cursor.executemany(head + one, chunk[whole:])
            count += len(chunk)
    finally:
        cursor.close()
    return count


_OTHER_ESCAPE = re.compile(rb"\\[bfnrtu]")  # the JSON escapes besides \" and \\


class _CopySource:
    """What COPY FROM STDIN reads: each read() formats the next chunk of rows as CSV.

    A prepared chunk is written by orjson, in C (the csv module takes more than twice as long): an
    array of rows indented one value a line, so that every newline is outside the strings and
    cutting the indentation leaves a CSV row a line. Its strings are quoted and the COPY reads
    their \\" and \\\\ escapes; a chunk with any other escape (a control character in a
    string) is written field by field."""

    def __init__(self, chunks: Iterable[Sequence[Sequence]], prepared: bool, utf8: bool = True):
        self._chunks = iter(chunks)
        self._prepared = prepared
        self._utf8 = utf8  # orjson writes UTF-8: other client encodings get text, which the driver encodes
        self.rows = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> str | bytes:
        try:
            return self._next()
        except BaseException as exc:
            self.error = exc
            raise

    def _next(self) -> str | bytes:
        for chunk in self._chunks:
            if not chunk:
                continue
            self.rows += len(chunk)
            if self._prepared:
                try:
                    body = orjson.dumps(chunk, option=orjson.OPT_INDENT_2)
                except orjson.JSONEncodeError:  # an int beyond 64 bits, a lone surrogate
                    body = b"\\n"
                if not _OTHER_ESCAPE.search(body):  # (or an escaped backslash before t, n...: slower, not wrong)
                    # '[\n  [\n    a,\n    b\n  ],\n  [\n    c,\n    d\n  ]\n]' -> 'a,b\nc,d\n'
                    body = body.replace(b"\n    ", b"").replace(b"\n  ],\n  [", b"\n")[5:-5]
                    return body if self._utf8 else body.decode()
                return "".join([",".join([_csv_field(v, "null", "\\") for v in row]) + "\n" for row in chunk])
            return "".join([",".join([_csv_field(_clean(v)) for v in row]) + "\n" for row in chunk])
        return ""


def insert_missing(conn: Connection, table: Table, rows: Iterable[dict], keys: Sequence[str]) -> None:
    """Insert rows whose natural key is not there yet (upsert that keeps the first version)."""
    rows = list(rows)
    if not rows:
        return
    rows = [{key: _clean(value) for key, value in row.items()} for row in rows]  # as bulk_insert
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    for start in range(0, len(rows), BULK_CHUNK):
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys))
        conn.execute(stmt, rows[start : start + BULK_CHUNK])


# ------------------------------------------------------------------ faults

_TRANSIENT_MARKERS = (
    "database is locked",
    "could not connect",
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "timeout",
    "timed out",
    "could not serialize",
    "deadlock detected",
    "the database system is starting up",
    "the database system is shutting down",
    "connection reset",
    "connection already closed",
    # PostgreSQL out of connections or failing over, the network briefly away (libpq 14+ words
    # these 'connection to server at ... failed: ...', without "could not connect").
    "too many clients",
    "remaining connection slots are reserved",
    "in recovery mode",
    "temporary failure in name resolution",
    "ssl connection has been closed unexpectedly",
    "ssl syscall error",
)


def is_transient(exc: BaseException) -> bool:
    """Faults worth retrying: the storage is busy or briefly away, not the data being wrong."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    message = str(exc).lower()
    if isinstance(exc, (OperationalError, DBAPIError)) or "psycopg2" in type(exc).__module__:
        return any(marker in message for marker in _TRANSIENT_MARKERS)
    return False


# The warehouse's disk full or failing (SQLite; PostgreSQL's DiskFull and temporary files).
_DISK_MARKERS = ("disk i/o error", "database or disk is full", "no space left on device", "could not extend file",
                 "could not write to file")


def is_storage_fault(exc: BaseException) -> bool:
    """The warehouse could not do what it was asked: busy or away (is_transient), or its disk
    full or failing. Nothing is wrong with the report being written then, and it must not be
    blamed. Bulk loads raise the driver's own errors (sqlite3, psycopg2) as well as SQLAlchemy's."""
    if is_transient(exc):
        return True
    driver = isinstance(exc, (DBAPIError, sqlite3.Error)) or "psycopg2" in type(exc).__module__
    return driver and any(marker in str(exc).lower() for marker in _DISK_MARKERS)


def ping(engine: Engine) -> float:
    """Round-trip a trivial query; returns the latency in milliseconds."""
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return round((time.perf_counter() - started) * 1000, 2)
