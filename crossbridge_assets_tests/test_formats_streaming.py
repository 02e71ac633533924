"""Coverage records given out as soon as they are complete: the byte scan that tells a reader
what is still to come (start_tags), and the Cobertura reader that uses it to hold one file's
record at a time instead of every file's until the end."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from crossbridge_assets.formats import FormatError, cobertura, open_report
from crossbridge_assets.formats import _xml
from crossbridge_assets.formats._xml import Unscannable, start_tags
from crossbridge_assets_tests.conftest import corpus_rows


def _parsed_start_tags(path: Path, names: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
    return [(elem.tag, dict(elem.attrib))
            for _event, elem in etree.iterparse(str(path), events=("start",), tag=names)]


def _unprefixed(tags: list[tuple[str, dict[str, str]]]) -> list[tuple[str, dict[str, str]]]:
    """Namespaced attributes aside: the scan keeps their prefix, the parser gives the namespace."""
    return [(tag, {k: v for k, v in attrs.items() if ":" not in k and "{" not in k}) for tag, attrs in tags]


TRICKY = """<?xml version="1.0" encoding="UTF-8"?>
<!-- <class filename="in-a-comment-before-any-tag"> -->
<coverage><sources><source>/src</source></sources><packages><package name="p"><classes>
<class name="A" filename="a.py"/>
<class
   filename = 'b.py' name="B"><lines/></class>
<class name="x>y" filename="c&amp;d&#x41;&#66;.py"></class>
<class filename="tab\there
new line\r\nand cr.py" name="&lt;&gt;&quot;&apos;"/>
<class filename="&#9;&#10;kept.py"/>
<classes_not_a_class filename="no.py"/>
<!-- <class filename="in-a-comment"/> --><![CDATA[ <class filename="in-cdata"/> ]]><?pi <class filename="in-a-pi"/> ?>
<class filename="\u00e9t\u00e9/\u4e2d.py"/>
</classes></package></packages></coverage>
"""


def test_start_tags_give_what_the_parser_gives(tmp_path, monkeypatch):
    path = tmp_path / "tricky.xml"
    path.write_bytes(TRICKY.encode("utf-8"))
    expected = _parsed_start_tags(path, ("class", "source"))
    assert len(expected) == 7  # the source and six classes; not <classes>, nor the one in the comment
    assert list(start_tags(path, ("class", "source"))) == expected
    assert ("class", {"name": "x>y", "filename": "c&dAB.py"}) in expected
    assert ("class", {"filename": "tab here new line and cr.py", "name": "<>\"'"}) in expected
    assert ("class", {"filename": "\t\nkept.py"}) in expected  # references are not normalized
    # Chunks cut anywhere, tags across their edges included.
    for size in range(1, 80):
        monkeypatch.setattr(_xml, "_SCAN_CHUNK", size)
        assert list(start_tags(path, ("class", "source"))) == expected, size


def test_start_tags_against_the_parser_on_generated_documents(tmp_path, monkeypatch):
    rng = random.Random(7)
    pieces = ["a", "Z", "/", ".", " ", "\t", "\n", "\r\n", ">", "'", "&amp;", "&lt;", "&#38;", "&#x3E;", "\u00e9", "\U0001F600"]

    def value(quote: str) -> str:
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        return text.replace(quote, "&quot;" if quote == '"' else "&apos;")

    def tag(name: str) -> str:
        attrs = []
        for key in rng.sample(["filename", "name", "line-rate", "x:filename"], rng.randint(0, 3)):
            quote = rng.choice("\"'")
            attrs.append(f"{rng.choice([' ', '  ', chr(10), chr(9)])}{key}{rng.choice(['=', ' = '])}{quote}{value(quote)}{quote}")
        return f"<{name}{''.join(attrs)}{rng.choice(['', ' ', chr(10)])}{rng.choice(['/>', '>'])}"

    monkeypatch.setattr(_xml, "_SCAN_CHUNK", 97)
    for i in range(200):
        body = []
        for _ in range(rng.randint(1, 12)):
            t = tag(rng.choice(["class", "source", "classes", "method"]))
            body.append(t if t.endswith("/>") else t + "text &amp; more" + f"</{t[1:].split()[0].rstrip('/>')}>")
        doc = '<?xml version="1.0"?>\n<coverage xmlns:x="urn:x">' + "\n".join(body) + "</coverage>"
        path = tmp_path / f"doc{i}.xml"
        path.write_bytes(doc.encode("utf-8"))
        scanned = list(start_tags(path, ("class", "source")))
        assert _unprefixed(scanned) == _unprefixed(_parsed_start_tags(path, ("class", "source"))), doc
        assert all("{" not in k for _, attrs in scanned for k in attrs)


def test_start_tags_hold_no_text(tmp_path, monkeypatch):
    """Text between tags (a long <source>, output) is never held from one chunk to the next:
    only a tag or comment cut by a chunk's end is, within a bound."""
    path = tmp_path / "long.xml"
    path.write_text(f'<coverage><sources><source>{"x" * 5000}</source></sources><class filename="a.py"/></coverage>')
    monkeypatch.setattr(_xml, "_SCAN_CHUNK", 16)
    monkeypatch.setattr(_xml, "_SCAN_HELD_MAX", 64)
    assert list(start_tags(path, ("class", "source"))) == [("source", {}), ("class", {"filename": "a.py"})]
    path.write_text(f'<coverage><class filename="{"x" * 100}"/></coverage>')
    with pytest.raises(Unscannable):
        list(start_tags(path, ("class",)))


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param('<?xml version="1.0" encoding="ISO-8859-1"?><coverage><class filename="a"/></coverage>', id="latin-1"),
        pytest.param('<coverage><class filename="a"/><!-- <class filename="b"/> </coverage>', id="comment-left-open"),
        pytest.param('<coverage><class filename=a/></coverage>', id="unquoted"),
        pytest.param('<coverage><class filename="a&nbsp;"/></coverage>', id="undefined-entity"),
        pytest.param('<coverage><class filename="a" & /></coverage>', id="junk-in-tag"),
    ],
)
def test_start_tags_refuse_what_they_cannot_vouch_for(tmp_path, doc):
    path = tmp_path / "doc.xml"
    path.write_bytes(doc.encode("latin-1"))
    with pytest.raises(Unscannable):
        list(start_tags(path, ("class",)))


