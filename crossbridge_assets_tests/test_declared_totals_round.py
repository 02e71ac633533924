"""Declared totals: recorded as the file writes them, and a warning exactly when the file
contradicts itself by its writer's own counting rules (no warning for a consistent file, one for
a file whose totals do not count what it holds)."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from crossbridge_assets.formats import open_report
from crossbridge_assets_tests.conftest import CORPUS, FIXTURES

RESULTS = FIXTURES / "results"
COVERAGE = FIXTURES / "coverage"
DISAGREE = "declared totals disagree with the content"


def read(path):
    stream = open_report(path)
    for _ in stream:
        pass
    return stream


def disagreements(stream) -> list[str]:
    return [w for w in stream.info.warnings if w.startswith(DISAGREE)]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- pytest


@pytest.mark.parametrize(
    "name, declared",
    [
        # subtests (unittest subTest and pytest 9's subtests): passed ones are in tests= only,
        # a failed one is a <failure> of its own beside the test's.
        ("pytools/pytest-legacy.xml", {"tests": 24, "failures": 5, "errors": 3, "skipped": 2}),
        ("pytools/pytest-xdist.xml", {"tests": 24, "failures": 5, "errors": 3, "skipped": 2}),
        ("pytools/pytest-subtests.xml", {"tests": 9, "failures": 2, "errors": 0, "skipped": 0}),
        # a call failure and its teardown error: two testcases, two reports; a collection error
        # or skip written twice in one testcase counts twice.
        ("more/pytest-edges-junit.xml", {"tests": 12, "failures": 3, "errors": 6, "skipped": 2}),
        # pytest-rerunfailures: the rerun's testcase holds nothing and counts nothing.
        ("round2/pytest-reruns-junit.xml", {"tests": 8, "failures": 2, "errors": 3, "skipped": 0}),
        ("round2/pytest-only-rerun-junit.xml", {"tests": 9, "failures": 3, "errors": 3, "skipped": 0}),
    ],
)
def test_pytest_files_consistent_by_pytests_counting_raise_no_warning(name, declared):
    stream = read(RESULTS / name)
    assert stream.info.declared == declared  # recorded as written
    assert disagreements(stream) == []


def test_pytest_totals_that_do_not_count_the_elements_warn(tmp_path):
    text = (RESULTS / "more/pytest-edges-junit.xml").read_text(encoding="utf-8")
    # one failure more than the file's <failure> elements
    stream = read(write(tmp_path, "more-failures.xml", text.replace('failures="3"', 'failures="4"', 1)))
    assert disagreements(stream) == ["declared totals disagree with the content: failures declared 4 but the file holds 3"]
    # fewer tests than the file's reports: no subtest explains that
    stream = read(write(tmp_path, "fewer-tests.xml", text.replace('tests="12"', 'tests="10"', 1)))
    assert disagreements(stream) == ["declared totals disagree with the content: tests declared 10 but the file holds 12"]


# ---------------------------------------------------------------------------- mocha-junit-reporter


@pytest.mark.parametrize(
    "name, declared",
    [
        # mocha-junit-reporter 2.2 without includePending: the pending test is not written, yet
        # is in its suite's tests= and the root's tests= and skipped=.
        ("js/mocha-junit.xml", {"tests": 4, "failures": 1, "skipped": 1}),
        ("otherlang/mocha-merged/results-cart.xml", {"tests": 3, "failures": 0, "skipped": 1}),
        # junit-report-merger (jrm) sums the suites' tests= into the root, and writes no skipped=.
        ("otherlang/mocha-merged/combined.xml", {"tests": 6, "failures": 1}),
    ],
)
def test_mocha_junit_pending_tests_it_does_not_write_raise_no_warning(name, declared):
    stream = read(RESULTS / name)
    assert stream.info.declared == declared
    assert stream.totals.skipped == 0  # not in the file: no test to name
    assert disagreements(stream) == []


def test_mocha_junit_totals_beyond_its_unwritten_pending_tests_warn(tmp_path):
    text = (RESULTS / "js/mocha-junit.xml").read_text(encoding="utf-8")
    stream = read(write(tmp_path, "m.xml", text.replace('tests="4" failures="1" skipped="1"', 'tests="5" failures="1" skipped="1"', 1)))
    assert disagreements(stream) == ["declared totals disagree with the content: tests declared 5 but the file holds 4"]
    # A trimmed file (mikepenz/action-junit-report's fixture): 15515 declared, one written.
    stream = read(CORPUS / "results/junit/mikepenz__mocha.xml")
    assert disagreements(stream) == [
        "declared totals disagree with the content: tests declared 15515 but the file holds 1; skipped declared 1 but the file holds 0"
    ]


# ---------------------------------------------------------------------------- Nette Tester

NETTE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
	<testsuite errors="{errors}" skipped="1" tests="3" time="0.1" timestamp="2026-01-01T16:50:52">
		<testcase classname="tests/a.phpt" name="tests/a.phpt"/>
		<testcase classname="tests/b.phpt" name="tests/b.phpt">
			<skipped/>
		</testcase>
		<testcase classname="tests/c.phpt" name="tests/c.phpt">
			<failure message="Failed: 1 should be 2"/>
		</testcase>
	</testsuite>
</testsuites>
"""


