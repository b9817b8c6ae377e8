"""Tests of geo.synth: exact counts, tiling, containment, determinism, user outlines."""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS

from geo.errors import ConfigError, CRSError, DataError
from geo.frames import ADMIN_COLUMNS, FIVE_COLOURS, HOUSEHOLD_COLUMNS, County
from geo.profiles import Profile, load_profile
from geo.synth import STEPS, generate_county
from geo.synth._alloc import allocate, cn_number
from geo.synth._geom import tile
from tests._fixtures.profiles import drawn_profile

SEED = 7


@pytest.fixture(scope="module")
def small() -> County:
    return generate_county("small", seed=SEED)


@pytest.fixture(scope="module")
def small_m(small: County) -> dict[str, gpd.GeoDataFrame]:
    """The frames of ``small`` in its metric CRS (metres)."""
    crs = small.meta["metric_crs"]
    return {
        "county": small.county.to_crs(crs),
        "township": small.townships.to_crs(crs),
        "village": small.villages.to_crs(crs),
        "natural_unit": small.natural_units.to_crs(crs),
        "households": small.households.to_crs(crs),
    }


# --- helpers ---------------------------------------------------------------------------------


def assert_tiles(children: gpd.GeoDataFrame, parent: shapely.Geometry) -> None:
    """``children`` cover ``parent`` (to 1e-6 of its area) and overlap nowhere."""
    union = shapely.union_all(children.geometry.to_numpy())
    assert shapely.symmetric_difference(union, parent).area <= 1e-6 * parent.area
    geoms = children.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])).sum()
    assert overlap <= 1e-9 * parent.area


def assert_contained(inner: gpd.GeoDataFrame, outer: gpd.GeoDataFrame, key: str) -> None:
    """Every row of ``inner`` lies in the row of ``outer`` whose code is ``inner[key]``
    (metric frames; 1 mm of slack for floating-point noise)."""
    container = outer.set_index("code").geometry.loc[inner[key]].to_numpy()
    ok = shapely.covered_by(inner.geometry.to_numpy(), shapely.buffer(container, 1e-3))
    assert ok.all(), f"{(~ok).sum()} of {len(ok)} not inside their {key}"


def assert_no_overlap(geoms: np.ndarray) -> None:
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    assert (left == right).all(), f"{(left != right).sum() // 2} pairs of households intersect"


def feasible(n: int, cmin: int = 30, cmax: int = 50) -> bool:
    return math.ceil(n / cmax) <= n // cmin


# --- counts and contracts --------------------------------------------------------------------


def test_small_has_the_exact_counts(small: County):
    assert small.counts() == {
        "townships": 3,
        "villages": 6,
        "natural_units": 40,
        "households": 1200,
        "residents": 3000,
    }
    assert small.townships.kind.value_counts().to_dict() == {"township": 2, "subdistrict": 1}
    assert small.profile == "small"


def test_frames_follow_the_contracts(small: County):
    for name in ("county", "township", "village", "natural_unit"):
        frame = small.level(name)
        assert tuple(frame.columns) == ADMIN_COLUMNS
        assert frame.crs.to_epsg() == 4326
        assert (frame.geom_type == "MultiPolygon").all()
        assert frame.is_valid.all()
        assert frame.code.is_unique
    hh = small.households
    assert tuple(hh.columns) == HOUSEHOLD_COLUMNS
    assert hh.crs.to_epsg() == 4326
    assert (hh.geom_type == "Polygon").all()
    assert hh.code.is_unique
    assert small.county.parent_code.isna().all()
    assert small.county.kind.tolist() == ["county"]
    assert small.county.code.tolist() == ["999001"]
    assert small.county.name.tolist() == ["小县"]
    # the county sits at the profile's location
    c = small.county.geometry.iloc[0].centroid
    assert abs(c.x - 107.41) < 0.1
    assert abs(c.y - 37.78) < 0.1


