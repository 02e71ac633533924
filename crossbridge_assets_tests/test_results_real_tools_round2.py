"""Result readers against what the real tools wrote in more situations (fixtures/results/round2/,
written by regenerate-round2.sh there): pytest-rerunfailures, Robot Framework reruns and
--exitonfailure, Playwright's kinds of errors, retries and repeats, mocha --retries. Each file's
tests, statuses, attempts and messages as the tool's own terminal summary tells them, and the
files of one run agreeing with each other."""

from __future__ import annotations

from collections import Counter

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

ROUND2 = FIXTURES / "results" / "round2"


def _read(name: str):
    spec, stream, cases = read_report(ROUND2 / name)
    return spec.name, stream, cases


def _statuses(cases) -> dict[str, str]:
    return {c.identity: c.status for c in cases}


def _attempts(cases) -> dict[str, list[tuple[str, str | None]]]:
    return {c.identity: [(a.status, a.message) for a in c.attempts] for c in cases}


# ------------------------------------------------------------------- pytest-rerunfailures

_RERUN = "rerun (pytest's report keeps no failure for it)"

# pytest's summary of the --reruns 1 run: "2 failed, 4 passed, 3 errors, 8 rerun" counts reports
# (a failed call and a failed teardown of one test both); per test, as both files hold them:
_PYTEST_RERUNS = {
    "test_fails_then_passes_with_teardown_error": ERROR,  # passed when rerun, its teardown failed again
    "test_always_fails_with_teardown_error": ERROR,
    "test_setup_error_then_passes": PASSED,
    "test_setup_always_errors": ERROR,
    "test_value_error_not_rerun": FAILED,
    "test_connection_error_rerun": PASSED,
    "test_last_passes": PASSED,
}


def test_pytest_reruns_junit_keeps_every_run():
    """pytest --junitxml writes a rerun as a testcase without an outcome; a rerun's teardown error
    and the failed call before it stay one run (the failure, then the teardown's <error>)."""
    fmt, stream, cases = _read("pytest-reruns-junit.xml")
    assert fmt == "junit" and stream.info.framework == "pytest"
    assert {c.name: c.status for c in cases} == _PYTEST_RERUNS
    by_name = {c.name: c for c in cases}
    assert [(a.status, a.message) for a in by_name["test_always_fails_with_teardown_error"].attempts] == [
        (FAILED, _RERUN), (ERROR, "AssertionError: call fails\nassert False")]
    assert "RuntimeError: teardown broke" in by_name["test_always_fails_with_teardown_error"].final.stack_trace
    assert [a.status for a in by_name["test_fails_then_passes_with_teardown_error"].attempts] == [FAILED, ERROR]
    assert by_name["test_setup_error_then_passes"].flaky
    assert stream.info.properties["reruns"] == "6"  # six tests ran twice
    assert stream.totals.as_dict() == {"tests": 7, "passed": 3, "failures": 1, "errors": 3, "skipped": 0}


def test_pytest_reruns_json_agrees_with_the_junit_file():
    """pytest-json-report keeps one entry per test, each phase as the last run left it: a test
    whose last run passed keeps its outcome 'rerun' (flaky), and its earlier run is the failed
    attempt the JUnit file has (neither file keeps that run's failure). A test whose last run
    failed leaves no trace of its reruns there, so only those differ in attempts."""
    for name in ("pytest-reruns", "pytest-only-rerun"):
        _f, _s, junit = _read(f"{name}-junit.xml")
        fmt, stream, native = _read(f"{name}.json")
        assert fmt == "pytest-json-report"
        assert _statuses(native) == _statuses(junit)
        assert {c.name: c.status for c in native} == _PYTEST_RERUNS
        flaky = {c.identity for c in native if c.status == PASSED and len(c.attempts) > 1}
        assert flaky == {c.identity for c in junit if c.flaky}
        tries = {c.identity: [a.status for a in c.attempts] for c in junit if c.identity in flaky}
        assert {c.identity: [a.status for a in c.attempts] for c in native if c.identity in flaky} == tries
        assert stream.info.warnings == []


