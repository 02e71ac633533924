"""Shards of one run written in different checkouts, by different tools and OSes, merge into what
one unsharded run measures: files, lines valid and covered, and branches, line by line.

The reports are written by the real tools (fixtures/coverage/shards/regenerate.sh): one package's
tests split in two shards, shard 1 run in a GitLab-style checkout (.../builds/acme/shop), shard 2 in
a GitHub-style one (.../home/runner/work/shop/shop), and every test run unsharded in a third. In
each shard one `if` of pricing.py takes its other side (line 2: shard 1 the member price, shard 2
the guest price): the union must count both sides as taken, as the unsharded run does. Shard 1
never loads shipping.py: the union must still hold its lines, with the one no test runs."""

import json
import re
from pathlib import Path

import pytest

from crossbridge_assets.formats import open_report
from crossbridge_assets.formats._coverage import merge_coverage, merged_totals
from crossbridge_assets.model import FileCoverage, union_branch
from crossbridge_assets.warehouse.coverage import (
    coverage_runs,
    covering_tests,
    decode_branch_ids,
    encode_branches,
    run_merge,
)
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_coverage_e2e import ingest, refresh
from crossbridge_assets_tests.test_ingest_e2e import drop

SHARDS = FIXTURES / "coverage" / "shards"
PY, JS = SHARDS / "python", SHARDS / "js"
WORK = "/tmp/crossbridge-coverage-shards"  # where regenerate.sh ran the tools
JS_ROOTS = (f"{WORK}/*/builds/acme/shop", f"{WORK}/*/home/runner/work/shop/shop")
PY_FORMATS = ("coverage.xml", "coverage.lcov", "coverage.json")


def figures(merged: dict[str, FileCoverage]) -> dict[str, tuple]:
    """Per file: lines, covered lines, branches per line (what a merge must reproduce)."""
    return {
        path: (sorted(fc.lines), sorted(n for n, h in fc.lines.items() if h), dict(sorted(fc.branches.items())))
        for path, fc in merged.items()
    }


# ---------------------------------------------------------------------------- engine


@pytest.mark.parametrize("first", PY_FORMATS)
@pytest.mark.parametrize("second", PY_FORMATS)
def test_coveragepy_shards_from_two_runners_add_up_to_the_unsharded_run(first, second):
    merged = merge_coverage([open_report(PY / "gitlab" / first), open_report(PY / "github" / second)])
    alone = merge_coverage([open_report(PY / "all" / first)])
    assert figures(merged) == figures(alone)
    assert set(merged) == {"src/shop/__init__.py", "src/shop/pricing.py", "src/shop/shipping.py"}
    # Each shard took one side of line 2 and of line 10; together, both.
    assert merged["src/shop/pricing.py"].branches[2] == (2, 2)
    assert merged["src/shop/pricing.py"].branches[10] == (2, 2)
    assert merged["src/shop/pricing.py"].branches[12] == (1, 2)  # 'NEW' taken, the fall-through never
    totals = json.loads((PY / "all" / "coverage.json").read_text())["totals"]
    t = merged_totals(merged)
    assert (t.lines_covered, t.lines_valid, t.branches_covered, t.branches_valid) == (
        totals["covered_lines"], totals["num_statements"], totals["covered_branches"], totals["num_branches"])


def test_a_file_one_shard_never_loaded_keeps_its_uncovered_lines():
    gitlab = {fc.path for fc in open_report(PY / "gitlab" / "coverage.xml")}
    assert "src/shop/shipping.py" not in gitlab  # shard 1 never imported it
    merged = merge_coverage([open_report(PY / "gitlab" / "coverage.xml"), open_report(PY / "github" / "coverage.lcov")])
    shipping = merged["src/shop/shipping.py"]
    assert [n for n, h in shipping.lines.items() if not h] == [11]  # express(): no test runs it


def _windows_xml(path: Path, out: Path) -> Path:
    """A real coverage.py XML as a Windows GitLab runner would write it (no Windows here: the
    report is rewritten): the <source> a drive path in another case, '\\' separators, and
    '.\\' and '..' segments in the class file names."""
    text = path.read_text()
    text = re.sub(r"<source>[^<]*</source>", r"<source>c:\\GitLab-Runner\\builds\\xYz12AbC\\0\\acme\\shop</source>", text)
    text = text.replace('filename="src/shop/', 'filename=".\\src\\tmp\\..\\shop\\')
    out.write_text(text)
    return out


def _windows_lcov(path: Path, out: Path) -> Path:
    """A real coverage.py LCOV as a GitHub Windows runner writes it with absolute paths (no
    Windows here: rewritten): 'D:\\a\\shop\\shop\\src\\shop\\x.py'."""
    out.write_text(path.read_text().replace("SF:src/shop/", "SF:D:\\a\\shop\\shop\\src\\shop\\"))
    return out


