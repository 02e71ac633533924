"""Reports written on Windows agents, dropped into the same inbox as the Linux ones of the same
project: the Windows and Linux shards of one run merge (coverage) and a test keeps one identity
(results), whatever separators, drive letters and checkout folders the Windows tools wrote.

No Windows here: the fixtures under fixtures/results/windows/ and fixtures/coverage/windows/ are
hand-made after the writers' source and public files (their READMEs say which)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from crossbridge_assets.cli import main
from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets.formats._paths import normalize_source_path
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import coverage_runs, run_merge
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_coverage_e2e import ingest, refresh
from crossbridge_assets_tests.test_coverage_shards_paths import send

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


def test_doctest_junit_from_windows_and_linux_keeps_one_identity_a_test():
    """doctest names a test's class after its source file as compiled: absolute on both OSes."""
    windows = identities(RESULTS / "doctest-2.4-junit-github-windows.xml")
    linux = identities(RESULTS / "doctest-2.4-junit-github-linux.xml")
    assert windows == linux
    assert windows["cart totals"][:2] == ("tests.cart.cpp", "failed")
    assert windows["cart starts empty"][:2] == ("tests.cart.cpp", "passed")


def test_catch2_junit_from_windows_keeps_the_linux_identities():
    """Catch2 prefixes each class with the executable's file name, 'cart_test.exe' on Windows."""
    linux = open_report(FIXTURES / "results" / "native" / "catch2" / "catch2-junit.xml")
    want = {c.name: (c.suite, c.status, c.identity) for c in linux}
    assert identities(RESULTS / "catch2-2.13-junit-windows.xml") == want
    assert {suite for suite, _, _ in want.values()} == {"cart_test.global"}


def test_a_jest_test_file_that_failed_to_load_on_windows_is_the_linux_ones(tmp_path):
    """jest-junit names the testcase of a test file that did not load after the file's path
    from the project (its '{filepath}', path.relative: 'src\\cart\\broken.test.js' on Windows)."""
    real = (FIXTURES / "results" / "jsjunit" / "jest-junit-options.xml").read_text(encoding="utf-8")
    for os_name, sep in (("linux", "/"), ("windows", "\\")):
        moved = real.replace('"broken.test.js"', f'"src{sep}cart{sep}broken.test.js"')
        (tmp_path / f"{os_name}.xml").write_text(moved, encoding="utf-8")
    windows, linux = identities(tmp_path / "windows.xml"), identities(tmp_path / "linux.xml")
    assert windows == linux
    assert linux["src/cart/broken.test.js"][:2] == ("Test suite failed to run", "error")


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


# ---------------------------------------------------------------------------- through the product


