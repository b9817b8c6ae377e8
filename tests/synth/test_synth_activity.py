"""Tests of geo.synth_activity: determinism, contracts, planted hotspots, visit rules."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import _hex, coverage, grids, hotspots, incidents, profiles, synth, synth_activity
from geo.errors import ConfigError, DataError
from geo.frames import FIVE_COLOURS

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
    # lapses: 5 % single households + 5 % of the (75) workers + a quarter of red/orange
    assert 0.10 < len(activity.non_compliant) / len(households) < 0.16


def test_bad_hotspot_kind():
    frame = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.Point(107.4, 37.7)], crs=4326)
    with pytest.raises(ConfigError, match="stable, emerging, fading"):
        synth_activity.generate_activity(frame, hotspots={"exploding": 1})


# ------------------------------------------------------------------ the demo's other tables


@pytest.fixture(scope="module")
def county():
    return synth.generate_county("small", seed=5)


@pytest.fixture(scope="module")
def plan(county):
    return grids.build_plan(
        county.households, county.natural_units, county.villages, min_size=30, max_size=50
    )


def _demo(county, plan, seed=3, **options) -> synth_activity.Activity:
    return synth_activity.generate_activity(
        county.households,
        seed=seed,
        start="2026-06-01",
        months=4,
        cells=plan.cells[["code", "village_code"]],
        assignment=plan.assignment[["household_code", "cell_code"]],
        villages=county.villages,
        townships=county.townships,
        **options,
    )


@pytest.fixture(scope="module")
def demo(county, plan) -> synth_activity.Activity:
    return _demo(county, plan)


def test_every_frame_is_deterministic_by_seed(county, plan, demo):
    again = _demo(county, plan)
    for name in ("incidents", "visits", "workers", "events", "service_points",
                 "colour_events", "lapses"):  # fmt: skip
        pd.testing.assert_frame_equal(
            pd.DataFrame(getattr(demo, name)), pd.DataFrame(getattr(again, name)), obj=name
        )
    other = _demo(county, plan, seed=4)
    assert not other.workers["name"].equals(demo.workers["name"])
    assert not other.colour_events["household_code"].equals(demo.colour_events["household_code"])


def test_one_worker_per_cell_with_name_fake_phone_and_township(county, plan, demo):
    w = demo.workers
    assert sorted(w["cell_code"]) == sorted(plan.cells["code"])
    assert w["code"].is_unique
    assert w["name"].str.len().ge(2).all()
    assert w["phone"].str.fullmatch(r"000-\d{4}-\d{4}").all()  # cannot be dialled
    parents = county.villages.set_index("code")["parent_code"]
    assert (w["township_code"] == w["village_code"].map(parents)).all()
    cell_village = plan.cells.set_index("code")["village_code"]
    assert (w["village_code"] == w["cell_code"].map(cell_village)).all()
    # visits are made by the worker of the household's cell
    cell_of = plan.assignment.set_index("household_code")["cell_code"]
    worker_of_cell = w.set_index("cell_code")["code"]
    v = demo.visits
    assert (v["worker_code"] == v["household_code"].map(cell_of).map(worker_of_cell)).all()


def test_visits_keep_the_rules_for_the_majority_and_lapse_for_the_stated_shares(county, plan, demo):
    households = county.households
    cov = coverage.visit_coverage(
        households, demo.visits, plan.assignment, days=120, now=pd.Timestamp("2026-09-30")
    )
    per = cov.households.set_index("code")
    lapses = demo.lapses.set_index("household_code")["reason"]
    lapsed = per.index.isin(lapses.index)
    assert per.loc[~lapsed, "compliant"].mean() > 0.97
    # with rules of 30 days or less, four months show every lapse (a lapsing green
    # household, rule 90 days, may have had one visit in time)
    rules = profiles.visit_rules()
    strict = per["colour"].map(rules).le(30)
    for reason in ("household", "worker", "overdue"):
        codes = lapses.index[lapses == reason]
        assert len(codes) > 0, reason
        assert per.loc[codes, "compliant"][strict[codes]].mean() < 0.1, reason
    share = lapses.value_counts() / len(households)
    assert 0.03 < share["household"] < 0.07  # non_compliance=0.05
    n_workers = len(demo.workers)
    lagging = demo.visits.loc[
        demo.visits["household_code"].isin(lapses.index[lapses == "worker"]), "worker_code"
    ].nunique()
    assert lagging == round(0.05 * n_workers)  # lagging_workers=0.05: whole cells lag
    red_orange = households["colour"].isin(["red", "orange"])
    overdue = lapses.index[lapses == "overdue"]
    assert 0.12 < len(overdue) / red_orange.sum() < 0.38  # overdue_share=0.25
    assert households.set_index("code").loc[overdue, "colour"].isin(["red", "orange"]).all()
    last = demo.visits.groupby("household_code")["visited_at"].max()
    colour = households.set_index("code")["colour"]
    end = pd.Timestamp("2026-06-01", tz="UTC") + pd.Timedelta(days=round(4 * 30.44))
    gap = (end - last.reindex(overdue)).dt.days
    assert (gap.fillna(999) > colour[overdue].map(rules)).all()  # overdue at the end


def test_colour_history_ends_at_todays_colour_one_step_at_a_time(county, demo):
    ev = demo.colour_events
    assert 0.03 < ev["household_code"].nunique() / len(county.households) < 0.09
    assert ev["changed_at"].is_monotonic_increasing
    last = ev.groupby("household_code")["colour"].last()
    colour = county.households.set_index("code")["colour"]
    assert (last == colour[last.index]).all()
    rank = ev["colour"].map({c: i for i, c in enumerate(FIVE_COLOURS)})
    step = rank.groupby(ev["household_code"]).diff().dropna().abs()
    assert (step == 1).all()
    assert ev.groupby("household_code").size().isin([2, 3]).all()


def test_service_points_of_every_kind_with_gaps(county, demo):
    sp = demo.service_points
    assert sp.crs.to_epsg() == 4326
    assert sp["code"].is_unique
    assert set(sp["kind"]) == set(coverage.SERVICE_KINDS)
    towns = county.townships["code"]
    village_town = county.villages.set_index("code")["parent_code"]
    for kind in ("convenience_centre", "police_post", "clinic"):
        assert set(sp.loc[sp["kind"] == kind, "village_code"].map(village_town)) == set(towns)
    # every point lies in its village, and some villages have no convenience point at all
    vil = county.villages.set_index("code").geometry
    around = vil.loc[sp["village_code"]].buffer(0.002).reset_index(drop=True)
    assert around.contains(sp.geometry.reset_index(drop=True)).all()
    served = set(sp.loc[sp["kind"] == "convenience_centre", "village_code"])
    assert len(served) < len(county.villages)


def test_incident_paths_obey_the_state_machine_and_cover_every_path(demo):
    ev = demo.events
    inc = demo.incidents.set_index("code")
    assert set(inc["path"]) == set(synth_activity.PATHS)
    previous = ev.groupby("incident_code")["to_status"].shift(1).fillna("reported")
    for frm, to, role in zip(previous, ev["to_status"], ev["role"], strict=True):
        incidents.check_move(frm, to, role)  # raises if the state machine refuses it
    assert (ev.groupby("incident_code")["at"].diff().dropna() > pd.Timedelta(0)).all()
    assert (ev["at"] > ev["incident_code"].map(inc["reported_at"])).all()
    fed = ev["to_status"] == "fed_back"
    assert ev.loc[fed, "satisfaction"].between(1, 5).all()
    assert ev.loc[~fed, "satisfaction"].isna().all()
    # stuck: old incidents whose history stops before closing, at several steps
    last = ev.groupby("incident_code")["to_status"].last()
    old = inc.index[inc["reported_at"] < pd.Timestamp("2026-08-01", tz="UTC")]
    stuck = last.reindex(old).fillna("reported")
    assert {"reported", "accepted", "dispatched", "in_progress", "resolved"} <= set(stuck)
    assert 0.04 < (stuck != "closed").mean() < 0.15


def test_late_path_resolves_past_due_and_the_others_in_time(demo):
    cfg = profiles.platforms_config()
    due = {c["code"]: c["due_hours"] for c in cfg["incident_categories"]}
    inc = demo.incidents.set_index("code")
    ev = demo.events.assign(path=lambda e: e["incident_code"].map(inc["path"]))
    straight = ev[ev["path"].isin(["straight", "late"]) & (ev["to_status"] == "resolved")]
    hours = (
        straight["at"] - straight["incident_code"].map(inc["reported_at"])
    ).dt.total_seconds() / 3600
    allowed = straight["incident_code"].map(inc["category"]).map(due)
    late = (hours > allowed).groupby(straight["path"]).mean()
    assert late["late"] == 1.0
    assert late["straight"] == 0.0


def test_cells_need_the_assignment(county, plan):
    with pytest.raises(DataError, match="assignment"):
        synth_activity.generate_activity(county.households, cells=plan.cells)
    with pytest.raises(ConfigError, match="straight"):
        synth_activity.generate_activity(county.households, path_shares={"sideways": 1})
