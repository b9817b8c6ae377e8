"""Plans of the tiny county, rows inserted directly (one cell per village, or village 1 cut
in two), and a pair of adjacent cells of any plan."""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import box
from sqlalchemy import Connection, text

from geo.db import io
from tests._fixtures.county import UTM, X0, Y0, tiny_county
from tests._fixtures.incident_plans import insert_plan


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


def split_plan(conn: Connection, county_code: str, split_at_m: float, name: str) -> int:
    """Publish a plan of :func:`tiny_county` ``county_code`` cutting village 1 at
    ``split_at_m`` metres east of the county's west edge (two cells) and keeping village 2
    whole, with the households and residents each cell holds."""
    c = county_code
    cells = gpd.GeoDataFrame(
        {
            "code": [f"{c}101001-A", f"{c}101001-B", f"{c}102001-A"],
            "village_code": [f"{c}101001", f"{c}101001", f"{c}102001"],
        },
        geometry=[
            box(X0, Y0, X0 + split_at_m, Y0 + 1000),
            box(X0 + split_at_m, Y0, X0 + 1000, Y0 + 1000),
            box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
        ],
        crs=UTM,
    ).to_crs(4326)
    plan_id = insert_plan(conn, c, cells, name=name)
    conn.execute(
        text(
            "UPDATE grid_cell c SET households = (SELECT count(*) FROM household h "
            "WHERE ST_Intersects(c.geom, h.point)), residents = (SELECT coalesce(sum(residents), "
            "0) FROM household h WHERE ST_Intersects(c.geom, h.point)) WHERE c.plan_id = :p"
        ),
        {"p": plan_id},
    )
    return plan_id


def adjacent_cells(cells: gpd.GeoDataFrame) -> tuple[str, str]:
    """The first two of ``cells`` (columns ``code``, geometry) that share an edge, by code
    order of the frame."""
    g = cells.set_index("code").geometry
    codes = list(g.index)
    for i, x in enumerate(codes):
        for y in codes[i + 1 :]:
            if shapely.relate_pattern(g[x], g[y], "****1****"):
                return x, y
    raise AssertionError("no adjacent cells")
