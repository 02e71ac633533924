"""The canonical model's fields beyond counts, as real tools write them: captured output and its
size, tags and test-management ids, durations and run timing, and what test_results[day] shows."""

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from crossbridge_assets.formats import open_report
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine

FIELDS = Path(__file__).parent / "fixtures" / "results" / "fields"


def _by_name(path: Path) -> dict:
    return {case.name: case for case in open_report(path).read_all()}


# ---------------------------------------------------------------------------- captured output


@pytest.mark.parametrize("mode", ["all", "system-out", "out-err"])
def test_pytest_junit_output_is_what_the_test_printed(mode):
    """pytest's --junitxml with junit_logging heads every captured section with a banner
    ('---- Captured Out ----'), empty sections too: the output is what the test printed, as
    pytest-json-report has it from the same tests, and a test that printed nothing has none. The
    log (pytest-json-report keeps its records) is read alike from both: before the output."""
    junit = _by_name(FIELDS / "pytest" / f"junit-logging-{mode}.xml")
    reference = _by_name(FIELDS / "pytest" / "pytest-json-report.json")
    assert junit.keys() == reference.keys()
    for name, case in junit.items():
        got, want = case.final, reference[name].final
        if mode == "all" or name != "test_logs_and_prints":
            assert (got.stdout, got.stdout_size) == (want.stdout, want.stdout_size), name
        if mode == "system-out":
            assert (got.stderr, got.stderr_size) == (None, 0), name
        else:
            assert (got.stderr, got.stderr_size) == (want.stderr, want.stderr_size), name
    assert junit["test_receipt"].final.stdout == "Prix: 12,50 € — café\n"
    assert junit["test_quiet"].final.stdout is None and junit["test_quiet"].final.stdout_size == 0
    logs = junit["test_logs_and_prints"].final.stdout
    if mode == "all":
        # The log section stays beside the output (both non-empty), each headed as pytest wrote it.
        assert logs == ("-" * 33 + " Captured Log " + "-" * 33 + "\nWARNING  shop:test_fields.py:22 stock low\n"
                        + "-" * 33 + " Captured Out " + "-" * 33 + "\ntwo lines\nof output\n\n")
    else:  # the log is pytest-json-report's only
        assert logs == "two lines\nof output\n"


def test_robot_messages_are_the_tests_output():
    """robot/fields.robot run by Robot Framework 7.5: what a test logged (its setup's and its
    keywords' messages, the failure's among them) is its output, a line each with the level; an
    HTML message as text. A test that logged nothing has none; the run's <errors> section (a WARN
    again) is no test's."""
    cases = _by_name(FIELDS / "robot" / "output.xml")
    total = cases["Checkout Total"].final
    assert total.stdout == ("INFO  Prix: 12,50 € — café\nWARN  stock low\nINFO  bold & done\n"
                            "INFO  Slept 200 milliseconds.")
    assert total.stdout_size == len(total.stdout)
    assert cases["Refund Fails"].final.stdout == (
        "INFO  opening the till\nINFO  Slept 100 milliseconds.\nFAIL  refund total differs: 1 != 2")
    assert (cases["Quiet"].final.stdout, cases["Quiet"].final.stdout_size) == (None, 0)
    assert cases["Not Ready"].final.stdout is None


def test_robot_messages_of_older_versions():
    """Robot Framework 3.2 to 6 write a message's time as timestamp=; the text is read alike."""
    rf3 = Path(__file__).parent / "fixtures" / "results" / "robot-versions" / "rf-3.2.2" / "output.xml"
    outputs = {case.name: case.final.stdout for case in open_report(rf3).read_all()}
    assert outputs["Fails Before Teardown"] == "FAIL  own failure"


def test_mochawesome_context_is_the_tests_output():
    """js/mocha run by mocha 10 with mochawesome 7: addContext(this, text) and addContext(this,
    {title, value}) are what a test left for whoever reads its result, written as a JSON string of
    one value or a list of them. It is the test's output, an entry a line."""
    cases = _by_name(FIELDS / "js" / "mochawesome-fields.json")
    total = cases["C123 computes the total"].final
    assert total.stdout == 'Prix: 12,50 € — café\norder: {"id": 7}'
    assert total.stdout_size == len(total.stdout)
    assert (cases["fails with a diff"].final.stdout, cases["fails with a diff"].final.stdout_size) == (None, 0)


