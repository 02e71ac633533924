"""Each test's recent life on each project and branch: is it healthy, since when is it broken,
did it get slower.

Input: the results history, one row per (run_id, test_id) (warehouse.insights.result_frame), and
optionally the runs of each branch with whether each is complete (warehouse.insights.run_frame):
a test missing from runs that are still waiting for shards is not missing. A history is one
(test_id, project, branch); a parameterized case has its own test_id, so its own history.

Rules, each with its reason:
- Runs of a branch are ordered by run_time (then run id).
- pass_rate is over the runs the test executed in (skipped runs do not count either way).
- The streak is the run of latest outcomes that agree: `passed` (passed, also on a retry) or
  `failing` (failed or error). A skipped run inside it neither ends nor lengthens it (a
  conditional skip between two failures does not mean the test was fixed); when the latest runs
  are skipped, the streak is `skipped` (someone disabled the test) and counts those runs.
- Broken: failing for at least `broken_min_runs` runs in a row, or failing every time it ran in
  the window (a new test that never passed). One failing run alone is `failing`, not broken: a
  flaky test fails once now and then.
- Removed: absent from the last `removed_after_runs` complete runs of its branch (renamed,
  deleted or no longer selected). A removed test is never broken nor slower: nobody runs it.
  It was probably renamed (`renamed_to`) when it is the only test of its suite gone after its
  last run and exactly one test of that suite first ran on its branch in the next run (a new
  name, or new parameters of a case).
- Slower: the duration of the runs it passed, judged by the rules of analysis.regressions
  (5x the mean of earlier runs; a robust z-score against their median with a floor of 0.1 s
  and 20 %; or a sustained rise), on its latest run when that run passed. The failing runs'
  durations say how a test failed (an early assertion, a timeout), not how fast it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd

from crossbridge_assets.analysis import display_name, regressions
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED

KEY = ["test_id", "project", "branch"]
PASSING, FAILING = "passed", "failing"  # streak outcomes, besides SKIPPED
MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Rules:
    broken_min_runs: int = 2
    removed_after_runs: int = 3
    slower: regressions.Rules = field(default_factory=regressions.Rules)


HISTORY_COLUMNS = KEY + [
    "framework", "suite", "name", "parameters", "file",
    "runs", "passed", "failed", "errors", "skipped", "passed_on_retry", "pass_rate",
    "first_run_at", "first_build", "last_run_at", "last_build", "last_run_id", "last_ci_url", "last_status",
    "streak_status", "streak_runs", "streak_since_build", "streak_since_run_id", "streak_since_at",
    "streak_since_ci_url", "streak_from_window_start",
    "last_passed_build", "last_passed_at", "last_failed_build", "last_failed_at", "last_failure_message",
    "duration_median", "duration_p95", "duration_last",
    "slower", "slower_rule", "slower_evidence",
    "missing_runs", "removed", "renamed_to", "broken",
]


def matches(pattern: str, test_id: str, suite: str | None, name: str, parameters: str | None) -> bool:
    """Whether a test answers to `pattern`: its id, or part of its name (case does not matter);
    with * or ?, a wildcard pattern over its name or full name. Brackets are a parameterized
    case's own ('test_pay[visa]'), never a wildcard set."""
    wanted = pattern.lower()
    if wanted == test_id.lower():
        return True
    bare = display_name(None, name, parameters)
    names = [n.lower() for n in (name, bare, display_name(suite, name, parameters))]
    if "*" in wanted or "?" in wanted:
        glob = wanted.replace("[", "[[]")
        return any(fnmatchcase(n, glob) for n in names)
    return wanted in names[-1]


def _runs_of(results: pd.DataFrame) -> pd.DataFrame:
    return results.drop_duplicates("run_id")[["run_id", "project", "branch", "run_time"]].assign(complete=True)


def _block_starts(frame: pd.DataFrame, column: str) -> pd.Series:
    """Whether each row starts a new block of equal `column` values within its history."""
    return frame[column].ne(frame.groupby(KEY, sort=False)[column].shift())


