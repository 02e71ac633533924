"""Playwright-JS and Cypress need no hook: the ingest job derives spans from their result
reports (Playwright's JSON reporter, mochawesome), beside the tests the results load stores.
Real reports written by the real tools (fixtures/results/js), real Dagster runs, SQLite and
PostgreSQL."""

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
from sqlalchemy import func, select

from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine

from crossbridge_assets_tests.test_ingest_e2e import execute, run_requests_until_ready

JS = Path(__file__).parent / "fixtures" / "results" / "js"


def _drop(inbox: Path, *names: str) -> None:
    old = time.time() - 60  # settled
    for name in names:
        target = inbox / name
        shutil.copyfile(JS / name, target)
        os.utime(target, (old, old))


def _spans_and_tests(engine) -> dict[str, tuple[list, set, set]]:
    """Per derived report format: (its reports row totals, test ids of its test spans, test ids
    of its test results)."""
    R, E, T = schema.reports, schema.profile_events, schema.test_results
    out = {}
    with engine.connect() as conn:
        for report in conn.execute(select(R).where(R.c.format.in_(["playwright-json", "mochawesome"]),
                                                   R.c.status != "quarantined")):
            span_tests = set(conn.execute(select(E.c.test_id).where(schema.report_rows(E, [report.sha256]),
                                                                     E.c.kind == "test")).scalars())
            result_tests = set(conn.execute(select(T.c.test_id).where(T.c.report_sha256 == report.sha256)).scalars())
            out[report.format] = (json.loads(report.totals), span_tests, result_tests)
    return out


def test_spans_are_derived_from_playwright_and_mochawesome_reports(crossbridge_env, dagster_instance, monkeypatch):
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    _drop(s.inbox, "playwright.json", "mochawesome.json", "mocha-json.json")
    _, tick = run_requests_until_ready(dagster_instance)
    assert len(tick.run_requests) == 1
    result = execute(dagster_instance, tick.run_requests[0])

    engine = make_engine(s.warehouse_url)
    found = _spans_and_tests(engine)
    assert set(found) == {"playwright-json", "mochawesome"}
    for fmt, (totals, span_tests, result_tests) in found.items():
        # One test span per test the results load stored, under the same identity.
        assert span_tests and span_tests == result_tests, fmt
        assert totals["tests"] == len(result_tests), "the report's row keeps its results totals"
    E, R = schema.profile_events, schema.reports
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(E.c.kind, func.count()).group_by(E.c.kind)).all())
        plain_mocha = conn.execute(select(func.count()).select_from(E).where(
            schema.report_rows(E, select(R.c.sha256).where(R.c.format == "mocha-json")))).scalar_one()
        positive = conn.execute(select(func.count()).select_from(E).where(E.c.duration > 0)).scalar_one()
    assert plain_mocha == 0, "mocha's JSON reporter has no start times: no spans are made up for it"
    # Playwright writes a result per attempt: a retried test has a test span per attempt.
    assert kinds["test"] > sum(len(t) for _, t, _ in found.values())
    assert kinds["session"] == 2, "a session span per report"
    assert positive > 0
    events = result.asset_materializations_for_node("profiling_events")
    metadata = events[0].metadata
    assert metadata["result_reports_with_spans"].value == 2
    assert metadata["spans_written"].value == sum(kinds.values())

    # A whole-day materialization (a backfill) loads them again in place: nothing doubles.
    before = sum(kinds.values())
    with dg.instance_for_test() as instance:
        dg.materialize([d for d in defs.assets if getattr(d, "key", None) == dg.AssetKey("profiling_events")],
                       partition_key=tick.run_requests[0].partition_key, instance=instance,
                       resources={"warehouse": WarehouseResource()})
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(E)).scalar_one() == before
    assert _spans_and_tests(engine) == found


def test_a_broken_playwright_report_is_quarantined_by_results_and_the_rest_get_spans(crossbridge_env,
                                                                                    dagster_instance, monkeypatch):
    """Whichever asset meets the cut report first, the run goes on: the results load quarantines
    it, it gets no spans, and the other report of the batch gets its spans."""
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    text = (JS / "playwright.json").read_text()
    broken = s.inbox / "cut-playwright.json"
    broken.write_text(text[: len(text) // 2])
    old = time.time() - 60
    os.utime(broken, (old, old))
    _drop(s.inbox, "mochawesome.json")
    _, tick = run_requests_until_ready(dagster_instance)
    execute(dagster_instance, tick.run_requests[0])  # asserts the run succeeded
    engine = make_engine(s.warehouse_url)
    R, E = schema.reports, schema.profile_events
    with engine.connect() as conn:
        cut = conn.execute(select(R).where(R.c.original_name == "cut-playwright.json")).one()
        cut_spans = conn.execute(select(func.count()).select_from(E).where(schema.report_rows(E, [cut.sha256]))).scalar_one()
    assert cut.status == "quarantined" and cut_spans == 0
    assert set(_spans_and_tests(engine)) == {"mochawesome"}


def test_a_warehouse_that_cannot_take_derived_spans_fails_the_run(crossbridge_env, dagster_instance, monkeypatch):
    """The warehouse's disk full while a report's spans are written: the run fails naming the
    fault, as every other load does, instead of noting the report as one spans cannot be derived
    from and succeeding without them."""
    import sqlite3

    import crossbridge_assets.defs.profiling as profiling

    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    s = crossbridge_env
    _drop(s.inbox, "playwright.json")
    _, tick = run_requests_until_ready(dagster_instance)
    partition = tick.run_requests[0].partition_key
    execute(dagster_instance, tick.run_requests[0])

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(profiling, "load_profile", full)
    with dg.instance_for_test() as instance:
        result = dg.materialize([d for d in defs.assets if getattr(d, "key", None) == dg.AssetKey("profiling_events")],
                                partition_key=partition, instance=instance,
                                resources={"warehouse": WarehouseResource()}, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures and "disk is full" in str(failures[-1].step_failure_data.error.message)
