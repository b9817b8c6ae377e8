"""Grid plans in PostGIS: save, load, edit, check, compare and publish versioned plans.

A plan (:class:`geo.grids.GridPlan`) lives in three tables: ``grid_plan`` (one row: county,
name, status, version, bounds, metrics, params, who changed it last), ``grid_cell`` (the cells
as MultiPolygons in EPSG:4326 with their metrics) and ``cell_assignment`` (household ->
cell; its primary key makes double assignment impossible).

Life cycle
    ``draft`` (version 1 when saved, +1 with every edit) -> ``published`` (at most one per
    county; the partial unique index ``uq_grid_plan_one_published`` enforces it) ->
    ``archived`` (when another plan of the county is published).  Only drafts are edited;
    :func:`copy_plan` starts a new draft from any plan.

Edits (:func:`edit_plan` and the named wrappers :func:`move_households`,
:func:`move_households_in_polygon`, :func:`split_cell`, :func:`merge_cells`,
:func:`rebuild_village`) lock the ``grid_plan`` row (``SELECT ... FOR UPDATE``), refuse a
stale ``expected_version`` with :class:`StaleVersionError` (so two planners never silently
overwrite each other), load only the affected village (its households, outline, cells and
assignment), apply the pure edit of :mod:`geo.grids` (which re-tessellates that village),
write back that village's cells and assignments (delete + COPY), re-check the village's rules
and recompute the plan metrics from the stored cell figures.

Every function takes an SQLAlchemy ``Connection`` with a transaction open and works inside
it; the caller commits (``with engine.begin() as conn: ...``).  Reading and writing cells and
assignments, the publication checks and the queries behind :func:`plan_metrics_from_db` are
in :mod:`geo.db.plan_store`.

Why some figures are computed here and not by :mod:`geo.grids`: after an edit only one
village is in memory, so the plan-level metrics (:func:`plan_metrics_from_db`) are recomputed
from the per-cell columns stored in ``grid_cell`` with the same definitions as
:attr:`geo.grids.GridPlan.metrics` (a test checks that both agree on a freshly built plan).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo import grids, profiles
from geo.db import io, plan_store
from geo.errors import ConfigError, DataError, PlanError, StaleVersionError

PLAN_OPS = ("move", "move_polygon", "split", "merge", "rebuild")
OP_ARGUMENTS = {
    "move": ("household_codes", "to_cell"),
    "move_polygon": ("polygon", "to_cell"),
    "split": ("cell_code",),
    "merge": ("a", "b"),
    "rebuild": ("village_code",),
}
METRIC_KEYS = (
    "cells",
    "households",
    "residents",
    "villages",
    "share_within_bounds",
    "mean_pp",
    "min_size",
    "median_size",
    "max_size",
    "cells_flagged",
    "cells_non_contiguous",
    "villages_infeasible",
    "natural_units",
    "natural_units_split",
)
"""Plan-level metrics, in display order (the keys of :attr:`geo.grids.GridPlan.metrics`)."""
DEFAULT_BOUNDS = (30, 50)
CELL_TOLERANCE_M = 1.0
"""How far (metres) a cell may stick out of its village before publishing refuses it."""


@dataclass(frozen=True)
class StoredPlan:
    """A plan as stored: its row in ``grid_plan`` and the :class:`~geo.grids.GridPlan`.

    ``plan.inputs`` holds the county's households and villages when loaded with
    ``attach=True`` (needed by :func:`geo.grids.check_plan` and the pure edits).
    """

    id: int
    name: str
    county_code: str
    status: str
    version: int
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime | None
    published_at: datetime | None
    plan: grids.GridPlan


@dataclass(frozen=True)
class EditResult:
    """What an edit did.

    Attributes
    ----------
    plan_id, version : int
        The plan and its new version (pass it as ``expected_version`` to the next edit).
    op, village_code : str
        The operation and the one village it re-tessellated.
    metrics : dict
        Plan-level metrics after the edit (same keys as :attr:`geo.grids.GridPlan.metrics`).
    village_metrics : dict
        The same figures for the edited village alone.
    violations : DataFrame
        Rule violations in the edited village (:func:`geo.grids.check_plan`); empty if clean.
    cells : GeoDataFrame
        The village's new cells (EPSG:4326, :data:`geo.grids.CELL_COLUMNS`).
    seconds : float
        Wall-clock time of the edit.
    """

    plan_id: int
    version: int
    op: str
    village_code: str
    metrics: dict
    village_metrics: dict
    violations: pd.DataFrame
    cells: gpd.GeoDataFrame
    seconds: float


# --------------------------------------------------------------------------- county, build


def county_code_of(conn: Connection, county_code: str | None = None) -> str:
    """The county to work on: ``county_code`` if it exists, else the only county stored.

    Raises
    ------
    DataError
        No such county, no county at all, or several counties and none named.
    """
    codes = list(
        conn.execute(text("SELECT code FROM admin_unit WHERE level = 'county' ORDER BY code"))
        .scalars()
        .all()
    )
    if county_code is not None:
        if county_code not in codes:
            known = ", ".join(codes) or "none"
            raise DataError(f"no county {county_code} in the database (counties: {known})")
        return county_code
    if not codes:
        raise DataError("no county in the database; run `wangge synth` or `wangge load` first")
    if len(codes) > 1:
        raise DataError(f"several counties in the database ({', '.join(codes)}); name one")
    return codes[0]


def default_bounds(county_code: str) -> tuple[int, int]:
    """Cell bounds (households) of a county: its profile's ``cell_min``/``cell_max``.

    The profile is the one in ``data/profiles/`` with this ``county_code``; counties not
    generated from a profile get :data:`DEFAULT_BOUNDS` (30, 50).
    """
    prof = profiles.profile_of_county(county_code)
    if prof is None:
        return DEFAULT_BOUNDS
    return int(prof.cell_min), int(prof.cell_max)


def build_county_plan(
    conn: Connection,
    *,
    county_code: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    on_village: Callable[[str, int, int], None] | None = None,
    keep_natural_units: bool = True,
) -> grids.GridPlan:
    """Read a county from PostGIS and build a plan of it with :func:`geo.grids.build_plan`.

    Bounds default to :func:`default_bounds`.  The plan is not saved (see :func:`save_plan`);
    ``plan.params["county_code"]`` is set to the county's code.
    """
    code = county_code_of(conn, county_code)
    lo, hi = _bounds(code, min_size, max_size)
    households = io.read_households(conn, under=code)
    naturals = io.read_admin(conn, "natural_unit", under=code)
    villages = io.read_admin(conn, "village", under=code)
    if households.empty:
        raise DataError(f"county {code} has no households in the database")
    plan = grids.build_plan(
        households,
        naturals,
        villages,
        min_size=lo,
        max_size=hi,
        seed=seed,
        n_jobs=n_jobs,
        on_village=on_village,
        keep_natural_units=keep_natural_units,
    )
    plan.params["county_code"] = code
    return plan


# --------------------------------------------------------------------------- save, load, list


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
    """
    county_code_of(conn, county_code)
    if not name or not name.strip():
        raise ConfigError("a plan needs a non-empty name")
    existing = conn.execute(
        text("SELECT id, status FROM grid_plan WHERE county_code = :c AND name = :n"),
        {"c": county_code, "n": name},
    ).first()
    if existing is not None:
        raise PlanError(
            f"county {county_code} already has a plan named {name!r} "
            f"(id {existing.id}, {existing.status}); choose another name"
        )
    params = {**plan.params, "county_code": county_code}
    plan_id = conn.execute(
        text(
            "INSERT INTO grid_plan (county_code, name, status, version, parent_plan_id, "
            "min_size, max_size, created_by, metrics, params) VALUES (:c, :n, 'draft', 1, "
            ":parent, :lo, :hi, :by, CAST(:m AS jsonb), CAST(:p AS jsonb)) RETURNING id"
        ),
        {
            "c": county_code,
            "n": name,
            "parent": parent_plan_id,
            "lo": int(params["min_size"]),
            "hi": int(params["max_size"]),
            "by": created_by,
            "m": _json(plan.metrics),
            "p": _json(params),
        },
    ).scalar_one()
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
    return int(plan_id)


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
        Plan id, or plan name (a name made only of digits that matches no plan is taken
        as an id).
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
    """
    row = _plan_row(conn, plan_ref, county_code=county_code)
    cells = plan_store.read_cells(conn, row.id)
    params = _params(row)
    if attach:
        households = io.read_households(conn, under=row.county_code)
        villages = io.read_admin(conn, "village", under=row.county_code)
        assignment = plan_store.assignment_for(conn, row.id, households)
        params.setdefault("metric_crs", grids.metric_crs(villages).to_string())
        plan = grids.GridPlan(cells, assignment, _ordered(row.metrics), params)
        plan = plan.attach(households, villages)
    else:
        assignment = pd.read_sql(
            text(
                "SELECT a.household_code, a.cell_code, h.village_code, h.natural_unit_code "
                "FROM cell_assignment a JOIN household h ON h.code = a.household_code "
                "WHERE a.plan_id = :p ORDER BY a.household_code"
            ),
            conn,
            params={"p": row.id},
        )
        plan = grids.GridPlan(cells, assignment, _ordered(row.metrics), params)
    return _stored(row, plan)


def describe_plan(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None
) -> dict[str, Any]:
    """The ``grid_plan`` row of a plan as a dict (no cells or assignment read: cheap).

    Keys: ``id``, ``name``, ``county_code``, ``status``, ``version``, ``min_size``,
    ``max_size``, ``created_by``, ``created_at``, ``updated_by``, ``updated_at``,
    ``published_at``, ``metrics``, ``params``.
    """
    row = _plan_row(conn, plan_ref, county_code=county_code)
    out = dict(row._mapping)
    out["metrics"] = _ordered(out["metrics"])
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
    frame = pd.read_sql(
        text(
            "SELECT p.id, p.county_code, p.name, p.status, p.version, p.min_size, p.max_size, "
            "(SELECT count(*) FROM grid_cell c WHERE c.plan_id = p.id) AS cells, "
            "(SELECT count(*) FROM cell_assignment a WHERE a.plan_id = p.id) AS households, "
            "CAST(p.metrics ->> 'share_within_bounds' AS double precision) "
            "AS share_within_bounds, "
            "p.created_at, p.created_by, p.updated_at, p.updated_by, p.published_at "
            "FROM grid_plan p WHERE p.county_code LIKE :c ORDER BY p.id DESC"
        ),
        conn,
        params={"c": f"{county_code or ''}%"},
    )
    return frame


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
    """
    row = _plan_row(conn, plan_ref, county_code=county_code)
    clash = conn.execute(
        text("SELECT id FROM grid_plan WHERE county_code = :c AND name = :n"),
        {"c": row.county_code, "n": name},
    ).first()
    if clash is not None:
        raise PlanError(f"county {row.county_code} already has a plan named {name!r}")
    new_id = conn.execute(
        text(
            "INSERT INTO grid_plan (county_code, name, status, version, parent_plan_id, "
            "min_size, max_size, created_by, metrics, params) SELECT county_code, :n, 'draft', "
            "1, id, min_size, max_size, :by, metrics, params FROM grid_plan WHERE id = :p "
            "RETURNING id"
        ),
        {"n": name, "by": by, "p": row.id},
    ).scalar_one()
    cols = ", ".join(plan_store.CELL_DB_COLUMNS)
    conn.execute(
        text(
            f"INSERT INTO grid_cell (plan_id, {cols}, geom) SELECT :new, {cols}, geom "
            "FROM grid_cell WHERE plan_id = :p"
        ),
        {"new": new_id, "p": row.id},
    )
    conn.execute(
        text(
            "INSERT INTO cell_assignment (plan_id, household_code, cell_code) "
            "SELECT :new, household_code, cell_code FROM cell_assignment WHERE plan_id = :p"
        ),
        {"new": new_id, "p": row.id},
    )
    return int(new_id)


