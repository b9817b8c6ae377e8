"""Save, load, list, describe and copy stored plans; the plan row helpers of the package."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from geo import grids
from geo.db import io, plan_store
from geo.db.plan_store import PlanRow
from geo.errors import ConfigError, PlanError, StaleVersionError
from geo.grids import PlanParams
from geo.plans._county import county_code_of
from geo.plans._types import METRIC_KEYS, StoredPlan


def save_plan(
    conn: Connection,
    plan: grids.GridPlan,
    *,
    county_code: str,
    name: str,
    created_by: str = "system",
    parent_plan_id: int | None = None,
) -> int:
    """Store ``plan`` as a new draft (version 1) of ``county_code``; return its id.

    Cells go to ``grid_cell`` as MultiPolygons (EPSG:4326) and the assignment to
    ``cell_assignment``, both by COPY, inside the caller's transaction.

    Raises
    ------
    PlanError
        A plan of that name already exists in the county.
    DataError
        Unknown county.
    ConfigError
        An empty name.
    """
    county_code_of(conn, county_code)
    check_plan_name(name)
    existing = plan_store.plan_named(conn, county_code, name)
    if existing is not None:
        raise PlanError(
            f"county {county_code} already has a plan named {name!r} "
            f"(id {existing[0]}, {existing[1]}); choose another name"
        )
    params = replace(plan.params, county_code=county_code)
    plan_id = plan_store.insert_plan(
        conn,
        county_code=county_code,
        name=name,
        parent_plan_id=parent_plan_id,
        min_size=params.bounds.min_size,
        max_size=params.bounds.max_size,
        created_by=created_by,
        metrics=plan.metrics,
        params=params.to_json(),
    )
    plan_store.write_cells(conn, plan_id, plan.cells)
    plan_store.write_assignment(conn, plan_id, plan.assignment)
    plan_store.analyze_if_stale(
        conn,
        {
            "grid_cell": len(plan.cells),
            "cell_assignment": len(plan.assignment),
            "household": len(plan.assignment),
        },
    )
    return plan_id


def load_plan(
    conn: Connection,
    plan_ref: int | str,
    *,
    county_code: str | None = None,
    attach: bool = True,
) -> StoredPlan:
    """Load a stored plan by id or name.

    Parameters
    ----------
    plan_ref : int or str
        Plan id (an int, digits, ``#12`` or ``id:12``) or name (``name:2024`` for an old
        plan whose name is made of digits); see :func:`geo.db.plan_store.parse_plan_ref`.
    county_code : str, optional
        Needed only when two counties have plans of the same name.
    attach : bool
        Read the county's households and villages too and attach them to the plan (needed
        for checks and edits; ``False`` is enough for diffs and metrics).

    Returns
    -------
    StoredPlan
        ``plan.cells`` in EPSG:4326 (single-part cells as Polygons), ``plan.assignment``
        one row per assigned household (index aligned with ``plan.inputs.households``).

    Raises
    ------
    PlanError
        No such plan, or a name shared by plans of several counties and no county given.
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    cells = plan_store.read_cells(conn, row.id)
    params = params_of(row)
    if attach:
        households = io.read_households(conn, under=row.county_code)
        villages = io.read_admin(conn, "village", under=row.county_code)
        assignment = plan_store.assignment_for(conn, row.id, households)
        plan = grids.GridPlan(cells, assignment, ordered(row.metrics), params)
        plan = plan.attach(households, villages)  # fills in a missing metric CRS
    else:
        assignment = plan_store.plan_assignment(conn, row.id)
        plan = grids.GridPlan(cells, assignment, ordered(row.metrics), params)
    return _stored(row, plan)


def describe_plan(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None
) -> dict[str, Any]:
    """The ``grid_plan`` row of a plan as a dict (no cells or assignment read: cheap).

    Keys: ``id``, ``name``, ``county_code``, ``status``, ``version``, ``min_size``,
    ``max_size``, ``created_by``, ``created_at``, ``updated_by``, ``updated_at``,
    ``published_at``, ``metrics``, ``params`` (the stored JSON).
    """
    out = asdict(plan_store.find_plan(conn, plan_ref, county_code=county_code))
    out["metrics"] = ordered(out["metrics"])
    return out


