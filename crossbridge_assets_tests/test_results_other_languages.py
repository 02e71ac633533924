"""The JUnit reader against what the test tools of other language ecosystems wrote
(fixtures/results/otherlang/, written by regenerate-otherlang.sh there with Debian bookworm's
packages; public/ holds trimmed copies of files public repositories keep, SOURCES.md naming
them). Each file's totals as the tool's own summary tells them (quoted above each test), and its
tests' identities, statuses and messages."""

from __future__ import annotations

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

OTHER = FIXTURES / "results" / "otherlang"


def _read(name: str):
    spec, stream, cases = read_report(OTHER / name)
    assert spec.name == "junit"
    return stream, list(cases)


def _by_key(cases) -> dict[tuple[str, str, str | None], tuple[str, str | None]]:
    return {(c.suite, c.name, c.parameters): (c.status, c.final.message) for c in cases}


# ------------------------------------------------------------------------- RSpec 3.12, Ruby

def test_rspec_junit_formatter_counts_as_rspec_does():
    """'13 examples, 4 failures, 3 pending': pending and skipped examples are skipped, a pending
    example that passed ('FIXED') is a failure, as RSpec counts it. The classname is the spec file,
    the name the example's full description. RSpec's two examples with one description are two
    tests the file cannot tell apart: both counted, the second marked a repeat."""
    stream, cases = _read("rspec/rspec.xml")
    assert stream.totals.as_dict() == {"tests": 13, "passed": 6, "failures": 4, "errors": 0, "skipped": 3}
    assert stream.info.declared == {"tests": 13, "failures": 4, "errors": 0, "skipped": 3}
    got = _by_key(cases)
    assert got[("spec.cart_spec", "Cart raises on a bad coupon", None)] == (FAILED, "coupon expired")
    assert got[("spec.cart_spec", "Cart was pending but passes", None)] == (
        FAILED, "Expected example to fail since it is pending, but it passed.")
    for name in ("Cart applies tax", "Cart rounds prices", "Cart handles currency"):
        assert got[("spec.cart_spec", name, None)][0] == SKIPPED
    assert got[("spec.cart_spec", "Cart discounts with a coupon takes 10% off", None)][0] == PASSED
    assert {c.file for c in cases} == {"./spec/cart_spec.rb"}
    assert [c.properties.get("repeat") for c in cases if c.name == "Array is same name"] == [None, "2"]
    assert len({c.identity for c in cases}) == 12


# ------------------------------------------------------- minitest-reporters 1.0.19, minitest 5.17

def test_minitest_reporters_junit_counts_as_minitest_does():
    """'7 tests, 5 assertions, 2 failures, 1 errors, 1 skips'. This minitest-reporters names every
    class Minitest::Result with minitest 5.17 (the file cannot say which class a test is of)."""
    stream, cases = _read("minitest/TEST-Minitest-Result.xml")
    assert stream.info.warnings == []
    assert stream.totals.as_dict() == {"tests": 7, "passed": 3, "failures": 2, "errors": 1, "skipped": 1}
    got = _by_key(cases)
    assert got[("Minitest.Result", "test_bad_coupon", None)] == (ERROR, "ArgumentError: coupon expired...")
    assert got[("Minitest.Result", "test_0001_pays nothing", None)] == (FAILED, "Expected: 1...")
    assert got[("Minitest.Result", "test_tax", None)][0] == SKIPPED


# ---------------------------------------------------------------- Perl: TAP::Formatter::JUnit 0.11

# prove's own summary of t/ (TAP::Formatter::JUnit writes only the XML; a plain `prove t/` says):
#   t/cart.t ...... Failed 1/6 subtests (less 1 skipped subtest: 4 okay) (1 TODO test unexpectedly succeeded)
#   t/checkout.t .. Failed 1/2 subtests
#   t/dies.t ...... Dubious, test returned 255; Bad plan. You planned 3 tests but ran 1.
#   t/plan_skip.t . skipped: no database
#   t/zz_bailout.t  Bailout called. Further testing stopped: disk full
#   Files=5, Tests=10, Result: FAIL
_PROVE_TOTALS = {"tests": 12, "passed": 6, "failures": 2, "errors": 2, "skipped": 2}


