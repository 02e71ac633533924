"""Test-result parsers against the real-report corpus, committed tool-written fixtures, and
hostile input."""

from __future__ import annotations

import ast
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, UnknownFormat, detect, open_report, read_report, registry
from crossbridge_assets.formats import _xml
from crossbridge_assets.formats._tags import extract_tags, find_ids
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets.model import test_identity as identity_of
from crossbridge_assets_tests.conftest import FIXTURES, corpus_params

RESULTS = FIXTURES / "results"
JUNIT = FIXTURES / "junit"
HOSTILE = FIXTURES / "hostile"


# ---------------------------------------------------------------------------- corpus oracle


def _splits(row: dict) -> set[tuple[int, int]] | None:
    """Accepted (failures, errors) splits; None when only their sum is meaningful.

    Where sources disagree on failure vs error, the notes give the alternative reading
    ("alt split: failures=3 errors=2", "[independent per-element recount: {...}]")."""
    notes = row.get("notes") or ""
    options = {(int(row["failures"]), int(row["errors"]))}
    for m in re.finditer(r"alt(?: split)?:?\s*failures=(\d+)\s+errors=(\d+)", notes):
        options.add((int(m.group(1)), int(m.group(2))))
    m = re.search(r"independent per-element recount: (\{[^}]*\})", notes)
    if m:
        recount = ast.literal_eval(m.group(1))
        options.add((int(recount["failures"]), int(recount["errors"])))
    if len(options) == 1 and re.search(r"fold|disagree", notes, re.I):
        return None
    return options


@pytest.mark.parametrize("row", corpus_params(kind="results"))
def test_corpus_totals(row):
    path = row["path"]
    if row["tests"] == "error":
        with pytest.raises(FormatError) as info:
            read_report(path)
        assert info.value.path == str(path)
        assert info.value.reason
        return
    spec, stream, records = read_report(path)
    assert spec.name == row["format"]
    totals = stream.totals
    assert totals.tests == int(row["tests"]) == len(records)
    assert totals.skipped == int(row["skipped"])
    assert totals.failures + totals.errors == int(row["failures"]) + int(row["errors"])
    splits = _splits(row)
    if splits is not None:
        assert (totals.failures, totals.errors) in splits, row["notes"]
    for case in records:
        assert case.attempts, case
        assert case.final.status == case.status or case.status in (PASSED, SKIPPED)
        assert case.identity


def test_every_results_format_in_the_corpus_has_a_parser():
    names = {s.name for s in registry()}
    for fmt in ("junit", "testng", "nunit", "xunit", "trx", "robot", "playwright-json", "mocha-json",
                "mochawesome", "cucumber-json", "pytest-json-report", "ctrf"):
        assert fmt in names


def test_unknown_format_lists_what_is_supported(tmp_path):
    p = tmp_path / "odd.xml"
    p.write_text("<suites><suite><case/></suite></suites>")
    with pytest.raises(UnknownFormat) as info:
        read_report(p)
    for name in ("junit", "nunit", "trx", "robot", "playwright-json", "cucumber-json"):
        assert name in info.value.reason


def test_malformed_json_is_a_format_error(tmp_path):
    p = tmp_path / "report.json"
    p.write_text('{"exitcode": 1, "root": "/x", "summary": {"total": 1}, "tests": [{"nodeid": "a.py::t", oops}]}')
    with pytest.raises(FormatError) as info:
        read_report(p)
    assert "malformed JSON" in info.value.reason and info.value.path == str(p)


# ---------------------------------------------------------------------------- JUnit dialects


SUREFIRE_RERUNS = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.ShopTest" tests="3" failures="1" errors="0" skipped="0" flakes="1">
  <testcase name="checkout" classname="com.example.ShopTest" time="0.2">
    <flakyFailure message="timeout" type="java.util.concurrent.TimeoutException" time="1.5">
      <stackTrace>java.util.concurrent.TimeoutException: timeout</stackTrace>
      <system-out>first try</system-out>
    </flakyFailure>
    <flakyError message="boom" type="java.lang.IllegalStateException" time="0.7"/>
  </testcase>
  <testcase name="pay" classname="com.example.ShopTest" time="0.3">
    <failure message="expected 2 but was 3" type="org.opentest4j.AssertionFailedError">trace 1</failure>
    <rerunFailure message="expected 2 but was 4" type="org.opentest4j.AssertionFailedError" time="0.25">
      <stackTrace>trace 2</stackTrace>
    </rerunFailure>
  </testcase>
  <testcase name="browse" classname="com.example.ShopTest" time="0.1"/>
</testsuite>
"""


def test_surefire_flaky_and_rerun_attempts(tmp_path):
    p = tmp_path / "TEST-com.example.ShopTest.xml"
    p.write_text(SUREFIRE_RERUNS)
    _spec, stream, cases = read_report(p)
    by_name = {c.name: c for c in cases}
    checkout = by_name["checkout"]
    assert checkout.status == PASSED and checkout.flaky
    assert [a.status for a in checkout.attempts] == [FAILED, ERROR, PASSED]
    assert checkout.attempts[0].failure_type == "java.util.concurrent.TimeoutException"
    assert checkout.attempts[0].duration == 1.5 and checkout.attempts[0].stdout == "first try"
    pay = by_name["pay"]
    assert pay.status == FAILED and not pay.flaky
    assert [a.status for a in pay.attempts] == [FAILED, FAILED]
    assert pay.attempts[1].message == "expected 2 but was 4" and pay.attempts[1].stack_trace == "trace 2"
    assert stream.totals.as_dict() == {"tests": 3, "passed": 2, "failures": 1, "errors": 0, "skipped": 0}
    assert stream.info.declared == {"tests": 3, "failures": 1, "errors": 0, "skipped": 0}
    assert stream.info.warnings == []


def test_surefire_flaky_failure_from_the_corpus(corpus_dir):
    _spec, _stream, cases = read_report(corpus_dir / "results/junit/mikepenz__maven_surefire_flaky-surefire-report.xml")
    assert len(cases) == 1
    assert cases[0].flaky and cases[0].attempts[0].status in (FAILED, ERROR) and cases[0].final.status == PASSED


GO_JUNIT_RERUNS = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4" failures="1">
  <testsuite name="example.com/shop" tests="4" failures="1" errors="0" skipped="0" time="0.030">
    <properties><property name="go.version" value="go1.22.1"></property></properties>
    <testcase name="TestCheckout" classname="example.com/shop" time="0.010">
      <failure message="Failed" type="">shop_test.go:12: got 3 want 2</failure>
    </testcase>
    <testcase name="TestCheckout" classname="example.com/shop" time="0.010"></testcase>
    <testcase name="TestPay" classname="example.com/shop" time="0.005"></testcase>
    <testcase name="TestPay/with_card" classname="example.com/shop" time="0.005"></testcase>
  </testsuite>
</testsuites>
"""


