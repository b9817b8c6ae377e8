"""Edits of a stored draft: one village locked, re-tessellated and written back.

:func:`edit_plan` locks the ``grid_plan`` row (``SELECT ... FOR UPDATE``), refuses a stale
``expected_version`` with :class:`~geo.errors.StaleVersionError` (so two planners never
silently overwrite each other), loads only the affected village (its households, outline,
cells and assignment), applies the pure edit of :mod:`geo.grids` (which re-tessellates that
village), writes back that village's cells and assignments (delete + COPY), re-checks the
village's rules and recomputes the plan metrics from the stored cell figures.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Connection

from geo import grids
from geo.db import plan_store
from geo.db.plan_store import PlanRow
from geo.errors import ConfigError, DataError
from geo.grids import CellBounds, PlanParams
from geo.plans._locks import refuse_locked, village_locks, with_locked, without_locked
from geo.plans._metrics import metrics_after_village_edit
from geo.plans._store import params_of, require_draft
from geo.plans._strays import fix_unassigned
from geo.plans._types import (
    EDIT_TYPES,
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
    Rebuild,
    Split,
    Unlock,
)


def edit_plan(
    conn: Connection,
    plan_ref: int | str,
    edit: Edit | None = None,
    *,
    expected_version: int,
    by: str,
    county_code: str | None = None,
    op: str | None = None,
    **keywords: Any,
) -> EditResult:
    """Apply one edit to a draft plan, re-tessellating only the affected village.

    Parameters
    ----------
    plan_ref : int or str
        Plan id or name.
    edit : Move, MovePolygon, Split, Merge or Rebuild
        The edit.  The older keyword form names it by ``op`` (one of :data:`PLAN_OPS`) with
        its fields as keywords (:data:`OP_ARGUMENTS`, optional :data:`OP_OPTIONS`):
        ``op="move", household_codes=..., to_cell=...``; ``op="rebuild"`` takes
        ``min_size``/``max_size`` (households) instead of ``bounds``, each replacing the
        village's current bound where given.
    expected_version : int
        The version the edit was made against; anything else is refused.
    by : str
        Who makes the edit (stored as ``updated_by``).
    county_code : str, optional
        Needed only when plans of several counties share the name.

    Returns
    -------
    EditResult

    Raises
    ------
    StaleVersionError
        ``expected_version`` is not the stored version (the message says the current version,
        who changed it last and when).
    PlanError
        The plan is not a draft.
    ConfigError
        Unknown ``op``, unknown or missing keywords, both an edit and ``op``, bad bounds.
    DataError
        Unknown households or cells, households of another village, cells not adjacent ...
    """
    with no_gc_pause():
        return _edit_plan(conn, plan_ref, edit, expected_version, by, county_code, op, keywords)


@contextmanager
def no_gc_pause() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while an edit runs, collect later.

    An edit allocates many small objects (frames, geometries); in a long-lived process (the
    dashboards) that triggers full collections over the whole heap in the middle of the
    edit, measured at +80 ms at the 95th percentile of a 1,000-household edit.  Reference
    counting still frees everything that is not in a cycle; the collector runs again after.
    Only re-enables it if it was on (another thread or the caller may hold it off).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _edit_plan(
    conn: Connection,
    plan_ref: int | str,
    edit: Edit | None,
    expected_version: int,
    by: str,
    county_code: str | None,
    op: str | None,
    keywords: dict[str, Any],
) -> EditResult:
    """:func:`edit_plan`'s work (its arguments; the collector held off by the caller)."""
    started = time.perf_counter()
    _check_request(edit, op, keywords)
    row = _lock_draft(conn, plan_ref, expected_version, county_code=county_code)
    params = params_of(row)
    if edit is None:
        edit = _edit_from_keywords(op, keywords, params)
    village = _village_of_edit(conn, row.id, edit)
    params_before = params.to_json()
    bounds = params.bounds_for(village)
    if isinstance(edit, Rebuild):
        bounds = edit.bounds or bounds
        params = params.with_village_bounds(village, bounds)
    sub = village_plan(conn, row.id, village, replace(params, bounds=bounds, village_bounds={}))
    locked = village_locks(sub)
    refuse_locked(sub, edit, locked)
    params = _with_locks(params, edit)
    new = _apply_keeping(sub, edit, locked)
    violations = grids.check_plan(new, new.inputs.households, villages=new.inputs.villages)
    moved = _moved(sub, new)
    if isinstance(edit, FixUnassigned):
        moved = len(new.assignment) - len(sub.assignment)
    summary = describe_edit(edit, moved=moved, bounds=bounds)
    plan_store.record_edit(
        conn,
        row.id,
        version=int(row.version) + 1,
        kind="edit",
        op=edit.op,
        village=village,
        summary=summary,
        reverts=None,
        params_before=params_before,
        by=by,
    )
    if not isinstance(edit, Lock | Unlock):  # a lock changes no row of the village
        plan_store.update_village_rows(
            conn, row.id, village, before=(sub.cells, sub.assignment),
            after=(new.cells, new.assignment),
        )  # fmt: skip
    metrics = metrics_after_village_edit(
        conn, row.id, params=params, previous=row.metrics, before=sub.assignment,
        after=new.assignment,
    )  # fmt: skip
    version = plan_store.bump_version(conn, row.id, by=by, metrics=metrics, params=params.to_json())
    return EditResult(
        plan_id=int(row.id),
        version=version,
        op=edit.op,
        village_code=village,
        metrics=metrics,
        village_metrics={k: v for k, v in new.metrics.items() if k != "seconds"},
        violations=violations,
        cells=new.cells,
        seconds=time.perf_counter() - started,
        summary=summary,
        moved=moved,
        bounds=bounds,
    )


