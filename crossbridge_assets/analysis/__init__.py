"""The analyses: pandas in, pandas out. What they share: their frames as rows of plain values,
the form the database drivers, JSON and the markdown tables of the UI take, and how a test is
named to a reader."""

import numpy as np
import pandas as pd


def plain(value):
    """A value out of a frame as plain Python: None when missing (None, NaN, NaT), datetime for a
    Timestamp, int/float/bool for numpy scalars; strings, lists and dicts as they are, and an
    infinite float stays infinite (a ratio to a zero baseline)."""
    if value is None or isinstance(value, (str, list, dict, tuple)):
        return value
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def records(frame: pd.DataFrame, **columns) -> list[dict]:
    """A frame as rows (dicts) of plain values, each with `columns` added (the same for every row,
    e.g. the computed_at of a recomputed table)."""
    return [{**{k: plain(v) for k, v in row.items()}, **columns} for row in frame.to_dict("records")]


def display_name(suite: str | None, name: str, parameters: str | None = None) -> str:
    """A test as a reader names it: suite::name[parameters]. Missing parts (None, or NaN out of
    a frame) are left out."""
    parameters = parameters if isinstance(parameters, str) else ""
    return f"{suite}::{name}{parameters}" if isinstance(suite, str) and suite else f"{name}{parameters}"
