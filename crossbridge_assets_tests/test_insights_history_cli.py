"""`crossbridge history` from a terminal, and the test history of the demo data (ingested and
recomputed through the CLI's real Dagster runs), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
from sqlalchemy import func, select

from crossbridge_assets import demo
from crossbridge_assets.cli import main
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine, now
from crossbridge_assets_tests.insights_helpers import History, junit


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shop(crossbridge_env) -> History:
    """test_pay[visa] broken since build 3 on main, passing on feature/x; test_pay[amex] passing."""
    h = History(crossbridge_env)
    day, start = now().date().isoformat(), now() - timedelta(hours=10)
    for i, visa in enumerate(["passed", "passed", "failed", "failed"], start=1):
        h.run(str(i), junit({"test_pay[visa]": visa, "test_pay[amex]": "passed", "test_refund": "passed"}), day=day,
              started_at=(start + timedelta(hours=i)).isoformat())
    h.run("f1", junit({"test_pay[visa]": "passed"}), branch="feature/x", day=day)
    return h


def test_history_names_the_broken_branch_and_the_build_it_broke_in(crossbridge_env, capsys):
    shop(crossbridge_env)
    code, out, err = run_cli(capsys, "history", "test_pay[visa]")
    assert code == 0, err
    assert out.splitlines()[0] == "tests.test_shop::test_pay[visa]  (junit)"
    main_line = next(line for line in out.splitlines() if line.startswith("  shop / main:"))
    assert "BROKEN: failing for 2 run(s) since build 3" in main_line and "last passed in build 2" in main_line
    assert "shop / feature/x: passing" in out
    assert "last failure: build 4" in out and "test_pay[visa] went wrong" in out
    assert "latest runs, oldest first: 1:P 2:P 3:F 4:F" in out
    assert "[amex]" not in out, "each parameterized case keeps its own history"


def test_history_json_and_filters(crossbridge_env, capsys):
    shop(crossbridge_env)
    code, out, _ = run_cli(capsys, "history", "TEST_PAY", "--json", "--branch", "main", "--runs", "2")
    assert code == 0
    found = {(h["name"], h["parameters"]): h for h in json.loads(out)}
    assert set(found) == {("test_pay", "[visa]"), ("test_pay", "[amex]")}
    visa = found[("test_pay", "[visa]")]
    assert visa["broken"] is True and visa["streak_since_build"] == "3" and visa["branch"] == "main"
    assert [r["build"] for r in visa["recent_runs"]] == ["3", "4"]
    assert visa["recent_runs"][-1]["status"] == "failed" and visa["streak_since_at"].startswith(now().date().isoformat()[:4])
    assert found[("test_pay", "[amex]")]["broken"] is False
    # A wildcard pattern over the full name.
    code, out, _ = run_cli(capsys, "history", "*::test_re*", "--json")
    assert code == 0 and [h["name"] for h in json.loads(out)] == ["test_refund"]


def test_history_of_a_renamed_test_says_it_is_gone_and_its_likely_new_name(crossbridge_env, capsys):
    h = shop(crossbridge_env)
    start = now() - timedelta(hours=5)
    for i in range(5, 8):
        h.run(str(i), junit({"test_pay[visa]": "passed", "test_pay[amex]": "passed", "test_refund_in_full": "passed"}),
              day=now().date().isoformat(), started_at=(start + timedelta(minutes=i)).isoformat())
    code, out, err = run_cli(capsys, "history", "test_refund", "--branch", "main")
    assert code == 0, err
    assert ("shop / main: GONE: not in the last 3 runs of the branch; last ran in build 4" in out
            and "probably renamed to tests.test_shop::test_refund_in_full" in out)
    assert "tests.test_shop::test_refund_in_full  (junit)" in out


def test_history_says_what_is_wrong(crossbridge_env, capsys):
    h = shop(crossbridge_env)
    code, out, err = run_cli(capsys, "history", "test_checkout")
    assert code == 1 and out == ""
    assert "no test matches 'test_checkout'" in err
    code, _, err = run_cli(capsys, "history", "test_refund", "--project", "shopp")
    assert code == 1 and "on project shopp" in err and "they ran on project shop" in err
    code, _, err = run_cli(capsys, "history", "test_refund", "--branch", "feature/x")
    assert code == 1 and "on branch feature/x" in err and "they ran on branch main" in err
    # Known, but its results are older than the window the history reads.
    h.run("0", junit({"test_legacy": "passed"}), day=(now() - timedelta(days=60)).date().isoformat())
    code, _, err = run_cli(capsys, "history", "test_legacy")
    assert code == 1 and "1 test(s) match 'test_legacy' but none ran in the last 30 days" in err


def test_the_demo_history_shows_its_broken_test_broken_and_its_fixed_tests_fixed(crossbridge_env, capsys, monkeypatch,
                                                                                tmp_path):
    """The demo promises one test broken now (LoginForm 'redirects after login', from day 11,
    on both web-frontend branches), two broken for a while and fixed since, and flaky ones that
    must not read as broken. Its JUnit durations are noise around each test's mean, but for the
    gateway retry test, slower over the last days: the one test slower."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, out, err = run_cli(capsys, "demo")
    assert code == 0, out + err
    engine = make_engine(crossbridge_env.warehouse_url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(schema.test_history))]
    by = {(r["project"], r["branch"], r["name"]): r for r in rows}
    broken = {key for key, r in by.items() if r["broken"]}
    assert broken == {("web-frontend", "main", "redirects after login"),
                      ("web-frontend", "fix/login-redirect", "redirects after login")}
    on_main = by[("web-frontend", "main", "redirects after login")]
    # Failing in every run of its branch since it broke: the builds of its last 3 days, and the
    # re-runs of those a flaky test failed.
    T = schema.test_runs
    with engine.connect() as conn:
        since_break = conn.execute(
            select(func.count()).select_from(T).where(
                T.c.project == "web-frontend", T.c.branch == "main", T.c.started_at >= on_main["streak_since_at"])
        ).scalar_one()
    assert on_main["streak_runs"] == since_break >= 6 and on_main["last_passed_build"] is not None
    for key in [("checkout-service", "main", "test_vat_rounding"), ("payments-api", "main", "fetchesDailyRates")]:
        fixed = by[key]
        assert fixed["streak_status"] == "passed" and fixed["failed"] > 0 and fixed["last_failed_build"] is not None
    flaky = by[("payments-api", "main", "refundIsIdempotent")]
    assert flaky["passed_on_retry"] > 0 and not flaky["broken"]
    assert not any(r["removed"] for r in rows)
    assert {r["name"] for r in rows if r["slower"]} == {demo.SLOWER_TEST}
    # Both cases of the parameterized coupon test, apart.
    assert {r["parameters"] for r in rows if r["name"] == "test_apply_coupon" and r["branch"] == "main"} == {"[SAVE10]", "[EXPIRED]"}

    md = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey("test_history")).asset_materialization.metadata
    assert md["tests_broken"].value == 2 and md["tests_tracked"].value == 26
    assert "LoginForm::redirects after login |" in md["broken_now"].value
    assert f"https://ci.example.com/web-frontend/builds/{on_main['streak_since_build']}" in md["broken_now"].value

    # The terminal tells the same story.
    code, out, _ = run_cli(capsys, "history", "redirects after login", "--project", "web-frontend", "--json")
    assert code == 0
    cli = {h["branch"]: h for h in json.loads(out)}
    assert set(cli) == {"main", "fix/login-redirect"}
    assert cli["main"]["broken"] and cli["main"]["streak_since_build"] == on_main["streak_since_build"]
