"""The event writer keeps spans in memory for a moment (what makes the hooks cheap inside a test
run): what may wait and for how long, and that every way a runner ends still leaves its spans
whole, once, in the file. Speed itself is measured by benchmarks/hooks_bench.py."""

from __future__ import annotations

import os
import textwrap
from datetime import datetime, timezone

import pytest

from crossbridge_assets.hooks import events
from crossbridge_assets_tests.hooks_helpers import PLUGIN_ARGS, PYTHON, event_files, http_server, read_events, run
from crossbridge_assets_tests.test_hooks_in_anger import _env, _pytest


def _names_on_disk(writer: events.EventWriter) -> list[str]:
    """Span names in the file as a runner killed now would leave it."""
    _, spans = read_events(writer.part_path)
    return [s.name for s in spans]


def test_spans_wait_at_most_a_bounded_count(tmp_path):
    w = events.EventWriter(tmp_path, framework="python", env={})
    start = events.now()
    for i in range(events.FLUSH_SPANS - 1):
        w.span("step", f"s{i}", start, 0.001)
    assert _names_on_disk(w) == []  # waiting: what a SIGKILL now would lose
    w.span("step", "last", start, 0.001)
    assert len(_names_on_disk(w)) == events.FLUSH_SPANS
    w.close()


def test_spans_wait_at_most_about_a_second(tmp_path, monkeypatch):
    # The writer's own clock is moved on (tests that freeze time.time do not reach it either).
    clock = [1000.0]
    monkeypatch.setitem(events._CLOCKS, "perf", lambda: clock[0])
    w = events.EventWriter(tmp_path, framework="python", env={})
    start = events.now()
    w.span("step", "first", start, 0.001)
    clock[0] += events.FLUSH_SECONDS / 2
    w.span("step", "second", start, 0.001)
    assert _names_on_disk(w) == []
    clock[0] += events.FLUSH_SECONDS / 2
    w.span("step", "third", start, 0.001)  # a second after the first one waited
    assert _names_on_disk(w) == ["first", "second", "third"]
    w.span("step", "fourth", start, 0.001)
    assert w.flush() and _names_on_disk(w) == ["first", "second", "third", "fourth"]
    w.close()


def test_text_json_cannot_hold_does_not_stop_profiling(tmp_path):
    # A lone surrogate (a file name decoded with surrogateescape, passed on as a keyword argument)
    # cannot be written as UTF-8, an integer beyond 64 bits is more than orjson takes: the span is
    # written with what can be written, and the session goes on.
    w = events.EventWriter(tmp_path, framework="python", env={})
    start = events.now()
    w.span("keyword", "Open \udcff.csv", start, 0.1, attributes={"args": ["\udcff.csv"], "size": 2**70})
    w.span("keyword", "After It", start, 0.1)
    path = w.close("passed")
    assert w.problem is None
    info, spans = read_events(path)
    assert info.warnings == [] and info.properties["complete"] == "true"
    assert [s.name for s in spans] == ["Open \ufffd.csv", "After It"]
    assert spans[0].attributes == {"args": ["\ufffd.csv"], "size": 2**70}


@pytest.mark.parametrize("epoch", [0.0, 1.5e-6, 2.5e-6, 1_790_000_000.0000005, 1_790_000_000.9999995,
                                   1_790_000_059.9999996, 1_790_000_000.123456, 4_102_444_799.999999, -1.25])
def test_span_times_are_written_as_datetime_writes_them(epoch):
    assert events.iso(epoch) == datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="microseconds")


def test_span_ids_differ_in_a_forked_child_and_after_the_tests_seed_random():
    import random

    random.seed(7)
    first = events.new_id()
    random.seed(7)
    assert events.new_id() != first and len(first) == 16
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, events.new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert child != events.new_id()


FORKS_WITH_SPANS_WAITING = """
import os, sys
import requests
from crossbridge_assets.hooks import http
http.install()
base = os.environ["CB_TEST_BASE"]
for n in range(3):
    requests.get(f"{base}/users/{n}")  # waiting in the parent's buffer when it forks
if os.fork() == 0:
    sys.exit(0)  # the interpreter's exit flushes the file buffers the child inherited
os.wait()
requests.get(base + "/users/after")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_spans_wait_does_not_write_them_again(tmp_path):
    with http_server() as base:
        proc = run([PYTHON, "-c", FORKS_WITH_SPANS_WAITING], cwd=tmp_path, env=_env(CB_TEST_BASE=base))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (f,) = event_files(tmp_path / ".crossbridge" / "inbox", "*")
    info, spans = read_events(f)
    assert info.warnings == [] and info.declared["spans"] == len(spans)
    assert [s.attributes["path"] for s in spans] == ["/users/0", "/users/1", "/users/2", "/users/after"]


ENDS_WITHOUT_CLOSING = """
import sys
from crossbridge_assets.hooks import events
w = events.EventWriter(sys.argv[1], framework="python", env={})
for n in range(5):
    w.span("step", f"step {n}", events.now(), 0.01)
how = sys.argv[2]
if how == "exception":
    raise RuntimeError("the runner crashed")
if how == "exit":
    sys.exit(3)
