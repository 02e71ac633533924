"""Values at the edges, end to end on SQLite and PostgreSQL: very long names, contexts, paths and
branches, times at the ends of the calendar. Each either goes through every stage (load,
insights, CLI) with the same result on both databases, or quarantines its report with a reason
naming the file — never a failed run or a database error as the reason."""

from __future__ import annotations

import json
import random
import string
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.insights import history as history_defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now
from crossbridge_assets_tests.conftest import POSTGRES_URL
from crossbridge_assets_tests.insights_helpers import History, junit


# PostgreSQL's largest btree index entry, in bytes.
PG_INDEX_ENTRY = 2704


def noise(n: int, seed: int = 1) -> str:
    """Text that does not compress: PostgreSQL compresses an index entry before it measures it,
    so 'aaaa…' would fit where a real long name does not."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_test_history_holds_a_test_with_a_very_long_name(crossbridge_env, dagster_instance):
    """A 10 KB test name failed the whole test_history materialization on PostgreSQL (its name
    index takes at most 2704 bytes an entry): no test's history was written."""
    h = History(crossbridge_env)
    long_name = "test_" + noise(10_000)
    h.run("1", junit({long_name: "failed", "test_ok": "passed"}))
    result = dg.materialize([history_defs.test_history], instance=dagster_instance,
                            resources={"warehouse": WarehouseResource()})
    assert result.success
    with h.engine.connect() as conn:
        names = sorted(conn.execute(select(schema.test_history.c.name)).scalars())
    assert len(names) == 2 and "test_ok" in names
    kept = next(n for n in names if n != "test_ok")
    assert len(kept.encode()) < PG_INDEX_ENTRY // 2
    assert kept.startswith(long_name[:500]) and "…" in kept  # cut where a reader sees it was
    md = result.asset_materializations_for_node("test_history")[0].metadata
    assert md["tests_broken"].value == 1


# ---------------------------------------------------------------- coverage: contexts and paths


def coverage_json(path: str, contexts: list[str]) -> str:
    """A coverage.py JSON report (format 3, `coverage json --show-contexts`) of one file whose
    lines 1-3 ran, line 3 in the given dynamic contexts (pytest-cov's 'nodeid|run')."""
    summary = {"covered_lines": 3, "num_statements": 4, "percent_covered": 75.0, "percent_covered_display": "75",
               "missing_lines": 1, "excluded_lines": 0}
    return json.dumps({
        "meta": {"format": 3, "version": "7.17.5", "timestamp": "2026-11-20T10:00:00", "branch_coverage": False,
                 "show_contexts": True},
        "files": {path: {"executed_lines": [1, 2, 3], "summary": summary, "missing_lines": [4], "excluded_lines": [],
                         "contexts": {"1": [""], "2": [""], "3": contexts}}},
        "totals": summary,
    })


