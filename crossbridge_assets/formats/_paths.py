"""One spelling of a source path, whatever tool, OS or CI runner wrote the report.

Shards of one run (and different formats of the same code) only merge when they name a file
the same way: 'C:\\a\\app\\app\\src\\x.py', '/home/runner/work/app/app/src/x.py' and 'src/x.py'
must all become 'src/x.py'.
"""

from __future__ import annotations

import posixpath
import re
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Iterable, Iterator

# Checkout folders of the common CI services; everything up to and including the folder goes.
# Ordered most specific first; each is tried against the '/'-separated path. Layouts that cannot
# be told apart from a path alone are left to configured source roots: GitLab subgroups
# (/builds/group/sub/app/ looks like project 'sub' with a folder 'app') and Jenkins jobs inside
# folders (workspace/<folder>/<job>/).
CI_WORKSPACE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE if p.startswith("^[a-z]:") else 0)
    for p in (
        r"^/home/runner/work/[^/]+/[^/]+/",  # GitHub Actions, Linux
        r"^/Users/runner/work/[^/]+/[^/]+/",  # GitHub Actions, macOS
        r"^/__w/[^/]+/[^/]+/",  # GitHub Actions, container jobs
        r"^/github/workspace/",  # GitHub Actions, Docker actions
        r"^/home/vsts/work/\d+/s/",  # Azure Pipelines, Linux
        r"^[a-z]:/a/\d+/s/",  # Azure Pipelines, Windows
        # Azure Pipelines self-hosted and scale-set agents: <agent>/_work/<n>/s/ (C:\agent\_work\1\s\,
        # /azp/agent/_work/1/s/, D:\a\_work\1\s\), before GitHub's D:\a\<repo>\<repo>\ takes '_work/1'.
        r"^/(?:[^/]+/)*?_work/\d+/s/",
        r"^[a-z]:/(?:[^/]+/)*?_work/\d+/s/",
        r"^[a-z]:/a/[^/]+/[^/]+/",  # GitHub Actions, Windows (D:\a\<repo>\<repo>\)
        # GitHub self-hosted runners and actions-runner-controller: <runner>/_work/<repo>/<repo>/.
        # The repeated name keeps the runner's own folders (_work/_temp, _work/_tool) and
        # unrelated '_work' folders out.
        r"^/(?:[^/]+/)*?_work/((?!_)[^/]+)/\1/",
        r"^[a-z]:/(?:[^/]+/)*?_work/((?!_)[^/]+)/\1/",
        # GitLab shell executor: builds/<runner token>/<concurrency id>/<group>/<project>/.
        r"^/home/gitlab-runner/builds/[^/]+/\d+/[^/]+/[^/]+/",
        r"^[a-z]:/(?:[^/]+/)*?gitlab-runner/builds/[^/]+/\d+/[^/]+/[^/]+/",
        r"^/builds/[^/]+/[^/]+/",  # GitLab CI, Docker/Kubernetes (/builds/<group>/<project>/)
        r"^/var/lib/jenkins/workspace/[^/]+/",  # Jenkins
        r"^/var/jenkins_home/workspace/[^/]+/",  # Jenkins in Docker
        r"^/home/jenkins/agent/workspace/[^/]+/",  # Jenkins Kubernetes agents
        r"^/home/jenkins/workspace/[^/]+/",  # Jenkins SSH agents
        # Jenkins on Windows: C:\ProgramData\Jenkins\.jenkins\workspace\<job>\, C:\Jenkins\workspace\<job>\,
        # C:\jenkins\agent\workspace\<job>\ (a folder named after Jenkins holds the workspaces).
        r"^[a-z]:/(?:[^/]+/)*?[^/]*jenkins[^/]*/(?:agent/)?workspace/[^/]+/",
        # TeamCity: <agent>/work/<checkout hash>/ (C:\BuildAgent\work\5135de308b2f3016\, the Docker
        # agent's /opt/buildagent/work/...); the hash keeps the agent's other work/ folders out.
        r"^/(?:[^/]+/)*?(?i:buildagent)/work/[0-9a-fA-F]{8,16}/",
        r"^[a-z]:/(?:[^/]+/)*?buildagent/work/[0-9a-f]{8,16}/",
        r"^/home/circleci/(?:project|repo)/",  # CircleCI
        r"^/home/travis/build/[^/]+/[^/]+/",  # Travis CI
        r"^/opt/atlassian/pipelines/agent/build/",  # Bitbucket Pipelines
        r"^/drone/src/",  # Drone / Woodpecker
        # Buildkite: <agent home>/builds/<agent name>/<organization>/<pipeline>/ (Linux packages:
        # /var/lib/buildkite-agent, Homebrew: .../var/buildkite-agent, Docker: /buildkite, Windows).
        r"^/(?:[^/]+/)*?buildkite(?:-agent)?/builds/[^/]+/[^/]+/[^/]+/",
        r"^[a-z]:/(?:[^/]+/)*?buildkite(?:-agent)?/builds/[^/]+/[^/]+/[^/]+/",
    )
)

