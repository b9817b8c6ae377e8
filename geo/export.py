"""Exporting plans and results to GIS files: GeoPackage, GeoJSON, GeoParquet, Shapefile, CSV.

- :func:`frames_to_file` writes any named GeoDataFrames (heatmaps, hotspots, cells ...):
  a GeoPackage holds them all, one layer each; the single-layer formats get one file per
  frame (``<stem>_<name>.<ext>``) unless there is only one.
- :func:`plan_layers` reads a stored plan from PostGIS (``grid_plan``, ``grid_cell``,
  ``cell_assignment``) as frames; :func:`plan_to_file` / :func:`plan_to_geopackage` write it.

Households are personal data: a plan export holds only its cells with their aggregate
counts unless ``include_households=True`` is passed explicitly (the stand-in for a role
check until roles exist).

Text is UTF-8 everywhere so that QGIS shows Chinese names intact: GeoPackage and GeoJSON
are UTF-8 by definition, Shapefiles get a ``.cpg`` file saying ``UTF-8``, CSV files are
UTF-8 with a byte-order mark (so that Excel also reads them right) and carry the geometry
as WKT in a ``wkt`` column.  Every file is written in EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine

from geo.db import export_store as store
from geo.errors import ConfigError, DataError
from geo.projection import STORAGE_CRS, require_crs

#: Formats: short name -> (GDAL driver, file suffix).
FORMATS = {
    "gpkg": ("GPKG", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "parquet": ("Parquet", ".parquet"),
    "shp": ("ESRI Shapefile", ".shp"),
    "csv": ("CSV", ".csv"),
}
_BY_SUFFIX = {suffix: name for name, (_, suffix) in FORMATS.items()} | {
    ".json": "geojson",
    ".geoparquet": "parquet",
}
_BY_DRIVER = {driver.lower(): name for name, (driver, _) in FORMATS.items()}


def format_of(path: str | Path, driver: str | None = None) -> str:
    """The short format name for ``path`` or ``driver`` (see :data:`FORMATS`).

    Raises
    ------
    ConfigError
        If neither names a known format.
    """
    if driver:
        name = driver.lower()
        name = _BY_DRIVER.get(name, name)
        if name not in FORMATS:
            raise ConfigError(
                f"unknown export format {driver!r}; expected one of {', '.join(FORMATS)}"
            )
        return name
    suffix = Path(path).suffix.lower()
    if suffix not in _BY_SUFFIX:
        raise ConfigError(
            f"cannot tell the format of {Path(path).name!r}; use a suffix of "
            f"{', '.join(sorted(_BY_SUFFIX))} or name the format"
        )
    return _BY_SUFFIX[suffix]


def frames_to_file(
    frames: dict[str, gpd.GeoDataFrame], path: str | Path, *, driver: str | None = None
) -> list[Path]:
    """Write named frames to ``path``; return the files written.

    Parameters
    ----------
    frames
        Layer name -> GeoDataFrame (any CRS, converted to EPSG:4326; CRS required).
    path
        Target file. An existing file is replaced.
    driver
        Format short name or GDAL driver (default: from the suffix of ``path``).

    Raises
    ------
    ConfigError
        If the format is unknown or ``frames`` is empty.
    CRSError
        If a frame has no CRS.
    """
    if not frames:
        raise ConfigError("nothing to export: frames is empty")
    fmt = format_of(path, driver)
    path = Path(path)
    if path.suffix.lower() != FORMATS[fmt][1] and not path.suffix:
        path = path.with_suffix(FORMATS[fmt][1])
    path.parent.mkdir(parents=True, exist_ok=True)
    ready = {name: _prepare(frame, name) for name, frame in frames.items()}
    if fmt == "gpkg":
        _remove(path)
        for name, frame in ready.items():
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        return [path]
    written = []
    for name, frame in ready.items():
        target = path if len(ready) == 1 else path.with_name(f"{path.stem}_{name}{path.suffix}")
        _remove(target)
        _write_single(frame, target, fmt)
        written.append(target)
    return written


def _prepare(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    require_crs(frame, name=f"frame {name!r}")
    out = frame.to_crs(STORAGE_CRS) if frame.crs != STORAGE_CRS else frame.copy()
    return out.reset_index(drop=True)


def _remove(path: Path) -> None:
    siblings = [path]
    if path.suffix.lower() == ".shp":
        siblings += [path.with_suffix(s) for s in (".shx", ".dbf", ".prj", ".cpg")]
    for p in siblings:
        p.unlink(missing_ok=True)


def _write_single(frame: gpd.GeoDataFrame, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "geojson":
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    elif fmt == "shp":
        frame.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
    else:
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table["wkt"] = frame.geometry.to_wkt()
        table.to_csv(path, index=False, encoding="utf-8-sig")


# -- plans from PostGIS ---------------------------------------------------------------------


def plan_layers(
    con: Connection | Engine, plan_id: int, *, include_households: bool = False
) -> dict[str, gpd.GeoDataFrame]:
    """A stored plan as frames: ``cells`` (and ``households`` only when asked for).

    ``cells`` carries the plan's id, name, version and status, the cell code, village code
    and name, household and resident counts, area (m²) and Polsby-Popper compactness.
    ``households`` (personal data) carries each assigned household with its ``cell_code``.

    Raises
    ------
    DataError
        If there is no plan ``plan_id`` (the message lists the plans there are).
    """
    plan = store.plan_header(con, plan_id)
    if plan.empty:
        there = ", ".join(map(str, store.plan_ids(con))) or "none yet"
        raise DataError(f"no grid plan {plan_id}; plans in the database: {there}")
    layers = {"cells": store.plan_cells(con, plan_id)}
    if include_households:
        layers["households"] = store.plan_households(con, plan_id)
    return layers


def plan_to_file(
    con: Connection | Engine,
    plan_id: int,
    path: str | Path,
    *,
    driver: str | None = None,
    include_households: bool = False,
) -> list[Path]:
    """Write plan ``plan_id`` to ``path`` in any of :data:`FORMATS`; return the files.

    Households (personal data) are written only with ``include_households=True``.
    """
    layers = plan_layers(con, plan_id, include_households=include_households)
    return frames_to_file(layers, path, driver=driver)


def plan_to_geopackage(
    con: Connection | Engine, plan_id: int, path: str | Path, *, include_households: bool = False
) -> Path:
    """Write plan ``plan_id`` to one GeoPackage (layers ``cells`` [, ``households``])."""
    return plan_to_file(con, plan_id, path, driver="gpkg", include_households=include_households)[0]
