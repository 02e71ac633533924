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


# ---------------------------------------------------------------------------- Robot Framework

# robot's summary: "10 tests, 1 passed, 5 failed, 4 skipped" (robot.api.ExecutionResult agrees).
_ROBOT_EDGES = [
    ("Edges.Misc", "Test Teardown Fails", FAILED, "Teardown failed:\ntest teardown broke"),
    ("Edges.Misc", "Skip On Failure Tag", SKIPPED, None),
    ("Edges.Misc", "Templated", FAILED, "b != c"),
    ("Edges.Misc", "Ünïcødé Test Ñame", PASSED, None),
    ("Edges.Nested.Inner", "Inner Passes", FAILED, "Parent suite teardown failed:\nparent teardown broke"),
    ("Edges.Skipping Teardown", "Passes Then Skipped", SKIPPED, "Skipped in parent suite teardown:\nenvironment gone"),
    ("Edges.Skipping Teardown", "Fails Then Skipped", SKIPPED,
     "Skipped in parent suite teardown:\nenvironment gone\n\nEarlier message:\nown failure"),
    ("Edges.Teardowns", "Passes Before The Teardown", FAILED, "Parent suite teardown failed:\nsuite teardown broke"),
    ("Edges.Teardowns", "Fails Before The Teardown", FAILED,
     "own failure\n\nAlso parent suite teardown failed:\nsuite teardown broke"),
    ("Edges.Teardowns", "Skipped Before The Teardown", SKIPPED,
     "not now\n\nAlso parent suite teardown failed:\nsuite teardown broke"),
]


def test_robot_suite_teardown_fails_or_skips_the_suites_tests():
    """output.xml holds a suite's tests as they ended, before the suite's teardown ran; robot
    fails them when that teardown fails (skips them when it skips), in nested suites too."""
    fmt, stream, cases = _read("robot/output.xml")
    assert fmt == "robot"
    got = [(c.suite, c.name, c.status, c.final.message) for c in cases]
    expected = [(s, n, st, m if m is not None else got[i][3]) for i, (s, n, st, m) in enumerate(_ROBOT_EDGES)]
    assert got == expected
    assert all(c.final.status == c.status and len(c.attempts) == 1 for c in cases)
    assert stream.totals.as_dict() == {"tests": 10, "passed": 1, "failures": 5, "errors": 0, "skipped": 4}
    assert stream.info.warnings == []  # the file's own statistics agree


def test_robot_output_and_its_xunit_file_agree():
    """robot's --xunit file is written from its result model, with the teardowns applied."""
    _f, _s, native = _read("robot/output.xml")
    _f, _s, xunit = _read("robot/xunit.xml")
    assert [(c.identity, c.status, c.final.message) for c in native] == [
        (c.identity, c.status, c.final.message) for c in xunit
    ]


def test_robot_suite_teardown_applies_to_output_written_by_robot_only(tmp_path):
    """rebot writes the outcome into the tests already: its output is read as it is."""
    text = (MORE / "robot" / "output.xml").read_text(encoding="utf-8")
    assert 'generator="Robot ' in text
    path = tmp_path / "rebot.xml"
    path.write_text(text.replace('generator="Robot ', 'generator="Rebot ', 1), encoding="utf-8")
    _spec, _stream, cases = read_report(path)
    by_name = {c.name: c for c in cases}
    assert by_name["Passes Before The Teardown"].status == PASSED
    assert by_name["Passes Before The Teardown"].final.message is None


def test_robot_tasks_declare_their_totals():
    """--rpa: the statistics row is 'All Tasks'."""
    _f, stream, cases = _read("robot/rpa-output.xml")
    assert stream.info.properties["rpa"] == "true"
    assert _rows(cases) == [("Tasks", "Process Invoices", None, PASSED), ("Tasks", "Send Report", None, FAILED)]
    assert stream.info.declared == {"tests": 2, "failures": 1, "errors": 0, "skipped": 0}


# --------------------------------------------------------------------------------- JavaScript

def test_ctrf_messages_lose_the_terminal_colors_playwright_wrote():
    """The CTRF project's Playwright reporter copies Playwright's errors with their color codes;
    the same run's Playwright JSON gives the same tests the same messages, without them.
    Playwright's summary: 3 failed, 1 skipped, 2 did not run, 1 passed."""
    _f, _s, native = _read("js/playwright-serial.json")
    fmt, stream, ctrf = _read("js/ctrf-playwright-serial.json")
    assert fmt == "ctrf"
    assert "\\u001b[" in (MORE / "js" / "ctrf-playwright-serial.json").read_text(encoding="utf-8")
    messages = {c.identity: [(a.status, a.message) for a in c.attempts] for c in native}
    assert {c.identity: [(a.status, a.message) for a in c.attempts] for c in ctrf} == messages
    assert all("\x1b" not in (a.stack_trace or "") for c in ctrf for a in c.attempts)
    pays = next(c for c in ctrf if c.name == "pays")
    assert pays.final.message == "Error: expect(received).toBe(expected) // Object.is equality"
    assert stream.totals.as_dict() == {"tests": 7, "passed": 1, "failures": 3, "errors": 0, "skipped": 3}


def test_mocha_junit_failed_hooks_are_errors_as_in_mochas_json():
    """mocha-junit-reporter writes a failed hook as a testcase with a <failure>; mocha's JSON
    reporter (the same tests) has it as an errored test, and so does the JUnit file now."""
    _f, junit_stream, junit = _read("js/mocha-hooks-junit.xml")
    _f, _s, native = _read("js/mocha-hooks.json")
    assert junit_stream.info.framework == "mocha"
    assert {c.identity: c.status for c in junit} == {c.identity: c.status for c in native}
    assert sorted(c.name for c in junit if c.status == ERROR) == [
        '"after each" hook for "counts stock"',
        '"before all" hook for "one"',
    ]
    assert junit_stream.totals.as_dict() == {"tests": 7, "passed": 3, "failures": 2, "errors": 2, "skipped": 0}
    assert junit_stream.info.warnings == []  # the file's failures are moved to errors too
