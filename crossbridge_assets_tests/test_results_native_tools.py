"""Result readers against what the test tools of other languages wrote (fixtures/results/native/,
written by regenerate-native.sh there with Debian bookworm's packages): googletest, Catch2, CTest,
gotestsum, PHPUnit, Ant with JUnit 4 and NUnit 2. Each file's totals as the tool's own terminal
summary tells them (quoted above each test), and the tests, statuses and messages of its cases."""

from __future__ import annotations

import json

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

NATIVE = FIXTURES / "results" / "native"


def _read(name: str):
    spec, stream, cases = read_report(NATIVE / name)
    return spec.name, stream, list(cases)


def _by_key(cases) -> dict[tuple[str, str, str | None], tuple[str, str | None]]:
    return {(c.suite, c.name, c.parameters): (c.status, c.final.message) for c in cases}


# ------------------------------------------------------------------------------- googletest 1.12

def test_googletest_disabled_skipped_parameterized_and_failed_suite_setup():
    """'13 tests from 5 test suites ran. [ PASSED ] 6 tests. [ SKIPPED ] 4 tests [ FAILED ] 3 tests
    ... 1 FAILED TEST SUITE ... YOU HAVE 1 DISABLED TEST'. The suite whose SetUpTestSuite failed is
    in the file only as its tests, skipped: googletest 1.12 writes nothing else of it."""
    fmt, stream, cases = _read("gtest/googletest.xml")
    assert fmt == "junit" and stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 14, "passed": 6, "failures": 3, "errors": 0, "skipped": 5}
    got = _by_key(cases)
    assert got[("QueueTest", "ThrowsUnexpectedly", None)] == (
        FAILED, 'unknown file\nC++ exception with description "queue corrupted" thrown in the test body.')
    assert got[("QueueTest", "DISABLED_ResizesWhenFull", None)] == (SKIPPED, None)
    assert got[("QueueTest", "SkipsOnCi", None)] == (SKIPPED, "/src/queue_test.cc:21\nneeds huge pages")
    # TEST_P instances and typed tests: googletest's own names, one test each.
    assert got[("Sizes.BufferTest", "Fits/2", None)][0] == SKIPPED
    assert got[("NumberTest.1", "HalfIsZero", None)][0] == FAILED
    assert [got[("DatabaseTest", n, None)][0] for n in ("Reads", "Writes")] == [SKIPPED, SKIPPED]
    assert len({c.identity for c in cases}) == 14


# ---------------------------------------------------------------------------------- Catch2 2.13

def test_catch2_mayfail_is_not_a_failure_and_an_exception_has_its_message():
    """'test cases: 6 | 1 passed | 4 failed | 1 failed as expected'. The file has a testcase for each
    leaf section (cart sections: 3) and one for GENERATE's failing value; the hidden [.] test is not
    run. A [!mayfail] test that failed is skipped, as the suite's failures="3" counts it; the suite's
    tests= counts assertions (10), not tests: no declared total, no warning."""
    fmt, stream, cases = _read("catch2/catch2-junit.xml")
    assert fmt == "junit" and stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 8, "passed": 3, "failures": 3, "errors": 1, "skipped": 1}
    assert stream.info.declared == {"failures": 3, "errors": 1}
    got = _by_key(cases)
    assert got[("cart_test.global", "cart throws", None)] == (ERROR, "cart corrupted")
    assert got[("cart_test.global", "flaky discount", None)] == (SKIPPED, "TEST_CASE tagged with !mayfail")
    flaky = next(c for c in cases if c.name == "flaky discount")
    assert "REQUIRE( 1 == 2 )" in flaky.final.stack_trace and flaky.final.failure_type == "REQUIRE"
    assert got[("cart_test.global", "quantities", None)] == (FAILED, "qty < 3")
    assert "slow checkout" not in {c.name for c in cases}


# ----------------------------------------------------------------------------------- CTest 3.25

def test_ctest_tests_that_could_not_run_are_errors():
    """'33% tests passed, 4 tests failed out of 6' with 'did not run: gpu_check (Skipped),
    gpu_render (Disabled)' and 'FAILED: math_div (Failed), db_setup (Failed), net_fetch (Not Run),
    missing_tool (Not Run)'. CTest writes all four not-run tests as status="notrun" with <skipped>:
    those that did not skip themselves are errors."""
    fmt, stream, cases = _read("ctest/ctest-junit.xml")
    assert fmt == "junit" and stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 7, "passed": 1, "failures": 2, "errors": 2, "skipped": 2}
    assert {c.name: (c.status, c.final.message) for c in cases} == {
        "math_add": (PASSED, None),
        "math_div": (FAILED, ""),
        "gpu_check": (SKIPPED, "SKIP_RETURN_CODE=77"),
        "gpu_render": (SKIPPED, None),
        "db_setup": (FAILED, ""),
        "net_fetch": (ERROR, "Fixture dependency failed"),
        "missing_tool": (ERROR, "Unable to find executable"),
    }
    # The file's skipped="3" disabled="1" hold the two errors: they move, so the totals agree.
    assert stream.info.declared == {"tests": 7, "failures": 2, "skipped": 2, "errors": 2}


