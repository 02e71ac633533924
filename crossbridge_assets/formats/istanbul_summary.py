"""Istanbul's coverage-summary.json (json-summary reporter of nyc, c8, Jest, Vitest): counts
only, a "total" block and one block per file, no line data.

Counting (shared/corpus/README.md): the "total" block. The report yields no FileCoverage
(there are no lines to give); its totals are CoverageStream.declared_totals and the per-file
counts are CoverageStream.file_totals (files = the number of file entries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import json_object_items, to_int
from crossbridge_assets.formats._coverage import add_totals, checked_counts, json_head_keys, summed_totals
from crossbridge_assets.formats._paths import normalize_source_path
from crossbridge_assets.model import (
    KIND_COVERAGE,
    CoverageStream,
    CoverageTotals,
    FileCoverage,
    ReportInfo,
    note_declared_disagreement,
)

FORMAT = "istanbul-summary"
_METRICS = {"lines", "statements", "functions", "branches"}


def _matches(s: Sniff) -> bool:
    if s.json_type != "object":
        return False
    keys = json_head_keys(s.head)
    return "total" in keys[0] and {"lines", "branches"} <= keys[1] and {"total", "covered"} <= keys[2]


def _counts(block: object, where: str, path: Path) -> CoverageTotals:
    if not isinstance(block, dict) or not isinstance(block.get("lines"), dict):
        raise FormatError(path, f"{where} has no 'lines' counts: not an Istanbul summary")

    def pair(metric: str) -> tuple[int, int]:
        m = block.get(metric)
        if not isinstance(m, dict):
            return 0, 0
        return to_int(m.get("total")) or 0, to_int(m.get("covered")) or 0

    lines_valid, lines_covered = pair("lines")
    branches_valid, branches_covered = pair("branches")
    return checked_counts(CoverageTotals(
        files=1,
        lines_valid=lines_valid,
        lines_covered=lines_covered,
        branches_valid=branches_valid,
        branches_covered=branches_covered,
    ), where, path)


def _read(path: Path, stream: CoverageStream) -> None:
    info = stream.info
    total: CoverageTotals | None = None
    for key, block in json_object_items(path):
        if key == "total":
            total = _counts(block, "the 'total' block", path)
            continue
        counts = _counts(block, f"entry {key[:200]!r}", path)
        name = normalize_source_path(key)
        if name in stream.file_totals:  # two spellings of one file
            counts.files = 0
            add_totals(stream.file_totals[name], counts)
        else:
            stream.file_totals[name] = counts
    if total is None:
        raise FormatError(path, "no 'total' block: not an Istanbul summary")
    total.files = len(stream.file_totals)
    stream.declared_totals = total
    info.declared = {k: v for k, v in total.as_dict().items() if k != "files"}
    if stream.file_totals:
        # The 'total' block is the sum of the file entries: the content it must agree with.
        note_declared_disagreement(info, summed_totals(stream.file_totals.values()).as_dict())


def open_istanbul_summary(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE, framework="istanbul")

    def records() -> Iterator[FileCoverage]:
        # Read when iterated, like every stream; there are no records to hand out.
        _read(Path(path), stream)
        yield from ()

    stream = CoverageStream(info, records())
    return stream


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="Istanbul coverage-summary.json (json-summary reporter; totals only)",
    matches=_matches,
    open=open_istanbul_summary,
    priority=90,
)
