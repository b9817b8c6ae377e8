"""Households in their natural units: households given as points or only by their unit
(placed and given a derived footprint, :mod:`geo.load._footprints`), point-in-unit
placement, snapping of households just outside a unit, codes filled from the location, the
GCJ-02 hint, and residents at home.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.load import _gcj02
from geo.load._checked import Collector, References
from geo.load._footprints import COURTYARD_SIDE_M, courtyards, lattice_points
from geo.projection import STORAGE_CRS, utm_crs

_POINT = 0


def households_located(
    geoms: np.ndarray,
    cols: dict[str, pd.Series],
    refs: References | None,
    out: Collector,
    notes: list[str],
    *,
    tolerance_m: float,
    gcj02: bool,
    side_m: float = COURTYARD_SIDE_M,
) -> np.ndarray:
    """Households' geometries (EPSG:4326) placed in their units, every one a polygon.

    ``geoms`` are the checked geometries (polygons, points, or None where the row has no
    location or a geometry fault).  In order: rows without a location but with a natural
    unit code are placed inside their unit (repair ``placed_in_unit``) and the others faulted
    ``empty_geometry``; every household is placed in the unit it lies in
    (:func:`households_in_units`: snapping, codes filled); points get a courtyard footprint
    (repair ``footprint_from_point``, method in :mod:`geo.load._footprints`).

    Returns
    -------
    numpy.ndarray
        Polygons (EPSG:4326), None in faulted rows (a copy; ``geoms`` is not changed).
    """
    n = len(geoms)
    units = refs.natural_units if refs is not None else None
    geoms = geoms.copy()
    no_place = shapely.is_missing(geoms) & ~out.bad_rows(n, "geometry")
    placed = _place_in_units(geoms, no_place, cols, units, out)
    unit_of = np.full(n, -1)
    if units is not None and not units.empty:
        geoms, unit_of = households_in_units(
            geoms, cols, units, out, notes, tolerance_m=tolerance_m, gcj02=gcj02
        )
    points = np.flatnonzero((shapely.get_type_id(geoms) == _POINT) & ~out.bad_rows(n, "geometry"))
    if points.size == 0:
        return geoms
    clip = None
    if units is not None and not units.empty:
        clip = np.full(points.size, None, dtype=object)
        known = unit_of[points] >= 0
        clip[known] = units.geometry.values[unit_of[points][known]]
        metric = utm_crs(units)
    else:
        metric = utm_crs(gpd.GeoSeries(geoms[points], crs=STORAGE_CRS))
    geoms[points] = courtyards(geoms[points], clip, metric, side_m=side_m)
    surveyed = points[~np.isin(points, placed)]
    out.repair(
        surveyed,
        "geometry",
        "footprint_from_point",
        f"a point: footprint derived as the {side_m:g} m courtyard square around it, cut by "
        "its Voronoi cell among the file's points and clipped to its natural unit",
    )
    return geoms


def _place_in_units(
    geoms: np.ndarray,
    rows: np.ndarray,
    cols: dict[str, pd.Series],
    units: gpd.GeoDataFrame | None,
    out: Collector,
) -> np.ndarray:
    """Put a point inside its natural unit into ``geoms`` (in place) for each of ``rows``
    (a mask) that names a known unit; fault the others.  The rows placed."""
    n = len(geoms)
    codes = cols.get("natural_unit_code", pd.Series([None] * n, dtype=object))
    if units is None or units.empty:
        out.fault(
            np.flatnonzero(rows),
            "geometry",
            "empty_geometry",
            "geometry is empty or null (a household with only a natural_unit_code is placed "
            "inside its unit when loaded into the database, which has the units)",
        )
        return np.array([], dtype=int)
    index = pd.Series(np.arange(len(units)), index=units["code"].to_numpy())
    index = index[~index.index.duplicated()]
    unit = codes.map(index)
    can = rows & unit.notna().to_numpy()
    out.fault(
        np.flatnonzero(rows & ~can),
        "geometry",
        "empty_geometry",
        "geometry is empty or null, and no known natural_unit_code to place the household in",
    )
    todo = np.flatnonzero(can)
    if todo.size == 0:
        return todo
    metric = utm_crs(units)
    by_unit = pd.Series(todo).groupby(unit.to_numpy()[todo].astype(int))
    messages = {}
    for u, members in by_unit:
        members = members.to_numpy()
        geoms[members] = lattice_points(units.geometry.values[u], members.size, metric)
        code = units["code"].iloc[u]
        for r in members:
            messages[r] = (
                f"no location: placed inside natural unit {code} ({members.size} such "
                "households spread over it) and given a courtyard footprint"
            )
    out.repair(todo, "geometry", "placed_in_unit", [messages[r] for r in todo])
    return todo


def households_in_units(
    geoms: np.ndarray,
    cols: dict[str, pd.Series],
    units: gpd.GeoDataFrame,
    out: Collector,
    notes: list[str],
    *,
    tolerance_m: float,
    gcj02: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Place households (EPSG:4326 polygons or points) in the natural units they lie in.

    A household belongs to the unit its point on surface lies in (the first, if several).
    One outside every unit but at most ``tolerance_m`` metres (measured in the units' UTM
    zone) from one is moved 0.5 m past that unit's edge and recorded as a repair; farther
    ones are faulted.  Missing ``natural_unit_code`` and ``village_code`` values of ``cols``
    are then filled from the location (in place), and a ``notes`` line says when the points
    look GCJ-02 shifted (unless ``gcj02``).

    Returns
    -------
    geoms : numpy.ndarray
        The geometries, snapped ones moved (a copy; ``geoms`` is not changed).
    unit_of : numpy.ndarray of int
        Per row the position in ``units`` of the unit it lies in, -1 for none.
    """
    unit_of_row = np.full(len(geoms), -1)
    rows = np.flatnonzero(~shapely.is_missing(geoms))
    if rows.size == 0 or units.empty:
        return geoms, unit_of_row
    points = gpd.GeoSeries(shapely.point_on_surface(geoms[rows]), crs=STORAGE_CRS)
    tree = shapely.STRtree(units.geometry.values)
    pairs = tree.query(points.values, predicate="within")
    unit_of = np.full(rows.size, -1)
    unit_of[pairs[0][::-1]] = pairs[1][::-1]  # first match wins
    if not gcj02:
        _gcj_hint(points, unit_of, tree, notes)
    outside = np.flatnonzero(unit_of < 0)
    geoms = geoms.copy()
    if outside.size:
        _snap(geoms, rows, outside, unit_of, points, units, out, tolerance_m)
    _fill_codes(rows, unit_of, cols, units, out, notes)
    unit_of_row[rows] = unit_of
    return geoms, unit_of_row


