"""More shapes of .NET result files (NUnit 2/3, TRX, xUnit.net) as the producing tools write them.

Fixtures under fixtures/results/public/ are trimmed copies of public files (SOURCES.md there names
each one's repository and path); fixtures/results/native/nunit-shapes/ is written by NUnit 2.6
here (regenerate-native.sh); the inline NUnit 3 text follows what NUnit 3's framework writes, as
its source and its maintainers' issues show (each says where).
"""

from __future__ import annotations

from pathlib import Path

from crossbridge_assets.formats import open_report

PUBLIC = Path(__file__).parent / "fixtures" / "results" / "public"
NATIVE = Path(__file__).parent / "fixtures" / "results" / "native"


def _read(path: Path):
    stream = open_report(path)
    cases = list(stream)
    return stream, cases


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return _read(path)


# NUnit 3 (3.x console or adapter): a fixture run once per [TestFixture("...")] argument set.
# NUnitTestCaseBuilder gives a test the fixture instance's full name ('Ns.RegionTests("us")')
# but writes the class as `classname`, which both instances share; a [TestCase] method's
# ParameterizedMethod suite and its cases leave the arguments out of their full names
# (nunit/nunit#2363), so only the enclosing TestFixture suite tells the instances apart.
NUNIT3_PARAMETERIZED_FIXTURE = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="2" testcasecount="4" result="Failed" total="4" passed="3" failed="1" warnings="0" inconclusive="0" skipped="0" asserts="4" engine-version="3.12.0.0" start-time="2021-03-01 10:00:00Z" end-time="2021-03-01 10:00:01Z" duration="0.5">
  <test-suite type="Assembly" id="0-1009" name="Acme.Shapes.dll" fullname="/src/Acme.Shapes.dll" runstate="Runnable" testcasecount="4" result="Failed" site="Child" total="4" passed="3" failed="1" warnings="0" inconclusive="0" skipped="0" asserts="4">
    <test-suite type="ParameterizedFixture" id="0-1008" name="RegionTests" fullname="Acme.Shapes.RegionTests" classname="Acme.Shapes.RegionTests" runstate="Runnable" testcasecount="4" result="Failed" site="Child" total="4" passed="3" failed="1" warnings="0" inconclusive="0" skipped="0" asserts="4">
      <test-suite type="TestFixture" id="0-1000" name="RegionTests(&quot;eu.west&quot;)" fullname="Acme.Shapes.RegionTests(&quot;eu.west&quot;)" classname="Acme.Shapes.RegionTests" runstate="Runnable" testcasecount="2" result="Passed" total="2" passed="2" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="2">
        <test-case id="0-1001" name="Reachable" fullname="Acme.Shapes.RegionTests(&quot;eu.west&quot;).Reachable" methodname="Reachable" classname="Acme.Shapes.RegionTests" runstate="Runnable" seed="1" result="Passed" duration="0.01" asserts="1" />
        <test-suite type="ParameterizedMethod" id="0-1003" name="Ping" fullname="Acme.Shapes.RegionTests.Ping" classname="Acme.Shapes.RegionTests" runstate="Runnable" testcasecount="1" result="Passed" total="1" passed="1" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="1">
          <test-case id="0-1002" name="Ping(1)" fullname="Acme.Shapes.RegionTests.Ping(1)" methodname="Ping" classname="Acme.Shapes.RegionTests" runstate="Runnable" seed="2" result="Passed" duration="0.01" asserts="1" />
        </test-suite>
      </test-suite>
      <test-suite type="TestFixture" id="0-1004" name="RegionTests(&quot;us&quot;)" fullname="Acme.Shapes.RegionTests(&quot;us&quot;)" classname="Acme.Shapes.RegionTests" runstate="Runnable" testcasecount="2" result="Failed" site="Child" total="2" passed="1" failed="1" warnings="0" inconclusive="0" skipped="0" asserts="2">
        <test-case id="0-1005" name="Reachable" fullname="Acme.Shapes.RegionTests(&quot;us&quot;).Reachable" methodname="Reachable" classname="Acme.Shapes.RegionTests" runstate="Runnable" seed="3" result="Failed" duration="0.01" asserts="1">
          <failure><message><![CDATA[  Expected: not "us"]]></message></failure>
        </test-case>
        <test-suite type="ParameterizedMethod" id="0-1007" name="Ping" fullname="Acme.Shapes.RegionTests.Ping" classname="Acme.Shapes.RegionTests" runstate="Runnable" testcasecount="1" result="Passed" total="1" passed="1" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="1">
          <test-case id="0-1006" name="Ping(1)" fullname="Acme.Shapes.RegionTests.Ping(1)" methodname="Ping" classname="Acme.Shapes.RegionTests" runstate="Runnable" seed="4" result="Passed" duration="0.01" asserts="1" />
        </test-suite>
      </test-suite>
    </test-suite>
  </test-suite>
