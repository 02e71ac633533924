"""Result readers against what the real tools wrote in situations the other fixtures leave out
(fixtures/results/more/, written by regenerate-more.sh there): each file's tests, statuses,
attempts and messages as the tool's own terminal summary tells them."""

from __future__ import annotations

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

MORE = FIXTURES / "results" / "more"


def _read(name: str):
    spec, stream, cases = read_report(MORE / name)
    return spec.name, stream, cases


def _rows(cases) -> list[tuple]:
    return [(c.suite, c.name, c.parameters, c.status) for c in cases]


# ------------------------------------------------------------------------------------- pytest

# pytest's summary of the run: "3 failed, 1 passed, 2 skipped, 1 xpassed, 6 errors" counts a
# test whose call failed and whose teardown failed both as failed and as an error, a passed call
# with a failed teardown as passed and as an error, and each module collected twice
# (--doctest-modules). One test is one record here, in both files.
_PYTEST_EDGES = [
    ("", "skipped_module", None, SKIPPED),
    ("", "broken_import", None, ERROR),
    ("edge_cases", "edge_cases.add", None, FAILED),
    ("edge_cases", "test_passes_then_teardown_fails", None, ERROR),
    ("edge_cases", "test_fails_then_teardown_fails", None, ERROR),
    ("edge_cases", "test_reads", None, ERROR),
    ("edge_cases", "test_writes", None, ERROR),
    ("edge_cases", "test_xpass_strict", None, FAILED),
    ("edge_cases", "test_xpass_lenient", None, PASSED),
]


def test_pytest_junit_teardown_error_after_a_failure_is_the_same_run():
    """pytest --junitxml writes a test whose call failed and whose teardown then failed as two
    testcases (a <failure>, then an <error> 'failed on teardown with ...'): one run, not a rerun."""
    fmt, stream, cases = _read("pytest-edges-junit.xml")
    assert fmt == "junit" and stream.info.framework == "pytest"
    assert sorted(_rows(cases)) == sorted(_PYTEST_EDGES)
    case = next(c for c in cases if c.name == "test_fails_then_teardown_fails")
    assert len(case.attempts) == 1 and not case.flaky
    assert case.final.status == ERROR
    assert case.final.message.startswith("AssertionError: call fails")
    assert "RuntimeError: teardown broke" in case.final.stack_trace
    assert "reruns" not in stream.info.properties
    assert stream.totals.as_dict() == {"tests": 9, "passed": 1, "failures": 2, "errors": 5, "skipped": 1}


def test_pytest_json_module_skip_and_doubled_collectors():
    """pytest-json-report: a module skipped at import is a skipped test (pytest counts it, and so
    does its JUnit file); a collector reported twice (--doctest-modules) is one test."""
    fmt, stream, cases = _read("pytest-edges.json")
    assert fmt == "pytest-json-report"
    assert sorted(_rows(cases)) == sorted(_PYTEST_EDGES)
    skipped = next(c for c in cases if c.name == "skipped_module")
    assert skipped.final.message == "needs a GPU"
    assert stream.totals.as_dict() == {"tests": 9, "passed": 1, "failures": 2, "errors": 5, "skipped": 1}
    # The summary counts tests only: the collectors' tests are added to it, and then it agrees.
    assert stream.info.declared == {"tests": 9, "failures": 2, "errors": 5, "skipped": 1}
    assert stream.info.warnings == []


def test_pytest_json_messages_without_a_crash_and_teardown_errors():
    _fmt, _stream, cases = _read("pytest-edges.json")
    by_name = {c.name: c for c in cases}
    # No crash is written for these: the message comes from the report's text, as in --junitxml.
    assert by_name["test_xpass_strict"].final.message == "[XPASS(strict)] strict bug"
    assert by_name["edge_cases.add"].final.message  # a doctest's report starts with its lines
    both = by_name["test_fails_then_teardown_fails"].final
    assert both.message.startswith("AssertionError: call fails")
    assert "RuntimeError: teardown broke" in both.stack_trace


def test_pytest_both_reports_give_one_identity_per_test():
    _f, _s, junit = _read("pytest-edges-junit.xml")
    _f, _s, native = _read("pytest-edges.json")
    assert {c.identity: c.status for c in junit} == {c.identity: c.status for c in native}
    assert {c.identity: len(c.attempts) for c in junit} == {c.identity: len(c.attempts) for c in native}
