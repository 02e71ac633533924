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
    changed_lines,
    decode_diff,
    format_report,
    git_diffs,
    match_files,
    parse_diff,
    patch_coverage,
)
from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import Records, merge_coverage, merged_totals
from crossbridge_assets.model import FileCoverage
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


# ---------------------------------------------------------------------------- which report file


def test_a_new_top_level_file_is_not_a_deeper_file_of_the_same_name(tmp_path, capsys, monkeypatch):
    """A changed top-level calc.py is not the report's src/pkg/calc.py (diff-cover agrees: it
    has no coverage for it); the deeper file still finds its own lines."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        {"calc.py": "def add(a, b):\n    total = a + b\n    return total\n",
         "src/pkg/calc.py": CALC.replace("    return -1\n", "    return -2\n")},
    )
    run_coverage(repo)
    for report in ("coverage.xml", "coverage.lcov"):
        theirs = diff_cover(repo, report)
        mine = ours(repo, capsys, monkeypatch, "--diff", "main", "--coverage", report)
        assert_same_as_diff_cover(mine, theirs)
        assert mine["files"]["calc.py"]["in_report"] is False and mine["files"]["calc.py"]["measured"] == []
        assert mine["files"]["src/pkg/calc.py"]["uncovered"] == [8]
    # Read where its <source> is no folder, coverage.xml names the file from it ('pkg/calc.py'):
    # still src/pkg/calc.py's lines, still not calc.py's, with or without the working tree.
    xml = (repo / "coverage.xml").read_text()
    (tmp_path / "gone.xml").write_text(xml.replace(f"<source>{repo}/src</source>", "<source>/gone/checkout/src</source>"))
    report = {fc.path: fc for fc in open_report(tmp_path / "gone.xml")}
    assert "pkg/calc.py" in report
    changed = changed_lines(git_diffs(repo, "main"))
    for root in (None, repo):
        result = patch_coverage(changed, report, root=root).as_dict()["files"]
        assert result["calc.py"]["in_report"] is False
        assert result["src/pkg/calc.py"]["uncovered"] == [8]
    # An absolute path from a checkout no rule knows: the files on disk say which file it is.
    lcov = (repo / "coverage.lcov").read_text().replace("SF:src/", "SF:/ci/agent-7/checkout/src/")
    (repo / "elsewhere.lcov").write_text(lcov)
    mine = ours(repo, capsys, monkeypatch, "--diff", "main", "--coverage", "elsewhere.lcov")
    assert mine["files"]["calc.py"]["in_report"] is False
    assert mine["files"]["src/pkg/calc.py"]["uncovered"] == [8]


def files(*names: str) -> dict[str, FileCoverage]:
    return {n: FileCoverage(path=n, lines={1: 1}) for n in names}


def test_match_files_rules(tmp_path):
    def match(path, names, root=None):
        return match_files([path], names, root)[path]

    # A report relative to a source folder inside the repository.
    assert match("src/pkg/calc.py", ["pkg/calc.py"]).name == "pkg/calc.py"
    assert match("src/main/java/com/ex/A.java", ["com/ex/A.java"]).name == "com/ex/A.java"
    # An absolute path of another checkout.
    assert match("src/pkg/calc.py", ["/ci/x/src/pkg/calc.py"]).name == "/ci/x/src/pkg/calc.py"
    assert match("src/pkg/calc.py", ["C:/ci/x/src/pkg/calc.py"]).name == "C:/ci/x/src/pkg/calc.py"
    # A relative path longer than the changed one is another file; so is a partial name.
    assert match("calc.py", ["src/pkg/calc.py"]) == (None, ())
    assert match("src/pkg/calc.py", ["kg/calc.py"]) == (None, ())
    # The same name wins over any other candidate.
    assert match("src/pkg/calc.py", ["src/pkg/calc.py", "pkg/calc.py"]).name == "src/pkg/calc.py"
    # Several candidates: none is picked, all are told.
    found = match("calc/ops.py", ["ops.py", "/srv/ci/calc/ops.py"])
    assert found.name is None and found.ambiguous == ("/srv/ci/calc/ops.py", "ops.py")
    assert match("src/pkg/calc.py", ["calc.py", "pkg/calc.py"]).ambiguous == ("calc.py", "pkg/calc.py")
    # One report file that two changed files would each be.
    both = match_files(["src/main/java/com/ex/A.java", "src/test/java/com/ex/A.java"], ["com/ex/A.java"])
    assert {m.name for m in both.values()} == {None} and all(m.ambiguous == ("com/ex/A.java",) for m in both.values())
    # A report name that is another changed file is that file only.
    both = match_files(["calc.py", "src/pkg/calc.py"], ["calc.py"])
    assert both["calc.py"].name == "calc.py" and both["src/pkg/calc.py"] == (None, ())

    # With the working tree: absolute names placed by the files on disk, relative names that
    # are files of the repository pinned to them.
    write(tmp_path, {"calc.py": "", "src/pkg/calc.py": "", "src/pkg/ops.py": ""})
    assert match("calc.py", ["/ci/x/src/pkg/calc.py"], tmp_path) == (None, ())
    assert match("src/pkg/calc.py", ["/ci/x/src/pkg/calc.py"], tmp_path).name == "/ci/x/src/pkg/calc.py"
    assert match("src/pkg/calc.py", [f"{tmp_path}/src/pkg/calc.py"], tmp_path).name == f"{tmp_path}/src/pkg/calc.py"
    assert match("src/pkg/calc.py", ["calc.py"], tmp_path) == (None, ())  # the top-level file
    assert match("src/pkg/ops.py", ["ops.py"], tmp_path).name == "ops.py"  # no top-level ops.py
    # Without it the same absolute name could be either: it is the one candidate of each.
    assert match("calc.py", ["/ci/x/src/pkg/calc.py"]).name == "/ci/x/src/pkg/calc.py"


def test_an_ambiguous_file_is_said_in_both_outputs():
    report = patch_coverage({"calc/ops.py": [1]}, files("ops.py", "/srv/ci/calc/ops.py"), "main...HEAD")
    entry = report.as_dict()["files"]["calc/ops.py"]
    assert entry["in_report"] is False and entry["ambiguous"] == ["/srv/ci/calc/ops.py", "ops.py"]
    text = format_report(report, "x.xml")
    assert "calc/ops.py: not counted, several report files could be it (/srv/ci/calc/ops.py, ops.py)" in text
    # One report file two changed files end like (a report written from a monorepo's subfolder):
    # no source root helps, the message does not suggest one.
    report = patch_coverage({"services/api/app/calc.py": [1], "services/web/app/calc.py": [1]},
                            files("app/calc.py"), "main...HEAD")
    assert report.as_dict()["files"]["services/api/app/calc.py"]["ambiguous"] == ["app/calc.py"]
    text = format_report(report, "lcov.info")
    assert ("services/api/app/calc.py: not counted, the report's app/calc.py could be it or another changed "
            "file with the same ending") in text and "--source-root" not in text


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


# ---------------------------------------------------------------------------- merging spellings of a file

# The shapes JaCoCo 0.8 (package-relative <sourcefile>) and a Cobertura converter (an absolute
# <source> in a GitHub checkout) write for the same class, each covering one of its two lines.
JACOCO = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd"><report name="app"><sessioninfo id="a" start="1" dump="2"/><package name="com/ex"><class name="com/ex/A" sourcefilename="A.java"/><sourcefile name="A.java"><line nr="3" mi="0" ci="3" mb="0" cb="0"/><line nr="4" mi="2" ci="0" mb="0" cb="0"/></sourcefile></package><counter type="LINE" missed="1" covered="1"/></report>"""
COBERTURA = """<?xml version="1.0"?>
<coverage line-rate="0.5" lines-valid="2" lines-covered="1"><sources><source>/home/runner/work/app/app/{module}src/main/java</source></sources><packages><package name="com.ex"><classes><class name="com.ex.A" filename="com/ex/A.java"><lines><line number="3" hits="0"/><line number="4" hits="1"/></lines></class></classes></package></packages></coverage>"""