def test_go_junit_report_repeated_testcases_count_once_each(tmp_path):
    p = tmp_path / "go-junit.xml"
    p.write_text(GO_JUNIT_RERUNS)
    _spec, stream, cases = read_report(p)
    assert stream.totals.tests == 4 and stream.totals.failures == 1
    repeats = [c for c in cases if c.properties.get("repeat")]
    assert [(c.name, c.properties["repeat"], c.status) for c in repeats] == [("TestCheckout", "2", PASSED)]
    assert cases[0].identity == cases[1].identity
    assert any("repeat" in w for w in stream.info.warnings)
    # Declared totals agree with the content: no disagreement warning.
    assert not any("declared" in w for w in stream.info.warnings)


def test_declared_totals_disagreement_is_a_warning(corpus_dir):
    _spec, stream, _ = read_report(corpus_dir / "results/junit/enricomi__xunit.xml")
    assert stream.info.declared["tests"] == 173
    assert any("tests declared 173" in w for w in stream.info.warnings)


# ---------------------------------------------------------------------------- JUnit: reruns, suite errors, not-run statuses
# Fixtures in fixtures/junit: the real tools' output (regenerate.sh there), or hand-made in the
# shape its tool writes (the comment at the top of each such file names the writer it copies).


def _open(path: Path):
    """Through the public API: the stream (totals and info complete) and its test cases."""
    stream = open_report(path)
    cases = list(stream)
    return stream, cases


def _ids(cases) -> list[tuple[str, str, str | None, str]]:
    return [(c.suite, c.name, c.parameters, c.status) for c in cases]


def test_surefire_rerun_error_and_failure_attempts_in_run_order():
    stream, cases = _open(JUNIT / "surefire-rerun-errors.xml")
    assert stream.info.format == "junit" and stream.info.framework == "junit"
    suite = "com.acme.orders.OrderRepositoryTest"
    assert _ids(cases) == [
        (suite, "savesOrder", None, ERROR),
        (suite, "cancelsOrder", None, ERROR),
        (suite, "listsOrders", None, PASSED),
    ]
    assert len({c.identity for c in cases}) == 3
    saves, cancels, lists = cases

    # <error> is run 1, each <rerunError> a later run, in document order.
    assert [(a.status, a.message, a.failure_type) for a in saves.attempts] == [
        (ERROR, "Connection refused: db:5432", "org.postgresql.util.PSQLException"),
        (ERROR, "Connection refused: db:5432", "org.postgresql.util.PSQLException"),
        (ERROR, "Connection reset", "java.net.SocketException"),
    ]
    refused = (
        "org.postgresql.util.PSQLException: Connection refused: db:5432\n"
        "\tat com.acme.orders.OrderRepositoryTest.savesOrder(OrderRepositoryTest.java:41)"
    )
    reset = (
        "java.net.SocketException: Connection reset\n"
        "\tat com.acme.orders.OrderRepositoryTest.savesOrder(OrderRepositoryTest.java:44)"
    )
    assert [a.stack_trace for a in saves.attempts] == [refused, refused, reset]
    # The testcase's own system-out belongs to run 1; a rerun carries its own output.
    assert [(a.stdout, a.stderr) for a in saves.attempts] == [
        ("run 1: connecting to db:5432", None),
        ("run 2: connecting to db:5432", None),
        (None, "run 3: pool exhausted"),
    ]
    assert saves.final is saves.attempts[-1] and saves.final.status == ERROR
    assert saves.duration == 0.514

    # <error> then two <rerunFailure>: the test errored (its first run's outcome), its last run failed.
    assert [(a.status, a.message, a.failure_type) for a in cancels.attempts] == [
        (ERROR, "Lock wait timeout exceeded", "java.sql.SQLTransientException"),
        (FAILED, "expected: <CANCELLED> but was: <OPEN>", "org.opentest4j.AssertionFailedError"),
        (FAILED, "expected: <CANCELLED> but was: <LOCKED>", "org.opentest4j.AssertionFailedError"),
    ]
    assert cancels.attempts[0].stack_trace.startswith("java.sql.SQLTransientException: Lock wait timeout exceeded\n\tat ")
    assert cancels.attempts[2].stack_trace == (
        "org.opentest4j.AssertionFailedError: expected: <CANCELLED> but was: <LOCKED>\n"
        "\tat com.acme.orders.OrderRepositoryTest.cancelsOrder(OrderRepositoryTest.java:61)"
    )
    assert cancels.final.status == FAILED and cancels.status == ERROR

    assert [(a.status, a.duration) for a in lists.attempts] == [(PASSED, 0.102)]
    # Flaky means passed in the end after a failed attempt: failing every run is not flaky.
    assert [c.flaky for c in cases] == [False, False, False]
    assert stream.totals.as_dict() == {"tests": 3, "passed": 1, "failures": 0, "errors": 2, "skipped": 0}
    assert stream.info.declared == {"tests": 3, "failures": 0, "errors": 2, "skipped": 0}
    assert stream.info.warnings == []


def test_flaky_error_then_pass_is_flaky_and_counts_as_passed(tmp_path):
    p = tmp_path / "TEST-com.acme.FlakyTest.xml"
    p.write_text(
        '<testsuite name="com.acme.FlakyTest" tests="1" failures="0" errors="0" skipped="0">'
        '<testcase name="retries" classname="com.acme.FlakyTest" time="0.3">'
        '<flakyError message="Read timed out" type="java.net.SocketTimeoutException">'
        "<stackTrace>java.net.SocketTimeoutException: Read timed out</stackTrace></flakyError>"
        "</testcase></testsuite>"
    )
    stream, (case,) = _open(p)
    assert (case.status, case.flaky) == (PASSED, True)
    assert [(a.status, a.message, a.failure_type, a.stack_trace) for a in case.attempts] == [
        (ERROR, "Read timed out", "java.net.SocketTimeoutException", "java.net.SocketTimeoutException: Read timed out"),
        (PASSED, None, None, None),
    ]
    assert stream.totals.as_dict() == {"tests": 1, "passed": 1, "failures": 0, "errors": 0, "skipped": 0}


