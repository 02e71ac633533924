"""The CrossBridge events format: writer, detection, parser, crash tolerance."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from crossbridge_assets.formats import FormatError, detect, open_report
from crossbridge_assets.formats.crossbridge_events import FORMAT, open_events
from crossbridge_assets.hooks import events
from crossbridge_assets.model import KIND_PROFILING, Span, SpanStream

from crossbridge_assets_tests.hooks_helpers import PLUGIN_ARGS, PYTHON, event_files, read_events, run


def _writer(tmp_path: Path, **kw) -> events.EventWriter:
    return events.EventWriter(tmp_path, framework="pytest", env={}, **kw)


def test_writer_round_trip_and_detection(tmp_path):
    w = _writer(tmp_path, run="run-1", worker="gw3", metadata={"project": "shop"})
    assert w.part_path.exists() and not w.path.exists()
    assert "gw3" in w.path.name
    t0 = time.time()
    parent = w.span("test", "tests/test_a.py::test_x", t0, 0.25, status="passed", test="abc",
                    attributes={"nodeid": "tests/test_a.py::test_x", "none": None})
    w.span("http", "GET example.org/users/{id}", t0 + 0.1, 0.01, status="404", test="abc",
           parent_id=parent, attributes={"status_code": 404})
    path = w.close("passed")
    assert path == w.path and path.exists() and not w.part_path.exists()
    assert path.name.endswith(".jsonl")

    assert detect(path).name == FORMAT
    stream = open_report(path)
    assert isinstance(stream, SpanStream)
    spans = list(stream)
    info = stream.info
    assert info.format == FORMAT and info.kind == KIND_PROFILING
    assert info.framework == "pytest" and info.name == "run-1"
    assert info.properties["project"] == "shop" and info.properties["worker"] == "gw3"
    assert info.properties["complete"] == "true" and info.properties["status"] == "passed"
    assert info.declared == {"spans": 2} and stream.count == 2
    assert info.warnings == []
    assert all(isinstance(s, Span) for s in spans)
    test, http = spans
    assert (test.kind, test.status, test.test, test.run) == ("test", "passed", "abc", "run-1")
    assert test.duration == pytest.approx(0.25)
    assert abs(test.start.timestamp() - t0) < 1e-3 and test.start.tzinfo is not None
    assert "none" not in test.attributes
    assert (http.kind, http.status, http.parent_id) == ("http", "404", test.span_id)


def test_header_only_file_is_detected(tmp_path):
    # A session that died before its first span: one line, a JSON object, still ours.
    w = _writer(tmp_path)
    assert detect(w.part_path).name == FORMAT
    info, spans = read_events(w.part_path)
    assert spans == []
    assert info.properties["complete"] == "false"
    assert any("did not finish" in m for m in info.warnings)
    w.close()


def test_truncated_last_line_is_tolerated_with_a_warning(tmp_path):
    w = _writer(tmp_path)
    for i in range(3):
        w.span("step", f"step {i}", time.time(), 0.1, status="passed")
    w._fh.write('{"kind":"step","name":"step 3","start":"2024-01-')  # the process died here
    w._fh.flush()
    w._fh.close()
    info, spans = read_events(w.part_path)
    assert [s.name for s in spans] == ["step 0", "step 1", "step 2"]
    assert any("line 5 is truncated" in m for m in info.warnings)
    assert any("did not finish" in m for m in info.warnings)


def test_corrupt_line_in_the_middle_is_rejected(tmp_path):
    w = _writer(tmp_path)
    w.span("step", "a", time.time(), 0.1)
    w._fh.write("this is not json\n")
    w.span("step", "b", time.time(), 0.1)
    path = w.close()
    with pytest.raises(FormatError, match="line 3 is not valid JSON"):
        open_events(path).read_all()


def test_invalid_records_are_skipped_with_a_warning(tmp_path):
    w = _writer(tmp_path)
    w.span("step", "ok", time.time(), 0.1)
    w._write({"kind": "step", "name": "no start", "duration": 1})
    w._write({"kind": "brand_new_kind", "name": "x", "start": "2024-01-01T00:00:00Z", "duration": 1})
    w._write([1, 2, 3])
    path = w.close()
    info, spans = read_events(path)
    assert [s.name for s in spans] == ["ok", "x"]
    joined = " | ".join(info.warnings)
    assert "1 with no valid start time" in joined and "1 with not a JSON object" in joined
    assert "unknown kinds kept: brand_new_kind" in joined
    assert "declares 1 spans but the file holds 2" in joined  # raw writes bypass the count


def test_records_in_other_spellings_read_as_the_hooks_own(tmp_path):
    """The fast path for the hooks' own shape and the general reader agree on every spelling."""
    lines = [
        {"crossbridge_events": 1, "run": "session-1"},
        {"kind": "call", "name": "a", "start": "2026-11-30T01:00:00.5+00:00", "duration": 0.5, "status": "passed"},
        {"kind": "call", "name": "b", "start": "2026-11-30T01:00:00.5Z", "duration": "0.5", "status": ""},
        {"kind": "call", "name": "c", "start": 1796000400.5, "duration": 1, "status": 200, "run": "other"},
        {"kind": "call", "name": "d", "start": "2026-11-30 01:00:00.5", "duration": 0.5, "test": "t\u0000x"},
        {"kind": "call", "name": "e", "start": "2026-11-30T02:00:00.5+01:00", "duration": 0.5, "span_id": ""},
        {"kind": "call", "name": "f", "start": "2026-11-30T01:00:00.5+00:00", "duration": float("nan")},
        {"kind": "call", "name": "g", "start": "2026-11-30T01:00:00.5+00:00", "duration": 0.5,
         "attributes": {"ratio": float("nan")}},
    ]
    path = tmp_path / "spellings.jsonl"
    # json.dumps writes NaN, as a hook using the json module would; the "\u0000" escape is JSON's.
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    info, spans = read_events(path)
    assert [s.name for s in spans] == ["a", "b", "c", "d", "e", "g"]
    assert len({s.start.timestamp() for s in spans}) == 1, "one instant in five spellings"
    assert [s.duration for s in spans] == [0.5, 0.5, 1.0, 0.5, 0.5, 0.5]
    assert [s.status for s in spans] == ["passed", None, "200", None, None, None], "empty text is absent"
    assert [s.run for s in spans] == ["session-1", "session-1", "other", "session-1", "session-1", "session-1"]
    assert spans[3].test == "tx", "NUL is dropped: PostgreSQL text cannot hold it"
    assert spans[4].span_id is None
    assert str(spans[5].attributes["ratio"]) == "nan"
    assert "1 with no valid duration" in " | ".join(info.warnings)