def _snap(geoms, rows, outside, unit_of, points, units, out: Collector, tolerance_m) -> None:
    """Move households of ``outside`` within ``tolerance_m`` of a unit into it (in place:
    ``geoms`` and ``unit_of``); fault the others."""
    metric = utm_crs(units)
    units_m = units.geometry.to_crs(metric).values
    pts_m = points.iloc[outside].to_crs(metric).values
    near, dist = shapely.STRtree(units_m).query_nearest(
        pts_m, max_distance=tolerance_m, return_distance=True, all_matches=False
    )
    target = np.full(outside.size, -1)
    distance = np.full(outside.size, np.nan)
    target[near[0]] = near[1]
    distance[near[0]] = dist
    snapped_rows, messages = [], []
    for k in np.flatnonzero(target >= 0):
        row = rows[outside[k]]
        line = shapely.shortest_line(pts_m[k], units_m[target[k]])
        (x0, y0), (x1, y1) = shapely.get_coordinates(line)
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        dx = (x1 - x0) * (1 + 0.5 / length)
        dy = (y1 - y0) * (1 + 0.5 / length)
        moved = gpd.GeoSeries([geoms[row]], crs=STORAGE_CRS).to_crs(metric)
        moved = moved.translate(dx, dy).to_crs(STORAGE_CRS).values[0]
        if shapely.within(shapely.point_on_surface(moved), units.geometry.values[target[k]]):
            geoms[row] = moved
            unit_of[outside[k]] = target[k]
            snapped_rows.append(row)
            code = units["code"].iloc[target[k]]
            messages.append(f"{distance[k]:.1f} m outside natural unit {code}; moved into it")
    out.repair(np.array(snapped_rows, dtype=int), "geometry", "snapped_into_natural_unit",
               messages)  # fmt: skip
    still = rows[outside][unit_of[outside] < 0]
    out.fault(
        still,
        "geometry",
        "outside_natural_units",
        f"the household lies in no natural unit and more than {tolerance_m:g} m from every one",
    )