def test_codes_nest(small: County):
    county = small.county.code.iloc[0]
    levels = [
        (small.townships, 9, {county}),
        (small.villages, 12, set(small.townships.code)),
        (small.natural_units, 15, set(small.villages.code)),
    ]
    for frame, length, parents in levels:
        assert (frame.code.str.len() == length).all()
        assert set(frame.parent_code) <= parents
        assert all(c.startswith(p) for c, p in zip(frame.code, frame.parent_code, strict=True))
    hh = small.households
    assert (hh.code.str.len() == 19).all()
    assert (hh.code.str[:15] == hh.natural_unit_code).all()
    nu_village = small.natural_units.set_index("code").parent_code
    assert (nu_village.loc[hh.natural_unit_code].to_numpy() == hh.village_code.to_numpy()).all()
    # every unit has at least one child
    assert set(small.villages.parent_code) == set(small.townships.code)
    assert set(small.natural_units.parent_code) == set(small.villages.code)
    assert set(hh.natural_unit_code) == set(small.natural_units.code)


def test_kinds_follow_the_county_seat(small: County):
    level1_kind = small.townships.set_index("code").kind
    v = small.villages
    in_seat = level1_kind.loc[v.parent_code].to_numpy() == "subdistrict"
    assert (v.kind[in_seat] == "community").all()
    assert (v.kind[~in_seat] == "village").all()
    nu = small.natural_units
    seat_nu = v.set_index("code").kind.loc[nu.parent_code].to_numpy() == "community"
    assert set(nu.kind[seat_nu]) == {"compound", "building"}
    assert set(nu.kind[~seat_nu]) == {"hamlet"}


def test_names_look_chinese(small: County):
    t = small.townships
    assert t.name[t.kind == "subdistrict"].str.endswith("街道").all()
    assert t.name[t.kind == "township"].str.endswith(("镇", "乡")).all()
    v = small.villages
    assert v.name[v.kind == "village"].str.endswith("村").all()
    assert v.name[v.kind == "community"].str.endswith("社区").all()
    nu = small.natural_units
    assert nu.name[nu.kind == "hamlet"].str.endswith("组").all()
    assert nu.name[nu.kind == "compound"].str.endswith("小区").all()
    assert nu.name[nu.kind == "building"].str.fullmatch(r"\d+号楼").all()
    # names are unique where a person would look them up
    assert not nu.duplicated(["parent_code", "name"]).any()
    assert v.name.is_unique


def test_residents_and_colours(small: County):
    hh = small.households
    assert hh.residents.sum() == 3000
    assert (hh.residents >= 1).all()
    assert ((hh.residents_at_home >= 0) & (hh.residents_at_home <= hh.residents)).all()
    assert set(hh.colour) <= set(FIVE_COLOURS)
    shares = hh.colour.value_counts(normalize=True)
    assert shares["green"] > 0.6
    assert shares.idxmax() == "green"
    assert shares.get("red", 0) < shares["green"] / 10


def test_village_counts_allow_cells_in_bounds(small: County):
    per_village = small.households.groupby("village_code").size()
    assert all(feasible(int(n)) for n in per_village)
    cells = small.meta["village_cells"]
    for code, n in per_village.items():
        assert 30 * cells[code] <= n <= 50 * cells[code]


def test_meta(small: County):
    assert small.meta["seed"] == SEED
    assert re.fullmatch(r"EPSG:326\d\d", small.meta["metric_crs"])
    assert CRS(small.meta["metric_crs"]).is_projected
    assert small.meta["seconds"] > 0
    assert small.meta["outline"] == "generated"


# --- geography -------------------------------------------------------------------------------


def test_county_area_matches_the_profile(small_m):
    assert small_m["county"].area.iloc[0] == pytest.approx(120e6, rel=1e-3)


def test_townships_tile_the_county(small_m):
    assert_tiles(small_m["township"], small_m["county"].geometry.iloc[0])


def test_villages_tile_each_township(small_m):
    villages = small_m["village"]
    for code, township in small_m["township"].set_index("code").geometry.items():
        assert_tiles(villages[villages.parent_code == code], township)


def test_natural_units_and_households_are_contained(small_m):
    assert_contained(small_m["natural_unit"], small_m["village"], "parent_code")
    assert_contained(small_m["households"], small_m["natural_unit"], "natural_unit_code")
    # natural units of a village do not overlap either
    assert_no_overlap(small_m["natural_unit"].geometry.to_numpy())


def test_households_do_not_overlap(small_m):
    assert_no_overlap(small_m["households"].geometry.to_numpy())


def test_household_footprints_are_plausible(small_m):
    hh = small_m["households"]
    nu_kind = small_m["natural_unit"].set_index("code").kind.loc[hh.natural_unit_code].to_numpy()
    courtyards = hh[nu_kind == "hamlet"].area
    assert courtyards.min() >= 8 * 8  # 10-25 m sides, a little less where packed tight
    assert courtyards.max() <= 25 * 25 + 1e-6
    flats = hh[nu_kind != "hamlet"].area
    assert flats.min() > 0
    assert flats.max() < 200


