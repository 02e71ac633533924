"""Small value parsers shared by the format modules (numbers and times as real tools write them)."""

from __future__ import annotations

import codecs
import io
import math
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from itertools import accumulate, count
from operator import sub
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def to_float(value: object) -> float | None:
    """'1.5', '1,234.5', '0,25' (decimal comma), 1.5 -> float; junk, NaN and inf -> None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            f = float(value)
        except OverflowError:  # an integer beyond any float: JSON parsers give 400 digits as an int
            return None
    else:
        text = str(value).strip()
        if "," in text:
            text = text.replace(",", "") if "." in text else text.replace(",", ".")
        try:
            f = float(text)
        except ValueError:
            return None
    return f if math.isfinite(f) else None


def to_int(value: object) -> int | None:
    # The usual spelling ('26', a suite's tests=): read as it is, the same number as through a
    # float while it has at most 15 digits.
    if type(value) is str and len(value) <= 15 and value.isascii() and value.isdigit():
        return int(value)
    f = to_float(value)
    return int(f) if f is not None else None


# No test or run lasts a year: a longer time is junk (Jenkins' junit plugin clamps to a year
# likewise), and it keeps sums of durations finite.
MAX_SECONDS = 366 * 86400.0


def to_seconds(value: object, unit: float = 1.0) -> float | None:
    """A duration written in `unit`s of a second (1e-3: milliseconds) -> seconds. Junk, negative
    times (a clock set back during the run) and times beyond a year -> None."""
    f = to_float(value)
    if f is None or f < 0:
        return None
    f *= unit
    return f if f <= MAX_SECONDS else None


def to_line(value: object) -> int | None:
    """A source line number: a positive integer (one a 32-bit column holds), else None."""
    n = to_int(value)
    return n if n is not None and 0 < n < 2**31 else None


# Zone names a time may end in, as Java's SimpleDateFormat 'z' writes them (TestNG 7's
# "yyyy-MM-dd'T'HH:mm:ss z"), for the zones whose short name means one offset. Java gives some
# names to several zones (CST: Chicago and Shanghai; IST: India, Ireland and Israel; BST), and
# a time in such a zone, or any name not listed, is not read at all: a wrong guess would move it
# by hours without anyone seeing.
_ZONE_HOURS = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "HKT": 8, "SGT": 8, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11,
    "NZST": 12, "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7,
    "MDT": -6, "EST": -5, "EDT": -4,
}
# '... 10:00:00 UTC', '...:00 CEST', '...:00 GMT+05:30' (Java's name for a zone without one).
_ZONE_SUFFIX = re.compile(r"(?<=\d)\s*(?:([A-Za-z]{1,5})|(?:GMT|UTC)([+-])(\d{1,2})(?::?(\d{2}))?)$")


def _zone_offset(text: str) -> tuple[str, str | None] | None:
    """Split a trailing zone name off a time: (time, '+HH:MM'), (time, None) without one, or
    None for a name that does not tell a single offset."""
    m = _ZONE_SUFFIX.search(text)
    if not m:
        return text, None
    head = text[: m.start()]
    if m.group(1) is not None:
        hours = _ZONE_HOURS.get(m.group(1).upper())
        if hours is None:
            return None
        return head, f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00"
    return head, f"{m.group(2)}{int(m.group(3)):02d}:{m.group(4) or '00'}"


# The zone of the times a report writes without one. Robot Framework's output.xml, pytest's
# JUnit timestamp from 4.6.8 to 8.2 (8.3 adds the offset) and coverage.py's JSON timestamp are
# the writing machine's local time; Ant's and Gradle's JUnit timestamp is UTC. Nothing in the
# file tells which, so a drop's manifest says it ("timezone"); without one they are read as UTC.
@dataclass
class ReportClock:
    """The zone a drop named for its reports' times (None: it did not say, they are read as UTC),
    and whether a time without a zone was read under it."""

    zone: tzinfo | None = None
    unzoned: bool = False


_REPORT_CLOCK: ContextVar[ReportClock | None] = ContextVar("crossbridge_report_clock", default=None)


def parse_zone(value: object) -> tzinfo | None:
    """A time zone as a team names it: an IANA name ('Asia/Tokyo', whose rules know its summer
    time), 'UTC' or 'Z', or a fixed offset ('+05:30', '-0800'). None for anything else."""
    text = str(value).strip() if isinstance(value, str) else ""
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        if minutes >= 24 * 60:
            return None
        return timezone((-1 if m.group(1) == "-" else 1) * timedelta(minutes=minutes))
    if text.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    if not text or text.startswith(("/", ".")) or ".." in text:
        return None  # ZoneInfo takes a name, never a path
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@contextmanager
def using_report_zone(zone: tzinfo | None) -> Iterator[ReportClock]:
    """Within the block, parse_timestamp reads a time without a zone in `zone` (UTC when None);
    the block's ReportClock (report_clock()) tells whether it read one. Streams are lazy:
    iterate them inside the block, not only open them there."""
    token = _REPORT_CLOCK.set(ReportClock(zone))
    try:
        yield _REPORT_CLOCK.get()
    finally:
        _REPORT_CLOCK.reset(token)


def report_clock() -> ReportClock | None:
    """The ReportClock of the enclosing using_report_zone block, if any."""
    return _REPORT_CLOCK.get()


def parse_timestamp(value: object) -> datetime | None:
    """ISO 8601 in the spellings real reports use (a zone name at the end as TestNG 7 writes it:
    '2023-03-01T10:00:00 UTC'), or epoch seconds/milliseconds, as a UTC time; a time without a
    zone is in the zone of `using_report_zone` (UTC outside one). In a zone with summer time, an
    hour the clocks repeat reads as its first pass. Anything that is not a time, or lies outside
    the years datetime holds (in UTC too), is None; so is 0001-01-01T00:00:00, the zero time of
    Python, .NET and Go that their writers put where they had none (unittest-xml-reporting's
    suites of setUpClass errors)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = value / 1000.0 if value > 1e11 else float(value)
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, ValueError, OSError):  # 1e308, -1e308, nan, inf
            return None
    text = str(value).strip()
    split = _zone_offset(text)
    if split is None:
        return None
    text, offset = split
    # Python < 3.12 accepts at most 6 fractional digits (.NET writes 7).
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
    try:
        dt = datetime.fromisoformat((text.replace(" ", "T", 1) if "T" not in text else text) + (offset or ""))
        if dt.replace(tzinfo=None) == datetime.min:
            return None
        if dt.tzinfo is None:
            clock = _REPORT_CLOCK.get()
            if clock is None or clock.zone is None:
                if clock is not None:
                    clock.unzoned = True
                return dt.replace(tzinfo=timezone.utc)
            return dt.replace(tzinfo=clock.zone).astimezone(timezone.utc)
        dt.astimezone(timezone.utc)  # stored in UTC: 9999-12-31T23:00-05:00 is in year 10000 there
    except (ValueError, OverflowError):  # a time at the very ends of the years datetime holds
        return None
    return dt


