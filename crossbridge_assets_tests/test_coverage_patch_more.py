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
