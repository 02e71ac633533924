"""mocha's reporters as Cypress teams use them, and CTRF from the npm reporters, against what the
real tools wrote (fixtures/results/mochafam/, written by regenerate-mochafam.sh there, with each
tool's own summary in summaries.txt): mocha's JSON reporter from mocha 8 to 11, mochawesome 6 and
7 and mochawesome-merge 4, cypress-multi-reporters with mocha-junit-reporter and its options,
mocha-ctrf-json-reporter, jest-ctrf-json-reporter and @d2t/vitest-ctrf-json-reporter. Each file's
counts as the tool counts them, and the files of one run agreeing on every test's identity."""

from __future__ import annotations

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

MOCHAFAM = FIXTURES / "results" / "mochafam"


def _read(name: str):
    spec, stream, cases = read_report(MOCHAFAM / name)
    return spec.name, stream, cases


def _ids(cases) -> dict[tuple[str, str, str], str]:
    return {(c.framework, c.suite, c.name): c.status for c in cases}


# What mocha's spec reporter says of the run of spec/ (summaries.txt, every mocha from 8 to 11):
# "6 passing, 3 pending, 4 failing", the 4 failing being one test and three hooks. The JSON
# reporter lists the tests that ran or were pending, and each failed hook, an errored test here.
MOCHA_RUN = {
    ("mocha", "", "top level"): PASSED,
    ("mocha", "Cart", "adds an item"): PASSED,
    ("mocha", "Cart", "computes the total"): FAILED,
    ("mocha", "Cart", "applies a coupon"): SKIPPED,
    ("mocha", "Cart Checkout", "pays (flaky)"): PASSED,
    ("mocha", "Skipped by before", "one"): SKIPPED,
    ("mocha", "Before each", "a"): PASSED,
    ("mocha", "Before each", '"before each" hook for "b"'): ERROR,
    ("mocha", "After each", "a"): PASSED,
    ("mocha", "After each", '"after each" hook for "a"'): ERROR,
    ("mocha", "Teardown", "runs"): PASSED,
    ("mocha", "Teardown", "skips itself"): SKIPPED,
    ("mocha", "Teardown", '"after all" hook for "skips itself"'): ERROR,
}
MOCHA_TOTALS = {"tests": 13, "passed": 6, "failures": 1, "errors": 3, "skipped": 3}
# mochawesome also lists the tests a failed hook kept from running (as skipped).
NOT_RUN = {("mocha", "Before each", "b"): SKIPPED, ("mocha", "After each", "b"): SKIPPED}


def test_summaries_are_the_ones_the_tests_expect():
    text = (MOCHAFAM / "summaries.txt").read_text(encoding="utf-8")
    for run in ("mocha 8", "mocha 9", "mocha 10", "mocha 11", "mocha 11 --parallel", "mocha 10 cypress-multi-reporters"):
        assert f"{run}: 6 passing\n{run}: 3 pending\n{run}: 4 failing\n" in text
    assert "mocha 11 it.only: 1 passing\n" in text
    assert "jest: Tests:       1 failed, 1 todo, 3 passed, 5 total" in text
    assert "vitest: Tests  2 failed | 6 passed | 3 skipped | 1 todo (12)" in text


# ------------------------------------------------------------------------------- CTRF retries

def test_ctrf_retries_without_retry_attempts_are_failed_tries():
    """mocha-ctrf-json-reporter, jest-ctrf-json-reporter and @d2t/vitest-ctrf-json-reporter write how
    many times a test was retried (`retries`, and `flaky` when it passed in the end) but no
    retryAttempts: each of those earlier tries failed (the three tools retry a failing test only),
    so a test that passed on its second try is flaky, as the tool says."""
    for name, flaky, broken, tries in (
        ("mocha-ctrf.json", "Cart Checkout pays (flaky)", "Cart computes the total", 3),
        ("jest-ctrf.json", "checkout eventually pays", "checkout always fails", 3),
        ("vitest-ctrf.json", "eventually pays", "always fails", 2),
    ):
        _f, _stream, cases = _read(name)
        by_name = {c.name: c for c in cases}
        assert [a.status for a in by_name[flaky].attempts] == [FAILED, PASSED], name
        assert by_name[flaky].flaky and by_name[flaky].properties["flaky"] == "true"
        assert [a.status for a in by_name[broken].attempts] == [FAILED] * tries, name
        assert by_name[broken].final.message  # the last try's error is the one written
        assert all(len(c.attempts) == 1 for c in cases if c.name not in (flaky, broken))


