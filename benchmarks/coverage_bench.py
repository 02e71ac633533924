"""Coverage parser benchmark: `python -m benchmarks.coverage_bench [--lines N] [--repeat R]`.

Generates JaCoCo, Cobertura and LCOV reports of about N measured lines each (default 500,000)
into benchmarks/.data/ (git-ignored, reused when present) and prints, in one run:

- parse time into canonical FileCoverage records against a bare `lxml.etree.iterparse` walk of
  the same file (tag filter, elements cleared) or, for LCOV, a plain line scan (target <= 2x);
- Cobertura against pycobertura computing per-line statuses of every file (target: at least
  as fast), with the peak RSS of each, measured in a child process, for two report sizes (ours
  stays flat, pycobertura holds the whole tree);
- a coverage.py data file with 2,000 dynamic contexts read into records and the per-test map
  against a plain CoverageData query loop (target <= 1.2x);
- for scale, the peak RSS of the JSON coverage readers on a ~10 MB and a ~100 MB report.

Timings are the best of R runs. Nothing here asserts: the figures are printed with whether each
target holds.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._memory import peak_kib

DATA = Path(__file__).resolve().parent / ".data"
LINES_PER_FILE = 100
FILES_PER_PACKAGE = 50
CONTEXTS = 2_000
FLAT = 1.2  # peak RSS of the bigger Cobertura report over the smaller one's, at most


# ---------------------------------------------------------------------------- generators


def _files(lines: int):
    """(package, file name, [(line, hits, branch covered, branch total)]) in a fixed pseudo-random shape."""
    rng = random.Random(42)
    for f in range(max(1, lines // LINES_PER_FILE)):
        package = f"com/example/p{f // FILES_PER_PACKAGE}"
        rows = []
        for n in range(1, LINES_PER_FILE + 1):
            hits = rng.choice((0, 0, 1, 3, 12))
            if n % 7 == 0:
                total = 2
                covered = min(total, rng.choice((0, 1, 2))) if hits else 0
                rows.append((n, hits, covered, total))
            else:
                rows.append((n, hits, 0, 0))
        yield package, f"File{f}.java", rows



def write_jacoco(path: Path, lines: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                  '<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">\n'
                  '<report name="bench"><sessioninfo id="s" start="1700000000000" dump="1700000001000"/>\n')
        current = None
        for package, name, rows in _files(lines):
            if package != current:
                if current is not None:
                    out.write("</package>\n")
                out.write(f'<package name="{package}">\n')
                current = package
            cls = name[:-5]
            out.write(f'<class name="{package}/{cls}" sourcefilename="{name}">'
                      f'<method name="run" desc="()V" line="1"><counter type="METHOD" missed="0" covered="1"/></method></class>\n')
            out.write(f'<sourcefile name="{name}">\n')
            for n, hits, cov, tot in rows:
                ci, mi = (3, 0) if hits else (0, 3)
                out.write(f'<line nr="{n}" mi="{mi}" ci="{ci}" mb="{tot - cov}" cb="{cov}"/>\n')
            out.write("</sourcefile>\n")
        out.write("</package>\n</report>\n")


def write_cobertura(path: Path, lines: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" ?>\n<coverage version="7.0" timestamp="1700000000000">\n'
                  "<sources><source>/home/runner/work/app/app</source></sources>\n<packages>\n")
        current = None
        for package, name, rows in _files(lines):
            if package != current:
                if current is not None:
                    out.write("</classes></package>\n")
                out.write(f'<package name="{package.replace("/", ".")}"><classes>\n')
                current = package
            out.write(f'<class name="{name[:-5]}" filename="src/{package}/{name}"><methods/><lines>\n')
            for n, hits, cov, tot in rows:
                if tot:
                    pct = int(100 * cov / tot)
                    out.write(f'<line number="{n}" hits="{hits}" branch="true" condition-coverage="{pct}% ({cov}/{tot})"/>\n')
                else:
                    out.write(f'<line number="{n}" hits="{hits}"/>\n')
            out.write("</lines></class>\n")
        out.write("</classes></package>\n</packages>\n</coverage>\n")


def write_lcov(path: Path, lines: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for package, name, rows in _files(lines):
            out.write(f"TN:\nSF:src/{package}/{name}\nFN:1,run\nFNDA:1,run\n")
            for n, hits, cov, tot in rows:
                if tot:
                    out.write(f"BRDA:{n},0,0,{1 if cov >= 1 else ('-' if not hits else 0)}\n")
                    out.write(f"BRDA:{n},0,1,{1 if cov >= 2 else ('-' if not hits else 0)}\n")
            for n, hits, _, _ in rows:
                out.write(f"DA:{n},{hits}\n")
            found = len(rows)
            hit = sum(1 for r in rows if r[1])
            out.write(f"LF:{found}\nLH:{hit}\nend_of_record\n")


def write_coverage_data(path: Path, contexts: int = CONTEXTS) -> None:
    """A coverage.py data file with one dynamic context per test, each running a few files."""
    from coverage import CoverageData

    rng = random.Random(7)
    path.unlink(missing_ok=True)
    data = CoverageData(basename=str(path))
    files = [f"/home/runner/work/app/app/src/pkg/mod{i}.py" for i in range(200)]
    for c in range(contexts):
        data.set_context(f"tests/test_mod{c % 200}.py::test_case_{c}|run")
        chosen = rng.sample(files, 5)
        data.add_lines({f: set(rng.sample(range(1, 300), 40)) for f in chosen})
    data.write()


def ensure_data(lines: int, small: int) -> dict[str, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    paths = {
        "jacoco": DATA / f"jacoco-{lines}.xml",
        "cobertura": DATA / f"cobertura-{lines}.xml",
        "cobertura-small": DATA / f"cobertura-{small}.xml",
        "jacoco-small": DATA / f"jacoco-{small}.xml",
        "lcov": DATA / f"lcov-{lines}.info",
        "lcov-small": DATA / f"lcov-{small}.info",
        "coverage-data": DATA / f"contexts-{CONTEXTS}.coverage",
    }
    makers = {
        "jacoco": lambda p: write_jacoco(p, lines),
        "cobertura": lambda p: write_cobertura(p, lines),
        "cobertura-small": lambda p: write_cobertura(p, small),
        "jacoco-small": lambda p: write_jacoco(p, small),
        "lcov": lambda p: write_lcov(p, lines),
        "lcov-small": lambda p: write_lcov(p, small),
        "coverage-data": write_coverage_data,
    }
    for key, path in paths.items():
        if not path.exists():
            print(f"generating {path.name} ...", flush=True)
            tmp = path.with_name(path.name + ".tmp")
            makers[key](tmp)
            tmp.rename(path)
    return paths


# ---------------------------------------------------------------------------- workloads


def ours(path: Path) -> int:
    from crossbridge_assets.formats import open_report

    stream = open_report(path)
    n = 0
    for fc in stream:
        n += len(fc.lines)
    return n


def bare_iterparse(path: Path, tag: str) -> int:
    from lxml import etree

    n = 0
    for _, elem in etree.iterparse(str(path), events=("end",), tag=tag, resolve_entities=False, no_network=True, load_dtd=False):
        n += 1
        elem.clear()
    return n


def line_scan(path: Path) -> int:
    """Every line read, DA records picked out by their prefix, nothing parsed."""
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.startswith(b"DA:"):
                n += 1
    return n


def da_scan(path: Path) -> int:
    """The least a reader can do to learn anything: each DA record split into two numbers."""
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("DA:"):
                number, _, hits = line[3:].partition(",")
                n += int(number) > 0 and int(hits) >= 0
    return n


def least_lcov(path: Path) -> int:
    """For scale: about the least a reader producing per-file line and branch maps can do, with
    the structure of the generated file taken for granted. The whole file in one read, split
    at end_of_record; per file one orjson call for its DA run and one for its BRDA run, a dict
    of line hits and per-line branch counts. No checks, no paths normalized, no functions, no
    records: what is left of the parse budget after this is all ours has for those."""
    from collections import Counter
    from itertools import compress

    from orjson import loads

    with open(path, "rb") as fh:
        data = fh.read()
    n = 0
    for record in data.split(b"end_of_record\n"):
        first = record.find(b"\nDA:")
        if first < 0:
            continue
        last = record.find(b"\n", record.rfind(b"\nDA:") + 1)
        numbers = loads(b"[" + record[first + 4 : last].replace(b"\nDA:", b",") + b"]")
        pairs = iter(numbers)
        lines = dict(zip(pairs, pairs))
        first = record.find(b"\nBRDA:")
        if first >= 0:
            last = record.find(b"\n", record.rfind(b"\nBRDA:") + 1)
            run = record[first + 6 : last].replace(b",-\n", b",0\n").replace(b",-", b",0")
            numbers = loads(b"[" + run.replace(b"\nBRDA:", b",") + b"]")
            at, taken = numbers[0::4], numbers[3::4]
            valid, covered = Counter(at), Counter(compress(at, taken))
            branches = {line: (covered[line], total) for line, total in valid.items()}
            n += len(branches)
        n += len(lines)
    return n


def pycobertura_statuses(path: Path) -> int:
    from pycobertura import Cobertura

    cob = Cobertura(str(path))
    n = 0
    for filename in cob.files():
        n += len(cob.line_statuses(filename))
    return n


def ours_coverage_data(path: Path) -> int:
    from crossbridge_assets.formats import open_report

    stream = open_report(path)
    n = sum(len(fc.lines) for fc in stream)
    return n + sum(len(lines) for files in (stream.per_test or {}).values() for lines in files.values())


def plain_coverage_data(path: Path) -> int:
    """What any reader has to do: every measured file's lines and its contexts by line."""
    from coverage import CoverageData

    data = CoverageData(basename=str(path))
    data.read()
    n = 0
    for f in data.measured_files():
        n += len(data.lines(f) or ())
        for _line, contexts in data.contexts_by_lineno(f).items():
            n += len(contexts)
    return n


