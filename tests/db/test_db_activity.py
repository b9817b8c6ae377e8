"""Demo activity: real intake, then a replayed history every step of which the state
machine allows."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Connection, text

from geo import incidents, profiles, synth, synth_activity
from geo.db import activity, io

pytestmark = pytest.mark.db


@pytest.fixture
def replayed(conn: Connection) -> tuple[Connection, dict]:
    county = synth.generate_county("small", seed=5)
    io.write_county(conn, county)
    incidents.sync_platforms(conn, profiles.load_profile("small"))
    now = pd.Timestamp("2026-11-23T06:00Z")
    acts = synth_activity.generate_activity(
        county.households, seed=2, start=now - pd.Timedelta(days=60), months=2
    )
    counts = activity.write_activity(conn, acts, now=now, done_share=0.8)
    return conn, {**counts, "n": len(acts.incidents), "now": now}


def test_every_incident_is_taken_in_and_old_ones_move_on(replayed) -> None:
    conn, counts = replayed
    assert counts["incidents"] == counts["n"]
    assert 0 < counts["replayed"] < counts["n"]
    states = dict(conn.execute(text("SELECT status, count(*) FROM incident GROUP BY 1")).all())
    assert states["closed"] > sum(v for k, v in states.items() if k != "closed")
    young = conn.execute(
        text("SELECT count(*) FROM incident WHERE reported_at > :t AND status <> 'reported'"),
        {"t": counts["now"] - pd.Timedelta(days=3)},
    ).scalar_one()
    assert young == 0


def test_replayed_history_obeys_the_state_machine(replayed) -> None:
    conn, counts = replayed
    events = pd.read_sql(
        text(
            "SELECT e.incident_id, e.at, e.from_status, e.to_status, e.role, i.reported_at, "
            "i.status FROM incident_event e JOIN incident i ON i.id = e.incident_id "
            "ORDER BY e.incident_id, e.id"
        ),
        conn,
    )
    moves = events[events["from_status"].notna()]
    for row in moves.itertuples():
        incidents.check_move(row.from_status, row.to_status, row.role)  # raises if refused
    assert (moves["at"] >= moves["reported_at"]).all()
    assert (moves["at"] <= counts["now"]).all()
    last = events.groupby("incident_id").tail(1)
    assert (last["to_status"] == last["status"]).all()  # the row agrees with its history
    ordered = events.groupby("incident_id")["at"].apply(lambda s: s.is_monotonic_increasing)
    assert ordered.all()
