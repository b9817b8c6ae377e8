"""Fast GeoDataFrame <-> PostGIS I/O.

Writing goes through PostgreSQL's ``COPY ... FROM STDIN`` (CSV, geometries as hex EWKB with
SRID 4326) on the caller's connection, so it joins the caller's transaction: a load either
lands whole or not at all.  ``mode="upsert"`` copies into a temporary table first and then
``INSERT ... ON CONFLICT (key) DO UPDATE``, which makes re-loading the same rows idempotent.

Reading uses :func:`geopandas.read_postgis` and always returns frames in EPSG:4326 with the
CRS set.  Row-by-row ORM inserts and plain ``GeoDataFrame.to_postgis`` are deliberately not
used for bulk data: ``benchmarks/bench_db_io.py`` measures the difference.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo._errors import DataError
from geo.frames import ADMIN_COLUMNS, HOUSEHOLD_COLUMNS, County, check_columns
from geo.projection import STORAGE_CRS, STORAGE_SRID, require_crs

WriteMode = Literal["append", "upsert"]
_NULL = r"\N"


def _ewkb_hex(geoms: gpd.GeoSeries) -> np.ndarray:
    values = shapely.set_srid(np.asarray(geoms.values, dtype=object), STORAGE_SRID)
    return shapely.to_wkb(values, hex=True, include_srid=True)


def _csv_payload(frame: gpd.GeoDataFrame, columns: Sequence[str], geometry_column: str) -> str:
    plain = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out = plain.loc[:, [c for c in columns if c != geometry_column]].copy()
    out[geometry_column] = _ewkb_hex(frame.geometry)
    buf = io.StringIO()
    out.loc[:, list(columns)].to_csv(buf, header=False, index=False, na_rep=_NULL)
    return buf.getvalue()


def _copy(conn: Connection, table: str, columns: Sequence[str], payload: str) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '{_NULL}')") as copy,
    ):
        copy.write(payload)


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
        Target table name.
    mode
        ``"append"`` (plain COPY; a duplicate key fails the transaction) or ``"upsert"``
        (insert new keys, update existing ones).
    key
        Conflict key for ``"upsert"``.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    CRSError
        If ``frame`` has no CRS.
    DataError
        If ``mode`` is not one of the allowed values.
    """
    if mode not in ("append", "upsert"):
        raise DataError(f"mode must be 'append' or 'upsert', not {mode!r}")
    require_crs(frame, name=f"frame for {table}")
    if frame.crs != STORAGE_CRS:
        frame = frame.to_crs(STORAGE_CRS)
    columns = [c for c in frame.columns if c != frame.geometry.name] + [geometry_column]
    payload = _csv_payload(frame, columns, geometry_column)
    if mode == "append":
        _copy(conn, table, columns, payload)
        return len(frame)
    staging = f"_stage_{uuid.uuid4().hex[:12]}"
    cols = ", ".join(f'"{c}"' for c in columns)
    conn.execute(text(f"CREATE TEMP TABLE {staging} AS SELECT {cols} FROM {table} WITH NO DATA"))
    _copy(conn, staging, columns, payload)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in key)
    conflict = ", ".join(f'"{k}"' for k in key)
    conn.execute(
        text(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        )
    )
    conn.execute(text(f"DROP TABLE {staging}"))
    return len(frame)


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


def _as_multipolygons(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
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
        geometry=_as_multipolygons(frame.geometry),
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
    """Units per admin level plus households and residents, per county (for ``wangge info``)."""
    query = """
        SELECT c.code AS county_code, c.name AS county,
            (SELECT count(*) FROM admin_unit u WHERE u.level = 'township'
                AND u.code LIKE c.code || '%') AS townships,
            (SELECT count(*) FROM admin_unit u WHERE u.level = 'village'
                AND u.code LIKE c.code || '%') AS villages,
            (SELECT count(*) FROM admin_unit u WHERE u.level = 'natural_unit'
                AND u.code LIKE c.code || '%') AS natural_units,
            (SELECT count(*) FROM household h WHERE h.code LIKE c.code || '%') AS households,
            (SELECT coalesce(sum(residents), 0) FROM household h
                WHERE h.code LIKE c.code || '%') AS residents
        FROM admin_unit c WHERE c.level = 'county' ORDER BY c.code
    """
    return pd.read_sql(text(query), con)
