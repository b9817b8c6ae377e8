"""Hand-made plans and incident streams for tests and benchmarks of the incident layer.

Plan storage belongs to the grid engine (:mod:`geo.grids`); these helpers only write the rows
an incident needs to be placed (``grid_plan``, ``grid_cell``, optionally ``cell_assignment``)
so that the incident layer can be exercised on its own.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import MultiPolygon
from sqlalchemy import Connection, text

from geo.db.io import copy_frame
from geo.db.models import INCIDENT_SOURCES


def _plan_row(conn: Connection, county_code: str, name: str, status: str) -> int:
    """Insert a grid_plan row; a published one first archives the county's published plan."""
    if status == "published":
        conn.execute(
            text(
                "UPDATE grid_plan SET status = 'archived' "
                "WHERE county_code = :c AND status = 'published'"
            ),
            {"c": county_code},
        )
    return conn.execute(
        text(
            "INSERT INTO grid_plan (county_code, name, status, published_at) "
            "VALUES (:c, :n, :s, CASE WHEN :pub THEN now() END) RETURNING id"
        ),
        {"c": county_code, "n": name, "s": status, "pub": status == "published"},
    ).scalar_one()


def insert_plan(
    conn: Connection,
    county_code: str,
    cells: gpd.GeoDataFrame,
    *,
    name: str,
    status: str = "published",
    assignment: pd.DataFrame | None = None,
) -> int:
    """Write a plan with ``cells`` (code, village_code, geometry) and return its id.

    Publishing archives the county's currently published plan first (one published plan per
    county). ``assignment`` (household_code, cell_code) is written when given.
    """
    plan_id = _plan_row(conn, county_code, name, status)
    frame = cells[["code", "village_code", cells.geometry.name]].copy()
    frame["plan_id"] = plan_id
    frame = frame.set_geometry(frame.geometry.apply(_multi))
    copy_frame(conn, frame[["plan_id", "code", "village_code", "geometry"]], "grid_cell")
    if assignment is not None and len(assignment):
        conn.execute(
            text(
                "INSERT INTO cell_assignment (plan_id, household_code, cell_code) "
                "SELECT :p, h, c FROM unnest(CAST(:h AS text[]), CAST(:c AS text[])) AS t(h, c)"
            ),
            {
                "p": plan_id,
                "h": assignment["household_code"].tolist(),
                "c": assignment["cell_code"].tolist(),
            },
        )
    return int(plan_id)


def lattice_plan(conn: Connection, county_code: str, *, size_deg: float = 0.01) -> int:
    """Publish a plan whose cells are a square lattice (``size_deg`` degrees) cut by villages.

    Households are assigned to the cell that covers their point (lowest code on a boundary).
    Good enough to place incidents at scale; not a real grid plan (sizes are not balanced).
    """
    plan_id = _plan_row(conn, county_code, f"lattice-{time.time_ns()}", "published")
    conn.execute(
        text(
            """
            INSERT INTO grid_cell (plan_id, code, village_code, geom)
            SELECT :p, v.code || '-' || lpad(CAST(row_number() OVER (PARTITION BY v.code
                       ORDER BY g.i, g.j) AS text), 3, '0'),
                   v.code, ST_Multi(ST_CollectionExtract(ST_Intersection(v.geom, g.geom), 3))
            FROM admin_unit v
            CROSS JOIN LATERAL ST_SquareGrid(:s, v.geom) AS g
            WHERE v.level = 'village' AND v.code LIKE :prefix
              AND ST_Intersects(v.geom, g.geom)
              AND ST_Area(ST_Intersection(v.geom, g.geom)) > 0
            """
        ),
        {"p": plan_id, "s": size_deg, "prefix": f"{county_code}%"},
    )
    conn.execute(
        text(
            """
            INSERT INTO cell_assignment (plan_id, household_code, cell_code)
            SELECT :p, h.code, c.code FROM household h
            CROSS JOIN LATERAL (
                SELECT code FROM grid_cell c
                WHERE c.plan_id = :p AND ST_Intersects(c.geom, h.point)
                ORDER BY code LIMIT 1
            ) c
            WHERE h.code LIKE :prefix
            """
        ),
        {"p": plan_id, "prefix": f"{county_code}%"},
    )
    return int(plan_id)


def random_incidents(
    households: gpd.GeoDataFrame,
    n: int,
    *,
    categories: list[str],
    start: datetime,
    days: float = 365.0,
    seed: int = 0,
    prefix: str = "bench",
) -> gpd.GeoDataFrame:
    """``n`` incident reports at random households' points, spread over ``days`` from
    ``start`` (timezone-aware), in the shape :func:`geo.incidents.intake` takes."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(households), n)
    points = households.geometry.representative_point().iloc[pick].to_numpy()
    offsets = np.sort(rng.uniform(0, days * 86400, n))
    return gpd.GeoDataFrame(
        {
            "client_key": [f"{prefix}-{i:07d}" for i in range(n)],
            "category_code": rng.choice(categories, n),
            "source": rng.choice(INCIDENT_SOURCES, n),
            "reported_at": [start + timedelta(seconds=float(s)) for s in offsets],
            "household_code": households["code"].to_numpy()[pick],
        },
        geometry=points,
        crs=households.crs,
    )


def _multi(geom):
    return geom if geom.geom_type == "MultiPolygon" else MultiPolygon([geom])
