"""Failure clusters: a failure's signature on real trace shapes of each family, the pairs that
must stay apart, and the clustering across tests, runs and formats (no Dagster, no SQL)."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from crossbridge_assets.analysis.clusters import CLUSTER_COLUMNS, MEMBER_COLUMNS, cluster, own_frames, parse
from crossbridge_assets.model import RERUN_WITHOUT_DETAIL
from crossbridge_assets.warehouse.insights import FAILURE_COLUMNS

# ---------------------------------------------------------------------------- traces as real tools write them

# Surefire / JUnit 5 (jenkins junit-plugin corpus, TEST-junit-jupiter.xml): the test's own frame under
# the framework's and the JDK's reflection frames.
JAVA = """java.lang.IllegalStateException: stock service down at 10.0.3.7:5432 after 3000 ms
\tat com.acme.stock.StockClient.reserve(StockClient.java:{line})
\tat com.acme.{test}.{method}({test}.java:46)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:569)
\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:727)
\tat org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invoke(JUnitPlatformProvider.java:150)
"""
# Hamcrest's frames on top (mikepenz maven_surefire_flaky-surefire-report.xml).
HAMCREST = """java.lang.AssertionError: \n\nExpected: <false>\n     but: was <true>
\tat org.hamcrest.MatcherAssert.assertThat(MatcherAssert.java:20)
\tat org.hamcrest.MatcherAssert.assertThat(MatcherAssert.java:6)
\tat io.sodadata.msteams.MicrosoftTeamsCrudTest.{method}(MicrosoftTeamsCrudTest.java:58)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)
"""
# A unittest traceback (dorny python-xunit-unittest.xml): outermost first, the exception last.
PY_TRACEBACK = """Traceback (most recent call last):
  File "/Users/{user}/Projects/python-test/tests/test_lib.py", line 24, in test_always_fail
    self.fail("failed")
  File "/usr/lib/python3.12/unittest/case.py", line 715, in fail
    raise self.failureException(msg)
AssertionError: failed
"""
# pytest's long report (pytest-json-report / JUnit XML of pytest 8).
PYTEST_LONG = """broken_teardown = None

    def test_always_fails_with_teardown_error(broken_teardown):
>       assert False, "call fails"
E       AssertionError: call fails
E       assert False

rerun_edges.py:24: AssertionError
"""
# pytest --tb=short through a helper: the helper is the innermost own frame.
PYTEST_SHORT = """tests/{test_file}.py:12: in {test}
    charge(order)
app/payments.py:88: in charge
    raise TimeoutError(f"timed out after {seconds}s waiting for {host}")
E   TimeoutError: timed out after {seconds}s waiting for gateway.example.com
"""
# Jest through jest-junit on Windows (dorny jest-junit.xml): Node internals and jest's runner below.
JEST = """Error: Some error
    at Object.throwError (C:\\Users\\{user}\\Workspace\\shop\\lib\\main.js:2:9)
    at Object.<anonymous> (C:\\Users\\{user}\\Workspace\\shop\\__tests__\\{file}.test.js:14:11)
    at Object.asyncJestTest (C:\\Users\\{user}\\Workspace\\shop\\node_modules\\jest-jasmine2\\build\\jasmineAsyncInstall.js:106:37)
    at new Promise (<anonymous>)
    at processTicksAndRejections (internal/process/task_queues.js:97:5)
"""
# Playwright's JSON report (daun playwright-report-summary corpus): a location-only frame.
PLAYWRIGHT = """Error: expect(received).toBe(expected) // Object.is equality

Expected: {want}
Received: {got}
    at /project/tests/functional/{file}.spec.ts:10:21
"""
# xUnit in a TRX file (dorny dotnet-trx.trx) and NUnit on Mono (enricomi NUnit-correct.xml).
DOTNET = """   at DotnetTests.Unit.Calculator.Div(Int32 a, Int32 b) in C:\\Users\\{user}\\dotnet\\DotnetTests.Unit\\Calculator.cs:line 9
   at DotnetTests.XUnitTests.CalculatorTests.{test}() in C:\\Users\\{user}\\dotnet\\CalculatorTests.cs:line 33
