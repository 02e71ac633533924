"""The reports of Python test tools besides pytest's own reporters, read as each tool counts its
run (fixtures/results/pytools/, written by the real tools on small sample suites; the tools'
console summaries in summaries.txt there, and the regenerate script)."""

from __future__ import annotations

from collections import Counter

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets import model
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "pytools"


def _read(*names: str):
    streams, cases = [], []
    for name in names:
        _, stream, read = read_report(HERE / name)
        streams.append(stream)
        cases += read
    return streams, cases


def _counts(cases) -> dict:
    return dict(Counter(c.status for c in cases))


def _summary(prefix: str) -> list[str]:
    lines = (HERE / "summaries.txt").read_text(encoding="utf-8").splitlines()
    return [line[len(prefix) + 2:] for line in lines if line.startswith(prefix + ": ")]


# behave ------------------------------------------------------------------------------------------

BEHAVE_JUNIT = ("TESTS-cart.xml", "TESTS-hooks.xml")


@pytest.mark.parametrize(
    "version, summary, counts",
    [
        # behave 1.3 counts errors (an exception other than an assertion's, an undefined step, a
        # hook that raised) apart from failures; its JUnit files say <error> for them.
        ("1.3.3", "6 scenarios passed, 2 failed, 2 error, 1 hook_error, 2 skipped",
         {PASSED: 6, FAILED: 2, ERROR: 3, SKIPPED: 2}),
        # behave 1.2.6 has no errors: its summary counts them failed; its JUnit files still write
        # an <error> for an exception that is not an assertion's (a step's, a hook's).
        ("1.2.6", "6 scenarios passed, 5 failed, 2 skipped", {PASSED: 6, FAILED: 3, ERROR: 2, SKIPPED: 2}),
    ],
)
def test_behave_junit_counts_are_behaves(version, summary, counts):
    assert summary in _summary(f"behave {version}")
    streams, cases = _read(*(f"behave-{version}/{name}" for name in BEHAVE_JUNIT))
    assert _counts(cases) == counts
    for stream in streams:
        assert stream.info.warnings == []
        assert stream.info.framework == "junit"
    keys = {(c.suite, c.name, c.parameters) for c in cases}
    assert len(keys) == len(cases) == 13
    # An outline's rows are told apart by the name behave gives each ('-- @<table>.<row> <examples>').
    assert ("cart.Cart totals", "adding 2 plums -- @1.2 small", None) in keys
    assert ("hooks.Checkout hooks", "its before hook fails", None) in keys


@pytest.mark.parametrize(
    "version, summary, counts",
    [
        ("1.3.3", "6 scenarios passed, 2 failed, 2 error, 1 hook_error, 2 skipped",
         {PASSED: 6, FAILED: 2, ERROR: 3, SKIPPED: 2}),
        ("1.2.6", "6 scenarios passed, 5 failed, 2 skipped", {PASSED: 6, FAILED: 5, SKIPPED: 2}),
    ],
)
def test_behave_json_is_read_with_behaves_own_verdicts(version, summary, counts):
    # behave's -f json is Cucumber JSON's outline in a shape of its own: no uri or id, string tags,
    # step durations in seconds, a scenario status of behave's (error, hook_error, untested), and
    # 1.2.6 writes a traceback as a list of lines.
    assert summary in _summary(f"behave {version}")
    spec, stream, cases = read_report(HERE / f"behave-{version}" / "behave.json")
    assert spec.name == "cucumber-json"
    assert _counts(cases) == counts
    assert stream.info.warnings == []
    by_name = {c.name: c for c in cases}
    assert len(by_name) == len(cases) == 13
    wrong = by_name["a wrong total fails"]
    assert wrong.status == FAILED and wrong.suite == "Cart totals"
    assert wrong.attempts[0].message.startswith("step 'Then the cart holds 3 items' failed: ")
    assert "cart holds 2, expected 3" in wrong.attempts[0].message
    assert wrong.tags == ["shop", "C2001"]
    assert (wrong.file, wrong.line) == ("features/cart.feature", 12)
    # Seconds, as the JUnit file's time= (not Cucumber's nanoseconds).
    _, junit = _read(f"behave-{version}/TESTS-cart.xml")
    junit_time = {c.name: c.duration for c in junit}
    assert wrong.duration == pytest.approx(junit_time["a wrong total fails"], abs=5e-5)
    assert by_name["skipped by its tag"].status == SKIPPED
    assert by_name["skipped by a hook"].status == SKIPPED
    hook = by_name["its before hook fails"]
    assert hook.status == (ERROR if version == "1.3.3" else FAILED)
    assert hook.attempts[0].message.startswith("hook error")
    raised = by_name["a step raises an error"]
    assert raised.status == (ERROR if version == "1.3.3" else FAILED)
    if version == "1.2.6":  # the traceback's last line is the message
        assert raised.attempts[0].message.endswith("ConnectionError: payment service unreachable")
        assert raised.attempts[0].stack_trace.startswith("Traceback (most recent call last):\n")
    # Each scenario is there under the name behave's JUnit file gives it.
    assert set(by_name) == set(junit_time) | {c.name for c in _read(f"behave-{version}/TESTS-hooks.xml")[1]}


