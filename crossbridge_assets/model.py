"""The canonical records every layer speaks.

Parsers produce these, the warehouse stores them, analysis reads them back as frames.
Nothing here knows about a file format, a database or Dagster.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Callable, Generator, Iterable, Iterator

# Result statuses, in the priority order used when one test has several outcomes.
ERROR = "error"
FAILED = "failed"
SKIPPED = "skipped"
PASSED = "passed"
STATUSES = (ERROR, FAILED, SKIPPED, PASSED)

# The message of a failed try whose report says only that it was rerun (pytest-rerunfailures in
# JUnit XML): no detail of why it failed, so no failure of another test shares its cause.
RERUN_WITHOUT_DETAIL = "rerun (pytest's report keeps no failure for it)"

KIND_RESULTS = "results"
KIND_COVERAGE = "coverage"
KIND_PROFILING = "profiling"
KIND_CHANGE = "change"  # a diff a run sends, for its patch coverage

# Captured output is kept for diagnosis, not archival: the raw report stays in the archive.
MAX_OUTPUT_CHARS = 64 * 1024


def truncate_output(text: str | None, limit: int = MAX_OUTPUT_CHARS) -> tuple[str | None, int]:
    """Return (possibly truncated text, original length in characters)."""
    if text is None:
        return None, 0
    size = len(text)
    if size <= limit:
        return text, size
    return text[:limit] + f"\n… [truncated, {size} characters in the original]", size


_WS = re.compile(r"\s+")


# Suite paths repeat for every test of a class: normalize each spelling once.
@lru_cache(maxsize=4096)
def normalize_suite(suite: str | None) -> str:
    """One spelling of a suite path whatever the format wrote: dots, slashes, '::' and '\\'
    all become '.', surrounding whitespace goes, a trailing '.py' module suffix goes."""
    if not suite:
        return ""
    s = suite.strip().replace("\\", "/").replace("::", "/")
    if s.endswith(".py"):
        s = s[:-3]
    parts = [p.strip() for p in re.split(r"[/.]", s) if p.strip()]
    return ".".join(_WS.sub(" ", p) for p in parts)


_PARAMS = re.compile(r"^(?P<name>.*?)(?P<params>\[.*\])$", re.S)


def split_parameters(name: str) -> tuple[str, str | None]:
    """Split 'test_add[1-2]' into ('test_add', '[1-2]'); parameters are kept apart so that
    history of a parametrized test can be grouped while each case keeps its own identity."""
    if not name.endswith(("]", "]\n")):  # no parameters: the pattern cannot match ('$' allows one final newline)
        return name, None
    m = _PARAMS.match(name)
    if m and m.group("name"):
        return m.group("name"), m.group("params")
    return name, None


# How CI systems and git spell a branch beside its name: GitHub's GITHUB_REF and Azure's
# BUILD_SOURCEBRANCH (refs/heads/main), Jenkins' GIT_BRANCH (origin/main), `git branch -a`
# (remotes/origin/main), a tag build (refs/tags/v1.2).
_REF_PREFIXES = ("refs/heads/", "refs/remotes/origin/", "remotes/origin/", "origin/", "refs/tags/")
# What a detached checkout says instead of a branch: no branch at all.
_NO_BRANCH = frozenset({"HEAD", "(HEAD detached)", "detached", "(detached)", "(no branch)"})


def branch_name(ref: str | None) -> str | None:
    """A branch as one name however it arrives: 'refs/heads/main', 'origin/main' and 'main' are
    one history; a tag build is named by its tag; a detached HEAD is no branch (None), so that a
    lower-priority source of run metadata can name it."""
    if ref is None:
        return None
    name = ref.strip()
    for prefix in _REF_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
            break
    return None if not name or name in _NO_BRANCH or name.startswith("(HEAD detached") else name


def test_identity(framework: str, suite: str, name: str, parameters: str | None) -> str:
    """Stable id of a test across runs and formats: framework + normalized suite + name + params."""
    key = "\x1f".join((framework or "", suite or "", name or "", parameters or ""))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


@dataclass(slots=True)
class Attempt:
    """One execution of a test: reruns and retries each make one."""

    status: str
    duration: float | None = None  # seconds
    message: str | None = None
    failure_type: str | None = None
    stack_trace: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    stdout_size: int = 0
    stderr_size: int = 0
    started_at: datetime | None = None


@dataclass(slots=True)
class TestCase:
    """A test's result in one report, with every attempt it took."""

    framework: str
    suite: str  # normalized with normalize_suite
    name: str
    parameters: str | None = None
    status: str = PASSED
    duration: float | None = None  # seconds, all attempts together
    attempts: list[Attempt] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    file: str | None = None
    line: int | None = None

    @property
    def identity(self) -> str:
        return test_identity(self.framework, self.suite, self.name, self.parameters)

    @property
    def flaky(self) -> bool:
        """Passed in the end after at least one failed attempt."""
        return self.status == PASSED and any(a.status in (FAILED, ERROR) for a in self.attempts)

    @property
    def final(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(slots=True)
class ResultTotals:
    tests: int = 0
    passed: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0

    def add(self, status: str) -> None:
        self.tests += 1
        if status == PASSED:
            self.passed += 1
        elif status == FAILED:
            self.failures += 1
        elif status == ERROR:
            self.errors += 1
        else:
            self.skipped += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "tests": self.tests,
            "passed": self.passed,
            "failures": self.failures,
            "errors": self.errors,
            "skipped": self.skipped,
        }

    @property
    def pass_rate(self) -> float:
        """Passed over executed (skipped tests do not count either way)."""
        executed = self.tests - self.skipped
        return round(self.passed / executed, 4) if executed else 1.0


