"""Patch coverage and the per-test coverage map in more situations: git's warnings, merge
conflicts, diff files written with other options, a warehouse that is empty or does not know
the run, and files no test ran. Real git repositories and real coverage.py runs, compared with
diff-cover on the same diff and report where it reads them."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crossbridge_assets import cli
from crossbridge_assets_tests.test_coverage_patch import git
from crossbridge_assets_tests.test_coverage_patch_edges import (
    CALC,
    TEST_CALC,
    assert_same_as_diff_cover,
    make_repo,
    run_coverage,
)

CHANGED_CALC = CALC.replace("    return -1\n", "    return -2\n") + "\n\ndef mul(a, b):\n    return a * b\n"
TEST_CHANGED = TEST_CALC.replace("import add, sign", "import add, mul, sign") + "    assert mul(2, 3) == 6\n"


def diff_cover(repo: Path, report: str, *options: str) -> dict:
    """diff-cover's JSON for `report` against main (or the options' --diff-file)."""
    exe = shutil.which("diff-cover", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("diff-cover is not installed (pip install diff-cover)")
    out = repo.parent / "diff-cover.json"
    subprocess.run([exe, report, "--compare-branch", "main", "--format", f"json:{out}", *options],
                   cwd=repo, check=True, capture_output=True)
    return json.loads(out.read_text())


def run(capsys, monkeypatch, repo: Path, *argv: str) -> tuple[int, str, str]:
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def changed_repo(tmp_path: Path, base: dict | None = None, **more) -> Path:
    """main holds src/pkg/calc.py (and `base`); the feature branch changes sign() and adds
    mul(), tested (and `more`)."""
    return make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_CALC, **(base or {})},
        {"src/pkg/calc.py": CHANGED_CALC, "tests/test_calc.py": TEST_CHANGED, **more},
    )


# ---------------------------------------------------------------------------- git's warnings


def test_git_warnings_on_stderr_do_not_fail_the_change(tmp_path, capsys, monkeypatch):
    """git warns on stderr about diffs it produced all the same: a rename detection cut short
    by diff.renameLimit, core.autocrlf's line endings. diff-cover fails only on git's exit
    status; so do we, and the warnings are passed on."""
    repo = changed_repo(tmp_path, {f"data/f{i}.txt": f"row {i}\n" * 3 for i in range(12)})
    for i in range(12):  # renamed with an edit each: more than the rename limit below allows
        (repo / "data" / f"f{i}.txt").rename(repo / "data" / f"g{i}.txt")
        (repo / "data" / f"g{i}.txt").write_text(f"row {i}\n" * 3 + "more\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "renames")
    git(repo, "config", "diff.renameLimit", "2")
    run_coverage(repo)
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml", "--json")
    assert code == 0, err
    mine = json.loads(out)
    assert_same_as_diff_cover(mine, diff_cover(repo, "coverage.xml"))
    assert mine["files"]["src/pkg/calc.py"]["uncovered"] == [8] and mine["files"]["src/pkg/calc.py"]["covered"] == [11, 12]
    assert "note: git: warning: exhaustive rename detection was skipped" in err

    # Line endings: with core.autocrlf on, an unstaged LF edit makes git warn on every diff of it.
    git(repo, "config", "--unset", "diff.renameLimit")
    git(repo, "config", "core.autocrlf", "true")
    (repo / "src" / "pkg" / "calc.py").write_text(CHANGED_CALC + "\n\ndef neg(a):\n    return -a\n")
    run_coverage(repo)
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml", "--json")
    assert code == 0, err
    mine = json.loads(out)
    assert_same_as_diff_cover(mine, diff_cover(repo, "coverage.xml"))
    assert mine["files"]["src/pkg/calc.py"]["uncovered"] == [8, 16]
    assert err.count("LF will be replaced by CRLF") == 1  # said once, though two diffs warned


# ---------------------------------------------------------------------------- the warehouse's run


def test_no_coverage_anywhere_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """The first command on a machine may be patch-coverage, before any ingest made
    CROSSBRIDGE_HOME: an empty warehouse, said in one line, not a database traceback."""
    repo = changed_repo(tmp_path)
    home = tmp_path / "not" / "yet" / "home"
    monkeypatch.setenv("CROSSBRIDGE_HOME", str(home))
    monkeypatch.delenv("CROSSBRIDGE_WAREHOUSE_URL", raising=False)
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main")
    assert (code, out) == (2, "")
    assert err == "crossbridge: no coverage in the warehouse yet: ingest a coverage report, or pass --coverage FILE\n"
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--run", "0123abcd")
    assert (code, out) == (2, "") and err.startswith("crossbridge: no run 0123abcd in the warehouse")
    assert (home / "warehouse.db").is_file()


def test_a_run_id_the_warehouse_does_not_have(tmp_path, crossbridge_env, capsys, monkeypatch):
    """--run names a run: one that does not exist is told apart from one without line coverage
    (its tests' results only), and from the run that has it."""
    from crossbridge_assets_tests.test_cli import FIX

    repo = changed_repo(tmp_path)
    run_coverage(repo)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(FIX / "pytest-sample.xml", results / "junit.xml")
    for build, report in (("1", repo / "coverage.xml"), ("2", results / "junit.xml")):
        code, _, err = run(capsys, monkeypatch, repo, "ingest", "--project", "shop", "--branch", "main", "--build", build,
                           str(report))
        assert code == 0, err
    code, out, _ = run(capsys, monkeypatch, repo, "summary", "--json")
    run_of = {r["build"]: r["run_id"] for r in json.loads(out)}

    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--run", run_of["1"], "--json")
    assert code == 0, err
    assert json.loads(out)["files"]["src/pkg/calc.py"]["uncovered"] == [8]
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--run", run_of["2"])
    assert (code, out, err) == (2, "", f"crossbridge: run {run_of['2']} has no line coverage in the warehouse\n")
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--run", "ffff0000")
    assert (code, out) == (2, "")
    assert err == "crossbridge: no run ffff0000 in the warehouse: `crossbridge summary --json` lists the runs (run_id)\n"


# ---------------------------------------------------------------------------- a merge in progress


def test_a_merge_conflict_resolved_but_not_committed(tmp_path, capsys, monkeypatch):
    """While a merge waits to be committed, git shows the conflicted file as a combined diff
    (`diff --cc`, one column per parent). Read against HEAD, as diff-cover reads it."""
    ours_line, theirs_line = "    x = int(x)\n", "    assert x is not None\n"
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        {"src/pkg/calc.py": CALC.replace("def sign(x):\n", "def sign(x):\n" + ours_line)},
    )
    git(repo, "checkout", "-q", "-b", "theirs", "main")
    (repo / "src" / "pkg" / "calc.py").write_text(CALC.replace("def sign(x):\n", "def sign(x):\n" + theirs_line))
    git(repo, "commit", "-q", "-am", "theirs")
    git(repo, "checkout", "-q", "feature")
    merge = subprocess.run(["git", "merge", "theirs"], cwd=repo, capture_output=True, text=True)
    assert merge.returncode == 1 and "CONFLICT" in merge.stdout
    # Resolved with both lines and a new branch no test takes; not yet added nor committed.
    resolved = ours_line + theirs_line + "    if x > 9:\n        return 9\n"
    (repo / "src" / "pkg" / "calc.py").write_text(CALC.replace("def sign(x):\n", "def sign(x):\n" + resolved))
    combined = git(repo, "diff", "-U0")
    assert combined.startswith("diff --cc src/pkg/calc.py") and "\n+     assert x is not None\n" in combined
    run_coverage(repo)
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml", "--json")
    assert code == 0, err
    mine = json.loads(out)
    assert_same_as_diff_cover(mine, diff_cover(repo, "coverage.xml"))
    assert mine["files"]["src/pkg/calc.py"]["covered"] == [6, 7, 8] and mine["files"]["src/pkg/calc.py"]["uncovered"] == [9]

    # Resolved by dropping theirs and adding a line: the dropped line (' -') is in neither HEAD
    # nor the file and moves no line. (diff-cover counts it, and puts the new line one too far.)
    (repo / "src" / "pkg" / "calc.py").write_text(CALC.replace("def sign(x):\n", "def sign(x):\n" + ours_line + "    y = 0\n"))
    assert "\n -    assert x is not None\n" in git(repo, "diff", "-U0")
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml", "--json")
    assert code == 0, err
    assert json.loads(out)["files"]["src/pkg/calc.py"]["changed"] == [6, 7]
    assert (repo / "src" / "pkg" / "calc.py").read_text().splitlines()[6] == "    y = 0"


