"""The coverage side as a team lead lives it over several days, through a real Dagster
instance on SQLite and PostgreSQL: two projects, main and a feature branch each, CI runs in
two shards announced by their crossbridge.json (shards_expected: 2), a shard that comes late,
one that never comes, a run that loses coverage; thresholds per project and branch; a day
re-materialized and a backfill; per-test contexts queried from the terminal.

The reports are real coverage.py output on the fixtures' sample package (the `measured`
fixture: one pytest -k selection a shard)."""

import json
import shutil
import subprocess
import sys

import dagster as dg
import pytest
from sqlalchemy import func, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import coverage_runs
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest, refresh
from crossbridge_assets_tests.test_coverage_layer_more import PCT, measured, metadata_of, send  # noqa: F401

HOUR = 3600


@pytest.fixture(scope="session")
def reports(measured):  # noqa: F811 (the fixture imported above)
    """selection -> folder of coverage.xml: what coverage.py wrote for that CI shard."""
    return measured
SAMPLE = FIXTURES / "coverage" / "sample" / "python"


def runs_by_build(settings) -> dict[str, dict]:
    return {r["build"]: r for r in coverage_runs(make_engine(settings.warehouse_url))}


def counts(settings) -> dict[str, int]:
    with make_engine(settings.warehouse_url).connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (schema.coverage_files, schema.coverage_lines, schema.test_coverage_map, schema.reports)}


def figures(settings) -> dict[str, tuple]:
    return {b: (r["shards_seen"], r["complete"], r["line_pct"], r["branch_pct"], r["lines_valid"])
            for b, r in runs_by_build(settings).items()}


# (project, branch, build, day, selections of shard 1 and 2). Days start at 10:00 UTC; each
# shard's files arrive (mtime) `ago` hours before now, so the three days are three partitions.
HISTORY = [
    ("shop", "main", "s-m1", 1, ("arith", "classify")),
    ("shop", "feature/x", "s-f1", 1, ("arith", "classify")),
    ("api", "main", "a-m1", 1, ("arith", "classify")),
    ("api", "feature/x", "a-f1", 1, ("arith", "classify")),
    ("shop", "main", "s-m2", 2, ("arith", "classify")),  # shard 2 comes late: see below
    ("shop", "feature/x", "s-f2", 2, ("arith", "classify")),
    ("api", "main", "a-m2", 2, ("add", "divide")),  # 52.63 %: measured against a-m1, not arrival
    ("api", "feature/x", "a-f2", 2, ("arith", "classify")),
    ("shop", "main", "s-m3", 3, ("arith", "classify")),
    ("shop", "feature/x", "s-f3", 3, ("add", "divide")),  # 73.68 -> 52.63: the drop
    ("api", "main", "a-m3", 3, ("arith", "classify")),
    ("api", "feature/x", "a-f3", 3, ("arith", None)),  # shard 2 never comes
]
AGO = {1: 50, 2: 26, 3: 2}  # hours


