"""failure_clusters: which failures share one root cause."""

import dagster as dg

from crossbridge_assets.analysis import clusters as analysis, records
from crossbridge_assets.defs.common import STORAGE_RETRY, WAREHOUSE_KIND, WarehouseResource, md_table, storage_faults
from crossbridge_assets.defs.insights.common import (
    AUTOMATION, GROUP, WINDOW_DAYS, days_held_back, held_back_metadata, leave_out, window_start,
)
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now, replace_tables
from crossbridge_assets.warehouse.insights import failure_frame

TOP = 10  # clusters in the metadata table

CLUSTERS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("cluster_id", "text", description="stable id of the signature"),
        dg.TableColumn("signature", "text", description="type: message with volatile parts as <n>, <uuid>, <tmp>… @ innermost own frame"),
        dg.TableColumn("tests", "int", description="distinct tests that failed this way"),
        dg.TableColumn("occurrences", "int", description="failing results (a test in a run)"),
        dg.TableColumn("attempts", "int", description="failed attempts, retries included"),
        dg.TableColumn("runs", "int"),
        dg.TableColumn("projects", "text"),
        dg.TableColumn("passed_on_retry", "int", description="occurrences whose test passed on a retry"),
        dg.TableColumn("first_seen", "timestamp"),
        dg.TableColumn("last_seen", "timestamp"),
        dg.TableColumn("example_message", "text", description="a real message of the latest occurrence"),
        dg.TableColumn("example_build", "text", description="its CI build (example_ci_url links to it)"),
    ]
)


def _build(row: dict) -> str:
    build = row.get("example_build") or (row.get("example_run_id") or "")[:12]
    where = f"{row.get('example_project')}/{row.get('example_branch')} #{build}"
    return f"[{where}]({row['example_ci_url']})" if row.get("example_ci_url") else where


def _table(rows: list[dict]) -> str:
    shown = [
        {
            "signature": r["signature"],
            "example message": r["example_message"],
            "tests": r["tests"] if r["tests"] == 1 else f"{r['tests']}: {r['example_tests']}",
            "occurrences": r["occurrences"],
            "runs": r["runs"],
            "first seen": r["first_seen"].strftime("%Y-%m-%d %H:%M"),
            "last seen": r["last_seen"].strftime("%Y-%m-%d %H:%M"),
            "latest run": _build(r),
        }
        for r in rows[:TOP]
    ]
    columns = ["signature", "example message", "tests", "occurrences", "runs", "first seen", "last seen", "latest run"]
    return md_table(shown, columns, empty="_no failure in the window_")


@dg.asset(
    deps=[test_results],
    group_name=GROUP,
    kinds={"python", "pandas", WAREHOUSE_KIND},
    automation_condition=AUTOMATION,
    retry_policy=STORAGE_RETRY,
    description=f"Failures that share one root cause over the last {WINDOW_DAYS} days: failed attempts grouped by "
    "exception type, message without its volatile parts and the innermost frame of the project's own code, "
    "across tests, runs, projects and report formats.",
    pool="warehouse",
)
def failure_clusters(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    held_back = days_held_back(context.instance)
    with storage_faults("clustering failures"):
        engine = warehouse.engine()
        failures = leave_out(held_back, failure_frame(engine, since=window_start()))
        clusters, members = analysis.cluster(failures)
        rows = records(clusters, computed_at=now())
        # Both tables at once: a reader never sees results pointing at missing clusters.
        replace_tables(engine, [(schema.failure_clusters, rows), (schema.failure_cluster_results, records(members))])
    shared = [r for r in rows if r["tests"] > 1]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "dagster/column_schema": CLUSTERS_SCHEMA,
            # Figures to plot over time.
            "clusters": dg.MetadataValue.int(len(rows)),
            "failures_clustered": dg.MetadataValue.int(len(members)),
            "clusters_across_tests": dg.MetadataValue.int(len(shared)),
            "failures_in_clusters_across_tests": dg.MetadataValue.int(sum(r["occurrences"] for r in shared)),
            "failed_attempts": dg.MetadataValue.int(len(failures)),
            "window_days": dg.MetadataValue.int(WINDOW_DAYS),
            **held_back_metadata(held_back),
            "largest_clusters": dg.MetadataValue.md(_table(rows)),
        }
    )


defs = dg.Definitions(assets=[failure_clusters])
