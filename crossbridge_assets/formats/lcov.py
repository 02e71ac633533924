"""LCOV tracefiles (lcov/geninfo, c8, istanbul lcovonly, coverage.py, grcov, llvm-cov export,
Dart/Flutter, ...), read line by line.

Records: SF, DA (line, hits[, checksum]), BRDA (line, block, branch, taken|'-'), FN/FNDA and
lcov 2's FNL/FNA, LF/LH/BRF/BRH summaries (recorded as declared totals), end_of_record.
A file named by several records (one per test name, or repeated by a merge) is one file;
a line listed twice is one line whose hits add up. Files are the distinct SF paths.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import to_int
from crossbridge_assets.formats._coverage import MAX_HITS, FileTable, check_declared, clamp_hits, table_totals
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, FileCoverage, ReportInfo

FORMAT = "lcov"

_KEY = re.compile(r"^(TN|SF|DA|BRDA|FN|FNDA|FNF|FNH|FNL|FNA|LF|LH|BRF|BRH|VER|MCDC|end_of_record)\b")
_SUMMARY = {"LF": "lines_valid", "LH": "lines_covered", "BRF": "branches_valid", "BRH": "branches_covered"}
MAX_LINE_CHARS = 1 << 20  # a longer physical line is not LCOV


def _matches(s: Sniff) -> bool:
    if s.xml_root or s.json_type:
        return False
    seen_sf = False
    for raw in s.text.splitlines()[:200]:
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        if not _KEY.match(line):
            return False
        if line.startswith("SF:"):
            seen_sf = True
            break
    return seen_sf


def _split(value: str, parts: int) -> list[str]:
    return value.split(",", parts - 1)


def _files(path: Path, info: ReportInfo) -> Iterator[FileCoverage]:
    table = FileTable()
    declared: dict[str, int] = {}
    fc: FileCoverage | None = None
    lines: dict[int, int] = {}  # fc.lines, for the DA fast path
    fn_lines: dict[str, int | None] = {}  # function name -> line, for FNDA
    fn_index: dict[str, tuple[int | None, str | None]] = {}  # lcov 2: FNL index -> (line, name)
    branch_seen: dict[tuple[int, str, str], int] = {}  # one record's BRDA keys -> taken
    records = 0

    def bad(lineno: int, why: str) -> FormatError:
        return FormatError(path, f"line {lineno}: {why}")

    def flush_branches() -> None:
        per_line: dict[int, list[int]] = {}
        for (number, _block, _branch), taken in branch_seen.items():
            per_line.setdefault(number, []).append(taken)
        for number, takens in per_line.items():
            covered = sum(1 for t in takens if t > 0)
            old = fc.branches.get(number)
            # Repeated records of one file (per test) each list every branch: keep the larger.
            fc.branches[number] = (max(old[0], covered), max(old[1], len(takens))) if old else (covered, len(takens))
        branch_seen.clear()

    try:
        fh = open(path, "r", encoding="utf-8", errors="replace", newline=None)
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    with fh:
        for lineno, raw in enumerate(fh, 1):
            # The bulk of every tracefile is short DA records in their common spelling: they are
            # read here, before the general path (a long one takes the general path and its checks).
            if fc is not None and raw.startswith("DA:") and len(raw) < 64:
                number_text, _, rest = raw[3:].partition(",")
                hits_text = rest.partition(",")[0].rstrip()
                if number_text.isdecimal() and hits_text.isdecimal():
                    number = int(number_text)
                    if number > 0:
                        old = lines.get(number)
                        hits = int(hits_text)
                        lines[number] = min(hits, MAX_HITS) if old is None else min(old + hits, MAX_HITS)
                    continue
            if len(raw) > MAX_LINE_CHARS:
                raise bad(lineno, "line too long for an LCOV record")
            line = raw.strip()
            if lineno == 1:
                line = line.lstrip("\ufeff")
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if key == "BRDA" and fc is not None:
                parts = value.split(",", 3)
                if len(parts) == 4 and parts[0].isdecimal():
                    taken_text = parts[3].strip()
                    taken = 0 if taken_text == "-" else (
                        int(taken_text) if taken_text.isdecimal() else clamp_hits(to_int(taken_text))
                    )
                    k = (int(parts[0]), parts[1].strip(), parts[2].strip())
                    branch_seen[k] = branch_seen.get(k, 0) + taken
                    continue
            if key == "end_of_record":
                if fc is not None:
                    flush_branches()
                fc = None
                fn_lines, fn_index = {}, {}
                continue
            if not sep:
                raise bad(lineno, f"not an LCOV record: {line[:80]!r}")
            if key == "SF":
                if fc is not None:  # a record without end_of_record
                    flush_branches()
                if not value.strip():
                    raise bad(lineno, "SF without a path")
                fc = table.get(value.strip())
                lines = fc.lines
                records += 1
                continue
            if key in ("TN", "VER"):
                continue
            if key in _SUMMARY:
                n = to_int(value)
                if n is None:
                    raise bad(lineno, f"{key} is not a number: {value[:40]!r}")
                declared[_SUMMARY[key]] = declared.get(_SUMMARY[key], 0) + n
                continue
            if fc is None:
                if key in ("FNF", "FNH", "MCDC"):
                    continue
                raise bad(lineno, f"{key} record outside an SF section")
            if key == "DA":
                parts = _split(value, 3)
                number = to_int(parts[0]) if parts else None
                hits = to_int(parts[1]) if len(parts) > 1 else None
                if number is None or hits is None:
                    raise bad(lineno, f"malformed DA record: {value[:80]!r}")
                if number > 0:
                    table.line(fc, number, clamp_hits(hits), add=True)
            elif key == "BRDA":
                parts = _split(value, 4)
                if len(parts) != 4 or to_int(parts[0]) is None:
                    raise bad(lineno, f"malformed BRDA record: {value[:80]!r}")
                taken = 0 if parts[3].strip() == "-" else clamp_hits(to_int(parts[3]))
                k = (to_int(parts[0]), parts[1].strip(), parts[2].strip())
                branch_seen[k] = branch_seen.get(k, 0) + taken
            elif key == "FN":
                # FN:<line>,<name> or, lcov 2, FN:<line>,<end line>,<name>
                parts = _split(value, 3)
                if len(parts) == 3 and to_int(parts[1]) is not None:
                    number, name = to_int(parts[0]), parts[2]
                else:
                    first, _, name = value.partition(",")
                    number = to_int(first)
                fn_lines[name] = number
                table.function(fc, name, number, 0)
            elif key == "FNDA":
                hits_text, _, name = value.partition(",")
                table.function(fc, name, fn_lines.get(name), clamp_hits(to_int(hits_text)), add=True)
            elif key == "FNL":
                parts = _split(value, 3)
                fn_index[parts[0]] = (to_int(parts[1]) if len(parts) > 1 else None, None)
            elif key == "FNA":
                parts = _split(value, 3)
                if len(parts) == 3:
                    number = fn_index.get(parts[0], (None, None))[0]
                    table.function(fc, parts[2], number, clamp_hits(to_int(parts[1])), add=True)
            # FNF/FNH/MCDC and unknown keys: nothing a user needs beyond the above
    if fc is not None:
        flush_branches()
    if records == 0:
        raise FormatError(path, "no SF record: not an LCOV tracefile")
    info.declared = declared
    yield from table.files.values()
    check_declared(info, table_totals(table.files.values()))


def open_lcov(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE)
    return CoverageStream(info, _files(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="LCOV tracefile (lcov, c8/istanbul, coverage.py, grcov, llvm-cov, Flutter)",
    matches=_matches,
    open=open_lcov,
)
