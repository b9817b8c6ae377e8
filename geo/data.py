"""The analysts' entry point: connect, read GeoDataFrames, write results back.

::

    import geo

    con = geo.connect(scope="640323")  # DATABASE_URL or the local database; a county's rows
    villages = geo.data.units(con, "village")  # EPSG:4326, with households and residents
    incidents = geo.data.incidents(con, start="2026-09-01", end="2026-10-01")
    cells = geo.data.plan_cells(con)  # the published plan
    geo.data.to_table(result, con, "result_hotspots", replace=True)
    geo.data.to_file(result, "hotspots.gpkg")

Every reader takes either a database (an :class:`sqlalchemy.Engine` or ``Connection`` from
:func:`connect`, or a database URL) or the path of a file (GeoPackage, GeoJSON, Shapefile,
GeoParquet ...) holding the same columns -- for example one written by :func:`to_file` or
``wangge export`` -- and returns a GeoDataFrame in EPSG:4326 (WGS 84 longitude/latitude,
the storage CRS).  A file without a CRS is an error (never guessed); a file in another CRS
(CGCS2000, Web Mercator, UTM ...) is converted.  Metric work belongs in the county's UTM
zone: :func:`geo.projection.utm_crs`.

Times are timezone-aware; a naive time or a date given to a reader is read in China
Standard Time (:data:`geo.settings.LOCAL_TZ`).  Codes filter by prefix: ``under`` or
``county`` may be a county's 6-digit code, a township's 9 digits or a village's 12.

What a reader returns is what the database login may read in the process's scope:
row-level security decides (docs/security.md).  Households, visits, incidents and workers
are read only inside a scope -- ``geo.connect(scope="640323101")`` or ``WANGGE_SCOPE`` --
and only for logins whose role may read them; without a scope those readers return no rows.
The statements live in :mod:`geo.db.analyst_store`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from sqlalchemy import Connection, Engine

from geo import export
from geo.db import analyst_store as store
from geo.db import database, io, plan_store, queries
from geo.db import scope as rls_scope
from geo.db.session import get_engine
from geo.errors import DataError
from geo.frames import LEVELS
from geo.projection import STORAGE_CRS, require_crs
from geo.settings import LOCAL_TZ

__all__ = [
    "connect",
    "households",
    "incidents",
    "plan_assignment",
    "plan_cells",
    "read_table",
    "service_points",
    "to_file",
    "to_table",
    "units",
    "visits",
    "workers",
]

#: What every reader accepts: a database (engine, connection, URL) or a file path.
Source = Engine | Connection | str | os.PathLike
Instant = datetime | pd.Timestamp | str | None

_PARQUET = {".parquet", ".geoparquet"}
#: Layer names looked for in a multi-layer file, per reader (first found wins).
_LAYERS = {
    "county": ("county", "counties"),
    "township": ("township", "townships"),
    "village": ("village", "villages"),
    "natural_unit": ("natural_unit", "natural_units"),
    "households": ("households", "household"),
    "cells": ("cells", "grid_cell", "plan_cells"),
    "incidents": ("incidents", "incident"),
    "visits": ("visits", "visit"),
    "workers": ("workers", "grid_worker"),
    "service_points": ("service_points", "service_point", "services"),
}


def connect(url: str | None = None, *, scope: str | None = None) -> Engine:
    """The database engine: ``url``, else ``DATABASE_URL``, else the local ``wangge`` database.

    Nothing is installed, started or migrated (that is ``wangge db up``); the database is
    only checked to answer, and a superuser (or BYPASSRLS) login, which row-level security
    would not restrict, is refused unless ``WANGGE_ALLOW_SUPERUSER`` is set (development).
    The engine is cached per URL (:func:`geo.db.session.get_engine`), so calling this again
    is cheap.

    Parameters
    ----------
    url
        SQLAlchemy or libpq-style URL (``postgresql://wangge_app@host/wangge``).
    scope
        The area whose personal rows (households, visits, incidents, workers) this process
        reads: an admin unit code (your township, or the county), or ``"*"`` where your
        role allows every row (see docs/security.md).  None keeps ``WANGGE_SCOPE``; without
        any scope those tables read no rows.  Sets :func:`geo.db.scope.set_process_scope`.

    Raises
    ------
    DatabaseError
        The database cannot be reached (the message says what to run), or the login is a
        superuser without ``WANGGE_ALLOW_SUPERUSER``.
    ConfigError
        ``scope`` is not an admin unit code, ``"*"`` or ``""``.

    Examples
    --------
    >>> import geo
    >>> con = geo.connect(scope="640323101")  # a township's rows  # doctest: +SKIP
    >>> geo.data.units(con, "township")[["code", "name", "households"]].head(3)
    """
    engine = database.reachable_engine(url)
    database.refuse_superuser(engine)
    if scope is not None:
        rls_scope.set_process_scope(scope)
    return engine


# -------------------------------------------------------------------------------- readers


def units(con: Source, level: str, *, under: str | None = None) -> gpd.GeoDataFrame:
    """Admin units of one level with their households and residents summed.

    Parameters
    ----------
    con
        A database (engine, connection or URL) or a file: a GeoPackage with a layer named
        after ``level`` (``village`` or ``villages`` ...), or any file of units, filtered by
        its ``level`` column when it has one.
    level
        ``"county"``, ``"township"``, ``"village"`` or ``"natural_unit"``.
    under
        Only units whose code starts with this (a county's or township's code).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 MultiPolygons with ``code, name, kind, parent_code`` and, from the
        database, ``households, residents, residents_at_home`` (counts) and, below the
        county, ``natural_units``; ordered by code.

    Raises
    ------
    DataError
        Unknown level (the message lists the levels).
    CRSError
        A file without a CRS.

    Examples
    --------
    >>> villages = geo.data.units(geo.connect(), "village")  # doctest: +SKIP
    >>> villages.to_crs(geo.projection.utm_crs(villages)).area.sum() / 1e6  # km²
    """
    if level not in LEVELS:
        raise DataError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    if _is_file(con):
        frame = _read(con, _LAYERS[level], what=f"{level} units")
        if "level" in frame.columns:
            frame = frame[frame["level"] == level]
        return _under(frame, "code", under)
    with _database(con) as conn:
        if level != "county":
            return queries.unit_summary(conn, level, under or "")
        counties = io.read_admin(conn, "county", under=under)
        counts = io.counts_by_level(conn).rename(columns={"county_code": "code"})
        counts = counts[["code", "households", "residents"]]
        frame = counties.merge(counts, on="code", how="left")
        return frame[[c for c in frame.columns if c != "geometry"] + ["geometry"]]


def households(con: Source, *, under: str | None = None, points: bool = False) -> gpd.GeoDataFrame:
    """Households: code, natural unit, village, residents, residents at home, five colour.

    Personal data: the database returns only the households the role may read, and a
    five-colour status never goes to a public view (aggregate and suppress first with
    :func:`geo.privacy.suppress_small`).

    Parameters
    ----------
    con
        A database or a file of households.
    under
        Only households whose code starts with this (county, township, village code).
    points
        Return each household's stored point on surface instead of its footprint polygon
        (what density, coverage and hotspot functions want; much lighter).

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``code, natural_unit_code, village_code, residents, residents_at_home``
        (people) and ``colour`` (one of :data:`geo.frames.FIVE_COLOURS` or None).

    Examples
    --------
    >>> hh = geo.data.households(geo.connect(), under="640323100", points=True)  # doctest: +SKIP
    >>> geo.heatmaps.hex_density(hh, resolution=8, weight="residents", k=5)
    """
    if _is_file(con):
        frame = _under(_read(con, _LAYERS["households"], what="households"), "code", under)
        if points:
            frame = frame.set_geometry(frame.geometry.representative_point())
        return frame
    with _database(con) as conn:
        return store.households(conn, under or "", points=points)


def plan_cells(
    con: Source, plan: int | str | None = None, *, county: str | None = None
) -> gpd.GeoDataFrame:
    """The cells of a grid plan: by default the published one.

    Parameters
    ----------
    con
        A database, or a file of cells (e.g. ``wangge grids export``: layer ``cells``).
    plan
        Plan id or name (``12``, ``"#12"``, ``"spring-2026"``; see
        :data:`geo.plans.PLAN_REF_RULE`); None: the published plan.
    county
        The county whose published plan is meant, when several counties have one; also
        tells plans of the same name apart.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 MultiPolygons: ``plan_id, code, village_code, township_code, households,
        residents`` (counts), ``area_m2`` (m², in the county's UTM zone), ``polsby_popper``
        (compactness 0..1), ``contiguous, natural_units_split, within_bounds,
        flag_reason``.

    Raises
    ------
    DataError
        No published plan (or several, without ``county``).
    PlanError
        No plan of that id or name.

    Examples
    --------
    >>> cells = geo.data.plan_cells(geo.connect())  # doctest: +SKIP
    >>> cells["households"].describe()
    """
    if _is_file(con):
        frame = _read(con, _LAYERS["cells"], what="cells")
        if plan is not None:
            kind, ref = plan_store.parse_plan_ref(plan)
            column = "plan_id" if kind == "id" else "plan_name"
            if column in frame.columns:
                frame = frame[frame[column] == ref]
        return frame.reset_index(drop=True)
    with _database(con) as conn:
        return store.plan_cells(conn, _plan_id(conn, plan, county))


def plan_assignment(
    con: Connection | Engine | str, plan: int | str | None = None, *, county: str | None = None
) -> pd.DataFrame:
    """A plan's household -> cell assignment (default: the published plan).

    Returns
    -------
    DataFrame
        ``household_code, cell_code, village_code, natural_unit_code``, one row per assigned
        household the role may read; the input of :func:`geo.coverage.visit_coverage` and
        :func:`geo.coverage.worker_load`.
    """
    with _database(con) as conn:
        return store.plan_assignment(conn, _plan_id(conn, plan, county))


def incidents(
    con: Source, *, start: Instant = None, end: Instant = None, county: str | None = None
) -> gpd.GeoDataFrame:
    """Incidents reported in ``[start, end)`` as points, without any household reference.

    Parameters
    ----------
    con
        A database or a file of incidents (with ``reported_at``).
    start, end
        Period of report (None: unbounded); naive times and dates are China Standard Time.
    county
        Only incidents of townships whose code starts with this.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points: ``id, category_code, platform_code, source, status, tier``,
        ``reported_at, accepted_at, resolved_at, closed_at, due_at`` (UTC),
        ``satisfaction`` (1..5), ``plan_id, cell_code, village_code, township_code`` (where
        it was placed when reported); ordered by id.

    Examples
    --------
    >>> inc = geo.data.incidents(geo.connect(), start="2026-09-01", end="2026-12-01")
    >>> geo.hotspots.hex_hotspots(inc, resolution=8)  # doctest: +SKIP
    """
    t0, t1 = _instant(start), _instant(end)
    if _is_file(con):
        frame = _under(_read(con, _LAYERS["incidents"], what="incidents"), "township_code", county)
        return _period(frame, "reported_at", t0, t1)
    with _database(con) as conn:
        frame = store.incidents(conn, county or "", start=t0, end=t1)
    return _utc(frame, ("reported_at", "accepted_at", "resolved_at", "closed_at", "due_at"))


def visits(
    con: Source, *, start: Instant = None, end: Instant = None, county: str | None = None
) -> gpd.GeoDataFrame:
    """Grid workers' visits to households in ``[start, end)``, each at the household's point.

    Personal data (who was visited when): for roles that own the area.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points: ``id, household_code, worker_code, visited_at`` (UTC),
        ``village_code``; oldest first.  ``county`` filters by household code prefix.

    Examples
    --------
    >>> v = geo.data.visits(geo.connect(), start="2026-10-01")  # doctest: +SKIP
    """
    t0, t1 = _instant(start), _instant(end)
    if _is_file(con):
        frame = _under(_read(con, _LAYERS["visits"], what="visits"), "household_code", county)
        return _period(frame, "visited_at", t0, t1)
    with _database(con) as conn:
        frame = store.visits(conn, county or "", start=t0, end=t1)
    return _utc(frame, ("visited_at",))


def workers(con: Source, *, county: str | None = None) -> gpd.GeoDataFrame:
    """Grid workers with the cell each looks after (no phone numbers).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, the polygon of the worker's cell (None without one): ``code, name,
        township_code, plan_id, cell_code, started_on`` (UTC), ``households, residents``
        of the cell.  ``county`` filters by township code prefix.

    Examples
    --------
    >>> w = geo.data.workers(geo.connect())  # doctest: +SKIP
    >>> w.plot(column="households")
    """
    if _is_file(con):
        return _under(_read(con, _LAYERS["workers"], what="workers"), "township_code", county)
    with _database(con) as conn:
        return _utc(store.workers(conn, county or ""), ("started_on",))


def service_points(
    con: Source, *, kind: str | None = None, county: str | None = None
) -> gpd.GeoDataFrame:
    """Service points (clinics, police posts, convenience centres, emergency teams ...).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points: ``code, kind, name, village_code``; only ``kind`` when given;
        ``county`` filters by village code prefix.

    Examples
    --------
    >>> clinics = geo.data.service_points(geo.connect(), kind="clinic")  # doctest: +SKIP
    """
    if _is_file(con):
        frame = _read(con, _LAYERS["service_points"], what="service points")
        if kind is not None and "kind" in frame.columns:
            frame = frame[frame["kind"] == kind]
        return _under(frame, "village_code", county)
    with _database(con) as conn:
        return store.service_points(conn, county or "", kind=kind)


def read_table(con: Connection | Engine | str, name: str) -> gpd.GeoDataFrame:
    """An analyst's own table written by :func:`to_table`, back as a GeoDataFrame (EPSG:4326).

    Raises
    ------
    DataError
        No such analyst table, or a name of Wangge's own tables.
    """
    with _database(con) as conn:
        return store.read_table(conn, name)


# -------------------------------------------------------------------------------- writers


def to_table(
    frame: gpd.GeoDataFrame, con: Connection | Engine | str, name: str, *, replace: bool = False
) -> int:
    """Write ``frame`` to the analyst's own table ``name``; the number of rows written.

    The table gets the frame's columns (integers as bigint, floats as double precision,
    booleans, times as timestamptz -- naive times read as UTC --, anything else as text)
    and the geometry as ``geom`` in EPSG:4326 with a GiST index; the index of the frame is
    not stored.  It is written in one transaction (with a ``Connection``: the caller's).

    Parameters
    ----------
    frame
        A GeoDataFrame with a CRS (converted to EPSG:4326).
    con
        The database.
    name
        Lower-case letters, digits and ``_``, starting with a letter; never one of
        Wangge's own tables (``incident``, ``grid_cell`` ...).
    replace
        Overwrite a table of that name written earlier by :func:`to_table`.

    Raises
    ------
    DataError
        A refused name; the table exists and ``replace`` is False; a table of that name
        exists that an analyst did not write; ``frame`` is not a GeoDataFrame.
    CRSError
        ``frame`` has no CRS.

    Examples
    --------
    >>> result = geo.hotspots.hex_hotspots(geo.data.incidents(con), resolution=8)
    >>> geo.data.to_table(result, con, "result_hex_hotspots", replace=True)  # doctest: +SKIP
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(
            f"to_table writes GeoDataFrames, not {type(frame).__name__}; give it a geometry "
            "(e.g. join the rows to their cells) or write it with DataFrame.to_csv"
        )
    require_crs(frame, name=f"frame for {name}")
    store.check_table_name(name)
    if isinstance(con, Connection):
        return store.write_table(con, frame, name, replace=replace)
    engine = get_engine(con) if isinstance(con, str) else con
    with engine.begin() as conn:
        return store.write_table(conn, frame, name, replace=replace)


def to_file(frame: gpd.GeoDataFrame, path: str | os.PathLike, *, layer: str | None = None) -> Path:
    """Write ``frame`` to a GIS file in EPSG:4326; the path written.

    The format comes from the suffix: ``.gpkg`` (GeoPackage, one layer named ``layer`` or
    after the file), ``.parquet`` (GeoParquet), ``.geojson``, ``.shp``, ``.csv`` (WKT);
    see :func:`geo.export.frames_to_file`.  An existing file is replaced.  The readers of
    this module read such a file back.

    Raises
    ------
    ConfigError
        Unknown format.
    CRSError
        ``frame`` has no CRS.

    Examples
    --------
    >>> geo.data.to_file(cells, "cells.gpkg", layer="cells")  # doctest: +SKIP
    >>> geo.data.plan_cells("cells.gpkg")
    """
    path = Path(path)
    written = export.frames_to_file({layer or path.stem: frame}, path)
    return written[0]


# -------------------------------------------------------------------------------- helpers


def _is_file(con: Source) -> bool:
    if isinstance(con, Engine | Connection):
        return False
    if isinstance(con, str) and "://" in con:
        return False
    if isinstance(con, str | os.PathLike):
        return True
    raise DataError(f"expected a database (geo.connect()) or a file path, not {type(con).__name__}")


@contextmanager
def _database(con: Connection | Engine | str) -> Iterator[Connection]:
    """A connection: ``con`` itself, or one of its engine (or URL), closed afterwards."""
    if isinstance(con, Connection):
        yield con
        return
    engine = get_engine(con) if isinstance(con, str) else con
    with engine.connect() as conn:
        yield conn


def _read(path: str | os.PathLike, layers: tuple[str, ...], *, what: str) -> gpd.GeoDataFrame:
    """Read a file (the first of ``layers`` it has, else its only layer) in EPSG:4326."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no file {str(path)!r} to read {what} from")
    if path.suffix.lower() in _PARQUET:
        frame = gpd.read_parquet(path)
    else:
        there = [str(n) for n, _ in pyogrio.list_layers(path)]
        layer = next((name for name in layers if name in there), None)
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    require_crs(frame, name=f"{path.name} ({what})")
    if frame.crs == STORAGE_CRS:
        frame = frame.set_crs(STORAGE_CRS, allow_override=True)  # e.g. PROJJSON of 4326
    else:
        frame = frame.to_crs(STORAGE_CRS)
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    return frame


def _under(frame: gpd.GeoDataFrame, column: str, prefix: str | None) -> gpd.GeoDataFrame:
    if prefix and column in frame.columns:
        frame = frame[frame[column].astype(str).str.startswith(prefix)]
    return frame.reset_index(drop=True)


def _instant(value: Instant) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"not a time: {value!r}; write e.g. '2026-09-01' or a datetime") from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(LOCAL_TZ)
    return stamp.to_pydatetime()


def _period(
    frame: gpd.GeoDataFrame, column: str, start: datetime | None, end: datetime | None
) -> gpd.GeoDataFrame:
    if column not in frame.columns or (start is None and end is None):
        return frame
    times = pd.to_datetime(frame[column], utc=True)
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= times >= pd.Timestamp(start)
    if end is not None:
        keep &= times < pd.Timestamp(end)
    return frame[keep.to_numpy()].reset_index(drop=True)


def _utc(frame: gpd.GeoDataFrame, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _plan_id(conn: Connection, plan: int | str | None, county: str | None) -> int:
    if plan is not None:
        return plan_store.find_plan(conn, plan, county_code=county).id
    published = store.published_plans(conn, county or "")
    if published.empty:
        where = f" in county {county}" if county else ""
        raise DataError(
            f"no published grid plan{where}; name a plan (plan=...) or publish one "
            "(`wangge grids publish`, or `wangge demo`)"
        )
    if len(published) > 1:
        codes = ", ".join(published["county_code"])
        raise DataError(f"several counties have a published plan ({codes}); pass county=...")
    return int(published["id"].iloc[0])
