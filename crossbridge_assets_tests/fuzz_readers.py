"""Mutation fuzzing of the report readers over real reports.

    PYTHONPATH=. python -m crossbridge_assets_tests.fuzz_readers --seconds 300 [--family xml-results]
        [--seed 1] [--out /tmp/fuzz-findings] [--corpus /work/shared/corpus] [--timeout 10]

The seeds are every report under crossbridge_assets_tests/fixtures/ and, when it exists, the
shared corpus (read in place, never copied). Each seed is detected once and put in a family
(xml-results, xml-coverage, json-results, json-coverage, text-coverage, events, sqlite); a run
takes one family or all of them, and spends --seconds on each.

Each execution mutates one seed (truncation, deleted, duplicated or swapped byte ranges, flipped
bytes, characters that mean something to XML, JSON or LCOV, a BOM, high Unicode, invalid UTF-8,
numbers made huge, negative, fractional, NaN or empty, whole elements and records duplicated,
deep nesting, attribute values emptied), writes it to a temporary file and reads it whole with
``formats.open_report`` in a worker process that has a memory limit and a time limit (a worker
that does not answer in --timeout seconds is killed and the input counted as a hang).

What counts as a finding: any exception other than FormatError, a hang, a MemoryError, or an
accepted report whose values are not sane (a status outside model.STATUSES, a negative or NaN
duration or count, more lines or branches covered than valid, an identity that is not a string).
Each distinct finding (exception type and innermost frame in crossbridge_assets) is written once
to --out with the input that caused it; a summary of executions per family is printed at the end.
Mutations come from random.Random(--seed), so a run is repeatable.

This is a script, not a test module (pytest does not collect it); its findings, minimized, are
regression tests in test_formats_fuzz_regressions.py.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import re
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SKIP_SUFFIXES = {".sh", ".md", ".tsv", ".py", ".js", ".java", ".c", ".h", ".robot", ".feature", ".coveragerc"}
FAMILIES = ("xml-results", "xml-coverage", "json-results", "json-coverage", "text-coverage", "events", "sqlite")


# ------------------------------------------------------------------ sanity of accepted reports


def _finite_nonneg(value, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise AssertionError(f"{what} is {type(value).__name__} {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise AssertionError(f"{what} is {value!r}")
    elif math.isnan(value) or math.isinf(value) or value < 0:
        raise AssertionError(f"{what} is {value!r}")


def check_sane(stream) -> int:
    """Read the whole stream, raising AssertionError for a value no report may give."""
    from crossbridge_assets.formats._coverage import MAX_HITS
    from crossbridge_assets.model import STATUSES, CoverageStream, ResultStream

    n = 0
    if isinstance(stream, ResultStream):
        for case in stream:
            n += 1
            for attr in ("framework", "suite", "name"):
                if not isinstance(getattr(case, attr), str):
                    raise AssertionError(f"{attr} is {getattr(case, attr)!r}")
            if case.parameters is not None and not isinstance(case.parameters, str):
                raise AssertionError(f"parameters is {case.parameters!r}")
            if not isinstance(case.identity, str):
                raise AssertionError("identity is not a string")
            if case.status not in STATUSES:
                raise AssertionError(f"status {case.status!r}")
            _finite_nonneg(case.duration, "duration")
            if case.line is not None and (not isinstance(case.line, int) or case.line < 0):
                raise AssertionError(f"line {case.line!r}")
            if case.file is not None and not isinstance(case.file, str):
                raise AssertionError(f"file {case.file!r}")
            for attempt in case.attempts:
                if attempt.status not in STATUSES:
                    raise AssertionError(f"attempt status {attempt.status!r}")
                for attr in ("message", "failure_type", "stack_trace", "stdout", "stderr"):
                    if getattr(attempt, attr) is not None and not isinstance(getattr(attempt, attr), str):
                        raise AssertionError(f"attempt {attr} is {getattr(attempt, attr)!r}"[:200])
                _finite_nonneg(attempt.duration, "attempt duration")
            for key, value in case.properties.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise AssertionError(f"property {key!r}={value!r}")
            if not all(isinstance(t, str) for t in case.tags):
                raise AssertionError(f"tags {case.tags!r}")
        for key, value in stream.totals.as_dict().items():
            _finite_nonneg(value, f"total {key}")
    elif isinstance(stream, CoverageStream):
        for fc in stream:
            n += 1
            if not isinstance(fc.path, str):
                raise AssertionError(f"path {fc.path!r}")
            # Counts go to BIGINT columns.
            for line, hits in fc.lines.items():
                if not isinstance(line, int) or not isinstance(hits, int) or not 0 <= hits <= MAX_HITS:
                    raise AssertionError(f"line {line!r} hits {hits!r}")
            for line, (cov, tot) in fc.branches.items():
                if not isinstance(cov, int) or not isinstance(tot, int) or not 0 <= cov <= tot <= MAX_HITS:
                    raise AssertionError(f"branches at {line!r}: {cov!r}/{tot!r}")
            for name, line, hits in fc.functions:
                if not isinstance(hits, int) or not 0 <= hits <= MAX_HITS:
                    raise AssertionError(f"function {name!r} hits {hits!r}")
        totals = [("totals", stream.totals), ("effective", stream.effective_totals),
                  *((f"file {k}", v) for k, v in stream.file_totals.items())]
        for what, t in totals:
            for key, value in t.as_dict().items():
                _finite_nonneg(value, f"{what} {key}")
            if t.lines_covered > t.lines_valid or t.branches_covered > t.branches_valid:
                raise AssertionError(f"{what} covers more than valid: {t.as_dict()}")
    else:
        for span in stream:
            n += 1
            _finite_nonneg(span.duration, "span duration")
            if span.duration is None:
                raise AssertionError("span duration None")
            # Kinds the model does not know are kept, with a warning.
            if not isinstance(span.kind, str) or not isinstance(span.name, str):
                raise AssertionError(f"span {span.kind!r} {span.name!r}")
    _finite_nonneg(stream.info.duration, "report duration")
    return n


ACCEPTED, REJECTED = "accepted", "rejected"


def read_one(path: str) -> str:
    """ACCEPTED or REJECTED when the reader behaved; else a finding's signature and traceback."""
    from crossbridge_assets.formats import FormatError, open_report

    fmt = "detect"
    try:
        stream = open_report(path)
        fmt = stream.info.format
        check_sane(stream)
    except FormatError as exc:
        if not exc.reason or path not in str(exc):
            return f"FormatError without reason or path: {exc!r}"
        return REJECTED
    except BaseException as exc:  # noqa: BLE001 - that is what we are looking for
        tb = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in tb if "crossbridge_assets" in f.filename and "fuzz_readers" not in f.filename]
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        kind = "insane" if isinstance(exc, AssertionError) else type(exc).__name__
        detail = str(exc)[:200] if isinstance(exc, AssertionError) else ""
        sig = f"{fmt}: {kind} at {where}" + (f" ({detail.split(' ')[0]})" if detail else "")
        return sig + "\n" + "".join(traceback.format_exception(exc))[-4000:]
    return ACCEPTED


