"""Test-results parsing benchmark: JUnit XML into the canonical model.

    python -m benchmarks.results_bench            # full run (200,000 testcases, ~50 MB and ~500 MB RSS files)
    python -m benchmarks.results_bench --quick    # smoke run on small files

Every figure is a ratio against a floor measured in the same run on the same machine, so the
targets hold (or not) independently of how fast the machine is:

- parse + normalize (`formats.open_report`, iterated fully) vs a bare `lxml.etree.iterparse`
  walk over the same file: at most 2.0x;
- `junitparser` extracting the same fields vs ours: ours at least 2.5x faster;
- peak RSS of our parse in a fresh interpreter, for a ~50 MB and a ~500 MB file: at most
  150 MB, and flat (the bigger file may not need noticeably more memory).

Then, for scale, the JSON result readers: peak RSS for a ~10 MB and a ~100 MB report of each
format, made by repeating a fixture a real tool wrote (crossbridge_assets_tests/large_json.py).

Generated files are cached in benchmarks/.data/ (git-ignored). The exit code is 0 whatever the
figures: benchmarks report, they do not gate CI.
"""

import argparse
import gc
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from benchmarks._table import print_table

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / ".data"
SEED = 20240611
# Bump when the generator's output changes, so cached files are rebuilt.
GENERATOR_VERSION = 1
MB = 1024 * 1024

TARGET_FLOOR_RATIO = 2.0
TARGET_JUNITPARSER_SPEEDUP = 2.5
TARGET_PEAK_MB = 150.0
# "Not growing with file size": 10x the bytes may cost at most this factor in peak RSS.
TARGET_RSS_GROWTH = 1.2

# ---------------------------------------------------------------------------- data generation

_AREAS = [
    "billing", "checkout", "inventory", "search", "auth", "payments", "shipping", "catalog",
    "notifications", "reporting", "pricing", "accounts", "orders", "recommendations", "gateway",
]
_LAYERS = ["service", "api", "repository", "domain", "web", "integration", "client", "events"]
_NOUNS = [
    "Invoice", "Order", "Cart", "Customer", "Payment", "Shipment", "Product", "Price", "Tax",
    "Discount", "Session", "Token", "Account", "Refund", "Coupon", "Warehouse", "Address",
    "Subscription", "Ledger", "Webhook", "Currency", "Basket", "Voucher", "Catalog", "Stock",
]
_ROLES = ["Service", "Controller", "Repository", "Validator", "Mapper", "Client", "Handler", "Calculator", "Resolver"]
_VERBS = [
    "reject", "accept", "compute", "apply", "persist", "load", "refund", "cancel", "retry", "merge",
    "split", "validate", "serialize", "publish", "expire", "round", "convert", "reserve", "release", "notify",
]
_OBJECTS = [
    "total", "expired token", "negative amount", "empty cart", "duplicate order", "partial refund",
    "missing address", "zero tax", "foreign currency", "bulk discount", "stale price", "locked account",
    "late shipment", "invalid coupon", "rounding error", "large basket", "unicode name", "null customer",
]
_CONDITIONS = [
    "", "", "", " when clock is skewed", " when database is down", " for guest user", " twice",
    " after timeout", " with retries", " in parallel", " on leap day", " for premium tier",
]
_PARAMS = ["1-2", "EUR", "USD-rounding", "empty", "None", "0.1-0.2", "emoji-\u2603", "big", "neg-1", "case-3"]
_HOSTS = ["ci-runner-01", "ci-runner-02", "build-agent-7", "gha-ubuntu-22", "jenkins-linux-3"]

