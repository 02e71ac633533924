"""The warehouse schema: one SQLAlchemy Core definition for SQLite and PostgreSQL.

`reports` plus the archive is the system of record; every other table can be rebuilt from them.
"""

from __future__ import annotations

from datetime import datetime, timezone

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
    TypeDecorator,
    select,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """A moment, stored in UTC and read back as an aware UTC time on every database. SQLite
    keeps a time as text without its offset: a manifest's '11:30+02:00' would be read back as
    11:30 UTC and sort after a '10:00Z' run it preceded. PostgreSQL reads a time without an
    offset in the session's TimeZone (the server's zone by default, often not UTC) and hands
    times back in it: a time without one is UTC here, and what is read is turned to UTC, so a
    summary shows the same times whichever database holds them."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return value


TS = UTCDateTime(timezone=True)

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
    Column("status", String(12), nullable=False),  # landed | quarantined | superseded | expired
    Column("reason", Text),
    Column("archive_path", Text),
    Column("project", Text),
    Column("branch", Text),
    Column("commit_sha", Text),
    Column("build", Text),
    Column("shard", Text),
    Column("shards_expected", Integer),
    Column("started_at", TS),
    Column("duration", Float),  # seconds the run took, as the report states it (run-level timing)
    Column("ci_url", Text),
    Column("metadata_source", String(16)),  # manifest | path | report | ci | none
    Column("run_id", String(40)),
    Column("batch", String(64)),
    Column("declared", Text),  # JSON: the report's own totals
    Column("totals", Text),  # JSON: what the content holds
    Column("warnings", Text),  # JSON list
    Column("properties", Text),  # JSON: run-level properties the report states (environment, settings)
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
    Column("created_at", TS, nullable=False),  # first arrival of its reports: orders runs that say no start
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

# ---------------------------------------------------------------------------- profiling
# Spans from the hooks' event files, the InfluxDB outbox, and the analytics derived from them.

# The report each stored span came from, by a small integer: profile_events holds millions of
# rows, and a 64-character key in each of them (with the run and day) was a third of the table.
# A reload keeps the report's id; quarantine and retention delete it with the spans. The run
# and day of the spans are on `reports`.
profile_sources = Table(
    "profile_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_sha256", String(64), nullable=False, unique=True),
)

profile_events = Table(
    "profile_events",
    metadata,
    Column("source_id", Integer, nullable=False),  # profile_sources.id
    Column("seq", Integer, nullable=False),  # position of the span in the event file
    Column("test_id", Text),  # test identity (or the runner's node id when the hook had no identity)
    Column("kind", String(32), nullable=False),  # model.SPAN_KINDS, or whatever a newer hook wrote
    Column("name", Text, nullable=False),
    Column("start", TS, nullable=False),
    Column("duration", Float, nullable=False),  # seconds
    Column("status", String(16)),
    Column("attributes", Text),  # JSON
    Column("span_id", String(64)),
    Column("parent_id", String(64)),
    PrimaryKeyConstraint("source_id", "seq"),
    # The highest-volume table: on SQLite the rows live in the primary key's tree (no rowid, no
    # second copy of the key), and no secondary index; reads reach spans through their reports.
    sqlite_with_rowid=False,
)

# Points for InfluxDB, as ranges of a report's spans (seq first_seq..last_seq) rather than one
# row a span: a range is written in the same transaction as its spans, so a span is queued
# exactly when it is stored, and queuing a million spans costs one row. Delivery renders the
# points from profile_events with the range's `context` and splits the range as parts of it are
# delivered (delivered_at, only after the server answered 2xx) or refused (rejected_at).
profile_outbox = Table(
    "profile_outbox",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("context", Text, nullable=False),  # JSON: the points' run-level tags and fields
    Column("created_at", TS, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("last_attempt_at", TS),
    Column("rejected_at", TS),  # the server refused these very points (4xx): not retried by itself
    Column("delivered_at", TS),
    PrimaryKeyConstraint("report_sha256", "first_seq"),
)
# Serves the drain's "oldest undelivered first" without a sort.
Index(
    "ix_profile_outbox_pending",
    profile_outbox.c.delivered_at,
    profile_outbox.c.rejected_at,
    profile_outbox.c.created_at,
    profile_outbox.c.report_sha256,
    profile_outbox.c.first_seq,
)

# Recomputed whole by the analytics assets (delete-all-then-insert in one transaction).
profile_baselines = Table(
    "profile_baselines",
    metadata,
    Column("kind", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("environment", Text, nullable=False),  # project/branch
    Column("runs", Integer, nullable=False),
    Column("spans", Integer, nullable=False),
    Column("median", Float),
    Column("mad", Float),
    Column("mean", Float),
    Column("max", Float),
    Column("p50", Float),
    Column("p95", Float),
    Column("last_value", Float),
    Column("last_run", String(40)),
    Column("computed_at", TS, nullable=False),
)

profile_regressions = Table(
    "profile_regressions",
    metadata,
    Column("kind", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("rule", String(16), nullable=False),  # ratio | robust_z | change_point
    Column("run_id", String(40)),
    Column("value", Float),
    Column("baseline", Float),
    Column("ratio", Float),
    Column("score", Float),
    Column("evidence", Text, nullable=False),
    Column("detected_at", TS, nullable=False),
)

PROFILING_TABLES = (profile_sources, profile_events, profile_outbox, profile_baselines, profile_regressions)


# ---------------------------------------------------------------------------- coverage
# Rows of coverage_files, coverage_lines and test_coverage_map come from one report each
# (delete-then-insert by report); coverage_runs is derived from them and rebuilt per run.

coverage_files = Table(
    "coverage_files",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("path", Text, nullable=False),  # normalized source path
    Column("lines_valid", Integer, nullable=False),
    Column("lines_covered", Integer, nullable=False),
    Column("branches_valid", Integer, nullable=False),
    Column("branches_covered", Integer, nullable=False),
    Column("has_lines", Boolean, nullable=False),  # False: the report holds counts only
    Column("partition", String(10), nullable=False),
    PrimaryKeyConstraint("report_sha256", "path"),
)
Index("ix_coverage_files_run", coverage_files.c.run_id)
Index("ix_coverage_files_partition", coverage_files.c.partition)

# Line sets as ranges ('1-5,9,12-14'): a 500-line file is a few dozen characters, not 500 rows.
coverage_lines = Table(
    "coverage_lines",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("covered", Text, nullable=False),
    Column("uncovered", Text, nullable=False),
    Column("branches", Text),  # 'line:covered/total,...'
    Column("functions", Text),  # JSON list of [name, line, hits]
    PrimaryKeyConstraint("report_sha256", "path"),
)

test_coverage_map = Table(
    "test_coverage_map",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("context", Text, nullable=False),  # as recorded (pytest-cov 'nodeid|run', or the announced test)
    Column("test", Text, nullable=False),  # the test the context names
    Column("path", Text, nullable=False),
    Column("lines", Text, nullable=False),  # ranges
    Column("first_line", Integer, nullable=False),  # bounds narrow "which tests cover F:L" in SQL
    Column("last_line", Integer, nullable=False),
    Column("partition", String(10), nullable=False),
    PrimaryKeyConstraint("report_sha256", "context", "path"),
)
Index("ix_test_coverage_map_path", test_coverage_map.c.path, test_coverage_map.c.run_id)
Index("ix_test_coverage_map_run", test_coverage_map.c.run_id)

coverage_runs = Table(
    "coverage_runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("commit_sha", Text),
    Column("build", Text),
    Column("started_at", TS),  # run start, or first arrival when the run did not say
    Column("first_arrival", TS, nullable=False),
    Column("reports", Integer, nullable=False),
    Column("formats", Text),  # comma-separated
    Column("shards_seen", Integer, nullable=False),
    Column("shards_expected", Integer),
    Column("complete", Boolean, nullable=False),
    Column("files", Integer, nullable=False),
    Column("lines_valid", Integer, nullable=False),
    Column("lines_covered", Integer, nullable=False),
    Column("branches_valid", Integer, nullable=False),
    Column("branches_covered", Integer, nullable=False),
    Column("line_pct", Float),  # None: no report of the run measures what could have run
    Column("branch_pct", Float),
    Column("fingerprint", String(40), nullable=False),  # of the report set it was computed from
    Column("computed_at", TS, nullable=False),
)
Index("ix_coverage_runs_project_branch", coverage_runs.c.project, coverage_runs.c.branch)

COVERAGE_TABLES = (test_coverage_map, coverage_lines, coverage_files)

# ---------------------------------------------------------------- health: run-level aggregates
# Kept when retention deletes the raw per-report rows, so run history (counts, pass rate,
# durations) outlives them. Filled from test_results nightly and before every retention sweep.
run_aggregates = Table(
    "run_aggregates",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("project", Text),
    Column("branch", Text),
    Column("build", Text),
    Column("commit_sha", Text),
    Column("started_at", TS),
    Column("partition", String(10)),
    Column("reports", Integer, nullable=False),
    Column("tests", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("flaky", Integer, nullable=False),
    Column("pass_rate", Float),  # passed / (tests - skipped); 1.0 when nothing ran
    Column("duration_total", Float),  # seconds, sum over tests
    Column("duration_max", Float),
    Column("duration_mean", Float),
    Column("computed_at", TS, nullable=False),
)
Index("ix_run_aggregates_project_branch", run_aggregates.c.project, run_aggregates.c.branch)
# ---------------------------------------------------------------- end health

# ---------------------------------------------------------------- insights
# What the insight assets compute from the results history (new failures, flaky tests, failure
# clusters, per-test history). Each is recomputed whole by its asset (engine.replace_table):
# derived, never a record of its own, so a backfill or a rebuild gives them back.
INSIGHT_TABLES: tuple[Table, ...] = ()

# Each run against the previous run of its project and branch: one row per run (run_comparisons)
# and one per test whose outcome changed (run_test_changes).
run_comparisons = Table(
    "run_comparisons",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("build", Text),
    Column("commit_sha", Text),
    Column("ci_url", Text),
    Column("run_time", TS),
    Column("state", String(16), nullable=False),  # compared | no_previous_run
    Column("complete", Boolean, nullable=False),  # False: still waiting for announced shards
    Column("shards_seen", Integer),
    Column("shards_expected", Integer),
    Column("previous_run_id", String(40)),
    # The branch of the previous run: the run's own, or for a branch's first run the default
    # branch it was compared with (its fork point).
    Column("previous_branch", Text),
    Column("previous_build", Text),
    Column("previous_ci_url", Text),
    Column("same_commit", Boolean, nullable=False),  # a re-run of the previous run's commit
    Column("tests", Integer, nullable=False),
    Column("failing", Integer, nullable=False),
    Column("new_failures", Integer, nullable=False),
    Column("fixed", Integer, nullable=False),
    Column("still_failing", Integer, nullable=False),
    Column("new_tests", Integer, nullable=False),
    Column("new_failing_tests", Integer, nullable=False),
    Column("gone", Integer, nullable=False),
    Column("note", Text),
    Column("computed_at", TS, nullable=False),
)
Index("ix_run_comparisons_project_branch", run_comparisons.c.project, run_comparisons.c.branch)

run_test_changes = Table(
    "run_test_changes",
    metadata,
    Column("run_id", String(40), nullable=False),
    Column("test_id", String(20), nullable=False),
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("build", Text),
    Column("ci_url", Text),
    Column("run_time", TS),
    Column("framework", Text),
    Column("suite", Text),
    Column("name", Text),
    Column("parameters", Text),
    Column("file", Text),
    Column("change", String(16), nullable=False),  # new_failure | fixed | still_failing | new_test | gone
    Column("status", String(12)),  # in this run; empty for a test gone
    Column("previous_status", String(12)),
    Column("previous_run_id", String(40)),  # the run the test's previous result is from
    Column("previous_build", Text),
    Column("flaky", Boolean),
    Column("failing_since_run_id", String(40)),  # a failing test: the run its failure began in
    Column("failing_since_build", Text),
    Column("regression", Boolean),  # that failure began as a new failure or a new test
    Column("message", Text),
    Column("failure_type", Text),
    Column("note", Text),
    Column("computed_at", TS, nullable=False),
    PrimaryKeyConstraint("run_id", "test_id"),
)
Index("ix_run_test_changes_project_branch", run_test_changes.c.project, run_test_changes.c.branch)

INSIGHT_TABLES += (run_comparisons, run_test_changes)

# Flaky tests of each project and branch, with the evidence (analysis/flaky.py says the rules).
flaky_tests = Table(
    "flaky_tests",
    metadata,
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("test_id", String(20), nullable=False),
    Column("framework", Text),
    Column("suite", Text),
    Column("name", Text, nullable=False),
    Column("parameters", Text),
    Column("runs", Integer, nullable=False),  # runs it passed or failed in (skipped ones do not count)
    Column("failures", Integer, nullable=False),
    Column("retry_runs", Integer, nullable=False),  # runs it passed in on a retry
    Column("same_commit", Integer, nullable=False),  # commits it failed and passed on
    Column("flips", Integer, nullable=False),  # outcomes that changed and changed back within a few runs
    Column("flaky_runs", Integer, nullable=False),  # runs that are evidence
    Column("flaky_rate", Float, nullable=False),  # flaky_runs / runs
    Column("flip_rate", Float, nullable=False),  # outcome changes / (runs - 1)
    Column("evidence", Text, nullable=False),  # one sentence naming the runs (build, CI link)
    Column("first_evidence_at", TS, nullable=False),  # run time of the first and last evidence
    Column("last_evidence_at", TS, nullable=False),
    Column("flagged_on", String(10), nullable=False),  # arrival day from which the rules flag it
    Column("last_status", String(8)),
    Column("last_run_id", String(40)),
    Column("computed_at", TS, nullable=False),
    PrimaryKeyConstraint("project", "branch", "test_id"),
)
INSIGHT_TABLES += (flaky_tests,)

# Failures that share one root cause: one row per failure signature (analysis.clusters).
failure_clusters = Table(
    "failure_clusters",
    metadata,
    Column("cluster_id", String(16), primary_key=True),  # from the signature: stable across recomputations
    Column("signature", Text, nullable=False),  # type: normalised message @ innermost own frame
    Column("failure_type", Text),
    Column("message_pattern", Text),
    Column("frame", Text),  # the innermost stack frame of the project's own code
    Column("tests", Integer, nullable=False),
    Column("occurrences", Integer, nullable=False),  # failing results (one test in one run)
    Column("attempts", Integer, nullable=False),  # failed attempts, retries included
    Column("runs", Integer, nullable=False),
    Column("projects", Text),
    Column("passed_on_retry", Integer, nullable=False),  # occurrences whose test passed on a retry
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("example_message", Text),
    Column("example_test", Text),
    Column("example_tests", Text),
    Column("example_project", Text),
    Column("example_branch", Text),
    Column("example_build", Text),
    Column("example_ci_url", Text),
    Column("example_run_id", String(40)),
    Column("computed_at", TS, nullable=False),
)

# The cluster of each failing result: which failures of a run share a cause with which others.
failure_cluster_results = Table(
    "failure_cluster_results",
    metadata,
    Column("run_id", String(40), nullable=False),
    Column("test_id", String(20), nullable=False),
    Column("cluster_id", String(16), nullable=False),
    Column("status", String(8), nullable=False),  # the test's final status in the run
    Column("attempts", Integer, nullable=False),  # its failed attempts with this signature
    PrimaryKeyConstraint("run_id", "test_id", "cluster_id"),
)
Index("ix_failure_cluster_results_cluster", failure_cluster_results.c.cluster_id)
INSIGHT_TABLES += (failure_clusters, failure_cluster_results)

# Each test's recent life on each project and branch (analysis.history): counts, streak, last
# pass and failure, durations, and whether it is broken, slower or gone.
test_history = Table(
    "test_history",
    metadata,
    Column("test_id", String(20), nullable=False),
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("framework", Text),
    Column("suite", Text),
    Column("name", Text, nullable=False),
    Column("parameters", Text),
    Column("file", Text),
    Column("runs", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("passed_on_retry", Integer, nullable=False),
    Column("pass_rate", Float),  # passed / runs it executed in; None when it was only skipped
    Column("first_run_at", TS),
    Column("first_build", Text),
    Column("last_run_at", TS),
    Column("last_build", Text),
    Column("last_run_id", String(40)),
    Column("last_ci_url", Text),
    Column("last_status", String(8)),
    Column("streak_status", String(8)),  # passed | failing | skipped
    Column("streak_runs", Integer),
    Column("streak_since_build", Text),
    Column("streak_since_run_id", String(40)),
    Column("streak_since_at", TS),
    Column("streak_since_ci_url", Text),
    Column("streak_from_window_start", Boolean),  # it may have started before the window
    Column("last_passed_build", Text),
    Column("last_passed_at", TS),
    Column("last_failed_build", Text),
    Column("last_failed_at", TS),
    Column("last_failure_message", Text),
    Column("duration_median", Float),  # seconds, over the runs it passed
    Column("duration_p95", Float),
    Column("duration_last", Float),  # seconds, its latest run whatever the status
    Column("slower", Boolean, nullable=False),
    Column("slower_rule", String(16)),
    Column("slower_evidence", Text),
    Column("missing_runs", Integer, nullable=False),  # complete runs of its branch since it last ran
    Column("removed", Boolean, nullable=False),
    Column("renamed_to", Text),  # a removed test's likely new name (display_name)
    Column("broken", Boolean, nullable=False),
    Column("computed_at", TS, nullable=False),
    PrimaryKeyConstraint("test_id", "project", "branch"),
)
Index("ix_test_history_name", test_history.c.name)
INSIGHT_TABLES += (test_history,)
# ---------------------------------------------------------------- end insights


# ---------------------------------------------------------------- changes and patch coverage
# The lines a run's change adds or modifies (a diff it sent), per file, and the patch coverage
# computed from them and the run's merged coverage.
run_changes = Table(
    "run_changes",
    metadata,
    Column("report_sha256", String(64), nullable=False),
    Column("seq", Integer, nullable=False),  # the file's place in the diff
    Column("run_id", String(40), nullable=False),
    Column("file", Text, nullable=False),  # as the diff names it, from the repository's root
    Column("lines", Text, nullable=False),  # added and modified lines, numbered after the change: '3-7,12'
    PrimaryKeyConstraint("report_sha256", "seq"),
)
Index("ix_run_changes_run", run_changes.c.run_id)

patch_coverage = Table(
    "patch_coverage",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("project", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("commit_sha", Text),
    Column("build", Text),
    Column("started_at", TS),
    Column("change_sha256", String(64), nullable=False),  # the diff it was computed from
    Column("files", Integer, nullable=False),  # files the change adds or modifies lines of
    Column("changed_lines", Integer, nullable=False),
    Column("measured_lines", Integer, nullable=False),  # of them, code the coverage measured
    Column("covered_lines", Integer, nullable=False),
    Column("pct", Float, nullable=False),  # covered over measured; 100 when no changed line is code
    Column("complete", Boolean, nullable=False),  # the run's coverage had all its shards
    Column("uncovered", Text),  # JSON: [{"file", "lines"}] the changed code no test ran
    Column("fingerprint", String(40), nullable=False),  # of the diff and the coverage it was computed from
    Column("computed_at", TS, nullable=False),
)
Index("ix_patch_coverage_project_branch", patch_coverage.c.project, patch_coverage.c.branch)
CHANGE_TABLES = (run_changes, patch_coverage)


# Tables a result report's rows live in (delete-then-insert by report keeps loads idempotent).
RESULT_TABLES = (test_attempts, test_results)
# Every table whose rows come from one report: a quarantined report leaves none behind.
# In deletion order: profile_events finds its rows through profile_sources, which goes after it.
PER_REPORT_TABLES = RESULT_TABLES + COVERAGE_TABLES + (run_changes, profile_events, profile_outbox, profile_sources)


def report_rows(table: Table, shas):
    """Condition on `table` for the rows of the reports `shas` (a list, or a select of sha256
    values): report_sha256 in most tables, through profile_sources for profile_events."""
    if table is profile_events:
        sources = select(profile_sources.c.id).where(profile_sources.c.report_sha256.in_(shas))
        return profile_events.c.source_id.in_(sources)
    return table.c.report_sha256.in_(shas)


def report_column(table: Table):
    """(what to select from, its report sha256 column) for a per-report table."""
    if table is profile_events:
        return (profile_events.join(profile_sources, profile_sources.c.id == profile_events.c.source_id),
                profile_sources.c.report_sha256)
    return table, table.c.report_sha256
