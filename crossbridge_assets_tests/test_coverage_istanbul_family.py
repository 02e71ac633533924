"""Coverage readers against more of the istanbul family as the tools write it: nyc 14 and 17
(istanbul-reports 2 and 3) on one small module and on tsc output with source maps, including
nyc's raw per-process files whose entries carry `inputSourceMap`. The fixtures are under
fixtures/coverage/istanbulfam/<run>/, written by fixtures/coverage/istanbulfam/regenerate-istanbulfam.sh
(called by fixtures/coverage/regenerate.sh istanbulfam); text.txt beside them is the text table
and summary the tool printed, which the readers are held to here.
"""

from __future__ import annotations

import json
import re

import pytest

from crossbridge_assets.formats import detect, read_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets.formats._coverage import merged_totals
from crossbridge_assets.model import CoverageTotals, FileCoverage
from crossbridge_assets_tests.conftest import FIXTURES

FAMILY = FIXTURES / "coverage" / "istanbulfam"
WORK = "/tmp/crossbridge-coverage-istanbulfam"  # where the regenerate script runs them
REPORTS = ["coverage-final.json", "lcov.info", "cobertura-coverage.xml"]

_SUMMARY = re.compile(r"^(Statements|Branches|Functions|Lines)\s*:\s*\S+\s*\(\s*(\d+)/(\d+)\s*\)", re.M)


def _printed(run: str) -> tuple[dict[str, tuple[int, int]], list[tuple[str, list[str]]]]:
    """The tool's text-summary as {metric: (covered, total)}, and its text table's file rows
    as (file name, [% Stmts, % Branch, % Funcs, % Lines])."""
    text = (FAMILY / run / "text.txt").read_text()
    summary = {m: (int(c), int(t)) for m, c, t in _SUMMARY.findall(text)}
    rows = []
    for row in text.splitlines():
        cells = [c.strip() for c in row.split("|")]
        if row.startswith(" ") and len(cells) > 5 and cells[0].endswith((".js", ".ts")):
            rows.append((cells[0], cells[1:5]))
    return summary, rows


def _expected(run: str) -> dict:
    summary, rows = _printed(run)
    return {
        "files": len(rows),
        "lines_valid": summary["Lines"][1],
        "lines_covered": summary["Lines"][0],
        "branches_valid": summary["Branches"][1],
        "branches_covered": summary["Branches"][0],
    }


def _views(paths, root: str) -> dict:
    # Streams read inside the merge, with the root in effect (as ingestion reads them): a
    # Cobertura <source> outside every known workspace is joined only when a root covers it.
    return merge_coverage([detect(p).open(p) for p in paths], source_roots=(root,))


def _per_file(files: dict) -> dict:
    return {path: (fc.lines, fc.branches, sorted(fc.functions, key=str)) for path, fc in files.items()}


def _percent(covered: int, total: int) -> float:
    return 100.0 if total == 0 else 100.0 * covered / total


def _same_percent(covered: int, total: int, printed: str) -> bool:
    # istanbul-reports 2 rounds to two decimals (66.67), 3 truncates (66.66).
    return abs(_percent(covered, total) - float(printed)) < 0.01


@pytest.mark.parametrize("run", ["nyc14", "nyc17", "jest30-mono/root", "jest30-mono/package-a", "jest30-mono/package-b",
                                 "c8-shards/shard-1", "c8-shards/shard-2", "c8-shards/merged"])
def test_reports_count_what_the_tool_prints(run):
    expected = _expected(run)
    for report, fmt in (("coverage-final.json", "istanbul-final"), ("coverage-summary.json", "istanbul-summary"),
                        ("lcov.info", "lcov"), ("cobertura-coverage.xml", "cobertura")):
        spec, stream, records = read_report(FAMILY / run / report)
        list(records)
        assert spec.name == fmt
        assert stream.effective_totals.as_dict() == expected, report
        assert stream.info.warnings == [], report
    covered, total = _printed(run)[0]["Functions"]
    for report in ("coverage-final.json", "lcov.info"):
        functions = [f for fc in read_report(FAMILY / run / report)[2] for f in fc.functions]
        assert (sum(1 for f in functions if f[2] > 0), len(functions)) == (covered, total), report


