"""Loading profiling events: one transaction per event file, delete-then-insert, spans and their
InfluxDB outbox rows together, so a span is either stored and queued for delivery or not at all.

A truncated last line (a runner killed mid-write) is tolerated by the parser with a warning.
"""

from __future__ import annotations

import heapq
from itertools import count, islice
from operator import itemgetter
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from crossbridge_assets.delivery.line_protocol import point_context
from crossbridge_assets.model import SpanStream
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import bulk_insert_chunks, bulk_insert_values, now
from crossbridge_assets.warehouse.landing import lock_for_load, mark_loaded

# Rows a chunk: small enough that the chunk is still in the CPU's cache when it is counted,
# ranked and stored (20,000 took 0.1x of a json.loads loop more on a million spans).
CHUNK = 1_000
KEEP_SLOWEST = 10

E = schema.profile_events
O = schema.profile_outbox
R = schema.reports
S = schema.profile_sources


@dataclass
class ProfileLoadSummary:
    spans: int = 0
    outbox_rows: int = 0  # spans queued for InfluxDB
    kept_delivered: int = 0  # of those, delivered by an earlier load of the same file, not sent again
    by_kind: Counter = field(default_factory=Counter)
    slowest: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds, kind, name)
    warnings: list[str] = field(default_factory=list)
    complete: bool | None = None
    project: str | None = None
    branch: str | None = None
    run_id: str | None = None


def delete_profile(conn, sha256: str) -> None:
    conn.execute(delete(E).where(schema.report_rows(E, [sha256])))
    conn.execute(delete(O).where(O.c.report_sha256 == sha256))


def source_id(conn, sha256: str) -> int:
    """The report's key in profile_events: made on its first load, kept by reloads."""
    found = conn.execute(select(S.c.id).where(S.c.report_sha256 == sha256)).scalar()
    if found is None:
        # The caller holds the report's lock (lock_for_load): no other load makes this row meanwhile.
        conn.execute(insert(S).values(report_sha256=sha256))
        found = conn.execute(select(S.c.id).where(S.c.report_sha256 == sha256)).scalar_one()
    return found


EVENT_COLUMNS = ("source_id", "seq", "test_id", "kind", "name", "start", "duration", "status", "attributes",
                 "span_id", "parent_id")
_dumps = orjson.dumps
_KIND = itemgetter(3)
_SLOW = itemgetter(6, 3, 4)  # (duration, kind, name)
_DURATION = itemgetter(6)


