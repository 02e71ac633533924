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
