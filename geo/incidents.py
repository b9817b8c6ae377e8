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

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point
from sqlalchemy import Connection, Engine, Row
from sqlalchemy.exc import DBAPIError

from geo.db import incident_store as store
from geo.db.incident_store import INTAKE_COLUMNS
from geo.db.models import (
    INCIDENT_DONE_STATES,
    INCIDENT_ROLES,
    INCIDENT_SOURCE_ROLES,
    INCIDENT_SOURCES,
    INCIDENT_STATES,
    INCIDENT_TIER_DUE_FACTORS,
    INCIDENT_TIERS,
)
from geo.errors import ConfigError, DataError, TransitionError, UnknownIncidentError
from geo.profiles import load_profile
from geo.settings import LOCAL_TZ

__all__ = [
    "DONE_STATES", "INCIDENT_SOURCES", "INCIDENT_STATES", "INTAKE_COLUMNS", "RETRY_STATES",
    "ROLES", "SOURCE_ROLES", "TIERS", "TIER_DUE_FACTORS", "TRANSITIONS", "Event", "Intake",
    "TransitionError", "UnknownIncidentError", "allowed_moves", "check_move", "due_hours",
    "history", "incident_times", "intake", "overdue", "rejoin", "report", "sync_platforms",
    "transition", "with_retries",
]  # fmt: skip

#: Who may move an incident. ``system`` is the intake pipeline (files, 12345 bridge, video).
ROLES = INCIDENT_ROLES

#: The role that reports an incident of each source, when the caller names none.
SOURCE_ROLES = INCIDENT_SOURCE_ROLES

#: Tiers of the escalation chain. A new incident sits at tier 0 (the township takes it);
#: ``escalated`` moves it one tier up.
TIERS = INCIDENT_TIERS

#: Multiplier of a category's ``due_hours`` at each tier of :data:`TIERS`: a case escalated
#: to the county or beyond involves more departments and gets more time. The clock restarts
#: when the incident reaches a tier (reported, escalated), is re-dispatched after a return,
#: or is reopened.
TIER_DUE_FACTORS = INCIDENT_TIER_DUE_FACTORS

