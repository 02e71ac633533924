"""Patch coverage against diff-cover in more situations: uncommitted edits and renames that move
a committed change's lines, folder names holding ' b/', a monorepo project's own report, personal
diff.renames, a threshold of 100 and JaCoCo. Real git repositories and real coverage runs; where
diff-cover is wrong, the oracle is diff-cover on the same working tree with the change committed,
or the figures the report itself gives."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crossbridge_assets.analysis.patch_coverage import changed_lines
from crossbridge_assets_tests.test_coverage_patch import git
from crossbridge_assets_tests.test_coverage_patch_edges import CALC, assert_same_as_diff_cover, make_repo, run_coverage
from crossbridge_assets_tests.test_coverage_patch_more import diff_cover, run

MUL = "\n\ndef mul(a, b):\n    c = a * b\n    return c\n"
TEST_SIGN = "from pkg.calc import sign\n\n\ndef test_sign():\n    assert sign(1) == 1\n"


def patch(capsys, monkeypatch, repo, *argv: str) -> dict:
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------------------- uncommitted edits


@pytest.mark.parametrize("stage", ["unstaged", "staged", "both"])
def test_uncommitted_edits_move_the_committed_change(tmp_path, capsys, monkeypatch, stage):
    """The branch adds mul() at the end; an edit not yet committed removes add() above it, so
    mul() now starts 4 lines higher. Its lines are counted where they are in the file coverage
    ran on, as diff-cover counts them once that edit is committed. (diff-cover keeps the
    committed lines' old numbers, diff-cover issue #135: it reports line 9, `return c`, alone.)"""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_SIGN},
        {"src/pkg/calc.py": CALC + MUL},
    )
    calc = repo / "src" / "pkg" / "calc.py"
    top, rest = "def add(a, b):\n    return a + b\n\n\n", CALC.removeprefix("def add(a, b):\n    return a + b\n\n\n")
    if stage == "both":  # one line staged away, the other three left unstaged
        calc.write_text(CALC.replace("    return a + b\n", "") + MUL)
        git(repo, "add", "src/pkg/calc.py")
    calc.write_text(rest + MUL)
    if stage == "staged":
        git(repo, "add", "src/pkg/calc.py")
    run_coverage(repo)
    mine = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "coverage.xml")
    files = mine["files"]["src/pkg/calc.py"]
    assert calc.read_text().splitlines()[6:9] == ["def mul(a, b):", "    c = a * b", "    return c"]
    assert (files["changed"], files["covered"], files["uncovered"]) == ([5, 6, 7, 8, 9], [7], [8, 9])
    git(repo, "commit", "-q", "-am", "edit")
    assert_same_as_diff_cover(mine, diff_cover(repo, "coverage.xml"))
    assert top not in calc.read_text()


def test_later_diffs_renumber_the_lines_they_keep():
    committed = "diff --git a/x.py b/x.py\n@@ -20,0 +21,3 @@\n+a\n+b\n+c\n"
    # Lines 2-3 deleted and one line added at the top: 21-23 move to 20-22, then the second
    # diff's line 21 (committed 22) is replaced.
    unstaged = "diff --git a/x.py b/x.py\n@@ -0,0 +1 @@\n+top\n@@ -2,2 +2,0 @@\n-p\n-q\n@@ -22 +21 @@\n-b\n+B\n"
    assert changed_lines([committed, unstaged]) == {"x.py": [1, 20, 21, 22]}
    # A file the later diff deletes keeps nothing.
    gone = "diff --git a/x.py b/x.py\ndeleted file mode 100644\n@@ -1,23 +0,0 @@\n" + "-x\n" * 23
    assert changed_lines([committed, gone]) == {"x.py": []}


@pytest.mark.parametrize("edit", [False, True])
def test_a_rename_not_yet_committed_takes_the_change_along(tmp_path, capsys, monkeypatch, edit):
    """The branch adds mul() to calc.py; `git mv calc.py ops.py` is staged, not committed (and
    ops.py edited further, unstaged). The change is ops.py's now, where coverage ran it, as
    diff-cover counts it once committed. (diff-cover leaves it under calc.py, which the report
    no longer has: the change vanishes.)"""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_SIGN},
        {"src/pkg/calc.py": CALC + MUL},
    )
    git(repo, "mv", "src/pkg/calc.py", "src/pkg/ops.py")
    (repo / "tests" / "test_calc.py").write_text(TEST_SIGN.replace("pkg.calc", "pkg.ops"))
    if edit:
        ops = repo / "src" / "pkg" / "ops.py"
        ops.write_text("X = 1\n" + ops.read_text().replace("    c = a * b\n", "    c = b * a\n"))
    run_coverage(repo)
    mine = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "coverage.xml")
    assert "src/pkg/calc.py" not in mine["files"]
    ops = mine["files"]["src/pkg/ops.py"]
    assert (ops["covered"], ops["uncovered"]) == (([1, 12], [13, 14]) if edit else ([11], [12, 13]))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "rename")
    assert_same_as_diff_cover(mine, diff_cover(repo, "coverage.xml"))


