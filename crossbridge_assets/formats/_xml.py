"""Hostile-input-safe XML streaming shared by the XML formats.

Every report is treated as hostile: no external entities, no DTD loading, no network,
libxml2's default limits on entity amplification and tree size kept on (huge_tree=False) for
any document with a DOCTYPE; one without cannot declare entities and may hold huge text.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Iterable, Iterator

from lxml import etree

from crossbridge_assets.formats import FormatError, Sniff

SAFE = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False)


# Reports use a handful of distinct tags, met millions of times: remember their local names.
# Bounded, so that a hostile file with endless distinct tags cannot grow it.
_LOCAL_NAMES: dict[object, str] = {}
_LOCAL_NAMES_MAX = 1024


def local(tag: object) -> str:
    """Local name of an element tag ('{ns}name' -> 'name'); comments/PIs give ''."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
        if len(_LOCAL_NAMES) < _LOCAL_NAMES_MAX:
            _LOCAL_NAMES[tag] = name
    return name


# A document in UTF-32 or UTF-16, as libxml2 tells them (XML 1.0, appendix F): by the byte order
# mark, or, without one, by how '<' (UTF-32) or a declaration's '<?' (UTF-16) is written.
_WIDE = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


def wide_encoding(head: bytes) -> str | None:
    """The codec of a document in UTF-16 (as Windows tools write XML) or UTF-32, or None."""
    for start, codec in _WIDE:
        if head.startswith(start):
            return codec
    return None


def wide_text(head: bytes) -> str | None:
    """The head of a UTF-16 or UTF-32 document decoded, or None when it is in neither."""
    codec = wide_encoding(head)
    if codec is None:
        return None
    return head.decode(codec, "replace").lstrip("\ufeff")


PROLOG_BYTES = 64 * 1024
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]{1,100})["']""")
_ASCII_SUPERSETS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "windows-1252", "cp1252"}


def _declared_text(path: Path, head: bytes) -> str | None:
    """The head decoded as its declaration says, when that spells markup otherwise than its
    bytes do (UTF-7 may write '<' as '+ADw-', and libxml2 decodes it); None when it is the same
    text. An encoding Python does not know is refused: libxml2 may know it (iconv's aliases, as
    'CSUNICODE11UTF7'), and what it decodes could not be checked."""
    m = _ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
    if not m:
        return None
    name = m.group(1).decode("ascii").lower()
    if name in _ASCII_SUPERSETS:
        return None
    try:
        text = head.decode(name, "replace")
    except LookupError:
        raise FormatError(path, f"refused: the declared encoding '{m.group(1).decode('ascii')}' is not one "
                                "reports are read in (UTF-8, UTF-16, or another Python knows)") from None
    except ValueError:
        return None
    return None if text == head.decode("latin-1") else text


# What may come before the root element, in the order libxml2 reads it. A comment, a processing
# instruction and a quoted literal (a DOCTYPE's system id, an entity value, an attribute default)
# are passed over whole, from their start to their own end, so that none hides a declaration
# from this check ('<?x <!-- ?><!ENTITY ...><!-- -->': the PI ends first) nor fakes one.
_PROLOG_TOKEN = re.compile(rb"""<!--|<\?|["']|<!ENTITY\b|<!|<""", re.I)
_TOKEN_END = {b"<!--": b"-->", b"<?": b"?>", b'"': b'"', b"'": b"'"}
_ENTITY_DECL = re.compile(rb"<!ENTITY\s*(%\s*)?([^\s>]*)", re.I)


def check_prolog(path: Path, head: bytes) -> bool:
    """Refuse a document whose DOCTYPE declares entities, before libxml2 sees any of it.

    No report format needs entity declarations; they are how XXE (file:// or http:// entities)
    and entity-expansion bombs are written. A DOCTYPE that only names an external DTD (Cobertura,
    JaCoCo) is accepted: it is never loaded (load_dtd=False, no_network=True). So is a document
    in UTF-16 or UTF-32, read decoded; one declaring an encoding Python does not know is refused,
    as its declarations could not be seen.

    Returns True when the head holds the whole prolog and it has no DOCTYPE (nor anything left
    open): such a document cannot declare an entity, so libxml2's size limits, there against
    expansion bombs, can be lifted for it (a test's captured output may exceed 10 MB)."""
    full = len(head) >= PROLOG_BYTES  # the file goes on past the head
    text = wide_text(head)
    if text is not None:
        return _check_prolog(path, text.encode("utf-8", "replace"), full)
    plain = _check_prolog(path, head, full)
    text = _declared_text(path, head)
    if text is not None:
        # Checked both ways: libxml2 may trust the declaration or the bytes.
        plain = _check_prolog(path, text.encode("utf-8", "replace"), full) and plain
    return plain


