"""One coverage run written in every format its tool writes gives one canonical record per file
(lines and their hits, branches per line, functions, the file's path), and shards of one run sent
in different formats merge to what the tool reports for the shards together.

The fixtures are under fixtures/coverage/samerun/, written by fixtures/coverage/regenerate-more.sh
samerun with the real tools, on samerun/sample/: coverage.py (branches, a `# pragma: no branch`
line that runs and one that never does, excluded code, a module never imported, empty
__init__.py files), its two shards run apart and their data files combined by `coverage
combine`; nyc and c8 (--all: a module no test loads), their two shards, and what the tool
reports for both (nyc: both shards' per-process files reported together; c8: one run of both
shards' tests). The oracles are the tools' own summaries: `coverage report -m` (report.txt),
istanbul's coverage-summary.json and its text table (text.txt)."""

import json
import re

import pytest

from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import merge_coverage, merged_totals
from crossbridge_assets.formats._paths import source_folder_prefix
from crossbridge_assets.model import CoverageTotals, FileCoverage
from crossbridge_assets.warehouse.coverage import coverage_runs, merge_run, run_merge
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import ingest, refresh
from crossbridge_assets_tests.test_ingest_e2e import drop

SAME = FIXTURES / "coverage" / "samerun"
PY, NYC, C8 = SAME / "python", SAME / "nyc", SAME / "c8"
JS_ROOT = "/tmp/crossbridge-coverage-more/samerun/js"  # where the regenerate script ran nyc and c8
PY_FORMATS = ("coverage.xml", "coverage.json", "coverage.lcov")
JS_FORMATS = ("lcov.info", "coverage-final.json", "cobertura-coverage.xml")
PY_FILES = {"src/inv/__init__.py", "src/inv/report.py", "src/inv/stock.py", "src/inv/sub/__init__.py",
            "src/inv/sub/const.py", "src/inv/unused.py"}
JS_FILES = {"src/cart.js", "src/ship.js", "src/never.js"}


def read(path, roots=()) -> dict[str, FileCoverage]:
    return merge_coverage([open_report(path)], roots)


def lines_and_branches(files: dict[str, FileCoverage]) -> dict[str, tuple]:
    """Per file: its lines, those covered, and its branches per line (covered, total)."""
    return {path: (sorted(fc.lines), sorted(n for n, h in fc.lines.items() if h), dict(sorted(fc.branches.items())))
            for path, fc in files.items()}


def functions(files: dict[str, FileCoverage]) -> dict[str, list]:
    """Per file: its functions (name, line, whether it ran)."""
    return {path: sorted((name, line, hits > 0) for name, line, hits in fc.functions) for path, fc in files.items()}


def per_file(files: dict[str, FileCoverage]) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for path, fc in files.items():
        t = CoverageTotals()
        t.add(fc)
        out[path] = (t.lines_valid, t.lines_covered, t.branches_valid, t.branches_covered)
    return out


_ROW = re.compile(r"^(\S+\.py)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%")


def coverage_report(path) -> dict[str, tuple[int, int, int, int]]:
    """`coverage report -m`: file -> (statements, missing, branches, partial)."""
    return {m[1]: tuple(map(int, m.groups()[1:])) for m in map(_ROW.match, path.read_text().splitlines())
            if m and m[1] != "TOTAL"}


def istanbul_summary(path) -> dict[str, tuple[int, int, int, int, int, int]]:
    """coverage-summary.json: file (from the sample's folder) -> (lines, covered, branches,
    covered, functions, covered), and 'total'."""
    out = {}
    for name, s in json.loads(path.read_text()).items():
        key = name.removeprefix(JS_ROOT + "/")
        out[key] = (s["lines"]["total"], s["lines"]["covered"], s["branches"]["total"], s["branches"]["covered"],
                    s["functions"]["total"], s["functions"]["covered"])
    return out


# ---------------------------------------------------------------------------- functions


