"""Visual Studio TRX (vstest / dotnet test --logger trx; MSTest, xUnit and NUnit adapters; the
Microsoft.Testing.Platform's TRX report; mstest.exe of Visual Studio 2008 on).

Counting (shared/corpus/README.md): every top-level <UnitTestResult> under <Results>; Passed ->
passed, Failed/Timeout/Aborted -> failure, Error -> error, NotExecuted and the other outcomes ->
skipped. Nested <InnerResults> (data rows of one test) are not counted again. Ordered and web
tests are written as <TestResultAggregation> and <WebTestResult> beside the unit test results
and count the same way.

A result names its test only by id; the class, method and categories live in
<TestDefinitions>, which dotnet writes *after* <Results>. So the file is read twice: a first
pass keeps only those few strings per test, the second streams the results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    add_property,
    first_line,
    parse_clock_duration,
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

FORMAT = "trx"

_STATUS = {
    "passed": PASSED,
    "passedbutrunaborted": PASSED,
    "warning": PASSED,
    "failed": FAILED,
    "timeout": FAILED,
    "aborted": FAILED,
    "error": ERROR,
}


def _matches(s: Sniff) -> bool:
    return s.xml_root == "TestRun" and (s.xml_namespace or "").startswith("http://microsoft.com/schemas/VisualStudio")


# What a test result may be written as, directly under <Results> (vstest's and mstest.exe's
# TrxLogger): ordered tests are a <TestResultAggregation> with their steps as <InnerResults>,
# Visual Studio web tests a <WebTestResult>.
_RESULT_TAGS = ("UnitTestResult", "TestResultAggregation", "WebTestResult", "GenericTestResult", "ManualTestResult")
# Their definitions in <TestDefinitions>.
_DEFINITION_TAGS = ("UnitTest", "OrderedTest", "WebTest", "GenericTest", "ManualTest")
# mstest.exe (Visual Studio 2010-2015) names MSTest v1's adapter by its .NET type.
_MSTEST_V1_ADAPTER = "microsoft.visualstudio.testtools.testtypes.unit.unittestadapter"
# xUnit.net v3 on Microsoft.Testing.Platform names its adapter by its extension uid only:
# 'executor://30ea7c6e-dd24-4152-a360-1387158cd41d/2.0.3'.
_XUNIT_V3_MTP_UID = "30ea7c6e-dd24-4152-a360-1387158cd41d"


def _framework(adapter: str | None) -> str:
    """'executor://xunit/VsTestRunner2/netcoreapp' -> 'xunit'; MSTest's adapters -> 'mstest'."""
    a = (adapter or "").lower()
    if _XUNIT_V3_MTP_UID in a:
        return "xunit"
    for name in ("xunit", "nunit", "mstest"):
        if name in a:
            return name
    return "mstest" if a.startswith(_MSTEST_V1_ADAPTER) else "dotnet"


def _type_name(class_name: str | None) -> str | None:
    """'Ns.Tests, Ns.Tests, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null' -> 'Ns.Tests':
    mstest.exe writes className assembly-qualified. Generic arguments in brackets may hold
    commas of their own."""
    if not class_name:
        return class_name
    depth = 0
    for i, ch in enumerate(class_name):
        if ch in "[<":
            depth += 1
        elif ch in "]>":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            return class_name[:i].strip()
    return class_name


def _definitions(path: Path) -> dict[str, dict]:
    defs: dict[str, dict] = {}
    tags = ("{*}Results", *(f"{{*}}{t}" for t in _DEFINITION_TAGS))
    for _event, elem in iterparse(path, tag=tags):
        if local(elem.tag) == "Results":
            # Results are read in the second pass; free them now.
            elem.clear(keep_tail=False)
            continue
        entry = {"name": elem.get("name"), "categories": [], "properties": {}, "storage": elem.get("storage")}
        for child in elem:
            tag = local(child.tag)
            if tag == "TestMethod":
                entry["class"] = _type_name(child.get("className"))
                entry["method"] = child.get("name")
                entry["adapter"] = child.get("adapterTypeName")
            elif tag == "TestCategory":
                entry["categories"] = [c.get("TestCategory") for c in child if c.get("TestCategory")]
            elif tag == "Properties":
                for prop in child:
                    key = value = None
                    for kv in prop:
                        if local(kv.tag) == "Key":
                            key = kv.text
                        elif local(kv.tag) == "Value":
                            value = kv.text
                    if key:
                        add_property(entry["properties"], key, value or "")
            elif tag == "Description" and child.text:
                entry["properties"]["Description"] = child.text
            elif tag == "Owners":
                # MSTest's [Owner]: vstest's TrxLogger writes <Owners><Owner name=.../></Owners>.
                owners = [o.get("name") for o in child if o.get("name")]
                if owners:
                    entry["properties"]["Owner"] = ", ".join(owners)
            elif tag == "Workitems":
                # MSTest's [WorkItem(id)], Azure DevOps work item numbers: vstest's TrxLogger
                # writes <Workitems><Workitem>123</Workitem></Workitems>. Kept as a property: a
                # bare number is no id that could be told apart in a tag.
                items = [(w.text or "").strip() for w in child if (w.text or "").strip()]
                if items:
                    entry["properties"]["WorkItems"] = ", ".join(items)
        if elem.get("id"):
            defs[elem.get("id")] = entry
        elem.clear(keep_tail=False)
    return defs