def test_suite_error_without_testcases_is_one_errored_test():
    """Ant's formatter when the class cannot be loaded: <error> straight under <testsuite>."""
    stream, cases = _open(JUNIT / "ant-suite-error.xml")
    assert _ids(cases) == [("com.acme.billing.InvoiceExporterTest", "(suite error)", None, ERROR)]
    (crash,) = cases
    assert crash.framework == "junit"
    assert crash.identity == identity_of("junit", "com.acme.billing.InvoiceExporterTest", "(suite error)", None)
    assert [(a.status, a.message, a.failure_type) for a in crash.attempts] == [
        (ERROR, "com/acme/billing/PdfFixture", "java.lang.NoClassDefFoundError"),
    ]
    assert crash.final.stack_trace.startswith(
        "java.lang.NoClassDefFoundError: com/acme/billing/PdfFixture\n\tat java.base/java.lang.ClassLoader.defineClass1"
    )
    assert not crash.flaky
    assert stream.totals.as_dict() == {"tests": 1, "passed": 0, "failures": 0, "errors": 1, "skipped": 0}
    # Ant declares the crash as one errored test too: the two counts agree.
    assert stream.info.declared == {"tests": 1, "failures": 0, "errors": 1, "skipped": 0}
    assert stream.info.warnings == []


SUITE_ERRORS_AROUND_TESTCASES = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="9" failures="0" errors="4" skipped="0">
  <testsuite name="com.acme.billing.TaxTest" tests="3" failures="0" errors="1" skipped="0">
    <testcase classname="com.acme.billing.TaxTest" name="addsVat" time="0.101"/>
    <error message="tax table missing" type="java.lang.IllegalStateException">java.lang.IllegalStateException: tax table missing
	at com.acme.billing.TaxTest.loadTables(TaxTest.java:31)</error>
    <testcase classname="com.acme.billing.TaxTest" name="roundsHalfUp" time="0.204"/>
    <failure message="second suite-level outcome" type="java.lang.AssertionError">not counted again</failure>
  </testsuite>
  <testsuite name="com.acme.billing.RefundTest" tests="2" failures="0" errors="1" skipped="0">
    <testcase classname="com.acme.billing.RefundTest" name="refundsInFull" time="0.050"/>
    <failure message="@AfterClass failed" type="java.lang.AssertionError">java.lang.AssertionError: @AfterClass failed</failure>
  </testsuite>
  <testsuite name="com.acme.billing.LedgerTest" tests="3" failures="0" errors="1" skipped="0">
    <error message="ledger locked" type="java.sql.SQLException">java.sql.SQLException: ledger locked</error>
    <testcase classname="com.acme.billing.LedgerTest" name="balances" time="0.010"/>
    <testcase classname="com.acme.billing.LedgerTest" name="closesMonth" time="0.020"/>
  </testsuite>
  <testsuite name="com.acme.billing.EmptyTest" tests="1" failures="0" errors="1" skipped="0">
    <failure message="no runnable methods" type="java.lang.Exception">java.lang.Exception: no runnable methods</failure>
  </testsuite>
</testsuites>
"""


def test_suite_error_before_and_after_testcases_counts_once_per_suite(tmp_path):
    """Jenkins semantics: a <testsuite> with a direct <error>/<failure> child adds one errored test,
    wherever the child stands among the testcases and however many such children there are."""
    p = tmp_path / "suite-errors.xml"
    p.write_text(SUITE_ERRORS_AROUND_TESTCASES)
    stream, cases = _open(p)
    tax, refund, ledger, empty = (f"com.acme.billing.{n}" for n in ("TaxTest", "RefundTest", "LedgerTest", "EmptyTest"))
    assert _ids(cases) == [
        (tax, "addsVat", None, PASSED),
        (tax, "(suite error)", None, ERROR),
        (tax, "roundsHalfUp", None, PASSED),
        (refund, "refundsInFull", None, PASSED),
        (refund, "(suite error)", None, ERROR),
        (ledger, "(suite error)", None, ERROR),
        (ledger, "balances", None, PASSED),
        (ledger, "closesMonth", None, PASSED),
        (empty, "(suite error)", None, ERROR),
    ]
    crashes = [c for c in cases if c.name == "(suite error)"]
    # The first suite-level outcome of a suite is the one kept; a suite-level <failure> is an error too.
    assert [(c.final.status, c.final.message, c.final.failure_type, c.final.stack_trace) for c in crashes] == [
        (ERROR, "tax table missing", "java.lang.IllegalStateException",
         "java.lang.IllegalStateException: tax table missing\n\tat com.acme.billing.TaxTest.loadTables(TaxTest.java:31)"),
        (ERROR, "@AfterClass failed", "java.lang.AssertionError", "java.lang.AssertionError: @AfterClass failed"),
        (ERROR, "ledger locked", "java.sql.SQLException", "java.sql.SQLException: ledger locked"),
        (ERROR, "no runnable methods", "java.lang.Exception", "java.lang.Exception: no runnable methods"),
    ]
    assert all(len(c.attempts) == 1 and c.duration is None for c in crashes)
    assert len({c.identity for c in cases}) == len(cases)
    assert stream.totals.as_dict() == {"tests": 9, "passed": 5, "failures": 0, "errors": 4, "skipped": 0}
    # The suites' own figures count each crash as one errored test, as the parser does.
    assert stream.info.declared == {"tests": 9, "failures": 0, "errors": 4, "skipped": 0}
    assert stream.info.warnings == []


def test_suite_error_among_many_testcases_counts_once(tmp_path):
    """Past the batch in which finished testcases are unlinked (every 64), before and after the crash."""
    before = "".join(f'<testcase classname="com.acme.BigTest" name="before{i}"/>' for i in range(130))
    after = "".join(f'<testcase classname="com.acme.BigTest" name="after{i}"/>' for i in range(70))
    p = tmp_path / "big.xml"
    p.write_text(
        f'<testsuite name="com.acme.BigTest" tests="201" errors="1" failures="0" skipped="0">{before}'
        f'<error message="pool closed" type="java.lang.IllegalStateException">trace</error>{after}</testsuite>'
    )
    stream, cases = _open(p)
    crashes = [(i, c.suite, c.final.message) for i, c in enumerate(cases) if c.name == "(suite error)"]
    assert crashes == [(130, "com.acme.BigTest", "pool closed")]
    assert stream.totals.as_dict() == {"tests": 201, "passed": 200, "failures": 0, "errors": 1, "skipped": 0}
    assert stream.info.warnings == []


def test_pytest_collection_error_is_an_errored_testcase(tmp_path):
    """pytest does not write a suite-level <error> for a module that fails to import: it writes a
    <testcase classname=""> holding <error message="collection failure">. Run the real pytest."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_broken.py").write_text("import module_that_does_not_exist\n\ndef test_never():\n    pass\n")
    report = tmp_path / "junit.xml"
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={tmp_path}",
         "-o", "junit_family=xunit2", f"--junitxml={report}", "tests"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    stream, cases = _open(report)
    assert stream.info.framework == "pytest"
    assert _ids(cases) == [("", "tests.test_broken", None, ERROR)]  # pytest-json-report's identity too
    assert cases[0].final.message == "collection failure"
    assert "No module named 'module_that_does_not_exist'" in cases[0].final.stack_trace
    assert stream.totals.as_dict() == {"tests": 1, "passed": 0, "failures": 0, "errors": 1, "skipped": 0}
    assert stream.info.warnings == []