def _streaks(ordered: pd.DataFrame) -> pd.DataFrame:
    """Per history: streak_status, streak_runs and the row where the streak started."""
    outcome = ordered["status"].map({PASSED: PASSING, FAILED: FAILING, ERROR: FAILING}).fillna(SKIPPED)
    # The keys alone: each selection below copies the columns it carries.
    rows = ordered[KEY].assign(outcome=outcome, position=np.arange(len(ordered)))
    last = rows.groupby(KEY, sort=False).tail(1).set_index(KEY)

    # Executed runs only: a skip inside a passing or failing streak neither ends nor lengthens it.
    executed = rows[rows["outcome"] != SKIPPED]
    executed = executed.assign(block=_block_starts(executed, "outcome").groupby([executed[k] for k in KEY]).cumsum())
    final = executed.groupby(KEY, sort=False)["block"].transform("max")
    tail = executed[executed["block"] == final].groupby(KEY, sort=False)
    run_streak = tail.agg(streak_status=("outcome", "first"), streak_runs=("outcome", "size"),
                          since=("position", "first"))

    # Latest runs skipped: the streak is of those skips.
    skipping = rows.assign(block=_block_starts(rows, "outcome").groupby([rows[k] for k in KEY]).cumsum())
    final = skipping.groupby(KEY, sort=False)["block"].transform("max")
    tail = skipping[(skipping["block"] == final) & (skipping["outcome"] == SKIPPED)].groupby(KEY, sort=False)
    skip_streak = tail.agg(streak_status=("outcome", "first"), streak_runs=("outcome", "size"),
                           since=("position", "first"))

    out = run_streak.reindex(last.index)
    skipped_now = last["outcome"] == SKIPPED
    out.loc[skipped_now] = skip_streak.reindex(last.index[skipped_now]).to_numpy()
    return out


def _last_of(ordered: pd.DataFrame, mask: pd.Series, prefix: str) -> pd.DataFrame:
    chosen = ordered.loc[mask, KEY + ["build", "run_time"]].groupby(KEY, sort=False).tail(1).set_index(KEY)
    return pd.DataFrame({f"last_{prefix}_build": chosen["build"], f"last_{prefix}_at": chosen["run_time"]})


def _slower(ordered: pd.DataFrame, rules: regressions.Rules) -> pd.DataFrame:
    """Per history whose latest run passed: the first regressions rule that fires on the
    durations of the runs it passed, with its evidence (naming builds, not run ids)."""
    latest = ordered.groupby(KEY, sort=False)["status"].transform("last")
    passed = ordered.loc[(ordered["status"] == PASSED) & (latest == PASSED) & ordered["duration"].notna(),
                         KEY + ["duration", "build", "run_id"]]
    # Rows are in history order: each history is one slice of plain arrays (a pandas group per
    # history costs more than the rules themselves).
    keys = passed[KEY].to_numpy()
    values = passed["duration"].to_numpy(dtype=float)
    builds = passed["build"].fillna(passed["run_id"]).astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)]) if len(keys) else np.array([], int)
    found = {}
    for start, end in zip(starts, np.r_[starts[1:], len(keys)]):
        if end - start < 2:
            continue
        key = tuple(keys[start])
        for rule in regressions.RULES:
            hit = rule(key, builds[start:end], values[start:end], rules)
            if hit is not None:
                found[key] = (hit["rule"], hit["evidence"])
                break
    index = pd.MultiIndex.from_tuples(list(found), names=KEY) if found else pd.MultiIndex.from_tuples([], names=KEY)
    return pd.DataFrame([list(v) for v in found.values()], columns=["slower_rule", "slower_evidence"], index=index)


def _missing_runs(last: pd.DataFrame, runs: pd.DataFrame) -> pd.Series:
    """Complete runs of each history's branch after the test's last run."""
    complete = runs[runs["complete"].astype(bool)]
    times = {key: np.sort(group["run_time"].to_numpy()) for key, group in complete.groupby(["project", "branch"])}
    missing = np.zeros(len(last), dtype=int)
    for i, (project, branch, at) in enumerate(zip(last["project"], last["branch"], last["last_run_at"].to_numpy())):
        branch_times = times.get((project, branch))
        if branch_times is not None:
            missing[i] = len(branch_times) - int(np.searchsorted(branch_times, at, side="right"))
    return pd.Series(missing, index=last.index)


def _renamed_to(out: pd.DataFrame, runs: pd.DataFrame) -> pd.Series:
    """For each removed history: the one test of its suite that first ran on its branch in the
    branch's next run after its last one, named as display_name does, when it is the only test
    of its suite gone after that run; None otherwise."""
    renamed = pd.Series(None, index=out.index, dtype=object)
    removed = out[out["removed"]]
    if removed.empty:
        return renamed
    order = runs.sort_values(["run_time", "run_id"], kind="stable")
    following = {}  # run_id -> the next run of its branch
    for _, branch_runs in order.groupby(["project", "branch"], sort=False):
        ids = branch_runs["run_id"].tolist()
        following.update(zip(ids, ids[1:]))
    newcomers = out.reset_index().groupby(["project", "branch", "suite", "first_run_id"])
    # Two tests of a suite gone after the same run and one new one: which was renamed is unknown.
    leavers = removed.reset_index().groupby(["project", "branch", "suite", "last_run_id"])["test_id"].transform("size")
    removed = removed[leavers.to_numpy() == 1]
    for key, row in removed.iterrows():
        _, project, branch = key
        nxt = following.get(row["last_run_id"])
        if nxt is None:
            continue
        try:
            candidates = newcomers.get_group((project, branch, row["suite"], nxt))
        except KeyError:
            continue
        if len(candidates) == 1:
            c = candidates.iloc[0]
            renamed[key] = display_name(c["suite"], c["name"], c["parameters"])
    return renamed


