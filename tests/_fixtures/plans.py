"""A one-cell-per-village plan of the tiny county, rows inserted directly."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import Connection, text

from geo.db import io
from tests._fixtures.county import tiny_county


def one_cell_plan(conn: Connection) -> int:
    """A plan with one cell per village, every household assigned (rows inserted directly)."""
    plan_id = conn.execute(
        text("INSERT INTO grid_plan (county_code, name) VALUES ('999999', '试点方案') RETURNING id")
    ).scalar_one()
    villages = tiny_county().villages
    cells = gpd.GeoDataFrame(
        {
            "plan_id": plan_id,
            "code": [f"{v}-01" for v in villages["code"]],
            "village_code": villages["code"].to_numpy(),
            "households": [2, 1],
            "residents": [7, 2],
        },
        geometry=io.as_multipolygons(villages.geometry).to_numpy(),
        crs=4326,
    )
    io.copy_frame(conn, cells, "grid_cell")
    conn.execute(
        text(
            "INSERT INTO cell_assignment (plan_id, household_code, cell_code) "
            "SELECT :p, h.code, h.village_code || '-01' FROM household h"
        ),
        {"p": plan_id},
    )
    return plan_id
