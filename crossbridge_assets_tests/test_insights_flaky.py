"""The flaky-test rules on hand-built histories: each kind of evidence, and what must not be flagged
(a broken test, a test fixed once, skipped runs, other branches)."""

from datetime import date

import pandas as pd
import pytest

from crossbridge_assets.analysis.flaky import FLAKY_COLUMNS, Rules, detect, new_since
from crossbridge_assets.warehouse.insights import RESULT_COLUMNS

DAY0 = pd.Timestamp("2026-11-01T08:00:00Z")


def history(outcomes: str, *, name: str = "test_pay", project: str = "shop", branch: str = "main",
            commits: list[str | None] | None = None, start: int = 0, day_of=None) -> list[dict]:
    """One row per run of one test: P passed, F failed, E error, S skipped, R passed on a retry.
    Run n is build str(100 + start + n), six hours after the run before; it arrived on its day."""
    rows = []
    for n, outcome in enumerate(outcomes):
        i = start + n
        when = DAY0 + pd.Timedelta(hours=6 * i)
        status = {"P": "passed", "R": "passed", "F": "failed", "E": "error", "S": "skipped"}[outcome]
        rows.append({
            "run_id": f"{project}-{branch}-{i:04d}", "project": project, "branch": branch, "build": str(100 + i),
            "commit_sha": commits[n] if commits else f"c{i:04d}", "ci_url": f"https://ci.example/{project}/{100 + i}",
            "run_time": when, "partition": day_of(i) if day_of else when.date().isoformat(),
            "test_id": f"id-{name}", "framework": "pytest", "suite": "tests.test_shop", "name": name,
            "parameters": None, "file": "tests/test_shop.py", "status": status,
            "attempts": 2 if outcome == "R" else 1, "flaky": outcome == "R", "duration": 0.1,
            "message": None, "failure_type": None,
        })
    return rows


def frame(*histories: list[dict]) -> pd.DataFrame:
    rows = [r for h in histories for r in h]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def flagged(*histories) -> dict[tuple[str, str, str], dict]:
    found = detect(frame(*histories))
    assert list(found.columns) == FLAKY_COLUMNS
    return {(r["project"], r["branch"], r["name"]): r for r in found.to_dict("records")}


# ---------------------------------------------------------------- evidence that flags a test


def test_a_pass_on_a_retry_is_flaky_with_the_run_named():
    (row,) = flagged(history("PPRPP")).values()
    assert (row["retry_runs"], row["same_commit"], row["flips"]) == (1, 0, 0)
    assert row["runs"] == 5 and row["failures"] == 0 and row["flaky_runs"] == 1 and row["flaky_rate"] == 0.2
    assert row["evidence"] == "passed on a retry in 1 of 5 runs: build 102 (https://ci.example/shop/102)."
    assert row["first_evidence_at"] == row["last_evidence_at"] == DAY0 + pd.Timedelta(hours=12)
    assert row["flagged_on"] == "2026-11-01"


def test_a_run_without_a_build_is_named_by_its_run_id_and_one_without_a_link_has_none():
    rows = history("PR")
    rows[1]["build"], rows[1]["ci_url"] = None, None
    (row,) = flagged(rows).values()
    assert row["evidence"] == "passed on a retry in 1 of 2 runs: run shop-main-00."  # the first 12 characters


def test_failed_and_passed_on_one_commit_is_flaky():
    # A CI re-run: build 102 failed, build 103 ran the same commit again and passed.
    rows = flagged(history("PPFPP", commits=["a", "b", "c", "c", "d"]))
    row = rows[("shop", "main", "test_pay")]
    assert (row["retry_runs"], row["same_commit"], row["flips"]) == (0, 1, 1)
    same, flip = row["evidence"].split(". ")
    assert same == ("failed and passed on the same commit 1 time(s): failed in build 102 "
                    "(https://ci.example/shop/102) and passed in build 103 (https://ci.example/shop/103) on commit c")
    assert flip.startswith("flipped 1 time(s): failed in build 102 ")  # counted, though one flip alone flags nothing
    assert row["flaky_runs"] == 1 and row["failures"] == 1  # build 102 is the evidence of both kinds


