"""Demo activity: workers on the published plan's cells, visits, service points, colour
history, and incidents taken in through the real intake with a replayed history every step
of which the state machine allows -- leaving the rows :func:`geo.incidents.transition` would."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Connection, text

from geo import incidents, plans, profiles, synth, synth_activity
from geo.db import activity, io, queries

pytestmark = pytest.mark.db

#: The tables the demo fills (quarantine, load_run and county_result stay empty: no file
#: load, no province run).
DEMO_TABLES = (
    "admin_unit", "household", "household_colour_event", "grid_plan", "grid_cell",
    "cell_assignment", "grid_worker", "visit", "service_point", "platform",
    "incident_category", "incident", "incident_event",
)  # fmt: skip

NOW = pd.Timestamp("2026-11-23T06:00Z")


@pytest.fixture
def replayed(conn: Connection) -> tuple[Connection, dict]:
    county = synth.generate_county("small", seed=5)
    io.write_county(conn, county)
    built = plans.build_county_plan(conn, county_code="999001", n_jobs=1)
    plan_id = plans.save_plan(conn, built, county_code="999001", name="p", created_by="t")
    plans.publish_plan(conn, plan_id, by="t")
    incidents.sync_platforms(conn, profiles.load_profile("small"))
    acts = synth_activity.generate_activity(
        county.households,
        seed=2,
        start=NOW.normalize() - pd.Timedelta(days=91),
        months=3,
        cells=queries.plan_cells(conn, plan_id)[["code", "village_code"]],
        assignment=queries.plan_assignment(conn, plan_id),
        villages=county.villages,
        townships=county.townships,
        stuck_share=0.15,
    )
    acts.incidents = acts.incidents[acts.incidents["reported_at"] < NOW]
    counts = activity.write_activity(conn, acts, now=NOW, plan_id=plan_id)
    return conn, {**counts, "n": len(acts.incidents), "plan_id": plan_id, "acts": acts}


def _events(conn: Connection) -> pd.DataFrame:
    return pd.read_sql(
        text(
            "SELECT e.incident_id, e.at, e.from_status, e.to_status, e.role, e.note, "
            "i.reported_at, i.status, i.tier FROM incident_event e "
            "JOIN incident i ON i.id = e.incident_id ORDER BY e.incident_id, e.at, e.id"
        ),
        conn,
    )


def test_every_demo_table_is_filled(replayed) -> None:
    conn, counts = replayed
    for table in DEMO_TABLES:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0, table
    assert counts["incidents"] == counts["n"]
    assert 0 < counts["replayed"] < counts["n"]
    kinds = set(conn.execute(text("SELECT DISTINCT kind FROM service_point")).scalars())
    assert kinds == {"convenience_centre", "police_post", "clinic", "emergency_team"}


def test_every_cell_of_the_published_plan_has_exactly_one_worker(replayed) -> None:
    conn, counts = replayed
    per_cell = conn.execute(
        text(
            "SELECT c.code, count(w.code) FROM grid_cell c LEFT JOIN grid_worker w "
            "ON w.plan_id = c.plan_id AND w.cell_code = c.code WHERE c.plan_id = :p GROUP BY 1"
        ),
        {"p": counts["plan_id"]},
    ).all()
    assert per_cell
    assert {n for _, n in per_cell} == {1}
    orphan = conn.execute(
        text(
            "SELECT count(*) FROM grid_worker WHERE township_code IS NULL OR phone IS NULL "
            "OR plan_id IS DISTINCT FROM :p"
        ),
        {"p": counts["plan_id"]},
    ).scalar_one()
    assert orphan == 0
    # every visit is by the worker of the household's cell
    wrong = conn.execute(
        text(
            "SELECT count(*) FROM visit v JOIN cell_assignment a ON a.plan_id = :p "
            "AND a.household_code = v.household_code JOIN grid_worker w ON w.code = v.worker_code "
            "WHERE w.cell_code <> a.cell_code"
        ),
        {"p": counts["plan_id"]},
    ).scalar_one()
    assert wrong == 0


def test_colour_history_agrees_with_the_households(replayed) -> None:
    conn, _ = replayed
    disagree = conn.execute(
        text(
            "SELECT count(*) FROM household h JOIN (SELECT DISTINCT ON (household_code) "
            "household_code, colour FROM household_colour_event "
            "ORDER BY household_code, changed_at DESC, id DESC) e ON e.household_code = h.code "
            "WHERE e.colour IS DISTINCT FROM h.colour"
        )
    ).scalar_one()
    assert disagree == 0


def test_replayed_history_obeys_the_state_machine(replayed) -> None:
    conn, _ = replayed
    events = _events(conn)
    moves = events[events["from_status"].notna()]
    for row in moves.itertuples():
        incidents.check_move(row.from_status, row.to_status, row.role)  # raises if refused
    assert (moves["at"] >= moves["reported_at"]).all()
    assert (moves["at"] <= NOW).all()
    last = events.groupby("incident_id").tail(1)
    assert (last["to_status"] == last["status"]).all()  # the row agrees with its history
    chained = events.groupby("incident_id")["to_status"].shift(1)
    assert (chained.dropna() == events.loc[chained.notna(), "from_status"]).all()
    escalations = (events["to_status"] == "escalated").groupby(events["incident_id"]).sum()
    assert (escalations == last.set_index("incident_id")["tier"]).all()


def test_every_path_of_the_closed_loop_is_in_the_histories(replayed) -> None:
    conn, _ = replayed
    events = _events(conn)
    moves = set(zip(events["to_status"], events["role"], strict=True))
    assert ("escalated", "township") in moves  # the township reports up
    assert ("escalated", "department") in moves  # a department reports in
    assert ("returned", "department") in moves
    assert {("reopened", "township"), ("reopened", "centre")} <= moves
    assert (events["tier"] == 2).any()
    late, late_closed = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE resolved_at > due_at), "
            "count(*) FILTER (WHERE resolved_at > due_at AND status = 'closed') FROM incident"
        )
    ).one()
    assert late > 0
    assert late_closed > 0
    open_states = set(
        conn.execute(
            text("SELECT DISTINCT status FROM incident WHERE reported_at < :t"),
            {"t": NOW - pd.Timedelta(days=30)},
        ).scalars()
    )
    # stuck at each step of the chain, a month after the report
    assert {"reported", "accepted", "dispatched", "in_progress", "resolved"} <= open_states
    overdue = incidents.overdue(conn, at=NOW.to_pydatetime())
    assert len(overdue) > 0


def test_bulk_replay_leaves_the_rows_transition_leaves(replayed) -> None:
    """Replay one incident of each path move by move through ``incidents.transition`` and
    compare its row and notes with the bulk replay's."""
    conn, counts = replayed
    acts = counts["acts"]
    inc = acts.incidents
    sample = inc.drop_duplicates("path")
    assert set(sample["path"]) == set(synth_activity.PATHS)
    columns = (
        "status, tier, accepted_at, resolved_at, closed_at, satisfaction, due_at, platform_code"
    )
    for row in sample.itertuples():
        chain = acts.events[acts.events["incident_code"] == row.code]
        made = incidents.report(
            conn, f"again-{row.code}", category=row.category, source="whistle",
            point=(row.geometry.x, row.geometry.y), reported_at=row.reported_at.to_pydatetime(),
            household=row.household_code, actor="t",
        )  # fmt: skip
        for ev in chain[chain["at"] <= NOW].itertuples():
            sat = None if pd.isna(ev.satisfaction) else int(ev.satisfaction)
            incidents.transition(
                conn, made.id, ev.to_status, actor=ev.actor, role=ev.role,
                note="replayed demo history", at=ev.at.to_pydatetime(), satisfaction=sat,
            )  # fmt: skip
        query = f"SELECT {columns} FROM incident WHERE client_key = :k"
        bulk = conn.execute(text(query), {"k": f"demo-{row.code}"}).one()
        step = conn.execute(text(query), {"k": f"again-{row.code}"}).one()
        assert bulk == step, row.path
        notes = (
            "SELECT to_status, role, note FROM incident_event e JOIN incident i ON "
            "i.id = e.incident_id WHERE i.client_key = :k ORDER BY e.at, e.id OFFSET 1"
        )
        assert (
            conn.execute(text(notes), {"k": f"demo-{row.code}"}).all()
            == conn.execute(text(notes), {"k": f"again-{row.code}"}).all()
        ), row.path


def test_writing_again_adds_nothing(replayed) -> None:
    conn, counts = replayed
    before = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in DEMO_TABLES}
    again = activity.write_activity(conn, counts["acts"], now=NOW, plan_id=counts["plan_id"])
    assert set(again.values()) == {0}
    after = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in DEMO_TABLES}
    assert after == before
