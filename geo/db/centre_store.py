"""The SQL of the centre's numbers (used by :mod:`geo.centre`).

Aggregates over incidents, events, households and visits are computed in the server, one
query each, and come back as pandas DataFrames; :mod:`geo.centre` shapes them (ordering,
pivoting, small-count suppression). Five-colour changes are written here too, the household
row and its history in the caller's transaction.

Values are always bound; the per-state column names of :func:`platform_daily` are quoted by
the dialect. Times are timezone-aware; durations are hours; ``tz`` names a time zone
(e.g. ``"Asia/Shanghai"``) for calendar days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, Row, text

from geo.db.models import INCIDENT_DONE_STATES, INCIDENT_STATES

#: The county's published plan unless ``:plan`` names one.
_PLAN = """coalesce(CAST(:plan AS integer),
    (SELECT id FROM grid_plan WHERE status = 'published' AND county_code = :county))"""

# ----------------------------------------------------------------------------------- incidents


def platform_daily(
    con: Connection | Engine, *, start: datetime, end: datetime, at: datetime, tz: str
) -> pd.DataFrame:
    """Per platform, township and day of report (in ``tz``) of incidents reported in
    ``[start, end)``: counts per current state, medians, overdue share at ``at``, mean
    satisfaction, escalation and return events (see :func:`geo.centre.platform_daily`)."""
    quote = con.dialect.identifier_preparer.quote
    states = ", ".join(
        f"count(*) FILTER (WHERE i.status = :state_{k}) AS {quote(f'n_{s}')}"
        for k, s in enumerate(INCIDENT_STATES)
    )
    query = f"""
        WITH ev AS (
            SELECT e.incident_id,
                   count(*) FILTER (WHERE e.to_status = 'escalated') AS escalations,
                   count(*) FILTER (WHERE e.to_status = 'returned') AS returns
            FROM incident_event e JOIN incident i ON i.id = e.incident_id
            WHERE i.reported_at >= :start AND i.reported_at < :end
              AND e.to_status IN ('escalated', 'returned')
            GROUP BY 1
        )
        SELECT i.platform_code, i.township_code,
               CAST(i.reported_at AT TIME ZONE :tz AS date) AS day,
               count(*) AS incidents, {states},
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                   extract(epoch FROM i.accepted_at - i.reported_at) / 3600.0)
                   AS median_hours_to_accept,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                   extract(epoch FROM i.resolved_at - i.reported_at) / 3600.0)
                   AS median_hours_to_resolve,
               avg(CASE WHEN coalesce(i.resolved_at, CAST(:at AS timestamptz)) > i.due_at
                        THEN 1.0 ELSE 0.0 END) AS overdue_share,
               avg(i.satisfaction) AS satisfaction,
               coalesce(sum(ev.escalations), 0) AS escalations,
               coalesce(sum(ev.returns), 0) AS returns
        FROM incident i LEFT JOIN ev ON ev.incident_id = i.id
        WHERE i.reported_at >= :start AND i.reported_at < :end
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    """
    params = {"start": start, "end": end, "at": at, "tz": tz}
    params |= {f"state_{k}": s for k, s in enumerate(INCIDENT_STATES)}
    return pd.read_sql(text(query), con, params=params)


def open_by_state(
    con: Connection | Engine, *, at: datetime, county_code: str | None = None
) -> pd.DataFrame:
    """Open incidents (not in :data:`INCIDENT_DONE_STATES`) per status, tier and platform:
    ``incidents``, ``overdue`` at ``at``, median and max hours since the last event, of one
    county when ``county_code`` is given (else all). Unordered.
    """
    query = """
        SELECT i.status, i.tier, i.platform_code, count(*) AS incidents,
               count(*) FILTER (WHERE i.due_at < CAST(:at AS timestamptz)) AS overdue,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                   extract(epoch FROM CAST(:at AS timestamptz) - last.at) / 3600.0)
                   AS median_hours_waiting,
               max(extract(epoch FROM CAST(:at AS timestamptz) - last.at) / 3600.0)
                   AS max_hours_waiting
        FROM incident i
        CROSS JOIN LATERAL (
            SELECT max(e.at) AS at FROM incident_event e WHERE e.incident_id = i.id
        ) last
        WHERE NOT (i.status = ANY(CAST(:done AS text[])))
          AND (CAST(:county AS text) IS NULL OR i.township_code LIKE :county)
        GROUP BY 1, 2, 3
    """
    params = {
        "at": at,
        "done": list(INCIDENT_DONE_STATES),
        "county": None if county_code is None else f"{county_code}%",
    }
    return pd.read_sql(text(query), con, params=params)


# --------------------------------------------------------------------------------- five colours


def lock_household(conn: Connection, household_code: str) -> Row | None:
    """Lock household ``household_code`` (``FOR UPDATE``); its ``code`` and ``colour``, or None."""
    return conn.execute(
        text("SELECT code, colour FROM household WHERE code = :h FOR UPDATE"),
        {"h": household_code},
    ).first()


def write_colour(
    conn: Connection, household_code: str, colour: str, *, by: str, at: datetime | None
) -> None:
    """Set the household's colour and append the change (at ``at``, default the server's
    clock) to ``household_colour_event``."""
    conn.execute(
        text("UPDATE household SET colour = :c WHERE code = :h"),
        {"c": colour, "h": household_code},
    )
    conn.execute(
        text(
            "INSERT INTO household_colour_event (household_code, colour, changed_at, changed_by) "
            "VALUES (:h, :c, coalesce(CAST(:at AS timestamptz), clock_timestamp()), :by)"
        ),
        {"h": household_code, "c": colour, "at": at, "by": by},
    )


def colour_history(con: Connection | Engine, household_code: str) -> pd.DataFrame:
    """One household's colour changes, oldest first: changed_at, colour, changed_by."""
    return pd.read_sql(
        text(
            "SELECT changed_at, colour, changed_by FROM household_colour_event "
            "WHERE household_code = :h ORDER BY changed_at, id"
        ),
        con,
        params={"h": household_code},
    )