@pytest.mark.parametrize("context, output", [
    ('"just text"', "just text"),
    ('{\n  "title": "url",\n  "value": "http://shop/cart"\n}', "url: http://shop/cart"),
    ('{\n  "title": "nothing",\n  "value": "<undefined>"\n}', "nothing: <undefined>"),
    ("not JSON at all", "not JSON at all"),
])
def test_mochawesome_context_shapes(tmp_path, context, output):
    report = json.loads((FIELDS / "js" / "mochawesome-fields.json").read_text(encoding="utf-8"))
    test = report["results"][0]["suites"][0]["tests"][0]
    test["context"] = context
    path = tmp_path / "mochawesome.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert _by_name(path)[test["title"]].final.stdout == output


def test_cucumber_js_log_is_the_scenarios_output():
    """js/features run by cucumber-js 11: this.log() is written as an embedding of media type
    text/x.cucumber.log+plain, base64: the scenario's output. The JUnit formatter writes the step
    list as the output instead, which stays as it is."""
    cases = _by_name(FIELDS / "js" / "cucumber-fields.json")
    receipt = cases["Receipt"].final
    assert (receipt.stdout, receipt.stdout_size) == ("Prix: 12,50 € — café", 20)
    assert cases["Fails"].final.stdout is None
    junit = _by_name(FIELDS / "js" / "cucumber-fields-junit.xml")["Receipt"].final.stdout
    assert "Then it logs" in junit and "Prix" in junit


def test_cucumber_ruby_and_jvm_logs(tmp_path):
    """cucumber-ruby's and cucumber-jvm's JSON formatters write what log() wrote as a step's
    `output` list; an embedding of another media type (a screenshot) is no output."""
    report = json.loads((FIELDS / "js" / "cucumber-fields.json").read_text(encoding="utf-8"))
    steps = report[0]["elements"][0]["steps"]
    del steps[-1]["embeddings"]
    steps[0]["output"] = ["first line", "second line"]
    steps[-1]["embeddings"] = [{"mime_type": "image/png", "data": "iVBORw0KGgo="},
                               {"mime_type": "text/x.cucumber.log+plain", "data": "ZW5kIOKckw=="}]
    path = tmp_path / "cucumber.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert _by_name(path)["Receipt"].final.stdout == "first line\nsecond line\nend ✓"


def test_mochawesome_context_nested_too_deep_stays_text(tmp_path):
    report = json.loads((FIELDS / "js" / "mochawesome-fields.json").read_text(encoding="utf-8"))
    test = report["results"][0]["suites"][0]["tests"][0]
    test["context"] = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "mochawesome.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    got = _by_name(path)[test["title"]].final
    assert got.stdout_size == 200_000 and got.stdout.startswith("[[[")


# ---------------------------------------------------------------------------- run timing

# Ant's junitreport (TESTS-TestSuites.xml) writes one <testsuite> a class, in the order of the
# TEST-*.xml file names, each with the timestamp its class started at; <testsuites> has no
# attribute. Merged files (Jenkins' eclipse-plugin report in the corpus) are in merge order.
ANT_MERGED = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite errors="0" failures="0" hostname="ci" id="0" name="ATest" package="com.acme" skipped="0" tests="1" time="2.5" timestamp="2024-05-01T10:00:05">
    <properties />
    <testcase classname="com.acme.ATest" name="slow" time="2.5" />
    <system-out><![CDATA[]]></system-out>
    <system-err><![CDATA[]]></system-err>
  </testsuite>
  <testsuite errors="0" failures="0" hostname="ci" id="1" name="BTest" package="com.acme" skipped="0" tests="1" time="1.0" timestamp="2024-05-01T10:00:00">
    <properties />
    <testcase classname="com.acme.BTest" name="quick" time="1.0" />
    <system-out><![CDATA[]]></system-out>
    <system-err><![CDATA[]]></system-err>
  </testsuite>
