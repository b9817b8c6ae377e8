"""Grid cells: build, tessellate, edit, check and compare plans of 30-50-household cells.

Pure (no database): GeoDataFrames in, a :class:`GridPlan` out.  The rules, the algorithm
and its figures are described in :mod:`geo.grids._plan`; this file is the public face.
"""

from geo.grids._plan import (
    ASSIGNMENT_COLUMNS,
    CELL_COLUMNS,
    CHECK_RULES,
    HOUSEHOLD_COLUMNS,
    VILLAGE_COLUMNS,
    GridPlan,
    PlanDiff,
    PlanInputs,
    build_plan,
    cell_code,
    cells_from_assignment,
    check_plan,
    households_in_polygon,
    is_village_feasible,
    merge_cells,
    metric_crs,
    move_households,
    plan_diff,
    polsby_popper,
    rebuild_village,
    split_cell,
)

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "CELL_COLUMNS",
    "CHECK_RULES",
    "HOUSEHOLD_COLUMNS",
    "VILLAGE_COLUMNS",
    "GridPlan",
    "PlanDiff",
    "PlanInputs",
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
    "polsby_popper",
    "rebuild_village",
    "split_cell",
]
