"""Source roots and shard counting: shards of one run written on different machines merge into
one set of repository-relative files (the CROSSBRIDGE_COVERAGE_SOURCE_ROOTS variable, a drop's
`source_roots`, `patch-coverage --source-root`, the CI services' known folders), and a run is
complete when every shard, not every report, arrived.

The reports are the committed fixtures written by coverage.py (fixtures/coverage), with their
paths rewritten into the layout a self-hosted runner gives them: `<source>` absolute in the XML
(what coverage.py writes without relative_files), absolute SF: paths in LCOV."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from crossbridge_assets import cli, settings
from crossbridge_assets.definitions import defs
from crossbridge_assets.formats import open_report, read_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets.formats._paths import SourceRoot, normalize_source_path, using_source_roots
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import _shards_seen, coverage_runs, run_merge
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.run_metadata import ManifestError, drop_of, read_manifest
from crossbridge_assets_tests.test_coverage_e2e import OPS_UNCOVERED, OPS_VALID, PY, drop_shard, ingest, lcov_with, refresh

VARIABLE = "CROSSBRIDGE_COVERAGE_SOURCE_ROOTS"
# Two self-hosted runners whose work folder is not the runner's default `_work`: no built-in
# pattern knows it, so without a configured root every path stays absolute.
GPU1 = "/srv/runners/gpu-01/work/shop/shop"
GPU2 = "/srv/runners/gpu-02/work/shop/shop"
GLOB = "/srv/runners/*/work/shop/shop"
# Shard 2 covers two lines shard 1 missed (23, 24) and misses two it covered (4, 5).
SHARD2_COVERED = (OPS_VALID - OPS_UNCOVERED - {4, 5}) | {23, 24}
UNION_COVERED = OPS_VALID - {18, 25, 26}


def xml_at(root: str, path: Path) -> Path:
    """coverage.xml as coverage.py writes it in a checkout at `root` (an absolute <source>)."""
    text = (PY / "coverage.xml").read_text()
    assert "<source>calc</source>" in text
    path.write_text(text.replace("<source>calc</source>", f"<source>{root}/calc</source>"))
    return path


def lcov_at(root: str, path: Path, covered: set[int] = SHARD2_COVERED) -> Path:
    """The LCOV fixture with calc/ops.py's hits set to `covered`, its SF: paths under `root`."""
    lcov_with(covered, path)
    path.write_text(path.read_text().replace("SF:calc/", f"SF:{root}/calc/"))
    return path


@pytest.fixture
def no_roots(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)


def the_run(settings_):
    engine = make_engine(settings_.warehouse_url)
    (run,) = coverage_runs(engine)
    return run, run_merge(engine, run["run_id"]).files


# ---------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "raw, expected",
    [
        # GitHub self-hosted runners and actions-runner-controller: _work/<repo>/<repo>/
        ("/home/runner/actions-runner/_work/shop/shop/src/x.py", "src/x.py"),
        ("/opt/actions-runner/_work/shop/shop/src/x.py", "src/x.py"),
        ("/home/runner/_work/shop/shop/src/x.py", "src/x.py"),
        ("C:\\actions-runner\\_work\\shop\\shop\\src\\x.cs", "src/x.cs"),
        # ... but not the runner's own folders, nor a '_work' folder that is no checkout
        ("/home/runner/actions-runner/_work/_temp/_temp/x.py", "/home/runner/actions-runner/_work/_temp/_temp/x.py"),
        ("/srv/_work/a/b/x.py", "/srv/_work/a/b/x.py"),
        # GitLab shell executor: builds/<runner token>/<concurrency id>/<group>/<project>/
        ("/home/gitlab-runner/builds/xYz12AbC/0/group/shop/src/x.py", "src/x.py"),
        ("C:\\GitLab-Runner\\builds\\xYz12AbC\\1\\group\\shop\\src\\x.cs", "src/x.cs"),
        # Jenkins on Windows and SSH agents
        ("C:\\ProgramData\\Jenkins\\.jenkins\\workspace\\shop-main\\src\\x.cs", "src/x.cs"),
        ("D:/Jenkins/workspace/shop-main@2/src/x.cs", "src/x.cs"),
        ("c:/jenkins/agent/workspace/shop/src/x.cs", "src/x.cs"),
        ("/home/jenkins/workspace/shop/src/x.py", "src/x.py"),
        # Buildkite: builds/<agent>/<organization>/<pipeline>/
        ("/var/lib/buildkite-agent/builds/agent-1/acme/shop/src/x.py", "src/x.py"),
        ("/buildkite/builds/bk-1/acme/shop/src/x.py", "src/x.py"),
        ("/opt/homebrew/var/buildkite-agent/builds/mac-1/acme/shop/src/x.py", "src/x.py"),
        ("C:\\buildkite-agent\\builds\\win-1\\acme\\shop\\src\\x.py", "src/x.py"),
        # A GitLab subgroup cannot be told from a folder of the project: a configured root says it.
        ("/builds/group/sub/app/src/x.py", "app/src/x.py"),
    ],
)
def test_known_ci_layouts(raw, expected):
    assert normalize_source_path(raw) == expected


