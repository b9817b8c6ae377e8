"""Last-resort contiguity repair of one village: re-cut a broken cell together with a neighbour.

Metric coordinates (UTM metres), one village at a time (called by :mod:`geo.grids._engine`).

A cell can come out of the tessellation in two pieces that each hold households, typically in
sparse rural villages where a small hamlet was grouped with part of another hamlet whose
Voronoi region lies on the far side of a third cell.  Moving the detached households to the
cell they touch is the first fix (:func:`geo.grids._engine._repair`), but it often breaks the
size bounds: the broken cell drops below ``min`` or the neighbour rises above ``max``.

Here the broken cell ``c`` and a neighbour ``b`` that its detached piece touches are pooled
and cut again in two (or, when ``c`` would be too small without the piece, the piece goes to
a cell it touches and ``c`` is re-cut with a neighbour of its main piece; failing both, the
piece starts a cell of its own, re-cut with a cell it touches, so the village gets one cell
more).  Every pooled
household is ranked by its graph distance (along Delaunay edges whose Voronoi edge lies
inside the village, i.e. through touching household cells) to ``c``'s main piece minus its
distance to ``b``; the first ``n_c`` go to ``c``, the rest to
``b``, with ``n_c`` as close to the size of ``c``'s main piece as the bounds allow.  The
result is tessellated again and kept only if fewer cells are in pieces than before, so the
repair can never make a village worse.  Our own code: it is a two-region re-cut under size
bounds, which no regionaliser offers as an operation.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from geo.grids._graph import delaunay_edges, graph_matrix
from geo.grids._tessellate import _polygons, neighbour_for, piece_hits, tessellate

#: Rounds over the broken cells; each round re-tessellates once per accepted re-cut.
REJOIN_ROUNDS = 3


def broken_cells(geoms: list) -> list[int]:
    """Labels of the cells that are in more than one piece."""
    return [q for q, g in enumerate(geoms) if shapely.get_num_geometries(g) > 1]


def rejoin(
    village: shapely.Geometry,
    rep_xy: np.ndarray,
    seeds: np.ndarray,
    owner: np.ndarray,
    labels: np.ndarray,
    geoms: list,
    cells: np.ndarray | None,
    min_size: int,
    max_size: int,
) -> tuple[np.ndarray, list]:
    """``(labels, geoms)`` with broken cells re-cut together with a neighbour where that
    lowers the number of cells in pieces (inputs returned unchanged otherwise)."""
    broken = broken_cells(geoms)
    if not broken or len(rep_xy) < 3:
        return labels, geoms
    i, j, d, inside = delaunay_edges(rep_xy, village)
    graph = graph_matrix(len(rep_xy), i[inside], j[inside], d[inside] + 1e-9)
    for _ in range(REJOIN_ROUNDS):
        accepted = False
        for c in broken:
            for new in _candidates(c, labels, geoms, rep_xy, graph, min_size, max_size):
                new_geoms, _ = tessellate(village, rep_xy, seeds, owner, new, cells)
                now = broken_cells(new_geoms)
                if len(now) < len(broken):
                    labels, geoms, broken = new, new_geoms, now
                    accepted = True
                    break
        if not accepted or not broken:
            break
    return labels, geoms


def _candidates(c, labels, geoms, rep_xy, graph, min_size, max_size):
    """New labellings to try for broken cell ``c``, cheapest change first.

    1. ``c`` re-cut with each cell its detached piece touches;
    2. the piece handed to a touching cell with room, then ``c`` (now short of ``min``)
       re-cut with each cell its main piece touches;
    3. the piece made a new cell (label ``max + 1``) re-cut with a cell it touches, and
       ``c``'s main piece, if short of ``min``, re-cut with a cell it touches: for two
       hamlets too small to stand alone whose neighbours have no room to take them.
    """
    main, detached = _pieces(c, geoms[c], labels, rep_xy)
    if len(detached) == 0:
        return
    touching = neighbour_for(c, detached, geoms, rep_xy)
    for b in touching:
        new = recut_pair(labels, c, b, main, graph, min_size, max_size)
        if new is not None:
            yield new
    sizes = np.bincount(labels)
    around_main = [b for b in neighbour_for(c, main, geoms, rep_xy) if b != c]
    if len(main) < min_size:
        for d in touching:
            if sizes[d] + len(detached) > max_size:
                continue
            moved = labels.copy()
            moved[detached] = d
            for b in around_main:
                if b == d:
                    continue
                new = recut_pair(moved, c, b, main, graph, min_size, max_size)
                if new is not None:
                    yield new
    # 3. one cell more: the piece starts a new cell, re-cut with a cell it touches, and the
    #    main piece, if now too small, is re-cut with a cell it touches
    extra = int(labels.max()) + 1
    for b in touching:
        moved = labels.copy()
        moved[detached] = extra
        step = recut_pair(moved, extra, b, detached, graph, min_size, max_size)
        if step is None:
            continue
        if len(main) >= min_size:
            yield step
            continue
        for a in around_main:
            if a == b:
                continue
            new = recut_pair(step, c, a, main, graph, min_size, max_size)
            if new is not None:
                yield new


def _pieces(c: int, geom, labels: np.ndarray, rep_xy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Households of cell ``c`` in its main piece (as :func:`piece_hits` picks it) and
    elsewhere."""
    members = np.flatnonzero(labels == c)
    parts = _polygons(geom)
    if len(parts) < 2:
        return members, members[:0]
    hits, main = piece_hits(parts, rep_xy[members])
    return members[hits[main]], members[~hits[main]]


def recut_pair(
    labels: np.ndarray,
    c: int,
    b: int,
    main: np.ndarray,
    graph,
    min_size: int,
    max_size: int,
) -> np.ndarray | None:
    """Labels with cells ``c`` and ``b`` pooled and cut again along graph distance, ``c``
    keeping ``main``'s side; None when the pool cannot make two cells within the bounds."""
    pool = np.flatnonzero((labels == c) | (labels == b))
    s = len(pool)
    lo_c, hi_c = max(min_size, s - max_size), min(max_size, s - min_size)
    if lo_c > hi_c:
        return None
    pos = np.full(len(labels), -1, dtype=np.int64)
    pos[pool] = np.arange(s)
    sub = graph[pool][:, pool]
    from_c = _multi_source(sub, pos[main])
    from_b = _multi_source(sub, pos[pool[labels[pool] == b]])
    order = np.argsort(from_c - from_b, kind="stable")
    n_c = int(np.clip(len(main), lo_c, hi_c))
    new = labels.copy()
    new[pool[order[:n_c]]] = c
    new[pool[order[n_c:]]] = b
    return new


def _multi_source(graph, sources: np.ndarray) -> np.ndarray:
    """Graph distance of every node to the nearest of ``sources`` (large where unreachable)."""
    if len(sources) == 0:
        return np.zeros(graph.shape[0])
    dist = dijkstra(graph, directed=False, indices=sources, min_only=True)
    finite = np.isfinite(dist)
    big = (dist[finite].max() if finite.any() else 0.0) * 10 + 1e6
    return np.where(finite, dist, big)