def test_jacoco_package_paths_merge_with_the_file_from_the_repository(tmp_path, capsys, monkeypatch):
    from crossbridge_assets.warehouse.coverage import merge_run

    (tmp_path / "jacoco.xml").write_text(JACOCO)
    (tmp_path / "cobertura.xml").write_text(COBERTURA.format(module=""))
    reports = [open_report(tmp_path / "jacoco.xml"), open_report(tmp_path / "cobertura.xml")]
    merged = merge_coverage(reports)
    assert list(merged) == ["src/main/java/com/ex/A.java"] and merged["src/main/java/com/ex/A.java"].lines == {3: 1, 4: 1}
    totals = merged_totals(merged)
    assert (totals.files, totals.lines_valid, totals.lines_covered) == (1, 2, 2)
    # The run union the warehouse computes from stored records goes through the same merge.
    run = merge_run([(Records(open_report(tmp_path / name), fmt), {})
                     for name, fmt in (("jacoco.xml", "jacoco"), ("cobertura.xml", "cobertura"))])
    assert (run.totals.files, run.totals.lines_valid, run.totals.lines_covered) == (1, 2, 2)
    # Only JaCoCo spells a file from its package: another format's com/ex/A.java is a file of
    # its own, at the top of the repository, beside src/main/java/com/ex/A.java.
    lcov = tmp_path / "two.info"
    lcov.write_text("SF:com/ex/A.java\nDA:3,1\nend_of_record\nSF:src/main/java/com/ex/A.java\nDA:3,0\nend_of_record\n")
    assert sorted(merge_coverage([open_report(lcov)])) == ["com/ex/A.java", "src/main/java/com/ex/A.java"]
    both = merge_coverage([open_report(tmp_path / "jacoco.xml"), open_report(lcov)])
    assert sorted(both) == ["com/ex/A.java", "src/main/java/com/ex/A.java"]
    assert both["src/main/java/com/ex/A.java"].lines == {3: 0}
    run = merge_run([(Records(open_report(lcov), "lcov"), {})])
    assert run.totals.files == 2
    # Patch coverage over both reports.
    (tmp_path / "change.diff").write_text(
        "diff --git a/src/main/java/com/ex/A.java b/src/main/java/com/ex/A.java\n@@ -2,0 +3,2 @@\n+a\n+b\n")
    mine = ours(tmp_path, capsys, monkeypatch, "--diff-file", "change.diff", "--coverage", "jacoco.xml",
                "--coverage", "cobertura.xml")
    assert mine["files"]["src/main/java/com/ex/A.java"]["covered"] == [3, 4] and mine["percent"] == 100.0

    # The same package path in two modules: nothing tells which, the three stay apart.
    for module in ("core", "web"):
        (tmp_path / f"{module}.xml").write_text(COBERTURA.format(module=f"{module}/"))
    names = ("jacoco.xml", "core.xml", "web.xml")
    assert sorted(merge_coverage(open_report(tmp_path / n) for n in names)) == [
        "com/ex/A.java", "core/src/main/java/com/ex/A.java", "web/src/main/java/com/ex/A.java"]
    # A configured source root makes the spellings equal.
    again = [open_report(tmp_path / n) for n in ("jacoco.xml", "cobertura.xml")]
    assert list(merge_coverage(again, source_roots=["/home/runner/work/app/app/src/main/java"])) == ["com/ex/A.java"]


