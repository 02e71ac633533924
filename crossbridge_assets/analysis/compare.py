"""Run comparisons: what failed in a run that passed in the previous run of its project and
branch, what got fixed, what is new and what is gone.

Pure: the results history (warehouse.insights.result_frame, one row per run and test) in, two
frames out: one row per run (RUN_COLUMNS) and one per test whose outcome changed (CHANGE_COLUMNS).

The rules:
- Runs of one project and branch are ordered by run_time; each is compared with the runs
  before it. A branch's first run is compared with its fork point: the latest complete run
  before it of the project's default branch (the first of `default_branches`, in their order,
  the project has such a run on; a default branch itself only with one listed before it), as a
  feature or pull-request branch starts from what the default branch had. Never with another
  feature branch. With no such run it has no previous run: nothing in it is called new. Tests
  of the default branch's run that the first run does not hold are not called gone (a pull
  request often runs only the tests its change affects).
- A test's previous result is its result in the latest earlier run that holds it, looking back
  no further than the latest earlier run that is complete. A run still waiting for announced
  shards (shards_expected larger than the shards seen) holds part of its tests only: a test
  missing from it is looked up in the runs before it instead of being called new, and tests
  missing from a run that is still waiting are not called gone.
- Skipped is neither a failure nor a fix: a test skipped now has no change; a test skipped
  before is compared with the last earlier run where it ran.
- A failing test carries the run its failure began in; the failure is a regression when it
  began as a new failure or a new test (a test failing since the history read began is not).
- A new failure on the same commit as the run it is compared with is said to be so: the code
  did not change, the test is flaky or the environment differed.
- A test gone and a test new in one run that share their suite and name (other parameters) or
  their suite and file (one each: a rename?) are noted as such.
"""

from __future__ import annotations

import bisect
import fnmatch
from collections import deque
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED

FAILING = frozenset({FAILED, ERROR})

NEW_FAILURE = "new_failure"
FIXED = "fixed"
STILL_FAILING = "still_failing"
NEW_TEST = "new_test"
GONE = "gone"
CHANGES = (NEW_FAILURE, FIXED, STILL_FAILING, NEW_TEST, GONE)

COMPARED = "compared"
NO_PREVIOUS_RUN = "no_previous_run"

RUN_COLUMNS = [
    "run_id", "project", "branch", "build", "commit_sha", "ci_url", "run_time", "state", "complete",
    "shards_seen", "shards_expected", "previous_run_id", "previous_branch", "previous_build", "previous_ci_url",
    "same_commit",
    "tests", "failing", "new_failures", "fixed", "still_failing", "new_tests", "new_failing_tests", "gone", "note",
]
CHANGE_COLUMNS = [
    "run_id", "test_id", "project", "branch", "build", "ci_url", "run_time",
    "framework", "suite", "name", "parameters", "file",
    "change", "status", "previous_status", "previous_run_id", "previous_build", "flaky",
    "failing_since_run_id", "failing_since_build", "regression", "message", "failure_type", "note",
]
_TEST_FIELDS = ("framework", "suite", "name", "parameters", "file")


class _Seen(NamedTuple):  # one per result row: a tuple is built several times faster than a dataclass
    index: int  # position of the run in its branch
    run_id: str
    build: str | None
    status: str
    row: "_Row"


class _Row:
    """One result row: its test and status at hand, any other field read from the frame's
    column when asked (most rows only need those two), as `DataFrame.to_dict("records")` gives it."""

    __slots__ = ("columns", "position", "test_id", "status")

    def __init__(self, columns: dict, position: int, test_id: str, status: str):
        self.columns, self.position, self.test_id, self.status = columns, position, test_id, status

    def __getitem__(self, field: str):
        if field == "test_id":
            return self.test_id
        if field == "status":
            return self.status
        value = self.columns[field][self.position]
        return value.item() if isinstance(value, np.generic) else value

    def get(self, field: str, default=None):
        return self[field] if field in self.columns else default


