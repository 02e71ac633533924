"""Draining the warehouse's profile_outbox into InfluxDB.

- Oldest first, `batch_size` points per request. The outbox holds ranges of a report's spans;
  the points are rendered from profile_events when they are sent, and a range is split as its
  parts are delivered or refused.
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
from typing import Callable, NamedTuple

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from crossbridge_assets.delivery.influx import (
    InfluxClient,
    InfluxRejected,
    InfluxUnavailable,
)
from crossbridge_assets.delivery.line_protocol import lines_for
from crossbridge_assets.log import get_logger
from crossbridge_assets.model import Span
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now
from crossbridge_assets.warehouse.landing import lock_reports

O = schema.profile_outbox
E = schema.profile_events
S = schema.profile_sources


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


class Point(NamedTuple):
    report_sha256: str
    seq: int
    line: str


def _span_ranges(keys: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(sha, first seq, last seq) runs of consecutive keys: a batch is usually one run."""
    out: list[tuple[str, int, int]] = []
    for sha, seq in sorted(keys):
        if out and out[-1][0] == sha and out[-1][2] == seq - 1:
            out[-1] = (sha, out[-1][1], seq)
        else:
            out.append((sha, seq, seq))
    return out


def pending_points(engine: Engine, limit: int) -> list[Point]:
    """Up to `limit` waiting points, oldest range first, rendered from their spans."""
    points: list[Point] = []
    with engine.connect() as conn:
        ranges = conn.execute(
            select(O.c.report_sha256, O.c.first_seq, O.c.last_seq, O.c.context)
            .where(pending_condition())
            .order_by(O.c.created_at, O.c.report_sha256, O.c.first_seq)
            .limit(limit)
        ).all()
        for sha, first, last, context in ranges:
            want = limit - len(points)
            if want <= 0:
                break
            lines, session = lines_for(context)
            key_prefix = sha[:16] + ":"
            spans = conn.execute(
                select(E.c.seq, E.c.kind, E.c.name, E.c.start, E.c.duration, E.c.status, E.c.test_id, E.c.span_id,
                       E.c.parent_id)
                .select_from(E.join(S, S.c.id == E.c.source_id))
                .where(S.c.report_sha256 == sha, E.c.seq.between(first, min(last, first + want - 1)))
                .order_by(E.c.seq)
            ).all()
            for seq, kind, name, start, duration, status, test, span_id, parent_id in spans:
                span = Span(session, kind, name, start, duration, status, test, span_id, parent_id)
                points.append(Point(sha, seq, lines.line(span, seq, key_prefix + str(seq))))
    return points


def _mark(engine: Engine, keys: list[tuple[str, int]], **values) -> None:
    """Give the points `keys` the state `values`: each outbox range they cover is split into the
    part before, the part marked and the part after. Delivered parts join a delivered range
    right before them, so a drained report ends as one row."""
    stamp = now()
    ranges = _span_ranges(keys)
    with engine.begin() as conn:
        # A drain running beside this one may be splitting the same ranges: with its reports
        # locked first, the ranges read next are the current ones and stay so until commit.
        lock_reports(conn, [sha for sha, _, _ in ranges])
        for sha, first, last in ranges:
            covering = conn.execute(
                select(O).where(O.c.report_sha256 == sha, O.c.first_seq <= last, O.c.last_seq >= first)
                .order_by(O.c.first_seq)
            ).all()
            for row in covering:
                a, b = max(row.first_seq, first), min(row.last_seq, last)
                base = row._asdict()
                conn.execute(delete(O).where(O.c.report_sha256 == sha, O.c.first_seq == row.first_seq))
                pieces = []
                if row.first_seq < a:
                    pieces.append({**base, "last_seq": a - 1})
                marked = {**base, "first_seq": a, "last_seq": b, "attempts": row.attempts + 1,
                          "last_attempt_at": stamp, **values}
                if b < row.last_seq:
                    pieces.append({**base, "first_seq": b + 1})
                if not (values.get("delivered_at") and row.first_seq == a and _extend_delivered(conn, marked)):
                    pieces.append(marked)
                if pieces:
                    conn.execute(insert(O), pieces)


def _extend_delivered(conn, marked: dict) -> bool:
    before = O.c.report_sha256 == marked["report_sha256"], O.c.last_seq == marked["first_seq"] - 1
    return bool(conn.execute(
        update(O)
        .where(*before, O.c.delivered_at.is_not(None), O.c.context == marked["context"])
        .values(last_seq=marked["last_seq"], delivered_at=marked["delivered_at"],
                last_attempt_at=marked["last_attempt_at"])
    ).rowcount)


def _note_error(engine: Engine, keys: list[tuple[str, int]], error: str) -> None:
    """The server away: the ranges that were on their way record the error, unsplit."""
    ranges = _span_ranges(keys)
    with engine.begin() as conn:
        lock_reports(conn, [sha for sha, _, _ in ranges])
        for sha, first, last in ranges:
            conn.execute(
                update(O)
                .where(O.c.report_sha256 == sha, O.c.first_seq <= last, O.c.last_seq >= first, pending_condition())
                .values(attempts=O.c.attempts + 1, last_attempt_at=now(), last_error=error)
            )


def _send(client: InfluxClient, rows: list[Point], result: DrainResult) -> tuple[list, list[tuple[Point, str]]]:
    """(delivered points, [(refused point, reason)]); InfluxUnavailable propagates."""
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
            rows = pending_points(engine, limit)
            if not rows:
                break
            for attempt in range(retries + 1):
                try:
                    delivered, refused = _send(client, rows, result)
                    break
                except InfluxUnavailable as exc:
                    result.error = str(exc)
                    if attempt == retries:
                        _note_error(engine, [(r.report_sha256, r.seq) for r in rows], result.error[:1000])
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
        spans = O.c.last_seq - O.c.first_seq + 1
        row = conn.execute(
            select(
                func.sum(spans).filter(pending_condition()),
                func.sum(spans).filter(O.c.rejected_at.is_not(None)),
                func.sum(spans).filter(O.c.delivered_at.is_not(None)),
                func.min(O.c.created_at).filter(pending_condition()),
            )
        ).one()
        b.pending, b.rejected, b.delivered = (int(v or 0) for v in row[:3])
        b.oldest_pending = row[3]
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
    refused = and_(O.c.rejected_at.is_not(None), O.c.delivered_at.is_(None))
    with engine.begin() as conn:
        points = conn.execute(select(func.sum(O.c.last_seq - O.c.first_seq + 1)).where(refused)).scalar()
        conn.execute(update(O).where(refused).values(rejected_at=None))
    return int(points or 0)
