"""One test, one identity, whichever of a tool's reporters wrote the file: a run's own report
and the JUnit-style file the same tool wrote for the same run (fixtures/results/<tool>/, written
by the real tools: regenerate.sh) give every test the same framework, suite, name, parameters
and status, and times and messages that agree."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"
ROBOT = RESULTS / "robot"


def _read(path: Path):
    spec, stream, cases = read_report(path)
    return spec.name, stream, cases


def _key(case) -> tuple:
    return case.framework, case.suite, case.name, case.parameters


def _by_identity(cases) -> dict:
    by_id = {c.identity: c for c in cases}
    assert len(by_id) == len(cases), "every test has an identity of its own"
    return by_id


def _assert_same_tests(junit, native, seconds: float, told_differently: bool = False) -> None:
    """Both files hold the same tests, each with the same identity fields and status, the same
    message, and durations no further apart than `seconds`. `told_differently`: a failure's
    message in the JUnit file is only the first line of the error, which the native file's
    message holds."""
    ours, theirs = _by_identity(junit), _by_identity(native)
    assert sorted(map(_key, ours.values()), key=repr) == sorted(map(_key, theirs.values()), key=repr)
    for identity, case in ours.items():
        other = theirs[identity]
        assert case.status == other.status, _key(case)
        if told_differently and case.status == FAILED:
            assert case.final.message.splitlines()[0] in other.final.message, _key(case)
        else:
            assert case.final.message == other.final.message, _key(case)
        if other.duration is None:
            assert case.duration is None, _key(case)
        else:
            assert abs(case.duration - other.duration) <= seconds, _key(case)


# ---------------------------------------------------------------------------- Robot Framework
# robot/output.xml and robot/xunit.xml: `robot --output --xunit` (RF 7.5) on robot/Shop, one run.


def test_robot_xunit_gives_every_test_its_output_xml_identity():
    fmt, stream, junit = _read(ROBOT / "xunit.xml")
    _f, native_stream, native = _read(ROBOT / "output.xml")
    assert (fmt, stream.info.framework) == ("junit", "robot")
    _assert_same_tests(junit, native, seconds=0.0006)  # RF writes '%.3f' seconds
    assert stream.totals.as_dict() == native_stream.totals.as_dict() == {
        "tests": 7, "passed": 4, "failures": 2, "errors": 0, "skipped": 1,
    }
    cases = {c.name: c for c in junit}
    # Nested suites are the dotted full name Robot gives them; a suite's own dots stay.
    assert cases["Huge Payment"].suite == "Shop.Checkout.Payment"
    assert cases["Refund Order [partial]"].suite == "Shop.Checkout.V1.2 Refunds"
    # Robot has no parameters: brackets at the end of a name are the name's.
    assert cases["Refund Order [partial]"].parameters is None
    # Data-driven (Test Template) tests are tests of their own, each with its own result.
    assert {n: cases[n].status for n in ("Small Payment", "Zero Payment", "Huge Payment")} == {
        "Small Payment": PASSED, "Zero Payment": PASSED, "Huge Payment": FAILED,
    }
    assert (cases["Skip Until Ready"].status, cases["Skip Until Ready"].final.message) == (SKIPPED, "not ready yet")


def test_robot_xunit_carries_no_tags_the_output_does():
    # RF's xunit writer writes no tags: a test's tags come from output.xml only (a test-management
    # id in the name is found in both).
    _f, _s, junit = _read(ROBOT / "xunit.xml")
    _f, _s, native = _read(ROBOT / "output.xml")
    tags = {c.name: c.tags for c in native}
    assert tags["Add Item"] == ["C4001", "shop", "smoke"] and tags["Remove Missing Item"] == ["PROJ-12", "shop"]
    assert all(c.tags == [] for c in junit)


def test_robot_xunit_of_a_merged_output_keeps_the_earlier_results():
    # robot/xunit-merged.xml: rebot --xunit of robot-output-merged.xml (a run and a rerun of its
    # failed tests merged by rebot --merge). A failed test's message is rebot's HTML merge message.
    _f, stream, junit = _read(ROBOT / "xunit-merged.xml")
    _f, _s, native = _read(RESULTS / "robot-output-merged.xml")
    assert stream.info.framework == "robot"
    _assert_same_tests(junit, native, seconds=0.0006)
    failing = {c.name: c for c in junit}["Failing Test"]
    assert [a.status for a in failing.attempts] == [FAILED, FAILED]
    assert [a.message for a in failing.attempts] == ["apples != oranges", "apples != oranges"]
    # A merged test that passed has no message in the xunit file, so no earlier attempts either.
    flaky = {c.name: c for c in junit}["Flaky Test"]
    assert flaky.status == PASSED and len(flaky.attempts) == 1


# An xunit file as RF 4.1.3 writes it (robot --xunit on robot/Shop): one flat <testsuite>, no
# timestamp (RF 3.2 writes the same root). Cut to three testcases, the last one's suite, name
# and outcome taken from other tests of the run.
RF4_XUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Shop" tests="3" errors="0" failures="1" skipped="1" time="0.017">
<testcase classname="Shop.Cart" name="Add Item" time="0.000">
</testcase>
<testcase classname="Shop.Cart" name="Remove Missing Item" time="0.001">
<failure message="apples != oranges" type="AssertionError"/>
</testcase>
<testcase classname="Shop.Checkout.V1.2 Refunds" name="Refund Order [partial]" time="0.000">
<skipped message="not ready yet" type="SkipExecution"/>
</testcase>
</testsuite>
"""


