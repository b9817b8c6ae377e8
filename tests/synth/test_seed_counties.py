"""Seed counties to the last figure: a county generated from a profile that gives ``cells``
gets exactly that many cells from the default grid engine (natural units kept)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import grids
from geo.grids._partition import choose_cell_count, is_feasible
from geo.profiles import Profile, load_profile
from geo.synth import generate_county
from geo.synth._cells import unit_range, unit_sizes
from tests._fixtures.profiles import drawn_profile
from tests._fixtures.villages import assert_tiles


@pytest.mark.parametrize(("cmin", "cmax"), [(30, 50), (20, 60), (25, 35), (10, 50), (40, 40)])
def test_unit_range_is_cut_into_exactly_k_cells_by_the_engine(cmin: int, cmax: int) -> None:
    for k in range(1, 80):
        lo, hi = (int(v) for v in unit_range(k, cmin, cmax))
        assert lo <= hi, k
        for n in range(lo, hi + 1):
            assert is_feasible(n, cmin, cmax), (k, n)
            assert choose_cell_count(n, cmin, cmax) == k, (k, n)


def test_unit_range_for_30_50_is_40k_plus_or_minus_19() -> None:
    lo, hi = unit_range(np.array([1, 2, 3, 10]), 30, 50)
    assert lo.tolist() == [30, 61, 101, 381]
    assert hi.tolist() == [50, 99, 139, 419]


@settings(max_examples=50, deadline=None)
@given(
    cells=st.integers(1, 40),
    units=st.integers(1, 40),
    offset=st.integers(-19, 19),
    weights=st.lists(st.floats(0.05, 5.0), min_size=40, max_size=40),
)
def test_unit_sizes_add_up_to_the_village_cells(cells, units, offset, weights) -> None:
    households = max(30, 40 * cells + offset) if cells > 1 else 30 + (offset + 19) % 21
    sizes = unit_sizes(households, cells, np.array(weights[:units]), 30, 50)
    if units > cells:
        assert sizes is None
        return
    assert sizes is not None
    assert sizes.sum() == households
    assert all(is_feasible(int(n), 30, 50) for n in sizes)
    assert sum(choose_cell_count(int(n), 30, 50) for n in sizes) == cells


def test_too_many_units_for_the_cells_are_refused() -> None:
    assert unit_sizes(80, 2, np.ones(3), 30, 50) is None


@st.composite
def seed_profiles(draw) -> Profile:
    """Small profiles that report a cell count, households about 40 per cell."""
    t, s = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    v = t + s + draw(st.integers(0, 4))
    cells = v + draw(st.integers(0, 25))
    nu = min(cells, v + draw(st.integers(0, 15)))
    hh = 40 * cells + draw(st.integers(-cells // 3, cells // 3))
    return drawn_profile(
        draw,
        townships=t,
        subdistricts=s,
        villages=v,
        natural_units=nu,
        households=hh,
        cells=cells,
    )


@settings(max_examples=5, deadline=None)
@given(seed_profiles(), st.integers(0, 1000))
def test_the_engine_cuts_exactly_the_profile_cells(profile: Profile, seed: int) -> None:
    county = generate_county(profile, seed=seed)
    assert county.counts()["natural_units"] == profile.natural_units
    plan = grids.build_plan(county.households, county.natural_units, county.villages)
    assert len(plan.cells) == profile.cells
    assert plan.metrics["share_within_bounds"] == 1.0
    per_village = plan.cells.groupby("village_code").size().to_dict()
    assert per_village == county.meta["village_cells"]
    assert_tiles(plan, county.villages)


@pytest.mark.slow
def test_xihua_plan_has_the_report_figures() -> None:
    """The Xihua report: 22 level-1 grids, 451 level-2, 2,239 level-3, 8,788 cells; the plan
    built by the default engine as ``geo.plans.build_county_plan`` runs it (the profile's
    bounds, natural units kept), without the PostGIS round trip (a minute on a busy machine)."""
    profile = load_profile("xihua")
    county = generate_county(profile, seed=1)
    bounds = grids.CellBounds(profile.cell_min, profile.cell_max)
    plan = grids.build_plan(
        county.households, county.natural_units, county.villages, bounds=bounds, n_jobs=2
    )
    counts = county.counts()
    figures = (counts["townships"], counts["villages"], counts["natural_units"], len(plan.cells))
    assert figures == (22, 451, 2239, 8788)
    assert plan.metrics["cells"] == profile.cells
    assert plan.metrics["share_within_bounds"] == 1.0
    assert plan.cells["households"].between(30, 50).all()
    assert plan.metrics["households"] == 351520
    assert_tiles(plan, county.villages)
