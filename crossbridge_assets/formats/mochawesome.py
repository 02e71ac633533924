"""mochawesome JSON (mocha and Cypress runs; mochawesome-merge output).

Counting (shared/corpus/README.md): every tests[] entry in the recursive suites tree; state
failed -> failure, pending or skipped -> skipped. mochawesome >= 3 writes results[] (one root
suite a spec file); mochawesome 2 wrote a single root `suites` object.
A failed hook (in a suite's beforeHooks/afterHooks) is an errored test titled as mocha titles
it ('"before all" hook for "a"'), as mocha's own JSON reporter has it; the tests it kept from
running stay skipped.
mochawesome-merge (4.x) writes stats of its own, recounted from the merged tests: they are read in
the same terms (see _stats and _cases).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    first_line,
    json_events,
    json_skip,
    json_value,
    parse_timestamp,
    to_int,
    to_seconds,
)
from crossbridge_assets.formats._shape import ShapeError, array, obj, opt_obj, text
from crossbridge_assets.formats._tags import extract_tags
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

FORMAT = "mochawesome"
FRAMEWORK = "mocha"


def suite_path(titles: list[str]) -> str:
    """A test's suite: its describe() titles joined by spaces, as mocha's own fullTitle does,
    so the same test read from mocha's JSON reporter (which only has fullTitle) gets the same
    identity (and so do the spans hooks/reports.py derives)."""
    return normalize_suite(" ".join(t for t in titles if t))


def _matches(s: Sniff) -> bool:
    if s.json_type != "object" or not s.has("stats") or s.json_offset:
        return False
    return s.has("results") or s.has("stats.passPercent") or s.has("suites.uuid")


def _status(test: dict) -> str:
    if test.get("fail") is True or test.get("state") == "failed":
        return FAILED
    if test.get("pending") is True or test.get("skipped") is True or test.get("state") in ("pending", "skipped"):
        return SKIPPED
    if test.get("pass") is True or test.get("state") == "passed":
        return PASSED
    return SKIPPED


def _context(context: str | None) -> str | None:
    """What addContext() gave a test, as text: mochawesome writes it JSON.stringify'd, a string or
    a {title, value} or a list of them. An entry a line, 'title: value'."""
    if not context:
        return None
    try:
        value = json.loads(context)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
        return context
    lines = []
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, dict) and "title" in entry:
            shown = entry.get("value")
            shown = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)
            lines.append(f"{entry['title']}: {shown}")
        else:
            lines.append(entry if isinstance(entry, str) else json.dumps(entry, ensure_ascii=False))
    return "\n".join(lines) or None


def _case(test: dict, titles: list[str], file: str | None, status: str | None = None) -> TestCase:
    status = status or _status(test)
    err = opt_obj(test.get("err"), "err")
    message = stack = failure_type = None
    properties = {}
    if err:
        message = text(err.get("message"), "err.message")
        estack = text(err.get("estack"), "err.estack")
        stack = estack or text(err.get("stack"), "err.stack")
        failure_type = text(err.get("name"), "err.name")
        if not message:
            message = estack
        if err.get("diff"):
            properties["diff"] = str(err["diff"])
    attempt = Attempt(
        status=status,
        duration=to_seconds(test.get("duration"), 1e-3),
        message=first_line(message),
        stack_trace=stack,
        failure_type=failure_type,
    )
    attempt.stdout, attempt.stdout_size = truncate_output(_context(text(test.get("context"), "context")))
    title = text(test.get("title"), "title") or ""
    return TestCase(
        framework=FRAMEWORK,
        suite=suite_path(titles),
        name=title,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        properties=properties,
        tags=extract_tags(text(test.get("fullTitle"), "fullTitle") or title),
        file=file or None,
    )


def _head(suite: dict, titles: list[str], file: str | None) -> tuple[list[str], str | None]:
    """A suite's titles and file, as its tests and nested suites get them."""
    file = text(suite.get("file"), "file") or text(suite.get("fullFile"), "fullFile") or file
    title = text(suite.get("title"), "title")
    return (titles + [title] if title else titles), file


def _own(suite: dict, here: list[str], file: str | None) -> Iterator[TestCase]:
    """A suite's failed before hooks and its tests: what mocha runs before its nested suites."""
    if suite.get("beforeHooks"):
        yield from _hooks(suite, "beforeHooks", here, file)
    for i, test in enumerate(array(suite.get("tests"), "tests")):
        try:
            test = obj(test)
            if test.get("isHook"):
                if _status(test) == FAILED:
                    yield _case(test, here, file, ERROR)
            else:
                yield _case(test, here, file)
        except ShapeError as exc:
            raise exc.at("tests", i)


def _walk(suite: dict, titles: list[str], file: str | None) -> Iterator[TestCase]:
    here, file = _head(suite, titles, file)
    # In the order mocha runs them: before hooks, tests, nested suites, after hooks.
    yield from _own(suite, here, file)
    for i, child in enumerate(array(suite.get("suites"), "suites")):
        try:
            yield from _walk(obj(child), here, file)
        except ShapeError as exc:
            raise exc.at("suites", i)
    if suite.get("afterHooks"):
        yield from _hooks(suite, "afterHooks", here, file)


