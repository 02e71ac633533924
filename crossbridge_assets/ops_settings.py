"""Operations configuration: health thresholds, alerting and retention, from environment variables.

Same contract as settings.py: every variable is read here, and a wrong value fails fast with a
message naming the variable and what is expected.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Mapping
from urllib.parse import urlparse

from crossbridge_assets.analysis.compare import parse_branch_globs
from crossbridge_assets.settings import SettingsError, env_number, env_text, most_specific

# name -> (default, meaning); same shape as settings.VARIABLES for the README's table.
VARIABLES: dict[str, tuple[str, str]] = {
    "CROSSBRIDGE_EXPECTED_CADENCE": (
        '{"*": "72h"}',
        'JSON object: how often each project is expected to send reports, e.g. {"shop": "24h", "payments-*": "12h", '
        '"*": "72h"}; globs name several projects (the most specific applies), "*" every other project; '
        'units s, m, h, d',
    ),
    "CROSSBRIDGE_PARSE_ERROR_RATE": ("0.05", "largest share of quarantined reports over the last 24 hours before the check fails"),
    "CROSSBRIDGE_ALERT_WEBHOOK_URL": ("", "webhook the alert sensors POST to (Slack incoming webhook, Teams, any HTTP endpoint); empty = no alerts"),
    "CROSSBRIDGE_UI_URL": ("http://127.0.0.1:3000", "address of the Dagster UI, used for the links in alerts"),
    "CROSSBRIDGE_RETENTION_DAYS": ("180", "raw rows and archived files older than this many days are deleted by the weekly retention job"),
    "CROSSBRIDGE_RUN_HISTORY_DAYS": (
        "0",
        "finished Dagster runs older than this many days, with their logs, are deleted by the weekly retention "
        "job; 0 keeps them all",
    ),
    "CROSSBRIDGE_DEFAULT_BRANCHES": (
        "main,master",
        "comma-separated branch names or globs (e.g. main,release/*) whose latest run must have no new failure "
        "(the no_new_failures check); in their order, the branch another branch's first run is compared with "
        "(new failures, coverage drop, slower spans): the first of them the project has a run on before it",
    ),
}

PARSE_ERROR_WINDOW = timedelta(hours=24)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '24h', '7d' -> timedelta. Raises ValueError."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 7d")
    seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """A duration the way people write it: 24h, 7d, 90m; long odd spans with one decimal."""
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


@dataclass(frozen=True)
class OpsSettings:
    cadence: dict[str, timedelta] = field(default_factory=dict)
    parse_error_rate: float = 0.05
    webhook_url: str | None = None
    ui_url: str = "http://127.0.0.1:3000"
    retention_days: int = 180
    run_history_days: int = 0  # 0: Dagster's run history is kept
    default_branches: tuple[str, ...] = ("main", "master")

    def cadence_for(self, project: str) -> timedelta | None:
        """The project's own cadence, else that of the most specific glob naming it
        ("payments-*", "acme/*"), else "*"'s."""
        key = most_specific(project, self.cadence)
        return self.cadence[key] if key is not None else None


def _get(env: Mapping[str, str], name: str) -> str:
    return env_text(env, name) or VARIABLES[name][0]


def _http_url(name: str, raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name}={raw!r} is not an http(s) URL; expected e.g. https://hooks.slack.com/services/...")
    return raw.rstrip("/") if name == "CROSSBRIDGE_UI_URL" else raw


def load(env: Mapping[str, str] | None = None) -> OpsSettings:
    """Read and validate the environment (or `env`). Raises SettingsError naming the variable."""
    env = os.environ if env is None else env

    raw = _get(env, "CROSSBRIDGE_EXPECTED_CADENCE")
    try:
        spec = json.loads(raw)
    except ValueError:
        raise SettingsError(
            f"CROSSBRIDGE_EXPECTED_CADENCE={raw!r} is not JSON; expected e.g. {{\"shop\": \"24h\", \"*\": \"72h\"}}"
        ) from None
    if not isinstance(spec, dict):
        raise SettingsError(f"CROSSBRIDGE_EXPECTED_CADENCE={raw!r} must be a JSON object of project -> duration")
    cadence = {}
    for project, text in spec.items():
        try:
            cadence[str(project)] = parse_duration(text)
        except ValueError as exc:
            raise SettingsError(f"CROSSBRIDGE_EXPECTED_CADENCE: project {project!r}: {exc}") from None

    rate = env_number(env, "CROSSBRIDGE_PARSE_ERROR_RATE", VARIABLES, 0, 1, float)

    webhook = env.get("CROSSBRIDGE_ALERT_WEBHOOK_URL", "").strip()
    webhook = _http_url("CROSSBRIDGE_ALERT_WEBHOOK_URL", webhook) if webhook else None
    ui_url = _http_url("CROSSBRIDGE_UI_URL", _get(env, "CROSSBRIDGE_UI_URL"))

    days = env_number(env, "CROSSBRIDGE_RETENTION_DAYS", VARIABLES, 1, 36_500)
    run_days = env_number(env, "CROSSBRIDGE_RUN_HISTORY_DAYS", VARIABLES, 0, 36_500)

    branches = parse_branch_globs(_get(env, "CROSSBRIDGE_DEFAULT_BRANCHES"))
    if not branches:
        raise SettingsError("CROSSBRIDGE_DEFAULT_BRANCHES names no branch; expected e.g. main,master or main,release/*")

    return OpsSettings(cadence=cadence, parse_error_rate=rate, webhook_url=webhook, ui_url=ui_url, retention_days=days,
                       run_history_days=run_days, default_branches=branches)
