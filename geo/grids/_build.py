"""The village fan-out behind :func:`geo.grids.build_plan` and the edits (private).

:func:`tile` turns households (and, for edits, their given cell codes) into one
:class:`~geo.grids._engine.VillageJob` per village, runs them and assembles the cells.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import DataError
from geo.frames import check_columns
from geo.grids._check import assemble
from geo.grids._engine import VillageJob, household_seeds, run_villages
from geo.grids._types import PlanInputs, PlanParams
from geo.projection import to_crs_densified


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


def tile(
    inputs: PlanInputs,
    index: pd.Index,
    codes: pd.Series | None,
    params: PlanParams,
    *,
    repair: bool,
    n_jobs: int = 1,
    on_village: Callable[[str, int, int], None] | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Cells (EPSG:4326) and assignment of the households at ``index``.

    ``codes`` (aligned with ``index``) gives each household's cell; None cuts new cells
    within ``params.bounds`` (named by :func:`~geo.grids._types.cell_code`).
    """
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
    if not params.keep_natural_units:
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
                bounds=params.bounds,
                repair=repair,
            )
        )
    results = run_villages(jobs, n_jobs=n_jobs, on_village=on_village)
    return assemble(hh, results, hh_split, codes_arr, params, inputs.metric_crs)
