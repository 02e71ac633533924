"""The health domain of the Dagster layer: health checks, alert sensors, schedules, retention."""

import dagster as dg

from crossbridge_assets.defs.health.alerting import check_alerts, run_failure_alerts
from crossbridge_assets.defs.health.checks import (
    HEALTH_CHECKS,
    landing_reachable,
    no_duplicate_results,
    run_aggregates,
    warehouse_health,
)
from crossbridge_assets.defs.health.schedules import (
    health_checks_job,
    hourly_health_schedule,
    nightly_insights_job,
    nightly_insights_schedule,
    retention_job,
    weekly_retention_schedule,
)

# Dagster's own automation sensor starts stopped; this one runs from the start, so the derived
# assets (coverage per run, trends, baselines, regressions) follow each ingestion by themselves.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "crossbridge_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Keeps the derived assets fresh: requests them when their inputs were updated.",
)

defs = dg.Definitions(
    assets=[warehouse_health, run_aggregates],
    asset_checks=[*HEALTH_CHECKS, landing_reachable, no_duplicate_results],
    jobs=[nightly_insights_job, health_checks_job, retention_job],
    schedules=[nightly_insights_schedule, hourly_health_schedule, weekly_retention_schedule],
    sensors=[check_alerts, run_failure_alerts, automation_sensor],
)
