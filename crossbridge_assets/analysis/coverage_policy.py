"""What counts as good coverage: thresholds per project and branch, the largest tolerated drop
between two runs of a branch, and how long a run may wait for its missing shards. Read from
environment variables and validated like settings.py; the judgements are pure functions.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

from crossbridge_assets.analysis.compare import ForkPoints
from crossbridge_assets.settings import SettingsError, env_number, env_text, specificity

# name -> (default, meaning), in the shape of settings.VARIABLES for the README's table.
VARIABLES: dict[str, tuple[str, str]] = {
    "CROSSBRIDGE_COVERAGE_THRESHOLDS": (
        '{"*": 0}',
        'minimum line coverage in percent per "project/branch" (globs allowed, a bare project means '
        'all its branches, also one named like a repository: "acme/shop"; "*" is the default), '
        'e.g. {"shop/main": 80, "shop/release/*": 75, "*": 0}',
    ),
    "CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS": (
        '{"*": 0}',
        "minimum coverage in percent of the lines a run's change adds or modifies (the diff its CI job "
        'sends), per "project/branch" as CROSSBRIDGE_COVERAGE_THRESHOLDS, e.g. {"shop": 80, "*": 0}',
    ),
    "CROSSBRIDGE_COVERAGE_MAX_DROP": (
        "1.0",
        "largest tolerated drop of line coverage, in percentage points, against the previous run of the branch "
        "(a branch's first run: against its default branch's run before it)",
    ),
    "CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES": (
        "120",
        "how long a run may wait for its missing coverage shards before the check reports it",
    ),
}


@dataclass(frozen=True)
class CoveragePolicy:
    thresholds: dict[str, float] = field(default_factory=lambda: {"*": 0.0})
    max_drop: float = 1.0  # percentage points
    shard_grace: timedelta = timedelta(minutes=120)
    patch_thresholds: dict[str, float] = field(default_factory=lambda: {"*": 0.0})

    def threshold(self, project: str, branch: str) -> tuple[float, str]:
        """(minimum line %, the key that set it) for a project and branch: an exact key wins,
        then the most specific matching glob (the one with the most literal characters)."""
        return _threshold(self.thresholds, project, branch)

    def patch_threshold(self, project: str, branch: str) -> tuple[float, str]:
        """(minimum patch coverage %, the key that set it), chosen as `threshold` chooses."""
        return _threshold(self.patch_thresholds, project, branch)


def _threshold(thresholds: dict[str, float], project: str, branch: str) -> tuple[float, str]:
    name = f"{project}/{branch}"
    if name in thresholds:
        return thresholds[name], name
    # A key naming the project itself stands for all its branches, also when the project's
    # name holds a slash (CI names it by its repository: "acme/shop", "group/sub/app").
    matching = {k: k if fnmatchcase(name, k) else k + "/*"
                for k in thresholds if fnmatchcase(name, k) or fnmatchcase(project, k)}
    if not matching:
        return 0.0, "(none)"
    best = max(matching, key=lambda k: specificity(matching[k]))
    return thresholds[best], best


def parse_thresholds(raw: str, name: str = "CROSSBRIDGE_COVERAGE_THRESHOLDS") -> dict[str, float]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{name} is not valid JSON ({exc.msg} at column {exc.colno}); expected e.g. "
            '{"shop/main": 80, "*": 0}'
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f'{name} must be a JSON object of "project/branch": percent, e.g. {{"shop/main": 80, "*": 0}}')
    out: dict[str, float] = {}
    for key, value in data.items():
        key = key.strip()
        if not key:
            raise SettingsError(f"{name} has an empty key; use \"project/branch\", \"project\" or \"*\"")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise SettingsError(f"{name}: {key!r} has {value!r}; expected a percentage from 0 to 100")
        # A bare project name means every branch of it.
        out[key if ("/" in key or key == "*") else key + "/*"] = float(value)
    out.setdefault("*", 0.0)
    return out


def load_policy(env: Mapping[str, str] | None = None) -> CoveragePolicy:
    """Read and validate the coverage variables. Raises SettingsError naming the variable."""
    env = os.environ if env is None else env

    return CoveragePolicy(
        thresholds=parse_thresholds(
            env_text(env, "CROSSBRIDGE_COVERAGE_THRESHOLDS") or VARIABLES["CROSSBRIDGE_COVERAGE_THRESHOLDS"][0]
        ),
        max_drop=env_number(env, "CROSSBRIDGE_COVERAGE_MAX_DROP", VARIABLES, 0, 100, float),
        shard_grace=timedelta(
            minutes=env_number(env, "CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", VARIABLES, 0, 7 * 24 * 60, float)
        ),
        patch_thresholds=parse_thresholds(
            env_text(env, "CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS")
            or VARIABLES["CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS"][0],
            "CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS",
        ),
    )


# ---------------------------------------------------------------------------- judgements
# `runs` are dicts with the columns of coverage_runs (run_id, project, branch, build,
# started_at, complete, line_pct, ...), ordered oldest first within a branch or not at all.


def _order(run: dict):
    return (run.get("started_at") or run.get("first_arrival"), run.get("run_id"))


def exact_pct(run: dict) -> float:
    """A run's line coverage unrounded, from its counts (line_pct is rounded to hundredths):
    23,999 lines of 30,000 are 79.9967 %, under a threshold of 80 that 80.0 would reach."""
    if run.get("lines_valid"):
        return 100.0 * run["lines_covered"] / run["lines_valid"]
    return run["line_pct"]


def shown_under(exact: float, limit: float) -> float:
    """The figure to show for coverage under `limit`: to hundredths, or to as many more digits
    as it takes not to read as reaching it (79.996, not 80.0 < 80)."""
    return _shown_past(exact, limit, over=False)


def shown_over(exact: float, limit: float) -> float:
    """The figure to show for a drop over `limit`, as shown_under (5.264, not 5.26 > 5.26)."""
    return _shown_past(exact, limit, over=True)


def _shown_past(exact: float, limit: float, over: bool) -> float:
    shown, digits = round(exact, 2), 2
    while (shown <= limit if over else shown >= limit) and digits < 6:
        digits += 1
        shown = (math.ceil if over else math.floor)(exact * 10**digits) / 10**digits
    return shown


def _first_arrival(run: dict, like: datetime) -> datetime | None:
    """A run's first arrival, in the zone of `like` when the database gave it without one."""
    arrived = run.get("first_arrival")
    return arrived if arrived is None or arrived.tzinfo else arrived.replace(tzinfo=like.tzinfo)


