"""A monorepo organisation: many projects, many short-lived feature and pull-request branches.

What a branch's first run is compared with (its fork point on the default branch, never another
feature branch), on real warehouses (SQLite and PostgreSQL) through real Dagster instances."""

from datetime import timedelta

import dagster as dg
import pandas as pd
from sqlalchemy import select

from crossbridge_assets.analysis import compare
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.insights.comparisons import no_new_failures, run_comparisons
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now
from crossbridge_assets.warehouse.insights import result_frame, run_frame
from crossbridge_assets_tests.insights_helpers import History, junit

DAY = (now() - timedelta(days=2)).date().isoformat()
RESOURCES = {"warehouse": WarehouseResource()}


def send(h: History, build: str, cases: dict, *, project: str = "shop", branch: str = "main", hour: int = 8,
         shard: str | None = None, shards: int | None = None) -> str:
    return h.run(build, junit(cases), project=project, branch=branch, day=DAY,
                 started_at=f"{DAY}T{hour:02d}:00:00+00:00", commit=f"sha{project}{build}", shard=shard,
                 shards_expected=shards, ci_url=f"https://ci.example/{project}/{build}")


def table(h: History, t) -> pd.DataFrame:
    with h.engine.connect() as conn:
        return pd.DataFrame([dict(r._mapping) for r in conn.execute(select(t))], columns=list(t.c.keys()))