def test_a_line_longer_than_the_limit_is_rejected_with_its_number(tmp_path, monkeypatch):
    from crossbridge_assets.formats import crossbridge_events

    monkeypatch.setattr(crossbridge_events, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(crossbridge_events, "_BLOCK", 700)  # the long line spans blocks
    w = _writer(tmp_path)
    w.span("step", "short", time.time(), 0.1)
    w.span("step", "x" * 1500, time.time(), 0.1)
    path = w.close()
    with pytest.raises(FormatError, match="line 3 is longer than 1000 bytes"):
        open_events(path).read_all()


def test_many_spans_across_read_blocks_keep_their_order(tmp_path, monkeypatch):
    from crossbridge_assets.formats import crossbridge_events

    monkeypatch.setattr(crossbridge_events, "_BLOCK", 333)  # lines cut at every possible place
    w = _writer(tmp_path)
    t0 = time.time()
    for i in range(500):
        w.span("step", f"s{i}", t0 + i, 0.001 * i)
    path = w.close()
    stream = open_events(path)
    spans = stream.read_all()
    assert [s.name for s in spans] == [f"s{i}" for i in range(500)] and stream.count == 500
    assert stream.info.properties["complete"] == "true" and not stream.info.warnings


def test_other_jsonl_is_rejected(tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text('{"event": "start", "ts": 1}\n{"event": "stop", "ts": 2}\n')
    with pytest.raises(FormatError, match="not a CrossBridge events header"):
        open_events(other)
    with pytest.raises(FormatError):
        detect(other)  # no format claims it: UnknownFormat, a FormatError
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("hello\n")
    with pytest.raises(FormatError, match="line 1 is not JSON"):
        open_events(garbage)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty"):
        open_events(empty)
    future = tmp_path / "future.jsonl"
    future.write_text('{"crossbridge_events": "x"}\n')
    with pytest.raises(FormatError, match="unsupported"):
        open_events(future)


def test_writer_is_thread_safe(tmp_path):
    import threading

    w = _writer(tmp_path)

    def work(n):
        for i in range(200):
            w.span("http", f"GET t{n}/{i}", time.time(), 0.001, status="200")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info, spans = read_events(w.close())
    assert len(spans) == 1600 and info.warnings == []


def test_writer_never_raises_on_a_broken_file(tmp_path, caplog):
    w = _writer(tmp_path)
    w._fh.close()  # as if the disk went away
    assert w.span("step", "x", time.time(), 0.1)  # returns an id, does not raise
    assert w.broken
    assert "profiling stops" in caplog.text


def test_resolve_dir_order(tmp_path):
    assert events.resolve_dir("explicit", {"CROSSBRIDGE_EVENTS_DIR": "e"}) == Path("explicit")
    assert events.resolve_dir(None, {"CROSSBRIDGE_EVENTS_DIR": "e", "CROSSBRIDGE_INBOX": "i"}) == Path("e")
    assert events.resolve_dir(None, {"CROSSBRIDGE_EVENTS_DIR": "e", "CROSSBRIDGE_HOME": "h"}) == Path("e")
    # The folder the sensor watches, when it was moved away from the home.
    assert events.resolve_dir(None, {"CROSSBRIDGE_INBOX": "i", "CROSSBRIDGE_HOME": "h"}) == Path("i")
    assert events.resolve_dir(None, {"CROSSBRIDGE_HOME": "h"}) == Path("h") / "inbox"
    assert events.resolve_dir(None, {}) == Path(".crossbridge") / "inbox"


@pytest.mark.parametrize(
    "env, expected",
    [
        (
            {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_REF_NAME": "main",
             "GITHUB_SHA": "abc123", "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2",
             "GITHUB_SERVER_URL": "https://github.com"},
            {"ci_provider": "github-actions", "project": "acme/shop", "branch": "main", "commit": "abc123",
             "build": "77.2", "ci_url": "https://github.com/acme/shop/actions/runs/77"},
        ),
        (
            {"GITLAB_CI": "true", "CI_PROJECT_PATH": "acme/shop", "CI_COMMIT_REF_NAME": "dev",
             "CI_COMMIT_SHA": "def", "CI_PIPELINE_ID": "9", "CI_JOB_URL": "https://gl/j/1"},
            {"ci_provider": "gitlab-ci", "project": "acme/shop", "branch": "dev", "commit": "def", "build": "9",
             "ci_url": "https://gl/j/1"},
        ),
        (
            {"JENKINS_URL": "https://ci/", "JOB_NAME": "shop", "GIT_BRANCH": "origin/feature/x",
             "GIT_COMMIT": "123", "BUILD_NUMBER": "5", "BUILD_URL": "https://ci/job/shop/5/"},
            {"ci_provider": "jenkins", "project": "shop", "branch": "feature/x", "commit": "123", "build": "5",
             "ci_url": "https://ci/job/shop/5/"},
        ),
        (
            {"CIRCLECI": "true", "CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "shop",
             "CIRCLE_BRANCH": "main", "CIRCLE_SHA1": "c1", "CIRCLE_BUILD_NUM": "12",
             "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/12"},
            {"ci_provider": "circleci", "project": "acme/shop", "branch": "main", "commit": "c1", "build": "12",
             "ci_url": "https://circleci.com/gh/acme/shop/12"},
        ),
        (
            {"TF_BUILD": "True", "BUILD_REPOSITORY_NAME": "shop", "BUILD_SOURCEBRANCH": "refs/heads/release",
             "BUILD_SOURCEVERSION": "a1", "BUILD_BUILDID": "300", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
             "SYSTEM_TEAMPROJECT": "Shop"},
            {"ci_provider": "azure-pipelines", "project": "shop", "branch": "release", "commit": "a1", "build": "300",
             "ci_url": "https://dev.azure.com/acme/Shop/_build/results?buildId=300"},
        ),
        (
            {"BUILDKITE": "true", "BUILDKITE_PIPELINE_SLUG": "shop", "BUILDKITE_BRANCH": "main",
             "BUILDKITE_COMMIT": "b2", "BUILDKITE_BUILD_NUMBER": "41",
             "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/shop/builds/41"},
            {"ci_provider": "buildkite", "project": "shop", "branch": "main", "commit": "b2", "build": "41",
             "ci_url": "https://buildkite.com/acme/shop/builds/41"},
        ),
        ({}, {}),
        ({"CROSSBRIDGE_PROJECT": "p", "CROSSBRIDGE_BRANCH": "b"}, {"project": "p", "branch": "b"}),
    ],
    ids=["github", "gitlab", "jenkins", "circleci", "azure", "buildkite", "none", "override"],
)
def test_ci_metadata(env, expected, tmp_path):
    meta = events.ci_metadata(env)
    assert {k: v for k, v in meta.items() if k != "job"} == expected
    # ...and it lands in the header, hence in the report's properties.
    w = events.EventWriter(tmp_path, framework="pytest", env=env)
    info, _ = read_events(w.close())
    for key in ("project", "branch", "commit", "build", "ci_url"):
        assert info.properties.get(key) == expected.get(key)


def test_crashed_pytest_leaves_a_readable_prefix(tmp_path):
    (tmp_path / "test_crash.py").write_text(textwrap.dedent("""
        import os

        def test_one():
            pass

        def test_two():
            pass

        def test_dies():
            os._exit(3)

        def test_never():
            pass
    """))
    out = tmp_path / "events"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSBRIDGE_")}
    proc = run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGIN_ARGS,
                f"--crossbridge={out}", "test_crash.py"], cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert event_files(out) == []  # never published...
    parts = event_files(out, "*.jsonl.part")
    assert len(parts) == 1  # ...but the prefix is there
    assert detect(parts[0]).name == FORMAT
    info, spans = read_events(parts[0])
    tests = {s.attributes["nodeid"].split("::")[1]: s.status for s in spans if s.kind == "test"}
    assert tests == {"test_one": "passed", "test_two": "passed"}
    # The dying test's setup was recorded before the crash.
    assert any(s.kind == "setup" and s.attributes["nodeid"].endswith("test_dies") for s in spans)
    assert not any(s.kind == "session" for s in spans)
    assert info.properties["complete"] == "false"
    assert any("did not finish" in m for m in info.warnings)
    # Every line that is there is whole JSON.
    for line in parts[0].read_text().splitlines():
        json.loads(line)


def test_the_start_text_kept_from_the_file_is_the_parsed_time_formatted(tmp_path):
    """Loading stores span.start_text when the parser kept one: it must be exactly what
    isoformat(" ") makes of the parsed start, whatever the spelling; other spellings keep none."""
    import random
    from datetime import datetime, timedelta, timezone

    rng = random.Random(3)
    starts = [
        "2026-11-30T10:00:00.123456+00:00",  # the hooks' own: kept
        "2026-11-30T10:00:00.000000+00:00",  # zero fraction: isoformat leaves it out
        "2026-11-30T10:00:00.123456-00:00",
        "2026-11-30T10:00:00.123456+01:00",
        "2026-11-30T10:00:00.123456Z",
        "2026-11-30T10:00:00,123456+00:00",
        "2026-W48-1T10:00:00.123456+00:00",
        "20261130T100000.123456789+00:00",
        "2026-11-30T10:00:00.12345678+00:00",
        "2026-11-30 10:00:00.123456+00:00",
        1796000400.5,
    ]
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for _ in range(300):
        t = base + timedelta(seconds=rng.randint(0, 10**8), microseconds=rng.choice([0, 1, rng.randint(0, 999_999)]))
        starts.append(t.isoformat(timespec="microseconds"))
    path = tmp_path / "starts.jsonl"
    records = [{"crossbridge_events": 1, "run": "r"}] + [
        {"kind": "call", "name": str(i), "start": s, "duration": 0.1} for i, s in enumerate(starts)]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    spans = open_events(path).read_all()
    assert len(spans) == len(starts)
    kept = [s for s in spans if s.start_text is not None]
    assert all(s.start_text == s.start.isoformat(" ") for s in kept)
    assert spans[0].start_text == "2026-11-30 10:00:00.123456+00:00"
    assert all(s.start_text is None for s in spans[1:11])
    assert len(kept) > 150, "the hooks' spelling of random times is kept (a third have a zero fraction)"


def test_records_hand_the_same_fields_in_model_order_as_the_span_records(tmp_path):
    """What a bulk load takes (`records(make)`, no Span built) is field for field what iterating
    gives, with the same count, warnings and skips; event files and derived report spans alike."""
    from dataclasses import astuple

    from crossbridge_assets.hooks.reports import report_span_stream
    from crossbridge_assets.model import SPAN_FIELDS

    assert SPAN_FIELDS == tuple(f for f in Span.__dataclass_fields__)
    w = _writer(tmp_path, run="r")
    t0 = time.time()
    w.span("test", "t", t0, 0.5, status="passed", test="id", attributes={"k": 1})
    w.span("http", "GET /", t0 + 1, 0.01)  # no status, test or parent
    w.span("a-new-kind", "x", t0 + 2, 0.0, status="")
    path = w.close()
    with open(path, "a") as fh:
        fh.write('{"kind": "test", "name": "no start", "duration": 1}\n')

    def made(stream: SpanStream) -> list[tuple]:
        return list(stream.records(lambda *fields: fields))

    as_spans, as_fields = open_events(path), open_events(path)
    spans, fields = list(as_spans), made(as_fields)
    assert len(fields) == 3 and [astuple(s) for s in spans] == fields
    assert fields[0][SPAN_FIELDS.index("start_text")] == spans[0].start_text is not None
    assert (as_fields.count, as_fields.exhausted, as_fields.info.warnings) == (3, True, as_spans.info.warnings)
    assert any("unknown kinds kept: a-new-kind" in w for w in as_fields.info.warnings)
    assert any("1 with no valid start time" in w for w in as_fields.info.warnings)

    mochawesome = Path(__file__).parent / "fixtures" / "results" / "js" / "mochawesome.json"
    if not mochawesome.exists():
        pytest.skip(f"{mochawesome} is missing")
    derived = list(report_span_stream(mochawesome, "mochawesome"))
    stream = report_span_stream(mochawesome, "mochawesome")
    fields = made(stream)
    assert derived and len(fields) == len(derived) == stream.count
    # Each derived span has a new id: compare all but span_id and parent_id.
    keep = [i for i, name in enumerate(SPAN_FIELDS) if name not in ("span_id", "parent_id")]
    assert [[astuple(s)[i] for i in keep] for s in derived] == [[f[i] for i in keep] for f in fields]