# --------------------------------------------------------------------------- edits


def edit_plan(
    conn: Connection,
    plan_ref: int | str,
    *,
    expected_version: int,
    op: str,
    by: str,
    county_code: str | None = None,
    **args: Any,
) -> EditResult:
    """Apply one edit to a draft plan, re-tessellating only the affected village.

    Parameters
    ----------
    plan_ref : int or str
        Plan id or name.
    expected_version : int
        The version the edit was made against; anything else is refused.
    op : str
        One of :data:`PLAN_OPS`, with its arguments (:data:`OP_ARGUMENTS`):

        * ``"move"``: ``household_codes`` (iterable of str), ``to_cell``;
        * ``"move_polygon"``: ``polygon`` (shapely geometry in EPSG:4326, or a GeoSeries /
          GeoDataFrame in any CRS), ``to_cell``: the households of ``to_cell``'s village
          whose point lies in the polygon;
        * ``"split"``: ``cell_code``, ``k`` (default 2);
        * ``"merge"``: ``a``, ``b`` (adjacent cells of one village; the smaller code stays);
        * ``"rebuild"``: ``village_code``, optional ``min_size``/``max_size`` (remembered
          for that village in ``params["village_bounds"]``).
    by : str
        Who makes the edit (stored as ``updated_by``).

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
        Unknown ``op`` or missing arguments.
    DataError
        Unknown households or cells, households of another village, cells not adjacent ...
    """
    started = time.perf_counter()
    if op not in PLAN_OPS:
        raise ConfigError(f"unknown edit {op!r}; expected one of {', '.join(PLAN_OPS)}")
    missing = [a for a in OP_ARGUMENTS[op] if a not in args]
    if missing:
        raise ConfigError(f"edit {op!r} needs argument(s) {', '.join(missing)}")
    row = _lock_draft(conn, plan_ref, expected_version, county_code=county_code)
    params = _params(row)
    village = _village_of_edit(conn, row.id, op, args)
    if op == "rebuild":
        lo, hi = _village_bounds(params, village)
        lo = lo if args.get("min_size") is None else int(args["min_size"])
        hi = hi if args.get("max_size") is None else int(args["max_size"])
        params.setdefault("village_bounds", {})[village] = [lo, hi]
    sub = _village_plan(conn, row.id, village, params)
    new = _apply(sub, op, args)
    violations = grids.check_plan(new, new.inputs.households, villages=new.inputs.villages)
    plan_store.replace_village_rows(conn, row.id, village, new)
    metrics = plan_metrics_from_db(conn, row.id, params=params)
    version = conn.execute(
        text(
            "UPDATE grid_plan SET version = version + 1, updated_at = now(), updated_by = :by, "
            "metrics = CAST(:m AS jsonb), params = CAST(:p AS jsonb) WHERE id = :id "
            "RETURNING version"
        ),
        {"by": by, "m": _json(metrics), "p": _json(params), "id": row.id},
    ).scalar_one()
    return EditResult(
        plan_id=int(row.id),
        version=int(version),
        op=op,
        village_code=village,
        metrics=metrics,
        village_metrics={k: v for k, v in new.metrics.items() if k != "seconds"},
        violations=violations,
        cells=new.cells,
        seconds=time.perf_counter() - started,
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
    return edit_plan(
        conn,
        plan_ref,
        expected_version=expected_version,
        op="move",
        by=by,
        household_codes=list(household_codes),
        to_cell=to_cell,
    )


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
    return edit_plan(
        conn,
        plan_ref,
        expected_version=expected_version,
        op="move_polygon",
        by=by,
        polygon=polygon,
        to_cell=to_cell,
    )


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
    return edit_plan(
        conn,
        plan_ref,
        expected_version=expected_version,
        op="split",
        by=by,
        cell_code=cell_code,
        k=k,
    )


def merge_cells(
    conn: Connection, plan_ref: int | str, a: str, b: str, *, expected_version: int, by: str
) -> EditResult:
    """Merge two adjacent cells of one village; see :func:`edit_plan`."""
    return edit_plan(conn, plan_ref, expected_version=expected_version, op="merge", by=by, a=a, b=b)


def rebuild_village(
    conn: Connection,
    plan_ref: int | str,
    village_code: str,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    expected_version: int,
    by: str,
) -> EditResult:
    """Regenerate one village's cells, optionally with other bounds; see :func:`edit_plan`."""
    return edit_plan(
        conn,
        plan_ref,
        expected_version=expected_version,
        op="rebuild",
        by=by,
        village_code=village_code,
        min_size=min_size,
        max_size=max_size,
    )


# --------------------------------------------------------------------------- check, diff, publish


def check_stored_plan(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None
) -> tuple[StoredPlan, pd.DataFrame]:
    """Load a plan with its county and list its rule violations (:func:`geo.grids.check_plan`).

    Returns
    -------
    (StoredPlan, DataFrame)
        The plan and its violations (``rule``, ``cell_code``, ``household_code``,
        ``detail``; empty when clean).
    """
    stored = load_plan(conn, plan_ref, county_code=county_code, attach=True)
    plan = stored.plan
    return stored, grids.check_plan(plan, plan.inputs.households, villages=plan.inputs.villages)


def diff_plans(
    conn: Connection, a: int | str, b: int | str, *, county_code: str | None = None
) -> grids.PlanDiff:
    """What changed from plan ``a`` to plan ``b`` (:func:`geo.grids.plan_diff`)."""
    pa = load_plan(conn, a, county_code=county_code, attach=False)
    pb = load_plan(conn, b, county_code=county_code, attach=False)
    return grids.plan_diff(pa.plan, pb.plan)


def publication_faults(conn: Connection, plan_id: int) -> list[str]:
    """Why plan ``plan_id`` cannot be published (empty list: it can), checked in SQL.

    Every household of the county must have exactly one assignment in the plan, in a cell
    of its own village, and every cell must lie inside its village.  The last check is
    ``ST_CoveredBy`` in the plan's metric CRS (the UTM zone the cells were cut in, from
    ``params["metric_crs"]``) with a tolerance of :data:`CELL_TOLERANCE_M` metres: a long
    straight village edge is straight in that CRS, not in EPSG:4326, so checking in degrees
    would refuse slivers that are artefacts of the storage CRS.
    """
    row = _plan_row(conn, plan_id)
    return plan_store.publication_faults(
        conn,
        row.id,
        county_code=row.county_code,
        srid=_metric_srid(conn, row),
        tolerance_m=CELL_TOLERANCE_M,
    )


def _metric_srid(conn: Connection, row: Any) -> int:
    """EPSG code of the plan's metric CRS (else the UTM zone of its county)."""
    from pyproj import CRS

    name = (row.params or {}).get("metric_crs")
    if name is None:
        county = io.read_admin(conn, "county", under=row.county_code)
        return int(grids.metric_crs(county).to_epsg())
    epsg = CRS.from_user_input(name).to_epsg()
    if epsg is None:
        raise DataError(f"plan {row.name!r} has a metric CRS without an EPSG code: {name}")
    return int(epsg)


def publish_plan(
    conn: Connection,
    plan_ref: int | str,
    *,
    by: str,
    expected_version: int | None = None,
    county_code: str | None = None,
) -> int | None:
    """Publish a draft, archiving the county's previously published plan.

    Returns
    -------
    int or None
        Id of the plan archived, or None if the county had no published plan.

    Raises
    ------
    PlanError
        The plan is not a draft, or has households unassigned or assigned twice, or cells
        outside their village (the message names the first ones and how many).
    StaleVersionError
        ``expected_version`` given and not the stored version.
    """
    row = _plan_row(conn, plan_ref, county_code=county_code, lock=True)
    _require_draft(row, expected_version, action="published")
    faults = publication_faults(conn, row.id)
    if faults:
        raise PlanError(f"plan {row.name!r} cannot be published: " + "; ".join(faults))
    archived = conn.execute(
        text(
            "UPDATE grid_plan SET status = 'archived', archived_at = now(), updated_at = now(), "
            "updated_by = :by WHERE county_code = :c AND status = 'published' RETURNING id"
        ),
        {"c": row.county_code, "by": by},
    ).scalar_one_or_none()
    conn.execute(
        text(
            "UPDATE grid_plan SET status = 'published', published_at = now(), "
            "updated_at = now(), updated_by = :by WHERE id = :id"
        ),
        {"id": row.id, "by": by},
    )
    return None if archived is None else int(archived)


def plan_metrics_from_db(
    conn: Connection, plan_id: int, *, params: dict | None = None
) -> dict[str, float | int]:
    """Plan-level metrics recomputed from the stored cells and assignment.

    Same keys and definitions as :attr:`geo.grids.GridPlan.metrics` (without ``seconds``);
    ``villages_infeasible`` honours per-village bounds in ``params["village_bounds"]``.
    """
    if params is None:
        params = _params(_plan_row(conn, plan_id))
    cells = plan_store.cell_figures(conn, plan_id)
    per_village = plan_store.households_per_village(conn, plan_id)
    nus = plan_store.cells_per_natural_unit(conn, plan_id)
    size = cells["households"].to_numpy()
    has = len(size) > 0
    infeasible = 0
    for v, n in zip(per_village["village_code"], per_village["n"], strict=True):
        lo, hi = _village_bounds(params, v)
        infeasible += not grids.is_village_feasible(int(n), lo, hi)
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
        "natural_units": len(nus),
        "natural_units_split": int((nus["cells"] > 1).sum()),
    }


