"""Cucumber JSON (cucumber-jvm, cucumber-js, cucumber-ruby, the json-formatter; pytest-bdd, behave and
pherkin write it too).

Counting (shared/corpus/README.md): every element with type "scenario" is a test; backgrounds
are not. A scenario fails if any of its steps, the preceding background's steps or its hooks
(before/after, scenario and step level) failed; otherwise it is skipped if any of them is
skipped, pending, undefined or ambiguous; otherwise it passed.
Step durations are nanoseconds. Scenario-outline rows share a name: the row part of the
element id ('feature;outline;examples;3', as cucumber-jvm and cucumber-ruby write it) is the
parameter part, so each row keeps its identity. cucumber-js names an element after its pickle
('feature;[rule;]pickle name', the row not written): rows of an outline whose title has no
<placeholder> share their name and id, and the n-th repeat of a name in a feature gets the
parameters '[n]', as cucumber-js's own JUnit formatter (up to 11.0) numbers them. pytest-bdd's
element id is the pytest test's name: its '[...]' is the row's parameters.
behave's JSON formatter writes a shape of its own in the same outline: see _behave_case.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import (
    first_line,
    json_items,
    parse_timestamp,
    to_line,
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
    split_parameters,
    truncate_output,
)

FORMAT = "cucumber-json"
FRAMEWORK = "cucumber"

NOT_RUN = {"skipped", "pending", "undefined", "ambiguous", "unknown"}


def not_run_message(states: set[str]) -> str | None:
    """The message of a scenario skipped for the not-run states among its steps' `states`."""
    not_run = sorted(states & NOT_RUN)
    return ", ".join(not_run) + " steps" if not_run else None


# The whole file an empty array: what every Cucumber writes when no scenario ran (none matched
# the tag expression, or a BeforeAll hook failed). No other format read here is an array.
_EMPTY = re.compile(rb"(?:\xef\xbb\xbf)?\s*\[\s*\]\s*").fullmatch


def _matches(s: Sniff) -> bool:
    return s.json_type == "array" and (
        s.has("item.elements")
        or (s.has("item.keyword") and (s.has("item.uri") or s.has("item.location")))
        or _EMPTY(s.head) is not None
    )


def _result(item: object, key: str | None = None, index: int = 0) -> tuple[str, float, str | None]:
    """(status in lower case, duration in seconds, error message) of a step or hook (`key`[`index`]
    of its element or step; a step's own steps are located by the caller)."""
    try:
        result = opt_obj(obj(item).get("result"), "result")
        status = result.get("status")
        error = result.get("error_message")
        return (
            (status if isinstance(status, str) else text(status, "result.status") or "").lower(),
            to_seconds(result.get("duration"), 1e-9) or 0.0,
            error if error is None or isinstance(error, str) else text(error, "result.error_message"),
        )
    except ShapeError as exc:
        raise exc.at(key, index) if key else exc


def _results(element: dict) -> list[tuple[str, tuple[str, float, str | None]]]:
    """(what, result) for every hook and step of an element, in execution order."""
    out = _hooks("before hook", element, "before")
    for i, step in enumerate(array(element.get("steps"), "steps")):
        try:
            step = obj(step)
            if step.get("before"):
                out += _hooks("before step hook", step, "before")
            result = _result(step)
            what = "step"
            if result[0] == "failed":  # named in the failure message
                keyword = (text(step.get("keyword"), "keyword") or "").strip()
                name = text(step.get("name"), "name")
                if not name and (step.get("hidden") or keyword in ("before", "after")) and keyword.lower() in ("before", "after"):
                    # cucumber-js writes its hooks as hidden steps 'Before'/'After'; pherkin as
                    # steps 'before'/'after'.
                    what = f"{keyword.lower()} hook"
                else:
                    what = f"step '{keyword} {name or ''}'".replace("  ", " ")
            out.append((what, result))
            if step.get("after"):
                out += _hooks("after step hook", step, "after")
        except ShapeError as exc:
            raise exc.at("steps", i)
    if element.get("after"):
        out += _hooks("after hook", element, "after")
    return out