def test_three_days_of_sharded_runs_on_two_branches_of_two_projects(crossbridge_env, dagster_instance, reports,
                                                                   monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS",
                       '{"shop/main": 70, "shop/feature/*": 60, "api": 50}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "2")
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")
    # api/main's day 3 arrives before its day 2: the trend follows when the runs started.
    order = sorted(HISTORY, key=lambda h: (h[2] == "a-m2", h[3]))
    cursor = None
    partitions = set()
    for project, branch, build, day, shards in order:
        for n, selection in enumerate(shards, start=1):
            if selection is None or build == "s-m2" and n == 2:
                continue
            send(s, f"{build}-{n}", {"coverage.xml": reports[selection] / "coverage.xml"},
                 age_seconds=AGO[day] * HOUR, project=project, branch=branch, build=build, shard=str(n),
                 shards_expected=2, started_at=f"2026-03-0{day}T10:00:00Z")
        cursor, results = ingest(dagster_instance, cursor)
        partitions |= {r.dagster_run.tags["dagster/partition"] for r in results}
    assert len(partitions) == 3

    result = refresh(dagster_instance)
    runs = runs_by_build(s)
    assert (runs["s-m2"]["shards_seen"], runs["s-m2"]["complete"]) == (1, False)
    by_run = metadata_of(result, "coverage_by_run")
    assert by_run["incomplete_runs"].value == 2
    table = by_run["recent_runs"].value
    assert "| shop/main #s-m2 | 1/2 | waiting for shards |" in table
    assert "| api/feature/x #a-f3 | 1/2 | waiting for shards |" in table
    checks = checks_of(result)
    shards = checks["coverage_shards_complete"]
    # s-m2 is overtaken by s-m3 (complete, started later): only a-f3 is still reported.
    assert shards.passed is False and shards.severity == dg.AssetCheckSeverity.WARN
    assert "api/feature/x #a-f3 has 1/2 after 1" in shards.description
    assert shards.metadata["run_ids"].value == [runs["a-f3"]["run_id"]]
    # Incomplete runs are neither low nor a drop.
    low = checks["coverage_threshold"]
    assert low.passed is False
    assert low.metadata["run_ids"].value == [runs["s-f3"]["run_id"]]
    assert "shop/feature/x #s-f3 at 52.63% < 60%" in low.description
    assert "| shop/feature/x #s-f3 | 52.63 | 60.0 | shop/feature/\\* |" in low.metadata["runs"].value
    drop = checks["coverage_drop"]
    assert drop.passed is False
    assert drop.metadata["run_ids"].value == [runs["s-f3"]["run_id"]]
    assert "shop/feature/x #s-f3 73.68% -> 52.63% (-21.05 points against #s-f2)" in drop.description

    trends = metadata_of(result, "coverage_trends")
    assert trends["branches"].value == 4
    md = trends["trends"].value
    # api/feature/x: a-f3 waits for its shard, so a-f2 is its latest.
    assert f"| api | feature/x | 2 | a-f2 | {PCT['all']} |" in md
    assert f"| api | main | 3 | a-m3 | {PCT['all']} | 62.5 | 21.05 | 73.68 52.63 73.68 |" in md
    assert f"| shop | feature/x | 3 | s-f3 | {PCT['arith']} |" in md
    assert f"| shop | main | 2 | s-m3 | {PCT['all']} |" in md
    plotted = {k: v.value for k, v in trends.items() if k.startswith("line_pct ")}
    assert plotted == {"line_pct api/main": 73.68, "line_pct api/feature/x": 73.68,
                       "line_pct shop/main": 73.68, "line_pct shop/feature/x": 52.63}

    # Day 2's second shard of shop/main comes a day late.
    send(s, "s-m2-2", {"coverage.xml": reports["classify"] / "coverage.xml"}, age_seconds=1 * HOUR,
         project="shop", branch="main", build="s-m2", shard="2", shards_expected=2,
         started_at="2026-03-02T10:00:00Z")
    cursor, _ = ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    runs = runs_by_build(s)
    assert (runs["s-m2"]["shards_seen"], runs["s-m2"]["complete"], runs["s-m2"]["line_pct"]) == (2, True, PCT["all"])
    assert f"| shop | main | 3 | s-m3 | {PCT['all']} | 62.5 | 0.0 |" in metadata_of(result, "coverage_trends")["trends"].value

    # Re-materializing every day (a backfill over the three days) changes no figure, doubles no row.
    before, rows = figures(s), counts(s)
    job = defs.resolve_job_def("ingest")
    days = {}
    for day in sorted(partitions):
        day_result = job.execute_in_process(partition_key=day, instance=dagster_instance)
        assert day_result.success
        days[day] = day_result.asset_materializations_for_node("coverage")[0].metadata
    # Day 1: four runs, each of two shards that add up to 73.68 % (14 of 19 lines, 5 of 8
    # branches): the day's plotted figures are those, not the shards' average (52.63 %).
    first = days[min(days)]
    assert first["reports_loaded"].value == 8
    assert isinstance(first["line_pct"], dg.FloatMetadataValue) and isinstance(first["branch_pct"], dg.FloatMetadataValue)
    assert (first["line_pct"].value, first["branch_pct"].value) == (PCT["all"], 62.5)
    assert first["files"].value == 4 * 2  # calc/__init__.py and calc/ops.py of each run
    refresh(dagster_instance)
    assert figures(s) == before and counts(s) == rows


# ---------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(("thresholds", "expected"), [
    ('{"shop/feature/*": 60, "shop": 40}', (60.0, r"shop/feature/\*")),  # a branch pattern beats the project
    ('{"shop": 60, "*": 10}', (60.0, r"shop/\*")),  # the project-wide default
    ('{"*": 55}', (55.0, "*")),
    (None, (0.0, "*")),  # nothing configured
])
def test_threshold_of_a_feature_branch(crossbridge_env, dagster_instance, reports, monkeypatch, thresholds, expected):
    s = crossbridge_env
    if thresholds is None:
        monkeypatch.delenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", raising=False)
    else:
        monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", thresholds)
    send(s, "f", {"coverage.xml": reports["arith"] / "coverage.xml"}, project="shop", branch="feature/x", build="9")
    ingest(dagster_instance)
    checks = checks_of(refresh(dagster_instance))
    low = checks["coverage_threshold"]
    assert low.passed is (PCT["arith"] >= expected[0]), low.description
    if not low.passed:
        # the key that set it, as the markdown table escapes it
        assert f"| shop/feature/x #9 | 52.63 | {expected[0]} | {expected[1]} |" in low.metadata["runs"].value
    # The first run of a branch has nothing to drop from.
    assert checks["coverage_drop"].passed is True


