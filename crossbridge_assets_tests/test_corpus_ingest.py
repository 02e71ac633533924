"""The whole real-report results corpus (../shared/corpus/results) through one batch of the real
Dagster job, on SQLite and PostgreSQL: inbox -> sensor -> ingest -> warehouse, checked against the
corpus oracle (SOURCES.tsv) report by report."""

import hashlib
import os
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
from sqlalchemy import func, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.defs.common import WarehouseResource, md_cell
from crossbridge_assets.defs.landing import inbox_sensor
from crossbridge_assets.formats import open_report
from crossbridge_assets.model import ERROR, FAILED, SKIPPED
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import corpus_rows

DROP = Path("corpus") / "main" / "1"  # inbox/<project>/<branch>/<build>/<format>/<file>


def _sensor_tick(instance, cursor=None):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()}
    ) as ctx:
        return inbox_sensor(ctx)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ingest_corpus_in_one_batch(s, dagster_instance, corpus_dir):
    """Copy the results corpus (and one byte-identical copy) into the inbox, tick the sensor until
    it asks for one run, execute that run. Returns (oracle rows grouped by sha256, run result)."""
    rows = corpus_rows(kind="results")
    assert rows, "SOURCES.tsv lists no results reports"

    # Copy the corpus into the inbox, settled (old mtimes), keeping its folder layout.
    target = s.inbox / DROP
    shutil.copytree(corpus_dir / "results", target)
    # One deliberate byte-identical copy under another name beside it (the same run), so
    # deduplication is exercised even while the corpus itself holds no two identical files.
    original = next(r for r in rows if r["tests"] != "error" and int(r["tests"]) > 0)
    copy = target / Path(original["local_path"]).parent.name / ("copy-of-" + Path(original["local_path"]).name)
    shutil.copyfile(original["path"], copy)
    rows = [*rows, {**original, "local_path": str(copy), "path": copy}]
    old = time.time() - 60
    for path in target.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))

    # Identical files of one run are landed once by design: expectations are per content.
    by_sha: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        sha = _sha256(row["path"])
        assert sha == row["sha256"], f"{row['local_path']} differs from its SOURCES.tsv checksum"
        by_sha[sha].append(row)
    for sha, group in by_sha.items():
        oracles = {tuple(r[k] for k in ("tests", "failures", "errors", "skipped")) for r in group}
        assert len(oracles) == 1, f"identical files with different oracles: {[r['local_path'] for r in group]}"

    first = _sensor_tick(dagster_instance)
    assert not first.run_requests, "files must be seen twice unchanged before they are ingested"
    second = _sensor_tick(dagster_instance, first.cursor)
    assert len(second.run_requests) == 1, "the whole corpus fits one batch"
    request = second.run_requests[0]
    assert len(request.run_config["ops"]["landed_reports"]["config"]["files"]) == len(rows)
    result = defs.resolve_job_def("ingest").execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        instance=dagster_instance,
        tags=request.tags,
        resources={"warehouse": WarehouseResource()},
    )
    assert result.success
    assert not _sensor_tick(dagster_instance, second.cursor).run_requests, "the batch is done"
    return by_sha, result


def test_whole_results_corpus_in_one_batch(crossbridge_env, dagster_instance, corpus_dir):
    s = crossbridge_env
    by_sha, result = _ingest_corpus_in_one_batch(s, dagster_instance, corpus_dir)

    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        reports = {_sha256(Path(r.archive_path)): r for r in conn.execute(select(schema.reports))}  # by content
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for sha, status, n in conn.execute(
            select(schema.test_results.c.report_sha256, schema.test_results.c.status, func.count()).group_by(
                schema.test_results.c.report_sha256, schema.test_results.c.status
            )
        ):
            counts[sha][status] = n
        total_rows = conn.execute(select(func.count()).select_from(schema.test_results)).scalar_one()

    assert set(reports) == set(by_sha), "one reports row per distinct file content, and nothing else"
    by_name = {r.original_name: r for r in reports.values()}
    problems = []
    expected_rows = 0
    for sha, group in sorted(by_sha.items(), key=lambda kv: kv[1][0]["local_path"]):
        names = [Path(r["local_path"]).name for r in group]
        report = reports[sha]
        # The row is named after one of the identical files; the others left no row of their own.
        assert report.original_name in names, (report.original_name, names)
        assert sum(1 for name in names if name in by_name and by_name[name].sha256 == report.sha256) == 1, names
        oracle = group[0]
        if oracle["tests"] == "error":
            if report.status != "quarantined" or not (report.reason or "").strip():
                problems.append(f"{names[0]}: expected quarantined with a reason, got {report.status} {report.reason!r}")
            elif not (s.quarantine / report.partition / report.sha256).exists():
                problems.append(f"{names[0]}: quarantined but not in the quarantine folder")
            if counts.get(report.sha256):
                problems.append(f"{names[0]}: quarantined yet has test_results rows {counts[report.sha256]}")
            continue
        if report.status != "landed":
            problems.append(f"{names[0]}: expected landed, got {report.status}: {report.reason}")
            continue
        got = counts.get(report.sha256, {})
        tests = sum(got.values())
        failed = got.get(FAILED, 0) + got.get(ERROR, 0)
        skipped = got.get(SKIPPED, 0)
        want = (int(oracle["tests"]), int(oracle["failures"]) + int(oracle["errors"]), int(oracle["skipped"]))
        if (tests, failed, skipped) != want:
            problems.append(f"{names[0]}: (tests, failures+errors, skipped) = {(tests, failed, skipped)}, oracle {want}")
        expected_rows += want[0]
    assert not problems, "\n".join(problems)
    assert total_rows == expected_rows, "every test of every distinct report once, nothing else"

    md = result.asset_materializations_for_node("test_results")[0].metadata
    quarantined = sum(1 for g in by_sha.values() if g[0]["tests"] == "error")
    assert md["tests"].value == expected_rows
    landing_md = result.asset_materializations_for_node("landed_reports")[0].metadata
    assert landing_md["quarantined"].value + md["reports_quarantined"].value == quarantined