def test_robot_xunit_of_robot_4_is_read_as_robot(tmp_path):
    path = tmp_path / "xunit.xml"
    path.write_text(RF4_XUNIT)
    _f, stream, cases = _read(path)
    assert stream.info.framework == "robot"
    assert [_key(c) for c in cases] == [
        ("robot", "Shop.Cart", "Add Item", None),
        ("robot", "Shop.Cart", "Remove Missing Item", None),
        ("robot", "Shop.Checkout.V1.2 Refunds", "Refund Order [partial]", None),
    ]
    assert [c.status for c in cases] == [PASSED, FAILED, SKIPPED]


def test_a_root_that_counts_errors_is_not_robots(tmp_path):
    # Robot writes errors="0" always: a root of the same attributes with errors is another tool's.
    path = tmp_path / "xunit.xml"
    path.write_text(RF4_XUNIT.replace('errors="0"', 'errors="1"'))
    _f, stream, cases = _read(path)
    assert stream.info.framework == "junit"
    assert _key(cases[2]) == ("junit", "Shop.Checkout.V1.2 Refunds", "Refund Order ", "[partial]")


# ---------------------------------------------------------------------------- cucumber-js
# js/cucumber-reporters*.{json,xml}: cucumber-js 11.3 (its JUnit formatter is
# @cucumber/junit-xml-formatter) and cucumber-js 10.9 (its own JUnit formatter), each with
# --format json and --format junit on one run of js/cucumber-reporters (js/regenerate-js.sh).
JS = RESULTS / "js"
CUCUMBER_RUNS = [
    ("cucumber-reporters-junit.xml", "cucumber-reporters.json", "only paid carts are refunded - refunding a paid cart"),
    ("cucumber10-reporters-junit.xml", "cucumber10-reporters.json", "only paid carts are refunded: refunding a paid cart"),
]


@pytest.mark.parametrize("junit_name, json_name, rule_name", CUCUMBER_RUNS)
def test_cucumber_js_junit_gives_every_scenario_its_json_identity(junit_name, json_name, rule_name):
    fmt, stream, junit = _read(JS / junit_name)
    _f, native_stream, native = _read(JS / json_name)
    assert (fmt, stream.info.framework) == ("junit", "cucumber")
    # A Rule's scenario: the JUnit formatters put the Rule's name before the scenario's, with a
    # separator a title may hold too; the JSON formatter does not name the Rule (its id does).
    rule_json = next(c for c in native if c.name == "refunding a paid cart")
    rule_junit = next(c for c in junit if c.name == rule_name)
    assert (rule_json.suite, rule_json.parameters) == ("Refunds", None)
    assert rule_junit.status == rule_json.status == PASSED
    junit = [c for c in junit if c is not rule_junit]
    native = [c for c in native if c is not rule_json]
    # The JUnit file has the error's message, the JSON file the error's text after the failed
    # step's or hook's name. cucumber-js 10 times a scenario as the sum of its steps, as the JSON
    # does; 11.1 on time the whole scenario, in milliseconds.
    _assert_same_tests(junit, native, seconds=0.005, told_differently=True)
    assert stream.totals.as_dict() == native_stream.totals.as_dict() == {
        "tests": 12, "passed": 7, "failures": 3, "errors": 0, "skipped": 2,
    }
    # cucumber-js counts pending and undefined scenarios as failures in its JUnit root: declared
    # as read, the totals agree.
    assert stream.info.warnings == []


