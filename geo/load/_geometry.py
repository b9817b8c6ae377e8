"""Geometry checks and repairs of a county file's rows, and overlaps between admin units.

Vectorised with shapely 2: empty and non-finite geometries, swapped or out-of-range
degrees, conversion to EPSG:4326 (and from GCJ-02 on request), geometry types, and
``make_valid`` repairs that keep the type and change the area less than
:data:`~geo.load._kinds.MAX_REPAIR_AREA_CHANGE`.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.load import _gcj02
from geo.load._checked import Collector
from geo.load._kinds import MAX_REPAIR_AREA_CHANGE, KindSpec
from geo.load._read import CHINA_LAT, CHINA_LON
from geo.projection import STORAGE_CRS, utm_crs


def _all_coords_in(values: np.ndarray, rows: np.ndarray, test) -> np.ndarray:
    """For each of ``rows``, True when ``test(x, y)`` holds for all its coordinates."""
    if rows.size == 0:
        return np.zeros(0, dtype=bool)
    xy, idx = shapely.get_coordinates(values[rows], return_index=True)
    ok = test(xy[:, 0], xy[:, 1])
    bad = np.bincount(idx[~ok], minlength=rows.size)
    return bad == 0


def check_geometry(
    geoms: gpd.GeoSeries, spec: KindSpec, out: Collector, *, gcj02: bool
) -> np.ndarray:
    """Geometries in EPSG:4326 of the right type and valid (None where a fault was found).

    For a kind that takes points (``spec.from_points``: households) a Point is of the right
    type and kept as a point, and a missing or empty geometry is no fault here: it is None
    in the result and the caller places the row by its natural unit or faults it.
    """
    values = np.asarray(geoms.values, dtype=object)
    n = len(values)
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if not spec.from_points:
        out.fault(
            np.flatnonzero(missing & ~out.bad_rows(n, "geometry")),
            "geometry",
            "empty_geometry",
            "geometry is empty or null",
        )
    rows = np.flatnonzero(~missing)
    finite = _all_coords_in(values, rows, lambda x, y: np.isfinite(x) & np.isfinite(y))
    out.fault(
        rows[~finite], "geometry", "non_finite_coordinates", "coordinates are NaN or infinite"
    )
    rows = rows[finite]
    src = geoms.crs
    if src is not None and src.is_geographic:
        rows = _check_degrees(values, rows, out)
    result = np.full(n, None, dtype=object)
    if src is not None and src != STORAGE_CRS and rows.size:
        moved = gpd.GeoSeries(values[rows], crs=src).to_crs(STORAGE_CRS).values
        values = values.copy()
        values[rows] = np.asarray(moved, dtype=object)
        ok = _all_coords_in(values, rows, _in_degrees)
        out.fault(
            rows[~ok],
            "geometry",
            "out_of_range",
            f"coordinates do not convert from {src.to_string()} to longitude/latitude",
        )
        rows = rows[ok]
    if gcj02 and rows.size:
        fixed = _gcj02.geoseries_gcj02_to_wgs84(gpd.GeoSeries(values[rows], crs=STORAGE_CRS))
        values = values.copy()
        values[rows] = np.asarray(fixed.values, dtype=object)
    rows, values = _coerce_type(values, rows, spec.geometry, out, points=spec.from_points)
    rows, values = _repair(values, rows, spec.geometry, out)
    result[rows] = values[rows]
    return result


def _in_degrees(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)


def _swapped(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x >= CHINA_LAT[0]) & (x <= CHINA_LAT[1]) & (y >= CHINA_LON[0]) & (y <= CHINA_LON[1])


def _check_degrees(values: np.ndarray, rows: np.ndarray, out: Collector) -> np.ndarray:
    swapped = _all_coords_in(values, rows, _swapped)
    out.fault(
        rows[swapped],
        "geometry",
        "swapped_lonlat",
        "latitude and longitude look swapped (x is a Chinese latitude, y a Chinese "
        "longitude); fix the file or load it with --swap-xy",
    )
    rows = rows[~swapped]
    ok = _all_coords_in(values, rows, _in_degrees)
    out.fault(
        rows[~ok],
        "geometry",
        "out_of_range",
        "longitude outside -180..180 or latitude outside -90..90",
    )
    return rows[ok]


_POLYGON, _MULTIPOLYGON, _POINT, _MULTIPOINT, _COLLECTION = 3, 6, 0, 4, 7


def _coerce_type(values, rows, target, out: Collector, *, points: bool = False):
    types = shapely.get_type_id(values[rows])
    parts = shapely.get_num_geometries(values[rows])
    values = values.copy()
    if target == "Polygon":
        single_multi = (types == _MULTIPOLYGON) & (parts == 1)
        values[rows[single_multi]] = shapely.get_geometry(values[rows[single_multi]], 0)
        ok = (types == _POLYGON) | single_multi
        if points:
            one_point = (types == _MULTIPOINT) & (parts == 1)
            values[rows[one_point]] = shapely.get_geometry(values[rows[one_point]], 0)
            ok |= (types == _POINT) | one_point
    elif target == "MultiPolygon":
        poly = types == _POLYGON
        values[rows[poly]] = [shapely.MultiPolygon([g]) for g in values[rows[poly]]]
        ok = poly | (types == _MULTIPOLYGON)
    else:
        single_multi = (types == _MULTIPOINT) & (parts == 1)
        values[rows[single_multi]] = shapely.get_geometry(values[rows[single_multi]], 0)
        ok = (types == _POINT) | single_multi
    bad = rows[~ok]
    names = shapely.get_type_id(values[bad])
    type_names = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                  5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}  # fmt: skip
    expected = f"a {target} or a Point" if points and target == "Polygon" else f"a {target}"
    out.fault(
        bad,
        "geometry",
        "wrong_geometry_type",
        [f"{type_names.get(int(t), t)} where {expected} is expected" for t in names],
    )
    return rows[ok], values


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a ``make_valid`` result (dropping the lines and points it may add)."""
    if shapely.get_type_id(geom) in (_POLYGON, _MULTIPOLYGON):
        return geom
    polys = [
        g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (_POLYGON, _MULTIPOLYGON)
    ]
    if not polys:
        return shapely.Polygon()
    merged = shapely.union_all(polys)
    return merged


