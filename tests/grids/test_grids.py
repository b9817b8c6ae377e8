"""Hand-made villages with answers checkable by eye for :mod:`geo.grids`."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import grids
from geo.errors import ConfigError, CRSError, DataError
from tests._fixtures.villages import assert_tiles, build, grid_points, make_frames, square, to_ll

# --------------------------------------------------------------------------- sizes


def test_village_of_35_is_one_cell():
    plan, _hh, v = build(35)
    assert len(plan.cells) == 1
    cell = plan.cells.iloc[0]
    assert cell["code"] == "640323-101-012-001"
    assert cell["households"] == 35
    assert cell["residents"] == 105
    assert cell["within_bounds"]
    assert cell["flag_reason"] is None
    assert cell["contiguous"]
    assert_tiles(plan, v)


def test_village_of_20_is_one_flagged_cell():
    plan, _, v = build(20)
    assert len(plan.cells) == 1
    cell = plan.cells.iloc[0]
    assert not cell["within_bounds"]
    assert cell["flag_reason"].startswith("below min: 20 < 30")
    assert "cannot be cut" in cell["flag_reason"]
    assert plan.metrics["villages_infeasible"] == 1
    assert_tiles(plan, v)


def test_village_of_55_is_flagged_not_failed():
    plan, _, v = build(55)
    assert plan.cells["households"].sum() == 55
    assert not plan.cells["within_bounds"].any()
    assert plan.cells["flag_reason"].str.contains("village of 55").all()
    assert_tiles(plan, v)


@pytest.mark.parametrize("n", [60, 100, 149, 230])
def test_feasible_villages_are_all_in_bounds(n):
    plan, _, v = build(n)
    sizes = plan.cells["households"]
    assert sizes.between(30, 50).all()
    assert plan.cells["contiguous"].all()
    assert plan.cells["flag_reason"].isna().all()
    assert plan.metrics["share_within_bounds"] == 1.0
    if n == 100:
        assert len(plan.cells) in (2, 3)
    assert_tiles(plan, v)


def test_natural_unit_of_40_stays_whole():
    # unit 1: 40 households on the left; unit 2: 60 on the right
    left = grid_points(40, cols=5, step=20)
    right = grid_points(60, x0=200, cols=6, step=20)
    xy = np.concatenate([left, right])
    units = np.r_[np.ones(40, int), np.full(60, 2)]
    hh, nu, v = make_frames(xy, units, shapely.box(0, 0, 340, 220))
    plan = grids.build_plan(hh, nu, v)
    a = plan.assignment
    first = a.loc[a["natural_unit_code"].str.endswith("001"), "cell_code"]
    assert len(set(first)) == 1
    assert (a["cell_code"] == first.iloc[0]).sum() == 40
    assert plan.cells["within_bounds"].all()
    assert_tiles(plan, v)


def test_natural_units_kept_whole_or_ignored_for_compactness():
    """The rule by default; ``keep_natural_units=False`` trades it for compact cells."""
    from benchmarks._villages import make_village

    hh, nu, v = make_village(1000, seed=1, courtyards=False)
    kept = grids.build_plan(hh, nu, v)
    sizes = hh["natural_unit_code"].value_counts()
    whole = sizes[sizes.between(30, 50)].index
    cells_of = kept.assignment.groupby("natural_unit_code")["cell_code"].nunique()
    # a unit within bounds is cut only where a small neighbour with nowhere else to go joined it
    assert (cells_of[whole] == 1).mean() >= 0.9
    assert kept.params["keep_natural_units"] is True

    free = grids.build_plan(hh, nu, v, keep_natural_units=False)
    assert free.params["keep_natural_units"] is False
    assert free.metrics["mean_pp"] >= 0.60 > kept.metrics["mean_pp"]
    assert free.metrics["natural_units_split"] > kept.metrics["natural_units_split"]
    assert free.metrics["share_within_bounds"] == 1.0
    assert free.cells["contiguous"].all()
    assert_tiles(free, v)
    # a village rebuilt from the plan keeps the plan's setting
    again = grids.rebuild_village(free, v["code"].iloc[0])
    assert (again.assignment["cell_code"] == free.assignment["cell_code"]).all()


def test_two_natural_units_of_15_merge():
    xy = np.concatenate([grid_points(15, cols=5), grid_points(15, x0=110, cols=5)])
    units = np.r_[np.ones(15, int), np.full(15, 2)]
    hh, nu, v = make_frames(xy, units, shapely.box(0, 0, 220, 80))
    plan = grids.build_plan(hh, nu, v)
    assert len(plan.cells) == 1
    assert plan.cells.iloc[0]["households"] == 30
    assert plan.cells.iloc[0]["within_bounds"]


def test_courtyards_are_inside_their_cells():
    xy = grid_points(90, cols=10, step=30)
    hh, nu, v = make_frames(xy, np.zeros(90, int), square(300), courtyard_m=10)
    plan = grids.build_plan(hh, nu, v)
    assert plan.cells["within_bounds"].all()
    cells = plan.cells.set_index("code").geometry
    cg = cells.reindex(plan.assignment["cell_code"]).values
    # the whole courtyard, not only its point, lies in its cell (to 1 % of its area)
    hg = hh.geometry.values
    outside = shapely.area(shapely.difference(hg, cg)) / shapely.area(hg)
    assert outside.max() < 0.01
    assert check_clean(plan, hh)


def check_clean(plan, hh):
    problems = grids.check_plan(plan, hh)
    assert problems.empty, problems
    return True


# --------------------------------------------------------------------------- codes, outputs


def test_codes_are_stable_and_readable():
    plan, hh, v = build(230)
    again = grids.build_plan(hh, None, v)
    pd.testing.assert_frame_equal(plan.assignment, again.assignment)
    assert list(plan.cells["code"]) == [f"640323-101-012-{q:03d}" for q in range(1, 7)]
    assert grids.cell_code("640323101012", 26) == "640323-101-012-026"


def test_outputs_align_with_inputs_and_inputs_untouched():
    xy = grid_points(120, cols=12, step=20)
    hh, nu, v = make_frames(xy, np.zeros(120, int), square(240))
    hh = hh.set_index(pd.Index(np.arange(120)[::-1] * 7))
    before = hh.copy()
    plan = grids.build_plan(hh, nu, v)
    assert plan.assignment.index.equals(hh.index)
    assert (plan.assignment["household_code"] == hh["code"]).all()
    pd.testing.assert_frame_equal(hh, before)
    assert plan.cells.crs.to_epsg() == 4326
    assert list(plan.cells.columns) == list(grids.CELL_COLUMNS)
    assert plan.metrics["households"] == 120
    assert plan.metrics_frame().shape[0] == 1


def test_two_villages_never_share_a_cell_and_jobs_agree():
    a = grid_points(70, cols=7, step=20)
    b = grid_points(45, x0=200, cols=5, step=20)
    xy = np.concatenate([a, b])
    mask_a = np.r_[np.ones(70, bool), np.zeros(45, bool)]
    villages = [
        ("640323101001", shapely.box(0, 0, 200, 220), mask_a),
        ("640323101002", shapely.box(200, 0, 320, 220), ~mask_a),
    ]
    hh, nu, v = make_frames(xy, np.zeros(115, int), villages)
    plan = grids.build_plan(hh, nu, v)
    per_village = plan.assignment.groupby("cell_code")["village_code"].nunique()
    assert (per_village == 1).all()
    assert plan.cells["code"].str[:14].isin(["640323-101-001", "640323-101-002"]).all()
    assert_tiles(plan, v)
    par = grids.build_plan(hh, nu, v, n_jobs=2)
    pd.testing.assert_frame_equal(plan.assignment, par.assignment)


# --------------------------------------------------------------------------- errors


def test_refuses_missing_or_mismatched_crs():
    _, hh, v = build(35)
    with pytest.raises(CRSError):
        grids.build_plan(hh.set_crs(None, allow_override=True), None, v)
    with pytest.raises(CRSError):
        grids.build_plan(hh.to_crs(3857), None, v)


def test_refuses_bad_bounds_and_unknown_villages():
    _, hh, v = build(35)
    with pytest.raises(ConfigError, match="min_size <= max_size"):
        grids.build_plan(hh, None, v, min_size=50, max_size=30)
    with pytest.raises(DataError, match="villages not in"):
        grids.build_plan(hh.assign(village_code="640323101999"), None, v)
    with pytest.raises(DataError, match="duplicate"):
        grids.build_plan(pd.concat([hh, hh]), None, v)


def test_cell_bounds_are_checked_once_and_default_to_30_50():
    assert grids.CellBounds() == grids.CellBounds(30, 50)
    assert grids.CellBounds(np.int64(5), 8).min_size == 5
    with pytest.raises(ConfigError, match="min_size <= max_size"):
        grids.CellBounds(50, 30)
    with pytest.raises(ConfigError, match="integers"):
        grids.CellBounds(30.0, 50)
    _, hh, v = build(35)
    with pytest.raises(ConfigError, match="not both"):
        grids.build_plan(hh, None, v, min_size=20, bounds=grids.CellBounds())
    assert grids.is_village_feasible(55) is False
    assert grids.is_village_feasible(55, bounds=grids.CellBounds(25, 30)) is True


def test_plan_params_round_trip_their_stored_json():
    stored = {
        "min_size": 20,
        "max_size": 35,
        "county_code": "640323",
        "seed": 3,
        "metric_crs": "EPSG:32648",
        "keep_natural_units": False,
        "village_bounds": {"640323101012": [15, 25]},
    }
    params = grids.PlanParams.from_json(stored)
    assert params.bounds == grids.CellBounds(20, 35)
    assert params.bounds_for("640323101012") == grids.CellBounds(15, 25)
    assert params.bounds_for("640323101013") == grids.CellBounds(20, 35)
    assert params.to_json() == stored
    assert params["village_bounds"] == {"640323101012": [15, 25]}
    old = grids.PlanParams.from_json({"min_size": 30, "max_size": 50, "county_code": None})
    assert (old.metric_crs, old.keep_natural_units, old.seed) == (None, True, 0)


# --------------------------------------------------------------------------- edits


@pytest.fixture(scope="module")
def plan230():
    plan, hh, v = build(230)
    return plan, hh, v


def test_cells_from_assignment_reproduces_the_plan(plan230):
    plan, hh, v = plan230
    cells = grids.cells_from_assignment(hh, v, plan.assignment)
    assert list(cells["code"]) == list(plan.cells["code"])
    assert shapely.equals(cells.geometry.values, plan.cells.geometry.values).all()


def test_move_households_keeps_tiling_and_does_not_mutate(plan230):
    plan, _hh, v = plan230
    before = plan.assignment.copy()
    src, dst = _adjacent_pair(plan)
    movers = plan.assignment.loc[plan.assignment["cell_code"] == src, "household_code"][:2]
    new = grids.move_households(plan, movers, dst)
    pd.testing.assert_frame_equal(plan.assignment, before)
    moved = new.assignment.set_index("household_code").loc[movers, "cell_code"]
    assert (moved == dst).all()
    sizes = new.cells.set_index("code")["households"]
    old = plan.cells.set_index("code")["households"]
    assert sizes[src] == old[src] - 2
    assert sizes[dst] == old[dst] + 2
    assert_tiles(new, v)
    diff = grids.plan_diff(plan, new)
    assert set(diff.moved["household_code"]) == set(movers)
    assert set(diff.cells_reshaped) >= {src, dst}
    assert diff.cells_added == []
    assert diff.cells_removed == []


def test_move_to_another_village_is_refused():
    a = grid_points(40, cols=5, step=20)
    b = grid_points(40, x0=200, cols=5, step=20)
    mask = np.r_[np.ones(40, bool), np.zeros(40, bool)]
    villages = [
        ("640323101001", shapely.box(0, 0, 200, 200), mask),
        ("640323101002", shapely.box(200, 0, 400, 200), ~mask),
    ]
    hh, nu, v = make_frames(np.concatenate([a, b]), np.zeros(80, int), villages)
    plan = grids.build_plan(hh, nu, v)
    with pytest.raises(DataError, match="not in village"):
        grids.move_households(plan, hh["code"][:1], "640323-101-002-001")
    with pytest.raises(DataError, match="different villages"):
        grids.merge_cells(plan, "640323-101-001-001", "640323-101-002-001")
    with pytest.raises(DataError, match="unknown cell"):
        grids.move_households(plan, hh["code"][:1], "nope")


def test_households_in_polygon_selects_by_point():
    xy = grid_points(35, cols=5, step=20)
    hh, _, _ = make_frames(xy, np.zeros(35, int), square(200))
    lasso = to_ll([shapely.box(0, 0, 45, 45)])[0]
    got = grids.households_in_polygon(hh, lasso)
    assert len(got) == 4  # points at (10|30, 10|30)
    assert list(got.index) == [0, 1, 5, 6]


def test_split_cell_gives_new_codes_and_keeps_tiling(plan230):
    plan, _hh, v = plan230
    target = plan.cells.iloc[0]["code"]
    n = plan.cells.iloc[0]["households"]
    new = grids.split_cell(plan, target, 2)
    assert len(new.cells) == len(plan.cells) + 1
    assert "640323-101-012-007" in set(new.cells["code"])
    sizes = new.cells.set_index("code")["households"]
    assert sizes[target] + sizes["640323-101-012-007"] == n
    assert_tiles(new, v)
    flagged = new.cells.set_index("code").loc[[target, "640323-101-012-007"], "flag_reason"]
    assert flagged.str.startswith("below min").all()  # ~19 households each: flagged, not hidden
    with pytest.raises(ConfigError):
        grids.split_cell(plan, target, 1)


def test_merge_cells_adjacent_and_refused_when_not(plan230):
    plan, _hh, v = plan230
    a, b = _adjacent_pair(plan)
    merged = grids.merge_cells(plan, a, b)
    assert len(merged.cells) == len(plan.cells) - 1
    keep = min(a, b)
    old = plan.cells.set_index("code")["households"]
    assert merged.cells.set_index("code").loc[keep, "households"] == old[a] + old[b]
    assert_tiles(merged, v)
    far = _non_adjacent_pair(plan)
    with pytest.raises(DataError, match="not adjacent"):
        grids.merge_cells(plan, *far)


def test_rebuild_village_restores_the_generated_plan(plan230):
    plan, _hh, _v = plan230
    a, b = _adjacent_pair(plan)
    edited = grids.merge_cells(plan, a, b)
    rebuilt = grids.rebuild_village(edited, "640323101012")
    pd.testing.assert_frame_equal(rebuilt.assignment, plan.assignment)
    assert list(rebuilt.cells["code"]) == list(plan.cells["code"])
    smaller = grids.rebuild_village(plan, "640323101012", min_size=20, max_size=30)
    assert smaller.cells["households"].between(20, 30).all()


def test_check_plan_finds_each_rule(plan230):
    plan, hh, _v = plan230
    assert grids.check_plan(plan, hh).empty
    a = plan.assignment
    broken = pd.concat([a.iloc[1:], a.iloc[[5]]])  # first household dropped, sixth twice
    bad = grids.GridPlan(plan.cells, broken, plan.metrics, plan.params, plan.inputs)
    found = grids.check_plan(bad, hh)
    assert set(found["rule"]) >= {"unassigned", "assigned_twice"}
    assert found.loc[found["rule"] == "unassigned", "household_code"].tolist() == [a.iloc[0, 0]]
    merged = grids.merge_cells(plan, *_adjacent_pair(plan))
    rules = set(grids.check_plan(merged, hh)["rule"])
    assert rules == {"out_of_bounds"}


def test_plan_without_inputs_needs_attach(plan230):
    plan, hh, v = plan230
    bare = grids.GridPlan(plan.cells, plan.assignment, plan.metrics, plan.params)
    with pytest.raises(ConfigError, match="attach"):
        grids.split_cell(bare, plan.cells.iloc[0]["code"], 2)
    again = bare.attach(hh, v)
    assert len(grids.split_cell(again, plan.cells.iloc[0]["code"], 2).cells) == 7


def test_polsby_popper_of_simple_shapes():
    circle = shapely.Point(0, 0).buffer(10, quad_segs=256)
    got = grids.polsby_popper(np.array([shapely.box(0, 0, 1, 1), circle, shapely.box(0, 0, 4, 1)]))
    np.testing.assert_allclose(got, [np.pi / 4, 1.0, 4 * np.pi * 4 / 100], rtol=1e-4)
    s = gpd.GeoSeries(to_ll([shapely.box(0, 0, 100, 100)]), crs=4326)
    np.testing.assert_allclose(grids.polsby_popper(s), [np.pi / 4], rtol=1e-3)


def _adjacent_pair(plan):
    g = plan.cells.set_index("code").geometry
    codes = list(g.index)
    for x in codes:
        for y in codes:
            if x < y and shapely.relate_pattern(g[x], g[y], "****1****"):
                return x, y
    raise AssertionError("no adjacent cells")


def _non_adjacent_pair(plan):
    g = plan.cells.set_index("code").geometry
    codes = list(g.index)
    for x in codes:
        for y in codes:
            if x < y and not shapely.intersects(g[x], g[y]):
                return x, y
    raise AssertionError("all cells adjacent")


def test_cells_tile_the_stored_villages_of_a_generated_county():
    """Long village edges (kilometres) stay straight in EPSG:4326: cells follow them there."""
    from geo import synth

    county = synth.generate_county("small", seed=11)
    plan = grids.build_plan(county.households, county.natural_units, county.villages)
    assert_tiles(plan, county.villages)
    assert plan.metrics["share_within_bounds"] == 1.0
