"""The coverage checks as a team meets them over weeks, through a real Dagster instance on
SQLite and PostgreSQL: figures at the edge of a threshold or a tolerated drop on a large
code base, shards that come late or are quarantined, days whose runs are still waiting for
shards, and what the checks' descriptions tell the reader to do."""

import dagster as dg

from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest, refresh
from crossbridge_assets_tests.test_coverage_layer_more import PCT, measured, metadata_of, runs_by_build, send  # noqa: F401


def lcov(valid: int, missed: int, path: str = "shop/big.py") -> str:
    """An LCOV tracefile of one file of `valid` lines, the last `missed` of them not run, in
    the shape geninfo (lcov 1.x/2.x) writes for code built without branch coverage."""
    rows = [f"DA:{n},{0 if n > valid - missed else 3}" for n in range(1, valid + 1)]
    return "TN:\nSF:" + path + "\n" + "\n".join(rows) + f"\nLF:{valid}\nLH:{valid - missed}\nend_of_record\n"


# ---------------------------------------------------------------------------- rounding at the edge


def test_a_threshold_is_judged_on_the_unrounded_figure(crossbridge_env, dagster_instance, monkeypatch):
    """30,000 lines: 23,999 covered is 79.9967 %, shown as 80.0 but under a threshold of 80."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/release/*": 80, "shop": 70, "*": 0}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "1")
    history = [  # (build, branch, missed lines, start)
        ("40", "release/2.1", 5999, "2026-03-02T09:00:00Z"),  # 80.0033 %
        ("41", "release/2.1", 6601, "2026-03-02T11:00:00Z"),  # 77.9967 %: a drop
        ("50", "release/2.2", 6001, "2026-03-02T10:00:00Z"),  # 79.9967 %: under 80
        ("51", "main", 8999, "2026-03-02T10:00:00Z"),  # 70.0033 %: over the project's 70
    ]
    cursor = None
    for build, branch, missed, started in history:
        send(s, f"b{build}", {"coverage.lcov": lcov(30000, missed)}, project="shop", branch=branch, build=build,
             started_at=started)
        cursor, _ = ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    runs = runs_by_build(s)
    assert [runs[b]["line_pct"] for b in ("40", "41", "50", "51")] == [80.0, 78.0, 80.0, 70.0]
    checks = checks_of(result)

    low = checks["coverage_threshold"]
    assert low.passed is False
    assert low.metadata["run_ids"].value == [runs["41"]["run_id"], runs["50"]["run_id"]]
    # The figure shown is under the threshold it failed, not the rounded 80.0.
    assert "shop/release/2.2 #50 at 79.996% < 80%" in low.description, low.description
    assert "| shop/release/2.2 #50 | 79.996 | 80.0 | shop/release/\\* |" in low.metadata["runs"].value

    drop = checks["coverage_drop"]
    assert drop.passed is False
    assert drop.metadata["run_ids"].value == [runs["41"]["run_id"]]
    # 80.0033 -> 77.9967 %: 2.0067 points lost, from the counts as the threshold is judged.
    assert "shop/release/2.1 #41 80.0% -> 78.0% (-2.01 points against #40)" in drop.description, drop.description

    # No branch data in any of them: branch % is left out, not plotted as 0.
    assert runs["51"]["branch_pct"] is None
    assert "branch_pct" not in metadata_of(result, "coverage_by_run")
    trends = metadata_of(result, "coverage_trends")
    assert "branch_pct" not in trends
    assert isinstance(trends["line_pct shop/release/2.2"], dg.FloatMetadataValue)


# ---------------------------------------------------------------------------- shards


def test_a_shard_whose_report_was_quarantined_is_named_with_its_reason(crossbridge_env, dagster_instance, measured,  # noqa: F811
                                                                        monkeypatch):
    """Shard 2 did upload: its report was cut short and quarantined. Once the grace period is
    over the check says so, and what to do, instead of asking whether the shard uploads."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")
    run = {"project": "shop", "branch": "feature/x", "build": "88", "shards_expected": 2}
    send(s, "s1", {"coverage.xml": measured["arith"] / "coverage.xml"}, age_seconds=3 * 3600, shard="1", **run)
    cut = (measured["classify"] / "coverage.xml").read_text(encoding="utf-8")[:400]
    send(s, "s2", {"coverage.xml": cut}, age_seconds=3 * 3600, shard="2", **run)
    ingest(dagster_instance)
    stale = checks_of(refresh(dagster_instance))["coverage_shards_complete"]
    assert stale.passed is False
    assert "shop/feature/x #88 has 1/2 after 1" in stale.description
    assert "its quarantined report coverage.xml (shard 2): " in stale.description, stale.description
    assert "dropped into the inbox again" in stale.description
    assert "coverage.xml" in stale.metadata["runs"].value


