"""JUnit XML as particular tools write it: a test read from a tool's JUnit file has the identity
the tool's own report format gives it (Playwright, mocha, pytest), PHPUnit's data sets are
parameters, Surefire's reruns keep their times, and a suite's own output stays on the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossbridge_assets.formats import open_report
from crossbridge_assets.model import FAILED, PASSED
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"
JS = RESULTS / "js"
JUNIT = FIXTURES / "junit"


def _read(path: Path):
    stream = open_report(path)
    cases = list(stream)
    return stream, cases


def _seen(cases) -> list[tuple]:
    return sorted((c.identity, c.suite, c.name, c.parameters, c.status) for c in cases)


# ---------------------------------------------------------------------------- Surefire reruns


def test_surefire_flaky_test_keeps_the_time_of_its_passing_run(corpus_dir):
    # Surefire writes the first passing run's time on a flaky test's <testcase> (time="0.683").
    _stream, (case,) = _read(corpus_dir / "results/junit/mikepenz__maven_surefire_flaky-surefire-report.xml")
    assert [(a.status, a.duration) for a in case.attempts] == [(FAILED, None), (PASSED, 0.683)]
    assert case.flaky and case.duration == 0.683


def test_surefire_test_failing_every_run_keeps_the_time_of_its_first_run():
    # Surefire writes the first run's time on a test that failed every run; its reruns have none.
    _stream, cases = _read(JUNIT / "surefire-rerun-errors.xml")
    saves = cases[0]
    assert [a.duration for a in saves.attempts] == [0.514, None, None]
    assert saves.duration == 0.514


def test_rerun_times_add_up_to_the_test_duration(tmp_path):
    p = tmp_path / "TEST-com.acme.T.xml"
    p.write_text(
        '<testsuite name="com.acme.T" tests="1"><testcase name="t" classname="com.acme.T" time="0.2">'
        '<flakyFailure message="timeout" type="java.util.concurrent.TimeoutException" time="1.5"/>'
        "</testcase></testsuite>"
    )
    _stream, (case,) = _read(p)
    assert [(a.status, a.duration) for a in case.attempts] == [(FAILED, 1.5), (PASSED, 0.2)]
    assert case.duration == pytest.approx(1.7)