def compare_runs(
    results: pd.DataFrame,
    run_shards: pd.DataFrame | None = None,
    report_since: str | None = None,
    default_branches: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every run against the runs before it on its project and branch.

    `run_shards`: the runs' shards as warehouse.insights.run_frame gives them (run_id,
    shards_seen, shards_expected, complete); a run that announced more shards than it has is
    waiting. `report_since` (YYYY-MM-DD arrival day): runs that arrived before it only serve as
    the previous runs of later ones and get no rows. `default_branches` (names or globs,
    CROSSBRIDGE_DEFAULT_BRANCHES): whose runs a branch's first run is compared with."""
    shards: dict[str, tuple[bool, int, int]] = {}
    if run_shards is not None and len(run_shards):
        announced = run_shards[run_shards["shards_expected"].notna()]
        shards = {r.run_id: (bool(r.complete), int(r.shards_seen), int(r.shards_expected))
                  for r in announced.itertuples()}
    run_rows: list[dict] = []
    change_rows: list[dict] = []
    if results.empty:
        return pd.DataFrame(columns=RUN_COLUMNS), pd.DataFrame(columns=CHANGE_COLUMNS)
    runs = (
        results.drop_duplicates("run_id")
        .sort_values(["project", "branch", "run_time", "partition", "run_id"], kind="stable")
    )
    # Each run's rows as positions in the frame (in its order), read field by field when needed:
    # a frame or dicts per run would copy the whole history.
    by_run = results.groupby("run_id", sort=False).indices
    columns = {c: results[c].array for c in results.columns}  # no copy
    test_ids, statuses = results["test_id"].tolist(), results["status"].tolist()

    def rows_of(run_id: str) -> list[_Row]:
        return [_Row(columns, p, test_ids[p], statuses[p]) for p in by_run[run_id].tolist()]

    branches = {key: list(group.to_dict("records")) for key, group in runs.groupby(["project", "branch"], sort=True)}
    forks = ForkPoints(branches, tuple(default_branches), lambda run_id: shards.get(run_id, (True,))[0])
    for (project, branch), branch_runs in branches.items():
        fork = forks.of(project, branch, branch_runs[0].get("run_time"))
        if fork is not None:
            branch_runs = [{**fork, BASELINE: True}] + branch_runs
        _compare_branch(branch_runs, rows_of, shards, report_since, run_rows, change_rows)
    runs_out = pd.DataFrame(run_rows, columns=RUN_COLUMNS)
    runs_out[["shards_seen", "shards_expected"]] = runs_out[["shards_seen", "shards_expected"]].astype("Int64")
    return runs_out, pd.DataFrame(change_rows, columns=CHANGE_COLUMNS)


def _compare_branch(runs: list[dict], rows_of, shards, report_since, run_rows: list, change_rows: list) -> None:
    last_seen: dict[str, _Seen] = {}  # test_id -> its result in the latest run holding it
    last_ran: dict[str, _Seen] = {}  # test_id -> its latest result that was not skipped
    streaks: dict[str, tuple[str, str | None, bool]] = {}  # failing test_id -> (run_id, build, regression)
    latest_complete: int | None = None  # index of the latest complete run so far
    for index, run in enumerate(runs):
        run_id = run["run_id"]
        complete, seen_shards, expected = shards.get(run_id, (True, None, None))
        tests = rows_of(run_id)
        reported = not run.get(BASELINE) and (report_since is None or str(run["partition"]) >= report_since)
        previous = runs[index - 1] if index else None
        # Against the default branch it started from, a test the branch did not run is not gone: a
        # pull request often runs the tests its change affects only (20,000 on main, 200 on it).
        judges_gone = complete and not (previous or {}).get(BASELINE)
        changes = _changes(run, tests, judges_gone, latest_complete, last_seen, last_ran) if previous else []
        _follow_streaks(run, tests, changes, streaks)
        if reported:
            _note_renames(changes)
            change_rows += changes
            run_rows.append(_run_row(run, tests, changes, previous, complete, seen_shards, expected,
                                     runs[latest_complete] if latest_complete is not None else None))
        for test in tests:
            result = _Seen(index, run_id, run.get("build"), test.status, test)
            last_seen[test.test_id] = result
            if test.status != SKIPPED:
                last_ran[test.test_id] = result
        if complete:
            latest_complete = index


