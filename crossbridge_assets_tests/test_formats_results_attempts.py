"""Times as test runners write them, and reruns read as attempts of one test: pytest-rerunfailures
through pytest-json-report, rebot --merge, TestNG's RetryAnalyzer. The fixtures come from the real
tools (fixtures/results/regenerate.sh)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from crossbridge_assets.formats import read_report
from crossbridge_assets.formats._common import parse_timestamp
from crossbridge_assets.model import ERROR, FAILED, PASSED, SKIPPED
from crossbridge_assets_tests.conftest import FIXTURES

RESULTS = FIXTURES / "results"


def _utc(*args: int, hours: float = 0) -> datetime:
    return datetime(*args, tzinfo=timezone(timedelta(hours=hours)))


# ---------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    "text, expected",
    [
        # TestNG 7: "yyyy-MM-dd'T'HH:mm:ss z" in the JVM's zone; TestNG 6: a literal 'Z'.
        ("2023-03-01T10:00:00 UTC", _utc(2023, 3, 1, 10)),
        ("2023-03-01T10:00:00 GMT", _utc(2023, 3, 1, 10)),
        ("2023-03-01T10:00:00Z", _utc(2023, 3, 1, 10)),
        ("2023-03-01T10:00:00 JST", _utc(2023, 3, 1, 10, hours=9)),
        ("2023-07-01T10:00:00 CEST", _utc(2023, 7, 1, 10, hours=2)),
        ("2023-03-01T10:00:00 PST", _utc(2023, 3, 1, 10, hours=-8)),
        # Java's name for a zone that has no short one.
        ("2023-03-01T10:00:00 GMT+05:30", _utc(2023, 3, 1, 10, hours=5.5)),
        ("2023-03-01T10:00:00.1234567 utc", _utc(2023, 3, 1, 10).replace(microsecond=123456)),
        ("2023-03-01 10:00:00", _utc(2023, 3, 1, 10)),
    ],
)
def test_times_with_a_zone_name(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["2023-03-01T10:00:00 CST", "2023-03-01T10:00:00 IST", "2023-03-01T10:00:00 XYZT"])
def test_a_zone_name_of_several_offsets_gives_no_time_rather_than_a_wrong_one(text):
    # CST is Chicago's and Shanghai's, IST India's, Ireland's and Israel's.
    assert parse_timestamp(text) is None


@pytest.mark.parametrize("value", [1e308, -1e308, float("nan"), float("inf"), float("-inf"), 10**400, -(10**400)])
def test_epoch_numbers_out_of_range_give_no_time(value):
    assert parse_timestamp(value) is None
    assert parse_timestamp(1_700_000_000_123) == _utc(2023, 11, 14, 22, 13, 20).replace(microsecond=123000)


def test_a_report_whose_start_is_out_of_range_is_read_without_it(tmp_path):
    data = json.loads((RESULTS / "pytest-json-report.json").read_text())
    data["created"] = 1e308
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    _spec, stream, cases = read_report(path)
    assert stream.info.started_at is None and len(cases) == 8


# ---------------------------------------------------------------------------- pytest-rerunfailures


def _by_name(cases):
    return {(c.name, c.parameters): c for c in cases}


def test_pytest_json_report_reruns_are_attempts():
    # sample_suite/rerun_tests.py run with --reruns 1.
    _spec, stream, cases = read_report(RESULTS / "pytest-rerun.json")
    by_name = _by_name(cases)
    flaky = by_name[("test_flaky", None)]
    # pytest-json-report leaves the outcome "rerun" on a test that passed when run again.
    assert flaky.properties["outcome"] == "rerun"
    assert flaky.status == PASSED and flaky.flaky
    assert [a.status for a in flaky.attempts] == [FAILED, PASSED]
    # Its call phase was run again: the failure the first run had is not in the file.
    assert flaky.final.duration is not None and flaky.attempts[0].message is None

    # The first run failed in its call, the rerun in its setup: the call phase the rerun never
    # reached is left as the first run wrote it ("rerun"), with its failure.
    errored = by_name[("test_fails_then_setup_errors", None)]
    assert errored.status == ERROR and not errored.flaky
    first, final = errored.attempts
    assert (first.status, first.message.splitlines()[0]) == (FAILED, "AssertionError: call fails first")
    assert "call fails first" in first.stack_trace and first.duration is not None
    assert (final.status, final.failure_type, final.message) == (ERROR, "setup failed", "RuntimeError: service gone on the rerun")

    # pytest-json-report overwrites each phase with the last run: a test that failed every time
    # reads as one failure.
    always = by_name[("test_always_fails", None)]
    assert always.status == FAILED and always.final.message.startswith("AssertionError: fails every time")

    assert stream.totals.as_dict() == {"tests": 7, "passed": 5, "failures": 1, "errors": 1, "skipped": 0}
    assert stream.info.declared == {"tests": 7, "failures": 1, "errors": 1, "skipped": 0}
    assert stream.info.warnings == []


@pytest.mark.parametrize(
    "nodeid, expected",
    [
        ("tests/test_p.py::test_connect[::1]", ("tests.test_p", "test_connect", "[::1]")),
        ("a.py::TestX::test_y[a::b]", ("a.TestX", "test_y", "[a::b]")),
        ("a.py::TestX::Inner::test_z[x[1]::y]", ("a.TestX.Inner", "test_z", "[x[1]::y]")),
        ("tests/test_a.py::TestX::test_y[1-2]", ("tests.test_a.TestX", "test_y", "[1-2]")),
        ("tests/test_p.py::test_connect[a.b/c]", ("tests.test_p", "test_connect", "[a.b/c]")),
        ("tests/test_a.py", ("", "tests.test_a", None)),
    ],
)
def test_pytest_nodeid_splits_only_between_names(nodeid, expected):
    from crossbridge_assets.formats.pytest_json import split_nodeid

    assert split_nodeid(nodeid) == expected


def test_pytest_parameters_holding_double_colons_have_one_identity_in_both_reports():
    # pytest --junitxml and pytest-json-report from the same run.
    _s, _st, from_xml = read_report(RESULTS / "pytest-rerun-junit.xml")
    _s, _st, from_json = read_report(RESULTS / "pytest-rerun.json")
    assert {c.identity for c in from_xml} == {c.identity for c in from_json}
    assert {(c.suite, c.name, c.parameters) for c in from_json} >= {
        ("rerun_tests", "test_connect", "[::1]"),
        ("rerun_tests", "test_connect", "[a.b/c]"),
        ("rerun_tests.TestPool", "test_acquire", "[a::b]"),
    }


# ---------------------------------------------------------------------------- rebot --merge


def _attempts(case):
    return [(a.status, a.message) for a in case.attempts]


def test_rebot_merge_messages_are_attempts():
    # reruns.robot run three times (the test tagged 'late' left out of the first) and merged.
    _spec, stream, cases = read_report(RESULTS / "robot-output-merged-reruns.xml")
    by_name = {c.name: c for c in cases}
    # rebot ignores a skipped rerun and keeps the earlier result and its message; the reruns it
    # ignored come before that result, which stays the last attempt.
    kept = by_name["Fails Then Skips"]
    assert kept.status == FAILED and kept.final.message == "first failure"
    assert _attempts(kept) == [
        (SKIPPED, "environment gone in run 2"), (SKIPPED, "environment gone in run 3"), (FAILED, "first failure"),
    ]
    assert kept.final.started_at is not None and kept.final.duration is not None
    # A skip-ignored message quoted as the old message of a later merge.
    passed = by_name["Fails Skips Then Passes"]
    assert passed.status == PASSED and passed.flaky and passed.final.message is None
    assert _attempts(passed) == [(SKIPPED, "environment gone"), (FAILED, "failure in run 1"), (PASSED, None)]
    # A merge message quoted as the original message of a skip-ignored one.
    twice = by_name["Fails Twice Then Skips"]
    assert twice.status == FAILED and twice.final.message == "failure in run 2"
    assert _attempts(twice) == [(FAILED, "failure in run 1"), (SKIPPED, "environment gone"), (FAILED, "failure in run 2")]
    assert _attempts(by_name["Fails Then Passes"]) == [(FAILED, "failure in run 1"), (PASSED, None), (PASSED, None)]
    # 'Test added from merged output.' quoted as an old message.
    late = by_name["Added Later"]
    assert late.flaky and _attempts(late) == [(FAILED, "late failure"), (PASSED, None)]

    from robot.api import ExecutionResult

    total = ExecutionResult(str(RESULTS / "robot-output-merged-reruns.xml")).statistics.total
    assert (stream.totals.tests, stream.totals.failures, stream.totals.skipped) == (total.total, total.failed, total.skipped)
    assert stream.info.warnings == []


# Written by rebot 3.1.2 (Python 3.8) merging three runs; keywords left out. RF 3.0 and 3.1
# wrote the merge message in words later versions replaced.
RF31_MERGED = """<?xml version="1.0" encoding="UTF-8"?>
<robot generator="Rebot 3.1.2 (Python 3.8.18 on linux)" generated="20261130 11:42:11.228" rpa="false">
<suite id="s1" name="S" source="s.robot">
<test id="s1-t1" name="Flaky">
<status status="PASS" starttime="20261130 11:42:11.006" endtime="20261130 11:42:11.007" critical="yes">\
*HTML* Re-executed test has been merged.&lt;hr&gt;New status: &lt;span class="pass"&gt;PASS&lt;/span&gt;&lt;br&gt;\
New message: &lt;hr&gt;Old status: &lt;span class="fail"&gt;FAIL&lt;/span&gt;&lt;br&gt;Old message: Re-executed test \
has been merged.&lt;hr&gt;New status: &lt;span class="fail"&gt;FAIL&lt;/span&gt;&lt;br&gt;New message: run 2 failed\
&lt;hr&gt;Old status: &lt;span class="fail"&gt;FAIL&lt;/span&gt;&lt;br&gt;Old message: run 1 failed</status>
</test>
<test id="s1-t2" name="Added Later">
<tags>
<tag>late</tag>
</tags>
<status status="PASS" starttime="20261130 11:42:11.007" endtime="20261130 11:42:11.008" critical="yes">\
*HTML* Re-executed test has been merged.&lt;hr&gt;New status: &lt;span class="pass"&gt;PASS&lt;/span&gt;&lt;br&gt;\
New message: &lt;hr&gt;Old status: &lt;span class="fail"&gt;FAIL&lt;/span&gt;&lt;br&gt;Old message: Test added from \
merged output.&lt;hr&gt;late failure</status>
</test>
<status status="PASS" starttime="N/A" endtime="N/A" elapsedtime="2"></status>
</suite>
<statistics>
<total>
<stat pass="2" fail="0">Critical Tests</stat>
<stat pass="2" fail="0">All Tests</stat>
</total>
</statistics>
</robot>
"""


def test_rebot_3_1_merge_messages_are_attempts(tmp_path):
    path = tmp_path / "output.xml"
    path.write_text(RF31_MERGED)
    _spec, stream, cases = read_report(path)
    by_name = {c.name: c for c in cases}
    assert _attempts(by_name["Flaky"]) == [(FAILED, "run 1 failed"), (FAILED, "run 2 failed"), (PASSED, None)]
    assert _attempts(by_name["Added Later"]) == [(FAILED, "late failure"), (PASSED, None)]
    assert all(c.flaky for c in cases) and stream.info.warnings == []


@pytest.mark.parametrize(
    "message, status, expected",
    [
        # rebot --rpa says Task; a skipped rerun of a test that had no message.
        ('*HTML* Task has been re-executed and results merged. Latter result had <span class="skip">SKIP</span> '
         "status and was ignored. Message:\nno robot free", "PASS", ([(SKIPPED, "no robot free")], None)),
        ("*HTML* Task added from merged output.", "PASS", ([], None)),
        ("*HTML* Test added from merged output.<hr>a &lt;b&gt; c", "FAIL", ([], "a <b> c")),
        # A message holding '<br>' (an *HTML* failure) in an old block.
        ('*HTML* <span class="merge">Test has been re-executed and results merged.</span><hr>'
         '<span class="new-status">New status:</span> <span class="pass">PASS</span><br><hr>'
         '<span class="old-status">Old status:</span> <span class="fail">FAIL</span><br>'
         '<span class="old-message">Old message:</span> one<br>two<br>', "PASS", ([(FAILED, "one\ntwo")], None)),
    ],
)
def test_rebot_message_variants(message, status, expected):
    from crossbridge_assets.formats.robot import merged_attempts

    earlier, final_message = merged_attempts(message, status)
    assert ([(a.status, a.message) for a in earlier], final_message) == expected


def test_html_messages_rebot_did_not_write_are_kept_as_they_are():
    from crossbridge_assets.formats.robot import merged_attempts

    assert merged_attempts("*HTML* <b>bold</b> failure", "FAIL") is None
    assert merged_attempts("plain failure", "FAIL") is None


def test_deeply_nested_merge_messages_are_read_without_exhausting_the_stack(tmp_path):
    message = "*HTML* " + "Test added from merged output.&lt;hr&gt;" * 5000 + "deep failure"
    path = tmp_path / "output.xml"
    path.write_text(
        '<robot generator="Rebot 7.5"><suite name="S"><test name="T">'
        f'<status status="FAIL">{message}</status></test></suite></robot>'
    )
    _spec, _stream, cases = read_report(path)
    assert cases[0].status == FAILED and cases[0].final.message.endswith("deep failure")


# ---------------------------------------------------------------------------- TestNG retries


def test_testng_7_times_keep_their_zone():
    _spec, stream, cases = read_report(RESULTS / "testng-results-retry.xml")
    # Written with -Dtestng.timezone=Asia/Tokyo: '... JST'.
    assert stream.info.started_at is not None and stream.info.started_at.utcoffset() == timedelta(hours=9)
    assert all(c.final.started_at.utcoffset() == timedelta(hours=9) for c in cases)


def test_testng_retried_invocations_are_attempts_of_their_final_entry():
    # testng/com/acme/PaymentTest.java run by TestNG 7.5 with a RetryAnalyzer retrying once.
    _spec, stream, cases = read_report(RESULTS / "testng-results-retry.xml")
    # Every <test-method> stays a row (the counting rule): the retried ones are skipped rows.
    retried = [c for c in cases if c.properties.get("retried") == "true"]
    assert sorted((c.name, c.parameters) for c in retried) == [("charge", "(2)"), ("pay", None), ("refund", None)]
    assert all(c.status == SKIPPED and len(c.attempts) == 1 for c in retried)
    finals = {(c.name, c.parameters): c for c in cases if c not in retried}
    pay = finals[("pay", None)]
    assert pay.status == PASSED and pay.flaky
    assert [a.status for a in pay.attempts] == [FAILED, PASSED]
    assert pay.attempts[0].message.startswith("gateway timeout on call 1")
    assert pay.attempts[0].failure_type == "java.lang.AssertionError" and pay.attempts[0].stack_trace
    refund = finals[("refund", None)]
    assert refund.status == FAILED and not refund.flaky and [a.status for a in refund.attempts] == [FAILED, FAILED]
    assert finals[("charge", "(2)")].flaky and not finals[("charge", "(1)")].flaky
    assert len(finals[("charge", "(1)")].attempts) == 1
    assert stream.totals.as_dict() == {"tests": 8, "passed": 4, "failures": 1, "errors": 0, "skipped": 3}
    # TestNG 7 counts retried invocations in `retried`, not in `skipped`.
    assert stream.info.declared == {"tests": 8, "failures": 1, "skipped": 3, "errors": 0}
    assert stream.info.warnings == []


def test_testng_retries_are_linked_whatever_the_order_of_the_entries(tmp_path):
    # TestNG sorts a class's results by their start millisecond, so a final entry may come
    # before its retried one (seen with TestNG 7.5); and when two invocations have the same
    # parameters on one instance, which one was retried is not written. The shape is TestNG's;
    # the file is made by hand.
    method = (
        '<test-method signature="{name}(int)[pri:0, instance:P@1]" name="{name}" status="{status}"{extra}>'
        '<params><param index="0"><value><![CDATA[1]]></value></param></params>{exception}</test-method>'
    )
    failure = '<exception class="java.lang.AssertionError"><message><![CDATA[declined]]></message></exception>'
    path = tmp_path / "testng-results.xml"
    path.write_text(
        '<testng-results retried="2" total="5" passed="3" failed="0" skipped="0"><suite name="S"><test name="T">'
        '<class name="com.acme.P">'
        + method.format(name="pay", status="PASS", extra="", exception="")
        + method.format(name="pay", status="SKIP", extra=' retried="true"', exception=failure)
        + method.format(name="twin", status="SKIP", extra=' retried="true"', exception=failure)
        + method.format(name="twin", status="PASS", extra="", exception="")
        + method.format(name="twin", status="PASS", extra="", exception="")
        + "</class></test></suite></testng-results>"
    )
    _spec, stream, cases = read_report(path)
    assert [(c.name, c.status, [a.status for a in c.attempts]) for c in cases] == [
        ("pay", PASSED, [FAILED, PASSED]),
        ("pay", SKIPPED, [SKIPPED]),
        ("twin", SKIPPED, [SKIPPED]),
        ("twin", PASSED, [PASSED]),
        ("twin", PASSED, [PASSED]),
    ]
    assert cases[0].attempts[0].message == "declined" and cases[0].flaky
    assert stream.info.warnings == []
