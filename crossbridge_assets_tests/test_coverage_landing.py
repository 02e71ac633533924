"""Landing and storing coverage, on SQLite and PostgreSQL: the same bytes for another build,
shard or test are a report of their own while a copy sent again for the same run stays one
report (through the CLI, the sensor and a backfill); coverage.py JSON figures follow its
summaries; `crossbridge ingest` leaves per-run coverage ready for patch-coverage and summary;
absurd line numbers are refused with a reason."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.formats import open_report
from crossbridge_assets.warehouse import landing as landing_mod
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import (
    coverage_runs,
    covering_tests,
    load_archived_coverage,
    merge_run,
    refresh_runs,
    run_merge,
)
from crossbridge_assets.warehouse.engine import make_engine, migrate
from crossbridge_assets.warehouse.landing import LANDED, QUARANTINED, Landing, file_sha256, report_key
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import ingest, table_count
from crossbridge_assets_tests.test_ingest_e2e import drop


def dg_key(name: str):
    import dagster as dg

    return dg.AssetKey(name)

PY = FIXTURES / "coverage" / "python"
JUNIT = FIXTURES / "junit" / "pytest-sample.xml"

# LCOV as coverage.py's `coverage lcov` writes it, cut to one file: LCOV carries no timestamp,
# so two CI runs of the same code write the same bytes.
SHARD_A = "SF:src/pkg/calc.py\nDA:1,1\nDA:2,1\nDA:3,0\nDA:4,0\nLF:4\nLH:2\nend_of_record\n"
SHARD_B = "SF:src/pkg/calc.py\nDA:1,1\nDA:2,0\nDA:3,1\nDA:4,0\nLF:4\nLH:2\nend_of_record\n"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def cli_ingest(capsys, monkeypatch, tmp_path, *argv) -> str:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, out, err = run_cli(capsys, "ingest", *argv)
    assert code == 0, err
    return out


def reports(settings) -> list:
    with make_engine(settings.warehouse_url).connect() as conn:
        return list(conn.execute(select(schema.reports).order_by(schema.reports.c.arrived_at)))


def run_of(settings, build: str) -> dict:
    (run,) = [r for r in coverage_runs(make_engine(settings.warehouse_url)) if r["build"] == build]
    return run


def landing(settings):
    """A migrated warehouse and its Landing."""
    engine = make_engine(settings.warehouse_url)
    migrate(engine)
    return engine, Landing(settings, engine)


def land_under_the_former_key(settings, land, monkeypatch, folder: Path):
    """SHARD_A landed in `folder` as warehouses filled before the key held run metadata did:
    under its content hash."""
    write(folder, "lcov.info", SHARD_A)
    with monkeypatch.context() as m:
        m.setattr(landing_mod, "report_key", lambda content, placement: content)  # the former key
        return land.land(folder / "lcov.info", "2026-11-01")


# ---------------------------------------------------------------------------- the report key


def test_report_key_is_the_content_hash_plus_what_places_the_report():
    content = "ab" * 32
    assert report_key(content, {}) == content
    placed = report_key(content, {"project": "app", "build": "44", "shard": "1"})
    assert len(placed) == 64 and placed != content
    assert placed == report_key(content, {"shard": "1", "build": "44", "project": "app"}), "order does not matter"
    assert placed != report_key(content, {"project": "app", "build": "44", "shard": "2"})
    assert placed != report_key(content, {"project": "app", "build": "44", "shard": "1", "test": "t::a"})
    # What describes the run rather than placing the report makes no second copy; nor do the
    # default project and branch (a file with no metadata at all keeps its content hash).
    sidecar = {"metadata": {"project": "default", "branch": "default", "shards_expected": 3,
                            "started_at": "2026-11-30T10:00:00+00:00", "ci_url": "https://ci/1", "source": "manifest"}}
    assert landing_mod.placement_of(sidecar) == {}
    sidecar["metadata"]["build"] = 7
    sidecar["test"] = "t::a"
    assert landing_mod.placement_of(sidecar) == {"build": "7", "test": "t::a"}


# ---------------------------------------------------------------------------- Finding: same bytes, other run


def test_the_same_shard_file_for_another_build_is_its_own_report(crossbridge_env, capsys, monkeypatch, tmp_path):
    """Build 42 and build 44 send byte-identical shard-1 files: build 44 is complete with both
    of its shards, and sending build 44's shard 1 again changes nothing."""
    s = crossbridge_env
    a = write(tmp_path / "a", "lcov.info", SHARD_A)
    b = write(tmp_path / "b", "lcov.info", SHARD_B)
    cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--branch", "main", "--build", "42",
               "--shard", "1", "--shards-expected", "3", str(a))
    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--branch", "main", "--build", "44",
                     "--shard", "1", "--shards-expected", "2", str(a))
    assert "coverage app/main #44: lines 50.00%, branches -, shards 1/2 (waiting for shards)" in out
    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--branch", "main", "--build", "44",
                     "--shard", "2", "--shards-expected", "2", str(b))
    assert "coverage app/main #44: lines 75.00%, branches -, shards 2/2 (complete)" in out

    rows = reports(s)
    assert [(r.build, r.shard, r.status) for r in rows] == [("42", "1", LANDED), ("44", "1", LANDED), ("44", "2", LANDED)]
    assert len({r.sha256 for r in rows}) == 3
    for r in rows:
        archived = Path(r.archive_path)
        assert archived.name == r.sha256
        assert json.loads(Path(r.archive_path + ".json").read_text())["content_sha256"] == file_sha256(archived)[0]
    assert {file_sha256(Path(r.archive_path))[0] for r in rows if r.shard == "1"} == {sha256(SHARD_A)}
    run44 = run_of(s, "44")
    assert (run44["shards_seen"], run44["shards_expected"], run44["complete"]) == (2, 2, True)
    assert (run44["lines_covered"], run44["lines_valid"]) == (3, 4)
    assert run_of(s, "42")["complete"] is False

    # The same file sent again for the same build and shard: the same report, no new row.
    before = {t.name: table_count(s, t) for t in (schema.reports, *schema.COVERAGE_TABLES)}
    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--branch", "main", "--build", "44",
                     "--shard", "1", "--shards-expected", "2", str(a))
    assert "1 succeeded" in out and "coverage app/main" not in out, "no run changed"
    assert {t.name: table_count(s, t) for t in (schema.reports, *schema.COVERAGE_TABLES)} == before