def _changes(run: dict, tests: list[dict], judges_gone: bool, latest_complete: int | None,
             last_seen: dict[str, _Seen], last_ran: dict[str, _Seen]) -> list[dict]:
    # How far back a test's previous result may come from: the latest complete run (the runs
    # after it were waiting for shards). With no complete run before, every earlier run counts.
    floor = latest_complete if latest_complete is not None else 0
    out: list[dict] = []
    held = set()
    for test in tests:
        test_id = test["test_id"]
        held.add(test_id)
        status = test["status"]
        before = last_seen.get(test_id)
        if before is None or before.index < floor:
            if latest_complete is None:
                continue  # every earlier run was waiting for shards: the test may be in one's missing shards
            note = f"back after a pause: last seen in build {before.build or before.run_id}" if before else None
            out.append(_change(run, test, NEW_TEST, before, note=note))
            continue
        compared, note = before, None
        if before.status == SKIPPED:
            ran = last_ran.get(test_id)
            if ran is not None:
                compared = ran
                note = f"skipped in build {before.build or before.run_id}; compared with build {ran.build or ran.run_id}, where it last ran"
        previous = compared.status
        if status in FAILING:
            if previous == PASSED:
                change = NEW_FAILURE
            elif previous in FAILING:
                change = STILL_FAILING
            else:  # skipped before and never ran since the history began: it did not fail before
                change, note = NEW_FAILURE, "skipped before: this is the first time it ran"
            if change == NEW_FAILURE and run.get("commit_sha") and run.get("commit_sha") == _commit(compared):
                note = _join(note, f"same commit as build {compared.build or compared.run_id}, where it passed: "
                                   "the code did not change (a flaky test or a different environment)")
            out.append(_change(run, test, change, compared, note=note))
        elif status == PASSED and previous in FAILING:
            note = _join(note, "passed on a retry" if test.get("flaky") else None)
            out.append(_change(run, test, FIXED, compared, note=note))
    if judges_gone:
        # Tests the previous runs held that this one does not. A run still waiting for shards
        # may hold them in a shard to come: nothing is gone from it yet.
        for test_id, before in last_seen.items():
            if test_id not in held and before.index >= floor:
                out.append(_change(run, before.row, GONE, before, status=None))
    return out


def _follow_streaks(run: dict, tests: list[dict], changes: list[dict], streaks: dict) -> None:
    """Carry each failing test's streak: the run it began in, and whether it passed before."""
    kinds = {c["test_id"]: c for c in changes if c["change"] != GONE}
    for test in tests:
        test_id, status = test["test_id"], test["status"]
        if status in FAILING:
            change = kinds.get(test_id)
            began_here = (run["run_id"], run.get("build"),
                          change is not None and change["change"] in (NEW_FAILURE, NEW_TEST))
            streak = streaks.get(test_id) if change is None or change["change"] == STILL_FAILING else None
            streaks[test_id] = streak or began_here
            if change is not None:
                change["failing_since_run_id"], change["failing_since_build"], change["regression"] = streaks[test_id]
        elif status == PASSED:
            streaks.pop(test_id, None)


def _commit(seen: _Seen) -> str | None:
    return seen.row.get("commit_sha")


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def _change(run: dict, test: dict, change: str, before: _Seen | None, note: str | None = None,
            status: str | None | object = ...) -> dict:
    gone = change == GONE
    return {
        "run_id": run["run_id"],
        "test_id": test["test_id"],
        "project": run["project"],
        "branch": run["branch"],
        "build": run.get("build"),
        "ci_url": run.get("ci_url"),
        "run_time": run.get("run_time"),
        **{field: test.get(field) for field in _TEST_FIELDS},
        "change": change,
        "status": test["status"] if status is ... else status,
        "previous_status": before.status if before else None,
        "previous_run_id": before.run_id if before else None,
        "previous_build": before.build if before else None,
        "flaky": None if gone else bool(test.get("flaky")),
        "failing_since_run_id": None,
        "failing_since_build": None,
        "regression": None,
        "message": None if gone else test.get("message"),
        "failure_type": None if gone else test.get("failure_type"),
        "note": note,
    }


def _note_renames(changes: list[dict]) -> None:
    """A test gone and one new in the same run: the same test with other parameters when suite
    and name match, perhaps a rename when they are the only pair in one suite and file."""
    new = [c for c in changes if c["change"] == NEW_TEST]
    gone = [c for c in changes if c["change"] == GONE]
    if not new or not gone:
        return
    paired: set[int] = set()
    # The gone tests by suite and name, in their order: each new test takes the first one left
    # (a scan of every gone test for each new one took hours when a run renamed its suite).
    gone_by_name: dict[tuple, deque] = {}
    for g in gone:
        gone_by_name.setdefault((g["framework"], g["suite"], g["name"]), deque()).append(g)
    for c in new:
        same = gone_by_name.get((c["framework"], c["suite"], c["name"]))
        if same:
            g = same.popleft()
            paired.update((id(g), id(c)))
            c["note"] = _join(c["note"], f"other parameters than before ({g['parameters'] or 'none'})")
            g["note"] = _join(g["note"], f"runs with other parameters now ({c['parameters'] or 'none'})")
    groups: dict[tuple, tuple[list, list]] = {}
    for c in new:
        if id(c) not in paired:
            groups.setdefault((c["framework"], c["suite"], c["file"]), ([], []))[0].append(c)
    for g in gone:
        if id(g) not in paired:
            groups.setdefault((g["framework"], g["suite"], g["file"]), ([], []))[1].append(g)
    for added, removed in groups.values():
        if len(added) == 1 and len(removed) == 1:
            added[0]["note"] = _join(added[0]["note"], f"renamed from {removed[0]['name']}?")
            removed[0]["note"] = _join(removed[0]["note"], f"renamed to {added[0]['name']}?")