# --------------------------------------------------------------------------- helpers


def _bounds(county_code: str, min_size: int | None, max_size: int | None) -> tuple[int, int]:
    lo, hi = default_bounds(county_code)
    return (lo if min_size is None else int(min_size), hi if max_size is None else int(max_size))


def _village_bounds(params: dict, village_code: str) -> tuple[int, int]:
    override = (params.get("village_bounds") or {}).get(str(village_code))
    if override:
        return int(override[0]), int(override[1])
    return int(params["min_size"]), int(params["max_size"])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _ordered(metrics: dict | None) -> dict:
    """Stored metrics (JSONB does not keep key order) in :data:`METRIC_KEYS` order."""
    metrics = dict(metrics or {})
    known = {k: metrics.pop(k) for k in METRIC_KEYS if k in metrics}
    return {**known, **metrics}


def _json(value: dict) -> str:
    return json.dumps(_jsonable(value))


def _params(row: Any) -> dict:
    params = dict(row.params or {})
    params.setdefault("min_size", int(row.min_size))
    params.setdefault("max_size", int(row.max_size))
    params.setdefault("county_code", row.county_code)
    params.setdefault("seed", 0)
    return params


_PLAN_COLUMNS = (
    "id, name, county_code, status, version, min_size, max_size, created_by, created_at, "
    "updated_by, updated_at, published_at, metrics, params"
)