_JAVA_FRAMES = [
    "org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)",
    "org.junit.jupiter.api.AssertionUtils.failNotEqual(AssertionUtils.java:62)",
    "org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:182)",
    "org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:1135)",
    "java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
    "java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke(NativeMethodAccessorImpl.java:77)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:568)",
    "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:727)",
    "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
    "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)",
    "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:217)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:151)",
    "org.junit.platform.engine.support.hierarchical.ThrowableCollector.execute(ThrowableCollector.java:73)",
    "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invoke(JUnitPlatformProvider.java:150)",
    "org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)",
    "org.springframework.test.context.junit.jupiter.SpringExtension.postProcessTestInstance(SpringExtension.java:137)",
    "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
]
_JAVA_ERRORS = [
    ("org.opentest4j.AssertionFailedError", "expected: <{a}> but was: <{b}>"),
    ("java.lang.AssertionError", "Expected status 200 but was {b}"),
    ("java.lang.NullPointerException", 'Cannot invoke "String.length()" because "name" is null'),
    ("java.lang.IllegalStateException", "Connection pool exhausted after {a} ms"),
    ("org.mockito.exceptions.verification.WantedButNotInvoked", "Wanted but not invoked: repository.save(<any>)"),
]
_PY_ERRORS = [
    ("AssertionError", "assert {b} == {a}"),
    ("KeyError", "'{noun}_id'"),
    ("TimeoutError", "request to http://localhost:8080/api/{area} timed out after {a}s"),
    ("ValueError", "invalid literal for int() with base 10: '{noun}'"),
]


def _snake(words: str) -> str:
    return "_".join(words.split())


def _camel(words: str) -> str:
    parts = words.split()
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _attr(value: str) -> str:
    return quoteattr(value)


class _Generator:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.suite_no = 0

    def _java_trace(self, cls: str, method: str) -> tuple[str, str, str]:
        r = self.r
        etype, template = r.choice(_JAVA_ERRORS)
        message = template.format(a=r.randint(1, 999), b=r.randint(1, 999))
        frames = r.sample(_JAVA_FRAMES, r.randint(10, 17))
        frames.insert(4, f"{cls}.{method}({cls.rsplit('.', 1)[-1]}.java:{r.randint(20, 900)})")
        body = f"{etype}: {message}\n" + "".join(f"\tat {f}\n" for f in frames)
        if r.random() < 0.3:
            body += f"Caused by: java.net.SocketTimeoutException: Read timed out\n\tat {r.choice(_JAVA_FRAMES)}\n\t... {r.randint(10, 60)} more\n"
        return etype, message, body

    def _python_trace(self, module: str, cls: str, method: str, area: str, noun: str) -> tuple[str, str, str]:
        r = self.r
        etype, template = r.choice(_PY_ERRORS)
        message = template.format(a=r.randint(1, 999), b=r.randint(1, 999), noun=noun.lower(), area=area)
        path = module.replace(".", "/") + ".py"
        lines = [f"self = <{module}.{cls} object at 0x7f{r.randrange(16**10):010x}>", ""]
        for _ in range(r.randint(2, 5)):
            lines += [
                f"    def {method}(self):",
                f"        {noun.lower()} = make_{noun.lower()}(amount={r.randint(1, 500)})",
                f"        result = self.{area}.{r.choice(_VERBS)}({noun.lower()})",
                f">       assert result.total == {r.randint(1, 999)}",
                f"E       {etype}: {message}",
                "",
                f"{path}:{r.randint(10, 400)}: {etype}",
            ]
        return etype, message, "\n".join(lines) + "\n"

    def _output(self, area: str) -> str:
        r = self.r
        n = r.randint(2, 8)
        return "".join(
            f"2024-06-11 10:{r.randint(0, 59):02d}:{r.randint(0, 59):02d},{r.randint(0, 999):03d} "
            f"{r.choice(['INFO', 'DEBUG', 'WARN'])} [{area}] {r.choice(_VERBS)} {r.choice(_OBJECTS)} id={r.randint(1, 10**6)}\n"
            for _ in range(n)
        )

    def suite(self, limit: int) -> tuple[str, int]:
        """One <testsuite> (a test class) with at most `limit` testcases: (xml text, testcases)."""
        r = self.r
        self.suite_no += 1
        area, layer, noun = r.choice(_AREAS), r.choice(_LAYERS), r.choice(_NOUNS)
        java = r.random() < 0.55
        if java:
            cls = f"com.acme.{area}.{layer}.{noun}{r.choice(_ROLES)}{'IT' if layer == 'integration' else 'Test'}"
            module = None
        else:
            module = f"tests.{r.choice(['unit', 'integration', 'api'])}.{area}.test_{noun.lower()}_{layer}"
            cls = f"Test{noun}{r.choice(_ROLES)}"
        classname = cls if java else f"{module}.{cls}"
        count = min(limit, r.randint(5, 40))
        cases = []
        fails = errors = skipped = 0
        total = 0.0
        for _ in range(count):
            words = f"{r.choice(_VERBS)} {r.choice(_OBJECTS)}{r.choice(_CONDITIONS)}"
            name = ("should " + words) if java else words
            name = _camel(name) if java else "test_" + _snake(name)
            if not java and r.random() < 0.2:
                name += f"[{r.choice(_PARAMS)}]"
            t = round(r.expovariate(1 / 0.08), 3)
            total += t
            head = f"    <testcase name={_attr(name)} classname={_attr(classname)} time=\"{t:.3f}\""
            x = r.random()
            children = []
            if x < 0.055:
                kind = "failure" if x < 0.05 else "error"
                if java:
                    etype, message, body = self._java_trace(cls, name)
                else:
                    etype, message, body = self._python_trace(module, cls, name, area, noun)
                children.append(f"      <{kind} message={_attr(message)} type={_attr(etype)}>{escape(body)}</{kind}>\n")
                if kind == "failure":
                    fails += 1
                else:
                    errors += 1
            elif x < 0.075:
                children.append(f"      <skipped message={_attr('disabled until ' + r.choice(_AREAS) + ' migration')}/>\n")
                skipped += 1
            if r.random() < 0.2:
                children.append(f"      <system-out>{escape(self._output(area))}</system-out>\n")
            if children:
                cases.append(head + ">\n" + "".join(children) + "    </testcase>\n")
            else:
                cases.append(head + "/>\n")
        suite_name = classname
        header = (
            f"  <testsuite name={_attr(suite_name)} tests=\"{count}\" failures=\"{fails}\" errors=\"{errors}\" "
            f"skipped=\"{skipped}\" time=\"{total:.3f}\" timestamp=\"2024-06-11T10:{self.suite_no // 60 % 60:02d}:{self.suite_no % 60:02d}\" "
            f"hostname=\"{r.choice(_HOSTS)}\">\n"
        )
        return header + "".join(cases) + "  </testsuite>\n", count


