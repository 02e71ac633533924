"""The nightly jobs over a long history: run aggregates refresh the runs that changed, not every
run kept, and stay right through re-sent reports and the weekly retention sweep."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import select

from crossbridge_assets.defs import health as health_domain
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.definitions import defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets_tests.test_health_checks import DAY, drop, engine_of, ingest, junit


def _refresh(instance) -> int:
    result = dg.materialize([health_domain.run_aggregates], instance=instance,
                            resources={"warehouse": WarehouseResource()}, selection=[health_domain.run_aggregates])
    return result.asset_materializations_for_node("run_aggregates")[0].metadata["runs_refreshed"].value


def _aggregates(settings) -> dict[str, tuple]:
    A, T = schema.run_aggregates, schema.test_runs
    with engine_of(settings).connect() as conn:
        return {r.build: (r.tests, r.reports, r.computed_at) for r in conn.execute(
            select(T.c.build, A.c.tests, A.c.reports, A.c.computed_at).join(T, T.c.run_id == A.c.run_id))}


def test_run_aggregates_refresh_the_runs_that_changed(crossbridge_env, dagster_instance, monkeypatch):
    """Every night run_aggregates read every test result kept and rewrote every run's row: on
    months of history (1.4 million results) 0.9 s, longer each day. Only the runs that changed
    are read now: a new run, a report sent again in place of its first try, a report quarantined
    on a backfill. The others keep their row."""
    s = crossbridge_env
    ingest(s, dagster_instance, [drop(s, f"shop/main/{b}/junit.xml", text=junit(f"run{b}", tests=3),
                                      age_seconds=(20 - b) * DAY) for b in (1, 2, 3)])
    assert _refresh(dagster_instance) == 3
    first = _aggregates(s)
    assert {b: row[:2] for b, row in first.items()} == {"1": (3, 1), "2": (3, 1), "3": (3, 1)}

    # The next night: one new run.
    ingest(s, dagster_instance, [drop(s, "shop/main/4/junit.xml", text=junit("run4", tests=5), age_seconds=60)])
    assert _refresh(dagster_instance) == 1
    second = _aggregates(s)
    assert second["4"][:2] == (5, 1) and all(second[b] == first[b] for b in ("1", "2", "3"))
    assert _refresh(dagster_instance) == 0  # nothing changed since

    # Build 2's CI job re-run sends its report again, with other content: the run is counted anew.
    ingest(s, dagster_instance, [drop(s, "shop/main/2/junit.xml", text=junit("run2-again", tests=4), age_seconds=30)])
    assert _refresh(dagster_instance) == 1
    third = _aggregates(s)
    assert third["2"][:2] == (4, 1) and third["1"] == first["1"] and third["4"] == second["4"]

    # The weekly sweep, past builds 1 and 2: their aggregates stay as computed.
    monkeypatch.setenv("CROSSBRIDGE_RETENTION_DAYS", "10")
    assert defs.resolve_job_def("retention").execute_in_process(instance=dagster_instance).success
    after = _aggregates(s)
    assert {b: row[:2] for b, row in after.items()} == {"1": (3, 1), "2": (4, 1), "3": (3, 1), "4": (5, 1)}
    assert _refresh(dagster_instance) == 0


# ---------------------------------------------------------------------------- the hourly health checks


def test_no_duplicate_keys_reads_only_the_keys_the_database_does_not_keep(crossbridge_env, dagster_instance):
    """no_duplicate_keys, every hour, grouped every row of every table by each of its keys,
    primary keys included: months of results, per-test maps and spans read in full 24 times a
    day (2.2 million map rows and 1.4 million results: 3.1 s on PostgreSQL, 3.5 s on SQLite,
    longer each day), to prove what the database's own keys already guarantee. It checks the
    keys the database does not keep: the natural keys, and a primary key a half-applied
    migration left out, which it still finds broken."""
    from sqlalchemy import event, insert, text

    from crossbridge_assets_tests.test_health_checks import FIX, check

    s = crossbridge_env
    ingest(s, dagster_instance, [drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml")])
    engine = engine_of(s)
    read: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        read.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert check("no_duplicate_keys", s).passed is True
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    grouped = [q for q in read if "GROUP BY" in q]
    assert grouped and not [q for q in grouped if "test_results" in q or "test_attempts" in q], grouped

    # test_attempts as a restore without constraints left it, and a row written twice.
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE attempts_copy AS SELECT * FROM test_attempts"))
        conn.execute(text("DROP TABLE test_attempts"))
        conn.execute(text("ALTER TABLE attempts_copy RENAME TO test_attempts"))
        row = dict(conn.execute(select(schema.test_attempts).limit(1)).one()._mapping)
        conn.execute(insert(schema.test_attempts).values(**row))
    finding = check("no_duplicate_keys", s)
    assert finding.passed is False and "test_attempts" in finding.summary, finding.summary
