"""The coverage layer on realistic CI histories, through a real Dagster instance and
`crossbridge ingest`, on SQLite and PostgreSQL: shards of one run in two formats on two days,
runs that arrive out of order, branches interleaved, thresholds per project and branch, drops
at the configured limit, shard sets before and after their grace period.

The reports are written by real coverage.py on the sample package of the fixtures, one test
selection a CI shard (`-k`), so the union of two shards can be held against what one
unsharded run measures."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse.coverage import coverage_runs
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest, refresh
from crossbridge_assets_tests.test_coverage_landing import cli_ingest

SAMPLE = FIXTURES / "coverage" / "sample" / "python"
JUNIT = (FIXTURES / "junit" / "pytest-sample.xml").read_text(encoding="utf-8")

# pytest -k selections of the sample's tests: what a CI shard runs. Their figures (coverage.py
# 7.x, branch measurement on): lines covered of 19, branches covered of 8.
SELECTIONS = {
    "all": "test_add or test_divide or test_classify",  # 14/19 = 73.68 %, 5/8
    "arith": "test_add or test_divide",  # 10/19 = 52.63 %, 2/8
    "classify": "test_classify",  # 10/19 = 52.63 %, 3/8
    "divide": "test_divide",  # 9/19 = 47.37 %
    "add": "test_add",  # 7/19 = 36.84 %
}
PCT = {"all": 73.68, "arith": 52.63, "classify": 52.63, "divide": 47.37, "add": 36.84}


@pytest.fixture(scope="session")
def measured(tmp_path_factory) -> dict[str, Path]:
    """selection -> folder holding coverage.xml, coverage.lcov and coverage.json of that shard."""
    base = tmp_path_factory.mktemp("coveragepy")
    work = base / "sample"
    shutil.copytree(SAMPLE, work)
    coverage = [sys.executable, "-m", "coverage"]
    out = {}
    for name, selection in SELECTIONS.items():
        subprocess.run([*coverage, "run", "--rcfile=.coveragerc", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/checks_ops.py", "-k", selection], cwd=work, check=True, capture_output=True)
        folder = base / name
        folder.mkdir()
        for command, suffix in (("xml", "xml"), ("lcov", "lcov"), ("json", "json")):
            subprocess.run([*coverage, command, "--rcfile=.coveragerc", "-o", str(folder / f"coverage.{suffix}")],
                           cwd=work, check=True, capture_output=True)
        out[name] = folder
    return out


def junit_started(at: str) -> str:
    """The committed pytest JUnit file, as if its run had started at `at`."""
    return re.sub(r'timestamp="[^"]*"', f'timestamp="{at}"', JUNIT, count=1)


def send(settings, folder: str, files: dict, age_seconds: float = 60, **manifest) -> None:
    """A CI upload: `files` (name -> a file to copy, or text) and a crossbridge.json holding
    exactly `manifest`, written `age_seconds` ago."""
    target = settings.inbox / folder
    target.mkdir(parents=True, exist_ok=True)
    (target / "crossbridge.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name, source in files.items():
        if isinstance(source, Path):
            shutil.copyfile(source, target / name)
        else:
            (target / name).write_text(source, encoding="utf-8")
    when = time.time() - age_seconds
    for path in target.iterdir():
        os.utime(path, (when, when))


def runs_by_build(settings) -> dict[str, dict]:
    return {r["build"]: r for r in coverage_runs(make_engine(settings.warehouse_url))}


def utc(value: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back naive, PostgreSQL with its zone)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def metadata_of(result, asset: str) -> dict:
    return result.asset_materializations_for_node(asset)[0].metadata


# ---------------------------------------------------------------------------- shards


def test_shards_in_two_formats_on_two_days_measure_what_one_run_measures(crossbridge_env, dagster_instance, measured,
                                                                          monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/main": 60}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", str(48 * 60))
    run = {"project": "shop", "branch": "main", "build": "510", "shards_expected": 2}
    # Shard 1 (XML) yesterday, shard 2 (LCOV) today: two batches, two daily partitions.
    send(s, "up1", {"coverage.xml": measured["arith"] / "coverage.xml"}, age_seconds=26 * 3600, shard="1", **run)
    cursor, results = ingest(dagster_instance)
    first_day = results[0].dagster_run.tags["dagster/partition"]
    result = refresh(dagster_instance)
    (waiting,) = runs_by_build(s).values()
    assert (waiting["shards_seen"], waiting["complete"], waiting["line_pct"]) == (1, False, PCT["arith"])
    # Half a run is not a low run: nothing plotted, nothing judged, nothing trended.
    by_run = metadata_of(result, "coverage_by_run")
    assert by_run["incomplete_runs"].value == 1 and "line_pct" not in by_run and "latest_run" not in by_run
    assert "1/2" in by_run["recent_runs"].value and "waiting for shards" in by_run["recent_runs"].value
    trends = metadata_of(result, "coverage_trends")
    assert trends["branches"].value == 0 and "line_pct" not in trends
    assert all(check.passed for check in checks_of(result).values())

    send(s, "up2", {"coverage.lcov": measured["classify"] / "coverage.lcov"}, shard="2", **run)
    _, results = ingest(dagster_instance, cursor)
    assert results[0].dagster_run.tags["dagster/partition"] > first_day
    result = refresh(dagster_instance)
    (done,) = runs_by_build(s).values()
    unsharded = json.loads((measured["all"] / "coverage.json").read_text())["totals"]
    assert (done["shards_seen"], done["complete"], done["formats"]) == (2, True, "coveragepy-xml,lcov")
    assert (done["lines_covered"], done["lines_valid"]) == (unsharded["covered_lines"], unsharded["num_statements"])
    assert (done["branches_covered"], done["branches_valid"]) == (
        unsharded["covered_branches"], unsharded["num_branches"])
    by_run = metadata_of(result, "coverage_by_run")
    assert by_run["latest_run"].value == "shop/main #510"
    assert isinstance(by_run["line_pct"], dg.FloatMetadataValue) and by_run["line_pct"].value == PCT["all"]
    assert isinstance(by_run["branch_pct"], dg.FloatMetadataValue) and by_run["branch_pct"].value == 62.5
    trends = metadata_of(result, "coverage_trends")
    assert isinstance(trends["line_pct shop/main"], dg.FloatMetadataValue)
    assert trends["line_pct shop/main"].value == PCT["all"]
    assert all(check.passed for check in checks_of(result).values())  # 73.68 % >= 60 %


def test_a_resent_shard_is_still_one_shard(crossbridge_env, dagster_instance, measured):
    """A shard sent again with new content (a CI job re-run) is the same shard of the run: it
    supersedes the first try, and does not make up for a shard that never came."""
    s = crossbridge_env
    run = {"project": "shop", "branch": "main", "build": "520", "shards_expected": 2, "shard": "1"}
    send(s, "first", {"coverage.lcov": measured["add"] / "coverage.lcov"}, **run)
    cursor, _ = ingest(dagster_instance)
    send(s, "again", {"coverage.lcov": measured["arith"] / "coverage.lcov"}, **run)
    ingest(dagster_instance, cursor)
    refresh(dagster_instance)
    run = runs_by_build(s)["520"]
    assert (run["reports"], run["shards_seen"], run["complete"]) == (1, 1, False)
    assert run["line_pct"] == PCT["arith"]


def test_shards_expected_is_the_largest_count_a_shard_announced(crossbridge_env, dagster_instance, measured):
    """Shards of one build that disagree on their number: the run waits for the larger one (and
    coverage_shards_complete says so after the grace period) rather than being judged on part
    of its shards."""
    s = crossbridge_env
    base = {"project": "shop", "branch": "main"}
    send(s, "a1", {"coverage.lcov": measured["arith"] / "coverage.lcov"}, build="530", shard="1", shards_expected=2,
         **base)
    send(s, "a2", {"coverage.lcov": measured["classify"] / "coverage.lcov"}, build="530", shard="2",
         shards_expected=3, **base)
    send(s, "b1", {"coverage.lcov": measured["arith"] / "coverage.lcov"}, build="531", shard="1", shards_expected=3,
         **base)
    send(s, "b2", {"coverage.lcov": measured["classify"] / "coverage.lcov"}, build="531", shard="2",
         shards_expected=2, **base)
    ingest(dagster_instance)
    refresh(dagster_instance)
    runs = runs_by_build(s)
    assert [(runs[b]["shards_seen"], runs[b]["shards_expected"], runs[b]["complete"]) for b in ("530", "531")] == [
        (2, 3, False), (2, 3, False)]


# ---------------------------------------------------------------------------- which run is the previous one


def test_runs_arriving_out_of_order_follow_the_start_their_junit_file_states(crossbridge_env, dagster_instance,
                                                                             measured, monkeypatch):
    """LCOV states no time. Build 12 started before build 13 (its JUnit file says so) but its
    reports arrive after 13's: 13 stays the branch's latest run, 12 its previous one."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "1")
    run = {"project": "shop", "branch": "main"}
    send(s, "b13", {"coverage.lcov": measured["all"] / "coverage.lcov",
                    "junit.xml": junit_started("2026-03-02T10:00:00+00:00")}, build="13", **run)
    cursor, _ = ingest(dagster_instance)
    # Build 12's coverage first, alone: nothing says when 12 ran, so its arrival places it.
    send(s, "b12-cov", {"coverage.lcov": measured["arith"] / "coverage.lcov"}, build="12", **run)
    cursor, _ = ingest(dagster_instance, cursor)
    assert checks_of(refresh(dagster_instance))["coverage_drop"].passed is False
    # Its test results then say it started at 09:00, before 13.
    send(s, "b12-junit", {"junit.xml": junit_started("2026-03-02T09:00:00+00:00")}, build="12", **run)
    ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    runs = runs_by_build(s)
    assert utc(runs["12"]["started_at"]) == datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    assert utc(runs["13"]["started_at"]) == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    checks = checks_of(result)
    assert checks["coverage_drop"].passed is True, checks["coverage_drop"].description
    assert metadata_of(result, "coverage_by_run")["latest_run"].value == "shop/main #13"
    trends = metadata_of(result, "coverage_trends")["trends"].value
    assert f"| 13 | {PCT['all']} | 62.5 | 21.05 | {PCT['arith']:g} {PCT['all']:g} |" in trends


