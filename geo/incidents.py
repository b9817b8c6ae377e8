"""Incidents and their life cycle: "one centre, N platforms" (一中心N平台).

An incident comes in from a grid worker ("whistle"), the 12345 hotline, a video/e-fence alert
or a resident; the township accepts it, dispatches it to a department on one of the county's
platforms, the department works on it and resolves it, the resident's satisfaction is fed
back and the case is closed -- Yanchi's closed loop "clue reported -> problem handled ->
result fed back". On the way it may be escalated one tier up ("the grid worker blows the
whistle, the township reports, the departments report in"), returned by a department that is
the wrong one (then re-routed and re-timed) or reopened.

* The allowed moves are one table, :data:`TRANSITIONS` (state -> next state -> roles); every
  other move is refused with :class:`TransitionError`, which lists what is allowed.
* Every move is a row of ``incident_event`` (who, role, when, note), append-only in the
  database (a trigger refuses UPDATE and DELETE).
* Intake (:func:`report`, :func:`intake`) is idempotent by a client key and safe under
  concurrent writers: ``INSERT ... ON CONFLICT (client_key) DO NOTHING`` with the ``reported``
  event in the same statement. Moves lock the incident row (``SELECT ... FOR UPDATE``), so two
  dispatchers cannot both move it.
* Placement: an incident is placed in its cell, village and township by a spatial join against
  the published plan when it is reported; those columns are never rewritten, so re-drawing
  the boundaries later keeps history; :func:`rejoin` compares with any plan.
* Platforms and categories are data (:func:`sync_platforms` reads them from a profile).

Every function takes an SQLAlchemy connection and works inside the caller's transaction
(``with engine.begin() as conn``); :func:`with_retries` runs a unit of work again after a
deadlock, a serialisation failure or a dropped connection. Times are timezone-aware; points
are longitude/latitude in EPSG:4326.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from geo import _incident_sql as sql
from geo.db.io import copy_frame
from geo.db.models import INCIDENT_SOURCES, INCIDENT_STATES
from geo.errors import ConfigError, DataError, TransitionError, UnknownIncidentError
from geo.projection import STORAGE_CRS, require_crs

#: Who may move an incident. ``system`` is the intake pipeline (files, 12345 bridge, video).
ROLES = ("grid_worker", "resident", "township", "centre", "department", "system")

#: The role that reports an incident of each source, when the caller names none.
SOURCE_ROLES = MappingProxyType(
    {"whistle": "grid_worker", "hotline_12345": "centre", "video_alert": "system",
     "resident": "resident"}
)  # fmt: skip

#: Tiers of the escalation chain. A new incident sits at tier 0 (the township takes it);
#: ``escalated`` moves it one tier up.
TIERS = ("township", "county", "city")

#: Multiplier of a category's ``due_hours`` at each tier of :data:`TIERS`: a case escalated
#: to the county or beyond involves more departments and gets more time. The clock restarts
#: when the incident reaches a tier (reported, escalated), is re-dispatched after a return,
#: or is reopened.
TIER_DUE_FACTORS: tuple[float, ...] = (1.0, 1.5, 2.0)

#: States in which the work is done (the due time no longer runs).
DONE_STATES = ("resolved", "fed_back", "closed")

#: The transition table: state -> {allowed next state: roles allowed to make that move}.
#: Every move not listed here is refused. ``reported`` is only ever entered by intake.
TRANSITIONS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        state: MappingProxyType(moves)
        for state, moves in {
            "reported": {"accepted": ("township", "centre"), "escalated": ("township",)},
            "accepted": {"dispatched": ("township", "centre"), "escalated": ("township",)},
            "dispatched": {
                "in_progress": ("department",),
                "returned": ("department",),
                "escalated": ("department", "township"),
            },
            "in_progress": {
                "resolved": ("department",),
                "returned": ("department",),
                "escalated": ("department",),
            },
            "escalated": {"accepted": ("centre",)},
            "returned": {"dispatched": ("township", "centre"), "escalated": ("township",)},
            "resolved": {
                "fed_back": ("resident", "grid_worker"),
                "reopened": ("resident", "grid_worker", "centre"),
            },
            "fed_back": {"closed": ("township", "centre"), "reopened": ("township", "centre")},
            "closed": {"reopened": ("centre",)},
            "reopened": {
                "accepted": ("township", "centre"),
                "dispatched": ("township", "centre"),
                "escalated": ("township",),
            },
        }.items()
    }
)

if set(TRANSITIONS) != set(INCIDENT_STATES) or any(
    t not in INCIDENT_STATES or r not in ROLES
    for moves in TRANSITIONS.values()
    for t, roles in moves.items()
    for r in roles
):  # pragma: no cover - guards edits of the table against the schema's constants
    raise ImportError("geo.incidents.TRANSITIONS disagrees with INCIDENT_STATES or ROLES")


def allowed_moves(status: str, role: str | None = None) -> tuple[str, ...]:
    """The states an incident in ``status`` may move to (by ``role``, if given)."""
    _check_choice("status", status, INCIDENT_STATES)
    moves = TRANSITIONS[status]
    return tuple(t for t, roles in moves.items() if role is None or role in roles)


def check_move(status: str, to_status: str, role: str) -> None:
    """Raise :class:`TransitionError` unless ``role`` may move ``status`` -> ``to_status``.

    Raises
    ------
    DataError
        If a state or the role is not one of the allowed values.
    TransitionError
        If the move is not in :data:`TRANSITIONS`, or not for that role.
    """
    _check_choice("status", status, INCIDENT_STATES)
    _check_choice("status", to_status, INCIDENT_STATES)
    _check_choice("role", role, ROLES)
    moves = TRANSITIONS[status]
    if to_status not in moves:
        allowed = ", ".join(moves) or "none"
        raise TransitionError(
            f"cannot move an incident from {status!r} to {to_status!r}; "
            f"from {status!r} it may move to: {allowed}"
        )
    if role not in moves[to_status]:
        raise TransitionError(
            f"role {role!r} may not move an incident from {status!r} to {to_status!r}; "
            f"allowed roles: {', '.join(moves[to_status])}"
        )


def due_hours(
    category_hours: float, tier: int, *, factors: tuple[float, ...] = TIER_DUE_FACTORS
) -> float:
    """Hours allowed at ``tier`` for a category allowing ``category_hours`` at tier 0."""
    if not 0 <= tier < len(factors):
        raise DataError(f"tier must be in 0..{len(factors) - 1} ({', '.join(TIERS)}), not {tier}")
    return float(category_hours) * factors[tier]


# --------------------------------------------------------------------------- configuration


def sync_platforms(conn: Connection, profile: Any) -> dict[str, int]:
    """Upsert the platforms and incident categories of ``profile`` (a name or a Profile).

    Reads ``raw["platforms"]`` (code, name, name_en) and ``raw["incident_categories"]``
    (code, name, platform, due_hours). Existing rows are updated, none are deleted (incidents
    refer to them). Returns ``{"platforms": n, "categories": m}``.

    Raises
    ------
    ConfigError
        If the profile lacks the keys, or a category names a platform that is not there.
    """
    from geo.profiles import load_profile

    raw = (load_profile(profile) if isinstance(profile, str) else profile).raw
    platforms, categories = raw.get("platforms"), raw.get("incident_categories")
    if not platforms or not categories:
        raise ConfigError("profile has no 'platforms' or no 'incident_categories'")
    codes = {p["code"] for p in platforms}
    known = codes | set(conn.execute(text("SELECT code FROM platform")).scalars())
    for c in categories:
        if c.get("platform") not in known:
            raise ConfigError(
                f"incident category {c.get('code')!r} names platform {c.get('platform')!r}; "
                f"platforms: {', '.join(sorted(known))}"
            )
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
    return {"platforms": len(platforms), "categories": len(categories)}


# --------------------------------------------------------------------------------- intake


@dataclass(frozen=True)
class Intake:
    """Result of :func:`report`: the incident's id and whether this call created it."""

    id: int
    created: bool