def _worker(conn, mem_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    while True:
        path = conn.recv()
        if path is None:
            return
        conn.send(read_one(path))


class Runner:
    """A worker process that reads one file at a time, killed and replaced when it hangs."""

    def __init__(self, timeout: float, mem_bytes: int):
        self.timeout, self.mem_bytes = timeout, mem_bytes
        self.ctx = mp.get_context("fork")
        self.proc = None

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.mem_bytes), daemon=True)
        self.proc.start()

    def run(self, path: str) -> str:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(path)
        if self.conn.poll(self.timeout):
            try:
                return self.conn.recv()
            except EOFError:
                self.proc = None
                return "worker died (crash or memory)"
        self.proc.kill()
        self.proc.join()
        self.proc = None
        return f"hang (no answer in {self.timeout:g}s)"

    def close(self) -> None:
        if self.proc is not None:
            self.conn.send(None)
            self.proc.join(5)


# ------------------------------------------------------------------ mutations

SPECIAL = [b"<", b">", b"&", b'"', b"'", b":", b",", b"{", b"}", b"[", b"]", b"\n", b"\r", b"\0",
           b"\xef\xbb\xbf", "\U0001F600".encode(), "\uffff".encode(), b"\xff", b"\xc3", b"\xed\xa0\x80",
           b"&amp;", b"&#0;", b"&#xD800;", b"]]>", b"<!--", b"-->", b"<![CDATA[", b"\\", b'\\u0000', b'\\ud800',
           b"end_of_record\n", b"SF:", b"DA:1,", b"BRDA:1,0,0,", b"null", b"true", b"[]", b"{}", b'""']
