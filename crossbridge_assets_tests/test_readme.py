"""The README stays true: every configuration variable the code reads is documented, and CI runs
the very test command the README gives."""

import re
from pathlib import Path

from crossbridge_assets import ops_settings, settings
from crossbridge_assets.analysis import coverage_policy
from crossbridge_assets.delivery import influx

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_variable_is_in_the_readme():
    names = set(settings.VARIABLES) | set(ops_settings.VARIABLES) | set(coverage_policy.VARIABLES) | set(influx.VARIABLES)
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing, f"README.md does not document {missing}"


def test_variables_read_in_code_are_declared():
    """A CROSSBRIDGE_* variable read anywhere in the package is in one of the VARIABLES tables or the README."""
    read = set()
    for path in (REPO / "crossbridge_assets").rglob("*.py"):
        read |= set(re.findall(r"\"(CROSSBRIDGE_[A-Z0-9_]+)\"", path.read_text(encoding="utf-8")))
    undocumented = sorted(n for n in read if n not in README)
    assert not undocumented, f"read in code but not in README.md: {undocumented}"


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command:start" in ci and "test-command:end" in ci
    block = re.search(r"<!-- test-command:start -->\s*```\s*\n(.+?)\n```", README, re.S)
    assert block and "pytest" in block.group(1)
