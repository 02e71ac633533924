"""JUnit XML as particular tools write it: a test read from a tool's JUnit file has the identity
the tool's own report format gives it (Playwright, mocha, pytest), PHPUnit's data sets are
parameters, Surefire's reruns keep their times, and a suite's own output stays on the report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from crossbridge_assets.formats import open_report
from crossbridge_assets.model import ERROR, FAILED, MAX_OUTPUT_CHARS, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"
JS = RESULTS / "js"
JUNIT = FIXTURES / "junit"


def _read(path: Path):
    stream = open_report(path)
    cases = list(stream)
    return stream, cases


def _seen(cases) -> list[tuple]:
    return sorted((c.identity, c.suite, c.name, c.parameters, c.status) for c in cases)


# ---------------------------------------------------------------------------- Playwright
# playwright-junit.xml and playwright-junit-retries.xml: Playwright's junit reporter, as it comes
# and with includeRetries + includeProjectInTestName (js/regenerate-js.sh), on the spec that
# playwright.json was written from, run in two projects.


@pytest.mark.parametrize("name", ["playwright-junit.xml", "playwright-junit-retries.xml"])
def test_playwright_junit_gives_the_identities_of_playwright_json(name):
    stream, junit = _read(JS / name)
    _s, native = _read(JS / "playwright.json")
    assert stream.info.format == "junit" and stream.info.framework == "playwright"
    assert {c.framework for c in junit} == {"playwright"}
    # Every test of the JUnit file is one of the JSON file, and the other way round.
    assert _seen(junit) == _seen(native)
    assert len({c.identity for c in junit}) == len(junit) == 8
    # The two projects are two tests: told apart only by the suite's hostname in the JUnit file.
    assert Counter(c.parameters for c in junit) == {"[api-v1]": 4, "[api-v2]": 4}
    assert {(c.suite, c.name) for c in junit if c.status == FAILED} == {("api.spec.js.orders API", "rejects a bad order PROJ-12")}
    assert all(c.file == "api.spec.js" for c in junit)
    assert stream.totals.as_dict() == {"tests": 8, "passed": 4, "failures": 2, "errors": 0, "skipped": 2}


def test_playwright_junit_retries_are_the_attempts_of_playwright_json():
    _s, junit = _read(JS / "playwright-junit-retries.xml")
    _s, native = _read(JS / "playwright.json")
    json_attempts = {c.identity: [a.status for a in c.attempts] for c in native}
    assert {c.identity: [a.status for a in c.attempts] for c in junit} == json_attempts
    assert sorted(c.parameters for c in junit if c.flaky) == ["[api-v1]", "[api-v2]"]
    assert all([a.status for a in c.attempts] == [FAILED, FAILED] for c in junit if c.status == FAILED)

    # The testcase's time is its own run's (the first for a failed test, the passing one for a
    # flaky test); each retry element has its own.
    root = etree.parse(str(JS / "playwright-junit-retries.xml")).getroot()
    times = {}
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            retries = [float(r.get("time")) for r in case if r.tag in ("flakyFailure", "rerunFailure")]
            times[(suite.get("hostname"), case.get("name").split(" › ")[-1])] = (case.get("time"), retries)
    executed = [c for c in junit if c.status != SKIPPED]
    assert len(executed) == 6
    for c in executed:
        own, retries = times[(c.parameters.strip("[]"), c.name)]
        assert own is not None and all(a.duration is not None for a in c.attempts)
        own_run = c.attempts[-1] if c.flaky else c.attempts[0]
        assert own_run.duration == float(own)
        assert sorted(a.duration for a in c.attempts if a is not own_run) == sorted(retries)
        assert c.duration == pytest.approx(sum(a.duration for a in c.attempts))


def test_a_root_with_an_id_is_not_enough_for_playwright(tmp_path):
    """Playwright's root writes id then name; a <testsuites> without them stays plain JUnit even
    with a hostname on its suite (Gradle, Ant, jest-junit do write one)."""
    p = tmp_path / "junit.xml"
    p.write_text(
        '<testsuites name="" tests="1"><testsuite name="api.spec.js" hostname="ci-7" tests="1">'
        '<testcase name="orders API › lists orders" classname="api.spec.js" time="0.1"/></testsuite></testsuites>'
    )
    stream, (case,) = _read(p)
    assert stream.info.framework == "junit"
    assert (case.framework, case.suite, case.name, case.parameters) == ("junit", "api.spec.js", "orders API › lists orders", None)


# ---------------------------------------------------------------------------- mocha
# Written by mocha 10.8.2 with mocha-junit-reporter 2.2.1 and with mocha's json reporter, from:
#   it("top level works", ...);  describe("Cart", () => { it("sums [1, 2]", ...) });
# (the machine's path replaced by mroot/root.spec.js; the JSON reporter's passes[] left out).

MOCHA_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="Mocha Tests" time="0.001" tests="2" failures="0">
  <testsuite name="Root Suite" timestamp="2026-11-30T11:48:52" tests="1" time="0.000" failures="0">
    <testcase name="top level works" time="0.000" classname="top level works">
    </testcase>
  </testsuite>
  <testsuite name="Cart" timestamp="2026-11-30T11:48:52" tests="1" file="mroot/root.spec.js" time="0.000" failures="0">
    <testcase name="Cart sums [1, 2]" time="0.000" classname="sums [1, 2]">
    </testcase>
  </testsuite>
</testsuites>"""