def test_pytest_only_rerun_reruns_matching_errors_only():
    """--reruns 2 --only-rerun ConnectionError: summary "3 failed, 3 passed, 3 errors, 4 rerun";
    the setup that always fails ran three times, the AssertionError and ValueError once."""
    _f, stream, cases = _read("pytest-only-rerun-junit.xml")
    runs = {c.name: [a.status for a in c.attempts] for c in cases}
    assert runs == {
        "test_fails_then_passes_with_teardown_error": [ERROR],  # call failed, then its teardown
        "test_always_fails_with_teardown_error": [ERROR],
        "test_setup_error_then_passes": [FAILED, PASSED],
        "test_setup_always_errors": [FAILED, FAILED, ERROR],
        "test_value_error_not_rerun": [FAILED],
        "test_connection_error_rerun": [FAILED, PASSED],
        "test_last_passes": [PASSED],
    }
    assert stream.info.properties["reruns"] == "4"


# ---------------------------------------------------------------------------- Robot Framework

def test_robot_rerunfailed_merge_keeps_the_earlier_runs():
    """rebot --merge of a run and its --rerunfailed run: "9 tests, 4 passed, 4 failed, 1 skipped";
    every rerun test has the first run's result before its own, the one failing in its setup too."""
    _f, stream, cases = _read("robot/merged.xml")
    runs = {c.name: [(a.status, a.message) for a in c.attempts] for c in cases}
    assert runs["Flaky On First Run"] == [(FAILED, "first run fails: 1 != 2"), (PASSED, None)]
    assert runs["Setup Fails"] == [(FAILED, "Setup failed:\ndatabase unreachable")] * 2
    assert runs["Customer Buys Pears"] == [(FAILED, "basket holds 2 pears: 2 != 5")] * 2
    assert len(runs["Later Skipped On Failure"]) == 1  # skipped: not rerun
    assert stream.totals.as_dict() == {"tests": 9, "passed": 4, "failures": 4, "errors": 0, "skipped": 1}
    assert stream.info.warnings == []


def test_robot_merged_xunit_agrees_with_the_merged_output():
    """rebot's --xunit file of the merge: the same tests and statuses; a failed test's earlier
    runs are in its message there too (a passing one has none written)."""
    _f, _s, native = _read("robot/merged.xml")
    _f, _s, xunit = _read("robot/merged-xunit.xml")
    assert _statuses(xunit) == _statuses(native)
    failed = {c.identity for c in native if c.status == FAILED}
    assert {i: a for i, a in _attempts(xunit).items() if i in failed} == {
        i: a for i, a in _attempts(native).items() if i in failed}


def test_robot_exitonfailure_fails_the_tests_it_did_not_run():
    """--exitonfailure: "9 tests, 1 passed, 7 failed, 1 skipped"; the tests after the first failure
    fail with robot's message (one tagged robot:skip-on-failure is skipped), in both files."""
    _f, stream, cases = _read("robot/exit.xml")
    _f, _s, xunit = _read("robot/exit-xunit.xml")
    stopped = [c.name for c in cases if c.final.message == "Failure occurred and exit-on-failure mode is in use."]
    assert stopped == ["Setup Fails", "Flaky On First Run", "Always Fails", "Passes", "Later Passes", "Later Fails"]
    assert stream.totals.as_dict() == {"tests": 9, "passed": 1, "failures": 7, "errors": 0, "skipped": 1}
    assert [(c.identity, c.status, c.final.message) for c in xunit] == [
        (c.identity, c.status, c.final.message) for c in cases]
    # Keywords with embedded arguments name no test: the names are the tests' own.
    assert [c.name for c in cases][:2] == ["Customer Buys Apples", "Customer Buys Pears"]


# --------------------------------------------------------------------------------- Playwright

# Playwright's list reporter: "5 failed, 2 flaky, 1 did not run, 1 passed". It has no errored
# tests: a thrown TypeError, a timeout and failed hooks are failed as a failed expect() is.
_PLAYWRIGHT_KINDS = {
    "expect fails": FAILED,
    "throws": FAILED,
    "times out": FAILED,
    "never runs its body": FAILED,  # beforeEach threw
    "first of two": FAILED,  # beforeAll threw
    "second of two": SKIPPED,
    "passes on its second try": PASSED,
    "throws on its first try": PASSED,
    "passes": PASSED,
}


