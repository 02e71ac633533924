"""Robot Framework 3.2 to 7.0 on one suite (fixtures/results/robot-versions/, written by
regenerate-robot-versions.sh there): each version's output.xml, --xunit file and `rebot --merge`
of a --rerunfailed run, read as that version's robot.api.ExecutionResult reads them (its reading
committed as oracle.json next to them) and as its console summary counts them. A test keeps one
identity across versions and between the output.xml and the --xunit file of one run."""

from __future__ import annotations

import json
import re

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "robot-versions"
VERSIONS = ["3.2.2", "4.1.3", "5.0.1", "6.1.1", "7.0"]
_STATUS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}


def _read(version: str, name: str):
    spec, stream, cases = read_report(HERE / f"rf-{version}" / name)
    return spec.name, stream, cases


def _oracle(version: str, name: str) -> dict:
    return json.loads((HERE / f"rf-{version}" / "oracle.json").read_text(encoding="utf-8"))[name]


@pytest.mark.parametrize("version", VERSIONS)
def test_output_xml_reads_as_execution_result(version):
    fmt, stream, cases = _read(version, "output.xml")
    oracle = _oracle(version, "output.xml")["tests"]
    assert fmt == "robot" and stream.info.warnings == []
    assert [(c.suite, c.name, c.status, c.attempts[-1].message or "") for c in cases] == [
        (t["suite"], t["name"], _STATUS[t["status"]], t["message"]) for t in oracle
    ]
    # Robot's own tags come first, in its order; ids found in them and the documentation follow.
    assert [c.tags[: len(t["tags"])] for c, t in zip(cases, oracle)] == [t["tags"] for t in oracle]
    assert all(len(c.attempts) == 1 and c.duration is not None for c in cases)


@pytest.mark.parametrize("version", VERSIONS)
def test_suite_teardowns_fail_and_skip_the_suites_tests(version):
    _fmt, _stream, cases = _read(version, "output.xml")
    by_name = {c.name: c for c in cases}
    assert by_name["Passes Before Teardown"].status == FAILED
    assert by_name["Passes Before Teardown"].attempts[-1].message == "Parent suite teardown failed:\nteardown boom"
    assert by_name["Fails Before Teardown"].attempts[-1].message == (
        "own failure\n\nAlso parent suite teardown failed:\nteardown boom"
    )
    if version != "3.2.2":  # RF 3.2 has no Skip keyword: that suite is excluded there
        assert [by_name[n].status for n in ("Passes Before Skip", "Fails Before Skip", "Skips Itself")] == [SKIPPED] * 3
        assert by_name["Fails Before Skip"].attempts[-1].message == (
            "Skipped in parent suite teardown:\nteardown skipped\n\nEarlier message:\nfailed before skip"
        )
    # The suite teardown of the top suite passed, the nested suites' tests keep their own status.
    assert by_name["Überprüfung Der Größe ✓"].status == PASSED


def _summary(line: str) -> dict[str, int]:
    """'12 tests, 1 passed, 8 failed, 3 skipped' (RF 4+) or '9 tests total, 1 passed, 8 failed'."""
    m = re.fullmatch(r"(\d+) tests?(?: total)?, (\d+) passed, (\d+) failed(?:, (\d+) skipped)?", line.strip())
    assert m, line
    return {"tests": int(m[1]), "passed": int(m[2]), "failures": int(m[3]), "skipped": int(m[4] or 0)}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("first,merged", [("output.xml", False), ("xunit.xml", False), ("merged.xml", True), ("merged-xunit.xml", True)])