def test_nette_tester_counts_its_failed_tests_in_errors():
    # Nette Tester 1.7 (dorny/test-reporter's fixture): errors="1", the failed test a <failure>.
    stream = read(CORPUS / "results/junit/dorny__tester-v1.7-report.xml")
    assert (stream.totals.failures, stream.totals.errors) == (1, 0)
    assert stream.info.declared == {"tests": 65, "failures": 1, "errors": 0, "skipped": 3}
    assert disagreements(stream) == []


def test_nette_tester_file_that_miscounts_its_failures_warns(tmp_path):
    # JUnitPrinter's shape (nette/tester src/Runner/Output/JUnitPrinter.php), written by hand.
    assert disagreements(read(write(tmp_path, "ok.xml", NETTE.format(errors=1)))) == []
    stream = read(write(tmp_path, "bad.xml", NETTE.format(errors=2)))
    assert disagreements(stream) == ["declared totals disagree with the content: failures declared 2 but the file holds 1"]


# ---------------------------------------------------------------------------- TAP::Harness::JUnit


def test_tap_harness_junit_totals_are_checked_as_it_counts_them(tmp_path):
    # TAP::Harness::JUnit 0.42: tests= is the plan (TODO tests it does not write included), errors=
    # the tests the plan had and the run did not; failures= its <failure>s (the bad plan's too).
    path = RESULTS / "otherlang/perl/harness-junit.xml"
    stream = read(path)
    assert stream.info.declared == {"tests": 11, "failures": 3, "errors": 2, "skipped": 1}
    assert disagreements(stream) == []
    text = path.read_text(encoding="utf-8")
    stream = read(write(tmp_path, "h.xml", text.replace('errors="0" failures="1" skipped="1" tests="6"', 'errors="0" failures="2" skipped="1" tests="6"', 1)))
    assert disagreements(stream) == ["declared totals disagree with the content: failures declared 4 but the file holds 3"]


# ---------------------------------------------------------------------------- Cobertura


