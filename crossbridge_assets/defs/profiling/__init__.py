"""Profiling: `profiling_events[day]`, delivery to InfluxDB, duration baselines and regressions."""


import heapq
from collections import Counter
from itertools import chain

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from crossbridge_assets import ops_settings
from crossbridge_assets.analysis import records, regressions
from crossbridge_assets.defs.common import (
    AFTER_INGESTION,
    STORAGE_RETRY,
    WAREHOUSE_KIND,
    WINDOW_DAYS,
    WarehouseResource,
    batch_of,
    check_result,
    daily,
    load_each,
    md_table,
    quarantine_check,
    run_context,
    shorten,
    storage_faults,
    warnings_check,
    window_since,
)
from crossbridge_assets.defs.landing import INGEST_TAG, landed_reports
from crossbridge_assets.delivery import health as delivery_health
from crossbridge_assets.delivery import influx
from crossbridge_assets.delivery.outbox import backlog, drain
from crossbridge_assets.formats import open_report
from crossbridge_assets.hooks.reports import REPORT_FRAMEWORKS, report_span_stream
from crossbridge_assets.log import bound, get_logger
from crossbridge_assets.model import KIND_PROFILING, KIND_RESULTS
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import is_storage_fault, now, replace_table
from crossbridge_assets.warehouse.landing import ReportGone
from crossbridge_assets.warehouse.profiling import (
    load_profile,
    span_frame,
)
from crossbridge_assets.warehouse.queries import reports_for

GROUP = "profiling"
OWNERS = ["team:qa-platform"]

# InfluxDB away: retried with exponential backoff and jitter (≈10 s, 20 s, 40 s, 80 s, 160 s),
# on top of the few quick retries the drain makes itself.
INFLUX_RETRY = dg.RetryPolicy(max_retries=5, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# Checked at load time, like defs.common.SETTINGS: a wrong variable stops the code location with
# a message naming it. Steps read the environment again when they run (the same in a deployment).
INFLUX_AT_LOAD = influx.load_config()


def _influx() -> "influx.InfluxConfig | None":
    return influx.load_config()


EVENTS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("source_id", "int", description="event file the span came from (profile_sources.id, "
                       "whose report_sha256 names the report: its run and arrival day are there)"),
        dg.TableColumn("seq", "int", description="position of the span in the file"),
        dg.TableColumn("test_id", "text", description="test identity the span belongs to"),
        dg.TableColumn("kind", "text", description="session, test, setup, call, teardown, step, keyword, http, driver_command, navigation"),
        dg.TableColumn("name", "text", description="test node id, HTTP method + host + path template, WebDriver command…"),
        dg.TableColumn("start", "timestamp"),
        dg.TableColumn("duration", "float", description="seconds"),
        dg.TableColumn("status", "text", description="test outcome, HTTP status code, ok/error"),
        dg.TableColumn("attributes", "text", description="JSON"),
        dg.TableColumn("span_id", "text"),
        dg.TableColumn("parent_id", "text", description="the span this one ran inside"),
    ]
)


def _slowest_rows(items) -> list[dict]:
    return [{"kind": k, "span": n, "seconds": round(d, 3)} for d, k, n in items]


