"""Contiguity repair: a cell in two pieces is re-cut with a neighbour (geo.grids._rejoin)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo import grids
from geo.grids._rejoin import broken_cells, recut_pair, rejoin
from geo.grids._tessellate import seed_cells, tessellate


def _cluster(rng, n, x, y, r=40.0):
    return np.column_stack([x + rng.uniform(-r, r, n), y + rng.uniform(-r, r, n)])


@pytest.fixture
def split_cell():
    """A strip village (metres) with hamlets A (24), B (40), C (6) from west to east and a
    labelling that puts A and C in one cell, so that cell is in two pieces around B."""
    rng = np.random.default_rng(3)
    xy = np.concatenate(
        [_cluster(rng, 24, 200, 200), _cluster(rng, 40, 1000, 200), _cluster(rng, 6, 1800, 200)]
    )
    village = shapely.box(0, 0, 2000, 400)
    labels = np.array([0] * 24 + [1] * 40 + [0] * 6)
    cells = seed_cells(xy, village)
    geoms, _ = tessellate(village, xy, xy, np.arange(len(xy)), labels, cells)
    return village, xy, labels, cells, geoms


def test_the_fixture_really_has_a_cell_in_pieces(split_cell):
    *_, geoms = split_cell
    assert broken_cells(geoms) == [0]


def test_rejoin_makes_every_cell_one_polygon_within_bounds(split_cell):
    village, xy, labels, cells, geoms = split_cell
    new, new_geoms = rejoin(village, xy, xy, np.arange(len(xy)), labels, geoms, cells, 30, 50)
    assert broken_cells(new_geoms) == []
    sizes = np.bincount(new)
    assert sizes.min() >= 30
    assert sizes.max() <= 50
    # hamlet A stays together in its cell; C joins B's side
    assert len(set(new[:24])) == 1
    assert set(new[64:]) <= set(new[24:64])
    for q, g in enumerate(new_geoms):
        pts = xy[new == q]
        assert shapely.contains_xy(g, pts[:, 0], pts[:, 1]).all()
    union = shapely.union_all(new_geoms)
    assert union.symmetric_difference(village).area < 1e-6 * village.area
    assert sum(g.area for g in new_geoms) == pytest.approx(village.area, rel=1e-9)


def test_recut_pair_refuses_a_pool_that_cannot_make_two_cells(split_cell):
    _, xy, labels, *_ = split_cell
    from scipy.sparse import csr_matrix

    graph = csr_matrix((len(xy), len(xy)))
    main = np.flatnonzero(labels[:24] == 0)
    assert recut_pair(labels, 0, 1, main, graph, 40, 50) is None  # 70 < 2 * 40


def test_rejoin_leaves_a_clean_village_alone(split_cell):
    village, xy, _, cells, _ = split_cell
    labels = np.array([0] * 24 + [1] * 46)
    geoms, _ = tessellate(village, xy, xy, np.arange(len(xy)), labels, cells)
    new, new_geoms = rejoin(village, xy, xy, np.arange(len(xy)), labels, geoms, cells, 20, 50)
    assert new is labels
    assert new_geoms is geoms


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 20201])  # 20201: the demo county of `wangge demo`
def test_every_cell_of_a_yanchi_scale_county_is_one_polygon_within_bounds(seed):
    """Sparse rural villages of tens of km^2 used to leave a few cells in two pieces."""
    from geo import synth

    county = synth.generate_county("yanchi", seed=seed)
    plan = grids.build_plan(county.households, county.natural_units, county.villages, n_jobs=2)
    cells = plan.cells
    assert cells["contiguous"].all(), cells.loc[~cells["contiguous"], ["code", "flag_reason"]]
    assert (shapely.get_num_geometries(np.asarray(cells.geometry.values)) == 1).all()
    assert cells["within_bounds"].all()
    assert plan.metrics["villages_infeasible"] == 0


def test_a_piece_whose_neighbours_have_no_room_starts_a_cell_of_its_own():
    """Hamlets A (24) E (45) B (45) C (19) D (45) from west to east; A and C share a cell.
    No cell next to C has room for it and A's neighbour E is not next to C, so the village
    needs one cell more: C re-cut with B, A with E."""
    rng = np.random.default_rng(5)
    sizes = (24, 45, 45, 19, 45)
    xy = np.concatenate([_cluster(rng, n, 200 + 400 * q, 200) for q, n in enumerate(sizes)])
    village = shapely.box(0, 0, 2000, 400)
    labels = np.repeat([0, 1, 2, 0, 3], sizes)
    cells = seed_cells(xy, village)
    owner = np.arange(len(xy))
    geoms, _ = tessellate(village, xy, xy, owner, labels, cells)
    assert broken_cells(geoms) == [0]
    new, new_geoms = rejoin(village, xy, xy, owner, labels, geoms, cells, 30, 50)
    assert broken_cells(new_geoms) == []
    assert len(new_geoms) == 5
    counts = np.bincount(new)
    assert counts.min() >= 30
    assert counts.max() <= 50
    for q, g in enumerate(new_geoms):
        pts = xy[new == q]
        assert shapely.contains_xy(g, pts[:, 0], pts[:, 1]).all()
