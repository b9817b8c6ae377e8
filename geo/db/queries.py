"""Read-side queries for dashboards and notebooks: aggregates computed in PostGIS.

Results are aggregates (counts per unit), never a household's details, so they may feed
public and wall views once small counts are suppressed with :func:`geo.privacy.suppress_small`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.db.io import read_frame
from geo.db.models import INCIDENT_DONE_STATES


def county_codes(con: Connection | Engine) -> pd.DataFrame:
    """Counties in the database: code and name, ordered by code."""
    query = "SELECT code, name FROM admin_unit WHERE level = 'county' ORDER BY code"
    return pd.read_sql(text(query), con)


def unit_summary(con: Connection | Engine, level: str, county_code: str) -> gpd.GeoDataFrame:
    """Admin units of ``level`` in a county with households and residents summed (EPSG:4326).

    Columns: code, name, kind, parent_code, households, residents, residents_at_home,
    natural_units, geometry.
    """
    prefix_len = {"township": 9, "village": 12, "natural_unit": 15}[level]
    query = """
        WITH hh AS (
            SELECT left(code, :n) AS unit, count(*) AS households,
                   sum(residents) AS residents, sum(residents_at_home) AS residents_at_home
            FROM household WHERE code LIKE :county GROUP BY 1
        ), nu AS (
            SELECT left(code, :n) AS unit, count(*) AS natural_units
            FROM admin_unit WHERE level = 'natural_unit' AND code LIKE :county GROUP BY 1
        )
        SELECT u.code, u.name, u.kind, u.parent_code,
               coalesce(hh.households, 0) AS households,
               coalesce(hh.residents, 0) AS residents,
               coalesce(hh.residents_at_home, 0) AS residents_at_home,
               coalesce(nu.natural_units, 0) AS natural_units, u.geom
        FROM admin_unit u
        LEFT JOIN hh ON hh.unit = u.code LEFT JOIN nu ON nu.unit = u.code
        WHERE u.level = :level AND u.code LIKE :county ORDER BY u.code
    """
    return read_frame(
        con, query, params={"n": prefix_len, "county": f"{county_code}%", "level": level}
    )


def household_points(
    con: Connection | Engine, county_code: str, *, with_colour: bool = False
) -> gpd.GeoDataFrame:
    """Households of a county as their stored points on surface (EPSG:4326).

    Columns: code, natural_unit_code, village_code, residents, residents_at_home, and
    ``colour`` only with ``with_colour`` -- five-colour status is personal data: pass it on
    to aggregates, never to a public or wall view.  The input of ``geo.heatmaps``,
    ``geo.coverage`` and ``geo.hotspots`` when they work from the database.
    """
    colour = ", colour" if with_colour else ""
    return read_frame(
        con,
        "SELECT code, natural_unit_code, village_code, residents, residents_at_home"
        f"{colour}, point AS geom FROM household WHERE code LIKE :county ORDER BY code",
        params={"county": f"{county_code}%"},
    )


def service_points(
    con: Connection | Engine, county_code: str, *, kind: str | None = None
) -> gpd.GeoDataFrame:
    """Service points of a county (optionally one ``kind``): code, kind, name, village_code."""
    return read_frame(
        con,
        "SELECT s.code, s.kind, s.name, s.village_code, s.geom FROM service_point s "
        "WHERE coalesce(s.village_code, s.code) LIKE :county "
        "AND (CAST(:kind AS text) IS NULL OR s.kind = :kind) ORDER BY s.code",
        params={"county": f"{county_code}%", "kind": kind},
    )


def visits(
    con: Connection | Engine, county_code: str, *, since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Visits to the county's households (household_code, worker_code, visited_at, UTC)."""
    query = (
        "SELECT v.household_code, v.worker_code, v.visited_at FROM visit v "
        "WHERE v.household_code LIKE :county "
        "AND (CAST(:since AS timestamptz) IS NULL OR v.visited_at >= :since) "
        "ORDER BY v.visited_at"
    )
    frame = pd.read_sql(text(query), con, params={"county": f"{county_code}%", "since": since})
    frame["visited_at"] = pd.to_datetime(frame["visited_at"], utc=True)
    return frame


