"""Alert payloads and their delivery to a webhook (Slack incoming webhooks, Teams workflows, any
HTTP endpoint that takes JSON). No Dagster here: the sensors build payloads and call `post_json`.

The payload carries Slack's `text` for humans and structured fields for machines.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence
from urllib.parse import quote

CHECK_FAILED, CHECK_RECOVERED, RUN_FAILED = "check_failed", "check_recovered", "run_failed"

# Bounded: a sensor tick must finish well inside Dagster's tick timeout (60 s).
ATTEMPTS = 4
BACKOFF = 0.5  # seconds before the 2nd attempt; doubles, with jitter, capped
MAX_BACKOFF = 8.0
TIMEOUT = 5.0


@dataclass
class Delivery:
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


def _retryable(status: int) -> bool:
    # A 4xx other than 429 means the request itself is wrong: sending it again cannot help.
    return status == 429 or status >= 500


def post_json(
    url: str,
    payload: dict,
    attempts: int | None = None,
    backoff: float | None = None,
    max_backoff: float | None = None,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST `payload` as JSON; retries connection faults, timeouts, 5xx and 429 with exponential
    backoff and jitter, at most `attempts` times (defaults: the module's constants)."""
    attempts = ATTEMPTS if attempts is None else attempts
    backoff = BACKOFF if backoff is None else backoff
    max_backoff = MAX_BACKOFF if max_backoff is None else max_backoff
    timeout = TIMEOUT if timeout is None else timeout
    body = json.dumps(payload, default=str).encode("utf-8")
    status: int | None = None
    error = None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "crossbridge-alerts"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
                response.read()
            return Delivery(True, attempt, status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
            if not _retryable(exc.code):
                return Delivery(False, attempt, status, error)
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            status, error = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt < attempts:
            delay = min(max_backoff, backoff * 2 ** (attempt - 1))
            sleep(delay * random.uniform(0.8, 1.2))
    return Delivery(False, attempts, status, error)


# ------------------------------------------------------------------ links and payloads


def asset_path(asset_key: Sequence[str]) -> str:
    return "/".join(quote(part, safe="") for part in asset_key)


def check_link(ui_url: str, asset_key: Sequence[str], check: str) -> str:
    return f"{ui_url.rstrip('/')}/assets/{asset_path(asset_key)}?view=checks&checkDetail={quote(check, safe='')}"


def run_link(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_payload(
    event: str,
    check: str,
    asset_key: Sequence[str],
    partition: str | None,
    severity: str,
    description: str | None,
    ui_url: str,
    run_id: str | None = None,
    what_to_do: str | None = None,
) -> dict:
    asset = "/".join(asset_key)
    link = check_link(ui_url, asset_key, check)
    where = f"{asset}" + (f" [{partition}]" if partition else "")
    if event == CHECK_RECOVERED:
        head = f"Recovered: check {check} on {where} passes again"
    else:
        head = f"{severity}: check {check} on {where} failed"
    lines = [head]
    if description:
        lines.append(description)
    if what_to_do and event != CHECK_RECOVERED:
        lines.append(f"What to do: {what_to_do}")
    lines.append(link)
    return {
        "text": "\n".join(lines),
        "event": event,
        "check": check,
        "asset": asset,
        "partition": partition,
        "severity": severity,
        "description": description,
        "what_to_do": what_to_do,
        "run_id": run_id,
        "link": link,
        "at": _now(),
    }


def run_failure_payload(job: str, run_id: str, partition: str | None, message: str | None, ui_url: str) -> dict:
    link = run_link(ui_url, run_id)
    where = job + (f" [{partition}]" if partition else "")
    lines = [f"ERROR: run of {where} failed"]
    if message:
        lines.append(message)
    lines.append(link)
    return {
        "text": "\n".join(lines),
        "event": RUN_FAILED,
        "job": job,
        "check": None,
        "asset": None,
        "partition": partition,
        "severity": "ERROR",
        "description": message,
        "run_id": run_id,
        "link": link,
        "at": _now(),
    }
