"""Robot Framework outputs beyond one plain run (fixtures/results/robotpabot/, written by
regenerate-robotpabot.sh there): pabot's merged outputs (--processes, --testlevelsplit,
--rerunfailed merged by rebot), RF 7.1 to 7.5 (GROUP, VAR, WHILE, TRY, --legacyoutput, JSON
output) and the options that change what robot writes (--dryrun, --skiponfailure,
--exitonfailure, --rpa, --randomize). Each output is read as that version's
robot.api.ExecutionResult reads it (committed as oracle.json next to it), and a test keeps the
identity the plain `robot` run gives it."""

from __future__ import annotations

import json

import pytest

from crossbridge_assets.formats import FormatError, read_report
from crossbridge_assets.model import FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "robotpabot"
PABOT = ["pabot-7.5", "pabot-6.1.1"]
RF7 = ["rf-7.1.1", "rf-7.2.2", "rf-7.3.2", "rf-7.5"]
_STATUS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}


def _read(folder: str, name: str):
    spec, stream, cases = read_report(HERE / folder / name)
    assert spec.name in ("robot", "junit")
    return stream, cases


def _oracle(folder: str, name: str) -> dict:
    return json.loads((HERE / folder / "oracle.json").read_text(encoding="utf-8"))[name]


def _assert_reads_as_execution_result(folder: str, name: str, messages: bool = True):
    stream, cases = _read(folder, name)
    oracle = _oracle(folder, name)
    assert stream.info.warnings == []
    got = [(c.suite, c.name, c.status) for c in cases]
    assert got == [(t["suite"], t["name"], _STATUS[t["status"]]) for t in oracle["tests"]]
    if messages:
        assert [c.attempts[-1].message or "" for c in cases] == [t["message"] for t in oracle["tests"]]
    # Robot's own tags come first, in its order.
    assert [c.tags[: len(t["tags"])] for c, t in zip(cases, oracle["tests"])] == [t["tags"] for t in oracle["tests"]]
    totals = stream.totals.as_dict()
    assert (totals["passed"], totals["failures"], totals["skipped"]) == tuple(
        oracle["total"][k] for k in ("pass", "fail", "skip")
    )
    return stream, cases


# ---------------------------------------------------------------------------------------- pabot


@pytest.mark.parametrize("folder", PABOT)
@pytest.mark.parametrize("name", ["robot.xml", "pabot.xml", "testlevelsplit.xml", "rerun.xml"])
def test_pabot_outputs_read_as_execution_result(folder, name):
    _assert_reads_as_execution_result(folder, name)


@pytest.mark.parametrize("folder", PABOT)
def test_pabot_runs_keep_the_identities_of_the_plain_robot_run(folder):
    plain = [c.identity for c in _read(folder, "robot.xml")[1]]
    # Two tests named alike in two suites stay apart.
    assert len(set(plain)) == len(plain) == 14
    for name in ("robot-xunit.xml", "pabot.xml", "pabot-xunit.xml", "testlevelsplit.xml", "merged.xml"):
        assert sorted(c.identity for c in _read(folder, name)[1]) == sorted(plain), name
    rerun = [c.identity for c in _read(folder, "rerun.xml")[1]]
    assert len(rerun) == 7 and set(rerun) < set(plain)


def test_pabot_identities_do_not_depend_on_the_robot_version():
    assert sorted(c.identity for c in _read("pabot-7.5", "pabot.xml")[1]) == sorted(
        c.identity for c in _read("pabot-6.1.1", "pabot.xml")[1]
    )


@pytest.mark.parametrize("folder", PABOT)
def test_pabot_suite_setup_and_teardown_failures_in_their_own_processes(folder):
    plain = {(c.suite, c.name): (c.status, c.attempts[-1].message) for c in _read(folder, "robot.xml")[1]}
    for name in ("pabot.xml", "testlevelsplit.xml"):
        stream, cases = _read(folder, name)
        # pabot's merge is written by rebot: the outcome of Zeta's suite teardown is in its tests
        # already, and is not added a second time.
        assert stream.info.properties["generator"].startswith("Rebot")
        assert {(c.suite, c.name): (c.status, c.attempts[-1].message) for c in cases} == plain
    assert plain[("Parallel.Beta", "Beta One")] == (FAILED, "Parent suite setup failed:\nbeta setup broke")
    assert plain[("Parallel.Zeta", "Zeta Fails Before Teardown")] == (
        FAILED, "zeta own failure\n\nAlso parent suite teardown failed:\nzeta teardown broke"
    )


