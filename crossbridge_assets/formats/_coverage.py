"""Helpers shared by the coverage formats, and the pure operations on their records:
per-file accumulation, JSON head inspection for detection, union merge of shards, and the
compact range form of line sets ('1-5,9,12-14') used for storage."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import chain, repeat
from operator import countOf, itemgetter
from typing import Iterable

from crossbridge_assets.formats._common import json_head_events
from crossbridge_assets.formats._paths import (
    PathsByName,
    is_windows_path,
    normalize_source_path,
    package_path_owners,
    source_folder_prefix,
    using_source_roots,
)
from crossbridge_assets.model import CoverageTotals, FileCoverage, add_branch

# Hit counts go to a BIGINT column; c8 writes -1 as an unsigned 64-bit number (a covered line).
MAX_HITS = 2**63 - 1


def clamp_hits(value: int | float | None) -> int:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return 0
    n = int(value)
    return 0 if n < 0 else min(n, MAX_HITS)


class FileTable:
    """FileCoverage records of one report keyed by normalized path, built while streaming.

    Several report elements can describe one file (Cobertura classes of one file, JaCoCo
    groups, repeated LCOV records): a line described twice is one line."""

    def __init__(self) -> None:
        self.files: dict[str, FileCoverage] = {}
        # Windows paths by their case-folded spelling -> the first spelling met: Windows does
        # not tell 'src\\Cart.js' from 'src\\cart.js', and c8 there lists one file under both
        # (the second record empty) when V8 and node spell its path differently.
        self._folded: dict[str, str] = {}

    def key(self, raw_path: str) -> str:
        """The path a record of `raw_path` is filed under: normalized, and for a Windows path
        the first spelling met of it in any case. Passes that count a report's records ahead
        (one FileTable each, in file order) name files as its reading pass does."""
        path = normalize_source_path(raw_path)
        if path not in self.files and is_windows_path(raw_path):
            path = self._folded.setdefault(path.casefold(), path)
        return path

    def get(self, raw_path: str) -> FileCoverage:
        path = self.key(raw_path)
        fc = self.files.get(path)
        if fc is None:
            fc = self.files[path] = FileCoverage(path=path, source_path=raw_path)
        return fc

    @staticmethod
    def line(fc: FileCoverage, number: int, hits: int, add: bool = False) -> None:
        """Record a line; a repeat keeps the larger count, or the sum when `add` (separate runs)."""
        old = fc.lines.get(number)
        if old is None:
            fc.lines[number] = hits
        else:
            fc.lines[number] = min(old + hits, MAX_HITS) if add else max(old, hits)

    @staticmethod
    def branch(fc: FileCoverage, number: int, covered: int, total: int, missing: frozenset[str] | None = None) -> None:
        """Record a line's branches (and the ids of those not taken, when the report names
        them); a repeat is the union (model.union_branch)."""
        add_branch(fc, number, (covered, total), missing)

    @staticmethod
    def function(fc: FileCoverage, name: str, line: int | None, hits: int, add: bool = False) -> None:
        """Record a function; a repeat keeps the larger count, or the sum when `add`. A repeat
        without a line (LCOV's FNDA names the function only) matches the function of that name."""
        for i, (n, ln, h) in enumerate(fc.functions):
            if n == name and (ln == line or line is None or ln is None):
                fc.functions[i] = (n, ln if ln is not None else line, min(h + hits, MAX_HITS) if add else max(h, hits))
                return
        fc.functions.append((name, line, hits))


def fill_no_branch_lines(fc: FileCoverage, branches_valid: int, branches_covered: int) -> None:
    """Put back the branches of coverage.py's `# pragma: no branch` lines in its JSON and LCOV.

    coverage.py counts every exit of such a line as a branch, and as taken (its XML writes
    '100% (2/2)'), but its JSON and LCOV list only the exits that ran: the line shows one branch,
    taken, where no branching line of coverage.py has fewer than two. Given the file's own counts
    (the JSON summary, LCOV's BRF/BRH), the branches they hold beyond those listed, all taken,
    go back on such lines, two to a line (an `if`, `for` or `while` has two exits). A no-branch
    line that never ran is listed nowhere: its branches stay in the file's counts only."""
    short = [n for n, (covered, total) in fc.branches.items() if total < 2 and covered == total]
    if not short:
        return
    hidden = branches_valid - sum(total for _, total in fc.branches.values())
    if hidden != branches_covered - sum(covered for covered, _ in fc.branches.values()):
        return  # some not taken: not what a no-branch line hides
    if hidden < sum(2 - fc.branches[n][1] for n in short):
        return
    for n in short:
        fc.branches[n] = (2, 2)


def checked_counts(totals: CoverageTotals, where: str, path) -> CoverageTotals:
    """A report's own counts (its only figures, in a summary), refused when no tool writes them:
    a negative count, or more lines or branches covered than there are."""
    from crossbridge_assets.formats import FormatError

    for key, value in totals.as_dict().items():
        if value < 0:
            raise FormatError(path, f"{where} counts {value} {key.replace('_', ' ')}: a count is never negative")
    for what, covered, valid in (("lines", totals.lines_covered, totals.lines_valid),
                                 ("branches", totals.branches_covered, totals.branches_valid)):
        if covered > valid:
            raise FormatError(path, f"{where} counts {covered} {what} covered of {valid}")
    return totals


def add_totals(into: CoverageTotals, other: CoverageTotals) -> None:
    into.files += other.files
    into.lines_valid += other.lines_valid
    into.lines_covered += other.lines_covered
    into.branches_valid += other.branches_valid
    into.branches_covered += other.branches_covered


def summed_totals(counts: Iterable[CoverageTotals]) -> CoverageTotals:
    out = CoverageTotals()
    for t in counts:
        add_totals(out, t)
    return out


def json_values_at(fh, prefixes: Iterable[str]) -> dict[str, object]:
    """The values at the given ijson prefixes ('meta', 'totals'), built in one pass over the
    file without building anything else (a report's big per-file part is skipped)."""
    import ijson

    wanted = set(prefixes)
    found: dict[str, object] = {}
    builder = None
    current = None
    for prefix, event, value in ijson.parse(fh, use_float=True):
        if builder is not None:
            if prefix == current and event in ("end_map", "end_array"):
                builder.event(event, value)
                found[current] = builder.value
                builder = current = None
            else:
                builder.event(event, value)
        elif prefix in wanted and prefix not in found:
            if event in ("start_map", "start_array"):
                builder, current = ijson.ObjectBuilder(), prefix
                builder.event(event, value)
            elif event not in ("map_key", "end_map", "end_array"):
                found[prefix] = value
    return found


def table_totals(files: Iterable[FileCoverage]) -> CoverageTotals:
    """CoverageTotals.add over the files, without a Python loop over their lines: hit counts
    are never negative here (clamp_hits), so the covered lines are those whose count is not 0."""
    files = list(files)
    line_maps = [fc.lines for fc in files]
    branch_counts = list(chain.from_iterable(fc.branches.values() for fc in files))
    totals = CoverageTotals(files=len(files), lines_valid=sum(map(len, line_maps)))
    totals.lines_covered = totals.lines_valid - sum(map(countOf, map(dict.values, line_maps), repeat(0)))
    totals.branches_valid = sum(map(itemgetter(1), branch_counts))
    totals.branches_covered = sum(map(itemgetter(0), branch_counts))
    return totals


# ---------------------------------------------------------------------------- detection


@lru_cache(maxsize=4)
def json_head_keys(head: bytes, levels: int = 3) -> tuple[frozenset[str], ...]:
    """Object keys met in a JSON head, by nesting level: (top-level keys, keys one level
    down, ...). Arrays count as a level.

    Sniff.json_prefixes joins keys with '.', which is ambiguous when keys are file paths
    ('src/app.component.ts'); the path-keyed formats look here instead, where the nesting is
    tracked from the parser's events (basic ones: no prefix per level, see json_head_events)."""
    found: list[set[str]] = [set() for _ in range(levels)]
    level = 0
    try:
        for event, value in json_head_events(head.lstrip(b"\xef\xbb\xbf"), "the JSON head"):
            if event in ("start_map", "start_array"):
                level += 1
            elif event in ("end_map", "end_array"):
                level -= 1
            elif event == "map_key" and level <= levels:
                found[level - 1].add(value)
    except Exception:  # noqa: BLE001 - a head cut mid-document, too deep, or not JSON at all
        pass
    return tuple(frozenset(f) for f in found)


# ---------------------------------------------------------------------------- ranges

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def encode_ranges(lines: Iterable[int]) -> str:
    """{1,2,3,4,5,9,12,13,14} -> '1-5,9,12-14' (sorted, duplicates dropped)."""
    out: list[str] = []
    start = prev = None
    for n in sorted(set(lines)):
        if n < 0:
            raise ValueError(f"line numbers are not negative: {n}")
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)


