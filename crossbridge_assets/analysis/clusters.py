"""Failure clusters: which failures share one root cause.

A failure's signature is made of three parts, and failures with one signature form a cluster,
whatever test, run, project or report format they come from:
- its exception type, by its simple name (java.lang.AssertionError and AssertionError are one),
  read from the message or the stack trace where the report states none or only its own tag;
- its message with the volatile parts replaced by placeholders: numbers, hex addresses, UUIDs,
  timestamps, durations, temporary and absolute paths, and the quoted values that change between
  failures of one test. This is the idea of Sentry's message parameterization
  (sentry.grouping.parameterization: uuid, hex, date, duration, float, int, quoted_str... become
  <uuid>, <hex>...), applied to the first lines of a test failure, where the assertion is;
- the innermost frame of the stack trace that belongs to the project, not to the framework,
  as Sentry groups a stack trace by its in-app frames only (without their line numbers, which move
  with every edit above them). One frame rather than several: two tests failing in the same
  helper have different callers (each its own test), and the helper is where the cause is.

Allure's categories group a report's failures by message after a user's regular expressions;
these rules need none, and they are written against real traces of each family: Java/Kotlin
(JUnit, TestNG, Surefire), Python (unittest tracebacks, pytest long and short reports), JavaScript
(V8 frames of Jest, Mocha, Playwright, Vitest, Deno), .NET (NUnit, xUnit, MSTest, Mono), Ruby,
PHP, and messages without a trace (Robot Framework, Catch2, Go).

Input: warehouse.insights.failure_frame (one row per failed attempt). Output: the clusters and
the cluster of each failing result (run, test).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from crossbridge_assets.analysis import display_name
from crossbridge_assets.model import PASSED, RERUN_WITHOUT_DETAIL, STATUSES

MESSAGE_LINES = 4  # non-empty lines of a message that make its pattern
MESSAGE_CHARS = 240  # and at most this many characters of it
EXAMPLE_TESTS = 3

# ---------------------------------------------------------------------------- message

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\[\d+(?:;\d+)*m")
_QUOTED = re.compile(r"""(?<![\w\\])(?:'([^'\n]{1,80})'|"([^"\n]{1,80})"|`([^`\n]{1,80})`)(?!\w)""")
_SLOT = "\ue000"  # where a quoted value was, until clustering decides whether it varies
_VOLATILE = [
    # Temporary folders before any other path: pytest's tmp_path, mkdtemp, macOS and Windows temp.
    (re.compile(r"(?:[A-Za-z]:)?[\\/](?:private[\\/])?(?:tmp|var[\\/]folders|var[\\/]tmp)[\\/][^\s'\"`),;]*"
                r"|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp\\[^\s'\"`),;]*", re.I), "<tmp>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
                r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    # The folders of an absolute path to a file differ between agents (/home/runner/work/x/,
    # C:\a\x\); not a URL's path, nor an API route (/v1/charges).
    (re.compile(r"(?:\b[A-Za-z]:|(?<![\w.:/])(?=/\w))(?:[\\/][\w.@~+-]+)*[\\/](?=[\w-]+\.\w+\b)"), "<path>/"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # Hex identities (Object@1b6d3586, commit and object ids): letters and digits mixed, 7 or more.
    (re.compile(r"(?<=@)[0-9a-f]{4,}\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?|µs|us|ns)\b",
                re.I), "<duration>"),
    (re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?![\w])", re.I), "<n>"),
]
_SPACES = re.compile(r"[ \t]+")

_TYPE_NAME = r"(?:[A-Za-z_$][\w$]*[.\\])*(?:[A-Za-z_$][\w$]*)?(?:Error|Exception)"
# "AssertionError: ...", "java.lang.IllegalStateException: ...", "AssertionError [ERR_ASSERTION]: ...",
# "System.DivideByZeroException : ...", pytest's "E   TimeoutError: ...", Deno's "Uncaught Error: ...".
_TYPE_LINE = re.compile(rf"^(\s*)(?:E\s+|Uncaught\s+|Caused by:\s*)?({_TYPE_NAME})(?:\s*\[[^\]\n]*\])?[ \t]*(?::|$)",
                        re.M)
_TYPE_PREFIX = re.compile(rf"^\s*(?:Uncaught\s+)?({_TYPE_NAME})(?:\s*\[[^\]\n]*\])?[ \t]*(?::[ \t]*|$)")
# Ruby's "expected 1, got 0 (RuntimeError)" on the message's first line.
_RUBY_SUFFIX = re.compile(r"[ \t]*\(((?:\w+::)*\w*(?:Error|Exception))\)[ \t]*(?=\n|$)")
# What some reporters wrap a failure's own message in: pytest's JUnit XML for a fixture
# ('failed on setup with "RuntimeError: db down"'), Cucumber's JSON for a step or hook.
_PYTEST_PHASE = re.compile(r'^failed on (?:setup|teardown) with "(.*)"$', re.S)
_WRAPPER = re.compile(r"^(?:(?:background )?step '[^'\n]*' failed|(?:before|after)(?:all)? hook failed):\s*", re.I)
# Types that only say which element the report used (JUnit's <failure>/<error>) or how the test
# ended (Playwright's timedOut, interrupted); JavaScript's Error is a type.
_NO_TYPE = {"", "failure", "error", "failed", "fail", "timedOut", "interrupted"}


def _simple_type(name: str | None) -> str:
    if not isinstance(name, str):
        return ""
    name = re.split(r"[.\\/]|::", name.strip())[-1].strip()
    return "" if name in _NO_TYPE else name


def _clean(text: str | None) -> str:
    return _ANSI.sub("", text if isinstance(text, str) else "").replace("\r\n", "\n").replace("\r", "\n")


def exception_of(trace: str) -> tuple[str, str]:
    """(type, message) of the exception a stack trace reports, or ('', ''). Python prints it last
    (after 'Traceback (most recent call last)'), the others first."""
    found = [m for m in _TYPE_LINE.finditer(trace)]
    if not found:
        return "", ""
    if "Traceback (most recent call last)" in trace:
        top = [m for m in found if not m.group(1)]
        m = (top or found)[-1]
    else:
        m = found[0]
    line_end = trace.find("\n", m.end())
    return m.group(2), trace[m.end(): line_end if line_end >= 0 else None].strip()


def message_pattern(message: str) -> tuple[str, tuple[str, ...]]:
    """The first lines of a message with its volatile parts replaced; quoted values are left as
    slots (returned apart) for the clustering to decide whether they vary."""
    lines = [_SPACES.sub(" ", line).strip() for line in message.split("\n")]
    text = " / ".join(line for line in lines if line)
    text = " / ".join(text.split(" / ")[:MESSAGE_LINES])
    values: list[str] = []

    def slot(m: re.Match) -> str:
        values.append(next(g for g in m.groups() if g is not None))
        return _SLOT

    text = _QUOTED.sub(slot, text)
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    values = [_normalise_value(v) for v in values]
    return text[:MESSAGE_CHARS], tuple(values[: text[:MESSAGE_CHARS].count(_SLOT)])


def _normalise_value(value: str) -> str:
    for pattern, placeholder in _VOLATILE:
        value = pattern.sub(placeholder, value)
    return value


# ---------------------------------------------------------------------------- frames

# Frames of the runtime, the test frameworks, their runners and assertion libraries: never the
# project's own code, whatever the project (Sentry's "in-app" rule, by name).
_FRAMEWORK_NAMES = re.compile(
    r"^(?:java|javax|jdk|sun|com\.sun|kotlin|kotlinx\.coroutines|scala|groovy|org\.codehaus\.groovy"
    r"|org\.junit|junit|org\.opentest4j|org\.testng|org\.apache\.maven|org\.gradle|worker\.org\.gradle"
    r"|org\.hamcrest|org\.assertj|com\.google\.common\.truth|org\.mockito|net\.bytebuddy|io\.cucumber|cucumber"
    r"|org\.scalatest|org\.spockframework|org\.springframework|com\.intellij"
    r"|System|Microsoft|NUnit\.Framework|Xunit|xunit|FluentAssertions|Shouldly|Moq|Castle)\.|^lambda_method"
)
_FRAMEWORK_PATHS = re.compile(
    r"node_modules[\\/]|^node:|^internal[\\/]|<anonymous>|^native$|^\[native code\]$|<Jasmine>"
    r"|(?:^|[\\/])(?:site|dist)-packages[\\/]|[\\/]lib[\\/]python\d|(?:^|[\\/])(?:_pytest|pluggy|unittest)[\\/]"
    r"|<frozen |(?:^|[\\/])gems[\\/]|(?:^|[\\/])rubygems[\\/]|<internal:|(?:^|[\\/])vendor[\\/]|[\\/]phpunit[\\/]"
)
# A project's own assertion helpers (Assert.assertBoolean, expectOk, verifyTotals): every failing
# check of every test ends there, so the frame says nothing of the cause; the caller does.
_ASSERTION_HELPER = re.compile(r"(?:^|[.:$])(?:[aA]ssert|[eE]xpect|[vV]erify|[sS]hould)(?:[A-Z_]\w*)?$"
                               r"|(?:^|[.:])\w*(?:Assert|Assertions)\.\w+$")
_AT = re.compile(r"^\s*at\s+(.+?)\s*$")
_JS_CALL = re.compile(r"^(?:async\s+)?(?:new\s+)?(?P<fn>.+?)\s+\((?P<loc>.+?)\)$")
_JS_LOC = re.compile(r"^(?P<file>.+?)(?::\d+){1,2}$")
_JAVA = re.compile(r"^(?:\S+/)?(?P<fn>[\w$.<>-]+)\((?P<loc>[^()]*)\)$")
_DOTNET = re.compile(r"^(?P<fn>[\w$.`<>\[\],+|]+?)\s*\((?P<args>[^)]*)\)(?:\s*\[0x[0-9a-f]+\])?(?:\s+in\s+.*)?$", re.I)
_VITEST = re.compile(r"^\s*❯\s+(?:(?P<fn>\S+)\s+)?(?P<loc>\S+?):\d+:\d+\s*$")
_PY_FILE = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<fn>\S+)')
_PYTEST_ENTRY = re.compile(r"^\s*(?P<file>[^\s:]+\.py):\d+:(?: in (?P<fn>\w+)| (?P<raised>\w+))?\s*$")
_PY_DEF = re.compile(r"^\s*(?:>\s*)?(?:async\s+)?def (\w+)\(")
_RUBY = re.compile(r"^\s*(?:from\s+)?(?P<file>\S+\.rb):\d+:in [`'](?P<fn>.+?)'")
_PHP = re.compile(r"^#\d+ (?P<file>\S+?)\(\d+\): (?P<fn>[^(\s]+)\(")
_DIGITS_IN_NAMES = re.compile(r"(?<=\$)\d+|(?<=\()\d+(?= levels?\))|0x[0-9a-f]+", re.I)


def _basename(path: str) -> str:
    path = re.sub(r"^(?:file|webpack[\w-]*)://+", "", path.strip())
    return re.split(r"[\\/]", path)[-1]


def _key(file: str | None, fn: str | None) -> str:
    fn = _DIGITS_IN_NAMES.sub("<n>", fn or "")
    if "<anonymous>" in fn or fn in ("<module>", "Object", "eval"):
        fn = ""
    base = _basename(file) if file else ""
    return f"{base}:{fn}" if base and fn else base or fn


def _frame(line: str) -> tuple[str, bool] | None:
    """(key, the project's own) of one 'at ...' / '❯ ...' line of a JS, Java or .NET trace."""
    m = _VITEST.match(line)
    if m:
        return _key(m["loc"], m["fn"]), not _FRAMEWORK_PATHS.search(m["loc"])
    at = _AT.match(line)
    if not at:
        return None
    body = at.group(1)
    m = _JAVA.match(body)
    if m and (m["loc"] in ("Native Method", "Unknown Source", "")
              or re.fullmatch(r"[\w$.-]+\.(?:java|kt|scala|groovy|clj|feature)(?::\d+)?", m["loc"])):
        fn = _DIGITS_IN_NAMES.sub("<n>", m["fn"])
        return fn, not _FRAMEWORK_NAMES.match(fn)
    m = _JS_CALL.match(body)
    if m and (_JS_LOC.match(m["loc"]) or m["loc"] in ("<anonymous>", "native")):
        loc = _JS_LOC.match(m["loc"])["file"] if _JS_LOC.match(m["loc"]) else m["loc"]
        return _key(loc, m["fn"]), not _FRAMEWORK_PATHS.search(loc)
    m = _JS_LOC.match(body)
    if m and " " not in m["file"].strip():
        return _key(m["file"], None), not _FRAMEWORK_PATHS.search(m["file"])
    m = _DOTNET.match(body)
    if m:
        fn = _DIGITS_IN_NAMES.sub("<n>", m["fn"])
        return fn, not _FRAMEWORK_NAMES.match(fn)
    return None


@lru_cache(maxsize=4096)  # one trace repeats across the failures of a broken test, and their messages vary
def own_frames(trace: str) -> tuple[str, ...]:
    """The frames of a stack trace that belong to the project, innermost first, by a key without
    line numbers: Class.method (Java, .NET), file:function (Python, JS, Ruby, PHP)."""
    frames: list[tuple[str, bool]] = []
    python: list[tuple[str, bool]] = []
    last_def = None
    ended = False
    for line in trace.split("\n"):
        m = _PY_FILE.match(line)
        if m and not ended:
            python.append((_key(m["file"], m["fn"]), not _FRAMEWORK_PATHS.search(m["file"])))
            continue
        m = _PY_DEF.match(line)
        if m:
            last_def = m.group(1)
            continue
        m = _PYTEST_ENTRY.match(line)
        if m:
            if not ended:
                python.append((_key(m["file"], m["fn"] or last_def), not _FRAMEWORK_PATHS.search(m["file"])))
            # 'file.py:16: RuntimeError' ends pytest's report of the failure; what follows is
            # another phase's (a teardown that broke too), not the frames of this one.
            ended = ended or bool(m["raised"])
            last_def = None
            continue
        m = _RUBY.match(line) or _PHP.match(line)
        if m:
            frames.append((_key(m["file"], m["fn"]), not _FRAMEWORK_PATHS.search(m["file"])))
            continue
        frame = _frame(line)
        if frame:
            frames.append(frame)
    # Python prints the outermost call first.
    frames += python[::-1]
    out: list[str] = []
    for key, own in frames:
        if own and key and not _ASSERTION_HELPER.search(key) and (not out or out[-1] != key):
            out.append(key)
    return tuple(out)


# ---------------------------------------------------------------------------- signature


@dataclass(frozen=True)
class Parsed:
    """A failure read for clustering: its type, message pattern (with slots for quoted values),
    the quoted values, and its innermost own frame."""

    failure_type: str
    pattern: str
    values: tuple[str, ...]
    frame: str
    detail: bool  # False: nothing tells this failure's cause (no type, message or trace)


def parse(framework: str | None, failure_type: str | None, message: str | None, stack_trace: str | None) -> Parsed:
    message, trace = _clean(message).strip(), _clean(stack_trace)
    if message == RERUN_WITHOUT_DETAIL:
        message = ""
    message = _WRAPPER.sub("", _PYTEST_PHASE.sub(r"\1", message), count=1)
    m = _TYPE_PREFIX.match(message) or _RUBY_SUFFIX.search(message)
    prefix_type = m.group(1) if m else ""
    if m:
        message = (message[: m.start()] + message[m.end():]).strip()
    trace_type, trace_message = exception_of(trace) if trace else ("", "")
    # Robot Framework's xUnit output types every failure AssertionError, its output.xml none:
    # the stated type tells nothing there, and would split one failure read from both files.
    stated = "" if framework == "robot" else failure_type
    kind = _simple_type(prefix_type) or _simple_type(trace_type) or _simple_type(stated)
    if not message:
        message = trace_message
    pattern, values = message_pattern(message)
    frames = own_frames(trace) if trace else ()
    frame = frames[0] if frames else ""
    return Parsed(kind, pattern, values, frame, bool(kind or pattern or frame))


def signature_text(failure_type: str, message: str, frame: str) -> str:
    """How a signature reads: 'TimeoutError: timed out after <duration> @ gateway.py:call'."""
    head = f"{failure_type}: {message}" if failure_type and message else failure_type or message or "(no failure detail)"
    return f"{head} @ {frame}" if frame else head


# ---------------------------------------------------------------------------- clustering

CLUSTER_COLUMNS = [
    "cluster_id", "signature", "failure_type", "message_pattern", "frame", "tests", "occurrences",
    "attempts", "runs", "projects", "passed_on_retry", "first_seen", "last_seen", "example_message",
    "example_test", "example_tests", "example_project", "example_branch", "example_build", "example_ci_url",
    "example_run_id",
]
MEMBER_COLUMNS = ["run_id", "test_id", "cluster_id", "status", "attempts"]


def _labels(f: pd.DataFrame) -> list[str]:
    return [display_name(suite, name, parameters) for suite, name, parameters in zip(f["suite"], f["name"], f["parameters"])]


def _fill(pattern: str, values: tuple[str, ...], volatile: set[int]) -> str:
    parts = pattern.split(_SLOT)
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        value = "<str>" if i in volatile or i >= len(values) else values[i]
        out.append(f"'{value}'" if value != "<str>" else value)
        out.append(part)
    return "".join(out)


def _example(message: str | None) -> str:
    lines = [line.strip() for line in _clean(message).split("\n") if line.strip()]
    return " / ".join(lines[:2])[:200]


def cluster(failures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clusters, members) from failed attempts (warehouse.insights.failure_frame's columns).

    clusters: one row per signature, CLUSTER_COLUMNS, largest first: those spanning several tests
    before those one test makes, then by failing results. members: the cluster of each failing
    result, one row per (run_id, test_id, cluster_id), with the result's final status and how many
    of its failed attempts had that signature."""
    if failures.empty:
        return pd.DataFrame(columns=CLUSTER_COLUMNS), pd.DataFrame(columns=MEMBER_COLUMNS)
    f = failures.reset_index(drop=True)
    # Many failures repeat word for word (a broken test, run after run): read each text once.
    keys = list(zip(f["framework"], f["failure_type"], f["message"], f["stack_trace"]))
    parsed_of: dict = {}
    for key in keys:
        if key not in parsed_of:
            parsed_of[key] = parse(*key)
    parsed = [parsed_of[k] for k in keys]
    f["_type"] = [p.failure_type for p in parsed]
    f["_pattern"] = [p.pattern for p in parsed]
    f["_frame"] = [p.frame for p in parsed]
    # A failure that tells nothing of its cause shares it with no other test.
    f["_alone"] = [None if p.detail else t for p, t in zip(parsed, f["test_id"])]
    f["_values"] = [p.values for p in parsed]
    # Some formats state no type where others do (Cucumber's JUnit output and its JSON, a
    # Playwright JSON message and its JUnit XML): a failure of unknown type takes the one type
    # that failures with its message and frame have.
    known = f[f["_type"] != ""].groupby(["_pattern", "_frame"])["_type"].unique()
    known = known[known.map(len) == 1].map(lambda types: types[0])
    unknown = (f["_type"] == "") & f["_alone"].isna()
    if unknown.any() and len(known):
        found = pd.Series(list(zip(f["_pattern"], f["_frame"])), index=f.index)[unknown].map(known)
        f.loc[found.dropna().index, "_type"] = found.dropna()

    # A quoted value is volatile in a pattern when one test failed with it taking two values:
    # a generated name or id, not what the failure is about. Values that differ only between
    # tests stay (No keyword with name 'Login' / 'Logout' found are two causes).
    group = ["_type", "_pattern", "_frame", "_alone"]
    messages = []
    for _, g in f.groupby(group, dropna=False, sort=False):
        width = max(len(v) for v in g["_values"])
        volatile: set[int] = set()
        for i in range(width):
            slot = g["_values"].map(lambda v, i=i: v[i] if i < len(v) else None)
            if (slot.groupby(g["test_id"]).nunique() > 1).any():
                volatile.add(i)
        messages.append(pd.Series([_fill(p, v, volatile) for p, v in zip(g["_pattern"], g["_values"])], index=g.index))
    f["message_pattern"] = pd.concat(messages)
    f["signature"] = [
        signature_text(t, m, fr) + (f" [test {a}]" if isinstance(a, str) else "")
        for t, m, fr, a in zip(f["_type"], f["message_pattern"], f["_frame"], f["_alone"])
    ]
    f["cluster_id"] = [hashlib.sha1(s.encode("utf-8")).hexdigest()[:16] for s in f["signature"]]
    f["_label"] = _labels(f)

    # A test read from two reports of one run (Robot's output.xml and its xUnit file) is one
    # result: its attempts count once, and its status is the worse of the two.
    rank = {status: i for i, status in enumerate(STATUSES)}  # worst first
    worst_first = f.assign(_rank=f["status"].map(rank).fillna(len(rank))).sort_values("_rank", kind="stable")
    members = (
        worst_first.groupby(["run_id", "test_id", "cluster_id"], sort=False)
        .agg(status=("status", "first"), attempts=("attempt", "nunique"))
        .reset_index()[MEMBER_COLUMNS]
    )
    rows = []
    latest_first = f.sort_values("run_time", ascending=False, kind="stable")
    for cid, g in latest_first.groupby("cluster_id", sort=False):
        last = g.iloc[0]
        results = g.drop_duplicates(["run_id", "test_id"])
        tests = results.drop_duplicates("test_id")["_label"].tolist()
        rows.append(dict(
            cluster_id=cid,
            signature=last["signature"],
            failure_type=last["_type"] or None,
            message_pattern=last["message_pattern"] or None,
            frame=last["_frame"] or None,
            tests=int(g["test_id"].nunique()),
            occurrences=len(results),
            attempts=len(g.drop_duplicates(["run_id", "test_id", "attempt"])),
            runs=int(g["run_id"].nunique()),
            projects=", ".join(sorted(g["project"].dropna().unique())),
            passed_on_retry=int((results["status"] == PASSED).sum()),
            first_seen=g["run_time"].min(),
            last_seen=g["run_time"].max(),
            example_message=_example(last["message"]) or None,
            example_test=last["_label"],
            example_tests="; ".join(tests[:EXAMPLE_TESTS]) + (f"; … {len(tests) - EXAMPLE_TESTS} more" if len(tests) > EXAMPLE_TESTS else ""),
            example_project=last["project"],
            example_branch=last["branch"],
            example_build=last["build"],
            example_ci_url=last["ci_url"],
            example_run_id=last["run_id"],
        ))
    clusters = pd.DataFrame(rows, columns=CLUSTER_COLUMNS)
    clusters["_shared"] = clusters["tests"] > 1
    clusters = (
        clusters.sort_values(["_shared", "occurrences", "last_seen", "cluster_id"], ascending=[False, False, False, True])
        .drop(columns="_shared")
        .reset_index(drop=True)
    )
    return clusters, members