def report(
    conn: Connection,
    client_key: str,
    *,
    category: str,
    source: str,
    point: Point | tuple[float, float] | None = None,
    household: str | None = None,
    reported_at: datetime | None = None,
    description: str | None = None,
    actor: str,
    role: str | None = None,
) -> Intake:
    """Take in one incident, idempotently by ``client_key``, placed by the published plan.

    Parameters
    ----------
    conn
        Connection with a transaction open.
    client_key
        The client's key of the report; a second report with the same key returns the first
        incident (``created=False``) and changes nothing.
    category, source
        An ``incident_category`` code, and one of :data:`INCIDENT_SOURCES`.
    point
        Location, longitude/latitude in EPSG:4326. Defaults to the household's point.
    household
        Household code the incident concerns (optional).
    reported_at
        Timezone-aware time of the report (default: now).
    actor, role
        Who reported it; ``role`` defaults by source (:data:`SOURCE_ROLES`).

    Raises
    ------
    DataError
        If the category, source or role is unknown, or there is neither point nor household.
    """
    role = role or SOURCE_ROLES.get(source)
    _check_report(conn, [category], [source], [role])
    if point is None and household is None:
        raise DataError("an incident needs a point or a household")
    _check_households(conn, [household])
    lon, lat = (None, None) if point is None else _lonlat(point)
    params = {
        "client_key": client_key,
        "category": category,
        "source": source,
        "reported_at": _aware(reported_at, "reported_at") if reported_at else _now(conn),
        "household": household,
        "description": description,
        "actor": actor,
        "role": role,
        "lon": lon,
        "lat": lat,
        "factor": TIER_DUE_FACTORS[0],
    }
    placement = sql.PLACEMENT.format(plan_filter=sql.PUBLISHED)
    query = sql.INTAKE.format(source=sql.SINGLE_SOURCE, placement=placement)
    row = conn.execute(text(query), params).first()
    if row is not None:
        return Intake(int(row.id), True)
    found = conn.execute(
        text("SELECT id FROM incident WHERE client_key = :k"), {"k": client_key}
    ).scalar()
    return Intake(int(found), False)


