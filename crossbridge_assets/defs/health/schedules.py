"""Jobs and schedules of the health domain: nightly insights refresh, hourly health checks and
the weekly retention sweep."""


from datetime import datetime, timedelta, timezone

import dagster as dg

from crossbridge_assets import ops_settings
from crossbridge_assets.defs.common import WarehouseResource, md_table
from crossbridge_assets.defs.health.checks import run_aggregates, warehouse_health
from crossbridge_assets.warehouse.retention import apply_retention

# Resolved against the whole code location when definitions load: unpartitioned analytics of
# these groups, whoever adds them later. An empty selection is a run that does nothing.
NIGHTLY_SELECTION = (
    dg.AssetSelection.groups("coverage", "profiling", "insights")
    & dg.AssetSelection.from_string('partitions:"none" and is:materializable')
) | dg.AssetSelection.assets(run_aggregates)

nightly_insights_job = dg.define_asset_job(
    "nightly_insights",
    selection=NIGHTLY_SELECTION,
    description="Recompute the cross-run analytics (coverage, profiling and insights groups, run aggregates) "
    "from everything ingested so far.",
)

health_checks_job = dg.define_asset_job(
    "health_checks",
    selection=dg.AssetSelection.assets(warehouse_health),
    description="Take the warehouse's row counts and sizes and run the platform's health checks.",
)


@dg.op(
    pool="warehouse",
    description="Refresh run aggregates, then delete raw per-report rows and archived files older than "
    "CROSSBRIDGE_RETENTION_DAYS; reports what it deleted.",
)
def apply_retention_op(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    ops = ops_settings.load()
    s = warehouse.settings()
    report = apply_retention(s, warehouse.engine(), ops.retention_days)
    rows_deleted = sum(report.rows_deleted.values())
    metadata = {
        "retention_days": dg.MetadataValue.int(report.days),
        "cutoff": dg.MetadataValue.text(report.cutoff),
        "runs_aggregated": dg.MetadataValue.int(report.runs_aggregated),
        "reports_expired": dg.MetadataValue.int(report.reports_expired),
        "rows_deleted": dg.MetadataValue.int(rows_deleted),
        "files_deleted": dg.MetadataValue.int(report.files_deleted),
        "bytes_freed": dg.MetadataValue.int(report.bytes_freed),
        "deleted_by_table": dg.MetadataValue.md(
            md_table([{"table": t, "rows": n} for t, n in report.rows_deleted.items()], ["table", "rows"])
        ),
        "folders_deleted": dg.MetadataValue.md(
            md_table([{"folder": f} for f in report.folders_deleted[:50]], ["folder"])
        ),
    }
    if ops.run_history_days:
        pruned = prune_run_history(context.instance, ops.run_history_days, keep=context.run_id)
        metadata["dagster_runs_deleted"] = dg.MetadataValue.int(pruned)
        context.log.info(f"run history: {pruned} finished run(s) older than {ops.run_history_days} days deleted")
    context.add_output_metadata(metadata)
    context.log.info(
        f"retention: {report.reports_expired} report(s) expired, {rows_deleted} row(s) and "
        f"{report.files_deleted} file(s) deleted before {report.cutoff}"
    )


# Runs deleted at one sweep at most: a first sweep over years of history takes several weeks.
PRUNE_AT_ONCE = 20_000
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def prune_run_history(instance: dg.DagsterInstance, days: int, keep: str | None = None) -> int:
    """Delete the finished runs created more than `days` days ago, with their event logs (their
    materializations and check results go with them: the UI then shows those days' partitions as
    never materialized). The Dagster instance keeps every run otherwise: about 0.5 MB each on the
    embedded SQLite instance."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    records = instance.get_run_records(
        filters=dg.RunsFilter(created_before=cutoff, statuses=_FINISHED), limit=PRUNE_AT_ONCE)
    deleted = 0
    for record in records:
        if record.dagster_run.run_id != keep:
            instance.delete_run(record.dagster_run.run_id)
            deleted += 1
    return deleted


@dg.job(
    name="retention",
    tags={"crossbridge/kind": "maintenance"},
    description="Weekly: keep run aggregates, delete raw rows and archived files older than CROSSBRIDGE_RETENTION_DAYS.",
)
def retention_job():
    apply_retention_op()


nightly_insights_schedule = dg.ScheduleDefinition(
    name="nightly_insights",
    job=nightly_insights_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 02:00 UTC: recompute the analytics after the day's ingestion.",
)

hourly_health_schedule = dg.ScheduleDefinition(
    name="hourly_health_checks",
    job=health_checks_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: run the health checks (failures reach the alert webhook).",
)

weekly_retention_schedule = dg.ScheduleDefinition(
    name="weekly_retention",
    job=retention_job,
    cron_schedule="30 3 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sundays 03:30 UTC: delete raw rows and archived files older than CROSSBRIDGE_RETENTION_DAYS.",
)