# ---------------------------------------------------------------------------- file names


def test_a_folder_whose_name_ends_in_b(tmp_path, capsys, monkeypatch):
    """git names 'plan b/calc.py' as 'diff --git a/plan b/calc.py b/plan b/calc.py': the file
    keeps its full name. (diff-cover 11 takes the last ' b/' and reads 'calc.py', which no
    report has: it counts nothing of the change.)"""
    repo = make_repo(
        tmp_path,
        {"src/plan b/__init__.py": "", "src/plan b/calc.py": CALC,
         "tests/test_calc.py": "import importlib\n\n\ndef test_plan():\n    m = importlib.import_module('plan b.calc')\n"
                               "    assert m.sign(1) == 1\n"},
        {"src/plan b/calc.py": CALC.replace("return -1", "return -2") + MUL},
    )
    (repo / "tests" / "test_calc.py").write_text((repo / "tests" / "test_calc.py").read_text() + "    assert m.mul(2, 3) == 6\n")
    run_coverage(repo)
    assert "diff --git a/src/plan b/calc.py b/src/plan b/calc.py" in git(repo, "diff", "main")
    for report in ("coverage.xml", "coverage.lcov"):
        mine = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", report)
        assert list(mine["files"]) == ["src/plan b/calc.py", "tests/test_calc.py"]
        calc = mine["files"]["src/plan b/calc.py"]
        assert (calc["changed"], calc["covered"], calc["uncovered"]) == ([8, 9, 10, 11, 12, 13], [11, 12, 13], [8])


# ---------------------------------------------------------------------------- monorepos


def test_a_report_from_a_project_folder_names_that_project_s_files(tmp_path, capsys, monkeypatch):
    """Two projects of the same layout: py/src/pkg/calc.py and a top-level src/pkg/calc.py, both
    changed. coverage.py runs in py/ with relative_files, so its XML (<source>src</source>) and
    LCOV name py's file 'src/pkg/calc.py'. Run in py/, as diff-cover reads the XML there, that
    is py's file, not the top-level one no test ran. (diff-cover 11 reads the same LCOV from
    the repository's top instead, unlike its XML: it gives py's hits to the top-level file.)"""
    repo = make_repo(
        tmp_path,
        {"py/src/pkg/__init__.py": "", "py/src/pkg/calc.py": CALC, "py/tests/test_calc.py": TEST_SIGN,
         "src/pkg/__init__.py": "", "src/pkg/calc.py": CALC},
        {"py/src/pkg/calc.py": CALC.replace("return -1", "return -2") + MUL,
         "py/tests/test_calc.py": TEST_SIGN + "    from pkg.calc import mul\n    assert mul(2, 3) == 6\n",
         "src/pkg/calc.py": CALC.replace("return 1\n", "return 11\n")},
    )
    py = repo / "py"
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": "src"}
    (py / ".coveragerc").write_text("[run]\nsource = src\nrelative_files = true\n")
    for command in (["run", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], ["xml", "-o", "coverage.xml"],
                    ["lcov", "-o", "coverage.lcov"]):
        subprocess.run([sys.executable, "-m", "coverage", *command], cwd=py, check=True, capture_output=True, env=env)
    assert "SF:src/pkg/calc.py" in (py / "coverage.lcov").read_text()
    for report in ("coverage.xml", "coverage.lcov"):
        mine = patch(capsys, monkeypatch, py, "--diff", "main", "--coverage", report)
        ours_py, top = mine["files"]["py/src/pkg/calc.py"], mine["files"]["src/pkg/calc.py"]
        assert (ours_py["covered"], ours_py["uncovered"]) == ([11, 12, 13], [8]), report
        assert top["in_report"] is False and top["measured"] == [], report
        assert (mine["measured_lines"], mine["percent"]) == (4, 75.0)
    assert_same_as_diff_cover(mine, diff_cover(py, "coverage.xml"))
    # From the top, the same names are the top-level project's: both tools read them so.
    mine = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "py/coverage.xml")
    assert mine["files"]["src/pkg/calc.py"]["covered"] == [7] and mine["files"]["py/src/pkg/calc.py"]["measured"] == []
    assert_same_as_diff_cover(mine, diff_cover(repo, "py/coverage.xml"))