def test_patch_coverage_measures_against_the_run_that_started_last(crossbridge_env, measured, capsys, monkeypatch,
                                                                    tmp_path):
    """From a terminal: `crossbridge ingest` of build 13, then of build 12 (re-sent late);
    patch-coverage without --run takes 13, the newest run by the start its JUnit file states."""
    for build, selection, started in (("13", "all", "2026-03-02T10:00:00Z"), ("12", "add", "2026-03-02T09:00:00Z")):
        folder = tmp_path / f"b{build}"
        folder.mkdir()
        shutil.copyfile(measured[selection] / "coverage.lcov", folder / "coverage.lcov")
        (folder / "junit.xml").write_text(junit_started(started), encoding="utf-8")
        out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "shop", "--branch", "main", "--build", build,
                         str(folder))
        assert f"coverage shop/main #{build}: lines {PCT[selection]:.2f}%" in out
    diff = tmp_path / "change.diff"
    diff.write_text("diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n"
                    "@@ -15,2 +15,2 @@\n-    a\n-    b\n+    a2\n+    b2\n")  # classify(): 13 ran it, 12 did not
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "patch-coverage", "--diff-file", str(diff), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["coverage"] == f"run {runs_by_build(crossbridge_env)['13']['run_id']}"
    assert report["files"]["calc/ops.py"]["covered"] == [15, 16]