#: States in which the work is done (the due time no longer runs).
DONE_STATES = INCIDENT_DONE_STATES

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
    store.check_choice("status", status, INCIDENT_STATES)
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
    store.check_choice("status", status, INCIDENT_STATES)
    store.check_choice("status", to_status, INCIDENT_STATES)
    store.check_choice("role", role, ROLES)
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
    raw = (load_profile(profile) if isinstance(profile, str) else profile).raw
    platforms, categories = raw.get("platforms"), raw.get("incident_categories")
    if not platforms or not categories:
        raise ConfigError("profile has no 'platforms' or no 'incident_categories'")
    codes = {p["code"] for p in platforms}
    known = codes | set(store.platform_codes(conn))
    for c in categories:
        if c.get("platform") not in known:
            raise ConfigError(
                f"incident category {c.get('code')!r} names platform {c.get('platform')!r}; "
                f"platforms: {', '.join(sorted(known))}"
            )
    store.upsert_platforms(conn, platforms, categories)
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
        Time of the report (default: the server's clock); a naive time is the county's local
        time (:data:`geo.settings.LOCAL_TZ`).  Refused when later than now +
        ``WANGGE_CLOCK_SKEW_MIN`` or before ``WANGGE_EPOCH`` (:mod:`geo.settings`).
    actor, role
        Who reported it; ``role`` defaults by source (:data:`SOURCE_ROLES`).

    Raises
    ------
    DataError
        If the category, source or role is unknown, there is neither point nor household,
        the client key is empty or blank, the point is not finite longitude/latitude, or the
        time is implausible (the checks bulk :func:`intake` quarantines by).
    """
    role = role or SOURCE_ROLES.get(source)
    store.check_reports(conn, [category], [source], [role])
    if point is None and household is None:
        raise DataError("an incident needs a point or a household")
    store.check_households(conn, [household])
    lon, lat = (None, None) if point is None else _lonlat(point)
    now = store.server_now(conn)
    when = now if reported_at is None else _local(reported_at)
    store.check_report_values(client_key, lon, lat, when, now)
    params = {
        "client_key": client_key,
        "category": category,
        "source": source,
        "reported_at": when,
        "household": household,
        "description": description,
        "actor": actor,
        "role": role,
        "lon": lon,
        "lat": lat,
    }
    new_id = store.insert_report(conn, params)
    if new_id is not None:
        return Intake(new_id, True)
    return Intake(int(store.incident_id(conn, client_key)), False)


def intake(
    conn: Connection,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    actor: str = "intake",
    role: str | None = None,
    file: str = "<frame>",
    row_numbers: list[int] | None = None,
) -> pd.DataFrame:
    """Take in many incidents at once: COPY to a staging table, one INSERT ... SELECT.

    Parameters
    ----------
    conn
        Connection with a transaction open; the intake joins it.
    frame
        One row per report: ``client_key``, ``category_code``, ``source``, ``reported_at``
        (timestamps or ISO 8601 strings; offsets may be mixed; naive times are the county's
        local time, :data:`geo.settings.LOCAL_TZ`), optional ``household_code``,
        ``description``, ``actor``, ``role``, and point geometries (any CRS, converted to
        EPSG:4326; None where a household code gives the place). A plain DataFrame needs
        ``lon``/``lat`` columns (EPSG:4326).
    actor, role
        Defaults for rows without their own; ``role`` defaults by source.
    file, row_numbers
        Name and row numbers (the file's own line numbers) the quarantine rows carry;
        default ``"<frame>"`` and the 1-based positions.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``frame`` (same index): ``client_key``, ``id`` (<NA> when quarantined),
        ``created`` (False for a key already known, repeated within ``frame`` after its first
        row, or quarantined), ``fault`` (None, or ``fault: message``).  Rows with an empty
        key, an unreadable time or one later than now + ``WANGGE_CLOCK_SKEW_MIN`` or before
        ``WANGGE_EPOCH``, coordinates that are not finite longitude/latitude, no place, or an
        unknown household are not taken in but written to ``quarantine``
        (``attrs["load_id"]`` is their load id).

    Raises
    ------
    DataError
        Missing columns, unknown categories/sources/roles (for the whole frame).
    """
    return store.intake_frame(
        conn, frame, actor=actor, role=role, file=file, row_numbers=row_numbers
    )


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
    store.check_choice("status", to_status, INCIDENT_STATES)
    store.check_choice("role", role, ROLES)
    row = store.lock_incident(conn, incident_id)
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
    values, note = _effects(conn, row, to_status, when, platform, category, satisfaction, note)
    move = store.Move(incident_id, row.status, to_status, when, actor, role, note, values)
    event_id = store.write_move(conn, move)
    return Event(event_id, incident_id, row.status, to_status, when)


def _effects(
    conn: Connection,
    row: Row,
    to_status: str,
    when: datetime,
    platform: str | None,
    category: str | None,
    satisfaction: int | None,
    note: str | None,
) -> tuple[dict[str, Any], str | None]:
    """New column values of the incident and the event note for a move (see
    :func:`transition`); ``row`` is the locked incident (:func:`store.lock_incident`)."""
    values: dict[str, Any] = {}
    if to_status == "accepted":
        values["accepted_at"] = row.accepted_at if row.accepted_at is not None else when
    elif to_status == "dispatched":
        values, note = _dispatch(conn, row, when, platform, category, note)
    elif to_status == "escalated":
        if row.tier + 1 >= len(TIERS):
            raise TransitionError(
                f"incident is at the top tier ({TIERS[row.tier]!r}); it cannot be escalated"
            )
        values["tier"] = row.tier + 1
        values["due_at"] = when + timedelta(hours=due_hours(row.due_hours, row.tier + 1))
        note = _join(note, f"tier={TIERS[row.tier + 1]}")
    elif to_status == "resolved":
        values["resolved_at"] = when
    elif to_status == "fed_back":
        if satisfaction is None or not 1 <= int(satisfaction) <= 5:
            raise TransitionError(f"fed_back needs satisfaction 1..5, not {satisfaction!r}")
        values["satisfaction"] = int(satisfaction)
        note = _join(note, f"satisfaction={int(satisfaction)}")
    elif to_status == "closed":
        values["closed_at"] = when
    elif to_status == "reopened":
        values |= {"resolved_at": None, "closed_at": None, "satisfaction": None}
        values["due_at"] = when + timedelta(hours=due_hours(row.due_hours, row.tier))
    if to_status != "dispatched" and (platform is not None or category is not None):
        raise TransitionError("platform and category can only change when dispatching")
    if to_status != "fed_back" and satisfaction is not None:
        raise TransitionError("satisfaction is only given with fed_back")
    return values, note


def _dispatch(
    conn: Connection,
    row: Row,
    when: datetime,
    platform: str | None,
    category: str | None,
    note: str | None,
) -> tuple[dict[str, Any], str | None]:
    """Values and note of a ``dispatched`` move: platform, and a new category if re-routed."""
    values: dict[str, Any] = {}
    hours = row.due_hours
    if category is not None and category != row.category_code:
        found = store.category_route(conn, category)
        if found is None:
            store.check_reports(conn, [category], [], [])
        values["category_code"] = category
        hours = found.due_hours
        platform = platform or found.platform_code
    platform = platform or row.platform_code
    if platform is None or not store.platform_exists(conn, platform):
        known = ", ".join(store.platform_codes(conn))
        raise TransitionError(f"unknown platform {platform!r}; platforms: {known}")
    values["platform_code"] = platform
    note = _join(note, f"platform={platform}")
    if row.status in ("returned", "reopened") or category is not None:
        values["due_at"] = when + timedelta(hours=due_hours(hours, row.tier))
    return values, note


def _join(note: str | None, detail: str) -> str:
    return detail if not note else f"{note} [{detail}]"


# ---------------------------------------------------------------------------------- reading


def history(con: Connection | Engine, incident_id: int) -> pd.DataFrame:
    """The events of one incident, oldest first: id, at, from_status, to_status, actor, role,
    note (times timezone-aware)."""
    return store.history(con, incident_id)


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
    return store.incident_times(con, start=start, end=end, at=at or _utcnow())


def overdue(con: Connection | Engine, *, at: datetime | None = None) -> pd.DataFrame:
    """Open incidents past their due time at ``at`` (default now), most overdue first.

    Open means not in :data:`DONE_STATES`. Columns: id, client_key, status, tier,
    platform_code, township_code, due_at, hours_overdue.
    """
    return store.overdue(con, at=at or _utcnow())


def rejoin(
    con: Connection | Engine, *, plan_id: int | None = None, ids: list[int] | None = None
) -> pd.DataFrame:
    """Place incidents again against ``plan_id`` (default: the published plans) to compare.

    Nothing is written: the cell, village and township recorded at report time stay as they
    were. Columns: id, client_key, plan_id_at_report, cell_code_at_report,
    village_code_at_report, plan_id, cell_code, village_code, township_code, moved (the cell
    differs from the one at report time).
    """
    frame = store.placements(con, plan_id=plan_id, ids=ids)
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


def _lonlat(point: Point | tuple[float, float]) -> tuple[float, float]:
    """The point's longitude and latitude as floats (checked by the shared
    :func:`geo.db.incident_store.point_faults`, through ``check_report_values``)."""
    try:
        lon, lat = (point.x, point.y) if isinstance(point, Point) else map(float, point)
    except (TypeError, ValueError):
        raise DataError(f"point {point!r} is not (longitude, latitude)") from None
    if math.isnan(lon) or math.isnan(lat):
        raise DataError(f"point ({lon}, {lat}) is not finite longitude/latitude in EPSG:4326")
    return lon, lat


def _local(value: datetime) -> datetime:
    """``value`` timezone-aware: a naive time is the county's local time (LOCAL_TZ)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(LOCAL_TZ))


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise DataError(f"{name} must be timezone-aware, not {value.isoformat()}")
    return value


def _utcnow() -> datetime:
    return pd.Timestamp.now(tz="UTC").to_pydatetime()
