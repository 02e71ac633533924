"""Follow-ups on landing re-sent reports, the default run of `crossbridge impact`, and the
coverage drop check's tolerance."""

import json
from pathlib import Path

from crossbridge_assets.warehouse import schema
from crossbridge_assets_tests.test_coverage_e2e import (
    CHANGE,
    OPS_UNCOVERED,
    OPS_VALID,
    PY,
    checks_of,
    ingest,
    lcov_with,
)
from crossbridge_assets_tests.test_ingest_e2e import drop
from crossbridge_assets_tests.test_landing_resend import FIRST_TRY, RE_RUN, reports, rows_by_report, send

# ---------------------------------------------------------------- landing: a broken re-sent copy


def test_a_broken_rerun_copy_is_retired_when_the_whole_copy_lands_from_another_upload(crossbridge_env, dagster_instance):
    s = crossbridge_env
    send(s, "upload-1/results", "junit.xml", FIRST_TRY, build="95", shard="1")
    cursor, _ = ingest(dagster_instance)
    send(s, "upload-2/results", "junit.xml", RE_RUN[: len(RE_RUN) // 2], build="95", shard="1")
    cursor, (cut,) = ingest(dagster_instance, cursor)
    assert checks_of(cut)["parse_errors"].passed is False
    broken = next(r for r in reports(s) if r.status == "quarantined")

    # The CI job is re-run once more and its upload goes through: a third folder, same manifest.
    send(s, "upload-3/results", "junit.xml", RE_RUN, build="95", shard="1")
    cursor, (result,) = ingest(dagster_instance, cursor)
    rows = reports(s)
    assert broken.sha256 not in {r.sha256 for r in rows}
    assert sorted(r.status for r in rows) == ["landed", "superseded"]
    assert not Path(broken.archive_path).exists() and not Path(broken.archive_path + ".json").exists()
    (whole,) = [r.sha256 for r in rows if r.status == "landed"]
    assert rows_by_report(s, schema.test_results) == {whole: 3}
    check = checks_of(result)["parse_errors"]
    assert check.passed is True, check.description


def test_a_broken_copy_of_another_shard_build_or_place_stays_quarantined(crossbridge_env, dagster_instance):
    s = crossbridge_env
    def cut(n: int) -> str:  # uploads broken off at different points
        return RE_RUN[: len(RE_RUN) // 2 + n]

    send(s, "upload-1/results", "junit.xml", cut(0), build="96", shard="2")  # another shard
    send(s, "upload-2/results", "junit.xml", cut(1), build="97", shard="1")  # another build
    send(s, "upload-3/other", "junit.xml", cut(2), build="96", shard="1")  # another place in its drop
    send(s, "upload-4/results", "TEST-cart.xml", cut(3), build="96", shard="1")  # another name
    cursor, _ = ingest(dagster_instance)
    assert [r.status for r in reports(s)] == ["quarantined"] * 4

    send(s, "upload-5/results", "junit.xml", RE_RUN, build="96", shard="1")
    cursor, (result,) = ingest(dagster_instance, cursor)
    rows = reports(s)
    assert sorted(r.status for r in rows) == ["landed"] + ["quarantined"] * 4
    check = checks_of(result)["parse_errors"]
    assert check.passed is False and "4 report(s) quarantined" in check.description


def test_unlabelled_shards_retire_a_broken_copy_from_the_same_inbox_path_only(crossbridge_env, dagster_instance):
    s = crossbridge_env
    # Without a shard label a report is known by its inbox path (two jobs of one build may send
    # reports of the same name from uploads of their own).
    cut = RE_RUN[: len(RE_RUN) // 2]
    send(s, "upload-1/results", "junit.xml", cut, build="98")
    cursor, _ = ingest(dagster_instance)
    send(s, "upload-2/results", "junit.xml", RE_RUN, build="98")
    cursor, _ = ingest(dagster_instance, cursor)
    assert sorted(r.status for r in reports(s)) == ["landed", "quarantined"]
    send(s, "upload-1/results", "junit.xml", FIRST_TRY, build="98")
    ingest(dagster_instance, cursor)
    assert sorted(r.status for r in reports(s)) == ["landed", "landed"]


def test_a_broken_rerun_coverage_shard_is_retired_when_the_same_bytes_as_the_first_try_arrive(
        crossbridge_env, dagster_instance, tmp_path):
    s = crossbridge_env
    # LCOV files carry no timestamp: a re-run's coverage is often the first try's bytes again,
    # which land as a duplicate of the first try.
    lcov = lcov_with(OPS_VALID - OPS_UNCOVERED, tmp_path / "cov.lcov")
    manifest = {"build": "302", "shard": "1", "shards_expected": 1}
    send(s, "upload-1/cov", "coverage.lcov", lcov.read_text(), **manifest)
    cursor, _ = ingest(dagster_instance)
    text = lcov.read_text()
    # The re-run's upload broke off inside its first line record.
    send(s, "upload-2/cov", "coverage.lcov", text[: text.index("DA:") + 5], **manifest)
    cursor, (cut,) = ingest(dagster_instance, cursor)
    # Quarantined by landing once its format was known: the coverage check names it.
    cut_checks = checks_of(cut)
    assert cut_checks["coverage_parse_errors"].passed is False and cut_checks["parse_errors"].passed is True
    send(s, "upload-3/cov", "coverage.lcov", lcov.read_text(), **manifest)
    cursor, (result,) = ingest(dagster_instance, cursor)
    assert [r.status for r in reports(s)] == ["landed"]
    checks = checks_of(result)
    assert checks["parse_errors"].passed is True and checks["coverage_parse_errors"].passed is True



# ---------------------------------------------------------------- impact: whose map, without --project

COVPY = PY.parent / "coveragepy-versions" / "v7.4.4"  # another project's run: src/shop/cart.py, nsp/...


def test_impact_without_project_uses_the_project_whose_map_has_the_changed_files(
        crossbridge_env, dagster_instance, tmp_path, capsys):
    from crossbridge_assets.cli import main

    s = crossbridge_env
    for project, folder, source, build in (("shop", "shop-ctx", PY / ".coverage", "77"),
                                           ("billing", "billing-ctx", COVPY / ".coverage", "78")):
        drop(s, "unit.coverage", folder, source=source)
        (s.inbox / folder / "crossbridge.json").write_text(
            json.dumps({"project": project, "branch": "main", "build": build}))
        ingest(dagster_instance)  # billing's map arrives last: the newest of the warehouse
    diff = tmp_path / "change.diff"
    diff.write_text(CHANGE)

    assert main(["impact", "--diff-file", str(diff), "--json"]) == 0
    out, err = capsys.readouterr()
    found = json.loads(out)
    assert found["tests"] == ["checks_ops.test_classify", "checks_ops.test_divide", "checks_ops.test_divide_by_zero"]
    assert "2 projects: using shop" in err

    # --project still chooses, whatever the change.
    assert main(["impact", "--diff-file", str(diff), "--json", "--project", "billing"]) == 0
    assert json.loads(capsys.readouterr().out)["unmapped"] == ["calc/new.py", "calc/ops.py"]

    # A change no map knows does not tell the project: refused, naming the candidates.
    only_new = tmp_path / "new.diff"
    only_new.write_text(CHANGE[CHANGE.index("diff --git a/calc/new.py"):])
    assert main(["impact", "--diff-file", str(only_new), "--tests-only"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "2 projects (billing, shop)" in err and "--project" in err


# ---------------------------------------------------------------- coverage drop: unrounded


def _run(build: str, covered: int, valid: int) -> dict:
    """A row of coverage_runs: line_pct rounded to hundredths, as the warehouse keeps it."""
    return {"run_id": f"r{build}", "project": "shop", "branch": "main", "build": build, "complete": True,
            "started_at": f"2026-03-0{build}T10:00:00Z", "lines_covered": covered, "lines_valid": valid,
            "line_pct": round(100 * covered / valid, 2)}


def test_a_drop_just_over_the_tolerance_is_reported_with_the_digits_that_show_it():
    from crossbridge_assets.analysis.coverage_policy import drops

    # 80.004 % -> 78.9973 %: 1.0067 points lost, though the rounded figures (80.0, 79.0) differ by 1.0.
    (found,) = drops([_run("1", 800_040, 1_000_000), _run("2", 789_973, 1_000_000)], 1.0)
    assert found["run_id"] == "r2" and found["drop"] == 1.01
    # 52.6316 % -> 47.3684 %: 5.263 points, over a tolerance of 5.26, never shown as "5.26".
    (found,) = drops([_run("1", 10, 19), _run("2", 9, 19)], 5.26)
    assert found["drop"] == 5.264 and found["drop"] > 5.26
    # Exactly the tolerance is tolerated, and the counts decide, not the rounded figures.
    assert drops([_run("1", 80, 100), _run("2", 79, 100)], 1.0) == []
    assert drops([_run("1", 7_999_949, 10_000_000), _run("2", 7_899_951, 10_000_000)], 1.0) == []