# What a step or hook logged: cucumber-js writes log() as an embedding of this media type (its
# data base64), cucumber-ruby and cucumber-jvm write it into an `output` list of strings.
_LOG_MEDIA = "text/x.cucumber.log+plain"


def _logs(element: dict) -> list[str]:
    """What an element's hooks and steps logged, in the order they ran. Shapes other than the
    writers' (not a list, not text) are passed over: they do not change the results."""
    out: list[str] = []

    def take(item: object) -> None:
        if not isinstance(item, dict):
            return
        output = item.get("output")
        if isinstance(output, list):
            out.extend(line for line in output if isinstance(line, str))
        embeddings = item.get("embeddings")
        for embedding in embeddings if isinstance(embeddings, list) else ():
            if isinstance(embedding, dict) and embedding.get("mime_type") == _LOG_MEDIA and isinstance(
                    embedding.get("data"), str):
                try:
                    out.append(base64.b64decode(embedding["data"], validate=True).decode("utf-8", "replace"))
                except ValueError:  # not base64
                    continue

    def each(owner: dict, key: str) -> list:
        items = owner.get(key)
        return items if isinstance(items, list) else []

    for hook in each(element, "before"):
        take(hook)
    for step in each(element, "steps"):
        if isinstance(step, dict):
            for hook in each(step, "before"):
                take(hook)
            take(step)
            for hook in each(step, "after"):
                take(hook)
    for hook in each(element, "after"):
        take(hook)
    return out


def _hooks(what: str, owner: dict, key: str) -> list[tuple[str, tuple[str, float, str | None]]]:
    return [(what, _result(hook, key, i)) for i, hook in enumerate(array(owner.get(key), key))]


def _tag_names(tags: object) -> list[str]:
    names = []
    for i, tag in enumerate(array(tags, "tags")):
        if isinstance(tag, dict) and tag.get("name"):
            try:
                names.append(text(tag["name"], "name"))
            except ShapeError as exc:
                raise exc.at("tags", i)
        elif isinstance(tag, str) and tag:  # behave: the names themselves, without the '@'
            names.append(tag)
    return names


# behave's JSON formatter (-f json; 1.2.6, 1.3): a feature and its elements have a `location`
# ('features/cart.feature:7') instead of a uri and an id, and each scenario behave's own verdict,
# `status`, which can be one Cucumber has not: error (an exception other than an assertion's),
# hook_error (a before/after hook raised: its steps are left without a result), untested. The
# verdict is taken, as behave's summary and its --junit files take it; the states mean what
# behave's Status.is_error/is_failure say (1.2.6 knows passed, failed, skipped, untested only).
_BEHAVE_STATUS = {
    "passed": PASSED,
    "xpassed": PASSED,
    "pending_warn": PASSED,
    "failed": FAILED,
    "error": ERROR,
    "hook_error": ERROR,
    "cleanup_error": ERROR,
    "undefined": ERROR,
    "pending": ERROR,
    "skipped": SKIPPED,
    "untested": SKIPPED,
    "untested_pending": SKIPPED,
    "untested_undefined": SKIPPED,
    "xfailed": SKIPPED,
}


def _behave_feature(feature: dict) -> bool:
    return "uri" not in feature and "id" not in feature and isinstance(feature.get("location"), str)


def _location(value: object) -> tuple[str | None, int | None]:
    """'features/cart.feature:7' -> ('features/cart.feature', 7)."""
    where = text(value, "location")
    if not where:
        return None, None
    path, sep, line = where.rpartition(":")
    return (path, to_line(line)) if sep and line.isdigit() else (where, None)


