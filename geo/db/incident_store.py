"""The SQL of incidents (used by :mod:`geo.incidents` and :mod:`geo.db.activity`).

Intake places an incident by a spatial join against the cells of the *published* plans at the
moment it is reported. A point on a boundary shared by two cells intersects both; ``ORDER BY
code LIMIT 1`` picks the lowest cell code, so the choice is deterministic and one incident
lands in exactly one cell. A point outside every published cell still gets its village (and
township) from the admin hierarchy, with the same lowest-code rule; its cell stays NULL.

Intake is one ``INSERT ... ON CONFLICT (client_key) DO NOTHING`` with the ``reported`` event
written by the same statement; a bulk intake copies its rows to a temporary table first
(:func:`geo.db.io.copy_frame`). Moves lock the incident row (:func:`lock_incident`) and write
the new row values and the event together (:func:`write_move`).

Every function works inside the caller's transaction; values are always bound. Times are
timezone-aware; points are longitude/latitude in EPSG:4326.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, Row, text, update

from geo.db.io import copy_frame
from geo.db.models import (
    INCIDENT_DONE_STATES,
    INCIDENT_ROLES,
    INCIDENT_SOURCE_ROLES,
    INCIDENT_SOURCES,
    INCIDENT_TIER_DUE_FACTORS,
    Incident,
)
from geo.errors import DataError
from geo.projection import STORAGE_CRS, require_crs

#: Placement of the rows of relation ``s`` (columns ``g`` = point): cell, village, township.
#: ``{plan_filter}`` restricts the cells (published plans, or one given plan).
PLACEMENT = """
    LEFT JOIN LATERAL (
        SELECT c.plan_id, c.code AS cell_code, c.village_code
        FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id
        WHERE {plan_filter} AND ST_Intersects(c.geom, s.g)
        ORDER BY c.code, c.plan_id LIMIT 1
    ) cell ON true
    LEFT JOIN LATERAL (
        SELECT a.code FROM admin_unit a
        WHERE cell.cell_code IS NULL AND a.level = 'village' AND ST_Intersects(a.geom, s.g)
        ORDER BY a.code LIMIT 1
    ) vil ON true
    LEFT JOIN admin_unit v ON v.code = coalesce(cell.village_code, vil.code)
"""

PUBLISHED = "p.status = 'published'"

#: Intake of the rows of ``{source}`` (client_key, category_code, source, reported_at,
#: household_code, description, actor, role, geom) with one statement: insert new client
#: keys, skip known ones, write the ``reported`` event of each new incident.
INTAKE = """
WITH src AS (
    SELECT r.*, coalesce(r.geom, h.point) AS g
    FROM {source} r LEFT JOIN household h ON h.code = r.household_code
), ins AS (
    INSERT INTO incident (client_key, category_code, source, status, tier, reported_at,
                          due_at, platform_code, plan_id, cell_code, village_code,
                          township_code, household_code, description, geom)
    SELECT s.client_key, s.category_code, s.source, 'reported', 0, s.reported_at,
           s.reported_at + k.due_hours * CAST(:factor AS double precision) * interval '1 hour',
           k.platform_code, cell.plan_id, cell.cell_code, v.code, v.parent_code,
           s.household_code, s.description, s.g
    FROM src s JOIN incident_category k ON k.code = s.category_code
    {placement}
    ORDER BY s.client_key
    ON CONFLICT (client_key) DO NOTHING
    RETURNING id, client_key, reported_at
), ev AS (
    INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role, note)
    SELECT ins.id, ins.reported_at, NULL, 'reported', s.actor, s.role, 'intake'
    FROM ins JOIN src s ON s.client_key = ins.client_key
    RETURNING incident_id
)
SELECT ins.id, ins.client_key FROM ins
"""

SINGLE_SOURCE = """(
    SELECT CAST(:client_key AS text) AS client_key, CAST(:category AS text) AS category_code,
           CAST(:source AS text) AS source, CAST(:reported_at AS timestamptz) AS reported_at,
           CAST(:household AS text) AS household_code, CAST(:description AS text) AS description,
           CAST(:actor AS text) AS actor, CAST(:role AS text) AS role,
           CASE WHEN CAST(:lon AS double precision) IS NULL THEN NULL
                ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END AS geom
)"""

STAGE_TABLE = """
CREATE TEMP TABLE {name} (
    client_key text, category_code text, source text, reported_at timestamptz,
    household_code text, description text, actor text, role text, geom geometry(Point, 4326)
) ON COMMIT DROP
"""

REJOIN = """
SELECT s.id, s.client_key, s.plan_id AS plan_id_at_report, s.cell_code AS cell_code_at_report,
       s.village_code AS village_code_at_report, cell.plan_id, cell.cell_code,
       v.code AS village_code, v.parent_code AS township_code
