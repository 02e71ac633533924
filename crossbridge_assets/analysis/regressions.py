"""Duration baselines and performance regressions, on pandas frames of spans.

Input: one row per span with kind, name, environment (project/branch), run_id, start, duration
(seconds) — warehouse.profiling.span_frame gives it. A series is one (kind, name, environment):
its value per run is the median duration of its spans in that run (a test runs once, an HTTP
endpoint may be called hundreds of times).

Three rules, each with its evidence:
- ratio (safe default): the latest run is at least 5x the baseline mean, above the baseline
  max and at least 500 ms; few false alarms even on short histories.
- robust_z: the latest run is slower than every earlier run of the window, its MAD-based
  z-score (Iglewicz and Hoaglin's 0.6745 (x - median) / MAD) of the log durations is high, over
  at least a minimum number of earlier runs, and the change is large enough to matter in
  absolute and relative terms.
- change_point: the best single split of the series into before/after (Welch's t over every
  split, both sides at least `cp_min_segment` runs) shows a sustained rise; catches a gradual
  creep that never makes one run stand out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crossbridge_assets.analysis.compare import ForkPoints

KEY = ["kind", "name", "environment"]

# Spans that did not run to their end, or did not run: their duration says how they stopped (an
# early assertion, a timeout, a skip, no response), not how long the work takes. They are left
# out of every timing, as test_history judges a test by the runs it passed.
UNTIMED = frozenset({"skipped", "not_run", "failed", "error", "xfailed", "rerun"})


def timed(spans: pd.DataFrame) -> pd.DataFrame:
    """The spans whose duration is the time the work took (status not in UNTIMED)."""
    if spans.empty or "status" not in spans.columns:
        return spans
    return spans[~spans["status"].isin(UNTIMED)].reset_index(drop=True)


@dataclass(frozen=True)
class Rules:
    window_runs: int = 50  # runs of a series that count (the most recent ones)
    ratio: float = 5.0
    ratio_min_seconds: float = 0.5
    ratio_min_runs: int = 3
    z: float = 3.5
    z_min_runs: int = 8
    z_min_delta: float = 0.1  # seconds
    z_min_ratio: float = 1.2
    cp_min_segment: int = 5
    cp_t: float = 5.0
    cp_min_rel: float = 0.2
    cp_min_delta: float = 0.1  # seconds


REGRESSION_COLUMNS = KEY + ["rule", "run_id", "value", "baseline", "ratio", "score", "evidence"]
BASELINE_COLUMNS = KEY + ["runs", "spans", "median", "mad", "mean", "max", "p50", "p95", "last_value", "last_run"]


def run_series(spans: pd.DataFrame) -> pd.DataFrame:
    """One row per series and run: value (median seconds), spans, started; oldest run first."""
    if spans.empty:
        return pd.DataFrame(columns=KEY + ["run_id", "value", "spans", "started"])
    grouped = spans.groupby(KEY + ["run_id"], sort=False, observed=True)
    series = grouped.agg(value=("duration", "median"), spans=("duration", "size"), started=("start", "min"))
    return series.reset_index().sort_values(KEY + ["started", "run_id"], kind="stable").reset_index(drop=True)


# Durations of 0 (a clock's resolution) are taken as a microsecond in the log of a duration.
_TINY = 1e-6


def _mad(values: np.ndarray) -> float:
    return float(np.median(np.abs(values - np.median(values))))


def baselines(spans: pd.DataFrame, rules: Rules = Rules()) -> pd.DataFrame:
    """Per series over its last `window_runs` runs: median, MAD, mean, max of the run values;
    p50/p95 of the individual spans of those runs; the latest run's value."""
    series = run_series(spans)
    if series.empty:
        return pd.DataFrame(columns=BASELINE_COLUMNS)
    recent = series.groupby(KEY, sort=False, observed=True).tail(rules.window_runs)
    by_key = recent.groupby(KEY, sort=False, observed=True)
    out = by_key.agg(runs=("value", "size"), spans=("spans", "sum"), median=("value", "median"),
                     mean=("value", "mean"), max=("value", "max"), last_value=("value", "last"),
                     last_run=("run_id", "last"))
    out["mad"] = by_key["value"].agg(lambda v: _mad(v.to_numpy()))
    kept = spans.merge(recent[KEY + ["run_id"]], on=KEY + ["run_id"])
    quantiles = kept.groupby(KEY, sort=False, observed=True)["duration"].quantile([0.5, 0.95]).unstack()
    out["p50"] = quantiles[0.5]
    out["p95"] = quantiles[0.95]
    return out.reset_index()[BASELINE_COLUMNS]


