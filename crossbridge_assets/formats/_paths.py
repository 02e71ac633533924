"""One spelling of a source path, whatever tool, OS or CI runner wrote the report.

Shards of one run (and different formats of the same code) only merge when they name a file
the same way: 'C:\\a\\app\\app\\src\\x.py', '/home/runner/work/app/app/src/x.py' and 'src/x.py'
must all become 'src/x.py'.
"""

from __future__ import annotations

import posixpath
import re
from typing import Iterable

# Checkout folders of the common CI services; everything up to and including the folder goes.
# Ordered most specific first; each is tried against the '/'-separated path.
CI_WORKSPACE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE if p.startswith("^[a-z]:") else 0)
    for p in (
        r"^/home/runner/work/[^/]+/[^/]+/",  # GitHub Actions, Linux
        r"^/Users/runner/work/[^/]+/[^/]+/",  # GitHub Actions, macOS
        r"^/__w/[^/]+/[^/]+/",  # GitHub Actions, container jobs
        r"^/github/workspace/",  # GitHub Actions, Docker actions
        r"^/home/vsts/work/\d+/s/",  # Azure Pipelines, Linux
        r"^[a-z]:/a/\d+/s/",  # Azure Pipelines, Windows
        r"^[a-z]:/a/[^/]+/[^/]+/",  # GitHub Actions, Windows (D:\a\<repo>\<repo>\)
        r"^/builds/[^/]+/[^/]+/",  # GitLab CI (/builds/<group>/<project>/)
        r"^/var/lib/jenkins/workspace/[^/]+/",  # Jenkins
        r"^/var/jenkins_home/workspace/[^/]+/",  # Jenkins in Docker
        r"^/home/jenkins/agent/workspace/[^/]+/",  # Jenkins Kubernetes agents
        r"^/home/circleci/(?:project|repo)/",  # CircleCI
        r"^/home/travis/build/[^/]+/[^/]+/",  # Travis CI
        r"^/opt/atlassian/pipelines/agent/build/",  # Bitbucket Pipelines
        r"^/drone/src/",  # Drone / Woodpecker
    )
)

_DRIVE = re.compile(r"^[A-Za-z]:/")
# Source-map URLs that bundlers leave in JavaScript coverage ('webpack://app/./src/x.ts').
_BUNDLER_URL = re.compile(r"^(?:webpack|vite|rollup)://[^/]*/")


def _slashes(path: str) -> str:
    p = path.strip().replace("\\", "/")
    if p.startswith("file://"):
        p = p[len("file://") :]
        if _DRIVE.match(p[1:]):  # file:///C:/x
            p = p[1:]
    else:
        p = _BUNDLER_URL.sub("", p)
    return p


def _clean(path: str) -> str:
    """Collapse '//', './' and 'a/../' without touching the file system."""
    if not path:
        return path
    absolute = path.startswith("/")
    cleaned = posixpath.normpath(path)
    if cleaned == ".":
        return ""
    if not absolute:
        # A relative path must not climb out of the workspace just because it was written '../x'.
        while cleaned.startswith("../"):
            cleaned = cleaned[3:]
    return cleaned.lstrip("/") if not absolute else cleaned


def _strip(path: str, prefix: str) -> str | None:
    """path without prefix when prefix is a whole-segment prefix of it (case-insensitive for drives)."""
    prefix = _slashes(prefix).rstrip("/")
    if not prefix:
        return None
    fold = bool(_DRIVE.match(prefix + "/"))
    a, b = (path.lower(), prefix.lower()) if fold else (path, prefix)
    if a == b:
        return ""
    if a.startswith(b + "/"):
        return path[len(prefix) + 1 :]
    return None


def normalize_source_path(
    path: str,
    source_roots: Iterable[str] = (),
    strip_prefixes: Iterable[str] = (),
) -> str:
    """Normalize a source path as written in a coverage report.

    - '\\' becomes '/', 'file://' goes, '.'/'..' segments and doubled slashes collapse;
    - configured `source_roots` (checkout folders, site-packages, ...) are stripped, longest
      first; then configured `strip_prefixes`; then, if neither matched, the checkout folder
      of a known CI service (GitHub, GitLab, Jenkins, Azure, CircleCI, Travis, Bitbucket, ...);
    - a path that matches nothing stays as written (absolute paths stay absolute).
    Pure: never looks at the file system.
    """
    p = _slashes(path)
    if not p:
        return p
    p = _clean(p) if not _DRIVE.match(p) else p[:3] + _clean(p[3:])
    for prefix in sorted((*source_roots, *strip_prefixes), key=lambda r: len(_slashes(r)), reverse=True):
        rest = _strip(p, prefix)
        if rest is not None:
            return _clean(rest)
    for pattern in CI_WORKSPACE_PATTERNS:
        m = pattern.match(p)
        if m:
            return _clean(p[m.end() :])
    return p


def is_absolute(path: str) -> bool:
    """'/x' or 'C:/x' (after normalization): a path outside any known workspace."""
    return path.startswith("/") or bool(_DRIVE.match(path))


def join_source(source: str, filename: str) -> str:
    """A report's source folder joined with a file name relative to it ('\\' tolerated)."""
    s, f = _slashes(source), _slashes(filename)
    if not s or f.startswith("/") or _DRIVE.match(f):
        return f
    return s.rstrip("/") + "/" + f
