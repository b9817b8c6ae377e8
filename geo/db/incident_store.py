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

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, Row, text, update

from geo.db import load_store
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
from geo.settings import LOCAL_TZ, Settings, get_settings

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


def known_households(conn: Connection, codes: Iterable[object]) -> set[str]:
    """The codes among ``codes`` (str items) that are stored households."""
    wanted = sorted({c for c in codes if isinstance(c, str)})
    if not wanted:
        return set()
    return set(
        conn.execute(
            text("SELECT code FROM household WHERE code = ANY(:c)"), {"c": wanted}
        ).scalars()
    )


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


#: Faults of a report that intake refuses (a single report) or quarantines (bulk), with the
#: field they concern; the message says what was found and what is allowed.
INTAKE_FAULTS = (
    "missing_value",  # empty client_key or reported_at
    "bad_value",  # reported_at that is not a date and time, lon/lat that are not numbers
    "future_time",  # reported_at later than the server's clock + WANGGE_CLOCK_SKEW_MIN
    "before_epoch",  # reported_at before WANGGE_EPOCH
    "non_finite_coordinates",
    "out_of_range",  # not longitude -180..180 / latitude -90..90
    "wrong_geometry_type",  # a geometry that is not a point
    "empty_geometry",  # neither a point nor a household_code
    "unknown_parent",  # a household_code that is not stored
)


def parse_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``values`` as UTC timestamps, and a mask of the values that are not times.

    Timezone-aware values keep their instant (mixed offsets are fine); naive values are
    taken in the county's local time :data:`geo.settings.LOCAL_TZ`; strings are parsed as
    ISO 8601 (or anything :class:`pandas.Timestamp` reads).  Missing values are NaT and not
    in the mask.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC"), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_datetime64_dtype(values):
        local = values.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="NaT")
        return local.dt.tz_convert("UTC"), (local.isna() & values.notna()).to_numpy()
    out, bad = [], np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values.astype(object).tolist()):
        stamp = _timestamp(value)
        if stamp is None:
            bad[i] = True
            stamp = pd.NaT
        out.append(stamp)
    return pd.Series(pd.to_datetime(out, utc=True), index=values.index), bad


