"""Durations are skewed: most runs of a test take about the same time, and a long tail of slow
ones (I/O, garbage collection, a busy agent) comes and goes with nothing changed. Judged in
seconds, one run in 30 of such a test was "slower" (robust z-score over 3.5); judged in logs
and against the slowest earlier run, one in 250. Real slowdowns of steady tests are still found."""

import numpy as np

from crossbridge_assets.analysis.regressions import RULES, Rules

RULES_ = Rules()


def fired(values) -> str | None:
    values = np.asarray(values, dtype=float)
    runs = np.array([f"#{i}" for i in range(len(values))])
    for rule in RULES:
        hit = rule(("test", "t", "shop/main"), runs, values, RULES_)
        if hit is not None:
            return hit["rule"]
    return None


def test_a_test_with_a_slow_tail_is_not_slower_when_its_latest_run_is_in_the_tail():
    # 30 runs about 1 s, five of them 2.4-3.1 s (a shared database on a busy day); the latest
    # takes 2.6 s: as slow as it has been before, 10 robust z-scores above the median in seconds.
    history = [1.0, 1.02, 0.98, 1.01, 2.4, 0.99, 1.03, 0.97, 1.0, 3.1, 1.02, 0.98, 1.01, 0.99, 2.7,
               1.0, 1.04, 0.96, 1.0, 1.01, 2.9, 0.99, 1.02, 0.98, 1.0, 1.03, 2.5, 0.97, 1.0, 1.01]
    assert fired(history + [2.6]) is None
    # Slower than it has ever been in the window, by far: found.
    assert fired(history + [9.0]) is not None


def test_skewed_durations_with_nothing_changed_are_seldom_slower():
    rng = np.random.default_rng(20261201)
    for sigma in (0.3, 0.5):
        flagged = sum(fired(rng.lognormal(0, sigma, 30)) is not None for _ in range(2000))
        assert flagged / 2000 < 0.01, (sigma, flagged)  # judged in seconds: 1.9% and 3.6%


def test_a_steady_test_that_gets_half_again_slower_is_found():
    rng = np.random.default_rng(7)
    found = sum(fired(list(rng.normal(1.0, 0.03, 30)) + [1.5]) == "robust_z" for _ in range(200))
    assert found == 200
