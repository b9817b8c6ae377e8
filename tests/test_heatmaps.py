"""Tests of geo.heatmaps: hexagon density, suppression, KDE, aggregation to units."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import heatmaps, privacy
from geo.errors import ConfigError, CRSError, DataError

CENTRE = (107.41, 37.78)


def households(xy: np.ndarray, residents=None) -> gpd.GeoDataFrame:
    """Small square 'courtyards' of ~10 m around the given lon/lat points."""
    d = 0.00005
    polys = [shapely.box(x - d, y - d, x + d, y + d) for x, y in xy]
    res = np.asarray(residents if residents is not None else np.full(len(xy), 3))
    return gpd.GeoDataFrame(
        {
            "code": [f"h{i}" for i in range(len(xy))],
            "residents": res,
            "residents_at_home": res // 2,
        },
        geometry=polys,
        crs=4326,
    )


def test_hex_density_counts_and_sums():
    cell_a = h3.latlng_to_cell(37.78, 107.41, 9)
    cell_b = h3.latlng_to_cell(37.80, 107.45, 9)
    lat_a, lon_a = h3.cell_to_latlng(cell_a)
    lat_b, lon_b = h3.cell_to_latlng(cell_b)
    xy = np.array([[lon_a, lat_a]] * 3 + [[lon_b, lat_b]] * 2)
    frame = households(xy, residents=[1, 2, 3, 4, 5])
    out = heatmaps.hex_density(frame, resolution=9, weight="residents")
    got = out.set_index("h3")
    assert got.loc[cell_a, "count"] == 3
    assert got.loc[cell_b, "count"] == 2
    assert got.loc[cell_a, "sum"] == 6
    assert got.loc[cell_b, "sum"] == 9
    area = h3.cell_area(cell_a, unit="km^2")
    assert got.loc[cell_a, "per_km2"] == pytest.approx(6 / area)
    assert out.crs.to_epsg() == 4326
    assert out.geometry.iloc[0].geom_type == "Polygon"
    assert shapely.Point(lon_a, lat_a).within(got.loc[cell_a, "geometry"])
    assert not out["suppressed"].any()


def test_hex_density_errors():
    frame = households(np.array([[107.4, 37.7]]))
    with pytest.raises(ConfigError, match=r"0\.\.15"):
        heatmaps.hex_density(frame, resolution=16)
    with pytest.raises(DataError, match="weight column 'nope'"):
        heatmaps.hex_density(frame, weight="nope")
    with pytest.raises(CRSError):
        heatmaps.hex_density(frame.set_crs(None, allow_override=True))


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=30),
    k=st.integers(min_value=0, max_value=12),
)
def test_suppression_removes_every_cell_under_k(counts, k):
    frame = pd.DataFrame({"count": counts, "sum": [c * 2.5 for c in counts]})
    out = privacy.suppress_small(frame, k=k, count="count")
    small = np.array(counts) < k
    assert (out["suppressed"].to_numpy() == small).all()
    assert out.loc[small, ["count", "sum"]].isna().all().all()
    assert (out.loc[~small, "count"].to_numpy() == np.array(counts)[~small]).all()
    assert frame["count"].tolist() == counts  # input untouched


def test_hex_density_suppression():
    rng = np.random.default_rng(0)
    xy = np.column_stack(
        [CENTRE[0] + rng.normal(0, 0.01, 300), CENTRE[1] + rng.normal(0, 0.01, 300)]
    )
    out = heatmaps.hex_density(households(xy), resolution=9, k=5)
    raw = heatmaps.hex_density(households(xy), resolution=9)
    assert (out["suppressed"] == (raw["count"] < 5)).all()
    assert out.loc[out["suppressed"], ["count", "sum", "per_km2"]].isna().all().all()


def test_kde_integrates_to_n_and_matches_exact_evaluation():
    rng = np.random.default_rng(1)
    xy = np.column_stack(
        [CENTRE[0] + rng.normal(0, 0.02, 400), CENTRE[1] + rng.normal(0, 0.015, 400)]
    )
    frame = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4326)
    r = heatmaps.kde_raster(frame, bandwidth=500.0, cell_size=60.0)
    assert r.total == pytest.approx(400, rel=0.01)
    assert r.crs.to_epsg() == 32648
    x, y = r.cell_centres()
    gx, gy = np.meshgrid(x[::7], y[::7])
    from pyproj import Transformer

    px, py = Transformer.from_crs(4326, r.crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
    exact = heatmaps.kde_exact(np.asarray(px), np.asarray(py), gx.ravel(), gy.ravel(), 500.0)
    binned = r.density[::7, ::7].ravel()
    assert np.abs(binned - exact).max() <= 0.005 * exact.max()
    assert r.rgba.shape == (*r.density.shape, 4)
    assert r.rgba.dtype == np.uint8
    (s, w), (n, e) = r.bounds_4326
    assert s < xy[:, 1].min()
    assert n > xy[:, 1].max()
    assert w < xy[:, 0].min()
    assert e > xy[:, 0].max()
    img, bounds = r.overlay(max_side=200)
    assert img.dtype == np.uint8
    assert max(img.shape[:2]) == 200
    assert bounds == r.bounds_4326
    assert img[..., 3].max() > 0


def test_kde_wide_kernel_uses_fft_and_still_integrates():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3000, 5000)
    y = rng.normal(0, 3000, 5000)
    dens, bounds, cell, h = heatmaps.kde_grid(x, y, bandwidth=2000.0, cell_size=50.0)
    assert h / cell > 12  # FFT branch
    assert dens.sum() * cell**2 / 1e6 == pytest.approx(5000, rel=0.01)
    gx = np.array([0.0, 2000.0])
    gy = np.array([0.0, -1500.0])
    col = ((gx - bounds[0]) / cell - 0.5).round().astype(int)
    row = ((bounds[3] - gy) / cell - 0.5).round().astype(int)
    cx = bounds[0] + (col + 0.5) * cell
    cy = bounds[3] - (row + 0.5) * cell
    exact = heatmaps.kde_exact(x, y, cx, cy, 2000.0)
    np.testing.assert_allclose(dens[row, col], exact, rtol=0.005)


def test_bandwidth_rules():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1000, 729)
    y = rng.normal(0, 1000, 729)
    *_, h_scott = heatmaps.kde_grid(x, y, bandwidth="scott")
    *_, h_silver = heatmaps.kde_grid(x, y, bandwidth="silverman")
    sigma = np.sqrt((x.var() + y.var()) / 2)
    assert h_scott == pytest.approx(sigma * 729 ** (-1 / 6))
    assert h_silver == h_scott
    with pytest.raises(ConfigError, match="scott, silverman"):
        heatmaps.kde_grid(x, y, bandwidth="wide")


def _square_units() -> gpd.GeoDataFrame:
    # four 0.01° squares: A B / C D
    boxes = [
        shapely.box(107.40, 37.79, 107.41, 37.80),
        shapely.box(107.41, 37.79, 107.42, 37.80),
        shapely.box(107.40, 37.78, 107.41, 37.79),
        shapely.box(107.41, 37.78, 107.42, 37.79),
    ]
    return gpd.GeoDataFrame(
        {"code": list("ABCD")}, geometry=boxes, crs=4326, index=[10, 11, 12, 13]
    )


def test_aggregate_to_units_counts_by_eye():
    rng = np.random.default_rng(4)
    pts = []
    for (x0, y0), n in zip(
        [(107.40, 37.79), (107.41, 37.79), (107.40, 37.78), (107.41, 37.78)],
        [10, 3, 7, 0],
        strict=True,
    ):
        pts.append(
            np.column_stack(
                [x0 + 0.001 + 0.008 * rng.random(n), y0 + 0.001 + 0.008 * rng.random(n)]
            )
        )
    pts.append(np.array([[107.5, 37.5]]))  # outside every unit
    frame = households(np.vstack(pts))
    units = _square_units()
    out = heatmaps.aggregate_to_units(frame, units, weight="residents", k_classes=2, k=5)
    assert list(out.index) == [10, 11, 12, 13]
    assert out.loc[10, "count"] == 10
    assert out.loc[12, "count"] == 7
    assert out.loc[10, "sum"] == 30
    assert out.loc[11, "suppressed"]
    assert np.isnan(out.loc[11, "count"])
    assert out.loc[13, "suppressed"]
    assert out.loc[11, "class"] == -1
    assert out.loc[10, "class"] == 1
    assert out.loc[12, "class"] == 0
    assert out.attrs["outside"] == 1
    assert out.loc[10, "area_km2"] == pytest.approx(0.88 * 1.11, rel=0.05)
    assert "count" not in units.columns


@pytest.mark.parametrize("scheme", heatmaps.SCHEMES)
def test_aggregate_schemes_give_classes_in_range(scheme):
    rng = np.random.default_rng(5)
    xy = np.column_stack([107.40 + 0.02 * rng.random(200), 37.78 + 0.02 * rng.random(200)])
    out = heatmaps.aggregate_to_units(households(xy), _square_units(), scheme=scheme, k_classes=3)
    assert out["class"].between(0, 2).all()


def test_aggregate_rejects_unknown_scheme():
    with pytest.raises(ConfigError, match="quantiles, natural_breaks"):
        heatmaps.aggregate_to_units(
            households(np.array([[107.4, 37.7]])), _square_units(), scheme="jenks"
        )