def test_outline_in_the_4326_frames_matches_the_metric_one(small: County, small_m):
    ll_area = small.county.to_crs(small.meta["metric_crs"]).area.iloc[0]
    assert ll_area == pytest.approx(small_m["county"].area.iloc[0])


# --- determinism and progress ----------------------------------------------------------------


def test_same_seed_same_county(small: County):
    steps: list[str] = []
    again = generate_county(load_profile("small"), seed=SEED, on_step=steps.append)
    assert tuple(steps) == STEPS
    for name in ("county", "township", "village", "natural_unit"):
        assert_geodataframe_equal(again.level(name), small.level(name))
    assert_geodataframe_equal(again.households, small.households)


def test_other_seed_other_county(small: County):
    other = generate_county("small", seed=SEED + 1)
    assert other.counts() == small.counts()
    assert not other.county.geometry.iloc[0].equals(small.county.geometry.iloc[0])
    assert not np.array_equal(other.households.residents, small.households.residents)


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigError, match="available profiles"):
        generate_county("atlantis")


# --- user outlines ---------------------------------------------------------------------------


def _outline_3857() -> gpd.GeoDataFrame:
    """A 12 km x 10 km county with a notch, near Xihua, in Web Mercator."""
    utm = "EPSG:32649"
    x0, y0 = 350_000.0, 3_740_000.0
    poly = shapely.Polygon(
        [(x0, y0), (x0 + 12e3, y0), (x0 + 12e3, y0 + 10e3), (x0 + 6e3, y0 + 7e3), (x0, y0 + 10e3)]
    )
    return gpd.GeoDataFrame({"name": ["mine"]}, geometry=[poly], crs=utm).to_crs(3857)


def test_user_outline_file_is_used(tmp_path: Path):
    path = tmp_path / "outline.geojson"
    outline = _outline_3857()
    outline.to_file(path, driver="GeoJSON")
    county = generate_county("small", seed=3, outline=path)
    expected = gpd.read_file(path).to_crs(4326).union_all()
    got = county.county.geometry.iloc[0]
    assert got.equals_exact(shapely.MultiPolygon([expected]), tolerance=1e-9)
    assert county.meta["outline"] == str(path)
    assert county.counts()["households"] == 1200
    crs = county.meta["metric_crs"]
    assert crs == "EPSG:32649"
    county_m = county.county.to_crs(crs).geometry.iloc[0]
    assert_tiles(county.townships.to_crs(crs), county_m)
    assert_contained(
        county.households.to_crs(crs), county.natural_units.to_crs(crs), "natural_unit_code"
    )


def test_user_outline_frame_in_any_crs():
    county = generate_county("small", seed=3, outline=_outline_3857().to_crs(4490))
    assert county.meta["outline"] == "frame"
    expected = _outline_3857().to_crs(4490).to_crs(4326).union_all()
    got = county.county.geometry.iloc[0]
    assert shapely.symmetric_difference(got, expected).area < 1e-9 * expected.area


def test_outline_without_crs_is_refused(tmp_path: Path):
    frame = _outline_3857().set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match=r"outline .* has no CRS"):
        generate_county("small", outline=frame)
    path = tmp_path / "no_crs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(path)
    assert gpd.read_file(path).crs is None
    with pytest.raises(CRSError, match="no CRS"):
        generate_county("small", outline=path)


def test_outline_must_be_polygons():
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=4326)
    with pytest.raises(DataError, match="polygons only"):
        generate_county("small", outline=lines)


def test_outline_too_small_for_the_households_is_refused():
    tiny = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 300, 300)], crs="EPSG:32649")
    with pytest.raises(DataError, match=r"too little room|covers only"):
        generate_county("small", outline=tiny)


# --- allocation helpers ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 10), st.integers(0, 5), st.integers(0, 20)), min_size=1, max_size=30
    ),
    st.floats(0, 1),
)
def test_allocate_hits_the_total_within_bounds(rows, where):
    weights = np.array([r[0] for r in rows])
    lo = np.array([r[1] for r in rows])
    hi = lo + np.array([r[2] for r in rows])
    total = int(lo.sum() + round(where * (hi.sum() - lo.sum())))
    x = allocate(total, weights, lo, hi)
    assert x.sum() == total
    assert (x >= lo).all()
    assert (x <= hi).all()


