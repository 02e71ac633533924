"""The pytest plugin on a real suite in a child pytest (plain and under pytest-xdist)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from crossbridge_assets.formats import open_report
from crossbridge_assets.hooks.pytest_plugin import nodeid_parts
from crossbridge_assets import model

from crossbridge_assets_tests.hooks_helpers import PLUGIN_ARGS, PYTHON, event_files, http_server, read_events, run

SUITE = textwrap.dedent('''
    import os

    import pytest
    import requests

    BASE = os.environ.get("CB_TEST_BASE", "http://127.0.0.1:9")


    def test_pass():
        pass


    def test_fail():
        assert 1 == 2


    @pytest.mark.skip(reason="not today")
    def test_skip():
        pass


    @pytest.mark.xfail(reason="known bug")
    def test_xfail():
        assert 0


    @pytest.mark.xfail(reason="maybe fixed")
    def test_xpass():
        pass


    @pytest.fixture
    def broken():
        raise RuntimeError("setup boom")


    def test_setup_error(broken):
        pass


    @pytest.fixture
    def bad_teardown():
        yield
        raise RuntimeError("teardown boom")


    def test_teardown_error(bad_teardown):
        pass


    class TestGroup:
        @pytest.mark.parametrize("n", [1, 2])
        def test_param(self, n):
            pass


    def test_http():
        assert requests.get(BASE + "/users/42").status_code == 200
        assert requests.get(BASE + "/nowhere").status_code == 404
''')

EXPECTED = {
    "test_suite.py::test_pass": "passed",
    "test_suite.py::test_fail": "failed",
    "test_suite.py::test_skip": "skipped",
    "test_suite.py::test_xfail": "xfailed",
    "test_suite.py::test_xpass": "xpassed",
    "test_suite.py::test_setup_error": "error",
    "test_suite.py::test_teardown_error": "error",
    "test_suite.py::TestGroup::test_param[1]": "passed",
    "test_suite.py::TestGroup::test_param[2]": "passed",
    "test_suite.py::test_http": "passed",
}


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSBRIDGE_", "PYTEST_XDIST"))}
    env.update(extra)
    return env


def _pytest(tmp_path: Path, *args: str, env: dict | None = None):
    return run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                *PLUGIN_ARGS, *args, "test_suite.py"],
               cwd=tmp_path, env=env if env is not None else _env())


@pytest.fixture
def suite(tmp_path) -> Path:
    (tmp_path / "test_suite.py").write_text(SUITE)
    return tmp_path


def test_nodeid_parts():
    assert nodeid_parts("tests/test_a.py::TestX::test_y[1-2]") == ("tests.test_a.TestX", "test_y", "[1-2]")
    assert nodeid_parts("test_a.py::test_y[a::b/c]") == ("test_a", "test_y", "[a::b/c]")
    assert nodeid_parts("pkg/sub/test_b.py::A::B::test_z") == ("pkg.sub.test_b.A.B", "test_z", None)


def test_plugin_records_sessions_tests_and_phases(suite):
    out = suite / "events"
    with http_server() as base:
        proc = _pytest(suite, f"--crossbridge={out}", "--junitxml=junit.xml", env=_env(CB_TEST_BASE=base))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "crossbridge: profiling events written to" in proc.stdout
    files = event_files(out)
    assert len(files) == 1 and event_files(out, "*.part") == []
    info, spans = read_events(files[0])
    assert info.framework == "pytest" and info.warnings == []
    assert info.properties["complete"] == "true" and info.properties["status"] == "failed"

    by_kind: dict[str, list] = {}
    for s in spans:
        by_kind.setdefault(s.kind, []).append(s)
    assert set(by_kind) == {"session", "test", "setup", "call", "teardown", "http"}
    (session,) = by_kind["session"]
    assert session.status == "failed" and session.attributes["tests"] == len(EXPECTED)

    tests = {s.attributes["nodeid"]: s for s in by_kind["test"]}
    assert {k: s.status for k, s in tests.items()} == EXPECTED
    assert all(s.parent_id == session.span_id for s in tests.values())

    # Phases hang under their test, with their own outcome.
    phases = {(s.kind, s.attributes["nodeid"]): s for s in spans if s.kind in ("setup", "call", "teardown")}
    for (kind, nodeid), s in phases.items():
        assert s.parent_id == tests[nodeid].span_id and s.test == tests[nodeid].test
    assert phases[("setup", "test_suite.py::test_setup_error")].status == "error"
    assert "setup boom" in phases[("setup", "test_suite.py::test_setup_error")].attributes["message"]
    assert ("call", "test_suite.py::test_setup_error") not in phases
    assert phases[("call", "test_suite.py::test_teardown_error")].status == "passed"
    assert phases[("teardown", "test_suite.py::test_teardown_error")].status == "error"
    assert phases[("setup", "test_suite.py::test_skip")].status == "skipped"
    assert phases[("call", "test_suite.py::test_fail")].attributes["message"] == "assert 1 == 2"
    assert phases[("call", "test_suite.py::test_xfail")].attributes["xfail_reason"] == "known bug"

    # Test identity as the model defines it, and as the JUnit parser computes it for the same run.
    param = tests["test_suite.py::TestGroup::test_param[1]"]
    assert param.test == model.test_identity("pytest", "test_suite.TestGroup", "test_param", "[1]")
    assert param.attributes["suite"] == "test_suite.TestGroup" and param.attributes["parameters"] == "[1]"
    junit_ids = {case.identity for case in open_report(suite / "junit.xml")}
    assert junit_ids == {s.test for s in tests.values()}

    # HTTP calls belong to the test (and the phase) that made them.
    http = by_kind["http"]
    assert sorted((s.name.split(" ", 1)[1].split("/", 1)[1], s.status) for s in http) == [
        ("nowhere", "404"), ("users/{id}", "200")]
    call = phases[("call", "test_suite.py::test_http")]
    assert all(s.test == tests["test_suite.py::test_http"].test and s.parent_id == call.span_id for s in http)


def test_plugin_under_xdist_writes_one_file_per_worker(suite):
    out = suite / "events"
    with http_server() as base:
        proc = _pytest(suite, "-n", "2", f"--crossbridge={out}", env=_env(CB_TEST_BASE=base))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    files = event_files(out)
    assert len(files) == 2, files
    assert "one file per worker" in proc.stdout
    assert {("gw0" in f.name, "gw1" in f.name) for f in files} == {(True, False), (False, True)}
    runs, workers, seen = set(), set(), {}
    for f in files:
        info, spans = read_events(f)
        runs.add(info.name)
        workers.add(info.properties["worker"])
        sessions = [s for s in spans if s.kind == "session"]
        assert len(sessions) == 1 and sessions[0].attributes["worker"] == info.properties["worker"]
        for s in spans:
            if s.kind == "test":
                assert s.attributes["nodeid"] not in seen
                seen[s.attributes["nodeid"]] = s.status
    assert len(runs) == 1  # the workers share the xdist run id
    assert workers == {"gw0", "gw1"}
    assert seen == EXPECTED


def test_plugin_enabled_by_environment(suite):
    home = suite / "home"
    proc = _pytest(suite, env=_env(CROSSBRIDGE_PROFILE="1", CROSSBRIDGE_HOME=str(home)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    files = event_files(home / "inbox")
    assert len(files) == 1
    _, spans = read_events(files[0])
    assert sum(1 for s in spans if s.kind == "test") == len(EXPECTED)


def test_plugin_disabled_writes_nothing(suite):
    home = suite / "home"
    proc = _pytest(suite, env=_env(CROSSBRIDGE_HOME=str(home), CROSSBRIDGE_PROFILE="0"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "crossbridge" not in proc.stdout
    assert not home.exists() and not (suite / ".crossbridge").exists()
    proc = _pytest(suite, "-n", "2", env=_env(CROSSBRIDGE_HOME=str(home)))
    assert proc.returncode == 1
    assert not home.exists() and not (suite / ".crossbridge").exists()


def test_plugin_problems_never_break_the_run(suite):
    # The events folder cannot be created (a file is in the way): the run goes on unchanged.
    blocker = suite / "blocker"
    blocker.write_text("not a folder")
    proc = _pytest(suite, f"--crossbridge={blocker}/events", "-k", "test_pass or test_param")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert "profiling could not start" in proc.stdout + proc.stderr


def test_plugin_loads_through_its_pytest11_entry_point(suite):
    from importlib.metadata import entry_points

    ours = [ep for ep in entry_points(group="pytest11") if ep.module == "crossbridge_assets.hooks.pytest_plugin"]
    assert len(ours) == 1, [ep.value for ep in entry_points(group="pytest11")]
    assert ours[0].value == "crossbridge_assets.hooks.pytest_plugin" and ours[0].dist.name == "crossbridge-assets"

    # No -p anywhere: not on the command line, not through PYTEST_PLUGINS / PYTEST_ADDOPTS.
    env = {k: v for k, v in _env().items()
           if k not in ("PYTEST_PLUGINS", "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    out = suite / "events"
    cmd = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--crossbridge={out}",
           "-k", "test_pass or test_fail", "test_suite.py"]
    proc = run(cmd, cwd=suite, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # test_fail fails, on purpose
    assert "crossbridge: profiling events written to" in proc.stdout
    files = event_files(out)
    assert len(files) == 1
    _, spans = read_events(files[0])
    assert {s.attributes["nodeid"]: s.status for s in spans if s.kind == "test"} == {
        "test_suite.py::test_pass": "passed", "test_suite.py::test_fail": "failed"}

    # With entry-point plugins switched off the option does not even exist: it was the entry point.
    proc = run(cmd, cwd=suite, env={**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert proc.returncode == 4 and "--crossbridge" in proc.stderr, proc.stdout + proc.stderr
    assert len(event_files(out)) == 1
