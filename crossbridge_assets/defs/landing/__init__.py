"""Landing: the inbox sensor and the `landed_reports` asset (its storage check lives in defs/health)."""


import json
from collections import Counter

import dagster as dg

from crossbridge_assets.defs.common import (
    BATCH_TAG,
    INGEST_TAG,
    NOT_FINISHED,
    SETTINGS,
    STORAGE_RETRY,
    WAREHOUSE_KIND,
    WarehouseResource,
    daily,
    md_table,
    run_context,
    storage_faults,
)
from crossbridge_assets.defs.landing import inbox
from crossbridge_assets.defs.landing.reloads import reload_job, reload_sensor
from crossbridge_assets.log import get_logger
from crossbridge_assets.warehouse.landing import LANDED, QUARANTINED, Landed
from crossbridge_assets.warehouse.queries import batch_reports, report_counts

class LandingConfig(dg.Config):
    files: list[str] = []  # relative to the inbox; empty = re-land the whole day from the archive
    batch: str = ""


@dg.asset(
    partitions_def=daily,
    group_name="landing",
    kinds={"file", WAREHOUSE_KIND},
    tags=INGEST_TAG,
    owners=["team:qa-platform"],
    retry_policy=STORAGE_RETRY,
    pool="warehouse",
    description="Reports that arrived in the inbox that day: archived by content and run (the same file "
    "sent for another build, shard or test is kept as its own report), format detected, run metadata read, "
    "copies sent again dropped, unreadable files quarantined with a reason.",
)
def landed_reports(context: dg.AssetExecutionContext, config: LandingConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    partition = context.partition_key
    log = get_logger("orchestration")
    with run_context(context), storage_faults("landing reports"):
        landing = warehouse.landing()
        batch = config.batch or None
        if config.files:
            results = []
            for rel in config.files:
                path = landing.settings.inbox / rel
                landed = landing.land(path, partition, batch)
                if landed is not None:
                    results.append(landed)
            inbox.tidy(landing.settings, {(landing.settings.inbox / rel).parent for rel in config.files})
        else:
            results = landing.reland_partition(partition)
        counts = report_counts(landing.engine, partition)
        fresh = [r for r in results if not r.duplicate]
        duplicates = len(results) - len(fresh)
        if config.files and batch:
            # A retried step finds the files an earlier try landed gone from the inbox: what the
            # batch recorded is read back, so that they are counted too.
            fresh = [Landed(r.sha256, r.original_name, r.status, r.kind, r.format, r.reason)
                     for r in batch_reports(landing.engine, batch)]

    formats = Counter(r.format for r in fresh if r.status == LANDED)
    bad = [r for r in fresh if r.status == QUARANTINED]
    landed = sum(r.status == LANDED for r in fresh)  # a superseded report found by a backfill is neither
    log.info("landing done", landed=landed, quarantined=len(bad),
             duplicates=duplicates, partition=partition)
    context.log.info(f"{landed} landed, {len(bad)} quarantined, {duplicates} duplicates")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(counts.values())),
            "landed": dg.MetadataValue.int(landed),
            "quarantined": dg.MetadataValue.int(len(bad)),
            "duplicates": dg.MetadataValue.int(duplicates),
            "formats": dg.MetadataValue.md(
                md_table([{"format": f, "reports": n} for f, n in formats.most_common()], ["format", "reports"])
            ),
            "quarantined_files": dg.MetadataValue.md(
                md_table([{"file": r.original_name, "reason": r.reason} for r in bad], ["file", "reason"])
            ),
        }
    )


ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.tag("crossbridge/ingest", "true"),
    description="Land a batch of reports from the inbox and load them into the warehouse.",
)


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=SETTINGS.sensor_interval,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the inbox (scandir only, never parses) and starts one ingestion run per batch of settled files.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult | dg.SkipReason:
    s = warehouse.settings()
    cursor = json.loads(context.cursor) if context.cursor else {}
    for rel in inbox.recover_crashed_sessions(s):
        context.log.info(f"{rel}: event file of a crashed test session, taken as it is")
    p = inbox.plan(s, cursor, running=lambda keys: _in_flight(context.instance, keys))
    requests = [
        dg.RunRequest(run_key=b.run_key, partition_key=b.partition, run_config=b.run_config(), tags=b.tags)
        for b in p.batches
    ]
    if not requests:
        waiting = [f"{p.waiting} file(s) still settling"] if p.waiting else []
        if p.requested:
            waiting.append(f"{p.requested} file(s) waiting for their ingestion run")
        return dg.SensorResult(skip_reason="; ".join(waiting) or "inbox is empty", cursor=json.dumps(p.cursor))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(p.cursor))


def _in_flight(instance: dg.DagsterInstance, keys: set[str]) -> set[str]:
    """The batches (by run key) whose ingestion run is queued or in progress."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BATCH_TAG: sorted(keys)}, statuses=NOT_FINISHED))
    return {run.tags.get(BATCH_TAG) for run in runs}


defs = dg.Definitions(
    assets=[landed_reports],
    jobs=[ingest_job, reload_job],
    sensors=[inbox_sensor, reload_sensor],
)