def list_plans(conn: Connection, county_code: str | None = None) -> pd.DataFrame:
    """Stored plans, newest first: id, county, name, status, version, size and quality.

    Returns
    -------
    DataFrame
        ``id``, ``county_code``, ``name``, ``status``, ``version``, ``min_size``,
        ``max_size``, ``cells``, ``households``, ``share_within_bounds``, ``created_at``,
        ``created_by``, ``updated_at``, ``updated_by``, ``published_at``.
    """
    return plan_store.list_plans(conn, county_code)


def copy_plan(
    conn: Connection,
    plan_ref: int | str,
    *,
    name: str,
    by: str = "system",
    county_code: str | None = None,
) -> int:
    """A new draft (version 1) with the cells and assignment of another plan; its id.

    The way to change a published or archived plan: copy it, edit the copy, publish it.

    Raises
    ------
    PlanError
        No such plan, or the county already has a plan called ``name``.
    """
    check_plan_name(name)
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    if plan_store.plan_named(conn, row.county_code, name) is not None:
        raise PlanError(f"county {row.county_code} already has a plan named {name!r}")
    return plan_store.copy_plan_rows(conn, row.id, name=name, by=by)


# --------------------------------------------------------------------------- row helpers


def check_plan_name(name: str) -> None:
    """Refuse a plan name that is empty or would read as an id (digits, ``#12``, ``id:12``).

    Plans are referred to by id or name everywhere (:func:`geo.db.plan_store.parse_plan_ref`),
    so a new name must not look like an id.

    Raises
    ------
    ConfigError
        The name is empty or reads as an id.
    """
    if not name or not name.strip():
        raise ConfigError("a plan needs a non-empty name")
    if plan_store.parse_plan_ref(name)[0] == "id" or name.strip().startswith("name:"):
        raise ConfigError(
            f"plan name {name!r} would read as a plan id; use a name with a letter in it "
            "(e.g. 'plan-2024')"
        )


def params_of(row: PlanRow) -> PlanParams:
    """The parameters of a stored plan; keys missing from old rows come from its columns."""
    fallback = {
        "min_size": int(row.min_size),
        "max_size": int(row.max_size),
        "county_code": row.county_code,
        "seed": 0,
    }
    return PlanParams.from_json(row.params, fallback=fallback)


def ordered(metrics: dict | None) -> dict:
    """Stored metrics (JSONB does not keep key order) in :data:`METRIC_KEYS` order."""
    metrics = dict(metrics or {})
    known = {k: metrics.pop(k) for k in METRIC_KEYS if k in metrics}
    return {**known, **metrics}


def require_draft(row: PlanRow, expected_version: int | None, *, action: str) -> None:
    """Refuse a plan that is not a draft, or (if given) not at ``expected_version``.

    Raises
    ------
    PlanError
        The plan is published or archived.
    StaleVersionError
        The stored version is not ``expected_version`` (says who changed it last and when).
    """
    if row.status != "draft":
        raise PlanError(
            f"plan {row.name!r} is {row.status}; only a draft can be {action} "
            "(copy it to a new draft first)"
        )
    if expected_version is not None and int(expected_version) != int(row.version):
        who = row.updated_by or row.created_by
        when = row.updated_at or row.created_at
        raise StaleVersionError(
            f"plan {row.name!r} is at version {row.version}, not {expected_version}: "
            f"last changed by {who} at {when:%Y-%m-%d %H:%M:%S %Z}; reload it and redo the edit"
        )


def _stored(row: PlanRow, plan: grids.GridPlan) -> StoredPlan:
    return StoredPlan(
        id=int(row.id),
        name=row.name,
        county_code=row.county_code,
        status=row.status,
        version=int(row.version),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        published_at=row.published_at,
        plan=plan,
    )
