"""Inputs found by mutation fuzzing of the readers (crossbridge_assets_tests/fuzz_readers.py),
minimized: each one either raised something other than FormatError or was accepted with values
no report may give (negative times and line numbers, more branches covered than there are).
Bad input is a FormatError naming the file and the reason; an accepted report is sane."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, open_report
from crossbridge_assets.model import STATUSES
from crossbridge_assets_tests.fuzz_readers import check_sane
from crossbridge_assets_tests.test_cli import run_cli

FIX = Path(__file__).parent / "fixtures"
BIG = "9" * 400  # an integer no float holds: JSON parsers give it as an int


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _read(tmp_path: Path, name: str, text: str | bytes):
    """The stream, read whole and checked as the fuzzer checks it."""
    stream = open_report(_write(tmp_path, name, text))
    check_sane(stream)  # reads it whole, raising AssertionError for an insane value
    return stream


def _cases(tmp_path: Path, name: str, text: str | bytes) -> list:
    stream = open_report(_write(tmp_path, name, text))
    cases = list(stream)
    for case in cases:
        assert case.status in STATUSES and isinstance(case.identity, str)
        for d in [case.duration, *(a.duration for a in case.attempts)]:
            assert d is None or (math.isfinite(d) and d >= 0), d
        assert case.line is None or case.line > 0
    assert stream.info.duration is None or (math.isfinite(stream.info.duration) and stream.info.duration >= 0)
    return cases


def _rejected(tmp_path: Path, name: str, text: str | bytes, *words: str) -> str:
    path = _write(tmp_path, name, text)
    with pytest.raises(FormatError) as exc:
        for _ in open_report(path):
            pass
    assert exc.value.path == str(path) and exc.value.reason
    for word in words:
        assert word in exc.value.reason
    return exc.value.reason


# ------------------------------------------------------------------ times


def test_time_helpers_refuse_negative_huge_and_overflowing_values():
    from crossbridge_assets.formats._common import parse_clock_duration, to_float, to_seconds

    assert to_float(int(BIG)) is None  # was OverflowError: int too large to convert to float
    assert to_seconds(-1) is None and to_seconds("-0.5") is None and to_seconds("nan") is None
    assert to_seconds(1500, 1e-3) == 1.5 and to_seconds("0,25") == 0.25
    assert to_seconds(400 * 86400) is None  # no test runs a year: junk, and sums stay finite
    assert parse_clock_duration("00:-5:00") is None and parse_clock_duration("-00:00:01") is None
    assert parse_clock_duration("1e308.00:00:00") is None  # was OverflowError (int days * 86400 + float)
    assert parse_clock_duration("1.02:03:04.5") == 93784.5


def test_junit_negative_time_and_line_are_unknown(tmp_path):
    # jenkinsci/junit-plugin's junit-report-bad-duration.xml writes time="-345345".
    cases = _cases(tmp_path, "junit.xml", """<testsuite name="s" time="-3">
<testcase classname="A" name="neg" time="-345345"/>
<testcase classname="A" name="line" time="0.5" file="a.py" line="-1"/>
<testcase classname="A" name="rerun" time="1"><failure/><rerunFailure time="-2"/></testcase>
</testsuite>""")
    assert [(c.name, c.duration, c.line) for c in cases] == [("neg", None, None), ("line", 0.5, None), ("rerun", 1.0, None)]
    assert [a.duration for a in cases[2].attempts] == [1.0, None]


def test_nunit_xunit_testng_robot_negative_times(tmp_path):
    nunit3 = """<test-run id="2"><test-suite type="TestFixture" name="F" fullname="N.F">
<test-case id="1" name="T" fullname="N.F.T" methodname="T" classname="N.F" result="Passed" duration="-7"/>
</test-suite></test-run>"""
    assert [c.duration for c in _cases(tmp_path, "nunit.xml", nunit3)] == [None]
    xunit = """<assemblies><assembly name="a.dll" time="-1"><collection>
<test name="N.C.T" type="N.C" method="T" time="-0.004" result="Pass"/></collection></assembly></assemblies>"""
    assert [c.duration for c in _cases(tmp_path, "xunit.xml", xunit)] == [None]
    testng = """<testng-results><suite name="S" duration-ms="-5"><test name="t"><class name="p.C">
<test-method status="PASS" name="m" duration-ms="-12" started-at="2023-01-01T00:00:00Z"/>
</class></test></suite></testng-results>"""
    assert [c.duration for c in _cases(tmp_path, "testng.xml", testng)] == [None]
    robot = """<robot generator="Robot 7.0"><suite id="s1" name="S" source="/s.robot">
