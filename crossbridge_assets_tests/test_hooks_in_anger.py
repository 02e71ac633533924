"""The hooks under the things real test runs do to them: xdist workers, interrupts, crashes, an
events folder that disappears or fills up. The run must go on unchanged, the hook must say
what went wrong once, and what it wrote must read (and ingest) correctly."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from crossbridge_assets_tests.hooks_helpers import PLUGIN_ARGS, PYTHON, event_files, read_events, run


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSBRIDGE_", "PYTEST_XDIST"))}
    env.update(extra)
    return env


def _pytest(folder: Path, *args: str, env: dict | None = None):
    return run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGIN_ARGS, *args],
               cwd=folder, env=env if env is not None else _env(), timeout=180)


def _all_spans(folder: Path, pattern: str = "*.jsonl"):
    spans = []
    for f in event_files(folder, pattern):
        spans.extend(read_events(f)[1])
    return spans


def _crossbridge_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("crossbridge:")]


REMOVES_THE_FOLDER = textwrap.dedent('''
    import glob
    import os
    import shutil
    import time

    import pytest


    def _wait_for(condition):
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)


    @pytest.mark.parametrize("n", range(6))
    def test_many(n):
        # A clean-up step that wipes the folder the events go to, half way through, while every
        # xdist worker is in the middle of its tests (the sync folder is their meeting point).
        folder, sync = os.environ.get("EVENTS"), os.environ.get("SYNC")
        if n != 2 or not folder:
            return
        me, workers = os.environ.get("PYTEST_XDIST_WORKER", "gw0"), int(os.environ.get("WORKERS", "1"))
        open(os.path.join(sync, "ready-" + me), "w").close()
        removed = os.path.join(sync, "removed")
        if me == "gw0":
            _wait_for(lambda: len(glob.glob(os.path.join(sync, "ready-*"))) >= workers)
            shutil.rmtree(folder)
            open(removed, "w").close()
        else:
            _wait_for(lambda: os.path.exists(removed))
''')


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "each"]], ids=["plain", "xdist"])
def test_events_folder_removed_during_the_run(tmp_path, workers):
    (tmp_path / "test_wipe.py").write_text(REMOVES_THE_FOLDER)
    out, sync = tmp_path / "events", tmp_path / "sync"
    sync.mkdir()
    proc = _pytest(tmp_path, *workers, f"--crossbridge={out}", "test_wipe.py",
                   env=_env(EVENTS=str(out), SYNC=str(sync), WORKERS="2" if workers else "1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("12 passed" if workers else "6 passed") in proc.stdout
    # The events are not lost with the folder: it is made again and every span is written.
    spans = _all_spans(out)
    tests = sorted(s.attributes["nodeid"] for s in spans if s.kind == "test")
    assert tests == sorted([f"test_wipe.py::test_many[{n}]" for n in range(6)] * (2 if workers else 1)), proc.stdout
    assert not event_files(out, "*.part")
    # Said once, in the summary, not per test.
    said = [line for line in _crossbridge_lines(proc.stdout) if "was removed during the run" in line]
    assert len(said) == 1, proc.stdout


FILLS_THE_DISK = textwrap.dedent('''
    import resource
    import signal

    # The session's files may grow to 3 kB, as if the disk filled up after the first spans
    # (writes past that fail with EFBIG instead of killing the process).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
''')


@pytest.mark.skipif(os.name != "posix", reason="needs RLIMIT_FSIZE (POSIX)")
def test_events_disk_full_during_the_run(tmp_path):
    (tmp_path / "test_wipe.py").write_text(REMOVES_THE_FOLDER)
    (tmp_path / "conftest.py").write_text(FILLS_THE_DISK)
    out = tmp_path / "events"
    proc = _pytest(tmp_path, f"--crossbridge={out}", "test_wipe.py", env=_env(PYTHONDONTWRITEBYTECODE="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 passed" in proc.stdout
    said = [line for line in _crossbridge_lines(proc.stdout) if "cannot write events" in line]
    assert len(said) == 1 and "profiling stops here" in said[0], proc.stdout
    # What reached the disk is published now (not left as *.part for hours), read as unfinished.
    assert not event_files(out, "*.part")
    (f,) = event_files(out)
    info, spans = read_events(f)
    assert info.properties["complete"] == "false" and 0 < len(spans) < 6 * 4


INTERRUPTED = textwrap.dedent('''
    import pytest
    import requests


    def test_before():
        pass


    def test_ctrl_c(base):
        requests.get(base + "/users/1")
        raise KeyboardInterrupt


    def test_never_runs():
        pass


    @pytest.fixture
    def base():
        import os
        return os.environ["CB_TEST_BASE"]
''')


def test_a_test_interrupted_by_ctrl_c_keeps_its_span(tmp_path):
    from crossbridge_assets_tests.hooks_helpers import http_server

    (tmp_path / "test_stop.py").write_text(INTERRUPTED)
    out = tmp_path / "events"
    with http_server() as base:
        proc = _pytest(tmp_path, f"--crossbridge={out}", "test_stop.py", env=_env(CB_TEST_BASE=base))
    assert proc.returncode == 2, proc.stdout + proc.stderr  # pytest's "interrupted"
    (f,) = event_files(out)
    info, spans = read_events(f)
    assert info.properties["status"] == "interrupted" and info.warnings == []
    tests = {s.attributes["nodeid"]: s for s in spans if s.kind == "test"}
    # The test that was running when the session stopped is there, as an error, with the phase
    # it stopped in; the test after it never started.
    assert {k: s.status for k, s in tests.items()} == {
        "test_stop.py::test_before": "passed", "test_stop.py::test_ctrl_c": "error"}
    stopped = tests["test_stop.py::test_ctrl_c"]
    phases = {s.kind: s for s in spans if s.parent_id == stopped.span_id}
    assert set(phases) == {"setup", "call"} and phases["call"].status == "error"
    assert "interrupted" in stopped.attributes["message"]
    # Every span's parent is in the file: the HTTP call under the call phase, the phases under the
    # test, the tests under the session.
    ids = {s.span_id for s in spans}
    assert [s for s in spans if s.parent_id and s.parent_id not in ids] == []
    (http,) = [s for s in spans if s.kind == "http"]
    assert http.parent_id == phases["call"].span_id and http.test == stopped.test


KILLS_A_WORKER = textwrap.dedent('''
    import os
    import signal

    import pytest


    @pytest.mark.parametrize("n", range(40))
    def test_many(n):
        if n == 17:  # the worker dies mid-run, as under the OOM killer
            os.kill(os.getpid(), signal.SIGKILL)
''')


def test_xdist_with_a_killed_worker_ingests_every_span_once(tmp_path, crossbridge_env, dagster_instance):
    from sqlalchemy import func, select

    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets_tests.test_ingest_e2e import execute, run_requests_until_ready

    s = crossbridge_env
    (tmp_path / "test_kill.py").write_text(KILLS_A_WORKER)
    out = s.inbox / "shop" / "main" / "7"
    proc = _pytest(tmp_path, "-n", "2", f"--crossbridge={out}", "test_kill.py")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # xdist fails the killed test
    assert "39 passed" in proc.stdout and "1 failed" in proc.stdout
    said = [line for line in _crossbridge_lines(proc.stdout) if "stopped before the end" in line]
    assert len(said) == 1, proc.stdout
    parts, finished = event_files(out, "*.jsonl.part"), event_files(out)
    assert len(parts) == 1 and len(finished) >= 2  # the replacement worker writes a file of its own
    written = {}
    for f in parts + finished:
        for span in read_events(f)[1]:
            written.setdefault(span.kind, []).append(span.attributes.get("nodeid"))
    assert sorted(written["test"]) == sorted(f"test_kill.py::test_many[{n}]" for n in range(40) if n != 17)
    assert len(written["setup"]) == 40  # the killed test's setup span was written before it died

    # A crashed session's *.part is ingested once it is stale; every span lands exactly once.
    old = os.path.getmtime(parts[0]) - s.stale_part_seconds - 60
    for f in parts + finished:
        os.utime(f, (old, old))
    _, tick = run_requests_until_ready(dagster_instance)
    assert len(tick.run_requests) == 1
    result = execute(dagster_instance, tick.run_requests[0])
    E = schema.profile_events
    with make_engine(s.warehouse_url).connect() as conn:
        kinds = dict(conn.execute(select(E.c.kind, func.count()).group_by(E.c.kind)).all())
        tests = conn.execute(select(E.c.name, func.count()).where(E.c.kind == "test").group_by(E.c.name)).all()
        reports = conn.execute(select(schema.reports.c.status, schema.reports.c.project, schema.reports.c.build)).all()
    assert {name: n for name, n in tests} == {f"test_kill.py::test_many[{n}]": 1 for n in range(40) if n != 17}
    assert kinds["setup"] == 40 and kinds["call"] == kinds["teardown"] == 39
    assert kinds["session"] == len(finished)
    assert sorted(reports) == [("landed", "shop", "7")] * (len(finished) + 1)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["unfinished_sessions"].passed  # the killed worker's session is reported


RUNS_PYTEST_INSIDE = textwrap.dedent('''
    import os
    import subprocess
    import sys

    import requests

    pytest_plugins = ["pytester"]


    def test_plugin_behaviour(pytester):
        # A suite that tests a pytest plugin runs pytest inside its tests, in-process and in a
        # child process, on example tests of its own.
        pytester.makepyfile("def test_example(): pass")
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
        pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
        # Asked for explicitly, an inner run is profiled, into its own folder.
        pytester.runpytest("-p", "no:cacheprovider", "--crossbridge=" + os.environ["INNER"]).assert_outcomes(passed=1)


    def test_after_it():
        assert requests.get(os.environ["CB_TEST_BASE"] + "/users/1").status_code == 200
''')


def test_pytest_run_inside_a_test_is_not_profiled_as_a_session_of_its_own(tmp_path):
    from crossbridge_assets_tests.hooks_helpers import http_server

    (tmp_path / "test_outer.py").write_text(RUNS_PYTEST_INSIDE)
    home = tmp_path / "home"
    with http_server() as base:
        proc = _pytest(tmp_path, "test_outer.py",
                       env=_env(CROSSBRIDGE_PROFILE="1", CROSSBRIDGE_HOME=str(home), CB_TEST_BASE=base,
                                INNER=str(tmp_path / "inner")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # One session: the user's. The example tests run by pytester are not a test run of the project.
    (f,) = event_files(home / "inbox")
    _, spans = read_events(f)
    assert sorted(s.attributes["nodeid"] for s in spans if s.kind == "test") == [
        "test_outer.py::test_after_it", "test_outer.py::test_plugin_behaviour"]
    # And the HTTP hook still records the tests that come after the inner runs.
    (http,) = [s for s in spans if s.kind == "http"]
    after = next(s for s in spans if s.kind == "test" and s.attributes["nodeid"].endswith("test_after_it"))
    assert http.test == after.test and http.status == "200"
    (inner,) = event_files(tmp_path / "inner")
    assert [s.attributes["nodeid"] for s in read_events(inner)[1] if s.kind == "test"] == [
        "test_plugin_behaviour.py::test_example"]


MOVES_AWAY = textwrap.dedent("""
    *** Test Cases ***
    Moves Away
        Evaluate    os.chdir('elsewhere')    modules=os

    After It
        Log    still here
