"""SQL of grid plans: the rows of ``grid_plan``, ``grid_cell`` and ``cell_assignment``.

The storage side of :mod:`geo.plans` (which holds the plan logic: life cycle, edits, checks).
A plan's row comes back as a :class:`PlanRow` of plain values (``metrics`` and ``params`` as
the JSON dicts stored in JSONB).  Cells are stored in ``grid_cell`` as MultiPolygons in
EPSG:4326 with their per-cell figures (:data:`CELL_DB_COLUMNS`); ``cell_assignment`` maps
household -> cell (its primary key makes double assignment impossible).  Every function works
inside the caller's transaction and never commits; values are always bound parameters.
"""

from __future__ import annotations

import io as _io
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo.db import io
from geo.errors import DataError, PlanError
from geo.frames import CELL_COLUMNS
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
    """The plan's cells (of one village if given) as :data:`geo.frames.CELL_COLUMNS`, by code.

    EPSG:4326; a MultiPolygon of one part comes back as a Polygon.
    """
    where = "plan_id = :p" + (" AND village_code = :v" if village is not None else "")
    cells = _read_geo(
        conn,
        f"SELECT {', '.join(CELL_DB_COLUMNS)}, ST_AsBinary(geom) AS wkb FROM grid_cell "
        f"WHERE {where} ORDER BY code",
        {"p": plan_id, "v": village},
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
    return cells.loc[:, list(CELL_COLUMNS)]


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
    conn: Connection,
    plan_id: int,
    village: str,
    cells: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
) -> None:
    """Delete the village's cells and assignments and COPY the village's rows of the new ones.

    ``cells`` (:data:`geo.frames.CELL_COLUMNS`, EPSG:4326) and ``assignment``
    (:data:`geo.frames.ASSIGNMENT_COLUMNS`) may hold other villages too: only ``village``'s
    rows are written.
    """
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
    cells = cells.loc[cells["village_code"] == village]
    assignment = assignment.loc[assignment["village_code"] == village]
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


