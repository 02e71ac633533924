"""coverage.py's JSON report (`coverage json`), with or without meta.format, branches and
contexts (`--show-contexts`).

Counting (shared/corpus/README.md): `totals` (num_statements, covered_lines, num_branches,
covered_branches), equal to the sum of the per-file `summary` blocks. Those are the figures
(CoverageStream.prefer_declared, per file in CoverageStream.file_totals, set before the first
file is read so that a loader storing each file as it goes takes them).

The line records are what ran and what did not: `missing_lines` are statements; of
`executed_lines`, coverage.py before 7.13.1 also lists lines that ran but are not statements.
Those in `excluded_lines` are left out here. Module and class docstrings (`__doc__ = ...` runs)
cannot be told from a statement without the source (a class docstring and a class attribute
look the same in the lists), so the line records of such a file hold a few more covered lines
than its summary; the summary stays the file's figure (warehouse.coverage.merge_run takes it
when the report is the file's only source). From 7.13.1 on, `executed_lines` are statements.
A `# pragma: no branch` line lists only the exits that ran, though the summary counts them all,
as taken: they are put back on the line (_coverage.fill_no_branch_lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    DepthCheckedReader,
    json_errors,
    json_object_items,
    open_report_bytes,
    parse_timestamp,
    to_int,
)
from crossbridge_assets.formats._coverage import (
    FileTable,
    checked_counts,
    fill_no_branch_lines,
    json_head_keys,
    json_values_at,
    static_context,
    summed_totals,
    without_static_context,
)
from crossbridge_assets.formats._shape import ShapeError, array
from crossbridge_assets.model import (
    KIND_COVERAGE,
    CoverageStream,
    CoverageTotals,
    FileCoverage,
    ReportInfo,
    note_declared_disagreement,
)

FORMAT = "coveragepy-json"


def _matches(s: Sniff) -> bool:
    if s.json_type != "object":
        return False
    keys = json_head_keys(s.head)
    if "files" not in keys[0] or not ({"meta", "totals"} & keys[0]):
        return False
    return bool({"executed_lines", "missing_lines", "summary"} & keys[2]) or bool(
        {"branch_coverage", "show_contexts"} & keys[1]
    )


def _lines(value: object) -> list[int]:
    if not isinstance(value, list):
        return []
    return [n for n in (to_int(v) for v in value) if n is not None and n > 0]


def _summary(block: object) -> CoverageTotals:
    block = block if isinstance(block, dict) else {}
    return CoverageTotals(
        files=1,
        lines_valid=to_int(block.get("num_statements")) or 0,
        lines_covered=to_int(block.get("covered_lines")) or 0,
        branches_valid=to_int(block.get("num_branches")) or 0,
        branches_covered=to_int(block.get("covered_branches")) or 0,
    )


def _file(name: str, obj: dict, table: FileTable, stream: CoverageStream, seen: set[str]) -> FileCoverage:
    fc = table.get(name)
    excluded = set(_lines(obj.get("excluded_lines")))  # never statements, though they may have run
    for n in _lines(obj.get("missing_lines")):
        fc.lines.setdefault(n, 0)
    for n in _lines(obj.get("executed_lines")):
        if n not in excluded:
            fc.lines[n] = 1  # coverage.py records whether a line ran, not how often
    arcs: dict[int, list] = {}
    for key, taken in (("executed_branches", 1), ("missing_branches", 0)):
        for arc in array(obj.get(key), key):
            if isinstance(arc, list) and len(arc) == 2 and to_int(arc[0]) is not None:
                pair = arcs.setdefault(to_int(arc[0]), [0, 0, set()])
                pair[0] += taken
                pair[1] += 1
                if not taken:  # named by its destination, as the XML report's missing-branches
                    dest = to_int(arc[1])
                    pair[2].add(str(dest) if dest is not None and dest > 0 else "exit")
    for line, (covered, total, missing) in arcs.items():
        if line > 0:
            table.branch(fc, line, covered, total, frozenset(missing))
    functions = obj.get("functions")
    if isinstance(functions, dict):
        for fname, region in functions.items():
            if fname and isinstance(region, dict):
                summary = region.get("summary")
                if isinstance(summary, dict) and to_int(summary.get("num_statements")) == 0:
                    continue  # excluded whole (# pragma: no cover): no function of the report, as in its LCOV
                start = to_int(region.get("start_line"))  # the line `coverage lcov` names it by
                table.function(fc, fname, start if start and start > 0 else None,
                               1 if _summary(summary).lines_covered else 0)
    contexts = obj.get("contexts")
    if isinstance(contexts, dict):
        per_test = stream.per_test if stream.per_test is not None else {}
        for line, names in contexts.items():
            n = to_int(line)
            # coverage.py 5.x lists the contexts of branch data by arc end, so also under
            # '-4' (entering the code object at line 4): not a line.
            if n is None or n <= 0 or n in excluded or not isinstance(names, list):
                continue
            for i, ctx in enumerate(names):
                if not isinstance(ctx, str):
                    raise ShapeError(i, "a string", ctx).at("contexts", line)
                seen.add(ctx)
                if ctx:  # "" is code run outside any test (imports, collection)
                    per_test.setdefault(ctx, {}).setdefault(fc.path, set()).add(n)
        stream.per_test = per_test
    return fc


def _read(path: Path, stream: CoverageStream) -> Iterator[FileCoverage]:
    info = stream.info
    table = FileTable()
    contexts: set[str] = set()
    for name, obj in json_object_items(path, "files"):
        if not isinstance(obj, dict):
            raise FormatError(path, f"files entry {name[:200]!r} is not an object")
        try:
            fc = _file(name, obj, table, stream, contexts)
        except ShapeError as exc:
            raise FormatError(path, exc.at("files", name[:200]).reason) from None
        summary = checked_counts(_summary(obj.get("summary")), f"the summary of {name[:200]!r}", path)
        fill_no_branch_lines(fc, summary.branches_valid, summary.branches_covered)
        stream.file_totals[fc.path] = summary
        yield table.files.pop(fc.path)
    label = static_context(contexts)  # `coverage run --context=unit`: a label, not a test
    if label is not None:
        info.properties["static_context"] = label
        stream.per_test = without_static_context(stream.per_test or {}, label) or None
    with json_errors(path), open_report_bytes(path) as fh:
        head = {k: v for k, v in json_values_at(DepthCheckedReader(fh, path), ("meta", "totals")).items()
                if isinstance(v, dict)}
    meta = head.get("meta", {})
    if meta.get("version"):
        info.properties["version"] = str(meta["version"])
    info.started_at = parse_timestamp(meta.get("timestamp"))
    if "totals" in head:
        totals = checked_counts(_summary(head["totals"]), "the 'totals' block", path)
        totals.files = len(stream.file_totals)
        info.declared = {k: v for k, v in totals.as_dict().items() if k != "files"}
        # coverage.py's totals are the sum of its files' summaries: the content they must agree with.
        note_declared_disagreement(info, summed_totals(stream.file_totals.values()).as_dict())
    else:
        totals = summed_totals(stream.file_totals.values())
    stream.declared_totals = totals


def open_coveragepy_json(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE, framework="coverage.py")

    def records() -> Iterator[FileCoverage]:
        yield from _read(Path(path), stream)

    stream = CoverageStream(info, records())
    # Known before the first file: a loader reads file_totals file by file while it streams.
    stream.prefer_declared = True
    return stream


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="coverage.py JSON report (coverage json)",
    matches=_matches,
    open=open_coveragepy_json,
    priority=90,
)
