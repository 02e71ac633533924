"""Draining the warehouse's profile_outbox into InfluxDB.

- Oldest first, `batch_size` points per request.
- A row is marked delivered only after the server acknowledged the request that carried it.
  A crash between the acknowledgement and the mark sends those points again, which overwrites
  them (line_protocol: same series and timestamp), so "at least once" ends up "exactly once".
- The server away (InfluxUnavailable): the batch is retried with exponential backoff and
  jitter, then the drain stops with the error recorded on the rows; nothing is lost and the
  next drain starts where this one stopped.
- The server refusing points (InfluxRejected): the batch is halved until the refused points are
  alone; those are marked rejected with the server's reason and the rest is delivered.
- Credentials or database wrong (InfluxConfigError): raised, a person has to act.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import Engine, and_, func, select, update

from crossbridge_assets.delivery.influx import (
    InfluxClient,
    InfluxRejected,
    InfluxUnavailable,
)
from crossbridge_assets.log import get_logger
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now

O = schema.profile_outbox


@dataclass
class DrainResult:
    delivered: int = 0
    requests: int = 0
    rejected: int = 0
    retries: int = 0
    error: str | None = None  # the last transient error when the drain had to stop
    seconds: float = 0.0
    rejections: list[dict] = field(default_factory=list)  # a few examples: key and reason

    @property
    def points_per_second(self) -> float:
        return round(self.delivered / self.seconds, 1) if self.seconds > 0 else 0.0


def pending_condition():
    return and_(O.c.delivered_at.is_(None), O.c.rejected_at.is_(None))


def _ranges(keys: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(sha, first seq, last seq) runs of consecutive keys: a batch is usually one or two runs,
    so marking it is a couple of primary-key range updates."""
    out: list[tuple[str, int, int]] = []
    for sha, seq in sorted(keys):
        if out and out[-1][0] == sha and out[-1][2] == seq - 1:
            out[-1] = (sha, out[-1][1], seq)
        else:
            out.append((sha, seq, seq))
    return out


def _mark(engine: Engine, keys: list[tuple[str, int]], **values) -> None:
    with engine.begin() as conn:
        for sha, first, last in _ranges(keys):
            conn.execute(
                update(O)
                .where(O.c.report_sha256 == sha, O.c.seq.between(first, last))
                .values(attempts=O.c.attempts + 1, last_attempt_at=now(), **values)
            )


def _send(client: InfluxClient, rows: list, result: DrainResult) -> tuple[list, list[tuple[object, str]]]:
    """(delivered rows, [(refused row, reason)]); InfluxUnavailable propagates."""
    try:
        result.requests += 1
        client.write([r.line for r in rows])
        return rows, []
    except InfluxRejected as exc:
        if len(rows) == 1:
            return [], [(rows[0], str(exc))]
        mid = len(rows) // 2
        ok_left, bad_left = _send(client, rows[:mid], result)
        ok_right, bad_right = _send(client, rows[mid:], result)
        return ok_left + ok_right, bad_left + bad_right


def drain(
    engine: Engine,
    client: InfluxClient,
    *,
    batch_size: int | None = None,
    retries: int = 3,
    base_delay: float = 0.5,
    max_points: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DrainResult:
    """Deliver pending points until none is left (or `max_points` went out)."""
    log = get_logger("persistence")
    batch_size = batch_size or client.config.batch_size
    result = DrainResult()
    started = time.perf_counter()
    try:
        while max_points is None or result.delivered + result.rejected < max_points:
            limit = batch_size if max_points is None else min(batch_size, max_points - result.delivered - result.rejected)
            with engine.connect() as conn:
                rows = conn.execute(
                    select(O.c.report_sha256, O.c.seq, O.c.line)
                    .where(pending_condition())
                    .order_by(O.c.created_at, O.c.report_sha256, O.c.seq)
                    .limit(limit)
                ).all()
            if not rows:
                break
            for attempt in range(retries + 1):
                try:
                    delivered, refused = _send(client, rows, result)
                    break
                except InfluxUnavailable as exc:
                    result.error = str(exc)
                    if attempt == retries:
                        _mark(engine, [(r.report_sha256, r.seq) for r in rows], last_error=result.error[:1000])
                        log.warning("influxdb unavailable; delivery stops here", error=result.error,
                                    delivered=result.delivered)
                        return result
                    result.retries += 1
                    delay = base_delay * 2**attempt
                    sleep(delay * random.uniform(0.5, 1.5))
            result.error = None
            if delivered:
                _mark(engine, [(r.report_sha256, r.seq) for r in delivered], delivered_at=now(), last_error=None)
                result.delivered += len(delivered)
            for row, reason in refused:
                _mark(engine, [(row.report_sha256, row.seq)], rejected_at=now(), last_error=reason[:1000])
                result.rejected += 1
                if len(result.rejections) < 10:
                    result.rejections.append({"span": f"{row.report_sha256[:12]}:{row.seq}", "reason": reason[:300]})
            if refused:
                log.warning("influxdb refused points", refused=len(refused), example=refused[0][1][:300])
    finally:
        result.seconds = round(time.perf_counter() - started, 3)
    return result


@dataclass
class Backlog:
    pending: int = 0
    rejected: int = 0
    delivered: int = 0
    oldest_pending: datetime | None = None
    last_error: str | None = None

    def oldest_age_seconds(self, at: datetime | None = None) -> float | None:
        if self.oldest_pending is None:
            return None
        oldest = self.oldest_pending
        if oldest.tzinfo is None:  # SQLite hands back naive UTC
            oldest = oldest.replace(tzinfo=(at or now()).tzinfo)
        return max(((at or now()) - oldest).total_seconds(), 0.0)


def backlog(engine: Engine) -> Backlog:
    """What the outbox holds: undelivered, refused and delivered points."""
    b = Backlog()
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count().filter(pending_condition()),
                func.count().filter(O.c.rejected_at.is_not(None)),
                func.count().filter(O.c.delivered_at.is_not(None)),
                func.min(O.c.created_at).filter(pending_condition()),
            )
        ).one()
        b.pending, b.rejected, b.delivered, b.oldest_pending = row[0], row[1], row[2], row[3]
        if b.pending or b.rejected:
            b.last_error = conn.execute(
                select(O.c.last_error)
                .where(O.c.delivered_at.is_(None), O.c.last_error.is_not(None))
                .order_by(O.c.last_attempt_at.desc())
                .limit(1)
            ).scalar()
    return b


def retry_rejected(engine: Engine) -> int:
    """Put refused points back in line (after fixing the cause on the server side)."""
    with engine.begin() as conn:
        return conn.execute(update(O).where(O.c.rejected_at.is_not(None), O.c.delivered_at.is_(None))
                            .values(rejected_at=None)).rowcount
