"""Flaky tests: which tests are flaky, and what is the evidence (`flaky_tests`, `no_new_flaky_tests`)."""

import dagster as dg
from sqlalchemy import select

from crossbridge_assets.analysis import display_name, flaky, records
from crossbridge_assets.defs.common import STORAGE_RETRY, WAREHOUSE_KIND, WarehouseResource, md_table, shorten, storage_faults
from crossbridge_assets.defs.insights.common import (
    AUTOMATION, GROUP, WINDOW_DAYS, days_held_back, held_back_metadata, leave_out, window_start,
)
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now, replace_table
from crossbridge_assets.warehouse.insights import result_frame

OWNERS = ["team:qa-platform"]
TOP = 15  # flaky tests shown in the materialization's table

FLAKY_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("project", "text"),
        dg.TableColumn("branch", "text"),
        dg.TableColumn("test_id", "text", description="stable test identity across runs and formats"),
        dg.TableColumn("name", "text"),
        dg.TableColumn("runs", "int", description="runs it passed or failed in (skipped ones do not count)"),
        dg.TableColumn("retry_runs", "int", description="runs it passed in on a retry"),
        dg.TableColumn("same_commit", "int", description="commits it both failed and passed on"),
        dg.TableColumn("flips", "int", description="outcomes that changed and changed back within 3 runs"),
        dg.TableColumn("flaky_rate", "float", description="share of its runs that are evidence"),
        dg.TableColumn("flip_rate", "float", description="outcome changes / (runs - 1)"),
        dg.TableColumn("evidence", "text", description="the evidence, naming each run's build and CI link"),
        dg.TableColumn("first_evidence_at", "timestamp"),
        dg.TableColumn("last_evidence_at", "timestamp"),
        dg.TableColumn("flagged_on", "text", description="arrival day from which the rules flag it"),
    ]
)

TABLE_COLUMNS = ["test", "environment", "flaky_rate", "runs", "flaky_since", "evidence"]


def _test_label(row: dict) -> str:
    return display_name(row.get("suite"), row["name"], row.get("parameters"))


def _table_rows(rows: list[dict]) -> list[dict]:
    return [{"test": _test_label(r), "environment": f"{r['project']}/{r['branch']}",
             "flaky_rate": f"{r['flaky_rate']:.0%}", "runs": r["runs"], "flaky_since": r["flagged_on"],
             "evidence": r["evidence"]} for r in rows]


@dg.asset(
    deps=[test_results],
    group_name=GROUP,
    kinds={"python", "pandas", WAREHOUSE_KIND},
    owners=OWNERS,
    retry_policy=STORAGE_RETRY,
    automation_condition=AUTOMATION,
    description=f"Tests that both pass and fail with no change to explain it, per project/branch over the last "
    f"{WINDOW_DAYS} days, with the evidence: passed on a retry, failed and passed on one commit, or flipped "
    "between runs; each naming the builds to open.",
    pool="warehouse",
)
def flaky_tests(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    held_back = days_held_back(context.instance)
    with storage_faults("finding flaky tests"):
        engine = warehouse.engine()
        results = leave_out(held_back, result_frame(engine, since=window_start()))
        found = flaky.detect(results)
        stamp = now()
        rows = records(found, computed_at=stamp)
        replace_table(engine, schema.flaky_tests, rows)
    tested = results[results["status"] != "skipped"] if len(results) else results
    new = [r for r in rows if r["flagged_on"] >= flaky.new_since(stamp.date())]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "dagster/column_schema": FLAKY_SCHEMA,
            # Plotted over time: how many tests are flaky, and how many of them by each kind of evidence.
            "flaky_tests": dg.MetadataValue.int(len(rows)),
            "new_flaky_tests": dg.MetadataValue.int(len(new)),
            "by_retry": dg.MetadataValue.int(sum(1 for r in rows if r["retry_runs"])),
            "by_same_commit": dg.MetadataValue.int(sum(1 for r in rows if r["same_commit"])),
            "by_flips": dg.MetadataValue.int(sum(1 for r in rows if r["flips"] >= flaky.RULES.min_flips)),
            "tests_in_window": dg.MetadataValue.int(
                int(tested[["project", "branch", "test_id"]].drop_duplicates().shape[0]) if len(tested) else 0),
            "window_days": dg.MetadataValue.int(WINDOW_DAYS),
            **held_back_metadata(held_back),
            "top_flaky_tests": dg.MetadataValue.md(
                md_table(_table_rows(rows[:TOP]), TABLE_COLUMNS, empty="_no flaky test in the window_")
            ),
        }
    )


@dg.asset_check(
    asset=flaky_tests,
    name="no_new_flaky_tests",
    description=f"No test became flaky lately: none was first flagged on a report that arrived today or in the "
    f"{flaky.NEW_DAYS} day(s) before (a test flaky for longer within the last {WINDOW_DAYS} days is known, "
    "not new; one that shows no flakiness for that long and then does is new again).",
)
def no_new_flaky_tests(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    T = schema.flaky_tests
    since = flaky.new_since(now().date())
    with warehouse.engine().connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(T).where(T.c.flagged_on >= since).order_by(T.c.flaky_rate.desc(), T.c.project, T.c.branch, T.c.name)
        )]
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(rows)} test(s) became flaky since {since}: "
        + "; ".join(f"{shorten(_test_label(r))} on {shorten(r['project'] + '/' + r['branch'])}" for r in rows[:3])
        + (f"; and {len(rows) - 3} more" if len(rows) > 3 else "")
        if rows
        else f"no test became flaky since {since}",
        metadata={
            "new_flaky_tests": dg.MetadataValue.int(len(rows)),
            "since": dg.MetadataValue.text(since),
            "evidence": dg.MetadataValue.md(md_table(_table_rows(rows[:20]), TABLE_COLUMNS)),
            "what_to_do": "Open the builds named in the evidence and compare the failure with the passing run: "
            "a timeout, an order dependence or shared state is the usual cause. Fix the test, or quarantine it "
            "and file an issue. The check warns for the day a test is first flagged and the next, then passes "
            "unless another test became flaky; the test stays in flaky_tests while its evidence is in the window.",
        },
    )


defs = dg.Definitions(assets=[flaky_tests], asset_checks=[no_new_flaky_tests])
