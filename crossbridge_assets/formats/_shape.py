"""The shape of JSON reports: a value of the wrong JSON type (an array where an object belongs, a
string where a list of steps belongs) is a FormatError that says where and what was expected,
never a TypeError from deep inside a reader.

The checks are isinstance calls on values the readers use anyway. A ShapeError is raised where
the value is used, with its key; each enclosing loop adds its own step on the way out
(`exc.at("specs", i)`), and the reader's entry point turns it into a FormatError with
`exc.reason`: "suites[0].specs[3].tests: expected an array, got a string". A missing key and
null are the same: absent.
"""

from __future__ import annotations


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class ShapeError(Exception):
    def __init__(self, step: str | int | None, expected: str, value: object):
        super().__init__(expected)
        self.steps: list[str | int] = [] if step is None else [step]  # innermost first
        self.expected = expected
        self.got = json_type(value)

    def at(self, *steps: str | int) -> "ShapeError":
        """Add the steps of an enclosing level (outermost first: `at("specs", 3)`)."""
        self.steps.extend(reversed(steps))
        return self

    @property
    def where(self) -> str:
        out = ""
        for step in reversed(self.steps):
            out += f"[{step}]" if isinstance(step, int) else f".{step}" if out else str(step)
        return out or "the top level"

    @property
    def reason(self) -> str:
        return f"{self.where}: expected {self.expected}, got {self.got}"


def obj(value: object, step: str | int | None = None) -> dict:
    """An object (an item of an array, or a required value)."""
    if isinstance(value, dict):
        return value
    raise ShapeError(step, "an object", value)


def opt_obj(value: object, step: str) -> dict:
    """An optional object: absent (or null) is empty."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    raise ShapeError(step, "an object", value)


def array(value: object, step: str) -> list:
    """An optional array: absent (or null) is empty."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    raise ShapeError(step, "an array", value)


def text(value: object, step: str) -> str | None:
    """An optional string. Numbers and booleans are written as text; an object or an array is
    not a string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        raise ShapeError(step, "a string", value)
    return str(value)


def texts(value: object, step: str) -> list:
    """An optional array of strings (tags); numbers pass, as in `text`."""
    items = array(value, step)
    for i, item in enumerate(items):
        if isinstance(item, (dict, list)):
            raise ShapeError(i, "a string", item).at(step)
    return items
