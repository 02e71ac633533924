"""Test-management ids found in test names, properties and tags.

Teams link automated tests to TestRail cases (C1234), Jira issues (PROJ-123) and Zephyr Scale
test cases (PROJ-T123) by writing the id into the test name, a property, an annotation or a
tag. Every results format passes what it has through `extract_tags`, so a case id is found the
same way whatever wrote the report.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

# Zephyr Scale first: 'ABC-T12' must not also be read as something else.
_ZEPHYR = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9_]{1,14}-T\d+)(?![A-Za-z0-9])")
_JIRA = re.compile(r"(?<![A-Za-z0-9-])([A-Z][A-Z0-9_]{1,14}-\d+)(?![A-Za-z0-9]|-\d)")
_TESTRAIL = re.compile(r"(?<![A-Za-z0-9])(C\d{1,9})(?![A-Za-z0-9])")

# Spellings that look like issue keys but are standards and encodings.
_NOT_KEYS = {
    "UTF", "ISO", "SHA", "MD", "RFC", "HTTP", "TLS", "SSL", "AES", "RSA", "IPV", "X", "UCS",
    "CP", "WIN", "LATIN", "ECMA", "ES", "PEP", "JSR", "IEEE", "UTC", "GMT", "TEST", "CASE",
}

# Property names whose value is an id even when it is only digits (TestRail case ids).
_TESTRAIL_PROPS = re.compile(r"testrail|test_?rail|case_?id|testcase_?id|tc_?id", re.I)
# A description is searched too: TestNG's @Test(description=...), NUnit's [Description], MSTest's
# <Description>, Robot's [Documentation] are where those tools let a test say what it covers.
_ID_PROPS = re.compile(
    r"testrail|jira|zephyr|issue|ticket|requirement|story|tms|case|test_?id|tc_?id|link|description|documentation",
    re.I,
)


def find_ids(text: str | None) -> list[str]:
    """External ids in one piece of text, in order of appearance."""
    if not text:
        return []
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for rx in (_ZEPHYR, _JIRA, _TESTRAIL):
        for m in rx.finditer(text):
            start, end = m.span(1)
            if any(s < end and start < e for s, e in taken):
                continue
            value = m.group(1)
            if rx is _JIRA and value.split("-", 1)[0] in _NOT_KEYS:
                continue
            taken.append((start, end))
            found.append((start, value))
    return [v for _, v in sorted(found)]


def extract_tags(
    name: str | None = None,
    properties: Mapping[str, object] | None = None,
    tags: Iterable[str] | None = None,
) -> list[str]:
    """The tags of a test: its own tags (a leading '@' dropped), then every TestRail, Jira and
    Zephyr id found in the tags, the name and the properties; each once, in that order."""
    out: list[str] = []
    seen: set[str] = set()

    def add(value: str) -> None:
        if value and value not in seen:
            seen.add(value)
            out.append(value)

    own = [str(t).strip().lstrip("@") for t in (tags or ()) if t is not None and str(t).strip()]
    for tag in own:
        add(tag)
    for tag in own:
        for ident in find_ids(tag):
            add(ident)
    for ident in find_ids(name):
        add(ident)
    for key, value in (properties or {}).items():
        if value is None or not _ID_PROPS.search(str(key)):
            continue
        text = str(value).strip()
        ids = find_ids(text)
        if not ids and _TESTRAIL_PROPS.search(str(key)):
            ids = [f"C{d}" for d in re.findall(r"(?<![A-Za-z0-9])(\d{1,9})(?![A-Za-z0-9])", text)]
        for ident in ids:
            add(ident)
    return out