def test_a_feature_branchs_first_run_is_compared_with_the_default_branch_before_it(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    send(h, "1", {"test_pay": "passed", "test_ship": "passed", "test_old": "failed"}, hour=6)
    # main runs every test of the monorepo; the branch only those its change affects.
    fork = send(h, "2", {"test_pay": "passed", "test_ship": "passed", "test_old": "failed",
                         **{f"test_other_team_{n}": "passed" for n in range(30)}}, hour=8)
    # main moves on after the branch started: the branch is not judged against what it never had.
    send(h, "3", {"test_pay": "failed", "test_ship": "passed", "test_old": "passed"}, hour=12)
    # Another feature branch, of another team, before: never a baseline.
    send(h, "4", {"test_pay": "failed", "test_ship": "failed", "test_old": "passed"}, branch="feature/JIRA-7-other", hour=9)
    first = send(h, "5", {"test_pay": "failed", "test_ship": "passed", "test_old": "failed"},
                 branch="feature/JIRA-123-checkout", hour=10)
    second = send(h, "6", {"test_pay": "failed", "test_ship": "failed", "test_old": "failed"},
                  branch="feature/JIRA-123-checkout", hour=11)
    # Another project's main is no baseline of shop's branches.
    send(h, "1", {"test_pay": "passed"}, project="billing", hour=9)
    lone = send(h, "2", {"test_pay": "failed"}, project="billing", branch="feature/x", hour=7)

    result = dg.materialize([run_comparisons, no_new_failures], instance=dagster_instance, resources=RESOURCES)
    assert result.success
    runs = table(h, schema.run_comparisons).set_index("run_id")
    row = runs.loc[first]
    assert (row["state"], row["previous_run_id"], row["previous_branch"], row["previous_build"]) == (
        "compared", fork, "main", "2")
    assert row["new_failures"] == 1 and row["still_failing"] == 1 and "compared with main #2" in row["note"]
    # Its second run is compared with its own first, as before.
    assert (runs.loc[second, "previous_run_id"], runs.loc[second, "previous_branch"]) == (first, "feature/JIRA-123-checkout")
    # billing's feature branch ran before billing's main had a run: nothing to compare with.
    assert runs.loc[lone, "state"] == "no_previous_run" and pd.isna(runs.loc[lone, "previous_branch"])

    changes = table(h, schema.run_test_changes)
    mine = changes[changes["run_id"] == first]
    # The tests it did not run are not gone: its first run is judged on what it ran.
    assert set(zip(mine["name"], mine["change"])) == {("test_pay", "new_failure"), ("test_old", "still_failing")}
    assert row["gone"] == 0 and runs.loc[second, "gone"] == 0
    pay = mine[mine["name"] == "test_pay"].iloc[0]
    assert pay["previous_run_id"] == fork and bool(pay["regression"])
    # test_old was failing on main already: the branch did not break it.
    assert not bool(mine[mine["name"] == "test_old"].iloc[0]["regression"])

    md = result.asset_materializations_for_node("run_comparisons")[0].metadata
    assert md["first_runs_compared_with_default_branch"].value == 2  # feature/JIRA-123-checkout and JIRA-7-other
    assert md["first_runs_without_baseline"].value == 3  # shop/main, billing/main, billing/feature/x
    assert "main #2" in md["latest_runs"].value
    # Feature branches are not what no_new_failures judges: main's latest run (#3) is.
    (check,) = result.get_asset_check_evaluations()
    assert check.passed is False and "shop/main #3" in check.description


def test_release_branches_fork_from_main_and_main_never_from_a_release_branch(crossbridge_env):
    h = History(crossbridge_env)
    release_first = send(h, "1", {"test_a": "passed"}, branch="release/2.0", hour=6)
    main_first = send(h, "2", {"test_a": "failed"}, hour=7)
    release_next = send(h, "3", {"test_a": "failed"}, branch="release/2.1", hour=8)
    master_first = send(h, "4", {"test_a": "failed"}, branch="master", hour=9)
    results = result_frame(h.engine)
    runs, _ = compare.compare_runs(results, run_frame(h.engine), default_branches=("main", "master", "release/*"))
    runs = runs.set_index("run_id")
    assert runs.loc[release_first, "state"] == compare.NO_PREVIOUS_RUN  # main had no run yet
    assert runs.loc[main_first, "state"] == compare.NO_PREVIOUS_RUN  # not from release/2.0, listed after it
    assert runs.loc[release_next, "previous_run_id"] == main_first  # main, not release/2.0
    assert runs.loc[master_first, "previous_run_id"] == main_first  # a rename: master is listed after main


def test_the_fork_point_is_a_complete_run_of_the_default_branch(crossbridge_env):
    h = History(crossbridge_env)
    whole = send(h, "1", {"test_a": "passed", "test_b": "passed"}, hour=6)
    send(h, "2", {"test_a": "passed"}, hour=7, shard="1", shards=2)  # its shard 2 never came
    first = send(h, "3", {"test_a": "passed", "test_b": "failed"}, branch="feature/y", hour=8)
    runs, changes = compare.compare_runs(result_frame(h.engine), run_frame(h.engine), default_branches=("main",))
    assert runs.set_index("run_id").loc[first, "previous_run_id"] == whole
    assert set(zip(changes[changes["run_id"] == first]["name"], changes[changes["run_id"] == first]["change"])) == {
        ("test_b", "new_failure")}


def test_a_cadence_glob_watches_every_project_it_names(crossbridge_env, dagster_instance, monkeypatch):
    from crossbridge_assets_tests.test_health_checks import DAY, check, drop, ingest
    from crossbridge_assets_tests.test_health_checks import junit as small_junit

    s = crossbridge_env
    # Forty teams' projects in one warehouse: the payments ones are expected twice a day.
    monkeypatch.setenv("CROSSBRIDGE_EXPECTED_CADENCE", '{"payments-*": "12h", "payments-legacy": "7d", "*": "72h"}')
    ingest(s, dagster_instance, [
        drop(s, "payments-api/main/1/a.xml", text=small_junit("pay_api"), age_seconds=DAY),
        drop(s, "payments-legacy/main/1/b.xml", text=small_junit("pay_legacy"), age_seconds=DAY),
        drop(s, "search/main/1/c.xml", text=small_junit("search"), age_seconds=DAY),
    ])
    finding = check("reports_arriving", s)
    assert finding.passed is False, finding.summary
    assert "payments-api (silent for 24h, expected every 12h)" in finding.summary
    assert "payments-legacy" not in finding.summary and "search" not in finding.summary
    # The glob is no project of its own that never reported.
    assert "payments-*" not in {r["project"] for r in finding.rows}
    assert {r["project"]: r["expected_every"] for r in finding.rows} == {
        "payments-api": "12h", "payments-legacy": "7d", "search": "3d"}