def _inner_results(elem: etree._Element) -> list[etree._Element]:
    """Every result nested under elem's <InnerResults>, at any depth (an ordered test's step may
    itself be data-driven)."""
    return [e for e in elem.iterdescendants() if local(e.tag) in _RESULT_TAGS]


def _output(elem: etree._Element, attempt: Attempt) -> None:
    messages: list[str] = []
    for out in elem:
        if local(out.tag) != "Output":
            continue
        for part in out:
            tag = local(part.tag)
            if tag == "StdOut":
                attempt.stdout, attempt.stdout_size = truncate_output(text_of(part))
            elif tag == "TextMessages":
                # mstest.exe's TestContext.WriteLine lines (and vstest's other result messages).
                messages.extend(text_of(m) or "" for m in part if local(m.tag) == "Message")
            elif tag == "StdErr":
                attempt.stderr, attempt.stderr_size = truncate_output(text_of(part))
            elif tag == "ErrorInfo":
                for info in part:
                    if local(info.tag) == "Message":
                        attempt.message = (text_of(info) or "").strip() or None
                    elif local(info.tag) == "StackTrace":
                        attempt.stack_trace = (text_of(info) or "").strip() or None
    if messages and attempt.stdout is None:
        attempt.stdout, attempt.stdout_size = truncate_output("\n".join(messages))


def _case(elem: etree._Element, defs: dict[str, dict]) -> TestCase:
    outcome = (elem.get("outcome") or "").lower()
    status = _STATUS.get(outcome, SKIPPED)
    d = defs.get(elem.get("testId") or "", {})
    test_name = elem.get("testName") or d.get("name") or ""
    class_name = d.get("class")
    if class_name and test_name.startswith(class_name + ".") and "." in rsplit_member(test_name)[0][len(class_name) :]:
        # xunit.runner.visualstudio 2.4 wrote some facts' className as the namespace only
        # ('Ns' for 'Ns.TestClass.Fact'): the fully qualified name still says where the class ends.
        class_name, display = rsplit_member(test_name)
    elif class_name and test_name.startswith(class_name + "."):
        display = test_name[len(class_name) + 1 :]
    elif class_name:
        display = test_name
    else:
        class_name, display = rsplit_member(test_name)
    name, params = split_call(display, d.get("method"))
    attempt = Attempt(
        status=status,
        duration=parse_clock_duration(elem.get("duration")),
        started_at=parse_timestamp(elem.get("startTime")),
    )
    if attempt.duration is None and elem.get("duration") is None and attempt.started_at:
        # mstest.exe of Visual Studio 2008 writes only when the test started and ended.
        ended = parse_timestamp(elem.get("endTime"))
        if ended:
            attempt.duration = to_seconds((ended - attempt.started_at).total_seconds())
    _output(elem, attempt)
    if status in (FAILED, ERROR) and attempt.message is None and attempt.stack_trace is None:
        # A data-driven test (MSTest [DataRow]/[DataSource]) or an ordered test fails through one
        # of its rows or steps: the parent carries no ErrorInfo of its own.
        for inner in _inner_results(elem):
            if _STATUS.get((inner.get("outcome") or "").lower()) in (FAILED, ERROR):
                _output(inner, attempt)
                if attempt.message or attempt.stack_trace:
                    break
    if attempt.message is None and attempt.stack_trace and status in (FAILED, ERROR):
        attempt.message = first_line(attempt.stack_trace)
    if outcome and outcome not in ("passed", "failed"):
        attempt.failure_type = elem.get("outcome")
    properties = dict(d.get("properties") or {})
    return TestCase(
        framework=_framework(d.get("adapter")),
        suite=normalize_suite(class_name),
        name=name,
        parameters=params,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        properties=properties,
        tags=extract_tags(test_name, properties, d.get("categories")),
    )