@pytest.mark.parametrize(
    "name, declared",
    [
        # istanbul's cobertura reporter (Jest 29, nyc 17, Vitest 3): lines are its statements' lines;
        # the root's branches also count branches on lines where no statement starts.
        ("jstools/jest-babel/cobertura-coverage.xml", {"lines_valid": 39, "lines_covered": 29, "branches_valid": 20, "branches_covered": 14}),
        ("jstools/nyc-all/cobertura-coverage.xml", {"lines_valid": 39, "lines_covered": 29, "branches_valid": 20, "branches_covered": 14}),
        ("jstools/vitest-istanbul/cobertura-coverage.xml", {"lines_valid": 39, "lines_covered": 29, "branches_valid": 20, "branches_covered": 14}),
        # PHPUnit 11 with Xdebug's branch coverage: branches at the root, none on a line.
        ("otherlang/phpunit-xdebug/cobertura.xml", {"lines_valid": 12, "lines_covered": 8, "branches_valid": 16, "branches_covered": 12}),
        # gcovr 8.8: a template's lines once for each instance.
        ("native/gcovr8-cpp/gcovr.xml", {"lines_valid": 33, "lines_covered": 31, "branches_valid": 44, "branches_covered": 26}),
    ],
)
def test_cobertura_totals_counted_as_their_writers_count_raise_no_warning(name, declared):
    stream = read(COVERAGE / name)
    assert stream.info.declared == declared
    assert disagreements(stream) == []


@pytest.mark.parametrize(
    "name, old, new, warning",
    [
        ("jstools/jest-babel/cobertura-coverage.xml", 'lines-valid="39"', 'lines-valid="41"', "lines_valid declared 41 but the file holds 39"),
        # fewer branches than its lines hold: no reading explains that
        ("jstools/jest-babel/cobertura-coverage.xml", 'branches-valid="20"', 'branches-valid="17"', "branches_valid declared 17 but the file holds 18"),
        ("native/gcovr8-cpp/gcovr.xml", 'lines-valid="33"', 'lines-valid="34"', "lines_valid declared 34 but the file holds 25"),
    ],
)
def test_cobertura_totals_no_reading_explains_warn(tmp_path, name, old, new, warning):
    text = (COVERAGE / name).read_text(encoding="utf-8")
    assert old in text
    stream = read(write(tmp_path, "coverage.xml", text.replace(old, new, 1)))
    assert disagreements(stream) and warning in disagreements(stream)[0]


# ---------------------------------------------------------------------------- LCOV


@pytest.mark.parametrize(
    "name",
    [
        # llvm-cov export 14 (clang, clang++ templates, rustc via cargo-llvm-cov): LF/LH/BRF/BRH are
        # its per-function summaries (instantiations merged), DA/BRDA every region.
        "native/llvm-c/llvm.lcov",
        "native/llvm-c/shard2.lcov",
        "native/llvm-cpp/llvm.lcov",
        "native/rust/llvm.lcov",
        # gcovr 8.8: LF/LH count a template's lines once per instance, DA are merged.
        "native/gcovr8-cpp/gcovr.lcov",
        "native/gcovr8-cpp/gcovr-excl.lcov",
    ],
)
def test_lcov_summaries_counted_otherwise_than_their_records_raise_no_warning(name):
    stream = read(COVERAGE / name)
    assert stream.info.declared  # recorded
    assert disagreements(stream) == []


def test_lcov_summaries_no_writer_explains_warn(tmp_path):
    # gcovr: more lines in its DA than its LF counts, instances or not
    text = (COVERAGE / "native/gcovr8-cpp/gcovr.lcov").read_text(encoding="utf-8")
    stream = read(write(tmp_path, "gcovr.lcov", text.replace("LF:15\n", "LF:5\n", 1)))
    assert disagreements(stream) == ["declared totals disagree with the content: lines_valid declared 23 but the file holds 25"]
    # istanbul's lcovonly: every summary counts its records
    text = (CORPUS / "coverage/lcov/ngx-bdir__lcov.info").read_text(encoding="utf-8")
    assert "BRF:" in text
    first_brf = text.index("BRF:")
    end = text.index("\n", first_brf)
    brf = int(text[first_brf + 4:end])
    stream = read(write(tmp_path, "istanbul.lcov", text[:first_brf] + f"BRF:{brf + 1}" + text[end:]))
    assert disagreements(stream) == ["declared totals disagree with the content: branches_valid declared 15 but the file holds 14"]


# ---------------------------------------------------------------------------- JUnit: root against suites


