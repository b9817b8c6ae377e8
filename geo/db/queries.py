"""Read-side queries for dashboards and notebooks: aggregates computed in PostGIS.

Results are aggregates (counts per unit), never a household's details, so they may feed
public and wall views once small counts are suppressed with :func:`suppress_small`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.db.io import read_frame


def county_codes(con: Connection | Engine) -> pd.DataFrame:
    """Counties in the database: code and name, ordered by code."""
    query = "SELECT code, name FROM admin_unit WHERE level = 'county' ORDER BY code"
    return pd.read_sql(text(query), con)


def unit_summary(con: Connection | Engine, level: str, county_code: str) -> gpd.GeoDataFrame:
    """Admin units of ``level`` in a county with households and residents summed (EPSG:4326).

    Columns: code, name, kind, parent_code, households, residents, residents_at_home,
    natural_units, geometry.
    """
    prefix_len = {"township": 9, "village": 12, "natural_unit": 15}[level]
    query = """
        WITH hh AS (
            SELECT left(code, :n) AS unit, count(*) AS households,
                   sum(residents) AS residents, sum(residents_at_home) AS residents_at_home
            FROM household WHERE code LIKE :county GROUP BY 1
        ), nu AS (
            SELECT left(code, :n) AS unit, count(*) AS natural_units
            FROM admin_unit WHERE level = 'natural_unit' AND code LIKE :county GROUP BY 1
        )
        SELECT u.code, u.name, u.kind, u.parent_code,
               coalesce(hh.households, 0) AS households,
               coalesce(hh.residents, 0) AS residents,
               coalesce(hh.residents_at_home, 0) AS residents_at_home,
               coalesce(nu.natural_units, 0) AS natural_units, u.geom
        FROM admin_unit u
        LEFT JOIN hh ON hh.unit = u.code LEFT JOIN nu ON nu.unit = u.code
        WHERE u.level = :level AND u.code LIKE :county ORDER BY u.code
    """
    return read_frame(
        con, query, params={"n": prefix_len, "county": f"{county_code}%", "level": level}
    )


def suppress_small(
    frame: pd.DataFrame, *, count: str = "households", k: int = 5, columns: list[str] | None = None
) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` blanked (NaN) where ``count`` < ``k``.

    Adds a boolean ``suppressed`` column. ``columns`` defaults to every numeric column.
    """
    out = frame.copy()
    small = out[count] < k
    numeric = columns or [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c])]
    for column in numeric:
        out[column] = out[column].astype(float).where(~small, np.nan)
    out["suppressed"] = small
    return out
