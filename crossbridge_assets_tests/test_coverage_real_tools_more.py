"""Coverage readers against reports written by real tools, held to the figures the tool itself
prints (nyc text-summary, coverage report, lcov --list, gcovr --txt). The fixtures are under
fixtures/coverage/more/, written by fixtures/coverage/regenerate-more.sh, which prints those
summaries; the numbers asserted here are copied from them."""

from __future__ import annotations

from crossbridge_assets.formats import cobertura, read_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets_tests.conftest import FIXTURES

MORE = FIXTURES / "coverage" / "more"


def _totals(stream) -> dict:
    return stream.effective_totals.as_dict()


def _by_name(records) -> dict:
    """Records keyed by their path from the sample's folder (the tools write some absolute)."""
    return {fc.path.split("/crossbridge-coverage-more/")[-1].removeprefix("c/"): fc for fc in records}


# ---------------------------------------------------------------------------- nyc

# nyc --reporter=text-summary: Statements 17/21, Branches 12/18, Functions 6/8, Lines 14/18.
NYC = {"files": 2, "lines_valid": 18, "lines_covered": 14, "branches_valid": 18, "branches_covered": 12}


def test_nyc_cobertura_counts_what_nyc_counts():
    # istanbul's cobertura reporter lists each function under <methods> with its declaration
    # line and the function's call count; those lines are no statements (lines 2 and 11 of
    # src/a/util.js: `function pick(x, y) {`, `function neverCalled(a) {`).
    spec, stream, records = read_report(MORE / "nyc" / "cobertura-coverage.xml")
    assert spec.name == "cobertura"
    assert _totals(stream) == NYC
    assert stream.info.warnings == []
    files = _by_name(records)
    assert 2 not in files["src/a/util.js"].lines and 11 not in files["src/a/util.js"].lines
    # A statement line keeps its own count, not the call count of the function declared there.
    assert files["src/b/util.js"].lines[1] == 1


def test_nyc_cobertura_and_lcov_of_one_run_agree_line_by_line():
    _, _, xml = read_report(MORE / "nyc" / "cobertura-coverage.xml")
    _, lcov_stream, lcov = read_report(MORE / "nyc" / "lcov.info")
    assert _totals(lcov_stream) == NYC
    assert {p: (fc.lines, fc.branches) for p, fc in _by_name(xml).items()} == {
        p: (fc.lines, fc.branches) for p, fc in _by_name(lcov).items()
    }
    merged = merge_coverage([xml, lcov])
    assert sorted(merged) == ["src/a/util.js", "src/b/util.js"]
    assert sum(len(fc.lines) for fc in merged.values()) == 18


def test_nyc_cobertura_read_by_events_counts_the_same(monkeypatch):
    # The reading a class at a time gives way to the event reading on irregular reports: both
    # leave method lines out the same way.
    _, _, whole = read_report(MORE / "nyc" / "cobertura-coverage.xml")

    def irregular(*args, **kwargs):
        raise cobertura._Irregular
        yield

    monkeypatch.setattr(cobertura, "_scan", irregular)
    _, stream, by_events = read_report(MORE / "nyc" / "cobertura-coverage.xml")
    assert _totals(stream) == NYC
    assert {fc.path: fc.lines for fc in by_events} == {fc.path: fc.lines for fc in whole}
    assert {fc.path: fc.branches for fc in by_events} == {fc.path: fc.branches for fc in whole}


def test_cobertura_method_lines_count_only_for_a_class_without_lines(tmp_path):
    # Swift converters write lines under <method> only; Cobertura and gcovr repeat class lines
    # there; istanbul adds declaration lines. One file of each kind of class.
    doc = """<?xml version="1.0"?><coverage><packages><package name="p"><classes>
      <class name="a" filename="a.swift"><methods><method name="f"><lines>
        <line number="3" hits="2"/><line number="4" hits="0" branch="true" condition-coverage="50% (1/2)"/>
      </lines></method></methods><lines/></class>
      <class name="b" filename="b.js"><methods><method name="g"><lines><line number="1" hits="5"/></lines></method></methods>
        <lines><line number="2" hits="1"/></lines></class>
    </classes></package></packages></coverage>"""
    path = tmp_path / "cobertura.xml"
    path.write_text(doc)
    _, stream, records = read_report(path)
    files = {fc.path: fc for fc in records}
    assert files["a.swift"].lines == {3: 2, 4: 0} and files["a.swift"].branches == {4: (1, 2)}
    assert files["b.js"].lines == {2: 1}
    assert _totals(stream)["lines_valid"] == 3


