"""JaCoCo XML (DTD 1.0 and 1.1; Maven, Gradle, the CLI and multi-module <group> reports).

Counting (shared/corpus/README.md): files are the <sourcefile> elements (package path + name);
lines are <line nr mi ci mb cb>, covered when ci > 0; branches per line are (cb, mb + cb).
The report-level LINE/BRANCH counters are recorded as declared totals. JaCoCo counts
instructions, not executions: a covered line gets 1 hit. The DOCTYPE (report.dtd) is never loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import parse_timestamp, to_int
from crossbridge_assets.formats._coverage import MAX_HITS, FileTable, clamp_hits
from crossbridge_assets.formats._xml import Unscannable, clear, iterparse_fed, local, start_tags
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, FileCoverage, ReportInfo

FORMAT = "jacoco"


def _matches(s: Sniff) -> bool:
    if s.xml_root != "report" or s.xml_namespace:
        return False
    head = s.head[:8192]
    if b"//JACOCO//" in head or b"<sessioninfo" in head or b"sourcefilename=" in s.head:
        return True
    # Kover's (IntelliJ's) JaCoCo-format XML has no DOCTYPE and no <sessioninfo>. It lists the
    # source files of packages no test loaded without a <class>, and the report of a module
    # without classes holds nothing but the report-level counters.
    return b"<sourcefile name=" in s.head or b'<counter type="INSTRUCTION"' in s.head


def _int(text: str | None) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return to_int(text) or 0


# Only these elements reach Python: <line>s are read from their <sourcefile>, counters from
# their method or from the root, so neither needs a callback of its own.
_TAGS = ("report", "sessioninfo", "group", "package", "class", "method", "sourcefile")


def _package_of(elem) -> str:
    parent = elem.getparent()
    return (parent.get("name") or "").strip("/") if parent is not None and local(parent.tag) == "package" else ""


def _sourcefile_path(path: Path, elem) -> str:
    name = elem.get("name") or ""
    if not name:
        raise FormatError(path, f"<sourcefile> without a name (line {elem.sourceline})")
    package = _package_of(elem)
    return f"{package}/{name}" if package else name


def _open_sourcefile(top):
    """The <sourcefile> the parser is inside, if any: on the path down the last children."""
    elem = top
    while len(elem):
        elem = elem[-1]
        tag = elem.tag  # as the parser's tag filter names it: a namespaced one gets no event either
        if tag == "sourcefile":
            return elem
        if tag not in ("package", "group"):
            return None
    return None


def _add_lines(table: FileTable, fc: FileCoverage, elems) -> None:
    """<line nr mi ci mb cb> elements into a file's record."""
    lines, branches = fc.lines, fc.branches
    for line in elems:
        get = line.get
        try:
            nr = int(get("nr"))
        except (TypeError, ValueError):
            nr = _int(get("nr"))
        if nr <= 0:
            continue
        ci = get("ci")
        hit = 0 if (ci == "0" or not ci) else (1 if _int(ci) > 0 else 0)
        if lines.get(nr, -1) < hit:
            lines[nr] = hit
        mb, cb = get("mb"), get("cb")
        if (mb and mb != "0") or (cb and cb != "0"):
            missed, covered = _int(mb), _int(cb)
            total = missed + covered
            if missed < 0 or covered < 0 or total > MAX_HITS:
                # Negative counts are junk (none), huge ones are bounded like hit counts.
                missed, covered = clamp_hits(missed), clamp_hits(covered)
                total = min(missed + covered, MAX_HITS)
                covered = min(covered, total)
            if total > 0:
                if nr in branches:  # the line met again: the union (FileTable.branch)
                    table.branch(fc, nr, covered, total)
                else:
                    branches[nr] = (covered, total)


def _sourcefile_counts(path: Path) -> dict[str, int] | None:
    """How many <sourcefile> elements have each name, from a scan of the raw bytes (start_tags):
    a file (package path + name) is complete once every sourcefile of its name has been read.
    None when the scan cannot be relied on, or a name is not a plain file name (one with a
    folder in it could name the same file from another package)."""
    counts: dict[str, int] = {}
    try:
        for _tag, attrs in start_tags(path, ("sourcefile",), frozenset(("name",))):
            name = attrs.get("name") or ""
            if not name or name != name.strip() or "/" in name or "\\" in name or name in (".", ".."):
                return None
            counts[name] = counts.get(name, 0) + 1
    except Unscannable:
        return None
    return counts