def test_googletest_disabled_and_skipped_tests():
    stream, cases = _open(JUNIT / "googletest-disabled.xml")
    assert stream.info.name == "AllTests" and stream.info.started_at is not None
    assert _ids(cases) == [
        ("QueueTest", "IsEmptyInitially", None, PASSED),
        ("QueueTest", "DequeueWorks", None, FAILED),
        ("QueueTest", "DISABLED_ResizesWhenFull", None, SKIPPED),  # status="notrun" result="suppressed"
        ("Sizes.BufferTest", "Fits/0", None, PASSED),
        ("Sizes.BufferTest", "Fits/1", None, SKIPPED),  # GTEST_SKIP(): <skipped> child
    ]
    by_name = {c.name: c for c in cases}
    disabled = by_name["DISABLED_ResizesWhenFull"]
    assert [(a.status, a.message, a.stack_trace) for a in disabled.attempts] == [(SKIPPED, None, None)]
    assert (disabled.file, disabled.line, disabled.duration) == ("/src/queue_test.cc", 28, 0.0)
    assert by_name["Fits/1"].final.message == "/src/queue_test.cc:32\nneeds huge pages"
    assert by_name["DequeueWorks"].final.message.startswith("/src/queue_test.cc:25\nExpected equality of these values:")
    assert not any(c.flaky for c in cases)
    assert stream.totals.as_dict() == {"tests": 5, "passed": 2, "failures": 1, "errors": 0, "skipped": 2}


def test_ctest_disabled_and_not_run_tests():
    stream, cases = _open(JUNIT / "ctest-junit.xml")
    assert _ids(cases) == [
        ("math_add", "math_add", None, PASSED),  # status="run"
        ("math_div", "math_div", None, FAILED),  # status="fail" with <failure>
        ("gpu_render", "gpu_render", None, SKIPPED),  # status="disabled", no child
        ("gpu_probe", "gpu_probe", None, SKIPPED),  # status="notrun", <skipped> SKIP_RETURN_CODE=77
        ("net_fetch", "net_fetch", None, ERROR),  # status="notrun", <skipped>: CTest's summary says failed
    ]
    by_name = {c.name: c for c in cases}
    assert [(a.status, a.message) for a in by_name["gpu_render"].attempts] == [(SKIPPED, None)]
    assert by_name["net_fetch"].final.message == "Fixture dependency failed"
    assert by_name["math_div"].final.message == ""  # CTest 3.25 writes message=""
    assert by_name["math_add"].properties == {}  # CTest 3.25 writes no labels
    assert by_name["math_add"].final.stdout == "All tests passed (4 assertions in 1 test case)\n"
    assert stream.totals.as_dict() == {"tests": 5, "passed": 1, "failures": 1, "errors": 1, "skipped": 2}


@pytest.mark.parametrize(
    "status, child, expected",
    [
        ("disabled", "", SKIPPED),
        ("notrun", "", SKIPPED),
        ("skipped", "", SKIPPED),
        ("ignored", "", SKIPPED),
        ("DISABLED", "", SKIPPED),
        ("NotRun", "", SKIPPED),
        ("run", "", PASSED),
        ("completed", "", PASSED),
        ("", "", PASSED),
        # An outcome element outranks the status attribute.
        ("notrun", '<failure message="m" type="t"/>', FAILED),
        ("disabled", '<error message="m" type="t"/>', ERROR),
        ("run", '<skipped message="m"/>', SKIPPED),
    ],
)
def test_status_attribute_of_a_testcase(tmp_path, status, child, expected):
    p = tmp_path / "status.xml"
    p.write_text(
        f'<testsuite name="s" tests="1"><testcase classname="pkg.Suite" name="t" time="0" status="{status}">'
        f"{child}</testcase></testsuite>"
    )
    _stream, cases = _open(p)
    assert _ids(cases) == [("pkg.Suite", "t", None, expected)]
    assert [a.status for a in cases[0].attempts] == [expected]


