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
from crossbridge_assets.formats._coverage import FileTable, check_declared, table_totals
from crossbridge_assets.formats._xml import clear, iterparse, local
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, FileCoverage, ReportInfo

FORMAT = "jacoco"


def _matches(s: Sniff) -> bool:
    if s.xml_root != "report" or s.xml_namespace:
        return False
    head = s.head[:8192]
    return b"//JACOCO//" in head or b"<sessioninfo" in head or b"sourcefilename=" in s.head


def _files(path: Path, info: ReportInfo) -> Iterator[FileCoverage]:
    table = FileTable()
    stack: list[str] = []
    package = ""
    # Methods are listed under <class> before the <sourcefile> they belong to.
    methods: dict[str, list[tuple[str, int | None, int]]] = {}
    declared: dict[str, int] = {}
    root_seen = False

    for event, elem in iterparse(path, events=("start", "end")):
        tag = local(elem.tag)
        if event == "start":
            if not root_seen:
                root_seen = True
                if tag != "report":
                    raise FormatError(path, f"not a JaCoCo report (root element <{tag}>)")
                info.name = elem.get("name")
            elif tag == "package":
                package = (elem.get("name") or "").strip("/")
            stack.append(tag)
            continue

        stack.pop()
        parent = stack[-1] if stack else None
        if tag == "line":
            # handled at </sourcefile>, where the lines are still children
            continue
        if tag == "sourcefile":
            name = elem.get("name") or ""
            if not name:
                raise FormatError(path, f"<sourcefile> without a name (line {elem.sourceline})")
            raw = f"{package}/{name}" if package else name
            fc = table.get(raw)
            for line in elem.iterchildren("{*}line", "line"):
                nr = to_int(line.get("nr"))
                if nr is None or nr <= 0:
                    continue
                ci, mb, cb = (to_int(line.get(k)) or 0 for k in ("ci", "mb", "cb"))
                table.line(fc, nr, 1 if ci > 0 else 0)
                if mb + cb > 0:
                    table.branch(fc, nr, cb, mb + cb)
            for fn in methods.pop(raw, ()):
                table.function(fc, *fn)
            clear(elem)
        elif tag == "method":
            cls = elem.getparent()
            owner = cls.get("sourcefilename") if cls is not None else None
            if owner:
                raw = f"{package}/{owner}" if package else owner
                class_name = (cls.get("name") or "").rsplit("/", 1)[-1]
                covered = 0
                for counter in elem.iterchildren("{*}counter", "counter"):
                    if counter.get("type") == "METHOD":
                        covered = to_int(counter.get("covered")) or 0
                name = f"{class_name}.{elem.get('name')}" if class_name else (elem.get("name") or "")
                methods.setdefault(raw, []).append((name, to_int(elem.get("line")), 1 if covered else 0))
            clear(elem)
        elif tag == "counter" and parent == "report":
            kind = elem.get("type")
            missed, covered = to_int(elem.get("missed")) or 0, to_int(elem.get("covered")) or 0
            if kind == "LINE":
                declared["lines_valid"], declared["lines_covered"] = missed + covered, covered
            elif kind == "BRANCH":
                declared["branches_valid"], declared["branches_covered"] = missed + covered, covered
        elif tag == "sessioninfo":
            if info.started_at is None:
                info.started_at = parse_timestamp(to_int(elem.get("start")))
        elif tag in ("class", "package", "group"):
            clear(elem)

    if not root_seen:
        raise FormatError(path, "no <report> element")
    if declared:
        # JaCoCo omits the BRANCH counter when the code has no branches.
        declared.setdefault("branches_valid", 0)
        declared.setdefault("branches_covered", 0)
    info.declared = declared
    yield from table.files.values()
    check_declared(info, table_totals(table.files.values()))


def open_jacoco(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE, framework="jacoco")
    return CoverageStream(info, _files(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="JaCoCo XML report (Maven, Gradle, CLI; multi-module groups)",
    matches=_matches,
    open=open_jacoco,
)
