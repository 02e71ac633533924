"""A monorepo's packages each run their tests in their own folder: Jest's LCOV (and any report
that names files relative to where its tool ran) names `src/util.js` for both packages, and one
run's reports used to merge the two files into one. The manifest's `source_prefix` (for a whole
folder, or per file under "files") says which package folder such relative paths are in.

The reports are Jest 30's, run in each package of a two-package monorepo and from its top
(fixtures/coverage/istanbulfam, regenerate-istanbulfam.sh)."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import select

from crossbridge_assets.formats import detect
from crossbridge_assets.formats._paths import check_source_prefix, normalize_source_path, using_source_prefix
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import coverage_runs, run_merge
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.run_metadata import ManifestError, read_manifest
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import ingest, refresh
from crossbridge_assets_tests.test_coverage_istanbul_family import FAMILY
from crossbridge_assets_tests.test_ingest_e2e import drop
from crossbridge_assets_tests.test_operator_failures import reports

MONO = FAMILY / "jest30-mono"
EXPECTED = ["packages/a/src/never.js", "packages/a/src/util.js", "packages/b/src/util.js"]


def root_run_lines() -> dict[str, dict[int, bool]]:
    """Whether Jest run from the monorepo's top covers each line of each file (its LCOV names
    files from there; it runs both packages' tests at once, so hit counts differ)."""
    path = MONO / "root" / "lcov.info"
    return covered({fc.path: fc for fc in detect(path).open(path)})


def covered(files: dict) -> dict[str, dict[int, bool]]:
    return {path: {n: hits > 0 for n, hits in fc.lines.items()} for path, fc in files.items()}


def merged_files(settings) -> dict:
    engine = make_engine(settings.warehouse_url)
    (run,) = coverage_runs(engine)
    return run, run_merge(engine, run["run_id"]).files


def drop_package(settings, folder: str, package: str, manifest: dict | None = None) -> None:
    drop(settings, "lcov.info", f"{folder}/packages/{package}/coverage", source=MONO / f"package-{package}" / "lcov.info")
    if manifest is not None:
        (settings.inbox / folder / "packages" / package / "coverage" / "crossbridge.json").write_text(json.dumps(manifest))


def test_each_package_s_lcov_is_read_under_its_folder_named_per_file(crossbridge_env, dagster_instance):
    s = crossbridge_env
    for package in "ab":
        drop_package(s, "up", package)
    (s.inbox / "up" / "crossbridge.json").write_text(json.dumps({
        "project": "web", "branch": "main", "build": "77",
        "files": {f"packages/{p}/coverage/lcov.info": {"source_prefix": f"packages/{p}"} for p in "ab"},
    }))
    ingest(dagster_instance)
    refresh(dagster_instance)
    run, files = merged_files(s)
    assert sorted(files) == EXPECTED
    assert covered(files) == root_run_lines()
    assert run["lines_valid"] == sum(len(lines) for lines in root_run_lines().values())


def test_a_manifest_in_the_package_folder_names_the_prefix_of_its_reports(crossbridge_env, dagster_instance):
    s = crossbridge_env
    for package in "ab":
        drop_package(s, "up", package, {"source_prefix": f"packages/{package}"})
    (s.inbox / "up" / "crossbridge.json").write_text(json.dumps({"project": "web", "branch": "main", "build": "78"}))
    ingest(dagster_instance)
    refresh(dagster_instance)
    _, files = merged_files(s)
    assert covered(files) == root_run_lines()


def test_without_a_prefix_the_two_packages_files_are_one(crossbridge_env, dagster_instance):
    """What the prefix is for: nothing in the LCOV says which package, so the two util.js merge."""
    s = crossbridge_env
    for package in "ab":
        drop_package(s, "up", package)
    (s.inbox / "up" / "crossbridge.json").write_text(json.dumps({"project": "web", "branch": "main", "build": "79"}))
    ingest(dagster_instance)
    refresh(dagster_instance)
    _, files = merged_files(s)
    assert sorted(files) == ["src/never.js", "src/util.js"]