def active_branches(runs: Iterable[dict], since: datetime) -> list[dict]:
    """The runs of every project and branch that sent coverage at `since` or later (by the
    first arrival of a run's reports). A branch merged or abandoned before is history, not
    something to fix: judged for ever, its last low, dropped or shard-short run kept the checks
    failing for good, and a new problem then sent no alert (alerts go out on a change)."""
    runs = list(runs)
    active = set()
    for run in runs:
        arrived = _first_arrival(run, since)
        if arrived is not None and arrived >= since:
            active.add((run["project"], run["branch"]))
    return [run for run in runs if (run["project"], run["branch"]) in active]


def latest_per_branch(runs: Iterable[dict], complete_only: bool = True) -> dict[tuple[str, str], dict]:
    """The newest judged run of every project and branch (incomplete and unmeasured runs are
    not judged: a run missing shards looks low without being low)."""
    latest: dict[tuple[str, str], dict] = {}
    for run in sorted(runs, key=_order):
        if run.get("line_pct") is None or (complete_only and not run.get("complete")):
            continue
        latest[(run["project"], run["branch"])] = run
    return latest


def below_threshold(runs: Iterable[dict], policy: CoveragePolicy) -> list[dict]:
    """Latest complete run of each branch whose line coverage is under its threshold."""
    out = []
    for (project, branch), run in sorted(latest_per_branch(runs).items()):
        minimum, key = policy.threshold(project, branch)
        exact = exact_pct(run)
        if exact < minimum:
            out.append({**run, "line_pct": shown_under(exact, minimum), "threshold": minimum, "threshold_key": key})
    return out


