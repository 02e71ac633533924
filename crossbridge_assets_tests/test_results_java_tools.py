"""What the Java tools write, read as the tools themselves count it: JUnit 5's ConsoleLauncher
(legacy JUnit XML, one file per engine) and TestNG 7.5 (testng-results.xml and its two JUnit
reporters, one run). The files are those of fixtures/results/java/, written by the real tools
(regenerate-java.sh); each run's own summary is committed beside them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from crossbridge_assets.formats import UnknownFormat, open_report, read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

JAVA = FIXTURES / "results" / "java"
JUNIT5 = JAVA / "junit5"
TESTNG = JAVA / "testng"


def _read(path: Path):
    spec, stream, cases = read_report(path)
    return spec.name, stream, cases


def _launcher_summary(run: str) -> dict[str, int]:
    """The ConsoleLauncher's table: '[        29 tests found           ]' -> {'tests found': 29}."""
    text = (JUNIT5 / run / "launcher-summary.txt").read_text()
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"\[\s+(\d+) (\w+ \w+)\s+\]", text)}


def _testng_summary() -> dict[str, int]:
    """TestNG's console lines: 'Total tests run: 20, Passes: 7, Failures: 5, Skips: 5, Retries: 3'."""
    first = (TESTNG / "console-summary.txt").read_text().splitlines()[0]
    return {key: int(value) for key, value in re.findall(r"([A-Za-z ]+): (\d+)", first.replace(", ", ","))}


def _declared_disagreements(stream) -> list[str]:
    return [w for w in stream.info.warnings if "declared" in w]


# ---------------------------------------------------------------------------- JUnit 5


def _launcher_run(run: str) -> list:
    cases = []
    for engine in ("jupiter", "vintage"):
        fmt, stream, read = _read(JUNIT5 / run / f"TEST-junit-{engine}.xml")
        assert fmt == "junit" and stream.info.framework == "junit"
        assert not _declared_disagreements(stream)
        cases += read
    return cases


def test_junit5_launcher_counts_are_the_launchers_own():
    # junit5/cart: no class-level failure, so every test the launcher found is one testcase.
    cases = _launcher_run("cart")
    summary = _launcher_summary("cart")
    status = Counter(c.status for c in cases)
    assert len(cases) == summary["tests found"] == 31
    assert status[PASSED] == summary["tests successful"]
    # JUnit has no errors; the legacy XML writes a throwable that is not an AssertionError as one.
    assert status[FAILED] + status[ERROR] == summary["tests failed"]
    # @Disabled (skipped) and failed assumptions (aborted) are both <skipped>.
    assert status[SKIPPED] == summary["tests skipped"] + summary["tests aborted"]


def test_junit5_tests_have_one_stable_identity_each():
    cases = _launcher_run("cart")
    by_key = {(c.suite, c.name, c.parameters): c for c in cases}
    assert len({c.identity for c in cases}) == len(cases) == len(by_key)
    # The legacy reporting name: the method with its parameter types, an invocation's index in
    # brackets (whatever its display name: '{0} costs {1}', 'repetition 1 of 3', a non-ASCII one).
    # Written in the engine's hash order, which changes from run to run: the names do not.
    assert {k[2] for k in by_key if k[:2] == ("com.acme.CartTest", "price(String, int)")} == {"[1]", "[2]"}
    assert {k[2] for k in by_key if k[1] == "reload()"} == {"[1]", "[2]", "[3]"}
    assert {k[2] for k in by_key if k[1] == "box(Size)"} == {"[1]", "[2]"}
    assert {k[2] for k in by_key if k[1] == "quantity(int)"} == {"[1]", "[2]", "[3]"}
    # @TestFactory: a dynamic container's tests are numbered within it.
    assert {k[2]: by_key[k].status for k in by_key if k[1] == "discounts()"} == {
        "[1]": PASSED, "[2][1]": PASSED, "[2][2]": FAILED,
    }
    # The display name is only in the testcase's output, which keeps it whole.
    non_ascii = by_key[("com.acme.CartTest", "nonAscii()", None)]
    assert non_ascii.status == PASSED and "display-name: Prüfung des Warenkorbs ✓ 買い物" in non_ascii.final.stdout
    # @Nested classes: the binary class name.
    assert by_key[("com.acme.CartTest$WhenEmpty", "hasNoTotal()", None)].status == PASSED
    nested = by_key[("com.acme.CartTest$WhenEmpty$AfterAdding", "hasOneItem()", None)]
    assert nested.status == FAILED and nested.final.message == "items ==> expected: <1> but was: <2>"
    # @Disabled keeps its reason; a failed assumption is skipped too.
    assert by_key[("com.acme.CartTest", "giftWrap()", None)].final.message == "not offered yet"
    express = by_key[("com.acme.CartTest", "express()", None)]
    assert express.status == SKIPPED and "express shipping off today" in express.final.message
    checkout = by_key[("com.acme.CartTest", "checkout()", None)]
    assert checkout.status == ERROR and checkout.final.failure_type == "java.lang.IllegalStateException"
    # JUnit 4 through the vintage engine: Parameterized's 'add[0]'.
    assert by_key[("com.acme.LegacyTest$AddTest", "add", "[0]")].status == PASSED
    assert by_key[("com.acme.LegacyTest$AddTest", "add", "[1]")].status == FAILED
    assert by_key[("com.acme.LegacyTest", "ignored", None)].final.message == "legacy ignored"
    assert by_key[("com.acme.LegacyTest", "assumed", None)].status == SKIPPED


