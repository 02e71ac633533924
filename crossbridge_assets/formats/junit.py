"""JUnit XML, in the dialects real tools write (pytest, unittest's xmlrunner and nose2, behave,
Surefire/Failsafe, Gradle, Ant, TestNG, jest-junit, mocha-junit-reporter, vitest, node:test, bun,
karma, cucumber-js, Playwright, go-junit-report, googletest, Catch2, PHPUnit, Bazel, nextest,
xunit.net, and of other languages' tools: RSpec, TAP::Formatter::JUnit, TAP::Harness::JUnit,
busted, EUnit, common_test, tasty, OUnit, Boost.Test, cmocka, CppUTest...). Where a tool has a
report format of its own (pytest-json-report, mocha's JSON, Playwright's JSON), a test read from
its JUnit file gets the identity that format gives it.

Counting (shared/corpus/README.md): every <testcase> anywhere counts once; outcome priority
error > failure > skipped > passed; status="disabled"/"notrun" counts as skipped; Surefire's
flaky*/rerun* children are extra attempts; a <testsuite> with a direct <error>/<failure> child
(the suite crashed before its tests) adds one errored test. Declared totals are recorded, never trusted.
One exception to "every testcase counts once": in pytest's files a testcase repeating a recent one
is a pytest-rerunfailures rerun, an attempt of the same test (see _join_rerun), or the error of
a teardown after a failed call, the same run (see _join_teardown); in fastlane trainer's files a
testcase with a 'repetition' property right after the same test is its next run (see _REPETITION).
Where a tool's file says otherwise than the tool's own summary (a Catch2 [!mayfail] test that
failed, CTest's tests that could not run, PHPUnit's risky tests...), the summary's word is taken:
see _REREAD and _native_reread (and in _case: unittest's unexpected successes, behave's dry runs,
TAP::Harness::JUnit's failed .t files).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    MAX_SECONDS,
    add_property,
    first_line,
    parse_timestamp,
    to_int,
    to_line,
    to_seconds,
)
from crossbridge_assets.formats._paths import normalize_source_path
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets.formats._xml import _LOCAL_NAMES, iterparse, local, text_of
from crossbridge_assets.formats.cucumber import FRAMEWORK as CUCUMBER
from crossbridge_assets.formats.cucumber import NOT_RUN as CUCUMBER_NOT_RUN
from crossbridge_assets.formats.cucumber import not_run_message
from crossbridge_assets.formats.mocha import HOOK_TITLE as MOCHA_HOOK_TITLE
from crossbridge_assets.formats.mocha import MAX_RETRIES
from crossbridge_assets.formats.mochawesome import suite_path as mocha_suite_path
from crossbridge_assets.formats.playwright import FRAMEWORK as PLAYWRIGHT
from crossbridge_assets.formats.playwright import skip_reason as playwright_skip_reason
from crossbridge_assets.formats.playwright import suite_path as playwright_suite_path
from crossbridge_assets.formats.robot import FRAMEWORK as ROBOT
from crossbridge_assets.formats.robot import merged_attempts as robot_merged_attempts
from crossbridge_assets.formats.testng import FRAMEWORK as TESTNG
from crossbridge_assets.formats.testng import config_failure_warning
from crossbridge_assets.model import (
    ERROR,
    FAILED,
    KIND_RESULTS,
    MAX_OUTPUT_CHARS,
    PASSED,
    RERUN_WITHOUT_DETAIL,
    SKIPPED,
    Attempt,
    ReportInfo,
    ResultStream,
    TestCase,
    at_least,
    normalize_suite,
    split_parameters,
    truncate_output,
)

FORMAT = "junit"

_OUTCOME = {"error": ERROR, "failure": FAILED, "skipped": SKIPPED}
_RERUN = {
    "flakyFailure": FAILED,
    "flakyError": ERROR,
    "rerunFailure": FAILED,
    "rerunError": ERROR,
}
_PRIORITY = {ERROR: 0, FAILED: 1, SKIPPED: 2, PASSED: 3}
_SKIP_STATUSES = {"disabled", "notrun", "skipped", "ignored"}


# pytest's <testsuite> attributes in the order it writes them. They tell a pytest file whose
# suite was renamed (junit_suite_name) and whose root does not say "pytest tests" (pytest < 8.4
# wrote a bare <testsuites>, pytest < 5.1 the <testsuite> itself as the root). timestamp and
# hostname are there since pytest 4.6.8; nose2, which copied the rest, writes neither; Java, JS
# and C++ tools write these names in other orders or with others.
_PYTEST_SUITE_KEYS = ("name", "errors", "failures", "skipped", "tests", "time", "timestamp", "hostname")
# Before Python 3.8 ElementTree sorted attributes, and so does Java's DOM (Ant writes the very same
# names sorted): pytest's timestamp, datetime.isoformat(), has microseconds; Ant's has none.
_PYTEST_SORTED_KEYS = tuple(sorted(_PYTEST_SUITE_KEYS))
_ISO_MICROSECONDS = re.compile(r"T\d\d:\d\d:\d\d\.\d{6}(?!\d)").search


def _pytest_suite(attrs) -> bool:
    keys = tuple(attrs)
    return keys == _PYTEST_SUITE_KEYS or (keys == _PYTEST_SORTED_KEYS and bool(_ISO_MICROSECONDS(attrs["timestamp"])))


# pytest's junitxml counts reports, not testcases: failures=, errors= and skipped= count the
# <failure>, <error> and <skipped> elements (a test whose subtests failed holds several, a call
# failure and its teardown error are two testcases); tests= counts those, plus one for each
# passed call. A rerun's testcase (pytest-rerunfailures) holds none and counts nothing; each passed
# subtest counts too but leaves no trace in the file, so tests= may exceed the content.
_PYTEST_COUNTED = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def _pytest_writer(attrs) -> bool:
    """Whether a pytest file's <testsuite> was written by pytest's junitxml (which counts as
    _PYTEST_COUNTED says), not by hand or another tool in its image: its attributes in pytest's
    order (without timestamp and hostname before 4.6.8)."""
    keys = tuple(attrs)
    return _pytest_suite(attrs) or keys in (_PYTEST_SUITE_KEYS[:6], tuple(sorted(_PYTEST_SUITE_KEYS[:6])))


def _pytest_counted(declared: dict[str, int], counted: dict[str, int], childless: int, reruns: int) -> dict[str, int]:
    """The content as pytest's declared totals count it (see _PYTEST_COUNTED)."""
    out = {key: counted.get(key, 0) for key in _PYTEST_COUNTED.values()}
    tests = sum(out.values()) + childless - reruns
    out["tests"] = at_least(declared.get("tests"), tests)  # passed subtests: any number of them
    return out


# Robot Framework's --xunit file (robot/reporting/xunitwriter.py, RF 3.2 to 7): the root is a
# <testsuite> with these attributes in this order, then a timestamp since RF 5 (empty when rebot
# does not know it), and errors="0" always (Robot has no errors). No other writer we know spells
# its root so.
_ROBOT_SUITE_KEYS = ("name", "tests", "errors", "failures", "skipped", "time")


def _robot_suite(root: etree._Element) -> bool:
    keys = tuple(root.attrib)
    return (
        keys[:6] == _ROBOT_SUITE_KEYS
        and keys[6:] in ((), ("timestamp",))
        and root.get("errors") == "0"
        and local(root.tag) == "testsuite"
        and not _behave_file(root)
    )


# behave --junit (1.2.6 on): one file per feature, a root <testsuite> with Robot's attributes in
# Robot's order, then a timestamp and a hostname, each of which behave.ini can leave out
# (behave.reporter.junit.show_timestamp, show_hostname); every testcase has a status= (behave's
# own: passed, failed, error, hook_error, skipped, untested...), which Robot never writes.
def _behave_file(root: etree._Element) -> bool:
    case = next(root.iterchildren("{*}testcase"), None)
    return case is not None and tuple(case.attrib)[:3] == ("classname", "name", "status")


# cucumber-js's JUnit files, a root <testsuite> with its attributes in one of two orders. Up to
# 11.0 its own formatter's (failures, skipped, name, time, tests; name 'cucumber-js' by default);
# from 11.1 that of @cucumber/junit-xml-formatter (name, time, tests, skipped, failures, errors and
# a timestamp; name 'Cucumber' by default). cucumber-jvm's JUnitFormatter sorts its attributes.
_CUCUMBER_JS_KEYS = ("failures", "skipped", "name", "time", "tests")
_CUCUMBER_MESSAGES_KEYS = ("name", "time", "tests", "skipped", "failures", "errors")


# TestNG's JUnit reporters, default listeners both: JUnitReportReporter (junitreports/TEST-<class>.xml)
# and JUnitXMLReporter (<suite>/<test>.xml). Each fills its root's attributes from a Properties, so
# they come in its hash order: told by their names, the first's by its timestamp too, which TestNG 7
# writes 'yyyy-MM-dd'T'HH:mm:ss z', a zone name after a space. Only the second writes `ignored`.
_TESTNG_REPORT_KEYS = frozenset(("hostname", "failures", "tests", "name", "time", "errors", "timestamp", "skipped"))
_TESTNG_XML_KEYS = frozenset(("ignored", "hostname", "failures", "tests", "name", "time", "errors", "timestamp"))
_ZONE_NAMED = re.compile(r"T\d\d:\d\d:\d\d [A-Za-z]").search


def _testng_suite(root: etree._Element) -> bool:
    keys = frozenset(root.attrib)
    if keys == _TESTNG_XML_KEYS:
        return True
    # JUnitReportReporter leaves the hostname out when the machine's name cannot be had.
    return keys | {"hostname"} == _TESTNG_REPORT_KEYS and bool(_ZONE_NAMED(root.get("timestamp")))


# The <testsuites> that JUnit mergers put around the files they merge, each file's root kept as it
# was (junit-report-merger, junitparser merge): the files' totals, no name.
_MERGED_ROOT_KEYS = frozenset(("tests", "failures", "errors", "skipped", "time"))


def _bare_root(root: etree._Element) -> bool:
    """A <testsuites> without attributes, as node:test, TAP::Formatter::JUnit and cmocka write
    theirs, or a merger's root of totals that took its place."""
    return local(root.tag) == "testsuites" and frozenset(root.attrib) <= _MERGED_ROOT_KEYS


def _merged_root(root: etree._Element, first: etree._Element) -> bool:
    return first is not root and _bare_root(root)


# node:test's junit reporter (node --test --test-reporter=junit, Node 20 on): a bare <testsuites>;
# a describe() or a test with subtests is a <testsuite> with these attributes in this order (a
# timestamp before the hostname from Node 24), every test without subtests a <testcase> whose
# classname is 'test', whatever its suites.
_NODE_SUITE_KEYS = ("name", "time", "disabled", "errors", "tests", "failures", "skipped")
_NODE_CASE_KEYS = ("name", "time", "classname")


def _node_test_file(root: etree._Element) -> bool:
    if not _bare_root(root):
        return False
    child = next(root.iterchildren("{*}testsuite", "{*}testcase"), None)
    if child is None:
        return False
    keys = tuple(child.attrib)
    if local(child.tag) == "testcase":
        return keys[:3] == _NODE_CASE_KEYS and child.get("classname") == "test"
    return keys[:7] == _NODE_SUITE_KEYS and keys[7:] in (("hostname",), ("timestamp", "hostname"))


# mocha-junit-reporter's <testsuite> attributes, in this order (file= when mocha knows the spec file,
# skipped= with includePending). Its root's name ('Mocha Tests') tells it too, but not once its files
# are merged (junit-report-merger, which Cypress's guide uses for its results-[hash].xml files, writes
# a <testsuites> without one).
_MOCHA_JUNIT_SUITE_KEYS = frozenset(("name", "timestamp", "tests", "file", "time", "failures", "skipped"))
# With antMode, package, hostname, id and errors after those (and a bare <testsuites>).
_MOCHA_JUNIT_ANT_KEYS = ("name", "timestamp", "tests", "package", "hostname", "id", "errors", "time", "failures")


def _mocha_junit_suite(attrs) -> bool:
    keys = tuple(attrs)
    if keys[:3] != ("name", "timestamp", "tests"):
        return False
    if "package" in attrs:
        return tuple(k for k in keys if k not in ("file", "skipped")) == _MOCHA_JUNIT_ANT_KEYS
    return set(keys) <= _MOCHA_JUNIT_SUITE_KEYS


def _dialect(root: etree._Element, first: etree._Element) -> tuple[str, Dialect | None]:
    """Best guess of the framework that wrote the file, for the test identity, and how its
    testcases spell suite, name and parameters when they do not in the usual way (None).
    Decided once a file, from the root and its first <testsuite> (the root itself when it holds
    testcases only)."""
    if first is root and _node_test_file(root):
        return "junit", _node_names
    root_attrs, attrs = root.attrib, first.attrib
    if "hostname" in attrs and tuple(root_attrs)[:2] == ("id", "name") and local(root.tag) == "testsuites":
        # Playwright's junit reporter: <testsuites id=".." name=".."> (both written, even empty),
        # a <testsuite> for each project and spec file with the project in `hostname`.
        return "playwright", _playwright_names
    if _robot_suite(root):
        return ROBOT, _robot_names
    if local(root.tag) == "testsuite":
        if _testng_suite(root):
            return TESTNG, None
        keys = tuple(root_attrs)
        if keys == _CUCUMBER_JS_KEYS:
            return CUCUMBER, _cucumber_js_names
        if keys[:6] == _CUCUMBER_MESSAGES_KEYS and keys[6:] in ((), ("timestamp",)):
            return CUCUMBER, _cucumber_messages_names
    if _tap_formatter_file(root, first):
        return "junit", _tap_names
    if _busted_file(root, first):
        return "junit", _busted_names
    if _eunit_file(root):
        return "junit", _eunit_names
    if _karma_file(first):
        return "junit", _karma_names
    if _ounit_file(first):
        return "junit", _ounit_names
    if _boost_file(root):
        return "junit", _boost_names
    if attrs.get("hostname") == "tbd" and (attrs.get("name") or "")[-4:].lower() == ".exe":
        return "junit", _catch2_windows_names
    names = " ".join(n.lower() for n in (root_attrs.get("name"), attrs.get("name")) if n)
    if "pytest" in names or _pytest_suite(attrs):
        return "pytest", None
    if "jest" in names:
        return "jest", None
    if "mocha" in names or _mocha_junit_suite(attrs):
        return "mocha", _mocha_names
    if "nextest" in names:
        return "nextest", None
    if tuple(root_attrs) == _BUN_ROOT_KEYS:
        return "junit", _bun_names
    if "assertions" in attrs:
        # PHPUnit (and Codeception, built on it) count assertions on every <testsuite>.
        return "junit", _phpunit_names
    return "junit", None


