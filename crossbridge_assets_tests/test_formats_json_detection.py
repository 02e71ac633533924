"""JSON reports against hostile nesting, and Istanbul reports whose first file outgrows the
detection head.

Deep nesting used to cost memory with the square of the depth (ijson builds a prefix string for
every open level): 400 KB of nested arrays took 23 GB. Every case here runs in a fresh child
process (a high-water mark is per process) under an address-space cap, so that a regression
fails the test rather than the machine."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import ijson
import pytest

from crossbridge_assets.formats import SNIFF_BYTES, FormatError, UnknownFormat, detect, istanbul, read_report, sniff
from crossbridge_assets.formats._common import MAX_JSON_DEPTH, JsonDepthCheck
from crossbridge_assets.formats._coverage import json_head_keys
from crossbridge_assets_tests.conftest import FIXTURES, REPO, corpus_rows

DEPTH_REASON = f"nested deeper than {MAX_JSON_DEPTH} levels"
PEAK_LIMIT_KB = 200 * 1024


def _nest(levels: int, inner: str = "") -> str:
    return "[" * levels + inner + "]" * levels


# ---------------------------------------------------------------------------- hostile nesting

_CHILD = r"""
import json, resource, sys, time
from crossbridge_assets.formats import FormatError, read_report

# 2 GB of address space: the old code needed 23 GB for the 200,000-level file.
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
start = time.perf_counter()
try:
    if sys.argv[1] == "--baseline":
        outcome = {}
    else:
        spec, stream, records = read_report(sys.argv[1])
        outcome = {"format": spec.name, "records": len(records)}
except FormatError as exc:
    outcome = {"error": type(exc).__name__, "path": exc.path, "reason": exc.reason}
except MemoryError:
    outcome = {"error": "MemoryError"}
