"""The pure parts of the coverage domain: policy from the environment, its judgements, the
per-run union and the stored form of branches."""

from datetime import datetime, timedelta, timezone

import pytest

from crossbridge_assets.analysis.coverage_policy import (
    below_threshold,
    drops,
    load_policy,
    stale_incomplete,
)
from crossbridge_assets.model import CoverageTotals, FileCoverage
from crossbridge_assets.settings import SettingsError
from crossbridge_assets.warehouse.coverage import decode_branches, encode_branches, file_record, merge_run


def test_policy_defaults_and_lookup():
    p = load_policy({})
    assert p.threshold("shop", "main") == (0.0, "*") and p.max_drop == 1.0 and p.shard_grace == timedelta(hours=2)
    p = load_policy({
        "CROSSBRIDGE_COVERAGE_THRESHOLDS": '{"shop/main": 80, "shop": 60, "shop/release/*": 75, "*": 10}',
        "CROSSBRIDGE_COVERAGE_MAX_DROP": "0.5",
        "CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES": "15",
    })
    assert p.threshold("shop", "main") == (80.0, "shop/main")
    assert p.threshold("shop", "release/2.0") == (75.0, "shop/release/*")
    assert p.threshold("shop", "feature/x") == (60.0, "shop/*")
    assert p.threshold("billing", "main") == (10.0, "*")
    assert p.max_drop == 0.5 and p.shard_grace == timedelta(minutes=15)


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("CROSSBRIDGE_COVERAGE_THRESHOLDS", "{shop: 80}", "not valid JSON"),
        ("CROSSBRIDGE_COVERAGE_THRESHOLDS", "[80]", "JSON object"),
        ("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/main": 180}', "percentage from 0 to 100"),
        ("CROSSBRIDGE_COVERAGE_THRESHOLDS", '{"shop/main": "80"}', "percentage from 0 to 100"),
        ("CROSSBRIDGE_COVERAGE_MAX_DROP", "a lot", "not a number"),
        ("CROSSBRIDGE_COVERAGE_SHARD_GRACE_MINUTES", "-5", "out of range"),
    ],
)
def test_policy_errors_name_the_variable(name, value, words):
    with pytest.raises(SettingsError) as err:
        load_policy({name: value})
    assert name in str(err.value) and words in str(err.value)


def _run(run_id, day, pct, complete=True, branch="main", **kw):
    t = datetime(2026, 3, day, tzinfo=timezone.utc)
    return dict(run_id=run_id, project="shop", branch=branch, build=run_id, started_at=t, first_arrival=t,
                complete=complete, line_pct=pct, **kw)


def test_judgements_skip_incomplete_runs():
    policy = load_policy({"CROSSBRIDGE_COVERAGE_THRESHOLDS": '{"shop/main": 80}'})
    runs = [_run("1", 1, 85.0), _run("2", 2, 70.0), _run("3", 3, 20.0, complete=False)]
    (low,) = below_threshold(runs, policy)
    assert (low["run_id"], low["threshold"]) == ("2", 80.0)
    (drop,) = drops(runs, 1.0)
    assert (drop["run_id"], drop["previous_run"], drop["drop"]) == ("2", "1", 15.0)
    assert drops(runs, 15.0) == []
    assert drops([_run("1", 1, 85.0), _run("9", 2, 50.0, branch="dev")], 1.0) == []  # other branch
    now = datetime(2026, 3, 3, 3, tzinfo=timezone.utc)
    assert [r["run_id"] for r in stale_incomplete(runs, timedelta(hours=2), now)] == ["3"]
    assert stale_incomplete(runs, timedelta(hours=4), now) == []


def test_branches_round_trip():
    assert encode_branches({}) is None and decode_branches(None) == {}
    b = {17: (1, 2), 9: (2, 2)}
    assert encode_branches(b) == "9:2/2,17:1/2" and decode_branches("9:2/2,17:1/2") == b
    fc = file_record("a.py", "1-2", "4", "2:1/2", '[["f", 1, 3]]')
    assert fc.lines == {1: 1, 2: 1, 4: 0} and fc.branches == {2: (1, 2)} and fc.functions == [("f", 1, 3)]


def test_merge_run_unions_lines_and_keeps_counts_only_files():
    a = [FileCoverage("x.py", lines={1: 1, 2: 0, 3: 0}, branches={2: (0, 2)})]
    b = [FileCoverage("x.py", lines={1: 0, 2: 4, 3: 0}, branches={2: (1, 2)})]
    only = {"y.js": CoverageTotals(1, 10, 4, 0, 0)}
    better = {"y.js": CoverageTotals(1, 10, 6, 0, 0)}
    merged = merge_run([(a, only), (b, better)])
    assert {n for n, h in merged.files["x.py"].lines.items() if h} == {1, 2}
    assert merged.counts_only["y.js"].lines_covered == 6
    assert merged.totals.as_dict() == {
        "files": 2, "lines_valid": 13, "lines_covered": 8, "branches_valid": 2, "branches_covered": 1,
    }
    assert [f["file"] for f in merged.file_figures()] == ["y.js", "x.py"]


def test_a_run_without_branch_data_plots_no_branch_figure():
    """0 % would read as a collapse of branch coverage; a gap in the plot is what it is."""
    from crossbridge_assets.defs.coverage import _percentages

    assert {k: v.value for k, v in _percentages({"line_pct": 81.25, "branch_pct": None}).items()} == {"line_pct": 81.25}
    both = _percentages({"line_pct": 81.25, "branch_pct": 50})
    assert {k: v.value for k, v in both.items()} == {"line_pct": 81.25, "branch_pct": 50.0}
