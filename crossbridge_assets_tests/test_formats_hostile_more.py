"""Hostile reports against every reader: what gets past the first defences (a DOCTYPE hidden
from the entity check, encodings the check does not read, SQLite schemas coverage.py never
writes) and what a rejection says. Each input is either read correctly or refused with a
FormatError naming the file and the reason, in bounded memory and time, with nothing fetched
from the network or the disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, read_report
from crossbridge_assets_tests.test_formats_json_detection import _in_child


def _refused(path: Path, *words: str) -> str:
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path) and str(path) in str(err.value)
    for word in words:
        assert word in err.value.reason, err.value.reason
    return err.value.reason


# ---------------------------------------------------------------------------- coverage.py data


def _coverage_data(path: Path, lines: dict[str, list[int]]) -> Path:
    """A data file written by coverage.py itself (line measurement, no contexts)."""
    from coverage import CoverageData

    data = CoverageData(basename=str(path))
    data.add_lines(lines)
    data.write()
    return path


def _alter(path: Path, script: str) -> Path:
    db = sqlite3.connect(path)
    db.executescript(script)
    db.commit()
    db.close()
    return path


def test_coverage_data_file_is_read(tmp_path):
    path = _coverage_data(tmp_path / ".coverage", {"/src/app.py": [1, 2, 5]})
    spec, _stream, [fc] = read_report(path)
    assert spec.name == "coveragepy-data" and fc.lines == {1: 1, 2: 1, 5: 1}


_ENDLESS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)"


@pytest.mark.parametrize(
    "script, reason",
    [
        # Each row selected from 'file' comes from a recursion that never ends: coverage.py's
        # SELECT ran until memory was gone.
        (f"ALTER TABLE file RENAME TO real_file; CREATE VIEW file AS {_ENDLESS} SELECT x AS id, 'p' || x AS path FROM n;",
         "it holds the view 'file'"),
        (f"DROP TABLE meta; CREATE VIEW meta AS {_ENDLESS} SELECT 'k' || x AS key, 'v' AS value FROM n;",
         "it holds the view 'meta'"),
        ("CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END;", "it holds the trigger 't'"),
        ("DROP TABLE tracer; CREATE VIRTUAL TABLE tracer USING fts5(file_id, name);", "virtual table 'tracer'"),
        # A column computed on every read: 900 MB of zeros a row.
        ("ALTER TABLE line_bits RENAME TO old; CREATE TABLE line_bits (file_id integer, context_id integer,"
         " n integer, numbits blob GENERATED ALWAYS AS (zeroblob(n)) VIRTUAL);"
         " INSERT INTO line_bits (file_id, context_id, n) SELECT file_id, context_id, 900000000 FROM old; DROP TABLE old;",
         "its table 'line_bits' has a computed column"),
        # 4 MB of set bits: 32 million line numbers, each a Python int (MemoryError before).
        ("UPDATE line_bits SET numbits = CAST(replace(hex(zeroblob(4000000)), '00', 'FF') AS BLOB);",
         "no source file is longer than 1,048,576 lines"),
    ],
    ids=["endless-view-file", "endless-view-meta", "trigger", "virtual-table", "computed-column", "line-bits-bomb"],
)
def test_coverage_data_schema_coverage_never_writes_is_refused_in_bounded_memory(tmp_path, script, reason):
    path = _alter(_coverage_data(tmp_path / ".coverage", {"/src/app.py": [1, 2, 5]}), script)
    outcome = _in_child(str(path))
    assert outcome.get("error") == "FormatError" and outcome["path"] == str(path), outcome
    assert reason in outcome["reason"], outcome
    assert outcome["seconds"] < 10 and outcome["peak_kb"] < 200 * 1024, outcome