NUMBERS = [b"99999999999999999999999999", b"-1", b"-7", b"1e308", b"1e999", b"-1e999", b"NaN", b"nan", b"",
           b"0.5", b"-0", b"Infinity", b"1,5", b"0x10", b"1e-999", b"18446744073709551616", b"9" * 400]
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_ATTR = re.compile(rb"""=\s*("[^"]*"|'[^']*')""")
_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)[\s>/]")
_JSON_VALUE = re.compile(rb'(?<=:)\s*(?:"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)')
TYPES = [b"null", b"true", b"[]", b"{}", b'""', b'"x"', b"0", b"-1", b"1.5", b'[{"a": 1}]', b'{"": null}', b"[null]"]


def _matching(data: bytes, start: int, open_b: int, close_b: int) -> int | None:
    depth, in_str, esc = 0, False, False
    for i in range(start, min(len(data), start + 200_000)):
        c = data[i]
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == open_b:
            depth += 1
        elif c == close_b:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def dup_element(rng: random.Random, data: bytes) -> bytes:
    tags = list(_TAG.finditer(data))
    if tags:
        m = rng.choice(tags)
        name = m.group(1)
        end = data.find(b"</" + name + b">", m.end())
        if end != -1:
            end += len(name) + 3
            return data[:end] + data[m.start():end] + data[end:]
    opens = [m.start() for m in re.finditer(rb"\{", data)]
    if opens:
        s = rng.choice(opens)
        e = _matching(data, s, 0x7B, 0x7D)
        if e:
            return data[:e] + b"," + data[s:e] + data[e:]
    lines = data.splitlines(keepends=True)
    if lines:
        i = rng.randrange(len(lines))
        j = min(len(lines), i + rng.randint(1, 20))
        return b"".join(lines[:j] + lines[i:j] + lines[j:])
    return data


def deep_nest(rng: random.Random, data: bytes) -> bytes:
    pos = rng.randrange(len(data) + 1)
    n = rng.choice([50, 500, 5000, 100_000])
    kind = rng.randrange(4)
    if kind == 0:
        piece = b"<a>" * n + b"</a>" * n
    elif kind == 1:
        piece = b"[" * n + b"]" * n
    elif kind == 2:
        piece = b'{"a":' * n + b"1" + b"}" * n
    else:
        piece = b"[" * n  # unclosed
    return data[:pos] + piece + data[pos:]


