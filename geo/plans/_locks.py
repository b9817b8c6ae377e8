"""Locked cells: refused edits, and edits of a village that keep its locked cells exactly.

A planner locks cells (:class:`~geo.plans.Lock`) so that a rebuild of their village keeps
them.  The plan's ``params.locked_cells`` holds the codes (so an undo restores the locks
with the rest of the parameters).  An edit of a village with locked cells is applied to
the village *without* them: its outline minus the locked cells, its households minus
theirs; the locked cells and their assignment are then put back unchanged.  New cells that
the edit numbered like a locked one are renumbered after the village's highest number.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from geo import grids
from geo.errors import DataError
from geo.plans._types import Edit, Lock, Merge, Move, MovePolygon, Rebuild, Split, Unlock


def village_locks(sub: grids.GridPlan) -> frozenset[str]:
    """The locked cells of the village plan ``sub`` (codes in ``params.locked_cells``)."""
    return frozenset(sub.params.locked_cells) & set(sub.cells["code"])


def refuse_locked(sub: grids.GridPlan, edit: Edit, locked: frozenset[str]) -> None:
    """DataError (one line) for an edit that would change a locked cell, or a lock that
    changes nothing."""
    if isinstance(edit, Lock):
        again = [c for c in edit.cell_codes if c in locked]
        if again:
            raise DataError(f"cell(s) already locked: {', '.join(again)}")
        return
    if isinstance(edit, Unlock):
        free = [c for c in edit.cell_codes if c not in locked]
        if free:
            raise DataError(f"cell(s) not locked: {', '.join(free)}")
        return
    hit = _locked_cells_hit(sub, edit, locked) if locked else []
    if hit:
        raise DataError(
            f"cell(s) {', '.join(hit)} locked; `wangge grids unlock PLAN {' '.join(hit)}` "
            "(or the lock toggle) first"
        )
    if isinstance(edit, Rebuild) and locked == set(sub.cells["code"]):
        raise DataError(
            f"every cell of village {edit.village_code} is locked; unlock one to rebuild"
        )


def _locked_cells_hit(sub: grids.GridPlan, edit: Edit, locked: frozenset[str]) -> list[str]:
    """The locked cells an edit would change, sorted."""
    if isinstance(edit, Split):
        hit = {edit.cell_code}
    elif isinstance(edit, Merge):
        hit = {edit.a, edit.b}
    elif isinstance(edit, Move | MovePolygon):
        hit = {edit.to_cell}
        if isinstance(edit, Move):
            a = sub.assignment
            hit |= set(a.loc[a["household_code"].isin(edit.household_codes), "cell_code"])
    else:
        hit = set()
    return sorted(hit & locked)


def without_locked(sub: grids.GridPlan, locked: frozenset[str]) -> grids.GridPlan:
    """The village plan ``sub`` without its locked cells, their households and their area."""
    cells, a = sub.cells, sub.assignment
    keep_cells = ~cells["code"].isin(locked)
    keep_rows = ~a["cell_code"].isin(locked)
    households = sub.inputs.households
    households = households.loc[~households["code"].isin(a.loc[~keep_rows, "household_code"])]
    taken = shapely.union_all(cells.loc[~keep_cells].geometry.to_numpy())
    villages = sub.inputs.villages
    rest = [_without_slivers(shapely.difference(g, taken)) for g in villages.geometry]
    villages = villages.set_geometry(gpd.GeoSeries(rest, index=villages.index, crs=villages.crs))
    free = grids.GridPlan(
        gpd.GeoDataFrame(cells.loc[keep_cells], crs=cells.crs), a.loc[keep_rows], {}, sub.params
    )
    return free.attach(households, villages)


SLIVER_SHARE = 1e-6
"""Parts of a village minus its locked cells smaller than this share of it are dropped: the
cells and the village outline agree only to rounding, so the difference leaves slivers."""


def _without_slivers(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom``'s polygons without the slivers (see :data:`SLIVER_SHARE`)."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    total = sum(p.area for p in parts)
    kept = [p for p in parts if p.area >= SLIVER_SHARE * total]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


def with_locked(new: grids.GridPlan, sub: grids.GridPlan, locked: frozenset[str]) -> grids.GridPlan:
    """``new`` (an edit of :func:`without_locked`'s plan) with ``sub``'s locked cells put back.

    The result has ``sub``'s inputs (the whole village) and metrics of the whole village.
    """
    renamed = _renumbered(new, locked)
    cells, a = sub.cells, sub.assignment
    kept = cells.loc[cells["code"].isin(locked)]
    all_cells = pd.concat([new.cells.assign(code=new.cells["code"].map(renamed)), kept])
    all_cells = gpd.GeoDataFrame(all_cells.sort_values("code", ignore_index=True), crs=cells.crs)
    moved = new.assignment.assign(cell_code=new.assignment["cell_code"].map(renamed))
    assignment = pd.concat([moved, a.loc[a["cell_code"].isin(locked)]]).sort_index()
    bounds = sub.params.bounds
    metrics = grids.plan_metrics(all_cells, assignment, bounds)
    plan = grids.GridPlan(all_cells, assignment, metrics, sub.params)
    return plan.attach(sub.inputs.households, sub.inputs.villages)


def _renumbered(new: grids.GridPlan, locked: frozenset[str]) -> dict[str, str]:
    """Old -> new code of ``new``'s cells: a code a locked cell holds gets the next free one."""
    codes = list(new.cells["code"])
    taken = set(codes) | set(locked)
    top = max(int(c.rsplit("-", 1)[1]) for c in taken)
    out = {}
    for code in codes:
        if code in locked:
            top += 1
            out[code] = f"{code.rsplit('-', 1)[0]}-{top:03d}"
        else:
            out[code] = code
    return out
