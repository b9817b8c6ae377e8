"""Cell and plan metrics, rule checks and plan diffs of :mod:`geo.grids` (vectorised)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.grids._engine import rep_points
from geo.grids._partition import is_feasible
from geo.grids._types import CellBounds, GridPlan, PlanDiff, PlanParams, cell_code
from geo.projection import STORAGE_CRS, to_crs_densified, utm_crs


def assemble(
    hh: gpd.GeoDataFrame,
    results: list,
    hh_split: list[np.ndarray],
    codes_arr: np.ndarray | None,
    params: PlanParams,
    metric_crs: CRS,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Cells frame (EPSG:4326, with metrics) and assignment frame from village results.

    Cells are named by :func:`cell_code` unless ``codes_arr`` gives the households' codes.
    """
    n = len(hh)
    cell_idx = np.empty(n, dtype=np.int64)  # global cell position of each household
    village_idx = np.empty(n, dtype=np.int64)
    rec_code: list[str] = []
    rec_village: list[int] = []
    rec_geom: list = []
    for q, (res, members) in enumerate(zip(results, hh_split, strict=True)):
        k = len(res.geoms)
        if codes_arr is None:
            names = [cell_code(res.code, c + 1, params.county_code) for c in range(k)]
        else:
            names = np.unique(codes_arr[members]).tolist()
        cell_idx[members] = len(rec_code) + res.labels
        village_idx[members] = q
        rec_code.extend(names)
        rec_village.extend([q] * k)
        rec_geom.extend(res.geoms)
    codes = np.array(rec_code, dtype=object)
    vcodes = np.array([r.code for r in results], dtype=object)
    assignment = pd.DataFrame(
        {
            "household_code": hh["code"].to_numpy(),
            "cell_code": codes[cell_idx] if n else np.empty(0, dtype=object),
            "village_code": hh["village_code"].to_numpy(),
            "natural_unit_code": hh["natural_unit_code"].to_numpy(),
        },
        index=hh.index,
    )
    geoms = np.array(rec_geom, dtype=object)
    nu_idx = pd.factorize(hh["natural_unit_code"].to_numpy())[0]
    cells = cell_metrics(
        codes,
        vcodes[np.array(rec_village, dtype=np.int64)] if rec_village else codes,
        geoms,
        cell_idx,
        nu_idx,
        np.bincount(village_idx, minlength=len(results))[rec_village],
        hh["residents"].to_numpy(),
        params.bounds,
    )
    geometry = gpd.GeoSeries(geoms, crs=metric_crs).to_crs(STORAGE_CRS)
    cells = gpd.GeoDataFrame(cells, geometry=geometry.values, crs=STORAGE_CRS)
    cells = cells.sort_values("code", ignore_index=True)
    return cells, assignment