def load_profile(engine: Engine, report, stream: SpanStream, *, outbox: bool = True,
                 record: bool = True) -> ProfileLoadSummary:
    """Write every span of `stream` for the `reports` row `report`; with `outbox`, queue the
    spans for InfluxDB in the same transaction. Parse errors propagate and roll the file back.
    With `record`, the row gets the load's totals and warnings; spans derived from a result
    report leave its row to the results load."""
    summary = ProfileLoadSummary()
    sha = report.sha256
    with engine.begin() as conn:
        lock_for_load(conn, sha)  # a drain marking this report's outbox waits, or is waited for
        # Ranges an earlier load delivered, with the same points, are not sent again.
        delivered = []
        if outbox:
            delivered = conn.execute(
                select(O.c.first_seq, O.c.last_seq, O.c.context, O.c.delivered_at, O.c.attempts)
                .where(O.c.report_sha256 == sha, O.c.delivered_at.is_not(None))
            ).all()
        delete_profile(conn, sha)
        source = source_id(conn, sha)
        # Landing resolved the run (manifest, inbox path, or the CI metadata in the file's header).
        project, branch, run_id = report.project, report.branch, report.run_id
        tags = {"project": project, "branch": branch, "framework": stream.info.framework}
        fields = {"run_id": run_id, "build": report.build, "commit": report.commit_sha}
        # (first seq, last seq, session): points differ by session only within one file.
        sessions: list[list] = []
        seqs = count()

        def row(run, kind, name, start, duration, status, test, span_id, parent_id, attributes, start_text):
            """A span as the row stored (model.SPAN_FIELDS in, EVENT_COLUMNS out), made by the
            reader in place of a Span record."""
            seq = next(seqs)
            if not sessions or run != sessions[-1][2]:
                sessions.append([seq, seq, run])
            # start as the text the SQLite driver would make of it (and COPY reads), without the
            # driver's per-value adapter call; the parser keeps the file's when it is that. The
            # rows are prepared (bulk_insert_chunks): the events parser drops NULs and empty
            # optional text, durations are floats.
            return (source, seq, test, kind, name, start_text or start.isoformat(" "), duration, status,
                    _dumps(attributes).decode() if attributes else None, span_id, parent_id)

        def chunks():
            """The rows in lists of CHUNK, each counted and ranked (in C) before it is stored."""
            rows = stream.records(row)
            while chunk := list(islice(rows, CHUNK)):
                tally(chunk)
                yield chunk

        def tally(rows: list[tuple]) -> None:
            summary.by_kind.update(map(_KIND, rows))
            # Ranked by duration alone, then the few kept made (duration, kind, name).
            top = map(_SLOW, heapq.nlargest(KEEP_SLOWEST, rows, key=_DURATION))
            summary.slowest[:] = heapq.nlargest(KEEP_SLOWEST, [*summary.slowest, *top])

        summary.spans = bulk_insert_chunks(conn, E, EVENT_COLUMNS, chunks(), prepared=True)
        by_kind = summary.by_kind
        if outbox and sessions:
            sessions[-1][1] = summary.spans - 1
            for i in range(len(sessions) - 1):
                sessions[i][1] = sessions[i + 1][0] - 1
            queued = _queue(conn, sha, [(a, b, point_context(tags, fields, run)) for a, b, run in sessions], delivered)
            summary.outbox_rows, summary.kept_delivered = queued
        summary.project, summary.branch, summary.run_id = project, branch, run_id
        summary.warnings = list(stream.info.warnings)
        complete = stream.info.properties.get("complete")
        summary.complete = None if complete is None else complete == "true"
        if record:
            mark_loaded(conn, report, stream.info, {"spans": summary.spans, "by_kind": dict(by_kind)},
                        summary.warnings)
    summary.slowest.sort(reverse=True)
    return summary


def _queue(conn, sha: str, ranges: list[tuple[int, int, str]], delivered) -> tuple[int, int]:
    """Outbox rows for `ranges` (first, last, context): the parts an earlier load delivered with
    the same context stay delivered, the rest waits. Returns (spans queued, spans kept delivered)."""
    created = now()
    rows: list[tuple] = []
    kept = 0
    for first, last, context in ranges:
        done = sorted((max(d.first_seq, first), min(d.last_seq, last), d.delivered_at, d.attempts)
                      for d in delivered if d.context == context and d.first_seq <= last and d.last_seq >= first)
        at = first
        for a, b, delivered_at, attempts in done:
            if a > at:
                rows.append((sha, at, a - 1, context, created, 0, None))
            rows.append((sha, a, b, context, created, attempts, delivered_at))
            kept += b - a + 1
            at = b + 1
        if at <= last:
            rows.append((sha, at, last, context, created, 0, None))
    bulk_insert_values(conn, O, ("report_sha256", "first_seq", "last_seq", "context", "created_at", "attempts",
                                 "delivered_at"), rows)
    return sum(last - first + 1 for first, last, _ in ranges), kept


# ---------------------------------------------------------------------------- reads


def span_frame(engine: Engine, since: datetime | None = None, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Spans with their run's environment: kind, name, environment (project/branch), project,
    branch, run_id, start, duration, status."""
    stmt = (
        select(E.c.kind, E.c.name, R.c.project, R.c.branch, R.c.run_id, E.c.start, E.c.duration, E.c.status)
        .select_from(E.join(S, S.c.id == E.c.source_id).join(R, R.c.sha256 == S.c.report_sha256))
    )
    if since is not None:
        # A report arrives after its spans started: older reports cannot hold spans in the window,
        # and skipping them spares a scan of every span (profile_events has no index on start).
        stmt = stmt.where(R.c.partition >= (since - timedelta(days=1)).date().isoformat(), E.c.start >= since)
    if kinds:
        stmt = stmt.where(E.c.kind.in_(kinds))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=["kind", "name", "project", "branch", "run_id",
                                                                 "start", "duration", "status"])
    frame["environment"] = frame["project"].astype(str) + "/" + frame["branch"].astype(str)
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    return frame