# ------------------------------------------------------------------------------- gotestsum 1.8

def test_gotestsum_messages_are_what_the_test_printed():
    """'DONE 12 tests, 3 skipped, 6 failures'. gotestsum writes message="Failed" (and a skip's whole
    output as its message): the message is the t.Error/t.Skip line or the panic. A parent failing
    only through a subtest keeps 'Failed'. The test after the panic never ran: not in the file."""
    fmt, stream, cases = _read("go/gotestsum.xml")
    assert fmt == "junit" and stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 12, "passed": 3, "failures": 6, "errors": 0, "skipped": 3}
    got = _by_key(cases)
    assert got[("example.com.shop", "TestDiscount", None)] == (FAILED, "shop_test.go:20: discount = 5, want 10")
    assert got[("example.com.shop", "TestCart/add/two_items", None)] == (FAILED, "shop_test.go:26: two items: got 1")
    assert got[("example.com.shop", "TestCart", None)] == (FAILED, "Failed")
    assert got[("example.com.shop", "TestCart/remove", None)] == (SKIPPED, "shop_test.go:28: not implemented")
    assert got[("example.com.shop.panics", "TestPanics/inner", None)] == (
        FAILED, "panic: assignment to entry in nil map [recovered]")
    skipped = next(c for c in cases if c.name == "TestSkipped")
    assert skipped.final.stack_trace.startswith("=== RUN   TestSkipped\n")  # the output is kept
    assert "TestAfterPanic" not in {c.name for c in cases}


def test_gotestsum_count_and_rerun_fails_repeat_testcases():
    """-count=2: 'DONE 6 tests, 3 failures'; --rerun-fails=2: 'DONE 3 runs, 29 tests, 1 skipped,
    22 failures'. Every run is a testcase of its own, counted, the repeats marked."""
    _fmt, stream, cases = _read("go/gotestsum-count2.xml")
    assert stream.totals.as_dict() == {"tests": 6, "passed": 3, "failures": 3, "errors": 0, "skipped": 0}
    flaky = [(c.status, c.properties.get("repeat"), c.final.message) for c in cases if c.name == "TestFlaky"]
    assert flaky == [(FAILED, None, "shop_test.go:41: first run fails"), (PASSED, "2", None)]
    _fmt, stream, cases = _read("go/gotestsum-rerun.xml")
    assert stream.totals.as_dict() == {"tests": 29, "passed": 6, "failures": 22, "errors": 0, "skipped": 1}
    assert [c.status for c in cases if c.name == "TestFlaky"] == [FAILED, PASSED]
    assert len({c.identity for c in cases}) == 7


# ---------------------------------------------------------------------------------- PHPUnit 9.6

def test_phpunit_messages_risky_tests_data_sets_and_a_failed_class_setup():
    """'Tests: 13, Assertions: 7, Errors: 2, Failures: 3, Skipped: 2, Incomplete: 1, Risky: 1.'
    The risky test, an <error> of type RiskyTestError in the file, passed; the message is the text
    after the test's name PHPUnit puts first."""
    fmt, stream, cases = _read("php/phpunit.xml")
    assert fmt == "junit" and stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 13, "passed": 5, "failures": 3, "errors": 2, "skipped": 3}
    got = _by_key(cases)
    assert got[("CartTest", "testTotal", None)] == (FAILED, "total is wrong\nFailed asserting that 3 is identical to 4.")
    assert got[("CartTest", "testThrows", None)] == (ERROR, "RuntimeException: cart corrupted")
    assert got[("CartTest", "testRisky", None)] == (PASSED, "This test did not perform any assertions")
    assert got[("CartTest", "testIncomplete", None)] == (SKIPPED, None)
    assert got[("CartTest", "testAdd", "[#1]")] == (FAILED, "Failed asserting that 4 is identical to 5.")
    assert got[("CartTest", "testDiscount", '["half of three"]')][0] == FAILED
    assert got[("CartTest", "testDiscount", "[#0]")][0] == PASSED  # PHP made the key '0' an int
    # setUpBeforeClass threw: the first test has the error, the others are skipped.
    assert got[("BrokenSetupTest", "testReads", None)] == (ERROR, "RuntimeException: cannot connect to the database")
    assert got[("BrokenSetupTest", "testWrites", None)] == (SKIPPED, None)