""")


def test_a_relative_events_folder_is_where_the_run_started_even_if_a_test_changes_directory(tmp_path):
    (tmp_path / "suite").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "suite" / "moves.robot").write_text(MOVES_AWAY)
    proc = run([PYTHON, "-m", "robot", "--output", "NONE", "--report", "NONE", "--log", "NONE",
                "--listener", "crossbridge_assets.hooks.robot_listener:events", "suite"], cwd=tmp_path, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A script using the HTTP hook alone, into the default folder (.crossbridge/inbox).
    script = "import os\nfrom crossbridge_assets.hooks import http\nhttp.install()\nos.chdir('elsewhere')\n"
    proc = run([PYTHON, "-c", script], cwd=tmp_path, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "crossbridge" not in proc.stdout + proc.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []
    (robot,) = event_files(tmp_path / "events", "*")
    (script,) = event_files(tmp_path / ".crossbridge" / "inbox", "*")
    assert robot.suffix == script.suffix == ".jsonl"
    tests = [s.name for s in read_events(robot)[1] if s.kind == "test"]
    assert tests == ["Suite.Moves.Moves Away", "Suite.Moves.After It"]


FREEZES_TIME = textwrap.dedent('''
    import os
    import sys
    import time

    import pytest
    import requests

    FROZEN = 1326499200.0  # 2012-01-14


    @pytest.fixture
    def frozen(monkeypatch):
        # What freezegun does: every module attribute that is the real clock becomes a frozen one,
        # but pytest's own (its runner keeps the real time).
        real = {time.time: lambda: FROZEN, time.perf_counter: lambda: 1.0, time.monotonic: lambda: 1.0}
        monkeypatch.setattr(time, "time", real[time.time])
        monkeypatch.setattr(time, "perf_counter", real[time.perf_counter])
        for module_name, module in list(sys.modules.items()):
            if module_name.startswith(("_pytest", "pytest")):
                continue
            try:
                attributes = list(vars(module).items())
            except TypeError:
                continue
            for name, value in attributes:
                try:
                    fake = real.get(value)
                except TypeError:  # unhashable
                    continue
                if fake is not None:
                    monkeypatch.setattr(module, name, fake)


    def test_token_expiry(frozen):
        assert time.time() == FROZEN
        assert requests.get(os.environ["CB_TEST_BASE"] + "/users/1").status_code == 200
''')


def test_spans_keep_the_real_time_in_a_test_that_freezes_the_clock(tmp_path):
    from crossbridge_assets_tests.hooks_helpers import http_server

    (tmp_path / "test_frozen.py").write_text(FREEZES_TIME)
    out = tmp_path / "events"
    with http_server() as base:
        proc = _pytest(tmp_path, f"--crossbridge={out}", "test_frozen.py", env=_env(CB_TEST_BASE=base))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (f,) = event_files(out)
    info, spans = read_events(f)
    (http,) = [s for s in spans if s.kind == "http"]
    (test,) = [s for s in spans if s.kind == "test"]
    # The call is placed inside its test (not in 2012), with the time it really took.
    from datetime import timedelta

    assert test.start <= http.start <= test.start + timedelta(seconds=test.duration)
    assert 0 < http.duration <= test.duration


FORKS = textwrap.dedent('''
    import os

    import requests


    def test_forks_a_worker():
        pid = os.fork()
        if pid == 0:  # the child: a call, then out, as multiprocessing's fork workers do
            try:
                requests.get(os.environ["CB_TEST_BASE"] + "/users/1")
            finally:
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        assert requests.get(os.environ["CB_TEST_BASE"] + "/users/2").status_code == 200
''')

FORKING_SCRIPT = """
import os, sys
import requests
from crossbridge_assets.hooks import http
http.install()
base = os.environ["CB_TEST_BASE"]
if os.fork() == 0:
    requests.get(base + "/users/1")
    sys.exit(0)  # runs the atexit handlers the child inherited
