"""Polish a village's partition: move boundary households where cells get more compact.

Numpy core of :mod:`geo.grids` (metres, one village), run by :mod:`geo.grids._engine` after
:func:`geo.grids._partition.partition_village`.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import QhullError

from geo.grids._graph import triangulation


def polish_labels(
    labels: np.ndarray,
    seeds: np.ndarray,
    cells: np.ndarray,
    village: shapely.Geometry,
    natural_units: np.ndarray,
    min_size: int,
    max_size: int,
    *,
    sweeps: int = 8,
) -> np.ndarray:
    """Move boundary households to a neighbouring cell where that raises Polsby-Popper.

    Local search on the household Voronoi cells (``cells``, one per seed, one seed per
    household; metres) clipped to the village: each cell's area and perimeter are sums over
    its households (perimeter minus twice the Voronoi edges shared inside the cell), so the
    change in ``PP_a + PP_b`` of moving one household from cell ``a`` to a touching cell
    ``b`` is exact and vectorised.  A move is taken only if both sizes stay within the
    bounds, the household's neighbours in ``a`` form one run around it (so ``a`` stays in
    one piece locally), ``b`` already holds part of the household's natural unit (a whole
    natural unit is never split) and the gain is positive; per sweep each cell takes part in
    at most one move and movers are not neighbours.  Our own code because no regionaliser
    optimises this measure under a size floor and ceiling.  The caller keeps the result
    only if the tessellated cells all come out in one piece.
    """
    n = len(labels)
    k = int(labels.max()) + 1 if n else 0
    if k < 2 or len(seeds) != n or n < 4:
        return labels
    _, nu = np.unique(natural_units, return_inverse=True)
    has_nu = np.zeros((int(nu.max()) + 1, k), dtype=bool)
    has_nu[nu, labels] = True
    if not (has_nu.sum(axis=1) > 1).any():  # every natural unit whole: nothing may move
        return labels
    try:
        ei, ej, el = _dual_lengths(seeds, village)
    except QhullError:
        return labels
    labels = labels.copy()
    clipped = np.asarray(cells).copy()
    out = ~shapely.contains_properly(village, clipped)
    clipped[out] = shapely.intersection(clipped[out], village)
    area = shapely.area(clipped)
    perim = shapely.length(clipped)
    src = np.concatenate([ei, ej])
    dst = np.concatenate([ej, ei])
    wgt = np.concatenate([el, el])
    # neighbours of each household in angular order (for the one-run test)
    ang = np.arctan2(seeds[dst, 1] - seeds[src, 1], seeds[dst, 0] - seeds[src, 0])
    order = np.lexsort((ang, src))
    src, dst, wgt = src[order], dst[order], wgt[order]
    deg = np.bincount(src, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(deg)])
    start = indptr[:-1]
    nxt = np.arange(len(src)) + 1
    nxt[(start + deg - 1)[deg > 0]] = start[deg > 0]
    rows = np.arange(n)
    for _ in range(sweeps):
        size = np.bincount(labels, minlength=k)
        A = np.bincount(labels, area, k)
        # shared Voronoi edge length of each household with each cell
        L = np.bincount(src * k + labels[dst], wgt, n * k).reshape(n, k)
        inner = L[rows, labels]
        P = np.bincount(labels, perim, k) - np.bincount(labels, inner, k)
        pp = 4 * np.pi * A / np.maximum(P, 1e-9) ** 2
        pp_a = 4 * np.pi * (A[labels] - area) / np.maximum(P[labels] - perim + 2 * inner, 1e-9) ** 2
        Pb = P[None, :] + perim[:, None] - 2 * L
        pp_b = 4 * np.pi * (A[None, :] + area[:, None]) / np.maximum(Pb, 1e-9) ** 2
        gain = pp_a[:, None] + pp_b - pp[labels][:, None] - pp[None, :]
        ok = (L > 0) & has_nu[nu] & (size[None, :] < max_size)
        ok[rows, labels] = False
        ok &= (size[labels] > min_size)[:, None]
        gain = np.where(ok, gain, -np.inf)
        to = np.argmax(gain, axis=1)
        g = gain[rows, to]
        same = labels[dst] == labels[src]
        runs = np.bincount(src, same & ~same[nxt], n)
        cand = np.flatnonzero((g > 1e-9) & (runs == 1))
        if len(cand) == 0:
            break
        cand = cand[np.argsort(-g[cand], kind="stable")]
        used = np.zeros(k, dtype=bool)
        blocked = np.zeros(n, dtype=bool)
        for h in cand:
            a, b = labels[h], to[h]
            if used[a] or used[b] or blocked[h]:
                continue
            used[a] = used[b] = True
            blocked[dst[indptr[h] : indptr[h + 1]]] = True
            labels[h] = b
            has_nu[nu[h], b] = True
    return labels


def _dual_lengths(xy: np.ndarray, village: shapely.Geometry) -> tuple[np.ndarray, ...]:
    """Delaunay edges ``(i, j)`` of ``xy`` with the length (m) of their Voronoi edge in
    ``village``.

    Voronoi edges whose two ends lie in the village are measured directly; the others (and
    the rays of hull edges) are clipped to the village first.  Zero-length edges are dropped.
    """
    simp, nbr, cc = triangulation(xy)
    span = float(np.ptp(xy, axis=0).max()) * 4 + 1.0
    t = np.arange(len(simp))
    ii, jj, s0, s1 = [], [], [], []
    for k in range(3):
        once = nbr[:, k] < t  # each interior edge once (from its higher triangle), hull edges
        p, q = simp[once, (k + 1) % 3], simp[once, (k + 2) % 3]
        other, tk = nbr[once, k], t[once]
        end = cc[np.maximum(other, 0)].copy()
        hull = other < 0
        if hull.any():
            e = xy[q[hull]] - xy[p[hull]]
            normal = np.column_stack([e[:, 1], -e[:, 0]])
            away = xy[p[hull]] - xy[simp[tk[hull], k]]
            normal *= np.sign((normal * away).sum(axis=1))[:, None]
            normal /= np.maximum(np.hypot(normal[:, 0], normal[:, 1]), 1e-12)[:, None]
            end[hull] = cc[tk[hull]] + normal * span
        ii.append(p)
        jj.append(q)
        s0.append(cc[tk])
        s1.append(end)
    i, j = np.concatenate(ii), np.concatenate(jj)
    p0, p1 = np.concatenate(s0), np.concatenate(s1)
    length = np.hypot(p1[:, 0] - p0[:, 0], p1[:, 1] - p0[:, 1])
    inside = shapely.contains_xy(village, p0[:, 0], p0[:, 1]) & shapely.contains_xy(
        village, p1[:, 0], p1[:, 1]
    )
    if (~inside).any():
        lines = shapely.linestrings(np.stack([p0[~inside], p1[~inside]], axis=1))
        length[~inside] = shapely.length(shapely.intersection(lines, village))
    keep = length > 1e-9
    return i[keep], j[keep], length[keep]
