"""xUnit.net XML: v2 (<assemblies><assembly><collection><test>) and v1 (<assembly><class><test>).

Counting (shared/corpus/README.md): every <test>; result Pass / Fail / Skip (NotRun -> skipped).
Traits become properties; a "Category" trait is also a tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import (
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

FORMAT = "xunit"
FRAMEWORK = "xunit"

_STATUS = {"pass": PASSED, "fail": FAILED, "skip": SKIPPED, "notrun": SKIPPED}


def _matches(s: Sniff) -> bool:
    if s.xml_root == "assemblies":
        return True
    # xUnit.net v1 wrote a single <assembly> root with run-date/test-framework attributes.
    return s.xml_root == "assembly" and ("test-framework" in s.xml_attrs or "run-date" in s.xml_attrs)


def _case(elem: etree._Element, class_stack: list[str]) -> TestCase:
    status = _STATUS.get((elem.get("result") or "").lower(), SKIPPED)
    full = elem.get("name") or ""
    type_name = elem.get("type") or (class_stack[-1] if class_stack else "")
    method = elem.get("method")
    display = full[len(type_name) + 1 :] if type_name and full.startswith(type_name + ".") else full
    if not type_name:
        type_name, display = rsplit_member(full)
    name, params = split_call(display, method)
    attempt = Attempt(status=status, duration=to_seconds(elem.get("time")))
    properties: dict[str, str] = {}
    categories: list[str] = []
    for child in elem:
        tag = local(child.tag)
        if tag == "failure":
            attempt.failure_type = child.get("exception-type")
            for part in child:
                ptag = local(part.tag)
                if ptag == "message":
                    attempt.message = (text_of(part) or "").strip() or None
                elif ptag == "stack-trace":
                    attempt.stack_trace = (text_of(part) or "").strip() or None
            if attempt.message is None:
                attempt.message = first_line(text_of(child))
        elif tag == "reason":
            attempt.message = (text_of(child) or "").strip() or None
        elif tag == "output":
            attempt.stdout, attempt.stdout_size = truncate_output(text_of(child))
        elif tag == "traits":
            for trait in child:
                key, value = trait.get("name"), trait.get("value")
                if key and value is not None:
                    properties[key] = f"{properties[key]}, {value}" if key in properties else value
                    if key.lower() == "category":
                        categories.append(value)
    return TestCase(
        framework=FRAMEWORK,
        suite=normalize_suite(type_name),
        name=name,
        parameters=params,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        properties=properties,
        tags=extract_tags(full, properties, categories),
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    class_stack: list[str] = []
    declared = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    have_declared = False
    tags = ("{*}assembly", "{*}class", "{*}test")
    for event, elem in iterparse(path, events=("start", "end"), tag=tags):
        tag = local(elem.tag)
        if event == "start":
            if tag == "assembly":
                attrs = dict(elem.attrib)
                if info.name is None:
                    info.name = attrs.get("name")
                    if attrs.get("run-date"):
                        info.started_at = parse_timestamp(f"{attrs['run-date']}T{attrs.get('run-time') or '00:00:00'}")
                    if attrs.get("test-framework"):
                        info.properties["test-framework"] = attrs["test-framework"]
                    if attrs.get("environment"):
                        info.properties["environment"] = attrs["environment"]
                if attrs.get("time") is not None:
                    info.duration = (info.duration or 0.0) + (to_seconds(attrs.get("time")) or 0.0)
                if attrs.get("total") is not None:
                    have_declared = True
                    declared["tests"] += to_int(attrs.get("total")) or 0
                    declared["failures"] += to_int(attrs.get("failed")) or 0
                    declared["skipped"] += to_int(attrs.get("skipped")) or 0
                    info.declared = dict(declared) if have_declared else {}
            elif tag == "class":
                class_stack.append(elem.get("name") or "")
            continue
        if tag == "test":
            yield _case(elem, class_stack)
            clear(elem)
        elif tag == "class":
            class_stack.pop()
            elem.clear(keep_tail=False)
        elif tag == "assembly":
            # <errors> at the end of an assembly: fixture/collection failures outside any test.
            for child in elem:
                if local(child.tag) == "errors":
                    for err in child:
                        info.warnings.append(
                            f"{err.get('type') or 'error'} in {err.get('name') or 'the assembly'}: "
                            f"{first_line(text_of(err)) or 'no message'}"
                        )
            elem.clear(keep_tail=False)


def open_xunit(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="xUnit.net v2 (assemblies) and v1 (assembly) result XML",
    matches=_matches,
    open=open_xunit,
)
