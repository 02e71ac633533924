"""Sharded Playwright runs (fixtures/results/pwshard/, written by @playwright/test 1.65.1 and
playwright-ctrf-json-reporter 0.0.29: see regenerate-pwshard.sh there): each shard's JSON, JUnit
and CTRF file, the report merge-reports makes of the shards' blobs, --last-failed and
--repeat-each, read as Playwright's list reporter counted them (summaries.txt), every test with
the identity the unsharded run gives it, and the shards of one CI run adding up in the warehouse."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED, SKIPPED
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets.warehouse.queries import run_summaries
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_coverage_e2e import drop_shard, ingest

HERE = FIXTURES / "results" / "pwshard"
# Each run's file in each format (the CTRF reporter ran on the two shards only).
SUFFIX = {"json": ".json", "junit": "-junit.xml", "ctrf": "-ctrf.json"}
RUNS = ["full", "shard1", "shard2", "merged", "fully1", "fully2", "lastfailed", "repeat1", "repeat2"]
FILES = [(run, fmt) for run in RUNS for fmt in ("json", "junit")] + [("shard1", "ctrf"), ("shard2", "ctrf"), ("merged", "ctrf")]
# The pairs of shards of one run: by file, and with fullyParallel (by test).
SHARDS = [("shard1", "shard2"), ("fully1", "fully2")]
# The junit reporter joins the describe titles and the test's with ' › ' into one name: a title
# holding ' › ' cannot be told from a describe there (the JSON and CTRF files tell them apart).
AMBIGUOUS = {("cart.spec.js", "cart › checkout", "[alpha]"), ("math.spec.js.outer › group", "inside", "[alpha]")}


def _summaries() -> dict[str, Counter]:
    """What the list reporter printed at the end of each run ('shard1: 4 failed')."""
    out: dict[str, Counter] = {}
    for line in (HERE / "summaries.txt").read_text(encoding="utf-8").splitlines():
        run, count, what = re.fullmatch(r"([\w-]+): (\d+) (passed|failed|flaky|skipped|did not run).*", line).groups()
        out.setdefault(run, Counter())[what] = int(count)
    return out


CONSOLE = _summaries()


def _read(run: str, fmt: str):
    _, stream, cases = read_report(HERE / f"{run}{SUFFIX[fmt]}")
    return stream, cases


def _by_identity(cases) -> dict[str, tuple]:
    """identity -> (status, the statuses of its tries); each identity once."""
    out = {c.identity: (c.status, [a.status for a in c.attempts]) for c in cases}
    assert len(out) == len(cases)
    return out


def _outcome(case, fmt: str):
    # The junit file writes a flaky test's last try only (no includeRetries).
    return case.status if fmt == "junit" else (case.status, [a.status for a in case.attempts])


def test_the_files_are_the_runs_the_list_reporter_printed():
    assert set(CONSOLE) == set(RUNS) - {"merged"} | {"setup1", "setup2", "setup-merged"}
    assert CONSOLE["full"] == {"failed": 4, "flaky": 2, "skipped": 1, "did not run": 1, "passed": 9}


@pytest.mark.parametrize("run,fmt", FILES)
def test_counts_are_the_list_reporters(run, fmt):
    stream, cases = _read(run, fmt)
    assert stream.info.warnings == []
    assert {c.framework for c in cases} == {"playwright"}
    # merge-reports printed nothing of its own: the merged run is the unsharded one.
    console = CONSOLE["full" if run == "merged" else run]
    counts = Counter(c.status for c in cases)
    flaky = sum(1 for c in cases if c.flaky)
    seen = {"failed": counts[FAILED], "skipped": counts[SKIPPED], "passed": counts[PASSED]}
    expected = {"failed": console["failed"], "skipped": console["skipped"] + console["did not run"],
                "passed": console["passed"] + console["flaky"]}
    assert seen == expected
    assert flaky == (0 if fmt == "junit" else console["flaky"])
    assert stream.totals.as_dict()["tests"] == sum(console.values())


# The CTRF reporter ran on the shards by file only.
@pytest.mark.parametrize("one,two,fmt", [(*pair, fmt) for pair in SHARDS for fmt in ("json", "junit")]
                         + [("shard1", "shard2", "ctrf")])
def test_shards_add_up_to_the_unsharded_run(one, two, fmt):
    # CTRF's tests have the JSON reporter's identities.
    full = {c.identity: _outcome(c, fmt) for c in _read("full", "junit" if fmt == "junit" else "json")[1]}
    first, second = (_read(run, fmt)[1] for run in (one, two))
    ids_one, ids_two = {c.identity for c in first}, {c.identity for c in second}
    assert not ids_one & ids_two and len(first) + len(second) == len(full)
    assert {c.identity: _outcome(c, fmt) for c in [*first, *second]} == full


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_merged_report_is_the_unsharded_run(fmt):
    full = _by_identity(_read("full", fmt)[1])
    stream, merged = _read("merged", fmt)
    assert _by_identity(merged) == full
    assert stream.info.warnings == []


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_shard_files_say_which_shard(fmt):
    for n in (1, 2):
        stream, _ = _read(f"shard{n}", fmt)
        assert stream.info.properties.get("shard") == (f"{n}/2" if fmt == "json" else None)


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_last_failed_rerun_is_a_run_of_the_failed_tests_only(fmt):
    """--last-failed runs what failed or did not run: the same identities, the fixed test passed."""
    full = {c.identity: c for c in _read("full", fmt)[1]}
    stream, rerun = _read("lastfailed", fmt)
    assert stream.info.warnings == [] and stream.info.declared["tests"] == len(rerun) == 5
    assert {c.identity for c in rerun} == {i for i, c in full.items() if c.status != PASSED and c.name != "skipped"}
    assert {c.name: c.status for c in rerun} == {
        "fails": FAILED, "steps that fail": FAILED, "second fails": FAILED, "third": SKIPPED, "fixed on rerun": PASSED}
    fixed = next(c for c in rerun if c.name == "fixed on rerun")
    assert full[fixed.identity].status == FAILED and [a.status for a in fixed.attempts] == [PASSED]


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_repeat_each_in_shards_runs_every_test_twice_under_its_identity(fmt):
    full = {c.identity: c.status for c in _read("full", fmt)[1]}
    repeats = [c for run in ("repeat1", "repeat2") for c in _read(run, fmt)[1]]
    assert Counter(c.identity for c in repeats) == {i: 2 for i in full}
    assert {(c.identity, c.status) for c in repeats} == set(full.items())


@pytest.mark.parametrize("fmt", ["json", "junit", "ctrf"])
def test_serial_failure_skips_the_rest_and_failed_steps_fail_the_test(fmt):
    cases = {c.name: c for c in _read("shard1", fmt)[1] if c.suite.startswith("flow") or c.name == "steps that fail"}
    retried = 1 if fmt == "junit" else 2  # describe.serial retries its tests together
    # (the junit file's text of a failed test has every try's error: its tries are read from it)
    assert [(c.status, len(c.attempts)) for c in (cases["first"], cases["second fails"], cases["third"])] == [
        (PASSED, retried), (FAILED, 2), (SKIPPED, retried)]
    assert not cases["first"].flaky  # passed both times: no flaky test for Playwright
    assert cases["third"].final.message is None
    steps = cases["steps that fail"]
    assert steps.status == FAILED and "toBe(expected)" in steps.final.message


def test_title_holding_the_separator_in_json_ctrf_and_junit():
    json_keys = {(c.suite, c.name, c.parameters) for c in _read("full", "json")[1]}
    junit_keys = {(c.suite, c.name, c.parameters) for c in _read("full", "junit")[1]}
    ctrf_keys = {(c.suite, c.name, c.parameters) for run in ("shard1", "shard2") for c in _read(run, "ctrf")[1]}
    assert ctrf_keys == json_keys and AMBIGUOUS <= json_keys
    assert json_keys - junit_keys == AMBIGUOUS
    assert junit_keys - json_keys == {("cart.spec.js.cart", "checkout", "[alpha]"),
                                      ("math.spec.js.outer.group", "inside", "[alpha]")}


@pytest.mark.parametrize("fmt", ["json", "junit", "ctrf"])
def test_two_shards_of_one_run_hold_each_test_once_in_the_warehouse(crossbridge_env, dagster_instance, fmt):
    s = crossbridge_env
    for n in (1, 2):
        drop_shard(s, f"shard{n}", HERE / f"shard{n}{SUFFIX[fmt]}", f"results{SUFFIX[fmt]}",
                   build="901", shard=str(n), shards_expected=2)
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    with engine.connect() as conn:
        reports = conn.execute(select(schema.reports.c.run_id, schema.reports.c.shard, schema.reports.c.status)).all()
        rows = conn.execute(select(schema.test_results.c.run_id, schema.test_results.c.test_id,
                                   schema.test_results.c.status, schema.test_results.c.flaky,
                                   schema.test_results.c.attempts)).all()
    assert sorted(r.shard for r in reports) == ["1", "2"] and {r.status for r in reports} == {"landed"}
    assert len({r.run_id for r in reports} | {r.run_id for r in rows}) == 1
    full = {c.identity: c for c in _read("full", "junit" if fmt == "junit" else "json")[1]}
    assert Counter(r.test_id for r in rows) == {i: 1 for i in full}
    assert {r.test_id: r.status for r in rows} == {i: c.status for i, c in full.items()}
    if fmt != "junit":
        assert {r.test_id: (r.flaky, r.attempts) for r in rows} == {
            i: (c.flaky, len(c.attempts)) for i, c in full.items()}
    (run,) = run_summaries(engine)
    console = CONSOLE["full"]
    assert (run["build"], run["tests"], run["failures"], run["skipped"], run["flaky"]) == (
        "901", sum(console.values()), console["failed"], console["skipped"] + console["did not run"],
        0 if fmt == "junit" else console["flaky"])


def test_ctrf_calls_flaky_what_playwright_calls_flaky():
    """The CTRF reporter writes "flaky": true on any test that passed after a retry, as the first
    test of a retried serial group that passed both times; Playwright (its JSON file, its list
    reporter) calls that test passed: flaky is a test whose earlier try failed."""
    json_flaky = {c.identity: c.properties.get("flaky") for c in _read("full", "json")[1]}
    ctrf = [c for run in ("shard1", "shard2") for c in _read(run, "ctrf")[1]]
    assert {c.identity: c.properties.get("flaky") for c in ctrf} == json_flaky
    assert sum(1 for c in ctrf if c.properties.get("flaky")) == CONSOLE["full"]["flaky"]


def test_a_setup_project_runs_in_every_shard_and_counts_in_each():
    """A project others depend on runs again in every shard, and merge-reports lists it once a
    shard ("5 passed" for 3 tests): the same test in each shard's file, counted in each, as Playwright does."""
    shards = [_read(f"setup{n}", "json")[1] for n in (1, 2)]
    stream, merged = _read("setup-merged", "json")
    assert [sum(CONSOLE[f"setup{n}"].values()) for n in (1, 2)] == [len(cases) for cases in shards]
    assert CONSOLE["setup-merged"] == {"passed": len(merged)} and stream.info.warnings == []
    setup = [c for c in merged if c.parameters == "[setup]"]
    assert [(c.name, c.status) for c in setup] == [("authenticate", PASSED)] * 2
    assert all(any(c.identity == setup[0].identity for c in cases) for cases in shards)
    assert Counter(c.identity for cases in shards for c in cases) == Counter(c.identity for c in merged)


