"""Loading again the reports that landed but were never loaded.

A warehouse fault (its disk full, the database down past the step's retries) fails the load and
leaves the report landed: archived, counted by its run, but with no rows. The `reload_sensor`
asks for the load of its batch again, without the landing step, once no run of that batch is
queued or running, and again later with a growing wait while the fault lasts, so that a
warehouse back on its feet catches up by itself instead of waiting for somebody to re-execute
the failed runs. Loading is idempotent: reports of the batch that did load are loaded again to
the same rows."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import dagster as dg

from crossbridge_assets.defs.common import BATCH_TAG, INGEST_TAG, NOT_FINISHED, WarehouseResource
from crossbridge_assets.defs.landing.inbox import doubling_wait
from crossbridge_assets.warehouse.engine import is_storage_fault
from crossbridge_assets.warehouse.queries import unloaded_batches

# A report this young may still be loading in a run that did not start as Dagster's (or whose
# run record is not written yet): it is left to it.
SETTLE = timedelta(minutes=15)
# The wait after an attempt doubles from this, up to MAX_WAIT, while the load keeps failing.
FIRST_WAIT = 15 * 60
MAX_WAIT = 6 * 3600
# After a long outage many batches wait: at most this many runs are asked for at one tick (the
# rest at the next ones), so that the queue takes new reports between them.
MAX_PER_TICK = 20
RELOAD_TAG = "crossbridge/reload"
# What a whole-day load (materialized or backfilled from the UI) records as its batch: none.
WHOLE_DAY = ""


@dataclass(frozen=True)
class Reload:
    partition: str
    batch: str  # WHOLE_DAY: the day's landed reports
    reports: int
    attempt: int

    @property
    def run_key(self) -> str:
        return f"reload:{self.partition}:{self.batch or 'day'}:{self.attempt}"

    @property
    def tags(self) -> dict[str, str]:
        tags = {RELOAD_TAG: str(self.attempt)}
        if self.batch:
            tags[BATCH_TAG] = self.batch
        return tags


def wait_after(attempt: int) -> float:
    """Seconds to wait after the given attempt (1: the first) before the next one."""
    return doubling_wait(FIRST_WAIT, MAX_WAIT, attempt - 1)


def plan(unloaded: list, cursor: dict, busy: set[tuple[str, str]], now: float) -> tuple[list[Reload], dict]:
    """Which batches to load again now, and the cursor after it. `unloaded` holds (partition,
    batch, reports) rows; `busy` the (partition, batch) pairs a queued or running run may still
    load; the cursor keeps, per batch, the last attempt and when it was asked for. A batch that
    no longer has an unloaded report leaves the cursor."""
    asked: dict[str, list] = cursor.get("asked", {})
    reloads: list[Reload] = []
    kept: dict[str, list] = {}
    busy_days = {partition for partition, _ in busy}
    for partition, batch, reports in unloaded:
        batch = batch or WHOLE_DAY
        key = f"{partition}/{batch}"
        attempt, at = asked.get(key, [0, 0.0])
        kept[key] = [attempt, at]
        # A run of the whole day loads every batch of it; a reload of the whole day would load
        # what any run of that day is loading.
        if batch == WHOLE_DAY:
            running = partition in busy_days
        else:
            running = (partition, batch) in busy or (partition, WHOLE_DAY) in busy
        if running or (attempt and now - at < wait_after(attempt)) or len(reloads) >= MAX_PER_TICK:
            continue
        reloads.append(Reload(partition, batch, reports, attempt + 1))
        kept[key] = [attempt + 1, now]
    return reloads, {"asked": kept}


# The ingestion job without its landing step: the reports are in the archive already.
reload_job = dg.define_asset_job(
    "reload",
    selection=dg.AssetSelection.tag(*next(iter(INGEST_TAG.items()))) - dg.AssetSelection.assets("landed_reports"),
    description="Load again the landed reports of a batch (or of a whole day) whose load failed.",
)


@dg.sensor(
    job=reload_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds reports that landed but were never loaded (the warehouse failed their load) and "
    "loads their batch again once no run of it is queued or running, waiting longer after each failure "
    f"(at most {MAX_PER_TICK} runs a tick).",
)
def reload_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    try:
        unloaded = unloaded_batches(warehouse.engine(), datetime.now(timezone.utc) - SETTLE)
    except Exception as exc:
        if not is_storage_fault(exc):
            raise
        # The health checks name a warehouse that is down; this tries again at its next tick.
        return dg.SensorResult(skip_reason=f"the warehouse cannot be read: {type(exc).__name__}",
                               cursor=context.cursor)
    busy = _busy(context.instance, {partition for partition, _, _ in unloaded}) if unloaded else set()
    reloads, cursor = plan(unloaded, cursor, busy, time.time())
    for r in reloads:
        context.log.info(f"{r.partition}: {r.reports} report(s) of batch {r.batch or '(whole day)'} landed "
                         f"but never loaded: loading them again (attempt {r.attempt})")
    if not reloads:
        waiting = sum(n for _, _, n in unloaded)
        skip = f"{waiting} report(s) landed but not loaded, waiting for their next attempt" if waiting else \
            "every landed report is loaded"
        return dg.SensorResult(skip_reason=skip, cursor=json.dumps(cursor))
    requests = [dg.RunRequest(run_key=r.run_key, partition_key=r.partition, tags=r.tags) for r in reloads]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))


def _busy(instance: dg.DagsterInstance, partitions: set[str]) -> set[tuple[str, str]]:
    """(partition, batch) of the runs still queued or running on those days; a run of the whole
    day is WHOLE_DAY's."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": sorted(partitions)},
                                                   statuses=NOT_FINISHED))
    return {(run.tags["dagster/partition"], run.tags.get(BATCH_TAG, WHOLE_DAY)) for run in runs}
