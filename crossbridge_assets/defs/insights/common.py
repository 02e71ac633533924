"""What the insight assets share: their group, the history window they read, when they run."""

from datetime import timedelta

from crossbridge_assets.defs.common import AFTER_INGESTION
from crossbridge_assets.warehouse.engine import now

GROUP = "insights"
WINDOW_DAYS = 30  # days of results history the insights read
AUTOMATION = AFTER_INGESTION


def window_start() -> str:
    """The first arrival day (YYYY-MM-DD) the insights read."""
    return (now() - timedelta(days=WINDOW_DAYS)).date().isoformat()
