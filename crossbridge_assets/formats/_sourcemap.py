"""Source maps (version 3), read as Mozilla's source-map 0.6 library reads them, and the
remapping of Istanbul file coverage through one as istanbul-lib-source-maps does it.

Istanbul coverage of transpiled code (nyc on tsc output, babel-plugin-istanbul given an input
map) keeps the transpiled file's positions and the map in `inputSourceMap`; every istanbul
reporter maps it back to the original files before counting. Reading such an entry as it
stands names the transpiled file and counts its lines, not the ones the tool prints.
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_left, bisect_right

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_URL = re.compile(r"^[\w+\-.]+:")
_INF = float("inf")


class SourceMapError(ValueError):
    """A source map that cannot be read (source-map would throw on it)."""


def _vlq(segment: str) -> list[int]:
    values, shift, value = [], 0, 0
    for ch in segment:
        digit = _B64.get(ch)
        if digit is None:
            raise SourceMapError(f"invalid base64 digit {ch!r} in the mappings")
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            if shift > 30:
                # Seven digits hold any 32-bit value, all source-map's arithmetic keeps; a longer
                # run would grow one Python int through the whole string (quadratic time).
                raise SourceMapError("a number in the mappings beyond 32 bits")
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift = value = 0
    if shift:
        raise SourceMapError("a mapping ends inside a number")
    return values


def _null_last(value: int | None) -> tuple[int, int]:
    # source-map's strcmp puts null after every value.
    return (1, 0) if value is None else (0, value)


class SourceMap:
    """A basic (unsectioned) source map: original positions of generated ones and back.
    Lines are 1-based, columns 0-based, as in source-map and istanbul."""

    def __init__(self, data: object):
        if not isinstance(data, dict):
            raise SourceMapError("not a source map object")
        if "sections" in data:
            raise SourceMapError("indexed source maps (sections) are not read")
        mappings, sources = data.get("mappings"), data.get("sources")
        if not isinstance(mappings, str) or not isinstance(sources, list):
            raise SourceMapError("no 'mappings' or 'sources'")
        root = data.get("sourceRoot") if isinstance(data.get("sourceRoot"), str) else ""
        self.sources = [_source_url(root, s if isinstance(s, str) else "") for s in sources]
        generated = []
        source = line = column = name = 0
        for gen_line, text in enumerate(mappings.split(";"), 1):
            gen_column = 0
            for segment in text.split(","):
                if not segment:
                    continue
                v = _vlq(segment)
                gen_column += v[0]
                if len(v) == 1:
                    generated.append((gen_line, gen_column, None, None, None, None))
                    continue
                if len(v) < 4:
                    raise SourceMapError("a mapping with a source but no original line and column")
                source += v[1]
                line += v[2]
                column += v[3]
                if len(v) > 4:
                    name += v[4]
                if not 0 <= source < len(self.sources):
                    raise SourceMapError(f"a mapping names source {source} of {len(self.sources)}")
                generated.append((gen_line, gen_column, source, line + 1, column, name if len(v) > 4 else None))
        generated.sort(key=lambda m: (m[0], m[1], _null_last(m[2]), _null_last(m[3]), _null_last(m[4]), _null_last(m[5])))
        self._generated = generated
        self._generated_keys = [(m[0], m[1]) for m in generated]
        original = [m for m in generated if m[3] is not None]
        original.sort(key=lambda m: (m[2], m[3], m[4], m[1], m[0], _null_last(m[5])))
        self._original = original
        self._original_keys = [(m[2], m[3], m[4]) for m in original]

    def original_position(self, line: int, column: float, least_upper: bool = False):
        """(source index, line, column) of a generated position, or None; source-map's
        originalPositionFor with GREATEST_LOWER_BOUND or LEAST_UPPER_BOUND bias."""
        _check(line, column)
        keys = self._generated_keys
        if least_upper:
            i = bisect_left(keys, (line, column))
            if i == len(keys):
                return None
        else:
            i = bisect_right(keys, (line, column)) - 1
            if i < 0:
                return None
            i = bisect_left(keys, keys[i])  # the first of the mappings at that position
        m = self._generated[i]
        if m[0] != line:
            return None
        return (m[2], m[3], m[4])

    def generated_position(self, source: int, line: int, column: float):
        """(line, column) of an original position, LEAST_UPPER_BOUND bias, or None."""
        _check(line, column)
        keys = self._original_keys
        i = bisect_left(keys, (source, line, column))
        if i == len(keys) or self._original[i][2] != source:
            return None
        m = self._original[i]
        return (m[0], m[1])


def _check(line: int, column: float) -> None:
    if line <= 0 or column < 0:  # source-map throws a TypeError
        raise SourceMapError(f"position {line}:{column} out of range")


def _source_url(root: str, source: str) -> str:
    # source-map's computeSourceURL (sourceRoot joined, then normalized).
    if root:
        if not root.endswith("/") and not source.startswith("/"):
            root += "/"
        source = root + source
    if _URL.match(source) or not source:
        return source
    return posixpath.normpath(source)


def _try_both(smap: SourceMap, line: int, column: float):
    found = smap.original_position(line, column)
    if found is None or found[0] is None:
        found = smap.original_position(line, column, least_upper=True)
    return found


def _end_position(smap: SourceMap, line: int, column: float):
    before = _try_both(smap, line, column - 1)
    if before is None or before[0] is None:
        return None
    after = smap.generated_position(before[0], before[1], before[2] + 1)
    if after is None:
        return (before[0], before[1], _INF)
    back = smap.original_position(*after)
    if back is None or back[1] != before[1]:
        return (before[0], before[1], _INF)
    return back


def _position(pos: object) -> tuple[int, int] | None:
    if not isinstance(pos, dict):
        return None
    line, column = pos.get("line"), pos.get("column")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in (line, column)):
        return None
    return line, column


def map_location(smap: SourceMap, loc: object):
    """(source index, ((start line, column), (end line, column))) of a generated istanbul
    location, or None where istanbul-lib-source-maps' getMapping finds none."""
    if not isinstance(loc, dict):
        return None
    start, end = _position(loc.get("start")), _position(loc.get("end"))
    if start is None or end is None:
        return None
    try:
        first = _try_both(smap, *start)
        last = _end_position(smap, *end)
        if first is None or last is None or first[0] is None or last[0] is None or first[0] != last[0]:
            return None
        if first[1] is None or last[1] is None:
            return None
        if first[1:] == last[1:]:
            last = smap.original_position(*end, least_upper=True)
            last = (None, None, -1) if last is None else (last[0], last[1], (last[2] or 0) - 1)
    except SourceMapError:
        return None  # source-map throws here: the whole report fails in node
    return first[0], ((first[1], first[2]), (last[1], last[2]))