@pytest.mark.parametrize("run", ["nyc14", "nyc17"])
def test_nyc_reports_of_one_run_agree_per_file_with_its_table(run):
    root = f"{WORK}/{run}"
    views = [_views([FAMILY / run / report], root) for report in REPORTS]
    lines = [{p: (fc.lines, fc.branches) for p, fc in v.items()} for v in views]
    assert lines[0] == lines[1] == lines[2]
    rows = dict(_printed(run)[1])
    assert sorted(p.rsplit("/", 1)[-1] for p in lines[0]) == sorted(rows)
    for path, fc in views[0].items():
        t = CoverageTotals()
        t.add(fc)
        _, branch, funcs, line = rows[path.rsplit("/", 1)[-1]]
        assert _same_percent(t.lines_covered, t.lines_valid, line), path
        assert _same_percent(t.branches_covered, t.branches_valid, branch), path
        assert _same_percent(sum(1 for f in fc.functions if f[2] > 0), len(fc.functions), funcs), path


def test_nyc14_leaves_source_mapped_typescript_out_of_its_reports():
    # nyc 14 remaps tsc output in the child process and its report step drops the result: the
    # tool's own quirk, every one of its reports and its table agree on one file.
    for report in REPORTS:
        assert list(_views([FAMILY / "nyc14" / report], f"{WORK}/nyc14")) == ["src/calc.js"], report
    assert [name for name, _ in _printed("nyc14")[1]] == ["calc.js"]


def test_raw_nyc_output_is_mapped_back_to_the_typescript_source():
    # nyc's .nyc_output file for dist/shapes.js (tsc output) holds the JavaScript's positions and
    # the map in inputSourceMap; nyc maps it to ts/shapes.ts when it reports. Read alone, it is
    # ts/shapes.ts with the counts nyc prints for it, not dist/shapes.js with its own.
    raw = FAMILY / "nyc17" / "nyc_output" / "shapes.json"
    assert next(iter(json.loads(raw.read_text()).values()))["inputSourceMap"]["sources"] == ["../ts/shapes.ts"]
    spec, stream, records = read_report(raw)
    (shapes,) = list(records)
    assert spec.name == "istanbul-final" and stream.info.warnings == []
    assert shapes.path == f"{WORK}/nyc17/ts/shapes.ts"
    final = {fc.path: fc for fc in read_report(FAMILY / "nyc17" / "coverage-final.json")[2]}[shapes.path]
    assert shapes.lines == final.lines and shapes.branches == final.branches
    # Its branches are named as nyc's mapped report names them, so the two merge branch by branch.
    assert shapes.branch_missing == final.branch_missing and shapes.branch_missing
    assert shapes.functions == final.functions
    assert shapes.lines == {6: 1, 7: 1, 8: 0, 10: 1, 13: 1, 14: 1, 17: 1, 18: 0}


def test_raw_nyc_output_files_merge_into_what_nyc_reports():
    root = f"{WORK}/nyc17"
    raw = _views(sorted((FAMILY / "nyc17" / "nyc_output").glob("*.json")), root)
    final = _views([FAMILY / "nyc17" / "coverage-final.json"], root)
    assert sorted(raw) == ["src/calc.js", "ts/shapes.ts"]
    assert _per_file(raw) == _per_file(final)


def _with_map(tmp_path, source_map) -> object:
    raw = json.loads((FAMILY / "nyc17" / "nyc_output" / "shapes.json").read_text())
    (entry,) = raw.values()
    entry["inputSourceMap"] = source_map
    path = tmp_path / "out.json"
    path.write_text(json.dumps(raw))
    return read_report(path)


def test_an_input_source_map_that_cannot_be_read_is_noted_and_the_file_read_as_written(tmp_path):
    # Hand-written: a map whose mappings are not base64 VLQ (source-map throws on it).
    _, stream, records = _with_map(tmp_path, {"version": 3, "sources": ["../ts/shapes.ts"], "mappings": "!!"})
    (fc,) = list(records)
    assert fc.path == f"{WORK}/nyc17/dist/shapes.js"
    assert len(stream.info.warnings) == 1 and "inputSourceMap cannot be read" in stream.info.warnings[0]


def test_source_root_and_absolute_sources_name_the_original(tmp_path):
    source_map = json.loads((FAMILY / "nyc17" / "nyc_output" / "shapes.json").read_text())
    (entry,) = source_map.values()
    smap = dict(entry["inputSourceMap"], sourceRoot="/repo/app/", sources=["ts/shapes.ts"])
    (fc,) = list(_with_map(tmp_path, smap)[2])
    assert fc.path == "/repo/app/ts/shapes.ts"
    assert len(fc.lines) == 8


