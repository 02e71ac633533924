"""Coverage end to end through real Dagster definitions and a real instance, on SQLite and
PostgreSQL: inbox -> sensor -> ingest job -> coverage[day] -> coverage_by_run and its checks."""

import json
import subprocess
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import coverage_runs, run_merge, covering_tests
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_ingest_e2e import drop, execute, sensor_tick

PY = FIXTURES / "coverage" / "python"
DERIVED = ("coverage_by_run", "coverage_trends", "test_coverage_map")

# What coverage.py measured for calc/ops.py in the committed fixtures (coverage.xml / .lcov).
OPS_VALID = {4, 5, 8, 9, 10, 11, 14, 15, 16, 17, 18, 19, 22, 23, 24, 25, 26}
OPS_UNCOVERED = {18, 23, 24, 25, 26}


def lcov_with(covered: set[int], path: Path) -> Path:
    """The committed LCOV fixture with calc/ops.py's hits rewritten: another shard of the same code."""
    out, current = [], None
    for line in (PY / "coverage.lcov").read_text().splitlines():
        if line.startswith("SF:"):
            current = line[3:]
        if line.startswith("DA:") and current == "calc/ops.py":
            number = int(line[3:].split(",")[0])
            line = f"DA:{number},{1 if number in covered else 0}"
        if line.startswith("LH:") and current == "calc/ops.py":
            line = f"LH:{len(covered & OPS_VALID)}"
        out.append(line)
    path.write_text("\n".join(out) + "\n")
    return path