def parse_clock_duration(value: object) -> float | None:
    """'00:00:00.1084258' or '1.02:03:04.5' (.NET TimeSpan, as TRX writes it) -> seconds."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.startswith("-"):  # a negative TimeSpan: no time a test took
        return None
    days = 0
    head, sep, rest = text.partition(":")
    if not sep:
        return to_seconds(text)
    if "." in head:  # d.hh:mm:ss
        d, _, head = head.partition(".")
        days = to_float(d) or 0.0
    parts = [head, *rest.split(":")]
    if len(parts) != 3:
        return None
    h, m, s = to_float(parts[0]), to_float(parts[1]), to_float(parts[2])
    if h is None or m is None or s is None:
        return None
    return to_seconds(days * 86400 + h * 3600 + m * 60 + s)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str | None) -> str | None:
    """Text without the terminal's color codes (Playwright's errors carry them into its reports)."""
    return _ANSI.sub("", text) if text and "\x1b" in text else text


def json_text(value: str | int | float | bool) -> str:
    """A JSON scalar as text, spelled as the JSON wrote it: true and false, not Python's True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def add_property(properties: dict[str, str], name: str, value: str) -> None:
    """Record a test's property. A name written again keeps every value, joined by ', ' (a test
    recording two TestRail cases under one name covers both), a value repeated once."""
    old = properties.get(name)
    properties[name] = value if old is None or old == value else f"{old}, {value}"


