"""Engines, forward migrations, bulk writes and the transient-fault classification."""

from __future__ import annotations

import io
import json
import time
from datetime import date, datetime, timezone
from functools import cache
from operator import itemgetter
from typing import Callable, Iterable, Sequence

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
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


@cache
def make_engine(url: str) -> Engine:
    """One engine per URL per process. SQLite gets WAL and a busy timeout so the sensor's runs
    and the CLI can share the file; PostgreSQL gets pre-ping to survive server restarts."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
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


# (version, description, step). Append only: a released step never changes.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "reports and test results", _v1),
    (2, "coverage", _v2),
    (3, "profiling", _v3),
    (4, "run-level aggregates kept by retention", _v4),
]

LATEST = MIGRATIONS[-1][0]


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
            return version
        except (IntegrityError, OperationalError, ProgrammingError):
            with engine.connect() as conn:
                if current_version(conn) >= LATEST:
                    return LATEST
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    return LATEST


# ------------------------------------------------------------------ bulk writes


def _clean(value):
    # PostgreSQL text cannot hold NUL; real reports sometimes carry it in captured output.
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


def _csv_field(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if not isinstance(value, str):
        value = json.dumps(value, default=str)
    return '"' + value.replace('"', '""') + '"'


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict]) -> int:
    """Insert many rows in the current transaction: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return 0
    columns = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        for row in rows:
            buf.write(",".join(_csv_field(_clean(row.get(c))) for c in columns))
            buf.write("\n")
        buf.seek(0)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.copy_expert(
                f'COPY {table.name} ({", ".join(columns)}) FROM STDIN WITH (FORMAT csv)',
                buf,
            )
    else:
        # The DBAPI cursor on the same connection (so the same transaction), fed plain lists:
        # only the columns whose type has a bind processor (dates, booleans) are converted, as
        # SQLAlchemy would store them, without building and compiling a statement per chunk.
        processors = [(i, p) for i, c in enumerate(columns) if (p := table.c[c].type.bind_processor(conn.dialect))]
        texts = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, String)]
        getter = itemgetter(*columns)

        def values(row: dict) -> list:
            try:
                out = list(getter(row)) if len(columns) > 1 else [getter(row)]
            except KeyError:
                out = [row.get(c) for c in columns]
            for i in texts:
                v = out[i]
                if v is not None and "\x00" in v:
                    out[i] = v.replace("\x00", "")
            for i, proc in processors:
                if out[i] is not None:
                    out[i] = proc(out[i])
            return out

        sql = f'INSERT INTO {table.name} ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for start in range(0, len(rows), BULK_CHUNK):
                cursor.executemany(sql, [values(r) for r in rows[start : start + BULK_CHUNK]])
        finally:
            cursor.close()
    return len(rows)


def insert_missing(conn: Connection, table: Table, rows: Iterable[dict], keys: Sequence[str]) -> None:
    """Insert rows whose natural key is not there yet (upsert that keeps the first version)."""
    rows = list(rows)
    if not rows:
        return
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


def ping(engine: Engine) -> float:
    """Round-trip a trivial query; returns the latency in milliseconds."""
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return round((time.perf_counter() - started) * 1000, 2)