FROM (SELECT i.*, i.geom AS g FROM incident i WHERE {where}) s
{placement}
ORDER BY s.id
"""

#: Columns an intake frame must have (see :func:`intake_frame`).
INTAKE_COLUMNS = ("client_key", "category_code", "source", "reported_at")


# --------------------------------------------------------------------------- configuration


def upsert_platforms(
    conn: Connection,
    platforms: Iterable[Mapping[str, Any]],
    categories: Iterable[Mapping[str, Any]],
) -> None:
    """Insert or update ``platforms`` (code, name, name_en) and incident ``categories``
    (code, name, platform, due_hours in hours); nothing is deleted."""
    conn.execute(
        text(
            "INSERT INTO platform (code, name, name_en) VALUES (:code, :name, :name_en) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en"
        ),
        [{"code": p["code"], "name": p["name"], "name_en": p.get("name_en")} for p in platforms],
    )
    conn.execute(
        text(
            "INSERT INTO incident_category (code, name, platform_code, due_hours) "
            "VALUES (:code, :name, :platform, :due) ON CONFLICT (code) DO UPDATE SET "
            "name = EXCLUDED.name, platform_code = EXCLUDED.platform_code, "
            "due_hours = EXCLUDED.due_hours"
        ),
        [
            {"code": c["code"], "name": c["name"], "platform": c["platform"], "due": c["due_hours"]}
            for c in categories
        ],
    )


def platform_codes(conn: Connection) -> list[str]:
    """The codes of the stored platforms, sorted."""
    return list(conn.execute(text("SELECT code FROM platform ORDER BY 1")).scalars())


def platform_exists(conn: Connection, code: str) -> bool:
    """Whether platform ``code`` is stored."""
    found = conn.execute(text("SELECT 1 FROM platform WHERE code = :p"), {"p": code}).first()
    return found is not None


def category_route(conn: Connection, code: str) -> Row | None:
    """``platform_code`` and ``due_hours`` (hours at tier 0) of category ``code``, or None."""
    return conn.execute(
        text("SELECT platform_code, due_hours FROM incident_category WHERE code = :c"),
        {"c": code},
    ).first()


# ---------------------------------------------------------------------------------- checks


def check_choice(what: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise :class:`DataError` listing ``allowed`` unless ``value`` is one of them."""
    if value not in allowed:
        raise DataError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")


def check_reports(
    conn: Connection, categories: Iterable[str], sources: Iterable[str], roles: Iterable[object]
) -> None:
    """Raise :class:`DataError` for an unknown category (stored), source or role."""
    known = set(conn.execute(text("SELECT code FROM incident_category")).scalars())
    bad = sorted(set(categories) - known)
    if bad:
        listed = ", ".join(map(repr, bad))
        raise DataError(
            f"unknown incident category {listed}; "
            f"allowed: {', '.join(sorted(known)) or 'none (run sync_platforms first)'}"
        )
    for value in sorted(set(sources)):
        check_choice("source", value, INCIDENT_SOURCES)
    for value in sorted(set(roles), key=str):
        check_choice("role", value, INCIDENT_ROLES)


def check_households(conn: Connection, codes: Iterable[object]) -> None:
    """Raise :class:`DataError` naming household codes (str items of ``codes``) not stored."""
    wanted = sorted({c for c in codes if isinstance(c, str)})
    if not wanted:
        return
    found = set(
        conn.execute(
            text("SELECT code FROM household WHERE code = ANY(:c)"), {"c": wanted}
        ).scalars()
    )
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(f"unknown household code(s): {', '.join(missing[:5])}")


# --------------------------------------------------------------------------------- intake


def server_now(conn: Connection) -> datetime:
    """The server's clock (``clock_timestamp()``), timezone-aware."""
    return conn.execute(text("SELECT clock_timestamp()")).scalar_one()


def insert_report(conn: Connection, params: Mapping[str, Any]) -> int | None:
    """Insert one checked report; return its new id, or None if its client key is known.

    ``params``: client_key, category, source, reported_at, household, description, actor,
    role, lon, lat (EPSG:4326, or None for the household's point).
    """
    placement = PLACEMENT.format(plan_filter=PUBLISHED)
    query = INTAKE.format(source=SINGLE_SOURCE, placement=placement)
    factor = INCIDENT_TIER_DUE_FACTORS[0]
    row = conn.execute(text(query), {**params, "factor": factor}).first()
    return None if row is None else int(row.id)


def incident_id(conn: Connection, client_key: str) -> int | None:
    """The id of the incident with ``client_key``, or None."""
    found = conn.execute(
        text("SELECT id FROM incident WHERE client_key = :k"), {"k": client_key}
    ).scalar()
    return None if found is None else int(found)


