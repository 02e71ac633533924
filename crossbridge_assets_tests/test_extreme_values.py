"""Values at the edges, end to end on SQLite and PostgreSQL: very long names, contexts, paths and
branches, times at the ends of the calendar. Each either goes through every stage (load,
insights, CLI) with the same result on both databases, or quarantines its report with a reason
naming the file — never a failed run or a database error as the reason."""

from __future__ import annotations

import json
import random
import string

import dagster as dg
from sqlalchemy import select

from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.insights import history as history_defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets_tests.insights_helpers import History, junit


# PostgreSQL's largest btree index entry, in bytes.
PG_INDEX_ENTRY = 2704


def noise(n: int, seed: int = 1) -> str:
    """Text that does not compress: PostgreSQL compresses an index entry before it measures it,
    so 'aaaa…' would fit where a real long name does not."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_test_history_holds_a_test_with_a_very_long_name(crossbridge_env, dagster_instance):
    """A 10 KB test name failed the whole test_history materialization on PostgreSQL (its name
    index takes at most 2704 bytes an entry): no test's history was written."""
    h = History(crossbridge_env)
    long_name = "test_" + noise(10_000)
    h.run("1", junit({long_name: "failed", "test_ok": "passed"}))
    result = dg.materialize([history_defs.test_history], instance=dagster_instance,
                            resources={"warehouse": WarehouseResource()})
    assert result.success
    with h.engine.connect() as conn:
        names = sorted(conn.execute(select(schema.test_history.c.name)).scalars())
    assert len(names) == 2 and "test_ok" in names
    kept = next(n for n in names if n != "test_ok")
    assert len(kept.encode()) < PG_INDEX_ENTRY // 2
    assert kept.startswith(long_name[:500]) and "…" in kept  # cut where a reader sees it was
    md = result.asset_materializations_for_node("test_history")[0].metadata
    assert md["tests_broken"].value == 1
