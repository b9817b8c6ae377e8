"""The SQL of plan exports (used by :mod:`geo.export`): a stored plan's layers as frames.

Frames come back in EPSG:4326 with the geometry column ``geometry``
(:func:`geo.db.io.read_frame`); values are always bound.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.db.io import read_frame


def plan_header(con: Connection | Engine, plan_id: int) -> pd.DataFrame:
    """Plan ``plan_id``'s ``id, name, version, status``: one row, or none if there is no such
    plan."""
    return pd.read_sql(
        text("SELECT id, name, version, status FROM grid_plan WHERE id = :id"),
        con,
        params={"id": int(plan_id)},
    )


def plan_ids(con: Connection | Engine) -> list[int]:
    """The ids of the stored plans, ascending."""
    return pd.read_sql(text("SELECT id FROM grid_plan ORDER BY id"), con)["id"].tolist()


def plan_cells(con: Connection | Engine, plan_id: int) -> gpd.GeoDataFrame:
    """The cells of plan ``plan_id`` by code, with the plan's id, name, version and status,
    the village code and name, household and resident counts, ``area_m2`` (m²),
    ``polsby_popper`` and ``flag_reason``; EPSG:4326."""
    return read_frame(
        con,
        "SELECT p.id AS plan_id, p.name AS plan_name, p.version AS plan_version, "
        "p.status AS plan_status, c.code, c.village_code, v.name AS village_name, "
        "c.households, c.residents, c.area_m2, c.polsby_popper, c.flag_reason, c.geom "
        "FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id "
        "LEFT JOIN admin_unit v ON v.code = c.village_code "
        "WHERE c.plan_id = :id ORDER BY c.code",
        params={"id": int(plan_id)},
    )


def plan_households(con: Connection | Engine, plan_id: int) -> gpd.GeoDataFrame:
    """The households assigned in plan ``plan_id`` (personal data), by code, with their
    ``cell_code``; EPSG:4326."""
    return read_frame(
        con,
        "SELECT h.code, h.natural_unit_code, h.village_code, h.residents, "
        "h.residents_at_home, h.colour, a.cell_code, h.geom "
        "FROM cell_assignment a JOIN household h ON h.code = a.household_code "
        "WHERE a.plan_id = :id ORDER BY h.code",
        params={"id": int(plan_id)},
    )
