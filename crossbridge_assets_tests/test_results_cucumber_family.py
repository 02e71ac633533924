"""The Cucumber JSON and JUnit files of cucumber-js 7 to 13, Ruby's cucumber and Perl's pherkin,
read as each tool counts its run (fixtures/results/cucumberfam/, written by the real tools on one
set of features; the tools' summary lines in summaries.txt there, and the regenerate script)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from crossbridge_assets.formats import UnknownFormat, read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "cucumberfam"

# Every version's JSON reads alike (the oldest and the newest are kept).
JS_JSON = ("7.3.2", "13.3.0")
# cucumber-js's own JUnit formatter up to 11.0; @cucumber/junit-xml-formatter from 11.1.
JS_OWN_JUNIT = ("8.9.1", "8.11.1", "9.6.0", "10.8.0")
JS_MESSAGES_JUNIT = ("11.3.0", "12.2.0", "13.3.0")


def _read(name: str):
    _spec, stream, cases = read_report(HERE / name)
    return stream, cases


def _summary(label: str) -> dict[str, int]:
    """The tool's '20 scenarios (7 failed, 1 pending, ...)' line as {'tests': 20, 'failed': 7, ...}."""
    for line in (HERE / "summaries.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(label + ": "):
            total, _, rest = line[len(label) + 2:].partition(" (")
            counts = {"tests": int(total.split()[0])}
            for part in re.findall(r"(\d+) (\w+)", rest):
                counts[part[1]] = int(part[0])
            return counts
    raise AssertionError(f"no summary for {label}")


def _as_read(counts: dict[str, int]) -> dict[str, int]:
    """The summary as the readers count: not-run scenarios (pending, undefined, ambiguous,
    skipped) are skipped (shared/corpus/README.md's Cucumber rule)."""
    not_run = sum(counts.get(k, 0) for k in ("pending", "undefined", "ambiguous", "skipped"))
    return {"tests": counts["tests"], "passed": counts.get("passed", 0), "failures": counts.get("failed", 0),
            "errors": 0, "skipped": not_run}


def _by_key(cases):
    return {(c.suite, c.name, c.parameters): c for c in cases}


# cucumber-js ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", JS_JSON)
def test_cucumber_js_json_counts_scenarios_as_cucumber_js_does(version):
    stream, cases = _read(f"js-{version}.json")
    assert stream.totals.as_dict() == _as_read(_summary(f"cucumber-js {version}"))
    assert stream.info.warnings == []


@pytest.mark.parametrize("version", JS_OWN_JUNIT + JS_MESSAGES_JUNIT)
def test_cucumber_js_junit_counts_scenarios_as_cucumber_js_does(version):
    stream, cases = _read(f"js-{version}-junit.xml")
    assert (stream.info.format, stream.info.framework) == ("junit", "cucumber")
    assert stream.totals.as_dict() == _as_read(_summary(f"cucumber-js {version}"))
    assert stream.info.warnings == []


@pytest.mark.parametrize("name", [f"js-{v}.json" for v in JS_JSON] + [f"js-{v}-junit.xml" for v in JS_OWN_JUNIT + JS_MESSAGES_JUNIT])
def test_cucumber_js_scenarios_keep_their_own_identity(name):
    _stream, cases = _read(name)
    # Two features named 'Checkout' (features/billing/ and features/legacy/) both have a scenario
    # 'paying the cart': the later one is the name's repeat '[1]', in the JSON as in the JUnit
    # files (cucumber-js's own JUnit formatter writes 'paying the cart [1]').
    assert len({c.identity for c in cases}) == len(cases) == 20
    by_key = _by_key(cases)
    assert by_key[("Checkout", "paying the cart", None)].status == PASSED
    assert by_key[("Checkout", "paying the cart", "[1]")].status == FAILED
    assert "Expected values to be strictly equal" in by_key[("Checkout", "paying the cart", "[1]")].final.message


@pytest.mark.parametrize("name", [f"js-{v}.json" for v in JS_JSON] + [f"js-{v}-junit.xml" for v in JS_OWN_JUNIT + JS_MESSAGES_JUNIT])
def test_cucumber_js_scenarios_by_outcome(name):
    _stream, cases = _read(name)
    by_key = _by_key(cases)
    status = {(s, n, p): c.status for (s, n, p), c in by_key.items()}
    # A failing Before or After hook fails its scenario; a failing Background fails every scenario.
    assert status["Checkout", "paying at a closed till", None] == FAILED
    assert "cannot open the till" in by_key["Checkout", "paying at a closed till", None].final.message
    assert status["Checkout", "paying and closing", None] == FAILED
    assert "cannot close the till" in by_key["Checkout", "paying and closing", None].final.message
    assert status["Closed shop", "paying the cart", None] == status["Closed shop", "paying too much", None] == FAILED
    # Not run to the end: skipped, the reason in the message where the file says it.
    for title, why in (("paying with a voucher", "pending"), ("paying by phone", "undefined"),
                       ("paying in cash", "ambiguous"), ("paying later", "skipped")):
        assert status["Checkout", title, None] == SKIPPED, title
    if not name.endswith(".xml"):
        assert by_key["Checkout", "paying later", None].final.message == "skipped steps"
    # Left out by the tag expression: not in the file at all.
    assert not any(c.name == "paying with crypto" for c in cases)
    # --retry 1: the last attempt only, in both formatters.
    assert status["Checkout", "paying twice", None] == PASSED
    assert len(by_key["Checkout", "paying twice", None].attempts) == 1
    # A data table, a doc string and a title that is not ASCII.
    assert status["Checkout", "printing a receipt", None] == PASSED
    assert status["Checkout", "Bezahlen mit Äpfeln – 支付", None] == PASSED


def _rule_free(cases):
    """Scenarios and outline rows named as the JSON names them: the JUnit formatters put a Rule's
    name (and @cucumber/junit-xml-formatter, an Examples table's, for an outline whose title has
    no <placeholder>) before the scenario's, which a title may hold too (see formats/junit.py)."""
    out = {}
    for c in cases:
        name = c.name
        for prefix in ("refunds need a receipt: ", "refunds need a receipt - "):
            name = name.removeprefix(prefix)
        name = {"paying apples - first": "paying apples", "paying apples - second": "paying apples"}.get(name, name)
        parameters = "[1]" if c.name == "refunds need a receipt - paying apples - second" else c.parameters
        out[c.suite, name, parameters] = c.status
    return out


@pytest.mark.parametrize("version", JS_OWN_JUNIT + JS_MESSAGES_JUNIT)
def test_cucumber_js_junit_and_json_of_a_run_name_the_same_scenarios(version):
    _s, junit = _read(f"js-{version}-junit.xml")
    json_version = version if f"js-{version}.json" in {f"js-{v}.json" for v in JS_JSON} else "13.3.0"
    _s, native = _read(f"js-{json_version}.json")
    assert {c.framework for c in junit} == {c.framework for c in native} == {"cucumber"}
    assert _rule_free(junit) == _rule_free(native)
    # Only the Rule's scenarios (and 11.1 on, its outline of no <placeholder>) are named otherwise.
    same = {c.identity for c in junit} & {c.identity for c in native}
    assert len(same) == (14 if version in JS_OWN_JUNIT else 17)


def test_cucumber_js_json_reads_alike_in_7_and_13():
    seen = []
    for version in JS_JSON:
        _s, cases = _read(f"js-{version}.json")
        seen.append([(c.identity, c.status, c.final.message and c.final.message.split(":")[0]) for c in cases])
    assert seen[0] == seen[1]


def test_cucumber_js_13_junit_writes_a_failed_afterall_hook_as_an_error_of_the_run():
    # @cucumber/junit-xml-formatter 0.15 writes a BeforeAll/AfterAll hook that failed as a
    # testcase of its own, without a classname, named by its place ('steps.js:46'), and counts it
    # in none of its totals. cucumber-js: '20 scenarios (...)' and '2 hooks (1 passed, 1 failed)'.
    stream, cases = _read("js-13.3.0-afterall-junit.xml")
    scenarios = [c for c in cases if c.status != ERROR]
    hook = [c for c in cases if c.status == ERROR]
    assert len(scenarios) == _summary("cucumber-js 13.3.0 (AfterAll failing)")["tests"] == 20
    assert len(hook) == 1
    # Named without the line, which moves when the step file is edited above the hook.
    assert (hook[0].suite, hook[0].name, hook[0].file) == (
        "Cucumber", "BeforeAll/AfterAll hook in features/step_definitions/steps.js", "features/step_definitions/steps.js")
    assert hook[0].final.message == "cannot close the database"
    # The run did not pass: the hook's error is one; the declared totals agree with the content.
    assert stream.totals.as_dict() == {"tests": 21, "passed": 9, "failures": 7, "errors": 1, "skipped": 4}
    assert stream.info.warnings == []


def test_cucumber_js_13_junit_of_a_run_whose_beforeall_hook_failed():
    # No scenario ran ('0 scenarios'): the hook's error is all the file holds.
    stream, cases = _read("js-13.3.0-beforeall-junit.xml")
    assert _summary("cucumber-js 13.3.0 (BeforeAll failing)") == {"tests": 0}
    assert [(c.name, c.status, c.final.message) for c in cases] == [
        ("BeforeAll/AfterAll hook in features/step_definitions/steps.js", ERROR, "database unreachable")]
    assert stream.info.warnings == []


def test_cucumber_messages_are_refused_saying_what_to_write_instead():
    # --format message (NDJSON, every version from 7 on): not read; the reason names the format.
    with pytest.raises(UnknownFormat) as caught:
        read_report(HERE / "js-13.3.0-messages-head.ndjson")
    assert "Cucumber Messages" in str(caught.value)
    assert "--format json" in str(caught.value)


# Ruby's cucumber 2.4 (Debian) ----------------------------------------------------------------------

RUBY_JUNIT = ("TEST-features-billing-checkout.xml", "TEST-features-broken_background.xml", "TEST-features-legacy-checkout.xml")


def _ruby_junit():
    cases = []
    for name in RUBY_JUNIT:
        stream, read = _read(f"ruby-2.4.0-junit/{name}")
        assert stream.info.warnings == [], name
        cases += read
    return cases


def test_ruby_cucumber_json_and_junit_count_scenarios_as_cucumber_does():
    expected = _as_read(_summary("cucumber (Ruby) 2.4.0"))
    stream, native = _read("ruby-2.4.0.json")
    assert stream.totals.as_dict() == expected
    junit = _ruby_junit()
    assert dict(Counter(c.status for c in junit)) == dict(Counter(c.status for c in native)) == {
        PASSED: expected["passed"], FAILED: expected["failures"], SKIPPED: expected["skipped"]}


def test_ruby_cucumber_json_identities_and_outcomes():
    _stream, cases = _read("ruby-2.4.0.json")
    assert len({c.identity for c in cases}) == len(cases) == 19
    by_key = _by_key(cases)
    # The second feature named 'Checkout' (features/legacy/): its scenario is the repeat '[1]'.
    assert by_key["Checkout", "paying the cart", None].status == PASSED
    assert by_key["Checkout", "paying the cart", "[1]"].status == FAILED
    # Outline rows: by the Examples table's name and the row's line in it, from the element id.
    rows = {p: c.status for (s, n, p), c in by_key.items() if n == "paying <n> apples"}
    assert rows == {"[small;2]": PASSED, "[small;3]": FAILED, "[large;2]": PASSED}
    # Hooks and the Background: Ruby writes the Before hooks on the Background's element.
    assert by_key["Checkout", "paying at a closed till", None].final.message.startswith("before hook failed: cannot open the till")
    assert by_key["Checkout", "paying and closing", None].final.message.startswith("after hook failed: cannot close the till")
    assert by_key["Closed shop", "paying too much", None].final.message.startswith(
        "background step 'Given the register is broken' failed: register offline")
    assert by_key["Checkout", "paying with a voucher", None].final.message == "pending steps"
    assert by_key["Checkout", "paying by phone", None].final.message == "undefined steps"


def test_ruby_cucumber_junit_and_json_agree_on_each_plain_scenario():
    # The JUnit file names an outline row '<title> (outline example : | 1 | 2 |)', the JSON by the
    # row's place: those differ. Every other scenario has the same suite, name and status.
    _stream, native = _read("ruby-2.4.0.json")
    plain = {(c.suite, c.name): c.status for c in native if c.parameters is None}
    junit = _ruby_junit()
    assert {(c.suite, c.name): c.status for c in junit[:-1] if "(outline example : " not in c.name} == plain
    # The legacy feature's is in a file of its own (TEST-features-legacy-checkout.xml), the first of
    # its name there: read alone, that file cannot tell it from the other feature's.
    assert (junit[-1].suite, junit[-1].name, junit[-1].parameters, junit[-1].status) == (
        "Checkout", "paying the cart", None, FAILED)


# Perl's pherkin (Test::BDD::Cucumber 0.83, Debian) -------------------------------------------------


def test_pherkin_json_counts_and_identities():
    # pherkin prints no counts: its step statuses say 8 scenarios failed (a Background, a Before
    # and an After hook, written as steps 'before'/'after', and steps), a pending and an undefined
    # one skipped (without --strict it writes an undefined step as skipped), 9 passed.
    stream, cases = _read("perl-0.83.json")
    assert stream.totals.as_dict() == {"tests": 19, "passed": 9, "failures": 8, "errors": 0, "skipped": 2}
    assert len({c.identity for c in cases}) == len(cases)
    by_key = _by_key(cases)
    assert by_key["Checkout", "paying the cart", "[1]"].status == FAILED
    # Outline rows: named with their values filled in, as cucumber-js names them.
    assert [by_key["Checkout", f"paying {n} apples", None].status for n in (1, 2, 3)] == [PASSED, FAILED, PASSED]
    # pherkin writes its Before and After hooks as steps of keyword 'before'/'after', without a name.
    # Its error_message is TAP: an exception is told after '# Exception:', past 'not ok - Step ran
    # to completion'.
    assert by_key["Checkout", "paying at a closed till", None].final.message == "before hook failed: cannot open the till"
    assert by_key["Checkout", "paying and closing", None].final.message == "after hook failed: cannot close the till"
    assert by_key["Closed shop", "paying too much", None].final.message == (
        "step 'Given the register is broken' failed: register offline")
    assert by_key["Checkout", "paying too much", None].final.message == "step 'Then 0 apples are left' failed: not ok - apples left"


def test_cucumber_json_of_a_run_without_scenarios_is_read_with_a_warning():
    # cucumber-js 13 whose BeforeAll hook failed writes '[]' (as any Cucumber does when no
    # scenario matched): an empty Cucumber JSON report, as '<testsuites/>' is an empty JUnit one,
    # with a warning rather than refused as an unknown format.
    stream, cases = _read("js-13.3.0-beforeall.json")
    assert (stream.info.format, cases) == ("cucumber-json", [])
    assert stream.totals.as_dict()["tests"] == 0
    assert len(stream.info.warnings) == 1 and "no features" in stream.info.warnings[0]


def test_cucumber_js_json_of_a_random_order_run_keeps_each_scenario_identity(tmp_path):
    # --order random: cucumber-js's JSON formatter writes a feature's scenarios in the order they
    # ran. Here the scenarios of each feature of js-13.3.0.json in the reverse order (backgrounds
    # where they were): repeats of a name are told apart by their place in the feature file, not
    # in the run, so each scenario keeps its identity from run to run.
    features = json.loads((HERE / "js-13.3.0.json").read_text(encoding="utf-8"))
    for feature in features:
        slots = [i for i, e in enumerate(feature["elements"]) if e.get("type") == "scenario"]
        scenarios = [feature["elements"][i] for i in slots]
        for i, element in zip(slots, reversed(scenarios)):
            feature["elements"][i] = element
    shuffled = tmp_path / "random.json"
    shuffled.write_text(json.dumps(features), encoding="utf-8")
    _s, in_order = _read("js-13.3.0.json")
    _spec, _stream, at_random = read_report(shuffled)
    assert {c.identity: (c.status, c.line) for c in at_random} == {c.identity: (c.status, c.line) for c in in_order}