</test-run>
"""


def test_nunit3_parameterized_fixture_instances_are_distinct_tests(tmp_path):
    stream, cases = _write(tmp_path, "fixture-args.xml", NUNIT3_PARAMETERIZED_FIXTURE)
    got = [(c.suite, c.name, c.parameters, c.status) for c in cases]
    assert got == [
        ('Acme.Shapes.RegionTests("eu.west")', "Reachable", None, "passed"),
        ('Acme.Shapes.RegionTests("eu.west")', "Ping", "(1)", "passed"),
        ('Acme.Shapes.RegionTests("us")', "Reachable", None, "failed"),
        ('Acme.Shapes.RegionTests("us")', "Ping", "(1)", "passed"),
    ]
    assert len({c.identity for c in cases}) == 4
    assert not stream.info.warnings


def test_nunit3_parameterized_fixture_matches_nunit2_identity():
    # NUnit 2.6 names the fixture instance in the test's own name: the same test, the same id.
    _, cases2 = _read(NATIVE / "nunit-shapes" / "TestResult.xml")
    suites2 = {c.suite for c in cases2 if c.name == "Reachable"}
    assert suites2 == {'Acme.Shapes.RegionTests("eu.west")', 'Acme.Shapes.RegionTests("us")'}


# NUnit 3 writes a test's `classname` as the CLR Type.FullName (TypeWrapper.FullName), which for
# an instance of a generic fixture names the runtime's assembly and version: the fixture suite's
# own full name ('Ns.BoxTests<Int32>', TypeHelper.GetDisplayName) stays the same across runtimes.
NUNIT3_GENERIC_FIXTURE = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="2" testcasecount="2" result="Passed" total="2" passed="2" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0" engine-version="3.16.3.0" start-time="2023-05-01 10:00:00Z" end-time="2023-05-01 10:00:01Z" duration="0.2">
  <test-suite type="Assembly" id="0-1005" name="Acme.Shapes.dll" fullname="/src/Acme.Shapes.dll" runstate="Runnable" testcasecount="2" result="Passed" total="2" passed="2" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0">
    <test-suite type="GenericFixture" id="0-1004" name="BoxTests&lt;T&gt;" fullname="Acme.Shapes.BoxTests&lt;T&gt;" runstate="Runnable" testcasecount="2" result="Passed" total="2" passed="2" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0">
      <test-suite type="TestFixture" id="0-1000" name="BoxTests&lt;Int32&gt;" fullname="Acme.Shapes.BoxTests&lt;Int32&gt;" classname="Acme.Shapes.BoxTests`1[[System.Int32, System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]]" runstate="Runnable" testcasecount="1" result="Passed" total="1" passed="1" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0">
        <test-case id="0-1001" name="Holds" fullname="Acme.Shapes.BoxTests&lt;Int32&gt;.Holds" methodname="Holds" classname="Acme.Shapes.BoxTests`1[[System.Int32, System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]]" runstate="Runnable" seed="1" result="Passed" duration="0.001" asserts="0" />
      </test-suite>
      <test-suite type="TestFixture" id="0-1002" name="BoxTests&lt;String&gt;" fullname="Acme.Shapes.BoxTests&lt;String&gt;" classname="Acme.Shapes.BoxTests`1[[System.String, System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]]" runstate="Runnable" testcasecount="1" result="Passed" total="1" passed="1" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0">
        <test-case id="0-1003" name="Holds" fullname="Acme.Shapes.BoxTests&lt;String&gt;.Holds" methodname="Holds" classname="Acme.Shapes.BoxTests`1[[System.String, System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]]" runstate="Runnable" seed="2" result="Passed" duration="0.001" asserts="0" />
      </test-suite>
    </test-suite>
  </test-suite>
</test-run>
"""


