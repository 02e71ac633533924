"""Read-side queries shared by the assets, the checks and the CLI."""

from __future__ import annotations

import json
from typing import Iterable

from sqlalchemy import Engine, and_, case, func, or_, select

from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.landing import LANDED, QUARANTINED

R = schema.reports


def reports_for(engine: Engine, partition: str, kind: str, batch: str | None = None,
                formats: Iterable[str] | None = None) -> list:
    """Landed reports of one kind for a day (a sensor batch narrows it to its own files, and
    `formats` to those formats)."""
    cond = [R.c.partition == partition, R.c.kind == kind, R.c.status == LANDED]
    if batch:
        cond.append(R.c.batch == batch)
    if formats is not None:
        cond.append(R.c.format.in_(list(formats)))
    with engine.connect() as conn:
        return list(conn.execute(select(R).where(and_(*cond)).order_by(R.c.arrived_at, R.c.sha256)))


def day_totals(engine: Engine, partition: str, kind: str) -> dict[str, int]:
    """The totals of a day's landed reports of one kind, summed from what each load recorded:
    the day's figures, whichever run brought each report."""
    cond = [R.c.partition == partition, R.c.kind == kind, R.c.status == LANDED, R.c.totals.is_not(None)]
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for (totals,) in conn.execute(select(R.c.totals).where(and_(*cond))):
            for key, value in json.loads(totals).items():
                if isinstance(value, (int, float)):
                    out[key] = out.get(key, 0) + int(value)
    return out


def batch_report_count(engine: Engine, batches: list[str]) -> int:
    """How many reports the given batches (ingest runs) recorded, landed or quarantined; a file
    a batch found already held records nothing."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(R).where(R.c.batch.in_(batches))).scalar() or 0


def batch_reports(engine: Engine, batch: str) -> list:
    """The reports a batch (an ingest run) recorded, landed or quarantined, in arrival order."""
    with engine.connect() as conn:
        return list(conn.execute(
            select(R.c.sha256, R.c.original_name, R.c.status, R.c.kind, R.c.format, R.c.reason)
            .where(R.c.batch == batch).order_by(R.c.arrived_at, R.c.sha256)
        ))


def quarantined(engine: Engine, partition: str | None = None, batch: str | None = None,
                kind: str | tuple[str, ...] | None = None, unknown: bool = False) -> list:
    """Quarantined reports (of one kind, or of several: those that failed parsing, with
    `unknown` also the files landing could not place: format never recognized, manifest
    unreadable; any kind takes them all)."""
    cond = [R.c.status == QUARANTINED]
    if partition:
        cond.append(R.c.partition == partition)
    if batch:
        cond.append(R.c.batch == batch)
    if kind:
        kinds = R.c.kind.in_([kind] if isinstance(kind, str) else list(kind))
        cond.append(or_(kinds, R.c.kind.is_(None)) if unknown else kinds)
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(R.c.sha256, R.c.original_name, R.c.reason, R.c.partition, R.c.archive_path)
                .where(and_(*cond))
                .order_by(R.c.arrived_at)
            )
        )


def reports_with_warnings(engine: Engine, partition: str, kind: str) -> list[dict]:
    """Reports of a day read with warnings (declared totals that disagree, a truncated end...)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(R.c.original_name, R.c.warnings).where(
                R.c.partition == partition, R.c.kind == kind, R.c.warnings.is_not(None)
            )
        ).all()
    return [{"file": name, "warning": "; ".join(json.loads(w))} for name, w in rows]


def unloaded_batches(engine: Engine, arrived_before) -> list:
    """(partition, batch, reports) of landed reports that no load has recorded, arrived before
    the given time: their load failed (a warehouse fault) and nobody has run it again."""
    with engine.connect() as conn:
        return list(conn.execute(
            select(R.c.partition, R.c.batch, func.count().label("reports"))
            .where(R.c.status == LANDED, R.c.loaded_at.is_(None), R.c.arrived_at < arrived_before)
            .group_by(R.c.partition, R.c.batch)
            .order_by(R.c.partition, R.c.batch)
        ))


