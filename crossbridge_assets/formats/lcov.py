"""LCOV tracefiles (lcov/geninfo, c8, istanbul lcovonly, coverage.py, grcov, llvm-cov export,
Dart/Flutter, ...), read a chunk at a time: runs of DA and BRDA records in bulk, the rest line by line.

Records: SF, DA (line, hits[, checksum]), BRDA (line, block, branch, taken|'-'), FN/FNDA and
lcov 2's FNL/FNA, LF/LH/BRF/BRH summaries (recorded as declared totals), end_of_record.
A file named by several records (one per test name, or repeated by a merge) is one file;
a line listed twice is one line whose hits add up, and a branch (BRDA line, block, branch
id) is one branch, taken if any record took it, as lcov adds tracefiles up. Files are the
distinct SF paths.

coverage.py from 6.3 to 7.6.1 wrote its LCOV otherwise (told by its records: every DA carries
a line checksum, hits are 0 or 1, no FN): DA lists every line that ran, docstrings and
(before 7.4) excluded lines among them, while LF counts statements, and before 7.2 LH counted
every line that ran; a BRDA is on the line its branch goes to (0 for leaving the function),
its block numbering the branching lines in order, and besides the branches it lists other
arcs that ran from a branching line (a comprehension's exits). Such a file counts as
coverage.py counts it (CoverageStream.file_totals): LF statements of which the DA lines with
0 hits are missing, BRF branches of which the '-' ones are missing. Its branches are put back
on the line they leave (inferred: see _coveragepy_branches; a comprehension's or a decorated
definition's can land a line early), named by their destination as the later LCOV, XML and
JSON reports name them. The later LCOV lists only the exits that ran of a `# pragma: no branch`
line, while its BRF/BRH count them all, as taken: they are put back on the line
(_coverage.fill_no_branch_lines); those of such a line that never ran are on no BRDA, and the
file counts as its BRF/BRH say (CoverageStream.file_totals).
"""

from __future__ import annotations

import io
import re
from bisect import bisect_left
from collections import Counter
from itertools import chain, compress, repeat
from operator import itemgetter, not_
from pathlib import Path
from typing import Iterator

from orjson import loads

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import open_report_bytes, to_int
from crossbridge_assets.formats._coverage import MAX_HITS, FileTable, checked_counts, clamp_hits, fill_no_branch_lines
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, CoverageTotals, FileCoverage, ReportInfo, add_branch, at_least

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


def _int(text: str) -> int | None:
    """to_int, without its float round trip for the plain counts most records hold."""
    if len(text) < 16 and text.isdigit() and text.isascii():
        return int(text)
    return to_int(text)


def _branch_id(text: str) -> int | str:
    """A BRDA block or branch id as the bulk reader spells it: plain numbers (up to 18 digits) as
    ints (the same ids: a leading zero keeps the text, so '00' stays apart from '0'), anything
    else as text."""
    if text.isdigit() and text.isascii() and (len(text) == 1 or text[0] != "0") and len(text) < 19:
        return int(text)
    return text


# Tracefiles are mostly runs of DA and BRDA records in their plain spelling. A run is read in
# bulk: checked to hold only digits, separators and its own key (numbers under 16 digits, so
# no count needs clamping and no line is long), then turned into one JSON array and parsed in
# one call. A run that does not pass is read line by line, as everything else is.
_CHUNK = 1 << 20
_RUN_START = re.compile(rb"\n(?:BR)?DA:")
_DA_END = re.compile(rb"\n(?!DA:)")
_BRDA_END = re.compile(rb"\n(?!BRDA:)")
_NINES = bytes.maketrans(b"0123456789", b"9" * 10)
_TOO_LONG = b"9" * 16