def test_start_times_in_other_zones_are_compared_as_moments(crossbridge_env, dagster_instance, measured, monkeypatch):
    """11:30+02:00 is 09:30 UTC: before a run started at 10:00Z, whatever the warehouse."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "1")
    run = {"project": "shop", "branch": "main"}
    send(s, "b13", {"coverage.lcov": measured["all"] / "coverage.lcov"}, build="13",
         started_at="2026-03-02T10:00:00Z", **run)
    cursor, _ = ingest(dagster_instance)
    send(s, "b12", {"coverage.lcov": measured["add"] / "coverage.lcov"}, build="12",
         started_at="2026-03-02T11:30:00+02:00", **run)
    ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    assert utc(runs_by_build(s)["12"]["started_at"]) == datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    assert checks_of(result)["coverage_drop"].passed is True
    assert metadata_of(result, "coverage_by_run")["latest_run"].value == "shop/main #13"


# ---------------------------------------------------------------------------- thresholds and drops


def test_interleaved_branches_and_projects_are_judged_on_their_own_history(crossbridge_env, dagster_instance,
                                                                            measured, monkeypatch):
    s = crossbridge_env
    # shop/main has its own threshold, shop's other branches the project's, web the default.
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/main": 70, "shop": 45, "*": 40}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "5.26")
    history = [  # (folder, project, branch, build, selection, day)
        ("m1", "shop", "main", "1", "all", 1),
        ("f2", "shop", "feature/login", "2", "arith", 2),
        ("m3", "shop", "main", "3", "arith", 3),  # main: 73.68 -> 52.63, 21.05 points
        ("f4", "shop", "feature/login", "4", "divide", 4),  # feature: 52.63 -> 47.37, 5.263 points: over the limit
        ("w1", "web", None, "1", "add", 5),  # no branch in its manifest
    ]
    cursor = None
    for folder, project, branch, build, selection, day in history:
        manifest = {"project": project, "build": build, "started_at": f"2026-03-0{day}T10:00:00Z"}
        if branch:
            manifest["branch"] = branch
        send(s, folder, {"coverage.xml": measured[selection] / "coverage.xml"}, **manifest)
        cursor, _ = ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    checks = checks_of(result)

    low = checks["coverage_threshold"]
    assert low.passed is False and low.severity == dg.AssetCheckSeverity.ERROR
    assert "2 branch(es)" in low.description
    assert "shop/main #3 at 52.63% < 70%" in low.description and "web/default #1 at 36.84% < 40%" in low.description
    assert "feature/login" not in low.description  # 47.37 % against the project's 45 %
    table = low.metadata["runs"].value
    assert "| shop/main #3 | 52.63 | 70.0 | shop/main |" in table and "| web/default #1 | 36.84 | 40.0 | * |" in table

    drop = checks["coverage_drop"]
    assert drop.passed is False and drop.severity == dg.AssetCheckSeverity.ERROR
    assert "shop/main #3 73.68% -> 52.63% (-21.05 points against #1)" in drop.description
    # 5.263 points (1 of 19 lines), over the tolerated 5.26, shown with the digit that says so.
    assert "shop/feature/login #4 52.63% -> 47.37% (-5.264 points against #2)" in drop.description
    assert drop.metadata["max_drop_points"] == dg.MetadataValue.float(5.26)
    assert drop.metadata["run_ids"].value == [runs_by_build(s)["4"]["run_id"], runs_by_build(s)["3"]["run_id"]]

    trends = metadata_of(result, "coverage_trends")
    assert trends["branches"].value == 3 and trends["dagster/row_count"].value == 5
    assert {k: v.value for k, v in trends.items() if k.startswith("line_pct ")} == {
        "line_pct shop/main": 52.63, "line_pct shop/feature/login": 47.37, "line_pct web/default": 36.84}
    assert all(isinstance(v, dg.FloatMetadataValue) for k, v in trends.items() if k.startswith("line_pct"))

    # One hundredth of a point less tolerance: the feature branch's drop reads to hundredths.
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "5.25")
    drop = checks_of(refresh(dagster_instance))["coverage_drop"]
    assert "shop/feature/login #4 52.63% -> 47.37% (-5.26 points against #2)" in drop.description
    assert "2 branch(es)" in drop.description


def test_a_run_known_by_its_commit_only_is_named_by_it(crossbridge_env, dagster_instance, measured, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"*": 60}')
    send(s, "c", {"coverage.lcov": measured["add"] / "coverage.lcov"}, project="shop", branch="main",
         commit="3f2a9c41d0e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9")
    ingest(dagster_instance)
    low = checks_of(refresh(dagster_instance))["coverage_threshold"]
    assert "shop/main @3f2a9c41d0e5 at 36.84% < 60%" in low.description


# ---------------------------------------------------------------------------- the grace period


def test_missing_shards_are_reported_once_the_grace_period_is_over_without_new_reports(
        crossbridge_env, dagster_instance, measured, monkeypatch):
    s = crossbridge_env
    # Shard 1 of 2 came three hours ago; shard 2 never comes, and nothing else arrives.
    send(s, "only", {"coverage.xml": measured["arith"] / "coverage.xml"}, age_seconds=3 * 3600, project="shop",
         branch="main", build="610", shard="1", shards_expected=2)
    ingest(dagster_instance)
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "240")
    assert checks_of(refresh(dagster_instance))["coverage_shards_complete"].passed is True  # within its grace

    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "120")
    schedule = next(sc for sc in defs.schedules if sc.name == "coverage_shards_watch")
    assert schedule.cron_schedule == "22 * * * *" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.build_schedule_context(instance=dagster_instance) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    job = defs.resolve_job_def(schedule.job_name)
    result = job.execute_in_process(instance=dagster_instance, tags=request.tags)
    assert result.success and result.get_asset_materialization_events() == []  # the check alone
    (stale,) = result.get_asset_check_evaluations()
    assert (stale.check_name, stale.passed, stale.severity) == (
        "coverage_shards_complete", False, dg.AssetCheckSeverity.WARN)
    assert re.search(r"shop/main #610 has 1/2 after 1[78]\d min", stale.description), stale.description
    assert stale.metadata["grace_minutes"] == dg.MetadataValue.float(120.0)
    assert stale.metadata["run_ids"].value == [runs_by_build(s)["610"]["run_id"]]


def test_a_run_overtaken_by_a_complete_run_of_its_branch_is_no_longer_reported(crossbridge_env, dagster_instance,
                                                                               measured, monkeypatch):
    """Build 700 lost a shard for good (a cancelled CI job). Once 701 on the same branch is
    complete, 700 no longer decides anything: the check passes again, so that the next run
    missing a shard turns it (and its alert) on again. Another branch's run is not overtaken."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "120")
    send(s, "700", {"coverage.xml": measured["arith"] / "coverage.xml"}, age_seconds=3 * 3600, project="shop",
         branch="main", build="700", shard="1", shards_expected=2, started_at="2026-03-02T08:00:00Z")
    send(s, "9", {"coverage.xml": measured["arith"] / "coverage.xml"}, age_seconds=3 * 3600, project="shop",
         branch="feature/x", build="9", shard="1", shards_expected=2, started_at="2026-03-02T08:30:00Z")
    cursor, _ = ingest(dagster_instance)
    stale = checks_of(refresh(dagster_instance))["coverage_shards_complete"]
    assert stale.passed is False and "shop/main #700 has 1/2" in stale.description
    assert "shop/feature/x #9 has 1/2" in stale.description

    send(s, "701", {"coverage.xml": measured["all"] / "coverage.xml"}, project="shop", branch="main", build="701",
         started_at="2026-03-02T09:00:00Z")
    ingest(dagster_instance, cursor)
    stale = checks_of(refresh(dagster_instance))["coverage_shards_complete"]
    assert stale.passed is False and "#700" not in stale.description
    assert stale.metadata["run_ids"].value == [runs_by_build(s)["9"]["run_id"]]


def test_overtaken_means_started_later_on_the_same_branch():
    from datetime import timedelta

    from crossbridge_assets.analysis.coverage_policy import stale_incomplete

    def run(run_id, hour, complete, branch="main", project="shop"):
        at = datetime(2026, 3, 2, hour, tzinfo=timezone.utc)
        return dict(run_id=run_id, project=project, branch=branch, started_at=at, first_arrival=at, complete=complete)

    now = datetime(2026, 3, 2, 20, tzinfo=timezone.utc)
    runs = [run("a", 8, False), run("b", 9, True), run("c", 10, False), run("d", 11, True, branch="dev"),
            run("e", 7, False, project="web"), run("f", 12, True, branch="main", project="api")]
    # a: overtaken by b; c: started after b; e: no complete run of web/main at all.
    assert [r["run_id"] for r in stale_incomplete(runs, timedelta(hours=2), now)] == ["e", "c"]
    assert stale_incomplete(runs, timedelta(hours=14), now) == []
