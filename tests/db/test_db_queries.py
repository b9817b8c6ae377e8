"""Read-side queries: aggregates per unit, suppression, and the frames analyses start from."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Connection, text

from geo import heatmaps
from geo.db import io, queries
from tests._fixtures.county import tiny_county

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
