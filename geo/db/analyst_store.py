"""The statements behind :mod:`geo.data`, the analysts' entry point.

Reads that :mod:`geo.db.io` and :mod:`geo.db.queries` do not already have (a plan's cells
with every metric, incidents of a period, visits at their household, workers with their
cell), and the analyst's own results tables: created from a frame's columns, filled with
binary COPY (:func:`geo.db.io.copy_frame`), marked with a table comment so that
``replace=True`` only ever drops a table an analyst wrote.  Wangge's own tables (every table
of :data:`geo.db.all_models.Base`'s metadata, Alembic's and PostGIS') are refused by name.

Values are always bound; identifiers go through :class:`psycopg.sql.Identifier`.  Frames
come back in EPSG:4326 with the geometry column ``geometry``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import geopandas as gpd
import pandas as pd
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from geo.db import io
from geo.db.all_models import Base
from geo.errors import DataError
from geo.projection import STORAGE_CRS

#: The comment that marks a table as an analyst's own (``replace=True`` drops only these).
ANALYST_MARK = "wangge analyst table"
#: Names an analyst's table may take: lower-case letters, digits and ``_``, at most 63.
NAME_RULE = "lower-case letters, digits and _, starting with a letter, at most 63 characters"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SYSTEM = frozenset({"alembic_version", "spatial_ref_sys", "geometry_columns", "geography_columns"})


def wangge_tables() -> frozenset[str]:
    """The names an analyst's table may not take: Wangge's schema, Alembic's and PostGIS'."""
    return frozenset(Base.metadata.tables) | _SYSTEM


def check_table_name(name: str) -> None:
    """Refuse a name that breaks :data:`NAME_RULE` or belongs to Wangge.

    Raises
    ------
    DataError
        The name is not allowed; the message says why and what to do.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise DataError(f"table name {name!r} is not allowed: use {NAME_RULE}")
    if name in wangge_tables() or name.startswith("pg_"):
        raise DataError(
            f"{name!r} is one of Wangge's own tables and is never written by an analyst; "
            "choose another name (e.g. prefix it with your initials or 'result_')"
        )


# ------------------------------------------------------------------------------------ reads


def published_plans(con: Connection | Engine, county_prefix: str = "") -> pd.DataFrame:
    """Published plans (id, county_code, name) of the counties whose code starts so."""
    return pd.read_sql(
        text(
            "SELECT id, county_code, name FROM grid_plan WHERE status = 'published' "
            "AND county_code LIKE :c ORDER BY county_code"
        ),
        con,
        params={"c": f"{county_prefix}%"},
    )


def plan_cells(con: Connection | Engine, plan_id: int) -> gpd.GeoDataFrame:
    """Every column of a plan's cells, with ``plan_id`` and ``township_code``."""
    return io.read_frame(
        con,
        "SELECT plan_id, code, village_code, left(village_code, 9) AS township_code, "
        "households, residents, area_m2, polsby_popper, contiguous, natural_units_split, "
        "within_bounds, flag_reason, geom FROM grid_cell WHERE plan_id = :plan ORDER BY code",
        params={"plan": plan_id},
    )


def plan_assignment(con: Connection | Engine, plan_id: int) -> pd.DataFrame:
    """A plan's household -> cell assignment with the household's village and natural unit."""
    return pd.read_sql(
        text(
            "SELECT a.household_code, a.cell_code, h.village_code, h.natural_unit_code "
            "FROM cell_assignment a "
            "JOIN household h ON h.code = a.household_code WHERE a.plan_id = :plan "
            "ORDER BY a.household_code"
        ),
        con,
        params={"plan": plan_id},
    )


def households(con: Connection | Engine, prefix: str, *, points: bool) -> gpd.GeoDataFrame:
    """Households whose code starts with ``prefix``: footprints, or stored points."""
    geom = "point" if points else "geom"
    return io.read_frame(
        con,
        "SELECT code, natural_unit_code, village_code, residents, residents_at_home, colour, "
        f"{geom} AS geom FROM household WHERE code LIKE :p ORDER BY code",
        params={"p": f"{prefix}%"},
    )


def incidents(
    con: Connection | Engine,
    prefix: str,
    *,
    start: datetime | None,
    end: datetime | None,
) -> gpd.GeoDataFrame:
    """Incidents of the townships whose code starts with ``prefix``, reported in
    ``[start, end)`` (None: unbounded); no household reference."""
    return io.read_frame(
        con,
        "SELECT id, category_code, platform_code, source, status, tier, reported_at, "
        "accepted_at, resolved_at, closed_at, due_at, satisfaction, plan_id, cell_code, "
        "village_code, township_code, geom FROM incident "
        "WHERE coalesce(township_code, '') LIKE :p "
        "AND (CAST(:start AS timestamptz) IS NULL OR reported_at >= :start) "
        "AND (CAST(:end AS timestamptz) IS NULL OR reported_at < :end) ORDER BY id",
        params={"p": f"{prefix}%", "start": start, "end": end},
    )


def visits(
    con: Connection | Engine,
    prefix: str,
    *,
    start: datetime | None,
    end: datetime | None,
) -> gpd.GeoDataFrame:
    """Visits to households whose code starts with ``prefix`` in ``[start, end)``, each at
    the household's stored point."""
    return io.read_frame(
        con,
        "SELECT v.id, v.household_code, v.worker_code, v.visited_at, h.village_code, "
        "h.point AS geom FROM visit v JOIN household h ON h.code = v.household_code "
        "WHERE v.household_code LIKE :p "
        "AND (CAST(:start AS timestamptz) IS NULL OR v.visited_at >= :start) "
        "AND (CAST(:end AS timestamptz) IS NULL OR v.visited_at < :end) "
        "ORDER BY v.visited_at, v.id",
        params={"p": f"{prefix}%", "start": start, "end": end},
    )