def test_junit5_class_level_failures_are_written_on_the_tests():
    # junit5/setup: a failing @BeforeAll (StockTest), @AfterAll (ReceiptTest) and JUnit 4
    # @BeforeClass (LegacySetupTest), and a parameterized test without arguments. The legacy XML
    # writes a failed class's error on each of its tests (and counts them so: errors=), which the
    # launcher counts as failed containers; a test template without invocations is a testcase too.
    cases = _launcher_run("setup")
    summary = _launcher_summary("setup")
    by_key = {(c.suite, c.name): c for c in cases}
    assert all(c.status == ERROR for c in cases)
    assert {k for k in by_key if k[0] == "com.acme.StockTest"} == {("com.acme.StockTest", "count()"),
                                                                    ("com.acme.StockTest", "reserve()")}
    assert by_key[("com.acme.StockTest", "count()")].final.message == "stock database unreachable"
    assert by_key[("com.acme.LegacySetupTest", "reads")].final.message == "legacy database unreachable"
    assert by_key[("com.acme.ReceiptTest", "lines(String)")].final.message.startswith("Configuration error")
    # Tests found, plus the template that never had an invocation.
    assert len(cases) == summary["tests found"] + 1
    assert summary["containers failed"] == 4


def test_junit5_engine_without_tests_is_an_empty_report():
    fmt, stream, cases = _read(JUNIT5 / "cart" / "TEST-junit-platform-suite.xml")
    assert fmt == "junit" and cases == [] and stream.info.warnings == []


def test_open_test_reporting_xml_is_refused_as_an_unknown_format(tmp_path):
    # The shape of JUnit Platform 1.9's OpenTestReportGeneratingListener (junit-platform-events-*.xml;
    # Debian's package cannot write it, hence by hand): not a supported format, and not misread.
    path = tmp_path / "junit-platform-events-1.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<e:events xmlns="https://schemas.opentest4j.org/reporting/core/0.1.0"'
        ' xmlns:e="https://schemas.opentest4j.org/reporting/events/0.1.0"'
        ' xmlns:junit="https://schemas.junit.org/open-test-reporting">'
        "<infrastructure><hostName>vm</hostName></infrastructure>"
        '<e:started id="1" name="JUnit Jupiter" time="2026-11-30T18:21:00Z"><metadata>'
        "<junit:uniqueId>[engine:junit-jupiter]</junit:uniqueId><junit:type>CONTAINER</junit:type>"
        "</metadata></e:started>"
        '<e:started id="2" name="opens()" parentId="1" time="2026-11-30T18:21:00.01Z"><metadata>'
        "<junit:uniqueId>[engine:junit-jupiter]/[class:com.acme.CartTest]/[method:opens()]</junit:uniqueId>"
        "<junit:type>TEST</junit:type></metadata></e:started>"
        '<e:finished id="2" time="2026-11-30T18:21:00.02Z"><result status="SUCCESSFUL"/></e:finished>'
        '<e:finished id="1" time="2026-11-30T18:21:00.03Z"><result status="SUCCESSFUL"/></e:finished>'
        "</e:events>\n"
    )
    with pytest.raises(UnknownFormat, match="unknown format"):
        open_report(path)


# ---------------------------------------------------------------------------- TestNG 7.5


def test_testng_results_count_as_testng_console_summary():
    fmt, stream, cases = _read(TESTNG / "testng-results.xml")
    summary = _testng_summary()
    assert fmt == "testng"
    totals = stream.totals.as_dict()
    # A retried invocation is its own skipped row (the counting rule): TestNG counts it apart.
    assert totals == {
        "tests": summary["Total tests run"],
        "passed": summary["Passes"],
        "failures": summary["Failures"],
        "errors": 0,
        "skipped": summary["Skips"] + summary["Retries"],
    }
    assert not _declared_disagreements(stream)
    # 'Configuration Failures: 2': the failed @BeforeClass and @BeforeMethod.
    configs = [w for w in stream.info.warnings if w.startswith("configuration method")]
    assert len(configs) == 2 == int(re.search(r"Configuration Failures: (\d+)", (TESTNG / "console-summary.txt").read_text())[1])