def decode_ranges(text: str | None) -> set[int]:
    """'1-5,9,12-14' -> {1,2,3,4,5,9,12,13,14}; '' -> set(); anything else raises ValueError."""
    result: set[int] = set()
    if not text or not text.strip():
        return result
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m:
            raise ValueError(f"not a line range: {part!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"descending line range: {part!r}")
        result.update(range(lo, hi + 1))
    return result


# ---------------------------------------------------------------------------- contexts

_PHASES = ("|run", "|setup", "|teardown")


def static_context(contexts: Iterable[str]) -> str | None:
    """The static context of a coverage.py run (`coverage run --context=unit`, `[run] context`),
    given every context it measured: a label of the whole run, not a test. coverage.py joins it
    to each dynamic context ('unit|pkg.test_x') and gives it alone to the code run outside any
    test, so it is the context every other one begins with, and a '|'. Without dynamic contexts
    it is the only context; a run with dynamic contexts and no static one has the empty context
    (imports, collection). A lone context naming a pytest-cov phase ('<nodeid>|run') is a test."""
    names = set(contexts)
    if not names or "" in names:
        return None
    label = min(names, key=len)
    if len(names) == 1:
        return None if label.endswith(_PHASES) else label
    prefix = label + "|"
    return label if all(n == label or n.startswith(prefix) for n in names) else None


def without_static_context(per_test: dict[str, dict[str, set[int]]], label: str) -> dict[str, dict[str, set[int]]]:
    """per_test keyed by the tests' own contexts: the static context's code is no test's, and
    its 'label|' goes from the others."""
    cut = len(label) + 1
    return {context[cut:]: files for context, files in per_test.items() if context != label}


def context_to_test(context: str) -> str:
    """The test a coverage.py dynamic context names: pytest-cov's 'nodeid|run' (and '|setup',
    '|teardown') become 'nodeid'; coverage's own test_function contexts ('pkg.mod.test_x')
    are the test already."""
    for phase in _PHASES:
        if context.endswith(phase):
            return context[: -len(phase)]
    return context


# ---------------------------------------------------------------------------- merge


# The formats that name a file from a <source> folder of the report (Cobertura, coverage.py's XML).
_SOURCE_RELATIVE = frozenset({"cobertura", "coveragepy-xml"})


class Records(list):
    """The FileCoverage records of one report, with the format that wrote them (merge_coverage
    treats JaCoCo's package-relative paths apart)."""

    def __init__(self, records: Iterable[FileCoverage] = (), format: str | None = None):
        super().__init__(records)
        self.format = format


def report_format(stream: object) -> str | None:
    """The format of a stream, or of Records; None for plain records."""
    info = getattr(stream, "info", None)
    return info.format if info is not None else getattr(stream, "format", None)


def merge_coverage(
    streams: Iterable[Iterable[FileCoverage]],
    source_roots: Iterable[str] = (),
    strip_prefixes: Iterable[str] = (),
    renamed: dict[str, str] | None = None,
) -> dict[str, FileCoverage]:
    """Union of several reports (shards, or formats of the same code) keyed by normalized path.

    A line is valid if any report lists it and covered if any report covers it (hits add up);
    a branch is taken if any report took it, where the reports name their branches (coverage.py,
    in each of its formats); otherwise a line's branches keep the larger covered and total
    counts (those reports say how many branches were taken, not which). Inputs are not
    modified. With roots or prefixes given, paths are normalized again so that reports written
    on different machines line up; streams not read
    yet are read with the roots in effect, so that a format's own path handling sees them too
    (a Cobertura <source> outside every known workspace is only joined when a root covers it).
    A JaCoCo path (com/ex/A.java) joins the one path another report gives the file under a JVM
    source folder (src/main/java/com/ex/A.java): see package_path_owners. So does a path a
    Cobertura or coverage.py XML gave from a <source> folder nothing placed (source_folder_prefix).
    `renamed`, when given, gets each such path and the path it joined."""
    roots, prefixes = tuple(source_roots), tuple(strip_prefixes)
    merged: dict[str, FileCoverage] = {}
    from_jacoco: set[str] = set()  # paths JaCoCo gave, spelled from their package
    from_others: set[str] = set()  # paths the formats that name files from the working directory gave
    from_xml: list[set[str]] = []  # each XML report's paths, maybe from a <source> nothing placed
    with using_source_roots(roots):
        for stream in streams:
            fmt = report_format(stream)
            if fmt in _SOURCE_RELATIVE:
                from_xml.append(seen := set())
            else:
                seen = from_jacoco if fmt == "jacoco" else from_others
            for fc in stream:
                path = normalize_source_path(fc.path, (), prefixes) if (roots or prefixes) else fc.path
                seen.add(path)
                target = merged.get(path)
                if target is None:
                    target = merged[path] = FileCoverage(path=path, source_path=fc.source_path)
                target.merge(fc)
    # JaCoCo's package-relative spelling of a file another report names from the repository;
    # a path another format also gives as it is is a file of its own (a top-level com/ex/A.java).
    moved = renamed if renamed is not None else {}
    for package, owner in package_path_owners(merged, from_jacoco - from_others).items():
        merged[owner].merge(merged.pop(package))
        moved[package] = owner
    # An XML report's paths from its <source> folder, which the other reports name from the
    # repository (source_folder_prefix): each of its files under that folder.
    others_by_name = PathsByName(from_others) if from_xml else None
    for paths in from_xml:
        prefix = source_folder_prefix(paths, others_by_name)
        for path in sorted(paths) if prefix else ():
            fc = merged.pop(path, None)
            if fc is not None:
                target = merged.get(prefix + path)
                if target is None:
                    target = merged[prefix + path] = FileCoverage(path=prefix + path, source_path=fc.source_path)
                target.merge(fc)
                moved[path] = prefix + path
    return merged


def merged_totals(merged: dict[str, FileCoverage] | Iterable[FileCoverage]) -> CoverageTotals:
    files = merged.values() if isinstance(merged, dict) else merged
    return table_totals(files)