# ---------------------------------------------------------------------------- personal git config


def test_diff_renames_in_personal_config_does_not_change_the_change(tmp_path, capsys, monkeypatch):
    """A branch that edits calc.py, adds calc2.py (calc.py's old text with one line changed)
    and renames old.py. With git's default rename detection calc2.py is new code and new.py is
    not; diff.renames=copies would make calc2.py one changed line, diff.renames=false all of
    new.py new: the change is read with git's default whatever the developer set, as diff-cover
    reads it on a machine with the default."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "src/pkg/old.py": CALC.replace("add", "plus"),
         "tests/test_calc.py": TEST_SIGN},
        {"src/pkg/calc.py": CALC.replace("return -1", "return -2"),
         "src/pkg/calc2.py": CALC.replace("return 1\n", "return 111\n")},
    )
    (repo / "src" / "pkg" / "old.py").rename(repo / "src" / "pkg" / "new.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "rename")
    run_coverage(repo)
    plain = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "coverage.xml")
    assert_same_as_diff_cover(plain, diff_cover(repo, "coverage.xml"))
    assert plain["files"]["src/pkg/calc2.py"]["changed"] == list(range(1, 9))
    assert plain["files"]["src/pkg/new.py"]["changed"] == [] and plain["measured_lines"] == 7
    for value in ("copies", "false"):
        git(repo, "config", "diff.renames", value)
        assert patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "coverage.xml") == plain, value


# ---------------------------------------------------------------------------- the threshold


def test_one_line_missed_in_thirty_thousand_is_below_100(tmp_path, capsys, monkeypatch):
    """30,000 changed lines covered and one not: 99.997%, shown rounded as 100.00, yet below a
    --fail-under of 100, as diff-cover says by its exit status."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_SIGN},
        {"src/pkg/table.py": "".join(f"T{i} = {i}\n" for i in range(29_999)) + "\n\ndef unused():\n    return 0\n",
         "tests/test_table.py": "import pkg.table\n\n\ndef test_table():\n    assert pkg.table.T7 == 7\n"},
    )
    run_coverage(repo)
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml",
                         "--json", "--fail-under", "100")
    mine = json.loads(out)
    assert (mine["measured_lines"], mine["uncovered_lines"], mine["percent"]) == (30_001, 1, 100.0)
    assert code == 1, err
    code, _, _ = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml",
                     "--fail-under", "99.99")
    assert code == 0
    exe = shutil.which("diff-cover", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("diff-cover is not installed (pip install diff-cover)")
    theirs = subprocess.run([exe, "coverage.xml", "--compare-branch", "main", "--fail-under", "100"], cwd=repo,
                            capture_output=True, text=True)
    assert theirs.returncode == 1 and "Missing: 1 line" in theirs.stdout


# ---------------------------------------------------------------------------- JaCoCo

CALC_JAVA = """\
package com.ex;

public class Calc {
    public static int add(int a, int b) {
        return a + b;
    }

    public static int sign(int x) {
        if (x > 0) {
            return 1;
        }
        return -1;
    }
}
"""
MAIN_JAVA = """\
package com.ex;

public class Main {
    public static void main(String[] args) {
        if (Calc.sign(1) != 1) throw new AssertionError();
    }
}
"""
JACOCO_JARS = [Path("/usr/share/java") / f"{name}.jar" for name in (
    "org.jacoco.agent", "org.jacoco.ant", "org.jacoco.core", "org.jacoco.report", "asm", "asm-commons", "asm-tree",
    "asm-analysis")]
REPORT_XML = """\
<project name="r" xmlns:jacoco="antlib:org.jacoco.ant" default="report">
  <taskdef uri="antlib:org.jacoco.ant" resource="org/jacoco/ant/antlib.xml" classpath="{classpath}"/>
  <target name="report">
    <jacoco:report>
      <executiondata><file file="jacoco.exec"/></executiondata>
      <structure name="app">
        <classfiles><fileset dir="build" excludes="**/Main.class"/></classfiles>
        <sourcefiles encoding="UTF-8"><fileset dir="app/src/main/java"/></sourcefiles>
      </structure>
      <xml destfile="jacoco.xml"/>
    </jacoco:report>
  </target>
</project>
"""


def test_jacoco_of_a_module_against_diff_cover(tmp_path, capsys, monkeypatch):
    """Debian's JaCoCo (libjacoco-java) on a Maven-layout module: its XML names the file by
    package (com/ex/Calc.java), counts no line for a method's declaration nor a blank line,
    and a line with branches only partly taken is covered. The same figures as diff-cover told
    the module's source folder (--src-roots: it does not look for one itself)."""
    if not all(shutil.which(tool) for tool in ("javac", "java", "ant")) or not all(j.is_file() for j in JACOCO_JARS):
        pytest.skip("javac, ant and Debian's libjacoco-java are needed")
    java = "app/src/main/java/com/ex/Calc.java"
    changed = CALC_JAVA.replace("return -1;", "return -2;").replace("    }\n}\n", (
        "    }\n\n    public static int mul(int a, int b) {\n        int c = a * b;\n        return c;\n    }\n\n"
        "    public static boolean small(int x) { return x > 0 && x < 100; }\n}\n"))
    repo = make_repo(
        tmp_path,
        {java: CALC_JAVA, "app/src/test/java/com/ex/Main.java": MAIN_JAVA, ".gitignore": "build/\njacoco.*\nreport.xml\n"},
        {java: changed, "app/src/test/java/com/ex/Main.java": MAIN_JAVA.replace(
            "    }\n}", "        Calc.mul(2, 3);\n        Calc.small(5);\n    }\n}")},
    )
    agent = tmp_path / "jacocoagent.jar"
    with zipfile.ZipFile(JACOCO_JARS[0]) as jar:  # the agent ships inside org.jacoco.agent.jar
        agent.write_bytes(jar.read("jacocoagent.jar"))
    (repo / "report.xml").write_text(REPORT_XML.format(classpath=":".join(str(j) for j in JACOCO_JARS[1:])))
    for command in (
        ["javac", "--release", "11", "-g", "-d", "build", java, "app/src/test/java/com/ex/Main.java"],
        ["java", f"-javaagent:{agent}=destfile=jacoco.exec", "-cp", "build", "com.ex.Main"],
        ["ant", "-q", "-f", "report.xml"],
    ):
        subprocess.run(command, cwd=repo, check=True, capture_output=True)
    assert '<sourcefile name="Calc.java">' in (repo / "jacoco.xml").read_text()
    mine = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "jacoco.xml")
    calc = mine["files"][java]
    assert (calc["changed"], calc["covered"], calc["uncovered"]) == ([12, 14, 15, 16, 17, 18, 19, 20], [16, 17, 20], [12])
    assert_same_as_diff_cover(mine, diff_cover(repo, "jacoco.xml", "--src-roots", "app/src/main/java"))