# ---------------------------------------------------------------------------- diff files


@pytest.fixture
def renamed_repo(tmp_path):
    """A change with an edit, a rename with an edit, a new file whose name has a space and a
    letter outside ASCII, a binary file and a mode-only change; coverage.py has run on it."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "src/pkg/old.py": CALC.replace("add", "plus"),
         "tests/test_calc.py": TEST_CALC, "tool.sh": "echo hi\n", "logo.png": b"\x89PNG\x00\x01"},
        {"src/pkg/calc.py": CHANGED_CALC, "tests/test_calc.py": TEST_CHANGED,
         "src/pkg/new name é.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n",
         "logo.png": b"\x89PNG\x00\x02"},
    )
    (repo / "src" / "pkg" / "old.py").rename(repo / "src" / "pkg" / "moved.py")
    (repo / "src" / "pkg" / "moved.py").write_text(CALC.replace("add", "plus") + "\n\ndef minus(a, b):\n    return a - b\n")
    (repo / "tool.sh").chmod(0o755)
    (repo / "tests" / "test_more.py").write_text(
        "import importlib\n\n\ndef test_more():\n    assert importlib.import_module('pkg.new name é').f() == 1\n"
        "    assert importlib.import_module('pkg.moved').minus(3, 1) == 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "rename, new file, mode")
    run_coverage(repo)
    return repo


@pytest.mark.parametrize("options", [
    pytest.param(["diff", "main...HEAD"], id="U3"),
    pytest.param(["diff", "-U0", "main...HEAD"], id="U0"),
    pytest.param(["diff", "--no-color", "-U0", "main...HEAD"], id="no-color"),
    pytest.param(["-c", "diff.mnemonicPrefix=true", "diff", "main...HEAD"], id="mnemonic"),
    pytest.param(["diff", "--no-prefix", "main...HEAD"], id="no-prefix"),
    pytest.param(["-c", "diff.noprefix=true", "diff", "main...HEAD"], id="noprefix-config"),
    pytest.param(["diff", "--src-prefix=before/", "--dst-prefix=after/", "main...HEAD"], id="src-dst-prefix"),
    pytest.param(["diff", "--color=always", "main...HEAD"], id="color"),
    pytest.param(["-c", "color.ui=always", "-c", "diff.noprefix=true", "diff", "--color-moved", "main...HEAD"],
                 id="color-noprefix"),
])
def test_a_diff_file_written_with_other_options(renamed_repo, options, tmp_path, capsys, monkeypatch):
    """The change as a file `git diff` wrote with other options or config reads as the same
    change git gives --diff. diff-cover reads the plain ones alike; it finds no file in a
    coloured diff (100% of nothing), and stops on the first name without a/ and b/."""
    repo = renamed_repo
    diff = tmp_path / "change.diff"
    diff.write_bytes(subprocess.run(["git", *options], cwd=repo, check=True, capture_output=True).stdout)
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff", "main", "--coverage", "coverage.xml", "--json")
    assert code == 0, err
    from_git = json.loads(out)
    files = from_git["files"]
    assert files["src/pkg/moved.py"]["changed"] == [9, 10, 11, 12] and files["src/pkg/moved.py"]["covered"] == [11, 12]
    assert files["src/pkg/new name é.py"]["uncovered"] == [6] and files["src/pkg/calc.py"]["uncovered"] == [8]
    assert files["logo.png"]["changed"] == [] and files["tool.sh"]["changed"] == []
    code, out, err = run(capsys, monkeypatch, repo, "patch-coverage", "--diff-file", str(diff), "--coverage", "coverage.xml",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["files"] == files
    if options in (["diff", "main...HEAD"], ["diff", "-U0", "main...HEAD"], ["diff", "--no-color", "-U0", "main...HEAD"]):
        assert_same_as_diff_cover(json.loads(out), diff_cover(repo, "coverage.xml", "--diff-file", str(diff)))


def test_a_diff_whose_file_names_cannot_be_read_says_why():
    from crossbridge_assets.analysis.patch_coverage import DiffError, parse_diff

    with pytest.raises(DiffError, match="a/ and b/ prefixes"):
        parse_diff("diff --git one.py two.py\nindex 1..2\n@@ -1 +1 @@\n-x\n+y\n")
    # A rename says the new name on a line of its own, whatever the prefixes.
    renamed = "diff --git one.py two.py\nsimilarity index 90%\nrename from one.py\nrename to two.py\n@@ -3,0 +4 @@\n+y\n"
    assert parse_diff(renamed) == {"two.py": ([4], [])}


# ---------------------------------------------------------------------------- the per-test map

CONTEXT_TESTS = """\
import pkg.loaded
from pkg.calc import add, sign


