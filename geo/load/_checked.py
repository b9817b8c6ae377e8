"""What a check gives back (:class:`Checked`), what it checks against (:class:`References`),
and the :class:`Collector` of faults and repairs the checks share.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


@dataclass
class References:
    """What rows may refer to: code sets by name, and the natural units to place households.

    ``codes`` keys are ``"county"``, ``"township"``, ``"village"``, ``"natural_unit"``,
    ``"household"``, ``"worker"``, ``"category"``; a missing key skips that check.
    ``natural_units`` (EPSG:4326, columns ``code``, ``parent_code``) enables the
    containment check of households and the GCJ-02 hint.
    """

    codes: dict[str, set[str]] = field(default_factory=dict)
    natural_units: gpd.GeoDataFrame | None = None


@dataclass
class Checked:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    kind, file : str
    rows_in : int
        Rows in the file.
    clean : GeoDataFrame or DataFrame
        Rows to load, columns named as the table's, EPSG:4326; index = 0-based input row.
    faults : DataFrame
        ``row`` (1-based), ``field``, ``fault`` (one of :data:`FAULTS`), ``message``.
    repairs : DataFrame
        ``row``, ``field``, ``repair`` (one of :data:`REPAIRS`), ``message``.
    overlaps : DataFrame
        ``code_a``, ``code_b``, ``area_m2`` for admin units that overlap.
    notes : list of str
        What was decided on the way (CRS, encoding, GCJ-02 hints, fills).
    raw : DataFrame
        The frame as read, for the quarantine's raw rows.
    """

    kind: str
    file: str
    rows_in: int
    clean: pd.DataFrame
    faults: pd.DataFrame
    repairs: pd.DataFrame
    overlaps: pd.DataFrame
    notes: list[str]
    raw: pd.DataFrame

    @property
    def quarantined(self) -> int:
        return int(self.faults["row"].nunique())

    @property
    def repaired(self) -> int:
        """Rows repaired and loaded (a repaired row with a fault is only quarantined)."""
        rows = self.repairs["row"]
        return int(rows[~rows.isin(self.faults["row"])].nunique())

    def by_fault(self) -> dict[str, int]:
        """Quarantined rows per fault (a row with two faults counts under both)."""
        counts = self.faults.drop_duplicates(["row", "fault"])["fault"].value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def raw_row(self, row: int) -> dict:
        """Input row ``row`` (1-based) as JSON-ready values (geometry as WKT)."""
        record = self.raw.iloc[row - 1]
        out = {}
        for column, value in record.items():
            if isinstance(value, shapely.Geometry):
                out[str(column)] = value.wkt
            elif value is None or (isinstance(value, float) and not math.isfinite(value)):
                out[str(column)] = None if value is None or math.isnan(value) else str(value)
            elif pd.isna(value) if np.ndim(value) == 0 else False:
                out[str(column)] = None
            else:
                value = value.item() if isinstance(value, np.generic) else value
                out[str(column)] = json.loads(json.dumps(value, default=str, ensure_ascii=False))
        return out


class Collector:
    def __init__(self) -> None:
        self.faults: list[tuple[np.ndarray, str, str, object]] = []
        self.repairs: list[tuple[np.ndarray, str, str, object]] = []

    def fault(self, rows, column: str, fault: str, message) -> None:
        rows = np.asarray(rows, dtype=int)
        if rows.size:
            self.faults.append((rows, column, fault, message))

    def repair(self, rows, column: str, repair: str, message) -> None:
        rows = np.asarray(rows, dtype=int)
        if rows.size:
            self.repairs.append((rows, column, repair, message))

    @staticmethod
    def table(items, name: str) -> pd.DataFrame:
        parts = []
        for rows, column, what, message in items:
            messages = message if isinstance(message, (list, np.ndarray, pd.Series)) else None
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows + 1,
                        "field": column,
                        name: what,
                        "message": list(messages) if messages is not None else message,
                    }
                )
            )
        if not parts:
            return pd.DataFrame({"row": [], "field": [], name: [], "message": []}).astype(
                {"row": int}
            )
        return pd.concat(parts, ignore_index=True).sort_values("row", kind="stable")

    def bad_rows(self, n: int, column: str | None = None) -> np.ndarray:
        """Rows with a fault (in ``column``, if given)."""
        mask = np.zeros(n, dtype=bool)
        for rows, field_, *_ in self.faults:
            if column is None or field_ == column:
                mask[rows] = True
        return mask