# ---------------------------------------------------------------------------- checks and metadata of the batch


def _md_rows(table: str) -> list[list[str]]:
    """Data rows of a markdown table as written in materialization metadata, cells stripped."""
    lines = table.splitlines()
    assert len(lines) >= 2 and set(lines[1]) <= set("|-"), table
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def _md_cell(text: str) -> str:
    """A value as a metadata table cell holds it (how that renders is tested with md_cell)."""
    return md_cell(text).strip()


def test_corpus_batch_checks_and_metadata(crossbridge_env, dagster_instance, corpus_dir):
    """What the UI shows for the batch: report_warnings names the files read with warnings,
    slowest_tests starts with the slowest test of the batch, pass_rate follows the oracle."""
    s = crossbridge_env
    by_sha, result = _ingest_corpus_in_one_batch(s, dagster_instance, corpus_dir)
    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        names = {_sha256(Path(r.archive_path)): r.original_name for r in conn.execute(select(schema.reports))}

    # The oracle side, computed from the files themselves: every distinct landed report once.
    warnings: dict[str, list[str]] = {}
    timed: list[tuple[float, str]] = []
    tests = passed = skipped = 0
    for sha, group in by_sha.items():
        oracle = group[0]
        if oracle["tests"] == "error":
            continue
        tests += int(oracle["tests"])
        skipped += int(oracle["skipped"])
        passed += int(oracle["tests"]) - int(oracle["failures"]) - int(oracle["errors"]) - int(oracle["skipped"])
        stream = open_report(oracle["path"])
        for case in stream:
            if case.duration is not None:  # a test's duration: all its attempts together
                name = case.name + (case.parameters or "")
                timed.append((case.duration, f"{case.suite}.{name}" if case.suite else name))
        if stream.info.warnings:
            warnings[names[sha]] = stream.info.warnings

    # report_warnings: WARN, naming every file read with warnings and nothing else.
    declared_disagree = {n for n, ws in warnings.items() if any("declared totals disagree" in w for w in ws)}
    assert "enricomi__xunit.xml" in declared_disagree and len(declared_disagree) > 1, warnings
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    check = checks[("test_results", "report_warnings")]
    assert check.passed is False
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith(f"{len(warnings)} report(s) read with warnings; ")
    listed = {row[0]: row[1] for row in _md_rows(check.metadata["reports"].value)}
    assert set(listed) == set(warnings)
    assert declared_disagree <= set(listed)
    for name, ws in warnings.items():
        assert listed[name] == _md_cell("; ".join(ws)), name

    md = result.asset_materializations_for_node("test_results")[0].metadata
    # slowest_tests: the ten longest durations of the batch, slowest first.
    slowest = sorted(timed, reverse=True)[:10]
    rows = _md_rows(md["slowest_tests"].value)
    assert md["slowest_tests"].value.splitlines()[0] == "| test | seconds |"
    assert rows[0] == [_md_cell(slowest[0][1]), str(round(slowest[0][0], 3))]
    assert rows == [[_md_cell(label), str(round(seconds, 3))] for seconds, label in slowest]

    # pass_rate: passed over executed tests (skipped ones count neither way), from the oracle counts.
    assert (md["tests"].value, md["passed"].value, md["skipped"].value) == (tests, passed, skipped)
    assert md["pass_rate"].value == round(passed / (tests - skipped), 4)
