"""Loading coverage reports and reading coverage back: one transaction per report,
delete-then-insert, so loading the same report again never duplicates a row; per-run coverage
is the union of every report of the run (its shards, its formats), rebuilt when they change."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Iterable
from urllib.parse import quote, unquote

from sqlalchemy import Engine, and_, delete, func, insert, literal, or_, select

from crossbridge_assets.formats import FormatError, open_report
from crossbridge_assets.formats._coverage import (
    Records,
    add_totals,
    context_to_test,
    decode_ranges,
    encode_ranges,
    merge_coverage,
    merged_totals,
    report_format,
)
from crossbridge_assets.formats._paths import normalize_source_path, using_source_prefix
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, CoverageTotals, FileCoverage
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import INDEX_TEXT_BYTES, beyond_index, bulk_insert, exclusive, index_text, now
from crossbridge_assets.warehouse.landing import (
    LANDED,
    QUARANTINED,
    archived_sidecar,
    as_its_drop_said,
    lock_for_load,
    mark_loaded,
    unzoned_time_warning,
)
from crossbridge_assets.warehouse.retention import runs_with_expired
from crossbridge_assets.warehouse.runs import register_run

CHUNK = 2_000
KEEP_LEAST_COVERED = 10
# Formats that record what ran, not what could have run: every line they hold is covered, so
# they say nothing about a percentage (they feed the per-test map, not the run's figures).
EXECUTED_ONLY = frozenset({"coveragepy-data"})
# The largest line number stored: PostgreSQL's INTEGER (the per-test map's bounds), and more
# lines than any source file has.
MAX_LINE = 2**31 - 1

R, CF, CL, TM, CR = (
    schema.reports,
    schema.coverage_files,
    schema.coverage_lines,
    schema.test_coverage_map,
    schema.coverage_runs,
)


# ---------------------------------------------------------------------------- encoding


def encode_branches(branches: dict[int, tuple[int, int]], missing: dict[int, frozenset[str]] | None = None) -> str | None:
    """{9: (2, 2), 17: (1, 2)} -> '9:2/2,17:1/2'; with the ids of the branches not taken
    ({17: {'exit'}}): '17:1/2[exit]' (ids percent-encoded, ';' between them)."""
    if not branches:
        return None
    missing = missing or {}
    out = []
    for n, (c, t) in sorted(branches.items()):
        ids = missing.get(n)
        out.append(f"{n}:{c}/{t}" + ("[" + ";".join(quote(i, safe="") for i in sorted(ids)) + "]" if ids else ""))
    return ",".join(out)


def decode_branches(text: str | None) -> dict[int, tuple[int, int]]:
    return decode_branch_ids(text)[0]


def decode_branch_ids(text: str | None) -> tuple[dict[int, tuple[int, int]], dict[int, frozenset[str]]]:
    """encode_branches back: the counts, and the ids of branches not taken where stored."""
    out: dict[int, tuple[int, int]] = {}
    missing: dict[int, frozenset[str]] = {}
    if not text:
        return out, missing
    for part in text.split(","):
        part, _, ids = part.partition("[")
        line, _, counts = part.partition(":")
        covered, _, total = counts.partition("/")
        out[int(line)] = (int(covered), int(total))
        if ids:
            missing[int(line)] = frozenset(unquote(i) for i in ids.rstrip("]").split(";"))
    return out, missing


def file_record(path: str, covered: str, uncovered: str, branches: str | None, functions: str | None) -> FileCoverage:
    """A FileCoverage back from its stored form (hits are 1 or 0: the ranges keep coverage, not counts)."""
    lines = dict.fromkeys(decode_ranges(uncovered), 0)
    lines.update(dict.fromkeys(decode_ranges(covered), 1))
    fns = [tuple(f) for f in json.loads(functions)] if functions else []
    counts, missing = decode_branch_ids(branches)
    return FileCoverage(path=path, lines=lines, branches=counts, functions=fns, branch_missing=missing)


def _pct(covered: int, valid: int) -> float | None:
    return round(100.0 * covered / valid, 2) if valid else None


# ---------------------------------------------------------------------------- loading


@dataclass
class CoverageLoadSummary:
    totals: CoverageTotals = field(default_factory=CoverageTotals)
    file_rows: int = 0
    map_rows: int = 0
    tests: int = 0  # tests in the per-test map
    least_covered: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _check_lines(report, path: str, lines, where: str = "") -> None:
    """A line number no source file reaches makes the report unreadable, with that reason (the
    database would refuse it with an overflow)."""
    top = max(lines, default=0)
    if top > MAX_LINE:
        raise FormatError(report.original_name, f"{path}{where}: line {top} is beyond any source file "
                          f"(line numbers stop at {MAX_LINE})")


def _check_counts(report, path: str, counts: CoverageTotals) -> None:
    """A file counted as holding more lines or branches than any source file (a coverage
    summary's figures are the report's word) makes the report unreadable, with that reason
    (PostgreSQL would refuse the figure as out of range, and SQLite keep it)."""
    for name in ("lines_valid", "lines_covered", "branches_valid", "branches_covered"):
        value = getattr(counts, name)
        if value > MAX_LINE:
            raise FormatError(report.original_name, f"{path}: {name.replace('_', ' ')} {value} is beyond any source "
                              f"file (at most {MAX_LINE})")


def _check_path(report, path: str) -> None:
    """A source path longer than an index holds makes the report unreadable, with that reason
    (PostgreSQL would refuse it with an error of its own, and SQLite take it)."""
    size = beyond_index(path)
    if size is not None:
        raise FormatError(report.original_name, f"source path {path[:80]}… is {size} bytes long; "
                          f"paths of at most {INDEX_TEXT_BYTES} bytes are stored")


def _map_rows(report, context: str, test: str, files: dict[str, set[int]]) -> list[dict]:
    rows = []
    # The context is indexed: a long one (a test's long parameters) is cut; `test` keeps it whole.
    context = index_text(context)
    for path, lines in files.items():
        _check_path(report, path)
        lines = {n for n in lines if n > 0}
        _check_lines(report, path, lines, f" (covered by {test})")
        if lines:
            rows.append(
                dict(
                    report_sha256=report.sha256,
                    run_id=report.run_id,
                    context=context,
                    test=test,
                    path=path,
                    lines=encode_ranges(lines),
                    first_line=min(lines),
                    last_line=max(lines),
                    partition=report.partition,
                )
            )
    return rows


def load_coverage(engine: Engine, report, stream: CoverageStream, test: str | None = None) -> CoverageLoadSummary:
    """Write every file of `stream` for the `reports` row `report`, and its per-test map: the
    report's own dynamic contexts, or, for a report of a single test (`test`), its covered
    lines. Parse errors propagate and roll the whole report back."""
    summary = CoverageLoadSummary()
    sha = report.sha256
    ranked: list[tuple[float, int, str]] = []
    with engine.begin() as conn:
        lock_for_load(conn, sha)
        for table in schema.COVERAGE_TABLES:
            conn.execute(delete(table).where(table.c.report_sha256 == sha))
        register_run(conn, report)
        files: list[dict] = []
        lines: list[dict] = []
        per_test: dict[str, set[int]] = {}

        def flush() -> None:
            summary.file_rows += bulk_insert(conn, CF, files)
            bulk_insert(conn, CL, lines)
            files.clear()
            lines.clear()

        def file_row(path: str, counts: CoverageTotals, has_lines: bool) -> dict:
            _check_path(report, path)
            _check_counts(report, path, counts)
            if counts.lines_valid:
                ranked.append((counts.lines_covered / counts.lines_valid, -counts.lines_valid, path))
            return dict(
                report_sha256=sha,
                run_id=report.run_id,
                path=path,
                lines_valid=counts.lines_valid,
                lines_covered=counts.lines_covered,
                branches_valid=counts.branches_valid,
                branches_covered=counts.branches_covered,
                has_lines=has_lines,
                partition=report.partition,
            )

        def line_row(fc: FileCoverage, covered: list[int]) -> dict:
            return dict(
                report_sha256=sha,
                path=fc.path,
                covered=encode_ranges(covered),
                uncovered=encode_ranges(n for n, h in fc.lines.items() if h <= 0),
                branches=encode_branches(fc.branches, fc.branch_missing),
                functions=json.dumps(fc.functions) if fc.functions else None,
            )

        seen: set[str] = set()
        # Two records of one file in one report (c8 on Windows lists a file twice, in two cases;
        # formats that give each record out as read cannot union them): their union, stored
        # once the stream has gone by, in place of the first.
        again: dict[str, FileCoverage] = {}
        for fc in stream:
            _check_lines(report, fc.path, fc.lines)
            _check_lines(report, fc.path, fc.branches, " (branches)")
            if fc.path in seen:
                again.setdefault(fc.path, FileCoverage(path=fc.path)).merge(fc)
                continue
            seen.add(fc.path)
            own = CoverageTotals()
            own.add(fc)
            # coverage.py JSON: the summary is the count, the line lists may hold non-statements.
            counts = stream.file_totals.get(fc.path) if stream.prefer_declared else None
            files.append(file_row(fc.path, counts or own, True))
            covered = [n for n, h in fc.lines.items() if h > 0]
            lines.append(line_row(fc, covered))
            if test and covered:
                per_test[fc.path] = set(covered)
            if len(files) >= CHUNK:
                flush()
        flush()
        for path, extra in again.items():
            cond = and_(CL.c.report_sha256 == sha, CL.c.path == path)
            first = conn.execute(select(CL.c.covered, CL.c.uncovered, CL.c.branches, CL.c.functions).where(cond)).one()
            fc = file_record(path, *first)
            fc.merge(extra)
            for table in (CF, CL):
                conn.execute(delete(table).where(table.c.report_sha256 == sha, table.c.path == path))
            ranked[:] = [entry for entry in ranked if entry[2] != path]
            own = CoverageTotals()
            own.add(fc)
            files.append(file_row(path, own, True))
            covered = [n for n, h in fc.lines.items() if h > 0]
            lines.append(line_row(fc, covered))
            if test and covered:
                per_test[path] = set(covered)
        # Reports of counts only (Istanbul's coverage-summary.json) have files but no lines.
        for path, counts in stream.file_totals.items():
            if path not in seen:
                seen.add(path)
                files.append(file_row(path, counts, False))
        flush()

        map_rows: list[dict] = []
        tests: set[str] = set()
        if test:
            map_rows = _map_rows(report, test, test, per_test)
            tests.add(test)
        elif stream.per_test:
            for context, by_file in stream.per_test.items():
                name = context_to_test(context)
                rows = _map_rows(report, context, name, by_file)
                if rows:
                    tests.add(name)
                    map_rows.extend(rows)
        summary.map_rows = bulk_insert(conn, TM, map_rows)
        summary.tests = len(tests)

        summary.totals = stream.effective_totals
        if again and not stream.prefer_declared:  # the stream counted each record of a file
            summary.totals = CoverageTotals(*conn.execute(select(
                func.count(), func.coalesce(func.sum(CF.c.lines_valid), 0), func.coalesce(func.sum(CF.c.lines_covered), 0),
                func.coalesce(func.sum(CF.c.branches_valid), 0), func.coalesce(func.sum(CF.c.branches_covered), 0),
            ).where(CF.c.report_sha256 == sha, CF.c.has_lines.is_(True))).one())
        summary.warnings = list(stream.info.warnings)
        late = unzoned_time_warning(stream.info, report.arrived_at)
        if late:
            summary.warnings.append(late)
        mark_loaded(conn, report, stream.info, summary.totals.as_dict(), summary.warnings)
    summary.least_covered = [
        {"file": path, "line_pct": round(100 * rate, 2)}
        for rate, _, path in sorted(ranked)[:KEEP_LEAST_COVERED]
    ]
    return summary


def load_archived_coverage(engine: Engine, report, source_roots: Iterable[str] = ()) -> CoverageLoadSummary:
    """Load an archived report with what its drop's manifest said about it, kept by landing in
    the archive sidecar: the test a per-test report belongs to (`"files": {"<file name>":
    {"test": "<test>"}}`), the drop's `source_roots`, stripped from its paths along with
    the configured `source_roots`, so that what is stored is relative to the checkout, and the
    `source_prefix` its relative paths are read under."""
    sidecar = archived_sidecar(report)
    test = sidecar.get("test")
    # Reports are parsed while read: open and load inside the scope.
    with as_its_drop_said(sidecar, source_roots), using_source_prefix(sidecar.get("source_prefix")):
        return load_coverage(engine, report, open_report(report.archive_path), str(test) if test else None)


# ---------------------------------------------------------------------------- per-run union


@dataclass
class RunMerge:
    files: dict[str, FileCoverage]  # union of the line records
    counts_only: dict[str, CoverageTotals]  # files no report of the run has lines for
    totals: CoverageTotals
    # Files whose only report states its own counts for them (coverage.py JSON summaries):
    # those counts are the file's figures, its line records stay what ran and what did not.
    declared: dict[str, CoverageTotals] = field(default_factory=dict)

    def file_figures(self) -> list[dict]:
        """path, lines_valid, lines_covered, line_pct of every file, least covered first."""
        rows = []
        for path, fc in self.files.items():
            t = self.declared.get(path)
            if t is None:
                t = CoverageTotals()
                t.add(fc)
            rows.append(dict(file=path, lines_valid=t.lines_valid, lines_covered=t.lines_covered,
                             branches_valid=t.branches_valid, branches_covered=t.branches_covered))
        for path, t in self.counts_only.items():
            rows.append(dict(file=path, lines_valid=t.lines_valid, lines_covered=t.lines_covered,
                             branches_valid=t.branches_valid, branches_covered=t.branches_covered))
        for row in rows:
            row["line_pct"] = _pct(row["lines_covered"], row["lines_valid"])
        return sorted(rows, key=lambda r: (r["line_pct"] if r["line_pct"] is not None else 101, -r["lines_valid"], r["file"]))


def merge_run(reports: Iterable[tuple[Iterable[FileCoverage], dict[str, CoverageTotals]]]) -> RunMerge:
    """Union of the reports of one run: (line records, the report's own per-file counts) each.

    Lines follow merge_coverage (a line is covered if any report covers it). The counts of a
    file the report has no lines for: a file that no report has lines for keeps the counts of
    the report covering most of it (counts cannot be unioned, and the larger is what is known
    to have run). The counts of a file the report has lines for (coverage.py JSON, whose lines
    can hold non-statements): the file's figures when no other report of the run has its lines;
    else the union's, with the branches every report counts and none could put on a line
    (_unplaced_taken_branches)."""
    streams: list[list[FileCoverage]] = []
    given: list[tuple[set[str], dict[str, CoverageTotals]]] = []
    for records, file_counts in reports:
        records = Records(records, report_format(records))
        streams.append(records)
        given.append(({fc.path for fc in records}, file_counts))
    # A file two reports spell apart (JaCoCo's package path, an XML's path from its <source>)
    # is one file: its reports are counted under the path the merge gives it.
    renamed: dict[str, str] = {}
    files = merge_coverage(streams, renamed=renamed)
    counts: dict[str, CoverageTotals] = {}
    declared: dict[str, CoverageTotals] = {}
    sources: dict[str, int] = defaultdict(int)  # reports with line records of a file
    for with_lines, file_counts in given:
        for path in {renamed.get(p, p) for p in with_lines}:
            sources[path] += 1
        for path, t in file_counts.items():
            if path in with_lines:
                declared[renamed.get(path, path)] = t
                continue
            best = counts.get(path)
            if best is None or (t.lines_covered, t.lines_valid) > (best.lines_covered, best.lines_valid):
                counts[path] = t
    counts_only = {p: t for p, t in counts.items() if p not in files}
    declared = {p: t for p, t in declared.items() if sources[p] == 1}
    # Per file several reports have lines for: each one's counts (its own, or its records') and
    # its records' counts.
    stated: dict[str, list[tuple[CoverageTotals, CoverageTotals]]] = defaultdict(list)
    stating: set[str] = set()
    for records, (_with_lines, file_counts) in zip(streams, given):
        for fc in records:
            path = renamed.get(fc.path, fc.path)
            if sources[path] > 1:
                own = CoverageTotals()
                own.add(fc)
                stated[path].append((file_counts.get(fc.path, own), own))
                if fc.path in file_counts:
                    stating.add(path)
    for path in stating:
        unplaced = _unplaced_taken_branches(files[path], stated[path])
        if unplaced:
            t = declared[path] = CoverageTotals()
            t.add(files[path])
            t.branches_valid += unplaced
            t.branches_covered += unplaced
    totals = merged_totals(fc for p, fc in files.items() if p not in declared)
    for t in (*declared.values(), *counts_only.values()):
        add_totals(totals, t)  # a file's counts: files=1
    return RunMerge(files, counts_only, totals, declared)


def _unplaced_taken_branches(merged: FileCoverage, counts: list[tuple[CoverageTotals, CoverageTotals]]) -> int:
    """Branches of a file that no report of the run put on a line, all taken: those of a
    coverage.py `# pragma: no branch` line that ran in no shard, which its JSON and LCOV count
    (as taken) and list nowhere (see _coverage.fill_no_branch_lines). `counts`: per report with
    lines for the file, its counts and its records' counts. Each report counts the code's
    branches, the same number; those not on its lines are all taken; the union's lines hold
    fewer: the difference. 0 for every other report (a union holds as many branches as any of
    its reports' lines)."""
    valid = {said.branches_valid for said, _ in counts}
    if len(valid) != 1:
        return 0
    for said, own in counts:
        hidden = said.branches_valid - own.branches_valid
        if hidden < 0 or hidden != said.branches_covered - own.branches_covered:
            return 0
    return max(0, valid.pop() - sum(total for _, total in merged.branches.values()))


def _report_inputs(conn, reports: list) -> dict[str, tuple[Records, dict[str, CoverageTotals]]]:
    """Per report (`reports` rows): its line records, with its format, and its counts of the
    files it has no lines for or whose stored counts are not those of its lines (the report's
    own, see merge_run)."""
    out: dict[str, tuple[Records, dict[str, CoverageTotals]]] = {r.sha256: (Records((), r.format), {}) for r in reports}
    shas = list(out)
    for start in range(0, len(shas), 500):
        chunk = shas[start : start + 500]
        for row in conn.execute(
            select(CL.c.report_sha256, CL.c.path, CL.c.covered, CL.c.uncovered, CL.c.branches, CL.c.functions).where(
                CL.c.report_sha256.in_(chunk)
            )
        ):
            out[row.report_sha256][0].append(file_record(row.path, row.covered, row.uncovered, row.branches, row.functions))
        own: dict[tuple[str, str], CoverageTotals] = {}
        for sha in chunk:
            for fc in out[sha][0]:
                own[(sha, fc.path)] = t = CoverageTotals()
                t.add(fc)
        for row in conn.execute(select(CF).where(CF.c.report_sha256.in_(chunk))):
            t = CoverageTotals(1, row.lines_valid, row.lines_covered, row.branches_valid, row.branches_covered)
            if own.get((row.report_sha256, row.path)) != t:
                out[row.report_sha256][1][row.path] = t
    return out


def _loaded_reports(conn, run_ids: list[str] | None = None) -> dict[str, list]:
    cond = [R.c.kind == KIND_COVERAGE, R.c.status == LANDED, R.c.loaded_at.is_not(None)]
    if run_ids is not None:
        cond.append(R.c.run_id.in_(run_ids))
    by_run: dict[str, list] = defaultdict(list)
    stmt = select(
        R.c.sha256, R.c.run_id, R.c.format, R.c.project, R.c.branch, R.c.commit_sha, R.c.build, R.c.shard,
        R.c.shards_expected, R.c.started_at, R.c.arrived_at, R.c.loaded_at, R.c.source_path, R.c.archive_path,
        R.c.partition,
    ).where(and_(*cond)).order_by(R.c.arrived_at, R.c.sha256)
    for row in conn.execute(stmt):
        by_run[row.run_id].append(row)
    return by_run


def run_merge(engine: Engine, run_id: str, include_executed_only: bool = False) -> RunMerge:
    """The union of a run's loaded coverage reports, from the warehouse."""
    with engine.connect() as conn:
        reports = _loaded_reports(conn, [run_id]).get(run_id, [])
        inputs = _report_inputs(conn, [r for r in reports if include_executed_only or r.format not in EXECUTED_ONLY])
    return merge_run(inputs.values())


def day_coverage(engine: Engine, partition: str, runs_at_once: int = 50) -> tuple[CoverageTotals, int]:
    """The coverage of a day's reports, and how many runs of the day were left out waiting for
    shards: each run's reports of the day as their union (the shards of a run add up, where a
    sum of the reports would average them), the runs' figures summed. A run that announced its
    shards counts once they all arrived, on the day the last one did, as the union of all of
    them: until then it is left out rather than plotted low, and a run whose shards span
    midnight is not plotted low on both days. A run with one report counts the totals its load
    recorded, without reading its lines. Data files that only record what ran are left out:
    they have no percentage to add."""
    cond = [R.c.partition == partition, R.c.kind == KIND_COVERAGE, R.c.status == LANDED,
            R.c.loaded_at.is_not(None), R.c.totals.is_not(None), R.c.format.not_in(list(EXECUTED_ONLY))]
    totals = CoverageTotals()
    waiting = 0
    with engine.connect() as conn:
        by_run: dict[str, list] = defaultdict(list)
        stmt = select(R.c.sha256, R.c.run_id, R.c.format, R.c.totals).where(*cond).order_by(R.c.sha256)
        for row in conn.execute(stmt):
            by_run[row.run_id or row.sha256].append(row)
        run_ids = [run_id for run_id, reports in by_run.items() if reports[0].run_id]
        whole: dict[str, list] = {}
        for start in range(0, len(run_ids), 500):
            whole.update(_loaded_reports(conn, run_ids[start : start + 500]))
        sharded = []
        for run_id, reports in list(by_run.items()):
            every = whole.get(run_id, [])
            expected = max((r.shards_expected for r in every if r.shards_expected), default=None)
            if expected:
                if _shards_seen(every) < expected:
                    waiting += 1
                    continue
                measured = [r for r in every if r.format not in EXECUTED_ONLY]
                if max(r.partition for r in measured) != partition:
                    continue  # counted on the day its last shard arrived
                if len(measured) > len(reports):
                    sharded.append(measured)
                    continue
            if len(reports) > 1:
                sharded.append(reports)
                continue
            recorded = json.loads(reports[0].totals)
            add_totals(totals, CoverageTotals(**{k: int(recorded.get(k) or 0) for k in CoverageTotals().as_dict()}))
        for start in range(0, len(sharded), runs_at_once):  # a few runs' lines in memory at a time
            batch = sharded[start : start + runs_at_once]
            inputs = _report_inputs(conn, [r for reports in batch for r in reports])
            for reports in batch:
                add_totals(totals, merge_run(inputs[r.sha256] for r in reports).totals)
    return totals, waiting


def _run_starts(conn, run_ids: list[str]) -> dict[str, object]:
    """When each run started: the earliest time any of its reports states, whatever its kind
    (LCOV and Istanbul files state none, the run's JUnit file or manifest does), kept when
    retention expired the report; a quarantined report's word is not taken."""
    out: dict[str, object] = {}
    for start in range(0, len(run_ids), 500):
        out.update(conn.execute(
            select(R.c.run_id, func.min(R.c.started_at))
            .where(R.c.run_id.in_(run_ids[start : start + 500]), R.c.status != QUARANTINED,
                   R.c.started_at.is_not(None))
            .group_by(R.c.run_id)
        ).all())
    return out


def _fingerprint(reports: list, started_at=None) -> str:
    key = "\n".join(sorted(f"{r.sha256}:{r.loaded_at.isoformat() if r.loaded_at else ''}" for r in reports))
    if started_at is not None:  # a report of another kind told the run's start later
        key += f"\nstarted:{started_at.isoformat()}"
    return hashlib.sha1(key.encode()).hexdigest()


def shard_of(report) -> tuple[str, str]:
    """The shard a report belongs to: its label; without one, its upload (the drop folder that
    landing recorded: the manifest's folder, else the report's own), so that one shard sending
    XML and LCOV, or several files, is one shard."""
    if report.shard:
        return ("label", report.shard)
    drop = archived_sidecar(report).get("drop")
    if drop is None:  # landed before drops were recorded: the report's folder
        drop = PurePosixPath(report.source_path.replace("\\", "/")).parent.as_posix() if report.source_path else report.sha256
    return ("drop", str(drop))


def _shards_seen(reports: list) -> int:
    """Shards that sent coverage with line figures: a data file that only records what ran does
    not make a shard's coverage arrive (its percentages come from the report beside it). A run
    whose shards send data files only (per-test contexts, no report) never gets percentages:
    its data files are what its shards send, and it is complete once each one sent its own."""
    measured = [r for r in reports if r.format not in EXECUTED_ONLY]
    return len({shard_of(r) for r in (measured or reports)})


def refresh_runs(engine: Engine) -> list[str]:
    """Bring coverage_runs up to date: a run is recomputed when the set of its loaded reports
    changed (a shard arrived, a report was re-loaded or quarantined). Returns the run ids
    written or removed."""
    changed: list[str] = []
    with engine.begin() as conn:
        # One merge at a time, reading what the last one wrote: a merge that read a run before
        # its last shard loaded must not write over the one that saw it.
        exclusive(conn, "coverage_runs")
        by_run = _loaded_reports(conn)
        starts = _run_starts(conn, list(by_run))
        known = dict(conn.execute(select(CR.c.run_id, CR.c.fingerprint)).all())
        # Retention keeps run-level figures: a run that lost reports to it (all, or the shards
        # that arrived on a day past the cutoff) keeps the coverage computed before.
        kept = set(conn.execute(runs_with_expired(KIND_COVERAGE)).scalars())
        by_run = {run_id: reports for run_id, reports in by_run.items() if run_id not in kept}
        stale = [run_id for run_id in known if run_id not in by_run and run_id not in kept]
        todo = [run_id for run_id, reports in by_run.items()
                if known.get(run_id) != _fingerprint(reports, starts.get(run_id))]
        for start in range(0, len(todo), 200):
            rows = []
            batch = todo[start : start + 200]
            inputs = _report_inputs(conn, [r for run_id in batch for r in by_run[run_id] if r.format not in EXECUTED_ONLY])
            for run_id in batch:
                reports = by_run[run_id]
                measured = [inputs[r.sha256] for r in reports if r.format not in EXECUTED_ONLY]
                merged = merge_run(measured)
                t = merged.totals
                expected = max((r.shards_expected for r in reports if r.shards_expected), default=None)
                seen = _shards_seen(reports)
                first = reports[0]
                first_arrival = min(r.arrived_at for r in reports)
                rows.append(
                    dict(
                        run_id=run_id,
                        project=first.project,
                        branch=first.branch,
                        commit_sha=first.commit_sha,
                        build=first.build,
                        started_at=starts.get(run_id) or first_arrival,
                        first_arrival=first_arrival,
                        reports=len(reports),
                        formats=",".join(sorted({r.format for r in reports if r.format})),
                        shards_seen=seen,
                        shards_expected=expected,
                        complete=expected is None or seen >= expected,
                        files=t.files,
                        lines_valid=t.lines_valid,
                        lines_covered=t.lines_covered,
                        branches_valid=t.branches_valid,
                        branches_covered=t.branches_covered,
                        line_pct=_pct(t.lines_covered, t.lines_valid) if measured else None,
                        branch_pct=_pct(t.branches_covered, t.branches_valid) if measured else None,
                        fingerprint=_fingerprint(reports, starts.get(run_id)),
                        computed_at=now(),
                    )
                )
            conn.execute(delete(CR).where(CR.c.run_id.in_(batch)))
            conn.execute(insert(CR), rows)
            changed.extend(batch)
        if stale:
            conn.execute(delete(CR).where(CR.c.run_id.in_(stale)))
            changed.extend(stale)
    return changed


# ---------------------------------------------------------------------------- queries


def coverage_runs(engine: Engine, project: str | None = None, branch: str | None = None) -> list[dict]:
    """Every run's merged figures, oldest first."""
    cond = []
    if project:
        cond.append(CR.c.project == project)
    if branch:
        cond.append(CR.c.branch == branch)
    with engine.connect() as conn:
        rows = conn.execute(select(CR).where(*cond).order_by(CR.c.started_at, CR.c.run_id)).all()
    return [dict(r._mapping) for r in rows]


def quarantined_of_runs(engine: Engine, run_ids: list[str]) -> dict[str, list[dict]]:
    """The quarantined reports of each run that may be coverage (a report too broken to be
    told apart has no kind): {run_id: [{file, shard, reason}]}, for a run waiting for a shard
    that did upload."""
    out: dict[str, list[dict]] = defaultdict(list)
    with engine.connect() as conn:
        for start in range(0, len(run_ids), 500):
            for row in conn.execute(
                select(R.c.run_id, R.c.original_name, R.c.shard, R.c.reason)
                .where(R.c.run_id.in_(run_ids[start : start + 500]), R.c.status == QUARANTINED,
                       or_(R.c.kind == KIND_COVERAGE, R.c.kind.is_(None)))
                .order_by(R.c.arrived_at, R.c.sha256)
            ):
                out[row.run_id].append({"file": row.original_name, "shard": row.shard, "reason": row.reason})
    return dict(out)


def choose_run(engine: Engine, project: str | None = None, branch: str | None = None,
               commit: str | None = None, run_id: str | None = None) -> tuple[dict | None, list[str]]:
    """The coverage run a change is measured against, and what the user should know of it:
    `run_id` when given (None when no report of the warehouse belongs to it); else the newest
    run of `commit` (HEAD of the change) when the warehouse has one; else the newest run with
    measured coverage of the project and branch, complete runs first."""
    notes: list[str] = []
    cond = [CR.c.line_pct.is_not(None)]
    if project:
        cond.append(CR.c.project == project)
    if branch:
        cond.append(CR.c.branch == branch)
    order = (CR.c.complete.desc(), CR.c.started_at.desc(), CR.c.run_id.desc())
    with engine.connect() as conn:

        def newest(*where) -> dict | None:
            found = conn.execute(select(CR).where(*where).order_by(*order).limit(1)).mappings().first()
            return dict(found) if found else None

        row = None
        if run_id is not None:
            row = newest(CR.c.run_id == run_id)
            if row is None and conn.execute(select(R.c.run_id).where(R.c.run_id == run_id).limit(1)).first():
                row = {"run_id": run_id, "complete": True}  # its reports decide
        elif commit:
            # A run may record the full sha or an abbreviation of it (7 characters at least).
            row = newest(*cond, or_(CR.c.commit_sha == commit, and_(
                func.length(CR.c.commit_sha) >= 7, literal(commit).like(CR.c.commit_sha.concat("%")))))
        if row is None and run_id is None:
            row = newest(*cond)
            if row is not None and commit:
                notes.append(f"no coverage run of commit {commit[:12]} in the warehouse: using the newest run "
                             f"of {row['project']}/{row['branch']}"
                             + (f" (commit {row['commit_sha'][:12]})" if row["commit_sha"] else ""))
        if row is not None and not project and run_id is None:
            projects = conn.execute(select(func.count(func.distinct(CR.c.project))).where(*cond)).scalar()
            if projects > 1:
                notes.append(f"the warehouse holds coverage of {projects} projects: using {row['project']} "
                             "(--project chooses)")
    if row is not None and not row["complete"]:
        expected = row["shards_expected"]
        notes.append(f"run {row['run_id']} is incomplete: {row['shards_seen']} of {expected} shards arrived, so "
                     "changed lines only the missing shards ran count as uncovered")
    return row, notes


def _has_map(path: str | None = None):
    """Condition on `reports`: the report has per-test map rows (for `path`). A key lookup each:
    the reports are walked, not the map, which months of runs make millions of rows."""
    rows = select(TM.c.report_sha256).where(TM.c.report_sha256 == R.c.sha256)
    if path is not None:
        rows = rows.where(TM.c.path == path)
    return rows.exists()


def latest_map_run(engine: Engine, project: str | None = None, branch: str | None = None,
                   path: str | None = None, run_id: str | None = None) -> str | None:
    """The newest run with a per-test map (of a project, a branch, for a file; `run_id`: that
    run, when it has one)."""
    stmt = (
        select(R.c.run_id)
        .where(R.c.kind == KIND_COVERAGE, _has_map(path))
        .order_by(func.coalesce(R.c.started_at, R.c.arrived_at).desc())
        .limit(1)
    )
    if run_id is not None:
        stmt = stmt.where(R.c.run_id == run_id)
    if project:
        stmt = stmt.where(R.c.project == project)
    if branch:
        stmt = stmt.where(R.c.branch == branch)
    with engine.connect() as conn:
        return conn.execute(stmt).scalar()


def map_projects(engine: Engine, branch: str | None = None) -> list[str]:
    """The projects that have a per-test map (on `branch`), by name."""
    stmt = select(R.c.project).where(R.c.kind == KIND_COVERAGE, _has_map()).distinct().order_by(R.c.project)
    if branch:
        stmt = stmt.where(R.c.branch == branch)
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def latest_maps(engine: Engine, since_day: str) -> list[dict]:
    """The newest run with a per-test map of each project and branch, among the coverage
    reports that arrived on `since_day` (YYYY-MM-DD) or later, newest first: run_id, project,
    branch, build, at, and `runs`, how many runs of the branch had one. Found from the reports
    of those days (indexed by day) and one key lookup each into the map, so that the cost is
    that of the window, not of the whole map: months of it are millions of rows."""
    stmt = select(
        R.c.run_id, R.c.project, R.c.branch, R.c.build, func.coalesce(R.c.started_at, R.c.arrived_at).label("at"),
    ).where(R.c.partition >= since_day, R.c.kind == KIND_COVERAGE, R.c.status == LANDED, _has_map())
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    newest: dict[tuple, dict] = {}
    runs: dict[tuple, set] = defaultdict(set)
    for row in sorted(rows, key=lambda r: (r.at, r.run_id)):
        key = (row.project, row.branch)
        runs[key].add(row.run_id)
        newest[key] = dict(row._mapping)
    for key, row in newest.items():
        row["runs"] = len(runs[key])
    return sorted(newest.values(), key=lambda r: (r["at"], r["run_id"]), reverse=True)


def map_summary(engine: Engine, run_ids: list[str], top: int = 10) -> tuple[dict[str, tuple[int, int]], int, list[dict]]:
    """Of the per-test maps of `run_ids` (read through their index): {run_id: (tests, files)},
    the tests they name together, and the `top` files the most tests ran, as {file, tests}."""
    if not run_ids:
        return {}, 0, []
    where = TM.c.run_id.in_(run_ids)
    tests = func.count(func.distinct(TM.c.test))
    with engine.connect() as conn:
        per_run = {r.run_id: (r.tests, r.files) for r in conn.execute(
            select(TM.c.run_id, tests.label("tests"), func.count(func.distinct(TM.c.path)).label("files"))
            .where(where).group_by(TM.c.run_id))}
        together = conn.execute(select(tests).where(where)).scalar_one()
        files = [{"file": path, "tests": n} for path, n in conn.execute(
            select(TM.c.path, tests).where(where).group_by(TM.c.path).order_by(tests.desc(), TM.c.path).limit(top))]
    return per_run, together, files


def map_paths(engine: Engine, run_id: str) -> list[str]:
    """The files a run's per-test map names."""
    with engine.connect() as conn:
        return list(conn.execute(select(TM.c.path).where(TM.c.run_id == run_id).distinct()).scalars())


def _node_id(suite: str, name: str, parameters: str | None, file: str | None, properties: str | None,
             measured: set[str]) -> str | None:
    """The pytest node id of a result: as pytest-json-report gives it, or from the test's file
    ('tests/test_a.py', suite 'tests.test_a.TestX' -> 'tests/test_a.py::TestX::name[params]'),
    or, when the results do not say the file (JUnit XML), from the longest start of the suite
    that is a `measured` file of the run ('tests.test_a' -> 'tests/test_a.py')."""
    if properties:
        try:
            node = json.loads(properties).get("nodeid")
        except (ValueError, AttributeError):
            node = None
        if isinstance(node, str) and "::" in node:
            return node
    parts = suite.split(".") if suite else []
    if not file:
        found = (k for k in range(len(parts), 0, -1) if "/".join(parts[:k]) + ".py" in measured)
        k = next(found, None)
        if k is None:
            return None
        file = "/".join(parts[:k]) + ".py"
    if not file.endswith(".py"):
        return None
    module = file[:-3].replace("/", ".")
    if suite != module and not suite.startswith(module + "."):
        return None
    return "::".join([file, *filter(None, suite[len(module) + 1 :].split(".")), name]) + (parameters or "")


def function_context_tests(conn, run_id: str, names: Iterable[str]) -> dict[str, list[str]]:
    """The run's tests that coverage.py test_function contexts name, by their pytest node ids.
    Such a context is the module as Python imported it and the function's qualified name
    ('test_plain.TestX.test_y', 'pkg.test_b.test_z'): the module's name depends on the import
    mode and the __init__.py files, so it is the end of the dotted name the results give
    ('tests.test_plain.TestX' 'test_y'), and one context holds every case of a parametrized
    test. A name that is a node id already, or that no result whose node id is known ends
    with, is left out (it stays as recorded)."""
    wanted = {n for n in names if "::" not in n and "/" not in n and n}
    if not wanted:
        return {}
    T, TR = schema.tests, schema.test_results
    rows = conn.execute(
        select(T.c.suite, T.c.name, T.c.parameters, T.c.file, TR.c.properties)
        .join(TR, TR.c.test_id == T.c.test_id)
        .where(TR.c.run_id == run_id)
    )
    measured: set[str] | None = None
    found: dict[str, set[str]] = defaultdict(set)
    for suite, name, parameters, file, properties in rows:
        dotted = f"{suite}.{name}" if suite else name
        parts = dotted.split(".")
        # Every dotted end of the result's name that is a context: at most as many as its parts.
        ends = [".".join(parts[i:]) for i in range(len(parts))]
        hits = [e for e in ends if e in wanted]
        if not hits:
            continue
        if measured is None and not file:
            measured = set(conn.execute(select(CF.c.path).where(CF.c.run_id == run_id).distinct()).scalars())
        node = _node_id(suite, name, parameters, file, properties, measured or set())
        if node is not None:
            for end in hits:
                found[end].add(node)
    return {name: sorted(nodes) for name, nodes in found.items()}


def run_test_map(engine: Engine, run_id: str) -> dict[str, dict[str, set[int]]]:
    """A run's per-test map: file -> test -> the lines the test ran (contexts of one test merged;
    coverage.py test_function contexts as the run's tests they name)."""
    found: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    with engine.connect() as conn:
        for path, test, lines in conn.execute(select(TM.c.path, TM.c.test, TM.c.lines).where(TM.c.run_id == run_id)):
            found[path][test].update(decode_ranges(lines))
        named = function_context_tests(conn, run_id, {t for tests in found.values() for t in tests})
    for tests in found.values():
        for context in set(tests) & set(named):
            lines = tests.pop(context)
            for test in named[context]:
                tests[test] |= lines
    return {path: dict(tests) for path, tests in found.items()}


def map_files_named(engine: Engine, name: str, project: str | None = None, branch: str | None = None,
                    run_id: str | None = None) -> list[tuple[str, list[str]]]:
    """The per-test maps' files whose base name is `name`, by run, the newest run first (of a
    project, a branch, or one run): [(run_id, [paths])]."""
    recency = func.max(func.coalesce(R.c.started_at, R.c.arrived_at))
    stmt = (
        select(TM.c.run_id, TM.c.path, recency.label("at"))
        .join(R, R.c.sha256 == TM.c.report_sha256)
        .where(or_(TM.c.path == name, TM.c.path.like("%/" + name.replace("%", "_"))))
        .group_by(TM.c.run_id, TM.c.path)
    )
    if project:
        stmt = stmt.where(R.c.project == project)
    if branch:
        stmt = stmt.where(R.c.branch == branch)
    if run_id:
        stmt = stmt.where(TM.c.run_id == run_id)
    runs: dict[str, tuple[object, list[str]]] = {}
    with engine.connect() as conn:
        for run, path, at in conn.execute(stmt):
            if path.rsplit("/", 1)[-1] != name:  # LIKE's '_' matched any character
                continue
            latest, paths = runs.setdefault(run, (at, []))
            paths.append(path)
            runs[run] = (max(latest, at), paths)
    return [(run, sorted(paths)) for run, (_, paths) in sorted(runs.items(), key=lambda kv: kv[1][0], reverse=True)]


def covering_tests(
    engine: Engine,
    path: str,
    line: int,
    run_id: str | None = None,
    project: str | None = None,
    branch: str | None = None,
) -> list[dict]:
    """Which tests cover file `path` at `line`: in `run_id`, or in the newest run that has a
    per-test map for the file (test_function contexts as the run's tests they name). Returns
    [{test, contexts, run_id}], sorted by test."""
    path = normalize_source_path(path)
    run_id = run_id or latest_map_run(engine, project, branch, path)
    if run_id is None:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            select(TM.c.test, TM.c.context, TM.c.lines).where(
                TM.c.path == path, TM.c.run_id == run_id, TM.c.first_line <= line, TM.c.last_line >= line
            )
        ).all()
        named = function_context_tests(conn, run_id, {test for test, _, _ in rows})
    found: dict[str, set[str]] = defaultdict(set)
    for test, context, lines in rows:
        if line in decode_ranges(lines):
            for name in named.get(test, [test]):
                found[name].add(context)
    return [{"test": t, "contexts": sorted(c), "run_id": run_id} for t, c in sorted(found.items())]
