"""Configuration from environment variables, with embedded defaults.

Every variable is read in one place. A wrong value fails fast with a message naming the variable
and what is expected, instead of surfacing later as a confusing storage error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Mapping


class SettingsError(ValueError):
    """A configuration value is missing or wrong."""


# name -> (default, meaning); the README's table of variables is generated from this.
VARIABLES: dict[str, tuple[str, str]] = {
    "CROSSBRIDGE_HOME": ("./.crossbridge", "folder holding inbox/, archive/, quarantine/, warehouse.db and dagster/"),
    "CROSSBRIDGE_WAREHOUSE_URL": (
        "sqlite:///$CROSSBRIDGE_HOME/warehouse.db",
        "warehouse database: sqlite:///PATH or postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB",
    ),
    "CROSSBRIDGE_INBOX": ("$CROSSBRIDGE_HOME/inbox", "folder the inbox sensor watches"),
    "CROSSBRIDGE_PARTITION_START": ("2026-01-01", "first day of the daily partitions (YYYY-MM-DD)"),
    "CROSSBRIDGE_SETTLE_SECONDS": ("2", "a file must be unchanged this long before it is picked up"),
    "CROSSBRIDGE_SENSOR_INTERVAL": ("15", "seconds between inbox sensor ticks"),
    "CROSSBRIDGE_STALE_PART_SECONDS": (
        "21600",
        "an event file still named *.jsonl.part, or a file still empty, this long after its last write is from a "
        "crashed session and is ingested",
    ),
    "CROSSBRIDGE_MAX_BATCH": ("500", "most files one ingestion run takes"),
    "CROSSBRIDGE_LOG_FORMAT": ("auto", "log rendering: auto (readable on a terminal, JSON otherwise), json or console"),
    "CROSSBRIDGE_LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
    "CROSSBRIDGE_COVERAGE_SOURCE_ROOTS": (
        "",
        "checkout folders stripped from the source paths of coverage reports, so that shards and formats "
        "of one run name a file alike: comma-separated, '*' stands for any part of one folder name, "
        "e.g. /srv/runners/*/work/shop/shop,C:/agents/*/work/shop (the CI services' usual folders are known without it)",
    ),
}

_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg2")


def env_text(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value without surrounding blanks; None when unset or blank."""
    value = env.get(name)
    return value.strip() if value is not None and value.strip() != "" else None


def env_number(env: Mapping[str, str], name: str, variables: Mapping[str, tuple[str, str]], low: float, high: float,
               kind: type = int, error: type[SettingsError] = SettingsError):
    """A numeric variable (its default from `variables`, the name -> (default, meaning) table it
    is documented in), checked against [low, high]; `error` names the variable and the reason."""
    raw = env_text(env, name) or variables[name][0]
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise error(f"{name}={raw!r} is not {what}; expected {variables[name][1]}") from None
    if not low <= value <= high:
        raise error(f"{name}={raw} is out of range; expected a value from {low:g} to {high:g}")
    return value


def most_specific(name: str, patterns) -> str | None:
    """The key of `patterns` (names or globs) that `name` matches most specifically: itself,
    else the glob with the most literal characters ("shop-*" before "*"); None when none does."""
    if name in patterns:
        return name
    matching = [p for p in patterns if fnmatchcase(name, p)]
    if not matching:
        return None
    return max(matching, key=specificity)