def test_totals_match_console_summary_and_execution_result(version, first, merged):
    _fmt, stream, cases = _read(version, first)
    run1, run2 = (HERE / f"rf-{version}" / "summary.txt").read_text(encoding="utf-8").splitlines()
    totals = {
        "tests": len(cases),
        "passed": sum(c.status == PASSED for c in cases),
        "failures": sum(c.status == FAILED for c in cases),
        "skipped": sum(c.status == SKIPPED for c in cases),
    }
    oracle = _oracle(version, "merged.xml" if merged else "output.xml")["total"]
    assert (totals["passed"], totals["failures"], totals["skipped"]) == (oracle["pass"], oracle["fail"], oracle["skip"])
    if not merged:
        assert totals == _summary(run1)
    else:
        # The rerun's summary counts only the tests it ran again; the rest kept their first result.
        rerun = _summary(run2)
        assert totals["tests"] - rerun["tests"] == _summary(run1)["passed"] + _summary(run1)["skipped"]
    assert stream.info.declared == {**{k: totals[k] for k in ("tests", "failures", "skipped")}, "errors": 0}


def test_identities_are_the_same_across_versions_and_reports():
    ids = {
        (v, f): [c.identity for c in _read(v, f)[2]]
        for v in VERSIONS
        for f in ("output.xml", "xunit.xml", "merged.xml", "merged-xunit.xml")
    }
    newest = ids[("7.0", "output.xml")]
    assert len(set(newest)) == len(newest) == 12
    for (version, _f), found in ids.items():
        assert len(set(found)) == len(found)
        if version == "3.2.2":  # the suite that skips is excluded there
            assert found == [i for i in newest if i in set(found)] and len(found) == 9
        else:
            assert found == newest


@pytest.mark.parametrize("version", VERSIONS)
def test_rebot_merge_keeps_each_run_as_an_attempt(version):
    _fmt, _stream, cases = _read(version, "merged.xml")
    oracle = _oracle(version, "merged.xml")["tests"]
    assert [(c.suite, c.name, c.status) for c in cases] == [
        (t["suite"], t["name"], _STATUS[t["status"]]) for t in oracle
    ]
    by_name = {c.name: c for c in cases}
    flaky = by_name["Flaky Until Rerun"]
    assert [(a.status, a.message) for a in flaky.attempts] == [
        (FAILED, "first run fails: no != yes"), (PASSED, None)
    ] and flaky.flaky
    assert [(a.status, a.message) for a in by_name["Loop Fails"].attempts] == [(FAILED, "item 2 too big")] * 2
    assert [a.message for a in by_name["Passes Before Teardown"].attempts] == [
        "Parent suite teardown failed:\nteardown boom"
    ] * 2
    # Not rerun: passed or skipped the first time.
    assert len(by_name["Überprüfung Der Größe ✓"].attempts) == 1
    # rebot wrote the suite teardown's outcome into the tests already: it is not added twice.
    assert all(m.count("Parent suite teardown failed") <= 1 for c in cases for m in [c.attempts[-1].message or ""])

    _fmt, _stream, xcases = _read(version, "merged-xunit.xml")
    assert [(c.suite, c.name, c.status) for c in xcases] == [(c.suite, c.name, c.status) for c in cases]
    for c, x in zip(cases, xcases):
        if c.name == "Flaky Until Rerun":
            # rebot's --xunit writes no message for a test that passed: its earlier run is not there.
            assert [a.status for a in x.attempts] == [PASSED]
        else:
            assert [(a.status, a.message) for a in x.attempts] == [(a.status, a.message) for a in c.attempts]


@pytest.mark.parametrize("version", VERSIONS)
def test_test_management_ids_from_tags_and_documentation(version):
    _fmt, _stream, cases = _read(version, "output.xml")
    by_name = {c.name: c for c in cases}
    assert by_name["Passes Before Teardown"].tags == ["C1234", "smoke", "versions", "C4242"]
    assert by_name["Fails Before Teardown"].tags == ["SHOP-7", "versions"]
    assert by_name["Flaky Until Rerun"].tags == ["C777", "versions"]
    assert by_name["Überprüfung Der Größe ✓"].properties["documentation"] == (
        "Non-ASCII names: the same bytes in every version."
    )
