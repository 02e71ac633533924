"""Which tests to run for a change: the tests whose recorded coverage (the per-test map of a
run: coverage.py contexts, per-test reports) ran a line the change touches.

The map numbers the lines of the code its run measured, the code before the change: a change
is read on that side (patch_coverage.touched_lines: deleted and modified lines, the lines
around an insertion, a renamed file by its old name), not on the side patch coverage reads.
Besides the tests, a change can touch:
- lines the run measured but no test ran: no test will catch a mistake there;
- files the map does not know (new files, or files no test ran): only a full run covers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from crossbridge_assets.analysis.patch_coverage import line_ranges, match_files


@dataclass
class Impact:
    compare: str
    tests: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # test -> file -> changed lines it ran
    unexercised: dict[str, list[int]] = field(default_factory=dict)  # file -> changed code lines no test ran
    unmapped: list[str] = field(default_factory=list)  # changed files the map does not know
    removed: list[str] = field(default_factory=list)  # tests in files the change deletes: none to run

    def as_dict(self) -> dict:
        return {
            "compare": self.compare,
            "tests": sorted(self.tests),
            "lines_by_test": {t: self.tests[t] for t in sorted(self.tests)},
            "unexercised": self.unexercised,
            "unmapped": self.unmapped,
            "removed": self.removed,
        }


def impact(changed: Mapping[str, list[int]], test_map: Mapping[str, Mapping[str, set[int]]],
           code_lines: Mapping[str, set[int]] | None = None, compare: str = "",
           root: Path | str | None = None, moved: Mapping[str, str | None] | None = None) -> Impact:
    """The tests of `test_map` (file -> test -> lines run) that ran a `changed` line. With
    `code_lines` (file -> the run's measured lines), a changed line that is not code (a
    comment, a blank line) is not reported as unexercised. Changed files find theirs in the
    map as patch coverage finds them in a report (match_files; `root`: the working tree).
    `moved` (old name -> new name, or None: deleted) are the files the change renames or
    deletes: a test named by its file (a pytest node id) is given by the file's new name, and
    one whose file is deleted is listed as removed, not to run."""
    result = Impact(compare=compare)
    in_map = match_files(changed, test_map, root)
    in_code = match_files(changed, code_lines, root) if code_lines is not None else {}
    for path in sorted(changed):
        lines = changed[path]
        name = in_map[path].name
        if name is None:
            result.unmapped.append(path)
            continue
        ran: set[int] = set()
        for test, covered in test_map[name].items():
            mine = [n for n in lines if n in covered]
            if mine:
                result.tests.setdefault(test, {})[path] = mine
                ran.update(mine)
        code = None
        if code_lines is not None:
            measured = in_code[path].name
            code = code_lines[measured] if measured is not None else set()
        rest = [n for n in lines if n not in ran and (code is None or n in code)]
        if rest:
            result.unexercised[path] = rest
    for test in [t for t in result.tests if moved and "::" in t]:
        file, sep, rest = test.partition("::")
        if file not in moved:
            continue
        lines_run = result.tests.pop(test)
        if moved[file] is None:
            result.removed.append(test)
        else:
            result.tests.setdefault(moved[file] + sep + rest, {}).update(lines_run)
    result.removed.sort()
    return result


def format_impact(result: Impact, source: str) -> str:
    """The terminal form: the tests, each with the changed lines it ran, then what no test covers."""
    out = [f"Tests to run for {result.compare or 'the diff'}, from the per-test map of {source}", ""]
    if not result.tests:
        out.append("no test in the map ran a changed line")
    for test in sorted(result.tests):
        where = ", ".join(f"{path}:{line_ranges(lines)}" for path, lines in sorted(result.tests[test].items()))
        out.append(f"{test}    ({where})")
    if result.unexercised:
        out += ["", "changed lines no test ran:"]
        out += [f"    {path}: {line_ranges(lines)}" for path, lines in sorted(result.unexercised.items())]
    if result.removed:
        out += ["", "tests the change deletes (not to run):"] + [f"    {test}" for test in result.removed]
    if result.unmapped:
        out += ["", f"{len(result.unmapped)} changed file(s) the map does not know (new, or run by no test): "
                + ", ".join(result.unmapped[:10]) + (" …" if len(result.unmapped) > 10 else "")]
    return "\n".join(out)
