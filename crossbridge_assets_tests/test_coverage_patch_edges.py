"""Patch coverage and coverage merging at their edges: which report file a changed file is,
diffs that are not plain UTF-8, the no-newline marker, JaCoCo's package paths and coverage.py's
several <source>s, LCOV records of one file per test, and one huge XML element read in bounded
memory. Real git repositories and real coverage.py runs, compared with diff-cover where it agrees."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crossbridge_assets import cli
from crossbridge_assets.analysis.patch_coverage import (
    decode_diff,
    parse_diff,
)
from crossbridge_assets_tests.test_coverage_patch import diff_cover, git

CALC = """\
def add(a, b):
    return a + b


def sign(x):
    if x > 0:
        return 1
    return -1
"""

TEST_CALC = """\
from pkg.calc import add, sign


def test_add():
    assert add(1, 2) == 3
    assert sign(1) == 1
"""


def write(repo: Path, files: dict) -> None:
    for name, content in files.items():
        path = repo / (name if isinstance(name, str) else os.fsdecode(name))  # bytes: a name that is not UTF-8
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def make_repo(tmp_path: Path, base: dict, feature: dict) -> Path:
    """main holds `base`; the checked-out branch `feature` adds `feature` on top, committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    write(repo, {".gitignore": ".coverage\n.coveragerc\ncoverage.*\ndiff-cover-*\n", **base})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, feature)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "feature")
    return repo


def run_coverage(repo: Path, sources: str = "src") -> None:
    """coverage.py over the tests, then its XML (an absolute <source> per configured source,
    file names relative to theirs) and LCOV (names from the current folder) reports."""
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(repo.parent),
           "PYTHONPATH": sources.replace(",", ":")}
    (repo / ".coveragerc").write_text(f"[run]\nsource = {sources}\n")
    run = [sys.executable, "-m", "coverage"]
    subprocess.run([*run, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                   cwd=repo, check=True, capture_output=True, env=env)
    subprocess.run([*run, "xml", "-o", "coverage.xml"], cwd=repo, check=True, capture_output=True, env=env)
    subprocess.run([*run, "lcov", "-o", "coverage.lcov"], cwd=repo, check=True, capture_output=True, env=env)


def ours(repo: Path, capsys, monkeypatch, *argv: str) -> dict:
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert cli.main(["patch-coverage", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def assert_same_as_diff_cover(mine: dict, theirs: dict) -> None:
    assert mine["measured_lines"] == theirs["total_num_lines"]
    assert mine["uncovered_lines"] == theirs["total_num_violations"]
    for path, stats in theirs["src_stats"].items():
        assert mine["files"][path]["uncovered"] == stats["violation_lines"], path
        assert mine["files"][path]["covered"] == stats["covered_lines"], path


# ---------------------------------------------------------------------------- bytes of a diff

LATIN = b'# -*- coding: latin-1 -*-\ndef f():\n    return "caf\xe9"\n\n\ndef unused():\n    return "\xe9t\xe9"\n'
ACCENTED = "def g():\n    return 2\n\n\ndef h():\n    return 3\n"
TEST_ACCENTED = """\
from pkg.café import g
from pkg.lat import f


def test_both():
    assert g() == 2 and f() == "caf\\u00e9"
"""


@pytest.mark.parametrize("quote_path", ["true", "false"])
def test_diffs_that_are_not_utf8(tmp_path, capsys, monkeypatch, quote_path):
    """Latin-1 source lines, a UTF-8 file name (git quotes it as "caf\\303\\251.py" unless
    core.quotePath is off) and a file name that is not UTF-8: read as git wrote them, from git
    and from a diff file, with diff-cover's figures."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        {"src/pkg/lat.py": LATIN, "src/pkg/café.py": ACCENTED, "tests/test_accented.py": TEST_ACCENTED,
         b"notes-caf\xe9.txt": b"caf\xe9\n"},
    )
    git(repo, "config", "core.quotePath", quote_path)
    run_coverage(repo)
    raw = subprocess.run(["git", "diff", "-U0", "main...HEAD"], cwd=repo, check=True, capture_output=True).stdout
    assert (b'"b/src/pkg/caf\\303\\251.py"' in raw) == (quote_path == "true") and b"caf\xe9" in raw
    theirs = diff_cover(repo, "coverage.xml")
    mine = ours(repo, capsys, monkeypatch, "--diff", "main", "--coverage", "coverage.xml")
    assert_same_as_diff_cover(mine, theirs)
    assert mine["files"]["src/pkg/café.py"]["uncovered"] == [6]
    assert mine["files"]["src/pkg/lat.py"]["covered"] == [2, 3, 6] and mine["files"]["src/pkg/lat.py"]["uncovered"] == [7]
    assert mine["files"]["notes-caf\\xe9.txt"]["changed"] == [1]

    (tmp_path / "change.diff").write_bytes(raw)
    from_file = ours(repo, capsys, monkeypatch, "--diff-file", str(tmp_path / "change.diff"), "--coverage", "coverage.xml")
    assert from_file["files"] == mine["files"]
    assert cli.main(["patch-coverage", "--diff-file", str(tmp_path / "change.diff"), "--coverage", "coverage.xml"]) == 0
    text = capsys.readouterr().out
    assert "src/pkg/café.py  75.00%" in text and "notes-caf\\xe9.txt" in text


def test_decode_diff_byte_order_marks():
    diff = 'diff --git a/x.py b/x.py\n@@ -0,0 +1 @@\n+print("é")\n'
    for data in (diff.encode("utf-16"), diff.encode("utf-8-sig"), diff.encode("latin-1")):
        assert parse_diff(decode_diff(data)) == {"x.py": ([1], [])}


# ---------------------------------------------------------------------------- no newline at end of file


def test_no_newline_marker_moves_no_line(tmp_path, capsys, monkeypatch):
    """A last line without a newline, changed and followed by new lines: the marker git writes
    after it is not a line. (diff-cover 11 counts it as one, so its figures for this diff are
    off by one after the marker: they are not compared here.)"""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/nonl.py": "def t1():\n    return 1",
         "tests/test_nonl.py": "from pkg.nonl import t1\n\n\ndef test_t1():\n    assert t1()\n"},
        {"src/pkg/nonl.py": "def t1():\n    return 10\n\n\ndef t2():\n    return 2"},
    )
    run_coverage(repo)
    diff = git(repo, "diff", "-U0", "main...HEAD")
    assert diff.count("\\ No newline at end of file") == 2
    assert parse_diff(diff)["src/pkg/nonl.py"] == ([2, 3, 4, 5, 6], [2])
    mine = ours(repo, capsys, monkeypatch, "--diff", "main", "--coverage", "coverage.xml")
    assert mine["files"]["src/pkg/nonl.py"]["covered"] == [2, 5]  # return 10, def t2
    assert mine["files"]["src/pkg/nonl.py"]["uncovered"] == [6]  # return 2
