"""Tags and test-management ids (TestRail C123, Jira keys, Zephyr) wherever a tool lets a test
carry them, read from each results format; and no tag where there is none."""

from __future__ import annotations

import json

import pytest

from crossbridge_assets.formats import FormatError, read_report
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"
TAGS = RESULTS / "tags"
JS = RESULTS / "js"


def _by_name(path):
    _spec, _stream, cases = read_report(path)
    return {c.name: c for c in cases}


# ---------------------------------------------------------------------------- descriptions


def test_description_and_documentation_are_searched_for_ids():
    # TestNG's description, NUnit's and MSTest's Description, Robot's documentation.
    for key in ("description", "Description", "documentation"):
        assert extract_tags("opens", {key: "C6001 and SHOP-3, PROJ-T4"}) == ["C6001", "SHOP-3", "PROJ-T4"]
    # A description is prose: bare numbers in it are not TestRail cases, nor is a standard a key.
    assert extract_tags("opens", {"description": "retries 3 times, reads UTF-8 and ISO-8601"}) == []


def test_testng_description_holds_a_testrail_case():
    """testng/com/acme/ShopTest.java: @Test(groups = {"smoke"}, description = "C6001 the cart opens")."""
    cases = _by_name(RESULTS / "testng" / "testng-results-shop.xml")
    assert cases["openCart"].tags == ["smoke", "C6001"]
    assert cases["openCart"].properties["description"] == "C6001 the cart opens"
    assert all(c.tags == [] for name, c in cases.items() if name != "openCart")


def test_robot_documentation_and_tags():
    """tags/tags.robot run by robot 7.5: Test Tags, [Tags], [Documentation]."""
    cases = _by_name(TAGS / "robot-output.xml")
    assert cases["Pays By Card"].tags == ["shop", "smoke", "C8101", "SHOP-82"]
    assert cases["Pays By Card"].properties["documentation"] == "Covers C8101 and SHOP-82."
    assert cases["Refunds"].tags == ["C8102", "shop"]
    assert cases["Reads Utf8 Names"].tags == ["shop"]


# ---------------------------------------------------------------------------- pytest


def test_pytest_record_property_in_both_reports():
    """tags/tags_tests.py, one run written by --junitxml and by pytest-json-report 1.5: what
    record_property recorded is the test's properties in either, and gives the same tags."""
    junit = _by_name(TAGS / "pytest-junit.xml")
    json_report = _by_name(TAGS / "pytest-json-report.json")
    assert junit.keys() == json_report.keys() == {"test_checkout", "test_refund_C8002", "test_reads_utf8"}
    for name in junit:
        assert junit[name].identity == json_report[name].identity
        assert junit[name].tags == json_report[name].tags
        own = {k: v for k, v in json_report[name].properties.items() if k != "nodeid"}
        assert own == junit[name].properties
    assert json_report["test_checkout"].tags == ["C8001", "SHOP-81"]
    assert json_report["test_checkout"].properties["jira"] == "SHOP-81"
    assert json_report["test_refund_C8002"].tags == ["C8002"]
    assert json_report["test_reads_utf8"].tags == []


def test_pytest_marker_arguments_are_in_neither_report():
    """@pytest.mark.testrail(ids=("C8009",)): pytest-json-report lists the marker's name among the
    keywords (with the test's name, its module, its folders and attributes of the function),
    never its arguments; --junitxml writes nothing of it. So C8009 is nowhere to be read."""
    raw = json.loads((TAGS / "pytest-json-report.json").read_text())
    checkout = next(t for t in raw["tests"] if t["nodeid"].endswith("test_checkout"))
    assert "testrail" in checkout["keywords"] and "C8009" not in json.dumps(raw)
    assert "C8009" not in _by_name(TAGS / "pytest-json-report.json")["test_checkout"].tags


