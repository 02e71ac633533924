"""What every domain of the Dagster layer shares: the storage resource, the daily partitions,
the retry policy for storage, and the line between transient and permanent faults."""


import contextlib
import os
import re
from datetime import datetime, timedelta
from typing import Iterator, Optional

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError

from crossbridge_assets import settings as settings_mod
from crossbridge_assets.formats import FormatError
from crossbridge_assets.log import bound, get_logger
from crossbridge_assets.warehouse.engine import is_storage_fault, is_transient, make_engine, migrate, now
from crossbridge_assets.warehouse.health import Finding
from crossbridge_assets.warehouse.landing import Landing, ReportGone
from crossbridge_assets.warehouse.queries import (
    quarantined,
    reports_for,
    reports_with_warnings,
)

# Fail fast at load time: a wrong variable stops `dagster dev` with a message naming it.
SETTINGS = settings_mod.load()

daily = dg.DailyPartitionsDefinition(start_date=SETTINGS.partition_start, end_offset=1, timezone="UTC")

# Storage faults are retried with exponential backoff and jitter; permanent faults raise
# dg.Failure(allow_retries=False) through `storage_faults`.
STORAGE_RETRY = dg.RetryPolicy(max_retries=4, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

WAREHOUSE_KIND = "postgres" if SETTINGS.is_postgres else "sqlite"

# Days of history the analytics look at: insights, profiling baselines and regressions, and the
# branches the coverage checks judge.
WINDOW_DAYS = 30


def window_since() -> datetime:
    """The start of the analytics' window (now, less WINDOW_DAYS)."""
    return now() - timedelta(days=WINDOW_DAYS)

# Unpartitioned analytics follow ingestion by themselves. `eager()` would wait for every daily
# partition upstream to exist; these only need "something upstream changed, nothing is running".
AFTER_INGESTION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after ingestion")
BATCH_TAG = "crossbridge/batch"
# Assets carrying this tag are part of the ingestion job the sensor and the CLI start.
INGEST_TAG = {"crossbridge/ingest": "true"}
# A run in one of these may still land or load its batch: it is not asked for again.
NOT_FINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]

_migrated: set[str] = set()


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse and the landing folders. Values left empty come from the environment."""

    home: Optional[str] = None
    warehouse_url: Optional[str] = None

    def settings(self) -> settings_mod.Settings:
        env = dict(os.environ)
        if self.home:
            env["CROSSBRIDGE_HOME"] = self.home
        if self.warehouse_url:
            env["CROSSBRIDGE_WAREHOUSE_URL"] = self.warehouse_url
        return settings_mod.load(env)

    def engine(self) -> Engine:
        s = self.settings()
        engine = make_engine(s.warehouse_url)
        if s.warehouse_url not in _migrated:
            migrate(engine)
            _migrated.add(s.warehouse_url)
        return engine

    def landing(self) -> Landing:
        s = self.settings()
        s.ensure_folders()
        return Landing(s, self.engine())


@contextlib.contextmanager
def storage_faults(what: str) -> Iterator[None]:
    """Let transient faults through to the RetryPolicy; turn anything else into a Failure
    that is not retried (retrying a bug or bad data only delays the same error)."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise dg.Failure(description=f"{what}: {type(exc).__name__}: {exc}", allow_retries=False) from exc


def load_each(landing: Landing, partition: str, kind: str, batch: str | None, load, bad: list[dict]):
    """Yield (report, load(report)) for every landed report of `kind` of the day (or of the
    sensor batch). A report that cannot be read is quarantined with its reason, noted in `bad`,
    and the rest go on; transient storage faults propagate to the RetryPolicy."""
    for report in reports_for(landing.engine, partition, kind, batch):
        with bound(report=report.original_name):
            try:
                summary = load(report)
            except ReportGone as gone:
                # Another run superseded or quarantined it since its row was read: that run's
                # word stands, the file is not this run's to quarantine.
                get_logger("execution").info("report no longer landed, not loaded", status=gone.status)
                continue
            except Exception as exc:
                if not isinstance(exc, FormatError) and is_storage_fault(exc):
                    # The warehouse failed, not the report: it stays landed and the step fails
                    # (transient faults are retried), to be run again once storage is back.
                    get_logger("execution").error("warehouse could not take the report", error=str(exc).splitlines()[0])
                    raise
                # A parser bug on one file must not lose the rest of the batch either.
                reason = exc.reason if isinstance(exc, FormatError) else f"could not be parsed: {type(exc).__name__}: {exc}"
                if isinstance(exc, StatementError) and exc.orig is not None:
                    # A value the database refused (a limit of it): its own first line, not the
                    # statement and its parameters.
                    said = str(exc.orig).strip().splitlines()
                    reason = f"the warehouse refused it: {type(exc.orig).__name__}: {said[0] if said else ''}"
                if not landing.quarantine_report(report.sha256, reason):
                    get_logger("execution").info("report no longer landed, not loaded", reason=reason)
                    continue
                bad.append({"file": report.original_name, "reason": reason})
                if not isinstance(exc, FormatError):
                    get_logger("execution").exception("parser failed", report=report.original_name)
                continue
            yield report, summary


def run_name(run: dict) -> str:
    """A CI run (a row with build, commit_sha and run_id) as CI names it: its build, else its
    commit (a run id is a hash of ours, which a reader would take for a commit)."""
    if run.get("build"):
        return f"#{run['build']}"
    if run.get("commit_sha"):
        return f"@{run['commit_sha'][:12]}"
    return f"run {run['run_id']}"


