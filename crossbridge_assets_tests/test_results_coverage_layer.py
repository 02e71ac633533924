"""The results and coverage layer as the Dagster UI and CI meet it, through real Dagster
instances on SQLite and PostgreSQL: what the metadata tables render to, pass rates of days
where nothing ran, thresholds of projects named like GitHub repositories, quarantined coverage
reports, and alerts for checks that finish in another order than their runs were created."""

import html
import os
import re

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from markdown_it import MarkdownIt

from crossbridge_assets.definitions import defs
from crossbridge_assets.defs.common import md_cell, md_table
from crossbridge_assets.defs.health.alerting import check_alerts
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.queries import table_counts
from crossbridge_assets_tests.test_alerts import Receiver
from crossbridge_assets_tests.test_coverage_e2e import (
    OPS_UNCOVERED,
    OPS_VALID,
    PY,
    checks_of,
    drop_shard,
    ingest,
    lcov_with,
    refresh,
)
from crossbridge_assets_tests.test_ingest_e2e import drop

# GitHub-flavoured markdown as the UI renders metadata (react-markdown with remark-gfm, raw HTML
# shown as text).
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def rendered_rows(table: str) -> list[list[str]]:
    """The body rows of a markdown table as the reader sees them: text of each cell."""
    out = MARKDOWN.render(table)
    rows = re.findall(r"<tr>(.*?)</tr>", out, flags=re.S)[1:]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
            for row in rows]


def results_md(result) -> dict:
    return result.asset_materializations_for_node("test_results")[0].metadata


# ---------------------------------------------------------------------------- markdown tables

# Names as test runners really write them: pytest ids with `|` and `*`, a package's
# tests/__init__.py, Kotlin/Spock names with backticks, a Windows path, non-ASCII, a name with
# a CR (a .NET runner on Windows), and two long parametrized names that differ at their end only.
LONG = "test_checkout_applies_every_discount_rule_in_order[" + "customer-with-a-very-long-profile-" * 5
HOSTILE = [
    "test_parse[a|b]",
    "tests/__init__.py::test_import",
    "test_glob[*.py]",
    "should `add` two numbers",
    r"C:\work\suite\test_paths",
    "test_ünïcode_日本語",
    "line one\r\nline two",
    "test_strike[~old~]",
    LONG + "gold]",
    LONG + "silver]",
]


def junit(cases: list[tuple[str, float, str | None]], tests: int | None = None) -> str:
    """A JUnit XML file in pytest's shape (hand-written: the names above are what runners emit)."""
    body = []
    for name, seconds, failure in cases:
        attr = html.escape(name, quote=True).replace("\r", "&#13;").replace("\n", "&#10;")
        inner = f'<failure message="{html.escape(failure, quote=True)}">trace</failure>' if failure else ""
        body.append(f'<testcase classname="tests.test_shop" name="{attr}" time="{seconds}">{inner}</testcase>')
    count = len(cases) if tests is None else tests
    failures = sum(1 for _, _, failure in cases if failure)
    return (f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="{count}" '
            f'failures="{failures}" errors="0" skipped="0">{"".join(body)}</testsuite></testsuites>')


def test_md_cell_renders_as_the_text_itself():
    for text in [*HOSTILE, "dorny__empty-jest-junit.xml", "a__.", "*", "x~~y~~", "a\\|b", "**kwargs", "<lambda>"]:
        (row,) = rendered_rows(md_table([{"v": text, "n": 1}], ["v", "n"]))
        assert row[1] == "1", text  # the row kept its two cells
        if len(text) <= 160:
            assert row[0] == text.replace("\r\n", " "), text
    # Plain names stay plain in the stored text too.
    assert md_cell("test_divide_by_zero") == "test_divide_by_zero"
    assert md_cell("shop/main #3") == "shop/main #3"


def test_slowest_and_failed_tests_render_one_row_each(crossbridge_env, dagster_instance):
    s = crossbridge_env
    cases = [(name, float(i + 1), "expected 1\r\nbut was 2 | see `log`" if i % 2 else None)
             for i, name in enumerate(HOSTILE)]
    drop(s, "TEST-hostile.xml", "shop/main/1", text=junit(cases))
    _, results = ingest(dagster_instance)
    md = results_md(results[0])

    slowest = rendered_rows(md["slowest_tests"].value)
    assert len(slowest) == len(HOSTILE)
    expected = [f"tests.test_shop.{name}" for name, _, _ in sorted(cases, key=lambda c: -c[1])]
    for (label, seconds), want, (_, took, _) in zip(slowest, expected, sorted(cases, key=lambda c: -c[1])):
        assert float(seconds) == took
        if len(want) <= 160:
            assert label == want.replace("\r\n", " ")
    # The two long names are cut in the middle: their rows still say which is which.
    long_rows = [label for label, _ in slowest if label.endswith("gold]") or label.endswith("silver]")]
    assert len(long_rows) == 2 and all(len(r) <= 160 and "…" in r for r in long_rows)
    assert all(r.startswith("tests.test_shop.test_checkout_applies_every_discount_rule") for r in long_rows)

    failed = rendered_rows(md["failed_tests"].value)
    assert len(failed) == len(HOSTILE) // 2
    assert {row[2] for row in failed} == {"expected 1 but was 2 | see `log`"}
    assert [row[1] for row in failed] == ["failed"] * len(failed)


