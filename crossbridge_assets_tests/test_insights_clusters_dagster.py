"""failure_clusters on SQLite and PostgreSQL through a real Dagster instance: the failed attempts
it reads, the tables it writes, its metadata, and what it finds in the demo history."""

from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

import dagster as dg
import pandas as pd
from sqlalchemy import select

from crossbridge_assets import demo
from crossbridge_assets.definitions import defs
from crossbridge_assets.defs.ingest import STAGING_PREFIX, batches_for, run_batches
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.insights import FAILURE_COLUMNS, TRACE_HEAD, TRACE_TAIL, failure_frame
from crossbridge_assets_tests.insights_helpers import History


def surefire(cases: dict[str, tuple | None], suite: str = "com.acme.CartTest") -> str:
    """A Surefire report: `cases` maps a test to None (passed) or (type, message, trace), or to a
    list of them for failed tries before a pass (flakyFailure)."""
    rows = []
    for name, outcome in cases.items():
        body = ""
        if isinstance(outcome, list):
            body = "".join(f"<flakyFailure message={quoteattr(m)} type={quoteattr(t)}><stackTrace>{escape(tr)}</stackTrace>"
                           "</flakyFailure>" for t, m, tr in outcome)
        elif outcome:
            t, m, tr = outcome
            body = f"<failure message={quoteattr(m)} type={quoteattr(t)}>{escape(tr)}</failure>"
        rows.append(f'<testcase classname="{suite}" name="{name}" time="0.1">{body}</testcase>')
    return f'<?xml version="1.0"?>\n<testsuite name="{suite}" tests="{len(rows)}">\n' + "\n".join(rows) + "\n</testsuite>\n"


def down(test: str, port: int, ms: int) -> tuple:
    message = f"stock service down at localhost:{port} after {ms} ms"
    trace = (f"java.lang.IllegalStateException: {message}\n"
             "\tat com.acme.stock.StockClient.reserve(StockClient.java:88)\n"
             f"\tat com.acme.CartTest.{test}(CartTest.java:46)\n"
             "\tat java.base/java.lang.reflect.Method.invoke(Method.java:569)\n"
             "\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:727)\n")
    return ("java.lang.IllegalStateException", message, trace)


def wrong_total(got: int) -> tuple:
    message = f"expected: <100> but was: <{got}>"
    return ("org.opentest4j.AssertionFailedError", message,
            f"org.opentest4j.AssertionFailedError: {message}\n"
            "\tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)\n"
            "\tat com.acme.CartTest.total(CartTest.java:31)\n")