# ----------------------------------------------------------------------------- Ant with JUnit 4

def test_ant_junit4_class_failure_is_the_class_suite_error():
    """'Tests run: 0, Failures: 0, Errors: 1' for BrokenSetupTest (@BeforeClass threw): Ant writes a
    testcase of class junit.framework.TestSuite named after the test class. It is the class's suite
    error, as Ant's <error> straight under <testsuite> is; tests="0" leaves it out."""
    fmt, stream, cases = _read("ant/TEST-com.acme.BrokenSetupTest.xml")
    assert fmt == "junit" and stream.info.warnings == []
    assert [(c.suite, c.name, c.status, c.final.message) for c in cases] == [
        ("com.acme.BrokenSetupTest", "(suite error)", ERROR, "cannot connect to the database")]
    assert stream.info.declared["tests"] == 1


def test_ant_junit4_results_and_junitreport_aggregate():
    """'Tests run: 5, Failures: 1, Errors: 1, Skipped: 2' for CartTest (@Ignore and a failed
    assumption skipped); <junitreport>'s TESTS-TestSuites.xml holds both classes, the same tests."""
    _fmt, stream, cases = _read("ant/TEST-com.acme.CartTest.xml")
    assert stream.totals.as_dict() == {"tests": 5, "passed": 1, "failures": 1, "errors": 1, "skipped": 2}
    got = _by_key(cases)
    assert got[("com.acme.CartTest", "assumed", None)] == (SKIPPED, "runs on CI only")
    assert got[("com.acme.CartTest", "ignored", None)] == (SKIPPED, "needs a database")
    assert got[("com.acme.CartTest", "total", None)] == (FAILED, "total is wrong expected:<4> but was:<3>")
    assert stream.info.properties["system-out"] == "total from stdout\n"
    _fmt, merged, merged_cases = _read("ant/TESTS-TestSuites.xml")
    assert merged.info.warnings == []
    assert merged.totals.as_dict() == {"tests": 6, "passed": 1, "failures": 1, "errors": 2, "skipped": 2}
    assert {c.identity for c in merged_cases} == {c.identity for c in cases} | {
        c.identity for c in _read("ant/TEST-com.acme.BrokenSetupTest.xml")[2]}


# ---------------------------------------------------------------------------------- NUnit 2.6

def test_nunit2_fixture_setup_failure_and_test_cases():
    """'Tests run: 9, Errors: 1, Failures: 4, Inconclusive: 1 ... Not run: 1, Ignored: 1'; the
    Explicit test is not in the file. A test failed by its fixture's TestFixtureSetUp gets the
    fixture's exception as its trace."""
    fmt, stream, cases = _read("nunit/TestResult.xml")
    assert fmt == "nunit" and stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 10, "passed": 3, "failures": 4, "errors": 1, "skipped": 2}
    got = _by_key(cases)
    assert got[("Acme.Shop.CartTests", "Add", "(2,2,5)")] == (FAILED, "Expected: 5\n  But was:  4")
    assert got[("Acme.Shop.CartTests", "SixFromThrees", None)] == (PASSED, None)
    assert got[("Acme.Shop.CartTests", "Unsure", None)] == (SKIPPED, "no data yet")
    assert "Slow" not in {c.name for c in cases}
    reads = next(c for c in cases if c.name == "Reads")
    assert (reads.status, reads.final.message) == (FAILED, "TestFixtureSetUp failed in BrokenSetupTests")
    assert reads.final.stack_trace.startswith(
        "SetUp : System.InvalidOperationException : cannot connect to the database\nat Acme.Shop.BrokenSetupTests.Connect ()")


def test_cli_parse_json_totals_of_every_native_fixture(capsys):
    from crossbridge_assets.cli import main

    expected = {
        "gtest/googletest.xml": (14, 6, 3, 0, 5),
        "catch2/catch2-junit.xml": (8, 3, 3, 1, 1),
        "ctest/ctest-junit.xml": (7, 1, 2, 2, 2),
        "go/gotestsum.xml": (12, 3, 6, 0, 3),
        "php/phpunit.xml": (13, 5, 3, 2, 3),
        "ant/TESTS-TestSuites.xml": (6, 1, 1, 2, 2),
        "nunit/TestResult.xml": (10, 3, 4, 1, 2),
    }
    for name, totals in expected.items():
        assert main(["parse", str(NATIVE / name), "--json"]) == 0
        got = json.loads(capsys.readouterr().out)
        assert tuple(got["totals"][k] for k in ("tests", "passed", "failures", "errors", "skipped")) == totals, name
        assert got["warnings"] == [], name
