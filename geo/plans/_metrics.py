"""Plan-level metrics recomputed from the cells and assignment stored in PostGIS.

After an edit only one village is in memory, so the plan's metrics are recomputed from the
per-cell columns of ``grid_cell`` with the same definitions as
:attr:`geo.grids.GridPlan.metrics` (a test checks that both agree on a freshly built plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
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
    return _figures(cells, per_village, params, len(nus), int((nus["cells"] > 1).sum()))


def metrics_after_village_edit(
    conn: Connection,
    plan_id: int,
    *,
    params: PlanParams,
    previous: Mapping[str, Any] | None,
    before: pd.DataFrame,
    after: pd.DataFrame,
) -> dict[str, float | int]:
    """Plan metrics after an edit of one village, without reading the county's assignment.

    The cell figures come from ``grid_cell`` (one row per cell); the natural-unit figures
    are the ``previous`` plan metrics with the edited village's own figures swapped
    (``before`` and ``after`` are that village's assignments, ``natural_unit_code`` and
    ``cell_code``): natural units never cross a village boundary, so no other village's
    figure changes.  Same keys and values as :func:`plan_metrics_from_db`, which it falls
    back to when ``previous`` lacks the natural-unit figures (rows written by hand).
    """
    known = previous or {}
    if known.get("natural_units") is None or known.get("natural_units_split") is None:
        return plan_metrics_from_db(conn, plan_id, params=params)
    units_before, split_before = _natural_unit_figures(before)
    units_after, split_after = _natural_unit_figures(after)
    cells = plan_store.cell_figures(conn, plan_id)
    per_village = plan_store.households_per_village_from_cells(conn, plan_id)
    units = int(known["natural_units"]) - units_before + units_after
    split = int(known["natural_units_split"]) - split_before + split_after
    return _figures(cells, per_village, params, units, split)


def _natural_unit_figures(assignment: pd.DataFrame) -> tuple[int, int]:
    """(natural units, natural units spread over more than one cell) of an assignment."""
    spans = assignment.groupby("natural_unit_code")["cell_code"].nunique()
    return len(spans), int((spans > 1).sum())


def _figures(
    cells: pd.DataFrame, per_village: pd.DataFrame, params: PlanParams, units: int, split: int
) -> dict[str, float | int]:
    """The plan metrics from per-cell and per-village figures (see plan_metrics_from_db)."""
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
        "natural_units": int(units),
        "natural_units_split": int(split),
    }
