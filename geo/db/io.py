"""Fast GeoDataFrame <-> PostGIS I/O.

Writing goes through PostgreSQL's binary ``COPY ... FROM STDIN`` (geometries as EWKB with
SRID 4326, other columns typed as the table's columns) on the caller's connection, so it
joins the caller's transaction: a load either lands whole or not at all.  ``mode="upsert"``
copies into a temporary table first and then ``INSERT ... ON CONFLICT (key) DO UPDATE``,
which makes re-loading the same rows idempotent.

Reading uses :func:`geopandas.read_postgis` and always returns frames in EPSG:4326 with the
CRS set.  Row-by-row ORM inserts and plain ``GeoDataFrame.to_postgis`` are deliberately not
used for bulk data: ``benchmarks/bench_db_io.py`` measures the difference.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from geo.db import _copy_binary
from geo.errors import DataError
from geo.frames import ADMIN_COLUMNS, HOUSEHOLD_COLUMNS, County, check_columns
from geo.projection import STORAGE_CRS, STORAGE_SRID, require_crs

WriteMode = Literal["append", "upsert"]
_SRID_LE = STORAGE_SRID.to_bytes(4, "little")


def _ewkb(geoms: gpd.GeoSeries) -> list[bytes | None]:
    """Little-endian EWKB with SRID 4326, as PostGIS' binary COPY input expects.

    Plain WKB with the SRID flag and SRID spliced into each header: about 10x faster than
    asking shapely for EWKB (which first copies every geometry to set its SRID).
    """
    wkb = shapely.to_wkb(np.asarray(geoms.values, dtype=object), byte_order=1)
    return [None if w is None else w[:4] + bytes((w[4] | 0x20,)) + _SRID_LE + w[5:] for w in wkb]


def table_columns(
    conn: Connection, table: str, columns: Sequence[str] | None = None
) -> dict[str, str]:
    """The server's type of each column of ``table``, checked against the catalogue.

    ``table`` is one unqualified name found on the search path (temporary tables included),
    matched exactly as written (no case folding); it is passed to the server as a bound
    value, never spliced into SQL.

    Parameters
    ----------
    conn
        An SQLAlchemy connection.
    table
        Table name, e.g. ``"household"``.
    columns
        The columns wanted; None for all of them.

    Returns
    -------
    dict
        ``{column: type}`` (types as ``format_type`` spells them, e.g. ``"geometry"``) for
        ``columns`` in their order, or for every column of the table in table order.

    Raises
    ------
    DataError
        If there is no such table (the message lists the tables there are) or it lacks one
        of ``columns`` (the message lists its columns).
    """
    rows = conn.execute(
        text(
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
            "WHERE attrelid = to_regclass(quote_ident(:t)) AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum"
        ),
        {"t": table},
    ).all()
    if not rows:
        tables = conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                "AND pg_table_is_visible(oid) ORDER BY relname"
            )
        ).scalars()
        raise DataError(f"no table {table!r} in the database; tables: {', '.join(tables)}")
    types = dict(rows)
    if columns is None:
        return types
    missing = [c for c in columns if c not in types]
    if missing:
        raise DataError(
            f"table {table} has no column(s) {', '.join(map(repr, missing))}; "
            f"its columns: {', '.join(types)}"
        )
    return {c: types[c] for c in columns}


def _copy_types(types: dict[str, str]) -> list[str]:
    """``table_columns`` types as psycopg dumper names (geometry is sent as EWKB bytes)."""
    rename = {"geometry": "bytea", "character varying": "text", "character": "text"}
    return [rename.get(t, t) for t in types.values()]


def _names(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def copy_statement(table: str, columns: Sequence[str], *, binary: bool = False) -> sql.Composed:
    """``COPY table (columns) FROM STDIN``, identifiers quoted by psycopg."""
    tail = sql.SQL(" (FORMAT BINARY)" if binary else "")
    return sql.SQL("COPY {} ({}) FROM STDIN{}").format(sql.Identifier(table), _names(columns), tail)


def _run(conn: Connection, statement: sql.Composable) -> None:
    """Execute a composed statement (no parameters) through SQLAlchemy, in its transaction."""
    conn.exec_driver_sql(statement.as_string(conn.connection.driver_connection))


def _python_values(series: pd.Series) -> list:
    """Column values as Python objects, with every kind of missing value as None."""
    values = series.astype(object).where(series.notna(), None)
    return values.tolist()


COPY_CHUNK_ROWS = 8192


def _copy_chunked(raw, table: str, columns, values, types) -> None:
    """Send the binary COPY in chunks: the server parses one while Python builds the next."""
    n = len(values[0])
    starts = range(0, n, COPY_CHUNK_ROWS) if n else [0]
    dtypes = _copy_binary.layout(values, types)
    chunks = (
        _copy_binary.rows([v[i : i + COPY_CHUNK_ROWS] for v in values], types, dtypes)
        for i in starts
    )
    order, first = next(chunks)
    statement = copy_statement(table, [columns[i] for i in order], binary=True)
    with raw.cursor() as cur, cur.copy(statement) as cp:
        cp.write(_copy_binary.SIGNATURE + first)
        for _, body in chunks:
            cp.write(body)
        cp.write(_copy_binary.TRAILER)


def _copy(conn: Connection, table: str, frame: gpd.GeoDataFrame, types: dict[str, str]) -> None:
    """Binary COPY of ``frame`` (attribute columns, then the geometry) into ``table``.

    ``types`` are the checked columns of ``table`` (:func:`table_columns`), in frame order
    with the geometry column last.
    """
    columns = list(types)
    pg_types = _copy_types(types)
    values = [_python_values(frame[c]) for c in columns[:-1]] + [_ewkb(frame.geometry)]
    raw = conn.connection.driver_connection
    if _copy_binary.supported(pg_types) and _copy_binary.fits(values, pg_types):
        _copy_chunked(raw, table, columns, values, pg_types)
        return
    with raw.cursor() as cur, cur.copy(copy_statement(table, columns, binary=True)) as cp:
        cp.set_types(pg_types)
        for row in zip(*values, strict=True):
            cp.write_row(row)


Existing = Literal["update", "keep"]


def merge_statement(
    source: str,
    table: str,
    columns: Sequence[str],
    *,
    key: Sequence[str],
    existing: Existing = "update",
) -> sql.Composed:
    """The one upsert: insert ``columns`` of the rows of ``source`` into ``table`` by ``key``.

    ``existing="update"`` updates the other columns of rows whose key is already there
    (``INSERT ... ON CONFLICT (key) DO UPDATE``; ``key`` must be a unique constraint);
    ``"keep"`` leaves them as they are and inserts only new keys (``WHERE NOT EXISTS``; no
    constraint needed).  Identifiers go through :class:`psycopg.sql.Identifier`.
    """
    cols = _names(columns)
    head = sql.SQL("INSERT INTO {table} ({cols}) SELECT {cols} FROM {source}").format(
        table=sql.Identifier(table), cols=cols, source=sql.Identifier(source)
    )
    if existing == "keep":
        match = sql.SQL(" AND ").join(
            sql.SQL("t.{k} = s.{k}").format(k=sql.Identifier(k)) for k in key
        )
        return head + sql.SQL(" s WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE {})").format(
            sql.Identifier(table), match
        )
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns if c not in key
    )
    return head + sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(_names(key), updates)


def stage_table(conn: Connection, table: str, columns: Sequence[str]) -> str:
    """Create an empty temporary table with ``columns`` typed as in ``table``; its name.

    The caller checks ``table`` and ``columns`` first (:func:`table_columns`).
    """
    staging = f"_stage_{uuid.uuid4().hex[:12]}"
    _run(
        conn,
        sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(staging), _names(columns), sql.Identifier(table)
        ),
    )
    return staging


def merge_staged(
    conn: Connection,
    staging: str,
    table: str,
    columns: Sequence[str],
    *,
    key: Sequence[str],
    existing: Existing = "update",
) -> None:
    """Upsert the rows of ``staging`` into ``table`` (:func:`merge_statement`), then drop it."""
    _run(conn, merge_statement(staging, table, columns, key=key, existing=existing))
    _run(conn, sql.SQL("DROP TABLE {}").format(sql.Identifier(staging)))


def copy_frame(
    conn: Connection,
    frame: gpd.GeoDataFrame,
    table: str,
    *,
    geometry_column: str = "geom",
    mode: WriteMode = "append",
    key: Sequence[str] = ("code",),
) -> int:
    """Write ``frame`` into ``table`` with COPY, inside the caller's transaction.

    Parameters
    ----------
    conn
        An SQLAlchemy connection with a transaction open (``engine.begin()``).
    frame
        Columns named as the table's columns, plus the active geometry column, which is
        written to ``geometry_column``. Converted to EPSG:4326 if in another CRS.
    table
        Target table name (unqualified, on the search path; temporary tables included).
    mode
        ``"append"`` (plain COPY; a duplicate key fails the transaction) or ``"upsert"``
        (insert new keys, update existing ones).
    key
        Conflict key for ``"upsert"``: columns of ``frame`` with a unique constraint.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    CRSError
        If ``frame`` has no CRS.
    DataError
        If ``mode`` is not one of the allowed values, ``table`` does not exist, it lacks one
        of the frame's columns, or ``key`` names a column the frame does not have (the
        message lists what there is).
    """
    if mode not in ("append", "upsert"):
        raise DataError(f"mode must be 'append' or 'upsert', not {mode!r}")
    require_crs(frame, name=f"frame for {table}")
    columns = [c for c in frame.columns if c != frame.geometry.name] + [geometry_column]
    if mode == "upsert" and not set(key) <= set(columns):
        raise DataError(
            f"upsert key {', '.join(key)} is not among the columns {', '.join(columns)}"
        )
    types = table_columns(conn, table, columns)
    if frame.crs != STORAGE_CRS:
        frame = frame.to_crs(STORAGE_CRS)
    if mode == "append" and not _row_security_active(conn, table):
        _copy(conn, table, frame, types)
        return len(frame)
    staging = stage_table(conn, table, columns)
    _copy(conn, staging, frame, types)
    if mode == "append":  # COPY FROM is refused under row-level security: stage, then INSERT
        _run(
            conn,
            sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM {s}").format(
                t=sql.Identifier(table), c=_names(columns), s=sql.Identifier(staging)
            ),
        )
        _run(conn, sql.SQL("DROP TABLE {}").format(sql.Identifier(staging)))
    else:
        merge_staged(conn, staging, table, columns, key=key)
    return len(frame)


def _row_security_active(conn: Connection, table: str) -> bool:
    """Whether row-level security applies to ``table`` for the connected role."""
    return bool(
        conn.execute(
            text("SELECT coalesce(row_security_active(to_regclass(:t)), false)"), {"t": table}
        ).scalar_one()
    )


def read_frame(
    con: Connection | Engine,
    query: str,
    *,
    params: dict | None = None,
    geom_col: str = "geom",
    index_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Run ``query`` and return a GeoDataFrame in EPSG:4326 (geometry column ``geometry``)."""
    frame = gpd.read_postgis(
        text(query), con, geom_col=geom_col, crs=STORAGE_CRS, params=params, index_col=index_col
    )
    return frame.rename_geometry("geometry")