def _check_prolog(path: Path, head: bytes, full: bool) -> bool:
    declarations = False  # a DOCTYPE (or anything else that starts '<!') met
    pos = 0
    while (m := _PROLOG_TOKEN.search(head, pos)) is not None:
        token = m.group()
        end_mark = _TOKEN_END.get(token)
        if end_mark is not None:
            end = head.find(end_mark, m.end())
            if end < 0:
                break  # left open in the head
            pos = end + len(end_mark)
            declarations |= token in (b'"', b"'")  # literals belong to declarations
        elif token == b"<":
            return not declarations  # the root element
        elif token.startswith(b"<!E") or token.startswith(b"<!e"):
            decl = _ENTITY_DECL.match(head, m.start())
            kind = "parameter entity" if decl.group(1) else "entity"
            name = decl.group(2).decode("utf-8", "replace")[:60]
            raise FormatError(
                path,
                f"refused: the DOCTYPE declares the {kind} '{name}'; entity declarations are not allowed "
                "in reports (external-entity or entity-expansion attack)",
            )
        else:
            declarations = True
            pos = m.end()
    if full:
        # The prolog goes on past the head: whatever follows could declare entities, unseen here.
        if declarations:
            raise FormatError(path, f"refused: the DOCTYPE is longer than {PROLOG_BYTES // 1024} KiB")
        raise _long_prolog(path)
    return False  # no root element in the whole file: libxml2 says what is wrong


def _long_prolog(path: Path) -> FormatError:
    return FormatError(
        path,
        f"refused: more than {PROLOG_BYTES // 1024} KiB of whitespace, comments or declarations before "
        "the root element; no report starts so, and the rest of such a prolog could declare entities",
    )


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(PROLOG_BYTES)
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc


# Characters XML does not allow, as real writers leave them in captured output and messages: raw
# control bytes (mocha's xunit reporter: a terminal's colour codes), U+FFFE and U+FFFF (Surefire
# 3.5: binary a test printed) and references to control characters (&#27;). libxml2 refuses a
# whole document for one; they are read as U+FFFD, colour codes left out (readers strip them).
# NUL is not among them: a document holding one stays refused, as a hostile one.
_CONTROL_REF = rb"&#(?:[xX]0*(?:[1-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[1-8]|1[124-9]|2[0-9]|3[01]));"
_NOT_XML = re.compile(rb"(\x1b\[[0-9;]*[A-Za-z])|[\x01-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]|(" + _CONTROL_REF + rb")")
_MAY_GO_ON = re.compile(rb"[&\x1b\xef]")  # what starts one of them
# Nearly no report holds one, and _NOT_XML's alternation scans at a fraction of libxml2's pace
# (it tripled the time to read a JUnit report): a scan at C speed tells first. Deleting every
# byte that can be in none of them leaves nothing, or only the '#' of a reference such as &#10;.
_IN_NONE = bytes(b for b in range(256) if not ((0x01 <= b <= 0x1F and b not in (0x09, 0x0A, 0x0D)) or b in b"\xef#"))
_HAS_CONTROL_REF = re.compile(_CONTROL_REF)
_LONGEST_NOT_XML = 32


def _may_hold_not_xml(data: bytes, before: bytes = b"") -> bool:
    """False when `data` surely holds none of _NOT_XML (the scan at C speed); `before`, the bytes
    read just before it, where a reference may have begun (its '#' among them)."""
    left = data.translate(None, _IN_NONE)
    if not left and b"#" not in before:
        return False
    return bool(left.strip(b"#") or _HAS_CONTROL_REF.search(before + data))


def _replacement(m: re.Match) -> bytes:
    return b"" if m.group(1) else b"&#xFFFD;" if m.group(2) else "\ufffd".encode()


def mend_xml(data: bytes, end: bool = True) -> tuple[bytes, bytes]:
    """XML bytes (UTF-8 or a one-byte encoding) with the characters XML does not allow (_NOT_XML)
    mended. Returns (the mended bytes, bytes held back: what the next read may finish); nothing
    is held back at the `end`."""
    hold = len(data)
    if not end:
        m = _MAY_GO_ON.search(data, max(0, len(data) - _LONGEST_NOT_XML))
        if m is not None:
            hold = m.start()
    done = data[:hold]
    if _may_hold_not_xml(done) and _NOT_XML.search(done):
        done = _NOT_XML.sub(_replacement, done)
    return done, data[hold:]


class _Mended:
    """A report opened for libxml2 with the characters XML does not allow mended as it is read."""

    def __init__(self, fh):
        self._fh = fh
        self._held = b""

    def read(self, size: int = -1) -> bytes:
        while True:
            data = self._fh.read(size)
            end = size < 0 or not data
            data, self._held = mend_xml(self._held + data, end)
            if data or end:
                return data


