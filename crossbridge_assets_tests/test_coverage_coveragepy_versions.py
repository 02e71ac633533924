"""What each coverage.py version still in use writes (5.5, 6.5, 7.0, 7.2, 7.4 and the newest 7.x),
read as that version's own `coverage report` counts it: the .coverage data file, its XML, JSON
and LCOV reports, per-test contexts, parallel-mode shards and data files from other machines.

Fixtures: fixtures/coverage/coveragepy-versions/, written by regenerate-coveragepy-versions.sh
(each version in its own venv, on one sample package); report.txt beside each run is the
version's `coverage report -m`, the oracle here."""

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, detect, read_report
from crossbridge_assets.formats._coverage import merge_coverage
from crossbridge_assets.formats._paths import using_source_roots

FIX = Path(__file__).parent / "fixtures" / "coverage" / "coveragepy-versions"
VERSIONS = ["5.5", "6.5.0", "7.0.5", "7.2.7", "7.4.4", "7.17.5"]
LCOV_VERSIONS = [v for v in VERSIONS if v != "5.5"]  # `coverage lcov` came with 6.3
# The regenerate script runs every version in this folder: the absolute paths it writes.
ROOT = "/tmp/crossbridge-covpy/proj"
_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%(?:\s+(.*))?$")


def report(folder: Path) -> tuple[str, dict[str, tuple[int, int, int, int]], dict[str, set[int]]]:
    """coverage.py's own `coverage report -m` of a run: its version, per file (and 'TOTAL')
    (statements, missing, branches, partial branches), and per file the missing lines."""
    text = (folder / "report.txt").read_text().splitlines()
    version = re.match(r"Coverage\.py, version (\S+)", text[0]).group(1)
    rows, missing = {}, {}
    for line in text:
        m = _ROW.match(line)
        if m:
            rows[m.group(1)] = tuple(int(m.group(i)) for i in range(2, 6))
            lines = set()
            for part in filter(None, (m.group(6) or "").split(", ")):
                if "->" in part:
                    continue  # a missing branch, not a line
                lo, _, hi = part.partition("-")
                lines.update(range(int(lo), int(hi or lo) + 1))
            missing[m.group(1)] = lines
    return version, rows, missing


def read(path: Path):
    with using_source_roots([ROOT]):
        spec, stream, records = read_report(path)
    return spec, stream, {fc.path: fc for fc in records}


def counts(stream, fc) -> tuple[int, int, int, int]:
    """(statements, missing, branches, partial) of one file as read: the report's per-file
    figures where it prefers them, else its records; partial = lines run with a branch not taken."""
    own = stream.file_totals.get(fc.path) if stream.prefer_declared else None
    valid = own.lines_valid if own else len(fc.lines)
    covered = own.lines_covered if own else sum(1 for h in fc.lines.values() if h)
    branches = own.branches_valid if own else sum(t for _c, t in fc.branches.values())
    partial = sum(1 for n, (c, t) in fc.branches.items() if c < t and fc.lines.get(n))
    return valid, valid - covered, branches, partial


NO_ARCS = ("5.5", "coveragepy-json")  # coverage.py lists branch arcs in its JSON from 6.0 on
REPORTS = [(v, "coverage.xml", "coveragepy-xml") for v in VERSIONS] + [
    (v, "coverage.json", "coveragepy-json") for v in VERSIONS] + [
    (v, "coverage.lcov", "lcov") for v in LCOV_VERSIONS]


@pytest.mark.parametrize("version, name, fmt", REPORTS)
def test_each_report_counts_as_its_coverage_report(version, name, fmt):
    folder = FIX / f"v{version}"
    written_by, rows, _ = report(folder)
    assert written_by == version
    spec, stream, files = read(folder / name)
    assert spec.name == fmt
    assert not stream.info.warnings, stream.info.warnings
    for row, figures in rows.items():
        if row == "TOTAL":
            continue
        if (version, fmt) == NO_ARCS:
            # Its summaries count the branches, but which lines they are on it does not say.
            assert files[row].branches == {}
            figures = figures[:3] + (0,)
        assert counts(stream, files[row]) == figures, (row, figures)
    stmts, miss, branches, _partial = rows["TOTAL"]
    totals = stream.effective_totals
    assert (totals.files, totals.lines_valid, totals.lines_valid - totals.lines_covered, totals.branches_valid) == (
        len(rows) - 1, stmts, miss, branches)