def _matches(s: Sniff) -> bool:
    return s.xml_root in ("testsuites", "testsuite")


def _declared(attrs: dict) -> dict[str, int]:
    declared = {}
    for key in ("tests", "failures", "errors"):
        value = to_int(attrs.get(key))
        if value is not None:
            declared[key] = value
    # CTest counts disabled tests apart from skipped ones, and the content counts both as
    # skipped. googletest's root has disabled= and no skipped= at all: its skipped tests are
    # not declared there, so nothing is.
    skipped = to_int(attrs.get("skipped"))
    if skipped is not None:
        declared["skipped"] = skipped + (to_int(attrs.get("disabled")) or 0)
    return declared


# A line go test prints for t.Error/t.Log/t.Skip ('    shop_test.go:20: discount = 5, want 10'),
# or a panic's first.
_GO_LOG_LINE = re.compile(r"^\s*([\w.-]+\.go:\d+: .*)$|^(panic: .*)$", re.M).search


def _go_message(output: str) -> str | None:
    """What go test printed for a test's failure or skip, as gotestsum and go-junit-report write it
    (a fixed message="Failed", the test's whole output in the body; gotestsum 1.8 puts a skipped
    test's output in its message): its first t.Error/t.Skip line or panic. None when it has none
    (a parent test failing only because a subtest did)."""
    found = _GO_LOG_LINE(output)
    return (found.group(1) or found.group(2)) if found else None


_NOSE2_FAILURE = "test failure"
_NOSE2_SKIP = "test skipped: "
# 'Failing step: Then the cart is gift wrapped ... undefined in 0.000s', without the time.
_BEHAVE_FAILING_STEP = re.compile(r"\s*(Failing step: .*? \.\.\. \w+)").match


def _attempt(elem: etree._Element, status: str) -> Attempt:
    message = elem.get("message")
    rerun = local(elem.tag) in _RERUN
    if rerun and len(elem):
        # A rerun element holds its run's own <system-out>/<system-err> (and Surefire's its
        # <stackTrace>): only its own text is the trace (cargo-nextest writes the panic there).
        body = elem.text.rstrip() if elem.text and elem.text.strip() else None
    else:
        body = text_of(elem)
    if message == "Failed" and body:
        message = _go_message(body) or message
    elif message == "None" and body and elem.get("type") == "NoneType":
        # behave 1.3 on an undefined or pending step (no exception): its body names the step.
        step = _BEHAVE_FAILING_STEP(body)
        message = step.group(1) if step else message
    elif message and body and message.startswith(_NOSE2_SKIP) and message[len(_NOSE2_SKIP):] == body.strip():
        message = body.strip()  # nose2: 'test skipped: <reason>', the reason as the text
    elif message == _NOSE2_FAILURE and body:
        # nose2 writes this one message on every failure and error: the traceback's last line,
        # the exception, is the message.
        message = body.strip().rpartition("\n")[2].strip() or message
    elif message is not None and message.startswith("=== RUN"):
        body = body or message  # the output stays, as the trace
        message = _go_message(message) or first_line(message)
    a = Attempt(
        status=status,
        message=message if message is not None else (body.strip().splitlines()[0] if body and body.strip() else None),
        failure_type=elem.get("type"),
        stack_trace=body,
    )
    if rerun:
        a.duration = to_seconds(elem.get("time"))
        for child in elem:
            tag = local(child.tag)
            if tag == "stackTrace":
                a.stack_trace = text_of(child)
                if a.message is None and a.stack_trace and a.stack_trace.strip():
                    a.message = a.stack_trace.strip().splitlines()[0]
            elif tag in ("system-out", "system-err"):
                text, size = truncate_output(text_of(child))
                if tag == "system-out":
                    a.stdout, a.stdout_size = text, size
                else:
                    a.stderr, a.stderr_size = text, size
    return a


def _seconds(text: str | None) -> float | None:
    """to_seconds for an attribute, with the plain spelling ('0.013') parsed without detours."""
    if not text:
        return None
    try:
        f = float(text)
    except ValueError:
        return to_seconds(text)  # decimal commas, thousands separators, junk
    return f if 0.0 <= f <= MAX_SECONDS else None  # NaN compares false


# Every TestRail/Jira/Zephyr id contains one of these; most test names contain none, so the
# three id patterns of extract_tags run only on names that can hold an id.
_DASHED_ID = re.compile(r"[A-Z0-9_]-T?\d").search
_TESTRAIL_ID = re.compile(r"C\d").search


def _may_hold_id(name: str) -> bool:
    return bool(("-" in name and _DASHED_ID(name)) or ("C" in name and _TESTRAIL_ID(name)))


def _suite_path(suite: etree._Element | None) -> str:
    """Dotted names of a testsuite element and the testsuites around it, outermost first,
    normalized as a classname is (a suite named 'example.com/shop' holds 'example.com.shop')."""
    names = []
    while suite is not None:
        if _LOCAL_NAMES.get(suite.tag, local(suite.tag)) == "testsuite":
            name = suite.get("name")
            if name:
                names.append(name)
        suite = suite.getparent()
    return normalize_suite(".".join(reversed(names)))


_ABSOLUTE_PATH = re.compile(r"^(?:[/\\]|[A-Za-z]:[/\\])").match


def _classname_suite(classname: str) -> str:
    """A testcase's suite from its classname. Pester names the class after the test file's full
    path ('D:\\a\\shop\\shop\\tests\\Cart.Tests.ps1', '/home/runner/work/shop/shop/tests/...'):
    the checkout folder goes, as from a coverage report's paths, so that a test keeps one identity
    on every runner and OS."""
    if _ABSOLUTE_PATH(classname):
        return normalize_suite(normalize_source_path(classname))
    return normalize_suite(classname)


@lru_cache(maxsize=4096)
def _relative_classname_suite(classname: str) -> str | None:
    """_classname_suite of a classname that is no absolute path, once per classname (those repeat
    for every test of a class); None for a path, whose suite depends on the source roots in use."""
    return None if _ABSOLUTE_PATH(classname) else normalize_suite(classname)


# (name, classname, testcase element) -> (suite, name, parameters, file) of a testcase whose
# writer spells them its own way: one for a file, so that the usual testcase pays nothing.
Dialect = Callable[[str, "str | None", etree._Element], "tuple[str, str, str | None, str | None]"]


def _catch2_windows_names(raw_name: str, classname: str | None, elem: etree._Element):
    """Catch2 (hostname "tbd") prefixes each classname with the run's name, by default the
    executable's file name: 'cart_test.exe.global' on Windows, 'cart_test.global' elsewhere. The
    '.exe' goes, so that a test has one identity on every OS."""
    run = elem.getparent().get("name") or ""
    if classname and classname.startswith(run + "."):
        classname = run[:-4] + classname[len(run):]
    suite = _classname_suite(classname) if classname else _suite_path(elem.getparent())
    name, params = split_parameters(raw_name)
    return suite, name, params, None


def _mocha_names(raw_name: str, classname: str | None, elem: etree._Element):
    """mocha-junit-reporter: name is mocha's full title (the describe() titles, then the test's),
    classname the test's title. Split as mocha's own reporters do, so the test has one identity
    whichever of them wrote the file: a test outside any describe() has the suite "", and a
    title ending in [..] is a title (mocha has no parameters). With testCaseSwitchClassnameAndName
    the two are the other way round."""
    if classname and raw_name.endswith(classname):
        if len(raw_name) == len(classname):
            return "", raw_name, None, None
        if raw_name[-len(classname) - 1] == " ":
            return mocha_suite_path([raw_name[: -len(classname) - 1]]), classname, None, None
    if classname and raw_name and classname.endswith(" " + raw_name):
        return mocha_suite_path([classname[: -len(raw_name) - 1]]), raw_name, None, None
    return normalize_suite(classname) if classname else _suite_path(elem.getparent()), raw_name, None, None


def _playwright_names(raw_name: str, classname: str | None, elem: etree._Element):
    """Playwright's junit reporter: name is the describe() titles and the test's joined by ' › ',
    classname the spec file, the <testsuite>'s hostname the project. Spelled as the Playwright
    JSON reporter's tests are (formats/playwright.py): suite = file + describe titles, the project
    as the parameters."""
    suite_elem = elem.getparent()
    project = suite_elem.get("hostname") if suite_elem is not None else None
    if not project and classname and " \u203a " in classname:
        old = _playwright_old_names(raw_name, classname, suite_elem)
        if old is not None:
            return old
    if project and raw_name.startswith(f"[{project}] "):  # includeProjectInTestName
        raw_name = raw_name[len(project) + 3 :]
    *titles, name = raw_name.split(" \u203a ")
    file = classname or (suite_elem.get("name") if suite_elem is not None else None)
    return playwright_suite_path(file, titles), name, f"[{project}]" if project else None, file


# Writers told apart by their root's name or attributes, which a merger's root (_merged_root)
# replaces: there, their <testsuite>'s attributes, in the order each writes them, tell them
# (Playwright's junit reporter from 1.20 on; jest-junit).
_MERGED_SUITE_KEYS: dict[tuple[str, ...], tuple[str, Dialect | None]] = {
    ("name", "timestamp", "hostname", "tests", "failures", "skipped", "time", "errors"): ("playwright", _playwright_names),
    ("name", "errors", "failures", "skipped", "timestamp", "time", "tests"): ("jest", None),
}


def _merged_writer(first: etree._Element) -> tuple[str, Dialect | None]:
    return _MERGED_SUITE_KEYS.get(tuple(first.attrib), ("junit", None))


# Playwright's junit reporter up to 1.3x: hostname="" and the classname '[project] › file:line:col
# › describe › title' (no ':line:col' from 1.2x's later releases on; no '[project] › ' without
# projects), the name the describe and test titles joined by spaces.
_PLAYWRIGHT_OLD_CLASSNAME = re.compile(r"(?:\[(.*?)\] \u203a )?(.+?)(?::\d+:\d+)? \u203a (.+)", re.S).fullmatch


def _playwright_old_names(raw_name: str, classname: str, suite_elem: etree._Element | None):
    """The classname's titles joined by ' › ' and the name's by ' ' tell where a title holding
    ' › ' ('cart › checkout') ends: the same test as the JSON reporter's, None when the two do
    not agree (not this shape)."""
    suite_file = suite_elem.get("name") if suite_elem is not None else None
    match = _PLAYWRIGHT_OLD_CLASSNAME(classname)
    if not match or (suite_file and match.group(2) != suite_file):
        return None
    parts = match.group(3).split(" \u203a ")
    titles, rest = [parts[0]], raw_name
    if not rest.startswith(parts[0]):
        return None
    rest = rest[len(parts[0]):]
    for part in parts[1:]:
        if rest.startswith(" \u203a " + part):
            titles[-1] += " \u203a " + part
            rest = rest[len(part) + 3:]
        elif rest.startswith(" " + part):
            titles.append(part)
            rest = rest[len(part) + 1:]
        else:
            return None
    if rest:
        return None
    project = match.group(1)
    *titles, name = titles
    file = match.group(2)
    return playwright_suite_path(file, titles), name, f"[{project}]" if project else None, file


# bun test --reporter=junit (bun 1.4): the root's attributes in this order; a <testsuite> for each
# file and each describe() inside it, nested, each with an assertions= count as PHPUnit's have.
_BUN_ROOT_KEYS = ("name", "tests", "assertions", "failures", "skipped", "time")


def _bun_names(raw_name: str, classname: str | None, elem: etree._Element):
    """bun: the classname holds the describe() titles innermost first ('totals > cart') and
    nothing for a test outside any describe(); the <testsuite>s around the test are its file and
    its describes, outermost first: they are the suite. The name is the test's whole title."""
    return _suite_path(elem.getparent()), raw_name, None, None


def _node_names(raw_name: str, classname: str | None, elem: etree._Element):
    """node:test: the classname is always 'test'; the suites a test is in are the <testsuite>s
    around it (describe() blocks, a test's subtests), none for a test at the top of its file. The
    name is the test's whole title: node:test has no parameters."""
    return _suite_path(elem.getparent()), raw_name, None, None


def _node_outcome(case: TestCase) -> None:
    """node:test counts a test its parent cancelled (a failed before() hook, a parent that ended
    first) as cancelled, apart from failed ones: it did not run, an error here. A skip without a
    reason (it.skip(), it.todo()) is written message="true"."""
    final = case.attempts[-1]
    if case.status == FAILED and final.failure_type == "cancelledByParent":
        case.status = final.status = ERROR
    elif case.status == SKIPPED and final.message == "true":
        final.message = "todo" if final.failure_type == "todo" else None