@dataclass(slots=True)
class ReportInfo:
    """What a parser learns about a report besides its tests (filled while streaming)."""

    format: str
    kind: str
    framework: str | None = None
    name: str | None = None
    started_at: datetime | None = None
    duration: float | None = None
    declared: dict[str, int] = field(default_factory=dict)  # the file's own totals, untrusted
    # The content counted as the writer counts its declared totals, for the keys where that is
    # not how the stream counts (pytest counts reports, not testcases): what `declared` is
    # checked against instead of the stream's totals. None: that total counts nothing the file
    # holds (TAP::Harness::JUnit's tests= is the plan), so the content cannot contradict it.
    counted: dict[str, int | None] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class ResultStream:
    """A result report being read: iterate it for TestCase records; `totals` and
    `info` are complete once iteration has finished."""

    def __init__(self, info: ReportInfo, cases: Iterator[TestCase]):
        self.info = info
        self._cases = cases
        self.totals = ResultTotals()
        self.exhausted = False

    def __iter__(self) -> Iterator[TestCase]:
        add = self.totals.add
        for case in self._cases:
            add(case.status)
            yield case
        self.exhausted = True
        self._check_declared()

    def read_all(self) -> list[TestCase]:
        return list(self)

    def _check_declared(self) -> None:
        actual = {**self.totals.as_dict(), **self.info.counted}
        note_declared_disagreement(self.info, actual, ("tests", "failures", "errors", "skipped"))


def at_least(declared: int | None, held: int) -> int:
    """A declared total that may count more than the file shows (pytest's passed subtests, the
    branches istanbul puts on no line): the content agrees with it as long as it holds no more."""
    return declared if declared is not None and declared >= held else held


def note_declared_disagreement(info: ReportInfo, actual: dict[str, int], keys: Iterable[str] | None = None) -> None:
    """Warn when the report's own totals (info.declared: never trusted, always recorded)
    disagree with what it holds; `keys` (default: all it declares) in that order."""
    declared = info.declared
    diffs = [
        f"{key} declared {declared[key]} but the file holds {actual[key]}"
        for key in (declared if keys is None else keys)
        if key in declared and actual.get(key) is not None and declared[key] != actual[key]
    ]
    if diffs:
        info.warnings.append("declared totals disagree with the content: " + "; ".join(diffs))


# ---------------------------------------------------------------------------- coverage