def move_households(
    conn: Connection,
    plan_ref: int | str,
    household_codes: Iterable[str],
    to_cell: str,
    *,
    expected_version: int,
    by: str,
) -> EditResult:
    """Move households (by code) into ``to_cell`` of the same village; see :func:`edit_plan`."""
    edit = Move(tuple(household_codes), to_cell)
    return edit_plan(conn, plan_ref, edit, expected_version=expected_version, by=by)


def move_households_in_polygon(
    conn: Connection,
    plan_ref: int | str,
    polygon: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame,
    to_cell: str,
    *,
    expected_version: int,
    by: str,
) -> EditResult:
    """Move the households of ``to_cell``'s village inside ``polygon`` (EPSG:4326 if shapely)."""
    edit = MovePolygon(polygon, to_cell)
    return edit_plan(conn, plan_ref, edit, expected_version=expected_version, by=by)


def split_cell(
    conn: Connection,
    plan_ref: int | str,
    cell_code: str,
    k: int = 2,
    *,
    expected_version: int,
    by: str,
) -> EditResult:
    """Split a cell into ``k`` balanced parts; see :func:`edit_plan`."""
    edit = Split(cell_code, k)
    return edit_plan(conn, plan_ref, edit, expected_version=expected_version, by=by)


def merge_cells(
    conn: Connection, plan_ref: int | str, a: str, b: str, *, expected_version: int, by: str
) -> EditResult:
    """Merge two adjacent cells of one village; see :func:`edit_plan`."""
    return edit_plan(conn, plan_ref, Merge(a, b), expected_version=expected_version, by=by)


def rebuild_village(
    conn: Connection,
    plan_ref: int | str,
    village_code: str,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    bounds: CellBounds | None = None,
    expected_version: int,
    by: str,
) -> EditResult:
    """Regenerate one village's cells, optionally with other bounds; see :func:`edit_plan`.

    ``bounds``, or ``min_size``/``max_size`` (households) replacing the village's current
    bounds where given; remembered for the village.
    """
    if bounds is not None:
        if min_size is not None or max_size is not None:
            raise ConfigError("give either bounds=CellBounds(...) or min_size/max_size, not both")
        edit = Rebuild(village_code, bounds)
        return edit_plan(conn, plan_ref, edit, expected_version=expected_version, by=by)
    return edit_plan(
        conn,
        plan_ref,
        expected_version=expected_version,
        by=by,
        op="rebuild",
        village_code=village_code,
        min_size=min_size,
        max_size=max_size,
    )


def lock_cells(
    conn: Connection,
    plan_ref: int | str,
    cell_codes: Iterable[str],
    *,
    locked: bool = True,
    expected_version: int,
    by: str,
) -> EditResult:
    """Lock (or with ``locked=False`` unlock) cells of one village; a version like any edit.

    A locked cell is kept exactly by every later edit of its village (a rebuild cuts only
    the rest); moving households into or out of it, splitting or merging it is refused
    until it is unlocked.  See :func:`edit_plan`.
    """
    codes = tuple(cell_codes)
    edit = Lock(codes) if locked else Unlock(codes)
    return edit_plan(conn, plan_ref, edit, expected_version=expected_version, by=by)


