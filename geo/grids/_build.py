"""Input checks and the village fan-out behind :func:`geo.grids.build_plan` (private)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError, DataError
from geo.frames import check_columns
from geo.grids._check import assemble
from geo.grids._engine import VillageJob, household_seeds, run_villages
from geo.projection import same_crs, to_crs_densified

HOUSEHOLD_COLUMNS = ("code", "natural_unit_code", "village_code", "residents", "geometry")
VILLAGE_COLUMNS = ("code", "geometry")


def check_bounds(min_size: int, max_size: int) -> None:
    if not (isinstance(min_size, int | np.integer) and isinstance(max_size, int | np.integer)):
        raise ConfigError(f"min_size and max_size must be integers, got {min_size!r}, {max_size!r}")
    if not 1 <= min_size <= max_size:
        raise ConfigError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")


def check_inputs(households, villages, natural_units=None) -> None:
    frames = [households, villages] + ([natural_units] if natural_units is not None else [])
    same_crs(*frames)
    check_columns(households, HOUSEHOLD_COLUMNS, name="households")
    check_columns(villages, VILLAGE_COLUMNS, name="villages")
    for name, frame in (("households", households), ("villages", villages)):
        dup = frame["code"][frame["code"].duplicated()]
        if len(dup):
            raise DataError(f"{name} has duplicate code(s): {', '.join(map(str, dup[:10]))}")
        g = np.asarray(frame.geometry.values)
        bad = shapely.is_missing(g) | shapely.is_empty(g)
        if bad.any():
            raise DataError(f"{name} rows {list(frame.index[bad][:10])} have no geometry")
    invalid = ~shapely.is_valid(np.asarray(villages.geometry.values))
    if invalid.any():
        codes = villages.loc[invalid, "code"][:10]
        raise DataError(
            f"village geometries are invalid (self-intersecting?): {', '.join(map(str, codes))}; "
            "repair them first, e.g. with shapely.make_valid"
        )
    unknown = ~households["village_code"].isin(villages["code"])
    if unknown.any():
        codes = pd.unique(households.loc[unknown, "village_code"])[:10]
        raise DataError(f"households refer to villages not in `villages`: {', '.join(codes)}")
    if natural_units is not None and {"code", "parent_code"} <= set(natural_units.columns):
        nu = natural_units.set_index("code")["parent_code"]
        hh_nu = households[["natural_unit_code", "village_code"]].drop_duplicates()
        parent = hh_nu["natural_unit_code"].map(nu)
        wrong = parent.notna() & (parent != hh_nu["village_code"])
        if wrong.any():
            codes = hh_nu.loc[wrong, "natural_unit_code"][:10]
            raise DataError(
                f"natural units in another village than their households: "
                f"{', '.join(map(str, codes))}"
            )


def rep_points(geometry: gpd.GeoSeries) -> np.ndarray:
    geoms = np.asarray(geometry.values)
    is_point = shapely.get_type_id(geoms) == 0
    out = geoms.copy()
    if (~is_point).any():
        out[~is_point] = shapely.point_on_surface(geoms[~is_point])
    return out


def codes_for(households: gpd.GeoDataFrame, assignment: pd.DataFrame) -> pd.Series:
    """Cell code per household (aligned with ``households``; NaN where unassigned)."""
    check_columns(assignment, ("household_code", "cell_code"), name="assignment")
    dup = assignment["household_code"][assignment["household_code"].duplicated()]
    if len(dup):
        raise DataError(f"households assigned twice: {', '.join(map(str, dup[:10]))}")
    unknown = ~assignment["household_code"].isin(households["code"])
    if unknown.any():
        codes = assignment.loc[unknown, "household_code"][:10]
        raise DataError(f"assignment names unknown households: {', '.join(map(str, codes))}")
    mapping = assignment.set_index("household_code")["cell_code"]
    return pd.Series(households["code"].map(mapping).to_numpy(), index=households.index)


def tile(inputs, index, codes, params, namer, *, repair, n_jobs=1, on_village=None):
    """Cells and assignment for the households at ``index`` (codes given, or built)."""
    hh = inputs.households.loc[index]
    seeds = household_seeds(hh.geometry, inputs.metric_crs)
    vcode = hh["village_code"].to_numpy().astype(str)
    vgeom = to_crs_densified(inputs.villages.set_index("code").geometry, inputs.metric_crs)
    vfac, vuniq = pd.factorize(vcode, sort=True)
    hh_order = np.argsort(vfac, kind="stable")
    hh_split = np.split(hh_order, np.cumsum(np.bincount(vfac, minlength=len(vuniq)))[:-1])
    seed_v = vfac[seeds.owner]
    s_order = np.argsort(seed_v, kind="stable")
    s_split = np.split(s_order, np.cumsum(np.bincount(seed_v, minlength=len(vuniq)))[:-1])
    nu = hh["natural_unit_code"].to_numpy()
    if not params.get("keep_natural_units", True):
        nu = np.zeros(len(hh), dtype=np.int64)  # one unit per village: nothing to keep whole
    codes_arr = None
    if codes is not None:
        codes_arr = np.asarray(codes, dtype=object).astype(str)
        spans = pd.Series(vcode).groupby(codes_arr).nunique()
        if (spans > 1).any():
            bad = list(spans.index[spans > 1][:10])
            raise DataError(f"cell(s) span more than one village: {', '.join(bad)}")
    jobs = []
    for q, v in enumerate(vuniq):
        members, sd = hh_split[q], s_split[q]
        local = np.empty(len(hh), dtype=np.int64)
        local[members] = np.arange(len(members))
        labels = None
        if codes_arr is not None:
            labels = pd.factorize(codes_arr[members], sort=True)[0]
        jobs.append(
            VillageJob(
                code=str(v),
                village=vgeom.loc[v],
                rep_xy=seeds.rep_xy[members],
                seeds=seeds.seeds[sd],
                owner=local[seeds.owner[sd]],
                natural_units=pd.factorize(nu[members])[0] if codes is None else None,
                labels=labels,
                min_size=params["min_size"],
                max_size=params["max_size"],
                repair=repair,
            )
        )
    results = run_villages(jobs, n_jobs=n_jobs, on_village=on_village)
    return assemble(hh, results, hh_split, codes_arr, params, inputs.metric_crs, namer)