@pytest.mark.parametrize("junit_name, json_name, _rule", CUCUMBER_RUNS)
def test_cucumber_js_scenarios_by_outcome(junit_name, json_name, _rule):
    for name in (junit_name, json_name):
        _f, _s, cases = _read(JS / name)
        by_name = {(c.name, c.parameters): c for c in cases}
        # Pending and undefined steps: skipped, as the JSON reading says, not failed.
        assert by_name[("paying with a voucher", None)].status == SKIPPED, name
        assert by_name[("paying with a voucher", None)].final.message == "pending steps", name
        assert by_name[("paying by phone", None)].final.message == "undefined steps", name
        # A failing After hook fails a scenario whose steps passed.
        audit = by_name[("paying with an audit", None)]
        assert audit.status == FAILED and "audit log unreachable" in audit.final.message, name
        # Outline rows: each its own test, by the row's name or, for an outline whose title has no
        # <placeholder>, by its place among the repeats of that title.
        assert {p: by_name[("paying apples", p)].status for p in (None, "[1]")} == {None: PASSED, "[1]": PASSED}
        assert [by_name[(f"paying {n} apples", None)].status for n in (1, 2, 3)] == [PASSED, PASSED, FAILED]
        # --retry: both formatters write a retried scenario's last attempt only.
        assert len(by_name[("paying twice", None)].attempts) == 1


def test_cucumber_json_names_hooks_and_keeps_rules_out_of_the_parameters():
    _f, _s, cases = _read(JS / "cucumber-reporters.json")
    by_name = {(c.name, c.parameters): c for c in cases}
    # cucumber-js writes hooks as hidden steps named by their keyword only.
    assert by_name[("paying with an audit", None)].final.message == "after hook failed: Error: audit log unreachable"
    # 'refunds;only-paid-carts-are-refunded;refunding-a-paid-cart' is a Rule's scenario, not a row.
    assert ("refunding a paid cart", None) in by_name
    assert by_name[("paying 3 apples", None)].tags == ["shop", "PROJ-9"]


def test_cucumber_jvm_rule_scenarios_of_the_same_name_are_told_apart(corpus_dir):
    # cucumber-jvm's ids: 'feature;rule;scenario'. Two Rules hold scenarios of the same names.
    _f, _s, cases = _read(corpus_dir / "results/cucumber-json/cucumber-jsonfmt__failedish-combinations.ndjson.jvm.json")
    assert len({c.identity for c in cases}) == len(cases) == 9
    assert {c.parameters for c in cases} == {None, "[1]"}
    # Outline rows keep their row ids.
    _f, _s, rows = _read(corpus_dir / "results/cucumber-json/cucumber-jsonfmt__examples-tables.ndjson.jvm.json")
    assert sorted(c.parameters for c in rows)[:2] == ["[;2]", "[;3]"]


# ---------------------------------------------------------------------------- TestNG
# testng/: testng-results-shop.xml, and the files of TestNG 7.5's two JUnit reporters
# (JUnitReportReporter: TEST-<class>.xml; JUnitXMLReporter: one file per <test>) of the same run
# of testng/com/acme/ShopTest (regenerate.sh).
TESTNG = RESULTS / "testng"


@pytest.mark.parametrize("name", ["TEST-com.acme.ShopTest.xml", "junitxml-command-line-test.xml"])
def test_testng_junit_reporters_give_the_identities_and_statuses_of_testng_results(name):
    fmt, stream, junit = _read(TESTNG / name)
    _f, native_stream, native = _read(TESTNG / "testng-results-shop.xml")
    assert (fmt, stream.info.framework) == ("junit", "testng")
    # The JUnit reporters name an invocation by its method only: a data provider's invocations
    # and a retried invocation's entries share a name there. Every other test is one of
    # testng-results.xml with the same identity, status and time.
    seen = Counter((c.framework, c.suite, c.name, c.status) for c in junit)
    assert seen == Counter((c.framework, c.suite, c.name, c.status) for c in native)
    names = Counter(c.name for c in junit)
    ours = {c.name: c for c in junit if names[c.name] == 1}
    theirs = {c.name: c for c in native}
    assert sorted(ours) == ["checkout", "giftWrap", "openCart", "refund", "refundReceipt"]
    for test, case in ours.items():
        assert case.identity == theirs[test].identity, test
        assert abs(case.duration - theirs[test].duration) <= 0.0005, test
    # Not an AssertionError: JUnitReportReporter writes an <error>, TestNG says FAIL.
    assert ours["checkout"].status == FAILED and ours["checkout"].final.message == "stock service down"
    assert ours["checkout"].final.message == theirs["checkout"].final.message
    assert stream.totals.as_dict() == native_stream.totals.as_dict()
    assert not [w for w in stream.info.warnings if "declared" in w]
    assert {c.parameters for c in native if c.name == "addItem"} == {"(apple, 1)", "(pear, 3)"}
    assert {c.parameters for c in junit if c.name == "addItem"} == {None}
