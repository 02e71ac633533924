"""Duration baselines and regression rules on frames, and where the analytics sit in Dagster."""

import numpy as np
import pandas as pd
import pytest

from crossbridge_assets.analysis.regressions import Rules, baselines, detect, run_series, slowest

START = pd.Timestamp("2026-10-01", tz="UTC")


def frame(series: dict[tuple[str, str], list[float]], env: str = "shop/main", per_run: int = 1) -> pd.DataFrame:
    """Spans of several (kind, name) series, one value per run (repeated `per_run` times)."""
    rows = []
    for (kind, name), values in series.items():
        for i, value in enumerate(values):
            for j in range(per_run):
                rows.append(dict(kind=kind, name=name, environment=env, run_id=f"run{i:03d}",
                                 start=START + pd.Timedelta(hours=i, seconds=j), duration=float(value)))
    return pd.DataFrame(rows)


def noisy(n: int, mean: float, cv: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(np.maximum(rng.normal(mean, mean * cv, n), 0.001))


def test_a_5x_slowdown_is_flagged_with_evidence():
    values = noisy(20, 0.2, 0.05, 1) + [1.2]  # 6x the usual 200 ms
    found = detect(frame({("test", "tests/test_cart.py::test_checkout"): values}))
    ratio = found[found["rule"] == "ratio"].iloc[0]
    assert ratio["name"] == "tests/test_cart.py::test_checkout" and ratio["run_id"] == "run020"
    assert ratio["ratio"] > 5 and ratio["value"] == pytest.approx(1.2)
    assert "5." in ratio["evidence"] or "6." in ratio["evidence"]
    assert "run020" in ratio["evidence"] and "above their max" in ratio["evidence"]
    assert "robust_z" in set(found["rule"]), "the robust rule agrees"


def test_short_spans_need_the_500_ms_floor_for_the_ratio_rule():
    found = detect(frame({("http", "GET api/{id}"): [0.01] * 10 + [0.08]}))
    assert "ratio" not in set(found["rule"]), "80 ms is 8x but below 500 ms"


def test_noise_is_not_flagged():
    series = {("test", f"t{i}"): noisy(40, 0.5 + i * 0.1, 0.08, seed=i) for i in range(30)}
    series[("http", "GET api/users/{id}")] = noisy(40, 0.05, 0.3, seed=99)
    found = detect(frame(series))
    assert found.empty, found[["name", "rule", "evidence"]].to_string()


def test_a_single_spike_in_history_does_not_hide_or_fake_a_regression():
    values = noisy(20, 1.0, 0.05, 3)
    values[10] = 9.0  # one slow run long ago, then back to normal
    assert detect(frame({("test", "t"): values + [1.02]})).empty


def test_gradual_creep_is_caught_by_the_change_point_rule():
    rng = np.random.default_rng(7)
    creep = list(1.0 + np.linspace(0, 0.8, 30) + rng.normal(0, 0.03, 30))  # +80% over 30 runs, no jump
    found = detect(frame({("step", "Login step"): noisy(15, 1.0, 0.03, 5) + creep}))
    rules = set(found["rule"])
    assert "change_point" in rules and "ratio" not in rules, "no single run stands out"
    cp = found[found["rule"] == "change_point"].iloc[0]
    assert cp["value"] > cp["baseline"] * 1.2 and "mean rose from" in cp["evidence"]


def test_improvements_are_not_regressions():
    assert detect(frame({("test", "t"): [2.0] * 15 + [0.5] * 10})).empty


def test_runs_with_many_calls_use_the_median_and_environments_stay_apart():
    main = frame({("http", "GET api/cart"): [0.1] * 12 + [3.0]}, env="shop/main", per_run=5)
    other = frame({("http", "GET api/cart"): [0.1] * 13}, env="shop/feature", per_run=5)
    spans = pd.concat([main, other], ignore_index=True)
    series = run_series(spans)
    assert len(series) == 26 and set(series["spans"]) == {5}
    found = detect(spans)
    assert set(found["environment"]) == {"shop/main"}


def test_baselines_have_median_mad_and_p95():
    spans = frame({("test", "t"): [1.0, 1.2, 0.8, 1.1, 0.9], ("driver_command", "click"): [0.05] * 5}, per_run=2)
    base = baselines(spans).set_index("name")
    t = base.loc["t"]
    assert t["runs"] == 5 and t["spans"] == 10 and t["median"] == pytest.approx(1.0)
    assert t["mad"] == pytest.approx(0.1) and t["p95"] == pytest.approx(1.2 - 0.02, abs=0.03)
    assert t["last_value"] == pytest.approx(0.9) and t["last_run"] == "run004"
    assert base.loc["click"]["mad"] == 0
    assert baselines(spans, Rules(window_runs=2)).set_index("name").loc["t"]["runs"] == 2


def test_slowest_tables_by_p95():
    spans = frame({("http", "GET a"): [0.1, 0.2, 0.3], ("http", "GET b"): [1.0, 1.0, 5.0], ("test", "t"): [9.0] * 3})
    top = slowest(spans, ("http",))
    assert list(top["name"]) == ["GET b", "GET a"] and top.iloc[0]["calls"] == 3
    assert top.iloc[0]["p50"] == 1.0 and top.iloc[0]["p95"] > 4
    assert slowest(spans, ("driver_command",)).empty


def test_empty_frames():
    empty = pd.DataFrame(columns=["kind", "name", "environment", "run_id", "start", "duration"])
    assert detect(empty).empty and baselines(empty).empty and slowest(empty, ("test",)).empty


def test_analytics_follow_ingestion_without_joining_the_ingest_job():
    import dagster as dg

    from crossbridge_assets.definitions import defs
    from crossbridge_assets.defs.profiling import AFTER_INGESTION

    graph = defs.resolve_asset_graph()
    for name in ("duration_baselines", "performance_regressions"):
        node = graph.get(dg.AssetKey(name))
        assert node.automation_condition == AFTER_INGESTION
        assert "crossbridge/ingest" not in node.tags and node.partitions_def is None
        assert node.group_name == "profiling"
    events = graph.get(dg.AssetKey("profiling_events"))
    assert events.tags.get("crossbridge/ingest") == "true" and "influxdb" in events.kinds
    ingest = defs.resolve_job_def("ingest")
    assert dg.AssetKey("profiling_events") in ingest.asset_layer.selected_asset_keys
    assert dg.AssetKey("duration_baselines") not in ingest.asset_layer.selected_asset_keys
