"""Patch coverage: how much of what a change adds or modifies is covered, with diff-cover's
semantics, so the two tools agree on the same diff and report.

- The change is the '+' side of `git diff -U0 <compare>...HEAD` (three dots: against the merge
  base), then the staged and the unstaged changes, applied in that order: a later diff's deleted
  lines leave the set, its added lines join it.
- Only lines the report measured count: a changed blank line, comment or docstring is not code.
- A measured line is covered when it ran (hits > 0); the percentage is covered over measured,
  100 when the change touches no measured line.
- So the report must list the statements that did not run: coverage.xml/json, LCOV and the
  other reports diff-cover reads do; a coverage.py data file (.coverage) holds only what ran,
  which would make every changed line that never ran "not code", and is refused by the CLI.
Pure, except `git_diffs`, which runs git.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from crossbridge_assets.model import FileCoverage

DEFAULT_COMPARE = "origin/main"
# Personal git config must not change the diff's shape: prefixes other than a/ b/ (noprefix,
# mnemonicPrefix's c/ i/ w/, git 2.45's srcPrefix/dstPrefix) break the file names, `relative`
# makes them relative to a subfolder and drops the rest, colour and external tools replace the
# text. diff-cover neutralizes the prefixes, colour and external diff the same way; unknown keys
# (srcPrefix on an older git) are ignored by git.
GIT_DIFF = (
    "git",
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
_HUNK = re.compile(r"\+([0-9]*)")
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
        raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]) if m.group(1).isdigit()
                          else _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def parse_diff(text: str) -> dict[str, tuple[list[int], list[int]]]:
    """path -> (added line numbers, deleted line numbers) of one `git diff` output.

    Line numbers are counted the way diff-cover counts them (both counters start at the hunk's
    new-side start), so that staged and unstaged diffs combine as they do there. One
    difference: "\\ No newline at end of file" is a remark on the line before it, not a line,
    and moves no counter (diff-cover 11 counts it as a context line, so the lines after it in
    the same hunk come out one too far)."""
    sections: dict[str, list[str]] = {}
    path: str | None = None
    in_hunk = False
    for raw in text.split("\n"):
        line = raw.rstrip()
        if line.startswith("diff --git") or line.startswith("diff --cc"):
            m = _SOURCE.match(line) if line.startswith("diff --git") else _CC.match(line)
            if not m:
                raise DiffError(f"cannot read the file name in diff line {line!r}")
            path = _unquote(m.group(1))
            if line.startswith("diff --git"):
                path = path[2:]  # 'b/'
            sections.setdefault(path, [])
            in_hunk = False
        elif in_hunk or line.startswith("@@"):
            in_hunk = True
            if path is None:
                raise DiffError(f"hunk without a file: {line!r}")
            sections[path].append(line)
    out = {}
    for src, lines in sections.items():
        added: list[int] = []
        deleted: list[int] = []
        new = old = None
        for line in lines:
            if line.startswith("@@"):
                parts = line.split()
                m = _HUNK.match(parts[2]) if len(parts) > 2 else None
                if not m or not m.group(1):
                    raise DiffError(f"{src}: malformed hunk header {line!r}")
                new = old = int(m.group(1))
            elif line.startswith("+"):
                if new is not None:
                    added.append(new)
                    new += 1
            elif line.startswith("-"):
                if old is not None:
                    deleted.append(old)
                    old += 1
            elif line.startswith("\\"):
                continue
            else:
                if old is not None:
                    old += 1
                if new is not None:
                    new += 1
        out[src] = (added, deleted)
    return out


def changed_lines(diffs: Iterable[str]) -> dict[str, list[int]]:
    """Added and modified lines per file over diffs applied in order (committed, staged, unstaged)."""
    result: dict[str, list[int]] = {}
    for text in diffs:
        for src, (added, deleted) in parse_diff(text).items():
            gone = set(deleted)
            result[src] = [n for n in result.get(src, []) if n not in gone] + added
    return {src: sorted(set(lines)) for src, lines in result.items()}


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run([*GIT_DIFF, *args], cwd=repo, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise DiffError("git is not installed or not on PATH") from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 or stderr.strip():
        message = " ".join(stderr.split()) or f"git diff exited with {done.returncode}"
        if "unknown revision" in message or "bad revision" in message:
            message += "; name an existing branch or commit with --diff"
        raise DiffError(message)
    return decode_diff(done.stdout)


def git_diffs(repo: Path | str, compare: str = DEFAULT_COMPARE, working_tree: bool = True) -> list[str]:
    """The committed change against the merge base with `compare`, then (with `working_tree`)
    the staged and unstaged changes."""
    repo = Path(repo)
    diffs = [_git(repo, f"{compare}...HEAD")]
    if working_tree:
        diffs += [_git(repo, "--cached"), _git(repo)]
    return diffs


# ---------------------------------------------------------------------------- coverage of the change


@dataclass
class FilePatch:
    path: str
    changed: list[int]
    measured: list[int] = field(default_factory=list)
    covered: list[int] = field(default_factory=list)
    uncovered: list[int] = field(default_factory=list)
    coverage_path: str | None = None  # the file as the report names it; None: not in the report

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
                }
                for f in self.files
            },
            "measured_lines": self.measured,
            "covered_lines": self.covered,
            "uncovered_lines": self.uncovered,
            "percent": self.percent,
        }


def find_file(path: str, coverage: Mapping[str, FileCoverage]) -> str | None:
    """The report's name for a changed file: the same path, or else the one path that is a
    whole-segment suffix of it (reports written relative to a source folder) or that it is a
    suffix of (reports that kept an absolute path)."""
    if path in coverage:
        return path
    candidates = [
        p for p in coverage if path.endswith("/" + p) or p.endswith("/" + path)
    ]
    return candidates[0] if len(candidates) == 1 else None


def patch_coverage(changed: Mapping[str, list[int]], coverage: Mapping[str, FileCoverage], compare: str = "") -> PatchReport:
    files = []
    for path in sorted(changed):
        lines = changed[path]
        fp = FilePatch(path=path, changed=list(lines))
        name = find_file(path, coverage)
        if name is not None:
            fc = coverage[name]
            fp.coverage_path = name
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