</testsuites>
"""


def test_junit_run_starts_with_its_earliest_suite(tmp_path):
    path = tmp_path / "TESTS-TestSuites.xml"
    path.write_text(ANT_MERGED, encoding="utf-8")
    stream = open_report(path)
    stream.read_all()
    assert stream.info.started_at == datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
    assert stream.info.duration == 3.5
    # A root that says when the run started is taken at its word.
    path.write_text(ANT_MERGED.replace("<testsuites>", '<testsuites timestamp="2024-05-01T09:59:00">'), encoding="utf-8")
    stream = open_report(path)
    stream.read_all()
    assert stream.info.started_at == datetime(2024, 5, 1, 9, 59, 0, tzinfo=timezone.utc)


# xUnit.net's XML of schema version 2+ (its v2 runners from 2.5, and v3), as its documentation
# (format-xml-v2) gives it: run-date and run-time in the local time of the machine, in no zone,
# start-rtf and finish-rtf round-trippable, with the offset. A run in Paris in winter (+01:00).
XUNIT_RTF = """<?xml version="1.0" encoding="utf-8"?>
<assemblies schema-version="3" id="0e6bd160-a817-488e-984a-42d67b04e8ed" computer="CI" user="ci" start-rtf="2025-12-30T18:42:41.6882005+01:00" finish-rtf="2025-12-30T18:42:43.7935249+01:00" timestamp="12/30/2025 18:42:43">
  <assembly name="/src/Shop.Tests.dll" environment="64-bit .NET 8.0.11 [collection-per-class, parallel (2 threads)]" test-framework="xUnit.net 2.9.2" run-date="2025-12-30" run-time="18:42:41" start-rtf="2025-12-30T18:42:41.7012005+01:00" finish-rtf="2025-12-30T18:42:43.7900000+01:00" total="1" passed="1" failed="0" skipped="0" time="2.089" errors="0">
    <errors />
    <collection total="1" passed="1" failed="0" skipped="0" name="Test collection for Shop.Tests.CartTests" time="0.012" not-run="0">
      <test name="Shop.Tests.CartTests.Adds" type="Shop.Tests.CartTests" method="Adds" time="0.0120000" result="Pass" />
    </collection>
  </assembly>