# TAP::Formatter::JUnit (prove --formatter TAP::Formatter::JUnit, tap2junit; 0.11 to 0.16): a bare
# <testsuites>, a <testsuite> for each .t file with these attributes in Perl's hash order (time with
# --timer), a testcase for each TAP test named by its number and description ('2 - computes the
# total', '3' without one), with no classname; with --timer, '(init)' and '(teardown)' testcases
# for the time before the first test and after the last, which are no tests.
_TAP_SUITE_KEYS = frozenset(("name", "tests", "failures", "errors"))
_TAP_TIMING = ("(init)", "(teardown)")
_TAP_CASE = re.compile(r"(\d+)(?: - | |$)").match
_TAP_OUTPUT = re.compile(r"(?:1\.\.\d+|(?:not )?ok\b|TAP version )").match


def _tap_formatter_file(root: etree._Element, first: etree._Element) -> bool:
    if not _bare_root(root) or first is root:
        return False
    keys = frozenset(first.attrib)
    if keys != _TAP_SUITE_KEYS and keys != _TAP_SUITE_KEYS | {"time"}:
        return False
    case = next(first.iterchildren("{*}testcase"), None)
    if case is not None:
        name = case.get("name") or ""
        return case.get("classname") is None and (name in _TAP_TIMING or bool(_TAP_CASE(name)))
    out = next(first.iterchildren("{*}system-out"), None)  # a file that ran no test (skip_all)
    return out is not None and bool(_TAP_OUTPUT(out.text or ""))


def _tap_names(raw_name: str, classname: str | None, elem: etree._Element):
    """TAP::Formatter::JUnit: the test's number goes, its description is the name (a test added
    above it renumbers every test after it); a test without a description keeps its number, all
    TAP knows of it. TAP has no parameters: 'discount [qty=2]' is a description."""
    match = _TAP_CASE(raw_name)
    name = raw_name[match.end():] if match and match.end() < len(raw_name) else raw_name
    return _suite_path(elem.getparent()), name, None, None


def _tap_outcome(case: TestCase) -> None:
    """A TODO test that passed is written as an <error> of type TodoTestSucceeded: prove lists it as
    'TODO passed', no failure, and so it is here."""
    if case.status == ERROR and case.attempts[-1].failure_type == "TodoTestSucceeded":
        case.status = case.attempts[-1].status = PASSED


# The TAP lines of a .t file's own tests (a subtest's are indented) that hold a directive.
_TAP_DIRECTIVE = re.compile(r"^(not )?ok (\d+)\b[^\n]*?(?<!\\)#\s*(skip|todo)\S*[ \t]*([^\n]*)$", re.I | re.M).finditer
# The suite-level <error> TAP::Formatter::JUnit writes for a .t file that exited non-zero.
_TAP_DUBIOUS = re.compile(r"Dubious, test returned (\d+) \(wstat").match


def _tap_suite(cases: list[tuple[str | None, TestCase]], output: str | None) -> int:
    """A .t file's tests once its <testsuite> has ended: the TAP it printed (its <system-out>) says
    which were skipped ('ok 3 # skip reason', a passing testcase in the file) and which TODO tests
    failed ('not ok 4 - x # TODO reason', passing too): skipped, as prove does not count them
    passed nor failed either. Returns how many of them failed."""
    if output:
        numbered = {number: case for number, case in cases if number is not None}
        for match in _TAP_DIRECTIVE(output):
            case = numbered.get(match.group(2))
            if case is None or case.status != PASSED:
                continue
            todo = match.group(3).lower() == "todo"
            if todo and not match.group(1):
                continue  # a TODO test that passed
            reason = match.group(4).strip()
            case.status = case.attempts[-1].status = SKIPPED
            case.attempts[-1].message = (f"TODO: {reason}" if reason else "TODO") if todo else (reason or None)
    return sum(case.status == FAILED for _number, case in cases)


_TAP_PLAN = re.compile(r"^1\.\.(\d+)", re.M).search


def _tap_missing(output: str | None, ran: int | None) -> int:
    """How many tests a .t file planned and did not run (or ran beyond its plan), which
    TAP::Formatter::JUnit counts in errors= besides the file's one error: no testcase holds them."""
    plan = _TAP_PLAN(output) if output else None
    planned = to_int(plan.group(1)) if plan else None  # None for more digits than a float holds
    return abs(planned - ran) if planned is not None and ran is not None else 0


def _tap_exit_of_failures(elem: etree._Element, failed: int) -> bool:
    """Whether a .t file's suite-level <error> only says it exited with its failed tests' count, as
    Test::More does (at most 254): no error besides those failures. A file that died or ran fewer
    tests than planned exits otherwise (255, or counting the missing ones): that error stays."""
    match = _TAP_DUBIOUS(elem.get("message") or "")
    return bool(match) and failed > 0 and to_int(match.group(1)) == min(failed, 254)


# busted -o junit (Lua, busted 2.x): the root's attributes are these (a 'skip', in Lua's table order),
# one <testsuite> for each run ('Run 1 of 1', more with --repeat); a testcase's classname is where
# the test is, 'spec/cart_spec.lua:10', its name the describe() titles and the test's joined by spaces.
_BUSTED_ROOT_KEYS = frozenset(("tests", "skip", "time", "failures", "errors"))
_BUSTED_RUN = re.compile(r"Run \d+ of \d+").fullmatch
_LINE_SUFFIX = re.compile(r":\d+$").search
_BUSTED_ERROR_AT = re.compile(r"([^\s:]+\.\w+):\d+: ").match


def _busted_file(root: etree._Element, first: etree._Element) -> bool:
    return frozenset(root.attrib) == _BUSTED_ROOT_KEYS and bool(_BUSTED_RUN(first.get("name") or ""))


def _busted_names(raw_name: str, classname: str | None, elem: etree._Element):
    """busted: the suite is the spec file without the test's line (which moves with every line
    added above it), the name the test's whole title: busted has no parameters."""
    file = classname
    if file:
        found = _LINE_SUFFIX(file)
        if found:
            # The path busted was given: absolute when the run named its specs so, and then a
            # CI service's checkout folder goes, so that a test keeps its identity from one
            # machine to the next.
            file = normalize_source_path(file[: found.start()])
    suite = normalize_suite(file) if file else _suite_path(elem.getparent())
    return suite, raw_name, None, file or None


# EUnit's surefire report (eunit_surefire, OTP 23 on; rebar3 eunit's too): a root <testsuite> for each
# module with its attributes in this order, named "module 'cart_tests'"; a testcase named
# 'module:line function', then ' (description)' when the test has one; a fixture whose setup failed
# as 'fixture setup [2,2]', its place in the module's tests.
_EUNIT_SUITE_KEYS = ("tests", "failures", "errors", "skipped", "time", "name")
_EUNIT_TEST = re.compile(r"([^\s:]+):\d+ (.+)", re.S).fullmatch
_EUNIT_FIXTURE = re.compile(r"(fixture (?:setup|cleanup)) \[[\d,]*\]").match
_EUNIT_MODULE = re.compile(r"module '(.+)'", re.S).fullmatch


def _eunit_file(root: etree._Element) -> bool:
    return local(root.tag) == "testsuite" and tuple(root.attrib) == _EUNIT_SUITE_KEYS


def _eunit_names(raw_name: str, classname: str | None, elem: etree._Element):
    """EUnit: the module is the suite, the test function (a generated test's fun, as the compiler
    names it) and its description the name; the line goes, as it moves with every line added above
    the test (test functions have none: ':0'). A failed fixture is named without its place."""
    test = _EUNIT_TEST(raw_name)
    if test:
        return test.group(1), test.group(2), None, None
    parent = elem.getparent()
    module = _EUNIT_MODULE(parent.get("name") or "") if parent is not None else None
    suite = module.group(1) if module else _suite_path(parent)
    fixture = _EUNIT_FIXTURE(raw_name)
    return suite, fixture.group(1) + raw_name[fixture.end():] if fixture else raw_name, None, None


# EUnit's exception in a failure's text, after where it was raised: '**error:coupon_expired', a
# term printed over several lines.
_EUNIT_EXCEPTION = re.compile(r"^\*\*(\w+:.*)", re.M | re.S).search


def _eunit_outcome(case: TestCase) -> None:
    """EUnit counts a failed assertion and an exception alike ('Failed: 2'); eunit_surefire means to
    write the first as a <failure>, but knows only the assertions' names before OTP 23 renamed them
    ('assertEqual_failed'): a '**error:{assert..' is a failure here. A test that timed out, cancelled
    and no 'Skipped' to EUnit, is written <skipped type="timeout">: it did not pass, an error. The
    message is the exception, on one line (no message= is written)."""
    final = case.attempts[-1]
    trace = final.stack_trace or ""
    if case.status == SKIPPED and final.failure_type == "timeout":
        case.status = final.status = ERROR
        final.message = "timed out"
        return
    exception = _EUNIT_EXCEPTION(trace)
    if exception is None:
        return
    final.message = " ".join(exception.group(1).split())
    if case.status == ERROR and final.failure_type == "error" and final.message.startswith("error:{assert"):
        case.status = final.status = FAILED


# karma-junit-reporter (0.x to 2.x): a <testsuite> for each browser, named by it ('Chrome Headless
# 156.0.0.0 (Linux 0.0.0)'), with these attributes first; with useBrowserName (the default) each
# testcase's classname starts with that name, spaces and dots made '_', and a '.'.
_KARMA_SUITE_KEYS = ("name", "package", "timestamp", "id", "hostname")
_BROWSER_VERSION = re.compile(r"(.+?) \d+(?:\.\d+)* \(.*\)", re.S).fullmatch


def _karma_file(first: etree._Element) -> bool:
    return tuple(first.attrib)[:5] == _KARMA_SUITE_KEYS


def _karma_names(raw_name: str, classname: str | None, elem: etree._Element):
    """karma-junit-reporter: the browser's name in the classname holds its version (and the OS's),
    which every browser update changed. The classname without it is the suite, and the browser
    without its version the parameters, so that the same test run in Chrome and in Firefox stays
    two. The name is as written: jasmine and mocha have no parameters."""
    parent = elem.getparent()
    browser = parent.get("name") if parent is not None else None
    if classname and browser:
        prefix = browser.replace(" ", "_").replace(".", "_") + "."
        if classname.startswith(prefix):
            family = _BROWSER_VERSION(browser)
            return normalize_suite(classname[len(prefix):]), raw_name, f"[{family.group(1) if family else browser}]", None
    return normalize_suite(classname) if classname else _suite_path(parent), raw_name, None, None


# OUnit2's -output-junit-file (OCaml, OUnit 2.2): a <testsuite> with these attributes in this order;
# each testcase named, classname too, by its test's path: labels and list positions joined by ':'
# ('cart:5:discounts:1:twenty').
_OUNIT_SUITE_KEYS = ("id", "package", "name", "timestamp", "hostname", "tests", "failures", "errors", "time")
_OUNIT_POSITION = re.compile(r":\d+(?=:)")
# OUnit's log, which it writes as the suite's system-out: a skipped test's line.
_OUNIT_SKIP = re.compile(r" W: Skip test (.*)$", re.M).finditer


def _ounit_file(first: etree._Element) -> bool:
    return tuple(first.attrib) == _OUNIT_SUITE_KEYS


def _ounit_names(raw_name: str, classname: str | None, elem: etree._Element):
    """OUnit2: a test's position in its list ('cart:5:discounts') changes when a test is added before
    it: the path's labels are the suite and the name, the positions go (a test without a label of
    its own keeps its last one, all it has)."""
    labels = _OUNIT_POSITION.sub("", raw_name).split(":")
    return normalize_suite(".".join(labels[:-1])), labels[-1], None, None


def _ounit_outcome(case: TestCase) -> None:
    """A todo() test is a <failure> of type OUnit.Todo, which OUnit's summary counts apart ('Todo: 1')
    from failures: not run to the end, skipped here."""
    final = case.attempts[-1]
    if case.status == FAILED and final.failure_type == "OUnit.Todo":
        case.status = final.status = SKIPPED
        final.message = f"TODO: {final.message}" if final.message else "TODO"


def _ounit_suite(cases: list[tuple[str | None, TestCase]], output: str | None) -> None:
    """OUnit writes a skipped test (skip_if) as a passing testcase; its log in the suite's
    system-out says 'Skip test <path>: <reason>.', as its summary counts it ('Skip: 1')."""
    if not output or " W: Skip test " not in output:
        return
    by_path = {path: case for path, case in cases if path}
    for match in _OUNIT_SKIP(output):
        line = match.group(1)
        for path, case in by_path.items():
            if line.startswith(path + ": ") and case.status == PASSED:
                case.status = case.attempts[-1].status = SKIPPED
                case.attempts[-1].message = line[len(path) + 2:].rstrip(".") or None


# Boost.Test's JUNIT logger (Boost 1.63 on): a root <testsuite> with these attributes in this order,
# a testcase for each test case, its classname the test suites' path joined by '.'; a data-driven
# test case's samples are test cases of their own named '_0', '_1'... in a suite named after it.
_BOOST_SUITE_KEYS = ("tests", "skipped", "errors", "failures", "id", "name", "time")
_BOOST_SAMPLE = re.compile(r"_\d+").fullmatch


def _boost_file(root: etree._Element) -> bool:
    return local(root.tag) == "testsuite" and tuple(root.attrib) == _BOOST_SUITE_KEYS