def test_start_tags_refuse_utf16(tmp_path):
    path = tmp_path / "doc.xml"
    path.write_bytes('<?xml version="1.0" encoding="UTF-16"?><coverage><class filename="a"/></coverage>'.encode("utf-16"))
    with pytest.raises(Unscannable):
        list(start_tags(path, ("class",)))


# ---------------------------------------------------------------------------- Cobertura


def _cobertura(packages: list[list[tuple[str, list[int]]]], before: str = "") -> str:
    """Packages of classes (file name, covered line numbers; every line up to the largest is listed)."""
    out = ['<?xml version="1.0"?>\n<coverage line-rate="0.5">', before, "<packages>"]
    for i, classes in enumerate(packages):
        out.append(f'<package name="p{i}"><classes>')
        for filename, covered in classes:
            out.append(f'<class name="{filename}" filename="{filename}"><lines>')
            out.extend(f'<line number="{n}" hits="{1 if n in covered else 0}"/>' for n in range(1, max(covered) + 2))
            out.append("</lines></class>")
        out.append("</classes></package>")
    out.append("</packages></coverage>\n")
    return "\n".join(out)


def _hold_all(monkeypatch):
    """The reading without counts ahead: every record held until the end."""
    monkeypatch.setattr(cobertura, "_class_counts", lambda path: None)


def _count_held(monkeypatch, module) -> list[int]:
    """The number of records a reader holds, each time it takes one up."""
    held: list[int] = []

    class Table(module.FileTable):
        def get(self, raw_path):
            fc = super().get(raw_path)
            held.append(len(self.files))
            return fc

    monkeypatch.setattr(module, "FileTable", Table)
    return held


def _records(path: Path) -> list[tuple[str, dict, dict]]:
    return [(fc.path, fc.lines, fc.branches) for fc in open_report(path)]


def test_a_file_is_given_out_once_its_last_class_is_read(tmp_path, monkeypatch):
    # a.py has a class in the first and in the last package; b.py and c.py one each between.
    path = tmp_path / "cov.xml"
    path.write_text(_cobertura([[("a.py", [1])], [("b.py", [2]), ("c.py", [1, 3])], [("a.py", [3])]]))
    streamed = _records(path)
    assert [p for p, _, _ in streamed] == ["b.py", "c.py", "a.py"]
    assert dict((p, lines) for p, lines, _ in streamed)["a.py"] == {1: 1, 2: 0, 3: 1, 4: 0}
    _hold_all(monkeypatch)
    assert sorted(_records(path)) == sorted(streamed)