def drop_shard(settings, folder: str, source: Path, name: str, **manifest) -> None:
    drop(settings, name, folder, source=source)
    (settings.inbox / folder / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main", **manifest}))


def ingest(instance, cursor=None):
    """Two sensor ticks (files must be seen settled), then the ingest job for each request."""
    first = sensor_tick(instance, cursor)
    second = sensor_tick(instance, first.cursor)
    results = [execute(instance, request) for request in second.run_requests]
    assert results, "the sensor asked for no run"
    return second.cursor, results


def refresh(instance):
    """Materialize the unpartitioned coverage assets and their checks, as automation would."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey(k) for k in DERIVED])
    assert result.success
    return result


def checks_of(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def table_count(settings, table) -> int:
    with make_engine(settings.warehouse_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_shards_in_two_formats_give_the_union_and_wait_for_every_shard(crossbridge_env, dagster_instance, tmp_path, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/main": 90, "*": 0}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")
    # Shard 2 covers two lines shard 1 missed (23, 24) and misses two it covered (4, 5).
    shard2_covered = (OPS_VALID - OPS_UNCOVERED - {4, 5}) | {23, 24}
    drop_shard(s, "drop1", PY / "coverage.xml", "coverage.xml", build="201", shard="1", shards_expected=2)
    cursor, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    # Shard 1 of 2 is not the day's coverage: the day leaves a gap rather than plotting 73.7 %.
    assert md["reports_loaded"].value == 1 and md["runs_waiting_for_shards"].value == 1
    assert "line_pct" not in md and "branch_pct" not in md and md["dagster/row_count"].value == 2

    result = refresh(dagster_instance)
    (run,) = coverage_runs(make_engine(s.warehouse_url))
    assert (run["shards_seen"], run["shards_expected"], run["complete"]) == (1, 2, False)
    checks = checks_of(result)
    # One shard of two looks low (73.7% < 90%) but is not judged until the run is complete.
    assert checks["coverage_threshold"].passed is True
    assert checks["coverage_shards_complete"].passed is True  # still within the grace period
    assert result.asset_materializations_for_node("coverage_by_run")[0].metadata["incomplete_runs"].value == 1

    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "0")
    stale = checks_of(refresh(dagster_instance))["coverage_shards_complete"]
    assert stale.passed is False and stale.severity == dg.AssetCheckSeverity.WARN
    assert "1/2" in stale.description and run["run_id"] in stale.metadata["run_ids"].value

    drop_shard(s, "drop2", lcov_with(shard2_covered, tmp_path / "ops.lcov"), "coverage.lcov",
               build="201", shard="2", shards_expected=2)
    ingest(dagster_instance, cursor)
    result = refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    (run,) = coverage_runs(engine)
    assert (run["shards_seen"], run["complete"], run["formats"]) == (2, True, "coveragepy-xml,lcov")
    merged = run_merge(engine, run["run_id"]).files
    ops = merged["calc/ops.py"]
    assert set(ops.lines) == OPS_VALID
    assert {n for n, h in ops.lines.items() if h} == OPS_VALID - {18, 25, 26}  # the union of both shards
    assert run["lines_valid"] == 19 and run["lines_covered"] == 16
    assert run["line_pct"] == pytest.approx(100 * 16 / 19, abs=0.01)
    checks = checks_of(result)
    assert checks["coverage_shards_complete"].passed is True
    low = checks["coverage_threshold"]
    assert low.passed is False and low.severity == dg.AssetCheckSeverity.ERROR
    assert "shop/main" in low.description and "90%" in low.description
    assert low.metadata["run_ids"].value == [run["run_id"]]
    md = result.asset_materializations_for_node("coverage_by_run")[0].metadata
    assert md["line_pct"].value == pytest.approx(84.21) and md["incomplete_runs"].value == 0
    assert "calc/ops.py" in md["least_covered_files_of_latest_run"].value
    trends = result.asset_materializations_for_node("coverage_trends")[0].metadata
    assert trends["line_pct"].value == pytest.approx(84.21) and "shop" in trends["trends"].value


def test_drop_check_fails_when_a_later_run_on_the_branch_drops(crossbridge_env, dagster_instance, tmp_path, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "2")
    drop_shard(s, "b301", PY / "coverage.xml", "coverage.xml", build="301", started_at="2026-02-01T10:00:00Z")
    cursor, _ = ingest(dagster_instance)
    assert checks_of(refresh(dagster_instance))["coverage_drop"].passed is True

    # The next run on main covers four lines fewer: 14/19 -> 10/19, a drop of 21 points.
    fewer = OPS_VALID - OPS_UNCOVERED - {14, 15, 16, 17}
    drop_shard(s, "b302", lcov_with(fewer, tmp_path / "ops.lcov"), "coverage.lcov", build="302",
               started_at="2026-02-02T10:00:00Z")
    ingest(dagster_instance, cursor)
    check = checks_of(refresh(dagster_instance))["coverage_drop"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    assert "#302" in check.description and "73.68% -> 52.63%" in check.description
    later = [r for r in coverage_runs(make_engine(s.warehouse_url)) if r["build"] == "302"]
    assert check.metadata["run_ids"].value == [later[0]["run_id"]]
    assert "#301" in check.metadata["drops"].value


def test_loading_the_same_report_twice_never_duplicates_rows(crossbridge_env, dagster_instance):
    s = crossbridge_env
    # The inbox skips hidden files: a coverage.py data file is dropped under a visible name.
    drop_shard(s, "b1", PY / "coverage.xml", "coverage.xml", build="1")
    drop_shard(s, "b1c", PY / ".coverage", "unit.coverage", build="1")
    _, results = ingest(dagster_instance)
    tables = (schema.coverage_files, schema.coverage_lines, schema.test_coverage_map)
    before = {t.name: table_count(s, t) for t in tables}
    assert before == {"coverage_files": 4, "coverage_lines": 4, "test_coverage_map": 4}
    refresh(dagster_instance)
    runs_before = coverage_runs(make_engine(s.warehouse_url))

    # A whole-day materialization (a backfill) loads every archived report of the day again.
    job = defs.resolve_job_def("ingest")
    partition = results[0].dagster_run.tags["dagster/partition"]
    for _ in range(2):
        assert job.execute_in_process(partition_key=partition, instance=dagster_instance).success
    assert {t.name: table_count(s, t) for t in tables} == before
    refresh(dagster_instance)
    after = coverage_runs(make_engine(s.warehouse_url))
    assert [(r["run_id"], r["lines_covered"], r["lines_valid"]) for r in after] == [
        (r["run_id"], r["lines_covered"], r["lines_valid"]) for r in runs_before
    ]
    # The data file records executed lines only: the run's figures come from the XML report.
    assert (after[0]["lines_covered"], after[0]["lines_valid"]) == (14, 19)


def test_which_tests_cover_a_line_from_coverage_contexts(crossbridge_env, dagster_instance, capsys, tmp_path,
                                                         monkeypatch):
    s = crossbridge_env
    drop_shard(s, "ctx", PY / ".coverage", "unit.coverage", build="77")
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    assert [t["test"] for t in covering_tests(engine, "calc/ops.py", 9)] == [
        "checks_ops.test_divide", "checks_ops.test_divide_by_zero"
    ]
    assert [t["test"] for t in covering_tests(engine, "./calc/ops.py", 16)] == ["checks_ops.test_classify"]
    assert covering_tests(engine, "calc/ops.py", 23) == []  # unused(): no test runs it
    assert covering_tests(engine, "calc/other.py", 1) == []
    # From the terminal; the map names the file from its source folder, the user from the repository.
    for location in ("calc/ops.py:9", "src/calc/ops.py:9"):
        code, out, err = run_cli(capsys, "covering", location, "--json")
        assert code == 0, err
        got = json.loads(out)
        assert (got["file"], got["line"]) == ("calc/ops.py", 9)
        assert [t["test"] for t in got["tests"]] == ["checks_ops.test_divide", "checks_ops.test_divide_by_zero"]
    code, out, _ = run_cli(capsys, "covering", "calc/ops.py:16")
    assert code == 0 and "1 test(s) ran it" in out and "checks_ops.test_classify" in out
    code, _, err = run_cli(capsys, "covering", "calc/other.py:1")
    assert code == 1 and "no per-test coverage of calc/other.py" in err
    # From inside a checkout that has the file, named by its absolute path.
    checkout = tmp_path / "checkout"
    (checkout / "calc").mkdir(parents=True)
    (checkout / "calc" / "ops.py").write_text("pass\n" * 30)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    with monkeypatch.context() as m:
        m.chdir(checkout)
        code, out, err = run_cli(capsys, "covering", f"{checkout}/calc/ops.py:16", "--json")
    assert code == 0 and json.loads(out)["file"] == "calc/ops.py", err
    code, _, err = run_cli(capsys, "covering", "calc/ops.py")
    assert code == 2 and "give a file and a line" in err
    result = refresh(dagster_instance)
    md = result.asset_materializations_for_node("test_coverage_map")[0].metadata
    assert md["tests"].value == 4 and md["dagster/row_count"].value == 4
    # A run with only a data file has no percentages to judge.
    (run,) = coverage_runs(engine)
    assert run["line_pct"] is None
    # A newer map of another project, without the file: the run that has the file still answers.
    other = tmp_path / "other.info"
    other.write_text("SF:/srv/build/web/app.py\nDA:1,1\nend_of_record\n")  # a checkout no rule knows
    drop_shard(s, "web", other, "other.info", project="web", build="1", files={"other.info": {"test": "t::web"}})
    ingest(dagster_instance)
    newest = tmp_path / "newest.info"
    newest.write_text("SF:api/main.py\nDA:1,1\nend_of_record\n")
    drop_shard(s, "api", newest, "newest.info", project="api", build="1", files={"newest.info": {"test": "t::api"}})
    ingest(dagster_instance)
    code, out, err = run_cli(capsys, "covering", "calc/ops.py:16", "--json")
    assert code == 0 and [t["test"] for t in json.loads(out)["tests"]] == ["checks_ops.test_classify"], err
    code, out, err = run_cli(capsys, "covering", "web/app.py:1", "--json")
    assert code == 0 and [t["test"] for t in json.loads(out)["tests"]] == ["t::web"], err


def test_per_test_report_announced_for_a_test(crossbridge_env, dagster_instance):
    s = crossbridge_env
    # The drop's manifest names the test a per-test report belongs to; landing keeps it.
    drop_shard(s, "pt", PY / "coverage.lcov", "test_add.lcov", build="5",
               files={"test_add.lcov": {"test": "tests/test_ops.py::test_add"}})
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    assert [t["test"] for t in covering_tests(engine, "calc/ops.py", 5)] == ["tests/test_ops.py::test_add"]
    assert covering_tests(engine, "calc/ops.py", 23) == []


def test_coverage_data_file_keeps_its_hidden_name_in_the_inbox(crossbridge_env, dagster_instance):
    """coverage.py writes `.coverage`: the inbox takes it although other dot-files are skipped."""
    s = crossbridge_env
    drop_shard(s, "hidden", PY / ".coverage", ".coverage", build="6")
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        report = conn.execute(select(schema.reports)).one()
    assert (report.original_name, report.format, report.status) == (".coverage", "coveragepy-data", "landed")


def test_automation_refreshes_the_derived_assets_after_ingestion(crossbridge_env, dagster_instance):
    s = crossbridge_env
    # The first evaluation only sets the cursor: "updated" means updated since the previous tick.
    before = dg.evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    assert before.total_requested == 0
    drop_shard(s, "a", PY / "coverage.xml", "coverage.xml", build="9")
    ingest(dagster_instance)
    after = dg.evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=before.cursor)
    requested = {k.to_user_string() for k in after.get_requested_asset_keys()} if hasattr(after, "get_requested_asset_keys") else {
        r.key.to_user_string() for r in after.results if r.true_subset.size
    }
    # coverage_trends follows coverage_by_run in the same tick; the ingestion asset is left to the sensor.
    assert {"coverage_by_run", "coverage_trends", "test_coverage_map"} <= requested
    assert "coverage" not in requested


def test_unreadable_coverage_report_is_quarantined_and_the_batch_goes_on(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop_shard(s, "q", PY / "coverage.xml", "coverage.xml", build="4")
    drop(s, "broken.info", "q", text="SF:a.c\nDA:x,1\nend_of_record\n")
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert md["reports_loaded"].value == 1 and md["reports_quarantined"].value == 1
    assert "broken.info" in md["quarantined_files"].value and "malformed DA" in md["quarantined_files"].value
    with make_engine(s.warehouse_url).connect() as conn:
        status = dict(conn.execute(select(schema.reports.c.original_name, schema.reports.c.status)).all())
    assert status == {"coverage.xml": "landed", "broken.info": "quarantined"}
    assert table_count(s, schema.coverage_files) == 2


CHANGE = """diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -9 +9 @@
-    old
+    new
@@ -12 +12 @@
-old
+new
@@ -16 +16 @@
-    old
+    new
@@ -23,2 +23,2 @@
-    old
-    old
+    new
+    new
diff --git a/calc/new.py b/calc/new.py
new file mode 100644
--- /dev/null
+++ b/calc/new.py
@@ -0,0 +1,2 @@
+def fresh():
+    return 1
"""


def test_impact_lists_the_tests_that_ran_the_changed_lines(crossbridge_env, dagster_instance, tmp_path, capsys):
    """`crossbridge impact` from the per-test map that coverage.py's dynamic contexts recorded."""
    from crossbridge_assets.cli import main

    s = crossbridge_env
    diff = tmp_path / "change.diff"
    diff.write_text(CHANGE)
    assert main(["impact", "--diff-file", str(diff)]) == 2, "nothing ingested yet: a clear error"
    assert "no per-test coverage" in capsys.readouterr().err

    drop_shard(s, "ctx", PY / ".coverage", "unit.coverage", build="77")
    cursor, _ = ingest(dagster_instance)
    assert main(["impact", "--diff-file", str(diff), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    # Line 9 runs in both divide tests, 16 in classify (as covering_tests says above); 23-24 are
    # unused(): no test ran them. The data file alone does not say which lines are code, so line
    # 12 (between two functions) is listed too.
    assert found["tests"] == ["checks_ops.test_classify", "checks_ops.test_divide", "checks_ops.test_divide_by_zero"]
    assert found["lines_by_test"]["checks_ops.test_classify"] == {"calc/ops.py": [16]}
    assert found["lines_by_test"]["checks_ops.test_divide"] == {"calc/ops.py": [9]}
    assert found["unexercised"] == {"calc/ops.py": [12, 23, 24]}
    assert found["unmapped"] == ["calc/new.py"]

    # The run's coverage.xml says which lines are code: line 12 is not.
    drop_shard(s, "xml", PY / "coverage.xml", "coverage.xml", build="77")
    ingest(dagster_instance, cursor)
    refresh(dagster_instance)
    assert main(["impact", "--diff-file", str(diff), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unexercised"] == {"calc/ops.py": [23, 24]}
    assert main(["impact", "--diff-file", str(diff), "--tests-only"]) == 0
    assert capsys.readouterr().out.split() == found["tests"]
    assert main(["impact", "--diff-file", str(diff)]) == 0
    text = capsys.readouterr().out
    assert "checks_ops.test_divide    (calc/ops.py:9)" in text and "calc/ops.py: 23-24" in text
    assert "1 changed file(s) the map does not know" in text