WORKLOADS = {
    "ours": ours,
    "iterparse-line": lambda p: bare_iterparse(p, "line"),
    "line-scan": line_scan,
    "da-scan": da_scan,
    "least-lcov": least_lcov,
    "pycobertura": pycobertura_statuses,
    "ours-coverage-data": ours_coverage_data,
    "plain-coverage-data": plain_coverage_data,
}


def best_time(fn, path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(path)
        best = min(best, time.perf_counter() - started)
    return best


def child(workload: str, path: str) -> None:
    """Run one workload in this fresh process and report its time and peak RSS."""
    # Imports first, so that the RSS baseline (noop) carries the same libraries.
    import lxml.etree  # noqa: F401

    from crossbridge_assets.formats import registry

    registry()  # format modules are imported on first use: a process cost, not a parse cost

    if workload == "pycobertura":
        import pycobertura  # noqa: F401
    started = time.perf_counter()
    if workload != "noop":
        WORKLOADS[workload](Path(path))
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "peak_mib": peak_kib() / 1024}))


def in_child(workload: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.coverage_bench", "--child", workload, str(path)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "holds" if ok else "DOES NOT HOLD"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=500_000, help="measured lines per generated report")
    p.add_argument("--small", type=int, default=100_000, help="the smaller Cobertura size for the RSS comparison")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", nargs=2, metavar=("WORKLOAD", "PATH"), help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="small reports: a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.lines, args.small, args.repeat = 20_000, 5_000, 1
    if args.child:
        child(*args.child)
        return 0

    from crossbridge_assets.formats import registry

    registry()
    paths = ensure_data(args.lines, args.small)
    print(f"\nreports of {args.lines:,} lines ({LINES_PER_FILE} lines a file); best of {args.repeat}\n")
    print(f"{'format':<12} {'ours (s)':>9} {'baseline':<16} {'(s)':>7} {'ratio':>6}  target <= 2x")
    for fmt, base_name, base in (
        ("jacoco", "iterparse <line>", WORKLOADS["iterparse-line"]),
        ("cobertura", "iterparse <line>", WORKLOADS["iterparse-line"]),
        ("lcov", "line scan", WORKLOADS["line-scan"]),
        ("lcov", "DA scan", WORKLOADS["da-scan"]),
    ):
        t_ours = best_time(ours, paths[fmt], args.repeat)
        t_base = best_time(base, paths[fmt], args.repeat)
        ratio = t_ours / t_base
        print(f"{fmt:<12} {t_ours:>9.3f} {base_name:<16} {t_base:>7.3f} {ratio:>5.2f}x  {verdict(ratio <= 2.0)}")

    t_least = best_time(least_lcov, paths["lcov"], args.repeat)
    t_scan = best_time(line_scan, paths["lcov"], args.repeat)
    print(f"{'  for scale':<12} {t_least:>9.3f} {'line scan':<16} {t_scan:>7.3f} {t_least / t_scan:>5.2f}x  "
          "the least LCOV reader (see least_lcov)")
    print("  (line scan: every line read, DA records found by prefix, nothing parsed; "
          "DA scan: the same, each DA split into two integers)")
    print("\nCobertura against pycobertura (per-line statuses of every file), each in a fresh process")
    noop = in_child("noop", paths["cobertura-small"])
    print(f"  (a process with the libraries imported and nothing parsed peaks at {noop['peak_mib']:.0f} MiB)")
    print(f"{'lines':>9} {'ours (s)':>9} {'ours peak MiB':>14} {'pycobertura (s)':>16} {'its peak MiB':>13} {'speed':>7}")
    rows = []
    for key, lines in (("cobertura-small", args.small), ("cobertura", args.lines)):
        mine = in_child("ours", paths[key])
        theirs = in_child("pycobertura", paths[key])
        rows.append((lines, mine, theirs))
        print(f"{lines:>9,} {mine['seconds']:>9.2f} {mine['peak_mib']:>14.0f} {theirs['seconds']:>16.2f} "
              f"{theirs['peak_mib']:>13.0f} {theirs['seconds'] / mine['seconds']:>6.1f}x")
    faster = all(m["seconds"] <= t["seconds"] for _, m, t in rows)
    (_, m_small, t_small), (_, m_big, t_big) = rows
    growth_ours = m_big["peak_mib"] - m_small["peak_mib"]
    growth_theirs = t_big["peak_mib"] - t_small["peak_mib"]
    print(f"  at least as fast as pycobertura: {verdict(faster)}")
    print(f"  peak RSS growth from {args.small:,} to {args.lines:,} lines: ours +{growth_ours:.0f} MiB, "
          f"pycobertura +{growth_theirs:.0f} MiB")
    flat_ours, flat_theirs = m_big["peak_mib"] / m_small["peak_mib"], t_big["peak_mib"] / t_small["peak_mib"]
    print(f"  peak RSS flat (the {args.lines // args.small}x bigger report at most {FLAT}x the peak): "
          f"ours {flat_ours:.2f}x {verdict(flat_ours <= FLAT)}; pycobertura {flat_theirs:.2f}x")
    print("\nour peak RSS in the other formats (MiB), each in a fresh process")
    for fmt in ("jacoco", "lcov"):
        small_peak, big_peak = (in_child("ours", paths[key])["peak_mib"] for key in (f"{fmt}-small", fmt))
        print(f"  {fmt:<10} {args.small:,} lines {small_peak:.0f}, {args.lines:,} lines {big_peak:.0f}: "
              f"{big_peak / small_peak:.2f}x")

    print(f"\ncoverage.py data file with {CONTEXTS:,} dynamic contexts")
    t_ours = best_time(ours_coverage_data, paths["coverage-data"], args.repeat)
    t_plain = best_time(plain_coverage_data, paths["coverage-data"], args.repeat)
    ratio = t_ours / t_plain
    print(f"  records + per-test map {t_ours:.3f}s, plain CoverageData query loop {t_plain:.3f}s: "
          f"{ratio:.2f}x  target <= 1.2x {verdict(ratio <= 1.2)}")
    from benchmarks.results_bench import json_memory

    json_memory(*((1, 5) if args.quick else (10, 100)), kind="coverage")
    return 0


if __name__ == "__main__":
    sys.exit(main())