def fix_unassigned_households(
    conn: Connection, plan_ref: int | str, village_code: str, *, expected_version: int, by: str
) -> EditResult:
    """Put the village's households that are in no cell into adjacent cells (one version).

    Each goes to the cell containing its point or one adjacent to it: the nearest whose
    size stays within the village's maximum, else the smallest (:class:`FixUnassigned`).
    """
    edit = FixUnassigned(str(village_code))
    return edit_plan(conn, plan_ref, edit, expected_version=expected_version, by=by)


def describe_edit(edit: Edit, *, moved: int | None = None, bounds: CellBounds | None = None) -> str:
    """One line saying what an edit does (stored with its version, shown in histories)."""
    tail = "" if moved is None else f" ({moved} household(s) changed cell)"
    if isinstance(edit, Lock | Unlock):
        return f"{edit.op} cell(s) {', '.join(edit.cell_codes)}"
    if isinstance(edit, FixUnassigned):
        n = "" if moved is None else f" {moved}"
        return f"assign the{n} household(s) left out of village {edit.village_code} to cells"
    if isinstance(edit, Move):
        return f"move {len(edit.household_codes)} household(s) to {edit.to_cell}{tail}"
    if isinstance(edit, MovePolygon):
        return f"move the households in a drawn area to {edit.to_cell}{tail}"
    if isinstance(edit, Split):
        return f"split {edit.cell_code} in {edit.k}{tail}"
    if isinstance(edit, Merge):
        return f"merge {edit.a} and {edit.b}{tail}"
    b = edit.bounds or bounds
    within = "" if b is None else f" with {b.min_size}-{b.max_size} households per cell"
    return f"rebuild village {edit.village_code}{within}{tail}"


# --------------------------------------------------------------------------- helpers


def _moved(before: grids.GridPlan, after: grids.GridPlan) -> int:
    """How many households of the village changed cell."""
    a, b = (
        dict(zip(p.assignment["household_code"], p.assignment["cell_code"], strict=True))
        for p in (before, after)
    )
    return sum(1 for h, c in a.items() if b.get(h) != c)


def _check_request(edit: Edit | None, op: str | None, keywords: dict[str, Any]) -> None:
    """ConfigError for an edit that cannot be understood (before anything is locked)."""
    if edit is not None:
        if op is not None or keywords:
            given = ", ".join(["op", *keywords] if op is not None else keywords)
            raise ConfigError(f"give an edit or op= with keywords, not both (also got {given})")
        if not isinstance(edit, EDIT_TYPES):
            names = ", ".join(t.__name__ for t in EDIT_TYPES)
            raise ConfigError(f"unknown edit {edit!r}; expected one of {names}")
        return
    if op not in PLAN_OPS:
        raise ConfigError(f"unknown edit {op!r}; expected one of {', '.join(PLAN_OPS)}")
    allowed = OP_ARGUMENTS[op] + OP_OPTIONS[op]
    unknown = [k for k in keywords if k not in allowed]
    if unknown:
        raise ConfigError(
            f"edit {op!r} takes no argument(s) {', '.join(unknown)}; it takes {', '.join(allowed)}"
        )
    missing = [a for a in OP_ARGUMENTS[op] if a not in keywords]
    if missing:
        raise ConfigError(f"edit {op!r} needs argument(s) {', '.join(missing)}")


def _edit_from_keywords(op: str, keywords: dict[str, Any], params: PlanParams) -> Edit:
    """The edit dataclass of the keyword form (checked by :func:`_check_request`)."""
    if op == "move":
        return Move(tuple(keywords["household_codes"]), keywords["to_cell"])
    if op == "move_polygon":
        return MovePolygon(keywords["polygon"], keywords["to_cell"])
    if op == "split":
        return Split(keywords["cell_code"], int(keywords.get("k", 2)))
    if op == "merge":
        return Merge(keywords["a"], keywords["b"])
    if op in ("lock", "unlock"):
        return (Lock if op == "lock" else Unlock)(tuple(keywords["cell_codes"]))
    if op == "fix_unassigned":
        return FixUnassigned(str(keywords["village_code"]))
    village = str(keywords["village_code"])
    lo, hi = keywords.get("min_size"), keywords.get("max_size")
    if lo is None and hi is None:
        return Rebuild(village)
    lo, hi = (None if v is None else int(v) for v in (lo, hi))
    return Rebuild(village, params.bounds_for(village).with_sizes(lo, hi))


def _lock_draft(
    conn: Connection, plan_ref: int | str, expected_version: int, *, county_code: str | None
) -> PlanRow:
    if expected_version is None:
        raise ConfigError("an edit needs expected_version (the plan version it was made on)")
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code, lock=True)
    require_draft(row, expected_version, action="edited")
    return row


