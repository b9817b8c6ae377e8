"""Coverage: assignment of a plan, distance to services, visits by workers, worker load.

Pure functions over frames (EPSG:4326 geometries, codes as in :mod:`geo.frames`); every
share is a number in [0, 1] (NaN only where its denominator is zero).

* :func:`assignment_coverage` -- households in no cell, in two or more, or in a cell of
  another village; per cell, village and township; a plan is publishable only when all
  three are zero.
* :func:`service_coverage` -- households and residents farther than ``D`` metres in a
  straight line (UTM metres, not road distance) from the nearest service point of each kind.
* :func:`extra_sites` -- the fewest extra sites, among candidates, that bring the covered
  share to a target: PySAL spopt's Maximal Covering Location Problem (MCLP) solved by
  pulp's bundled CBC, for growing numbers of sites (binary search).
* :func:`visit_coverage` -- share of households visited in the last N days per cell,
  households never visited, and five-colour visit-rule compliance per cell and worker.
* :func:`worker_load` -- households and residents per worker with IQR-rule outliers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo import _hex, profiles
from geo.errors import ConfigError, DataError
from geo.frames import FIVE_COLOURS, check_columns
from geo.projection import STORAGE_CRS, require_crs, utm_crs_for_extent

#: Kinds of service point named in the county reports (a frame may use others).
SERVICE_KINDS = ("convenience_centre", "police_post", "clinic", "emergency_team")


def _share(num, den):
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return np.clip(out, 0.0, 1.0)


def township_of(village_code: pd.Series) -> pd.Series:
    """Township code of village codes (the first 9 digits, see :mod:`geo.frames`)."""
    return village_code.astype(str).str[:9]


# ---------------------------------------------------------------------------------------------
# Assignment coverage


@dataclass
class AssignmentCoverage:
    """Result of :func:`assignment_coverage`.

    Attributes
    ----------
    households : DataFrame
        One row per household (input order): ``code``, ``village_code``, ``n_cells``,
        ``cell_code`` (first cell, or None), ``unassigned``, ``double``, ``cross_village``.
    by_cell, by_village, by_township : DataFrame
        Counts of ``households``, ``unassigned``, ``double``, ``cross_village`` and
        ``share_assigned``; by_cell also lists cells with no households.
    summary : dict
        Totals, ``unknown_households`` / ``unknown_cells`` (assignment rows naming codes
        that do not exist) and ``publishable`` (all problems zero).
    """

    households: pd.DataFrame
    by_cell: pd.DataFrame
    by_village: pd.DataFrame
    by_township: pd.DataFrame
    summary: dict


def assignment_coverage(
    households: pd.DataFrame,
    assignment: pd.DataFrame,
    cells: pd.DataFrame,
) -> AssignmentCoverage:
    """Check that every household is in exactly one cell of its own village.

    Parameters
    ----------
    households : DataFrame or GeoDataFrame
        ``code``, ``village_code``.
    assignment : DataFrame
        ``household_code``, ``cell_code`` (one row per household-cell pair).
    cells : DataFrame or GeoDataFrame
        ``code``, ``village_code``.

    Raises
    ------
    DataError
        Missing columns or duplicate household / cell codes.
    """
    check_columns(households, ("code", "village_code"), name="households")
    check_columns(assignment, ("household_code", "cell_code"), name="assignment")
    check_columns(cells, ("code", "village_code"), name="cells")
    for frame, name in ((households, "households"), (cells, "cells")):
        if frame["code"].duplicated().any():
            first = frame["code"][frame["code"].duplicated()].iloc[0]
            raise DataError(f"{name} has duplicate codes, e.g. {first!r}")
    pairs = assignment[["household_code", "cell_code"]].drop_duplicates()
    known_hh = pairs["household_code"].isin(households["code"])
    known_cell = pairs["cell_code"].isin(cells["code"])
    unknown_households = int((~known_hh).sum())
    unknown_cells = int((~known_cell).sum())
    pairs = pairs[known_hh & known_cell]
    cell_village = cells.set_index("code")["village_code"]
    hh_village = households.set_index("code")["village_code"]
    pairs = pairs.assign(
        cell_village=pairs["cell_code"].map(cell_village).to_numpy(),
        hh_village=pairs["household_code"].map(hh_village).to_numpy(),
    )
    pairs["cross"] = pairs["cell_village"] != pairs["hh_village"]
    per_hh = pairs.groupby("household_code").agg(
        n_cells=("cell_code", "size"), cell_code=("cell_code", "first"), cross=("cross", "any")
    )
    hh = pd.DataFrame(
        {
            "code": households["code"].to_numpy(),
            "village_code": households["village_code"].to_numpy(),
        }
    )
    hh["n_cells"] = hh["code"].map(per_hh["n_cells"]).fillna(0).astype(int).to_numpy()
    hh["cell_code"] = hh["code"].map(per_hh["cell_code"]).to_numpy()
    hh["unassigned"] = hh["n_cells"] == 0
    hh["double"] = hh["n_cells"] >= 2
    hh["cross_village"] = hh["code"].map(per_hh["cross"].astype(float)).fillna(0.0).to_numpy() > 0
    hh["township_code"] = township_of(hh["village_code"])

    def table(keys: pd.Series, name: str) -> pd.DataFrame:
        grouped = hh.groupby(keys.to_numpy())
        out = pd.DataFrame(
            {
                "households": grouped.size(),
                "unassigned": grouped["unassigned"].sum(),
                "double": grouped["double"].sum(),
                "cross_village": grouped["cross_village"].sum(),
            }
        )
        out["share_assigned"] = _share(out["households"] - out["unassigned"], out["households"])
        out.index.name = name
        return out.reset_index()

    by_village = table(hh["village_code"], "village_code")
    by_township = table(hh["township_code"], "township_code")
    members = pairs.groupby("cell_code").agg(
        households=("household_code", "size"), cross_village=("cross", "sum")
    )
    by_cell = pd.DataFrame(
        {"cell_code": cells["code"].to_numpy(), "village_code": cells["village_code"].to_numpy()}
    )
    by_cell["households"] = by_cell["cell_code"].map(members["households"]).fillna(0).astype(int)
    by_cell["cross_village"] = (
        by_cell["cell_code"].map(members["cross_village"]).fillna(0).astype(int)
    )
    dbl = hh.loc[hh["double"], "code"]
    dbl_cells = pairs[pairs["household_code"].isin(dbl)].groupby("cell_code").size()
    by_cell["double"] = by_cell["cell_code"].map(dbl_cells).fillna(0).astype(int)
    summary = {
        "households": len(hh),
        "unassigned": int(hh["unassigned"].sum()),
        "double": int(hh["double"].sum()),
        "cross_village": int(hh["cross_village"].sum()),
        "unknown_households": unknown_households,
        "unknown_cells": unknown_cells,
        "share_assigned": float(_share(len(hh) - hh["unassigned"].sum(), len(hh))),
    }
    summary["publishable"] = all(
        summary[k] == 0
        for k in ("unassigned", "double", "cross_village", "unknown_households", "unknown_cells")
    )
    return AssignmentCoverage(hh, by_cell, by_village, by_township, summary)


# ---------------------------------------------------------------------------------------------
# Service coverage


@dataclass
class ServiceCoverage:
    """Result of :func:`service_coverage`.

    Attributes
    ----------
    by_village : DataFrame
        One row per (village_code, kind): ``households``, ``residents``,
        ``uncovered_households``, ``uncovered_residents``, ``share_covered`` (households),
        ``share_residents_covered``, ``max_distance_m``.
    uncovered : GeoDataFrame
        Households beyond the distance, one row per (household, kind): ``code``,
        ``village_code``, ``residents``, ``kind``, ``straight_line_m`` (to the nearest point
        of that kind); geometry = the household's point, EPSG:4326 (for a heatmap of gaps).
    distances : DataFrame
        ``straight_line_m`` of every household (rows, input index) to each kind (columns).
    crs : pyproj.CRS
        Metric CRS of the distances.
    """

    by_village: pd.DataFrame
    uncovered: gpd.GeoDataFrame
    distances: pd.DataFrame
    crs: object


def service_coverage(
    households: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    *,
    max_distance_m: float | dict[str, float],
    kinds: tuple[str, ...] | None = None,
) -> ServiceCoverage:
    """Households and residents farther than a straight-line distance from each service kind.

    Parameters
    ----------
    households : GeoDataFrame
        ``code``, ``village_code``, ``residents``; polygons or points, any CRS.
    services : GeoDataFrame
        Points with a ``kind`` column (e.g. :data:`SERVICE_KINDS`), any CRS.
    max_distance_m : float or dict
        Straight-line distance in metres within which a household counts as served; one
        value for all kinds or one per kind.
    kinds : tuple or None
        Kinds analysed (default: every kind in ``services``).

    Raises
    ------
    ConfigError
        Negative distance, or a kind without a distance or without any service point.
    """
    check_columns(households, ("code", "village_code", "residents"), name="households")
    check_columns(services, ("kind",), name="services")
    require_crs(services, name="services")
    kinds = tuple(kinds) if kinds is not None else tuple(pd.unique(services["kind"]))
    limits = _limits(max_distance_m, kinds)
    present = set(services["kind"])
    missing = [k for k in kinds if k not in present]
    if missing:
        raise ConfigError(
            f"no service point of kind(s) {', '.join(missing)}; kinds present: "
            f"{', '.join(sorted(map(str, present)))}"
        )
    hx, hy, crs = _metric_xy(households)
    sx, sy, _ = _metric_xy(services, crs=crs)
    dist = {}
    for kind in kinds:
        sel = (services["kind"] == kind).to_numpy()
        dist[kind] = cKDTree(np.column_stack([sx[sel], sy[sel]])).query(np.column_stack([hx, hy]))[
            0
        ]
    distances = pd.DataFrame(dist, index=households.index)
    residents = households["residents"].to_numpy(dtype=float)
    rows, gaps = [], []
    lon, lat = _hex.point_lonlat(households)
    for kind in kinds:
        far = distances[kind].to_numpy() > limits[kind]
        frame = pd.DataFrame(
            {
                "village_code": households["village_code"].to_numpy(),
                "households": 1,
                "residents": residents,
                "uncovered_households": far.astype(int),
                "uncovered_residents": np.where(far, residents, 0.0),
            }
        )
        agg = frame.groupby("village_code").sum()
        agg["kind"] = kind
        agg["max_distance_m"] = limits[kind]
        rows.append(agg.reset_index())
        gaps.append(
            gpd.GeoDataFrame(
                {
                    "code": households["code"].to_numpy()[far],
                    "village_code": households["village_code"].to_numpy()[far],
                    "residents": residents[far],
                    "kind": kind,
                    "straight_line_m": distances[kind].to_numpy()[far],
                },
                geometry=shapely.points(lon[far], lat[far]),
                crs=STORAGE_CRS,
            )
        )
    by_village = pd.concat(rows, ignore_index=True)
    by_village["share_covered"] = _share(
        by_village["households"] - by_village["uncovered_households"], by_village["households"]
    )
    by_village["share_residents_covered"] = _share(
        by_village["residents"] - by_village["uncovered_residents"], by_village["residents"]
    )
    cols = [
        "village_code",
        "kind",
        "households",
        "residents",
        "uncovered_households",
        "uncovered_residents",
        "share_covered",
        "share_residents_covered",
        "max_distance_m",
    ]
    uncovered = pd.concat(gaps, ignore_index=True)
    return ServiceCoverage(
        by_village[cols], gpd.GeoDataFrame(uncovered, crs=STORAGE_CRS), distances, crs
    )


def extra_sites(
    households: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    kind: str,
    max_distance_m: float,
    target_share: float = 0.95,
    weight: str | None = None,
    demand_resolution: int = 9,
    max_sites: int | None = None,
) -> gpd.GeoDataFrame:
    """The fewest candidate sites that raise the covered share of households to a target.

    Households already within ``max_distance_m`` of an existing service of ``kind`` count
    as covered.  The others are grouped into H3 hexagons at ``demand_resolution`` (demand
    point = mean position, weight = households or the sum of ``weight``), and spopt's MCLP
    (solved by pulp's CBC) is run for ``p`` sites, with ``p`` found by binary search as the
    smallest number that reaches ``target_share`` (or ``max_sites``, whichever is first).

    Parameters
    ----------
    candidates : GeoDataFrame
        Possible sites (e.g. natural-unit centroids), any geometry, any CRS.
    weight : str or None
        Household column to cover (``"residents"``) instead of households.

    Returns
    -------
    GeoDataFrame
        The chosen candidate rows (original index and columns) with ``covers`` (weight newly
        covered by that site) added; ``attrs`` hold ``share_before``, ``share_after``,
        ``target_share`` and ``reached``.
    """
    import pulp
    from spopt.locate import MCLP

    if not 0 <= target_share <= 1:
        raise ConfigError(f"target_share must be in [0, 1], got {target_share!r}")
    cover = service_coverage(households, services, max_distance_m=max_distance_m, kinds=(kind,))
    crs = cover.crs
    w = np.ones(len(households)) if weight is None else households[weight].to_numpy(dtype=float)
    total = w.sum()
    far = cover.distances[kind].to_numpy() > max_distance_m
    covered_before = w[~far].sum()
    share_before = float(_share(covered_before, total))
    result = candidates.iloc[:0].copy()
    result["covers"] = []
    need = target_share * total - covered_before
    if need <= 0 or not far.any() or len(candidates) == 0:
        result.attrs.update(
            share_before=share_before,
            share_after=share_before,
            target_share=target_share,
            reached=need <= 0,
        )
        return result
    hx, hy, _ = _metric_xy(households, crs=crs)
    lon, lat = _hex.point_lonlat(households)
    cells = _hex.latlng_to_cells(lat[far], lon[far], _hex.check_resolution(demand_resolution))
    uniq, inv = _hex.factorize_sorted(cells)
    dw = np.bincount(inv, w[far], len(uniq))
    cnt = np.bincount(inv, minlength=len(uniq))
    dx = np.bincount(inv, hx[far], len(uniq)) / cnt
    dy = np.bincount(inv, hy[far], len(uniq)) / cnt
    cx, cy, _ = _metric_xy(candidates, crs=crs)
    cost = np.hypot(dx[:, None] - cx[None, :], dy[:, None] - cy[None, :])
    useful = (cost <= max_distance_m).any(axis=0)
    cand_idx = np.flatnonzero(useful)
    cost = cost[:, cand_idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pulp 3.x announces its 4.0 API
        solver = pulp.PULP_CBC_CMD(msg=False)

    def solve(p: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            model = MCLP.from_cost_matrix(cost, dw, service_radius=max_distance_m, p_facilities=p)
            model.solve(solver)
        chosen = [j for j, clients in enumerate(model.fac2cli) if len(clients)]
        clients = sorted({c for j in chosen for c in model.fac2cli[j]})
        return chosen, model.fac2cli, float(dw[clients].sum())

    hi = min(len(cand_idx), max_sites or len(cand_idx))
    best = None
    lo = 1
    while lo <= hi:
        mid = (lo + hi) // 2
        chosen, fac2cli, gain = solve(mid)
        if gain >= need - 1e-9:
            best = (chosen, fac2cli, gain)
            hi = mid - 1
        else:
            lo = mid + 1
    reached = best is not None
    if best is None:
        best = solve(min(len(cand_idx), max_sites or len(cand_idx)))
    chosen, fac2cli, gain = best
    result = candidates.iloc[cand_idx[chosen]].copy()
    result["covers"] = [float(dw[list(fac2cli[j])].sum()) for j in chosen]
    result.attrs.update(
        share_before=share_before,
        share_after=float(_share(covered_before + gain, total)),
        target_share=target_share,
        reached=reached,
    )
    return result


def _limits(max_distance_m: float | dict[str, float], kinds: tuple[str, ...]) -> dict:
    if isinstance(max_distance_m, dict):
        missing = [k for k in kinds if k not in max_distance_m]
        if missing:
            raise ConfigError(f"max_distance_m has no value for kind(s) {', '.join(missing)}")
        limits = {k: float(max_distance_m[k]) for k in kinds}
    else:
        limits = dict.fromkeys(kinds, float(max_distance_m))
    if any(v < 0 for v in limits.values()):
        raise ConfigError("max_distance_m must be >= 0 metres")
    return limits


def _metric_xy(frame: gpd.GeoDataFrame, *, crs=None) -> tuple[np.ndarray, np.ndarray, object]:
    from pyproj import Transformer

    lon, lat = _hex.point_lonlat(frame)
    if crs is None:
        crs = utm_crs_for_extent(lon, lat)
    x, y = Transformer.from_crs(STORAGE_CRS, crs, always_xy=True).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float), crs


# ---------------------------------------------------------------------------------------------
# Visits and workers


@dataclass
class VisitCoverage:
    """Result of :func:`visit_coverage`.

    Attributes
    ----------
    households : DataFrame
        Per household (input order): ``code``, ``cell_code``, ``colour``, ``visits``,
        ``last_visit``, ``days_since``, ``max_gap_days``, ``allowed_days``,
        ``visited_recently`` (within ``days``), ``never_visited``, ``compliant``.
    by_cell : DataFrame
        ``households``, ``visited``, ``share_visited``, ``never_visited``, ``compliant``,
        ``share_compliant`` per cell.
    by_worker : DataFrame
        Visits made and ``share_compliant`` of the households in each worker's cells, and
        ``visits`` / ``households_visited`` made by the worker in the window.
    never_visited : DataFrame
        The households with no visit at all.
    """

    households: pd.DataFrame
    by_cell: pd.DataFrame
    by_worker: pd.DataFrame
    never_visited: pd.DataFrame


def visit_coverage(
    households: pd.DataFrame,
    visits: pd.DataFrame,
    assignment: pd.DataFrame,
    *,
    days: int = 30,
    now: pd.Timestamp | str | None = None,
    rules: dict[str, int] | None = None,
    workers: pd.DataFrame | None = None,
) -> VisitCoverage:
    """Who was visited, how recently, and whether the five-colour rules were kept.

    A household *complies* with its colour's rule ``R`` days when, looking at the window
    ``[now - days, now]``, it was visited within the last ``R`` days and no two consecutive
    visits in the window are more than ``R`` days apart.

    Parameters
    ----------
    households : DataFrame
        ``code``, ``colour`` (one of :data:`geo.frames.FIVE_COLOURS`).
    visits : DataFrame
        ``household_code``, ``worker_code``, ``visited_at`` (datetime, tz-aware or not).
    assignment : DataFrame
        ``household_code``, ``cell_code``.
    days : int
        Window for "visited in the last N days".
    now : timestamp or None
        End of the window (default: the latest visit).
    rules : dict or None
        Colour -> longest allowed gap in days (default: :func:`geo.profiles.visit_rules`).
    workers : DataFrame or None
        ``code``, ``cell_code``: adds each worker's compliance share over their cells.
    """
    check_columns(households, ("code", "colour"), name="households")
    check_columns(visits, ("household_code", "worker_code", "visited_at"), name="visits")
    check_columns(assignment, ("household_code", "cell_code"), name="assignment")
    if not isinstance(days, int | np.integer) or days < 1:
        raise ConfigError(f"days must be a positive integer, got {days!r}")
    rules = profiles.visit_rules() if rules is None else dict(rules)
    unknown = sorted(set(households["colour"]) - set(rules))
    if unknown:
        raise ConfigError(
            f"no visit rule for colour(s) {', '.join(map(str, unknown))}; rules given for "
            f"{', '.join(rules)} (colours: {', '.join(FIVE_COLOURS)})"
        )
    times = pd.to_datetime(visits["visited_at"], utc=True)  # naive times are read as UTC
    if now is None:
        now = times.max() if len(times) else pd.Timestamp.now(tz="UTC")
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    now = now.tz_localize(None)  # computations in naive UTC (datetime64), output UTC-aware
    v = pd.DataFrame(
        {
            "hh": visits["household_code"].to_numpy(),
            "worker": visits["worker_code"].to_numpy(),
            "t": times.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"),
        }
    )
    v = v[v["t"] <= now].sort_values(["hh", "t"])
    # times as float days before ``now`` (negative), so that empty frames keep their dtypes
    v = v.assign(d=(v["t"].to_numpy() - np.datetime64(now)) / np.timedelta64(1, "D"))
    last = v.groupby("hh")["d"].max().astype(float)
    count_all = v.groupby("hh").size()
    win = v[v["d"] >= -days]
    gaps = win.groupby("hh")["d"].diff()
    max_gap = gaps.groupby(win["hh"]).max().astype(float)
    hh = pd.DataFrame(
        {"code": households["code"].to_numpy(), "colour": households["colour"].to_numpy()}
    )
    cell_of = assignment.drop_duplicates("household_code").set_index("household_code")["cell_code"]
    hh["cell_code"] = hh["code"].map(cell_of).to_numpy()
    hh["visits"] = hh["code"].map(count_all).fillna(0).astype(int).to_numpy()
    last_d = hh["code"].map(last).astype(float).to_numpy()
    hh["last_visit"] = pd.Timestamp(now, tz="UTC") + pd.to_timedelta(last_d, unit="D")
    hh["days_since"] = -last_d
    hh["max_gap_days"] = hh["code"].map(max_gap).astype(float).fillna(0.0).to_numpy()
    hh["allowed_days"] = hh["colour"].map(rules).astype(float).to_numpy()
    hh["never_visited"] = hh["visits"] == 0
    hh["visited_recently"] = hh["days_since"].le(days).fillna(False).to_numpy()
    hh["compliant"] = (
        hh["days_since"].le(hh["allowed_days"]).fillna(False)
        & (hh["max_gap_days"] <= hh["allowed_days"])
    ).to_numpy()
    grouped = hh.groupby("cell_code", dropna=False)
    by_cell = pd.DataFrame(
        {
            "households": grouped.size(),
            "visited": grouped["visited_recently"].sum(),
            "never_visited": grouped["never_visited"].sum(),
            "compliant": grouped["compliant"].sum(),
        }
    )
    by_cell["share_visited"] = _share(by_cell["visited"], by_cell["households"])
    by_cell["share_compliant"] = _share(by_cell["compliant"], by_cell["households"])
    by_cell = by_cell.reset_index()
    made = win.groupby("worker").agg(visits=("t", "size"), households_visited=("hh", "nunique"))
    if workers is not None:
        check_columns(workers, ("code", "cell_code"), name="workers")
        wk = workers[["code", "cell_code"]].merge(
            by_cell[["cell_code", "households", "compliant"]], on="cell_code", how="left"
        )
        by_worker = wk.groupby("code")[["households", "compliant"]].sum()
        by_worker["share_compliant"] = _share(by_worker["compliant"], by_worker["households"])
        by_worker = by_worker.join(made, how="left").fillna({"visits": 0, "households_visited": 0})
    else:
        by_worker = made.copy()
    by_worker.index.name = "worker_code"
    return VisitCoverage(hh, by_cell, by_worker.reset_index(), hh[hh["never_visited"]].copy())


def worker_load(
    households: pd.DataFrame,
    assignment: pd.DataFrame,
    workers: pd.DataFrame,
    *,
    iqr_factor: float = 1.5,
) -> pd.DataFrame:
    """Households and residents per worker, with outliers by the IQR rule.

    A worker is an outlier when their household count lies outside
    ``[Q1 - iqr_factor·IQR, Q3 + iqr_factor·IQR]`` of all workers' counts.

    Parameters
    ----------
    households : DataFrame
        ``code``, ``residents``.
    assignment : DataFrame
        ``household_code``, ``cell_code``.
    workers : DataFrame
        ``code``, ``cell_code`` (a worker may look after several cells: several rows).

    Returns
    -------
    DataFrame
        One row per worker: ``worker_code``, ``cells``, ``households``, ``residents``,
        ``outlier`` (``"high"``, ``"low"`` or ``""``); ``attrs["distribution"]`` holds
        min, q1, median, q3, max and the fences.
    """
    check_columns(households, ("code", "residents"), name="households")
    check_columns(assignment, ("household_code", "cell_code"), name="assignment")
    check_columns(workers, ("code", "cell_code"), name="workers")
    res = households.set_index("code")["residents"]
    a = assignment.drop_duplicates("household_code")
    per_cell = (
        pd.DataFrame(
            {
                "cell_code": a["cell_code"].to_numpy(),
                "residents": a["household_code"].map(res).fillna(0).to_numpy(),
            }
        )
        .groupby("cell_code")
        .agg(households=("residents", "size"), residents=("residents", "sum"))
    )
    wk = workers[["code", "cell_code"]].drop_duplicates()
    wk = wk.join(per_cell, on="cell_code").fillna({"households": 0, "residents": 0})
    out = wk.groupby("code").agg(
        cells=("cell_code", "size"),
        households=("households", "sum"),
        residents=("residents", "sum"),
    )
    counts = out["households"].to_numpy(dtype=float)
    q1, med, q3 = np.percentile(counts, [25, 50, 75]) if len(counts) else (np.nan,) * 3
    low, high = q1 - iqr_factor * (q3 - q1), q3 + iqr_factor * (q3 - q1)
    out["outlier"] = np.where(counts > high, "high", np.where(counts < low, "low", ""))
    out.index.name = "worker_code"
    out = out.reset_index()
    out.attrs["distribution"] = {
        "min": float(np.min(counts)) if len(counts) else np.nan,
        "q1": float(q1),
        "median": float(med),
        "q3": float(q3),
        "max": float(np.max(counts)) if len(counts) else np.nan,
        "low_fence": float(low),
        "high_fence": float(high),
    }
    return out