def test_tap_formatter_junit_names_without_test_numbers():
    """The testcases are named '2 - computes the total': the number is where the test is in its
    file, which a test added above it changes. The description is the name; a test without one
    keeps its number. '[qty=2]' is part of a TAP description, not parameters."""
    for name in ("perl/prove-junit.xml", "perl/prove-junit-timer.xml"):
        stream, cases = _read(name)
        names = [(c.suite, c.name, c.parameters) for c in cases if c.name != "(suite error)"]
        assert names == [
            ("cart_t", "adds items", None), ("cart_t", "computes the total", None), ("cart_t", "3", None),
            ("cart_t", "handles currency", None), ("cart_t", "rounds prices", None),
            ("cart_t", "discount [qty=2]", None), ("checkout_t", "pays by card", None),
            ("checkout_t", "voucher", None), ("dies_t", "starts", None), ("zz_bailout_t", "first", None),
        ], name


def test_tap_formatter_junit_counts_as_prove_does():
    """prove's 10 tests: the skipped test and the TODO test that failed, both written as passing
    testcases, are skipped (the TAP in the suite's system-out says so); the TODO test that passed,
    an <error> in the file, passed ('TODO passed' is no failure to prove). A file that exited with
    its failed tests' count has no error besides them; one that died (dies.t, the bail out) has
    one. --timer's '(init)' and '(teardown)' testcases are no tests. The file's own totals, once
    read as the content is, agree with it."""
    for name in ("perl/prove-junit.xml", "perl/prove-junit-timer.xml"):
        stream, cases = _read(name)
        assert stream.totals.as_dict() == _PROVE_TOTALS, name
        assert stream.info.warnings == [], name
        assert stream.info.declared == {"tests": 12, "failures": 2, "errors": 2}, name
        got = _by_key(cases)
        assert got[("cart_t", "3", None)] == (SKIPPED, "tax service down")
        assert got[("cart_t", "handles currency", None)] == (SKIPPED, "TODO: currency not implemented")
        assert got[("cart_t", "rounds prices", None)][0] == PASSED
        assert got[("cart_t", "computes the total", None)] == (FAILED, "not ok 2 - computes the total")
        assert got[("dies_t", "(suite error)", None)] == (ERROR, "Dubious, test returned 255 (wstat 65280, 0xff00)")
        assert ("cart_t", "(suite error)", None) not in got and ("checkout_t", "(suite error)", None) not in got
        assert not {"(init)", "(teardown)"} & {c.name for c in cases}


def test_tap_formatter_junit_file_of_a_skip_all_first(tmp_path):
    """A run whose first .t file skipped all (its <testsuite> holds no testcase) is still told."""
    text = (OTHER / "perl/prove-junit.xml").read_text()
    first = text.index("  <testsuite")
    start = text.rindex("  <testsuite", 0, text.index('"plan_skip_t"'))
    end = text.index("</testsuite>", start) + len("</testsuite>\n")
    path = tmp_path / "prove-junit.xml"
    path.write_text(text[:first] + text[start:end] + text[first:start] + text[end:])
    spec, stream, cases = read_report(path)
    assert stream.totals.as_dict() == _PROVE_TOTALS and stream.info.warnings == []
    assert [c.name for c in cases][:3] == ["adds items", "computes the total", "3"]


# ----------------------------------------------------------------- Perl: TAP::Harness::JUnit 0.42

def test_tap_harness_junit_file_failure_is_an_error_not_a_test():
    """prove: 'Files=4, Tests=9' (cart.t, checkout.t, dies.t, plan_skip.t; dies.t 'Bad plan. You
    planned 3 tests but ran 1.'). TAP::Harness::JUnit leaves TODO tests out altogether, writes skips
    as <skipped>, and a file that did not run its plan as a failed testcase 'Number of runned tests
    does not match plan.': no test, the file's error. Its tests= counts the plans: the TODO tests
    it left out make the disagreement the warning tells."""
    stream, cases = _read("perl/harness-junit.xml")
    assert stream.totals.as_dict() == {"tests": 8, "passed": 4, "failures": 2, "errors": 1, "skipped": 1}
    assert stream.info.declared == {"tests": 11, "failures": 3, "errors": 2, "skipped": 1}
    got = _by_key(cases)
    assert got[("t_dies_t", "(suite error)", None)] == (ERROR, "Some test were not executed, The test died prematurely.")
    assert got[("t_cart_t", "Unnamed test case 1", None)] == (SKIPPED, "ok 3 # skip tax service down")
    assert got[("t_checkout_t", "voucher", None)] == (FAILED, "not ok 2 - voucher")