<test id="s1-t1" name="T" line="-3"><status status="PASS" start="2024-01-01T00:00:00.000000" elapsed="-1.5"/></test>
<status status="PASS" start="2024-01-01T00:00:00.000000" elapsed="2"/></suite></robot>"""
    assert [(c.duration, c.line) for c in _cases(tmp_path, "output.xml", robot)] == [(None, None)]


def test_trx_negative_clock_duration(tmp_path):
    trx = """<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
<Results><UnitTestResult testId="1" testName="T" outcome="Passed" duration="00:-5:00.0"/></Results>
<TestDefinitions><UnitTest id="1" name="T"><TestMethod className="N.C" name="T"/></UnitTest></TestDefinitions>
</TestRun>"""
    assert [c.duration for c in _cases(tmp_path, "run.trx", trx)] == [None]


def test_json_results_negative_lines_and_times_and_huge_integers(tmp_path):
    pytest_json = ('{"exitcode": 0, "root": "/r", "summary": {"passed": 1}, "tests": [{"nodeid": "t.py::test_a",'
                   ' "lineno": -6, "outcome": "passed", "call": {"duration": -0.5, "outcome": "passed"}}]}')
    [case] = _cases(tmp_path, "report.json", pytest_json)
    assert case.line is None and case.duration == 0.0
    playwright = ('{"config": {"rootDir": "/r"}, "suites": [{"title": "a.spec.ts", "file": "a.spec.ts", "specs": [{'
                  '"title": "t", "file": "a.spec.ts", "line": -7, "tests": [{"projectName": "c", "status": "expected",'
                  ' "results": [{"status": "passed", "duration": -15, "retry": 0}]}]}]}], "errors": []}')
    [case] = _cases(tmp_path, "pw.json", playwright)
    assert case.line is None and case.duration is None
    cucumber = ('[{"uri": "a.feature", "name": "F", "keyword": "Feature", "elements": [{"name": "S", "line": -1,'
                ' "keyword": "Scenario", "type": "scenario", "steps": [{"keyword": "Given ", "name": "x",'
                ' "result": {"status": "passed", "duration": -1000}}]}]}]')
    [case] = _cases(tmp_path, "cucumber.json", cucumber)
    assert case.line is None and case.duration == 0.0
    mocha = ('{"stats": {"tests": 1, "passes": 1, "duration": -3}, "tests": [{"title": "t", "fullTitle": "s t",'
             ' "file": "a.js", "duration": -8, "err": {}}], "passes": [], "failures": [], "pending": []}')
    [case] = _cases(tmp_path, "mocha.json", mocha)
    assert case.duration is None
    ctrf = ('{"results": {"tool": {"name": "jest"}, "summary": {"tests": 1, "passed": 1, "failed": 0, "skipped": 0,'
            ' "pending": 0, "other": 0, "start": 0, "stop": 1}, "tests": [{"name": "t", "status": "passed",'
            ' "duration": -4, "line": -2}]}}')
    [case] = _cases(tmp_path, "ctrf.json", ctrf)
    assert case.line is None and case.duration is None


def test_pytest_json_values_of_another_type_are_read_as_text(tmp_path):
    # The reader takes pytest-json-report's values as text (str()); these raised TypeError.
    text = ('{"exitcode": 1, "root": "/r", "summary": {"failed": 1},'
            ' "collectors": [{"nodeid": "a.py", "outcome": {"x": 1}}, {"nodeid": {"n": 1}, "outcome": "failed"}],'
            ' "tests": [{"nodeid": "t.py::test_a", "outcome": "failed",'
            ' "call": {"outcome": "failed", "crash": {"message": "boom"}, "longrepr": "E boom"},'
            ' "teardown": {"outcome": "failed", "crash": {"message": ["not", "text"]}, "longrepr": "E td"}}]}')
    cases = _cases(tmp_path, "report.json", text)
    assert [(c.name, c.status) for c in cases] == [("{'n': 1}", "error"), ("test_a", "error")]
    assert cases[1].attempts[0].stack_trace == "E boom\n\n['not', 'text']\n\nE td"


def test_events_span_with_a_huge_integer_duration_is_skipped(tmp_path):
    # orjson refuses the line; the reader's fallback (the json module) gives a Python int.
    text = ('{"crossbridge_events": 1, "run": "r", "framework": "pytest"}\n'
            f'{{"kind": "test", "name": "t", "start": "2024-01-01T00:00:00+00:00", "duration": {BIG}, "span_id": "a"}}\n'
            '{"kind": "test", "name": "u", "start": "2024-01-01T00:00:00+00:00", "duration": 0.5, "span_id": "b"}\n')
    stream = _read(tmp_path, "ev.jsonl", text)
    assert stream.count == 1


# ------------------------------------------------------------------ coverage


def test_cobertura_condition_coverage_beyond_its_total_or_too_long_is_not_read(tmp_path):
    xml = f"""<coverage line-rate="1" branch-rate="1" version="1"><packages><package name="p"><classes>
