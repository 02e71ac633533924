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
