"""One village of a stored plan as the workbench sees it: cells, households, every rule.

:func:`village_view` reads one village of a plan (its outline, cells, households with their
cell, natural units), checks its rules (:func:`geo.grids.check_plan`) and gathers the
figures a planner looks at after each edit: cell sizes against the village's bounds, cells
in pieces, natural units split, compactness, households left out, the village's and the
plan's totals.  :func:`plan_villages` lists a plan's villages with their township for the
selectors of the page and ``wangge grids show``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection

from geo import grids
from geo.db import plan_store
from geo.errors import DataError
from geo.grids import CellBounds
from geo.plans._edit import village_plan
from geo.plans._store import ordered, params_of


@dataclass(frozen=True, eq=False)
class VillageView:
    """One village of a stored plan with its rule checks (see :func:`village_view`).

    Attributes
    ----------
    plan_id, plan_name, status, version, county_code
        The plan as stored.
    changed_by, changed_at : str, datetime
        Who changed the plan last and when (its creator for an unedited plan).
    village_code, village_name, township_code, township_name : str
    bounds : CellBounds
        The village's bounds (its own if it was rebuilt with others).
    outline : GeoDataFrame
        The village polygon (EPSG:4326).
    cells : GeoDataFrame
        The village's cells (:data:`geo.grids.CELL_COLUMNS`, EPSG:4326), by code.
    households : GeoDataFrame
        ``code``, ``natural_unit_code``, ``residents``, ``cell_code`` (None if left out),
        geometry (EPSG:4326), by code.
    natural_units : GeoDataFrame
        ``code``, ``name``, ``kind`` and polygon of the village's natural units.
    violations : DataFrame
        ``rule``, ``cell_code``, ``household_code``, ``detail`` (empty when clean).
    units_split : DataFrame
        Natural units spread over several cells: ``natural_unit_code``, ``cells``,
        ``households``.
    metrics, plan_metrics : dict
        The village's figures (keys of :attr:`geo.grids.GridPlan.metrics`) and the plan's.
    locked : frozenset of str
        The village's locked cells (kept exactly by edits and rebuilds; see
        :func:`geo.plans.lock_cells`).
    """

    plan_id: int
    plan_name: str
    status: str
    version: int
    county_code: str
    changed_by: str
    changed_at: datetime
    village_code: str
    village_name: str
    township_code: str
    township_name: str
    bounds: CellBounds
    outline: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    natural_units: gpd.GeoDataFrame
    violations: pd.DataFrame
    units_split: pd.DataFrame
    metrics: dict
    plan_metrics: dict
    locked: frozenset[str] = frozenset()

    @property
    def left_out(self) -> list[str]:
        """Codes of the village's households in no cell."""
        return self.households.loc[self.households["cell_code"].isna(), "code"].tolist()


def plan_villages(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None
) -> pd.DataFrame:
    """The villages of a plan's county with their township and the plan's figures.

    Returns
    -------
    DataFrame
        ``township_code``, ``township_name``, ``village_code``, ``village_name``,
        ``households``, ``assigned``, ``cells``, ``cells_flagged``, by village code.
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    return plan_store.plan_villages(conn, row.id, row.county_code)


def village_view(
    conn: Connection, plan_ref: int | str, village_code: str, *, county_code: str | None = None
) -> VillageView:
    """One village of a plan with its cells, households, natural units and rule checks.

    Raises
    ------
    PlanError
        No such plan.
    DataError
        No such village in the plan's county.
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    village_code = str(village_code).strip()
    outline = plan_store.village_outline(conn, village_code)
    if outline.empty or not village_code.startswith(row.county_code):
        raise DataError(
            f"no village {village_code!r} in county {row.county_code}; "
            f"`wangge grids show {row.name}` lists its villages"
        )
    params = params_of(row)
    bounds = params.bounds_for(village_code)
    sub = village_plan(
        conn, row.id, village_code, replace(params, bounds=bounds, village_bounds={})
    )
    hh = sub.inputs.households
    cell_of = sub.assignment.set_index("household_code")["cell_code"]
    households = gpd.GeoDataFrame(
        {
            "code": hh["code"].to_numpy(),
            "natural_unit_code": hh["natural_unit_code"].to_numpy(),
            "residents": hh["residents"].to_numpy(),
            "cell_code": hh["code"].map(cell_of).to_numpy(),
        },
        geometry=hh.geometry.to_numpy(),
        crs=hh.crs,
    )
    violations = grids.check_plan(sub, hh, villages=sub.inputs.villages)
    township = plan_store.village_township(conn, village_code)
    return VillageView(
        plan_id=int(row.id),
        plan_name=row.name,
        status=row.status,
        version=int(row.version),
        county_code=row.county_code,
        changed_by=row.updated_by or row.created_by,
        changed_at=row.updated_at or row.created_at,
        village_code=village_code,
        village_name=str(outline["name"].iloc[0]),
        township_code=township[0],
        township_name=township[1],
        bounds=bounds,
        outline=outline,
        cells=sub.cells,
        households=households,
        natural_units=plan_store.village_natural_units(conn, village_code),
        violations=violations,
        units_split=_units_split(households),
        metrics=grids.plan_metrics(sub.cells, sub.assignment, bounds),
        plan_metrics=ordered(row.metrics),
        locked=frozenset(params.locked_cells) & set(sub.cells["code"]),
    )


def _units_split(households: pd.DataFrame) -> pd.DataFrame:
    assigned = households.loc[households["cell_code"].notna()]
    per = assigned.groupby("natural_unit_code").agg(
        cells=("cell_code", "nunique"), households=("code", "size")
    )
    split = per.loc[per["cells"] > 1].reset_index()
    return split.loc[:, ["natural_unit_code", "cells", "households"]]
