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

from crossbridge_assets.formats import FormatError, UnknownFormat, detect, read_report
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
    # are recorded as declared and named in a warning; none is made up per line.
    _, stream, records = _read_php(OTHER / "phpunit-xdebug" / "cobertura.xml")
    valid, covered = _phpunit_text("phpunit-xdebug")["Branches"]
    assert (valid, covered) == (16, 12)
    assert (stream.info.declared["branches_valid"], stream.info.declared["branches_covered"]) == (valid, covered)
    assert all(not fc.branches for fc in records)
    assert any("branches_valid declared 16 but the file holds 0" in w for w in stream.info.warnings)


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
