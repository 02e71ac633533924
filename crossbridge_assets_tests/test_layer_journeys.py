"""The results and coverage features as their users meet them, on real Dagster instances: a mixed
drop into the inbox picked up by the sensor, writers still filling their reports, files sent
again, runs still queued, storage faults and retries, manifests above manifests, a day's figures
over several batches, and the `crossbridge` command with odd paths, pipes, unreadable files, a
warehouse or Dagster instance it cannot open, and wrong arguments."""

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.queries import table_counts
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import OPS_VALID, checks_of, drop_shard, ingest, lcov_with, refresh
from crossbridge_assets_tests.test_ingest_e2e import drop, execute, sensor_tick
from crossbridge_assets_tests.test_results_coverage_layer import rendered_rows

RESULTS = FIXTURES / "results"
JUNIT = FIXTURES / "junit"
PY = FIXTURES / "coverage" / "python"


def summary(capsys) -> list[dict]:
    code, out, err = run_cli(capsys, "summary", "--json")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------------------- a mixed drop


def test_a_mixed_drop_through_the_sensor(crossbridge_env, dagster_instance, monkeypatch, tmp_path):
    """Results in five formats, coverage of one build in two formats from two of its three
    shards, a cut JUnit file, a file of no known format, an empty file left behind and one still
    being written: each good report is loaded once, each bad one is named with its reason, and
    sending again changes nothing but what was fixed."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_STALE_PART_SECONDS", "60")
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "0")
    build = "shop/main/77"
    for name, source in (("TEST-pytest.xml", RESULTS / "pytest-junit.xml"), ("report.json", RESULTS / "pytest-json-report.json"),
                         ("mocha.json", RESULTS / "js" / "mocha-json.json"), ("TEST-api.xml", JUNIT / "surefire-flaky.xml"),
                         ("output.xml", RESULTS / "robot-output.xml")):
        drop(s, name, build, source=source)
    drop(s, "TEST-declared.xml", build, text='<testsuite name="s" tests="5"><testcase classname="a" name="b"/></testsuite>')
    drop_shard(s, "cov/1", PY / "coverage.xml", "coverage.xml", build="77", shard="1", shards_expected=3)
    drop_shard(s, "cov/2", lcov_with(OPS_VALID - {4, 5}, tmp_path / "shard2.lcov"), "coverage.lcov",
               build="77", shard="2", shards_expected=3)
    cut = (JUNIT / "surefire-rerun-errors.xml").read_text()
    drop(s, "TEST-cut.xml", build, text=cut[:1500])
    drop(s, "weird.json", build, text='{"hello": "world"}')
    left = drop(s, "left-empty.xml", build, text="")
    # Stale (older than the 60 s above) but from today: aged across midnight UTC it would arrive on
    # yesterday and come as a batch of its own.
    if time.time() % 86400 < 90:
        time.sleep(90 - time.time() % 86400)
    os.utime(left, (time.time() - min(7200, time.time() % 86400 - 1),) * 2)
    writing = s.inbox / build / "TEST-writing.xml"
    writing.write_bytes(b"")

    cursor, results = ingest(dagster_instance)
    assert len(results) == 1 and writing.exists()
    result = results[0]
    landed = result.asset_materializations_for_node("landed_reports")[0].metadata
    assert (landed["landed"].value, landed["quarantined"].value) == (9, 2)
    md = result.asset_materializations_for_node("test_results")[0].metadata
    # Every test of the six readable result reports once, in one of the four statuses.
    assert (md["reports_loaded"].value, md["reports_quarantined"].value) == (6, 1)
    assert md["tests"].value == md["passed"].value + md["failures"].value + md["errors"].value + md["skipped"].value
    assert md["dagster/row_count"].value == md["tests"].value
    executed = md["tests"].value - md["skipped"].value
    assert md["pass_rate"].value == pytest.approx(md["passed"].value / executed, abs=1e-4)
    coverage_md = result.asset_materializations_for_node("coverage")[0].metadata
    # Two shards of three: the run waits for its third before the day plots it.
    assert (coverage_md["reports_loaded"].value, coverage_md["runs_waiting_for_shards"].value) == (2, 1)
    assert "line_pct" not in coverage_md

    checks = checks_of(result)
    bad = checks["parse_errors"]
    assert bad.passed is False and bad.severity == dg.AssetCheckSeverity.WARN
    assert {row[0] for row in rendered_rows(bad.metadata["files"].value)} == {"TEST-cut.xml", "weird.json", "left-empty.xml"}
    assert "TEST-cut.xml: malformed XML" in bad.description and "left-empty.xml: the file is empty" in bad.description
    assert "unknown format" in bad.description
    warned = checks["report_warnings"]
    assert warned.passed is False and "TEST-declared.xml: declared totals disagree" in warned.description
    assert checks["coverage_parse_errors"].passed is True
    shards = checks_of(refresh(dagster_instance))["coverage_shards_complete"]
    assert shards.passed is False and "shop/main #77 has 2/3" in shards.description

    before = table_counts(make_engine(s.warehouse_url))
    assert not sensor_tick(dagster_instance, cursor).run_requests
    # The same report sent again, and the cut one sent whole: only the cut one is loaded.
    drop(s, "TEST-pytest.xml", build, source=RESULTS / "pytest-junit.xml")
    drop(s, "TEST-cut.xml", build, text=cut)
    cursor, (result,) = ingest(dagster_instance, cursor)
    landed = result.asset_materializations_for_node("landed_reports")[0].metadata
    assert (landed["landed"].value, landed["duplicates"].value) == (1, 1)
    after = table_counts(make_engine(s.warehouse_url))
    assert after["test_results"] == before["test_results"] + 3 and after["reports"] == before["reports"]
    bad = checks_of(result)["parse_errors"]
    assert {row[0] for row in rendered_rows(bad.metadata["files"].value)} == {"weird.json", "left-empty.xml"}
    assert not list((s.quarantine).rglob("*.xml"))  # file names are keys; nothing named .xml
    assert len([p for p in s.quarantine.rglob("*") if p.is_file() and p.suffix != ".json"]) == 2
    assert writing.exists() and writing.stat().st_size == 0  # still waiting for its writer


# ---------------------------------------------------------------------------- crossbridge ingest


def test_ingest_keeps_reports_of_one_name_from_different_folders(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`crossbridge ingest shard1/TEST-x.xml shard2/TEST-x.xml` (or two folders both named
    `results`): CI shards name their reports alike. Each is a report of the run; none takes the
    other's place."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    first, second = tmp_path / "shard1" / "TEST-x.xml", tmp_path / "shard2" / "TEST-x.xml"
    for target, source in ((first, RESULTS / "pytest-junit.xml"), (second, JUNIT / "surefire-flaky.xml")):
        target.parent.mkdir()
        target.write_bytes(source.read_bytes())
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", "--branch", "main", "--build", "1",
                             str(first), str(second))
    assert code == 0, err
    assert "ingested 2 file(s)" in out and "already held" not in out
    (run,) = summary(capsys)
    assert (run["tests"], run["flaky"]) == (8 + 1, 1)  # pytest-junit.xml's 8 tests and surefire's flaky one

    for shard, source in (("a", RESULTS / "pytest-junit.xml"), ("b", JUNIT / "surefire-flaky.xml")):
        folder = tmp_path / shard / "results"
        folder.mkdir(parents=True)
        (folder / "TEST-x.xml").write_bytes(source.read_bytes())
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", "--branch", "main", "--build", "2",
                             str(tmp_path / "a" / "results"), str(tmp_path / "b" / "results"))
    assert code == 0, err
    assert "already held" not in out
    runs = {r["build"]: r for r in summary(capsys)}
    assert runs["2"]["tests"] == 9
    assert not any(p.is_file() for p in crossbridge_env.inbox.rglob("*"))


# ---------------------------------------------------------------------------- the inbox sensor


def test_an_empty_file_waits_for_its_writer(crossbridge_env, dagster_instance, monkeypatch):
    """`go test | go-junit-report > inbox/.../report.xml`, `mocha --reporter json > ...`: the shell
    makes the file, empty, when the tests start; the reporter writes it when they end, minutes
    later. Taking the empty file then would quarantine it and unlink it under its writer, whose
    report would be lost. It waits, as a *.jsonl.part file does; one still empty after
    CROSSBRIDGE_STALE_PART_SECONDS is taken as it is."""
    s = crossbridge_env
    folder = s.inbox / "shop" / "main" / "5"
    folder.mkdir(parents=True)
    report = folder / "report.xml"
    minute_ago = time.time() - 60
    with open(report, "wb") as writer:
        os.utime(report, (minute_ago, minute_ago))  # the tests have been running for a minute
        first = sensor_tick(dagster_instance)
        second = sensor_tick(dagster_instance, first.cursor)
        assert second.run_requests == [] and "1 file(s) still settling" in second.skip_reason.skip_message
        writer.write((RESULTS / "pytest-junit.xml").read_bytes())
    os.utime(report, (minute_ago, minute_ago))
    cursor, results = ingest(dagster_instance, second.cursor)
    assert [r.asset_materializations_for_node("test_results")[0].metadata["tests"].value for r in results] == [8]

    monkeypatch.setenv("CROSSBRIDGE_STALE_PART_SECONDS", "60")
    abandoned = drop(s, "abandoned.xml", "shop/main/6", text="")
    hours_ago = time.time() - 7200
    os.utime(abandoned, (hours_ago, hours_ago))
    _, results = ingest(dagster_instance, cursor)
    bad = checks_of(results[0])["parse_errors"]
    assert bad.passed is False and bad.description == "1 report(s) quarantined: abandoned.xml: the file is empty"


# ---------------------------------------------------------------------------- a warehouse out of reach


def test_commands_say_which_warehouse_they_cannot_open(crossbridge_env, capsys, monkeypatch, tmp_path):
    """CROSSBRIDGE_WAREHOUSE_URL names a database in a folder that cannot be made (a file has
    its name, a volume is not mounted): `doctor` reports the warehouse unreachable, as it does
    for a server that is down, and the other commands say which warehouse in one line."""
    (tmp_path / "mnt").write_text("not a folder")
    url = f"sqlite:///{tmp_path}/mnt/warehouse.db"
    monkeypatch.setenv("CROSSBRIDGE_WAREHOUSE_URL", url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, out, err = run_cli(capsys, "doctor", "--json")
    assert code == 1, err
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert checks["warehouse_reachable"]["passed"] is False
    assert "unable to open database file" in checks["warehouse_reachable"]["summary"]

    report = tmp_path / "TEST-a.xml"
    report.write_bytes((RESULTS / "pytest-junit.xml").read_bytes())
    for argv in (["summary"], ["patch-coverage", "--diff-file", str(report)], ["ingest", str(report)]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 1, argv
        assert err.splitlines()[-1] == f"crossbridge: the warehouse {url} cannot be used: unable to open database file", (argv, err)
        assert "Traceback" not in err


# ---------------------------------------------------------------------------- wrong arguments


def test_counts_given_on_the_command_line_must_be_positive(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`--shards-expected 0` used to be written into the drop's manifest, whose report was then
    quarantined for a manifest the user never saw (and kept out of backfills); `summary --limit 0`
    answered "no runs yet" over a warehouse full of runs."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    report = tmp_path / "coverage.xml"
    report.write_bytes((PY / "coverage.xml").read_bytes())
    for value in ("0", "-1"):
        try:
            code = run_cli(capsys, "ingest", "--project", "shop", "--shards-expected", value, str(report))[0]
        except SystemExit as exc:  # argparse
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2 and "--shards-expected" in err and "at least 1" in err, err
    assert not any(crossbridge_env.inbox.rglob("*"))

    code, _, err = run_cli(capsys, "ingest", "--project", "shop", "--build", "1", str(report))
    assert code == 0, err
    for argv in (["summary", "--limit", "0"], ["demo", "--days", "0", "--no-ingest"]):
        try:
            code = run_cli(capsys, *argv)[0]
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2 and argv[1] in err and "at least 1" in err, (argv, err)
    assert [r["build"] for r in summary(capsys)] == ["1"]


def _aged(cursor: str, seconds: float) -> str:
    """The sensor's cursor as it is `seconds` later: its batches asked for that long ago."""
    state = json.loads(cursor)
    for entry in state["requested"].values():
        entry[2] -= seconds
    return json.dumps(state)


