"""Hypothesis properties of :mod:`geo.grids` on random villages.

Random star-shaped village polygons (convex or concave), random household points or small
courtyard squares inside, random natural units.  Invariants: the cells tile the village,
every household is in exactly one cell and inside it, cells are contiguous, the size bounds
hold whenever the village's household count allows them, outputs align with the inputs, and
the edit operations keep all of that.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import grids
from tests._fixtures.villages import assert_tiles, make_frames

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


@st.composite
def villages(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 260))
    concave = draw(st.booleans())
    courtyards = draw(st.booleans())
    n_units = draw(st.integers(1, 8))
    rng = np.random.default_rng(seed)
    m = int(rng.integers(5, 13))
    gaps = rng.uniform(0.5, 1.5, m)
    ang = np.cumsum(gaps) / gaps.sum() * 2 * np.pi
    r = 30.0 * np.sqrt(n) + 150
    rad = r * (rng.uniform(0.45, 1.0, m) if concave else np.ones(m))
    village = shapely.Polygon(np.column_stack([rad * np.cos(ang), rad * np.sin(ang)]))
    if not concave:
        village = village.convex_hull
    inner = village.buffer(-6.0) if courtyards else village
    xy = np.empty((0, 2))
    minx, miny, maxx, maxy = inner.bounds
    while len(xy) < n:
        cand = rng.uniform([minx, miny], [maxx, maxy], (4 * n, 2))
        xy = np.concatenate([xy, cand[shapely.contains_xy(inner, cand[:, 0], cand[:, 1])]])
    xy = xy[:n]
    centres = xy[rng.choice(n, min(n_units, n), replace=False)]
    units = np.argmin(((xy[:, None] - centres[None]) ** 2).sum(axis=2), axis=1)
    return make_frames(xy, units, village, courtyard_m=4.0 if courtyards else None)


def check_invariants(plan, hh, v):
    assert_tiles(plan, v)
    a = plan.assignment
    assert a.index.equals(hh.index)
    assert (a["household_code"] == hh["code"]).all()
    assert a["cell_code"].notna().all()
    assert a["cell_code"].isin(plan.cells["code"]).all()
    sizes = a["cell_code"].value_counts()
    got = plan.cells.set_index("code")["households"]
    assert (got == sizes.reindex(got.index)).all()
    problems = grids.check_plan(plan, hh)
    rules = set(problems["rule"])
    assert not rules & {"unassigned", "assigned_twice", "household_outside_cell"}, problems
    assert not rules & {"wrong_village", "outside_village", "unknown_cell"}, problems
    return problems


@SETTINGS
@given(villages())
def test_build_plan_invariants(frames):
    hh, nu, v = frames
    plan = grids.build_plan(hh, nu, v)
    check_invariants(plan, hh, v)
    assert plan.cells["contiguous"].all(), plan.cells[["code", "flag_reason"]]
    n = len(hh)
    if grids.is_village_feasible(n):
        assert plan.cells["households"].between(30, 50).all()
        assert plan.cells["flag_reason"].isna().all()
    else:
        assert plan.cells["flag_reason"].notna().all()


@pytest.mark.slow
@settings(SETTINGS, max_examples=12)
@given(villages().filter(lambda f: len(f[0]) >= 80))
def test_edits_keep_the_tiling(frames):
    hh, nu, v = frames
    plan = grids.build_plan(hh, nu, v)
    g = plan.cells.set_index("code").geometry
    codes = list(g.index)
    pair = next(
        (
            (x, y)
            for x in codes
            for y in codes
            if x < y and shapely.relate_pattern(g[x], g[y], "****1****")
        ),
        None,
    )
    assert pair is not None
    a, b = pair
    movers = plan.assignment.loc[plan.assignment["cell_code"] == a, "household_code"][:3]
    moved = grids.move_households(plan, movers, b)
    check_invariants(moved, hh, v)
    assert grids.plan_diff(plan, moved).moved["household_code"].tolist() == list(movers)
    merged = grids.merge_cells(plan, a, b)
    check_invariants(merged, hh, v)
    assert len(merged.cells) == len(plan.cells) - 1
    split = grids.split_cell(plan, a, 2)
    check_invariants(split, hh, v)
    assert len(split.cells) == len(plan.cells) + 1
    rebuilt = grids.rebuild_village(merged, v["code"].iloc[0])
    assert rebuilt.assignment.equals(plan.assignment)


EDITS = st.lists(
    st.tuples(st.sampled_from(["move", "split", "merge", "rebuild"]), st.integers(0, 10**6)),
    min_size=1,
    max_size=6,
)


def _adjacent_pairs(plan):
    g = plan.cells.set_index("code").geometry
    codes = list(g.index)
    return [
        (x, y)
        for i, x in enumerate(codes)
        for y in codes[i + 1 :]
        if shapely.relate_pattern(g[x], g[y], "****1****")
    ]


def _apply_edit(plan, op, r, village):
    """One edit drawn from ``(op, r)``; the plan itself when the edit does not apply."""
    cells = plan.cells["code"].tolist()
    a = plan.assignment
    if op == "move" and len(cells) >= 2:
        to = cells[r % len(cells)]
        others = a.loc[a["cell_code"] != to, "household_code"]
        take = 1 + r % 7
        return grids.move_households(plan, others.iloc[r % len(others) :][:take], to)
    if op == "split":
        sizes = plan.cells.set_index("code")["households"]
        big = sizes[sizes >= 2]
        if len(big):
            code = big.index[r % len(big)]
            return grids.split_cell(plan, code, 2 + r % min(3, int(big[code]) - 1))
    if op == "merge":
        pairs = _adjacent_pairs(plan)
        if pairs:
            return grids.merge_cells(plan, *pairs[r % len(pairs)])
    if op == "rebuild":
        lo = 10 + r % 30
        return grids.rebuild_village(plan, village, bounds=grids.CellBounds(lo, lo + 15 + r % 20))
    return plan


@pytest.mark.slow
@settings(SETTINGS, max_examples=15)
@given(villages().filter(lambda f: len(f[0]) >= 40), EDITS)
def test_any_sequence_of_edits_keeps_every_household_in_one_cell_and_the_tiling(frames, edits):
    hh, nu, v = frames
    plan = grids.build_plan(hh, nu, v)
    for op, r in edits:
        plan = _apply_edit(plan, op, r, v["code"].iloc[0])
        check_invariants(plan, hh, v)
        assert (plan.assignment["village_code"] == hh["village_code"]).all()
        assert set(plan.assignment["cell_code"]) == set(plan.cells["code"])  # no empty cell
