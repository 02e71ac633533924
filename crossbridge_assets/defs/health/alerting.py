"""Alert sensors: asset checks that change to failed (and back), and failed runs, go to the
webhook in CROSSBRIDGE_ALERT_WEBHOOK_URL. Payloads and delivery are in crossbridge_assets/alerts.py."""


import json

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
)

from crossbridge_assets import alerts, ops_settings
from crossbridge_assets.log import get_logger

# Newest executions read per check and tick; bounds a tick after a large backfill.
HISTORY_PER_CHECK = 100
_DONE = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
OFF = "CROSSBRIDGE_ALERT_WEBHOOK_URL is not set: alerts are off"


def _state_key(asset: str, check: str, partition: str | None) -> str:
    return f"{asset}|{check}|{partition or ''}"


def check_partition(instance: dg.DagsterInstance, record, cache: dict) -> str | None:
    """The partition (arrival day) an asset check execution record is about, or None for an
    unpartitioned check. `cache` (run id -> partition) spares reading one run again."""
    if record.partition:
        return record.partition
    # Checks of a partitioned asset evaluated in a partitioned run: the run carries the day.
    if record.run_id not in cache:
        run = instance.get_run_by_id(record.run_id)
        cache[record.run_id] = run.tags.get("dagster/partition") if run else None
    return cache[record.run_id]


def read_partitions(instance: dg.DagsterInstance, records, cache: dict) -> None:
    """Fill `cache` (run id -> partition, as check_partition keeps it) for the runs of `records`
    in one query a hundred runs, rather than one query a run."""
    missing = sorted({r.run_id for r in records if not r.partition and r.run_id not in cache})
    for start in range(0, len(missing), 100):
        chunk = missing[start : start + 100]
        for run in instance.get_runs(filters=dg.RunsFilter(run_ids=chunk)):
            cache[run.run_id] = run.tags.get("dagster/partition")
        for run_id in chunk:
            cache.setdefault(run_id, None)


def _advance(instance: dg.DagsterInstance, floor: int, handled: set[int], history: list, over: dict) -> list:
    """[floor, ids above it dealt with] of one check after a tick: the floor moves up over the
    executions dealt with, and over those planned by a run that ended without running them,
    to the first one still to come (its run is going on, or its alert is to be sent again)."""
    for record in sorted(history, key=lambda r: r.id):
        if record.id <= floor:
            continue
        if record.id not in handled and (record.status in _DONE or not _run_over(instance, record.run_id, over)):
            break
        floor = record.id
    return [floor, sorted(i for i in handled if i > floor)]


def _run_over(instance: dg.DagsterInstance, run_id: str, cache: dict) -> bool:
    if run_id not in cache:
        run = instance.get_run_by_id(run_id)
        cache[run_id] = run is None or run.is_finished
    return cache[run_id]


@dg.sensor(
    name="check_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts to the alert webhook when an asset check starts failing, and once more when it passes "
    "again (one message per change, not per tick). Off while CROSSBRIDGE_ALERT_WEBHOOK_URL is empty.",
)
def check_alerts(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    ops = ops_settings.load()
    if not ops.webhook_url:
        return dg.SkipReason(OFF)
    log = get_logger("orchestration")
    cursor = json.loads(context.cursor) if context.cursor else {}
    failing: dict[str, str] = dict(cursor.get("failing", {}))  # state key -> severity; passing is the default
    # Per check: every execution up to `floor` is dealt with, and so are the ids listed above it.
    # Not one mark over all checks: executions are numbered when their run is created, and a run
    # created earlier (queued, or slower) finishes its checks after a later run's.
    legacy = int(cursor.get("after", 0))  # cursors written before, one mark for every check
    seen = cursor.get("seen", {})

    storage = context.instance.event_log_storage
    windows: dict[str, tuple[int, set[int], list]] = {}
    records = []
    for key in sorted(context.repository_def.asset_graph.asset_check_keys, key=lambda k: k.to_user_string()):
        name = key.to_user_string()
        floor, handled = seen.get(name, (legacy, []))
        history = storage.get_asset_check_execution_history(key, limit=HISTORY_PER_CHECK)
        windows[name] = (int(floor), set(handled), history)
        records += [r for r in history if r.id > floor and r.id not in handled and r.status in _DONE]
    # In the order the checks finished: the latest word on a check is the one that came last.
    records.sort(key=lambda r: (r.event.timestamp if r.event else 0.0, r.id))

    sent = undelivered = 0
    runs: dict = {}
    for record in records:
        name = record.key.to_user_string()
        evaluation = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
        if evaluation is None:
            windows[name][1].add(record.id)
            continue
        asset_key = record.key.asset_key.path
        partition = check_partition(context.instance, record, runs)
        state = _state_key("/".join(asset_key), record.key.name, partition)
        passed = record.status == AssetCheckExecutionRecordStatus.SUCCEEDED
        if passed == (state not in failing):
            windows[name][1].add(record.id)  # no change of state: nothing to say
            continue
        severity = evaluation.severity.value if evaluation.severity else "ERROR"
        what = evaluation.metadata.get("what_to_do")
        payload = alerts.check_payload(
            alerts.CHECK_RECOVERED if passed else alerts.CHECK_FAILED,
            record.key.name,
            asset_key,
            partition,
            failing.get(state, severity) if passed else severity,
            evaluation.description,
            ops.ui_url,
            run_id=record.run_id,
            what_to_do=what.value if what is not None else None,
        )
        delivery = alerts.post_json(ops.webhook_url, payload)
        if not delivery.ok:
            # Leave it and what follows unhandled: the next tick sends it again rather than losing the change.
            undelivered += 1
            log.warning("alert not delivered", check=record.key.name, attempts=delivery.attempts, error=delivery.error)
            break
        sent += 1
        if passed:
            failing.pop(state, None)
        else:
            failing[state] = severity
        windows[name][1].add(record.id)
    over: dict = {}
    new_seen = {name: _advance(context.instance, floor, handled, history, over)
                for name, (floor, handled, history) in windows.items()}
    new_cursor = json.dumps({"failing": failing, "seen": new_seen}, sort_keys=True)
    if undelivered:
        return dg.SensorResult(skip_reason=f"webhook did not accept the alert; retried next tick ({sent} sent)", cursor=new_cursor)
    return dg.SensorResult(
        skip_reason=f"{sent} alert(s) sent" if sent else "no check changed state", cursor=new_cursor
    )


@dg.run_failure_sensor(
    name="run_failure_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts to the alert webhook when a run fails (ingestion, health checks, retention...). "
    "Off while CROSSBRIDGE_ALERT_WEBHOOK_URL is empty.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
    ops = ops_settings.load()
    if not ops.webhook_url:
        return
    run = context.dagster_run
    payload = alerts.run_failure_payload(
        run.job_name, run.run_id, run.tags.get("dagster/partition"), context.failure_event.message, ops.ui_url
    )
    delivery = alerts.post_json(ops.webhook_url, payload)
    if not delivery.ok:
        # A failed tick is evaluated again for the same run on the next tick.
        raise RuntimeError(f"alert for run {run.run_id} not delivered after {delivery.attempts} attempt(s): {delivery.error}")
