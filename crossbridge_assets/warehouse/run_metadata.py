"""Run metadata (project, branch, commit, build, shard...) for a report, from, in order:
a `crossbridge.json` manifest in the drop folder (or a folder above it inside the inbox),
the inbox path convention `inbox/<project>/<branch>/<build>/…`, the report itself,
and CI environment variables captured by the hooks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats._common import parse_timestamp, parse_zone, to_int, using_report_zone
from crossbridge_assets.formats._paths import check_source_prefix
from crossbridge_assets.model import branch_name
from crossbridge_assets.settings import SettingsError, parse_source_roots

MANIFEST_NAME = "crossbridge.json"
DEFAULT_PROJECT = "default"
DEFAULT_BRANCH = "default"
MANIFEST_FIELDS = ("project", "branch", "commit", "build", "shard", "shards_expected", "started_at", "ci_url", "timezone")
# Manifest keys that are not run metadata: per-file entries, and the checkout folders to strip
# from the drop's coverage paths (its runner's, when the CROSSBRIDGE_COVERAGE_SOURCE_ROOTS of the
# server cannot know them).
MANIFEST_EXTRAS = ("files", "source_roots", "source_prefix")
# What a 32-bit column holds: PostgreSQL refused more (integer out of range) and failed the batch.
MAX_SHARDS = 2**31 - 1


class ManifestError(ValueError):
    def __init__(self, path: Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class RunMetadata:
    project: str | None = None
    branch: str | None = None
    commit: str | None = None
    build: str | None = None
    shard: str | None = None
    shards_expected: int | None = None
    started_at: datetime | None = None
    ci_url: str | None = None
    # The zone of the times the drop's reports write without one (see formats._common).
    timezone: str | None = None
    source: str = "none"  # where the project/branch came from: manifest | path | report | ci | none

    def fill_from(self, other: "RunMetadata") -> "RunMetadata":
        """Keep what is set, take the rest from a lower-priority source. Branches are taken by
        their one name (model.branch_name): a detached HEAD names none, and the next source may."""
        self.branch = branch_name(self.branch)
        if other.branch is not None and branch_name(other.branch) != other.branch:
            other = replace(other, branch=branch_name(other.branch))
        for f in fields(self):
            if f.name == "source":
                continue
            if getattr(self, f.name) is None and getattr(other, f.name) is not None:
                setattr(self, f.name, getattr(other, f.name))
                if f.name == "project" and self.source == "none":
                    self.source = other.source
        if self.source == "none" and other.source != "none" and (other.branch or other.build):
            self.source = other.source
        return self

    @property
    def zone(self):
        """The tzinfo of `timezone` (None when the drop did not say, or says what no longer reads)."""
        return parse_zone(self.timezone) if self.timezone else None

    @property
    def project_or_default(self) -> str:
        return self.project or DEFAULT_PROJECT

    @property
    def branch_or_default(self) -> str:
        # Also for metadata archived before branches were given one name (a backfill reads it).
        return branch_name(self.branch) or DEFAULT_BRANCH

    def run_id(self, report_sha256: str) -> str:
        """Reports of one CI build (its shards, its formats) share a run; a report with neither
        build nor commit is a run of its own."""
        if self.build or self.commit:
            key = "\x1f".join((self.project_or_default, self.branch_or_default, self.build or "", self.commit or ""))
        else:
            key = "report\x1f" + report_sha256
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat() if self.started_at else None
        return d

    @classmethod
    def from_json(cls, data: dict) -> "RunMetadata":
        known = {f.name for f in fields(cls)}
        m = cls(**{k: v for k, v in data.items() if k in known})
        m.started_at = parse_timestamp(data.get("started_at"))
        return m


def read_manifest(path: Path) -> RunMetadata:
    from crossbridge_assets.warehouse.engine import INDEX_TEXT_BYTES, beyond_index  # here: `crossbridge parse` loads no SQLAlchemy

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, f"cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(path, f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError:
        raise ManifestError(path, "is nested too deep to be a manifest") from None
    if not isinstance(data, dict):
        raise ManifestError(path, "must be a JSON object with keys " + ", ".join(MANIFEST_FIELDS))
    unknown = sorted(set(data) - set(MANIFEST_FIELDS) - set(MANIFEST_EXTRAS))
    if unknown:
        raise ManifestError(path, f"has unknown keys {unknown}; expected {', '.join(MANIFEST_FIELDS + MANIFEST_EXTRAS)}")
    files = data.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise ManifestError(path, 'files must map a file name to an object, e.g. {"cov-test_a.xml": {"test": "tests/test_a.py::test_a"}}')
    prefixes = [("source_prefix", data["source_prefix"])] if "source_prefix" in data else []
    prefixes += [(f"files[{name!r}].source_prefix", entry["source_prefix"])
                 for name, entry in files.items() if "source_prefix" in entry]
    for key, value in prefixes:
        try:
            check_source_prefix(value)
        except ValueError as exc:
            raise ManifestError(path, f"{key} {exc}") from None
    roots = data.get("source_roots")
    if roots is not None:
        if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
            raise ManifestError(path, 'source_roots must be a list of folders, e.g. ["/srv/runners/*/work/shop/shop"]')
        try:
            parse_source_roots(roots, "source_roots")
        except SettingsError as exc:
            raise ManifestError(path, str(exc)) from None
    m = RunMetadata(source="manifest")
    for key in ("project", "branch", "commit", "build", "shard", "ci_url"):
        if data.get(key) is not None:
            setattr(m, key, str(data[key]))
    for key in ("project", "branch"):  # runs are indexed by both: PostgreSQL would refuse the run
        size = beyond_index(getattr(m, key))
        if size is not None:
            raise ManifestError(path, f"{key}={getattr(m, key)[:60]!r}… is {size} bytes long; "
                                      f"at most {INDEX_TEXT_BYTES} bytes are stored")
    if data.get("shards_expected") is not None:
        m.shards_expected = to_int(data["shards_expected"])
        if m.shards_expected is None or not 1 <= m.shards_expected <= MAX_SHARDS:
            raise ManifestError(path, f"shards_expected={data['shards_expected']!r} must be a positive whole number "
                                      f"of at most {MAX_SHARDS}")
    if data.get("timezone") is not None:
        if parse_zone(data["timezone"]) is None:
            raise ManifestError(path, f"timezone={data['timezone']!r} is not a time zone; expected a name such as "
                                      '"Europe/Berlin" or "America/New_York", or an offset such as "+05:30"')
        m.timezone = data["timezone"].strip()
    if data.get("started_at") is not None:
        with using_report_zone(parse_zone(m.timezone)):
            m.started_at = parse_timestamp(data["started_at"])
        if m.started_at is None:
            raise ManifestError(path, f"started_at={data['started_at']!r} is not an ISO 8601 time")
    return m


def manifest_entry(report: Path, inbox: Path) -> dict:
    """What the drop's manifest says about this one file under "files" (by its path relative to
    the manifest's folder, or its bare name): e.g. the test a per-test coverage report is for."""
    manifest = find_manifest(report, inbox)
    if manifest is None:
        return {}
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    try:
        relative = report.resolve().relative_to(manifest.parent.resolve()).as_posix()
    except ValueError:
        relative = report.name
    entry = files.get(relative) or files.get(report.name) or {}
    return entry if isinstance(entry, dict) else {}