def intake_frame(
    conn: Connection,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    actor: str = "intake",
    role: str | None = None,
) -> pd.DataFrame:
    """Check and take in many reports: COPY to a staging table, one INSERT ... SELECT.

    See :func:`geo.incidents.intake` (the public entry) for ``frame``'s columns and the
    result, a frame aligned with ``frame``: ``client_key``, ``id``, ``created``.

    Raises
    ------
    DataError
        Missing columns, unknown categories/sources/roles/households, naive times, missing
        places, or rows that could not be placed.
    """
    staged = _staging_frame(frame, actor=actor, role=role)
    check_reports(conn, staged["category_code"], staged["source"], staged["role"])
    check_households(conn, staged["household_code"])
    first = ~staged["client_key"].duplicated()
    created, ids = _insert_staged(conn, staged.loc[first])
    keys = staged["client_key"]
    missing = sorted(set(keys) - set(ids))
    if missing:
        raise DataError(f"{len(missing)} incident(s) could not be placed, e.g. {missing[0]!r}")
    return pd.DataFrame(
        {
            "client_key": keys,
            "id": keys.map(ids).astype("int64"),
            "created": keys.isin(created) & first,
        },
        index=frame.index,
    )


def _insert_staged(conn: Connection, staged: gpd.GeoDataFrame) -> tuple[set[str], dict[str, int]]:
    """Insert the unique-keyed ``staged`` rows: (keys created, key -> id of every row)."""
    name = conn.dialect.identifier_preparer.quote(f"_incident_stage_{uuid.uuid4().hex[:12]}")
    conn.execute(text(STAGE_TABLE.format(name=name)))
    copy_frame(conn, staged, name)
    query = INTAKE.format(source=name, placement=PLACEMENT.format(plan_filter=PUBLISHED))
    factor = INCIDENT_TIER_DUE_FACTORS[0]
    created = {r.client_key for r in conn.execute(text(query), {"factor": factor})}
    ids = dict(
        conn.execute(
            text(f"SELECT s.client_key, i.id FROM {name} s JOIN incident i USING (client_key)")
        ).all()
    )
    conn.execute(text(f"DROP TABLE {name}"))
    return created, ids


def _staging_frame(frame: pd.DataFrame, *, actor: str, role: str | None) -> gpd.GeoDataFrame:
    missing = [c for c in INTAKE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"incident frame lacks column(s): {', '.join(missing)}")
    if isinstance(frame, gpd.GeoDataFrame):
        require_crs(frame, name="incident frame")
        geoms = frame.geometry.to_crs(STORAGE_CRS) if frame.crs != STORAGE_CRS else frame.geometry
    elif {"lon", "lat"} <= set(frame.columns):
        geoms = gpd.GeoSeries(gpd.points_from_xy(frame["lon"], frame["lat"]), crs=STORAGE_CRS)
        geoms.index = frame.index
        geoms = geoms.where(frame["lon"].notna() & frame["lat"].notna(), None)
    else:
        raise DataError("incident frame needs point geometries or 'lon'/'lat' columns")
    reported = pd.to_datetime(frame["reported_at"])
    if getattr(reported.dt, "tz", None) is None:
        raise DataError("reported_at must be timezone-aware (e.g. '2026-03-01T08:00+08:00')")

    def column(name: str, default: object) -> pd.Series:
        if name in frame.columns:
            return frame[name].astype(object).where(frame[name].notna(), default)
        return pd.Series(default, index=frame.index, dtype=object)

    source = frame["source"].astype(str)
    roles = column("role", role)
    roles = roles.where(roles.notna(), source.map(dict(INCIDENT_SOURCE_ROLES)))
    households = column("household_code", None)
    if (geoms.isna() & households.isna()).any():
        row = frame.index[(geoms.isna() & households.isna()).to_numpy()][0]
        raise DataError(f"incident row {row!r} has neither a point nor a household_code")
    return gpd.GeoDataFrame(
        {
            "client_key": frame["client_key"].astype(str),
            "category_code": frame["category_code"].astype(str),
            "source": source,
            "reported_at": reported.dt.tz_convert("UTC"),
            "household_code": households,
            "description": column("description", None),
            "actor": column("actor", actor).astype(str),
            "role": roles,
        },
        geometry=geoms.values,
        crs=STORAGE_CRS,
        index=frame.index,
    )


# ---------------------------------------------------------------------------------- moves


def lock_incident(conn: Connection, incident_id: int) -> Row | None:
    """Lock incident ``incident_id`` for the caller's transaction (``FOR UPDATE``) and read it.

    Returns None if there is no such incident, else a row with ``status``, ``tier``,
    ``category_code``, ``platform_code``, ``accepted_at``, ``due_hours`` (its category's, at
    tier 0), ``now`` (the server's clock) and ``last_at`` (time of its last event).
    """
    return conn.execute(
        text(
            "SELECT i.status, i.tier, i.category_code, i.platform_code, i.accepted_at, "
            "k.due_hours, clock_timestamp() AS now, "
            "(SELECT max(e.at) FROM incident_event e WHERE e.incident_id = i.id) AS last_at "
            "FROM incident i JOIN incident_category k ON k.code = i.category_code "
            "WHERE i.id = :id FOR UPDATE OF i"
        ),
        {"id": incident_id},
    ).first()