@pytest.mark.parametrize("first, second", [("lcov.info", "coverage-final.json"), ("coverage-final.json", "lcov.info"),
                                           ("lcov.info", "lcov.info")])
def test_nyc_shards_merge_their_functions_to_what_nyc_reports_for_both(first, second):
    """nyc --all lists ship.js's cost() unrun in shard 1 and run in shard 2: run, in the union."""
    merged = merge_coverage([open_report(NYC / "shard1" / first), open_report(NYC / "shard2" / second)], [JS_ROOT])
    combined = read(NYC / "combined" / "coverage-final.json", [JS_ROOT])
    assert functions(merged) == functions(combined)
    assert ("cost", 2, True) in functions(merged)["src/ship.js"]
    summary = istanbul_summary(NYC / "combined" / "coverage-summary.json")
    for path, fns in functions(merged).items():
        assert (len(fns), sum(ran for *_, ran in fns)) == summary[path][4:]


def test_coveragepy_shards_merge_their_functions_to_the_combined_data():
    merged = merge_coverage([open_report(PY / "shard1" / "coverage.json"), open_report(PY / "shard2" / "coverage.lcov")])
    combined = read(PY / "combined" / "coverage.json")
    assert functions(merged) == functions(combined)
    assert ("summary", 4, True) in functions(merged)["src/inv/report.py"]  # shard 2 only


# ---------------------------------------------------------------------------- shards, JavaScript


@pytest.mark.parametrize("first, second", [(a, b) for a in ("lcov.info", "coverage-final.json")
                                           for b in ("lcov.info", "coverage-final.json")])
def test_nyc_shards_in_two_formats_merge_to_what_nyc_reports_for_both(first, second):
    """istanbul numbers a file's branches from its code alone, in its LCOV (BRDA block = branch
    id, branch = index) as in coverage-final.json: shard 1 takes `if (member)`, shard 2 the
    fall-through, and the union has both, as nyc reporting both shards' files does."""
    merged = merge_coverage([open_report(NYC / "shard1" / first), open_report(NYC / "shard2" / second)], [JS_ROOT])
    combined = read(NYC / "combined" / "coverage-final.json", [JS_ROOT])
    assert set(merged) == JS_FILES
    assert lines_and_branches(merged) == lines_and_branches(combined)
    assert merged["src/cart.js"].branches[4] == (2, 2)
    summary = istanbul_summary(NYC / "combined" / "coverage-summary.json")
    for path, figures in per_file(merged).items():
        assert figures == summary[path][:4]


# ---------------------------------------------------------------------------- formats, coverage.py


@pytest.mark.parametrize("report", PY_FORMATS)
def test_coveragepy_formats_of_one_run_count_each_file_as_coverage_report_does(report):
    """Statements, missing, branches as `coverage report -m` prints them, file by file: the
    line `if qty <= 0:  # pragma: no branch` ran one way, and coverage.py counts both of its
    branches as taken (its XML: '100% (2/2)'), though its JSON and LCOV list only the one that ran."""
    oracle = coverage_report(PY / "combined" / "report.txt")
    assert set(oracle) == PY_FILES
    files = read(PY / "combined" / report)
    assert set(files) == PY_FILES
    assert files["src/inv/stock.py"].branches[10] == (2, 2)
    for path, (valid, covered, branches, _) in per_file(files).items():
        statements, missing, oracle_branches, _partial = oracle[path]
        assert (valid, covered) == (statements, statements - missing), path
        if path == "src/inv/sub/const.py" and report != "coverage.xml":
            # `if X:  # pragma: no branch` in a module never imported: coverage.py counts its two
            # branches (taken), its XML puts them on line 2, its JSON and LCOV list neither, so
            # their records cannot place them. The file's own counts still hold them.
            assert branches == 0 and oracle_branches == 2
            stream = open_report(PY / "combined" / report)
            stream.read_all()
            assert stream.file_totals["src/inv/sub/const.py"].branches_valid == 2
            assert stream.effective_totals.branches_valid == 26
        else:
            assert branches == oracle_branches, path