def test_nunit3_generic_fixture_is_named_without_the_runtime_version(tmp_path):
    _, cases = _write(tmp_path, "generic.xml", NUNIT3_GENERIC_FIXTURE)
    assert [(c.suite, c.name) for c in cases] == [
        ("Acme.Shapes.BoxTests<Int32>", "Holds"),
        ("Acme.Shapes.BoxTests<String>", "Holds"),
    ]
    # NUnit 2.6 spells the same fixture instances alike.
    _, cases2 = _read(NATIVE / "nunit-shapes" / "TestResult.xml")
    assert {c.suite for c in cases2 if c.name == "Holds"} == {c.suite for c in cases}


def test_nunit2_argument_spellings_and_not_runnable_tests():
    stream, cases = _read(NATIVE / "nunit-shapes" / "TestResult.xml")
    echo = [(c.parameters, c.status) for c in cases if c.name == "Echo"]
    assert echo == [
        ('("a, b")', "failed"),
        ('("(x).y")', "passed"),
        ('("say \\"hi\\"")', "passed"),
        ('("")', "passed"),
        ("(null)", "passed"),
        ("('c')", "passed"),
        ("(1.5d)", "passed"),
    ]
    assert {c.suite for c in cases if c.name == "Echo"} == {"Acme.Shapes.ArgTests"}
    [invalid] = [c for c in cases if c.name == "NeedsArgument"]
    assert invalid.status == "skipped" and invalid.attempts[0].message == "No arguments were provided"
    [nested] = [c for c in cases if c.name == "Works"]
    assert nested.suite == "Acme.Shapes.Outer+InnerTests"
    # nunit-console: "Tests run: 13 ... Not run: 1, Invalid: 1"; every test-case read once.
    assert stream.totals.as_dict() == {"tests": 14, "passed": 11, "failures": 2, "errors": 0, "skipped": 1}
    assert len({c.identity for c in cases}) == 14