</assemblies>
"""


def test_xunit_run_start_keeps_its_offset(tmp_path):
    path = tmp_path / "xunit.xml"
    path.write_text(XUNIT_RTF, encoding="utf-8")
    stream = open_report(path)
    stream.read_all()
    assert stream.info.started_at == datetime(2025, 12, 30, 17, 42, 41, 688200, tzinfo=timezone.utc)
    # Without start-rtf (schema 1, runners before 2.5) the local run-date and run-time are all there is.
    path.write_text(re.sub(r' start-rtf="[^"]*"', "", XUNIT_RTF), encoding="utf-8")
    stream = open_report(path)
    stream.read_all()
    assert stream.info.started_at == datetime(2025, 12, 30, 18, 42, 41, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------- messages


def test_nunit3_timeout_has_its_label_as_message(corpus_dir):
    """NUnit 3 (dotnet test's NUnit3TestAdapter, in the corpus) fails a test past its [Timeout]
    with the label 'Test exceeded Timeout value 1ms.' and an empty <failure/>: the label is all
    that says why, so it is the message."""
    cases = {c.name: c for c in open_report(corpus_dir / "results" / "nunit" / "dorny__dotnet-nunit.xml")}
    timeout = cases["Timeout_Test"].final
    assert timeout.status == "failed" and timeout.message == "Test exceeded Timeout value 1ms."
    # An ordinary failure keeps its own message.
    assert cases["Failing_Test"].final.message.startswith("Expected: 3")


# ---------------------------------------------------------------------------- through the warehouse


def _stored(settings) -> dict:
    """(framework, test name) -> (status, tags, properties, [(stdout, stdout_size, stderr_size)])."""
    T, R, A = schema.tests, schema.test_results, schema.test_attempts
    out: dict = {}
    with make_engine(settings.warehouse_url).connect() as conn:
        rows = conn.execute(
            select(T.c.framework, T.c.name, T.c.parameters, R.c.status, R.c.tags, R.c.properties, R.c.report_sha256,
                   R.c.seq).join(T, T.c.test_id == R.c.test_id)).all()
        for row in rows:
            attempts = conn.execute(
                select(A.c.stdout, A.c.stdout_size, A.c.stderr_size)
                .where(A.c.report_sha256 == row.report_sha256, A.c.seq == row.seq).order_by(A.c.attempt)).all()
            out[(row.framework, row.name + (row.parameters or ""))] = (
                row.status, json.loads(row.tags or "[]"), json.loads(row.properties or "{}"), [tuple(a) for a in attempts])
    return out


def test_fields_land_in_the_warehouse(crossbridge_env, dagster_instance, tmp_path):
    """One run's reports from pytest, Robot, Playwright, mocha and cucumber-js, ingested as CI sends
    them: every test's tags and ids, properties and output (a long one with characters outside the
    BMP cut on a character, its size the original's in characters) are what the readers read."""
    from crossbridge_assets.model import MAX_OUTPUT_CHARS
    from crossbridge_assets_tests.test_coverage_e2e import ingest
    from crossbridge_assets_tests.test_ingest_e2e import drop

    report = json.loads((FIELDS / "js" / "playwright-fields.json").read_text(encoding="utf-8"))
    spec = report["suites"][0]["specs"][0]
    assert spec["title"] == "prints a receipt"
    long_text = "😀é" * (MAX_OUTPUT_CHARS // 2 + 7)
    spec["tests"][0]["results"][0]["stdout"] = [{"text": long_text}]
    big = tmp_path / "playwright-fields.json"
    big.write_text(json.dumps(report), encoding="utf-8")
    sources = [FIELDS / "pytest" / "junit-logging-all.xml", FIELDS / "robot" / "output.xml", big,
               FIELDS / "js" / "mochawesome-fields.json", FIELDS / "js" / "cucumber-fields.json"]
    for path in sources:
        drop(crossbridge_env, path.name, "shop/main/7", source=path)
    _, results = ingest(dagster_instance)
    stored = _stored(crossbridge_env)

    # test_results[day]: counts by status over the five reports, skipped tests left out of the pass
    # rate, the slowest tests named suite.name with the seconds of all their attempts.
    md = results[0].asset_materializations_for_node("test_results")[0].metadata
    counts = {k: md[k].value for k in ("tests", "passed", "failures", "errors", "skipped", "flaky")}
    assert counts == {"tests": 24, "passed": 13, "failures": 6, "errors": 0, "skipped": 5, "flaky": 1}
    assert md["pass_rate"].value == round(13 / 19, 4)
    timed = sorted(((c.duration, f"{c.suite}.{c.name}") for path in sources for c in open_report(path)
                    if c.duration is not None), reverse=True)[:10]
    lines = md["slowest_tests"].value.splitlines()
    assert lines[:2] == ["| test | seconds |", "|---|---|"]
    assert lines[2:] == [f"| {label} | {round(seconds, 3)} |" for seconds, label in timed]
    assert lines[2].startswith("| fields.spec.js.passes on its retry | 0.") and float(lines[2].split("|")[2]) > 0.4

    # record_testsuite_property("jira", "SHOP-7"): the run's property, on its report, no test's tag.
    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        reports = {r.original_name: r for r in conn.execute(select(schema.reports))}
    assert json.loads(reports["junit-logging-all.xml"].properties) == {"jira": "SHOP-7"}
    assert reports["output.xml"].duration > 0.3  # Robot's run: its top suite's elapsed seconds
    assert not any("SHOP-7" in tags for _, tags, _, _ in stored.values())

    status, tags, properties, attempts = stored[("pytest", "test_receipt")]
    assert (status, tags, properties) == ("passed", ["C123"], {"testrail": "C123"})
    assert attempts == [("Prix: 12,50 € — café\n", 21, 12)]
    assert stored[("pytest", "test_quiet")][3] == [(None, 0, 0)]

    status, tags, _, attempts = stored[("robot", "Checkout Total")]
    assert tags == ["C123", "JIRA-45", "shop", "smoke", "test-case-id:TC-9001", "TC-9001"]
    assert attempts[0][0].startswith("INFO  Prix: 12,50 € — café\nWARN  stock low\n")
    assert stored[("robot", "Refund Fails")][1] == ["shop", "SHOP-T77"]

    status, tags, properties, attempts = stored[("playwright", "prints a receipt")]
    assert tags == ["C123", "JIRA-45"] and properties == {"issue": "JIRA-45"}
    (stdout, size, err_size), = attempts
    assert size == len(long_text) == 2 * (MAX_OUTPUT_CHARS // 2 + 7) and err_size == len("warn: naïve\n")
    kept, _, note = stdout.partition("\n… [truncated, ")
    assert kept == long_text[:MAX_OUTPUT_CHARS] and note == f"{size} characters in the original]"
    assert stored[("playwright", "not ready @PROJ-T12")][1] == ["PROJ-T12"]
    retried = stored[("playwright", "passes on its retry")][3]
    assert [a[0] for a in retried] == ["attempt 0: ünïcode\n", "attempt 1: ünïcode\n"]

    assert stored[("mocha", "C123 computes the total")][1] == ["C123"]
    assert stored[("mocha", "C123 computes the total")][3][0][0] == 'Prix: 12,50 € — café\norder: {"id": 7}'
    assert stored[("cucumber", "Receipt")][1] == ["shop", "C123", "JIRA-45"]
    assert stored[("cucumber", "Receipt")][3] == [("Prix: 12,50 € — café", 20, 0)]
    assert stored[("cucumber", "Passes on its retry")][1] == ["shop", "PROJ-T12", "flaky"]


# ---------------------------------------------------------------------------- properties and ids


@pytest.mark.parametrize("report", ["junit-logging-all.xml", "pytest-json-report.json"])
def test_a_property_recorded_twice_keeps_both_values(report):
    """record_property("testrail", "C101") then ("testrail", "C102"), pytest 9.2: both reports keep
    the two (JUnit as two <property name="testrail">, pytest-json-report as two entries), so the
    test covers both cases; one value stays as it is."""
    case = _by_name(FIELDS / "pytest" / report)["test_two_cases"]
    assert case.properties["testrail"] == "C101, C102" and case.properties["jira"] == "SHOP-9"
    assert case.tags == ["C101", "C102", "SHOP-9"]
    assert _by_name(FIELDS / "pytest" / report)["test_receipt"].properties["testrail"] == "C123"


# MSTest's [TestProperty(name, value)], as vstest's TrxLogger writes it: one <Property> each, the
# same name twice when the attribute is (AllowMultiple).
TRX_PROPERTIES = """<?xml version="1.0" encoding="utf-8"?>
<TestRun id="5b3cf6a5-9d1e-4a0e-a3a4-8e3f8e2f4c11" name="ci 2025-01-10 10:00:00" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Times creation="2025-01-10T10:00:00.0000000+01:00" start="2025-01-10T10:00:00.5000000+01:00" finish="2025-01-10T10:00:02.0000000+01:00" />
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="Refund" computerName="ci" duration="00:00:00.0200000" startTime="2025-01-10T10:00:01.0000000+01:00" endTime="2025-01-10T10:00:01.0200000+01:00" testType="13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b" outcome="Passed" testListId="l1" />
  </Results>
  <TestDefinitions>
    <UnitTest name="Refund" storage="/src/shop.tests.dll" id="t1">
      <Execution id="e1" />
      <Properties>
        <Property><Key>TestRail</Key><Value>C201</Value></Property>
        <Property><Key>TestRail</Key><Value>C202</Value></Property>
      </Properties>
      <TestMethod codeBase="/src/shop.tests.dll" adapterTypeName="executor://mstestadapter/v2" className="Shop.Tests.RefundTests" name="Refund" />
    </UnitTest>
  </TestDefinitions>
  <ResultSummary outcome="Completed"><Counters total="1" executed="1" passed="1" failed="0" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" /></ResultSummary>
</TestRun>
"""


def test_trx_property_named_twice_keeps_both_values(tmp_path):
    path = tmp_path / "run.trx"
    path.write_text(TRX_PROPERTIES, encoding="utf-8")
    (case,) = open_report(path).read_all()
    assert case.properties == {"TestRail": "C201, C202"} and case.tags == ["C201", "C202"]


def test_playwright_output_written_as_bytes_is_text():
    """js/playwright run by Playwright 1.65: a chunk of output that is not UTF-8 on its own (a
    child's output piped on, cutting 'é' in two) is written as {"buffer": base64}. The chunks are
    joined before they are decoded, so the character cut in two is whole again; a byte that is no
    UTF-8 at all (Latin-1's ï) is U+FFFD. Its size counts the characters, not the base64."""
    case = _by_name(FIELDS / "js" / "playwright-fields.json")["pipes a child's output"]
    assert case.final.stdout == "café ünïcode\nna\ufffdve\n"
    assert case.final.stdout_size == len(case.final.stdout)


def test_cucumber_jvm_run_starts_with_its_earliest_scenario(corpus_dir):
    """cucumber-jvm 7.26 (json-formatter's testdata, in the corpus) writes start_timestamp on each
    scenario and nothing of the run: the run started with the earliest scenario."""
    path = corpus_dir / "results" / "cucumber-json" / (
        "cucumber-jsonfmt__cucumber-jvm-7.26.0-failing-background-with-two-scenarios.ndjson.jvm.json")
    stream = open_report(path)
    starts = [case.final.started_at for case in stream]
    assert stream.info.started_at == min(starts) == datetime(2025, 9, 9, 15, 25, 9, 38000, tzinfo=timezone.utc)
    # cucumber-js writes no time at all: none is made up.
    stream = open_report(FIELDS / "js" / "cucumber-fields.json")
    stream.read_all()
    assert stream.info.started_at is None


@pytest.mark.parametrize("msg, args, shown", [
    ("stock %s at %d", ["low", 3], "stock low at 3"),
    ("stock %(level)s", {"level": "low"}, "stock low"),
    ("stock %d", ["not a number"], "stock %d"),
    ("100% sure", None, "100% sure"),
])
def test_pytest_json_log_record_arguments(tmp_path, msg, args, shown):
    """pytest-json-report keeps a record's msg and args apart (logging's record.__dict__)."""
    report = json.loads((FIELDS / "pytest" / "pytest-json-report.json").read_text(encoding="utf-8"))
    test = next(t for t in report["tests"] if t["nodeid"].endswith("test_logs_and_prints"))
    test["call"]["log"][0].update(msg=msg, args=args)
    del test["call"]["stdout"]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert _by_name(path)["test_logs_and_prints"].final.stdout == f"WARNING  shop:test_fields.py:22 {shown}"


def test_playwright_soft_assertions_keep_every_error():
    """js/playwright run by Playwright 1.65: two expect.soft() that failed are two entries of the
    result's errors (error is the first). The message is the first's; the trace holds both, as
    Playwright's JUnit reporter writes them into the failure."""
    case = _by_name(FIELDS / "js" / "playwright-fields.json")["checks softly"]
    for attempt in case.attempts:
        assert attempt.message == "Error: first total"
        first, second = attempt.stack_trace.index("first total"), attempt.stack_trace.index("second currency")
        assert first < second and "\x1b" not in attempt.stack_trace
    junit = _by_name(FIELDS / "js" / "playwright-fields-junit.xml")["checks softly"]
    assert "second currency" in junit.final.stack_trace


def test_pytest_ctrf_names_tests_as_pytest_does():
    """pytest/test_fields.py run by pytest-json-ctrf 0.6.1: it names a test by its node id
    ('test_fields.py::test_receipt'). Its identity is the one pytest's own reports give it, so
    its history is one whichever of the reports CI sends."""
    ctrf = open_report(FIELDS / "pytest" / "ctrf.json").read_all()
    reference = {c.name: c for c in open_report(FIELDS / "pytest" / "pytest-json-report.json")}
    assert {c.name for c in ctrf} == set(reference)
    for case in ctrf:
        assert (case.suite, case.name, case.parameters, case.identity, case.status) == (
            "test_fields", case.name, None, reference[case.name].identity, reference[case.name].status)


@pytest.mark.parametrize("report", ["playwright-fields.json", "ctrf-fields.json", "playwright-fields-junit.xml"])
def test_playwright_skip_reason_is_the_message(report):
    """test.skip(true, "no payment sandbox on CI") inside a test, Playwright 1.65: its JSON, CTRF
    and JUnit reporters write the reason only as the 'skip' annotation. It is the skipped test's
    message, as pytest's, JUnit's and NUnit's skip reasons are; a skip without one has none."""
    cases = _by_name(FIELDS / "js" / report)
    assert cases["skips itself"].status == "skipped"
    assert cases["skips itself"].final.message == "no payment sandbox on CI"
    assert cases["skips itself"].properties["skip"] == "no payment sandbox on CI"
    assert cases["not ready @PROJ-T12"].final.message is None
