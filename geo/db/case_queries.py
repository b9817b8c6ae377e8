"""Read queries behind the centre's pages: cases, where they wait, how long each step takes.

The centre's staff see cases (an incident with its chain of moves), never a household's
details: no query here returns a household code, a name or a five-colour status.  Every
value is bound; the only text put into a statement is the fixed list of done states.

Times come back timezone-aware (UTC); durations are hours.  All queries take a county code
(its 6-digit prefix is matched against the incident's township) and read committed data
only, so a page may call them on an ``Engine``.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.db import centre_store
from geo.db.io import read_frame
from geo.db.models import INCIDENT_DONE_STATES, INCIDENT_STATES

__all__ = [
    "CASE_COLUMNS",
    "DONE_STATES",
    "case_cell",
    "case_detail",
    "case_list",
    "categories",
    "grid_workers",
    "incidents_in_period",
    "open_queue",
    "platforms",
    "step_durations",
]

#: States in which the work on a case is done (:data:`geo.db.models.INCIDENT_DONE_STATES`,
#: which ``geo.incidents.DONE_STATES`` is too; a test checks the two agree).
DONE_STATES = INCIDENT_DONE_STATES

#: Columns of :func:`case_list`, in order.
CASE_COLUMNS = (
    "id", "client_key", "category_code", "category", "platform_code", "platform", "source",
    "status", "tier", "township_code", "township", "village_code", "cell_code",
    "reported_at", "due_at", "last_move_at", "hours_at_step", "hours_overdue", "overdue",
    "open",
)  # fmt: skip


def platforms(con: Connection | Engine) -> pd.DataFrame:
    """The county's platforms ("N platforms"): code, name, name_en, ordered by code."""
    return pd.read_sql(text("SELECT code, name, name_en FROM platform ORDER BY code"), con)


def categories(con: Connection | Engine) -> pd.DataFrame:
    """Incident categories: code, name, platform_code, due_hours, ordered by code."""
    return pd.read_sql(
        text("SELECT code, name, platform_code, due_hours FROM incident_category ORDER BY code"),
        con,
    )