def test_identical_per_test_reports_keep_their_own_test(crossbridge_env, dagster_instance):
    """Two tests that ran the same lines write the same per-test LCOV: each is its test's
    report; a backfill of the day, and a rebuild from the archive alone, give the same rows."""
    s = crossbridge_env
    folder = "drop-70"
    drop(s, "a.info", folder, text=SHARD_A)
    drop(s, "b.info", folder, text=SHARD_A)
    (s.inbox / folder / "crossbridge.json").write_text(json.dumps(
        {"project": "app", "branch": "main", "build": "70",
         "files": {"a.info": {"test": "tests/t.py::test_a"}, "b.info": {"test": "tests/t.py::test_b"}}}))
    _, results = ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    found = covering_tests(engine, "src/pkg/calc.py", 2)
    assert [t["test"] for t in found] == ["tests/t.py::test_a", "tests/t.py::test_b"]
    assert covering_tests(engine, "src/pkg/calc.py", 3) == []

    tables = (schema.reports, *schema.COVERAGE_TABLES)
    before = {t.name: table_count(s, t) for t in tables}
    assert before == {"reports": 2, "test_coverage_map": 2, "coverage_lines": 2, "coverage_files": 2}
    job = defs.resolve_job_def("ingest")
    partition = results[0].dagster_run.tags["dagster/partition"]
    for _ in range(2):
        assert job.execute_in_process(partition_key=partition, instance=dagster_instance).success
    assert {t.name: table_count(s, t) for t in tables} == before

    with engine.begin() as conn:
        for table in (*schema.COVERAGE_TABLES, schema.coverage_runs, schema.test_runs, schema.reports):
            conn.execute(table.delete())
    assert job.execute_in_process(partition_key=partition, instance=dagster_instance).success
    assert {t.name: table_count(s, t) for t in tables} == before
    assert [t["test"] for t in covering_tests(engine, "src/pkg/calc.py", 2)] == ["tests/t.py::test_a", "tests/t.py::test_b"]


