"""The `crossbridge` command: parse agrees with the corpus oracle, bad files exit 2 with one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossbridge_assets.cli import main
from crossbridge_assets_tests.conftest import corpus_params

FIX = Path(__file__).parent / "fixtures" / "junit"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("row", corpus_params(kind="results") + corpus_params(kind="coverage"))
def test_parse_json_matches_oracle(row, capsys):
    code, out, err = run_cli(capsys, "parse", str(row["path"]), "--json")
    if row["tests"] == "error" or row["lines_valid"] == "error":
        assert code == 2
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(row["path"]) in lines[0]
        return
    assert code == 0, err
    got = json.loads(out)
    assert set(got) == {"path", "kind", "format", "totals", "declared", "counted", "warnings"}
    assert got["kind"] == row["kind"]
    t = got["totals"]
    # A report's declared totals are shown as written; where they contradict the content, a warning says so.
    held = {**t, **got["counted"]}  # the content counted as the writer counts its totals
    disagree = {k: v for k, v in got["declared"].items() if held.get(k) is not None and held[k] != v}
    if disagree:
        assert any("declare" in w for w in got["warnings"]), (disagree, got["warnings"])
    if row["kind"] == "results":
        assert set(t) == {"tests", "passed", "failures", "errors", "skipped"}
        assert t["tests"] == int(row["tests"])
        assert t["failures"] + t["errors"] == int(row["failures"]) + int(row["errors"])
        assert t["skipped"] == int(row["skipped"])
        assert t["passed"] == t["tests"] - t["failures"] - t["errors"] - t["skipped"]
        if row["format"] == "junit":
            assert (t["failures"], t["errors"]) == (int(row["failures"]), int(row["errors"]))
    else:
        assert set(t) == {"files", "lines_valid", "lines_covered", "branches_valid", "branches_covered"}
        for key in t:
            assert t[key] == int(row[key]), key


def test_parse_human_output_and_unknown_format(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "parse", str(FIX / "pytest-sample.xml"))
    assert code == 0 and "junit" in out and "failures:" in out
    weird = tmp_path / "notes.xml"
    weird.write_text("<notes><note/></notes>")
    code, out, err = run_cli(capsys, "parse", str(weird), "--json")
    assert code == 2 and out == ""
    assert str(weird) in err and "unknown format" in err and "junit" in err
    missing = tmp_path / "missing.xml"
    code, _, err = run_cli(capsys, "parse", str(missing))
    assert code == 2 and str(missing) in err and len(err.strip().splitlines()) == 1


def test_console_script_is_installed_and_exits_2(tmp_path):
    bad = tmp_path / "truncated.xml"
    bad.write_text((FIX / "pytest-sample.xml").read_text()[:200])
    exe = Path(sys.executable).with_name("crossbridge")
    proc = subprocess.run([str(exe), "parse", "--json", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and "malformed XML" in proc.stderr


def test_ingest_then_summary(crossbridge_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    drop = tmp_path / "results"
    drop.mkdir()
    (drop / "a.xml").write_bytes((FIX / "pytest-sample.xml").read_bytes())
    (drop / "bad.xml").write_text("<testsuite><testcase name='x'>")
    code, out, err = run_cli(capsys, "ingest", "--project", "shop", "--branch", "main", "--build", "9",
                             "--commit", "abc", str(drop))
    assert code == 0, err
    assert "quarantined bad.xml" in out
    code, out, _ = run_cli(capsys, "summary", "--json")
    runs = json.loads(out)
    assert len(runs) == 1
    r = runs[0]
    assert (r["project"], r["branch"], r["build"], r["commit_sha"]) == ("shop", "main", "9", "abc")
    assert (r["tests"], r["failures"], r["errors"], r["skipped"]) == (6, 1, 1, 1)
    # Nothing of the ingest stays behind in the inbox.
    assert not any(p.is_file() for p in crossbridge_env.inbox.rglob("*"))


def test_a_run_learns_its_start_from_the_report_that_states_it(crossbridge_env, capsys, monkeypatch, tmp_path):
    """Coverage and results of one build in one upload: LCOV carries no time, the JUnit file
    does, whichever of them the run was first recorded from."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    drop = tmp_path / "build"
    drop.mkdir()
    (drop / "a-coverage.info").write_text("SF:src/calc.py\nDA:1,1\nend_of_record\n")
    (drop / "z-junit.xml").write_bytes((FIX / "pytest-sample.xml").read_bytes())
    code, _, err = run_cli(capsys, "ingest", "--project", "shop", "--build", "12", str(drop))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "summary", "--json")
    (run,) = json.loads(out)
    assert run["started_at"].startswith("2026-11-30T04:09:14"), run


