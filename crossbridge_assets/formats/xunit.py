"""xUnit.net XML: v2 (<assemblies><assembly><collection><test>) and v1 (<assembly><class><test>).

Counting (shared/corpus/README.md): every <test>; result Pass / Fail / Skip (NotRun -> skipped).
Traits become properties; a "Category" trait is also a tag.
"""

from __future__ import annotations

import re
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


# xunit.console (v2) writes display names, failure messages and skip reasons through
# XmlTestExecutionVisitor.XmlEscape: a backslash escape for '\\', '"' and each control character.
_ESCAPES = {"\\": "\\", '"': '"', "r": "\r", "n": "\n", "t": "\t", "0": "\0", "a": "\a", "b": "\b", "v": "\v", "f": "\f"}
_HEX4 = re.compile(r"(?:[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])")
_HEX2 = re.compile(r"[0-9a-fA-F]{2}")


def _unescape(text: str) -> str | None:
    """text as it was before xunit.console's XmlEscape, or None when it cannot have been
    through it (a bare '"', an unknown escape)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return None
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in _ESCAPES and nxt:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and (m := _HEX4.match(text, i + 2) or _HEX2.match(text, i + 2)):
            code = int(m.group(), 16)
            # XmlEscape writes a surrogate escaped only when it is unpaired: no text UTF-8 (the
            # warehouse, a test's identity) can hold, so it reads as U+FFFD, as a decoder has it.
            out.append("\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code))
            i = m.end()
        else:
            return None
    return "".join(out)


def _name_text(text: str) -> str:
    """A display name: xunit.console escapes every quote of a theory's string arguments; one
    written as it is (vstest loggers, xunit v3) has them bare."""
    if '\\"' in text:
        return _unescape(text) or text
    return text


def _message_text(text: str | None) -> str | None:
    """A message or skip reason: xunit.console's has its line breaks escaped, so none is left."""
    if text and "\n" not in text and ("\\n" in text or '\\"' in text):
        return _unescape(text) or text
    return text


def _case(elem: etree._Element, class_stack: list[str]) -> TestCase:
    status = _STATUS.get((elem.get("result") or "").lower(), SKIPPED)
    full = _name_text(elem.get("name") or "")
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
                    attempt.message = _message_text((text_of(part) or "").strip()) or None
                elif ptag == "stack-trace":
                    attempt.stack_trace = (text_of(part) or "").strip() or None
            if attempt.message is None:
                attempt.message = first_line(text_of(child))
        elif tag == "reason":
            attempt.message = _message_text((text_of(child) or "").strip()) or None
        elif tag == "output":
            attempt.stdout, attempt.stdout_size = truncate_output(text_of(child))
        elif tag == "traits":
            for trait in child:
                key, value = trait.get("name"), trait.get("value")
                if key and value is not None:
                    add_property(properties, key, value)
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
                    # run-date and run-time are the machine's local time, in no zone; schema 2+
                    # (xUnit.net 2.5 and v3) also writes start-rtf, with its offset: on <assemblies>
                    # when the first assembly started, on each assembly its own start.
                    root = elem.getparent()
                    rtf = (root.get("start-rtf") if root is not None else None) or attrs.get("start-rtf")
                    if rtf:
                        info.started_at = parse_timestamp(rtf)
                    if info.started_at is None and attrs.get("run-date"):
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
                        message = next((m for m in err.iter() if local(m.tag) == "message"), err)
                        info.warnings.append(
                            f"{err.get('type') or 'error'} in {err.get('name') or 'the assembly'}: "
                            f"{first_line(_message_text((text_of(message) or '').strip())) or 'no message'}"
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
