"""TestNG testng-results.xml (TestNG 5 to 7).

Counting (shared/corpus/README.md): every <test-method> whose is-config is not "true";
status PASS/FAIL/SKIP. Configuration methods (@Before*/@After*) are not tests; a failed one is
recorded as a report warning (TestNG then skips the tests that depended on it, and says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import first_line, parse_timestamp, to_float, to_int
from crossbridge_assets.formats._tags import extract_tags
from crossbridge_assets.formats._xml import clear, iterparse, local, text_of
from crossbridge_assets.model import (
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

FORMAT = "testng"
FRAMEWORK = "testng"

_STATUS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}


def _matches(s: Sniff) -> bool:
    return s.xml_root == "testng-results"


def _declared(attrs: dict) -> dict[str, int]:
    # TestNG 6+ writes totals on the root; 5.x writes none.
    out = {}
    for key, attr in (("tests", "total"), ("failures", "failed"), ("skipped", "skipped")):
        value = to_int(attrs.get(attr))
        if value is not None:
            out[key] = value
    if out:
        out["errors"] = 0
    return out


def _params(method: etree._Element) -> str | None:
    values = []
    for child in method:
        if local(child.tag) != "params":
            continue
        for param in child:
            if local(param.tag) != "param":
                continue
            value = None
            for v in param:
                if local(v.tag) == "value":
                    value = (text_of(v) or "").strip()
                    if v.get("is-null") == "true":
                        value = "null"
            values.append(value if value is not None else "")
    return "(" + ", ".join(values) + ")" if values else None


def _case(method: etree._Element, class_name: str, groups: dict[str, list[str]]) -> TestCase:
    raw = (method.get("status") or "").upper()
    status = _STATUS.get(raw, SKIPPED)
    attempt = Attempt(
        status=status,
        duration=(to_float(method.get("duration-ms")) or 0.0) / 1000.0 if method.get("duration-ms") else None,
        started_at=parse_timestamp(method.get("started-at")),
    )
    lines: list[str] = []
    for child in method:
        tag = local(child.tag)
        if tag == "exception":
            attempt.failure_type = child.get("class")
            for part in child:
                ptag = local(part.tag)
                if ptag == "message":
                    attempt.message = (text_of(part) or "").strip() or None
                elif ptag in ("full-stacktrace", "short-stacktrace") and attempt.stack_trace is None:
                    attempt.stack_trace = (text_of(part) or "").strip() or None
            if attempt.message is None:
                attempt.message = first_line(attempt.stack_trace)
        elif tag == "reporter-output":
            lines.extend((text_of(line) or "") for line in child if local(line.tag) == "line")
    if lines:
        attempt.stdout, attempt.stdout_size = truncate_output("\n".join(s.strip() for s in lines))

    name = method.get("name") or ""
    properties = {}
    for key in ("description", "data-provider", "signature"):
        if method.get(key):
            properties[key] = method.get(key)
    if method.get("retried") == "true":
        properties["retried"] = "true"
    method_groups = groups.get(f"{class_name}.{name}", [])
    return TestCase(
        framework=FRAMEWORK,
        suite=normalize_suite(class_name),
        name=name,
        parameters=_params(method),
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        properties=properties,
        tags=extract_tags(name, {"description": method.get("description")}, method_groups),
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    class_name = ""
    groups: dict[str, list[str]] = {}
    tags = ("{*}testng-results", "{*}suite", "{*}groups", "{*}class", "{*}test-method")
    for event, elem in iterparse(path, events=("start", "end"), tag=tags):
        tag = local(elem.tag)
        if event == "start":
            if tag == "testng-results":
                info.declared = _declared(dict(elem.attrib))
            elif tag == "suite":
                groups = {}
                if info.name is None:
                    info.name = elem.get("name")
                    info.started_at = parse_timestamp(elem.get("started-at"))
                duration = to_float(elem.get("duration-ms"))
                if duration is not None:
                    info.duration = (info.duration or 0.0) + duration / 1000.0
            elif tag == "class":
                class_name = elem.get("name") or ""
            continue
        if tag == "groups":
            # <group name><method class name/></group>: the only place TestNG lists groups.
            for group in elem:
                for m in group:
                    if local(m.tag) == "method" and group.get("name"):
                        key = f"{m.get('class') or ''}.{m.get('name') or ''}"
                        groups.setdefault(key, []).append(group.get("name"))
            elem.clear(keep_tail=False)
        elif tag == "test-method":
            if (elem.get("is-config") or "").lower() == "true":
                if (elem.get("status") or "").upper() == "FAIL":
                    info.warnings.append(
                        f"configuration method {class_name}.{elem.get('name')} failed; dependent tests were skipped"
                    )
            else:
                yield _case(elem, class_name, groups)
            clear(elem)
        elif tag in ("class", "suite"):
            elem.clear(keep_tail=False)


def open_testng(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="TestNG testng-results.xml",
    matches=_matches,
    open=open_testng,
)
