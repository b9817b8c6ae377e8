"""numpy/scipy.sparse core of Getis–Ord Gi* (plumbing for :mod:`geo.hotspots`).

Why not call :class:`esda.G_Local` directly: esda computes the same closed-form z-scores, but
it first routes the weights through libpysal's ``W``/``Graph`` (set the diagonal, transform,
rebuild the sparse matrix, count neighbours in Python dictionaries), and that conversion is
about 80 % of its run time -- 3-4 s for 100,000 hexagons.  The statistic itself is one sparse
matrix-vector product and a few vector operations, which take about 0.01 s.  The formulas
below are esda 2.9's (``G_Local.calc``) term for term, so the numbers agree to rounding
(tests check 1e-9).

With ``y`` the values, ``W`` the weights including the self-weight, ``n`` observations,
``W_i = sum_j w_ij`` (the "cardinality" in esda) and ``x̄``, ``s²`` the mean and (population)
variance of ``y``::

    G_i    = sum_j w_ij y_j / sum_j y_j
    E[G_i] = W_i / n
    V[G_i] = W_i (n - W_i) / (n - 1) / n² · s² / x̄²
    z_i    = (G_i - E[G_i]) / sqrt(V[G_i])

For binary weights this is the textbook/ArcGIS Gi* z-score
``(sum_j w_ij y_j - x̄ W_i) / (s sqrt((n W_i - W_i²) / (n - 1)))``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, special

from geo.errors import ConfigError, DataError

TRANSFORMS = ("B", "R")


def prepare_weights(w: sparse.spmatrix, *, transform: str = "B") -> sparse.csr_matrix:
    """Weights as esda's ``G_Local(star=True)`` uses them.

    A zero diagonal is filled with each row's largest weight (1 for binary contiguity), as
    esda does; a non-zero diagonal is kept.  ``transform="R"`` then divides each row by its
    sum (self-weight included); ``"B"`` keeps the weights as they are.
    """
    transform = str(transform).upper()
    if transform not in TRANSFORMS:
        raise ConfigError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    w = sparse.csr_matrix(w, dtype=float)
    n = w.shape[0]
    if w.shape != (n, n):
        raise DataError(f"weights must be square, got shape {w.shape}")
    diag = w.diagonal()
    if (diag == 0).all():
        # esda: binary -> self-weight 1; row-standardised -> the row's largest weight.
        if transform == "B":
            self_weight = np.ones(n)
        else:
            row_max = w.max(axis=1).toarray().ravel() if w.nnz else np.zeros(n)
            self_weight = np.where(row_max > 0, row_max, 1.0)
        w = _with_diagonal(w, self_weight)
    if transform == "R":
        sums = np.asarray(w.sum(axis=1)).ravel()
        sums[sums == 0] = 1.0
        w = (sparse.diags(1.0 / sums) @ w).tocsr()
    return w


def _with_diagonal(w: sparse.csr_matrix, diag: np.ndarray) -> sparse.csr_matrix:
    """``w`` (zero diagonal) with ``diag`` appended as the last entry of each row.

    Built directly on the CSR arrays (one pass, no sort): about 10x faster than
    ``w + sparse.diags(diag)`` for 100,000 rows.
    """
    n = w.shape[0]
    indptr = w.indptr.astype(np.int64) + np.arange(n + 1)
    diag_pos = indptr[1:] - 1
    other = np.ones(w.nnz + n, dtype=bool)
    other[diag_pos] = False
    indices = np.empty(w.nnz + n, dtype=np.int64)
    data = np.empty(w.nnz + n)
    indices[other] = w.indices
    indices[diag_pos] = np.arange(n)
    data[other] = w.data
    data[diag_pos] = diag
    return sparse.csr_matrix((data, indices, indptr), shape=w.shape)


def analytic(y: np.ndarray, w: sparse.csr_matrix) -> tuple[np.ndarray, ...]:
    """``(G, E[G], V[G], z)`` for values ``y`` and prepared weights ``w`` (see module doc).

    When ``y`` is constant the variance is zero; z is then 0 everywhere (no evidence of
    clustering) instead of NaN.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    total = y.sum()
    mean = total / n
    s2 = (y**2).sum() / n - mean**2
    card = np.asarray(w.sum(axis=1)).ravel()
    lag = w @ y
    with np.errstate(divide="ignore", invalid="ignore"):
        g = lag / total
        eg = card / n
        vg = card * (n - card) / (n - 1) / n**2 * s2 / mean**2
        z = (g - eg) / np.sqrt(vg)
    z = np.where(np.isfinite(z), z, 0.0)
    return g, eg, vg, z


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of z-scores."""
    return np.minimum(1.0, 2.0 * special.ndtr(-np.abs(z)))


def permutation_p(
    y: np.ndarray,
    w: sparse.csr_matrix,
    *,
    permutations: int,
    seed: int | None,
    batch: int = 64,
) -> np.ndarray:
    """Folded pseudo p-values of Gi* by conditional randomisation (esda's ``p_sim``).

    Each observation keeps its own value; its neighbours' values are drawn at random from
    the other ``n - 1`` observations.  As in esda's ``_crand_plus``, one table of random
    draws (``permutations × max neighbours`` indices into ``0..n-2``) is shared by all
    observations and index ``r`` means observation ``r`` if ``r < i`` else ``r + 1``.
    Because the draws are shared, the simulated lag of every observation with the same
    number of neighbours is a step function of its position, evaluated for a whole batch of
    permutations with a cumulative sum instead of a Python loop over observations.

    Requires each row's neighbour weights to be equal (binary or row-standardised
    contiguity); returns ``(min(larger, perms - larger) + 1) / (perms + 1)``.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 2:
        return np.ones(n)
    self_w = w.diagonal()
    off = (w - sparse.diags(self_w)).tocsr()
    off.eliminate_zeros()
    card = np.diff(off.indptr)
    row_of = np.repeat(np.arange(n), card)
    other_w = np.zeros(n)
    if off.nnz:
        row_max = np.full(n, -np.inf)
        row_min = np.full(n, np.inf)
        np.maximum.at(row_max, row_of, off.data)
        np.minimum.at(row_min, row_of, off.data)
        has = card > 0
        if not np.allclose(row_max[has], row_min[has], rtol=1e-12, atol=0):
            raise ConfigError(
                "permutation inference needs equal neighbour weights within each row "
                "(binary or row-standardised contiguity); use inference='analytic'"
            )
        other_w[has] = row_max[has]
    k_max = min(int(card.max()) if n else 0, n - 1)
    obs = w @ y
    base = self_w * y
    larger = np.zeros(n)
    rng = np.random.default_rng(seed)
    # Draw k_max distinct indices per permutation, as esda does.
    rids = (
        np.argsort(rng.random((permutations, n - 1)), axis=1)[:, :k_max]
        if n < 5000
        else (_distinct_draws(rng, permutations, n - 1, k_max))
    )
    groups = [(k, np.flatnonzero(card == k)) for k in np.unique(card) if k > 0]
    zero = np.flatnonzero(card == 0)
    if len(zero):
        larger[zero] = permutations * (base[zero] >= obs[zero])
    for start in range(0, permutations, batch):
        ids = rids[start : start + batch]
        p = len(ids)
        a = y[ids]
        b = y[np.minimum(ids + 1, n - 1)]
        for k, members in groups:
            m = len(members)
            bsum = b[:, :k].sum(axis=1)
            delta = (a - b)[:, :k]
            pos = np.searchsorted(members, ids[:, :k], side="right")
            steps = np.zeros((p, m + 1))
            np.add.at(steps, (np.repeat(np.arange(p), k), pos.ravel()), delta.ravel())
            sim = np.cumsum(steps[:, :m], axis=1) + bsum[:, None]
            sim = base[members] + other_w[members] * sim
            larger[members] += (sim >= obs[members] - 1e-12 * np.abs(obs[members])).sum(axis=0)
    low = (permutations - larger) < larger
    larger[low] = permutations - larger[low]
    return (larger + 1) / (permutations + 1)