def households_per_village_from_cells(conn: Connection, plan_id: int) -> pd.DataFrame:
    """Households per village of a plan from its cells' figures: village_code, n.

    Equal to :func:`households_per_village` while every household's cell lies in its own
    village (what every edit keeps), and reads one row per cell instead of one per
    household.
    """
    return pd.read_sql(
        text(
            "SELECT village_code, sum(households) AS n FROM grid_cell WHERE plan_id = :p "
            "GROUP BY village_code"
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


# --------------------------------------------------------------------------- grid_plan rows

_PLAN_COLUMNS = (
    "id, name, county_code, status, version, min_size, max_size, created_by, created_at, "
    "updated_by, updated_at, published_at, metrics, params"
)


@dataclass(frozen=True)
class PlanRow:
    """One ``grid_plan`` row (without the parent and archive columns); plain values.

    ``min_size``/``max_size`` are households; ``metrics`` and ``params`` the stored JSONB
    (None for rows written by hand).
    """

    id: int
    name: str
    county_code: str
    status: str
    version: int
    min_size: int
    max_size: int
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime | None
    published_at: datetime | None
    metrics: dict | None
    params: dict | None


def county_codes(conn: Connection) -> list[str]:
    """Codes of the counties stored in ``admin_unit``, sorted."""
    sql = text("SELECT code FROM admin_unit WHERE level = 'county' ORDER BY code")
    return list(conn.execute(sql).scalars().all())


def plan_named(conn: Connection, county_code: str, name: str) -> tuple[int, str] | None:
    """``(id, status)`` of the county's plan called ``name``, or None."""
    row = conn.execute(
        text("SELECT id, status FROM grid_plan WHERE county_code = :c AND name = :n"),
        {"c": county_code, "n": name},
    ).first()
    return None if row is None else (int(row.id), row.status)


def insert_plan(
    conn: Connection,
    *,
    county_code: str,
    name: str,
    parent_plan_id: int | None,
    min_size: int,
    max_size: int,
    created_by: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
) -> int:
    """Insert a draft (version 1) ``grid_plan`` row; its id.

    ``metrics`` and ``params`` are stored as JSONB (numpy numbers as plain numbers, NaN and
    infinities as null).
    """
    plan_id = conn.execute(
        text(
            "INSERT INTO grid_plan (county_code, name, status, version, parent_plan_id, "
            "min_size, max_size, created_by, metrics, params) VALUES (:c, :n, 'draft', 1, "
            ":parent, :lo, :hi, :by, CAST(:m AS jsonb), CAST(:p AS jsonb)) RETURNING id"
        ),
        {
            "c": county_code,
            "n": name,
            "parent": parent_plan_id,
            "lo": int(min_size),
            "hi": int(max_size),
            "by": created_by,
            "m": _json(metrics),
            "p": _json(params),
        },
    ).scalar_one()
    return int(plan_id)


def copy_plan_rows(conn: Connection, plan_id: int, *, name: str, by: str) -> int:
    """A new draft (version 1, parent ``plan_id``) with the plan's row, cells and assignment."""
    new_id = conn.execute(
        text(
            "INSERT INTO grid_plan (county_code, name, status, version, parent_plan_id, "
            "min_size, max_size, created_by, metrics, params) SELECT county_code, :n, 'draft', "
            "1, id, min_size, max_size, :by, metrics, params FROM grid_plan WHERE id = :p "
            "RETURNING id"
        ),
        {"n": name, "by": by, "p": plan_id},
    ).scalar_one()
    cols = ", ".join(CELL_DB_COLUMNS)  # constant column names, not input
    conn.execute(
        text(
            f"INSERT INTO grid_cell (plan_id, {cols}, geom) SELECT :new, {cols}, geom "
            "FROM grid_cell WHERE plan_id = :p"
        ),
        {"new": new_id, "p": plan_id},
    )
    conn.execute(
        text(
            "INSERT INTO cell_assignment (plan_id, household_code, cell_code) "
            "SELECT :new, household_code, cell_code FROM cell_assignment WHERE plan_id = :p"
        ),
        {"new": new_id, "p": plan_id},
    )
    return int(new_id)


def list_plans(conn: Connection, county_code: str | None = None) -> pd.DataFrame:
    """Plans (of counties whose code starts with ``county_code``), newest first.

    Columns ``id``, ``county_code``, ``name``, ``status``, ``version``, ``min_size``,
    ``max_size``, ``cells``, ``households``, ``share_within_bounds``, ``created_at``,
    ``created_by``, ``updated_at``, ``updated_by``, ``published_at``.
    """
    return pd.read_sql(
        text(
            "SELECT p.id, p.county_code, p.name, p.status, p.version, p.min_size, p.max_size, "
            "(SELECT count(*) FROM grid_cell c WHERE c.plan_id = p.id) AS cells, "
            "(SELECT count(*) FROM cell_assignment a WHERE a.plan_id = p.id) AS households, "
            "CAST(p.metrics ->> 'share_within_bounds' AS double precision) "
            "AS share_within_bounds, "
            "p.created_at, p.created_by, p.updated_at, p.updated_by, p.published_at "
            "FROM grid_plan p WHERE p.county_code LIKE :c ORDER BY p.id DESC"
        ),
        conn,
        params={"c": f"{county_code or ''}%"},
    )


PLAN_REF_RULE = (
    "a plan is named by its id (digits, or #12 / id:12) or by its name; a name made only "
    "of digits is written name:2024"
)
"""How a plan reference is read (:func:`parse_plan_ref`), for help texts and errors."""


def parse_plan_ref(plan_ref: int | str) -> tuple[str, int | str]:
    """``("id", 12)`` or ``("name", "spring")`` from a plan reference.

    An int, a string of digits, ``#12`` and ``id:12`` are ids; ``name:X`` is the name ``X``
    (the way to name a plan whose name looks like an id); anything else is a name.
    """
    if isinstance(plan_ref, int | np.integer) and not isinstance(plan_ref, bool):
        return "id", int(plan_ref)
    ref = str(plan_ref).strip()
    if ref.startswith("name:"):
        return "name", ref[len("name:") :]
    for prefix in ("#", "id:", ""):
        rest = ref[len(prefix) :] if ref.startswith(prefix) else None
        if rest is not None and rest.isascii() and rest.isdigit():
            return "id", int(rest)
    return "name", ref


def find_plan(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None, lock: bool = False
) -> PlanRow:
    """The ``grid_plan`` row of a plan id or name (locked ``FOR UPDATE`` if asked).

    ``plan_ref`` is read by :func:`parse_plan_ref`: digits (or ``#12``, ``id:12``) are an id,
    ``name:X`` or any other text a name.

    Raises
    ------
    PlanError
        No such plan, or several plans of that name (in different counties) and no county.
    """
    suffix = " FOR UPDATE" if lock else ""  # one of two fixed strings
    kind, value = parse_plan_ref(plan_ref)
    if kind == "name":
        rows = conn.execute(
            text(
                f"SELECT {_PLAN_COLUMNS} FROM grid_plan WHERE name = :n "
                f"AND county_code LIKE :c ORDER BY id{suffix}"
            ),
            {"n": value, "c": f"{county_code or ''}%"},
        ).all()
        if len(rows) > 1:
            counties = ", ".join(r.county_code for r in rows)
            raise PlanError(
                f"several plans are named {value!r} (counties {counties}); name the county"
            )
        if not rows:
            raise PlanError(f"no plan {value!r}; `wangge grids list` shows the plans")
        return PlanRow(**rows[0]._mapping)
    rows = conn.execute(
        text(f"SELECT {_PLAN_COLUMNS} FROM grid_plan WHERE id = :i{suffix}"),
        {"i": value},
    ).all()
    if not rows:
        hint = ""
        if plan_named_anywhere(conn, str(plan_ref).strip()):
            hint = f"; the plan named {str(plan_ref).strip()!r} is name:{str(plan_ref).strip()}"
        raise PlanError(f"no plan with id {value}{hint}; `wangge grids list` shows the plans")
    return PlanRow(**rows[0]._mapping)


def plan_named_anywhere(conn: Connection, name: str) -> bool:
    """Whether any county has a plan called ``name``."""
    found = conn.execute(
        text("SELECT 1 FROM grid_plan WHERE name = :n LIMIT 1"), {"n": name}
    ).first()
    return found is not None


def publish_row(conn: Connection, plan_id: int, *, county_code: str, by: str) -> int | None:
    """Archive the county's published plan and publish ``plan_id``; the archived id or None."""
    archived = conn.execute(
        text(
            "UPDATE grid_plan SET status = 'archived', archived_at = now(), updated_at = now(), "
            "updated_by = :by WHERE county_code = :c AND status = 'published' RETURNING id"
        ),
        {"c": county_code, "by": by},
    ).scalar_one_or_none()
    conn.execute(
        text(
            "UPDATE grid_plan SET status = 'published', published_at = now(), "
            "updated_at = now(), updated_by = :by WHERE id = :id"
        ),
        {"id": plan_id, "by": by},
    )
    return None if archived is None else int(archived)


def bump_version(
    conn: Connection, plan_id: int, *, by: str, metrics: dict[str, Any], params: dict[str, Any]
) -> int:
    """Version + 1, who and when, new metrics and params (JSONB) of an edited plan; the version."""
    version = conn.execute(
        text(
            "UPDATE grid_plan SET version = version + 1, updated_at = now(), updated_by = :by, "
            "metrics = CAST(:m AS jsonb), params = CAST(:p AS jsonb) WHERE id = :id "
            "RETURNING version"
        ),
        {"by": by, "m": _json(metrics), "p": _json(params), "id": plan_id},
    ).scalar_one()
    return int(version)


# --------------------------------------------------------------------------- households


def plan_assignment(conn: Connection, plan_id: int) -> pd.DataFrame:
    """The whole assignment of a plan with the households' villages and natural units.

    Columns :data:`geo.frames.ASSIGNMENT_COLUMNS`, sorted by household code.
    """
    return pd.read_sql(
        text(
            "SELECT a.household_code, a.cell_code, h.village_code, h.natural_unit_code "
            "FROM cell_assignment a JOIN household h ON h.code = a.household_code "
            "WHERE a.plan_id = :p ORDER BY a.household_code"
        ),
        conn,
        params={"p": plan_id},
    )


def village_household_count(conn: Connection, village_code: str) -> int:
    """Households stored in one village."""
    n = conn.execute(
        text("SELECT count(*) FROM household WHERE village_code = :v"), {"v": village_code}
    ).scalar_one()
    return int(n)


def household_villages(conn: Connection, codes: list[str]) -> dict[str, str]:
    """Village of each stored household among ``codes`` (unknown codes are left out)."""
    rows = conn.execute(
        text("SELECT code, village_code FROM household WHERE code = ANY(CAST(:codes AS text[]))"),
        {"codes": codes},
    ).all()
    return {r.code: r.village_code for r in rows}


def village_households(conn: Connection, village_code: str) -> gpd.GeoDataFrame:
    """One village's households (:data:`geo.frames.HOUSEHOLD_COLUMNS`, EPSG:4326) by code."""
    return _read_geo(
        conn,
        "SELECT code, natural_unit_code, village_code, residents, residents_at_home, colour, "
        "ST_AsBinary(geom) AS wkb FROM household WHERE village_code = :v ORDER BY code",
        {"v": village_code},
    )


def _read_geo(conn: Connection, query: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    """Run ``query`` (geometry selected as ``ST_AsBinary(geom) AS wkb``) into a GeoDataFrame
    in EPSG:4326, geometry column ``geometry``, like :func:`geo.db.io.read_frame` but with
    the geometries parsed in one vectorised call (``read_postgis`` parses them one by one:
    10 ms of an edit's read of a 1,000-household village)."""
    frame = pd.read_sql(text(query), conn, params=params)
    geoms = shapely.from_wkb(frame.pop("wkb").to_numpy())
    return gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=STORAGE_CRS)
    )


def village_outline(conn: Connection, village_code: str) -> gpd.GeoDataFrame:
    """One village's ``admin_unit`` row (code, name, parent_code, kind; EPSG:4326); may be empty."""
    return io.read_frame(
        conn,
        "SELECT code, name, parent_code, kind, geom FROM admin_unit "
        "WHERE level = 'village' AND code = :v",
        params={"v": village_code},
    )


# --------------------------------------------------------------------------- JSONB


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(value: dict[str, Any]) -> str:
    return json.dumps(_jsonable(value))


# --------------------------------------------------------------------------- edit history


def record_edit(
    conn: Connection,
    plan_id: int,
    *,
    version: int,
    kind: str,
    op: str,
    village: str,
    summary: str,
    reverts: int | None,
    params_before: dict[str, Any] | None,
    by: str,
) -> None:
    """Record version ``version`` of a plan and keep the village's rows it is about to replace.

    Inserts the ``grid_plan_edit`` row, then copies ``village``'s current cells and
    assignments into ``grid_cell_before`` / ``cell_assignment_before`` under that version.
    Call it before the village's rows are replaced.
    """
    conn.execute(
        text(
            "INSERT INTO grid_plan_edit (plan_id, version, kind, op, village_code, summary, "
            "reverts, params_before, created_by) VALUES (:p, :v, :k, :op, :vil, :s, :r, "
            "CAST(:pb AS jsonb), :by)"
        ),
        {
            "p": plan_id,
            "v": version,
            "k": kind,
            "op": op,
            "vil": village,
            "s": summary,
            "r": reverts,
            "pb": None if params_before is None else _json(params_before),
            "by": by,
        },
    )
    cols = ", ".join(CELL_DB_COLUMNS)  # constant column names, not input
    conn.execute(
        text(
            f"INSERT INTO grid_cell_before (plan_id, version, {cols}, geom) "
            f"SELECT plan_id, :v, {cols}, geom FROM grid_cell "
            "WHERE plan_id = :p AND village_code = :vil"
        ),
        {"p": plan_id, "v": version, "vil": village},
    )
    conn.execute(
        text(
            "INSERT INTO cell_assignment_before (plan_id, version, household_code, cell_code) "
            "SELECT a.plan_id, :v, a.household_code, a.cell_code FROM cell_assignment a "
            "JOIN household h ON h.code = a.household_code "
            "WHERE a.plan_id = :p AND h.village_code = :vil"
        ),
        {"p": plan_id, "v": version, "vil": village},
    )


def restore_village(conn: Connection, plan_id: int, *, version: int, village: str) -> None:
    """Put back ``village``'s cells and assignments as they were before version ``version``."""
    conn.execute(
        text(
            "DELETE FROM cell_assignment a USING household h WHERE a.plan_id = :p "
            "AND h.code = a.household_code AND h.village_code = :vil"
        ),
        {"p": plan_id, "vil": village},
    )
    conn.execute(
        text("DELETE FROM grid_cell WHERE plan_id = :p AND village_code = :vil"),
        {"p": plan_id, "vil": village},
    )
    cols = ", ".join(CELL_DB_COLUMNS)  # constant column names, not input
    conn.execute(
        text(
            f"INSERT INTO grid_cell (plan_id, {cols}, geom) SELECT plan_id, {cols}, geom "
            "FROM grid_cell_before WHERE plan_id = :p AND version = :v"
        ),
        {"p": plan_id, "v": version},
    )
    conn.execute(
        text(
            "INSERT INTO cell_assignment (plan_id, household_code, cell_code) "
            "SELECT plan_id, household_code, cell_code FROM cell_assignment_before "
            "WHERE plan_id = :p AND version = :v"
        ),
        {"p": plan_id, "v": version},
    )


def plan_edits(conn: Connection, plan_id: int) -> pd.DataFrame:
    """The versions of a plan after the first, oldest first.

    Columns ``version``, ``kind`` (edit, undo, redo), ``op``, ``village_code``, ``summary``,
    ``reverts`` (the version an undo or redo took back, else null), ``created_by``,
    ``created_at``.
    """
    return pd.read_sql(
        text(
            "SELECT version, kind, op, village_code, summary, reverts, created_by, created_at "
            "FROM grid_plan_edit WHERE plan_id = :p ORDER BY version"
        ),
        conn,
        params={"p": plan_id},
    )


def edit_params_before(conn: Connection, plan_id: int, version: int) -> dict | None:
    """The plan's ``params`` before version ``version`` (the stored JSON, or None)."""
    return conn.execute(
        text("SELECT params_before FROM grid_plan_edit WHERE plan_id = :p AND version = :v"),
        {"p": plan_id, "v": version},
    ).scalar_one()


# --------------------------------------------------------------------------- workbench reads


def plan_villages(conn: Connection, plan_id: int, county_code: str) -> pd.DataFrame:
    """The county's villages with their township and the plan's figures, by code.

    Columns ``township_code``, ``township_name``, ``village_code``, ``village_name``,
    ``households`` (stored in the village), ``assigned`` (in a cell of the plan), ``cells``,
    ``cells_flagged``.
    """
    return pd.read_sql(
        text(
            "SELECT t.code AS township_code, t.name AS township_name, v.code AS village_code, "
            "v.name AS village_name, "
            "(SELECT count(*) FROM household h WHERE h.village_code = v.code) AS households, "
            "(SELECT count(*) FROM cell_assignment a JOIN household h "
            " ON h.code = a.household_code WHERE a.plan_id = :p AND h.village_code = v.code) "
            "AS assigned, "
            "(SELECT count(*) FROM grid_cell c WHERE c.plan_id = :p AND c.village_code = v.code) "
            "AS cells, "
            "(SELECT count(*) FROM grid_cell c WHERE c.plan_id = :p AND c.village_code = v.code "
            " AND c.flag_reason IS NOT NULL) AS cells_flagged "
            "FROM admin_unit v JOIN admin_unit t ON t.code = v.parent_code "
            "WHERE v.level = 'village' AND v.code LIKE :c ORDER BY v.code"
        ),
        conn,
        params={"p": plan_id, "c": f"{county_code}%"},
    )


def village_natural_units(conn: Connection, village_code: str) -> gpd.GeoDataFrame:
    """One village's natural units (code, name, kind; EPSG:4326), by code; may be empty."""
    return io.read_frame(
        conn,
        "SELECT code, name, kind, geom FROM admin_unit "
        "WHERE level = 'natural_unit' AND parent_code = :v ORDER BY code",
        params={"v": village_code},
    )


def village_township(conn: Connection, village_code: str) -> tuple[str, str]:
    """``(code, name)`` of a village's township (empty strings if it has none)."""
    row = conn.execute(
        text(
            "SELECT t.code, t.name FROM admin_unit v JOIN admin_unit t ON t.code = v.parent_code "
            "WHERE v.code = :v"
        ),
        {"v": village_code},
    ).first()
    return ("", "") if row is None else (row.code, row.name)


# --------------------------------------------------------------------------- re-join on publish


_BEST_CELL = (
    "SELECT DISTINCT ON (o.cell_code) o.cell_code AS old_cell, n.cell_code AS new_cell "
    "FROM cell_assignment o JOIN cell_assignment n ON n.household_code = o.household_code "
    "AND n.plan_id = :new WHERE o.plan_id = :old GROUP BY o.cell_code, n.cell_code "
    "ORDER BY o.cell_code, count(*) DESC, n.cell_code"
)


def rejoin_workers(conn: Connection, old_plan_id: int, new_plan_id: int, *, by: str) -> int:
    """Post the workers of the old plan's cells to the new plan's cells; how many moved.

    A worker of old cell ``c`` goes to the new plan's cell holding most of ``c``'s
    households (ties: the lowest code); a worker whose old cell had no household left in
    the new plan stays where it was.  Each move is recorded in ``plan_rejoin``.
    """
    moved = conn.execute(
        text(
            f"WITH best AS ({_BEST_CELL}), "
            "moved AS (UPDATE grid_worker w SET plan_id = :new, cell_code = b.new_cell "
            "FROM best b WHERE w.plan_id = :old AND w.cell_code = b.old_cell "
            "RETURNING w.code, w.township_code, b.old_cell, b.new_cell) "
            "INSERT INTO plan_rejoin (kind, key, township_code, old_plan_id, old_cell_code, "
            "new_plan_id, new_cell_code, by) SELECT 'worker', code, township_code, :old, "
            "old_cell, :new, new_cell, :by FROM moved"
        ),
        {"old": old_plan_id, "new": new_plan_id, "by": by},
    )
    return int(moved.rowcount)


def rejoin_incidents(
    conn: Connection,
    old_plan_id: int | None,
    new_plan_id: int,
    *,
    county_code: str,
    done_states: tuple[str, ...],
    by: str,
) -> int:
    """Put the county's open incidents in the new plan's cells; how many were re-joined.

    Open: status not in ``done_states``.  Those of the old plan (or of no plan, in the
    county) get the new plan's cell containing their point (on a shared edge: the lowest
    code), else the new cell of their household; an incident with neither keeps its cell.
    Each re-join is recorded in ``plan_rejoin`` with the old plan and cell.
    """
    moved = conn.execute(
        text(
            "WITH target AS (SELECT i.id, i.plan_id AS old_plan, i.cell_code AS old_cell, "
            "i.township_code, coalesce((SELECT c.code FROM grid_cell c WHERE c.plan_id = :new "
            "AND ST_Intersects(c.geom, i.geom) ORDER BY c.code LIMIT 1), "
            "(SELECT a.cell_code FROM cell_assignment a WHERE a.plan_id = :new "
            "AND a.household_code = i.household_code)) AS new_cell FROM incident i "
            "WHERE i.status <> ALL(CAST(:done AS text[])) AND (i.plan_id = :old OR "
            "(i.plan_id IS NULL AND coalesce(i.village_code, i.township_code) LIKE :county))), "
            "moved AS (UPDATE incident i SET plan_id = :new, cell_code = t.new_cell "
            "FROM target t WHERE i.id = t.id AND t.new_cell IS NOT NULL "
            "RETURNING i.id, t.township_code, t.old_plan, t.old_cell, t.new_cell) "
            "INSERT INTO plan_rejoin (kind, key, township_code, old_plan_id, old_cell_code, "
            "new_plan_id, new_cell_code, by) SELECT 'incident', CAST(id AS text), "
            "township_code, old_plan, old_cell, :new, new_cell, :by FROM moved"
        ),
        {
            "old": old_plan_id,
            "new": new_plan_id,
            "done": list(done_states),
            "county": f"{county_code}%",
            "by": by,
        },
    )
    return int(moved.rowcount)


def plan_rejoins(conn: Connection, new_plan_id: int) -> pd.DataFrame:
    """The re-joins a publish of ``new_plan_id`` recorded, by kind and key.

    Columns ``kind``, ``key``, ``township_code``, ``old_plan_id``, ``old_cell_code``,
    ``new_plan_id``, ``new_cell_code``, ``at``, ``by``.
    """
    return pd.read_sql(
        text(
            "SELECT kind, key, township_code, old_plan_id, old_cell_code, new_plan_id, "
            "new_cell_code, at, by FROM plan_rejoin WHERE new_plan_id = :p ORDER BY kind, key"
        ),
        conn,
        params={"p": new_plan_id},
    )


def rejoin_preview_workers(
    conn: Connection, old_plan_id: int, new_plan_id: int, village_code: str
) -> pd.DataFrame:
    """The workers of the old plan's cells in a village and where publishing the new plan
    would post them (the rule of :func:`rejoin_workers`; nothing written).

    Columns ``code``, ``name``, ``cell_now``, ``cell_after`` (None: stays), by code.
    """
    return pd.read_sql(
        text(
            f"WITH best AS ({_BEST_CELL}) SELECT w.code, w.name, w.cell_code AS cell_now, "
            "b.new_cell AS cell_after FROM grid_worker w JOIN grid_cell c "
            "ON c.plan_id = w.plan_id AND c.code = w.cell_code LEFT JOIN best b "
            "ON b.old_cell = w.cell_code WHERE w.plan_id = :old AND c.village_code = :v "
            "ORDER BY w.code"
        ),
        conn,
        params={"old": old_plan_id, "new": new_plan_id, "v": village_code},
    )


def rejoin_preview_incidents(
    conn: Connection,
    old_plan_id: int,
    new_plan_id: int,
    village_code: str,
    *,
    done_states: tuple[str, ...],
) -> pd.DataFrame:
    """The open incidents of the old plan in a village and the new plan's cell each would
    get on publishing (the rule of :func:`rejoin_incidents`; nothing written).

    Columns ``id``, ``status``, ``category_code``, ``cell_now``, ``cell_after``, by id.
    """
    return pd.read_sql(
        text(
            "SELECT i.id, i.status, i.category_code, i.cell_code AS cell_now, "
            "coalesce((SELECT c.code FROM grid_cell c WHERE c.plan_id = :new "
            "AND ST_Intersects(c.geom, i.geom) ORDER BY c.code LIMIT 1), "
            "(SELECT a.cell_code FROM cell_assignment a WHERE a.plan_id = :new "
            "AND a.household_code = i.household_code), i.cell_code) AS cell_after "
            "FROM incident i WHERE i.plan_id = :old AND i.village_code = :v "
            "AND i.status <> ALL(CAST(:done AS text[])) ORDER BY i.id"
        ),
        conn,
        params={"old": old_plan_id, "new": new_plan_id, "v": village_code,
                "done": list(done_states)},
    )  # fmt: skip


def published_plan_of(conn: Connection, county_code: str) -> int | None:
    """Id of the county's published plan, or None."""
    found = conn.execute(
        text("SELECT id FROM grid_plan WHERE county_code = :c AND status = 'published'"),
        {"c": county_code},
    ).scalar_one_or_none()
    return None if found is None else int(found)


# --------------------------------------------------------------------------- edit write-back


def update_village_rows(
    conn: Connection,
    plan_id: int,
    village: str,
    *,
    before: tuple[gpd.GeoDataFrame, pd.DataFrame],
    after: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    """Write an edit of one village: only the cells and assignments that changed.

    ``before`` is the village's stored ``(cells, assignment)`` as read for the edit,
    ``after`` the edit's (other villages' rows are ignored).  New cells are inserted and
    changed ones updated first, then the households whose cell changed are re-pointed (new
    ones inserted, gone ones deleted), then cells no longer used are deleted: every foreign
    key holds at every step, and an edit that moves 5 households rewrites 5 assignment rows
    and the cells that changed, not the whole village (cf. :func:`replace_village_rows`).
    """
    old_cells, old_a = (f.loc[f["village_code"] == village] for f in before)
    cells, a = (f.loc[f["village_code"] == village] for f in after)
    changed = _changed_cells(old_cells, cells)
    _upsert_cells(conn, plan_id, changed)
    old = dict(zip(old_a["household_code"], old_a["cell_code"], strict=True))
    new = dict(zip(a["household_code"], a["cell_code"], strict=True))
    moved = {h: c for h, c in new.items() if h in old and old[h] != c}
    added = {h: c for h, c in new.items() if h not in old}
    gone = [h for h in old if h not in new]
    p = {"p": plan_id}
    if moved:
        conn.execute(
            text(
                "UPDATE cell_assignment a SET cell_code = u.c FROM unnest(CAST(:h AS text[]), "
                "CAST(:c AS text[])) AS u(h, c) WHERE a.plan_id = :p AND a.household_code = u.h"
            ),
            {**p, "h": list(moved), "c": list(moved.values())},
        )
    if added:
        conn.execute(
            text(
                "INSERT INTO cell_assignment (plan_id, household_code, cell_code) SELECT :p, h, c "
                "FROM unnest(CAST(:h AS text[]), CAST(:c AS text[])) AS u(h, c)"
            ),
            {**p, "h": list(added), "c": list(added.values())},
        )
    if gone:
        conn.execute(
            text(
                "DELETE FROM cell_assignment WHERE plan_id = :p "
                "AND household_code = ANY(CAST(:h AS text[]))"
            ),
            {**p, "h": gone},
        )
    dropped = sorted(set(old_cells["code"]) - set(cells["code"]))
    if dropped:
        conn.execute(
            text("DELETE FROM grid_cell WHERE plan_id = :p AND code = ANY(CAST(:c AS text[]))"),
            {**p, "c": dropped},
        )


def _changed_cells(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows of ``new`` that are not in ``old`` exactly (same code, figures, geometry)."""

    def records(frame: gpd.GeoDataFrame) -> list[dict]:
        rows = pd.DataFrame(frame[list(CELL_DB_COLUMNS)]).to_dict("records")
        for row, geom in zip(rows, frame.geometry.to_numpy(), strict=True):
            row["_geom"] = geom
        return rows

    was = {r["code"]: r for r in records(old)}
    keep = []
    for i, row in enumerate(records(new)):
        before = was.get(row["code"])
        same = before is not None and all(_same(row[c], before[c]) for c in CELL_DB_COLUMNS)
        if not (same and shapely.equals_exact(row["_geom"], before["_geom"], 0.0)):
            keep.append(i)
    return new.iloc[keep]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b))
        )
    return bool(a == b)


def _upsert_cells(conn: Connection, plan_id: int, cells: gpd.GeoDataFrame) -> None:
    """Insert the new cells and update the existing ones (figures and geometry)."""
    if cells.empty:
        return
    wkb = shapely.to_wkb(io.as_multipolygons(cells.geometry).to_numpy(), hex=False)
    values = {
        "code": cells["code"].astype(str).tolist(),
        "village_code": cells["village_code"].astype(str).tolist(),
        "households": [int(v) for v in cells["households"]],
        "residents": [int(v) for v in cells["residents"]],
        "area_m2": [float(v) for v in cells["area_m2"]],
        "polsby_popper": [float(v) for v in cells["polsby_popper"]],
        "flag_reason": [v if isinstance(v, str) else None for v in cells["flag_reason"]],
        "contiguous": [bool(v) for v in cells["contiguous"]],
        "natural_units_split": [int(v) for v in cells["natural_units_split"]],
        "within_bounds": [bool(v) for v in cells["within_bounds"]],
        "geom": [bytes(g) for g in wkb],
    }
    cols = ", ".join(CELL_DB_COLUMNS)  # constant column names, not input
    conn.execute(
        text(
            f"INSERT INTO grid_cell (plan_id, {cols}, geom) SELECT :p, {cols}, "
            "ST_SetSRID(ST_GeomFromWKB(geom), 4326) FROM unnest(CAST(:code AS text[]), "
            "CAST(:village_code AS text[]), CAST(:households AS int[]), "
            "CAST(:residents AS int[]), CAST(:area_m2 AS float8[]), "
            "CAST(:polsby_popper AS float8[]), CAST(:flag_reason AS text[]), "
            "CAST(:contiguous AS bool[]), CAST(:natural_units_split AS int[]), "
            f"CAST(:within_bounds AS bool[]), CAST(:geom AS bytea[])) AS u({cols}, geom) "
            "ON CONFLICT (plan_id, code) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in (*CELL_DB_COLUMNS[1:], "geom"))
        ),
        {"p": plan_id, **values},
    )
