"""One test, one identity, whichever reporter of a tool wrote the file, and from one run to the
next: reporter pairs and situations the other identity tests leave out (fixtures/results/ident3/,
written by the real tools: regenerate-ident3.sh there)."""

from __future__ import annotations

import json

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED
from crossbridge_assets_tests.conftest import FIXTURES

IDENT3 = FIXTURES / "results" / "ident3"


def _read(path):
    spec, stream, cases = read_report(path)
    return spec.name, stream, cases


def _key(case) -> tuple:
    return case.framework, case.suite, case.name, case.parameters


def _by_identity(cases) -> dict:
    by_id = {c.identity: c for c in cases}
    assert len(by_id) == len(cases), "every test has an identity of its own"
    return by_id


# ---------------------------------------------------------------------------- pytest's CTRF
# pytest-shop-*: one run of pytools/pytest/test_shop.py written by pytest --junitxml,
# pytest-json-report and pytest-json-ctrf 0.6.1, which names a test by its node id
# ('test_shop.py::TestCheckout::test_pay') and lists the file and classes as its suite.


def test_pytest_ctrf_gives_every_test_the_identity_and_status_of_pytests_own_reports():
    fmt, stream, ctrf = _read(IDENT3 / "pytest-shop-ctrf.json")
    _f, _s, junit = _read(IDENT3 / "pytest-shop-junit.xml")
    _f, _s, native = _read(IDENT3 / "pytest-shop.json")
    assert (fmt, stream.info.framework) == ("ctrf", "pytest")
    ours, junit_ids, native_ids = _by_identity(ctrf), _by_identity(junit), _by_identity(native)
    assert sorted(map(_key, ours.values())) == sorted(map(_key, junit_ids.values()))
    assert sorted(map(_key, ours.values())) == sorted(map(_key, native_ids.values()))
    by_key = {_key(c)[1:]: c for c in ctrf}
    assert by_key[("test_shop.TestCheckout", "test_pay", None)].status == ERROR
    assert by_key[("test_shop", "test_ids", "[x::y]")].status == PASSED
    assert by_key[("test_shop", "test_custom_ids", "[second [id]]")].status == PASSED
    # A fixture that failed in setup is an error, as pytest's own reports say, not a failure.
    for identity, case in ours.items():
        assert case.status == junit_ids[identity].status == native_ids[identity].status, _key(case)
    assert stream.totals.as_dict() == {"tests": 19, "passed": 10, "failures": 4, "errors": 3, "skipped": 2}
    # The summary counts them among the failed: declared as read, the totals agree.
    assert stream.info.declared == {"tests": 19, "failures": 4, "errors": 3, "skipped": 2}
    assert stream.info.warnings == []


def test_pytest_ctrf_reruns_are_the_attempts_pytests_junit_file_has():
    # pytest-rerun-*: pytest/rerun_ctrf.py with pytest-rerunfailures --reruns 1, one run.
    _f, _s, ctrf = _read(IDENT3 / "pytest-rerun-ctrf.json")
    _f, _s, junit = _read(IDENT3 / "pytest-rerun-junit.xml")
    ours, theirs = _by_identity(ctrf), _by_identity(junit)
    assert set(ours) == set(theirs)
    for identity, case in ours.items():
        assert [a.status for a in case.attempts] == [a.status for a in theirs[identity].attempts], _key(case)
    flaky = {c.name: c for c in ctrf}["test_flaky"]
    assert flaky.flaky and [a.status for a in flaky.attempts] == [FAILED, PASSED]


# ---------------------------------------------------------------------------- Playwright's CTRF
# playwright*: one run of playwright/ (testDir ./tests, spec files in folders under it, two
# projects) written by Playwright's json and junit reporters and playwright-ctrf-json-reporter
# 0.0.29, whose suite is the project, the file as Playwright titles it (its path under testDir,
# 'api/cart.spec.js') and the describe() titles.


def _playwright(name: str, pack: bool = True) -> dict:
    _f, stream, cases = _read(IDENT3 / name)
    assert stream.info.framework == "playwright"
    return _by_identity([c for c in cases if pack or not c.name.startswith("adds a pack")])


def test_playwright_ctrf_of_spec_files_in_folders_has_the_json_reporters_identities():
    # (The test titled 'adds a pack [bulk]' is the next test's.)
    ctrf = _playwright("playwright-ctrf.json", pack=False)
    native = _playwright("playwright.json", pack=False)
    assert sorted(map(_key, ctrf.values())) == sorted(map(_key, native.values()))
    # The project is the parameter, not a part of the suite, whatever folder the file is in.
    assert ("playwright", "api.v1.2.orders.spec.js.orders", "adds an item", "[beta]") in map(_key, ctrf.values())
    assert ("playwright", "top.spec.js", "adds an item", "[alpha]") in map(_key, ctrf.values())
    for identity, case in ctrf.items():
        assert case.status == native[identity].status, _key(case)