@dg.asset(
    partitions_def=daily,
    deps=[landed_reports],
    group_name=GROUP,
    kinds={"python", WAREHOUSE_KIND, "influxdb"},
    tags=INGEST_TAG,
    owners=OWNERS,
    retry_policy=STORAGE_RETRY,
    description="Timed spans (tests, phases, steps, HTTP calls, WebDriver commands) from that day's "
    "profiling event files and Playwright JSON / mochawesome result reports, queued for InfluxDB when it is configured.",
    pool="warehouse",
)
def profiling_events(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    partition = context.partition_key
    batch = batch_of(context)
    log = get_logger("performance")
    bad: list[dict] = []
    crashed: list[dict] = []
    underived: list[dict] = []
    loaded: list = []  # load summaries of event files
    derived: list = []  # and of result reports whose spans were derived
    config = _influx()
    with run_context(context), storage_faults("loading profiling events"):
        landing = warehouse.landing()
        engine = landing.engine
        each = load_each(
            landing, partition, KIND_PROFILING, batch,
            lambda report: load_profile(engine, report, open_report(report.archive_path), outbox=config is not None),
            bad,
        )
        for report, summary in each:
            log.info("profiling events loaded", spans=summary.spans, queued=summary.outbox_rows,
                     warnings=len(summary.warnings))
            loaded.append(summary)
            if summary.complete is False:
                crashed.append({"file": report.original_name, "spans": summary.spans,
                                "warning": "; ".join(summary.warnings)})
        # Playwright-JS and Cypress need no hook: their result reports carry the timings. The
        # report stays the results load's (its row, its quarantine); only its spans are added.
        for report in reports_for(engine, partition, KIND_RESULTS, batch, formats=REPORT_FRAMEWORKS):
            with bound(report=report.original_name):
                try:
                    summary = load_profile(engine, report, report_span_stream(report.archive_path, report.format),
                                           outbox=config is not None, record=False)
                except ReportGone:
                    continue  # superseded or quarantined by another run since it was listed
                except Exception as exc:
                    if is_storage_fault(exc):
                        raise  # the warehouse failed, not the report: as for every other load
                    underived.append({"file": report.original_name, "reason": f"{type(exc).__name__}: {exc}"[:200]})
                    log.warning("no spans derived from a result report", reason=str(exc)[:200])
                    continue
            derived.append(summary)
        with engine.connect() as conn:
            E, R = schema.profile_events, schema.reports
            day_rows = conn.execute(
                select(func.count()).select_from(E).where(
                    schema.report_rows(E, select(R.c.sha256).where(R.c.partition == partition))
                )
            ).scalar_one()

    summaries = loaded + derived
    spans = sum(summary.spans for summary in summaries)
    queued = sum(summary.outbox_rows - summary.kept_delivered for summary in summaries)
    by_kind: Counter = Counter()
    for summary in summaries:
        by_kind.update(summary.by_kind)
    slowest = heapq.nlargest(10, chain.from_iterable(summary.slowest for summary in summaries))
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(day_rows),
        "dagster/column_schema": EVENTS_SCHEMA,
        "reports_loaded": dg.MetadataValue.int(len(loaded)),
        "reports_quarantined": dg.MetadataValue.int(len(bad)),
        "result_reports_with_spans": dg.MetadataValue.int(len(derived)),
        "spans_written": dg.MetadataValue.int(spans),
        "queued_for_influxdb": dg.MetadataValue.int(queued),
        "influxdb": dg.MetadataValue.text(config.target if config else "not configured (CROSSBRIDGE_INFLUX_URL unset)"),
        "spans_by_kind": dg.MetadataValue.md(
            md_table([{"kind": k, "spans": n} for k, n in by_kind.most_common()], ["kind", "spans"])
        ),
        "slowest_spans": dg.MetadataValue.md(md_table(_slowest_rows(slowest), ["kind", "span", "seconds"])),
        "unfinished_sessions": dg.MetadataValue.md(md_table(crashed, ["file", "spans", "warning"])),
        "quarantined_files": dg.MetadataValue.md(md_table(bad, ["file", "reason"])),
        "result_reports_without_spans": dg.MetadataValue.md(md_table(underived, ["file", "reason"])),
    }
    for kind in ("test", "http", "driver_command"):
        metadata[f"spans_{kind}"] = dg.MetadataValue.int(by_kind.get(kind, 0))
    return dg.MaterializeResult(metadata=metadata)


event_parse_errors = quarantine_check(
    profiling_events,
    kind=KIND_PROFILING,
    noun="event file",
    description="No profiling event file of the day was unreadable (a file that does not start with a "
    "CrossBridge events header, or broken JSON before its last line).",
    what_to_do="Event files come from the CrossBridge hooks; a quarantined one was cut or edited. "
    "Fix or regenerate it and drop it into the inbox again.",
)

event_file_warnings = warnings_check(
    profiling_events,
    KIND_PROFILING,
    name="unfinished_sessions",
    noun="event file",
    counts="the spans up to there are kept",
    description="Every event file was complete: no session crashed or was killed mid-write "
    "(its spans up to there are kept).",
    what_to_do="A session that ended without its end line crashed or was killed (a CI timeout, an out-of-memory "
    "kill): its job's log says which; nothing to resend.",
)


# ---------------------------------------------------------------------------- InfluxDB delivery