def plan_cells(con: Connection | Engine, plan_id: int) -> gpd.GeoDataFrame:
    """Cells of a stored plan (code, village_code, households, residents, area, PP, flag)."""
    return read_frame(
        con,
        "SELECT code, village_code, households, residents, area_m2, polsby_popper, "
        "flag_reason, geom FROM grid_cell WHERE plan_id = :plan ORDER BY code",
        params={"plan": plan_id},
    )


def plan_assignment(con: Connection | Engine, plan_id: int) -> pd.DataFrame:
    """The household -> cell assignment of a stored plan (household_code, cell_code)."""
    return pd.read_sql(
        text(
            "SELECT household_code, cell_code FROM cell_assignment WHERE plan_id = :plan "
            "ORDER BY household_code"
        ),
        con,
        params={"plan": plan_id},
    )


def published_plan_id(con: Connection | Engine, county_code: str) -> int | None:
    """The id of the county's published grid plan, or None when none is published."""
    row = pd.read_sql(
        text("SELECT id FROM grid_plan WHERE county_code = :c AND status = 'published'"),
        con,
        params={"c": county_code},
    )
    return None if row.empty else int(row["id"].iloc[0])


#: Incident states in which the work is done (the due time no longer runs), bound as ``:done``.
_DONE = list(INCIDENT_DONE_STATES)

#: Where an open case waits on the escalation chain (worker -> township -> department ->
#: feedback), by its status: ``reported`` (the worker blew the whistle, nobody took it yet),
#: ``accepted``/``returned``/``reopened``/``escalated`` (with the township or the centre to
#: route), ``dispatched``/``in_progress`` (with a department), ``resolved`` (waiting for the
#: result to be fed back).
CHAIN_STAGES = (
    ("worker", ("reported",)),
    ("township", ("accepted", "returned", "reopened", "escalated")),
    ("department", ("dispatched", "in_progress")),
    ("feedback", ("resolved",)),
)


def wall_unit_shapes(con: Connection | Engine, county_code: str) -> gpd.GeoDataFrame:
    """The wall map's units, geometry only: the published plan's cells, else the villages.

    Read from the view ``wall_map_units`` (migration 0009), which the wall's login
    ``wangge_wall`` may read.  Columns: code, name, unit ('cell' or 'village'), plan_id
    (None for villages), geometry (EPSG:4326), ordered by code. Changes only when a plan is
    published.
    """
    return read_frame(
        con,
        "SELECT code, name, unit, plan_id, geom FROM wall_map_units WHERE county_code = :c "
        "ORDER BY code",
        params={"c": county_code},
    )


