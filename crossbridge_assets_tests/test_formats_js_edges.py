"""JavaScript reporters in odd situations: failed mocha hooks (mocha's JSON reporter and
mochawesome on the same run), tests that share a title, Playwright's test.fail(), and JSON of
the right syntax holding values of the wrong type.

The *-hooks.json and playwright-expected-fail.json fixtures are written by the real reporters
from fixtures/results/js/mocha-edges and playwright-edges (regenerate-js.sh)."""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, detect, read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED

JS = Path(__file__).parent / "fixtures" / "results" / "js"


def _read(path: Path):
    _spec, stream, cases = read_report(path)
    return stream, cases


def _write(tmp_path: Path, name: str, doc: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


# ---------------------------------------------------------------- mocha: tests sharing a title


def test_mocha_json_tests_sharing_a_title_keep_their_own_status():
    stream, cases = _read(JS / "mocha-json-hooks.json")
    same = [c for c in cases if c.suite == "Same title"]
    assert [(c.name, c.status) for c in same] == [("works", PASSED), ("works", FAILED), ("works", SKIPPED)]
    assert "strictly equal" in same[1].attempts[0].message
    assert same[0].attempts[0].message is None and same[2].attempts[0].message is None
    assert stream.info.warnings == []


def test_mocha_json_same_title_matched_by_entry_not_by_position(tmp_path):
    """The failing and the pending test listed first: each tests[] entry keeps its own status,
    and two pending tests of one title are both skipped. (Entries shaped as mocha 10's JSON
    reporter writes them, as in mocha-json-hooks.json, declared in another order.)"""
    base = {"title": "works", "fullTitle": "S works", "file": "a.spec.js", "currentRetry": 0}
    failing = {**base, "duration": 2, "err": {"message": "boom", "stack": "Error: boom"}}
    pending = {**base, "err": {}}
    passing = {**base, "duration": 1, "speed": "fast", "err": {}}
    doc = {
        "stats": {"suites": 1, "tests": 4, "passes": 1, "pending": 2, "failures": 1},
        "tests": [failing, pending, passing, pending],
        "pending": [pending, pending],
        "failures": [failing],
        "passes": [passing],
    }
    stream, cases = _read(_write(tmp_path, "dup.json", doc))
    assert [c.status for c in cases] == [FAILED, SKIPPED, PASSED, SKIPPED]
    assert stream.totals.as_dict() == {"tests": 4, "passed": 1, "failures": 1, "errors": 0, "skipped": 2}
    assert stream.info.warnings == []


def test_mocha_json_without_err_in_tests_takes_failures_from_failures(tmp_path):
    """mocha before 1.20 (2014) wrote tests[] entries without `err`: only failures[] tells."""
    a = {"title": "a", "fullTitle": "S a", "duration": 1}
    b = {"title": "b", "fullTitle": "S b", "duration": 1}
    doc = {"stats": {"tests": 2, "passes": 1, "failures": 1}, "tests": [a, b], "failures": [b], "passes": [a]}
    _stream, cases = _read(_write(tmp_path, "old.json", doc))
    assert [(c.name, c.status) for c in cases] == [("a", PASSED), ("b", FAILED)]


# ------------------------------------------------------------------------- mocha: failed hooks


def test_failed_hooks_are_the_same_errored_tests_in_mocha_json_and_mochawesome():
    plain_stream, plain = _read(JS / "mocha-json-hooks.json")
    awesome_stream, awesome = _read(JS / "mochawesome-hooks.json")
    plain_hooks = sorted((c.identity, c.suite, c.name, c.status) for c in plain if c.status == ERROR)
    awesome_hooks = sorted((c.identity, c.suite, c.name, c.status) for c in awesome if c.status == ERROR)
    assert plain_hooks == awesome_hooks
    assert sorted((suite, name) for _i, suite, name, _s in plain_hooks) == [
        ("Accounts", '"before each" hook for "closes an account"'),
        ("Orders", '"before all" hook for "lists orders"'),
        ("Teardown", '"after all" hook for "runs"'),
    ]
    for cases in (plain, awesome):
        messages = {c.name: c.attempts[0].message for c in cases if c.status == ERROR}
        assert "db down" in messages['"before all" hook for "lists orders"']
        assert "cleanup failed" in messages['"after all" hook for "runs"']
        assert all(c.attempts[0].stack_trace for c in cases if c.status == ERROR)
    # mocha's JSON reporter leaves out the tests a hook kept from running; mochawesome lists them
    # as skipped, and they stay skipped. Everything else is the same, test for test.
    extra = Counter((c.identity, c.status) for c in awesome) - Counter((c.identity, c.status) for c in plain)
    assert not Counter((c.identity, c.status) for c in plain) - Counter((c.identity, c.status) for c in awesome)
    skipped = {c.identity: c.name for c in awesome if c.status == SKIPPED}
    assert sorted(skipped[i] for i, status in extra.elements() if status == SKIPPED) == [
        "cancels an order", "closes an account", "lists orders", "renames an account"]
    assert all(status == SKIPPED for _i, status in extra)
    # Both files' own totals, read in these terms (a failed hook is an errored test), agree.
    assert plain_stream.info.warnings == [] and awesome_stream.info.warnings == []
    assert plain_stream.totals.errors == awesome_stream.totals.errors == 3
    assert awesome_stream.totals.as_dict() == {"tests": 12, "passed": 3, "failures": 1, "errors": 3, "skipped": 5}


def test_mochawesome_passed_hooks_are_not_tests(tmp_path):
    doc = json.loads((JS / "mochawesome-hooks.json").read_text())
    orders = doc["results"][0]["suites"][0]
    hook = orders["beforeHooks"][0]
    hook.update(state="passed", fail=False, **{"pass": True}, err={})
    for test in orders["tests"]:
        test.update(state="passed", skipped=False, **{"pass": True})
    _stream, cases = _read(_write(tmp_path, "mochawesome.json", doc))
    assert [(c.name, c.status) for c in cases if c.suite == "Orders"] == [
        ("lists orders", PASSED), ("cancels an order", PASSED)]


# ------------------------------------------------------------------- Playwright: test.fail()


def test_playwright_expected_failure_passes_and_is_not_flaky():
    stream, cases = _read(JS / "playwright-expected-fail.json")
    by_name = {c.name: c for c in cases}
    known = by_name["rounds totals"]
    assert known.status == PASSED and not known.flaky
    assert [a.status for a in known.attempts] == [PASSED]
    assert known.attempts[0].message.startswith("failed as expected: Error: expect(received).toBe(expected)")
    assert "0.30000000000000004" in known.attempts[0].stack_trace, "the real outcome is kept"
    assert known.properties["expectedStatus"] == "failed"
    # test.fail() that passed: Playwright calls it unexpected (and retried it once).
    fixed = by_name["was fixed since"]
    assert fixed.status == FAILED and not fixed.flaky
    assert [a.status for a in fixed.attempts] == [FAILED, FAILED]
    assert {a.message for a in fixed.attempts} == {"Expected to fail, but passed."}
    assert stream.info.warnings == []


def test_playwright_expected_failure_after_a_timeout_is_flaky(tmp_path):
    """A test.fail() test that timed out (not what it expected) and failed on the retry: Playwright
    calls it flaky, and so is it here."""
    doc = json.loads((JS / "playwright-expected-fail.json").read_text())
    test = doc["suites"][0]["suites"][0]["specs"][0]["tests"][0]
    first = copy.deepcopy(test["results"][0])
    first.update(status="timedOut", retry=0, error={"message": "Test timeout of 30000ms exceeded."})
    test["results"][0]["retry"] = 1
    test["results"].insert(0, first)
    test["status"] = "flaky"
    doc["stats"].update(expected=0, flaky=1)
    stream, cases = _read(_write(tmp_path, "pw.json", doc))
    case = next(c for c in cases if c.name == "rounds totals")
    assert case.status == PASSED and case.flaky
    assert [(a.status, a.failure_type) for a in case.attempts] == [(FAILED, "timedOut"), (PASSED, None)]


# ------------------------------------------------------------------ wrong-typed JSON values

SHAPE_REASON = re.compile(
    r"^[\w.\[\]]+: expected (an object|an array|a string), got (null|a boolean|a number|a string|an array|an object)$")


@pytest.mark.parametrize(
    "fixture, where, value, reason",
    [
        ("cucumber.json", (0, "elements", 0, "steps", 0, "result"), "passed",
         "features[0].elements[0].steps[0].result: expected an object, got a string"),
        ("cucumber.json", (0, "elements", 2), "x", "features[0].elements[2]: expected an object, got a string"),
        ("cucumber.json", (0, "tags"), 123, "features[0].tags: expected an array, got a number"),
        ("playwright.json", ("suites", 0, "suites", 0, "specs", 1, "tests"), "x",
         "suites[0].suites[0].specs[1].tests: expected an array, got a string"),
        ("playwright.json", ("suites", 0, "suites", 0, "specs", 1, "tests", 1, "results", 0, "error"), [1],
         "suites[0].suites[0].specs[1].tests[1].results[0].error: expected an object, got an array"),
        ("mocha-json.json", ("tests", 1, "err"), "boom", "tests[1].err: expected an object, got a string"),
        ("mocha-json.json", ("failures", 0, "fullTitle"), [], "failures[0].fullTitle: expected a string, got an array"),
        ("mochawesome.json", ("results", 0, "suites", 0, "beforeHooks"), 1,
         "results[0].suites[0].beforeHooks: expected an array, got a number"),
        ("ctrf.json", ("results", "tests", 1, "retryAttempts"), {"a": 1},
         "results.tests[1].retryAttempts: expected an array, got an object"),
        ("ctrf.json", ("results", "tests", 2), None, "results.tests[2]: expected an object, got null"),
    ],
)
def test_wrong_typed_value_names_where_and_what(tmp_path, fixture, where, value, reason):
    doc = json.loads((JS / fixture).read_text())
    _set(doc, where, value)
    with pytest.raises(FormatError) as info:
        read_report(_write(tmp_path, fixture, doc))
    assert info.value.reason == reason


FUZZED = ["ctrf.json", "cucumber.json", "mocha-json.json", "mochawesome.json", "playwright.json",
          "mocha-json-hooks.json", "mochawesome-hooks.json", "playwright-expected-fail.json"]
# One value of each JSON type (and the usual empty ones); each path gets all of TYPES and two more.
TYPES = [None, "x", 123, [1], {"a": 1}]
MORE = [[], {}, "", -1, 1e308, True, [None], [[]], 10**30]
# The readers hand these to _common.parse_timestamp, whose range checks are not the readers'
# (1e308 there is an OverflowError of its own).
TIMESTAMP_KEYS = {"start", "startTime", "start_timestamp"}
# What the readers never look into (Playwright's config besides version and shard, mochawesome's
# meta) is replaced whole, not value by value.
ONLY = {("config",): ("version", "shard"), ("meta",): ()}


def _paths(value, at=()):
    yield at
    if isinstance(value, dict):
        for key, child in value.items():
            if at in ONLY and key not in ONLY[at]:
                continue
            yield from _paths(child, at + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value[:2]):
            yield from _paths(child, at + (i,))


def _set(doc, where, value):
    """Put `value` at `where` in place; the value it replaces is returned."""
    for step in where[:-1]:
        doc = doc[step]
    was, doc[where[-1]] = doc[where[-1]], value
    return was


def test_wrong_typed_values_anywhere_are_format_errors(tmp_path):
    """Every value the readers reach, replaced by values of other JSON types (seeded, so the
    same run every time): the report is read, or refused with a FormatError that names the
    place; no TypeError, AttributeError or KeyError escapes."""
    rng = random.Random(20240601)
    runs, refused, crashes = 0, 0, []
    path = tmp_path / "fuzzed.json"
    path.write_bytes(b"")
    for name in FUZZED:
        doc = json.loads((JS / name).read_text())
        spec = detect(JS / name)
        for where in [p for p in _paths(doc) if p]:
            for value in TYPES + rng.sample(MORE, 2):
                if value == 1e308 and where[-1] in TIMESTAMP_KEYS:
                    continue
                was = _set(doc, where, value)
                with open(path, "r+b") as fh:  # in place: truncating to nothing first is slow on ext4
                    fh.write(json.dumps(doc).encode())
                    fh.truncate()
                _set(doc, where, was)
                runs += 1
                try:
                    spec.open(path).read_all()
                except FormatError as exc:
                    refused += 1
                    # The JSON parser refuses integers beyond 64 bits itself.
                    if not exc.reason.startswith("malformed JSON: parse error: integer overflow"):
                        assert SHAPE_REASON.match(exc.reason), (name, where, value, exc.reason)
                except Exception as exc:  # noqa: BLE001 - what this test looks for
                    crashes.append((name, where, repr(value), f"{type(exc).__name__}: {exc}"))
    assert crashes == [], crashes[:10]
    assert runs > 5000 and refused > 1000, (runs, refused)
