"""CrossBridge profiling events: the JSON Lines files the hooks in crossbridge_assets/hooks write.

The first line is a header (``{"crossbridge_events": 1, "run": ..., ...run metadata...}``), then
one span a line, then an end line (``{"crossbridge_events_end": 1, "spans": N, ...}``) when the
session finished. A runner that crashed leaves a prefix: no end line, maybe a truncated last
line. Both are kept with a warning, since the spans before the crash are exactly what tells
where the time went. A file that does not start with the header is rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import parse_timestamp, to_float
from crossbridge_assets.model import KIND_PROFILING, SPAN_KINDS, ReportInfo, Span, SpanStream

FORMAT = "crossbridge-events"
HEADER_KEY = "crossbridge_events"
END_KEY = "crossbridge_events_end"
SUPPORTED_VERSION = 1

# One span is a few hundred bytes; a longer line is not something a hook wrote.
MAX_LINE_BYTES = 1024 * 1024

_HEADER_PROPERTIES = (
    "run", "framework", "worker", "host", "pid", "python",
    "ci_provider", "project", "branch", "commit", "build", "ci_url", "job",
)


def _matches(s: Sniff) -> bool:
    # A session that crashed before its first span is a header alone: a plain JSON object.
    return s.json_type in ("jsonl", "object") and HEADER_KEY in s.json_prefixes


def _read_header(path: Path, fh) -> dict:
    line = fh.readline(MAX_LINE_BYTES + 1)
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    reason = None
    header = None
    if not line.strip():
        reason = "the file is empty" if not line else "the first line is empty, not a CrossBridge events header"
    else:
        try:
            header = json.loads(line)
        except ValueError as exc:
            reason = f"line 1 is not JSON ({exc.msg} at column {exc.colno}), not a CrossBridge events header"
        else:
            if not isinstance(header, dict) or HEADER_KEY not in header:
                reason = f'line 1 is not a CrossBridge events header (no "{HEADER_KEY}" key)'
    if reason:
        raise FormatError(path, reason)
    version = header.get(HEADER_KEY)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FormatError(path, f"line 1: unsupported CrossBridge events version {version!r}")
    return header


def _span(record: dict, run: str, lineno: int) -> Span | str:
    """A Span, or the reason the record is not one."""
    kind = record.get("kind")
    name = record.get("name")
    if not isinstance(kind, str) or not kind:
        return "no kind"
    if not isinstance(name, str):
        return "no name"
    start = parse_timestamp(record.get("start"))
    if start is None:
        return "no valid start time"
    duration = to_float(record.get("duration"))
    if duration is None or duration < 0:
        return "no valid duration"
    attributes = record.get("attributes")
    status = record.get("status")
    return Span(
        run=str(record.get("run") or run),
        kind=kind,
        name=name,
        start=start,
        duration=duration,
        status=str(status) if status is not None else None,
        test=str(record["test"]) if record.get("test") is not None else None,
        span_id=str(record["span_id"]) if record.get("span_id") is not None else None,
        parent_id=str(record["parent_id"]) if record.get("parent_id") is not None else None,
        attributes=attributes if isinstance(attributes, dict) else {},
    )


def _spans(path: Path, info: ReportInfo, fh, header: dict) -> Iterator[Span]:
    run = str(header.get("run") or path.stem)
    ended = None
    skipped: dict[str, int] = {}
    unknown_kinds: set[str] = set()
    lineno = 1
    count = 0
    try:
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            lineno += 1
            complete = raw.endswith(b"\n")
            if not complete and len(raw) > MAX_LINE_BYTES:
                raise FormatError(path, f"line {lineno} is longer than {MAX_LINE_BYTES} bytes")
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                if not complete:
                    # Written by a session that was killed mid-write: the prefix stands.
                    info.warnings.append(
                        f"line {lineno} is truncated (the session stopped while writing it); ignored"
                    )
                    break
                raise FormatError(path, f"line {lineno} is not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(record, dict):
                skipped["not a JSON object"] = skipped.get("not a JSON object", 0) + 1
                continue
            if END_KEY in record:
                ended = record
                continue
            if HEADER_KEY in record:
                skipped["a second header"] = skipped.get("a second header", 0) + 1
                continue
            span = _span(record, run, lineno)
            if isinstance(span, str):
                skipped[span] = skipped.get(span, 0) + 1
                continue
            if span.kind not in SPAN_KINDS:
                unknown_kinds.add(span.kind)
            count += 1
            yield span
    finally:
        fh.close()

    if skipped:
        info.warnings.append(
            "records skipped: " + "; ".join(f"{n} with {why}" for why, n in sorted(skipped.items()))
        )
    if unknown_kinds:
        info.warnings.append("spans of unknown kinds kept: " + ", ".join(sorted(unknown_kinds)))
    if ended is None:
        info.properties["complete"] = "false"
        info.warnings.append("no end line: the session did not finish (crashed or killed); spans up to there are kept")
    else:
        info.properties["complete"] = "true"
        declared = ended.get("spans")
        if isinstance(declared, int) and not isinstance(declared, bool):
            info.declared["spans"] = declared
            if declared != count:
                info.warnings.append(f"the end line declares {declared} spans but the file holds {count}")
        ended_at = parse_timestamp(ended.get("ended_at"))
        if ended_at is not None and info.started_at is not None:
            info.duration = max((ended_at - info.started_at).total_seconds(), 0.0)
        if ended.get("status") is not None:
            info.properties["status"] = str(ended["status"])


def open_events(path: Path) -> SpanStream:
    """Open an event file: the header is checked now (FormatError), spans stream as iterated."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        header = _read_header(path, fh)
    except BaseException:
        fh.close()
        raise
    info = ReportInfo(format=FORMAT, kind=KIND_PROFILING)
    info.framework = str(header["framework"]) if header.get("framework") else None
    info.name = str(header.get("run")) if header.get("run") else None
    info.started_at = parse_timestamp(header.get("started_at"))
    info.properties.update(
        {key: str(header[key]) for key in _HEADER_PROPERTIES if header.get(key) not in (None, "")}
    )
    if header[HEADER_KEY] > SUPPORTED_VERSION:
        info.warnings.append(
            f"written by a newer hook (events version {header[HEADER_KEY]}); read as version {SUPPORTED_VERSION}"
        )
    return SpanStream(info, _spans(path, info, fh, header))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_PROFILING,
    description="CrossBridge profiling events (JSON Lines written by the pytest plugin, Robot listener and other hooks)",
    matches=_matches,
    open=open_events,
    priority=10,
)
