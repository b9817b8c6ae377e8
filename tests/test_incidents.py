"""Incidents: the state machine, events, intake, placement on boundaries and re-drawn plans.

The county is the tiny hand-made one; its plan is hand-made squares in EPSG:4326 (degrees),
so that a point can sit *exactly* on the edge two cells share.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy.exc
from shapely.geometry import Point, box
from sqlalchemy import text

from geo import incidents
from geo.db.io import write_county
from geo.db.models import INCIDENT_STATES
from geo.errors import ConfigError, DataError
from geo.incidents import TRANSITIONS, TransitionError
from tests._fixtures.county import tiny_county
from tests._fixtures.incident_plans import insert_plan

pytestmark = pytest.mark.db

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
V1, V2 = "999999101001", "999999102001"


def _grid(county):
    """Lon/lat numbers of the hand-made cells: v1 is cut at ``mid`` into C01 | C02."""
    x0, y0, x1, y1 = county.villages.set_index("code").loc[V1].geometry.bounds
    mid = round((x0 + x1) / 2, 4)
    lat = round((y0 + y1) / 2, 4)
    return {"x0": x0 + 1e-4, "x1": x1 - 1e-4, "y0": y0 + 1e-4, "y1": y1 - 1e-4, "mid": mid,
            "lat": lat}  # fmt: skip


def _cells(g, mid):
    return gpd.GeoDataFrame(
        {
            "code": [f"{V1}-C01", f"{V1}-C02"],
            "village_code": [V1, V1],
            "geometry": [
                box(g["x0"], g["y0"], mid, g["y1"]),
                box(mid, g["y0"], g["x1"], g["y1"]),
            ],
        },
        crs=4326,
    )


@pytest.fixture
def county(conn):
    tiny = tiny_county()
    write_county(conn, tiny)
    incidents.sync_platforms(conn, "small")
    g = _grid(tiny)
    g["plan"] = insert_plan(conn, "999999", _cells(g, g["mid"]), name="plan A")
    g["tiny"] = tiny
    return g


def _report(conn, key, g, *, lon=None, **kw):
    kw.setdefault("category", "dispute")
    kw.setdefault("source", "whistle")
    kw.setdefault("actor", "W001")
    kw.setdefault("reported_at", T0)
    return incidents.report(conn, key, point=(lon or g["mid"] - 0.001, g["lat"]), **kw)


def _row(conn, incident_id):
    return conn.execute(text("SELECT * FROM incident WHERE id = :i"), {"i": incident_id}).first()


# ---------------------------------------------------------------- the table, without a server


def test_transition_table_covers_every_state():
    assert set(TRANSITIONS) == set(INCIDENT_STATES)
    assert "reported" not in {t for moves in TRANSITIONS.values() for t in moves}


@pytest.mark.parametrize("frm", INCIDENT_STATES)
@pytest.mark.parametrize("to", INCIDENT_STATES)
def test_check_move_allows_exactly_the_table(frm, to):
    for role in incidents.ROLES:
        allowed = to in TRANSITIONS[frm] and role in TRANSITIONS[frm][to]
        if allowed:
            incidents.check_move(frm, to, role)
        else:
            with pytest.raises(TransitionError, match=repr(frm)):
                incidents.check_move(frm, to, role)


def test_refusal_lists_allowed_moves_and_roles():
    with pytest.raises(TransitionError, match="may move to: accepted, escalated"):
        incidents.check_move("reported", "closed", "centre")
    with pytest.raises(TransitionError, match="allowed roles: department"):
        incidents.check_move("dispatched", "in_progress", "township")
    with pytest.raises(DataError, match="allowed: grid_worker"):
        incidents.check_move("reported", "accepted", "mayor")


def test_due_hours_by_tier():
    assert incidents.due_hours(24, 0) == 24
    assert incidents.due_hours(24, 1) == 36
    assert incidents.due_hours(24, 2) == 48
    with pytest.raises(DataError, match=r"tier must be in 0\.\.2"):
        incidents.due_hours(24, 3)


# ------------------------------------------------------------- every move against the database

#: How to bring a new incident to each state: (to, role, extra kwargs).
PATHS = {
    "reported": [],
    "accepted": [("accepted", "township")],
    "dispatched": [("accepted", "township"), ("dispatched", "township")],
    "in_progress": [("accepted", "township"), ("dispatched", "township"),
                    ("in_progress", "department")],
    "escalated": [("escalated", "township")],
    "returned": [("accepted", "township"), ("dispatched", "centre"), ("returned", "department")],
}  # fmt: skip
PATHS["resolved"] = [*PATHS["in_progress"], ("resolved", "department")]
PATHS["fed_back"] = [*PATHS["resolved"], ("fed_back", "resident")]
PATHS["closed"] = [*PATHS["fed_back"], ("closed", "centre")]
PATHS["reopened"] = [*PATHS["closed"], ("reopened", "centre")]


def _drive(conn, incident_id, path, start=T0):
    for k, (to, role) in enumerate(path, start=1):
        extra = {"satisfaction": 4} if to == "fed_back" else {}
        incidents.transition(
            conn, incident_id, to, actor=f"u-{role}", role=role,
            at=start + timedelta(hours=k), **extra,
        )  # fmt: skip


ALLOWED = [
    (f, t, r) for f, moves in TRANSITIONS.items() for t, roles in moves.items() for r in roles
]


def test_every_allowed_move_is_applied_and_recorded(conn, county):
    for n, (frm, to, role) in enumerate(ALLOWED):
        made = _report(conn, f"allowed-{n}", county)
        _drive(conn, made.id, PATHS[frm])
        extra = {"satisfaction": 5} if to == "fed_back" else {}
        event = incidents.transition(
            conn, made.id, to, actor="a", role=role, at=T0 + timedelta(days=2), **extra
        )
        assert (event.from_status, event.to_status) == (frm, to)
        assert _row(conn, made.id).status == to
        hist = incidents.history(conn, made.id)
        assert hist["to_status"].tolist() == ["reported", *[p[0] for p in PATHS[frm]], to]
        assert hist["from_status"].tolist()[1:] == hist["to_status"].tolist()[:-1]
        assert hist["at"].is_monotonic_increasing


def test_every_refused_move_changes_nothing(conn, county):
    for frm in INCIDENT_STATES:
        made = _report(conn, f"refused-{frm}", county)
        _drive(conn, made.id, PATHS[frm])
        before = len(incidents.history(conn, made.id))
        for to in INCIDENT_STATES:
            for role in incidents.ROLES:
                if to in TRANSITIONS[frm] and role in TRANSITIONS[frm][to]:
                    continue
                with pytest.raises(TransitionError):
                    incidents.transition(conn, made.id, to, actor="x", role=role)
        assert _row(conn, made.id).status == frm
        assert len(incidents.history(conn, made.id)) == before


def test_event_history_is_append_only(conn, county):
    made = _report(conn, "append-only", county)
    with pytest.raises(sqlalchemy.exc.DBAPIError, match=r"append-only|refuse"), conn.begin_nested():
        conn.execute(text("UPDATE incident_event SET note = 'x' WHERE incident_id = :i"),
                     {"i": made.id})  # fmt: skip
    with pytest.raises(sqlalchemy.exc.DBAPIError), conn.begin_nested():
        conn.execute(text("DELETE FROM incident_event WHERE incident_id = :i"), {"i": made.id})


def test_times_follow_the_moves(conn, county):
    made = _report(conn, "times", county, category="safety")  # 24 h
    row = _row(conn, made.id)
    assert row.due_at == T0 + timedelta(hours=24)
    assert row.platform_code == "emergency"
    _drive(conn, made.id, PATHS["fed_back"])
    row = _row(conn, made.id)
    assert row.accepted_at == T0 + timedelta(hours=1)
    assert row.resolved_at == T0 + timedelta(hours=4)
    assert row.satisfaction == 4
    incidents.transition(
        conn, made.id, "closed", actor="c", role="centre", at=T0 + timedelta(hours=6)
    )
    incidents.transition(conn, made.id, "reopened", actor="c", role="centre",
                         at=T0 + timedelta(hours=10), note="resident called again")  # fmt: skip
    row = _row(conn, made.id)
    assert (row.resolved_at, row.closed_at, row.satisfaction) == (None, None, None)
    assert row.due_at == T0 + timedelta(hours=34)
    assert row.accepted_at == T0 + timedelta(hours=1)  # the first acceptance counts
    notes = incidents.history(conn, made.id)["note"].tolist()
    assert "satisfaction=4" in notes
    assert "resident called again" in notes


def test_escalation_moves_up_a_tier_and_retimes(conn, county):
    made = _report(conn, "escalate", county, category="safety")
    incidents.transition(conn, made.id, "escalated", actor="t", role="township",
                         at=T0 + timedelta(hours=2))  # fmt: skip
    row = _row(conn, made.id)
    assert row.tier == 1
    assert row.due_at == T0 + timedelta(hours=2 + 36)
    incidents.transition(conn, made.id, "accepted", actor="c", role="centre",
                         at=T0 + timedelta(hours=3))  # fmt: skip
    incidents.transition(conn, made.id, "escalated", actor="t", role="township",
                         at=T0 + timedelta(hours=4))  # fmt: skip
    incidents.transition(conn, made.id, "accepted", actor="c", role="centre",
                         at=T0 + timedelta(hours=5))  # fmt: skip
    assert _row(conn, made.id).tier == 2
    with pytest.raises(TransitionError, match="top tier"):
        incidents.transition(conn, made.id, "escalated", actor="t", role="township")
    assert _row(conn, made.id).tier == 2


def test_return_reroutes_and_retimes(conn, county):
    made = _report(conn, "return", county, category="sanitation")  # enforcement, 48 h
    _drive(conn, made.id, PATHS["returned"])
    at = T0 + timedelta(hours=10)
    incidents.transition(conn, made.id, "dispatched", actor="c", role="centre", at=at,
                         category="safety")  # fmt: skip
    row = _row(conn, made.id)
    assert (row.category_code, row.platform_code) == ("safety", "emergency")
    assert row.due_at == at + timedelta(hours=24)
    incidents.transition(conn, made.id, "returned", actor="d", role="department")
    with pytest.raises(TransitionError, match="unknown platform 'nowhere'"):
        incidents.transition(conn, made.id, "dispatched", actor="c", role="centre",
                             platform="nowhere")  # fmt: skip


def test_move_details_are_checked(conn, county):
    made = _report(conn, "details", county)
    _drive(conn, made.id, PATHS["resolved"])
    with pytest.raises(TransitionError, match=r"satisfaction 1\.\.5"):
        incidents.transition(conn, made.id, "fed_back", actor="r", role="resident")
    with pytest.raises(TransitionError, match=r"satisfaction 1\.\.5"):
        incidents.transition(conn, made.id, "fed_back", actor="r", role="resident", satisfaction=6)
    with pytest.raises(TransitionError, match="would precede"):
        incidents.transition(conn, made.id, "fed_back", actor="r", role="resident",
                             satisfaction=3, at=T0)  # fmt: skip
    with pytest.raises(TransitionError, match="not 'dispatched' as expected"):
        incidents.transition(conn, made.id, "fed_back", actor="r", role="resident",
                             satisfaction=3, expected_from="dispatched")  # fmt: skip
    with pytest.raises(incidents.UnknownIncidentError):
        incidents.transition(conn, 10**12, "accepted", actor="t", role="township")
    assert _row(conn, made.id).status == "resolved"


# ------------------------------------------------------------------------ intake and placement


def test_report_is_idempotent(conn, county):
    first = _report(conn, "same-key", county)
    again = _report(conn, "same-key", county, category="fire", description="changed")
    assert first.created
    assert not again.created
    assert first.id == again.id
    row = _row(conn, first.id)
    assert row.category_code == "dispute"
    assert len(incidents.history(conn, first.id)) == 1
    hist = incidents.history(conn, first.id)
    assert hist.loc[0, "actor"] == "W001"
    assert hist.loc[0, "role"] == "grid_worker"


def test_point_on_shared_edge_lands_in_the_lowest_cell(conn, county):
    on_edge = _report(conn, "edge", county, lon=county["mid"])
    east = _report(conn, "east", county, lon=county["mid"] + 0.001)
    assert _row(conn, on_edge.id).cell_code == f"{V1}-C01"
    assert _row(conn, east.id).cell_code == f"{V1}-C02"
    row = _row(conn, on_edge.id)
    assert (row.village_code, row.township_code, row.plan_id) == (V1, "999999101", county["plan"])
    # one cell only, whichever order the cells were written in
    both = conn.execute(
        text("SELECT count(*) FROM grid_cell WHERE ST_Intersects(geom, ST_SetSRID("
             "ST_MakePoint(:x, :y), 4326))"), {"x": county["mid"], "y": county["lat"]},
    ).scalar_one()  # fmt: skip
    assert both == 2


def test_point_outside_every_cell_gets_its_village(conn, county):
    x0, y0, x1, y1 = county["tiny"].villages.set_index("code").loc[V2].geometry.bounds
    made = incidents.report(conn, "v2", category="fire", source="video_alert", actor="cam-7",
                            point=Point((x0 + x1) / 2, (y0 + y1) / 2), reported_at=T0)  # fmt: skip
    row = _row(conn, made.id)
    assert (row.cell_code, row.village_code, row.township_code) == (None, V2, "999999102")
    assert incidents.history(conn, made.id).loc[0, "role"] == "system"


def test_household_gives_the_place(conn, county):
    household = "9999991010010010001"  # tiny county, v1, x = 150..170 m: west cell
    made = incidents.report(conn, "hh", category="livelihood", source="resident", actor="r",
                            household=household, reported_at=T0)  # fmt: skip
    row = _row(conn, made.id)
    assert (row.household_code, row.cell_code) == (household, f"{V1}-C01")


def test_intake_errors_list_allowed_values(conn, county):
    with pytest.raises(DataError, match="unknown incident category 'alien'; allowed: dispute"):
        _report(conn, "bad1", county, category="alien")
    with pytest.raises(DataError, match="unknown source 'fax'; allowed: whistle"):
        _report(conn, "bad2", county, source="fax")
    future = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(DataError, match=r"future_time: .* 120 min after .*WANGGE_CLOCK_SKEW_MIN"):
        _report(conn, "bad3", county, reported_at=future)
    for year in (1, 1900, 1999):
        with pytest.raises(DataError, match=r"before_epoch: .*WANGGE_EPOCH"):
            _report(conn, f"bad3-{year}", county, reported_at=datetime(year, 6, 1, tzinfo=UTC))
    for key in ("", "   ", "\t"):
        with pytest.raises(DataError, match="client_key is empty"):
            _report(conn, key, county)
    for lon, lat in ((1000, 37.7), (106.1, -95), (float("inf"), 37.7)):
        with pytest.raises(DataError, match=r"not (finite )?longitude"):
            incidents.report(conn, "bad-pt", category="fire", source="whistle", actor="w",
                             point=(lon, lat))  # fmt: skip
    # within the skew, and a naive time (the county's local time) are fine
    ok = _report(conn, "skewed", county, reported_at=datetime.now(UTC) + timedelta(minutes=5))
    naive = _report(conn, "naive", county, reported_at=datetime(2026, 3, 2, 16, 0))
    assert ok.created
    at = conn.execute(text("SELECT reported_at FROM incident WHERE id = :i"), {"i": naive.id})
    assert at.scalar_one() == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with pytest.raises(DataError, match="point or a household"):
        incidents.report(conn, "bad4", category="fire", source="whistle", actor="w")
    with pytest.raises(DataError, match="unknown household"):
        incidents.report(conn, "bad5", category="fire", source="whistle", actor="w",
                         household="nope")  # fmt: skip


def test_redrawn_plan_keeps_history_and_rejoin_compares(conn, county):
    west = _report(conn, "before-redraw", county, lon=county["mid"] - 0.001)
    # plan B moves the cut 0.002 degrees west: the old incident's point is now in C02
    insert_plan(conn, "999999", _cells(county, county["mid"] - 0.002), name="plan B")
    row = _row(conn, west.id)
    assert (row.plan_id, row.cell_code) == (county["plan"], f"{V1}-C01")
    after = _report(conn, "after-redraw", county, lon=county["mid"] - 0.001)
    assert _row(conn, after.id).cell_code == f"{V1}-C02"
    cmp = incidents.rejoin(conn, ids=[west.id, after.id]).set_index("client_key")
    assert cmp.loc["before-redraw", "cell_code_at_report"] == f"{V1}-C01"
    assert cmp.loc["before-redraw", "cell_code"] == f"{V1}-C02"
    assert bool(cmp.loc["before-redraw", "moved"])
    assert not bool(cmp.loc["after-redraw", "moved"])
    old = incidents.rejoin(conn, plan_id=county["plan"], ids=[after.id])
    assert old.loc[0, "cell_code"] == f"{V1}-C01"


def test_bulk_intake_aligned_idempotent_and_placed_like_single(conn, county):
    _report(conn, "k-known", county, lon=county["mid"] + 0.001)
    frame = gpd.GeoDataFrame(
        {
            "client_key": ["k-edge", "k-known", "k-edge", "k-hh", "k-east"],
            "category_code": ["fire", "fire", "fire", "dispute", "flood"],
            "source": ["whistle", "resident", "whistle", "hotline_12345", "video_alert"],
            "reported_at": [T0 + timedelta(minutes=i) for i in range(5)],
            "household_code": [None, None, None, "9999991010010010001", None],
            "actor": ["W1", "R1", "W1", "ops", None],
        },
        geometry=[Point(county["mid"], county["lat"]), Point(county["mid"] + 0.001, county["lat"]),
                  Point(county["mid"], county["lat"]), None,
                  Point(county["mid"] + 0.001, county["lat"])],
        crs=4326, index=[10, 11, 12, 13, 14],
    )  # fmt: skip
    out = incidents.intake(conn, frame, actor="bulk")
    assert out.index.tolist() == [10, 11, 12, 13, 14]
    assert out["created"].tolist() == [True, False, False, True, True]
    assert out.loc[10, "id"] == out.loc[12, "id"]
    cells = {r.client_key: r.cell_code for r in conn.execute(text(
        "SELECT client_key, cell_code FROM incident WHERE client_key LIKE 'k-%'"))}  # fmt: skip
    assert cells == {"k-edge": f"{V1}-C01", "k-known": f"{V1}-C02", "k-hh": f"{V1}-C01",
                     "k-east": f"{V1}-C02"}  # fmt: skip
    events = conn.execute(text(
        "SELECT i.client_key, e.actor, e.role FROM incident_event e JOIN incident i "
        "ON i.id = e.incident_id WHERE i.client_key LIKE 'k-%' ORDER BY 1")).all()  # fmt: skip
    assert [tuple(e) for e in events] == [
        ("k-east", "bulk", "system"), ("k-edge", "W1", "grid_worker"),
        ("k-hh", "ops", "centre"), ("k-known", "W001", "grid_worker"),
    ]  # fmt: skip
    again = incidents.intake(conn, frame.to_crs(32648))
    assert not again["created"].any()
    assert (again["id"] == out["id"]).all()


def test_bulk_intake_refuses_bad_frames(conn, county):
    frame = gpd.GeoDataFrame(
        {"client_key": ["a"], "category_code": ["fire"], "source": ["whistle"],
         "reported_at": [T0]},
        geometry=[Point(county["mid"], county["lat"])], crs=4326,
    )  # fmt: skip
    with pytest.raises(DataError, match="lacks column"):
        incidents.intake(conn, frame.drop(columns="source"))
    with pytest.raises(DataError, match="allowed: dispute"):
        incidents.intake(conn, frame.assign(category_code="x"))


def test_bulk_intake_quarantines_implausible_rows_with_their_reason(conn, county):
    lon, lat = county["mid"], county["lat"]
    rows = [  # key, reported_at, lon, lat, household
        ("q-ok-z", "2026-03-02T00:00:00Z", lon, lat, None),
        ("q-ok-8", "2026-03-02T08:00:00+08:00", lon, lat, None),  # the same instant
        ("q-naive", "2026-03-02 08:00", lon, lat, None),  # local time: also 00:00 UTC
        ("q-future", "9999-12-31T00:00:00Z", lon, lat, None),
        ("q-fast", (datetime.now(UTC) + timedelta(hours=2)).isoformat(), lon, lat, None),
        ("q-0001", "0001-01-01T00:00:00Z", lon, lat, None),
        ("q-1900", "1900-01-01T00:00:00+08:00", lon, lat, None),
        ("", "2026-03-02T00:00:00Z", lon, lat, None),
        ("  ", "2026-03-02T00:00:00Z", lon, lat, None),
        ("q-lon", "2026-03-02T00:00:00Z", 1000.0, lat, None),
        ("q-lat", "2026-03-02T00:00:00Z", lon, -95.0, None),
        ("q-inf", "2026-03-02T00:00:00Z", float("inf"), lat, None),
        ("q-text", "2026-03-02T00:00:00Z", "east", lat, None),
        ("q-garbage", "yesterday-ish", lon, lat, None),
        ("q-nowhere", "2026-03-02T00:00:00Z", None, None, None),
        ("q-hh", "2026-03-02T00:00:00Z", None, None, "nope"),
    ]
    frame = pd.DataFrame(rows, columns=["client_key", "reported_at", "lon", "lat",
                                        "household_code"]).assign(
        category_code="fire", source="whistle")  # fmt: skip
    out = incidents.intake(conn, frame, file="f.csv", row_numbers=list(range(2, 18)))
    faults = dict(zip(frame["client_key"] + "|" + frame.index.astype(str), out["fault"],
                      strict=True))  # fmt: skip
    kinds = {k: (f.split(":")[0] if isinstance(f, str) else None) for k, f in faults.items()}
    assert kinds == {
        "q-ok-z|0": None, "q-ok-8|1": None, "q-naive|2": None, "q-future|3": "future_time",
        "q-fast|4": "future_time", "q-0001|5": "before_epoch", "q-1900|6": "before_epoch",
        "|7": "missing_value", "  |8": "missing_value", "q-lon|9": "out_of_range",
        "q-lat|10": "out_of_range", "q-inf|11": "non_finite_coordinates",
        "q-text|12": "bad_value", "q-garbage|13": "bad_value", "q-nowhere|14": "empty_geometry",
        "q-hh|15": "unknown_parent",
    }  # fmt: skip
    assert out["created"].tolist() == [True, True, True] + [False] * 13
    assert out["id"].isna().sum() == 13
    stored = conn.execute(text(
        "SELECT client_key, reported_at FROM incident WHERE client_key LIKE 'q-%' ORDER BY 1"
    )).all()  # fmt: skip
    assert [r.client_key for r in stored] == ["q-naive", "q-ok-8", "q-ok-z"]
    assert {r.reported_at for r in stored} == {datetime(2026, 3, 2, tzinfo=UTC)}
    quarantined = conn.execute(
        text("SELECT file, row_number, field, fault FROM quarantine WHERE load_id = :i "
             "ORDER BY row_number"), {"i": out.attrs["load_id"]},
    ).all()  # fmt: skip
    assert [r.row_number for r in quarantined] == list(range(5, 18))
    assert quarantined[0].file == "f.csv"
    assert quarantined[0].field == "reported_at"
    assert "WANGGE_CLOCK_SKEW_MIN" in quarantined[0].fault


def test_intake_time_settings_are_configurable(conn, county, monkeypatch):
    monkeypatch.setenv("WANGGE_CLOCK_SKEW_MIN", "180")
    monkeypatch.setenv("WANGGE_EPOCH", "1890-01-01")
    soon = datetime.now(UTC) + timedelta(hours=2)
    assert _report(conn, "skew-ok", county, reported_at=soon).created
    assert _report(conn, "old-ok", county, reported_at=datetime(1900, 1, 2, tzinfo=UTC)).created
    monkeypatch.setenv("WANGGE_CLOCK_SKEW_MIN", "ten")
    with pytest.raises(ConfigError, match="WANGGE_CLOCK_SKEW_MIN='ten' is not a number"):
        _report(conn, "bad-setting", county)


def test_overdue_and_times(conn, county):
    quick = _report(conn, "quick", county, category="fire")  # 4 h
    slow = _report(conn, "slow", county, category="fire")
    open_ = _report(conn, "open", county, category="dispute")  # 72 h
    _drive(conn, quick.id, PATHS["resolved"])  # resolved at T0 + 4 h: on time
    _drive(conn, slow.id, PATHS["resolved"], start=T0 + timedelta(hours=2))  # T0 + 6 h: late
    at = T0 + timedelta(hours=80)
    times = incidents.incident_times(conn, at=at).set_index("client_key")
    assert times.loc["quick", "hours_to_accept"] == pytest.approx(1)
    assert times.loc["quick", "hours_to_resolve"] == pytest.approx(4)
    assert times.loc["slow", "hours_to_resolve"] == pytest.approx(6)
    assert times["overdue"].to_dict() == {"quick": False, "slow": True, "open": True}
    late = incidents.overdue(conn, at=at)
    assert late["id"].tolist() == [open_.id]
    assert late.loc[0, "hours_overdue"] == pytest.approx(8)
