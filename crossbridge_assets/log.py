"""structlog set-up and log categories.

Events are rendered by structlog (JSON when stderr is not a terminal, readable when it is) and
handed to the standard `crossbridge` logger. dagster.yaml lists that logger under
`python_logs.managed_python_loggers`, so inside a run every event also lands in Dagster's run log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

import structlog

CATEGORIES = ("performance", "testing", "persistence", "execution", "migration", "governance", "orchestration")
LOGGER_NAME = "crossbridge"

class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the event: Dagster's compute-log capture
    and test harnesses replace it after the handler was made."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


_configured = False
_stderr_level: str | None = None  # once the CLI sets it, later configure() calls keep it


def configure(log_format: str | None = None, level: str | None = None, stderr_level: str | None = None) -> None:
    """Idempotent; format/level default to the settings (CROSSBRIDGE_LOG_FORMAT/LEVEL).
    `stderr_level` raises the bar for the terminal only (the CLI keeps its output short while
    Dagster's run log still gets every event)."""
    global _configured, _stderr_level
    if stderr_level:
        _stderr_level = stderr_level
    if log_format is None or level is None:
        from crossbridge_assets import settings

        try:
            s = settings.load()
            log_format, level = log_format or s.log_format, level or s.log_level
        except settings.SettingsError:
            log_format, level = log_format or "auto", level or "INFO"
    if log_format == "auto":
        log_format = "console" if sys.stderr.isatty() else "json"
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if log_format == "console"
        else structlog.processors.JSONRenderer(sort_keys=False, default=str)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    std = logging.getLogger(LOGGER_NAME)
    std.setLevel(getattr(logging, level))
    handler = next((h for h in std.handlers if getattr(h, "_crossbridge", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._crossbridge = True  # type: ignore[attr-defined]
        std.addHandler(handler)
    handler.setLevel(getattr(logging, _stderr_level or level))
    _configured = True


def get_logger(category: str, **context) -> structlog.stdlib.BoundLogger:
    """A logger whose every event carries `category` (one of CATEGORIES) and the given context."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown log category {category!r}; expected one of {', '.join(CATEGORIES)}")
    if not _configured:
        configure()
    return structlog.get_logger(LOGGER_NAME).bind(category=category, **context)


@contextlib.contextmanager
def bound(**context) -> Iterator[None]:
    """Bind context (report, partition, run_id, ...) to every event logged inside the block."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in context.items() if v is not None}):
        yield
