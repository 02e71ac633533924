"""Coverage readers against reports written by the JavaScript tools themselves: Jest with its
babel (istanbul) and v8 providers, Vitest with @vitest/coverage-v8 and -istanbul, nyc --all, and
c8 on TypeScript (tsc output with source maps, and the tsx loader), each run written as
coverage-final.json, coverage-summary.json, lcov.info and cobertura-coverage.xml. The fixtures are
under fixtures/coverage/jstools/<run>/, written by fixtures/coverage/jstools/regenerate.sh
(called by fixtures/coverage/regenerate.sh jstools); text.txt beside them is what the tool
printed (text-summary and text reporters), which the readers are held to here.

Which count is ours where the tool's reporters differ:
- istanbul counts statements and lines apart (`Statements 36/51`, `Lines 29/39`): lines are
  the distinct start lines of statements, as the corpus rule and istanbul's own Lines say;
- istanbul's cobertura reporter writes a branch only on a line that holds a statement, so the
  branches of default parameters (on the `function f(a = 1) {` line) are in its root totals
  and in every other report, but on no <line>: the Cobertura rule counts the <line>s, and
  the root totals are noted as disagreeing.
"""

from __future__ import annotations

import re

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets.model import CoverageTotals
from crossbridge_assets_tests.conftest import FIXTURES

JSTOOLS = FIXTURES / "coverage" / "jstools"
WORK = "/tmp/crossbridge-coverage-jstools"  # where regenerate.sh runs them (absolute paths in the JSON)
RUNS = ["jest-babel", "jest-v8", "vitest-v8", "vitest-istanbul", "nyc-all", "c8-ts", "c8-tsx"]
# Instrumented by istanbul itself (the others are V8 coverage converted by v8-to-istanbul).
ISTANBUL_RUNS = {"jest-babel", "vitest-istanbul", "nyc-all"}
REPORTS = ["coverage-final.json", "lcov.info", "cobertura-coverage.xml"]
FUNCTION_REPORTS = ("coverage-final.json", "lcov.info")  # Cobertura's <methods> are left out

_SUMMARY = re.compile(r"^(Statements|Branches|Functions|Lines)\s*:\s*\S+\s*\(\s*(\d+)/(\d+)\s*\)", re.M)


def _printed(run: str) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """The tool's text-summary as {metric: (covered, total)}, and the files of its text table."""
    text = (JSTOOLS / run / "text.txt").read_text()
    summary = {m: (int(c), int(t)) for m, c, t in _SUMMARY.findall(text)}
    files = [row.split("|")[0].strip() for row in text.splitlines() if row.startswith(" ") and "|" in row]
    return summary, files


def _expected(run: str) -> dict:
    summary, files = _printed(run)
    return {
        "files": len(files),
        "lines_valid": summary["Lines"][1],
        "lines_covered": summary["Lines"][0],
        "branches_valid": summary["Branches"][1],
        "branches_covered": summary["Branches"][0],
    }


def _read(run: str, report: str):
    return read_report(JSTOOLS / run / report)


def _by_name(records) -> dict:
    return {fc.path.rsplit("/", 1)[-1]: fc for fc in records}


@pytest.mark.parametrize("run", RUNS)
def test_json_summary_and_lcov_count_what_the_tool_prints(run):
    expected = _expected(run)
    for report, fmt in (("coverage-final.json", "istanbul-final"), ("coverage-summary.json", "istanbul-summary"),
                        ("lcov.info", "lcov")):
        spec, stream, _ = _read(run, report)
        assert spec.name == fmt
        assert stream.effective_totals.as_dict() == expected, report
        assert stream.info.warnings == [], report


@pytest.mark.parametrize("run", RUNS)
def test_lcov_declares_its_covered_counts_too(run):
    # Every record's LH and BRH are the report's own covered counts, declared beside LF and BRF
    # (they were dropped once a file's record had been given out), and checked against the DA
    # and BRDA lines.
    _, stream, _ = _read(run, "lcov.info")
    expected = _expected(run)
    assert stream.info.declared == {k: v for k, v in expected.items() if k != "files"}


def test_lcov_covered_counts_that_disagree_are_noted(tmp_path):
    text = (JSTOOLS / "jest-babel" / "lcov.info").read_text()
    # shapes.js as Jest wrote it, LH one higher than its DA lines say.
    shapes = text[text.index("SF:src/shapes.js"):]
    lh = re.search(r"^LH:(\d+)$", shapes, re.M)
    path = tmp_path / "lcov.info"
    path.write_text(text.replace(f"SF:src/shapes.js{shapes[len('SF:src/shapes.js'):lh.start()]}LH:{lh.group(1)}",
                                 f"SF:src/shapes.js{shapes[len('SF:src/shapes.js'):lh.start()]}LH:{int(lh.group(1)) + 1}"))
    _, stream, _ = read_report(path)
    assert stream.effective_totals.lines_covered == 29
    assert stream.info.warnings == ["declared totals disagree with the content: lines_covered declared 30 but the file holds 29"]


