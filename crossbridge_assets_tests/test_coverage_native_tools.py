"""Coverage readers against reports of native toolchains and of bun and deno, held to the figures
the tools themselves print: `llvm-cov report` (clang 14, and LLVM 19 for rustc's profiles), gcovr's
and lcov's text summaries, bun's and deno's tables. The fixtures are under
fixtures/coverage/native/, written by fixtures/coverage/native/regenerate-native.sh, which saves
those summaries beside the reports; the tests read the figures from them where the table is
plain, so that a regenerated fixture is checked against its own tool."""

from __future__ import annotations

import json
import re

from crossbridge_assets.formats import read_report
from crossbridge_assets.formats._coverage import merge_coverage, merged_totals
from crossbridge_assets_tests.conftest import FIXTURES

NATIVE = FIXTURES / "coverage" / "native"
WORK = "/tmp/crossbridge-coverage-native/"  # where the regenerate script runs the samples


def _by_name(records) -> dict:
    """Records keyed by their path from the sample's folder (llvm-cov and lcov write them absolute)."""
    return {fc.path.split(WORK)[-1].split("/", 1)[-1] if WORK in fc.path else fc.path: fc for fc in records}


def _llvm_report(name: str) -> dict[str, dict[str, tuple[int, int]]]:
    """`llvm-cov report --show-branch-summary --show-instantiation-summary`, per file and TOTAL:
    {'lines': (count, covered), 'branches': (count, covered)}."""
    rows = {}
    for line in (NATIVE / name / "report.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 16 and parts[1].isdigit():
            # Filename, regions (3 columns), functions (3), instantiations (3), lines (3), branches (3)
            rows[parts[0].rsplit("/", 1)[-1]] = {
                "lines": (int(parts[10]), int(parts[10]) - int(parts[11])),
                "branches": (int(parts[13]), int(parts[13]) - int(parts[14])),
            }
    assert rows, "no table in report.txt"
    return rows


def _lines(fc) -> tuple[int, int]:
    return len(fc.lines), sum(1 for h in fc.lines.values() if h)


def _branches(fc) -> tuple[int, int]:
    return sum(t for _, t in fc.branches.values()), sum(c for c, _ in fc.branches.values())


# ---------------------------------------------------------------------------- llvm-cov, C


def test_llvm_cov_lcov_of_c_counts_lines_as_llvm_cov_report():
    report = _llvm_report("llvm-c")
    spec, stream, records = read_report(NATIVE / "llvm-c" / "llvm.lcov")
    assert spec.name == "lcov"
    files = {path.rsplit("/", 1)[-1]: fc for path, fc in _by_name(records).items()}
    assert sorted(files) == ["main.c", "ops.c", "ops.h"]
    for name, fc in files.items():
        assert _lines(fc) == report[name]["lines"], name
    totals = stream.effective_totals.as_dict()
    assert (totals["lines_valid"], totals["lines_covered"]) == report["TOTAL"]["lines"] == (36, 27)
    # One function per FN: the header's static inline clamp() is a function of each translation
    # unit that includes it (llvm-cov names them 'main.c:clamp' and 'ops.c:clamp').
    assert sorted(files["ops.h"].functions) == [("main.c:clamp", 4, 1), ("ops.c:clamp", 4, 8)]
    assert sorted(files["ops.c"].functions) == [("classify", 3, 8), ("never_called", 19, 0)]


def test_llvm_cov_lcov_of_c_counts_branches_as_listed():
    # Branches of code compiled once are what `llvm-cov report` counts. A '-' pair (a condition
    # never evaluated: never_called) counts as two branches not taken.
    report = _llvm_report("llvm-c")
    _, stream, records = read_report(NATIVE / "llvm-c" / "llvm.lcov")
    files = {path.rsplit("/", 1)[-1]: fc for path, fc in _by_name(records).items()}
    for name in ("main.c", "ops.c"):
        assert _branches(files[name]) == report[name]["branches"], name
    assert files["ops.c"].branches[20] == (0, 2)
    # llvm-cov's LCOV lists the branches of each copy of the header's clamp() under its own
    # BRDA ids (5,0,0 5,0,1 for one, 5,1,2 5,1,3 for the other), as it lists the instantiations of
    # a template: 8 branches. Its BRF says 4: `llvm-cov report` takes, per function, the copy
    # with the most branches covered. Nothing in the LCOV tells two copies of one condition from
    # two conditions on one line, so the branches are counted as listed (as lcov and genhtml
    # count them), and the BRF of the file is recorded: llvm-cov's own count, no disagreement.
    assert report["ops.h"]["branches"] == (4, 2)
    assert _branches(files["ops.h"]) == (8, 4)
    assert stream.info.declared["branches_valid"] == report["TOTAL"]["branches"][0] == 22
    assert not any("declared" in w for w in stream.info.warnings)


def test_llvm_cov_summary_only_lcov_counts_what_llvm_cov_report_counts():
    # `llvm-cov export -format=lcov -summary-only` writes each file's FNF/FNH, BRF/BRH and LF/LH
    # and no DA or BRDA: its counts are the report's, file by file, as Istanbul's summary is.
    report = _llvm_report("llvm-c")
    spec, stream, records = read_report(NATIVE / "llvm-c" / "summary.lcov")
    assert spec.name == "lcov"
    assert records == []
    totals = stream.effective_totals.as_dict()
    assert totals == {
        "files": 3,
        "lines_valid": report["TOTAL"]["lines"][0],
        "lines_covered": report["TOTAL"]["lines"][1],
        "branches_valid": report["TOTAL"]["branches"][0],
        "branches_covered": report["TOTAL"]["branches"][1],
    }
    by_file = {path.rsplit("/", 1)[-1]: counts for path, counts in stream.file_totals.items()}
    assert sorted(by_file) == ["main.c", "ops.c", "ops.h"]
    for name, counts in by_file.items():
        assert (counts.lines_valid, counts.lines_covered) == report[name]["lines"], name
        assert (counts.branches_valid, counts.branches_covered) == report[name]["branches"], name
    assert stream.info.warnings == []


def test_llvm_cov_lcov_and_its_json_summary_agree_file_by_file():
    summary = json.loads((NATIVE / "llvm-c" / "summary.json").read_text())
    _, _, records = read_report(NATIVE / "llvm-c" / "llvm.lcov")
    files = {fc.path: fc for fc in records}
    entries = summary["data"][0]["files"]
    assert sorted(e["filename"] for e in entries) == sorted(files)
    for entry in entries:
        lines = entry["summary"]["lines"]
        assert _lines(files[entry["filename"]]) == (lines["count"], lines["covered"])


def test_llvm_cov_shards_add_up_line_by_line_as_llvm_profdata_merge():
    # Two runs of one binary exported apart, against the export of their merged profile.
    _, _, first = read_report(NATIVE / "llvm-c" / "llvm.lcov")
    _, _, second = read_report(NATIVE / "llvm-c" / "shard2.lcov")
    _, both_stream, both = read_report(NATIVE / "llvm-c" / "both.lcov")
    merged = merge_coverage([first, second])
    assert sorted(merged) == sorted(fc.path for fc in both)
    for fc in both:
        assert merged[fc.path].lines == fc.lines, fc.path
    assert merged_totals(merged).lines_covered == both_stream.effective_totals.lines_covered


# ---------------------------------------------------------------------------- llvm-cov, C++ and Rust


def test_llvm_cov_lcov_of_cpp_template_instantiations():
    report = _llvm_report("llvm-cpp")
    _, stream, records = read_report(NATIVE / "llvm-cpp" / "llvm.lcov")
    files = {path.rsplit("/", 1)[-1]: fc for path, fc in _by_name(records).items()}
    hpp = files["shapes.hpp"]
    assert _lines(hpp) == report["shapes.hpp"]["lines"] == (11, 11)
    # A line of the template holds the hits of both instantiations (2 calls of largest<int>, 1
    # of largest<double>), as `llvm-cov show` prints it.
    assert hpp.lines[6] == 3
    # Each instantiation is a function of its own, under its mangled name and the template's line.
    assert sorted(f for f in hpp.functions if f[1] == 6) == [
        ("_Z7largestIdET_RKSt6vectorIS0_SaIS0_EE", 6, 1),
        ("_Z7largestIiET_RKSt6vectorIS0_SaIS0_EE", 6, 2),
    ]
    # The lambda on line 19 of main.cpp is a function of its own; `llvm-cov report` counts its
    # line in main() and in the lambda (18 lines, the LCOV's LF too), the DA records list it once.
    main = files["main.cpp"]
    assert report["main.cpp"]["lines"] == (18, 18)
    assert _lines(main) == (17, 17)
    assert ("main.cpp:_ZZ4mainENK3$_0clEi", 19, 1) in main.functions
    # Branches: listed per instantiation (see the C header above): 14 where the report counts 8.
    assert report["shapes.hpp"]["branches"] == (8, 7)
    assert _branches(hpp) == (14, 11)
    assert stream.info.declared["lines_valid"] == 29
    assert stream.effective_totals.lines_valid == 28


def test_rustc_instrument_coverage_lcov():
    # rustc nightly (LLVM 22) with -Z coverage-options=branch, read by Debian's llvm-cov 19.
    report = _llvm_report("rust")
    _, stream, records = read_report(NATIVE / "rust" / "llvm.lcov")
    (fc,) = records
    assert fc.path == WORK + "rust/main.rs"
    # The closure's line counts twice in the report (in main and in the closure), once here.
    assert report["main.rs"]["lines"] == (19, 16)
    assert _lines(fc) == (18, 15)
    assert fc.lines[13] == 0 and fc.lines[4] == 3
    # Generic instantiations are functions of their own (v0 mangling, as rustc names them).
    # The crate hash after 'Cs' changes with the compiler and its options.
    names = {re.sub(r"Cs\w+?_4main", "Cs_4main", name): (line, hits) for name, line, hits in fc.functions}
    assert names == {
        "_RINvCs_4main7largestdEB2_": (2, 1),  # largest::<f64>
        "_RINvCs_4main7largestlEB2_": (2, 1),  # largest::<i64>
        "_RNCNvCs_4main4main0B3_": (19, 1),  # the closure
        "_RNvCs_4main4main": (16, 1),
        "_RNvCs_4main12never_called": (12, 0),
    }
    # `if x > best` in largest::<f64> (never reached: '-') and in largest::<i64>: 4 branches listed.
    assert fc.branches == {5: (2, 4), 20: (1, 2)}
    assert report["main.rs"]["branches"] == (4, 3)
    assert stream.info.declared == {"branches_valid": 4, "branches_covered": 3, "lines_valid": 19, "lines_covered": 16}


# ---------------------------------------------------------------------------- gcc: gcovr and lcov


def _gcovr_total(name: str) -> tuple[int, int]:
    m = re.search(r"^TOTAL\s+(\d+)\s+(\d+)", (NATIVE / "gcc-cpp" / name).read_text(), re.MULTILINE)
    return int(m.group(1)), int(m.group(2))


def test_gcovr_cobertura_of_cpp_counts_what_gcovr_counts():
    # Templates and exceptions: gcc's branches of the throw and of the destructors on the
    # exception path are branches; --exclude-throw-branches --exclude-unreachable-branches drops them.
    for report, summary in (("gcovr.xml", "gcovr-branches.txt"), ("gcovr-excl.xml", "gcovr-excl-branches.txt")):
        spec, stream, records = read_report(NATIVE / "gcc-cpp" / report)
        assert spec.name == "cobertura"
        totals = stream.effective_totals
        assert (totals.branches_valid, totals.branches_covered) == _gcovr_total(summary), report
        assert (totals.lines_valid, totals.lines_covered) == (25, 25)
        assert stream.info.warnings == []
    assert _gcovr_total("gcovr-branches.txt") == (36, 22)
    assert _gcovr_total("gcovr-excl-branches.txt") == (24, 21)


def test_gcovr_cobertura_and_lcov_of_one_run_agree_and_merge_under_a_source_root():
    # lcov --list: 25 lines, 36 branches at 61.1%.
    _, lcov_stream, lcov = read_report(NATIVE / "gcc-cpp" / "lcov.info")
    assert lcov_stream.effective_totals.as_dict() == {
        "files": 2, "lines_valid": 25, "lines_covered": 25, "branches_valid": 36, "branches_covered": 22,
    }
    _, _, xml = read_report(NATIVE / "gcc-cpp" / "gcovr.xml")
    by_lcov = {fc.path.rsplit("/", 1)[-1]: fc for fc in lcov}
    by_xml = {fc.path: fc for fc in xml}
    assert sorted(by_xml) == sorted(by_lcov) == ["main.cpp", "shapes.hpp"]
    for name, fc in by_xml.items():
        assert fc.branches == by_lcov[name].branches, name
        assert {n: bool(h) for n, h in fc.lines.items()} == {n: bool(h) for n, h in by_lcov[name].lines.items()}
    assert by_xml["main.cpp"].lines == by_lcov["main.cpp"].lines
    # gcovr 5.2 counts a template's line once per instantiation on top of gcov's line count
    # (gcov prints 3 for line 6 of shapes.hpp, then 1 and 2 for the two instantiations): the
    # hits are those gcovr wrote.
    assert by_lcov["shapes.hpp"].lines[6] == 3 and by_xml["shapes.hpp"].lines[6] == 6
    # gcovr writes paths from its root ('.'), lcov absolute ones: one file each once the
    # checkout folder is a source root.
    merged = merge_coverage([xml, lcov], source_roots=[WORK + "gcc-cpp"])
    assert sorted(merged) == ["main.cpp", "shapes.hpp"]
    assert merged_totals(merged).lines_valid == 25


def _gcovr8_total(name: str) -> tuple[int, int]:
    m = re.search(r"^TOTAL\s+(\d+)\s+(\d+)", (NATIVE / "gcovr8-cpp" / name).read_text(), re.MULTILINE)
    return int(m.group(1)), int(m.group(2))


def test_gcovr8_counts_a_template_line_once_per_instantiation_the_readers_once():
    # gcovr 8.8 keeps gcov's lines per function: each instantiation of largest<T> has its own
    # lines 6-13, so its tables count 18 lines and 18 branches in shapes.hpp (33 and 44 in all),
    # its Cobertura lists those lines once per instantiation and declares those totals, and its
    # LCOV declares LF 33 over 25 DA records. A file's line is one line here, as gcov, lcov and
    # gcovr 5.2 count it: 25 lines and 36 branches of which 22 taken, the figures of the
    # gcc-cpp fixtures (the same build read by lcov 1.16 and gcovr 5.2).
    assert _gcovr8_total("gcovr-lines.txt") == (33, 31)
    assert _gcovr8_total("gcovr-branches.txt") == (44, 26)
    _, _, old = read_report(NATIVE / "gcc-cpp" / "lcov.info")
    old = {fc.path.rsplit("/", 1)[-1]: fc for fc in old}
    _, xml_stream, xml = read_report(NATIVE / "gcovr8-cpp" / "gcovr.xml")
    _, lcov_stream, lcov = read_report(NATIVE / "gcovr8-cpp" / "gcovr.lcov")
    expected = {"files": 2, "lines_valid": 25, "lines_covered": 25, "branches_valid": 36, "branches_covered": 22}
    assert xml_stream.effective_totals.as_dict() == lcov_stream.effective_totals.as_dict() == expected
    assert xml_stream.info.declared == {"lines_valid": 33, "lines_covered": 31, "branches_valid": 44, "branches_covered": 26}
    assert lcov_stream.info.declared["lines_valid"] == 33
    by_lcov = {fc.path.rsplit("/", 1)[-1]: fc for fc in lcov}
    for fc in xml:
        # The branches of a template line are those of its instantiations put together, the
        # same in both formats and as gcc-cpp's lcov 1.16 has them.
        assert fc.branches == by_lcov[fc.path].branches == old[fc.path].branches, fc.path
        assert fc.lines.keys() == by_lcov[fc.path].lines.keys() == old[fc.path].lines.keys()
    # gcovr's LCOV gives a template line gcov's count, all instantiations together (largest<double>
    # ran once, largest<int> twice); in its Cobertura the line is listed once per instantiation
    # (hits 1 and 2) and the larger count stands.
    assert by_lcov["shapes.hpp"].lines[6] == old["shapes.hpp"].lines[6] == 3
    assert {fc.path: fc for fc in xml}["shapes.hpp"].lines[6] == 2
    # --exclude-unreachable-branches --exclude-throw-branches: gcovr's table counts 31 branches
    # per instantiation; its LCOV 24 put together, as gcovr 5.2 counts them.
    assert _gcovr8_total("gcovr-excl-branches.txt") == (31, 25)
    _, excl, _ = read_report(NATIVE / "gcovr8-cpp" / "gcovr-excl.lcov")
    assert (excl.effective_totals.branches_valid, excl.effective_totals.branches_covered) == _gcovr_total(
        "gcovr-excl-branches.txt"
    ) == (24, 21)


# ---------------------------------------------------------------------------- bun and deno


def test_bun_lcov_counts_what_bun_prints():
    text = (NATIVE / "bun" / "text.txt").read_text()
    rows = dict(re.findall(r"^\s*(src/\S+)\s*\|\s*[\d.]+\s*\|\s*([\d.]+)\s*\|", text, re.MULTILINE))
    assert sorted(rows) == ["src/fmt.ts", "src/shop.ts"]
    _, stream, records = read_report(NATIVE / "bun" / "lcov.info")
    files = {fc.path: fc for fc in records}
    for name, percent in rows.items():
        valid, covered = _lines(files[name])
        assert f"{100 * covered / valid:.2f}" == percent, name
    # bun's 'All files' line is the mean of the files' percentages (74.18), not 15/20.
    assert stream.effective_totals.as_dict() == {
        "files": 2, "lines_valid": 20, "lines_covered": 15, "branches_valid": 0, "branches_covered": 0,
    }
    assert stream.info.warnings == []


def test_deno_lcov_counts_what_deno_coverage_prints():
    text = (NATIVE / "deno" / "text.txt").read_text()
    rows = {
        name.strip(): (branch, line)
        for name, branch, _, line in re.findall(r"^\|\s*([^|]+?)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", text, re.MULTILINE)
    }
    _, stream, records = read_report(NATIVE / "deno" / "lcov.info")
    files = {fc.path.rsplit("/", 1)[-1]: fc for fc in records}
    assert sorted(files) == ["fmt.ts", "shop.ts"]
    for name, fc in files.items():
        (bv, bc), (lv, lc) = _branches(fc), _lines(fc)
        assert rows[name] == (f"{100 * bc / bv:.1f}", f"{100 * lc / lv:.1f}"), name
    t = stream.effective_totals
    assert rows["All files"] == (f"{100 * t.branches_covered / t.branches_valid:.1f}", f"{100 * t.lines_covered / t.lines_valid:.1f}")
    assert t.as_dict() == {"files": 2, "lines_valid": 28, "lines_covered": 20, "branches_valid": 15, "branches_covered": 13}
    assert stream.info.warnings == []


def test_llvm_cov_summary_only_lcov_through_dagster_counts_what_llvm_cov_report_counts(crossbridge_env, dagster_instance):
    from crossbridge_assets.warehouse.coverage import coverage_runs
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets_tests.test_coverage_e2e import ingest, refresh
    from crossbridge_assets_tests.test_ingest_e2e import drop

    s = crossbridge_env
    drop(s, "llvm.lcov", "native", source=NATIVE / "llvm-c" / "summary.lcov")
    (s.inbox / "native" / "crossbridge.json").write_text(json.dumps({"project": "native", "branch": "main", "build": "1"}))
    ingest(dagster_instance)
    refresh(dagster_instance)
    (run,) = coverage_runs(make_engine(s.warehouse_url))
    total = _llvm_report("llvm-c")["TOTAL"]
    assert (run["files"], run["lines_valid"], run["lines_covered"]) == (3, *total["lines"])
    assert (run["branches_valid"], run["branches_covered"]) == total["branches"]