@pytest.mark.parametrize("version", ["1.3.3", "1.2.6"])
def test_behave_junit_scenario_tags_are_read(version):
    # behave writes a scenario's tags in its <system-out> only, above the scenario's keyword: the
    # same tags (a TestRail id among them) as the JSON formatter's scenario (which adds the feature's).
    _, cases = _read(*(f"behave-{version}/{name}" for name in BEHAVE_JUNIT))
    tags = {c.name: c.tags for c in cases if c.tags}
    assert tags == {
        "a wrong total fails": ["C2001"],
        "skipped by its tag": ["skip"],
        "its before hook fails": ["hookfail"],
        "skipped by a hook": ["manual"],
    }
    _, _, from_json = read_report(HERE / f"behave-{version}" / "behave.json")
    for case in from_json:
        assert [t for t in case.tags if t != "shop"] == tags.get(case.name, [])


def test_behave_junit_undefined_step_message_names_the_step():
    # behave 1.3 writes message="None" (type NoneType) on a scenario whose step is undefined.
    _, cases = _read("behave-1.3.3/TESTS-cart.xml")
    undefined = next(c for c in cases if c.name == "a step nobody wrote")
    assert undefined.attempts[0].message == "Failing step: Then the cart is gift wrapped ... undefined"


def test_behave_dry_run_scenario_with_an_undefined_step_was_not_run():
    # behave --dry-run counts every scenario untested, and writes the one with an undefined step
    # with a <failure type="undefined">, counted in both its failures= and skipped=.
    assert "0 scenarios passed, 0 failed, 0 skipped, 9 untested" in _summary("behave 1.2.6 --dry-run")
    (stream,), cases = _read("dry-run/TESTS-cart.xml")
    assert _counts(cases) == {SKIPPED: 9}
    undefined = next(c for c in cases if c.name == "a step nobody wrote")
    assert undefined.attempts[0].message == "Undefined Step: the cart is gift wrapped"
    assert stream.info.declared == {"tests": 9, "failures": 0, "errors": 0, "skipped": 9}
    assert stream.info.warnings == []


def test_behave_junit_without_hostname_is_not_robot_frameworks():
    # behave.ini's show_hostname=false leaves a root whose attributes are Robot's --xunit ones, in
    # Robot's order: errors="0" and no hostname. Its testcases' status= tell it apart.
    assert "1 scenario passed, 1 failed, 0 skipped" in _summary("behave 1.3.3 no-hostname")
    (stream,), cases = _read("no-hostname/TESTS-login.xml")
    assert stream.info.framework == "junit"
    assert [(c.identity, c.status) for c in cases] == [
        (model.test_identity("junit", "login.Login", "a known user logs in", None), PASSED),
        (model.test_identity("junit", "login.Login", "a wrong password is refused", None), FAILED),
    ]