@pytest.mark.parametrize("run", RUNS)
def test_functions_are_those_the_tool_counts(run):
    covered, total = _printed(run)[0]["Functions"]
    for report in FUNCTION_REPORTS:
        _, _, records = _read(run, report)
        functions = [f for fc in records for f in fc.functions]
        assert (sum(1 for f in functions if f[2] > 0), len(functions)) == (covered, total), report


@pytest.mark.parametrize("run", ["jest-babel", "jest-v8", "vitest-v8", "vitest-istanbul", "nyc-all"])
def test_functions_sharing_a_name_keep_their_own_counts(run):
    # shapes.js: `helper` nested in outerA (line 24, called) and in outerB (line 25, never
    # called); two `function cb` on line 31, the first called. LCOV names functions only, its
    # FNDA follow the FN in order; the JSON has one fnMap entry each.
    expected = [("helper", 24, 1), ("helper", 25, 0), ("cb", 31, 1), ("cb", 31, 0)]
    for report in FUNCTION_REPORTS:
        _, _, records = _read(run, report)
        shapes = _by_name(records)["shapes.js"]
        assert [f for f in shapes.functions if f[0] in ("helper", "cb")] == expected, report


@pytest.mark.parametrize("run", RUNS)
def test_json_lcov_and_cobertura_of_one_run_give_the_same_files_and_lines(run):
    views = [list(_read(run, report)[2]) for report in REPORTS]
    roots = (f"{WORK}/{run}",)  # the JSON names files absolutely, LCOV and Cobertura from there
    lines = [
        {path: fc.lines for path, fc in merge_coverage([records], source_roots=roots).items()} for records in views
    ]
    assert lines[0] == lines[1] == lines[2]
    assert all(path.startswith("src/") for path in lines[0])
    merged = merge_coverage(views, source_roots=roots)
    assert sorted(merged) == sorted(lines[0])
    assert sum(map(len, lines[0].values())) == _expected(run)["lines_valid"]
    branches = [{p: fc.branches for p, fc in merge_coverage([r], source_roots=roots).items()} for r in views]
    assert branches[0] == branches[1]
    if run not in ISTANBUL_RUNS:
        assert branches[2] == branches[0]


@pytest.mark.parametrize("run", RUNS)
def test_every_file_counts_what_the_summary_says_of_it(run):
    _, summary, _ = _read(run, "coverage-summary.json")
    per_file = {path.rsplit("/", 1)[-1]: t.as_dict() for path, t in summary.file_totals.items()}
    assert sorted(per_file) == sorted(_printed(run)[1])
    for report in REPORTS:
        counted = {}
        for name, fc in _by_name(_read(run, report)[2]).items():
            t = CoverageTotals()
            t.add(fc)
            counted[name] = t.as_dict()
        if report == "cobertura-coverage.xml" and run in ISTANBUL_RUNS:
            # greet(name = 'world', punct = '!') on line 18: two branches, one taken, on no <line>.
            assert counted["branches.js"]["branches_valid"] == per_file["branches.js"]["branches_valid"] - 2
            assert counted["branches.js"]["branches_covered"] == per_file["branches.js"]["branches_covered"] - 1
            counted["branches.js"] = per_file["branches.js"]
        assert counted == per_file, report


@pytest.mark.parametrize("run", sorted(ISTANBUL_RUNS))
def test_istanbul_cobertura_leaves_default_parameter_branches_out_of_its_lines(run):
    spec, stream, records = _read(run, "cobertura-coverage.xml")
    assert spec.name == "cobertura"
    expected = _expected(run)
    totals = stream.effective_totals.as_dict()
    assert totals == {**expected, "branches_valid": expected["branches_valid"] - 2,
                      "branches_covered": expected["branches_covered"] - 1}
    assert 18 not in _by_name(records)["branches.js"].lines
    assert 18 in _by_name(_read(run, "lcov.info")[2])["branches.js"].branches
    # Its root totals are those of the other reports: noted, not taken, and no disagreement
    # (istanbul's lines are its statements' lines; its root counts every branch).
    assert stream.info.declared["branches_valid"] == expected["branches_valid"]
    assert stream.info.warnings == []


