"""The results and coverage features as their users meet them, on real Dagster instances: a mixed
drop into the inbox picked up by the sensor, a writer still filling its report, the `crossbridge`
command with two reports of one name, a warehouse it cannot open, and wrong arguments."""

import json
import os
import time

from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest
from crossbridge_assets_tests.test_ingest_e2e import drop, sensor_tick

RESULTS = FIXTURES / "results"
JUNIT = FIXTURES / "junit"
PY = FIXTURES / "coverage" / "python"


def summary(capsys) -> list[dict]:
    code, out, err = run_cli(capsys, "summary", "--json")
    assert code == 0, err
    return json.loads(out)


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
