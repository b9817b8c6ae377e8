"""The centre's numbers on a hand-made dataset whose answers are worked out in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box
from sqlalchemy import text

from geo import centre, incidents
from geo.db.io import write_county
from geo.errors import DataError
from tests._fixtures.county import tiny_county
from tests._fixtures.incident_plans import insert_plan

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai, same day
V1, V2 = "999999101001", "999999102001"
NU = [f"{V1}001", f"{V1}002", f"{V2}001"]  # households nu+0001, nu+0002 in each
H = {(n, j): f"{nu}{j:04d}" for n, nu in enumerate(NU) for j in (1, 2)}


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def data(conn):
    tiny = tiny_county()
    write_county(conn, tiny)
    incidents.sync_platforms(conn, "small")
    vill = tiny.villages.set_index("code").geometry
    x0, y0, x1, y1 = vill[V1].bounds
    mid = (x0 + x1) / 2
    cells = gpd.GeoDataFrame(
        {"code": ["C01", "C02", "C03"], "village_code": [V1, V1, V2],
         "geometry": [box(x0, y0, mid, y1), box(mid, y0, x1, y1), vill[V2].envelope]},
        crs=4326,
    )  # fmt: skip
    assignment = pd.DataFrame(
        {
            "household_code": list(H.values()),
            "cell_code": ["C01", "C01", "C02", "C02", "C03", "C03"],
        }
    )
    plan = insert_plan(conn, "999999", cells, name="plan", assignment=assignment)
    conn.execute(
        text(
            "INSERT INTO grid_worker (code, name, township_code, plan_id, cell_code) VALUES "
            "('W1', '张三', '999999101', :p, 'C01'), ('W2', '李四', '999999102', :p, 'C03')"
        ),
        {"p": plan},
    )
    mv = incidents.transition

    def rep(key, category, actor="W1"):
        return incidents.report(conn, key, category=category, source="whistle", actor=actor,
                                household=H[(0, 1)], reported_at=T0).id  # fmt: skip

    # emergency platform (safety, due 24 h), township 101, all reported at T0
    a, b, c = rep("A", "safety"), rep("B", "safety"), rep("C", "safety", actor="W2")
    for i, acc, res, sat in ((a, 1, 4, 5), (b, 3, 30, 3)):
        mv(conn, i, "accepted", actor="t", role="township", at=h(acc))
        mv(conn, i, "dispatched", actor="t", role="township", at=h(acc + 0.5))
        mv(conn, i, "in_progress", actor="d", role="department", at=h(acc + 0.6))
        mv(conn, i, "resolved", actor="d", role="department", at=h(res))
        mv(conn, i, "fed_back", actor="r", role="resident", at=h(res + 1), satisfaction=sat)
    mv(conn, c, "accepted", actor="t", role="township", at=h(2))
    mv(conn, c, "escalated", actor="t", role="township", at=h(3))  # tier 1, due h(3 + 36)
    # convenience platform (dispute, 72 h): dispatched and returned as the wrong department
    d = rep("D", "dispute")
    mv(conn, d, "accepted", actor="t", role="township", at=h(1))
    mv(conn, d, "dispatched", actor="t", role="township", at=h(2))
    mv(conn, d, "returned", actor="d", role="department", at=h(6))
    return {"plan": plan, "ids": {"A": a, "B": b, "C": c, "D": d}}


def test_platform_daily_known_answers(conn, data):
    table = centre.platform_daily(conn, start=T0 - timedelta(days=1), end=h(10))
    assert len(table) == 2
    em = table.set_index("platform_code").loc["emergency"]
    assert (em["township_code"], em["day"]) == ("999999101", date(2026, 3, 2))
    assert em["incidents"] == 3
    assert (em["n_fed_back"], em["n_escalated"], em["n_reported"]) == (2, 1, 0)
    assert em["median_hours_to_accept"] == pytest.approx(2)  # 1, 2, 3
    assert em["median_hours_to_resolve"] == pytest.approx(17)  # 4, 30
    # B resolved after 30 h > 24 h: late; C's due time moved to h(39) on escalation
    assert em["overdue_share"] == pytest.approx(1 / 3)
    assert em["satisfaction"] == pytest.approx(4)  # 5 and 3
    assert (em["escalations"], em["returns"]) == (1, 0)
    cv = table.set_index("platform_code").loc["convenience"]
    assert (cv["incidents"], cv["n_returned"], cv["returns"]) == (1, 1, 1)
    assert pd.isna(cv["median_hours_to_resolve"])


def test_platform_daily_suppresses_small_counts_for_walls(conn, data):
    wall = centre.platform_daily(conn, start=T0 - timedelta(days=1), end=h(10), min_count=5)
    assert wall["suppressed"].all()
    assert wall["incidents"].isna().all()
    assert wall["median_hours_to_accept"].isna().all()


def test_stuck_shows_where_cases_wait(conn, data):
    table = centre.stuck(conn, at=h(10))
    rows = {(r.status, r.tier, r.platform_code): r for r in table.itertuples()}
    assert set(rows) == {("escalated", 1, "emergency"), ("returned", 0, "convenience")}
    assert rows[("escalated", 1, "emergency")].median_hours_waiting == pytest.approx(7)
    assert rows[("returned", 0, "convenience")].max_hours_waiting == pytest.approx(4)
    assert table["status"].tolist() == ["escalated", "returned"]  # order of the chain
    assert table["overdue"].sum() == 0
    assert centre.stuck(conn, at=h(100))["overdue"].sum() == 2


def test_colours_history_counts_and_changes(conn, data):
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    assert centre.set_colour(conn, H[(0, 1)], "red", by="W1", at=monday + timedelta(days=1))
    assert not centre.set_colour(conn, H[(0, 1)], "red", by="W1")
    assert centre.set_colour(conn, H[(0, 1)], "orange", by="W1", at=monday + timedelta(days=2))
    assert centre.set_colour(conn, H[(1, 1)], "red", by="W1", at=monday - timedelta(days=3))
    hist = centre.colour_history(conn, H[(0, 1)])
    assert hist["colour"].tolist() == ["red", "orange"]
    counts = centre.colour_counts(conn, county_code="999999", min_count=0)
    got = {(r.cell_code, r.colour): r.households for r in counts.itertuples()}
    assert got == {("C01", "green"): 1, ("C01", "orange"): 1, ("C02", "red"): 1,
                   ("C02", "yellow"): 1, ("C03", "red"): 2}  # fmt: skip
    week = centre.colour_changes(
        conn, county_code="999999", since=monday, until=monday + timedelta(days=7), min_count=0
    )
    got = [(r.cell_code, r.from_colour, r.to_colour, r.changes) for r in week.itertuples()]
    assert [g[2:] for g in got] == [("red", 1), ("orange", 1)]
    assert pd.isna(got[0][1])  # the first recorded colour has no "from"
    assert got[1][:2] == ("C01", "red")
    wall = centre.colour_counts(conn, county_code="999999")
    assert wall["households"].isna().all()
    assert wall["suppressed"].all()
    with pytest.raises(DataError, match="allowed: red, orange"):
        centre.set_colour(conn, H[(0, 1)], "purple", by="W1")


def test_worker_metrics_known_answers(conn, data):
    centre.set_colour(conn, H[(0, 1)], "red", by="W1")  # C01: one red, one green
    visits = [(H[(0, 1)], d) for d in (3, 10, 17, 24, 31)] + [(H[(0, 2)], d) for d in (5, 50)]
    visits.append((H[(0, 2)], 120))  # April: outside 2026Q1
    for household, day in visits:
        conn.execute(
            text("INSERT INTO visit (worker_code, household_code, visited_at) VALUES "
                 "('W1', :h, :at)"),
            {"h": household, "at": datetime(2026, 1, 1, 4, tzinfo=UTC) + timedelta(days=day)},
        )  # fmt: skip
    table = centre.worker_metrics(conn, quarter="2026Q1").set_index("worker_code")
    w1 = table.loc["W1"]
    # 90 days: red every 7 days -> 13 visits, green every 90 days -> 1 visit
    assert (w1["required_red"], w1["required_green"], w1["done_red"], w1["done_green"]) == (
        13, 1, 5, 2)  # fmt: skip
    assert (w1["households"], w1["visits_required"], w1["visits_done"]) == (2, 14, 7)
    assert w1["visit_completion"] == pytest.approx(6 / 14)  # green's 2nd visit is not credited
    # A on time, B resolved late, D (dispute, 72 h) still open at the quarter's end: 2 overdue
    assert (w1["incidents_reported"], w1["share_resolved"], w1["overdue"]) == (3, 2 / 3, 2)
    w2 = table.loc["W2"]
    assert (w2["households"], w2["required_red"], w2["incidents_reported"]) == (2, 26, 1)
    assert w2["visit_completion"] == 0
    with pytest.raises(DataError, match="2026Q1"):
        centre.worker_metrics(conn, quarter="2026-1")


def test_quarter_bounds():
    start, end = centre.quarter_bounds("2026Q4")
    assert (start.month, end.year, end.month) == (10, 2027, 1)
    assert start.utcoffset() == timedelta(hours=8)


def test_funding_exact_numbers():
    towns = pd.DataFrame(
        {"township_code": ["t1", "t2", "t3"], "residents": [1000, 2000, 0], "workers": [5, 20, 0]},
        index=[7, 8, 9],
    )
    out = centre.funding(towns)
    assert out.index.tolist() == [7, 8, 9]
    t1 = out.loc[7]
    assert (t1["annual_yuan"], t1["quarterly_payment_yuan"]) == (10_000, 2_000)
    assert (t1["paid_per_year_yuan"], t1["reward_reserve_yuan"]) == (8_000, 2_000)
    assert t1["allowance_yuan_month"] == pytest.approx(8_000 / 12 / 5)  # 133.33: above 100
    assert not t1["allowance_ok"]
    assert out.loc[8, "allowance_yuan_month"] == pytest.approx(16_000 / 12 / 20)
    assert out.loc[8, "allowance_ok"]
    assert pd.isna(out.loc[9, "allowance_yuan_month"])
    assert "workers" not in towns.columns.difference(["workers"])  # input untouched
    with pytest.raises(DataError, match="residents"):
        centre.funding(towns.drop(columns="residents"))


def test_township_funding_from_the_database(conn, data):
    out = centre.township_funding(conn, county_code="999999").set_index("township_code")
    # tiny county residents: v1 households 3, 3, 4, 4 -> 14; v2 households 5, 5 -> 10
    assert out.loc["999999101", "annual_yuan"] == 140
    assert out.loc["999999102", "quarterly_payment_yuan"] == pytest.approx(20)
    assert out.loc["999999101", "workers"] == 1


def test_star_rating_weights_visits_resolution_and_timeliness() -> None:
    metrics = pd.DataFrame(
        {
            "visit_completion": [1.0, 0.0, 0.5, None],
            "share_resolved": [1.0, 0.0, None, 1.0],
            "incidents_reported": [4, 4, 0, 2],
            "overdue": [0, 4, 0, 0],
        }
    )
    stars = centre.star_rating(metrics)
    assert stars.tolist()[:2] == [5.0, 1.0]  # all done on time; nothing done, all overdue
    assert ((stars * 2) % 1 == 0).all()  # half stars
    assert stars.between(1, 5).all()
    assert stars.index.equals(metrics.index)
