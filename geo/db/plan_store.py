"""SQL of grid plans: the rows of ``grid_plan``, ``grid_cell`` and ``cell_assignment``.

The storage side of :mod:`geo.plans` (which holds the plan logic: life cycle, edits, checks).
Cells are stored in ``grid_cell`` as MultiPolygons in EPSG:4326 with their per-cell figures
(:data:`CELL_DB_COLUMNS`); ``cell_assignment`` maps household -> cell (its primary key makes
double assignment impossible).  Every function works inside the caller's transaction and never
commits.
"""

from __future__ import annotations

import io as _io

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo import grids
from geo.db import io
from geo.errors import DataError
from geo.projection import MAX_SEGMENT_DEG, STORAGE_CRS

CELL_DB_COLUMNS = (
    "code",
    "village_code",
    "households",
    "residents",
    "area_m2",
    "polsby_popper",
    "flag_reason",
    "contiguous",
    "natural_units_split",
    "within_bounds",
)
"""The columns of ``grid_cell`` besides ``plan_id`` and ``geom``, in COPY order."""


def cell_villages(conn: Connection, plan_id: int, codes: list[str]) -> dict[str, str]:
    """Village of each cell code of the plan (DataError naming the unknown ones)."""
    rows = conn.execute(
        text(
            "SELECT code, village_code FROM grid_cell WHERE plan_id = :p "
            "AND code = ANY(CAST(:codes AS text[]))"
        ),
        {"p": plan_id, "codes": codes},
    ).all()
    found = {r.code: r.village_code for r in rows}
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise DataError(f"unknown cell(s) in this plan: {', '.join(unknown)}")
    return found


def read_cells(conn: Connection, plan_id: int, *, village: str | None = None) -> gpd.GeoDataFrame:
    """The plan's cells (of one village if given) as :data:`geo.grids.CELL_COLUMNS`, by code.

    EPSG:4326; a MultiPolygon of one part comes back as a Polygon.
    """
    where = "plan_id = :p" + (" AND village_code = :v" if village is not None else "")
    cells = io.read_frame(
        conn,
        f"SELECT {', '.join(CELL_DB_COLUMNS)}, geom FROM grid_cell WHERE {where} ORDER BY code",
        params={"p": plan_id, "v": village},
    )
    g = np.asarray(cells.geometry.values, dtype=object)
    single = (shapely.get_type_id(g) == 6) & (shapely.get_num_geometries(g) == 1)
    if single.any():
        g = g.copy()
        g[single] = shapely.get_geometry(g[single], 0)
    cells = cells.set_geometry(gpd.GeoSeries(g, index=cells.index, crs=STORAGE_CRS))
    cells["contiguous"] = cells["contiguous"].fillna(False).astype(bool)
    cells["within_bounds"] = cells["within_bounds"].fillna(False).astype(bool)
    cells["natural_units_split"] = cells["natural_units_split"].fillna(0).astype(np.int64)
    return cells.loc[:, list(grids.CELL_COLUMNS)]


def assignment_for(conn: Connection, plan_id: int, households: gpd.GeoDataFrame) -> pd.DataFrame:
    """The plan's assignment of ``households``, index aligned with them (unassigned left out)."""
    stored = pd.read_sql(
        text(
            "SELECT household_code, cell_code FROM cell_assignment WHERE plan_id = :p "
            "AND household_code = ANY(CAST(:codes AS text[]))"
        )
        if len(households) < 20_000
        else text("SELECT household_code, cell_code FROM cell_assignment WHERE plan_id = :p"),
        conn,
        params={"p": plan_id, "codes": households["code"].tolist()},
    )
    cell = households["code"].map(stored.set_index("household_code")["cell_code"])
    assignment = pd.DataFrame(
        {
            "household_code": households["code"],
            "cell_code": cell,
            "village_code": households["village_code"],
            "natural_unit_code": households["natural_unit_code"],
        },
        index=households.index,
    )
    return assignment.loc[cell.notna()]


def write_cells(conn: Connection, plan_id: int, cells: gpd.GeoDataFrame) -> None:
    """COPY (binary) of cells into ``grid_cell``, geometries as MultiPolygons."""
    rows = gpd.GeoDataFrame(
        {
            "plan_id": np.full(len(cells), plan_id, dtype=np.int64),
            **{c: cells[c].to_numpy() for c in CELL_DB_COLUMNS},
        },
        geometry=io.as_multipolygons(cells.geometry).values,
        crs=cells.crs,
    )
    for c in ("households", "residents", "natural_units_split"):
        rows[c] = rows[c].astype(np.int64)
    for c in ("area_m2", "polsby_popper"):
        rows[c] = rows[c].astype(float)
    for c in ("contiguous", "within_bounds"):
        rows[c] = rows[c].astype(bool)
    rows["flag_reason"] = rows["flag_reason"].astype(object)
    io.copy_frame(conn, rows, "grid_cell")


def write_assignment(conn: Connection, plan_id: int, assignment: pd.DataFrame) -> None:
    """COPY (CSV) of household -> cell rows: plain text columns, no geometry."""
    frame = pd.DataFrame(
        {
            "plan_id": plan_id,
            "household_code": assignment["household_code"].astype(str).to_numpy(),
            "cell_code": assignment["cell_code"].astype(str).to_numpy(),
        }
    )
    buffer = _io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY cell_assignment (plan_id, household_code, cell_code) FROM STDIN (FORMAT csv)"
        ) as cp,
    ):
        cp.write(buffer.getvalue())