@pytest.mark.parametrize("run", sorted(ISTANBUL_RUNS))
def test_istanbul_lines_are_statement_start_lines_not_statements(run):
    printed = _printed(run)[0]
    assert printed["Statements"] != printed["Lines"]  # the sample has lines of several statements
    _, stream, records = _read(run, "coverage-final.json")
    assert (stream.effective_totals.lines_covered, stream.effective_totals.lines_valid) == printed["Lines"]
    files = _by_name(records)
    # Line 2 of shapes.js holds two functions of one line each: one line, covered (one() ran).
    assert files["shapes.js"].lines[2] == 1
    # switch with a fallthrough case, a && || ?? chain, a default parameter, an implicit else
    # and nested ternaries: each branch location of each branchMap entry counts once.
    assert files["branches.js"].branches == {3: (4, 4), 15: (4, 4), 18: (1, 2), 23: (1, 2), 29: (3, 4)}
    # /* istanbul ignore next */ leaves out the `if` at line 4 and ignoredFn (line 12); the
    # c8 ignore comments mean nothing to istanbul (line 17); `ignore else` leaves one branch.
    ignored = files["ignored.js"]
    assert 4 not in ignored.lines and 12 not in ignored.lines and ignored.lines[17] == 0
    assert ignored.branches == {28: (1, 1)}


def test_files_never_loaded_empty_or_only_comments():
    # nyc --all lists every file under src/: the one never required with all its lines
    # uncovered, the empty file and the one of comments with no lines at all.
    for report in REPORTS:
        files = _by_name(_read("nyc-all", report)[2])
        assert sorted(files) == ["branches.js", "comments.js", "empty.js", "ignored.js", "never.js", "shapes.js"]
        assert files["empty.js"].lines == {} and files["comments.js"].lines == {}
        assert files["never.js"].lines == {4: 0, 5: 0, 7: 0, 10: 0}
    # V8 coverage counts every line of a loaded file, comments too, and Vitest leaves the
    # empty file with none; a file never loaded is one uncovered function '(empty-report)'.
    jest_v8 = _by_name(_read("jest-v8", "coverage-final.json")[2])
    assert jest_v8["comments.js"].lines == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    assert jest_v8["never.js"].functions == [("(empty-report)", 1, 0)]
    assert _by_name(_read("vitest-v8", "lcov.info")[2])["empty.js"].lines == {}
    # Vitest's istanbul provider leaves files without statements out altogether.
    assert sorted(_by_name(_read("vitest-istanbul", "lcov.info")[2])) == [
        "branches.js", "ignored.js", "never.js", "shapes.js"
    ]


@pytest.mark.parametrize("run", ["c8-ts", "c8-tsx"])
def test_c8_maps_typescript_back_to_its_sources(run):
    for report in REPORTS:
        records = _read(run, report)[2]
        assert sorted(fc.path.rsplit("/src/", 1)[-1].removeprefix("src/") for fc in records) == [
            "calc.ts", "types.ts", "unused.ts"
        ]
        calc = _by_name(records)["calc.ts"]
        # Acc.reset() (lines 31-33) is never called; its body is uncovered in the .ts.
        assert calc.lines[32] == 0 and calc.lines[29] == 1
        # unused.ts is never imported: c8 --all reports all its lines uncovered.
        assert set(_by_name(records)["unused.ts"].lines.values()) == {0}


def test_lcov_records_of_one_file_add_up_functions_of_one_name(tmp_path):
    # One record per test name (lcov -a, geninfo --test-name): the same two functions named
    # alike in each record, hits added per function across the records. Hand-written in the
    # shape lcov 1.x merges istanbul tracefiles into.
    path = tmp_path / "merged.info"
    path.write_text(
        "TN:first\nSF:src/a.js\nFN:2,helper\nFN:5,helper\nFNDA:1,helper\nFNDA:0,helper\nDA:3,1\nDA:6,0\n"
        "LF:2\nLH:1\nend_of_record\n"
        "TN:second\nSF:src/a.js\nFN:2,helper\nFN:5,helper\nFNDA:2,helper\nFNDA:3,helper\nDA:3,2\nDA:6,3\n"
        "LF:2\nLH:2\nend_of_record\n"
    )
    _, stream, records = read_report(path)
    (a,) = records
    assert a.functions == [("helper", 2, 3), ("helper", 5, 3)]
    assert a.lines == {3: 3, 6: 3}
    assert stream.info.warnings == []


def test_lcov_fnda_before_its_fn_is_that_function(tmp_path):
    # Out of the usual order (hand-written; the format puts FN first): still one function.
    path = tmp_path / "order.info"
    path.write_text("SF:a.js\nFNDA:3,f\nFN:2,f\nDA:2,1\nend_of_record\n")
    (a,) = read_report(path)[2]
    assert a.functions == [("f", 2, 3)]