# NUnit 3 before 3.14 (nunit/nunit#2466, #3150): a fixture whose [OneTimeSetUp] threw is
# result="Failed" label="Error" site="SetUp" with the exception and its trace; each of its tests
# is failed with site="Parent" and only "OneTimeSetUp: <message>". A [OneTimeTearDown] that throws
# fails the fixture alone (site="TearDown", TestResult.RecordTearDownException: "TearDown : ..."
# and "--TearDown" before the trace) and counts no test; a fixture NUnit cannot build is
# NotRunnable, label="Invalid", with no test-case in it (nunit/nunit#320), and so is an assembly
# the engine could not load, with no site at all (the engine's shape quoted in nunit/nunit#668).
NUNIT3_FIXTURE_FAILURES = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="2" testcasecount="3" result="Failed" total="3" passed="1" failed="2" warnings="0" inconclusive="0" skipped="0" asserts="0" engine-version="3.12.0.0" start-time="2020-02-01 10:00:00Z" end-time="2020-02-01 10:00:01Z" duration="0.3">
  <test-suite type="Assembly" id="0-1009" name="Acme.Shop.Tests.dll" fullname="/src/Acme.Shop.Tests.dll" runstate="Runnable" testcasecount="3" result="Failed" site="Child" total="3" passed="1" failed="2" warnings="0" inconclusive="0" skipped="0" asserts="0">
    <failure><message><![CDATA[One or more child tests had errors]]></message></failure>
    <test-suite type="TestFixture" id="0-1000" name="DatabaseTests" fullname="Acme.Shop.DatabaseTests" classname="Acme.Shop.DatabaseTests" runstate="Runnable" testcasecount="2" result="Failed" label="Error" site="SetUp" total="2" passed="0" failed="2" warnings="0" inconclusive="0" skipped="0" asserts="0">
      <failure>
        <message><![CDATA[System.InvalidOperationException : cannot connect]]></message>
        <stack-trace><![CDATA[   at Acme.Shop.DatabaseTests.Connect() in /src/DatabaseTests.cs:line 12
]]></stack-trace>
      </failure>
      <test-case id="0-1001" name="Reads" fullname="Acme.Shop.DatabaseTests.Reads" methodname="Reads" classname="Acme.Shop.DatabaseTests" runstate="Runnable" seed="1" result="Failed" label="Error" site="Parent" duration="0.000" asserts="0">
        <failure><message><![CDATA[OneTimeSetUp: System.InvalidOperationException : cannot connect]]></message></failure>
      </test-case>
      <test-case id="0-1002" name="Writes" fullname="Acme.Shop.DatabaseTests.Writes" methodname="Writes" classname="Acme.Shop.DatabaseTests" runstate="Runnable" seed="2" result="Failed" label="Error" site="Parent" duration="0.000" asserts="0">
        <failure><message><![CDATA[OneTimeSetUp: System.InvalidOperationException : cannot connect]]></message></failure>
      </test-case>
    </test-suite>
    <test-suite type="TestFixture" id="0-1003" name="CartTests" fullname="Acme.Shop.CartTests" classname="Acme.Shop.CartTests" runstate="Runnable" testcasecount="1" result="Failed" label="Error" site="TearDown" total="1" passed="1" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0">
      <failure>
        <message><![CDATA[TearDown : System.InvalidOperationException : disconnect failed]]></message>
        <stack-trace><![CDATA[--TearDown
   at Acme.Shop.CartTests.Disconnect() in /src/CartTests.cs:line 20
]]></stack-trace>
      </failure>
      <test-case id="0-1004" name="Runs" fullname="Acme.Shop.CartTests.Runs" methodname="Runs" classname="Acme.Shop.CartTests" runstate="Runnable" seed="3" result="Passed" duration="0.001" asserts="0" />
    </test-suite>
    <test-suite type="TestFixture" id="0-1005" name="PriceTests" fullname="Acme.Shop.PriceTests" classname="Acme.Shop.PriceTests" runstate="NotRunnable" testcasecount="0" result="Failed" label="Invalid" site="SetUp" total="0" passed="0" failed="0" warnings="0" inconclusive="0" skipped="0" asserts="0">
      <properties>
        <property name="_SKIPREASON" value="Acme.Shop.PriceTests does not have a default constructor" />
      </properties>
      <failure><message><![CDATA[Acme.Shop.PriceTests does not have a default constructor]]></message></failure>
    </test-suite>
  </test-suite>
  <test-suite type="Assembly" id="68-1" name="Acme.Shop.dll" fullname="/src/Acme.Shop.dll" testcasecount="0" runstate="NotRunnable" result="Failed" label="Invalid">
    <properties>
      <property name="_SKIPREASON" value="Unable to locate a driver for /src/Acme.Shop.dll" />
    </properties>
    <reason>
      <message>Unable to locate a driver for /src/Acme.Shop.dll</message>
    </reason>
  </test-suite>
