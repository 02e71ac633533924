"""Run comparisons, the rules: each run against the previous run of its project and branch, what
newly fails, what got fixed, and what must not be flagged (a first run, skipped tests, a run still
waiting for its shards, another branch)."""

import pandas as pd

from crossbridge_assets.analysis import compare
from crossbridge_assets.warehouse.insights import RESULT_COLUMNS


class Frame:
    """A results history written the way result_frame gives it: one row per run and test."""

    def __init__(self):
        self.rows: list[dict] = []
        self.runs = 0

    def run(self, build: str, statuses: dict, *, branch: str = "main", project: str = "shop", commit: str | None = None,
            day: str = "2026-11-20", flaky: tuple = (), params: dict | None = None, files: dict | None = None) -> str:
        self.runs += 1
        run_id = f"{project}-{branch}-{build}"
        for name, status in statuses.items():
            parameters = (params or {}).get(name)
            self.rows.append({
                "run_id": run_id, "project": project, "branch": branch, "build": build, "commit_sha": commit or f"c{build}",
                "ci_url": f"https://ci.example/{build}", "run_time": pd.Timestamp("2026-11-20T08:00", tz="UTC") + pd.Timedelta(hours=self.runs),
                "partition": day, "test_id": f"{name}[{parameters}]" if parameters else name, "framework": "pytest",
                "suite": "tests.test_shop", "name": name, "parameters": parameters, "file": (files or {}).get(name, "tests/test_shop.py"),
                "status": status, "attempts": 2 if name in flaky else 1, "flaky": name in flaky, "duration": 0.1,
                "message": f"{name} broke" if status in ("failed", "error") else None,
                "failure_type": "AssertionError" if status in ("failed", "error") else None,
            })
        return run_id

    def compare(self, shards: dict | None = None, report_since=None):
        """`shards`: run_id -> (shards seen, shards expected), as run_frame gives them."""
        frame = pd.DataFrame(
            [{"run_id": run_id, "shards_seen": seen, "shards_expected": expected, "complete": seen >= expected}
             for run_id, (seen, expected) in (shards or {}).items()],
            columns=["run_id", "shards_seen", "shards_expected", "complete"],
        )
        return compare.compare_runs(pd.DataFrame(self.rows, columns=RESULT_COLUMNS), frame, report_since)


def changes_of(changes: pd.DataFrame, run_id: str) -> dict[str, str]:
    mine = changes[changes["run_id"] == run_id]
    return dict(zip(mine["test_id"], mine["change"]))


def run_of(runs: pd.DataFrame, run_id: str) -> dict:
    return runs.set_index("run_id").loc[run_id].to_dict()


def test_new_failures_fixes_still_failing_new_and_gone():
    f = Frame()
    first = f.run("1", {"pay": "passed", "refund": "failed", "ship": "passed", "tax": "error", "old": "passed"})
    second = f.run("2", {"pay": "failed", "refund": "passed", "ship": "passed", "tax": "failed", "label": "failed", "help": "passed"})
    runs, changes = f.compare()
    assert changes_of(changes, second) == {
        "pay": compare.NEW_FAILURE, "refund": compare.FIXED, "tax": compare.STILL_FAILING,
        "label": compare.NEW_TEST, "help": compare.NEW_TEST, "old": compare.GONE,
    }
    pay = changes.set_index(["run_id", "test_id"]).loc[(second, "pay")]
    assert (pay.status, pay.previous_status, pay.previous_build, pay.message) == ("failed", "passed", "1", "pay broke")
    gone = changes.set_index(["run_id", "test_id"]).loc[(second, "old")]
    assert pd.isna(gone.status) and gone.previous_status == "passed" and pd.isna(gone.message)
    row = run_of(runs, second)
    assert (row["state"], row["previous_run_id"], row["previous_build"]) == (compare.COMPARED, first, "1")
    assert (row["new_failures"], row["fixed"], row["still_failing"], row["new_tests"], row["new_failing_tests"], row["gone"]) == (1, 1, 1, 2, 1, 1)
    assert row["tests"] == 6 and row["failing"] == 3


def test_a_branchs_first_run_has_no_previous_run_and_no_new_failure():
    f = Frame()
    only = f.run("1", {"pay": "failed", "refund": "error", "ship": "passed"})
    runs, changes = f.compare()
    assert changes.empty
    row = run_of(runs, only)
    assert row["state"] == compare.NO_PREVIOUS_RUN and row["previous_run_id"] is None
    assert row["new_failures"] == 0 and row["failing"] == 2 and "first run" in row["note"]


def test_runs_are_compared_within_their_project_and_branch_in_run_time_order():
    f = Frame()
    f.run("1", {"pay": "passed"}, branch="main")
    feature = f.run("2", {"pay": "failed"}, branch="feature/x")
    other = f.run("3", {"pay": "failed"}, branch="main", project="billing")
    third = f.run("4", {"pay": "failed"}, branch="main")
    runs, changes = f.compare()
    assert changes_of(changes, feature) == {} and changes_of(changes, other) == {}
    assert run_of(runs, feature)["state"] == run_of(runs, other)["state"] == compare.NO_PREVIOUS_RUN
    assert changes_of(changes, third) == {"pay": compare.NEW_FAILURE}
    assert run_of(runs, third)["previous_build"] == "1"


