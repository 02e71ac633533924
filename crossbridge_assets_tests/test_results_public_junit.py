"""JUnit XML and TestNG readers against the shapes of files real tools wrote, as found in public
repositories (each fixture hand-trimmed from the file named in its comment, inline here)."""

from __future__ import annotations

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED

# cargo-nextest 0.9 (`[profile.ci.junit]`, retries = 3), trimmed from nextest-rs/nextest
# fixtures/nextest-tests-junit.xml: a rerun's panic is the element's own text, followed by the
# run's own <system-out>/<system-err>; no message= attribute.
_NEXTEST = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="2" failures="1" errors="0" uuid="45c50042-482e-477e-88a2-60cfcc3eaf95" timestamp="2024-01-09T07:50:12.664+00:00" time="0.023">
    <testsuite name="nextest-tests::basic" tests="2" disabled="0" errors="0" failures="1">
        <testcase name="test_failure_assert" classname="nextest-tests::basic" timestamp="2024-01-09T07:50:12.665+00:00" time="0.004">
            <failure type="test failure">thread &apos;test_failure_assert&apos; panicked at tests/basic.rs:19:5:
assertion `left == right` failed: this is an assertion</failure>
            <rerunFailure timestamp="2024-01-09T07:50:12.670+00:00" time="0.004" type="test failure">thread &apos;test_failure_assert&apos; panicked at tests/basic.rs:19:5:
assertion `left == right` failed: this is an assertion
                <system-out>
running 1 test
test test_failure_assert ... FAILED
</system-out>
                <system-err>thread &apos;test_failure_assert&apos; panicked at tests/basic.rs:19:5:
</system-err>
            </rerunFailure>
            <system-out>
running 1 test
</system-out>
        </testcase>
        <testcase name="test_flaky_mod_4" classname="nextest-tests::basic" timestamp="2024-01-09T07:50:12.683+00:00" time="0.004">
            <flakyFailure timestamp="2024-01-09T07:50:12.665+00:00" time="0.004" type="test failure">thread &apos;test_flaky_mod_4&apos; panicked at tests/basic.rs:43:9:
Failed because attempt 1 % 4 != 0
                <system-out>
running 1 test
test test_flaky_mod_4 ... FAILED
</system-out>
                <system-err>thread &apos;test_flaky_mod_4&apos; panicked at tests/basic.rs:43:9:
Failed because attempt 1 % 4 != 0
</system-err>
            </flakyFailure>
        </testcase>
    </testsuite>
</testsuites>
"""


def test_nextest_rerun_trace_is_its_own_text_and_its_output_stays_output(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(_NEXTEST)
    _spec, stream, cases = read_report(path)
    assert stream.info.framework == "nextest"
    assert stream.info.warnings == []
    failing, flaky = cases
    assert failing.status == FAILED and [a.status for a in failing.attempts] == [FAILED, FAILED]
    rerun = failing.attempts[1]
    assert rerun.message == "thread 'test_failure_assert' panicked at tests/basic.rs:19:5:"
    assert rerun.stack_trace.endswith("assertion `left == right` failed: this is an assertion")
    assert "running 1 test" not in rerun.stack_trace
    assert rerun.stdout.strip() == "running 1 test\ntest test_failure_assert ... FAILED"
    assert flaky.status == PASSED and [a.status for a in flaky.attempts] == [FAILED, PASSED]
    earlier = flaky.attempts[0]
    assert earlier.stack_trace.endswith("Failed because attempt 1 % 4 != 0")
    assert "FAILED" not in earlier.stack_trace  # the run's stdout
    assert earlier.stderr.startswith("thread 'test_flaky_mod_4' panicked")


# Marathon (Android test runner), from mikepenz/action-junit-report
# test_results/junit_flaky_failure/marathon_junit_report.xml: a flakyFailure with no message,
# its trace in a <stackTrace> child.
_MARATHON = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="omni" tests="1" failures="0" errors="0" time="9.56" skipped="0" timestamp="2024-01-21T08:17:32">
    <testcase name="testFlakyFailure" time="1.86" classname="com.mikepenz.Class">
        <flakyFailure type="rerun exception">
            <stackTrace><![CDATA[junit.framework.AssertionFailedError]]></stackTrace>
        </flakyFailure>
    </testcase>
</testsuite>
"""


def test_flaky_failure_without_message_takes_it_from_its_stack_trace(tmp_path):
    path = tmp_path / "marathon.xml"
    path.write_text(_MARATHON)
    _spec, _stream, (case,) = read_report(path)
    assert case.status == PASSED
    earlier, final = case.attempts
    assert (earlier.status, earlier.message, earlier.stack_trace) == (
        FAILED,
        "junit.framework.AssertionFailedError",
        "junit.framework.AssertionFailedError",
    )
    assert earlier.failure_type == "rerun exception"
    assert final.status == PASSED


