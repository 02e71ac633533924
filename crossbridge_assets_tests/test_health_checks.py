"""Health checks under the real conditions they watch for: a project gone silent, a duplicated
row written behind the platform's back, counts that disagree with `reports`, a schema behind, a
burst of unreadable reports, and a PostgreSQL server that stops and comes back."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import delete, insert, select

from crossbridge_assets.definitions import defs
from crossbridge_assets.defs.common import WarehouseResource, daily
from crossbridge_assets.defs.health import no_duplicate_results
from crossbridge_assets.defs.ingest import batches_for
from crossbridge_assets.defs.landing import landed_reports
from crossbridge_assets.defs import results as results_domain
from crossbridge_assets import ops_settings
from crossbridge_assets.warehouse import health, schema
from crossbridge_assets.warehouse.engine import make_engine, migrate

FIX = Path(__file__).parent / "fixtures" / "junit"
DAY = 86400


# ---------------------------------------------------------------- helpers (also used by the other ops tests)


def drop(settings, rel: str, source: Path | None = None, text: str | None = None, age_seconds: float = 60) -> Path:
    """A report in the inbox that arrived `age_seconds` ago (its mtime is the arrival)."""
    target = settings.inbox / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, target)
    else:
        target.write_text(text, encoding="utf-8")
    then = time.time() - age_seconds
    os.utime(target, (then, then))
    return target


def ingest(settings, instance, files: list[Path]) -> list[str]:
    """Run the ingest job over the files, one run per arrival day; returns the partitions."""
    job = defs.resolve_job_def("ingest")
    days = []
    for batch in batches_for(settings, files):
        result = job.execute_in_process(
            run_config=batch.run_config(), partition_key=batch.partition, instance=instance, tags=batch.tags
        )
        assert result.success
        days.append(batch.partition)
    return days


def junit(name: str, tests: int = 2) -> str:
    """A small JUnit report whose content (and so its hash) is unique to `name`."""
    cases = "".join(f'<testcase classname="{name}" name="test_{i}" time="0.01"/>' for i in range(tests))
    return f'<?xml version="1.0"?><testsuite name="{name}" tests="{tests}">{cases}</testsuite>'


def health_run(instance) -> dict[str, dg.AssetCheckEvaluation]:
    result = defs.resolve_job_def("health_checks").execute_in_process(instance=instance)
    assert result.success, "the health job itself must not fail, whatever it finds"
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def engine_of(settings):
    return make_engine(settings.warehouse_url)


def check(name: str, settings) -> "health.Finding":
    """One check through the same function its asset check calls (the Dagster wrapping is covered
    by the tests that run the health job)."""
    return health.run_check(name, engine_of(settings), ops_settings.load())


SQLITE_ONLY = pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)


# ---------------------------------------------------------------- all green


def test_healthy_warehouse_passes_every_check(crossbridge_env, dagster_instance, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_EXPECTED_CADENCE", '{"shop": "24h", "*": "72h"}')
    ingest(s, dagster_instance, [drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml")])
    checks = health_run(dagster_instance)
    assert set(checks) == {"warehouse_reachable", "schema_current", "parse_error_rate", "reports_arriving",
                           "no_duplicate_keys", "counts_consistent"}
    failed = {n: c.description for n, c in checks.items() if not c.passed}
    assert not failed
    assert checks["warehouse_reachable"].metadata["latency_ms"].value >= 0
    assert checks["schema_current"].metadata["schema_version"].value == checks["schema_current"].metadata["expected_version"].value
    # The health asset records sizes a user can plot.
    mat = dagster_instance.get_latest_materialization_event(dg.AssetKey("warehouse_health")).asset_materialization
    assert mat.metadata["rows_test_results"].value == 6
    assert mat.metadata["warehouse_answered"].value is True


# ---------------------------------------------------------------- reports arriving


@SQLITE_ONLY
def test_silent_project_fails_then_recovers(crossbridge_env, dagster_instance, monkeypatch):
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_EXPECTED_CADENCE", '{"shop": "24h", "billing": "7d", "*": "72h"}')
    ingest(s, dagster_instance, [
        drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml", age_seconds=2 * DAY),
        drop(s, "api/main/1/b.xml", FIX / "surefire-flaky.xml", age_seconds=2 * DAY),
    ])
    finding = check("reports_arriving", s)
    assert finding.passed is False and finding.severity == "WARN"
    assert "shop (silent for 2d" in finding.summary and "expected every 24h" in finding.summary
    assert "billing (never reported)" in finding.summary
    assert "api" not in finding.summary, "api is within its 72h cadence"
    assert "CROSSBRIDGE_EXPECTED_CADENCE" in finding.what_to_do
    assert [r["project"] for r in finding.rows[:2]] == ["billing", "shop"]

    ingest(s, dagster_instance, [drop(s, "shop/main/2/c.xml", text=junit("shop_fresh"), age_seconds=60)])
    monkeypatch.setenv("CROSSBRIDGE_EXPECTED_CADENCE", '{"shop": "24h", "*": "72h"}')
    assert check("reports_arriving", s).passed is True


# ---------------------------------------------------------------- duplicates and blocking


def _duplicate_identity(settings) -> dict:
    """A second `tests` row for an existing test identity under another id: nothing prevents it."""
    engine = engine_of(settings)
    with engine.begin() as conn:
        row = dict(conn.execute(select(schema.tests).limit(1)).one()._mapping)
        row["test_id"] = "x" * 20
        conn.execute(insert(schema.tests).values(**row))
    return row


def test_duplicate_row_fails_the_check_and_blocks_downstream(crossbridge_env, dagster_instance):
    s = crossbridge_env
    files = [drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml")]
    (day,) = ingest(s, dagster_instance, files)
    assert check("no_duplicate_keys", s).passed is True

    row = _duplicate_identity(s)
    finding = check("no_duplicate_keys", s)
    assert finding.passed is False and finding.severity == "ERROR"
    assert "tests" in finding.summary
    assert {"table": "tests", "key": "framework, suite, name, parameters", "rows": 2}.items() <= finding.rows[0].items()
    assert row["name"] in finding.rows[0]["value"]

    # The ingestion check is blocking: an analytics asset downstream of test_results does not run.
    @dg.asset(partitions_def=daily, deps=[results_domain.test_results])
    def downstream_analytics() -> None:
        return None

    blocking_defs = dg.Definitions(
        assets=[landed_reports, results_domain.test_results, downstream_analytics],
        asset_checks=[no_duplicate_results],
        resources={"warehouse": WarehouseResource()},
    )
    job = dg.define_asset_job("with_downstream", selection=dg.AssetSelection.all())
    blocking_defs = dg.Definitions.merge(blocking_defs, dg.Definitions(jobs=[job]))
    result = blocking_defs.resolve_job_def("with_downstream").execute_in_process(
        partition_key=day, instance=dagster_instance, raise_on_error=False
    )
    evaluation = {e.check_name: e for e in result.get_asset_check_evaluations()}["no_duplicate_results"]
    assert evaluation.passed is False and evaluation.blocking is True
    assert [m.asset_key for m in result.get_asset_materialization_events()
            if m.asset_key == dg.AssetKey("downstream_analytics")] == []
    assert not result.success

    # Remove the extra row: the day flows on again.
    with engine_of(s).begin() as conn:
        conn.execute(delete(schema.tests).where(schema.tests.c.test_id == "x" * 20))
    result = blocking_defs.resolve_job_def("with_downstream").execute_in_process(partition_key=day, instance=dagster_instance)
    assert result.success
    assert dg.AssetKey("downstream_analytics") in {m.asset_key for m in result.get_asset_materialization_events()}
    assert check("no_duplicate_keys", s).passed is True


def test_duplicates_in_a_derived_table_without_a_unique_constraint(crossbridge_env):
    """profile_baselines is recomputed whole and has no key constraint: its key is a convention."""
    from datetime import datetime, timezone

    from crossbridge_assets.warehouse import health

    if not hasattr(schema, "profile_baselines"):
        pytest.skip("the profiling tables are not in this schema")
    s = crossbridge_env
    engine = engine_of(s)
    migrate(engine)
    row = {c.name: None for c in schema.profile_baselines.c} | {
        "kind": "http", "name": "GET /cart", "environment": "shop/main", "runs": 3, "spans": 9,
        "computed_at": datetime.now(timezone.utc),
    }
    with engine.begin() as conn:
        conn.execute(insert(schema.profile_baselines).values(**row))
    assert health.duplicate_keys(engine).passed is True
    with engine.begin() as conn:
        conn.execute(insert(schema.profile_baselines).values(**row))
    finding = health.duplicate_keys(engine)
    assert finding.passed is False
    assert {"table": "profile_baselines", "key": "kind, name, environment",
            "value": "http, GET /cart, shop/main", "rows": 2} in finding.rows


# ---------------------------------------------------------------- counts


def test_counts_inconsistent_then_repaired_by_backfill(crossbridge_env, dagster_instance):
    s = crossbridge_env
    (day,) = ingest(s, dagster_instance, [
        drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml"),
        drop(s, "shop/main/1/b.xml", FIX / "surefire-flaky.xml"),
        drop(s, "shop/main/1/broken.xml", text=(FIX / "pytest-sample.xml").read_text()[:300]),
    ])
    assert check("counts_consistent", s).passed is True

    engine = engine_of(s)
    R, TR = schema.reports, schema.test_results
    with engine.begin() as conn:
        a = conn.execute(select(R).where(R.c.original_name == "a.xml")).one()
        broken = conn.execute(select(R).where(R.c.original_name == "broken.xml")).one()
        # Rows of a landed report vanish, and rows appear for the quarantined one.
        conn.execute(delete(TR).where(TR.c.report_sha256 == a.sha256, TR.c.seq >= 2))
        conn.execute(insert(TR).values(report_sha256=broken.sha256, seq=0, run_id=broken.run_id, test_id="t" * 20,
                                       status="passed", attempts=1, flaky=False, partition=day))
    finding = check("counts_consistent", s)
    assert finding.passed is False and finding.severity == "ERROR"
    problems = {(r["report"], r["problem"]) for r in finding.rows}
    assert ("a.xml", "row count differs from the report") in problems
    assert ("broken.xml", "test_results rows of a quarantined report") in problems
    assert finding.figures["results_reports_with_wrong_count"] == 1
    assert finding.figures["reports_with_orphan_rows"] == 1

    # The remedy the check names: delete the stray rows, re-materialize the day.
    with engine.begin() as conn:
        conn.execute(delete(TR).where(TR.c.report_sha256 == broken.sha256))
    assert defs.resolve_job_def("ingest").execute_in_process(partition_key=day, instance=dagster_instance).success
    assert check("counts_consistent", s).passed is True


# ---------------------------------------------------------------- schema and parse errors


@SQLITE_ONLY
def test_schema_behind_fails_then_passes_after_migration(crossbridge_env):
    s = crossbridge_env
    engine = engine_of(s)
    migrate(engine)
    with engine.begin() as conn:
        latest = conn.execute(select(schema.schema_version.c.version).order_by(schema.schema_version.c.version.desc())).first()[0]
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version == latest))
    finding = check("schema_current", s)
    assert finding.passed is False
    assert f"expects {latest}" in finding.summary
    migrate(engine)  # what a restart of the code location does
    assert check("schema_current", s).passed is True


@SQLITE_ONLY
def test_parse_error_rate_over_threshold(crossbridge_env, dagster_instance, monkeypatch):
    s = crossbridge_env
    ingest(s, dagster_instance, [
        drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml"),
        drop(s, "shop/main/1/broken.xml", text="<testsuite><testcase name='x'>"),
    ])
    finding = check("parse_error_rate", s)
    assert finding.passed is False
    assert "1 of 2 report(s) quarantined" in finding.summary
    assert finding.rows[0]["file"] == "broken.xml" and "malformed XML" in finding.rows[0]["reason"]
    monkeypatch.setenv("CROSSBRIDGE_PARSE_ERROR_RATE", "0.6")
    assert check("parse_error_rate", s).passed is True


# ---------------------------------------------------------------- a PostgreSQL that stops


PG_BIN = Path(os.environ.get("CROSSBRIDGE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnPostgres:
    """A throwaway server only this test stops and starts (never the shared one)."""

    def __init__(self, root: Path):
        self.data = root / "pgdata"
        self.port = _free_port()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:
            # From /: the postgres user may not be allowed into the current folder.
            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", "cd / && " + " ".join(f"'{a}'" for a in argv)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-t", "30",
                          "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off", "start")

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def own_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (set CROSSBRIDGE_TEST_PG_BIN)")
    # Outside pytest's 0700 temp folders: the server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="crossbridge-ownpg-"))
    os.chmod(root, 0o755)
    server = OwnPostgres(root)
    server.init()
    server.start()
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped by the test
    shutil.rmtree(root, ignore_errors=True)


def test_warehouse_unreachable_when_postgres_stops_and_recovers(own_postgres, tmp_path, monkeypatch, dagster_instance):
    monkeypatch.setenv("CROSSBRIDGE_HOME", str(tmp_path / "cbhome"))
    monkeypatch.setenv("CROSSBRIDGE_WAREHOUSE_URL", own_postgres.url)
    migrate(make_engine(own_postgres.url))

    checks = health_run(dagster_instance)
    assert checks["warehouse_reachable"].passed is True

    own_postgres.stop()
    checks = health_run(dagster_instance)
    reach = checks["warehouse_reachable"]
    assert reach.passed is False and reach.severity == dg.AssetCheckSeverity.ERROR
    assert "did not answer" in reach.description
    assert "CROSSBRIDGE_WAREHOUSE_URL" in reach.metadata["what_to_do"].value
    assert str(own_postgres.port) in reach.metadata["warehouse"].value
    assert not checks["counts_consistent"].passed, "checks that need the warehouse say they could not run"
    mat = dagster_instance.get_latest_materialization_event(dg.AssetKey("warehouse_health")).asset_materialization
    assert mat.metadata["warehouse_answered"].value is False

    own_postgres.start()
    checks = health_run(dagster_instance)
    assert checks["warehouse_reachable"].passed is True
    assert all(c.passed for c in checks.values()), {n: c.description for n, c in checks.items() if not c.passed}


@SQLITE_ONLY
def test_doctor_reports_and_exits_nonzero(crossbridge_env, dagster_instance, monkeypatch, capsys):
    from crossbridge_assets.cli import main

    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_EXPECTED_CADENCE", '{"shop": "24h"}')
    ingest(s, dagster_instance, [drop(s, "shop/main/1/a.xml", FIX / "pytest-sample.xml")])
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "warehouse_reachable" in out and "healthy" in out.splitlines()[-1]

    monkeypatch.setenv("CROSSBRIDGE_EXPECTED_CADENCE", '{"shop": "24h", "billing": "24h"}')
    assert main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is False
    failing = {c["check"]: c for c in report["checks"] if not c["passed"]}
    assert set(failing) == {"reports_arriving"}
    assert failing["reports_arriving"]["rows"][0]["project"] == "billing"
    assert {c["check"] for c in report["checks"]} >= {"influxdb_reachable", "outbox_backlog"}