def _distinct_draws(rng: np.random.Generator, rows: int, n: int, k: int) -> np.ndarray:
    """``rows × k`` indices in ``0..n-1``, distinct within each row (rejection redraw)."""
    out = rng.integers(0, n, size=(rows, k))
    for _ in range(100):
        srt = np.sort(out, axis=1)
        dup_rows = np.flatnonzero((np.diff(srt, axis=1) == 0).any(axis=1))
        if not len(dup_rows):
            return out
        out[dup_rows] = rng.integers(0, n, size=(len(dup_rows), k))
    raise DataError("could not draw distinct neighbours; too few observations")


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), aligned with ``p``.

    ``q_(i) = min_{j >= i} m p_(j) / j`` over the ascending order; rejecting ``q <= alpha``
    is the BH procedure at false-discovery rate ``alpha``.
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def confidence_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ArcGIS-style bins: ±3 / ±2 / ±1 for significance at 99 / 95 / 90 %, else 0.

    The sign is that of ``z`` (hot positive, cold negative); ``p`` is the two-sided (and,
    when wanted, FDR-adjusted) p-value.
    """
    level = np.select([p <= 0.01, p <= 0.05, p <= 0.10], [3, 2, 1], default=0)
    return (np.sign(z) * level).astype(np.int8)
