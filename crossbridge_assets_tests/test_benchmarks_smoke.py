"""The results benchmark still runs (speed itself is measured by the benchmark, never asserted here)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_results_bench_quick_prints_the_ratio_table():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.results_bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
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
