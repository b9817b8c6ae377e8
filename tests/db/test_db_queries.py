"""Read-side queries: aggregates per unit, suppression, and the frames analyses start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Connection, text

from geo import heatmaps, incidents
from geo.db import io, queries
from tests._fixtures.county import tiny_county
from tests._fixtures.plans import split_plan

pytestmark = pytest.mark.db
COUNTY = "999999"


@pytest.fixture
def county(conn: Connection) -> Connection:
    io.write_county(conn, tiny_county(COUNTY))
    return conn


def test_unit_summary_sums_households_per_township(county: Connection) -> None:
    towns = queries.unit_summary(county, "township", COUNTY).set_index("code")
    assert towns.loc["999999101", "households"] == 4
    assert towns.loc["999999102", "households"] == 2
    assert towns.loc["999999101", "residents"] == 2 * 3 + 2 * 4
    assert towns.loc["999999102", "natural_units"] == 1
    assert towns.crs.to_epsg() == 4326


def test_household_points_feed_the_hex_density(county: Connection) -> None:
    points = queries.household_points(county, COUNTY)
    assert "colour" not in points.columns  # personal data only on request
    assert (points.geom_type == "Point").all()
    density = heatmaps.hex_density(points, resolution=9, weight="residents")
    assert density["count"].sum() == 6
    assert density["sum"].sum() == points["residents"].sum()


def test_household_points_with_colour_on_request(county: Connection) -> None:
    points = queries.household_points(county, COUNTY, with_colour=True)
    assert set(points["colour"]) == {"green", "yellow", "red"}


def test_service_points_and_visits(county: Connection) -> None:
    county.execute(
        text(
            "INSERT INTO service_point VALUES ('S1', 'clinic', '卫生室', '999999101001', "
            "ST_SetSRID(ST_MakePoint(107.4, 37.8), 4326)), ('S2', 'police_post', '警务室', "
            "'999999102001', ST_SetSRID(ST_MakePoint(107.41, 37.8), 4326))"
        )
    )
    assert queries.service_points(county, COUNTY)["code"].tolist() == ["S1", "S2"]
    assert queries.service_points(county, COUNTY, kind="clinic")["code"].tolist() == ["S1"]
    county.execute(text("INSERT INTO grid_worker (code, name) VALUES ('W1', '张三')"))
    county.execute(
        text(
            "INSERT INTO visit (worker_code, household_code, visited_at) VALUES "
            "('W1', '9999991010010010001', '2026-11-01T08:00Z'), "
            "('W1', '9999991010010010002', '2026-11-20T08:00Z')"
        )
    )
    recent = queries.visits(county, COUNTY, since=pd.Timestamp("2026-11-10", tz="UTC"))
    assert recent["household_code"].tolist() == ["9999991010010010002"]
    assert str(recent["visited_at"].dt.tz) == "UTC"


# ------------------------------------------------------------------------------------ the wall


def _report_at_every_household(conn: Connection, now: datetime) -> None:
    incidents.sync_platforms(conn, "yanchi")
    category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
    for i, code in enumerate(tiny_county(COUNTY).households["code"]):
        for j in range(i + 1):  # 1 + 2 + ... + 6 = 21 incidents
            incidents.report(
                conn,
                f"wall-{code}-{j}",
                category=category,
                source="whistle",
                household=code,
                reported_at=now - timedelta(days=1 + j),
                actor="test",
            )


def test_wall_counts_follow_the_grid_across_a_publish(county: Connection) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=28), now + timedelta(seconds=1)
    first = split_plan(county, COUNTY, 590.0, "first")
    _report_at_every_household(county, now)
    placed = county.execute(
        text("SELECT count(*) FROM incident WHERE plan_id = :p"), {"p": first}
    ).scalar_one()
    assert placed == 21
    # A new plan moving one household (the boundary passes between the two of 二组).
    second = split_plan(county, COUNTY, 630.0, "second")
    assert queries.published_plan_id(county, COUNTY) == second
    counts = queries.wall_unit_counts(county, COUNTY, start=start, end=end).set_index("code")
    headline = queries.wall_headline(county, COUNTY, start=start, end=end).iloc[0]
    assert headline["reported"] == 21
    assert counts["incidents"].sum() == headline["reported"]
    # Households 1..6 reported 1..6 incidents: cell A of the new plan holds the first three.
    assert counts.loc[f"{COUNTY}101001-A", "incidents"] == 1 + 2 + 3
    assert counts.loc[f"{COUNTY}101001-B", "incidents"] == 4
    assert counts.loc[f"{COUNTY}102001-A", "incidents"] == 5 + 6
    assert counts.loc[f"{COUNTY}101001-A", "households"] == 3
    # The incident keeps the cell it was reported in as history.
    assert county.execute(text("SELECT count(DISTINCT plan_id) FROM incident")).scalar_one() == 1


def test_wall_board_and_chain_cover_every_platform_and_stage(county: Connection) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=28), now + timedelta(seconds=1)
    split_plan(county, COUNTY, 590.0, "first")
    _report_at_every_household(county, now)
    board = queries.platform_board(county, COUNTY, start=start, end=end)
    assert board["reported"].sum() == 21
    assert (board["open"] == board["reported"] - board["resolved"]).all()
    chain = queries.chain_stages(county, COUNTY, start=start, end=end)
    assert chain["stage"].tolist() == ["worker", "township", "department", "feedback"]
    assert chain.set_index("stage").loc["worker", "cases"] == 21  # all just reported
    weekly = queries.platform_weekly(county, COUNTY, end=end, weeks=8)
    assert len(weekly) == 8 * len(board)
    assert weekly["reported"].sum() == 21
    assert weekly["week"].max() == 7