def _fill_codes(rows, unit_of, cols, units, out: Collector, notes: list[str]) -> None:
    n = len(next(iter(cols.values())))
    placed = unit_of >= 0
    unit_code = pd.Series([None] * n, dtype=object)
    unit_code.iloc[rows[placed]] = units["code"].to_numpy()[unit_of[placed]]
    nu = cols.get("natural_unit_code", pd.Series([None] * n, dtype=object))
    fill = nu.isna() & unit_code.notna()
    if fill.any():
        notes.append(f"natural_unit_code filled from location for {int(fill.sum()):,} rows")
    elsewhere = (nu.notna() & unit_code.notna() & (nu != unit_code)).sum()
    if elsewhere:
        notes.append(f"{int(elsewhere):,} households lie in another natural unit than their code")
    cols["natural_unit_code"] = nu.where(~fill, unit_code)
    parent = dict(zip(units["code"], units["parent_code"], strict=True))
    village_of_unit = cols["natural_unit_code"].map(parent)
    village = cols.get("village_code", pd.Series([None] * n, dtype=object))
    cols["village_code"] = village.where(village.notna(), village_of_unit)
    wrong = (village.notna() & village_of_unit.notna() & (village != village_of_unit)).to_numpy()
    bad = np.flatnonzero(wrong)
    out.fault(
        bad,
        "village_code",
        "unknown_parent",
        [
            f"village_code {village.iloc[r]} is not the village of natural unit "
            f"{cols['natural_unit_code'].iloc[r]} ({village_of_unit.iloc[r]})"
            for r in bad
        ],
    )


def _gcj_hint(points: gpd.GeoSeries, unit_of: np.ndarray, tree, notes: list[str]) -> None:
    """Note when points fall in units far more often once the GCJ-02 offset is undone."""
    n = len(points)
    sample = np.linspace(0, n - 1, min(n, 2000)).astype(int)
    inside = (unit_of[sample] >= 0).mean()
    if inside > 0.9:
        return
    fixed = _gcj02.geoseries_gcj02_to_wgs84(points.iloc[sample])
    hits = tree.query(fixed.values, predicate="within")
    inside_fixed = np.unique(hits[0]).size / sample.size
    if inside_fixed >= 0.5 and inside_fixed >= inside + 0.2:
        notes.append(
            f"warning: only {inside:.0%} of the points fall in a natural unit, but "
            f"{inside_fixed:.0%} would after undoing the GCJ-02 offset: the coordinates look "
            "GCJ-02 (Chinese phone-map) shifted; reload with --gcj02"
        )


def household_defaults(cols: dict[str, pd.Series], out: Collector) -> None:
    residents = cols["residents"]
    at_home = cols.get("residents_at_home", pd.Series(np.nan, index=residents.index))
    cols["residents_at_home"] = at_home.where(at_home.notna(), residents)
    over = (cols["residents_at_home"] > residents).to_numpy()
    rows = np.flatnonzero(over)
    out.fault(
        rows,
        "residents_at_home",
        "bad_value",
        [
            f"residents_at_home {cols['residents_at_home'].iloc[r]:g} exceeds residents "
            f"{residents.iloc[r]:g}"
            for r in rows
        ],
    )