def _plan_row(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None, lock: bool = False
) -> Any:
    """The ``grid_plan`` row of a plan id or name (locked FOR UPDATE if asked)."""
    suffix = " FOR UPDATE" if lock else ""
    rows: list = []
    if isinstance(plan_ref, str):
        rows = conn.execute(
            text(
                f"SELECT {_PLAN_COLUMNS} FROM grid_plan WHERE name = :n "
                f"AND county_code LIKE :c ORDER BY id{suffix}"
            ),
            {"n": plan_ref, "c": f"{county_code or ''}%"},
        ).all()
        if len(rows) > 1:
            counties = ", ".join(r.county_code for r in rows)
            raise PlanError(
                f"several plans are named {plan_ref!r} (counties {counties}); name the county"
            )
    if not rows and (isinstance(plan_ref, int) or str(plan_ref).isdigit()):
        rows = conn.execute(
            text(f"SELECT {_PLAN_COLUMNS} FROM grid_plan WHERE id = :i{suffix}"),
            {"i": int(plan_ref)},
        ).all()
    if not rows:
        raise PlanError(f"no plan {plan_ref!r}; `wangge grids list` shows the plans")
    return rows[0]


def _stored(row: Any, plan: grids.GridPlan) -> StoredPlan:
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


def _require_draft(row: Any, expected_version: int | None, *, action: str) -> None:
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


