"""Patch coverage per run: the lines each run's change adds or modifies (the diff its CI job
sends beside its coverage), measured against the run's merged coverage with diff-cover's rules,
and the check that holds each branch's newest change to its threshold."""


import json

import dagster as dg

from crossbridge_assets.analysis import coverage_policy
from crossbridge_assets.analysis.patch_coverage import line_ranges, patch_coverage as measure
from crossbridge_assets.defs.common import (
    AFTER_INGESTION,
    STORAGE_RETRY,
    WAREHOUSE_KIND,
    WINDOW_DAYS,
    WarehouseResource,
    md_table,
    run_context,
    run_label,
    storage_faults,
    window_since,
)
from crossbridge_assets.warehouse.changes import (
    fingerprint,
    patch_coverage_rows,
    run_changes,
    store_patch_coverage,
    stored_fingerprints,
    with_lines,
)
from crossbridge_assets.warehouse.coverage import coverage_runs, run_merge

# Files of a run's change listed with their uncovered lines: the first ones, in the diff's order.
KEEP_UNCOVERED_FILES = 50


def _uncovered(row: dict, files: int = 3) -> str:
    listed = [f"{u['file']}: {u['lines']}" for u in row["uncovered"][:files]]
    more = len(row["uncovered"]) - files
    return "; ".join(listed) + (f"; and {more} more file(s)" if more > 0 else "")


def refresh_patch_coverage(engine) -> list[dict]:
    """Measure the change of every run whose diff or coverage changed since it was last
    measured (`crossbridge ingest` measures its run the same way); the rows stored."""
    changes = run_changes(engine)
    runs = {r["run_id"]: r for r in coverage_runs(engine)}
    # Kept when retention expires a run's diff or coverage, as coverage_runs keeps its figures.
    stored = stored_fingerprints(engine)
    due = [(change, runs[run_id]) for run_id, change in changes.items()
           # No coverage of the run yet, or nothing changed since it was measured: nothing to do.
           if run_id in runs and stored.get(run_id) != fingerprint(change, runs[run_id]["fingerprint"])]
    with_lines(engine, [change for change, _ in due])
    rows = []
    for change, run in due:
        run_id = change.run_id
        key = fingerprint(change, run["fingerprint"])
        report = measure(change.lines, run_merge(engine, run_id).files)
        rows.append(dict(
            run_id=run_id, project=run["project"], branch=run["branch"], commit_sha=run["commit_sha"],
            build=run["build"], started_at=run["started_at"], change_sha256=change.sha256,
            files=len(change.lines), changed_lines=sum(map(len, change.lines.values())),
            measured_lines=report.measured, covered_lines=report.covered, pct=report.percent,
            complete=bool(run["complete"]),
            uncovered=json.dumps([{"file": f.path, "lines": line_ranges(f.uncovered)}
                                  for f in report.files if f.uncovered][:KEEP_UNCOVERED_FILES]),
            fingerprint=key,
        ))
    store_patch_coverage(engine, rows)
    return rows


@dg.asset(
    deps=["coverage_by_run"],
    group_name="coverage",
    kinds={"python", WAREHOUSE_KIND},
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    automation_condition=AFTER_INGESTION,
    pool="warehouse",
    description="Patch coverage of every run that sent its change (a `git diff` against its merge base): "
    "of the lines the change adds or modifies that are code, how many its tests ran, and which did not run.",
)
def patch_coverage(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with run_context(context), storage_faults("measuring patch coverage"):
        engine = warehouse.engine()
        rows = refresh_patch_coverage(engine)
        patches = patch_coverage_rows(engine)

    table = [{"run": run_label(r), "patch %": r["pct"], "covered": f"{r['covered_lines']}/{r['measured_lines']}",
              "changed lines": r["changed_lines"], "not run": _uncovered(r),
              "status": "complete" if r["complete"] else "waiting for shards"} for r in patches[:15]]
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(patches)),
        "runs_updated": dg.MetadataValue.int(len(rows)),
        "recent_runs": dg.MetadataValue.md(md_table(
            table, ["run", "patch %", "covered", "changed lines", "not run", "status"],
            empty="_no run has sent its change yet: send `git diff --merge-base origin/main` beside its coverage_")),
    }
    latest = next((r for r in patches if r["complete"]), None)
    if latest:
        metadata["latest_run"] = dg.MetadataValue.text(run_label(latest))
        metadata["patch_pct"] = dg.MetadataValue.float(float(latest["pct"]))
    context.log.info(f"patch coverage of {len(rows)} run(s) measured, {len(patches)} kept")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=patch_coverage,
    description=f"The newest change of each branch that sent one in the last {WINDOW_DAYS} days has its changed "
    "code covered to its threshold (CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS, per project and branch).",
)
def patch_coverage_threshold(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    policy = coverage_policy.load_policy()
    # As the other coverage checks: a branch that sent nothing for the window is history.
    judged = [row for row in patch_coverage_rows(warehouse.engine()) if row["started_at"] is None
              or row["started_at"] >= window_since()]
    low = coverage_policy.below_patch_threshold(judged, policy)
    rows = [{"run": run_label(r), "patch %": r["pct"], "threshold": r["threshold"], "set by": r["threshold_key"],
             "not run": _uncovered(r)} for r in low]
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(low)} branch(es) whose newest change is covered below its threshold: "
            + "; ".join(f"{r['run']} at {r['patch %']}% < {r['threshold']:g}% (not run: {r['not run']})"
                        for r in rows[:5])
            + ". Add tests that run those lines, or change CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS."
            if low
            else "every branch's newest change reaches its patch coverage threshold"
        ),
        metadata={
            "runs_below": dg.MetadataValue.int(len(low)),
            "runs": dg.MetadataValue.md(md_table(rows, ["run", "patch %", "threshold", "set by", "not run"])),
            "run_ids": dg.MetadataValue.json([r["run_id"] for r in low]),
        },
    )