@pytest.mark.parametrize("version", VERSIONS)
def test_formats_of_one_run_agree_line_by_line(version):
    folder = FIX / f"v{version}"
    _, _, missing = report(folder)
    xml = read(folder / "coverage.xml")[2]
    others = [read(folder / "coverage.json")[2]]
    if version in LCOV_VERSIONS:
        others.append(read(folder / "coverage.lcov")[2])
    assert set(xml) == {p for p in missing if p != "TOTAL"}
    for path, fc in xml.items():
        assert {n for n, h in fc.lines.items() if not h} == missing[path], path
        statements = set(fc.lines)
        for files in others:
            other = files[path]
            # Before 7.13.1 (JSON) and 7.6.2 (LCOV) the line records also list lines that ran
            # but are not statements (docstrings): among the statements they agree.
            assert {n: h > 0 for n, h in other.lines.items() if n in statements} == {n: h > 0 for n, h in fc.lines.items()}
            assert not [n for n, h in other.lines.items() if not h and n not in statements]
            if files is not others[0] or version != NO_ARCS[0]:
                assert other.branches == fc.branches, path
                # The branches not taken, by destination: what lets shards add up branch by branch.
                assert other.branch_missing == fc.branch_missing, path
    cart = xml["src/shop/cart.py"]
    assert cart.branches == {6: (2, 2), 8: (1, 2), 14: (2, 2), 16: (1, 2), 35: (0, 2), 55: (1, 2)}
    assert cart.branch_missing == {8: {"9"}, 16: {"17"}, 35: {"36", "37"}, 55: {"56"}}


@pytest.mark.parametrize("version", VERSIONS)
def test_data_file_holds_what_ran_and_which_test_ran_it(version):
    folder = FIX / f"v{version}"
    spec, stream, data = read(folder / ".coverage")
    assert spec.name == "coveragepy-data" and stream.info.properties["measurement"] == "arcs"
    xml = read(folder / "coverage.xml")[2]
    for path, fc in xml.items():
        ran = set(data[path].lines) if path in data else set()
        assert ran & set(fc.lines) == {n for n, h in fc.lines.items() if h}, path
    # One context per test (dynamic_context = test_function), as `coverage json --show-contexts`
    # of the same data lists them.
    js = read(folder / "coverage.json")[1]
    # coverage.py 5.x keys the contexts of branch data by arc ends too: '-4' is no line.
    for per_test in (stream.per_test, js.per_test):
        assert min(n for files in per_test.values() for ns in files.values() for n in ns) > 0
    assert sorted(stream.per_test) == sorted(js.per_test) == [
        f"checks_cart.{t}" for t in ("test_cart", "test_describe", "test_label_big", "test_tools", "test_total")]
    for ctx, files in stream.per_test.items():
        statements = {p: set(fc.lines) for p, fc in xml.items()}
        assert {p: ns & statements[p] for p, ns in files.items()} == {
            p: ns & statements[p] for p, ns in js.per_test[ctx].items()}, ctx
    assert stream.per_test["checks_cart.test_total"]["src/shop/cart.py"] >= {5, 6, 7, 8, 10}


@pytest.mark.parametrize("version", ["5.5", "7.17.5"])
def test_parallel_mode_files_are_read_and_merge_as_shards(version):
    folder = FIX / f"v{version}" / "parallel"
    shards = sorted(folder.glob(".coverage.*"))
    assert [p.name for p in shards] == [".coverage.ci-runner-1.1001.X1y1z1", ".coverage.ci-runner-2.1002.X2y2z2"]
    read_shards = []
    for shard in shards:
        assert detect(shard).name == "coveragepy-data"  # by content: the name ends in a random suffix
        spec, stream, files = read(shard)
        read_shards.append((stream, files))
    merged = merge_coverage([list(files.values()) for _, files in read_shards], [ROOT])
    # The shards ran different tests: their union is what the whole suite ran, in one data file.
    whole = read(FIX / f"v{version}" / ".coverage")[2]
    assert {p: set(fc.lines) for p, fc in merged.items() if fc.lines} == {
        p: set(fc.lines) for p, fc in whole.items() if fc.lines}
    per_test = {}
    for stream, _ in read_shards:
        per_test.update(stream.per_test)
    assert sorted(per_test) == sorted(read(FIX / f"v{version}" / ".coverage")[1].per_test)
    # `coverage combine` of the two and `coverage report`: the same statements run.
    _, rows, missing = report(folder)
    xml = read(FIX / f"v{version}" / "coverage.xml")[2]
    for path, fc in xml.items():
        if path in rows:
            assert set(fc.lines) - set(merged[path].lines) == missing[path], path