def test_testng_results_tests_and_their_attempts():
    _f, _s, cases = _read(TESTNG / "testng-results.xml")
    finals = [c for c in cases if c.properties.get("retried") != "true"]
    by_name = {}
    for case in finals:
        by_name.setdefault(case.name, []).append(case)
    # RetryTwice: 'place' failed once then passed; 'cancel' failed its three tries.
    (place,) = by_name["place"]
    assert place.flaky and [a.status for a in place.attempts] == [FAILED, PASSED]
    (cancel,) = by_name["cancel"]
    assert cancel.status == FAILED and [a.status for a in cancel.attempts] == [FAILED] * 3
    (receipt,) = by_name["cancelReceipt"]
    assert receipt.status == SKIPPED and "depends on not successfully finished methods" in receipt.final.message
    # A failed @BeforeClass skips the class's tests, a failed @BeforeMethod the tests after it.
    assert {(c.name, c.status, c.final.message) for c in finals if c.suite == "com.acme.orders.WarehouseTest"} == {
        ("stock", SKIPPED, "warehouse unreachable"), ("restock", SKIPPED, "warehouse unreachable"),
    }
    assert {(c.name, c.status) for c in finals if c.suite == "com.acme.orders.ShippingTest"} == {
        ("domestic", PASSED), ("express", SKIPPED), ("international", SKIPPED),
    }
    # invocationCount=3: three runs of one test, the second failed.
    assert sorted(c.status for c in by_name["poll"]) == [FAILED, PASSED, PASSED]
    assert by_name["rejectsNegative"][0].status == PASSED
    assert by_name["rejectsZero"][0].status == FAILED
    (slow,) = by_name["slowQuote"]
    assert slow.final.failure_type == "org.testng.internal.thread.ThreadTimeoutException"
    assert slow.final.message == "Method com.acme.orders.OrderTest.slowQuote() didn't finish within the time-out 100"
    # successPercentage=50 of four invocations: the two that failed are within it, and TestNG's
    # summary counts them as failures (SUCCESS_PERCENTAGE_FAILURE).
    assert sorted((c.status, c.final.message) for c in by_name["quote"]) == [
        (FAILED, "quote 1 stale expected [true] but found [false]"),
        (FAILED, "quote 3 stale expected [true] but found [false]"),
        (PASSED, None),
        (PASSED, None),
    ]
    assert {(c.parameters, c.status) for c in by_name["order"]} == {
        ("(apple, 1)", PASSED), ("(pear, 5)", FAILED), ("(plum, null)", PASSED),
    }
    assert set(by_name["order"][0].tags) >= {"smoke", "orders"}
    # enabled=false: never ran, no <test-method>.
    assert "archived" not in by_name


def test_testng_junitxml_reporter_counts_as_testng():
    # JUnitXMLReporter writes configuration methods that failed or were skipped as testcases
    # ('@BeforeClass connect') and a disabled method as a testcase holding <ignored/>: TestNG's
    # summary and testng-results.xml count neither as a test, nor does the file's own tests=.
    _f, native_stream, native = _read(TESTNG / "testng-results.xml")
    fmt, stream, junit = _read(TESTNG / "junitxml-command-line-test.xml")
    assert (fmt, stream.info.framework) == ("junit", "testng")
    assert len(junit) == len(native) and not _declared_disagreements(stream)
    assert not [c for c in junit if c.name.startswith("@") or c.name == "archived"]
    # Each test has the identity and status testng-results.xml gives it (a data provider's
    # invocations are named by their method only here: their parameters are not written)...
    quote = ("testng", "com.acme.orders.QuoteTest", "quote")
    assert Counter((c.framework, c.suite, c.name, c.status) for c in junit if c.suite != quote[1]) == Counter(
        (c.framework, c.suite, c.name, c.status) for c in native if c.suite != quote[1]
    )
    # ... but for the failures within a successPercentage, which it writes as passed testcases
    # (and leaves out of failures=): nothing in the file tells them.
    assert [c.status for c in junit if c.suite == quote[1]] == [PASSED] * 4
    assert sorted(w for w in stream.info.warnings if w.startswith("configuration method")) == sorted(
        w for w in native_stream.info.warnings if w.startswith("configuration method")
    )


