"""Health of the InfluxDB delivery, as warehouse.health Findings: one implementation for the
asset checks in the UI and for `crossbridge doctor`."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from crossbridge_assets.delivery import influx
from crossbridge_assets.delivery.outbox import backlog
from crossbridge_assets.warehouse.health import ERROR, WARN, Finding

BACKLOG_MAX_AGE_MINUTES = 30  # undelivered points older than this fail outbox_backlog


def influxdb_reachable() -> Finding:
    name = "influxdb_reachable"
    try:
        config = influx.load_config()
    except influx.InfluxConfigError as exc:
        return Finding(name, False, ERROR, str(exc), "Fix the CROSSBRIDGE_INFLUX_* variable named above.")
    if config is None:
        # A choice, not a fault: spans stay in the warehouse, nothing waits to be delivered.
        return Finding(
            name, True, WARN, "InfluxDB is not configured: spans are kept in the warehouse only",
            "Set CROSSBRIDGE_INFLUX_URL (and the database, or org/bucket/token) to send spans to InfluxDB.",
            figures={"configured": "no"},
        )
    client = influx.make_client(config)
    try:
        info = client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to answer is the finding
        return Finding(
            name, False, ERROR, f"InfluxDB at {config.url} did not answer: {str(exc).splitlines()[0][:300]}",
            "Check that InfluxDB is running and CROSSBRIDGE_INFLUX_* point at it; spans wait in the outbox meanwhile.",
        )
    finally:
        client.close()
    return Finding(
        name, True, ERROR, f"InfluxDB {info.get('version')} answers ({info.get('api')} API) at {config.target}",
        figures={"latency_ms": float(info.get("latency_ms") or 0.0), "version": str(info.get("version"))},
    )


def outbox_backlog(engine: Engine) -> Finding:
    name = "outbox_backlog"
    if "profile_outbox" not in inspect(engine).get_table_names():
        return Finding(name, True, WARN, "no outbox table yet (schema before profiling)")
    b = backlog(engine)
    age = b.oldest_age_seconds()
    problems = []
    if age is not None and age > BACKLOG_MAX_AGE_MINUTES * 60:
        problems.append(f"{b.pending} point(s) waiting, the oldest for {age / 60:.0f} minutes (limit {BACKLOG_MAX_AGE_MINUTES})")
    if b.rejected:
        problems.append(f"{b.rejected} point(s) refused by InfluxDB")
    figures = {"pending": b.pending, "oldest_pending_seconds": float(age or 0.0), "rejected": b.rejected,
               "delivered": b.delivered}
    if problems:
        last = f" (last error: {b.last_error[:200]})" if b.last_error else ""
        return Finding(
            name, False, WARN, "; ".join(problems) + last,
            "Waiting points go out by themselves once InfluxDB answers (see influxdb_reachable); refused points "
            "carry the server's reason in profile_outbox.last_error.",
            figures,
        )
    summary = f"{b.pending} point(s) waiting, the oldest {age:.0f} s old" if b.pending else "the outbox is empty"
    return Finding(name, True, WARN, summary, figures=figures)
