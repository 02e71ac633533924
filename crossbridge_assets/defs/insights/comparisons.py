"""Run comparisons: what failed in each run that passed in the previous run of its branch, what
got fixed; and the check that the default branches have no new failure."""

import dagster as dg
import pandas as pd
from sqlalchemy import select

from crossbridge_assets import ops_settings
from crossbridge_assets.analysis import compare
from crossbridge_assets.analysis import records
from crossbridge_assets.defs.common import WAREHOUSE_KIND, WarehouseResource, md_table, shorten, storage_faults
from crossbridge_assets.defs.insights.common import (
    AUTOMATION, GROUP, WINDOW_DAYS, days_held_back, held_back_metadata, leave_out, window_start,
)
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now, replace_tables
from crossbridge_assets.warehouse.insights import result_frame, run_frame

OWNERS = ["team:qa-platform"]
SHOWN = 20  # rows of a markdown table in the UI

COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("run_id", "text", description="CI run (project, branch, build)"),
        dg.TableColumn("state", "text", description="compared, or no_previous_run (the branch's first run)"),
        dg.TableColumn("complete", "bool", description="false while the run waits for announced shards"),
        dg.TableColumn("previous_run_id", "text", description="the run before it on its project and branch; for a "
                       "branch's first run, the default branch's latest run before it (its fork point)"),
        dg.TableColumn("previous_branch", "text", description="the branch of previous_run_id: the run's own, or "
                       "the default branch its first run was compared with"),
        dg.TableColumn("same_commit", "bool", description="a re-run of the previous run's commit"),
        dg.TableColumn("new_failures", "int", description="failed or errored now, passed before"),
        dg.TableColumn("fixed", "int", description="passed now, failed or errored before"),
        dg.TableColumn("still_failing", "int"),
        dg.TableColumn("new_tests", "int", description="not in the previous run"),
        dg.TableColumn("new_failing_tests", "int", description="new tests that fail"),
        dg.TableColumn("gone", "int", description="in the previous run, not in this one"),
        dg.TableColumn("note", "text", description="why a run was compared the way it was"),
    ]
)


def _build(row) -> str:
    return str(row.get("build") or row["run_id"])


def _names(chosen: pd.DataFrame, limit: int = 5) -> str:
    names = list(chosen["name"].head(limit))
    return ", ".join(names) + (f" (+{len(chosen) - limit})" if len(chosen) > limit else "")


def latest_table(runs: pd.DataFrame, changes: pd.DataFrame) -> str:
    """The latest run of each project and branch with its new failures and fixes: those with new
    failures first, then the most recent, SHOWN of them (a monorepo has thousands of branches)."""
    latest = compare.latest_runs(runs)
    if latest.empty:
        return md_table([], [], empty="_no runs in the window_")
    # The changes of the latest runs, grouped once: a scan of every change for each branch
    # took minutes with thousands of branches.
    mine = changes[changes["run_id"].isin(set(latest["run_id"]))]
    newly = mine[compare.newly_failing(mine)] if len(mine) else mine
    counts = newly.groupby("run_id").size()
    latest = latest.assign(_new=latest["run_id"].map(counts).fillna(0).astype(int))
    latest = latest.sort_values(["_new", "run_time", "project", "branch"], ascending=[False, False, True, True],
                                kind="stable", na_position="last")
    newly_by_run = dict(tuple(newly.groupby("run_id", sort=False))) if len(newly) else {}
    fixed = mine[mine["change"] == compare.FIXED] if len(mine) else mine
    fixed_by_run = dict(tuple(fixed.groupby("run_id", sort=False))) if len(fixed) else {}
    none = changes.iloc[0:0]
    rows = []
    for run in records(latest.head(SHOWN)):
        compared = run["state"] == compare.COMPARED
        rows.append({
            "project": run["project"], "branch": run["branch"], "build": _build(run), "ci_url": run["ci_url"],
            "previous": _previous(run),
            "new failures": _names(newly_by_run.get(run["run_id"], none)) if compared else "first run",
            "fixed": _names(fixed_by_run.get(run["run_id"], none)) if compared else "-",
            "note": run["note"],
        })
    if len(latest) > SHOWN:
        rows.append({"project": f"… {len(latest) - SHOWN} more branches", "note": "in the run_comparisons table"})
    return md_table(rows, ["project", "branch", "build", "ci_url", "previous", "new failures", "fixed", "note"])


def _previous(run) -> str:
    """The run a run was compared with, naming its branch when it is another (a first run's fork point)."""
    if not run["previous_run_id"]:
        return "-"
    shown = run["previous_build"] or run["previous_run_id"]
    return f"{run['previous_branch']} #{shown}" if run["previous_branch"] != run["branch"] else str(shown)


def _count(changes: pd.DataFrame, kind: str) -> int:
    return int((changes["change"] == kind).sum()) if len(changes) else 0