def incidents_in_period(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """Incidents of a county reported in ``[start, end)``, one row each, no household.

    Columns: id, category_code, platform_code, source, status, tier, reported_at (UTC),
    cell_code, village_code, township_code, lon, lat (EPSG:4326).  Coordinates come back as
    numbers, not geometries, which reads a year of a county (~120,000 rows) several times
    faster than a GeoDataFrame; build points with ``geopandas.points_from_xy``.
    """
    frame = pd.read_sql(
        text(
            "SELECT id, category_code, platform_code, source, status, tier, reported_at, "
            "cell_code, village_code, township_code, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM incident WHERE township_code LIKE :county "
            "AND reported_at >= :start AND reported_at < :end AND geom IS NOT NULL ORDER BY id"
        ),
        con,
        params={"county": f"{county_code}%", "start": start, "end": end},
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    return frame


def case_list(
    con: Connection | Engine,
    county_code: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    at: datetime,
    open_only: bool = False,
    limit: int = 5000,
) -> pd.DataFrame:
    """Cases of a county with where each one stands at ``at``.

    Parameters
    ----------
    start, end
        Cases reported in ``[start, end)`` (either may be None: unbounded).  Open cases
        reported before ``start`` are included too when ``open_only`` is set, because a
        case still waiting matters whenever it was reported.
    at
        "Now": hours at the current step and overdue are measured to it.
    open_only
        Only cases not yet resolved, fed back or closed.
    limit
        At most this many rows, most overdue (then longest waiting) first.

    Returns
    -------
    pandas.DataFrame
        :data:`CASE_COLUMNS`: the case, its category and platform (codes and names), its
        state and tier, where it was placed, when it was reported, due and last moved,
        ``hours_at_step`` (since the last move; None once done), ``hours_overdue``
        (positive when an open case is past due, else None), ``overdue`` and ``open``.
    """
    query = """
        WITH c AS (
            SELECT i.id, i.client_key, i.category_code, k.name AS category, i.platform_code,
                   p.name AS platform, i.source, i.status, i.tier, i.township_code,
                   t.name AS township, i.village_code, i.cell_code, i.reported_at, i.due_at,
                   last.at AS last_move_at,
                   NOT (i.status = ANY(CAST(:done AS text[]))) AS open
            FROM incident i
            JOIN incident_category k ON k.code = i.category_code
            LEFT JOIN platform p ON p.code = i.platform_code
            LEFT JOIN admin_unit t ON t.code = i.township_code
            CROSS JOIN LATERAL (
                SELECT max(e.at) AS at FROM incident_event e WHERE e.incident_id = i.id
            ) last
            WHERE i.township_code LIKE :county
              AND (
                  ((CAST(:start AS timestamptz) IS NULL OR i.reported_at >= :start)
                   AND (CAST(:end AS timestamptz) IS NULL OR i.reported_at < :end))
                  OR (:open_only AND NOT (i.status = ANY(CAST(:done AS text[]))))
              )
              AND (NOT :open_only OR NOT (i.status = ANY(CAST(:done AS text[]))))
        )
        SELECT c.*,
               CASE WHEN c.open THEN extract(epoch FROM CAST(:at AS timestamptz)
                    - c.last_move_at) / 3600.0 END AS hours_at_step,
               CASE WHEN c.open AND c.due_at < :at THEN extract(epoch FROM
                    CAST(:at AS timestamptz) - c.due_at) / 3600.0 END AS hours_overdue,
               coalesce(c.open AND c.due_at < :at, false) AS overdue
        FROM c
        ORDER BY overdue DESC, hours_overdue DESC NULLS LAST, c.open DESC,
                 hours_at_step DESC NULLS LAST, c.id DESC
        LIMIT :limit
    """
    params = {"county": f"{county_code}%", "start": start, "end": end, "at": at,
              "open_only": open_only, "limit": limit,
              "done": list(DONE_STATES)}  # fmt: skip
    frame = pd.read_sql(text(query), con, params=params)
    for column in ("reported_at", "due_at", "last_move_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame[list(CASE_COLUMNS)]


def case_detail(con: Connection | Engine, incident_id: int) -> gpd.GeoDataFrame:
    """One case with its names and position (no household): empty when there is none.

    Columns: id, client_key, category_code, category, due_hours, platform_code, platform,
    source, status, tier, reported_at, accepted_at, resolved_at, closed_at, due_at,
    satisfaction, description, plan_id, cell_code, village_code, village, township_code,
    township, geometry (the reported point, EPSG:4326).  ``description`` is the reporter's
    free text: show it as text, never as markup.
    """
    return read_frame(
        con,
        """
        SELECT i.id, i.client_key, i.category_code, k.name AS category, k.due_hours,
               i.platform_code, p.name AS platform, i.source, i.status, i.tier,
               i.reported_at, i.accepted_at, i.resolved_at, i.closed_at, i.due_at,
               i.satisfaction, i.description, i.plan_id, i.cell_code, i.village_code,
               v.name AS village, i.township_code, t.name AS township, i.geom
        FROM incident i
        JOIN incident_category k ON k.code = i.category_code
        LEFT JOIN platform p ON p.code = i.platform_code
        LEFT JOIN admin_unit v ON v.code = i.village_code
        LEFT JOIN admin_unit t ON t.code = i.township_code
        WHERE i.id = :id
        """,
        params={"id": int(incident_id)},
    )


def case_cell(con: Connection | Engine, incident_id: int) -> gpd.GeoDataFrame:
    """The cell a case was placed in (code, households, geometry), empty when outside cells."""
    return read_frame(
        con,
        "SELECT g.code, g.households, g.geom FROM incident i "
        "JOIN grid_cell g ON g.plan_id = i.plan_id AND g.code = i.cell_code WHERE i.id = :id",
        params={"id": int(incident_id)},
    )


def open_queue(con: Connection | Engine, county_code: str, *, at: datetime) -> pd.DataFrame:
    """Open cases of a county per platform and state at ``at``: the centre's queues.

    Columns: platform_code, status, tier, cases, overdue (past due at ``at``),
    median_hours_waiting and max_hours_waiting (since the case's last move).  States in
    the order of :data:`geo.db.models.INCIDENT_STATES`.
    """
    frame = centre_store.open_by_state(con, at=at, county_code=county_code)
    frame = frame.rename(columns={"incidents": "cases"})[
        ["platform_code", "status", "tier", "cases", "overdue", "median_hours_waiting",
         "max_hours_waiting"]
    ]  # fmt: skip
    order = {s: k for k, s in enumerate(INCIDENT_STATES)}
    frame["_o"] = frame["status"].map(order)
    return (
        frame.sort_values(["platform_code", "_o", "tier"]).drop(columns="_o").reset_index(drop=True)
    )


def step_durations(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """How long cases stayed in each state before moving on, per platform.

    Every move of a case reported in ``[start, end)`` closes the time spent in the state it
    left (``from_status``): from the previous event to this one.

    Columns: platform_code, step (the state left), moves, median_hours, p90_hours.
    """
    query = """
        WITH ev AS (
            SELECT i.platform_code, e.from_status AS step,
                   extract(epoch FROM e.at - lag(e.at) OVER (
                       PARTITION BY e.incident_id ORDER BY e.at, e.id)) / 3600.0 AS hours
            FROM incident_event e JOIN incident i ON i.id = e.incident_id
            WHERE i.township_code LIKE :county
              AND i.reported_at >= :start AND i.reported_at < :end
        )
        SELECT platform_code, step, count(*) AS moves,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours
        FROM ev WHERE step IS NOT NULL AND hours IS NOT NULL
        GROUP BY 1, 2
    """
    frame = pd.read_sql(
        text(query), con, params={"county": f"{county_code}%", "start": start, "end": end}
    )
    order = {s: k for k, s in enumerate(INCIDENT_STATES)}
    frame["_o"] = frame["step"].map(order)
    return frame.sort_values(["platform_code", "_o"]).drop(columns="_o").reset_index(drop=True)


def grid_workers(con: Connection | Engine, county_code: str) -> pd.DataFrame:
    """The county's grid workers and their cells: code, name, township_code, cell_code."""
    return pd.read_sql(
        text(
            "SELECT code, name, township_code, cell_code FROM grid_worker "
            "WHERE township_code LIKE :county ORDER BY code"
        ),
        con,
        params={"county": f"{county_code}%"},
    )