def _rewrite_paths(src: Path, dest: Path, new_root: str, sep: str = "/") -> None:
    shutil.copy(src, dest)
    with sqlite3.connect(dest) as db:
        for file_id, path in db.execute("SELECT id, path FROM file").fetchall():
            rest = path[len(ROOT) + 1:] if path.startswith(ROOT + "/") else path
            new = (new_root + sep if new_root else "") + rest.replace("/", sep)
            db.execute("UPDATE file SET path = ? WHERE id = ?", (new, file_id))
    db.close()


def test_shards_from_other_machines_merge(tmp_path):
    """Shards of one run written on a GitHub-hosted Linux runner, on a Windows runner and with
    relative_files = True name the same files the same way."""
    newest = FIX / "v7.17.5" / "parallel"
    linux = tmp_path / ".coverage.linux.1.a"
    _rewrite_paths(newest / ".coverage.ci-runner-1.1001.X1y1z1", linux, "/home/runner/work/shop/shop")
    # No Windows machine here: this is what coverage.py on a windows-latest runner stores (its
    # paths as Windows spells them), made by rewriting the paths of a Linux-written file.
    windows = tmp_path / ".coverage.windows.2.b"
    _rewrite_paths(newest / ".coverage.ci-runner-2.1002.X2y2z2", windows, "D:\\a\\shop\\shop", "\\")
    relative = FIX / "v5.5" / "parallel" / ".coverage.ci-runner-2.1002.X2y2z2"  # relative_files = True
    # coverage.py 5.x with relative_files on Windows kept Windows' separators.
    windows_relative = tmp_path / ".coverage.windows.3.c"
    _rewrite_paths(newest / ".coverage.ci-runner-1.1001.X1y1z1", windows_relative, "", "\\")
    streams = []
    for shard in (linux, windows, relative, windows_relative):
        spec, stream, records = read_report(shard)  # no source root: the paths alone say it
        streams.append(records)
        assert ("\\" in records[0].source_path) == (shard in (windows, windows_relative))
        assert sorted(fc.path for fc in records) == [
            "src/nsp/tools.py", "src/shop/__init__.py", "src/shop/cart.py", "src/shop/unused.py"], shard
    merged = merge_coverage(streams)
    whole = read(FIX / "v7.17.5" / ".coverage")[2]
    assert set(merged["src/shop/cart.py"].lines) == set(whole["src/shop/cart.py"].lines)
    # An absolute path outside any CI workspace joins them through a configured root, as
    # coverage.py's own [paths] remapping would at `coverage combine`.
    local = read_report(FIX / "v7.17.5" / "parallel" / ".coverage.ci-runner-1.1001.X1y1z1")[2]
    assert {fc.path for fc in local} == {f"{ROOT}/src/shop/cart.py", f"{ROOT}/src/nsp/tools.py",
                                         f"{ROOT}/src/shop/__init__.py", f"{ROOT}/src/shop/unused.py"}
    assert set(merge_coverage([local, streams[2]], [ROOT])) == set(merged)


# `coverage lcov` of coverage.py 7.4.4 (--branch) on loops with a branch back to the loop's line
# and one leaving the function: its BRDA name the destination (0: the exit), block n the n-th
# branching line.
#     1 def scan(items):              8             break
#     2     found = []                9     return found
#     3     for item in items:        12 def first(items):
#     4         if item > 1:          13     for item in items:
#     5             found.append(item) 14        return item
#     6     while found:              17 scan([1, 2, 5])
#     7         if found.pop() == 5:  18 first([])
OLD_LCOV = """TN:
SF:loops.py
""" + "".join(f"DA:{n},1,t905nMDTQ5AT31ovoq/YDA\n" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 17, 18)) + """\
DA:14,0,KUNAs8hZCmumeaFdNOEQMQ
LF:14
LH:13
BRDA:4,0,0,1
BRDA:6,0,1,1
BRDA:3,1,0,1
BRDA:5,1,1,1
BRDA:9,2,0,-
BRDA:7,2,1,1
BRDA:6,3,0,-
BRDA:8,3,1,1
BRDA:14,4,0,-
BRDA:0,4,1,1
BRF:10
BRH:7
end_of_record
"""


