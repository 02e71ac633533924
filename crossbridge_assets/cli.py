"""The `crossbridge` command: what a developer asks from a terminal."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

from crossbridge_assets import settings as settings_mod

EXIT_OK, EXIT_FAIL, EXIT_UNREADABLE = 0, 1, 2


def _err(message: str) -> None:
    print(f"crossbridge: {message}", file=sys.stderr)


def _settings() -> settings_mod.Settings:
    try:
        return settings_mod.load()
    except settings_mod.SettingsError as exc:
        _err(f"configuration error: {exc}")
        raise SystemExit(EXIT_UNREADABLE) from None


# ------------------------------------------------------------------ parse


def cmd_parse(args) -> int:
    from crossbridge_assets.formats import FormatError, detect
    from crossbridge_assets.model import ChangeStream, CoverageStream, ResultStream
    from crossbridge_assets.warehouse.run_metadata import file_name_text

    path = Path(args.file)
    shown = file_name_text(str(path))
    with contextlib.ExitStack() as stack:
        source = path
        if path.is_fifo() or (shown != str(path) and path.is_file()):
            # A pipe (`crossbridge parse <(zcat report.xml.gz)`, /dev/stdin) can be read once;
            # detection and parsing each read from the start. A name that is not UTF-8 cannot be
            # handed to the XML parser. Either is spooled to a file first.
            spool = stack.enter_context(tempfile.NamedTemporaryFile(prefix="crossbridge-parse-"))
            with open(path, "rb") as fh:
                shutil.copyfileobj(fh, spool)
            spool.flush()
            source = Path(spool.name)
        try:
            spec = detect(source)
            stream = spec.open(source)
            count = 0
            for _ in stream:  # stream: a big report is never held in memory
                count += 1
        except FormatError as exc:
            _err(f"{shown if source != path else exc.path}: {exc.reason}")
            return EXIT_UNREADABLE
        except Exception as exc:  # noqa: BLE001 - a parser bug still gets one clear line
            _err(f"{shown}: could not be parsed: {type(exc).__name__}: {exc}")
            return EXIT_UNREADABLE
    if isinstance(stream, (ResultStream, ChangeStream)):
        totals = stream.totals.as_dict()
    elif isinstance(stream, CoverageStream):
        totals = stream.effective_totals.as_dict()
    else:
        totals = {"records": count}
    info = stream.info
    # The report's own totals are recorded, never trusted: a disagreement is one of the warnings.
    out = {"path": shown, "kind": spec.kind, "format": spec.name, "totals": totals,
           "declared": dict(info.declared or {}),
           # What the declared totals are checked against where the writer counts otherwise than
           # `totals` do (pytest's tests= counts reports): the file's content counted its way.
           "counted": dict(info.counted or {}), "warnings": list(info.warnings)}
    if args.json:
        print(json.dumps(out))
        return EXIT_OK
    print(f"{shown}\n  kind:   {spec.kind}\n  format: {spec.name}")
    for key, value in totals.items():
        print(f"  {key + ':':<18}{value}")
    if info.declared:
        print("  declared: " + ", ".join(f"{k} {v}" for k, v in info.declared.items()))
    if info.counted:
        print("  counted as declared: " + ", ".join(f"{k} {v}" for k, v in info.counted.items()))
    for warning in info.warnings:
        print(f"  warning: {warning}")
    return EXIT_OK


# ------------------------------------------------------------------ ingest / demo


def _run_and_report(settings, files, instance, partition=None) -> int:
    from crossbridge_assets.defs.ingest import batches_for, run_batches
    from crossbridge_assets.warehouse.engine import make_engine
    from crossbridge_assets.warehouse.queries import batch_report_count, quarantined

    batches = batches_for(settings, files, partition)
    results = run_batches(batches, instance)
    failed = [r for r in results if not r.success]
    engine = make_engine(settings.warehouse_url)
    bad = [q for b in batches for q in quarantined(engine, b.partition, b.run_key)]
    print(f"ingested {len(files)} file(s) in {len(batches)} run(s): {len(results) - len(failed)} succeeded, {len(failed)} failed")
    held = len(files) - batch_report_count(engine, [b.run_key for b in batches])
    if held > 0 and not failed:
        print(f"  {held} file(s) already held: the same bytes for the same run, shard or test; skipped")
    for q in bad:
        print(f"  quarantined {q.original_name}: {q.reason}")
    for r in failed:
        _err(f"run {r.run_id} failed; see the Dagster UI or `dagster run list` for its logs")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_ingest(args) -> int:
    from crossbridge_assets.formats._common import parse_zone
    from crossbridge_assets.defs.coverage.patch import refresh_patch_coverage
    from crossbridge_assets.defs.ingest import stage
    from crossbridge_assets.hooks.events import ci_metadata
    from crossbridge_assets.model import branch_name
    from crossbridge_assets.instance import ensure_dagster_home
    from crossbridge_assets.warehouse.coverage import coverage_runs, refresh_runs
    from crossbridge_assets.warehouse.engine import make_engine

    s = _settings()
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        _err(f"{missing[0]}: no such file or folder")
        return EXIT_UNREADABLE
    # Taken from the inbox, a report would be loaded twice: under this command's run, and by the
    # sensor under its own.
    queued = [p for p in args.paths if Path(p).resolve().is_relative_to(s.inbox.resolve())]
    if queued:
        _err(f"{queued[0]}: is in the inbox, which the inbox sensor ingests by itself; pass reports from elsewhere")
        return EXIT_UNREADABLE
    ensure_dagster_home(s)
    instance = _instance()
    if instance is None:
        return EXIT_UNREADABLE
    if args.timezone is not None and parse_zone(args.timezone) is None:
        _err(f"--timezone {args.timezone!r}: not a time zone; expected a name such as Europe/Berlin, or an offset such as +05:30")
        return EXIT_UNREADABLE
    # Run in a CI job, the run is the job's build, as the hooks name it: the shards of one build
    # ingested by separate jobs join one run, and its profiling events join its results.
    ci = ci_metadata()
    build = (args.build or ci.get("build")
             or "cli-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
    manifest = {
        "project": args.project or ci.get("project") or "default",
        # One name however given (--branch "$GIT_BRANCH" is origin/main on Jenkins), as landing names it.
        "branch": branch_name(args.branch) or ci.get("branch") or "default",
        "commit": args.commit or ci.get("commit"),
        "build": build,
        "shard": args.shard,
        "shards_expected": args.shards_expected,
        "ci_url": args.ci_url or ci.get("ci_url"),
        "timezone": args.timezone,
        "source_prefix": args.source_prefix,
    }
    taken = [key for key in ("project", "branch", "commit", "build", "ci_url")
             if ci.get(key) and not getattr(args, key) and manifest[key] == ci[key]]
    if taken:
        source = ci.get("ci_provider") or "CROSSBRIDGE_* variables"
        print(f"run metadata from {source}: " + ", ".join(f"{key} {manifest[key]}" for key in taken))
    sources = [Path(p) for p in args.paths]
    with tempfile.TemporaryDirectory(prefix="crossbridge-change-") as scratch:
        if args.diff:
            change = _change_to_send(args.diff, Path(scratch))
            if change is False:
                return EXIT_UNREADABLE
            if change is not None:
                sources.append(change)
        try:
            staged = stage(s, sources, manifest)
        except OSError as exc:
            _err(f"{exc.filename or exc}: cannot be read: {exc.strerror or exc}")
            return EXIT_UNREADABLE
    if not staged.files:
        shutil.rmtree(staged.folder, ignore_errors=True)
        _err("nothing to ingest: the given folders hold no files")
        return EXIT_UNREADABLE
    code = _run_and_report(s, staged.files, instance)
    # Per-run coverage as coverage_by_run computes it, so that patch-coverage and summary see
    # this run now rather than after the next automation tick.
    engine = make_engine(s.warehouse_url)
    changed = set(refresh_runs(engine))
    patches = {row["run_id"]: row for row in refresh_patch_coverage(engine)}
    for run in coverage_runs(engine, project=manifest["project"], branch=manifest["branch"]):
        if run["run_id"] in changed | set(patches) and run["build"] == build:  # this ingest's run, not others
            patch = patches.get(run["run_id"])
            print(f"  coverage {run['project']}/{run['branch']} #{run['build'] or run['run_id']}: "
                  f"{_coverage_figures({**run, 'patch_pct': patch['pct'] if patch else None})}")
            if patch and patch["uncovered"] != "[]":
                for gap in json.loads(patch["uncovered"])[:10]:
                    print(f"    changed, not run: {gap['file']}: {gap['lines']}")
    return code


def _change_to_send(compare: str, folder: Path) -> Path | None | bool:
    """The diff of the checkout in the current folder against its merge base with `compare`,
    committed changes only (what the run built), written into `folder` for the run's patch
    coverage; None when the change is empty, False (said on stderr) when git cannot give it."""
    from crossbridge_assets.analysis.patch_coverage import DiffError, git_diffs

    warnings: list[str] = []
    try:
        (text,) = git_diffs(Path.cwd(), compare, working_tree=False, warnings=warnings)
    except DiffError as exc:
        _err(f"--diff {compare}: cannot read the change: {exc}")
        return False
    for warning in warnings:
        _err(f"note: git: {warning}")
    if not text.strip():
        print(f"the change against {compare} is empty: no diff sent")
        return None
    path = folder / "change.diff"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    print(f"change against the merge base of {compare} sent for patch coverage")
    return path


def _instance():
    """The Dagster instance runs are recorded in, or None (said on stderr) when its dagster.yaml
    cannot be loaded, e.g. the production one without DAGSTER_POSTGRES_URL."""
    from crossbridge_assets.defs.ingest import local_instance

    try:
        return local_instance()
    except Exception as exc:  # noqa: BLE001 - whatever the instance's configuration says, in one line
        # Dagster's config errors hold a message with a stack trace per error: their last line says it.
        messages = [str(getattr(e, "message", e)).split("\n\nStack Trace")[0].strip().splitlines()[-1]
                    for e in getattr(exc, "errors", None) or [exc]]
        reason = "; ".join(m.rpartition("PostProcessingError: ")[2] for m in messages)
        _err(f"the Dagster instance in DAGSTER_HOME={os.environ.get('DAGSTER_HOME')} cannot be loaded: {reason}")
        return None


def _coverage_figures(run: dict) -> str:
    """A coverage run in words: line %, branch %, shards seen/expected, complete or waiting."""
    def pct(value) -> str:
        return "-" if value is None else f"{value:.2f}%"

    shards = f"{run['shards_seen']}/{run['shards_expected']}" if run["shards_expected"] else str(run["shards_seen"])
    status = "complete" if run["complete"] else "waiting for shards"
    patch = f", patch {pct(run['patch_pct'])}" if run.get("patch_pct") is not None else ""
    return f"lines {pct(run['line_pct'])}, branches {pct(run['branch_pct'])}{patch}, shards {shards} ({status})"


def cmd_demo(args) -> int:
    from crossbridge_assets import demo
    from crossbridge_assets.defs.ingest import STAGING_PREFIX, refresh_analytics
    from crossbridge_assets.instance import ensure_dagster_home

    s = _settings()
    s.ensure_folders()
    ensure_dagster_home(s)
    if args.no_ingest:
        files = demo.generate(s.inbox, days=args.days, seed=args.seed)
        print(f"wrote {len(files)} demo reports into {s.inbox}; the inbox sensor will pick them up")
        return EXIT_OK
    instance = _instance()
    if instance is None:
        return EXIT_UNREADABLE
    target = s.inbox / f"{STAGING_PREFIX}demo-{uuid.uuid4().hex[:8]}"
    files = demo.generate(target, days=args.days, seed=args.seed)
    print(f"generated {len(files)} demo reports over {args.days} days; ingesting...")
    code = _run_and_report(s, files, instance)
    if code == EXIT_OK:
        failed = [r for r in refresh_analytics(instance) if not r.success]
        print("analytics (coverage by run, trends, baselines, regressions), insights (run comparisons, flaky tests, "
              "failure clusters, test history) and health checks "
              + ("refreshed" if not failed else "failed: see run(s) " + ", ".join(r.run_id for r in failed)))
        code = EXIT_FAIL if failed else EXIT_OK
    return code


# ------------------------------------------------------------------ summary


def cmd_summary(args) -> int:
    from crossbridge_assets.warehouse.engine import make_engine, migrate
    from crossbridge_assets.warehouse.queries import run_summaries

    s = _settings()
    engine = make_engine(s.warehouse_url)
    migrate(engine)
    runs = run_summaries(engine, per_branch=args.limit, project=args.project)
    compared = _comparisons(engine, runs)
    for r in runs:  # None: the run sent no test results
        r["comparison"] = compared.get(r["run_id"])
    if args.json:
        print(json.dumps(runs, default=str))
        return EXIT_OK
    if not runs:
        others = sorted({r["project"] for r in run_summaries(engine, per_branch=1)}) if args.project else []
        if others:  # a misspelt project, not an empty warehouse
            print(f"no runs of project {args.project}; the warehouse has runs of: {', '.join(others)}")
        else:
            print("no runs yet: drop reports into the inbox, or try `crossbridge demo`")
        return EXIT_OK

    run_header = f"{'project':<20} {'branch':<22} {'build':<10} {'started':<17}"

    def run_columns(r: dict) -> str:
        started = (r["started_at"] or r["created_at"] or "")[:16].replace("T", " ")
        return f"{r['project'][:20]:<20} {r['branch'][:22]:<22} {str(r['build'] or '-')[:10]:<10} {started:<17}"

    tested = [r for r in runs if r["tests"] is not None]
    if tested:
        header = f"{run_header} {'tests':>6} {'pass':>6} {'fail':>5} {'err':>4} {'skip':>5} {'flaky':>5} {'rate':>7}"
        print(header)
        print("-" * len(header))
        for r in tested:
            print(
                f"{run_columns(r)} {r['tests']:>6} {r['passed']:>6} {r['failures']:>5} {r['errors']:>4} {r['skipped']:>5} "
                f"{r['flaky']:>5} {r['pass_rate'] * 100:>6.1f}%"
            )
    covered = [r for r in runs if r["coverage"] is not None]
    if covered:
        if tested:
            print()
        rows = [f"{run_columns(r)} {_coverage_figures(r['coverage'])}" for r in covered]
        print(f"{run_header} coverage")
        print("-" * max(map(len, rows)))
        print("\n".join(rows))
    changed = [line for r in tested for line in _comparison_lines(r)]
    if changed:
        print("\nagainst the previous run of the branch:")
        print("\n".join(changed))
    return EXIT_OK


def _comparisons(engine, runs: list[dict]) -> dict[str, dict]:
    """The listed runs' new failures and fixes against the previous run of their branch."""
    from datetime import date, timedelta

    from crossbridge_assets import ops_settings
    from crossbridge_assets.analysis.compare import by_run, compare_runs, is_default_branch
    from crossbridge_assets.warehouse.insights import result_frame, run_frame

    tested = [r for r in runs if r["tests"] is not None]
    if not tested:
        return {}
    # The previous runs of the oldest listed ones arrived before them: a month back is read.
    oldest = min(str(r["started_at"] or r["created_at"])[:10] for r in tested)
    month = timedelta(days=31)
    since = (max(date.fromisoformat(oldest), date.min + month) - month).isoformat()  # a start in year 1
    frame = result_frame(engine, since=since)
    globs = ops_settings.load().default_branches
    branches = {(r["project"], r["branch"]) for r in tested}
    projects = {project for project, _ in branches}
    if len(frame):
        # The default branches of their projects too: a branch's first run is compared with them.
        kept = frame[["project", "branch"]].apply(tuple, axis=1).isin(branches) | (
            frame["project"].isin(projects) & frame["branch"].map(lambda b: is_default_branch(str(b), globs)))
        frame = frame[kept]
    return by_run(*compare_runs(frame, run_frame(engine, since=since), default_branches=globs))


