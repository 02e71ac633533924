"""Pure report parsers: one module a format, streaming, no Dagster imports.

Each format module defines a module-level ``SPEC = FormatSpec(...)``. Modules are discovered
here, so adding a format means adding one file. Detection looks at the content (root element,
JSON shape), never at the file extension alone.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Callable, Union

from crossbridge_assets.model import CoverageStream, ResultStream, SpanStream

SNIFF_BYTES = 256 * 1024
_XML_ENCODING = re.compile(r"""^(<\?xml[^>]*?\bencoding\s*=\s*["'])[^"']*(["'])""")


class FormatError(Exception):
    """A permanent problem with one report: malformed, unknown or hostile. Never retried."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        # One line: the reason ends up in a terminal line, a table cell and a check description.
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


class UnknownFormat(FormatError):
    pass


@dataclass(slots=True)
class Sniff:
    """What detection may look at: the head of the file, parsed as far as it goes."""

    path: Path
    head: bytes
    xml_root: str | None = None  # local name of the root element
    xml_attrs: dict[str, str] = field(default_factory=dict)
    xml_namespace: str | None = None
    json_type: str | None = None  # "object" | "array" | "jsonl"
    json_prefixes: set[str] = field(default_factory=set)  # ijson prefixes seen in the head
    json_values: dict[str, object] = field(default_factory=dict)  # scalar values at depth <= 3
    text: str = ""  # the head decoded, for line-based formats
    json_error: str | None = None  # the head is not JSON at all (not merely cut short)
    json_offset: int = 0  # where the JSON starts after other output (_common.json_after_output)

    def has(self, *prefixes: str) -> bool:
        return all(p in self.json_prefixes for p in prefixes)


Stream = Union[ResultStream, CoverageStream, SpanStream]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    name: str
    kind: str  # model.KIND_*
    description: str
    matches: Callable[[Sniff], bool]
    open: Callable[[Path], Stream]
    priority: int = 100  # lower is tried first; specific dialects before generic ones


@cache
def registry() -> tuple[FormatSpec, ...]:
    specs = []
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, FormatSpec):
            specs.append(spec)
    return tuple(sorted(specs, key=lambda s: (s.priority, s.name)))


def supported() -> str:
    return ", ".join(f"{s.name} ({s.kind})" for s in registry())


def sniff(path: Path) -> Sniff:
    from crossbridge_assets.formats._xml import sniff_root, wide_encoding

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    s = Sniff(path=path, head=head)
    codec = wide_encoding(head)
    text = head.decode(codec, "replace").lstrip("\ufeff \t\r\n") if codec else None
    if text is not None and text[:1] != "<" and codec == "utf-16":
        # JSON or text in UTF-16 with a byte order mark (PowerShell 5.1's `>` and Out-File): the
        # readers open it transcoded to UTF-8 (_common.open_report_bytes), and detection reads
        # the head they will read.
        from crossbridge_assets.formats._common import open_report_bytes

        try:
            with open_report_bytes(path) as fh:
                head = fh.read(SNIFF_BYTES)
        except OSError as exc:
            raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
        s.head = head
        codec = None
    if codec is not None:
        # Windows tools (PowerShell's redirection, some .NET reporters) write XML in UTF-16.
        # libxml2 reads it (and UTF-32) by its byte order mark or first bytes.
        if not text:
            raise FormatError(path, "the file is empty")
        if text[:1] != "<":
            raise FormatError(path, "the file is UTF-32 text: only XML reports are read in UTF-32, "
                                    "JSON and text reports must be UTF-8 or UTF-16")
        if codec == "utf-32":
            # libxml2 takes its byte order mark for UTF-16's and fails at the first character.
            raise FormatError(path, "the file is UTF-32 with a byte order mark, which the XML parser does not "
                                    "read: XML reports are read in UTF-8, UTF-16 or UTF-32 without one")
        # The detectors look at UTF-8 bytes: they get the head as such, its declaration saying so.
        s.text = _XML_ENCODING.sub(r"\1UTF-8\2", text, count=1)
        s.head = s.text.encode("utf-8")
        sniff_root(s)
        return s
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FormatError(path, "the file is empty")
    if _bare_utf16(stripped):
        raise FormatError(path, "the file is UTF-16 text without a byte order mark: JSON and text reports "
                                "must be UTF-8, or UTF-16 that starts with its byte order mark")
    s.text = head.decode("utf-8", errors="replace")
    first = stripped[:1]
    if first == b"<":
        sniff_root(s)
    elif first in (b"{", b"["):
        _sniff_json(s, stripped)
    if s.xml_root is None and (s.json_type is None or s.json_error):
        # Not a report from its first byte: mocha's JSON reporter on stdout, after the tests' output?
        from crossbridge_assets.formats._common import json_after_output

        start = json_after_output(head)
        if start is not None:
            s.json_type, s.json_error, s.json_offset = None, None, start
            s.json_prefixes.clear()
            s.json_values.clear()
            _sniff_json(s, head[start:])
    return s