def test_playwright_ctrf_title_ending_in_brackets_keeps_them_and_its_project():
    # Playwright has no parameters but the project: '[bulk]' is the title's, and the test run by
    # two projects is two tests, as the json and junit reporters' files have it.
    want = {("playwright", "api.cart.spec.js", "adds a pack [bulk]", f"[{p}]") for p in ("alpha", "beta")}
    for name in ("playwright-ctrf.json", "playwright.json", "playwright-junit.xml"):
        cases = _playwright(name)
        assert {_key(c) for c in cases.values() if c.name.startswith("adds a pack")} == want, name
        assert {c.status for c in cases.values() if c.name.startswith("adds a pack")} == {PASSED}, name
    assert set(_playwright("playwright-ctrf.json")) == set(_playwright("playwright.json"))


# ---------------------------------------------------------------------------- mocha's CTRF
# mocha-ctrf-json-reporter 0.0.11 (mocha 10.8.2) names a test by mocha's full title only: the
# describe() titles and the test's, joined by spaces (cut to two tests of its file, paths made
# relative). mocha's JSON reporter on the same run: fullTitle 'API v1.2 orders/refunds deep
# [smoke] handles case [edge]', title 'handles case [edge]'.
MOCHA_CTRF = {
    "results": {
        "tool": {"name": "mocha"},
        "summary": {"tests": 2, "passed": 1, "failed": 1, "pending": 0, "skipped": 0, "other": 0,
                    "start": 1796072963868, "stop": 1796072963871},
        "tests": [
            {"name": "API v1.2 orders/refunds deep [smoke] handles case [edge]", "status": "passed",
             "duration": 0, "retries": 0, "flaky": False, "filePath": "spec/a.spec.js", "rawStatus": "passed",
             "start": 1796072963871, "stop": 1796072963871},
            {"name": "API v1.2 orders/refunds deep [smoke] handles case [fuzz]", "status": "failed",
             "duration": 1, "retries": 0, "flaky": False, "filePath": "spec/a.spec.js", "rawStatus": "failed",
             "start": 1796072963871, "stop": 1796072963872, "message": "AssertionError boom"},
        ],
    }
}


def test_mocha_ctrf_title_ending_in_brackets_is_a_title(tmp_path):
    # mocha has no parameters: mocha's own reporters' readers keep '[edge]' in the title, and the
    # full title is not cut at the first '[' of a describe() title.
    path = tmp_path / "ctrf-report.json"
    path.write_text(json.dumps(MOCHA_CTRF))
    _f, stream, cases = _read(path)
    assert stream.info.framework == "mocha"
    assert [_key(c) for c in cases] == [
        ("mocha", "", "API v1.2 orders/refunds deep [smoke] handles case [edge]", None),
        ("mocha", "", "API v1.2 orders/refunds deep [smoke] handles case [fuzz]", None),
    ]
    assert [c.status for c in cases] == [PASSED, FAILED]


def test_playwright_junit_failed_test_has_the_tries_of_the_json_report():
    # retries: 1. The junit reporter writes a failed test's last try only, its text holding the
    # error of every try under a 'Retry #n' line: as many tries as the JSON reporter lists.
    junit, native = _playwright("playwright-junit.xml"), _playwright("playwright.json")
    assert set(junit) == set(native)
    for identity, case in junit.items():
        theirs = native[identity]
        assert [a.status for a in case.attempts] == [a.status for a in theirs.attempts], _key(case)
    rounds = next(c for c in junit.values() if c.name == "rounds")
    assert [a.status for a in rounds.attempts] == [FAILED, FAILED]
    assert [a.message for a in rounds.attempts] == ["expect(received).toBe(expected) // Object.is equality"] * 2
    assert "Retry #1" not in rounds.attempts[0].stack_trace


# ---------------------------------------------------------------------------- busted
# busted-absolute.xml: busted 2.1.1 -o junit on otherlang/busted/spec named by its absolute path,
# in GitHub Actions' checkout folder; otherlang/busted/busted.xml: the same specs named 'spec'.


def test_busted_run_by_the_absolute_path_of_its_specs_keeps_the_identities():
    _f, _s, absolute = _read(IDENT3 / "busted-absolute.xml")
    _f, _s, relative = _read(FIXTURES / "results" / "otherlang" / "busted" / "busted.xml")
    ours, theirs = _by_identity(absolute), _by_identity(relative)
    assert sorted(map(_key, ours.values())) == sorted(map(_key, theirs.values()))
    assert {c.suite for c in absolute} == {"spec.cart_spec.lua", "spec.broken_spec.lua"}
    for identity, case in ours.items():
        assert case.status == theirs[identity].status, _key(case)


