"""Grid plans in PostGIS: save, load, edit, check, compare and publish versioned plans.

A plan (:class:`geo.grids.GridPlan`) lives in three tables: ``grid_plan`` (one row: county,
name, status, version, bounds, metrics, params, who changed it last), ``grid_cell`` (the cells
as MultiPolygons in EPSG:4326 with their metrics) and ``cell_assignment`` (household ->
cell; its primary key makes double assignment impossible).  All SQL is in
:mod:`geo.db.plan_store`.

Life cycle
    ``draft`` (version 1 when saved, +1 with every edit) -> ``published`` (at most one per
    county; the partial unique index ``uq_grid_plan_one_published`` enforces it) ->
    ``archived`` (when another plan of the county is published).  Only drafts are edited;
    :func:`copy_plan` starts a new draft from any plan.

Edits are values (:class:`Move`, :class:`MovePolygon`, :class:`Split`, :class:`Merge`,
:class:`Rebuild`, :class:`Lock`, :class:`Unlock`, :class:`FixUnassigned`) applied by
:func:`edit_plan` (or the named wrappers); see :mod:`geo.plans._edit` for how an edit
locks, re-tessellates one village and writes it back.

Every function takes an SQLAlchemy ``Connection`` with a transaction open and works inside
it; the caller commits (``with engine.begin() as conn: ...``).

Every edit, undo and redo is a version with who and when (:func:`plan_history`); an undo
puts back the village rows the edit replaced (:func:`undo_edit`, :func:`redo_edit`).
Plans are referred to by id or name everywhere (:data:`PLAN_REF_RULE`).

Files: ``_types`` (the values), ``_county`` (county, bounds, build), ``_store`` (save, load,
list, copy, describe), ``_metrics`` (metrics from the stored cells), ``_edit`` (edits),
``_history`` (versions, undo, redo), ``_locks`` (locked cells), ``_strays`` (fix
unassigned), ``_village`` (one village with its rule checks, for the
workbench), ``_publish`` (check, diff, publish).
"""

from geo.db.plan_store import PLAN_REF_RULE, parse_plan_ref
from geo.errors import PlanError, StaleVersionError
from geo.plans._county import build_county_plan, county_bounds, county_code_of, default_bounds
from geo.plans._edit import (
    describe_edit,
    edit_plan,
    fix_unassigned_households,
    lock_cells,
    merge_cells,
    move_households,
    move_households_in_polygon,
    rebuild_village,
    split_cell,
)
from geo.plans._history import plan_history, redo_edit, undo_edit, undo_redo_state
from geo.plans._metrics import plan_metrics_from_db
from geo.plans._publish import (
    check_stored_plan,
    diff_plans,
    plan_rejoins,
    publication_faults,
    publish_plan,
    rejoin_preview,
)
from geo.plans._store import (
    check_plan_name,
    copy_plan,
    describe_plan,
    list_plans,
    load_plan,
    save_plan,
)
from geo.plans._types import (
    CELL_TOLERANCE_M,
    DEFAULT_BOUNDS,
    METRIC_KEYS,
    OP_ARGUMENTS,
    OP_OPTIONS,
    PLAN_OPS,
    Edit,
    EditResult,
    FixUnassigned,
    Lock,
    Merge,
    Move,
    MovePolygon,
    Publication,
    Rebuild,
    Split,
    StoredPlan,
    Unlock,
)
from geo.plans._village import VillageView, plan_villages, village_view

__all__ = [
    "CELL_TOLERANCE_M",
    "DEFAULT_BOUNDS",
    "METRIC_KEYS",
    "OP_ARGUMENTS",
    "OP_OPTIONS",
    "PLAN_OPS",
    "PLAN_REF_RULE",
    "Edit",
    "EditResult",
    "FixUnassigned",
    "Lock",
    "Merge",
    "Move",
    "MovePolygon",
    "PlanError",
    "Publication",
    "Rebuild",
    "Split",
    "StaleVersionError",
    "StoredPlan",
    "Unlock",
    "VillageView",
    "build_county_plan",
    "check_plan_name",
    "check_stored_plan",
    "copy_plan",
    "county_bounds",
    "county_code_of",
    "default_bounds",
    "describe_edit",
    "describe_plan",
    "diff_plans",
    "edit_plan",
    "fix_unassigned_households",
    "list_plans",
    "load_plan",
    "lock_cells",
    "merge_cells",
    "move_households",
    "move_households_in_polygon",
    "parse_plan_ref",
    "plan_history",
    "plan_metrics_from_db",
    "plan_rejoins",
    "plan_villages",
    "publication_faults",
    "publish_plan",
    "rebuild_village",
    "redo_edit",
    "rejoin_preview",
    "save_plan",
    "split_cell",
    "undo_edit",
    "undo_redo_state",
    "village_view",
]
