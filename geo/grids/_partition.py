"""Partition the households of one village into cells of ``[min, max]`` households.

Numpy core of :mod:`geo.grids`; coordinates are metric (UTM metres), one village at a time.

Why our own algorithm and not PySAL's spopt: spopt's regionalisers (max-p, SKATER, region
k-means, Ward) do not enforce both a floor *and* a ceiling on region size, cost O(n^2) or worse
per village, and do not know natural units.  Here the size bounds are met by construction:

1. natural units are the starting groups; a group whose size cannot be cut into cells within
   the bounds (below ``min``, or in a gap such as 51..59 for 30..50) is merged with the
   neighbour it shares the most Delaunay edges with, preferring neighbours whose Voronoi
   cells touch inside the village, then merges that stay <= ``max`` (so that small natural
   units join whole);
2. every group larger than ``max`` is cut by recursive balanced bisection into ``k`` leaves
   whose sizes are fixed in advance (``n // k`` or ``n // k + 1``, all within the bounds when
   the group size allows it), then made compact by a size-constrained k-means (Lloyd steps
   whose assignment is a power diagram with per-cell weights tuned to keep every size within
   the bounds).  Cuts are straight (principal axis) on the fast path; if a village's cells
   still come out in pieces, :mod:`geo.grids._engine` retries with cuts that follow graph
   (geodesic) distance, which bends them around the bays of a concave village;
3. cells are numbered in Hilbert-curve order of their mean position, so the same village
   always gets the same numbers;
4. :func:`geo.grids._polish.polish_labels` (called by :mod:`geo.grids._engine`) then moves
   boundary households between touching cells where that raises the cells' Polsby-Popper,
   within the bounds and without splitting a natural unit that is whole.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial.distance import cdist

from geo.grids._graph import delaunay_edges, graph_matrix, principal_projection


def feasible_counts(n: int, min_size: int, max_size: int) -> tuple[int, int]:
    """The range ``(k_lo, k_hi)`` of cell counts that cut ``n`` households within bounds.

    Empty (``k_lo > k_hi``) when no count works, e.g. ``n = 55`` with bounds 30..50.
    """
    return math.ceil(n / max_size), n // min_size


def is_feasible(n: int, min_size: int, max_size: int) -> bool:
    """Whether ``n`` households can be cut into cells that all lie within the bounds."""
    lo, hi = feasible_counts(n, min_size, max_size)
    return n > 0 and lo <= hi


def choose_cell_count(n: int, min_size: int, max_size: int) -> int:
    """How many cells to cut ``n`` households into.

    Feasible: the count whose mean size is nearest the middle of the bounds.  Infeasible: the
    count with the smaller violation (one cell just above ``max`` or cells just below ``min``).
    """
    if n <= max_size:
        return 1
    lo, hi = feasible_counts(n, min_size, max_size)
    if lo <= hi:
        target = n / ((min_size + max_size) / 2)
        return int(min(max(round(target), lo), hi))
    k_over = max(lo - 1, 1)  # cells above max
    k_under = lo  # cells below min
    over = math.ceil(n / k_over) - max_size
    under = min_size - n // k_under
    return k_over if over <= under else k_under


def leaf_sizes(n: int, k: int) -> list[int]:
    """Sizes of ``k`` leaves summing to ``n``, differing by at most one."""
    base, extra = divmod(n, k)
    return [base + 1] * extra + [base] * (k - extra)


# --------------------------------------------------------------------------- graph


# --------------------------------------------------------------------------- merging


def merge_groups(
    groups: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    inside: np.ndarray,
    min_size: int,
    max_size: int,
) -> np.ndarray:
    """Merge natural-unit groups whose size cannot be cut within bounds into neighbours.

    Parameters
    ----------
    groups : (n,) int
        Group (natural unit) of each household, 0..g-1.
    i, j, inside : edge arrays from :func:`delaunay_edges`.

    Returns
    -------
    (n,) int
        Merged group of each household, 0..g'-1.
    """
    g = int(groups.max()) + 1 if len(groups) else 0
    size = np.bincount(groups, minlength=g).astype(np.int64)
    gi, gj = groups[i], groups[j]
    cross = gi != gj
    # adjacency strength: inside edges count 1, outside edges 1e-3 (still neighbours)
    strength: dict[int, dict[int, float]] = {k: {} for k in range(g)}
    wts = np.where(inside[cross], 1.0, 1e-3)
    a = np.minimum(gi[cross], gj[cross])
    b = np.maximum(gi[cross], gj[cross])
    if len(a):
        key = a * g + b
        uniq, inv = np.unique(key, return_inverse=True)
        tot = np.bincount(inv, weights=wts)
        for k, s in zip(uniq.tolist(), tot.tolist(), strict=True):
            x, y = divmod(k, g)
            strength[x][y] = s
            strength[y][x] = s
    parent = list(range(g))
    sizes = {k: int(size[k]) for k in range(g) if size[k] > 0}

    def bad(k: int) -> bool:
        return not is_feasible(sizes[k], min_size, max_size)

    while True:
        todo = [k for k in sizes if bad(k) and strength[k]]
        if not todo:
            break
        k = min(todo, key=lambda q: (sizes[q], q))
        nbrs = strength[k]

        def score(q: int, k: int = k, nbrs: dict = nbrs) -> tuple:
            merged = sizes[k] + sizes[q]
            whole = merged <= max_size
            feas = is_feasible(merged, min_size, max_size)
            weak = nbrs[q] < 0.5  # touching only outside the village
            # overflowing a group that is one cell as it stands would cut it: prefer a group
            # that is cut anyway (too large, or in a gap such as 51..59)
            cuts_whole = not whole and min_size <= sizes[q] <= max_size
            return (weak, not whole, cuts_whole, not feas, -nbrs[q] if whole else merged, q)

        q = min(nbrs, key=score)
        # merge k into q
        sizes[q] += sizes.pop(k)
        parent[k] = q
        for r, s in strength.pop(k).items():
            if r == q:
                strength[q].pop(k, None)
                continue
            strength[r].pop(k, None)
            strength[q][r] = strength[q].get(r, 0.0) + s
            strength[r][q] = strength[q][r]

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    roots = np.array([root(k) for k in range(g)], dtype=np.int64)
    _, out = np.unique(roots[groups], return_inverse=True)
    return out.astype(np.int64)


# --------------------------------------------------------------------------- bisection


def bisect_group(
    idx: np.ndarray,
    xy: np.ndarray,
    graph: csr_matrix,
    sizes: list[int],
    out: list[np.ndarray],
    weak: np.ndarray | None = None,
) -> None:
    """Cut households ``idx`` into ``len(sizes)`` leaves of the given sizes (appended to out).

    The cut is straight (principal axis) where no household of the group has a weak link
    (``weak``: True where a Delaunay edge of the household leaves the village), else it
    follows graph distances.
    """
    if len(sizes) == 1:
        out.append(idx)
        return
    half = len(sizes) // 2
    sizes_a, sizes_b = sizes[:half], sizes[half:]
    n_a = sum(sizes_a)
    pts = xy[idx]
    proj = principal_projection(pts)
    if weak is not None and not weak[idx].any():
        order = np.argsort(proj, kind="stable")
    else:
        s, t = int(np.argmin(proj)), int(np.argmax(proj))
        sub = graph[idx][:, idx]
        dist = dijkstra(sub, directed=False, indices=[s, t])
        finite = np.isfinite(dist)
        if not finite.all():
            big = np.abs(proj).max() * 1e6 + 1.0
            dist = np.where(finite, dist, big)
        order = np.lexsort((proj, dist[0] - dist[1]))
    bisect_group(idx[order[:n_a]], xy, graph, sizes_a, out, weak)
    bisect_group(idx[order[n_a:]], xy, graph, sizes_b, out, weak)


def partition_village(
    xy: np.ndarray,
    natural_units: np.ndarray,
    village: shapely.Geometry | None,
    min_size: int,
    max_size: int,
    *,
    strategy: str = "fast",
) -> np.ndarray:
    """Cell label (0..k-1, Hilbert-numbered) of each household of one village.

    Parameters
    ----------
    xy : (n, 2) float
        Household representative points, metres (UTM).
    natural_units : (n,) int
        Natural unit of each household, any integers.
    village : shapely geometry or None
        Village polygon in the same CRS (used to weaken Delaunay edges that leave it).
    strategy : {"fast", "geodesic", "bisection"}
        ``"fast"``: straight cuts except near weak links, then size-constrained k-means;
        ``"geodesic"``: every cut follows graph distance, then k-means; ``"bisection"``: graph
        cuts only (no k-means).  The alternatives are fall-backs for villages where the fast
        result leaves a cell in pieces.
    """
    n = len(xy)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    i, j, d, inside = delaunay_edges(xy, village)
    _, nu = np.unique(natural_units, return_inverse=True)
    groups = merge_groups(nu.astype(np.int64), i, j, inside, min_size, max_size)
    # outside edges cost 20x their length so cuts prefer to follow the village shape
    w = np.where(inside, d, d * 20.0) + 1e-9
    graph = graph_matrix(n, i, j, w)
    leaves: list[np.ndarray] = []
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    keep = inside & (groups[i] == groups[j])
    # "fast": straight cuts along the principal axis (the k-means pass then compacts the
    # cells); the fall-back strategies cut along graph distance, following concave shapes
    weak = np.full(n, strategy != "fast")
    for members in np.split(order, bounds):
        k = choose_cell_count(len(members), min_size, max_size)
        parts: list[np.ndarray] = []
        bisect_group(members, xy, graph, leaf_sizes(len(members), k), parts, weak)
        if k > 1 and strategy != "bisection" and is_feasible(len(members), min_size, max_size):
            parts = refine_group(members, parts, xy, i[keep], j[keep], min_size, max_size)
        leaves.extend(parts)
    return number_leaves(leaves, xy, n)


def refine_group(
    members: np.ndarray,
    parts: list[np.ndarray],
    xy: np.ndarray,
    ei: np.ndarray,
    ej: np.ndarray,
    min_size: int,
    max_size: int,
    *,
    lloyd: int = 10,
) -> list[np.ndarray]:
    """Make the cells of one group more compact, keeping sizes within bounds.

    Size-constrained k-means: Lloyd iterations whose assignment step is a power diagram
    (cost ``|x - c_j|^2 - w_j``) with the weights ``w`` raised or lowered, one violating cell
    at a time, by exactly the margin that moves the surplus (or deficit) of households across.
    Power-diagram cells are convex, so the cells come out compact; any result with a cell
    outside the bounds or not connected in the (inside) Delaunay graph is discarded in
    favour of the last good one, so bisection's guarantees are kept.
    """
    k = len(parts)
    pts = xy[members]
    n = len(members)
    labels = np.empty(n, dtype=np.int64)
    pos = np.full(len(xy), -1, dtype=np.int64)
    pos[members] = np.arange(n)
    for q, leaf in enumerate(parts):
        labels[pos[leaf]] = q
    sel = (pos[ei] >= 0) & (pos[ej] >= 0)
    gi, gj = pos[ei[sel]], pos[ej[sel]]
    best = labels.copy()
    K = k if len(members) * k <= 2_000_000 else min(k, 16)
    w = np.zeros(k)
    for _ in range(lloyd):
        counts = np.bincount(labels, minlength=k)
        centres = (
            np.column_stack([np.bincount(labels, pts[:, 0], k), np.bincount(labels, pts[:, 1], k)])
            / np.maximum(counts, 1)[:, None]
        )
        d2, idx = _nearest_centres(pts, centres, K)
        new = _capacitated(d2, idx, w, k, min_size, max_size)
        if new is None:
            break
        done = np.count_nonzero(new != labels) <= n // 200
        labels = new
        if done:
            break
    if not np.array_equal(labels, best):
        joined = _join_components(labels, gi, gj, k, min_size, max_size)
        if joined is not None:
            best = joined
    order = np.argsort(best, kind="stable")
    return np.split(members[order], np.cumsum(np.bincount(best, minlength=k))[:-1])


def _nearest_centres(pts: np.ndarray, centres: np.ndarray, K: int) -> tuple[np.ndarray, ...]:
    d2 = cdist(pts, centres, "sqeuclidean")
    if len(centres) <= K:
        return d2, np.broadcast_to(np.arange(len(centres)), d2.shape)
    idx = np.argpartition(d2, K - 1, axis=1)[:, :K]
    return np.take_along_axis(d2, idx, axis=1), idx


def _capacitated(d2, idx, w, k, lo, hi, max_rounds: int | None = None):
    """Power-diagram assignment with sizes in ``[lo, hi]`` (adjusts ``w`` in place).

    ``d2[r, c]`` is the squared distance of household ``r`` to centre ``idx[r, c]``
    (``idx`` broadcast from ``arange(k)`` when every centre is a candidate).  Each round
    moves the worst cell's weight by the exact margin that sends its surplus out (or pulls
    its deficit in).  If that cycles, the last few violations are settled by direct moves of
    the cheapest households into cells with room (:func:`_settle`).
    """
    rows = np.arange(len(d2))
    full = d2.shape[1] == k
    rounds = max_rounds or k // 2 + 10
    lab = None
    for _ in range(rounds):
        cost = d2 - (w if full else w[idx])
        b = np.argmin(cost, axis=1)
        lab = b if full else idx[rows, b]
        size = np.bincount(lab, minlength=k)
        viol = np.maximum(size - hi, 0) + np.maximum(lo - size, 0)
        if not viol.any():
            return lab
        j = int(np.argmax(viol))
        best_cost = cost[rows, b]
        if size[j] > hi:
            mem = lab == j
            if full:
                other = cost[mem].copy()
                other[:, j] = np.inf
            else:
                other = np.where(idx[mem] == j, np.inf, cost[mem])
            margin = other.min(axis=1) - best_cost[mem]
            need = size[j] - hi
            margin = margin[np.isfinite(margin)]
            if len(margin) < need:
                break
            w[j] -= np.partition(margin, need - 1)[need - 1] * (1 + 1e-9) + 1e-9
        else:
            if full:
                r = np.flatnonzero(lab != j)
                margin = cost[r, j] - best_cost[r]
            else:
                r, c = np.nonzero((idx == j) & (lab != j)[:, None])
                margin = cost[r, c] - best_cost[r]
            need = lo - size[j]
            if len(margin) < need:
                break
            w[j] += np.partition(margin, need - 1)[need - 1] * (1 + 1e-9) + 1e-9
    if lab is None:
        return None
    return _settle(lab.copy(), d2 - (w if full else w[idx]), idx, k, lo, hi)


def _settle(lab, cost, idx, k, lo, hi):
    """Fix the remaining size violations by moving single households, cheapest first."""
    rows = np.arange(len(lab))
    size = np.bincount(lab, minlength=k)
    own = cost[rows, np.argmax(idx == lab[:, None], axis=1)]
    for _ in range(4 * len(lab)):
        over, under = np.flatnonzero(size > hi), np.flatnonzero(size < lo)
        if len(over) == 0 and len(under) == 0:
            return lab
        if len(over):
            j = int(over[0])
            room = (size < hi)[idx] & (idx != j)
            cand = np.where(room & (lab == j)[:, None], cost - own[:, None], np.inf)
        else:
            j = int(under[0])
            give = (size > lo)[lab] & (lab != j)
            cand = np.where((idx == j) & give[:, None], cost - own[:, None], np.inf)
        flat = int(np.argmin(cand))
        r, c = divmod(flat, cand.shape[1])
        if not np.isfinite(cand[r, c]):
            return None
        size[lab[r]] -= 1
        lab[r] = idx[r, c]
        size[lab[r]] += 1
        own[r] = cost[r, c]
    return None


def _join_components(labels, gi, gj, k, lo, hi, rounds: int = 3):
    """``labels`` with detached pieces of a cell moved to the neighbour they touch most,
    sizes permitting; None if some cell stays in pieces."""
    labels = labels.copy()
    n = len(labels)
    for _ in range(rounds):
        same = labels[gi] == labels[gj]
        m = coo_matrix((np.ones(same.sum()), (gi[same], gj[same])), shape=(n, n))
        n_comp, comp = connected_components(m, directed=False)
        if n_comp == k:
            return labels
        comp_size = np.bincount(comp)
        # main component of each label = its largest
        order = np.lexsort((-comp_size[comp], labels))
        first = np.ones(n, dtype=bool)
        first[1:] = labels[order][1:] != labels[order][:-1]
        main = np.zeros(n_comp, dtype=bool)
        main[comp[order][first]] = True
        size = np.bincount(labels, minlength=k)
        cross = labels[gi] != labels[gj]
        a = np.concatenate([gi[cross], gj[cross]])
        b = np.concatenate([gj[cross], gi[cross]])
        for c in np.flatnonzero(~main):
            mem = np.flatnonzero(comp == c)
            src = labels[mem[0]]
            touch = labels[b[np.isin(a, mem)]]
            if len(touch) == 0 or size[src] - len(mem) < lo:
                return None
            cand = np.bincount(touch, minlength=k)
            for dst in np.argsort(-cand, kind="stable"):
                if cand[dst] == 0:
                    return None
                if size[dst] + len(mem) <= hi:
                    labels[mem] = dst
                    size[src] -= len(mem)
                    size[dst] += len(mem)
                    break
    return None


def number_leaves(leaves: list[np.ndarray], xy: np.ndarray, n: int) -> np.ndarray:
    """Labels 0..k-1 per household, the leaves numbered in Hilbert order of their centres."""
    centres = np.array([xy[m].mean(axis=0) for m in leaves])
    rank = np.argsort(hilbert_key(centres), kind="stable")
    labels = np.empty(n, dtype=np.int64)
    for new, old in enumerate(rank):
        labels[leaves[old]] = new
    return labels


def hilbert_key(xy: np.ndarray, order: int = 16) -> np.ndarray:
    """Hilbert-curve index of points scaled to their bounding box (2**order cells a side)."""
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64)
    lo = xy.min(axis=0)
    span = np.maximum(xy.max(axis=0) - lo, 1e-9)
    side = (1 << order) - 1
    g = np.floor((xy - lo) / span.max() * side).astype(np.int64)
    x, y = g[:, 0].copy(), g[:, 1].copy()
    d = np.zeros(len(xy), dtype=np.int64)
    s = 1 << (order - 1)
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        # rotate
        flip = ~ry
        swap_x = np.where(flip & rx, side - x, x)
        swap_y = np.where(flip & rx, side - y, y)
        x, y = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    return d
