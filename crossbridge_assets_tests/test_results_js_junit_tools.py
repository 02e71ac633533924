"""The JUnit XML of JavaScript runners, read as each runner counts its own run (fixtures/results/
jsjunit/, written by jest + jest-junit, vitest, node:test, bun and deno on one small suite each;
the tools' own summaries in summaries.txt there, and the regenerate script). A test's identity
holds nothing that changes between runs; a suite that failed outside its tests (a hook, a file
that did not load) is one errored test, as a suite-level <error> is."""

from __future__ import annotations

from collections import Counter

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

HERE = FIXTURES / "results" / "jsjunit"
FILES = [
    "deno-junit.xml",
]


def _read(name: str):
    _, stream, cases = read_report(HERE / name)
    return stream, cases


def _read_text(tmp_path, xml: str):
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    _, stream, cases = read_report(path)
    return stream, cases


def _by_key(cases) -> dict:
    by_key = {(c.suite, c.name, c.parameters): c for c in cases}
    assert len(by_key) == len(cases), "two tests share an identity"
    return by_key


def _counts(cases) -> dict:
    return dict(Counter(c.status for c in cases))


@pytest.mark.parametrize("name", FILES)
def test_no_false_warnings_and_every_test_once(name):
    stream, cases = _read(name)
    assert stream.info.warnings == []
    _by_key(cases)
    for case in cases:
        # Nothing of the run in the identity: no line numbers, times or scratch paths.
        for text in (case.suite, case.name, case.parameters or ""):
            assert "/tmp" not in text and not any(ch.isdigit() for ch in text.replace("1 + 1", "").replace("2 + 3", ""))


# deno --------------------------------------------------------------------------------------------


def test_deno_counts_are_denos_tests_and_steps():
    # deno: '3 passed (2 steps) | 2 failed (2 steps) | 1 ignored': each test and step a testcase.
    _, cases = _read("deno-junit.xml")
    assert _counts(cases) == {PASSED: 5, FAILED: 4, SKIPPED: 1}
    assert _by_key(cases)[("cart_test.ts", "cart > totals > fails inside", None)].status == FAILED