def colour_counts(
    con: Connection | Engine, *, county_code: str, plan_id: int | None
) -> pd.DataFrame:
    """Households per cell and colour under ``plan_id`` (None: the county's published plan):
    ``cell_code, colour, households``."""
    query = f"""
        SELECT a.cell_code, h.colour, count(*) AS households
        FROM cell_assignment a JOIN household h ON h.code = a.household_code
        WHERE a.plan_id = {_PLAN}
        GROUP BY 1, 2 ORDER BY 1, 2
    """
    return pd.read_sql(text(query), con, params={"plan": plan_id, "county": county_code})


def colour_changes(
    con: Connection | Engine,
    *,
    county_code: str,
    since: datetime,
    until: datetime,
    plan_id: int | None,
) -> pd.DataFrame:
    """Colour changes per cell of ``plan_id`` (None: published) in ``[since, until)``:
    ``cell_code, from_colour, to_colour, changes``."""
    query = f"""
        WITH ch AS (
            SELECT household_code, changed_at, colour AS to_colour,
                   lag(colour) OVER (PARTITION BY household_code ORDER BY changed_at, id)
                       AS from_colour
            FROM household_colour_event WHERE household_code LIKE :prefix
        )
        SELECT a.cell_code, ch.from_colour, ch.to_colour, count(*) AS changes
        FROM ch JOIN cell_assignment a
          ON a.household_code = ch.household_code AND a.plan_id = {_PLAN}
        WHERE ch.changed_at >= :since AND ch.changed_at < :until
        GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS FIRST, 3
    """
    params = {"plan": plan_id, "county": county_code, "prefix": f"{county_code}%",
              "since": since, "until": until}  # fmt: skip
    return pd.read_sql(text(query), con, params=params)


# -------------------------------------------------------------------------------------- workers

