"""Text holding NUL characters, which JSON reports can carry (a test title or captured output with
a \\u0000 in it) and PostgreSQL's text cannot: the report is loaded with the NULs left out, on
every backend, instead of being quarantined."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import insert_missing, make_engine, migrate
from crossbridge_assets_tests.test_coverage_e2e import ingest
from crossbridge_assets_tests.test_ingest_e2e import drop

CTRF = Path(__file__).parent / "fixtures" / "results" / "js" / "ctrf.json"


def test_insert_missing_leaves_nul_out_of_text(crossbridge_env):
    engine = make_engine(crossbridge_env.warehouse_url)
    migrate(engine)
    row = dict(test_id="t\x00", framework="ctrf", suite="s\x00uite", name="na\x00me", parameters=None, file=None,
               first_seen=datetime(2026, 11, 30, tzinfo=timezone.utc))
    with engine.begin() as conn:
        insert_missing(conn, schema.tests, [row], ["test_id"])
    with engine.connect() as conn:
        got = conn.execute(select(schema.tests)).one()
    assert (got.test_id, got.suite, got.name) == ("t", "suite", "name")


def test_a_json_report_with_nul_in_a_title_and_output_is_loaded(crossbridge_env, dagster_instance):
    report = json.loads(CTRF.read_text(encoding="utf-8"))
    first = report["results"]["tests"][0]
    first["name"] = "adds\u0000 items"
    first["message"] = "boom\u0000"
    drop(crossbridge_env, "ctrf-nul.json", "nul", text=json.dumps(report))
    ingest(dagster_instance)
    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        reports = conn.execute(select(schema.reports.c.status, schema.reports.c.reason)).all()
        names = {r.name for r in conn.execute(select(schema.tests.c.name))}
    assert [r.status for r in reports] == ["landed"], reports
    assert "adds items" in names
    assert names == {t["name"].replace("\x00", "") for t in report["results"]["tests"]}
