"""Test history rules (analysis.history) on hand-built results frames: streaks, broken, slower,
removed, and what must not be flagged."""

from __future__ import annotations

import pandas as pd
import pytest

from crossbridge_assets.analysis.history import Rules, histories, matches, recent_runs
from crossbridge_assets.warehouse.insights import RESULT_COLUMNS

STATUS = {"P": "passed", "F": "failed", "E": "error", "S": "skipped", "R": "passed"}  # R: passed on a retry
START = pd.Timestamp("2026-11-01T08:00:00", tz="UTC")


def results(tests: dict[str, str], durations: dict[str, list[float]] | None = None, branch: str = "main",
            project: str = "shop", first_build: int = 100, parameters: dict[str, str] | None = None) -> pd.DataFrame:
    """A results frame: each test's outcomes, one letter a run (P, F, E, S, R; '.' absent from
    that run), run i being build first_build + i, an hour apart."""
    rows = []
    for test, outcomes in tests.items():
        for i, letter in enumerate(outcomes):
            if letter == ".":
                continue
            build = first_build + i
            status = STATUS[letter]
            rows.append(dict(
                run_id=f"{project}-{branch}-{build}", project=project, branch=branch, build=str(build),
                commit_sha=None, ci_url=f"https://ci/{build}", run_time=START + pd.Timedelta(hours=i),
                partition="2026-11-01", test_id=f"{test}@{(parameters or {}).get(test, '')}", framework="pytest",
                suite="tests.test_shop", name=test, parameters=(parameters or {}).get(test), file=None,
                status=status, attempts=2 if letter == "R" else 1, flaky=letter == "R",
                duration=(durations or {}).get(test, [0.2] * len(outcomes))[i],
                message=f"{test} failed in {build}" if status in ("failed", "error") else None, failure_type=None,
            ))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def one(frame: pd.DataFrame, name: str, branch: str = "main") -> dict:
    table = histories(frame)
    rows = table[(table["name"] == name) & (table["branch"] == branch)]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def test_a_test_failing_run_after_run_is_broken_since_the_run_where_it_started():
    h = one(results({"test_pay": "PPPFFF"}), "test_pay")
    assert h["broken"] and h["streak_status"] == "failing" and h["streak_runs"] == 3
    assert (h["streak_since_build"], h["streak_since_ci_url"]) == ("103", "https://ci/103")
    assert h["streak_since_at"] == START + pd.Timedelta(hours=3)
    assert not h["streak_from_window_start"]
    assert (h["last_passed_build"], h["last_failed_build"]) == ("102", "105")
    assert h["last_failure_message"] == "test_pay failed in 105"
    assert (h["runs"], h["passed"], h["failed"], h["last_status"]) == (6, 3, 3, "failed")
    assert h["pass_rate"] == 0.5


def test_errors_and_failures_make_one_failing_streak():
    h = one(results({"test_pay": "PPFEF"}), "test_pay")
    assert h["broken"] and h["streak_runs"] == 3 and (h["failed"], h["errors"]) == (2, 1)


def test_one_failure_after_passes_is_failing_not_broken():
    """A flaky test fails once now and then: one failing run alone is not 'broken'."""
    h = one(results({"test_pay": "PPPPF"}), "test_pay")
    assert h["streak_status"] == "failing" and h["streak_runs"] == 1 and not h["broken"]


def test_a_fixed_test_is_not_broken_and_says_when_it_last_failed():
    h = one(results({"test_pay": "PFFFPP"}), "test_pay")
    assert not h["broken"] and h["streak_status"] == "passed" and h["streak_runs"] == 2
    assert (h["streak_since_build"], h["last_failed_build"]) == ("104", "103")


def test_a_test_that_never_passed_is_broken_from_its_first_run():
    h = one(results({"test_new": "F"}), "test_new")
    assert h["broken"] and h["streak_runs"] == 1 and h["streak_from_window_start"]
    assert h["last_passed_build"] is None or pd.isna(h["last_passed_build"])


def test_a_streak_reaching_back_to_the_first_run_of_the_window_says_so():
    h = one(results({"test_pay": "FFFF"}), "test_pay")
    assert h["broken"] and h["streak_runs"] == 4 and h["streak_from_window_start"]


def test_a_skip_inside_a_failing_streak_neither_ends_nor_lengthens_it():
    h = one(results({"test_pay": "PPFSF"}), "test_pay")
    assert h["streak_status"] == "failing" and h["streak_runs"] == 2 and h["streak_since_build"] == "102"
    assert h["broken"] and h["skipped"] == 1 and h["pass_rate"] == pytest.approx(2 / 4)


def test_a_test_skipped_in_its_latest_runs_is_skipped_not_broken():
    """Someone disabled a failing test: its streak is the skips, and it is not 'broken now'."""
    h = one(results({"test_pay": "PFFSS"}), "test_pay")
    assert h["streak_status"] == "skipped" and h["streak_runs"] == 2 and h["streak_since_build"] == "103"
    assert not h["broken"] and h["last_status"] == "skipped"


