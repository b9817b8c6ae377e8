"""Households given as points, or only by their natural unit: places and derived footprints.

Most household registers are points (a grid worker's GPS fix, a geocoded address) or a table
with nothing but a natural-unit code; few have drawn courtyards.  Both become households with
a footprint by one documented method, recorded per row as a repair:

``footprint_from_point``
    The household's point gets a *courtyard*: the square of :data:`COURTYARD_SIDE_M` metres
    centred on the point, in the natural units' UTM zone, cut by the point's Voronoi cell
    among all household points of the file (so neighbours' courtyards never overlap: of two
    households 10 m apart each keeps the half nearer to it) and clipped to the natural unit
    the point lies in.  Households at one and the same point share that point's cell.
``placed_in_unit``
    A household with no location but a known natural unit is placed at a point inside its
    unit: the unit's households without a location are spread over a square lattice of
    points inside the unit (spacing ``sqrt(area / k)`` for ``k`` households, halved until
    ``k`` lattice points fall inside), then given a courtyard like a surveyed point.

Pure: numpy and shapely on arrays, no database.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.projection import STORAGE_CRS

#: Side (metres) of the square courtyard derived around a household point.  Rural homestead
#: (宅基地) standards allow roughly 130-270 m² per household; a 16 m square is 256 m², the
#: size of a courtyard with its house.  Voronoi cells and the natural unit cut it smaller
#: where households stand closer than that (compounds, apartment buildings).
COURTYARD_SIDE_M = 16.0


def courtyards(
    points: np.ndarray,
    units: np.ndarray | None,
    metric_crs: object,
    *,
    side_m: float = COURTYARD_SIDE_M,
) -> np.ndarray:
    """Courtyard polygons (EPSG:4326) around household ``points`` (EPSG:4326).

    Parameters
    ----------
    points : numpy.ndarray of shapely.Point
        Household points, longitude/latitude (EPSG:4326); no missing values.
    units : numpy.ndarray of shapely geometries, optional
        For each point the natural unit (EPSG:4326) to clip its courtyard to, or None per
        point (or for all) to leave it unclipped.
    metric_crs
        The CRS the square is drawn in (metres; the county's UTM zone).
    side_m : float
        Side of the square, metres.

    Returns
    -------
    numpy.ndarray of shapely.Polygon
        One polygon per point, in EPSG:4326, containing its point (or touching it when the
        point lies on its unit's edge).
    """
    if len(points) == 0:
        return np.array([], dtype=object)
    pts_m = gpd.GeoSeries(points, crs=STORAGE_CRS).to_crs(metric_crs).values
    xy = shapely.get_coordinates(pts_m)
    half = side_m / 2.0
    squares = shapely.box(xy[:, 0] - half, xy[:, 1] - half, xy[:, 0] + half, xy[:, 1] + half)
    shapes = shapely.intersection(squares, _voronoi_cells(xy, half))
    if units is not None:
        clip = np.asarray(units, dtype=object)
        has = ~shapely.is_missing(clip)
        if has.any():
            clip_m = gpd.GeoSeries(clip[has], crs=STORAGE_CRS).to_crs(metric_crs).values
            shapes[has] = shapely.intersection(shapes[has], clip_m)
    shapes = _polygon_at(shapes, pts_m, squares)
    return np.asarray(gpd.GeoSeries(shapes, crs=metric_crs).to_crs(STORAGE_CRS).values)


def _voronoi_cells(xy: np.ndarray, margin: float) -> np.ndarray:
    """The Voronoi cell (metres) of each of the points ``xy``; equal points share a cell."""
    unique, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    lo, hi = unique.min(axis=0) - 10 * margin, unique.max(axis=0) + 10 * margin
    extent = shapely.box(lo[0], lo[1], hi[0], hi[1])
    if len(unique) < 2:
        return np.full(len(xy), extent, dtype=object)
    try:
        diagram = shapely.voronoi_polygons(
            shapely.multipoints(unique), extend_to=extent, ordered=True
        )
    except shapely.errors.GEOSException:  # degenerate input (collinear ...): no cut
        return np.full(len(xy), extent, dtype=object)
    cells = shapely.get_parts(diagram)
    if len(cells) != len(unique):  # pragma: no cover - GEOS gives one cell per point
        return np.full(len(xy), extent, dtype=object)
    return cells[inverse]


def _polygon_at(shapes: np.ndarray, points: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """One polygon per row: the part of ``shapes`` at its point (the largest if none is)."""
    shapes = shapes.copy()
    simple = shapely.get_type_id(shapes) == 3
    simple &= ~shapely.is_empty(shapes)
    for i in np.flatnonzero(~simple):
        parts = [
            g for g in shapely.get_parts(shapes[i]) if shapely.get_type_id(g) == 3 and g.area > 0
        ]
        if not parts:
            shapes[i] = fallback[i]
            continue
        at = [g for g in parts if shapely.intersects(g, points[i])]
        shapes[i] = at[0] if at else max(parts, key=lambda g: g.area)
    return shapes


def lattice_points(unit: shapely.Geometry, k: int, metric_crs: object) -> np.ndarray:
    """``k`` points spread inside ``unit`` (EPSG:4326) on a square lattice, EPSG:4326.

    The lattice spacing starts at ``sqrt(area / k)`` metres and is halved (at most eight
    times) until ``k`` lattice points fall inside the unit; points are taken row by row,
    spread evenly over those inside.  Should the unit be too thin for that, the remaining
    households go to the unit's point on surface.
    """
    unit_m = gpd.GeoSeries([unit], crs=STORAGE_CRS).to_crs(metric_crs).values[0]
    x0, y0, x1, y1 = unit_m.bounds
    step = max((unit_m.area / max(k, 1)) ** 0.5, 1e-3)
    inside = np.empty((0, 2))
    for _ in range(9):
        xs = np.arange(x0 + step / 2, x1, step)
        ys = np.arange(y0 + step / 2, y1, step)
        gx, gy = np.meshgrid(xs, ys)
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        if len(grid):
            inside = grid[shapely.contains_xy(unit_m, grid[:, 0], grid[:, 1])]
        if len(inside) >= k:
            break
        step /= 2
    if len(inside) >= k:
        chosen = inside[np.linspace(0, len(inside) - 1, k).round().astype(int)]
    else:
        centre = shapely.get_coordinates(shapely.point_on_surface(unit_m))
        chosen = np.vstack([inside, np.repeat(centre, k - len(inside), axis=0)])
    pts = shapely.points(chosen)
    return np.asarray(gpd.GeoSeries(pts, crs=metric_crs).to_crs(STORAGE_CRS).values)