def _bare_utf16(head: bytes) -> bool:
    """JSON or text in UTF-16 without a byte order mark (.NET's Encoding.Unicode.GetBytes, a
    PowerShell pipe): a NUL byte with each ASCII character. XML is told by its first bytes."""
    probe = head[:16]
    if len(probe) < 8 or probe[:1] == b"<" or probe[1:2] == b"<":
        return False
    for chars, nuls in ((probe[0::2], probe[1::2]), (probe[1::2], probe[0::2])):
        if not nuls.strip(b"\x00") and b"\x00" not in chars and chars.isascii():
            return True
    return False


def _sniff_json(s: Sniff, data: bytes) -> None:
    import ijson

    from crossbridge_assets.formats._common import json_head_events

    s.json_type = "array" if data[:1] == b"[" else "object"
    # JSON Lines: several top-level objects, one a line.
    first_line, _, rest = data.partition(b"\n")
    if s.json_type == "object" and rest.strip()[:1] == b"{" and first_line.rstrip().endswith(b"}"):
        s.json_type = "jsonl"
        data = first_line
    # ijson's prefixes, built for the first levels only (ijson.parse builds one for every open
    # level, which costs the square of the depth); json_head_events refuses hostile nesting.
    events = json_head_events(data, s.path)
    prefixes: list[str | None] = [""]  # of a value at each open level; None below level 4
    try:
        for event, value in events:
            if event == "map_key":
                prefix = prefixes[-2]
                prefixes[-1] = None if prefix is None or len(prefixes) > 5 else f"{prefix}.{value}" if prefix else value
            elif event in ("end_map", "end_array"):
                prefixes.pop()
                continue  # the prefix of its start event
            else:
                prefix = prefixes[-1]
                if event == "start_map":
                    prefixes.append(None)
                elif event == "start_array":
                    deep = prefix is None or len(prefixes) > 4
                    prefixes.append(None if deep else f"{prefix}.item" if prefix else "item")
            if prefix is None or prefix.count(".") > 3:
                continue
            s.json_prefixes.add(prefix)
            if event in ("string", "number", "boolean") and prefix not in s.json_values:
                s.json_values[prefix] = value
    except ijson.common.IncompleteJSONError as exc:
        # Ending mid-document is expected when only the head of a big file was read; anything
        # else (a lexical error, or a whole file that stops short) is malformed JSON.
        message = " ".join(str(exc).split())
        cut_short = "premature" in message.lower() or "incomplete" in message.lower()
        if not cut_short or len(s.head) < SNIFF_BYTES:
            s.json_error = message[:200] or "incomplete JSON"
    except Exception as exc:  # noqa: BLE001 - ijson's errors for invalid JSON vary by backend
        s.json_error = " ".join(str(exc).split())[:200] or type(exc).__name__


# Archives and compressed files, as CI artifacts often come (a report.xml that is a zip).
_PACKED = (
    (b"\x1f\x8b", "gzip-compressed"),
    (b"PK\x03\x04", "a zip archive"),
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)


_GO_PROFILE = re.compile(r"mode: (?:set|count|atomic)\r?\n")


