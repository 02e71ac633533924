"""`crossbridge demo` shows every insight: its flaky tests flaky, its broken test broken, its fixed
tests fixed, the FX rates outage as one cause across both FxRatesIT tests, and the gateway retry
test slower lately. The demo is ingested once per warehouse backend (SQLite and PostgreSQL)."""

import contextlib
import io

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import select

from crossbridge_assets import demo
from crossbridge_assets.cli import main
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import POSTGRES_URL, fresh_postgres_database

FX = {"fetchesDailyRates", "cachesRatesForOneHour"}
POSTGRES = pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(
    not POSTGRES_URL, reason="CROSSBRIDGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)")])


@pytest.fixture(scope="module", params=["sqlite", POSTGRES])
def shown(request, tmp_path_factory):
    """The demo, ingested and refreshed by `crossbridge demo`: its printed lines, the insight
    tables and the insights' latest metadata."""
    home = tmp_path_factory.mktemp(f"demo-{request.param}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CROSSBRIDGE_HOME", str(home / "cbhome"))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.setenv("CROSSBRIDGE_SETTLE_SECONDS", "0")
        mp.delenv("CROSSBRIDGE_INBOX", raising=False)
        if request.param == "postgres":
            mp.setenv("CROSSBRIDGE_WAREHOUSE_URL", fresh_postgres_database())
        else:
            mp.delenv("CROSSBRIDGE_WAREHOUSE_URL", raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["demo"])
        assert code == 0, out.getvalue()
        from crossbridge_assets import settings

        engine = make_engine(settings.load().warehouse_url)
        tables = {}
        with engine.connect() as conn:
            for t in (schema.flaky_tests, schema.test_history, schema.run_comparisons, schema.run_test_changes,
                      schema.failure_clusters):
                tables[t.name] = pd.DataFrame([dict(r._mapping) for r in conn.execute(select(t))],
                                              columns=list(t.c.keys()))
        instance = dg.DagsterInstance.get()
        metadata = {name: instance.get_latest_materialization_event(dg.AssetKey(name)).asset_materialization.metadata
                    for name in ("run_comparisons", "flaky_tests", "failure_clusters", "test_history")}
        yield {"out": out.getvalue(), "tables": tables, "metadata": metadata}


def test_the_demo_says_it_refreshed_the_insights(shown):
    assert "insights (run comparisons, flaky tests, failure clusters, test history)" in shown["out"]
    assert "refreshed" in shown["out"]


def test_flaky_tests_are_the_declared_flaky_ones_and_the_outage_makes_none(shown):
    flaky = shown["tables"]["flaky_tests"]
    declared = {(project, t.name) for project, spec in demo.PROJECTS.items() for t in spec["tests"] if t.flaky}
    assert set(zip(flaky["project"], flaky["name"])) == declared
    assert not FX & set(flaky["name"])
    assert shown["metadata"]["flaky_tests"]["days_held_back"].value == "none"


def test_history_shows_the_broken_test_the_fixed_ones_and_the_slower_one(shown):
    history = shown["tables"]["test_history"]
    by = {(r["project"], r["branch"], r["name"]): r for r in history.to_dict("records")}
    assert {key for key, r in by.items() if r["broken"]} == {
        ("web-frontend", "main", "redirects after login"), ("web-frontend", "fix/login-redirect", "redirects after login")}
    # Broken for a while and passing since: the two broken tests that got fixed, and the outage's two.
    for key in [("checkout-service", "main", "test_vat_rounding"), ("payments-api", "main", "fetchesDailyRates"),
                ("payments-api", "main", "cachesRatesForOneHour")]:
        assert by[key]["streak_status"] == "passed" and by[key]["failed"] + by[key]["errors"] > 0, key
    slower = {key for key, r in by.items() if r["slower"]}
    assert slower and {name for _p, _b, name in slower} == {demo.SLOWER_TEST}
    md = shown["metadata"]["test_history"]
    assert md["tests_slower"].value == len(slower) and demo.SLOWER_TEST in md["got_slower"].value


def test_run_comparisons_show_the_outage_start_and_end_on_one_run_each(shown):
    changes = shown["tables"]["run_test_changes"]
    fx = changes[(changes["project"] == "payments-api") & changes["name"].isin(FX)]
    # Both tests broke in one run and were fixed in one run: the outage, not a change of either.
    outage_runs = fx[fx["message"].fillna("").str.contains("Connection refused")]
    started = outage_runs.sort_values("run_time").iloc[0]
    both = fx[(fx["run_id"] == started["run_id"]) & (fx["change"] == "new_failure")]
    assert set(both["name"]) == FX
    fixed = fx[(fx["change"] == "fixed") & (fx["run_time"] > started["run_time"])].sort_values("run_time")
    first_fixed = fixed[fixed["run_id"] == fixed["run_id"].iloc[0]]
    assert set(first_fixed["name"]) == FX
    assert shown["metadata"]["run_comparisons"]["days_held_back"].value == "none"


def test_failure_clusters_find_the_outage_across_both_fx_tests(shown):
    clusters = shown["tables"]["failure_clusters"]
    across = clusters[clusters["tests"] > 1]
    outage = across[across["frame"] == "com.acme.payments.FxRatesClient.fetch"]
    assert len(outage) == 1, across[["frame", "signature"]].to_dict("records")
    (row,) = outage.to_dict("records")
    assert row["tests"] == 2 and all(name in row["example_tests"] for name in FX), row["example_tests"]
    assert "ConnectException: Connection refused: rates.example.com:<n>" in row["signature"]
    # Every build of the outage's days, two tests each.
    assert row["runs"] >= 2 * len(demo.OUTAGE_DAYS) and row["occurrences"] == 2 * row["runs"]
    assert shown["metadata"]["failure_clusters"]["clusters_across_tests"].value == len(across) == 2