def _behave_case(feature: tuple[str, str | None, list[str]], scenario: dict) -> TestCase:
    """A scenario of behave's JSON. Its steps include the background's (the background element's
    own steps have no result); a step's duration is in seconds, its error_message a string or, in
    1.2.6, a traceback as a list of lines, and written for a failed step only."""
    seconds = 0.0
    timed = False
    problem = None  # (step, state, error) of the first step that did not pass or skip
    for i, step in enumerate(array(scenario.get("steps"), "steps")):
        try:
            step = obj(step)
            result = opt_obj(step.get("result"), "result")
            state = (text(result.get("status"), "result.status") or "").lower()
            duration = to_seconds(result.get("duration"))
            if duration is not None:
                seconds, timed = seconds + duration, True
            error = result.get("error_message")
            if isinstance(error, list):
                error = "\n".join(str(line) for line in error)
            else:
                error = text(error, "result.error_message")
            if problem is None and state and state not in ("passed", "skipped", "untested"):
                what = f"step '{text(step.get('keyword'), 'keyword') or ''} {text(step.get('name'), 'name') or ''}'"
                problem = (what.replace("  ", " ").replace("' ", "'", 1), state, error)
        except ShapeError as exc:
            raise exc.at("steps", i)
    verdict = (text(scenario.get("status"), "status") or "").lower()
    status = _BEHAVE_STATUS.get(verdict)
    if status is None:  # no verdict written (a run cut short): the steps'
        state = problem[1] if problem else ""
        status = FAILED if state == "failed" else ERROR if problem else PASSED
    attempt = Attempt(status=status, duration=seconds if timed else None)
    if status in (FAILED, ERROR):
        if verdict == "hook_error" or problem is None:
            # A hook raised (1.2.6 says failed, with no step that failed).
            attempt.message = "hook error (behave's JSON keeps no message for it)"
        else:
            what, state, error = problem
            # A traceback's last line is the exception (1.2.6 writes one for an error).
            line = error.strip().splitlines()[-1] if error and error.startswith("Traceback") else first_line(error)
            attempt.message = f"{what} {state}" + (f": {line}" if line else "")
            attempt.stack_trace = error
    file, line = _location(scenario.get("location"))
    name = text(scenario.get("name"), "name") or ""
    suite, feature_file, feature_tags = feature
    return TestCase(
        framework=FRAMEWORK,
        suite=suite,
        name=name,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        tags=extract_tags(name, None, [*feature_tags, *_tag_names(scenario.get("tags"))]),
        file=file or feature_file,
        line=line,
    )


# pytest's failure text (pytest-bdd writes it as a step's error_message): source lines first, the
# exception on the first line marked 'E'.
_PYTEST_E_LINE = re.compile(r"^E {3,}(\S.*)$", re.M).search


# pherkin's (Perl) error_message is the step's TAP output: an exception (die) is on the line after
# '# Exception:', the first line being 'not ok - Step ran to completion'.
_PHERKIN_EXCEPTION = re.compile(r"^\s*# Exception: *\n\s*# (\S.*)$", re.M).search


def _error_line(error: str | None) -> str | None:
    found = (_PYTEST_E_LINE(error) or _PHERKIN_EXCEPTION(error)) if error else None
    return found.group(1).rstrip() if found else first_line(error)


_SCENARIO_HOOKS = ("before hook", "after hook")


def _case(feature: tuple[str, str | None, list[str]], scenario: dict, background: list,
          background_logs: list[str] = ()) -> TestCase:
    # cucumber-ruby and cucumber-jvm write the scenario's Before hooks on the background element
    # before it (they run before the background's steps): those are the scenario's hooks.
    items = [*((w if w in _SCENARIO_HOOKS else f"background {w}", r) for w, r in background), *_results(scenario)]
    status = PASSED
    failed_at = None
    seconds = 0.0
    for what, (state, duration, error) in items:
        seconds += duration
        if state == "failed":
            status = FAILED
            if failed_at is None:
                failed_at = (what, error)
        elif state in NOT_RUN and status == PASSED:
            status = SKIPPED
    attempt = Attempt(status=status, duration=seconds if items else None)
    if failed_at is not None:
        what, error = failed_at
        attempt.message = f"{what} failed: {_error_line(error) or 'no message'}"
        attempt.stack_trace = error
    elif status == SKIPPED:
        attempt.message = not_run_message({state for _, (state, _d, _e) in items})
    attempt.started_at = parse_timestamp(scenario.get("start_timestamp"))
    attempt.stdout, attempt.stdout_size = truncate_output("\n".join([*background_logs, *_logs(scenario)]) or None)

    element_id = text(scenario.get("id"), "id") or ""
    parts = element_id.split(";")
    # An outline row: 'feature;[rule;]outline;examples;row'. Not 'feature;rule;scenario' (a Rule's
    # scenario), nor cucumber-js's 'feature;[rule;]pickle name' of a row (see _feature).
    row = len(parts) >= 4 and parts[-1].isdigit()
    parameters = "[" + ";".join(parts[2:]) + "]" if row else None
    if len(parts) == 1 and element_id.endswith("]"):
        # pytest-bdd's --cucumberjson: the id is the pytest test's name ('test_add[2-plums-3]'),
        # an outline row's parametrize id its parameters, as pytest's own reports have them.
        parameters = split_parameters(element_id)[1]
    name = text(scenario.get("name"), "name") or ""
    suite, file, feature_tags = feature
    return TestCase(
        framework=FRAMEWORK,
        suite=suite,
        name=name,
        parameters=parameters,
        status=status,
        duration=attempt.duration,
        attempts=[attempt],
        tags=extract_tags(name, None, [*feature_tags, *_tag_names(scenario.get("tags"))]),
        file=file,
        line=to_line(scenario.get("line")),
    )


