"""coverage.py's data file (`.coverage`, SQLite), read through coverage's own CoverageData API:
measured files, executed lines (or arcs, for branch measurement) and dynamic contexts.

A data file records what ran, not what could have run: every line it holds is covered, and the
statements that never ran only exist once the source is analysed, which is what
`coverage xml/json/lcov` do. Use those reports for percentages; use this one for exact
executed lines and for per-test coverage.

Branches: `coverage run --branch` stores the arcs (line -> next line) that ran, but a branch is
a line with several *possible* exits, and only coverage.py's analysis of the source knows
those (its XML/JSON reports take them from the parsed source, minus `# pragma: no branch` and
configured exclusions, after mapping multi-line statements to their first line). A line with
one executed exit may be a half-taken branch, and a line with two may not be a branch at all
(an exception's jump is an arc too), so no branch counts are derived here: records have no
branches, and the report info says what was measured: properties `measurement` ("arcs" or
"lines") and, for arcs, `arcs` (distinct arcs that ran, all files). For branch coverage read
the XML or JSON report of the same data.

Per-test coverage: with dynamic contexts (pytest-cov `--cov-context=test`, or
`[run] dynamic_context = test_function`) every context is a test; CoverageStream.per_test maps
context -> normalized path -> lines. The empty context (code run outside any test: imports,
collection) is not a test and is left out of per_test, though its lines are in the records.

The installed coverage.py reads one data schema (7, from coverage.py 5.0 on); a file of another
(5.0 pre-releases, or a coverage.py newer than the one installed) is refused saying who wrote
it, and so is coverage.py 4.x's data file, JSON behind a banner.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._coverage import FileTable, static_context
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, FileCoverage, ReportInfo

FORMAT = "coveragepy-data"
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Line bits (a bit a line) past line 1,048,576: no measured source file is that long, and each
# set bit becomes a Python int, 8 a byte, so a few MB of them would take gigabytes.
_MAX_LINE_BITS_BYTES = 1 << 17
_COVERAGE4 = b"!coverage.py: This is a private format"  # then JSON


def _matches(s: Sniff) -> bool:
    # The schema (CREATE TABLE statements) lives on the database's first page, inside the head:
    # every schema has the coverage_schema table (the 5.0 pre-releases stored lines otherwise).
    return (s.head.startswith(_SQLITE_MAGIC) and b"coverage_schema" in s.head) or s.head.startswith(_COVERAGE4)


def _check_schema(path: Path) -> None:
    """Refuse a data file of a schema the installed coverage.py does not read, naming its writer
    (the meta table has its version from schema 7 on)."""
    import coverage
    from coverage.sqldata import SCHEMA_VERSION

    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (schema,) = db.execute("SELECT version FROM coverage_schema").fetchone() or (None,)
        if schema == SCHEMA_VERSION or not isinstance(schema, int):
            return  # coverage.py's own reading says what else is wrong
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        except sqlite3.Error:  # schemas before 7: one row of columns, no version
            row = None
    finally:
        db.close()
    writer = f"coverage.py {row[0]}" if row and row[0] else (
        "a coverage.py 5.0 pre-release" if schema < SCHEMA_VERSION else "a newer coverage.py")
    raise FormatError(path, f"written by {writer} (data schema {schema}); the installed coverage.py "
                            f"{coverage.__version__} reads data schema {SCHEMA_VERSION} only: read it with "
                            "the coverage.py that wrote it, or send its `coverage xml` or `coverage json` report")


def _check_database(path: Path) -> None:
    """Refuse, before coverage.py queries it, a database holding what coverage.py never writes and
    what its reading could not survive: a view or trigger (a view named like one of its tables
    may select rows without end), a virtual table, a computed column (computed on every read),
    or line bits of millions of lines. Raises FormatError; sqlite3.Error for an unreadable file."""
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    try:
        found = db.execute(
            "SELECT type, name FROM sqlite_master WHERE type NOT IN ('table', 'index')"
            " OR (type = 'table' AND upper(substr(ltrim(sql), 1, 14)) = 'CREATE VIRTUAL') LIMIT 1"
        ).fetchone()
        if found:
            kind = "virtual table" if found[0] == "table" else found[0]
            raise FormatError(path, f"not a coverage.py data file: it holds the {kind} '{found[1]}', "
                                    "which coverage.py never writes")
        for table in ("file", "context", "line_bits", "arc", "meta", "tracer", "coverage_schema"):
            if any(column[6] for column in db.execute(f"PRAGMA table_xinfo({table})")):
                raise FormatError(path, f"not a coverage.py data file: its table '{table}' has a computed "
                                        "column, which coverage.py never writes")
        # A 5.0 pre-release's file keeps its lines in line_map, not line_bits (_check_schema names it).
        pre_release = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'line_map'").fetchone()
        (longest,) = (None,) if pre_release else db.execute("SELECT max(length(numbits)) FROM line_bits").fetchone()
        if longest is not None and longest > _MAX_LINE_BITS_BYTES:
            raise FormatError(path, f"not a readable coverage.py data file: line bits for lines up to "
                                    f"{longest * 8:,}; no source file is longer than {_MAX_LINE_BITS_BYTES * 8:,} lines")
    finally:
        db.close()


def _open_data(path: Path):
    from coverage import CoverageData

    try:
        data = CoverageData(basename=str(path), read_only=True)
    except TypeError:  # coverage < 7.10 has no read_only
        data = CoverageData(basename=str(path))
    data.read()
    return data


def _files(path: Path, stream: CoverageStream) -> Iterator[FileCoverage]:
    from coverage.exceptions import CoverageException

    info = stream.info
    if not path.is_file():
        raise FormatError(path, "cannot be read: no such file")
    try:
        with open(path, "rb") as fh:
            banner = fh.read(len(_COVERAGE4))
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if banner == _COVERAGE4:
        raise FormatError(path, "a coverage.py 4.x data file (JSON), which coverage.py 5.0 and later "
                                "cannot read: send its `coverage xml` report instead")
    table = FileTable()
    per_test: dict[str, dict[str, set[int]]] = {}
    try:
        _check_database(path)
        _check_schema(path)
        data = _open_data(path)
        try:
            has_arcs = data.has_arcs()
            info.properties["measurement"] = "arcs" if has_arcs else "lines"
            arcs = 0
            measured_contexts = data.measured_contexts()
            # A static context labels the whole run (`coverage run --context=unit`): the tests are
            # the dynamic contexts after its 'unit|', and its code alone ran outside any test.
            label = static_context(measured_contexts)
            if label is not None:
                info.properties["static_context"] = label
            cut = len(label) + 1 if label is not None else 0
            contexts = sorted(c for c in measured_contexts if c and c != label)
            if contexts:
                info.properties["contexts"] = str(len(contexts))
            measured_files = data.measured_files()
            if not all(isinstance(m, str) and m for m in measured_files):
                raise FormatError(path, "not a readable coverage.py data file: a measured file without a path")
            for measured in sorted(measured_files):
                fc = table.get(measured)
                if contexts:
                    # Every executed line is a key here (the empty context included): reading
                    # data.lines() as well would decode the same line bits a second time.
                    by_context: dict[str, list[int]] = {}
                    for n, names in data.contexts_by_lineno(measured).items():
                        if n <= 0:
                            continue
                        fc.lines[n] = 1
                        for ctx in names:
                            if ctx and ctx != label:
                                ctx = ctx[cut:]
                                found = by_context.get(ctx)
                                if found is None:
                                    by_context[ctx] = [n]
                                else:
                                    found.append(n)
                    for ctx, numbers in by_context.items():
                        files = per_test.get(ctx)
                        if files is None:
                            files = per_test[ctx] = {}
                        if fc.path in files:  # two spellings of one file
                            files[fc.path].update(numbers)
                        else:
                            files[fc.path] = set(numbers)
                else:
                    for n in data.lines(measured) or ():
                        if n > 0:
                            fc.lines[n] = 1  # coverage.py records that a line ran, not how often
                if has_arcs:
                    arcs += len(data.arcs(measured) or ())
                tracer = data.file_tracer(measured)
                if tracer:
                    info.properties.setdefault("file_tracers", tracer)
                yield table.files.pop(fc.path)
            if has_arcs:
                info.properties["arcs"] = str(arcs)
        finally:
            data.close()
    except (CoverageException, sqlite3.Error) as exc:
        raise FormatError(path, f"not a readable coverage.py data file: {exc}") from exc
    except (UnicodeDecodeError, TypeError, ValueError) as exc:
        # A damaged database (a copy cut short, a flipped byte) holds NULLs and bytes where coverage's
        # own reading code expects numbers and text, and fails on them with these.
        raise FormatError(path, f"not a readable coverage.py data file: damaged content ({type(exc).__name__}: {exc})") from exc
    stream.per_test = per_test if contexts else None


def open_coveragepy_data(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE, framework="coverage.py")

    def records() -> Iterator[FileCoverage]:
        yield from _files(Path(path), stream)

    stream = CoverageStream(info, records())
    return stream


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="coverage.py data file (.coverage, SQLite) with dynamic contexts",
    matches=_matches,
    open=open_coveragepy_data,
)