@dg.asset(
    deps=[test_results],
    group_name=GROUP,
    kinds={"python", "pandas", WAREHOUSE_KIND},
    owners=OWNERS,
    automation_condition=AUTOMATION,
    description=f"Each run of the last {WINDOW_DAYS} days against the previous run of its project and branch "
    "(a branch's first run: against its default branch's latest run before it): "
    "which tests newly fail, which got fixed, which still fail, which are new or gone.",
    pool="warehouse",
)
def run_comparisons(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    since = window_start()
    held_back = days_held_back(context.instance)
    with storage_faults("comparing runs"):
        engine = warehouse.engine()
        # The window's first runs are compared with the runs before it: a window back is read.
        before = (pd.Timestamp(since) - pd.Timedelta(days=WINDOW_DAYS)).date().isoformat()
        results = leave_out(held_back, result_frame(engine, since=before))
        runs, changes = compare.compare_runs(results, run_frame(engine, since=before), report_since=since,
                                             default_branches=ops_settings.load().default_branches)
        stamp = now()
        run_rows, change_rows = records(runs, computed_at=stamp), records(changes, computed_at=stamp)
        replace_tables(engine, [(schema.run_comparisons, run_rows), (schema.run_test_changes, change_rows)])
    latest = compare.latest_runs(runs)
    latest_changes = changes[changes["run_id"].isin(set(latest["run_id"]))] if len(latest) else changes
    newly = latest_changes[compare.newly_failing(latest_changes)] if len(latest_changes) else latest_changes
    new_failures = changes[compare.newly_failing(changes)] if len(changes) else changes
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(run_rows)),
            "dagster/column_schema": COLUMN_SCHEMA,
            "window_days": dg.MetadataValue.int(WINDOW_DAYS),
            **held_back_metadata(held_back),
            # Plotted over time: the latest run of every branch together.
            "new_failures": dg.MetadataValue.int(len(newly)),
            "fixed": dg.MetadataValue.int(_count(latest_changes, compare.FIXED)),
            "still_failing": dg.MetadataValue.int(_count(latest_changes, compare.STILL_FAILING)),
            "runs_compared": dg.MetadataValue.int(int((runs["state"] == compare.COMPARED).sum()) if len(runs) else 0),
            # Which baseline the branches' first runs got: their default branch, or none to be had.
            "first_runs_compared_with_default_branch": dg.MetadataValue.int(
                int((runs["previous_branch"].notna() & (runs["previous_branch"] != runs["branch"])).sum()) if len(runs) else 0),
            "first_runs_without_baseline": dg.MetadataValue.int(
                int((runs["state"] == compare.NO_PREVIOUS_RUN).sum()) if len(runs) else 0),
            "default_branches": dg.MetadataValue.text(", ".join(ops_settings.load().default_branches)),
            "changes_in_window": dg.MetadataValue.int(len(change_rows)),
            "latest_runs": dg.MetadataValue.md(latest_table(runs, changes)),
            "recent_new_failures": dg.MetadataValue.md(md_table(
                records(new_failures.sort_values("run_time", ascending=False).head(SHOWN)) if len(new_failures) else [],
                ["project", "branch", "build", "ci_url", "name", "previous_build", "message", "note"],
            )),
        }
    )


@dg.asset_check(
    asset=run_comparisons,
    name="no_new_failures",
    description="The latest run of each default branch (CROSSBRIDGE_DEFAULT_BRANCHES) has no test failing "
    "that passed on the branch before, and no new test that fails.",
)
def no_new_failures(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    globs = ops_settings.load().default_branches
    R, C = schema.run_comparisons, schema.run_test_changes
    with warehouse.engine().connect() as conn:
        runs = pd.DataFrame([dict(r._mapping) for r in conn.execute(select(R))], columns=list(R.c.keys()))
        changes = pd.DataFrame([dict(r._mapping) for r in conn.execute(
            select(C).where(C.c.regression.is_(True)))], columns=list(C.c.keys()))
    latest, failing = compare.regressions_of(runs, changes, globs)
    rows = records(failing)
    by_run = failing.groupby("run_id", sort=False).size().to_dict() if len(failing) else {}
    runs_failing = [r for r in latest.to_dict("records") if r["run_id"] in by_run]
    for row in rows:
        row["run"] = f"{row['project']}/{row['branch']} #{row['build'] or row['run_id']}"
        row["before"] = (f"{row['previous_status']} in #{row['previous_build'] or row['previous_run_id']}"
                         if row["previous_status"] else "a new test")
        row["failing since"] = f"#{row['failing_since_build'] or row['failing_since_run_id']}"
    description = (
        f"{len(rows)} test(s) fail in the latest run of {len(runs_failing)} default branch(es) where they passed "
        "before (or are new): "
        + "; ".join(f"{shorten(r['run'])}: {shorten(r['name'])} (failing since {shorten(r['failing since'])})" for r in rows[:5])
        if rows
        else f"the latest run of {len(latest)} default branch(es) has no new failure"
        if len(latest)
        else f"no run of a default branch ({', '.join(globs)}) in the window"
    )
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "new_failures": dg.MetadataValue.int(len(rows)),
            "default_branches": dg.MetadataValue.text(", ".join(globs)),
            "tests": dg.MetadataValue.md(md_table(rows[:SHOWN], ["run", "name", "suite", "change", "failing since", "before", "message", "note"])),
            "runs": dg.MetadataValue.md(md_table(
                [{"run": f"{r['project']}/{r['branch']} #{r['build'] or r['run_id']}", "ci_url": r["ci_url"],
                  "previous": r["previous_build"] or r["previous_run_id"], "new failures": by_run[r["run_id"]]}
                 for r in runs_failing],
                ["run", "ci_url", "previous", "new failures"])),
            "run_ids": dg.MetadataValue.json(sorted(by_run)),
            "what_to_do": dg.MetadataValue.text(
                "Open the CI link of the run where each test started failing and read its message: the commits "
                "between the build before it and that one broke it (a note saying 'same commit' means no code "
                "changed: a flaky test). Fix or revert; the check passes once the branch's latest run passes them."),
        },
    )


defs = dg.Definitions(assets=[run_comparisons], asset_checks=[no_new_failures])
