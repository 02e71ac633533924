"""Selenium and Playwright hooks against Debian's chromium on a page served from 127.0.0.1:
in-process under a given writer, in plain scripts (child processes) that open their own session,
and under the pytest plugin in a child pytest.

Only a missing browser skips (it cannot be installed everywhere); selenium and playwright are test
dependencies, so a missing package, or a browser that fails to start, fails."""

from __future__ import annotations

import os
import shutil
import textwrap

import pytest
from playwright.sync_api import sync_playwright
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.events import EventFiringWebDriver

from crossbridge_assets import model
from crossbridge_assets.formats import open_report
from crossbridge_assets.hooks import events
from crossbridge_assets.hooks.playwright_hook import attach
from crossbridge_assets.hooks.selenium_listener import CrossBridgeListener

from crossbridge_assets_tests.hooks_helpers import PLUGIN_ARGS, PYTHON, event_files, http_server, read_events, run

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# As root chromium refuses to start without --no-sandbox; the rest keeps it off the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"),
]


def chrome() -> webdriver.Chrome:
    """A Selenium driver on Debian's chromium (also imported by the child scripts below)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture
def chromedriver():
    if not os.path.exists(CHROMEDRIVER):
        pytest.skip(f"{CHROMEDRIVER} is missing (apt-get install -y chromium-driver)")


@pytest.fixture
def writer(tmp_path):
    previous = events.active()
    w = events.EventWriter(tmp_path / "events", framework="python", env={})
    w.context = events.Context(test="browser-test", parent_id="call-span")
    events.set_active(w)
    try:
        yield w
    finally:
        w.close()
        events.set_active(previous)


@pytest.fixture
def server():
    with http_server() as base:
        yield base


def test_selenium_listener(server, writer, chromedriver):
    driver = EventFiringWebDriver(chrome(), CrossBridgeListener())
    try:
        driver.get(server + "/page/1")
        driver.find_element(By.ID, "name").send_keys("secret-password")
        driver.find_element(By.ID, "go").click()
        assert driver.find_element(By.ID, "title").text == "Clicked"
        driver.execute_script("return document.title")
        with pytest.raises(NoSuchElementException):
            driver.find_element(By.ID, "does-not-exist")
    finally:
        driver.quit()

    info, spans = read_events(writer.close())
    assert info.warnings == []
    assert all(s.kind == "driver_command" for s in spans)
    host = server.split("://", 1)[1]
    names = [s.name for s in spans]
    assert names == [
        f"navigate_to {host}/page/{{id}}",
        "find id=name", "change_value_of", "find id=go", "click", "find id=title",
        "execute_script", "find id=does-not-exist", "quit",
    ]
    assert all(s.test == "browser-test" and s.parent_id == "call-span" for s in spans)
    assert spans[0].status == "ok" and spans[0].duration > 0
    missing = spans[-2]
    assert missing.status == "error" and "NoSuchElementException" in missing.attributes["error"]
    assert "secret-password" not in repr(spans)


def test_playwright_attach(server, writer):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            handle = attach(page)
            page.goto(server + "/page/1", wait_until="load")
            page.wait_for_load_state("networkidle")
            page.click("#next")
            page.wait_for_url("**/page/2")
            page.wait_for_load_state("networkidle")
            page.evaluate("history.pushState({}, '', '/page/3#x')")
            # A request that gets no response at all.
            page.evaluate("url => fetch(url).then(() => 1, () => 0)", f"http://127.0.0.1:{_closed_port()}/api/down")
            handle.detach()
        finally:
            browser.close()

    info, spans = read_events(writer.close())
    assert info.warnings == []
    host = server.split("://", 1)[1]
    navs = [s for s in spans if s.kind == "navigation"]
    assert [(s.name, s.status) for s in navs] == [
        (f"{host}/page/{{id}}", "ok"), (f"{host}/page/{{id}}", "ok"), (f"{host}/page/{{id}}", "ok")]
    assert navs[0].attributes["status_code"] == 200 and navs[0].duration > 0
    assert "commit_ms" in navs[0].attributes
    assert navs[2].attributes["same_document"] is True

    http = [(s.name, s.status) for s in spans if s.kind == "http"]
    assert (f"GET {host}/page/{{id}}", "200") in http
    assert (f"GET {host}/static/style.css", "200") in http
    assert (f"GET {host}/api/users/{{id}}", "200") in http
    assert (f"GET {host}/api/missing", "404") in http
    (down,) = [s for s in spans if s.kind == "http" and s.name.endswith("/api/down")]
    assert down.status == "error" and down.attributes["error"]
    for s in spans:
        assert s.test == "browser-test" and s.parent_id == "call-span"
        if s.kind == "http":
            assert s.attributes["client"] == "playwright" and s.duration >= 0
            assert s.attributes["resource_type"]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- outside any runner

# What a CI job exports, as ci_metadata() reads it (GitHub Actions for one script, GitLab CI for
# the other), and what the event file's header must then say.
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_REF_NAME": "feature/login",
          "GITHUB_SHA": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "GITHUB_RUN_ID": "4242",
          "GITHUB_RUN_ATTEMPT": "2", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_JOB": "e2e"}
GITHUB_META = {"ci_provider": "github-actions", "project": "acme/shop", "branch": "feature/login",
               "commit": GITHUB["GITHUB_SHA"], "build": "4242.2",
               "ci_url": "https://github.com/acme/shop/actions/runs/4242", "job": "e2e"}
GITLAB = {"GITLAB_CI": "true", "CI_PROJECT_PATH": "acme/shop", "CI_COMMIT_REF_NAME": "main",
          "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567", "CI_PIPELINE_ID": "777",
          "CI_JOB_URL": "https://gitlab.example.org/acme/shop/-/jobs/9", "CI_JOB_NAME": "e2e"}
GITLAB_META = {"ci_provider": "gitlab-ci", "project": "acme/shop", "branch": "main",
               "commit": GITLAB["CI_COMMIT_SHA"], "build": "777",
               "ci_url": GITLAB["CI_JOB_URL"], "job": "e2e"}


def _child_env(**extra: str) -> dict:
    """This process's environment without CrossBridge settings or the CI variables the tests set
    (the suite itself may run in CI), plus `extra`."""
    drop = ("CROSSBRIDGE_", "GITHUB_", "GITLAB_", "CI_", "PYTEST_XDIST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def _script(tmp_path, body: str, *args: str, env: dict):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    proc = run([PYTHON, str(path), *args], cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _only_file(folder):
    """The one event file in `folder`, opened the way ingestion opens it: (info, spans)."""
    assert event_files(folder, "*.part") == []
    files = event_files(folder)
    assert len(files) == 1, files
    stream = open_report(files[0])
    spans = stream.read_all()
    assert stream.info.warnings == [] and stream.info.properties["complete"] == "true"
    return stream.info, spans


SELENIUM_SCRIPT = """
    import sys
    from pathlib import Path

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.events import EventFiringWebDriver

    from crossbridge_assets.hooks import events
    from crossbridge_assets.hooks.selenium_listener import CrossBridgeListener
    from crossbridge_assets_tests.test_hooks_browser import chrome

    base, inbox = sys.argv[1], Path(sys.argv[2])
    assert events.active() is None
    driver = EventFiringWebDriver(chrome(), CrossBridgeListener())
    driver.get(base + "/page/1")
    driver.find_element(By.ID, "go").click()
    driver.execute_script("return document.title")
    driver.quit()
    # The listener's own session ended with the driver, not at exit.
    assert list(inbox.glob("*.jsonl")) and not list(inbox.glob("*.part")), sorted(inbox.iterdir())
