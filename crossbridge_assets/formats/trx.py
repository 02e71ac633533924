"""Visual Studio TRX (vstest / dotnet test --logger trx; MSTest, xUnit and NUnit adapters).

Counting (shared/corpus/README.md): every top-level <UnitTestResult> under <Results>; Passed ->
passed, Failed/Timeout/Aborted -> failure, Error -> error, NotExecuted and the other outcomes ->
skipped. Nested <InnerResults> (data rows of one test) are not counted again.

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


def _framework(adapter: str | None) -> str:
    """'executor://xunit/VsTestRunner2/netcoreapp' -> 'xunit'; MSTest's adapter -> 'mstest'."""
    a = (adapter or "").lower()
    for name in ("xunit", "nunit", "mstest"):
        if name in a:
            return name
    return "mstest" if "mstestadapter" in a or "mstest" in a else "dotnet"


def _definitions(path: Path) -> dict[str, dict]:
    defs: dict[str, dict] = {}
    for _event, elem in iterparse(path, tag=("{*}UnitTest", "{*}Results")):
        if local(elem.tag) == "Results":
            # Results are read in the second pass; free them now.
            elem.clear(keep_tail=False)
            continue
        entry = {"name": elem.get("name"), "categories": [], "properties": {}, "storage": elem.get("storage")}
        for child in elem:
            tag = local(child.tag)
            if tag == "TestMethod":
                entry["class"] = child.get("className")
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
                        entry["properties"][key] = value or ""
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


def _output(elem: etree._Element, attempt: Attempt) -> None:
    for out in elem:
        if local(out.tag) != "Output":
            continue
        for part in out:
            tag = local(part.tag)
            if tag == "StdOut":
                attempt.stdout, attempt.stdout_size = truncate_output(text_of(part))
            elif tag == "StdErr":
                attempt.stderr, attempt.stderr_size = truncate_output(text_of(part))
            elif tag == "ErrorInfo":
                for info in part:
                    if local(info.tag) == "Message":
                        attempt.message = (text_of(info) or "").strip() or None
                    elif local(info.tag) == "StackTrace":
                        attempt.stack_trace = (text_of(info) or "").strip() or None


def _case(elem: etree._Element, defs: dict[str, dict]) -> TestCase:
    outcome = (elem.get("outcome") or "").lower()
    status = _STATUS.get(outcome, SKIPPED)
    d = defs.get(elem.get("testId") or "", {})
    test_name = elem.get("testName") or d.get("name") or ""
    class_name = d.get("class")
    if class_name and test_name.startswith(class_name + "."):
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
    _output(elem, attempt)
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


def _declared(counters: etree._Element) -> dict[str, int]:
    total, executed = to_int(counters.get("total")), to_int(counters.get("executed"))
    out = {}
    if total is not None:
        out["tests"] = total
        if executed is not None:
            out["skipped"] = total - executed
    failed = to_int(counters.get("failed"))
    if failed is not None:
        out["failures"] = failed + (to_int(counters.get("timeout")) or 0) + (to_int(counters.get("aborted")) or 0)
    if counters.get("error") is not None:
        out["errors"] = to_int(counters.get("error")) or 0
    return out


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    defs = _definitions(path)
    tags = ("{*}TestRun", "{*}Times", "{*}UnitTestResult", "{*}Counters", "{*}RunInfo", "{*}TestDefinitions")
    for event, elem in iterparse(path, events=("start", "end"), tag=tags):
        tag = local(elem.tag)
        if event == "start":
            if tag == "TestRun":
                info.name = elem.get("name")
            continue
        if tag == "UnitTestResult":
            parent = elem.getparent()
            if parent is not None and local(parent.tag) == "Results":
                case = _case(elem, defs)
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
            info.declared = _declared(elem)
        elif tag == "RunInfo":
            # Runner messages (no tests found, adapter crashed); xUnit's per-test "[FAIL]" echoes
            # repeat what the results already say.
            if (elem.get("outcome") or "").lower() in ("error", "warning"):
                for child in elem:
                    text = first_line(child.text) if local(child.tag) == "Text" else None
                    if text and not text.rstrip().endswith(("[FAIL]", "[SKIP]")) and len(info.warnings) < 20:
                        info.warnings.append(f"{elem.get('outcome')}: {text}")
        elif tag == "TestDefinitions":
            elem.clear(keep_tail=False)
    if info.framework is None:
        info.framework = "dotnet"


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