@pytest.mark.parametrize("folder", PABOT)
def test_pabot_rerun_merged_by_rebot_keeps_each_run_as_an_attempt(folder):
    stream, cases = _assert_reads_as_execution_result(folder, "merged.xml", messages=False)
    by_name = {(c.suite, c.name): c for c in cases}
    flaky = by_name[("Parallel.Alpha", "Alpha Flaky")]
    assert [(a.status, a.message) for a in flaky.attempts] == [
        (FAILED, "first run fails: no != yes"), (PASSED, None)
    ] and flaky.flaky
    assert [a.message for a in by_name[("Parallel.Beta", "Beta Two")].attempts] == [
        "Parent suite setup failed:\nbeta setup broke"
    ] * 2
    assert [a.message for a in by_name[("Parallel.Zeta", "Zeta Passes Before Teardown")].attempts] == [
        "Parent suite teardown failed:\nzeta teardown broke"
    ] * 2
    # Not rerun: passed or skipped in the first run.
    assert sum(len(c.attempts) == 1 for c in cases) == 7
    assert stream.info.declared == {"tests": 14, "failures": 6, "errors": 0, "skipped": 2}


@pytest.mark.parametrize("folder", PABOT)
def test_pabot_report_times_are_the_top_suites(folder):
    stream, cases = _read(folder, "pabot.xml")
    # pabot writes the top suite's start and end itself; the processes' tests fall after the start.
    assert stream.info.started_at is not None and stream.info.duration > 0
    assert all(c.attempts[-1].started_at >= stream.info.started_at for c in cases)
    assert all(c.duration is not None for c in cases)


# ------------------------------------------------------------------------------- RF 7.1 to 7.5


@pytest.mark.parametrize("folder", RF7)
def test_rf7_output_xml_reads_as_execution_result(folder):
    _stream, cases = _assert_reads_as_execution_result(folder, "output.xml")
    by_name = {c.name: c for c in cases}
    assert by_name["Timed Out Test"].properties["timeout"] == "200 milliseconds"
    assert by_name["Timed Out Test"].attempts[-1].message == "Test timeout 200 milliseconds exceeded."
    assert by_name["While Try Break"].status == PASSED
    # GROUP is RF 7.2's: RF 7.1 does not know it and fails the test.
    expected = FAILED if folder == "rf-7.1.1" else SKIPPED
    assert by_name["Skipped In Group"].status == expected


def test_rf7_legacy_output_reads_as_execution_result():
    _stream, legacy = _assert_reads_as_execution_result("rf-7.5", "legacy.xml")
    _stream, current = _read("rf-7.5", "output.xml")
    assert [(c.identity, c.status, c.attempts[-1].message) for c in legacy] == [
        (c.identity, c.status, c.attempts[-1].message) for c in current
    ]


def test_rf7_identities_are_the_same_across_versions():
    ids = {f: [c.identity for c in _read(f, "output.xml")[1]] for f in RF7}
    assert len(set(ids["rf-7.5"])) == len(ids["rf-7.5"]) == 10
    assert all(found == ids["rf-7.5"] for found in ids.values())


def test_rf7_rebot_merge_keeps_each_run_as_an_attempt():
    _stream, cases = _assert_reads_as_execution_result("rf-7.5", "merged.xml", messages=False)
    by_name = {c.name: c for c in cases}
    assert [(a.status, a.message) for a in by_name["Fails In Group"].attempts] == [
        (FAILED, "fails until rerun: no != yes"), (PASSED, None)
    ]
    assert [a.status for a in by_name["Timed Out Test"].attempts] == [FAILED, FAILED]
    assert len(by_name["Skipped In Group"].attempts) == 1


