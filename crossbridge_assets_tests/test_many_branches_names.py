"""One branch, one name, whichever way CI spells it: refs/heads/main (GitHub's GITHUB_REF, Azure's
BUILD_SOURCEBRANCH), origin/main (Jenkins' GIT_BRANCH), main; a detached HEAD names no branch.
Real landing and loading through the inbox sensor and ingest job, SQLite and PostgreSQL."""

import json
import os
import time

import pandas as pd
import pytest
from sqlalchemy import select

from crossbridge_assets.hooks.events import ci_metadata
from crossbridge_assets.model import branch_name
from crossbridge_assets.warehouse import schema
from crossbridge_assets.warehouse.engine import make_engine
from crossbridge_assets_tests.influx_helpers import write_events
from crossbridge_assets_tests.insights_helpers import junit
from crossbridge_assets_tests.test_ingest_e2e import execute, run_requests_until_ready


def drop(settings, folder: str, manifest: dict | None, cases: dict) -> None:
    target = settings.inbox / folder
    target.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (target / "crossbridge.json").write_text(json.dumps(manifest), encoding="utf-8")
    (target / "junit.xml").write_text(junit(cases), encoding="utf-8")


def ingest(settings, instance) -> None:
    old = time.time() - 60  # settled
    for path in settings.inbox.rglob("*"):
        os.utime(path, (old, old))
    _, tick = run_requests_until_ready(instance)
    assert tick.run_requests
    for request in tick.run_requests:
        assert execute(instance, request).success


def runs(settings) -> pd.DataFrame:
    T = schema.test_runs
    with make_engine(settings.warehouse_url).connect() as conn:
        return pd.DataFrame(conn.execute(select(T.c.project, T.c.branch, T.c.build)).all(),
                            columns=["project", "branch", "build"])


def test_one_branch_spelled_four_ways_is_one_history(crossbridge_env, dagster_instance):
    s = crossbridge_env
    drop(s, "a", {"project": "shop", "branch": "refs/heads/main", "build": "1"}, {"test_a": "passed"})
    drop(s, "b", {"project": "shop", "branch": "origin/main", "build": "2"}, {"test_a": "passed"})
    drop(s, "shop/main/3", None, {"test_a": "passed"})  # the inbox path convention
    # A manifest that says HEAD (a detached checkout) leaves the branch to the inbox path.
    drop(s, "shop/release/2.0/4", {"branch": "HEAD"}, {"test_a": "passed"})
    drop(s, "e", {"project": "shop", "branch": "refs/heads/feature/JIRA-123-x", "build": "5"}, {"test_a": "passed"})
    # An event file a hook wrote on Jenkins: GIT_BRANCH is origin/<branch>; CROSSBRIDGE_BRANCH
    # set from GITHUB_REF by hand.
    start = time.time() - 3600
    span = [dict(kind="test", name="tests/test_a.py::test_a", start=start, duration=0.1, status="passed")]
    write_events(s.inbox, span, env={"JENKINS_URL": "https://jenkins.example/", "JOB_NAME": "shop",
                                     "GIT_BRANCH": "origin/feature/JIRA-123-x", "BUILD_NUMBER": "6"})
    write_events(s.inbox, span, env={"CROSSBRIDGE_PROJECT": "shop", "CROSSBRIDGE_BRANCH": "refs/heads/main",
                                     "CROSSBRIDGE_BUILD": "7"})
    ingest(s, dagster_instance)

    found = runs(s)
    assert sorted(zip(found["branch"], found["build"])) == [
        ("feature/JIRA-123-x", "5"), ("main", "1"), ("main", "2"), ("main", "3"), ("release/2.0", "4")]
    R = schema.reports
    with make_engine(s.warehouse_url).connect() as conn:
        events = conn.execute(select(R.c.project, R.c.branch, R.c.build).where(R.c.kind == "profiling")).all()
    assert sorted(tuple(e) for e in events) == [("shop", "feature/JIRA-123-x", "6"), ("shop", "main", "7")]


@pytest.mark.parametrize("env, expected", [
    # GitHub Actions: a push, a pull request (its head branch, not 123/merge), a tag.
    ({"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/feature/JIRA-123-x", "GITHUB_REF_NAME": "feature/JIRA-123-x"},
     "feature/JIRA-123-x"),
    ({"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/pull/123/merge", "GITHUB_REF_NAME": "123/merge",
      "GITHUB_HEAD_REF": "feature/JIRA-123-x"}, "feature/JIRA-123-x"),
    ({"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.2.0", "GITHUB_REF_NAME": "v1.2.0"}, "v1.2.0"),
    # GitLab: a merge request pipeline names its source branch.
    ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "feature/JIRA-123-x"}, "feature/JIRA-123-x"),
    ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "refs/merge-requests/5/head",
      "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/JIRA-123-x"}, "feature/JIRA-123-x"),
    # Jenkins: multibranch (BRANCH_NAME; CHANGE_BRANCH for a pull request), or a plain job's GIT_BRANCH.
    ({"JENKINS_URL": "https://j/", "BRANCH_NAME": "main"}, "main"),
    ({"JENKINS_URL": "https://j/", "BRANCH_NAME": "PR-12", "CHANGE_BRANCH": "feature/JIRA-123-x"}, "feature/JIRA-123-x"),
    ({"JENKINS_URL": "https://j/", "GIT_BRANCH": "origin/main"}, "main"),
    ({"JENKINS_URL": "https://j/", "GIT_BRANCH": "refs/remotes/origin/feature/x"}, "feature/x"),
    ({"JENKINS_URL": "https://j/", "GIT_BRANCH": "detached"}, None),
    # Azure Pipelines: BUILD_SOURCEBRANCH, the source branch of a pull request, a tag.
    ({"TF_BUILD": "True", "BUILD_SOURCEBRANCH": "refs/heads/main", "BUILD_SOURCEBRANCHNAME": "main"}, "main"),
    ({"TF_BUILD": "True", "BUILD_SOURCEBRANCH": "refs/pull/7/merge",
      "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature/JIRA-123-x"}, "feature/JIRA-123-x"),
    ({"TF_BUILD": "True", "BUILD_SOURCEBRANCH": "refs/tags/v1.2.0", "BUILD_SOURCEBRANCHNAME": "v1.2.0"}, "v1.2.0"),
    # CircleCI and Buildkite tag builds name no branch, only the tag.
    ({"CIRCLECI": "true", "CIRCLE_TAG": "v1.2.0"}, "v1.2.0"),
    ({"BUILDKITE": "true", "BUILDKITE_BRANCH": "", "BUILDKITE_TAG": "v1.2.0"}, "v1.2.0"),
    # An override set from GITHUB_REF by hand.
    ({"CROSSBRIDGE_BRANCH": "refs/heads/main"}, "main"),
])
def test_the_ci_variables_give_the_branch_its_one_name(env, expected):
    assert ci_metadata(env).get("branch") == expected


def test_branch_names_that_only_look_like_refs_are_kept():
    assert branch_name("feature/origin/x") == "feature/origin/x"
    assert branch_name("origin/") == "origin/"  # nothing after the prefix: a name of its own
    assert branch_name(" main ") == "main"
    assert branch_name("(HEAD detached at 3f2a9c1)") is None
