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


def household_points(
    con: Connection | Engine, county_code: str, *, with_colour: bool = False
) -> gpd.GeoDataFrame:
    """Households of a county as their stored points on surface (EPSG:4326).

    Columns: code, natural_unit_code, village_code, residents, residents_at_home, and
    ``colour`` only with ``with_colour`` -- five-colour status is personal data: pass it on
    to aggregates, never to a public or wall view.  The input of ``geo.heatmaps``,
    ``geo.coverage`` and ``geo.hotspots`` when they work from the database.
    """
    colour = ", colour" if with_colour else ""
    return read_frame(
        con,
        "SELECT code, natural_unit_code, village_code, residents, residents_at_home"
        f"{colour}, point AS geom FROM household WHERE code LIKE :county ORDER BY code",
        params={"county": f"{county_code}%"},
    )


def service_points(
    con: Connection | Engine, county_code: str, *, kind: str | None = None
) -> gpd.GeoDataFrame:
    """Service points of a county (optionally one ``kind``): code, kind, name, village_code."""
    return read_frame(
        con,
        "SELECT s.code, s.kind, s.name, s.village_code, s.geom FROM service_point s "
        "WHERE coalesce(s.village_code, s.code) LIKE :county "
        "AND (CAST(:kind AS text) IS NULL OR s.kind = :kind) ORDER BY s.code",
        params={"county": f"{county_code}%", "kind": kind},
    )


def visits(
    con: Connection | Engine, county_code: str, *, since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Visits to the county's households (household_code, worker_code, visited_at, UTC)."""
    query = (
        "SELECT v.household_code, v.worker_code, v.visited_at FROM visit v "
        "WHERE v.household_code LIKE :county "
        "AND (CAST(:since AS timestamptz) IS NULL OR v.visited_at >= :since) "
        "ORDER BY v.visited_at"
    )
    frame = pd.read_sql(text(query), con, params={"county": f"{county_code}%", "since": since})
    frame["visited_at"] = pd.to_datetime(frame["visited_at"], utc=True)
    return frame


def plan_cells(con: Connection | Engine, plan_id: int) -> gpd.GeoDataFrame:
    """Cells of a stored plan (code, village_code, households, residents, area, PP, flag)."""
    return read_frame(
        con,
        "SELECT code, village_code, households, residents, area_m2, polsby_popper, "
        "flag_reason, geom FROM grid_cell WHERE plan_id = :plan ORDER BY code",
        params={"plan": plan_id},
    )


def plan_assignment(con: Connection | Engine, plan_id: int) -> pd.DataFrame:
    """The household -> cell assignment of a stored plan (household_code, cell_code)."""
    return pd.read_sql(
        text(
            "SELECT household_code, cell_code FROM cell_assignment WHERE plan_id = :plan "
            "ORDER BY household_code"
        ),
        con,
        params={"plan": plan_id},
    )