def test_skipped_is_neither_a_failure_nor_a_fix_and_a_skip_does_not_hide_a_change():
    f = Frame()
    f.run("1", {"pay": "passed", "refund": "failed", "ship": "passed", "tax": "failed", "gift": "skipped"})
    second = f.run("2", {"pay": "skipped", "refund": "skipped", "ship": "passed", "tax": "failed", "gift": "skipped"})
    third = f.run("3", {"pay": "failed", "refund": "passed", "ship": "skipped", "tax": "failed", "gift": "failed"})
    runs, changes = f.compare()
    assert changes_of(changes, second) == {"tax": compare.STILL_FAILING}
    # Compared with where they last ran: pay passed in build 1, refund failed there.
    assert changes_of(changes, third) == {"pay": compare.NEW_FAILURE, "refund": compare.FIXED,
                                          "tax": compare.STILL_FAILING, "gift": compare.NEW_FAILURE}
    rows = changes.set_index(["run_id", "test_id"])
    assert rows.loc[(third, "pay"), "previous_build"] == "1" and "skipped in build 2" in rows.loc[(third, "pay"), "note"]
    assert rows.loc[(third, "gift"), "previous_status"] == "skipped" and "first time it ran" in rows.loc[(third, "gift"), "note"]


def test_a_run_waiting_for_shards_does_not_make_tests_gone_or_new():
    f = Frame()
    f.run("1", {"a": "passed", "b": "passed", "c": "passed", "d": "passed"})
    partial = f.run("2", {"a": "failed", "b": "passed"})  # shard 1 of 2 only
    after = f.run("3", {"a": "failed", "b": "passed", "c": "failed", "d": "passed"})
    runs, changes = f.compare(shards={partial: (1, 2), after: (2, 2)})
    # The partial run: a's failure is real; c and d are not gone, they are in the shard to come.
    assert changes_of(changes, partial) == {"a": compare.NEW_FAILURE}
    row = run_of(runs, partial)
    assert not row["complete"] and row["gone"] == 0 and "waiting for shards (1 of 2)" in row["note"]
    # The next run: c and d are not new (build 1 held them); c failing is new, a still fails.
    assert changes_of(changes, after) == {"a": compare.STILL_FAILING, "c": compare.NEW_FAILURE}
    rows = changes.set_index(["run_id", "test_id"])
    assert rows.loc[(after, "c"), "previous_build"] == "1" and rows.loc[(after, "a"), "previous_build"] == "2"
    assert run_of(runs, after)["complete"] and "waiting for shards" in run_of(runs, after)["note"]


def test_once_all_shards_arrived_the_run_is_complete_and_what_is_missing_is_gone():
    f = Frame()
    f.run("1", {"a": "passed", "b": "passed"})
    second = f.run("2", {"a": "passed"})
    runs, changes = f.compare(shards={second: (2, 2)})
    assert changes_of(changes, second) == {"b": compare.GONE}


def test_same_commit_rerun_says_the_code_did_not_change():
    f = Frame()
    f.run("1", {"pay": "passed"}, commit="abc123")
    rerun = f.run("2", {"pay": "failed"}, commit="abc123")
    runs, changes = f.compare()
    assert changes_of(changes, rerun) == {"pay": compare.NEW_FAILURE}
    assert "same commit" in changes.iloc[0]["note"] and run_of(runs, rerun)["same_commit"]


def test_passed_on_a_retry_is_a_fix_noted_as_such():
    f = Frame()
    f.run("1", {"pay": "failed"})
    second = f.run("2", {"pay": "passed"}, flaky=("pay",))
    _, changes = f.compare()
    assert changes_of(changes, second) == {"pay": compare.FIXED} and changes.iloc[0]["note"] == "passed on a retry"


def test_other_parameters_and_a_rename_are_noted_on_new_and_gone_tests():
    f = Frame()
    f.run("1", {"pay": "passed", "ship_fast": "passed"}, params={"pay": "eur"}, files={"ship_fast": "tests/test_ship.py"})
    second = f.run("2", {"pay": "passed", "ship_quick": "passed"}, params={"pay": "usd"}, files={"ship_quick": "tests/test_ship.py"})
    _, changes = f.compare()
    notes = changes[changes["run_id"] == second].set_index("test_id")["note"].to_dict()
    assert notes["pay[usd]"] == "other parameters than before (eur)"
    assert notes["pay[eur]"] == "runs with other parameters now (usd)"
    assert notes["ship_quick"] == "renamed from ship_fast?" and notes["ship_fast"] == "renamed to ship_quick?"


