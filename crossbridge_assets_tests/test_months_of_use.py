"""The product after months of daily use on one Dagster instance: branches that came and went,
files that never land, check histories longer than a window, nightly jobs over a long history.
Earlier tests see a fresh instance with a few days of data; these see what is left after many."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from crossbridge_assets_tests.test_coverage_e2e import OPS_UNCOVERED, OPS_VALID, checks_of, ingest, lcov_with, refresh

DAY = 86400


def arrived(settings, folder: str, name: str, source: Path, days_ago: float, **manifest) -> Path:
    """A report of `folder` (with its manifest) that arrived `days_ago` days ago: its mtime."""
    target = settings.inbox / folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    (target.parent / "crossbridge.json").write_text(json.dumps({"project": "shop", **manifest}))
    then = time.time() - days_ago * DAY
    os.utime(target, (then, then))
    return target


# ---------------------------------------------------------------------------- coverage checks


def test_coverage_checks_forget_branches_that_sent_nothing_for_a_window(crossbridge_env, dagster_instance, tmp_path,
                                                                        monkeypatch):
    """Feature branches come and go. One that ended below its threshold, after a drop, or with a
    run missing a shard (its CI job cancelled) two months ago kept coverage_threshold,
    coverage_drop and coverage_shards_complete failing for good: the checks judged the latest
    run of every branch ever seen, so they never passed again and a new problem sent no alert
    (alerts go out when a check changes state). Branches still sending coverage are judged."""
    s = crossbridge_env
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop": 60}')
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_MAX_DROP", "2")
    monkeypatch.setenv("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "60")
    full = lcov_with(OPS_VALID, tmp_path / "full.lcov")
    low = lcov_with(OPS_VALID - OPS_UNCOVERED - {8, 9, 10, 11, 14, 15, 16, 17}, tmp_path / "low.lcov")
    # Two months ago: feature/old went from all lines to a few, and feature/cancelled sent one shard of two.
    arrived(s, "shop/feature/old/1", "coverage.lcov", full, 62, branch="feature/old", build="1")
    arrived(s, "shop/feature/old/2", "coverage.lcov", low, 61, branch="feature/old", build="2")
    arrived(s, "shop/feature/cancelled/3/s1", "coverage.lcov", full, 61, branch="feature/cancelled", build="3",
            shard="1", shards_expected=2)
    # Main ran well yesterday and today.
    arrived(s, "shop/main/10", "coverage.lcov", full, 1, branch="main", build="10")
    arrived(s, "shop/main/11", "coverage.lcov", full, 0.01, branch="main", build="11")
    ingest(dagster_instance)
    checks = checks_of(refresh(dagster_instance))
    for name in ("coverage_threshold", "coverage_drop", "coverage_shards_complete"):
        assert checks[name].passed is True, f"{name}: {checks[name].description}"
    mat = dagster_instance.get_latest_materialization_event(dg.AssetKey("coverage_trends")).asset_materialization
    assert "feature/old" not in mat.metadata["trends"].value and "main" in mat.metadata["trends"].value
    assert (mat.metadata["branches"].value, mat.metadata["branches_quiet"].value) == (1, 2)

    # A branch active now is judged as before: low, dropped, and missing a shard past its grace.
    arrived(s, "shop/feature/new/20", "coverage.lcov", full, 0.5, branch="feature/new", build="20")
    arrived(s, "shop/feature/new/21", "coverage.lcov", low, 0.2, branch="feature/new", build="21")
    arrived(s, "shop/feature/sharded/22/s1", "coverage.lcov", full, 0.2, branch="feature/sharded", build="22",
            shard="1", shards_expected=2)
    ingest(dagster_instance)
    checks = checks_of(refresh(dagster_instance))
    for name in ("coverage_threshold", "coverage_drop"):
        assert checks[name].passed is False and "feature/new" in checks[name].description, checks[name].description
        assert "feature/old" not in checks[name].description
    shards = checks["coverage_shards_complete"]
    assert shards.passed is False and "feature/sharded #22" in shards.description
    assert "feature/cancelled" not in shards.description


# ---------------------------------------------------------------------------- the per-test map


def _per_test_run(settings, build: str, tests: dict[str, str], days_ago: float) -> None:
    """A run of shop/main whose per-test LCOV reports (one a test) say which file each test ran."""
    folder = settings.inbox / "shop" / "main" / build
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, (test, path) in enumerate(tests.items()):
        name = f"t{i}.info"
        (folder / name).write_text(f"SF:{path}\nDA:1,1\nDA:2,1\nend_of_record\n")
        files[name] = {"test": test}
    (folder / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main", "build": build,
                                                          "files": files}))
    then = time.time() - days_ago * DAY
    for name in files:
        os.utime(folder / name, (then, then))


def test_the_per_test_map_shows_the_maps_that_answer_now(crossbridge_env, dagster_instance):
    """test_coverage_map summed up every map kept, after every coverage ingestion: months of
    per-test maps are millions of rows (2.2 million took 4.3 s on PostgreSQL, growing by the
    day), and its figures counted tests renamed or removed long ago, and files no test reaches
    any more. It shows each branch's newest map within the window, read through the run index."""
    s = crossbridge_env
    _per_test_run(s, "1", {"tests/test_legacy.py::test_a": "app/legacy.py", "tests/test_legacy.py::test_b":
                           "app/legacy.py", "tests/test_legacy.py::test_c": "app/legacy.py"}, 60)
    _per_test_run(s, "2", {"tests/test_cart.py::test_add": "app/cart.py"}, 3)
    _per_test_run(s, "3", {"tests/test_cart.py::test_add": "app/cart.py",
                           "tests/test_cart.py::test_remove": "app/cart.py"}, 0.01)
    ingest(dagster_instance)
    md = refresh(dagster_instance).asset_materializations_for_node("test_coverage_map")[0].metadata
    assert md["dagster/row_count"].value == 6  # every map kept, as before
    assert md["tests"].value == 2 and md["runs_with_per_test_coverage"].value == 2
    assert "legacy" not in md["files_reached_by_most_tests"].value
    assert "| app/cart.py | 2 |" in md["files_reached_by_most_tests"].value
    assert "| shop | main | 3 | 2 | 1 | 2 |" in md["latest_maps"].value