def test_older_coveragepy_lcov_branches_are_on_the_lines_they_leave(tmp_path):
    path = tmp_path / "coverage.lcov"
    path.write_text(OLD_LCOV)
    stream, (fc,) = read_report(path)[1:]
    # As coverage.py's JSON of that run lists them: executed 3->4 3->6 4->3 4->5 6->7 7->8
    # 13->exit, missing 6->9 7->6 13->14.
    assert fc.branches == {3: (2, 2), 4: (2, 2), 6: (1, 2), 7: (1, 2), 13: (1, 2)}
    assert fc.branch_missing == {6: {"9"}, 7: {"6"}, 13: {"14"}}
    assert stream.effective_totals.as_dict() == {
        "files": 1, "lines_valid": 14, "lines_covered": 13, "branches_valid": 10, "branches_covered": 7}
    # geninfo --checksum writes the same checksums, on records with functions, its BRDA on the
    # branching line itself: those stay as written.
    gcc = OLD_LCOV.replace("SF:loops.py\n", "SF:loops.c\nFN:1,scan\nFNDA:1,scan\n")
    path.write_text(gcc)
    fc = read_report(path)[2][0]
    assert fc.branches[0] == (1, 1) and fc.branches[9] == (0, 1)


def test_data_file_of_an_older_schema_says_who_wrote_it():
    """coverage.py 5.0a6 wrote data schema 3, which every coverage.py since 5.0 refuses."""
    import coverage

    path = FIX / "v5.0a6" / ".coverage"
    assert report(path.parent)[0] == "5.0a6"
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path)
    assert err.value.reason == (
        "written by a coverage.py 5.0 pre-release (data schema 3); the installed coverage.py "
        f"{coverage.__version__} reads data schema 7 only: read it with the coverage.py that wrote it, "
        "or send its `coverage xml` or `coverage json` report")


def test_data_file_of_a_newer_schema_says_who_wrote_it(tmp_path):
    # No coverage.py writes schema 8 yet: one that will, as the one installed here would see it.
    path = tmp_path / ".coverage"
    shutil.copy(FIX / "v7.17.5" / ".coverage", path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE coverage_schema SET version = 8")
        db.execute("UPDATE meta SET value = '8.0.0' WHERE key = 'version'")
    db.close()
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path)
    assert err.value.reason.startswith("written by coverage.py 8.0.0 (data schema 8); the installed coverage.py ")


def test_coverage4_data_file_is_named_as_such(tmp_path):
    # coverage.py 4.x wrote its data file as this prefix and JSON.
    path = tmp_path / ".coverage"
    path.write_text("!coverage.py: This is a private format, don't read it directly!"
                    '{"lines":{"/app/src/shop/cart.py":[1,4,5]}}')
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path)
    assert err.value.reason == (
        "a coverage.py 4.x data file (JSON), which coverage.py 5.0 and later cannot read: "
        "send its `coverage xml` report instead")


def test_older_coveragepy_lcov_is_stored_with_coverage_report_figures(crossbridge_env):
    """The warehouse keeps the counts coverage.py reports for coverage.py 6.5's LCOV, not its
    DA lines (which hold docstrings and excluded lines that ran)."""
    from sqlalchemy import select

    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.coverage import coverage_runs, load_archived_coverage, refresh_runs, run_merge
    from crossbridge_assets.warehouse.engine import make_engine, migrate
    from crossbridge_assets.warehouse.landing import Landing

    s = crossbridge_env
    engine = make_engine(s.warehouse_url)
    migrate(engine)
    land = Landing(s, engine)
    folder = s.inbox / "shop" / "main" / "1"
    folder.mkdir(parents=True)
    shutil.copyfile(FIX / "v6.5.0" / "coverage.lcov", folder / "coverage.lcov")
    landed = land.land(folder / "coverage.lcov", "2026-11-01")
    with engine.connect() as conn:
        (report_row,) = [r for r in conn.execute(select(schema.reports)) if r.sha256 == landed.sha256]
    load_archived_coverage(engine, report_row)
    _, rows, _ = report(FIX / "v6.5.0")
    with engine.connect() as conn:
        stored = {r.path: (r.lines_valid, r.lines_valid - r.lines_covered, r.branches_valid)
                  for r in conn.execute(select(schema.coverage_files))}
    assert stored == {path: figures[:3] for path, figures in rows.items() if path != "TOTAL"}
    refresh_runs(engine)
    (run,) = coverage_runs(engine)
    stmts, miss, branches, _ = rows["TOTAL"]
    assert (run["lines_valid"], run["lines_covered"], run["branches_valid"]) == (stmts, stmts - miss, branches)
    merged = run_merge(engine, run["run_id"])
    assert (merged.totals.lines_valid, merged.totals.lines_covered) == (stmts, stmts - miss)


def _data_file(path: Path, contexts: dict[str, dict[str, list[int]]]) -> Path:
    """A data file written by the installed coverage.py's own CoverageData, one context at a time."""
    from coverage import CoverageData

    data = CoverageData(basename=str(path))
    for context, lines in contexts.items():
        data.set_context(context)
        data.add_lines(lines)
    data.write()
    return path


