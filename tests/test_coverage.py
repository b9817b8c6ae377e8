"""Tests of geo.coverage: assignment, service distance, extra sites, visits, worker load."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import coverage, profiles
from geo.errors import ConfigError

V1, V2 = "640323101001", "640323101002"  # two villages of one township
V3 = "640323102001"  # a village of another township


def hh_frame(codes, villages, xy=None, residents=None, colours=None) -> gpd.GeoDataFrame:
    n = len(codes)
    xy = np.tile([107.41, 37.78], (n, 1)) if xy is None else np.asarray(xy)
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "village_code": villages,
            "residents": residents if residents is not None else [3] * n,
            "colour": colours if colours is not None else ["green"] * n,
        },
        geometry=shapely.points(xy),
        crs=4326,
    )


def test_assignment_coverage_by_eye():
    hh = hh_frame(["a", "b", "c", "d", "e"], [V1, V1, V1, V2, V3])
    cells = pd.DataFrame({"code": ["c1", "c2", "c3"], "village_code": [V1, V2, V3]})
    assignment = pd.DataFrame(
        {
            "household_code": ["a", "b", "b", "d", "c", "zz"],
            "cell_code": ["c1", "c1", "c2", "c1", "c3", "c1"],
        }
    )
    # a: c1 ok; b: c1 and c2 (double, and c2 is in V2 -> cross); c: in c3 of V3 (cross);
    # d (V2) in c1 of V1 (cross); e: unassigned; zz: unknown household
    cov = coverage.assignment_coverage(hh, assignment, cells)
    got = cov.households.set_index("code")
    assert got["unassigned"].tolist() == [False, False, False, False, True]
    assert got["double"].tolist() == [False, True, False, False, False]
    assert got["cross_village"].tolist() == [False, True, True, True, False]
    assert cov.summary["unknown_households"] == 1
    assert cov.summary["publishable"] is False
    v1 = cov.by_village.set_index("village_code").loc[V1]
    assert v1["households"] == 3
    assert v1["share_assigned"] == 1.0
    assert cov.by_township.set_index("township_code").loc["640323102", "unassigned"] == 1
    cell1 = cov.by_cell.set_index("cell_code").loc["c1"]
    assert cell1["households"] == 3
    assert cell1["cross_village"] == 1


def test_clean_assignment_is_publishable():
    hh = hh_frame(["a", "b"], [V1, V2])
    cells = pd.DataFrame({"code": ["c1", "c2"], "village_code": [V1, V2]})
    assignment = pd.DataFrame({"household_code": ["a", "b"], "cell_code": ["c1", "c2"]})
    cov = coverage.assignment_coverage(hh, assignment, cells)
    assert cov.summary["publishable"] is True
    assert cov.summary["share_assigned"] == 1.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), min_size=0, max_size=25))
def test_assignment_shares_in_unit_interval(pairs):
    hh = hh_frame([f"h{i}" for i in range(8)], [V1] * 4 + [V2] * 4)
    cells = pd.DataFrame({"code": ["c0", "c1", "c2", "c3"], "village_code": [V1, V1, V2, V2]})
    assignment = pd.DataFrame(
        {"household_code": [f"h{i}" for i, _ in pairs], "cell_code": [f"c{j}" for _, j in pairs]}
    )
    cov = coverage.assignment_coverage(hh, assignment, cells)
    for table in (cov.by_village, cov.by_township):
        assert table["share_assigned"].between(0, 1).all()
    assigned = {i for i, _ in pairs}
    assert cov.summary["unassigned"] == 8 - len(assigned)


def _metres_to_deg(x_m, y_m):
    # near (107.41, 37.78): 1° lat ≈ 111 km, 1° lon ≈ 87.9 km
    return 107.41 + np.asarray(x_m) / 87_900, 37.78 + np.asarray(y_m) / 111_000


def test_service_coverage_straight_line():
    # households at 0, 500, 1500, 3000 m east of a clinic; a police post at 3000 m
    lon, lat = _metres_to_deg([0, 500, 1500, 3000], [0, 0, 0, 0])
    hh = hh_frame(
        list("abcd"), [V1, V1, V2, V2], np.column_stack([lon, lat]), residents=[1, 2, 3, 4]
    )
    slon, slat = _metres_to_deg([0, 3000], [0, 0])
    services = gpd.GeoDataFrame(
        {"kind": ["clinic", "police_post"]}, geometry=shapely.points(slon, slat), crs=4326
    )
    cov = coverage.service_coverage(hh, services, max_distance_m=1000)
    d = cov.distances
    assert d.loc[2, "clinic"] == pytest.approx(1500, rel=0.01)
    table = cov.by_village.set_index(["village_code", "kind"])
    assert table.loc[(V1, "clinic"), "uncovered_households"] == 0
    assert table.loc[(V2, "clinic"), "uncovered_residents"] == 7
    assert table.loc[(V1, "police_post"), "share_covered"] == 0.0
    assert table.loc[(V2, "police_post"), "share_covered"] == 0.5
    gaps = cov.uncovered
    assert set(gaps.loc[gaps["kind"] == "clinic", "code"]) == {"c", "d"}
    assert gaps.crs.to_epsg() == 4326
    assert "straight_line_m" in gaps.columns
    with pytest.raises(ConfigError, match="no service point of kind"):
        coverage.service_coverage(hh, services, max_distance_m=1000, kinds=("fire",))


@pytest.mark.slow
def test_extra_sites_reach_the_target_with_fewest_sites():
    # two groups of 10 households, 5 km apart, far from the single clinic
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(5000, 50, 10), rng.normal(10000, 50, 10), [0.0]])
    ys = np.concatenate([rng.normal(0, 50, 10), rng.normal(0, 50, 10), [0.0]])
    lon, lat = _metres_to_deg(xs, ys)
    hh = hh_frame([f"h{i}" for i in range(21)], [V1] * 21, np.column_stack([lon, lat]))
    slon, slat = _metres_to_deg([0], [0])
    services = gpd.GeoDataFrame({"kind": ["clinic"]}, geometry=shapely.points(slon, slat), crs=4326)
    clon, clat = _metres_to_deg([5000, 7500, 10000, 20000], [0, 0, 0, 0])
    cands = gpd.GeoDataFrame(
        {"name": ["A", "mid", "B", "far"]}, geometry=shapely.points(clon, clat), crs=4326
    )
    half = coverage.extra_sites(
        hh, services, cands, kind="clinic", max_distance_m=1000, target_share=0.5
    )
    assert len(half) == 1
    assert half.attrs["share_after"] >= 0.5
    full = coverage.extra_sites(
        hh, services, cands, kind="clinic", max_distance_m=1000, target_share=1.0
    )
    assert sorted(full["name"]) == ["A", "B"]
    assert full.attrs["share_after"] == 1.0
    assert full.attrs["reached"]


def _visits(rows):
    return pd.DataFrame(rows, columns=["household_code", "worker_code", "visited_at"]).assign(
        visited_at=lambda f: pd.to_datetime(f["visited_at"], utc=True)
    )


def test_visit_coverage_and_five_colour_rules():
    hh = hh_frame(list("abcd"), [V1] * 4, colours=["red", "red", "green", "yellow"])
    assignment = pd.DataFrame({"household_code": list("abcd"), "cell_code": ["c1"] * 3 + ["c2"]})
    visits = _visits(
        [
            ("a", "w1", "2025-05-01"),
            ("a", "w1", "2025-05-06"),
            ("a", "w1", "2025-05-12"),  # gaps 5, 6 days; 3 days before now -> red ok
            ("b", "w1", "2025-04-20"),
            ("b", "w1", "2025-05-14"),  # gap 24 days > 7 -> red not ok
            ("c", "w1", "2025-03-01"),  # 75 days before now, green rule 90 -> ok
        ]
    )
    rules = {"red": 7, "orange": 14, "yellow": 30, "blue": 60, "green": 90}
    workers = pd.DataFrame({"code": ["w1", "w2"], "cell_code": ["c1", "c2"]})
    cov = coverage.visit_coverage(
        hh, visits, assignment, days=30, now="2025-05-15T00:00Z", rules=rules, workers=workers
    )
    got = cov.households.set_index("code")
    assert got["compliant"].tolist() == [True, False, True, False]
    assert got["visited_recently"].tolist() == [True, True, False, False]
    assert cov.never_visited["code"].tolist() == ["d"]
    c1 = cov.by_cell.set_index("cell_code").loc["c1"]
    assert c1["share_visited"] == pytest.approx(2 / 3)
    assert c1["share_compliant"] == pytest.approx(2 / 3)
    w = cov.by_worker.set_index("worker_code")
    assert w.loc["w1", "visits"] == 5
    assert w.loc["w2", "share_compliant"] == 0.0


def test_visit_rules_from_profile():
    rules = profiles.visit_rules()
    assert rules["red"] < rules["green"]
    assert set(rules) == {"red", "orange", "yellow", "blue", "green"}


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 120)), min_size=0, max_size=40),
    st.integers(1, 60),
)
def test_visit_shares_in_unit_interval(visit_days, window):
    hh = hh_frame(
        [f"h{i}" for i in range(6)],
        [V1] * 6,
        colours=["red", "orange", "yellow", "blue", "green", "red"],
    )
    assignment = pd.DataFrame(
        {
            "household_code": [f"h{i}" for i in range(6)],
            "cell_code": ["c1", "c1", "c2", "c2", "c3", "c3"],
        }
    )
    base = pd.Timestamp("2025-01-01", tz="UTC")
    visits = pd.DataFrame(
        {
            "household_code": [f"h{i}" for i, _ in visit_days],
            "worker_code": "w",
            "visited_at": [base + pd.Timedelta(days=d) for _, d in visit_days],
        }
    )
    cov = coverage.visit_coverage(
        hh, visits, assignment, days=window, now=base + pd.Timedelta(days=121)
    )
    for col in ("share_visited", "share_compliant"):
        assert cov.by_cell[col].between(0, 1).all()


def test_worker_load_flags_outliers():
    hh = pd.DataFrame({"code": [f"h{i}" for i in range(130)], "residents": 2})
    cells = [f"c{i // 10}" for i in range(100)] + ["c10"] * 30  # c10 has 30 households
    assignment = pd.DataFrame({"household_code": hh["code"], "cell_code": cells})
    workers = pd.DataFrame(
        {"code": [f"w{i}" for i in range(11)], "cell_code": [f"c{i}" for i in range(11)]}
    )
    load = coverage.worker_load(hh, assignment, workers).set_index("worker_code")
    assert load.loc["w0", "households"] == 10
    assert load.loc["w10", "residents"] == 60
    assert load.loc["w10", "outlier"] == "high"
    assert (load.drop("w10")["outlier"] == "").all()
