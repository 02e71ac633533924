"""Realistic demo history: several projects and branches, builds over about two weeks, real-looking
failures, a few flaky tests (one passing on Surefire's rerun; some of the builds they fail re-run on
the same commit) and a few broken tests, an outage of a service that fails two tests at once
(one root cause across tests), and a test that got slower lately — written as the JUnit XML real
tools write — plus, for the checkout service, Cobertura coverage (with a drop on the feature
branch, whose builds send their change for patch coverage) and the profiling events its pytest
plugin would write (the same test and an endpoint slower lately)."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import quoteattr, escape

from crossbridge_assets.hooks.events import EventWriter
from crossbridge_assets.model import normalize_suite, split_parameters, test_identity
from crossbridge_assets.warehouse.run_metadata import MANIFEST_NAME


@dataclass(frozen=True)
class DemoTest:
    suite: str
    name: str
    mean: float  # seconds
    flaky: float = 0.0  # chance of failing on a given build
    broken_from: int | None = None  # day index from which it always fails
    fixed_from: int | None = None


PROJECTS = {
    "checkout-service": dict(
        framework="pytest",
        branches=["main", "feature/apple-pay"],
        tests=[
            DemoTest("tests.test_cart.TestCart", "test_add_item", 0.02),
            DemoTest("tests.test_cart.TestCart", "test_remove_item", 0.02),
            DemoTest("tests.test_cart.TestCart", "test_apply_coupon[SAVE10]", 0.05),
            DemoTest("tests.test_cart.TestCart", "test_apply_coupon[EXPIRED]", 0.04),
            DemoTest("tests.test_payment.TestPayment", "test_card_authorised", 0.8),
            DemoTest("tests.test_payment.TestPayment", "test_card_declined", 0.7),
            DemoTest("tests.test_payment.TestPayment", "test_gateway_timeout_retries", 2.5, flaky=0.25),
            DemoTest("tests.test_tax.TestTax", "test_vat_rounding", 0.01, broken_from=9, fixed_from=12),
            DemoTest("tests.test_inventory", "test_reserve_stock", 0.3),
            DemoTest("tests.test_inventory", "test_concurrent_reservations", 1.9, flaky=0.15),
            DemoTest("tests.test_api.TestOrdersApi", "test_create_order", 0.4),
            DemoTest("tests.test_api.TestOrdersApi", "test_list_orders_paginated", 0.6),
        ],
    ),
    "web-frontend": dict(
        framework="jest",
        branches=["main", "fix/login-redirect"],
        tests=[
            DemoTest("LoginForm", "renders the email field", 0.05),
            DemoTest("LoginForm", "shows an error for a wrong password", 0.09),
            DemoTest("LoginForm", "redirects after login", 0.12, broken_from=11),
            DemoTest("ProductList", "renders 20 products per page", 0.2),
            DemoTest("ProductList", "filters by category", 0.15),
            DemoTest("ProductList", "lazy loads images", 0.4, flaky=0.2),
            DemoTest("Checkout", "disables pay until the form is valid", 0.07),
            DemoTest("Checkout", "sums line items", 0.03),
        ],
    ),
    "payments-api": dict(
        framework="junit",
        branches=["main"],
        tests=[
            DemoTest("com.acme.payments.LedgerTest", "postsDoubleEntry", 0.11),
            DemoTest("com.acme.payments.LedgerTest", "rejectsUnbalancedEntry", 0.09),
            DemoTest("com.acme.payments.RefundServiceTest", "refundsPartialAmount", 0.35),
            DemoTest("com.acme.payments.RefundServiceTest", "refundIsIdempotent", 0.42, flaky=0.12),
            DemoTest("com.acme.payments.FxRatesIT", "fetchesDailyRates", 3.1, broken_from=5, fixed_from=8),
            DemoTest("com.acme.payments.FxRatesIT", "cachesRatesForOneHour", 1.2),
        ],
    ),
}

FAILURES = {
    "pytest": (
        "AssertionError",
        "assert {got} == {want}",
        'tests/{file}.py:{line}: in {name}\n    assert result == expected\nE   AssertionError: assert {got} == {want}\nE    +  where {got} = compute()',
    ),
    "jest": (
        "Error",
        "expect(received).toBe(expected) // Object.is equality",
        "Error: expect(received).toBe(expected)\n\nExpected: {want}\nReceived: {got}\n    at Object.<anonymous> (src/{file}.test.js:{line}:23)",
    ),
    "junit": (
        "org.opentest4j.AssertionFailedError",
        "expected: <{want}> but was: <{got}>",
        "org.opentest4j.AssertionFailedError: expected: <{want}> but was: <{got}>\n\tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)\n\tat com.acme.payments.{file}.{name}({file}.java:{line})",
    ),
}
# The FX rates service was down on these days: every build (and re-run) of payments-api failed
# both FxRatesIT tests, refused a connection in the client both call. Two days, four builds or
# more: longer than a flaky test's flip, the way a real outage looks.
OUTAGE_SUITE = "com.acme.payments.FxRatesIT"
OUTAGE_DAYS = (10, 11)
REFUSED = "Connection refused: rates.example.com:{port}"
REFUSED_TRACE = (
    "java.net.ConnectException: {message}\n"
    "\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)\n"
    "\tat java.base/sun.nio.ch.Net.pollConnectNow(Net.java:672)\n"
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:547)\n"
    "\tat java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:602)\n"
    "\tat java.base/java.net.Socket.connect(Socket.java:633)\n"
    "\tat java.net.http/jdk.internal.net.http.HttpClientImpl.send(HttpClientImpl.java:{line})\n"
    "\tat com.acme.payments.FxRatesClient.fetch(FxRatesClient.java:57)\n"
    "\tat com.acme.payments.FxRatesIT.{name}(FxRatesIT.java:{caller})\n"
    "\tat java.base/java.lang.reflect.Method.invoke(Method.java:569)\n"
)
# The gateway retry test got slower over the last days (its JUnit times and profiling events alike).
SLOWER_TEST = "test_gateway_timeout_retries"
SLOWER_DAYS = 3
SLOWER_BY = 6


def _slower(t: DemoTest, day: int, days: int) -> float:
    return SLOWER_BY if t.name == SLOWER_TEST and day >= days - SLOWER_DAYS else 1


def _outage(project: str, t: DemoTest, day: int) -> bool:
    return project == "payments-api" and t.suite == OUTAGE_SUITE and day in OUTAGE_DAYS


def _refused(t: DemoTest, rng: random.Random) -> tuple[str, str]:
    """The case of a test the outage failed: a connection refused on whichever port the client
    tried, after a connect timeout of its own."""
    message = REFUSED.format(port=rng.choice((443, 8443, 9443)))
    trace = REFUSED_TRACE.format(message=message, line=rng.randint(900, 930), name=t.name,
                                 caller=rng.randint(30, 80))
    return message, trace


TIMEOUT = (
    "TimeoutError",
    "timed out after 2.0s waiting for the payment gateway",
    "Traceback (most recent call last):\n  File \"app/gateway.py\", line 88, in call\n    raise TimeoutError('timed out after 2.0s waiting for the payment gateway')\nTimeoutError: timed out after 2.0s waiting for the payment gateway",
)


def _junit(project: str, framework: str, tests: list[DemoTest], day: int, rng: random.Random, started: datetime,
           failed_tests: list[DemoTest] | None = None, days: int = 14, outage: random.Random | None = None) -> str:
    """The build's JUnit report; the tests whose final result failed are added to `failed_tests`.
    `outage` draws the details of the outage's failures (a stream of its own, so the other tests'
    history stays as it was)."""
    cases = []
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    outage = outage or random.Random(day)
    for t in tests:
        duration = max(0.001, rng.gauss(t.mean, t.mean * 0.15)) * _slower(t, day, days)
        counts["tests"] += 1
        broken = t.broken_from is not None and day >= t.broken_from and (t.fixed_from is None or day < t.fixed_from)
        failed = broken or rng.random() < t.flaky
        if not broken and _outage(project, t, day):
            # Refused at once or after the connect timeout: no test time is like the last one.
            duration = outage.uniform(0.05, 5.0)
            total += duration
            message, trace = _refused(t, outage)
            counts["errors"] += 1
            if failed_tests is not None:
                failed_tests.append(t)
            cases.append(
                f'    <testcase classname={quoteattr(t.suite)} name={quoteattr(t.name)} time="{duration:.3f}">\n'
                f'      <error message={quoteattr(message)} type="java.net.ConnectException">{escape(trace)}</error>\n'
                "    </testcase>")
            continue
        total += duration
        attrs = f'classname={quoteattr(t.suite)} name={quoteattr(t.name)} time="{duration:.3f}"'
        if not failed:
            cases.append(f"    <testcase {attrs}/>")
            continue
        if t.flaky and not broken and framework == "junit" and rng.random() < 0.6:
            # Surefire's rerunFailingTestsCount: failed once, passed on the rerun.
            kind, message, trace = FAILURES[framework]
            fill = dict(got=rng.randint(1, 99), want=100, file=t.suite.split(".")[-1], line=rng.randint(20, 300), name=t.name)
            cases.append(
                f"    <testcase {attrs}>\n      <flakyFailure message={quoteattr(message.format(**fill))} "
                f"type={quoteattr(kind)}>\n        <stackTrace>{escape(trace.format(**fill))}</stackTrace>\n"
                f"      </flakyFailure>\n    </testcase>"
            )
            continue
        if failed_tests is not None:
            failed_tests.append(t)
        if t.flaky and not broken and framework == "pytest":
            kind, message, trace = TIMEOUT
            counts["errors"] += 1
            tag = "error"
        else:
            kind, message, trace = FAILURES[framework]
            counts["failures"] += 1
            tag = "failure"
        fill = dict(got=rng.randint(1, 99), want=100, file=t.suite.split(".")[-1], line=rng.randint(20, 300), name=t.name)
        message, trace = message.format(**fill), trace.format(**fill)
        cases.append(
            f"    <testcase {attrs}>\n      <{tag} message={quoteattr(message)} type={quoteattr(kind)}>{escape(trace)}</{tag}>\n    </testcase>"
        )
    suite_name = {"pytest": "pytest", "jest": "jest tests"}.get(framework, project)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name={quoteattr(suite_name)} tests="{counts["tests"]}" failures="{counts["failures"]}" '
        f'errors="{counts["errors"]}" time="{total:.3f}">\n'
        f'  <testsuite name={quoteattr(suite_name)} tests="{counts["tests"]}" failures="{counts["failures"]}" '
        f'errors="{counts["errors"]}" skipped="0" time="{total:.3f}" timestamp="{started.strftime("%Y-%m-%dT%H:%M:%S")}">\n'
        + "\n".join(cases)
        + "\n  </testsuite>\n</testsuites>\n"
    )


# checkout-service source files: (path, statements, share covered on main)
COVERED_FILES = [("app/cart.py", 120, 0.92), ("app/payment.py", 210, 0.81), ("app/tax.py", 64, 0.97),
                 ("app/inventory.py", 150, 0.74), ("app/api/orders.py", 180, 0.69)]


def _cobertura(day: int, branch: str, rng: random.Random) -> str:
    """A Cobertura report as coverage.py/pytest-cov would write it from a CI checkout."""
    classes, valid_total, covered_total = [], 0, 0
    for path, statements, share in COVERED_FILES:
        if branch != "main" and path == "app/payment.py":
            share -= 0.12  # the feature branch adds code without tests
        share = min(1.0, max(0.0, share + 0.002 * day + rng.uniform(-0.01, 0.01)))
        covered = round(statements * share)
        lines = "".join(
            f'<line number="{n}" hits="{rng.randint(1, 40) if n <= covered else 0}"/>' for n in range(1, statements + 1)
        )
        classes.append(
            f'<class name="{path.rsplit("/", 1)[-1]}" filename="{path}" line-rate="{covered / statements:.4f}" '
            f'branch-rate="0" complexity="0"><methods/><lines>{lines}</lines></class>'
        )
        valid_total += statements
        covered_total += covered
    return (
        '<?xml version="1.0" ?>\n'
        f'<coverage version="7.6.1" timestamp="0" lines-valid="{valid_total}" lines-covered="{covered_total}" '
        f'line-rate="{covered_total / valid_total:.4f}" branches-covered="0" branches-valid="0" branch-rate="0" complexity="0">'
        "<sources><source>/home/runner/work/checkout-service/checkout-service</source></sources>"
        f'<packages><package name="app" line-rate="{covered_total / valid_total:.4f}" branch-rate="0" complexity="0">'
        f"<classes>{''.join(classes)}</classes></package></packages></coverage>\n"
    )


def _profile(folder: Path, tests: list[DemoTest], day: int, days: int, started: datetime, rng: random.Random) -> Path:
    """The event file the pytest plugin writes: each test's call phase and the HTTP calls it made.
    The gateway retry test and the charges endpoint got slower over the last days."""
    writer = EventWriter(folder, framework="pytest", env={})
    clock = started.timestamp()
    slow_from = days - SLOWER_DAYS
    for t in tests:
        name, params = split_parameters(t.name)
        identity = test_identity("pytest", normalize_suite(t.suite), name, params)
        duration = max(0.001, rng.gauss(t.mean, t.mean * 0.1)) * _slower(t, day, days)
        test_span = writer.span("test", f"{t.suite}::{t.name}", clock, duration, status="passed", test=identity)
        writer.span("call", t.name, clock, duration * 0.9, status="passed", test=identity, parent_id=test_span)
        if "payment" in t.suite or "api" in t.suite:
            http = 0.08 * (7 if day >= slow_from else 1) * rng.uniform(0.8, 1.2)
            writer.span("http", "POST payments.example.com/v1/charges", clock + 0.01, http, status="201",
                        test=identity, parent_id=test_span,
                        attributes={"method": "POST", "host": "payments.example.com", "path": "/v1/charges"})
        clock += duration
    return writer.close("passed")


# Share of main-branch builds failed by a flaky test whose failed job someone re-ran on the same
# commit (GitHub Actions' "Re-run failed jobs"): the re-run is a run of its own, of one commit.
RERUN_SHARE = 0.5


def _rerun(target: Path, project: str, branch: str, build_no: int, commit: str, spec: dict, day: int,
           started: datetime, rng: random.Random, days: int, outage: random.Random) -> Path:
    """The second attempt of a build's test job, five minutes later on the same commit: the test
    report only (the coverage and profiling of the commit came with the first attempt). It arrives
    with the build's files, so no file of the demo is newer than before."""
    build = f"{build_no}-attempt-2"
    when = started + timedelta(minutes=5)
    folder = target / project / branch / build
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).write_text(
        json.dumps({"project": project, "branch": branch, "commit": commit, "build": build,
                    "started_at": when.isoformat(),
                    "ci_url": f"https://ci.example.com/{project}/builds/{build_no}/attempts/2"}),
        encoding="utf-8",
    )
    report = folder / f"TEST-{project}.xml"
    report.write_text(_junit(project, spec["framework"], spec["tests"], day, rng, when, days=days, outage=outage),
                      encoding="utf-8")
    stamp = started.timestamp() + 600
    os.utime(report, (stamp, stamp))
    return report


