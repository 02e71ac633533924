"""A CI job re-run sends its reports again, with the build number of the first try: a report of
other content from the same place (same path within its drop) for the same run replaces the
earlier one, whose rows are removed; reports that only share a name stay separate."""

import json

import dagster as dg
import pytest
from sqlalchemy import select

from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import coverage_runs
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.test_coverage_e2e import OPS_UNCOVERED, OPS_VALID, ingest, lcov_with
from crossbridge_assets_tests.test_ingest_e2e import drop


def junit(name: str, **cases: str) -> str:
    """A small JUnit file as pytest --junitxml writes it: one testcase per keyword (passed|failed)."""
    body = "".join(
        f'<testcase classname="tests.test_cart" name="{t}" time="0.01">'
        + ('<failure message="assert 1 == 2">AssertionError</failure>' if outcome == "failed" else "")
        + "</testcase>"
        for t, outcome in cases.items()
    )
    fails = sum(o == "failed" for o in cases.values())
    return (f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="{name}" errors="0" '
            f'failures="{fails}" skipped="0" tests="{len(cases)}" time="0.1">{body}</testsuite></testsuites>')


FIRST_TRY = junit("pytest", test_add="passed", test_remove="failed", test_total="failed")
RE_RUN = junit("pytest", test_add="passed", test_remove="passed", test_total="passed")


def send(settings, folder: str, name: str, text: str, **manifest) -> None:
    drop(settings, name, folder, text=text)
    (settings.inbox / folder.split("/")[0] / "crossbridge.json").write_text(
        json.dumps({"project": "shop", "branch": "main", **manifest}))


def reports(settings) -> list:
    with make_engine(settings.warehouse_url).connect() as conn:
        return list(conn.execute(select(schema.reports).order_by(schema.reports.c.arrived_at)))


def rows_by_report(settings, table) -> dict[str, int]:
    with make_engine(settings.warehouse_url).connect() as conn:
        out: dict[str, int] = {}
        for sha in conn.execute(select(table.c.report_sha256)).scalars():
            out[sha] = out.get(sha, 0) + 1
        return out


def test_a_rerun_job_replaces_its_first_try_and_the_day_counts_it_once(crossbridge_env, dagster_instance):
    s = crossbridge_env
    send(s, "upload-1/results", "junit.xml", FIRST_TRY, build="88", shard="2")
    cursor, _ = ingest(dagster_instance)
    # The re-run uploads into a folder of its own: the same path within its drop.
    send(s, "upload-2/results", "junit.xml", RE_RUN, build="88", shard="2")
    cursor, (result,) = ingest(dagster_instance, cursor)

    first, again = reports(s)
    assert (first.status, again.status) == ("superseded", "landed")
    assert again.sha256 in first.reason and "upload-2/results/junit.xml" in first.reason
    assert first.run_id == again.run_id
    assert rows_by_report(s, schema.test_results) == {again.sha256: 3}
    assert set(rows_by_report(s, schema.test_attempts)) == {again.sha256}
    md = result.asset_materializations_for_node("test_results")[0].metadata
    assert (md["tests"].value, md["passed"].value, md["failures"].value) == (3, 3, 0)

    # The same re-run sent once more is a duplicate, as before.
    send(s, "upload-3/results", "junit.xml", RE_RUN, build="88", shard="2")
    cursor, _ = ingest(dagster_instance, cursor)
    assert [r.status for r in reports(s)] == ["superseded", "landed"]
    assert rows_by_report(s, schema.test_results) == {again.sha256: 3}

    # A backfill of the day from the archive keeps the first try superseded.
    job = defs.resolve_job_def("ingest")
    done = job.execute_in_process(partition_key=again.partition, instance=dagster_instance)
    assert done.success
    assert [r.status for r in reports(s)] == ["superseded", "landed"]
    assert rows_by_report(s, schema.test_results) == {again.sha256: 3}
    assert done.asset_materializations_for_node("test_results")[0].metadata["tests"].value == 3
    assert done.asset_materializations_for_node("landed_reports")[0].metadata["landed"].value == 1


