"""Unified diffs as `git diff` writes them: the change a run's patch coverage is measured on.

A CI job sends the diff of its change against the merge base (`git diff --merge-base
origin/main`, or `crossbridge ingest --diff origin/main`) beside the run's coverage; the added and
modified lines of each file, numbered in the new file, are what patch coverage counts.
Detected by content: a `diff --git` header near the top (after the commit header of `git show`
or `git format-patch` output, if any)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.model import KIND_CHANGE, ChangeStream, FileChange, ReportInfo

FORMAT = "git-diff"
# What may come before the first 'diff --git' line: `git show`'s and `git log -p`'s commit
# header and message, `git format-patch`'s mail header and message.
_HEAD_LINES = 200
_COMMIT_HEADER = re.compile(r"^(?:commit [0-9a-f]{7,64}\b|From [0-9a-f]{40} )")


class DiffError(ValueError):
    """The diff cannot be read or produced (unknown revision, not a repository, malformed hunk)."""


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




# ---------------------------------------------------------------------------- the format


def _matches(s: Sniff) -> bool:
    lines = s.text.lstrip("\ufeff").splitlines()[:_HEAD_LINES]
    if not lines:
        return False
    first = _SGR.sub("", lines[0])
    if first.startswith("diff --git "):
        return True
    return bool(_COMMIT_HEADER.match(first)) and any(_SGR.sub("", line).startswith("diff --git ") for line in lines)


def open_diff(path: Path) -> ChangeStream:
    """The added and modified lines of each file of the diff, in the order the diff gives them."""
    path = Path(path)
    try:
        text = decode_diff(path.read_bytes())
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        changed = changed_lines([text])
    except DiffError as exc:
        raise FormatError(path, f"is not a readable diff: {exc}") from None
    info = ReportInfo(format=FORMAT, kind=KIND_CHANGE)
    return ChangeStream(info, (FileChange(name, lines) for name, lines in changed.items() if lines))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_CHANGE,
    description="unified diff as `git diff` writes it: a run's change, for its patch coverage",
    matches=_matches,
    open=open_diff,
    priority=200,
)
