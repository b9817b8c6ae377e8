"""Grid cells: build, tessellate, edit, check and compare plans of 30-50-household cells.

Pure (no database): GeoDataFrames in, a :class:`GridPlan` out.  The rules, the algorithm
and its figures are described in :mod:`geo.grids._plan`; this file is the public face.
"""

from geo.grids._plan import (
    build_plan,
    cells_from_assignment,
    check_plan,
    households_in_polygon,
    is_village_feasible,
    merge_cells,
    metric_crs,
    move_households,
    plan_diff,
    plan_metrics,
    polsby_popper,
    rebuild_village,
    split_cell,
)
from geo.grids._types import (
    ASSIGNMENT_COLUMNS,
    CELL_COLUMNS,
    CHECK_RULES,
    HOUSEHOLD_COLUMNS,
    VILLAGE_COLUMNS,
    CellBounds,
    GridPlan,
    PlanDiff,
    PlanInputs,
    PlanParams,
    cell_code,
    resolve_bounds,
)

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "CELL_COLUMNS",
    "CHECK_RULES",
    "HOUSEHOLD_COLUMNS",
    "VILLAGE_COLUMNS",
    "CellBounds",
    "GridPlan",
    "PlanDiff",
    "PlanInputs",
    "PlanParams",
    "build_plan",
    "cell_code",
    "cells_from_assignment",
    "check_plan",
    "households_in_polygon",
    "is_village_feasible",
    "merge_cells",
    "metric_crs",
    "move_households",
    "plan_diff",
    "plan_metrics",
    "polsby_popper",
    "rebuild_village",
    "resolve_bounds",
    "split_cell",
]
