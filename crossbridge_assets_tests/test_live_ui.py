"""The product as a new user starts it: `crossbridge dev` on a fresh CROSSBRIDGE_HOME.

Checks the demo data is materialized through Dagster's GraphQL API, that a JUnit file dropped
into the inbox while the UI runs reaches the warehouse within a minute with no further action,
and takes a headless Chromium screenshot of the asset graph.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from crossbridge_assets.warehouse import schema

FIX = Path(__file__).parent / "fixtures" / "junit"
ARTIFACTS = Path(os.environ.get("CROSSBRIDGE_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / ".test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body
    return body["data"]


def wait_for(predicate, timeout: float, what: str, proc=None, log=None):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"crossbridge dev exited with {proc.returncode} while waiting for {what}:\n{log.read_text()[-4000:]}")
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - the server is still coming up
            last = exc
        time.sleep(1)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{log.read_text()[-4000:] if log else ''}")


@pytest.fixture
def running_product(tmp_path):
    port = free_port()
    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CROSSBRIDGE_", "DAGSTER_"))
    }
    env.update(
        CROSSBRIDGE_HOME=str(home),
        CROSSBRIDGE_SENSOR_INTERVAL="3",
        CROSSBRIDGE_SETTLE_SECONDS="1",
        PYTHONUNBUFFERED="1",
        # As after the README's command on a fresh machine: the environment is not activated,
        # so nothing of it is on PATH.
        PATH="/usr/local/bin:/usr/bin:/bin",
    )
    log = tmp_path / "dev.log"
    exe = Path(sys.executable).with_name("crossbridge")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(exe), "dev", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the whole tree (webserver, daemon, code server) stops together
        )
    try:
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5).status == 200,
                 240, "the Dagster webserver", proc, log)
        yield port, home, proc, log
    finally:
        for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                continue


def test_run_command_brings_up_a_living_ui(running_product):
    port, home, proc, log = running_product

    # Demo data is materialized: both ingestion assets have partitions, with numeric pass rates.
    query = """{ assetNodes { assetKey { path } groupName
               partitionStats { numMaterialized numPartitions }
               assetMaterializations(limit: 1) { partition metadataEntries { label
                   ... on FloatMetadataEntry { floatValue } ... on IntMetadataEntry { intValue } } } } }"""
    # The webserver answers before the code location has loaded: wait for the assets.
    data = wait_for(lambda: (d := graphql(port, query))["assetNodes"] and d, 120, "the code location", proc, log)
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert {"landed_reports", "test_results"} <= set(nodes)
    assert nodes["landed_reports"]["groupName"] == "landing" and nodes["test_results"]["groupName"] == "results"
    assert nodes["test_results"]["partitionStats"]["numMaterialized"] >= 10  # about two weeks of history
    latest = nodes["test_results"]["assetMaterializations"][0]
    rate = [m["floatValue"] for m in latest["metadataEntries"] if m["label"] == "pass_rate"]
    assert rate and 0.0 < rate[0] <= 1.0

    # Every domain has something to show: coverage merged per run, regressions found with evidence.
    def latest_number(asset: str, label: str):
        entries = nodes[asset]["assetMaterializations"]
        assert entries, f"{asset} was never materialized"
        return [m.get("intValue", m.get("floatValue")) for m in entries[0]["metadataEntries"] if m["label"] == label]

    assert {"coverage_by_run", "performance_regressions", "coverage_trends"} <= set(nodes)
    assert nodes["coverage_by_run"]["assetMaterializations"], "coverage_by_run was never materialized"
    assert (latest_number("performance_regressions", "regressions") or [0])[0] >= 1

    sensors = graphql(
        port,
        """{ repositoriesOrError { ... on RepositoryConnection { nodes { sensors { name
               sensorState { status } } } } } }""",
    )
    states = {s["name"]: s["sensorState"]["status"] for r in sensors["repositoriesOrError"]["nodes"] for s in r["sensors"]}
    assert states.get("inbox_sensor") == "RUNNING"
    assert states.get("crossbridge_automation") == "RUNNING", "derived assets must follow ingestion by themselves"

    # A JUnit file dropped into the inbox while the UI runs lands within a minute, untouched by hand.
    drop = home / "inbox" / "live-project" / "main" / "777"
    drop.mkdir(parents=True)
    shutil.copyfile(FIX / "pytest-sample.xml", drop / "junit.xml")
    engine = create_engine(f"sqlite:///{home / 'warehouse.db'}")

    def loaded():
        with engine.connect() as conn:
            row = conn.execute(
                select(schema.reports.c.loaded_at).where(schema.reports.c.project == "live-project")
            ).first()
        return row is not None and row.loaded_at is not None

    started = time.time()
    wait_for(loaded, 60, "the dropped file in the warehouse", proc, log)
    with engine.connect() as conn:
        n = conn.execute(
            select(schema.test_results.c.seq)
            .join(schema.reports, schema.reports.c.sha256 == schema.test_results.c.report_sha256)
            .where(schema.reports.c.project == "live-project")
        ).all()
    assert len(n) == 6
    print(f"dropped file loaded after {time.time() - started:.1f}s")

    # The asset graph, as a person would see it.
    if not CHROMIUM:
        pytest.skip("no chromium on this machine (apt-get install chromium): screenshot not taken")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "asset-graph.png"
    shot.unlink(missing_ok=True)
    profile = home / "chromium-profile"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1600,1000",
         "--virtual-time-budget=20000", f"--screenshot={shot}",
         f"http://127.0.0.1:{port}/asset-groups"],
        check=True, capture_output=True, timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