def test_a_runaway_stack_trace_is_stored_cut_with_its_original_length(crossbridge_env, capsys, monkeypatch, tmp_path):
    from sqlalchemy import select

    from crossbridge_assets.model import MAX_OUTPUT_CHARS
    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    frames = "".join(f"    at com.example.Deep.recurse(Deep.java:{n})\n" for n in range(20_000))
    message = "expected: [" + "x" * 100_000 + "]"
    report = tmp_path / "TEST-com.example.Deep.xml"
    report.write_text(
        '<testsuite name="com.example.Deep" tests="1" failures="1">'
        f'<testcase classname="com.example.Deep" name="recurses"><failure message="{message}" '
        f'type="java.lang.StackOverflowError">{frames}</failure></testcase></testsuite>'
    )
    code, _, err = run_cli(capsys, "ingest", "--project", "shop", str(report))
    assert code == 0, err
    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        stored = conn.execute(select(schema.test_attempts.c.message, schema.test_attempts.c.stack_trace)).one()
        result_message = conn.execute(select(schema.test_results.c.message)).scalar_one()
    for text, original in ((stored.message, message), (stored.stack_trace, frames), (result_message, message)):
        assert text.startswith(original[:1000]) and len(text) < MAX_OUTPUT_CHARS + 100
        assert f"{len(original)} characters in the original" in text


def test_wrong_setting_fails_fast_naming_the_variable(tmp_path):
    env = {**os.environ, "CROSSBRIDGE_HOME": str(tmp_path), "CROSSBRIDGE_WAREHOUSE_URL": "mysql://x"}
    exe = Path(sys.executable).with_name("crossbridge")
    proc = subprocess.run([str(exe), "summary"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "CROSSBRIDGE_WAREHOUSE_URL" in proc.stderr and "postgresql+psycopg2://" in proc.stderr


GITHUB_JOB = {
    "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_REF_NAME": "main",
    "GITHUB_SHA": "3f2a9c1", "GITHUB_RUN_ID": "7001", "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.com", "GITHUB_JOB": "tests",
}


def test_ingest_in_a_ci_job_names_the_run_as_the_ci_does(crossbridge_env, capsys, monkeypatch, tmp_path):
    """Two shard jobs of one GitHub Actions build, each running `crossbridge ingest` with no
    run flags: one run, named as the hooks name it; a flag still beats the CI's value."""
    from sqlalchemy import select

    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    for name, value in GITHUB_JOB.items():
        monkeypatch.setenv(name, value)
    for shard in ("1", "2"):
        drop = tmp_path / f"shard{shard}"
        drop.mkdir()
        (drop / "junit.xml").write_text(
            f'<testsuite name="s{shard}"><testcase classname="t.Shard{shard}" name="works"/></testsuite>')
        code, out, err = run_cli(capsys, "ingest", "--shard", shard, "--shards-expected", "2", str(drop))
        assert code == 0, err
        assert "run metadata from github-actions: project acme/shop, branch main, commit 3f2a9c1, build 7001.1" in out
    code, out, _ = run_cli(capsys, "summary", "--json")
    (run,) = json.loads(out)
    assert (run["project"], run["branch"], run["build"], run["commit_sha"]) == ("acme/shop", "main", "7001.1", "3f2a9c1")
    assert run["tests"] == 2
    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        urls = set(conn.execute(select(schema.test_runs.c.ci_url)).scalars())
    assert urls == {"https://github.com/acme/shop/actions/runs/7001"}
    # The run the hooks' event files of this job name from their header (landing's last source).
    from crossbridge_assets.hooks.events import ci_metadata
    from crossbridge_assets.warehouse.run_metadata import RunMetadata

    hooks = ci_metadata()
    hooked = RunMetadata(project=hooks["project"], branch=hooks["branch"], commit=hooks["commit"], build=hooks["build"])
    assert hooked.run_id("any") == run["run_id"]

    # The same job ingesting with its own --branch: the flag wins, and is not said to come from the CI.
    drop = tmp_path / "other"
    drop.mkdir()
    (drop / "junit.xml").write_text('<testsuite name="o"><testcase classname="t.Other" name="works"/></testsuite>')
    code, out, err = run_cli(capsys, "ingest", "--branch", "release", str(drop))
    assert code == 0, err
    assert "branch" not in out.split("run metadata from github-actions:")[1].splitlines()[0]
    code, out, _ = run_cli(capsys, "summary", "--json")
    assert {(r["branch"], r["build"]) for r in json.loads(out)} == {("main", "7001.1"), ("release", "7001.1")}


def test_ingest_outside_ci_keeps_the_default_run(crossbridge_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    drop = tmp_path / "r"
    drop.mkdir()
    (drop / "junit.xml").write_text('<testsuite name="o"><testcase classname="t.Other" name="works"/></testsuite>')
    code, out, err = run_cli(capsys, "ingest", str(drop))
    assert code == 0, err
    assert "run metadata from" not in out
    code, out, _ = run_cli(capsys, "summary", "--json")
    (run,) = json.loads(out)
    assert (run["project"], run["branch"]) == ("default", "default") and run["build"].startswith("cli-")