def _timestamp(value: object) -> pd.Timestamp | None:
    """One value as a UTC timestamp, NaT if missing, None if not a time."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return pd.NaT
    if isinstance(value, str) and not value.strip():
        return pd.NaT
    if not isinstance(value, (str, datetime, pd.Timestamp, np.datetime64)):
        return None
    try:
        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return pd.NaT
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(LOCAL_TZ)
        return stamp.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return None


def time_faults(
    times: pd.Series, *, now: datetime, settings: Settings | None = None
) -> list[tuple[str, str] | None]:
    """Per time (UTC timestamps, NaT for missing): None, or ``(fault, message)`` for a time
    after ``now`` + ``WANGGE_CLOCK_SKEW_MIN`` or before ``WANGGE_EPOCH``."""
    settings = settings or get_settings()
    latest = pd.Timestamp(now) + pd.Timedelta(minutes=settings.clock_skew_min)
    epoch = pd.Timestamp(settings.epoch)
    out: list[tuple[str, str] | None] = []
    for t in times.tolist():
        if t is pd.NaT or pd.isna(t):
            out.append(None)
        elif t > latest:
            ahead = (t - pd.Timestamp(now)).total_seconds() / 60
            out.append((
                "future_time",
                f"reported_at {t.isoformat()} is {ahead:,.0f} min after the server's clock "
                f"(allowed: {settings.clock_skew_min:g} min, WANGGE_CLOCK_SKEW_MIN); check the "
                "device's clock",
            ))  # fmt: skip
        elif t < epoch:
            out.append((
                "before_epoch",
                f"reported_at {t.isoformat()} is before {epoch.isoformat()} (WANGGE_EPOCH); "
                "check the device's clock",
            ))  # fmt: skip
        else:
            out.append(None)
    return out


def point_faults(lon: np.ndarray, lat: np.ndarray) -> list[tuple[str, str] | None]:
    """Per point (floats, both NaN for no point): None, or ``(fault, message)`` when the
    coordinates are not finite or not longitude -180..180 / latitude -90..90 (EPSG:4326).

    The one coordinate check of every intake path (:func:`geo.incidents.report`,
    :func:`intake_frame`)."""
    out: list[tuple[str, str] | None] = []
    for x, y in zip(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), strict=True):
        if np.isnan(x) and np.isnan(y):
            out.append(None)
        elif not (np.isfinite(x) and np.isfinite(y)):
            out.append((
                "non_finite_coordinates",
                f"point ({x}, {y}) is not finite longitude/latitude in EPSG:4326",
            ))  # fmt: skip
        elif not (-180 <= x <= 180 and -90 <= y <= 90):
            out.append((
                "out_of_range",
                f"point ({x:g}, {y:g}) is not longitude -180..180 / latitude -90..90 "
                "(EPSG:4326)",
            ))  # fmt: skip
        else:
            out.append(None)
    return out


def key_faults(keys: pd.Series) -> list[tuple[str, str] | None]:
    """Per client key: None, or ``("missing_value", ...)`` when it is empty or blank."""
    return [
        ("missing_value", "client_key is empty; every report needs its own key")
        if k is None or (isinstance(k, float) and np.isnan(k)) or not str(k).strip()
        else None
        for k in keys.astype(object).tolist()
    ]


def check_report_values(
    client_key: object, lon: float | None, lat: float | None, reported_at: datetime, now
) -> None:
    """Raise :class:`DataError` when one report's key, point or time is not plausible
    (the checks of :func:`key_faults`, :func:`point_faults`, :func:`time_faults`)."""
    x = np.nan if lon is None else lon
    y = np.nan if lat is None else lat
    stamp = pd.Series([pd.Timestamp(reported_at).tz_convert("UTC")])
    for found in (
        key_faults(pd.Series([client_key], dtype=object))[0],
        point_faults(np.array([x], dtype=float), np.array([y], dtype=float))[0],
        time_faults(stamp, now=now)[0],
    ):
        if found is not None:
            raise DataError(f"{found[0]}: {found[1]}")


def intake_frame(
    conn: Connection,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    actor: str = "intake",
    role: str | None = None,
    file: str = "<frame>",
    row_numbers: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Check and take in many reports: COPY to a staging table, one INSERT ... SELECT.

    See :func:`geo.incidents.intake` (the public entry) for ``frame``'s columns.  Rows that
    fail a check of :data:`INTAKE_FAULTS` (empty key, implausible or unreadable time, bad
    coordinates, no place, unknown household) are not taken in: they are written to
    ``quarantine`` (kind ``incidents``, ``file``, row number from ``row_numbers`` or the
    1-based position, field, ``fault: message``, raw row) and flagged in the result.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``frame``: ``client_key``, ``id`` (nullable, <NA> when quarantined),
        ``created``, ``fault`` (None, or ``fault: message``).  ``attrs["load_id"]`` is the
        quarantine rows' load id (None when nothing was quarantined).

    Raises
    ------
    DataError
        Missing columns, unknown categories/sources/roles (a configuration fault, for the
        whole frame), or rows that could not be placed.
    """
    now = server_now(conn)
    staged, faults = _staging_frame(conn, frame, actor=actor, role=role, now=now)
    good = faults["fault"].isna().to_numpy()
    staged = staged.loc[good]
    check_reports(conn, staged["category_code"], staged["source"], staged["role"])
    first = ~staged["client_key"].duplicated()
    created, ids = _insert_staged(conn, staged.loc[first]) if len(staged) else (set(), {})
    missing = sorted(set(staged["client_key"]) - set(ids))
    if missing:
        raise DataError(f"{len(missing)} incident(s) could not be placed, e.g. {missing[0]!r}")
    keys = pd.Series(
        [None if _code_or_none(k) is None else str(k) for k in frame["client_key"].tolist()],
        index=frame.index,
        dtype=object,
    )
    taken = pd.Series(good, index=frame.index)
    first_all = pd.Series(False, index=frame.index)
    first_all.loc[staged.index[first.to_numpy()]] = True
    result = pd.DataFrame(
        {
            "client_key": keys,
            "id": keys.map(ids).where(taken, None).astype("Int64"),
            "created": keys.isin(created) & first_all & taken,
            "fault": faults["message"],
        },
        index=frame.index,
    )
    result.attrs["load_id"] = _quarantine(conn, frame, faults, file, row_numbers)
    return result


def _quarantine(conn, frame, faults: pd.DataFrame, file: str, row_numbers) -> str | None:
    """Write the faulted rows of ``frame`` to ``quarantine``; their load id (None if none)."""
    bad = np.flatnonzero(faults["fault"].notna().to_numpy())
    if bad.size == 0:
        return None
    numbers = list(row_numbers) if row_numbers is not None else range(1, len(frame) + 1)
    load_id = f"incidents-{uuid.uuid4().hex[:16]}"
    rows = []
    for i in bad:
        record = frame.iloc[i]
        raw = json.loads(
            pd.Series({str(k): v for k, v in record.items()}).to_json(default_handler=str)
        )
        rows.append({
            "load_id": load_id, "kind": "incidents", "file": file,
            "row_number": int(numbers[i]), "field": faults["field"].iloc[i],
            "fault": faults["message"].iloc[i], "raw": raw,
        })  # fmt: skip
    load_store.write_quarantine(conn, rows)
    return load_id


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