def generate(path: Path, *, cases: int | None = None, size: int | None = None, seed: int = SEED) -> Path:
    """Write a deterministic JUnit XML file with `cases` testcases or about `size` bytes (cached)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.part")
    gen = _Generator(seed)
    written = n = 0
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        head = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="crossbridge-benchmark">\n'
        fh.write(head)
        written += len(head)
        while (cases is not None and n < cases) or (size is not None and written < size):
            text, count = gen.suite(cases - n if cases is not None else 10**9)
            fh.write(text)
            written += len(text.encode("utf-8")) if not text.isascii() else len(text)
            n += count
        fh.write("</testsuites>\n")
    os.replace(tmp, path)  # other runs may share the cache: never expose a half-written file
    return path


def data_file(cases: int | None = None, size_mb: int | None = None) -> Path:
    stem = f"junit-{cases}cases" if cases is not None else f"junit-{size_mb}mb"
    path = DATA / f"{stem}-seed{SEED}-v{GENERATOR_VERSION}.xml"
    if not path.exists():
        t = time.perf_counter()
        print(f"generating {path.name} ...", flush=True)
        generate(path, cases=cases, size=size_mb * MB if size_mb else None)
        print(f"  {path.stat().st_size / MB:.1f} MB in {time.perf_counter() - t:.1f} s", flush=True)
    return path


# ---------------------------------------------------------------------------- measured work


def bare_walk(path: Path) -> int:
    """The floor: lxml builds every element, the loop reads nothing and frees each testcase."""
    from lxml import etree

    n = 0
    for _event, elem in etree.iterparse(str(path), events=("end",), tag="testcase"):
        elem.clear(keep_tail=False)
        n += 1
    return n


def model_floor(path: Path) -> int:
    """The least a reader that yields our canonical records can do: the floor's walk, plus the
    three attributes of each testcase read and one TestCase with one Attempt built from them
    (no children, no normalizing, no checks)."""
    from lxml import etree

    from crossbridge_assets.model import PASSED, Attempt, TestCase

    n = 0
    for _event, elem in etree.iterparse(str(path), events=("end",), tag="testcase"):
        get = elem.attrib.get
        name, classname, seconds = get("name"), get("classname"), get("time")
        duration = float(seconds) if seconds else None
        TestCase("junit", classname, name, None, PASSED, duration, [Attempt(PASSED, duration)], {}, [], None, None)
        elem.clear(keep_tail=False)
        n += 1
    return n


def ours(path: Path) -> int:
    from crossbridge_assets.formats import open_report

    n = 0
    for _case in open_report(path):
        n += 1
    return n


def with_junitparser(path: Path) -> int:
    """The same fields through junitparser: name, classname, time, status, message."""
    from junitparser import JUnitXml, TestSuite

    xml = JUnitXml.fromfile(str(path))
    suites = [xml] if isinstance(xml, TestSuite) else xml
    n = 0
    for suite in suites:
        for case in suite:
            results = case.result
            if results:
                status, message = type(results[0]).__name__.lower(), results[0].message
            else:
                status, message = "passed", None
            _row = (case.name, case.classname, case.time, status, message)
            n += 1
    return n


def best_of(fn, path: Path, repeat: int) -> tuple[float, int]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = fn(path)
        best = min(best, time.perf_counter() - t)
    return best, result


_CHILD = """
import json, resource, sys, time
from crossbridge_assets.formats import open_report