_DRIVE = re.compile(r"^[A-Za-z]:/")
# Source-map URLs that bundlers leave in JavaScript coverage ('webpack://app/./src/x.ts').
_BUNDLER_URL = re.compile(r"^(?:webpack|vite|rollup)://[^/]*/")
_WILDCARDS = re.compile(r"[*?]")


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


def _tidy(path: str) -> str:
    """_clean, keeping a drive's 'C:/'."""
    return _clean(path) if not _DRIVE.match(path) else path[:3] + _clean(path[3:])


class SourceRoot:
    """A configured folder to strip from source paths: a whole-segment prefix, where '*'
    stands for any part of one folder name and '?' for one character (so
    '/srv/runners/*/work/shop/shop' covers every runner). Case-insensitive for drive paths and
    network shares ('\\\\server\\share'), as Windows reads them."""

    __slots__ = ("_fold", "_pattern", "_plain", "text")

    def __init__(self, text: str):
        self.text = _tidy(_slashes(text)).rstrip("/")
        self._fold = bool(_DRIVE.match(self.text + "/")) or self.text.startswith("//")
        self._plain = self.text.lower() if self._fold else self.text
        self._pattern = None
        if _WILDCARDS.search(self.text):
            body = "".join(
                "[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch) for ch in self.text
            )
            self._pattern = re.compile(f"^{body}(?=/|$)", re.IGNORECASE if self._fold else 0)

    def rest_of(self, path: str) -> str | None:
        """`path` without this root, or None when the root is not a whole-segment prefix of it."""
        if not self.text:
            return None
        if self._pattern is not None:
            m = self._pattern.match(path)
            return None if m is None else path[m.end() + 1 :]
        a = path.lower() if self._fold else path
        if a == self._plain:
            return ""
        if a.startswith(self._plain + "/"):
            return path[len(self.text) + 1 :]
        return None


@lru_cache(maxsize=256)
def _root(text: str) -> SourceRoot:
    return SourceRoot(text)


# Roots in effect for the parsing done inside `using_source_roots(...)`. Formats are opened
# through a registry that takes a path only, so the roots of a drop reach every parser's path
# handling (Cobertura's <source> joining included) through this scope, not through each parser.
_SCOPED: ContextVar[tuple[SourceRoot, ...]] = ContextVar("crossbridge_source_roots", default=())


@contextmanager
def using_source_roots(roots: Iterable[str]) -> Iterator[None]:
    """Within the block, normalize_source_path also strips `roots` (added to any outer ones).
    Streams are lazy: iterate them inside the block, not only open them there."""
    token = _SCOPED.set(_SCOPED.get() + tuple(_root(r) for r in roots if r and r.strip()))
    try:
        yield
    finally:
        _SCOPED.reset(token)


# The folder, inside the repository, that the relative paths of the report being parsed are
# relative to (a package of a monorepo whose tools ran in it): see using_source_prefix.
_PREFIX: ContextVar[str] = ContextVar("crossbridge_source_prefix", default="")


