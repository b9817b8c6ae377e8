"""Check, compare and publish stored plans."""

from __future__ import annotations

import pandas as pd
from pyproj import CRS
from sqlalchemy import Connection

from geo import grids
from geo.db import io, plan_store
from geo.db import scope as db_scope
from geo.db.models import INCIDENT_DONE_STATES
from geo.db.plan_store import PlanRow
from geo.errors import DataError, PlanError
from geo.plans._store import load_plan, params_of, require_draft
from geo.plans._types import CELL_TOLERANCE_M, Publication, StoredPlan


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
    ``params.metric_crs``) with a tolerance of :data:`CELL_TOLERANCE_M` metres: a long
    straight village edge is straight in that CRS, not in EPSG:4326, so checking in degrees
    would refuse slivers that are artefacts of the storage CRS.
    """
    row = plan_store.find_plan(conn, plan_id)
    return plan_store.publication_faults(
        conn,
        row.id,
        county_code=row.county_code,
        srid=_metric_srid(conn, row),
        tolerance_m=CELL_TOLERANCE_M,
    )


def _metric_srid(conn: Connection, row: PlanRow) -> int:
    """EPSG code of the plan's metric CRS (else the UTM zone of its county)."""
    name = params_of(row).metric_crs
    if name is None:
        county = io.read_admin(conn, "county", under=row.county_code)
        return int(grids.metric_crs(county).to_epsg())
    epsg = CRS.from_user_input(name).to_epsg()
    if epsg is None:
        raise DataError(f"plan {row.name!r} has a metric CRS without an EPSG code: {name}")
    return int(epsg)


def _require_whole_county(row: PlanRow) -> None:
    """Refuse to publish from a scope of one unit (a township, a village) of the county."""
    seen = db_scope.effective()
    if seen.code not in (db_scope.SYSTEM, db_scope.NOBODY, row.county_code):
        who = f"{seen.login}'s" if seen.login else "this"
        raise PlanError(
            f"plan {row.name!r} cannot be published from {who} scope {seen.code!r}: "
            "publishing checks and re-joins the whole county; use an account without a "
            "township"
        )


def publish_plan(
    conn: Connection,
    plan_ref: int | str,
    *,
    by: str,
    expected_version: int | None = None,
    county_code: str | None = None,
) -> Publication:
    """Publish a draft, archiving the county's previously published plan, and re-join
    workers and open incidents to the new cells, all in the caller's transaction.

    Re-joining (recorded in ``plan_rejoin``, so history keeps the old cell):

    - each grid worker posted to a cell of the previously published plan is posted to the
      new plan's cell holding most of that old cell's households (ties: the lowest cell
      code; a worker whose old cell kept no household stays where it was);
    - each open incident (status not in :data:`geo.db.models.INCIDENT_DONE_STATES`) of the
      old plan, or of no plan in the county, gets the new plan's cell containing its point
      (on a shared edge the lowest code), else its household's new cell, else keeps its
      cell.  Done incidents keep the cell they were handled in.

    Returns
    -------
    Publication
        The plan published, the plan archived (None if the county had none) and how many
        workers and incidents were re-joined.

    Raises
    ------
    PlanError
        The plan is not a draft, or has households unassigned or assigned twice, or cells
        outside their village (the message names the first ones and how many), or the
        transaction's row-level-security scope does not cover the whole county (its checks
        and re-joins would see only part of it).
    StaleVersionError
        ``expected_version`` given and not the stored version.
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code, lock=True)
    require_draft(row, expected_version, action="published")
    _require_whole_county(row)
    faults = publication_faults(conn, row.id)
    if faults:
        raise PlanError(f"plan {row.name!r} cannot be published: " + "; ".join(faults))
    archived = plan_store.publish_row(conn, row.id, county_code=row.county_code, by=by)
    workers = 0
    if archived is not None:
        workers = plan_store.rejoin_workers(conn, archived, row.id, by=by)
    incidents = plan_store.rejoin_incidents(
        conn, archived, row.id, county_code=row.county_code, done_states=INCIDENT_DONE_STATES,
        by=by,
    )  # fmt: skip
    return Publication(int(row.id), archived, workers, incidents)


def plan_rejoins(
    conn: Connection, plan_ref: int | str, *, county_code: str | None = None
) -> pd.DataFrame:
    """The workers and incidents that publishing the plan re-joined to its cells.

    Returns
    -------
    DataFrame
        ``kind`` (worker, incident), ``key`` (worker code, incident id), ``township_code``,
        ``old_plan_id``, ``old_cell_code``, ``new_plan_id``, ``new_cell_code``, ``at``,
        ``by``; by kind and key.
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    return plan_store.plan_rejoins(conn, row.id)


def rejoin_preview(
    conn: Connection, plan_ref: int | str, village_code: str, *, county_code: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The workers and open incidents of one village whose cell publishing ``plan_ref``
    would change, against the county's published plan (nothing written).

    A worker's or incident's cell changes when publishing would put it in a cell of
    another code, or in a cell with other households than its cell now (the rules of
    :func:`publish_plan`).

    Returns
    -------
    (DataFrame, DataFrame)
        Workers (``code``, ``name``, ``cell_now``, ``cell_after``) and open incidents
        (``id``, ``status``, ``category_code``, ``cell_now``, ``cell_after``) affected; empty
        when the county has no published plan or ``plan_ref`` is it.
    """
    row = plan_store.find_plan(conn, plan_ref, county_code=county_code)
    published = plan_store.published_plan_of(conn, row.county_code)
    if published is None or published == row.id:
        return _no_workers(), _no_incidents()
    workers = plan_store.rejoin_preview_workers(conn, published, row.id, village_code)
    found = plan_store.rejoin_preview_incidents(
        conn, published, row.id, village_code, done_states=INCIDENT_DONE_STATES
    )
    changed = _changed_cells(conn, published, row.id, village_code)
    return _affected(workers, changed), _affected(found, changed)


def _affected(frame: pd.DataFrame, changed: set[str]) -> pd.DataFrame:
    after = frame["cell_after"].fillna(frame["cell_now"])
    hit = after.ne(frame["cell_now"]) | frame["cell_now"].isin(changed)
    return frame.assign(cell_after=after).loc[hit].reset_index(drop=True)


def _changed_cells(conn: Connection, old: int, new: int, village_code: str) -> set[str]:
    """Cells of plan ``old`` in the village whose households are not one cell of ``new``
    under the same code."""
    households = plan_store.village_households(conn, village_code)
    a = plan_store.assignment_for(conn, old, households).set_index("household_code")
    b = plan_store.assignment_for(conn, new, households).set_index("household_code")
    pair = pd.DataFrame({"old": a["cell_code"], "new": b["cell_code"]})
    moved_out = set(pair.loc[pair["old"].ne(pair["new"]) & pair["old"].notna(), "old"])
    moved_in = set(pair.loc[pair["old"].ne(pair["new"]) & pair["new"].notna(), "new"])
    return moved_out | moved_in


def _no_workers() -> pd.DataFrame:
    return pd.DataFrame(columns=["code", "name", "cell_now", "cell_after"])


def _no_incidents() -> pd.DataFrame:
    return pd.DataFrame(columns=["id", "status", "category_code", "cell_now", "cell_after"])