def test_coveragepy_xml_with_several_sources(tmp_path, monkeypatch):
    """coverage.py names each file from the <source> it is under, which the report does not
    say: the files on disk do, in the workspace (cwd) the report is read in."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "lib/util/__init__.py": "",
         "lib/util/helpers.py": "def h():\n    return 1\n", "tests/test_calc.py": TEST_CALC},
        {},
    )
    run_coverage(repo, "src,lib")
    xml = (repo / "coverage.xml").read_text()
    assert xml.count("<source>") == 2 and 'filename="pkg/calc.py"' in xml
    ci = tmp_path / "ci.xml"  # the same report written in a GitHub Actions checkout
    ci.write_text(xml.replace(f"<source>{repo}/", "<source>/home/runner/work/app/app/"))
    expected = ["lib/util/__init__.py", "lib/util/helpers.py", "src/pkg/__init__.py", "src/pkg/calc.py"]
    monkeypatch.chdir(repo)
    for report in (repo / "coverage.xml", ci):
        merged = merge_coverage([open_report(report), open_report(repo / "coverage.lcov")])
        assert sorted(merged) == expected, report
        assert merged["src/pkg/calc.py"].lines == {1: 2, 2: 2, 5: 2, 6: 2, 7: 2, 8: 0}
    # Elsewhere nothing tells src from lib for the CI report: its names stay as written
    # (patch coverage's suffix rule still finds them), never guessed.
    monkeypatch.chdir(tmp_path)
    assert sorted(fc.path for fc in open_report(ci)) == ["pkg/__init__.py", "pkg/calc.py", "util/__init__.py", "util/helpers.py"]


def test_a_file_on_disk_under_two_sources_keeps_its_name_as_written(tmp_path, monkeypatch):
    """src/app/calc.py and lib/app/calc.py both exist; coverage.py's single 'app/calc.py'
    measured one of them, and the report does not say which: neither gets the other's lines."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # a checkout: names come from its top
    for source in ("src", "lib"):
        (tmp_path / source / "app").mkdir(parents=True)
        (tmp_path / source / "app" / "calc.py").write_text("x = 1\n")
    (tmp_path / "coverage.xml").write_text(
        f'<?xml version="1.0" ?><coverage version="7.6"><sources><source>{tmp_path}/src</source>'
        f'<source>{tmp_path}/lib</source></sources><packages><package name="app"><classes>'
        '<class name="calc.py" filename="app/calc.py"><lines><line number="1" hits="1"/></lines></class>'
        '</classes></package></packages></coverage>')
    monkeypatch.chdir(tmp_path)
    assert [fc.path for fc in open_report(tmp_path / "coverage.xml")] == ["app/calc.py"]
    (tmp_path / "lib" / "app" / "calc.py").unlink()  # now the disk tells
    assert [fc.path for fc in open_report(tmp_path / "coverage.xml")] == ["src/app/calc.py"]


