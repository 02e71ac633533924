"""Cucumber JSON (cucumber-jvm, cucumber-js, cucumber-ruby, the json-formatter).

Counting (shared/corpus/README.md): every element with type "scenario" is a test; backgrounds
are not. A scenario fails if any of its steps, the preceding background's steps or its hooks
(before/after, scenario and step level) failed; otherwise it is skipped if any of them is
skipped, pending, undefined or ambiguous; otherwise it passed.
Step durations are nanoseconds. Scenario-outline rows share a name: the row part of the
element id ('feature;outline;examples;3') is the parameter part, so each row keeps its identity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from crossbridge_assets.formats import FormatSpec, Sniff
from crossbridge_assets.formats._common import first_line, json_items, parse_timestamp, to_float, to_int
from crossbridge_assets.formats._tags import extract_tags
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
)

FORMAT = "cucumber-json"
FRAMEWORK = "cucumber"

_NOT_RUN = {"skipped", "pending", "undefined", "ambiguous", "unknown"}


def _matches(s: Sniff) -> bool:
    return s.json_type == "array" and (s.has("item.elements") or (s.has("item.keyword") and s.has("item.uri")))


def _results(element: dict) -> Iterable[tuple[str, dict]]:
    """(what, result) for every hook and step of an element, in execution order."""
    for hook in element.get("before") or []:
        yield "before hook", hook
    for step in element.get("steps") or []:
        for hook in step.get("before") or []:
            yield "before step hook", hook
        yield f"step '{(step.get('keyword') or '').strip()} {step.get('name') or ''}'".replace("  ", " "), step
        for hook in step.get("after") or []:
            yield "after step hook", hook
    for hook in element.get("after") or []:
        yield "after hook", hook


def _case(feature: dict, scenario: dict, background: dict | None) -> TestCase:
    items = [*((f"background {w}", r) for w, r in (_results(background) if background else ())), *_results(scenario)]
    status = PASSED
    failed_at = None
    duration_ns = 0.0
    for what, item in items:
        result = item.get("result") or {}
        state = str(result.get("status") or "").lower()
        duration_ns += to_float(result.get("duration")) or 0.0
        if state == "failed":
            status = FAILED
            if failed_at is None:
                failed_at = (what, result)
        elif state in _NOT_RUN and status == PASSED:
            status = SKIPPED
    attempt = Attempt(status=status, duration=duration_ns / 1e9 if items else None)
    if failed_at is not None:
        what, result = failed_at
        text = result.get("error_message")
        attempt.message = f"{what} failed: {first_line(text) or 'no message'}"
        attempt.stack_trace = text
    elif status == SKIPPED:
        states = sorted({str((i.get("result") or {}).get("status")) for _, i in items} & _NOT_RUN)
        attempt.message = ", ".join(states) + " steps" if states else None
    attempt.started_at = parse_timestamp(scenario.get("start_timestamp"))

    element_id = str(scenario.get("id") or "")
    parts = element_id.split(";")
    outline = "outline" in str(scenario.get("keyword") or "").lower() or len(parts) > 2
    parameters = "[" + ";".join(parts[2:]) + "]" if outline and len(parts) > 2 else None
    tags = [t.get("name") for t in scenario.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    feature_tags = [t.get("name") for t in feature.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    name = str(scenario.get("name") or "")
    return TestCase(
        framework=FRAMEWORK,
        suite=normalize_suite(str(feature.get("name") or feature.get("id") or feature.get("uri") or "")),
        name=name,
        parameters=parameters,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        tags=extract_tags(name, None, [*feature_tags, *tags]),
        file=feature.get("uri"),
        line=to_int(scenario.get("line")),
    )


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    for _prefix, feature in json_items(path, ("item",)):
        if not isinstance(feature, dict):
            continue
        background = None
        for element in feature.get("elements") or []:
            if not isinstance(element, dict):
                continue
            kind = str(element.get("type") or "").lower()
            if kind == "background":
                background = element
            elif kind == "scenario" or (not kind and element.get("keyword") != "Background"):
                yield _case(feature, element, background)


def open_cucumber(path: Path) -> ResultStream:
    info = ReportInfo(format=FORMAT, kind=KIND_RESULTS, framework=FRAMEWORK)
    return ResultStream(info, _cases(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_RESULTS,
    description="Cucumber JSON (cucumber-jvm, cucumber-js, cucumber-ruby)",
    matches=_matches,
    open=open_cucumber,
)
