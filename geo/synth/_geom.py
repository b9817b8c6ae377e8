"""Private geometry helpers of :mod:`geo.synth`, all in a metric CRS (metres).

Blobs are star-shaped polygons whose log-radius is a random Fourier series: a cheap way to
get irregular, valid outlines of an exact area without a terrain model.  Tilings are Voronoi
diagrams of Lloyd-relaxed random points clipped to their parent, so the children of a unit
cover it exactly and never overlap.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "blob",
    "lot_templates",
    "polygonal",
    "relaxed_points",
    "sample_in",
    "tile",
]


def blob(
    rng: np.random.Generator,
    centre: tuple[float, float],
    area: float,
    *,
    roughness: float = 0.25,
    harmonics: int = 12,
    vertices: int = 360,
) -> shapely.Polygon:
    """An irregular star-shaped polygon of exactly ``area`` m² around ``centre`` (x, y in m)."""
    theta = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    k = np.arange(2, harmonics + 2)
    amp = roughness * rng.normal(size=len(k)) / k**1.1
    phase = rng.uniform(0, 2 * np.pi, size=len(k))
    log_r = (amp[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    fine_k = np.arange(harmonics + 2, 4 * harmonics)
    fine = 0.02 * roughness * rng.normal(size=len(fine_k))
    fine_phase = rng.uniform(0, 2 * np.pi, size=len(fine_k))
    log_r += (fine[:, None] * np.cos(fine_k[:, None] * theta + fine_phase[:, None])).sum(axis=0)
    r = np.exp(log_r - log_r.mean())
    unit = shapely.Polygon(np.c_[r * np.cos(theta), r * np.sin(theta)])
    scale = np.sqrt(area / unit.area)
    xy = np.c_[centre[0] + scale * r * np.cos(theta), centre[1] + scale * r * np.sin(theta)]
    return shapely.Polygon(xy)


def sample_in(rng: np.random.Generator, region: BaseGeometry, n: int) -> np.ndarray:
    """``n`` uniform random points inside ``region``, as an ``(n, 2)`` array of x, y."""
    if n == 0:
        return np.empty((0, 2))
    minx, miny, maxx, maxy = region.bounds
    fill = max(region.area / max((maxx - minx) * (maxy - miny), 1e-12), 0.01)
    shapely.prepare(region)
    out: list[np.ndarray] = []
    got = 0
    for _ in range(1000):
        batch = int(max(64, 1.5 * (n - got) / fill))
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(batch, 2))
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
        if got >= n:
            break
    pts = np.concatenate(out)
    if len(pts) < n:
        raise ValueError(f"could not sample {n} points inside a region of {region.area:.1f} m²")
    return pts[:n]


def tile(region: BaseGeometry, points: np.ndarray) -> np.ndarray:
    """Voronoi cells of ``points`` clipped to ``region``: polygons aligned with ``points``.

    The cells cover ``region`` exactly and overlap nowhere (up to floating-point noise).
    """
    if len(points) == 1:
        return np.array([region], dtype=object)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=region, ordered=True)
    )
    if len(cells) != len(points):
        raise ValueError("Voronoi diagram lost a cell (duplicate seed points?)")
    return polygonal(shapely.intersection(cells, region))


def relaxed_points(
    rng: np.random.Generator, region: BaseGeometry, n: int, *, iterations: int = 2
) -> np.ndarray:
    """``n`` random points in ``region`` moved ``iterations`` times to their cell's centroid.

    Lloyd relaxation evens out the cell sizes while keeping the tiling irregular.
    """
    pts = sample_in(rng, region, n)
    if n == 1:
        return pts
    for _ in range(iterations):
        cells = tile(region, pts)
        cent = shapely.centroid(cells)
        inside = shapely.contains(region, cent)
        cent = np.where(inside, cent, shapely.point_on_surface(cells))
        new = shapely.get_coordinates(cent)
        if len(np.unique(new.round(3), axis=0)) < n:
            break
        pts = new
    return pts


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Each geometry as a MultiPolygon, dropping points and lines left by overlays."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    types = shapely.get_type_id(geoms)
    poly = types == shapely.GeometryType.POLYGON
    out[poly] = shapely.multipolygons(shapely.get_parts(geoms[poly]), indices=np.arange(poly.sum()))
    multi = types == shapely.GeometryType.MULTIPOLYGON
    out[multi] = geoms[multi]
    for i in np.flatnonzero(~poly & ~multi):
        parts = [
            p
            for p in shapely.get_parts(geoms[i])
            if shapely.get_type_id(p) == shapely.GeometryType.POLYGON and not p.is_empty
        ]
        parts += [
            q
            for p in shapely.get_parts(geoms[i])
            if shapely.get_type_id(p) == shapely.GeometryType.MULTIPOLYGON
            for q in p.geoms
        ]
        out[i] = shapely.MultiPolygon(parts)
    return out


def lot_templates(aspects: tuple[float, ...], half: int) -> np.ndarray:
    """Grid offsets ``(i, j)`` sorted by elliptical distance, one list per aspect ratio.

    Returns an int array of shape ``(len(aspects), (2 * half + 1) ** 2, 2)``: taking the first
    ``m`` rows of template ``a`` gives ``m`` lots clustered in an ellipse stretched ``a`` times
    along the x axis (the road).
    """
    i, j = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    out = np.empty((len(aspects), len(i), 2), dtype=np.int64)
    for a, aspect in enumerate(aspects):
        d = np.hypot(i / aspect, j) + 1e-7 * (i + half) + 1e-9 * (j + half)
        order = np.argsort(d, kind="stable")
        out[a] = np.c_[i[order], j[order]]
    return out