def test_only_skipped_has_no_pass_rate_and_is_not_broken():
    h = one(results({"test_pay": "SSS"}), "test_pay")
    assert pd.isna(h["pass_rate"]) and not h["broken"] and h["streak_status"] == "skipped"


def test_passed_on_retry_counts_as_passed_and_is_counted_apart():
    h = one(results({"test_pay": "PRPRF"}), "test_pay")
    assert (h["passed"], h["passed_on_retry"], h["failed"]) == (4, 2, 1)
    assert not h["broken"]


def test_runs_are_ordered_by_run_time_not_by_build_or_arrival():
    frame = results({"test_pay": "PPFF"})
    # Build numbers that sort the other way round, rows in arrival order scrambled.
    frame["build"] = ["9", "8", "7", "6"]
    h = one(frame.iloc[[2, 0, 3, 1]], "test_pay")
    assert h["broken"] and h["streak_since_build"] == "7" and h["last_passed_build"] == "8"
    assert (h["first_build"], h["last_build"]) == ("9", "6")


def test_each_branch_and_each_parameterized_case_has_its_own_history():
    main = results({"test_pay": "PPPP", "test_tax": "PPPP"}, parameters={"test_tax": "[de]"})
    feature = results({"test_pay": "PPFF", "test_tax": "FFFF"}, branch="feature/x", parameters={"test_tax": "[de]"})
    other_case = results({"test_tax": "PPPP"}, branch="feature/x", parameters={"test_tax": "[fr]"})
    table = histories(pd.concat([main, feature, other_case], ignore_index=True))
    assert len(table) == 5
    broken = table[table["broken"]]
    assert sorted(zip(broken["branch"], broken["name"], broken["parameters"].fillna(""))) == [
        ("feature/x", "test_pay", ""), ("feature/x", "test_tax", "[de]")]
    assert not table[(table["branch"] == "main")]["broken"].any()
    # Broken ones come first.
    assert table["broken"].tolist()[:2] == [True, True]


def test_a_test_absent_from_its_branchs_latest_runs_is_removed_and_never_broken():
    frame = results({"test_old": "PPFF...", "test_pay": "PPPPPPP"})
    h = one(frame, "test_old")
    assert h["missing_runs"] == 3 and h["removed"] and not h["broken"]
    assert not one(frame, "test_pay")["removed"]


def test_runs_still_waiting_for_shards_do_not_make_a_test_look_removed():
    frame = results({"test_old": "PPPP...", "test_pay": "PPPPPPP"})
    runs = frame.drop_duplicates("run_id")[["run_id", "project", "branch", "run_time"]].assign(complete=True)
    runs.loc[runs["run_id"].str.endswith(("104", "105")), "complete"] = False
    table = histories(frame, runs)
    old = table[table["name"] == "test_old"].iloc[0]
    assert old["missing_runs"] == 1 and not old["removed"]


def test_removed_after_runs_is_a_rule():
    frame = results({"test_old": "PPFF.", "test_pay": "PPPPP"})
    assert not one(frame, "test_old")["removed"]
    table = histories(frame, rules=Rules(removed_after_runs=1))
    assert table[table["name"] == "test_old"].iloc[0]["removed"]


def test_a_clearly_slower_latest_run_is_flagged_with_its_evidence():
    durations = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.03, 0.97, 1.0, 1.9]
    h = one(results({"test_pay": "P" * 10}, {"test_pay": durations}), "test_pay")
    assert h["slower"] and h["slower_rule"] == "robust_z"
    assert "1.900s in run 109" in h["slower_evidence"]
    assert h["duration_last"] == 1.9 and h["duration_median"] == pytest.approx(1.0)


def test_a_ten_times_slower_run_is_flagged_after_three_runs():
    h = one(results({"test_pay": "PPPP"}, {"test_pay": [0.1, 0.12, 0.11, 1.2]}), "test_pay")
    assert h["slower"] and h["slower_rule"] == "ratio"


@pytest.mark.parametrize("durations", [
    # 0.01 s -> 0.03 s is three times slower but no news: under the 0.1 s floor.
    [0.01, 0.011, 0.009, 0.01, 0.01, 0.012, 0.01, 0.009, 0.01, 0.03],
    # ordinary noise around one second
    [1.0, 1.1, 0.9, 1.05, 0.95, 1.12, 0.93, 1.0, 1.08, 1.15],
    # slower, but too few earlier runs to judge it by the median
    [1.0, 1.0, 1.6],
], ids=["under-the-floor", "noise", "too-few-runs"])
def test_what_is_not_slower(durations):
    h = one(results({"test_pay": "P" * len(durations)}, {"test_pay": durations}), "test_pay")
    assert not h["slower"] and pd.isna(h["slower_evidence"])