def workers(con: Connection | Engine, prefix: str) -> gpd.GeoDataFrame:
    """Grid workers of the townships whose code starts with ``prefix``, each with the
    polygon of the cell they look after (None without one); no phone numbers."""
    return io.read_frame(
        con,
        "SELECT w.code, w.name, w.township_code, w.plan_id, w.cell_code, w.started_on, "
        "c.households, c.residents, c.geom FROM grid_worker w "
        "LEFT JOIN grid_cell c ON c.plan_id = w.plan_id AND c.code = w.cell_code "
        "WHERE coalesce(w.township_code, '') LIKE :p ORDER BY w.code",
        params={"p": f"{prefix}%"},
    )


def service_points(con: Connection | Engine, prefix: str, *, kind: str | None) -> gpd.GeoDataFrame:
    """Service points of villages whose code starts with ``prefix`` (optionally one kind)."""
    return io.read_frame(
        con,
        "SELECT code, kind, name, village_code, geom FROM service_point "
        "WHERE coalesce(village_code, code) LIKE :p "
        "AND (CAST(:kind AS text) IS NULL OR kind = :kind) ORDER BY code",
        params={"p": f"{prefix}%", "kind": kind},
    )


# ---------------------------------------------------------------------------- own tables


def table_comment(conn: Connection, name: str) -> str | None:
    """``None`` when there is no table ``name`` on the search path, else its comment
    (``""`` without one)."""
    row = conn.execute(
        text(
            "SELECT coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c "
            "WHERE c.oid = to_regclass(quote_ident(:t))"
        ),
        {"t": name},
    ).first()
    return None if row is None else row[0]


def _column_type(series: pd.Series) -> str:
    """The server type an analyst's column is stored as."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamp with time zone"
    return "text"


def _execute(conn: Connection, statement: sql.Composable) -> None:
    conn.exec_driver_sql(statement.as_string(conn.connection.driver_connection))


def create_table(conn: Connection, frame: gpd.GeoDataFrame, name: str, *, replace: bool) -> None:
    """Create table ``name`` with the frame's columns (geometry as ``geom``, SRID 4326, a
    GiST index), marked as an analyst's table.

    Raises
    ------
    DataError
        The name is refused (:func:`check_table_name`); the table exists and ``replace`` is
        False; or it exists and was not written by an analyst.
    """
    check_table_name(name)
    comment = table_comment(conn, name)
    if comment is not None:
        if comment != ANALYST_MARK:
            raise DataError(
                f"table {name!r} exists and was not written through geo.data.to_table; "
                "it is left alone: choose another name"
            )
        if not replace:
            raise DataError(f"table {name!r} exists; pass replace=True to overwrite it")
        _execute(conn, sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    geometry = frame.geometry.name
    if "geom" in frame.columns and geometry != "geom":
        raise DataError(
            "the frame has a column 'geom' besides its geometry; the geometry is stored as "
            "geom: rename that column first"
        )
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_column_type(frame[c])))
        for c in frame.columns
        if c != geometry
    ]
    srid = sql.Literal(STORAGE_CRS.to_epsg())
    columns.append(sql.SQL("geom geometry(Geometry, {})").format(srid))
    _execute(
        conn,
        sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), sql.SQL(", ").join(columns)),
    )
    _execute(
        conn,
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"ix_{name}_geom"[:63]), sql.Identifier(name)
        ),
    )
    _execute(
        conn,
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            sql.Identifier(name), sql.Literal(ANALYST_MARK)
        ),
    )


def write_table(conn: Connection, frame: gpd.GeoDataFrame, name: str, *, replace: bool) -> int:
    """Create an analyst's table ``name`` from ``frame`` and COPY its rows in; rows written.

    Runs inside the caller's transaction: the table appears whole or not at all.
    """
    create_table(conn, frame, name, replace=replace)
    ready = frame.copy()
    for column in ready.columns:
        if column != ready.geometry.name and _column_type(ready[column]) == "text":
            values = ready[column]
            ready[column] = (
                values.astype(object)
                .where(values.notna(), None)
                .map(lambda v: v if v is None or isinstance(v, str) else str(v))
            )
    return io.copy_frame(conn, ready.reset_index(drop=True), name)


def read_table(con: Connection | Engine, name: str) -> gpd.GeoDataFrame:
    """An analyst's table back as a GeoDataFrame (EPSG:4326).

    Raises
    ------
    DataError
        The name is refused, there is no such table, or it is not an analyst's.
    """
    check_table_name(name)
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(name))
    with _connection(con) as conn:
        comment = table_comment(conn, name)
        if comment != ANALYST_MARK:
            raise DataError(
                f"no analyst table {name!r} in the database (write one with geo.data.to_table)"
            )
        return io.read_frame(conn, query.as_string(conn.connection.driver_connection))


@contextmanager
def _connection(con: Connection | Engine) -> Iterator[Connection]:
    """``con`` itself, or a connection of the engine ``con`` (closed afterwards)."""
    if isinstance(con, Engine):
        with con.connect() as conn:
            yield conn
    else:
        yield con
