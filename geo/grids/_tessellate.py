"""Tessellate one village into cell polygons from a household -> cell labelling.

Metric coordinates (UTM metres), one village at a time, so that villages can run in parallel.

Method: the Voronoi diagram of the household *seeds* (each household's representative point
plus, for courtyard polygons, its corners pulled 10 % towards that point) is dissolved by cell
(``shapely.coverage_union_all``: the Voronoi cells form an exact coverage) and then clipped to
the village.  The clipped cells tile the village exactly: their union is the village, they do
not overlap, and each contains its households' representative points (a seed lies in its own
Voronoi cell).

A concave village can cut a dissolved cell into pieces.  Pieces that hold no representative
point of the cell's households ("shadow" slivers of Voronoi cells reaching across a bay) are
handed to the neighbouring cell sharing the longest boundary with them, which keeps the tiling
and every household's point where it was.  Pieces holding households are reported back, so
that the caller can move those households to a neighbour where the size bounds allow.
"""

from __future__ import annotations

import numpy as np
import shapely

#: Radius (m) of the circle on which households sharing one point are spread for Voronoi.
DUPLICATE_SPREAD_M = 0.3


def spread_duplicates(xy: np.ndarray) -> np.ndarray:
    """``xy`` with exact duplicate points spread on a small circle (deterministic)."""
    if len(xy) < 2:
        return xy
    mm = np.round((xy - xy.min(axis=0)) * 1000).astype(np.int64)  # millimetres
    key = mm[:, 0] * (int(mm[:, 1].max()) + 1) + mm[:, 1]
    _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    if counts.max() == 1:
        return xy
    out = xy.copy()
    dup = counts[inv] > 1
    order = np.argsort(inv, kind="stable")
    rank = np.empty(len(xy), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank[order] = np.arange(len(xy)) - starts[inv[order]]
    ang = 2 * np.pi * rank / np.maximum(counts[inv], 1)
    out[dup, 0] += DUPLICATE_SPREAD_M * np.cos(ang[dup])
    out[dup, 1] += DUPLICATE_SPREAD_M * np.sin(ang[dup])
    return out


def seed_cells(seeds: np.ndarray, village: shapely.Geometry) -> np.ndarray:
    """Voronoi polygon of each seed (array aligned with ``seeds``), covering the village."""
    if len(seeds) == 1:
        minx, miny, maxx, maxy = village.bounds
        return np.array([shapely.box(minx - 1, miny - 1, maxx + 1, maxy + 1)])
    vx0, vy0, vx1, vy1 = village.bounds
    (sx0, sy0), (sx1, sy1) = seeds.min(axis=0), seeds.max(axis=0)
    env = shapely.box(
        min(vx0, sx0) - 10, min(vy0, sy0) - 10, max(vx1, sx1) + 10, max(vy1, sy1) + 10
    )
    vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=env, ordered=True)
    parts = shapely.get_parts(vor)
    if len(parts) != len(seeds):  # GEOS merged coincident seeds: map polygons back by location
        parts = parts[_locate(parts, seeds)]
    return parts


