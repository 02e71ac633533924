"""Coverage readers against report shapes seen in public repositories, written by tools that do
not run here (Kover, coverlet's LCOV, solidity-coverage, dotnet-coverage's Cobertura, lcov 2.x
tracefiles, JaCoCo's report-aggregate of a build without modules). The fixtures are small
hand-trimmed copies of those shapes, inline; each names the tool and where the shape was seen."""

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


# ---------------------------------------------------------------------------- Cobertura

# dotnet-coverage (Microsoft.CodeCoverage, Cobertura 1.9 output): an empty <sources />, absolute
# Windows file names, branch="True", and root totals of the whole run, far above what the
# classes listed hold. A property's getter and setter share a line: the methods list it twice
# with their own hits, the class once with the first method's. Trimmed from
# danielpalme/ReportGenerator src/Testprojects/CSharp/Reports/Cobertura_dotnet-coverage.xml.
DOTNET_COVERAGE = """<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<coverage line-rate="0.108" branch-rate="0.063" complexity="27517" version="1.9" timestamp="1639512481" lines-covered="3913" lines-valid="36094" branches-covered="1249" branches-valid="19667">
  <sources />
  <packages>
    <package line-rate="0.64" branch-rate="0" complexity="67" name="Test">
      <classes>
        <class line-rate="1" branch-rate="1" complexity="2" name="Test.CodeContract_Target" filename="C:\\temp\\CodeContract_Target.cs">
          <methods>
            <method line-rate="1" branch-rate="1" complexity="2" name="Calculate" signature="(int)">
              <lines>
                <line number="7" hits="1" branch="False" />
                <line number="8" hits="1" branch="True" condition-coverage="100% (2/2)">
                  <conditions>
                    <condition number="0" type="jump" coverage="100%" />
                  </conditions>
                </line>
              </lines>
            </method>
          </methods>
          <lines>
            <line number="7" hits="1" branch="False" />
            <line number="8" hits="1" branch="True" condition-coverage="100% (2/2)">
              <conditions>
                <condition number="0" type="jump" coverage="100%" />
              </conditions>
            </line>
          </lines>
        </class>
        <class line-rate="0.5" branch-rate="1" complexity="2" name="Test.SomeClass" filename="C:\\temp\\NotMatchingFileName.cs">
          <methods>
            <method line-rate="0" branch-rate="1" complexity="1" name="get_Property1" signature="()">
              <lines>
                <line number="6" hits="0" branch="False" />
              </lines>
            </method>
            <method line-rate="1" branch-rate="1" complexity="1" name="set_Property1" signature="(string)">
              <lines>
                <line number="6" hits="1" branch="False" />
              </lines>
            </method>
          </methods>
          <lines>
            <line number="6" hits="0" branch="False" />
          </lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"""


def test_dotnet_coverage_cobertura_counts_its_classes_not_its_root_totals(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "coverage.cobertura.xml", DOTNET_COVERAGE))
    assert spec.name == "cobertura"
    assert [fc.path for fc in records] == ["C:/temp/CodeContract_Target.cs", "C:/temp/NotMatchingFileName.cs"]
    assert records[0].lines == {7: 1, 8: 1}
    assert records[0].branches == {8: (2, 2)}
    # The class's own lines are the file's (the module doc of cobertura.py): line 6 as the
    # class gives it, as ReportGenerator reads it.
    assert records[1].lines == {6: 0}
    assert stream.totals.as_dict() == {"files": 2, "lines_valid": 3, "lines_covered": 2,
                                       "branches_valid": 2, "branches_covered": 2}
    assert stream.info.declared == {"lines_valid": 36094, "lines_covered": 3913,
                                    "branches_valid": 19667, "branches_covered": 1249}
    assert any("lines_valid declared 36094" in w for w in stream.info.warnings)


# ---------------------------------------------------------------------------- LCOV

# lcov 2.x: FN records with the function's end line (FN:start,end,name), comment lines and blank
# lines between records, a branch never evaluated ('-'), and BRF/BRH that do not match the BRDA
# records. Shape of linux-test-project/lcov tests/lcov/merge/a.info.
LCOV2_MERGE_INPUT = """TN:
SF:a.cpp
DA:1,1
#common line:  my count is zero and yours is nonzero
DA:2,0
DA:4,1
DA:11,0
LF:4
LH:2
FN:1,2,fcn
FN:1,2,alias
FN:11,11,onlyA
FNF:3
FNH:1
# my count is zero yours is nonzero
FNDA:0,fcn
FNDA:2,alias
FNDA:0,onlyA

BRDA:1,1,0,1
BRDA:1,1,1,1
BRDA:1,1,2,-
BRDA:1,2,0,1
BRDA:1,2,1,0

# branch in A only
BRDA:11,0,0,0
BRDA:11,0,1,0

BRF:5
BRH:4
end_of_record
"""


def test_lcov2_function_end_lines_comments_and_blank_lines(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "a.info", LCOV2_MERGE_INPUT))
    assert spec.name == "lcov"
    (fc,) = records
    assert fc.path == "a.cpp"
    assert fc.lines == {1: 1, 2: 0, 4: 1, 11: 0}
    # FN's second field is the start line; the end line is not the name.
    assert sorted(fc.functions) == [("alias", 1, 2), ("fcn", 1, 0), ("onlyA", 11, 0)]
    # Every BRDA is a branch ('-': not taken), whatever BRF/BRH say.
    assert fc.branches == {1: (3, 5), 11: (0, 2)}
    assert stream.totals.as_dict() == {"files": 1, "lines_valid": 4, "lines_covered": 2,
                                       "branches_valid": 7, "branches_covered": 3}
    assert stream.info.declared["branches_valid"] == 5
    assert any("branches_valid declared 5" in w for w in stream.info.warnings)


# ---------------------------------------------------------------------------- JaCoCo

# jacoco-maven-plugin's report-aggregate in a build where no module's classes were found: the
# report holds its <sessioninfo>s (one per run merged) and nothing else, no counters at all.
# Shape of LamyaaAlotaibi/calcuc target/site/jacoco-aggregate/jacoco.xml.
JACOCO_AGGREGATE_EMPTY = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN"'
    ' "report.dtd"><report name="bad-calculator"><sessioninfo id="host-7e8124ea" start="1763173722711"'
    ' dump="1763173723588"/><sessioninfo id="host-25a8b080" start="1763176095843" dump="1763176096737"/></report>'
)


def test_jacoco_aggregate_without_modules_is_an_empty_report(tmp_path):
    spec, stream, records = read_report(_write(tmp_path, "jacoco.xml", JACOCO_AGGREGATE_EMPTY))
    assert spec.name == "jacoco"
    assert records == []
    assert stream.info.name == "bad-calculator"
    assert stream.info.started_at is not None
    assert stream.totals.as_dict() == {"files": 0, "lines_valid": 0, "lines_covered": 0,
                                       "branches_valid": 0, "branches_covered": 0}
    assert stream.info.declared == {}
    assert stream.info.warnings == []
