"""Household adjacency of one village: Delaunay edges and sparse graphs (numpy core).

Coordinates are metric (UTM metres).  Used by the partition, the polish pass and the
contiguity repair of :mod:`geo.grids`.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.spatial import Delaunay, QhullError


def delaunay_edges(xy: np.ndarray, village: shapely.Geometry | None) -> tuple[np.ndarray, ...]:
    """Undirected Delaunay edges ``(i, j, length, inside)`` of the points ``xy``.

    ``inside`` is True where the edge's dual Voronoi edge crosses ``village``, i.e. where the
    two households' Voronoi cells still touch once clipped to the village.  Edges whose
    Voronoi edge lies outside (across a bay of a concave village, or along its rim) are kept
    but treated as weak links.  Degenerate inputs (fewer than three points, all collinear)
    fall back to a chain along the principal axis.
    """
    n = len(xy)
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0), np.empty(0, dtype=bool)
    edges = dual = None
    if n >= 3:
        try:
            edges, dual = _delaunay_with_duals(xy)
        except (QhullError, ValueError):
            edges = None
    if edges is None or len(edges) == 0:
        order = np.argsort(principal_projection(xy), kind="stable")
        edges = np.sort(np.column_stack([order[:-1], order[1:]]), axis=1)
        dual = None
    i, j = edges[:, 0], edges[:, 1]
    d = np.hypot(*(xy[i] - xy[j]).T)
    if village is None:
        inside = np.ones(len(i), dtype=bool)
    elif dual is None:
        mid = (xy[i] + xy[j]) / 2
        inside = shapely.contains_xy(village, mid[:, 0], mid[:, 1])
    else:
        # a dual edge with an end inside the village crosses it; test the rest exactly
        ends = shapely.get_coordinates(dual).reshape(-1, 2, 2)
        inside = shapely.contains_xy(village, ends[:, 0, 0], ends[:, 0, 1])
        inside |= shapely.contains_xy(village, ends[:, 1, 0], ends[:, 1, 1])
        rest = ~inside
        if rest.any():
            inside[rest] = shapely.intersects(village, dual[rest])
    return i, j, d, inside


def triangulation(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delaunay triangles of ``xy`` (simplices, neighbours) and their circumcentres, which
    are the vertices of the Voronoi diagram."""
    tri = Delaunay(xy)
    simp, nbr = tri.simplices, tri.neighbors
    a, b, c = xy[simp[:, 0]], xy[simp[:, 1]], xy[simp[:, 2]]
    dd = 2 * (
        a[:, 0] * (b[:, 1] - c[:, 1])
        + b[:, 0] * (c[:, 1] - a[:, 1])
        + c[:, 0] * (a[:, 1] - b[:, 1])
    )
    dd = np.where(np.abs(dd) < 1e-12, 1e-12, dd)
    a2, b2, c2 = (a**2).sum(1), (b**2).sum(1), (c**2).sum(1)
    ux = (a2 * (b[:, 1] - c[:, 1]) + b2 * (c[:, 1] - a[:, 1]) + c2 * (a[:, 1] - b[:, 1])) / dd
    uy = (a2 * (c[:, 0] - b[:, 0]) + b2 * (a[:, 0] - c[:, 0]) + c2 * (b[:, 0] - a[:, 0])) / dd
    cc = np.column_stack([ux, uy])
    return simp, nbr, cc


def _delaunay_with_duals(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delaunay edges (sorted pairs) and their dual Voronoi edges as LineStrings."""
    simp, nbr, cc = triangulation(xy)
    span = float(np.ptp(xy, axis=0).max()) * 4 + 1.0
    rows = []
    for k in range(3):
        p, q = simp[:, (k + 1) % 3], simp[:, (k + 2) % 3]
        other = nbr[:, k]
        start = cc
        end = np.where(other[:, None] >= 0, cc[np.maximum(other, 0)], 0.0)
        hull = other < 0
        if hull.any():
            e = xy[q[hull]] - xy[p[hull]]
            normal = np.column_stack([e[:, 1], -e[:, 0]])
            away = xy[p[hull]] - xy[simp[hull, k]]
            normal *= np.sign((normal * away).sum(axis=1))[:, None]
            normal /= np.maximum(np.hypot(normal[:, 0], normal[:, 1]), 1e-12)[:, None]
            end[hull] = start[hull] + normal * span
        rows.append((np.minimum(p, q), np.maximum(p, q), start, end))
    i = np.concatenate([r[0] for r in rows])
    j = np.concatenate([r[1] for r in rows])
    start = np.concatenate([r[2] for r in rows])
    end = np.concatenate([r[3] for r in rows])
    _, first = np.unique(i * len(xy) + j, return_index=True)
    lines = shapely.linestrings(np.stack([start[first], end[first]], axis=1))
    return np.column_stack([i[first], j[first]]), lines


def graph_matrix(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray) -> csr_matrix:
    """Symmetric sparse weight matrix of the edges."""
    rows, cols = np.concatenate([i, j]), np.concatenate([j, i])
    return coo_matrix((np.concatenate([w, w]), (rows, cols)), shape=(n, n)).tocsr()


def principal_projection(xy: np.ndarray) -> np.ndarray:
    """Coordinates of ``xy`` projected on their principal axis (largest spread)."""
    c = xy - xy.mean(axis=0)
    if len(c) < 2:
        return np.zeros(len(c))
    cov = c.T @ c
    vals, vecs = np.linalg.eigh(cov)
    return c @ vecs[:, int(np.argmax(vals))]