def _files(path: Path, info: ReportInfo) -> Iterator[FileCoverage]:
    table = FileTable()
    # Methods are listed under <class> before the <sourcefile> they belong to.
    methods: dict[str, list[tuple[str, int | None, int]]] = {}
    declared: dict[str, int] = {}
    root = None
    # Records go out once every sourcefile of their name has been read (common names such as
    # Main.java wait for the last one); without counts, at the end.
    left = _sourcefile_counts(path)
    waiting: dict[str, list[str]] = {}  # sourcefile name -> the records it went into
    done: set[str] = set()

    top = None  # the root element, known from the first start event
    # Start events only to learn the root early: one more event per class or method, none per line.
    for event, elem in iterparse_fed(path, events=("start", "end"), tag=_TAGS):
        if elem is None:  # a chunk was parsed: take the finished lines of an open <sourcefile>
            if top is None:
                continue
            open_file = _open_sourcefile(top)
            if open_file is not None and len(open_file) > 1:
                fc = table.get(_sourcefile_path(path, open_file))
                _add_lines(table, fc, (e for e in open_file[:-1] if local(e.tag) == "line"))
                del open_file[:-1]
            continue
        if event == "start":
            if top is None:
                top = elem.getroottree().getroot()
            continue
        tag = local(elem.tag)
        if tag == "sourcefile":
            raw = _sourcefile_path(path, elem)
            fc = table.get(raw)
            if fc.path in done:  # cannot be, when the counts are right: rather no record than a wrong one
                raise FormatError(path, f"a <sourcefile> of {fc.path} after the last one counted for it (line {elem.sourceline})")
            _add_lines(table, fc, elem.iterchildren("{*}line", "line"))
            for fn in methods.pop(raw, ()):
                table.function(fc, *fn)
            if left is not None:
                name = elem.get("name")
                if name not in left or not (fc.path == name or fc.path.endswith("/" + name)):
                    left = None  # not counted, or a source root took the name too: hold the rest to the end
                else:
                    waiting.setdefault(name, []).append(fc.path)
                    left[name] -= 1
                    if not left[name]:
                        for finished in dict.fromkeys(waiting.pop(name)):
                            done.add(finished)
                            yield table.files.pop(finished)
            clear(elem)
        elif tag == "method":
            cls = elem.getparent()
            owner = cls.get("sourcefilename") if cls is not None else None
            if owner:
                package = _package_of(cls)
                raw = f"{package}/{owner}" if package else owner
                class_name = (cls.get("name") or "").rsplit("/", 1)[-1]
                covered = 0
                for counter in elem.iterchildren("{*}counter", "counter"):
                    if counter.get("type") == "METHOD":
                        covered = to_int(counter.get("covered")) or 0
                name = f"{class_name}.{elem.get('name')}" if class_name else (elem.get("name") or "")
                methods.setdefault(raw, []).append((name, to_int(elem.get("line")), 1 if covered else 0))
            clear(elem)
        elif tag == "sessioninfo":
            if info.started_at is None:
                info.started_at = parse_timestamp(to_int(elem.get("start")))
        elif tag in ("class", "package", "group"):
            clear(elem)
        elif tag == "report" and elem.getparent() is None:
            root = elem

    if root is None:
        raise FormatError(path, "not a JaCoCo report (no <report> root element)")
    info.name = root.get("name")
    for counter in root.iterchildren("{*}counter", "counter"):
        kind = counter.get("type")
        missed, covered = to_int(counter.get("missed")) or 0, to_int(counter.get("covered")) or 0
        if kind == "LINE":
            declared["lines_valid"], declared["lines_covered"] = missed + covered, covered
        elif kind == "BRANCH":
            declared["branches_valid"], declared["branches_covered"] = missed + covered, covered
    if declared:
        # JaCoCo omits the BRANCH counter when the code has no branches.
        declared.setdefault("branches_valid", 0)
        declared.setdefault("branches_covered", 0)
    info.declared = declared
    yield from table.files.values()  # the stream checks the declared totals against them


def open_jacoco(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE, framework="jacoco")
    return CoverageStream(info, _files(Path(path), info), check_declared=True)


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="JaCoCo XML report (Maven, Gradle, CLI; multi-module groups)",
    matches=_matches,
    open=open_jacoco,
)