def _run_row(run: dict, tests: list[dict], changes: list[dict], previous: dict | None, complete: bool,
             seen_shards: int | None, expected: int | None, last_complete: dict | None) -> dict:
    counts = {change: 0 for change in CHANGES}
    new_failing = 0
    for c in changes:
        counts[c["change"]] += 1
        if c["change"] == NEW_TEST and c["status"] in FAILING:
            new_failing += 1
    notes = []
    if previous is None:
        notes.append("the first run of this branch in the history read, and no run of a default branch before it: "
                     "nothing to compare with, so none of its failures is called new")
    elif previous.get(BASELINE):
        notes.append(f"the first run of this branch in the history read: compared with {previous['branch']} "
                     f"#{previous.get('build') or previous['run_id']}, the default branch's latest complete run "
                     "before it (where the branch started from)")
    elif last_complete is None:
        notes.append("every earlier run was still waiting for shards: tests they did not hold are not called new")
    elif last_complete is not previous:
        notes.append(f"the runs since build {last_complete.get('build') or last_complete['run_id']} "
                     "were waiting for shards: tests they did not hold are compared with that build")
    if not complete:
        notes.append(f"waiting for shards ({seen_shards or 0} of {expected}): tests not reported yet are not called gone")
    same_commit = bool(previous and run.get("commit_sha") and run.get("commit_sha") == previous.get("commit_sha"))
    if same_commit:
        notes.append("a re-run of the previous run's commit: a new failure here is a flaky test or a different environment")
    return {
        "run_id": run["run_id"],
        "project": run["project"],
        "branch": run["branch"],
        "build": run.get("build"),
        "commit_sha": run.get("commit_sha"),
        "ci_url": run.get("ci_url"),
        "run_time": run.get("run_time"),
        "state": COMPARED if previous is not None else NO_PREVIOUS_RUN,
        "complete": complete,
        "shards_seen": seen_shards,
        "shards_expected": expected,
        "previous_run_id": previous["run_id"] if previous else None,
        "previous_branch": previous["branch"] if previous else None,
        "previous_build": previous.get("build") if previous else None,
        "previous_ci_url": previous.get("ci_url") if previous else None,
        "same_commit": same_commit,
        "tests": len(tests),
        "failing": sum(t["status"] in FAILING for t in tests),
        "new_failures": counts[NEW_FAILURE],
        "fixed": counts[FIXED],
        "still_failing": counts[STILL_FAILING],
        "new_tests": counts[NEW_TEST],
        "new_failing_tests": new_failing,
        "gone": counts[GONE],
        "note": "; ".join(notes) or None,
    }


BASELINE = "_baseline"  # marks the default branch's run put before a branch's first run


