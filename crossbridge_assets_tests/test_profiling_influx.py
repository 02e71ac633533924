"""Delivery to a real InfluxDB 1.x (Debian's influxd, started by influx_helpers.influxd): write and
read back, an outage in the middle of a delivery, the v2 client path through a loopback shim,
and the Dagster delivery asset and its checks."""

import threading
import time
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
from sqlalchemy import update

from crossbridge_assets.delivery import influx
from crossbridge_assets.delivery.outbox import backlog, drain
from crossbridge_assets.formats import open_report
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.profiling import load_profile

from crossbridge_assets_tests.influx_helpers import influxd, land, v2_shim, write_events  # noqa: F401

pytestmark = pytest.mark.influx

T0 = 1_790_000_000.0


def many_spans(n: int) -> list[dict]:
    kinds = ("test", "call", "http", "driver_command")
    # Many spans share one series and microsecond (same kind, name and start): only the
    # timestamp's nanosecond digits keep them apart.
    return [dict(kind=kinds[i % 4], name=f"span {i % 50}", start=T0 + (i // 200) * 0.001, duration=0.001 * (i % 97),
                 status="passed", span_id=f"s{i:07d}") for i in range(n)]


def loaded(settings, tmp_path, n: int):
    report = land(settings, write_events(tmp_path / "out", many_spans(n), env={"CROSSBRIDGE_PROJECT": "shop",
                                                                                "CROSSBRIDGE_BRANCH": "main"}))
    engine = make_engine(settings.warehouse_url)
    load_profile(engine, report, open_report(report.archive_path))
    return engine


def counts(server, db) -> tuple[int, int]:
    total = server.rows("SELECT count(duration_ms) FROM crossbridge_span", db)
    distinct = server.rows("SELECT count(distinct(span_key)) FROM crossbridge_span", db)
    return (total[0][1] if total else 0), (distinct[0][1] if distinct else 0)


def test_write_and_read_back(influxd, crossbridge_env, tmp_path):
    db = influxd.create_database()
    engine = loaded(crossbridge_env, tmp_path, 1000)
    client = influx.make_client(influx.load_config(influxd.env(db)))
    result = drain(engine, client, batch_size=300)
    assert result.delivered == 1000 and result.error is None and result.requests == 4
    assert counts(influxd, db) == (1000, 1000)
    row = influxd.query('SELECT * FROM crossbridge_span WHERE span_id = \'s0000005\'', db)["results"][0]["series"][0]
    point = dict(zip(row["columns"], row["values"][0]))
    assert point["kind"] == "call" and point["span_name"] == "span 5" and point["project"] == "shop"
    assert point["branch"] == "main" and point["status"] == "passed" and point["framework"] == "pytest"
    assert abs(point["duration_ms"] - 5.0) < 1e-9 and point["span_key"].endswith(":5")
    info = client.ping()
    assert info["api"] == "v1" and info["version"].startswith("1.")
    assert backlog(engine).pending == 0 and backlog(engine).delivered == 1000

    # Sent again (a crash between the acknowledgement and the mark): overwritten, not duplicated.
    with engine.begin() as conn:
        conn.execute(update(schema.profile_outbox).values(delivered_at=None))
    assert drain(engine, client).delivered == 1000
    assert counts(influxd, db) == (1000, 1000)
    client.close()


def stop_mid_delivery(influxd, engine, client, n: int):
    """Drain in a thread and stop influxd once 2,000 of the n spans are in: requests in flight
    fail, later ones are refused. Returns the drain's result (the caller starts influxd again)."""
    outcome = {}

    def deliver():
        outcome["first"] = drain(engine, client, batch_size=200, retries=2, base_delay=0.2)

    worker = threading.Thread(target=deliver)
    worker.start()
    deadline = time.time() + 60
    while backlog(engine).delivered < 2000 and time.time() < deadline:
        time.sleep(0.01)
    influxd.stop()
    worker.join(60)
    first = outcome["first"]
    assert first.error and "not reachable" in first.error, first
    assert 0 < first.delivered < n
    return first


def test_influxd_stopped_mid_delivery_then_restarted_every_span_arrives_once(influxd, crossbridge_env, tmp_path):
    db = influxd.create_database()
    n = 30_000
    engine = loaded(crossbridge_env, tmp_path, n)
    client = influx.make_client(influx.load_config({**influxd.env(db), "CROSSBRIDGE_INFLUX_TIMEOUT": "3"}))
    try:
        first = stop_mid_delivery(influxd, engine, client, n)
        left = backlog(engine)
        assert left.pending == n - first.delivered and "not reachable" in left.last_error
        # Still down: the next drain delivers nothing and loses nothing.
        again = drain(engine, client, retries=0)
        assert again.delivered == 0 and backlog(engine).pending == left.pending
    finally:
        influxd.start()
    resumed = drain(engine, client)
    assert resumed.error is None and resumed.delivered == n - first.delivered
    assert backlog(engine).pending == 0
    assert counts(influxd, db) == (n, n)
    client.close()


def test_v2_client_path_through_a_loopback_shim(influxd, crossbridge_env, tmp_path):
    db = influxd.create_database()
    engine = loaded(crossbridge_env, tmp_path, 500)
    with v2_shim(influxd.url) as (url, seen):
        config = influx.load_config({"CROSSBRIDGE_INFLUX_URL": url, "CROSSBRIDGE_INFLUX_VERSION": "2",
                                     "CROSSBRIDGE_INFLUX_ORG": "qa", "CROSSBRIDGE_INFLUX_BUCKET": db,
                                     "CROSSBRIDGE_INFLUX_TOKEN": "secret-token"})
        client = influx.make_client(config)
        assert isinstance(client, influx.V2Client)
        result = drain(engine, client, batch_size=200)
        info = client.ping()
        client.close()
    assert result.delivered == 500 and result.error is None
    assert counts(influxd, db) == (500, 500)
    assert seen and {(s["org"], s["bucket"]) for s in seen} == {("qa", db)}
    assert all(s["auth"] == "Token secret-token" for s in seen)
    assert info["api"] == "v2"


def test_v2_client_errors_are_classified(crossbridge_env, tmp_path):
    from crossbridge_assets_tests.influx_helpers import free_port

    config = influx.load_config({"CROSSBRIDGE_INFLUX_URL": f"http://127.0.0.1:{free_port()}", "CROSSBRIDGE_INFLUX_ORG": "qa",
                                 "CROSSBRIDGE_INFLUX_TOKEN": "t", "CROSSBRIDGE_INFLUX_TIMEOUT": "2"})
    client = influx.make_client(config)
    with pytest.raises(influx.InfluxUnavailable, match="not reachable"):
        client.write(["m f=1 1"])
    client.close()


def test_missing_database_is_a_configuration_error(influxd):
    client = influx.make_client(influx.load_config(influxd.env("no_such_db")))
    with pytest.raises(influx.InfluxConfigError, match="CROSSBRIDGE_INFLUX_DB"):
        client.write(["m f=1 1"])
    with pytest.raises(influx.InfluxConfigError, match="no_such_db"):
        client.ping()
    client.close()


# ---------------------------------------------------------------- the Dagster layer


def _materialize(asset, instance):
    from crossbridge_assets.defs.common import WarehouseResource
    from crossbridge_assets.defs.profiling import influxdb_reachable, outbox_backlog

    return dg.materialize([asset, influxdb_reachable, outbox_backlog], instance=instance,
                          resources={"warehouse": WarehouseResource()}, raise_on_error=False)


def test_delivery_asset_and_checks_against_the_real_server(influxd, crossbridge_env, tmp_path, monkeypatch,
                                                           dagster_instance):
    from crossbridge_assets.defs.profiling import influxdb_delivery

    db = influxd.create_database()
    for key, value in influxd.env(db).items():
        monkeypatch.setenv(key, value)
    loaded(crossbridge_env, tmp_path, 2500)
    result = _materialize(influxdb_delivery, dagster_instance)
    assert result.success
    md = result.asset_materializations_for_node("influxdb_delivery")[0].metadata
    assert md["delivered"].value == 2500 and md["pending"].value == 0
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["influxdb_reachable"].passed and "1.6" in checks["influxdb_reachable"].description
    assert checks["outbox_backlog"].passed
    assert counts(influxd, db) == (2500, 2500)


def test_delivery_asset_when_influxdb_is_down_fails_for_a_retry_and_keeps_the_points(
        crossbridge_env, tmp_path, monkeypatch):
    from crossbridge_assets.defs.common import WarehouseResource
    from crossbridge_assets.defs.profiling import INFLUX_RETRY, influxdb_delivery, outbox_backlog
    from crossbridge_assets.delivery import outbox as outbox_mod
    from crossbridge_assets_tests.influx_helpers import free_port

    monkeypatch.setenv("CROSSBRIDGE_INFLUX_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CROSSBRIDGE_INFLUX_TIMEOUT", "1")
    monkeypatch.setattr(outbox_mod.time, "sleep", lambda s: None)
    engine = loaded(crossbridge_env, tmp_path, 50)
    # Called directly: one attempt; in a run the RetryPolicy repeats it with backoff.
    assert influxdb_delivery.op.retry_policy is INFLUX_RETRY and INFLUX_RETRY.backoff == dg.Backoff.EXPONENTIAL
    with pytest.raises(dg.Failure) as info:
        influxdb_delivery(dg.build_asset_context(), warehouse=WarehouseResource())
    assert info.value.allow_retries is not False
    assert "50 waiting in the outbox" in info.value.description and "not reachable" in info.value.description
    assert backlog(engine).pending == 50
    check = outbox_backlog(warehouse=WarehouseResource())
    assert check.passed, "fresh points are not a backlog yet"
    with engine.begin() as conn:
        conn.execute(update(schema.profile_outbox).values(created_at=datetime.now(timezone.utc) - timedelta(hours=2)))
    check = outbox_backlog(warehouse=WarehouseResource())
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert "50 point(s) waiting" in check.description and "not reachable" in check.description


def test_checks_when_influxdb_is_not_configured(crossbridge_env, monkeypatch, dagster_instance):
    from crossbridge_assets.defs.profiling import influxdb_delivery

    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    result = _materialize(influxdb_delivery, dagster_instance)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # Not configured is a choice, not a fault: it passes, saying so (doctor reads it the same way).
    reach = checks["influxdb_reachable"]
    assert reach.passed is True and "not configured" in reach.description
    assert reach.metadata["configured"].value == "no"
    assert checks["outbox_backlog"].passed and checks["outbox_backlog"].description == "the outbox is empty"


def test_outbox_sensor_requests_a_delivery_while_points_wait(crossbridge_env, tmp_path, monkeypatch, dagster_instance):
    from crossbridge_assets.defs.common import WarehouseResource
    from crossbridge_assets.defs.profiling import influxdb_outbox_sensor
    from crossbridge_assets_tests.influx_helpers import free_port

    def tick():
        with dg.build_sensor_context(instance=dagster_instance, resources={"warehouse": WarehouseResource()}) as ctx:
            return influxdb_outbox_sensor(ctx)

    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    assert "not configured" in tick().skip_message
    monkeypatch.setenv("CROSSBRIDGE_INFLUX_URL", f"http://127.0.0.1:{free_port()}")
    assert "empty" in tick().skip_message
    loaded(crossbridge_env, tmp_path, 10)
    request = tick()
    assert isinstance(request, dg.RunRequest) and request.tags == {"crossbridge/delivery": "influxdb"}


def test_after_an_outage_the_outbox_sensor_starts_the_run_that_finishes_the_delivery(
        influxd, crossbridge_env, tmp_path, monkeypatch, dagster_instance):
    """Delivery resumes by itself: influxd stops mid-delivery and comes back; nobody drains by
    hand, the sensor's tick requests a run and that run (the sensor's own job, the definitions'
    resources) delivers the rest, each span once."""
    from crossbridge_assets.definitions import defs
    from crossbridge_assets.defs.common import WarehouseResource
    from crossbridge_assets.defs.profiling import influxdb_outbox_sensor

    def tick():
        with dg.build_sensor_context(instance=dagster_instance, resources={"warehouse": WarehouseResource()}) as ctx:
            return influxdb_outbox_sensor(ctx)

    db = influxd.create_database()
    for key, value in influxd.env(db).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CROSSBRIDGE_INFLUX_TIMEOUT", "3")
    n = 30_000
    engine = loaded(crossbridge_env, tmp_path, n)
    client = influx.make_client(influx.load_config())
    try:
        first = stop_mid_delivery(influxd, engine, client, n)
        # While it is down the sensor keeps asking: points wait.
        assert isinstance(tick(), dg.RunRequest)
    finally:
        influxd.start()
        client.close()
    waiting = backlog(engine).pending
    assert waiting == n - first.delivered

    request = tick()
    assert isinstance(request, dg.RunRequest) and request.tags == {"crossbridge/delivery": "influxdb"}
    job = defs.resolve_job_def(influxdb_outbox_sensor.job_name)
    assert job.asset_layer.selected_asset_keys == {dg.AssetKey("influxdb_delivery")}
    result = job.execute_in_process(run_config=request.run_config, instance=dagster_instance, tags=request.tags)
    assert result.success
    md = result.asset_materializations_for_node("influxdb_delivery")[0].metadata
    assert md["delivered"].value == waiting and md["pending"].value == 0 and md["delivered_total"].value == n
    (run,) = dagster_instance.get_run_records(dg.RunsFilter(tags={"crossbridge/delivery": "influxdb"}))
    assert run.dagster_run.status == dg.DagsterRunStatus.SUCCESS

    assert backlog(engine).pending == 0 and backlog(engine).delivered == n
    assert counts(influxd, db) == (n, n)
    assert "the outbox is empty" in tick().skip_message, "nothing left: no further run is requested"


def test_influxdb_reachable_fails_while_influxd_is_stopped_and_recovers(influxd, monkeypatch):
    """The health check under the real condition: the server process stopped, then back."""
    from crossbridge_assets.delivery import health as delivery_health

    db = influxd.create_database()
    for key, value in influxd.env(db).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CROSSBRIDGE_INFLUX_TIMEOUT", "2")
    assert delivery_health.influxdb_reachable().passed
    influxd.stop()
    try:
        down = delivery_health.influxdb_reachable()
        assert down.passed is False and down.severity == "ERROR"
        assert "did not answer" in down.summary and "CROSSBRIDGE_INFLUX_" in down.what_to_do
    finally:
        influxd.start()
    assert delivery_health.influxdb_reachable().passed
