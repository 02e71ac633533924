"""Building a results history for the insight tests: JUnit files written by hand, landed and
loaded through the real landing and loader (no Dagster), one CI run each."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select

from crossbridge_assets.settings import Settings
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine, migrate
from crossbridge_assets.warehouse.landing import LANDED, Landing
from crossbridge_assets.warehouse.results import load_archived_results


def junit(cases: dict[str, str | tuple[str, str]], suite: str = "tests.test_shop", reruns: dict[str, int] | None = None) -> str:
    """A pytest-style JUnit file. `cases` maps a test name to its status ("passed", "failed",
    "error", "skipped") or to (status, message). `reruns` gives a test's failed tries before
    its final result (Surefire's flakyFailure when it passed, rerunFailure when it failed)."""
    rows = []
    for name, outcome in cases.items():
        status, message = outcome if isinstance(outcome, tuple) else (outcome, f"{name} went wrong")
        body = ""
        if status == "failed":
            body = f"<failure message={quoteattr(message)} type=\"AssertionError\">{escape(message)}\n  at {suite}.{name}</failure>"
        elif status == "error":
            body = f"<error message={quoteattr(message)} type=\"RuntimeError\">{escape(message)}</error>"
        elif status == "skipped":
            body = f"<skipped message={quoteattr(message)}/>"
        for _ in range((reruns or {}).get(name, 0)):
            tag = "flakyFailure" if status == "passed" else "rerunFailure"
            body += f"<{tag} message={quoteattr(message)} type=\"AssertionError\">{escape(message)}</{tag}>"
        rows.append(f'<testcase classname="{suite}" name="{name}" time="0.25">{body}</testcase>')
    return f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="{suite}" tests="{len(rows)}">\n' + "\n".join(rows) + "\n</testsuite>\n"


class History:
    """Runs landed and loaded into one warehouse, in the order they are added."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.warehouse_url)
        migrate(self.engine)
        self.landing = Landing(settings, self.engine)

    def run(self, build: str, xml: str, *, project: str = "shop", branch: str = "main", day: str = "2026-11-20",
            started_at: str | None = None, commit: str | None = None, name: str = "junit.xml",
            shard: str | None = None, shards_expected: int | None = None, ci_url: str | None = None) -> str:
        """Land and load one report as CI run `build` (or as one shard of it, in a drop of its
        own); returns the run id."""
        folder = self.settings.inbox / project / branch / build / (shard or "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(xml, encoding="utf-8")
        manifest = {"project": project, "branch": branch, "build": build}
        optional = {"started_at": started_at, "commit": commit, "shard": shard, "shards_expected": shards_expected,
                    "ci_url": ci_url}
        manifest.update({key: value for key, value in optional.items() if value})
        (folder / "crossbridge.json").write_text(json.dumps(manifest))
        landed = self.landing.land(path, day)
        assert landed is not None and landed.status == LANDED, landed
        with self.engine.connect() as conn:
            report = conn.execute(select(schema.reports).where(schema.reports.c.sha256 == landed.sha256)).one()
        load_archived_results(self.engine, report)
        return report.run_id