def first_line(text: str | None) -> str | None:
    """The first non-blank line of a failure text: a message when a format only gives the trace."""
    if not text:
        return None
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


def split_call(name: str, method: str | None = None) -> tuple[str, str | None]:
    """'Add(1, 2)' -> ('Add', '(1, 2)'): the parameter spelling of .NET and Java runners.

    With the bare method name known (xUnit/NUnit/TRX carry it), whatever follows it is the
    parameter part, generic arguments included ('Is<Int32>(3)')."""
    if method and name.startswith(method) and len(name) > len(method):
        return method, name[len(method):]
    if name.endswith(")") and "(" in name:
        i = name.index("(")
        if i > 0:
            return name[:i], name[i:]
    return name, None


_NOT_JSON_NUMBER = re.compile(r"""(?<![\w"'])-?(?:NaN|Infinity)\b""")


def json_error_reason(message: str) -> str:
    """Why the JSON parser refused a file, said for a user: a number too large for it is valid
    JSON it cannot read, and NaN and Infinity, which Python's json module writes, are not JSON."""
    if "overflow" in message:
        return f"malformed JSON: {message} (a number beyond 64-bit integers and doubles, which the parser cannot read)"
    if "lexical error" in message and _NOT_JSON_NUMBER.search(message):
        return f"malformed JSON: {message} (NaN and Infinity are not JSON numbers)"
    return f"malformed JSON: {message}"


@contextmanager
def json_errors(path):
    """Reading JSON with ijson: malformed JSON and unreadable files become FormatError naming
    the file and what the parser saw."""
    import ijson

    from crossbridge_assets.formats import FormatError

    try:
        yield
    except ijson.JSONError as exc:
        raise FormatError(path, json_error_reason(str(exc).strip() or type(exc).__name__)) from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"malformed JSON: not UTF-8 text at byte {exc.start}") from exc
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc}") from exc


# ---------------------------------------------------------------------------- opening

# Windows PowerShell 5.1 writes UTF-16LE with a byte order mark for `>` and Out-File (a mocha,
# Playwright or jest JSON report redirected to a file); `Set-Content -Encoding BigEndianUnicode`
# writes UTF-16BE. A UTF-32 mark (FF FE 00 00) is not UTF-16's: detection refuses it.
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def utf16_bom(head: bytes) -> str | None:
    """The codec of UTF-16 text that starts with its byte order mark, or None."""
    return None if head.startswith(b"\xff\xfe\x00\x00") else _UTF16_BOMS.get(head[:2])


class Utf16AsUtf8(io.RawIOBase):
    """A UTF-16 file read as the UTF-8 bytes of its text, without its byte order mark, as it is
    read: memory is that of one read. Text that is not UTF-16 (a lone surrogate, an odd number
    of bytes: a file cut short) is a FormatError naming the byte. Seeking (mocha's report after
    the tests' output starts some bytes in) counts UTF-8 bytes, and reads again to get there."""

    def __init__(self, fh, path, codec: str):
        super().__init__()
        self._fh, self._path, self._codec = fh, path, codec
        self._rewind()

    def _rewind(self) -> None:
        self._fh.seek(2)  # after the byte order mark
        self._decoder = codecs.getincrementaldecoder(self._codec)("strict")
        self._out = memoryview(b"")
        self._pos = 0  # of the next byte handed out, in UTF-8 bytes
        self._raw_pos = 2  # of the next byte read from the file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a transcoded UTF-16 file seeks from its start only")
        if offset < self._pos:
            self._rewind()
        skip = bytearray(min(max(offset - self._pos, 0), 1 << 16))
        while self._pos < offset and self.readinto(memoryview(skip)[: offset - self._pos]):
            pass
        return self._pos

    def readinto(self, buffer) -> int:
        while not self._out:
            # At most a MB of the file at a time: a 64 MB read (DepthCheckedReader, a long token)
            # is filled from several, each held as bytes, text and UTF-8 only while decoded.
            raw = self._fh.read(min(max(len(buffer), 2), 1 << 20))
            held = len(self._decoder.getstate()[0])  # bytes of a character the last read cut
            try:
                text = self._decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                from crossbridge_assets.formats import FormatError

                at = self._raw_pos - held + exc.start
                if not raw:
                    reason = (f"the file is UTF-16 text that ends in the middle of a character (byte {at:,}): "
                              "an odd number of bytes or half a surrogate pair, a file cut short")
                else:
                    reason = f"the file is UTF-16 text that is not valid UTF-16 at byte {at:,} ({exc.reason})"
                raise FormatError(self._path, reason) from None
            self._raw_pos += len(raw)
            if not raw:
                return 0
            self._out = memoryview(text.encode("utf-8"))
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        self._pos += n
        return n

    def close(self) -> None:
        super().close()
        self._fh.close()


