"""Coverage readers against report shapes seen in public repositories, written by tools that do
not run here (Kover, coverlet's LCOV, solidity-coverage). The fixtures are small hand-trimmed
copies of those shapes, inline; each names the tool and where the shape was seen."""

from __future__ import annotations

from crossbridge_assets.formats import read_report


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- Kover

# Kover (Gradle plugin, IntelliJ coverage reporter) writes JaCoCo's XML without a DOCTYPE and
# without <sessioninfo>. For a module without classes the report holds only the report-level
# counters (shape seen in the Kover reports that public projects' scripts read, e.g. a
# "Kover Gradle Plugin XML report for :app" with all counters 0).
KOVER_EMPTY = """<?xml version="1.0" ?>
<report name="Kover Gradle Plugin XML report for :app">
<counter type="INSTRUCTION" missed="0" covered="0"/>
<counter type="BRANCH" missed="0" covered="0"/>
<counter type="LINE" missed="0" covered="0"/>
<counter type="METHOD" missed="0" covered="0"/>
<counter type="CLASS" missed="0" covered="0"/>
</report>
"""

# Kover lists the source files of packages no test loaded with no <class> at all (shape seen in
# a Go test's copy of Kover's report.xml, and in JetBrains/intellij-coverage's README example of
# its reporter's XML). A module whose tests load none of its classes has no sourcefilename=.
KOVER_NO_CLASS = """<?xml version="1.0" ?>
<report name="Kover Gradle Plugin XML report for :lib">
<package name="other">
<sourcefile name="Lonely.kt">
<line nr="4" mi="7" ci="0" mb="2" cb="0"/>
<line nr="5" mi="3" ci="0" mb="0" cb="0"/>
<counter type="INSTRUCTION" missed="10" covered="0"/>
<counter type="BRANCH" missed="2" covered="0"/>
<counter type="LINE" missed="2" covered="0"/>
</sourcefile>
</package>
<counter type="INSTRUCTION" missed="10" covered="0"/>
<counter type="BRANCH" missed="2" covered="0"/>
<counter type="LINE" missed="2" covered="0"/>
</report>
"""


def test_kover_report_of_a_module_without_classes_is_jacoco(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "report.xml", KOVER_EMPTY))
    assert spec.name == "jacoco"
    assert records == []
    assert stream.totals.as_dict() == {"files": 0, "lines_valid": 0, "lines_covered": 0,
                                       "branches_valid": 0, "branches_covered": 0}
    assert stream.info.declared == {"lines_valid": 0, "lines_covered": 0, "branches_valid": 0, "branches_covered": 0}
    assert stream.info.warnings == []


def test_kover_report_with_only_unloaded_source_files_is_read(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "report.xml", KOVER_NO_CLASS))
    assert spec.name == "jacoco"
    assert [fc.path for fc in records] == ["other/Lonely.kt"]
    assert records[0].lines == {4: 0, 5: 0}
    assert records[0].branches == {4: (0, 2)}
    assert stream.totals.as_dict() == {"files": 1, "lines_valid": 2, "lines_covered": 0,
                                       "branches_valid": 2, "branches_covered": 0}
    assert stream.info.warnings == []


# ---------------------------------------------------------------------------- LCOV

# coverlet's LCOV output lists a line once per sequence point (auto-properties: getter and
# setter on one line) and counts each in LF/LH; function names hold commas. Shape of
# danielpalme/ReportGenerator src/Testprojects/CSharp/Reports/lcov.info.
COVERLET_LCOV = """TN:
SF:C:\\temp\\ClassWithExcludes.cs
FN:6,System.String Test.ClassWithExcludes::get_IncludedProperty()
FN:6,System.Void Test.ClassWithExcludes::set_IncludedProperty(System.String)
FN:12,System.Void Test.ClassWithExcludes::Run(System.String,System.Int32)
FNDA:0,System.String Test.ClassWithExcludes::get_IncludedProperty()
FNDA:1,System.Void Test.ClassWithExcludes::set_IncludedProperty(System.String)
FNDA:1,System.Void Test.ClassWithExcludes::Run(System.String,System.Int32)
FNF:3
FNH:2
BRDA:13,81,0,1
BRDA:13,81,1,-
BRF:2
BRH:1
DA:6,0
DA:6,1
DA:12,1
DA:13,1
LH:3
LF:4
end_of_record
"""


def test_coverlet_lcov_line_listed_per_sequence_point_is_one_line(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "coverage.info", COVERLET_LCOV))
    assert spec.name == "lcov"
    (fc,) = records
    assert fc.path == "C:/temp/ClassWithExcludes.cs"
    assert fc.lines == {6: 1, 12: 1, 13: 1}
    assert fc.branches == {13: (1, 2)}
    assert ("System.Void Test.ClassWithExcludes::Run(System.String,System.Int32)", 12, 1) in fc.functions
    assert stream.totals.as_dict() == {"files": 1, "lines_valid": 3, "lines_covered": 3,
                                       "branches_valid": 2, "branches_covered": 1}
    # LF/LH count the sequence points: recorded, and told apart from the content.
    assert stream.info.declared["lines_valid"] == 4
    assert any("lines_valid declared 4" in w for w in stream.info.warnings)


# solidity-coverage (Hardhat) writes a record with no DA at all for a contract without
# statements (shape of 000devvish/Hardhat-Smart-Contract-Lottery coverage/lcov.info).
SOLIDITY_LCOV = """TN:
SF:/home/dev/lottery/contracts/Raffle.sol
FN:57,constructor
FNF:1
FNH:0
FNDA:0,constructor
DA:58,0
DA:59,0
LF:2
LH:0
BRDA:58,1,0,0
BRDA:58,1,1,0
BRF:2
BRH:0
end_of_record
TN:
SF:/home/dev/lottery/contracts/test/VRFCoordinatorMock.sol
FNF:0
FNH:0
LF:0
LH:0
BRF:0
BRH:0
end_of_record
"""


def test_solidity_coverage_record_without_lines_is_a_file(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "lcov.info", SOLIDITY_LCOV))
    assert spec.name == "lcov"
    assert [fc.path for fc in records] == ["/home/dev/lottery/contracts/Raffle.sol",
                                           "/home/dev/lottery/contracts/test/VRFCoordinatorMock.sol"]
    assert records[1].lines == {}
    assert stream.totals.as_dict() == {"files": 2, "lines_valid": 2, "lines_covered": 0,
                                       "branches_valid": 2, "branches_covered": 0}
    assert stream.info.warnings == []