def test_a_shallow_clone_says_what_to_fetch(tmp_path, capsys, monkeypatch):
    """A CI checkout of one commit has no merge base with the compare branch: git's one line,
    and what to do about it."""
    repo = make_repo(tmp_path, {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC}, {"src/pkg/calc.py": CALC + MUL})
    git(repo, "checkout", "-q", "main")
    (repo / "src" / "pkg" / "calc.py").write_text("import os\n" + CALC)
    git(repo, "commit", "-q", "-am", "main moves on")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-local", "-b", "feature", str(repo), str(clone))
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    code, out, err = run(capsys, monkeypatch, clone, "patch-coverage", "--diff", "origin/main", "--coverage",
                         str(Path(__file__).parent / "fixtures" / "coverage" / "python" / "coverage.xml"))
    assert (code, out) == (2, "")
    assert err.startswith("crossbridge: cannot read the change: fatal: origin/main...HEAD: no merge base; this clone "
                          "is shallow: fetch the history back to where the branches meet (git fetch --unshallow")
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------- shapes both tools read alike


def test_merge_base_behind_main_crlf_deletions_and_quotes_equal_diff_cover(tmp_path, capsys, monkeypatch):
    """main moves on after the branch left it (the merge base is not main's tip), and the branch
    changes a CRLF file, deletes a file, only removes lines from another and edits a file whose
    name holds a double quote (git quotes it). The figures equal diff-cover's on XML and LCOV;
    files with nothing added are listed with no changed line."""
    crlf = CALC.replace("\n", "\r\n")
    quoted = 'src/pkg/say"hi".py'
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "src/pkg/crlf.py": crlf, "src/pkg/gone.py": CALC,
         "src/pkg/shrink.py": CALC + MUL, quoted: CALC,
         "tests/test_calc.py": TEST_SIGN + "    import importlib\n    importlib.import_module('pkg.crlf').sign(-1)\n"
                               "    importlib.import_module('pkg.say\"hi\"').sign(5)\n"},
        {"src/pkg/crlf.py": (CALC.replace("return -1", "return -2") + MUL).replace("\n", "\r\n"),
         "src/pkg/shrink.py": CALC, quoted: CALC.replace("return -1", "return -3")},
    )
    (repo / "src" / "pkg" / "gone.py").unlink()
    git(repo, "commit", "-q", "-am", "delete")
    git(repo, "checkout", "-q", "main")
    (repo / "src" / "pkg" / "crlf.py").write_bytes(b"import os\r\n" + crlf.encode())
    git(repo, "commit", "-q", "-am", "main moves on")
    git(repo, "checkout", "-q", "feature")
    run_coverage(repo)
    assert '"b/src/pkg/say\\"hi\\".py"' in git(repo, "diff", "main...HEAD")
    for report in ("coverage.xml", "coverage.lcov"):
        mine = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", report)
        assert_same_as_diff_cover(mine, diff_cover(repo, report))
        files = mine["files"]
        assert (files["src/pkg/crlf.py"]["covered"], files["src/pkg/crlf.py"]["uncovered"]) == ([8, 11], [12, 13])
        assert files[quoted]["uncovered"] == [8]
        assert files["src/pkg/gone.py"]["changed"] == [] and files["src/pkg/shrink.py"]["changed"] == []
        assert (mine["measured_lines"], mine["covered_lines"]) == (5, 2)


