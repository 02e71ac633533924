"""Scale-out: the ingest job's steps run as Celery tasks on a worker started from deploy/celery,
with a local Redis broker and Dagster's storage in PostgreSQL (the production dagster.yaml)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crossbridge_assets_tests.conftest import POSTGRES_URL, REPO, fresh_postgres_database

CELERY_DIR = REPO / "deploy" / "celery"
REDIS = shutil.which("redis-server")
BIN = Path(sys.executable).parent


def _has_dagster_celery() -> bool:
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        return False
    return (BIN / "dagster-celery").exists()


pytestmark = [
    pytest.mark.celery,
    pytest.mark.postgres,
    pytest.mark.skipif(not REDIS, reason="redis-server is not installed (apt-get install redis-server)"),
    pytest.mark.skipif(not _has_dagster_celery(), reason="dagster-celery is not installed (pip install -e '.[celery]', part of '.[test]')"),
    pytest.mark.skipif(not POSTGRES_URL, reason="CROSSBRIDGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"{what} not ready after {timeout}s\n{tail}")


def _stop(process: subprocess.Popen) -> None:
    """Stop a process this test started, with everything it forked (its own session), and wait
    until the whole group is gone: the Celery worker outlives its `dagster-celery` parent briefly."""
    group = process.pid
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@pytest.fixture
def celery_stack(tmp_path, monkeypatch):
    """Redis on a loopback port, a PostgreSQL-backed DAGSTER_HOME, a warehouse and a worker."""
    redis_port = _free_port()
    redis = subprocess.Popen(
        [REDIS, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": fresh_postgres_database("cb_celery_dagster"),
        "CROSSBRIDGE_HOME": str(tmp_path / "cbhome"),
        "CROSSBRIDGE_WAREHOUSE_URL": fresh_postgres_database("cb_celery_wh"),
        "CROSSBRIDGE_SETTLE_SECONDS": "0",
        "CROSSBRIDGE_CELERY_BROKER": f"redis://127.0.0.1:{redis_port}/0",
        "CROSSBRIDGE_CELERY_BACKEND": f"redis://127.0.0.1:{redis_port}/1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CROSSBRIDGE_INBOX", raising=False)
    worker = None
    try:
        _wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", redis_port)) == 0, 10, "redis-server")
        log = tmp_path / "worker.log"
        worker = subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
             "-y", str(CELERY_DIR / "celery.yaml"), "-n", "crossbridge-test", "--", "--concurrency=2"],
            # dagster-celery starts `celery` by name: the environment's bin folder must be on PATH
            # even when the environment is not activated (as in CI).
            stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
            start_new_session=True,
        )
        _wait_for(lambda: b" ready." in log.read_bytes() if log.exists() else False, 90, "celery worker", log)
        yield env, log
    finally:
        if worker is not None:
            _stop(worker)
        _stop(redis)


def test_ingest_job_steps_run_as_celery_tasks(celery_stack):
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from crossbridge_assets import settings
    from crossbridge_assets.defs.ingest import batches_for
    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets_tests.test_health_checks import FIX, drop

    env, log = celery_stack
    s = settings.load()
    s.ensure_folders()
    report = drop(s, "shop/main/42/TEST-cart.xml", FIX / "pytest-sample.xml")
    (batch,) = batches_for(s, [report])

    job = ReconstructableRepository.for_file(str(CELERY_DIR / "definitions.py"), "defs").get_reconstructable_job("ingest")
    with dg.DagsterInstance.get() as instance:
        with dg.execute_job(
            job, instance=instance, run_config=batch.run_config(),
            tags={**batch.tags, "dagster/partition": batch.partition},
        ) as result:
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            run_id = result.run_id
            engine_events = [e.message for e in result.all_events if e.event_type_value == "ENGINE_EVENT"]
        assert any("in celery worker" in m for m in engine_events), "steps must run on the Celery worker"
        records = instance.get_records_for_run(run_id).records
        workers = {r.event_log_entry.dagster_event.engine_event_data.metadata.get("Celery worker")
                   for r in records if r.event_log_entry.dagster_event
                   and r.event_log_entry.dagster_event.event_type_value == "ENGINE_EVENT"
                   and r.event_log_entry.dagster_event.engine_event_data
                   and "Celery worker" in r.event_log_entry.dagster_event.engine_event_data.metadata}
        assert any("crossbridge-test" in str(w.value) for w in workers if w is not None)

    with make_engine(s.warehouse_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.test_results)).scalar_one() == 6
        assert conn.execute(select(func.count()).select_from(schema.reports)).scalar_one() == 1