def test_identical_junit_files_of_two_builds_are_two_runs(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop(s, "junit.xml", "shop/main/7", source=JUNIT)
    drop(s, "junit.xml", "shop/main/8", source=JUNIT)
    drop(s, "copy-of-junit.xml", "shop/main/8", source=JUNIT)  # sent twice for build 8
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        per_run = dict(conn.execute(
            select(schema.test_runs.c.build, func.count())
            .select_from(schema.test_results.join(schema.test_runs, schema.test_runs.c.run_id == schema.test_results.c.run_id))
            .group_by(schema.test_runs.c.build)
        ).all())
    assert per_run == {"7": 6, "8": 6}
    assert [r.build for r in reports(s)].count("8") == 1


def test_a_report_landed_under_its_content_hash_keeps_that_key(crossbridge_env, monkeypatch, tmp_path):
    """Warehouses filled before the key held run metadata: a copy of one of their reports sent
    for the same run is found under its content hash; for another run it is a report of its own."""
    s = crossbridge_env
    _engine, land = landing(s)
    old = land_under_the_former_key(s, land, monkeypatch, s.inbox / "app" / "main" / "44")
    content = sha256(SHARD_A)
    assert old.sha256 == content and (s.archive / "2026-11-01" / content).exists()

    write(s.inbox / "app" / "main" / "44", "lcov.info", SHARD_A)
    again = land.land(s.inbox / "app" / "main" / "44" / "lcov.info", "2026-11-02")
    assert again.duplicate and again.sha256 == content
    write(s.inbox / "app" / "main" / "45", "lcov.info", SHARD_A)
    other = land.land(s.inbox / "app" / "main" / "45" / "lcov.info", "2026-11-02")
    assert not other.duplicate and other.sha256 != content
    assert [(r.sha256, r.build) for r in reports(s)] == [(content, "44"), (other.sha256, "45")]


def test_a_broken_manifest_never_replaces_a_landed_report(crossbridge_env):
    s = crossbridge_env
    _engine, land = landing(s)
    write(s.inbox, "lcov.info", SHARD_A)
    first = land.land(s.inbox / "lcov.info", "2026-11-01")
    assert first.status == LANDED and first.sha256 == file_sha256(s.archive / "2026-11-01" / first.sha256)[0]
    write(s.inbox / "drop", "lcov.info", SHARD_A)
    (s.inbox / "drop" / "crossbridge.json").write_text("{not json")
    bad = land.land(s.inbox / "drop" / "lcov.info", "2026-11-01")
    assert bad.status == QUARANTINED and "not valid JSON" in bad.reason and bad.sha256 != first.sha256
    assert {(r.sha256, r.status) for r in reports(s)} == {(first.sha256, LANDED), (bad.sha256, QUARANTINED)}


def test_a_file_with_no_metadata_is_not_taken_for_an_older_placed_report(crossbridge_env, monkeypatch):
    """An older warehouse holds build 44's file under its content hash: the same bytes dropped
    with no metadata at all are another report, not a duplicate of build 44's."""
    s = crossbridge_env
    _engine, land = landing(s)
    old = land_under_the_former_key(s, land, monkeypatch, s.inbox / "app" / "main" / "44")
    write(s.inbox, "lcov.info", SHARD_A)
    loose = land.land(s.inbox / "lcov.info", "2026-11-02")
    assert not loose.duplicate and loose.sha256 not in (old.sha256, sha256(SHARD_A))
    write(s.inbox, "lcov.info", SHARD_A)
    assert land.land(s.inbox / "lcov.info", "2026-11-02").duplicate, "and it stays one report"
    assert [(r.build, r.project) for r in reports(s)] == [("44", "app"), (None, "default")]


def test_a_file_quarantined_for_its_manifest_gives_way_to_the_same_file_sent_again(
        crossbridge_env, dagster_instance, capsys, monkeypatch, tmp_path):
    """The doctor says to send a file again once its manifest is fixed: the quarantined copy is
    then forgotten, and a backfill of the day does not land it as a run of its own."""
    s = crossbridge_env
    a = write(tmp_path / "a", "lcov.info", SHARD_A)
    write(s.inbox / "drop", "lcov.info", SHARD_A)
    (s.inbox / "drop" / "crossbridge.json").write_text('{"project": "app", "shards_expected": 0}')
    ingest(dagster_instance)
    (bad,) = reports(s)
    assert bad.status == QUARANTINED and "shards_expected" in bad.reason
    quarantined_file = Path(bad.archive_path)
    assert quarantined_file.exists()
    # Backfill while it waits: it stays quarantined, not landed as the default run.
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(partition_key=bad.partition, instance=dagster_instance,
                                  asset_selection=[dg_key("landed_reports")]).success
    assert [(r.sha256, r.status) for r in reports(s)] == [(bad.sha256, QUARANTINED)]
    # Sent again from the same place with a manifest that reads.
    write(s.inbox / "drop", "lcov.info", SHARD_A)
    (s.inbox / "drop" / "crossbridge.json").write_text('{"project": "app", "build": "7"}')
    ingest(dagster_instance)
    (good,) = reports(s)
    assert good.status == LANDED and (good.project, good.build) == ("app", "7")
    assert not quarantined_file.exists()
    assert a.exists()


def test_unlabelled_shards_with_the_same_bytes_are_two_shards(crossbridge_env, capsys, monkeypatch, tmp_path):
    """Shards without a label are counted one per upload: two uploads of the same bytes to a
    run expecting two shards complete it; the same upload sent again does not add a third."""
    s = crossbridge_env
    a = write(tmp_path / "a", "lcov.info", SHARD_A)
    for _ in range(2):
        cli_ingest(capsys, monkeypatch, tmp_path, "--project", "web", "--branch", "main", "--build", "45",
                   "--shards-expected", "2", str(a))
    run = run_of(s, "45")
    assert (run["shards_seen"], run["complete"]) == (2, True)
    # Labelled shards: the same label and bytes again is the same report, and the CLI says so.
    cli_ingest(capsys, monkeypatch, tmp_path, "--project", "web", "--branch", "main", "--build", "46",
               "--shard", "1", "--shards-expected", "2", str(a))
    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "web", "--branch", "main", "--build", "46",
                     "--shard", "1", "--shards-expected", "2", str(a))
    assert "1 file(s) already held" in out
    assert run_of(s, "46")["shards_seen"] == 1