def test_two_flips_between_runs_are_flaky():
    # Failed in 102 between passes, and in 105 and 106 between passes: twice, on new commits each time.
    row = flagged(history("PPFPPFFP"))[("shop", "main", "test_pay")]
    assert (row["retry_runs"], row["same_commit"], row["flips"]) == (0, 0, 2)
    assert row["evidence"].startswith("flipped 2 time(s): failed in build 105 (https://ci.example/shop/105), "
                                      "build 106 (https://ci.example/shop/106) between passing build 104")
    assert "failed in build 102 (https://ci.example/shop/102) between passing build 101" in row["evidence"]
    assert row["flaky_runs"] == 3 and row["flaky_rate"] == 0.375
    assert row["flip_rate"] == round(4 / 7, 4)
    assert row["first_evidence_at"] == DAY0 + pd.Timedelta(hours=12)
    assert row["last_evidence_at"] == DAY0 + pd.Timedelta(hours=36)


def test_a_lone_pass_among_failures_counts_as_a_flip_too():
    row = flagged(history("FFPFFPFF"))[("shop", "main", "test_pay")]
    assert row["flips"] == 2 and "passed in build 102 (https://ci.example/shop/102) between failing build 101" in row["evidence"]


def test_errors_are_failures():
    assert flagged(history("PEPEP"))[("shop", "main", "test_pay")]["flips"] == 2


def test_evidence_kinds_add_up_and_the_sentence_names_the_newest_runs_first():
    row = flagged(history("PRFPFPFPFPR"))[("shop", "main", "test_pay")]
    assert (row["retry_runs"], row["flips"]) == (2, 4)
    retry, flips = row["evidence"].split(". ")
    assert retry == ("passed on a retry in 2 of 11 runs: build 110 (https://ci.example/shop/110); "
                     "build 101 (https://ci.example/shop/101)")
    assert flips.startswith("flipped 4 time(s): failed in build 108 (https://ci.example/shop/108) between passing "
                            "build 107 (https://ci.example/shop/107) and build 109 (https://ci.example/shop/109); ")
    assert flips.endswith("; and 1 more.") and "build 102 (" not in flips
    assert row["flaky_runs"] == 6  # two retried runs, four failures between passes


# ---------------------------------------------------------------- what is not flaky


@pytest.mark.parametrize("outcomes, why", [
    ("FFFFFF", "broken: fails in every run"),
    ("PPPPPP", "never failed"),
    ("PPPFFFFFF", "broke and stays broken: one transition"),
    ("FFFPPPPPP", "fixed: failed for a while and passes since"),
    ("PPPFPPPP", "one failure between passes: one change and its fix or revert"),
    ("PPFFFFPPP", "a regression fixed after four runs"),
    ("PPPFFFFPPPFFFFPPP", "two regressions, each lasting longer than a flip"),
    ("SSSS", "never ran"),
    ("PSPSFSSFSFSF", "skipped runs are neither outcome: this is passing then broken"),
])
def test_not_flaky(outcomes, why):
    assert flagged(history(outcomes)) == {}, why


def test_a_test_that_failed_every_retry_is_not_flaky():
    rows = history("FFFF")
    for row in rows:
        row["attempts"] = 3  # rerunFailure twice, failed each time: flaky stays False
    assert flagged(rows) == {}


def test_skipped_runs_do_not_break_a_failure_streak_into_flips():
    # P F S F F F P: the failure lasted four executed runs, a regression and its fix.
    assert flagged(history("PFSFFFP")) == {}
    # and do not hide a flip: P F S P F P is two.
    assert flagged(history("PFSPFP"))[("shop", "main", "test_pay")]["flips"] == 2


def test_runs_are_ordered_by_time_not_by_row_order():
    rows = history("PPFFFFPP")  # one regression, fixed
    assert flagged(list(reversed(rows))) == {}
    shuffled = [rows[i] for i in (3, 0, 7, 1, 5, 2, 6, 4)]
    assert flagged(shuffled) == {}