def test_a_batch_whose_run_is_still_queued_is_not_asked_for_again(crossbridge_env, dagster_instance):
    """A busy instance queues runs (the production dagster.yaml runs four at a time, one
    warehouse writer). A batch asked for half an hour ago whose run is still queued or running is
    waited for; only a batch whose run failed or vanished is asked for again."""
    from crossbridge_assets.definitions import defs

    s = crossbridge_env
    drop(s, "TEST-a.xml", "shop/main/1", source=RESULTS / "pytest-junit.xml")
    first = sensor_tick(dagster_instance)
    second = sensor_tick(dagster_instance, first.cursor)
    (request,) = second.run_requests
    run = dagster_instance.create_run_for_job(
        # Created and not started: as a queued run looks to the sensor (queueing one needs a code location).
        job_def=defs.resolve_job_def("ingest"), run_config=request.run_config,
        tags={**request.tags, "dagster/partition": request.partition_key, "dagster/run_key": request.run_key},
    )
    later = sensor_tick(dagster_instance, _aged(second.cursor, 31 * 60))
    assert later.run_requests == []
    assert "1 file(s) waiting for their ingestion run" in later.skip_reason.skip_message

    dagster_instance.report_run_failed(run)
    again = sensor_tick(dagster_instance, _aged(later.cursor, 31 * 60))
    (retry,) = again.run_requests
    assert retry.run_key != request.run_key
    assert retry.run_config["ops"]["landed_reports"]["config"]["files"] == ["shop/main/1/TEST-a.xml"]
    execute(dagster_instance, retry)
    assert not sensor_tick(dagster_instance, _aged(again.cursor, 31 * 60)).run_requests