def wall_unit_counts(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """Households, residents and incidents per wall unit (see :func:`wall_unit_shapes`).

    Incidents are those reported in ``[start, end)`` in the county, counted in the unit of
    the *current* published plan that holds their point (``ST_Intersects``; a point on a
    shared edge goes to one unit, the first by code), so the counts follow the grid when a
    new plan is published and sum to :func:`wall_headline`'s ``reported`` for the same
    period (except incidents outside every unit). Households and residents are the cell's
    (or, for villages, summed by village code).

    Columns: code, households, residents, incidents; ordered by code.  Aggregates only;
    suppress small counts before showing.
    """
    plan_id = published_plan_id(con, county_code)
    if plan_id is not None:
        units = "SELECT code, households, residents, geom FROM grid_cell WHERE plan_id = :plan"
        hit = "SELECT g.code FROM grid_cell g WHERE g.plan_id = :plan"
    else:
        hit = "SELECT g.code FROM admin_unit g WHERE g.level = 'village' AND g.code LIKE :county"
        units = """
            SELECT u.code, coalesce(hh.households, 0) AS households,
                   coalesce(hh.residents, 0) AS residents, u.geom
            FROM admin_unit u LEFT JOIN (
                SELECT village_code, count(*) AS households, sum(residents) AS residents
                FROM household WHERE code LIKE :county GROUP BY 1
            ) hh ON hh.village_code = u.code
            WHERE u.level = 'village' AND u.code LIKE :county
        """
    query = f"""
        WITH u AS ({units}),
        inc AS (
            SELECT hit.code, count(*) AS incidents
            FROM incident i
            CROSS JOIN LATERAL (
                {hit} AND ST_Intersects(g.geom, i.geom) ORDER BY g.code LIMIT 1
            ) hit
            WHERE i.township_code LIKE :county
              AND i.reported_at >= :start AND i.reported_at < :end
            GROUP BY 1
        )
        SELECT u.code, u.households, u.residents, coalesce(inc.incidents, 0) AS incidents
        FROM u LEFT JOIN inc ON inc.code = u.code
        ORDER BY u.code
    """
    params = {"county": f"{county_code}%", "plan": plan_id, "start": start, "end": end}
    return pd.read_sql(text(query), con, params=params)


def wall_units(
    con: Connection | Engine,
    county_code: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    days: int = 30,
) -> gpd.GeoDataFrame:
    """The wall's map units with their counts: :func:`wall_unit_shapes` joined with
    :func:`wall_unit_counts` over ``[start, end)`` (default: the last ``days`` days).

    Columns: code, name, unit, plan_id, households, residents, incidents,
    incidents_per_100 (per 100 households), geometry (EPSG:4326).
    """
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=days)
    shapes = wall_unit_shapes(con, county_code)
    counts = wall_unit_counts(con, county_code, start=start, end=end)
    frame = shapes.merge(counts, on="code", how="left")
    per_100 = 100.0 * frame["incidents"] / frame["households"].where(frame["households"] > 0)
    return frame.assign(incidents_per_100=per_100.round(2))


def wall_headline(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """One row: incidents reported in ``[start, end)`` in the county, how many of them are
    still open now (not resolved, fed back or closed), overdue now, and resolved (done).
    """
    query = """
        SELECT count(*) AS reported,
               count(*) FILTER (WHERE status <> ALL(CAST(:done AS text[]))) AS open,
               count(*) FILTER (WHERE status <> ALL(CAST(:done AS text[]))
                                AND due_at < now()) AS overdue,
               count(*) FILTER (WHERE status = ANY(CAST(:done AS text[]))) AS resolved
        FROM incident
        WHERE township_code LIKE :county AND reported_at >= :start AND reported_at < :end
    """
    params = {"county": f"{county_code}%", "start": start, "end": end, "done": _DONE}
    return pd.read_sql(text(query), con, params=params)


def platform_board(
    con: Connection | Engine,
    county_code: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    days: int = 7,
) -> pd.DataFrame:
    """ "One centre, N platforms": every platform with its incidents reported in
    ``[start, end)`` (default: the last ``days`` days).

    Columns: platform_code, platform (name), reported, open (not yet resolved, fed back or
    closed), overdue (open past due now), resolved (done), resolved_share (0..1, None
    without incidents). Every platform of the ``platform`` table appears, with zeros when
    it had no incident.
    """
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=days)
    query = """
        WITH inc AS (
            SELECT platform_code, count(*) AS reported,
                   count(*) FILTER (WHERE status <> ALL(CAST(:done AS text[]))) AS open,
                   count(*) FILTER (WHERE status <> ALL(CAST(:done AS text[])) AND due_at < now())
                       AS overdue,
                   count(*) FILTER (WHERE status = ANY(CAST(:done AS text[]))) AS done
            FROM incident
            WHERE reported_at >= :start AND reported_at < :end
              AND township_code LIKE :county
            GROUP BY 1
        )
        SELECT p.code AS platform_code, p.name AS platform,
               coalesce(inc.reported, 0) AS reported, coalesce(inc.open, 0) AS open,
               coalesce(inc.overdue, 0) AS overdue, coalesce(inc.done, 0) AS resolved,
               CAST(inc.done AS float) / nullif(inc.reported, 0) AS resolved_share
        FROM platform p LEFT JOIN inc ON inc.platform_code = p.code ORDER BY p.code
    """
    params = {"county": f"{county_code}%", "start": start, "end": end, "done": _DONE}
    return pd.read_sql(text(query), con, params=params)