def _points(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list]:
    """Longitude, latitude (EPSG:4326, NaN for none) and per row a fault of the geometry or
    the lon/lat values themselves (not a point; not a number)."""
    n = len(frame)
    faults: list[tuple[str, str, str] | None] = [None] * n
    if isinstance(frame, gpd.GeoDataFrame):
        require_crs(frame, name="incident frame")
        values = np.asarray(frame.geometry.values, dtype=object)
        missing = shapely.is_missing(values) | shapely.is_empty(values)
        types = shapely.get_type_id(values)
        for i in np.flatnonzero(~missing & (types != 0)):
            faults[i] = ("geometry", "wrong_geometry_type", "the geometry is not a point")
        ok = ~missing & (types == 0)
        lon, lat = np.full(n, np.nan), np.full(n, np.nan)
        if ok.any():
            pts = gpd.GeoSeries(values[ok], crs=frame.crs)
            if frame.crs != STORAGE_CRS:
                with np.errstate(all="ignore"):
                    pts = pts.to_crs(STORAGE_CRS)
            xy = shapely.get_coordinates(pts.values)
            lon[ok], lat[ok] = xy[:, 0], xy[:, 1]
            # a point that does not convert (inf) must not read as "no point"
            lost = ok & np.isnan(lon)
            lon[lost] = np.inf
        return lon, lat, faults
    if not {"lon", "lat"} <= set(frame.columns):
        raise DataError("incident frame needs point geometries or 'lon'/'lat' columns")
    coords = []
    for name in ("lon", "lat"):
        raw = frame[name].astype(object).where(frame[name].notna(), None)
        blank = raw.map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
        number = pd.to_numeric(raw.where(~blank, None), errors="coerce").astype(float)
        for i in np.flatnonzero((number.isna() & ~blank).to_numpy()):
            if faults[i] is None:
                faults[i] = (name, "bad_value", f"{name} {_short(raw.iloc[i])!r} is not a number")
        coords.append(number.to_numpy(dtype=float, copy=True))
    lon, lat = coords
    half = np.isnan(lon) ^ np.isnan(lat)
    lon[half & np.isnan(lon)] = np.inf  # only one of lon/lat: not a point, not "no point"
    lat[half & np.isnan(lat)] = np.inf
    return lon, lat, faults


def _code_or_none(value: object) -> str | None:
    """A code as stripped text; None for a missing or blank value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text_ = str(value).strip()
    return text_ or None


def _short(value: object, width: int = 40) -> str:
    text_ = str(value)
    return text_ if len(text_) <= width else text_[: width - 1] + "…"


def _staging_frame(
    conn: Connection, frame: pd.DataFrame, *, actor: str, role: str | None, now: datetime
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The rows to stage, and per row its first fault (``field``, ``fault``, ``message``)."""
    missing = [c for c in INTAKE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"incident frame lacks column(s): {', '.join(missing)}")
    n = len(frame)
    lon, lat, faults = _points(frame)
    reported, unreadable = parse_times(frame["reported_at"])

    def column(name: str, default: object) -> pd.Series:
        if name in frame.columns:
            return frame[name].astype(object).where(frame[name].notna(), default)
        return pd.Series(default, index=frame.index, dtype=object)

    households = pd.Series(
        [_code_or_none(v) for v in column("household_code", None).tolist()],
        index=frame.index,
        dtype=object,
    )
    known = known_households(conn, households)
    checks = [
        [("client_key", *f) if f else None for f in key_faults(frame["client_key"])],
        [("reported_at", "bad_value",
          f"reported_at {_short(v)!r} is not a date and time (ISO 8601, e.g. "
          "2026-03-02T08:00+08:00)") if bad else None
         for v, bad in zip(frame["reported_at"].tolist(), unreadable, strict=True)],
        [("reported_at", "missing_value", "reported_at is empty") if pd.isna(t) and not bad
         else None for t, bad in zip(reported.tolist(), unreadable, strict=True)],
        [("reported_at", *f) if f else None for f in time_faults(reported, now=now)],
        [("geometry", *f) if f else None for f in point_faults(lon, lat)],
        [("geometry", "empty_geometry", "neither a point nor a household_code")
         if np.isnan(x) and np.isnan(y) and h is None else None
         for x, y, h in zip(lon, lat, households.tolist(), strict=True)],
        [("household_code", "unknown_parent", f"household_code {h!r} is not a known household")
         if h is not None and h not in known else None for h in households.tolist()],
    ]  # fmt: skip
    for check in checks:
        faults = [f if f is not None else c for f, c in zip(faults, check, strict=True)]
    table = pd.DataFrame(
        {
            "field": [f[0] if f else None for f in faults],
            "fault": [f[1] if f else None for f in faults],
            "message": [f"{f[1]}: {f[2]}" if f else None for f in faults],
        },
        index=frame.index,
    )
    has_point = ~np.isnan(lon) & np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(n, None, dtype=object)
    geoms[has_point] = shapely.points(lon[has_point], lat[has_point])
    source = frame["source"].astype(str)
    roles = column("role", role)
    roles = roles.where(roles.notna(), source.map(dict(INCIDENT_SOURCE_ROLES)))
    staged = gpd.GeoDataFrame(
        {
            "client_key": frame["client_key"].astype(object).map(str),
            "category_code": frame["category_code"].astype(str),
            "source": source,
            "reported_at": reported,
            "household_code": households,
            "description": column("description", None),
            "actor": column("actor", actor).astype(str),
            "role": roles,
        },
        geometry=geoms,
        crs=STORAGE_CRS,
        index=frame.index,
    )
    return staged, table


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