# ------------------------------------------------------------------------ busted 2.1.1, Lua 5.1

def test_busted_suite_is_the_spec_file_without_the_line():
    """'5 successes / 1 failure / 2 errors / 2 pending'. busted's classname is 'spec/cart_spec.lua:10':
    the line moves whenever a line is added above the test; the spec file is the suite. The name is
    the test's whole title ('[qty=1]' included: busted has no parameters). The failed setup() of
    broken_spec.lua is an error of that spec file, which busted counts in errors= and not in tests=."""
    stream, cases = _read("busted/busted.xml")
    assert stream.totals.as_dict() == {"tests": 10, "passed": 5, "failures": 1, "errors": 2, "skipped": 2}
    assert stream.info.warnings == [] and stream.info.declared == {"tests": 10, "failures": 1, "errors": 2}
    got = _by_key(cases)
    suite = "spec.cart_spec.lua"
    assert got[(suite, "cart raises on a bad coupon", None)] == (ERROR, "spec/cart_spec.lua:11: coupon expired")
    assert got[(suite, "cart rounds prices", None)] == (SKIPPED, "spec/cart_spec.lua:17: rounding rules unclear")
    assert got[(suite, "cart discounts discounts [qty=1]", None)][0] == PASSED
    assert got[(suite, "top level test", None)][0] == PASSED
    assert got[("spec.broken_spec.lua", "(suite error)", None)] == (ERROR, "spec/broken_spec.lua:2: db down")
    assert {c.file for c in cases} == {"spec/cart_spec.lua", None}


def test_busted_repeat_runs_keep_one_identity():
    """--repeat 2: a <testsuite> for each run; each run's tests have the same identities."""
    stream, cases = _read("busted/busted-repeat.xml")
    assert stream.totals.as_dict() == {"tests": 18, "passed": 10, "failures": 2, "errors": 2, "skipped": 4}
    first, second = cases[:9], cases[9:]
    assert [c.identity for c in first] == [c.identity for c in second]
    assert len({c.identity for c in first}) == 9


# ------------------------------------------------------------------ EUnit 2.8.1, Erlang/OTP 25

def _eunit():
    cases, totals = [], {}
    for module in ("cart_tests", "checkout_tests", "slow_tests"):
        stream, read = _read(f"eunit/TEST-{module}.xml")
        assert stream.info.warnings == [], module
        assert stream.info.declared == {k: v for k, v in stream.totals.as_dict().items() if k != "passed"}, module
        cases += read
        for key, value in stream.totals.as_dict().items():
            totals[key] = totals.get(key, 0) + value
    return totals, cases


def test_eunit_surefire_counts_as_eunit_does():
    """'Failed: 3.  Skipped: 0.  Passed: 6.  One or more tests were cancelled.': the failed
    assertions are failures (eunit_surefire means them to be, but OTP 25's assertion names escape
    it), the exception an error; the test that timed out (no 'Skipped' to EUnit) and the fixture
    whose setup failed are errors. The message is the exception, on one line."""
    totals, cases = _eunit()
    assert totals == {"tests": 11, "passed": 6, "failures": 2, "errors": 3, "skipped": 0}
    got = _by_key(cases)
    status, message = got[("cart_tests", "total_test", None)]
    assert status == FAILED and message.startswith("error:{assertEqual,[{module,cart_tests}, {line,5}, {expression,")
    assert got[("cart_tests", "bad_coupon_test", None)] == (ERROR, "error:coupon_expired")
    assert got[("checkout_tests", "fixture setup", None)] == (ERROR, "error:db_down")
    assert got[("slow_tests", "-timeout_test_/0-fun-0-", None)] == (ERROR, "timed out")


def test_eunit_surefire_names_without_lines():
    """eunit_surefire names a test 'cart_tests:8 -discount_test_/0-fun-2- (qty 1)': the module is
    the suite, the line goes (a test function's is always 0, a generated test's moves)."""
    _totals, cases = _eunit()
    names = {(c.suite, c.name) for c in cases}
    assert {("cart_tests", "adds_items_test"), ("cart_tests", "-discount_test_/0-fun-2- (qty 1)"),
            ("cart_tests", "-discount_test_/0-fun-2- (qty 2)"), ("cart_tests", "-undescribed_test_/0-fun-1-"),
            ("checkout_tests", "pays_by_card_test"), ("slow_tests", "quick_test")} <= names
    assert not any(":" in c.suite or c.name[:1].isdigit() for c in cases)
    assert len({c.identity for c in cases}) == 11


