"""The insights after months of ingestion: the days they hold back, however long the check's history."""

from __future__ import annotations

from datetime import timedelta


# ---------------------------------------------------------------------------- insights and their checks


def test_a_day_held_back_stays_held_back_however_many_batches_come_after(crossbridge_env, dagster_instance,
                                                                         monkeypatch):
    """A day whose no_duplicate_results fails is left out of every insight. Which days fail was
    read from the newest 1,000 evaluations of the check only: an instance ingesting 50 batches
    a day makes that many in 20 days, after which the failing day, still inside the window,
    came back into the insights with its duplicated rows. Here a page holds 3 evaluations, and
    five batches of later days come after the failing one."""
    from sqlalchemy import delete, insert, select

    from crossbridge_assets.defs.insights import common
    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import now
    from crossbridge_assets_tests.insights_helpers import History, junit
    from crossbridge_assets_tests.test_insights_common import INSIGHTS, _ingest, _insights, _names

    monkeypatch.setattr(common, "CHECK_HISTORY", 3)
    day = [(now() - timedelta(days=ago)).date().isoformat() for ago in range(8)]
    h = History(crossbridge_env)
    h.run("1", junit({"test_cart": "failed", "test_refund": "passed"}, suite="tests.test_basket"), day=day[6],
          started_at=f"{day[6]}T08:00:00+00:00")
    with h.engine.begin() as conn:  # a second `tests` row for an identity of that day
        row = dict(conn.execute(select(schema.tests).where(schema.tests.c.name == "test_cart")).one()._mapping)
        conn.execute(insert(schema.tests).values(**{**row, "test_id": "x" * 20}))
    assert _ingest(dagster_instance, day[6]) == [False]
    # The extra row goes (a `tests` row is checked on every day), the day is not materialized again.
    with h.engine.begin() as conn:
        conn.execute(delete(schema.tests).where(schema.tests.c.test_id == "x" * 20))
    for ago in (5, 4, 3, 2, 1):
        h.run(str(10 + ago), junit({"test_pay": "passed"}), day=day[ago], started_at=f"{day[ago]}T08:00:00+00:00")
        assert _ingest(dagster_instance, day[ago]) == [True]

    insights = _insights(dagster_instance)
    for name in INSIGHTS:
        assert insights[name]["days_held_back"].value.startswith(day[6]), (name, insights[name]["days_held_back"])
    assert _names(h, schema.test_history) == {"test_pay"}