def test_a_slow_failing_run_is_not_slower_it_is_failing():
    """A timeout makes a failing run long: that is how it failed, reported as failing."""
    durations = [1.0] * 9 + [30.0]
    h = one(results({"test_pay": "P" * 9 + "F"}, {"test_pay": durations}), "test_pay")
    assert not h["slower"] and h["duration_last"] == 30.0 and h["duration_median"] == 1.0


def test_a_removed_test_is_not_slower():
    durations = [1.0] * 9 + [9.0] + [0.0] * 3
    frame = results({"test_old": "P" * 10 + "...", "test_pay": "P" * 13}, {"test_old": durations})
    h = one(frame, "test_old")
    assert h["removed"] and not h["slower"]


def test_an_empty_history_gives_an_empty_table_with_the_columns():
    from crossbridge_assets.analysis.history import HISTORY_COLUMNS

    table = histories(results({}))
    assert table.empty and list(table.columns) == HISTORY_COLUMNS


def test_recent_runs_of_one_history_oldest_first():
    frame = results({"test_pay": "PPPFF", "test_tax": "PPPPP"})
    latest = recent_runs(frame, limit=3)
    runs = latest[("test_pay@", "shop", "main")]
    assert runs["build"].tolist() == ["102", "103", "104"]
    assert runs["status"].tolist() == ["passed", "failed", "failed"]
    assert latest[("test_tax@", "shop", "main")]["status"].tolist() == ["passed"] * 3
    assert set(latest) == {("test_pay@", "shop", "main"), ("test_tax@", "shop", "main")}


@pytest.mark.parametrize("pattern, expected", [
    ("test_pay", True),
    ("TEST_PAY", True),
    ("pay[vi", True),  # part of a parameterized case's name: brackets are literal
    ("tests.test_shop::test_pay[visa]", True),
    ("test_pay[visa]", True),
    ("*_pay", True),  # wildcard over the bare name
    ("test_pay[*]", True),
    ("*.test_shop::*", True),
    ("test_pay[amex]", False),
    ("refund", False),
    ("abc123", True),  # the test id
])
def test_matching_a_test_by_name_pattern_or_id(pattern, expected):
    assert matches(pattern, "abc123", "tests.test_shop", "test_pay", "[visa]") is expected


def test_a_test_is_named_without_its_missing_parts():
    """Parameters and suite come out of a frame as NaN when missing: never shown as 'nan'."""
    from crossbridge_assets.analysis.history import display_name

    assert display_name("tests.test_shop", "test_pay", float("nan")) == "tests.test_shop::test_pay"
    assert display_name(float("nan"), "test_pay", "[visa]") == "test_pay[visa]"
    assert matches("test_pay", "abc123", "tests.test_shop", "test_pay", float("nan"))


def test_a_removed_test_replaced_by_one_new_test_of_its_suite_in_the_next_run_was_renamed():
    frame = results({"test_pay_card": "PPP....", "test_pay_by_card": "...PPPP", "test_tax": "PPPPPPP"})
    table = histories(frame).set_index("name")
    assert table.loc["test_pay_card", "removed"]
    assert table.loc["test_pay_card", "renamed_to"] == "tests.test_shop::test_pay_by_card"
    assert pd.isna(table.loc["test_pay_by_card", "renamed_to"]) and pd.isna(table.loc["test_tax", "renamed_to"])


def test_new_parameters_of_a_case_read_as_its_new_name():
    frame = results({"test_pay": "PPP...."}, parameters={"test_pay": "[1-2]"})
    frame = pd.concat([frame, results({"test_pay": "...PPPP"}, parameters={"test_pay": "[1-3]"})], ignore_index=True)
    table = histories(frame)
    old = table[table["parameters"] == "[1-2]"].iloc[0]
    assert old["removed"] and old["renamed_to"] == "tests.test_shop::test_pay[1-3]"


@pytest.mark.parametrize("tests", [
    # two new tests in that run: which one it became cannot be told
    {"test_pay_card": "PPP....", "test_pay_a": "...PPPP", "test_pay_b": "...PPPP"},
    # the new test came a run later: not a rename of it
    {"test_pay_card": "PPP....", "test_pay_by_card": "....PPP", "test_tax": "PPPPPPP"},
    # two tests gone after the same run, one new: which was renamed cannot be told
    {"test_pay_card": "PPP....", "test_pay_cash": "PPP....", "test_pay_by_card": "...PPPP"},
], ids=["two-candidates", "not-the-next-run", "two-gone"])
def test_what_is_not_called_a_rename(tests):
    table = histories(results(tests)).set_index("name")
    assert table.loc["test_pay_card", "removed"] and pd.isna(table.loc["test_pay_card", "renamed_to"])