def _comparison_lines(run: dict) -> list[str]:
    c = run.get("comparison")
    if not c:
        return []
    label = f"  {run['project']}/{run['branch']} #{run['build'] or run['run_id']}"
    if c["state"] != "compared":
        return [f"{label}: first run of the branch, nothing to compare with"] if run["failures"] or run["errors"] else []
    if not c["new_failures"] and not c["fixed"]:
        return []

    def names(tests: list[dict]) -> str:
        shown = ", ".join(t["name"] + (f" [{t['parameters']}]" if t["parameters"] else "") for t in tests[:5])
        return shown + (f" (+{len(tests) - 5} more)" if len(tests) > 5 else "")

    parts = []
    if c["new_failures"]:
        parts.append(f"{len(c['new_failures'])} new failure(s): {names(c['new_failures'])}")
    if c["fixed"]:
        parts.append(f"{len(c['fixed'])} fixed: {names(c['fixed'])}")
    other = c["previous_branch"] if c["previous_branch"] != run["branch"] else None
    against = (f"{other} " if other else "") + f"#{c['previous_build'] or c['previous_run_id']}"
    line = f"{label} vs {against}" + (" (its first run, against the default branch)" if other else "") + ": " + "; ".join(parts)
    if c["same_commit"] and c["new_failures"]:
        line += " (same commit: flaky or environment)"
    return [line]


