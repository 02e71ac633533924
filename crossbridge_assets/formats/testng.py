"""TestNG testng-results.xml (TestNG 5 to 7).

Counting (shared/corpus/README.md): every <test-method> whose is-config is not "true";
status PASS/FAIL/SKIP (and SUCCESS_PERCENTAGE_FAILURE, failed, as TestNG's summary counts it).
Configuration methods (@Before*/@After*) are not tests; a failed one is recorded as a report warning (TestNG then skips the tests that depended on it, and says so).
A failed invocation that a RetryAnalyzer ran again is written as its own entry, status SKIP and
retried="true": it stays a skipped row of its own (the counting rule), and the invocation's
final entry also gets it as an earlier, failed attempt, so a retry that passed shows as flaky.
TestNG does not write the attempts in the order they ran (it sorts a class's results by their
start millisecond), so a class's entries are held until its end to be linked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import first_line, parse_timestamp, to_int, to_seconds
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

# SUCCESS_PERCENTAGE_FAILURE: an invocation of a test with a successPercentage that failed, within
# the failures it allows. TestNG's summary counts it as a failure (and its exit code says so); the
# root's totals leave it out.
_WITHIN_PERCENTAGE = "SUCCESS_PERCENTAGE_FAILURE"
_STATUS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED, _WITHIN_PERCENTAGE: FAILED}
_NO_TIME = datetime.min.replace(tzinfo=timezone.utc)


def _matches(s: Sniff) -> bool:
    return s.xml_root == "testng-results"


def config_failure_warning(class_name: str, method: str | None) -> str:
    """The report's warning for a configuration method that failed (formats/junit.py says the
    same of TestNG's JUnit files)."""
    return f"configuration method {class_name}.{method} failed; dependent tests were skipped"


def _declared(attrs: dict) -> dict[str, int]:
    # TestNG 6+ writes totals on the root; 5.x writes none.
    out = {}
    for key, attr in (("tests", "total"), ("failures", "failed"), ("skipped", "skipped")):
        value = to_int(attrs.get(attr))
        if value is not None:
            out[key] = value
    # TestNG 7 counts retried invocations in `total` and `retried` but not in `skipped`; their
    # entries say SKIP, and each is counted as one skipped test.
    if "skipped" in out:
        out["skipped"] += to_int(attrs.get("retried")) or 0
    # `total` also counts the `ignored` test methods (enabled=false, excluded groups: TestNG's
    # AbstractXmlReporter), which never ran and have no <test-method> in the file.
    if "tests" in out:
        out["tests"] = max(0, out["tests"] - (to_int(attrs.get("ignored")) or 0))
    if out:
        out["errors"] = 0
    return out


# A value whose class has no toString of its own: Object's 'com.acme.Box@6366ebe0' ('[I@3d0f8e03'
# for an array), the class's name and an identity hash that changes from run to run (and with
# every test added). Only the class is kept, so that the test keeps one identity. (Fewer than five
# hex digits: a hash below 0x10000, too rare to risk a toString of the test's own like 'Order@42'.)
_OBJECT_HASH = re.compile(
    r"(\[+(?:[ZBCSIJFD]|L[\w$.]+;)|(?:[A-Za-z_][\w$]*\.)*[A-Z][\w$]*(?:/0x[0-9a-f]+)?)@[0-9a-f]{5,8}"
).fullmatch


def _param_value(text: str) -> str:
    value = text.strip()
    hashed = _OBJECT_HASH(value) if "@" in value else None
    return hashed.group(1) if hashed else value


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
                    value = _param_value(text_of(v) or "")
                    if v.get("is-null") == "true":
                        value = "null"
            values.append(value if value is not None else "")
    return "(" + ", ".join(values) + ")" if values else None


def _case(method: etree._Element, class_name: str, groups: dict[str, list[str]]) -> TestCase:
    raw = (method.get("status") or "").upper()
    status = _STATUS.get(raw, SKIPPED)
    attempt = Attempt(
        status=status,
        duration=to_seconds(method.get("duration-ms"), 1e-3),
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


def _linked(cases: list[TestCase]) -> list[TestCase]:
    """A class's entries, each invocation's final entry given its retried ones as earlier
    attempts (oldest first). An invocation is a method, its parameters and its instance
    (the signature): when two final entries share all three, which one a retry belongs to is
    not written, and neither gets it."""
    retried: dict[tuple, list[TestCase]] = {}
    finals: dict[tuple, list[TestCase]] = {}
    for case in cases:
        key = (case.name, case.parameters, case.properties.get("signature"))
        (retried if case.properties.get("retried") == "true" else finals).setdefault(key, []).append(case)
    for key, earlier in retried.items():
        final = finals.get(key)
        if final is None or len(final) != 1:
            continue
        earlier.sort(key=lambda c: c.final.started_at or _NO_TIME)  # stable: ties keep document order
        # TestNG retries only a failed invocation (and then writes it as SKIP).
        attempts = [replace(c.final, status=FAILED) for c in earlier]
        final[0].attempts = [*attempts, *final[0].attempts]
    return cases


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    class_name = ""
    in_class: list[TestCase] = []
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
                duration = to_seconds(elem.get("duration-ms"), 1e-3)
                if duration is not None:
                    info.duration = (info.duration or 0.0) + duration
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
                    info.warnings.append(config_failure_warning(class_name, elem.get("name")))
            else:
                in_class.append(_case(elem, class_name, groups))
                if (elem.get("status") or "").upper() == _WITHIN_PERCENTAGE and "tests" in info.declared:
                    info.declared["tests"] += 1
                    info.declared["failures"] = info.declared.get("failures", 0) + 1
            clear(elem)
        elif tag in ("class", "suite"):
            if tag == "class":
                yield from _linked(in_class)
                in_class = []
            elem.clear(keep_tail=False)
    yield from _linked(in_class)  # test-method outside any <class> (not written by TestNG)


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
