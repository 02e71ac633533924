"""Large JSON reports made from the small ones real tools wrote: the repeated part of a fixture
(Playwright's file suites, mocha's tests, Istanbul's files...) written again and again, each copy
under its own file name, until the file has the size asked for. For memory and speed checks of
the JSON readers (benchmarks/, test_formats_large_json.py); written piece by piece, so a 200 MB
file costs the generator no more memory than a small one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
_SLOT = "\u0000slot{}\u0000"


@dataclass(frozen=True)
class Shape:
    fixture: str  # under fixtures/
    containers: tuple[tuple[str, ...], ...]  # key paths of the repeated arrays/objects
    stem: str  # a file name in every repeated unit; copy i renames it
    format: str  # what open_report detects
    kind: str = "results"
    skip_keys: tuple[str, ...] = ()  # object members not repeated (istanbul-summary's "total")


SHAPES = {
    "playwright-json": Shape("results/js/playwright.json", (("suites",),), "api.spec.js", "playwright-json"),
    "mocha-json": Shape("results/js/mocha-json.json", (("tests",), ("passes",), ("failures",), ("pending",)),
                        "cart.spec.js", "mocha-json"),
    # mocha's own mochawesome: one root suite in results[], the files as its suites.
    "mochawesome": Shape("results/js/mochawesome.json", (("results", 0, "suites"),), "cart.spec.js", "mochawesome"),
    "cucumber-json": Shape("results/js/cucumber.json", ((),), "shop.feature", "cucumber-json"),
    "pytest-json": Shape("results/pytest-json-report.json", (("collectors",), ("tests",)), "sample_tests.py",
                         "pytest-json-report"),
    "ctrf": Shape("results/js/ctrf.json", (("results", "tests"),), "api.spec.js", "ctrf"),
    "istanbul-final": Shape("coverage/js/coverage-final.json", ((),), "lib.js", "istanbul-final", "coverage"),
    "istanbul-summary": Shape("coverage/js/coverage-summary.json", ((),), "lib.js", "istanbul-summary", "coverage",
                              skip_keys=("total",)),
    "coveragepy-json": Shape("coverage/python/coverage.json", (("files",),), "calc/", "coveragepy-json", "coverage"),
}


def _renamed(stem: str, i: int) -> str:
    head, dot, tail = stem.partition(".")
    return f"{head}_{i}{dot}{tail}" if dot else f"{stem.rstrip('/')}_{i}/"


def _units(container, skip_keys) -> list[str]:
    """The JSON text of each unit: an array's items, or an object's members as '"key": value'."""
    if isinstance(container, list):
        return [json.dumps(v) for v in container]
    return [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in container.items() if k not in skip_keys]


def write(name: str, path: Path, size: int | None = None, copies: int | None = None) -> int:
    """Write a report of format `name` of about `size` bytes (or of `copies` copies of the
    fixture's repeated part) to `path`; return the number of copies written."""
    shape = SHAPES[name]
    doc = json.loads((FIXTURES / shape.fixture).read_text(encoding="utf-8"))
    slots = []
    skeleton = doc
    for n, keys in enumerate(shape.containers):
        if not keys:  # the whole document is the repeated container
            kept = {k: v for k, v in doc.items() if k in shape.skip_keys} if isinstance(doc, dict) else {}
            slots.append((_units(doc, shape.skip_keys), kept, isinstance(doc, dict)))
            skeleton = _SLOT.format(n)
            break
        parent = skeleton
        for key in keys[:-1]:
            parent = parent[key]
        slots.append((_units(parent[keys[-1]], shape.skip_keys), {}, isinstance(parent[keys[-1]], dict)))
        parent[keys[-1]] = _SLOT.format(n)
    per_copy = sum(len(u) + 2 for units, _, _ in slots for u in units)
    if copies is None:
        copies = max(1, (size or 0) // per_copy)
    text = json.dumps(skeleton)
    with open(path, "w", encoding="utf-8") as out:
        # In the order the containers come in the document.
        order = sorted(range(len(slots)), key=lambda n: text.index(json.dumps(_SLOT.format(n))))
        for n in order:
            units, kept, is_object = slots[n]
            before, _, text = text.partition(json.dumps(_SLOT.format(n)))
            out.write(before)
            out.write("{" if is_object else "[")
            first = True
            for k, v in kept.items():
                out.write(f"{json.dumps(k)}: {json.dumps(v)}")
                first = False
            for i in range(copies):
                new = _renamed(shape.stem, i)
                for unit in units:
                    if not first:
                        out.write(",\n")
                    out.write(unit.replace(shape.stem, new))
                    first = False
            out.write("}" if is_object else "]")
        out.write(text)
    return copies