@dataclass(slots=True)
class FileCoverage:
    """Coverage of one source file: line -> hits, line -> (covered, total) branches, functions."""

    path: str
    lines: dict[int, int] = field(default_factory=dict)
    branches: dict[int, tuple[int, int]] = field(default_factory=dict)
    functions: list[tuple[str, int | None, int]] = field(default_factory=list)  # name, line, hits
    source_path: str | None = None  # the path as the report wrote it (`path` is normalized)
    # line -> the branches of that line the report names as not taken, where it names them the
    # same way whatever ran (coverage.py's destination line or 'exit', in its XML, JSON and LCOV):
    # what lets shards that took different branches of one line add up (see union_branch).
    branch_missing: dict[int, frozenset[str]] = field(default_factory=dict)

    def merge(self, other: "FileCoverage") -> None:
        """Union semantics: a line is covered if either side covers it, a branch if either
        side took it, a function (the same name on the same line) if either side ran it. The
        stand-in V8 coverage gives a file no process loaded (see is_unloaded_stand_in) adds only
        its lines to a record of the file as measured: the branch and function it makes up are
        no branch or function of the file."""
        if other.is_unloaded_stand_in() and (self.lines or self.functions) and not self.is_unloaded_stand_in():
            for line, hits in other.lines.items():
                self.lines[line] = self.lines.get(line, 0) + hits
            return
        if self.is_unloaded_stand_in() and not other.is_unloaded_stand_in() and (other.lines or other.functions):
            self.branches, self.branch_missing, self.functions = {}, {}, []
        for line, hits in other.lines.items():
            self.lines[line] = self.lines.get(line, 0) + hits
        for line, counts in other.branches.items():
            add_branch(self, line, counts, other.branch_missing.get(line))
        # A function both sides list: its calls add up, as a line's hits do (nyc --all lists
        # a function a shard never ran with 0 calls; another shard's calls must not be lost).
        known = {(f[0], f[1]): i for i, f in enumerate(self.functions)}
        for fn in other.functions:
            i = known.get((fn[0], fn[1]))
            if i is None:
                known[(fn[0], fn[1])] = len(self.functions)
                self.functions.append(fn)
            else:
                self.functions[i] = (fn[0], fn[1], self.functions[i][2] + fn[2])

    def is_unloaded_stand_in(self) -> bool:
        """Whether this is what c8 --all, and Jest's and Vitest's v8 providers with
        collectCoverageFrom, write for a file no process loaded: every line uncovered, one
        uncovered function '(empty-report)' spanning the file and its one branch on line 1
        (v8-to-istanbul's empty report). A shard that loaded the file measures it instead:
        c8 merging its runs keeps only that."""
        return (
            len(self.functions) == 1
            and self.functions[0][0] == V8_UNLOADED_FUNCTION
            and self.functions[0][2] == 0
            and set(self.branches.items()) <= {(1, (0, 1))}
            and not any(self.lines.values())
        )


V8_UNLOADED_FUNCTION = "(empty-report)"


def _known_missing(counts: tuple[int, int], missing: frozenset[str] | None) -> frozenset[str] | None:
    """The branches of a line not taken, when the report said which (an id per branch not
    taken), or when it took them all; None when only the counts are known."""
    if missing is not None and len(missing) == counts[1] - counts[0]:
        return missing
    return frozenset() if counts[0] >= counts[1] else None


def union_branch(
    a: tuple[int, int], a_missing: frozenset[str] | None, b: tuple[int, int], b_missing: frozenset[str] | None
) -> tuple[tuple[int, int], frozenset[str] | None]:
    """The branches of one line in two reports (two shards, two formats): (covered, total) and
    the ids not taken. When both name the branches they did not take, a branch is taken if
    either took it: shard 1 took `if`, shard 2 `else`, the line is 2/2. Otherwise only counts
    are known (JaCoCo, Cobertura, numbered LCOV branches) and the larger ones stand."""
    ma, mb = _known_missing(a, a_missing), _known_missing(b, b_missing)
    if a[1] == b[1] and ma is not None and mb is not None:
        missing = ma & mb
        return (a[1] - len(missing), a[1]), missing or None
    counts = (max(a[0], b[0]), max(a[1], b[1]))
    for side, known in ((a, ma), (b, mb)):
        if side == counts and known:
            return counts, known
    return counts, None


def add_branch(fc: FileCoverage, line: int, counts: tuple[int, int], missing: frozenset[str] | None = None) -> None:
    """Record a line's branches in `fc`, as the union with what it holds (union_branch)."""
    old = fc.branches.get(line)
    if old is None:
        fc.branches[line] = counts
        known = _known_missing(counts, missing)
        if known:
            fc.branch_missing[line] = known
        return
    fc.branches[line], known = union_branch(old, fc.branch_missing.get(line), counts, missing)
    if known:
        fc.branch_missing[line] = known
    else:
        fc.branch_missing.pop(line, None)


_ZERO_LT = (0).__lt__  # hits > 0
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


@dataclass(slots=True)
class CoverageTotals:
    files: int = 0
    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0

    def add(self, fc: FileCoverage) -> None:
        # Counted in C (map over bound methods and itemgetters): reports hold millions of lines.
        self.files += 1
        self.lines_valid += len(fc.lines)
        self.lines_covered += sum(map(_ZERO_LT, fc.lines.values()))
        if fc.branches:
            self.branches_valid += sum(map(_SECOND, fc.branches.values()))
            self.branches_covered += sum(map(_FIRST, fc.branches.values()))

    def as_dict(self) -> dict[str, int]:
        return {
            "files": self.files,
            "lines_valid": self.lines_valid,
            "lines_covered": self.lines_covered,
            "branches_valid": self.branches_valid,
            "branches_covered": self.branches_covered,
        }

    @property
    def line_rate(self) -> float:
        return round(self.lines_covered / self.lines_valid, 4) if self.lines_valid else 0.0

    @property
    def branch_rate(self) -> float:
        return round(self.branches_covered / self.branches_valid, 4) if self.branches_valid else 0.0


