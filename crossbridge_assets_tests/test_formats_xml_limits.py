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
        (b"<!-- a comment the head cuts " + b"x" * PROLOG_BYTES, False),
        (b"<!-- <a> looks like an element, but the comment is never closed in the head", False),
        (b"<?xml-stylesheet never closed <a>", False),
        (b"   \n", False),  # no element in the head at all
    ],
)
def test_which_heads_lift_the_limits(head, plain):
    assert check_prolog(Path("report.xml"), head[:PROLOG_BYTES]) is plain
