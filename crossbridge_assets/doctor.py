"""`crossbridge doctor`: the health checks from a terminal, without Dagster.

The warehouse checks are warehouse/health.py (the same functions the asset checks run); InfluxDB
and the outbox use the delivery package's own functions.
"""

from __future__ import annotations

from crossbridge_assets.delivery import health as delivery_health
from crossbridge_assets.ops_settings import OpsSettings
from crossbridge_assets.settings import Settings
from crossbridge_assets.warehouse import health
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.health import WARN, Finding


def diagnose(settings: Settings, ops: OpsSettings) -> list[Finding]:
    engine = make_engine(settings.warehouse_url)
    findings = health.run_all(engine, ops)
    findings.append(health.guarded("influxdb_reachable", delivery_health.influxdb_reachable))
    if findings[0].passed:
        findings.append(health.guarded("outbox_backlog", lambda: delivery_health.outbox_backlog(engine)))
    else:
        findings.append(Finding("outbox_backlog", False, WARN, "not run: the warehouse did not answer"))
    return findings