def _locate(polys: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    tree = shapely.STRtree(polys)
    pt_idx, poly_idx = tree.query(shapely.points(seeds), predicate="intersects")
    out = np.zeros(len(seeds), dtype=np.int64)
    out[pt_idx[::-1]] = poly_idx[::-1]
    return out


def _polygons(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """Polygon parts of ``geom`` with positive area (drops stray lines and points)."""
    parts = shapely.get_parts(geom)
    return [p for p in parts if shapely.get_type_id(p) == 3 and p.area > 0]


def _as_polygonal(geoms: list[shapely.Geometry]) -> shapely.Geometry:
    if len(geoms) == 1:
        return geoms[0]
    if not geoms:
        return shapely.Polygon()
    return shapely.multipolygons(geoms)


def dissolve(
    cells: np.ndarray, labels: np.ndarray, k: int, village: shapely.Geometry
) -> list[shapely.Geometry]:
    """Union of the seed cells per label, clipped to the village (list of length ``k``)."""
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=k)
    groups = np.split(cells[order], np.cumsum(counts)[:-1])
    merged = np.array(
        [shapely.coverage_union_all(g) if len(g) else shapely.Polygon() for g in groups]
    )
    inside = shapely.contains_properly(village, merged)
    clipped = merged.copy()
    if (~inside).any():
        clipped[~inside] = shapely.intersection(merged[~inside], village)
    return [_as_polygonal(_polygons(g)) for g in clipped]


def _shared_length(a: shapely.Geometry, others: list[shapely.Geometry]) -> np.ndarray:
    ba = shapely.boundary(a)
    return shapely.length(shapely.intersection(ba, shapely.boundary(np.array(others))))


def tessellate(
    village: shapely.Geometry,
    rep_xy: np.ndarray,
    seeds: np.ndarray,
    owner: np.ndarray,
    labels: np.ndarray,
    cells: np.ndarray | None = None,
) -> tuple[list[shapely.Geometry], list[tuple[int, np.ndarray]]]:
    """Cell polygons of one village and the household pieces that came out detached.

    Parameters
    ----------
    village : shapely geometry, metres
    rep_xy : (n, 2) representative points of the households, metres.
    seeds : (m, 2) Voronoi seeds, metres; ``owner`` (m,) gives each seed's household.
    labels : (n,) cell label 0..k-1 of each household.
    cells : (m,) Voronoi polygons of the seeds, if already computed (:func:`seed_cells`).

    Returns
    -------
    geoms : list of k Polygon / MultiPolygon
    detached : list of (cell label, household indices) for pieces holding households that
        are not in their cell's main piece.
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0:
        return [], []
    if k == 1:
        return [_as_polygonal(_polygons(village))], []
    if cells is None:
        cells = seed_cells(seeds, village)
    geoms = dissolve(cells, labels[owner], k, village)
    return repair_shadows(geoms, rep_xy, labels)


def piece_hits(parts: list[shapely.Geometry], pts: np.ndarray) -> tuple[np.ndarray, int]:
    """Which of the points ``pts`` (k, 2) each polygon piece holds, ``(len(parts), k)`` bool,
    and the main piece: the one holding most, the largest on a tie."""
    hits = np.array([shapely.intersects_xy(p, pts[:, 0], pts[:, 1]) for p in parts]).reshape(
        len(parts), len(pts)
    )
    main = int(np.lexsort(([-p.area for p in parts], -hits.sum(axis=1)))[0])
    return hits, main


def repair_shadows(
    geoms: list[shapely.Geometry], rep_xy: np.ndarray, labels: np.ndarray
) -> tuple[list[shapely.Geometry], list[tuple[int, np.ndarray]]]:
    """Give household-free pieces to neighbours; report pieces that hold households."""
    geoms = list(geoms)
    detached: list[tuple[int, np.ndarray]] = []
    multi = [c for c, g in enumerate(geoms) if shapely.get_num_geometries(g) > 1]
    for c in multi:
        parts = _polygons(geoms[c])
        if len(parts) < 2:
            geoms[c] = _as_polygonal(parts)
            continue
        members = np.flatnonzero(labels == c)
        hits, main = piece_hits(parts, rep_xy[members])
        held = hits.sum(axis=1)
        keep = [parts[main]]
        for q, part in enumerate(parts):
            if q == main:
                continue
            if held[q] > 0:
                keep.append(part)
                detached.append((c, members[hits[q] & ~hits[main]]))
                continue
            others = [g if o != c else shapely.Polygon() for o, g in enumerate(geoms)]
            shared = _shared_length(part, others)
            if shared.max(initial=0.0) <= 0:
                keep.append(part)
                continue
            to = int(np.argmax(shared))
            geoms[to] = _as_polygonal(_polygons(shapely.union(geoms[to], part)))
        geoms[c] = _as_polygonal(keep)
    return geoms, detached


def neighbour_for(
    part_cell: int,
    members: np.ndarray,
    geoms: list[shapely.Geometry],
    rep_xy: np.ndarray,
) -> list[int]:
    """Cells sharing boundary with the piece of ``part_cell`` that holds ``members``,
    longest shared boundary first."""
    parts = _polygons(geoms[part_cell])
    pts = rep_xy[members]
    piece = next((p for p in parts if shapely.intersects_xy(p, pts[:, 0], pts[:, 1]).any()), None)
    if piece is None:
        return []
    others = [g if o != part_cell else shapely.Polygon() for o, g in enumerate(geoms)]
    shared = _shared_length(piece, others)
    order = np.argsort(-shared, kind="stable")
    return [int(o) for o in order if shared[o] > 0]