def drop_of(report: Path, inbox: Path) -> dict:
    """What a report's drop says beyond run metadata, for the archive sidecar: `drop`, the
    folder of its manifest (else its own folder) relative to the inbox, which tells one upload
    from another when shards carry no label; and the `source_roots` of its manifests, if any."""
    manifests = list(manifests_of(report, inbox))
    folder = (manifests[0] if manifests else report).parent
    try:
        drop = folder.resolve().relative_to(inbox.resolve()).as_posix()
    except ValueError:
        drop = folder.as_posix()
    out: dict = {"drop": drop}
    roots: list[str] = []
    for manifest in manifests:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            found = parse_source_roots(data.get("source_roots") or ())
            if "source_prefix" not in out and data.get("source_prefix"):  # the nearest manifest's
                out["source_prefix"] = check_source_prefix(data["source_prefix"])
        except (OSError, ValueError, AttributeError):  # read_manifest checked it when the report was resolved
            found = ()
        roots += [r for r in found if r not in roots]
    if roots:
        out["source_roots"] = roots
    return out


def find_manifest(report: Path, inbox: Path) -> Path | None:
    """The nearest crossbridge.json from the report's folder up to the inbox root."""
    return next(manifests_of(report, inbox), None)


def manifests_of(report: Path, inbox: Path) -> Iterator[Path]:
    """Every crossbridge.json from the report's folder up to the inbox root, nearest first."""
    folder = report.parent
    inbox = inbox.resolve()
    while True:
        candidate = folder / MANIFEST_NAME
        if candidate.is_file():
            yield candidate
        if folder.resolve() == inbox or folder.parent == folder:
            return
        folder = folder.parent


def file_name_text(name: str) -> str:
    """A file or folder name as text to store and show: a name that is not UTF-8 (unzipped from
    a zip made on Windows, copied from a Latin-1 share) keeps its other bytes visible as '\\xe9'."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def from_inbox_path(relative: Path) -> RunMetadata:
    """inbox/<project>/<branch...>/<build>/<file>: branch may itself contain slashes."""
    parts = tuple(map(file_name_text, relative.parts[:-1]))
    if len(parts) >= 3:
        return RunMetadata(project=parts[0], branch="/".join(parts[1:-1]), build=parts[-1], source="path")
    if len(parts) == 2:
        return RunMetadata(project=parts[0], branch=parts[1], source="path")
    if len(parts) == 1:
        return RunMetadata(project=parts[0], source="path")
    return RunMetadata()


def resolve(report: Path, inbox: Path, report_meta: RunMetadata | None = None, ci_meta: RunMetadata | None = None) -> RunMetadata:
    """Merge every source in priority order. Raises ManifestError for a broken manifest."""
    meta = None
    # A manifest names what it knows (a shard's folder: its shard) and the manifests above it
    # the rest (the upload's: project, branch, build), the nearest first.
    for manifest in manifests_of(report, inbox):
        found = read_manifest(manifest)
        meta = found if meta is None else meta.fill_from(found)
    meta = meta or RunMetadata()
    try:
        relative = report.resolve().relative_to(inbox.resolve())
    except ValueError:
        relative = Path(report.name)
    meta.fill_from(from_inbox_path(relative))
    if report_meta:
        meta.fill_from(report_meta)
    if ci_meta:
        meta.fill_from(ci_meta)
    return meta