def _lock_draft(
    conn: Connection, plan_ref: int | str, expected_version: int, *, county_code: str | None
) -> Any:
    if expected_version is None:
        raise ConfigError("an edit needs expected_version (the plan version it was made on)")
    row = _plan_row(conn, plan_ref, county_code=county_code, lock=True)
    _require_draft(row, expected_version, action="edited")
    return row


def _village_of_edit(conn: Connection, plan_id: int, op: str, args: dict) -> str:
    """The one village an edit touches (and early, clear errors for cross-village edits)."""
    if op == "rebuild":
        code = str(args["village_code"])
        n = conn.execute(
            text("SELECT count(*) FROM household WHERE village_code = :v"), {"v": code}
        ).scalar_one()
        if n == 0:
            raise DataError(f"village {code!r} has no households in the database")
        return code
    if op == "merge":
        found = plan_store.cell_villages(conn, plan_id, [args["a"], args["b"]])
        va, vb = found[args["a"]], found[args["b"]]
        if va != vb:
            raise DataError(
                f"cells {args['a']} and {args['b']} are in different villages ({va}, {vb}); "
                "cells never cross a village boundary"
            )
        return va
    if op == "split":
        return plan_store.cell_villages(conn, plan_id, [args["cell_code"]])[args["cell_code"]]
    village = plan_store.cell_villages(conn, plan_id, [args["to_cell"]])[args["to_cell"]]
    if op == "move":
        codes = [str(c) for c in args["household_codes"]]
        if not codes:
            raise DataError("no households to move")
        rows = conn.execute(
            text(
                "SELECT code, village_code FROM household WHERE code = ANY(CAST(:codes AS text[]))"
            ),
            {"codes": codes},
        ).all()
        where = {r.code: r.village_code for r in rows}
        unknown = [c for c in codes if c not in where]
        if unknown:
            raise DataError(f"unknown household(s): {', '.join(unknown[:10])}")
        other = [c for c in codes if where[c] != village]
        if other:
            raise DataError(
                f"households {', '.join(other[:10])} are not in village {village} of cell "
                f"{args['to_cell']}; cells never cross a village boundary"
            )
    return village


