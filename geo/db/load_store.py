"""The SQL of :mod:`geo.load`: reference codes, upserts of loaded rows, quarantine, load runs.

:mod:`geo.load` reads and validates files without a database; this module is what it asks
of the database.  Every statement binds its values; table and column names go through
:mod:`geo.db.io`, which checks them against the catalogue and quotes them with
:class:`psycopg.sql.Identifier`.  Everything runs on the caller's connection, inside its
transaction, so a load lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, func, insert, text

from geo.db import io
from geo.db.models import Quarantine
from geo.db.models_load import LoadRun

__all__ = [
    "REFERENCE_QUERIES",
    "LoadRunRecord",
    "natural_units",
    "reference_codes",
    "write_quarantine",
    "write_rows",
    "write_run",
]

#: What a row may refer to -> the query of the codes it may refer to.
REFERENCE_QUERIES = {
    "county": "SELECT code FROM admin_unit WHERE level = 'county'",
    "township": "SELECT code FROM admin_unit WHERE level = 'township'",
    "village": "SELECT code FROM admin_unit WHERE level = 'village'",
    "natural_unit": "SELECT code FROM admin_unit WHERE level = 'natural_unit'",
    "household": "SELECT code FROM household",
    "worker": "SELECT code FROM grid_worker",
    "category": "SELECT code FROM incident_category",
}


@dataclass(frozen=True)
class LoadRunRecord:
    """One ``load_run`` row: what a load was and how its rows ended up.

    ``id`` is the load id the quarantine rows carry; ``notes`` is stored as JSON.
    """

    id: str
    kind: str
    file: str
    rows_in: int
    loaded: int
    repaired: int
    quarantined: int
    source_crs: str | None
    notes: dict


def reference_codes(conn: Connection, refs: Iterable[str]) -> dict[str, set[str]]:
    """The codes in the database for each of ``refs`` (keys of :data:`REFERENCE_QUERIES`)."""
    return {
        ref: {row[0] for row in conn.execute(text(REFERENCE_QUERIES[ref]))} for ref in set(refs)
    }


def natural_units(conn: Connection) -> gpd.GeoDataFrame:
    """Natural units (``code``, ``parent_code``, geometry in EPSG:4326), ordered by code."""
    return io.read_frame(
        conn,
        "SELECT code, parent_code, geom FROM admin_unit WHERE level = 'natural_unit' ORDER BY code",
    )


def write_rows(
    conn: Connection,
    rows: pd.DataFrame,
    table: str,
    *,
    key: Sequence[str],
    existing: io.Existing = "update",
) -> int:
    """Upsert ``rows`` into ``table`` by ``key``; the number of rows sent.

    A GeoDataFrame goes through :func:`geo.db.io.copy_frame` (binary COPY, geometry to
    ``geom`` in EPSG:4326, ``existing`` must be ``"update"``); a plain frame through a text
    COPY into a staging table, then :func:`geo.db.io.merge_staged`: ``existing="update"``
    updates rows whose key is there, ``"keep"`` only adds new keys (visits).

    Raises
    ------
    DataError
        If ``table`` or one of the columns does not exist.
    """
    if rows.empty:
        return 0
    if isinstance(rows, gpd.GeoDataFrame):
        return io.copy_frame(conn, rows, table, mode="upsert", key=key)
    columns = list(io.table_columns(conn, table, list(rows.columns)))
    staging = io.stage_table(conn, table, columns)
    values = rows.astype(object).where(rows.notna(), None)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(io.copy_statement(staging, columns)) as copy:
        for row in values.itertuples(index=False, name=None):
            copy.write_row(row)
    io.merge_staged(conn, staging, table, columns, key=key, existing=existing)
    return len(rows)


def write_quarantine(conn: Connection, rows: list[dict]) -> None:
    """Insert quarantine rows (``load_id``, ``kind``, ``file``, ``row_number``, ``field``,
    ``fault``, ``raw``); nothing if ``rows`` is empty."""
    if rows:
        conn.execute(insert(Quarantine.__table__), rows)


def write_run(conn: Connection, run: LoadRunRecord) -> None:
    """Insert the ``load_run`` row of a load, finished now."""
    conn.execute(
        insert(LoadRun.__table__).values(
            id=run.id,
            kind=run.kind,
            file=run.file,
            finished_at=func.now(),
            rows_in=run.rows_in,
            loaded=run.loaded,
            repaired=run.repaired,
            quarantined=run.quarantined,
            source_crs=run.source_crs,
            notes=run.notes,
        )
    )
