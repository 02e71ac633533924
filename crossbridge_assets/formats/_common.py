"""Small value parsers shared by the format modules (numbers and times as real tools write them)."""

from __future__ import annotations

import math
from datetime import datetime, timezone


def to_float(value: object) -> float | None:
    """'1.5', '1,234.5', '0,25' (decimal comma), 1.5 -> float; junk, NaN and inf -> None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        f = float(value)
    else:
        text = str(value).strip()
        if "," in text:
            text = text.replace(",", "") if "." in text else text.replace(",", ".")
        try:
            f = float(text)
        except ValueError:
            return None
    return f if math.isfinite(f) else None


def to_int(value: object) -> int | None:
    f = to_float(value)
    return int(f) if f is not None else None


def parse_timestamp(value: object) -> datetime | None:
    """ISO 8601 in the spellings real reports use, or epoch seconds/milliseconds; naive times are UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python < 3.12 accepts at most 6 fractional digits (.NET writes 7).
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
    try:
        dt = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