def _karma_folder():
    (folder,) = (FAMILY / "karma").glob("Chrome Headless *")
    return folder


def test_karma_coverage_in_chromium_counts_what_it_prints_under_no_browser_folder():
    # karma-coverage writes each browser's reports under coverage/<browser name>/; the files
    # in them are named from the project folder, which the browser folder is no part of.
    expected = {**_expected("karma"), "files": 1}
    folder = _karma_folder()
    covered, total = _printed("karma")[0]["Functions"]
    for report, fmt in (("coverage-final.json", "istanbul-final"), ("coverage-summary.json", "istanbul-summary"),
                        ("lcov.info", "lcov"), ("cobertura-coverage.xml", "cobertura")):
        spec, stream, records = read_report(folder / report)
        records = list(records)
        assert spec.name == fmt
        assert stream.effective_totals.as_dict() == expected, report
        assert stream.info.warnings == [], report
        if fmt != "istanbul-summary":
            assert list(_views([folder / report], f"{WORK}/karma")) == ["src/calc.js"], report
            assert "Chrome" not in records[0].path
        if fmt in ("istanbul-final", "lcov"):
            functions = records[0].functions
            assert (sum(1 for f in functions if f[2] > 0), len(functions)) == (covered, total), report
    lines = [{p: (fc.lines, fc.branches) for p, fc in _views([folder / r], f"{WORK}/karma").items()} for r in REPORTS]
    assert lines[0] == lines[1] == lines[2]


@pytest.mark.parametrize("report", REPORTS)
def test_karma_and_nyc_measures_of_one_file_merge_into_one(report):
    # The same src/calc.js measured in the browser (karma) and in node (nyc 17): one file, the
    # same lines; node took line 16's `module.exports`, the browser line 17's `globalThis.calc`.
    karma = _views([_karma_folder() / report], f"{WORK}/karma")["src/calc.js"]
    nyc = _views([FAMILY / "nyc17" / report], f"{WORK}/nyc17")["src/calc.js"]
    assert sorted(karma.lines) == sorted(nyc.lines)
    assert (karma.lines[16], karma.lines[17], nyc.lines[16], nyc.lines[17]) == (1, 1, 1, 0)
    merged = merge_coverage([read_report(_karma_folder() / report)[2], read_report(FAMILY / "nyc17" / report)[2]],
                            source_roots=(f"{WORK}/karma", f"{WORK}/nyc17"))
    assert sorted(merged) == ["src/calc.js", "ts/shapes.ts"]
    calc = merged["src/calc.js"]
    assert sorted(calc.lines) == sorted(nyc.lines) and calc.lines[17] == 1 and calc.lines[12] == 0


MONO = f"{WORK}/jest30-mono/mono"  # the monorepo's top, where the root run ran


def test_jest_monorepo_from_the_root_names_each_package_s_files_apart():
    # Jest 30 (v8) from the monorepo's top with both packages as projects: every format names
    # files from the top, so the two src/util.js stay two files; never.js, which no test
    # loads, is listed by collectCoverageFrom with every line uncovered.
    expected = ["packages/a/src/never.js", "packages/a/src/util.js", "packages/b/src/util.js"]
    for report in REPORTS:
        files = _views([FAMILY / "jest30-mono" / "root" / report], MONO)
        assert sorted(files) == expected, report
        assert files["packages/a/src/never.js"].lines == dict.fromkeys(range(1, 8), 0), report
        assert files["packages/a/src/util.js"].lines != files["packages/b/src/util.js"].lines
    # Without a configured root, the JSON's absolute paths stay whole and distinct, LCOV's and
    # Cobertura's relative ones are as written: the same three names in each.
    plain = [sorted(fc.path.removeprefix(MONO + "/") for fc in read_report(FAMILY / "jest30-mono" / "root" / r)[2])
             for r in REPORTS]
    assert plain == [expected] * 3


