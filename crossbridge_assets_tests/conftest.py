"""Shared fixtures: the real-report corpus in ../shared and its oracle."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROSSBRIDGE_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The suite may itself run in a CI job: what its variables say would become the run metadata
# of every report the tests ingest or the hooks write. Tests that want a CI set their own.
for _variable in ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "TF_BUILD", "JENKINS_URL", "JENKINS_HOME",
                  "CROSSBRIDGE_PROJECT", "CROSSBRIDGE_BRANCH", "CROSSBRIDGE_COMMIT", "CROSSBRIDGE_BUILD"):
    os.environ.pop(_variable, None)


def corpus_rows(kind: str | None = None, fmt: str | None = None) -> list[dict]:
    """Rows of SOURCES.tsv (with 'path' resolved), or [] when ../shared is absent."""
    tsv = CORPUS / "SOURCES.tsv"
    if not tsv.exists():
        return []
    rows = []
    with open(tsv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if kind and row["kind"] != kind:
                continue
            if fmt and row["format"] != fmt:
                continue
            row["path"] = SHARED.parent / row["local_path"]
            rows.append(row)
    return rows


def corpus_params(kind: str | None = None, fmt: str | None = None):
    """pytest params over corpus rows; one clearly-skipped param when the corpus is absent."""
    rows = corpus_rows(kind, fmt)
    if not rows:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS} (../shared is absent)"))]
    return [pytest.param(r, id=Path(r["local_path"]).name) for r in rows]


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS} (../shared is absent)")
    return CORPUS


# ---------------------------------------------------------------- storage backends

POSTGRES_URL = os.environ.get("CROSSBRIDGE_TEST_POSTGRES_URL")


_CREATED_DATABASES: list[str] = []


def fresh_postgres_database(prefix: str = "cb_test") -> str:
    """A new empty database on the test server, so tests never see each other's rows; it is
    dropped when the test session ends."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _CREATED_DATABASES.append(name)
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(autouse=True)
def _release_test_database_connections():
    """Close the pooled connections to the databases a test made once it is done: engines are
    cached per URL for the process, and hundreds of idle pools would exhaust the server's
    max_connections."""
    before = len(_CREATED_DATABASES)
    yield
    if len(_CREATED_DATABASES) > before:
        from crossbridge_assets.warehouse.engine import make_engine

        base = POSTGRES_URL.rsplit("/", 1)[0]
        for name in _CREATED_DATABASES[before:]:
            make_engine(f"{base}/{name}").dispose()


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases():
    yield
    if not _CREATED_DATABASES:
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _CREATED_DATABASES:
            # FORCE: engines cached in this process still hold pooled connections.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_URL, reason="CROSSBRIDGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)"
                ),
            ],
        ),
    ]
)
def crossbridge_env(request, tmp_path, monkeypatch):
    """A CROSSBRIDGE_HOME in tmp_path and a warehouse on the parametrized backend; returns Settings."""
    from crossbridge_assets import settings

    home = tmp_path / "cbhome"
    monkeypatch.setenv("CROSSBRIDGE_HOME", str(home))
    monkeypatch.delenv("CROSSBRIDGE_INBOX", raising=False)
    monkeypatch.setenv("CROSSBRIDGE_SETTLE_SECONDS", "0")
    if request.param == "postgres":
        monkeypatch.setenv("CROSSBRIDGE_WAREHOUSE_URL", fresh_postgres_database())
    else:
        monkeypatch.delenv("CROSSBRIDGE_WAREHOUSE_URL", raising=False)
    s = settings.load()
    s.ensure_folders()
    return s


@pytest.fixture
def dagster_instance():
    import dagster as dg

    with dg.instance_for_test() as instance:
        yield instance