os.wait()
requests.get(base + "/users/2")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_leaves_the_parents_event_file_alone(tmp_path):
    from crossbridge_assets_tests.hooks_helpers import http_server

    (tmp_path / "test_fork.py").write_text(FORKS)
    with http_server() as base:
        proc = _pytest(tmp_path, "--crossbridge=events", "test_fork.py", env=_env(CB_TEST_BASE=base))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        script = run([PYTHON, "-c", FORKING_SCRIPT], cwd=tmp_path, env=_env(CB_TEST_BASE=base))
        assert script.returncode == 0, script.stdout + script.stderr
    assert "crossbridge" not in script.stdout + script.stderr
    for folder in (tmp_path / "events", tmp_path / ".crossbridge" / "inbox"):
        (f,) = event_files(folder, "*")
        assert f.suffix == ".jsonl"
        info, spans = read_events(f)
        # The file is the parent's: its spans, one end line, a count that matches.
        assert info.warnings == [] and info.declared["spans"] == len(spans)
        assert f.read_text().count('"crossbridge_events_end"') == 1
        assert [s.attributes["path"] for s in spans if s.kind == "http"] == ["/users/2"]


def test_playwright_navigations_through_a_redirect_and_to_a_refused_port(tmp_path):
    from crossbridge_assets_tests.test_hooks_browser import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from crossbridge_assets.hooks import events
    from crossbridge_assets.hooks.playwright_hook import attach
    from crossbridge_assets_tests.hooks_helpers import http_server
    from crossbridge_assets_tests.test_hooks_browser import _closed_port

    writer = events.EventWriter(tmp_path / "events", framework="python", env={})
    with http_server() as base, sync_playwright() as p:
        host = base.split("://", 1)[1]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            handle = attach(page, writer)
            page.goto(base + "/redirect")  # 302 to /users/1
            page.goto(base + "/page/1")
            down = f"127.0.0.1:{_closed_port()}/down"
            with pytest.raises(PlaywrightError, match="ERR_CONNECTION_REFUSED"):
                page.goto(f"http://{down}")
            page.wait_for_url("chrome-error://chromewebdata/")  # chromium's error page is shown
            page.wait_for_load_state("load")
            handle.detach()
        finally:
            browser.close()
    _, spans = read_events(writer.close())
    navs = [(s.name, s.status, s.attributes.get("redirects")) for s in spans if s.kind == "navigation"]
    # One navigation a goto: the redirect is part of it (not a navigation "interrupted" by its own
    # second hop), and the browser's error page after a refused connection is not a navigation.
    assert navs == [(f"{host}/users/{{id}}", "ok", 1), (f"{host}/page/{{id}}", "ok", None),
                    (down, "error", None)], navs
    redirected = next(s for s in spans if s.kind == "navigation")
    first_hop = next(s for s in spans if s.kind == "http" and s.name.endswith("/redirect"))
    assert redirected.start == first_hop.start and redirected.attributes["status_code"] == 200