def _known_unread(s: Sniff) -> str | None:
    """What a report of a format that is not read is, and what to write instead: files users
    upload that would otherwise only be 'matching no supported format' (or, for Clover, be taken
    for the Cobertura whose root element it shares)."""
    if s.json_type == "object" and "suite" in s.json_prefixes and re.match(
        r"(?:Robot|Rebot) \d", str(s.json_values.get("generator", ""))
    ):
        # RF 7.2+'s `--output output.json` (and rebot's): a suite's name comes after its tests
        # there, so its tests could not go out as they are read.
        return ("Robot Framework JSON output is not read; write output.xml (robot --output output.xml), "
                "or turn this file into one with rebot --output output.xml FILE")
    if s.xml_root == "coverage" and not s.xml_namespace and "generated" in s.xml_attrs and b"<project" in s.head:
        # PHPUnit's --coverage-clover, Devel::Cover::Report::Clover, OpenClover, kover.
        return ("Clover XML (<coverage generated=…><project>) is not read; have the tool write Cobertura "
                "(PHPUnit: --coverage-cobertura) or LCOV")
    if s.xml_root is None and s.json_type is None and _GO_PROFILE.match(s.text.lstrip("\ufeff")):
        return ("a Go coverage profile (go test -coverprofile) is not read; convert it to Cobertura "
                "(gocover-cobertura) or LCOV (gcov2lcov)")
    if s.json_type == "object" and s.has("gcc_version", "format_version", "files"):
        return ("gcov's JSON (gcov --json-format) is not read; have gcovr (--cobertura, --lcov) or lcov write "
                "the coverage of the same .gcda files")
    if s.json_type == "object" and s.has("files.item.covered_lines", "percent_low", "percent_high", "command"):
        return ("kcov's coverage.json (its summary) is not read; upload the cobertura.xml kcov writes beside it")
    if s.json_type == "object" and s.has("runs.item.perl", "summary.Total"):
        return ("Devel::Cover's JSON (cover -report json) is not read; have it write Cobertura "
                "(Devel::Cover::Report::Cobertura) or LCOV (Devel::Cover::Report::Lcov)")
    if s.json_type == "object" and any(
        p.count(".") == 1 and p.endswith(".coverage") and f"{p[:-9]}.timestamp" in s.json_prefixes
        for p in s.json_prefixes
    ):
        return ("SimpleCov's .resultset.json is not read; have SimpleCov write Cobertura (simplecov-cobertura) "
                "or LCOV (simplecov-lcov)")
    return None


def detect(path: Path | str) -> FormatSpec:
    s = sniff(Path(path))
    for spec in registry():
        try:
            if spec.matches(s):
                return spec
        except Exception:  # noqa: BLE001 - a detector must never decide for another format
            continue
    if s.json_error:
        from crossbridge_assets.formats._common import json_error_reason

        raise FormatError(path, json_error_reason(s.json_error))
    packed = next((what for magic, what in _PACKED if s.head.startswith(magic)), None)
    if packed:
        raise UnknownFormat(path, f"unknown format: the file is {packed}, not a report; upload the reports it holds")
    if s.xml_root is None and len(s.head) >= SNIFF_BYTES and s.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        raise UnknownFormat(path, f"unknown format: XML whose first element does not end within its first "
                                  f"{SNIFF_BYTES // 1024} KiB (no report's does)")
    if s.json_type == "jsonl" and "meta.protocolVersion" in s.json_prefixes:
        # Cucumber's --format message file: every Cucumber writes its first line so.
        raise UnknownFormat(path, "unknown format: Cucumber Messages (NDJSON) are not read; have Cucumber write "
                                  "--format json (or junit) for the same run")
    known = _known_unread(s)
    if known:
        raise UnknownFormat(path, f"unknown format: {known}")
    what = (
        f"root element <{s.xml_root}>"
        if s.xml_root
        else f"JSON {s.json_type}"
        if s.json_type
        else "content"
    )
    raise UnknownFormat(path, f"unknown format ({what} matches no supported format); supported: {supported()}")


def open_report(path: Path | str) -> Stream:
    """Detect the format and open a stream over the report. Errors are FormatError."""
    path = Path(path)
    spec = detect(path)
    return spec.open(path)


def read_report(path: Path | str) -> tuple[FormatSpec, Stream, list]:
    """Read a whole report (for the CLI and small files): spec, stream (exhausted), records."""
    path = Path(path)
    spec = detect(path)
    stream = spec.open(path)
    records = stream.read_all()
    return spec, stream, records