def source_path(smap: SourceMap, index: int, generated_path: str) -> str:
    """A mapped source's path: relative ones from the generated file's folder (pathutils.relativeTo).
    Bundler URLs (webpack://...) are kept for path normalization to read."""
    source = smap.sources[index]
    if _URL.match(source) and not re.match(r"^[A-Za-z]:[\\/]", source):
        return source
    if source.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", source):
        return source
    folder = posixpath.dirname(generated_path.replace("\\", "/"))
    return posixpath.normpath(posixpath.join(folder, source)) if folder else source


class MappedFile:
    """Istanbul coverage of one original file put together from mapped locations, as
    istanbul-lib-source-maps' MappedCoverage does: a statement, function or branch mapped to
    the same place twice is one, its hits added up."""

    __slots__ = ("branches", "functions", "statements")

    def __init__(self) -> None:
        self.statements: dict[tuple, int] = {}
        self.functions: dict[tuple, list] = {}  # decl -> [name, hits]
        self.branches: dict[tuple, list] = {}  # locations -> [loc, hits per location, type]


def remap_file(obj: dict, smap: SourceMap, generated_path: str, into: dict[str, MappedFile], hits_of) -> bool:
    """Map one istanbul file coverage object through `smap` into `into` (original path ->
    MappedFile); False when nothing could be mapped (istanbul then drops the file)."""
    changed = False

    def target(index: int) -> MappedFile:
        path = source_path(smap, index, generated_path)
        mf = into.get(path)
        if mf is None:
            mf = into[path] = MappedFile()
        return mf

    counts = obj.get("s") if isinstance(obj.get("s"), dict) else {}
    for sid, loc in (obj.get("statementMap") or {}).items():
        mapped = map_location(smap, loc)
        if mapped is not None:
            changed = True
            mf = target(mapped[0])
            mf.statements[mapped[1]] = mf.statements.get(mapped[1], 0) + hits_of(counts.get(sid))
    fn_map, fn_counts = obj.get("fnMap"), obj.get("f")
    if isinstance(fn_map, dict):
        fn_counts = fn_counts if isinstance(fn_counts, dict) else {}
        for fid, meta in fn_map.items():
            if not isinstance(meta, dict):
                continue
            decl, span = map_location(smap, meta.get("decl")), map_location(smap, meta.get("loc"))
            if decl is not None and span is not None and decl[0] == span[0]:
                changed = True
                mf = target(decl[0])
                entry = mf.functions.setdefault(decl[1], [meta.get("name") or f"(unknown_{len(mf.functions)})", 0])
                entry[1] += hits_of(fn_counts.get(fid))
    branch_map, branch_counts = obj.get("branchMap"), obj.get("b")
    if isinstance(branch_map, dict):
        branch_counts = branch_counts if isinstance(branch_counts, dict) else {}
        for bid, meta in branch_map.items():
            if not isinstance(meta, dict) or not isinstance(meta.get("locations"), list):
                continue
            hits = branch_counts.get(bid)
            hits = hits if isinstance(hits, list) else []
            source, skip, locs, mapped_hits = None, False, [], []
            for i, loc in enumerate(meta["locations"]):
                mapped = map_location(smap, loc)
                if mapped is None:
                    continue
                if source is None:
                    source = mapped[0]
                skip = skip or mapped[0] != source
                locs.append(mapped[1])
                mapped_hits.append(hits_of(hits[i]) if i < len(hits) else 0)
            whole = map_location(smap, meta.get("loc")) if meta.get("loc") else None
            if not skip and locs:
                changed = True
                mf = target(source)
                entry = mf.branches.setdefault(tuple(locs), [whole[1] if whole else locs[0], [0] * len(locs), meta.get("type")])
                entry[1] = [a + b for a, b in zip(entry[1], mapped_hits)]
    return changed