"""


def test_selenium_listener_in_a_plain_script_writes_to_the_inbox(server, tmp_path, chromedriver):
    home = tmp_path / "home"
    _script(tmp_path, SELENIUM_SCRIPT, server, str(home / "inbox"),
            env=_child_env(CROSSBRIDGE_HOME=str(home), **GITHUB))

    info, spans = _only_file(home / "inbox")
    assert info.framework == "python"
    assert {k: info.properties.get(k) for k in GITHUB_META} == GITHUB_META
    host = server.split("://", 1)[1]
    assert [(s.kind, s.name, s.status) for s in spans] == [
        ("driver_command", f"navigate_to {host}/page/{{id}}", "ok"),
        ("driver_command", "find id=go", "ok"),
        ("driver_command", "click", "ok"),
        ("driver_command", "execute_script", "ok"),
        ("driver_command", "quit", "ok"),
    ]
    assert all(s.duration > 0 and s.test is None for s in spans)


PLAYWRIGHT_SCRIPT = """
    import sys
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from crossbridge_assets.hooks import events
    from crossbridge_assets.hooks.playwright_hook import attach
    from crossbridge_assets_tests.test_hooks_browser import CHROMIUM, CHROMIUM_ARGS

    base, folder = sys.argv[1], Path(sys.argv[2])
    assert events.active() is None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        attach(page, folder=folder)
        page.goto(base + "/page/1", wait_until="load")
        page.wait_for_load_state("networkidle")
        browser.close()
        # Closing the browser closed the page, and the recorder's own session with it.
        assert list(folder.glob("*.jsonl")) and not list(folder.glob("*.part")), sorted(folder.iterdir())