def test_the_same_bytes_sent_for_two_packages_are_two_reports(crossbridge_env, dagster_instance):
    s = crossbridge_env
    for package in "ab":
        folder = s.inbox / "up" / "packages" / package
        folder.mkdir(parents=True)
        shutil.copyfile(MONO / "package-b" / "lcov.info", folder / "lcov.info")
    drop(s, "crossbridge.json", "up", text=json.dumps({
        "project": "web", "branch": "main", "build": "80",
        "files": {f"packages/{p}/lcov.info": {"source_prefix": f"packages/{p}"} for p in "ab"}}))
    ingest(dagster_instance)
    refresh(dagster_instance)
    with make_engine(s.warehouse_url).connect() as conn:
        assert conn.execute(select(schema.reports.c.status)).scalars().all() == ["landed", "landed"]
    _, files = merged_files(s)
    assert sorted(files) == ["packages/a/src/util.js", "packages/b/src/util.js"]


@pytest.mark.parametrize("value, reason", [
    ("/home/runner/work/web/web/packages/a", "is absolute"),
    ("C:\\work\\packages\\a", "is absolute"),
    ("../elsewhere", "names no folder inside the repository"),
    ("", "must name a folder inside the repository"),
    (["packages/a"], "must name a folder inside the repository"),
])
def test_a_prefix_outside_the_repository_is_refused_naming_the_key(tmp_path, value, reason):
    path = tmp_path / "crossbridge.json"
    path.write_text(json.dumps({"project": "web", "source_prefix": value}))
    with pytest.raises(ManifestError) as top:
        read_manifest(path)
    assert top.value.reason.startswith("source_prefix ") and reason in top.value.reason
    path.write_text(json.dumps({"project": "web", "files": {"lcov.info": {"source_prefix": value}}}))
    with pytest.raises(ManifestError) as per_file:
        read_manifest(path)
    assert per_file.value.reason.startswith("files['lcov.info'].source_prefix ") and reason in per_file.value.reason


def test_a_refused_prefix_quarantines_the_drop_naming_the_manifest(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop_package(s, "up", "a", {"project": "web", "build": "81", "source_prefix": "../a"})
    first_cursor, _ = ingest(dagster_instance)
    (row,) = reports(s).values()
    assert row.status == "quarantined" and "source_prefix" in row.reason and "crossbridge.json" in row.reason


def test_only_paths_written_relative_are_read_under_the_prefix():
    with using_source_prefix("packages/a"):
        assert normalize_source_path("src/util.js") == "packages/a/src/util.js"
        assert normalize_source_path(".\\src\\util.js") == "packages/a/src/util.js"
        assert normalize_source_path("../shared/log.js") == "packages/shared/log.js"  # a sibling package
        assert normalize_source_path("../../../etc/x.js") == "etc/x.js"  # never out of the repository
        # Absolute: the checkout folder places it, whatever the prefix.
        assert normalize_source_path("/home/runner/work/web/web/packages/b/src/util.js") == "packages/b/src/util.js"
        # Already placed (normalized twice within one report): not prefixed again.
        assert normalize_source_path("packages/a/src/util.js") == "packages/a/src/util.js"
    assert normalize_source_path("src/util.js") == "src/util.js"
    assert check_source_prefix("packages\\a/") == "packages/a"


@pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)
def test_crossbridge_ingest_takes_each_package_s_prefix(crossbridge_env, capsys, monkeypatch, tmp_path):
    """A CI job ingests each package's report with its folder: one run, both packages apart."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    for package in "ab":
        code, out, err = run_cli(capsys, "ingest", "--project", "web", "--branch", "main", "--build", "90",
                                 "--source-prefix", f"packages/{package}", str(MONO / f"package-{package}" / "lcov.info"))
        assert code == 0, err
    _, files = merged_files(crossbridge_env)
    assert covered(files) == root_run_lines()

    with pytest.raises(SystemExit) as refused:
        run_cli(capsys, "ingest", "--source-prefix", "/abs/packages/a", str(MONO / "package-a" / "lcov.info"))
    assert refused.value.code == 2
    assert "--source-prefix" in capsys.readouterr().err


def test_jacoco_package_paths_are_placed_by_the_module_s_source_folder():
    report = FIXTURES / "coverage" / "java" / "jacoco.xml"
    with using_source_prefix("billing/src/main/java"):
        paths = [fc.path for fc in detect(report).open(report)]
    assert paths == ["billing/src/main/java/sample/Calc.java"]