"""
MONO = "at NUnit.Tests.Assemblies.MockTestFixture.{test} () [0x00000] in /home/charlie/MockAssembly.cs:121\n"


def sig(framework, failure_type, message, trace):
    p = parse(framework, failure_type, message, trace)
    return p.failure_type, p.pattern, p.values, p.frame


# ---------------------------------------------------------------------------- normalisation, family by family


def test_java_keeps_the_innermost_own_frame_and_drops_addresses_numbers_and_durations():
    a = sig("junit", "java.lang.IllegalStateException", "stock service down at 10.0.3.7:5432 after 3000 ms",
            JAVA.format(line=88, test="CartTest", method="checkout"))
    b = sig("junit", "java.lang.IllegalStateException", "stock service down at 10.0.3.9:6543 after 1200 ms",
            JAVA.format(line=91, test="OrderTest", method="place"))
    assert a == b
    assert a[0] == "IllegalStateException" and a[3] == "com.acme.stock.StockClient.reserve"
    assert a[1] == "stock service down at <n>:<n> after <duration>"


def test_java_framework_frames_are_not_the_projects_own():
    trace = HAMCREST.format(method="createWebhook")
    assert own_frames(trace) == ("io.sodadata.msteams.MicrosoftTeamsCrudTest.createWebhook",)
    # The same hamcrest failure in two test methods: two own frames, two clusters.
    assert sig("junit", "java.lang.AssertionError", None, trace) != sig(
        "junit", "java.lang.AssertionError", None, HAMCREST.format(method="deleteWebhook"))


def test_python_traceback_is_read_innermost_first_without_the_framework_or_the_home_folder():
    a = sig("junit", "AssertionError", "failed", PY_TRACEBACK.format(user="alice"))
    b = sig("pytest", None, "AssertionError: failed", PY_TRACEBACK.format(user="runner"))
    assert a == b == ("AssertionError", "failed", (), "test_lib.py:test_always_fail")


def test_pytest_long_and_short_reports():
    assert sig("pytest", None, "AssertionError: call fails\nassert False", PYTEST_LONG) == (
        "AssertionError", "call fails / assert False", (), "rerun_edges.py:test_always_fails_with_teardown_error")
    one = sig("pytest", None, None, PYTEST_SHORT.format(test_file="test_cart", test="test_pay", seconds="2.0", host="x"))
    other = sig("pytest", None, None, PYTEST_SHORT.format(test_file="test_refund", test="test_refund", seconds="30", host="x"))
    # Two tests timing out in one helper: one cause, read from the trace when the message is empty.
    assert one == other == ("TimeoutError", "timed out after <duration> waiting for gateway.example.com", (),
                            "payments.py:charge")


def test_pytest_fixture_wrapper_and_type_prefix_are_unwrapped():
    wrapped = sig("pytest", None, 'failed on setup with "RuntimeError: database not reachable"', None)
    plain = sig("pytest", None, "RuntimeError: database not reachable", None)
    assert wrapped == plain == ("RuntimeError", "database not reachable", (), "")


def test_javascript_frames_skip_node_modules_node_internals_and_anonymous_names():
    trace = JEST.format(user="michal", file="main")
    assert own_frames(trace) == ("main.js:Object.throwError", "main.test.js")
    assert sig("jest", None, "Error: Some error", trace) == ("Error", "Some error", (), "main.js:Object.throwError")
    # Another machine, another test file calling the same function: the same signature.
    assert sig("jest", None, "Error: Some error", JEST.format(user="ci", file="cart")) == sig(
        "jest", None, "Error: Some error", trace)


def test_playwright_json_and_its_junit_xml_agree_and_values_do_not_matter():
    json_report = sig("playwright", None, "Error: expect(received).toBe(expected) // Object.is equality",
                      PLAYWRIGHT.format(want=4, got=3, file="add"))
    junit = sig("playwright", "expect.toBe", "expect(received).toBe(expected) // Object.is equality",
                "\n  [api] › add.spec.ts:10:3 › adds ───\n\n    " + PLAYWRIGHT.format(want=5, got=1, file="add"))
    assert json_report == junit
    assert json_report[0] == "Error" and json_report[3] == "add.spec.ts"


def test_dotnet_trx_and_mono_frames():
    a = sig("xunit", None, "System.DivideByZeroException : Attempted to divide by zero.", DOTNET.format(user="a", test="Div_Test"))
    b = sig("nunit", "Error", "System.DivideByZeroException : Attempted to divide by zero.", DOTNET.format(user="b", test="Other"))
    assert a == b == ("DivideByZeroException", "Attempted to divide by zero.", (), "DotnetTests.Unit.Calculator.Div")
    assert own_frames(MONO.format(test="FailingTest")) == ("NUnit.Tests.Assemblies.MockTestFixture.FailingTest",)


def test_robot_messages_alone_and_its_two_outputs_agree():
    # output.xml states no type, the xUnit file written with it says AssertionError for everything.
    assert sig("robot", None, "refund total differs: 1 != 2", None) == sig(
        "robot", "AssertionError", "refund total differs: 7 != 9", None) == ("", "refund total differs: <n> != <n>", (), "")
    teardown = sig("robot", None, "Parent suite teardown failed:\nteardown boom", None)
    assert teardown[1] == "Parent suite teardown failed: / teardown boom"


def test_volatile_values_uuids_hex_timestamps_and_temp_paths():
    message = ("order 3f2c8a1e-9b7d-4c1a-8e2f-0a1b2c3d4e5f failed at 2026-11-20T09:00:01.123Z; "
               "object <Cart at 0x7f3a2b1c> @1b6d3586 wrote /tmp/pytest-of-runner/pytest-12/test_x0/out.json "
               "and C:\\Users\\bob\\AppData\\Local\\Temp\\tmpab12\\x.txt on /home/runner/work/shop/shop/app/cart.py")
    assert sig("pytest", "OSError", message, None)[1] == (
        "order <uuid> failed at <ts>; object <Cart at <hex>> @<hex> wrote <tmp> and <tmp> on <path>/cart.py")


# ---------------------------------------------------------------------------- pairs that must NOT merge


@pytest.mark.parametrize(
    "one, other",
    [
        pytest.param(("junit", "java.lang.AssertionError", "expected: <true> but was: <false>", HAMCREST.format(method="a")),
                     ("junit", "java.lang.AssertionError", "expected: <OPEN> but was: <CLOSED>", HAMCREST.format(method="a")),
                     id="different assertion, same frame"),
        pytest.param(("junit", "java.lang.IllegalStateException", "down", JAVA.format(line=1, test="A", method="a")),
                     ("junit", "java.lang.IllegalStateException", "down",
                      JAVA.format(line=1, test="A", method="a").replace("StockClient.reserve", "StockClient.release")),
                     id="same message, different own frame"),
        pytest.param(("junit", "java.lang.IllegalStateException", "down", None),
                     ("junit", "java.lang.IllegalArgumentException", "down", None), id="different type"),
        pytest.param(("jest", None, "Error: boom", JEST.format(user="u", file="a").replace("throwError", "throwOther")),
                     ("jest", None, "Error: boom", JEST.format(user="u", file="a")), id="js: different own function"),
        pytest.param(("robot", None, "No keyword with name 'Login' found.", None),
                     ("robot", None, "No keyword with name 'Checkout' found.", None), id="quoted values of different tests"),
        pytest.param(("pytest", None, "assert 3 == 4", PYTEST_LONG), ("pytest", None, "assert 3 != 4", PYTEST_LONG),
                     id="different comparison"),
    ],
)
def test_pairs_that_must_not_merge(one, other):
    rows = [failure(test="t1", run="r1", parsed=one), failure(test="t2", run="r2", parsed=other)]
    clusters, _ = cluster(frame(rows))
    assert len(clusters) == 2, clusters["signature"].tolist()


# ---------------------------------------------------------------------------- clustering

T0 = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)


def failure(test, run, parsed=None, *, message=None, trace=None, failure_type=None, framework="pytest", status="failed",
            attempt=1, hours=0, project="shop", ci_url=None):
    if parsed:
        framework, failure_type, message, trace = parsed
    return dict(run_id=run, project=project, branch="main", build=run.lstrip("r"), ci_url=ci_url,
                run_time=T0 + timedelta(hours=hours), partition="2026-11-20", test_id=test, framework=framework,
                suite="tests.test_shop", name=test, parameters=None, status=status, attempt=attempt,
                attempt_status="failed", message=message, failure_type=failure_type, stack_trace=trace)


def frame(rows):
    f = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
    f["run_time"] = pd.to_datetime(f["run_time"], utc=True)
    return f


TIMEOUT = PYTEST_SHORT.format(test_file="test_x", test="test_x", seconds="2.0", host="gateway.example.com")


def test_one_cause_across_tests_runs_and_projects_is_one_cluster_listed_first():
    rows = [
        failure("test_pay", "r1", trace=TIMEOUT, hours=0, ci_url="https://ci/1"),
        failure("test_refund", "r1", trace=TIMEOUT.replace("2.0", "30"), hours=0),
        failure("test_pay", "r2", trace=TIMEOUT, hours=5, project="billing", ci_url="https://ci/2"),
        # One test's own assertion, failing in three runs: a cluster of one test.
        *[failure("test_tax", f"r{i}", message=f"assert {i} == 100", trace=PYTEST_LONG, hours=i) for i in (1, 2, 3)],
        # Retried: two failed attempts of one result, then passed.
        failure("test_tax", "r4", message="assert 7 == 100", trace=PYTEST_LONG, attempt=1, status="passed", hours=4),
        failure("test_tax", "r4", message="assert 8 == 100", trace=PYTEST_LONG, attempt=2, status="passed", hours=4),
    ]
    clusters, members = cluster(frame(rows))
    assert list(clusters.columns) == CLUSTER_COLUMNS and list(members.columns) == MEMBER_COLUMNS
    assert len(clusters) == 2
    shared, alone = clusters.iloc[0], clusters.iloc[1]
    assert shared["signature"] == "TimeoutError: timed out after <duration> waiting for gateway.example.com @ payments.py:charge"
    assert (shared["tests"], shared["occurrences"], shared["attempts"], shared["runs"]) == (2, 3, 3, 2)
    assert shared["projects"] == "billing, shop"
    # The latest occurrence is the example a reader opens.
    assert (shared["example_build"], shared["example_ci_url"], shared["example_project"]) == ("2", "https://ci/2", "billing")
    assert shared["first_seen"] == T0 and shared["last_seen"] == T0 + timedelta(hours=5)
    assert "test_pay" in shared["example_tests"] and "test_refund" in shared["example_tests"]
    assert (alone["tests"], alone["occurrences"], alone["attempts"], alone["runs"], alone["passed_on_retry"]) == (1, 4, 5, 4, 1)
    assert alone["signature"] == "AssertionError: assert <n> == <n> @ rerun_edges.py:test_always_fails_with_teardown_error"
    retried = members[(members["run_id"] == "r4")]
    assert retried[["status", "attempts"]].values.tolist() == [["passed", 2]]
    assert len(members) == 7


def test_a_quoted_value_that_changes_between_runs_of_one_test_is_volatile():
    rows = [failure("test_order", f"r{i}", message=f"Order 'ord-{name}' not found", failure_type="KeyError", hours=i)
            for i, name in enumerate(["kx", "pq", "zz"])]
    rows += [failure("test_login", "r1", message="Keyword 'Login' missing", failure_type="KeyError"),
             failure("test_logout", "r1", message="Keyword 'Logout' missing", failure_type="KeyError")]
    clusters, _ = cluster(frame(rows))
    assert sorted(clusters["message_pattern"]) == ["Keyword 'Login' missing", "Keyword 'Logout' missing",
                                                   "Order <str> not found"]
    assert clusters.set_index("message_pattern").loc["Order <str> not found", "occurrences"] == 3


def test_failures_without_any_detail_never_merge_across_tests():
    rows = [failure("test_a", "r1"), failure("test_b", "r1"), failure("test_a", "r2"),
            failure("test_c", "r1", message=RERUN_WITHOUT_DETAIL)]
    clusters, _ = cluster(frame(rows))
    assert sorted(clusters["tests"]) == [1, 1, 1]
    assert sorted(clusters["occurrences"]) == [1, 1, 2]
    assert all("(no failure detail)" in s for s in clusters["signature"])


def test_a_type_one_format_omits_is_taken_from_the_others():
    # Cucumber-JS: its JSON says "Error: cannot open the till", its JUnit XML just the message.
    trace = "Error: cannot open the till\n    at World.<anonymous> (features/steps.js:9:9)\n"
    rows = [failure("scenario_a", "r1", framework="cucumber", message="before hook failed: Error: cannot open the till",
                    trace=trace),
            failure("scenario_b", "r2", framework="cucumber", message="cannot open the till",
                    trace="cannot open the till\n    at World.<anonymous> (features/steps.js:9:9)\n")]
    clusters, _ = cluster(frame(rows))
    assert clusters["signature"].tolist() == ["Error: cannot open the till @ steps.js"]


def test_no_failures_give_empty_frames_with_the_columns():
    clusters, members = cluster(frame([]))
    assert clusters.empty and list(clusters.columns) == CLUSTER_COLUMNS
    assert members.empty and list(members.columns) == MEMBER_COLUMNS


def test_a_teardown_that_broke_after_the_call_does_not_lend_its_frame_to_the_calls_failure():
    # pytest-json-report's longrepr of a test whose call failed and whose fixture's teardown broke.
    trace = PYTEST_LONG + """
