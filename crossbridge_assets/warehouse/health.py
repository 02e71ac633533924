"""Health of the warehouse: pure functions the asset checks and `crossbridge doctor` share.

Every check returns a Finding that says what is wrong, how bad it is and what to do, with the
offending reports, projects or keys in `rows`. No Dagster here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from sqlalchemy import Engine, Table, UniqueConstraint, and_, func, inspect, select, text

from crossbridge_assets.model import KIND_RESULTS
from crossbridge_assets.ops_settings import PARSE_ERROR_WINDOW, OpsSettings, format_duration
from crossbridge_assets.settings import is_glob
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import LATEST, current_version, ping
from crossbridge_assets.warehouse.landing import LANDED, QUARANTINED

ERROR, WARN = "ERROR", "WARN"
EXPIRED = "expired"  # reports whose raw rows and file were removed by retention
MAX_ROWS = 20  # offending items listed in a finding

# A landed report may still be loading: only call it inconsistent after this long.
LOAD_GRACE = timedelta(hours=1)

# Keys that must be unique although no constraint says so (yet): the test identity behind
# test_id, and derived tables recomputed whole. Tables with a primary key are checked on it too.
NATURAL_KEYS: dict[str, list[tuple[str, ...]]] = {
    "tests": [("framework", "suite", "name", "parameters")],
    "profile_baselines": [("kind", "name", "environment")],
}


@dataclass
class Finding:
    check: str
    passed: bool
    severity: str
    summary: str
    what_to_do: str = ""
    figures: dict[str, float | int | str | None] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


# name -> (severity, description shown in the UI); order is the order doctor prints.
CHECKS: dict[str, tuple[str, str]] = {
    "warehouse_reachable": (ERROR, "The warehouse database answers a query; its round-trip latency is recorded."),
    "schema_current": (ERROR, "The warehouse schema is at the version this release expects (every migration applied)."),
    "parse_error_rate": (WARN, "Few reports of the last 24 hours were unreadable (quarantined) - below CROSSBRIDGE_PARSE_ERROR_RATE."),
    "reports_arriving": (WARN, "Every project keeps sending reports at its expected cadence (CROSSBRIDGE_EXPECTED_CADENCE)."),
    "no_duplicate_keys": (ERROR, "No table holds two rows for one key (report, test, run...), including derived tables without a unique constraint."),
    "counts_consistent": (ERROR, "Row counts agree with the `reports` table: every loaded result report has its rows, no rows belong to a missing or quarantined report."),
}


def _utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _first_line(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {(text_[0] if text_ else '')[:300]}"


def existing_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


# ------------------------------------------------------------------ reachability and schema


def warehouse_reachable(engine: Engine) -> Finding:
    name = "warehouse_reachable"
    target = engine.url.render_as_string(hide_password=True)
    try:
        latency = ping(engine)
    except Exception as exc:  # noqa: BLE001 - any failure to answer is the finding
        return Finding(
            name, False, ERROR,
            f"The warehouse did not answer: {_first_line(exc)}",
            "Check that the database in CROSSBRIDGE_WAREHOUSE_URL is running and reachable from this host "
            "(host, port, credentials, disk space). Ingestion runs retry storage faults, then fail.",
            {"warehouse": target},
        )
    return Finding(name, True, ERROR, f"answered in {latency} ms", "", {"latency_ms": latency, "warehouse": target})


def schema_current(engine: Engine) -> Finding:
    name = "schema_current"
    with engine.begin() as conn:
        version = current_version(conn)
    figures = {"schema_version": version, "expected_version": LATEST}
    if version == LATEST:
        return Finding(name, True, ERROR, f"schema at version {version}", "", figures)
    if version < LATEST:
        return Finding(
            name, False, ERROR,
            f"schema at version {version}, this release expects {LATEST}",
            "Migrations run when the code location starts or a run first touches the warehouse; restart the code "
            "location (or run `crossbridge summary`) and read its log for the migration that failed.",
            figures,
        )
    return Finding(
        name, False, ERROR,
        f"schema at version {version} is newer than this release ({LATEST})",
        "A newer release migrated this warehouse: deploy that release everywhere (webserver, daemon, workers).",
        figures,
    )


# ------------------------------------------------------------------ arrivals


def parse_error_rate(engine: Engine, max_rate: float, now: datetime | None = None,
                     window: timedelta = PARSE_ERROR_WINDOW) -> Finding:
    name = "parse_error_rate"
    now = now or datetime.now(timezone.utc)
    R = schema.reports
    since = now - window
    with engine.connect() as conn:
        counts = dict(
            conn.execute(select(R.c.status, func.count()).where(R.c.arrived_at >= since).group_by(R.c.status)).all()
        )
        bad = conn.execute(
            select(R.c.original_name, R.c.project, R.c.reason, R.c.archive_path)
            .where(R.c.arrived_at >= since, R.c.status == QUARANTINED)
            .order_by(R.c.arrived_at.desc())
            .limit(MAX_ROWS)
        ).all()
    total = sum(counts.values())
    quarantined = counts.get(QUARANTINED, 0)
    rate = quarantined / total if total else 0.0
    figures = {"reports": total, "quarantined": quarantined, "rate": round(rate, 4), "max_rate": max_rate,
               "window": format_duration(window)}
    rows = [{"file": r.original_name, "project": r.project, "reason": r.reason, "kept_at": r.archive_path} for r in bad]
    if not total:
        return Finding(name, True, WARN, f"no reports in the last {format_duration(window)}", "", figures)
    passed = rate <= max_rate
    return Finding(
        name, passed, WARN,
        f"{quarantined} of {total} report(s) quarantined in the last {format_duration(window)} ({rate:.1%}, limit {max_rate:.1%})",
        "" if passed else "Read the reasons below: fix the producer (truncated uploads, a new report format, a broken "
        "crossbridge.json) and drop the files into the inbox again; they wait in the quarantine folder.",
        figures, rows, ["file", "project", "reason", "kept_at"],
    )


def reports_arriving(engine: Engine, ops: OpsSettings, now: datetime | None = None) -> Finding:
    name = "reports_arriving"
    now = now or datetime.now(timezone.utc)
    R = schema.reports
    with engine.connect() as conn:
        last = {p: _utc(t) for p, t in conn.execute(select(R.c.project, func.max(R.c.arrived_at)).group_by(R.c.project))}
    # A glob of the cadence ("payments-*") names the projects it matches, not one of its own.
    projects = sorted(set(last) | {p for p in ops.cadence if not is_glob(p)})
    rows, silent = [], []
    for project in projects:
        expected = ops.cadence_for(project)
        seen = last.get(project)
        if expected is None:
            status = "not watched"
        elif seen is None:
            status = "never reported"
        else:
            status = "silent" if now - seen > expected else "ok"
        row = {
            "project": project,
            "last_report": seen.isoformat(timespec="minutes") if seen else None,
            "silent_for": format_duration(timedelta(minutes=int((now - seen).total_seconds() // 60))) if seen else None,
            "expected_every": format_duration(expected) if expected else None,
            "status": status,
        }
        rows.append(row)
        if status in ("silent", "never reported"):
            silent.append(row)
    figures = {"projects": len(projects), "silent_projects": len(silent)}
    columns = ["project", "last_report", "silent_for", "expected_every", "status"]
    if not projects:
        return Finding(name, True, WARN, "no project has sent reports yet", "", figures, [], columns)
    if not silent:
        return Finding(name, True, WARN, f"all {len(projects)} project(s) reported within their cadence", "",
                       figures, rows[:MAX_ROWS], columns)
    return Finding(
        name, False, WARN,
        "silent: " + ", ".join(f"{r['project']} ({r['status']}"
                               + (f" for {r['silent_for']}, expected every {r['expected_every']})" if r["silent_for"] else ")")
                               for r in silent[:5]),
        "Check the CI jobs of these projects: did they run, and did their upload step reach the inbox? "
        "If a project was retired or runs less often, change CROSSBRIDGE_EXPECTED_CADENCE.",
        figures, (silent + [r for r in rows if r not in silent])[:MAX_ROWS], columns,
    )


# ------------------------------------------------------------------ row-level sanity


def _enforced_keys(engine: Engine, names: Iterable[str]) -> dict[str, set[frozenset[str]]]:
    """The column sets each table's database keeps unique itself: its primary key, unique
    constraints and unique indexes, as the database has them (not as the schema says)."""
    found: dict[str, set[frozenset[str]]] = {}
    inspector = inspect(engine)
    for name in names:
        keys = found.setdefault(name, set())
        primary = inspector.get_pk_constraint(name).get("constrained_columns") or []
        if primary:
            keys.add(frozenset(primary))
        for unique in inspector.get_unique_constraints(name):
            keys.add(frozenset(unique["column_names"]))
        for index in inspector.get_indexes(name):
            if index.get("unique") and all(index["column_names"]):
                keys.add(frozenset(index["column_names"]))
    return found


def key_specs(engine: Engine, tables: Iterable[str] | None = None) -> list[tuple[Table, tuple[str, ...]]]:
    """(table, key columns) to check: primary keys, unique constraints and NATURAL_KEYS, for
    tables that exist in the database (other domains' tables are found by themselves), less the
    keys the database keeps unique itself: no row can break those, and proving it again read
    every row of the largest tables every hour (months of results, maps and spans: seconds,
    longer each day). A key the database lacks (a migration half applied, a table made by hand)
    is checked."""
    present = existing_tables(engine)
    wanted = set(tables) if tables is not None else None
    chosen = [t for t in schema.metadata.sorted_tables
              if t.name in present and (wanted is None or t.name in wanted)]
    enforced = _enforced_keys(engine, [t.name for t in chosen])
    specs = []
    for table in chosen:
        keys: list[tuple[str, ...]] = []
        if table.primary_key.columns:
            keys.append(tuple(c.name for c in table.primary_key.columns))
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                cols = tuple(c.name for c in constraint.columns)
                if cols and cols not in keys:
                    keys.append(cols)
        for cols in NATURAL_KEYS.get(table.name, []):
            if cols not in keys and all(c in table.c for c in cols):
                keys.append(cols)
        specs.extend((table, cols) for cols in keys if frozenset(cols) not in enforced[table.name])
    return specs


def _partition_filter(table: Table, partition: str | None):
    if partition is None:
        return None
    if "partition" in table.c:
        return table.c.partition == partition
    if table in schema.PER_REPORT_TABLES or "report_sha256" in table.c:
        R = schema.reports
        return schema.report_rows(table, select(R.c.sha256).where(R.c.partition == partition))
    return None


def duplicate_keys(engine: Engine, tables: Iterable[str] | None = None, partition: str | None = None,
                   name: str = "no_duplicate_keys") -> Finding:
    """GROUP BY every key HAVING count > 1. `partition` narrows per-report tables to a day
    (the ingestion check); tables without a day are checked whole."""
    rows: list[dict] = []
    groups = checked = 0
    with engine.connect() as conn:
        for table, cols in key_specs(engine, tables):
            cond = _partition_filter(table, partition)
            key_cols = [table.c[c] for c in cols]
            dup = select(*key_cols, func.count().label("n")).group_by(*key_cols).having(func.count() > 1)
            if cond is not None:
                dup = dup.where(cond)
            dup = dup.subquery()
            n = conn.execute(select(func.count()).select_from(dup)).scalar_one()
            checked += 1
            if not n:
                continue
            groups += n
            for r in conn.execute(select(dup).limit(5)):
                d = r._mapping
                rows.append({"table": table.name, "key": ", ".join(cols),
                             "value": ", ".join(str(d[c]) for c in cols), "rows": d["n"]})
    figures = {"keys_checked": checked, "duplicate_keys": groups}
    if partition:
        figures["partition"] = partition
    if not groups:
        return Finding(name, True, ERROR, f"{checked} key(s) checked, no duplicates", "", figures)
    tables_hit = sorted({r["table"] for r in rows})
    return Finding(
        name, False, ERROR,
        f"{groups} duplicated key(s) in {', '.join(tables_hit)}",
        "Something wrote rows outside the platform's loaders (a manual import, a second writer, a half-applied "
        "migration). Delete the extra rows - keep one per key - or re-materialize the day: loads are "
        "delete-then-insert by report, so a backfill rewrites the rows once.",
        figures, rows[:MAX_ROWS], ["table", "key", "value", "rows"],
    )


def per_report_tables(engine: Engine) -> list[Table]:
    """Every existing table whose rows belong to one report (per-report tables of all domains)."""
    present = existing_tables(engine)
    seen, out = set(), []
    for table in list(schema.PER_REPORT_TABLES) + list(schema.metadata.sorted_tables):
        per_report = table in schema.PER_REPORT_TABLES or "report_sha256" in table.c
        if table.name in present and per_report and table.name not in seen:
            seen.add(table.name)
            out.append(table)
    return out


def counts_consistent(engine: Engine, now: datetime | None = None) -> Finding:
    name = "counts_consistent"
    now = now or datetime.now(timezone.utc)
    R, TR, TA = schema.reports, schema.test_results, schema.test_attempts
    rows: list[dict] = []
    figures: dict[str, int] = {}
    with engine.connect() as conn:
        # Landed result reports and how many rows each has.
        per_report = select(TR.c.report_sha256, func.count().label("n")).group_by(TR.c.report_sha256).subquery()
        stmt = (
            select(R.c.sha256, R.c.original_name, R.c.partition, R.c.totals, R.c.loaded_at, R.c.arrived_at,
                   func.coalesce(per_report.c.n, 0).label("n"))
            .select_from(R.outerjoin(per_report, per_report.c.report_sha256 == R.c.sha256))
            .where(R.c.status == LANDED, R.c.kind == KIND_RESULTS)
        )
        not_loaded = wrong = 0
        for r in conn.execute(stmt):
            if r.loaded_at is None:
                if now - _utc(r.arrived_at) > LOAD_GRACE:
                    not_loaded += 1
                    rows.append({"problem": "landed, never loaded", "report": r.original_name, "sha256": r.sha256[:12],
                                 "partition": r.partition, "expected": None, "found": r.n})
                continue
            declared = json.loads(r.totals).get("tests") if r.totals else None
            if declared is None:
                continue
            if r.n != declared:
                wrong += 1
                rows.append({"problem": "row count differs from the report", "report": r.original_name,
                             "sha256": r.sha256[:12], "partition": r.partition, "expected": declared, "found": r.n})
        figures["results_reports_not_loaded"] = not_loaded
        figures["results_reports_with_wrong_count"] = wrong

        # Rows whose report is missing, quarantined or expired, in every per-report table.
        orphans_total = 0
        for table in per_report_tables(engine):
            live = select(R.c.sha256).where(R.c.status == LANDED)
            rows_from, sha = schema.report_column(table)
            orphan = (
                select(sha.label("report_sha256"), func.count().label("n"))
                .select_from(rows_from)
                .where(sha.not_in(live))
                .group_by(sha)
                .subquery()
            )
            found = conn.execute(
                select(orphan.c.report_sha256, orphan.c.n, R.c.status, R.c.original_name)
                .select_from(orphan.outerjoin(R, R.c.sha256 == orphan.c.report_sha256))
                .limit(MAX_ROWS)
            ).all()
            count = conn.execute(select(func.count()).select_from(orphan)).scalar_one()
            orphans_total += count
            for f in found:
                rows.append({"problem": f"{table.name} rows of a {f.status or 'missing'} report",
                             "report": f.original_name, "sha256": f.report_sha256[:12], "partition": None,
                             "expected": 0, "found": f.n})

        # Attempts without their result row.
        stray = conn.execute(
            select(func.count()).select_from(
                select(TA.c.report_sha256, TA.c.seq)
                .outerjoin(TR, and_(TR.c.report_sha256 == TA.c.report_sha256, TR.c.seq == TA.c.seq))
                .where(TR.c.report_sha256.is_(None))
                .distinct()
                .subquery()
            )
        ).scalar_one()
        if stray:
            rows.append({"problem": "test_attempts rows without their test_results row", "report": None,
                         "sha256": None, "partition": None, "expected": 0, "found": stray})
        figures["reports_with_orphan_rows"] = orphans_total
        figures["attempts_without_result"] = stray

    problems = not_loaded + wrong + orphans_total + (1 if stray else 0)
    columns = ["problem", "report", "sha256", "partition", "expected", "found"]
    if not problems:
        return Finding(name, True, ERROR, "row counts agree with the reports table", "", figures, [], columns)
    return Finding(
        name, False, ERROR,
        "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in figures.items() if v),
        "Re-materialize (backfill) the partitions listed: loads are delete-then-insert by report, so the rows are "
        "rewritten from the archive. Rows of a quarantined or missing report were left by something outside the "
        "platform: delete them.",
        figures, rows[:MAX_ROWS], columns,
    )


# ------------------------------------------------------------------ sizes and the whole set


def table_sizes(engine: Engine) -> dict[str, int]:
    """Row count of every table in the warehouse (all domains)."""
    out = {}
    with engine.connect() as conn:
        for name in sorted(existing_tables(engine)):
            out[name] = conn.execute(select(func.count()).select_from(text(f'"{name}"'))).scalar_one()
    return out


def database_bytes(engine: Engine) -> int | None:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    db = engine.url.database
    if not db or db == ":memory:":
        return None
    return sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))


def folder_bytes(folder: Path) -> tuple[int, int]:
    """(files, bytes) under a folder, sidecars included."""
    files = size = 0
    for root, _dirs, names in os.walk(folder):
        for n in names:
            try:
                size += os.path.getsize(os.path.join(root, n))
                files += 1
            except OSError:
                continue
    return files, size


def guarded(name: str, fn: Callable[[], Finding]) -> Finding:
    """A check that could not run is a failed check that says why."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - an unreachable warehouse fails every check that needs it
        severity = CHECKS.get(name, (ERROR, ""))[0]
        return Finding(name, False, severity, f"could not run: {_first_line(exc)}",
                       "Fix warehouse_reachable first; this check needs the warehouse.")


def run_check(name: str, engine: Engine, ops: OpsSettings, now: datetime | None = None) -> Finding:
    funcs: Mapping[str, Callable[[], Finding]] = {
        "warehouse_reachable": lambda: warehouse_reachable(engine),
        "schema_current": lambda: schema_current(engine),
        "parse_error_rate": lambda: parse_error_rate(engine, ops.parse_error_rate, now),
        "reports_arriving": lambda: reports_arriving(engine, ops, now),
        "no_duplicate_keys": lambda: duplicate_keys(engine),
        "counts_consistent": lambda: counts_consistent(engine, now),
    }
    return guarded(name, funcs[name])


def run_all(engine: Engine, ops: OpsSettings, names: Sequence[str] | None = None,
            now: datetime | None = None) -> list[Finding]:
    names = list(names or CHECKS)
    first = run_check("warehouse_reachable", engine, ops, now) if "warehouse_reachable" in names else None
    out = [first] if first else []
    for name in names:
        if name == "warehouse_reachable":
            continue
        if first is not None and not first.passed:
            severity = CHECKS[name][0]
            out.append(Finding(name, False, severity, "not run: the warehouse did not answer"))
            continue
        out.append(run_check(name, engine, ops, now))
    return out