def open_report_bytes(path):
    """A JSON or text report opened for reading as bytes: UTF-8 as they are in the file, or,
    for UTF-16 with a byte order mark, transcoded to UTF-8 as they are read. Every JSON and
    text reader opens its file here (and detection its head), so that all read the same
    bytes; offsets count those bytes. OSError as open()'s."""
    fh = open(path, "rb")
    try:
        codec = utf16_bom(fh.read(4))
        if codec is None:
            fh.seek(0)
            return fh
        return io.BufferedReader(Utf16AsUtf8(fh, path, codec), 1 << 16)
    except BaseException:
        fh.close()
        raise


# ---------------------------------------------------------------------------- JSON nesting

# ijson keeps the full prefix string of every open level, so its memory grows with the square
# of the depth (200,000 nested arrays in 400 KB took 23 GB). Real reports nest fewer than 64
# levels (a Playwright or mochawesome describe block adds two); 512 leaves room for odd ones,
# and there the prefixes take under a MB with ordinary keys (long keys on a deep path still
# multiply: depth x their bytes).
MAX_JSON_DEPTH = 512

_BRACKETS_ONLY = bytes(b for b in range(256) if b not in b'"[]{}')
_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_AS_STEPS = bytes.maketrans(b"()", b"\x02\x00")  # running sum minus position = depth


class JsonDepthCheck:
    """Follows the nesting of JSON text fed in pieces, with bytes methods only (no Python loop
    over characters: a few per cent of ijson's own time), and raises FormatError naming the
    file once it goes deeper than `limit`. Checked before ijson sees the bytes, since ijson
    parses a whole buffer before handing out its first event."""

    def __init__(self, path, limit: int = MAX_JSON_DEPTH):
        self.path = path
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the last piece ended in an odd run of backslashes
        self.seen = 0
        self.quoted = False  # the last piece held a string boundary (an unescaped quote)

    def feed(self, data: bytes) -> None:
        self.seen += len(data)
        self.quoted = False
        if self.escaped:
            data = data[1:]
        self.escaped = (len(data) - len(data.rstrip(b"\\"))) % 2 == 1
        if b"\\" in data:
            # Escaped backslashes first, then escaped quotes: the quotes left delimit strings.
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        # Quotes and brackets only. Dropping two adjacent quotes leaves every other character on
        # its side of the string boundaries, and most strings hold no bracket: few quotes stay.
        tokens = data.translate(_AS_PARENS, _BRACKETS_ONLY).replace(b'""', b"")
        if b'"' in tokens:
            self.quoted = True
            parts = tokens.split(b'"')
            brackets = b"".join(parts[1::2] if self.in_string else parts[::2])
            self.in_string ^= len(parts) % 2 == 0
        elif self.in_string:
            return
        else:
            brackets = tokens
        opens = brackets.count(b"(")
        room = self.limit - self.depth
        if opens > room and _peak(brackets, room) > room:
            from crossbridge_assets.formats import FormatError

            raise FormatError(
                self.path,
                f"JSON nested deeper than {self.limit} levels (within the first {self.seen:,} bytes); "
                "no report nests that deep, so the file is refused rather than parsed",
            )
        self.depth += 2 * opens - len(brackets)


def _peak(brackets: bytes, room: int) -> int:
    """The deepest point of a run of '(' and ')' relative to its start; exact when over `room`.

    Cheap bound first: removing '()' pairs round by round leaves ')..)(..(', and no point is
    deeper than the '(' left plus the rounds it took (the pairs enclosing it). Real reports
    nest a few levels within a buffer; the exact running sum is for the rest."""
    rest = brackets
    for rounds in range(16):
        shorter = rest.replace(b"()", b"")
        if len(shorter) == len(rest):
            bound = rest.count(b"(") + rounds
            if bound <= room:
                return bound
            break
        rest = shorter
    return max(map(sub, accumulate(brackets.translate(_AS_STEPS)), count(1)), default=0)


