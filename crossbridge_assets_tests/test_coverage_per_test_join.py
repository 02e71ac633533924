"""Per-test coverage joined to the same run's results, on output of the real tools: one pytest
run with pytest-cov's per-test contexts (`--cov-context=test`), `--junitxml` and
pytest-json-report; the same suite under coverage.py's `dynamic_context = test_function`; one
LCOV and one coverage.py XML report per test announced in the manifest; and `crossbridge
impact` on real git changes of the sample project. Fixtures: fixtures/coverage/pertest/
(regenerate-more.sh pertest)."""

import json
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import select

from crossbridge_assets.formats.pytest_json import split_nodeid
from crossbridge_assets.model import test_identity as identity_of
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.coverage import run_test_map
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.conftest import FIXTURES
from crossbridge_assets_tests.test_cli import run_cli
from crossbridge_assets_tests.test_coverage_e2e import drop_shard, ingest

PERTEST = FIXTURES / "coverage" / "pertest"
RUN = PERTEST / "run"
# Where regenerate-more.sh ran the sample: the data file names the files from there.
PROJ = "/tmp/crossbridge-coverage-more/pertest/proj"
MANIFEST = {"build": "42", "source_roots": [PROJ]}


def results_of(engine) -> dict[str, dict[str, str]]:
    """run_id -> test identity -> 'suite::name+params' of every result the warehouse holds."""
    T, TR = schema.tests, schema.test_results
    out: dict[str, dict[str, str]] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(TR.c.run_id, T.c.test_id, T.c.framework, T.c.suite, T.c.name, T.c.parameters)
                            .join(T, T.c.test_id == TR.c.test_id)).all()
    for run_id, test_id, framework, suite, name, params in rows:
        out.setdefault(run_id, {})[test_id] = f"{framework}:{suite}::{name}{params or ''}"
    return out


def map_identities(engine) -> dict[str, dict[str, str]]:
    """run_id -> test identity -> the map's test name, reading the map's tests as pytest node ids."""
    out: dict[str, dict[str, str]] = {}
    with engine.connect() as conn:
        runs = conn.execute(select(schema.test_coverage_map.c.run_id).distinct()).scalars().all()
    for run_id in runs:
        for by_test in run_test_map(engine, run_id).values():
            for test in by_test:
                out.setdefault(run_id, {})[identity_of("pytest", *split_nodeid(test))] = test
    return out


def test_contexts_of_a_pytest_cov_run_name_the_tests_its_results_name(crossbridge_env, dagster_instance):
    """pytest-cov's contexts, the JUnit XML and the pytest-json-report of one run: every test of
    the map is a test of the run's results (ids with brackets, dots, slashes, spaces and '::',
    classes, a unittest.TestCase, folders with and without __init__.py), and what a fixture ran
    in setup and teardown is the test's own."""
    s = crossbridge_env
    for name in ("junit.xml", "report.json", "unit.coverage"):
        drop_shard(s, "r", RUN / name, name, **MANIFEST)
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    results, mapped = results_of(engine), map_identities(engine)
    assert list(mapped) == list(results)
    (run_id,) = results
    assert len(results[run_id]) == 9 and set(mapped[run_id]) == set(results[run_id])
    by_file = run_test_map(engine, run_id)
    assert by_file["conftest.py"]["tests/test_plain.py::test_uses_store"] == {8, 9, 10, 11}
    assert by_file["calc/ops.py"]["tests/nested/deep/test_deep.py::TestJoin::test_two"] == {19, 22, 25}
    with engine.connect() as conn:
        contexts = set(conn.execute(select(schema.test_coverage_map.c.context).where(
            schema.test_coverage_map.c.path == "conftest.py")).scalars())
    assert contexts == {f"{t}|{phase}" for t in ("tests/test_plain.py::test_uses_store",
                                                 "tests/nested/deep/test_deep.py::TestJoin::test_two")
                        for phase in ("setup", "teardown")}
    # Each test's lines are those coverage.py's own JSON gives its contexts.
    files = json.loads((RUN / "coverage.json").read_text())["files"]
    for path, tests in by_file.items():
        for test, lines in tests.items():
            assert lines == {int(n) for n, cs in files[path]["contexts"].items()
                             if any(c.rsplit("|", 1)[0] == test for c in cs)}, (path, test)