RuntimeError: teardown broke

@pytest.fixture
    def broken_teardown():
        yield
>       raise RuntimeError("teardown broke")
E       RuntimeError: teardown broke

rerun_edges.py:16: RuntimeError
"""
    p = parse("pytest", None, "AssertionError: call fails\nassert False", trace)
    assert (p.failure_type, p.frame) == ("AssertionError", "rerun_edges.py:test_always_fails_with_teardown_error")


def test_a_failure_read_from_two_reports_of_one_run_counts_once():
    # Robot Framework's output.xml and its xUnit file, both dropped for one run.
    rows = [failure("Remove Missing Item", "r1", framework="robot", message="apples != oranges"),
            failure("Remove Missing Item", "r1", framework="robot", message="apples != oranges", failure_type="AssertionError")]
    clusters, members = cluster(frame(rows))
    assert clusters[["tests", "occurrences", "attempts", "runs"]].values.tolist() == [[1, 1, 1, 1]]
    assert members[["status", "attempts"]].values.tolist() == [["failed", 1]]


@pytest.mark.parametrize(
    "message, pattern",
    [
        ("connection refused: https://api.example.com:8443/v1/charges", "connection refused: https://api.example.com:<n>/v1/charges"),
        ("POST /v1/charges returned 502", "POST /v1/charges returned <n>"),
        ("/home/runner/work/shop/shop/spec/broken_spec.lua:2: db down", "<path>/broken_spec.lua:<n>: db down"),
        ("D:\\a\\shop\\shop\\tests\\cart_test.cpp:15: CHECK failed", "<path>/cart_test.cpp:<n>: CHECK failed"),
    ],
)
def test_urls_and_routes_keep_their_path_files_lose_their_folders(message, pattern):
    assert parse("junit", None, message, None).pattern == pattern


def test_a_signature_names_a_test_only_for_a_failure_without_detail():
    # A type taken from another format's failure (the frame's string columns hold NaN, not None).
    rows = [failure("a", "r1", framework="cucumber", message="Error: register offline"),
            failure("b", "r2", framework="cucumber", message="register offline"),
            failure("c", "r2")]
    clusters, _ = cluster(frame(rows))
    assert sorted(clusters["signature"]) == ["(no failure detail) [test c]", "Error: register offline"]
