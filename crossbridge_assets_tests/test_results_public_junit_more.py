"""JUnit XML reader against more shapes real tools write, as found in public repositories (each
fixture hand-trimmed from the file named in its comment, inline here)."""

from __future__ import annotations

from crossbridge_assets.formats import read_report
from crossbridge_assets.model import FAILED, PASSED

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