def _village_of_edit(conn: Connection, plan_id: int, edit: Edit) -> str:
    """The one village an edit touches (and early, clear errors for cross-village edits)."""
    if isinstance(edit, Rebuild | FixUnassigned):
        code = str(edit.village_code)
        if plan_store.village_household_count(conn, code) == 0:
            raise DataError(f"village {code!r} has no households in the database")
        return code
    if isinstance(edit, Lock | Unlock):
        if not edit.cell_codes:
            raise DataError(f"no cells to {edit.op}")
        found = plan_store.cell_villages(conn, plan_id, list(edit.cell_codes))
        villages = sorted(set(found.values()))
        if len(villages) > 1:
            raise DataError(
                f"cells {', '.join(edit.cell_codes)} are in {len(villages)} villages "
                f"({', '.join(villages)}); {edit.op} one village's cells at a time"
            )
        return villages[0]
    if isinstance(edit, Merge):
        found = plan_store.cell_villages(conn, plan_id, [edit.a, edit.b])
        va, vb = found[edit.a], found[edit.b]
        if va != vb:
            raise DataError(
                f"cells {edit.a} and {edit.b} are in different villages ({va}, {vb}); "
                "cells never cross a village boundary"
            )
        return va
    if isinstance(edit, Split):
        return plan_store.cell_villages(conn, plan_id, [edit.cell_code])[edit.cell_code]
    village = plan_store.cell_villages(conn, plan_id, [edit.to_cell])[edit.to_cell]
    if isinstance(edit, Move):
        _check_movers(conn, [str(c) for c in edit.household_codes], village, edit.to_cell)
    return village


def _check_movers(conn: Connection, codes: list[str], village: str, to_cell: str) -> None:
    if not codes:
        raise DataError("no households to move")
    where = plan_store.household_villages(conn, codes)
    unknown = [c for c in codes if c not in where]
    if unknown:
        raise DataError(f"unknown household(s): {', '.join(unknown[:10])}")
    other = [c for c in codes if where[c] != village]
    if other:
        raise DataError(
            f"households {', '.join(other[:10])} are not in village {village} of cell "
            f"{to_cell}; cells never cross a village boundary"
        )


def _with_locks(params: PlanParams, edit: Edit) -> PlanParams:
    """The plan's parameters after ``edit`` (a lock or unlock changes ``locked_cells``)."""
    if isinstance(edit, Lock):
        return replace(params, locked_cells=params.locked_cells | set(edit.cell_codes))
    if isinstance(edit, Unlock):
        return replace(params, locked_cells=params.locked_cells - set(edit.cell_codes))
    return params


def _apply_keeping(sub: grids.GridPlan, edit: Edit, locked: frozenset[str]) -> grids.GridPlan:
    """:func:`_apply` to the village without its locked cells, which are then put back."""
    if isinstance(edit, Lock | Unlock):
        return sub
    if not locked:
        return _apply(sub, edit)
    return with_locked(_apply(without_locked(sub, locked), edit), sub, locked)


def _apply(sub: grids.GridPlan, edit: Edit) -> grids.GridPlan:
    """The pure edit of :mod:`geo.grids` on the village plan ``sub`` (bounds in its params)."""
    if isinstance(edit, FixUnassigned):
        return fix_unassigned(sub, edit.village_code)
    if isinstance(edit, Move):
        return grids.move_households(sub, list(edit.household_codes), edit.to_cell)
    if isinstance(edit, MovePolygon):
        picked = grids.households_in_polygon(sub.inputs.households, edit.polygon)
        if picked.empty:
            raise DataError(f"no household of cell {edit.to_cell}'s village in the polygon")
        return grids.move_households(sub, picked.tolist(), edit.to_cell)
    if isinstance(edit, Split):
        return grids.split_cell(sub, edit.cell_code, int(edit.k))
    if isinstance(edit, Merge):
        return grids.merge_cells(sub, edit.a, edit.b)
    return grids.rebuild_village(sub, str(edit.village_code))


def village_plan(
    conn: Connection, plan_id: int, village: str, params: PlanParams
) -> grids.GridPlan:
    """One village of a stored plan as a GridPlan with its inputs attached.

    ``params`` are the village's: its bounds, no per-village table.
    """
    households = plan_store.village_households(conn, village)
    villages = plan_store.village_outline(conn, village)
    if villages.empty:
        raise DataError(f"unknown village {village!r}")
    cells = plan_store.read_cells(conn, plan_id, village=village)
    assignment = plan_store.assignment_for(conn, plan_id, households)
    return grids.GridPlan(cells, assignment, {}, params).attach(households, villages)
