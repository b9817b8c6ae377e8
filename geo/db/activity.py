"""Writing synthetic activity (:mod:`geo.synth_activity`) into PostGIS for demos.

What :func:`write_activity` writes, in the caller's transaction:

* ``grid_worker`` (posted to the cells of ``plan_id`` when given), ``visit``,
  ``service_point`` and ``household_colour_event`` (with each household's ``colour`` set to
  its last change, as :func:`geo.centre.set_colour` does) -- each bound as arrays in one
  statement;
* incidents through the real intake (:func:`geo.db.incident_store.intake_frame`, which
  :func:`geo.incidents.intake` fronts: placement in the published plan's cells, due times,
  the ``reported`` event, reported by the worker of the household's cell);
* then each new incident's later history, *replayed*: the generator's events (every one a
  move of :data:`geo.incidents.TRANSITIONS` by an allowed role, checked when
  :mod:`geo.synth_activity` is imported) are appended to ``incident_event`` in one statement
  and the incident rows get the values :func:`geo.incidents.transition` would have left:
  status, tier (one per ``escalated``), ``accepted_at``, ``resolved_at``/``closed_at``/
  ``satisfaction`` (cleared by a later ``reopened``) and ``due_at`` (restarted at
  ``escalated``, ``reopened`` and a re-dispatch after ``returned``/``reopened``, from the
  stored category's ``due_hours`` × :data:`~geo.db.models.INCIDENT_TIER_DUE_FACTORS`).
  The notes are those ``transition`` writes (``platform=...``, ``tier=...``,
  ``satisfaction=...``). Moves go in bulk because replaying months of a county move by
  move takes minutes.

Only new rows are written: workers, service points and incidents are keyed by code (client
keys ``demo-...``); visits and colour changes are written with the workers that are new.
Nothing after ``now`` is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.db import incident_store
from geo.db.models import INCIDENT_TIER_DUE_FACTORS, INCIDENT_TIERS
from geo.frames import Activity
from geo.projection import STORAGE_CRS

_WORKERS = """
WITH w AS (
    SELECT * FROM unnest(CAST(:code AS text[]), CAST(:name AS text[]), CAST(:phone AS text[]),
                         CAST(:township AS text[]), CAST(:cell AS text[]),
                         CAST(:started AS timestamptz[]))
        AS t(code, name, phone, township_code, cell_code, started_on)
)
INSERT INTO grid_worker (code, name, phone, township_code, plan_id, cell_code, started_on)
SELECT w.code, w.name, w.phone, a.code,
       CASE WHEN w.cell_code IS NOT NULL THEN CAST(:plan AS integer) END,
       CASE WHEN CAST(:plan AS integer) IS NOT NULL THEN w.cell_code END, w.started_on
FROM w LEFT JOIN admin_unit a ON a.code = w.township_code
ORDER BY w.code
ON CONFLICT (code) DO NOTHING
RETURNING code
"""

_VISITS = """
INSERT INTO visit (worker_code, household_code, visited_at, note)
SELECT v.worker_code, v.household_code, v.visited_at, 'demo'
FROM unnest(CAST(:worker AS text[]), CAST(:household AS text[]),
            CAST(:at AS timestamptz[])) AS v(worker_code, household_code, visited_at)
WHERE v.worker_code = ANY(CAST(:new AS text[])) AND v.visited_at <= :now
ORDER BY v.visited_at, v.household_code
"""

_COLOURS = """
WITH c AS (
    SELECT * FROM unnest(CAST(:household AS text[]), CAST(:colour AS text[]),
                         CAST(:at AS timestamptz[]), CAST(:by AS text[]))
        WITH ORDINALITY AS t(household_code, colour, changed_at, changed_by, n)
    WHERE changed_at <= :now
), ins AS (
    INSERT INTO household_colour_event (household_code, colour, changed_at, changed_by)
    SELECT household_code, colour, changed_at, changed_by FROM c ORDER BY changed_at, n
    RETURNING household_code
)
UPDATE household h SET colour = last.colour
FROM (SELECT DISTINCT ON (household_code) household_code, colour FROM c
      ORDER BY household_code, changed_at DESC, n DESC) last
WHERE h.code = last.household_code
"""

_SERVICES = """
INSERT INTO service_point (code, kind, name, village_code, geom)
SELECT s.code, s.kind, s.name, a.code, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
FROM unnest(CAST(:code AS text[]), CAST(:kind AS text[]), CAST(:name AS text[]),
            CAST(:village AS text[]), CAST(:lon AS double precision[]),
            CAST(:lat AS double precision[])) AS s(code, kind, name, village_code, lon, lat)
LEFT JOIN admin_unit a ON a.code = s.village_code
ORDER BY s.code
ON CONFLICT (code) DO NOTHING
"""

_EVENTS = """
INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role, note)
SELECT * FROM unnest(CAST(:id AS bigint[]), CAST(:at AS timestamptz[]),
                     CAST(:frm AS text[]), CAST(:to AS text[]), CAST(:actor AS text[]),
                     CAST(:role AS text[]), CAST(:note AS text[]))
