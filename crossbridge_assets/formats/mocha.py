"""mocha's built-in JSON reporter (`mocha --reporter json`).

Counting (shared/corpus/README.md): len(tests), len(failures), len(pending). The reporter
writes no status on a test: a test is failed if its `err` is not empty (the same entry is in
failures[]), skipped if it is in pending[], passed otherwise. Tests may share a title, so each
tests[] entry is matched with pending[] by its whole content (the reporter writes the same test
object into both). mocha does not tell an assertion failure from an exception, so every failure
is a failure. A failed hook ("before all" hook) is in failures[] but not in tests[]; it is
reported as an errored test so that it is not lost. Written to stdout and redirected to a file,
the report comes after what the tests printed: it is read from where it starts.
"""

from __future__ import annotations

import re
from collections import Counter
from hashlib import blake2b
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import SNIFF_BYTES, FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    first_line,
    json_after_output,
    json_items,
    open_report_bytes,
    parse_timestamp,
    to_int,
    to_seconds,
)
from crossbridge_assets.formats._shape import ShapeError, obj, opt_obj, text
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
)

FORMAT = "mocha-json"
FRAMEWORK = "mocha"


def _matches(s: Sniff) -> bool:
    return (
        s.json_type == "object"
        and s.has("stats", "tests")
        and (s.has("stats.passes") or s.has("stats.tests"))
        and not s.has("results")
        and not s.has("stats.passPercent")
    )


# mocha's title of a hook that failed: '"before all" hook for "a"', '"after each" hook: name for
# "a"', '"after all" hook in "Suite"' (mocha 3 on), '"before all" hook' (older).
HOOK_TITLE = re.compile(r'"(?:before|after) (?:all|each)" hook(?:$|[ :])')

MAX_RETRIES = 100  # this.retries(n) is a small number; a hostile file could claim billions


def _key(test: dict) -> bytes:
    """A test's full title and file, as a digest: the sets of failed and pending tests are held
    for the whole report, and a digest costs a fifth of the two strings."""
    return _digest((text(test.get("fullTitle"), "fullTitle"), text(test.get("file"), "file")))


def _digest(value: tuple) -> bytes:
    return blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


_FIELDS = ("title", "fullTitle", "file", "duration", "currentRetry", "speed")


def _content(test: dict) -> bytes:
    """What the reporter writes of a test besides its (here empty) err: it writes one test object
    into tests[] and into pending[], so equal content is the same test even when several share
    a title (a pending one has no duration: one that ran and has the same title does).
    Compared by the digest of its text (an array or an object where mocha writes a scalar
    included), held for every pending test like _key."""
    return _digest(tuple(map(test.get, _FIELDS)))


def _case(test: dict, status: str) -> TestCase:
    title = text(test.get("title"), "title") or ""
    full = text(test.get("fullTitle"), "fullTitle") or ""
    # fullTitle is the describe() titles and the title, joined by spaces.
    suite = full[: -len(title)].strip() if title and full.endswith(title) else ""
    err = opt_obj(test.get("err"), "err")
    stack = message = failure_type = None
    if err:
        stack = text(err.get("stack"), "err.stack")
        message = text(err.get("message"), "err.message")
        failure_type = text(err.get("name") or err.get("code"), "err.name")
    attempt = Attempt(
        status=status,
        duration=to_seconds(test.get("duration"), 1e-3),
        message=first_line(message) if message else first_line(stack),
        stack_trace=stack,
        failure_type=failure_type,
    )
    properties = {}
    attempts = [attempt]
    retries = to_int(test.get("currentRetry"))
    if retries and retries > 0:
        # mocha keeps only the last try; it retries a test only when it fails, so each earlier
        # try is a failed attempt whose details were not reported (and a pass makes it flaky).
        properties["currentRetry"] = str(retries)
        attempts = [Attempt(status=FAILED) for _ in range(min(retries, MAX_RETRIES))] + attempts
    return TestCase(
        framework=FRAMEWORK,
        suite=normalize_suite(suite),
        name=title,
        status=status,
        duration=attempt.duration,
        attempts=attempts,
        properties=properties,
        tags=extract_tags(full or title, None, None),
        file=text(test.get("file"), "file"),
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    try:
        yield from _read(path, info)
    except ShapeError as exc:
        raise FormatError(path, exc.reason) from None


def _offset(path: Path) -> int:
    """Where the report starts: after what the tests printed when mocha wrote it to stdout."""
    try:
        with open_report_bytes(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    return json_after_output(head) or 0


def _read(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    offset = _offset(path)
    failed: set[bytes] = set()
    pending_keys: set[bytes] = set()
    pending: Counter = Counter()  # content of pending[] entries, see _content
    index = Counter()
    # First pass: which tests failed or were pending (small keys only).
    for prefix, value in json_items(path, ("stats", "failures.item", "pending.item"), offset):
        if prefix == "stats":
            if value is None:
                continue
            value = obj(value, "stats")
            info.started_at = parse_timestamp(value.get("start"))
            if value.get("duration") is not None:
                info.duration = to_seconds(value.get("duration"), 1e-3)
            info.declared = {
                "tests": to_int(value.get("tests")) or 0,
                "failures": to_int(value.get("failures")) or 0,
                "skipped": to_int(value.get("pending")) or 0,
            }
            continue
        name = prefix.partition(".")[0]
        i = index[name]
        index[name] += 1
        try:
            value = obj(value)
            if name == "failures":
                failed.add(_key(value))
            else:
                pending_keys.add(_key(value))
                pending[_content(value)] += 1
        except ShapeError as exc:
            raise exc.at(name, i)
    seen: set[bytes] = set()
    for i, (_prefix, test) in enumerate(json_items(path, ("tests.item",), offset)):
        try:
            test = obj(test)
            key = _key(test)
            if key in failed:
                seen.add(key)
            err = opt_obj(test.get("err"), "err")
            if err:
                status = FAILED
            elif key in pending_keys and pending[content := _content(test)] > 0:
                pending[content] -= 1
                status = SKIPPED
            elif test.get("pending") is True:
                status = SKIPPED
            elif "err" not in test and key in failed:
                # mocha before mid-2014 (1.20) wrote no `err` into tests[]: only failures[] says it.
                status = FAILED
            else:
                status = PASSED
            case = _case(test, status)
        except ShapeError as exc:
            raise exc.at("tests", i)
        yield case
    hooks = 0
    # failures[] is read again only when it holds entries no test has (failed hooks): holding
    # every failure, stack traces and all, from the first pass would grow with the report.
    unseen = failed - seen
    failures = json_items(path, ("failures.item",), offset) if unseen else ()
    for i, (_prefix, failure) in enumerate(failures):
        failure = {k: failure.get(k) for k in ("title", "fullTitle", "file", "duration", "err")}
        if _key(failure) in unseen:
            # A hook failed ('"before all" hook for ...'): no test entry carries it.
            hooks += 1
            try:
                case = _case(failure, ERROR)
            except ShapeError as exc:
                raise exc.at("failures", i)
            yield case
    if hooks and info.declared:
        # mocha counts a failed hook in stats.failures and not in stats.tests; here it is an
        # errored test: the file's totals in the same terms, so that they can be compared.
        info.declared["tests"] += hooks
        info.declared["failures"] = max(0, info.declared["failures"] - hooks)
        info.declared["errors"] = hooks


def open_mocha(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="mocha JSON reporter (--reporter json)",
    matches=_matches,
    open=open_mocha,
)