def test_junit_root_that_does_not_count_its_suites_warns():
    # googletest's shape (dorny/test-reporter's fixture): the root declares 1 test, its one suite 6.
    # The root agrees with the one testcase; the suite does not: the file contradicts itself.
    stream = read(CORPUS / "results/junit/dorny__junit-with-message.xml")
    assert stream.info.declared["tests"] == 1
    assert disagreements(stream) == []
    assert [w for w in stream.info.warnings if w.startswith("declared totals")] == [
        "declared totals disagree with each other: tests declared 1 by the root but 6 by its suites"
    ]


@pytest.mark.parametrize(
    "text",
    [
        # nested suites: the first-level suite's totals include its children's
        '<testsuites tests="3"><testsuite name="a" tests="3"><testcase name="x"/>'
        '<testsuite name="b" tests="2"><testcase name="y"/><testcase name="z"/></testsuite></testsuite></testsuites>',
        # a suite without tests=: nothing to sum
        '<testsuites tests="2"><testsuite name="a"><testcase name="x"/></testsuite>'
        '<testsuite name="b" tests="1"><testcase name="y"/></testsuite></testsuites>',
    ],
)
def test_junit_root_counting_its_suites_raises_no_warning(tmp_path, text):
    stream = read(write(tmp_path, "r.xml", '<?xml version="1.0" encoding="UTF-8"?>\n' + text))
    assert not any(w.startswith("declared totals") for w in stream.info.warnings)


# ---------------------------------------------------------------------------- coverage.py JSON, istanbul summary


def test_coveragepy_json_totals_are_checked_against_its_files_summaries(tmp_path):
    path = CORPUS / "coverage/coveragepy-json/envwizard__coverage.json"
    assert disagreements(read(path)) == []
    data = json.loads(path.read_text(encoding="utf-8"))
    data["totals"]["covered_lines"] = 450  # its 11 files' summaries add up to 440
    stream = read(write(tmp_path, "coverage.json", json.dumps(data)))
    assert stream.info.declared["lines_covered"] == 450
    assert disagreements(stream) == ["declared totals disagree with the content: lines_covered declared 450 but the file holds 440"]


def test_istanbul_summary_total_is_checked_against_its_file_entries(tmp_path):
    path = CORPUS / "coverage/istanbul-summary/ngx-bdir__coverage-summary.json"
    assert disagreements(read(path)) == []
    data = json.loads(path.read_text(encoding="utf-8"))
    data["total"]["branches"]["covered"] = 12
    stream = read(write(tmp_path, "coverage-summary.json", json.dumps(data)))
    assert disagreements(stream) == ["declared totals disagree with the content: branches_covered declared 12 but the file holds 14"]


# ---------------------------------------------------------------------------- the checks in Dagster

# Consistent by their writers' counting, each of which used to raise a false warning.
CONSISTENT = {
    "results": [RESULTS / "pytools/pytest-legacy.xml", RESULTS / "js/mocha-junit.xml",
                CORPUS / "results/junit/dorny__tester-v1.7-report.xml", RESULTS / "otherlang/perl/harness-junit.xml"],
    "coverage": [COVERAGE / "jstools/jest-babel/cobertura-coverage.xml", COVERAGE / "native/gcovr8-cpp/gcovr.lcov"],
}


