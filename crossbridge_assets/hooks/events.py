"""The event file every hook writes: timed spans as JSON Lines, one file per test session.

File layout (format "crossbridge-events", parsed by formats/crossbridge_events.py):

    {"crossbridge_events": 1, "run": "...", "framework": "pytest", ...run and CI metadata...}
    {"kind": "test", "name": "...", "start": "2024-05-01T12:00:00.000001+00:00", "duration": 0.12, ...}
    ...
    {"crossbridge_events_end": 1, "spans": 42, "ended_at": "...", "status": "failed"}

- The header comes first so detection is certain from the first line alone.
- Spans wait in the file's buffer until the runner hook is about to run the user's code again
  (the next pytest phase, the next Robot suite, test or keyword), FLUSH_SPANS are waiting, or one
  is recorded FLUSH_SECONDS after the oldest waiting one; the header, the end line and whatever
  waits at exit or before a fork are written at once. Fewer system calls (none for the HTTP
  calls inside a phase); the price is what a SIGKILL can lose: the spans recorded inside the
  phase or keyword that was running (at most FLUSH_SPANS). Lines go out whole and in order, so a
  runner that dies leaves a readable prefix (at worst a truncated last line, which the parser
  tolerates).
- While the session runs the file is ``<name>.jsonl.part``; closing renames it to
  ``<name>.jsonl``, so an inbox watcher never picks up a file that is still growing.
  The end line tells a finished session from a crashed one.

Span status vocabulary: test-like spans (session, suite, test, setup, call, teardown, step,
keyword) carry an outcome (passed, failed, skipped, xfailed, xpassed, error, not_run; and
"rerun" for an attempt pytest-rerunfailures ran again);
http spans carry the response status code as a string ("200", "404") or "error" when no
response came back; driver commands and navigations carry "ok" or "error".

Nothing here imports a test runner: every hook (pytest, Robot, HTTP, Selenium, Playwright)
goes through this writer.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import platform
import random
import re
import shutil
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import orjson

from crossbridge_assets.model import branch_name

log = logging.getLogger("crossbridge.hooks")

HEADER_KEY = "crossbridge_events"
END_KEY = "crossbridge_events_end"
VERSION = 1
PART_SUFFIX = ".part"

# Bounded so that one huge attribute (a response body someone attached) cannot bloat the file.
MAX_ATTRIBUTE_CHARS = 2000

# What a killed runner (SIGKILL, the OOM killer) can lose at most: spans wait in memory until this
# many are waiting, or until one is recorded this long after the oldest waiting one.
FLUSH_SPANS = 256
FLUSH_SECONDS = 1.0
# Room for FLUSH_SPANS spans of a few hundred bytes, so the buffer never writes by itself.
_BUFFER_BYTES = 1 << 20


# ---------------------------------------------------------------------------- target folder


def resolve_dir(explicit: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Where event files go: explicit folder > CROSSBRIDGE_EVENTS_DIR > CROSSBRIDGE_INBOX (the
    folder the sensor watches) > $CROSSBRIDGE_HOME/inbox, CROSSBRIDGE_HOME defaulting to ./.crossbridge."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    for variable in ("CROSSBRIDGE_EVENTS_DIR", "CROSSBRIDGE_INBOX"):
        if env.get(variable):
            return Path(env[variable]).expanduser()
    home = env.get("CROSSBRIDGE_HOME") or ".crossbridge"
    return Path(home).expanduser() / "inbox"


# ---------------------------------------------------------------------------- CI metadata


def ci_metadata(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Project, branch, commit, build and ci_url from the CI's environment variables
    (GitHub Actions, GitLab CI, Jenkins, CircleCI, Azure Pipelines, Buildkite).
    CROSSBRIDGE_PROJECT/BRANCH/COMMIT/BUILD override what the CI says. Missing values are left out."""
    e = os.environ if env is None else env
    g = e.get
    meta: dict[str, str | None] = {}
    if g("GITHUB_ACTIONS") == "true":
        run_id = g("GITHUB_RUN_ID")
        server = g("GITHUB_SERVER_URL") or "https://github.com"
        repo = g("GITHUB_REPOSITORY")
        meta = {
            "ci_provider": "github-actions",
            "project": repo,
            "branch": g("GITHUB_HEAD_REF") or g("GITHUB_REF_NAME") or branch_name(g("GITHUB_REF")),
            "commit": g("GITHUB_SHA"),
            "build": f"{run_id}.{g('GITHUB_RUN_ATTEMPT')}" if run_id and g("GITHUB_RUN_ATTEMPT") else run_id,
            "ci_url": f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None,
            "job": g("GITHUB_JOB"),
        }
    elif g("GITLAB_CI"):
        meta = {
            "ci_provider": "gitlab-ci",
            "project": g("CI_PROJECT_PATH"),
            "branch": g("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or g("CI_COMMIT_REF_NAME"),
            "commit": g("CI_COMMIT_SHA"),
            "build": g("CI_PIPELINE_ID"),
            "ci_url": g("CI_JOB_URL") or g("CI_PIPELINE_URL"),
            "job": g("CI_JOB_NAME"),
        }
    elif g("BUILDKITE") == "true":
        meta = {
            "ci_provider": "buildkite",
            "project": g("BUILDKITE_PIPELINE_SLUG"),
            "branch": g("BUILDKITE_BRANCH") or g("BUILDKITE_TAG"),
            "commit": g("BUILDKITE_COMMIT"),
            "build": g("BUILDKITE_BUILD_NUMBER"),
            "ci_url": g("BUILDKITE_BUILD_URL"),
            "job": g("BUILDKITE_LABEL"),
        }
    elif g("CIRCLECI") == "true":
        user, name = g("CIRCLE_PROJECT_USERNAME"), g("CIRCLE_PROJECT_REPONAME")
        meta = {
            "ci_provider": "circleci",
            "project": f"{user}/{name}" if user and name else name,
            "branch": g("CIRCLE_BRANCH") or g("CIRCLE_TAG"),
            "commit": g("CIRCLE_SHA1"),
            "build": g("CIRCLE_BUILD_NUM") or g("CIRCLE_WORKFLOW_ID"),
            "ci_url": g("CIRCLE_BUILD_URL"),
            "job": g("CIRCLE_JOB"),
        }
    elif (g("TF_BUILD") or "").lower() == "true":
        collection, team, build_id = g("SYSTEM_COLLECTIONURI"), g("SYSTEM_TEAMPROJECT"), g("BUILD_BUILDID")
        meta = {
            "ci_provider": "azure-pipelines",
            "project": g("BUILD_REPOSITORY_NAME") or team,
            "branch": branch_name(g("SYSTEM_PULLREQUEST_SOURCEBRANCH") or g("BUILD_SOURCEBRANCH"))
            or g("BUILD_SOURCEBRANCHNAME"),
            "commit": g("BUILD_SOURCEVERSION"),
            "build": build_id,
            "ci_url": f"{collection.rstrip('/')}/{team}/_build/results?buildId={build_id}"
            if collection and team and build_id
            else None,
            "job": g("SYSTEM_JOBDISPLAYNAME") or g("AGENT_JOBNAME"),
        }
    elif g("JENKINS_URL") or g("JENKINS_HOME"):
        meta = {
            "ci_provider": "jenkins",
            "project": g("JOB_NAME"),
            "branch": g("CHANGE_BRANCH") or g("BRANCH_NAME") or branch_name(g("GIT_BRANCH")),
            "commit": g("GIT_COMMIT"),
            "build": g("BUILD_NUMBER"),
            "ci_url": g("BUILD_URL"),
            "job": g("STAGE_NAME"),
        }
    for key in ("project", "branch", "commit", "build"):
        override = g(f"CROSSBRIDGE_{key.upper()}")
        if override:
            meta[key] = override
    meta["branch"] = branch_name(meta.get("branch"))  # CROSSBRIDGE_BRANCH=$GIT_BRANCH too
    return {k: str(v) for k, v in meta.items() if v}


# ---------------------------------------------------------------------------- writing

# The real clocks, out of reach of what tests do to time (monkeypatch.setattr(time, "time", ...);
# freezegun, which swaps every module attribute that is a real clock function): spans keep the
# time the run really took, not the frozen time of the test under it.
_CLOCKS = {"wall": time.time, "perf": time.perf_counter}


def now() -> float:
    """Epoch seconds, from the real clock."""
    return _CLOCKS["wall"]()


def perf() -> float:
    """A monotonic counter for durations, from the real clock."""
    return _CLOCKS["perf"]()


# Span ids: 64 random bits from a generator of our own (uuid4 costs a system call; the `random`
# module's shared one is the tests' to seed), seeded afresh in a forked child.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_id() -> str:
    return f"{_ids.getrandbits(64):016x}"


_UTC = timezone.utc
_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def iso(epoch: float) -> str:
    """ISO 8601 in UTC with microseconds, as datetime.isoformat writes it. The text up to the
    seconds is formatted once a second; the microseconds are rounded as datetime rounds them."""
    global _second
    if epoch < 0:
        return datetime.fromtimestamp(epoch, tz=_UTC).isoformat(timespec="microseconds")
    whole = int(epoch)
    micros = round((epoch - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, datetime.fromtimestamp(whole, tz=_UTC).isoformat(timespec="seconds")[:19])
    return f"{cached[1]}.{micros:06d}+00:00"


_ORJSON_OPTIONS = orjson.OPT_APPEND_NEWLINE
_SURROGATE = re.compile("[\ud800-\udfff]")


def _encode(record: object) -> bytes:
    """One JSON line. orjson takes what the hooks write; what it refuses (integers beyond 64 bits,
    text with lone surrogates, which UTF-8 cannot hold) goes through json, each surrogate replaced
    by U+FFFD, so that one odd value never stops the session's profiling."""
    try:
        return orjson.dumps(record, default=str, option=_ORJSON_OPTIONS)
    except (TypeError, ValueError):
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        return (_SURROGATE.sub("\ufffd", line) + "\n").encode("utf-8")


def _clean(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
        return value[:MAX_ATTRIBUTE_CHARS] + "…"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return _clean(str(value))


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Context:
    """What a span recorded now belongs to: the running test and the innermost open span."""

    test: str | None = None
    parent_id: str | None = None
    attributes: dict[str, object] = field(default_factory=dict)


class EventWriter:
    """Appends spans to one event file. Thread-safe: hooks may record from any thread.

    A failing disk never fails the test run: the first OSError is logged and the writer
    goes quiet. What went wrong is kept in ``problem`` (the first thing only), for the runner
    hooks to say once in their summary."""

    def __init__(
        self,
        folder: str | os.PathLike | None = None,
        *,
        framework: str,
        run: str | None = None,
        worker: str | None = None,
        metadata: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None,
    ):
        env = os.environ if env is None else env
        # Absolute now: a test that changes directory must not move where the file is published.
        self.folder = resolve_dir(folder, env).absolute()
        self.framework = framework
        self.run = run or env.get("CROSSBRIDGE_RUN_ID") or uuid.uuid4().hex
        self.worker = worker
        self.started = now()
        # A child forked from this process inherits the writer: it neither writes into nor closes
        # the parent's file (a lock held at the fork would hang it; its atexit would end the session).
        self.pid = os.getpid()
        self.spans = 0
        self.closed = False
        self.broken = False
        self.problem: str | None = None
        self.context = Context()
        self._lock = threading.Lock()

        stamp = datetime.fromtimestamp(self.started, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        parts = ["crossbridge-events", framework, stamp, self.run[:12], worker, str(self.pid)]
        stem = _SAFE.sub("_", "-".join(p for p in parts if p))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"{stem}.jsonl"
        self.part_path = self.folder / f"{stem}.jsonl{PART_SUFFIX}"
        # "x": two sessions never share a file, even with a clashing name. "+": the file can be
        # read back and written again if the folder is removed while the session runs.
        # Spans go into the bytes buffer under the text layer (write_through keeps anything written
        # as text in order with them): a text write in a read-write file resets its decoder each time.
        self._fh = open(self.part_path, "x+", encoding="utf-8", newline="\n", buffering=_BUFFER_BYTES)
        self._fh.reconfigure(write_through=True)
        self._buffer = self._fh.buffer
        self._waiting = 0  # spans written into the buffer and not yet flushed to the file
        self._waiting_since = 0.0

        header: dict[str, object] = {
            HEADER_KEY: VERSION,
            "run": self.run,
            "framework": framework,
            "started_at": iso(self.started),
            "host": socket.gethostname(),
            "pid": self.pid,
            "python": platform.python_version(),
        }
        if worker:
            header["worker"] = worker
        header.update(ci_metadata(env))
        if metadata:
            header.update({k: _clean(v) for k, v in metadata.items() if v is not None})
        self.header_written = self._write(header) and self.flush()
        _writers.add(self)

    # -- low level

    def _write(self, record: Mapping[str, object], span: bool = False) -> bool:
        if _pid[0] != self.pid:
            return False
        line = _encode(record)
        with self._lock:
            if self.closed or self.broken:
                return False
            try:
                self._buffer.write(line)
            except (OSError, ValueError) as exc:
                return self._stop(exc)
            if span:
                self.spans += 1
            self._waiting += 1
            if self._waiting == 1:
                self._waiting_since = perf()
            elif self._waiting >= FLUSH_SPANS or perf() - self._waiting_since >= FLUSH_SECONDS:
                return self._flush_locked()
        return True

    def flush(self) -> bool:
        """Put the waiting spans in the file: the runner hooks call this before the user's code runs
        again, so that a runner killed there keeps what came before. False if the file is broken."""
        if _pid[0] != self.pid:
            return False
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        if self.broken:
            return False
        if self._waiting:
            try:
                self._fh.flush()
            except (OSError, ValueError) as exc:
                return self._stop(exc)
            self._waiting = 0
        return True

    def _stop(self, exc: BaseException) -> bool:
        self.broken = True
        self._note(f"cannot write events to {self.folder} ({exc}); profiling stops here")
        return False

    def _note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem
            log.warning("crossbridge: %s", problem)

    def _restore_if_removed(self) -> None:
        """Write the file again from the open handle when its folder (or the file) was removed
        while the session ran (a clean-up step wiping the inbox): the events are not lost with it."""
        try:
            if os.path.samestat(os.fstat(self._fh.fileno()), os.stat(self.part_path)):
                return
        except FileNotFoundError:
            pass
        except ValueError:
            return  # the handle is closed: nothing to write again from
        try:
            self._fh.flush()
        except (OSError, ValueError):
            pass
        self.folder.mkdir(parents=True, exist_ok=True)
        raw = self._fh.buffer
        raw.seek(0)
        with open(self.part_path, "xb") as copy:
            shutil.copyfileobj(raw, copy)
        self._note(f"the events folder {self.folder} was removed during the run: made it again and "
                   "wrote the events into it")

    # -- spans

    def span(
        self,
        kind: str,
        name: str,
        start: float,
        duration: float,
        *,
        status: str | None = None,
        test: str | None = None,
        span_id: str | None = None,
        parent_id: str | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> str:
        """Record one finished span (start in epoch seconds, duration in seconds); returns its id."""
        span_id = span_id or new_id()
        record: dict[str, object] = {
            "kind": kind,
            "name": name,
            "start": iso(start),
            "duration": round(max(float(duration), 0.0), 6),
            "span_id": span_id,
        }
        if status is not None:
            record["status"] = status
        if test is not None:
            record["test"] = test
        if parent_id is not None:
            record["parent_id"] = parent_id
        if attributes:
            # Short text, what attributes mostly are, as it is; the rest made JSON-safe and bounded.
            record["attributes"] = {str(k): v if type(v) is str and len(v) <= MAX_ATTRIBUTE_CHARS else _clean(v)
                                    for k, v in attributes.items() if v is not None}
        self._write(record, span=True)
        return span_id

    def record(self, kind: str, name: str, start: float, duration: float, **kw) -> str:
        """A span that belongs to whatever is running now (current test, innermost open span)."""
        ctx = self.context
        kw.setdefault("test", ctx.test)
        kw.setdefault("parent_id", ctx.parent_id)
        return self.span(kind, name, start, duration, **kw)

    def close(self, status: str | None = None) -> Path | None:
        """Write the end line and publish the file under its final name. Idempotent."""
        if _pid[0] != self.pid:
            return None
        with self._lock:
            if self.closed:
                return self.path if self.path.exists() else None
            if not self.header_written:
                # Not even the header made it (a full disk): what is there is no event file.
                self.closed = True
                for step in (self._fh.close, self.part_path.unlink):
                    try:
                        step()
                    except OSError:
                        pass
                return None
        end = {END_KEY: VERSION, "spans": self.spans, "ended_at": iso(now())}
        if status:
            end["status"] = status
        self._write(end)
        with self._lock:
            self._flush_locked()
            self.closed = True
            _writers.discard(self)
            try:
                self._restore_if_removed()
            except OSError as exc:
                self._note(f"the events file {self.part_path} was removed during the run and cannot be "
                           f"written again ({exc}); its events are lost")
            try:
                self._fh.close()
            except OSError:
                pass  # a write that failed already said so; what reached the disk is published
            try:
                os.replace(self.part_path, self.path)
            except OSError as exc:
                self._note(f"cannot publish {self.part_path} ({exc})")
                return None
        global _active
        if _active is self:
            _active = None
        return self.path


# ---------------------------------------------------------------------------- exit and fork

# The writers of this process with an open file.
_writers: "weakref.WeakSet[EventWriter]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    # A session nobody closed (a runner that crashed, a script whose writer is never closed) keeps
    # every span it recorded in its *.part file.
    for writer in list(_writers):
        try:
            writer.flush()
        except Exception:  # noqa: BLE001 - exiting: nothing to say it to
            pass


_held_for_fork: list[EventWriter] = []
# This process's id, kept up to date by the fork handler: os.getpid() is a system call a span.
_pid = [os.getpid()]


def _before_fork() -> None:
    # A child that exits through the interpreter flushes the file buffers it inherited: they must
    # be empty, and stay empty until the fork is done (another thread may be recording).
    for writer in list(_writers):
        writer._lock.acquire()
        _held_for_fork.append(writer)
        if os.getpid() == writer.pid:
            try:
                writer._flush_locked()
            except Exception:  # noqa: BLE001 - a fork must go on whatever the events file does
                pass


def _after_fork_in_parent() -> None:
    while _held_for_fork:
        _held_for_fork.pop()._lock.release()


def _after_fork_in_child() -> None:
    _pid[0] = os.getpid()
    while _held_for_fork:
        _held_for_fork.pop()._lock = threading.Lock()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------- the active session

# One writer per process is "active": hooks that are not tied to a runner (HTTP, Selenium,
# Playwright) record into it, attributed to whatever test the runner hook says is running.
_active: EventWriter | None = None


def active() -> EventWriter | None:
    w = _active
    return w if w is not None and not w.closed and not w.broken else None


def set_active(writer: EventWriter | None) -> None:
    global _active
    _active = writer


def take_over(writer: EventWriter) -> EventWriter | None:
    """Make a runner's writer the active one; returns the one it replaces (the outer run's, when a
    runner is started inside a test of another: robot.run or pytester under the pytest plugin)
    for give_back() when the inner run ends."""
    outer = active()
    set_active(writer)
    return outer


def give_back(outer: EventWriter | None) -> None:
    if outer is not None and not outer.closed:
        set_active(outer)


def start_session(folder: str | os.PathLike | None = None, *, framework: str = "python", **kw) -> EventWriter:
    """Open a writer, make it the active one and close it at interpreter exit
    (for scripts that use the HTTP/Selenium/Playwright hooks without a runner hook)."""
    writer = EventWriter(folder, framework=framework, **kw)
    set_active(writer)
    atexit.register(writer.close)
    return writer


def record(kind: str, name: str, start: float, duration: float, **kw) -> str | None:
    """Record into the active writer; a no-op (None) when profiling is off."""
    w = active()
    if w is None:
        return None
    try:
        return w.record(kind, name, start, duration, **kw)
    except Exception:  # noqa: BLE001 - profiling must never break the code under test
        log.warning("crossbridge: could not record a %s span", kind, exc_info=True)
        return None


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