@pytest.mark.parametrize(
    "name, totals",
    [
        ("surefire-rerun-errors.xml", {"tests": 3, "passed": 1, "failures": 0, "errors": 2, "skipped": 0}),
        ("ant-suite-error.xml", {"tests": 1, "passed": 0, "failures": 0, "errors": 1, "skipped": 0}),
        ("googletest-disabled.xml", {"tests": 5, "passed": 2, "failures": 1, "errors": 0, "skipped": 2}),
        ("ctest-junit.xml", {"tests": 5, "passed": 1, "failures": 1, "errors": 1, "skipped": 2}),
    ],
)
def test_cli_parse_json_on_the_junit_dialect_fixtures(capsys, name, totals):
    from crossbridge_assets.cli import main

    path = JUNIT / name
    code = main(["parse", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    got = json.loads(out)
    assert {k: got[k] for k in ("path", "kind", "format", "totals")} == {
        "path": str(path), "kind": "results", "format": "junit", "totals": totals}
    # The files' own totals agree with their content: shown, and no warning.
    assert got["declared"]["tests"] == totals["tests"] and got["warnings"] == []


# Dialect details with their minimal reproductions.


@pytest.mark.parametrize("name", ["googletest-disabled.xml", "ctest-junit.xml"])
def test_disabled_tests_in_declared_totals_give_no_warning(name):
    stream, _cases = _open(JUNIT / name)
    assert stream.info.warnings == []
    assert stream.info.declared.get("skipped", 2) == stream.totals.skipped == 2


def test_googletest_1_10_result_skipped_without_child_is_skipped(tmp_path):
    p = tmp_path / "gtest-1.10.xml"
    p.write_text(
        '<testsuites tests="1" failures="0" disabled="0" errors="0" time="0.016" name="AllTests">'
        '<testsuite name="TestExecutors" tests="1" failures="0" disabled="0" errors="0" time="0.011">'
        '<testcase name="detachOnDestruction" status="run" result="skipped" time="0.011" classname="rclcpp.TestExecutors"/>'
        "</testsuite></testsuites>"
    )
    _stream, cases = _open(p)
    assert _ids(cases) == [("rclcpp.TestExecutors", "detachOnDestruction", None, SKIPPED)]


def test_suite_error_before_a_nested_suite_is_counted(tmp_path):
    p = tmp_path / "nested.xml"
    p.write_text(
        '<testsuites><testsuite name="outer"><error message="boom" type="X">trace</error>'
        '<testsuite name="inner"><testcase name="t1"/></testsuite></testsuite></testsuites>'
    )
    _stream, cases = _open(p)
    assert sorted(_ids(cases)) == [("outer", "(suite error)", None, ERROR), ("outer.inner", "t1", None, PASSED)]


def test_suite_error_lands_in_the_suite_of_its_testcases(tmp_path):
    p = tmp_path / "slash.xml"
    p.write_text(
        '<testsuite name="example.com/shop"><testcase classname="example.com/shop" name="TestCheckout"/>'
        '<error message="build failed" type="">shop.go:3: undefined: Cart</error></testsuite>'
    )
    _stream, cases = _open(p)
    assert {c.suite for c in cases} == {"example.com.shop"}


# ---------------------------------------------------------------------------- pytest: two formats, one identity


def test_pytest_junitxml_and_json_report_give_the_same_identities():
    _s1, junit, from_xml = read_report(RESULTS / "pytest-junit.xml")
    spec, jsonr, from_json = read_report(RESULTS / "pytest-json-report.json")
    assert spec.name == "pytest-json-report"
    assert {c.framework for c in from_xml} == {c.framework for c in from_json} == {"pytest"}
    xml_by_id = {c.identity: c for c in from_xml}
    json_by_id = {c.identity: c for c in from_json}
    assert set(xml_by_id) == set(json_by_id) and len(xml_by_id) == 8
    for ident, x in xml_by_id.items():
        j = json_by_id[ident]
        assert (x.suite, x.name, x.parameters, x.status) == (j.suite, j.name, j.parameters, j.status)
    assert junit.totals.as_dict() == jsonr.totals.as_dict() == {
        "tests": 8, "passed": 3, "failures": 2, "errors": 1, "skipped": 2,
    }
    by_name = {(c.name, c.parameters): c for c in from_json}
    assert by_name[("test_errors", None)].status == ERROR
    assert by_name[("test_expected_failure", None)].status == SKIPPED
    assert by_name[("test_add", "[2-2-5]")].status == FAILED
    assert by_name[("test_add", "[1-2-3]")].status == PASSED
    assert by_name[("test_login_C1234", None)].suite == "sample_tests.TestLogin"
    assert "C1234" in by_name[("test_login_C1234", None)].tags
    assert jsonr.info.declared == {"tests": 8, "failures": 2, "errors": 1, "skipped": 2}
    assert jsonr.info.warnings == []


# ---------------------------------------------------------------------------- Robot Framework


def _robot_stats(path: Path) -> tuple[int, int, int]:
    from robot.api import ExecutionResult

    stats = ExecutionResult(str(path)).statistics.total
    return stats.total, stats.failed, stats.skipped


ROBOT_FILES = [RESULTS / "robot-output.xml", RESULTS / "robot-output-merged.xml"]


@pytest.mark.parametrize("path", ROBOT_FILES, ids=lambda p: p.name)
def test_robot_fixtures_match_robot_itself(path):
    _spec, stream, _ = read_report(path)
    t = stream.totals
    assert (t.tests, t.failures, t.skipped) == _robot_stats(path)
    assert stream.info.warnings == []


def test_robot_corpus_matches_robot_itself(corpus_dir):
    for path in sorted((corpus_dir / "results/robot").glob("*.xml")):
        _spec, stream, _ = read_report(path)
        t = stream.totals
        assert (t.tests, t.failures, t.skipped) == _robot_stats(path), path.name


def test_robot_statuses_tags_and_merged_reruns():
    _spec, _stream, first = read_report(RESULTS / "robot-output.xml")
    by_name = {c.name: c for c in first}
    assert {n: c.status for n, c in by_name.items()} == {
        "Passing Test": PASSED, "Failing Test": FAILED, "Skipped Test": SKIPPED, "Flaky Test": FAILED,
    }
    assert {"smoke", "C1001"} <= set(by_name["Passing Test"].tags)
    assert "PROJ-7" in by_name["Failing Test"].tags
    assert by_name["Failing Test"].final.message == "apples != oranges"
    assert by_name["Passing Test"].suite == "Sample" and by_name["Passing Test"].duration is not None

    _spec, _stream, merged = read_report(RESULTS / "robot-output-merged.xml")
    by_name = {c.name: c for c in merged}
    flaky = by_name["Flaky Test"]
    assert flaky.status == PASSED and flaky.flaky
    assert [a.status for a in flaky.attempts] == [FAILED, PASSED]
    assert flaky.attempts[0].message == "no != yes"
    assert [a.status for a in by_name["Failing Test"].attempts] == [FAILED, FAILED]
    assert flaky.identity == next(c for c in first if c.name == "Flaky Test").identity


def test_robot_old_timestamps(corpus_dir):
    _spec, stream, cases = read_report(corpus_dir / "results/robot/robotframework__output-3.2.2.xml")
    assert stream.info.name == "Misc" and stream.info.started_at is not None
    assert all(c.final.started_at is not None for c in cases)
    # Robot allows two tests of one name in a suite (it only warns): that file has one such pair.
    assert len({c.identity for c in cases}) == len({(c.suite, c.name) for c in cases}) == len(cases) - 1


# ---------------------------------------------------------------------------- JSON reporters


def test_playwright_retries_are_attempts(corpus_dir):
    _spec, _stream, cases = read_report(corpus_dir / "results/playwright-json/daun-pw__report-valid.json")
    flaky = [c for c in cases if c.flaky]
    assert len(flaky) == 1
    assert [a.status for a in flaky[0].attempts] == [FAILED, FAILED, PASSED]
    assert flaky[0].parameters == "[chromium]"
    failing = [c for c in cases if c.status == FAILED]
    assert all(len(c.attempts) > 1 and all(a.status == FAILED for a in c.attempts) for c in failing)
    assert all("\x1b[" not in (c.final.message or "") for c in cases)
    # One test per project: the same spec in two browsers is two identities.
    adds = [c for c in cases if c.name == "adds"]
    assert len({c.identity for c in adds}) == 2


CUCUMBER_HOOKS = [
    {
        "uri": "features/shop.feature", "id": "shop", "keyword": "Feature", "name": "Shop", "line": 1,
        "tags": [{"name": "@TR-1"}],
        "elements": [
            {"type": "background", "keyword": "Background", "name": "", "line": 3,
             "steps": [{"keyword": "Given ", "name": "a shop", "result": {"status": "passed", "duration": 1000000}}]},
            {"type": "scenario", "keyword": "Scenario", "name": "after hook fails", "id": "shop;after-hook-fails",
             "line": 6, "tags": [{"name": "@C42"}],
             "steps": [{"keyword": "When ", "name": "I buy", "result": {"status": "passed", "duration": 2000000}}],
             "after": [{"match": {"location": "Hooks.after"},
                        "result": {"status": "failed", "error_message": "screenshot failed\n at Hooks"}}]},
            {"type": "background", "keyword": "Background", "name": "", "line": 3,
             "steps": [{"keyword": "Given ", "name": "a shop", "result": {"status": "failed",
                                                                          "error_message": "db down"}}]},
            {"type": "scenario", "keyword": "Scenario", "name": "background fails", "id": "shop;background-fails",
             "line": 9, "steps": [{"keyword": "When ", "name": "I buy", "result": {"status": "skipped"}}]},
            {"type": "background", "keyword": "Background", "name": "", "line": 3,
             "steps": [{"keyword": "Given ", "name": "a shop", "result": {"status": "passed"}}]},
            {"type": "scenario", "keyword": "Scenario", "name": "undefined step", "id": "shop;undefined-step",
             "line": 12, "before": [{"result": {"status": "passed"}}],
             "steps": [{"keyword": "When ", "name": "I fly", "result": {"status": "undefined"}}]},
            {"type": "background", "keyword": "Background", "name": "", "line": 3,
             "steps": [{"keyword": "Given ", "name": "a shop", "result": {"status": "passed"}}]},
            {"type": "scenario", "keyword": "Scenario", "name": "step hook fails", "id": "shop;step-hook-fails",
             "line": 15,
             "steps": [{"keyword": "When ", "name": "I buy", "result": {"status": "passed"},
                        "after": [{"result": {"status": "failed", "error_message": "step hook"}}]}]},
        ],
    }
]


def test_cucumber_backgrounds_and_hooks(tmp_path):
    p = tmp_path / "cucumber.json"
    p.write_text(json.dumps(CUCUMBER_HOOKS))
    spec, stream, cases = read_report(p)
    assert spec.name == "cucumber-json"
    assert [(c.name, c.status) for c in cases] == [
        ("after hook fails", FAILED),
        ("background fails", FAILED),
        ("undefined step", SKIPPED),
        ("step hook fails", FAILED),
    ]
    assert "after hook failed" in cases[0].final.message
    assert "background" in cases[1].final.message and "db down" in cases[1].final.message
    assert cases[0].duration == pytest.approx(0.003)
    assert cases[0].tags == ["TR-1", "C42"]
    assert stream.totals.tests == 4  # backgrounds are not tests


def test_cucumber_outline_rows_have_their_own_identity(corpus_dir):
    _spec, _stream, cases = read_report(corpus_dir / "results/cucumber-json/cucumber-jsonfmt__examples-tables.ndjson.jvm.json")
    assert len({c.identity for c in cases}) == len(cases) == 7
    assert all(c.parameters for c in cases)


def test_mocha_hook_failure_is_not_lost(tmp_path):
    report = {
        "stats": {"suites": 1, "tests": 1, "passes": 1, "pending": 0, "failures": 1},
        "tests": [{"title": "works", "fullTitle": "Cart works", "file": "cart.spec.js", "duration": 3, "err": {}}],
        "pending": [],
        "failures": [{"title": "\"before all\" hook", "fullTitle": "Checkout \"before all\" hook",
                      "file": "checkout.spec.js", "err": {"message": "db down", "stack": "Error: db down"}}],
        "passes": [{"title": "works", "fullTitle": "Cart works", "file": "cart.spec.js", "duration": 3, "err": {}}],
    }
    p = tmp_path / "mocha.json"
    p.write_text(json.dumps(report))
    spec, stream, cases = read_report(p)
    assert spec.name == "mocha-json"
    assert [(c.suite, c.status) for c in cases] == [("Cart", PASSED), ("Checkout", ERROR)]
    assert cases[1].final.message == "db down"


# Shape of the CTRF specification's example report (ctrf.io), written by hand.
CTRF_REPORT = {
    "reportFormat": "CTRF",
    "specVersion": "0.0.0",
    "results": {
        "tool": {"name": "playwright", "version": "1.45.0"},
        "summary": {"tests": 3, "passed": 1, "failed": 1, "pending": 0, "skipped": 1, "other": 0,
                    "start": 1706828654274, "stop": 1706828655782},
        "tests": [
            {"name": "login works C1234", "status": "passed", "duration": 1200, "suite": "auth > login",
             "filePath": "tests/login.spec.ts", "tags": ["@smoke"], "retries": 2, "flaky": True,
             "retryAttempts": [{"attempt": 1, "status": "failed", "duration": 900, "message": "timeout"},
                               {"attempt": 2, "status": "failed", "duration": 800, "message": "timeout"}]},
            {"name": "checkout", "status": "failed", "duration": 800, "message": "expected 2",
             "trace": "Error: expected 2\n at checkout.spec.ts:3", "suite": "shop"},
            {"name": "refund", "status": "skipped", "duration": 0, "suite": "shop"},
        ],
        "environment": {"branchName": "main"},
    },
}


def test_ctrf_attempts_tags_and_declared(tmp_path):
    p = tmp_path / "ctrf-report.json"
    p.write_text(json.dumps(CTRF_REPORT))
    spec, stream, cases = read_report(p)
    assert spec.name == "ctrf"
    login = cases[0]
    assert login.framework == "playwright" and login.suite == "auth.login"
    assert login.flaky and [a.status for a in login.attempts] == [FAILED, FAILED, PASSED]
    assert {"smoke", "C1234"} <= set(login.tags)
    assert cases[1].final.message == "expected 2" and "checkout.spec.ts" in cases[1].final.stack_trace
    assert stream.totals.as_dict() == {"tests": 3, "passed": 1, "failures": 1, "errors": 0, "skipped": 1}
    assert stream.info.declared == {"tests": 3, "failures": 1, "errors": 0, "skipped": 1}
    assert stream.info.warnings == []


# ---------------------------------------------------------------------------- .NET and Java XML


def test_nunit3_error_label_and_parameters(corpus_dir):
    _spec, stream, cases = read_report(corpus_dir / "results/nunit/dorny__dotnet-nunit.xml")
    errors = sorted(c.name for c in cases if c.status == ERROR)
    assert errors == ["Exception_In_TargetTest", "Exception_In_Test"]
    even = sorted(c.parameters for c in cases if c.name == "Is_Even_Number")
    assert even == ["(2)", "(3)"]
    assert stream.info.declared == {"tests": 9, "skipped": 1} and stream.info.warnings == []


def test_nunit2_declared_totals_include_not_run(corpus_dir):
    _spec, stream, cases = read_report(corpus_dir / "results/nunit/enricomi__NUnit-correct.xml")
    assert stream.info.declared == {"tests": 28, "failures": 1, "errors": 1, "skipped": 8}
    assert stream.info.warnings == []
    suites = {c.suite for c in cases}
    assert "NUnit.Tests.ParameterizedFixture(42)" in suites
    assert any("MockCategory" in c.tags for c in cases)


def test_trx_names_come_from_test_definitions(corpus_dir):
    _spec, stream, cases = read_report(corpus_dir / "results/trx/dorny__dotnet-trx.trx")
    assert {c.framework for c in cases} == {"xunit"}
    assert {c.suite for c in cases} == {"DotnetTests.XUnitTests.CalculatorTests"}
    assert sorted(c.parameters for c in cases if c.name == "Is_Even_Number") == ["(i: 2)", "(i: 3)"]
    failed = next(c for c in cases if c.name == "Failing_Test")
    assert failed.final.message.startswith("Assert.Equal() Failure") and failed.final.stack_trace
    assert stream.info.declared == {"tests": 11, "skipped": 1, "failures": 5, "errors": 0}
    assert stream.info.warnings == []


def test_xunit_generic_theories_keep_distinct_identities(corpus_dir):
    _spec, _stream, cases = read_report(corpus_dir / "results/xunit/enricomi__fixie.xml")
    rows = [c for c in cases if c.name == "ShouldBeString"]
    assert len(rows) == 3 and len({c.identity for c in rows}) == 3


def test_testng_parameters_and_config_methods(corpus_dir):
    _spec, stream, cases = read_report(corpus_dir / "results/testng/jenkins-testng__testng-dp-result.xml")
    assert all(c.framework == "testng" for c in cases)
    assert all(c.parameters for c in cases if c.name == "test")
    failed = [c for c in cases if c.status == FAILED]
    assert all(c.final.failure_type and c.final.stack_trace for c in failed)
    _spec, stream, _ = read_report(corpus_dir / "results/testng/jenkins-testng__testng-precheckins.xml")
    assert any("configuration method" in w for w in stream.info.warnings)


# ---------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    "text, ids",
    [
        ("C1234 login works", ["C1234"]),
        ("[C12][C13] both", ["C12", "C13"]),
        ("fixes PROJ-123 and ABC2-9", ["PROJ-123", "ABC2-9"]),
        ("zephyr PROJ-T45", ["PROJ-T45"]),
        ("parses UTF-8 and ISO-8601 dates", []),
        ("test_C3_x", ["C3"]),
        ("ABC123 and MC1234 are not ids", []),
    ],
)
def test_find_ids(text, ids):
    assert find_ids(text) == ids


def test_extract_tags_from_every_source():
    tags = extract_tags(
        "login PROJ-1",
        {"testrail_case_id": "77", "jira": "XY-9", "unrelated": "C999", "zephyr": "ZS-T3"},
        ["@smoke", "@C5"],
    )
    assert tags == ["smoke", "C5", "PROJ-1", "C77", "XY-9", "ZS-T3"]
    assert extract_tags(None, None, None) == []


# ---------------------------------------------------------------------------- hostile XML


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        body = f'<!ENTITY leak SYSTEM "{self.server.secret_url}">'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml-dtd")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_env(tmp_path):
    secret = "S3CR3T-" + tmp_path.name
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret)
    _Recorder.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.secret_url = secret_file.as_uri()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def materialize(name: str) -> Path:
        text = (HOSTILE / name).read_text()
        text = text.replace("__SECRET_URL__", secret_file.as_uri()).replace("__HTTP_URL__", base)
        out = tmp_path / name
        out.write_text(text)
        return out

    try:
        yield materialize, secret, _Recorder.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