# ---------------------------------------------------------------------------- coverage.py

# coverage report -m: 41 statements, 1 missed; 12 branches, 1 partial (32->34); 4 files.
COVERAGEPY = {"files": 4, "lines_valid": 41, "lines_covered": 40, "branches_valid": 12, "branches_covered": 11}


def test_coveragepy_json_and_lcov_match_coverage_report():
    for name, fmt in (("coverage.json", "coveragepy-json"), ("coverage.lcov", "lcov")):
        spec, stream, _ = read_report(MORE / "python" / name)
        assert spec.name == fmt
        assert _totals(stream) == COVERAGEPY, name


def test_coveragepy_json_functions_are_those_of_its_lcov():
    # The JSON lists `never` (excluded whole by `# pragma: no cover`: no statements) among its
    # functions, and gives each its start_line; `coverage lcov` leaves `never` out and names
    # each function by that line.
    _, _, json_records = read_report(MORE / "python" / "coverage.json")
    _, _, lcov_records = read_report(MORE / "python" / "coverage.lcov")
    from_json = {fc.path: sorted(fc.functions) for fc in json_records}
    from_lcov = {fc.path: sorted(fc.functions) for fc in lcov_records}
    assert from_json == from_lcov
    core = dict((name, (line, hits)) for name, line, hits in from_json["src/app/core.py"])
    assert "never" not in core
    assert core["Thing.unused"] == (50, 0) and core["choose"] == (5, 1)
    # One report's function is one function once the two are merged.
    merged = merge_coverage([json_records, lcov_records])
    assert len(merged["src/app/core.py"].functions) == 5


# ---------------------------------------------------------------------------- gcc: lcov, gcovr

# lcov --list / gcovr --txt: main.c 11 lines (9), 3 branches (1); ops.c 12 (7), 10 (4);
# util.h 6 (5), 4 (3); total 29 (21), 17 (8).
C_FILES = {"main.c": (11, 9, 3, 1), "ops.c": (12, 7, 10, 4), "util.h": (6, 5, 4, 3)}
C_TOTALS = {"files": 3, "lines_valid": 29, "lines_covered": 21, "branches_valid": 17, "branches_covered": 8}


def _file_counts(records) -> dict:
    return {
        name: (len(fc.lines), sum(1 for h in fc.lines.values() if h),
               sum(t for _, t in fc.branches.values()), sum(c for c, _ in fc.branches.values()))
        for name, fc in _by_name(records).items()
    }


def test_lcov_capture_with_a_header_in_two_records_matches_lcov_list():
    # geninfo writes util.h's inline clamp() once per object file, '-' for branches of a block
    # never run; lcov adds the records up.
    spec, stream, records = read_report(MORE / "c" / "lcov.info")
    assert spec.name == "lcov"
    assert _totals(stream) == C_TOTALS
    assert _file_counts(records) == C_FILES
    util = _by_name(records)["util.h"]
    assert util.lines[3] == 2 and util.functions == [("clamp", 3, 2)]


def test_gcovr_cobertura_and_lcov_match_gcovr_txt():
    for name, fmt in (("gcovr.xml", "cobertura"), ("gcovr.lcov", "lcov")):
        spec, stream, records = read_report(MORE / "c" / name)
        assert spec.name == fmt
        assert _totals(stream) == C_TOTALS, name
        assert _file_counts(records) == C_FILES, name
        assert stream.info.warnings == [], name
