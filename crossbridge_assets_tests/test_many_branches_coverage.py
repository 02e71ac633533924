"""Coverage of a feature branch's first run, judged against where it started: its project's
default branch (real coverage.py reports, a real Dagster instance, SQLite and PostgreSQL)."""

import pytest

from crossbridge_assets.warehouse.coverage import coverage_runs
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest, refresh
from crossbridge_assets_tests.test_coverage_layer_more import measured, send  # noqa: F401


@pytest.fixture(scope="session")
def reports(measured):  # noqa: F811 (the fixture imported above)
    return measured


def test_a_branchs_first_run_that_loses_coverage_against_its_default_branch_fails_the_drop_check(
        crossbridge_env, dagster_instance, reports, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "1")
    history = [
        # Another team's feature branch, before main's run: low, and no baseline of anyone's.
        ("shop", "feature/JIRA-1-other", "o1", "add", "09"),
        ("shop", "main", "m1", "all", "10"),  # 73.68 %
        ("shop", "feature/JIRA-9-pay", "f1", "arith", "11"),  # 52.63 %: 21 points under main
        ("api", "feature/y", "y1", "add", "11"),  # api has no main run: nothing to compare with
    ]
    cursor = None
    for project, branch, build, selection, hour in history:
        send(s, build, {"coverage.xml": reports[selection] / "coverage.xml"}, project=project, branch=branch,
             build=build, commit=f"c0ffee{build}", started_at=f"2026-03-01T{hour}:00:00Z")
        cursor, _ = ingest(dagster_instance, cursor)
    drop = checks_of(refresh(dagster_instance))["coverage_drop"]
    runs = {r["build"]: r for r in coverage_runs(make_engine(s.warehouse_url))}
    assert drop.passed is False, drop.description
    assert drop.metadata["run_ids"].value == [runs["f1"]["run_id"]]
    assert "shop/feature/JIRA-9-pay #f1 73.68% -> 52.63%" in drop.description
    assert "main #m1 (where the branch started)" in drop.metadata["drops"].value
    # The change to look at is the branch's against the commit it started from.
    assert "--diff c0ffeem1" in drop.metadata["drops"].value
    assert drop.metadata["default_branches"].value == "main, master"


def test_the_trends_table_shows_the_most_recent_branches_and_counts_the_rest(
        crossbridge_env, dagster_instance, reports, monkeypatch):
    from crossbridge_assets.defs import common
    from crossbridge_assets_tests.test_coverage_layer_more import metadata_of

    s = crossbridge_env
    monkeypatch.setattr(common, "TABLE_ROWS", 3)  # thousands of branches, as five
    cursor = None
    for n in range(5):
        send(s, f"b{n}", {"coverage.xml": reports["all"] / "coverage.xml"}, project="shop",
             branch=f"feature/JIRA-{n}", build=str(n), started_at=f"2026-03-01T1{n}:00:00Z")
        cursor, _ = ingest(dagster_instance, cursor)
    trends = metadata_of(refresh(dagster_instance), "coverage_trends")
    md = trends["trends"].value
    assert trends["branches"].value == 5
    shown = [line.split(" | ")[1] for line in md.splitlines() if line.startswith("| shop |")]
    assert shown == ["feature/JIRA-4", "feature/JIRA-3", "feature/JIRA-2"]
    assert md.endswith("_… and 2 more (5 in all)_")
