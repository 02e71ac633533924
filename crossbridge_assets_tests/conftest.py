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
