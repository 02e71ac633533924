"""More shapes of .NET result files (TRX, NUnit) seen in files real tools wrote.

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
