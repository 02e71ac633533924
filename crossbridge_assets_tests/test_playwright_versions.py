"""One Playwright suite run by @playwright/test 1.20, 1.30, 1.40 and 1.65 (fixtures/results/
playwright-versions/, written by each release's json and junit reporters: see the regenerate
script there): every test keeps its identity across releases and between the JSON and the JUnit
file of one run, and the counts are those each release's list reporter printed."""

from __future__ import annotations

from collections import Counter

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "playwright-versions"
JUNIT = ["1.20.2", "1.30.0", "1.40.1", "1.65.1"]
JSON = ["1.20.2", "1.65.1"]
# tags.spec.js runs from 1.42 on (its `tag` detail came then): one more passed test.
TAGGED = ("tags.spec.js.tagged", "with a tag", "[alpha]")
# What each release's list reporter printed at the end of the run: failed, flaky, skipped and
# (from 1.4x's later releases on, counted apart from skipped) did not run, passed.
CONSOLE = {
    "1.20.2": {"failed": 7, "flaky": 2, "skipped": 4, "passed": 15},
    "1.30.0": {"failed": 7, "flaky": 2, "skipped": 4, "passed": 15},
    "1.40.1": {"failed": 7, "flaky": 2, "skipped": 4, "passed": 15},
    "1.65.1": {"failed": 7, "flaky": 2, "skipped": 2, "did not run": 2, "passed": 16},
}
# The junit reporter from 1.4x on joins the describe titles and the test's with ' › ' into one
# name: a title holding ' › ' cannot be told from a describe there (the JSON file and the older
# junit files tell them apart).
AMBIGUOUS = {("main.spec.js", "cart › checkout", "[alpha]"), ("main.spec.js.outer › group", "inside", "[alpha]")}


def _cases(name: str):
    _, _, cases = read_report(HERE / name)
    return cases


def _keys(cases) -> dict:
    by_key = {(c.suite, c.name, c.parameters): c for c in cases}
    assert len(by_key) == len(cases)
    assert {c.framework for c in cases} == {"playwright"}
    return by_key


def _console(cases) -> dict:
    counts = Counter(c.status for c in cases)
    flaky = sum(1 for c in cases if c.status == PASSED and c.properties.get("flaky"))
    return {"failed": counts[FAILED], "flaky": flaky, "skipped": counts[SKIPPED], "passed": counts[PASSED] - flaky}


@pytest.mark.parametrize("version", JSON)
def test_json_counts_are_the_console_summary(version):
    seen = _console(_cases(f"{version}.json"))
    expected = dict(CONSOLE[version])
    expected["skipped"] += expected.pop("did not run", 0)
    assert seen == expected


@pytest.mark.parametrize("version", JUNIT)
def test_junit_counts_are_the_console_summary(version):
    cases = _cases(f"{version}-junit.xml")
    counts = Counter(c.status for c in cases)
    expected = CONSOLE[version]
    # The junit file writes a flaky test's last try only: passed.
    assert (counts[FAILED], counts[SKIPPED], counts[PASSED]) == (
        expected["failed"], expected["skipped"] + expected.get("did not run", 0), expected["passed"] + expected["flaky"])


def test_json_identity_is_the_same_across_releases():
    old, new = _keys(_cases("1.20.2.json")), _keys(_cases("1.65.1.json"))
    assert set(new) - set(old) == {TAGGED}
    for key, case in old.items():
        assert (case.status, [a.status for a in case.attempts]) == (
            new[key].status, [a.status for a in new[key].attempts]), key
        assert case.tags == new[key].tags, key
    assert {k for k in old if "›" in k[0] + k[1]} == AMBIGUOUS


@pytest.mark.parametrize("version", ["1.20.2", "1.30.0"])
def test_old_junit_titles_are_the_json_tests(version):
    """Up to 1.3x the junit classname is '[project] › file[:line:col] › describe › title' and the
    name the titles joined by spaces: the identity is the JSON reporter's, a ' › ' inside a title
    kept where it belongs (it was the whole classname, with the line, and the joined name)."""
    junit = _keys(_cases(f"{version}-junit.xml"))
    json = _keys(_cases("1.20.2.json"))
    assert set(junit) == set(json)
    for key, case in junit.items():
        assert case.status == json[key].status, key
        assert case.file == key[0].split(".spec.js")[0] + ".spec.js"
    assert junit[("main.spec.js", "cart › checkout", "[alpha]")].status == PASSED
    assert junit[("hooks.spec.js.with a broken setup", "two", "[alpha]")].status == SKIPPED


@pytest.mark.parametrize("version", ["1.40.1", "1.65.1"])
def test_new_junit_titles_are_the_json_tests_but_for_titles_with_the_separator(version):
    junit = _keys(_cases(f"{version}-junit.xml"))
    json = _keys(_cases("1.65.1.json" if version == "1.65.1" else "1.20.2.json"))
    assert set(json) - set(junit) == AMBIGUOUS
    for key in set(json) & set(junit):
        assert junit[key].status == json[key].status, key


@pytest.mark.parametrize("version", JUNIT)
def test_junit_messages_are_the_errors_not_the_titles(version):
    """Up to 1.5x the junit reporter's message= is 'main.spec.js:30:1 steps that fail' (and still
    is for a test.fail() test that passed): the message is the error's first line, as 1.65 writes
    it, whichever release wrote the file."""
    junit = _keys(_cases(f"{version}-junit.xml"))
    messages = {k[1]: c.final.message for k, c in junit.items() if c.status == FAILED and k[2] == "[alpha]"}
    timeout = "Timeout of 300ms exceeded." if version == "1.20.2" else "Test timeout of 300ms exceeded."
    assert messages == {
        "one": "setup exploded",
        "known bug that got fixed": "Expected to fail, but passed.",
        "steps that fail": "expect(received).toBe(expected) // Object.is equality",
        "too slow": timeout,
        "adds 2": "expect(received).toBe(expected) // Object.is equality",
        "second fails": "expect(received).toBe(expected) // Object.is equality",
    }