def test_ingest_prints_the_coverage_of_its_own_run_only(crossbridge_env, dagster_instance, capsys, monkeypatch,
                                                        tmp_path):
    s = crossbridge_env
    write(s.inbox / "web" / "main" / "44", "lcov.info", SHARD_A)
    ingest(dagster_instance)  # the sensor's run: its coverage is refreshed by the next ingest
    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "other", "--build", "1",
                     str(write(tmp_path / "b", "lcov.info", SHARD_B)))
    assert "coverage other/default #1" in out and "web/main" not in out


# ---------------------------------------------------------------------------- coverage.py JSON figures


def test_coveragepy_json_summaries_are_stored_and_merged(crossbridge_env, corpus_dir):
    """envwizard's coverage.json (coverage.py 7.3.2) lists docstrings as executed: its lines
    give 778/455, its summaries (the oracle) 763/440; the warehouse keeps the summaries."""
    s = crossbridge_env
    engine, land = landing(s)
    folder = s.inbox / "envwizard" / "main" / "1"
    folder.mkdir(parents=True)
    source = corpus_dir / "coverage" / "coveragepy-json" / "envwizard__coverage.json"
    shutil.copyfile(source, folder / "coverage.json")
    landed = land.land(folder / "coverage.json", "2026-11-01")
    (report,) = [r for r in reports(s) if r.sha256 == landed.sha256]
    load_archived_coverage(engine, report)
    summaries = {name: f["summary"] for name, f in json.loads(source.read_text())["files"].items()}
    with engine.connect() as conn:
        stored = {r.path: (r.lines_valid, r.lines_covered) for r in conn.execute(select(schema.coverage_files))}
    assert stored == {name: (f["num_statements"], f["covered_lines"]) for name, f in summaries.items()}

    refresh_runs(engine)
    (run,) = coverage_runs(engine)
    assert (run["lines_valid"], run["lines_covered"], run["line_pct"], run["files"]) == (763, 440, 57.67, 11)
    merged = run_merge(engine, run["run_id"])
    assert (merged.totals.lines_valid, merged.totals.lines_covered) == (763, 440)
    core = next(f for f in merged.file_figures() if f["file"] == "src/envwizard/core.py")
    assert (core["lines_valid"], core["lines_covered"]) == (60, 57)