HOSTILE_FILES = sorted(p.name for p in HOSTILE.glob("*.xml"))


def _parse_or_refuse(path: Path):
    try:
        _spec, stream, cases = read_report(path)
    except FormatError as exc:
        assert exc.path == str(path)
        assert exc.reason
        return exc, None, None
    return None, stream, cases


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_hostile_xml(hostile_env, name):
    materialize, secret, requests = hostile_env
    path = materialize(name)
    exc, stream, cases = _parse_or_refuse(path)
    if exc is not None:
        assert "refused" in exc.reason, exc.reason
        assert secret not in str(exc)
    else:
        dump = repr([asdict(c) for c in cases]) + repr(stream.info)
        assert secret not in dump
        assert "lollol" not in dump
        assert stream.totals.tests >= 1
    assert requests == [], "the parser fetched something"


@pytest.mark.parametrize("name", ["junit-external-dtd.xml", "nunit-external-dtd.xml"])
def test_external_dtd_reference_is_parsed_without_fetching(hostile_env, name):
    materialize, _secret, requests = hostile_env
    _spec, stream, cases = read_report(materialize(name))
    assert len(cases) == 1 and cases[0].status == PASSED
    assert requests == []


@pytest.mark.parametrize("name", [n for n in HOSTILE_FILES if "dtd" not in n])
def test_libxml2_settings_alone_resolve_nothing(hostile_env, monkeypatch, name):
    """Defense in depth: with the DOCTYPE check switched off, the parser settings still neither
    read the secret nor reach the network."""
    materialize, secret, requests = hostile_env
    monkeypatch.setattr(_xml, "check_prolog", lambda path, head: None)
    path = materialize(name)
    try:
        _spec, stream, cases = read_report(path)
        dump = repr([asdict(c) for c in cases]) + repr(stream.info)
        assert secret not in dump
    except FormatError as exc:
        assert exc.path == str(path) and secret not in str(exc)
    assert requests == []