_TOTAL = re.compile(r"^TOTAL\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%")


@pytest.mark.parametrize("report", PY_FORMATS)
def test_crossbridge_parse_gives_coverage_reports_totals_for_every_coveragepy_format(report, capsys):
    (statements, missing, branches, _partial), = (tuple(map(int, m.groups())) for m in
                                                  map(_TOTAL.match, (PY / "combined" / "report.txt").read_text().splitlines()) if m)
    covered_branches = json.loads((PY / "combined" / "coverage.json").read_text())["totals"]["covered_branches"]
    code, out, err = run_cli(capsys, "parse", str(PY / "combined" / report), "--json")
    assert code == 0, err
    parsed = json.loads(out)
    assert parsed["totals"] == {"files": 6, "lines_valid": statements, "lines_covered": statements - missing,
                                "branches_valid": branches, "branches_covered": covered_branches}
    assert parsed["warnings"] == []


def test_coveragepy_formats_of_one_run_give_the_same_records():
    """Line by line: hits, branches per line and the branches not taken, by name."""
    xml, js, lcov = (read(PY / "combined" / r) for r in PY_FORMATS)
    no_line = {"src/inv/sub/const.py": {2: (2, 2)}}  # the never-run no-branch line (see above)
    for other in (js, lcov):
        assert set(other) == set(xml) == PY_FILES
        for path, fc in other.items():
            assert fc.lines == xml[path].lines, path
            assert {**fc.branches, **no_line.get(path, {})} == xml[path].branches, path
            assert fc.branch_missing == xml[path].branch_missing, path
    assert functions(js) == functions(lcov)  # coverage.py's XML has no functions
    assert xml["src/inv/stock.py"].branch_missing[41] == frozenset({"44"})  # `for` that never finished


# ---------------------------------------------------------------------------- shards, coverage.py


@pytest.mark.parametrize("first, second", [(a, b) for a in PY_FORMATS for b in PY_FORMATS])
def test_coveragepy_shards_in_two_formats_merge_to_what_coverage_combine_reports(first, second):
    """Shard 1 takes `if have < qty` one way and `match` to `case int()`, shard 2 the other ways:
    the union is coverage.py's own union of the shards' data files (`coverage combine`)."""
    merged = merge_coverage([open_report(PY / "shard1" / first), open_report(PY / "shard2" / second)])
    combined = read(PY / "combined" / "coverage.xml")
    assert set(merged) == PY_FILES
    got, want = lines_and_branches(merged), lines_and_branches(combined)
    placed = "coverage.xml" in (first, second)  # only the XML places const.py's never-run no-branch line
    if not placed:
        assert got["src/inv/sub/const.py"][2] == {}
        got["src/inv/sub/const.py"][2][2] = (2, 2)
    assert got == want
    assert merged["src/inv/stock.py"].branches[60] == (2, 2)
    oracle = coverage_report(PY / "combined" / "report.txt")
    for path, (valid, covered, branches, _) in per_file(merged).items():
        statements, missing, oracle_branches, _partial = oracle[path]
        assert (valid, covered) == (statements, statements - missing), path
        assert branches == (oracle_branches if placed or path != "src/inv/sub/const.py" else 0), path


@pytest.mark.parametrize("second", ["shard2.lcov", "shard2.json"])
def test_coveragepy_xml_named_from_its_source_folder_joins_the_other_formats_paths(second):
    """`--cov=src` (source a folder, without relative_files) in a folder that is no known CI
    checkout: the XML names 'inv/stock.py' from <source>/tmp/.../python/src</source>, the
    LCOV and JSON 'src/inv/stock.py' from the working directory. One file, one path: the
    XML's folder is 'src/' of the run's other paths."""
    srcdir = PY / "srcdir"
    merged = merge_coverage([open_report(srcdir / "shard1.xml"), open_report(srcdir / second)])
    assert set(merged) == PY_FILES
    got, want = lines_and_branches(merged), lines_and_branches(read(PY / "combined" / "coverage.xml"))
    assert got == want