def test_add():
    assert add(1, 2) == 3


def test_sign():
    assert sign(1) == 1
    assert add(0, 0) == 0


class TestNegative:
    def test_negative(self):
        assert sign(-1) == -1
"""


def test_which_tests_ran_a_line_from_coverage_contexts(tmp_path, crossbridge_env, capsys, monkeypatch):
    """coverage.py with `dynamic_context = test_function`, its data file and XML ingested:
    a line several tests ran, lines one test ran, a line no test ran, and files no test ran
    (one only imported, one never) are told apart from a file the run does not know."""
    repo = make_repo(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/calc.py": CALC, "src/pkg/loaded.py": "X = 1\n\n\ndef f():\n    return 2\n",
         "src/pkg/unused.py": "def u():\n    return 1\n", "tests/test_calc.py": CONTEXT_TESTS},
        {},
    )
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": "src"}
    (repo / ".coveragerc").write_text("[run]\nsource = src\ndynamic_context = test_function\n")
    for command in (["run", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], ["xml", "-o", "coverage.xml"]):
        subprocess.run([sys.executable, "-m", "coverage", *command], cwd=repo, check=True, capture_output=True, env=env)
    drop = tmp_path / "drop"
    drop.mkdir()
    for name in (".coverage", "coverage.xml"):
        shutil.copy(repo / name, drop / name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, _, err = run(capsys, monkeypatch, repo, "ingest", "--project", "shop", "--branch", "main", "--build", "1", str(drop))
    assert code == 0, err

    def covering(location: str) -> tuple[int, dict | None, str]:
        code, out, err = run(capsys, monkeypatch, repo, "covering", location, "--json")
        return code, json.loads(out) if out else None, err

    def tests(location: str) -> list[str]:
        code, found, err = covering(location)
        assert code == 0, err
        return [t["test"] for t in found["tests"]]

    assert tests("src/pkg/calc.py:2") == ["test_calc.test_add", "test_calc.test_sign"]
    assert tests("src/pkg/calc.py:7") == ["test_calc.test_sign"]
    assert tests("src/pkg/calc.py:8") == ["test_calc.TestNegative.test_negative"]
    assert tests("src/pkg/calc.py:3") == []  # a blank line
    # Files no test ran: one only imported (at collection, outside any test), one never.
    for location in ("src/pkg/loaded.py:1", "src/pkg/loaded.py:5", "src/pkg/unused.py:2"):
        code, found, err = covering(location)
        assert (code, found["tests"], err) == (0, [], ""), location
        assert found["file"] == location.rsplit(":", 1)[0]
    code, out, _ = run(capsys, monkeypatch, repo, "covering", "src/pkg/unused.py:2")
    assert code == 0 and out.endswith(": 0 test(s) ran it\n")
    # A file the run does not know at all.
    code, found, err = covering("src/pkg/nothere.py:1")
    assert code == 1 and found is None
    assert "no per-test coverage of src/pkg/nothere.py in run" in err and "did not measure such a file" in err