@dataclass(frozen=True)
class Move:
    """One checked move of an incident, as written by :func:`write_move`.

    ``values`` maps columns of ``incident`` to their new values (None writes NULL); the
    status is always set to ``to_status``. ``at`` is timezone-aware.
    """

    incident_id: int
    from_status: str
    to_status: str
    at: datetime
    actor: str
    role: str
    note: str | None
    values: Mapping[str, Any]


def write_move(conn: Connection, move: Move) -> int:
    """Update the incident row and append the move's event; return the event's id.

    Raises
    ------
    sqlalchemy.exc.CompileError
        If ``move.values`` names a column ``incident`` does not have.
    """
    table = Incident.__table__
    conn.execute(
        update(table)
        .where(table.c.id == move.incident_id)
        .values({**move.values, "status": move.to_status})
    )
    event_id = conn.execute(
        text(
            "INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role, "
            "note) VALUES (:id, :at, :frm, :to, :actor, :role, :note) RETURNING id"
        ),
        {"id": move.incident_id, "at": move.at, "frm": move.from_status, "to": move.to_status,
         "actor": move.actor, "role": move.role, "note": move.note},
    ).scalar_one()  # fmt: skip
    return int(event_id)


# ---------------------------------------------------------------------------------- reading


def history(con: Connection | Engine, incident_id: int) -> pd.DataFrame:
    """The events of one incident, oldest first: id, at, from_status, to_status, actor, role,
    note."""
    return pd.read_sql(
        text(
            "SELECT id, at, from_status, to_status, actor, role, note FROM incident_event "
            "WHERE incident_id = :id ORDER BY at, id"
        ),
        con,
        params={"id": incident_id},
    )


def incident_times(
    con: Connection | Engine, *, start: datetime | None, end: datetime | None, at: datetime
) -> pd.DataFrame:
    """Per incident reported in ``[start, end)`` (None: unbounded): hours to accept and to
    resolve, and ``overdue`` (resolved after its due time, or open past it at ``at``)."""
    return pd.read_sql(
        text(
            """
            SELECT id, client_key, category_code, platform_code, township_code, village_code,
                   cell_code, tier, status, reported_at, due_at,
                   extract(epoch FROM accepted_at - reported_at) / 3600.0 AS hours_to_accept,
                   extract(epoch FROM resolved_at - reported_at) / 3600.0 AS hours_to_resolve,
                   coalesce(resolved_at, CAST(:at AS timestamptz)) > due_at AS overdue
            FROM incident
            WHERE (CAST(:start AS timestamptz) IS NULL OR reported_at >= :start)
              AND (CAST(:end AS timestamptz) IS NULL OR reported_at < :end)
            ORDER BY id
            """
        ),
        con,
        params={"start": start, "end": end, "at": at},
    )


def overdue(con: Connection | Engine, *, at: datetime) -> pd.DataFrame:
    """Open incidents (not in :data:`INCIDENT_DONE_STATES`) past their due time at ``at``,
    most overdue first: id, client_key, status, tier, platform_code, township_code, due_at,
    hours_overdue."""
    return pd.read_sql(
        text(
            """
            SELECT id, client_key, status, tier, platform_code, township_code, due_at,
                   extract(epoch FROM CAST(:at AS timestamptz) - due_at) / 3600.0
                       AS hours_overdue
            FROM incident WHERE NOT (status = ANY(CAST(:done AS text[]))) AND due_at < :at
            ORDER BY due_at, id
            """
        ),
        con,
        params={"at": at, "done": list(INCIDENT_DONE_STATES)},
    )


def placements(
    con: Connection | Engine, *, plan_id: int | None = None, ids: list[int] | None = None
) -> pd.DataFrame:
    """Incidents (all, or ``ids``) placed again against ``plan_id`` (None: the published
    plans), next to their placement at report time. Nothing is written.

    Columns: id, client_key, plan_id_at_report, cell_code_at_report, village_code_at_report,
    plan_id, cell_code, village_code, township_code.
    """
    plan_filter = PUBLISHED if plan_id is None else "p.id = :plan"
    where = "true" if ids is None else "i.id = ANY(:ids)"
    query = REJOIN.format(where=where, placement=PLACEMENT.format(plan_filter=plan_filter))
    return pd.read_sql(text(query), con, params={"plan": plan_id, "ids": ids})