def test_a_drop_is_measured_against_the_same_branch_of_the_same_project(crossbridge_env, dagster_instance, reports,
                                                                        monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "1")
    history = [("api", "main", "1", "all", 1), ("shop", "feature/x", "2", "all", 2), ("shop", "main", "3", "arith", 3)]
    cursor = None
    for project, branch, build, selection, day in history:
        send(s, build, {"coverage.xml": reports[selection] / "coverage.xml"}, project=project, branch=branch,
             build=build, started_at=f"2026-03-0{day}T10:00:00Z")
        cursor, _ = ingest(dagster_instance, cursor)
    # shop/main's first run, lower than another project's and another branch's: not a drop.
    assert checks_of(refresh(dagster_instance))["coverage_drop"].passed is True


# ---------------------------------------------------------------------------- per-test contexts


@pytest.fixture(scope="session")
def contexts(tmp_path_factory):
    """Two CI shards' coverage.py data files with one dynamic context per test function."""
    base = tmp_path_factory.mktemp("contexts")
    out = {}
    for name, selection in (("1", "test_add or test_divide"), ("2", "test_classify")):
        work = base / f"work{name}"
        shutil.copytree(SAMPLE, work)
        subprocess.run([sys.executable, "-m", "coverage", "run", "--rcfile=.coveragerc", "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", "tests/checks_ops.py", "-k", selection],
                       cwd=work, check=True, capture_output=True)
        out[name] = work / ".coverage"
    return out


def test_a_run_with_per_test_contexts_only(crossbridge_env, dagster_instance, contexts, capsys, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")
    for shard, data in contexts.items():
        send(s, f"ctx{shard}", {".coverage": data}, age_seconds=3 * HOUR, project="shop", branch="main",
             build="70", shard=shard, shards_expected=2)
    ingest(dagster_instance)
    result = refresh(dagster_instance)
    md = metadata_of(result, "test_coverage_map")
    assert md["runs_with_per_test_coverage"].value == 1 and md["tests"].value >= 3
    code, out, err = run_cli(capsys, "covering", "calc/ops.py:16", "--json", "--project", "shop", "--branch", "main")
    assert code == 0, err
    got = json.loads(out)
    assert got["file"] == "calc/ops.py" and got["tests"]
    assert all("classify" in t["test"] for t in got["tests"])
    (run,) = coverage_runs(make_engine(s.warehouse_url))
    assert run["line_pct"] is None
    # Both announced shards sent their data: the run is not reported as waiting for shards.
    shards = checks_of(result)["coverage_shards_complete"]
    assert shards.passed is True, shards.description
