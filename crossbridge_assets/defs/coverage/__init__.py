"""Coverage: `coverage[day]`, the per-run union `coverage_by_run`, `coverage_trends`, the
per-test `test_coverage_map`, and the checks on thresholds, drops and missing shards."""


from datetime import datetime, timezone

import dagster as dg
from sqlalchemy import func, select

from crossbridge_assets import ops_settings
from crossbridge_assets.analysis import coverage_policy
from crossbridge_assets.defs.common import (
    AFTER_INGESTION,
    STORAGE_RETRY,
    WAREHOUSE_KIND,
    WINDOW_DAYS,
    WarehouseResource,
    batch_of,
    daily,
    load_each,
    md_table,
    quarantine_check,
    run_label,
    run_name,
    run_context,
    storage_faults,
    warnings_check,
    window_since,
)
from crossbridge_assets.defs.coverage.patch import patch_coverage, patch_coverage_threshold
from crossbridge_assets.defs.landing import INGEST_TAG, landed_reports
from crossbridge_assets.log import get_logger
from crossbridge_assets.model import KIND_CHANGE, KIND_COVERAGE
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.changes import load_archived_change
from crossbridge_assets.warehouse.coverage import (
    EXECUTED_ONLY,
    coverage_runs,
    day_coverage,
    latest_maps,
    load_archived_coverage,
    map_summary,
    quarantined_of_runs,
    refresh_runs,
    run_merge,
)

# Fail fast at load time: a wrong variable stops `dagster dev` with a message naming it.
# Checks read the policy again when they run, so a changed variable needs no reload.
coverage_policy.load_policy()


COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("report_sha256", "text", description="report the row came from"),
        dg.TableColumn("run_id", "text", description="CI run (project, branch, build)"),
        dg.TableColumn("path", "text", description="source file, normalized across OS and CI workspaces"),
        dg.TableColumn("lines_valid", "int", description="lines that could run"),
        dg.TableColumn("lines_covered", "int", description="lines that ran"),
        dg.TableColumn("branches_valid", "int"),
        dg.TableColumn("branches_covered", "int"),
        dg.TableColumn("has_lines", "bool", description="false when the report holds counts only"),
        dg.TableColumn("partition", "text", description="arrival day"),
    ]
)
RUNS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("run_id", "text"),
        dg.TableColumn("project", "text"),
        dg.TableColumn("branch", "text"),
        dg.TableColumn("build", "text"),
        dg.TableColumn(
            "shards_seen", "int",
            description="coverage shards that arrived with line figures: by shard label, else one per drop",
        ),
        dg.TableColumn("shards_expected", "int", description="from the manifest; empty when not announced"),
        dg.TableColumn("complete", "bool", description="every expected shard arrived"),
        dg.TableColumn("line_pct", "float", description="union of every shard and format of the run"),
        dg.TableColumn("branch_pct", "float"),
    ]
)
MAP_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("run_id", "text"),
        dg.TableColumn("test", "text", description="test the coverage context names"),
        dg.TableColumn("context", "text", description="as recorded (e.g. pytest-cov 'nodeid|run')"),
        dg.TableColumn("path", "text"),
        dg.TableColumn("lines", "text", description="line ranges the test ran, e.g. '4-9,12'"),
    ]
)


def _percentages(figures: dict) -> dict:
    """line_pct and branch_pct, each only when measured: numbers the UI plots. A run or day
    without branch (or line) data leaves a gap in the plot rather than a drop to 0."""
    return {key: dg.MetadataValue.float(float(figures[key]))
            for key in ("line_pct", "branch_pct") if figures.get(key) is not None}


def _shards(run: dict) -> str:
    if run["shards_expected"]:
        return f"{run['shards_seen']}/{run['shards_expected']}"
    return str(run["shards_seen"])


def _previous_name(drop: dict) -> str:
    """The run a drop is measured against, naming its branch when it is another: the default
    branch a branch's first run started from."""
    previous = drop["previous"]
    if previous["branch"] != drop["branch"]:
        return f"{previous['branch']} {run_name(previous)} (where the branch started)"
    return run_name(previous)


# ---------------------------------------------------------------------------- coverage[day]