def test_records_held_at_once_stay_few(tmp_path, monkeypatch):
    """What keeps the reader's memory flat in the size of the report: with every file's classes
    together, at most one record is held at a time, however many files the report has."""
    path = tmp_path / "cov.xml"
    path.write_text(_cobertura([[(f"m{p}/f{i}.py", [1, 5]) for i in range(50)] for p in range(20)]))
    held = _count_held(monkeypatch, cobertura)
    records = _records(path)
    assert len(records) == 1000 and max(held) == 1


@pytest.mark.parametrize(
    "irregular",
    [
        pytest.param('<package name="late"><line number="51" hits="1"/><classes><class filename="b.py"><lines>'
                     '<line number="9" hits="1"/></lines></class></classes></package>', id="line-before-a-class"),
        pytest.param('<package name="late"><classes><class filename="a.py"><lines><line number="7" hits="1"/>'
                     '</lines></class></classes><line number="51" hits="1"/></package>', id="line-after-a-class"),
        pytest.param('<package name="late"><classes><class filename="b.py"><class filename="a.py"/><lines>'
                     '<line number="8" hits="1"/></lines></class></classes></package>', id="class-in-a-class"),
    ],
)
def test_an_irregular_part_after_records_went_out_gives_the_same_records(tmp_path, monkeypatch, irregular):
    """Lines outside a class count for no file, in either reading; a file given out before the
    irregular part is read again by the event reading is not given out twice."""
    doc = _cobertura([[("a.py", [1]), ("c.py", [2])]]).replace("</packages>", irregular + "</packages>")
    path = tmp_path / "cov.xml"
    path.write_text(doc)
    streamed = _records(path)
    paths = [p for p, _, _ in streamed]
    assert len(paths) == len(set(paths))
    _hold_all(monkeypatch)
    held = _records(path)
    assert sorted(streamed) == sorted(held)
    # A stray line lands in no file.
    assert all(51 not in lines for _path, lines, _branches in held)


def test_stray_lines_belong_to_no_file(tmp_path, monkeypatch):
    _hold_all(monkeypatch)
    doc = ('<?xml version="1.0"?><coverage><line number="50" hits="1"/><packages><package name="p">'
           '<line number="51" hits="1"/><classes><class filename="a.py"><lines><line number="1" hits="1"/>'
           '</lines></class></classes></package></packages></coverage>')
    path = tmp_path / "cov.xml"
    path.write_text(doc)
    assert _records(path) == [("a.py", {1: 1}, {})]


def test_a_source_after_a_class_holds_records_to_the_end(tmp_path):
    """Where a class's file is depends on the <source>s read before it: with one after a class,
    the counts ahead cannot be keyed by file, and the reading falls back to holding them."""
    doc = _cobertura([[("a.py", [1])], [("a.py", [2])]]).replace(
        "</packages>", "</packages><sources><source>/home/runner/work/x/x</source></sources>")
    path = tmp_path / "cov.xml"
    path.write_text(doc)
    assert cobertura._class_counts(path) is None
    assert _records(path) == [("a.py", {1: 1, 2: 1, 3: 0}, {})]


def test_counts_that_miss_a_class_refuse_the_report_rather_than_split_a_file(tmp_path, monkeypatch):
    path = tmp_path / "cov.xml"
    path.write_text(_cobertura([[("a.py", [1])], [("a.py", [2])]]))
    monkeypatch.setattr(cobertura, "_class_counts", lambda p: {"a.py": 1})
    with pytest.raises(FormatError, match="after the last one counted"):
        _records(path)


def test_corpus_reports_read_the_same_streamed_and_held(monkeypatch):
    paths = [r["path"] for r in corpus_rows(kind="coverage") if r["format"] in ("cobertura", "coveragepy-xml")]
    if not paths:
        pytest.skip("corpus not found (../shared is absent)")
    streamed = {}
    for path in paths:
        try:
            streamed[path] = sorted(_records(path))
        except FormatError:  # the empty file
            continue
    assert len(streamed) >= 8
    _hold_all(monkeypatch)
    for path, records in streamed.items():
        assert records == sorted(_records(path)), path


# ---------------------------------------------------------------------------- JaCoCo