def report_counts(engine: Engine, partition: str | None = None) -> dict[str, int]:
    cond = [R.c.partition == partition] if partition else []
    with engine.connect() as conn:
        rows = conn.execute(select(R.c.status, func.count()).where(*cond).group_by(R.c.status)).all()
    return {status: n for status, n in rows}


# What a run summary says about a run's coverage (coverage_runs, merged over its shards), and
# its patch_pct (patch_coverage: of the change the run sent, None when it sent none).
COVERAGE_SUMMARY = ("line_pct", "branch_pct", "shards_seen", "shards_expected", "complete", "files", "formats")


def run_summaries(engine: Engine, per_branch: int = 5, project: str | None = None) -> list[dict]:
    """The most recent runs of every project and branch: their test counts (None when the run
    sent no test results) and their merged coverage under "coverage" (None when it sent none)."""
    T, TR, CR, PC = schema.test_runs, schema.test_results, schema.coverage_runs, schema.patch_coverage
    counts = (
        select(
            TR.c.run_id,
            func.count().label("tests"),
            func.sum(case((TR.c.status == "passed", 1), else_=0)).label("passed"),
            func.sum(case((TR.c.status == "failed", 1), else_=0)).label("failures"),
            func.sum(case((TR.c.status == "error", 1), else_=0)).label("errors"),
            func.sum(case((TR.c.status == "skipped", 1), else_=0)).label("skipped"),
            func.sum(case((TR.c.flaky, 1), else_=0)).label("flaky"),
            func.sum(TR.c.duration).label("duration"),
        )
        .group_by(TR.c.run_id)
        .subquery()
    )
    ordering = func.coalesce(T.c.started_at, T.c.created_at)
    ranked = (
        select(
            T.c.run_id,
            T.c.project,
            T.c.branch,
            T.c.build,
            T.c.commit_sha,
            T.c.started_at,
            T.c.created_at,
            counts.c.tests, counts.c.passed, counts.c.failures, counts.c.errors, counts.c.skipped,
            counts.c.flaky, counts.c.duration,
            *(CR.c[key].label("coverage_" + key) for key in COVERAGE_SUMMARY),
            PC.c.pct.label("coverage_patch_pct"),
            CR.c.run_id.label("coverage_run"),
            func.row_number().over(partition_by=(T.c.project, T.c.branch), order_by=ordering.desc()).label("rank"),
        )
        .outerjoin(counts, counts.c.run_id == T.c.run_id)
        .outerjoin(CR, CR.c.run_id == T.c.run_id)
        .outerjoin(PC, PC.c.run_id == T.c.run_id)
        .where(or_(counts.c.run_id.is_not(None), CR.c.run_id.is_not(None)))
    )
    if project:
        ranked = ranked.where(T.c.project == project)
    ranked = ranked.subquery()
    stmt = select(ranked).where(ranked.c.rank <= per_branch).order_by(ranked.c.project, ranked.c.branch, ranked.c.rank)
    out = []
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            d = dict(row._mapping)
            if d["tests"] is not None:
                executed = d["tests"] - (d["skipped"] or 0)
                d["pass_rate"] = round((d["passed"] or 0) / executed, 4) if executed else 1.0
            else:
                d["pass_rate"] = None
            coverage = {key: d.pop("coverage_" + key) for key in (*COVERAGE_SUMMARY, "patch_pct")}
            d["coverage"] = coverage if d.pop("coverage_run") is not None else None
            for key in ("started_at", "created_at"):
                d[key] = d[key].isoformat() if d[key] is not None and hasattr(d[key], "isoformat") else d[key]
            d.pop("rank", None)
            out.append(d)
    return out


def table_counts(engine: Engine) -> dict[str, int]:
    out = {}
    with engine.connect() as conn:
        for table in (schema.reports, schema.test_runs, schema.tests, schema.test_results, schema.test_attempts):
            out[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return out