def _apply(sub: grids.GridPlan, op: str, args: dict) -> grids.GridPlan:
    if op == "move":
        return grids.move_households(sub, args["household_codes"], args["to_cell"])
    if op == "move_polygon":
        picked = grids.households_in_polygon(sub.inputs.households, args["polygon"])
        if picked.empty:
            raise DataError(f"no household of cell {args['to_cell']}'s village in the polygon")
        return grids.move_households(sub, picked.tolist(), args["to_cell"])
    if op == "split":
        return grids.split_cell(sub, args["cell_code"], int(args.get("k", 2)))
    if op == "merge":
        return grids.merge_cells(sub, args["a"], args["b"])
    lo, hi = _village_bounds(sub.params, args["village_code"])
    return grids.rebuild_village(sub, str(args["village_code"]), min_size=lo, max_size=hi)


def _village_plan(conn: Connection, plan_id: int, village: str, params: dict) -> grids.GridPlan:
    """One village of a stored plan as a GridPlan with its inputs attached."""
    households = io.read_frame(
        conn,
        "SELECT code, natural_unit_code, village_code, residents, residents_at_home, colour, "
        "geom FROM household WHERE village_code = :v ORDER BY code",
        params={"v": village},
    )
    villages = io.read_frame(
        conn,
        "SELECT code, name, parent_code, kind, geom FROM admin_unit "
        "WHERE level = 'village' AND code = :v",
        params={"v": village},
    )
    if villages.empty:
        raise DataError(f"unknown village {village!r}")
    cells = plan_store.read_cells(conn, plan_id, village=village)
    assignment = plan_store.assignment_for(conn, plan_id, households)
    lo, hi = _village_bounds(params, village)
    sub_params = {**params, "min_size": lo, "max_size": hi}
    sub_params.pop("village_bounds", None)
    sub_params.setdefault("metric_crs", grids.metric_crs(villages).to_string())
    return grids.GridPlan(cells, assignment, {}, sub_params).attach(households, villages)