def _boost_names(raw_name: str, classname: str | None, elem: etree._Element):
    """Boost.Test: a data test case's sample ('cart.discount', '_2') is that test case with the
    sample's number as its parameters, as other runners' parameterized tests are."""
    if classname and _BOOST_SAMPLE(raw_name) and "." in classname:
        suite, _, test = classname.rpartition(".")
        return normalize_suite(suite), test, f"[{raw_name}]", None
    return normalize_suite(classname) if classname else _suite_path(elem.getparent()), raw_name, None, None


# What a failure's text says failed: the check's message, or the exception that was not caught.
_BOOST_MESSAGE = re.compile(r"^- message: (.+)$|^EXCEPTION STACK TRACE: -+\n(.+)$", re.M).search


def _boost_outcome(case: TestCase) -> None:
    """A test case whose failures were all expected (expected_failures(n)) is written with its
    <failure>s, but without the 'Failures detected in' note a failed test case gets: Boost counts it
    passed, and so does the file's failures=. Each <failure> says only message="failure" (an
    <error> "unexpected exception"): the message is the failed check's, or the exception."""
    final = case.attempts[-1]
    if case.status in (FAILED, ERROR) and final.stack_trace:
        found = _BOOST_MESSAGE(final.stack_trace)
        if found:
            final.message = (found.group(1) or found.group(2)).strip()
    if case.status == FAILED and "Failures detected in" not in (final.stderr or ""):
        case.status = final.status = PASSED
        final.message = "failed as expected"


def _robot_names(raw_name: str, classname: str | None, elem: etree._Element):
    """Robot Framework's --xunit file: classname is the test's parent suite's full name, the
    names of its suites joined by '.' as formats/robot.py joins them (kept as written: a suite
    named 'V1.2 Refunds' holds dots of its own), the name the test's whole name: Robot has no
    parameters, and 'Refund Order [partial]' is a title."""
    return classname if classname is not None else _suite_path(elem.getparent()), raw_name, None, None


def _robot_merged(case: TestCase) -> None:
    """rebot --merge --xunit: a merged test's failure or skip message is the HTML message rebot
    writes into output.xml; its earlier results become the earlier attempts, as formats/robot.py
    reads them (rebot writes no message for a passing test: a flaky one shows no earlier runs)."""
    final = case.attempts[-1]
    merged = robot_merged_attempts(final.message, case.status) if final.message else None
    if merged is not None:
        earlier, final.message = merged
        case.attempts = [*earlier, final]


# cucumber-js up to 11.0 numbers the repeats of a scenario name in a feature: 'paying apples [1]'.
_CUCUMBER_REPEAT = re.compile(r"(.*) \[(\d+)\]", re.S).fullmatch
# @cucumber/junit-xml-formatter names an outline row '[rule - ]outline[ - examples] - #2.1', then
# ': ' and the row's own name when the outline's title has a <placeholder>.
_CUCUMBER_ROW = re.compile(r" - #\d+\.\d+(?:: |$)").search
# A row of an outline whose title has no <placeholder>: its Examples table and row ('#2.1').
_CUCUMBER_PLAIN_ROW = re.compile(r" - #(\d{1,18})\.(\d{1,18})$").search  # bounded: int() refuses 4300 digits


def _cucumber_js_names(raw_name: str, classname: str | None, elem: etree._Element):
    """cucumber-js's own JUnit formatter (up to 11.0): classname is the feature, name the
    scenario's (an outline row's own, placeholders filled in), a repeat of a name in the feature
    numbered ' [n]': as formats/cucumber.py reads the JSON formatter's, the number is the
    parameters. A Rule's scenario is named 'rule: scenario' (the JSON file names it 'scenario':
    a colon in a title cannot be told from a Rule's, so the name stays whole)."""
    suite = normalize_suite(classname) if classname else _suite_path(elem.getparent())
    repeat = _CUCUMBER_REPEAT(raw_name)
    if repeat:
        return suite, repeat.group(1), f"[{repeat.group(2)}]", None
    return suite, raw_name, None, None


_CUCUMBER_RUN_HOOK = "BeforeAll/AfterAll hook"


def _number_outline_rows(rows: list[tuple[tuple[int, int], int, TestCase]]) -> Iterator[TestCase]:
    """Rows of outlines named alike, each with the repeat of the name it came as: the numbers
    the rows of one name took go to them in their tables' order, the order of their lines, as
    formats/cucumber.py numbers the JSON formatter's repeats, whatever order they ran in."""
    by_name: dict[tuple[str, str], list[tuple[tuple[int, int], int, TestCase]]] = {}
    for row in rows:
        by_name.setdefault((row[2].suite, row[2].name), []).append(row)
    for held in by_name.values():
        for (_place, _count, case), count in zip(sorted(held, key=lambda r: r[0]), sorted(r[1] for r in held)):
            case.parameters = f"[{count}]" if count else None
            yield case


def _cucumber_messages_names(raw_name: str, classname: str | None, elem: etree._Element):
    """@cucumber/junit-xml-formatter (cucumber-js 11.1 on): classname is the feature. An outline
    row is named after the row ('#i.j: name') when its title has a <placeholder>: that name is
    the JSON formatter's; otherwise the outline's title is ('#i.j' goes; repeats are numbered as
    the JSON's are, in _cases). A title holding ' - ' cannot be told from a Rule's or an Examples'
    name, so those stay whole."""
    if classname is None:
        # 0.15 on (cucumber-js 13): a BeforeAll/AfterAll hook that failed, named 'uri:line'. The
        # line goes (it moves with any edit above the hook); the hook is an error of the run.
        uri = raw_name.rpartition(":")[0] if raw_name.rpartition(":")[2].isdigit() else raw_name
        return _suite_path(elem.getparent()), f"{_CUCUMBER_RUN_HOOK} in {uri}", None, uri
    suite = normalize_suite(classname) if classname else _suite_path(elem.getparent())
    row = _CUCUMBER_ROW(raw_name)
    if row:
        return suite, raw_name[row.end():] if row.group().endswith(": ") else raw_name[: row.start()], None, None
    return suite, raw_name, None, None


_STEP_STATUS = re.compile(r"\.(\w+)$", re.M).findall


# cucumber-js 8.9 and 8.10 (the first with a JUnit formatter) write the worst step's status as a
# failure's type= and a fixed text for it as message= (8.11 on, the error's type and message).
_CUCUMBER_8_STATUSES = {
    "PENDING": "A step in the test case is not yet implemented",
    "UNDEFINED": "A step in the test case is not defined",
    "AMBIGUOUS": "Multiple definitions match one of the steps in the test case",
    "FAILED": "A hook or step failed",
    "UNKNOWN": "A result couldn't be established",
}


def _cucumber_outcome(case: TestCase) -> None:
    """cucumber-js writes a scenario whose worst step was pending, undefined or ambiguous as a
    <failure> without a type (no exception was thrown; 8.9 and 8.10: of that status as type=). Its
    JSON formatter's scenario is skipped then (formats/cucumber.py): so is this one, told by the
    step statuses its system-out lists."""
    final = case.attempts[-1]
    if case.status != FAILED:
        return
    state = final.failure_type
    if state in _CUCUMBER_8_STATUSES and final.message == _CUCUMBER_8_STATUSES[state]:
        if state in ("FAILED", "UNKNOWN"):
            # The error's first line, as the JSON's message has it, rather than the fixed text.
            final.message = first_line(final.stack_trace) or final.message
            return
        case.status = final.status = SKIPPED
        final.message = not_run_message({state.lower()})
        final.failure_type = None
        return
    if final.failure_type or not final.stdout:
        return
    states = set(_STEP_STATUS(final.stdout))
    if "failed" in states or not states & CUCUMBER_NOT_RUN:
        return
    case.status = final.status = SKIPPED
    final.message = not_run_message(states)


# jest-junit (reportTestSuiteErrors) writes a test file that failed to load as a testcase of this
# classname named by the file, with an <error>; then once more with a <failure> holding the same
# error as JSON (jest's testExecError). Its tests= leaves both out, its errors= counts the first.
_JEST_SUITE_ERROR = "Test suite failed to run"
# jest-junit's testcase for an error outside any test (a failed afterAll), its title after the
# classNameTemplate's text. Jest counts no test for it, and neither does the file's tests= or failures=.
_JEST_EXEC_FAILURE = "Test execution failure: could be caused by test hooks like 'afterAll'."


_SCRIPT_FILE = re.compile(r"\.[cm]?[jt]sx?$").search


def _jest_top_level_suite(elem: etree._Element, file: str | None) -> str:
    """The suite of a test outside any describe() when jest-junit's classNameTemplate is
    '{classname}' (empty then). Its <testsuite> is the test file when named after it
    (usePathForSuiteName, '{filepath}', '{filename}'); by default (suiteNameTemplate '{title}')
    it is named after the describe() of the file's first test, one this test is not in, which
    changes when tests move: then the file (addFileAttribute), or no suite."""
    parent = elem.getparent()
    if parent is not None and _SCRIPT_FILE(parent.get("name") or ""):
        return _suite_path(parent)
    return normalize_suite(file) if file else ""


def _jest_outcome(case: TestCase) -> None:
    """A failed afterAll is no failed test: an error of the suite, as mocha's failed hooks are.
    A test file that did not load is named by its path from the project, in the separators of
    the OS that ran it ('src\\cart\\broken.test.js' on Windows): '/' as elsewhere, so that it
    keeps one identity."""
    if case.suite == _JEST_SUITE_ERROR and "\\" in case.name:
        case.name = case.name.replace("\\", "/")
    if case.status == FAILED and case.name.endswith(_JEST_EXEC_FAILURE):
        case.status = case.attempts[-1].status = ERROR


def _jest_second_error(earlier: TestCase, later: TestCase) -> bool:
    """Whether `later` is jest-junit's second testcase for the test file `earlier` failed to load."""
    return (
        later.suite == _JEST_SUITE_ERROR
        and earlier.suite == _JEST_SUITE_ERROR
        and earlier.name == later.name
        and earlier.status == ERROR
        and len(earlier.attempts) == 1
    )


def _jest_suite(cases: list[TestCase], declared_tests: int | None) -> tuple[int, int]:
    """A <testsuite> of jest-junit, once all its testcases are read: (testcases its tests= leaves
    out, errored ones its errors= leaves out). tests= counts jest's passed, failed and skipped
    tests; a test.todo() is a testcase too, with no <skipped> and time="0", as a passing test that
    took no millisecond is. When as many testcases have time="0" as tests= leaves out, they are the
    todos: skipped, as jest does not count them passed."""
    plain = [c for c in cases if c.suite != _JEST_SUITE_ERROR and not c.name.endswith(_JEST_EXEC_FAILURE)]
    hooks = sum(c.name.endswith(_JEST_EXEC_FAILURE) for c in cases)
    todos = len(plain) - declared_tests if declared_tests is not None else 0
    if todos > 0:
        maybe = [c for c in plain if c.status == PASSED and c.duration == 0.0 and len(c.attempts) == 1]
        if len(maybe) == todos:
            for case in maybe:
                case.status = case.attempts[0].status = SKIPPED
                case.attempts[0].message = "todo"
    return max(todos, 0) + len(cases) - len(plain), hooks


def _testng_outcome(case: TestCase) -> None:
    """TestNG's JUnitReportReporter writes <error> for a throwable that is not an AssertionError;
    TestNG has no errors, its own report says FAIL (formats/testng.py). A message's line breaks
    read as spaces in an attribute: it is stripped, as testng-results.xml's is."""
    final = case.attempts[-1]
    if case.status == ERROR:
        case.status = final.status = FAILED
    if final.message:
        final.message = final.message.strip() or None


# JUnitXMLReporter escapes a message's & < > ' " itself (encodeAttr), then its XML writer escapes
# that again: the file says 'didn&amp;apos;t'.
_TESTNG_ESCAPED = re.compile(r"&(lt|gt|apos|quot|amp);")
_TESTNG_UNESCAPED = {"lt": "<", "gt": ">", "apos": "'", "quot": '"', "amp": "&"}


def _testng_xml_outcome(case: TestCase) -> None:
    """TestNG's JUnitXMLReporter: as _testng_outcome, with the message unescaped once more."""
    _testng_outcome(case)
    final = case.attempts[-1]
    if final.message and "&" in final.message:
        final.message = _TESTNG_ESCAPED.sub(lambda m: _TESTNG_UNESCAPED[m.group(1)], final.message)


# TestNG's JUnitXMLReporter names a configuration method by its annotation and name
# ('@BeforeClass connect', Utils.detailedMethodName); no Java method's name holds an '@' or a space.
_TESTNG_CONFIG = re.compile(r"@(?:Before|After)(?:Suite|Test|Groups|Class|Method) \S+").fullmatch


# common_test's cth_surefire hook: each suite's <testsuite> has these attributes in this order (a
# package= first and a url= before log= when configured). It writes the suite's and groups'
# configuration functions as testcases too, which neither its totals nor common_test's summary
# ('2 ok, 2 failed, 3 skipped of 7 test cases') count: a failed one skips the tests it was for,
# which the file holds as skipped, and is a warning here, as TestNG's configuration methods are.
_CT_SUITE_KEYS = ("hostname", "name", "time", "timestamp", "errors", "failures", "skipped", "tests", "log")
_CT_CONFIG = frozenset(("init_per_suite", "end_per_suite", "init_per_group", "end_per_group"))


def _ct_surefire_file(first: etree._Element) -> bool:
    return tuple(k for k in first.attrib if k not in ("package", "url")) == _CT_SUITE_KEYS


# Haskell's tasty-ant-xml (--xml; 1.1): a root <testsuites> with these attributes in this order, a
# <testsuite> for each testGroup holding only a name and tests= (and its nested groups). A test that
# threw or timed out is written as a <failure> as a failed one is, and counted in errors= rather than
# failures=: tasty counts them all as failed ('2 out of 5 tests failed'), and so do the file's
# elements; its declared errors are failures here.
_TASTY_ROOT_KEYS = ("errors", "failures", "tests", "time")