INTAKE_COLUMNS = ("client_key", "category_code", "source", "reported_at")


def intake(
    conn: Connection,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    actor: str = "intake",
    role: str | None = None,
) -> pd.DataFrame:
    """Take in many incidents at once: COPY to a staging table, one INSERT ... SELECT.

    Parameters
    ----------
    conn
        Connection with a transaction open; the intake joins it.
    frame
        One row per report: ``client_key``, ``category_code``, ``source``, ``reported_at``
        (timezone-aware), optional ``household_code``, ``description``, ``actor``, ``role``,
        and point geometries (any CRS, converted to EPSG:4326; None where a household code
        gives the place). A plain DataFrame needs ``lon``/``lat`` columns (EPSG:4326).
    actor, role
        Defaults for rows without their own; ``role`` defaults by source.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``frame`` (same index): ``client_key``, ``id``, ``created`` (False for a
        key already known, or repeated within ``frame`` after its first row).

    Raises
    ------
    DataError
        Missing columns, unknown categories/sources/roles, naive times, missing places.
    """
    staged = _staging_frame(frame, actor=actor, role=role)
    _check_report(conn, staged["category_code"], staged["source"], staged["role"])
    _check_households(conn, staged["household_code"])
    first = ~staged["client_key"].duplicated()
    name = f"_incident_stage_{uuid.uuid4().hex[:12]}"
    conn.execute(text(sql.STAGE_TABLE.format(name=name)))
    copy_frame(conn, staged.loc[first], name)
    placement = sql.PLACEMENT.format(plan_filter=sql.PUBLISHED)
    query = sql.INTAKE.format(source=name, placement=placement)
    created = {r.client_key for r in conn.execute(text(query), {"factor": TIER_DUE_FACTORS[0]})}
    ids = dict(
        conn.execute(
            text(f"SELECT s.client_key, i.id FROM {name} s JOIN incident i USING (client_key)")
        ).all()
    )
    conn.execute(text(f"DROP TABLE {name}"))
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
    roles = roles.where(roles.notna(), source.map(dict(SOURCE_ROLES)))
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


def _check_report(conn: Connection, categories, sources, roles) -> None:
    known = set(conn.execute(text("SELECT code FROM incident_category")).scalars())
    bad = sorted(set(categories) - known)
    if bad:
        listed = ", ".join(map(repr, bad))
        raise DataError(
            f"unknown incident category {listed}; "
            f"allowed: {', '.join(sorted(known)) or 'none (run sync_platforms first)'}"
        )
    for value in sorted(set(sources)):
        _check_choice("source", value, INCIDENT_SOURCES)
    for value in sorted(set(roles), key=str):
        _check_choice("role", value, ROLES)


def _check_households(conn: Connection, codes) -> None:
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


# ------------------------------------------------------------------------------ transitions


@dataclass(frozen=True)
class Event:
    """One recorded move: the event's id, the incident, from and to, and when (UTC)."""

    id: int
    incident_id: int
    from_status: str
    to_status: str
    at: datetime


