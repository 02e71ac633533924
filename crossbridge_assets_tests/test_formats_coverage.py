"""Coverage formats: the real-report corpus against its oracle, fixtures written by real tools
(see fixtures/coverage/regenerate.sh), path normalization, line ranges and shard merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, UnknownFormat, detect, read_report
from crossbridge_assets.formats._coverage import (
    decode_ranges,
    encode_ranges,
    merge_coverage,
    merged_totals,
    context_to_test,
)
from crossbridge_assets.formats._paths import normalize_source_path
from crossbridge_assets.model import KIND_COVERAGE, FileCoverage
from crossbridge_assets_tests.conftest import FIXTURES, corpus_params

COV = FIXTURES / "coverage"
ORACLE_KEYS = ("files", "lines_valid", "lines_covered", "branches_valid", "branches_covered")


# ---------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("row", corpus_params(kind="coverage"))
def test_corpus_totals_match_oracle(row):
    path = row["path"]
    if row["lines_valid"] == "error":
        with pytest.raises(FormatError) as err:
            read_report(path)
        assert str(path) in str(err.value) and err.value.reason
        return
    spec, stream, records = read_report(path)
    assert spec.kind == KIND_COVERAGE
    assert spec.name == row["format"]
    expected = {key: int(row[key]) for key in ORACLE_KEYS}
    assert stream.effective_totals.as_dict() == expected
    assert len({fc.path for fc in records}) == len(records)
    # Sane declared totals never disagree with the content in this corpus; the one file whose
    # notes say its root is inconsistent with its lines is named in a warning.
    assert bool(stream.info.warnings) == ("inconsistent" in row["notes"]), stream.info.warnings


# ---------------------------------------------------------------------------- hostile input


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


COBERTURA = """<?xml version="1.0" ?>
<coverage line-rate="0.5" lines-valid="4" lines-covered="2" version="1">
  <sources><source>/home/runner/work/app/app/src</source></sources>
  <packages><package name="calc"><classes>
    <class name="ops" filename="calc/ops.py">
      <methods><method name="add" signature="()"><lines>
        <line number="2" hits="3"/>
      </lines></method></methods>
      <lines>
        <line number="1" hits="1"/>
        <line number="2" hits="3"/>
        <line number="4" hits="0" branch="True" condition-coverage="50% (1/2)"/>
        <line number="5" hits="0"/>
      </lines>
    </class>
  </classes></package></packages>