def test_repeated_shards_of_one_run_count_every_repeat_in_the_warehouse(crossbridge_env, dagster_instance):
    s = crossbridge_env
    for n in (1, 2):
        drop_shard(s, f"shard{n}", HERE / f"repeat{n}.json", "results.json", build="902", shard=str(n), shards_expected=2)
    ingest(dagster_instance)
    (run,) = run_summaries(make_engine(s.warehouse_url))
    console = CONSOLE["repeat1"] + CONSOLE["repeat2"]
    assert (run["tests"], run["failures"], run["flaky"]) == (
        sum(console.values()), console["failed"], console["flaky"]) == (34, 8, 4)


@pytest.mark.parametrize("name", ["merged-ctrf.json", "ctrf-merge.json"])
def test_merged_ctrf_is_the_unsharded_run(name):
    """The CTRF reporter given to merge-reports, and `ctrf merge` of the shards' CTRF files: the
    unsharded run's tests, tries and flaky ones (the JSON reporter's)."""
    full = [c for c in _read("full", "json")[1]]
    _, stream, merged = read_report(HERE / name)
    assert stream.info.warnings == [] and stream.info.framework == "playwright"
    assert _by_identity(merged) == _by_identity(full)
    assert {c.identity: c.properties.get("flaky") for c in merged} == {
        c.identity: c.properties.get("flaky") for c in full}
