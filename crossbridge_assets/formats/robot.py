"""Robot Framework output.xml (RF 3.2 to 7.x), rebot-merged outputs included.

Read with the safe iterparse, never with robot itself: the parser must not depend on the
Robot version installed, and output.xml files can be large.

Counting (shared/corpus/README.md): every <test> once (equal to robot.api.ExecutionResult's
total statistics); PASS -> passed, FAIL -> failure, SKIP and NOT RUN -> skipped; errors always 0.
Dialects: RF 7 writes `start`/`elapsed` on <status>, older versions `starttime`/`endtime`
("20231116 17:35:01.773"); RF 4+ writes <tag> under <test>, older ones <tags><tag>.
A test merged by `rebot --merge` carries its earlier results in its message (every wording
rebot has used since RF 3.0); they become the earlier attempts, so reruns show up as flaky.
A suite teardown that failed or skipped fails or skips the suite's tests, as robot's result model
reads an output robot wrote (the tests were written before the teardown ran). Tasks (--rpa) are
tests.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from typing import Iterator

from lxml import etree

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import parse_timestamp, to_int, to_line, to_seconds
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
    truncate_output,
)

FORMAT = "robot"
FRAMEWORK = "robot"

_STATUS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED, "NOT RUN": SKIPPED, "NOT_RUN": SKIPPED}
_OLD_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$")
# What rebot --merge writes into a merged test's message (robot/result/merger.py), all HTML:
# RF 3.2+: a header, the new status and message, then every earlier one, newest first.
_MERGE_HEAD = re.compile(r'<span class="merge">(?:Test|Task) has been re-executed and results merged\.</span><hr>')
_MERGE_BLOCK = re.compile(
    r'<span class="(?:new|old)-status">\w+ status:</span> <span class="[^"]*">([A-Z_ ]+)</span><br>'
    r'(?:<span class="(?:new|old)-message">\w+ message:</span> (.*)<br>)?$',
    re.S,
)
_OLD_STATUS = '<span class="old-status">'
# RF 4.1+: a skipped rerun is not merged; the earlier result stays, with this message.
_SKIPPED_RERUN = re.compile(
    r"(?:Test|Task) has been re-executed and results merged\. Latter result had "
    r'<span class="skip">SKIP</span> status and was ignored\. Message:\n(.*?)(?:<hr>Original message:\n(.*))?$',
    re.S,
)
# A test only the later output has (RF 3.0+).
_ADDED = re.compile(r"(?:Test|Task) added from merged output\.(?:<hr>(.*))?$", re.S)
# RF 3.0 and 3.1: the new result, then the old one, whose message holds its own history.
_OLD_MERGE = re.compile(
    r'Re-executed test has been merged\.<hr>New status: <span class="[^"]*">([A-Z_ ]+)</span><br>New message: (.*?)'
    r'<hr>Old status: <span class="[^"]*">([A-Z_ ]+)</span><br>Old message: (.*)$',
    re.S,
)


def _matches(s: Sniff) -> bool:
    return s.xml_root == "robot"


def _time(value: str | None) -> datetime | None:
    """RF 7's ISO times, or the 'YYYYMMDD HH:MM:SS.mmm' of older versions ('N/A' when unknown)."""
    if not value or value == "N/A":
        return None
    m = _OLD_TIME.match(value.strip())
    if m:
        value = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}"
    return parse_timestamp(value)


def _status(elem: etree._Element | None) -> tuple[str, float | None, datetime | None, str | None]:
    if elem is None:
        return SKIPPED, None, None, None
    status = _STATUS.get((elem.get("status") or "").upper(), FAILED)
    start = _time(elem.get("start") or elem.get("starttime"))
    duration = to_seconds(elem.get("elapsed"))
    if duration is None:
        end = _time(elem.get("endtime"))
        if start and end:
            duration = max(0.0, (end - start).total_seconds())
    message = text_of(elem)
    return status, duration, start, message.strip() if message and message.strip() else None


def _plain(message: str) -> str:
    """A merge message's HTML fragment back to text."""
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", message))).strip()


# rebot quotes each earlier message inside the new one; real outputs nest a few levels, and a
# deeper file gets its message read as text rather than exhaust the stack.
_MAX_NESTING = 64


