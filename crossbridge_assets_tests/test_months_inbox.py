"""The inbox over weeks of ticks: a file that can never land, and how often it is asked for."""

from __future__ import annotations

import os

from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_coverage_e2e import checks_of


# ---------------------------------------------------------------------------- the inbox over days


def test_a_file_that_cannot_land_is_asked_for_less_and_less_often(crossbridge_env, dagster_instance, monkeypatch):
    """A report uploaded by another account that the service may not read stays in the inbox,
    named by parse_errors. The sensor asked for it again every half hour for as long as it
    stayed: 48 ingestion runs a day in the run list and the event log, for months. It is asked
    for after half an hour, then after twice as long each time, at most every six hours; and at
    the next tick once its permissions are fixed."""
    from crossbridge_assets.warehouse import landing as landing_mod
    from crossbridge_assets_tests.test_ingest_e2e import drop, execute, sensor_tick
    from crossbridge_assets_tests.test_layer_journeys import _aged

    s = crossbridge_env
    locked = drop(s, "TEST-locked.xml", "shop/main/3", source=FIXTURES / "junit" / "surefire-flaky.xml")
    readable = landing_mod.file_sha256

    def file_sha256(path):
        # As the service sees a file of another account's umask 077 (the tests may run as root).
        if path.name == locked.name:
            raise PermissionError(13, "Permission denied", str(path))
        return readable(path)

    tick = 15 * 60
    runs = []
    with monkeypatch.context() as m:
        m.setattr(landing_mod, "file_sha256", file_sha256)
        cursor = sensor_tick(dagster_instance).cursor
        for step in range(2 * 96):  # two days, a tick every quarter of an hour
            result = sensor_tick(dagster_instance, cursor)
            for request in result.run_requests:
                execute(dagster_instance, request)
                runs.append(step * tick / 3600)
            assert len(runs) <= 12, f"asked for {len(runs)} times by hour {step * tick / 3600:g}: {runs}"
            cursor = _aged(result.cursor, tick)
    assert locked.exists()
    # Hours 0, 0.5, 1.5, 3.5, 7.5, 13.5, then every 6 hours (rounded up to the quarter).
    assert runs[:6] == [0, 0.5, 1.5, 3.5, 7.5, 13.5], runs
    assert all(b - a <= 6 for a, b in zip(runs, runs[1:])) and 47 - runs[-1] <= 6, runs

    # Its owner makes it readable: the next tick takes it, without waiting for the next slot.
    os.chmod(locked, 0o644)
    (request,) = sensor_tick(dagster_instance, cursor).run_requests
    result = execute(dagster_instance, request)
    assert checks_of(result)["parse_errors"].passed is True
    assert not locked.exists()