def check_source_prefix(text: object) -> str:
    """A `source_prefix` as given in a manifest or on the command line, tidied ('packages\\a/'
    is 'packages/a'); ValueError saying why when it names no folder inside the repository."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("must name a folder inside the repository, e.g. \"packages/web\"")
    raw = _slashes(text)
    if is_absolute(raw) or raw.startswith("/"):
        raise ValueError(f"{text!r} is absolute; give the folder relative to the repository's root, e.g. \"packages/web\"")
    cleaned = posixpath.normpath(raw)
    if cleaned in (".", "") or cleaned == ".." or cleaned.startswith("../"):
        raise ValueError(f"{text!r} names no folder inside the repository")
    return cleaned


@contextmanager
def using_source_prefix(prefix: str | None) -> Iterator[None]:
    """Within the block, a source path the report writes relative (its tool ran in a package's
    folder: Jest's LCOV names 'src/util.js' for packages/a/src/util.js) is read under `prefix`
    first; paths written absolute are placed by the checkout folders as always."""
    token = _PREFIX.set(prefix or "")
    try:
        yield
    finally:
        _PREFIX.reset(token)


def normalize_source_path(
    path: str,
    source_roots: Iterable[str] = (),
    strip_prefixes: Iterable[str] = (),
) -> str:
    """Normalize a source path as written in a coverage report.

    - '\\' becomes '/', 'file://' goes, '.'/'..' segments and doubled slashes collapse;
    - configured `source_roots` (checkout folders, site-packages, ...), `strip_prefixes` and
      the roots of an enclosing `using_source_roots(...)` block are stripped, the longest match
      winning; then, if none matched, the checkout folder of a known CI service (GitHub hosted
      and self-hosted, GitLab, Jenkins, Azure, CircleCI, Travis, Bitbucket, Buildkite, ...);
    - a path that matches nothing stays as written (absolute paths stay absolute).
    Never looks at the file system.
    """
    p = _slashes(path)
    if not p:
        return p
    prefix = _PREFIX.get()
    if prefix and not (p.startswith("/") or _DRIVE.match(p)) and not (p + "/").startswith(prefix + "/"):
        # Relative to the package's folder; '../shared/x.js' climbs to a sibling package. (A
        # path already under the prefix was placed by an earlier pass.)
        p = posixpath.normpath(prefix + "/" + p)
    p = _tidy(p)
    best: str | None = None
    for root in (*_SCOPED.get(), *map(_root, source_roots), *map(_root, strip_prefixes)):
        rest = root.rest_of(p)
        if rest is not None and (best is None or len(rest) < len(best)):
            best = rest
    if best is not None:
        return _clean(best)
    if p.startswith("/") or _DRIVE.match(p):  # every CI checkout folder is absolute
        for pattern in CI_WORKSPACE_PATTERNS:
            m = pattern.match(p)
            if m:
                return _clean(p[m.end() :])
    return p


_WINDOWS = re.compile(r"^(?:file:///?)?[A-Za-z]:[\\/]|\\")


def is_windows_path(raw: str) -> bool:
    """A path as a Windows tool wrote it ('C:\\x', 'src\\x.js', 'file:///C:/x'): one whose
    case does not tell files apart."""
    return bool(_WINDOWS.search(raw))


def is_absolute(path: str) -> bool:
    """'/x' or 'C:/x' (after normalization): a path outside any known workspace."""
    return path.startswith("/") or bool(_DRIVE.match(path))


def join_source(source: str, filename: str) -> str:
    """A report's source folder joined with a file name relative to it ('\\' tolerated)."""
    s, f = _slashes(source), _slashes(filename)
    if not s or f.startswith("/") or _DRIVE.match(f):
        return f
    return s.rstrip("/") + "/" + f


# Where JVM builds keep sources: Maven's and Gradle's src/<source set>/<language>/ (main, test,
# integrationTest, androidTest, Kotlin Multiplatform's commonMain, ...), in any module.
_JVM_SOURCE_ROOT = re.compile(r"(?:^|/)src/[^/]+/(?:java|kotlin|scala|groovy)/")


def package_path_owners(paths: Iterable[str], packages: Iterable[str]) -> dict[str, str]:
    """JaCoCo names a file from its package (com/ex/A.java): it does not know the source folder.
    Those of `packages` (the paths only JaCoCo gave) that another of `paths` names under a JVM
    source folder (src/main/java/com/ex/A.java, app/src/main/kotlin/com/ex/A.kt), each with that
    path, so that the two spellings of one file become one. A package path found under the
    source folders of several modules is left alone: nothing tells which module it is. (A
    configured source root such as 'src/main/java' makes the two spellings equal to begin with.)"""
    packages = set(packages)
    owners: dict[str, list[str]] = {}
    if not packages:
        return {}
    for path in paths:
        if "src/" not in path:
            continue
        last = None
        for last in _JVM_SOURCE_ROOT.finditer(path):
            pass
        if last is not None and path[last.end() :] in packages:
            owners.setdefault(path[last.end() :], []).append(path)
    return {package: found[0] for package, found in owners.items() if len(found) == 1}


class PathsByName(dict):
    """Relative paths by their file name: source_folder_prefix's `known`, built once when one
    run's many reports are each matched against the same paths."""

    def __init__(self, paths: Iterable[str] = ()):
        super().__init__()
        for path in paths:
            if not is_absolute(path):
                self.setdefault(path.rsplit("/", 1)[-1], set()).add(path)


def source_folder_prefix(paths: Iterable[str], known: Iterable[str]) -> str | None:
    """The folder, inside the repository, that a report names its files from when it is not the
    repository's root, found from the paths `known` to the run's other reports: coverage.py's XML
    names each file from its <source> (`--cov=src`: <source>/app/src</source>, 'pkg/mod.py'),
    and where nothing places that folder (no CI checkout, no configured source root) the names
    stay relative to it, while the LCOV and JSON of the same code name 'src/pkg/mod.py' from the
    working directory. The one prefix ('src/') under which the other reports give each of the
    report's files they give at all, and most of them; None when they give one of its paths as it
    is, or under different folders (nothing tells which), or few of them (a top-level
    conftest.py only one shard measured is no sign that the others name tests/conftest.py).
    (`known` as PathsByName: only the paths of the same file name are looked at, so that many
    small reports against a big one take time in proportion to their own size.)"""
    paths = {p for p in paths if not is_absolute(p)}
    by_name = known if isinstance(known, PathsByName) else PathsByName(known)
    if not paths or not by_name:
        return None
    found: set[str] = set()
    matched: set[str] = set()
    for path in paths:
        for other in by_name.get(path.rsplit("/", 1)[-1], ()):
            if other == path:
                return None
            if other.endswith(path) and other[-len(path) - 1] == "/":
                found.add(other[: -len(path)])
                matched.add(path)
                if len(found) > 1:
                    return None
    return found.pop() if found and 2 * len(matched) > len(paths) else None
