"""Plan-level metrics recomputed from the cells and assignment stored in PostGIS.

After an edit only one village is in memory, so the plan's metrics are recomputed from the
per-cell columns of ``grid_cell`` with the same definitions as
:attr:`geo.grids.GridPlan.metrics` (a test checks that both agree on a freshly built plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import Connection

from geo import grids
from geo.db import plan_store
from geo.grids import PlanParams
from geo.plans._store import params_of


def plan_metrics_from_db(
    conn: Connection, plan_id: int, *, params: PlanParams | Mapping[str, Any] | None = None
) -> dict[str, float | int]:
    """Plan-level metrics recomputed from the stored cells and assignment.

    Parameters
    ----------
    plan_id : int
        The plan.
    params : PlanParams or its JSON dict, optional
        The plan's parameters (default: read from its row); ``villages_infeasible``
        honours the per-village bounds in ``params.village_bounds``.

    Returns
    -------
    dict
        Same keys and definitions as :attr:`geo.grids.GridPlan.metrics` (without
        ``seconds``); shares and ``mean_pp`` None for a plan without cells.
    """
    if params is None:
        params = params_of(plan_store.find_plan(conn, plan_id))
    elif isinstance(params, Mapping):
        params = PlanParams.from_json(params)
    cells = plan_store.cell_figures(conn, plan_id)
    per_village = plan_store.households_per_village(conn, plan_id)
    nus = plan_store.cells_per_natural_unit(conn, plan_id)
    size = cells["households"].to_numpy()
    has = len(size) > 0
    infeasible = sum(
        not grids.is_village_feasible(int(n), bounds=params.bounds_for(v))
        for v, n in zip(per_village["village_code"], per_village["n"], strict=True)
    )
    return {
        "cells": len(cells),
        "households": int(per_village["n"].sum()),
        "residents": int(cells["residents"].sum()),
        "villages": len(per_village),
        "share_within_bounds": float(cells["within_bounds"].astype(bool).mean()) if has else None,
        "mean_pp": float(np.nanmean(cells["polsby_popper"].astype(float))) if has else None,
        "min_size": int(size.min()) if has else 0,
        "median_size": float(np.median(size)) if has else 0.0,
        "max_size": int(size.max()) if has else 0,
        "cells_flagged": int(cells["flag_reason"].notna().sum()),
        "cells_non_contiguous": int((~cells["contiguous"].astype(bool)).sum()),
        "villages_infeasible": int(infeasible),
        "natural_units": len(nus),
        "natural_units_split": int((nus["cells"] > 1).sum()),
    }