@pytest.mark.parametrize("first, second", [(a, b) for a in PY_FORMATS[1:] for b in PY_FORMATS[1:]])
def test_a_run_of_coveragepy_json_and_lcov_shards_counts_the_branches_no_shard_could_place(first, second):
    """The run (merge_run: each report's records and its own counts) counts const.py's never-run
    no-branch line as coverage.py does, taken, though no JSON or LCOV shard puts it on a line."""
    shards = []
    for folder, name in (("shard1", first), ("shard2", second)):
        stream = open_report(PY / folder / name)
        shards.append((stream.read_all(), dict(stream.file_totals)))
    run = merge_run(shards)
    totals = json.loads((PY / "combined" / "coverage.json").read_text())["totals"]
    assert (run.totals.files, run.totals.lines_valid, run.totals.lines_covered, run.totals.branches_valid,
            run.totals.branches_covered) == (6, totals["num_statements"], totals["covered_lines"],
                                             totals["num_branches"], totals["covered_branches"])
    figures = {r["file"]: (r["branches_valid"], r["branches_covered"]) for r in run.file_figures()}
    assert figures["src/inv/sub/const.py"] == (2, 2) and figures["src/inv/stock.py"] == (18, 15)


# ---------------------------------------------------------------------------- formats, JavaScript


@pytest.mark.parametrize("tool", ["nyc", "c8"])
def test_js_formats_of_one_run_give_the_same_records_and_the_tools_counts(tool):
    folder = SAME / tool / "combined"
    lcov, final, cobertura = (read(folder / r, [JS_ROOT]) for r in JS_FORMATS)
    assert set(lcov) == set(final) == set(cobertura) == JS_FILES
    assert lines_and_branches(lcov) == lines_and_branches(final)
    assert functions(lcov) == functions(final)
    cob = lines_and_branches(cobertura)
    if tool == "nyc":
        # istanbul's cobertura writes no branch on a line without a statement: the default
        # parameter's on `function price(item, member = false) {` (see test_coverage_js_tools).
        assert final["src/cart.js"].branches[3] == (1, 1) and 3 not in cobertura["src/cart.js"].branches
        cob["src/cart.js"][2][3] = (1, 1)
        cob["src/cart.js"] = (cob["src/cart.js"][0], cob["src/cart.js"][1], dict(sorted(cob["src/cart.js"][2].items())))
    assert cob == lines_and_branches(final)
    summary = istanbul_summary(folder / "coverage-summary.json")
    for path, figures in per_file(final).items():
        assert figures == summary[path][:4], path
        assert (len(functions(final)[path]), sum(r for *_, r in functions(final)[path])) == summary[path][4:], path
    # The text table: % Stmts, % Branch, % Funcs, % Lines of all files, from the same counts.
    table = re.search(r"All files \|" + r"\s*([\d.]+)\s*\|" * 4, (folder / "text.txt").read_text())
    _stmts, branch_pct, funcs_pct, line_pct = map(float, table.groups())
    t = merged_totals(final)
    fns = [ran for fs in functions(final).values() for *_, ran in fs]
    assert line_pct == pytest.approx(100 * t.lines_covered / t.lines_valid, abs=0.01)
    assert branch_pct == pytest.approx(100 * t.branches_covered / t.branches_valid, abs=0.01)
    assert funcs_pct == pytest.approx(100 * sum(fns) / len(fns), abs=0.01)


# ---------------------------------------------------------------------------- through the product


def send(settings, folder: str, name: str, source, **manifest) -> None:
    """One CI shard's upload: its report and the crossbridge.json beside it."""
    drop(settings, name, folder, source=source)
    (settings.inbox / folder / "crossbridge.json").write_text(json.dumps(
        {"project": "inv", "branch": "main", "shards_expected": 2, **manifest}))


