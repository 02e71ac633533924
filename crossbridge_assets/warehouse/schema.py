"""The warehouse schema: one SQLAlchemy Core definition for SQLite and PostgreSQL.

`reports` plus the archive is the system of record; every other table can be rebuilt from them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

TS = DateTime(timezone=True)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", TS, nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("original_name", Text, nullable=False),
    Column("source_path", Text),  # where it was found, relative to the inbox
    Column("kind", String(16)),  # results | coverage | profiling (None when unknown)
    Column("format", String(32)),
    Column("size", BigInteger, nullable=False),
    Column("arrived_at", TS, nullable=False),
    Column("partition", String(10), nullable=False),
    Column("status", String(12), nullable=False),  # landed | quarantined
    Column("reason", Text),
    Column("archive_path", Text),
    Column("project", Text),
    Column("branch", Text),
    Column("commit_sha", Text),
    Column("build", Text),
    Column("shard", Text),
    Column("shards_expected", Integer),
    Column("started_at", TS),
    Column("ci_url", Text),
    Column("metadata_source", String(16)),  # manifest | path | report | ci | none
    Column("run_id", String(40)),
    Column("batch", String(64)),
    Column("declared", Text),  # JSON: the report's own totals
    Column("totals", Text),  # JSON: what the content holds
    Column("warnings", Text),  # JSON list
    Column("loaded_at", TS),
)
Index("ix_reports_partition", reports.c.partition)
Index("ix_reports_batch", reports.c.batch)

test_runs = Table(
    "test_runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("commit_sha", Text),
    Column("build", Text),
    Column("started_at", TS),
    Column("ci_url", Text),
    Column("shards_expected", Integer),
    Column("partition", String(10), nullable=False),
    Column("created_at", TS, nullable=False),
)
Index("ix_test_runs_project_branch", test_runs.c.project, test_runs.c.branch)

tests = Table(
    "tests",
    metadata,
    Column("test_id", String(20), primary_key=True),
    Column("framework", Text, nullable=False),
    Column("suite", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("parameters", Text),
    Column("file", Text),
    Column("first_seen", TS, nullable=False),
)

test_results = Table(
    "test_results",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("seq", Integer, nullable=False),  # position in the report
    Column("run_id", String(40), nullable=False),
    Column("test_id", String(20), nullable=False),
    Column("status", String(8), nullable=False),
    Column("duration", Float),
    Column("attempts", Integer, nullable=False),
    Column("flaky", Boolean, nullable=False),
    Column("message", Text),
    Column("failure_type", Text),
    Column("properties", Text),  # JSON
    Column("tags", Text),  # JSON list
    Column("partition", String(10), nullable=False),
    PrimaryKeyConstraint("report_sha256", "seq"),
)
Index("ix_test_results_run", test_results.c.run_id)
Index("ix_test_results_test", test_results.c.test_id)
Index("ix_test_results_partition", test_results.c.partition)

test_attempts = Table(
    "test_attempts",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(8), nullable=False),
    Column("duration", Float),
    Column("message", Text),
    Column("failure_type", Text),
    Column("stack_trace", Text),
    Column("stdout", Text),
    Column("stderr", Text),
    Column("stdout_size", Integer, nullable=False),
    Column("stderr_size", Integer, nullable=False),
    PrimaryKeyConstraint("report_sha256", "seq", "attempt"),
)

# Tables whose rows come from one report (delete-then-insert by report keeps loads idempotent).
PER_REPORT_TABLES = (test_attempts, test_results)
