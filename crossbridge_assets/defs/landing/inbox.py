"""Planning ingestion batches from the inbox: cheap (scandir and stat, never parses).

A file is ready when two scans saw the same size and mtime and it has not changed for
`settle_seconds` (by its mtime, or by the scans when its mtime is ahead of the clock) — a writer
that is still copying changes one or the other; an empty file, for `stale_part_seconds`. State
is kept per file, not as an mtime high-water mark, so files sharing one mtime are never skipped.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

from crossbridge_assets.settings import Settings
from crossbridge_assets.warehouse.landing import mtime_utc
from crossbridge_assets.warehouse.run_metadata import MANIFEST_NAME

# Files a writer is still producing, by convention (hooks write *.part and rename at the end).
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".swp", ".lock")
# A requested batch whose files are still in the inbox after this long is asked for again
# (its run failed or was deleted), unless its run is still queued or running; the attempt
# number changes the run key. Each further attempt waits twice as long as the one before, up to
# RETRY_AT_MOST_SECONDS: a file that cannot land (unreadable by the service, larger than it may
# write) used to start a run every half hour for as long as it stayed, 48 a day, for months.
# A file whose permissions, owner or content change is asked for at the next tick.
RETRY_AFTER_SECONDS = 30 * 60
RETRY_AT_MOST_SECONDS = 6 * 3600


def doubling_wait(first: float, most: float, tries: int) -> float:
    """`first` seconds, doubled for each of `tries` earlier tries, at most `most`: how long a
    retry waits while the same fault lasts (the inbox's batches, the reload of failed loads)."""
    return min(first * 2 ** min(max(tries, 0), 16), most)


def retry_after(attempt: int) -> float:
    """Seconds a batch asked for as attempt `attempt` (0: its first request) waits before it is
    asked for again."""
    return doubling_wait(RETRY_AFTER_SECONDS, RETRY_AT_MOST_SECONDS, attempt)


@dataclass
class Batch:
    partition: str
    files: list[str]  # relative to the inbox, POSIX separators
    run_key: str

    def run_config(self) -> dict:
        return {"ops": {"landed_reports": {"config": {"files": self.files, "batch": self.run_key}}}}

    @property
    def tags(self) -> dict[str, str]:
        return {"crossbridge/batch": self.run_key, "crossbridge/files": str(len(self.files))}


@dataclass
class Plan:
    batches: list[Batch] = field(default_factory=list)
    waiting: int = 0  # files seen but not settled yet
    cursor: dict = field(default_factory=dict)
    requested: int = 0  # files of batches asked for before, whose runs have not taken them yet


def _is_coverage_data(name: str) -> bool:
    """coverage.py's data files are hidden by name (.coverage, .coverage.<host>.<pid>.<n>) but are
    reports all the same; other dot-files and dot-folders (staging, editors) are not."""
    return name == ".coverage" or (name.startswith(".coverage.") and not name.endswith(IGNORED_SUFFIXES))


def scan(inbox: Path, partials: dict[str, tuple[int, int, int]] | None = None) -> dict[str, tuple[int, int, int]]:
    """relative path -> (size, mtime_ns, ctime_ns) of every candidate report under the inbox.
    Files still being written (IGNORED_SUFFIXES) go to `partials` when it is given."""
    found: dict[str, tuple[int, int, int]] = {}
    if not inbox.is_dir():
        return found
    stack = [inbox]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and not _is_coverage_data(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.name == MANIFEST_NAME:
                continue
            partial = entry.name.endswith(IGNORED_SUFFIXES)
            if partial and partials is None:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # landed (or removed) since the folder was listed
            rel = Path(entry.path).relative_to(inbox).as_posix()
            (partials if partial else found)[rel] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return found


def arrival_partition(mtime_ns: int, settings: Settings, today: date | None = None) -> str:
    """The arrival day of a file (its mtime in UTC), clamped to the partition range."""
    day = mtime_utc(mtime_ns).date()
    start = date.fromisoformat(settings.partition_start)
    today = today or datetime.now(timezone.utc).date()
    return min(max(day, start), today).isoformat()


def fingerprint(files: list[tuple[str, int, int]], attempt: int = 0) -> str:
    digest = hashlib.sha256()
    for rel, size, mtime in sorted(files):
        # surrogateescape: a name that is not UTF-8 (unzipped from a Windows zip) is its bytes.
        digest.update(f"{rel}\x1f{size}\x1f{mtime}\n".encode("utf-8", "surrogateescape"))
    if attempt:
        digest.update(f"attempt {attempt}".encode())
    return digest.hexdigest()[:32]


def plan(settings: Settings, cursor: dict | None, now: float | None = None,
         running: Callable[[set[str]], set[str]] | None = None) -> Plan:
    """Decide which files are ready and group them into batches (one per day, at most
    settings.max_batch files each). Pure apart from reading the inbox and asking `running`
    which of the overdue batches (by run key) still have a run queued or in progress."""
    now = time.time() if now is None else now
    cursor = cursor or {}
    pending: dict[str, list] = cursor.get("pending", {})
    # rel -> [size, mtime, asked at, attempt, run key, ctime] (cursors written before keep no
    # key or ctime)
    requested: dict[str, list] = cursor.get("requested", {})
    seen = scan(settings.inbox)

    def due(asked: list, ctime: int | None) -> bool:
        attempt = int(asked[3]) if len(asked) > 3 else 0
        touched = len(asked) > 5 and ctime is not None and ctime != asked[5]
        return touched or now - asked[2] >= retry_after(attempt)

    overdue = {asked[4] for rel, asked in requested.items()
               if len(asked) > 4 and due(asked, seen[rel][2] if rel in seen else None)}
    busy = running(overdue) if running is not None and overdue else set()

    ready: dict[str, list[tuple[str, int, int, int, int]]] = {}
    new_pending: dict[str, list] = {}
    new_requested: dict[str, list] = {}
    waiting = 0
    for rel, (size, mtime, ctime) in seen.items():
        asked = requested.get(rel)
        attempt = 0
        if asked and asked[0] == size and asked[1] == mtime:
            if not due(asked, ctime) or (len(asked) > 4 and asked[4] in busy):
                new_requested[rel] = asked
                continue
            attempt = int(asked[3]) + 1 if len(asked) > 3 else 1
        before = pending.get(rel)
        # An empty file is most often one a writer has just made: `reporter > inbox/report.xml`
        # creates it when the tests start and fills it when they end. Taken now, it would be
        # quarantined and unlinked under its writer. It waits as a crashed session's file does.
        settle = settings.settle_seconds if size else max(settings.settle_seconds, settings.stale_part_seconds)
        unchanged = bool(before) and before[0] == size and before[1] == mtime
        # Unchanged since it was first seen so (pending keeps when): the proof for a file whose
        # mtime is in the future (an agent's clock ahead), where its mtime's age never comes.
        first_seen = before[2] if unchanged and len(before) > 2 else now
        settled = max(now - mtime / 1e9, now - first_seen) >= settle
        if (unchanged and settled) or attempt:
            ready.setdefault(arrival_partition(mtime, settings), []).append((rel, size, mtime, attempt, ctime))
        else:
            new_pending[rel] = [size, mtime, first_seen]
            waiting += 1

    batches = []
    for partition in sorted(ready):
        files = sorted(ready[partition])
        for start in range(0, len(files), settings.max_batch):
            chunk = files[start : start + settings.max_batch]
            attempt = max(f[3] for f in chunk)
            key = fingerprint([(f[0], f[1], f[2]) for f in chunk], attempt)
            batches.append(Batch(partition=partition, files=[f[0] for f in chunk], run_key=key))
            for rel, size, mtime, att, ctime in chunk:
                new_requested[rel] = [size, mtime, now, att, key, ctime]
    asked_before = len(new_requested) - sum(len(b.files) for b in batches)
    return Plan(batches=batches, waiting=waiting, cursor={"pending": new_pending, "requested": new_requested},
                requested=asked_before)


CRASHED_SESSION_SUFFIX = ".crashed.jsonl"


def recover_crashed_sessions(settings: Settings, now: float | None = None) -> list[str]:
    """An event file still named *.jsonl.part long after its last write belongs to a test
    session that died: rename it so it is ingested (its parser notes the missing end)."""
    now = time.time() if now is None else now
    partials: dict[str, tuple[int, int, int]] = {}
    scan(settings.inbox, partials)
    recovered = []
    for rel, (_size, mtime, _ctime) in partials.items():
        if not rel.endswith(".jsonl.part") or now - mtime / 1e9 < settings.stale_part_seconds:
            continue
        source = settings.inbox / rel
        target = source.with_name(source.name[: -len(".jsonl.part")] + CRASHED_SESSION_SUFFIX)
        try:
            source.rename(target)
        except OSError:
            continue  # the writer finished or removed it meanwhile
        recovered.append(target.relative_to(settings.inbox).as_posix())
    return recovered


def tidy(settings: Settings, folders: set[Path]) -> None:
    """Remove manifests and empty folders left behind once every report of a drop has landed.
    A manifest stays while any file remains beside or below it."""
    inbox = settings.inbox.resolve()
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        current = folder.resolve()
        while current != inbox and inbox in current.parents:
            try:
                names = [e.name for e in os.scandir(current)]
            except OSError:
                break
            if names == [MANIFEST_NAME]:
                (current / MANIFEST_NAME).unlink(missing_ok=True)
                names = []
            if names:
                break
            try:
                current.rmdir()
            except OSError:
                break
            current = current.parent