# ---------------------------------------------------------------------------- storage faults


def test_landing_retried_after_a_locked_warehouse_counts_the_whole_batch(crossbridge_env, dagster_instance, monkeypatch):
    """SQLite answers "database is locked" halfway through a batch (another writer held it past
    the busy timeout): the step is retried, finds the files the first try landed gone from the
    inbox, and still reports the whole batch."""
    from sqlalchemy.exc import OperationalError

    from crossbridge_assets.warehouse.landing import Landing

    s = crossbridge_env
    drop(s, "TEST-a.xml", "shop/main/7", source=RESULTS / "pytest-junit.xml")
    drop(s, "TEST-b.xml", "shop/main/7", source=JUNIT / "surefire-flaky.xml")
    drop(s, "TEST-c.xml", "shop/main/7", text="<testsuite")
    record, calls = Landing._record, []

    def locked_once(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise OperationalError("INSERT INTO reports", {}, Exception("database is locked"))
        return record(self, *args, **kwargs)

    monkeypatch.setattr(Landing, "_record", locked_once)
    _, (result,) = ingest(dagster_instance)
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert [e.step_key for e in retried] == ["landed_reports"]
    md = result.asset_materializations_for_node("landed_reports")[0].metadata
    assert (md["landed"].value, md["quarantined"].value, md["duplicates"].value) == (2, 1, 0)
    assert rendered_rows(md["formats"].value) == [["junit", "2"]]
    assert [row[0] for row in rendered_rows(md["quarantined_files"].value)] == ["TEST-c.xml"]
    results_md = result.asset_materializations_for_node("test_results")[0].metadata
    assert (results_md["reports_loaded"].value, results_md["tests"].value) == (2, 9)


# ---------------------------------------------------------------------------- manifests in manifests


def test_a_shards_own_manifest_adds_to_the_runs_manifest_above_it(crossbridge_env, dagster_instance):
    """One upload of a build: its manifest names the run and its runner's checkout folder, each
    shard's folder has a manifest naming only the shard. The shard's report belongs to the
    build's run, not to a project and branch made of folder names, and its paths lose the
    checkout folder the upload's manifest names."""
    from crossbridge_assets.warehouse.coverage import coverage_runs, run_merge

    s = crossbridge_env
    upload = s.inbox / "upload-77"
    upload.mkdir()
    (upload / "crossbridge.json").write_text(json.dumps(
        {"project": "shop", "branch": "main", "build": "77", "shards_expected": 2,
         "source_roots": ["/srv/runners/*/work/shop/shop"]}))
    # The LCOV shard as coverage.py writes it on a runner that knows no relative paths.
    absolute = (PY / "coverage.lcov").read_text().replace("SF:calc/", "SF:/srv/runners/gpu-01/work/shop/shop/calc/")
    for shard, name, text in (("1", "coverage.xml", (PY / "coverage.xml").read_text()), ("2", "coverage.lcov", absolute)):
        drop(s, name, f"upload-77/shard-{shard}", text=text)
        (upload / f"shard-{shard}" / "crossbridge.json").write_text(json.dumps({"shard": shard}))
    ingest(dagster_instance)
    refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    (run,) = coverage_runs(engine)
    assert (run["project"], run["branch"], run["build"]) == ("shop", "main", "77")
    assert (run["shards_seen"], run["shards_expected"], run["complete"]) == (2, 2, True)
    assert sorted(run_merge(engine, run["run_id"]).files) == ["calc/__init__.py", "calc/ops.py"]


def test_ingest_of_a_folder_with_its_own_manifest_keeps_the_run_given(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`crossbridge ingest --project shop --branch main --build 9 shard2/` where shard2/ holds
    the shard's crossbridge.json ({"shard": "2", "shards_expected": 4}): the run is shop/main #9,
    shard 2 of 4, not one named after the hidden folder the command stages its files in."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    folder = tmp_path / "shard2"
    folder.mkdir()
    (folder / "TEST-x.xml").write_bytes((RESULTS / "pytest-junit.xml").read_bytes())
    (folder / "crossbridge.json").write_text('{"shard": "2", "shards_expected": 4}')
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", "--branch", "main", "--build", "9", str(folder))
    assert code == 0, err
    (run,) = summary(capsys)
    assert (run["project"], run["branch"], run["build"], run["tests"]) == ("shop", "main", "9", 8)


def test_a_file_dated_in_the_future_is_taken_once_it_stops_changing(crossbridge_env, dagster_instance, monkeypatch):
    """A report unpacked from an artifact made on an agent whose clock runs ahead (or written
    through a file server with its own clock) has an mtime in the future. It is taken when two
    scans CROSSBRIDGE_SETTLE_SECONDS apart saw it unchanged, on today's partition, not left
    "still settling" until the clock catches up with it."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_SETTLE_SECONDS", "1")
    report = drop(s, "TEST-a.xml", "shop/main/1", source=RESULTS / "pytest-junit.xml")
    ahead = time.time() + 3 * 86400
    os.utime(report, (ahead, ahead))
    first = sensor_tick(dagster_instance)
    assert first.run_requests == []
    time.sleep(1.1)
    second = sensor_tick(dagster_instance, first.cursor)
    (request,) = second.run_requests
    assert request.partition_key == time.strftime("%Y-%m-%d", time.gmtime())
    result = execute(dagster_instance, request)
    assert result.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 8


def test_parse_reads_a_report_from_a_pipe(tmp_path, capsys):
    """`crossbridge parse <(zcat TEST-x.xml.gz)` or `... | crossbridge parse /dev/stdin`: a pipe
    can be read once. Detecting the format and then parsing read it twice, and the second read
    waited for a writer that had gone."""
    import threading

    pipe = tmp_path / "report-pipe"
    os.mkfifo(pipe)
    content = (RESULTS / "pytest-junit.xml").read_bytes()

    done = threading.Event()

    def writer():
        try:
            with open(pipe, "wb") as fh:
                fh.write(content)
        except BrokenPipeError:
            pass
        # A second reader is let through to an empty pipe rather than left waiting forever.
        while not done.wait(0.5):
            try:
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader waiting
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    code, out, err = run_cli(capsys, "parse", "--json", str(pipe))
    done.set()
    assert code == 0, err
    got = json.loads(out)
    assert (got["path"], got["format"], got["totals"]["tests"]) == (str(pipe), "junit", 8)


def test_ingest_says_why_the_dagster_instance_cannot_be_loaded(crossbridge_env, capsys, monkeypatch, tmp_path):
    """DAGSTER_HOME left pointing at the repository's production dagster.yaml (the README's
    PostgreSQL set-up) without DAGSTER_POSTGRES_URL: one line naming the folder and the variable,
    exit 2, and nothing staged in the inbox."""
    from crossbridge_assets_tests.conftest import REPO

    monkeypatch.setenv("DAGSTER_HOME", str(REPO))
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    report = tmp_path / "TEST-a.xml"
    report.write_bytes((RESULTS / "pytest-junit.xml").read_bytes())
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", str(report))
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"crossbridge: the Dagster instance in DAGSTER_HOME={REPO} cannot be loaded: ")
    assert "DAGSTER_POSTGRES_URL" in line and "Traceback" not in err
    assert not any(crossbridge_env.inbox.rglob("*"))


# ---------------------------------------------------------------------------- a day's figures


def test_a_days_figures_count_every_run_of_the_day(crossbridge_env, dagster_instance, tmp_path):
    """CI sends a batch per build, dozens a day; the UI shows and plots each day's partition by
    its latest materialization. Its counts, pass rate and line % are the day's, whichever batch
    came last, and the same as a re-materialization of the whole day gives; the tables and
    reports_loaded say what the run itself brought."""
    from crossbridge_assets.definitions import defs

    s = crossbridge_env
    drop(s, "TEST-a.xml", "shop/main/1", source=RESULTS / "pytest-junit.xml")  # 8: 3 passed, 2+1 failed, 2 skipped
    drop_shard(s, "cov1", PY / "coverage.xml", "coverage.xml", build="1")  # 14 of 19 lines, 2 files
    cursor, _ = ingest(dagster_instance)
    drop(s, "TEST-b.xml", "shop/main/2", source=JUNIT / "surefire-flaky.xml")  # 1: passed at its second try
    drop_shard(s, "cov2", lcov_with(OPS_VALID, tmp_path / "all.lcov"), "coverage.lcov", build="2")  # 19 of 19
    _, (batch,) = ingest(dagster_instance, cursor)
    day = batch.dagster_run.tags["dagster/partition"]
    whole = defs.resolve_job_def("ingest").execute_in_process(partition_key=day, instance=dagster_instance)

    for result, loaded in ((batch, 1), (whole, 2)):
        md = result.asset_materializations_for_node("test_results")[0].metadata
        assert md["reports_loaded"].value == loaded
        figures = {k: md[k].value for k in ("tests", "passed", "failures", "errors", "skipped", "flaky")}
        assert figures == {"tests": 9, "passed": 4, "failures": 2, "errors": 1, "skipped": 2, "flaky": 1}
        assert md["pass_rate"].value == pytest.approx(4 / 7, abs=1e-4)
        cov = result.asset_materializations_for_node("coverage")[0].metadata
        assert cov["reports_loaded"].value == loaded
        assert cov["files"].value == 4 and cov["line_pct"].value == pytest.approx(100 * 33 / 38, abs=0.01)
    md = batch.asset_materializations_for_node("test_results")[0].metadata
    assert [row[0] for row in rendered_rows(md["slowest_tests"].value)] == ["com.acme.cart.CartServiceTest.addsItemConcurrently"]


def test_patch_coverage_refuses_a_diff_file_that_holds_no_diff(tmp_path, capsys):
    """Arguments swapped (`--diff-file coverage.xml`), or a file that is no diff at all: the
    change read as nothing passed `--fail-under` at 100%. It is bad input, exit 2; an empty
    diff (a branch with no change) still measures 100% of nothing."""
    report = tmp_path / "cov é.xml"
    report.write_bytes((PY / "coverage.xml").read_bytes())
    notes = tmp_path / "change notes.txt"
    notes.write_text("Adds a rounding mode to calc.ops.divide\n")
    for wrong in (report, notes):
        code, out, err = run_cli(capsys, "patch-coverage", "--coverage", str(report), "--diff-file", str(wrong),
                                 "--fail-under", "80")
        assert code == 2 and out == "", err
        assert err == f"crossbridge: cannot read the change: {wrong} holds no git diff (no 'diff --git' line): " \
                      "pass what `git diff` writes\n"
    empty = tmp_path / "empty.diff"
    empty.write_text("")
    code, out, err = run_cli(capsys, "patch-coverage", "--coverage", str(report), "--diff-file", str(empty),
                             "--fail-under", "80")
    assert code == 0 and "100.00%" in out, err


def test_summary_of_a_project_without_runs_names_the_projects_there_are(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`crossbridge summary --project shp` (a typo) over a warehouse of runs: not "no runs yet,
    try crossbridge demo", but the projects it has."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    report = tmp_path / "TEST-a.xml"
    report.write_bytes((RESULTS / "pytest-junit.xml").read_bytes())
    assert run_cli(capsys, "ingest", "--project", "shop", "--build", "1", str(report))[0] == 0
    code, out, err = run_cli(capsys, "summary", "--project", "shp")
    assert code == 0 and out == "no runs of project shp; the warehouse has runs of: shop\n", (out, err)
    code, out, _ = run_cli(capsys, "summary", "--project", "shp", "--json")
    assert code == 0 and json.loads(out) == []


def test_an_unreadable_file_does_not_hold_up_its_batch(crossbridge_env, dagster_instance, monkeypatch):
    """A report uploaded by another account with a umask of 077 (chmod 000 as the service user
    sees it; simulated, as the tests may run as root, whom permissions do not stop). It used to
    fail the whole run, every half hour again, and the rest of its batch never landed. It is
    named by the check and stays in the inbox; once readable, it lands."""
    from crossbridge_assets.warehouse import landing as landing_mod

    s = crossbridge_env
    drop(s, "TEST-a.xml", "shop/main/3", source=RESULTS / "pytest-junit.xml")
    locked = drop(s, "TEST-locked.xml", "shop/main/3", source=JUNIT / "surefire-flaky.xml")
    readable = landing_mod.file_sha256

    def file_sha256(path):
        if path.name == locked.name:
            raise PermissionError(13, "Permission denied", str(path))
        return readable(path)

    with monkeypatch.context() as m:
        m.setattr(landing_mod, "file_sha256", file_sha256)
        cursor, (result,) = ingest(dagster_instance)
    assert result.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 8
    bad = checks_of(result)["parse_errors"]
    assert bad.passed is False
    assert bad.description == ("1 report(s) quarantined: TEST-locked.xml: cannot be read: Permission denied; "
                               "it stays in the inbox and lands once it can be read")
    assert locked.exists()

    again = sensor_tick(dagster_instance, _aged(cursor, 31 * 60))
    (request,) = again.run_requests
    result = execute(dagster_instance, request)
    assert result.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 9
    assert checks_of(result)["parse_errors"].passed is True
    assert not locked.exists()


def test_ingest_names_a_file_it_cannot_read(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`crossbridge ingest` of a file without read permission (chmod 000; simulated, as the tests
    may run as root): one line naming the file and why, exit 2, nothing left half-staged."""
    from crossbridge_assets.defs import ingest as ingest_mod

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    good, locked = tmp_path / "TEST-a.xml", tmp_path / "TEST-locked.xml"
    good.write_bytes((RESULTS / "pytest-junit.xml").read_bytes())
    locked.write_bytes((JUNIT / "surefire-flaky.xml").read_bytes())
    copy = ingest_mod.shutil.copyfile

    def copyfile(source, target):
        if Path(source).name == locked.name:
            raise PermissionError(13, "Permission denied", str(source))
        return copy(source, target)

    monkeypatch.setattr(ingest_mod.shutil, "copyfile", copyfile)
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", str(good), str(locked))
    assert (code, out) == (2, "")
    # Dagster may warn on stderr of an instance folder without dagster.yaml: the command's own
    # lines are the one about the file.
    assert [line for line in err.splitlines() if line.startswith("crossbridge")] == [
        f"crossbridge: {locked}: cannot be read: Permission denied"
    ]
    assert "Traceback" not in err
    assert not any(crossbridge_env.inbox.rglob("*"))


def test_ingest_leaves_the_products_own_folders_alone(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`crossbridge ingest .crossbridge/inbox` (to have the inbox taken now) loaded its files
    under a run of the command's, and the sensor loaded them again under their own; `crossbridge
    ingest .` from a checkout copied the inbox, the archive and the warehouse as reports. The
    inbox is refused, and a folder holding CROSSBRIDGE_HOME gives only its reports."""
    s = crossbridge_env
    monkeypatch.setenv("DAGSTER_HOME", str(s.home / "dagster"))
    waiting = drop(s, "TEST-a.xml", "shop/main/5", source=RESULTS / "pytest-junit.xml")
    for path in (s.inbox, waiting.parent):
        code, out, err = run_cli(capsys, "ingest", str(path))
        assert (code, out) == (2, "")
        assert err == (f"crossbridge: {path}: is in the inbox, which the inbox sensor ingests by itself; "
                       "pass reports from elsewhere\n")
    assert sorted(p.name for p in s.inbox.rglob("*") if p.is_file()) == ["TEST-a.xml"]

    results = tmp_path / "build" / "test-results"
    results.mkdir(parents=True)
    (results / "TEST-b.xml").write_bytes((JUNIT / "surefire-flaky.xml").read_bytes())
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", "--build", "9", str(tmp_path))
    assert code == 0, err
    assert "ingested 1 file(s)" in out and "quarantined" not in out
    (run,) = summary(capsys)
    assert (run["build"], run["tests"]) == ("9", 1)
    assert sorted(p.name for p in s.inbox.rglob("*") if p.is_file()) == ["TEST-a.xml"]


def test_a_postgresql_server_out_of_connections_is_a_fault_to_retry():
    """What libpq 14+ says when PostgreSQL is briefly out of reach (ingestion runs, Celery workers
    and the webserver share max_connections; a failover, a DNS blip): retried by the assets'
    RetryPolicy, not failed at once as if the data were wrong."""
    import psycopg2
    from sqlalchemy.exc import OperationalError

    from crossbridge_assets.warehouse.engine import is_transient

    server = 'connection to server at "db" (10.0.0.5), port 5432 failed: '
    for message in (
        server + "FATAL:  sorry, too many clients already",
        server + "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute",
        server + "FATAL:  the database system is in recovery mode",
        'could not translate host name "db" to address: Temporary failure in name resolution',
        "SSL connection has been closed unexpectedly",
        "SSL SYSCALL error: EOF detected",
    ):
        assert is_transient(OperationalError("SELECT 1", {}, psycopg2.OperationalError(message))), message
    denied = server + 'FATAL:  password authentication failed for user "crossbridge"'
    assert not is_transient(OperationalError("SELECT 1", {}, psycopg2.OperationalError(denied)))


def test_a_file_name_that_is_not_utf8_neither_stops_the_sensor_nor_its_batch(crossbridge_env, dagster_instance, capsys):
    """`unzip` of a zip made on Windows (or a copy from a Latin-1 share) names files and folders
    in bytes that are not UTF-8: the sensor's tick failed on such a name, and with it every
    later tick, so that nothing at all was ingested any more. They land, their names kept
    readable with the odd bytes as '\\xe9'."""
    from crossbridge_assets_tests.test_ingest_e2e import report_rows

    s = crossbridge_env
    drop(s, "TEST-ok.xml", "shop/main/1", source=JUNIT / "surefire-flaky.xml")
    folder = os.fsencode(s.inbox) + b"/shop/f\xe9ature/2"
    os.makedirs(folder)
    odd = folder + b"/TEST-r\xe9sum\xe9.xml"
    with open(odd, "wb") as fh:
        fh.write((RESULTS / "pytest-junit.xml").read_bytes())
    minute_ago = time.time() - 60
    os.utime(odd, (minute_ago, minute_ago))
    _, (result,) = ingest(dagster_instance)
    assert result.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 9
    row = report_rows(s)["TEST-r\\xe9sum\\xe9.xml"]
    assert (row.status, row.project, row.branch, row.build) == ("landed", "shop", "f\\xe9ature", "2")
    assert not os.path.exists(odd)

    os.makedirs(folder)  # and read where it lies, by `crossbridge parse` (landing tidied the folder away)
    with open(odd, "wb") as fh:
        fh.write((RESULTS / "pytest-junit.xml").read_bytes())
    code, out, err = run_cli(capsys, "parse", "--json", os.fsdecode(odd))
    assert code == 0, err
    assert json.loads(out)["totals"]["tests"] == 8


def test_a_file_landed_while_the_sensor_scans_does_not_fail_its_tick(crossbridge_env, dagster_instance, monkeypatch):
    """An ingestion run removes the files it landed while the sensor lists the same folder: a
    file listed and gone before its size is read failed the whole tick (an error in the UI)."""
    from crossbridge_assets.defs.landing import inbox as inbox_mod

    s = crossbridge_env
    gone = drop(s, "TEST-landed.xml", "shop/main/1", source=RESULTS / "pytest-junit.xml")
    drop(s, "TEST-new.xml", "shop/main/1", source=JUNIT / "surefire-flaky.xml")
    scandir = os.scandir

    class Listing(list):  # what os.scandir gives, as a context manager too
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def listing_then_landing(folder="."):
        if isinstance(folder, int):  # by file descriptor (shutil.rmtree): not the sensor
            return scandir(folder)
        entries = Listing(scandir(folder))
        if Path(folder) == gone.parent:
            gone.unlink(missing_ok=True)  # landed by a run between the listing and the stat
        return entries

    monkeypatch.setattr(inbox_mod.os, "scandir", listing_then_landing)
    first = sensor_tick(dagster_instance)
    second = sensor_tick(dagster_instance, first.cursor)
    (request,) = second.run_requests
    assert request.run_config["ops"]["landed_reports"]["config"]["files"] == ["shop/main/1/TEST-new.xml"]


def test_a_file_that_trips_format_detection_is_quarantined_and_its_batch_lands(crossbridge_env, dagster_instance,
                                                                                 monkeypatch):
    """A reader bug on one hostile file while its format is detected (simulated here: the readers
    have none known) failed the landing of the whole batch, again at each retry of the sensor.
    As for a bug while parsing, the file is quarantined with what went wrong, the rest lands."""
    from crossbridge_assets.warehouse import landing as landing_mod

    s = crossbridge_env
    drop(s, "TEST-a.xml", "shop/main/4", source=RESULTS / "pytest-junit.xml")
    drop(s, "TEST-hostile.xml", "shop/main/4", source=JUNIT / "surefire-flaky.xml")
    detect = landing_mod.detect

    def buggy(path):
        if b"CartServiceTest" in Path(path).read_bytes():  # the hostile file's content, wherever it lies
            raise RecursionError("maximum recursion depth exceeded")
        return detect(path)

    monkeypatch.setattr(landing_mod, "detect", buggy)
    _, (result,) = ingest(dagster_instance)
    assert result.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 8
    bad = checks_of(result)["parse_errors"]
    assert bad.description == ("1 report(s) quarantined: TEST-hostile.xml: could not be read: "
                               "RecursionError: maximum recursion depth exceeded")
    # And the day's backfill goes through as well, the file still in quarantine.
    from crossbridge_assets.definitions import defs

    day = result.dagster_run.tags["dagster/partition"]
    whole = defs.resolve_job_def("ingest").execute_in_process(partition_key=day, instance=dagster_instance)
    assert whole.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 8
    assert checks_of(whole)["parse_errors"].description == bad.description
