"""Landing: the archive and the `reports` table, the system of record.

A file leaves the inbox for `archive/<day>/<key>` (or `quarantine/<day>/<key>` with a reason),
with a JSON sidecar beside it holding its original name, where it was found and its run
metadata, so that the warehouse can be rebuilt from the folders alone.

A report's key (`reports.sha256`, the `report_sha256` of its rows) is the sha256 of its content
and of what places it: project, branch, build, commit, shard, and the test of a per-test
report (report_key). The same bytes sent for another run, shard or test are another report
(LCOV and Istanbul files carry no timestamp: identical files of different runs are common);
the same bytes with the same placement are the same report, landed once. A file without any
of that metadata keeps its plain content hash, and so do the reports landed before the key
held placement (a copy of one of those with the same placement is found under that key).

Order of effects makes retries safe: copy into the archive (addressed by the key, so a second
copy is the same file), commit the row, and only then remove the inbox file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

from sqlalchemy import Engine, delete, insert, select, update

from crossbridge_assets.formats import FormatError, detect
from crossbridge_assets.log import get_logger
from crossbridge_assets.settings import Settings
from crossbridge_assets.formats._common import report_clock, to_int, using_report_zone
from crossbridge_assets.formats._paths import check_source_prefix, using_source_roots
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import exclusive, is_transient, now
from crossbridge_assets.model import KIND_PROFILING
from crossbridge_assets.warehouse.run_metadata import (
    DEFAULT_BRANCH,
    DEFAULT_PROJECT,
    ManifestError,
    RunMetadata,
    drop_of,
    file_name_text,
    manifest_entry,
    resolve,
)

LANDED = "landed"
QUARANTINED = "quarantined"
SUPERSEDED = "superseded"  # replaced by the same report sent again (a CI job re-run): its rows are gone
SIDECAR_SUFFIX = ".json"
PARTIAL_SUFFIX = ".tmp"  # a copy being placed, renamed to its own name once whole


def archived_sidecar(report) -> dict:
    """What landing kept beside an archived report (`reports` row): its manifest's word on it
    (run metadata, the test of a per-test report, the drop's source roots); {} when gone."""
    if not report.archive_path:
        return {}
    try:
        data = json.loads(Path(report.archive_path + SIDECAR_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def as_its_drop_said(sidecar: dict, source_roots: Iterable[str] = ()) -> Iterator[None]:
    """Parse an archived report (inside the block) as its drop's manifest said: the configured
    `source_roots` and the drop's stripped from its paths, its times without a zone in the
    drop's `timezone`."""
    zone = RunMetadata.from_json(sidecar.get("metadata") or {}).zone
    with using_source_roots((*source_roots, *(sidecar.get("source_roots") or ()))), using_report_zone(zone):
        yield


# A run cannot end after its report arrived; its machine's clock may be some minutes off.
_AHEAD_OF_ARRIVAL = timedelta(minutes=15)


def unzoned_time_warning(info, arrived: datetime | None) -> str | None:
    """Inside as_its_drop_said: a warning for a report whose times carry no zone and were read
    as UTC (its drop named none) when they put its run's end after the file arrived: they are
    the local time of a machine ahead of UTC. (Behind UTC, nothing in the file gives it away.)"""
    clock = report_clock()
    if clock is None or clock.zone is not None or not clock.unzoned or info.started_at is None or arrived is None:
        return None
    end = info.started_at + timedelta(seconds=info.duration or 0)
    ahead = end - (arrived if arrived.tzinfo else arrived.replace(tzinfo=timezone.utc))
    if ahead < _AHEAD_OF_ARRIVAL:
        return None
    return (f"its times carry no time zone and, read as UTC, its run ends {ahead.total_seconds() / 3600:.1f} h after "
            "the file arrived: they are the local time of a machine ahead of UTC. Name that zone as 'timezone' in the "
            "drop's crossbridge.json (e.g. 'Asia/Tokyo', or crossbridge ingest --timezone) for its reports to be read "
            "in it")


@dataclass
class Landed:
    sha256: str
    original_name: str
    status: str
    kind: str | None = None
    format: str | None = None
    reason: str | None = None
    duplicate: bool = False


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# Run metadata that tells one report of the same bytes from another (started_at, ci_url and
# shards_expected describe the run, they do not make a second copy of a report).
PLACEMENT = ("project", "branch", "build", "commit", "shard")
_DEFAULTS = {"project": DEFAULT_PROJECT, "branch": DEFAULT_BRANCH}
_UNPLACED = {"placement": "none"}  # see Landing._key


def placement_of(sidecar: dict) -> dict[str, str]:
    """What places an archived report, from its sidecar: the run metadata in PLACEMENT (the
    default project and branch count as none) and the test of a per-test report."""
    meta = sidecar.get("metadata") or {}
    out = {k: str(meta[k]) for k in PLACEMENT if meta.get(k) is not None and meta[k] != _DEFAULTS.get(k)}
    if sidecar.get("test"):
        out["test"] = str(sidecar["test"])
    if sidecar.get("source_prefix"):
        # Packages of a monorepo may send the same bytes (their coverage of alike files): each
        # is a report of its own, naming its own package's files.
        out["source_prefix"] = str(sidecar["source_prefix"])
    if meta.get("shard") is None and (to_int(meta.get("shards_expected")) or 0) > 1 and sidecar.get("drop"):
        # Shards without a label are told apart by their upload (see coverage.shard_of): two
        # uploads of the same bytes are two shards, as two of different bytes are.
        out["drop"] = str(sidecar["drop"])
    return out


def report_key(content_sha256: str, placement: dict[str, str]) -> str:
    """The key of a report: its content hash alone when nothing places it, else the sha256 of
    the content hash and the placement."""
    if not placement:
        return content_sha256
    text = json.dumps(placement, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{content_sha256}\n{text}".encode()).hexdigest()


def _place_in_drop(sidecar: dict, meta: RunMetadata) -> str:
    """Where a report was found: its path within its drop when its shard is labelled, else
    its path in the inbox."""
    source, drop = sidecar.get("source_path") or "", sidecar.get("drop") or ""
    if meta.shard is not None and drop not in ("", ".") and source.startswith(drop + "/"):
        return source[len(drop) + 1:]
    return source


def mtime_utc(mtime_ns: int) -> datetime:
    """A file's mtime as a UTC time, truncated to the microsecond: a float of the seconds would
    round 23:59:59.9999997 up to the next day (and year)."""
    seconds, ns = divmod(mtime_ns, 10**9)
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(microsecond=ns // 1000)


def arrival(path: Path) -> datetime:
    """When a file arrived: its mtime, but never later than now. An agent whose clock is ahead
    writes mtimes to come; taken as they are, its reports would count in "the last 24 hours"
    for days and its runs sort after every run sent meanwhile (its day is clamped to today by
    the same rule)."""
    return min(mtime_utc(path.stat().st_mtime_ns), now())


class Landing:
    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.log = get_logger("persistence")

    # -------------------------------------------------------------- paths

    def archive_path(self, partition: str, sha256: str) -> Path:
        return self.settings.archive / partition / sha256

    def quarantine_path(self, partition: str, sha256: str) -> Path:
        return self.settings.quarantine / partition / sha256

    # -------------------------------------------------------------- inbox

    def land(self, path: Path, partition: str, batch: str | None = None) -> Landed | None:
        """Land one inbox file. Returns None when the file is gone (landed by an earlier try)."""
        if not path.exists():
            self.log.info("file already gone from the inbox", report=str(path))
            return None
        name = file_name_text(path.name)
        try:
            source = file_name_text(str(path.resolve().relative_to(self.settings.inbox.resolve())))
        except ValueError:
            source = file_name_text(str(path))
        try:
            content, size = file_sha256(path)
        except FileNotFoundError:
            self.log.info("file already gone from the inbox", report=str(path))
            return None
        except OSError as exc:
            if isinstance(exc, (ConnectionError, TimeoutError)):
                raise
            return self._unreadable(path, partition, source, batch, exc)
        sidecar = {"original_name": name, "source_path": source, "arrived_at": arrival(path).isoformat(), "size": size,
                   "content_sha256": content}
        spec = problem = None
        # A file whose manifest does not read is unplaced: kept apart by where it was found, so
        # that it never takes the place of the same bytes landed for a run.
        unplaced_key = report_key(content, {"source_path": source})
        unplaced = False
        try:
            meta = resolve(path, self.settings.inbox)
        except ManifestError as exc:
            meta, problem = RunMetadata(), f"manifest {exc.path}: {exc.reason}"
            unplaced = True
        else:
            try:
                spec = detect(path)
            except FormatError as exc:
                problem = exc.reason
            except Exception as exc:  # noqa: BLE001 - a reader bug on one file must not stop its batch
                if is_transient(exc):
                    raise
                problem = f"could not be read: {type(exc).__name__}: {exc}"
                self.log.exception("format detection failed", report=name)
            if spec is not None and spec.kind == KIND_PROFILING:
                meta.fill_from(_hook_metadata(spec, path))
            entry = manifest_entry(path, self.settings.inbox)
            if entry.get("test"):
                sidecar["test"] = str(entry["test"])  # a per-test report (e.g. coverage of one test)
            sidecar.update(drop_of(path, self.settings.inbox))  # its upload, its coverage source roots
            if entry.get("source_prefix"):  # the file's own word over its manifest's
                sidecar["source_prefix"] = check_source_prefix(entry["source_prefix"])
        sidecar["metadata"] = meta.to_json()
        if unplaced:
            sidecar["unplaced"] = True  # its run is unknown: a backfill must not land it as the default run
            key = unplaced_key
        else:
            key = self._key(content, placement_of(sidecar))
            # The same file, quarantined before for its manifest: the manifest now reads.
            self._retire(unplaced_key)
        existing = self._row(key)
        if existing is not None and existing.status == LANDED:
            self.log.info("duplicate report skipped", report=name, sha256=key, first_seen=existing.partition)
            if problem is None:
                # A re-run's copy is often the bytes of its first try (LCOV carries no timestamp).
                self._retire_broken_copies(sidecar, meta, key)
            path.unlink(missing_ok=True)
            return Landed(key, name, LANDED, existing.kind, existing.format, duplicate=True)
        earlier_copies = [] if problem is not None or unplaced else self._landed_from(sidecar, meta, key)
        if earlier_copies:
            # It will take an earlier copy's place (a CI job re-run): read it whole first, so a
            # copy cut short or broken on the way is quarantined and the earlier one kept.
            problem = self._unreadable_whole(spec, path, name)
            if problem is not None:  # of its kind, so that its domain's parse-errors check names it
                return self._quarantine_new(path, partition, key, sidecar, problem, batch, spec)
        if problem is not None:
            return self._quarantine_new(path, partition, key, sidecar, problem, batch)

        target = self.archive_path(partition, key)
        kept = self._place_from_inbox(path, target, sidecar, partition, batch, "archive")
        if kept is not None:
            return kept
        first, earlier_copies = self._record(key, partition, sidecar, LANDED, None, spec.kind, spec.name, batch, target,
                                             new=meta)
        if first is not None:
            # Another batch landed the same report since it was looked up (one report dropped
            # twice, both batches ingesting at once): it stays where that batch put it.
            if first.archive_path != str(target):
                target.unlink(missing_ok=True)
                target.with_name(target.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            self.log.info("duplicate report skipped", report=name, sha256=key, first_seen=first.partition)
            return Landed(key, name, LANDED, first.kind, first.format, duplicate=True)
        path.unlink(missing_ok=True)
        if existing is not None and existing.status == SUPERSEDED and existing.archive_path != str(target):
            # A superseded report sent again lands anew: its old copy, marked superseded, must
            # not take this row back in a backfill of its day.
            old = Path(existing.archive_path)
            old.unlink(missing_ok=True)
            old.with_name(old.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
        for earlier in earlier_copies:
            # A CI job re-run sends its reports again, with the build number of the first try:
            # the run counts the new one only.
            self._supersede(earlier, key, source)
        self._retire_broken_copies(sidecar, meta, key)
        self.log.info("report landed", report=name, sha256=key, format=spec.name, project=meta.project_or_default)
        return Landed(key, name, LANDED, spec.kind, spec.name)

    def _retire_broken_copies(self, sidecar: dict, meta: RunMetadata, key: str) -> None:
        """The report sent again from the same place for the same run, fixed (whole where it was
        cut): it replaces the copies that could not be read, which a later parser must not land
        beside it, and which the parse_errors check need no longer name."""
        for earlier in self._quarantined_from(sidecar, meta, key):
            self._retire(earlier)

    def _unreadable_whole(self, spec, path: Path, name: str) -> str | None:
        """Why the report at `path` does not read to its end, or None when it does."""
        try:
            for _record in spec.open(path):
                pass
        except FormatError as exc:
            return f"{exc.reason}; the copy of this report landed earlier for the same run is kept"
        except Exception as exc:  # noqa: BLE001 - a reader bug on one file must not stop its batch
            if is_transient(exc):
                raise
            self.log.exception("reading a report sent again failed", report=name)
            return f"could not be read: {type(exc).__name__}: {exc}; the copy landed earlier for the same run is kept"
        return None

    def _key(self, content: str, placement: dict[str, str]) -> str:
        """report_key, except where a report landed before keys held placement sits under the
        bare content hash: placed the same way, it is this report, under that key; placed
        otherwise while this one is not placed at all, this one takes a key of its own."""
        key = report_key(content, placement)
        earlier = self._row(content)
        if earlier is not None and earlier.archive_path:
            same = placement_of(self._read_sidecar(Path(earlier.archive_path))) == placement
            if key != content and same:
                return content
            if key == content and not same:
                return report_key(content, _UNPLACED)
        return key

    def _retire(self, key: str) -> None:
        """Forget a quarantined report (its row and its file) that another one replaces."""
        row = self._row(key)
        if row is None or row.status != QUARANTINED:
            return
        with self.engine.begin() as conn:
            conn.execute(delete(schema.reports).where(schema.reports.c.sha256 == key))
        if row.archive_path:
            stored = Path(row.archive_path)
            stored.unlink(missing_ok=True)
            stored.with_name(stored.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
        self.log.info("quarantined report replaced", report=row.original_name, sha256=key)

    def _landed_from(self, sidecar: dict, meta: RunMetadata, key: str) -> list[str]:
        """Keys of landed reports of other content sent from the same place for the same run
        (see _same_report); a report that names no run is a run of its own."""
        if not (meta.build or meta.commit):
            return []
        return self._same_report(LANDED, sidecar, meta, key)

    def _quarantined_from(self, sidecar: dict, meta: RunMetadata, key: str) -> list[str]:
        """Keys of quarantined copies of this report: found at this very place of the inbox for
        the same run, or sent from the same place for the same run as a re-sent copy is."""
        return self._same_report(QUARANTINED, sidecar, meta, key, same_inbox_path=True)

    def _same_report(self, status: str, sidecar: dict, meta: RunMetadata, key: str,
                     same_inbox_path: bool = False) -> list[str]:
        """Keys of reports in `status` of other content, of this name, sent from the same place
        for the same run: the same placement and the same path within its drop (the folder of
        its manifest). A shard without a label is only known by its upload (two jobs of one
        build may send reports of the same names), so without a shard it must be the same inbox
        path. With `same_inbox_path`, a report of this name and run columns found at this very
        inbox path counts as well, named run or not."""
        R = schema.reports
        placed = [R.c.project == meta.project_or_default, R.c.branch == meta.branch_or_default]
        for column, value in ((R.c.build, meta.build), (R.c.commit_sha, meta.commit), (R.c.shard, meta.shard)):
            placed.append(column.is_(None) if value is None else column == value)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(R.c.sha256, R.c.source_path, R.c.archive_path).where(
                    R.c.status == status, R.c.original_name == sidecar["original_name"], R.c.sha256 != key, *placed)
            ).all()
        in_drop = bool((meta.build or meta.commit) and sidecar.get("drop"))
        place = _place_in_drop(sidecar, meta)
        placement = placement_of(sidecar)
        out = []
        for row in rows:
            if same_inbox_path and row.source_path == sidecar.get("source_path"):
                out.append(row.sha256)
                continue
            other = self._read_sidecar(Path(row.archive_path)) if in_drop and row.archive_path else {}
            if other.get("drop") and _place_in_drop(other, meta) == place and placement_of(other) == placement:
                out.append(row.sha256)
        return out

    def _supersede(self, key: str, by: str, by_source: str) -> None:
        """Mark a landed report superseded by the report `by` and remove its rows. Its file
        stays in the archive, marked in its sidecar, so a backfill keeps it superseded."""
        row = self._row(key)
        if row is None or row.status != LANDED:
            return
        reason = f"superseded by {by_source} ({by}), sent again from the same place for the same run"
        if row.archive_path and Path(row.archive_path).exists():
            stored = Path(row.archive_path)
            sidecar = self._read_sidecar(stored)
            sidecar.update(superseded_by=by, reason=reason)
            self._place(stored, stored, sidecar, copy=True)
        with self.engine.begin() as conn:
            lock_reports(conn, [key])
            conn.execute(update(schema.reports).where(schema.reports.c.sha256 == key)
                         .values(status=SUPERSEDED, reason=reason))
            for table in schema.PER_REPORT_TABLES:
                conn.execute(delete(table).where(schema.report_rows(table, [key])))
        self.log.info("report superseded", report=row.original_name, sha256=key, by=by)

    def _unreadable(self, path: Path, partition: str, source: str, batch: str | None, exc: OSError) -> Landed:
        """A file that cannot be read (uploaded by another account without read permission, an
        I/O error): nothing of it can be kept, see _left_in_inbox."""
        try:
            meta = resolve(path, self.settings.inbox)
        except ManifestError:
            meta = RunMetadata()
        sidecar = {"original_name": file_name_text(path.name), "source_path": source,
                   "arrived_at": arrival(path).isoformat(), "metadata": meta.to_json()}
        return self._left_in_inbox(partition, sidecar, batch,
                                   f"cannot be read: {exc.strerror or exc}; it stays in the inbox and lands once it can be read")

    def _left_in_inbox(self, partition: str, sidecar: dict, batch: str | None, reason: str) -> Landed:
        """A file that stays in the inbox (unreadable, or no room to keep it): quarantined with
        its reason so the checks name it, but the file is left where it is; the sensor tries it
        again, and once it lands it takes this record's place. The rest of its batch goes on."""
        key = report_key("unreadable", {"source_path": sidecar["source_path"]})
        self._record(key, partition, {**sidecar, "reason": reason}, QUARANTINED, reason, None, None, batch, None)
        self.log.warning("report quarantined", report=sidecar["original_name"], reason=reason)
        return Landed(key, sidecar["original_name"], QUARANTINED, reason=reason)

    def _place_from_inbox(self, path: Path, target: Path, sidecar: dict, partition: str, batch: str | None,
                          where: str) -> Landed | None:
        """_place a copy of an inbox file; None when placed, else why it stays in the inbox (a
        disk that is full, a file bigger than the service may write, a folder it may not)."""
        try:
            self._place(path, target, sidecar, copy=True)
        except OSError as exc:
            if isinstance(exc, (ConnectionError, TimeoutError)):
                raise
            reason = (f"cannot be copied into the {where} ({target.parent}): {exc.strerror or exc}; it stays in the "
                      "inbox and lands once it can be copied")
            return self._left_in_inbox(partition, {k: v for k, v in sidecar.items() if k != "reason"}, batch, reason)
        return None

    def _quarantine_new(self, path, partition, sha256, sidecar, reason, batch, spec=None) -> Landed:
        """Quarantine a file of the inbox; `spec`, its format where it was known."""
        kind, fmt = (spec.kind, spec.name) if spec is not None else (None, None)
        sidecar["reason"] = reason
        target = self.quarantine_path(partition, sha256)
        kept = self._place_from_inbox(path, target, sidecar, partition, batch, "quarantine")
        if kept is not None:
            return kept
        self._record(sha256, partition, sidecar, QUARANTINED, reason, kind, fmt, batch, target)
        path.unlink(missing_ok=True)
        self.log.warning("report quarantined", report=sidecar["original_name"], reason=reason)
        return Landed(sha256, sidecar["original_name"], QUARANTINED, kind, fmt, reason=reason)

    # -------------------------------------------------------------- archive (backfill)

    def reland_partition(self, partition: str, batch: str | None = None) -> list[Landed]:
        """Re-record every archived and quarantined file of a day (a backfill after a parser
        upgrade gives quarantined files another chance)."""
        landed = []
        for folder in (self.settings.archive / partition, self.settings.quarantine / partition):
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                # A copy still being placed by a run landing it now is that run's, not a report.
                if entry.suffix in (SIDECAR_SUFFIX, PARTIAL_SUFFIX) or not entry.is_file():
                    continue
                landed.append(self._reland(entry, partition, batch))
        return landed

    def _reland(self, stored: Path, partition: str, batch: str | None) -> Landed:
        sha256 = stored.name
        sidecar = self._read_sidecar(stored)
        if sidecar.get("superseded_by"):
            reason = sidecar.get("reason") or f"superseded by {sidecar['superseded_by']}"
            self._record(sha256, partition, sidecar, SUPERSEDED, reason, None, None, batch, stored)
            return Landed(sha256, sidecar["original_name"], SUPERSEDED, reason=reason)
        try:
            if sidecar.get("unplaced") or str(sidecar.get("reason", "")).startswith("manifest "):
                # Quarantined for its manifest: which run it belongs to is unknown, whatever
                # a newer parser makes of its content. It waits to be sent again.
                raise FormatError(stored, sidecar.get("reason") or "its manifest could not be read")
            spec = detect(stored)
        except Exception as exc:  # noqa: BLE001 - a reader bug on one file must not stop the day's backfill
            if not isinstance(exc, FormatError) and is_transient(exc):
                raise
            reason = exc.reason if isinstance(exc, FormatError) else f"could not be read: {type(exc).__name__}: {exc}"
            target = self.quarantine_path(partition, sha256)
            sidecar["reason"] = reason
            self._place(stored, target, sidecar, copy=False)
            self._record(sha256, partition, sidecar, QUARANTINED, reason, None, None, batch, target)
            return Landed(sha256, sidecar["original_name"], QUARANTINED, reason=reason)
        target = self.archive_path(partition, sha256)
        sidecar.pop("reason", None)
        self._place(stored, target, sidecar, copy=False)
        self._record(sha256, partition, sidecar, LANDED, None, spec.kind, spec.name, batch, target)
        return Landed(sha256, sidecar["original_name"], LANDED, spec.kind, spec.name)

    def quarantine_report(self, sha256: str, reason: str) -> bool:
        """A landed report turned out to be unreadable (found while parsing): move it aside.
        False, changing nothing, when it is no longer landed: another run quarantined,
        superseded or expired it meanwhile (its file gone from under this run's load), and
        that run's reason stands."""
        row = self._row(sha256)
        if row is None or row.status != LANDED:
            return False
        stored = Path(row.archive_path)
        target = self.quarantine_path(row.partition, sha256)
        sidecar = self._read_sidecar(stored) if stored.exists() else {"original_name": row.original_name}
        sidecar["reason"] = reason
        if stored.exists():
            self._place(stored, target, sidecar, copy=False)
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.reports)
                .where(schema.reports.c.sha256 == sha256)
                .values(status=QUARANTINED, reason=reason, archive_path=str(target))
            )
            for table in schema.PER_REPORT_TABLES:
                conn.execute(delete(table).where(schema.report_rows(table, [sha256])))
        self.log.warning("report quarantined", report=row.original_name, sha256=sha256, reason=reason)
        return True

    # -------------------------------------------------------------- helpers

    def _row(self, sha256: str):
        with self.engine.connect() as conn:
            return conn.execute(select(schema.reports).where(schema.reports.c.sha256 == sha256)).first()

    @staticmethod
    def _read_sidecar(stored: Path) -> dict:
        side = stored.with_name(stored.name + SIDECAR_SUFFIX)
        try:
            return json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"original_name": stored.name, "metadata": RunMetadata().to_json()}

    @staticmethod
    def _place(source: Path, target: Path, sidecar: dict, copy: bool) -> None:
        """Put a report at `target` with its sidecar. Both are written whole under a temporary
        name first and take their names sidecar first: a disk that fills up (or a crash) leaves
        no report without its run metadata, which a backfill would take for the default run,
        and no copy cut short; what was written of it is removed. Raises OSError, `source` and
        whatever was at `target` untouched."""
        target.parent.mkdir(parents=True, exist_ok=True)
        moved = source.resolve() != target.resolve()
        side = target.with_name(target.name + SIDECAR_SUFFIX)
        partial = [target.with_name(target.name + PARTIAL_SUFFIX), side.with_name(side.name + PARTIAL_SUFFIX)]
        try:
            if moved:
                shutil.copyfile(source, partial[0])
            partial[1].write_text(json.dumps(sidecar, indent=2, default=str), encoding="utf-8")
            os.replace(partial[1], side)
            if moved:
                os.replace(partial[0], target)
        except OSError:
            for tmp in partial:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass  # not a file of ours (a folder in its way): nothing of it to remove
            raise
        if moved and not copy:
            source.unlink(missing_ok=True)
            source.with_name(source.name + SIDECAR_SUFFIX).unlink(missing_ok=True)

    def _record(self, sha256, partition, sidecar, status, reason, kind, fmt, batch, target: Path | None,
                new: RunMetadata | None = None):
        """Write the report's row in place of any earlier one. Without a batch (a whole day
        landed again) it stays its batch's: that batch's run, between its landing and its load,
        still loads it, whatever becomes of the day's run.

        With `new`, the run metadata of a report new from the inbox, landed: returns (the row
        another run landed it under meanwhile, []) when one did (the same file in two batches at
        once), and it is not written; else (None, the keys of the landed copies this one takes
        the place of). Both are looked up under locks on the report and on its place: two runs
        landing one report, or a report and its copy sent again, record one after the other,
        the second seeing the first. Returns (None, []) otherwise."""
        row = self._row_values(sha256, partition, sidecar, status, reason, kind, fmt, batch, target)
        R = schema.reports
        with self.engine.begin() as conn:
            exclusive(conn, f"report {sha256}")
            if new is not None:
                first = conn.execute(select(R).where(R.c.sha256 == sha256, R.c.status == LANDED)).first()
                if first is not None:
                    return first, []
                place = (new.project_or_default, new.branch_or_default, new.build, new.commit, new.shard,
                         sidecar["original_name"])
                exclusive(conn, "place " + json.dumps(place))
            if batch is None:
                row["batch"] = conn.execute(select(R.c.batch).where(R.c.sha256 == sha256)).scalar()
            conn.execute(delete(R).where(R.c.sha256 == sha256))
            conn.execute(insert(R).values(**row))
            # Read while the place is held: a copy another run records now waits, and then finds this one.
            return None, self._landed_from(sidecar, new, sha256) if new is not None else []

    @staticmethod
    def _row_values(sha256, partition, sidecar, status, reason, kind, fmt, batch, target: Path | None) -> dict:
        meta = RunMetadata.from_json(sidecar.get("metadata") or {})
        return dict(
            sha256=sha256,
            original_name=sidecar["original_name"],
            source_path=sidecar.get("source_path"),
            kind=kind,
            format=fmt,
            size=sidecar.get("size") or (target.stat().st_size if target else 0),
            arrived_at=datetime.fromisoformat(sidecar["arrived_at"]) if sidecar.get("arrived_at") else now(),
            partition=partition,
            status=status,
            reason=reason,
            archive_path=str(target) if target else None,
            project=meta.project_or_default,
            branch=meta.branch_or_default,
            commit_sha=meta.commit,
            build=meta.build,
            shard=meta.shard,
            shards_expected=meta.shards_expected,
            started_at=meta.started_at,
            ci_url=meta.ci_url,
            metadata_source=meta.source,
            run_id=meta.run_id(sha256),
            batch=batch,
        )


def lock_reports(conn, shas) -> None:
    """Lock `reports` rows, in one order, before changing what hangs off them. Writers of one
    report's rows (a load, two outbox drains) then wait for each other instead of deadlocking
    on rows locked in different orders. On SQLite the write takes the database's write lock."""
    R = schema.reports
    for sha in sorted(set(shas)):
        conn.execute(update(R).where(R.c.sha256 == sha).values(loaded_at=R.c.loaded_at))


class ReportGone(Exception):
    """The report is no longer landed: another run superseded, quarantined or expired it since
    this load read its row. Its rows are not written; nothing is wrong with the file."""

    def __init__(self, sha256: str, status: str | None):
        super().__init__(f"report {sha256} is {status or 'gone'}, no longer landed: not loaded")
        self.sha256 = sha256
        self.status = status


def lock_for_load(conn, sha256: str) -> None:
    """Start a load of a report's rows: lock its `reports` row (a second load of it, by a batch
    run and a whole-day run at once, waits for the first and then rewrites its rows, instead of
    colliding with rows not yet committed) and make sure it is still landed, as the row the load
    was given said, since another run may have superseded or quarantined it meanwhile."""
    lock_reports(conn, [sha256])
    R = schema.reports
    status = conn.execute(select(R.c.status).where(R.c.sha256 == sha256)).scalar()
    if status != LANDED:
        raise ReportGone(sha256, status)


def mark_loaded(conn, report, info, totals: dict, warnings: list[str]) -> None:
    """Record on a `reports` row what loading its content found: the totals counted, the
    report's own (declared) totals, its warnings, the run time and run-level properties it
    states, and the start time when landing had none."""
    conn.execute(
        update(schema.reports)
        .where(schema.reports.c.sha256 == report.sha256)
        .values(
            totals=json.dumps(totals),
            declared=json.dumps(info.declared) if info.declared else None,
            warnings=json.dumps(warnings) if warnings else None,
            started_at=report.started_at or info.started_at,
            duration=info.duration,
            properties=json.dumps(info.properties) if info.properties else None,
            loaded_at=now(),
        )
    )


def _hook_metadata(spec, path: Path) -> RunMetadata:
    """What a hook captured from the CI environment into its event file's header: the last
    source of run metadata, after the manifest, the inbox path and the report itself."""
    try:
        info = spec.open(path).info  # the header is read on open; spans are not touched
    except FormatError:
        return RunMetadata()
    p = info.properties
    return RunMetadata(
        project=p.get("project"),
        branch=p.get("branch"),
        commit=p.get("commit"),
        build=p.get("build"),
        ci_url=p.get("ci_url"),
        started_at=info.started_at,
        source="ci",
    )