def test_allocate_is_proportional_and_refuses_impossible():
    assert allocate(10, np.array([1.0, 1.0]), 0, 10).tolist() == [5, 5]
    assert allocate(10, np.array([3.0, 1.0]), 0, 6).tolist() == [6, 4]
    with pytest.raises(ValueError, match="cannot allocate"):
        allocate(10, np.ones(2), 0, 4)


@pytest.mark.parametrize(
    ("k", "text"),
    [(1, "一"), (10, "十"), (17, "十七"), (40, "四十"), (105, "一百零五"), (230, "二百三十")],
)
def test_cn_number(k, text):
    assert cn_number(k) == text


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_tile_covers_the_region_without_overlap(n, seed):
    rng = np.random.default_rng(seed)
    region = shapely.Polygon([(0, 0), (100, 0), (100, 60), (40, 30), (0, 80)])  # concave
    pts = rng.uniform((0, 0), (100, 80), size=(4 * n, 2))
    pts = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])][:n]
    cells = tile(region, pts)
    assert len(cells) == len(pts)
    assert shapely.contains_xy(cells, pts[:, 0], pts[:, 1]).all()  # aligned with the seeds
    assert_tiles(gpd.GeoDataFrame(geometry=cells), region)


@st.composite
def small_profiles(draw) -> Profile:
    """Random valid small profiles, with and without a county seat or a cell total."""
    t, s = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    v = t + s + draw(st.integers(0, 4))
    nu = v + draw(st.integers(0, 15))
    cells = v + draw(st.integers(0, 20))
    hh = max(nu, draw(st.integers(30 * cells, 50 * cells)))
    return drawn_profile(
        draw,
        townships=t,
        subdistricts=s,
        villages=v,
        natural_units=nu,
        households=hh,
        cells=cells if draw(st.booleans()) else None,
    )


@settings(max_examples=6, deadline=None)
@given(small_profiles(), st.integers(0, 1000))
def test_any_valid_profile_gets_its_exact_counts(profile, seed):
    county = generate_county(profile, seed=seed)
    assert county.counts() == {
        "townships": profile.level1,
        "villages": profile.villages,
        "natural_units": profile.natural_units,
        "households": profile.households,
        "residents": profile.residents,
    }
    per_village = county.households.groupby("village_code").size()
    assert all(feasible(int(n)) for n in per_village)
    if profile.cells is not None:
        assert sum(county.meta["village_cells"].values()) == profile.cells
    crs = county.meta["metric_crs"]
    hh = county.households.to_crs(crs)
    assert_no_overlap(hh.geometry.to_numpy())
    assert_contained(hh, county.natural_units.to_crs(crs), "natural_unit_code")


# --- full-size profiles (slow) ---------------------------------------------------------------


@pytest.mark.slow
def test_yanchi_full_size():
    county = generate_county("yanchi")
    assert county.counts() == {
        "townships": 9,
        "villages": 119,
        "natural_units": 2009,
        "households": 68487,
        "residents": 173441,
    }
    t = county.townships
    assert set(t.name) >= {"花马池镇", "麻黄山乡", "盐州街道"}
    assert t.set_index("name").kind["盐州街道"] == "subdistrict"
    per_village = county.households.groupby("village_code").size()
    assert all(feasible(int(n)) for n in per_village)
    crs = county.meta["metric_crs"]
    hh = county.households.to_crs(crs)
    assert_no_overlap(hh.geometry.to_numpy())
    assert_contained(hh, county.natural_units.to_crs(crs), "natural_unit_code")
    assert_tiles(county.townships.to_crs(crs), county.county.to_crs(crs).geometry.iloc[0])
    area = county.county.to_crs(crs).area.iloc[0]
    assert area == pytest.approx(8522e6, rel=1e-3)


@pytest.mark.slow
def test_xihua_cells_are_honoured():
    county = generate_county("xihua")
    assert county.counts()["households"] == 351520
    assert county.counts()["natural_units"] == 2239
    cells = county.meta["village_cells"]
    assert sum(cells.values()) == 8788
    per_village = county.households.groupby("village_code").size()
    assert set(per_village.index) == set(cells)
    for code, n in per_village.items():
        assert 30 * cells[code] <= n <= 50 * cells[code]