# ------------------------------------------------------------------ mochawesome and its merge

def test_mochawesome_files_a_spec_file_and_their_merge_agree_with_mochas_json():
    """Cypress writes one mochawesome file a spec file (overwrite=false: mochawesome.json,
    mochawesome_001.json) and teams merge them with mochawesome-merge: the merged file holds the
    tests of both, with the same identities, and mocha's JSON reporter's run has them too."""
    merged_ids = {}
    for name in ("mochawesome-7/mochawesome.json", "mochawesome-7/mochawesome_001.json"):
        fmt, stream, cases = _read(name)
        assert fmt == "mochawesome" and stream.info.warnings == []
        merged_ids.update(_ids(cases))
    assert merged_ids == {**MOCHA_RUN, **NOT_RUN}
    _f, _s, cart = _read("mochawesome-6.json")  # mochawesome 6, spec/cart.spec.js alone
    assert _ids(cart) == {k: v for k, v in MOCHA_RUN.items() if k[1] in ("", "Cart", "Cart Checkout")}
    for name in ("mochawesome-merge-4.4.json", "mochawesome-merge-4.0.json"):
        fmt, stream, cases = _read(name)
        assert fmt == "mochawesome"
        assert _ids(cases) == merged_ids, name
        assert stream.totals.as_dict() == {"tests": 15, "passed": 6, "failures": 1, "errors": 3, "skipped": 5}


def test_mochawesome_merge_stats_are_read_in_the_terms_of_its_content():
    """mochawesome-merge recounts stats from the tests it merged: failed hooks (mochawesome's
    `other`) are left out, always 0, and a test a failed hook kept from running is counted in
    `tests` (4.4: in no state; 4.0: as skipped). Read so, the merged file's own totals agree with
    its content, and with the unmerged files' (no warning)."""
    for name in ("mochawesome-merge-4.4.json", "mochawesome-merge-4.0.json"):
        _f, stream, _cases = _read(name)
        assert stream.info.declared == {"tests": 15, "failures": 1, "errors": 3, "skipped": 5}, name
        assert stream.info.warnings == [], name
    _f, stream, _cases = _read("mochawesome-7/mochawesome_001.json")
    assert stream.info.declared == {"tests": 10, "failures": 0, "errors": 3, "skipped": 4}


# -------------------------------------------------------------------------- mocha's JSON reporter

def test_mocha_json_from_mocha_8_to_11_serial_and_parallel():
    """mocha 8 and 11 (9 and 10 write the same), and mocha 11 --parallel (its JSON reporter lists
    the spec files in the order they finished): the spec reporter's 6 passing, 3 pending, 4 failing,
    the flaky test's failed try kept from currentRetry, the one failing every try tried three times."""
    for name in ("mocha-json-8.json", "mocha-json-11.json", "mocha-json-11-parallel.json", "multi.json"):
        fmt, stream, cases = _read(name)
        assert fmt == "mocha-json"
        assert _ids(cases) == MOCHA_RUN, name
        assert stream.totals.as_dict() == MOCHA_TOTALS
        assert stream.info.warnings == []
        by_name = {c.name: c for c in cases}
        assert [a.status for a in by_name["pays (flaky)"].attempts] == [FAILED, PASSED]
        assert [a.status for a in by_name["computes the total"].attempts] == [FAILED] * 3
        assert by_name['"after all" hook for "skips itself"'].final.message == "after broke"