def test_hostile_detection_names_the_reason(hostile_env):
    materialize, _secret, _requests = hostile_env
    path = materialize("junit-xxe-file.xml")
    with pytest.raises(FormatError) as info:
        detect(path)
    assert "entity" in info.value.reason and str(path) in str(info.value)


def test_committed_fixtures_are_detected():
    expected = {
        "pytest-junit.xml": "junit",
        "pytest-json-report.json": "pytest-json-report",
        "robot-output.xml": "robot",
        "robot-output-merged.xml": "robot",
    }
    for name, fmt in expected.items():
        assert detect(RESULTS / name).name == fmt
    js = {
        "mocha-json.json": "mocha-json",
        "mochawesome.json": "mochawesome",
        "cucumber.json": "cucumber-json",
        "playwright.json": "playwright-json",
        "ctrf.json": "ctrf",
    }
    for name, fmt in js.items():
        spec, stream, cases = read_report(RESULTS / "js" / name)
        assert spec.name == fmt and cases, name
        assert stream.info.warnings == [], (name, stream.info.warnings)


def test_mocha_json_and_mochawesome_give_the_same_identities():
    _s, _st, plain = read_report(RESULTS / "js" / "mocha-json.json")
    _s, _st, awesome = read_report(RESULTS / "js" / "mochawesome.json")
    assert [(c.identity, c.status) for c in plain] == [(c.identity, c.status) for c in awesome]
    assert [c.status for c in plain] == [PASSED, FAILED, SKIPPED, PASSED]
    assert "C2001" in plain[1].tags and "C2001" in awesome[1].tags
    # mocha's JSON reporter says how often it retried ("retries a flaky payment" failed once):
    # the failed try is an attempt, and the test is flaky. mochawesome does not say.
    retried = plain[3]
    assert [a.status for a in retried.attempts] == [FAILED, PASSED] and retried.flaky
    assert retried.properties["currentRetry"] == "1" and not awesome[3].flaky
    assert all(len(c.attempts) == 1 for c in plain[:3])


