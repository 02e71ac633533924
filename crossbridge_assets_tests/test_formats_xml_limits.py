"""libxml2's size limits: lifted for documents that cannot declare entities (no DOCTYPE), so a
test's captured output over 10 MB is read and truncated, kept for every other document."""

from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, open_report
from crossbridge_assets.formats._xml import PROLOG_BYTES, check_prolog
from crossbridge_assets.model import MAX_OUTPUT_CHARS

BIG = 12 * 1024 * 1024  # libxml2 refuses a text node over 10 MB without huge_tree


def _junit(path: Path, prolog: str, output_chars: int) -> Path:
    line = "[INFO] a verbose build log line, as Surefire captures it\n"
    out = (line * (output_chars // len(line) + 1))[:output_chars]
    path.write_text(
        prolog
        + '<testsuite name="com.example.LogTest" tests="2" failures="1">\n'
        + '  <testcase classname="com.example.LogTest" name="chatty" time="1.5">\n'
        + '    <failure message="boom" type="java.lang.AssertionError">trace</failure>\n'
        + f"    <system-out>{out}</system-out>\n"
        + "  </testcase>\n"
        + '  <testcase classname="com.example.LogTest" name="quiet" time="0.1"/>\n'
        + "</testsuite>\n",
        encoding="utf-8",
    )
    return path


def test_captured_output_over_ten_megabytes_is_read_and_truncated(tmp_path):
    path = _junit(tmp_path / "TEST-com.example.LogTest.xml", '<?xml version="1.0" encoding="UTF-8"?>\n', BIG)
    cases = open_report(path).read_all()
    assert [(c.name, c.status) for c in cases] == [("chatty", "failed"), ("quiet", "passed")]
    attempt = cases[0].attempts[-1]
    assert attempt.stdout_size == BIG
    assert attempt.stdout.startswith("[INFO] a verbose build log line") and len(attempt.stdout) < MAX_OUTPUT_CHARS + 100
    assert attempt.message == "boom"


def test_a_document_with_a_doctype_keeps_the_limits(tmp_path):
    """A DOCTYPE could declare entities past what the pre-check reads: no lifting for it."""
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE testsuite SYSTEM "junit.dtd">\n'
    path = _junit(tmp_path / "doctype.xml", prolog, BIG)
    with pytest.raises(FormatError) as err:
        open_report(path).read_all()
    assert str(path) in str(err.value) and "malformed XML" in err.value.reason


@pytest.mark.parametrize(
    "head, plain",
    [
        (b'<?xml version="1.0"?>\n<testsuite>', True),
        (b"<testsuites><testsuite>", True),
        (b"<!-- generated --><?xml-stylesheet href='x'?>\n<testsuite>", True),
        (b'<?xml version="1.0"?>\n<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd"><report>', False),
        (b"<!-- <a> looks like an element, but the comment is never closed in the head", False),
        (b"<?xml-stylesheet never closed <a>", False),
        (b"   \n", False),  # no element in the head at all
    ],
)
def test_which_heads_lift_the_limits(head, plain):
    assert check_prolog(Path("report.xml"), head[:PROLOG_BYTES]) is plain


_HIDDEN = b'<!DOCTYPE testsuite [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>\n'
_SUITE = b'<testsuite name="s"><testcase classname="a" name="t"/></testsuite>\n'


@pytest.mark.parametrize(
    "prolog",
    [
        b"<!-- " + b"padding " * (PROLOG_BYTES // 8) + b"-->\n",  # a comment the head cuts
        b"<!-- <a> " + b"x" * PROLOG_BYTES + b" -->\n",  # ... with an element-like text in it
        b" " * PROLOG_BYTES,  # whitespace only
        b"<?pi " + b"x" * PROLOG_BYTES + b"?>\n",  # a processing instruction
    ],
    ids=["comment", "comment-with-tag", "whitespace", "processing-instruction"],
)
def test_a_prolog_longer_than_the_head_is_refused(tmp_path, prolog):
    """What the pre-check cannot see could declare entities: such a file is refused by name."""
    path = tmp_path / "long-prolog.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n' + prolog + _HIDDEN + _SUITE)
    with pytest.raises(FormatError) as err:
        open_report(path).read_all()
    assert err.value.path == str(path)
    assert f"more than {PROLOG_BYTES // 1024} KiB" in err.value.reason and "before the root element" in err.value.reason


def test_entities_spelled_in_utf7_are_seen_and_refused(tmp_path):
    """libxml2 decodes a document declared UTF-7: '+ADw-' is '<' to it, so to the check too."""
    path = tmp_path / "utf7.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-7"?>\n'
                     + _HIDDEN.replace(b"<", b"+ADw-") + _SUITE)
    with pytest.raises(FormatError, match="declares the parameter entity 'remote'"):
        open_report(path)
    # The same document whose markup the bytes show is refused the same way.
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-7"?>\n' + _HIDDEN + _SUITE)
    with pytest.raises(FormatError, match="declares the parameter entity 'remote'"):
        open_report(path)


def test_a_latin1_report_is_read(tmp_path):
    path = tmp_path / "latin1.xml"
    path.write_bytes('<?xml version="1.0" encoding="ISO-8859-1"?>\n<testsuite name="s">'
                     '<testcase classname="caf\u00e9" name="cr\u00e8me"/></testsuite>\n'.encode("latin-1"))
    [case] = open_report(path).read_all()
    assert (case.suite, case.name) == ("caf\u00e9", "cr\u00e8me")


# ---------------------------------------------------------------- UTF-16 reports

FIXTURES = Path(__file__).parent / "fixtures"
_UTF16_CASES = [
    "junit/pytest-sample.xml",  # results
    "results/robot-output.xml",  # results, another parser
    "coverage/java/jacoco.xml",  # coverage, with a DOCTYPE naming an external DTD
]


def _as_utf16(source: Path, target: Path, codec: str) -> Path:
    """The same document as a Windows tool writes it: UTF-16 with its declaration saying so."""
    text = source.read_text(encoding="utf-8")
    head, _, rest = text.partition("?>")
    assert "encoding=" in head.lower()
    text = head.replace('encoding="utf-8"', 'encoding="UTF-16"').replace('encoding="UTF-8"', 'encoding="UTF-16"') \
        + "?>" + rest
    target.write_bytes(text.encode(codec))
    return target


def _records(path: Path) -> tuple[str, list]:
    from crossbridge_assets.formats import read_report

    spec, _, records = read_report(path)
    return spec.name, records


@pytest.mark.parametrize("fixture", _UTF16_CASES)
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16_xml_reports_read_as_their_utf8_originals(tmp_path, fixture, codec):
    source = FIXTURES / fixture
    if codec != "utf-16":  # no byte order mark: recognized by the declaration's first bytes
        assert source.read_bytes().startswith(b"<?xml")
    converted = _as_utf16(source, tmp_path / Path(fixture).name, codec)
    assert converted.read_bytes()[:2] != source.read_bytes()[:2]
    name, records = _records(converted)
    assert (name, records) == _records(source)
    assert records


def test_utf16_text_that_is_not_xml_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "coverage-final.json"
    path.write_bytes('{"/src/a.js": {"path": "/src/a.js"}}'.encode("utf-16"))
    # UTF-16 JSON (with its byte order mark, as PowerShell 5.1 writes it) is read as JSON: this
    # object is no report, and the reason says so rather than blaming the encoding.
    with pytest.raises(FormatError, match=r"unknown format \(JSON object matches no supported format\)"):
        open_report(path)
    hostile = tmp_path / "xxe16.xml"
    hostile.write_bytes('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        '<testsuite name="s"><testcase name="&x;"/></testsuite>'.encode("utf-16"))
    with pytest.raises(FormatError, match="declares the entity 'x'"):
        open_report(hostile)