def _ratio_rule(key, runs, values, rules: Rules) -> dict | None:
    history, last = values[:-1][-rules.window_runs:], values[-1]
    if len(history) < rules.ratio_min_runs:
        return None
    mean, top = float(history.mean()), float(history.max())
    if last >= rules.ratio * mean and last > top and last >= rules.ratio_min_seconds:
        ratio = last / mean if mean > 0 else float("inf")
        return dict(rule="ratio", value=last, baseline=mean, ratio=ratio, score=ratio,
                    evidence=f"{last:.3f}s in run {runs[-1]} is {ratio:.1f}x the mean of the {len(history)} "
                    f"runs before ({mean:.3f}s) and above their max ({top:.3f}s)")
    return None


def _robust_rule(key, runs, values, rules: Rules) -> dict | None:
    """The latest run stands out: slower than every earlier run of the window, by a robust
    z-score of the log durations. Durations are skewed (a long tail of slow runs: I/O, GC, a
    busy agent), and the tail's runs are many MADs above the median in seconds: judged in
    seconds, one run in 30 of a test with such a tail was "slower" with nothing changed. In
    logs the tail is as wide as the rest, and a test whose earlier runs were as slow is not."""
    history, last = values[:-1][-rules.window_runs:], values[-1]
    if len(history) < rules.z_min_runs:
        return None
    median, top = float(np.median(history)), float(history.max())
    if last <= top or last - median < rules.z_min_delta or last < rules.z_min_ratio * median:
        return None
    logs = np.log(np.maximum(history, _TINY))
    mad = _mad(logs)
    if mad <= 0:
        # Identical earlier runs: any change is infinitely many MADs; the absolute and
        # relative floors above decide alone.
        mad = 0.01
    z = 0.6745 * (np.log(max(last, _TINY)) - float(np.median(logs))) / mad
    if z >= rules.z:
        return dict(rule="robust_z", value=last, baseline=median, ratio=last / median if median > 0 else float("inf"),
                    score=z, evidence=f"{last:.3f}s in run {runs[-1]}: slower than each of the {len(history)} earlier "
                    f"runs (median {median:.3f}s, max {top:.3f}s); robust z-score {z:.1f} of their log durations")
    return None


def _change_point(key, runs, values, rules: Rules) -> dict | None:
    v = values[-rules.window_runs:]
    n, m = len(v), rules.cp_min_segment
    if n < 2 * m:
        return None
    s1 = np.concatenate([[0.0], np.cumsum(v)])
    s2 = np.concatenate([[0.0], np.cumsum(v * v)])
    k = np.arange(m, n - m + 1)
    nl, nr = k, n - k
    ml, mr = s1[k] / nl, (s1[n] - s1[k]) / nr
    vl = np.maximum((s2[k] - nl * ml * ml) / np.maximum(nl - 1, 1), 0.0)
    vr = np.maximum(((s2[n] - s2[k]) - nr * mr * mr) / np.maximum(nr - 1, 1), 0.0)
    se = np.sqrt(vl / nl + vr / nr)
    # A floor on the spread so that two flat segments do not give an infinite t.
    se = np.maximum(se, 1e-3 * np.maximum(np.abs(ml), 1e-6))
    t = (mr - ml) / se
    best = int(np.argmax(t))
    before, after, score, split = float(ml[best]), float(mr[best]), float(t[best]), int(k[best])
    if score >= rules.cp_t and after - before >= rules.cp_min_delta and before > 0 and (after - before) / before >= rules.cp_min_rel:
        window_runs = runs[-n:]
        return dict(rule="change_point", value=after, baseline=before, ratio=after / before, score=score,
                    evidence=f"mean rose from {before:.3f}s over {split} runs to {after:.3f}s over the last "
                    f"{n - split} runs (since run {window_runs[split]}); Welch t = {score:.1f}")
    return None