def test_playwright_fixture_retries_and_projects():
    _s, stream, cases = read_report(RESULTS / "js" / "playwright.json")
    assert stream.totals.as_dict() == {"tests": 8, "passed": 4, "failures": 2, "errors": 0, "skipped": 2}
    flaky = [c for c in cases if c.flaky]
    assert sorted(c.parameters for c in flaky) == ["[api-v1]", "[api-v2]"]
    assert all([a.status for a in c.attempts] == [FAILED, PASSED] for c in flaky)
    assert all(len(c.attempts) == 2 for c in cases if c.status == FAILED)
    assert all("PROJ-12" in c.tags for c in cases if c.status == FAILED)


def test_ctrf_from_playwright_gives_the_identities_of_playwright_json():
    """One Playwright run written by its JSON reporter and by the CTRF project's reporter."""
    _s, ctrf_stream, ctrf = read_report(RESULTS / "js" / "ctrf.json")
    _s, _st, native = read_report(RESULTS / "js" / "playwright.json")
    assert ctrf_stream.info.framework == "playwright"
    assert ctrf_stream.totals.as_dict() == {"tests": 8, "passed": 4, "failures": 2, "errors": 0, "skipped": 2}

    def seen(cases):
        return sorted((c.identity, c.suite, c.name, c.parameters, c.status, tuple(a.status for a in c.attempts),
                       tuple(c.tags)) for c in cases)

    assert seen(ctrf) == seen(native)
    assert sorted(c.parameters for c in ctrf if c.flaky) == ["[api-v1]", "[api-v2]"]


def test_cucumber_js_fixture():
    _s, stream, cases = read_report(RESULTS / "js" / "cucumber.json")
    assert [(c.name, c.status) for c in cases] == [
        ("buying an apple", PASSED),
        ("buying too many", FAILED),
        ("paying by card", SKIPPED),
        ("buying 1 apples", PASSED),
        ("buying 2 apples", PASSED),
    ]
    assert cases[1].tags == ["SHOP-1", "C3001"]
    assert len({c.identity for c in cases}) == 5


def test_suite_properties_before_many_testcases_are_the_runs(tmp_path):
    """Surefire and Gradle write a suite's <properties> first; testcases are freed as they are
    read (every 64): the run's properties are read all the same, and a testcase's own stay its."""
    cases = "".join(
        f'<testcase classname="com.acme.T" name="t{i}" time="0.001">'
        + ('<properties><property name="case_prop" value="x"/></properties>' if i == 0 else "")
        + "</testcase>"
        for i in range(200)
    )
    p = tmp_path / "TEST-com.acme.T.xml"
    p.write_text(
        '<testsuite name="com.acme.T" tests="200"><properties><property name="java.version" value="21.0.2"/>'
        f'<property name="os.name" value="Linux"/></properties>{cases}</testsuite>'
    )
    stream, read = _open(p)
    assert len(read) == 200 and read[0].properties == {"case_prop": "x"}
    assert stream.info.properties == {"java.version": "21.0.2", "os.name": "Linux"}
