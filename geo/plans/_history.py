"""A draft's versions: the history of its edits, undo and redo.

Every edit of a draft is a version (:func:`geo.plans.edit_plan` records it in
``grid_plan_edit`` with who and when, and keeps the village rows it replaced).  An undo is
a version too: it puts back the rows the last edit replaced, exactly, and records that it
did; a redo takes an undo back the same way.  The stacks follow the usual rule: an edit
clears what could be redone; undo takes back the newest edit (or redo) not yet undone.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
from sqlalchemy import Connection

from geo import grids
from geo.db import plan_store
from geo.db.plan_store import PlanRow
from geo.errors import ConfigError, PlanError
from geo.grids import PlanParams
from geo.plans._edit import no_gc_pause, village_plan
from geo.plans._metrics import metrics_after_village_edit
from geo.plans._store import params_of, require_draft
from geo.plans._types import EditResult


def plan_history(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None
) -> pd.DataFrame:
    """The versions of a plan after the first, oldest first, with what each did.

    Returns
    -------
    DataFrame
        ``version``, ``kind`` (``edit``, ``undo`` or ``redo``), ``op``, ``village_code``,
        ``summary``, ``reverts`` (the version an undo or redo took back), ``created_by``,
        ``created_at`` (UTC).
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    return plan_store.plan_edits(conn, row.id)


def undo_redo_state(edits: pd.DataFrame) -> tuple[int | None, int | None]:
    """The version an undo would take back and the one a redo would, from a plan's history.

    ``edits`` is :func:`plan_history`'s frame; None where there is nothing to undo or redo.
    """
    undo: list[int] = []
    redo: list[int] = []
    for version, kind in zip(edits["version"], edits["kind"], strict=True):
        if kind == "edit":
            undo.append(int(version))
            redo.clear()
        elif kind == "undo":
            undo.pop()
            redo.append(int(version))
        else:
            redo.pop()
            undo.append(int(version))
    return (undo[-1] if undo else None), (redo[-1] if redo else None)


def undo_edit(
    conn: Connection,
    plan_ref: int | str,
    *,
    expected_version: int,
    by: str,
    county_code: str | None = None,
) -> EditResult:
    """Take back the newest edit of a draft (a new version that restores the village).

    Raises
    ------
    StaleVersionError
        ``expected_version`` is not the stored version.
    PlanError
        Not a draft, or nothing to undo.
    """
    with no_gc_pause():
        return _revert(conn, plan_ref, "undo", expected_version, by, county_code)


def redo_edit(
    conn: Connection,
    plan_ref: int | str,
    *,
    expected_version: int,
    by: str,
    county_code: str | None = None,
) -> EditResult:
    """Take back the newest undo of a draft (only while no edit was made since).

    Raises
    ------
    StaleVersionError
        ``expected_version`` is not the stored version.
    PlanError
        Not a draft, or nothing to redo.
    """
    with no_gc_pause():
        return _revert(conn, plan_ref, "redo", expected_version, by, county_code)


def _revert(
    conn: Connection,
    plan_ref: int | str,
    kind: str,
    expected_version: int | None,
    by: str,
    county_code: str | None,
) -> EditResult:
    started = time.perf_counter()
    if expected_version is None:
        raise ConfigError(f"an {kind} needs expected_version (the plan version it was made on)")
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code, lock=True)
    require_draft(row, expected_version, action="edited")
    edits = plan_store.plan_edits(conn, row.id)
    undo, redo = undo_redo_state(edits)
    target = undo if kind == "undo" else redo
    if target is None:
        raise PlanError(f"plan {row.name!r} at version {row.version} has nothing to {kind}")
    entry = edits.loc[edits["version"] == target].iloc[0]
    village = str(entry["village_code"])
    summary = f"{kind} of version {target}: {entry['summary']}"
    plan_store.record_edit(
        conn,
        row.id,
        version=int(row.version) + 1,
        kind=kind,
        op=str(entry["op"]),
        village=village,
        summary=summary,
        reverts=target,
        params_before=params_of(row).to_json(),
        by=by,
    )
    households = plan_store.village_households(conn, village)
    before = plan_store.assignment_for(conn, row.id, households)
    plan_store.restore_village(conn, row.id, version=target, village=village)
    params = _params_before(conn, row, target)
    bounds = params.bounds_for(village)
    sub = village_plan(conn, row.id, village, replace(params, bounds=bounds, village_bounds={}))
    # the village's figures swapped in the stored plan metrics (not the county re-read)
    metrics = metrics_after_village_edit(
        conn, row.id, params=params, previous=row.metrics, before=before, after=sub.assignment
    )
    version = plan_store.bump_version(conn, row.id, by=by, metrics=metrics, params=params.to_json())
    violations = grids.check_plan(sub, sub.inputs.households, villages=sub.inputs.villages)
    return EditResult(
        plan_id=int(row.id),
        version=version,
        op=kind,
        village_code=village,
        metrics=metrics,
        village_metrics=grids.plan_metrics(sub.cells, sub.assignment, bounds),
        violations=violations,
        cells=sub.cells,
        seconds=time.perf_counter() - started,
        summary=summary,
        bounds=bounds,
    )


def _params_before(conn: Connection, row: PlanRow, version: int) -> PlanParams:
    stored = plan_store.edit_params_before(conn, row.id, version)
    if stored is None:
        return params_of(row)
    fallback = {"min_size": int(row.min_size), "max_size": int(row.max_size)}
    return PlanParams.from_json(stored, fallback={**fallback, "county_code": row.county_code})