def test_configured_roots_globs_and_scope():
    assert normalize_source_path("/builds/group/sub/app/src/x.py", ["/builds/group/sub/app"]) == "src/x.py"
    assert normalize_source_path(f"{GPU2}/calc/ops.py", [GLOB]) == "calc/ops.py"
    assert normalize_source_path(f"{GPU2}/calc/ops.py", ["/srv/runners/gpu-0?/work/shop/shop/"]) == "calc/ops.py"
    # '*' stays inside one folder name, and a root matches whole folders only.
    assert normalize_source_path("/srv/runners/a/b/work/shop/shop/x.py", [GLOB]) == "/srv/runners/a/b/work/shop/shop/x.py"
    assert normalize_source_path(f"{GPU1}x/calc/ops.py", [GPU1]) == f"{GPU1}x/calc/ops.py"
    assert SourceRoot("C:\\Agents\\*\\work").rest_of("c:/agents/a1/work/src/x.cs") == "src/x.cs"
    # The longest match wins, whichever way the roots are given.
    assert normalize_source_path(f"{GPU1}/calc/ops.py", ["/srv/runners", GLOB]) == "calc/ops.py"
    with using_source_roots([GLOB]):
        assert normalize_source_path(f"{GPU1}/calc/ops.py") == "calc/ops.py"
        with using_source_roots(["/elsewhere"]):
            assert normalize_source_path(f"{GPU1}/calc/ops.py") == "calc/ops.py"
    assert normalize_source_path(f"{GPU1}/calc/ops.py") == f"{GPU1}/calc/ops.py"


def test_roots_reach_cobertura_sources(tmp_path):
    """An absolute <source> outside every known workspace is left out (the class's file name
    alone stays); with a root that covers it, the file is named from the checkout."""
    xml = xml_at(GPU1, tmp_path / "coverage.xml")
    assert sorted(fc.path for fc in read_report(xml)[2]) == ["__init__.py", "ops.py"]
    merged = merge_coverage([open_report(xml)], source_roots=[GLOB])  # read inside, with the roots
    assert sorted(merged) == ["calc/__init__.py", "calc/ops.py"]


# ---------------------------------------------------------------------------- configuration


def test_the_variable(monkeypatch):
    env = {"CROSSBRIDGE_HOME": "/tmp/cb"}
    assert settings.load(env).coverage_source_roots == ()
    env[VARIABLE] = f" {GLOB} , C:\\agents\\*\\work\\shop ,, "
    assert settings.load(env).coverage_source_roots == (GLOB, "C:\\agents\\*\\work\\shop")
    for bad in ("/", "*", f"{GLOB},/*"):
        env[VARIABLE] = bad
        with pytest.raises(settings.SettingsError, match=VARIABLE):
            settings.load(env)


def test_the_manifest_key(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "drop" / "sub").mkdir(parents=True)
    manifest = inbox / "drop" / "crossbridge.json"
    manifest.write_text(json.dumps({"project": "shop", "source_roots": [GPU1, "C:/agents/*/work/shop"]}))
    assert read_manifest(manifest).project == "shop"
    report = inbox / "drop" / "sub" / "coverage.xml"
    # The drop is the manifest's folder, whatever subfolder the report is in.
    assert drop_of(report, inbox) == {"drop": "drop", "source_roots": [GPU1, "C:/agents/*/work/shop"]}
    assert drop_of(inbox / "elsewhere" / "x.xml", inbox) == {"drop": "elsewhere"}
    for bad, reason in (
        (GPU1, "must be a list"),
        ([GPU1, 3], "must be a list"),
        (["/"], "names no folder"),
    ):
        manifest.write_text(json.dumps({"project": "shop", "source_roots": bad}))
        with pytest.raises(ManifestError, match=reason):
            read_manifest(manifest)


