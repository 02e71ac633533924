"""JSON and text reports as Windows PowerShell 5.1 writes them: `mocha --reporter json > r.json`,
`npx playwright test --reporter=json > pw.json` and Out-File write UTF-16LE with a byte order
mark and CRLF line endings (`Set-Content -Encoding BigEndianUnicode` UTF-16BE, `-Encoding UTF8`
UTF-8 with a byte order mark). Each reads as the UTF-8 report the tool wrote; UTF-16 without a
byte order mark, or not valid UTF-16, is refused by name; a large one is read in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from crossbridge_assets.cli import main
from crossbridge_assets.formats import FormatError, detect, read_report
from crossbridge_assets.formats._common import open_report_bytes
from crossbridge_assets.hooks import events
from crossbridge_assets_tests import large_json
from crossbridge_assets_tests.conftest import FIXTURES, REPO

# Real reports, each as its tool wrote it (see the regenerate scripts beside them).
REAL = {
    "mocha-json": "results/js/mocha-json.json",
    "mocha-json-stdout": "results/mochafam/mocha-json-8-stdout.json",  # after the tests' own output
    "playwright-json": "results/js/playwright.json",
    "ctrf": "results/js/ctrf.json",
    "cucumber-json": "results/js/cucumber.json",
    "pytest-json-report": "results/pytest-json-report.json",
    "istanbul-final": "coverage/js/coverage-final.json",
    "coveragepy-json": "coverage/python/coverage.json",
    "lcov": "coverage/js/lcov.info",
}


def powershell5(text: str, encoding: str = "utf-16") -> bytes:
    """The text as PowerShell 5.1 writes it: CRLF line endings; Python's utf-16 codec writes the
    byte order mark first (little-endian here, as Windows does)."""
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


def _events_file(directory: Path) -> Path:
    """A CrossBridge events file as the hooks write it (JSON Lines)."""
    w = events.EventWriter(directory, framework="pytest", env={}, run="run-1", metadata={"project": "shop"})
    t0 = time.time()
    parent = w.span("test", "tests/test_a.py::test_x", t0, 0.25, status="passed", test="abc",
                    attributes={"nodeid": "tests/test_a.py::test_x"})
    w.span("http", "GET example.org/users/{id}", t0 + 0.1, 0.01, status="404", test="abc", parent_id=parent)
    return w.close("passed")


def _source(name: str, tmp_path: Path) -> Path:
    return _events_file(tmp_path / "hook") if name == "crossbridge-events" else FIXTURES / REAL[name]


def _read(path: Path) -> tuple[str, list, dict]:
    spec, stream, records = read_report(path)
    info = asdict(stream.info)
    return spec.name, [asdict(r) for r in records], info


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom", "utf-8-sig"])
@pytest.mark.parametrize("name", [*REAL, "crossbridge-events"])
def test_a_report_powershell_5_wrote_reads_as_its_utf8_original(tmp_path, name, encoding):
    source = _source(name, tmp_path)
    original = _read(source)
    assert original[1], "the fixture has records"
    path = tmp_path / encoding / source.name
    path.parent.mkdir()
    path.write_bytes(powershell5(source.read_text(encoding="utf-8"), encoding))
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb")
    assert _read(path) == original


def test_text_beyond_ascii_reads_whole_across_reads_and_seeks(tmp_path):
    """Characters of 2, 3 and 4 UTF-8 bytes (a surrogate pair in UTF-16), cut by reads of every
    size: the bytes are the text's UTF-8; a seek counts those bytes."""
    text = '{"title": "caf\u00e9 \u8ca8\u7269 \U0001f6d2 ' + "\u00e9\U0001f600x" * 5000 + '"}\r\n'
    want = text.encode("utf-8")
    path = tmp_path / "r.json"
    for data in (text.encode("utf-16"), b"\xfe\xff" + text.encode("utf-16-be")):
        path.write_bytes(data)
        for size in (1, 2, 3, 5, 4096, 1 << 20):
            with open_report_bytes(path) as fh:
                got = b"".join(iter(lambda: fh.read(size), b""))
            assert got == want, size
        with open_report_bytes(path) as fh:
            fh.seek(13)
            assert fh.tell() == 13 and fh.read(20) == want[13:33]
            fh.seek(3)
            assert fh.read(10) == want[3:13]
    # UTF-8 as it is in the file, its byte order mark included (the readers drop it).
    path.write_bytes(b"\xef\xbb\xbf" + want)
    with open_report_bytes(path) as fh:
        assert fh.read() == b"\xef\xbb\xbf" + want


def _refusal(path: Path) -> str:
    with pytest.raises(FormatError) as info:
        read_report(path)
    assert type(info.value) is FormatError and info.value.path == str(path)
    return info.value.reason


