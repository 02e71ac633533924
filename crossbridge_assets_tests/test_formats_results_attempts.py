"""Times as test runners write them, and reruns read as attempts of one test: pytest-rerunfailures
through pytest-json-report, rebot --merge, TestNG's RetryAnalyzer. The fixtures come from the real
tools (fixtures/results/regenerate.sh)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.formats._common import parse_timestamp
from crossbridge_assets.model import ERROR, FAILED, PASSED
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"


def _utc(*args: int, hours: float = 0) -> datetime:
    return datetime(*args, tzinfo=timezone(timedelta(hours=hours)))


# ---------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    "text, expected",
    [
        # TestNG 7: "yyyy-MM-dd'T'HH:mm:ss z" in the JVM's zone; TestNG 6: a literal 'Z'.
        ("2023-03-01T10:00:00 UTC", _utc(2023, 3, 1, 10)),
        ("2023-03-01T10:00:00 GMT", _utc(2023, 3, 1, 10)),
        ("2023-03-01T10:00:00Z", _utc(2023, 3, 1, 10)),
        ("2023-03-01T10:00:00 JST", _utc(2023, 3, 1, 10, hours=9)),
        ("2023-07-01T10:00:00 CEST", _utc(2023, 7, 1, 10, hours=2)),
        ("2023-03-01T10:00:00 PST", _utc(2023, 3, 1, 10, hours=-8)),
        # Java's name for a zone that has no short one.
        ("2023-03-01T10:00:00 GMT+05:30", _utc(2023, 3, 1, 10, hours=5.5)),
        ("2023-03-01T10:00:00.1234567 utc", _utc(2023, 3, 1, 10).replace(microsecond=123456)),
        ("2023-03-01 10:00:00", _utc(2023, 3, 1, 10)),
    ],
)
def test_times_with_a_zone_name(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["2023-03-01T10:00:00 CST", "2023-03-01T10:00:00 IST", "2023-03-01T10:00:00 XYZT"])
def test_a_zone_name_of_several_offsets_gives_no_time_rather_than_a_wrong_one(text):
    # CST is Chicago's and Shanghai's, IST India's, Ireland's and Israel's.
    assert parse_timestamp(text) is None


@pytest.mark.parametrize("value", [1e308, -1e308, float("nan"), float("inf"), float("-inf"), 10**400, -(10**400)])
def test_epoch_numbers_out_of_range_give_no_time(value):
    assert parse_timestamp(value) is None
    assert parse_timestamp(1_700_000_000_123) == _utc(2023, 11, 14, 22, 13, 20).replace(microsecond=123000)


def test_a_report_whose_start_is_out_of_range_is_read_without_it(tmp_path):
    data = json.loads((RESULTS / "pytest-json-report.json").read_text())
    data["created"] = 1e308
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    _spec, stream, cases = read_report(path)
    assert stream.info.started_at is None and len(cases) == 8


# ---------------------------------------------------------------------------- pytest-rerunfailures


def _by_name(cases):
    return {(c.name, c.parameters): c for c in cases}


def test_pytest_json_report_reruns_are_attempts():
    # sample_suite/rerun_tests.py run with --reruns 1.
    _spec, stream, cases = read_report(RESULTS / "pytest-rerun.json")
    by_name = _by_name(cases)
    flaky = by_name[("test_flaky", None)]
    # pytest-json-report leaves the outcome "rerun" on a test that passed when run again.
    assert flaky.properties["outcome"] == "rerun"
    assert flaky.status == PASSED and flaky.flaky
    assert [a.status for a in flaky.attempts] == [FAILED, PASSED]
    # Its call phase was run again: the failure the first run had is not in the file.
    assert flaky.final.duration is not None and flaky.attempts[0].message is None

    # The first run failed in its call, the rerun in its setup: the call phase the rerun never
    # reached is left as the first run wrote it ("rerun"), with its failure.
    errored = by_name[("test_fails_then_setup_errors", None)]
    assert errored.status == ERROR and not errored.flaky
    first, final = errored.attempts
    assert (first.status, first.message.splitlines()[0]) == (FAILED, "AssertionError: call fails first")
    assert "call fails first" in first.stack_trace and first.duration is not None
    assert (final.status, final.failure_type, final.message) == (ERROR, "setup failed", "RuntimeError: service gone on the rerun")

    # pytest-json-report overwrites each phase with the last run: a test that failed every time
    # reads as one failure.
    always = by_name[("test_always_fails", None)]
    assert always.status == FAILED and always.final.message.startswith("AssertionError: fails every time")

    assert stream.totals.as_dict() == {"tests": 7, "passed": 5, "failures": 1, "errors": 1, "skipped": 0}
    assert stream.info.declared == {"tests": 7, "failures": 1, "errors": 1, "skipped": 0}
    assert stream.info.warnings == []


@pytest.mark.parametrize(
    "nodeid, expected",
    [
        ("tests/test_p.py::test_connect[::1]", ("tests.test_p", "test_connect", "[::1]")),
        ("a.py::TestX::test_y[a::b]", ("a.TestX", "test_y", "[a::b]")),
        ("a.py::TestX::Inner::test_z[x[1]::y]", ("a.TestX.Inner", "test_z", "[x[1]::y]")),
        ("tests/test_a.py::TestX::test_y[1-2]", ("tests.test_a.TestX", "test_y", "[1-2]")),
        ("tests/test_p.py::test_connect[a.b/c]", ("tests.test_p", "test_connect", "[a.b/c]")),
        ("tests/test_a.py", ("", "tests.test_a", None)),
    ],
)
def test_pytest_nodeid_splits_only_between_names(nodeid, expected):
    from crossbridge_assets.formats.pytest_json import split_nodeid

    assert split_nodeid(nodeid) == expected


def test_pytest_parameters_holding_double_colons_have_one_identity_in_both_reports():
    # pytest --junitxml and pytest-json-report from the same run.
    _s, _st, from_xml = read_report(RESULTS / "pytest-rerun-junit.xml")
    _s, _st, from_json = read_report(RESULTS / "pytest-rerun.json")
    assert {c.identity for c in from_xml} == {c.identity for c in from_json}
    assert {(c.suite, c.name, c.parameters) for c in from_json} >= {
        ("rerun_tests", "test_connect", "[::1]"),
        ("rerun_tests", "test_connect", "[a.b/c]"),
        ("rerun_tests.TestPool", "test_acquire", "[a::b]"),
    }