# ---------------------------------------------------------------------------- what the day plots


def test_a_day_does_not_plot_a_run_still_waiting_for_shards_as_low(crossbridge_env, dagster_instance, measured,  # noqa: F811
                                                                    monkeypatch):
    """Yesterday: api/main #7 complete (two shards), shop/feature/x #31 with shard 1 of 2; its
    shard 2 lands today, after the grace period. Yesterday's plotted figure is #7's, not #7
    averaged with half of #31; today's is #31 whole, not its shard 2 alone."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")
    api = {"project": "api", "branch": "main", "build": "7", "shards_expected": 2}
    shop = {"project": "shop", "branch": "feature/x", "build": "31", "shards_expected": 2}
    send(s, "a1", {"coverage.xml": measured["arith"] / "coverage.xml"}, age_seconds=26 * 3600, shard="1", **api)
    send(s, "a2", {"coverage.xml": measured["classify"] / "coverage.xml"}, age_seconds=26 * 3600, shard="2", **api)
    send(s, "s1", {"coverage.xml": measured["add"] / "coverage.xml"}, age_seconds=26 * 3600, shard="1", **shop)
    cursor, results = ingest(dagster_instance)
    day = metadata_of(results[0], "coverage")
    assert day["reports_loaded"].value == 3
    assert (day["line_pct"].value, day["branch_pct"].value) == (PCT["all"], 62.5), day["line_pct"]
    assert day["runs_waiting_for_shards"].value == 1
    assert checks_of(refresh(dagster_instance))["coverage_shards_complete"].passed is False

    send(s, "s2", {"coverage.xml": measured["classify"] / "coverage.xml"}, shard="2", **shop)
    cursor, results = ingest(dagster_instance, cursor)
    today = metadata_of(results[0], "coverage")
    assert today["reports_loaded"].value == 1 and today["runs_waiting_for_shards"].value == 0
    refresh(dagster_instance)
    union = runs_by_build(s)["31"]
    assert union["complete"] is True
    assert today["line_pct"].value == union["line_pct"] and today["line_pct"].value > PCT["classify"]


# ---------------------------------------------------------------------------- what to do


def test_a_drop_names_the_command_that_shows_the_uncovered_change(crossbridge_env, dagster_instance, measured,  # noqa: F811
                                                                   monkeypatch):
    """Feature branch feature/x (a slash in its name): #12 at commit c0ffee..., #13 at
    beef..., 21.05 points lower; the check gives the patch-coverage command of that change
    with the real run and commit, not a placeholder."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "2")
    run = {"project": "shop", "branch": "feature/x"}
    first, second = "c0ffee1234567890abcdef1234567890abcdef12", "beef00112233445566778899aabbccddeeff0011"
    send(s, "b12", {"coverage.xml": measured["all"] / "coverage.xml"}, build="12", commit=first,
         started_at="2026-03-02T09:00:00Z", **run)
    cursor, _ = ingest(dagster_instance)
    send(s, "b13", {"coverage.xml": measured["arith"] / "coverage.xml"}, build="13", commit=second,
         started_at="2026-03-02T10:00:00Z", **run)
    ingest(dagster_instance, cursor)
    drop = checks_of(refresh(dagster_instance))["coverage_drop"]
    run_id = runs_by_build(s)["13"]["run_id"]
    assert drop.passed is False
    assert "shop/feature/x #13 73.68% -> 52.63% (-21.05 points against #12)" in drop.description
    command = f"crossbridge patch-coverage --diff c0ffee123456 --run {run_id}"
    assert f"in a checkout of beef00112233, `{command}` shows the lines it left uncovered" in drop.description
    assert f"| {command} (in a checkout of beef00112233) |" in drop.metadata["drops"].value


# ---------------------------------------------------------------------------- a week of two projects


