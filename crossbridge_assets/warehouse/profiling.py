"""Loading profiling events: one transaction per event file, delete-then-insert, spans and their
InfluxDB outbox rows together, so a span is either stored and queued for delivery or not at all.

A truncated last line (a runner killed mid-write) is tolerated by the parser with a warning.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, delete, select, update

from crossbridge_assets.delivery.line_protocol import SpanLines
from crossbridge_assets.model import SpanStream
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import bulk_insert, now

CHUNK = 20_000
KEEP_SLOWEST = 10

E = schema.profile_events
O = schema.profile_outbox
R = schema.reports


@dataclass
class ProfileLoadSummary:
    spans: int = 0
    outbox_rows: int = 0
    kept_delivered: int = 0  # outbox rows unchanged since an earlier load, not sent again
    by_kind: Counter = field(default_factory=Counter)
    slowest: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds, kind, name)
    warnings: list[str] = field(default_factory=list)
    complete: bool | None = None
    project: str | None = None
    branch: str | None = None
    run_id: str | None = None


def delete_profile(conn, sha256: str) -> None:
    conn.execute(delete(E).where(E.c.report_sha256 == sha256))
    conn.execute(delete(O).where(O.c.report_sha256 == sha256))


def load_profile(engine: Engine, report, stream: SpanStream, *, outbox: bool = True) -> ProfileLoadSummary:
    """Write every span of `stream` for the `reports` row `report`; with `outbox`, queue each
    span for InfluxDB in the same transaction. Parse errors propagate and roll the file back."""
    summary = ProfileLoadSummary()
    sha = report.sha256
    created = now()
    with engine.begin() as conn:
        # Points an earlier load delivered and that come out the same are not sent again.
        delivered: dict[int, tuple[str, datetime]] = {}
        if outbox:
            delivered = {
                seq: (line, at)
                for seq, line, at in conn.execute(
                    select(O.c.seq, O.c.line, O.c.delivered_at).where(O.c.report_sha256 == sha, O.c.delivered_at.is_not(None))
                )
            }
        delete_profile(conn, sha)
        events: list[dict] = []
        points: list[dict] = []
        # Landing resolved the run (manifest, inbox path, or the CI metadata in the file's header).
        project, branch, run_id = report.project, report.branch, report.run_id
        lines = SpanLines({"project": project, "branch": branch, "framework": stream.info.framework},
                          {"run_id": run_id, "build": report.build, "commit": report.commit_sha})
        key_prefix = sha[:16] + ":"

        def flush() -> None:
            summary.spans += bulk_insert(conn, E, events)
            summary.outbox_rows += bulk_insert(conn, O, points)
            events.clear()
            points.clear()

        partition = report.partition
        by_kind = summary.by_kind
        slowest = summary.slowest
        for seq, span in enumerate(stream):
            events.append(
                {
                    "report_sha256": sha,
                    "seq": seq,
                    "run_id": run_id,
                    "test_id": span.test,
                    "kind": span.kind,
                    "name": span.name,
                    "start": span.start,
                    "duration": span.duration,
                    "status": span.status,
                    "attributes": json.dumps(span.attributes, separators=(",", ":")) if span.attributes else None,
                    "span_id": span.span_id,
                    "parent_id": span.parent_id,
                    "partition": partition,
                }
            )
            if outbox:
                line = lines.line(span, seq, key_prefix + str(seq))
                earlier = delivered.get(seq)
                same = earlier is not None and earlier[0] == line
                summary.kept_delivered += same
                points.append(
                    {
                        "report_sha256": sha,
                        "seq": seq,
                        "line": line,
                        "created_at": created,
                        "attempts": 0,
                        "delivered_at": earlier[1] if same else None,
                    }
                )
            by_kind[span.kind] += 1
            item = (span.duration, span.kind, span.name)
            if len(slowest) < KEEP_SLOWEST:
                heapq.heappush(slowest, item)
            elif item > slowest[0]:
                heapq.heapreplace(slowest, item)
            if len(events) >= CHUNK:
                flush()
        flush()
        summary.project, summary.branch, summary.run_id = project, branch, run_id
        summary.warnings = list(stream.info.warnings)
        complete = stream.info.properties.get("complete")
        summary.complete = None if complete is None else complete == "true"
        values = dict(
            totals=json.dumps({"spans": summary.spans, "by_kind": dict(by_kind)}),
            declared=json.dumps(stream.info.declared) if stream.info.declared else None,
            warnings=json.dumps(summary.warnings) if summary.warnings else None,
            started_at=report.started_at or stream.info.started_at,
            loaded_at=now(),
        )
        conn.execute(update(R).where(R.c.sha256 == sha).values(**values))
    summary.slowest.sort(reverse=True)
    return summary


# ---------------------------------------------------------------------------- reads


def span_frame(engine: Engine, since: datetime | None = None, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Spans with their run's environment: kind, name, environment, run_id, start, duration."""
    stmt = (
        select(E.c.kind, E.c.name, R.c.project, R.c.branch, E.c.run_id, E.c.start, E.c.duration, E.c.status)
        .select_from(E.join(R, R.c.sha256 == E.c.report_sha256))
    )
    if since is not None:
        stmt = stmt.where(E.c.start >= since)
    if kinds:
        stmt = stmt.where(E.c.kind.in_(kinds))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=["kind", "name", "project", "branch", "run_id",
                                                                 "start", "duration", "status"])
    frame["environment"] = frame["project"].astype(str) + "/" + frame["branch"].astype(str)
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    return frame.drop(columns=["project", "branch"])


def replace_table(engine: Engine, table, rows: list[dict]) -> int:
    """Recompute-whole tables (baselines, regressions): one transaction, delete all, insert."""
    with engine.begin() as conn:
        conn.execute(delete(table))
        return bulk_insert(conn, table, rows)
