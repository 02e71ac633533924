"""Coverage readers against what the coverage tools of other ecosystems write, held to the figures
the tools themselves print: PHPUnit's Cobertura (with pcov, and with Xdebug's path coverage)
against its --coverage-text and its Clover XML, and the reports that are not read (Clover, a Go
coverage profile, gcov's JSON, SimpleCov's and Devel::Cover's own files), which must be refused
by name. The fixtures are under fixtures/coverage/otherlang/, written by
fixtures/coverage/otherlang/regenerate-otherlang.sh. kcov has no Debian 12 package: its Cobertura
is written inline here, in the shape of kcov's own writer."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from crossbridge_assets.formats import FormatError, UnknownFormat, detect, open_report, read_report
from crossbridge_assets.formats._coverage import merge_coverage, merged_totals
from crossbridge_assets.formats._paths import using_source_roots
from crossbridge_assets_tests.conftest import FIXTURES

OTHER = FIXTURES / "coverage" / "otherlang"
WORK = "/tmp/crossbridge-coverage-otherlang"  # where the regenerate script runs the samples
PHP_ROOT = f"{WORK}/php"


def _lines(fc) -> tuple[int, int]:
    return len(fc.lines), sum(1 for h in fc.lines.values() if h)


def _phpunit_text(run: str) -> dict[str, tuple[int, int]]:
    """The summary of PHPUnit's --coverage-text: {'Lines': (valid, covered), 'Branches': ...}."""
    text = (OTHER / run / "text.txt").read_text()
    summary = text.split("Summary:", 1)[1].split("\n\n", 1)[0]
    found = {m[1]: (int(m[3]), int(m[2])) for m in re.finditer(r"(\w+):\s+[\d.]+% \((\d+)/(\d+)\)", summary)}
    assert "Lines" in found, summary
    return found


def _clover_lines(run: str) -> dict[str, dict[int, int]]:
    """Statement lines of PHPUnit's Clover XML of the same run, by path from the sample's src/."""
    files = {}
    for file in ET.parse(OTHER / run / "clover.xml").getroot().iter("file"):
        name = file.get("name").split(f"{PHP_ROOT}/", 1)[1]
        files[name] = {int(ln.get("num")): int(ln.get("count")) for ln in file.iter("line") if ln.get("type") == "stmt"}
    return files


def _read_php(path):
    """A PHPUnit report read as it would be from a checkout of the sample."""
    with using_source_roots([PHP_ROOT]):
        return read_report(path)


# ---------------------------------------------------------------------------- PHPUnit


@pytest.mark.parametrize("run", ["phpunit-pcov", "phpunit-xdebug"])
def test_phpunit_cobertura_counts_lines_as_its_text_summary(run):
    spec, stream, records = _read_php(OTHER / run / "cobertura.xml")
    assert spec.name == "cobertura"
    totals = stream.effective_totals.as_dict()
    assert (totals["lines_valid"], totals["lines_covered"]) == _phpunit_text(run)["Lines"] == (12, 8)
    # Named from the checkout (PHPUnit names them from the folder common to all: src/).
    assert sorted(fc.path for fc in records) == ["src/Calc.php", "src/Util/helpers.php"]


@pytest.mark.parametrize("run", ["phpunit-pcov", "phpunit-xdebug"])
def test_phpunit_cobertura_and_clover_of_one_run_agree_line_by_line(run):
    # PHPUnit 9 lists each global function under every file with that file's lines in the
    # function's line range (src/Calc.php gets a class 'Calc.php' repeating its lines 9 and 14):
    # the lines are the file's own, so a file's lines are still its Clover statements.
    _, _, records = _read_php(OTHER / run / "cobertura.xml")
    clover = _clover_lines(run)
    assert {fc.path: fc.lines for fc in records} == clover
    assert clover["src/Calc.php"][18] == 0 and clover["src/Util/helpers.php"][5] == 1


def test_phpunit_path_coverage_branches_are_declared_only():
    # With Xdebug's path coverage PHPUnit's Cobertura declares its branch totals on the root
    # (and rates on classes) but marks no line as a branch: the branches of its text summary
    # are recorded as declared (no line can contradict them: no warning); none is made up per line.
    _, stream, records = _read_php(OTHER / "phpunit-xdebug" / "cobertura.xml")
    valid, covered = _phpunit_text("phpunit-xdebug")["Branches"]
    assert (valid, covered) == (16, 12)
    assert (stream.info.declared["branches_valid"], stream.info.declared["branches_covered"]) == (valid, covered)
    assert all(not fc.branches for fc in records)
    assert not any("declared" in w for w in stream.info.warnings)