</test-run>
"""


def test_nunit3_one_time_setup_failure_gives_its_tests_the_fixture_trace(tmp_path):
    stream, cases = _write(tmp_path, "fixture-failures.xml", NUNIT3_FIXTURE_FAILURES)
    reads, writes, runs = cases
    for case in (reads, writes):
        assert case.status == "error"
        attempt = case.attempts[0]
        assert attempt.message == "OneTimeSetUp: System.InvalidOperationException : cannot connect"
        assert attempt.stack_trace == "at Acme.Shop.DatabaseTests.Connect() in /src/DatabaseTests.cs:line 12"
    assert runs.status == "passed"
    # NUnit's own count: the teardown failure fails no test.
    assert stream.totals.as_dict() == {"tests": 3, "passed": 1, "failures": 0, "errors": 2, "skipped": 0}


def test_nunit3_fixture_failures_outside_any_test_are_reported(tmp_path):
    stream, _ = _write(tmp_path, "fixture-failures.xml", NUNIT3_FIXTURE_FAILURES)
    assert stream.info.warnings == [
        "TearDown Error in Acme.Shop.CartTests: TearDown : System.InvalidOperationException : disconnect failed",
        "SetUp Invalid in Acme.Shop.PriceTests: Acme.Shop.PriceTests does not have a default constructor",
        "Invalid in /src/Acme.Shop.dll: Unable to locate a driver for /src/Acme.Shop.dll",
    ]


def test_trx_inconclusive_results_are_executed_in_mstest_counters():
    # mstest.exe counts an Inconclusive result as executed (the original: total 37 = executed 37
    # = passed 20 + failed 8 + inconclusive 9); it is read as skipped, with its reason kept.
    stream, cases = _read(PUBLIC / "pickles-mstest-inconclusive.trx")
    assert [(c.name, c.status) for c in cases] == [
        ("FailingFeatureInconclusiveScenario", "skipped"),
        ("FailingFeaturePassingScenario", "passed"),
        ("InconclusiveFeatureInconclusiveScenario", "skipped"),
    ]
    assert cases[0].attempts[0].failure_type == "Inconclusive"
    assert cases[0].attempts[0].message.startswith("Assert.Inconclusive failed.")
    assert stream.info.declared == {"tests": 3, "skipped": 2, "failures": 0, "errors": 0}
    assert not stream.info.warnings


# Microsoft.Testing.Platform's TRX report (microsoft/testfx TrxReportEngine.Metadata.cs) writes a
# timed-out test as outcome="Failed" and counts it in `timeout` only: executed = passed + failed,
# total = passed + failed + skipped + timed out.
_NS = 'xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"'
MTP_TIMEOUT = f"""<?xml version="1.0" encoding="utf-8"?>
<TestRun id="r" name="runner@ci 2025-03-01 10:00:00.000" {_NS}>
  <Times creation="2025-03-01T10:00:00Z" queuing="2025-03-01T10:00:00Z" start="2025-03-01T10:00:00Z" finish="2025-03-01T10:00:09Z" />
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="Passes" computerName="ci" duration="00:00:00.0100000" testType="13CDC9D9-DDB5-4fa4-A97D-D965CCFC6D4B" outcome="Passed" testListId="8C84FA94-04C1-424b-9868-57A2D4851A1D" />
    <UnitTestResult executionId="e2" testId="t2" testName="Hangs" computerName="ci" duration="00:00:05.0000000" testType="13CDC9D9-DDB5-4fa4-A97D-D965CCFC6D4B" outcome="Failed" testListId="8C84FA94-04C1-424b-9868-57A2D4851A1D">
      <Output><ErrorInfo><Message>Test 'Hangs' timed out after 5000ms</Message></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult executionId="e3" testId="t3" testName="Later" computerName="ci" duration="00:00:00" testType="13CDC9D9-DDB5-4fa4-A97D-D965CCFC6D4B" outcome="NotExecuted" testListId="8C84FA94-04C1-424b-9868-57A2D4851A1D" />
  </Results>
  <TestDefinitions>
    <UnitTest name="Passes" storage="/src/acme.tests.dll" id="t1"><Execution id="e1" /><TestMethod codeBase="/src/Acme.Tests.dll" adapterTypeName="executor://MSTestExtension/3.8.0" className="Acme.Tests.Shop" name="Passes" /></UnitTest>
    <UnitTest name="Hangs" storage="/src/acme.tests.dll" id="t2"><Execution id="e2" /><TestMethod codeBase="/src/Acme.Tests.dll" adapterTypeName="executor://MSTestExtension/3.8.0" className="Acme.Tests.Shop" name="Hangs" /></UnitTest>
    <UnitTest name="Later" storage="/src/acme.tests.dll" id="t3"><Execution id="e3" /><TestMethod codeBase="/src/Acme.Tests.dll" adapterTypeName="executor://MSTestExtension/3.8.0" className="Acme.Tests.Shop" name="Later" /></UnitTest>
  </TestDefinitions>
  <ResultSummary outcome="Failed">
    <Counters total="3" executed="1" passed="1" failed="0" error="0" timeout="1" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="1" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />
  </ResultSummary>