def platform_weekly(
    con: Connection | Engine, county_code: str, *, end: datetime, weeks: int = 8
) -> pd.DataFrame:
    """Incidents reported per platform in each of the ``weeks`` 7-day weeks ending at ``end``.

    Columns: platform_code, week (0 = oldest .. weeks-1 = the week ending at ``end``),
    reported. Every platform and week appears (zeros included).
    """
    query = """
        WITH w AS (SELECT generate_series(0, :weeks - 1) AS week),
        inc AS (
            SELECT platform_code,
                   :weeks - 1 - floor(extract(epoch FROM CAST(:end AS timestamptz) - reported_at)
                                      / (7 * 86400))::int AS week,
                   count(*) AS reported
            FROM incident
            WHERE township_code LIKE :county AND reported_at < :end
              AND reported_at >= CAST(:end AS timestamptz) - make_interval(days => 7 * :weeks)
            GROUP BY 1, 2
        )
        SELECT p.code AS platform_code, w.week, coalesce(inc.reported, 0) AS reported
        FROM platform p CROSS JOIN w
        LEFT JOIN inc ON inc.platform_code = p.code AND inc.week = w.week
        ORDER BY p.code, w.week
    """
    return pd.read_sql(
        text(query), con, params={"county": f"{county_code}%", "end": end, "weeks": weeks}
    )