# ------------------------------------------------------- common_test 1.24 (cth_surefire), OTP 25

def test_common_test_surefire_counts_as_common_test_does():
    """'TEST COMPLETE, 2 ok, 2 failed, 3 skipped of 7 test cases'. cth_surefire writes the
    init_per_suite/end_per_suite/init_per_group/end_per_group functions as testcases too, which
    neither common_test nor the file's own totals count: no tests here; the init_per_group that
    failed is a warning, the test it was for skipped."""
    stream, cases = _read("common_test/ct-junit.xml")
    assert stream.totals.as_dict() == {"tests": 7, "passed": 2, "failures": 2, "errors": 0, "skipped": 3}
    assert stream.info.declared == {"tests": 7, "failures": 2, "errors": 0, "skipped": 3}
    assert stream.info.warnings == [
        "configuration method cart_SUITE.init_per_group(broken) failed; dependent tests were skipped"]
    got = _by_key(cases)
    assert set(got) == {("checkout_SUITE", "pays", None)} | {("cart_SUITE", n, None) for n in (
        "adds_items", "computes_total", "bad_coupon", "skipped_tax", "discount", "broken_in_group")}
    assert got[("cart_SUITE", "broken_in_group", None)][0] == SKIPPED
    assert got[("cart_SUITE", "computes_total", None)][0] == FAILED


# ------------------------------------------------------------- tasty-ant-xml 1.1.8, GHC 9.0

def test_tasty_ant_xml_counts_as_tasty_does():
    """'2 out of 5 tests failed': the test that threw is a <failure> in the file as the failed one
    is, which its errors= counts apart; both are failures, and the declared totals say so too.
    The testGroups are the suite."""
    stream, cases = _read("tasty/tasty.xml")
    assert stream.totals.as_dict() == {"tests": 5, "passed": 3, "failures": 2, "errors": 0, "skipped": 0}
    assert stream.info.declared == {"tests": 5, "failures": 2, "errors": 0} and stream.info.warnings == []
    got = _by_key(cases)
    assert got[("cart", "raises on a bad coupon", None)] == (FAILED, "coupon expired")
    assert got[("cart.discounts", "takes 10% off", None)][0] == PASSED


# ---------------------------------------------- karma-junit-reporter 2.0.1, karma 6, Chromium 156

def test_karma_junit_counts_as_karma_does():
    """'Executed 6 of 7 (2 FAILED) (skipped 1)', 'TOTAL: 2 FAILED, 4 SUCCESS'."""
    stream, cases = _read("karma/karma-junit.xml")
    assert stream.totals.as_dict() == {"tests": 7, "passed": 4, "failures": 2, "errors": 0, "skipped": 1}
    assert stream.info.warnings == []
    got = _by_key(cases)
    assert got[("Cart", "Cart raises on a bad coupon", "[Chrome Headless]")] == (FAILED, "Error: coupon expired")
    assert got[("Cart", "Cart applies tax", "[Chrome Headless]")][0] == SKIPPED
    assert got[("Cart discounts", "Cart discounts discount [qty=2]", "[Chrome Headless]")][0] == PASSED
    assert got[("Checkout v1.2", "Checkout v1.2 pays by card", "[Chrome Headless]")][0] == PASSED


def test_karma_identity_survives_a_browser_update_and_keeps_browsers_apart(tmp_path):
    """karma-junit-reporter puts the browser's name, version included, in every classname
    ('Chrome_Headless_156_0_0_0_(Linux_0_0_0).Cart'): the next Chromium made every test new. The
    same file as Chromium 157 would write it has the same identities; as Firefox writes it, others."""
    text = (OTHER / "karma/karma-junit.xml").read_text()
    _stream, cases = _read("karma/karma-junit.xml")
    ids = [c.identity for c in cases]
    for name, browser, safe, same in (
        ("next.xml", "Chrome Headless 157.0.1.0 (Linux 0.0.0)", "Chrome_Headless_157_0_1_0_(Linux_0_0_0)", True),
        ("firefox.xml", "Firefox 140.0 (Ubuntu 0.0.0)", "Firefox_140_0_(Ubuntu_0_0_0)", False),
    ):
        path = tmp_path / name
        path.write_text(text.replace("Chrome Headless 156.0.0.0 (Linux 0.0.0)", browser)
                        .replace("Chrome_Headless_156_0_0_0_(Linux_0_0_0)", safe))
        _spec, _stream2, other = read_report(path)
        assert ([c.identity for c in other] == ids) is same, name
        assert [c.suite for c in other] == [c.suite for c in cases]