"""


@pytest.mark.parametrize("how", ["exception", "exit", "end"])
def test_a_session_never_closed_keeps_its_waiting_spans(tmp_path, how):
    # A runner that crashes, or a tool that never closes its writer: the spans reach the
    # *.part file at exit, ingested as an unfinished session.
    proc = run([PYTHON, "-c", ENDS_WITHOUT_CLOSING, str(tmp_path / "events"), how], cwd=tmp_path, env=_env())
    assert proc.returncode == {"exception": 1, "exit": 3, "end": 0}[how], proc.stderr
    (f,) = event_files(tmp_path / "events", "*.part")
    info, spans = read_events(f)
    assert [s.name for s in spans] == [f"step {n}" for n in range(5)]
    assert info.properties["complete"] == "false"


KILLED_MID_TEST = textwrap.dedent('''
    import os
    import signal

    import requests


    def test_calls(n=3):
        for i in range(n):
            assert requests.get(os.environ["CB_TEST_BASE"] + f"/users/{i}").status_code == 200


    def test_dies():
        os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, in the middle of the test body
''')


def test_a_pytest_run_killed_in_a_test_keeps_every_span_before_it(tmp_path):
    (tmp_path / "test_killed.py").write_text(KILLED_MID_TEST)
    out = tmp_path / "events"
    with http_server() as base:
        proc = _pytest(tmp_path, f"--crossbridge={out}", "test_killed.py", env=_env(CB_TEST_BASE=base))
    assert proc.returncode == -9, proc.stdout + proc.stderr
    (f,) = event_files(out, "*.part")
    info, spans = read_events(f)
    assert not any("truncated" in w for w in info.warnings), info.warnings
    # The test before, whole (its HTTP calls too), and the killed test's setup: which test died.
    assert [(s.kind, s.attributes.get("nodeid") or s.attributes["path"]) for s in spans] == [
        ("setup", "test_killed.py::test_calls"), ("http", "/users/0"), ("http", "/users/1"), ("http", "/users/2"),
        ("call", "test_killed.py::test_calls"), ("teardown", "test_killed.py::test_calls"),
        ("test", "test_killed.py::test_calls"), ("setup", "test_killed.py::test_dies")]


KILLED_ROBOT = textwrap.dedent("""
    *** Test Cases ***
    First
        Log    one
        No Operation

    Second
        Log    two
        Evaluate    os.kill(os.getpid(), signal.SIGKILL)    modules=os,signal
""")


def test_a_robot_run_killed_in_a_keyword_keeps_every_span_before_it(tmp_path):
    (tmp_path / "killed.robot").write_text(KILLED_ROBOT)
    out = tmp_path / "events"
    proc = run([PYTHON, "-m", "robot", "--output", "NONE", "--report", "NONE", "--log", "NONE",
                "--listener", f"crossbridge_assets.hooks.robot_listener:{out}", "killed.robot"],
               cwd=tmp_path, env=_env())
    assert proc.returncode == -9, proc.stdout + proc.stderr
    (f,) = event_files(out, "*.part")
    _, spans = read_events(f)
    assert [(s.kind, s.name) for s in spans] == [
        ("keyword", "BuiltIn.Log"), ("keyword", "BuiltIn.No Operation"), ("test", "Killed.First"),
        ("keyword", "BuiltIn.Log")]


EXITS_AFTER_PYTEST = """
import os, sys
import pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[2:], "--crossbridge=" + sys.argv[1], "test_few.py"])
os._exit(int(code))  # no interpreter exit, no atexit: what pytest left is all there is
"""


def test_os_exit_after_pytest_finishes_keeps_every_span(tmp_path):
    (tmp_path / "test_few.py").write_text("".join(f"def test_{n}():\n    pass\n\n" for n in range(10)))
    out = tmp_path / "events"
    proc = run([PYTHON, "-c", EXITS_AFTER_PYTEST, str(out), *PLUGIN_ARGS], cwd=tmp_path, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (f,) = event_files(out, "*")
    info, spans = read_events(f)
    assert f.suffix == ".jsonl" and info.warnings == [] and info.declared["spans"] == len(spans) == 10 * 4 + 1


IMPORTS_LATE = textwrap.dedent('''
    import os
    import sys


    def test_imports_no_client():
        # Profiling does not import the HTTP clients into a run that never uses them.
        assert "requests" not in sys.modules and "httpx" not in sys.modules


    def test_imports_httpx_in_the_test():
        import httpx

        assert httpx.get(os.environ["CB_TEST_BASE"] + "/users/1").status_code == 200


    def test_imports_requests_in_the_test():
        import requests

        assert requests.get(os.environ["CB_TEST_BASE"] + "/users/2").status_code == 200
''')


def test_http_clients_imported_by_a_test_are_recorded_from_their_first_call(tmp_path):
    (tmp_path / "test_late.py").write_text(IMPORTS_LATE)
    out = tmp_path / "events"
    with http_server() as base:
        proc = _pytest(tmp_path, f"--crossbridge={out}", "test_late.py", env=_env(CB_TEST_BASE=base))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (f,) = event_files(out)
    _, spans = read_events(f)
    calls = {s.attributes["client"]: s for s in spans if s.kind == "http"}
    assert sorted(calls) == ["httpx", "requests"]
    tests = {s.test: s.attributes["nodeid"] for s in spans if s.kind == "test"}
    assert tests[calls["httpx"].test].endswith("test_imports_httpx_in_the_test")
    assert calls["requests"].attributes["path"] == "/users/2"