def test_mocha_json_on_stdout_after_the_tests_output():
    """`mocha --reporter json > report.json` (mocha 8 has no other way): what the tests print comes
    before the report in the file. The report is read from where mocha's JSON starts, as mocha's
    summary has it: "1 passing, 1 failing"."""
    head = (MOCHAFAM / "mocha-json-8-stdout.json").read_text(encoding="utf-8")
    assert head.startswith("connecting to the test database\n{ retrying: true }\n{\n")
    fmt, stream, cases = _read("mocha-json-8-stdout.json")
    assert fmt == "mocha-json"
    assert _ids(cases) == {("mocha", "Logs", "prints a line"): PASSED, ("mocha", "Logs", "prints and fails"): FAILED}
    assert next(c for c in cases if c.status == FAILED).final.message == "no connection"
    assert stream.info.warnings == []
    assert "mocha 8 logs: 1 passing\nmocha 8 logs: 1 failing\n" in (MOCHAFAM / "summaries.txt").read_text(encoding="utf-8")


def test_mocha_json_on_stdout_with_output_after_it(tmp_path):
    """A test that leaves a timer behind prints after mocha wrote its report (mocha waits for it
    without --exit): the same file with a line after the report, which is no part of it."""
    path = tmp_path / "report.json"
    path.write_bytes((MOCHAFAM / "mocha-json-8-stdout.json").read_bytes() + b"late timer fired\n")
    fmt, stream, cases = read_report(path)
    assert fmt.name == "mocha-json" and len(cases) == 2
    assert stream.totals.as_dict() == {"tests": 2, "passed": 1, "failures": 1, "errors": 0, "skipped": 0}


def test_mocha_json_on_stdout_after_an_object_a_test_printed(tmp_path):
    """A test that prints an object first (console.log({retrying: true}) prints '{ retrying: true }'):
    the file begins as JSON would and is none; the report after it is read all the same."""
    data = (MOCHAFAM / "mocha-json-8-stdout.json").read_bytes()
    path = tmp_path / "report.json"
    path.write_bytes(data[data.index(b"{ retrying"):])
    fmt, stream, cases = read_report(path)
    assert fmt.name == "mocha-json" and len(cases) == 2
    assert stream.info.warnings == []


def test_mocha_json_with_it_only():
    """it.only: mocha runs the focused test alone ("1 passing"); the others are in no report."""
    _f, stream, cases = _read("mocha-json-11-only.json")
    assert _ids(cases) == {("mocha", "Focus", "focused"): PASSED}
    assert stream.info.warnings == []


# ------------------------------------------------------------------------- mocha-junit-reporter

def test_cypress_multi_reporters_junit_and_json_of_one_run_agree():
    """cypress-multi-reporters writing mocha-junit-reporter's file (includePending) and mocha's
    JSON of one run: the same tests, identities and statuses (a failed hook is an errored test in
    both), and no warning: mocha-junit-reporter's tests= counts the tests each describe() registered,
    those a failed hook kept from running (not in the file) included and the hooks left out, a
    total the file's content cannot be held to once a hook failed."""
    fmt, stream, cases = _read("multi-junit.xml")
    assert fmt == "junit" and stream.info.framework == "mocha"
    _f, _s, native = _read("multi.json")
    assert _ids(cases) == _ids(native) == MOCHA_RUN
    assert stream.totals.as_dict() == MOCHA_TOTALS
    assert stream.info.warnings == []
    assert stream.info.declared == {"failures": 1, "errors": 3, "skipped": 3}


def test_mocha_junit_reporter_with_classname_and_name_switched():
    """testCaseSwitchClassnameAndName: name= is the test's title and classname= mocha's full
    title (the describe() titles, then the test's): the same suite and name as with the default
    options and as mocha's JSON reporter, not a suite of each test's own."""
    fmt, stream, cases = _read("junit-switched.xml")
    assert fmt == "junit" and stream.info.framework == "mocha"
    assert _ids(cases) == MOCHA_RUN
    assert stream.totals.as_dict() == MOCHA_TOTALS
    assert stream.info.warnings == []