RUNS_ROBOT_INSIDE = textwrap.dedent('''
    import os

    import requests
    import robot


    def test_runs_robot(tmp_path):
        (tmp_path / "inner.robot").write_text("*** Test Cases ***\\nInner\\n    Log    hi\\n")
        with open(os.devnull, "w") as quiet:
            assert robot.run(str(tmp_path / "inner.robot"), output=None, report=None, log=None, stdout=quiet,
                             listener="crossbridge_assets.hooks.robot_listener:" + os.environ["INNER"]) == 0


    def test_after_it():
        assert requests.get(os.environ["CB_TEST_BASE"] + "/users/1").status_code == 200
''')


def test_robot_run_inside_a_pytest_test_gives_the_http_hook_back(tmp_path):
    from crossbridge_assets_tests.hooks_helpers import http_server

    (tmp_path / "test_robot_inside.py").write_text(RUNS_ROBOT_INSIDE)
    out, inner = tmp_path / "events", tmp_path / "inner"
    with http_server() as base:
        proc = _pytest(tmp_path, f"--crossbridge={out}", "test_robot_inside.py",
                       env=_env(CB_TEST_BASE=base, INNER=str(inner)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (robot_file,) = event_files(inner)
    assert [s.name for s in read_events(robot_file)[1] if s.kind == "test"] == ["Inner.Inner"]
    (f,) = event_files(out)
    _, spans = read_events(f)
    (http,) = [s for s in spans if s.kind == "http"]
    after = next(s for s in spans if s.kind == "test" and s.attributes["nodeid"].endswith("test_after_it"))
    assert http.test == after.test and http.status == "200"


def test_xdist_with_an_events_folder_that_cannot_be_made_says_so_once(tmp_path):
    (tmp_path / "test_wipe.py").write_text(REMOVES_THE_FOLDER)
    (tmp_path / "blocker").write_text("a file where the folder should be")
    proc = _pytest(tmp_path, "-n", "2", f"--crossbridge={tmp_path}/blocker/events", "test_wipe.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 passed" in proc.stdout
    output = proc.stdout + proc.stderr
    assert output.count("profiling could not start") == 1, output
    assert "Traceback" not in output and "events written" not in output, output


NESTED_SUITE = {
    "__init__.robot": """
        *** Settings ***
        Suite Setup       Log    top setup
        Suite Teardown    Log    top teardown
    """,
    "inner/checkout.robot": """
        *** Settings ***
        Test Teardown    Log    clean up

        *** Test Cases ***
        Pays
            Log    paid
        Card Declined
            Fail    declined
        Retries
            FOR    ${i}    IN RANGE    3
                Log    ${i}
            END
            Run Keyword And Ignore Error    Fail    swallowed
    """,
    "login.robot": """
        *** Test Cases ***
        Logs In
            Log    in
        Teardown Fails
            Log    body
            [Teardown]    Fail    teardown boom
    """,
}


def test_robot_processes_running_at_once_into_one_inbox_ingest_every_span_once(tmp_path, crossbridge_env,
                                                                               dagster_instance):
    """Two robot processes at once (as pabot runs them), then a --rerunfailed of one: one file
    each, all ingested, each test's spans exactly once per run."""
    import subprocess

    from sqlalchemy import func, select

    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets_tests.test_ingest_e2e import execute, run_requests_until_ready

    s = crossbridge_env
    for name, text in NESTED_SUITE.items():
        (tmp_path / "suite" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "suite" / name).write_text(textwrap.dedent(text))
    out = s.inbox / "shop" / "main" / "9"

    def robot(*args: str) -> list[str]:
        return [PYTHON, "-m", "robot", "--report", "NONE", "--log", "NONE", "--console", "none",
                "--listener", f"crossbridge_assets.hooks.robot_listener:{out}", *args, "suite"]

    both = [subprocess.Popen(robot("--output", f"out{n}.xml"), cwd=tmp_path, env=_env()) for n in (1, 2)]
    assert [p.wait(timeout=180) for p in both] == [2, 2]  # two failed tests each
    again = run(robot("--rerunfailed", "out1.xml", "--output", "rerun.xml"), cwd=tmp_path, env=_env())
    assert again.returncode == 2, again.stdout + again.stderr
    files = event_files(out)
    assert len(files) == 3 and not event_files(out, "*.part")
    for f in files:
        info, spans = read_events(f)
        assert info.warnings == [] and info.properties["status"] == "failed"
        ids = {x.span_id for x in spans}
        assert all(x.parent_id in ids for x in spans if x.parent_id)

    old = os.path.getmtime(files[0]) - 60
    for f in files:
        os.utime(f, (old, old))
    _, tick = run_requests_until_ready(dagster_instance)
    assert len(tick.run_requests) == 1
    execute(dagster_instance, tick.run_requests[0])
    E = schema.profile_events
    with make_engine(s.warehouse_url).connect() as conn:
        tests = dict(conn.execute(select(E.c.name, func.count()).where(E.c.kind == "test").group_by(E.c.name)).all())
        suites = conn.execute(select(func.count()).where(E.c.kind == "suite")).scalar_one()
        reports = conn.execute(select(func.count()).select_from(schema.reports)
                               .where(schema.reports.c.status == "landed")).scalar_one()
    assert reports == 3
    # Five tests in each full run, the two failed ones again in the rerun.
    assert tests == {"Suite.Inner.Checkout.Pays": 2, "Suite.Inner.Checkout.Card Declined": 3,
                     "Suite.Inner.Checkout.Retries": 2, "Suite.Login.Logs In": 2, "Suite.Login.Teardown Fails": 3}
    assert suites == 4 + 4 + 4  # Suite, Suite.Inner, Suite.Inner.Checkout, Suite.Login in each


def test_a_robot_dry_run_writes_no_events(tmp_path):
    # A dry run (a lint step in CI, with the listener set for every robot call through
    # ROBOT_OPTIONS) runs no keyword: its "passed" tests and their near-zero times are not timings.
    for name, text in NESTED_SUITE.items():
        (tmp_path / "suite" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "suite" / name).write_text(textwrap.dedent(text))
    out = tmp_path / "events"
    env = _env(ROBOT_OPTIONS=f"--listener crossbridge_assets.hooks.robot_listener:{out}")
    proc = run([PYTHON, "-m", "robot", "--dryrun", "--output", "NONE", "--report", "NONE", "--log", "NONE",
                "suite"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 tests, 5 passed" in proc.stdout
    assert event_files(out, "*") == []
    # The same suite run for real through the same options is profiled.
    proc = run([PYTHON, "-m", "robot", "--output", "NONE", "--report", "NONE", "--log", "NONE", "suite"],
               cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (f,) = event_files(out)
    assert sum(1 for s in read_events(f)[1] if s.kind == "test") == 5


@pytest.mark.parametrize("mode", ["--collect-only", "--setup-plan", "--setup-only"])
def test_pytest_modes_that_run_no_test_write_no_events(tmp_path, mode):
    # pytest's dry runs: test_fail would be written as passed, in no time at all.
    (tmp_path / "test_modes.py").write_text("def test_pass():\n    pass\n\ndef test_fail():\n    assert 0\n")
    out = tmp_path / "events"
    proc = _pytest(tmp_path, mode, f"--crossbridge={out}", "test_modes.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert event_files(out, "*") == []
    assert "crossbridge" not in proc.stdout + proc.stderr


@pytest.mark.skipif(os.name != "posix", reason="needs RLIMIT_FSIZE (POSIX)")
def test_a_disk_full_from_the_start_leaves_no_file(tmp_path):
    # Not even the header fits: what was written of it is no event file, and is not published.
    (tmp_path / "test_wipe.py").write_text(REMOVES_THE_FOLDER)
    (tmp_path / "conftest.py").write_text(FILLS_THE_DISK.replace("3000", "100"))
    out = tmp_path / "events"
    proc = _pytest(tmp_path, f"--crossbridge={out}", "test_wipe.py", env=_env(PYTHONDONTWRITEBYTECODE="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert event_files(out, "*") == []
    assert [line for line in _crossbridge_lines(proc.stdout)] == [
        f"crossbridge: cannot write events to {out} ([Errno 27] File too large); profiling stops here"], proc.stdout