# pytest-bdd --------------------------------------------------------------------------------------


def test_pytest_bdd_junit_counts_are_pytests():
    assert _summary("pytest-bdd") == ["3 failed, 3 passed, 1 skipped, 2 warnings"]
    (stream,), cases = _read("pytest-bdd-junit.xml")
    assert stream.info.framework == "pytest" and stream.info.warnings == []
    assert _counts(cases) == {PASSED: 3, FAILED: 3, SKIPPED: 1}


def test_pytest_bdd_cucumber_json_rows_keep_their_parametrize_ids():
    # pytest-bdd names a scenario's element by its pytest test ('test_adding_fruit[2-plums-3]'):
    # an outline's rows are told apart by pytest's parameters, not by their order, and so the
    # parameters are those of pytest's own reports of the run.
    spec, stream, cases = read_report(HERE / "pytest-bdd-cucumber.json")
    assert spec.name == "cucumber-json" and stream.info.warnings == []
    # pytest-bdd writes what ran through its call phase only: the skipped scenario is not there.
    assert _counts(cases) == {PASSED: 3, FAILED: 3}
    rows = {c.parameters: c.status for c in cases if c.name == "adding fruit"}
    _, junit = _read("pytest-bdd-junit.xml")
    assert rows == {c.parameters: c.status for c in junit if c.name == "test_adding_fruit"}
    assert rows == {"[1-pears-1]": PASSED, "[2-plums-3]": FAILED, "[10-melons-10]": PASSED}
    # Its error_message is pytest's failure text: the exception is the line marked 'E'.
    by_name = {c.name: c for c in cases}
    assert by_name["a wrong total fails"].attempts[0].message == (
        "step 'Then the cart holds 3 items' failed: AssertionError: cart holds 2, expected 3"
    )
    assert by_name["a step raises an error"].attempts[0].message == (
        "step 'When the payment service is down' failed: ConnectionError: payment service unreachable"
    )
    assert by_name["a wrong total fails"].tags == ["shop", "C2001"]


# unittest: unittest-xml-reporting (xmlrunner) and nose2 ------------------------------------------

UNITTEST_FILES = ["xmlrunner.xml", "nose2-junit.xml"]


@pytest.mark.parametrize("name", UNITTEST_FILES)
def test_unittest_reporters_count_as_unittest_does(name):
    # 'Ran 11 tests' + three fixtures that raised (setUpClass, tearDownClass, setUpModule: each one
    # of unittest's errors, no test of its 'Ran'); failures=2 and the unexpected success, which
    # fails unittest's run (pytest counts it a failure too); errors=6; skipped=1 and the expected
    # failure (skipped, as pytest's xfailed).
    tool = name.split("-")[0].split(".")[0]
    assert _summary(tool) == [
        "Ran 11 tests",
        "FAILED (failures=2, errors=6, skipped=1, expected failures=1, unexpected successes=1)",
    ]
    (stream,), cases = _read(name)
    assert _counts(cases) == {PASSED: 3, FAILED: 3, ERROR: 6, SKIPPED: 2}
    assert stream.info.warnings == []
    assert stream.info.declared == {"tests": 14, "failures": 3, "errors": 6, "skipped": 2}
    fixed = next(c for c in cases if c.name == "test_fixed_bug")
    assert fixed.status == FAILED and "unexpected" in fixed.attempts[0].message.lower()


def _unittest_keys(name: str) -> dict:
    _, cases = _read(name)
    keys = {(c.suite, c.name, c.parameters): c for c in cases}
    assert len(keys) == len(cases)
    return keys