@dg.asset(
    partitions_def=daily,
    deps=[landed_reports],
    group_name="coverage",
    kinds={"python", WAREHOUSE_KIND},
    tags=INGEST_TAG,
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    description="Line and branch coverage per source file from that day's coverage reports "
    "(JaCoCo, Cobertura, coverage.py, Istanbul, LCOV), with which test ran which line where the report says.",
    pool="warehouse",
)
def coverage(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    partition = context.partition_key
    batch = batch_of(context)
    log = get_logger("testing")
    least: list[dict] = []
    loaded = rows = map_rows = tests = 0
    bad: list[dict] = []
    with run_context(context), storage_faults("loading coverage"):
        landing = warehouse.landing()
        engine = landing.engine
        roots = landing.settings.coverage_source_roots
        each = load_each(
            landing, partition, KIND_COVERAGE, batch, lambda report: load_archived_coverage(engine, report, roots), bad,
        )
        for report, summary in each:
            log.info("coverage loaded", files=summary.file_rows, tests=summary.tests, warnings=len(summary.warnings))
            loaded += 1
            rows += summary.file_rows
            map_rows += summary.map_rows
            tests += summary.tests
            if report.format not in EXECUTED_ONLY:
                least.extend({**f, "report": report.original_name} for f in summary.least_covered)
        # The changes runs sent beside their coverage (diffs), for their patch coverage.
        changes = 0
        for report, summary in load_each(landing, partition, KIND_CHANGE, batch,
                                         lambda report: load_archived_change(engine, report), bad):
            log.info("change loaded", files=summary.totals.files, lines=summary.totals.lines)
            changes += 1
        # The day's figures (a sensor run brings one batch of it; the UI shows and plots the day),
        # each run's shards taken together, a run still waiting for shards left out.
        totals, waiting = day_coverage(engine, partition)
        with engine.connect() as conn:
            day_rows = conn.execute(
                select(func.count()).select_from(schema.coverage_files).where(schema.coverage_files.c.partition == partition)
            ).scalar_one()

    least = sorted(least, key=lambda f: f["line_pct"])[:10]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(day_rows),
            "dagster/column_schema": COLUMN_SCHEMA,
            "reports_loaded": dg.MetadataValue.int(loaded),
            "reports_quarantined": dg.MetadataValue.int(len(bad)),
            "changes_loaded": dg.MetadataValue.int(changes),
            "files": dg.MetadataValue.int(totals.files),
            "rows_written": dg.MetadataValue.int(rows),
            **_percentages({
                "line_pct": round(100.0 * totals.line_rate, 2) if totals.lines_valid else None,
                "branch_pct": round(100.0 * totals.branch_rate, 2) if totals.branches_valid else None,
            }),
            "runs_waiting_for_shards": dg.MetadataValue.int(waiting),
            "per_test_rows": dg.MetadataValue.int(map_rows),
            "source_roots": dg.MetadataValue.text(
                ", ".join(roots) or "none configured (known CI checkout folders, and the roots a drop announces)"
            ),
            "tests_with_coverage": dg.MetadataValue.int(tests),
            "least_covered_files": dg.MetadataValue.md(md_table(least, ["file", "line_pct", "report"])),
            "quarantined_files": dg.MetadataValue.md(md_table(bad, ["file", "reason"])),
        }
    )


coverage_parse_errors = quarantine_check(
    coverage,
    kind=(KIND_COVERAGE, KIND_CHANGE),
    noun="coverage report",
    name="coverage_parse_errors",
    description="No coverage report of the day was quarantined (unreadable, truncated, or holding line "
    "numbers no source file has).",
    what_to_do="Fix the coverage tool's output or the upload, drop the file into the inbox again; until then "
    "its run's coverage lacks that report. Files stay in the quarantine folder with their reason beside them.",
)

coverage_report_warnings = warnings_check(
    coverage,
    KIND_COVERAGE,
    name="coverage_report_warnings",
    description="Coverage reports were read without warnings (e.g. totals a report declares that contradict its lines).",
    what_to_do="Where declared totals disagree, the coverage shown counts the lines the file holds: if it holds "
    "fewer than it declares, it was likely cut or trimmed on the way, so send the whole report again; if not, "
    "its writer miscounts, which is worth reporting to that tool.",
    noun="coverage report",
    counts="the lines they hold are what counts",
)


# ---------------------------------------------------------------------------- per run