RULES = (_ratio_rule, _robust_rule, _change_point)


def fork_points(spans: pd.DataFrame, default_branches) -> dict[str, tuple[str, pd.Timestamp, str]]:
    """environment -> (the default branch's environment, the start of its run, its name) each branch
    started from (compare.ForkPoints): the runs of that default branch up to then come before
    the branch's own in its series, so that its first runs are judged against them. `spans`
    carry project and branch (warehouse.profiling.span_frame)."""
    if spans.empty or "project" not in spans.columns or not tuple(default_branches):
        return {}
    runs = (spans.groupby(["project", "branch", "run_id"], sort=False, observed=True)["start"].min()
            .reset_index().sort_values(["project", "branch", "start", "run_id"], kind="stable"))
    branches = {key: group.to_dict("records") for key, group in runs.groupby(["project", "branch"], sort=False)}
    forks = ForkPoints(branches, tuple(default_branches), when=lambda run: run["start"])
    out = {}
    for (project, branch), own in branches.items():
        fork = forks.of(project, branch, own[0]["start"])
        if fork is not None:
            out[f"{project}/{branch}"] = (f"{project}/{fork['branch']}", fork["start"], fork["branch"])
    return out


def detect(spans: pd.DataFrame, rules: Rules = Rules(), series: pd.DataFrame | None = None,
           forks: dict[str, tuple[str, pd.Timestamp, str]] | None = None) -> pd.DataFrame:
    """Regressions of the latest run of every series, one row per (series, rule) that fired.
    `forks` (fork_points): a branch's series begins with its default branch's runs up to where
    it started, so that a branch slower from its first run is caught, not taken as its normal."""
    series = run_series(spans) if series is None else series
    found = []
    groups = dict(tuple(series.groupby(KEY, sort=False, observed=True)))
    for key, group in groups.items():
        values = group["value"].to_numpy(dtype=float)
        runs = group["run_id"].to_numpy()
        fork = (forks or {}).get(key[2])
        base = groups.get((key[0], key[1], fork[0])) if fork else None
        before = 0
        if base is not None and len(group) < rules.window_runs:
            base = base[base["started"] <= fork[1]].tail(rules.window_runs - len(group))
            before = len(base)
            values = np.concatenate([base["value"].to_numpy(dtype=float), values])
            runs = np.concatenate([base["run_id"].to_numpy(), runs])
        if len(values) < 2:
            continue
        for rule in RULES:
            hit = rule(key, runs, values, rules)
            if hit is not None:
                if before:
                    hit["evidence"] += (f" (the branch's first runs are compared with {fork[2]}'s: "
                                        f"{before} of the runs before are there, up to where the branch started)")
                found.append({**dict(zip(KEY, key)), "run_id": runs[-1], **hit})
    if not found:
        return pd.DataFrame(columns=REGRESSION_COLUMNS)
    return pd.DataFrame(found)[REGRESSION_COLUMNS].sort_values(["ratio"], ascending=False).reset_index(drop=True)


# What users ask about, by the kinds of span that answer it.
CATEGORIES = {
    "tests": ("test",),
    "steps": ("step", "keyword"),
    "endpoints": ("http",),
    "webdriver_commands": ("driver_command", "navigation"),
}


def slowest(spans: pd.DataFrame, kinds: tuple[str, ...], top: int = 10) -> pd.DataFrame:
    """The slowest (kind, name, environment) among `kinds` by p95, with calls, p50, p95 and max."""
    chosen = spans[spans["kind"].isin(kinds)]
    if chosen.empty:
        return pd.DataFrame(columns=KEY + ["calls", "p50", "p95", "max"])
    grouped = chosen.groupby(KEY, sort=False, observed=True)["duration"]
    out = grouped.agg(calls="size", p50="median", max="max")
    out["p95"] = grouped.quantile(0.95)
    return out.reset_index().sort_values("p95", ascending=False).head(top)[KEY + ["calls", "p50", "p95", "max"]]