def test_coveragepy_json_before_7_13_line_records():
    """coverage.py 7.3.2 lists executed excluded lines (5) and docstrings (1, 9) in
    executed_lines. Excluded lines are no code; the docstrings cannot be told from statements
    without the source, so the summary gives the figures."""
    stream = open_report(PY / "coverage-7.3.json")
    assert stream.prefer_declared, "known before the first file is read"
    (fc,) = list(stream)
    assert 5 not in fc.lines
    assert {n for n, h in fc.lines.items() if h == 0} == {21, 22, 23}
    assert stream.file_totals["shapes.py"].as_dict() == {
        "files": 1, "lines_valid": 11, "lines_covered": 8, "branches_valid": 0, "branches_covered": 0}
    assert stream.effective_totals.as_dict()["lines_valid"] == 11

    # The summary is the file's figure when the report is its only source in the run...
    merged = merge_run([([fc], dict(stream.file_totals))])
    assert (merged.totals.lines_valid, merged.totals.lines_covered) == (11, 8)
    # ...lines are unioned when another report of the run has the file too.
    other = open_report(PY / "coverage-7.3.json")
    (fc2,) = list(other)
    fc2.lines[21] = 1
    merged = merge_run([([fc], dict(stream.file_totals)), ([fc2], dict(other.file_totals))])
    assert (merged.totals.lines_valid, merged.totals.lines_covered) == (13, 11)


def test_coveragepy_json_stored_counts_are_the_summaries(crossbridge_env, tmp_path):
    s = crossbridge_env
    engine = make_engine(s.warehouse_url)
    migrate(engine)
    write(s.inbox / "app" / "main" / "3", "coverage.json", (PY / "coverage-7.3.json").read_text())
    landed = Landing(s, engine).land(s.inbox / "app" / "main" / "3" / "coverage.json", "2026-11-01")
    (report,) = [r for r in reports(s) if r.sha256 == landed.sha256]
    summary = load_archived_coverage(engine, report)
    assert summary.least_covered == [{"file": "shapes.py", "line_pct": round(100 * 8 / 11, 2)}]
    with engine.connect() as conn:
        row = conn.execute(select(schema.coverage_files)).one()
    assert (row.lines_valid, row.lines_covered, row.has_lines) == (11, 8, True)
    refresh_runs(engine)
    assert [(r["lines_valid"], r["lines_covered"]) for r in coverage_runs(engine)] == [(11, 8)]


# ---------------------------------------------------------------------------- CLI: ingest, patch-coverage, summary