def test_static_context_is_a_label_not_a_test(tmp_path):
    """`coverage run --context=unit` labels the whole run: with dynamic contexts, code outside any
    test is 'unit' and a test's is 'unit|<test>'; without, everything is 'unit'."""
    labelled = read(FIX / "v7.17.5" / "static-context" / "coverage.json")[1]
    assert labelled.info.properties["static_context"] == "unit"
    assert labelled.per_test == read(FIX / "v7.17.5" / "coverage.json")[1].per_test
    app = f"{ROOT}/src/shop/cart.py"
    both = _data_file(tmp_path / "both.coverage", {
        "unit": {app: [1, 4]}, "unit|checks_cart.test_total": {app: [5, 6]}, "unit|checks_cart.test_cart": {app: [44]}})
    stream = read(both)[1]
    assert stream.info.properties["static_context"] == "unit"
    assert stream.per_test == {"checks_cart.test_total": {"src/shop/cart.py": {5, 6}},
                               "checks_cart.test_cart": {"src/shop/cart.py": {44}}}
    only = _data_file(tmp_path / "only.coverage", {"unit": {app: [1, 4, 5]}})
    stream = read(only)[1]
    assert stream.info.properties["static_context"] == "unit" and stream.per_test is None
    # pytest-cov's contexts name their test phase: one alone is still a test.
    one_test = _data_file(tmp_path / "one.coverage", {"tests/checks_cart.py::test_total|run": {app: [5]}})
    assert read(one_test)[1].per_test == {"tests/checks_cart.py::test_total|run": {"src/shop/cart.py": {5}}}


def test_older_coveragepy_lcov_shards_add_up_to_the_whole_run(tmp_path):
    """coverage.py 7.4.4's LCOV of each parallel-mode data file: merged as shards, or put end to
    end in one tracefile, they count what the whole run's report counts, branch by branch."""
    shards = FIX / "v7.4.4" / "shards"
    xml = read(FIX / "v7.4.4" / "coverage.xml")[2]
    together = tmp_path / "coverage.lcov"
    together.write_text((shards / "shard-1.lcov").read_text() + (shards / "shard-2.lcov").read_text())
    stream, files = read(together)[1:]
    merged = merge_coverage([list(read(shards / f"shard-{i}.lcov")[2].values()) for i in (1, 2)])
    for combined in (files, merged):
        for path, fc in combined.items():
            whole = xml[path]
            assert {n: h > 0 for n, h in fc.lines.items() if n in whole.lines} == {n: h > 0 for n, h in whole.lines.items()}
            assert (fc.branches, fc.branch_missing) == (whole.branches, whole.branch_missing), path
    for path, fc in files.items():
        assert counts(stream, fc)[:3] == counts(read(FIX / "v7.4.4" / "coverage.json")[1], xml[path])[:3], path


# `coverage lcov` of coverage.py 7.4.4 (--branch, Python 3.11) on a comprehension: the arcs that
# ran from its line are three (into the loop again, out of the comprehension, out of the
# function) while its branches are two, which BRF counts (`coverage report`: 9 statements, 0
# missing, 2 branches, 0 partial).
#     1 def squares(items):                      7         return int(text)
#     2     return [n * n for n in items if n]   8     except ValueError:
#     5 def parse(text):                         9         return None
#     6     try:                                 12 squares([0, 1, 2]); 13 parse("x")
COMPREHENSION_LCOV = """TN:
SF:comp.py
""" + "".join(f"DA:{n},1,DXAOjhHJE/0v5hCjauKAgw\n" for n in (1, 2, 5, 6, 7, 8, 9, 12, 13)) + """\
LF:9
LH:9
BRDA:0,0,0,1
BRDA:0,0,1,1
BRDA:2,0,2,1
BRF:2
BRH:2
end_of_record
"""


def test_older_coveragepy_lcov_branches_are_counted_by_brf(tmp_path):
    path = tmp_path / "coverage.lcov"
    path.write_text(COMPREHENSION_LCOV)
    stream = read_report(path)[1]
    assert stream.effective_totals.as_dict() == {
        "files": 1, "lines_valid": 9, "lines_covered": 9, "branches_valid": 2, "branches_covered": 2}
    assert not stream.info.warnings
    twice = tmp_path / "twice.lcov"  # its shards put end to end: still 2 branches, both taken
    twice.write_text(COMPREHENSION_LCOV + COMPREHENSION_LCOV.replace("BRDA:2,0,2,1", "BRDA:2,0,2,-").replace("BRH:2", "BRH:1"))
    stream = read_report(twice)[1]
    assert (stream.effective_totals.branches_valid, stream.effective_totals.branches_covered) == (2, 2)