def materialize(instance) -> dg.ExecuteInProcessResult:
    """The asset as automation or the nightly job runs it: through the code location's definitions."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("failure_clusters")])
    assert result.success
    return result


def rows_of(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def test_failure_frame_reads_failed_attempts_only_with_the_head_and_tail_of_long_traces(crossbridge_env):
    h = History(crossbridge_env)
    long_trace = "java.lang.StackOverflowError\n" + "".join(
        f"\tat com.acme.Tree.walk{i}(Tree.java:{i})\n" for i in range(400)) + "\tat com.acme.CartTest.deep(CartTest.java:9)\n"
    first = h.run("1", surefire({"pay": None, "reserve": down("reserve", 5432, 3000),
                                 "deep": ("java.lang.StackOverflowError", "", long_trace),
                                 "total": [wrong_total(42), wrong_total(43)]}), day="2026-11-20")
    h.run("2", surefire({"pay": None, "reserve": down("reserve", 6543, 900)}), day="2026-11-21")
    frame = failure_frame(h.engine)
    assert list(frame.columns) == FAILURE_COLUMNS
    # No passing attempt is read: pay never, total's final pass neither.
    assert sorted(zip(frame["build"], frame["name"], frame["attempt"])) == [
        ("1", "deep", 1), ("1", "reserve", 1), ("1", "total", 1), ("1", "total", 2), ("2", "reserve", 1)]
    total = frame[frame["name"] == "total"]
    assert set(total["status"]) == {"passed"} and set(total["attempt_status"]) == {"failed"}
    deep = frame[frame["name"] == "deep"].iloc[0]
    assert len(deep["stack_trace"]) == TRACE_HEAD + len("\n…\n") + TRACE_TAIL
    assert deep["stack_trace"].startswith("java.lang.StackOverflowError\n")
    assert deep["stack_trace"].endswith("\tat com.acme.CartTest.deep(CartTest.java:9)\n")
    assert set(failure_frame(h.engine, since="2026-11-21")["build"]) == {"2"}
    assert set(failure_frame(h.engine, until="2026-11-20")["run_id"]) == {first}


def test_the_asset_clusters_one_cause_across_tests_and_runs(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    today = datetime.now(timezone.utc).date().isoformat()
    h.run("41", surefire({"reserve": down("reserve", 5432, 3000), "checkout": down("checkout", 5433, 2900),
                          "total": wrong_total(42)}), day=today, started_at=f"{today}T08:00:00Z")
    h.run("42", surefire({"reserve": down("reserve", 40001, 120), "checkout": None, "total": wrong_total(7)}),
          day=today, started_at=f"{today}T09:00:00Z")
    result = materialize(dagster_instance)
    md = result.asset_materializations_for_node("failure_clusters")[0].metadata
    assert md["dagster/row_count"].value == md["clusters"].value == 2
    assert (md["failures_clustered"].value, md["clusters_across_tests"].value) == (5, 1)
    assert md["failures_in_clusters_across_tests"].value == 3
    table = md["largest_clusters"].value
    first_row = table.splitlines()[2]
    assert "IllegalStateException: stock service down at localhost:<n> after <duration>" in first_row
    assert "2: com.acme.CartTest::" in first_row and "shop/main #42" in first_row

    engine = make_engine(crossbridge_env.warehouse_url)
    clusters = {r["frame"]: r for r in rows_of(engine, schema.failure_clusters)}
    shared = clusters["com.acme.stock.StockClient.reserve"]
    assert (shared["tests"], shared["occurrences"], shared["runs"], shared["example_build"]) == (2, 3, 2, "42")
    alone = clusters["com.acme.CartTest.total"]
    assert (alone["tests"], alone["occurrences"]) == (1, 2)
    assert alone["signature"] == "AssertionFailedError: expected: <<n>> but was: <<n>> @ com.acme.CartTest.total"
    members = pd.DataFrame(rows_of(engine, schema.failure_cluster_results))
    assert len(members) == 5 and set(members["cluster_id"]) == {shared["cluster_id"], alone["cluster_id"]}

    # Recomputed whole: the same history gives the same clusters, under the same ids.
    materialize(dagster_instance)
    assert {r["cluster_id"] for r in rows_of(engine, schema.failure_clusters)} == {
        shared["cluster_id"], alone["cluster_id"]}
    assert len(rows_of(engine, schema.failure_cluster_results)) == 5


def test_an_empty_warehouse_gives_no_clusters(crossbridge_env, dagster_instance):
    History(crossbridge_env)
    md = materialize(dagster_instance).asset_materializations_for_node("failure_clusters")[0].metadata
    assert md["clusters"].value == 0 and md["largest_clusters"].value == "_no failure in the window_"


def test_the_demo_history(crossbridge_env, dagster_instance):
    """Two weeks of the demo's three projects, ingested by the real ingest job: the payment
    gateway's timeout, which two checkout-service tests hit, and the FX rates outage, which failed
    both FxRatesIT tests, are the causes spanning tests; each broken or flaky test's own assertion
    is a cluster of its own, apart from the others."""
    s = crossbridge_env
    files = demo.generate(s.inbox / f"{STAGING_PREFIX}demo", days=14, seed=7)
    results = run_batches(batches_for(s, files, partition=datetime.now(timezone.utc).date().isoformat()), dagster_instance)
    assert all(r.success for r in results)
    md = materialize(dagster_instance).asset_materializations_for_node("failure_clusters")[0].metadata
    clusters = rows_of(make_engine(s.warehouse_url), schema.failure_clusters)
    by_frame = {c["frame"]: c for c in clusters}
    timeout = by_frame["gateway.py:call"]
    assert timeout["signature"] == "TimeoutError: timed out after <duration> waiting for the payment gateway @ gateway.py:call"
    assert timeout["tests"] == 2 and "test_gateway_timeout_retries" in timeout["example_tests"]
    assert "test_concurrent_reservations" in timeout["example_tests"]
    # And the FX rates outage, which failed both FxRatesIT tests on two days.
    outage = by_frame["com.acme.payments.FxRatesClient.fetch"]
    assert outage["signature"] == "ConnectException: Connection refused: rates.example.com:<n> @ com.acme.payments.FxRatesClient.fetch"
    assert sorted(c["frame"] for c in clusters if c["tests"] > 1) == ["com.acme.payments.FxRatesClient.fetch", "gateway.py:call"]
    assert md["clusters_across_tests"].value == 2
    # The broken and flaky tests' own failures: one cluster each, numbers normalised away.
    assert by_frame["TestTax.py:test_vat_rounding"]["message_pattern"] == "assert <n> == <n>"
    assert by_frame["com.acme.payments.FxRatesIT.fetchesDailyRates"]["message_pattern"] == "expected: <<n>> but was: <<n>>"
    refunds = by_frame["com.acme.payments.RefundServiceTest.refundIsIdempotent"]
    # Surefire's flakyFailure: failed, then passed on the rerun; still the same cause.
    assert refunds["passed_on_retry"] >= 1 and refunds["message_pattern"] == "expected: <<n>> but was: <<n>>"
    assert {"LoginForm.test.js", "ProductList.test.js"} <= set(by_frame)
    assert len(clusters) == 7 and all(c["occurrences"] >= 2 for c in clusters)
    assert all(c["example_ci_url"].startswith("https://ci.example.com/") for c in clusters)
