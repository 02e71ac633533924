"""What the insight assets share: their group, the history window they read, when they run."""

from datetime import timedelta

import dagster as dg

from crossbridge_assets.defs.common import AFTER_INGESTION
from crossbridge_assets.warehouse.engine import now

GROUP = "insights"
WINDOW_DAYS = 30  # days of results history the insights read

# After ingestion, and only while the blocking checks upstream (no_duplicate_results on
# test_results) passed: duplicated rows would count a failure twice. Dagster 1.13 keeps one
# state per check, not one per day: the insights wait until the check's next evaluation passes
# (the day fixed and materialized again, or the next day's ingestion). The ingest job and a
# materialization of test_results run the check with it, so healthy data never waits.
AUTOMATION = (AFTER_INGESTION & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label(
    "after ingestion, once blocking checks pass"
)


def window_start() -> str:
    """The first arrival day (YYYY-MM-DD) the insights read."""
    return (now() - timedelta(days=WINDOW_DAYS)).date().isoformat()
