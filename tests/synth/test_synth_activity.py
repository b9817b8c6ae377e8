"""Tests of geo.synth_activity: determinism, contracts, planted hotspots, visit rules."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import _hex, coverage, hotspots, profiles, synth_activity
from geo.errors import ConfigError

COLOURS = ["red", "orange", "yellow", "blue", "green"]


@pytest.fixture(scope="module")
def households() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(0)
    n = 3000
    lon = 107.41 + rng.normal(0, 0.03, n)
    lat = 37.78 + rng.normal(0, 0.03, n)
    d = 0.00005
    return gpd.GeoDataFrame(
        {
            "code": [f"6403231010{i // 500:02d}{i:07d}" for i in range(n)],
            "village_code": [f"6403231010{i // 500:02d}" for i in range(n)],
            "residents": rng.integers(1, 6, n),
            "colour": rng.choice(COLOURS, n, p=[0.05, 0.1, 0.15, 0.2, 0.5]),
        },
        geometry=[shapely.box(x - d, y - d, x + d, y + d) for x, y in zip(lon, lat, strict=True)],
        crs=4326,
    )


@pytest.fixture(scope="module")
def activity(households) -> synth_activity.Activity:
    return synth_activity.generate_activity(
        households, seed=5, months=6, hotspots={"stable": 2, "emerging": 1, "fading": 1}
    )


def test_deterministic_by_seed(households, activity):
    again = synth_activity.generate_activity(
        households, seed=5, months=6, hotspots={"stable": 2, "emerging": 1, "fading": 1}
    )
    pd.testing.assert_frame_equal(pd.DataFrame(activity.incidents), pd.DataFrame(again.incidents))
    pd.testing.assert_frame_equal(activity.visits, again.visits)
    other = synth_activity.generate_activity(households, seed=6, months=6)
    assert (
        len(other.incidents) != len(activity.incidents)
        or not other.incidents["code"].equals(activity.incidents["code"])
        or not other.incidents.geometry.equals(activity.incidents.geometry)
    )


def test_incident_contract(activity):
    inc = activity.incidents
    assert list(inc.columns[:5]) == [
        "code",
        "category",
        "platform",
        "reported_at",
        "household_code",
    ]
    assert inc.crs.to_epsg() == 4326
    assert str(inc["reported_at"].dt.tz) == "UTC"
    assert inc["code"].is_unique
    cfg = profiles.platforms_config()
    cats = {c["code"]: c["platform"] for c in cfg["incident_categories"]}
    assert set(inc["category"]) <= set(cats)
    assert (inc["platform"] == inc["category"].map(cats)).all()
    assert inc["household_code"].isna().any()
    assert inc["household_code"].notna().any()
    hours = inc["reported_at"].dt.hour
    assert (hours.between(9, 11)).mean() > (hours.between(1, 3)).mean() * 3


def test_planted_hotspots_follow_their_kind(activity):
    inc = activity.incidents
    spots = activity.hotspots
    assert spots["kind"].tolist() == ["stable", "stable", "emerging", "fading"]
    lon, lat = _hex.point_lonlat(inc)
    cells = _hex.cells_to_str(_hex.latlng_to_cells(lat, lon, 9))
    mid = inc["reported_at"].min() + (inc["reported_at"].max() - inc["reported_at"].min()) / 2
    late = (inc["reported_at"] >= mid).to_numpy()
    for _, spot in spots.iterrows():
        inside = np.isin(cells, spot["cells"])
        assert inside.sum() > 50
        early_n, late_n = (inside & ~late).sum(), (inside & late).sum()
        if spot["kind"] == "emerging":
            assert late_n > 5 * max(early_n, 1) * 0.5
        elif spot["kind"] == "fading":
            assert early_n > 5 * max(late_n, 1) * 0.5
    # the stable hotspots' hexagons are found hot by Gi* on the whole period
    out = hotspots.hex_hotspots(inc, resolution=9, geometry=False)
    hot = set(out.loc[out["gi_bin"] >= 2, "h3"])
    stable_cells = [c for cs in spots.loc[spots["kind"] == "stable", "cells"] for c in cs]
    assert np.mean([c in hot for c in stable_cells]) >= 0.9
    assert h3.get_resolution(spots["h3"].iloc[0]) == 9


def test_visits_follow_rules_with_some_non_compliance(households, activity):
    v = activity.visits
    assert list(v.columns) == ["household_code", "worker_code", "visited_at"]
    assert str(v["visited_at"].dt.tz) == "UTC"
    assignment = pd.DataFrame(
        {"household_code": households["code"], "cell_code": households["village_code"]}
    )
    cov = coverage.visit_coverage(households, v, assignment, days=183)
    per = cov.households.set_index("code")
    bad = per.index.isin(activity.non_compliant)
    assert per.loc[~bad, "max_gap_days"].le(per.loc[~bad, "allowed_days"]).mean() > 0.97
    assert per.loc[~bad, "compliant"].mean() > 0.97
    assert per.loc[bad, "compliant"].mean() < 0.5
    assert 0.05 < len(activity.non_compliant) / len(households) < 0.15


def test_bad_hotspot_kind():
    frame = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.Point(107.4, 37.7)], crs=4326)
    with pytest.raises(ConfigError, match="stable, emerging, fading"):
        synth_activity.generate_activity(frame, hotspots={"exploding": 1})