def test_branches_and_projects_are_apart():
    # main passes, the feature branch fails: interleaved in time, never a flip.
    main = history("PPPPPP", start=0)
    feature = history("FFFFFF", branch="feature/x", start=100)
    for n, row in enumerate(feature):
        row["run_time"] = main[n]["run_time"] + pd.Timedelta(hours=1)
    other = history("FFFFFF", project="billing")
    for n, row in enumerate(other):
        row["run_time"] = main[n]["run_time"] + pd.Timedelta(hours=2)
    assert flagged(main, feature, other) == {}
    # ... nor one commit's outcome on two branches (the commit was merged).
    feature_same = history("F", branch="feature/x", commits=["c0000"], start=200)
    assert flagged(history("PP"), feature_same) == {}


def test_runs_without_a_commit_are_not_one_commit():
    assert flagged(history("PFP", commits=[None, None, None])) == {}
    assert flagged(history("PFP", commits=["", "", ""])) == {}


def test_tests_are_told_apart_and_the_flakiest_comes_first():
    found = detect(frame(history("PPRPPPPPPP", name="test_rarely"), history("PRPRP", name="test_often"),
                         history("FFFFF", name="test_broken")))
    assert list(found["name"]) == ["test_often", "test_rarely"]
    assert list(found["flaky_rate"]) == [0.4, 0.1]


# ---------------------------------------------------------------- when a test became flaky


def test_flagged_on_is_the_arrival_of_the_run_that_completes_the_evidence():
    # Flips need two: the second completes when build 107 (day 4 at the earliest) has arrived.
    day_of = {i: f"2026-11-{10 + i:02d}" for i in range(8)}.get
    row = flagged(history("PFPPPFPP", day_of=day_of))[("shop", "main", "test_pay")]
    assert row["flips"] == 2 and row["flagged_on"] == "2026-11-16"
    # A run that arrives late (its day after the later runs'): the evidence is only complete then.
    late = {0: "2026-11-10", 1: "2026-11-11", 2: "2026-11-20", 3: "2026-11-12", 4: "2026-11-12", 5: "2026-11-13",
            6: "2026-11-14", 7: "2026-11-14"}.get
    assert flagged(history("PFPPPFPP", day_of=late))[("shop", "main", "test_pay")]["flagged_on"] == "2026-11-20"
    # One retry is enough, from its own arrival.
    assert flagged(history("PPPR", day_of=day_of))[("shop", "main", "test_pay")]["flagged_on"] == "2026-11-13"


def test_same_commit_evidence_is_complete_once_both_outcomes_arrived():
    day_of = {0: "2026-11-10", 1: "2026-11-15", 2: "2026-11-11"}.get
    row = flagged(history("PFP", commits=["a", "b", "b"], day_of=day_of))[("shop", "main", "test_pay")]
    assert row["flagged_on"] == "2026-11-15"


def test_new_since_is_today_and_the_days_before():
    assert new_since(date(2026, 12, 1)) == "2026-11-30"
    assert new_since(date(2026, 12, 1), days=0) == "2026-12-01"


def test_rules_can_be_tightened():
    rows = history("PPFPPFPP")
    assert len(detect(frame(rows))) == 1
    assert detect(frame(rows), Rules(min_flips=3)).empty
    assert detect(frame(history("PPPFFFFPPPFFFFPPP")), Rules(flip_max_runs=4)).shape[0] == 1


def test_an_empty_history():
    found = detect(pd.DataFrame(columns=RESULT_COLUMNS))
    assert found.empty and list(found.columns) == FLAKY_COLUMNS


def test_the_cases_of_a_parameterized_flaky_test_are_named_apart():
    from crossbridge_assets.defs.insights.flaky import _table_rows

    row = {"suite": "tests.test_shop", "name": "test_pay", "project": "shop", "branch": "main", "flaky_rate": 0.2,
           "runs": 10, "flagged_on": "2026-11-30", "evidence": "passed on a retry in #7"}
    rows = _table_rows([{**row, "parameters": "[visa]"}, {**row, "parameters": "[amex]"}, {**row, "parameters": None}])
    assert [r["test"] for r in rows] == ["tests.test_shop::test_pay[visa]", "tests.test_shop::test_pay[amex]",
                                         "tests.test_shop::test_pay"]