</coverage>
"""

LCOV = """TN:
SF:C:\\a\\app\\app\\src\\calc\\ops.py
DA:1,1
DA:4,2
DA:5,1
DA:7,0
BRDA:4,0,0,1
BRDA:4,0,1,0
LF:4
LH:3
BRF:2
BRH:1
end_of_record
"""


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.xml", "", "empty"),
        ("blank.info", "\n \n", "empty"),
        ("notes.txt", "hello, this is not coverage\n", "unknown format"),
        ("other.json", '{"name": "x", "version": "1.0.0"}', "unknown format"),
        ("truncated.xml", COBERTURA[: len(COBERTURA) // 2], "malformed XML"),
        ("bad.lcov", "SF:a.c\nDA:x,1\nend_of_record\n", "malformed DA"),
        ("bad-final.json", '{"a.js": {"path": "a.js", "statementMap": {}, "s": {', "malformed JSON"),
        ("summary.json", '{"total": {"lines": {"total": 1, "covered": 1}, "branches": {"total": 0, "covered": 0}}, "a.js": 3}', "not an Istanbul summary"),
        ("fake.coverage", b"SQLite format 3\x00coverage_schema line_bits" + b"\x00" * 200, "coverage.py data file"),
    ],
)
def test_rejections_name_file_and_reason(tmp_path, name, content, reason):
    path = _write(tmp_path, name, content)
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path)
    assert reason in err.value.reason


def test_external_entities_are_never_resolved(tmp_path):
    secret = _write(tmp_path, "secret.txt", "TOP-SECRET")
    xml = (
        f'<?xml version="1.0"?>\n<!DOCTYPE coverage [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<coverage line-rate="1"><packages><package name="p"><classes>'
        '<class name="c" filename="a.py"><lines><line number="1" hits="1"/></lines></class>'
        "</classes></package></packages><sources><source>&xxe;</source></sources></coverage>"
    )
    path = _write(tmp_path, "xxe.xml", xml)
    try:
        _, stream, records = read_report(path)
    except FormatError:
        return  # rejecting is fine too
    assert all("TOP-SECRET" not in (fc.path + (fc.source_path or "")) for fc in records)


def test_jacoco_doctype_is_not_loaded(tmp_path):
    # The DTD named here does not exist: loading it would fail (or fetch from the network).
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "http://127.0.0.1:9/report.dtd">'
        '<report name="x"><package name="a/b"><sourcefile name="C.java">'
        '<line nr="3" mi="0" ci="2" mb="1" cb="1"/><line nr="4" mi="2" ci="0" mb="0" cb="0"/>'
        "</sourcefile></package></report>"
    )
    _, stream, records = read_report(_write(tmp_path, "jacoco.xml", xml))
    assert [(fc.path, fc.lines, fc.branches) for fc in records] == [("a/b/C.java", {3: 1, 4: 0}, {3: (1, 2)})]


# ---------------------------------------------------------------------------- dialects


def test_cobertura_dialects_swift_altcover_matlab(tmp_path):
    # Swift converters: lines only under <method>, float hit counts; AltCover: no root totals.
    swift = """<?xml version="1.0"?><coverage><packages><package name="App"><classes>
      <class name="Calc" filename="Sources/App/Calc.swift"><methods>
        <method name="add"><lines><line number="3" hits="2.0"/><line number="4" hits="0.0"/></lines></method>
        <method name="sub"><lines><line number="8" hits="1.0" branch="true" condition-coverage="100% (2/2)"/></lines></method>
      </methods><lines/></class>
      <class name="Calc.Inner" filename="Sources/App/Calc.swift"><lines><line number="3" hits="2"/></lines></class>
    </classes></package></packages></coverage>"""
    spec, stream, records = read_report(_write(tmp_path, "swift.xml", swift))
    assert spec.name == "cobertura"
    assert stream.effective_totals.as_dict() == {
        "files": 1, "lines_valid": 3, "lines_covered": 2, "branches_valid": 2, "branches_covered": 2,
    }
    assert records[0].lines == {3: 2, 4: 0, 8: 1}
    assert stream.info.declared == {}


def test_lcov_repeated_lines_and_records(tmp_path):
    text = "TN:a\nSF:x.c\nDA:1,1\nDA:1,2\nDA:2,0\nBRDA:1,0,0,-\nBRDA:1,0,1,3\nend_of_record\nTN:b\nSF:x.c\nDA:2,4\nend_of_record\n"
    _, stream, records = read_report(_write(tmp_path, "x.info", text))
    (fc,) = records
    assert fc.lines == {1: 3, 2: 4}
    assert fc.branches == {1: (1, 2)}
    assert stream.effective_totals.as_dict() == {
        "files": 1, "lines_valid": 2, "lines_covered": 2, "branches_valid": 2, "branches_covered": 1,
    }


# ---------------------------------------------------------------------------- fixtures by real tools


def _fixture(*parts: str) -> Path:
    path = COV.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"fixture {path} missing (run fixtures/coverage/regenerate.sh)")
    return path


# regenerate.sh runs the tools in this folder, so the absolute paths they write are fixed.
SAMPLE_ROOT = "/tmp/crossbridge-coverage-sample"


def test_coveragepy_reports_of_one_run_agree():
    xml = read_report(_fixture("python", "coverage.xml"))
    js = read_report(_fixture("python", "coverage.json"))
    lcov = read_report(_fixture("python", "coverage.lcov"))
    assert (xml[0].name, js[0].name, lcov[0].name) == ("coveragepy-xml", "coveragepy-json", "lcov")
    totals = {"files": 2, "lines_valid": 19, "lines_covered": 14, "branches_valid": 8, "branches_covered": 5}
    for report in (xml, js, lcov):
        assert report[1].effective_totals.as_dict() == totals
        assert not report[1].info.warnings
    xml_files = {fc.path: fc for fc in xml[2]}
    assert sorted(xml_files) == ["calc/__init__.py", "calc/ops.py"]
    for fc in lcov[2]:
        assert {n for n, h in fc.lines.items() if h} == {n for n, h in xml_files[fc.path].lines.items() if h}
        assert fc.branches == xml_files[fc.path].branches
    ops = xml_files["calc/ops.py"]
    assert {n for n, h in ops.lines.items() if not h} == {18, 23, 24, 25, 26}
    assert ops.branches == {9: (2, 2), 15: (2, 2), 17: (1, 2), 24: (0, 2)}
    # coverage.py JSON: per-file summaries are the counts, the line lists what ran.
    assert js[1].file_totals["calc/ops.py"].lines_valid == 17


@pytest.mark.parametrize(
    "key, value, where",
    [
        ("executed_branches", 123, "files.calc/ops.py.executed_branches: expected an array, got a number"),
        ("contexts", {"9": [["test_a"]]}, "files.calc/ops.py.contexts.9[0]: expected a string, got an array"),
    ],
)
def test_coveragepy_json_of_the_wrong_shape_says_where(tmp_path, key, value, where):
    import json

    doc = json.loads(_fixture("python", "coverage.json").read_text())
    doc["files"]["calc/ops.py"][key] = value
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path) and err.value.reason == where


def test_coveragepy_data_file_with_per_test_contexts():
    spec, stream, records = read_report(_fixture("python", ".coverage"))
    assert spec.name == "coveragepy-data"
    xml = {fc.path: fc for fc in read_report(_fixture("python", "coverage.xml"))[2]}
    assert {fc.path for fc in records} == set(xml)
    for fc in records:
        # The data file holds what ran: every covered statement of the XML report, plus the
        # module docstrings (line 1), which ran but are not statements.
        covered = {n for n, h in xml[fc.path].lines.items() if h}
        assert covered <= set(fc.lines)
        assert set(fc.lines) - set(xml[fc.path].lines) == {1}
    # One dynamic context per test ([run] dynamic_context = test_function).
    per_test = {context_to_test(ctx): files for ctx, files in stream.per_test.items()}
    assert per_test == {
        "checks_ops.test_add": {"calc/ops.py": {5}},
        "checks_ops.test_divide": {"calc/ops.py": {9, 11}},
        "checks_ops.test_divide_by_zero": {"calc/ops.py": {9, 10}},
        "checks_ops.test_classify": {"calc/ops.py": {15, 16, 17, 19}},
    }
    # The JSON report written with --show-contexts carries the same map.
    assert read_report(_fixture("python", "coverage.json"))[1].per_test == stream.per_test
    # Storage form of one test's lines.
    assert encode_ranges(per_test["checks_ops.test_classify"]["calc/ops.py"]) == "15-17,19"


def test_istanbul_reports_of_one_run_agree():
    final = read_report(_fixture("js", "coverage-final.json"))
    summary = read_report(_fixture("js", "coverage-summary.json"))
    lcov = read_report(_fixture("js", "lcov.info"))
    assert (final[0].name, summary[0].name, lcov[0].name) == ("istanbul-final", "istanbul-summary", "lcov")
    totals = {"files": 1, "lines_valid": 24, "lines_covered": 15, "branches_valid": 5, "branches_covered": 4}
    for report in (final, summary, lcov):
        assert report[1].effective_totals.as_dict() == totals
    # The summary has counts only: no line records, per-file counts beside them.
    assert summary[2] == []
    assert list(summary[1].file_totals) == [f"{SAMPLE_ROOT}/js/lib.js"]
    # c8 writes an absolute path to the JSON and a relative one to LCOV: a configured source
    # root lines them up, and the union of the two views of one run is that run.
    merged = merge_coverage([final[2], lcov[2]], source_roots=(f"{SAMPLE_ROOT}/js",))
    assert list(merged) == ["lib.js"]
    assert merged_totals(merged).as_dict() == totals
    assert ("unused", 16, 0) in merged["lib.js"].functions


def test_jacoco_fixture():
    spec, stream, records = read_report(_fixture("java", "jacoco.xml"))
    assert spec.name == "jacoco"
    assert stream.effective_totals.as_dict() == {
        "files": 1, "lines_valid": 11, "lines_covered": 5, "branches_valid": 6, "branches_covered": 2,
    }
    assert not stream.info.warnings
    (calc,) = records
    assert calc.path == "sample/Calc.java"
    assert calc.branches == {10: (1, 2), 12: (1, 2), 20: (0, 2)}
    assert ("Calc.unused", 19, 0) in calc.functions and ("Calc.classify", 10, 1) in calc.functions


# ---------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("src/app/x.py", "src/app/x.py"),
        ("./src//app/./x.py", "src/app/x.py"),
        ("src\\app\\x.py", "src/app/x.py"),
        ("/home/runner/work/app/app/src/x.py", "src/x.py"),
        ("/Users/runner/work/app/app/src/x.py", "src/x.py"),
        ("D:\\a\\app\\app\\src\\x.py", "src/x.py"),
        ("C:/a/app/app/src/x.py", "src/x.py"),
        ("/__w/app/app/src/x.py", "src/x.py"),
        ("/github/workspace/src/x.py", "src/x.py"),
        ("/builds/group/project/src/x.py", "src/x.py"),
        ("/var/lib/jenkins/workspace/my-job/src/x.py", "src/x.py"),
        ("/home/vsts/work/1/s/src/x.py", "src/x.py"),
        ("D:\\a\\1\\s\\src\\x.py", "src/x.py"),
        ("/home/circleci/project/src/x.py", "src/x.py"),
        ("file:///home/runner/work/app/app/src/x.py", "src/x.py"),
        ("/usr/lib/python3/x.py", "/usr/lib/python3/x.py"),
        ("C:\\temp\\main.cpp", "C:/temp/main.cpp"),
        ("../src/x.py", "src/x.py"),
        ("webpack:///./src/app/x.ts", "src/app/x.ts"),
        ("webpack://my-app/./src/app/x.ts", "src/app/x.ts"),
        ("", ""),
    ],
)
def test_normalize_source_path(raw, expected):
    assert normalize_source_path(raw) == expected


def test_normalize_source_path_roots_and_prefixes():
    roots = ("/srv/checkout", "/srv/checkout/vendor")
    assert normalize_source_path("/srv/checkout/src/x.py", roots) == "src/x.py"
    assert normalize_source_path("/srv/checkout/vendor/lib/y.py", roots) == "lib/y.py"  # longest root wins
    assert normalize_source_path("/srv/checkoutX/src/x.py", roots) == "/srv/checkoutX/src/x.py"  # whole segments
    assert normalize_source_path("c:\\Work\\Proj\\src\\x.cs", (), ("C:/work/proj",)) == "src/x.cs"
    assert normalize_source_path("/venv/lib/python3.11/site-packages/pkg/m.py", (), ("/venv/lib/python3.11/site-packages",)) == "pkg/m.py"
    # A configured root beats the CI default.
    assert normalize_source_path("/home/runner/work/app/app/src/x.py", ("/home/runner/work/app/app/src",)) == "x.py"


# ---------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "lines, text",
    [
        (set(), ""),
        ({7}, "7"),
        ({1, 2, 3, 4, 5, 9, 12, 13, 14}, "1-5,9,12-14"),
        ({1, 3, 5}, "1,3,5"),
        ({10, 11}, "10-11"),
    ],
)
def test_ranges_round_trip(lines, text):
    assert encode_ranges(lines) == text
    assert decode_ranges(text) == lines


def test_ranges_edges():
    assert encode_ranges([5, 3, 4, 4, 1]) == "1,3-5"
    assert decode_ranges(" 1 - 3 , 7 ") == {1, 2, 3, 7}
    for bad in ("a", "1-", "3-1", "1,,2", "-2"):
        with pytest.raises(ValueError):
            decode_ranges(bad)


def test_context_to_test():
    assert context_to_test("tests/test_ops.py::test_add|run") == "tests/test_ops.py::test_add"
    assert context_to_test("tests/test_ops.py::test_add[1-2]|setup") == "tests/test_ops.py::test_add[1-2]"
    assert context_to_test("tests.test_ops.test_add") == "tests.test_ops.test_add"


# ---------------------------------------------------------------------------- merge


def test_union_merge_of_two_shards_in_different_formats(tmp_path):
    # The same file measured by two shards on two runners: one Cobertura (Linux), one LCOV (Windows).
    cob = read_report(_write(tmp_path, "shard1.xml", COBERTURA))
    lcov = read_report(_write(tmp_path, "shard2.info", LCOV))
    assert cob[0].name == "cobertura" and lcov[0].name == "lcov"
    assert [fc.path for fc in cob[2]] == [fc.path for fc in lcov[2]] == ["src/calc/ops.py"]

    merged = merge_coverage([cob[2], lcov[2]])
    assert list(merged) == ["src/calc/ops.py"]
    fc = merged["src/calc/ops.py"]
    assert fc.lines == {1: 2, 2: 3, 4: 2, 5: 1, 7: 0}
    covered = {n for n, h in fc.lines.items() if h}
    assert covered == {n for s in (cob[2], lcov[2]) for f in s for n, h in f.lines.items() if h}
    assert fc.branches == {4: (1, 2)}
    assert merged_totals(merged).as_dict() == {
        "files": 1, "lines_valid": 5, "lines_covered": 4, "branches_valid": 2, "branches_covered": 1,
    }
    # Inputs are left as they were.
    assert cob[2][0].lines == {1: 1, 2: 3, 4: 0, 5: 0}


def test_merge_with_configured_roots():
    a = [FileCoverage(path="/srv/a/src/x.py", lines={1: 1, 2: 0})]
    b = [FileCoverage(path="/opt/b/src/x.py", lines={2: 1, 3: 0}), FileCoverage(path="/opt/b/src/y.py", lines={1: 0})]
    merged = merge_coverage([a, b], source_roots=("/srv/a", "/opt/b"))
    assert sorted(merged) == ["src/x.py", "src/y.py"]
    assert merged["src/x.py"].lines == {1: 1, 2: 1, 3: 0}
    assert merged_totals(merged).as_dict()["lines_covered"] == 2


def test_detection_is_by_content(tmp_path):
    # A Cobertura report under a .info name is still Cobertura, and LCOV under .xml is LCOV.
    assert detect(_write(tmp_path, "report.info", COBERTURA)).name == "cobertura"
    assert detect(_write(tmp_path, "report.xml", LCOV)).name == "lcov"
    with pytest.raises(UnknownFormat):
        detect(_write(tmp_path, "clover.xml", '<coverage generated="1" clover="4"><project/></coverage>'))