</TestRun>
"""


def test_trx_from_the_testing_platform_counts_a_timeout_as_a_failure_not_a_skip(tmp_path):
    stream, cases = _write(tmp_path, "mtp-timeout.trx", MTP_TIMEOUT)
    assert [(c.name, c.status) for c in cases] == [("Passes", "passed"), ("Hangs", "failed"), ("Later", "skipped")]
    assert stream.info.declared == {"tests": 3, "skipped": 1, "failures": 1, "errors": 0}
    assert not stream.info.warnings


def test_trx_result_without_a_duration_takes_it_from_its_start_and_end():
    # mstest.exe of Visual Studio 2008 writes startTime and endTime but no duration; its
    # TextMessages are the test's own output.
    _, [case] = _read(PUBLIC / "mstest-2008-no-duration.trx")
    assert (case.framework, case.suite, case.name, case.status) == ("mstest", "FunctionsTest.FibonacciTest", "HasTargetTest", "passed")
    assert case.duration == 7.610011
    assert case.attempts[0].stdout.splitlines() == [
        "given RomanCalc object exists",
        "when args I and II are passed to the Add Method",
        "then III is returned",
    ]


# xunit.console (v2) writes a test's display name, a failure's message and a skip reason through
# XmlTestExecutionVisitor.XmlEscape (xunit/xunit src/xunit.runner.utility/Visitors): '\' -> '\\',
# '"' -> '\"', newline -> '\n', a control character -> '\xNN' (xunit/xunit#1294); the stack trace
# is written as it is. vstest's TRX and xunit v3 write the name itself.
XUNIT2_CONSOLE_ESCAPED = r"""<?xml version="1.0" encoding="utf-8"?>
<assemblies timestamp="03/01/2020 10:00:00">
  <assembly name="/src/Acme.Tests.dll" environment="64-bit .NET Core 3.1.2 [collection-per-class, parallel (2 threads)]" test-framework="xUnit.net 2.4.1.0" run-date="2020-03-01" run-time="10:00:00" total="3" passed="1" failed="1" skipped="1" time="0.050" errors="0">
    <errors />
    <collection total="3" passed="1" failed="1" skipped="1" name="Test collection for Acme.Tests.TextTests" time="0.020">
      <test name="Acme.Tests.TextTests.Trims(input: \&quot;  a, b \&quot;, expected: \&quot;a, b\&quot;)" type="Acme.Tests.TextTests" method="Trims" time="0.0100000" result="Pass" />
      <test name="Acme.Tests.TextTests.Splits(path: \&quot;C:\\temp\\x\&quot;)" type="Acme.Tests.TextTests" method="Splits" time="0.0050000" result="Fail">
        <failure exception-type="Xunit.Sdk.EqualException">
          <message><![CDATA[Assert.Equal() Failure\n          ↓ (pos 2)\nExpected: C:\\temp\nActual:   C:/temp]]></message>
          <stack-trace><![CDATA[   at Acme.Tests.TextTests.Splits(String path) in C:\src\TextTests.cs:line 20]]></stack-trace>
        </failure>
      </test>
      <test name="Acme.Tests.TextTests.Later" type="Acme.Tests.TextTests" method="Later" time="0" result="Skip">
        <reason><![CDATA[needs \"the\" fix\nfirst]]></reason>
      </test>
    </collection>
  </assembly>
</assemblies>
"""

# The same run as xunit.runner.visualstudio writes it to TRX: the names as they are.
XUNIT2_TRX = f"""<?xml version="1.0" encoding="utf-8"?>
<TestRun id="r" name="ci 2020-03-01 10:00:00" {_NS}>
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="Acme.Tests.TextTests.Trims(input: &quot;  a, b &quot;, expected: &quot;a, b&quot;)" duration="00:00:00.0100000" outcome="Passed" />
    <UnitTestResult executionId="e2" testId="t2" testName="Acme.Tests.TextTests.Splits(path: &quot;C:\\temp\\x&quot;)" duration="00:00:00.0050000" outcome="Failed" />
  </Results>
  <TestDefinitions>
    <UnitTest name="Acme.Tests.TextTests.Trims(input: &quot;  a, b &quot;, expected: &quot;a, b&quot;)" id="t1"><TestMethod adapterTypeName="executor://xunit/VsTestRunner2/netcoreapp" className="Acme.Tests.TextTests" name="Trims" /></UnitTest>
    <UnitTest name="Acme.Tests.TextTests.Splits(path: &quot;C:\\temp\\x&quot;)" id="t2"><TestMethod adapterTypeName="executor://xunit/VsTestRunner2/netcoreapp" className="Acme.Tests.TextTests" name="Splits" /></UnitTest>
  </TestDefinitions>
</TestRun>
"""


def test_xunit2_console_names_and_messages_are_read_unescaped(tmp_path):
    stream, cases = _write(tmp_path, "xunit2.xml", XUNIT2_CONSOLE_ESCAPED)
    trims, splits, later = cases
    assert (trims.name, trims.parameters) == ("Trims", '(input: "  a, b ", expected: "a, b")')
    assert (splits.name, splits.parameters) == ("Splits", '(path: "C:\\temp\\x")')
    assert splits.attempts[0].message == "Assert.Equal() Failure\n          ↓ (pos 2)\nExpected: C:\\temp\nActual:   C:/temp"
    assert splits.attempts[0].stack_trace == r"at Acme.Tests.TextTests.Splits(String path) in C:\src\TextTests.cs:line 20"
    assert later.attempts[0].message == 'needs "the" fix\nfirst'
    # The same tests read from the TRX of the same run have the same identities.
    _, trx_cases = _write(tmp_path, "xunit2.trx", XUNIT2_TRX)
    assert [c.identity for c in trx_cases] == [trims.identity, splits.identity]


def test_xunit_names_written_as_they_are_are_left_alone(tmp_path):
    # The vstest xunit logger (spekt XunitXml.TestLogger) writes names and messages unescaped: a
    # name with bare quotes and a message with real line breaks are taken as they are.
    text = XUNIT2_CONSOLE_ESCAPED.replace('\\&quot;', '&quot;').replace("Failure\\n", "Failure\n")
    _, cases = _write(tmp_path, "spekt.xml", text)
    assert cases[0].parameters == '(input: "  a, b ", expected: "a, b")'
    assert cases[1].parameters == '(path: "C:\\\\temp\\\\x")'
    assert cases[1].attempts[0].message.startswith("Assert.Equal() Failure\n          ↓ (pos 2)\\nExpected: C:\\\\temp")


def test_xunit2_console_cleanup_failure_is_reported_with_its_message_unescaped(tmp_path):
    # An <error> of xunit.console's <errors> (XmlTestExecutionVisitor.AddError): a class
    # fixture's Dispose threw after its tests ran; xunit counts it in `errors`, not as a test.
    text = XUNIT2_CONSOLE_ESCAPED.replace(
        "<errors />",
        '<errors><error type="test-class-cleanup" name="Acme.Tests.TextTests">'
        '<failure exception-type="System.InvalidOperationException"><message><![CDATA[System.InvalidOperationException : '
        'dispose \\"db\\" failed\\nsecond line]]></message><stack-trace><![CDATA[   at Acme.Tests.Db.Dispose()]]></stack-trace>'
        "</failure></error></errors>",
    )
    stream, cases = _write(tmp_path, "xunit2-errors.xml", text)
    assert len(cases) == 3
    assert stream.info.warnings == [
        'test-class-cleanup in Acme.Tests.TextTests: System.InvalidOperationException : dispose "db" failed'
    ]