_WORKER_QUARTER = """
    WITH req(colour, required) AS (
        SELECT * FROM unnest(CAST(:colours AS text[]), CAST(:required AS integer[]))
    ), hh AS (
        SELECT w.code AS worker_code, h.code AS household, h.colour,
               coalesce(req.required, 0) AS required
        FROM grid_worker w
        JOIN cell_assignment a ON a.plan_id = w.plan_id AND a.cell_code = w.cell_code
        JOIN household h ON h.code = a.household_code
        LEFT JOIN req ON req.colour = h.colour
    ), done AS (
        SELECT worker_code, household_code AS household, count(*) AS n FROM visit
        WHERE visited_at >= :start AND visited_at < :end GROUP BY 1, 2
    ), visits AS (
        SELECT hh.worker_code, hh.colour, count(*) AS households,
               sum(hh.required) AS required, coalesce(sum(done.n), 0) AS done,
               coalesce(sum(least(coalesce(done.n, 0), hh.required)), 0) AS credited
        FROM hh LEFT JOIN done USING (worker_code, household)
        GROUP BY 1, 2
    ), reported AS (
        SELECT e.actor AS worker_code, count(*) AS incidents_reported,
               count(*) FILTER (WHERE i.status = ANY(CAST(:done_states AS text[]))) AS resolved,
               count(*) FILTER (WHERE coalesce(i.resolved_at, CAST(:end AS timestamptz))
                                > i.due_at) AS overdue
        FROM incident_event e JOIN incident i ON i.id = e.incident_id
        WHERE e.to_status = 'reported' AND e.at >= :start AND e.at < :end
        GROUP BY 1
    )
    SELECT w.code AS worker_code, w.name, w.township_code, w.cell_code, v.colour,
           coalesce(v.households, 0) AS households, coalesce(v.required, 0) AS required,
           coalesce(v.done, 0) AS done, coalesce(v.credited, 0) AS credited,
           coalesce(r.incidents_reported, 0) AS incidents_reported,
           coalesce(r.resolved, 0) AS resolved, coalesce(r.overdue, 0) AS overdue
    FROM grid_worker w
    LEFT JOIN visits v ON v.worker_code = w.code
    LEFT JOIN reported r ON r.worker_code = w.code
    ORDER BY 1, 5
"""


def worker_quarter(
    con: Connection | Engine,
    *,
    colours: Sequence[str],
    required: Sequence[int],
    start: datetime,
    end: datetime,
) -> pd.DataFrame:
    """Per grid worker and colour of the households in the worker's cell, ``[start, end)``.

    ``required[k]`` visits are needed per household of colour ``colours[k]`` (others: 0).
    Long format: ``worker_code, name, township_code, cell_code, colour, households,
    required, done, credited`` (visits by the worker, credited up to the requirement per
    household) and, repeated on each row of a worker, ``incidents_reported`` (the worker is
    the actor of the ``reported`` event), ``resolved`` (of those, resolved or beyond) and
    ``overdue`` (of those, resolved late or open past due at ``end``).
    """
    params = {"colours": list(colours), "required": list(required), "start": start,
              "end": end, "done_states": list(INCIDENT_DONE_STATES)}  # fmt: skip
    return pd.read_sql(text(_WORKER_QUARTER), con, params=params)


# -------------------------------------------------------------------------------------- funding


def township_residents(con: Connection | Engine, *, county_code: str) -> pd.DataFrame:
    """The townships of a county: ``township_code``, ``residents`` (registered, summed from
    the households) and ``workers`` (from ``grid_worker``), by code."""
    query = """
        SELECT t.code AS township_code, coalesce(r.residents, 0) AS residents,
               coalesce(w.workers, 0) AS workers
        FROM admin_unit t
        LEFT JOIN (SELECT left(code, 9) AS t, sum(residents) AS residents FROM household
                   WHERE code LIKE :prefix GROUP BY 1) r ON r.t = t.code
        LEFT JOIN (SELECT township_code AS t, count(*) AS workers FROM grid_worker
                   GROUP BY 1) w ON w.t = t.code
        WHERE t.level = 'township' AND t.code LIKE :prefix ORDER BY 1
    """
    return pd.read_sql(text(query), con, params={"prefix": f"{county_code}%"})
