"""Landing and storing coverage, on SQLite and PostgreSQL: the same bytes for another build,
shard or test are a report of their own while a copy sent again for the same run stays one
report (through the CLI, the sensor and a backfill); coverage.py JSON figures follow its
summaries; `crossbridge ingest` leaves per-run coverage ready for patch-coverage and summary;
absurd line numbers are refused with a reason."""

import hashlib
from pathlib import Path

from sqlalchemy import select

from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import (
    coverage_runs,
)
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import ingest
from crossbridge_assets_tests.test_ingest_e2e import drop

PY = FIXTURES / "coverage" / "python"
JUNIT = FIXTURES / "junit" / "pytest-sample.xml"

# LCOV as coverage.py's `coverage lcov` writes it, cut to one file: LCOV carries no timestamp,
# so two CI runs of the same code write the same bytes.
SHARD_A = "SF:src/pkg/calc.py\nDA:1,1\nDA:2,1\nDA:3,0\nDA:4,0\nLF:4\nLH:2\nend_of_record\n"
SHARD_B = "SF:src/pkg/calc.py\nDA:1,1\nDA:2,0\nDA:3,1\nDA:4,0\nLF:4\nLH:2\nend_of_record\n"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def cli_ingest(capsys, monkeypatch, tmp_path, *argv) -> str:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code, out, err = run_cli(capsys, "ingest", *argv)
    assert code == 0, err
    return out


def reports(settings) -> list:
    with make_engine(settings.warehouse_url).connect() as conn:
        return list(conn.execute(select(schema.reports).order_by(schema.reports.c.arrived_at)))


def run_of(settings, build: str) -> dict:
    (run,) = [r for r in coverage_runs(make_engine(settings.warehouse_url)) if r["build"] == build]
    return run


# ---------------------------------------------------------------------------- coverage[day] metadata


def test_a_day_without_line_or_branch_figures_leaves_them_out(crossbridge_env, dagster_instance):
    """A day of reports without branch data, or of coverage.py data files only (what ran, no
    percentage), plots a gap, not 0 %."""
    s = crossbridge_env
    drop(s, "lcov.info", "app/main/1", text=SHARD_A)
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert md["line_pct"].value == 50.0 and "branch_pct" not in md

    drop(s, "unit.coverage", "app/main/2", source=PY / ".coverage")
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    assert md["reports_loaded"].value == 1 and "line_pct" not in md and "branch_pct" not in md