# What may end a read without cutting a token (a string, number or literal) in two.
_TOKEN_ENDS = b' \t\r\n{}[],:"'
_MAX_READ = 64 << 20


# A JSON escape: half of a surrogate pair (with the other half when it follows), or any other.
_ESCAPE = re.compile(rb"\\(?:(?P<high>u[dD][89abAB][0-9a-fA-F]{2})(?P<low>\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
                     rb"|(?P<lone>u[dD][c-fC-F][0-9a-fA-F]{2})|[\s\S])")
_HALF_PAIR = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONGEST_ESCAPE = 12  # a pair: \ud83d\udca5


def mend_surrogates(data: bytes, end: bool = True) -> tuple[bytes, bytes]:
    """JSON bytes with every escaped half of a surrogate pair whose other half is missing as
    '\\ufffd' (the replacement character, as many bytes): JavaScript's JSON.stringify writes one
    for a string cut inside an emoji, ijson's parser fails on it as text that is not UTF-8, and
    no database stores it. Returns (the mended bytes, bytes held back: an escape that the next
    read may finish); nothing is held back at the `end`. `data` starts outside an escape."""
    hold = len(data)
    if not end:
        start = max(0, len(data) - _LONGEST_ESCAPE)
        before = data[:start]
        run = len(before) - len(before.rstrip(b"\\"))  # backslashes just before `at`
        for at in range(start, len(data)):
            if data[at] != 0x5C:
                run = 0
            elif run % 2 == 0:  # a backslash that starts an escape, not one that ends '\\'
                hold = at
                break
            else:
                run += 1
    if not _HALF_PAIR.search(data, 0, hold):
        return data[:hold], data[hold:]
    out, done = [], 0
    for m in _ESCAPE.finditer(data):
        if m.start() >= hold:
            break
        if (m["high"] and not m["low"]) or m["lone"]:
            out += [data[done:m.start()], b"\\ufffd"]
            done = m.end()
        hold = max(hold, m.end())  # a pair whose second half is in the bytes held back
    out.append(data[done:hold])
    return b"".join(out), data[hold:]


class DepthCheckedReader:
    """A binary file whose reads go through JsonDepthCheck on their way to ijson, without the
    UTF-8 byte order mark that Windows tools (PowerShell, .NET) put first: JSON parsers refuse it.

    ijson's parser (yajl) lexes a token that a read cut from the token's start again on every
    read that does not end it: a 200 MB string took minutes, 20 MB of digits as many seconds.
    A read that holds no end of the token the last one cut is followed by one twice as long (to
    64 MB), so that a long token is lexed a few times, not thousands; ordinary ones keep the
    size ijson asks for."""

    def __init__(self, fh, path):
        self._fh = fh
        self._check = JsonDepthCheck(path)
        self._first = True
        self._cut = False  # the last read ended inside a token
        self._size = 0  # of the last read, while one token spans whole reads
        self._held = b""  # an escape the last read may have cut (mend_surrogates)

    def read(self, size: int = -1) -> bytes:
        if size > 0 and self._size:
            size = self._size = min(max(size, self._size * 2), _MAX_READ)
        data = self._fh.read(size)
        if self._first and data:  # ijson reads 0 bytes first, to learn the file's mode
            self._first = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:] or self._fh.read(size)
        while size != 0 and (self._held or b"\\" in data):
            end = size < 0 or not data
            data, self._held = mend_surrogates(self._held + data, end)
            if data or end:
                break
            data = self._fh.read(size)  # all of it held back: an empty read would say the file ended
        check = self._check
        was_in_string = check.in_string
        check.feed(data)
        spans = False
        if self._cut and size > 0 and data:
            if was_in_string:
                spans = check.in_string and not check.quoted
            else:
                spans = len(data.translate(None, _TOKEN_ENDS)) == len(data)
        self._cut = bool(data) and (check.in_string or data[-1] not in _TOKEN_ENDS)
        self._size = (self._size or size) if spans else 0
        return data


_LONG_DIGITS = re.compile(rb"[0-9]{4000}")


