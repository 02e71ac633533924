"""What the insight assets share: their group, the history window they read, when they run."""

from datetime import timedelta

import dagster as dg
import pandas as pd

# Dagster 1.13 exports no public name for a check execution's status.
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from crossbridge_assets.defs.common import AFTER_INGESTION, window_since
# Days of results history the insights read: the analytics' one window.
from crossbridge_assets.defs.common import WINDOW_DAYS as WINDOW_DAYS
from crossbridge_assets.defs.health.alerting import check_partition, read_partitions
from crossbridge_assets.defs.health.checks import no_duplicate_results

GROUP = "insights"

# After ingestion, and only while the blocking checks upstream (no_duplicate_results on
# test_results) passed: duplicated rows would count a failure twice. Dagster 1.13 keeps one
# state per check, not one per day: the insights wait until the check's next evaluation passes
# (the day fixed and materialized again, or the next day's ingestion), and days_held_back keeps
# a day that still fails out of what they read. The ingest job and a materialization of
# test_results run the check with it, so healthy data never waits.
AUTOMATION = (AFTER_INGESTION & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label(
    "after ingestion, once blocking checks pass"
)


def window_start() -> str:
    """The first arrival day (YYYY-MM-DD) the insights read."""
    return window_since().date().isoformat()


# Evaluations of the blocking check read a page at a time, newest first.
CHECK_HISTORY = 1000


def days_held_back(instance: dg.DagsterInstance) -> list[str]:
    """Arrival days whose latest evaluation of the blocking check on test_results
    (no_duplicate_results) failed: their runs feed no insight until the day passes again.
    The automation condition waits on the check's latest evaluation only; a later day that
    passes would let an insight run, and this keeps the failing day out of what they read.

    Every evaluation since the oldest day an insight reads is looked at (a window, and the
    window before it that run_comparisons reads for the previous runs), however many there
    are: a fixed number of the newest ones let a failing day out of sight after weeks of busy
    ingestion (an instance running 50 batches a day made 1,000 of them in 20 days), and its
    duplicated rows into the insights. Older evaluations are about days no insight reads."""
    done = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
    # A day more: the windows start at a day's beginning, hours before this moment's date.
    oldest = (window_since() - timedelta(days=WINDOW_DAYS + 1)).timestamp()
    latest: dict[str, bool] = {}
    runs: dict = {}
    storage = instance.event_log_storage
    cursor = None
    while True:
        page = storage.get_asset_check_execution_history(no_duplicate_results.check_key, limit=CHECK_HISTORY,
                                                         cursor=cursor)
        recent = [record for record in page if record.create_timestamp >= oldest]
        read_partitions(instance, [record for record in recent if record.status in done], runs)
        for record in recent:  # newest first
            day = check_partition(instance, record, runs) if record.status in done else None
            if day is not None and day not in latest:
                latest[day] = record.status == AssetCheckExecutionRecordStatus.SUCCEEDED
        if len(page) < CHECK_HISTORY or len(recent) < len(page):
            break
        cursor = page[-1].id
    return sorted(day for day, passed in latest.items() if not passed)


def leave_out(days: list[str], frame: pd.DataFrame, runs: pd.DataFrame | None = None):
    """`frame` (result_frame, failure_frame: a `partition` column) without the rows that arrived
    on `days`; with `runs` (run_frame), also those runs without a result left, so that a test
    does not look gone from a run that is only held back. Returns the frame, or (frame, runs)."""
    if days:
        frame = frame[~frame["partition"].isin(days)]
        if runs is not None:
            runs = runs[runs["run_id"].isin(set(frame["run_id"]))]
    return frame if runs is None else (frame, runs)


def held_back_metadata(days: list[str]) -> dict:
    """The materialization's `days_held_back`: what a reader needs to know the figures leave out."""
    return {"days_held_back": dg.MetadataValue.text(
        ", ".join(days) + " (no_duplicate_results fails there: their runs are left out)" if days else "none")}
