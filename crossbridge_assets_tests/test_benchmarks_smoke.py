"""The benchmarks still run (speed itself is measured by the benchmarks, never asserted here)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quick(module: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--quick", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_results_bench_quick_prints_the_ratio_table():
    out = quick("results_bench")
    for heading in ("measurement", "seconds", "ratio / value", "target", "holds"):
        assert heading in out, out
    for row in (
        "bare lxml iterparse walk (floor)",
        "ours: open_report -> TestCase",
        "junitparser, same fields",
        "peak RSS",
        "peak RSS growth",
    ):
        assert row in out, out
    assert "WARNING" not in out, out  # every reader saw the same number of testcases
    json_rows = out.split("JSON results readers", 1)[1]
    for fmt in ("playwright-json", "mocha-json", "mochawesome", "cucumber-json", "pytest-json", "ctrf"):
        assert f"  {fmt} " in json_rows, out


def test_coverage_bench_quick_prints_every_comparison():
    out = quick("coverage_bench")
    for fmt in ("jacoco", "cobertura", "lcov"):
        assert f"\n{fmt} " in out, out
    for row in ("line scan", "DA scan", "pycobertura", "peak RSS growth", "dynamic contexts"):
        assert row in out, out
    assert out.count("x  ") >= 4, out  # a ratio on every parser row
    json_rows = out.split("JSON coverage readers", 1)[1]
    for fmt in ("istanbul-final", "istanbul-summary", "coveragepy-json"):
        assert f"  {fmt} " in json_rows, out


def test_profiling_bench_quick_ingests_every_span():
    # Delivery into a real influxd is covered by test_profiling_influx; here the ingest part.
    out = quick("profiling_bench", "--no-influx")
    assert "bare json.loads loop" in out and "parse into Span records" in out, out
    assert "20,000 spans queued" in out, out


def test_hooks_bench_quick_prints_the_overhead_of_each_hook():
    out = quick("hooks_bench")
    for row in ("pytest, trivial tests: hooks off (floor)", "pytest, trivial tests: hooks on",
                "pytest, 3 HTTP calls a test: hooks on", "robot, keywords: hooks on"):
        assert row in out, out
    assert out.count("% CPU") == 3 and out.count("x  ") >= 6, out  # an overhead and ratios on every row
    assert "WARNING" not in out, out  # every profiled run wrote every span