class CoverageStream:
    """A coverage report being read: iterate it for FileCoverage records.

    Some formats only carry totals (Istanbul's coverage-summary.json): they set
    `declared_totals`, which then stands for the report's totals."""

    def __init__(self, info: ReportInfo, files: Iterator[FileCoverage], check_declared: bool = False):
        self.info = info
        self._files = files
        # The formats whose declared totals count what their content holds (JaCoCo, Cobertura,
        # LCOV) are checked against the totals counted here, once every file has gone by.
        self._check_declared = check_declared
        self.totals = CoverageTotals()
        self.declared_totals: CoverageTotals | None = None
        # The report's own counts are the better figure (coverage.py JSON and its older LCOV:
        # their line lists include non-statement lines, their counts do not; an LCOV of
        # summaries only has no lines).
        self.prefer_declared = False
        # Per-file counts: of reports that carry no line data (Istanbul's coverage-summary.json,
        # an LCOV of summaries only), and of the files whose counts a report prefers.
        self.file_totals: dict[str, CoverageTotals] = {}
        # test context -> file path -> covered lines, when the report records which test ran what.
        self.per_test: dict[str, dict[str, set[int]]] | None = None
        self.exhausted = False

    def __iter__(self) -> Iterator[FileCoverage]:
        for fc in self._files:
            self.totals.add(fc)
            yield fc
        self.exhausted = True
        if self._check_declared:
            # Against the totals that stand for the report: the report's own counts where it
            # prefers them (coverage.py's older LCOV) or has no records (an LCOV of summaries only).
            note_declared_disagreement(self.info, {**self.effective_totals.as_dict(), **self.info.counted})

    def read_all(self) -> list[FileCoverage]:
        return list(self)

    @property
    def effective_totals(self) -> CoverageTotals:
        if self.declared_totals is not None and (self.prefer_declared or self.totals.files == 0):
            return self.declared_totals
        return self.totals


# ---------------------------------------------------------------------------- profiling

SPAN_KINDS = (
    "session",
    "suite",  # a Robot Framework suite (nested suites nest their spans)
    "test",
    "setup",
    "call",
    "teardown",
    "step",
    "keyword",
    "http",
    "driver_command",
    "navigation",
)


@dataclass(slots=True)
class Span:
    """A timed span written by a hook inside a test runner."""

    run: str
    kind: str
    name: str
    start: datetime
    duration: float  # seconds
    status: str | None = None
    test: str | None = None  # test identity (or nodeid when the identity is not known)
    span_id: str | None = None
    parent_id: str | None = None
    attributes: dict[str, object] = field(default_factory=dict)
    # `start` as text, 'YYYY-MM-DD HH:MM:SS.ffffff+00:00' (isoformat(" ")), when the file wrote it
    # so: storing a span costs less than formatting its start again.
    start_text: str | None = field(default=None, repr=False, compare=False)


# A Span's fields in order: what SpanStream.records hands its `make`, positionally.
SPAN_FIELDS = ("run", "kind", "name", "start", "duration", "status", "test", "span_id", "parent_id", "attributes",
               "start_text")


class SpanStream:
    """A profiling event file being read: iterate it for Span records (or take them as other
    values with `records`, once either way); `count` and `info` are complete once iteration
    has finished.

    `source(make)` returns a generator of make(<SPAN_FIELDS values>), returning how many it
    made: the reader builds what its consumer wants directly (a Span, or the row a bulk load
    stores), so a million spans need not each become a Span on the way to the warehouse."""

    def __init__(self, info: ReportInfo, source: Callable[[Callable[..., Any]], Generator[Any, None, int]]):
        self.info = info
        self._source = source
        self.count = 0
        self.exhausted = False

    def __iter__(self) -> Iterator[Span]:
        return self.records(Span)

    def records(self, make: Callable[..., Any]) -> Iterator[Any]:
        # Delegated, not re-yielded one by one: files hold millions of spans.
        self.count = yield from self._source(make)
        self.exhausted = True

    def read_all(self) -> list[Span]:
        return list(self)


# ---------------------------------------------------------------------------- change


@dataclass(slots=True)
class FileChange:
    """The lines a change adds or modifies in one file, numbered in the file after it."""

    path: str
    lines: list[int]


@dataclass
class ChangeTotals:
    files: int = 0  # files the change adds or modifies lines of
    lines: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"files": self.files, "lines": self.lines}


class ChangeStream:
    """A diff being read: iterate it for FileChange records, one a file that has added or
    modified lines; `totals` is complete once iteration has finished."""

    def __init__(self, info: ReportInfo, files: Iterator[FileChange]):
        self.info = info
        self._files = files
        self.totals = ChangeTotals()
        self.exhausted = False

    def __iter__(self) -> Iterator[FileChange]:
        for change in self._files:
            self.totals.files += 1
            self.totals.lines += len(change.lines)
            yield change
        self.exhausted = True