def mutate(rng: random.Random, data: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return rng.choice(SPECIAL)
    op = rng.randrange(13)
    a = rng.randrange(n)
    b = min(n, a + rng.choice([1, 2, 8, 64, 512, 4096]))
    if op == 0:
        return data[: rng.randrange(n)]
    if op == 1:
        return data[:a] + data[b:]
    if op == 2:
        return data[:b] + data[a:b] + data[b:]
    if op == 3:
        c = rng.randrange(n)
        d = min(n, c + (b - a))
        if c >= b:
            return data[:a] + data[c:d] + data[b:c] + data[a:b] + data[d:]
        return data[:a] + data[a:b][::-1] + data[b:]
    if op == 4:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return bytes(out)
    if op in (5, 6):
        return data[:a] + rng.choice(SPECIAL) + data[a:]
    if op == 7:
        nums = list(_NUMBER.finditer(data))
        if nums:
            for m in rng.sample(nums, min(len(nums), rng.randint(1, 3))):
                rep = rng.choice(NUMBERS)
                data = data[: m.start()] + rep + data[m.end():] if len(data) >= m.end() else data
            return data
        return data[:a] + rng.choice(NUMBERS) + data[a:]
    if op == 8:
        return dup_element(rng, data)
    if op == 9:
        return deep_nest(rng, data)
    if op == 10:
        attrs = list(_ATTR.finditer(data))
        if attrs:
            m = rng.choice(attrs)
            q = m.group(1)[:1]
            return data[: m.start(1)] + q + q + data[m.end(1):]
        return data[:a] + data[a + 1:]
    if op == 12:  # a JSON value of another type (a string where a number goes, null, [], {})
        values = list(_JSON_VALUE.finditer(data, 0, 2_000_000))
        if values:
            for m in rng.sample(values, min(len(values), rng.randint(1, 4))):
                if m.end() <= len(data):
                    data = data[: m.start()] + rng.choice(TYPES) + data[m.end():]
            return data
    if rng.random() < 0.5:
        return b"\xef\xbb\xbf" + data
    return data[:a] + b"\xef\xbb\xbf" + data[a:]


# ------------------------------------------------------------------ seeds and the loop


def family_of(spec) -> str:
    name = spec.name
    if name == "crossbridge-events":
        return "events"
    if spec.kind == "coverage":
        if name == "coveragepy-data":
            return "sqlite"
        if name == "lcov":
            return "text-coverage"
        return "json-coverage" if name in ("istanbul-final", "istanbul-summary", "coveragepy-json") else "xml-coverage"
    return "json-results" if name in ("mocha-json", "mochawesome", "playwright-json", "pytest-json-report", "ctrf",
                                      "cucumber-json") else "xml-results"


def events_seed(directory: Path) -> Path:
    """A profiling events file written by the hooks' own writer (no fixture holds one)."""
    from crossbridge_assets.hooks.events import EventWriter

    w = EventWriter(directory, framework="pytest", env={}, run="fuzz", metadata={"project": "shop"})
    t0 = 1_700_000_000.0
    parent = w.span("test", "tests/test_a.py::test_x[1-2]", t0, 0.25, status="passed", test="abc",
                    attributes={"nodeid": "tests/test_a.py::test_x[1-2]", "retries": 2})
    for i in range(3):
        w.span("http", f"GET example.org/users/{i}", t0 + 0.1 * i, 0.01, status="404", test="abc",
               parent_id=parent, attributes={"status_code": 404, "bytes": 1.5e3})
    w.span("step", "Given \u00e9t\u00e9 \U0001F600", t0 + 0.2, 0.0, status="failed", test="abc", parent_id=parent)
    return w.close("failed")


def seeds(corpus: Path | None, scratch: Path | None = None) -> dict[str, list[Path]]:
    from crossbridge_assets.formats import FormatError, detect

    roots = [FIXTURES] + ([corpus] if corpus and corpus.is_dir() else [])
    if scratch is not None:
        roots.append(events_seed(scratch))
    out: dict[str, list[Path]] = {f: [] for f in FAMILIES}
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if not path.is_file() or path.suffix in SKIP_SUFFIXES or path.stat().st_size > 4_000_000:
                continue
            try:
                out.setdefault(family_of(detect(path)), []).append(path)
            except FormatError:
                continue
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60, help="time spent on each family")
    ap.add_argument("--family", choices=FAMILIES, action="append", help="default: every family")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "crossbridge-fuzz-findings")
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("CROSSBRIDGE_SHARED", "/work/shared")) / "corpus")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one read may take")
    ap.add_argument("--memory-mb", type=int, default=1536)
    args = ap.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    runner = Runner(args.timeout, args.memory_mb << 20)
    execs: Counter[str] = Counter()
    found: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    try:
        with tempfile.TemporaryDirectory(prefix="crossbridge-fuzz-") as tmp:
            (Path(tmp) / "seeds").mkdir()
            by_family = seeds(args.corpus, Path(tmp) / "seeds")
            for family in args.family or FAMILIES:
                files = by_family.get(family) or []
                if not files:
                    continue
                datas = [(p, p.read_bytes()) for p in files]
                print(f"{family}: {len(files)} seeds", flush=True)
                for seed_path, data in datas:  # the seeds themselves first
                    result = runner.run(str(seed_path))
                    if result not in (ACCEPTED, REJECTED):
                        print(f"  SEED {seed_path}: {result.splitlines()[0]}", flush=True)
                deadline = time.monotonic() + args.seconds
                while time.monotonic() < deadline:
                    seed_path, data = rng.choice(datas)
                    for _ in range(rng.choice([1, 1, 1, 2, 3])):
                        data = mutate(rng, data)
                    target = Path(tmp) / f"input{seed_path.suffix}"
                    target.write_bytes(data)
                    result = runner.run(str(target))
                    execs[family] += 1
                    if result in (ACCEPTED, REJECTED):
                        outcomes[family, result] += 1
                        continue
                    sig = result.split("\n", 1)[0]
                    found[sig] += 1
                    if found[sig] == 1:
                        stem = re.sub(r"[^\w.-]+", "_", sig)[:120]
                        (args.out / f"{family}--{stem}{seed_path.suffix}").write_bytes(data)
                        (args.out / f"{family}--{stem}.txt").write_text(f"seed: {seed_path}\n{result}\n")
                        print(f"  NEW {sig}  (seed {seed_path.name})", flush=True)
    finally:
        runner.close()
    for family, n in execs.items():
        print(f"{family}: {n} executions ({outcomes[family, ACCEPTED]} accepted, "
              f"{outcomes[family, REJECTED]} rejected with a FormatError)")
    for sig, n in found.most_common():
        print(f"{n:6d}  {sig}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