# ---------------------------------------------------------------------------- istanbul's LCOV

PATCH3 = Path(__file__).parent / "fixtures" / "coverage" / "patch3"
MATH_JS = "function add(a, b) {\n  return a + b;\n}\n\nmodule.exports = { add };\n"


def test_istanbul_lcov_counts_the_lines_it_lists(tmp_path, capsys, monkeypatch):
    """nyc's LCOV (patch3/nyc, regenerate-more.sh patch3) names a function's declaration in FN
    only, no DA: not a line of code, as nyc's own count (LF:7, 'Lines 5/7') and its Cobertura
    of the same run have it; both reports give the same patch coverage, diff-cover's reading of
    that Cobertura. (diff-cover 11's LCOV reader alone adds FN lines no DA names, with the
    function's hits: here line 5 covered and line 14 not, 8 lines instead of 6. Not followed:
    it contradicts the report's own line count and diff-cover's Cobertura reading.)"""
    sample = PATCH3 / "sample"
    repo = make_repo(
        tmp_path,
        {"src/math.js": MATH_JS, "test.js": (sample / "test.js").read_text().replace("assert.deepStrictEqual", "// ")},
        {"src/math.js": (sample / "src" / "math.js").read_text(), "test.js": (sample / "test.js").read_text()},
    )
    shutil.copy(PATCH3 / "nyc" / "lcov.info", repo / "lcov.info")
    # nyc wrote its folder (/tmp/crossbridge-coverage-more/patch3) as <source>: this checkout's.
    cobertura = (PATCH3 / "nyc" / "cobertura-coverage.xml").read_text()
    assert "<source>/tmp/crossbridge-coverage-more/patch3</source>" in cobertura
    (repo / "cobertura.xml").write_text(cobertura.replace("/tmp/crossbridge-coverage-more/patch3", str(repo)))
    from_lcov = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "lcov.info")
    math = from_lcov["files"]["src/math.js"]
    assert (math["covered"], math["uncovered"]) == ([6, 7, 10, 19], [8, 15])
    assert 5 in math["changed"] and 14 in math["changed"]
    from_cobertura = patch(capsys, monkeypatch, repo, "--diff", "main", "--coverage", "cobertura.xml")
    assert from_cobertura["files"]["src/math.js"] == math
    assert_same_as_diff_cover(from_cobertura, diff_cover(repo, "cobertura.xml"))
