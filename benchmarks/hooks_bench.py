"""What the profiling hooks cost inside a user's test run: the same suite with the hooks off (the
floor) and on, each run a fresh runner process.

    python -m benchmarks.hooks_bench [--tests 20000] [--http-tests 2000] [--robot-tests 3000]
                                     [--repeat 5] [--quick]

1. pytest, trivial tests (`def test_n(): pass`): the plugin's own cost per test at its largest
   share of the run (four spans a test: setup, call, teardown, test).
2. pytest, tests that each make three `requests` calls to a real HTTP server on 127.0.0.1: the
   plugin with the HTTP hook (seven spans a test).
3. Robot Framework, tests of a few keywords (one a user keyword calling two more): the listener.

Off and on alternate, `--repeat` times each; the figures are the medians. Wall time and the
runner's CPU time (user + system of the child) are both shown: on a shared machine the CPU time
moves less. Every profiled run's event file is read back and its spans counted, so a hook that
got faster by writing less shows up as a WARNING.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._table import print_table

DATA = Path(__file__).parent / ".data"
REPO = Path(__file__).resolve().parents[1]

TABLE_HEADER = ["measurement", "wall s", "CPU s", "ratio (CPU)", "overhead", "target", "holds"]
# Targets on the CPU ratio: what a profiled CI run may cost over the same run unprofiled.
TARGETS = {"pytest, trivial tests": 1.10, "pytest, 3 HTTP calls a test": 1.05, "robot, keywords": 1.10}


def _generated(folder: Path, write) -> Path:
    """`folder`, written by write(folder) the first time (into a temporary name, so a generation
    cut short is not taken for a suite)."""
    if not folder.exists():
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write(tmp)
        tmp.rename(folder)
    return folder


def pytest_suite(folder: Path, tests: int, http: bool) -> Path:
    """`tests` tests in modules of 500 (one a test file, as suites grow)."""
    return _generated(folder, lambda tmp: _write_pytest_suite(tmp, tests, http))


def _write_pytest_suite(tmp: Path, tests: int, http: bool) -> None:
    per_module = 500
    for m in range((tests + per_module - 1) // per_module):
        n = min(per_module, tests - m * per_module)
        if http:
            head = ("import os\n\nimport requests\n\nBASE = os.environ['CB_BENCH_BASE']\n"
                    "SESSION = requests.Session()\n\n")
            body = ("def test_{i}():\n"
                    "    assert SESSION.get(BASE + '/users/{i}').status_code == 200\n"
                    "    assert SESSION.get(BASE + '/api/users/{i}').status_code == 200\n"
                    "    assert SESSION.get(BASE + '/missing').status_code == 404\n\n")
        else:
            head, body = "", "def test_{i}():\n    pass\n\n"
        (tmp / f"test_m{m:04d}.py").write_text(head + "".join(body.format(i=i) for i in range(n)))


def robot_suite(folder: Path, tests: int) -> Path:
    """`tests` Robot tests in files of 250."""
    return _generated(folder, lambda tmp: _write_robot_suite(tmp, tests))


def _write_robot_suite(tmp: Path, tests: int) -> None:
    per_file = 250
    for f in range((tests + per_file - 1) // per_file):
        lines = ["*** Keywords ***", "Step", "    [Arguments]    ${n}", "    ${x}=    Set Variable    ${n}",
                 "    No Operation", "", "*** Test Cases ***"]
        for i in range(min(per_file, tests - f * per_file)):
            lines += [f"Test {i}", "    No Operation", f"    Step    {i}", "    Should Be Equal    1    1", ""]
        (tmp / f"suite{f:03d}.robot").write_text("\n".join(lines))


def run_once(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def spans_in(folder: Path) -> int:
    from crossbridge_assets.formats.crossbridge_events import open_events

    return sum(sum(1 for _ in open_events(f)) for f in folder.glob("*.jsonl"))


def compare(name: str, off_cmd: list[str], on_cmd: list[str], events: Path, cwd: Path, env: dict,
            repeat: int, expected_spans: int) -> tuple[list[str], list[str]]:
    """Table rows for the floor and the profiled run, alternating off and on `repeat` times."""
    off, on = [], []
    for _ in range(repeat):
        off.append(run_once(off_cmd, cwd, env))
        shutil.rmtree(events, ignore_errors=True)
        on.append(run_once(on_cmd, cwd, env))
        written = spans_in(events)
        if written != expected_spans:
            print(f"WARNING: {name}: the profiled run wrote {written:,} spans, {expected_spans:,} expected")
    wall_off, cpu_off = (statistics.median(x) for x in zip(*off))
    wall_on, cpu_on = (statistics.median(x) for x in zip(*on))
    ratio = cpu_on / cpu_off
    target = TARGETS[name]
    return ([f"{name}: hooks off (floor)", f"{wall_off:.2f}", f"{cpu_off:.2f}", "1.00x", "", "", ""],
            [f"{name}: hooks on", f"{wall_on:.2f}", f"{cpu_on:.2f}", f"{ratio:.3f}x",
             f"{ratio - 1:+.1%} CPU, {wall_on / wall_off - 1:+.1%} wall", f"<= {target:.2f}x",
             "yes" if ratio <= target else "NO"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=20_000, help="trivial pytest tests (default 20,000)")
    ap.add_argument("--http-tests", type=int, default=2_000, help="pytest tests making 3 HTTP calls each")
    ap.add_argument("--robot-tests", type=int, default=3_000, help="Robot Framework tests of 5 keywords each")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each side; the median is shown (default 5)")
    ap.add_argument("--quick", action="store_true", help="tiny suites, one run each: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.tests, args.http_tests, args.robot_tests, args.repeat = 200, 20, 20, 1
    repeat = max(1, args.repeat)

    from crossbridge_assets_tests.hooks_helpers import PLUGIN_ARGS, http_server

    # The runners import this checkout's hooks, whatever the environment has installed.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSBRIDGE_", "PYTEST_", "ROBOT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    work = Path(tempfile.mkdtemp(prefix="crossbridge-bench-hooks-"))
    events = work / "events"
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs; medians of {repeat} runs of each side, "
          f"off and on alternating")
    rows = []
    try:
        pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGIN_ARGS]
        trivial = pytest_suite(DATA / f"hooks-pytest-{args.tests}", args.tests, http=False)
        rows += compare("pytest, trivial tests", [*pytest_cmd, "."], [*pytest_cmd, f"--crossbridge={events}", "."],
                        events, trivial, env, repeat, expected_spans=4 * args.tests + 1)
        http = pytest_suite(DATA / f"hooks-pytest-http-{args.http_tests}", args.http_tests, http=True)
        with http_server() as base:
            rows += compare("pytest, 3 HTTP calls a test", [*pytest_cmd, "."],
                            [*pytest_cmd, f"--crossbridge={events}", "."], events, http,
                            {**env, "CB_BENCH_BASE": base}, repeat, expected_spans=7 * args.http_tests + 1)
        robot = robot_suite(DATA / f"hooks-robot-{args.robot_tests}", args.robot_tests)
        robot_cmd = [sys.executable, "-m", "robot", "--output", "NONE", "--report", "NONE", "--log", "NONE",
                     "--console", "none"]
        files = (args.robot_tests + 249) // 250
        # Per test: the test and its 5 keywords (Step's two inside it); per file a suite, and the top one.
        rows += compare("robot, keywords", [*robot_cmd, "."],
                        [*robot_cmd, "--listener", f"crossbridge_assets.hooks.robot_listener:{events}", "."],
                        events, robot, env, repeat, expected_spans=6 * args.robot_tests + files + 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(TABLE_HEADER, rows)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