# What a suite's own tests and its nested suites' identities come from. mochawesome writes them
# before `suites` (uuid, title, fullFile, file, beforeHooks, afterHooks, tests, suites, ...).
_HEAD_KEYS = frozenset({"title", "file", "fullFile", "beforeHooks", "tests"})


def _stream(events, titles: list[str], file: str | None) -> Iterator[TestCase]:
    """_walk over a suite read from `events` (its start_map consumed), handing out each nested
    suite's tests as they are read: a report whose one root suite holds every spec file (mocha's
    mochawesome) is held one suite at a time, not whole. A suite whose `suites` comes before
    the keys above is built whole and walked as before."""
    suite: dict = {}
    streamed = None  # (here, file) once the nested suites were walked as read
    for event, key in events:
        if event == "end_map":
            break
        event, value = next(events)
        if key == "suites" and event == "start_array" and streamed is None and _HEAD_KEYS <= suite.keys():
            here, own_file = streamed = _head(suite, titles, file)
            yield from _own(suite, here, own_file)
            i = 0
            for event, value in events:
                if event == "end_array":
                    break
                try:
                    if event == "start_map":
                        yield from _stream(events, here, own_file)
                    else:
                        obj(json_value(events, event, value))
                except ShapeError as exc:
                    raise exc.at("suites", i)
                i += 1
        else:
            suite[key] = json_value(events, event, value)
    if streamed is None:
        yield from _walk(suite, titles, file)
    elif suite.get("afterHooks"):
        here, own_file = streamed
        yield from _hooks(suite, "afterHooks", here, own_file)


def _hooks(suite: dict, key: str, titles: list[str], file: str | None) -> Iterator[TestCase]:
    """The failed hooks among a suite's beforeHooks/afterHooks (mocha's JSON reporter lists a
    failed hook in failures[]; one that passed is no test)."""
    for i, hook in enumerate(array(suite.get(key), key)):
        try:
            hook = obj(hook)
            if _status(hook) == FAILED:
                yield _case(hook, titles, file, ERROR)
        except ShapeError as exc:
            raise exc.at(key, i)


def _stats(value: object, info: ReportInfo) -> None:
    value = obj(value, "stats")
    info.started_at = parse_timestamp(value.get("start"))
    if value.get("duration") is not None:
        info.duration = to_seconds(value.get("duration"), 1e-3)
    tests = to_int(value.get("testsRegistered"))
    hooks = to_int(value.get("other")) or 0  # failed hooks, not among its failures
    failures = to_int(value.get("failures")) or 0
    passes = to_int(value.get("passes"))
    skipped = (to_int(value.get("pending")) or 0) + (to_int(value.get("skipped")) or 0)
    if tests is not None and passes is not None:
        # Every registered test that neither passed nor failed: mochawesome's pending + skipped
        # (tests a failed hook kept from running), and so in mochawesome-merge's stats, whose
        # `skipped` leaves such a test out (4.4 counts the state 'skipped', which none has).
        skipped = max(0, tests - passes - failures)
    info.declared = {
        "tests": (tests if tests is not None else to_int(value.get("tests")) or 0) + hooks,
        "failures": failures,
        "errors": hooks,
        "skipped": skipped,
    }


def _suite(events, event: str, value) -> Iterator[TestCase]:
    """A root suite (an item of results[], or mochawesome 2's `suites`) starting at `event`."""
    if event == "start_map":
        yield from _stream(events, [], None)
    else:
        obj(json_value(events, event, value))


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    hooks = 0
    for case in _read(path, info):
        hooks += case.status == ERROR
        yield case
    if hooks and info.declared and not info.declared["errors"]:
        # mochawesome-merge recounts the stats from the tests it merged, without the failed hooks
        # (its `other` is always 0) that mochawesome itself counts: in the terms of the content.
        info.declared["tests"] += hooks
        info.declared["errors"] = hooks


def _read(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    results = 0
    events = json_events(path)
    try:
        for event, key in events:
            if event != "map_key":
                continue  # the top-level object's own start and end
            event, value = next(events)
            if key == "results" and event == "start_array":
                for event, value in events:
                    if event == "end_array":
                        break
                    results += 1
                    try:
                        yield from _suite(events, event, value)
                    except ShapeError as exc:
                        raise exc.at("results", results - 1)
            elif key == "stats" and event != "null":
                _stats(json_value(events, event, value), info)
            elif key == "suites" and event != "null":
                try:
                    yield from _suite(events, event, value)
                except ShapeError as exc:
                    raise exc.at("suites")
            else:
                json_skip(events, event)
    except ShapeError as exc:
        raise FormatError(path, exc.reason) from None
    finally:
        events.close()


def open_mochawesome(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="mochawesome JSON (mocha, Cypress)",
    matches=_matches,
    open=open_mochawesome,
    priority=90,  # before mocha-json: both have a top-level `stats`
)