_SCAN = 1 << 20


def _needs_mending(path: Path, head: bytes) -> bool:
    """Whether the report holds a character XML does not allow (_NOT_XML), read at C speed
    (about a twentieth of libxml2's time): a report that holds none is parsed from its path, as
    fast as libxml2 reads, and only the rare one that does is read through _Mended.
    UTF-16 and UTF-32 hold zero bytes everywhere: only a one-byte or UTF-8 document is mended."""
    if wide_encoding(head) is not None:
        return False
    with open(path, "rb") as fh:
        tail = b""
        while chunk := fh.read(_SCAN):
            if _may_hold_not_xml(chunk, tail):
                return True
            tail = chunk[-_LONGEST_NOT_XML:]
    return False


def iterparse(path: Path, events: Iterable[str] = ("end",), tag=None) -> Iterator[tuple[str, etree._Element]]:
    """lxml iterparse with safe settings; parse errors become FormatError naming file and position."""
    head = _read_head(path)
    plain = check_prolog(path, head)
    try:
        with contextlib.ExitStack() as stack:
            source = _Mended(stack.enter_context(open(path, "rb"))) if _needs_mending(path, head) else str(path)
            ctx = etree.iterparse(source, events=tuple(events), tag=tag, remove_comments=True,
                                  **{**SAFE, "huge_tree": plain})
            yield from ctx
    except etree.XMLSyntaxError as exc:
        raise FormatError(path, f"malformed XML: {_syntax_message(exc)}") from exc
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc}") from exc


_FEED = 1 << 15  # as much as lxml's iterparse reads at a time: larger chunks parse no faster


def iterparse_fed(path, events: tuple[str, ...] = ("end",), tag=None):
    """_xml.iterparse (same safety settings and errors), fed a chunk at a time by hand: after
    each chunk it also yields (None, None). A report whose bulk is one element (a Cobertura
    <class>, a JaCoCo <sourcefile> of a million lines) would otherwise be held whole until that
    element ends, the tag filter giving the reader no event inside it; at a (None, None) the
    reader takes and frees the finished children of the element still open."""
    head = _read_head(path)
    plain = check_prolog(path, head)
    parser = etree.XMLPullParser(events=events, tag=tag, remove_comments=True, **{**SAFE, "huge_tree": plain})
    try:
        with open(path, "rb") as fh:
            read = _Mended(fh).read if _needs_mending(path, head) else fh.read
            feed, read_events = parser.feed, parser.read_events
            while chunk := read(_FEED):
                feed(chunk)
                yield from read_events()
                yield None, None
        parser.close()
        yield from read_events()
    except etree.XMLSyntaxError as exc:
        raise FormatError(path, f"malformed XML: {_syntax_message(exc)}") from exc
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc}") from exc


class Unscannable(Exception):
    """start_tags cannot vouch for having met every tag of those names as the parser will."""


