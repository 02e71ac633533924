"""Insights at the scale of a big organisation: each insight's read and analysis on a generated
results history, against floors measured in the same run.

    python -m benchmarks.insights_bench            # 2 x 500 tests, 10 runs a day: 30k and 300k rows
    python -m benchmarks.insights_bench --large    # 2 x 1,000 tests, 50 runs a day: 300k and 3M rows
    python -m benchmarks.insights_bench --quick    # a smoke run
    python -m benchmarks.insights_bench --postgres URL   # also into PostgreSQL (its public schema
                                                         # is dropped and recreated)

One warehouse holds 30 days of history of two projects, each with a main branch and feature
branches: flaky tests (failing now and then, often passing on a retry), broken tests (failing
since a day), skipped ones, parameterized cases, same-commit re-runs, sharded runs (one still
waiting for a shard), tests added and removed during the month; failures carry messages and
Java-style stack traces of a few root causes. Each insight reads it as its asset does, over a
3-day and over the 30-day window (10x the rows): seconds (best of --repeat) and peak RSS, each in
a fresh interpreter, so whether memory grows with the window shows. Floors, on the same rows: the
window's test_results rows (run, test, status, duration) read into a frame, and a pandas groupby
counting each test's statuses per branch over them.

Warehouses are cached in benchmarks/.data/ (git-ignored). The exit code is 0 whatever the
figures: benchmarks report, they do not gate CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks._memory import peak_kib
from benchmarks._table import print_table

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / ".data"
SEED = 20261201
GENERATOR_VERSION = 1  # bump when the generated history changes, so cached warehouses are rebuilt
DAYS = 30
FIRST_DAY = datetime(2026, 10, 1, tzinfo=timezone.utc)
INSIGHTS = ("run_comparisons", "test_history", "flaky_tests", "failure_clusters")
WINDOWS = (3, DAYS)

_AREAS = ["billing", "checkout", "inventory", "search", "auth", "payments", "shipping", "catalog", "orders", "pricing"]
_NOUNS = ["Invoice", "Order", "Cart", "Customer", "Payment", "Shipment", "Product", "Price", "Refund", "Coupon"]
_VERBS = ["creates", "rejects", "updates", "computes", "lists", "cancels", "validates", "refunds"]
# Root causes: (type, message template, frame). A template's {n} and {id} vary between failures.
_CAUSES = [
    ("java.lang.AssertionError", "expected:<{n}> but was:<{m}>", None),
    ("java.net.SocketTimeoutException", "Read timed out after {n} ms", "com.acme.http.GatewayClient.call"),
    ("java.lang.IllegalStateException", "Order {id} is already closed", "com.acme.orders.OrderService.close"),
    ("org.opentest4j.AssertionFailedError", "Element 'checkout-{n}' not found on page", None),
    ("java.sql.SQLTransientConnectionException", "HikariPool-1 - Connection is not available, request timed out after {n}ms.",
     "com.acme.db.Pool.borrow"),
]


# ---------------------------------------------------------------------------- data generation


class Org:
    """The generated history: `tests` tests per project, `runs_per_day` runs a day per project."""

    def __init__(self, tests: int, runs_per_day: int):
        self.tests, self.runs_per_day = tests, runs_per_day

    @property
    def rows(self) -> int:
        return 2 * self.tests * self.runs_per_day * DAYS

    @property
    def name(self) -> str:
        return f"insights-v{GENERATOR_VERSION}-{self.tests}x{self.runs_per_day}"


def _day(d: int) -> str:
    return (FIRST_DAY + timedelta(days=d)).date().isoformat()


def _test(project: str, i: int) -> tuple:
    area, noun = _AREAS[i % len(_AREAS)], _NOUNS[(i // len(_AREAS)) % len(_NOUNS)]
    suite = f"com.acme.{project}.{area}.{noun}{(i // 100)}Test"
    name = f"{_VERBS[i % len(_VERBS)]}_{noun.lower()}_{i}"
    parameters = f"[case-{i % 7}]" if i % 10 == 3 else None
    test_id = hashlib.sha1(f"{project}|{suite}|{name}|{parameters}".encode()).hexdigest()[:20]
    return test_id, "junit", suite, name, parameters, f"src/test/java/com/acme/{area}/{noun}{i // 100}Test.java"


def _trace(kind: str, frame: str | None, suite: str, name: str) -> str:
    lines = [f"{kind}: failure"]
    if frame:
        lines.append(f"\tat {frame}({frame.split('.')[-2]}.java:{40 + len(name) % 9})")
    lines += [f"\tat {suite}.{name}({suite.split('.')[-1]}.java:{12 + len(name) % 30})",
              "\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
              "\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:725)",
              "\tat org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)"]
    return "\n".join(lines)


def _write(url: str, org: Org) -> None:
    """The history, written straight into the warehouse tables the loader fills."""
    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import bulk_insert_chunks, bulk_insert_values, make_engine, migrate

    rng = random.Random(SEED)
    engine = make_engine(url)
    migrate(engine)
    n = org.tests
    runs, reports, tests = [], [], []
    results_columns = ["report_sha256", "seq", "run_id", "test_id", "status", "duration", "attempts", "flaky",
                       "message", "failure_type", "partition"]
    attempt_columns = ["report_sha256", "seq", "attempt", "status", "duration", "message", "failure_type",
                       "stack_trace", "stdout_size", "stderr_size"]
    attempts: list[tuple] = []

    def results():
        for project in ("shop", "ledger"):
            catalog = [_test(project, i) for i in range(n)]
            tests.extend(t + (FIRST_DAY.isoformat(" "),) for t in catalog)
            # Each test's nature, fixed for the month.
            flaky = {i for i in range(n) if i % 37 == 5}
            broken = {i: rng.randrange(DAYS * org.runs_per_day) for i in range(n) if i % 97 == 11}
            skipped = {i for i in range(n) if i % 53 == 7}
            added = {i for i in range(n) if i % 211 == 17}  # first run on day 10
            removed = {i for i in range(n) if i % 223 == 19}  # last run on day 20
            commits: dict[str, str] = {}
            for r in range(DAYS * org.runs_per_day):
                d = r // org.runs_per_day
                branch = "main" if r % 5 < 3 else f"feature/{project}-{r % 3}"
                rerun = branch in commits and rng.random() < 0.1
                sha = commits[branch] if rerun else hashlib.sha1(f"{project}{r}".encode()).hexdigest()
                commits[branch] = sha
                run_id = hashlib.sha1(f"run|{project}|{r}".encode()).hexdigest()[:40]
                started = FIRST_DAY + timedelta(days=d, minutes=r % org.runs_per_day * (1440 // org.runs_per_day) + 5)
                # A run in five is sharded in two; the month's very last one still waits for its second.
                shards = 2 if r % 5 == 4 else None
                waiting = shards and r == DAYS * org.runs_per_day - 1
                partition = _day(d)
                runs.append((run_id, project, branch, sha, str(r), started.isoformat(" "),
                             f"https://ci.example.com/{project}/{r}", shards, partition, started.isoformat(" ")))
                shas = [hashlib.sha256(f"{run_id}|{s}".encode()).hexdigest() for s in range(shards or 1)]
                for s, report in enumerate(shas):
                    if waiting and s == 1:
                        break
                    reports.append((report, f"junit-{s}.xml", f"{project}/{branch}/{r}/junit-{s}.xml", "results",
                                    "junit", 1000, started.isoformat(" "), partition, "landed", project, branch, sha,
                                    str(r), f"{s + 1}" if shards else None, shards, run_id))
                for i, test in enumerate(catalog):
                    if (i in added and d < 10) or (i in removed and d > 20):
                        continue
                    shard = i % 2 if shards else 0
                    if waiting and shard == 1:
                        continue
                    report = shas[shard]
                    status, tries, retried, message, kind = "passed", 1, False, None, None
                    if i in skipped:
                        status = "skipped"
                    elif i in broken and r >= broken[i]:
                        status = "failed"
                    elif i in flaky and rng.random() < 0.15:
                        status = "failed"
                        if rng.random() < 0.5:
                            status, tries, retried = "passed", 2, True
                    elif rng.random() < 0.002:
                        status = "error"
                    duration = round(rng.expovariate(4.0), 4)
                    if status in ("failed", "error") or retried:
                        kind, template, frame = _CAUSES[(i + (r if i in flaky else 0)) % len(_CAUSES)]
                        message = template.format(n=rng.randrange(1000), m=rng.randrange(1000), id=rng.randrange(10**6))
                        attempts.append((report, i, 1, "failed" if status != "error" else "error", duration,
                                         message, kind, _trace(kind, frame, test[2], test[3]), 0, 0))
                        if status == "passed":  # passed on its retry: the result itself carries no failure
                            message, kind = None, None
                    yield (report, i, run_id, test[0], status, duration, tries, retried, message, kind, partition)

    def chunks(rows, size=50_000):
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    with engine.begin() as conn:
        bulk_insert_chunks(conn, schema.test_results, results_columns, chunks(results()))
        bulk_insert_values(conn, schema.test_attempts, attempt_columns, attempts)
        bulk_insert_values(conn, schema.tests, ["test_id", "framework", "suite", "name", "parameters", "file",
                                                "first_seen"], tests)
        bulk_insert_values(conn, schema.test_runs, ["run_id", "project", "branch", "commit_sha", "build", "started_at",
                                                    "ci_url", "shards_expected", "partition", "created_at"], runs)
        bulk_insert_values(conn, schema.reports, ["sha256", "original_name", "source_path", "kind", "format", "size",
                                                  "arrived_at", "partition", "status", "project", "branch",
                                                  "commit_sha", "build", "shard", "shards_expected", "run_id"], reports)
    engine.dispose()


def sqlite_warehouse(org: Org) -> str:
    path = DATA / f"{org.name}.db"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.db")
        for leftover in DATA.glob(tmp.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        _write(f"sqlite:///{tmp}", org)
        os.replace(tmp, path)
        print(f"wrote {path.name}: {org.rows:,} result rows in {time.perf_counter() - started:.0f} s", flush=True)
    return f"sqlite:///{path}"


def postgres_warehouse(url: str, org: Org) -> str:
    from sqlalchemy import text

    from crossbridge_assets.warehouse.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    started = time.perf_counter()
    _write(url, org)
    print(f"wrote {org.rows:,} result rows into PostgreSQL in {time.perf_counter() - started:.0f} s", flush=True)
    return url


# ---------------------------------------------------------------------------- measurement


def measure(what: str, url: str, since: str) -> tuple[float, int]:
    """One measured call, as the asset makes it (read + analysis): (seconds, rows read)."""
    started = time.perf_counter()
    if what == "floor_read":
        rows = len(_floor_frame(url, since))
    elif what == "floor_groupby":
        frame = _floor_frame(url, since)  # not timed: the groupby alone is this floor
        started = time.perf_counter()
        frame.groupby(["test_id", "status"]).size()
        rows = len(frame)
    else:
        rows = _insight(what, url, since)
    return time.perf_counter() - started, rows


def _floor_frame(url: str, since: str):
    import pandas as pd
    from sqlalchemy import select

    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine

    TR = schema.test_results
    stmt = select(TR.c.run_id, TR.c.test_id, TR.c.status, TR.c.duration).where(TR.c.partition >= since)
    with make_engine(url).connect() as conn:
        return pd.DataFrame(conn.execute(stmt).all(), columns=["run_id", "test_id", "status", "duration"])


def _insight(what: str, url: str, since: str) -> int:
    from crossbridge_assets.analysis import clusters, compare, flaky, history
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets.warehouse.insights import failure_frame, result_frame, run_frame

    engine = make_engine(url)
    if what == "failure_clusters":
        failures = failure_frame(engine, since=since)
        clusters.cluster(failures)
        return len(failures)
    results = result_frame(engine, since=since)
    if what == "run_comparisons":
        compare.compare_runs(results, run_frame(engine, since=since), report_since=since)
    elif what == "test_history":
        history.histories(results, run_frame(engine, since=since))
    elif what == "flaky_tests":
        flaky.detect(results)
    return len(results)


def child(what: str, url: str, since: str, repeat: int) -> dict:
    """Run in a fresh interpreter: the best of `repeat` calls, and the peak RSS above the
    interpreter with its imports."""
    import gc

    import crossbridge_assets.analysis.clusters  # noqa: F401  (imports are not what is measured)
    import crossbridge_assets.analysis.compare  # noqa: F401
    import crossbridge_assets.analysis.flaky  # noqa: F401
    import crossbridge_assets.analysis.history  # noqa: F401
    import crossbridge_assets.warehouse.insights  # noqa: F401

    baseline = peak_kib()
    best, rows = float("inf"), 0
    for _ in range(repeat):
        gc.collect()
        seconds, rows = measure(what, url, since)
        best = min(best, seconds)
    return {"seconds": best, "rows": rows, "peak_mb": (peak_kib() - baseline) / 1024}


def fresh(what: str, url: str, since: str, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-m", "benchmarks.insights_bench", "--child", what, url, since, str(repeat)],
                         capture_output=True, text=True, cwd=REPO, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{what} since {since} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report


TABLE_HEADER = ["measurement", "window", "rows", "seconds", "x read floor", "x groupby", "peak RSS MB", "RSS growth"]


def report(label: str, url: str, repeat: int) -> None:
    last_day = DAYS - 1
    windows = {days: _day(last_day - days + 1) for days in WINDOWS}
    print(f"\n{label}: windows of {', '.join(f'{d} days (since {s})' for d, s in windows.items())}; "
          f"best of {repeat}; peak RSS above the interpreter with its imports", flush=True)
    figures = {}
    for what in ("floor_read", "floor_groupby", *INSIGHTS):
        for days, since in windows.items():
            figures[what, days] = fresh(what, url, since, repeat)
    rows = []
    small, large = WINDOWS
    for what in ("floor_read", "floor_groupby", *INSIGHTS):
        for days in WINDOWS:
            f = figures[what, days]
            read, group = figures["floor_read", days]["seconds"], figures["floor_groupby", days]["seconds"]
            growth = f["peak_mb"] / figures[what, small]["peak_mb"] if days == large and figures[what, small]["peak_mb"] > 0 else None
            rows.append([what.replace("_", " ") if days == small else "", f"{days} d", f"{f['rows']:,}",
                         f"{f['seconds']:.2f}", f"{f['seconds'] / read:.1f}" if read else "",
                         f"{f['seconds'] / group:.1f}" if group else "", f"{f['peak_mb']:.0f}",
                         f"{growth:.1f}x" if growth else ""])
    print_table(TABLE_HEADER, rows)
    rows_small = figures["floor_read", small]["rows"]
    rows_large = figures["floor_read", large]["rows"]
    print(f"the {large}-day window holds {rows_large / max(rows_small, 1):.1f}x the rows of the {small}-day one "
          "(RSS growth: the insight's peak over the two windows; failure clusters count failed attempts)")


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        what, url, since, repeat = sys.argv[2:6]
        print(json.dumps(child(what, url, since, int(repeat))))
        return 0
    ap = argparse.ArgumentParser(prog="python -m benchmarks.insights_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--large", action="store_true", help="2 projects x 1,000 tests x 50 runs a day: 3M rows "
                                                         "in 30 days (writing it takes a few minutes the first time)")
    ap.add_argument("--quick", action="store_true", help="a small history: a smoke run, figures are not meaningful")
    ap.add_argument("--repeat", type=int, default=2, help="best of N timings (default 2)")
    ap.add_argument("--postgres", metavar="URL", default=os.environ.get("CROSSBRIDGE_BENCH_POSTGRES_URL"),
                    help="also measure on this PostgreSQL database, whose public schema is dropped and recreated "
                         "(default: $CROSSBRIDGE_BENCH_POSTGRES_URL)")
    args = ap.parse_args(argv)
    org = Org(50, 4) if args.quick else Org(1000, 50) if args.large else Org(500, 10)
    repeat = 1 if args.quick else max(1, args.repeat)
    print(f"load average {os.getloadavg()[0]:.1f}; history: 2 projects x {org.tests:,} tests x "
          f"{org.runs_per_day} runs a day x {DAYS} days = {org.rows:,} result rows", flush=True)
    from crossbridge_assets.log import configure

    configure(log_format="json", level="WARNING")
    report("SQLite", sqlite_warehouse(org), repeat)
    if args.postgres:
        report("PostgreSQL", postgres_warehouse(args.postgres, org), repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