# ---------------------------------------------------------------------------- pass rate


def test_pass_rate_is_left_out_when_nothing_ran(crossbridge_env, dagster_instance):
    """All skipped, or no test at all: no pass rate is plotted (it would read 100 %)."""
    s = crossbridge_env
    skipped = ('<testsuite name="k" tests="2" skipped="2"><testcase classname="k" name="a"><skipped/></testcase>'
               '<testcase classname="k" name="b"><skipped/></testcase></testsuite>')
    drop(s, "skipped.xml", "shop/main/1", text=skipped)
    cursor, results = ingest(dagster_instance)
    md = results_md(results[0])
    assert (md["tests"].value, md["skipped"].value, md["passed"].value) == (2, 2, 0)
    assert "pass_rate" not in md
    assert rendered_rows(md["slowest_tests"].value) == [] and md["slowest_tests"].value == "_none_"

    empty = drop(s, "empty.xml", "shop/main/2", text='<testsuite name="none" tests="0"></testsuite>')
    os.utime(empty, (empty.stat().st_mtime - 86400,) * 2)  # a day of its own: the figures are the day's
    cursor, results = ingest(dagster_instance, cursor)
    md = results_md(results[0])
    assert md["tests"].value == 0 and "pass_rate" not in md

    # One test that ran among skipped ones: passed over executed.
    drop(s, "one.xml", "shop/main/3", text=skipped.replace('tests="2" skipped="2"', 'tests="3" skipped="2"')
         .replace("</testsuite>", '<testcase classname="k" name="c" time="0.1"/></testsuite>'))
    _, results = ingest(dagster_instance, cursor)
    md = results_md(results[0])
    assert isinstance(md["pass_rate"], dg.FloatMetadataValue) and md["pass_rate"].value == 1.0
    assert checks_of(results[0])["report_warnings"].passed is True


# ---------------------------------------------------------------------------- alerts


def alert_tick(instance, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs) as context:
        return check_alerts(context)


