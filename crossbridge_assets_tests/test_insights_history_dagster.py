"""The test_history asset through a real Dagster instance, on SQLite and PostgreSQL: its table,
the metadata on its first screen, runs waiting for shards; and on the demo history."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
from sqlalchemy import select

from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.insights import history as history_defs
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import now
from crossbridge_assets.warehouse.insights import run_frame
from crossbridge_assets.warehouse.landing import LANDED
from crossbridge_assets.warehouse.results import load_archived_results
from crossbridge_assets_tests.insights_helpers import History


def junit_timed(cases: dict[str, tuple[str, float]], suite: str = "tests.test_shop") -> str:
    """A JUnit file whose tests each have a status and a time: {name: (status, seconds)}."""
    rows = []
    for name, (status, seconds) in cases.items():
        body = {"failed": f'<failure message="{name} broke" type="AssertionError">{name} broke</failure>',
                "skipped": "<skipped/>"}.get(status, "")
        rows.append(f'<testcase classname="{suite}" name="{name}" time="{seconds}">{body}</testcase>')
    return f'<?xml version="1.0"?>\n<testsuite name="{suite}" tests="{len(rows)}">' + "".join(rows) + "</testsuite>\n"


def today() -> str:
    return now().date().isoformat()


def materialize(instance) -> dg.ExecuteInProcessResult:
    result = dg.materialize([history_defs.test_history], instance=instance, resources={"warehouse": WarehouseResource()})
    assert result.success
    return result


def stored(h: History) -> dict[tuple[str, str], dict]:
    T = schema.test_history
    with h.engine.connect() as conn:
        return {(r.branch, r.name): dict(r._mapping) for r in conn.execute(select(T))}


def test_history_table_and_first_screen(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    day = today()
    start = now() - timedelta(hours=10)
    outcomes = [  # test_pay breaks in build 3; test_cart got slower in build 4; test_tax flakes once
        {"test_pay": ("passed", 0.2), "test_cart": ("passed", 0.2), "test_tax": ("passed", 0.1)},
        {"test_pay": ("passed", 0.2), "test_cart": ("passed", 0.21), "test_tax": ("failed", 0.1)},
        {"test_pay": ("failed", 0.2), "test_cart": ("passed", 0.19), "test_tax": ("passed", 0.1)},
        {"test_pay": ("failed", 0.2), "test_cart": ("passed", 1.6), "test_tax": ("passed", 0.1)},
    ]
    for i, cases in enumerate(outcomes):
        h.run(str(i + 1), junit_timed(cases), day=day, started_at=(start + timedelta(hours=i)).isoformat())
    # The same test on another branch, passing there.
    h.run("f1", junit_timed({"test_pay": ("passed", 0.2)}), branch="feature/x", day=day)

    result = materialize(dagster_instance)
    md = result.asset_materializations_for_node("test_history")[0].metadata
    assert md["dagster/row_count"].value == 4
    assert (md["tests_tracked"].value, md["tests_broken"].value, md["tests_slower"].value) == (3, 1, 1)
    assert md["tests_removed"].value == 0 and md["runs_in_window"].value == 5
    broken = md["broken_now"].value
    assert "| shop | main | tests.test_shop::test_pay |" in broken and "| 3 |" in broken  # since build 3
    assert "feature/x" not in broken
    slower = md["got_slower"].value
    assert "test_cart" in slower and "| 4 |" in slower and "1.6" in slower
    assert "test_tax" not in slower and "test_tax" not in broken

    rows = stored(h)
    pay = rows[("main", "test_pay")]
    assert pay["broken"] and pay["streak_runs"] == 2 and pay["streak_since_build"] == "3"
    assert pay["last_passed_build"] == "2" and pay["last_failure_message"].startswith("test_pay broke")
    # Times come back as UTC (SQLite keeps them without their offset).
    since = pay["streak_since_at"].replace(tzinfo=None) - (start + timedelta(hours=2)).replace(tzinfo=None)
    assert abs(since.total_seconds()) < 1
    assert not rows[("feature/x", "test_pay")]["broken"]
    cart = rows[("main", "test_cart")]
    assert cart["slower"] and cart["slower_rule"] == "ratio" and "run 4" in cart["slower_evidence"]
    tax = rows[("main", "test_tax")]
    assert not tax["broken"] and tax["pass_rate"] == 0.75

    # Recomputed whole: the test fixed in the next run is no longer broken.
    h.run("5", junit_timed(outcomes[0]), day=day, started_at=(start + timedelta(hours=5)).isoformat())
    md = materialize(dagster_instance).asset_materializations_for_node("test_history")[0].metadata
    assert md["tests_broken"].value == 0 and md["dagster/row_count"].value == 4
    pay = stored(h)[("main", "test_pay")]
    assert not pay["broken"] and pay["last_failed_build"] == "4"


def _land(h: History, build: str, xml: str, name: str, **manifest) -> None:
    """One report of a run whose manifest says more than History.run writes (shards)."""
    folder = h.settings.inbox / "shop" / "main" / build / name
    folder.mkdir(parents=True)
    (folder / "junit.xml").write_text(xml, encoding="utf-8")
    (folder / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main", "build": build, **manifest}))
    landed = h.landing.land(folder / "junit.xml", today())
    assert landed is not None and landed.status == LANDED, landed
    with h.engine.connect() as conn:
        report = conn.execute(select(schema.reports).where(schema.reports.c.sha256 == landed.sha256)).one()
    load_archived_results(h.engine, report)


def test_runs_waiting_for_shards_do_not_make_a_test_look_removed(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    start = now() - timedelta(hours=10)
    both = {"test_pay": ("passed", 0.2), "test_ship": ("passed", 0.2)}
    h.run("1", junit_timed(both), day=today(), started_at=start.isoformat())
    # Three later runs sharded in two; only the shard with test_pay arrived of each.
    for i in range(2, 5):
        _land(h, str(i), junit_timed({"test_pay": ("passed", 0.2)}), "shard-1", shard="1", shards_expected=2,
              started_at=(start + timedelta(hours=i)).isoformat())
    runs = run_frame(h.engine)
    assert runs.set_index("run_id")["complete"].sum() == 1 and set(runs["shards_expected"].dropna()) == {2}
    materialize(dagster_instance)
    ship = stored(h)[("main", "test_ship")]
    assert ship["missing_runs"] == 0 and not ship["removed"]

    # Once the other shards arrive without it, it is gone.
    for i in range(2, 5):
        _land(h, str(i), junit_timed({"test_other": ("passed", 0.2)}), "shard-2", shard="2", shards_expected=2)
    md = materialize(dagster_instance).asset_materializations_for_node("test_history")[0].metadata
    ship = stored(h)[("main", "test_ship")]
    assert ship["missing_runs"] == 3 and ship["removed"]
    # The one test of its suite that first ran in the next run is named as its likely new name.
    assert ship["renamed_to"] == "tests.test_shop::test_other"
    assert md["tests_removed"].value == 1 and "tests.test_shop::test_ship" in md["gone"].value


def test_an_empty_warehouse_gives_an_empty_history(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    md = materialize(dagster_instance).asset_materializations_for_node("test_history")[0].metadata
    assert md["dagster/row_count"].value == 0 and md["tests_tracked"].value == 0 and md["tests_broken"].value == 0
    assert md["broken_now"].value == "_no test is failing run after run_" and not stored(h)


def test_after_retention_the_history_is_what_is_left_and_says_a_streak_may_be_longer(crossbridge_env, dagster_instance):
    """Retention deletes raw results older than CROSSBRIDGE_RETENTION_DAYS (run aggregates stay,
    with no per-test rows): a failing streak reaching back to the oldest result left is shown as
    'at least' that long."""
    from crossbridge_assets.warehouse.retention import apply_retention

    h = History(crossbridge_env)
    for build, ago, status in [("1", 12, "passed"), ("2", 11, "failed"), ("3", 10, "failed"),
                               ("4", 3, "failed"), ("5", 2, "failed"), ("6", 1, "failed")]:
        when = now() - timedelta(days=ago)
        h.run(build, junit_timed({"test_pay": (status, 0.2)}), day=when.date().isoformat(), started_at=when.isoformat())
    materialize(dagster_instance)
    pay = stored(h)[("main", "test_pay")]
    assert (pay["streak_runs"], pay["streak_since_build"], pay["last_passed_build"]) == (5, "2", "1")
    assert not pay["streak_from_window_start"]

    apply_retention(crossbridge_env, h.engine, 5)
    md = materialize(dagster_instance).asset_materializations_for_node("test_history")[0].metadata
    pay = stored(h)[("main", "test_pay")]
    assert (pay["runs"], pay["streak_runs"], pay["streak_since_build"]) == (3, 3, "4")
    assert pay["broken"] and pay["streak_from_window_start"] and pay["last_passed_build"] is None
    assert "| 3+ | 4 |" in md["broken_now"].value
