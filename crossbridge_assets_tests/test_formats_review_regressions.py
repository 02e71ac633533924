"""Reports of odd shape that the readers added for new tools met badly: each either raised
something other than FormatError or read wrong. Bad input is a FormatError naming the file and
the reason; a report that can be read is read as its writer meant it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, open_report
from crossbridge_assets_tests.fuzz_readers import check_sane

_LOC = {"start": {"line": 1, "column": 0}, "end": {"line": 1, "column": 5}}


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _istanbul_entry(branch_type: object) -> dict:
    return {
        "path": "src/a.js",
        "statementMap": {"0": _LOC},
        "s": {"0": 1},
        "fnMap": {},
        "f": {},
        "branchMap": {"0": {"loc": _LOC, "type": branch_type, "locations": [_LOC, _LOC]}},
        "b": {"0": [1, 0]},
    }


def test_istanbul_branch_type_not_a_string_is_not_an_instrumenter_type(tmp_path):
    # A branch whose type is no string (hand-edited or merged by another tool) is no type
    # istanbul's instrumenter writes: its branches are counted, not named.
    stream = open_report(_write(tmp_path, "coverage-final.json", {"src/a.js": _istanbul_entry(["if"])}))
    check_sane(stream)
    (fc,) = list(open_report(_write(tmp_path, "coverage-final.json", {"src/a.js": _istanbul_entry(["if"])})))
    assert fc.branches == {1: (1, 2)}
    assert not fc.branch_missing


def _ctrf(tool: str, test: dict) -> dict:
    summary = {"tests": 1, "passed": 1, "failed": 0, "skipped": 0, "pending": 0, "other": 0}
    return {"results": {"tool": {"name": tool}, "summary": summary, "tests": [test]}}


def test_ctrf_vitest_test_with_an_empty_suite_list(tmp_path):
    # The vitest reporter's suite is the describe() path: an empty list for a test outside any
    # describe(), whose name can be empty too.
    path = _write(tmp_path, "ctrf-report.json", _ctrf("vitest", {"name": "", "status": "passed", "duration": 1, "suite": []}))
    (case,) = list(open_report(path))
    assert (case.suite, case.name, case.status) == ("", "", "passed")


# xunit.console 2.x's XmlEscape writes an unpaired surrogate of a theory's string argument (and of
# a message) as '\xd800': a test of `[InlineData("x\uD800")]` (hand-written: the shape of xunit.console
# 2.4's output for such an argument).
_XUNIT_SURROGATE = r"""<?xml version="1.0" encoding="utf-8"?>
<assemblies><assembly name="A.dll" test-framework="xUnit.net 2.4.1" run-date="2020-01-01" run-time="00:00:00"
 total="1" passed="0" failed="1" skipped="0" time="0.1" errors="0">
<collection total="1" passed="0" failed="1" skipped="0" name="C" time="0.1">
<test name="A.B.T(s: \&quot;x\xd800\&quot;)" type="A.B" method="T" time="0.1" result="Fail">
<failure><message>bad\nthing \xdfff</message></failure></test>
</collection></assembly></assemblies>
"""


def test_xunit_escaped_unpaired_surrogate_reads_as_replacement_character(tmp_path):
    (case,) = list(open_report(_write(tmp_path, "xunit.xml", _XUNIT_SURROGATE)))
    assert case.parameters == '(s: "x\ufffd")'
    assert case.attempts[-1].message == "bad\nthing \ufffd"
    assert len(case.identity) == 20  # a hash of its UTF-8 text


def test_lcov_of_summaries_only_refuses_more_covered_than_valid(tmp_path):
    # An LCOV of summaries only (llvm-cov export -format=lcov -summary-only) gives its files'
    # counts: one covering more branches than it has is no report any tool writes.
    path = _write(tmp_path, "summary.lcov", "SF:src/a.c\nFNF:1\nFNH:1\nBRF:4\nBRH:7\nLF:11\nLH:9\nend_of_record\n")
    with pytest.raises(FormatError, match="7 branches covered of 4"):
        list(open_report(path))


def test_lcov_of_summaries_only_counts_its_files(tmp_path):
    path = _write(tmp_path, "summary.lcov", "SF:src/a.c\nBRF:4\nBRH:2\nLF:11\nLH:9\nend_of_record\n")
    stream = open_report(path)
    check_sane(stream)
    assert (stream.effective_totals.lines_valid, stream.effective_totals.lines_covered) == (11, 9)


@pytest.mark.parametrize("brda", ["1,0,0," + "9" * 5000, "1," + "9" * 5000 + ",0,1", "9" * 5000 + ",0,0,1"])
def test_lcov_brda_with_a_digit_run_longer_than_int_reads(tmp_path, brda):
    # Python's int() refuses more than 4,300 digits: such a count is junk, such a line a bad
    # record, such a block id a name.
    path = _write(tmp_path, "lcov.info", f"SF:a.py\nDA:1,1\nBRDA:{brda}\nend_of_record\n")
    try:
        stream = open_report(path)
        check_sane(stream)
    except FormatError as exc:
        assert "malformed BRDA record" in exc.reason


def test_tap_formatter_junit_plan_and_exit_of_more_digits_than_int_reads(tmp_path):
    # TAP::Formatter::JUnit's file: the .t file's TAP in <system-out>, its exit in the <error>
    # (hand-written: a test printing a plan of 5,000 digits, which prove would call bad).
    huge = "9" * 5000
    xml = (f'<testsuites><testsuite name="t/a.t" tests="1" failures="0" errors="1"><testcase name="1 - ok"/>'
           f"<system-out><![CDATA[ok 1 - ok\n1..{huge}\n]]></system-out>"
           f'<error message="Dubious, test returned {huge} (wstat 1)"/></testsuite></testsuites>')
    cases = list(open_report(_write(tmp_path, "a.xml", xml)))
    assert sorted(c.status for c in cases) == ["error", "passed"]


def test_istanbul_branch_locations_not_a_list(tmp_path):
    # A branch without a loc or line whose locations are an object: no start line to file it under.
    entry = _istanbul_entry("if")
    entry["branchMap"]["0"] = {"type": "if", "locations": {"a": _LOC}}
    stream = open_report(_write(tmp_path, "coverage-final.json", {"src/a.js": entry}))
    check_sane(stream)
    (fc,) = list(open_report(_write(tmp_path, "coverage-final.json", {"src/a.js": entry})))
    assert fc.branches == {}


def test_istanbul_input_source_map_with_a_runaway_number_is_not_decoded(tmp_path):
    # A VLQ number that never ends ('z' continues it) grew one int through the whole string,
    # in quadratic time: no source map holds a number beyond 32 bits.
    entry = _istanbul_entry("if")
    entry["inputSourceMap"] = {"version": 3, "sources": ["a.ts"], "names": [], "mappings": "z" * 50_000 + "A"}
    stream = open_report(_write(tmp_path, "coverage-final.json", {"src/a.js": entry}))
    (fc,) = list(stream)
    assert fc.path.endswith("a.js")  # counted as the transpiled file
    assert any("beyond 32 bits" in w for w in stream.info.warnings)