def test_unittest_fixture_and_import_failures_have_one_stable_identity():
    # xmlrunner puts a failed class or module fixture in a suite named after unittest's _ErrorHolder
    # and the run's time; nose2 splits its description at the last dot. Either is the fixture of
    # its class or module; a module that does not import is named by it, not by unittest's loader.
    xmlrunner, nose2 = _unittest_keys("xmlrunner.xml"), _unittest_keys("nose2-junit.xml")
    assert set(xmlrunner) == set(nose2)
    for key in (
        ("shop.test_cart.BrokenClassTest", "setUpClass", None),
        ("shop.test_cart.BrokenTearDownClassTest", "tearDownClass", None),
        ("shop.test_module", "setUpModule", None),
        ("shop", "test_broken", None),
    ):
        assert xmlrunner[key].status == nose2[key].status == ERROR
    assert xmlrunner[("shop.test_cart.BrokenClassTest", "setUpClass", None)].attempts[0].message == (
        "database not reachable"
    )
    for key, case in xmlrunner.items():
        assert not any(ch.isdigit() for ch in case.suite), key  # no run's time in an identity
        assert case.status == nose2[key].status, key


def test_nose2_message_is_the_exception():
    # nose2 writes message="test failure" on every failure and error.
    cases = _unittest_keys("nose2-junit.xml")
    assert cases[("shop.test_cart.CartTest", "test_wrong_total", None)].attempts[0].message == (
        "AssertionError: 2 != 3 : wrong total"
    )
    assert cases[("shop.test_cart.TeardownTest", "test_passes_then_teardown_fails", None)].attempts[0].message == (
        "RuntimeError: could not close the cart"
    )
    # A skip's message is its reason, as xmlrunner's is (nose2 puts 'test skipped: ' before it).
    skipped = ("shop.test_cart.CartTest", "test_skipped", None)
    assert cases[skipped].attempts[0].message == _unittest_keys("xmlrunner.xml")[skipped].attempts[0].message == (
        "not on this platform"
    )


# pytest's JUnit variants -------------------------------------------------------------------------

PYTEST_SUMMARY = "5 failed, 10 passed, 1 skipped, 1 xfailed, 1 xpassed, 3 errors, 3 subtests passed"
PYTEST_VARIANTS = ["pytest-xunit2.xml", "pytest-xunit1.xml", "pytest-legacy.xml", "pytest-xdist.xml", "pytest-prefix.xml"]


def _by_nodeid_key(name: str) -> dict:
    _, cases = _read(name)
    keys = {(c.suite, c.name, c.parameters): c for c in cases}
    assert len(keys) == len(cases) == 19
    return keys


@pytest.mark.parametrize("name", PYTEST_VARIANTS)
def test_pytest_junit_variants_give_pytest_json_reports_tests(name):
    # pytest counts a test by its outcome and each subtest apart: 5 failed is 3 tests (one a strict
    # xfail that passed) and 2 failed subtests, one of a unittest subTest whose test it counts
    # passed (its testcase holds the subtest's <failure>); xpassed and xfailed are apart. Per test:
    # 10 passed (the xpassed one among them), 4 failed, 3 errors (two of a class-scoped fixture
    # that failed in setup), 2 skipped (the xfailed one among them), in every junit_family, with
    # pytest-xdist, and as pytest-json-report has them.
    label = name.removesuffix(".xml")
    assert _summary(label) == [PYTEST_SUMMARY]
    junit = _by_nodeid_key(name)
    assert _counts(junit.values()) == {PASSED: 10, FAILED: 4, ERROR: 3, SKIPPED: 2}
    reference = _by_nodeid_key("pytest-xdist.json")
    if name == "pytest-prefix.xml":  # --junit-prefix names a run apart (an environment, a shard)
        junit = {(suite.removeprefix("py311."), n, p): c for (suite, n, p), c in junit.items()}
    else:
        assert {k: c.identity for k, c in junit.items()} == {k: c.identity for k, c in reference.items()}
    assert {k: c.status for k, c in junit.items()} == {k: c.status for k, c in reference.items()}
    assert ("test_shop", "test_ids", "[a\\nb]") in junit  # pytest escapes the newline of an id
    assert ("test_shop", "test_custom_ids", "[second [id]]") in junit
    assert ("test_shop", "test_custom_ids", "[first::id]") in junit
    assert junit[("test_shop.TestCheckout", "test_refund", None)].status == ERROR
    assert junit[("test_shop", "test_strict_xfail_passes", None)].status == FAILED