def _tasty_ant_file(root: etree._Element, first: etree._Element) -> bool:
    return (
        local(root.tag) == "testsuites"
        and tuple(root.attrib)[:4] == _TASTY_ROOT_KEYS
        and tuple(first.attrib)[:2] == ("name", "tests")
    )


# Nette Tester (JUnitPrinter, 1.x and 2.x): a bare root <testsuites>, one <testsuite> with these
# attributes in this order. Its errors= is the number of failed tests (Runner::FAILED), each written
# as a <failure>: its declared errors are failures here, as they are for tasty.
_NETTE_SUITE_KEYS = ("errors", "skipped", "tests", "time", "timestamp")


def _nette_tester_file(root: etree._Element, first: etree._Element) -> bool:
    return local(root.tag) == "testsuites" and not root.attrib and tuple(first.attrib) == _NETTE_SUITE_KEYS


def _testng_not_a_test(elem: etree._Element, case: TestCase, info: ReportInfo) -> bool:
    """Whether a testcase of TestNG's JUnit reporters is one TestNG does not count as a test (its
    summary, testng-results.xml and formats/testng.py do not): a configuration method that failed
    or was skipped (JUnitXMLReporter; a failed one is a report warning, as in testng-results.xml),
    or a method that never ran, disabled or in an excluded group: JUnitXMLReporter writes it
    holding <ignored/> and leaves it out of tests=, JUnitReportReporter as a testcase without a
    time holding <skipped/>, counted in tests= and skipped=."""
    if _TESTNG_CONFIG(case.name):
        if case.status in (FAILED, ERROR):
            info.warnings.append(config_failure_warning(elem.get("classname") or case.suite, case.name.split(" ")[1]))
        return True
    if case.status == SKIPPED and elem.get("time") is None:
        for key in ("tests", "skipped"):
            if key in info.declared:
                info.declared[key] -= 1
        return True
    return any(local(child.tag) == "ignored" for child in elem)


_MOCHA_HOOK = MOCHA_HOOK_TITLE.match  # a failed hook's title, see formats/mocha.py


def _mocha_outcome(case: TestCase) -> None:
    """mocha-junit-reporter writes a failed hook as a testcase with a <failure>: mocha's JSON
    reporters have it as an errored test (a hook is no test: formats/mocha.py), and so does this."""
    if case.status == FAILED and _MOCHA_HOOK(case.name):
        case.status = case.attempts[-1].status = ERROR


def _playwright_outcome(case: TestCase) -> None:
    """Playwright's junit reporter writes a failed expect() as <failure> and every other error
    (a thrown exception, a timeout, a failed hook) as <error>, and so for the tries before
    (flakyError, rerunError with includeRetries). Playwright has no errored tests: its list
    reporter and its JSON reporter (formats/playwright.py) call them all failed."""
    if case.status == ERROR:
        case.status = FAILED
    for attempt in case.attempts:
        if attempt.status == ERROR:
            attempt.status = FAILED
        if attempt.message and attempt.stack_trace and _PLAYWRIGHT_TITLE_MESSAGE(attempt.message):
            attempt.message = _playwright_body_message(attempt.stack_trace) or attempt.message
    if case.status == FAILED and len(case.attempts) == 1:
        _playwright_tries(case)


# The line the junit reporter puts before the errors of each retry of a failed test in its text
# ('    Retry #1 ─────…'; '-----' up to 1.2x). Bounded: int() refuses 4300 digits.
_PLAYWRIGHT_RETRY = re.compile(r"^ {4}Retry #(\d{1,18}) (?:-{3,}|\u2500{3,})[^\n]*$", re.M)


def _playwright_tries(case: TestCase) -> None:
    """Without includeRetries, the junit reporter writes a test that failed every try as one
    testcase, its time that of all tries, its text the errors of each try, a 'Retry #n' line before
    those of the n-th retry: the tries before the last, failed ones (Playwright retries a test only
    when it failed), as the JSON reporter lists them."""
    final = case.attempts[-1]
    text = final.stack_trace
    marks = list(_PLAYWRIGHT_RETRY.finditer(text)) if text and "Retry #" in text else None
    if not marks:
        return
    blocks = {0: text[: marks[0].start()]}
    for mark, after in zip(marks, [*marks[1:], None]):
        blocks[int(mark.group(1))] = text[mark.end() : after.start() if after else len(text)]
    last = int(marks[-1].group(1))
    earlier = []
    for retry in range(min(last, MAX_RETRIES)):
        block = blocks.get(retry)
        body = block.strip("\n") if block and block.strip() else None
        message = _playwright_body_message(body) if retry == 0 and body else first_line(body)
        earlier.append(Attempt(FAILED, message=message.removeprefix("Error: ") if message else None,
                               stack_trace=body))
    final.duration = None  # the testcase's time is that of every try
    case.attempts[:0] = earlier


# Up to 1.5x (and for a test.fail() test that passed, still), the junit reporter's message= is
# the test's place and title ('main.spec.js:30:1 steps that fail'); the error is in the text,
# under the header line that ends in '====' ('────' from 1.3x on).
_PLAYWRIGHT_TITLE_MESSAGE = re.compile(r"\S+:\d+:\d+ .+", re.S).fullmatch
_PLAYWRIGHT_HEADER = re.compile(r"^  .* \u203a .*(?:={3,}|\u2500{3,})\s*$\n(?:\s*\n)*\s*(.+)", re.M).search


def _playwright_body_message(text: str) -> str | None:
    """The first line of the first error, as the later junit reporter writes message= (its
    'Error: ' left out) and the JSON reporter's error.message begins."""
    match = _PLAYWRIGHT_HEADER(text)
    if not match:
        return None
    line = match.group(1).strip()
    return line.removeprefix("Error: ") or None


# Frameworks whose JUnit files say otherwise than their own reports: what each testcase read
# from such a file goes through, and which declared total the cases it changes move out of and
# into (the file counts them as it wrote them; the declared totals are kept as the content says).
_REREAD: dict[str, tuple[Callable[[TestCase], None], tuple[str, str | None] | None]] = {
    ROBOT: (_robot_merged, None),
    CUCUMBER: (_cucumber_outcome, ("failures", "skipped")),  # not run to the end
    TESTNG: (_testng_outcome, ("errors", "failures")),
    "mocha": (_mocha_outcome, ("failures", "errors")),  # failed hooks
    "jest": (_jest_outcome, None),  # see _jest_suite for the declared totals
    "playwright": (_playwright_outcome, ("errors", "failures")),
}
_TESTNG_XML_REREAD = (_testng_xml_outcome, _REREAD[TESTNG][1])


# A reread whose changes go different ways: each is taken out of the declared total it was in and
# put in the one it went to.
_EACH_MOVE = ("each", None)
_DECLARED_KEY = {FAILED: "failures", ERROR: "errors", SKIPPED: "skipped"}

# Tools whose JUnit files are told apart by their shape rather than by a framework of their own
# (their tests keep the identity "junit"), reread as _REREAD's are.

# CTest's --output-junit (cmCTestTestHandler::WriteJUnitXML): the root's attributes in this order.
_CTEST_KEYS = ("name", "tests", "failures", "disabled", "skipped", "hostname", "time", "timestamp")
# The reasons CTest writes on a test it did not run because the test asked so; any other (a failed
# fixture's setup, a missing executable or required file) is a test CTest lists as FAILED ("Not Run").
_CTEST_SKIPS = ("SKIP_RETURN_CODE=", "SKIP_REGULAR_EXPRESSION_MATCHED")


def _ctest_outcome(case: TestCase) -> None:
    """CTest writes every test it did not run as status="notrun" with a <skipped> giving the reason,
    and counts them all in skipped=; its own summary counts only the tests that skipped themselves
    as not run, the others as failed: an error here (the test could not run)."""
    final = case.attempts[-1]
    if case.status == SKIPPED and final.message and not final.message.startswith(_CTEST_SKIPS):
        case.status = final.status = ERROR


def _catch2_outcome(case: TestCase) -> None:
    """Catch2 writes an unexpected exception as an <error> without a message, its text after the
    'FAILED:' heading every failure's text has: that text is the message."""
    final = case.attempts[-1]
    if final.message == "FAILED:" and final.stack_trace:
        lines = [line.strip() for line in final.stack_trace.splitlines() if line.strip()]
        if len(lines) > 1:
            final.message = lines[1]


_PHPUNIT_RISKY = "PHPUnit\\Framework\\RiskyTestError"


def _phpunit_outcome(case: TestCase) -> None:
    """PHPUnit (9) writes no message on a <failure>/<error>: the text starts with the test's name
    ('CartTest::testTotal'), then the message, a blank line and where it failed. A risky test (no
    assertion, output or buffers left open) it writes as an <error> of type RiskyTestError, which
    its summary counts apart from errors and which fails no run: the test passed."""
    final = case.attempts[-1]
    trace = final.stack_trace
    if trace and final.message and "::" in final.message:
        header, _, rest = trace.strip().partition("\n")
        if header == final.message:
            message = rest.strip().split("\n\n", 1)[0].strip()
            final.message = message or final.message
    if case.status == ERROR and final.failure_type == _PHPUNIT_RISKY:
        case.status = final.status = PASSED


# cmocka (CMOCKA_MESSAGE_OUTPUT=xml): a bare <testsuites> for each group, its <testsuite> with these
# attributes in this order, its testcases a name and a time only. A test whose setup or teardown
# failed is written as a <failure> as a failed one is, with this text, and counted in errors=: cmocka
# reports it as an ERROR ('Could not run test'). A group whose setup failed is a <testsuite> with
# tests="0" errors="1" and nothing in it.
_CMOCKA_SUITE_KEYS = ("name", "time", "tests", "failures", "errors", "skipped")
_CMOCKA_FIXTURE_FAILED = ("Test setup failed", "Test teardown failed")


def _cmocka_file(root: etree._Element, first: etree._Element) -> bool:
    if not _bare_root(root) or tuple(first.attrib) != _CMOCKA_SUITE_KEYS:
        return False
    case = next(first.iterchildren("{*}testcase"), None)
    return case is None or tuple(case.attrib) == ("name", "time")


def _cmocka_outcome(case: TestCase) -> None:
    final = case.attempts[-1]
    if case.status == FAILED and final.message in _CMOCKA_FIXTURE_FAILED:
        case.status = final.status = ERROR


# CppUTest's -ojunit (JUnitTestOutput, 3.x and 4.x): a cpputest_<group>.xml for each TEST_GROUP, its
# root <testsuite> with these attributes in this order. It spells each line break of a failure's
# message '{newline}'.
_CPPUTEST_SUITE_KEYS = ("errors", "failures", "hostname", "name", "tests", "time", "timestamp")


def _cpputest_outcome(case: TestCase) -> None:
    final = case.attempts[-1]
    if final.message and "{newline}" in final.message:
        final.message = final.message.replace("{newline}", "\n")


# vitest's junit reporter (vitest 3): the root's and each file's <testsuite>'s attributes in these orders.
_VITEST_ROOT_KEYS = ("name", "tests", "failures", "errors", "time")
_VITEST_SUITE_KEYS = ("name", "timestamp", "hostname", "tests", "failures", "errors", "skipped", "time")


def _vitest_outcome() -> Callable[[TestCase], None]:
    """vitest writes a describe() whose beforeAll/afterAll failed as a testcase named by that
    describe's own title, after the file's tests (whose names hold the describe titles, joined by
    ' > '), and a test file that failed to load as a testcase named by the file (its classname by
    default). vitest counts neither as a test: a suite's error here, as a suite-level <failure> is."""
    titles: dict[str, set[str]] = {}

    def outcome(case: TestCase) -> None:
        seen = titles.setdefault(case.suite, set())
        if case.status == FAILED and (case.name in seen or normalize_suite(case.name) == case.suite):
            case.status = case.attempts[-1].status = ERROR
        *describes, _title = case.name.split(" > ")
        seen.update(describes)

    return outcome


def _native_reread(root: etree._Element, first: etree._Element, dialect: Dialect | None):
    if dialect is _node_names:
        return _node_outcome, None  # the file declares no totals
    if dialect is _tap_names:
        return _tap_outcome, ("errors", None)  # TODO tests that passed
    if dialect is _eunit_names:
        return _eunit_outcome, _EACH_MOVE
    if dialect is _ounit_names:
        return _ounit_outcome, ("failures", None)  # todo tests
    if dialect is _boost_names:
        return _boost_outcome, None  # its failures= leaves them out already
    if _cmocka_file(root, first):
        return _cmocka_outcome, None  # its errors= counts them as errors
    if local(root.tag) == "testsuite" and tuple(root.attrib) == _CPPUTEST_SUITE_KEYS:
        return _cpputest_outcome, None
    # (A root with a parent: a merged file's first <testsuite>, its root a merger's, not vitest's.)
    if tuple(first.attrib) == _VITEST_SUITE_KEYS and (
        tuple(root.attrib) == _VITEST_ROOT_KEYS or root.getparent() is not None
    ):
        return _vitest_outcome(), ("failures", "errors")
    if dialect is _phpunit_names:
        return _phpunit_outcome, ("errors", None)  # risky tests
    if local(root.tag) == "testsuite" and tuple(root.attrib) == _CTEST_KEYS:
        return _ctest_outcome, ("skipped", "errors")
    if first.get("hostname") == "tbd":  # Catch2's placeholder, written by every version
        return _catch2_outcome, None
    return None