# ------------------------------------------------------------------ patch coverage


def cmd_patch_coverage(args) -> int:
    """Coverage of the lines a change adds or modifies, from the warehouse or report files."""
    from crossbridge_assets.analysis.patch_coverage import format_report, patch_coverage
    from crossbridge_assets.formats import FormatError, detect
    from crossbridge_assets.formats._coverage import merge_coverage
    from crossbridge_assets.model import KIND_COVERAGE

    if args.coverage:
        from crossbridge_assets.warehouse.coverage import EXECUTED_ONLY

        try:
            specs = [(Path(path), detect(Path(path))) for path in args.coverage]
            for path, spec in specs:
                if spec.kind != KIND_COVERAGE:
                    _err(f"{path}: is a {spec.name} report, not a coverage report")
                    return EXIT_UNREADABLE
            # A data file lists only the lines that ran, so a changed line that never ran would
            # look like no code. Refused beside a full report too: that report already holds
            # the run's hits, and a file only the data file measured would silently not count.
            executed_only = [str(path) for path, spec in specs if spec.name in EXECUTED_ONLY]
            if executed_only:
                _err(
                    f"{', '.join(executed_only)}: a coverage.py data file records only the lines that ran, "
                    "not which lines are code, so changed lines that never ran would count as covered; "
                    "pass the report coverage.py writes from it (coverage xml, coverage json or coverage lcov; "
                    "coverage combine first for several data files)"
                )
                return EXIT_UNREADABLE
            # Given roots replace the configured ones; merge_coverage reads the reports with them.
            roots = args.source_root if args.source_root is not None else _settings().coverage_source_roots
            coverage = merge_coverage((spec.open(path) for path, spec in specs), source_roots=roots)
        except FormatError as exc:
            _err(f"{exc.path}: {exc.reason}")
            return EXIT_UNREADABLE
        source = ", ".join(args.coverage)
    else:
        from crossbridge_assets.analysis.patch_coverage import head_commit
        from crossbridge_assets.warehouse.coverage import choose_run, run_merge
        from crossbridge_assets.warehouse.engine import make_engine, migrate

        engine = make_engine(_settings().warehouse_url)
        migrate(engine)
        # Without --run, the change's own run when the warehouse has it: HEAD of --repo.
        commit = None if args.run else head_commit(args.repo)
        run, notes = choose_run(engine, args.project, args.branch, commit, args.run)
        if run is None and args.run:
            _err(f"no run {args.run} in the warehouse: `crossbridge summary --json` lists the runs (run_id)")
            return EXIT_UNREADABLE
        if run is None:
            _err("no coverage in the warehouse yet: ingest a coverage report, or pass --coverage FILE")
            return EXIT_UNREADABLE
        run_id = run["run_id"]
        for note in notes:
            _err(f"note: {note}")
        coverage = run_merge(engine, run_id).files
        if not coverage:
            _err(f"run {run_id} has no line coverage in the warehouse")
            return EXIT_UNREADABLE
        source = f"run {run_id}"
    # A run named by --run, with no change named: the change that run's CI job sent, when it
    # sent one (no checkout needed); else the checkout's, as always.
    sent = None
    if args.run and not args.coverage and args.diff is None and not args.diff_file:
        from crossbridge_assets.warehouse.changes import run_changes, with_lines

        sent = next(iter(with_lines(engine, list(run_changes(engine, run_id).values()))), None)
    if sent is not None:
        change = (f"the change run {run_id} sent", sent.lines, None)
    else:
        change = _read_change(args)
    if change is None:
        return EXIT_UNREADABLE
    compare, changed, root = change
    base = ""
    if args.coverage and root is not None:
        # The reports' relative names are from the current folder, as diff-cover reads them:
        # run in a project's folder of a monorepo, its report names that project's files.
        try:
            base = Path.cwd().resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            base = ""
        base = "" if base == "." else base
    report = patch_coverage(changed, coverage, compare, root, base)
    if args.json:
        print(json.dumps({**report.as_dict(), "coverage": source}))
    else:
        print(format_report(report, source))
    if args.fail_under is not None and report.below(args.fail_under):
        return EXIT_FAIL
    return EXIT_OK