@pytest.mark.parametrize("name", ["pytest-xunit1.xml", "pytest-legacy.xml"])
def test_pytest_junit_line_is_the_tests_own(name):
    # xunit1 and legacy write file= and line=, pytest's 0-based line of the test: one more is the
    # line of its 'def', as pytest-json-report's lineno (0-based too) is read.
    junit, reference = _by_nodeid_key(name), _by_nodeid_key("pytest-xdist.json")
    assert {k: (c.file, c.line) for k, c in junit.items()} == {k: (c.file, c.line) for k, c in reference.items()}
    source = (HERE / "pytest" / "test_shop.py").read_text(encoding="utf-8").splitlines()
    assert source[junit[("test_shop", "test_total", None)].line - 1] == "def test_total():"


def test_pytest_json_report_under_xdist_messages_are_the_tests():
    # pytest-xdist puts its worker's line ('[gw0] linux -- Python 3.11.7 ...') first in every
    # longrepr: a failure without a crash entry (a strict xfail that passed, subtests) took it for
    # its message, a different one on each worker.
    cases = _by_nodeid_key("pytest-xdist.json")
    for case in cases.values():
        for attempt in case.attempts:
            for text in (attempt.message, attempt.stack_trace):
                assert not (text or "").startswith("[gw"), case.name
    junit = _by_nodeid_key("pytest-xdist.xml")
    key = ("test_shop", "test_strict_xfail_passes", None)
    assert cases[key].attempts[0].message == junit[key].attempts[0].message == "[XPASS(strict)] fixed since"
    assert cases[("test_shop", "test_sub", None)].attempts[0].message == "contains 1 failed subtest"
    assert cases[("test_shop", "test_skipped", None)].attempts[0].message == "not here"
    # A unittest subTest that failed: the report keeps no failed phase, the test failed all the same.
    assert cases[("test_shop.UnitSub", "test_prices", None)].attempts[0].message.startswith("failed")


def test_pytest_xdist_worker_crash_is_one_error_in_both_reports():
    # A test under which its xdist worker died: pytest counts it failed; its JUnit file has an
    # <error> ('failed on setup with "worker 'gw1' crashed ..."'), and pytest-json-report a phase
    # named '???' that failed. Read alike from both: an error, its message the crash.
    assert _summary("pytest-crash") == ["1 failed, 2 passed"]
    (stream,), cases = _read("pytest-crash.json")
    junit = {c.identity: c for c in _read("pytest-crash.xml")[1]}
    assert {c.identity: c.status for c in cases} == {i: c.status for i, c in junit.items()}
    crashed = next(c for c in cases if c.name == "test_crash")
    assert crashed.status == ERROR and junit[crashed.identity].status == ERROR
    assert crashed.attempts[0].message.startswith("worker 'gw") and "crashed while running" in crashed.attempts[0].message
    assert crashed.attempts[0].failure_type == "worker crashed"
    assert stream.info.warnings == []
    assert stream.info.declared == {"tests": 3, "failures": 0, "errors": 1, "skipped": 0}


def test_pytest_json_report_with_the_subtests_plugin_is_no_error():
    # pytest 8 with pytest-subtests: pytest-json-report's outcome is the last report's category,
    # 'subtests passed' when a passing subtest came last. The test's phases passed: it passed, as
    # the file's summary counts (which, like the outcome, loses test_sub's failed subtest, kept
    # by the JUnit file of the same run).
    assert _summary("pytest-subtests") == ["2 failed, 3 passed, 4 subtests passed"]
    (stream,), cases = _read("pytest-subtests.json")
    statuses = {c.name: c.status for c in cases}
    assert statuses == {"test_sub": PASSED, "test_sub_all_pass": PASSED, "test_prices": FAILED}
    assert stream.info.warnings == []
    _, junit = _read("pytest-subtests.xml")
    assert {c.name: c.status for c in junit} == {**statuses, "test_sub": FAILED}
