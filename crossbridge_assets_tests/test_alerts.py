"""Alerts against a real HTTP receiver on 127.0.0.1: one message when a check starts failing, none
while it stays failed, one when it recovers; a receiver that fails twice gets exactly one delivery;
failed runs are reported with a link to the run."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from crossbridge_assets import alerts
from crossbridge_assets.defs.health.alerting import OFF, check_alerts, run_failure_alerts


class Receiver:
    """A webhook endpoint: answers 500 to the first `fail_first` requests, then 200."""

    def __init__(self, fail_first: int = 0, status_when_failing: int = 500):
        self.fail_first = fail_first
        self.status_when_failing = status_when_failing
        self.requests = 0
        self.delivered: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.requests <= receiver.fail_first:
                    self.send_response(receiver.status_when_failing)
                    self.end_headers()
                    return
                receiver.delivered.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# ---------------------------------------------------------------- the sender


def test_sender_retries_until_accepted_and_delivers_once():
    r = Receiver(fail_first=2)
    try:
        delivery = alerts.post_json(r.url, {"text": "hello"}, backoff=0.01)
    finally:
        r.close()
    assert delivery.ok and delivery.attempts == 3 and delivery.status == 200
    assert r.requests == 3 and r.delivered == [{"text": "hello"}]


def test_sender_is_bounded_and_does_not_retry_a_rejected_request():
    r = Receiver(fail_first=100)
    try:
        gave_up = alerts.post_json(r.url, {"text": "x"}, attempts=3, backoff=0.01)
        assert not gave_up.ok and gave_up.attempts == 3 and r.requests == 3 and gave_up.status == 500
        r.requests, r.status_when_failing = 0, 404
        rejected = alerts.post_json(r.url, {"text": "x"}, attempts=3, backoff=0.01)
        assert not rejected.ok and rejected.attempts == 1 and r.requests == 1
    finally:
        r.close()
    refused = alerts.post_json("http://127.0.0.1:9/nothing-listens", {"text": "x"}, attempts=2, backoff=0.01, timeout=1)
    assert not refused.ok and refused.attempts == 2 and "URLError" in refused.error


# ---------------------------------------------------------------- check alerts

GAUGE = {"ok": False}
days = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@dg.asset(partitions_def=days)
def gauge() -> None:
    return None


@dg.asset_check(asset=gauge, description="the gauge reads fine")
def gauge_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=GAUGE["ok"],
        severity=dg.AssetCheckSeverity.ERROR,
        description="gauge fine" if GAUGE["ok"] else "gauge reads 42, limit 10",
        metadata={"what_to_do": "turn the gauge down"},
    )


ALERT_DEFS = dg.Definitions(
    assets=[gauge], asset_checks=[gauge_ok], jobs=[dg.define_asset_job("gauge_job", selection=[gauge])],
    sensors=[check_alerts],
)


def _materialize(instance, ok: bool) -> None:
    GAUGE["ok"] = ok
    result = ALERT_DEFS.resolve_job_def("gauge_job").execute_in_process(instance=instance, partition_key="2026-03-01")
    assert result.success


def _tick(instance, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=ALERT_DEFS) as context:
        result = check_alerts(context)
    return result


def test_check_alert_once_per_state_change_then_recovery(monkeypatch, dagster_instance):
    r = Receiver(fail_first=2)  # the first alert needs three attempts
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", r.url)
    monkeypatch.setenv("CROSSBRIDGE_UI_URL", "http://dagster.example:3000/")
    try:
        _materialize(dagster_instance, ok=False)
        first = _tick(dagster_instance, None)
        assert r.requests == 3 and len(r.delivered) == 1
        alert = r.delivered[0]
        assert alert["event"] == "check_failed" and alert["check"] == "gauge_ok" and alert["asset"] == "gauge"
        assert alert["partition"] == "2026-03-01" and alert["severity"] == "ERROR"
        assert alert["description"] == "gauge reads 42, limit 10" and alert["what_to_do"] == "turn the gauge down"
        assert alert["link"] == "http://dagster.example:3000/assets/gauge?view=checks&checkDetail=gauge_ok"
        assert "gauge_ok" in alert["text"] and alert["link"] in alert["text"]

        # The next tick, and another failing evaluation: still one message.
        second = _tick(dagster_instance, first.cursor)
        _materialize(dagster_instance, ok=False)
        third = _tick(dagster_instance, second.cursor)
        assert len(r.delivered) == 1 and r.requests == 3

        _materialize(dagster_instance, ok=True)
        fourth = _tick(dagster_instance, third.cursor)
        assert len(r.delivered) == 2
        recovery = r.delivered[1]
        assert recovery["event"] == "check_recovered" and recovery["check"] == "gauge_ok"
        assert recovery["partition"] == "2026-03-01" and "passes again" in recovery["text"]
        assert _tick(dagster_instance, fourth.cursor) and len(r.delivered) == 2
    finally:
        r.close()


def test_undelivered_alert_is_sent_on_a_later_tick(monkeypatch, dagster_instance):
    r = Receiver(fail_first=100)
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", r.url)
    monkeypatch.setattr(alerts, "ATTEMPTS", 2)
    monkeypatch.setattr(alerts, "BACKOFF", 0.01)
    try:
        _materialize(dagster_instance, ok=False)
        first = _tick(dagster_instance, None)
        assert r.delivered == [] and r.requests == 2
        r.fail_first = 0
        _tick(dagster_instance, first.cursor)
        assert [a["event"] for a in r.delivered] == ["check_failed"]
    finally:
        r.close()


def test_alerts_off_without_a_webhook(monkeypatch, dagster_instance):
    monkeypatch.delenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", raising=False)
    result = _tick(dagster_instance, None)
    assert isinstance(result, dg.SkipReason) and result.skip_message == OFF


# ---------------------------------------------------------------- failed runs


@dg.op
def explode() -> None:
    raise RuntimeError("the warehouse disk is full")


@dg.job
def doomed():
    explode()


def test_run_failure_alert(receiver, monkeypatch, dagster_instance):
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", receiver.url)
    result = doomed.execute_in_process(instance=dagster_instance, raise_on_error=False, tags={"dagster/partition": "2026-03-02"})
    assert not result.success
    run = dagster_instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts", dagster_event=failure, dagster_instance=dagster_instance, dagster_run=run
    ).for_run_failure()
    run_failure_alerts(context)
    assert len(receiver.delivered) == 1
    alert = receiver.delivered[0]
    assert alert["event"] == "run_failed" and alert["job"] == "doomed" and alert["run_id"] == result.run_id
    assert alert["partition"] == "2026-03-02" and alert["severity"] == "ERROR"
    assert alert["link"] == f"http://127.0.0.1:3000/runs/{result.run_id}"
    assert "doomed" in alert["text"]