@dg.asset(
    deps=[coverage],
    group_name="coverage",
    kinds={"python", WAREHOUSE_KIND},
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    automation_condition=AFTER_INGESTION,
    description="Coverage of every CI run: the union of its shards and report formats. A run still "
    "waiting for announced shards is marked incomplete instead of looking low.",
    pool="warehouse",
)
def coverage_by_run(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with run_context(context), storage_faults("merging coverage per run"):
        engine = warehouse.engine()
        changed = refresh_runs(engine)
        runs = coverage_runs(engine)
        recent = sorted(runs, key=lambda r: (r["started_at"], r["run_id"]), reverse=True)
        latest = next((r for r in recent if r["complete"] and r["line_pct"] is not None), None)
        least = run_merge(engine, latest["run_id"]).file_figures()[:10] if latest else []
    incomplete = [r for r in runs if not r["complete"]]
    table = [
        {
            "run": run_label(r),
            "shards": _shards(r),
            "status": "complete" if r["complete"] else "waiting for shards",
            "line %": r["line_pct"],
            "branch %": r["branch_pct"],
            "formats": r["formats"],
        }
        for r in recent[:15]
    ]
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(runs)),
        "dagster/column_schema": RUNS_SCHEMA,
        "runs_updated": dg.MetadataValue.int(len(changed)),
        "incomplete_runs": dg.MetadataValue.int(len(incomplete)),
        "recent_runs": dg.MetadataValue.md(md_table(table, ["run", "shards", "status", "line %", "branch %", "formats"])),
        "least_covered_files_of_latest_run": dg.MetadataValue.md(
            md_table(least, ["file", "line_pct", "lines_covered", "lines_valid"])
        ),
    }
    if latest:
        metadata["latest_run"] = dg.MetadataValue.text(run_label(latest))
        metadata.update(_percentages(latest))
    return dg.MaterializeResult(metadata=metadata)


def _runs(warehouse: WarehouseResource) -> list[dict]:
    return coverage_runs(warehouse.engine())


def _judged_runs(warehouse: WarehouseResource) -> list[dict]:
    """The runs of the branches that sent coverage within the analytics' window: what the
    checks judge (a branch merged or abandoned before it is left alone)."""
    return coverage_policy.active_branches(_runs(warehouse), window_since())


@dg.asset_check(
    asset=coverage_by_run,
    description=f"The latest complete run of each branch that sent coverage in the last {WINDOW_DAYS} days reaches "
    "its coverage threshold (CROSSBRIDGE_COVERAGE_THRESHOLDS, per project and branch).",
)
def coverage_threshold(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    policy = coverage_policy.load_policy()
    low = coverage_policy.below_threshold(_judged_runs(warehouse), policy)
    rows = [{"run": run_label(r), "line %": r["line_pct"], "threshold": r["threshold"], "set by": r["threshold_key"]}
            for r in low]
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(low)} branch(es) below their coverage threshold: "
            + "; ".join(f"{r['run']} at {r['line %']}% < {r['threshold']:g}%" for r in rows[:5])
            + ". Add tests for the uncovered files of that run, or change the threshold in CROSSBRIDGE_COVERAGE_THRESHOLDS."
            if low
            else "every branch's latest complete run reaches its threshold"
        ),
        metadata={
            "runs_below": dg.MetadataValue.int(len(low)),
            "runs": dg.MetadataValue.md(md_table(rows, ["run", "line %", "threshold", "set by"])),
            "run_ids": dg.MetadataValue.json([r["run_id"] for r in low]),
        },
    )


def _what_changed(run: dict) -> tuple[str, str]:
    """The command that shows the lines a dropped run's change left uncovered (its coverage
    against the diff from the previous run's commit), and the checkout it runs in."""
    previous = run["previous"].get("commit_sha")
    at = run["commit_sha"][:12] if run.get("commit_sha") else "the run's commit"
    if previous and run.get("commit_sha"):
        return f"crossbridge patch-coverage --diff {previous[:12]} --run {run['run_id']}", at
    return f"crossbridge patch-coverage --run {run['run_id']}", at