def chain_stages(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """Where the cases reported in ``[start, end)`` that are not yet fed back wait now.

    One row per stage of :data:`CHAIN_STAGES` in chain order (worker, township, department,
    feedback), zeros included. Columns: stage, cases, overdue (past due now; a case waiting
    for feedback is never overdue).
    """
    stages = [(status, stage, k) for k, (stage, states) in enumerate(CHAIN_STAGES)
              for status in states]  # fmt: skip
    query = """
        WITH s(status, stage, k) AS (
            SELECT * FROM unnest(CAST(:s_status AS text[]), CAST(:s_stage AS text[]),
                                 CAST(:s_k AS integer[]))
        ),
        n(stage, k) AS (
            SELECT * FROM unnest(CAST(:n_stage AS text[]), CAST(:n_k AS integer[]))
        ),
        inc AS (
            SELECT s.stage, count(*) AS cases,
                   count(*) FILTER (WHERE i.status <> ALL(CAST(:done AS text[]))
                                    AND i.due_at < now())
                       AS overdue
            FROM incident i JOIN s ON s.status = i.status
            WHERE i.township_code LIKE :county
              AND i.reported_at >= :start AND i.reported_at < :end
            GROUP BY 1
        )
        SELECT n.stage, coalesce(inc.cases, 0) AS cases, coalesce(inc.overdue, 0) AS overdue
        FROM n LEFT JOIN inc ON inc.stage = n.stage ORDER BY n.k
    """
    params = {
        "county": f"{county_code}%", "start": start, "end": end, "done": _DONE,
        "s_status": [r[0] for r in stages], "s_stage": [r[1] for r in stages],
        "s_k": [r[2] for r in stages],
        "n_stage": [stage for stage, _ in CHAIN_STAGES], "n_k": list(range(len(CHAIN_STAGES))),
    }  # fmt: skip
    return pd.read_sql(text(query), con, params=params)


# ------------------------------------------------------- the wall's reads (login wangge_wall)
#
# The wall connects as ``wangge_wall`` (``Settings.wall_url``), which may read only the views
# and call only the functions of migration 0009: aggregates whose counts of households,
# residents and incidents are blanked (NULL) under ``app_setting.suppress_below`` inside the
# database; only the incidents per map unit (Gi*'s numerator) are whole.

#: The wall's functions of a period: name -> its argument placeholders.
_WALL_FUNCTIONS = {
    "wall_period_units": ":county, :start, :end",
    "wall_period_headline": ":county, :start, :end",
    "wall_period_platforms": ":county, :start, :end",
    "wall_weekly_platforms": ":county, :end, :weeks",
    "wall_period_chain": ":county, :start, :end",
}


def _wall_call(con: Connection | Engine, name: str, **params: object) -> pd.DataFrame:
    """Every row of the wall's function ``name`` (one of :data:`_WALL_FUNCTIONS`)."""
    query = f"SELECT * FROM {name}({_WALL_FUNCTIONS[name]})"  # a constant of this module
    return pd.read_sql(text(query), con, params=params)


def wall_counties(con: Connection | Engine) -> pd.DataFrame:
    """Counties for the wall: code, name, households, residents (NULL under the threshold;
    residents also when the households are), ordered by code."""
    query = (
        "SELECT county_code AS code, name, households, residents FROM wall_counties "
        "ORDER BY county_code"
    )
    return pd.read_sql(text(query), con)


def wall_plan_id(con: Connection | Engine, county_code: str) -> int | None:
    """The plan the wall's map draws (the county's published plan), or None (villages)."""
    found = pd.read_sql(
        text("SELECT plan_id FROM wall_map_units WHERE county_code = :c LIMIT 1"),
        con,
        params={"c": county_code},
    )
    plan = None if found.empty else found["plan_id"].iloc[0]
    return None if plan is None or pd.isna(plan) else int(plan)


def wall_township_shapes(con: Connection | Engine, county_code: str) -> gpd.GeoDataFrame:
    """The county's townships for the wall map's outlines: code, name, geometry (4326)."""
    return read_frame(
        con,
        "SELECT code, name, geom FROM wall_township_shapes WHERE county_code = :c ORDER BY code",
        params={"c": county_code},
    )


def wall_period_units(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """Per wall unit: households, residents (NULL under the threshold) and incidents reported
    in ``[start, end)`` (whole: Gi*'s numerator), as :func:`wall_unit_counts` counts them.

    Columns: code, households, residents, incidents; ordered by code.
    """
    return _wall_call(con, "wall_period_units", county=county_code, start=start, end=end)


def wall_period_headline(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """:func:`wall_headline` with each count NULL under the threshold (one row)."""
    return _wall_call(con, "wall_period_headline", county=county_code, start=start, end=end)


def wall_period_platforms(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """:func:`platform_board` with each count NULL under the threshold (and the resolved
    share NULL when the reported count is)."""
    return _wall_call(con, "wall_period_platforms", county=county_code, start=start, end=end)


def wall_weekly_platforms(
    con: Connection | Engine, county_code: str, *, end: datetime, weeks: int = 8
) -> pd.DataFrame:
    """:func:`platform_weekly` with each week's count NULL under the threshold (at most 104
    weeks)."""
    return _wall_call(con, "wall_weekly_platforms", county=county_code, end=end, weeks=weeks)


def wall_period_chain(
    con: Connection | Engine, county_code: str, *, start: datetime, end: datetime
) -> pd.DataFrame:
    """:func:`chain_stages` with each count NULL under the threshold."""
    return _wall_call(con, "wall_period_chain", county=county_code, start=start, end=end)


def incident_points(
    con: Connection | Engine, county_code: str, *, days: int | None = None
) -> gpd.GeoDataFrame:
    """Incidents of a county (optionally the last ``days`` days) as points, EPSG:4326.

    Columns: id, category_code, platform_code, status, reported_at (UTC), cell_code,
    village_code. No household reference: the input of heatmaps and hotspots.
    """
    frame = read_frame(
        con,
        "SELECT id, category_code, platform_code, status, reported_at, cell_code, "
        "village_code, geom FROM incident WHERE township_code LIKE :county "
        "AND (CAST(:days AS integer) IS NULL "
        "OR reported_at >= now() - make_interval(days => CAST(:days AS integer))) ORDER BY id",
        params={"county": f"{county_code}%", "days": days},
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    return frame
