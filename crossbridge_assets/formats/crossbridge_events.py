"""CrossBridge profiling events: the JSON Lines files the hooks in crossbridge_assets/hooks write.

The first line is a header (``{"crossbridge_events": 1, "run": ..., ...run metadata...}``), then
one span a line, then an end line (``{"crossbridge_events_end": 1, "spans": N, ...}``) when the
session finished. A runner that crashed leaves a prefix: no end line, maybe a truncated last
line. Both are kept with a warning, since the spans before the crash are exactly what tells
where the time went. A file that does not start with the header is rejected.
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Generator

import orjson

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import open_report_bytes, parse_timestamp, to_float
from crossbridge_assets.model import KIND_PROFILING, SPAN_KINDS, ReportInfo, SpanStream

FORMAT = "crossbridge-events"
HEADER_KEY = "crossbridge_events"
END_KEY = "crossbridge_events_end"
SUPPORTED_VERSION = 1

# One span is a few hundred bytes; a longer line is not something a hook wrote.
MAX_LINE_BYTES = 1024 * 1024
_INF = float("inf")
_BLOCK = 1024 * 1024

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
            header = orjson.loads(line)
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


def _start(value: object) -> datetime | None:
    # The hooks write ISO 8601 with an offset, which fromisoformat reads directly; anything else
    # (Z, epoch numbers, a naive time) goes through the general reader.
    if type(value) is str:
        try:
            start = datetime.fromisoformat(value)
        except ValueError:
            return parse_timestamp(value)
        if start.tzinfo is not None:
            return start
    return parse_timestamp(value)


_fromisoformat = datetime.fromisoformat


def _text(value: object) -> str | None:
    # Optional text: empty is absent, so every warehouse stores it the same way (NULL).
    return (str(value) or None) if value is not None else None


def _without_nul(value: object) -> object:
    # Span text holds no NUL (PostgreSQL text cannot), so the warehouse need not look for one.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


# The keys the hooks write in every span, read in one call (a get each costs as much as
# the rest of the span's checks).
_ALWAYS = itemgetter("kind", "name", "start", "duration", "span_id")


def _span(record: dict, run: str, make, unknown_kinds: set[str]):
    """make(<the span's fields>) (model.SPAN_FIELDS), or a _Skipped with the reason the record
    is not a span. Kinds the model does not know are kept, and noted in `unknown_kinds`."""
    get = record.get
    try:
        kind, name, start_value, duration, span_id = _ALWAYS(record)
    except KeyError:  # written by something else than the hooks: any of them may be missing
        kind, name, start_value, duration, span_id = get("kind"), get("name"), get("start"), get("duration"), \
            get("span_id")
    if not isinstance(kind, str) or not kind:
        return _Skipped("no kind")
    if not isinstance(name, str):
        return _Skipped("no name")
    start_text = None
    if type(start_value) is str and len(start_value) == 32 and start_value[4:20:3] == "--T::." \
            and start_value[26:] == "+00:00":
        # The hooks' own spelling, 2026-11-30T10:00:00.123456+00:00: the text the warehouse
        # stores (isoformat(" "), which leaves out a zero fraction) is kept, which costs less
        # than formatting the time again.
        try:
            start = _fromisoformat(start_value)
        except ValueError:
            start = _start(start_value)
        else:
            if start_value[20:26] != "000000":
                start_text = start_value.replace("T", " ", 1)
    else:
        start = _start(start_value)
    if start is None:
        return _Skipped("no valid start time")
    if type(duration) is not float or not 0.0 <= duration < _INF:
        duration = to_float(duration)
        if duration is None or duration < 0:
            return _Skipped("no valid duration")
    attributes = get("attributes")
    session = get("run")
    # The optional texts as _text makes them, the usual non-empty str without a call.
    status, test, parent_id = get("status"), get("test"), get("parent_id")
    if kind not in SPAN_KINDS:
        unknown_kinds.add(kind)
    return make(
        str(session) if session else run,
        kind,
        name,
        start,
        duration,
        status if type(status) is str and status else _text(status),
        test if type(test) is str and test else _text(test),
        span_id if type(span_id) is str and span_id else _text(span_id),
        parent_id if type(parent_id) is str and parent_id else _text(parent_id),
        attributes if type(attributes) is dict else {},
        start_text,
    )


class _Skipped(str):
    """Why a record is not a span (a type of its own: `make` may return a str too)."""


def _spans(path: Path, info: ReportInfo, fh, header: dict, make) -> Generator[object, None, int]:
    run = str(header.get("run") or path.stem)
    ended = None
    skipped: dict[str, int] = {}
    unknown_kinds: set[str] = set()
    lineno = 1
    count = 0
    loads = orjson.loads
    carry = b""
    try:
        while True:
            # Whole blocks split at newlines: C-speed line splitting, memory bounded by the block
            # and MAX_LINE_BYTES. Only the file's very last line can lack its newline.
            block = fh.read(_BLOCK)
            if block:
                lines = (carry + block).split(b"\n") if carry else block.split(b"\n")
                carry = lines.pop()
                longest = max(map(len, lines)) if lines else 0
                if max(longest, len(carry)) > MAX_LINE_BYTES:
                    where = lineno + 1 + next((i for i, line in enumerate(lines) if len(line) > MAX_LINE_BYTES),
                                              len(lines))
                    raise FormatError(path, f"line {where} is longer than {MAX_LINE_BYTES} bytes")
                last = None
            else:
                lines = [carry] if carry else []
                last = len(lines) - 1
            for i, raw in enumerate(lines) if last is not None else zip(repeat(-1), lines):
                lineno += 1
                try:
                    record = loads(raw)
                except ValueError:
                    if not raw.strip():
                        continue
                    try:
                        # NaN and Infinity: orjson refuses them, Python's json.dumps writes them by
                        # default, so a hook's attributes may carry them.
                        record = json.loads(raw)
                    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                        if i == last:
                            # Written by a session that was killed mid-write: the prefix stands.
                            info.warnings.append(
                                f"line {lineno} is truncated (the session stopped while writing it); ignored"
                            )
                            break
                        where = f" ({exc.msg} at column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
                        raise FormatError(path, f"line {lineno} is not valid JSON{where}") from None
                if b"\\u0000" in raw:
                    record = _without_nul(record)
                if type(record) is not dict:
                    skipped["not a JSON object"] = skipped.get("not a JSON object", 0) + 1
                    continue
                if END_KEY in record:
                    ended = record
                    continue
                if HEADER_KEY in record:
                    skipped["a second header"] = skipped.get("a second header", 0) + 1
                    continue
                span = _span(record, run, make, unknown_kinds)
                if type(span) is _Skipped:
                    skipped[span] = skipped.get(span, 0) + 1
                    continue
                count += 1
                yield span
            else:
                if last is None:
                    continue  # a whole block read: on to the next one
            break  # the end of the file, or a truncated last line
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
    return count


def open_events(path: Path) -> SpanStream:
    """Open an event file: the header is checked now (FormatError), spans stream as iterated."""
    path = Path(path)
    try:
        fh = open_report_bytes(path)
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
    return SpanStream(info, lambda make: _spans(path, info, fh, header, make))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_PROFILING,
    description="CrossBridge profiling events (JSON Lines written by the pytest plugin, Robot listener and other hooks)",
    matches=_matches,
    open=open_events,
    priority=10,
)