def test_a_week_of_runs_plots_each_branch_and_judges_it_on_its_own_history(crossbridge_env, dagster_instance,
                                                                           measured, monkeypatch):  # noqa: F811
    """shop and api, main and feature/x each, several runs a day. api/main #3's report lands
    after #4's; shop/main #21 waits for its second shard, which comes after the grace period;
    shop/feature/x's runs send LCOV without branch lines. Every branch is plotted on its own,
    line % and branch % (where measured), and a run waiting for shards is neither plotted
    nor taken as the run before the next one."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/feature/*": 50, "shop": 70, "api/main": 60}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "1")
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")

    def lcov_only(name: str) -> str:
        """coverage.py's LCOV without its branch records: what geninfo writes without
        branch_coverage (lcov's default)."""
        text = (measured[name] / "coverage.lcov").read_text(encoding="utf-8")
        return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(("BRDA", "BRF", "BRH")))

    plan = [  # (folder, project, branch, build, started, files, extra manifest)
        ("s20", "shop", "main", "20", "2026-03-02T09:00:00Z", {"coverage.xml": measured["all"] / "coverage.xml"}, {}),
        ("s21a", "shop", "main", "21", "2026-03-02T13:00:00Z", {"coverage.xml": measured["arith"] / "coverage.xml"},
         {"shard": "1", "shards_expected": 2}),
        ("f5", "shop", "feature/x", "5", "2026-03-02T10:00:00Z", {"coverage.lcov": lcov_only("arith")}, {}),
        ("f6", "shop", "feature/x", "6", "2026-03-03T10:00:00Z", {"coverage.lcov": lcov_only("all")}, {}),
        ("a4", "api", "main", "4", "2026-03-03T12:00:00Z", {"coverage.xml": measured["all"] / "coverage.xml"}, {}),
        ("a3", "api", "main", "3", "2026-03-03T11:00:00Z", {"coverage.xml": measured["add"] / "coverage.xml"}, {}),
        ("s22", "shop", "main", "22", "2026-03-03T15:00:00Z", {"coverage.xml": measured["all"] / "coverage.xml"}, {}),
    ]
    cursor = None
    for folder, project, branch, build, started, files, extra in plan:
        send(s, folder, files, age_seconds=3 * 3600, project=project, branch=branch, build=build,
             started_at=started, **extra)
        cursor, _ = ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    runs = runs_by_build(s)
    checks = checks_of(result)
    # #21 is half there and overtaken by #22: not judged, not plotted, not reported as overdue.
    assert (runs["21"]["complete"], runs["21"]["line_pct"]) == (False, PCT["arith"])
    assert checks["coverage_shards_complete"].passed is True, checks["coverage_shards_complete"].description
    # api/main #4 started after #3 though it arrived first: no drop (36.84 -> 73.68), and over 60 %.
    assert checks["coverage_drop"].passed is True, checks["coverage_drop"].description
    assert checks["coverage_threshold"].passed is True, checks["coverage_threshold"].description
    assert runs["6"]["branch_pct"] is None and runs["6"]["line_pct"] == PCT["all"]

    trends = metadata_of(result, "coverage_trends")
    plotted = {k: v.value for k, v in trends.items() if k.startswith(("line_pct ", "branch_pct "))}
    assert all(isinstance(v, dg.FloatMetadataValue) for k, v in trends.items() if k.startswith(("line_pct", "branch_pct")))
    assert plotted == {
        "line_pct shop/main": PCT["all"], "branch_pct shop/main": 62.5,
        "line_pct api/main": PCT["all"], "branch_pct api/main": 62.5,
        "line_pct shop/feature/x": PCT["all"],  # no branch lines: no branch figure, not 0
    }
    md = trends["trends"].value
    assert f"| shop | main | 2 | 22 | {PCT['all']} | 62.5 | 0.0 |" in md
    assert f"| api | main | 2 | 4 | {PCT['all']} | 62.5 | {round(PCT['all'] - PCT['add'], 2)} |" in md

    # #21's second shard, past the grace period: #21 now complete at 73.68 %, still before #22.
    send(s, "s21b", {"coverage.xml": measured["classify"] / "coverage.xml"}, project="shop", branch="main",
         build="21", started_at="2026-03-02T13:00:00Z", shard="2", shards_expected=2)
    cursor, _ = ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    assert runs_by_build(s)["21"]["complete"] is True
    assert all(c.passed for c in checks_of(result).values())
    assert f"| shop | main | 3 | 22 | {PCT['all']} | 62.5 | 0.0 |" in metadata_of(result, "coverage_trends")["trends"].value