def json_head_events(data: bytes, path):
    """ijson.basic_parse events of JSON bytes in memory (a detection head), after checking the
    nesting (FormatError). basic_parse builds no prefixes: its memory stays that of the data.

    ijson's C parser converts an integer past 64 bits with int(), and one of over 4,300 digits
    (Python's limit for int()) crashed the interpreter: a head with such a run of digits is
    parsed as the readers parse files (use_float), where the parser refuses the number itself."""
    import ijson

    JsonDepthCheck(path).feed(data)
    data = mend_surrogates(data)[0]
    return ijson.basic_parse(io.BytesIO(data), use_float=_LONG_DIGITS.search(data) is not None)


def json_object_items(path, prefix: str = ""):
    """Stream the (key, value) pairs of the JSON object at the ijson `prefix` ('' for the top
    level): one value in memory at a time. Errors as json_errors, nesting as JsonDepthCheck."""
    import ijson

    with json_errors(path), open_report_bytes(path) as fh:
        yield from ijson.kvitems(DepthCheckedReader(fh, path), prefix, use_float=True)


# mocha's JSON reporter writes to stdout (mocha 8 always, later ones without --reporter-option
# output=): redirected to a file, what the tests printed comes first, whole lines, then its report,
# which JSON.stringify(.., null, 2) starts so.
_MOCHA_JSON_START = re.compile(rb'\{\r?\n  "stats": \{')


def json_after_output(head: bytes) -> int | None:
    """Where mocha's JSON report starts in the head of a file that other output begins (a test's
    console.log of an object, '{ a: 1 }', as well), or None."""
    if _MOCHA_JSON_START.match(head.lstrip(b"\xef\xbb\xbf \t\r\n")):
        return None  # the report itself
    match = re.search(rb"\n" + _MOCHA_JSON_START.pattern, head)
    return match.start() + 1 if match else None


def json_items(path, wanted, offset: int = 0):
    """Stream the JSON values found at the ijson prefixes in `wanted` (e.g. 'suites.item',
    'stats'), in document order, as (prefix, value) pairs: one value in memory at a time; the
    JSON starts `offset` bytes in. Errors as json_errors, nesting as JsonDepthCheck."""
    import ijson

    wanted = set(wanted)
    with json_errors(path), open_report_bytes(path) as fh:
        fh.seek(offset)
        builder = None
        depth = 0
        at = ""
        for prefix, event, value in ijson.parse(DepthCheckedReader(fh, path), use_float=True):
            if offset and not prefix and event == "end_map":
                return  # what was printed after the report (a timer the tests left) is no report
            if builder is None:
                if prefix not in wanted or event in ("map_key", "end_map", "end_array"):
                    continue
                if event in ("start_map", "start_array"):
                    builder, depth, at = ijson.ObjectBuilder(), 0, prefix
                else:
                    yield prefix, value
                    continue
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    yield at, builder.value
                    builder = None


def json_events(path):
    """ijson.basic_parse events of a JSON file, for readers that walk the document themselves
    (to hand out what they read before the enclosing value has ended). Errors as json_errors,
    nesting as JsonDepthCheck."""
    import ijson

    with json_errors(path), open_report_bytes(path) as fh:
        yield from ijson.basic_parse(DepthCheckedReader(fh, path), use_float=True)


def json_value(events, event: str, value):
    """The value that starts with (event, value), built from the events that follow it."""
    if event not in ("start_map", "start_array"):
        return value
    import ijson

    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for event, value in events:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def json_skip(events, event: str) -> None:
    """Pass over the value that starts with `event`, building nothing."""
    if event not in ("start_map", "start_array"):
        return
    depth = 1
    for event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return


def rsplit_member(full: str) -> tuple[str, str]:
    """'Ns.Fixture(1.5).Method(2.5, "a.b")' -> ('Ns.Fixture(1.5)', 'Method(2.5, "a.b")'): split at
    the last dot outside brackets and quotes, where .NET and Java full test names put the method."""
    depth = 0
    quote = None
    cut = -1
    for i, ch in enumerate(full):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([<{":
            depth += 1
        elif ch in ")]>}":
            depth = max(0, depth - 1)
        elif ch == "." and depth == 0:
            cut = i
    return (full[:cut], full[cut + 1 :]) if cut >= 0 else ("", full)