@pytest.mark.parametrize("name", ["mocha-json", "playwright-json", "istanbul-final", "lcov", "crossbridge-events"])
def test_utf16_that_is_not_what_powershell_writes_is_refused_by_name(tmp_path, name):
    source = _source(name, tmp_path)
    text = source.read_text(encoding="utf-8").replace("\n", "\r\n")
    data = text.encode("utf-16")
    half = len(data) // 2 & ~1
    path = tmp_path / f"bad-{source.name}"
    cases = {
        # .NET's Encoding.Unicode.GetBytes, a pipe: no byte order mark to tell UTF-16 by.
        "no-bom-le": (text.encode("utf-16-le"), "the file is UTF-16 text without a byte order mark"),
        "no-bom-be": (text.encode("utf-16-be"), "the file is UTF-16 text without a byte order mark"),
        # A copy cut short: an odd number of bytes, or half of a surrogate pair at the end.
        "odd": (data[:-1], "the file is UTF-16 text that ends in the middle of a character"),
        "half-pair": (data + "\U0001f600".encode("utf-16-le")[:2], "the file is UTF-16 text that ends in the middle"),
        "lone-low": (data[:half] + b"\x00\xdc" + data[half:], f"not valid UTF-16 at byte {half:,}"),
        "lone-high": (data[:half] + b"\x00\xd8" + data[half:], f"not valid UTF-16 at byte {half:,}"),
        "utf-32": (text.encode("utf-32"), "the file is UTF-32 text"),
    }
    unexpected = {}
    for case, (content, words) in cases.items():
        path.write_bytes(content)
        reason = _refusal(path)
        if words not in reason:
            unexpected[case] = reason
    assert unexpected == {}


def test_a_lone_surrogate_in_the_detection_head_is_refused_by_name(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes("{".encode("utf-16") + b"\x00\xdc" + '"stats": {}}'.encode("utf-16-le"))
    assert "the file is UTF-16 text that is not valid UTF-16 at byte 4" in _refusal(path)
    with pytest.raises(FormatError):
        detect(path)


def test_nesting_in_utf16_is_refused_as_in_utf8(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(('{"stats": {}, "tests": ' + "[" * 100_000 + "]" * 100_000 + "}").encode("utf-16"))
    assert "JSON nested deeper than 512 levels" in _refusal(path)


# ---------------------------------------------------------------------------- memory

_CHILD = r"""
import json, sys, time
from crossbridge_assets.formats import open_report

start = time.perf_counter()
records = 0
if sys.argv[1] != "--baseline":
    for _ in open_report(sys.argv[1]):
        records += 1
with open("/proc/self/status") as fh:  # this process's own high-water mark
    peak_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps({"records": records, "peak_kb": peak_kb, "seconds": time.perf_counter() - start}))
"""


def _in_child(arg: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, arg], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_large_utf16_report_is_read_in_bounded_memory(tmp_path):
    utf8 = tmp_path / "pw8.json"
    copies = large_json.write("playwright-json", utf8, size=40 << 20)
    utf16 = tmp_path / "pw16.json"
    with open(utf8, encoding="utf-8", newline="") as src, open(utf16, "wb") as out:
        out.write(b"\xff\xfe")
        for piece in iter(lambda: src.read(1 << 20), ""):
            out.write(piece.replace("\n", "\r\n").encode("utf-16-le"))
    assert utf16.stat().st_size > 80 << 20
    baseline = _in_child("--baseline")
    plain, wide = _in_child(str(utf8)), _in_child(str(utf16))
    assert wide["records"] == plain["records"] > copies
    # The reader holds a read's worth of the file, not the file (80 MB here, 40 MB as UTF-8):
    # about what the UTF-8 original costs (13 MB over the bare interpreter when written).
    assert wide["peak_kb"] - baseline["peak_kb"] < 24 * 1024, (wide, baseline)
    assert wide["peak_kb"] - plain["peak_kb"] < 8 * 1024, (wide, plain)


# ---------------------------------------------------------------------------- through the product


def test_crossbridge_parse_json_gives_the_utf8_originals_totals(tmp_path, capsys):
    source = FIXTURES / REAL["playwright-json"]
    path = tmp_path / source.name
    path.write_bytes(powershell5(source.read_text(encoding="utf-8")))
    outs = []
    for report in (source, path):
        code = main(["parse", str(report), "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        got = json.loads(out)
        assert got.pop("path") == str(report)
        outs.append(got)
    assert outs[0] == outs[1] and outs[1]["format"] == "playwright-json" and outs[1]["totals"]["tests"] > 0


def test_a_utf16_mocha_report_is_ingested_like_its_utf8_original(crossbridge_env, dagster_instance, tmp_path):
    from crossbridge_assets_tests.test_ingest_e2e import counts, drop, execute, report_rows, run_requests_until_ready

    s = crossbridge_env
    source = FIXTURES / REAL["mocha-json"]
    windows = tmp_path / "mocha-windows.json"
    windows.write_bytes(powershell5(source.read_text(encoding="utf-8")))
    drop(s, "mocha-windows.json", "shop/main/101", source=windows)
    _, second = run_requests_until_ready(dagster_instance)
    assert len(second.run_requests) == 1
    execute(dagster_instance, second.run_requests[0])
    row = report_rows(s)["mocha-windows.json"]
    assert row.status == "landed", row.reason
    assert row.format == "mocha-json"
    tests = len(read_report(source)[2])
    assert counts(s)["test_results"] == tests > 0