# Delivery is an asset of its own rather than a step inside profiling_events: the lineage reads
# "spans -> InfluxDB", its history shows what went out and how fast, an InfluxDB outage shows as
# a failed (and retried) delivery while the spans' ingestion stays green, and the backlog checks
# sit on it. It runs after every ingestion and, through influxdb_outbox_sensor, whenever points
# are still waiting (after an outage).
@dg.asset(
    deps=[profiling_events],
    group_name=GROUP,
    kinds={"influxdb"},
    owners=OWNERS,
    retry_policy=INFLUX_RETRY,
    automation_condition=AFTER_INGESTION if INFLUX_AT_LOAD else None,
    description="Spans delivered to InfluxDB from the warehouse outbox; points are marked delivered only "
    "once InfluxDB acknowledged them, so an outage loses nothing and delivery resumes by itself.",
    pool="warehouse",
)
def influxdb_delivery(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    log = get_logger("persistence")
    engine = warehouse.engine()
    config = _influx()
    if config is None:
        left = backlog(engine)
        return dg.MaterializeResult(
            metadata={
                "influxdb": dg.MetadataValue.text("not configured (set CROSSBRIDGE_INFLUX_URL to deliver)"),
                "delivered": dg.MetadataValue.int(0),
                "pending": dg.MetadataValue.int(left.pending),
            }
        )
    client = influx.make_client(config)
    try:
        result = drain(engine, client)
    except influx.InfluxConfigError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    finally:
        client.close()
    left = backlog(engine)
    log.info("influxdb delivery", delivered=result.delivered, rejected=result.rejected, pending=left.pending,
             points_per_second=result.points_per_second, error=result.error)
    if result.error:
        # Raising hands the wait to the RetryPolicy; what was delivered so far stays delivered.
        raise dg.Failure(
            description=f"InfluxDB did not take the points ({result.error}); {result.delivered} delivered, "
            f"{left.pending} waiting in the outbox and retried with backoff.",
            metadata={"delivered": result.delivered, "pending": left.pending},
            allow_retries=True,
        )
    return dg.MaterializeResult(
        metadata={
            "influxdb": dg.MetadataValue.text(config.target),
            "delivered": dg.MetadataValue.int(result.delivered),
            "rejected": dg.MetadataValue.int(result.rejected),
            "pending": dg.MetadataValue.int(left.pending),
            "delivered_total": dg.MetadataValue.int(left.delivered),
            "write_requests": dg.MetadataValue.int(result.requests),
            "points_per_second": dg.MetadataValue.float(float(result.points_per_second)),
            "rejections": dg.MetadataValue.md(md_table(result.rejections, ["span", "reason"])),
        }
    )


@dg.asset_check(
    asset=influxdb_delivery,
    description="InfluxDB answers and the database/bucket exists (not configured: spans stay in the warehouse only).",
)
def influxdb_reachable() -> dg.AssetCheckResult:
    return check_result(delivery_health.influxdb_reachable())


@dg.asset_check(
    asset=influxdb_delivery,
    description=f"The outbox is drained: no point waits for InfluxDB longer than "
    f"{delivery_health.BACKLOG_MAX_AGE_MINUTES} minutes and none was refused.",
)
def outbox_backlog(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_result(delivery_health.outbox_backlog(warehouse.engine()))


@dg.sensor(
    target=[influxdb_delivery],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a delivery to InfluxDB while points wait in the outbox (resumes after an outage).",
)
def influxdb_outbox_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    if _influx() is None:
        return dg.SkipReason("InfluxDB is not configured (CROSSBRIDGE_INFLUX_URL is unset)")
    b = backlog(warehouse.engine())
    if not b.pending:
        return dg.SkipReason("the outbox is empty")
    running = context.instance.get_run_records(
        dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                      dg.DagsterRunStatus.STARTED],
            tags={"crossbridge/delivery": "influxdb"},
        ),
        limit=1,
    )
    if running:
        return dg.SkipReason(f"{b.pending} point(s) waiting; a delivery is already running")
    return dg.RunRequest(tags={"crossbridge/delivery": "influxdb"})


# ---------------------------------------------------------------------------- analytics


BASELINE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("kind", "text"),
        dg.TableColumn("name", "text"),
        dg.TableColumn("environment", "text", description="project/branch"),
        dg.TableColumn("runs", "int", description="runs in the window"),
        dg.TableColumn("median", "float", description="seconds, median of the per-run values"),
        dg.TableColumn("mad", "float", description="median absolute deviation, seconds"),
        dg.TableColumn("p50", "float", description="seconds, over individual spans"),
        dg.TableColumn("p95", "float", description="seconds, over individual spans"),
    ]
)