MOCHA_JSON = """{
  "stats": {"suites": 1, "tests": 2, "passes": 2, "pending": 0, "failures": 0,
            "start": "2026-11-30T11:48:53.177Z", "end": "2026-11-30T11:48:53.178Z", "duration": 1},
  "tests": [
    {"title": "top level works", "fullTitle": "top level works", "file": "mroot/root.spec.js",
     "duration": 0, "currentRetry": 0, "speed": "fast", "err": {}},
    {"title": "sums [1, 2]", "fullTitle": "Cart sums [1, 2]", "file": "mroot/root.spec.js",
     "duration": 0, "currentRetry": 0, "speed": "fast", "err": {}}
  ],
  "pending": [],
  "failures": []
}"""


def test_mocha_junit_root_level_test_and_bracketed_title_match_mocha_json(tmp_path):
    (tmp_path / "mocha-junit.xml").write_text(MOCHA_JUNIT)
    (tmp_path / "mocha.json").write_text(MOCHA_JSON)
    stream, junit = _read(tmp_path / "mocha-junit.xml")
    _s, plain = _read(tmp_path / "mocha.json")
    assert stream.info.framework == "mocha"
    assert _seen(junit) == _seen(plain)
    # A test outside any describe() has no suite; a title ending in [..] is all title in mocha.
    assert sorted((c.suite, c.name, c.parameters) for c in junit) == [("", "top level works", None), ("Cart", "sums [1, 2]", None)]


# ---------------------------------------------------------------------------- PHPUnit
# Written by hand in the shape PHPUnit 10's JUnit logger writes (--log-junit) for a test with a
# data provider: the provider's cases in a <testsuite> named Class::method, each named
# 'method with data set #<int key>' or 'method with data set "<string key>"'. PHP is not
# installed here.

PHPUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="" tests="4" assertions="4" errors="0" failures="1" skipped="0" time="0.012">
    <testsuite name="App\\Tests\\CalcTest" file="/app/tests/CalcTest.php" tests="4" assertions="4" errors="0" failures="1" skipped="0" time="0.012">
      <testsuite name="App\\Tests\\CalcTest::testAdd" tests="3" assertions="3" errors="0" failures="1" skipped="0" time="0.009">
        <testcase name="testAdd with data set #0" file="/app/tests/CalcTest.php" line="12" class="App\\Tests\\CalcTest" classname="App.Tests.CalcTest" assertions="1" time="0.003"/>
        <testcase name="testAdd with data set #1" file="/app/tests/CalcTest.php" line="12" class="App\\Tests\\CalcTest" classname="App.Tests.CalcTest" assertions="1" time="0.003"/>
        <testcase name="testAdd with data set &quot;negative&quot;" file="/app/tests/CalcTest.php" line="12" class="App\\Tests\\CalcTest" classname="App.Tests.CalcTest" assertions="1" time="0.003">
          <failure type="PHPUnit\\Framework\\ExpectationFailedException">Failed asserting that -1 is identical to 1.</failure>
        </testcase>
      </testsuite>
      <testcase name="testDivide" file="/app/tests/CalcTest.php" line="30" class="App\\Tests\\CalcTest" classname="App.Tests.CalcTest" assertions="1" time="0.003"/>
    </testsuite>
  </testsuite>
</testsuites>"""


def test_phpunit_data_sets_are_parameters(tmp_path):
    p = tmp_path / "junit.xml"
    p.write_text(PHPUNIT)
    _stream, cases = _read(p)
    assert [(c.suite, c.name, c.parameters, c.status) for c in cases] == [
        ("App.Tests.CalcTest", "testAdd", "[#0]", PASSED),
        ("App.Tests.CalcTest", "testAdd", "[#1]", PASSED),
        ("App.Tests.CalcTest", "testAdd", '["negative"]', FAILED),
        ("App.Tests.CalcTest", "testDivide", None, PASSED),
    ]
    assert len({c.identity for c in cases}) == 4
    assert cases[0].file == "/app/tests/CalcTest.php" and cases[0].line == 12


def test_data_set_wording_outside_phpunit_is_left_alone(tmp_path):
    p = tmp_path / "junit.xml"
    p.write_text(
        '<testsuite name="com.acme.T" tests="1"><testcase classname="com.acme.T" '
        'name="runs with data set #0" time="0.1"/></testsuite>'
    )
    _stream, (case,) = _read(p)
    assert (case.name, case.parameters) == ("runs with data set #0", None)


# ---------------------------------------------------------------------------- pytest
# pytest before 8.4 wrote no name on <testsuites>, so with junit_suite_name set nothing names
# pytest but its suite's attributes. Both files are pytest's own output of the sample suite that
# results/pytest-json-report.json was written from (junit/regenerate.sh).


@pytest.mark.parametrize("name", ["pytest-6.2-py37-renamed-suite.xml", "pytest-8.3-renamed-suite.xml"])
def test_pytest_junit_with_a_renamed_suite_is_pytest(name):
    stream, junit = _read(JUNIT / name)
    _s, native = _read(RESULTS / "pytest-json-report.json")
    assert stream.info.framework == "pytest" and stream.info.name is None
    assert _seen(junit) == _seen(native)
    assert Counter(c.status for c in junit) == {PASSED: 3, FAILED: 2, ERROR: 1, SKIPPED: 2}


# Written by hand in the shape nose2 0.14's junit-xml plugin writes (its stopTestRun sets name,
# errors, failures, skipped, tests, time, in that order, kept by ElementTree on Python >= 3.8).
NOSE2 = """<testsuite name="nose2-junit" errors="0" failures="0" skipped="0" tests="1" time="0.001">
  <testcase classname="tests.test_lib.TestLib" name="test_one" time="0.000101" timestamp="2024-01-01T10:00:00.000000">
    <system-out />
  </testcase>
