"""Flaky tests through a real Dagster instance on SQLite and PostgreSQL: reports written by real
tools with their retries, a history with a known flaky test, a new one, a broken and a fixed test,
the check's alert through the real sensor to an HTTP receiver, and `crossbridge demo`."""

from datetime import timedelta, timezone

import dagster as dg
from sqlalchemy import select

from crossbridge_assets import demo
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.health.alerting import check_alerts
from crossbridge_assets.defs.insights.flaky import flaky_tests, no_new_flaky_tests
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine, now
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.insights_helpers import History, junit
from crossbridge_assets_tests.test_alerts import Receiver
from crossbridge_assets_tests.test_cli import run_cli

FLAKY_DEFS = dg.Definitions(assets=[flaky_tests], asset_checks=[no_new_flaky_tests], sensors=[check_alerts],
                            resources={"warehouse": WarehouseResource()})


def day(ago: int) -> str:
    return (now() - timedelta(days=ago)).date().isoformat()


def at(ago: int, hour: int) -> str:
    return (now() - timedelta(days=ago)).replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


def naive_utc(moment):
    """A time read back from the warehouse, in UTC without its zone (SQLite gives it so)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def materialize(instance) -> tuple[dict, dg.AssetCheckEvaluation]:
    result = dg.materialize([flaky_tests, no_new_flaky_tests], instance=instance,
                            resources={"warehouse": WarehouseResource()})
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "no_new_flaky_tests" and check.asset_key == dg.AssetKey("flaky_tests")
    return result.asset_materializations_for_node("flaky_tests")[0].metadata, check


def table(settings) -> dict[tuple[str, str], dict]:
    with make_engine(settings.warehouse_url).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(schema.flaky_tests))]
    return {(r["project"], r["name"] + (r["parameters"] or "")): r for r in rows}


def test_reports_of_real_tools_show_their_retried_tests_as_flaky(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    h.run("7", (FIXTURES / "junit/surefire-flaky.xml").read_text(), project="cart", day=day(0), name="TEST-cart.xml")
    h.run("8", (FIXTURES / "results/pytest-rerun-junit.xml").read_text(), project="shop", day=day(0))
    h.run("9", (FIXTURES / "results/js/playwright-junit-retries.xml").read_text(), project="web", day=day(0))
    h.run("10", (FIXTURES / "results/testng-results-retry.xml").read_text(), project="pay", day=day(0),
          name="testng-results.xml")
    metadata, check = materialize(dagster_instance)
    rows = table(crossbridge_env)
    # Passed on a retry: Surefire's flakyFailure, pytest-rerunfailures, Playwright's retries, TestNG's retry analyzer.
    assert set(rows) == {("cart", "addsItemConcurrently"), ("shop", "test_flaky"),
                         ("web", "passes on retry[api-v1]"), ("web", "passes on retry[api-v2]"),
                         ("pay", "charge(2)"), ("pay", "pay")}
    # Not: failed every rerun (test_always_fails, rejects a bad order, refund), failed then errored.
    surefire = rows[("cart", "addsItemConcurrently")]
    assert surefire["retry_runs"] == 1 and surefire["runs"] == 1 and surefire["flaky_rate"] == 1.0
    assert surefire["evidence"] == "passed on a retry in 1 of 1 runs: build 7."
    assert surefire["flagged_on"] == day(0) and surefire["first_evidence_at"] is not None
    assert metadata["flaky_tests"].value == 6 and metadata["by_retry"].value == 6
    assert metadata["dagster/row_count"].value == 6 and metadata["new_flaky_tests"].value == 6
    top = metadata["top_flaky_tests"].value
    assert (f"| com.acme.cart.CartServiceTest::addsItemConcurrently | cart/main | 100% | 1 | {day(0)} | "
            "passed on a retry in 1 of 1 runs: build 7. |") in top
    assert "test_always_fails" not in top
    # All of them are new: they arrived today.
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith(f"6 test(s) became flaky since {day(1)}: ")
    assert check.metadata["new_flaky_tests"].value == 6


def test_a_known_flaky_test_is_not_new_a_new_one_is_and_its_alert_reaches_the_webhook(
        crossbridge_env, dagster_instance, monkeypatch):
    h = History(crossbridge_env)
    plain = {"test_pay": "passed", "test_tax": "failed", "test_ship": "passed"}
    # Ten days of history, a run a day: test_pay passed on a retry nine days ago, test_tax is broken
    # throughout, test_refund failed for three days and passes since its fix.
    for ago in range(10, 0, -1):
        refund = "failed" if ago in (8, 7, 6) else "passed"
        h.run(str(100 - ago), junit({**plain, "test_refund": refund}, reruns={"test_pay": 1} if ago == 9 else None),
              day=day(ago), started_at=at(ago, 9), commit=f"c{ago}")
    metadata, check = materialize(dagster_instance)
    rows = table(crossbridge_env)
    assert set(rows) == {("shop", "test_pay")}
    pay = rows[("shop", "test_pay")]
    assert pay["flagged_on"] == day(9) and pay["evidence"] == "passed on a retry in 1 of 10 runs: build 91."
    assert pay["first_evidence_at"] == pay["last_evidence_at"]
    nine_days_ago = now().replace(hour=9, minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(days=9)
    assert naive_utc(pay["first_evidence_at"]) == nine_days_ago
    assert metadata["flaky_tests"].value == 1 and metadata["new_flaky_tests"].value == 0
    assert check.passed is True and check.description == f"no test became flaky since {day(1)}"

    # Today: test_pay passes on a retry again (known, not new), and test_ship does for the first time.
    h.run("100", junit({**plain, "test_refund": "passed"}, reruns={"test_pay": 1, "test_ship": 1}),
          day=day(0), started_at=at(0, 0), commit="c0")
    metadata, check = materialize(dagster_instance)
    assert set(table(crossbridge_env)) == {("shop", "test_pay"), ("shop", "test_ship")}
    assert metadata["flaky_tests"].value == 2 and metadata["new_flaky_tests"].value == 1
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description == f"1 test(s) became flaky since {day(1)}: tests.test_shop::test_ship on shop/main"
    evidence = check.metadata["evidence"].value
    assert (f"| tests.test_shop::test_ship | shop/main | 9% | 11 | {day(0)} | "
            "passed on a retry in 1 of 11 runs: build 100. |") in evidence
    assert "test_pay" not in evidence
    assert "Open the builds named in the evidence" in check.metadata["what_to_do"].value

    # The failed check reaches the alert webhook through the real sensor, once.
    receiver = Receiver()
    monkeypatch.setenv("CROSSBRIDGE_ALERT_WEBHOOK_URL", receiver.url)
    try:
        with dg.build_sensor_context(instance=dagster_instance, definitions=FLAKY_DEFS) as context:
            tick = check_alerts(context)
        with dg.build_sensor_context(instance=dagster_instance, cursor=tick.cursor, definitions=FLAKY_DEFS) as context:
            check_alerts(context)
    finally:
        receiver.close()
    (alert,) = receiver.delivered
    assert alert["event"] == "check_failed" and alert["check"] == "no_new_flaky_tests" and alert["asset"] == "flaky_tests"
    assert alert["severity"] == "WARN" and "test_ship" in alert["description"]
    assert alert["what_to_do"].startswith("Open the builds named in the evidence")


def test_skipped_runs_and_other_branches_make_no_flaky_test(crossbridge_env, dagster_instance):
    h = History(crossbridge_env)
    for ago in range(6, 0, -1):
        # main: test_pay passes, or is skipped; the feature branch fails it every time, on the same commits.
        h.run(f"m{ago}", junit({"test_pay": "skipped" if ago % 2 else "passed"}), day=day(ago),
              started_at=at(ago, 9), commit=f"c{ago}")
        h.run(f"f{ago}", junit({"test_pay": "failed"}), branch="feature/x", day=day(ago), started_at=at(ago, 10),
              commit=f"c{ago}")
    metadata, check = materialize(dagster_instance)
    assert table(crossbridge_env) == {}
    assert metadata["flaky_tests"].value == 0 and metadata["top_flaky_tests"].value == "_no flaky test in the window_"
    assert check.passed is True


def test_the_demo_flags_its_flaky_tests_and_none_of_its_broken_ones(crossbridge_env, capsys, monkeypatch, tmp_path):
    """`crossbridge demo` ingests two weeks of history and refreshes the insights: the tests it makes
    flaky are found, with each kind of evidence; the broken ones (one fixed since) are not."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, out, err = run_cli(capsys, "demo")
    assert code == 0, (out, err)
    rows = {(r["project"], r["branch"], r["name"]): r for r in table(crossbridge_env).values()}
    declared_flaky = {(project, t.name) for project, spec in demo.PROJECTS.items() for t in spec["tests"] if t.flaky}
    broken = {t.name for spec in demo.PROJECTS.values() for t in spec["tests"] if t.broken_from is not None}
    assert {(project, name) for project, _branch, name in rows} == declared_flaky
    assert set(rows) == {("checkout-service", "main", "test_gateway_timeout_retries"),
                         ("checkout-service", "main", "test_concurrent_reservations"),
                         ("web-frontend", "main", "lazy loads images"),
                         ("payments-api", "main", "refundIsIdempotent")}
    assert not broken & {name for _p, _b, name in rows}
    # Surefire reran the payments test and it passed; CI re-ran failed builds on their commit.
    assert rows[("payments-api", "main", "refundIsIdempotent")]["retry_runs"] > 0
    assert sum(r["same_commit"] for r in rows.values()) > 0 and sum(r["flips"] for r in rows.values()) > 0
    for row in rows.values():
        assert "(https://ci.example.com/" in row["evidence"], row["evidence"]


def test_a_report_that_arrives_late_is_still_new(crossbridge_env, dagster_instance):
    """A run of three weeks ago uploaded today (a CI job's artifacts sent late): its evidence is old
    by its run time, new by its arrival, and the check names it."""
    h = History(crossbridge_env)
    for ago in (23, 22, 20):
        h.run(f"b{ago}", junit({"test_pay": "passed"}), day=day(ago), started_at=at(ago, 9), commit=f"c{ago}")
    h.run("b21", junit({"test_pay": "passed"}, reruns={"test_pay": 2}), day=day(0), started_at=at(21, 9), commit="c21")
    _metadata, check = materialize(dagster_instance)
    (row,) = table(crossbridge_env).values()
    assert naive_utc(row["first_evidence_at"]).date() == (now() - timedelta(days=21)).date()
    assert row["flagged_on"] == day(0) and row["evidence"] == "passed on a retry in 1 of 4 runs: build b21."
    assert check.passed is False and "tests.test_shop::test_pay on shop/main" in check.description