@dg.asset_check(
    asset=coverage_by_run,
    description="Line coverage did not drop by more than CROSSBRIDGE_COVERAGE_MAX_DROP points "
    f"against the previous complete run of the same branch (a branch's first run: against its default "
    f"branch's latest complete run before it, CROSSBRIDGE_DEFAULT_BRANCHES; branches that sent coverage in "
    f"the last {WINDOW_DAYS} days).",
)
def coverage_drop(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    policy = coverage_policy.load_policy()
    globs = ops_settings.load().default_branches
    found = coverage_policy.drops(_judged_runs(warehouse), policy.max_drop, globs)
    rows = [{"run": run_label(r), "line %": r["line_pct"], "previous": _previous_name(r),
             "previous %": r["previous_pct"], "drop (points)": r["drop"], "command": _what_changed(r)}
            for r in found]
    for row in rows:
        command, at = row.pop("command")
        row["uncovered changes"] = f"{command} (in a checkout of {at})"
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"Coverage dropped on {len(found)} branch(es): "
            + "; ".join(f"{r['run']} {r['previous %']}% -> {r['line %']}% (-{r['drop (points)']} points "
                        f"against {r['previous']})" for r in rows[:5])
            + ". Look at the change between the two runs: in a checkout of {1}, `{0}` shows the lines it left "
            "uncovered.".format(*_what_changed(found[0]))
            if found
            else f"no branch lost more than {policy.max_drop:g} points against its previous run"
        ),
        metadata={
            "max_drop_points": dg.MetadataValue.float(float(policy.max_drop)),
            "default_branches": dg.MetadataValue.text(", ".join(globs)),
            "drops": dg.MetadataValue.md(md_table(
                rows, ["run", "line %", "previous", "previous %", "drop (points)", "uncovered changes"])),
            "run_ids": dg.MetadataValue.json([r["run_id"] for r in found]),
        },
    )


@dg.asset_check(
    asset=coverage_by_run,
    description="No run is still missing coverage shards after the grace period "
    f"(CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES), unless a later run of its branch is complete; branches that "
    f"sent coverage in the last {WINDOW_DAYS} days.",
)
def coverage_shards_complete(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    policy = coverage_policy.load_policy()
    stale = coverage_policy.stale_incomplete(_judged_runs(warehouse), policy.shard_grace, datetime.now(timezone.utc))
    # A shard that did upload, its report quarantined: the fix is the report, not the CI job.
    broken = quarantined_of_runs(warehouse.engine(), [r["run_id"] for r in stale]) if stale else {}
    rows = [{"run": run_label(r), "shards": _shards(r), "waiting (min)": r["waiting_minutes"],
             "quarantined": "; ".join(f"{q['file']}" + (f" (shard {q['shard']})" if q["shard"] else "")
                                      + f": {q['reason']}" for q in broken.get(r["run_id"], []))}
            for r in stale]
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(stale)} run(s) still missing coverage shards: "
            + "; ".join(f"{r['run']} has {r['shards']} after {r['waiting (min)']} min"
                        + (f", its quarantined report {r['quarantined']}" if r["quarantined"] else "")
                        for r in rows[:5])
            + ". Check that every CI shard uploads its coverage report (a failed or cancelled shard never sends one)"
            + ("; a quarantined report is fixed and dropped into the inbox again (coverage_parse_errors lists it)"
               if broken else "")
            + "; until then the run's coverage is left out of thresholds and drops."
            if stale
            else "every run has all its announced shards, is within its grace period, or was overtaken by a "
            "later complete run of its branch"
        ),
        metadata={
            "grace_minutes": dg.MetadataValue.float(policy.shard_grace.total_seconds() / 60),
            "runs": dg.MetadataValue.md(md_table(rows, ["run", "shards", "waiting (min)", "quarantined"])),
            "run_ids": dg.MetadataValue.json([r["run_id"] for r in stale]),
        },
    )


# The grace period runs out while nothing arrives: no new report then materializes
# coverage_by_run, so the check is looked at again on a clock as well (by itself, reading the
# runs as coverage_by_run last merged them). Hourly, as the health checks: a run is reported at
# most an hour after its grace (two hours by default), for 24 runs a day in the run list.
coverage_shards_watch_job = dg.define_asset_job(
    "coverage_shards_watch",
    selection=dg.AssetSelection.checks(coverage_shards_complete),
    description="Look for runs still missing coverage shards once their grace period is over.",
)
coverage_shards_watch_schedule = dg.ScheduleDefinition(
    name="coverage_shards_watch",
    job=coverage_shards_watch_job,
    cron_schedule="22 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: report runs whose missing coverage shards are overdue "
    "(CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES), even when no report arrives to trigger it.",
)


# ---------------------------------------------------------------------------- trends


