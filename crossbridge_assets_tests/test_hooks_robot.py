"""The Robot Framework listener on a real robot run."""

from __future__ import annotations

import os
import textwrap

from crossbridge_assets import model
from crossbridge_assets.formats import detect

from crossbridge_assets_tests.hooks_helpers import PYTHON, event_files, http_server, read_events, run

SUITE = textwrap.dedent("""
    *** Settings ***
    Library    Process

    *** Variables ***
    ${BASE}    %{CB_TEST_BASE}

    *** Test Cases ***
    Passing Test
        [Tags]    smoke
        Log    hello
        Sleep    0.05s
        Call Api    ${BASE}/users/42

    Failing Test
        Should Be Equal    1    2
        Log    never runs

    Skipped Test
        Skip    not today

    Setup Fails
        [Setup]    Fail    setup boom
        Log    body

    *** Keywords ***
    Call Api
        [Arguments]    ${url}
        Evaluate    __import__('requests').get($url)
""")


def test_robot_listener(tmp_path):
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "checkout.robot").write_text(SUITE)
    out = tmp_path / "events"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSBRIDGE_")}
    with http_server() as base:
        env["CB_TEST_BASE"] = base
        proc = run([PYTHON, "-m", "robot", "--output", "output.xml", "--report", "NONE", "--log", "NONE",
                    "--listener", f"crossbridge_assets.hooks.robot_listener:{out}", "suite"],
                   cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # two failed tests
    assert "crossbridge" not in proc.stderr.lower(), proc.stderr
    files = event_files(out)
    assert len(files) == 1
    info, spans = read_events(files[0])
    assert info.framework == "robot" and info.warnings == []
    assert info.properties["status"] == "failed"

    suites = [s for s in spans if s.kind == "suite"]
    assert [s.name for s in suites] == ["Suite.Checkout", "Suite"]
    assert suites[0].parent_id == suites[1].span_id and suites[1].parent_id is None

    tests = {s.attributes["test_name"]: s for s in spans if s.kind == "test"}
    assert {k: s.status for k, s in tests.items()} == {
        "Passing Test": "passed", "Failing Test": "failed", "Skipped Test": "skipped", "Setup Fails": "failed"}
    assert all(s.parent_id == suites[0].span_id for s in tests.values())
    passing = tests["Passing Test"]
    assert passing.test == model.test_identity("robot", "Suite.Checkout", "Passing Test", None)
    # The same identities as the output.xml parser gives the same run.
    spec = detect(tmp_path / "output.xml")
    if spec.kind == model.KIND_RESULTS:
        assert {case.identity for case in spec.open(tmp_path / "output.xml")} == {s.test for s in tests.values()}
    assert passing.attributes["tags"] == ["smoke"]
    assert passing.duration >= 0.05

    keywords = [s for s in spans if s.kind == "keyword"]
    by_name = {s.name: s for s in keywords}
    sleep = by_name["BuiltIn.Sleep"]
    assert sleep.status == "passed" and sleep.duration >= 0.05 and sleep.parent_id == passing.span_id
    assert by_name["BuiltIn.Should Be Equal"].status == "failed"
    assert by_name["BuiltIn.Fail"].attributes["type"] == "setup"
    # Keywords that never ran (after a failure) are left out.
    assert not any(s.status == "not_run" for s in keywords)
    assert sum(1 for s in keywords if s.name == "BuiltIn.Log") == 1

    # A user keyword nests its library keywords; the HTTP call it made hangs under them.
    call_api = by_name["Call Api"]  # keywords of the suite file itself have no owner
    evaluate = by_name["BuiltIn.Evaluate"]
    assert evaluate.parent_id == call_api.span_id and call_api.parent_id == passing.span_id
    (http,) = [s for s in spans if s.kind == "http"]
    assert http.status == "200" and http.parent_id == evaluate.span_id and http.test == passing.test