@pytest.mark.parametrize("name", ["output.json", "rebot.json"])
def test_rf7_json_output_is_refused_by_name(name):
    # RF 7.2+ writes JSON for `--output output.json` (robot) and `rebot --output x.json`: a
    # suite's name follows its tests there, so it is not read; the refusal says what to write.
    assert _oracle("rf-7.5", name)["total"] == {"pass": 1, "fail": 1, "skip": 0}
    with pytest.raises(FormatError) as caught:
        read_report(HERE / "rf-7.5" / name)
    assert "Robot Framework JSON output is not read" in caught.value.reason
    assert "output.xml" in caught.value.reason
    assert "matches no supported format" not in caught.value.reason


# ------------------------------------------------------------------------------------ options

OPTIONS = ["plain.xml", "dryrun.xml", "skiponfailure.xml", "exitonfailure.xml", "rpa.xml", "random-1.xml", "random-2.xml"]


@pytest.mark.parametrize("name", OPTIONS)
def test_option_outputs_read_as_execution_result(name):
    _assert_reads_as_execution_result("options-7.5", name)


def test_options_keep_the_identities_of_the_plain_run():
    plain = [c.identity for c in _read("options-7.5", "plain.xml")[1]]
    assert len(set(plain)) == len(plain) == 9
    for name in [*OPTIONS, "exitonfailure-xunit.xml", "rpa-xunit.xml"]:
        assert sorted(c.identity for c in _read("options-7.5", name)[1]) == sorted(plain), name


def test_randomized_order_keeps_identities_and_outcomes():
    outcomes = {}
    for name in ("plain.xml", "random-1.xml", "random-2.xml"):
        cases = _read("options-7.5", name)[1]
        outcomes[name] = [c.identity for c in cases], {c.identity: (c.status, c.attempts[-1].message) for c in cases}
    orders = {tuple(order) for order, _ in outcomes.values()}
    assert len(orders) == 3  # the seeds do reorder the tests
    assert outcomes["random-1.xml"][1] == outcomes["random-2.xml"][1] == outcomes["plain.xml"][1]


def test_exitonfailure_fails_the_tests_it_did_not_run():
    for name in ("exitonfailure.xml", "exitonfailure-xunit.xml"):
        cases = _read("options-7.5", name)[1]
        not_run = [c for c in cases if c.attempts[-1].message == "Failure occurred and exit-on-failure mode is in use."]
        assert [c.status for c in cases] == [PASSED, FAILED] + [FAILED] * 7
        assert len(not_run) == 7
    assert all("robot:exit" in c.tags for c in _read("options-7.5", "exitonfailure.xml")[1][2:])


def test_dryrun_and_skiponfailure():
    by_name = {c.name: c for c in _read("options-7.5", "dryrun.xml")[1]}
    # A dry run fails only what cannot run at all.
    assert {n for n, c in by_name.items() if c.status == FAILED} == {"Uses Missing Keyword", "Uses Missing Library Keyword"}
    by_name = {c.name: c for c in _read("options-7.5", "skiponfailure.xml")[1]}
    assert by_name["First Fails"].status == SKIPPED
    assert by_name["First Fails"].attempts[-1].message == (
        "Failed test skipped using 'known-issue' tag.\n\nOriginal failure:\nfirst failure"
    )


def test_rpa_tasks_with_maxerrorlines():
    stream, cases = _read("options-7.5", "rpa.xml")
    assert stream.info.properties["rpa"] == "true"
    by_name = {c.name: c for c in cases}
    assert by_name["First Timeout"].attempts[-1].message == "Task timeout 100 milliseconds exceeded."
    # robot cut the message to --maxerrorlines in the output itself; the --xunit file has the same.
    long = by_name["Second Long Message"].attempts[-1].message
    assert "[ Message content over the limit has been removed. ]" in long and "line 42" in long
    xunit = {c.name: c for c in _read("options-7.5", "rpa-xunit.xml")[1]}
    assert xunit["Second Long Message"].attempts[-1].message == long