@dg.asset(
    deps=[coverage_by_run],
    group_name="coverage",
    kinds={"python", WAREHOUSE_KIND},
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    automation_condition=AFTER_INGESTION,
    description="Line and branch coverage per project and branch over time: latest, previous and change, for "
    f"the branches that sent coverage in the last {WINDOW_DAYS} days.",
    pool="warehouse",
)
def coverage_trends(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with run_context(context), storage_faults("computing coverage trends"):
        everything = _runs(warehouse)
    # Branches that sent nothing within the window are counted, not listed: months of feature
    # branches would make the table (and every materialization's event) grow without end.
    runs = coverage_policy.active_branches(everything, window_since())
    quiet = {(r["project"], r["branch"]) for r in everything} - {(r["project"], r["branch"]) for r in runs}
    by_branch: dict[tuple[str, str], list[dict]] = {}
    for r in sorted(runs, key=lambda r: (r["started_at"], r["run_id"])):
        if r["complete"] and r["line_pct"] is not None:
            by_branch.setdefault((r["project"], r["branch"]), []).append(r)
    rows = []
    # The branches that ran most recently first: the table shows TABLE_ROWS of thousands.
    for (project, branch), history in sorted(by_branch.items(), key=lambda item: (item[1][-1]["started_at"],
                                             item[1][-1]["run_id"]), reverse=True):
        last, prev = history[-1], (history[-2] if len(history) > 1 else None)
        rows.append(
            {
                "project": project,
                "branch": branch,
                "runs": len(history),
                "latest build": last["build"] or last["run_id"],
                "line %": last["line_pct"],
                "branch %": last["branch_pct"],
                "change (points)": round(last["line_pct"] - prev["line_pct"], 2) if prev else None,
                "last 10 line %": " ".join(f"{h['line_pct']:g}" for h in history[-10:]),
            }
        )
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(sum(r["runs"] for r in rows)),
        "branches": dg.MetadataValue.int(len(rows)),
        "branches_quiet": dg.MetadataValue.int(len(quiet)),
        "trends": dg.MetadataValue.md(
            md_table(rows, ["project", "branch", "runs", "latest build", "line %", "branch %", "change (points)", "last 10 line %"])
        ),
    }
    latest = max((h[-1] for h in by_branch.values()), key=lambda r: (r["started_at"], r["run_id"]), default=None)
    if latest:
        # The newest run overall, plotted over materializations; per-branch figures (branch % where
        # measured: a gap, not 0) for the busiest branches.
        metadata.update(_percentages(latest))
        for row in sorted(rows, key=lambda r: -r["runs"])[:10]:
            name = f"{row['project']}/{row['branch']}"
            for key, value in _percentages({"line_pct": row["line %"], "branch_pct": row["branch %"]}).items():
                metadata[f"{key} {name}"] = value
    return dg.MaterializeResult(metadata=metadata)


# ---------------------------------------------------------------------------- per-test map


@dg.asset(
    deps=[coverage],
    group_name="coverage",
    kinds={"python", WAREHOUSE_KIND},
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    automation_condition=AFTER_INGESTION,
    description="Which test ran which line, from coverage.py dynamic contexts and per-test coverage reports: "
    "answers \"which tests cover file F line L\". Shows each branch's newest map of the last "
    f"{WINDOW_DAYS} days.",
    pool="warehouse",
)
def test_coverage_map(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    TM = schema.test_coverage_map
    with run_context(context), storage_faults("summarizing the per-test coverage map"):
        engine = warehouse.engine()
        # The maps `impact` and `covering` answer from: each branch's newest, within the window.
        # Summarizing every map kept (months of them: millions of rows, after each ingestion)
        # took longer every day, and counted tests renamed or deleted long ago.
        latest = latest_maps(engine, window_since().date().isoformat())
        per_run, tests, top = map_summary(engine, [m["run_id"] for m in latest])
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(TM)).scalar_one()
    maps = [{"project": m["project"], "branch": m["branch"], "build": m["build"] or m["run_id"],
             "tests": per_run.get(m["run_id"], (0, 0))[0], "files": per_run.get(m["run_id"], (0, 0))[1],
             "runs with a map": m["runs"]} for m in latest]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(total),
            "dagster/column_schema": MAP_SCHEMA,
            "runs_with_per_test_coverage": dg.MetadataValue.int(sum(m["runs"] for m in latest)),
            "tests": dg.MetadataValue.int(tests),
            "latest_maps": dg.MetadataValue.md(
                md_table(maps[:20], ["project", "branch", "build", "tests", "files", "runs with a map"])),
            "files_reached_by_most_tests": dg.MetadataValue.md(md_table(top, ["file", "tests"])),
            "window_days": dg.MetadataValue.int(WINDOW_DAYS),
        }
    )


defs = dg.Definitions(
    assets=[coverage, coverage_by_run, coverage_trends, test_coverage_map, patch_coverage],
    asset_checks=[coverage_parse_errors, coverage_report_warnings, coverage_threshold, coverage_drop, coverage_shards_complete,
                  patch_coverage_threshold],
    jobs=[coverage_shards_watch_job],
    schedules=[coverage_shards_watch_schedule],
)
