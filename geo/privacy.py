"""Small-count suppression: the one rule that keeps people out of aggregate views.

Personal data (households, five-colour status) reaches the wall and public views only as
aggregates, and an aggregate of fewer than ``k`` households (``WANGGE_SUPPRESS_BELOW``,
default 5, :mod:`geo.settings`) is blanked.  Every view that suppresses calls
:func:`suppress_small`; there is no second implementation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import ConfigError, DataError

__all__ = ["suppress_small"]

#: Numeric columns never blanked by default: they describe the area, not the people in it.
AREA_COLUMNS = ("area_km2", "area_m2")


def suppress_small(
    frame: pd.DataFrame,
    *,
    k: int | None,
    count: str = "households",
    columns: tuple[str, ...] | list[str] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with small aggregates blanked, for views that must not show people.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        One row per area (cell, hexagon, township ...).  Not modified.
    k : int or None
        Rows whose ``count`` is below ``k`` are blanked.  ``None`` or ``k <= 1`` blanks
        nothing (the ``suppressed`` column is still added).
    count : str
        The column holding the number of households (or events) behind each row.
    columns : sequence of str, optional
        Columns blanked with ``count`` (default: every numeric column except
        :data:`AREA_COLUMNS`).

    Returns
    -------
    DataFrame
        Same index and type as ``frame``; ``count`` and ``columns`` as float with NaN where
        blanked; a boolean ``suppressed`` column added.

    Raises
    ------
    ConfigError
        ``k`` is not a non-negative integer or None.
    DataError
        ``frame`` lacks the ``count`` column or one of ``columns``.
    """
    if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0):
        raise ConfigError(f"k must be a non-negative integer or None, got {k!r}")
    if count not in frame.columns:
        raise DataError(f"frame lacks the count column {count!r}")
    if columns is None:
        numeric = frame.select_dtypes("number").columns
        columns = tuple(c for c in numeric if c not in (count, *AREA_COLUMNS))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"frame lacks the column(s) {', '.join(map(repr, missing))} to blank")
    out = frame.copy()
    counts = out[count].to_numpy(dtype=float)
    hide = np.zeros(len(out), dtype=bool) if k is None else (counts < k)
    for c in dict.fromkeys((count, *columns)):
        out[c] = out[c].astype(float).mask(hide)
    out["suppressed"] = hide
    return out
