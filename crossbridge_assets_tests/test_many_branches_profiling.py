"""A feature branch that makes a test slower from its very first run: judged against the default
branch it started from (event files from the real writer, the inbox sensor and ingest job, a real
Dagster instance, SQLite and PostgreSQL)."""

import os
import time

import dagster as dg
from sqlalchemy import select

from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.profiling import performance_regressions, performance_regressions_check
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.influx_helpers import write_events
from crossbridge_assets_tests.test_ingest_e2e import execute, run_requests_until_ready

CHECKOUT = "tests/test_cart.py::test_checkout"


def land(settings, instance, runs: list[tuple[str, str, int, float]], t0: float) -> None:
    """(project, branch, build, seconds test_checkout takes): one event file each, loaded by
    the inbox sensor and the ingest job."""
    for project, branch, build, seconds in runs:
        spans = [dict(kind="test", name=CHECKOUT, start=t0 + build * 600, duration=seconds, status="passed")]
        path = write_events(settings.inbox, spans, env={"CROSSBRIDGE_PROJECT": project, "CROSSBRIDGE_BRANCH": branch,
                                                        "CROSSBRIDGE_BUILD": str(build)})
        old = time.time() - 60  # settled
        os.utime(path, (old, old))
    _, tick = run_requests_until_ready(instance)
    for request in tick.run_requests:
        assert execute(instance, request).success


def test_a_branch_slower_from_its_first_run_is_a_regression_against_its_default_branch(
        crossbridge_env, dagster_instance, monkeypatch):
    monkeypatch.delenv("CROSSBRIDGE_INFLUX_URL", raising=False)
    t0 = time.time() - 3 * 86400
    land(crossbridge_env, dagster_instance, [
        *(("shop", "main", b, 0.10) for b in range(1, 6)),
        # Another team's branch, slow all along, before: not a baseline of anyone's.
        *(("shop", "feature/JIRA-7-slow", b, 3.0) for b in range(6, 9)),
        # The branch under review: 1.2 s on its first run, 12x main's 0.1 s.
        ("shop", "feature/JIRA-123-x", 10, 1.2),
        # Main's runs after the branch started are not its baseline.
        *(("shop", "main", b, 1.5) for b in range(13, 15)),
    ], t0)

    result = dg.materialize([performance_regressions, performance_regressions_check], instance=dagster_instance,
                            resources={"warehouse": WarehouseResource()})
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    evidence = check.metadata["evidence"].value
    assert check.passed is False
    assert f"| test | {CHECKOUT} | shop/feature/JIRA-123-x | ratio | 1.200s in run" in evidence, evidence
    with make_engine(crossbridge_env.warehouse_url).connect() as conn:
        (found,) = conn.execute(select(schema.profile_regressions.c.evidence)).scalars()
    assert "12.0x the mean of the 5 runs before (0.100s)" in found
    assert "compared with main's: 5 of the runs before are there, up to where the branch started" in found
    # A branch is judged as main is: its latest run against the runs before, its own among them
    # once it has some (JIRA-7's third slow run is its normal by then, as a third slow run of main is).
    assert "JIRA-7-slow" not in evidence