def peak_kb():
    # VmHWM is this process image's own high-water mark. ru_maxrss is not enough on Linux: it
    # keeps the parent's peak through fork and exec, so a big parent would hide the child's figure.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

baseline = peak_kb()
t = time.perf_counter()
n = 0
for _case in open_report(sys.argv[1]):
    n += 1
seconds = time.perf_counter() - t
print(json.dumps({"cases": n, "seconds": seconds, "baseline_kb": baseline, "peak_kb": peak_kb()}))
"""


def peak_rss(path: Path) -> dict:
    """Our parse in a fresh interpreter, so nothing this process allocated counts (KiB)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True, cwd=REPO, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report


def _row(measurement: str, seconds: float | None, result: str, target: str, holds: bool | None) -> list[str]:
    return [
        measurement,
        f"{seconds:.3f}" if seconds is not None else "",
        result,
        target,
        "" if holds is None else ("yes" if holds else "NO"),
    ]


TABLE_HEADER = ["measurement", "seconds", "ratio / value", "target", "holds"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.results_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small files: a smoke run, figures are not meaningful")
    ap.add_argument("--repeat", type=int, default=3, help="best of N timings (default 3)")
    args = ap.parse_args(argv)

    if args.quick:
        timing_cases, small_mb, big_mb = 5_000, 2, 10
    else:
        timing_cases, small_mb, big_mb = 200_000, 50, 500

    import lxml

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"results_bench: python {platform.python_version()}, lxml {lxml.__version__}, {os.cpu_count()} CPUs"
        + (f", load {load[0]:.2f}" if load else "")
        + (", QUICK (smoke run)" if args.quick else "")
    )
    timing_file = data_file(cases=timing_cases)
    small, big = data_file(size_mb=small_mb), data_file(size_mb=big_mb)
    size = timing_file.stat().st_size / MB
    print(f"timing file: {timing_file.name} ({size:.1f} MB, {timing_cases:,} testcases), best of {args.repeat}")

    floor_s, floor_n = best_of(bare_walk, timing_file, args.repeat)
    model_s, _ = best_of(model_floor, timing_file, args.repeat)
    ours_s, ours_n = best_of(ours, timing_file, args.repeat)
    jp_s, jp_n = best_of(with_junitparser, timing_file, args.repeat)
    if not floor_n == ours_n == jp_n:
        print(f"WARNING: testcase counts differ: bare {floor_n}, ours {ours_n}, junitparser {jp_n}")

    rss_small, rss_big = peak_rss(small), peak_rss(big)
    small_peak, big_peak = rss_small["peak_kb"] / 1024, rss_big["peak_kb"] / 1024
    growth = big_peak / small_peak

    rows = [
        _row("bare lxml iterparse walk (floor)", floor_s, "1.00x", "", None),
        _row("floor + 3 attributes + TestCase/Attempt", model_s, f"{model_s / floor_s:.2f}x floor", "(for scale)", None),
        _row("ours: open_report -> TestCase", ours_s, f"{ours_s / floor_s:.2f}x floor",
             f"<= {TARGET_FLOOR_RATIO:.1f}x floor", ours_s / floor_s <= TARGET_FLOOR_RATIO),
        _row("junitparser, same fields", jp_s, f"ours {jp_s / ours_s:.2f}x faster",
             f">= {TARGET_JUNITPARSER_SPEEDUP:.1f}x faster", jp_s / ours_s >= TARGET_JUNITPARSER_SPEEDUP),
        _row(f"peak RSS, {small.stat().st_size / MB:.0f} MB file ({rss_small['cases']:,} cases)", rss_small["seconds"],
             f"{small_peak:.1f} MB", f"<= {TARGET_PEAK_MB:.0f} MB", small_peak <= TARGET_PEAK_MB),
        _row(f"peak RSS, {big.stat().st_size / MB:.0f} MB file ({rss_big['cases']:,} cases)", rss_big["seconds"],
             f"{big_peak:.1f} MB", f"<= {TARGET_PEAK_MB:.0f} MB", big_peak <= TARGET_PEAK_MB),
        _row("peak RSS growth, big / small file", None, f"{growth:.2f}x",
             f"<= {TARGET_RSS_GROWTH:.1f}x (flat)", growth <= TARGET_RSS_GROWTH),
    ]
    print_table(TABLE_HEADER, rows)
    print(
        f"throughput: ours {size / ours_s:.1f} MB/s ({ours_n / ours_s:,.0f} testcases/s); "
        f"interpreter + imports before parsing: {rss_small['baseline_kb'] / 1024:.1f} MB"
    )
    json_memory(*((1, 5) if args.quick else (10, 100)))
    if args.quick:
        print("quick run: the files are small, so the figures only show that the benchmark works")
    return 0