def test_phpunit_shards_add_up_to_the_whole_run():
    # The two test suites run apart: PHPUnit's hits are the number of tests that ran a line,
    # so the shards' hits add up to the whole run's, line by line.
    shards = [_read_php(OTHER / "phpunit-pcov" / f"shard-{n}" / "cobertura.xml")[2] for n in (1, 2)]
    _, whole_stream, whole = _read_php(OTHER / "phpunit-pcov" / "cobertura.xml")
    merged = merge_coverage(shards, source_roots=[PHP_ROOT])
    assert sorted(merged) == sorted(fc.path for fc in whole)
    for fc in whole:
        assert merged[fc.path].lines == fc.lines, fc.path
    assert merged_totals(merged).as_dict() == whole_stream.effective_totals.as_dict()


def test_phpunit_cobertura_from_a_ci_checkout_names_files_from_the_checkout(tmp_path):
    # The same report as written on a GitHub runner: <source> is the checkout's src/.
    text = (OTHER / "phpunit-pcov" / "cobertura.xml").read_text()
    moved = tmp_path / "cobertura.xml"
    moved.write_text(text.replace(PHP_ROOT, "/home/runner/work/shop/shop"))
    _, _, records = read_report(moved)
    assert sorted(fc.path for fc in records) == ["src/Calc.php", "src/Util/helpers.php"]


# ---------------------------------------------------------------------------- reports not read


@pytest.mark.parametrize(
    ("report", "named"),
    [
        ("phpunit-pcov/clover.xml", "Clover XML"),
        ("phpunit-xdebug/clover.xml", "Clover XML"),
        ("perl/clover.xml", "Clover XML"),  # Devel::Cover::Report::Clover: <coverage generated= clover=>
        ("go/cover.out", "Go coverage profile"),
        ("gcov/main.gcov.json", "gcov's JSON"),
        ("ruby/resultset.json", "SimpleCov's .resultset.json"),
        ("perl/cover.json", "Devel::Cover's JSON"),
    ],
)
def test_coverage_files_of_other_tools_are_refused_by_name(report, named):
    # Each is a coverage file a user could well upload: it is refused saying what it is (not
    # as 'matches no supported format', nor misread as the Cobertura whose root it shares).
    with pytest.raises(UnknownFormat) as caught:
        detect(OTHER / report)
    reason = caught.value.reason
    assert reason.startswith("unknown format: ") and named in reason, reason
    assert "supported:" not in reason  # what to write instead, not a list of every format
    assert isinstance(caught.value, FormatError)


# ---------------------------------------------------------------------------- kcov

# kcov's Cobertura, as its writer (src/writers/cobertura-writer.cc, kcov 38 to 43) writes it:
# <source> is the folder common to the files (plus '/') and each filename is relative to it;
# with a single file, that "folder" is the file itself and its filename stays absolute. The
# root declares no branches-valid, and a branches-covered of "1.0" (its branch rate).
KCOV_HEAD = """<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM 'http://cobertura.sourceforge.net/xml/coverage-04.dtd'>
<coverage line-rate="{rate}" lines-covered="{covered}" lines-valid="{valid}" branch-rate="1.0" \
branches-covered="1.0" branches-rate="1.0" complexity="1.0" version="1.9" timestamp="1796068141">
\t<sources>
\t\t<source>{source}/</source>
\t</sources>
\t<packages>
\t\t<package name="run_sh" line-rate="{rate}" lines-covered="{covered}" lines-valid="{valid}" branch-rate="1.0" \
complexity="1.0">
\t\t\t<classes>
"""
KCOV_CLASS = """\t\t\t\t<class name="{name}" filename="{filename}" branch-rate="1.0" complexity="1.0" line-rate="{rate}">
\t\t\t\t\t<lines>
{lines}\t\t\t\t\t</lines>
\t\t\t\t</class>
"""
KCOV_FOOT = "\t\t\t</classes>\n\t\t</package>\n\t</packages>\n</coverage>\n"
CHECKOUT = "/home/runner/work/shop/shop"


