"""The JUnit XML of JavaScript runners, read as each runner counts its own run (fixtures/results/
jsjunit/, written by jest + jest-junit, vitest, node:test, bun and deno on one small suite each;
the tools' own summaries in summaries.txt there, and the regenerate script). A test's identity
holds nothing that changes between runs; a suite that failed outside its tests (a hook, a file
that did not load) is one errored test, as a suite-level <error> is."""

from __future__ import annotations

from collections import Counter

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "jsjunit"
FILES = [
    "deno-junit.xml",
    "node-test-junit.xml",
    "jest-junit-default.xml",
    "jest-junit-options.xml",
    "vitest-junit.xml",
    "bun-junit.xml",
]


def _read(name: str):
    _, stream, cases = read_report(HERE / name)
    return stream, cases


def _read_text(tmp_path, xml: str):
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    _, stream, cases = read_report(path)
    return stream, cases


def _by_key(cases) -> dict:
    by_key = {(c.suite, c.name, c.parameters): c for c in cases}
    assert len(by_key) == len(cases), "two tests share an identity"
    return by_key


def _counts(cases) -> dict:
    return dict(Counter(c.status for c in cases))


@pytest.mark.parametrize("name", FILES)
def test_no_false_warnings_and_every_test_once(name):
    stream, cases = _read(name)
    assert stream.info.warnings == []
    _by_key(cases)
    for case in cases:
        # Nothing of the run in the identity: no line numbers, times or scratch paths.
        for text in (case.suite, case.name, case.parameters or ""):
            assert "/tmp" not in text and not any(ch.isdigit() for ch in text.replace("1 + 1", "").replace("2 + 3", ""))


# deno --------------------------------------------------------------------------------------------


def test_deno_counts_are_denos_tests_and_steps():
    # deno: '3 passed (2 steps) | 2 failed (2 steps) | 1 ignored': each test and step a testcase.
    _, cases = _read("deno-junit.xml")
    assert _counts(cases) == {PASSED: 5, FAILED: 4, SKIPPED: 1}
    assert _by_key(cases)[("cart_test.ts", "cart > totals > fails inside", None)].status == FAILED


# node:test ---------------------------------------------------------------------------------------


def test_node_test_identity_is_its_suites():
    # Every testcase's classname is 'test': the suites are the <testsuite>s around it.
    _, cases = _read("node-test-junit.xml")
    by_key = _by_key(cases)
    assert by_key[("cart.totals", "adds items", None)].status == PASSED
    assert by_key[("cart", "is empty at start", None)].status == PASSED
    assert by_key[("", "top level works", None)].status == PASSED
    assert by_key[("with subtests", "second step", None)].status == FAILED
    assert {c.framework for c in cases} == {"junit"}


def test_node_test_same_title_in_two_describes_is_two_tests(tmp_path):
    xml = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
\t<testsuite name="cart" time="0.001" disabled="0" errors="0" tests="1" failures="0" skipped="0" hostname="vm">
\t\t<testcase name="works" time="0.000100" classname="test"/>
\t</testsuite>
\t<testsuite name="orders" time="0.001" disabled="0" errors="0" tests="1" failures="0" skipped="0" hostname="vm">
\t\t<testcase name="works" time="0.000100" classname="test"/>
\t</testsuite>
</testsuites>"""
    stream, cases = _read_text(tmp_path, xml)
    assert [(c.suite, c.name) for c in cases] == [("cart", "works"), ("orders", "works")]
    assert stream.info.warnings == []


def test_node_test_counts_are_nodes():
    # node: tests 15, pass 6, fail 4, cancelled 2, skipped 2, todo 1. A test with subtests is a
    # <testsuite> (one test and one failure fewer here); a test cancelled by its suite's failed
    # before() hook did not run: an error.
    stream, cases = _read("node-test-junit.xml")
    assert _counts(cases) == {PASSED: 6, FAILED: 3, ERROR: 2, SKIPPED: 3}
    by_key = _by_key(cases)
    assert by_key[("payments", "charges card", None)].status == ERROR
    assert by_key[("cart.totals", "rounds cents", None)].attempts[0].message is None
    assert by_key[("cart.totals", "handles currency", None)].attempts[0].message == "todo"
    assert by_key[("cart.totals", "skips at run time", None)].attempts[0].message == "no network"
    # Its suites' tests= count their direct children: no totals of the file.
    assert stream.info.declared == {}


def test_node_test_file_of_top_level_tests_only(tmp_path):
    xml = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
\t<testcase name="adds" time="0.000100" classname="test"/>
\t<testcase name="subtracts" time="0.000100" classname="test" failure="nope">
\t\t<failure type="testCodeFailure" message="nope">boom</failure>
\t</testcase>
</testsuites>"""
    _, cases = _read_text(tmp_path, xml)
    assert [(c.suite, c.name, c.status) for c in cases] == [("", "adds", PASSED), ("", "subtracts", FAILED)]