def test_windows_separators_drive_case_and_dot_segments_merge(tmp_path):
    xml = _windows_xml(PY / "gitlab" / "coverage.xml", tmp_path / "win.xml")
    lcov = _windows_lcov(PY / "github" / "coverage.lcov", tmp_path / "win.lcov")
    assert "\\src\\tmp\\..\\shop\\pricing.py" in xml.read_text()
    merged = merge_coverage([open_report(xml), open_report(lcov)])
    assert figures(merged) == figures(merge_coverage([open_report(PY / "all" / "coverage.xml")]))


def test_the_same_file_from_src_and_from_site_packages_merges_with_source_roots():
    """Shard 2 ran the package pip-installed into a venv: coverage.py names its files under
    site-packages (an empty <source> and absolute file names). Source roots for the checkout's
    src/ folder and for site-packages give both shards the package's own paths."""
    roots = (f"{WORK}/*/builds/acme/shop/src", f"{WORK}/*/venv/lib/python3.*/site-packages",
             f"{WORK}/*/home/runner/work/shop/shop/src", "src")
    site = {fc.path for fc in open_report(PY / "site" / "coverage.xml")}
    assert site == {f"{WORK}/site-py/venv/lib/python3.11/site-packages/shop/{n}"
                    for n in ("__init__.py", "pricing.py", "shipping.py")}
    for name in PY_FORMATS:
        merged = merge_coverage([open_report(PY / "gitlab" / name), open_report(PY / "site" / name)], roots)
        assert set(merged) == {"shop/__init__.py", "shop/pricing.py", "shop/shipping.py"}, name
        assert figures(merged) == figures(merge_coverage([open_report(PY / "all" / name)], roots)), name


def test_c8_shards_from_two_runners_add_up_line_by_line():
    """c8's lines add up. Its branches do not, and are not made to: V8 reports the blocks of
    what ran, so each run numbers a different set of branches (shard 1 has one on line 4 that
    the unsharded run has not); they merge by counts, never claiming a branch no shard took."""
    for first, second in (("coverage-final.json",) * 2, ("lcov.info",) * 2, ("coverage-final.json", "lcov.info")):
        merged = merge_coverage([open_report(JS / "gitlab" / first), open_report(JS / "github" / second)], JS_ROOTS)
        alone = merge_coverage([open_report(JS / "all" / first)], JS_ROOTS)
        assert set(merged) == set(alone) == {"src/pricing.js", "src/shipping.js"}
        assert {p: v[:2] for p, v in figures(merged).items()} == {p: v[:2] for p, v in figures(alone).items()}
        assert all(not fc.branch_missing for fc in merged.values())
        assert merged_totals(merged).branches_covered <= merged_totals(alone).branches_covered


def test_branch_union_rules():
    # Named branches: a branch is taken if either report took it.
    assert union_branch((1, 2), frozenset({"5"}), (1, 2), frozenset({"3"})) == ((2, 2), None)
    assert union_branch((1, 3), frozenset({"5", "exit"}), (2, 3), frozenset({"exit"})) == ((2, 3), frozenset({"exit"}))
    # One side knows only counts (JaCoCo, numbered branches): the larger counts stand.
    assert union_branch((1, 2), frozenset({"5"}), (1, 2), None) == ((1, 2), frozenset({"5"}))
    assert union_branch((0, 2), None, (1, 2), None) == ((1, 2), None)
    # Every branch taken on one side, named or not: all taken.
    assert union_branch((1, 2), frozenset({"5"}), (2, 2), None) == ((2, 2), None)
    # Names that do not account for the count are not trusted (two exits spelled alike).
    assert union_branch((0, 2), frozenset({"exit"}), (1, 2), frozenset({"4"})) == ((1, 2), frozenset({"4"}))
    # Another total: not the same branches; counts.
    assert union_branch((1, 2), frozenset({"5"}), (1, 3), frozenset({"5", "6"})) == ((1, 3), frozenset({"5", "6"}))


def test_branch_names_survive_storage():
    text = encode_branches({2: (1, 2), 9: (2, 2), 12: (0, 2)}, {2: frozenset({"5"}), 12: frozenset({"13", "exit"})})
    assert text == "2:1/2[5],9:2/2,12:0/2[13;exit]"
    assert decode_branch_ids(text) == ({2: (1, 2), 9: (2, 2), 12: (0, 2)}, {2: frozenset({"5"}), 12: frozenset({"13", "exit"})})
    assert decode_branch_ids("9:2/2,17:1/2") == ({9: (2, 2), 17: (1, 2)}, {})  # stored before names were


def _c8_windows_duplicate(out: Path) -> Path:
    """c8 on Windows lists a file twice when V8 and node spell its path in two cases, the second
    record empty (bcoe/c8#192). No Windows here: a real c8 coverage-final.json, rewritten so,
    with the empty record first."""
    data = json.loads((JS / "github" / "coverage-final.json").read_text())
    rewritten = {}
    for key, entry in data.items():
        win = "D:\\a\\shop\\shop\\" + key.split("/shop/shop/", 1)[1].replace("/", "\\")
        entry["path"] = win
        if win.endswith("pricing.js"):
            empty = json.loads(json.dumps(entry))
            empty["s"] = dict.fromkeys(empty["s"], 0)
            empty["f"] = dict.fromkeys(empty["f"], 0)
            empty["b"] = {k: [0] * len(v) for k, v in empty["b"].items()}
            lower = win.replace("src\\pricing.js", "SRC\\Pricing.js")
            empty["path"] = lower
            rewritten[lower] = empty
        rewritten[win] = entry
    out.write_text(json.dumps(rewritten))
    return out