def histories(results: pd.DataFrame, runs: pd.DataFrame | None = None, rules: Rules = Rules()) -> pd.DataFrame:
    """One row per (test_id, project, branch), columns HISTORY_COLUMNS; broken ones first, then
    by project, branch and test."""
    if results.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    runs = _runs_of(results) if runs is None else runs
    ordered = results.sort_values(KEY + ["run_time", "run_id"], kind="stable").reset_index(drop=True)
    grouped = ordered.groupby(KEY, sort=False)
    status = ordered["status"]
    counts = ordered.assign(
        is_passed=status.eq(PASSED), is_failed=status.eq(FAILED), is_error=status.eq(ERROR),
        is_skipped=status.eq(SKIPPED), on_retry=status.eq(PASSED) & ordered["flaky"].astype(bool),
    ).groupby(KEY, sort=False)
    out = counts.agg(
        runs=("run_id", "size"), passed=("is_passed", "sum"), failed=("is_failed", "sum"),
        errors=("is_error", "sum"), skipped=("is_skipped", "sum"), passed_on_retry=("on_retry", "sum"),
    )
    executed = out["runs"] - out["skipped"]
    out["pass_rate"] = (out["passed"] / executed).where(executed > 0)

    first, last = grouped.head(1).set_index(KEY), grouped.tail(1).set_index(KEY)
    for column in ("framework", "suite", "name", "parameters", "file"):
        out[column] = last[column]
    out["first_run_at"], out["first_build"] = first["run_time"], first["build"]
    out["first_run_id"] = first["run_id"]
    out["last_run_at"], out["last_build"], out["last_run_id"] = last["run_time"], last["build"], last["run_id"]
    out["last_ci_url"], out["last_status"] = last["ci_url"], last["status"]
    out["duration_last"] = last["duration"]

    streak = _streaks(ordered)
    since = ordered.iloc[streak["since"].astype(int).to_numpy()]
    out["streak_status"], out["streak_runs"] = streak["streak_status"], streak["streak_runs"].astype(int)
    for column, source in (("build", "build"), ("run_id", "run_id"), ("at", "run_time"), ("ci_url", "ci_url")):
        out[f"streak_since_{column}"] = since[source].to_numpy()
    first_position = grouped.cumcount().to_numpy()[streak["since"].astype(int).to_numpy()]
    out["streak_from_window_start"] = first_position == 0

    out = out.join(_last_of(ordered, status.eq(PASSED), "passed"))
    failing = status.isin([FAILED, ERROR])
    out = out.join(_last_of(ordered, failing, "failed"))
    messages = ordered.loc[failing, KEY + ["message"]].groupby(KEY, sort=False).tail(1).set_index(KEY)["message"]
    out["last_failure_message"] = messages.str.slice(0, MESSAGE_CHARS)

    durations = ordered.loc[status.eq(PASSED) & ordered["duration"].notna(), KEY + ["duration"]].groupby(
        KEY, sort=False)["duration"]
    out["duration_median"] = durations.median()
    out["duration_p95"] = durations.quantile(0.95)

    out["missing_runs"] = _missing_runs(out[["last_run_at"]].reset_index(), runs).to_numpy()
    out["removed"] = out["missing_runs"] >= rules.removed_after_runs
    out["renamed_to"] = _renamed_to(out, runs)
    out = out.join(_slower(ordered, rules.slower))
    out["slower"] = out["slower_rule"].notna() & ~out["removed"]
    out["broken"] = (
        out["streak_status"].eq(FAILING)
        & ((out["streak_runs"] >= rules.broken_min_runs) | (out["passed"] == 0))
        & ~out["removed"]
    )
    out = out.reset_index()
    for column in ("runs", "passed", "failed", "errors", "skipped", "passed_on_retry", "missing_runs"):
        out[column] = out[column].astype(int)
    out = out.sort_values(["broken", "project", "branch", "suite", "name", "parameters"],
                          ascending=[False, True, True, True, True, True], na_position="first", kind="stable")
    return out[HISTORY_COLUMNS].reset_index(drop=True)


def recent_runs(results: pd.DataFrame, limit: int = 10) -> dict[tuple[str, str, str], pd.DataFrame]:
    """The latest `limit` runs of every history in `results`, by (test_id, project, branch),
    oldest first: build, run_time, ci_url, status, flaky, duration, message. One sort for all
    (a filter of the whole frame for each history was quadratic in the number of tests)."""
    ordered = results.sort_values(["run_time", "run_id"], kind="stable")
    shown = ordered[["run_id", "build", "run_time", "ci_url", "status", "flaky", "duration", "message"]]
    return {key: shown.iloc[positions[-limit:]].reset_index(drop=True)
            for key, positions in ordered.groupby(["test_id", "project", "branch"], sort=False).indices.items()}
