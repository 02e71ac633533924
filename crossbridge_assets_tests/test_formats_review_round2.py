"""Readers and the patch analysis on inputs no tool writes but a damaged or hand-edited file
holds: each is read, or refused with a FormatError (a DiffError for a diff) naming why, never
anything else; and big inputs are read in time that grows with their size."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossbridge_assets.analysis.patch_coverage import DiffError, match_files, parse_diff
from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import Records, merge_coverage
from crossbridge_assets.model import FileCoverage
from crossbridge_assets_tests.fuzz_readers import check_sane

HUGE = "9" * 5000  # more digits than int() converts (sys.int_info.default_max_str_digits)


def _read(tmp_path: Path, name: str, text: str) -> list:
    """What the report holds, read whole after checking it as the fuzzer checks it."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    check_sane(open_report(path))
    return list(open_report(path))


# Playwright's junit reporter (1.40): a test that failed each try, its text the errors of each.
_PLAYWRIGHT = """<testsuites id="" name="" tests="1" failures="1" skipped="0" errors="0" time="1">
<testsuite name="a.spec.js" timestamp="2026-11-30T19:55:49.904Z" hostname="alpha" tests="1" failures="1" skipped="0" time="1" errors="0">
<testcase name="fails" classname="a.spec.js" time="0.028">
<failure message="a.spec.js:3:1 fails" type="FAILURE"><![CDATA[  [alpha] \u203a a.spec.js:3:1 \u203a fails \u2500\u2500\u2500\u2500

    Error: first

    Retry #{n} \u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500

    Error: second
]]></failure>
</testcase>
</testsuite>
</testsuites>
"""


def test_playwright_retry_line_with_a_huge_number_is_no_retry(tmp_path):
    cases = (_read(tmp_path, "huge-junit.xml", _PLAYWRIGHT.replace("{n}", HUGE)))
    assert [len(c.attempts) for c in cases] == [1]
    cases = (_read(tmp_path, "one-junit.xml", _PLAYWRIGHT.replace("{n}", "1")))
    assert [a.status for a in cases[0].attempts] == ["failed", "failed"]


# @cucumber/junit-xml-formatter (cucumber-js 11.1 on), rows of an outline without <placeholder>.
_CUCUMBER = """<?xml version="1.0"?>
<testsuite name="Cucumber" time="0.012" tests="2" skipped="0" failures="0" errors="0" timestamp="2026-11-30T21:44:35.521Z">
  <testcase classname="Apples" name="paying apples - #1.{n}" time="0.002"/>
  <testcase classname="Apples" name="paying apples - #1.1" time="0.005"/>
</testsuite>
"""


def test_cucumber_outline_row_with_a_huge_number(tmp_path):
    cases = (_read(tmp_path, "cucumber-junit.xml", _CUCUMBER.replace("{n}", HUGE)))
    assert len(cases) == 2
    assert len({c.identity for c in cases}) == 2


@pytest.mark.parametrize("header", [f"@@ -{HUGE} +1 @@", f"@@ -1 +{HUGE} @@", f"@@@ -{HUGE} -1 +1 @@@"])
def test_diff_hunk_header_with_a_huge_line_number_is_malformed(header):
    text = f"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n{header}\n+a\n"
    with pytest.raises(DiffError, match="malformed hunk header"):
        parse_diff(text)
    assert parse_diff(text.replace(HUGE, "7")) == {"x.py": ([1 if "+1" in header else 7], [])}


def test_diff_quoted_name_with_an_escaped_9_is_read():
    # git escapes only octal bytes and C escapes: '\\9' is in no name it quotes (a hand-edited diff).
    text = 'diff --git "a/t\\9.py" "b/t\\9.py"\n--- "a/t\\9.py"\n+++ "b/t\\9.py"\n@@ -0,0 +1 @@\n+x\n'
    assert parse_diff(text) == {"t9.py": ([1], [])}
    assert parse_diff(text.replace("\\9", "\\303\\251")) == {"t\u00e9.py": ([1], [])}


def test_many_small_xml_reports_merge_with_a_big_one_in_linear_time():
    # One coverage.py XML per test job, each naming its few files from <source> (pkg/...), and
    # an LCOV of the whole code naming them from the repository (src/pkg/...).
    def fc(path):
        return FileCoverage(path=path, lines={1: 1, 2: 0})

    big = Records([fc(f"src/pkg{i % 50}/a/b/mod{i}.py") for i in range(20000)], "lcov")
    small = [Records([fc(f"pkg{i % 50}/a/b/mod{i}.py") for i in range(j * 5, j * 5 + 5)], "coveragepy-xml")
             for j in range(300)]
    started = time.perf_counter()
    merged = merge_coverage([*small, big])
    elapsed = time.perf_counter() - started
    assert len(merged) == 20000 and merged["src/pkg3/a/b/mod3.py"].lines == {1: 2, 2: 0}
    assert elapsed < 5, f"{elapsed:.1f}s"  # each small report scanned every LCOV path: ~9s


def test_cobertura_count_as_declared_never_holds_a_big_class_whole(tmp_path):
    # gcovr-shaped, one class of 300,000 lines whose root totals disagree with its lines: the
    # lines are counted again as gcovr counts them, which held the class whole (~350 MB).
    n = 300_000
    path = tmp_path / "coverage.xml"
    with path.open("w") as fh:
        fh.write(f'<?xml version="1.0"?>\n<coverage line-rate="0.5" lines-covered="{n // 2 + 7}" lines-valid="{n}" '
                 'branches-covered="0" branches-valid="0" version="gcovr 8.2"><sources><source>/s</source></sources>'
                 '<packages><package name="p"><classes><class name="c" filename="big.c"><methods/><lines>\n')
        fh.writelines(f'<line number="{i}" hits="{i % 2}" branch="false"/>\n' for i in range(1, n + 1))
        fh.write("</lines></class></classes></package></packages></coverage>\n")
    # The child's peak as VmHWM: ru_maxrss carries the forking parent's over exec.
    child = (
        "import re, sys\n"
        "from crossbridge_assets.formats import open_report\n"
        "s = open_report(sys.argv[1]); list(s)\n"
        "print(s.totals.lines_covered, s.info.warnings[0])\n"
        "print(int(re.search(r'VmHWM:\\s*(\\d+) kB', open('/proc/self/status').read()).group(1)) // 1024)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True, env=env, check=True)
    summary, megabytes = done.stdout.splitlines()
    assert summary.startswith(f"{n // 2} declared totals disagree with the content: lines_covered declared {n // 2 + 7}")
    assert int(megabytes) < 200, f"{megabytes} MB"


def test_patch_matching_of_many_files_of_one_name_takes_linear_time():
    # A change to every package's __init__.py (a license header), the report naming them from
    # the source folder: each changed file looked at every report file of its name.
    paths = [f"src/p{i}/__init__.py" for i in range(5000)]
    names = [f"p{i}/__init__.py" for i in range(5000)]
    started = time.perf_counter()
    matches = match_files(paths, names)
    elapsed = time.perf_counter() - started
    assert [matches[p].name for p in paths] == names
    assert match_files(["src/a/x.py"], ["a/x.py", "/ci/src/a/x.py"])["src/a/x.py"].ambiguous == ("/ci/src/a/x.py", "a/x.py")
    assert elapsed < 3, f"{elapsed:.1f}s"  # ~9 s when each looked at all