def _history(text: str | None, status: str, depth: int = 0) -> tuple[list[Attempt], str | None]:
    """The earlier attempts (oldest first) recorded in the message rebot left on a result with
    `status`, and that result's own message. `text` is the message without '*HTML*'; an earlier
    message quoted in it may be a merge message of its own, read the same way."""
    if not text:
        return [], None
    if depth > _MAX_NESTING:
        return [], _plain(text) or None
    depth += 1
    m = _ADDED.match(text)
    if m:
        return _history(m.group(1), status, depth)
    m = _SKIPPED_RERUN.match(text)
    if m:
        earlier, message = _history(m.group(2), status, depth)
        # rebot kept the earlier result, so that one stays the last attempt (its status is the
        # one the file counts) and the rerun it ignored comes just before it.
        return [*earlier, Attempt(status=SKIPPED, message=_plain(m.group(1)) or None)], message
    head = _MERGE_HEAD.match(text)
    if head:
        new, *olds = text[head.end():].split("<hr>" + _OLD_STATUS)
        found = [_MERGE_BLOCK.match(new), *(_MERGE_BLOCK.match(_OLD_STATUS + old) for old in olds)]
        if all(found):
            attempts: list[Attempt] = []
            for block in reversed(found[1:]):
                old_status = _STATUS.get(block.group(1).strip(), FAILED)
                earlier, message = _history(block.group(2), old_status, depth)
                attempts += [*earlier, Attempt(status=old_status, message=message)]
            earlier, message = _history(found[0].group(2), status, depth)
            return [*attempts, *earlier], message
    m = _OLD_MERGE.match(text)
    if m:
        old_status = _STATUS.get(m.group(3).strip(), FAILED)
        older, old_message = _history(m.group(4), old_status, depth)
        earlier, message = _history(m.group(2), status, depth)
        return [*older, Attempt(status=old_status, message=old_message), *earlier], message
    return [], _plain(text) or None


def merged_attempts(message: str, status: str) -> tuple[list[Attempt], str | None] | None:
    """Earlier attempts written into a merged test's message, oldest first, and the test's own
    message; None when the message is not one rebot --merge wrote."""
    if not message.startswith("*HTML*"):
        return None
    text = message[6:].lstrip()
    if not any(p.match(text) for p in (_MERGE_HEAD, _SKIPPED_RERUN, _ADDED, _OLD_MERGE)):
        return None
    return _history(text, status)


def _messages(test: etree._Element) -> str | None:
    """What a test logged (its setup's, keywords' and teardown's messages, in the order they were
    written), a line each headed by the level: Robot's captured output. An HTML message as text."""
    lines = []
    for msg in test.iter("{*}msg"):
        text = text_of(msg)
        if text and msg.get("html") in ("true", "yes"):
            text = _plain(text)
        if text:
            lines.append(f"{msg.get('level') or 'INFO':<5} {text}")
    return "\n".join(lines) or None


def _case(elem: etree._Element, suite_stack: list[str]) -> TestCase:
    status_elem = None
    tags: list[str] = []
    properties: dict[str, str] = {}
    for child in elem:
        tag = local(child.tag)
        if tag == "status":
            status_elem = child
        elif tag == "tag" and child.text:
            tags.append(child.text)
        elif tag == "tags":
            tags.extend(t.text for t in child if local(t.tag) == "tag" and t.text)
        elif tag == "doc" and child.text:
            properties["documentation"] = child.text
        elif tag == "timeout" and child.get("value"):
            properties["timeout"] = child.get("value")
    status, duration, start, message = _status(status_elem)
    final = Attempt(status=status, duration=duration, started_at=start, message=message)
    final.stdout, final.stdout_size = truncate_output(_messages(elem))
    attempts = [final]
    merged = merged_attempts(message, status) if message else None
    if merged is not None:
        earlier, final.message = merged
        attempts = [*earlier, final]
    if status_elem is not None and status_elem.get("critical") == "no":
        properties["critical"] = "no"
    name = elem.get("name") or ""
    source = suite_stack[-1][1] if suite_stack else None
    return TestCase(
        framework=FRAMEWORK,
        # Robot suite names may hold dots ('1.2 Login'): keep the levels as Robot names them.
        suite=".".join(n for n, _ in suite_stack if n),
        name=name,
        status=status,
        duration=duration,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(name, properties, tags),
        file=source,
        line=to_line(elem.get("line")),
    )


# What robot.result adds to each test of a suite whose teardown failed or skipped
# (robot/result/suiteteardownfailed.py, RF 3 to 7).
_TEARDOWN_FAILED = "Parent suite teardown failed:\n%s"
_ALSO_TEARDOWN_FAILED = "\n\nAlso parent suite teardown failed:\n%s"
_TEARDOWN_SKIPPED = "Skipped in parent suite teardown:\n%s"
_ALSO_TEARDOWN_SKIPPED = "Skipped in parent suite teardown:\n%s\n\nEarlier message:\n%s"
# Tests held back until their suites' teardowns are known: a file whose suites hold more has the
# earliest ones go out as written (a warning says how many a failed teardown then missed).
_HOLD_LIMIT = 50_000