def _rounded(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    rows = records(frame)
    for row in rows:
        for c in columns:
            if isinstance(row.get(c), float):
                row[c] = round(row[c], 3)
    return rows


@dg.asset(
    deps=[profiling_events],
    group_name=GROUP,
    kinds={"python", "pandas", WAREHOUSE_KIND},
    owners=OWNERS,
    automation_condition=AFTER_INGESTION,
    description=f"How long each test, step, HTTP endpoint and WebDriver command usually takes per project/branch "
    f"over the last {WINDOW_DAYS} days: median, MAD, p50, p95; and the slowest of each.",
    pool="warehouse",
)
def duration_baselines(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with storage_faults("computing duration baselines"):
        engine = warehouse.engine()
        window = span_frame(engine, since=window_since())
        spans = regressions.timed(window)
        table = regressions.baselines(spans)
        rows = records(table, computed_at=now())
        replace_table(engine, schema.profile_baselines, rows)
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(rows)),
        "dagster/column_schema": BASELINE_SCHEMA,
        "spans_in_window": dg.MetadataValue.int(len(spans)),
        # Skipped, failed, errored: how a span stopped, not how long the work takes.
        "untimed_spans_left_out": dg.MetadataValue.int(len(window) - len(spans)),
        "window_days": dg.MetadataValue.int(WINDOW_DAYS),
    }
    columns = ["kind", "name", "environment", "calls", "p50", "p95", "max"]
    for category, kinds in regressions.CATEGORIES.items():
        top = regressions.slowest(spans, kinds)
        metadata[f"slowest_{category}"] = dg.MetadataValue.md(
            md_table(_rounded(top, ["p50", "p95", "max"]), columns, empty=f"_no {category.replace('_', ' ')} recorded_")
        )
        chosen = spans[spans["kind"].isin(kinds)]["duration"]
        if len(chosen):
            # Plotted over time in the UI: one figure per category.
            metadata[f"{category}_p50_seconds"] = dg.MetadataValue.float(round(float(chosen.quantile(0.5)), 4))
            metadata[f"{category}_p95_seconds"] = dg.MetadataValue.float(round(float(chosen.quantile(0.95)), 4))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[duration_baselines],
    group_name=GROUP,
    kinds={"python", "pandas", WAREHOUSE_KIND},
    owners=OWNERS,
    automation_condition=AFTER_INGESTION,
    description="Tests, steps, endpoints and WebDriver commands that got slower in their latest run, each with "
    "the rule that caught it and its evidence (5x slower, a robust z-score, or a gradual creep).",
    pool="warehouse",
)
def performance_regressions(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with storage_faults("detecting performance regressions"):
        engine = warehouse.engine()
        spans = regressions.timed(span_frame(engine, since=window_since()))
        found = regressions.detect(spans, forks=regressions.fork_points(spans, ops_settings.load().default_branches))
        rows = records(found, detected_at=now())
        for row in rows:
            if row.get("ratio") is not None and row["ratio"] == float("inf"):
                row["ratio"] = None
        replace_table(engine, schema.profile_regressions, rows)
    by_rule = Counter(found["rule"]) if len(found) else Counter()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "regressions": dg.MetadataValue.int(len(found.drop_duplicates(regressions.KEY)) if len(found) else 0),
            **{f"by_{rule}": dg.MetadataValue.int(by_rule.get(rule, 0)) for rule in ("ratio", "robust_z", "change_point")},
            "top_regressions": dg.MetadataValue.md(
                md_table(_rounded(found.head(15), ["value", "baseline", "ratio", "score"]),
                         ["kind", "name", "environment", "rule", "evidence"])
            ),
        }
    )


@dg.asset_check(
    asset=performance_regressions,
    name="no_performance_regressions",
    description="No test, step, endpoint or WebDriver command got slower in its latest run.",
)
def performance_regressions_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    T = schema.profile_regressions
    with warehouse.engine().connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(T).order_by(T.c.ratio.desc()))]
    keys = {(r["kind"], r["name"], r["environment"]) for r in rows}
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(keys)} span(s) got slower: " + "; ".join(f"{shorten(r['name'])} ({r['rule']}): {shorten(r['evidence'], 400)}" for r in rows[:3])
        if rows
        else "no regression in the latest runs",
        metadata={
            "regressions": dg.MetadataValue.int(len(keys)),
            "evidence": dg.MetadataValue.md(md_table(rows[:20], ["kind", "name", "environment", "rule", "evidence"])),
            "what_to_do": "Open the run named in the evidence; compare its spans with an earlier run of the same branch "
                          "(for a branch's first runs: with its default branch, where it started).",
        },
    )


defs = dg.Definitions(
    assets=[profiling_events, influxdb_delivery, duration_baselines, performance_regressions],
    asset_checks=[event_parse_errors, event_file_warnings, influxdb_reachable, outbox_backlog,
                  performance_regressions_check],
    sensors=[influxdb_outbox_sensor],
)