_DATA_SET = " with data set "


def _phpunit_names(raw_name: str, classname: str | None, elem: etree._Element):
    """PHPUnit names a data provider's case 'testAdd with data set #0' or 'testAdd with data set
    "negative"' (an int or a string key). The method is the name; the data set is the parameters,
    in brackets as other runners' parameters are, and keeping PHPUnit's own spelling so that set
    #0 and a set named "0" stay apart."""
    suite = normalize_suite(classname) if classname else _suite_path(elem.getparent())
    method, found, data_set = raw_name.partition(_DATA_SET)
    if found and method:
        return suite, method, f"[{data_set}]", None
    return (suite, *split_parameters(raw_name), None)


# Catch2's JUnit reporter (2.x, 3.x) on a failed test tagged [!mayfail] or [!shouldfail]: a <skipped>
# with this message before the <failure>/<error>.
_CATCH2_MAY_FAIL = "TEST_CASE tagged with !mayfail"
# Ant's XML formatter running JUnit 4 (through JUnit4TestAdapter): a failure of the class as a whole
# (@BeforeClass, @AfterClass, @ClassRule) is a testcase of this class named after the test class.
_ANT_CLASS_FAILURE = "junit.framework.TestSuite"
_SUITE_ERROR = "(suite error)"
# behave's status= of a scenario that did not run, and the type of the <failure> it writes in one
# that has an undefined step (see _case).
_BEHAVE_NOT_RUN = ("untested", "skipped")
# behave writes a scenario's tags in its <system-out> only, on the line before its keyword:
# '\n@scenario.begin\n\n  @C2001 @smoke\n  Scenario: ...'.
_BEHAVE_TAGS = re.compile(r"\A\s*@scenario\.begin\n\n  (@[^\n]*)\n  \S").match
_BEHAVE_UNDEFINED = "undefined"
# TAP::Harness::JUnit (0.42) writes a .t file that ran no plan, ran other than it planned or exited
# non-zero as a failed testcase of its own, which prove does not count as a test: the file's error.
_TAP_HARNESS_FILE_FAILURES = {
    "Plan": (
        "The test suite died before a plan was produced. You need to have a plan.",
        "Some test were not executed, The test died prematurely.",
        "Extra tests tun.",
    ),
    "Died": ("Test died with return code ",),
}

# Its <testsuite> for a .t file (XML::Simple puts the name first, then the rest sorted; skipped=
# since 0.42, whose errors= and failures= are the other way round from older versions'): tests= is
# the plan, which counts TODO tests it does not write; errors= how far the tests run fell short of
# the plan (one for no plan or a bad exit); failures= its <failure> elements but for those two
# stand-ins; skipped= its <skipped> ones. Neither tests= nor errors= is a count of what it holds.
_TAP_HARNESS_SUITE_KEYS = ("name", "errors", "failures", "skipped", "tests", "time")


def _tap_harness_file(root: etree._Element, first: etree._Element) -> bool:
    return local(root.tag) == "testsuites" and not root.attrib and tuple(first.attrib) == _TAP_HARNESS_SUITE_KEYS


def _tap_harness_counted(elem: etree._Element, counted: dict[str, int]) -> None:
    """Adds a testcase of TAP::Harness::JUnit to its content counted as its totals count it."""
    for child in elem:
        tag = local(child.tag) if isinstance(child.tag, str) else None
        if tag == "skipped":
            counted["skipped"] += 1
        elif tag == "failure" and not (
            child.get("type") == "Died" or (child.get("message") or "") == _TAP_HARNESS_FILE_FAILURES["Plan"][0]
        ):
            counted["failures"] += 1


# unittest's stand-ins for what failed outside a test, as unittest-xml-reporting (xmlrunner) and
# nose2's junitxml plugin write them. A class or module fixture that raised is an _ErrorHolder
# described 'setUpClass (shop.test_cart.CartTest)': xmlrunner writes it with classname="" in a
# <testsuite> named after _ErrorHolder and the run's time ('unittest.suite._ErrorHolder-20261130183701'),
# nose2 split at the description's last dot (classname 'setUpClass (shop.test_cart', name
# 'CartTest)'). A module that failed to import is a test of a loader's class named after the module
# ('unittest.loader._FailedTest.shop' and 'test_broken'; nose2's ModuleImportFailure). Each is the
# fixture (its name) of the class or module, or the module, whatever wrote it.
_UNITTEST_FIXTURES = ("setUpClass", "tearDownClass", "setUpModule", "tearDownModule")
_UNITTEST_FIXTURE = re.compile(rf"({'|'.join(_UNITTEST_FIXTURES)}) \((.+)\)", re.S).fullmatch
_UNITTEST_IMPORT_FAILURE = ("unittest.loader._FailedTest", "nose2.loader.ModuleImportFailure")


# What unittest's expectedFailure test that passed is written as, and which of the file's totals
# counts it: xmlrunner's <error> and nose2's <skipped>.
_UNEXPECTED_SUCCESS = {(ERROR, "type", "UnexpectedSuccess"): "errors", (SKIPPED, "message", "test passes unexpectedly"): "skipped"}


def _unexpected_success(status: str, elem: etree._Element) -> str | None:
    """The declared total an unexpected success was counted in, if `elem` is one."""
    for (was, attr, value), total in _UNEXPECTED_SUCCESS.items():
        if status == was and elem.get(attr) == value:
            return total
    return None


def _unittest_stand_in(suite: str, name: str, classname: str | None) -> tuple[str, str]:
    if classname and classname.startswith(_UNITTEST_IMPORT_FAILURE):
        package = classname[len(next(p for p in _UNITTEST_IMPORT_FAILURE if classname.startswith(p))):]
        if not package or package.startswith("."):
            return normalize_suite(package), name
    fixture = _UNITTEST_FIXTURE(f"{classname}.{name}" if classname else name)
    if fixture:
        return normalize_suite(fixture.group(2)), fixture.group(1)
    return suite, name


def _case(elem: etree._Element, framework: str, dialect: Dialect | None, moves: dict | None = None) -> TestCase:
    """One <testcase>. `moves` counts the cases whose status differs from the outcome the file
    counted them by: (declared total they were counted in, the one they are in; None: none) -> count."""
    # One attribute proxy serves every lookup (elem.get builds one per call).
    attrib = elem.attrib
    get = attrib.get
    raw_name = get("name")
    classname = get("classname")
    time = get("time")
    # Most testcases carry name, classname and time only: skip looking up the rarer attributes.
    if len(attrib) > (raw_name is not None) + (classname is not None) + (time is not None):
        if not classname:
            classname = get("class", classname)  # an empty classname stays one
        # googletest up to 1.10 marks a GTEST_SKIP() test only with result="skipped".
        status_attr, file, line = get("status") or get("result"), get("file"), get("line")
        if status_attr == "run":
            status_attr = get("result")
    else:
        status_attr = file = line = None
    raw_name = raw_name or ""
    if dialect is None:
        if classname:
            suite = _relative_classname_suite(classname)
            if suite is None:
                suite = _classname_suite(classname)
        elif classname == "" and framework == "pytest":
            # A module's own report (collection error, module-level skip), named by the module:
            # pytest-json-report's collector has no suite either; the <testsuite>'s name is
            # only junit_suite_name.
            suite = ""
        elif classname == "" and framework == "jest":
            suite = _jest_top_level_suite(elem, file)
        else:
            suite = _suite_path(elem.getparent())
        name, params = split_parameters(raw_name)
        if classname == _ANT_CLASS_FAILURE and raw_name:
            # The class's own error, named as a suite-level <error> is (_suite_crash).
            suite, name, params = normalize_suite(raw_name), _SUITE_ERROR, None
    else:
        suite, name, params, dialect_file = dialect(raw_name, classname, elem)
        file = file or dialect_file
    duration = _seconds(time)

    outcome_priority, status, outcome_elem = 3, PASSED, None
    may_fail = False
    reruns: list[Attempt] = []
    properties: dict[str, str] = {}
    stdout = stderr = tags = None
    out_size = err_size = 0
    if len(elem):  # most passing tests have no children at all
        for child in elem:
            tag = _LOCAL_NAMES.get(child.tag) or local(child.tag)
            child_status = _OUTCOME.get(tag)
            if child_status is not None:
                if child_status == SKIPPED and child.get("message") == _CATCH2_MAY_FAIL:
                    may_fail = True
                if _PRIORITY[child_status] < outcome_priority:
                    outcome_priority, status, outcome_elem = _PRIORITY[child_status], child_status, child
            elif tag in _RERUN:
                reruns.append(_attempt(child, _RERUN[tag]))
            elif tag == "properties":
                for prop in child:
                    if local(prop.tag) == "property" and prop.get("name") is not None:
                        add_property(properties, prop.get("name"),
                                     prop.get("value") if prop.get("value") is not None else (prop.text or ""))
            elif tag == "system-out":
                stdout, out_size = truncate_output(_pytest_sections(text_of(child)))
                if stdout is not None and "@scenario.begin" in stdout[:40]:
                    behave = _BEHAVE_TAGS(stdout)
                    tags = behave.group(1).replace("@", " ").split() if behave else None
            elif tag == "system-err":
                stderr, err_size = truncate_output(_pytest_sections(text_of(child)))

    if status == PASSED and status_attr and status_attr.lower() in _SKIP_STATUSES:
        status = SKIPPED
    # The writers' stand-ins below are all a test that did not pass: a passing test (most of
    # them) is looked at no further.
    if outcome_elem is not None:
        if dialect is None and (raw_name.endswith(")") or (classname and classname.startswith(_UNITTEST_IMPORT_FAILURE))):
            suite, name = _unittest_stand_in(suite, name, classname)
        if status != FAILED:
            total = _unexpected_success(status, outcome_elem)
            if total is not None:
                # unittest's expectedFailure test that passed: it fails unittest's run, as pytest has
                # it (a failure); xmlrunner writes an <error>, nose2 a <skipped>.
                status = FAILED
                if moves is not None:
                    moves[(total, "failures")] = moves.get((total, "failures"), 0) + 1
        if status == FAILED and status_attr in _BEHAVE_NOT_RUN and outcome_elem.get("type") == _BEHAVE_UNDEFINED:
            # behave --dry-run: a scenario with an undefined step was not run (behave counts it
            # untested), yet is written with a <failure type="undefined">, counted in its failures=
            # and skipped= both.
            status = SKIPPED
            if moves is not None:
                moves[("failures", None)] = moves.get(("failures", None), 0) + 1
        if status == FAILED and outcome_elem.get("type") in _TAP_HARNESS_FILE_FAILURES:
            if (outcome_elem.get("message") or "").startswith(_TAP_HARNESS_FILE_FAILURES[outcome_elem.get("type")]):
                status, name, params = ERROR, _SUITE_ERROR, None
    if may_fail and status in (FAILED, ERROR):
        # Catch2's [!mayfail] (or [!shouldfail]) test that failed: "failed as expected", which its
        # summary and the suite's failures= leave out. Its <skipped> says so; the failure stays the trace.
        status = SKIPPED
        final = _attempt(outcome_elem, status)
        final.message = _CATCH2_MAY_FAIL
        final.stdout, final.stdout_size, final.stderr, final.stderr_size = stdout, out_size, stderr, err_size
    elif outcome_elem is not None:
        final = _attempt(outcome_elem, status)
        final.stdout, final.stdout_size, final.stderr, final.stderr_size = stdout, out_size, stderr, err_size
    else:
        final = Attempt(status, None, None, None, None, stdout, stderr, out_size, err_size)

    # The testcase's time is that of the run its own outcome stands for. Surefire
    # (StatelessXmlReporter) writes the first run's time on a test that failed every run, whose
    # <failure>/<error> is that first run, and the first passing run's on a flaky test; Playwright's
    # junit reporter with includeRetries does the same. A rerun element has its own time, if any.
    final.duration = duration
    if reruns:
        if status in (FAILED, ERROR):
            # Surefire: the first run failed and every rerun is listed after it.
            attempts = [final, *reruns]
        else:
            # flakyFailure/flakyError: failed runs before the one that passed.
            attempts = [*reruns, final]
        duration = _runs_duration(attempts)
    else:
        attempts = [final]
    if properties and framework == PLAYWRIGHT:  # most testcases have no properties
        playwright_skip_reason(properties, attempts)

    return TestCase(
        framework,
        suite,
        name,
        params,
        status,
        duration,
        attempts,
        properties,
        extract_tags(raw_name, properties, tags) if properties or tags or _may_hold_id(raw_name) else [],
        file,
        _line(line, framework) if line else None,
    )


def _line(line: str, framework: str) -> int | None:
    if framework == "pytest":
        # pytest (xunit1, legacy) writes its item's 0-based line, as pytest-json-report's lineno.
        n = to_int(line)
        return to_line(n + 1) if n is not None else None
    return to_line(line)


def _suite_crash(elem: etree._Element, framework: str, dialect: Dialect | None = None) -> TestCase:
    """A suite-level <error>/<failure>: the suite died before (or around) its tests."""
    status = ERROR
    attempt = _attempt(elem, status)
    suite = _suite_path(elem.getparent())
    if dialect is _busted_names:
        # busted writes every error outside a test (a spec file that did not load, a failed
        # describe() body or hook) to its run's <testsuite>, each one of its errors, its message
        # starting where it was raised: the spec file is the suite, as its tests'.
        where = _BUSTED_ERROR_AT(attempt.message or "")
        if where:
            suite = normalize_suite(normalize_source_path(where.group(1)))
    return TestCase(framework=framework, suite=suite, name=_SUITE_ERROR, status=status, attempts=[attempt])