def _suite_teardown(suite: etree._Element) -> tuple[str, str] | None:
    """The status and message of a suite's teardown when it failed or skipped, else None."""
    for child in suite:
        if local(child.tag) == "kw" and (child.get("type") or "").upper() == "TEARDOWN":
            status_elem = next((c for c in child if local(c.tag) == "status"), None)
            status = (status_elem.get("status") or "").upper() if status_elem is not None else ""
            if status in ("FAIL", "SKIP"):
                return status, (text_of(status_elem) or "").strip()
    return None


def _teardown_outcome(case: TestCase, status: str, message: str) -> None:
    """A test of a suite whose teardown failed (or skipped), as robot.api.ExecutionResult reads
    it: output.xml wrote the test before the teardown ran, robot's result model then fails it
    (a skipped test stays skipped) or skips it, and adds the teardown's message."""
    final = case.attempts[-1]
    own = final.message or ""
    if status == "FAIL":
        if case.status != SKIPPED:
            case.status = final.status = FAILED
        final.message = own + ((_ALSO_TEARDOWN_FAILED if own else _TEARDOWN_FAILED) % message)
    else:
        case.status = final.status = SKIPPED
        final.message = _ALSO_TEARDOWN_SKIPPED % (message, own) if own else _TEARDOWN_SKIPPED % message


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    suite_stack: list[tuple[str, str | None]] = []
    in_total = False
    # Output written by robot (not rebot) has its tests before their suites' teardowns: they are
    # held back until the outermost suite ends. rebot writes the outcome into the tests already.
    by_robot = False
    held: list[TestCase] = []
    starts: list[int] = []  # where each open suite's tests start, counted over the whole file
    released = 0  # tests that went out before their suites ended (_HOLD_LIMIT)
    missed = 0  # tests a failed suite teardown came too late for
    tags = ("{*}robot", "{*}suite", "{*}test", "{*}total", "{*}stat")
    for event, elem in iterparse(path, events=("start", "end"), tag=tags):
        tag = local(elem.tag)
        if tag == "suite" and local(getattr(elem.getparent(), "tag", "robot")) not in ("robot", "suite"):
            continue  # <statistics><suite>: per-suite counts, not a suite
        if event == "start":
            if tag == "robot":
                generator = elem.get("generator") or ""
                info.properties["generator"] = generator
                by_robot = (generator.split() or [""])[0].upper() == "ROBOT"
                if elem.get("rpa") == "true":
                    info.properties["rpa"] = "true"
            elif tag == "suite":
                if not suite_stack:
                    info.name = elem.get("name")
                suite_stack.append((elem.get("name") or "", elem.get("source")))
                starts.append(released + len(held))
            elif tag == "total":
                in_total = True
            continue
        if tag == "test":
            case = _case(elem, suite_stack)
            clear(elem)
            if not by_robot or not suite_stack:
                yield case
                continue
            held.append(case)
            if len(held) > _HOLD_LIMIT:
                half = len(held) // 2
                yield from held[:half]
                del held[:half]
                released += half
        elif tag == "suite":
            if len(suite_stack) == 1:
                for child in elem:
                    if local(child.tag) == "status":
                        _s, info.duration, info.started_at, _m = _status(child)
            start = starts.pop() if starts else 0
            teardown = _suite_teardown(elem) if by_robot else None
            if teardown is not None:
                missed += max(0, released - start)
                for case in held[max(0, start - released):]:
                    _teardown_outcome(case, *teardown)
            suite_stack.pop()
            clear(elem)
            if not suite_stack:
                yield from held
                released += len(held)
                held.clear()
        elif tag == "stat" and in_total and (elem.text or "").strip() in ("All Tests", "All Tasks"):
            passed, failed, skipped = (to_int(elem.get(k)) or 0 for k in ("pass", "fail", "skip"))
            info.declared = {"tests": passed + failed + skipped, "failures": failed, "errors": 0, "skipped": skipped}
        elif tag == "total":
            in_total = False
    yield from held
    if missed:
        info.warnings.append(
            f"{missed} test(s) were read before their suite's teardown failed: they keep the status "
            "written for them (robot marks them failed)"
        )


def open_robot(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="Robot Framework output.xml (RF 3.2 to 7, rebot-merged outputs)",
    matches=_matches,
    open=open_robot,
)