def json_memory(small_mb: int, big_mb: int, kind: str = "results") -> None:
    """Peak RSS of each JSON reader of `kind` on a small and a 10x bigger report, each in a fresh
    interpreter. Not an issue target: shown so that a reader holding its report stands out."""
    from crossbridge_assets_tests.large_json import SHAPES, write

    print(f"\nJSON {kind} readers, peak RSS above the interpreter's, each in a fresh process")
    print(f"  {'format':<18} {f'{small_mb} MB':>8} {f'{big_mb} MB':>8}  {f'{big_mb} MB read in':>14}")
    for name, shape in SHAPES.items():
        if shape.kind != kind:
            continue
        figures = []
        for mb in (small_mb, big_mb):
            path = DATA / f"{name}-{mb}mb-v{GENERATOR_VERSION}.json"
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                DATA.mkdir(parents=True, exist_ok=True)
                write(name, tmp, size=mb * MB)
                os.replace(tmp, path)
            figures.append(peak_rss(path))
        small, big = ((f["peak_kb"] - f["baseline_kb"]) / 1024 for f in figures)
        print(f"  {name:<18} {small:>5.0f} MB {big:>5.0f} MB  {figures[1]['seconds']:>12.2f} s")


if __name__ == "__main__":
    sys.exit(main())