# jest-junit --------------------------------------------------------------------------------------


def test_jest_junit_default_counts_are_jests():
    # jest: 'Tests: 5 failed, 1 skipped, 1 todo, 8 passed, 15 total'; a todo is skipped here.
    stream, cases = _read("jest-junit-default.xml")
    assert stream.info.framework == "jest"
    assert _counts(cases) == {PASSED: 8, FAILED: 5, SKIPPED: 2}
    # tests= leaves the todo out: the declared total is read as jest-junit counts.
    assert stream.info.declared == {"tests": 15, "failures": 5, "errors": 0}
    todo = _by_key(cases)[("wishlist shares the list", "wishlist shares the list", None)]
    assert todo.status == SKIPPED and todo.attempts[0].message == "todo"


def test_jest_junit_todo_left_passed_when_it_cannot_be_told(tmp_path):
    # Two testcases with time="0" in a suite whose tests= leaves one out: either may be the todo.
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="2" failures="0" errors="0" time="0.2">
  <testsuite name="cart" errors="0" failures="0" skipped="0" timestamp="2026-11-30T18:20:06" time="0.1" tests="2">
    <testcase classname="cart adds" name="cart adds" time="0"></testcase>
    <testcase classname="cart todo" name="cart todo" time="0"></testcase>
    <testcase classname="cart slow" name="cart slow" time="0.004"></testcase>
  </testsuite>
</testsuites>"""
    stream, cases = _read_text(tmp_path, xml)
    assert _counts(cases) == {PASSED: 3}
    assert stream.info.warnings == []


def test_jest_junit_suite_errors_and_hooks():
    # jest: 'Tests: 5 failed, 1 skipped, 1 todo, 9 passed, 16 total', 'Test Suites: 5 failed': one
    # file did not load and one afterAll failed, each an errored test here.
    stream, cases = _read("jest-junit-options.xml")
    assert _counts(cases) == {PASSED: 9, FAILED: 5, SKIPPED: 2, ERROR: 2}
    by_key = _by_key(cases)
    # jest-junit writes the file that failed to load twice (<error>, then <failure> with the JSON).
    broken = by_key[("Test suite failed to run", "broken.test.js", None)]
    assert broken.status == ERROR and len(broken.attempts) == 1
    assert "Cannot find module './does-not-exist'" in broken.attempts[0].stack_trace
    assert "MODULE_NOT_FOUND" in broken.attempts[0].stack_trace
    (hook,) = [c for c in cases if c.name == "Test execution failure: could be caused by test hooks like 'afterAll'."]
    assert hook.status == ERROR and "cleanup failed" in hook.attempts[0].message
    assert stream.info.declared == {"tests": 18, "failures": 5, "errors": 2}


def test_jest_junit_retries_are_one_test():
    # jest.retryTimes(2): jest counts each retried test once; jest-junit writes its last run only.
    _, cases = _read("jest-junit-options.xml")
    by_key = _by_key(cases)
    assert by_key[("checkout", "eventually pays", None)].status == PASSED
    assert by_key[("checkout", "always fails", None)].status == FAILED


def test_jest_junit_top_level_tests_are_in_no_describe():
    # classNameTemplate '{classname}' is empty outside a describe(); the <testsuite> is named after
    # the describe of the file's first test ('cart'), which the top-level tests are not in.
    _, cases = _read("jest-junit-options.xml")
    by_key = _by_key(cases)
    assert by_key[("cart.test.js", "top level works", None)].status == PASSED
    assert by_key[("cart.test.js", "throws", None)].status == FAILED
    assert by_key[("cart", "is empty at start", None)].status == PASSED
    assert by_key[("cart › totals", "adds 1 + 1", None)].status == PASSED


def test_jest_junit_top_level_test_without_a_file(tmp_path):
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="2" failures="0" errors="0" time="0.2">
  <testsuite name="cart" errors="0" failures="0" skipped="0" timestamp="2026-11-30T18:20:06" time="0.1" tests="2">
    <testcase classname="cart" name="adds" time="0.001"></testcase>
    <testcase classname="" name="top level" time="0.001"></testcase>
  </testsuite>
</testsuites>"""
    _, cases = _read_text(tmp_path, xml)
    assert [(c.suite, c.name) for c in cases] == [("cart", "adds"), ("", "top level")]


