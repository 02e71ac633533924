"""Running ingestion now, in-process, through the same job the inbox sensor starts
(used by `crossbridge ingest` and `crossbridge demo`)."""

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from sqlalchemy import make_url

from crossbridge_assets.defs.landing.inbox import Batch, arrival_partition, fingerprint
from crossbridge_assets.settings import Settings
from crossbridge_assets.warehouse.run_metadata import MANIFEST_NAME

# Staging folders start with a dot: the inbox sensor never looks at them, so a running
# `dagster dev` does not race the in-process run for the same files.
STAGING_PREFIX = ".ingest-"


@dataclass
class Staged:
    folder: Path
    files: list[Path]


def stage(settings: Settings, sources: list[Path], manifest: dict, name: str | None = None) -> Staged:
    """Copy files (or folders, recursively) into a hidden drop folder of the inbox, with a
    crossbridge.json manifest. The copies get a fresh mtime: arrival is now."""
    settings.ensure_folders()
    folder = settings.inbox / (STAGING_PREFIX + (name or uuid.uuid4().hex[:12]))
    folder.mkdir(parents=True, exist_ok=False)
    (folder / MANIFEST_NAME).write_text(json.dumps({k: v for k, v in manifest.items() if v is not None}), "utf-8")
    copied: list[Path] = []
    try:
        _copy_into(folder, sources, copied, _product_files(settings))
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)  # nothing half-staged stays behind
        raise
    return Staged(folder, copied)


def _product_files(settings: Settings):
    """Whether a file is the product's own: in the inbox, archive, quarantine or Dagster home,
    or the SQLite warehouse (with its -wal and -shm)."""
    folders = [settings.inbox, settings.archive, settings.quarantine, settings.dagster_home]
    if os.environ.get("DAGSTER_HOME"):
        folders.append(Path(os.environ["DAGSTER_HOME"]))
    folders = [f.resolve() for f in folders]
    database = None if settings.is_postgres else make_url(settings.warehouse_url).database
    warehouse = Path(database).resolve() if database and database != ":memory:" else None

    def own(path: Path) -> bool:
        path = path.resolve()
        if warehouse is not None and path.parent == warehouse.parent and path.name.startswith(warehouse.name):
            return True
        return any(path.is_relative_to(f) for f in folders)

    return own


def _copy_into(folder: Path, sources: list[Path], copied: list[Path], own) -> None:
    for n, source in enumerate(map(Path, sources), start=1):
        # Sources of one name (shard1/TEST-x.xml shard2/TEST-x.xml, two folders named results)
        # each get a folder of their own: one copy must not take the other's place.
        base = folder if not (folder / source.name).exists() else folder / str(n)
        if source.is_dir():
            # A folder holding CROSSBRIDGE_HOME (`crossbridge ingest .` in a checkout): its inbox,
            # archive and warehouse are the product's, not reports.
            for path in sorted(p for p in source.rglob("*") if p.is_file() and not own(p)):
                target = base / source.name / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                if path.name != MANIFEST_NAME:
                    copied.append(target)
        else:
            target = base / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target)


def batches_for(settings: Settings, files: list[Path], partition: str | None = None) -> list[Batch]:
    """Group files by arrival day into batches, like the sensor does for settled files."""
    by_day: dict[str, list[tuple[str, int, int]]] = {}
    for path in files:
        st = path.stat()
        day = partition or arrival_partition(st.st_mtime_ns, settings)
        rel = path.relative_to(settings.inbox).as_posix()
        by_day.setdefault(day, []).append((rel, st.st_size, st.st_mtime_ns))
    out = []
    for day in sorted(by_day):
        files_of_day = sorted(by_day[day])
        for start in range(0, len(files_of_day), settings.max_batch):
            chunk = files_of_day[start : start + settings.max_batch]
            out.append(Batch(partition=day, files=[f[0] for f in chunk], run_key=fingerprint(chunk)))
    return out


def run_batches(batches: list[Batch], instance: dg.DagsterInstance) -> list[dg.ExecuteInProcessResult]:
    from crossbridge_assets.definitions import defs

    job = defs.resolve_job_def("ingest")
    results = []
    for batch in batches:
        results.append(
            job.execute_in_process(
                # The terminal gets warnings only; the run's full log is in the instance.
                run_config={**batch.run_config(), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                partition_key=batch.partition,
                instance=instance,
                tags={**batch.tags, "crossbridge/source": "cli"},
                raise_on_error=False,
            )
        )
    return results


def refresh_analytics(instance: dg.DagsterInstance) -> list[dg.ExecuteInProcessResult]:
    """Recompute the cross-run analytics and take the health checks now, as the nightly and
    hourly schedules do (the demo wants a complete UI before the first schedule tick)."""
    from crossbridge_assets.definitions import defs

    return [
        defs.resolve_job_def(name).execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={"crossbridge/source": "cli"},
            raise_on_error=False,
        )
        for name in ("nightly_insights", "health_checks")
    ]


def local_instance() -> dg.DagsterInstance:
    """The instance DAGSTER_HOME points at (the CLI sets it to the embedded one by default)."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()