# ------------------- mocha-junit-reporter 2.2 files merged by junit-report-merger 7 (Cypress's way)

def test_mocha_junit_files_merged_by_jrm_keep_mochas_identities():
    """Cypress writes a mocha-junit-reporter file for each spec (results-[hash].xml) and its guide
    merges them with jrm, whose <testsuites> has no 'Mocha Tests' name: the merged file's tests
    are still mocha's, with the identities the files it merged give them (suite: the describe
    titles; mocha-junit-reporter leaves out the pending test, which its tests= counts)."""
    stream, merged = _read("mocha-merged/combined.xml")
    assert stream.info.framework == "mocha"
    assert stream.totals.as_dict() == {"tests": 5, "passed": 4, "failures": 1, "errors": 0, "skipped": 0}
    assert {(c.suite, c.name) for c in merged} == {
        ("", "works outside any describe"), ("Cart", "adds items"), ("Login", "shows the form"),
        ("Login", "rejects a bad password"), ("Login with SSO [beta]", "redirects")}
    singles = [c for name in ("results-login.xml", "results-cart.xml") for c in _read(f"mocha-merged/{name}")[1]]
    assert sorted(c.identity for c in merged) == sorted(c.identity for c in singles)
    assert {c.framework for c in singles} == {"mocha"}


# ----------------------------------------------------------- public files (public/SOURCES.md)

def test_public_files_of_other_ecosystems_count_as_their_tools_do():
    """xcbeautify (XCTest and Swift Testing), JunitXml.TestLogger over NUnit 3 (whose file repeats a
    test case: both counted, the second marked) and dart's tojunit: each as its file's totals say."""
    expected = {
        "public/xcbeautify-mixed-xctest-swift-testing.xml": {"tests": 6, "passed": 4, "failures": 2, "errors": 0, "skipped": 0},
        "public/junit-testlogger-nunit3.xml": {"tests": 5, "passed": 2, "failures": 3, "errors": 0, "skipped": 0},
        "public/dart-junitreport.xml": {"tests": 7, "passed": 3, "failures": 2, "errors": 1, "skipped": 1},
    }
    for name, totals in expected.items():
        stream, cases = _read(name)
        assert stream.totals.as_dict() == totals, name
        assert not any("declared totals" in w for w in stream.info.warnings), name
    _stream, cases = _read("public/xcbeautify-mixed-xctest-swift-testing.xml")
    assert ("SwiftTesting", "testFailTrueIsFalse()", None) in _by_key(cases)
    _stream, cases = _read("public/dart-junitreport.xml")
    assert _by_key(cases)[("allresults", "error in test", None)] == (ERROR, "Bad state: oops, it failed")


# Bazel's test.xml for a test that writes none (tools/test/generate-xml.sh): a shard of a sharded
# target is named '<package>/<target>_shard_<n>/<count>' (so its src/test/shell/bazel tests check).
_BAZEL_SHARD = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
<testsuite name="dir/test_shard_{n}/2" tests="1" failures="0" errors="{errors}">
  <testcase name="dir/test_shard_{n}/2" status="run" duration="1" time="1">{error}</testcase>
  <system-out><![CDATA[shard {n}]]></system-out>