def transition(
    conn: Connection,
    incident_id: int,
    to_status: str,
    *,
    actor: str,
    role: str,
    note: str | None = None,
    at: datetime | None = None,
    platform: str | None = None,
    category: str | None = None,
    satisfaction: int | None = None,
    expected_from: str | None = None,
) -> Event:
    """Move incident ``incident_id`` to ``to_status`` and record the event.

    The incident row is locked (``SELECT ... FOR UPDATE``) for the rest of the caller's
    transaction, so concurrent moves of one incident are serialised and the second sees the
    first's result (and is refused if its move is no longer allowed).

    Parameters
    ----------
    to_status, role
        The target state and the mover's role; the move must be in :data:`TRANSITIONS`.
    actor, note
        Who moves it (worker code, user name, department) and a free-text note.
    at
        Timezone-aware time of the move (default: the server's clock); not before the
        incident's last event.
    platform, category
        For ``dispatched``: the platform (default: the category's) and optionally a new
        category (a returned case re-routed).
    satisfaction
        For ``fed_back``: the resident's satisfaction, 1 (worst) to 5 (best). Required.
    expected_from
        If given, refuse unless the incident is in that state now (a retried request that
        already succeeded is refused instead of applied twice).

    Raises
    ------
    TransitionError
        The move is not allowed from the current state, by that role, or lacks details.
    UnknownIncidentError
        No such incident.
    """
    _check_choice("status", to_status, INCIDENT_STATES)
    _check_choice("role", role, ROLES)
    row = conn.execute(
        text(
            "SELECT i.status, i.tier, i.category_code, i.platform_code, k.due_hours, "
            "clock_timestamp() AS now, "
            "(SELECT max(e.at) FROM incident_event e WHERE e.incident_id = i.id) AS last_at "
            "FROM incident i JOIN incident_category k ON k.code = i.category_code "
            "WHERE i.id = :id FOR UPDATE OF i"
        ),
        {"id": incident_id},
    ).first()
    if row is None:
        raise UnknownIncidentError(f"no incident with id {incident_id}")
    if expected_from is not None and row.status != expected_from:
        raise TransitionError(
            f"incident {incident_id} is {row.status!r}, not {expected_from!r} as expected"
        )
    check_move(row.status, to_status, role)
    when = _aware(at, "at") if at is not None else row.now
    if row.last_at is not None and when < row.last_at:
        raise TransitionError(
            f"a move at {when.isoformat()} would precede incident {incident_id}'s last event "
            f"at {row.last_at.isoformat()}"
        )
    sets, params, note = _effects(
        conn, row, to_status, when, platform, category, satisfaction, note
    )
    params |= {"id": incident_id, "to": to_status}
    conn.execute(text(f"UPDATE incident SET {', '.join(sets)} WHERE id = :id"), params)
    event_id = conn.execute(
        text(
            "INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role, "
            "note) VALUES (:id, :at, :frm, :to, :actor, :role, :note) RETURNING id"
        ),
        {"id": incident_id, "at": when, "frm": row.status, "to": to_status, "actor": actor,
         "role": role, "note": note},
    ).scalar_one()  # fmt: skip
    return Event(int(event_id), incident_id, row.status, to_status, when)


def _effects(conn, row, to_status, when, platform, category, satisfaction, note):
    """SET clauses, parameters and the event note for a move (see :func:`transition`)."""
    sets, params = ["status = :to"], {"when": when}
    hours = row.due_hours
    if to_status == "accepted":
        sets.append("accepted_at = coalesce(accepted_at, :when)")
    elif to_status == "dispatched":
        if category is not None and category != row.category_code:
            found = conn.execute(
                text("SELECT platform_code, due_hours FROM incident_category WHERE code = :c"),
                {"c": category},
            ).first()
            if found is None:
                _check_report(conn, [category], [], [])
            sets.append("category_code = :category")
            params["category"] = category
            hours = found.due_hours
            platform = platform or found.platform_code
        platform = platform or row.platform_code
        if (
            platform is None
            or not conn.execute(
                text("SELECT 1 FROM platform WHERE code = :p"), {"p": platform}
            ).first()
        ):
            known = ", ".join(conn.execute(text("SELECT code FROM platform ORDER BY 1")).scalars())
            raise TransitionError(f"unknown platform {platform!r}; platforms: {known}")
        sets.append("platform_code = :platform")
        params["platform"] = platform
        note = _join(note, f"platform={platform}")
        if row.status in ("returned", "reopened") or category is not None:
            sets.append("due_at = :due")
            params["due"] = when + timedelta(hours=due_hours(hours, row.tier))
    elif to_status == "escalated":
        if row.tier + 1 >= len(TIERS):
            raise TransitionError(
                f"incident is at the top tier ({TIERS[row.tier]!r}); it cannot be escalated"
            )
        sets += ["tier = tier + 1", "due_at = :due"]
        params["due"] = when + timedelta(hours=due_hours(hours, row.tier + 1))
        note = _join(note, f"tier={TIERS[row.tier + 1]}")
    elif to_status == "resolved":
        sets.append("resolved_at = :when")
    elif to_status == "fed_back":
        if satisfaction is None or not 1 <= int(satisfaction) <= 5:
            raise TransitionError(f"fed_back needs satisfaction 1..5, not {satisfaction!r}")
        sets.append("satisfaction = :sat")
        params["sat"] = int(satisfaction)
        note = _join(note, f"satisfaction={int(satisfaction)}")
    elif to_status == "closed":
        sets.append("closed_at = :when")
    elif to_status == "reopened":
        sets += ["resolved_at = NULL", "closed_at = NULL", "satisfaction = NULL", "due_at = :due"]
        params["due"] = when + timedelta(hours=due_hours(hours, row.tier))
    if to_status != "dispatched" and (platform is not None or category is not None):
        raise TransitionError("platform and category can only change when dispatching")
    if to_status != "fed_back" and satisfaction is not None:
        raise TransitionError("satisfaction is only given with fed_back")
    return sets, params, note