def below_patch_threshold(patches: Iterable[dict], policy: CoveragePolicy) -> list[dict]:
    """The newest run of each branch whose change is covered under its patch threshold
    (patch_coverage rows; a run whose coverage still misses shards is not judged)."""
    latest: dict[tuple[str, str], dict] = {}
    for row in sorted(patches, key=_order):
        if row.get("complete"):
            latest[(row["project"], row["branch"])] = row
    out = []
    for (project, branch), row in sorted(latest.items()):
        minimum, key = policy.patch_threshold(project, branch)
        exact = 100.0 * row["covered_lines"] / row["measured_lines"] if row["measured_lines"] else 100.0
        if exact < minimum:
            out.append({**row, "pct": shown_under(exact, minimum), "threshold": minimum, "threshold_key": key})
    return out


def drops(runs: Iterable[dict], max_drop: float, default_branches: Iterable[str] = ()) -> list[dict]:
    """Branches whose latest complete run lost more than `max_drop` points of line coverage
    against the complete run before it on the same branch; a branch's first run against its
    fork point on a default branch (compare.ForkPoints: the latest complete run of the
    project's default branch before it), as a pull request's coverage is judged against its
    base. `previous_branch` names the branch of the run compared with."""
    by_branch: dict[tuple[str, str], list[dict]] = {}
    for run in sorted(runs, key=_order):
        if run.get("line_pct") is None or not run.get("complete"):
            continue
        by_branch.setdefault((run["project"], run["branch"]), []).append(run)
    forks = ForkPoints(by_branch, tuple(default_branches), when=lambda run: _order(run)[0])
    out = []
    for (project, branch), history in sorted(by_branch.items()):
        if len(history) < 2:
            fork = forks.of(project, branch, _order(history[0])[0])
            if fork is None:
                continue
            history = [fork] + history
        previous, latest = history[-2], history[-1]
        # From the counts, as the threshold is judged: the rounded figures can hide a drop over
        # the tolerance (80.004 -> 78.9973 % read 80.0 -> 79.0). Rounded far below anything
        # shown only to drop the float noise of a difference exactly the tolerance.
        drop = round(exact_pct(previous) - exact_pct(latest), 9)
        if drop > max_drop:
            out.append({**latest, "previous_run": previous["run_id"], "previous_build": previous.get("build"),
                        "previous_branch": previous["branch"],
                        "previous_pct": previous["line_pct"], "drop": shown_over(drop, max_drop),
                        "previous": previous})
    return out


def stale_incomplete(runs: Iterable[dict], grace: timedelta, now: datetime) -> list[dict]:
    """Runs still missing shards after the grace period since their first report arrived, that
    no later complete run of their branch has overtaken. An overtaken run no longer decides the
    branch's figures; reported until its lost shard comes (never, for a cancelled job), it would
    keep the check failing and so hide the next run that misses one (alerts go out when a check
    changes state)."""
    runs = list(runs)
    newest_complete: dict[tuple[str, str], tuple] = {}
    for run in runs:
        if run.get("complete"):
            key = (run["project"], run["branch"])
            newest_complete[key] = max(newest_complete.get(key, _order(run)), _order(run))
    out = []
    for run in runs:
        if run.get("complete"):
            continue
        overtaken = newest_complete.get((run["project"], run["branch"]))
        if overtaken is not None and overtaken > _order(run):
            continue
        arrived = _first_arrival(run, now)
        if arrived is not None and now - arrived > grace:
            out.append({**run, "waiting_minutes": int((now - arrived).total_seconds() // 60)})
    return sorted(out, key=_order)