# pytest's --junitxml with junit_logging (log, system-out, system-err, out-err, all) heads each
# captured section with its name centred in 80 columns, an empty section included: banner,
# content, '' joined by newlines (LogXML's _prepare_content).
_PYTEST_BANNER = re.compile(r"^-{33} Captured (?:Log|Out|Err) -{33}\n", re.M)


def _pytest_sections(text: str | None) -> str | None:
    """A testcase's captured output as pytest's JUnit writes it: the empty sections left out, and
    a single one without its banner, so that the output is what the test printed (as pytest's
    other reports have it); other text as it is."""
    if not text or not text.startswith("-" * 33 + " Captured "):
        return text
    banners = list(_PYTEST_BANNER.finditer(text))
    if not banners or banners[0].start() != 0:
        return text
    sections = []
    for i, banner in enumerate(banners):
        body = text[banner.end() : banners[i + 1].start() if i + 1 < len(banners) else len(text)]
        body = body[:-1] if body.endswith("\n") else body
        if body:
            sections.append((banner.group(0), body))
    if len(sections) == 1:
        return sections[0][1]
    return "".join(f"{banner}{body}\n" for banner, body in sections) or None


class _SuiteOutput:
    """A <testsuite>'s own <system-out> or <system-err>, after its testcases: where Gradle
    (by default), Ant, Bazel and Catch2 put the output captured while a class or target ran, not
    on a testcase. The report keeps it (ReportInfo.properties), bounded as a testcase's output is:
    MAX_OUTPUT_CHARS over all suites, each suite's text truncated with its own size noted, the
    suites past the bound counted. When several suites wrote some, each part is headed by the
    suite's name (cut short: names count against the bound too)."""

    def __init__(self):
        self.parts: list[tuple[str, str]] = []
        self.room = MAX_OUTPUT_CHARS
        self.left_out = 0

    def add(self, suite: str | None, text: str | None) -> None:
        if not text or not text.strip():
            return
        if self.room <= 0:
            self.left_out += 1
            return
        suite = (suite or "")[:200]
        kept, _size = truncate_output(text, self.room)
        self.room -= len(suite) + len(text)
        self.parts.append((suite, kept))

    def text(self) -> str | None:
        if not self.parts:
            return None
        if len(self.parts) == 1 and not self.left_out:
            return self.parts[0][1]
        text = "\n".join(f"[{suite}]\n{kept}" for suite, kept in self.parts)
        if self.left_out:
            text += f"\n… [{self.left_out} more suite(s) wrote output, not kept]"
        return text


def _runs_duration(attempts: list[Attempt]) -> float | None:
    """A test's duration: all its runs together, as far as their times are written."""
    known = [a.duration for a in attempts if a.duration is not None]
    return sum(known) if known else None


# pytest's message on the <error> of a failed teardown (since 5.0; 'test teardown failure' before).
_TEARDOWN_ERROR = ('failed on teardown with "', "test teardown failure")


def _teardown_of(earlier: TestCase, later: TestCase) -> bool:
    """Whether `later` is the teardown error of `earlier`'s own run: pytest --junitxml writes a test
    whose call failed and whose teardown then failed as two testcases, the <failure> and then an
    <error> (to follow the JUnit schema). A rerun's testcase never holds a <failure>."""
    run, teardown = earlier.attempts[-1], later.attempts[-1]
    return (
        run.status == FAILED
        and later.status == ERROR
        and len(later.attempts) == 1
        and (teardown.message or "").startswith(_TEARDOWN_ERROR)
    )


def _join_teardown(earlier: TestCase, later: TestCase) -> TestCase:
    """One run, one attempt: an error, as pytest-json-report's outcome has it, with the call's
    failure as its message; the teardown's error follows the call's trace."""
    run, teardown = earlier.attempts[-1], later.attempts[-1]
    earlier.status = run.status = ERROR
    run.stack_trace = "\n\n".join(t for t in (run.stack_trace, teardown.message, teardown.stack_trace) if t)
    if teardown.duration is not None:
        run.duration = (run.duration or 0.0) + teardown.duration
    for attr in ("stdout", "stderr"):
        if getattr(run, attr) is None and getattr(teardown, attr) is not None:
            setattr(run, attr, getattr(teardown, attr))
            setattr(run, attr + "_size", getattr(teardown, attr + "_size"))
    earlier.duration = _runs_duration(earlier.attempts)
    for key, value in later.properties.items():
        earlier.properties.setdefault(key, value)
    return earlier


def _join_rerun(earlier: TestCase, later: TestCase) -> TestCase:
    """pytest-rerunfailures: `later` is a rerun of `earlier`, the same test in one session.
    pytest's junitxml writes a rerun report ('rerun' is neither passed, failed nor skipped) as
    a testcase without an outcome; the plugin reruns only failed tests, so such a run failed."""
    for attempt in earlier.attempts:
        if attempt.status == PASSED:
            attempt.status = FAILED
            attempt.message = attempt.message or RERUN_WITHOUT_DETAIL
    later.attempts[:0] = earlier.attempts
    later.duration = _runs_duration(later.attempts)
    for key, value in earlier.properties.items():
        later.properties.setdefault(key, value)
    return later


# fastlane's trainer (2.227 on, from an xcresult) writes each run of a test that Xcode ran again
# (-retry-tests-on-failure, -test-iterations) as a testcase of its own, one after the other, with
# this property naming the run ('First Run', 'Retry 1', 'Repetition 2 of 3'); its tests= and
# failures= count the tests, each by its last run. They are the attempts of one test here.
_REPETITION = "repetition"


def _join_repetition(earlier: TestCase, later: TestCase) -> TestCase:
    """`later` is the next run of `earlier` (trainer): the test's outcome is the last run's."""
    later.attempts[:0] = earlier.attempts
    later.duration = _runs_duration(later.attempts)
    for key, value in earlier.properties.items():
        later.properties.setdefault(key, value)
    return later


# Finished testcases are freed right away; their emptied elements are unlinked in batches.
_UNLINK_EVERY = 64
# pytest files: how many recent tests are held back so that a rerun can join its test. With
# xdist, other workers' reports come between a test and its rerun; a few hundred is plenty.
_RERUN_WINDOW = 256
# testsuites ends once, last: it still brings the root's attributes to a report without tests.
# <properties> of a suite come before its testcases (Surefire, Gradle), which are unlinked as they
# are read: they are read when they end.
_TAGS = ("{*}testsuites", "{*}testsuite", "{*}testcase", "{*}error", "{*}failure", "{*}properties")


