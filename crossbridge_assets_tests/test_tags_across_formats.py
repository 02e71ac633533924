"""Tags and test-management ids (TestRail C123, Jira keys, Zephyr) wherever a tool lets a test
carry them, read from each results format; and no tag where there is none."""

from __future__ import annotations

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
