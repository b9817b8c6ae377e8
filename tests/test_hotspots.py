"""Tests of geo.hotspots: Gi* against esda and by hand, FDR, planted hotspots, emerging."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse

from geo import _gistar, _hex, hotspots
from geo.errors import ConfigError, DataError

CENTRE = (107.41, 37.78)  # Yanchi, degrees


def grid_frame(nx: int, ny: int, size: float = 100.0) -> gpd.GeoDataFrame:
    """nx × ny square cells of ``size`` metres in UTM 48N, returned in EPSG:4326."""
    boxes = [
        shapely.box(
            600000 + i * size, 4180000 + j * size, 600000 + (i + 1) * size, 4180000 + (j + 1) * size
        )
        for j in range(ny)
        for i in range(nx)
    ]
    frame = gpd.GeoDataFrame(
        {"code": [f"c{k:03d}" for k in range(nx * ny)]}, geometry=boxes, crs=32648
    )
    return frame.to_crs(4326)


def lattice_queen(nx: int, ny: int) -> sparse.csr_matrix:
    rows, cols = [], []
    for j in range(ny):
        for i in range(nx):
            for dj in (-1, 0, 1):
                for di in (-1, 0, 1):
                    if (di or dj) and 0 <= i + di < nx and 0 <= j + dj < ny:
                        rows.append(j * nx + i)
                        cols.append((j + dj) * nx + i + di)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(nx * ny,) * 2)


# ---------------------------------------------------------------------------------------------
# Gi* core


@pytest.mark.parametrize("transform", ["B", "R"])
def test_gi_star_equals_esda(transform):
    import esda
    from libpysal.graph import Graph

    rng = np.random.default_rng(3)
    w = lattice_queen(12, 9)
    y = rng.poisson(4, w.shape[0]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(y, Graph.from_sparse(w), transform=transform, star=True, permutations=0)
    gi = hotspots.GiStar(transform=transform, fdr=False).fit(y, w)
    np.testing.assert_allclose(gi.z_, ref.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(gi.G_, ref.Gs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gi.EG_, ref.EGs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gi.p_norm_, 2 * ref.p_norm, rtol=0, atol=1e-9)


def test_gi_star_equals_esda_on_h3_rings():
    import esda
    from libpysal.graph import Graph

    centre = h3.str_to_int(h3.latlng_to_cell(CENTRE[1], CENTRE[0], 9))
    cells = np.array(
        [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), 6)], dtype=np.uint64
    )
    w = _hex.ring_weights(cells, k=1)
    y = np.random.default_rng(5).gamma(2.0, 3.0, len(cells))
    ref = esda.G_Local(y, Graph.from_sparse(w), transform="B", star=True, permutations=0)
    gi = hotspots.GiStar().fit(y, w)
    np.testing.assert_allclose(gi.z_, ref.Zs, rtol=0, atol=1e-9)


def test_gi_star_hand_computed_3x3():
    # Values 1..9 on a 3x3 lattice, queen neighbours, binary weights with self-weight 1.
    #   z_i = (sum_j w_ij y_j - x̄ W_i) / (s * sqrt((n W_i - W_i²) / (n - 1)))
    # n = 9, x̄ = 5, s² = mean(y²) - x̄² = 285/9 - 25 = 20/3.
    # Corner cell 0 (value 1): itself and cells 1, 3, 4 -> sum = 1+2+4+5 = 12, W_0 = 4:
    #   z_0 = (12 - 20) / (sqrt(20/3) * sqrt((36 - 16) / 8)) = -8 / sqrt(50/3) = -1.9596
    # Centre cell 4: all nine cells -> sum = 45 = x̄ · 9 -> z_4 = 0.
    # Corner cell 8 (value 9): cells 4, 5, 7, 8 -> 5+6+8+9 = 28 -> z_8 = +8 / sqrt(50/3).
    y = np.arange(1, 10, dtype=float)
    gi = hotspots.GiStar(fdr=False).fit(y, lattice_queen(3, 3))
    expected = 8 / math.sqrt(50 / 3)
    assert gi.z_[0] == pytest.approx(-expected, abs=1e-12)
    assert gi.z_[4] == pytest.approx(0.0, abs=1e-12)
    assert gi.z_[8] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(1.9596, abs=1e-4)
    # two-sided p of 1.9596 is 0.05004 -> just short of 95 %: bin ±1 (90 %)
    assert gi.bin_[0] == -1
    assert gi.bin_[8] == 1
    assert gi.bin_[4] == 0


def test_constant_values_give_zero_z():
    gi = hotspots.GiStar().fit(np.full(9, 3.0), lattice_queen(3, 3))
    assert np.all(gi.z_ == 0)
    assert np.all(gi.bin_ == 0)


def test_bad_arguments_are_clear():
    with pytest.raises(ConfigError, match="transform must be one of B, R"):
        hotspots.GiStar(transform="X")
    with pytest.raises(ConfigError, match="inference must be one of"):
        hotspots.GiStar(inference="bootstrap")
    with pytest.raises(DataError, match="weights are"):
        hotspots.GiStar().fit(np.ones(4), lattice_queen(3, 3))


def test_bh_qvalues_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted: 0.01, 0.03, 0.04, 0.20 -> m p / rank: 0.04, 0.06, 0.0533, 0.20
    # running minimum from the top: 0.04, 0.0533, 0.0533, 0.20
    q = _gistar.bh_qvalues(p)
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.20])


def test_bins_follow_confidence_levels():
    z = np.array([3.0, 2.0, 1.7, 1.0, -2.7, -1.7])
    p = _gistar.two_sided_p(z)
    assert _gistar.confidence_bins(z, p).tolist() == [3, 2, 1, 0, -3, -1]


def test_permutation_p_values_are_reproducible_and_sensible():
    w = lattice_queen(10, 10)
    y = np.ones(100)
    y[[44, 45, 54, 55]] = 30.0
    a = hotspots.GiStar(inference="permutation", permutations=199, seed=7).fit(y, w)
    b = hotspots.GiStar(inference="permutation", permutations=199, seed=7).fit(y, w)
    np.testing.assert_array_equal(a.p_sim_, b.p_sim_)
    assert a.p_sim_.min() == pytest.approx(1 / 200)
    assert np.all((a.p_sim_ > 0) & (a.p_sim_ <= 0.5 + 1e-12))
    assert a.bin_[44] >= 2
    assert a.bin_[0] <= 0


def test_ring_weights_fast_path_equals_grid_disk():
    rng = np.random.default_rng(1)
    lat = CENTRE[1] + rng.normal(0, 0.05, 5000)
    lon = CENTRE[0] + rng.normal(0, 0.05, 5000)
    cells = np.unique(_hex.latlng_to_cells(lat, lon, 9))
    for k in (1, 2):
        fast = _hex._local_ij_weights(cells, k)
        exact = _hex._disk_weights(cells, k)
        assert fast is not None
        assert abs(fast - exact).nnz == 0


# ---------------------------------------------------------------------------------------------
# Planted hotspots and false positives


def _study_area(radius_deg: float = 0.08) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.Point(CENTRE).buffer(radius_deg)], crs=4326)


def _uniform_points(rng, n: int, radius_deg: float = 0.08) -> np.ndarray:
    r = radius_deg * np.sqrt(rng.random(n))
    a = rng.random(n) * 2 * np.pi
    return np.column_stack([CENTRE[0] + r * np.cos(a), CENTRE[1] + r * np.sin(a)])


def test_planted_hotspots_are_found():
    # four hotspots, each a hexagon and its ring (7 hexagons at res 8, ~5 km² in all) with
    # about six times the background intensity
    rng = np.random.default_rng(11)
    area = _study_area()
    centres = [
        h3.latlng_to_cell(CENTRE[1] + dy, CENTRE[0] + dx, 8)
        for dx, dy in [(-0.04, -0.03), (0.04, 0.03), (-0.035, 0.035), (0.03, -0.04)]
    ]
    planted = sorted({c for centre in centres for c in h3.grid_disk(centre, 1)})
    pts = [_uniform_points(rng, 2500)]
    for c in planted:
        lat, lon = h3.cell_to_latlng(c)
        pts.append(
            np.column_stack([lon + rng.normal(0, 0.001, 40), lat + rng.normal(0, 0.001, 40)])
        )
    frame = gpd.GeoDataFrame(geometry=shapely.points(np.vstack(pts)), crs=4326)
    out = hotspots.hex_hotspots(frame, resolution=8, area=area, fdr=True)
    flagged = set(out.loc[out["gi_bin"] >= 2, "h3"])
    recall = sum(c in flagged for c in planted) / len(planted)
    assert recall >= 0.9
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs.to_epsg() == 4326


def test_uniform_data_fdr_keeps_false_positives_low():
    # Poisson counts with one mean on a disk of 721 hexagons: no pattern at all.
    centre = h3.latlng_to_cell(CENTRE[1], CENTRE[0], 9)
    cells = np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, 15)], dtype=np.uint64)
    w = _hex.ring_weights(cells, k=1)
    raw_rates, runs_with_discovery = [], 0
    for seed in range(20):
        y = np.random.default_rng(seed).poisson(8, len(cells)).astype(float)
        raw = hotspots.GiStar(fdr=False).fit(y, w)
        fdr = hotspots.GiStar(fdr=True).fit(y, w)
        raw_rates.append(np.mean(np.abs(raw.bin_) >= 2))
        runs_with_discovery += int((np.abs(fdr.bin_) >= 2).any())
    # without correction about 5 % of hexagons are "significant" at 95 % by chance ...
    assert 0.03 < np.mean(raw_rates) < 0.07
    # ... with Benjamini–Hochberg under the global null P(any discovery) <= 5 %:
    # about 1 run in 20 (3 allows for chance)
    assert runs_with_discovery <= 3


def test_gi_star_frame_with_rates_keeps_alignment():
    cells = grid_frame(5, 5)
    cells.index = pd.Index(range(100, 125))
    cells["incidents"] = 1
    cells.loc[[100 + 12, 100 + 13, 100 + 17], "incidents"] = 20
    cells["households"] = 40
    cells.loc[100, "households"] = 0  # rate undefined -> left out
    out = hotspots.gi_star(cells, "incidents", denominator="households", weights="queen")
    assert list(out.index) == list(cells.index)
    assert np.isnan(out.loc[100, "gi_z"])
    assert out.loc[100, "gi_bin"] == 0
    assert out.loc[112, "gi_z"] > out.loc[124, "gi_z"]
    assert "gi_z" not in cells.columns  # caller's frame untouched


# ---------------------------------------------------------------------------------------------
# Emerging hotspots


def test_mann_kendall_by_hand():
    s, z, p = hotspots.mann_kendall(np.array([[1, 2, 3, 4], [4, 3, 2, 1], [1, 1, 1, 1]]))
    # 4 values: 6 pairs; var = 4·3·13/18 = 26/3; Z = (6 - 1)/sqrt(26/3)
    assert s.tolist() == [6, -6, 0]
    assert z[0] == pytest.approx(5 / math.sqrt(26 / 3))
    assert z[2] == 0
    assert p[2] == 1


def _series(*rows: list[float]) -> tuple[np.ndarray, np.ndarray]:
    z = np.array(rows, dtype=float)
    p = _gistar.two_sided_p(z)
    return z, p


def test_emerging_categories_on_hand_built_series():
    t = 12
    zeros = [0.0] * t
    rows = {
        "new hot spot": [*zeros[:-1], 3.0],
        "consecutive hot spot": [*zeros[:-3], 3.0, 3.0, 3.0],
        "intensifying hot spot": list(np.linspace(2.5, 6.0, t)),
        "persistent hot spot": [3.0, 3.2] * (t // 2),
        "diminishing hot spot": list(np.linspace(6.0, 2.5, t)),
        "sporadic hot spot": [0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 0, 3.0],
        "oscillating hot spot": [0, -3, 0, 0, 3, 0, 0, 0, 0, 0, 0, 3.0],
        "historical hot spot": [3.0] * (t - 1) + [0.0],
        "new cold spot": [*zeros[:-1], -3.0],
        "persistent cold spot": [-3.0, -3.2] * (t // 2),
        "no pattern": [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0],
    }
    z, p = _series(*rows.values())
    out = hotspots.classify_emerging(z, p, alpha=0.05)
    assert out["category"].tolist() == list(rows)
    assert out.loc[0, "n_hot"] == 1
    assert out.loc[2, "trend_z"] > 0


def test_emerging_hotspots_on_units_finds_a_new_hotspot():
    units = grid_frame(6, 6, size=200.0)
    rng = np.random.default_rng(2)
    start = pd.Timestamp("2025-01-06", tz="UTC")
    reps = units.geometry.representative_point()
    rows = []
    for week in range(8):
        for i, pt in enumerate(reps):
            n = 2 + (25 if (week == 7 and i in (14, 15, 20, 21)) else 0)
            for _ in range(n):
                rows.append((pt, start + pd.Timedelta(days=week * 7 + rng.integers(0, 7))))
    events = gpd.GeoDataFrame(
        {"reported_at": [r[1] for r in rows]}, geometry=[r[0] for r in rows], crs=4326
    )
    out = hotspots.emerging_hotspots(events, units=units, freq="7D")
    assert len(out) == 36
    assert out.attrs["z"].shape == (36, 8)
    cats = out.set_index("code")["category"]
    assert cats["c014"] == "new hot spot"
    assert cats["c000"] in ("no pattern", "new cold spot")


def test_an_end_on_a_week_boundary_opens_no_empty_slice():
    start = pd.Timestamp("2025-03-03", tz="UTC")
    pts = shapely.points(_uniform_points(np.random.default_rng(5), 400, 0.02))
    times = start + pd.to_timedelta(np.arange(len(pts)) % (4 * 7), unit="D")
    events = gpd.GeoDataFrame({"reported_at": times}, geometry=pts, crs=4326)
    end = start + pd.Timedelta(weeks=4)
    out = hotspots.emerging_hotspots(events, resolution=8, freq="7D", start=start, end=end)
    assert len(out.attrs["slices"]) == 4  # the weeks of [start, end), not a fifth at end
    assert out["total"].sum() == len(events)
    assert (out.attrs["z"][:, -1] != 0).any()  # the last slice holds the last week's events


def test_emerging_hotspots_on_hexagons_runs():
    rng = np.random.default_rng(4)
    xy = _uniform_points(rng, 3000, 0.03)
    times = pd.Timestamp("2025-03-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 28 * 24, len(xy)), unit="h"
    )
    events = gpd.GeoDataFrame({"reported_at": times}, geometry=shapely.points(xy), crs=4326)
    out = hotspots.emerging_hotspots(events, resolution=8, freq="7D")
    assert out["total"].sum() == len(events)
    assert set(out["pattern"]) <= {*hotspots.EMERGING_PATTERNS, "no pattern"}


# ---------------------------------------------------------------------------------------------
# Density clusters


def test_density_clusters_find_two_groups():
    rng = np.random.default_rng(8)
    a = np.column_stack([107.40 + rng.normal(0, 0.0002, 50), 37.78 + rng.normal(0, 0.0002, 50)])
    b = np.column_stack([107.43 + rng.normal(0, 0.0002, 40), 37.79 + rng.normal(0, 0.0002, 40)])
    noise = _uniform_points(rng, 10, 0.05)
    frame = gpd.GeoDataFrame(
        geometry=shapely.points(np.vstack([a, b, noise])), crs=4326, index=pd.RangeIndex(1000, 1100)
    )
    res = hotspots.density_clusters(frame, eps_m=60, min_samples=8)
    assert len(res.clusters) == 2
    assert sorted(res.clusters["n_points"]) == [40, 50]
    assert res.labels.index.equals(frame.index)
    for _, row in res.clusters.iterrows():
        members = frame.geometry[res.labels == row["cluster"]]
        assert members.within(row.geometry.buffer(1e-9)).all()
    with pytest.raises(ConfigError, match="dbscan, hdbscan"):
        hotspots.density_clusters(frame, method="optics")
