"""Failure clusters on reports written by real tools (the fixtures' regenerate scripts say which):
one session written in two formats gives each failure one cluster, and different failures of a
session stay apart."""

import pandas as pd
import pytest

from crossbridge_assets.analysis.clusters import cluster, parse
from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED
from crossbridge_assets.warehouse.insights import FAILURE_COLUMNS
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"


def failures_of(*reports) -> pd.DataFrame:
    """The failed attempts of each report as failure_frame reads them, one run a report."""
    rows = []
    for n, path in enumerate(reports):
        _, _, cases = read_report(path)
        for case in cases:
            for number, a in enumerate(case.attempts, start=1):
                if a.status in (FAILED, ERROR):
                    rows.append(dict(run_id=f"run{n}", project="shop", branch="main", build=str(n), ci_url=None,
                                     run_time=pd.Timestamp("2026-11-20", tz="UTC") + pd.Timedelta(hours=n),
                                     partition="2026-11-20", test_id=case.name, framework=case.framework,
                                     suite=case.suite, name=case.name, parameters=case.parameters, status=case.status,
                                     attempt=number, attempt_status=a.status, message=a.message,
                                     failure_type=a.failure_type, stack_trace=a.stack_trace))
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


@pytest.mark.parametrize(
    "reports",
    [
        # Playwright 1.5x: its JSON reporter and its JUnit reporter over one session; the JUnit
        # file types a timeout Error, the JSON says only that the test timed out.
        pytest.param(("round2/js/playwright-kinds.json", "round2/js/playwright-kinds-junit.xml"), id="playwright"),
        # pytest-rerunfailures: pytest-json-report and JUnit XML; a teardown failing after the
        # call failed is the call's failure, at the test's own frame.
        pytest.param(("round2/pytest-reruns.json", "round2/pytest-reruns-junit.xml"), id="pytest-reruns"),
        # Robot Framework's output.xml and the xUnit file it writes with it.
        pytest.param(("round2/robot/merged.xml", "round2/robot/merged-xunit.xml"), id="robot"),
        # TestNG's own results file and Surefire's report of the same run.
        pytest.param(("testng/testng-results-shop.xml", "testng/TEST-com.acme.ShopTest.xml"), id="testng"),
    ],
)
def test_one_session_in_two_formats_gives_each_failure_one_cluster(reports):
    failures = failures_of(*(RESULTS / r for r in reports))
    # Each test's last failed attempt: what both formats report alike (a rerun's earlier tries
    # are kept by some and not by others).
    final = failures.sort_values("attempt").groupby(["run_id", "test_id"]).tail(1)
    clusters, members = cluster(final)
    by_run = members.groupby("test_id")["run_id"].nunique()
    in_both = by_run[by_run == 2].index
    assert len(in_both) >= 2
    for test in in_both:
        its = members[members["test_id"] == test]
        assert its["cluster_id"].nunique() == 1, clusters[clusters["cluster_id"].isin(its["cluster_id"])]["signature"].tolist()
    # No cluster holds two tests of these sessions: each failed for a reason of its own.
    assert (clusters["tests"] == 1).all(), clusters[clusters["tests"] > 1]["signature"].tolist()


def test_the_same_assertion_in_two_test_classes_stays_two_clusters():
    """TestNG's JUnit reports of two suites: ShopTest.addItem and OrderTest.order fail with the same
    message 'pear out of stock expected [true] but found [false]', each in its own test method."""
    failures = failures_of(RESULTS / "testng" / "junitxml-command-line-test.xml",
                           RESULTS / "java" / "testng" / "junitxml-command-line-test.xml")
    clusters, _ = cluster(failures)
    pear = clusters[clusters["message_pattern"] == "pear out of stock expected [true] but found [false]"]
    assert sorted(pear["frame"]) == ["com.acme.ShopTest.addItem", "com.acme.orders.OrderTest.order"]


def test_a_timeout_names_no_duration():
    failures = failures_of(RESULTS / "round2/js/playwright-kinds.json", RESULTS / "round2/js/playwright-kinds-junit.xml")
    clusters, _ = cluster(failures)
    timeout = clusters[clusters["message_pattern"].str.startswith("Test timeout of")]
    assert timeout["signature"].tolist() == ["Error: Test timeout of <duration> exceeded."]
    assert timeout["occurrences"].tolist() == [2]


def test_a_projects_own_assertion_helper_is_not_the_frame_that_tells_the_cause():
    """TestNG's precheckins report (jenkinsci/testng-plugin-plugin): the project's own
    Assert.assertBoolean under FTOps.test; the test's frame is the one that tells."""
    trace = ("com.fakepkg.test.util.AssertException: Test Failed\n"
             "\tat com.fakepkg.test.util.Assert.assertBoolean(Assert.java:259)\n"
             "\tat com.fakepkg.test.util.Assert.assertTrue(Assert.java:57)\n"
             "\tat precheckins.FTOps.test(FTOps.java:449)\n"
             "\tat sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n")
    assert parse("testng", "com.fakepkg.test.util.AssertException", "Test Failed", trace).frame == "precheckins.FTOps.test"


@pytest.mark.parametrize(
    "message, trace, expected",
    [
        # rspec through rspec_junit_formatter.
        ("expected: 5\n     got: 4\n\n(compared using ==)",
         "Failure/Error: expect(2 + 2).to eq(5)\n\n  expected: 5\n       got: 4\n./spec/cart_spec.rb:9:in `block (2 levels) in <top (required)>'",
         ("", "expected: <n> / got: <n> / (compared using ==)", "cart_spec.rb:block (<n> levels) in <top (required)>")),
        # Cucumber-Ruby's JSON: "message (Class)".
        ("expected 0, got -2 (RuntimeError)",
         "expected 0, got -2 (RuntimeError)\n./features/step_definitions/steps.rb:9:in `/^(\\d+) apples are left$/'",
         ("RuntimeError", "expected <n>, got <n>", "steps.rb:/^(\\d+) apples are left$/")),
        # PHPUnit.
        ("Failed asserting that 3 matches expected 4.",
         "#0 /home/runner/work/shop/vendor/phpunit/phpunit/src/Framework/Assert.php(2024): assertEquals()\n"
         "#1 /home/runner/work/shop/tests/CartTest.php(21): Tests\\CartTest->testTotal()\n",
         ("", "Failed asserting that <n> matches expected <n>.", "CartTest.php:Tests\\CartTest->testTotal")),
    ],
)
def test_ruby_and_php_traces(message, trace, expected):
    p = parse("junit", None, message, trace)
    assert (p.failure_type, p.pattern, p.frame) == expected