@pytest.mark.parametrize("suffix", [".info", ".xml"])
def test_per_test_reports_announced_in_the_manifest_name_the_tests_the_results_name(
        crossbridge_env, dagster_instance, suffix):
    """One LCOV (or coverage.py XML) report per test, written by coverage.py from the run's
    data narrowed to the test's contexts, each announced in the manifest with its node id."""
    s = crossbridge_env
    announced = {name: v for name, v in json.loads((PERTEST / "per-test" / "files.json").read_text()).items()
                 if name.endswith(suffix)}
    drop_shard(s, "r", RUN / "junit.xml", "junit.xml", files=announced, **MANIFEST)
    for name in announced:
        drop_shard(s, "r", PERTEST / "per-test" / name, name, files=announced, **MANIFEST)
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    results, mapped = results_of(engine), map_identities(engine)
    (run_id,) = results
    assert list(mapped) == [run_id] and set(mapped[run_id]) == set(results[run_id])
    by_file = run_test_map(engine, run_id)
    files = json.loads((RUN / "coverage.json").read_text())["files"]
    expected = {}
    for path, data in files.items():
        for n, contexts in data["contexts"].items():
            for c in contexts:
                if c:
                    expected.setdefault(path, {}).setdefault(c.rsplit("|", 1)[0], set()).add(int(n))
    assert by_file == expected


@pytest.mark.parametrize("results", ["function-report.json", "function-junit.xml"])
def test_test_function_contexts_name_the_tests_of_the_run_results(crossbridge_env, dagster_instance, capsys, results):
    """coverage.py's own `dynamic_context = test_function` names a test by the module Python
    imported ('test_deep' for tests/nested/deep/test_deep.py, which has no __init__.py;
    'pkg.test_inpkg') and the function's qualified name, one context for every case of a
    parametrized test: the map gives the run's own tests, by their node ids (pytest-json-report
    says them; the JUnit XML names a test's module by its dotted path, which the run's measured
    test files place)."""
    s = crossbridge_env
    for name in (results, "function.coverage"):
        drop_shard(s, "r", RUN / name, name, **MANIFEST)
    ingest(dagster_instance)
    engine = make_engine(s.warehouse_url)
    results, mapped = results_of(engine), map_identities(engine)
    (run_id,) = results
    # Every test ran a measured line of its own (its body): all nine are in the map.
    assert list(mapped) == [run_id] and set(mapped[run_id]) == set(results[run_id])
    by_file = run_test_map(engine, run_id)
    assert set(by_file["calc/ops.py"]) == {
        "tests/pkg/test_inpkg.py::StoreCase::test_put", "tests/test_plain.py::test_add",
        "tests/test_plain.py::TestDivide::test_divide", "tests/test_plain.py::TestDivide::test_by_zero",
        "tests/test_plain.py::test_label[a[1]]", "tests/test_plain.py::test_label[b.c/d e]",
    }
    assert by_file["calc/paths.py"]["tests/nested/deep/test_deep.py::TestJoin::test_two"] == {2}
    code, out, err = run_cli(capsys, "covering", "calc/ops.py:13", "--json")
    assert code == 0, err
    assert [(t["test"], t["contexts"]) for t in json.loads(out)["tests"]] == [
        ("tests/test_plain.py::test_label[a[1]]", ["test_plain.test_label"]),
        ("tests/test_plain.py::test_label[b.c/d e]", ["test_plain.test_label"]),
    ]


def covered_by(changes: dict[str, set[int]]) -> set[str]:
    """The tests whose contexts ran one of the lines (per file) in coverage.py's own JSON of the
    run (`coverage json --show-contexts`): what a change to those lines should select."""
    files = json.loads((RUN / "coverage.json").read_text())["files"]
    tests = set()
    for path, lines in changes.items():
        for line, contexts in files[path]["contexts"].items():
            if int(line) in lines:
                tests.update(c.rsplit("|", 1)[0] for c in contexts if c)
    return tests


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def edit(repo, path: str, change) -> None:
    """Rewrite one file of the checkout: `change` gets and returns its lines."""
    target = repo / path
    target.write_text("".join(change(target.read_text().splitlines(keepends=True))))