# TestNG 7's testng-results.xml: `total` is passed + failed + skipped + retried + ignored
# (testng-team/testng testng-core/src/main/java/org/testng/reporters/AbstractXmlReporter.java),
# and an ignored method (@Test(enabled = false), @Ignore, an excluded group) has no <test-method>.
# Shape of a Surefire + TestNG 7 run with one disabled test.
_TESTNG_IGNORED = """<?xml version="1.0" encoding="UTF-8"?>
<testng-results ignored="1" total="3" passed="1" failed="1" skipped="0">
  <reporter-output>
  </reporter-output>
  <suite started-at="2025-10-08T14:39:51Z" name="Surefire suite" finished-at="2025-10-08T14:39:51Z" duration-ms="12">
    <groups>
    </groups>
    <test started-at="2025-10-08T14:39:51Z" name="Surefire test" finished-at="2025-10-08T14:39:51Z" duration-ms="12">
      <class name="com.acme.CartTest">
        <test-method signature="adds()[pri:0, instance:com.acme.CartTest@1b2c3d]" started-at="2025-10-08T14:39:51Z" name="adds" finished-at="2025-10-08T14:39:51Z" duration-ms="3" status="PASS">
          <reporter-output>
          </reporter-output>
        </test-method>
        <test-method signature="totals()[pri:0, instance:com.acme.CartTest@1b2c3d]" started-at="2025-10-08T14:39:51Z" name="totals" finished-at="2025-10-08T14:39:51Z" duration-ms="4" status="FAIL">
          <exception class="java.lang.AssertionError">
            <message>
              <![CDATA[expected [3] but found [2]]]>
            </message>
          </exception>
          <reporter-output>
          </reporter-output>
        </test-method>
      </class>
    </test>
  </suite>
</testng-results>
"""


def test_testng_total_leaves_out_ignored_methods_before_it_is_compared(tmp_path):
    path = tmp_path / "testng-results.xml"
    path.write_text(_TESTNG_IGNORED)
    _spec, stream, cases = read_report(path)
    assert [(c.name, c.status) for c in cases] == [("adds", PASSED), ("totals", FAILED)]
    assert stream.info.declared["tests"] == 2
    assert stream.info.warnings == []


# fastlane's trainer (2.227 on, fastlane/fastlane trainer/lib/trainer/xcresult/test_case.rb
# to_xml_nodes) writes each run of a test Xcode ran again (-retry-tests-on-failure) as a testcase
# of its own with a 'repetition' property; its tests=/failures= count tests by their last run.
# Trimmed from dorny/test-reporter __tests__/fixtures/external/xcode/trainer-retried-tests.xml.
_TRAINER_RETRIED = """<?xml version='1.0' encoding='UTF-8'?>
<testsuites tests='3' failures='1'>
  <testsuite name='TicketsTests' tests='3' failures='1' skipped='0' time='2.5'>
    <testcase classname='TicketRepositoryTests' name='offline filtering keeps the active ticket' time='0.9'>
      <failure message='TicketRepositoryTests.swift:48: Expectation failed'/>
      <properties>
        <property name='repetition' value='Repetition 1 of 3'/>
      </properties>
    </testcase>
    <testcase classname='TicketRepositoryTests' name='offline filtering keeps the active ticket' time='0.8'>
      <properties>
        <property name='repetition' value='Repetition 2 of 3'/>
      </properties>
    </testcase>
    <testcase classname='TicketRepositoryTests' name='an expired ticket is dropped' time='0.4'>
      <failure message='TicketRepositoryTests.swift:96: Expectation failed'/>
      <properties>
        <property name='repetition' value='Repetition 1 of 3'/>
      </properties>
    </testcase>
    <testcase classname='TicketRepositoryTests' name='an expired ticket is dropped' time='0.4'>
      <failure message='TicketRepositoryTests.swift:96: Expectation failed'/>
      <properties>
        <property name='repetition' value='Repetition 2 of 3'/>
      </properties>
    </testcase>
    <testcase classname='TicketRepositoryTests' name='a ticket without a session is ignored' time='0.1'/>
  </testsuite>
</testsuites>
"""


def test_trainer_repetitions_are_attempts_of_one_test(tmp_path):
    path = tmp_path / "report.junit"
    path.write_text(_TRAINER_RETRIED)
    _spec, stream, cases = read_report(path)
    assert [(c.name, c.status, [a.status for a in c.attempts]) for c in cases] == [
        ("offline filtering keeps the active ticket", PASSED, [FAILED, PASSED]),
        ("an expired ticket is dropped", FAILED, [FAILED, FAILED]),
        ("a ticket without a session is ignored", PASSED, [PASSED]),
    ]
    flaky, failing, _plain = cases
    assert flaky.attempts[0].message == "TicketRepositoryTests.swift:48: Expectation failed"
    assert abs(flaky.duration - 1.7) < 1e-9
    assert "repeat" not in failing.properties
    assert failing.properties["repetition"] == "Repetition 2 of 3"
    assert stream.info.warnings == []  # no repeats, and tests=3 failures=1 agree


def test_same_named_testcases_without_repetition_stay_apart(tmp_path):
    # go-junit-report (go test -count=2) repeats a testcase with nothing saying it is a rerun:
    # each still counts, marked as a repeat; a trainer run is joined only to the run before it.
    path = tmp_path / "report.xml"
    path.write_text(
        """<testsuites><testsuite name="shop" tests="3">
        <testcase classname="shop" name="TestCart" time="0.1"/>
        <testcase classname="shop" name="TestCart" time="0.1"><failure message="Failed">x</failure></testcase>
        <testcase classname="shop" name="TestPay" time="0.1">
          <properties><property name="repetition" value="First Run"/></properties>
        </testcase>
        </testsuite></testsuites>"""
    )
    _spec, stream, cases = read_report(path)
    assert [(c.name, c.status, len(c.attempts)) for c in cases] == [
        ("TestCart", PASSED, 1),
        ("TestCart", FAILED, 1),
        ("TestPay", PASSED, 1),
    ]
    assert cases[1].properties["repeat"] == "2"
