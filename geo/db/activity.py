"""Writing synthetic activity (:mod:`geo.synth_activity`) into PostGIS for demos.

Incidents go through the real intake (:func:`geo.db.incident_store.intake_frame`, which
:func:`geo.incidents.intake` fronts: placement in the published plan's cells, due times, the
"reported" event). Their later history is then
*replayed* in one statement per step: older incidents are taken along the closed loop
(accepted -> dispatched -> in progress -> resolved -> fed back -> closed) with one event per
move made by the role the state machine allows, and some are left open at each stage, so the
wall and the centre's tables show a plausible county rather than thousands of fresh reports.
Moves go in bulk because replaying months of a county move by move through
:func:`geo.incidents.transition` takes minutes; only demo data (client keys ``demo-...``) is
touched.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from geo.db import incident_store
from geo.frames import Activity

#: The closed loop as replayed: (state, role making the move, share of the due time spent).
CHAIN = (
    ("accepted", "township", 0.05),
    ("dispatched", "township", 0.12),
    ("in_progress", "department", 0.25),
    ("resolved", "department", 0.70),
    ("fed_back", "grid_worker", 0.85),
    ("closed", "township", 0.95),
)

_REPLAY = """
WITH old AS (
    SELECT id, reported_at, due_at,
           -- how far along the loop each incident got: most all the way, some stuck
           CASE WHEN random() < :done_share THEN 6 ELSE 1 + floor(random() * 4)::int END
               AS reached,
           0.4 + random() AS pace
    FROM incident
    WHERE client_key LIKE 'demo-%' AND status = 'reported' AND reported_at < :settled_before
), chain(step, status, role, frac) AS (
    SELECT * FROM unnest(CAST(:steps AS integer[]), CAST(:states AS text[]),
                         CAST(:roles AS text[]), CAST(:fracs AS double precision[]))
),
moves AS (
    SELECT o.id, c.step, c.status, c.role,
           lag(c.status, 1, 'reported') OVER (PARTITION BY o.id ORDER BY c.step) AS previous,
           o.reported_at + (o.due_at - o.reported_at) * c.frac * o.pace AS at, o.reached
    FROM old o JOIN chain c ON c.step <= o.reached
), events AS (
    INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role, note)
    SELECT id, least(at, :now), previous, status, 'demo', role, 'replayed demo history'
    FROM moves ORDER BY id, step
    RETURNING incident_id
), per_incident AS (
    SELECT id, max(step) AS reached,
           (array_agg(status ORDER BY step DESC))[1] AS status,
           min(least(at, :now)) FILTER (WHERE step = 1) AS accepted_at,
           min(least(at, :now)) FILTER (WHERE step = 4) AS resolved_at,
           min(least(at, :now)) FILTER (WHERE step = 6) AS closed_at
    FROM moves GROUP BY id
)
UPDATE incident i SET
    status = p.status, accepted_at = p.accepted_at, resolved_at = p.resolved_at,
    closed_at = p.closed_at,
    satisfaction = CASE WHEN p.reached >= 5 THEN 3 + floor(random() * 3)::int END
FROM per_incident p
WHERE p.id = i.id
"""


def _source(category: pd.Series, household: pd.Series) -> pd.Series:
    source = pd.Series("hotline_12345", index=category.index, dtype=object)
    source[household.notna()] = "whistle"
    source[category == "video_alert"] = "video_alert"
    return source


def write_activity(
    conn: Connection,
    activity: Activity,
    *,
    now: pd.Timestamp,
    settle_days: float = 3.0,
    done_share: float = 0.85,
) -> dict[str, int]:
    """Take in ``activity``'s incidents and replay the history of those older than
    ``settle_days`` (a ``done_share`` of them closed, the rest stuck along the chain).

    Returns counts: ``incidents`` taken in (new ones), ``replayed`` (incidents moved on).
    """
    frame = activity.incidents
    reports = frame.assign(
        client_key="demo-" + frame["code"].astype(str),
        category_code=frame["category"],
        source=_source(frame["category"], frame["household_code"]),
        household_code=frame["household_code"].where(frame["household_code"].notna(), None),
    )[["client_key", "category_code", "source", "reported_at", "household_code", "geometry"]]
    taken = incident_store.intake_frame(conn, reports, actor="demo")
    states, roles, fracs = zip(*CHAIN, strict=True)
    replayed = conn.execute(
        text(_REPLAY),
        {
            "now": now,
            "settled_before": now - pd.Timedelta(days=settle_days),
            "done_share": done_share,
            "steps": list(range(1, len(CHAIN) + 1)),
            "states": list(states),
            "roles": list(roles),
            "fracs": list(fracs),
        },
    ).rowcount
    return {"incidents": int(taken["created"].sum()), "replayed": int(replayed)}
