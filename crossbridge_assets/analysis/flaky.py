"""Flaky tests, with the evidence, on the results history (warehouse.insights.result_frame).

A test is flaky on a project and branch when its history shows it both passing and failing with
no change that explains it. Three kinds of evidence, each counted and named run by run:

- retry: it passed on a retry within one run (Surefire's flakyFailure, pytest-rerunfailures,
  Playwright/Cypress retries; or two copies of it in one run disagreed). Develocity and the Cypress
  dashboards call such a test flaky on one occurrence: the code did not change between the tries.
- same_commit: it failed in one run and passed in another of the same commit (a CI re-run).
  Harness and Mergify flag a test on one such commit: same code, different outcome.
- flip: its outcome changed and changed back within a few runs (pass-fail-pass, or a lone pass
  among failures). The flip rate of Apple's "Modeling and Ranking Flaky Tests" (ICSE-SEIP 2020)
  ranks flakiness by how often the outcome alternates between consecutive runs. One flip is what
  a breaking change and its fix (or revert) look like, and a long failure streak between passes is
  a regression that got fixed: so a flip counts only when the changed outcome lasted at most
  `flip_max_runs` runs, and flips alone make a test flaky from `min_flips` of them on.

Not flaky: a test that fails in every run (broken), one that failed for a while and passes since
(a fix), one that failed every retry; skipped runs count for nothing (neither outcome).

The score, `flaky_rate`, is the share of the test's executed runs that are evidence (retried,
failed on a commit that also passed, or the odd outcome of a flip); `flip_rate` is Apple's
outcome changes / (runs - 1). `flagged_on` is the arrival day from which the rules flag the test,
counting only evidence whose runs had all arrived by then: the `no_new_flaky_tests` check reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from crossbridge_assets.model import ERROR, FAILED, PASSED

KEY = ["project", "branch", "test_id"]
RETRY, SAME_COMMIT, FLIP = "retry", "same_commit", "flip"

FLAKY_COLUMNS = KEY + [
    "framework", "suite", "name", "parameters", "runs", "failures", "retry_runs", "same_commit", "flips",
    "flaky_runs", "flaky_rate", "flip_rate", "evidence", "first_evidence_at", "last_evidence_at", "flagged_on",
    "last_status", "last_run_id",
]


@dataclass(frozen=True)
class Rules:
    # A changed outcome lasting up to 3 runs is a flip: a flaky test failing one run in four fails
    # four in a row one time in 250, while a regression usually fails until its fix lands.
    flip_max_runs: int = 3
    # Two flips: the failure came and went twice, which one change and its fix cannot explain.
    min_flips: int = 2
    examples: int = 3  # runs named per kind of evidence in the sentence (the newest)


RULES = Rules()

# A test is new flaky when the rules first flag it on an arrival day no older than this many days
# before today: the nightly refresh evaluates the check at least once a day, so every new flaky
# test is reported at least once, and a long-known one (flagged earlier in the window) never is.
NEW_DAYS = 1


@dataclass
class _Evidence:
    kind: str
    rows: list[int]  # positions of the runs whose outcome is the evidence
    seen_on: str  # arrival day by which every run it needs had arrived
    text: str  # names the runs; for a retry, the run alone (the sentence's lead says the rest)


@dataclass
class _Found:
    items: list[_Evidence] = field(default_factory=list)

    def of(self, kind: str) -> list[_Evidence]:
        return [e for e in self.items if e.kind == kind]


def _run_label(build, ci_url, run_id: str) -> str:
    """How the evidence names a run: its build, and its CI link to open it."""
    label = f"build {build}" if isinstance(build, str) and build else f"run {run_id[:12]}"
    if isinstance(ci_url, str) and ci_url:
        label += f" ({ci_url})"
    return label


def _judge(runs: pd.DataFrame, rules: Rules, conflicts: set) -> _Found:
    """The evidence in one test's runs on one branch (executed runs only, oldest first);
    `conflicts`: its commits with both a failing and a passing run."""
    found = _Found()
    failed = runs["status"].ne(PASSED).to_numpy()
    partition = runs["partition"].to_numpy()
    # Named only when evidence names them: a test failing now and then has hundreds of runs.
    builds, ci_urls, run_ids = runs["build"].tolist(), runs["ci_url"].tolist(), runs["run_id"].tolist()

    def label(p: int) -> str:
        return _run_label(builds[p], ci_urls[p], run_ids[p])

    for i in np.flatnonzero(runs["flaky"].to_numpy()):
        found.items.append(_Evidence(RETRY, [int(i)], str(partition[i]), label(i)))

    by_commit: dict = {}
    for p, sha in enumerate(runs["commit_sha"].tolist()):
        if sha in conflicts:
            by_commit.setdefault(sha, []).append(p)
    for sha, positions in by_commit.items():
        # Visible once a failing and a passing run of the commit have both arrived.
        by_arrival = sorted(positions, key=lambda p: (partition[p], p))
        seen: set[bool] = set()
        for p in by_arrival:
            seen.add(bool(failed[p]))
            if len(seen) == 2:
                seen_on = str(partition[p])
                break
        bad = [p for p in positions if failed[p]]
        good = [p for p in positions if not failed[p]]
        text = (f"failed in {', '.join(label(p) for p in bad[:2])} and passed in "
                f"{', '.join(label(p) for p in good[:2])} on commit {str(sha)[:12]}")
        found.items.append(_Evidence(SAME_COMMIT, bad, seen_on, text))

    # Streaks of one outcome; an inner streak (the other outcome on each side) of the test's unusual
    # outcome, short enough, is a flip: pass-fail-pass for a test that mostly passes, a lone pass
    # among failures for one that mostly fails. (Counting the passes between two failures as well
    # would count each failure twice.)
    unusual_is_failing = not failed.sum() * 2 > len(failed)
    starts = np.flatnonzero(np.r_[True, failed[1:] != failed[:-1]]) if len(failed) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(failed)] if len(starts) else starts
    for s, e in zip(starts[1:-1], ends[1:-1]):
        s, e = int(s), int(e)
        if bool(failed[s]) != unusual_is_failing or e - s > rules.flip_max_runs:
            continue
        what, around = ("failed", "passing") if failed[s] else ("passed", "failing")
        inside = ", ".join(label(p) for p in range(s, e))
        text = f"{what} in {inside} between {around} {label(s - 1)} and {label(e)}"
        found.items.append(_Evidence(FLIP, list(range(s, e)), str(max(partition[s - 1 : e + 1])), text))
    return found


def _flagged_on(found: _Found, rules: Rules) -> str | None:
    days = [min(e.seen_on for e in found.of(kind)) for kind in (RETRY, SAME_COMMIT) if found.of(kind)]
    flips = sorted(e.seen_on for e in found.of(FLIP))
    if len(flips) >= rules.min_flips:
        days.append(flips[rules.min_flips - 1])
    return min(days) if days else None


def _sentence(found: _Found, runs: int, rules: Rules) -> str:
    parts = []
    for kind, lead in ((RETRY, "passed on a retry in {n} of {runs} runs"),
                       (SAME_COMMIT, "failed and passed on the same commit {n} time(s)"),
                       (FLIP, "flipped {n} time(s)")):
        items = found.of(kind)
        if not items:
            continue
        newest = [e.text for e in reversed(items)][: rules.examples]
        more = f"; and {len(items) - len(newest)} more" if len(items) > len(newest) else ""
        parts.append(lead.format(n=len(items), runs=runs) + ": " + "; ".join(newest) + more)
    return ". ".join(parts) + "."


def detect(results: pd.DataFrame, rules: Rules = RULES) -> pd.DataFrame:
    """One row per flaky (project, branch, test), columns FLAKY_COLUMNS, the flakiest first."""
    if results.empty:
        return pd.DataFrame(columns=FLAKY_COLUMNS)
    executed = results[results["status"].isin((PASSED, FAILED, ERROR))]
    # Only a test that failed somewhere, or passed on a retry, can be flaky: the rest (most tests)
    # are never looked at one by one.
    suspect = executed["status"].ne(PASSED) | executed["flaky"].astype(bool)
    keys = pd.MultiIndex.from_frame(executed.loc[suspect, KEY].drop_duplicates())
    candidates = executed[pd.MultiIndex.from_frame(executed[KEY]).isin(keys)]
    candidates = candidates.sort_values(KEY + ["run_time", "run_id"], kind="stable")
    # Commits a test both failed and passed on, found for every test at once.
    with_commit = candidates[candidates["commit_sha"].notna() & candidates["commit_sha"].astype(str).str.len().gt(0)]
    outcomes = with_commit.assign(_failed=with_commit["status"].ne(PASSED)).groupby(KEY + ["commit_sha"])["_failed"].nunique()
    conflicts: dict = {}
    for (project, branch, test_id, sha) in outcomes[outcomes > 1].index:
        conflicts.setdefault((project, branch, test_id), set()).add(sha)
    out = []
    for (project, branch, test_id), runs in candidates.groupby(KEY, sort=False):
        runs = runs.reset_index(drop=True)
        found = _judge(runs, rules, conflicts.get((project, branch, test_id), set()))
        flagged_on = _flagged_on(found, rules)
        if flagged_on is None:
            continue
        evidence_rows = sorted({p for e in found.items for p in e.rows})
        times = runs["run_time"].iloc[evidence_rows]
        failed = runs["status"].ne(PASSED).to_numpy()
        changes = int((failed[1:] != failed[:-1]).sum())
        last = runs.iloc[-1]
        out.append({
            "project": project, "branch": branch, "test_id": test_id,
            "framework": last["framework"], "suite": last["suite"], "name": last["name"],
            "parameters": last["parameters"],
            "runs": len(runs), "failures": int(failed.sum()),
            "retry_runs": len(found.of(RETRY)), "same_commit": len(found.of(SAME_COMMIT)),
            "flips": len(found.of(FLIP)), "flaky_runs": len(evidence_rows),
            "flaky_rate": round(len(evidence_rows) / len(runs), 4),
            "flip_rate": round(changes / (len(runs) - 1), 4) if len(runs) > 1 else 0.0,
            "evidence": _sentence(found, len(runs), rules),
            "first_evidence_at": times.min(), "last_evidence_at": times.max(),
            "flagged_on": flagged_on, "last_status": last["status"], "last_run_id": last["run_id"],
        })
    if not out:
        return pd.DataFrame(columns=FLAKY_COLUMNS)
    frame = pd.DataFrame(out, columns=FLAKY_COLUMNS)
    return frame.sort_values(["flaky_rate", "flaky_runs", "project", "branch", "name"],
                             ascending=[False, False, True, True, True], kind="stable").reset_index(drop=True)


def new_since(today: date, days: int = NEW_DAYS) -> str:
    """The first arrival day (YYYY-MM-DD) on which a test first flagged counts as newly flaky."""
    return (today - timedelta(days=days)).isoformat()