def _change_arguments(sp) -> None:
    """The options that name a change, read by _read_change."""
    from crossbridge_assets.analysis.patch_coverage import DEFAULT_COMPARE

    what = sp.add_mutually_exclusive_group()
    what.add_argument("--diff", metavar="REV",
                      help=f"compare HEAD (and uncommitted changes) with the merge base of REV (default {DEFAULT_COMPARE}; "
                      "patch-coverage --run ID without --diff or --diff-file: the change that run sent, if it sent one)")
    what.add_argument("--diff-file", metavar="FILE", help="a unified diff (git diff output) instead of running git")
    sp.add_argument("--repo", default=".", help="the git repository (default: the current folder)")
    sp.add_argument("--committed-only", action="store_true", help="leave staged and unstaged changes out")


def _read_change(args) -> tuple[str, dict[str, list[int]], Path | None] | None:
    """(what was compared, the added and modified lines per file, the working tree's top
    folder) of --diff-file, or of git against the merge base of --diff; None (said on stderr)
    when the change cannot be read. The working tree (of --repo) lets report paths be placed
    by the files on disk; for a diff file, only when it holds every file the diff adds lines to
    (the diff is of that checkout)."""
    from crossbridge_assets.analysis.patch_coverage import (
        DEFAULT_COMPARE,
        DiffError,
        changed_lines,
        decode_diff,
        git_diffs,
        repo_root,
    )

    try:
        if args.diff_file:
            text = decode_diff(Path(args.diff_file).read_bytes())
            changed = changed_lines([text])
            if not changed and text.strip():
                # Not a diff (arguments swapped, a text file): read as no change, it would pass
                # any --fail-under at 100%.
                raise DiffError(f"{args.diff_file} holds no git diff (no 'diff --git' line): pass what `git diff` writes")
            root = repo_root(args.repo)
            if root is not None and not all((root / path).is_file() for path, lines in changed.items() if lines):
                root = None
            return args.diff_file, changed, root
        warnings: list[str] = []
        compare = args.diff or DEFAULT_COMPARE
        diffs = git_diffs(Path(args.repo), compare, working_tree=not args.committed_only, warnings=warnings)
        for warning in warnings:  # a diff with renames left undetected is still the diff, but say so
            _err(f"note: git: {warning}")
        return f"{compare}...HEAD", changed_lines(diffs), repo_root(args.repo)
    except (DiffError, OSError) as exc:
        _err(f"cannot read the change: {exc}")
        return None


