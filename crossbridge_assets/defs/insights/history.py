"""Test history: each test's recent life on each project and branch (analysis.history), the base
for "is this test healthy, since when is it broken, did it get slower"."""

import dagster as dg
import pandas as pd

from crossbridge_assets.analysis import display_name, history, plain, records
from crossbridge_assets.defs.common import STORAGE_RETRY, WAREHOUSE_KIND, WarehouseResource, md_table, storage_faults
from crossbridge_assets.defs.insights.common import (
    AUTOMATION, GROUP, WINDOW_DAYS, days_held_back, held_back_metadata, leave_out, window_start,
)
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import index_text, now, replace_table
from crossbridge_assets.warehouse.insights import result_frame, run_frame

OWNERS = ["team:qa-platform"]
TOP = 15  # rows of each metadata table

HISTORY_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("test_id", "text", description="stable test identity (a parameterized case has its own)"),
        dg.TableColumn("project", "text"),
        dg.TableColumn("branch", "text"),
        dg.TableColumn("suite", "text"),
        dg.TableColumn("name", "text"),
        dg.TableColumn("parameters", "text", description="the case's parameters, kept apart from the name"),
        dg.TableColumn("runs", "int", description=f"runs of its branch it was in, last {WINDOW_DAYS} days"),
        dg.TableColumn("passed", "int"),
        dg.TableColumn("failed", "int"),
        dg.TableColumn("errors", "int"),
        dg.TableColumn("skipped", "int"),
        dg.TableColumn("passed_on_retry", "int", description="runs it passed only after a failed attempt"),
        dg.TableColumn("pass_rate", "float", description="passed / runs it executed in (skips left out)"),
        dg.TableColumn("last_status", "text", description="passed | failed | error | skipped"),
        dg.TableColumn("streak_status", "text", description="passed | failing | skipped: its latest runs agree on it"),
        dg.TableColumn("streak_runs", "int", description="how many runs the streak lasts"),
        dg.TableColumn("streak_since_build", "text", description="the run where the streak started"),
        dg.TableColumn("last_passed_build", "text"),
        dg.TableColumn("last_failed_build", "text"),
        dg.TableColumn("duration_median", "float", description="seconds, over the runs it passed"),
        dg.TableColumn("duration_p95", "float", description="seconds, over the runs it passed"),
        dg.TableColumn("duration_last", "float", description="seconds, its latest run"),
        dg.TableColumn("slower", "bool", description="its latest run is clearly slower than before (slower_evidence says how)"),
        dg.TableColumn("missing_runs", "int", description="complete runs of its branch since it last ran"),
        dg.TableColumn("removed", "bool", description="absent from its branch's latest runs: renamed, deleted or deselected"),
        dg.TableColumn("renamed_to", "text", description="a removed test's likely new name: the one new test of its suite in the next run"),
        dg.TableColumn("broken", "bool", description="failing in a row (or failing every time it ran)"),
    ]
)


def _seconds(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 3)


def _when(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _test(row) -> str:
    return display_name(row["suite"], row["name"], row["parameters"])


def broken_rows(table: pd.DataFrame) -> list[dict]:
    """The broken tests as the metadata table lists them: longest streak first."""
    broken = table.loc[table["broken"].astype(bool)].sort_values(["streak_runs", "project", "branch"], ascending=[False, True, True])
    return [
        {
            "project": r["project"], "branch": r["branch"], "test": _test(r),
            "failing_runs": f"{r['streak_runs']}+" if r["streak_from_window_start"] else r["streak_runs"],
            "since_build": r["streak_since_build"], "since": _when(r["streak_since_at"]),
            "ci_url": r["streak_since_ci_url"], "last_passed_build": plain(r["last_passed_build"]),
            "last_failure": plain(r["last_failure_message"]),
        }
        for _, r in broken.iterrows()
    ]


def slower_rows(table: pd.DataFrame) -> list[dict]:
    slower = table.loc[table["slower"].astype(bool)].assign(ratio=lambda t: t["duration_last"] / t["duration_median"])
    return [
        {
            "project": r["project"], "branch": r["branch"], "test": _test(r),
            "latest_s": _seconds(r["duration_last"]), "median_s": _seconds(r["duration_median"]),
            "build": r["last_build"], "ci_url": r["last_ci_url"], "evidence": r["slower_evidence"],
        }
        for _, r in slower.sort_values("ratio", ascending=False).iterrows()
    ]


@dg.asset(
    deps=[test_results],
    group_name=GROUP,
    kinds={"python", "pandas", WAREHOUSE_KIND},
    owners=OWNERS,
    automation_condition=AUTOMATION,
    retry_policy=STORAGE_RETRY,
    pool="warehouse",
    description=f"Each test's last {WINDOW_DAYS} days on each project and branch: pass rate, its current streak "
    "(failing since which build), last pass and failure, durations; which tests are broken now, got slower, or are gone.",
)
def test_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    held_back = days_held_back(context.instance)
    with storage_faults("computing test history"):
        engine = warehouse.engine()
        since = window_start()
        results, runs = leave_out(held_back, result_frame(engine, since=since), run_frame(engine, since=since))
        table = history.histories(results, runs)
        rows = records(table, computed_at=now())
        for row in rows:  # the name is indexed; the whole name stays in `tests`, by test_id
            row["name"] = index_text(row["name"])
        replace_table(engine, schema.test_history, rows)
        broken, slower = broken_rows(table), slower_rows(table)
        removed = table.loc[table["removed"].astype(bool)]
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(rows)),
        "dagster/column_schema": HISTORY_SCHEMA,
        # Plotted over time in the UI.
        "tests_tracked": dg.MetadataValue.int(int(table["test_id"].nunique()) if len(table) else 0),
        "tests_broken": dg.MetadataValue.int(len(broken)),
        "tests_slower": dg.MetadataValue.int(len(slower)),
        "tests_removed": dg.MetadataValue.int(len(removed)),
        "runs_in_window": dg.MetadataValue.int(int(results["run_id"].nunique()) if len(results) else 0),
        "window_days": dg.MetadataValue.int(WINDOW_DAYS),
        **held_back_metadata(held_back),
        "broken_now": dg.MetadataValue.md(md_table(
            broken[:TOP], ["project", "branch", "test", "failing_runs", "since_build", "since", "ci_url",
                           "last_passed_build", "last_failure"], empty="_no test is failing run after run_")),
        "got_slower": dg.MetadataValue.md(md_table(
            slower[:TOP], ["project", "branch", "test", "latest_s", "median_s", "build", "ci_url", "evidence"],
            empty="_no test got slower in its latest run_")),
        "gone": dg.MetadataValue.md(md_table(
            [{"project": r["project"], "branch": r["branch"], "test": _test(r), "last_build": r["last_build"],
              "last_run": _when(r["last_run_at"]), "runs_without_it": r["missing_runs"],
              "renamed_to": plain(r["renamed_to"])}
             for _, r in removed.sort_values("last_run_at", ascending=False).head(TOP).iterrows()],
            ["project", "branch", "test", "last_build", "last_run", "runs_without_it", "renamed_to"],
            empty="_every test still runs_")),
    }
    return dg.MaterializeResult(metadata=metadata)


defs = dg.Definitions(assets=[test_history])