class ForkPoints:
    """Where a branch's first run starts from: the latest complete run, no later than it, of
    the project's default branch. Default branches are tried in their order (main before
    master before release/*); a default branch takes its fork point only from one listed before
    it (a release branch from main, not main from a release branch), any other branch from
    any. `branches`: (project, branch) -> its runs oldest first (dicts with run_id, and the time
    `when` reads: run_time unless told); `complete`: whether a run (by its id) may serve."""

    def __init__(self, branches: dict[tuple[str, str], list[dict]], globs: tuple[str, ...],
                 complete=lambda run_id: True, when=lambda run: run.get("run_time")):
        self.globs = globs
        self.when = when
        self.by_project: dict[str, list[tuple[str, list[dict], list]]] = {}
        for (project, branch), runs in branches.items():
            if not is_default_branch(str(branch), globs):
                continue
            kept = [r for r in runs if complete(r["run_id"]) and not _missing(when(r))]
            if kept:
                self.by_project.setdefault(project, []).append((branch, kept, [(when(r), r["run_id"]) for r in kept]))

    def of(self, project: str, branch: str, first_run_time) -> dict | None:
        """The run `branch`'s first run (at `first_run_time`) is compared with, or None."""
        candidates = self.by_project.get(project)
        if not candidates or _missing(first_run_time):
            return None
        rank = default_rank(str(branch), self.globs)
        for glob in self.globs[:rank]:
            best = None
            for name, runs, times in candidates:
                if name == branch or not fnmatch.fnmatchcase(str(name), glob):
                    continue
                # The runs at its time or before; ids only break a tie among those.
                at = bisect.bisect_right(times, (first_run_time, "\uffff"))
                if at and (best is None or times[at - 1] > (self.when(best), best["run_id"])):
                    best = runs[at - 1]
            if best is not None:
                return best
        return None


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def default_rank(branch: str, globs: Iterable[str]) -> int:
    """The position of the first of `globs` that `branch` matches; len(globs) for other branches."""
    globs = tuple(globs)
    return next((i for i, glob in enumerate(globs) if fnmatch.fnmatchcase(branch, glob)), len(globs))


def latest_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The newest run of every project and branch (rows of a compare_runs run frame)."""
    if runs.empty:
        return runs
    ordered = runs.sort_values(["project", "branch", "run_time", "run_id"], kind="stable")
    return ordered.drop_duplicates(["project", "branch"], keep="last").reset_index(drop=True)


def parse_branch_globs(raw: str) -> tuple[str, ...]:
    """'main, master,release/*' -> ('main', 'master', 'release/*')."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def is_default_branch(branch: str, globs: Iterable[str]) -> bool:
    globs = tuple(globs)
    return default_rank(branch, globs) < len(globs)


def newly_failing(changes: pd.DataFrame) -> pd.Series:
    """Which changes are a test failing anew in their run: a new failure, or a new test that fails."""
    return (changes["change"] == NEW_FAILURE) | ((changes["change"] == NEW_TEST) & changes["status"].isin(FAILING))


def regressions_of(runs: pd.DataFrame, changes: pd.DataFrame, globs: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest run of each default branch (matching `globs`), and the tests failing in it
    that passed on the branch before (or are new): failing anew there, or still failing since
    a run where they did. A test failing since the history read began is not one of them."""
    globs = tuple(globs)
    latest = latest_runs(runs)
    if latest.empty:
        return latest, changes.iloc[0:0]
    latest = latest[latest["branch"].map(lambda b: is_default_branch(str(b), globs))].reset_index(drop=True)
    failing = changes[changes["run_id"].isin(set(latest["run_id"])) & changes["regression"].fillna(False).astype(bool)]
    return latest, failing.reset_index(drop=True)


def _test_of(change: dict) -> dict:
    return {"name": change["name"], "suite": change["suite"], "parameters": change["parameters"],
            "status": change["status"], "previous_status": change["previous_status"],
            "previous_build": change["previous_build"], "message": change["message"], "note": change["note"]}


def by_run(runs: pd.DataFrame, changes: pd.DataFrame) -> dict[str, dict]:
    """Each run's comparison in plain values: its previous run, the tests that newly fail (new
    tests that fail among them, marked so), those fixed, and the counts of the rest."""
    grouped: dict[str, list[dict]] = {}
    for change in changes.astype(object).where(changes.notna(), None).to_dict("records"):
        grouped.setdefault(change["run_id"], []).append(change)
    out = {}
    for run in runs.astype(object).where(runs.notna(), None).to_dict("records"):
        mine = grouped.get(run["run_id"], [])
        out[run["run_id"]] = {
            "state": run["state"],
            "previous_run_id": run["previous_run_id"],
            "previous_branch": run["previous_branch"],
            "previous_build": run["previous_build"],
            "complete": bool(run["complete"]),
            "same_commit": bool(run["same_commit"]),
            "new_failures": [_test_of(c) for c in mine if c["change"] == NEW_FAILURE
                             or (c["change"] == NEW_TEST and c["status"] in FAILING)],
            "still_failing_since": [{**_test_of(c), "since_build": c["failing_since_build"]}
                                    for c in mine if c["change"] == STILL_FAILING and c["regression"]],
            "fixed": [_test_of(c) for c in mine if c["change"] == FIXED],
            "still_failing": int(run["still_failing"]),
            "new_tests": int(run["new_tests"]),
            "gone": int(run["gone"]),
            "note": run["note"],
        }
    return out
