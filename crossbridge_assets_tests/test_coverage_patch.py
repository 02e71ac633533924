"""Patch coverage against diff-cover: a real git repository, a real coverage.py run, the same
diff and report through both tools; and the diff parsing on its own."""

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossbridge_assets import cli
from crossbridge_assets.analysis.patch_coverage import DiffError, changed_lines, git_diffs, parse_diff, patch_coverage
from crossbridge_assets.model import FileCoverage

BASE = '''\
"""Prices."""


def total(items):
    return sum(items)


def discount(amount, percent):
    if percent <= 0:
        return amount
    return amount * (100 - percent) / 100
'''

CHANGED = '''\
"""Prices."""


def total(items):
    # Empty baskets cost nothing.
    if not items:
        return 0
    return sum(items)


def discount(amount, percent):
    if percent <= 0:
        return amount
    if percent >= 100:
        return 0
    return amount * (100 - percent) / 100


def tax(amount, rate):
    """Tax on an amount."""
    if rate < 0:
        raise ValueError("negative rate")
    return amount * rate
'''

TESTS = '''\
from shop.prices import discount, tax, total


def test_total():
    assert total([1, 2]) == 3


def test_discount():
    assert discount(100, 10) == 90
    assert discount(100, 0) == 100


def test_tax():
    assert tax(10, 0.5) == 5
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def changed_repo(tmp_path):
    """main has the base module; the feature branch changes it, one more edit is left unstaged;
    coverage.py has run the tests on the working tree."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "shop").mkdir(parents=True)
    (repo / "tests").mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    (repo / "shop" / "__init__.py").write_text("")
    (repo / "shop" / "prices.py").write_text(BASE)
    (repo / "tests" / "test_prices.py").write_text("from shop.prices import total\n\n\ndef test_total():\n    assert total([1]) == 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "shop" / "prices.py").write_text(CHANGED)
    (repo / "tests" / "test_prices.py").write_text(TESTS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    # An unstaged edit: both tools count the working tree by default.
    (repo / "shop" / "prices.py").write_text(CHANGED + "\n\ndef unused():\n    return 1\n")
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [sys.executable, "-m", "coverage"]
    subprocess.run([*run, "run", "--branch", "--source=shop", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                   cwd=repo, check=True, capture_output=True, env=env)
    subprocess.run([*run, "xml", "-o", "coverage.xml"], cwd=repo, check=True, capture_output=True, env=env)
    subprocess.run([*run, "lcov", "-o", "coverage.lcov"], cwd=repo, check=True, capture_output=True, env=env)
    return repo


def diff_cover(repo: Path, report: str) -> dict:
    exe = shutil.which("diff-cover", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("diff-cover is not installed (pip install diff-cover)")
    out = repo / f"diff-cover-{report}.json"
    subprocess.run([exe, report, "--compare-branch", "main", "--total-percent-float", "--format", f"json:{out}"],
                   cwd=repo, check=True, capture_output=True)
    return json.loads(out.read_text())


def ours(repo: Path, report: str, capsys, monkeypatch, *more: str) -> dict:
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert cli.main(["patch-coverage", "--diff", "main", "--coverage", report, "--json", *more]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("report", ["coverage.xml", "coverage.lcov"])
def test_patch_coverage_equals_diff_cover(changed_repo, report, capsys, monkeypatch):
    theirs = diff_cover(changed_repo, report)
    mine = ours(changed_repo, report, capsys, monkeypatch)
    assert "shop/prices.py" in theirs["src_stats"] and theirs["total_num_violations"] > 0
    assert mine["measured_lines"] == theirs["total_num_lines"]
    assert mine["uncovered_lines"] == theirs["total_num_violations"]
    assert mine["percent"] == theirs["total_percent_covered"]
    for path, stats in theirs["src_stats"].items():
        assert mine["files"][path]["uncovered"] == stats["violation_lines"]
        assert mine["files"][path]["covered"] == stats["covered_lines"]
        assert mine["files"][path]["percent"] == pytest.approx(stats["percent_covered"], abs=0.01)
    prices = mine["files"]["shop/prices.py"]
    # The comment (5) and the docstring of tax() (20) are changed lines but not code.
    assert {5, 20} <= set(prices["changed"]) and not {5, 20} & set(prices["measured"])
    assert prices["uncovered"] == [7, 15, 22, 27]  # empty basket, 100% discount, negative rate, unused()
    assert "tests/test_prices.py" in mine["files"]  # changed, measured by nothing: counts for nothing


def test_patch_coverage_from_the_warehouse_and_a_diff_file(changed_repo, crossbridge_env, dagster_instance, capsys, monkeypatch):
    from crossbridge_assets_tests.test_coverage_e2e import drop_shard, ingest, refresh

    drop_shard(crossbridge_env, "b1", changed_repo / "coverage.xml", "coverage.xml", build="1")
    ingest(dagster_instance)
    refresh(dagster_instance)
    diff = changed_repo / "change.diff"
    diff.write_text(git(changed_repo, "diff", "-U0", "main...HEAD") + git(changed_repo, "diff", "-U0"))
    monkeypatch.chdir(changed_repo)
    capsys.readouterr()
    assert cli.main(["patch-coverage", "--diff-file", str(diff), "--json"]) == 0
    from_warehouse = json.loads(capsys.readouterr().out)
    assert from_warehouse["coverage"].startswith("run ")
    assert from_warehouse["files"]["shop/prices.py"]["uncovered"] == [7, 15, 22, 27]
    assert cli.main(["patch-coverage", "--diff", "main", "--fail-under", "90"]) == 1
    text = capsys.readouterr().out
    assert "shop/prices.py" in text and "uncovered: 7, 15, 22, 27" in text and "Total:" in text


def test_the_warehouse_run_of_the_change_s_own_commit_is_used(changed_repo, crossbridge_env, capsys, monkeypatch):
    """Without --run: the run of HEAD's commit, not merely the newest one; and what the choice
    leaves uncertain (other projects, a run still waiting for shards) is said on stderr."""
    monkeypatch.setenv("DAGSTER_HOME", str(changed_repo.parent / "dagster"))
    head = git(changed_repo, "rev-parse", "HEAD").strip()
    everything_ran = changed_repo.parent / "all" / "coverage.xml"
    everything_ran.parent.mkdir()
    # The runs take their time from the report: this one ran a minute later.
    later = re.sub(r'timestamp="(\d+)"', lambda m: f'timestamp="{int(m.group(1)) + 60_000}"',
                   (changed_repo / "coverage.xml").read_text())
    everything_ran.write_text(later.replace('hits="0"', 'hits="1"'))

    def ingest(report: Path, *options: str) -> None:
        assert cli.main(["ingest", "--branch", "main", *options, str(report)]) == 0

    ingest(changed_repo / "coverage.xml", "--project", "shop", "--build", "1", "--commit", head)
    # Newer, of another commit, where every line ran.
    ingest(everything_ran, "--project", "shop", "--build", "2", "--commit", "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.chdir(changed_repo)
    capsys.readouterr()
    assert cli.main(["patch-coverage", "--diff", "main", "--json", "--project", "shop"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["files"]["shop/prices.py"]["uncovered"] == [7, 15, 22, 27]
    assert out.err == ""
    # A run abbreviating the commit is the commit's run too; the newest of them is taken.
    ingest(everything_ran, "--project", "shop", "--build", "3", "--commit", head[:8])
    capsys.readouterr()
    assert cli.main(["patch-coverage", "--diff", "main", "--json", "--project", "shop"]) == 0
    assert json.loads(capsys.readouterr().out)["files"]["shop/prices.py"]["uncovered"] == []

    # Another project whose only run waits for a shard.
    ingest(changed_repo / "coverage.xml", "--project", "web", "--build", "1", "--shard", "1", "--shards-expected", "2")
    capsys.readouterr()
    assert cli.main(["patch-coverage", "--diff", "main", "--json", "--project", "web"]) == 0
    err = capsys.readouterr().err
    assert f"no coverage run of commit {head[:12]}" in err
    assert "is incomplete: 1 of 2 shards arrived" in err
    assert cli.main(["patch-coverage", "--diff", "main", "--json"]) == 0
    err = capsys.readouterr().err
    assert "coverage of 2 projects: using shop (--project chooses)" in err and "incomplete" not in err


def test_unknown_compare_branch_is_one_clear_line(changed_repo, capsys, monkeypatch):
    monkeypatch.chdir(changed_repo)
    assert cli.main(["patch-coverage", "--diff", "nope", "--coverage", "coverage.xml"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "--diff" in err and len(err.strip().splitlines()) == 1


def test_personal_git_config_does_not_change_the_change(changed_repo, capsys, monkeypatch):
    plain = ours(changed_repo, "coverage.xml", capsys, monkeypatch)
    settings = [
        ("diff.mnemonicPrefix", "true"),  # c/ i/ w/ instead of a/ b/
        ("diff.noprefix", "true"),
        ("diff.srcPrefix", "x/"),  # git >= 2.45; older versions ignore the key
        ("diff.dstPrefix", "y/"),
        ("color.ui", "always"),
        ("diff.external", "false"),  # an external diff tool that fails
    ]
    for key, value in settings:
        git(changed_repo, "config", key, value)
        assert ours(changed_repo, "coverage.xml", capsys, monkeypatch) == plain, key
        git(changed_repo, "config", "--unset", key)
    # From a subfolder, diff.relative would name files relative to it and leave the rest out.
    git(changed_repo, "config", "diff.relative", "true")
    assert ours(changed_repo, "coverage.xml", capsys, monkeypatch, "--repo", "shop") == plain


def test_a_coverage_data_file_is_refused(changed_repo, capsys, monkeypatch):
    from crossbridge_assets.formats import read_report

    monkeypatch.chdir(changed_repo)
    # Why: the data file knows only what ran, so the four changed lines that never ran would
    # look like no code and the change would be 100% covered.
    changed = changed_lines(git_diffs(changed_repo, "main"))
    executed = {fc.path: fc for fc in read_report(".coverage")[2]}
    assert patch_coverage(changed, executed).percent == 100.0
    for reports in ([".coverage"], ["coverage.xml", ".coverage"]):
        capsys.readouterr()
        argv = ["patch-coverage", "--diff", "main", "--fail-under", "100"]
        for report in reports:
            argv += ["--coverage", report]
        assert cli.main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1
        assert err.startswith("crossbridge: .coverage: a coverage.py data file records only the lines that ran")
        assert "coverage xml, coverage json or coverage lcov" in err


# ---------------------------------------------------------------------------- pure parts

DIFF = textwrap.dedent(
    """\
    diff --git a/src/a.py b/src/a.py
    index 1..2 100644
    --- a/src/a.py
    +++ b/src/a.py
    @@ -3,0 +4,2 @@ def f():
    +    x = 1
    +    y = 2
    @@ -10 +12 @@ def g():
    -    return 1
    +    return 2
    diff --git a/old.py b/old.py
    deleted file mode 100644
    --- a/old.py
    +++ /dev/null
    @@ -1,2 +0,0 @@
    -a
    -b
    diff --git "a/sp ace.py" "b/sp ace.py"
    --- "a/sp ace.py"
    +++ "b/sp ace.py"
    @@ -0,0 +1 @@
    +print(1)
    """
)


def test_parse_diff_added_and_deleted_lines():
    parsed = parse_diff(DIFF)
    assert parsed["src/a.py"] == ([4, 5, 12], [10])  # deleted lines: numbered in the old file
    assert parsed["old.py"] == ([], [1, 2])
    assert parsed["sp ace.py"] == ([1], [])


def test_later_diffs_replace_deleted_lines():
    committed = "diff --git a/x.py b/x.py\n@@ -1,0 +2,3 @@\n+a\n+b\n+c\n"
    unstaged = "diff --git a/x.py b/x.py\n@@ -3 +3 @@\n-b\n+B\n@@ -9,0 +10 @@\n+z\n"
    assert changed_lines([committed, unstaged]) == {"x.py": [2, 3, 4, 10]}


def test_malformed_hunk_is_an_error():
    with pytest.raises(DiffError):
        parse_diff("@@ -1 +1 @@\n+x\n")
    with pytest.raises(DiffError):
        parse_diff("diff --git a/x b/x\n@@ nonsense @@\n+x\n")


def test_only_measured_lines_count_and_paths_line_up():
    coverage = {"prices.py": FileCoverage(path="prices.py", lines={1: 1, 2: 0, 4: 3})}
    report = patch_coverage({"src/shop/prices.py": [1, 2, 3], "README.md": [1]}, coverage)
    (readme, prices) = report.files
    assert (prices.coverage_path, prices.measured, prices.covered, prices.uncovered) == ("prices.py", [1, 2], [1], [2])
    assert readme.coverage_path is None and readme.measured == []
    assert (report.measured, report.covered, report.percent) == (2, 1, 50.0)
    assert patch_coverage({"README.md": [1]}, coverage).percent == 100.0