def _read_touched(args) -> tuple[str, dict[str, list[int]], Path | None, dict[str, str | None]] | None:
    """As _read_change, for a per-test map: the lines of the code before the change that it
    touches, by the files' names before it (touched_lines), read from one diff against the
    merge base of --diff, or from --diff-file; and the files the change renames or deletes."""
    from crossbridge_assets.analysis.patch_coverage import (
        DEFAULT_COMPARE,
        DiffError,
        decode_diff,
        git_change,
        moved_files,
        repo_root,
        touched_lines,
    )

    try:
        if args.diff_file:
            text = decode_diff(Path(args.diff_file).read_bytes())
            touched = touched_lines(text)
            if not touched and text.strip():
                raise DiffError(f"{args.diff_file} holds no git diff (no 'diff --git' line): pass what `git diff` writes")
            root = repo_root(args.repo)
            if root is not None and not all((root / path).is_file() for path, lines in touched.items() if lines):
                root = None  # not a diff of this checkout, or of files it has since renamed or removed
            return args.diff_file, touched, root, moved_files(text)
        warnings: list[str] = []
        compare = args.diff or DEFAULT_COMPARE
        text = git_change(Path(args.repo), compare, working_tree=not args.committed_only, warnings=warnings)
        for warning in warnings:
            _err(f"note: git: {warning}")
        return f"{compare}...HEAD", touched_lines(text), repo_root(args.repo), moved_files(text)
    except (DiffError, OSError) as exc:
        _err(f"cannot read the change: {exc}")
        return None


_PER_TEST_SOURCES = ("ingest a coverage.py data file recorded with dynamic contexts (pytest --cov "
                     "--cov-context=test), or per-test reports named in a manifest")


def cmd_covering(args) -> int:
    """The tests whose recorded coverage ran one line of a file."""
    from crossbridge_assets.analysis.patch_coverage import match_files, repo_root
    from crossbridge_assets.formats._paths import is_absolute, normalize_source_path
    from crossbridge_assets.warehouse.coverage import covering_tests, latest_map_run, map_files_named, run_merge
    from crossbridge_assets.warehouse.engine import make_engine, migrate

    path, sep, line_text = args.location.rpartition(":")
    if not sep or not path or not line_text.isdigit() or int(line_text) < 1:
        _err(f"{args.location}: give a file and a line, as in src/shop/prices.py:12")
        return EXIT_UNREADABLE
    line = int(line_text)
    root = repo_root(".")
    if root is not None and is_absolute(normalize_source_path(path)):
        try:  # a file of this checkout, named from its top as the maps and diffs name files
            path = Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    path = normalize_source_path(path)
    engine = make_engine(_settings().warehouse_url)
    migrate(engine)
    # The newest run whose map has the file, however the map spells it (from the repository,
    # from a source folder, or absolute): matched as patch-coverage matches a changed file.
    candidates = map_files_named(engine, path.rsplit("/", 1)[-1], args.project, args.branch, args.run)
    found = ambiguous = None
    for run_id, names in candidates:
        match = match_files([path], names, root)[path]
        if match.name is not None:
            found = run_id, match.name
            break
        ambiguous = ambiguous or match.ambiguous
    if found is None and not ambiguous:
        # No map has the file: no test ran it, if the newest run with a map measured it at all.
        mapped = latest_map_run(engine, args.project, args.branch, run_id=args.run)
        if mapped is not None:
            measured = run_merge(engine, mapped, include_executed_only=True).files
            name = match_files([path], measured, root)[path].name
            if name is None:
                _err(f"no per-test coverage of {path} in run {mapped}, the newest with per-test coverage, and no "
                     "coverage of it at all: the run did not measure such a file (named from the repository's top?)")
                return EXIT_FAIL
            found = mapped, name
    if found is None:
        where = f"run {args.run}" if args.run else "the warehouse"
        detail = f"; it could be any of {', '.join(ambiguous)}" if ambiguous else ""
        _err(f"no per-test coverage of {path} in {where}{detail}: {_PER_TEST_SOURCES}")
        return EXIT_FAIL
    run_id, name = found
    tests = covering_tests(engine, name, line, run_id)
    if args.json:
        print(json.dumps({"run": run_id, "file": name, "line": line, "tests": tests}))
        return EXIT_OK
    print(f"{name}:{line} in run {run_id}: {len(tests)} test(s) ran it")
    for t in tests:
        contexts = [c for c in t["contexts"] if c != t["test"]]
        print(f"  {t['test']}" + (f"  ({', '.join(contexts)})" if contexts else ""))
    return EXIT_OK