def _jacoco(groups: list[list[tuple[str, list[tuple[str, list[int]]]]]]) -> str:
    """Groups of packages (name, sourcefiles (name, covered line numbers; lines 1..max+1 listed))."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd"><report name="r">'
           '<sessioninfo id="s" start="1700000000000" dump="1700000001000"/>']
    for i, packages in enumerate(groups):
        out.append(f'<group name="module{i}">')
        for package, files in packages:
            out.append(f'<package name="{package}">')
            for name, covered in files:
                out.append(f'<class name="{package}/{name[:-5]}" sourcefilename="{name}">'
                           f'<method name="run" desc="()V" line="1"><counter type="METHOD" missed="0" covered="1"/></method></class>')
                out.append(f'<sourcefile name="{name}">')
                out.extend(f'<line nr="{n}" mi="{0 if n in covered else 2}" ci="{2 if n in covered else 0}" mb="0" cb="0"/>'
                           for n in range(1, max(covered) + 2))
                out.append("</sourcefile>")
            out.append("</package>")
        out.append("</group>")
    out.append("</report>")
    return "\n".join(out)


def _jacoco_hold_all(monkeypatch):
    from crossbridge_assets.formats import jacoco

    monkeypatch.setattr(jacoco, "_sourcefile_counts", lambda path: None)


def test_jacoco_records_go_out_once_every_sourcefile_of_their_name_is_read(tmp_path, monkeypatch):
    # Two modules: com/ex/Util.java in both (one file to the report), Main.java in two packages.
    path = tmp_path / "jacoco.xml"
    path.write_text(_jacoco([
        [("com/ex", [("Util.java", [1]), ("Main.java", [2])]), ("com/a", [("A.java", [1])])],
        [("com/ex", [("Util.java", [3])]), ("com/b", [("Main.java", [1])])],
    ]))
    streamed = [(fc.path, fc.lines, fc.functions) for fc in open_report(path)]
    assert [p for p, _, _ in streamed] == ["com/a/A.java", "com/ex/Util.java", "com/ex/Main.java", "com/b/Main.java"]
    assert dict((p, lines) for p, lines, _ in streamed)["com/ex/Util.java"] == {1: 1, 2: 0, 3: 1, 4: 0}
    assert all(functions for _, _, functions in streamed)
    _jacoco_hold_all(monkeypatch)
    assert sorted(streamed) == sorted((fc.path, fc.lines, fc.functions) for fc in open_report(path))


def test_jacoco_records_held_at_once_stay_few(tmp_path, monkeypatch):
    from crossbridge_assets.formats import jacoco

    path = tmp_path / "jacoco.xml"
    path.write_text(_jacoco([[(f"com/p{p}", [(f"F{p}x{i}.java", [1, 4]) for i in range(40)]) for p in range(25)]]))
    held = _count_held(monkeypatch, jacoco)
    assert len(list(open_report(path))) == 1000 and max(held) == 1


def test_jacoco_names_with_a_folder_hold_records_to_the_end(tmp_path):
    from crossbridge_assets.formats import jacoco

    path = tmp_path / "jacoco.xml"
    path.write_text(_jacoco([[("com/ex", [("A.java", [1])]), ("com", [("ex/A.java", [2])])]]))
    assert jacoco._sourcefile_counts(path) is None
    assert [(fc.path, fc.lines) for fc in open_report(path)] == [("com/ex/A.java", {1: 1, 2: 1, 3: 0})]


def test_jacoco_corpus_reports_read_the_same_streamed_and_held(monkeypatch):
    paths = [r["path"] for r in corpus_rows(kind="coverage", fmt="jacoco")]
    if not paths:
        pytest.skip("corpus not found (../shared is absent)")
    streamed = {path: sorted((fc.path, fc.lines, fc.branches, fc.functions) for fc in open_report(path)) for path in paths}
    _jacoco_hold_all(monkeypatch)
    for path, records in streamed.items():
        assert records == sorted((fc.path, fc.lines, fc.branches, fc.functions) for fc in open_report(path)), path


# ---------------------------------------------------------------------------- LCOV


def _lcov_hold_all(monkeypatch):
    from crossbridge_assets.formats import lcov

    monkeypatch.setattr(lcov, "_record_counts", lambda path: None)


def _lcov_records(path: Path) -> list[tuple]:
    return [(fc.path, fc.lines, fc.branches, fc.functions) for fc in open_report(path)]


# One file in two records (lcov -a keeps a record per test name), one record left open before
# the next SF, one at the end without end_of_record; 'SF:' inside another record's text.
PER_TEST = """TN:t1
SF:src/a.c
FN:1,main_SF:x
FNDA:1,main_SF:x
DA:1,1
DA:2,0
BRDA:2,0,0,1
BRDA:2,0,1,-
end_of_record
TN:t1
SF:src/b.c
DA:1,0
SF:src/c.c
DA:5,2
end_of_record
TN:t2
SF:src/a.c
DA:2,3
DA:3,0
BRDA:2,0,1,1
end_of_record
TN:t2
SF:src/d.c
DA:1,1"""


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_lcov_records_go_out_once_their_files_last_record_ends(tmp_path, monkeypatch, newline, bom):
    path = tmp_path / "lcov.info"
    path.write_bytes((bom + PER_TEST.replace("\n", newline) + newline).encode("utf-8"))
    streamed = _lcov_records(path)
    # a.c is listed twice and its branches in both records: read again at the end, as lcov adds them up.
    assert [r[0] for r in streamed] == ["src/b.c", "src/c.c", "src/d.c", "src/a.c"]
    a = streamed[-1]
    assert a[1] == {1: 1, 2: 3, 3: 0} and a[2] == {2: (2, 2)}
    _lcov_hold_all(monkeypatch)
    assert sorted(streamed) == sorted(_lcov_records(path))


def test_lcov_records_held_at_once_stay_few(tmp_path, monkeypatch):
    from crossbridge_assets.formats import lcov

    path = tmp_path / "lcov.info"
    path.write_text("".join(f"TN:\nSF:src/f{i}.c\nDA:1,1\nDA:2,0\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nend_of_record\n" for i in range(1000)))
    held = _count_held(monkeypatch, lcov)
    assert len(list(open_report(path))) == 1000 and max(held) == 1


def test_lcov_counts_are_those_of_the_parse(tmp_path):
    from crossbridge_assets.formats import lcov

    path = tmp_path / "lcov.info"
    path.write_bytes(("\ufeffSF:/home/runner/work/app/app/src/a.c\nDA:1,1\nend_of_record\n"
                      "  SF: src/a.c \nDA:2,1\nend_of_record\nFN:3,xSF:y\n#SF:commented\n\ufeffSF:not-first-line\n").encode("utf-8"))
    assert lcov._record_counts(path) == {"src/a.c": 2}


def test_lcov_corpus_reports_read_the_same_streamed_and_held(monkeypatch):
    paths = [r["path"] for r in corpus_rows(kind="coverage", fmt="lcov")]
    if not paths:
        pytest.skip("corpus not found (../shared is absent)")
    streamed = {}
    for path in paths:
        try:
            streamed[path] = sorted(_lcov_records(path))
        except FormatError:  # the corpus's malformed ones are refused either way
            continue
    assert streamed
    _lcov_hold_all(monkeypatch)
    for path, records in streamed.items():
        assert records == sorted(_lcov_records(path)), path


# ---------------------------------------------------------------------------- a report cut short


@pytest.mark.parametrize("fmt", ["cobertura", "lcov"])
def test_a_report_cut_short_after_records_went_out_leaves_no_rows(crossbridge_env, capsys, monkeypatch, tmp_path, fmt):
    """Records go out before the end of the report: one cut short (a CI upload that died) gives
    some records, then its error. The report is quarantined with that reason and none of its
    records stays in the warehouse; the good report beside it is loaded."""
    from crossbridge_assets.warehouse import schema
    from crossbridge_assets_tests.test_coverage_e2e import table_count
    from crossbridge_assets_tests.test_coverage_landing import cli_ingest, reports

    files = [(f"src/m{i}.py", [1, 3]) for i in range(40)]
    if fmt == "cobertura":
        whole = _cobertura([files])
        cut = whole[: whole.index('<class name="src/m30.py"')]  # after a whole <class>
        name = "coverage.xml"
    else:
        whole = "".join(f"SF:{f}\nDA:1,1\nDA:2,0\nend_of_record\n" for f, _ in files)
        cut = whole[: whole.index("SF:src/m30.py")] + "DA:1,x\n"  # a garbled line where the upload died
        name = "lcov.info"
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / name).write_text(cut)
    (folder / "good.info").write_text("SF:src/ok.py\nDA:1,1\nend_of_record\n")
    streamed = []
    with pytest.raises(FormatError):
        for fc in open_report(folder / name):
            streamed.append(fc.path)
    assert len(streamed) >= 20  # records did go out before the error

    out = cli_ingest(capsys, monkeypatch, tmp_path, "--project", "app", "--build", "7", str(folder))
    assert f"quarantined {name}:" in out
    status = {r.original_name: r.status for r in reports(crossbridge_env)}
    assert status == {name: "quarantined", "good.info": "landed"}
    s = crossbridge_env
    assert table_count(s, schema.coverage_files) == 1  # good.info's one file, nothing of the cut report
