"""Run comparisons where people meet them: `crossbridge summary` after each CI run, and the demo
history run through ingestion, the run_comparisons asset and its check."""

import json

import pandas as pd
from sqlalchemy import select

from crossbridge_assets.analysis import compare
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.insights_helpers import junit
from crossbridge_assets_tests.test_cli import run_cli


def ingest(capsys, tmp_path, build: str, cases: dict, branch: str = "main", commit: str | None = None) -> None:
    drop = tmp_path / f"build-{branch.replace('/', '-')}-{build}"
    drop.mkdir()
    (drop / "junit.xml").write_text(junit(cases), encoding="utf-8")
    code, _, err = run_cli(capsys, "ingest", "--project", "shop", "--branch", branch, "--build", build,
                           "--commit", commit or f"sha{build}", str(drop))
    assert code == 0, err


def test_summary_tells_each_runs_new_failures_and_fixes(crossbridge_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ingest(capsys, tmp_path, "1", {"test_pay": "passed", "test_refund": "failed", "test_ship": "skipped"})
    code, out, _ = run_cli(capsys, "summary")
    assert code == 0 and "shop/main #1: first run of the branch, nothing to compare with" in out

    ingest(capsys, tmp_path, "2", {"test_pay": "failed", "test_refund": "passed", "test_ship": "failed"})
    ingest(capsys, tmp_path, "3", {"test_pay": "failed"}, branch="feature/x")
    code, out, _ = run_cli(capsys, "summary")
    assert code == 0
    # The table is as before; the comparison follows it.
    assert out.index("tests") < out.index("against the previous run of the branch:")
    assert "shop/main #2 vs #1: 2 new failure(s): test_pay, test_ship; 1 fixed: test_refund" in out
    # feature/x's first run starts from main #2, where test_pay failed already: nothing new.
    assert "shop/feature/x" not in out[out.index("against the previous run of the branch:"):]

    code, out, _ = run_cli(capsys, "summary", "--json")
    runs = {r["build"]: r for r in json.loads(out)}
    second = runs["2"]["comparison"]
    assert second["state"] == "compared" and second["previous_build"] == "1"
    assert [t["name"] for t in second["new_failures"]] == ["test_pay", "test_ship"]
    # test_ship was skipped in build 1 and never ran before: it did not fail before, said so.
    assert second["new_failures"][1]["previous_status"] == "skipped"
    assert [t["name"] for t in second["fixed"]] == ["test_refund"]
    assert runs["1"]["comparison"]["state"] == "no_previous_run"
    assert (runs["3"]["comparison"]["previous_branch"], runs["3"]["comparison"]["previous_build"]) == ("main", "2")
    assert (runs["2"]["tests"], runs["2"]["failures"]) == (3, 2)  # the existing figures stay


def test_summary_says_a_rerun_of_the_same_commit_is_flaky_not_a_code_change(crossbridge_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ingest(capsys, tmp_path, "1", {"test_pay": "passed"}, commit="abc")
    ingest(capsys, tmp_path, "2", {"test_pay": "failed"}, commit="abc")
    code, out, _ = run_cli(capsys, "summary")
    assert "shop/main #2 vs #1: 1 new failure(s): test_pay (same commit: flaky or environment)" in out


def _tables(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    engine = make_engine(settings.warehouse_url)
    with engine.connect() as conn:
        runs = pd.DataFrame([dict(r._mapping) for r in conn.execute(select(schema.run_comparisons))])
        changes = pd.DataFrame([dict(r._mapping) for r in conn.execute(select(schema.run_test_changes))])
    return runs, changes


def test_the_demo_history_shows_its_broken_and_fixed_tests(crossbridge_env, capsys, monkeypatch, tmp_path):
    """The demo breaks FxRatesIT.fetchesDailyRates on days 5-7, test_vat_rounding on days 9-11 and
    'redirects after login' from day 11 on (never fixed); feature branches start on day 7; an
    outage of the FX rates service fails both FxRatesIT tests on days 10-11."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, out, err = run_cli(capsys, "demo")
    assert code == 0, out + err
    runs, changes = _tables(crossbridge_env)
    # Every main's first run has no previous run, and nothing else lacks one; the feature
    # branches' first runs start from their main.
    first = runs[runs["state"] == compare.NO_PREVIOUS_RUN]
    assert len(first) == 3 and set(first["branch"]) == {"main"}
    assert changes[changes["run_id"].isin(set(first["run_id"]))].empty
    forked = runs[runs["previous_branch"].notna() & (runs["previous_branch"] != runs["branch"])]
    assert sorted(forked["branch"]) == ["feature/apple-pay", "fix/login-redirect"]
    assert set(forked["previous_branch"]) == {"main"}

    def story(project: str, branch: str, name: str) -> pd.DataFrame:
        mine = changes[(changes["project"] == project) & (changes["branch"] == branch) & (changes["name"] == name)]
        return mine.sort_values("run_time")

    fx = story("payments-api", "main", "fetchesDailyRates")
    # The FX rates outage (days 10-11) fails it again later, for another reason: its first break
    # is the story here, up to its first fix.
    fx = fx.iloc[: list(fx["change"]).index("fixed") + 1]
    # Two main builds a day (and re-runs of some): failing in every one of days 5-7, then fixed.
    assert fx["change"].iloc[0] == "new_failure" and fx["change"].iloc[-1] == "fixed"
    assert set(fx["change"].iloc[1:-1]) == {"still_failing"} and len(fx) >= 7
    broke, fixed = fx.iloc[0], fx.iloc[-1]
    assert (fixed["run_time"] - broke["run_time"]).days == 3 and broke["previous_status"] == "passed"
    assert set(fx["failing_since_build"].dropna()) == {broke["build"]}
    for branch in ("main", "feature/apple-pay"):
        vat = story("checkout-service", branch, "test_vat_rounding")
        assert vat["change"].iloc[0] == "new_failure" and vat["change"].iloc[-1] == "fixed", branch
        assert (vat["run_time"].iloc[-1] - vat["run_time"].iloc[0]).days == 3
    redirect = story("web-frontend", "main", "redirects after login")
    assert redirect["change"].iloc[0] == "new_failure" and set(redirect["change"].iloc[1:]) == {"still_failing"}
    assert "fixed" not in set(changes["change"][changes["name"] == "redirects after login"])
    # The demo re-runs some builds failed by a flaky test on the same commit: a new failure there is
    # said not to come from a code change.
    reruns = runs[runs["same_commit"]]
    assert len(reruns) and set(reruns["build"].str.endswith("-attempt-2")) == {True}
    rerun_failures = changes[changes["run_id"].isin(set(reruns["run_id"])) & (changes["change"] == "new_failure")]
    assert rerun_failures["note"].str.contains("same commit").all()
    # Flaky tests come and go; tests that never fail never show up.
    assert {"test_add_item", "postsDoubleEntry", "renders the email field"}.isdisjoint(set(changes["name"]))

    # The default branches: web-frontend/main still fails the test it broke on day 11.
    latest, failing = compare.regressions_of(runs, changes, ("main", "master"))
    assert set(latest["project"]) == {"checkout-service", "web-frontend", "payments-api"}
    assert "redirects after login" in set(failing["name"])
    assert set(failing["failing_since_build"][failing["name"] == "redirects after login"]) == {redirect["build"].iloc[0]}

    # And a developer sees the day it broke from the terminal.
    code, out, _ = run_cli(capsys, "summary", "--project", "payments-api", "--limit", "40")
    assert f"payments-api/main #{broke['build']} vs #" in out and "1 new failure(s): fetchesDailyRates" in out
    assert f"payments-api/main #{fixed['build']} vs #" in out and "1 fixed: fetchesDailyRates" in out