def test_testng_junitxml_reporter_messages_are_testngs():
    # JUnitXMLReporter escapes a message's quotes and brackets before its XML writer escapes them
    # again ('didn&amp;apos;t'), and an attribute's newline reads as a space.
    _f, _s, native = _read(TESTNG / "testng-results.xml")
    _f, _s, junit = _read(TESTNG / "junitxml-command-line-test.xml")
    theirs = {c.name: c.final.message for c in native if c.status == FAILED}
    ours = {c.name: c.final.message for c in junit if c.status == FAILED}
    for name in ("slowQuote", "rejectsZero", "cancel"):
        assert ours[name] == theirs[name], name
    # JUnitReportReporter escapes once.
    _f, _s, report = _read(TESTNG / "junitreports" / "TEST-com.acme.orders.OrderTest.xml")
    ours = {c.name: c.final.message for c in report if c.status == FAILED}
    for name in ("slowQuote", "rejectsZero", "cancel"):
        assert ours[name] == theirs[name], name


def test_testng_junitreport_reporter_leaves_disabled_methods_out():
    # JUnitReportReporter (junitreports/TEST-<class>.xml) writes a disabled method as a testcase
    # without a time holding <skipped/>, and counts it in tests= and skipped=.
    _f, native_stream, native = _read(TESTNG / "testng-results.xml")
    junit, streams = [], []
    for path in sorted((TESTNG / "junitreports").glob("TEST-*.xml")):
        fmt, stream, cases = _read(path)
        assert (fmt, stream.info.framework) == ("junit", "testng")
        assert not _declared_disagreements(stream), path.name
        junit += cases
        streams.append(stream)
    assert "archived" not in {c.name for c in junit}
    # Its failed configuration methods are testcases named after the method alone, as a test
    # is ('connect', 'label'): nothing tells them from tests, and they stay rows of their own.
    configs = [c for c in junit if (c.suite, c.name) in {("com.acme.orders.WarehouseTest", "connect"),
                                                         ("com.acme.orders.ShippingTest", "label")}]
    assert [c.status for c in configs] == [FAILED, FAILED]
    # The failures within a successPercentage it leaves out altogether.
    quote = "com.acme.orders.QuoteTest"
    assert [c.status for c in junit if c.suite == quote] == [PASSED, PASSED]
    assert Counter((c.suite, c.name, c.status) for c in junit if c not in configs and c.suite != quote) == Counter(
        (c.suite, c.name, c.status) for c in native if c.suite != quote
    )


def test_testng_parameters_without_a_tostring_keep_one_identity_from_run_to_run():
    # PackingTest's data provider passes arrays and an object with Object's toString: TestNG
    # writes 'com.acme.orders.PackingTest$Box@6366ebe0', a hash that changes from run to run
    # (and whenever another test is added). The parameters keep the class only.
    raw = (TESTNG / "testng-results.xml").read_text()
    assert re.search(r"PackingTest\$Box@[0-9a-f]+\]\]>", raw) and re.search(r"\[I@[0-9a-f]+\]\]>", raw)
    _f, _s, cases = _read(TESTNG / "testng-results.xml")
    assert sorted((c.parameters, c.status) for c in cases if c.name == "pack") == [
        ("([I, com.acme.orders.PackingTest$Box)", PASSED),
        ("([Ljava.lang.String;, null)", FAILED),
    ]


@pytest.mark.parametrize("value, kept", [
    ("com.acme.Cart@1b6d3586", "com.acme.Cart"),
    ("Cart@7852e922", "Cart"),
    ("[[D@4e25154f", "[[D"),
    ("com.acme.CartTest$$Lambda$14/0x0000000800c03000@5e9f23b4", "com.acme.CartTest$$Lambda$14/0x0000000800c03000"),
    # What a toString of the test's own wrote stays as written.
    ("admin@cafe", "admin@cafe"),
    ("bob@example.com", "bob@example.com"),
    ("Cart{items=2}@home", "Cart{items=2}@home"),
    ("Order@42", "Order@42"),
])
def test_testng_parameter_object_hashes(tmp_path, value, kept):
    path = tmp_path / "testng-results.xml"
    path.write_text(
        '<testng-results total="1" passed="1" failed="0" skipped="0"><suite name="S"><test name="T">'
        '<class name="com.acme.CartTest"><test-method signature="pay(java.lang.Object)[pri:0, instance:x]"'
        ' name="pay" status="PASS"><params><param index="0"><value><![CDATA['
        f"{value}]]></value></param></params></test-method></class></test></suite></testng-results>"
    )
    _f, _s, (case,) = _read(path)
    assert case.parameters == f"({kept})"
