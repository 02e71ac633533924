"""Times as test runners write them, and reruns read as attempts of one test: pytest-rerunfailures
through pytest-json-report, rebot --merge, TestNG's RetryAnalyzer. The fixtures come from the real
tools (fixtures/results/regenerate.sh)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.formats._common import parse_timestamp
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
