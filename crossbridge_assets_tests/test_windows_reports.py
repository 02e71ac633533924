"""Reports written on Windows agents, dropped into the same inbox as the Linux ones of the same
project: the Windows and Linux shards of one run merge (coverage) and a test keeps one identity
(results), whatever separators, drive letters and checkout folders the Windows tools wrote.

No Windows here: the fixtures under fixtures/results/windows/ and fixtures/coverage/windows/ are
hand-made after the writers' source and public files (their READMEs say which)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets.formats._paths import normalize_source_path
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


# ---------------------------------------------------------------------------- coverage


@pytest.mark.parametrize(
    "raw",
    [
        # Azure Pipelines self-hosted agents: <agent>\_work\<n>\s\ (Windows, Linux, the Docker agent)
        "C:\\agent\\_work\\1\\s\\src\\Shop\\Cart.cs",
        "E:\\agents\\vsts-agent-win-x64\\_work\\12\\s\\src\\Shop\\Cart.cs",
        "/home/azureuser/myagent/_work/3/s/src/Shop/Cart.cs",
        "/azp/agent/_work/1/s/src/Shop/Cart.cs",
        # ... and Microsoft's scale-set agents on D:\a\_work\ (not GitHub's D:\a\<repo>\<repo>\)
        "D:\\a\\_work\\1\\s\\src\\Shop\\Cart.cs",
        "d:/a/_work/1/s\\src/Shop\\Cart.cs",
    ],
)
def test_azure_agent_workspaces_go(raw):
    assert normalize_source_path(raw) == "src/Shop/Cart.cs"


def test_coverlet_shards_from_an_azure_windows_agent_and_a_linux_runner_merge():
    windows = COVERAGE / "coverlet-azure-selfhosted-windows.cobertura.xml"
    linux = COVERAGE / "coverlet-github-linux.cobertura.xml"
    assert {fc.path for fc in open_report(windows)} == {"src/Shop/Cart.cs", "src/Shop/Models/Item.cs"}
    merged = merge_coverage([open_report(windows), open_report(linux)])
    assert set(merged) == {"src/Shop/Cart.cs", "src/Shop/Models/Item.cs"}
    assert merged["src/Shop/Cart.cs"].lines == {10: 2, 11: 2, 12: 3}
    assert merged["src/Shop/Cart.cs"].branches == {11: (1, 2)}
    assert merged["src/Shop/Models/Item.cs"].lines == {5: 4, 6: 1}
