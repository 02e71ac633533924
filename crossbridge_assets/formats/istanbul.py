"""Istanbul's coverage-final.json (nyc, c8 --reporter=json, Jest, Vitest, karma-coverage):
an object keyed by file path, each value holding statementMap/s, branchMap/b and fnMap/f.

Counting (shared/corpus/README.md): lines are the distinct start lines of statementMap
entries, covered if any statement starting there ran (a line's hits are the largest count,
as istanbul's own line view does); branches are every entry of every b[] array, covered if
> 0, filed under the branch's line; where istanbul instrumented the file, the branches not
taken are named '<branch id>.<index>' (FileCoverage.branch_missing) so that shards add up
branch by branch. The file is streamed one source file at a time.

An entry carrying `inputSourceMap` (nyc's .nyc_output files of transpiled code, written by
babel-plugin-istanbul given an input map) holds the transpiled file's positions: it is mapped
back to its original files through that map, as every istanbul reporter does before
counting, and those files are handed out once every entry has been read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossbridge_assets.formats import FormatError, FormatSpec, Sniff
from crossbridge_assets.formats._common import json_object_items, to_int
from crossbridge_assets.formats._coverage import FileTable, clamp_hits, json_head_keys
from crossbridge_assets.formats._sourcemap import MappedFile, SourceMap, SourceMapError, remap_file
from crossbridge_assets.model import KIND_COVERAGE, CoverageStream, FileCoverage, ReportInfo

FORMAT = "istanbul-final"
_MAPS = frozenset({"statementMap", "fnMap", "branchMap"})
_FILE_KEYS = _MAPS | {"path", "s", "f", "b"}
# The branch types istanbul's instrumenter (istanbul 0.x, istanbul-lib-instrument) writes.
_INSTRUMENTED_BRANCH_TYPES = frozenset({"if", "cond-expr", "binary-expr", "switch", "default-arg"})


def _file_entry(keys: frozenset[str]) -> bool:
    # nyc, c8 and Jest write path, statementMap, fnMap, branchMap, s, f, b; istanbul 0.x wrote
    # path, s, b, f, fnMap, statementMap, branchMap. A map can outgrow the detection head, so
    # the keys before it decide: a map and one more of these, names no other format uses.
    return bool(keys & _MAPS) and len(keys & _FILE_KEYS) >= 2


def _matches(s: Sniff) -> bool:
    if s.json_type != "object":
        return False
    keys = json_head_keys(s.head)
    # {"<path>": {"path": ..., "statementMap": ..., "s": ...}} (or wrapped in "data", old nyc)
    return _file_entry(keys[1]) or ("data" in keys[1] and _file_entry(keys[2]))


def _start_line(loc: object) -> int | None:
    if isinstance(loc, dict):
        start = loc.get("start")
        if isinstance(start, dict):
            return to_int(start.get("line"))
    return None


def _unwrapped(obj: dict) -> dict:
    # Old nyc wrote each file's coverage inside "data".
    return obj["data"] if isinstance(obj.get("data"), dict) and "statementMap" not in obj else obj


def _hits(value: object) -> int:
    return clamp_hits(to_int(value))


def _file(key: str, obj: dict, table: FileTable, path: Path) -> FileCoverage:
    statements, counts = obj.get("statementMap"), obj.get("s")
    if not isinstance(statements, dict) or not isinstance(counts, dict):
        raise FormatError(path, f"entry {key[:200]!r} has no statementMap/s: not Istanbul coverage")
    raw = obj.get("path") if isinstance(obj.get("path"), str) and obj.get("path") else key
    fc = table.get(raw)
    for sid, loc in statements.items():
        line = _start_line(loc)
        if line is not None and line > 0:
            table.line(fc, line, _hits(counts.get(sid)))

    branch_map, branch_counts = obj.get("branchMap") or {}, obj.get("b") or {}
    if isinstance(branch_map, dict) and isinstance(branch_counts, dict):
        # Istanbul's instrumenter numbers a file's branches from its code alone, whatever ran:
        # shards of one run name the same branch alike, so one taking `if` and another `else`
        # add up to both. V8 coverage (c8, the v8 providers: type 'branch') numbers the blocks
        # V8 reported in that run, and is left to counts.
        named = all(
            isinstance(m, dict) and isinstance(m.get("type"), str) and m["type"] in _INSTRUMENTED_BRANCH_TYPES
            for m in branch_map.values()
        )
        missing: dict[int, set[str]] = {}
        for bid, hits in branch_counts.items():
            if not isinstance(hits, list):
                continue
            meta = branch_map.get(bid) or {}
            line = to_int(meta.get("line")) if isinstance(meta, dict) else None
            if line is None and isinstance(meta, dict):
                line = _start_line(meta.get("loc"))
                if line is None and isinstance(meta.get("locations"), list) and meta["locations"]:
                    line = _start_line(meta["locations"][0])
            if line is None:
                continue
            covered = sum(1 for h in hits if (to_int(h) or 0) > 0)
            old = fc.branches.get(line, (0, 0))
            fc.branches[line] = (old[0] + covered, old[1] + len(hits))
            missing.setdefault(line, set()).update(f"{bid}.{i}" for i, h in enumerate(hits) if not (to_int(h) or 0) > 0)
        if named:
            fc.branch_missing.update((line, frozenset(ids)) for line, ids in missing.items() if ids)

    fn_map, fn_counts = obj.get("fnMap") or {}, obj.get("f") or {}
    if isinstance(fn_map, dict) and isinstance(fn_counts, dict):
        for fid, meta in fn_map.items():
            if not isinstance(meta, dict):
                continue
            line = to_int(meta.get("line")) or _start_line(meta.get("decl")) or _start_line(meta.get("loc"))
            # Each fnMap entry is a function of its own, as istanbul counts them, even where two
            # share a name and a line (`[function cb() {}, function cb() {}]`).
            fc.functions.append((str(meta.get("name") or f"(fn {fid})"), line, clamp_hits(to_int(fn_counts.get(fid)))))
    return fc


def _location(span: tuple) -> dict:
    (start_line, start_column), (end_line, end_column) = span
    return {"start": {"line": start_line, "column": start_column}, "end": {"line": end_line, "column": end_column}}


def _mapped_entry(original: str, mf: MappedFile) -> dict:
    """A MappedFile as the istanbul entry istanbul-lib-source-maps makes of it."""
    return {
        "path": original,
        "statementMap": {str(i): _location(span) for i, span in enumerate(mf.statements)},
        "s": {str(i): hits for i, hits in enumerate(mf.statements.values())},
        "fnMap": {str(i): {"name": name, "decl": _location(decl)}
                  for i, (decl, (name, _)) in enumerate(mf.functions.items())},
        "f": {str(i): hits for i, (_, hits) in enumerate(mf.functions.values())},
        "branchMap": {str(i): {"loc": _location(loc), "type": kind, "locations": [_location(x) for x in locs]}
                      for i, (locs, (loc, _, kind)) in enumerate(mf.branches.items())},
        "b": {str(i): hits for i, (_, hits, _) in enumerate(mf.branches.values())},
    }


def _files(path: Path, info: ReportInfo) -> Iterator[FileCoverage]:
    table = FileTable()
    mapped: dict[str, MappedFile] = {}
    for key, obj in json_object_items(path):
        if not isinstance(obj, dict):
            raise FormatError(path, f"entry {key[:200]!r} is not an object: not Istanbul coverage")
        obj = _unwrapped(obj)
        if obj.get("inputSourceMap") is not None and isinstance(obj.get("statementMap"), dict):
            generated = obj.get("path") if isinstance(obj.get("path"), str) and obj.get("path") else key
            try:
                smap = SourceMap(obj["inputSourceMap"])
            except SourceMapError as exc:
                info.warnings.append(f"entry {key[:200]!r}: its inputSourceMap cannot be read ({exc}); counted as the transpiled file")
            else:
                # Nothing mapped: istanbul leaves the file out of its reports.
                remap_file(obj, smap, generated, mapped, _hits)
                continue
        fc = _file(key, obj, table, path)
        # Each key is a distinct file: hand it out now and keep memory flat.
        yield table.files.pop(fc.path)
    # Several transpiled files can map into one original: each original is handed out once.
    for original, mf in mapped.items():
        fc = _file(original, _mapped_entry(original, mf), table, path)
        yield table.files.pop(fc.path)


def open_istanbul(path: Path) -> CoverageStream:
    info = ReportInfo(format=FORMAT, kind=KIND_COVERAGE, framework="istanbul")
    return CoverageStream(info, _files(Path(path), info))


SPEC = FormatSpec(
    name=FORMAT,
    kind=KIND_COVERAGE,
    description="Istanbul coverage-final.json (nyc, c8, Jest, Vitest, karma)",
    matches=_matches,
    open=open_istanbul,
)