def cmd_impact(args) -> int:
    """The tests whose recorded coverage ran a line the change touches."""
    from crossbridge_assets.analysis.impact import format_impact, impact
    from crossbridge_assets.warehouse.coverage import latest_map_run, map_projects, run_merge, run_test_map
    from crossbridge_assets.warehouse.engine import make_engine, migrate

    engine = make_engine(_settings().warehouse_url)
    migrate(engine)
    run_id = args.run or latest_map_run(engine, args.project, args.branch)
    if run_id is None:
        _err(f"no per-test coverage in the warehouse yet: {_PER_TEST_SOURCES}")
        return EXIT_UNREADABLE
    # The map numbers the lines of the code its run measured, before the change: the change
    # is read on that side (a deleted line, a line moved down by lines added above it, a
    # renamed file's old name).
    change = _read_touched(args)
    if change is None:
        return EXIT_UNREADABLE
    compare, changed, root, moved = change
    projects = [] if args.run or args.project else map_projects(engine, args.branch)
    if len(projects) > 1:
        # Another project's tests would be selected for this change: the change tells which
        # project's map to use when only one has its files; otherwise --project must.
        project = _project_of_change(engine, projects, args.branch, changed, root)
        if project is None:
            return EXIT_UNREADABLE
        run_id = latest_map_run(engine, project, args.branch)
    test_map = run_test_map(engine, run_id)
    if not test_map:
        _err(f"run {run_id} has no per-test coverage in the warehouse")
        return EXIT_UNREADABLE
    # Which changed lines are code: known only from a report that lists every statement, which
    # run_merge takes (it leaves out data files, which hold only what ran).
    code = {path: set(fc.lines) for path, fc in run_merge(engine, run_id).files.items()} or None
    result = impact(changed, test_map, code, compare, root, moved)
    if args.tests_only:
        print("\n".join(sorted(result.tests)))
    elif args.json:
        print(json.dumps({**result.as_dict(), "run": run_id}))
    else:
        print(format_impact(result, f"run {run_id}"))
    return EXIT_OK


def _project_of_change(engine, projects: list[str], branch: str | None, changed, root) -> str | None:
    """The one project whose newest per-test map names a file of the change (said on stderr,
    as patch-coverage says which project it used), or None, said with the candidates."""
    from crossbridge_assets.analysis.patch_coverage import match_files
    from crossbridge_assets.warehouse.coverage import latest_map_run, map_paths

    having = [p for p in projects
              if any(m.name for m in match_files(changed, map_paths(engine, latest_map_run(engine, p, branch)),
                                                 root).values())]
    if len(having) == 1:
        _err(f"note: the warehouse holds per-test coverage of {len(projects)} projects: using {having[0]}, "
             "whose map has the changed files (--project chooses)")
        return having[0]
    which = "several of them" if having else "none of them"
    _err(f"the warehouse holds per-test coverage of {len(projects)} projects ({', '.join(having or projects)}) "
         f"and the change's files are in the maps of {which}: choose one with --project (or --run)")
    return None


# ------------------------------------------------------------------ history

_LETTER = {"passed": "P", "failed": "F", "error": "E", "skipped": "S"}
HISTORY_SHOWN = 20  # histories printed before "narrow the pattern"


def cmd_history(args) -> int:
    """Each matching test's recent life on each project and branch, computed now from the results."""
    from crossbridge_assets.analysis import records
    from crossbridge_assets.analysis import display_name
    from crossbridge_assets.analysis.history import histories, matches, recent_runs
    from crossbridge_assets.defs.insights.common import WINDOW_DAYS, window_start
    from crossbridge_assets.warehouse.engine import make_engine, migrate
    from crossbridge_assets.warehouse.insights import known_tests, result_frame, run_frame

    engine = make_engine(_settings().warehouse_url)
    migrate(engine)
    known = known_tests(engine)
    wanted = [t.test_id for t in known.itertuples() if matches(args.test, t.test_id, t.suite, t.name, t.parameters)]
    if not wanted:
        _err(f"no test matches {args.test!r}: give part of its name (case does not matter), suite::name, "
             "a pattern with * or ?, or its test id")
        return EXIT_FAIL
    since = window_start()
    # Only the matching tests' rows are read: a long IN list would cost more than it saves.
    results = result_frame(engine, since=since, test_ids=wanted if len(wanted) <= 500 else None)
    results = results[results["test_id"].isin(wanted)]
    where = results
    for column in ("project", "branch"):
        value = getattr(args, column)
        if value is not None and len(where):
            chosen = where[where[column] == value]
            if chosen.empty:
                _err(f"no results of {len(wanted)} test(s) matching {args.test!r} on {column} {value} in the last "
                     f"{WINDOW_DAYS} days; they ran on {column} {', '.join(sorted(set(where[column])))}")
                return EXIT_FAIL
            where = chosen
    if where.empty:
        _err(f"{len(wanted)} test(s) match {args.test!r} but none ran in the last {WINDOW_DAYS} days "
             "(their results are older, or were removed by retention)")
        return EXIT_FAIL
    runs = run_frame(engine, since=since)
    table = histories(where, runs)
    table = table.assign(test=[display_name(s, n, p) for s, n, p in zip(table["suite"], table["name"], table["parameters"])])
    table = table.sort_values(["test", "project", "branch"], kind="stable").reset_index(drop=True)

    latest = recent_runs(where, limit=args.runs)

    def recent(row) -> list[dict]:
        return records(latest[(row["test_id"], row["project"], row["branch"])])

    if args.json:
        print(json.dumps([{**row, "recent_runs": recent(row)} for row in records(table)],
                         default=lambda value: value.isoformat()))
        return EXIT_OK

    def seconds(value) -> str:
        return "-" if value is None else f"{value:.3f}s"

    def when(value) -> str:
        return "" if value is None else value.strftime("%Y-%m-%d %H:%M")

    def state(r: dict) -> str:
        since_run = f"build {r['streak_since_build'] or r['streak_since_run_id']} ({when(r['streak_since_at'])})"
        at_least = "at least " if r["streak_from_window_start"] else ""
        if r["removed"]:
            renamed = f"; probably renamed to {r['renamed_to']}" if r["renamed_to"] else ""
            return (f"GONE: not in the last {r['missing_runs']} runs of the branch; last ran in build {r['last_build']} "
                    f"({when(r['last_run_at'])}){renamed}")
        if r["broken"]:
            passed = f"; last passed in build {r['last_passed_build']}" if r["last_passed_build"] else "; never passed in the window"
            return f"BROKEN: failing for {at_least}{r['streak_runs']} run(s) since {since_run}{passed}"
        if r["streak_status"] == "failing":
            return f"failing in its latest run, build {r['last_build']} ({when(r['last_run_at'])}); passed before"
        if r["streak_status"] == "skipped":
            return f"skipped for {at_least}{r['streak_runs']} run(s) since {since_run}"
        return f"passing for {at_least}{r['streak_runs']} run(s) since {since_run}"

    current = None
    for r in records(table.head(HISTORY_SHOWN)):
        if r["test"] != current:
            current = r["test"]
            print(f"{'' if current == table['test'].iloc[0] else chr(10)}{current}  ({r['framework']})")
        print(f"  {r['project']} / {r['branch']}: {state(r)}")
        rate = "-" if r["pass_rate"] is None else f"{r['pass_rate'] * 100:.1f}%"
        retried = f" ({r['passed_on_retry']} on a retry)" if r["passed_on_retry"] else ""
        print(f"    {r['runs']} runs in {WINDOW_DAYS} days: {r['passed']} passed{retried}, {r['failed']} failed, "
              f"{r['errors']} errors, {r['skipped']} skipped; pass rate {rate}")
        print(f"    duration: median {seconds(r['duration_median'])}, p95 {seconds(r['duration_p95'])}, "
              f"latest {seconds(r['duration_last'])}" + (f"; SLOWER: {r['slower_evidence']}" if r["slower"] else ""))
        if r["last_failed_build"]:
            message = " ".join(str(r["last_failure_message"] or "").split())[:200]
            print(f"    last failure: build {r['last_failed_build']} ({when(r['last_failed_at'])}): {message}")
        steps = " ".join(f"{run['build'] or run['run_id']}:{_LETTER.get(run['status'], '?')}" for run in recent(r))
        print(f"    latest runs, oldest first: {steps}")
    if len(table) > HISTORY_SHOWN:
        print(f"\n{len(table) - HISTORY_SHOWN} more test histories match {args.test!r}: narrow the pattern, "
              "add --project/--branch, or use --json for all")
    return EXIT_OK