</testsuite>
</testsuites>
"""


def test_bazel_generated_shard_files_are_one_test_each(tmp_path):
    """Each shard's file is one test, its error the shard's exit code; the shards keep apart."""
    cases = []
    for n, error in ((1, ""), (2, '<error message="exited with error code 1"></error>')):
        path = tmp_path / f"shard_{n}_of_2.xml"
        path.write_text(_BAZEL_SHARD.format(n=n, errors=int(bool(error)), error=error))
        _spec, stream, read = read_report(path)
        assert stream.info.warnings == [] and len(read) == 1
        cases += read
    assert [(c.status, c.final.message) for c in cases] == [(PASSED, None), (ERROR, "exited with error code 1")]
    assert len({c.identity for c in cases}) == 2


def test_tap2junit_file_short_of_its_plan_has_one_error():
    """tap2junit on a TAP stream planning 3 tests and running 2 (no exit status to tell): the
    file's error, 'Looks like you planned 3 tests but ran 2.', which its errors= counts as the one
    test missing, is the one error here; the declared totals agree."""
    stream, cases = _read("perl/tap2junit-short.xml")
    assert stream.totals.as_dict() == {"tests": 3, "passed": 2, "failures": 0, "errors": 1, "skipped": 0}
    assert stream.info.warnings == [] and stream.info.declared == {"tests": 3, "failures": 0, "errors": 1}
    assert _by_key(cases)[("short_tap", "(suite error)", None)] == (ERROR, "Looks like you planned 3 tests but ran 2.")


def test_busted_counts_each_error_outside_a_test():
    """'0 successes / 0 failures / 5 errors': busted writes each error raised outside a test to the
    run's <testsuite> (and a spec that did not load to the root): each is one of its errors, of the
    spec file it names, not one for the whole run."""
    stream, cases = _read("busted-errors/busted-errors.xml")
    assert stream.totals.as_dict() == {"tests": 5, "passed": 0, "failures": 0, "errors": 5, "skipped": 0}
    assert stream.info.warnings == []
    assert sorted((c.suite, c.name) for c in cases) == [
        ("spec.a_spec.lua", "(suite error)"), ("spec.b_spec.lua", "(suite error)"),
        ("spec.c_spec.lua", "(suite error)"), ("spec.c_spec.lua", "(suite error)"), ("spec.c_spec.lua", "(suite error)")]
    assert sorted(c.final.message for c in cases if c.suite == "spec.c_spec.lua") == [
        "spec/c_spec.lua:2: before_each failed", "spec/c_spec.lua:2: before_each failed", "spec/c_spec.lua:5: teardown failed"]


# ------------------------------------------------------------------------------- cmocka 1.1.5

def test_cmocka_fixture_failures_are_errors_and_a_failed_group_setup_is_one():
    """cart: '[ PASSED ] 2 test(s)', '[ SKIPPED ] 1', '[ FAILED ] computes_total', 'Could not run test:
    Test setup failed [ ERROR ] needs_db' and the same for the failed teardown: cmocka's errors=
    counts those two, which it writes as <failure>s. payments: '[ FAILED ] GROUP SETUP [ ERROR ]
    payments', a <testsuite> with tests="0" errors="1" and nothing in it: the group's error."""
    stream, cases = _read("cmocka/cmocka-cart.xml")
    assert stream.totals.as_dict() == {"tests": 6, "passed": 2, "failures": 1, "errors": 2, "skipped": 1}
    assert stream.info.warnings == []
    got = _by_key(cases)
    assert got[("cart", "needs_db", None)] == (ERROR, "Test setup failed")
    assert got[("cart", "closes_db", None)] == (ERROR, "Test teardown failed")
    assert got[("cart", "computes_total", None)] == (FAILED, "0x5 != 0x4")
    assert next(c for c in cases if c.name == "slow_checkout").duration >= 0.2  # seconds, not milliseconds
    stream, cases = _read("cmocka/cmocka-payments.xml")
    assert stream.info.warnings == []
    assert _by_key(cases) == {("payments", "(suite error)", None): (ERROR, "group setup failed")}
    # refunds: '[ FAILED ] GROUP TEARDOWN [ ERROR ] refunds' after its test passed; the file says
    # nothing of it (errors="0"): read as written.
    stream, cases = _read("cmocka/cmocka-refunds.xml")
    assert stream.totals.as_dict()["errors"] == 0 and [c.status for c in cases] == [PASSED]


# ---------------------------------------------------------------------------- CppUTest 4.0

def test_cpputest_counts_as_cpputest_and_its_messages_have_their_line_breaks():
    """'Errors (2 failures, 5 tests, 4 ran, 4 checks, 1 ignored, 0 filtered out)'. CppUTest writes a
    message's line breaks as '{newline}': read as line breaks."""
    totals = {"tests": 0, "passed": 0, "failures": 0, "errors": 0, "skipped": 0}
    cases = []
    for group in ("Cart", "Checkout"):
        stream, read = _read(f"cpputest/cpputest_{group}.xml")
        assert stream.info.warnings == []
        totals = {k: v + stream.totals.as_dict()[k] for k, v in totals.items()}
        cases += read
    assert totals == {"tests": 5, "passed": 2, "failures": 2, "errors": 0, "skipped": 1}
    got = _by_key(cases)
    assert got[("Cart", "AppliesTax", None)][0] == SKIPPED
    status, message = got[("Checkout", "Fails", None)]
    assert status == FAILED and message.startswith("CartTest.cpp:11: expected <card>\n but was  <cash>\n")
    assert not any("{newline}" in (c.final.message or "") for c in cases)


