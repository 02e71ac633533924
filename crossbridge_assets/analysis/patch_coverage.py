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
import re
import subprocess
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple

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


class DiffError(ValueError):
    """The diff cannot be read or produced (unknown revision, not a repository, malformed hunk)."""


# ---------------------------------------------------------------------------- diff

_SOURCE = re.compile(r'^diff --git (?:"a/(?:[^"\\]|\\.)*"|a/[^"\\]*) ("b/(?:[^"\\]|\\.)*"|b/.*)$')
_CC = re.compile(r"^diff --cc (.*)$")
# A renamed or copied file's new name, exactly, whatever the prefixes.
_RENAMED = re.compile(r"^(?:rename|copy) to (.*)$")
_RENAMED_FROM = re.compile(r"^rename from (.*)$")
# The colours of `git diff --color` (or color.ui=always) saved into a diff file.
_SGR = re.compile(r"\x1b\[[0-9;]*m")
# A hunk's line numbers: one longer than any file's is a malformed header (int() refuses 4300 digits).
_HUNK = re.compile(r"\+([0-9]{0,18})(?![0-9])")
_HUNK_OLD = re.compile(r"-([0-9]{1,18})(?:,([0-9]{1,18}))?(?![0-9,])")
# git's quoting of a path (core.quotePath, on by default): C escapes, bytes above 127 in octal.
_ESCAPE = re.compile(rb'\\([0-7]{1,3}|.)', re.S)
_ESCAPES = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def decode_diff(data: bytes) -> str:
    """A diff's bytes as text. Its lines are source code in whatever encoding the files use:
    only their first character counts, so bytes that are not UTF-8 are kept as they are
    (surrogateescape) instead of failing. A byte order mark (Windows PowerShell writes
    redirected output as UTF-16) is honoured."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace").lstrip("\ufeff")
    return data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")


def _unquote(path: str) -> str:
    """A file name as git prints it, as text: quoted names unescaped, UTF-8 decoded; bytes that
    are not UTF-8 (a name written in another encoding) kept visible as '\\xe9'."""
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw) >= 2 and raw[:1] == raw[-1:] == b'"':
        # (An escaped 8 or 9 is no octal digit: the character, as any other unknown escape.)
        raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]) if m.group(1)[0] in b"01234567"
                          else _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def _header_path(line: str) -> str | None:
    """The file a 'diff --git OLD NEW' line names (NEW): after git's a/ and b/, as diff-cover
    reads it; else, for a file that keeps its name (a rename says its name on a line of its
    own), the same name twice (--no-prefix, diff.noprefix) or after one folder of prefix each
    (diff.mnemonicPrefix's c/ i/ w/, --src-prefix=old/ --dst-prefix=new/). None: not known.

    A name that keeps its name is read as 'a/NAME b/NAME' first: a folder whose name ends in
    ' b' ('plan b/calc.py') holds ' b/' once more, where diff-cover's pattern, which takes the
    last ' b/', would cut the name ('calc.py')."""
    names = line[len("diff --git "):]
    half = (len(names) - 5) // 2
    if names.startswith("a/") and names == f"a/{names[2:2 + half]} b/{names[2:2 + half]}":
        return _unquote(names[2 : 2 + half])
    m = _SOURCE.match(line)
    if m:
        return _unquote(m.group(1))[2:]
    found = set()
    for at in (i for i, c in enumerate(names) if c == " "):  # names may hold spaces: try each split
        old, new = _unquote(names[:at]), _unquote(names[at + 1 :])
        if old == new:
            found.add(new)
        else:
            old_parts, new_parts = old.split("/", 1), new.split("/", 1)
            if len(old_parts) == len(new_parts) == 2 and old_parts[1] == new_parts[1]:
                found.add(new_parts[1])
    return found.pop() if len(found) == 1 else None


def parse_diff(text: str) -> dict[str, tuple[list[int], list[int]]]:
    """path -> (added line numbers, deleted line numbers) of one `git diff` output: added
    lines numbered in the new file, deleted ones in the old file, as the hunk headers count
    them. (diff-cover counts its deleted lines from the new side's start too, which names the
    wrong lines once a hunk's two starts differ: diff-cover issue #175.) The added lines are
    what diff-cover reads. One difference: "\\ No newline at end of file" is a remark on the
    line before it, not a line, and moves no counter (diff-cover 11 counts it as a context
    line, so the lines after it in the same hunk come out one too far).

    A file with a merge conflict not yet committed comes as a combined diff (`diff --cc`, one
    prefix column per parent): it is read as the diff against the first parent, HEAD, as
    diff-cover does for its added lines; a line only another parent had (' -') is in neither
    HEAD nor the file and moves no counter (diff-cover counts it as context).

    Where diff-cover reads nothing, this reads the diff as git wrote it without colour: a diff
    file saved with colours (diff-cover finds no file in it, so 100% of nothing), or written
    without git's a/ and b/ prefixes (diff-cover stops on its first file name)."""
    return _parse_diff(text)[0]


def _sections(text: str) -> tuple[dict[str, list[str]], dict[str, str], set[str], set[str]]:
    """The hunk lines of each file of a diff, by its new name; the files it renames (new name
    -> old name); the files it creates; the files it deletes."""
    if "\x1b" in text:
        text = _SGR.sub("", text)
    sections: dict[str, list[str]] = {}
    path: str | None = None
    header: str | None = None  # the 'diff --git' line of a file whose name is not known yet
    renamed: dict[str, str] = {}
    created: set[str] = set()
    deleted: set[str] = set()
    moved_from: str | None = None
    in_hunk = False
    for raw in text.split("\n"):
        line = raw.rstrip()
        if line.startswith("diff --git") or line.startswith("diff --cc"):
            if line.startswith("diff --git"):
                path = _header_path(line)
            else:
                m = _CC.match(line)
                path = _unquote(m.group(1)) if m else None
            header = None if path is not None else line
            if path is not None:
                sections.setdefault(path, [])
            in_hunk = False
            moved_from = None
        elif in_hunk or line.startswith("@@"):
            in_hunk = True
            if path is None and header is not None:
                raise DiffError(f"cannot read the file name in diff line {header!r}: write the diff with git's "
                                "a/ and b/ prefixes (git diff without --src-prefix, --dst-prefix)")
            if path is None:
                raise DiffError(f"hunk without a file: {line!r}")
            sections[path].append(line)
        elif header is not None or path is not None:
            m = _RENAMED.match(line)
            if m:  # the exact new name of a renamed or copied file
                if path is not None and not sections[path]:
                    del sections[path]
                path, header = _unquote(m.group(1)), None
                sections.setdefault(path, [])
                if moved_from is not None:
                    renamed[path] = moved_from
            elif m := _RENAMED_FROM.match(line):
                moved_from = _unquote(m.group(1))
            elif line.startswith("--- /dev/null") and path is not None:
                created.add(path)
            elif line.startswith("+++ /dev/null") and path is not None:
                deleted.add(path)
    return sections, renamed, created, deleted


def _hunk_lines(src: str, lines: list[str]) -> Iterator[tuple[str, int, int]]:
    """The lines of one file's hunks as (kind, old, new), `old` being the old file's next line
    and `new` the new file's: '@' where a hunk starts, '-' a deleted line (line `old`), '+' an
    added one (line `new`), ' ' one kept. Of a combined diff, the first parent's side; a line
    only another parent had and a "\\ No newline at end of file" remark are no lines."""
    parents = 1
    old = new = 0
    for line in lines:
        if line.startswith("@@"):
            parts = line.split()
            parents = len(parts[0]) - 1  # '@@@ -a,b -c,d +e,f @@@': two parents
            m = _HUNK.match(parts[parents + 1]) if len(parts) > parents + 1 and parents >= 1 else None
            m_old = _HUNK_OLD.match(parts[1]) if m else None  # the first parent's side
            if not m or not m.group(1) or not m_old:
                raise DiffError(f"{src}: malformed hunk header {line!r}")
            # '-7,0' (nothing removed) inserts after line 7: the old file's next line is 8.
            new, old = int(m.group(1)), int(m_old.group(1)) + (1 if m_old.group(2) == "0" else 0)
            yield "@", old, new
        elif parents > 1 and "-" in line[1:parents] and not line.startswith("-"):
            continue  # a line another parent had: not in HEAD, not in the file
        elif line.startswith("\\"):
            continue
        elif line.startswith("+"):
            yield "+", old, new
            new += 1
        elif line.startswith("-"):
            yield "-", old, new
            old += 1
        else:
            yield " ", old, new
            old += 1
            new += 1


def _parse_diff(text: str) -> tuple[dict[str, tuple[list[int], list[int]]], dict[str, str]]:
    """parse_diff's result, and the files the diff renames: new name -> old name."""
    sections, renamed, _, _ = _sections(text)
    out = {}
    for src, lines in sections.items():
        added: list[int] = []
        deleted: list[int] = []
        for kind, old, new in _hunk_lines(src, lines):
            if kind == "+":
                added.append(new)
            elif kind == "-":
                deleted.append(old)
        out[src] = (added, deleted)
    return out, renamed


def changed_lines(diffs: Iterable[str]) -> dict[str, list[int]]:
    """Added and modified lines per file over diffs applied in order (committed, staged, unstaged),
    each diff's old side being the previous one's new side: the lines a later diff keeps are
    renumbered as it moves them (and renamed with their file), the ones it deletes leave, the
    ones it adds join."""
    result: dict[str, list[int]] = {}
    for text in diffs:
        files, renamed = _parse_diff(text)
        # A file renamed since (`git mv` not yet committed) takes the change along.
        moved = {new: result.get(old, []) for new, old in renamed.items()}
        for old in renamed.values():
            result.pop(old, None)
        result.update(moved)
        for src, (added, deleted) in files.items():
            result[src] = _carry(result.get(src, []), added, deleted) + added
    return {src: sorted(set(lines)) for src, lines in result.items()}


def _carry(lines: Iterable[int], added: list[int], deleted: list[int]) -> list[int]:
    """Where old lines not `deleted` are in the new file of a diff that deleted `deleted` (old
    numbers) and added `added` (new numbers): the old file's k-th kept line is the new file's
    k-th line that was not added."""
    gone = sorted(set(deleted))
    adds = sorted(set(added))
    out = []
    d = a = 0
    for n in sorted(set(lines)):
        while d < len(gone) and gone[d] < n:
            d += 1
        if d < len(gone) and gone[d] == n:
            continue
        new = n - d + a  # its rank among the kept lines, then past the added lines before it
        while a < len(adds) and adds[a] <= new:
            a += 1
            new += 1
        out.append(new)
    return out


def touched_lines(text: str) -> dict[str, list[int]]:
    """The lines of the code before the change that one `git diff` touches, by the file's name
    before it (a renamed file's old name): the lines it deletes or modifies, and the two lines
    around each place where it only inserts (the code that runs there is what would run the new
    lines). A file the diff creates has no lines before it: it is named with no line. This is
    the side a coverage run of the code before the change numbers, which a line counted on the
    new side (what patch coverage reads) is not once lines above it came or went. A combined
    diff (`diff --cc`) names its files with no line."""
    sections, renamed, created, _ = _sections(text)
    out: dict[str, list[int]] = {}
    for src, lines in sections.items():
        touched: set[int] = set()
        deleting = False  # the line before was a deleted one: what follows replaces it
        for kind, old, _ in _hunk_lines(src, lines):
            if kind == "-":
                touched.add(old)
                deleting = True
            elif kind == "+":
                if not deleting:
                    touched.update((old - 1, old))
            else:
                deleting = False
        if src in created or any(line.startswith("@@@") for line in lines):
            out[src] = []  # a combined diff's old side is not the code before the change
        else:
            name = renamed.get(src, src)
            out[name] = sorted(set(out.get(name, [])) | {n for n in touched if n > 0})
    return out


def moved_files(text: str) -> dict[str, str | None]:
    """The files one `git diff` renames (old name -> new name) or deletes (name -> None)."""
    _, renamed, _, deleted = _sections(text)
    return {**{old: new for new, old in renamed.items()}, **dict.fromkeys(deleted)}


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