# ---------------------------------------------------------------------------- LCOV records per test

# Written by lcov 1.16: `lcov --rc lcov_branch_coverage=1 -a t1.info -a t2.info -o both.info`
# with TN:t1 and TN:t2 tracefiles of one file (lcov keeps one record per test name). Test t1
# takes branch (1,0,0), t2 takes (1,0,1) and (3,1,0), a branch only its record lists.
# `lcov --summary both.info` says lines 3 of 3, branches 3 of 5.
LCOV_PER_TEST = """\
TN:t1
SF:src/y.c
FNF:0
FNH:0
BRDA:1,0,0,1
BRDA:1,0,1,0
BRDA:3,0,0,-
BRDA:3,0,1,-
BRF:4
BRH:1
DA:1,1
DA:2,0
DA:3,1
LF:3
LH:2
end_of_record
TN:t2
SF:src/y.c
FNF:0
FNH:0
BRDA:1,0,0,0
BRDA:1,0,1,2
BRDA:3,0,0,-
BRDA:3,0,1,-
BRDA:3,1,0,1
BRF:5
BRH:2
DA:1,1
DA:2,3
DA:3,0
LF:3
LH:2
end_of_record
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lcov_records_of_one_file_add_up_by_branch_id(tmp_path, newline):
    path = tmp_path / "both.info"
    path.write_bytes(LCOV_PER_TEST.replace("\n", newline).encode())
    stream = open_report(path)
    (fc,) = stream
    # Each record states the file's LF and BRF again, and the hits of its own test only: the
    # file's lines are not counted twice, and what no record states is not checked.
    assert stream.info.declared == {"lines_valid": 3, "branches_valid": 5} and stream.info.warnings == []
    assert fc.lines == {1: 2, 2: 3, 3: 1}
    assert fc.branches == {1: (2, 2), 3: (1, 3)}
    totals = merged_totals([fc])
    assert (totals.lines_valid, totals.lines_covered, totals.branches_valid, totals.branches_covered) == (3, 3, 5, 3)
    # One record alone is read as before.
    path.write_text(LCOV_PER_TEST.split("TN:t2")[0])
    (fc,) = open_report(path)
    assert fc.branches == {1: (1, 2), 3: (0, 2)}


# ---------------------------------------------------------------------------- one huge element


def test_one_huge_class_or_sourcefile_is_read_in_bounded_memory(tmp_path, monkeypatch):
    """A report whose lines are all in one <class> (Cobertura) or <sourcefile> (JaCoCo): the
    parser never holds more than about a chunk of them (each chunk's finished lines are read
    and freed), and every line is read."""
    from crossbridge_assets.formats import cobertura, jacoco

    n = 60_000
    cob = tmp_path / "big.xml"
    with open(cob, "w") as out:
        out.write('<?xml version="1.0"?>\n<coverage line-rate="0.5"><sources><source>/home/runner/work/a/a</source></sources>'
                  '<packages><package name="p"><classes><class name="Big" filename="src/Big.java"><methods/><lines>\n')
        out.writelines(f'<line number="{i}" hits="{i % 2}" branch="true" condition-coverage="50% (1/2)"/>\n'
                       if i % 7 == 0 else f'<line number="{i}" hits="{i % 2}"/>\n' for i in range(1, n + 1))
        out.write("</lines></class></classes></package></packages></coverage>\n")
    jac = tmp_path / "big-jacoco.xml"
    with open(jac, "w") as out:
        out.write('<?xml version="1.0"?><report name="big"><sessioninfo id="s" start="1" dump="2"/>'
                  '<package name="com/ex"><class name="com/ex/Big" sourcefilename="Big.java"/><sourcefile name="Big.java">\n')
        out.writelines(f'<line nr="{i}" mi="{i % 2}" ci="{1 - i % 2}" mb="0" cb="0"/>\n' for i in range(1, n + 1))
        out.write("</sourcefile></package></report>\n")
    # The same with nothing ending before the huge element (no <sessioninfo>, no <class>).
    bare = tmp_path / "big-jacoco-bare.xml"
    text = jac.read_text()
    bare.write_text(text.replace('<sessioninfo id="s" start="1" dump="2"/>', "")
                    .replace('<class name="com/ex/Big" sourcefilename="Big.java"/>', "")
                    .replace("?>", '?><!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">', 1))

    held = []
    real_take = cobertura._take_finished
    real_open = jacoco._open_sourcefile

    def take(elem, fc):
        held.append(sum(1 for _ in elem.iter("line")))
        real_take(elem, fc)

    def open_sourcefile(top):
        found = real_open(top)
        if found is not None:
            held.append(len(found))
        return found

    monkeypatch.setattr(cobertura, "_take_finished", take)
    monkeypatch.setattr(jacoco, "_open_sourcefile", open_sourcefile)
    for path, covered in ((cob, n // 2), (jac, n // 2), (bare, n // 2)):
        held.clear()
        (fc,) = open_report(path)
        assert len(fc.lines) == n and sum(1 for h in fc.lines.values() if h) == covered
        # A 32 KiB chunk holds under 1,000 of these lines: never more than two chunks' worth.
        assert len(held) > 20 and 0 < max(held) < 2_000, path
    (fc,) = open_report(cob)
    assert len(fc.branches) == n // 7 and fc.branches[7] == (1, 2)
