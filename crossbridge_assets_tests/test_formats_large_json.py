"""JSON reports far bigger than the fixtures: made by repeating a real tool's fixture
(large_json.py), read with the same records as the fixture, copy after copy, and handed out as
they are read rather than once the file has been read whole. (Peak memory on 20 and 200 MB
files is measured in benchmarks/results_bench.py, never asserted here.)"""

from __future__ import annotations

import json

import pytest

from crossbridge_assets.formats import SNIFF_BYTES, _common, detect, open_report
from crossbridge_assets_tests import large_json


def _rows(path):
    stream = open_report(path)
    records = list(stream)
    if stream.info.kind == "coverage":
        return [(fc.path, sorted(fc.lines.items()), sorted(fc.branches.items())) for fc in records]
    return [(c.suite, c.name, c.parameters, c.status, c.file, [a.status for a in c.attempts],
             c.attempts[0].message) for c in records]


@pytest.mark.parametrize("name", [n for n in large_json.SHAPES if n != "istanbul-summary"])
def test_a_repeated_report_reads_as_its_copies(name, tmp_path):
    shape = large_json.SHAPES[name]
    one, three = tmp_path / "one.json", tmp_path / "three.json"
    large_json.write(name, one, copies=1)
    large_json.write(name, three, copies=3)
    assert detect(three).name == shape.format
    base = _rows(one)
    assert base, name
    rows = _rows(three)
    # Copy i is the fixture under its own file name: the same records, renamed, in order.
    head = large_json._renamed(shape.stem, 0).rstrip("/").partition(".")[0]  # 'sample_tests_0', as suites have it
    expected = [json.loads(json.dumps(base).replace(head, head[:-1] + str(i))) for i in range(3)]
    got = json.loads(json.dumps(rows))
    if name in ("mocha-json", "pytest-json"):
        # Two repeated arrays (mocha's failed hooks come after its tests, pytest's collectors
        # before its tests): the same records, in another order.
        assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, [r for rs in expected for r in rs]))
    elif name == "cucumber-json":
        # The copies are features of one name in other files: the later copies' scenarios are that
        # name's repeats, numbered on (formats/cucumber.py), their own identities. All else is the same.
        assert [r[:2] + r[3:] for r in got] == [r[:2] + r[3:] for rs in expected for r in rs]
        assert len({tuple(r[:3]) for r in got}) == len(got)
    else:
        assert got == [r for rs in expected for r in rs]


@pytest.fixture
def bytes_read(monkeypatch):
    """How much of the file the JSON readers have read so far."""
    seen = [0]

    class Counting(_common.DepthCheckedReader):
        def read(self, size=-1):
            data = super().read(size)
            seen[0] = max(seen[0], self._check.seen)
            return data

    monkeypatch.setattr(_common, "DepthCheckedReader", Counting)
    return seen


@pytest.mark.parametrize("name", ["mochawesome", "playwright-json", "cucumber-json", "pytest-json", "ctrf",
                                  "istanbul-final", "coveragepy-json"])
def test_the_first_record_comes_before_the_file_is_read(name, tmp_path, bytes_read):
    path = tmp_path / "big.json"
    large_json.write(name, path, size=3 * 1024 * 1024)
    size = path.stat().st_size
    stream = iter(open_report(path))
    next(stream)
    assert 0 < bytes_read[0] < size / 4, (bytes_read[0], size)
    rest = sum(1 for _ in stream)
    assert rest > 100
    assert bytes_read[0] == size


def test_mochawesome_root_suite_with_every_file_is_held_one_suite_at_a_time(tmp_path, bytes_read):
    # mocha's mochawesome: results[] holds one root suite whose suites are the spec files; the
    # tests of the first file come out long before that root suite ends.
    path = tmp_path / "big.json"
    large_json.write("mochawesome", path, size=3 * 1024 * 1024)
    doc = json.loads(path.read_text())
    assert len(doc["results"]) == 1 and len(doc["results"][0]["suites"]) > 100
    read = []
    for case in open_report(path):
        read.append(bytes_read[0])
    assert read[0] < path.stat().st_size / 4
    assert read[len(read) // 2] < path.stat().st_size * 3 / 4


def test_mochawesome_suite_with_nested_suites_first_reads_the_same(tmp_path):
    # Written by no tool (mochawesome puts title, file, hooks and tests first); a hand-edited or
    # re-serialized report may not: such a suite is built whole, with the same records.
    path = tmp_path / "mochawesome.json"
    large_json.write("mochawesome", path, copies=2)
    doc = json.loads(path.read_text())

    def suites_first(suite):
        children = [suites_first(child) for child in suite.pop("suites", None) or []]
        return {"suites": children, **suite}

    doc["results"] = [suites_first(s) for s in doc["results"]]
    reordered = tmp_path / "reordered.json"
    reordered.write_text(json.dumps(doc))
    assert next(iter(doc["results"][0])) == "suites"
    assert _rows(reordered) == _rows(path)


def test_mochawesome_shape_errors_name_the_place_when_streamed(tmp_path):
    path = tmp_path / "mochawesome.json"
    large_json.write("mochawesome", path, copies=2)
    doc = json.loads(path.read_text())
    doc["results"][0]["suites"][1]["tests"][0]["title"] = {"not": "text"}
    path.write_text(json.dumps(doc))
    from crossbridge_assets.formats import FormatError
    with pytest.raises(FormatError, match=r"results\[0\]\.suites\[1\]\.tests\[0\]\.title: expected a string"):
        list(open_report(path))


def test_detection_reads_only_the_head(tmp_path):
    # Everything past the detection head is garbage: detection cannot have read it.
    for name in ("playwright-json", "mochawesome", "istanbul-final", "coveragepy-json"):
        path = tmp_path / f"{name}.json"
        large_json.write(name, path, size=SNIFF_BYTES * 2)
        with open(path, "r+b") as fh:
            fh.seek(SNIFF_BYTES)
            fh.write(b"\x00garbage" * 1000)
        assert detect(path).name == large_json.SHAPES[name].format