# ------------------------------------------------------------------------- OUnit 2.2.6, OCaml

def test_ounit_counts_as_ounit_does_and_names_without_list_positions():
    """'Cases: 7 Tried: 7 Errors: 1 Failures: 2 Skip: 1 Todo: 1'. OUnit names a test by its path,
    list positions included ('cart:5:discounts:1:twenty'), which move when a test is added before:
    the labels are the suite and name. The skipped test is a passing testcase, its log line in the
    system-out says it was skipped; the todo test a <failure> of type OUnit.Todo: both skipped."""
    stream, cases = _read("ounit/ounit.xml")
    assert stream.totals.as_dict() == {"tests": 7, "passed": 2, "failures": 2, "errors": 1, "skipped": 2}
    assert stream.info.warnings == [] and stream.info.declared == {"tests": 7, "failures": 2, "errors": 1}
    got = _by_key(cases)
    assert got[("cart", "applies tax", None)] == (SKIPPED, "tax service down")
    assert got[("cart", "rounds", None)] == (SKIPPED, "TODO: rounding")
    assert got[("cart", "raises", None)] == (ERROR, 'Failure("coupon expired")')
    assert got[("cart.discounts", "twenty", None)][0] == FAILED
    assert set(got) >= {("cart", "adds items", None), ("cart.discounts", "ten percent", None)}


# ------------------------------------------------------------------------ testthat 3.1.6, R

def test_testthat_junit_counts_expectations_as_testthat_does():
    """'[ FAIL 4 | WARN 1 | SKIP 2 | PASS 4 ]': testthat's JunitReporter, as its own summary, counts
    expectations (a test_that() block with three is three testcases of its name, the repeats
    marked) and a warning as one more; an error and a failed expectation are each one FAIL; an
    empty test is skipped ('Reason: empty test')."""
    stream, cases = _read("testthat/testthat.xml")
    assert stream.totals.as_dict() == {"tests": 11, "passed": 5, "failures": 3, "errors": 1, "skipped": 2}
    assert stream.info.declared == {"tests": 11, "failures": 3, "errors": 1, "skipped": 2}
    assert [(c.status, c.properties.get("repeat")) for c in cases if c.name == "pays_by_card"] == [
        (PASSED, None), (FAILED, "2"), (FAILED, "3")]
    got = _by_key(cases)
    assert got[("cart", "has_no_expectations", None)] == (SKIPPED, "Reason: empty test ('test-cart.R:13')")
    assert got[("cart", "raises_on_a_bad_coupon", None)][0] == ERROR


# ------------------------------------------------------------------------- Boost.Test 1.74

def test_boost_test_counts_as_its_report_and_keeps_data_samples_apart():
    """--report_level=detailed: '5 test cases out of 9 passed, 3 test cases out of 9 failed, 1 test
    case out of 9 skipped, 1 test case out of 9 aborted', the expected failure a test case that
    passed. A data test case's samples ('cart.discount', '_0') are one test with parameters; the
    message is the failed check's (the file says message="failure"); tests= leaves skipped ones out."""
    stream, cases = _read("boost/boost-junit.xml")
    assert stream.totals.as_dict() == {"tests": 9, "passed": 5, "failures": 2, "errors": 1, "skipped": 1}
    assert stream.info.warnings == []
    got = _by_key(cases)
    assert got[("cart", "expected_failure", None)] == (PASSED, "failed as expected")
    assert got[("cart", "computes_total", None)] == (FAILED, "check 2 + 2 == 5 has failed [2 + 2 != 5]")
    assert got[("cart", "throws", None)] == (ERROR, "std::runtime_error: coupon expired")
    assert [got[("cart", "discount", f"[_{i}]")][0] for i in range(3)] == [PASSED, PASSED, FAILED]
    assert got[("cart", "applies_tax", None)][0] == SKIPPED
