"""Patch coverage of every run in the warehouse: a CI job sends its change (a `git diff` against
the merge base, by hand or with `crossbridge ingest --diff`) beside its coverage; the
`patch_coverage` asset measures it with diff-cover's rules and `patch_coverage_threshold`
holds each branch's newest change to its threshold.

A real repository with a feature branch, a real coverage.py run, and diff-cover's own figures
for the same diff and report (test_coverage_patch.changed_repo)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import datetime, timedelta, timezone
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from crossbridge_assets import cli
from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.changes import patch_coverage_rows
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.test_coverage_e2e import checks_of, drop_shard, ingest
from crossbridge_assets_tests.test_coverage_patch import changed_repo, git  # noqa: F401 - the fixture
from crossbridge_assets_tests.test_ingest_e2e import drop

DERIVED = ["coverage_by_run", "patch_coverage"]


def refresh(instance) -> dg.ExecuteInProcessResult:
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(k) for k in DERIVED])
    assert result.success
    return result


def committed_change(repo) -> str:
    """What the CI job of the feature branch sends: its committed change against the merge base."""
    return git(repo, "diff", "main...HEAD")


def diff_cover_committed(repo, report: str) -> dict:
    """diff-cover's figures for the committed change only (the build's own commit)."""
    exe = shutil.which("diff-cover", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("diff-cover is not installed (pip install diff-cover)")
    out = repo / "diff-cover-committed.json"
    subprocess.run([exe, report, "--compare-branch", "main", "--ignore-staged", "--ignore-unstaged",
                    "--total-percent-float", "--format", f"json:{out}"], cwd=repo, check=True, capture_output=True)
    return json.loads(out.read_text())


def test_a_run_s_change_is_measured_against_its_coverage_as_diff_cover_does(changed_repo, crossbridge_env,  # noqa: F811
                                                                           dagster_instance):
    s = crossbridge_env
    drop_shard(s, "b7", changed_repo / "coverage.xml", "coverage.xml", build="7")
    drop(s, "change.diff", "b7", text=committed_change(changed_repo))
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert md["changes_loaded"].value == 1
    result = refresh(dagster_instance)

    (row,) = patch_coverage_rows(make_engine(s.warehouse_url))
    theirs = diff_cover_committed(changed_repo, "coverage.xml")
    assert row["measured_lines"] == theirs["total_num_lines"]
    assert row["measured_lines"] - row["covered_lines"] == theirs["total_num_violations"]
    assert row["pct"] == pytest.approx(theirs["total_percent_covered"], abs=0.01)
    # The empty basket, the 100% discount and the negative rate did not run.
    assert row["uncovered"] == [{"file": "shop/prices.py", "lines": "7, 15, 22"}]
    assert (row["project"], row["branch"], row["build"], row["complete"]) == ("shop", "main", "7", True)

    md = result.asset_materializations_for_node("patch_coverage")[0].metadata
    assert md["patch_pct"].value == row["pct"] and md["runs_updated"].value == 1
    assert "shop/prices.py: 7, 15, 22" in md["recent_runs"].value
    assert checks_of(result)["patch_coverage_threshold"].passed is True  # no threshold set

    # The run's own change, from a terminal without its checkout: `patch-coverage --run ID`.
    elsewhere = changed_repo.parent / "elsewhere"
    elsewhere.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(elsewhere)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["patch-coverage", "--run", row["run_id"], "--json"]) == 0
    report = json.loads(out.getvalue())
    assert report["compare"] == f"the change run {row['run_id']} sent"
    assert report["files"]["shop/prices.py"]["uncovered"] == [7, 15, 22]
    assert report["percent"] == row["pct"]

    # Unchanged inputs are not measured again.
    again = refresh(dagster_instance).asset_materializations_for_node("patch_coverage")[0].metadata
    assert again["runs_updated"].value == 0 and again["dagster/row_count"].value == 1


def test_a_change_covered_under_its_threshold_fails_the_check_naming_the_lines(
        changed_repo, crossbridge_env, dagster_instance, monkeypatch):  # noqa: F811
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS", '{"shop/main": 90, "*": 0}')
    drop_shard(s, "b8", changed_repo / "coverage.lcov", "coverage.lcov", build="8")
    drop(s, "change.diff", "b8", text=committed_change(changed_repo))
    ingest(dagster_instance)
    check = checks_of(refresh(dagster_instance))["patch_coverage_threshold"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    assert "shop/main #8" in check.description and "< 90%" in check.description
    assert "shop/prices.py: 7, 15, 22" in check.description
    (row,) = patch_coverage_rows(make_engine(s.warehouse_url))
    assert check.metadata["run_ids"].value == [row["run_id"]]

    # A branch that sent nothing for the window (merged, abandoned) is no longer judged.
    with make_engine(s.warehouse_url).begin() as conn:
        conn.execute(schema.patch_coverage.update().values(started_at=datetime.now(timezone.utc) - timedelta(days=45)))
    # (Its inputs unchanged, the refresh keeps the row as it is.)
    assert checks_of(refresh(dagster_instance))["patch_coverage_threshold"].passed is True
    with make_engine(s.warehouse_url).begin() as conn:
        conn.execute(schema.patch_coverage.update().values(started_at=datetime.now(timezone.utc)))

    # Another project's threshold is its own.
    monkeypatch.setenv("CROSSBRIDGE_PATCH_COVERAGE_THRESHOLDS", '{"other": 90, "*": 50}')
    assert checks_of(refresh(dagster_instance))["patch_coverage_threshold"].passed is True


def test_crossbridge_ingest_diff_sends_the_checkout_s_change_with_its_coverage(
        changed_repo, crossbridge_env, capsys, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.chdir(changed_repo)
    code = cli.main(["ingest", "--project", "shop", "--branch", "feature", "--build", "12", "--diff", "main",
                     str(changed_repo / "coverage.xml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "change against the merge base of main sent for patch coverage" in out
    # The run's patch coverage, measured as the asset measures it, with the lines no test ran.
    (row,) = patch_coverage_rows(make_engine(crossbridge_env.warehouse_url))
    assert f"patch {row['pct']:.2f}%" in out and row["pct"] < 100
    assert "changed, not run: shop/prices.py: 7, 15, 22" in out
    assert cli.main(["summary", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["coverage"]["patch_pct"] == row["pct"]
    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        kinds = sorted(conn.execute(select(schema.reports.c.kind, schema.reports.c.status)).all())
        files = conn.execute(select(schema.run_changes.c.file)).scalars().all()
    assert kinds == [("change", "landed"), ("coverage", "landed")]
    assert sorted(files) == ["shop/prices.py", "tests/test_prices.py"]

    # A history that does not reach the merge base (a shallow CI clone) is said, naming the fix.
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{changed_repo}", str(shallow)],
                   check=True, capture_output=True)
    subprocess.run(["git", "fetch", "-q", "--depth", "1", "origin", "main:main"], cwd=shallow, check=True,
                   capture_output=True)
    monkeypatch.chdir(shallow)
    assert cli.main(["ingest", "--diff", "main", str(changed_repo / "coverage.xml")]) == 2
    err = capsys.readouterr().err
    assert "--diff main: cannot read the change" in err and "fetch depth of 0" in err


def test_a_diff_is_detected_by_its_content_and_a_broken_one_is_quarantined(crossbridge_env, dagster_instance, tmp_path):
    s = crossbridge_env
    good = ("commit 0123456789abcdef0123456789abcdef01234567\nAuthor: Dev <dev@example.com>\n\n    change\n\n"
            "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,0 +2,2 @@\n+a = 1\n+b = 2\n")
    drop(s, "show.txt", "shop/main/5", text=good)  # `git show` output, named as anything
    drop(s, "broken.patch", "shop/main/5", text="diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +oops @@\n+x\n")
    _, results = ingest(dagster_instance)
    check = checks_of(results[0])["coverage_parse_errors"]
    assert check.passed is False and "broken.patch" in check.description
    with make_engine(s.warehouse_url).connect() as conn:
        rows = conn.execute(select(schema.run_changes.c.file, schema.run_changes.c.lines)).all()
    assert rows == [("app.py", "2-3")]


def test_parse_reads_a_diff_as_a_change(tmp_path, capsys):
    path = tmp_path / "change.diff"
    path.write_text("diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,0 +1,3 @@\n+x\n+y\n+z\n"
                    "diff --git a/b.py b/b.py\ndeleted file mode 100644\n--- a/b.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-q\n")
    assert cli.main(["parse", "--json", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["kind"], out["format"], out["totals"]) == ("change", "git-diff", {"files": 1, "lines": 3})


def test_the_demo_s_feature_branch_sends_its_change_and_the_ui_shows_its_patch_coverage(tmp_path):
    """The demo's feature-branch builds send the diff of a payment method their tests never run:
    patch coverage well under the branch's line coverage, naming those lines."""
    from crossbridge_assets import demo
    from crossbridge_assets.formats import detect

    files = demo.generate(tmp_path / "inbox", days=14, seed=7)
    diffs = [f for f in files if f.name == "change.diff"]
    assert diffs and all("feature" in f.as_posix() for f in diffs)
    spec = detect(diffs[0])
    changes = {c.path: c.lines for c in spec.open(diffs[0])}
    assert (spec.name, changes) == ("git-diff", {"app/cart.py": [11, 12], "app/payment.py": list(range(196, 202))})


def test_retention_keeps_a_run_s_patch_coverage_and_drops_its_changed_lines(
        changed_repo, crossbridge_env, dagster_instance):  # noqa: F811
    """As coverage_runs keeps a run's figures when its files expire, patch_coverage keeps its
    figure; the diff's rows go with the diff."""
    from datetime import date, timedelta

    from sqlalchemy import func

    from crossbridge_assets.warehouse.retention import apply_retention

    s = crossbridge_env
    drop_shard(s, "b9", changed_repo / "coverage.xml", "coverage.xml", build="9")
    drop(s, "change.diff", "b9", text=committed_change(changed_repo))
    ingest(dagster_instance)
    refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    (before,) = patch_coverage_rows(engine)
    report = apply_retention(s, engine, 7, today=date.today() + timedelta(days=30))
    assert report.reports_expired == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.run_changes)).scalar_one() == 0
    refresh(dagster_instance)
    (after,) = patch_coverage_rows(engine)
    assert (after["pct"], after["uncovered"], after["computed_at"]) == (before["pct"], before["uncovered"],
                                                                         before["computed_at"])