def test_shards_sent_in_two_formats_are_one_run_with_the_tools_figures(crossbridge_env, dagster_instance):
    """coverage.py shard 1 as XML, shard 2 as LCOV; nyc shard 1 as LCOV, shard 2 as
    coverage-final.json (absolute paths: the runner's folder announced as a source root)."""
    s = crossbridge_env
    send(s, "py1", "coverage.xml", PY / "shard1" / "coverage.xml", build="40", shard="1")
    send(s, "py2", "coverage.lcov", PY / "shard2" / "coverage.lcov", build="40", shard="2")
    # The same shards measured with `--cov=src` in a folder no one announced: the XML names its
    # files from its <source> folder.
    send(s, "src1", "coverage.xml", PY / "srcdir" / "shard1.xml", build="42", shard="1")
    send(s, "src2", "coverage.lcov", PY / "srcdir" / "shard2.lcov", build="42", shard="2")
    # And as JSON and LCOV, neither of which puts const.py's never-run no-branch line on a line.
    send(s, "js-py1", "coverage.json", PY / "shard1" / "coverage.json", build="43", shard="1")
    send(s, "js-py2", "coverage.lcov", PY / "shard2" / "coverage.lcov", build="43", shard="2")
    roots = {"source_roots": [JS_ROOT]}
    send(s, "js1", "lcov.info", NYC / "shard1" / "lcov.info", build="41", shard="1", **roots)
    send(s, "js2", "coverage-final.json", NYC / "shard2" / "coverage-final.json", build="41", shard="2", **roots)
    ingest(dagster_instance)
    refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    runs = {r["build"]: r for r in coverage_runs(engine)}
    assert set(runs) == {"40", "41", "42", "43"} and all(r["complete"] and r["shards_seen"] == 2 for r in runs.values())
    figures = ("files", "lines_valid", "lines_covered", "branches_valid", "branches_covered")

    py = coverage_report(PY / "combined" / "report.txt")
    py_totals = json.loads((PY / "combined" / "coverage.json").read_text())["totals"]
    assert {k: runs["40"][k] for k in figures} == {
        "files": len(py), "lines_valid": py_totals["num_statements"], "lines_covered": py_totals["covered_lines"],
        "branches_valid": py_totals["num_branches"], "branches_covered": py_totals["covered_branches"]}
    merged = run_merge(engine, runs["40"]["run_id"]).files
    assert lines_and_branches(merged) == lines_and_branches(read(PY / "combined" / "coverage.xml"))
    assert {k: runs["42"][k] for k in figures} == {k: runs["40"][k] for k in figures}
    assert set(run_merge(engine, runs["42"]["run_id"]).files) == PY_FILES
    assert {k: runs["43"][k] for k in figures} == {k: runs["40"][k] for k in figures}

    nyc = istanbul_summary(NYC / "combined" / "coverage-summary.json")["total"]
    assert {k: runs["41"][k] for k in figures} == dict(zip(figures, (3, *nyc[:4])))
    merged = run_merge(engine, runs["41"]["run_id"]).files
    combined = read(NYC / "combined" / "coverage-final.json", [JS_ROOT])
    assert lines_and_branches(merged) == lines_and_branches(combined)
    assert functions(merged) == functions(combined)


def test_a_source_folder_is_found_only_where_the_other_reports_name_most_of_the_xmls_files():
    known = {"src/inv/stock.py", "src/inv/report.py", "tests/conftest.py"}
    assert source_folder_prefix({"inv/stock.py", "inv/report.py", "inv/only_here.py"}, known) == "src/"
    assert source_folder_prefix({"src/inv/stock.py", "inv/report.py"}, known) is None  # one as it is
    # Shards that measured other files: one top-level conftest.py says nothing of the rest.
    assert source_folder_prefix({"conftest.py", "app/a.py", "app/b.py"}, known) is None
    assert source_folder_prefix({"stock.py", "conftest.py"}, known) is None  # two folders
