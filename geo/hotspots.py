"""Hotspots: Getis–Ord Gi* with FDR, emerging hotspots over time, density clusters.

Three analyses, all pure (GeoDataFrames in, GeoDataFrames out; EPSG:4326 in and out):

* :class:`GiStar` / :func:`gi_star` -- local Getis–Ord Gi* on hexagon counts or on the cells
  of a plan, with Benjamini–Hochberg false-discovery-rate correction and ArcGIS-style
  confidence bins (-3..3 = cold/hot at 99/95/90 %).  Values agree with
  ``esda.G_Local(y, w, transform=..., star=True)``; the core is written on numpy and
  scipy.sparse rather than calling esda because esda spends about 80 % of its time turning
  the weights into libpysal objects (see :mod:`geo._gistar` for the formulas).  Inference
  is analytic (normal approximation) or by conditional permutation with a ``seed``.
* :func:`hex_hotspots` -- the whole pipeline for points: bin to H3, k-ring weights, Gi*.
* :func:`emerging_hotspots` -- space-time bins (e.g. weekly), Gi* per slice, Mann–Kendall
  trend of each location's z-scores, and ArcGIS Emerging Hot Spot Analysis categories
  (:func:`classify_emerging` states the definitions).
* :func:`density_clusters` -- DBSCAN / HDBSCAN from scikit-learn in metres (the county's UTM
  zone), with a convex hull polygon per cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse, stats

from geo import _gistar, _hex
from geo.errors import ConfigError, DataError
from geo.projection import STORAGE_CRS, require_crs, utm_crs

INFERENCES = ("analytic", "permutation")
WEIGHTS = ("queen", "rook", "h3")
CLUSTER_METHODS = ("dbscan", "hdbscan")

#: Emerging hot spot categories (ArcGIS names); each also exists with "cold".
EMERGING_PATTERNS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)


class GiStar:
    """Local Getis–Ord Gi* (focal observation included), numpy/scipy.sparse core.

    Parameters
    ----------
    transform : {"B", "R"}
        Weights as given (binary, ``"B"``, the textbook and ArcGIS Gi*) or row-standardised
        (``"R"``, esda's default).  A zero diagonal gets esda's self-weight (1 for binary).
    inference : {"analytic", "permutation"}
        p-values from the normal approximation of z, or from ``permutations`` conditional
        randomisations (each value kept, its neighbours drawn from the rest).
    permutations : int
        Number of permutations when ``inference="permutation"``.
    seed : int or None
        Seed of the permutations.
    fdr : bool
        Correct p-values for multiple testing with Benjamini–Hochberg; ``q_`` and ``bin_``
        then use the adjusted values.

    Attributes
    ----------
    n_ : int
    weights_ : scipy.sparse.csr_matrix
        The weights used, self-weight and transform applied.
    G_, EG_, VG_ : ndarray
        Statistic, its expectation and variance under the null (esda's ``Gs``, ``EGs``,
        ``VGs``).
    z_ : ndarray
        z-score (esda's ``Zs``); positive = high values cluster (hot).
    p_norm_ : ndarray
        Two-sided normal p-value of ``z_`` (esda's ``p_norm`` is the one-sided half).
    p_sim_ : ndarray or None
        Folded pseudo p-value from permutations (esda's ``p_sim``), else None.
    p_ : ndarray
        The two-sided p-value used: ``p_norm_``, or ``min(1, 2 p_sim_)`` with permutations.
    q_ : ndarray
        Benjamini–Hochberg adjusted ``p_`` (equal to ``p_`` when ``fdr=False``).
    bin_ : ndarray of int8
        -3..3: cold/hot spot at 99 / 95 / 90 % confidence judged on ``q_``; 0 = not
        significant.

    Examples
    --------
    >>> gi = GiStar(fdr=True).fit(counts, w)          # doctest: +SKIP
    >>> hot = gi.bin_ >= 2                             # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        transform: str = "B",
        inference: str = "analytic",
        permutations: int = 999,
        seed: int | None = None,
        fdr: bool = True,
    ) -> None:
        if str(transform).upper() not in _gistar.TRANSFORMS:
            raise ConfigError(
                f"transform must be one of {', '.join(_gistar.TRANSFORMS)}, got {transform!r}"
            )
        if inference not in INFERENCES:
            raise ConfigError(
                f"inference must be one of {', '.join(INFERENCES)}, got {inference!r}"
            )
        if inference == "permutation" and (not isinstance(permutations, int) or permutations < 1):
            raise ConfigError(f"permutations must be a positive integer, got {permutations!r}")
        self.transform = str(transform).upper()
        self.inference = inference
        self.permutations = permutations
        self.seed = seed
        self.fdr = fdr

    def fit(self, y: np.ndarray, w: sparse.spmatrix) -> GiStar:
        """Compute Gi* for values ``y`` (length n) under weights ``w`` (n × n).

        Raises
        ------
        DataError
            If ``y`` is not finite, holds fewer than 2 values, or ``w`` does not match it.
        """
        y = np.asarray(y, dtype=float).ravel()
        n = len(y)
        if n < 2:
            raise DataError(f"Gi* needs at least 2 observations, got {n}")
        if not np.isfinite(y).all():
            raise DataError("values must be finite (drop or fill NaN first)")
        if w.shape != (n, n):
            raise DataError(f"weights are {w.shape}, values have length {n}")
        self.n_ = n
        self.weights_ = _gistar.prepare_weights(w, transform=self.transform)
        self.G_, self.EG_, self.VG_, self.z_ = _gistar.analytic(y, self.weights_)
        self.p_norm_ = _gistar.two_sided_p(self.z_)
        if self.inference == "permutation":
            self.p_sim_ = _gistar.permutation_p(
                y, self.weights_, permutations=self.permutations, seed=self.seed
            )
            self.p_ = np.minimum(1.0, 2.0 * self.p_sim_)
        else:
            self.p_sim_ = None
            self.p_ = self.p_norm_
        self.q_ = _gistar.bh_qvalues(self.p_) if self.fdr else self.p_.copy()
        self.bin_ = _gistar.confidence_bins(self.z_, self.q_)
        return self

    @classmethod
    def from_geodataframe(
        cls,
        frame: gpd.GeoDataFrame,
        column: str,
        *,
        denominator: str | None = None,
        weights: str | sparse.spmatrix = "queen",
        k: int = 1,
        h3_column: str = "h3",
        **params,
    ) -> GiStar:
        """Fit on ``frame[column]`` (or the rate ``column / denominator``).

        Rows whose value is NaN or whose denominator is 0 are left out of the analysis and
        get NaN / bin 0 in the aligned results (``valid_`` marks the rows analysed).

        Parameters
        ----------
        weights : {"queen", "rook", "h3"} or sparse matrix
            Contiguity of the polygons, H3 k-ring of ``frame[h3_column]``, or ready weights
            aligned with ``frame``.
        k : int
            Rings of neighbours for ``weights="h3"``.
        **params
            Passed to :class:`GiStar`.
        """
        values, valid = _values(frame, column, denominator)
        w = build_weights(frame, weights=weights, k=k, h3_column=h3_column)
        sub = w[valid][:, valid] if not valid.all() else w
        est = cls(**params).fit(values[valid], sub)
        est.valid_ = valid
        if not valid.all():
            for name in ("G_", "EG_", "VG_", "z_", "p_norm_", "p_", "q_"):
                full = np.full(len(frame), np.nan)
                full[valid] = getattr(est, name)
                setattr(est, name, full)
            if est.p_sim_ is not None:
                full = np.full(len(frame), np.nan)
                full[valid] = est.p_sim_
                est.p_sim_ = full
            bins = np.zeros(len(frame), dtype=np.int8)
            bins[valid] = est.bin_
            est.bin_ = bins
        return est


def build_weights(
    frame: gpd.GeoDataFrame,
    *,
    weights: str | sparse.spmatrix = "queen",
    k: int = 1,
    h3_column: str = "h3",
) -> sparse.csr_matrix:
    """Binary spatial weights aligned with ``frame`` rows (zero diagonal).

    ``"queen"`` / ``"rook"``: polygons sharing a point / an edge (libpysal contiguity).
    ``"h3"``: cells within ``k`` grid steps, from the H3 ids in ``frame[h3_column]``.
    A sparse matrix is checked for shape and returned as CSR.
    """
    n = len(frame)
    if sparse.issparse(weights):
        if weights.shape != (n, n):
            raise DataError(f"weights are {weights.shape}, frame has {n} rows")
        return sparse.csr_matrix(weights, dtype=float)
    if weights not in WEIGHTS:
        raise ConfigError(f"weights must be one of {', '.join(WEIGHTS)} or a sparse matrix")
    if weights == "h3":
        if h3_column not in frame.columns:
            raise DataError(f"frame lacks the H3 column {h3_column!r} needed for weights='h3'")
        return _hex.ring_weights(_hex.cells_from_any(frame[h3_column].to_numpy()), k=k)
    from libpysal.graph import Graph

    graph = Graph.build_contiguity(
        frame.reset_index(drop=True)[["geometry"]], rook=(weights == "rook")
    )
    w = sparse.csr_matrix(graph.sparse, dtype=float)
    w.setdiag(0)
    w.eliminate_zeros()
    return w


def gi_star(
    frame: gpd.GeoDataFrame,
    column: str,
    *,
    denominator: str | None = None,
    weights: str | sparse.spmatrix = "queen",
    k: int = 1,
    transform: str = "B",
    inference: str = "analytic",
    permutations: int = 999,
    seed: int | None = None,
    fdr: bool = True,
) -> gpd.GeoDataFrame:
    """Gi* hot and cold spots of ``frame[column]`` as new columns of a copy of ``frame``.

    Use ``denominator`` for rates (e.g. incidents per household on cells of unequal size).

    Returns
    -------
    GeoDataFrame
        ``frame``'s rows and columns plus ``gi_value`` (the value analysed), ``gi_z``,
        ``gi_p`` (two-sided), ``gi_q`` (FDR-adjusted when ``fdr``) and ``gi_bin`` (-3..3).
    """
    require_crs(frame)
    est = GiStar.from_geodataframe(
        frame,
        column,
        denominator=denominator,
        weights=weights,
        k=k,
        transform=transform,
        inference=inference,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
    )
    out = frame.copy()
    values, valid = _values(frame, column, denominator)
    out["gi_value"] = np.where(valid, values, np.nan)
    out["gi_z"] = est.z_
    out["gi_p"] = est.p_
    out["gi_q"] = est.q_
    out["gi_bin"] = est.bin_
    return out


def hex_hotspots(
    points: gpd.GeoDataFrame,
    *,
    resolution: int = 9,
    weight: str | None = None,
    k: int = 1,
    area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    geometry: bool = True,
    **params,
) -> gpd.GeoDataFrame:
    """Gi* hotspots of points binned to H3 hexagons, with k-ring weights.

    Parameters
    ----------
    points : GeoDataFrame
        Points (or polygons, reduced to a representative point); any CRS, read as EPSG:4326.
    resolution : int
        H3 resolution (9: about 0.1 km² per hexagon).
    weight : str or None
        Column summed per hexagon (``None``: count the points).
    k : int
        Rings of neighbours in the weights.
    area : GeoDataFrame or GeoSeries or None
        Study area; every hexagon whose centre lies in it is analysed, with a zero value when
        it holds no point (without ``area`` only occupied hexagons are analysed).
    geometry : bool
        Build hexagon polygons (EPSG:4326); ``False`` skips that step (about 0.3 s per
        100,000 hexagons) and returns a plain DataFrame.
    **params
        Passed to :class:`GiStar` (``transform``, ``inference``, ``permutations``, ``seed``,
        ``fdr``).

    Returns
    -------
    GeoDataFrame
        One row per hexagon: ``h3``, ``count``, ``value``, ``gi_z``, ``gi_p``, ``gi_q``,
        ``gi_bin``, geometry.
    """
    resolution = _hex.check_resolution(resolution)
    cells, counts, values = _bin_points(points, resolution, weight)
    if area is not None:
        extra = _area_cells(area, resolution)
        new = np.setdiff1d(extra, cells)
        cells = np.concatenate([cells, new])
        counts = np.concatenate([counts, np.zeros(len(new), dtype=counts.dtype)])
        values = np.concatenate([values, np.zeros(len(new))])
        order = np.argsort(cells)
        cells, counts, values = cells[order], counts[order], values[order]
    w = _hex.ring_weights(cells, k=k)
    est = GiStar(**params).fit(values, w)
    data = {
        "h3": _hex.cells_to_str(cells),
        "count": counts,
        "value": values,
        "gi_z": est.z_,
        "gi_p": est.p_,
        "gi_q": est.q_,
        "gi_bin": est.bin_,
    }
    if not geometry:
        return pd.DataFrame(data)
    return gpd.GeoDataFrame(data, geometry=_hex.cell_polygons(cells), crs=STORAGE_CRS)


# ---------------------------------------------------------------------------------------------
# Emerging hotspots


def mann_kendall(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann–Kendall trend test of each row of ``x`` (locations × time), vectorised.

    ``S = sum_{i<j} sign(x_j - x_i)``; variance ``(n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18``
    with the tie correction over groups of equal values; ``Z = (S ∓ 1) / sqrt(var)``
    (continuity correction) and a two-sided normal p-value.

    Returns
    -------
    (S, Z, p) : three arrays of length ``x.shape[0]``
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    rows, n = x.shape
    i, j = np.triu_indices(n, k=1)
    s = np.zeros(rows)
    for start in range(0, len(i), 4096):
        sl = slice(start, start + 4096)
        s += np.sign(x[:, j[sl]] - x[:, i[sl]]).sum(axis=1)
    # tie correction: sizes of groups of equal values within each row
    srt = np.sort(x, axis=1)
    new_group = np.ones_like(srt, dtype=bool)
    new_group[:, 1:] = srt[:, 1:] != srt[:, :-1]
    group_id = np.cumsum(new_group.ravel()) - 1
    sizes = np.bincount(group_id).astype(float)
    group_row = np.repeat(np.arange(rows), n)[new_group.ravel()]
    ties = np.bincount(group_row, weights=sizes * (sizes - 1) * (2 * sizes + 5), minlength=rows)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(np.isfinite(z), z, 0.0)
    p = np.minimum(1.0, 2.0 * stats.norm.sf(np.abs(z)))
    return s, z, p


def classify_emerging(
    z: np.ndarray,
    p: np.ndarray,
    *,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
) -> pd.DataFrame:
    """Emerging hot/cold spot category of each location from its Gi* series.

    A bin is a *hot spot* when ``z > 0`` and ``p <= alpha`` (a *cold spot* when ``z < 0``
    and ``p <= alpha``).  With ``T`` slices and the Mann–Kendall trend of the z-scores
    significant at ``trend_alpha``, the ArcGIS Emerging Hot Spot Analysis definitions are:

    new
        Hot in the final slice and never hot before.
    consecutive
        A single uninterrupted run of at least two hot slices ending in the final slice,
        never hot before that run, and fewer than 90 % of slices hot.
    intensifying
        Hot in at least 90 % of slices including the final one, with a significant upward
        trend in z.
    persistent
        Hot in at least 90 % of slices including the final one, with no significant trend.
    diminishing
        Hot in at least 90 % of slices including the final one, with a significant
        downward trend in z.
    sporadic
        Hot in the final slice, on-again off-again before, fewer than 90 % of slices hot and
        never a cold spot.
    oscillating
        Hot in the final slice, fewer than 90 % of slices hot, and a cold spot in some
        earlier slice.
    historical
        Not hot in the final slice but hot in at least 90 % of slices.
    no pattern
        None of the above.

    Cold categories mirror these with hot and cold swapped (and the trend reversed:
    "intensifying cold" means z falling).  Categories are returned as e.g.
    ``"new hot spot"`` / ``"persistent cold spot"`` / ``"no pattern"``.

    Parameters
    ----------
    z, p : ndarray, shape (locations, slices)
        Gi* z-scores and (FDR-adjusted, two-sided) p-values, slices in time order.

    Returns
    -------
    DataFrame
        ``category``, ``pattern`` (e.g. ``"new"``), ``kind`` (``"hot"``/``"cold"``/``""``),
        ``n_hot``, ``n_cold``, ``trend_z``, ``trend_p``; one row per location.
    """
    z = np.atleast_2d(np.asarray(z, dtype=float))
    p = np.atleast_2d(np.asarray(p, dtype=float))
    if z.shape != p.shape:
        raise DataError(f"z and p must have the same shape, got {z.shape} and {p.shape}")
    t = z.shape[1]
    if t < 2:
        raise DataError(f"emerging hotspots need at least 2 time slices, got {t}")
    hot = (z > 0) & (p <= alpha)
    cold = (z < 0) & (p <= alpha)
    _, trend_z, trend_p = mann_kendall(z)
    up = (trend_z > 0) & (trend_p <= trend_alpha)
    down = (trend_z < 0) & (trend_p <= trend_alpha)
    need = math.ceil(0.9 * t - 1e-9)
    labels = {}
    finals = {}
    for name, this, other, rising, falling in (
        ("hot", hot, cold, up, down),
        ("cold", cold, hot, down, up),
    ):
        n_this = this.sum(axis=1)
        final = this[:, -1]
        run = _trailing_run(this)
        ge90 = n_this >= need
        other_before = other[:, :-1].any(axis=1)
        cases = [
            final & ge90 & rising,
            final & ge90 & falling,
            final & ge90,
            final & (n_this == 1),
            final & (run >= 2) & (n_this == run),
            final & other_before,
            final,
            ~final & ge90,
        ]
        names = [
            "intensifying",
            "diminishing",
            "persistent",
            "new",
            "consecutive",
            "oscillating",
            "sporadic",
            "historical",
        ]
        labels[name] = np.select(cases, names, default="")
        finals[name] = final
    # the final slice decides first; a history ("historical") only when no final spot
    use_hot = finals["hot"] | (~finals["cold"] & (labels["hot"] != ""))
    use_cold = ~use_hot & (labels["cold"] != "")
    pattern = np.where(use_hot, labels["hot"], np.where(use_cold, labels["cold"], ""))
    kind = np.where(use_hot & (pattern != ""), "hot", np.where(use_cold, "cold", ""))
    category = [
        f"{pt} {kd} spot" if pt else "no pattern" for pt, kd in zip(pattern, kind, strict=True)
    ]
    return pd.DataFrame(
        {
            "category": category,
            "pattern": np.where(pattern == "", "no pattern", pattern),
            "kind": kind,
            "n_hot": hot.sum(axis=1),
            "n_cold": cold.sum(axis=1),
            "trend_z": trend_z,
            "trend_p": trend_p,
        }
    )


def _trailing_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True at the end of each row."""
    t = flags.shape[1]
    rev = ~flags[:, ::-1]
    first_false = np.where(rev.any(axis=1), rev.argmax(axis=1), t)
    return first_false


def emerging_hotspots(
    events: gpd.GeoDataFrame,
    *,
    time_column: str = "reported_at",
    freq: str = "7D",
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    resolution: int = 9,
    units: gpd.GeoDataFrame | None = None,
    unit_code: str = "code",
    k: int = 1,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    fdr: bool = True,
    transform: str = "B",
) -> gpd.GeoDataFrame:
    """Emerging hot and cold spots of events over time (space-time cube, Gi* per slice).

    Events are counted per location and time slice; locations are H3 hexagons at
    ``resolution`` (every hexagon that holds an event in the period, k-ring weights) or the
    polygons of ``units`` (all of them, queen contiguity).  Each slice gets Gi* (analytic,
    FDR-corrected across locations when ``fdr``); each location's z-series gets a
    Mann–Kendall trend test; :func:`classify_emerging` names the pattern.

    Parameters
    ----------
    events : GeoDataFrame
        Points with a tz-aware or naive datetime column ``time_column``.
    freq : str
        Slice length as a pandas offset (``"7D"`` weekly, ``"1D"`` daily).
    start, end : timestamp or None
        Period analysed: ``[start, end)`` when ``end`` is given (an ``end`` on a slice
        boundary opens no extra, empty slice), else from ``start`` through the last event.
        Default ``start``: the first event's day.  Events outside are dropped.  Slices are
        ``[start + i·freq, start + (i+1)·freq)``; the last one may be shorter.

    Returns
    -------
    GeoDataFrame
        One row per location: ``h3`` or ``unit_code``, ``category``, ``pattern``, ``kind``,
        ``n_hot``, ``n_cold``, ``trend_z``, ``trend_p``, ``total``, ``final_z``, geometry
        (EPSG:4326).  ``attrs["slices"]`` holds the slice start times and
        ``attrs["z"]`` the (locations × slices) z-scores.
    """
    require_crs(events, name="events")
    if time_column not in events.columns:
        raise DataError(f"events lack the time column {time_column!r}")
    times = pd.to_datetime(events[time_column])
    step = pd.Timedelta(freq)
    if step <= pd.Timedelta(0):
        raise ConfigError(f"freq must be a positive duration, got {freq!r}")
    t0 = pd.Timestamp(start) if start is not None else times.min().floor("D")
    t1 = pd.Timestamp(end) if end is not None else times.max()
    if t0.tzinfo is None and times.dt.tz is not None:
        t0 = t0.tz_localize(times.dt.tz)
    if t1.tzinfo is None and times.dt.tz is not None:
        t1 = t1.tz_localize(times.dt.tz)
    if end is not None:  # half-open [t0, t1): whole slices, no empty one opened at t1
        inside = ((times >= t0) & (times < t1)).to_numpy()
        n_slices = max(1, -(-(t1 - t0) // step))
    else:  # through the last event, which opens its slice
        inside = ((times >= t0) & (times <= t1)).to_numpy()
        n_slices = int((t1 - t0) // step) + 1
    slice_of = ((times[inside] - t0) // step).to_numpy().astype(np.int64)
    ev = events.loc[inside]
    if units is None:
        resolution = _hex.check_resolution(resolution)
        lon, lat = _hex.point_lonlat(ev)
        cells = _hex.latlng_to_cells(lat, lon, resolution)
        locs, loc_of = np.unique(cells, return_inverse=True)
        w = _hex.ring_weights(locs, k=k)
        key = {"h3": _hex.cells_to_str(locs)}
        geoms = _hex.cell_polygons(locs)
    else:
        require_crs(units, name="units")
        pts = gpd.GeoDataFrame(geometry=_points_of(ev), crs=STORAGE_CRS)
        loc_of_full = _locate(pts, units.to_crs(STORAGE_CRS))
        ok = loc_of_full >= 0
        loc_of, slice_of = loc_of_full[ok], slice_of[ok]
        locs = np.arange(len(units))
        w = build_weights(units, weights="queen")
        key = {unit_code: units[unit_code].to_numpy()}
        geoms = units.to_crs(STORAGE_CRS).geometry.to_numpy()
    n_loc = len(locs)
    cube = np.bincount(loc_of * n_slices + slice_of, minlength=n_loc * n_slices)
    cube = cube.reshape(n_loc, n_slices).astype(float)
    wp = _gistar.prepare_weights(w, transform=transform)
    z = np.zeros_like(cube)
    p = np.ones_like(cube)
    for s in range(n_slices):
        z[:, s] = _gistar.analytic(cube[:, s], wp)[3]
        ps = _gistar.two_sided_p(z[:, s])
        p[:, s] = _gistar.bh_qvalues(ps) if fdr else ps
    cats = classify_emerging(z, p, alpha=alpha, trend_alpha=trend_alpha)
    out = gpd.GeoDataFrame(
        {**key, **{c: cats[c].to_numpy() for c in cats.columns}},
        geometry=geoms,
        crs=STORAGE_CRS,
    )
    out["total"] = cube.sum(axis=1).astype(np.int64)
    out["final_z"] = z[:, -1]
    out.attrs["slices"] = [t0 + i * step for i in range(n_slices)]
    out.attrs["z"] = z
    return out


# ---------------------------------------------------------------------------------------------
# Density clusters


@dataclass
class DensityClusters:
    """Result of :func:`density_clusters`.

    Attributes
    ----------
    labels : Series
        Cluster number of each input point (aligned with the input index); -1 = noise.
    clusters : GeoDataFrame
        One row per cluster: ``cluster``, ``n_points``, ``weight`` (sum of the weight
        column, or the count), ``area_km2`` of the hull, geometry = convex hull in EPSG:4326
        (a point or line for degenerate clusters is buffered by 1 m).
    crs : pyproj.CRS
        The metric CRS the clustering ran in.
    """

    labels: pd.Series
    clusters: gpd.GeoDataFrame
    crs: object


def density_clusters(
    points: gpd.GeoDataFrame,
    *,
    eps_m: float = 100.0,
    min_samples: int = 10,
    method: str = "dbscan",
    weight: str | None = None,
) -> DensityClusters:
    """Dense clusters of points in metres (DBSCAN or HDBSCAN, scikit-learn).

    Parameters
    ----------
    points : GeoDataFrame
        Points or polygons (representative points); any CRS.
    eps_m : float
        DBSCAN neighbourhood radius in metres (HDBSCAN: ``cluster_selection_epsilon``).
    min_samples : int
        Points (or total weight, for DBSCAN with ``weight``) needed to form a core.
    method : {"dbscan", "hdbscan"}
    weight : str or None
        Column used as sample weight (DBSCAN) and summed per cluster.
    """
    from sklearn.cluster import DBSCAN, HDBSCAN

    if method not in CLUSTER_METHODS:
        raise ConfigError(f"method must be one of {', '.join(CLUSTER_METHODS)}, got {method!r}")
    if eps_m <= 0 or min_samples < 1:
        raise ConfigError("eps_m must be > 0 and min_samples >= 1")
    lon, lat = _hex.point_lonlat(points)
    ll = gpd.GeoSeries(shapely.points(lon, lat), crs=STORAGE_CRS)
    crs = utm_crs(ll)
    xy = shapely.get_coordinates(ll.to_crs(crs).to_numpy())
    w = _weights_column(points, weight)
    if len(xy) == 0:
        labels = np.array([], dtype=int)
    elif method == "dbscan":
        labels = DBSCAN(eps=eps_m, min_samples=min_samples).fit(xy, sample_weight=w).labels_
    else:
        labels = (
            HDBSCAN(
                min_cluster_size=max(min_samples, 2),
                min_samples=min_samples,
                cluster_selection_epsilon=float(eps_m),
            )
            .fit(xy)
            .labels_
        )
    rows = []
    for lab in np.unique(labels[labels >= 0]):
        sel = labels == lab
        hull = shapely.convex_hull(shapely.multipoints(xy[sel]))
        if hull.geom_type != "Polygon":
            hull = hull.buffer(1.0)
        rows.append((int(lab), int(sel.sum()), float(w[sel].sum()), hull.area / 1e6, hull))
    frame = pd.DataFrame(rows, columns=["cluster", "n_points", "weight", "area_km2", "geometry"])
    clusters = gpd.GeoDataFrame(frame, geometry="geometry", crs=crs).to_crs(STORAGE_CRS)
    return DensityClusters(
        labels=pd.Series(labels, index=points.index, name="cluster"),
        clusters=clusters,
        crs=crs,
    )


# ---------------------------------------------------------------------------------------------
# helpers


def _values(
    frame: gpd.GeoDataFrame, column: str, denominator: str | None
) -> tuple[np.ndarray, np.ndarray]:
    for c in (column, denominator):
        if c is not None and c not in frame.columns:
            raise DataError(f"frame lacks column {c!r}")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    if denominator is not None:
        den = pd.to_numeric(frame[denominator], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = values / den
        values[~(den > 0)] = np.nan
    return values, np.isfinite(values)


def _weights_column(frame: gpd.GeoDataFrame, weight: str | None) -> np.ndarray:
    if weight is None:
        return np.ones(len(frame))
    if weight not in frame.columns:
        raise DataError(f"frame lacks the weight column {weight!r}")
    w = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(w).all() or (w < 0).any():
        raise DataError(f"weight column {weight!r} must be finite and >= 0")
    return w


def _bin_points(
    points: gpd.GeoDataFrame, resolution: int, weight: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique H3 cells of the points, counts and weight sums per cell."""
    w = _weights_column(points, weight)
    lon, lat = _hex.point_lonlat(points)
    cells = _hex.latlng_to_cells(lat, lon, resolution)
    uniq, inv = _hex.factorize_sorted(cells)
    counts = np.bincount(inv, minlength=len(uniq))
    sums = counts.astype(float) if weight is None else np.bincount(inv, w, len(uniq))
    return uniq, counts, sums


def _area_cells(area: gpd.GeoDataFrame | gpd.GeoSeries, resolution: int) -> np.ndarray:
    import h3

    require_crs(area, name="area")
    geoms = area.to_crs(STORAGE_CRS)
    geoms = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    out: set[int] = set()
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        shape = h3.geo_to_h3shape(geom)
        out.update(h3.str_to_int(c) for c in h3.h3shape_to_cells(shape, resolution))
    return np.array(sorted(out), dtype=np.uint64)


def _points_of(frame: gpd.GeoDataFrame) -> np.ndarray:
    lon, lat = _hex.point_lonlat(frame)
    return shapely.points(lon, lat)


def _locate(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> np.ndarray:
    """Position of the polygon holding each point (-1 when none; first when several)."""
    tree = shapely.STRtree(polygons.geometry.to_numpy())
    pi, gi = tree.query(points.geometry.to_numpy(), predicate="intersects")
    out = np.full(len(points), -1, dtype=np.int64)
    # keep the first polygon per point
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = gi[first]
    return out