def cell_metrics(
    code: np.ndarray,
    village: np.ndarray,
    geoms_m: np.ndarray,
    cell_idx: np.ndarray,
    nu_idx: np.ndarray,
    village_total: np.ndarray,
    residents: np.ndarray,
    bounds: CellBounds,
) -> pd.DataFrame:
    """Per-cell metrics (numpy); ``geoms_m`` in metres; ``cell_idx``/``nu_idx`` per household."""
    lo, hi = bounds.min_size, bounds.max_size
    k = len(code)
    n = np.bincount(cell_idx, minlength=k)
    res = np.bincount(cell_idx, weights=residents, minlength=k).astype(np.int64)
    area = shapely.area(geoms_m)
    perim = shapely.length(geoms_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        pp = np.where(perim > 0, 4 * np.pi * area / perim**2, np.nan)
    parts = shapely.get_num_geometries(geoms_m)
    contiguous = (shapely.get_type_id(geoms_m) == 3) & (parts == 1)
    pairs = np.unique(cell_idx * (int(nu_idx.max(initial=0)) + 1) + nu_idx)
    pair_cell, pair_nu = np.divmod(pairs, int(nu_idx.max(initial=0)) + 1)
    nu_cells = np.bincount(pair_nu)
    nus_split = np.bincount(pair_cell[nu_cells[pair_nu] > 1], minlength=k)
    within = (n >= lo) & (n <= hi)
    reasons = [
        _reason(int(a), int(t), int(p), bool(c), lo, hi)
        for a, t, p, c in zip(n, village_total, parts, contiguous, strict=True)
    ]
    return pd.DataFrame(
        {
            "code": code,
            "village_code": village,
            "households": n,
            "residents": res,
            "area_m2": area,
            "polsby_popper": pp,
            "contiguous": contiguous,
            "natural_units_split": nus_split,
            "within_bounds": within,
            "flag_reason": pd.Series(reasons, dtype=object),
        }
    )


def _reason(n: int, village_total: int, parts: int, contiguous: bool, lo: int, hi: int):
    out = []
    why = (
        ""
        if is_feasible(village_total, lo, hi)
        else (f" (village of {village_total} households cannot be cut into cells of {lo}-{hi})")
    )
    if n < lo:
        out.append(f"below min: {n} < {lo} households{why}")
    elif n > hi:
        out.append(f"above max: {n} > {hi} households{why}")
    if not contiguous:
        out.append(f"non-contiguous: {parts} parts")
    return "; ".join(out) if out else None


def plan_metrics(cells: pd.DataFrame, assignment: pd.DataFrame, bounds: CellBounds) -> dict:
    """Plan-level figures (flat dict of numbers); feasibility judged against ``bounds``."""
    lo, hi = bounds.min_size, bounds.max_size
    size = cells["households"].to_numpy()
    v_total = assignment.groupby("village_code").size()
    infeasible = int(sum(not is_feasible(int(t), lo, hi) for t in v_total))
    nu_cells = assignment.groupby("natural_unit_code")["cell_code"].nunique()
    has = len(size) > 0
    return {
        "cells": len(cells),
        "households": len(assignment),
        "residents": int(cells["residents"].sum()),
        "villages": len(v_total),
        "share_within_bounds": float(cells["within_bounds"].mean()) if has else float("nan"),
        "mean_pp": float(np.nanmean(cells["polsby_popper"])) if has else float("nan"),
        "min_size": int(size.min()) if has else 0,
        "median_size": float(np.median(size)) if has else 0.0,
        "max_size": int(size.max()) if has else 0,
        "cells_flagged": int(cells["flag_reason"].notna().sum()),
        "cells_non_contiguous": int((~cells["contiguous"].astype(bool)).sum()),
        "villages_infeasible": infeasible,
        "natural_units": len(nu_cells),
        "natural_units_split": int((nu_cells > 1).sum()),
    }


def violations(
    plan: GridPlan, households: gpd.GeoDataFrame, villages: gpd.GeoDataFrame | None
) -> pd.DataFrame:
    """Rule violations (see :func:`geo.grids.check_plan`)."""
    a, cells = plan.assignment, plan.cells
    lo, hi = plan.params.bounds.min_size, plan.params.bounds.max_size
    rows: list[dict] = []

    def add(rule, cell=None, hh=None, detail=""):
        rows.append({"rule": rule, "cell_code": cell, "household_code": hh, "detail": detail})

    known = set(cells["code"])
    codes = households["code"]
    for h in codes[~codes.isin(a["household_code"])]:
        add("unassigned", hh=h, detail="household in no cell")
    counts = a["household_code"].value_counts()
    for h, c in counts[counts > 1].items():
        add("assigned_twice", hh=h, detail=f"household in {c} cells")
    for h in a.loc[~a["household_code"].isin(codes), "household_code"]:
        add("unknown_household", hh=h, detail="assignment names a household not in the input")
    bad_cell = ~a["cell_code"].isin(known)
    for h, c in zip(a.loc[bad_cell, "household_code"], a.loc[bad_cell, "cell_code"], strict=True):
        add("unknown_cell", cell=c, hh=h, detail="assigned to a cell not in the plan")
    hv = a["household_code"].map(households.set_index("code")["village_code"])
    cv = a["cell_code"].map(cells.set_index("code")["village_code"])
    wrong = hv.notna() & cv.notna() & (hv != cv)
    for h, c in zip(a.loc[wrong, "household_code"], a.loc[wrong, "cell_code"], strict=True):
        add("wrong_village", cell=c, hh=h, detail="cell lies in another village")
    n = a.groupby("cell_code").size()
    size = cells["code"].map(n).fillna(0).astype(int)
    for c, s in zip(cells["code"], size, strict=True):
        if not lo <= s <= hi:
            reason = cells.loc[cells["code"] == c, "flag_reason"].iloc[0]
            add("out_of_bounds", cell=c, detail=reason or f"{s} households, bounds {lo}-{hi}")
    g = cells.geometry.values
    multi = (shapely.get_type_id(g) != 3) | (shapely.get_num_geometries(g) > 1)
    for c, p in zip(cells.loc[multi, "code"], shapely.get_num_geometries(g[multi]), strict=True):
        add("non_contiguous", cell=c, detail=f"{p} parts")
    if villages is not None and len(cells):
        metric = utm_crs(cells)
        vg = to_crs_densified(villages.set_index("code").geometry, metric)
        cg = cells.geometry.to_crs(metric).values
        vv = vg.reindex(cells["village_code"]).values
        out_area = shapely.area(shapely.difference(cg, vv))
        rel = out_area / np.maximum(shapely.area(cg), 1e-12)
        for c, r in zip(cells.loc[rel > 1e-6, "code"], rel[rel > 1e-6], strict=True):
            add("outside_village", cell=c, detail=f"{r:.2%} of its area outside its village")
    hh = households.set_index("code")
    ok = a["household_code"].isin(hh.index) & a["cell_code"].isin(known)
    if ok.any():
        pts = rep_points(hh.loc[a.loc[ok, "household_code"]].geometry)
        cgeom = cells.set_index("code").geometry.reindex(a.loc[ok, "cell_code"]).values
        inside = shapely.intersects(cgeom, pts)
        sel = a.loc[ok][~inside]
        for h, c in zip(sel["household_code"], sel["cell_code"], strict=True):
            add("household_outside_cell", cell=c, hh=h, detail="household point not in its cell")
    return pd.DataFrame(rows, columns=["rule", "cell_code", "household_code", "detail"])


def diff(a: GridPlan, b: GridPlan) -> PlanDiff:
    """Plan diff (see :func:`geo.grids.plan_diff`)."""
    ma = a.assignment.set_index("household_code")["cell_code"]
    mb = b.assignment.set_index("household_code")["cell_code"]
    both = pd.concat([ma.rename("cell_before"), mb.rename("cell_after")], axis=1)
    changed = both["cell_before"].ne(both["cell_after"]) & ~(
        both["cell_before"].isna() & both["cell_after"].isna()
    )
    moved = both.loc[changed].rename_axis("household_code").reset_index()
    moved = moved.astype(object).where(moved.notna(), None)
    ca, cb = set(a.cells["code"]), set(b.cells["code"])
    common = sorted(ca & cb)
    ga = a.cells.set_index("code").geometry.reindex(common).values
    gb = b.cells.set_index("code").geometry.reindex(common).values
    same_shape = shapely.equals(ga, gb)
    touched = set(moved["cell_before"].dropna()) | set(moved["cell_after"].dropna())
    reshaped = [c for c, s in zip(common, same_shape, strict=True) if not s or c in touched]
    measures = [
        "cells",
        "households",
        "share_within_bounds",
        "mean_pp",
        "min_size",
        "median_size",
        "max_size",
        "cells_flagged",
        "natural_units_split",
    ]
    summary = pd.DataFrame(
        {
            "measure": measures,
            "a": [a.metrics.get(m) for m in measures],
            "b": [b.metrics.get(m) for m in measures],
        }
    )
    summary["change"] = pd.to_numeric(summary["b"]) - pd.to_numeric(summary["a"])
    extra = pd.DataFrame(
        {
            "measure": ["households_moved", "cells_added", "cells_removed", "cells_reshaped"],
            "a": [None] * 4,
            "b": [None] * 4,
            "change": [len(moved), len(cb - ca), len(ca - cb), len(reshaped)],
        }
    )
    summary = pd.concat([summary, extra], ignore_index=True)
    return PlanDiff(
        moved=moved,
        cells_added=sorted(cb - ca),
        cells_removed=sorted(ca - cb),
        cells_reshaped=reshaped,
        summary=summary,
    )