def test_playwright_junit_errors_are_failures_as_playwright_calls_them():
    """Playwright's junit reporter writes <failure> for a failed expect() and <error> for every
    other error, flakyError for an earlier try that threw: read as failed, as its JSON has them."""
    raw = (ROUND2 / "js" / "playwright-kinds-junit-retries.xml").read_text(encoding="utf-8")
    assert raw.count("<error ") == 4 and raw.count("<flakyError ") == 1
    for name in ("playwright-kinds-junit.xml", "playwright-kinds-junit-retries.xml"):
        fmt, stream, cases = _read(f"js/{name}")
        assert fmt == "junit" and stream.info.framework == "playwright"
        assert {c.name: c.status for c in cases} == _PLAYWRIGHT_KINDS
        assert all(a.status != ERROR for c in cases for a in c.attempts)
        assert stream.totals.as_dict() == {"tests": 9, "passed": 3, "failures": 5, "errors": 0, "skipped": 1}
        # The file's own totals count the <error>s as errors: moved as the tests were.
        assert stream.info.declared == {"tests": 9, "failures": 5, "errors": 0, "skipped": 1}
        assert stream.info.warnings == []


def test_playwright_junit_json_and_ctrf_agree_on_identity_status_and_tries():
    _f, _s, junit = _read("js/playwright-kinds-junit-retries.xml")
    _f, _s, native = _read("js/playwright-kinds.json")
    _f, _s, ctrf = _read("js/ctrf-playwright-kinds.json")
    assert _statuses(junit) == _statuses(native) == _statuses(ctrf)
    tries = {c.identity: [a.status for a in c.attempts] for c in native}
    assert {c.identity: [a.status for a in c.attempts] for c in junit} == tries
    assert {c.identity: [a.status for a in c.attempts] for c in ctrf} == tries
    # Without includeRetries the junit file keeps the last try only.
    _f, _s, last_only = _read("js/playwright-kinds-junit.xml")
    assert _statuses(last_only) == _statuses(native)


def test_ctrf_flags_are_spelled_as_json_spells_them():
    """The CTRF file's "flaky": true is the property "true", as the Playwright JSON reader has it."""
    _f, _s, native = _read("js/playwright-kinds.json")
    _f, _s, ctrf = _read("js/ctrf-playwright-kinds.json")
    flaky = {c.identity: c.properties["flaky"] for c in native if "flaky" in c.properties}
    assert flaky and {c.identity: c.properties["flaky"] for c in ctrf if "flaky" in c.properties} == flaky
    assert set(flaky.values()) == {"true"}


def test_playwright_repeat_each_runs_are_tests_of_one_identity():
    """--repeat-each 2: "3 failed, 3 passed". Neither file names the repeat: the JSON lists a
    spec's repeats side by side, the junit file writes the spec file's <testsuite> once a repeat.
    Each run is one test of the same identity (the same test's history); a
    describe.configure({retries: 1}) test has both its tries in each."""
    for name in ("playwright-repeat.json", "playwright-repeat-junit.xml"):
        _f, stream, cases = _read(f"js/{name}")
        assert Counter((c.name, c.parameters, c.status) for c in cases) == Counter({
            ("passes every time", "[api]", PASSED): 2,
            ("fails on the second repeat", "[api]", PASSED): 1,
            ("fails on the second repeat", "[api]", FAILED): 1,
            ("fails every try", "[api]", FAILED): 2,
        })
        assert all(len(c.attempts) == 2 for c in cases if c.name == "fails every try")
        assert len({c.identity for c in cases}) == 3
        assert stream.totals.as_dict() == {"tests": 6, "passed": 3, "failures": 3, "errors": 0, "skipped": 0}


# -------------------------------------------------------------------------------------- mocha

def test_mocha_retries_in_the_three_reporters():
    """mocha --retries 2: "4 passing, 1 failing". Only mocha's JSON reporter writes how many tries
    a test took (currentRetry); the three agree on identities and statuses."""
    _f, _s, native = _read("js/mocha-retries.json")
    _f, _s, awesome = _read("js/mochawesome-retries.json")
    _f, junit_stream, junit = _read("js/mocha-retries-junit.xml")
    assert junit_stream.info.framework == "mocha"
    assert _statuses(native) == _statuses(awesome) == _statuses(junit)
    by_name = {c.name: c for c in native}
    assert [a.status for a in by_name["syncs with the server"].attempts] == [FAILED, PASSED]
    assert by_name["syncs with the server"].flaky
    assert [a.status for a in by_name["applies a voucher"].attempts] == [FAILED, FAILED, FAILED]
    assert by_name["applies a voucher"].final.message == "voucher rejected"
    assert {c.suite for c in junit} == {"", "cart", "cart checkout"}