# ------------------------------------------------------------------ doctor


def cmd_doctor(args) -> int:
    """The health checks from a terminal; exit 1 when one fails."""
    from crossbridge_assets import ops_settings
    from crossbridge_assets.doctor import diagnose

    s = _settings()
    try:
        ops = ops_settings.load()
    except settings_mod.SettingsError as exc:
        _err(f"configuration error: {exc}")
        return EXIT_UNREADABLE
    findings = diagnose(s, ops)
    healthy = all(f.passed for f in findings)
    if args.json:
        print(json.dumps({"healthy": healthy, "checks": [f.to_json() for f in findings]}, default=str))
        return EXIT_OK if healthy else EXIT_FAIL
    width = max(len(f.check) for f in findings)
    print(f"{'check':<{width}}  {'status':<6}  {'severity':<8}  summary")
    print("-" * (width + 28 + 40))
    for f in findings:
        print(f"{f.check:<{width}}  {'ok' if f.passed else 'FAIL':<6}  {f.severity:<8}  {f.summary}")
    for f in findings:
        if not f.passed and f.what_to_do:
            print(f"\n{f.check}: {f.what_to_do}")
            for row in f.rows[:5]:
                print("  - " + ", ".join(f"{k}={str(v)[:120]}" for k, v in row.items() if v is not None))
    failed = sum(not f.passed for f in findings)
    print(f"\n{'healthy' if healthy else f'unhealthy: {failed} check(s) failed'}")
    return EXIT_OK if healthy else EXIT_FAIL


# ------------------------------------------------------------------ dev


def cmd_dev(args) -> int:
    """Start the UI on the embedded default, seeding demo data into an empty warehouse."""
    from crossbridge_assets.instance import ensure_dagster_home
    from crossbridge_assets.warehouse.engine import make_engine, migrate
    from crossbridge_assets.warehouse.queries import report_counts

    s = _settings()
    s.ensure_folders()
    ensure_dagster_home(s)
    engine = make_engine(s.warehouse_url)
    migrate(engine)
    if not args.no_demo and not report_counts(engine):
        code = cmd_demo(argparse.Namespace(days=14, seed=7, no_ingest=False))
        if code != EXIT_OK:
            return code
    engine.dispose()
    # The dagster beside this interpreter: `.venv/bin/crossbridge dev` works without activating
    # the environment, whatever other dagster is on PATH.
    sibling = Path(sys.executable).with_name("dagster")
    dagster = str(sibling) if sibling.exists() else "dagster"
    command = [dagster, "dev", "-h", args.host, "-p", str(args.port), "-m", "crossbridge_assets.definitions"]
    print(f"starting the Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})", flush=True)
    os.execvp(command[0], command)
    return EXIT_OK  # pragma: no cover - exec does not return


# ------------------------------------------------------------------ main


def _source_prefix(text: str) -> str:
    from crossbridge_assets.formats._paths import check_source_prefix

    try:
        return check_source_prefix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _source_root(text: str) -> str:
    """--source-root DIR, checked like the variable it stands in for."""
    try:
        roots = settings_mod.parse_source_roots([text], "--source-root")
    except settings_mod.SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not roots:
        raise argparse.ArgumentTypeError("--source-root needs a folder")
    return roots[0]