def test_a_report_naming_a_windows_file_in_two_cases_is_one_file(tmp_path):
    report = _c8_windows_duplicate(tmp_path / "coverage-final.json")
    paths = [fc.path for fc in open_report(report)]
    assert paths == ["SRC/Pricing.js", "SRC/Pricing.js", "src/shipping.js"]


# ---------------------------------------------------------------------------- through Dagster


def send(settings, folder: str, uploads: dict[str, Path], **manifest) -> None:
    """An upload: files (name, possibly in sub-folders -> source) and its crossbridge.json."""
    for name, source in uploads.items():
        drop(settings, name, folder, source=source)
    (settings.inbox / folder / "crossbridge.json").write_text(json.dumps({"project": "shop", "branch": "main",
                                                                          **manifest}))


def test_shards_through_dagster_give_what_the_unsharded_run_gives(crossbridge_env, dagster_instance, tmp_path):
    s = crossbridge_env
    run = {"build": "900", "shards_expected": 2}
    # Shard 1 from a Windows GitLab runner (XML), shard 2 from GitHub (LCOV); the unsharded run
    # (JSON) is a build of its own.
    send(s, "gl", {"coverage.xml": _windows_xml(PY / "gitlab" / "coverage.xml", tmp_path / "w.xml")}, shard="1", **run)
    send(s, "gh", {"coverage.lcov": PY / "github" / "coverage.lcov"}, shard="2", **run)
    send(s, "all", {"coverage.json": PY / "all" / "coverage.json"}, build="901")
    ingest(dagster_instance)
    refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    runs = {r["build"]: r for r in coverage_runs(engine)}
    sharded, alone = runs["900"], runs["901"]
    assert sharded["complete"] and sharded["shards_seen"] == 2
    keys = ("files", "lines_valid", "lines_covered", "branches_valid", "branches_covered", "line_pct", "branch_pct")
    assert {k: sharded[k] for k in keys} == {k: alone[k] for k in keys}
    assert (sharded["branches_covered"], sharded["branches_valid"]) == (7, 8)
    merged, single = run_merge(engine, sharded["run_id"]).files, run_merge(engine, alone["run_id"]).files
    assert figures(merged) == figures(single)


def test_a_windows_file_in_two_cases_is_stored_once_with_its_coverage(crossbridge_env, dagster_instance, tmp_path):
    s = crossbridge_env
    send(s, "win", {"coverage-final.json": _c8_windows_duplicate(tmp_path / "coverage-final.json")}, build="77")
    ingest(dagster_instance)
    refresh(dagster_instance)
    engine = make_engine(s.warehouse_url)
    (run,) = coverage_runs(engine)
    files = run_merge(engine, run["run_id"]).files
    assert set(files) == {"SRC/Pricing.js", "src/shipping.js"}
    real = merge_coverage([open_report(JS / "github" / "coverage-final.json")], JS_ROOTS)["src/pricing.js"]
    pricing = files["SRC/Pricing.js"]
    assert sorted(pricing.lines) == sorted(real.lines)
    assert sorted(n for n, h in pricing.lines.items() if h) == sorted(n for n, h in real.lines.items() if h)
    assert run["files"] == 2
    assert (run["lines_covered"], run["lines_valid"]) == (29, 35)


def test_per_test_c8_reports_announced_in_the_manifest_answer_by_file_and_line(crossbridge_env, dagster_instance):
    """Two c8 reports of one test each, both named coverage-final.json in their own folder, told
    apart in the manifest by their path; the runner's checkout announced as a source root."""
    s = crossbridge_env
    heavy, guest = "shard_shipping.test.js > heavy", "shard_shipping.test.js > total for a guest"
    send(s, "pertest", {"heavy/coverage-final.json": JS / "pertest" / "heavy" / "coverage-final.json",
                        "guest/lcov.info": JS / "pertest" / "total-for-a-guest" / "lcov.info"},
         build="12", source_roots=list(JS_ROOTS),
         files={"heavy/coverage-final.json": {"test": heavy}, "guest/lcov.info": {"test": guest}})
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)

    def tests_at(path: str, line: int) -> list[str]:
        return [t["test"] for t in covering_tests(engine, path, line)]

    assert tests_at("src/shipping.js", 5) == [heavy]  # weight > 10
    assert tests_at("src/shipping.js", 7) == [guest]  # return 5
    assert tests_at("src/shipping.js", 4) == [heavy, guest]
    assert tests_at("src/pricing.js", 5) == [guest]  # the guest price
    assert tests_at("src/pricing.js", 18) == []  # unused(): no test
