"""Reports written on Windows agents, dropped into the same inbox as the Linux ones of the same
project: the Windows and Linux shards of one run merge (coverage) and a test keeps one identity
(results), whatever separators, drive letters and checkout folders the Windows tools wrote.

No Windows here: the fixtures under fixtures/results/windows/ and fixtures/coverage/windows/ are
hand-made after the writers' source and public files (their READMEs say which)."""

from __future__ import annotations

from pathlib import Path

from crossbridge_assets.formats import open_report
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results" / "windows"
COVERAGE = FIXTURES / "coverage" / "windows"


def identities(path: Path) -> dict[str, tuple[str, str, str]]:
    """Test name -> (suite, status, identity)."""
    return {c.name: (c.suite, c.status, c.identity) for c in open_report(path)}


# ---------------------------------------------------------------------------- results


def test_pester_junit_from_windows_and_linux_runners_keeps_one_identity_a_test():
    """Pester names a test's class after its file's full path: the checkout folder of each
    runner goes, as it does from a coverage report's paths."""
    windows = identities(RESULTS / "pester5-junit-github-windows.xml")
    linux = identities(RESULTS / "pester5-junit-github-linux.xml")
    assert windows == linux
    assert windows["Cart.totals"][:2] == ("tests.Cart.Tests.ps1", "failed")
    assert set(windows) == {"Cart.adds an item", "Cart.totals"}