"""

_ROWS = """
UPDATE incident i SET status = u.status, tier = u.tier, accepted_at = u.accepted_at,
    resolved_at = u.resolved_at, closed_at = u.closed_at, satisfaction = u.satisfaction,
    due_at = coalesce(u.due_at, i.due_at)
FROM unnest(CAST(:id AS bigint[]), CAST(:status AS text[]), CAST(:tier AS smallint[]),
            CAST(:accepted AS timestamptz[]), CAST(:resolved AS timestamptz[]),
            CAST(:closed AS timestamptz[]), CAST(:satisfaction AS smallint[]),
            CAST(:due AS timestamptz[]))
    AS u(id, status, tier, accepted_at, resolved_at, closed_at, satisfaction, due_at)
WHERE i.id = u.id
"""

_ROUTES = """
SELECT i.id, i.platform_code, k.due_hours FROM incident i
JOIN incident_category k ON k.code = i.category_code WHERE i.id = ANY(CAST(:ids AS bigint[]))
"""


def _source(category: pd.Series, household: pd.Series) -> pd.Series:
    source = pd.Series("hotline_12345", index=category.index, dtype=object)
    source[household.notna()] = "whistle"
    source[category == "video_alert"] = "video_alert"
    return source


def _values(series: pd.Series) -> list:
    """Column values as Python objects, missing values as None (for array binds)."""
    return series.astype(object).where(series.notna(), None).tolist()


def write_activity(
    conn: Connection, activity: Activity, *, now: pd.Timestamp, plan_id: int | None = None
) -> dict[str, int]:
    """Write ``activity`` (workers, visits, service points, colour changes, incidents and
    their histories up to ``now``); workers are posted to the cells of ``plan_id``.

    Returns counts of new rows: ``workers``, ``visits``, ``service_points``,
    ``colour_events``, ``incidents`` (taken in) and ``replayed`` (incidents moved on).
    """
    new_workers = _write_workers(conn, activity.workers, plan_id)
    counts = {
        "workers": len(new_workers),
        "visits": _write_visits(conn, activity.visits, new_workers, now),
        "service_points": _write_services(conn, activity.service_points),
        "colour_events": _write_colours(conn, activity.colour_events, new_workers, now),
    }
    frame = activity.incidents
    reports = frame.assign(
        client_key="demo-" + frame["code"].astype(str),
        category_code=frame["category"],
        source=_source(frame["category"], frame["household_code"]),
        household_code=frame["household_code"].where(frame["household_code"].notna(), None),
        actor=frame["reported_by"] if "reported_by" in frame.columns else None,
    )[
        ["client_key", "category_code", "source", "reported_at", "household_code", "actor",
         "geometry"]
    ]  # fmt: skip
    taken = incident_store.intake_frame(conn, reports, actor="demo")
    created = taken.loc[taken["created"].to_numpy(), "id"]
    ids = pd.Series(created.to_numpy(), index=frame.loc[created.index, "code"].astype(str))
    replayed = _replay(conn, activity.events, ids, now)
    return {**counts, "incidents": int(taken["created"].sum()), "replayed": replayed}


def demo_incidents(conn: Connection) -> int:
    """How many demo incidents (client keys ``demo-...``) are stored."""
    query = text("SELECT count(*) FROM incident WHERE client_key LIKE 'demo-%'")
    return int(conn.execute(query).scalar_one())


def _write_workers(conn: Connection, workers: pd.DataFrame, plan_id: int | None) -> list[str]:
    if workers is None or len(workers) == 0:
        return []
    none = pd.Series(None, index=workers.index, dtype=object)
    cell = workers.get("cell_code", none)
    params = {
        "code": _values(workers["code"].astype(str)),
        "name": _values(workers["name"]),
        "phone": _values(workers.get("phone", none)),
        "township": _values(workers.get("township_code", none)),
        "cell": _values(cell),
        "started": _values(workers.get("started_on", none)),
        "plan": plan_id,
    }
    return list(conn.execute(text(_WORKERS), params).scalars())


def _write_visits(conn: Connection, visits: pd.DataFrame, new: list[str], now) -> int:
    if not new or len(visits) == 0:
        return 0
    params = {
        "worker": _values(visits["worker_code"].astype(str)),
        "household": _values(visits["household_code"].astype(str)),
        "at": _values(visits["visited_at"]),
        "new": new,
        "now": now,
    }
    return int(conn.execute(text(_VISITS), params).rowcount)


def _write_colours(conn: Connection, events: pd.DataFrame, new: list[str], now) -> int:
    if not new or events is None or len(events) == 0:
        return 0
    params = {
        "household": _values(events["household_code"].astype(str)),
        "colour": _values(events["colour"]),
        "at": _values(events["changed_at"]),
        "by": _values(events["changed_by"]),
        "now": now,
    }
    conn.execute(text(_COLOURS), params)
    return int(np.sum(pd.to_datetime(events["changed_at"]) <= now))


def _write_services(conn: Connection, points) -> int:
    if points is None or len(points) == 0:
        return 0
    geoms = points.geometry.to_crs(STORAGE_CRS)
    params = {
        "code": _values(points["code"].astype(str)),
        "kind": _values(points["kind"]),
        "name": _values(points["name"]),
        "village": _values(points["village_code"]),
        "lon": geoms.x.tolist(),
        "lat": geoms.y.tolist(),
    }
    return int(conn.execute(text(_SERVICES), params).rowcount)


def _replay(conn: Connection, events: pd.DataFrame, ids: pd.Series, now) -> int:
    """Append the events of the incidents ``ids`` (incident code -> id) up to ``now`` and
    set each incident row to what its chain leaves; the number of incidents moved."""
    if events is None or len(events) == 0 or len(ids) == 0:
        return 0
    ev = events[events["incident_code"].isin(ids.index) & (events["at"] <= now)].copy()
    if ev.empty:
        return 0
    ev["id"] = ev["incident_code"].map(ids).astype("int64")
    ev = ev.sort_values(["id", "step"], kind="stable").reset_index(drop=True)
    routes = pd.read_sql(text(_ROUTES), conn, params={"ids": sorted(set(ev["id"].tolist()))})
    ev = ev.merge(routes, on="id", how="left")
    _effects(ev)
    conn.execute(
        text(_EVENTS),
        {"id": ev["id"].tolist(), "at": _values(ev["at"]), "frm": ev["from_status"].tolist(),
         "to": ev["to_status"].tolist(), "actor": ev["actor"].astype(str).tolist(),
         "role": ev["role"].tolist(), "note": ev["note"].tolist()},
    )  # fmt: skip
    rows = _final_rows(ev)
    conn.execute(
        text(_ROWS),
        {"id": rows.index.tolist(), "status": rows["status"].tolist(),
         "tier": rows["tier"].tolist(), "accepted": _values(rows["accepted_at"]),
         "resolved": _values(rows["resolved_at"]), "closed": _values(rows["closed_at"]),
         "satisfaction": _values(rows["satisfaction"]), "due": _values(rows["due_at"])},
    )  # fmt: skip
    return len(rows)


def _effects(ev: pd.DataFrame) -> None:
    """Add ``from_status``, ``tier`` (after the move), ``note`` and ``due_at`` (where the
    move restarts the clock) to the sorted events ``ev``, as ``transition`` does."""
    by = ev.groupby("id", sort=False)
    ev["from_status"] = by["to_status"].shift(1).fillna("reported")
    escalated = ev["to_status"] == "escalated"
    ev["tier"] = escalated.astype(int).groupby(ev["id"]).cumsum()
    ev["note"] = "replayed demo history"
    tiers = np.array(INCIDENT_TIERS, dtype=object)
    detail = pd.Series(None, index=ev.index, dtype=object)
    dispatched = ev["to_status"] == "dispatched"
    detail[dispatched] = "platform=" + ev.loc[dispatched, "platform_code"].astype(str)
    detail[escalated] = "tier=" + tiers[ev.loc[escalated, "tier"].to_numpy()]
    fed = ev["to_status"] == "fed_back"
    detail[fed] = "satisfaction=" + ev.loc[fed, "satisfaction"].astype(int).astype(str)
    has = detail.notna()
    ev.loc[has, "note"] = ev.loc[has, "note"] + " [" + detail[has] + "]"
    restart = (
        escalated
        | (ev["to_status"] == "reopened")
        | (dispatched & ev["from_status"].isin(["returned", "reopened"]))
    )
    factor = np.asarray(INCIDENT_TIER_DUE_FACTORS, dtype=float)[ev["tier"].to_numpy()]
    hours = ev["due_hours"].to_numpy(dtype=float) * factor
    due = ev["at"] + pd.to_timedelta(np.round(hours * 3600), unit="s")
    ev["due_at"] = due.where(restart)


def _final_rows(ev: pd.DataFrame) -> pd.DataFrame:
    """Per incident (index id): the row values its replayed chain leaves."""
    by = ev.groupby("id", sort=True)
    last = by.tail(1).set_index("id")
    reopen = ev["at"].where(ev["to_status"] == "reopened")
    ev = ev.assign(last_reopen=reopen.groupby(ev["id"]).transform("max"))
    live = ev["last_reopen"].isna() | (ev["at"] > ev["last_reopen"])

    def latest(status: str, column: str = "at") -> pd.Series:
        pick = ev[(ev["to_status"] == status) & live]
        return pick.groupby("id")[column].last()

    rows = pd.DataFrame(index=last.index)
    rows["status"] = last["to_status"]
    rows["tier"] = last["tier"].astype(int)
    rows["accepted_at"] = ev[ev["to_status"] == "accepted"].groupby("id")["at"].first()
    rows["resolved_at"] = latest("resolved")
    rows["closed_at"] = latest("closed")
    rows["satisfaction"] = latest("fed_back", "satisfaction")
    rows["due_at"] = ev.dropna(subset=["due_at"]).groupby("id")["due_at"].last()
    return rows