def test_pytest_xunit1_module_report_has_no_suite(tmp_path):
    # pytest -o junit_family=xunit1 (pytest 8): a collection error's testcase has classname="" and
    # a file=; with xunit2 (no file=) it already had the empty suite.
    xml = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" \
errors="1" failures="0" skipped="0" tests="1" time="0.159" timestamp="2026-11-30T18:28:53.428036+00:00" hostname="vm">\
<testcase classname="" name="test_broken" file="test_broken.py" time="0.000"><error message="collection failure">\
ImportError while importing test module</error></testcase></testsuite></testsuites>"""
    _, cases = _read_text(tmp_path, xml)
    assert [(c.suite, c.name, c.status) for c in cases] == [("", "test_broken", ERROR)]


# vitest ------------------------------------------------------------------------------------------


def test_vitest_counts_are_vitests():
    # vitest: 'Tests 2 failed | 7 passed | 3 skipped | 1 todo (13)', 'Test Files 3 failed (3)': a
    # file that failed to load, a beforeAll and an afterAll that failed, none a test of vitest's.
    stream, cases = _read("vitest-junit.xml")
    assert _counts(cases) == {PASSED: 7, FAILED: 2, SKIPPED: 4, ERROR: 3}
    by_key = _by_key(cases)
    assert by_key[("broken.test.js", "broken.test.js", None)].status == ERROR
    assert by_key[("cart.test.js", "payments", None)].status == ERROR
    assert by_key[("hooks.test.js", "history", None)].status == ERROR  # a nested describe's afterAll
    # Its tests did not run: skipped, as vitest counts them.
    assert by_key[("cart.test.js", "payments > charges card", None)].status == SKIPPED
    assert stream.info.declared == {"tests": 16, "failures": 2, "errors": 3}


def test_vitest_failing_test_named_like_no_describe_stays_failed():
    _, cases = _read("vitest-junit.xml")
    by_key = _by_key(cases)
    assert by_key[("cart.test.js", "cart > totals > applies discount", None)].status == FAILED
    # retry: 1, failed twice: one test (vitest writes each run's error, one <failure> each).
    always = by_key[("cart.test.js", "checkout > always fails", None)]
    assert always.status == FAILED and always.attempts[0].message == "expected 1 to be 2 // Object.is equality"


# bun ---------------------------------------------------------------------------------------------


def test_bun_suite_is_file_and_describes():
    # bun: 6 pass, 1 skip, 1 todo, 4 fail, 1 error, 12 tests: the file that failed to load is not
    # in its junit file (one failed test fewer). The classname lists the describes innermost first.
    _, cases = _read("bun-junit.xml")
    assert _counts(cases) == {PASSED: 6, FAILED: 3, SKIPPED: 2}
    by_key = _by_key(cases)
    assert by_key[("cart.test.js.cart.totals", "adds items", None)].status == PASSED
    assert by_key[("cart.test.js.cart", "is empty at start", None)].status == PASSED
    assert by_key[("cart.test.js", "top level works", None)].status == PASSED
    assert by_key[("cart.test.js.payments", "(unnamed)", None)].status == FAILED  # the failed beforeAll
    assert by_key[("cart.test.js.checkout", "eventually pays", None)].status == PASSED
