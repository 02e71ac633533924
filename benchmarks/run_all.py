"""Run every benchmark module beside this one (`*_bench.py`), each in its own interpreter.

    python -m benchmarks.run_all            # full runs
    python -m benchmarks.run_all --quick    # smoke runs (arguments are passed to every benchmark)

A separate interpreter per benchmark keeps one benchmark's imports and memory out of another's
figures. Benchmarks report; a target that does not hold never fails the run. The exit code is
non-zero only when a benchmark crashed.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*_bench.py"))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = modules()
    if not names:
        print("no *_bench.py modules found in", HERE)
        return 0
    crashed = []
    for name in names:
        print(f"\n=== {name} {' '.join(args)}".rstrip(), flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *args], cwd=HERE.parent)
        print(f"=== {name}: exit {code}, {time.perf_counter() - started:.0f} s", flush=True)
        if code != 0:
            crashed.append(name)
    if crashed:
        print("\ncrashed: " + ", ".join(crashed))
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