def analyze_if_stale(conn: Connection, rows: dict[str, int]) -> None:
    """ANALYZE the tables whose planner statistics know fewer rows than were just written.

    A table never analyzed (or analyzed while nearly empty) makes the planner pick nested
    loops that go quadratic on a county's 10^5 households; autovacuum fixes that only a
    minute later.  ANALYZE samples a fixed number of rows, so this costs well under a second.
    """
    for table, n in rows.items():
        known = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
        ).scalar_one()
        if known < n:
            conn.execute(text(f"ANALYZE {table}"))


def replace_village_rows(
    conn: Connection, plan_id: int, village: str, plan: grids.GridPlan
) -> None:
    """Delete the village's cells (assignments cascade) and COPY the new ones."""
    conn.execute(
        text(
            "DELETE FROM cell_assignment a USING household h WHERE a.plan_id = :p "
            "AND h.code = a.household_code AND h.village_code = :v"
        ),
        {"p": plan_id, "v": village},
    )
    conn.execute(
        text("DELETE FROM grid_cell WHERE plan_id = :p AND village_code = :v"),
        {"p": plan_id, "v": village},
    )
    cells = plan.cells.loc[plan.cells["village_code"] == village]
    assignment = plan.assignment.loc[plan.assignment["village_code"] == village]
    write_cells(conn, plan_id, cells)
    write_assignment(conn, plan_id, assignment)


def publication_faults(
    conn: Connection, plan_id: int, *, county_code: str, srid: int, tolerance_m: float
) -> list[str]:
    """The publication checks of :func:`geo.plans.publication_faults`, in SQL.

    One message per failed check (how many, and the first five); empty when all pass.
    Cells are tested against their village with ``ST_CoveredBy`` in EPSG ``srid`` with a
    tolerance of ``tolerance_m`` metres; households are those whose code starts with
    ``county_code``.
    """
    p = {
        "p": plan_id,
        "c": f"{county_code}%",
        "tol": tolerance_m,
        "srid": srid,
        "seg": MAX_SEGMENT_DEG,
    }
    checks = [
        (
            "household(s) of the county in no cell",
            # EXCEPT is hashed or sorted whatever the statistics say (an anti-join planned
            # on the stale statistics of a fresh table can go quadratic)
            "SELECT code FROM household WHERE code LIKE :c "
            "EXCEPT SELECT household_code FROM cell_assignment WHERE plan_id = :p",
        ),
        (
            "household(s) assigned twice",
            "SELECT household_code FROM cell_assignment WHERE plan_id = :p "
            "GROUP BY household_code HAVING count(*) > 1",
        ),
        (
            "household(s) assigned to a cell of another village or county",
            "SELECT a.household_code || ' -> ' || a.cell_code FROM cell_assignment a "
            "JOIN household h ON h.code = a.household_code JOIN grid_cell c "
            "ON c.plan_id = a.plan_id AND c.code = a.cell_code WHERE a.plan_id = :p "
            "AND (h.village_code <> c.village_code OR h.code NOT LIKE :c)",
        ),
        (
            "cell(s) outside their village",
            # strict test in degrees first (cheap); only its failures are re-tested in metres
            "WITH bad AS MATERIALIZED (SELECT c.code, c.geom, c.village_code FROM grid_cell c "
            "JOIN admin_unit v ON v.code = c.village_code WHERE c.plan_id = :p "
            "AND NOT ST_CoveredBy(c.geom, v.geom)), "
            "vb AS MATERIALIZED (SELECT code, "
            "ST_Buffer(ST_Transform(ST_Segmentize(geom, :seg), :srid), :tol) AS g "
            "FROM admin_unit WHERE code IN (SELECT village_code FROM bad)) "
            "SELECT b.code FROM bad b JOIN vb ON vb.code = b.village_code "
            "WHERE NOT ST_CoveredBy(ST_Transform(ST_Segmentize(b.geom, :seg), :srid), vb.g)",
        ),
    ]
    faults = []
    for what, sql in checks:
        rows = conn.execute(
            text(f"SELECT x, count(*) OVER () FROM ({sql}) AS q(x) ORDER BY x LIMIT 5"), p
        ).all()
        if rows:
            first = ", ".join(str(r[0]) for r in rows)
            faults.append(f"{rows[0][1]} {what} (first: {first})")
    return faults


def cell_figures(conn: Connection, plan_id: int) -> pd.DataFrame:
    """Per-cell figures of a plan: households, residents, polsby_popper, within_bounds,
    flag_reason, contiguous (one row per cell, no order)."""
    return pd.read_sql(
        text(
            "SELECT households, residents, polsby_popper, within_bounds, flag_reason, "
            "contiguous FROM grid_cell WHERE plan_id = :p"
        ),
        conn,
        params={"p": plan_id},
    )


def households_per_village(conn: Connection, plan_id: int) -> pd.DataFrame:
    """Assigned households per village of a plan: village_code, n."""
    return pd.read_sql(
        text(
            "SELECT h.village_code, count(*) AS n FROM cell_assignment a JOIN household h "
            "ON h.code = a.household_code WHERE a.plan_id = :p GROUP BY h.village_code"
        ),
        conn,
        params={"p": plan_id},
    )


def cells_per_natural_unit(conn: Connection, plan_id: int) -> pd.DataFrame:
    """For each natural unit with assigned households, the number of cells it spans: cells."""
    return pd.read_sql(
        text(
            "SELECT count(DISTINCT a.cell_code) AS cells FROM cell_assignment a JOIN household h "
            "ON h.code = a.household_code WHERE a.plan_id = :p GROUP BY h.natural_unit_code"
        ),
        conn,
        params={"p": plan_id},
    )