def _drop_batch(s, folder: str, files: list, build: str) -> None:
    from crossbridge_assets_tests.test_ingest_e2e import drop

    for path in files:
        drop(s, path.name, folder, source=path)
    (s.inbox / folder / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main", "build": build}))


def test_a_batch_of_consistent_reports_raises_no_warning(crossbridge_env, dagster_instance):
    from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest

    _drop_batch(crossbridge_env, "ok", CONSISTENT["results"] + CONSISTENT["coverage"], "301")
    _, (result,) = ingest(dagster_instance)
    assert result.success
    checks = checks_of(result)
    for name in ("report_warnings", "coverage_report_warnings"):
        assert checks[name].passed is True, checks[name].description
        assert "what_to_do" not in checks[name].metadata


def test_a_true_disagreement_is_a_warn_check_naming_file_figures_and_what_to_do(crossbridge_env, dagster_instance, tmp_path):
    from crossbridge_assets_tests.test_coverage_e2e import checks_of, ingest
    from crossbridge_assets_tests.test_results_coverage_layer import rendered_rows

    cut = tmp_path / "cobertura-cut.xml"  # istanbul's report with its root claiming two more lines
    cut.write_text((COVERAGE / "jstools/jest-babel/cobertura-coverage.xml").read_text(encoding="utf-8")
                   .replace('lines-valid="39"', 'lines-valid="41"', 1), encoding="utf-8")
    # xunit.net's JUnit transform declaring 173 tests and holding 2 (EnricoMi's fixture)
    files = [CORPUS / "results/junit/enricomi__xunit.xml", cut, *CONSISTENT["results"][:1]]
    _drop_batch(crossbridge_env, "bad", files, "302")
    _, (result,) = ingest(dagster_instance)
    checks = checks_of(result)

    warned = checks["report_warnings"]
    assert warned.passed is False and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.description.startswith("1 report(s) read with warnings; ")
    assert "enricomi__xunit.xml: declared totals disagree" in warned.description
    assert "tests declared 173 but the file holds 2" in warned.description
    assert "send the whole report again" in warned.description
    assert "send the whole report again" in warned.metadata["what_to_do"].value
    rows = rendered_rows(warned.metadata["reports"].value)
    assert [row[0] for row in rows] == ["enricomi__xunit.xml"]  # the consistent pytest file is not named

    coverage = checks["coverage_report_warnings"]
    assert coverage.passed is False and coverage.severity == dg.AssetCheckSeverity.WARN
    assert ("cobertura-cut.xml: declared totals disagree with the content: "
            "lines_valid declared 41 but the file holds 39") in coverage.description
    assert "send the whole report again" in coverage.metadata["what_to_do"].value


def test_pytest_counting_is_for_files_pytest_wrote(tmp_path):
    # A file in pytest's image written otherwise (by hand, another tool: its own attribute order)
    # declaring more tests than it holds is no file with subtests: a disagreement.
    text = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="2" failures="0" '
            'errors="0" skipped="0"><testcase classname="tests.test_shop" name="test_c" time="3.0"/></testsuite></testsuites>')
    stream = read(write(tmp_path, "TEST-c.xml", text))
    assert disagreements(stream) == ["declared totals disagree with the content: tests declared 2 but the file holds 1"]


# ---------------------------------------------------------------------------- Cobertura: a rate only

CPP_COVERAGE = """<?xml version="1.0" encoding="utf-8"?>
<coverage line-rate="{rate}">
    <packages>
        <package name="Program.exe" line-rate="{rate}">
            <classes>
                <class name="C:/temp/someclass.h" filename="/temp/someclass.h" line-rate="{rate}">
                    <lines>
                        <line number="1" hits="3"/>
                        <line number="2" hits="0"/>
                        <line number="3" hits="0"/>
                    </lines>
                </class>
            </classes>
        </package>
    </packages>
</coverage>
"""


def test_cobertura_root_declaring_only_its_line_rate_is_checked(tmp_path):
    # OpenCppCoverage's root has its line-rate and no counts (ReportGenerator's fixture, trimmed
    # upstream to 2 uncovered lines while the rate says 12 %).
    stream = read(CORPUS / "coverage/cobertura/reportgenerator__Cobertura_CPPCoverage.xml")
    assert disagreements(stream) == [
        "declared totals disagree with the content: line-rate declared 0.120511 but the file holds 0.0 (0 of 2 lines covered)"
    ]
    # The same shape written whole (hand-made after that file): 1 of 3 lines, to the digits written.
    for rate in ("0.333333", "0.33"):
        assert disagreements(read(write(tmp_path, f"ok-{rate}.xml", CPP_COVERAGE.format(rate=rate)))) == []
    assert disagreements(read(write(tmp_path, "bad.xml", CPP_COVERAGE.format(rate="0.34"))))
