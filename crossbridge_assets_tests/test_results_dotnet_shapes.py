"""Shapes of .NET result files (TRX, NUnit, xUnit.net) seen in files real tools wrote.

The fixtures are small hand-trimmed copies of those shapes: each says which tool writes it and
the public file it was seen in.
"""

from __future__ import annotations

from crossbridge_assets.formats import open_report

_NS = 'xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"'


def _read(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    stream = open_report(path)
    cases = list(stream)
    return stream, cases


# MSTest v2 [DataRow] run by vstest (dotnet test --logger trx, 2019): the rows are
# <InnerResults> of a parent that has no ErrorInfo of its own, and <Counters> count the parent
# and each row (total 4 here for 2 tests). Seen in gfoidl/trx2junit
# tests/trx2junit.Tests/data/trx/mstest-datadriven.trx.
MSTEST_DATA_ROWS = f"""<?xml version="1.0" encoding="utf-8"?>
<TestRun id="r" name="ci 2019-04-18" {_NS}>
  <Results>
    <UnitTestResult executionId="p" testId="t1" testName="Two_pass_one_fails" duration="00:00:00.0372035" outcome="Failed" resultType="DataDrivenTest">
      <InnerResults>
        <UnitTestResult executionId="p0" parentExecutionId="p" testId="t1" testName="Two_pass_one_fails (0)" duration="00:00:00.0051356" outcome="Passed" dataRowInfo="1" resultType="DataDrivenDataRow" />
        <UnitTestResult executionId="p1" parentExecutionId="p" testId="t1" testName="Two_pass_one_fails (1)" duration="00:00:00.0275393" outcome="Failed" dataRowInfo="2" resultType="DataDrivenDataRow">
          <Output><ErrorInfo><Message>Assert.Fail failed. Row 1</Message><StackTrace>   at MsTestSample.DataDriven.Two_pass_one_fails(Int32 arg) in DataDriven.cs:line 16</StackTrace></ErrorInfo></Output>
        </UnitTestResult>
      </InnerResults>
    </UnitTestResult>
    <UnitTestResult executionId="s" testId="t2" testName="Slow_test" duration="00:00:01.0009908" outcome="Passed" />
  </Results>
  <TestDefinitions>
    <UnitTest name="Two_pass_one_fails" id="t1"><TestMethod adapterTypeName="executor://mstestadapter/v2" className="MsTestSample.DataDriven" name="Two_pass_one_fails" /></UnitTest>
    <UnitTest name="Slow_test" id="t2"><TestMethod adapterTypeName="executor://mstestadapter/v2" className="MsTestSample.DataDriven" name="Slow_test" /></UnitTest>
  </TestDefinitions>
  <ResultSummary outcome="Failed">
    <Counters total="4" executed="4" passed="2" failed="2" error="0" timeout="0" aborted="0" inconclusive="0" notExecuted="0" />
  </ResultSummary>
</TestRun>
"""


def test_trx_data_rows_count_once_and_the_parent_says_why_it_failed(tmp_path):
    stream, cases = _read(tmp_path, "rows.trx", MSTEST_DATA_ROWS)
    by_name = {c.name: c for c in cases}
    assert sorted(by_name) == ["Slow_test", "Two_pass_one_fails"]
    parent = by_name["Two_pass_one_fails"]
    assert parent.status == "failed"
    assert parent.attempts[0].message == "Assert.Fail failed. Row 1"
    assert "DataDriven.cs:line 16" in parent.attempts[0].stack_trace
    # The counters' rows are taken out: what is left agrees with the tests read.
    assert stream.info.declared == {"tests": 2, "skipped": 0, "failures": 1, "errors": 0}
    assert not stream.info.warnings


# mstest.exe of Visual Studio 2013, a [DataSource] test: className is assembly-qualified, the
# adapter is MSTest v1's .NET type, each data-driven result holds <Counters> of its own rows,
# and <ResultSummary> comes before <Results>. Seen in jenkinsci/mstest-plugin
# src/test/resources/hudson/plugins/mstest/DataDriven.2013.trx (and the VS 2015 shape in
# gfoidl/trx2junit tests/trx2junit.Tests/data/mstest-warning.trx).
MSTEST_EXE_2013 = f"""<?xml version="1.0" encoding="UTF-8"?>
<TestRun id="r" name="dmel@JENK 2015-04-13 10:11:10" runUser="dmel" {_NS}>
  <ResultSummary outcome="Warning">
    <Counters total="4" executed="4" passed="4" error="0" failed="0" timeout="0" aborted="0" inconclusive="0" notExecuted="0" />
    <RunInfos>
      <RunInfo computerName="JENK" outcome="Warning" timestamp="2015-04-13T10:11:10.7018271-06:00">
        <Text>Warning: Test Run deployment issue: The assembly or module 'Some.Thing' was not found.</Text>
      </RunInfo>
    </RunInfos>
  </ResultSummary>
  <TestDefinitions>
    <UnitTest name="RenameTest" storage="datadriventests2013.dll" id="t1">
      <TestCategory><TestCategoryItem TestCategory="Small" /></TestCategory>
      <TestMethod codeBase="c:/DataDrivenTests2013.dll" adapterTypeName="Microsoft.VisualStudio.TestTools.TestTypes.Unit.UnitTestAdapter, Microsoft.VisualStudio.QualityTools.Tips.UnitTest.Adapter, Version=12.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a" className="DataDrivenTests2013.UnitTest1, DataDrivenTests2013, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" name="RenameTest" />
    </UnitTest>
  </TestDefinitions>
  <Results>
    <UnitTestResult executionId="p" testId="t1" testName="RenameTest" duration="00:00:00.0399662" outcome="Passed" resultType="DataDrivenTest">
      <Counters error="0" failed="0" timeout="0" aborted="0" inconclusive="0" notExecuted="0" passed="3" />
      <InnerResults>
        <UnitTestResult executionId="p1" parentExecutionId="p" testId="t1" testName="RenameTest" duration="00:00:00.0001635" outcome="Passed" dataRowInfo="1" resultType="DataDrivenDataRow" />
        <UnitTestResult executionId="p2" parentExecutionId="p" testId="t1" testName="RenameTest" duration="00:00:00.0000181" outcome="Passed" dataRowInfo="2" resultType="DataDrivenDataRow" />
        <UnitTestResult executionId="p0" parentExecutionId="p" testId="t1" testName="RenameTest" duration="00:00:00.0000090" outcome="Passed" dataRowInfo="0" resultType="DataDrivenDataRow" />
      </InnerResults>
    </UnitTestResult>
  </Results>
</TestRun>
"""


def test_trx_from_mstest_exe_names_the_class_and_keeps_the_run_counters(tmp_path):
    stream, cases = _read(tmp_path, "mstest2013.trx", MSTEST_EXE_2013)
    [case] = cases
    assert (case.framework, case.suite, case.name, case.parameters) == ("mstest", "DataDrivenTests2013.UnitTest1", "RenameTest", None)
    assert case.tags == ["Small"]
    assert stream.info.framework == "mstest"
    # The run's <Counters>, not the last data-driven result's, less the three rows.
    assert stream.info.declared == {"tests": 1, "skipped": 0, "failures": 0, "errors": 0}
    # mstest.exe's run message already says "Warning:"; it is not said twice.
    assert stream.info.warnings == ["Warning: Test Run deployment issue: The assembly or module 'Some.Thing' was not found."]


# Results written as <TestResultAggregation> beside (or instead of) <UnitTestResult>: vstest's
# and mstest.exe's TrxLogger write an ordered test so, its steps as <InnerResults>; trx2junit
# keeps a NUnit-adapter run of that shape in gfoidl/trx2junit
# tests/trx2junit.Tests/data/trx/nunit-testresultaggregation.trx.
AGGREGATIONS = f"""<?xml version="1.0" encoding="utf-8"?>
<TestRun id="r" name="@b1c9b4be3f08 2018-07-10 10:16:56" {_NS}>
  <Results>
    <TestResultAggregation executionId="e1" testId="t1" testName="Failing_test" duration="00:00:00.0540000" outcome="Failed">
      <Output><ErrorInfo><Message>Failing for demo purposes</Message></ErrorInfo></Output>
    </TestResultAggregation>
    <TestResultAggregation executionId="e2" testId="t2" testName="Passing_test" duration="00:00:00.0010000" outcome="Passed" />
  </Results>
  <TestDefinitions>
    <UnitTest name="Failing_test" id="t1"><TestMethod adapterTypeName="executor://nunit3testexecutor/" className="SimpleUnitTest.SimpleTests" name="Failing_test" /></UnitTest>
    <UnitTest name="Passing_test" id="t2"><TestMethod adapterTypeName="executor://nunit3testexecutor/" className="SimpleUnitTest.SimpleTests" name="Passing_test" /></UnitTest>
  </TestDefinitions>
  <ResultSummary outcome="Failed">
    <Counters total="2" executed="2" passed="1" failed="1" error="0" timeout="0" aborted="0" inconclusive="0" notExecuted="0" />
  </ResultSummary>
</TestRun>
"""


def test_trx_test_result_aggregations_are_tests(tmp_path):
    stream, cases = _read(tmp_path, "agg.trx", AGGREGATIONS)
    assert [(c.framework, c.suite, c.name, c.status) for c in cases] == [
        ("nunit", "SimpleUnitTest.SimpleTests", "Failing_test", "failed"),
        ("nunit", "SimpleUnitTest.SimpleTests", "Passing_test", "passed"),
    ]
    assert cases[0].attempts[0].message == "Failing for demo purposes"
    assert not stream.info.warnings


# xunit.runner.visualstudio 2.4.1 (dotnet test --logger trx, 2018) wrote a [Fact]'s className
# as the namespace alone while its theories got the class: seen in estiller/XunitIssueRepro
# TestResults.trx, a repository made to report that bug.
XUNIT_NAMESPACE_CLASSNAME = f"""<?xml version="1.0" encoding="utf-8"?>
<TestRun id="r" name="estil@DESKTOP 2018-12-13 22:44:26" {_NS}>
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="XunitIssueRepro.TestClass.Fact_TestClassNotDisplayedCorrectly" duration="00:00:00.0100000" outcome="Passed" />
    <UnitTestResult executionId="e2" testId="t2" testName="XunitIssueRepro.TestClass.Theory_TestClassDisplayedCorrectly(data: &quot;Hello&quot;)" duration="00:00:00.0010000" outcome="Passed" />
  </Results>
  <TestDefinitions>
    <UnitTest name="XunitIssueRepro.TestClass.Theory_TestClassDisplayedCorrectly(data: &quot;Hello&quot;)" id="t2"><TestMethod adapterTypeName="executor://xunit/VsTestRunner2/netcoreapp" className="XunitIssueRepro.TestClass" name="XunitIssueRepro.TestClass.Theory_TestClassDisplayedCorrectly(data: &quot;Hello&quot;)" /></UnitTest>
    <UnitTest name="XunitIssueRepro.TestClass.Fact_TestClassNotDisplayedCorrectly" id="t1"><TestMethod adapterTypeName="executor://xunit/VsTestRunner2/netcoreapp" className="XunitIssueRepro" name="XunitIssueRepro.TestClass.Fact_TestClassNotDisplayedCorrectly" /></UnitTest>
  </TestDefinitions>
</TestRun>
"""


def test_trx_xunit_fact_with_namespace_for_class_keeps_its_class(tmp_path):
    _stream, cases = _read(tmp_path, "xunit.trx", XUNIT_NAMESPACE_CLASSNAME)
    assert [(c.suite, c.name, c.parameters) for c in cases] == [
        ("XunitIssueRepro.TestClass", "Fact_TestClassNotDisplayedCorrectly", None),
        ("XunitIssueRepro.TestClass", "Theory_TestClassDisplayedCorrectly", '(data: "Hello")'),
    ]


# nunit3-console 3.9 (engine 3.9, framework 3.11) leaves tests whose result is Warning out of
# every total and writes no `warnings` on <test-run>; the assembly's <test-suite> counts them.
# Seen in jenkinsci/nunit-plugin src/test/resources/hudson/plugins/nunit/NUnit-issue56241-warning.xml.
NUNIT3_WARNING = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="2" testcasecount="2" result="Warning" total="1" passed="1" failed="0" inconclusive="0" skipped="0" asserts="0" engine-version="3.9.0.0" start-time="2019-02-22 18:30:28Z" end-time="2019-02-22 18:30:29Z" duration="0.864052">
  <test-suite type="Assembly" id="0-1002" name="UnitTestProject1.dll" fullname="UnitTestProject1.dll" result="Warning" total="1" passed="1" failed="0" warnings="1" inconclusive="0" skipped="0" asserts="0">
    <test-suite type="TestFixture" id="0-1000" name="UnitTest1" fullname="UnitTestProject1.UnitTest1" classname="UnitTestProject1.UnitTest1" result="Warning" total="1" passed="1" failed="0" warnings="1" inconclusive="0" skipped="0" asserts="0">
      <test-case id="0-1001" name="TestMethod1" fullname="UnitTestProject1.UnitTest1.TestMethod1" methodname="TestMethod1" classname="UnitTestProject1.UnitTest1" result="Warning" duration="0.102436" asserts="0">
        <reason><message><![CDATA[Example Warning Messages]]></message></reason>
      </test-case>
      <test-case id="0-1004" name="TestMethod2" fullname="UnitTestProject1.UnitTest1.TestMethod2" methodname="TestMethod2" classname="UnitTestProject1.UnitTest1" result="Passed" duration="0.001" asserts="1" />
    </test-suite>
  </test-suite>
</test-run>
"""


def test_nunit3_totals_without_warnings_are_not_a_disagreement(tmp_path):
    stream, cases = _read(tmp_path, "warning.xml", NUNIT3_WARNING)
    assert [(c.name, c.status) for c in cases] == [("TestMethod1", "passed"), ("TestMethod2", "passed")]
    assert cases[0].attempts[0].message == "Example Warning Messages"
    assert stream.info.declared == {"tests": 2, "skipped": 0}
    assert not stream.info.warnings


def test_nunit3_totals_that_count_warnings_are_kept(tmp_path):
    # A total that already holds the warning (passed + ... != total) gets nothing added.
    text = NUNIT3_WARNING.replace('total="1" passed="1"', 'total="2" passed="1"')
    stream, _cases = _read(tmp_path, "warning2.xml", text)
    assert stream.info.declared == {"tests": 2, "skipped": 0}
    assert not stream.info.warnings


# xUnit.net v3 2.0.3 on Microsoft.Testing.Platform (its TRX extension, 2025) names the adapter by
# the extension's uid only. Seen in dorny/test-reporter __tests__/fixtures/dotnet-xunitv3.trx.
XUNIT_V3_MTP = f"""<?xml version="1.0" encoding="utf-8"?>
<TestRun id="r" name="@Asterix 2025-06-22 14:17:12.022" {_NS}>
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="DotnetTests.XUnitV3Tests.FixtureTests.Failing_Test" duration="00:00:00.0170545" startTime="2025-06-22T14:17:11.9339840+00:00" outcome="Failed">
      <Output><ErrorInfo><Message>Assert.Null() Failure: Value is not null</Message></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult executionId="e2" testId="t2" testName="DotnetTests.XUnitV3Tests.FixtureTests.Passing_Test" duration="00:00:00.0008786" outcome="Passed" />
  </Results>
  <TestDefinitions>
    <UnitTest name="DotnetTests.XUnitV3Tests.FixtureTests.Failing_Test" id="t1"><TestMethod adapterTypeName="executor://30ea7c6e-dd24-4152-a360-1387158cd41d/2.0.3" className="DotnetTests.XUnitV3Tests.FixtureTests" name="DotnetTests.XUnitV3Tests.FixtureTests.Failing_Test" /></UnitTest>
    <UnitTest name="DotnetTests.XUnitV3Tests.FixtureTests.Passing_Test" id="t2"><TestMethod adapterTypeName="executor://30ea7c6e-dd24-4152-a360-1387158cd41d/2.0.3" className="DotnetTests.XUnitV3Tests.FixtureTests" name="DotnetTests.XUnitV3Tests.FixtureTests.Passing_Test" /></UnitTest>
  </TestDefinitions>
  <ResultSummary outcome="Failed">
    <Counters total="2" executed="2" passed="1" failed="1" error="0" timeout="0" aborted="0" inconclusive="0" notExecuted="0" />
  </ResultSummary>
</TestRun>
"""


def test_trx_from_xunit_v3_on_the_testing_platform_is_xunit(tmp_path):
    stream, cases = _read(tmp_path, "xunit3.trx", XUNIT_V3_MTP)
    assert [(c.framework, c.suite, c.name, c.status) for c in cases] == [
        ("xunit", "DotnetTests.XUnitV3Tests.FixtureTests", "Failing_Test", "failed"),
        ("xunit", "DotnetTests.XUnitV3Tests.FixtureTests", "Passing_Test", "passed"),
    ]
    assert stream.info.framework == "xunit"


# NUnit 3.0's first result format (the mock-assembly example of its documentation, 2011): `time`
# where later versions write `duration`, the run's date and clock time in `run-date` and
# `start-time`, and NUnit's own '_SKIPREASON' property beside the <reason>. Seen in
# dorny/test-reporter __tests__/fixtures/external/nunit-sample.xml.
NUNIT3_EARLY = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="2" name="mock-assembly.dll" fullname="D:\\Dev\\mock-assembly.dll" testcasecount="3" result="Failed" time="0.154" total="3" passed="1" failed="1" inconclusive="0" skipped="1" asserts="2" run-date="2011-07-26" start-time="11:34:27">
  <test-suite type="Assembly" id="1036" name="mock-assembly.dll" fullname="D:\\Dev\\mock-assembly.dll" testcasecount="3" result="Failed" time="0.154" total="3" passed="1" failed="1" inconclusive="0" skipped="1" asserts="2">
    <properties><property name="_PID" value="11928" /></properties>
    <test-suite type="TestFixture" id="1000" name="MockTestFixture" fullname="NUnit.Tests.Assemblies.MockTestFixture" testcasecount="3" result="Failed" time="0.119" total="3" passed="1" failed="1" inconclusive="0" skipped="1" asserts="0">
      <test-case id="1005" name="FailingTest" fullname="NUnit.Tests.Assemblies.MockTestFixture.FailingTest" result="Failed" time="0.023" asserts="0">
        <failure><message><![CDATA[Intentional failure]]></message></failure>
      </test-case>
      <test-case id="1001" name="MockTest1" fullname="NUnit.Tests.Assemblies.MockTestFixture.MockTest1" result="Passed" time="0.002" asserts="0">
        <properties><property name="Description" value="Mock Test #1" /></properties>
      </test-case>
      <test-case id="1007" name="MockTest4" fullname="NUnit.Tests.Assemblies.MockTestFixture.MockTest4" result="Skipped" label="Ignored" time="0.000" asserts="0">
        <properties><property name="Category" value="Foo" /><property name="_SKIPREASON" value="ignoring this test method for now" /></properties>
        <reason><message><![CDATA[ignoring this test method for now]]></message></reason>
      </test-case>
    </test-suite>
  </test-suite>
</test-run>
"""


def test_nunit3_early_files_keep_their_times(tmp_path):
    stream, cases = _read(tmp_path, "mock.xml", NUNIT3_EARLY)
    assert [(c.name, c.status, c.duration) for c in cases] == [
        ("FailingTest", "failed", 0.023),
        ("MockTest1", "passed", 0.002),
        ("MockTest4", "skipped", 0.0),
    ]
    assert stream.info.duration == 0.154
    assert stream.info.started_at is not None and stream.info.started_at.isoformat().startswith("2011-07-26T11:34:27")
    assert stream.info.declared == {"tests": 3, "skipped": 1}
    assert not stream.info.warnings


def test_nunit3_own_properties_of_a_test_case_are_left_out(tmp_path):
    _stream, cases = _read(tmp_path, "mock.xml", NUNIT3_EARLY)
    skipped = cases[2]
    assert skipped.properties == {}
    assert skipped.tags == ["Foo"]
    assert skipped.attempts[0].message == "ignoring this test method for now"
    assert cases[1].properties == {"Description": "Mock Test #1"}
