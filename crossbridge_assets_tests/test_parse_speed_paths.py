"""The readers' fast paths give what their full paths give: a JUnit classname that cannot be a
path skips the path pattern, a suite timestamp that sorts after the earliest is not parsed."""

from __future__ import annotations

from datetime import datetime, timezone

from crossbridge_assets.formats import open_report


def _junit(tmp_path, body: str):
    path = tmp_path / "report.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n{body}\n</testsuites>\n', encoding="utf-8")
    stream = open_report(path)
    cases = list(stream)
    return stream, cases


def test_classnames_that_are_paths_and_those_that_are_not(tmp_path):
    # Pester (Invoke-Pester -OutputFormat JUnitXml) names the class after the test file's full path.
    _stream, cases = _junit(tmp_path, """
  <testsuite name="s" tests="5">
    <testcase classname="D:\\a\\shop\\shop\\tests\\Cart.Tests.ps1" name="a"/>
    <testcase classname="/home/runner/work/shop/shop/tests/Cart.Tests.ps1" name="b"/>
    <testcase classname="com.example.CartTest" name="c"/>
    <testcase classname="C:relative.Thing" name="d"/>
    <testcase classname="x:y" name="e"/>
  </testsuite>""")
    suites = {c.name: c.suite for c in cases}
    assert suites["a"] == suites["b"] == "tests.Cart.Tests.ps1"
    assert suites["c"] == "com.example.CartTest"
    # A second character ':' without a separator after it is no drive path: a classname as written.
    assert suites["d"] == "C:relative.Thing"
    assert suites["e"] == "x:y"


def _started(tmp_path, *stamps: str | None):
    body = "\n".join(
        f'<testsuite name="s{i}" tests="1"{"" if s is None else f" timestamp={chr(34)}{s}{chr(34)}"}>'
        f'<testcase classname="c" name="t{i}"/></testsuite>'
        for i, s in enumerate(stamps)
    )
    stream, _cases = _junit(tmp_path, body)
    return stream.info.started_at


def test_the_run_starts_with_its_earliest_suite_in_any_order(tmp_path):
    utc = timezone.utc
    assert _started(tmp_path, "2024-06-11T10:00:05", "2024-06-11T10:00:01", "2024-06-11T10:00:09") == \
        datetime(2024, 6, 11, 10, 0, 1, tzinfo=utc)
    # A plain time that sorts first but is no time is passed over, as before.
    assert _started(tmp_path, "2024-06-11T10:00:05", "2024-00-11T10:00:01", "2024-06-11T10:00:07") == \
        datetime(2024, 6, 11, 10, 0, 5, tzinfo=utc)
    # An earlier time spelled with a zone, after plain ones; then a plain one before it.
    assert _started(tmp_path, "2024-06-11T10:00:05", "2024-06-11T11:00:00+02:00", "2024-06-11T10:00:06") == \
        datetime(2024, 6, 11, 9, 0, 0, tzinfo=utc)
    assert _started(tmp_path, "2024-06-11T10:00:05", "2024-06-11T11:00:00+02:00", "2024-06-11T08:59:59") == \
        datetime(2024, 6, 11, 8, 59, 59, tzinfo=utc)
    # Other lengths (fractions) and a space for the 'T' are compared as times.
    assert _started(tmp_path, "2024-06-11T10:00:05.5", "2024-06-11T10:00:05", "2024-06-11 10:00:04") == \
        datetime(2024, 6, 11, 10, 0, 4, tzinfo=utc)
    assert _started(tmp_path, "2024-06-11T10:00:05", None, "", "2024-06-11T10:00:04.250") == \
        datetime(2024, 6, 11, 10, 0, 4, 250000, tzinfo=utc)


def test_to_int_reads_digits_as_through_a_float():
    from crossbridge_assets.formats._common import to_float, to_int

    for text in ("0", "26", "007", "999999999999999", "1000000000000000", "12345678901234567890",
                 " 5", "1,000", "1.5", "-3", "", "\u00b2", "\u0663", "1e3", "nan"):
        f = to_float(text)
        assert to_int(text) == (int(f) if f is not None else None), text
    assert to_int("26") == 26 and type(to_int("26")) is int
