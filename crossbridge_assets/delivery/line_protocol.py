"""Spans as InfluxDB line protocol points.

One point per span, identified by measurement + tag set + timestamp, so writing the same span
twice overwrites it instead of adding a second point:

- the timestamp is the span's start in nanoseconds; the hooks write microseconds, so the last
  three digits are free and carry ``seq % 1000``, which keeps two spans of one series that
  started in the same microsecond apart;
- tags are low-cardinality (kind, span_name, project, branch, status, framework). A per-span tag
  (span id) would make every span its own series: InfluxDB 1.x indexes every series in memory
  and caps a database at one million series by default. The span id, run and test go in fields.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from crossbridge_assets.model import Span

MEASUREMENT = "crossbridge_span"
MAX_TAG_CHARS = 256
MAX_FIELD_CHARS = 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)

_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": " ", "\r": " ", "\t": " "})
_FIELD_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": " "})


def tag_value(value: object) -> str | None:
    """Escaped tag value, or None when empty (line protocol has no empty tag values)."""
    text = str(value).strip()[:MAX_TAG_CHARS] if value is not None else ""
    # A trailing backslash would escape the separator that follows it.
    text = text.rstrip("\\")
    return text.translate(_TAG_ESCAPES) if text else None


def field_string(value: object) -> str:
    return '"' + str(value)[:MAX_FIELD_CHARS].translate(_FIELD_ESCAPES) + '"'


def timestamp_ns(start: datetime, seq: int) -> int:
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return ((start - _EPOCH) // _MICRO) * 1000 + seq % 1000


class SpanLines:
    """Builds the points of one event file: the run-level tags (project, branch, framework) and
    fields (run id, build, commit) are escaped once, the span adds kind, span_name and status
    tags ("name" is an InfluxQL keyword: it would need quoting in every query) and its own fields."""

    def __init__(self, tags: dict[str, object], fields: dict[str, object]):
        self.tags = {k: v for k, v in ((k, tag_value(v)) for k, v in tags.items()) if v is not None}
        self.fields = "".join(f",{k}={field_string(v)}" for k, v in fields.items() if v not in (None, ""))
        self._escaped: dict[object, str | None] = {}

    def _tag(self, value: object) -> str | None:
        escaped = self._escaped.get(value, _MISSING)
        if escaped is _MISSING:
            if len(self._escaped) > 50_000:  # names are bounded in practice; memory is bounded always
                self._escaped.clear()
            escaped = self._escaped[value] = tag_value(value)
        return escaped

    def line(self, span: Span, seq: int, span_key: str) -> str:
        tagset = dict(self.tags)
        tagset["kind"] = self._tag(span.kind)
        tagset["span_name"] = self._tag(span.name)
        tagset["status"] = self._tag(span.status)
        # Sorted tags are what the server would otherwise sort.
        tags = ",".join(f"{k}={tagset[k]}" for k in sorted(tagset) if tagset[k] is not None)
        values = f"duration_ms={span.duration * 1000.0!r},span_key=\"{span_key}\"" + self.fields
        if span.span_id:
            values += f",span_id={field_string(span.span_id)}"
        if span.parent_id:
            values += f",parent_id={field_string(span.parent_id)}"
        if span.run:
            values += f",session={field_string(span.run)}"
        if span.test:
            values += f",test={field_string(span.test)}"
        return f"{MEASUREMENT},{tags} {values} {timestamp_ns(span.start, seq)}"


_MISSING = object()


def point_context(tags: dict[str, object], fields: dict[str, object], session: str | None) -> str:
    """The run-level part of a file's points as the outbox keeps it beside a range of spans:
    SpanLines tags and fields, and the session (the span's `run`)."""
    return json.dumps({"tags": tags, "fields": fields, "session": session}, sort_keys=True,
                      separators=(",", ":"), default=str)


def lines_for(context: str) -> tuple[SpanLines, str | None]:
    """SpanLines and session back from point_context's text."""
    value = json.loads(context)
    return SpanLines(value.get("tags") or {}, value.get("fields") or {}), value.get("session")


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, object], int]:
    """(measurement, tags, fields, timestamp) of one line protocol point as SpanLines writes them
    (string, float and integer fields), escapes undone."""

    def split(text: str, sep: str, quotes: bool) -> list[str]:
        parts, cur, i, quoted = [], [], 0, False
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i : i + 2])
                i += 2
                continue
            if quotes and c == '"':
                quoted = not quoted
            if c == sep and not quoted:
                parts.append("".join(cur))
                cur = []
            else:
                cur.append(c)
            i += 1
        parts.append("".join(cur))
        return parts

    def unescape(text: str, newline: bool = False) -> str:
        out, i = [], 0
        while i < len(text):
            if text[i] == "\\" and i + 1 < len(text):
                out.append("\n" if newline and text[i + 1] == "n" else text[i + 1])
                i += 2
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    head, field_text, stamp = split(line, " ", True)
    measurement, *tag_parts = split(head, ",", False)
    tags = {unescape(k): unescape(v) for k, v in (p.split("=", 1) for p in tag_parts)}
    fields: dict[str, object] = {}
    for part in split(field_text, ",", True):
        key, value = part.split("=", 1)
        if value.startswith('"'):
            fields[unescape(key)] = unescape(value[1:-1], newline=True)
        else:
            fields[unescape(key)] = float(value) if "." in value or "e" in value else int(value.rstrip("i"))
    return unescape(measurement), tags, fields, int(stamp)


def span_line(span: Span, seq: int, span_key: str, tags: dict[str, object], fields: dict[str, object]) -> str:
    """One point on its own (SpanLines is the fast path for a whole file)."""
    return SpanLines(tags, fields).line(span, seq, span_key)