# ---------------------------------------------------------------------------- merged JUnit files
# A CI step merging the JUnit files of its jobs before they are sent: junitparser 5.0.3's merge
# and junit-report-merger 9.0.4 (jrm) put a <testsuites> of totals around each file's root, kept
# as its writer wrote it (junitparser-robot.xml, jrm-*.xml: each of one file, as a glob may match).
RESULTS = FIXTURES / "results"
MERGED = [
    ("junitparser-robot.xml", RESULTS / "robot" / "xunit.xml", "robot"),
    ("jrm-robot.xml", RESULTS / "robot" / "xunit.xml", "robot"),
    ("jrm-cucumber.xml", RESULTS / "js" / "cucumber-reporters-junit.xml", "cucumber"),
    ("jrm-testng.xml", RESULTS / "testng" / "TEST-com.acme.ShopTest.xml", "testng"),
    # Told by their <testsuite>'s attributes there, as the merger drops their root's name.
    ("junitparser-playwright.xml", RESULTS / "js" / "playwright-junit.xml", "playwright"),
    ("jrm-jest.xml", RESULTS / "jsjunit" / "jest-junit-options.xml", "jest"),
    # Plain JUnit, but a describe()'s failed hook is an error (vitest counts no test for it).
    ("jrm-vitest.xml", RESULTS / "jsjunit" / "vitest-junit.xml", "junit"),
    # Plain JUnit, its suites the <testsuite>s around a test (a testcase's classname is 'test').
    ("jrm-node.xml", RESULTS / "jsjunit" / "node-test-junit.xml", "junit"),
    # Plain JUnit, read as prove's TAP::Formatter::JUnit and cmocka files are (their root is bare).
    ("jrm-prove.xml", RESULTS / "otherlang" / "perl" / "prove-junit.xml", "junit"),
    ("jrm-cmocka.xml", RESULTS / "otherlang" / "cmocka" / "cmocka-cart.xml", "junit"),
]


@pytest.mark.parametrize("merged, original, framework", MERGED)
def test_a_merged_junit_file_keeps_the_identities_and_outcomes_of_its_writer(merged, original, framework):
    _f, stream, ours = _read(IDENT3 / merged)
    _f, their_stream, theirs = _read(original)
    assert stream.info.framework == framework
    assert stream.totals.as_dict() == their_stream.totals.as_dict()
    assert sorted(((_key(c), c.status, len(c.attempts)) for c in ours), key=repr) == sorted(
        ((_key(c), c.status, len(c.attempts)) for c in theirs), key=repr)


# ---------------------------------------------------------------------------- another order
# The same suites run again in another order, from another folder, as the next run of a CI job
# may be: googletest-shuffled.xml (native/gtest with --gtest_shuffle --gtest_repeat=2: TEST_P and
# TYPED_TEST instances, a DISABLED_ test, a failed SetUpTestSuite), catch2-random.xml
# (native/catch2 with --order rand: sections, GENERATE, [!mayfail]), gotestsum-shuffled.xml
# (native/go with go test -shuffle), robot-randomized*.xml (robot/Shop with --randomize all).
REORDERED = [
    ("googletest-shuffled.xml", RESULTS / "native" / "gtest" / "googletest.xml"),
    ("catch2-random.xml", RESULTS / "native" / "catch2" / "catch2-junit.xml"),
    ("gotestsum-shuffled.xml", RESULTS / "native" / "go" / "gotestsum.xml"),
    ("robot-randomized.xml", RESULTS / "robot" / "output.xml"),
    ("robot-randomized-xunit.xml", RESULTS / "robot" / "output.xml"),
]


@pytest.mark.parametrize("again, first", REORDERED)
def test_a_suite_run_again_in_another_order_keeps_every_identity(again, first):
    _f, stream, ours = _read(IDENT3 / again)
    _f, first_stream, theirs = _read(first)
    assert stream.info.framework == first_stream.info.framework
    ours, theirs = _by_identity(ours), _by_identity(theirs)
    assert set(ours) == set(theirs)
    for identity, case in ours.items():
        assert (case.status, len(case.attempts)) == (theirs[identity].status, len(theirs[identity].attempts)), _key(case)
    assert stream.totals.as_dict() == first_stream.totals.as_dict()


# ---------------------------------------------------------------------------- cucumber-js order
# cucumber*: cucumber-js 11.3.0's JSON and JUnit formatters on cucumber/ run in the features'
# order and with --order random:3, which runs the rows of 'paying apples' (an outline whose title
# has no <placeholder>: its rows share the name) as #1.2, #1.3, #1.1. The second row fails.


def _rows(name: str) -> dict:
    _f, _s, cases = _read(IDENT3 / name)
    return {_key(c): c.status for c in cases}


def test_cucumber_js_outline_rows_keep_their_identities_in_any_order():
    expected = {
        ("cucumber", "Apples", "paying apples", None): PASSED,
        ("cucumber", "Apples", "paying apples", "[1]"): FAILED,
        ("cucumber", "Apples", "paying apples", "[2]"): PASSED,
        ("cucumber", "Apples", "paying pears", None): PASSED,
    }
    for name in ("cucumber.json", "cucumber-junit.xml", "cucumber-random.json", "cucumber-random-junit.xml"):
        assert _rows(name) == expected, name
