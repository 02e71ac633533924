"""The change impact reads (git_change: one diff against the merge base, working tree included)."""

import pytest

from crossbridge_assets.analysis.patch_coverage import DiffError, git_change
from crossbridge_assets_tests.test_coverage_patch import git
from crossbridge_assets_tests.test_coverage_patch_edges import CALC, make_repo


def test_a_shallow_clone_says_what_to_fetch(tmp_path):
    """A CI checkout of one commit has no merge base with the compare branch: impact says what
    to fetch, as patch coverage does, whether or not the working tree is read."""
    repo = make_repo(tmp_path, {"src/pkg/calc.py": CALC}, {"src/pkg/calc.py": CALC + "\nX = 1\n"})
    git(repo, "checkout", "-q", "main")
    (repo / "src" / "pkg" / "calc.py").write_text("import os\n" + CALC)
    git(repo, "commit", "-q", "-am", "main moves on")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-local", "-b", "feature", str(repo), str(clone))
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    for working_tree in (True, False):
        with pytest.raises(DiffError, match=r"no merge base; this clone is shallow: fetch the history back"):
            git_change(clone, "origin/main", working_tree=working_tree)