# A zone-less ISO time ('2024-06-11T10:00:01', as Surefire, pytest and most writers spell the
# suite's timestamp): two of one length sort as their text does, so that a suite's timestamp
# that sorts after the earliest so far need not be parsed.
_PLAIN_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?").fullmatch


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    # Only end events: a start event per testcase would cost as much again as the walk itself.
    # What the old start events gave (root totals, suite names) is read from the tree instead:
    # an element's attributes are there as soon as its start tag has been parsed.
    crashed: set[int] = set()  # suites whose crash was already counted
    root = None
    root_name = None
    framework = "junit"
    dialect = None
    framework_known = False
    suite_output = {"system-out": _SuiteOutput(), "system-err": _SuiteOutput()}
    sum_children = False  # root <testsuites> without totals: the first-level suites have them
    sum_time = False  # root <testsuites> without a time (pytest): the run took the first-level suites' sum
    # Root <testsuites> without a timestamp: the run started with the earliest first-level suite, which
    # need not be the first written (Ant's junitreport orders them by file name, merged files as merged).
    earliest = False
    earliest_text = None  # the earliest's timestamp as written, when _PLAIN_TIMESTAMP
    # Repeats are looked for within one suite (where go-junit-report and gotestsum put reruns),
    # so memory follows the size of a suite, not of the file.
    seen: dict[tuple[str, str, str | None], int] = {}
    repeated = 0
    number_repeats = False  # see _cucumber_messages_names
    # cucumber-js 11.1 on: the rows of outlines without a <placeholder> in their title, each with
    # the number of the repeat of its name it came as, held until their suite ends: then the rows
    # of one name take those numbers in their tables' order, not in the order they ran.
    outline_rows: list[tuple[tuple[int, int], int, TestCase]] = []
    run_hooks = 0  # cucumber-js's failed BeforeAll/AfterAll hooks, see _cucumber_messages_names
    reread = None  # see _REREAD
    assertions_as_tests = False
    class_failures = 0  # Ant's testcases for a class's own failure, which its tests= leaves out
    moves: dict[tuple[str, str | None], int] = {}  # see _case
    moved = 0  # cases whose status the reread changed
    reread_moves: dict[tuple[str, str], int] = {}  # (from, to) status -> cases, for _EACH_MOVE
    held: dict[tuple[str, str, str | None], TestCase] | None = None  # pytest: see _RERUN_WINDOW
    pending: TestCase | None = None  # trainer: a run its next repetition may follow (_REPETITION)
    reruns = 0
    pytest_counted: dict[str, int] = {}  # see _PYTEST_COUNTED
    pytest_childless = 0
    pytest_writer = False  # see _pytest_writer
    # mocha-junit-reporter: testcases of the current suite, the file's skipped ones, and the tests
    # its suites' tests= count that it did not write (see where the totals are counted, at the end).
    mocha_suite_cases = mocha_written = mocha_skipped = mocha_unwritten = 0
    tap_harness: dict[str, int] | None = None  # TAP::Harness::JUnit: see _TAP_HARNESS_SUITE_KEYS
    suites_tests: int | None = 0  # the root's suites' tests= summed; None once one has none
    root_suites = 0
    ct_surefire = False  # see _CT_CONFIG
    cmocka = False  # see _CMOCKA_SUITE_KEYS
    errors_are_failures = False  # see _TASTY_ROOT_KEYS and _NETTE_SUITE_KEYS
    jest_cases: list[TestCase] | None = None  # jest-junit: a suite's tests, held until it ends (_jest_suite)
    jest_tests = jest_errors = 0  # what jest-junit's tests= and errors= leave out
    tap_cases: list[tuple[str | None, TestCase]] | None = None  # TAP::Formatter::JUnit: see _tap_suite
    special = False  # see where the framework is known
    # Set once an <error>/<failure> appears outside a <testcase>: from then on every finished
    # testcase looks at the siblings before it for a suite crash. Until then there is none to find.
    suite_level_outcome = False
    suite_crashes = 0
    done = 0

    def crashes_before(elem, parent) -> Iterator[TestCase]:
        # Direct <error>/<failure> children of a suite, met while freeing finished siblings.
        nonlocal suite_crashes
        for sib in list(parent):
            if sib is elem:
                break
            if local(sib.tag) in ("error", "failure") and (id(parent) not in crashed or dialect is _busted_names):
                crashed.add(id(parent))
                suite_crashes += 1
                yield _suite_crash(sib, framework, dialect)
            parent.remove(sib)

    for _event, elem in iterparse(path, events=("end",), tag=_TAGS):
        tag = _LOCAL_NAMES.get(elem.tag) or local(elem.tag)
        if root is None:
            root = elem.getroottree().getroot()
            attrs = root.attrib
            root_name = attrs.get("name")
            info.name = root_name
            info.declared = _declared(attrs)
            info.duration = to_seconds(attrs.get("time"))
            info.started_at = parse_timestamp(attrs.get("timestamp"))
            sum_children = local(root.tag) == "testsuites" and not info.declared
            sum_time = local(root.tag) == "testsuites" and info.duration is None
            earliest = local(root.tag) == "testsuites" and info.started_at is None
        if not framework_known:
            if _node_test_file(root):
                first = root
            else:
                first = root if local(root.tag) == "testsuite" else next(root.iterchildren("{*}testsuite"), None)
            if first is not None:
                framework_known = True
                framework, dialect = _dialect(root, first)
                writer_root = root  # the root its writer wrote, which tells the writer
                if (framework, dialect) == ("junit", None) and _merged_root(root, first):
                    # A merger's root around the files it merged: the first file's root is its writer's.
                    found = _dialect(first, first)
                    if found == ("junit", None):
                        found = _merged_writer(first)
                    if found != ("junit", None) or _native_reread(first, first, None) is not None:
                        writer_root, (framework, dialect) = first, found
                if dialect is _node_names:
                    # Its suites' tests=, failures= and skipped= count their direct children, a
                    # nested suite as one: no totals of the file's tests.
                    sum_children = False
                info.framework = framework
                number_repeats = dialect is _cucumber_messages_names
                ct_surefire = _ct_surefire_file(first)
                errors_are_failures = _tasty_ant_file(root, first) or _nette_tester_file(root, first)
                if _tap_harness_file(root, first):
                    tap_harness = {"failures": 0, "skipped": 0}
                reread = _REREAD.get(framework) or _native_reread(writer_root, first, dialect)
                if framework == TESTNG and frozenset(writer_root.attrib) == _TESTNG_XML_KEYS:
                    reread = _TESTNG_XML_REREAD
                cmocka = reread is not None and reread[0] is _cmocka_outcome
                # Catch2's tests= counts assertions, not test cases: not a declared total.
                assertions_as_tests = reread is not None and reread[0] is _catch2_outcome
                if framework == "pytest":
                    held = {}
                    pytest_writer = _pytest_writer(first.attrib)
                elif framework == "jest":
                    jest_cases = []
                if dialect is _tap_names or dialect is _ounit_names:
                    tap_cases = []  # held until their suite's output is read
                # The writers whose testcases need a look of their own, that the others are spared,
                # and those whose declared totals count otherwise than one per testcase.
                special = (tap_cases is not None or jest_cases is not None or ct_surefire or framework == TESTNG
                           or pytest_writer or tap_harness is not None or framework == "mocha")
                if info.started_at is None:
                    info.started_at = parse_timestamp(first.get("timestamp"))

        if tag == "testcase":
            if special:
                tap_number = None
                if dialect is _ounit_names:
                    tap_number = elem.get("name")
                elif tap_cases is not None:
                    raw_name = elem.get("name") or ""
                    if raw_name in _TAP_TIMING:  # --timer's, no tests (tests= leaves them out)
                        elem.clear(keep_tail=False)
                        continue
                    numbered = _TAP_CASE(raw_name)
                    tap_number = numbered.group(1) if numbered else None
            case = _case(elem, framework, dialect, moves)
            if special:
                # The content counted as the writer counts its declared totals.
                if pytest_writer:
                    outcomes = 0
                    for child in elem:
                        key = _PYTEST_COUNTED.get(child.tag) if isinstance(child.tag, str) else None
                        if key is not None:
                            pytest_counted[key] = pytest_counted.get(key, 0) + 1
                            outcomes += 1
                    pytest_childless += not outcomes
                if tap_harness is not None:
                    _tap_harness_counted(elem, tap_harness)
                if framework == "mocha":
                    mocha_suite_cases += 1
                    mocha_written += 1
                    mocha_skipped += case.status == SKIPPED
                if framework == TESTNG and _testng_not_a_test(elem, case, info):
                    elem.clear(keep_tail=False)
                    continue
                if ct_surefire and case.name in _CT_CONFIG:
                    if case.status in (FAILED, ERROR):
                        group = elem.get("group")
                        info.warnings.append(config_failure_warning(case.suite, f"{case.name}({group})" if group else case.name))
                    elem.clear(keep_tail=False)
                    continue
            if case.status == PASSED:
                pass  # none of the stand-ins below passed
            elif case.name == _SUITE_ERROR and elem.get("classname") == _ANT_CLASS_FAILURE:
                class_failures += 1
            elif case.name in _UNITTEST_FIXTURES and " (" in (elem.get("classname") or ""):
                class_failures += 1  # nose2's tests= leaves a fixture's error out, its errors= not
            if dialect is _cucumber_messages_names and case.status == FAILED and elem.get("classname") is None:
                # A run hook (_cucumber_messages_names), counted in none of the file's totals.
                case.status = case.attempts[-1].status = ERROR
                run_hooks += 1
            if reread is not None:
                status = case.status
                reread[0](case)
                if case.status != status:
                    moved += 1
                    reread_moves[status, case.status] = reread_moves.get((status, case.status), 0) + 1
            if jest_cases and _jest_second_error(jest_cases[-1], case):
                # One test file that failed to load, one error: the JSON follows the message.
                earlier = jest_cases[-1].attempts[0]
                earlier.stack_trace = "\n\n".join(t for t in (earlier.stack_trace, case.attempts[0].stack_trace) if t)
                elem.clear(keep_tail=False)
                continue
            if number_repeats and case.parameters is None:
                row = _CUCUMBER_PLAIN_ROW(elem.get("name") or "")
                if row:
                    # cucumber-js --order random runs rows in any order: numbered by their place.
                    key = (case.suite, case.name, None)
                    count = seen.get(key, 0)
                    seen[key] = count + 1
                    outline_rows.append(((int(row.group(1)), int(row.group(2))), count, case))
                    elem.clear(keep_tail=False)
                    continue
            # go-junit-report (go test -count=N), gotestsum --rerun-fails and some Ant setups
            # repeat a testcase for each run. Each <testcase> still counts once (the corpus rule);
            # a repeat is marked so that reruns can be told from distinct tests.
            key = (case.suite, case.name, case.parameters)
            count = seen.get(key)
            if pending is not None:
                if _REPETITION in case.properties and key == (pending.suite, pending.name, pending.parameters):
                    case = _join_repetition(pending, case)
                    count = None  # the same test again, not a repeat
                else:
                    yield pending
                pending = None
            if held is not None and key in held:
                earlier = held.pop(key)
                if _teardown_of(earlier, case):
                    case = _join_teardown(earlier, case)
                else:
                    case = _join_rerun(earlier, case)
                    reruns += 1
            elif count is not None:
                count += 1
                seen[key] = count
                if number_repeats and case.parameters is None:
                    # The n-th repeat of a scenario's name: '[n]', as formats/cucumber.py numbers
                    # the JSON formatter's repeats (from the same run, in the same order).
                    case.parameters = f"[{count - 1}]"
                    seen[(case.suite, case.name, case.parameters)] = 1
                else:
                    repeated += 1
                    case.properties.setdefault("repeat", str(count))
            else:
                seen[key] = 1
            if suite_level_outcome:
                parent = elem.getparent()
                if parent is not None:
                    yield from crashes_before(elem, parent)
                elem.clear(keep_tail=False)
            else:
                elem.clear(keep_tail=False)
                done += 1
                if done % _UNLINK_EVERY == 0:
                    parent = elem.getparent()
                    if parent is not None:
                        del parent[: parent.index(elem)]
            if special and (jest_cases is not None or tap_cases is not None):
                if jest_cases is not None:
                    jest_cases.append(case)
                else:
                    tap_cases.append((tap_number, case))
            elif held is None:
                if _REPETITION in case.properties:
                    pending = case
                else:
                    yield case
            else:
                held[key] = case
                if len(held) > _RERUN_WINDOW:
                    yield held.pop(next(iter(held)))
        elif tag == "testsuite":
            if suites_tests is not None and elem.getparent() is root:
                root_suites += 1
                tests = to_int(elem.get("tests"))
                suites_tests = None if tests is None else suites_tests + tests
            if framework == "mocha":
                mocha_unwritten += max(0, (to_int(elem.get("tests")) or 0) - mocha_suite_cases)
                mocha_suite_cases = 0
            if jest_cases:
                tests, errors = _jest_suite(jest_cases, to_int(elem.get("tests")))
                jest_tests, jest_errors = jest_tests + tests, jest_errors + errors
                yield from jest_cases
                jest_cases.clear()
            if pending is not None:
                yield pending
                pending = None
            if held:
                yield from held.values()
                held.clear()
            tap_failed = None
            tap_declared = {}  # what this suite's own totals count otherwise than its content
            if tap_cases is not None and dialect is _ounit_names:
                _ounit_suite(tap_cases, text_of(next(elem.iterchildren("{*}system-out"), None)))
                yield from (case for _path, case in tap_cases)
                tap_cases.clear()
            elif tap_cases is not None:
                output = text_of(next(elem.iterchildren("{*}system-out"), None))
                tap_failed = _tap_suite(tap_cases, output)
                yield from (case for _number, case in tap_cases)
                tap_cases.clear()
                tap_declared["errors"] = -_tap_missing(output, to_int(elem.get("tests")))
            # Children before the last testcase or nested suite were already freed (and a
            # suite-level <error>/<failure> among them counted): only the tail is left to read.
            tail = []
            for child in reversed(elem):
                child_tag = local(child.tag)
                if child_tag == "testcase" or child_tag == "testsuite":
                    break
                tail.append(child)
            for child in reversed(tail):
                child_tag = local(child.tag)
                if child_tag in ("error", "failure") and (id(elem) not in crashed or dialect is _busted_names):
                    crashed.add(id(elem))
                    if tap_failed is not None:
                        if _tap_exit_of_failures(child, tap_failed):
                            tap_declared["errors"] -= 1  # which errors= counts
                            continue
                        tap_declared["tests"] = 1  # the file's error is a test here, not in tests=
                        if (child.get("message") or "").startswith("Looks like you planned"):
                            tap_declared["errors"] += 1  # the one error errors= leaves out
                    suite_crashes += 1
                    yield _suite_crash(child, framework, dialect)
                elif child_tag in suite_output:
                    suite_output[child_tag].add(elem.get("name"), text_of(child))
            if cmocka and elem.get("tests") == "0" and (to_int(elem.get("errors")) or 0) > 0:
                # A group whose setup failed: its tests did not run, the group's error.
                suite_crashes += 1
                tap_declared["tests"] = 1
                yield TestCase(framework=framework, suite=_suite_path(elem), name=_SUITE_ERROR, status=ERROR,
                               attempts=[Attempt(ERROR, message="group setup failed")])
            if outline_rows:
                yield from _number_outline_rows(outline_rows)
                outline_rows.clear()
            crashed.discard(id(elem))
            seen.clear()
            if sum_children and elem.getparent() is root:
                for key, value in _declared(elem.attrib).items():
                    info.declared[key] = info.declared.get(key, 0) + value
            for key, value in tap_declared.items():
                if key in info.declared:
                    info.declared[key] += value
            if sum_time and elem.getparent() is root:
                seconds = to_seconds(elem.get("time"))
                if seconds is not None:
                    info.duration = (info.duration or 0.0) + seconds
            if earliest and elem.getparent() is root:
                stamp = elem.get("timestamp")
                if not (earliest_text is not None and stamp is not None and len(stamp) == len(earliest_text)
                        and stamp >= earliest_text and _PLAIN_TIMESTAMP(stamp)):
                    began = parse_timestamp(stamp)
                    if began is not None and (info.started_at is None or began < info.started_at):
                        info.started_at = began
                    if began is not None and began == info.started_at:
                        earliest_text = stamp if _PLAIN_TIMESTAMP(stamp) else None
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                if suite_level_outcome:  # the enclosing suite's own <error>/<failure> may be among them
                    yield from crashes_before(elem, parent)
                else:
                    while elem.getprevious() is not None:
                        parent.remove(elem.getprevious())
        elif tag == "error" or tag == "failure":
            parent = elem.getparent()
            if parent is not None and local(parent.tag) != "testcase":
                suite_level_outcome = True
        elif tag == "properties" and not info.properties:
            # The run's properties: the first suite's (a testcase's own are read with it).
            parent = elem.getparent()
            if parent is not None and local(parent.tag) in ("testsuite", "testsuites"):
                for prop in elem:
                    if local(prop.tag) == "property" and prop.get("name"):
                        info.properties[prop.get("name")] = prop.get("value") or ""
    if held:
        yield from held.values()
    if pending is not None:
        yield pending
    if jest_cases:
        yield from jest_cases
    if info.framework is None:
        info.framework = framework
    for key, output in suite_output.items():
        text = output.text()
        if text is not None:
            info.properties[key] = text
    if reruns:
        info.properties["reruns"] = str(reruns)
    if pytest_writer and info.declared:
        info.counted = _pytest_counted(info.declared, pytest_counted, pytest_childless, reruns)
    if tap_harness is not None and info.declared:
        info.counted = {"tests": None, "errors": None, **tap_harness}
    if framework == "mocha" and mocha_unwritten and not mocha_skipped and "tests" in info.declared:
        # mocha-junit-reporter without includePending writes no pending test, yet counts it in its
        # suite's tests= and the root's tests= and skipped=. (The root's tests= is taken out when
        # a hook failed, above: then the written tests are no guide to what its totals count.)
        info.counted = {"tests": mocha_written + mocha_unwritten, "skipped": mocha_unwritten}
    if moved and reread[1] is _EACH_MOVE:
        for (source, to), count in reread_moves.items():
            for key, change in ((_DECLARED_KEY.get(source), -count), (_DECLARED_KEY.get(to), count)):
                if key in info.declared:
                    info.declared[key] += change
    elif moved and reread[1] and reread[1][0] in info.declared:
        source, to = reread[1]
        info.declared[source] -= moved
        if to is not None:  # else into passed, which no file declares
            info.declared[to] = info.declared.get(to, 0) + moved
    if assertions_as_tests:
        info.declared.pop("tests", None)
    if moved and framework == "mocha":
        # mocha-junit-reporter's tests= counts the tests each describe() registered: a failed hook
        # is a testcase it leaves out, and the tests the hook kept from running are not in the file.
        info.declared.pop("tests", None)
    if class_failures and "tests" in info.declared:
        info.declared["tests"] += class_failures
    if dialect is _boost_names and "tests" in info.declared:
        # Boost.Test's tests= counts the test cases that passed or failed, not the skipped ones.
        info.declared["tests"] += info.declared.get("skipped", 0)
    for (source, to), count in moves.items():
        if source in info.declared:
            info.declared[source] -= count
            if to is not None:
                info.declared[to] = info.declared.get(to, 0) + count
    if errors_are_failures and info.declared.get("errors"):
        info.declared["failures"] = info.declared.get("failures", 0) + info.declared["errors"]
        info.declared["errors"] = 0
    if suite_crashes and dialect is _busted_names and "tests" in info.declared:
        # busted counts an error outside any test (a failed setup()) in errors= and not in tests=.
        info.declared["tests"] += suite_crashes
    for key, value in (("tests", jest_tests + run_hooks), ("errors", jest_errors + run_hooks)):
        if value and key in info.declared:
            info.declared[key] += value
    declared_tests = to_int(root.get("tests")) if root is not None and local(root.tag) == "testsuites" else None
    if declared_tests is not None and suites_tests is not None and suites_tests != declared_tests and root_suites:
        # Every writer's root counts what its suites count (their own totals include their
        # nested suites'): a root that does not is a file at odds with itself, whatever it holds.
        info.warnings.append(
            f"declared totals disagree with each other: tests declared {declared_tests} by the root "
            f"but {suites_tests} by its suites"
        )
    if repeated:
        info.warnings.append(
            f"{repeated} testcase(s) repeat an earlier one with the same suite and name "
            "(reruns or duplicates); each is counted, marked with the property 'repeat'"
        )


def open_junit(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="JUnit XML (pytest, Surefire, Gradle, Ant, jest-junit, mocha, googletest, Catch2, PHPUnit, Bazel, ...)",
    matches=_matches,
    open=open_junit,
)