@pytest.mark.parametrize("package", ["a", "b"])
def test_jest_run_from_a_package_names_files_as_the_root_run_where_the_report_says_where(package):
    # Run from packages/<p> (its own rootDir): the JSON names files absolutely and Cobertura
    # from a <source> of the package folder, so with the monorepo's top as source root both
    # name them as the root run does, with the same lines. The LCOV names them from the
    # package folder only ('src/util.js' for both packages): nothing in it says which
    # package, and only a report written from the top, or one of the others, tells them apart.
    run = FAMILY / "jest30-mono" / f"package-{package}"
    root = _views([FAMILY / "jest30-mono" / "root" / "coverage-final.json"], MONO)
    for report in ("coverage-final.json", "cobertura-coverage.xml"):
        files = _views([run / report], MONO)
        assert sorted(files) and all(p.startswith(f"packages/{package}/src/") for p in files), report
        assert {p: fc.lines for p, fc in files.items()} == {p: root[p].lines for p in files}, report
    lcov = _views([run / "lcov.info"], MONO)
    assert all(p.startswith("src/") for p in lcov)
    assert {p: fc.lines for p, fc in lcov.items()} == {
        p.removeprefix(f"packages/{package}/"): fc.lines for p, fc in _views([run / "coverage-final.json"], MONO).items()
    }


SHARDS = FAMILY / "c8-shards"
C8_ROOT = f"{WORK}/c8-shards"


@pytest.mark.parametrize("report", ["coverage-final.json", "lcov.info"])
def test_c8_shards_merge_into_what_c8_report_merges(report):
    # c8 --all in two runs, each loading one of the two files: each shard lists the file it
    # did not load as V8's stand-in (every line uncovered, one function '(empty-report)' and
    # one branch on line 1). c8 merging the runs keeps only the measured file; so does the
    # merge of the two shards' reports, file by file and in its totals.
    shards = _views([SHARDS / "shard-1" / report, SHARDS / "shard-2" / report], C8_ROOT)
    merged = _views([SHARDS / "merged" / report], C8_ROOT)
    assert sorted(shards) == sorted(merged) == ["src/calc.js", "ts/shapes.ts"]
    assert _per_file(shards) == _per_file(merged)
    assert merged_totals(shards).as_dict() == _expected("c8-shards/merged")
    functions = [f for fc in shards.values() for f in fc.functions]
    assert (sum(1 for f in functions if f[2] > 0), len(functions)) == _printed("c8-shards/merged")[0]["Functions"]
    # In either order.
    backwards = _views([SHARDS / "shard-2" / report, SHARDS / "shard-1" / report], C8_ROOT)
    assert _per_file(backwards) == _per_file(merged)


def test_c8_shards_cobertura_lines_merge_and_its_stand_in_branch_stays():
    # Cobertura's <methods> are not read, so the stand-in cannot be told from a file with one
    # single-outcome branch on line 1: its lines merge as c8's do, its branch is counted.
    shards = _views([SHARDS / "shard-1" / "cobertura-coverage.xml", SHARDS / "shard-2" / "cobertura-coverage.xml"], C8_ROOT)
    merged = _views([SHARDS / "merged" / "cobertura-coverage.xml"], C8_ROOT)
    assert {p: fc.lines for p, fc in shards.items()} == {p: fc.lines for p, fc in merged.items()}
    assert shards["ts/shapes.ts"].branches == {**merged["ts/shapes.ts"].branches, 1: (0, 1)}


def test_a_stand_in_adds_its_lines_only_to_a_measured_record():
    stand_in = FileCoverage(path="a.js", lines={1: 0, 2: 0, 3: 0}, branches={1: (0, 1)}, functions=[("(empty-report)", 1, 0)])
    measured = FileCoverage(path="a.js", lines={1: 1, 2: 1, 3: 0}, branches={2: (1, 2)}, functions=[("f", 2, 1)])
    assert stand_in.is_unloaded_stand_in() and not measured.is_unloaded_stand_in()
    for first, second in ((stand_in, measured), (measured, stand_in)):
        target = FileCoverage(path="a.js")
        target.merge(first)
        target.merge(second)
        assert (target.lines, target.branches, target.functions) == ({1: 1, 2: 1, 3: 0}, {2: (1, 2)}, [("f", 2, 1)])
    # Two stand-ins stay one; a real '(empty-report)' that ran, or one with lines covered, is no stand-in.
    target = FileCoverage(path="a.js")
    target.merge(stand_in)
    target.merge(stand_in)
    assert (target.branches, target.functions) == ({1: (0, 1)}, [("(empty-report)", 1, 0)])
    assert not FileCoverage(path="a.js", lines={1: 1}, branches={1: (0, 1)},
                            functions=[("(empty-report)", 1, 0)]).is_unloaded_stand_in()
    assert not FileCoverage(path="a.js", lines={1: 0}, functions=[("(empty-report)", 1, 2)]).is_unloaded_stand_in()


