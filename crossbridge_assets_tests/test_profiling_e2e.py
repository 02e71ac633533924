"""End to end on SQLite and PostgreSQL: the real pytest plugin writes an event file, the inbox
sensor and the ingest job load it, the analytics assets and checks read it; with a real influxd
the spans arrive in InfluxDB."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine

from crossbridge_assets_tests.influx_helpers import influxd, write_events  # noqa: F401
from crossbridge_assets_tests.test_ingest_e2e import execute, run_requests_until_ready

SUITE = '''
import time
import pytest

def test_fast():
    assert 1 + 1 == 2

def test_slow():
    time.sleep(0.05)

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n

def test_fails():
    assert False, "expected failure"
'''


def run_suite(tmp_path: Path, target: Path) -> list[Path]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_tiny.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSBRIDGE_", "PYTEST_"))}
    env.update(CROSSBRIDGE_PROJECT="shop", CROSSBRIDGE_BRANCH="main", CROSSBRIDGE_BUILD="42")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--crossbridge={target}", str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # test_fails fails, on purpose
    files = sorted(target.glob("*.jsonl"))
    assert len(files) == 1, done.stdout
    old = time.time() - 60  # settled
    os.utime(files[0], (old, old))
    return files


def ingest(settings, instance, tmp_path):
    run_suite(tmp_path, settings.inbox)
    _, tick = run_requests_until_ready(instance)
    assert len(tick.run_requests) == 1
    return execute(instance, tick.run_requests[0])


def test_event_file_from_the_pytest_plugin_is_ingested(crossbridge_env, dagster_instance, tmp_path, monkeypatch):
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    result = ingest(s, dagster_instance, tmp_path)
    engine = make_engine(s.warehouse_url)
    E = schema.profile_events
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(E.c.kind, func.count()).group_by(E.c.kind)).all())
        report = conn.execute(select(schema.reports)).one()
        failed = conn.execute(select(E.c.name).where(E.c.kind == "test", E.c.status == "failed")).scalars().all()
        outbox = conn.execute(select(func.count()).select_from(schema.profile_outbox)).scalar_one()
    assert kinds["test"] == 5 and kinds["session"] == 1
    assert kinds["setup"] == kinds["call"] == kinds["teardown"] == 5
    assert (report.kind, report.project, report.branch, report.build) == ("profiling", "shop", "main", "42")
    assert failed == ["test_tiny.py::test_fails"]
    assert outbox == 0, "nothing is queued while InfluxDB is not configured"

    md = result.asset_materializations_for_node("profiling_events")[0].metadata
    assert md["spans_written"].value == 21 and md["dagster/row_count"].value == 21
    assert md["spans_test"].value == 5 and md["reports_quarantined"].value == 0
    assert "test_slow" in md["slowest_spans"].value and "| test |" in md["spans_by_kind"].value
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("profiling_events", "parse_errors")].passed
    assert checks[("profiling_events", "unfinished_sessions")].passed

    # The analytics read what was ingested.
    analytics = dg.materialize(
        [a for a in defs.assets if getattr(a, "key", None) in (dg.AssetKey("duration_baselines"),
                                                               dg.AssetKey("performance_regressions"))],
        instance=dagster_instance, resources={"warehouse": WarehouseResource()},
    )
    assert analytics.success
    base = analytics.asset_materializations_for_node("duration_baselines")[0].metadata
    assert "test_slow" in base["slowest_tests"].value and base["tests_p95_seconds"].value > 0
    assert base["dagster/row_count"].value > 0
    regress = analytics.asset_materializations_for_node("performance_regressions")[0].metadata
    assert regress["regressions"].value == 0, "one run is no history to regress from"


def test_a_broken_event_file_is_quarantined_and_the_rest_loaded(crossbridge_env, dagster_instance, tmp_path,
                                                                 monkeypatch):
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    files = run_suite(tmp_path, s.inbox)
    good = files[0]
    lines = good.read_text().splitlines(keepends=True)
    broken = good.with_name("broken.jsonl")
    broken.write_text("".join(lines[:3] + ["{not json at all\n"] + lines[3:]))
    old = time.time() - 60
    os.utime(broken, (old, old))
    _, tick = run_requests_until_ready(dagster_instance)
    result = execute(dagster_instance, tick.run_requests[0])
    md = result.asset_materializations_for_node("profiling_events")[0].metadata
    assert md["reports_loaded"].value == 1 and md["reports_quarantined"].value == 1
    assert "broken.jsonl" in md["quarantined_files"].value
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    check = checks[("profiling_events", "parse_errors")]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert "broken.jsonl" in check.description and "line 4" in check.description


@pytest.mark.influx
def test_ingested_spans_reach_influxdb(influxd, crossbridge_env, dagster_instance, tmp_path, monkeypatch):
    db = influxd.create_database()
    for key, value in influxd.env(db).items():
        monkeypatch.setenv(key, value)
    ingest(crossbridge_env, dagster_instance, tmp_path)
    delivery = dg.materialize(
        [a for a in defs.assets if getattr(a, "key", None) == dg.AssetKey("influxdb_delivery")],
        instance=dagster_instance, resources={"warehouse": WarehouseResource()},
    )
    assert delivery.success
    assert delivery.asset_materializations_for_node("influxdb_delivery")[0].metadata["delivered"].value == 21
    total = influxd.rows("SELECT count(duration_ms) FROM crossbridge_span", db)[0][1]
    tests = influxd.rows("SELECT count(duration_ms) FROM crossbridge_span WHERE kind = 'test'", db)[0][1]
    assert (total, tests) == (21, 5)
    failed = influxd.rows("SELECT span_name, duration_ms FROM crossbridge_span WHERE kind = 'test' AND status = 'failed'", db)
    assert [r[1] for r in failed] == ["test_tiny.py::test_fails"]


def test_analytics_are_requested_after_an_ingestion(crossbridge_env, dagster_instance, tmp_path, monkeypatch):
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    first = dg.evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    ingest(crossbridge_env, dagster_instance, tmp_path)
    after = dg.evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    requested = {r.key.to_user_string() for r in after.results if r.true_subset.size}
    assert {"duration_baselines", "performance_regressions"} <= requested
    again = dg.evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=after.cursor)
    assert not {"duration_baselines", "performance_regressions"} & {
        r.key.to_user_string() for r in again.results if r.true_subset.size}


# ---------------------------------------------------------------- analytics over several runs


def ingest_runs(settings, instance, runs: dict[int, list[dict]]) -> None:
    """One event file per CI build (its number: a run of its own), written by the real writer into
    the inbox, then the inbox sensor and the ingest job load them."""
    for build, spans in runs.items():
        path = write_events(settings.inbox, spans, env={"CROSSBRIDGE_PROJECT": "shop", "CROSSBRIDGE_BRANCH": "main",
                                                        "CROSSBRIDGE_BUILD": str(build)})
        old = time.time() - 60  # settled
        os.utime(path, (old, old))
    _, tick = run_requests_until_ready(instance)
    assert tick.run_requests, "the inbox sensor saw no event file"
    for request in tick.run_requests:
        md = execute(instance, request).asset_materializations_for_node("profiling_events")[0].metadata
        assert md["reports_loaded"].value == len(runs) and md["reports_quarantined"].value == 0


def analytics(instance, *with_checks):
    from crossbridge_assets.defs.profiling import duration_baselines, performance_regressions

    result = dg.materialize([duration_baselines, performance_regressions, *with_checks], instance=instance,
                            resources={"warehouse": WarehouseResource()})
    assert result.success
    return result


def run_id_of_build(settings, build: int) -> str:
    R = schema.reports
    with make_engine(settings.warehouse_url).connect() as conn:
        return conn.execute(select(R.c.run_id).where(R.c.kind == "profiling", R.c.build == str(build))).scalar_one()


def test_a_clear_slowdown_fails_the_regression_check_with_evidence(crossbridge_env, dagster_instance, monkeypatch):
    from crossbridge_assets.defs.profiling import performance_regressions_check

    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    t0 = time.time() - 3 * 86400  # inside the analytics' 30-day window
    checkout, browse = "tests/test_cart.py::test_checkout", "tests/test_cart.py::test_browse"

    def run(build: int, checkout_seconds: float) -> list[dict]:
        start = t0 + build * 600
        return [dict(kind="test", name=checkout, start=start, duration=checkout_seconds, status="passed"),
                dict(kind="test", name=browse, start=start + 2, duration=0.2, status="passed")]

    def check_of(result) -> dg.AssetCheckEvaluation:
        (evaluation,) = [e for e in result.get_asset_check_evaluations()
                         if e.check_name == "no_performance_regressions"]
        assert evaluation.asset_key == dg.AssetKey("performance_regressions")
        return evaluation

    # Five steady runs: history, and no regression.
    ingest_runs(s, dagster_instance, {b: run(b, v) for b, v in enumerate([0.10, 0.11, 0.09, 0.10, 0.10], start=1)})
    steady = check_of(analytics(dagster_instance, performance_regressions_check))
    assert steady.passed is True and steady.description == "no regression in the latest runs"
    assert steady.metadata["regressions"].value == 0

    # The sixth run: test_checkout takes 1.2 s, 12x its usual 100 ms and 1.1 s longer.
    ingest_runs(s, dagster_instance, {6: run(6, 1.2)})
    result = analytics(dagster_instance, performance_regressions_check)
    found = result.asset_materializations_for_node("performance_regressions")[0].metadata
    assert found["regressions"].value == 1 and found["by_ratio"].value == 1
    slow = check_of(result)
    assert slow.passed is False and slow.severity == dg.AssetCheckSeverity.WARN
    assert slow.metadata["regressions"].value == 1
    assert slow.description.startswith("1 span(s) got slower: ")
    assert f"{checkout} (ratio)" in slow.description and browse not in slow.description
    slow_run = run_id_of_build(s, 6)
    assert f"1.200s in run {slow_run} is 12.0x the mean of the 5 runs before (0.100s)" in slow.description
    assert "above their max (0.110s)" in slow.description
    evidence = slow.metadata["evidence"].value
    assert f"| test | {checkout} | shop/main | ratio | 1.200s in run {slow_run}" in evidence
    assert browse not in evidence

    # Back to normal in the seventh run: the latest run no longer regressed and the check passes again.
    ingest_runs(s, dagster_instance, {7: run(7, 0.1)})
    recovered = check_of(analytics(dagster_instance, performance_regressions_check))
    assert recovered.passed is True and recovered.metadata["regressions"].value == 0


def p95(values: list[float]) -> float:
    """Linear interpolation between closest ranks (what pandas and numpy do by default)."""
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def md_rows(table: str) -> list[dict]:
    lines = table.strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert set(lines[1]) <= {"|", "-"}, table
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]


def test_slowest_steps_endpoints_and_webdriver_commands_with_p50_and_p95(crossbridge_env, dagster_instance,
                                                                         monkeypatch):
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    t0 = time.time() - 2 * 86400
    # (kind, name) -> the durations of its spans in each of three runs.
    plan: dict[tuple[str, str], list[list[float]]] = {
        ("step", "When the user pays"): [[2.0], [2.5], [3.0]],
        ("step", "Given the cart has 3 items"): [[0.8], [1.0], [1.2]],
        ("step", "Then the receipt is shown"): [[0.3], [0.35], [0.4]],
        ("keyword", "Open Browser"): [[1.5], [1.6], [1.4]],
        # payments: the lower median, but by far the worst p95
        ("http", "POST shop.test/api/payments"): [[0.3], [0.35], [4.0]],
        ("http", "GET shop.test/api/search"): [[0.6, 0.6], [0.6], [0.6]],
        ("http", "GET shop.test/api/cart/{id}"): [[0.05, 0.06, 0.07, 0.3], [0.05, 0.06, 0.08, 0.4],
                                                  [0.05, 0.07, 0.08, 0.5]],
        ("navigation", "navigate_to shop.test/checkout"): [[1.8], [2.2], [2.0]],
        ("driver_command", "click"): [[0.1], [0.12], [0.15]],
        ("driver_command", "findElement"): [[0.02, 0.03, 0.04], [0.02, 0.05, 0.03], [0.06, 0.02, 0.03]],
        ("test", "tests/test_checkout.py::test_pay"): [[9.0], [9.5], [8.5]],  # a test, in none of the three
    }
    runs: dict[int, list[dict]] = {}
    for build in (1, 2, 3):
        start = t0 + build * 3600
        runs[build] = [dict(kind=kind, name=name, start=start + i, duration=d,
                            status={"http": "200", "driver_command": "ok", "navigation": "ok"}.get(kind, "passed"))
                       for (kind, name), per_run in plan.items() for i, d in enumerate(per_run[build - 1])]
    ingest_runs(s, dagster_instance, runs)
    md = analytics(dagster_instance).asset_materializations_for_node("duration_baselines")[0].metadata
    assert md["dagster/row_count"].value == len(plan) and md["spans_in_window"].value == sum(
        len(d) for per_run in plan.values() for d in per_run)

    def durations(kinds) -> dict[tuple[str, str], list[float]]:
        return {key: [d for run in per_run for d in run] for key, per_run in plan.items() if key[0] in kinds}

    for category, kinds, expected_order in [
        ("steps", ("step", "keyword"),
         ["When the user pays", "Open Browser", "Given the cart has 3 items", "Then the receipt is shown"]),
        ("endpoints", ("http",),
         ["POST shop.test/api/payments", "GET shop.test/api/search", "GET shop.test/api/cart/{id}"]),
        ("webdriver_commands", ("driver_command", "navigation"),
         ["navigate_to shop.test/checkout", "click", "findElement"]),
    ]:
        series = durations(kinds)
        rows = md_rows(md[f"slowest_{category}"].value)
        assert [r["name"] for r in rows] == expected_order, category
        assert "tests/test_checkout.py::test_pay" not in md[f"slowest_{category}"].value
        for row in rows:
            values = series[(row["kind"], row["name"])]
            assert row["environment"] == "shop/main" and int(row["calls"]) == len(values)
            assert float(row["p50"]) == pytest.approx(statistics.median(values), abs=5e-4), row
            assert float(row["p95"]) == pytest.approx(p95(values), abs=5e-4), row
            assert float(row["max"]) == pytest.approx(max(values), abs=5e-4), row
        everything = [d for values in series.values() for d in values]
        assert md[f"{category}_p50_seconds"].value == pytest.approx(statistics.median(everything), abs=6e-5)
        assert md[f"{category}_p95_seconds"].value == pytest.approx(p95(everything), abs=6e-5)
    # The expected order really is by p95: payments has the lower median of the first two endpoints.
    assert statistics.median([0.3, 0.35, 4.0]) < statistics.median([0.6] * 4)
    assert md["tests_p95_seconds"].value == pytest.approx(p95([9.0, 9.5, 8.5]), abs=6e-5)

    # The baselines table holds the same figures per series.
    B = schema.profile_baselines
    with make_engine(s.warehouse_url).connect() as conn:
        pay = conn.execute(select(B).where(B.c.name == "POST shop.test/api/payments")).one()
    assert (pay.kind, pay.environment, pay.runs) == ("http", "shop/main", 3)
    assert pay.p50 == pytest.approx(0.35) and pay.p95 == pytest.approx(p95([0.3, 0.35, 4.0]))


def test_runs_that_failed_early_or_were_skipped_are_no_baseline_for_a_slowdown(crossbridge_env, dagster_instance,
                                                                              monkeypatch):
    """A test that failed at its first assertion in five runs (0.05 s each), and another skipped
    in them, then both pass in their usual second: nothing got slower. Their short spans say how
    they stopped, not how long the work takes; they used to make the baseline, and the passing
    run read as 20x slower."""
    from crossbridge_assets.defs.profiling import performance_regressions_check

    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    t0 = time.time() - 3 * 86400
    broken, skipped = "tests/test_cart.py::test_checkout", "tests/test_cart.py::test_refund"

    def run(build: int, status_broken: str, status_skipped: str, seconds: float) -> list[dict]:
        start = t0 + build * 600
        return [dict(kind="test", name=broken, start=start, duration=seconds if status_broken == "passed" else 0.05,
                     status=status_broken),
                dict(kind="test", name=skipped, start=start + 2, duration=seconds if status_skipped == "passed" else 0.001,
                     status=status_skipped)]

    ingest_runs(s, dagster_instance, {b: run(b, "failed", "skipped", 1.0) for b in range(1, 6)})
    ingest_runs(s, dagster_instance, {6: run(6, "passed", "passed", 1.0)})
    result = analytics(dagster_instance, performance_regressions_check)
    found = result.asset_materializations_for_node("performance_regressions")[0].metadata
    assert found["regressions"].value == 0
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_performance_regressions"]
    assert check.passed is True
    baselines = result.asset_materializations_for_node("duration_baselines")[0].metadata
    assert baselines["untimed_spans_left_out"].value == 10 and baselines["spans_in_window"].value == 2