def test_shards_are_counted_by_label_or_drop():
    def row(fmt, shard=None, source_path="d1/x"):
        return SimpleNamespace(format=fmt, shard=shard, source_path=source_path, archive_path=None, sha256="s")

    # One shard's XML, LCOV and data file in one folder (landed before drops were recorded).
    assert _shards_seen([row("coveragepy-xml"), row("lcov"), row("coveragepy-data")]) == 1
    assert _shards_seen([row("coveragepy-xml"), row("lcov", source_path="d2/x")]) == 2
    assert _shards_seen([row("coveragepy-xml", "1", "d1/x"), row("lcov", "1", "d2/x"), row("jacoco", "2")]) == 2
    # A run whose shards send data files only: each data file is its shard's coverage.
    assert _shards_seen([row("coveragepy-data"), row("coveragepy-data", source_path="d2/x")]) == 2


# ---------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("configured", [True, False], ids=["with-roots", "without-roots"])
def test_shards_from_two_self_hosted_runners_merge_with_the_setting(
    crossbridge_env, dagster_instance, tmp_path, monkeypatch, no_roots, configured
):
    s = crossbridge_env
    if configured:
        monkeypatch.setenv(VARIABLE, GLOB)
    drop_shard(s, "gpu1", xml_at(GPU1, tmp_path / "coverage.xml"), "coverage.xml", build="501", shard="1", shards_expected=2)
    drop_shard(s, "gpu2", lcov_at(GPU2, tmp_path / "ops.lcov"), "coverage.lcov", build="501", shard="2", shards_expected=2)
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert (GLOB in md["source_roots"].value) is configured
    refresh(dagster_instance)
    run, files = the_run(s)
    assert (run["shards_seen"], run["complete"]) == (2, True)
    if configured:
        assert sorted(files) == ["calc/__init__.py", "calc/ops.py"]
        assert (run["files"], run["lines_valid"], run["lines_covered"]) == (2, 19, 16)
        assert {n for n, h in files["calc/ops.py"].lines.items() if h} == UNION_COVERED
    else:
        # What the audit saw: every file twice, under two names, and nothing merged.
        assert sorted(files) == [f"{GPU2}/calc/__init__.py", f"{GPU2}/calc/ops.py", "__init__.py", "ops.py"]
        assert (run["files"], run["lines_valid"]) == (4, 38)


def test_the_default_self_hosted_layout_needs_no_setting(crossbridge_env, dagster_instance, tmp_path, no_roots):
    s = crossbridge_env
    runner = "/home/runner/actions-runner/_work/shop/shop"
    drop_shard(s, "hosted", PY / "coverage.xml", "coverage.xml", build="502", shard="1", shards_expected=2)
    drop_shard(s, "self", lcov_at(runner, tmp_path / "ops.lcov"), "coverage.lcov", build="502", shard="2", shards_expected=2)
    ingest(dagster_instance)
    refresh(dagster_instance)
    run, files = the_run(s)
    assert sorted(files) == ["calc/__init__.py", "calc/ops.py"]
    assert (run["files"], run["lines_valid"], run["lines_covered"], run["complete"]) == (2, 19, 16, True)


def test_a_drop_announces_its_source_roots(crossbridge_env, dagster_instance, tmp_path, no_roots):
    s = crossbridge_env
    drop_shard(s, "gpu1", xml_at(GPU1, tmp_path / "coverage.xml"), "coverage.xml", build="503",
               shard="1", shards_expected=2, source_roots=[GPU1])
    drop_shard(s, "gpu2", lcov_at(GPU2, tmp_path / "ops.lcov"), "coverage.lcov", build="503",
               shard="2", shards_expected=2, source_roots=[GPU2])
    _, results = ingest(dagster_instance)
    refresh(dagster_instance)
    run, files = the_run(s)
    assert sorted(files) == ["calc/__init__.py", "calc/ops.py"]
    assert (run["files"], run["lines_valid"], run["lines_covered"]) == (2, 19, 16)

    # A backfill of the day loads the archive again: the roots come with it (its sidecar).
    partition = results[0].dagster_run.tags["dagster/partition"]
    assert defs.resolve_job_def("ingest").execute_in_process(partition_key=partition, instance=dagster_instance).success
    with make_engine(s.warehouse_url).connect() as conn:
        stored = sorted(set(conn.execute(select(schema.coverage_files.c.path)).scalars()))
    assert stored == ["calc/__init__.py", "calc/ops.py"]