def _numbers(run: bytes, key: bytes, shape: bytes) -> list[int] | None:
    """The numbers of a run of `key` records, in one parse; None when a line of it is not
    spelled as `shape` with its digits taken out, or has a number of 16 digits or more."""
    punctuation = run.translate(None, b"0123456789")
    if punctuation != shape * (len(punctuation) // len(shape)) or _TOO_LONG in run.translate(_NINES):
        return None
    try:
        return loads(b"[" + run[len(key):-1].replace(b"\n" + key, b",") + b"]")
    except ValueError:  # an empty field, a leading zero
        return None




def _source_file(line: str, first: bool = False) -> str | None:
    """The path of an SF record, from a physical line as read (stripped here; the file's first
    line without its byte order mark), else None."""
    line = line.strip()
    key, sep, value = (line.lstrip("\ufeff") if first else line).partition(":")
    return value.strip() if key == "SF" and sep else None


_SCAN_HELD_MAX = 4 * (MAX_LINE_CHARS + 1)


def _record_counts(path: Path) -> dict[str, int] | None:
    """How many records name each file (normalized path), from a scan of the raw bytes for
    'SF:' (every SF record holds it; a line holding it otherwise is read as the parse reads it
    and not counted); None when a line too long for an LCOV record stops the scan."""
    counts: dict[str, int] = {}
    names = FileTable()  # files named as the reading pass names them
    try:
        fh = open_report_bytes(path)
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    with fh:
        carry = b""
        offset = 0  # of buf in the file
        while True:
            chunk = fh.read(_CHUNK)
            if b"\r" in chunk:  # universal newlines, as the parse reads them (a '\r\n' cut in two adds an empty line)
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            buf = carry + chunk if carry else chunk
            end = buf.rfind(b"\n") + 1 if chunk else len(buf)
            if not end and chunk:
                if len(buf) > _SCAN_HELD_MAX:
                    return None
                carry = buf
                continue
            pos = buf.find(b"SF:", 0, end)
            while pos >= 0:
                start = buf.rfind(b"\n", 0, pos) + 1
                stop = buf.find(b"\n", pos, end)
                stop = end if stop < 0 else stop
                name = _source_file(buf[start:stop].decode("utf-8", "replace"), first=not (offset or start))
                if name:
                    name = names.key(name)
                    counts[name] = counts.get(name, 0) + 1
                pos = buf.find(b"SF:", stop, end)
            if not chunk:
                return counts
            carry = buf[end:]
            offset += end


def _branch_ids(path: Path, files: set[str]) -> dict[str, dict[tuple[int, int | str, int | str], int]]:
    """The BRDA ids of `files` (normalized paths) over all their records, each with its taken
    count summed, as lcov adds tracefiles up: a branch is one branch however many records list
    it, and taken when any record took it. Read from a file the main pass has already accepted,
    with its spellings (universal newlines, '-' for never taken, ids as _branch_id gives them)."""
    ids: dict[str, dict[tuple[int, int | str, int | str], int]] = {name: {} for name in files}
    names = FileTable()  # files named as the reading pass names them
    current = None
    with io.TextIOWrapper(open_report_bytes(path), encoding="utf-8-sig", errors="replace") as fh:
        for raw in fh:
            line = raw.strip()
            if line.startswith("BRDA:"):
                if current is not None:
                    parts = line[5:].split(",", 3)
                    taken_text = parts[3].strip()
                    taken = 0 if taken_text == "-" else clamp_hits(to_int(taken_text))
                    k = (to_int(parts[0]), _branch_id(parts[1].strip()), _branch_id(parts[2].strip()))
                    current[k] = current.get(k, 0) + taken
            elif line.startswith("SF:"):
                current = ids.get(names.key(line[3:].strip()))
    return ids


# coverage.py's LCOV names a branch by what it does ('jump to line 5', 'return from function
# 'f'', 'exit the module'): its XML and JSON reports name the same branch by its destination
# ('5', 'exit'). Those names let shards of one run add up branch by branch. Numbered branches
# are named only as istanbul numbers them (_is_istanbul_numbered): c8 numbers the branches V8
# happened to report in that run.
_COVERAGEPY_JUMP = re.compile(r"jump to line (\d+)$")
_COVERAGEPY_EXIT = re.compile(r"(?:jump to the function exit|return from function .*|exit the module|exit class .*)$")


def _branch_name(branch: int | str) -> str | None:
    """The destination coverage.py names a BRDA branch by, or None for any other branch."""
    if isinstance(branch, str):
        m = _COVERAGEPY_JUMP.match(branch)
        if m:
            return m.group(1)
        if _COVERAGEPY_EXIT.match(branch):
            return "exit"
    return None


# The checksum coverage.py (6.3 to 7.6.1) put on every DA line: an MD5, base64 without its '=='.
_LINE_CHECKSUM = re.compile(r"[A-Za-z0-9+/]{22}")


def _coveragepy_branches(fc: FileCoverage, taken: dict[tuple[int, int | str, int | str], int]) -> None:
    """The branches of a record of coverage.py 6.3 to 7.6.1 (BRDA:<destination>,<n-th branching
    line>,<id>,<taken>, destination 0 for leaving the function) on the lines they leave.

    The writer does not name that line. It is the statement just before the first line its
    branch into the body goes to (an `if`, `elif`, `for`, `while` or `case` line is followed by
    its body), and the branching lines come in order: for each block, the first statement
    before one of its destinations that comes after the previous block's line. A destination
    back to an enclosing loop's line gives an earlier statement, which that order rules out.
    A block nothing places stays where the writer put it."""
    statements = sorted(fc.lines)
    blocks: dict[int | str, list[tuple[int, int]]] = {}
    for (destination, block, _branch), hits in taken.items():
        blocks.setdefault(block, []).append((destination, hits))
    previous = 0
    for block in sorted(blocks, key=lambda b: (isinstance(b, str), b)):
        branches = blocks[block]
        source = None
        for destination in sorted({d for d, _ in branches if d > 0}):
            i = bisect_left(statements, destination) - 1
            if i >= 0 and statements[i] > previous:
                source = statements[i]
                break
        if source is None:
            for destination, hits in branches:
                add_branch(fc, destination, (1 if hits else 0, 1))
            continue
        previous = source
        missing = frozenset(str(d) if d > 0 else "exit" for d, hits in branches if not hits)
        add_branch(fc, source, (sum(1 for _, hits in branches if hits), len(branches)), missing)


def _is_coveragepy_numbered(taken: dict[tuple[int, int | str, int | str], int]) -> bool:
    """BRDA ids as coverage.py 6.3 to 7.6.1 numbered them: blocks 0, 1, 2, ..., in each block
    branches 0, 1, ... (gcc's geninfo, whose line checksums look the same, starts its blocks
    again at 0 on every line)."""
    ids: dict[int | str, set[int | str]] = {}
    for _line, block, branch in taken:
        ids.setdefault(block, set()).add(branch)
    branches = sum(map(len, ids.values()))
    return set(ids) == set(range(len(ids))) and branches == len(taken) and all(
        found == set(range(len(found))) for found in ids.values())


def _is_istanbul_numbered(taken: dict[tuple[int, int | str, int | str], int]) -> bool:
    """BRDA ids as istanbul's LCOV writer gives the branches its instrumenter numbered (nyc,
    babel-plugin-istanbul in Jest and Karma, Vitest's istanbul provider): the block is the
    branch's id in coverage-final.json (0, 1, 2, ..., each on one line), the branch its index
    among that branch's locations (0, 1, ...), and some branch has several. Those ids come from
    the code alone, whatever ran. c8 and the v8 providers write one location per block, numbered
    by the V8 ranges that run reported; gcc's blocks start again at 0 on every line."""
    ids: dict[int | str, set[int | str]] = {}
    where: dict[int | str, int] = {}
    for line, block, branch in taken:
        if where.setdefault(block, line) != line:
            return False
        ids.setdefault(block, set()).add(branch)
    return (set(ids) == set(range(len(ids))) and any(len(found) > 1 for found in ids.values())
            and all(found == set(range(len(found))) for found in ids.values()))


def _note_missing(fc: FileCoverage, taken: dict[tuple[int, int | str, int | str], int]) -> None:
    """The names of the branches no record took, per line, where coverage.py named them all,
    or istanbul numbered them from the code (named '<id>.<index>', as the istanbul reader names
    them in coverage-final.json) (FileCoverage.branch_missing)."""
    numbered = _is_istanbul_numbered(taken)
    missing: dict[int, set[str | None]] = {}
    for number, block, branch in compress(taken, map(not_, taken.values())):
        missing.setdefault(number, set()).add(f"{block}.{branch}" if numbered else _branch_name(branch))
    for number, names in missing.items():
        if None not in names:
            fc.branch_missing[number] = frozenset(names)


def _files(path: Path, stream: CoverageStream) -> Iterator[FileCoverage]:
    info = stream.info
    table = FileTable()
    # Declared summaries per file: a file listed in several records (lcov -a keeps one record per
    # test name) states its LF/BRF in each, so they are not summed; its LH/BRH count the hits of
    # one test each, and the union of them is stated nowhere.
    summaries: list[tuple[str | None, str, int]] = []  # (file, key, value), in file order
    fc: FileCoverage | None = None
    lines: dict[int, int] = {}  # fc.lines, for the DA fast path
    # The record's FN entries by name, as indices into fc.functions in FN order, and how many
    # FNDA of each name have been met: the n-th FNDA of a name is that of its n-th FN (istanbul
    # names nested helpers, methods of several classes, alike; each is a function of its own).
    fn_lines: dict[str, list[int]] = {}
    fn_hits_seen: dict[str, int] = {}
    fn_base = 0  # len(fc.functions) when the record began: those are from earlier records of its file
    fn_orphans: list[int] = []  # functions the record's FNDA named before any FN of theirs
    fn_index: dict[str, tuple[int | None, str | None]] = {}  # lcov 2: FNL index -> (line, name)
    branch_seen: dict[tuple[int, int | str, int | str], int] = {}  # one record's BRDA keys -> taken
    branch_cols: tuple[list[int], list[int]] | None = None  # branch_seen as columns, see flush_branches
    recount: set[str] = set()  # files whose branches several records list
    records = 0
    lineno = 0
    # What tells a record of coverage.py 6.3 to 7.6.1 (see the module's docstring): its DA lines
    # all checksummed, with 0 or 1 hits, no FN; and its LF.
    record_da = record_checksums = 0
    record_other = False  # an FN, or hits other than 0 and 1
    record_lf: int | None = None
    record_brf: int | None = None
    record_brh: int | None = None
    coveragepy_counts: dict[str, CoverageTotals] = {}  # those files' counts, as coverage.py's
    coveragepy_content: dict[str, CoverageTotals] = {}  # and as their records give them
    # (block, destination) -> how many such branches no record took (several exits are all 0)
    coveragepy_missing: dict[str, Counter] = {}
    other_records: set[str] = set()  # files with a record of another shape
    # Whose summaries these are (see _count_as_declared): a TN line anywhere, gcovr's test name,
    # and where a record's BRF comes (after its DA and before its LF: llvm-cov export).
    test_named = gcovr = brf_between = lf_first = False

    # Records go out once their file's last record has ended (as counted ahead), but for those
    # whose branches several records list: they are counted again at the end.
    left = _record_counts(path)
    done: set[str] = set()
    given: set[str] = set()  # files given out with something in them

    def bad(lineno: int, why: str) -> FormatError:
        return FormatError(path, f"line {lineno}: {why}")

    def finished(fc: FileCoverage) -> FileCoverage | None:
        """A record of fc's file has ended: the file's record, when that was its last one."""
        n = left.get(fc.path) if left is not None else None
        if n is None:
            return None
        if n > 1:
            left[fc.path] = n - 1
            return None
        del left[fc.path]
        if fc.path in recount:
            return None
        if not (fc.lines or fc.branches or fc.functions):
            # Held to the end: a report of summaries only (llvm-cov export -summary-only) gives
            # its files' counts, not records.
            return None
        done.add(fc.path)
        given.add(fc.path)
        return table.files.pop(fc.path)

    def flush_branches(columns: tuple[list[int], list[int]] | None) -> None:
        """Per line, the distinct branches listed and those taken; `columns` (line numbers,
        taken) when the record's branches are one bulk run of distinct keys."""
        if fc.branches:
            # A file's branches met again (one record per test, or tracefiles put end to end):
            # its branches are the union by id, which needs every record's ids; they are read
            # again at the end for such files only, so that the common case keeps none.
            recount.add(fc.path)
            branch_seen.clear()
            return
        numbers, takens = columns or (list(map(itemgetter(0), branch_seen)), branch_seen.values())
        valid = Counter(numbers)  # per line, in the order first met
        covered = Counter(compress(numbers, takens))  # taken sums are never negative
        fc.branches.update(zip(valid, zip(map(covered.get, valid, repeat(0)), valid.values())))
        # A bulk run's ids are numbers, which name a branch only as istanbul numbers them.
        if columns is None or _is_istanbul_numbered(branch_seen):
            _note_missing(fc, branch_seen)
        branch_seen.clear()

    try:
        fh = open_report_bytes(path)
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    with fh:
        pending = b""  # the unfinished last line of what has been read
        while True:
            chunk = fh.read(_CHUNK)
            if chunk:
                if b"\r" in chunk:
                    # Universal newlines, as text mode reads them: '\r\n' and a lone '\r' end a line.
                    while chunk.endswith(b"\r"):
                        more = fh.read(1)
                        if not more:
                            break
                        chunk += more
                    chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                buf = pending + chunk if pending else chunk
                cut = buf.rfind(b"\n") + 1
                pending = buf[cut:]
                if not cut:
                    if len(pending) > 4 * (MAX_LINE_CHARS + 1):  # more characters than that, whatever the bytes
                        raise bad(lineno + 1, "line too long for an LCOV record")
                    continue
                end = cut
            elif pending:
                buf, pending = pending, b""
                end = len(buf)
            else:
                break
            pos = 0
            while pos < end:
                if fc is not None and buf.startswith(b"DA:", pos):
                    m = _DA_END.search(buf, pos, end)
                    stop = m.start() + 1 if m else buf.rfind(b"\n", pos, end) + 1
                    numbers = _numbers(buf[pos:stop], b"DA:", b"DA:,\n") if stop > pos else None
                    if numbers is not None:
                        count = len(numbers) // 2
                        lineno += count
                        record_da += count  # without checksums
                        pos = stop
                        pairs = iter(numbers)
                        new = dict(zip(pairs, pairs))
                        if len(new) == count and (not lines or lines.keys().isdisjoint(new)):
                            new.pop(0, None)
                            if lines:
                                lines.update(new)
                            else:
                                fc.lines = lines = new
                        else:  # a line listed again: its hits add up
                            pairs = iter(numbers)
                            for number, hits in zip(pairs, pairs):
                                if number > 0:
                                    old = lines.get(number)
                                    lines[number] = hits if old is None else min(old + hits, MAX_HITS)
                        continue
                elif fc is not None and buf.startswith(b"BRDA:", pos):
                    m = _BRDA_END.search(buf, pos, end)
                    stop = m.start() + 1 if m else buf.rfind(b"\n", pos, end) + 1
                    # '-' (never taken) counts as 0 taken
                    numbers = _numbers(buf[pos:stop].replace(b",-\n", b",0\n"), b"BRDA:", b"BRDA:,,,\n") if stop > pos else None
                    if numbers is not None:
                        number_col, taken_col = numbers[0::4], numbers[3::4]
                        lineno += len(number_col)
                        pos = stop
                        keys = zip(number_col, numbers[1::4], numbers[2::4])
                        if not branch_seen:
                            branch_seen.update(zip(keys, taken_col))
                            if len(branch_seen) == len(number_col):
                                branch_cols = (number_col, taken_col)
                                continue
                            branch_seen.clear()
                            keys = zip(number_col, numbers[1::4], numbers[2::4])
                        branch_cols = None
                        for k, taken in zip(keys, taken_col):
                            branch_seen[k] = branch_seen.get(k, 0) + taken
                        continue
                else:
                    stop = 0
                if stop <= pos:
                    m = _RUN_START.search(buf, pos, end)
                    stop = m.start() + 1 if m else end
                text = buf[pos:stop].decode("utf-8", "replace")
                pos = stop
                texts = text.split("\n")
                last = texts.pop()  # '' after a final newline
                for i, raw in enumerate(texts):
                    texts[i] = raw + "\n"
                if last:
                    texts.append(last)
                for raw in texts:
                    lineno += 1
                    # The bulk of every tracefile is short DA records in their common spelling: they are
                    # read here, before the general path (a long one takes the general path and its checks).
                    if fc is not None and raw.startswith("DA:") and len(raw) < 64:
                        number_text, _, rest = raw[3:].partition(",")
                        hits_text, _, checksum = rest.partition(",")
                        hits_text = hits_text.rstrip()
                        if number_text.isdecimal() and hits_text.isdecimal():
                            number = int(number_text)
                            hits = int(hits_text)
                            record_da += 1
                            if checksum and _LINE_CHECKSUM.fullmatch(checksum.rstrip()):
                                record_checksums += 1
                            if hits > 1:
                                record_other = True
                            if number > 0:
                                old = lines.get(number)
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
                        # Longer digit runs than a count or line holds go the slow way (int() refuses
                        # over 4,300 digits).
                        if len(parts) == 4 and parts[0].isdecimal() and len(parts[0]) < 19:
                            taken_text = parts[3].strip()
                            taken = 0 if taken_text == "-" else (
                                int(taken_text) if taken_text.isdecimal() and len(taken_text) < 19
                                else clamp_hits(to_int(taken_text))
                            )
                            k = (int(parts[0]), _branch_id(parts[1].strip()), _branch_id(parts[2].strip()))
                            branch_seen[k] = branch_seen.get(k, 0) + taken
                            branch_cols = None
                            continue
                    if key == "end_of_record":
                        if fc is not None:
                            # Its shards' tracefiles put end to end give a file several such records:
                            # their lines and branches add up, as coverage.py combines data files.
                            # The cheap tests first: every other tracefile fails them (on its first
                            # DA without a checksum), and counting its lines would cost each record.
                            if (record_da and record_checksums == record_da and not record_other
                                    and record_lf is not None
                                    and fc.path not in other_records
                                    and (fc.path in coveragepy_counts or not fc.branches)
                                    and (not branch_seen or _is_coveragepy_numbered(branch_seen))
                                    and (zeros := sum(1 for h in fc.lines.values() if not h)) <= record_lf <= len(fc.lines)):
                                untaken = Counter((block, destination) for (destination, block, _branch), hits
                                                  in branch_seen.items() if not hits)
                                before = coveragepy_missing.get(fc.path)
                                coveragepy_missing[fc.path] = untaken if before is None else before & untaken
                                if branch_seen:
                                    _coveragepy_branches(fc, branch_seen)
                                    branch_seen.clear()
                                content = CoverageTotals()
                                content.add(fc)
                                counts = CoverageTotals(1, record_lf, record_lf - zeros, content.branches_valid,
                                                        content.branches_covered)
                                missing = sum(coveragepy_missing[fc.path].values())
                                if record_brf is not None and record_brf >= missing:
                                    # Its BRDA also list arcs that ran from a branching line without being
                                    # one of its branches (an exception's jump, a comprehension's exit):
                                    # BRF counts the branches, and those no record took are missing.
                                    counts.branches_valid = record_brf
                                    counts.branches_covered = record_brf - missing
                                coveragepy_counts[fc.path] = stream.file_totals[fc.path] = counts
                                coveragepy_content[fc.path] = content
                                stream.prefer_declared = True
                            else:
                                other_records.add(fc.path)
                                if coveragepy_counts.pop(fc.path, None) is not None:  # read as written, then
                                    del stream.file_totals[fc.path], coveragepy_content[fc.path], coveragepy_missing[fc.path]
                            # coverage.py's later LCOV (branches named by what they do) lists only the
                            # exits that ran of a `# pragma: no branch` line, none of one that never
                            # ran; its BRF/BRH count them all, as taken.
                            named = (record_brf is not None and record_brh is not None and not fc.branches
                                     and all(_branch_name(b) is not None for _n, _b, b in branch_seen))
                            if branch_seen:
                                flush_branches(branch_cols)
                                if named:
                                    fill_no_branch_lines(fc, record_brf, record_brh)
                            if named and fc.lines and fc.path not in recount:
                                content = CoverageTotals()
                                content.add(fc)
                                hidden = record_brf - content.branches_valid
                                if hidden > 0 and hidden == record_brh - content.branches_covered:
                                    # Branches no line can be given: the file counts as the record says.
                                    counts = CoverageTotals(1, content.lines_valid, content.lines_covered,
                                                            record_brf, record_brh)
                                    coveragepy_counts[fc.path] = stream.file_totals[fc.path] = counts
                                    coveragepy_content[fc.path] = content
                                    coveragepy_missing[fc.path] = Counter()
                                    stream.prefer_declared = True
                            if (complete := finished(fc)) is not None:
                                yield complete
                        branch_cols = None
                        fc = None
                        fn_lines, fn_hits_seen, fn_index, fn_orphans = {}, {}, {}, []
                        record_da = record_checksums = 0
                        record_other, record_lf, record_brf, record_brh = False, None, None, None
                        continue
                    if not sep:
                        raise bad(lineno, f"not an LCOV record: {line[:80]!r}")
                    if key == "SF":
                        if fc is not None:  # a record without end_of_record
                            if branch_seen:
                                flush_branches(branch_cols)
                            if (complete := finished(fc)) is not None:
                                yield complete
                        branch_cols = None
                        if not value.strip():
                            raise bad(lineno, "SF without a path")
                        fc = table.get(value.strip())
                        if fc.path in done:  # cannot be, when the counts are right: rather no record than a wrong one
                            raise bad(lineno, f"a record of {fc.path} after the last one counted for it")
                        lines = fc.lines
                        fn_lines, fn_hits_seen, fn_index, fn_orphans = {}, {}, {}, []
                        fn_base = len(fc.functions)
                        records += 1
                        record_da = record_checksums = 0
                        record_other, record_lf, record_brf, record_brh = False, None, None, None
                        continue
                    if key in ("TN", "VER"):
                        if key == "TN":
                            test_named = True
                            gcovr = gcovr or value.strip() == _GCOVR_TEST_NAME
                        continue
                    if key in _SUMMARY:
                        n = _int(value)
                        if n is None:
                            raise bad(lineno, f"{key} is not a number: {value[:40]!r}")
                        summaries.append((fc.path if fc is not None else None, _SUMMARY[key], n))
                        if key == "LF" and fc is not None:
                            record_lf = n
                            lf_first = lf_first or record_brf is None
                        elif key == "BRF" and fc is not None:
                            record_brf = n
                            brf_between = brf_between or (record_lf is None and record_da > 0)
                        elif key == "BRH" and fc is not None:
                            record_brh = n
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
                        record_da += 1
                        if len(parts) == 3 and _LINE_CHECKSUM.fullmatch(parts[2].strip()):
                            record_checksums += 1
                        if hits not in (0, 1):
                            record_other = True
                        if number > 0:
                            table.line(fc, number, clamp_hits(hits), add=True)
                    elif key == "BRDA":
                        parts = _split(value, 4)
                        if len(parts) != 4 or to_int(parts[0]) is None:
                            raise bad(lineno, f"malformed BRDA record: {value[:80]!r}")
                        taken = 0 if parts[3].strip() == "-" else clamp_hits(to_int(parts[3]))
                        k = (to_int(parts[0]), _branch_id(parts[1].strip()), _branch_id(parts[2].strip()))
                        branch_seen[k] = branch_seen.get(k, 0) + taken
                        branch_cols = None
                    elif key == "FN":
                        record_other = True
                        # FN:<line>,<name> or, lcov 2, FN:<line>,<end line>,<name>
                        parts = _split(value, 3)
                        if len(parts) == 3 and _int(parts[1]) is not None:
                            number, name = _int(parts[0]), parts[2]
                        else:
                            first, _, name = value.partition(",")
                            number = _int(first)
                        listed = fn_lines.setdefault(name, [])
                        functions = fc.functions
                        # The same function in an earlier record of the file (one record per
                        # test), or named by an FNDA before its FN; else a function of its own.
                        index = next(
                            (i for i in chain(range(fn_base), fn_orphans) if functions[i][0] == name
                             and functions[i][1] in (number, None) and i not in listed),
                            None,
                        )
                        if index is None:
                            index = len(functions)
                            functions.append((name, number, 0))
                        elif functions[index][1] is None:
                            functions[index] = (name, number, functions[index][2])
                        listed.append(index)
                    elif key == "FNDA":
                        hits_text, _, name = value.partition(",")
                        hits = clamp_hits(_int(hits_text))
                        listed = fn_lines.get(name)
                        seen = fn_hits_seen.get(name, 0)
                        if listed and seen < len(listed):
                            fn_hits_seen[name] = seen + 1
                            n, number, old = fc.functions[listed[seen]]
                            fc.functions[listed[seen]] = (n, number, min(old + hits, MAX_HITS))
                        else:  # no FN for it, or more FNDA than FN: by name, as lcov reads them
                            number = fc.functions[listed[-1]][1] if listed else None
                            known = len(fc.functions)
                            table.function(fc, name, number, hits, add=True)
                            if len(fc.functions) > known:
                                fn_orphans.append(known)
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
        if branch_seen:
            flush_branches(branch_cols)
        if (complete := finished(fc)) is not None:
            yield complete
    if records == 0:
        raise FormatError(path, "no SF record: not an LCOV tracefile")
    if recount:
        for name, ids in _branch_ids(path, recount).items():
            valid = Counter(map(itemgetter(0), ids))
            covered = Counter(k[0] for k, taken in ids.items() if taken)
            table.files[name].branches = {number: (covered.get(number, 0), total) for number, total in valid.items()}
            table.files[name].branch_missing = {}
            _note_missing(table.files[name], ids)
    declared: dict[str, int] = {}
    # The distinct files: those given out already and those still held.
    if records > len(table.files) + len(done):  # a file listed in several records
        outside = [entry for entry in summaries if entry[0] is None]  # outside any SF section: each counts
        largest: dict[tuple[str, str], int] = {}
        for file, name, n in summaries:
            if file is not None and name not in ("lines_covered", "branches_covered"):
                largest[file, name] = max(largest.get((file, name), 0), n)
        summaries = outside + [(file, name, n) for (file, name), n in largest.items()]
    for file, name, n in summaries:
        if name == "lines_covered" and file in coveragepy_counts:
            n = coveragepy_counts[file].lines_covered  # coverage.py before 7.2 counted every line that ran
        declared[name] = declared.get(name, 0) + n
    info.declared = declared
    if not given and not any(fc.lines or fc.branches or fc.functions for fc in table.files.values()) and any(
        file is not None for file, _name, _n in summaries
    ):
        # Summaries only (LF/LH, BRF/BRH per file, no DA or BRDA): those are the counts, file by
        # file, as in Istanbul's coverage-summary.json.
        for name in table.files:
            stream.file_totals[name] = CoverageTotals(files=1)
        for file, name, n in summaries:
            if file is not None:
                counts = stream.file_totals[file]
                setattr(counts, name, max(getattr(counts, name), n))
        for name, counts in stream.file_totals.items():
            checked_counts(counts, f"the summary of {name[:200]!r}", path)
        stream.prefer_declared = True
    else:
        yield from table.files.values()  # the stream checks the declared totals against them
        # Every record has been counted by now.
        _count_as_declared(info, stream.totals.as_dict(), llvm=brf_between and not lf_first and not test_named, gcovr=gcovr)
    if stream.prefer_declared:
        # The report's own counts stand for it (CoverageStream.file_totals): what the stream
        # counted, with coverage.py's records counted as coverage.py counts them, and the files
        # of a report of summaries only (not given out: they hold nothing) by their summaries.
        totals = CoverageTotals(**stream.totals.as_dict())
        for name, counts in stream.file_totals.items():
            content = coveragepy_content.get(name) or CoverageTotals()
            totals.files += counts.files - content.files
            totals.lines_valid += counts.lines_valid - content.lines_valid
            totals.lines_covered += counts.lines_covered - content.lines_covered
            totals.branches_valid += counts.branches_valid - content.branches_valid
            totals.branches_covered += counts.branches_covered - content.branches_covered
        stream.declared_totals = totals


# gcovr's --lcov test name, unless --lcov-test-name says otherwise.
_GCOVR_TEST_NAME = "GCOVR_report"


def _count_as_declared(info: ReportInfo, held: dict[str, int], llvm: bool, gcovr: bool) -> None:
    """The content counted as the writer counts its LF/LH/BRF/BRH, where that is not one per DA
    and BRDA, into info.counted. llvm-cov export (no TN, BRF/BRH between the BRDA and LF/LH)
    writes its file summaries there, which count a function's lines and branches per function
    with its instantiations merged (a line of a lambda in its enclosing function too), while its
    DA and BRDA list every region of every instantiation: neither side bounds the other, so they
    cannot disagree. gcovr 8 counts a line of an inline or template function once per instance
    in LF/LH, and writes its DA merged: LF/LH agree with them as long as they hold no more."""
    if llvm:
        info.counted = dict.fromkeys(("lines_valid", "lines_covered", "branches_valid", "branches_covered"))
    elif gcovr:
        info.counted = {key: at_least(info.declared.get(key), held[key]) for key in ("lines_valid", "lines_covered")}


def open_lcov(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE)

    def files() -> Iterator[FileCoverage]:
        yield from _files(Path(path), stream)

    stream = CoverageStream(info, files(), check_declared=True)
    return stream


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="LCOV tracefile (lcov, c8/istanbul, coverage.py, grcov, llvm-cov, Flutter)",
    matches=_matches,
    open=open_lcov,
)