CART_CHANGE = """diff --git a/app/cart.py b/app/cart.py
--- a/app/cart.py
+++ b/app/cart.py
@@ -1 +1 @@
-old
+new
"""


@pytest.mark.parametrize("crossbridge_env", ["sqlite"], indirect=True)
def test_impact_finds_the_newest_map_without_reading_every_map(crossbridge_env, dagster_instance, tmp_path, capsys):
    """`crossbridge impact`, run in CI for every change, found the newest per-test map (and the
    projects that have one) by joining every map row kept with its report and sorting them:
    linear in months of maps (2.2 million rows: 2.3 s on SQLite, 0.8 s on PostgreSQL, for each
    of its lookups). It walks the coverage reports, newest first, with a key lookup into the map
    each. Shown by SQLite's plans of the statements it runs: none reads the map whole."""
    from sqlalchemy import event

    from crossbridge_assets.cli import main
    from crossbridge_assets.warehouse.engine import make_engine

    s = crossbridge_env
    _per_test_run(s, "1", {"tests/test_cart.py::test_old": "app/cart.py"}, 40)
    _per_test_run(s, "2", {"tests/test_cart.py::test_add": "app/cart.py",
                           "tests/test_pay.py::test_card": "app/pay.py"}, 0.01)
    ingest(dagster_instance)
    diff = tmp_path / "change.diff"
    diff.write_text(CART_CHANGE)

    engine = make_engine(s.warehouse_url)
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "test_coverage_map" in statement and not executemany:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert main(["impact", "--diff-file", str(diff), "--json"]) == 0
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert json.loads(capsys.readouterr().out)["tests"] == ["tests/test_cart.py::test_add"]
    assert statements
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in statements:
            plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
            assert not [step for step in plan if step.startswith("SCAN test_coverage_map")], (statement, plan)
