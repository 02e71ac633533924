"""The code location loads the way a user's tools load it: the `dg` CLI reads [tool.dg]."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_dg_lists_the_definitions(tmp_path):
    dg = Path(sys.executable).with_name("dg")
    env = {"PATH": f"{dg.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path),
           "CROSSBRIDGE_HOME": str(tmp_path / "cb")}
    proc = subprocess.run([str(dg), "list", "defs", "--json"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = json.loads(proc.stdout)
    assets = {a["asset_key"] for a in listed["assets"]}
    assert {"landed_reports", "test_results", "coverage", "profiling_events", "warehouse_health"} <= assets
    assert {"ingest", "nightly_insights"} <= {j["name"] for j in listed["jobs"]}
    assert {"weekly_retention", "hourly_health_checks"} <= {s["name"] for s in listed["schedules"]}