def test_mocha_junit_reporter_jenkins_mode_keeps_its_dotted_suites():
    """jenkinsMode: classname= is the describe() titles joined by '.', which a title may hold too:
    the suite stays as Jenkins shows it ('Cart.Checkout'), the statuses as in mocha's JSON."""
    _f, stream, cases = _read("junit-jenkins.xml")
    assert stream.info.framework == "mocha"
    dotted = {"Cart Checkout": "Cart.Checkout"}
    expected = {(fw, dotted.get(suite, suite), name): status for (fw, suite, name), status in MOCHA_RUN.items()}
    assert _ids(cases) == expected
    assert stream.totals.as_dict() == MOCHA_TOTALS


# ------------------------------------------------------------------------------------- CTRF

def test_mocha_ctrf_failed_hooks_are_errors_as_in_mochas_other_reporters():
    """mocha-ctrf-json-reporter names a test by mocha's full title only (no suite, so its
    identities are not those of mocha's other reporters) and writes a failed hook as a failed
    test, counted in summary.failed: an errored test here, as mocha's JSON reporter,
    mochawesome and mocha-junit-reporter have it, and the file's totals the same."""
    fmt, stream, cases = _read("mocha-ctrf.json")
    assert fmt == "ctrf" and stream.info.framework == "mocha"
    full = {(fw, f"{suite} {name}".strip()): status for (fw, suite, name), status in MOCHA_RUN.items()}
    assert {(c.framework, c.name): c.status for c in cases} == full
    assert all(c.suite == "" for c in cases)
    assert stream.totals.as_dict() == MOCHA_TOTALS
    assert stream.info.declared == {"tests": 13, "failures": 1, "errors": 3, "skipped": 3}
    assert stream.info.warnings == []


def test_vitest_ctrf_suite_is_the_describe_path_without_the_test():
    """@d2t/vitest-ctrf-json-reporter writes vitest's full name ('cart > totals > adds items') as
    both the name and the suite: the suite is the describe() path and the name the test's title,
    not a suite of each test's own. Its counts are vitest's: 2 failed, 6 passed, 3 skipped, 1 todo."""
    fmt, stream, cases = _read("vitest-ctrf.json")
    assert fmt == "ctrf" and stream.info.framework == "vitest"
    ids = _ids(cases)
    assert ids[("vitest", "cart.totals", "adds items")] == PASSED
    assert ids[("vitest", "cart.totals", "applies discount")] == FAILED
    assert ids[("vitest", "cart.totals", "handles currency")] == SKIPPED  # test.todo
    assert ids[("vitest", "cart", "is empty at start")] == PASSED
    assert ids[("vitest", "", "top level works")] == PASSED
    assert ids[("vitest", "payments", "charges card")] == SKIPPED  # its beforeAll failed
    assert len(ids) == len(cases) == 12
    assert stream.totals.as_dict() == {"tests": 12, "passed": 6, "failures": 2, "errors": 0, "skipped": 4}
    assert stream.info.warnings == []


def test_mocha_junit_reporter_ant_mode_is_read_as_mocha():
    """antMode: a bare <testsuites>, and package/hostname/id/errors on each <testsuite>, the
    root's title gone: still mocha-junit-reporter's file, its tests named as mocha names them
    (not the title as the suite) and its failed hooks errors."""
    fmt, stream, cases = _read("junit-ant.xml")
    assert fmt == "junit" and stream.info.framework == "mocha"
    assert _ids(cases) == MOCHA_RUN
    assert stream.totals.as_dict() == MOCHA_TOTALS
    assert stream.info.warnings == []


def test_jest_ctrf_counts_as_jest_does():
    """jest-ctrf-json-reporter: "1 failed, 1 todo, 3 passed, 5 total" (a todo is 'other' in CTRF,
    skipped here); its suite is the file and the describe() titles, its name jest's full name."""
    fmt, stream, cases = _read("jest-ctrf.json")
    assert fmt == "ctrf" and stream.info.framework == "jest"
    assert stream.totals.as_dict() == {"tests": 5, "passed": 3, "failures": 1, "errors": 0, "skipped": 1}
    assert stream.info.warnings == []
    todo = next(c for c in cases if c.status == SKIPPED)
    assert (todo.suite, todo.name) == ("todo.test.js.wishlist", "wishlist shares the list")
    assert todo.properties["rawStatus"] == "todo"