def test_a_bad_source_roots_key_quarantines_the_drop(crossbridge_env, dagster_instance, no_roots):
    s = crossbridge_env
    drop_shard(s, "bad", PY / "coverage.xml", "coverage.xml", build="504", source_roots="/srv/x")
    ingest(dagster_instance)
    with make_engine(s.warehouse_url).connect() as conn:
        (row,) = conn.execute(select(schema.reports.c.status, schema.reports.c.reason)).all()
    assert row.status == "quarantined" and "source_roots must be a list" in row.reason


def test_one_shard_in_two_formats_is_one_shard(crossbridge_env, dagster_instance, tmp_path, no_roots):
    """Shards without a label: one drop sending coverage.xml, coverage.lcov and the .coverage
    data file is one shard of two; the run is complete when the second drop arrives."""
    s = crossbridge_env
    drop_shard(s, "s1", PY / "coverage.xml", "coverage.xml", build="601", shards_expected=2)
    drop_shard(s, "s1", PY / "coverage.lcov", "coverage.lcov", build="601", shards_expected=2)
    drop_shard(s, "s1", PY / ".coverage", "unit.coverage", build="601", shards_expected=2)
    cursor, _ = ingest(dagster_instance)
    refresh(dagster_instance)
    run, _ = the_run(s)
    assert run["reports"] == 3
    assert (run["shards_seen"], run["shards_expected"], run["complete"]) == (1, 2, False)

    drop_shard(s, "s2", lcov_with(SHARD2_COVERED, tmp_path / "ops.lcov"), "coverage.lcov", build="601", shards_expected=2)
    ingest(dagster_instance, cursor)
    refresh(dagster_instance)
    run, files = the_run(s)
    assert (run["shards_seen"], run["complete"]) == (2, True)
    assert {n for n, h in files["calc/ops.py"].lines.items() if h} == UNION_COVERED


# ---------------------------------------------------------------------------- patch-coverage


def test_patch_coverage_source_root_option(tmp_path, capsys, monkeypatch, no_roots):
    monkeypatch.setenv("CROSSBRIDGE_HOME", str(tmp_path / "cbhome"))
    xml = str(xml_at(GPU1, tmp_path / "coverage.xml"))
    lcov = str(lcov_at(GPU2, tmp_path / "ops.lcov"))
    diff = tmp_path / "change.diff"
    # Lines 21-26 of calc/ops.py added: unused() and the blank line before it.
    diff.write_text(
        "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -20,0 +21,6 @@\n"
        + "".join(f"+line {n}\n" for n in range(21, 27))
    )

    def patch(*more: str) -> dict:
        assert cli.main(["patch-coverage", "--diff-file", str(diff), "--coverage", xml, "--coverage", lcov, "--json", *more]) == 0
        return json.loads(capsys.readouterr().out)["files"]["calc/ops.py"]

    # Unmerged, calc/ops.py is two files under other names: the change looks unmeasured.
    assert patch()["in_report"] is False
    merged = {"in_report": True, "measured": [22, 23, 24, 25, 26], "covered": [22, 23, 24], "uncovered": [25, 26]}
    got = patch("--source-root", GPU1, "--source-root", GPU2)
    assert {k: got[k] for k in merged} == merged and got["percent"] == 60.0
    monkeypatch.setenv(VARIABLE, GLOB)  # the default
    assert {k: patch()[k] for k in merged} == merged
    # Given roots replace the configured ones.
    assert patch("--source-root", "/nowhere")["in_report"] is False
    with pytest.raises(SystemExit):
        cli.main(["patch-coverage", "--diff-file", str(diff), "--coverage", xml, "--source-root", "/"])
    assert "names no folder" in capsys.readouterr().err


def test_a_manifest_nested_too_deep_is_refused_with_its_reason(tmp_path):
    from crossbridge_assets.warehouse.run_metadata import ManifestError, read_manifest

    path = tmp_path / "crossbridge.json"
    path.write_text('{"project": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    assert "nested too deep" in str(err.value) and str(path) in str(err.value)