def test_pytest_json_user_properties_of_odd_shapes_are_left_out(tmp_path):
    # pytest-json-report writes what record_property got, when JSON can hold it.
    report = {
        "created": 0, "duration": 0, "exitcode": 0, "root": ".", "environment": {},
        "summary": {"passed": 1, "total": 1, "collected": 1},
        "tests": [{
            "nodeid": "t.py::test_x", "lineno": 0, "outcome": "passed", "keywords": ["test_x"],
            "setup": {"duration": 0, "outcome": "passed"}, "call": {"duration": 0, "outcome": "passed"},
            "teardown": {"duration": 0, "outcome": "passed"},
            "user_properties": [{"tms": ["C1", "C2"]}, "junk", {"nodeid": "other"}, {"case_id": 17}],
        }],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    case = _by_name(path)["test_x"]
    assert case.properties == {"nodeid": "t.py::test_x", "case_id": "17"}
    assert case.tags == ["C17"]


# ---------------------------------------------------------------------------- Playwright, CTRF


def test_playwright_tags_and_annotations_by_three_reporters():
    """js/playwright-tags run by Playwright 1.65: {tag}, @tag in a title, a declared annotation
    and one pushed while the test ran, by its JSON and JUnit reporters and the CTRF reporter."""
    native = _by_name(JS / "playwright-tags.json")
    ctrf = _by_name(JS / "ctrf-tags.json")
    junit = _by_name(JS / "playwright-tags-junit.xml")
    assert native["refunds"].tags == ["shop", "regression", "C7001", "SHOP-42"]
    assert native["prints a receipt"].tags == ["shop", "C7002"]
    assert native["prints a receipt"].properties == {"testrail": "C7002"}
    assert native["pays by card @smoke"].tags == ["shop", "smoke"]
    assert native["reads UTF-8 names"].tags == ["shop"]
    assert native["reads UTF-8 names"].properties == {"encoding": "UTF-8"}
    # The CTRF reporter writes the annotations under `extra`: the same tags as the JSON reporter.
    assert {n: (c.identity, c.tags) for n, c in ctrf.items()} == {n: (c.identity, c.tags) for n, c in native.items()}
    assert ctrf["refunds"].properties["issue"] == "SHOP-42"
    # Playwright's JUnit reporter writes annotations as properties and no tags at all.
    junit_names = {c.name.split(" › ")[-1]: c for c in junit.values()}
    assert junit_names["refunds"].tags == ["SHOP-42"] and junit_names["prints a receipt"].tags == ["C7002"]
    assert junit_names["reads UTF-8 names"].tags == []


@pytest.mark.parametrize(
    "annotations", ["see SHOP-1", [{"type": {"name": "issue"}, "description": "SHOP-1"}], ["C12"], {"type": "issue"}]
)
def test_ctrf_extra_annotations_of_other_shapes_are_no_error(tmp_path, annotations):
    # `extra` is free-form in CTRF: a reporter may put anything under "annotations".
    report = {"results": {"tool": {"name": "custom"}, "summary": {"tests": 1, "passed": 1, "failed": 0,
              "pending": 0, "skipped": 0, "other": 0, "start": 0, "stop": 0},
              "tests": [{"name": "t", "status": "passed", "duration": 1, "extra": {"annotations": annotations}}]}}
    path = tmp_path / "ctrf.json"
    path.write_text(json.dumps(report))
    case = _by_name(path)["t"]
    assert case.tags == []
    assert "issue" not in case.properties


def test_playwright_json_annotation_of_a_wrong_type_is_still_rejected(tmp_path):
    report = json.loads((JS / "playwright-tags.json").read_text())
    report["suites"][0]["suites"][0]["specs"][1]["tests"][0]["annotations"] = [{"type": {"name": "issue"}}]
    path = tmp_path / "pw.json"
    path.write_text(json.dumps(report))
    with pytest.raises(FormatError, match=r"annotations\[0\]\.type"):
        read_report(path)


# ---------------------------------------------------------------------------- NUnit

# NUnit 3 (nunit3-console 3.16) writes a method's [Category], [Description] and [Property] on the
# ParameterizedMethod suite of its [TestCase] runs, and a fixture's [Category] on the fixture.
NUNIT3 = """<?xml version="1.0" encoding="utf-8"?>
<test-run id="0" testcasecount="3" result="Passed" total="3" passed="3" failed="0" inconclusive="0"
  skipped="0" asserts="3" engine-version="3.16.3.0" start-time="2026-01-05 10:00:00Z" duration="0.05">
 <test-suite type="Assembly" id="0-1007" name="Shop.Tests.dll" fullname="/src/Shop.Tests.dll" runstate="Runnable"
   testcasecount="3" result="Passed" total="3" passed="3" failed="0" skipped="0" inconclusive="0" asserts="3">
  <properties><property name="_PID" value="4242" /><property name="_APPDOMAIN" value="domain-1" /></properties>
  <test-suite type="TestSuite" id="0-1006" name="Shop" fullname="Shop" runstate="Runnable" testcasecount="3"
    result="Passed" total="3" passed="3" failed="0" skipped="0" inconclusive="0" asserts="3">
   <test-suite type="TestFixture" id="0-1005" name="CartTests" fullname="Shop.CartTests" classname="Shop.CartTests"
     runstate="Runnable" testcasecount="3" result="Passed" total="3" passed="3" failed="0" skipped="0" inconclusive="0" asserts="3">
    <properties><property name="Category" value="cart" /></properties>
    <test-suite type="ParameterizedMethod" id="0-1003" name="Adds" fullname="Shop.CartTests.Adds"
      classname="Shop.CartTests" runstate="Runnable" testcasecount="2" result="Passed" total="2" passed="2"
      failed="0" skipped="0" inconclusive="0" asserts="2">
     <properties>
      <property name="_JOINTYPE" value="Combinatorial" />
      <property name="Description" value="C8201 adds an item" />
      <property name="TestRail" value="C8202" />
      <property name="Category" value="smoke" />
     </properties>
     <test-case id="0-1001" name="Adds(1)" fullname="Shop.CartTests.Adds(1)" methodname="Adds"
       classname="Shop.CartTests" runstate="Runnable" seed="1" result="Passed" duration="0.01" asserts="1" />
     <test-case id="0-1002" name="Adds(2)" fullname="Shop.CartTests.Adds(2)" methodname="Adds"
       classname="Shop.CartTests" runstate="Runnable" seed="2" result="Passed" duration="0.01" asserts="1">
      <properties><property name="Description" value="two items" /></properties>
     </test-case>
    </test-suite>
    <test-case id="0-1004" name="Empties" fullname="Shop.CartTests.Empties" methodname="Empties"
      classname="Shop.CartTests" runstate="Runnable" seed="3" result="Passed" duration="0.01" asserts="1">
     <properties><property name="Description" value="keeps ISO-8601 dates" /></properties>
    </test-case>
   </test-suite>
  </test-suite>
 </test-suite>
</test-run>
"""


def test_nunit3_method_and_fixture_attributes_reach_their_tests(tmp_path):
    path = tmp_path / "nunit3.xml"
    path.write_text(NUNIT3)
    _spec, _stream, cases = read_report(path)
    by = {(c.name, c.parameters): c for c in cases}
    one, two, empties = by[("Adds", "(1)")], by[("Adds", "(2)")], by[("Empties", None)]
    assert one.tags == ["smoke", "cart", "C8201", "C8202"]
    assert one.properties == {"Description": "C8201 adds an item", "TestRail": "C8202"}
    # A test-case's own property stands over its method's.
    assert two.properties["Description"] == "two items" and two.tags == ["smoke", "cart", "C8202"]
    assert empties.tags == ["cart"] and empties.properties == {"Description": "keeps ISO-8601 dates"}
    assert one.identity != two.identity and one.suite == empties.suite == "Shop.CartTests"


def test_nunit2_fixture_categories_reach_their_tests(corpus_dir):
    """NUnit 2.x, `MockTestFixture` with [Category("FixtureCategory")]: NUnit's category filter
    selects every test of the fixture; their own categories come first."""
    cases = _by_name(corpus_dir / "results/nunit/enricomi__NUnit-correct.xml")
    assert cases["MockTest3"].tags == ["AnotherCategory", "MockCategory", "FixtureCategory"]
    assert cases["MockTest1"].tags == ["FixtureCategory"]
    assert cases["MockTest1"].properties == {"Description": "Mock Test #1"}
    # Tests of other fixtures do not get it.
    assert cases["SomeTest"].tags == []


# ---------------------------------------------------------------------------- TRX

# vstest's TrxLogger: [Owner] as <Owners><Owner name/>, [TestCategory] as <TestCategory>,
# [WorkItem(n)] as <Workitems><Workitem>n</Workitem>, [Description] as <Description>.
TRX = """<?xml version="1.0" encoding="utf-8"?>
<TestRun id="5d0b6a42-0000-0000-0000-000000000001" name="ci 2026-01-05" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Results>
    <UnitTestResult executionId="e1" testId="11111111-0000-0000-0000-000000000001" testName="Pays" computerName="ci"
      duration="00:00:00.0100000" startTime="2026-01-05T10:00:00.0000000+00:00" endTime="2026-01-05T10:00:00.0100000+00:00"
      testType="13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b" outcome="Passed" testListId="8c84fa94-04c1-424b-9868-57a2d4851a1d" />
    <UnitTestResult executionId="e2" testId="11111111-0000-0000-0000-000000000002" testName="Refunds" computerName="ci"
      duration="00:00:00.0100000" startTime="2026-01-05T10:00:00.0000000+00:00" endTime="2026-01-05T10:00:00.0100000+00:00"
      testType="13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b" outcome="Passed" testListId="8c84fa94-04c1-424b-9868-57a2d4851a1d" />
  </Results>
  <TestDefinitions>
    <UnitTest name="Pays" storage="/src/shop.tests.dll" id="11111111-0000-0000-0000-000000000001">
      <Description>C8301 pays by card</Description>
      <Owners><Owner name="alice" /></Owners>
      <TestCategory><TestCategoryItem TestCategory="smoke" /></TestCategory>
      <Workitems><Workitem>4711</Workitem><Workitem>4712</Workitem></Workitems>
      <Execution id="e1" />
      <TestMethod codeBase="/src/shop.tests.dll" adapterTypeName="executor://mstestadapter/v2" className="Shop.PayTests" name="Pays" />
    </UnitTest>
    <UnitTest name="Refunds" storage="/src/shop.tests.dll" id="11111111-0000-0000-0000-000000000002">
      <Description>Refunds in UTF-8 receipts</Description>
      <Execution id="e2" />
      <TestMethod codeBase="/src/shop.tests.dll" adapterTypeName="executor://mstestadapter/v2" className="Shop.PayTests" name="Refunds" />
    </UnitTest>
  </TestDefinitions>
</TestRun>
"""


def test_trx_owner_work_items_description_and_categories(tmp_path):
    path = tmp_path / "run.trx"
    path.write_text(TRX)
    cases = _by_name(path)
    pays, refunds = cases["Pays"], cases["Refunds"]
    assert pays.tags == ["smoke", "C8301"]
    assert pays.properties == {"Description": "C8301 pays by card", "Owner": "alice", "WorkItems": "4711, 4712"}
    # Work item numbers are bare numbers: kept, never made into TestRail cases.
    assert refunds.tags == [] and refunds.properties == {"Description": "Refunds in UTF-8 receipts"}


# ---------------------------------------------------------------------------- no tag where there is none


def test_corpus_reports_get_no_id_from_prose(corpus_dir):
    """The corpus's descriptions and documentation ('Mock Test #1', Robot keyword docs ...) hold
    no id: every id found in its results is written in a name, a tag or an id-named property."""
    from crossbridge_assets.formats._tags import find_ids

    for fmt in ("nunit", "trx", "robot", "testng", "xunit"):
        for path in sorted((corpus_dir / "results" / fmt).iterdir()):
            try:
                _spec, _stream, cases = read_report(path)
            except FormatError:
                continue  # the corpus's malformed files
            for case in cases:
                for key in ("description", "Description", "documentation"):
                    assert not find_ids(case.properties.get(key)), (path.name, case.name)