def _feature_name(feature: dict) -> str:
    for key in ("name", "id", "uri"):
        value = text(feature.get(key), key)
        if value:
            return value
    return ""


def _cases(path: Path, info: ReportInfo) -> Iterator[TestCase]:
    # (suite, name, parameters) -> repeats so far, over the whole file: two features may have the
    # same name (features/billing/checkout.feature and features/legacy/checkout.feature).
    seen: dict[tuple[str, str, str | None], int] = {}
    features = 0
    try:
        for n, (_prefix, feature) in enumerate(json_items(path, ("item",))):
            features += 1
            try:
                for case in _feature(obj(feature), seen):
                    # The file says nothing of the run; cucumber-jvm writes when each scenario
                    # started: the run started with the earliest.
                    began = case.final.started_at
                    if began is not None and (info.started_at is None or began < info.started_at):
                        info.started_at = began
                    yield case
            except ShapeError as exc:
                raise exc.at("features", n)
    except ShapeError as exc:
        raise FormatError(path, exc.reason) from None
    if not features:
        info.warnings.append("no features: the run had no scenario to report (none matched the tag "
                             "expression or a BeforeAll hook failed, as the tool's output may say)")


def _feature(feature: dict, seen: dict[tuple[str, str, str | None], int]) -> Iterator[TestCase]:
    # What every scenario of the feature shares, read (and checked) once.
    behave = _behave_feature(feature)
    uri = _location(feature.get("location"))[0] if behave else text(feature.get("uri"), "uri")
    shared = (normalize_suite(_feature_name(feature)), uri, _tag_names(feature.get("tags")))
    background: list = []
    background_logs: list[str] = []
    cases = []
    for i, element in enumerate(array(feature.get("elements"), "elements")):
        try:
            element = obj(element)
            kind = (text(element.get("type"), "type") or "").lower()
            if kind == "background":
                background = [] if behave else _results(element)
                background_logs = [] if behave else _logs(element)
                continue
            if not (kind == "scenario" or (not kind and element.get("keyword") != "Background")):
                continue
            case = _behave_case(shared, element) if behave else _case(shared, element, background, background_logs)
        except ShapeError as exc:
            raise exc.at("elements", i)
        cases.append(case)
    # Repeats are numbered in the order of their lines: cucumber-js --order random writes a
    # feature's scenarios in the order they ran, which changes from run to run.
    for case in sorted(cases, key=lambda c: (c.line is None, c.line or 0)):
        key = (case.suite, case.name, case.parameters)
        repeats = seen.get(key)
        seen[key] = 0 if repeats is None else repeats + 1
        if repeats is not None and case.parameters is None:
            # Another scenario of the same name in the feature, or in another feature of the same
            # name; with cucumber-js, also another row of a placeholder-less outline. Numbered
            # as cucumber-js's JUnit formatters (and formats/junit.py) number them.
            case.parameters = f"[{repeats + 1}]"
    yield from cases


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