</testsuite>"""


def test_lookalikes_of_pytest_stay_junit(tmp_path):
    # nose2 copied pytest's suite attributes but writes no timestamp or hostname there.
    nose2 = tmp_path / "nose2-junit.xml"
    nose2.write_text(NOSE2)
    # Ant writes pytest's very names, sorted as Java's DOM does, with a timestamp in whole seconds.
    for path in (nose2, JUNIT / "ant-suite-error.xml"):
        stream, cases = _read(path)
        assert stream.info.framework == "junit" and {c.framework for c in cases} == {"junit"}, path.name


def test_lookalikes_of_pytest_from_the_corpus_stay_what_they_are(corpus_dir):
    expected = {
        "dorny__python-xunit-unittest.xml": "junit",  # unittest-xml-reporting
        "nickbaynham-spring__TEST-com.example.demo.DemoApplicationTests.xml": "junit",  # Gradle
        "jenkins-junit__JENKINS-42438-junit-report-1.xml": "junit",
        "mikepenz__catch2-report.xml": "junit",
        "enricomi__junit.fail.xml": "pytest",  # pytest 6 on Python < 3.8: sorted attributes
        "dorny__jest-junit.xml": "jest",
        "mikepenz__mocha.xml": "mocha",
    }
    for name, framework in expected.items():
        stream, _cases = _read(corpus_dir / "results/junit" / name)
        assert stream.info.framework == framework, name


# ---------------------------------------------------------------------------- pytest reruns
# pytest-rerun-junit.xml and pytest-rerun.json: one pytest run with pytest-rerunfailures
# (--reruns 1; results/regenerate.sh). pytest's junitxml writes each rerun report as a testcase of
# its own, without an outcome; pytest-json-report keeps one entry a test.


def test_pytest_reruns_in_junit_are_attempts_of_one_test():
    stream, junit = _read(RESULTS / "pytest-rerun-junit.xml")
    _s, native = _read(RESULTS / "pytest-rerun.json")
    assert stream.info.framework == "pytest"
    assert _seen(junit) == _seen(native)  # 7 tests, as pytest declares, not 10 testcases
    assert stream.info.warnings == [] and stream.info.declared["tests"] == len(junit) == 7
    assert stream.info.properties["reruns"] == "3"
    by_name = {c.name: c for c in junit}
    flaky = by_name["test_flaky"]
    assert flaky.flaky and [a.status for a in flaky.attempts] == [FAILED, PASSED]
    assert flaky.duration == pytest.approx(sum(a.duration for a in flaky.attempts))
    assert [c.name for c in junit if c.flaky] == [c.name for c in native if c.flaky] == ["test_flaky"]
    always = by_name["test_always_fails"]
    assert [a.status for a in always.attempts] == [FAILED, FAILED] and not always.flaky
    assert "fails every time" in always.attempts[-1].message
    assert [a.status for a in by_name["test_fails_then_setup_errors"].attempts] == [FAILED, ERROR]


def _pytest_file(path: Path, names: list[str]) -> Path:
    cases = "".join(f'<testcase classname="tests.test_a" name="{n}" time="0.01"/>' for n in names)
    path.write_text(f'<testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" '
                    f'skipped="0" tests="{len(set(names))}" time="1" timestamp="2024-01-01T10:00:00.123456+00:00" '
                    f'hostname="h">{cases}</testsuite></testsuites>')
    return path


def test_a_pytest_rerun_among_other_workers_tests_still_joins_its_test(tmp_path):
    # pytest-xdist: the controller writes reports as workers send them, so other tests come
    # between a test and its rerun; a rerun far from its test is counted apart, and said so.
    names = ["test_flaky"] + [f"test_{i}" for i in range(200)] + ["test_flaky"]
    names += ["test_far"] + [f"test_x{i}" for i in range(300)] + ["test_far"]
    stream, cases = _read(_pytest_file(tmp_path / "xdist.xml", names))
    flaky = [c for c in cases if c.name == "test_flaky"]
    assert len(flaky) == 1 and flaky[0].flaky and len(flaky[0].attempts) == 2
    far = [c for c in cases if c.name == "test_far"]
    assert len(far) == 2 and far[1].properties["repeat"] == "2" and not far[1].flaky
    assert len(cases) == len(names) - 1
    assert any("repeat an earlier one" in w for w in stream.info.warnings)


def test_repeated_testcases_outside_pytest_each_count(tmp_path):
    """go-junit-report (go test -count=N) writes one testcase a run: each counts (the corpus rule)."""
    path = tmp_path / "go.xml"
    path.write_text('<testsuites tests="2"><testsuite name="example.com/pkg" tests="2" failures="1" errors="0" '
                    'id="0" hostname="" time="0.002" timestamp="2024-01-01T10:00:00Z">'
                    '<testcase classname="pkg" name="TestA" time="0.001"><failure message="Failed"/></testcase>'
                    '<testcase classname="pkg" name="TestA" time="0.001"/></testsuite></testsuites>')
    stream, cases = _read(path)
    assert stream.info.framework == "junit"
    assert len(cases) == 2 and cases[1].properties["repeat"] == "2"


# ---------------------------------------------------------------------------- Surefire reruns


def test_surefire_flaky_test_keeps_the_time_of_its_passing_run(corpus_dir):
    # Surefire writes the first passing run's time on a flaky test's <testcase> (time="0.683").
    _stream, (case,) = _read(corpus_dir / "results/junit/mikepenz__maven_surefire_flaky-surefire-report.xml")
    assert [(a.status, a.duration) for a in case.attempts] == [(FAILED, None), (PASSED, 0.683)]
    assert case.flaky and case.duration == 0.683


def test_surefire_test_failing_every_run_keeps_the_time_of_its_first_run():
    # Surefire writes the first run's time on a test that failed every run; its reruns have none.
    _stream, cases = _read(JUNIT / "surefire-rerun-errors.xml")
    saves = cases[0]
    assert [a.duration for a in saves.attempts] == [0.514, None, None]
    assert saves.duration == 0.514


def test_rerun_times_add_up_to_the_test_duration(tmp_path):
    p = tmp_path / "TEST-com.acme.T.xml"
    p.write_text(
        '<testsuite name="com.acme.T" tests="1"><testcase name="t" classname="com.acme.T" time="0.2">'
        '<flakyFailure message="timeout" type="java.util.concurrent.TimeoutException" time="1.5"/>'
        "</testcase></testsuite>"
    )
    _stream, (case,) = _read(p)
    assert [(a.status, a.duration) for a in case.attempts] == [(FAILED, 1.5), (PASSED, 0.2)]
    assert case.duration == pytest.approx(1.7)


# ---------------------------------------------------------------------------- suite output


def test_gradle_suite_output_is_kept_on_the_report(corpus_dir):
    # Gradle puts a class's captured output on its <testsuite> (outputPerTestCase is off by default).
    stream, _cases = _read(corpus_dir / "results/junit/nickbaynham-spring__TEST-com.example.demo.DemoApplicationTests.xml")
    out = stream.info.properties["system-out"]
    assert out.startswith("18:57:08.755 [Test worker] INFO") and "Started DemoApplicationTests in 0.396 seconds" in out
    assert "system-err" not in stream.info.properties  # an empty CDATA


def test_output_of_several_suites_is_headed_and_bounded(tmp_path):
    big = "x" * (MAX_OUTPUT_CHARS + 10)
    suites = "".join(
        f'<testsuite name="com.acme.S{i}" tests="1"><testcase classname="com.acme.S{i}" name="t" time="0.1"/>'
        f"<system-out>{text}</system-out><system-err>err {i}</system-err></testsuite>"
        for i, text in enumerate(["started S0", big, "started S2", "started S3"])
    )
    p = tmp_path / "TESTS-TestSuites.xml"
    p.write_text(f"<testsuites>{suites}</testsuites>")
    stream, cases = _read(p)
    assert len(cases) == 4
    out = stream.info.properties["system-out"]
    assert out.startswith("[com.acme.S0]\nstarted S0\n[com.acme.S1]\nxxx")
    assert f"[truncated, {MAX_OUTPUT_CHARS + 10} characters in the original]" in out
    assert out.endswith("[2 more suite(s) wrote output, not kept]") and "started S2" not in out
    assert len(out) < MAX_OUTPUT_CHARS + 200
    err = stream.info.properties["system-err"]
    assert err == "\n".join(f"[com.acme.S{i}]\nerr {i}" for i in range(4))