def run_label(run: dict) -> str:
    return f"{run['project']}/{run['branch']} {run_name(run)}"


def batch_of(context) -> str | None:
    """The sensor batch a run ingests, or None for a whole-day materialization or backfill."""
    return context.run.tags.get(BATCH_TAG) or None


def partition_of(context) -> str | None:
    """The day a run works on; checks read it from the run, which carries it as a tag."""
    if getattr(context, "has_partition_key", False):
        return context.partition_key
    return context.run.tags.get("dagster/partition")


@contextlib.contextmanager
def run_context(context) -> Iterator[None]:
    """Bind partition and run id to every log event of the step."""
    partition = context.partition_key if context.has_partition_key else None
    with bound(partition=partition, run_id=context.run.run_id):
        yield


# What would end a table row (CommonMark breaks lines at CR as at LF: Windows messages).
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
# What the UI's markdown (GitHub-flavoured) would take for markup inside a cell: a cell border, a
# code span, an escape, and emphasis or strikethrough delimiters that touch text. Underscores
# between two letters or digits never delimit (test_names, dorny__report keep theirs);
# `__init__` does.
_MARKUP = re.compile(r"[\\`|]|(?<!_)(?:(?<![^\W_])_++|_++(?![^\W_]))|(?<=\S)[*~]|[*~](?=\S)")
CELL_CHARS = 160


def shorten(value, limit: int = CELL_CHARS) -> str:
    """A value as text of at most `limit` characters, a long one cut in the middle (two long
    test names differ at their end): a name in a check's description or a table cell."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        keep = limit - 1
        text = text[: keep - keep // 3] + "…" + text[-(keep // 3):]
    return text


def md_cell(value) -> str:
    """A value as one table cell that renders as the text itself: on one line, markup escaped,
    a long one cut in the middle."""
    text = shorten(None if value is None else _LINE_BREAKS.sub(" ", str(value)))
    return _MARKUP.sub(lambda m: "".join("\\" + c for c in m.group(0)), text)


# Rows of a metadata table: a warehouse of 40 projects and thousands of branches made tables of
# every branch (megabytes stored with each materialization, unreadable in the UI).
TABLE_ROWS = 50


def md_table(rows: list[dict], columns: list[str], empty: str = "_none_", limit: int | None = None) -> str:
    """A short markdown table for materialization metadata: the first `limit` rows (TABLE_ROWS),
    and how many more there are."""
    if not rows:
        return empty
    limit = TABLE_ROWS if limit is None else limit
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md_cell(r.get(c)) for c in columns) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n_… and {len(rows) - limit} more ({len(rows)} in all)_")
    return "\n".join(lines)


def check_result(finding: Finding) -> dg.AssetCheckResult:
    """A Finding as the UI shows it: one-line description, figures, what to do, offending rows."""
    metadata: dict = {}
    for key, value in finding.figures.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            metadata[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            metadata[key] = dg.MetadataValue.float(value)
        else:
            metadata[key] = dg.MetadataValue.text(str(value))
    if finding.what_to_do:
        metadata["what_to_do"] = dg.MetadataValue.text(finding.what_to_do)
    if finding.columns:
        metadata["details"] = dg.MetadataValue.md(md_table(finding.rows, finding.columns))
    return dg.AssetCheckResult(
        passed=finding.passed,
        severity=dg.AssetCheckSeverity(finding.severity),
        description=finding.summary,
        metadata=metadata,
    )


def quarantine_check(asset, description: str, what_to_do: str, kind: str | None = None, noun: str = "report",
                     name: str = "parse_errors", unknown: bool = False) -> dg.AssetChecksDefinition:
    """WARN when reports of the day (of `kind`; with `unknown`, also those of no known format
    or manifest) were quarantined, naming each file and its reason."""

    @dg.asset_check(asset=asset, name=name, description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        rows = [{"file": r.original_name, "reason": r.reason, "kept_at": r.archive_path}
                for r in quarantined(warehouse.engine(), partition_of(context), kind=kind, unknown=unknown)]
        return dg.AssetCheckResult(
            passed=not rows,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(rows)} {noun}(s) quarantined: "
            + "; ".join(f"{shorten(r['file'])}: {shorten(r['reason'], 400)}" for r in rows[:5])
            if rows
            else f"every {noun} of the day was readable",
            metadata={
                "quarantined": dg.MetadataValue.int(len(rows)),
                "files": dg.MetadataValue.md(md_table(rows, ["file", "reason", "kept_at"])),
                "what_to_do": what_to_do,
            },
        )

    return _check


def warnings_check(asset, kind: str, name: str, description: str, what_to_do: str, noun: str = "report",
                   counts: str = "the content is what counts") -> dg.AssetChecksDefinition:
    """WARN when reports of the day were read with warnings, quoting them (a declared-totals
    disagreement names the figures declared and those the file holds) and saying what to do."""

    @dg.asset_check(asset=asset, name=name, description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        found = reports_with_warnings(warehouse.engine(), partition_of(context), kind)
        return dg.AssetCheckResult(
            passed=not found,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(found)} {noun}(s) read with warnings; {counts}: "
            + "; ".join(f"{shorten(r['file'])}: {shorten(r['warning'], 400)}" for r in found[:3])
            + f". {what_to_do}"
            if found
            else f"every {noun} was read without warnings",
            metadata={
                "reports": dg.MetadataValue.md(md_table(found, ["file", "warning"])),
                **({"what_to_do": dg.MetadataValue.text(what_to_do)} if found else {}),
            },
        )

    return _check