def test_tests_with_other_parameters_pair_in_their_order_and_each_once():
    """Three cases of pay gone and two new: the first new one pairs with the first gone, the
    second with the second; the third gone case has no new partner."""
    def change(kind, parameters):
        return {"change": kind, "framework": "pytest", "suite": "s", "name": "pay", "file": "t.py",
                "parameters": parameters, "note": None}

    gone = [change(compare.GONE, p) for p in ("a", "b", "c")]
    new = [change(compare.NEW_TEST, p) for p in ("x", "y")]
    compare._note_renames([*gone, *new])
    assert [c["note"] for c in new] == ["other parameters than before (a)", "other parameters than before (b)"]
    assert [c["note"] for c in gone] == ["runs with other parameters now (x)", "runs with other parameters now (y)", None]


def test_a_test_back_after_a_pause_is_new_again_with_when_it_was_last_seen():
    f = Frame()
    f.run("1", {"a": "passed", "b": "passed"})
    f.run("2", {"a": "passed"})
    back = f.run("3", {"a": "passed", "b": "failed"})
    _, changes = f.compare()
    assert changes_of(changes, back) == {"b": compare.NEW_TEST}
    assert changes.iloc[-1]["note"] == "back after a pause: last seen in build 1"


def test_runs_before_the_window_only_serve_as_previous_runs():
    f = Frame()
    f.run("1", {"pay": "passed"}, day="2026-10-01")
    second = f.run("2", {"pay": "failed"}, day="2026-11-20")
    runs, changes = f.compare(report_since="2026-11-01")
    assert list(runs["run_id"]) == [second] and changes_of(changes, second) == {"pay": compare.NEW_FAILURE}


def test_default_branches_check_looks_at_the_latest_run_of_matching_branches_only():
    f = Frame()
    f.run("1", {"pay": "passed", "ship": "passed"})
    f.run("2", {"pay": "failed", "ship": "passed"})  # an older new failure, fixed since
    latest = f.run("3", {"pay": "passed", "ship": "passed", "label": "failed"})
    f.run("4", {"pay": "passed"}, branch="release/1")
    f.run("5", {"pay": "failed"}, branch="release/1")
    f.run("6", {"pay": "passed"}, branch="feature")
    f.run("7", {"pay": "failed"}, branch="feature")
    runs, changes = f.compare()
    checked, failing = compare.regressions_of(runs, changes, ("main", "master"))
    assert list(checked["run_id"]) == [latest]
    assert list(zip(failing["run_id"], failing["test_id"])) == [(latest, "label")]  # a new test that fails
    checked, failing = compare.regressions_of(runs, changes, compare.parse_branch_globs("main, release/*"))
    assert set(checked["branch"]) == {"main", "release/1"} and set(failing["test_id"]) == {"label", "pay"}


def test_no_history_gives_empty_frames_with_their_columns():
    runs, changes = compare.compare_runs(pd.DataFrame(columns=RESULT_COLUMNS))
    assert list(runs.columns) == compare.RUN_COLUMNS and list(changes.columns) == compare.CHANGE_COLUMNS
    checked, failing = compare.regressions_of(runs, changes, ("main",))
    assert checked.empty and failing.empty


def test_a_failure_that_began_on_the_branch_stays_a_regression_until_fixed_a_failure_from_the_start_is_not():
    f = Frame()
    f.run("1", {"pay": "passed", "legacy": "failed"})
    f.run("2", {"pay": "failed", "legacy": "failed"})
    third = f.run("3", {"pay": "failed", "legacy": "failed"})
    runs, changes = f.compare()
    rows = changes.set_index(["run_id", "test_id"])
    pay = rows.loc[(third, "pay")]
    assert pay.change == compare.STILL_FAILING and pay.regression and pay.failing_since_build == "2"
    legacy = rows.loc[(third, "legacy")]
    assert legacy.change == compare.STILL_FAILING and not legacy.regression and legacy.failing_since_build == "1"
    _, failing = compare.regressions_of(runs, changes, ("main",))
    assert list(failing["test_id"]) == ["pay"]
    # A skipped run in between does not end the streak; a pass does.
    f.run("4", {"pay": "skipped", "legacy": "failed"})
    f.run("5", {"pay": "failed", "legacy": "failed"})
    runs, changes = f.compare()
    assert list(compare.regressions_of(runs, changes, ("main",))[1]["failing_since_build"]) == ["2"]
    f.run("6", {"pay": "passed", "legacy": "failed"})
    runs, changes = f.compare()
    assert compare.regressions_of(runs, changes, ("main",))[1].empty


def test_by_run_gives_each_runs_new_failures_and_fixes_in_plain_values():
    f = Frame()
    first = f.run("1", {"pay": "passed", "refund": "failed"})
    second = f.run("2", {"pay": "failed", "refund": "passed", "label": "error"})
    summary = compare.by_run(*f.compare())
    assert summary[first]["state"] == compare.NO_PREVIOUS_RUN and summary[first]["new_failures"] == []
    mine = summary[second]
    assert [t["name"] for t in mine["new_failures"]] == ["pay", "label"]
    assert [t["name"] for t in mine["fixed"]] == ["refund"] and mine["previous_build"] == "1"
    assert mine["new_failures"][0]["message"] == "pay broke" and mine["new_failures"][1]["previous_status"] is None