def as_powershell5_out_file(source: Path, target: Path) -> Path:
    """The report as Windows PowerShell 5 re-saves it (`Get-Content x | Out-File x`, a common
    step that edits a report's text): UTF-16LE with a byte order mark, CRLF line endings."""
    target.write_bytes(source.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-16"))
    return target


def test_a_windows_and_a_linux_coverage_shard_of_one_run_merge(crossbridge_env, dagster_instance, tmp_path, capsys):
    s = crossbridge_env
    run = {"build": "310", "shards_expected": 2}
    windows = as_powershell5_out_file(COVERAGE / "coverlet-azure-selfhosted-windows.cobertura.xml", tmp_path / "w.xml")
    send(s, "win", {"coverage.cobertura.xml": windows}, shard="windows", **run)
    send(s, "linux", {"coverage.cobertura.xml": COVERAGE / "coverlet-github-linux.cobertura.xml"}, shard="linux", **run)
    ingest(dagster_instance)
    refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    (merged,) = coverage_runs(engine)
    assert merged["complete"] and merged["shards_seen"] == 2
    files = run_merge(engine, merged["run_id"]).files
    assert set(files) == {"src/Shop/Cart.cs", "src/Shop/Models/Item.cs"}
    assert sorted(n for n, h in files["src/Shop/Cart.cs"].lines.items() if h) == [10, 11, 12]
    assert (merged["files"], merged["lines_covered"], merged["lines_valid"]) == (2, 5, 5)
    # Patch coverage of a change from the merged run: the files are the repository's.
    diff = tmp_path / "change.diff"
    diff.write_text("".join(
        f"diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ -{n} +{n} @@\n-old\n+new\n"
        for f, n in (("src/Shop/Cart.cs", 12), ("src/Shop/Models/Item.cs", 6))))
    capsys.readouterr()
    assert main(["patch-coverage", "--diff-file", str(diff), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {f: (r["covered"], r["uncovered"]) for f, r in out["files"].items()} == {
        "src/Shop/Cart.cs": ([12], []), "src/Shop/Models/Item.cs": ([6], [])}


def test_pester_runs_on_windows_and_linux_record_the_same_tests(crossbridge_env, dagster_instance, tmp_path):
    """A matrix build: the Windows job's and the Linux job's runs hold the same tests, so that
    history and flakiness see one test, not one for each OS."""
    s = crossbridge_env
    windows = as_powershell5_out_file(RESULTS / "pester5-junit-github-windows.xml", tmp_path / "w.xml")
    send(s, "win", {"testResults.xml": windows}, build="41")
    send(s, "linux", {"testResults.xml": RESULTS / "pester5-junit-github-linux.xml"}, build="42")
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.test_runs.c.build, schema.test_results.c.test_id, schema.test_results.c.status)
                            .join(schema.test_runs, schema.test_runs.c.run_id == schema.test_results.c.run_id)).all()
        tests = conn.execute(select(schema.tests.c.test_id, schema.tests.c.suite)).all()
    by_build: dict[str, dict[str, str]] = {}
    for build, test_id, status in rows:
        by_build.setdefault(build, {})[test_id] = status
    assert by_build["41"] == by_build["42"] and len(by_build["41"]) == 2
    assert sorted(by_build["41"].values()) == ["failed", "passed"]
    assert {t.suite for t in tests} == {"tests.Cart.Tests.ps1"} and len(tests) == 2


def test_opencppcoverage_names_a_file_from_its_drive(tmp_path, capsys):
    """OpenCppCoverage's <source> is the drive alone ('C:'), its file names the rest of each
    file's path: on a developer's machine, the file is that absolute path (patch coverage then
    finds the change's files in it, by the end of their path); on a CI runner, its checkout
    goes as from any other path."""
    local = COVERAGE / "opencppcoverage-local.cobertura.xml"
    assert {fc.path for fc in open_report(local)} == {
        "C:/Users/dev/source/repos/shop/src/cart.cpp", "C:/Users/dev/source/repos/shop/include/item.h"}
    assert {fc.path for fc in open_report(COVERAGE / "opencppcoverage-github.cobertura.xml")} == {
        "src/cart.cpp", "include/item.h"}
    diff = tmp_path / "change.diff"
    diff.write_text("".join(
        f"diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ -3,3 +3,3 @@\n ctx\n-old\n+new 4\n ctx\n"
        f"@@ -7,3 +7,3 @@\n ctx\n-old\n+new 8\n ctx\n" for f in ("src/cart.cpp", "include/item.h")))
    assert main(["patch-coverage", "--diff-file", str(diff), "--coverage", str(local), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {f: (r["covered"], r["uncovered"]) for f, r in out["files"].items()} == {
        "src/cart.cpp": ([], [4]), "include/item.h": ([], [8])}
    assert out["percent"] == 0.0


@pytest.mark.parametrize(
    "raw",
    [
        # TeamCity: <agent>\work\<checkout hash>\ (seen in public stack traces and embedded file
        # names: C:\BuildAgent\work\5135de308b2f3016\src\..., C:\BuildAgent\work\e958cd452eaeb7c\...)
        "C:\\BuildAgent\\work\\5135de308b2f3016\\src\\Shop\\Cart.cs",
        "c:\\buildagent\\work\\e958cd452eaeb7c\\src\\Shop\\Cart.cs",
        "D:\\TeamCity\\buildAgent\\work\\ba3dced9a47cf95a\\src\\Shop\\Cart.cs",
        "/opt/buildagent/work/5135de308b2f3016/src/Shop/Cart.cs",  # the teamcity-agent image
        "/home/teamcity/buildAgent/work/5135de308b2f3016/src/Shop/Cart.cs",
    ],
)
def test_teamcity_agent_checkouts_go(raw):
    assert normalize_source_path(raw) == "src/Shop/Cart.cs"


def test_a_work_folder_that_is_no_teamcity_checkout_stays():
    assert normalize_source_path("/opt/buildagent/work/tools/src/x.cs") == "/opt/buildagent/work/tools/src/x.cs"


def test_a_configured_network_share_root_matches_in_any_case():
    """A build on a network share names its files by UNC path ('\\\\buildsrv\\Builds\\shop\\...'),
    which Windows, as a drive path, reads in any case: so does a configured root."""
    raw = "\\\\BuildSrv\\Builds\\shop\\src\\Shop\\Cart.cs"
    for root in ("\\\\buildsrv\\builds\\shop", "//BUILDSRV/Builds/Shop/", "\\\\buildsrv\\*\\shop"):
        assert normalize_source_path(raw, [root]) == "src/Shop/Cart.cs", root
    assert normalize_source_path(raw) == "//BuildSrv/Builds/shop/src/Shop/Cart.cs"  # no root: as written


def test_source_roots_of_a_drop_give_pester_tests_their_identity(crossbridge_env, dagster_instance, tmp_path):
    """A self-hosted Windows agent whose checkout folder no CI layout tells (E:\\ci\\shop): the
    drop's manifest names it, as it does for coverage, and its Pester tests are the Linux run's."""
    s = crossbridge_env
    text = (RESULTS / "pester5-junit-github-windows.xml").read_text(encoding="utf-8")
    custom = tmp_path / "custom.xml"
    custom.write_text(text.replace("D:\\a\\shop\\shop\\", "E:\\ci\\shop\\"), encoding="utf-8")
    send(s, "win", {"testResults.xml": custom}, build="51", source_roots=["E:\\ci\\shop"])
    send(s, "linux", {"testResults.xml": RESULTS / "pester5-junit-github-linux.xml"}, build="52")
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        tests = conn.execute(select(schema.tests.c.test_id, schema.tests.c.suite)).all()
        results = conn.execute(select(schema.test_results.c.test_id)).all()
    assert {t.suite for t in tests} == {"tests.Cart.Tests.ps1"} and len(tests) == 2
    assert len(results) == 4
