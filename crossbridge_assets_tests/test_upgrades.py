"""Upgrading: a warehouse that an earlier release of this code made and filled is migrated by the
current code, keeps every row it had, answers `crossbridge summary`, and takes new reports with
every insight computed on it, on SQLite and on PostgreSQL.

The earlier releases are this repository's own history (`git archive` of a commit, run in a
process of its own): CI runs a full clone. A checkout without that history skips, saying so."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from crossbridge_assets.cli import main
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import LATEST, make_engine
from crossbridge_assets_tests.conftest import REPO

# Releases across the migration history, each with what its warehouse lacks today.
RELEASES = [
    pytest.param("7a3d949", id="schema3-profiling-before-spans-and-outbox-rewrites"),
    pytest.param("cb03e11", id="schema8-before-any-insight-table"),
    pytest.param("afb9533", id="schema8-with-some-insight-tables-of-older-columns"),
]

# Raw rows a release's warehouse keeps (derived tables are recomputed and may change).
KEPT = ("reports", "test_runs", "tests", "test_results", "test_attempts", "coverage_files", "coverage_lines",
        "profile_events")


def old_release(commit: str, into: Path) -> Path:
    """The package as it was at `commit`, extracted into `into`."""
    try:
        subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"commit {commit} is not in this checkout's history (a shallow clone?): no earlier release to "
                    "upgrade from")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "crossbridge_assets"],
                             check=True, capture_output=True).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # The "data" filter (Python 3.11.4 and later) keeps every path inside `into`.
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return into


def run_old_demo(code: Path, cwd: Path) -> None:
    """`crossbridge demo --days 2` of the earlier release: its warehouse made and filled by it."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["PYTHONPATH"] = str(code)
    script = (f"import sys, crossbridge_assets\nassert crossbridge_assets.__file__.startswith({str(code)!r}), "
              "crossbridge_assets.__file__\nfrom crossbridge_assets.cli import main\n"
              "sys.exit(main(['demo', '--days', '2']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])


def row_counts(url: str) -> dict[str, int]:
    with make_engine(url).connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in KEPT if t in present}


@pytest.mark.parametrize("commit", RELEASES)
def test_a_warehouse_of_an_earlier_release_is_migrated_and_keeps_working(commit, crossbridge_env, tmp_path,
                                                                           monkeypatch, capsys):
    s = crossbridge_env
    run_old_demo(old_release(commit, tmp_path / "release"), tmp_path)
    before = row_counts(s.warehouse_url)
    assert before["test_results"] > 0 and before["reports"] > 0, before

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code = main(["summary", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out), "no run in the summary"
    with make_engine(s.warehouse_url).connect() as conn:
        assert conn.execute(text("SELECT max(version) FROM schema_version")).scalar_one() == LATEST
    assert row_counts(s.warehouse_url) == before

    # New reports land beside the old ones, and every insight is computed on the whole history.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["demo", "--days", "2"])
    assert code == 0, printed.getvalue()
    assert "insights (run comparisons, flaky tests, failure clusters, test history) and health checks refreshed" in \
        printed.getvalue(), printed.getvalue()
    after = row_counts(s.warehouse_url)
    assert all(after[t] >= n for t, n in before.items()), (before, after)
    with make_engine(s.warehouse_url).connect() as conn:
        for table in (schema.run_comparisons, schema.test_history, schema.failure_clusters):
            assert conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar_one() > 0, table.name