def _repair(values, rows, target, out: Collector):
    if target == "Point" or rows.size == 0:
        return rows, values
    polygonal = rows[shapely.get_type_id(values[rows]) != _POINT]
    invalid = polygonal[~shapely.is_valid(values[polygonal])]
    if invalid.size == 0:
        return rows, values
    values = values.copy()
    bad, fixed_rows, messages, bad_messages = [], [], [], []
    for row in invalid:
        before = values[row]
        after = _polygonal(shapely.make_valid(before))
        area0, area1 = abs(before.area), after.area
        change = abs(area1 - area0) / area0 if area0 > 0 else math.inf
        tid = shapely.get_type_id(after)
        if target == "Polygon" and tid == _MULTIPOLYGON and len(after.geoms) == 1:
            after, tid = after.geoms[0], _POLYGON
        if target == "MultiPolygon" and tid == _POLYGON:
            after, tid = shapely.MultiPolygon([after]), _MULTIPOLYGON
        wanted = _POLYGON if target == "Polygon" else _MULTIPOLYGON
        reason = shapely.is_valid_reason(before)
        if tid == wanted and not after.is_empty and change < MAX_REPAIR_AREA_CHANGE:
            values[row] = after
            fixed_rows.append(row)
            messages.append(f"{reason}; made valid, area changed {change:.3%}")
        else:
            bad.append(row)
            kind = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                    "MultiLineString", "MultiPolygon", "GeometryCollection"]  # fmt: skip
            got = kind[tid] if 0 <= tid < len(kind) else "empty"
            detail = (
                f"the repair is a {got}"
                if tid != wanted
                else f"the repair changes area {change:.1%}"
            )
            bad_messages.append(f"{reason}; cannot repair: {detail}")
    out.repair(np.array(fixed_rows, dtype=int), "geometry", "made_valid", messages)
    out.fault(np.array(bad, dtype=int), "geometry", "invalid_geometry", bad_messages)
    keep = np.setdiff1d(rows, np.array(bad, dtype=int))
    return keep, values


def overlaps(units: gpd.GeoDataFrame, *, min_area_m2: float = 0.01) -> pd.DataFrame:
    """Pairs of ``units`` (EPSG:4326, column ``code``) that overlap, with the area in m².

    Areas are measured in the units' UTM zone; overlaps under ``min_area_m2`` are ignored.
    """
    empty = pd.DataFrame({"code_a": [], "code_b": [], "area_m2": []})
    if len(units) < 2:
        return empty
    metric = units.geometry.to_crs(utm_crs(units)).values
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="overlaps")
    keep = left < right
    left, right = left[keep], right[keep]
    if left.size == 0:
        return empty
    areas = shapely.area(shapely.intersection(metric[left], metric[right]))
    codes = units["code"].to_numpy()
    frame = pd.DataFrame({"code_a": codes[left], "code_b": codes[right], "area_m2": areas})
    return frame[frame["area_m2"] >= min_area_m2].reset_index(drop=True)
