"""Spans derived from Playwright-JS and Cypress (mochawesome) result reports; their test
identities match the result parsers' for the same report."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from crossbridge_assets import model
from crossbridge_assets.formats import detect
from crossbridge_assets.hooks.reports import report_kind, spans_from_report, write_events

from crossbridge_assets_tests.conftest import corpus_params
from crossbridge_assets_tests.hooks_helpers import read_events

PLAYWRIGHT = {
    "config": {"version": "1.44.0"},
    "suites": [{
        "title": "checkout.spec.ts", "file": "checkout.spec.ts", "line": 0, "column": 0,
        "specs": [],
        "suites": [{
            "title": "cart", "file": "checkout.spec.ts",
            "specs": [{
                "title": "adds an item", "file": "checkout.spec.ts", "line": 4,
                "tests": [{
                    "projectName": "chromium", "expectedStatus": "passed", "status": "flaky",
                    "results": [
                        {"workerIndex": 0, "status": "failed", "duration": 1200, "retry": 0,
                         "startTime": "2024-05-01T10:00:00.000Z", "error": {"message": "Timeout"},
                         "steps": [{"title": "open page", "duration": 700},
                                   {"title": "click add", "duration": 500, "error": {"message": "Timeout"},
                                    "steps": [{"title": "locator.click", "duration": 400}]}]},
                        {"workerIndex": 1, "status": "passed", "duration": 900, "retry": 1,
                         "startTime": "2024-05-01T10:00:02.000Z", "steps": []},
                    ],
                }],
            }],
        }],
    }],
    "errors": [],
    "stats": {"startTime": "2024-05-01T09:59:59.500Z", "duration": 3500.5, "expected": 0, "unexpected": 0,
              "flaky": 1, "skipped": 0},
}

MOCHAWESOME = {
    "stats": {"suites": 2, "tests": 3, "failures": 1, "start": "2024-05-01T10:00:00.000Z",
              "end": "2024-05-01T10:00:05.000Z", "duration": 5000},
    "results": [{
        "title": "", "file": "cypress/e2e/login.cy.js", "fullFile": "cypress/e2e/login.cy.js", "tests": [],
        "suites": [{
            "title": "login", "file": "",
            "tests": [
                {"title": "shows the form", "fullTitle": "login shows the form", "duration": 1000, "state": "passed"},
                {"title": "rejects a bad password", "fullTitle": "login rejects a bad password", "duration": 2000,
                 "state": "failed", "err": {"message": "AssertionError: expected 401"}},
            ],
            "suites": [{"title": "sso", "tests": [
                {"title": "redirects", "fullTitle": "login sso redirects", "duration": 0, "state": "pending",
                 "pending": True},
            ], "suites": []}],
        }],
    }],
}


def test_playwright_report():
    spans = list(spans_from_report(PLAYWRIGHT, run="r1"))
    tests = [s for s in spans if s.kind == "test"]
    assert [(s.status, s.attributes["retry"], s.duration) for s in tests] == [("failed", 0, 1.2), ("passed", 1, 0.9)]
    ident = model.test_identity("playwright", "checkout.spec.ts.cart", "adds an item", "[chromium]")
    assert {s.test for s in tests} == {ident}
    assert tests[0].start.isoformat() == "2024-05-01T10:00:00+00:00"
    assert tests[0].attributes["message"] == "Timeout" and tests[0].name == "cart > adds an item"
    steps = {s.name: s for s in spans if s.kind == "step"}
    assert steps["open page"].start == tests[0].start and steps["open page"].parent_id == tests[0].span_id
    assert steps["click add"].start == tests[0].start + timedelta(seconds=0.7)
    assert steps["click add"].status == "failed" and steps["locator.click"].parent_id == steps["click add"].span_id
    assert all(s.attributes["start_estimated"] for s in steps.values())
    (session,) = [s for s in spans if s.kind == "session"]
    assert session.duration == pytest.approx(3.5005) and session.status == "passed"
    assert all(s.parent_id == session.span_id for s in tests)
    assert all(s.run == "r1" and s.kind in model.SPAN_KINDS for s in spans)


def test_mochawesome_report():
    spans = list(spans_from_report(MOCHAWESOME, run="r2"))
    tests = [s for s in spans if s.kind == "test"]
    assert [(s.name, s.status, s.duration) for s in tests] == [
        ("login shows the form", "passed", 1.0),
        ("login rejects a bad password", "failed", 2.0),
        ("login sso redirects", "skipped", 0.0),
    ]
    # Starts are laid out one after another from the run's start.
    assert tests[1].start - tests[0].start == timedelta(seconds=1)
    assert tests[0].test == model.test_identity("mocha", "login", "shows the form", None)
    assert tests[1].attributes["message"] == "AssertionError: expected 401"
    (session,) = [s for s in spans if s.kind == "session"]
    assert session.duration == 5.0 and session.status == "failed"


def test_reports_from_files_and_into_the_inbox(tmp_path):
    src = tmp_path / "results.json"
    src.write_text(json.dumps(PLAYWRIGHT))
    spans = list(spans_from_report(src))
    assert spans and all(s.run == "results" for s in spans)
    path = write_events(spans, tmp_path / "inbox", framework="playwright")
    assert detect(path).name == "crossbridge-events"
    info, back = read_events(path)
    assert info.warnings == [] and info.framework == "playwright"
    assert [(s.kind, s.name, s.start, s.status, s.test, s.parent_id) for s in back] == [
        (s.kind, s.name, s.start, s.status, s.test, s.parent_id) for s in spans]
    with pytest.raises(ValueError, match="neither"):
        spans_from_report({"something": "else"})


@pytest.mark.parametrize("row", corpus_params(kind="results", fmt="playwright-json") + corpus_params(
    kind="results", fmt="mochawesome"))
def test_real_reports(row):
    data = json.loads(row["path"].read_text(encoding="utf-8"))
    assert report_kind(data) in ("playwright", "mochawesome")
    spans = list(spans_from_report(row["path"]))
    tests = [s for s in spans if s.kind == "test"]
    assert tests and all(s.duration >= 0 and s.test for s in tests)
    assert sum(1 for s in spans if s.kind == "session") == 1
    # The same tests as the result parser sees, under the same identities.
    spec = detect(row["path"])
    if spec.kind == model.KIND_RESULTS:
        assert {s.test for s in tests} == {case.identity for case in spec.open(row["path"])}