def test_reports_that_only_share_a_name_stay_separate(crossbridge_env, dagster_instance):
    s = crossbridge_env
    # Surefire: one TEST-*.xml per class, here of the same name in two folders of one upload.
    send(s, "upload-1/a", "TEST-cart.xml", FIRST_TRY, build="90", shard="1")
    send(s, "upload-1/b", "TEST-cart.xml", RE_RUN, build="90", shard="1")
    # The same path for another shard, and for another build.
    send(s, "upload-2/a", "TEST-cart.xml", RE_RUN, build="90", shard="2")
    send(s, "upload-3/a", "TEST-cart.xml", RE_RUN, build="91", shard="1")
    # Shards without a label are known by their upload only: two uploads of one build stay two.
    send(s, "upload-4/a", "junit.xml", FIRST_TRY, build="92")
    send(s, "upload-5/a", "junit.xml", RE_RUN, build="92")
    ingest(dagster_instance)
    rows = reports(s)
    assert len(rows) == 6 and {r.status for r in rows} == {"landed"}
    assert sorted(rows_by_report(s, schema.test_results).values()) == [3] * 6


def test_an_unlabelled_rerun_sent_to_the_same_folder_replaces_it(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop(s, "junit.xml", "shop/main/93", text=FIRST_TRY)  # run from the inbox path convention
    cursor, _ = ingest(dagster_instance)
    drop(s, "junit.xml", "shop/main/93", text=RE_RUN)
    ingest(dagster_instance, cursor)
    first, again = reports(s)
    assert (first.status, again.status) == ("superseded", "landed")
    assert rows_by_report(s, schema.test_results) == {again.sha256: 3}


def test_a_rerun_coverage_shard_replaces_its_first_try(crossbridge_env, dagster_instance, tmp_path):
    s = crossbridge_env
    few = lcov_with(OPS_VALID - OPS_UNCOVERED - {4, 5, 8, 9}, tmp_path / "first.lcov")
    more = lcov_with(OPS_VALID - OPS_UNCOVERED, tmp_path / "again.lcov")
    drop(s, "coverage.lcov", "upload-1/cov", source=few)
    (s.inbox / "upload-1" / "crossbridge.json").write_text(
        json.dumps({"project": "shop", "branch": "main", "build": "301", "shard": "1", "shards_expected": 1}))
    cursor, (alone,) = ingest(dagster_instance)
    first_pct = alone.asset_materializations_for_node("coverage")[0].metadata["line_pct"].value
    drop(s, "coverage.lcov", "upload-2/cov", source=more)
    (s.inbox / "upload-2" / "crossbridge.json").write_text(
        json.dumps({"project": "shop", "branch": "main", "build": "301", "shard": "1", "shards_expected": 1}))
    cursor, (result,) = ingest(dagster_instance, cursor)

    first, again = reports(s)
    assert (first.status, again.status) == ("superseded", "landed")
    assert again.sha256 in first.reason
    for table in (schema.coverage_files, schema.coverage_lines):
        assert set(rows_by_report(s, table)) == {again.sha256}, table.name
    md = result.asset_materializations_for_node("coverage")[0].metadata
    assert md["reports_loaded"].value == 1
    assert md["line_pct"].value == pytest.approx(100 * 14 / 19, abs=0.01) and md["line_pct"].value > first_pct
    refreshed = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dagster_instance, asset_selection=[dg.AssetKey("coverage_by_run")])
    assert refreshed.success
    (run,) = coverage_runs(make_engine(s.warehouse_url))
    assert run["shards_seen"] == 1 and run["line_pct"] == pytest.approx(100 * 14 / 19, abs=0.01)


def test_a_rerun_report_cut_short_is_quarantined_and_the_first_try_kept(crossbridge_env, dagster_instance):
    s = crossbridge_env
    send(s, "upload-1/results", "junit.xml", FIRST_TRY, build="94", shard="1")
    cursor, _ = ingest(dagster_instance)
    # The re-run's upload broke off: the head reads as JUnit, the rest is missing.
    send(s, "upload-2/results", "junit.xml", RE_RUN[: len(RE_RUN) // 2], build="94", shard="1")
    cursor, (result,) = ingest(dagster_instance, cursor)

    first, broken = reports(s)
    assert (first.status, broken.status) == ("landed", "quarantined")
    assert "kept" in broken.reason
    assert rows_by_report(s, schema.test_results) == {first.sha256: 3}

    # Sent again whole, it supersedes the first try as any re-run does, and retires the broken copy.
    send(s, "upload-3/results", "junit.xml", RE_RUN, build="94", shard="1")
    ingest(dagster_instance, cursor)
    statuses = {r.sha256: r.status for r in reports(s)}
    assert (statuses[first.sha256], statuses.get(broken.sha256)) == ("superseded", None)
    (whole,) = [sha for sha, status in statuses.items() if status == "landed"]
    assert rows_by_report(s, schema.test_results) == {whole: 3}
