"""The health group: `warehouse_health` with the platform's health checks, `run_aggregates`, and
the blocking row-level check on the ingestion assets. The logic is in warehouse/health.py."""


from datetime import datetime, timezone

import dagster as dg
from sqlalchemy import func, select

from crossbridge_assets import ops_settings
from crossbridge_assets.defs.common import (
    STORAGE_RETRY,
    WAREHOUSE_KIND,
    WarehouseResource,
    check_result,
    md_table,
    partition_of,
)
from crossbridge_assets.defs.landing import landed_reports
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import health, schema
from crossbridge_assets.warehouse.engine import is_transient, make_engine
from crossbridge_assets.warehouse.retention import refresh_run_aggregates

# Fail fast at load time, like defs.common.SETTINGS; the checks read the variables again when
# they run so a changed value takes effect without reloading the code location.
ops_settings.load()

OWNERS = ["team:qa-platform"]


def _engine(warehouse: WarehouseResource):
    # Without migrate(): the checks look at the warehouse as it is, and an unreachable server is
    # a finding, not a crash of the resource.
    return make_engine(warehouse.settings().warehouse_url)


def _run(name: str, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_result(health.run_check(name, _engine(warehouse), ops_settings.load()))


# ------------------------------------------------------------------ the health asset


@dg.asset(
    group_name="health",
    kinds={"python", WAREHOUSE_KIND},
    owners=OWNERS,
    description="Row counts and sizes of the warehouse and the archive, taken every hour; its checks are "
    "the platform's health checks (storage up, schema current, reports arriving, parsers coping, rows sane).",
)
def warehouse_health(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    s = warehouse.settings()
    engine = make_engine(s.warehouse_url)
    metadata: dict = {}
    archive_files, archive_bytes = health.folder_bytes(s.archive)
    quarantine_files, quarantine_bytes = health.folder_bytes(s.quarantine)
    metadata["archive_bytes"] = dg.MetadataValue.int(archive_bytes)
    metadata["archive_files"] = dg.MetadataValue.int(archive_files)
    metadata["quarantine_bytes"] = dg.MetadataValue.int(quarantine_bytes)
    metadata["quarantine_files"] = dg.MetadataValue.int(quarantine_files)
    try:
        sizes = health.table_sizes(engine)
        db_bytes = health.database_bytes(engine)
    except Exception as exc:  # noqa: BLE001
        if not is_transient(exc):
            raise
        # Still materialize, so the checks of this run execute and report the outage.
        context.log.warning(f"warehouse did not answer: {type(exc).__name__}")
        metadata["warehouse_answered"] = dg.MetadataValue.bool(False)
        return dg.MaterializeResult(metadata=metadata)
    metadata["warehouse_answered"] = dg.MetadataValue.bool(True)
    metadata["dagster/row_count"] = dg.MetadataValue.int(sum(sizes.values()))
    if db_bytes is not None:
        metadata["database_bytes"] = dg.MetadataValue.int(db_bytes)
    for table in ("reports", "test_results", "test_attempts"):
        if table in sizes:
            metadata[f"rows_{table}"] = dg.MetadataValue.int(sizes[table])
    metadata["tables"] = dg.MetadataValue.md(
        md_table([{"table": t, "rows": n} for t, n in sorted(sizes.items(), key=lambda kv: -kv[1])], ["table", "rows"])
    )
    return dg.MaterializeResult(metadata=metadata)


def _health_check(name: str):
    severity, description = health.CHECKS[name]

    @dg.asset_check(asset=warehouse_health, name=name, description=f"{description} Severity {severity}.")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return _run(name, warehouse)

    return _check


def _reachable_check(asset) -> dg.AssetChecksDefinition:
    # One implementation, attached to the health asset and to landing (recorded with every ingest run).
    severity, description = health.CHECKS["warehouse_reachable"]

    @dg.asset_check(asset=asset, name="warehouse_reachable", description=f"{description} Severity {severity}.")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return check_result(health.warehouse_reachable(_engine(warehouse)))

    return _check


HEALTH_CHECKS = [_reachable_check(warehouse_health)] + [
    _health_check(name) for name in health.CHECKS if name != "warehouse_reachable"
]
landing_reachable = _reachable_check(landed_reports)


# ------------------------------------------------------------------ blocking check on ingestion

# Tables test_results writes; a duplicate here would double-count tests in everything downstream.
RESULT_TABLES = ("test_results", "test_attempts", "tests", "test_runs")


@dg.asset_check(
    asset=test_results,
    blocking=True,
    description="No two rows for one key in the day's test results and attempts, and no test identity "
    "stored under two ids. Blocking: analytics downstream do not run on duplicated rows.",
)
def no_duplicate_results(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    finding = health.duplicate_keys(
        warehouse.engine(), tables=RESULT_TABLES, partition=partition_of(context), name="no_duplicate_results"
    )
    return check_result(finding)


# ------------------------------------------------------------------ run-level aggregates


@dg.asset(
    group_name="results",
    kinds={"python", WAREHOUSE_KIND},
    owners=OWNERS,
    pool="warehouse",
    retry_policy=STORAGE_RETRY,
    deps=[test_results],
    description="One row per CI run: test counts, pass rate and durations. Kept when retention deletes "
    "the raw rows, so long-term run history survives. Refreshed nightly and before every retention sweep.",
)
def run_aggregates(warehouse: WarehouseResource) -> dg.MaterializeResult:
    engine = warehouse.engine()
    with engine.begin() as conn:
        refreshed = refresh_run_aggregates(conn)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(schema.run_aggregates)).scalar_one()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(total),
            "runs_refreshed": dg.MetadataValue.int(refreshed),
            "refreshed_at": dg.MetadataValue.text(datetime.now(timezone.utc).isoformat(timespec="seconds")),
        }
    )