def as_multipolygons(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """``geoms`` with every Polygon wrapped as a one-part MultiPolygon (index and CRS kept)."""
    values = np.asarray(geoms.values, dtype=object)
    is_single = shapely.get_type_id(values) == 3
    out = values.copy()
    out[is_single] = [shapely.MultiPolygon([g]) for g in values[is_single]]
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs)


def admin_rows(frame: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
    """Admin frame (:data:`geo.frames.ADMIN_COLUMNS`) as ``admin_unit`` rows of ``level``."""
    check_columns(frame, ADMIN_COLUMNS, name=f"{level} frame")
    rows = gpd.GeoDataFrame(
        {
            "code": frame["code"].astype(str),
            "name": frame["name"],
            "level": level,
            "kind": frame["kind"],
            "parent_code": frame["parent_code"] if level != "county" else None,
        },
        geometry=as_multipolygons(frame.geometry),
        index=frame.index,
    )
    return rows


def write_county(conn: Connection, county: County, *, mode: WriteMode = "append") -> dict[str, int]:
    """Write a whole :class:`~geo.frames.County` (admin levels top-down, then households).

    Returns the rows written per table. Runs inside the caller's transaction.
    """
    written = {"admin_unit": 0}
    for level in ("county", "township", "village", "natural_unit"):
        written["admin_unit"] += copy_frame(
            conn, admin_rows(county.level(level), level), "admin_unit", mode=mode
        )
    check_columns(county.households, HOUSEHOLD_COLUMNS, name="households")
    households = county.households.loc[:, list(HOUSEHOLD_COLUMNS)]
    written["household"] = copy_frame(conn, households, "household", mode=mode)
    return written


def read_admin(
    con: Connection | Engine, level: str, *, under: str | None = None
) -> gpd.GeoDataFrame:
    """Admin units of ``level`` (optionally only those whose code starts with ``under``)."""
    return read_frame(
        con,
        "SELECT code, name, parent_code, kind, geom FROM admin_unit "
        "WHERE level = :level AND code LIKE :prefix ORDER BY code",
        params={"level": level, "prefix": f"{under or ''}%"},
    )


def read_households(con: Connection | Engine, *, under: str | None = None) -> gpd.GeoDataFrame:
    """Households (:data:`geo.frames.HOUSEHOLD_COLUMNS`), optionally of one code prefix."""
    return read_frame(
        con,
        "SELECT code, natural_unit_code, village_code, residents, residents_at_home, colour, "
        "geom FROM household WHERE code LIKE :prefix ORDER BY code",
        params={"prefix": f"{under or ''}%"},
    )


def read_county(con: Connection | Engine, county_code: str | None = None) -> County:
    """Read a county's whole hierarchy back as a :class:`~geo.frames.County`.

    Raises
    ------
    DataError
        If there is no county (or not the one asked for) in the database.
    """
    counties = read_admin(con, "county", under=county_code)
    if counties.empty:
        raise DataError(f"no county {county_code or ''} in the database; generate or load one")
    if county_code is None and len(counties) > 1:
        codes = ", ".join(counties["code"])
        raise DataError(f"several counties in the database ({codes}); name one")
    code = counties["code"].iloc[0]
    return County(
        county=counties.iloc[[0]].reset_index(drop=True),
        townships=read_admin(con, "township", under=code),
        villages=read_admin(con, "village", under=code),
        natural_units=read_admin(con, "natural_unit", under=code),
        households=read_households(con, under=code),
        profile="database",
    )


def clear_county(conn: Connection, county_code: str) -> None:
    """Delete a county and everything under it (cascades through the foreign keys)."""
    conn.execute(text("DELETE FROM admin_unit WHERE code = :c"), {"c": county_code})


def counts_by_level(con: Connection | Engine) -> pd.DataFrame:
    """Units per admin level, households and residents, and the published plan's cells, per
    county (for ``wangge info`` and the overview page).

    Columns ``county_code``, ``county``, ``townships``, ``villages``, ``natural_units``,
    ``cells`` (cells of the county's published plan; missing, ``pd.NA``, when none is
    published), ``households`` and ``residents``; one row per county, by code.
    """
    query = """
        SELECT c.code AS county_code, c.name AS county,
            (SELECT count(*) FROM admin_unit u WHERE u.level = 'township'
                AND u.code LIKE c.code || '%') AS townships,
            (SELECT count(*) FROM admin_unit u WHERE u.level = 'village'
                AND u.code LIKE c.code || '%') AS villages,
            (SELECT count(*) FROM admin_unit u WHERE u.level = 'natural_unit'
                AND u.code LIKE c.code || '%') AS natural_units,
            (SELECT (SELECT count(*) FROM grid_cell g WHERE g.plan_id = p.id)
                FROM grid_plan p WHERE p.county_code = c.code AND p.status = 'published')
                AS cells,
            (SELECT count(*) FROM household h WHERE h.code LIKE c.code || '%') AS households,
            (SELECT coalesce(sum(residents), 0) FROM household h
                WHERE h.code LIKE c.code || '%') AS residents
        FROM admin_unit c WHERE c.level = 'county' ORDER BY c.code
    """
    counts = pd.read_sql(text(query), con)
    return counts.astype({"cells": "Int64"})