def test_ingest_leaves_coverage_ready_for_patch_coverage_and_summary(crossbridge_env, capsys, monkeypatch, tmp_path):
    a = write(tmp_path / "a", "lcov.info", SHARD_A)
    write(tmp_path / "r", "junit.xml", JUNIT.read_text())
    cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--branch", "main", "--build", "9",
               "--shard", "1", "--shards-expected", "2", str(a), str(tmp_path / "r"))
    diff = tmp_path / "change.diff"
    diff.write_text("diff --git a/src/pkg/calc.py b/src/pkg/calc.py\n--- a/src/pkg/calc.py\n+++ b/src/pkg/calc.py\n"
                    "@@ -1,3 +1,4 @@\n x\n-y\n+y2\n+z\n w\n")  # lines 2 and 3 changed
    code, out, err = run_cli(capsys, "patch-coverage", "--diff-file", str(diff), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["files"]["src/pkg/calc.py"]["covered"] == [2] and report["files"]["src/pkg/calc.py"]["uncovered"] == [3]

    code, out, _ = run_cli(capsys, "summary")
    assert code == 0
    lines = out.splitlines()
    (tested,) = [line.split() for line in lines if line.startswith("app") and "lines" not in line]
    assert tested[:3] == ["app", "main", "9"] and tested[5:] == ["6", "3", "1", "1", "1", "0", "60.0%"]
    (cov,) = [line.split(None, 5) for line in lines if "lines 50.00%" in line]
    assert cov[:3] == ["app", "main", "9"] and cov[5] == "lines 50.00%, branches -, shards 1/2 (waiting for shards)"

    code, out, _ = run_cli(capsys, "summary", "--json")
    (run,) = json.loads(out)
    assert (run["build"], run["tests"]) == ("9", 6)
    assert run["coverage"] == {"line_pct": 50.0, "branch_pct": None, "shards_seen": 1, "shards_expected": 2,
                               "complete": False, "files": 1, "formats": "lcov", "patch_pct": None}


def test_summary_lists_a_run_with_coverage_only(crossbridge_env, capsys, monkeypatch, tmp_path):
    a = write(tmp_path / "a", "lcov.info", SHARD_A)
    cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--build", "5", str(a))
    code, out, _ = run_cli(capsys, "summary", "--json")
    (run,) = json.loads(out)
    assert (run["tests"], run["pass_rate"], run["coverage"]["complete"]) == (None, None, True)
    code, out, _ = run_cli(capsys, "summary")
    assert "tests" not in out and "lines 50.00%, branches -, shards 1 (complete)" in out


# ---------------------------------------------------------------------------- absurd line numbers


@pytest.mark.parametrize("line", ["99999999999999999999", str(2**31)])
def test_a_line_number_beyond_any_source_file_is_refused_with_its_reason(crossbridge_env, capsys, monkeypatch,
                                                                        tmp_path, line):
    s = crossbridge_env
    folder = write(tmp_path / "pt", "t1.info", f"SF:src/a.c\nDA:1,1\nDA:{line},1\nend_of_record\n")
    (folder / "crossbridge.json").write_text(json.dumps({"files": {"t1.info": {"test": "t::one"}}}))
    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--build", "60", str(folder))
    expected = f"quarantined t1.info: src/a.c: line {line} is beyond any source file (line numbers stop at {2**31 - 1})"
    assert expected in out
    assert "Overflow" not in out
    assert [(r.original_name, r.status) for r in reports(s) if r.original_name == "t1.info"] == [("t1.info", QUARANTINED)]
    assert all(table_count(s, t) == 0 for t in schema.COVERAGE_TABLES)


def test_the_largest_line_number_is_stored(crossbridge_env, capsys, monkeypatch, tmp_path):
    s = crossbridge_env
    top = 2**31 - 1
    folder = write(tmp_path / "pt", "t1.info", f"SF:src/a.c\nDA:1,1\nDA:{top},1\nend_of_record\n")
    (folder / "crossbridge.json").write_text(json.dumps({"files": {"t1.info": {"test": "t::one"}}}))
    cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--build", "61", str(folder))
    assert [t["test"] for t in covering_tests(make_engine(s.warehouse_url), "src/a.c", top)] == ["t::one"]


# ---------------------------------------------------------------------------- coverage[day] metadata


def test_a_day_without_line_or_branch_figures_leaves_them_out(crossbridge_env, dagster_instance):
    """A day of reports without branch data, or of coverage.py data files only (what ran, no
    percentage), plots a gap, not 0 %."""
    s = crossbridge_env
    drop(s, "lcov.info", "app/main/1", text=SHARD_A)
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert md["line_pct"].value == 50.0 and "branch_pct" not in md

    data = drop(s, "unit.coverage", "app/main/2", source=PY / ".coverage")
    os.utime(data, (data.stat().st_mtime - 86400,) * 2)  # a day of its own: the figures are the day's
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert md["reports_loaded"].value == 1 and "line_pct" not in md and "branch_pct" not in md