def _positive_int(text: str) -> int:
    """A count given on the command line (shards, runs, days): a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crossbridge", description="CrossBridge Assets: test intelligence from the terminal.")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("parse", help="show what CrossBridge sees in one report, without ingesting it")
    sp.add_argument("file")
    sp.add_argument("--json", action="store_true", help="one JSON object: path, kind, format, totals")
    sp.set_defaults(func=cmd_parse)

    sp = sub.add_parser("ingest", help="copy reports into the inbox and ingest them now")
    sp.add_argument("paths", nargs="+", metavar="PATH", help="report files or folders")
    # In a CI job, what the flags leave out is taken from its variables, as the hooks take it.
    sp.add_argument("--project", help="default: the CI's repository or CROSSBRIDGE_PROJECT, else 'default'")
    sp.add_argument("--branch", help="default: the CI's branch or CROSSBRIDGE_BRANCH, else 'default'")
    sp.add_argument("--commit", help="default: the CI's commit or CROSSBRIDGE_COMMIT")
    sp.add_argument("--build", help="default: the CI's build (GitHub: run id.attempt) or CROSSBRIDGE_BUILD, "
                    "else a new one for this command")
    sp.add_argument("--shard")
    sp.add_argument("--shards-expected", type=_positive_int)
    sp.add_argument("--ci-url", help="default: the CI's link to the build")
    sp.add_argument("--timezone", help="zone of the times the reports write without one (Robot output.xml, coverage.py "
                    "JSON, pytest < 8.3 JUnit are local time), e.g. Asia/Tokyo; read as UTC without it")
    sp.add_argument("--diff", metavar="REV",
                    help="also send the change of the checkout in the current folder against its merge base with REV "
                    "(e.g. origin/main), for the run's patch coverage (committed changes; needs the history back to "
                    "the merge base: a fetch depth of 0 in CI)")
    sp.add_argument("--source-prefix", type=_source_prefix, metavar="DIR",
                    help="the repository folder the reports' relative source paths are relative to: a monorepo "
                    "package whose tools ran in it (Jest's LCOV names src/x.js for packages/web/src/x.js)")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("summary", help="recent runs per project and branch: test results and coverage")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--project")
    sp.add_argument("--limit", type=_positive_int, default=5, help="runs per project and branch (default 5)")
    sp.set_defaults(func=cmd_summary)

    sp = sub.add_parser("demo", help="write two weeks of realistic demo history and ingest it")
    sp.add_argument("--days", type=_positive_int, default=14)
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--no-ingest", action="store_true", help="only drop the files into the inbox for the sensor")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("patch-coverage", help="coverage of the lines a change adds or modifies (diff-cover's rules)")
    _change_arguments(sp)
    sp.add_argument("--coverage", action="append", metavar="FILE",
                    help="coverage report(s) to use instead of the warehouse, several merged: reports that "
                    "list every statement (coverage.xml/json, LCOV, Cobertura, JaCoCo); a coverage.py data "
                    "file is refused (run `coverage xml` first)")
    sp.add_argument("--source-root", action="append", type=_source_root, metavar="DIR",
                    help="with --coverage: a checkout folder to strip from the reports' paths ('*' for any part "
                    "of one folder name); repeatable; default CROSSBRIDGE_COVERAGE_SOURCE_ROOTS")
    sp.add_argument("--run", metavar="ID", help="warehouse run to use (default: the latest with coverage)")
    sp.add_argument("--project", help="with the warehouse: latest run of this project")
    sp.add_argument("--branch", help="with the warehouse: latest run of this branch")
    sp.add_argument("--fail-under", type=float, metavar="PCT", help="exit 1 when patch coverage is below PCT")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_patch_coverage)

    sp = sub.add_parser("impact", help="the tests to run for a change: those whose recorded coverage ran a changed line")
    _change_arguments(sp)
    sp.add_argument("--run", metavar="ID", help="warehouse run whose per-test map to use (default: the latest)")
    sp.add_argument("--project", help="the latest run of this project")
    sp.add_argument("--branch", help="the latest run of this branch")
    out = sp.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--tests-only", action="store_true", help="one test per line, nothing else (pytest: save it and run pytest @FILE)")
    sp.set_defaults(func=cmd_impact)

    sp = sub.add_parser("covering", help="the tests whose recorded coverage ran one line: FILE:LINE")
    sp.add_argument("location", metavar="FILE:LINE")
    sp.add_argument("--run", metavar="ID", help="warehouse run whose per-test map to use (default: the latest that has the file)")
    sp.add_argument("--project", help="the latest run of this project")
    sp.add_argument("--branch", help="the latest run of this branch")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_covering)

    sp = sub.add_parser("history", help="a test's recent life on each project and branch: broken since when, "
                        "pass rate, last pass and failure, did it get slower")
    sp.add_argument("test", metavar="TEST", help="part of the test's name, suite::name[params], a pattern with * or ?, or its id")
    sp.add_argument("--project")
    sp.add_argument("--branch")
    sp.add_argument("--runs", type=_positive_int, default=10, help="latest runs listed per test and branch (default 10)")
    sp.add_argument("--json", action="store_true", help="one JSON list: a history per test, project and branch")
    sp.set_defaults(func=cmd_history)

    sp = sub.add_parser("doctor", help="run the health checks now; exit 1 when something is unhealthy")
    sp.add_argument("--json", action="store_true", help="one JSON object: healthy, checks")
    sp.set_defaults(func=cmd_doctor)

    sp = sub.add_parser("dev", help="start the Dagster UI on the embedded default (seeds demo data when empty)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=3000)
    sp.add_argument("--no-demo", action="store_true")
    sp.set_defaults(func=cmd_dev)
    return p


def main(argv: list[str] | None = None) -> int:
    from crossbridge_assets.log import configure

    args = build_parser().parse_args(argv)
    configure(stderr_level="ERROR")
    try:
        return args.func(args)
    except Exception as exc:
        from sqlalchemy import make_url
        from sqlalchemy.exc import DBAPIError  # here: `parse` never loads SQLAlchemy

        if not isinstance(exc, DBAPIError):
            raise
        # The warehouse is down or cannot be opened: say which, in one line, as doctor would.
        url = make_url(settings_mod.load().warehouse_url).render_as_string(hide_password=True)
        _err(f"the warehouse {url} cannot be used: {' '.join(str(exc.orig).split()) or type(exc.orig).__name__}")
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
