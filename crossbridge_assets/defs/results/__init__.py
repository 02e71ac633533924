"""Test results: `test_results[day]` and its quality checks."""


import dagster as dg
from sqlalchemy import func, select

from crossbridge_assets.defs.common import (
    STORAGE_RETRY,
    WAREHOUSE_KIND,
    WarehouseResource,
    batch_of,
    daily,
    load_each,
    md_table,
    quarantine_check,
    run_context,
    storage_faults,
    warnings_check,
)
from crossbridge_assets.defs.landing import INGEST_TAG, landed_reports
from crossbridge_assets.log import get_logger
from crossbridge_assets.model import KIND_RESULTS, ResultTotals
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.queries import day_totals
from crossbridge_assets.warehouse.results import load_archived_results

COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("report_sha256", "text", description="report the row came from"),
        dg.TableColumn("seq", "int", description="position of the test in the report"),
        dg.TableColumn("run_id", "text", description="CI run (project, branch, build)"),
        dg.TableColumn("test_id", "text", description="stable test identity across runs and formats"),
        dg.TableColumn("status", "text", description="passed | failed | error | skipped"),
        dg.TableColumn("duration", "float", description="seconds, all attempts"),
        dg.TableColumn("attempts", "int"),
        dg.TableColumn("flaky", "bool", description="passed after a failed attempt"),
        dg.TableColumn("message", "text"),
        dg.TableColumn("partition", "text", description="arrival day"),
    ]
)


@dg.asset(
    partitions_def=daily,
    deps=[landed_reports],
    group_name="results",
    kinds={"python", WAREHOUSE_KIND},
    tags=INGEST_TAG,
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    pool="warehouse",
    description="Every test and every attempt from that day's result reports, in one schema whatever the framework.",
)
def test_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    partition = context.partition_key
    batch = batch_of(context)
    log = get_logger("testing")
    failures: list[dict] = []
    slowest: list[tuple[float, str]] = []
    loaded = rows = 0
    bad: list[dict] = []
    with run_context(context), storage_faults("loading test results"):
        landing = warehouse.landing()
        engine = landing.engine
        each = load_each(
            landing, partition, KIND_RESULTS, batch,
            lambda report: load_archived_results(engine, report, landing.settings.coverage_source_roots), bad,
        )
        for report, summary in each:
            log.info("results loaded", tests=summary.totals.tests, failures=summary.totals.failures,
                     errors=summary.totals.errors, warnings=len(summary.warnings))
            loaded += 1
            rows += summary.rows
            failures.extend(summary.failures[: 20 - len(failures)])
            slowest = sorted(slowest + summary.slowest, reverse=True)[:10]
        # The day's figures (a sensor run brings one batch of it; the UI shows and plots the day).
        day = ResultTotals(**day_totals(engine, partition, KIND_RESULTS))
        TR = schema.test_results
        with engine.connect() as conn:
            day_rows = conn.execute(select(func.count()).select_from(TR).where(TR.c.partition == partition)).scalar_one()
            day_flaky = conn.execute(
                select(func.count()).select_from(TR).where(TR.c.partition == partition, TR.c.flaky.is_(True))
            ).scalar_one()

    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(day_rows),
            "dagster/column_schema": COLUMN_SCHEMA,
            "reports_loaded": dg.MetadataValue.int(loaded),
            "reports_quarantined": dg.MetadataValue.int(len(bad)),
            "rows_written": dg.MetadataValue.int(rows),
            "tests": dg.MetadataValue.int(day.tests),
            "passed": dg.MetadataValue.int(day.passed),
            "failures": dg.MetadataValue.int(day.failures),
            "errors": dg.MetadataValue.int(day.errors),
            "skipped": dg.MetadataValue.int(day.skipped),
            "flaky": dg.MetadataValue.int(day_flaky),
            # Passed over executed: a day where nothing ran (no test, or all skipped) has no pass
            # rate, a gap in the plot rather than a 100 % nothing earned.
            **({"pass_rate": dg.MetadataValue.float(float(day.pass_rate))} if day.tests > day.skipped else {}),
            "failed_tests": dg.MetadataValue.md(md_table(failures, ["test", "status", "message"])),
            "slowest_tests": dg.MetadataValue.md(
                md_table([{"test": t, "seconds": round(d, 3)} for d, t in slowest], ["test", "seconds"])
            ),
            "quarantined_files": dg.MetadataValue.md(md_table(bad, ["file", "reason"])),
        }
    )


parse_errors = quarantine_check(
    test_results,
    # Coverage and profiling files have checks of their own, beside their assets.
    kind=KIND_RESULTS,
    unknown=True,
    description="No report of the day was quarantined (unreadable, truncated, unknown format or a broken manifest).",
    what_to_do="Fix the producer or the file, drop it into the inbox again; "
    "files stay in the quarantine folder with their reason beside them.",
)

report_warnings = warnings_check(
    test_results,
    KIND_RESULTS,
    name="report_warnings",
    description="Reports were read without warnings (e.g. totals a report declares that contradict the tests it holds).",
    what_to_do="Where declared totals disagree, the figures shown count the tests the file holds: if it holds "
    "fewer than it declares, it was likely cut or trimmed on the way (or written while tests still ran), so send "
    "the whole report again; if not, its writer miscounts, which is worth reporting to that tool.",
)


defs = dg.Definitions(assets=[test_results], asset_checks=[parse_errors, report_warnings])