def _join(note: str | None, detail: str) -> str:
    return detail if not note else f"{note} [{detail}]"


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
    con: Connection | Engine,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    at: datetime | None = None,
) -> pd.DataFrame:
    """Per incident reported in ``[start, end)``: hours to accept and to resolve, overdue.

    ``overdue`` is True when the incident was resolved after its due time, or is still not
    resolved at ``at`` (default: now) and past its due time.
    """
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
        params={"start": start, "end": end, "at": at or _utcnow()},
    )


def overdue(con: Connection | Engine, *, at: datetime | None = None) -> pd.DataFrame:
    """Open incidents past their due time at ``at`` (default now), most overdue first.

    Columns: id, client_key, status, tier, platform_code, township_code, due_at,
    hours_overdue.
    """
    done = ", ".join(f"'{s}'" for s in DONE_STATES)
    return pd.read_sql(
        text(
            f"""
            SELECT id, client_key, status, tier, platform_code, township_code, due_at,
                   extract(epoch FROM CAST(:at AS timestamptz) - due_at) / 3600.0
                       AS hours_overdue
            FROM incident WHERE status NOT IN ({done}) AND due_at < :at
            ORDER BY due_at, id
            """
        ),
        con,
        params={"at": at or _utcnow()},
    )


def rejoin(
    con: Connection | Engine, *, plan_id: int | None = None, ids: list[int] | None = None
) -> pd.DataFrame:
    """Place incidents again against ``plan_id`` (default: the published plans) to compare.

    Nothing is written: the cell, village and township recorded at report time stay as they
    were. Columns: id, client_key, plan_id_at_report, cell_code_at_report,
    village_code_at_report, plan_id, cell_code, village_code, township_code, moved (the cell
    differs from the one at report time).
    """
    plan_filter = sql.PUBLISHED if plan_id is None else "p.id = :plan"
    where = "true" if ids is None else "i.id = ANY(:ids)"
    query = sql.REJOIN.format(where=where, placement=sql.PLACEMENT.format(plan_filter=plan_filter))
    frame = pd.read_sql(text(query), con, params={"plan": plan_id, "ids": ids})
    frame["moved"] = frame["cell_code"].fillna("") != frame["cell_code_at_report"].fillna("")
    return frame


# ---------------------------------------------------------------------------------- helpers

R = TypeVar("R")

#: SQLSTATEs worth a retry: serialisation failure, deadlock, connection failures.
RETRY_STATES = ("40001", "40P01", "08000", "08003", "08006", "57P01")


def with_retries(
    engine: Engine,
    work: Callable[..., R],
    *args: Any,
    attempts: int = 5,
    backoff_s: float = 0.05,
    **kwargs: Any,
) -> R:
    """Run ``work(conn, *args, **kwargs)`` in a transaction, retrying transient failures.

    A deadlock, serialisation failure or dropped connection rolls the transaction back and
    runs ``work`` again (up to ``attempts`` times, with growing pauses). Intake is idempotent,
    so a retry after a commit whose acknowledgement was lost does no harm.
    """
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn, *args, **kwargs)
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            transient = exc.connection_invalidated or state in RETRY_STATES
            if not transient or attempt == attempts:
                raise
            time.sleep(backoff_s * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _check_choice(what: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DataError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")


def _lonlat(point: Point | tuple[float, float]) -> tuple[float, float]:
    lon, lat = (point.x, point.y) if isinstance(point, Point) else map(float, point)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DataError(f"point ({lon}, {lat}) is not longitude/latitude in EPSG:4326")
    return lon, lat


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise DataError(f"{name} must be timezone-aware, not {value.isoformat()}")
    return value


def _now(conn: Connection) -> datetime:
    return conn.execute(text("SELECT clock_timestamp()")).scalar_one()


def _utcnow() -> datetime:
    return pd.Timestamp.now(tz="UTC").to_pydatetime()