def _kcov(tmp_path, name: str, source: str, files: dict[str, dict[int, int]]):
    """A kcov cobertura.xml of `files` (filename as kcov writes it -> line -> hits)."""
    valid = sum(len(lines) for lines in files.values())
    covered = sum(1 for lines in files.values() for h in lines.values() if h)
    body = "".join(
        KCOV_CLASS.format(
            name=filename.rsplit("/", 1)[-1].replace(".", "_"), filename=filename,
            rate=f"{sum(1 for h in lines.values() if h) / len(lines):.3f}",
            lines="".join(f'\t\t\t\t\t\t<line number="{n}" hits="{h}"/>\n' for n, h in lines.items()),
        )
        for filename, lines in files.items()
    )
    path = tmp_path / name
    path.write_text(KCOV_HEAD.format(rate=f"{covered / valid:.3f}", covered=covered, valid=valid, source=source)
                    + body + KCOV_FOOT)
    return path


LIB_SH_1 = {4: 1, 5: 1, 7: 0}  # the script's classify() took its first branch
LIB_SH_2 = {4: 1, 5: 0, 7: 1}
RUN_SH = {2: 1, 3: 1}


def test_kcov_cobertura_counts_its_lines_and_declares_no_branches(tmp_path):
    report = _kcov(tmp_path, "cobertura.xml", f"{CHECKOUT}/scripts",
                   {"lib.sh": LIB_SH_1, "run.sh": RUN_SH})
    spec, stream, records = read_report(report)
    assert spec.name == "cobertura"
    assert stream.effective_totals.as_dict() == {
        "files": 2, "lines_valid": 5, "lines_covered": 4, "branches_valid": 0, "branches_covered": 0,
    }
    assert sorted(fc.path for fc in records) == ["scripts/lib.sh", "scripts/run.sh"]
    # kcov's branches-covered="1.0" is a rate written where a count goes, with no branches-valid
    # beside it: no declared count, and so no warning on every kcov report.
    assert "branches_covered" not in stream.info.declared
    assert stream.info.declared == {"lines_valid": 5, "lines_covered": 4}
    assert stream.info.warnings == []


def test_kcov_runs_of_one_or_two_files_merge(tmp_path):
    # The first shard ran only lib.sh: kcov writes its filename absolute, under a <source> that
    # is the file itself. The second ran both: names relative to their common folder.
    one = _kcov(tmp_path, "one.xml", f"{CHECKOUT}/scripts/lib.sh", {f"{CHECKOUT}/scripts/lib.sh": LIB_SH_1})
    two = _kcov(tmp_path, "two.xml", f"{CHECKOUT}/scripts", {"lib.sh": LIB_SH_2, "run.sh": RUN_SH})
    merged = merge_coverage([read_report(one)[2], read_report(two)[2]])
    assert sorted(merged) == ["scripts/lib.sh", "scripts/run.sh"]
    assert merged["scripts/lib.sh"].lines == {4: 2, 5: 1, 7: 1}
    assert merged_totals(merged).as_dict()["lines_covered"] == 5


def test_kcov_runs_outside_a_ci_checkout_merge_with_a_source_root(tmp_path):
    # Written on a developer's machine: nothing in the paths says where the checkout is; a
    # configured source root does, for the absolute filename and the <source> alike.
    home = "/home/dev/shop"
    one = _kcov(tmp_path, "one.xml", f"{home}/scripts/lib.sh", {f"{home}/scripts/lib.sh": LIB_SH_1})
    two = _kcov(tmp_path, "two.xml", f"{home}/scripts", {"lib.sh": LIB_SH_2, "run.sh": RUN_SH})
    # Streams not read yet: the Cobertura reader joins <source> with the root in effect.
    merged = merge_coverage([open_report(one), open_report(two)], source_roots=[home])
    assert sorted(merged) == ["scripts/lib.sh", "scripts/run.sh"]
    assert merged["scripts/lib.sh"].lines == {4: 2, 5: 1, 7: 1}


def test_kcov_json_summary_is_refused_by_name(tmp_path):
    # kcov writes coverage.json (its summary, src/writers/json-writer.cc) beside cobertura.xml,
    # under the name coverage.py gives its JSON: refused saying which file to take instead.
    summary = tmp_path / "coverage.json"
    summary.write_text(
        '{\n  "files": [\n    {"file": "/home/runner/work/shop/shop/scripts/lib.sh", "percent_covered": "66.67", '
        '"covered_lines": "2", "total_lines": "3"}\n  ],\n  "percent_covered": "66.67",\n  "covered_lines": 2,\n'
        '  "total_lines": 3,\n  "percent_low": 25,\n  "percent_high": 75,\n  "command": "run.sh",\n'
        '  "date": "2026-11-30 19:48:55"\n}\n'
    )
    with pytest.raises(UnknownFormat) as caught:
        detect(summary)
    assert caught.value.reason.startswith("unknown format: kcov's coverage.json"), caught.value.reason
    assert "cobertura.xml" in caught.value.reason