outcome["seconds"] = time.perf_counter() - start
try:
    # This process's own high-water mark: ru_maxrss also counts the parent's, inherited at exec.
    with open("/proc/self/status") as fh:
        outcome["peak_kb"] = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except OSError:
    outcome["peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(outcome))
"""


def _in_child(arg: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, arg], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _big_statement_map(statements: int) -> str:
    """A statementMap of `statements` entries: well past the detection head from 3,000 on."""
    return json.dumps(
        {
            str(i): {"start": {"line": i + 1, "column": 0}, "end": {"line": i + 1, "column": 12}}
            for i in range(statements)
        }
    )


def _coveragepy_with_totals(totals: str) -> str:
    """The coverage.py JSON fixture with its files repeated past the detection head."""
    report = json.loads((FIXTURES / "coverage" / "python" / "coverage.json").read_text())
    files = list(report["files"].items())
    report["files"] = {f"copy{i}/{name}": entry for i in range(400) for name, entry in files}
    report["totals"] = "__TOTALS__"
    text = json.dumps(report)
    assert len(text) > SNIFF_BYTES and text.index('"totals"') > SNIFF_BYTES
    return text.replace('"__TOTALS__"', totals)


HOSTILE = {
    # The audit's files: nested arrays, alone or where Istanbul's statementMap should be.
    "array-200k": lambda: _nest(200_000),
    "array-10k": lambda: _nest(10_000),
    "object-200k": lambda: '{"a":' * 200_000 + "1" + "}" * 200_000,
    "istanbul-head-200k": lambda: '{"a.js": {"path": "a.js", "statementMap": ' + _nest(200_000) + "}}",
    "istanbul-head-10k": lambda: '{"a.js": {"path": "a.js", "statementMap": ' + _nest(10_000) + "}}",
    # Beyond the head: detection sees a plain Istanbul file, the parser meets the nesting.
    "istanbul-late-200k": lambda: '{"a.js": {"path": "a.js", "statementMap": '
    + _big_statement_map(6_000)
    + ', "fnMap": '
    + _nest(200_000)
    + ', "s": {}}}',
    # coverage.py JSON: the files are streamed first, then the totals are read in a second pass.
    "coveragepy-late-200k": lambda: _coveragepy_with_totals(_nest(200_000)),
    # JSON Lines: detection reads the first line only.
    "events-first-line-200k": lambda: '{"crossbridge_events": 1, "x": ' + _nest(200_000) + '}\n{"kind": "span"}\n',
}


@pytest.fixture(scope="module")
def baseline_kb() -> int:
    return _in_child("--baseline")["peak_kb"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_nesting_is_refused_in_bounded_memory(tmp_path, name, baseline_kb):
    path = tmp_path / f"{name}.json"
    path.write_text(HOSTILE[name]())
    outcome = _in_child(str(path))
    assert outcome.get("error") == "FormatError", outcome
    assert outcome["path"] == str(path)
    assert DEPTH_REASON in outcome["reason"], outcome
    assert outcome["peak_kb"] < PEAK_LIMIT_KB, outcome
    # A few MB over the bare interpreter with the parsers imported, whatever the depth.
    assert outcome["peak_kb"] - baseline_kb < 32 * 1024, (outcome, baseline_kb)
    assert outcome["seconds"] < 10, outcome


def test_refusal_is_the_same_through_detect_and_open(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(_nest(10_000))
    with pytest.raises(FormatError) as err:
        detect(path)
    assert not isinstance(err.value, UnknownFormat)
    assert err.value.path == str(path) and DEPTH_REASON in err.value.reason
    assert str(path) in str(err.value)


def _pytest_report_with(extra: str, first: bool = True) -> str:
    """The pytest-json-report fixture with `extra` as an environment entry: the first value, so
    that detection's head walk and the parser both go through it, or the last one."""
    report = json.loads((FIXTURES / "results" / "pytest-json-report.json").read_text())
    rest = {k: v for k, v in report.items() if k != "environment"}
    environment = {"environment": {"extra": "__EXTRA__"}}
    report = {**environment, **rest} if first else {**rest, **environment}
    return json.dumps(report).replace('"__EXTRA__"', extra)


def test_nesting_at_the_limit_is_read_and_one_more_level_is_refused(tmp_path):
    # root object, environment object, then the arrays: MAX_JSON_DEPTH levels in all.
    at_limit = tmp_path / "at-limit.json"
    at_limit.write_text(_pytest_report_with(_nest(MAX_JSON_DEPTH - 2)))
    spec, _, records = read_report(at_limit)
    assert spec.name == "pytest-json-report" and len(records) == 8

    over = tmp_path / "over-limit.json"
    over.write_text(_pytest_report_with(_nest(MAX_JSON_DEPTH - 1)))
    with pytest.raises(FormatError) as err:
        read_report(over)
    assert err.value.path == str(over) and DEPTH_REASON in err.value.reason

    # Past the detection head the parser refuses it the same way.
    late = tmp_path / "late.json"
    padding = json.dumps({"note": "x" * (SNIFF_BYTES + 1000)})
    late.write_text(_pytest_report_with(padding[:-1] + ', "deep": ' + _nest(MAX_JSON_DEPTH) + "}", first=False))
    assert detect(late).name == "pytest-json-report"
    with pytest.raises(FormatError) as err:
        read_report(late)
    assert err.value.path == str(late) and DEPTH_REASON in err.value.reason


def test_brackets_and_escapes_inside_strings_do_not_count(tmp_path):
    # 5,000 brackets inside strings and keys, escaped quotes and backslashes around them.
    tricky = json.dumps(
        {
            "[" * 2000: "{" * 3000,
            "quote": '\\"' + "[" * 1000 + '\\\\"' + "[" * 1000,
            "backslashes": "\\" * 7 + "[[[",
        }
    )
    path = tmp_path / "tricky.json"
    path.write_text(_pytest_report_with(tricky))
    spec, _, records = read_report(path)
    assert spec.name == "pytest-json-report" and len(records) == 8


def _reference_max_depth(data: bytes) -> int:
    depth = peak = 0
    in_string = escaped = False
    for ch in data.decode():
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            peak = max(peak, depth)
        elif ch in "]}":
            depth -= 1
    return peak


def test_depth_check_agrees_with_a_character_scan_whatever_the_pieces():
    rng = random.Random(20240611)
    strings = ['"a[b"', '"\\\\"', '"\\"["', '"x\\\\\\"{"', '"]}"', '"\\\\\\\\["', '""', '"\\u005b"']

    def value(depth: int, deepest: int) -> str:
        roll = rng.random()
        if depth >= deepest or roll < 0.25:
            return rng.choice(strings + ["1", "null"])
        if roll < 0.6:
            return "[" + ",".join(value(depth + 1, deepest) for _ in range(rng.randint(0, 3))) + "]"
        items = (f"{rng.choice(strings)}:{value(depth + 1, deepest)}" for _ in range(rng.randint(0, 3)))
        return "{" + ",".join(items) + "}"

    for _ in range(400):
        doc = value(0, rng.choice((4, 30, 40))).encode()
        json.loads(doc)  # the generator writes valid JSON
        peak = _reference_max_depth(doc)
        for limit in {max(peak - 1, 0), peak}:
            for piece in (1, 2, 3, 7, 64, len(doc)):
                check = JsonDepthCheck("doc.json", limit)
                try:
                    for i in range(0, len(doc), piece):
                        check.feed(doc[i : i + piece])
                    refused = False
                except FormatError:
                    refused = True
                assert refused == (peak > limit), (doc, peak, limit, piece)


# ---------------------------------------------------------------------------- Istanbul, big first file

_NYC_ORDER = ("path", "statementMap", "fnMap", "branchMap", "s", "f", "b")
_ISTANBUL0_ORDER = ("path", "s", "b", "f", "fnMap", "statementMap", "branchMap")


def _loc(line: int, column: int = 0) -> dict:
    return {"start": {"line": line, "column": column}, "end": {"line": line, "column": column + 15}}


def _istanbul_file(path: str, statements: int, rng: random.Random, order: tuple[str, ...]) -> dict:
    entry = {"path": path, "statementMap": {}, "fnMap": {}, "branchMap": {}, "s": {}, "f": {}, "b": {}}
    for i in range(statements):
        line = 1 + i // 2 + (i // 10) * 3  # two statements a line, and gaps
        entry["statementMap"][str(i)] = _loc(line, (i % 2) * 20)
        entry["s"][str(i)] = rng.choice((0, 0, 1, 4, 37))
    for i in range(statements // 2):
        entry["fnMap"][str(i)] = {"name": f"fn{i}", "decl": _loc(1 + i), "loc": _loc(1 + i), "line": 1 + i}
        entry["f"][str(i)] = rng.choice((0, 1, 2))
    for i in range(statements // 15):
        entry["branchMap"][str(i)] = {"loc": _loc(1 + i * 7), "type": "if", "locations": [_loc(1 + i * 7)] * 2, "line": 1 + i * 7}
        entry["b"][str(i)] = [rng.choice((0, 1)), rng.choice((0, 0, 3))]
    return {key: entry[key] for key in order}


def _expected_totals(entries: list[dict]) -> dict:
    """Counted from the generated data, as the Istanbul reader documents it: lines are the
    statements' start lines (hit if any statement there ran), branches every b[] entry."""
    lines_valid = lines_covered = branches_valid = branches_covered = 0
    for entry in entries:
        hits: dict[int, int] = {}
        for sid, loc in entry["statementMap"].items():
            line = loc["start"]["line"]
            hits[line] = max(hits.get(line, 0), entry["s"][sid])
        lines_valid += len(hits)
        lines_covered += sum(1 for h in hits.values() if h > 0)
        for counts in entry["b"].values():
            branches_valid += len(counts)
            branches_covered += sum(1 for c in counts if c > 0)
    return {
        "files": len(entries),
        "lines_valid": lines_valid,
        "lines_covered": lines_covered,
        "branches_valid": branches_valid,
        "branches_covered": branches_covered,
    }


@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "data-wrapped"])
@pytest.mark.parametrize("order", [_NYC_ORDER, _ISTANBUL0_ORDER], ids=["nyc-order", "istanbul0-order"])
def test_istanbul_with_a_first_file_bigger_than_the_head(tmp_path, order, wrapped):
    rng = random.Random(7)
    entries = [
        _istanbul_file("/repo/src/big.js", 6_000, rng, order),
        _istanbul_file("/repo/src/small.js", 40, rng, order),
    ]
    report = {e["path"]: ({"data": e} if wrapped else e) for e in entries}
    path = tmp_path / "coverage-final.json"
    path.write_text(json.dumps(report))

    # The case of the bug: the first file's maps fill the head, so its counts (or, in the old
    # key order, its statementMap) are not in it.
    keys = json_head_keys(sniff(path).head)[2 if wrapped else 1]
    assert len(json.dumps(entries[0])) > SNIFF_BYTES
    assert not {"statementMap", "s"} <= keys

    spec, stream, records = read_report(path)
    assert spec.name == "istanbul-final"
    assert stream.effective_totals.as_dict() == _expected_totals(entries)
    big = next(fc for fc in records if fc.source_path == "/repo/src/big.js")
    expected_lines: dict[int, int] = {}
    for sid, loc in entries[0]["statementMap"].items():
        line = loc["start"]["line"]
        expected_lines[line] = max(expected_lines.get(line, 0), entries[0]["s"][sid])
    assert big.lines == expected_lines


# ---------------------------------------------------------------------------- every JSON format still detects

_FIXTURE_FORMATS = {
    "coverage/python/coverage.json": "coveragepy-json",
    "coverage/js/coverage-summary.json": "istanbul-summary",
    "coverage/js/coverage-final.json": "istanbul-final",
    "results/pytest-json-report.json": "pytest-json-report",
    "results/js/mocha-json.json": "mocha-json",
    "results/js/playwright.json": "playwright-json",
    "results/js/ctrf.json": "ctrf",
    "results/js/mochawesome.json": "mochawesome",
    "results/js/cucumber.json": "cucumber-json",
}


def _json_reports() -> list:
    reports = [(FIXTURES / rel, fmt) for rel, fmt in _FIXTURE_FORMATS.items()]
    for row in corpus_rows():
        with open(row["path"], "rb") as fh:
            first = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if first in (b"{", b"["):
            broken = "error" in (row["tests"], row["lines_valid"])
            reports.append((row["path"], None if broken else row["format"]))
    return [pytest.param(p, fmt, id=Path(p).name) for p, fmt in reports]


@pytest.mark.parametrize("path,fmt", _json_reports())
def test_every_json_report_detects_and_only_istanbul_is_istanbul(path, fmt):
    s = sniff(Path(path))
    assert istanbul._matches(s) == (fmt == "istanbul-final")
    if fmt is None:  # a malformed report in the corpus: refused, by name
        with pytest.raises(FormatError) as err:
            detect(path)
        assert err.value.path == str(path)
        return
    assert detect(path).name == fmt


@pytest.mark.parametrize("path,fmt", _json_reports())
def test_detection_prefixes_are_ijsons(path, fmt):
    """The detection walk builds ijson's prefixes itself (first levels only): the same ones."""
    s = sniff(Path(path))
    data = s.head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if s.json_type == "jsonl":
        data = data.partition(b"\n")[0]
    prefixes: set[str] = set()
    values: dict[str, object] = {}
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(data)):
            if prefix.count(".") <= 3:
                prefixes.add(prefix)
                if event in ("string", "number", "boolean"):
                    values.setdefault(prefix, value)
    except ijson.JSONError:
        pass
    assert s.json_prefixes == prefixes
    assert s.json_values == values


