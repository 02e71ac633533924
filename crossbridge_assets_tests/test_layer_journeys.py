"""The results and coverage features as their users meet them, on real Dagster instances: a mixed
drop into the inbox picked up by the sensor, a writer still filling its report, the `crossbridge`
command with two reports of one name, a warehouse it cannot open, and wrong arguments."""

import json

from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli

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