def _change() -> str:
    """The feature branch's change, as its CI job sends it (`git diff --merge-base origin/main`):
    a new payment method at the end of app/payment.py, which its tests leave unrun, and a cart
    hook they run."""
    def added(path: str, after: int, lines: list[str]) -> str:
        body = "".join(f"+{line}\n" for line in lines)
        return (f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
                f"@@ -{after},0 +{after + 1},{len(lines)} @@\n{body}")

    method = ["def pay_with_apple_pay(order, token):", '    """Charge the order through Apple Pay."""',
              "    session = _apple_pay_session(token)", "    if session.expired:",
              "        raise PaymentError(\"the Apple Pay session expired\")",
              "    return _charge(order, session.card)"]
    return added("app/cart.py", 10, ["    if order.wallet:", "        order.tags.add('wallet')"]) + added(
        "app/payment.py", 195, method)


def generate(target: Path, days: int = 14, seed: int = 7, today: datetime | None = None) -> list[Path]:
    """Write the demo history under `target` as <project>/<branch>/<build>/ drops, each with a
    crossbridge.json manifest. Files get the build's time as mtime, so they arrive on their day."""
    rng = random.Random(seed)
    # Re-runs draw from a stream of their own: the builds, coverage and events stay as they were.
    reruns = random.Random(seed + 1)
    outage = random.Random(seed + 2)
    today = (today or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    written: list[Path] = []
    build_no = 1000
    for day in range(days):
        when = today - timedelta(days=days - 1 - day)
        for project, spec in PROJECTS.items():
            for branch in spec["branches"]:
                builds = 2 if branch == "main" else 1
                if branch != "main" and day < days // 2:
                    continue  # feature branches start halfway through
                for b in range(builds):
                    build_no += 1
                    started = when.replace(hour=9 + 6 * b)
                    if started > today:  # today's builds that would be in the future ran just now
                        started = today - timedelta(minutes=30 * (builds - b))
                    folder = target / project / branch / str(build_no)
                    folder.mkdir(parents=True, exist_ok=True)
                    commit = f"{rng.getrandbits(160):040x}"
                    (folder / MANIFEST_NAME).write_text(
                        json.dumps(
                            {
                                "project": project,
                                "branch": branch,
                                "commit": commit,
                                "build": str(build_no),
                                "started_at": started.isoformat(),
                                "ci_url": f"https://ci.example.com/{project}/builds/{build_no}",
                            }
                        ),
                        encoding="utf-8",
                    )
                    report = folder / f"TEST-{project}.xml"
                    failed: list[DemoTest] = []
                    report.write_text(_junit(project, spec["framework"], spec["tests"], day, rng, started, failed,
                                             days=days, outage=outage), encoding="utf-8")
                    files = [report]
                    if project == "checkout-service":
                        cov = folder / "coverage.xml"
                        cov.write_text(_cobertura(day, branch, rng), encoding="utf-8")
                        files += [cov, _profile(folder, spec["tests"], day, days, started, rng)]
                        if branch != "main":  # its patch coverage
                            change = folder / "change.diff"
                            change.write_text(_change(), encoding="utf-8")
                            files.append(change)
                    stamp = started.timestamp() + 600
                    for f in files:
                        os.utime(f, (stamp, stamp))
                    written.extend(files)
                    if branch == "main" and any(t.flaky for t in failed) and reruns.random() < RERUN_SHARE:
                        written.append(_rerun(target, project, branch, build_no, commit, spec, day, started, reruns,
                                              days, outage))
    return written
