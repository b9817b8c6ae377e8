"""Grid plans in PostGIS: save, load, edit, check, compare and publish versioned plans.

The life cycle (draft -> published -> archived), the edits and why some figures are
recomputed from the stored cells are described in :mod:`geo.plans._plans`; this file is the
public face.
"""

from geo.errors import PlanError, StaleVersionError
from geo.plans._plans import (
    CELL_TOLERANCE_M,
    DEFAULT_BOUNDS,
    METRIC_KEYS,
    OP_ARGUMENTS,
    PLAN_OPS,
    EditResult,
    StoredPlan,
    build_county_plan,
    check_stored_plan,
    copy_plan,
    county_code_of,
    default_bounds,
    describe_plan,
    diff_plans,
    edit_plan,
    list_plans,
    load_plan,
    merge_cells,
    move_households,
    move_households_in_polygon,
    plan_metrics_from_db,
    publication_faults,
    publish_plan,
    rebuild_village,
    save_plan,
    split_cell,
)

__all__ = [
    "CELL_TOLERANCE_M",
    "DEFAULT_BOUNDS",
    "METRIC_KEYS",
    "OP_ARGUMENTS",
    "PLAN_OPS",
    "EditResult",
    "PlanError",
    "StaleVersionError",
    "StoredPlan",
    "build_county_plan",
    "check_stored_plan",
    "copy_plan",
    "county_code_of",
    "default_bounds",
    "describe_plan",
    "diff_plans",
    "edit_plan",
    "list_plans",
    "load_plan",
    "merge_cells",
    "move_households",
    "move_households_in_polygon",
    "plan_metrics_from_db",
    "publication_faults",
    "publish_plan",
    "rebuild_village",
    "save_plan",
    "split_cell",
]