def ingest(capsys, monkeypatch, tmp_path, *files: tuple[str, str], branch: str = "main") -> str:
    from crossbridge_assets.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    for name, text in files:
        (drop / name).write_text(text, encoding="utf-8")
    code = main(["ingest", "--project", "shop", "--branch", branch, "--build", "1", str(drop)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def reports(settings) -> dict:
    from crossbridge_assets.warehouse.engine import make_engine

    with make_engine(settings.warehouse_url).connect() as conn:
        return {r.original_name: r for r in conn.execute(select(schema.reports))}


def test_per_test_coverage_of_a_test_with_a_very_long_parameter(crossbridge_env, capsys, monkeypatch, tmp_path):
    """pytest-cov names a context by the node id, parameters and all: a 5 KB parameter made
    PostgreSQL refuse the per-test map and quarantine the whole coverage report with its error,
    where SQLite kept it."""
    from crossbridge_assets.cli import main

    long_test = f"tests/test_prices.py::test_round[{noise(5000)}]"
    contexts = [f"{long_test}|run", "tests/test_prices.py::test_round[short]|run"]
    ingest(capsys, monkeypatch, tmp_path, ("coverage.json", coverage_json("src/prices.py", contexts)))
    assert reports(crossbridge_env)["coverage.json"].status == "landed"
    assert main(["covering", "src/prices.py:3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(t["test"] for t in found["tests"]) == sorted([long_test, "tests/test_prices.py::test_round[short]"])


def test_a_source_path_too_long_to_index_quarantines_its_report_saying_so(crossbridge_env, capsys, monkeypatch, tmp_path):
    """A source path of 4 KB: PostgreSQL quarantined the report with its own error (the SQL and
    all), SQLite landed it; now both quarantine it, saying which path and why."""
    path = "src/" + "/".join(noise(200, seed=n) for n in range(20)) + "/prices.py"
    out = ingest(capsys, monkeypatch, tmp_path, ("coverage.json", coverage_json(path, [""])))
    report = reports(crossbridge_env)["coverage.json"]
    assert report.status == "quarantined"
    assert "source path" in report.reason and "bytes" in report.reason and path[:40] in report.reason
    assert "SQL" not in report.reason and len(report.reason) < 1000
    assert "quarantined coverage.json" in out


# ---------------------------------------------------------------- run metadata


def test_a_branch_name_too_long_to_index_quarantines_the_drop_saying_so(crossbridge_env, capsys, monkeypatch, tmp_path):
    """A 3 KB branch in the manifest (or `crossbridge ingest --branch`): PostgreSQL quarantined
    every report with its index error and the SQL statement as the reason, SQLite landed them."""
    branch = "feature/" + noise(3000)
    out = ingest(capsys, monkeypatch, tmp_path, ("junit.xml", junit({"test_ok": "passed"})), branch=branch)
    report = reports(crossbridge_env)["junit.xml"]
    assert report.status == "quarantined"
    assert "branch" in report.reason and "bytes" in report.reason
    assert "SQL" not in report.reason and len(report.reason) < 1000
    assert "quarantined junit.xml" in out


# ---------------------------------------------------------------- times at the ends of the calendar

PYTOOLS = Path(__file__).parent / "fixtures" / "results" / "pytools"


def summary(capsys) -> list[dict]:
    from crossbridge_assets.cli import main

    code = main(["summary", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_report_with_unittest_xmlrunners_year_one_timestamps_summarises(crossbridge_env, capsys, monkeypatch, tmp_path):
    """unittest-xml-reporting writes timestamp="0001-01-01T00:00:00" (datetime.min) on the
    suites of errors in setUpClass: the run started in year 1, and `crossbridge summary`
    crashed with OverflowError. The zero time of Python, .NET and Go says no time."""
    ingest(capsys, monkeypatch, tmp_path, ("xmlrunner.xml", (PYTOOLS / "xmlrunner.xml").read_text(encoding="utf-8")))
    (run,) = summary(capsys)
    assert run["tests"] > 0
    assert run["started_at"] is not None and run["started_at"] >= "2000"


def test_times_whose_utc_is_beyond_the_calendar_are_no_times():
    from crossbridge_assets.formats._common import parse_timestamp

    assert parse_timestamp("0001-01-01T00:00:00+05:00") is None
    assert parse_timestamp("9999-12-31T23:59:59-05:00") is None
    assert parse_timestamp("0001-01-01T00:00:00") is None and parse_timestamp("0001-01-01T00:00:00Z") is None
    assert parse_timestamp("9999-12-31T23:59:59Z").year == 9999
    assert parse_timestamp("0001-01-02T00:00:00Z").year == 1


def test_a_report_timed_at_the_end_of_the_calendar_lands_without_a_start(crossbridge_env, capsys, monkeypatch, tmp_path):
    """9999-12-31T23:59:59-05:00 is in year 10000 in UTC: the report was quarantined with
    'could not be parsed: StatementError: (builtins.OverflowError)…' and the SQL."""
    xml = junit({"test_ok": "passed"}).replace("<testsuite ", '<testsuite timestamp="9999-12-31T23:59:59-05:00" ', 1)
    ingest(capsys, monkeypatch, tmp_path, ("junit.xml", xml))
    assert reports(crossbridge_env)["junit.xml"].status == "landed"
    (run,) = summary(capsys)
    assert run["tests"] == 1 and run["started_at"] is None


def test_summary_of_a_run_the_manifest_says_started_in_year_one(crossbridge_env, capsys, monkeypatch, tmp_path):
    """A start a month from the beginning of the calendar: summary read the history from a
    month before it, and crashed with OverflowError."""
    from crossbridge_assets.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "junit.xml").write_text(junit({"test_ok": "passed", "test_bad": "failed"}), encoding="utf-8")
    (drop / "crossbridge.json").write_text(json.dumps({"started_at": "0001-01-05T00:00:00Z"}))
    assert main(["ingest", "--project", "shop", "--branch", "main", "--build", "1", str(drop)]) == 0
    capsys.readouterr()
    (run,) = summary(capsys)
    assert run["started_at"].startswith("0001-01-05") and run["failures"] == 1


# ---------------------------------------------------------------- half a surrogate pair in JSON


def ctrf(tests: list[dict]) -> str:
    """A CTRF report as jest-ctrf-json-reporter writes it (JSON.stringify, which since Node 12
    writes a string's unpaired surrogate as its escape)."""
    return json.dumps({"results": {"tool": {"name": "jest"}, "summary": {
        "tests": len(tests), "passed": sum(t["status"] == "passed" for t in tests),
        "failed": sum(t["status"] == "failed" for t in tests), "skipped": 0, "pending": 0, "other": 0,
        "start": 1764570000000, "stop": 1764570005000}, "tests": tests}})


def test_a_json_report_holding_half_a_surrogate_pair_lands(crossbridge_env, capsys, monkeypatch, tmp_path):
    """A message cut inside an emoji ('💥'[0], JSON '\\ud83d'): the whole report was quarantined as
    'malformed JSON: not UTF-8 text at byte 4' (a byte of the string, not of the file). The half
    is read as U+FFFD; a whole pair stays what it is."""
    text = ctrf([
        {"name": "pays \ud83d\udcb3 by card", "status": "passed", "duration": 5},
        {"name": "refunds", "status": "failed", "duration": 7, "message": "expected \ud83d", "trace": "at x \udca5"},
    ])
    assert "\\ud83d\\udcb3" in text and '\\ud83d"' in text
    ingest(capsys, monkeypatch, tmp_path, ("ctrf-report.json", text))
    assert reports(crossbridge_env)["ctrf-report.json"].status == "landed"
    from crossbridge_assets.warehouse.engine import make_engine

    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        names = set(conn.execute(select(schema.tests.c.name)).scalars())
        messages = set(conn.execute(select(schema.test_results.c.message)).scalars())
    assert names == {"pays \U0001f4b3 by card", "refunds"}
    assert "expected \ufffd" in messages


def test_mending_half_pairs_keeps_escapes_a_read_cuts():
    from crossbridge_assets.formats._common import mend_surrogates

    whole = b'["\\ud83d\\udcb3", "\\ud800", "\\\\ud800", "\\\\\\udc00", "\\n"]'
    expected = b'["\\ud83d\\udcb3", "\\ufffd", "\\\\ud800", "\\\\\\ufffd", "\\n"]'
    assert mend_surrogates(whole) == (expected, b"")
    for cut in range(len(whole) + 1):  # however reads cut it, the same bytes come out
        first, held = mend_surrogates(whole[:cut], end=False)
        rest, _ = mend_surrogates(held + whole[cut:])
        assert first + rest == expected, cut


# ---------------------------------------------------------------- check descriptions and alerts


def test_a_new_failure_with_a_20_kb_name_alerts_in_a_message_of_ordinary_size(crossbridge_env, dagster_instance, monkeypatch):
    """The no_new_failures check named each new failure whole: a 20 KB test name made a 20 KB
    description in the UI, and an alert of over 40 KB (its text and description each hold it)
    that chat webhooks cut or refuse. Names in descriptions are cut in the middle, as in the
    metadata tables."""
    from crossbridge_assets.defs.health.alerting import check_alerts
    from crossbridge_assets.defs.insights.comparisons import no_new_failures, run_comparisons
    from crossbridge_assets_tests.test_alerts import Receiver

    receiver = Receiver()
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", receiver.url)
    resources = {"warehouse": WarehouseResource()}
    long_name = "test_`pay`|" + noise(20_000) + "|end"
    h = History(crossbridge_env)
    try:
        day = (now() - timedelta(days=2)).date().isoformat()  # inside the insights' window
        h.run("1", junit({long_name: "passed", "test_ok": "passed"}), day=day, started_at=f"{day}T08:00:00+00:00")
        h.run("2", junit({long_name: "failed", "test_ok": "passed"}), day=day, started_at=f"{day}T09:00:00+00:00")
        result = dg.materialize([run_comparisons, no_new_failures], instance=dagster_instance, resources=resources)
        assert result.success
        (evaluation,) = result.get_asset_check_evaluations()
        assert evaluation.passed is False
        assert long_name[:40] in evaluation.description and "|end" in evaluation.description
        assert len(evaluation.description) < 1000
        alert_defs = dg.Definitions(assets=[run_comparisons], asset_checks=[no_new_failures], sensors=[check_alerts],
                                    resources=resources)
        with dg.build_sensor_context(instance=dagster_instance, definitions=alert_defs) as context:
            check_alerts(context)
        (alert,) = receiver.delivered
        assert alert["check"] == "no_new_failures" and len(json.dumps(alert)) < 5000
    finally:
        receiver.close()


def test_a_manifest_announcing_ten_billion_shards_quarantines_its_reports(crossbridge_env, capsys, monkeypatch, tmp_path):
    """shards_expected=10000000000: on PostgreSQL the landing step failed (integer out of range)
    and the whole batch with it; SQLite took it. Now it is a manifest that does not read."""
    from crossbridge_assets.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "junit.xml").write_text(junit({"test_ok": "passed"}), encoding="utf-8")
    (drop / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main", "build": "7",
                                                       "shards_expected": 10_000_000_000}))
    code = main(["ingest", str(drop)])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = reports(crossbridge_env)["junit.xml"]
    assert report.status == "quarantined" and "shards_expected" in report.reason


def test_coverage_counts_beyond_any_source_file_quarantine_the_report(crossbridge_env, capsys, monkeypatch, tmp_path):
    """An Istanbul coverage-summary.json (nyc's, as written) whose file counts 10 billion lines:
    PostgreSQL quarantined it with 'value "10000000000" is out of range for type integer', SQLite
    stored the figure. Now both quarantine it, saying so in the words of the line-number check."""
    summary = json.loads((Path(__file__).parent / "fixtures" / "coverage" / "istanbulfam" / "nyc14"
                          / "coverage-summary.json").read_text(encoding="utf-8"))
    name = next(k for k in summary if k != "total")
    summary[name]["lines"].update(total=10_000_000_000, covered=9_000_000_000)
    summary["total"]["lines"].update(total=10_000_000_000, covered=9_000_000_000)
    ingest(capsys, monkeypatch, tmp_path, ("coverage-summary.json", json.dumps(summary)))
    report = reports(crossbridge_env)["coverage-summary.json"]
    assert report.status == "quarantined"
    assert "10000000000" in report.reason and "calc.js" in report.reason and "integer" not in report.reason


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="CROSSBRIDGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)")
def test_a_value_postgresql_refuses_is_quarantined_with_its_words_not_the_sql(tmp_path, monkeypatch, dagster_instance):
    """A branch named by the inbox path (inbox/shop/<twelve folders of 250 characters>/1/): past what
    PostgreSQL indexes. The report was quarantined as 'could not be parsed: OperationalError:' and
    the whole statement with its parameters (4 KB); now the reason is the database's own line."""
    from crossbridge_assets import settings
    from crossbridge_assets_tests.conftest import fresh_postgres_database
    from crossbridge_assets_tests.test_ingest_e2e import drop, execute, report_rows, run_requests_until_ready

    monkeypatch.setenv("CROSSBRIDGE_HOME", str(tmp_path / "cbhome"))
    monkeypatch.delenv("CROSSBRIDGE_INBOX", raising=False)
    monkeypatch.setenv("CROSSBRIDGE_SETTLE_SECONDS", "0")
    monkeypatch.setenv("CROSSBRIDGE_WAREHOUSE_URL", fresh_postgres_database())
    s = settings.load()
    s.ensure_folders()
    branch = "/".join(noise(250, seed=n) for n in range(12))
    drop(s, "junit.xml", f"shop/{branch}/1", text=junit({"test_ok": "passed"}))
    _, second = run_requests_until_ready(dagster_instance)
    execute(dagster_instance, second.run_requests[0])
    report = report_rows(s)["junit.xml"]
    assert report.status == "quarantined"
    assert report.reason.startswith("the warehouse refused it: ") and "index row size" in report.reason
    assert "[SQL" not in report.reason and len(report.reason) < 400


def test_nul_and_control_characters_are_stored_alike_on_both_databases(crossbridge_env, capsys, monkeypatch, tmp_path):
    """PostgreSQL text cannot hold NUL, SQLite can: NUL is left out on both, other control
    characters (a terminal's colour codes, a bell) are kept on both."""
    text = ctrf([
        {"name": "nul\u0000name", "status": "failed", "duration": 5, "message": "m\u0000sg", "trace": "tr\u0000ace"},
        {"name": "bell\u0007and\u001b[31mred", "status": "passed", "duration": 1},
    ])
    ingest(capsys, monkeypatch, tmp_path, ("ctrf-report.json", text))
    from crossbridge_assets.warehouse.engine import make_engine

    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        names = set(conn.execute(select(schema.tests.c.name)).scalars())
        messages = set(conn.execute(select(schema.test_results.c.message)).scalars()) - {None}
    assert names == {"nulname", "bell\u0007and\u001b[31mred"}
    assert messages == {"msg"}


# ---------------------------------------------------------------- characters XML does not allow

FIX_JUNIT = Path(__file__).parent / "fixtures" / "junit"


def test_a_junit_report_holding_characters_xml_does_not_allow_lands(crossbridge_env, capsys, monkeypatch, tmp_path):
    """Surefire 3.5 writes U+FFFF that a test printed into <system-out> as it is, mocha's xunit
    reporter a terminal's colour codes, others &#27;: libxml2 refuses the whole document ('PCDATA
    invalid Char value 65535'), and every result of the report was quarantined with it. Such a
    character is read as U+FFFD, colour codes are left out."""
    body = (FIX_JUNIT / "surefire-flaky.xml").read_text(encoding="utf-8")
    at = body.rfind("</testcase>")
    body = (body[:at] + "<system-out>separator=\uffff bell=\x07 \x1b[31mred\x1b[0m ref=&#27;&#x1b;&#10;ok</system-out>"
            + body[at:])
    ingest(capsys, monkeypatch, tmp_path, ("TEST-com.acme.cart.CartServiceTest.xml", body))
    report = reports(crossbridge_env)["TEST-com.acme.cart.CartServiceTest.xml"]
    assert report.status == "landed", report.reason
    from crossbridge_assets.warehouse.engine import make_engine

    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        outputs = set(conn.execute(select(schema.test_attempts.c.stdout)).scalars()) - {None}
    assert "separator=\ufffd bell=\ufffd red ref=\ufffd\ufffd\nok" in outputs


def test_mending_xml_keeps_what_a_read_cuts():
    from crossbridge_assets.formats._xml import mend_xml

    whole = "a\x01b \x1b[1;31mc\x1b[0m &#27; &#x1B; &#9; &#10; &amp; \uffff\ufffe é".encode()
    expected = "a\ufffdb c &#xFFFD; &#xFFFD; &#9; &#10; &amp; \ufffd\ufffd é".encode()
    assert mend_xml(whole) == (expected, b"")
    for cut in range(len(whole) + 1):  # however reads cut it, the same bytes come out
        first, held = mend_xml(whole[:cut], end=False)
        rest, _ = mend_xml(held + whole[cut:])
        assert first + rest == expected, cut


@pytest.mark.parametrize("bad", ["&#27;", "&#x1b;", "\x1b", "\uffff"])
def test_a_character_xml_does_not_allow_is_found_wherever_the_scan_cuts_the_report(tmp_path, bad):
    """A report is read through the mending reader only when a scan finds such a character: one
    at, or cut by, the edge of the scan's first read is found as well as one elsewhere."""
    from crossbridge_assets.formats import _xml, open_report

    head = '<testsuite name="s"><testcase classname="c" name="t"><system-out>'
    for at in range(_xml._SCAN - 8, _xml._SCAN + 2):
        pad = at - len(head.encode())
        report = tmp_path / "TEST-big.xml"
        report.write_bytes((head + "x" * pad + bad + "</system-out></testcase></testsuite>").encode())
        assert _xml._needs_mending(report, report.read_bytes()[:4096]), at
        (case,) = list(open_report(report))
        assert case.name == "t"
    clean = tmp_path / "TEST-clean.xml"
    clean.write_bytes((head + "x" * _xml._SCAN + "&#10;&amp;#27;</system-out></testcase></testsuite>").encode())
    assert not _xml._needs_mending(clean, clean.read_bytes()[:4096])