def specificity(pattern: str) -> tuple[int, int]:
    """How specific a glob is: its literal characters, then its length."""
    return len(pattern.replace("*", "").replace("?", "")), len(pattern)


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def parse_source_roots(items, name: str = "CROSSBRIDGE_COVERAGE_SOURCE_ROOTS") -> tuple[str, ...]:
    """Source roots from a comma-separated text (the variable) or a list (a manifest's
    `source_roots`): blanks dropped; a root that names no folder ('/', '*') would strip the top of
    every path, so it is refused. Commas, not os.pathsep: reports from Windows agents name
    drives ('C:/...'), and the server reading them may run on Linux, where pathsep is ':'."""
    if isinstance(items, str):
        items = items.split(",")
    roots = tuple(str(item).strip() for item in items if str(item).strip())
    for root in roots:
        if not root.replace("\\", "/").strip("/*?"):
            raise SettingsError(
                f"{name} has {root!r}, which names no folder; expected folders such as /srv/runners/*/work/shop/shop"
            )
    return roots


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str
    inbox: Path
    partition_start: str
    settle_seconds: int
    sensor_interval: int
    stale_part_seconds: int
    max_batch: int
    log_format: str
    log_level: str
    coverage_source_roots: tuple[str, ...] = ()

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def is_postgres(self) -> bool:
        return self.warehouse_url.startswith("postgresql")

    def ensure_folders(self) -> None:
        for folder in (self.home, self.inbox, self.archive, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the environment (or `env`). Raises SettingsError naming the variable."""
    env = os.environ if env is None else env
    home_raw = env_text(env, "CROSSBRIDGE_HOME") or VARIABLES["CROSSBRIDGE_HOME"][0]
    home = Path(os.path.expanduser(home_raw)).resolve()
    if home.exists() and not home.is_dir():
        raise SettingsError(f"CROSSBRIDGE_HOME={home_raw!r} is a file; expected a folder (it is created if missing)")

    url = env_text(env, "CROSSBRIDGE_WAREHOUSE_URL") or f"sqlite:///{home / 'warehouse.db'}"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise SettingsError(
            f"CROSSBRIDGE_WAREHOUSE_URL has scheme {scheme or '(none)'!r}; expected sqlite:///PATH or "
            "postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB"
        )
    if scheme == "postgresql":
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]

    inbox_raw = env_text(env, "CROSSBRIDGE_INBOX")
    inbox = Path(os.path.expanduser(inbox_raw)).resolve() if inbox_raw else home / "inbox"

    start = env_text(env, "CROSSBRIDGE_PARTITION_START") or VARIABLES["CROSSBRIDGE_PARTITION_START"][0]
    try:
        date.fromisoformat(start)
    except ValueError:
        raise SettingsError(f"CROSSBRIDGE_PARTITION_START={start!r} is not a date; expected YYYY-MM-DD") from None
    today = datetime.now(timezone.utc).date()
    if date.fromisoformat(start) > today:
        # Days are UTC: with no day holding today, every report arriving now would have no
        # partition to land in, and each sensor tick would fail on it.
        raise SettingsError(f"CROSSBRIDGE_PARTITION_START={start!r} is after today ({today.isoformat()}, UTC); "
                            "the first day must be today or earlier")

    log_format = (env_text(env, "CROSSBRIDGE_LOG_FORMAT") or "auto").lower()
    if log_format not in ("auto", "json", "console"):
        raise SettingsError(f"CROSSBRIDGE_LOG_FORMAT={log_format!r}; expected auto, json or console")
    log_level = (env_text(env, "CROSSBRIDGE_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"CROSSBRIDGE_LOG_LEVEL={log_level!r}; expected DEBUG, INFO, WARNING or ERROR")

    return Settings(
        home=home,
        warehouse_url=url,
        inbox=inbox,
        partition_start=start,
        settle_seconds=env_number(env, "CROSSBRIDGE_SETTLE_SECONDS", VARIABLES, 0, 3600),
        sensor_interval=env_number(env, "CROSSBRIDGE_SENSOR_INTERVAL", VARIABLES, 1, 3600),
        stale_part_seconds=env_number(env, "CROSSBRIDGE_STALE_PART_SECONDS", VARIABLES, 60, 30 * 86400),
        max_batch=env_number(env, "CROSSBRIDGE_MAX_BATCH", VARIABLES, 1, 100_000),
        log_format=log_format,
        log_level=log_level,
        coverage_source_roots=parse_source_roots(env_text(env, "CROSSBRIDGE_COVERAGE_SOURCE_ROOTS") or ""),
    )