def test_a_check_finishing_after_a_later_run_still_alerts(crossbridge_env, dagster_instance, monkeypatch):
    """The hourly coverage_shards_watch run is created (queued behind the run limit), an ingest
    run created after it finishes first and the alert sensor ticks; then the queued run finds
    the missing shard overdue. Its failed check reaches the webhook all the same."""
    s = crossbridge_env
    receiver = Receiver()
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", receiver.url)
    try:
        drop_shard(s, "b1", PY / "coverage.xml", "coverage.xml", build="1", shard="1", shards_expected=2)
        cursor, _ = ingest(dagster_instance)
        refresh(dagster_instance)  # within the grace period: every check passes
        tick = alert_tick(dagster_instance, None)
        assert receiver.delivered == []

        watch = dagster_instance.create_run_for_job(
            job_def=defs.resolve_job_def("coverage_shards_watch"),
            run_config={"execution": {"config": {"in_process": {}}}},
        )
        drop_shard(s, "b2", PY / "coverage.xml", "coverage.xml", build="2")
        ingest(dagster_instance, cursor)
        tick = alert_tick(dagster_instance, tick.cursor)
        assert receiver.delivered == []

        monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "0")
        job = ReconstructableRepository.for_module("crossbridge_assets.definitions", "defs").get_reconstructable_job(
            "coverage_shards_watch")
        result = execute_run(job, watch, dagster_instance)
        assert result.success
        (evaluation,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
        assert evaluation.event_specific_data.passed is False

        tick = alert_tick(dagster_instance, tick.cursor)
        assert [(a["event"], a["check"], a["severity"]) for a in receiver.delivered] == [
            ("check_failed", "coverage_shards_complete", "WARN")]
        assert "shop/main #1 has 1/2" in receiver.delivered[0]["description"]
        alert_tick(dagster_instance, tick.cursor)
        assert len(receiver.delivered) == 1, "one message per change"
    finally:
        receiver.close()


# ---------------------------------------------------------------------------- thresholds


def test_threshold_of_a_project_named_like_its_repository(crossbridge_env, dagster_instance, tmp_path, monkeypatch):
    """CI names a project by its repository (GITHUB_REPOSITORY, CI_PROJECT_PATH): "acme/shop".
    Its key in the thresholds holds its branches; a branch's own key overrides it."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"acme/shop": 70, "acme/shop/main": 80, "*": 10}')
    project = {"project": "acme/shop"}
    drop_shard(s, "m", PY / "coverage.xml", "coverage.xml", build="1", branch="main", **project)  # 73.68 %
    drop_shard(s, "f", PY / "coverage.xml", "coverage.xml", build="2", branch="feature/x", **project)  # 73.68 %
    fewer = OPS_VALID - OPS_UNCOVERED - {14, 15, 16, 17}  # 10/19 = 52.63 %
    drop_shard(s, "d", lcov_with(fewer, tmp_path / "dev.lcov"), "coverage.lcov", build="3", branch="dev", **project)
    ingest(dagster_instance)
    low = checks_of(refresh(dagster_instance))["coverage_threshold"]
    assert low.passed is False and "2 branch(es)" in low.description, low.description
    assert "acme/shop/main #1 at 73.68% < 80%" in low.description
    assert "acme/shop/dev #3 at 52.63% < 70%" in low.description
    assert "feature/x" not in low.description
    rows = {row[0]: row for row in rendered_rows(low.metadata["runs"].value)}
    assert rows["acme/shop/main #1"][2:] == ["80.0", "acme/shop/main"]
    assert rows["acme/shop/dev #3"][2:] == ["70.0", "acme/shop"]


# ---------------------------------------------------------------------------- quarantine


def test_a_quarantined_coverage_report_fails_a_check_of_the_coverage_asset(crossbridge_env, dagster_instance):
    """One batch: a good coverage report, a broken LCOV file, a JUnit file and a file of no
    known format. The coverage asset's own check names the broken LCOV file; the results
    check names the file nobody could read, and not the coverage one."""
    s = crossbridge_env
    drop_shard(s, "q", PY / "coverage.xml", "coverage.xml", build="4")
    drop(s, "broken.info", "q", text="SF:calc/ops.py\nDA:x,1\nend_of_record\n")
    drop(s, "TEST-ok.xml", "q", text=junit([("test_ok", 0.5, None)]))
    drop(s, "notes.txt", "q", text="not a report\n")
    _, results = ingest(dagster_instance)
    checks = checks_of(results[0])

    bad = checks["coverage_parse_errors"]
    assert bad.passed is False and bad.severity == dg.AssetCheckSeverity.WARN
    assert bad.description.startswith("1 coverage report(s) quarantined: broken.info: ")
    assert "malformed DA" in bad.description and "notes.txt" not in bad.description
    (row,) = rendered_rows(bad.metadata["files"].value)
    assert row[0] == "broken.info" and "malformed DA" in row[1]

    results_check = checks["parse_errors"]
    assert results_check.passed is False and "notes.txt" in results_check.description
    assert "broken.info" not in results_check.description
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert (md["reports_loaded"].value, md["reports_quarantined"].value, md["files"].value) == (1, 1, 2)
    assert results_md(results[0])["tests"].value == 1


# ---------------------------------------------------------------------------- backfill


def test_backfill_of_several_days_loads_each_day_once(crossbridge_env, dagster_instance):
    """Reports that arrived on two days, then both days materialized again from the UI (a
    backfill: one run a partition, no file list): each day's figures are its own reports,
    and no row is written twice."""
    s = crossbridge_env
    first = drop(s, "TEST-a.xml", "shop/main/1", text=junit([("test_a", 1.0, None), ("test_b", 2.0, "boom")]))
    old = first.stat().st_mtime - 2 * 86400
    os.utime(first, (old, old))
    drop_shard(s, "cov1", PY / "coverage.xml", "coverage.xml", build="1")
    os.utime(s.inbox / "cov1" / "coverage.xml", (old, old))
    drop(s, "TEST-c.xml", "shop/main/2", text=junit([("test_c", 3.0, None)], tests=2))
    _, results = ingest(dagster_instance)
    days = sorted(r.dagster_run.tags["dagster/partition"] for r in results)
    assert len(days) == 2 and days[0] < days[1]
    before = table_counts(make_engine(s.warehouse_url))

    job = defs.resolve_job_def("ingest")
    for _ in range(2):
        by_day = {}
        for day in days:
            result = job.execute_in_process(partition_key=day, instance=dagster_instance)
            assert result.success
            by_day[day] = result
        assert table_counts(make_engine(s.warehouse_url)) == before
    older, newer = (results_md(by_day[d]) for d in days)
    assert (older["tests"].value, older["failures"].value, older["pass_rate"].value) == (2, 1, 0.5)
    assert (newer["tests"].value, newer["failures"].value, newer["pass_rate"].value) == (1, 0, 1.0)
    assert older["dagster/row_count"].value == 2 and newer["dagster/row_count"].value == 1
    coverage_md = {d: by_day[d].asset_materializations_for_node("coverage")[0].metadata for d in days}
    assert coverage_md[days[0]]["files"].value == 2 and coverage_md[days[1]]["files"].value == 0
    assert "line_pct" not in coverage_md[days[1]]
    # The declared total of the newer day's file (2 tests, 1 in it) is a warning of that day only.
    checks = {d: checks_of(by_day[d]) for d in days}
    assert checks[days[0]]["report_warnings"].passed is True
    warned = checks[days[1]]["report_warnings"]
    assert warned.passed is False and warned.severity == dg.AssetCheckSeverity.WARN
    assert ("TEST-c.xml: declared totals disagree with the content: "
            "tests declared 2 but the file holds 1. ") in warned.description