# ---------------------------------------------------------------------------- event files


def test_events_line_nested_too_deep_is_a_format_error(tmp_path):
    path = tmp_path / "events.jsonl"
    # JSON Lines (the second line is an object): detection reads the header line only.
    path.write_text('{"crossbridge_events": 1, "run": "r"}\n{"a": ' + _nest(5_000) + "}\n{}\n")
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path)


# ---------------------------------------------------------------------------- byte order mark


@pytest.mark.parametrize("rel,fmt", [pytest.param(rel, fmt, id=fmt) for rel, fmt in _FIXTURE_FORMATS.items()])
def test_a_utf8_byte_order_mark_changes_nothing(tmp_path, rel, fmt):
    """PowerShell's Out-File and .NET writers put a UTF-8 BOM first: the report reads the same."""
    plain = FIXTURES / rel
    marked = tmp_path / plain.name
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    spec, stream, records = read_report(marked)
    _, plain_stream, plain_records = read_report(plain)
    assert spec.name == fmt
    assert records == plain_records
    totals = getattr(stream, "effective_totals", stream.totals)  # a summary's totals are declared
    assert totals == getattr(plain_stream, "effective_totals", plain_stream.totals)
    assert any(totals.as_dict().values())
    assert stream.info.declared == plain_stream.info.declared
    assert stream.info.warnings == plain_stream.info.warnings
