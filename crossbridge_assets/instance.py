"""The embedded Dagster instance: a DAGSTER_HOME under $CROSSBRIDGE_HOME with SQLite storage,
so run history survives restarts (a bare `dagster dev` keeps it in a temporary folder)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from crossbridge_assets.settings import Settings

EMBEDDED_DAGSTER_YAML = """\
# Embedded default written by `crossbridge`: SQLite storage in this folder.
# Production uses the dagster.yaml at the top of the repository (PostgreSQL).
telemetry:
  enabled: false
nux:
  enabled: false
python_logs:
  # structlog events of the `crossbridge` logger show up in every run's log.
  managed_python_loggers:
    - crossbridge
  python_log_level: INFO
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
run_monitoring:
  # A run whose process died with `dagster dev` (a reboot, kill -9) is marked failed after
  # max_runtime_seconds, so that it is retried and the inbox sensor asks for its files again.
  enabled: true
  max_runtime_seconds: 21600
"""


# The embedded dagster.yaml as earlier releases wrote it (sha256): one that nobody changed since
# is brought up to date (run monitoring came later); one that was edited is left as it is.
EARLIER_EMBEDDED_YAMLS = frozenset({"c587fe55e52d0102d02948c76edfbbc3894cb218cdc6c9b1ecf2780c929caed6"})


def ensure_dagster_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at the embedded instance unless the user chose one."""
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        return home
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or hashlib.sha256(config.read_bytes()).hexdigest() in EARLIER_EMBEDDED_YAMLS:
        config.write_text(EMBEDDED_DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
