"""End to end on SQLite and PostgreSQL: the real pytest plugin writes an event file, the inbox
sensor and the ingest job load it, the analytics assets and checks read it; with a real influxd
the spans arrive in InfluxDB."""

import os
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

from crossbridge_assets_tests.influx_helpers import influxd  # noqa: F401
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
