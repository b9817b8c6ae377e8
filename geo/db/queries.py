"""Read-side queries for dashboards and notebooks: aggregates computed in PostGIS.

Results are aggregates (counts per unit), never a household's details, so they may feed
public and wall views once small counts are suppressed with :func:`geo.privacy.suppress_small`.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.db.io import read_frame


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


def wall_units(con: Connection | Engine, county_code: str, *, days: int = 30) -> gpd.GeoDataFrame:
    """The wall display's map units with aggregates (EPSG:4326).

    The cells of the county's published plan when there is one, else its villages. Columns:
    code, name, unit ('cell' or 'village'), households, residents, incidents (reported in
    the last ``days`` days, placed by the cell/village at report time), incidents_per_100
    (per 100 households), geometry.  Aggregates only; suppress small counts before showing.
    """
    plan_id = published_plan_id(con, county_code)
    incidents = """
        SELECT {key} AS code, count(*) AS incidents FROM incident
        WHERE reported_at >= now() - make_interval(days => :days)
          AND township_code LIKE :county {plan_filter}
        GROUP BY 1
    """
    if plan_id is not None:
        query = f"""
            WITH inc AS ({incidents.format(key="cell_code", plan_filter="AND plan_id = :plan")})
            SELECT g.code, g.code AS name, 'cell' AS unit, g.households, g.residents,
                   coalesce(inc.incidents, 0) AS incidents, g.geom
            FROM grid_cell g LEFT JOIN inc ON inc.code = g.code
            WHERE g.plan_id = :plan ORDER BY g.code
        """
    else:
        query = f"""
            WITH inc AS ({incidents.format(key="village_code", plan_filter="")}),
            hh AS (SELECT village_code AS code, count(*) AS households,
                          sum(residents) AS residents
                   FROM household WHERE code LIKE :county GROUP BY 1)
            SELECT u.code, u.name, 'village' AS unit, coalesce(hh.households, 0) AS households,
                   coalesce(hh.residents, 0) AS residents,
                   coalesce(inc.incidents, 0) AS incidents, u.geom
            FROM admin_unit u LEFT JOIN hh ON hh.code = u.code
            LEFT JOIN inc ON inc.code = u.code
            WHERE u.level = 'village' AND u.code LIKE :county ORDER BY u.code
        """
    frame = read_frame(
        con, query, params={"county": f"{county_code}%", "days": days, "plan": plan_id}
    )
    per_100 = 100.0 * frame["incidents"] / frame["households"].where(frame["households"] > 0)
    return frame.assign(incidents_per_100=per_100.round(2))


def platform_board(con: Connection | Engine, county_code: str, *, days: int = 7) -> pd.DataFrame:
    """ "One centre, N platforms": every platform with its incidents of the last ``days`` days.

    Columns: platform_code, platform (name), reported, open (not yet resolved, fed back or
    closed), overdue (open past due now), resolved_share (0..1, None without incidents).
    Every platform of the ``platform`` table appears, with zeros when it had no incident.
    """
    query = """
        WITH inc AS (
            SELECT platform_code, count(*) AS reported,
                   count(*) FILTER (WHERE status NOT IN ('resolved', 'fed_back', 'closed'))
                       AS open,
                   count(*) FILTER (WHERE status NOT IN ('resolved', 'fed_back', 'closed')
                                    AND due_at < now()) AS overdue,
                   count(*) FILTER (WHERE status IN ('resolved', 'fed_back', 'closed'))
                       AS done
            FROM incident
            WHERE reported_at >= now() - make_interval(days => :days)
              AND township_code LIKE :county
            GROUP BY 1
        )
        SELECT p.code AS platform_code, p.name AS platform,
               coalesce(inc.reported, 0) AS reported, coalesce(inc.open, 0) AS open,
               coalesce(inc.overdue, 0) AS overdue,
               CAST(inc.done AS float) / nullif(inc.reported, 0) AS resolved_share
        FROM platform p LEFT JOIN inc ON inc.platform_code = p.code ORDER BY p.code
    """
    return pd.read_sql(text(query), con, params={"county": f"{county_code}%", "days": days})


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
