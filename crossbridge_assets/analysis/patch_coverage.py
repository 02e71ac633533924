"""Patch coverage: how much of what a change adds or modifies is covered, with diff-cover's
semantics, so the two tools agree on the same diff and report.

- The change is the '+' side of `git diff -U0 <compare>...HEAD` (three dots: against the merge
  base), then the staged and the unstaged changes, applied in that order: a later diff's deleted
  lines leave the set, its added lines join it, and the lines kept move to where that diff puts
  them (diff-cover keeps their old numbers, so an uncommitted edit above a committed change
  shifts the change off its lines: diff-cover issue #135).
- Only lines the report measured count: a changed blank line, comment or docstring is not code.
  (diff-cover 11's LCOV reader also counts a function's declaration line that only FN names,
  with the function's hits, which the report's own line count leaves out and diff-cover's
  Cobertura reader of the same istanbul run does not count: not followed.)
- A measured line is covered when it ran (hits > 0); the percentage is covered over measured,
  100 when the change touches no measured line.
- So the report must list the statements that did not run: coverage.xml/json, LCOV and the
  other reports diff-cover reads do; a coverage.py data file (.coverage) holds only what ran,
  which would make every changed line that never ran "not code", and is refused by the CLI.
- A changed file finds its report file by the rules of match_files.

Pure, except `git_diffs`, `git_change` and `repo_root`, which run git, and match_files given a working tree,
which looks at its files.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

# The diff's reading is the format's (a change is also a report a run sends); the names stay
# importable from here, where the CLI and the impact analysis take them.
from crossbridge_assets.formats.git_diff import (  # noqa: F401
    DiffError,
    changed_lines,
    decode_diff,
    moved_files,
    parse_diff,
    touched_lines,
)
from crossbridge_assets.model import FileCoverage

DEFAULT_COMPARE = "origin/main"
# Personal git config must not change the diff's shape: prefixes other than a/ b/ (noprefix,
# mnemonicPrefix's c/ i/ w/, git 2.45's srcPrefix/dstPrefix) break the file names, `relative`
# makes them relative to a subfolder and drops the rest, colour and external tools replace the
# text. diff-cover neutralizes the prefixes, colour and external diff the same way; unknown keys
# (srcPrefix on an older git) are ignored by git. diff.renames is held at git's default (renames
# found, copies not): `copies` would count a copied file's lines as unchanged and `false` a
# renamed file's as new, so the same change would score differently on each machine
# (diff-cover follows the personal setting; on a default one it agrees with this).
GIT_DIFF = (
    "git",
    "-c", "diff.renames=true",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.srcPrefix=a/",
    "-c", "diff.dstPrefix=b/",
    "-c", "diff.relative=false",
    "diff", "--no-color", "--no-ext-diff", "-U0",
)


def _git(repo: Path, *args: str, warnings: list[str] | None = None) -> str:
    """One `git diff`. Only its exit status fails it, as in diff-cover: git also warns on
    stderr about a diff it produced all the same (core.autocrlf's "LF will be replaced by
    CRLF", a rename detection cut short by diff.renameLimit); those lines go to `warnings`."""
    try:
        done = subprocess.run([*GIT_DIFF, *args], cwd=repo, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise DiffError("git is not installed or not on PATH") from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        message = " ".join(stderr.split()) or f"git diff exited with {done.returncode}"
        if "unknown revision" in message or "bad revision" in message:
            message += "; name an existing branch or commit with --diff"
        elif "no merge base" in message and _rev_parse(repo, "--is-shallow-repository") == "true":
            # CI checkouts fetch one commit by default: the branches' common commit is missing.
            message += ("; this clone is shallow: fetch the history back to where the branches meet "
                        "(git fetch --unshallow, or a fetch depth of 0 in CI)")
        raise DiffError(message)
    for line in stderr.splitlines() if warnings is not None else ():
        if line.strip() and line.strip() not in warnings:
            warnings.append(line.strip())
    return decode_diff(done.stdout)


def _git_says(repo: Path | str, *args: str) -> str | None:
    """What `git ARGS` prints in `repo`; None when it fails (no repository, no git)."""
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=False)
    except OSError:
        return None
    out = os.fsdecode(done.stdout).strip()
    return out if done.returncode == 0 and out else None


def _rev_parse(repo: Path | str, *args: str) -> str | None:
    """What `git rev-parse ARGS` prints in `repo`; None when it fails (no repository, no git)."""
    return _git_says(repo, "rev-parse", *args)


def repo_root(repo: Path | str) -> Path | None:
    """The top folder of the git working tree holding `repo`; None when there is none (or no git)."""
    top = _rev_parse(repo, "--show-toplevel")
    return Path(top) if top else None


def head_commit(repo: Path | str) -> str | None:
    """The commit HEAD names in the git repository holding `repo`; None without one."""
    return _rev_parse(repo, "--verify", "-q", "HEAD")


def git_diffs(repo: Path | str, compare: str = DEFAULT_COMPARE, working_tree: bool = True,
              warnings: list[str] | None = None) -> list[str]:
    """The committed change against the merge base with `compare`, then (with `working_tree`)
    the staged and unstaged changes. What git warned about, once each, goes to `warnings`."""
    repo = Path(repo)
    diffs = [_git(repo, f"{compare}...HEAD", warnings=warnings)]
    if working_tree:
        diffs += [_git(repo, "--cached", warnings=warnings), _git(repo, warnings=warnings)]
    return diffs


def git_change(repo: Path | str, compare: str = DEFAULT_COMPARE, working_tree: bool = True,
               warnings: list[str] | None = None) -> str:
    """One diff from the merge base with `compare` to HEAD, or (with `working_tree`) to the
    files as they are (staged or not), with renames found: the whole change against the code
    a run of the base measured, for touched_lines."""
    repo = Path(repo)
    if not working_tree:
        return _git(repo, "-M", f"{compare}...HEAD", warnings=warnings)
    if _rev_parse(repo, "--verify", "-q", f"{compare}^{{commit}}") is None:
        _git(repo, f"{compare}...HEAD")  # says why, as the committed diff would
        raise DiffError(f"unknown revision {compare}; name an existing branch or commit with --diff")
    base = _git_says(repo, "merge-base", compare, "HEAD")
    if base is None:
        _git(repo, f"{compare}...HEAD")  # says why (a shallow clone: what to fetch), as the committed diff would
        raise DiffError(f"{compare} and HEAD have no merge base")
    return _git(repo, "-M", base, warnings=warnings)


# ---------------------------------------------------------------------------- coverage of the change


@dataclass
class FilePatch:
    path: str
    changed: list[int]
    measured: list[int] = field(default_factory=list)
    covered: list[int] = field(default_factory=list)
    uncovered: list[int] = field(default_factory=list)
    coverage_path: str | None = None  # the file as the report names it; None: not in the report
    ambiguous: list[str] = field(default_factory=list)  # report files that could each be it

    @property
    def percent(self) -> float | None:
        return round(100.0 * len(self.covered) / len(self.measured), 2) if self.measured else None


@dataclass
class PatchReport:
    compare: str
    files: list[FilePatch]

    @property
    def measured(self) -> int:
        return sum(len(f.measured) for f in self.files)

    @property
    def covered(self) -> int:
        return sum(len(f.covered) for f in self.files)

    @property
    def uncovered(self) -> int:
        return sum(len(f.uncovered) for f in self.files)

    @property
    def percent(self) -> float:
        return round(100.0 * self.covered / self.measured, 2) if self.measured else 100.0

    def below(self, percent: float) -> bool:
        """Whether the coverage is under `percent`, unrounded: 1 line missed in 30,000 shows
        as 100.00% but does not pass a threshold of 100."""
        return self.covered * 100 < percent * self.measured if self.measured else 100.0 < percent

    def as_dict(self) -> dict:
        return {
            "compare": self.compare,
            "files": {
                f.path: {
                    "changed": f.changed,
                    "measured": f.measured,
                    "covered": f.covered,
                    "uncovered": f.uncovered,
                    "percent": f.percent,
                    "in_report": f.coverage_path is not None,
                    "ambiguous": f.ambiguous,
                }
                for f in self.files
            },
            "measured_lines": self.measured,
            "covered_lines": self.covered,
            "uncovered_lines": self.uncovered,
            "percent": self.percent,
        }


# ---------------------------------------------------------------------------- changed file -> report file


class Match(NamedTuple):
    name: str | None  # the report's name for the changed file; None: not in the report
    ambiguous: tuple[str, ...] = ()  # report files that could each be it, when no one is


def match_files(paths: Iterable[str], names: Iterable[str], root: Path | str | None = None,
                base: str = "") -> dict[str, Match]:
    """Which file of a report each changed file is. Changed files are named from the top of
    the repository; a report names a file (after normalize_source_path) either the same way,
    or from a source folder inside the repository ('pkg/calc.py' for 'src/pkg/calc.py',
    JaCoCo's 'com/ex/A.java' for 'src/main/java/com/ex/A.java'), or by an absolute path of a
    checkout that normalization did not recognize. So a report name R is changed file D when:

    - R == D;
    - R is relative and D ends with '/' + R (R is relative to a folder inside the repository);
    - R is absolute and ends with '/' + D (R is in a checkout somewhere else).
    A relative R longer than D is never D: 'src/pkg/calc.py' is not a top-level 'calc.py'. An
    equal name wins; otherwise the one name that qualifies. When several do ('ops.py' and
    '/srv/ci/calc/ops.py': unmerged shards, or 'calc.py' and 'pkg/calc.py': two files), or a
    name would be two changed files, nothing tells which: the changed file is left unmatched,
    its candidates listed, rather than counted against a file picked at random.

    With `root` (the working tree), the files on disk settle what the text cannot: an absolute
    name is the repository file that is its longest suffix (so '/elsewhere/src/pkg/calc.py' is
    'src/pkg/calc.py', never a top-level 'calc.py'), and a relative name that is a file of the
    repository names that file only. `base`, a folder of the repository (where the command
    runs, as diff-cover reads a report's relative names from the current folder), is tried
    first: run in py/, a report's 'src/pkg/calc.py' is py/src/pkg/calc.py when there is one,
    not a top-level src/pkg/calc.py of another project."""
    paths = list(paths)
    changed = set(paths)
    wanted = {p.rsplit("/", 1)[-1] for p in paths}
    by_base: dict[str, list[str]] = {}
    for name in names:
        file_name = name.rsplit("/", 1)[-1]
        if file_name in wanted:
            by_base.setdefault(file_name, []).append(name)
    top = Path(root).as_posix().rstrip("/") if root is not None else None
    placed: dict[str, str | None] = {}  # name -> the repository file it is, when the disk tells

    def place(name: str) -> str | None:
        if top is None:
            return None
        if name not in placed:
            found = None
            if name.startswith("/") or name[1:3] == ":/":
                if name.startswith(top + "/"):
                    found = name[len(top) + 1 :]
                else:
                    parts = name.split("/")
                    for i in range(1, len(parts)):
                        if parts[i] and os.path.isfile(os.path.join(top, *parts[i:])):
                            found = "/".join(parts[i:])
                            break
            elif base and os.path.isfile(os.path.join(top, base, name)):
                found = f"{base}/{name}"
            elif os.path.isfile(os.path.join(top, name)):
                found = name
            placed[name] = found
        return placed[name]

    # The candidates indexed once (each changed file looks up its own, so that thousands of
    # changed __init__.py files against as many in the report take no quadratic time): the
    # names the disk places, by the file they are; the others by name, and the absolute ones
    # by each tail after a '/'.
    where_of: dict[str, str | None] = {}
    by_place: dict[str, str] = {}  # the first name (in report order) the disk places as each file
    loose: set[str] = set()  # relative names the disk does not place
    by_tail: dict[str, list[str]] = {}  # absolute names the disk does not place
    for name in chain.from_iterable(by_base.values()):
        where = where_of[name] = place(name)
        if where is not None:
            by_place.setdefault(where, name)
        elif name in changed:  # another changed file, by its own name
            continue
        elif name.startswith("/") or name[1:3] == ":/":
            parts = name.split("/")
            for i in range(1, len(parts)):
                by_tail.setdefault("/".join(parts[i:]), []).append(name)
        else:
            loose.add(name)
    exact: dict[str, str] = {}
    suffix: dict[str, list[str]] = {}
    for path in paths:
        if path in where_of and where_of[path] in (None, path):
            exact[path] = path
            continue
        if path in by_place:  # the disk says which file it is
            exact[path] = by_place[path]
            continue
        parts = path.split("/")
        found = [*by_tail.get(path, ()), *(tail for i in range(1, len(parts)) if (tail := "/".join(parts[i:])) in loose)]
        if found:
            suffix[path] = found
    claimed: dict[str, int] = {}
    for found in suffix.values():
        for name in found:
            claimed[name] = claimed.get(name, 0) + 1
    result = {}
    for path in paths:
        if path in exact:
            result[path] = Match(exact[path])
        elif path not in suffix:
            result[path] = Match(None)
        elif len(suffix[path]) == 1 and claimed.get(suffix[path][0]) == 1:
            result[path] = Match(suffix[path][0])
        else:
            result[path] = Match(None, tuple(sorted(suffix[path])))
    return result


def patch_coverage(changed: Mapping[str, list[int]], coverage: Mapping[str, FileCoverage], compare: str = "",
                   root: Path | str | None = None, base: str = "") -> PatchReport:
    """Coverage of the `changed` lines by a report's files (see match_files for how a changed
    file finds its report file; `root`, the working tree, lets the disk settle it, trying
    relative names from the folder `base` of it first)."""
    files = []
    matches = match_files(changed, coverage, root, base)
    for path in sorted(changed):
        lines = changed[path]
        fp = FilePatch(path=path, changed=list(lines))
        match = matches[path]
        fp.ambiguous = list(match.ambiguous)
        if match.name is not None:
            fc = coverage[match.name]
            fp.coverage_path = match.name
            fp.measured = [n for n in lines if n in fc.lines]
            fp.covered = [n for n in fp.measured if fc.lines[n] > 0]
            fp.uncovered = [n for n in fp.measured if fc.lines[n] <= 0]
        files.append(fp)
    return PatchReport(compare=compare, files=files)


def format_report(report: PatchReport, source: str) -> str:
    """The terminal form: one block per changed file with coverage, then the total."""
    out = [f"Patch coverage of {report.compare or 'the diff'} against {source}", ""]
    for f in report.files:
        if not f.measured:
            continue
        out.append(f"{f.path}  {f.percent:.2f}%  ({len(f.covered)}/{len(f.measured)} changed lines covered)")
        if f.uncovered:
            out.append(f"    uncovered: {line_ranges(f.uncovered)}")
    for f in report.files:
        if len(f.ambiguous) == 1:
            # One report file that another changed file ends like too (a report written from a
            # subfolder of a monorepo): only a report naming files from the top tells them apart.
            out.append(f"{f.path}: not counted, the report's {f.ambiguous[0]} could be it or another changed "
                       "file with the same ending; a report naming files from the repository's top tells them apart")
        elif f.ambiguous:
            out.append(f"{f.path}: not counted, several report files could be it ({', '.join(f.ambiguous[:5])}"
                       + (" …" if len(f.ambiguous) > 5 else "") + "); name the checkout with --source-root")
    skipped = [f.path for f in report.files if not f.measured]
    if skipped:
        out.append(f"{len(skipped)} changed file(s) with no measured lines: {', '.join(skipped[:10])}"
                   + (" …" if len(skipped) > 10 else ""))
    out += ["", f"Total: {report.covered}/{report.measured} changed lines covered, {report.percent:.2f}%"]
    return "\n".join(out)


def line_ranges(lines: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7": changed lines as a person reads them."""
    from crossbridge_assets.formats._coverage import encode_ranges

    return encode_ranges(lines).replace(",", ", ")