# Counters of the outcomes read as passed, failed or errored (_STATUS): the rest of `total` is
# what the reader counts skipped.
_RAN = ("passed", "failed", "error", "timeout", "aborted", "passedButRunAborted", "warning")


def _declared(counters: etree._Element) -> dict[str, int]:
    total, executed = to_int(counters.get("total")), to_int(counters.get("executed"))
    out = {}
    if total is not None:
        out["tests"] = total
        if counters.get("passed") is not None and counters.get("failed") is not None:
            # `executed` means a different thing to each writer: vstest's is passed + failed,
            # mstest.exe's also counts Inconclusive results, the testing platform's leaves out
            # timeouts it writes as Failed. What ran as a pass, failure or error is the same to all.
            out["skipped"] = max(0, total - sum(to_int(counters.get(k)) or 0 for k in _RAN))
        elif executed is not None:
            out["skipped"] = total - executed
    failed = to_int(counters.get("failed"))
    if failed is not None:
        out["failures"] = failed + (to_int(counters.get("timeout")) or 0) + (to_int(counters.get("aborted")) or 0)
    if counters.get("error") is not None:
        out["errors"] = to_int(counters.get("error")) or 0
    return out


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    defs = _definitions(path)
    tags = ("{*}TestRun", "{*}Times", "{*}Counters", "{*}RunInfo", "{*}TestDefinitions", *(f"{{*}}{t}" for t in _RESULT_TAGS))
    # Results of every kind at any depth, the top-level ones first: vstest's <Counters> count a
    # data-driven test's rows as well as the test itself (mstest.exe and vstest alike).
    counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    inner = dict(counted)
    for event, elem in iterparse(path, events=("start", "end"), tag=tags):
        tag = local(elem.tag)
        if event == "start":
            if tag == "TestRun":
                info.name = elem.get("name")
            continue
        if tag in _RESULT_TAGS:
            parent = elem.getparent()
            if parent is not None and local(parent.tag) == "Results":
                case = _case(elem, defs)
                _tally(counted, case.status)
                for row in _inner_results(elem):
                    _tally(inner, _STATUS.get((row.get("outcome") or "").lower(), SKIPPED))
                if info.framework is None:
                    info.framework = case.framework
                yield case
                clear(elem)
        elif tag == "Times":
            info.started_at = parse_timestamp(elem.get("start"))
            start, finish = info.started_at, parse_timestamp(elem.get("finish"))
            if start and finish:
                info.duration = to_seconds((finish - start).total_seconds())
        elif tag == "Counters":
            # Only the run's own: mstest.exe also writes one inside each data-driven result.
            parent = elem.getparent()
            if parent is not None and local(parent.tag) == "ResultSummary":
                info.declared = _declared(elem)
        elif tag == "RunInfo":
            # Runner messages (no tests found, adapter crashed); xUnit's per-test "[FAIL]" echoes
            # repeat what the results already say.
            if (elem.get("outcome") or "").lower() in ("error", "warning"):
                for child in elem:
                    text = first_line(child.text) if local(child.tag) == "Text" else None
                    if text and not text.rstrip().endswith(("[FAIL]", "[SKIP]")) and len(info.warnings) < 20:
                        # mstest.exe's texts already begin with "Warning:" / "Error:".
                        outcome = elem.get("outcome") or ""
                        prefix = "" if text.lower().startswith(outcome.lower() + ":") else f"{outcome}: "
                        info.warnings.append(prefix + text)
        elif tag == "TestDefinitions":
            elem.clear(keep_tail=False)
    if info.framework is None:
        info.framework = "dotnet"
    if inner["tests"] and info.declared.get("tests") == counted["tests"] + inner["tests"]:
        # The counters include the rows: what they say of the tests themselves is the rest.
        for key in ("tests", "failures", "errors", "skipped"):
            if key in info.declared:
                info.declared[key] -= inner[key]


def _tally(counts: dict[str, int], status: str) -> None:
    counts["tests"] += 1
    key = {FAILED: "failures", ERROR: "errors", SKIPPED: "skipped"}.get(status)
    if key:
        counts[key] += 1


def open_trx(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="Visual Studio TRX (dotnet test --logger trx)",
    matches=_matches,
    open=open_trx,
)