_SCAN_CHUNK = 1 << 20
_SCAN_HELD_MAX = 4 << 20  # a tag or comment cut by a chunk's end is held to the next; no report has one this long
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
_ATTRIBUTE = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(r"&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|(lt|gt|amp|quot|apos));")
_CLOSERS = {b"!--": b"-->", b"![CDATA[": b"]]>", b"?": b"?>"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def start_tags(path: Path, names: tuple[str, ...], attributes: frozenset[str] | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """The start tags of the elements `names` in a report, in document order, with their
    attributes as the parser gives them (a prefixed name as written: 'x:a', not '{urn}a'):
    found in the raw bytes, at a small part of the cost of a parse, so that a reader can know
    ahead what is still to come (which records are complete). With `attributes`, only those.

    Exact for a well-formed UTF-8 document: '<' never occurs inside a tag, and in text only
    escaped, so every '<name' followed by a space, '/' or '>' outside comments, CDATA sections
    and processing instructions (skipped) is such a tag, and its attributes follow XML's
    grammar. Raises Unscannable rather than guess: another encoding, a tag this grammar does
    not read, a comment left open, or a tag or comment of megabytes. Memory stays within a few
    megabytes."""
    head = _read_head(path)
    declared = _ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
    if wide_text(head) is not None or (declared and declared.group(1).decode("ascii").lower() not in _UTF8_NAMES):
        raise Unscannable
    alternatives = b"|".join(re.escape(n.encode("ascii")) for n in names)
    loose = re.compile(rb"<(?:(" + alternatives + rb")[\s/>]|(!--|!\[CDATA\[|\?))")
    exact = re.compile(rb"<(?:" + alternatives + rb""")((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""")
    wanted = None if attributes is None else {a.encode("utf-8") for a in attributes}
    undecided = max(len("<![CDATA"), len("<") + max(map(len, names)))  # '<cla', '<!-': not told yet
    carry = b""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    with fh:
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            buf = carry + chunk if carry else chunk
            carry = b""
            pos = 0
            while (m := loose.search(buf, pos)) is not None:
                name, opener = m.groups()
                if opener is not None:  # a comment, CDATA section or processing instruction: skipped
                    end = buf.find(_CLOSERS[opener], m.end())
                    if end >= 0:
                        pos = end + len(_CLOSERS[opener])
                        continue
                else:
                    tag = exact.match(buf, m.start())
                    if tag is not None:
                        pos = tag.end()
                        yield name.decode("ascii"), _attributes(tag.group(1), wanted)
                        continue
                    if buf.find(b"<", m.end()) >= 0:  # a tag holds no '<': this is none XML reads so
                        raise Unscannable
                # Not ended in what has been read: it goes on in the next chunk.
                if not chunk or len(buf) - m.start() > _SCAN_HELD_MAX:
                    raise Unscannable
                carry = buf[m.start():]
                break
            else:
                tail = buf.rfind(b"<", pos)
                if tail >= 0 and len(buf) - tail <= undecided:
                    carry = buf[tail:]
            if not chunk:
                return


def _attributes(text: bytes, wanted: set[bytes] | None) -> dict[str, str]:
    try:
        return {name.decode("utf-8"): _attribute_value(double or single)
                for name, double, single in _ATTRIBUTE.findall(text) if wanted is None or name in wanted}
    except UnicodeDecodeError:
        raise Unscannable from None


def _attribute_value(raw: bytes) -> str:
    """An attribute value as the parser gives it: line ends and whitespace normalized (XML 1.0,
    2.11 and 3.3.3), then the predefined and character references replaced."""
    text = raw.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text or "\n" in text:
        text = text.replace("\t", " ").replace("\n", " ")
    if "&" in text:
        if "&" in _REFERENCE.sub("", text):
            raise Unscannable  # not a reference the parser would accept without a DTD
        text = _REFERENCE.sub(_resolve_reference, text)
    return text


def _resolve_reference(m: re.Match) -> str:
    hex_digits, digits, name = m.groups()
    if name:
        return _NAMED[name]
    try:
        return chr(int(hex_digits, 16) if hex_digits else int(digits))
    except (ValueError, OverflowError):
        raise Unscannable from None


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc.msg or exc).strip()
    line, col = (exc.position or (None, None)) if hasattr(exc, "position") else (None, None)
    if msg == "no element found":
        # lxml's own words when libxml2 stopped before the first element ended; libxml2's reason
        # ("Entity 'x' not defined") is the log's last error (the log may hold earlier files' too).
        last = next((e for e in reversed(exc.error_log) if e.level >= etree.ErrorLevels.ERROR), None)
        if last is not None:
            msg, line, col = last.message.strip(), last.line, last.column
    # libxml2 already appends ", line N, column M" to some messages.
    msg = re.sub(r",\s*line \d+, column \d+$", "", msg)
    if "amplification" in msg or "external entity" in msg:
        msg = f"refused: {msg} (entities are not resolved in reports)"
    depth = re.match(r"Excessive depth in document: (\d+)", msg)
    if depth:
        msg = f"elements nested deeper than {depth.group(1)} levels"
    if line:
        return f"{msg} (line {line}, column {col})"
    return msg


def clear(elem: etree._Element) -> None:
    """Free a processed element and the siblings before it, keeping memory flat."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def sniff_root(s: Sniff) -> None:
    """Fill in the root element of an XML head without reading the whole file."""
    plain = check_prolog(s.path, s.head[:PROLOG_BYTES])
    try:
        # The reader's settings: a document it reads (over 256 levels deep) is no error here.
        parser = etree.XMLPullParser(events=("start",), **{**SAFE, "huge_tree": plain})
        parser.feed(mend_xml(s.head)[0] if wide_encoding(s.head) is None else s.head)
        for _event, elem in parser.read_events():
            s.xml_root = local(elem.tag)
            s.xml_attrs = {local(k): v for k, v in elem.attrib.items()}
            if isinstance(elem.tag, str) and elem.tag.startswith("{"):
                s.xml_namespace = elem.tag[1:].split("}", 1)[0]
            return
    except etree.XMLSyntaxError as exc:
        raise FormatError(s.path, f"malformed XML: {_syntax_message(exc)}") from exc


def text_of(elem: etree._Element | None) -> str | None:
    if elem is None:
        return None
    t = "".join(elem.itertext()) if len(elem) else elem.text
    return t if t else None