JOIN = '    return "/".join(parts)\n'  # a new body for calc/paths.py's join()
# What each change touches, in the lines of the code the run measured (the base of the change).
CHANGES = {
    # The fixture's teardown line in conftest.py: the tests that use the fixture.
    "conftest teardown": (lambda repo: edit(repo, "conftest.py", lambda ls: ls[:10] + ["    s.close()  # done\n"]),
                          {"conftest.py": {11}}),
    # A line deleted, nothing added: the test that ran it.
    "deleted line": (lambda repo: edit(repo, "calc/ops.py", lambda ls: ls[:7] + ls[8:]), {"calc/ops.py": {8}}),
    # Two lines inserted above, then a line further down modified: the change is old line 14.
    "shifted line": (lambda repo: edit(repo, "calc/ops.py", lambda ls: ["import math\n", "\n"] + ls[:13]
                                       + ['    return "positive!"\n'] + ls[14:]),
                     {"calc/ops.py": {1, 14}}),
    # A renamed file with one line changed: the map knows it by its old name.
    "renamed file": (lambda repo: (git(repo, "mv", "calc/paths.py", "calc/pathutil.py"),
                                   edit(repo, "calc/pathutil.py", lambda ls: ls[:1] + [JOIN] + ls[2:])),
                     {"calc/paths.py": {2}}),
    # A test file renamed and changed: its test runs under its new name.
    "renamed test file": (lambda repo: (git(repo, "mv", "tests/test_plain.py", "tests/test_basic.py"),
                                        edit(repo, "tests/test_basic.py",
                                             lambda ls: ls[:7] + ["    assert add(2, 1) == 3\n"] + ls[8:])),
                          {"tests/test_plain.py": {8}}),
    # A test file deleted, with the code its test ran: that test is gone, the others still run.
    "deleted test file": (lambda repo: (git(repo, "rm", "-q", "tests/nested/deep/test_deep.py"),
                                        edit(repo, "calc/paths.py", lambda ls: ls[:1] + [JOIN] + ls[2:])),
                          {"calc/paths.py": {2}}),
}
# Where the changes above move test files: the node ids pytest knows after the change.
MOVED = {"renamed test file": {"tests/test_plain.py": "tests/test_basic.py"},
         "deleted test file": {"tests/nested/deep/test_deep.py": None}}


def after_change(tests: set[str], moved: dict[str, str | None]) -> set[str]:
    out = set()
    for test in tests:
        file, sep, rest = test.partition("::")
        if file not in moved:
            out.add(test)
        elif moved[file] is not None:
            out.add(moved[file] + sep + rest)
    return out


def test_impact_selects_the_tests_that_ran_the_lines_a_git_change_touches(crossbridge_env, dagster_instance, tmp_path,
                                                                          capsys):
    s = crossbridge_env
    drop_shard(s, "r", RUN / "unit.coverage", "unit.coverage", **MANIFEST)
    ingest(dagster_instance)
    repo = tmp_path / "repo"
    shutil.copytree(PERTEST / "sample", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    for n, (name, (change, touched)) in enumerate(CHANGES.items()):
        git(repo, "checkout", "-q", "-f", "-b", name.replace(" ", "-"), "main")
        change(repo)
        if n % 2:  # every other change is left in the working tree, uncommitted
            git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", name)
        expected = after_change(covered_by(touched), MOVED.get(name, {}))
        assert expected, name
        code, out, err = run_cli(capsys, "impact", "--diff", "main", "--repo", str(repo), "--json")
        assert code == 0, err
        assert set(json.loads(out)["tests"]) == expected, name
        gone = {t for t in covered_by(touched) if MOVED.get(name, {}).get(t.partition("::")[0], "") is None}
        assert json.loads(out)["removed"] == sorted(gone), name
        code, out, err = run_cli(capsys, "impact", "--diff", "main", "--repo", str(repo), "--committed-only", "--json")
        assert code == 0, err
        assert set(json.loads(out)["tests"]) == (expected if n % 2 else set()), name
        if any(" " in test for test in expected):
            # One node id a line, as pytest reads an argument file: an id with a space stays whole.
            code, out, err = run_cli(capsys, "impact", "--diff", "main", "--repo", str(repo), "--tests-only")
            assert code == 0 and set(out.splitlines()) == expected, err
            (tmp_path / "selected.txt").write_text(out)
            ran = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                  "-p", "no:crossbridge", f"@{tmp_path / 'selected.txt'}"],
                                 cwd=repo, capture_output=True, text=True)
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert {line for line in ran.stdout.splitlines() if "::" in line} == expected
        # The same change saved by `git diff` with its context lines, read from the file.
        diff = tmp_path / "change.diff"
        diff.write_text(git(repo, "diff", "-M", "main"))
        code, out, err = run_cli(capsys, "impact", "--diff-file", str(diff), "--repo", str(repo), "--json")
        assert code == 0, err
        assert set(json.loads(out)["tests"]) == expected, name