<class name="a" filename="a.py"><lines>
<line number="1" hits="1" branch="true" condition-coverage="100% (99999999999999999999999999/2)"/>
<line number="2" hits="1" branch="true" condition-coverage="50% ({'9' * 5000}/2)"/>
<line number="3" hits="1" branch="true" condition-coverage="50% (1/2)"/>
</lines></class></classes></package></packages></coverage>"""
    stream = _read(tmp_path, "cobertura.xml", xml)
    assert stream.totals.branches_valid == 2 and stream.totals.branches_covered == 1


def test_jacoco_negative_and_huge_branch_counters(tmp_path):
    xml = """<report name="r"><sessioninfo id="s" start="1" dump="2"/><package name="p"><sourcefile name="A.java">
<line nr="1" mi="0" ci="1" mb="3" cb="-5"/>
<line nr="2" mi="0" ci="1" mb="99999999999999999999999999" cb="99999999999999999999999999"/>
</sourcefile></package></report>"""
    stream = _read(tmp_path, "jacoco.xml", xml)
    [fc] = open_report(tmp_path / "jacoco.xml").read_all()
    assert fc.branches[1] == (0, 3)  # was (-5, -2)
    assert 0 <= stream.totals.branches_covered <= stream.totals.branches_valid < 2**64


def test_istanbul_summary_counts_no_tool_writes_are_refused(tmp_path):
    block = '{"lines": {"total": %s, "covered": %s}, "branches": {"total": %s, "covered": %s}}'
    more = '{"total": %s, "a.js": %s}' % (block % (24, 15, 0, 4), block % (24, 15, 0, 4))
    _rejected(tmp_path, "coverage-summary.json", more, "4 branches covered of 0")
    negative = '{"total": %s}' % (block % (-24, 0, 0, 0))
    _rejected(tmp_path, "coverage-summary.json", negative, "never negative")


def test_coveragepy_json_summary_covering_more_than_its_statements_is_refused(tmp_path):
    text = ('{"meta": {"version": "7.3.0"}, "files": {"a.py": {"executed_lines": [1], "missing_lines": [],'
            ' "summary": {"num_statements": 0, "covered_lines": 8}}}, "totals": {"num_statements": 1, "covered_lines": 1}}')
    reason = _rejected(tmp_path, "coverage.json", text, "'a.py'", "8 lines covered of 0")
    assert "summary" in reason


@pytest.mark.parametrize("damage", [
    "UPDATE file SET path = NULL WHERE id = (SELECT min(id) FROM file)",
    "UPDATE arc SET tono = NULL",
])
def test_damaged_coveragepy_data_file_is_a_format_error(tmp_path, damage):
    path = tmp_path / ".coverage"
    shutil.copy(FIX / "coverage" / "python" / ".coverage", path)
    with sqlite3.connect(path) as db:
        db.execute(damage)
    db.close()
    with pytest.raises(FormatError) as exc:
        open_report(path).read_all()
    assert exc.value.path == str(path) and "not a readable coverage.py data file" in exc.value.reason


def test_coveragepy_data_file_with_a_flipped_byte_in_its_schema_is_a_format_error(tmp_path):
    # One bit flipped in the schema text on the first page: SQLite's error message quotes the
    # invalid UTF-8, and Python's sqlite3 fails decoding that message (UnicodeDecodeError).
    data = (FIX / "coverage" / "python" / ".coverage").read_bytes()
    assert data.count(b"CREATE TABLE arc") == 1
    path = _write(tmp_path, ".coverage", data.replace(b"CREATE TABLE arc", b"CREATE TAB\xccE arc"))
    with pytest.raises(FormatError) as exc:
        open_report(path).read_all()
    assert exc.value.path == str(path) and "not a readable coverage.py data file" in exc.value.reason


def test_cli_names_the_file_and_exits_2_on_a_refused_summary(tmp_path, capsys):
    path = _write(tmp_path, "coverage-summary.json",
                  '{"total": {"lines": {"total": 1, "covered": 5}, "branches": {"total": 0, "covered": 0}}}')
    code, out, err = run_cli(capsys, "parse", "--json", str(path))
    assert code == 2 and out == ""
    assert str(path) in err and "5 lines covered of 1" in err and "could not be parsed" not in err
