"""NUnit result XML: NUnit 2 (<test-results>) and NUnit 3 (<test-run>).

Counting (shared/corpus/README.md): every <test-case>.
- NUnit 2: result Error -> error, Failure -> failure, executed="False", Ignored, NotRunnable,
  Skipped and Inconclusive -> skipped; very old files have no `result`, only `success`.
- NUnit 3: result Failed -> failure, except label="Error"/"Invalid" (an exception outside an
  assertion, or an invalid test) -> error; Skipped and Inconclusive -> skipped.
  NUnit 3's own root `failed` count folds errors into failures, so only `tests` and `skipped`
  are recorded as declared totals for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    add_property,
    first_line,
    parse_timestamp,
    rsplit_member,
    split_call,
    to_int,
    to_seconds,
)
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets.formats._xml import clear, iterparse, local, text_of
from crossbridge_assets.model import (
    ERROR,
    FAILED,
    KIND_RESULTS,
    PASSED,
    SKIPPED,
    Attempt,
    ReportInfo,
    ResultStream,
    TestCase,
    normalize_suite,
    truncate_output,
)

FORMAT = "nunit"
FRAMEWORK = "nunit"

_NUNIT2 = {
    "success": PASSED,
    "error": ERROR,
    "failure": FAILED,
    "ignored": SKIPPED,
    "notrunnable": SKIPPED,
    "skipped": SKIPPED,
    "inconclusive": SKIPPED,
    "cancelled": FAILED,
}
_NUNIT3 = {"passed": PASSED, "failed": FAILED, "skipped": SKIPPED, "inconclusive": SKIPPED, "warning": PASSED}


def _matches(s: Sniff) -> bool:
    return s.xml_root in ("test-results", "test-run")


def _status2(elem: etree._Element) -> str:
    result = (elem.get("result") or "").lower()
    if (elem.get("executed") or "").lower() == "false":
        return SKIPPED
    if result in _NUNIT2:
        return _NUNIT2[result]
    success = (elem.get("success") or "").lower()
    return FAILED if success == "false" else PASSED


def _status3(elem: etree._Element) -> str:
    result = (elem.get("result") or "").lower()
    label = (elem.get("label") or "").lower()
    status = _NUNIT3.get(result, SKIPPED)
    if status == FAILED and label in ("error", "invalid"):
        return ERROR
    return status


def _children(elem: etree._Element) -> dict:
    """Failure text, reason, output, categories and properties of a test-case."""
    out: dict = {"message": None, "trace": None, "output": None, "categories": [], "properties": {}}
    for child in elem:
        tag = local(child.tag)
        if tag in ("failure", "reason", "assertions"):
            _read_failure(child, out)
        elif tag == "output":
            out["output"] = text_of(child)
        elif tag in ("categories", "properties"):
            _read_meta(child, out)
    return out


def _read_failure(elem: etree._Element, out: dict) -> None:
    """The first message and stack trace under a <failure>, <reason> or <assertions> into out."""
    for part in elem.iter():
        ptag = local(part.tag)
        if ptag == "message" and out["message"] is None:
            out["message"] = (text_of(part) or "").strip() or None
        elif ptag == "stack-trace" and out["trace"] is None:
            out["trace"] = (text_of(part) or "").strip() or None


def _read_meta(elem: etree._Element, out: dict) -> None:
    """<categories> or <properties> of a test-case or test-suite into out's categories and
    properties (NUnit 3 writes a category as the property 'Category')."""
    if local(elem.tag) == "categories":
        out["categories"].extend(c.get("name") for c in elem if c.get("name"))
        return
    for prop in elem:
        name, value = prop.get("name"), prop.get("value")
        if not name or value is None:
            continue
        if name == "Category":
            out["categories"].append(value)
        else:
            add_property(out["properties"], name, value)


# Suites that stand for one test method run with several arguments: NUnit writes the method's
# [Category], [Description] and [Property] on them, not on each test-case.
_METHOD_SUITES = {"parameterizedmethod", "parameterizedtest", "theory", "genericmethod"}


def _inherited(suites: list[dict]) -> tuple[list[str], dict[str, str]]:
    """What a test-case gets from the suites around it: every enclosing suite's categories,
    nearest first (a fixture's [Category] selects its tests in NUnit's filters), and the
    properties of the method suite it belongs to (NUnit's own, '_'-prefixed ones left out)."""
    categories = [c for meta in reversed(suites) for c in meta["categories"]]
    properties: dict[str, str] = {}
    if suites and suites[-1]["type"] in _METHOD_SUITES:
        meta = suites[-1]
        properties = {k: v for k, v in meta["properties"].items() if not k.startswith("_")}
        if meta["description"]:
            properties.setdefault("Description", meta["description"])
    return categories, properties


def _case(elem: etree._Element, version: int, suite_stack: list[str], suites: list[dict]) -> TestCase:
    if version == 3:
        status = _status3(elem)
        full = elem.get("fullname") or elem.get("name") or ""
        classname = elem.get("classname")
        display = elem.get("name") or ""
        method = elem.get("methodname")
        # NUnit 3.0's first result files (before its 2015 release) say `time`, not `duration`.
        duration = to_seconds(elem.get("duration") if elem.get("duration") is not None else elem.get("time"))
        started = parse_timestamp(elem.get("start-time"))
        if not classname:
            classname = full[: -len(display) - 1] if display and full.endswith("." + display) else ".".join(suite_stack)
        classname = _fixture_instance(classname, suites)
    else:
        status = _status2(elem)
        full = elem.get("name") or ""
        classname, display = rsplit_member(full)
        method = None
        duration = to_seconds(elem.get("time"))
        started = None
    name, params = split_call(display, method)
    extra = _children(elem)
    if version == 2 and status in (FAILED, ERROR) and extra["trace"] is None:
        extra["trace"] = _fixture_failure(elem)
    elif version == 3 and extra["trace"] is None and (elem.get("site") or "").lower() == "parent":
        # Failed by a fixture's OneTimeSetUp: NUnit before 3.14 leaves the trace on that fixture.
        extra["trace"] = next((s["trace"] for s in reversed(suites) if s["site"] == "setup" and s["trace"]), None)
    stdout, size = truncate_output(extra["output"])
    attempt = Attempt(
        status=status,
        duration=duration,
        message=extra["message"] or (first_line(extra["trace"]) if status in (FAILED, ERROR) else None),
        stack_trace=extra["trace"],
        stdout=stdout,
        stdout_size=size,
        started_at=started,
    )
    if status in (FAILED, ERROR) and elem.get("label"):
        attempt.failure_type = elem.get("label")
        # A timeout's label is its message (NUnit 3's TimeoutCommand: 'Test exceeded Timeout value
        # 1ms.'), its <failure/> empty.
        attempt.message = attempt.message or elem.get("label")
    # NUnit's own properties ('_SKIPREASON', '_JOINTYPE') repeat the reason or say how it ran.
    properties = {k: v for k, v in extra["properties"].items() if not k.startswith("_")}
    if elem.get("description"):
        properties.setdefault("Description", elem.get("description"))
    categories, inherited = _inherited(suites)
    for key, value in inherited.items():
        properties.setdefault(key, value)
    return TestCase(
        framework=FRAMEWORK,
        suite=normalize_suite(classname),
        name=name,
        parameters=params,
        status=status,
        duration=duration,
        attempts=[attempt],
        properties=properties,
        tags=extract_tags(full, properties, [*extra["categories"], *categories]),
    )


def _fixture_instance(classname: str, suites: list[dict]) -> str:
    """The fixture instance a NUnit 3 test ran in: `classname` is the class, which every instance
    of a parameterized ('Ns.Fixture("us")') or generic ('Ns.Box`1[[System.Int32, ...]]') fixture
    shares; its enclosing TestFixture suite's full name tells them apart (a [TestCase] method's
    own full name leaves the fixture's arguments out, nunit/nunit#2363)."""
    fixture = next((s["fullname"] for s in reversed(suites) if s["type"] == "testfixture"), None)
    if fixture and fixture != classname and (fixture.startswith(classname + "(") or "`" in classname):
        return fixture
    return classname


def _fixture_failure(elem: etree._Element) -> str | None:
    """NUnit 2 fails every test of a fixture whose TestFixtureSetUp failed with only 'TestFixtureSetUp
    failed in <fixture>': the exception is the fixture's own <failure>, which comes before its
    <results> (so it is read by now). Its message and trace are the test's trace."""
    results = elem.getparent()
    suite = results.getparent() if results is not None else None
    if suite is None or local(suite.tag) != "test-suite":
        return None
    failure = next((c for c in suite if local(c.tag) == "failure"), None)
    if failure is None:
        return None
    out = _children(suite)
    return "\n".join(part for part in (out["message"], out["trace"]) if part) or None


def _suite_failure(meta: dict, info: ReportInfo) -> None:
    """A NUnit 3 fixture or assembly that failed outside any of its tests: its OneTimeTearDown
    threw (site="TearDown"; its tests keep their own results), or it failed with no test under
    it to carry the failure (an invalid fixture; an assembly that did not load, which has no
    site)."""
    if meta["result"] != "failed" or len(info.warnings) >= 20:
        return
    # The console runner reports a suite's failure unless its site is Parent or Child
    # (nunit/nunit#587); one whose tests carry it (site="SetUp" over failed tests) is theirs.
    if meta["site"] == "teardown" or (meta["site"] in ("setup", "") and not meta["cases"]):
        message = first_line(meta["message"] or meta["properties"].get("_SKIPREASON")) or "no message"
        site = {"teardown": "TearDown ", "setup": "SetUp "}.get(meta["site"], "")
        info.warnings.append(f"{site}{meta['label'] or 'Failure'} in {meta['fullname'] or 'the run'}: {message}")


def _declared2(attrs: dict) -> dict[str, int]:
    total, not_run = to_int(attrs.get("total")), to_int(attrs.get("not-run"))
    out = {}
    if total is not None:
        # NUnit 2's total leaves out the tests it did not run.
        out["tests"] = total + (not_run or 0)
    if attrs.get("failures") is not None:
        out["failures"] = to_int(attrs.get("failures")) or 0
    if attrs.get("errors") is not None:
        out["errors"] = to_int(attrs.get("errors")) or 0
    if not_run is not None:
        out["skipped"] = not_run + (to_int(attrs.get("inconclusive")) or 0)
    return out


def _declared3(attrs: dict) -> dict[str, int]:
    out = {}
    if attrs.get("total") is not None:
        out["tests"] = to_int(attrs.get("total")) or 0
        if _leaves_out_warnings(attrs):
            # NUnit 3.11's total leaves out the tests whose result is Warning.
            out["tests"] += to_int(attrs.get("warnings")) or 0
    if attrs.get("skipped") is not None:
        out["skipped"] = (to_int(attrs.get("skipped")) or 0) + (to_int(attrs.get("inconclusive")) or 0)
    return out


def _leaves_out_warnings(attrs: dict) -> bool:
    """Whether a test-run's or test-suite's total is only its passed, failed, inconclusive and
    skipped tests (NUnit 3.11 and older), so that its warnings come on top."""
    parts = [to_int(attrs.get(k)) for k in ("passed", "failed", "inconclusive", "skipped")]
    return None not in parts and to_int(attrs.get("total")) == sum(parts)


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    version = 2
    suite_stack: list[str] = []
    suites: list[dict] = []  # categories, properties of each suite of suite_stack
    run_attrs: dict = {}
    tags = ("{*}test-results", "{*}test-run", "{*}test-suite", "{*}test-case", "{*}categories", "{*}properties",
            "{*}failure", "{*}reason")
    for event, elem in iterparse(path, events=("start", "end"), tag=tags):
        tag = local(elem.tag)
        if event == "start":
            attrs = dict(elem.attrib)
            if tag == "test-run":
                version = 3
                run_attrs = attrs
                info.declared = _declared3(attrs)
                info.started_at = parse_timestamp(attrs.get("start-time"))
                if info.started_at is None and attrs.get("run-date"):
                    # NUnit 3.0's first files: the date and the clock time apart.
                    info.started_at = parse_timestamp(f"{attrs['run-date']}T{attrs.get('start-time') or '00:00:00'}")
                duration = attrs.get("duration") if attrs.get("duration") is not None else attrs.get("time")
                info.duration = to_seconds(duration)
                info.properties["engine-version"] = attrs.get("engine-version") or ""
            elif tag == "test-results":
                info.declared = _declared2(attrs)
                info.name = attrs.get("name")
                if attrs.get("date"):
                    info.started_at = parse_timestamp(f"{attrs.get('date')}T{attrs.get('time') or '00:00:00'}")
            elif tag == "test-suite":
                if info.name is None:
                    info.name = attrs.get("name")
                if (version == 3 and not suite_stack and "warnings" not in run_attrs
                        and "tests" in info.declared and _leaves_out_warnings(attrs)):
                    # NUnit 3.9-3.11 engines write no `warnings` on <test-run>: its assemblies
                    # count them.
                    info.declared["tests"] += to_int(attrs.get("warnings")) or 0
                if version == 2 and info.duration is None:
                    info.duration = to_seconds(attrs.get("time"))
                suite_stack.append(attrs.get("name") or "")
                suites.append({"type": (attrs.get("type") or "").lower(), "description": attrs.get("description"),
                               "fullname": attrs.get("fullname") or attrs.get("name"), "categories": [], "properties": {},
                               "result": (attrs.get("result") or "").lower(), "label": attrs.get("label"),
                               "site": (attrs.get("site") or "").lower(), "message": None, "trace": None, "cases": 0})
            continue
        if tag in ("categories", "properties"):
            # A suite's come before its tests; a test-case's are read with it.
            parent = elem.getparent()
            if suites and parent is not None and local(parent.tag) == "test-suite":
                _read_meta(elem, suites[-1])
        elif tag in ("failure", "reason"):
            # A suite's own failure comes before its tests (and is freed with the first of them).
            parent = elem.getparent()
            if suites and parent is not None and local(parent.tag) == "test-suite":
                _read_failure(elem, suites[-1])
        elif tag == "test-case":
            if suites:
                suites[-1]["cases"] += 1
            yield _case(elem, version, suite_stack, suites)
            clear(elem)
        elif tag == "test-suite":
            suite_stack.pop()
            meta = suites.pop()
            if suites:
                suites[-1]["cases"] += meta["cases"]
            if version == 3:
                _suite_failure(meta, info)
            elem.clear(keep_tail=False)


def open_nunit(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="NUnit 2 (test-results) and NUnit 3 (test-run) result XML",
    matches=_matches,
    open=open_nunit,
)
