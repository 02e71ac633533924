"""Branch measurement in a coverage.py data file, against coverage.py's own reports of the same
run: the data file gives the arcs that ran and says so; branch counts come from the reports."""

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from crossbridge_assets.formats import read_report

PROGRAM = '''\
def parse(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    return value


def sign(n):
    if n > 0:
        return 1
    return -1


for t in ["1", "x"]:
    parse(t)
sign(3)
'''


def coverage(folder: Path, *args: str) -> None:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(folder)}
    subprocess.run([sys.executable, "-m", "coverage", *args], cwd=folder, check=True, capture_output=True, env=env)


@pytest.fixture
def branch_run(tmp_path):
    """`coverage run --branch` on the program, with coverage.py's JSON and XML reports of it."""
    (tmp_path / "prog.py").write_text(PROGRAM)
    coverage(tmp_path, "run", "--branch", "prog.py")
    coverage(tmp_path, "json", "-o", "coverage.json")
    coverage(tmp_path, "xml", "-o", "coverage.xml")
    return tmp_path


def test_branch_data_file_reports_its_arcs_and_no_branch_counts(branch_run):
    spec, stream, (prog,) = read_report(branch_run / ".coverage")
    assert spec.name == "coveragepy-data"
    with sqlite3.connect(branch_run / ".coverage") as db:
        (measured,) = db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT file_id, fromno, tono FROM arc)").fetchone()
    assert stream.info.properties["measurement"] == "arcs"
    assert stream.info.properties["arcs"] == str(measured) and measured > 0
    assert prog.branches == {} and stream.totals.branches_valid == 0

    # coverage.py's JSON of the same run does have branches: 10 half taken, 15 both ways.
    summary = json.loads((branch_run / "coverage.json").read_text())["files"]["prog.py"]["summary"]
    assert (summary["num_branches"], summary["covered_branches"]) == (4, 3)
    # Its reports are where branch coverage comes from, and they read the same through ours.
    for report in ("coverage.json", "coverage.xml"):
        stream, (fc,) = read_report(branch_run / report)[1:]
        assert fc.branches == {10: (1, 2), 15: (2, 2)}, report
        assert (stream.totals.branches_valid, stream.totals.branches_covered) == (4, 3), report

    # Why the data alone gives no counts: the lines with several executed exits are not the
    # branch lines. Line 3 left both ways (the exception's jump is an arc), line 10 only one.
    from coverage import CoverageData

    data = CoverageData(basename=str(branch_run / ".coverage"))
    data.read()
    (path,) = data.measured_files()
    exits = Counter(a for a, b in data.arcs(path) if a > 0)
    data.close()
    assert {n for n, count in exits.items() if count > 1} == {3, 15}


def test_line_data_file_has_no_arcs(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    coverage(tmp_path, "run", "prog.py")
    stream = read_report(tmp_path / ".coverage")[1]
    assert stream.info.properties["measurement"] == "lines"
    assert "arcs" not in stream.info.properties
