"""What the four insights share: a frame's rows as plain values, and the arrival days whose
blocking check fails, left out of every insight alike (through a real Dagster instance, on SQLite
and PostgreSQL)."""

from datetime import datetime, timedelta, timezone

import dagster as dg
import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from crossbridge_assets.analysis import plain, records
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.health import no_duplicate_results
from crossbridge_assets.defs.insights.clusters import failure_clusters
from crossbridge_assets.defs.insights.comparisons import run_comparisons
from crossbridge_assets.defs.insights.flaky import flaky_tests
from crossbridge_assets.defs.insights.history import test_history
from crossbridge_assets.defs.results import test_results
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now
from crossbridge_assets_tests.insights_helpers import History, junit

RESOURCES = {"warehouse": WarehouseResource()}
INSIGHTS = ["run_comparisons", "flaky_tests", "failure_clusters", "test_history"]
CLEAN = (now() - timedelta(days=3)).date().isoformat()
HELD = (now() - timedelta(days=2)).date().isoformat()


def test_a_frame_as_rows_of_plain_values():
    frame = pd.DataFrame({
        "at": [pd.Timestamp("2026-11-20 08:00", tz="UTC"), pd.NaT],
        "runs": np.array([3, 4], dtype="int64"),
        "rate": [0.5, np.nan],
        "ratio": [float("inf"), 1.0],
        "slower": np.array([True, False]),
        "note": ["a", None],
        "tags": [["x"], {"k": 1}],
    })
    first, second = records(frame)
    assert first == {"at": datetime(2026, 11, 20, 8, tzinfo=timezone.utc), "runs": 3, "rate": 0.5,
                     "ratio": float("inf"), "slower": True, "note": "a", "tags": ["x"]}
    assert type(first["at"]) is datetime and type(first["runs"]) is int and type(first["slower"]) is bool
    assert second["at"] is None and second["rate"] is None and second["note"] is None and second["tags"] == {"k": 1}
    assert [plain(v) for v in (np.float64(2.5), np.int32(7), None, float("nan"), "")] == [2.5, 7, None, None, ""]
    assert type(plain(np.float64(2.5))) is float and type(plain(np.int32(7))) is int
    assert records(frame.iloc[:0]) == []
    stamp = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert [r["computed_at"] for r in records(frame, computed_at=stamp)] == [stamp, stamp]


def _ingest(instance, day: str) -> list[bool]:
    result = dg.materialize([test_results, no_duplicate_results], instance=instance, resources=RESOURCES,
                            partition_key=day, raise_on_error=False)
    return [e.passed for e in result.get_asset_check_evaluations() if e.check_name == "no_duplicate_results"]


def _insights(instance) -> dict[str, dict]:
    result = dg.materialize([run_comparisons, flaky_tests, failure_clusters, test_history], instance=instance,
                            resources=RESOURCES)
    assert result.success
    return {name: result.asset_materializations_for_node(name)[0].metadata for name in INSIGHTS}


def _names(h: History, table) -> set[str]:
    with h.engine.connect() as conn:
        return {r.name for r in conn.execute(select(table.c.name))}


def _messages(h: History) -> set[str]:
    with h.engine.connect() as conn:
        return {r.example_message for r in conn.execute(select(schema.failure_clusters.c.example_message))}


def test_every_insight_leaves_out_the_days_whose_blocking_check_fails(crossbridge_env, dagster_instance):
    """A day whose no_duplicate_results fails feeds none of the four insights: its flaky test, its
    failure and its tests are nowhere, the clean day's are, and each insight names the day it held
    back. Once the day is clean again every insight reads it."""
    h = History(crossbridge_env)
    h.run("1", junit({"test_pay": "passed", "test_ship": ("failed", "ConnectionError: refused on port 5432")},
                     reruns={"test_pay": 1}), day=CLEAN, started_at=f"{CLEAN}T08:00:00+00:00")
    h.run("2", junit({"test_pay": "passed", "test_ship": "passed"}), day=CLEAN, started_at=f"{CLEAN}T10:00:00+00:00")
    h.run("3", junit({"test_cart": ("failed", "KeyError: basket 17"), "test_refund": "passed"},
                     suite="tests.test_basket", reruns={"test_refund": 1}), day=HELD,
          started_at=f"{HELD}T08:00:00+00:00")
    assert _ingest(dagster_instance, CLEAN) == [True] and _ingest(dagster_instance, HELD) == [True]

    # A second `tests` row for an identity of the held day: its blocking check fails.
    with h.engine.begin() as conn:
        row = dict(conn.execute(select(schema.tests).where(schema.tests.c.name == "test_cart")).one()._mapping)
        conn.execute(insert(schema.tests).values(**{**row, "test_id": "x" * 20}))
    assert _ingest(dagster_instance, HELD) == [False]

    held = _insights(dagster_instance)
    for name in INSIGHTS:
        assert held[name]["days_held_back"].value.startswith(HELD), name
    assert _names(h, schema.flaky_tests) == {"test_pay"}
    assert _names(h, schema.test_history) == {"test_pay", "test_ship"}
    assert held["test_history"]["tests_removed"].value == 0
    # The failed tries count too: test_pay's retry is a failure of its own.
    assert _messages(h) == {"ConnectionError: refused on port 5432", "test_pay went wrong"}
    with h.engine.connect() as conn:
        assert {r.build for r in conn.execute(select(schema.run_comparisons.c.build))} == {"1", "2"}

    with h.engine.begin() as conn:
        conn.execute(delete(schema.tests).where(schema.tests.c.test_id == "x" * 20))
    assert _ingest(dagster_instance, HELD) == [True]
    clean = _insights(dagster_instance)
    for name in INSIGHTS:
        assert clean[name]["days_held_back"].value == "none", name
    assert _names(h, schema.flaky_tests) == {"test_pay", "test_refund"}
    assert _names(h, schema.test_history) == {"test_pay", "test_ship", "test_cart", "test_refund"}
    assert _messages(h) == {"ConnectionError: refused on port 5432", "test_pay went wrong", "KeyError: basket 17",
                            "test_refund went wrong"}