"""


def test_playwright_recorder_in_a_plain_script_writes_to_the_folder_given(server, tmp_path):
    folder, home = tmp_path / "events", tmp_path / "home"
    _script(tmp_path, PLAYWRIGHT_SCRIPT, server, str(folder), env=_child_env(CROSSBRIDGE_HOME=str(home), **GITLAB))

    assert not home.exists()  # the folder given wins over the inbox
    info, spans = _only_file(folder)
    assert {k: info.properties.get(k) for k in GITLAB_META} == GITLAB_META
    host = server.split("://", 1)[1]
    navs = [(s.name, s.status) for s in spans if s.kind == "navigation"]
    assert navs == [(f"{host}/page/{{id}}", "ok")]
    http = [(s.name, s.status) for s in spans if s.kind == "http"]
    for expected in [(f"GET {host}/page/{{id}}", "200"), (f"GET {host}/static/style.css", "200"),
                     (f"GET {host}/api/users/{{id}}", "200"), (f"GET {host}/api/missing", "404")]:
        assert expected in http
    assert {s.kind for s in spans} == {"navigation", "http"}
    assert all(s.duration > 0 and s.test is None for s in spans)


def test_own_session_is_published_at_exit_when_the_driver_never_quits(tmp_path):
    # No browser needed: the listener's callbacks are what EventFiringWebDriver calls.
    folder = tmp_path / "events"
    _script(tmp_path, """
        import sys
        from crossbridge_assets.hooks.selenium_listener import CrossBridgeListener

        listener = CrossBridgeListener(folder=sys.argv[1])
        listener.before_find("id", "name", None)
        listener.after_find("id", "name", None)
    """, str(folder), env=_child_env())

    _, spans = _only_file(folder)
    assert [(s.kind, s.name, s.status) for s in spans] == [("driver_command", "find id=name", "ok")]


# ---------------------------------------------------------------------------- under the pytest plugin

SUITE = """
    import os

    import pytest
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.events import EventFiringWebDriver

    from crossbridge_assets.hooks.selenium_listener import CrossBridgeListener
    from crossbridge_assets_tests.test_hooks_browser import chrome


    @pytest.fixture
    def driver():
        driver = EventFiringWebDriver(chrome(), CrossBridgeListener())
        yield driver
        driver.quit()


    def test_browser(driver):
        driver.get(os.environ["CB_TEST_BASE"] + "/page/1")
        driver.find_element(By.ID, "go").click()
"""


def test_selenium_listener_under_the_pytest_plugin(server, tmp_path, chromedriver):
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    out, home = tmp_path / "events", tmp_path / "home"
    proc = run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGIN_ARGS, f"--crossbridge={out}",
                "test_suite.py"], cwd=tmp_path, env=_child_env(CB_TEST_BASE=server, CROSSBRIDGE_HOME=str(home)),
               timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    assert not home.exists()  # the plugin's session was active: the listener opened none
    info, spans = _only_file(out)
    assert info.framework == "pytest"
    identity = model.test_identity("pytest", "test_suite", "test_browser", None)
    phases = {s.kind: s for s in spans if s.kind in ("setup", "call", "teardown")}
    host = server.split("://", 1)[1]
    commands = [s for s in spans if s.kind == "driver_command"]
    assert [(s.name, s.parent_id) for s in commands] == [
        (f"navigate_to {host}/page/{{id}}", phases["call"].span_id),
        ("find id=go", phases["call"].span_id),
        ("click", phases["call"].span_id),
        ("quit", phases["teardown"].span_id),  # the fixture quits in teardown
    ]
    assert all(s.test == identity and s.status == "ok" and s.duration > 0 for s in commands)
