"""Hostile-input-safe XML streaming shared by the XML formats.

Every report is treated as hostile: no external entities, no DTD loading, no network,
libxml2's default limits on entity amplification and tree size kept on (huge_tree=False).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from lxml import etree

from crossbridge_assets.formats import FormatError, Sniff

SAFE = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False)


def local(tag: object) -> str:
    """Local name of an element tag ('{ns}name' -> 'name'); comments/PIs give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def iterparse(path: Path, events: Iterable[str] = ("end",), tag=None) -> Iterator[tuple[str, etree._Element]]:
    """lxml iterparse with safe settings; parse errors become FormatError naming file and position."""
    try:
        ctx = etree.iterparse(str(path), events=tuple(events), tag=tag, remove_comments=True, **SAFE)
        for event, elem in ctx:
            yield event, elem
    except etree.XMLSyntaxError as exc:
        raise FormatError(path, f"malformed XML: {_syntax_message(exc)}") from exc
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc}") from exc


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc.msg or exc).strip()
    line, col = (exc.position or (None, None)) if hasattr(exc, "position") else (None, None)
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
    try:
        parser = etree.XMLPullParser(events=("start",), **SAFE)
        parser.feed(s.head)
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