def test_istanbul_json_shards_that_took_different_branches_of_a_line_add_up():
    # calc.js line 16, `if (typeof module !== 'undefined') ... else ...`: node (nyc) took the
    # `if`, the browser (karma) the `else`. Istanbul numbers the branches from the code, so the
    # two JSON reports name them alike: merged, both are taken.
    karma = _karma_folder() / "coverage-final.json"
    nyc = FAMILY / "nyc17" / "coverage-final.json"
    alone = [_views([p], root)["src/calc.js"] for p, root in ((karma, f"{WORK}/karma"), (nyc, f"{WORK}/nyc17"))]
    assert [fc.branches[16] for fc in alone] == [(1, 2), (1, 2)]
    assert [fc.branch_missing[16] for fc in alone] == [frozenset({"3.0"}), frozenset({"3.1"})]
    merged = merge_coverage([detect(karma).open(karma), detect(nyc).open(nyc)],
                            source_roots=(f"{WORK}/karma", f"{WORK}/nyc17"))["src/calc.js"]
    assert merged.branches == {4: (2, 2), 5: (1, 2), 9: (2, 2), 16: (2, 2)}
    # istanbul's LCOV numbers them alike too (BRDA block = branch id): both taken. Cobertura
    # says how many were taken, not which: the larger count stands.
    for report, expected in (("lcov.info", (2, 2)), ("cobertura-coverage.xml", (1, 2))):
        merged = _views([_karma_folder() / report], f"{WORK}/karma")["src/calc.js"]
        merged.merge(_views([FAMILY / "nyc17" / report], f"{WORK}/nyc17")["src/calc.js"])
        assert merged.branches[16] == expected, report


def test_v8_json_branches_are_left_to_counts():
    # c8's branches (type 'branch') are the blocks V8 reported in that run: not named.
    for fc in read_report(SHARDS / "shard-1" / "coverage-final.json")[2]:
        assert fc.branches and fc.branch_missing == {}


def test_a_file_under_two_keys_is_two_records_each_naming_its_branches(tmp_path):
    # Hand-written: one file under two spellings of its path (both nyc-shaped entries): each
    # is given out as read, with its own names, and a merge adds them up branch by branch.
    def entry(path, hits):
        loc = {"start": {"line": 2, "column": 0}, "end": {"line": 2, "column": 9}}
        return {"path": path, "statementMap": {"0": loc}, "s": {"0": 1}, "fnMap": {}, "f": {},
                "branchMap": {"0": {"loc": loc, "type": "if", "locations": [loc, loc], "line": 2}}, "b": {"0": hits}}

    path = tmp_path / "coverage-final.json"
    path.write_text(json.dumps({"src/a.js": entry("src/a.js", [1, 0]), "./src/a.js": entry("./src/a.js", [0, 0])}))
    records = read_report(path)[2]
    assert [(fc.path, fc.branches, fc.branch_missing) for fc in records] == [("src/a.js", {2: (1, 2)}, {2: frozenset({"0.1"})}),
                                                                            ("src/a.js", {2: (0, 2)}, {2: frozenset({"0.0", "0.1"})})]
    assert merge_coverage([records])["src/a.js"].branches == {2: (1, 2)}


def test_a_bundle_s_raw_nyc_output_maps_into_each_of_its_sources():
    # esbuild bundled bundle-entry.ts and ts/shapes.ts into bundle/out.js with one map of both;
    # nyc's raw file for the bundle maps into the two sources, as nyc's own report does.
    root = f"{WORK}/nyc17-bundle"
    raw = _views([FAMILY / "nyc17-bundle" / "nyc_output.json"], root)
    final = _views([FAMILY / "nyc17-bundle" / "coverage-final.json"], root)
    assert sorted(raw) == ["bundle-entry.ts", "ts/shapes.ts"]
    assert _per_file(raw) == _per_file(final)
    assert merged_totals(raw).as_dict() == _expected("nyc17-bundle")
    functions = [f for fc in raw.values() for f in fc.functions]
    assert (sum(1 for f in functions if f[2] > 0), len(functions)) == _printed("nyc17-bundle")[0]["Functions"]
