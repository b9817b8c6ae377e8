"""geo.load without a database: formats, encodings, CRSs, GCJ-02, and one test per fault.

Every file is made in the test from the tiny county (tests/_fixtures/county.py) and
households placed by hand in UTM 48N metres, so every expected answer can be checked by eye.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from geo import load
from geo.errors import CRSError, DataError
from geo.load import _gcj02
from tests._fixtures.county import UTM, X0, Y0
from tests._fixtures.load_files import NU1, NU2, V1, faults_of, households, refs, same_geoms, units

# -- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".parquet", ".fgb", ".csv"])
def test_every_format_reads_the_same_rows(tmp_path: Path, suffix: str) -> None:
    frame = households()
    path = tmp_path / f"hh{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["wkt"] = frame.geometry.to_wkt()
        table.to_csv(path, index=False)
    else:
        frame.to_file(path)
    checked = load.check_file(path, "households", refs=refs())
    assert checked.faults.empty
    checked.clean = checked.clean.sort_values("code")  # FlatGeobuf's index reorders rows
    assert checked.clean["village_code"].tolist() == [V1, V1, V1]
    assert checked.clean["residents_at_home"].tolist() == [3, 4, 2]  # defaults to residents
    assert checked.clean.crs.to_epsg() == 4326
    assert checked.clean["code"].tolist() == ["h1", "h2", "h3"]
    expected = frame.geometry.to_crs(4326).values
    digits = 1e-6 if suffix == ".csv" else 1e-9  # WKT is written with 6 decimals
    assert same_geoms(checked.clean.geometry.values, expected, digits)


def test_csv_with_lon_lat_columns_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text(
        "编码,名称,类型,经度,纬度\nsp1,便民服务站,convenience,106.14,37.765\n", encoding="utf-8"
    )
    checked = load.check_file(path, "service_points")
    assert checked.faults.empty
    assert checked.clean["name"].tolist() == ["便民服务站"]
    assert checked.clean.geometry.iloc[0].equals(Point(106.14, 37.765))
    assert any("EPSG:4326" in note for note in checked.notes)


def _write_shp(tmp_path: Path, encoding: str, *, cpg: bool) -> Path:
    frame = gpd.GeoDataFrame(
        {"code": ["sp1", "sp2"], "kind": ["clinic", "police"], "name": ["甲村卫生室", "乙警务室"]},
        geometry=[Point(106.14, 37.76), Point(106.15, 37.77)],
        crs=4326,
    )
    path = tmp_path / "sp.shp"
    frame.to_file(path, encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


@pytest.mark.parametrize(
    ("encoding", "cpg"), [("GB18030", False), ("GBK", False), ("UTF-8", False), ("GB18030", True)]
)
def test_shapefile_chinese_names_come_out_right(tmp_path: Path, encoding: str, cpg: bool) -> None:
    path = _write_shp(tmp_path, encoding, cpg=cpg)
    checked = load.check_file(path, "service_points")
    assert checked.clean["name"].tolist() == ["甲村卫生室", "乙警务室"]


def test_shapefile_cpg_is_honoured_over_sniffing(tmp_path: Path) -> None:
    path = _write_shp(tmp_path, "GB18030", cpg=True)
    assert path.with_suffix(".cpg").read_text().strip() == "GB18030"
    from geo.load._read import dbf_encoding

    assert dbf_encoding(path) is None  # GDAL reads the .cpg itself
    path.with_suffix(".cpg").unlink()
    assert dbf_encoding(path) == "GB18030"


# -- CRS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:3857", "EPSG:32648", "EPSG:4547"])
def test_declared_crs_is_converted_to_4326(tmp_path: Path, crs: str) -> None:
    frame = households(crs=crs)
    path = tmp_path / "hh.gpkg"
    frame.to_file(path)
    checked = load.check_file(path, "households", refs=refs())
    assert checked.faults.empty
    expected = households().geometry.values
    # CGCS2000 and WGS 84 agree to well under a metre (1e-5 degrees ~ 1 m).
    assert same_geoms(checked.clean.geometry.values, expected, 1e-5)


def test_no_crs_and_metres_is_refused_with_how_to_declare(tmp_path: Path) -> None:
    path = tmp_path / "hh.geojson"
    frame = households(crs=UTM)
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["wkt"] = frame.geometry.to_wkt()
    csv = tmp_path / "hh.csv"
    table.to_csv(csv, index=False)
    with pytest.raises(CRSError, match=r"hh\.csv: the file declares no CRS.*--crs EPSG"):
        load.check_file(csv, "households", refs=refs())
    checked = load.check_file(csv, "households", refs=refs(), crs=UTM)
    assert checked.faults.empty
    assert not path.exists()


def test_swapped_lat_lon_is_reported_and_fixable(tmp_path: Path) -> None:
    frame = households()
    swapped = frame.set_geometry(shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1]))
    path = tmp_path / "hh.gpkg"
    swapped.to_file(path)
    checked = load.check_file(path, "households", refs=refs())
    assert faults_of(checked) == [(1, "geometry", "swapped_lonlat"), (2, "geometry",
            "swapped_lonlat"), (3, "geometry", "swapped_lonlat")]  # fmt: skip
    assert "--swap-xy" in checked.faults["message"].iloc[0]
    fixed = load.check_file(path, "households", refs=refs(), swap_xy=True)
    assert fixed.faults.empty
    assert len(fixed.clean) == 3


# -- GCJ-02 ----------------------------------------------------------------------------------


def test_gcj02_forward_matches_the_published_reference_value() -> None:
    # Reference pair from the widely used eviltransform test suite (WGS 84 -> GCJ-02).
    lon, lat = _gcj02.wgs84_to_gcj02(np.array([116.404]), np.array([39.915]))
    assert lon[0] == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat[0] == pytest.approx(39.91640428150164, abs=1e-9)
    outside = _gcj02.wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))
    assert outside[0][0] == 2.35
    assert outside[1][0] == 48.85


@settings(max_examples=50, deadline=None)
@given(st.floats(75, 134), st.floats(5, 53))
def test_gcj02_inverse_undoes_forward(lon: float, lat: float) -> None:
    glon, glat = _gcj02.wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    assert 1e-4 < abs(glon[0] - lon) + abs(glat[0] - lat) < 0.02  # shifted, by < ~2 km
    wlon, wlat = _gcj02.gcj02_to_wgs84(glon, glat)
    assert wlon[0] == pytest.approx(lon, abs=1e-8)
    assert wlat[0] == pytest.approx(lat, abs=1e-8)


def test_gcj02_file_is_converted_on_request_and_detected_otherwise(tmp_path: Path) -> None:
    frame = households()
    shifted = frame.set_geometry(_gcj02.geoseries_wgs84_to_gcj02(frame.geometry))
    path = tmp_path / "hh.geojson"
    shifted.to_file(path)
    plain = load.check_file(path, "households", refs=refs())
    assert {f for _, _, f in faults_of(plain)} == {"outside_natural_units"}
    assert any("GCJ-02" in n and "--gcj02" in n for n in plain.notes)
    fixed = load.check_file(path, "households", refs=refs(), gcj02=True)
    assert fixed.faults.empty
    assert same_geoms(fixed.clean.geometry.values, frame.geometry.values, 1e-8)


# -- one test per fault ----------------------------------------------------------------------


def _gpkg(tmp_path: Path, frame: gpd.GeoDataFrame, name: str = "hh.gpkg") -> Path:
    path = tmp_path / name
    frame.to_file(path)
    return path


def test_invalid_geometry_repaired_when_small(tmp_path: Path) -> None:
    frame = households()
    x, y = shapely.get_coordinates(frame.geometry.iloc[0]).min(axis=0)
    d = 1e-4  # degrees, about 10 m
    # A square whose left edge has a tiny zero-width spike back along itself: invalid, and
    # make_valid returns the square plus a line, which is dropped (area change 0.005 %).
    ring = [(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y + d / 2),
            (x + d / 100, y + d / 2 + d / 200), (x, y + d / 2 + d / 100)]  # fmt: skip
    frame.loc[0, "geometry"] = Polygon(ring)
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert checked.faults.empty
    assert checked.repairs[["row", "repair"]].values.tolist() == [[1, "made_valid"]]
    assert "Self-intersection" in checked.repairs["message"].iloc[0]
    assert checked.clean.geometry.is_valid.all()


def test_invalid_geometry_quarantined_when_repair_changes_type(tmp_path: Path) -> None:
    frame = households()
    bowtie = Polygon([(X0 + 150, Y0 + 150), (X0 + 160, Y0 + 160), (X0 + 160, Y0 + 150),
                      (X0 + 150, Y0 + 160)])  # fmt: skip
    frame.loc[1, "geometry"] = gpd.GeoSeries([bowtie], crs=UTM).to_crs(4326).iloc[0]
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert faults_of(checked) == [(2, "geometry", "invalid_geometry")]
    assert "MultiPolygon" in checked.faults["message"].iloc[0]
    assert checked.clean["code"].tolist() == ["h1", "h3"]


def test_empty_and_null_geometry(tmp_path: Path) -> None:
    path = tmp_path / "hh.geojson"
    features = [
        {"type": "Feature", "properties": {"code": "h1", "natural_unit_code": NU1,
         "residents": 1}, "geometry": None},
        {"type": "Feature", "properties": {"code": "h2", "natural_unit_code": NU1,
         "residents": 1}, "geometry": {"type": "Polygon", "coordinates": []}},
        {"type": "Feature", "properties": {"code": "h3", "natural_unit_code": "nowhere",
         "residents": 1}, "geometry": None},
        {"type": "Feature", "properties": {"code": "s1", "name": "x", "kind": "clinic"},
         "geometry": None},
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    checked = load.check_file(path, "households", refs=refs())
    # households with a known natural unit but no location are placed inside it
    assert checked.repairs[["row", "repair"]].values.tolist() == [
        [1, "placed_in_unit"], [2, "placed_in_unit"]]  # fmt: skip
    assert faults_of(checked)[:2] == [(3, "geometry", "empty_geometry"),
                                      (3, "natural_unit_code", "unknown_parent")]  # fmt: skip
    assert checked.clean["code"].tolist() == ["h1", "h2"]
    assert (checked.clean["natural_unit_code"] == NU1).all()
    points = tmp_path / "sp.geojson"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": features[3:]}))
    checked = load.check_file(points, "service_points")
    assert faults_of(checked) == [(1, "geometry", "empty_geometry")]


def test_nan_inf_and_out_of_range_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "sp.csv"
    path.write_text(
        "code,kind,name,lon,lat\n"
        "a,clinic,ok,106.14,37.76\n"
        "b,clinic,nan,nan,37.76\n"
        "c,clinic,inf,inf,37.76\n"
        "d,clinic,far,106.14,95.0\n",
        encoding="utf-8",
    )
    checked = load.check_file(path, "service_points")
    assert faults_of(checked) == [
        (2, "geometry", "non_finite_coordinates"),
        (3, "geometry", "non_finite_coordinates"),
        (4, "geometry", "out_of_range"),
    ]
    assert checked.clean["code"].tolist() == ["a"]


def test_wrong_geometry_type(tmp_path: Path) -> None:
    frame = households()
    frame.loc[2, "geometry"] = LineString([(106.14, 37.76), (106.15, 37.77)])
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert faults_of(checked) == [(3, "geometry", "wrong_geometry_type")]
    assert checked.faults["message"].iloc[0] == (
        "LineString where a Polygon or a Point is expected"
    )


def test_duplicate_codes_keep_the_first(tmp_path: Path) -> None:
    frame = households([("h1", NU1, 150, 150, 3), ("h1", NU1, 200, 150, 4),
                        ("h2", NU2, 600, 600, 2)])  # fmt: skip
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert faults_of(checked) == [(2, "code", "duplicate_code")]
    assert checked.faults["message"].iloc[0] == "code h1 repeats row 1"


def test_unknown_parent_codes(tmp_path: Path) -> None:
    rows = [("h1", "999999101001777", 150, 150, 3), ("h2", NU1, 200, 150, 4)]
    frame = households(rows)
    frame["village_code"] = [V1, "999999102001"]  # h2: NU1 is not in village 102001
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert faults_of(checked) == [
        (1, "natural_unit_code", "unknown_parent"),
        (2, "village_code", "unknown_parent"),
    ]
    assert "999999101001777 is not a known natural unit" in checked.faults["message"].iloc[0]


def test_households_outside_units_snapped_within_tolerance_else_quarantined(
    tmp_path: Path,
) -> None:
    # NU1 spans 100..400 m: h1 is 5 m left of it, h2 80 m left of it.
    frame = households([("h1", NU1, 85, 150, 3), ("h2", NU1, 10, 150, 4)])
    frame["natural_unit_code"] = None
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert faults_of(checked) == [(2, "geometry", "outside_natural_units")]
    assert checked.repairs[["row", "repair"]].values.tolist() == [[1, "snapped_into_natural_unit"]]
    assert checked.repairs["message"].iloc[0].startswith("10.0 m outside natural unit")
    moved = checked.clean.geometry.to_crs(UTM).iloc[0]
    # Its point on surface (the centre, x = 90 m) moved 0.5 m past the edge at x = 100 m.
    assert moved.centroid.x == pytest.approx(X0 + 100.5, abs=0.01)
    assert moved.area == pytest.approx(100, rel=1e-6)
    assert checked.clean["natural_unit_code"].tolist() == [NU1]  # filled from location


def test_overlapping_natural_units_reported_with_area(tmp_path: Path) -> None:
    frame = units().to_crs(UTM)
    # Widen NU1 (100..400) to 100..520 x 100..400: it overlaps NU2 (500..900) by 20 x 0 -> no;
    # make it 100..520 x 100..520: overlap 20 m x 20 m = 400 m².
    frame.loc[0, "geometry"] = box(X0 + 100, Y0 + 100, X0 + 520, Y0 + 520)
    checked = load.check_file(_gpkg(tmp_path, frame.to_crs(4326), "nu.gpkg"), "natural_units")
    assert checked.faults.empty
    assert len(checked.clean) == 3
    assert checked.overlaps[["code_a", "code_b"]].values.tolist() == [[NU1, NU2]]
    assert checked.overlaps["area_m2"].iloc[0] == pytest.approx(400, rel=1e-3)
    assert any("overlap by 400" in note for note in checked.notes)


def test_bad_and_missing_values(tmp_path: Path) -> None:
    frame = households([("h1", NU1, 150, 150, -1), ("h2", NU1, 200, 150, 4),
                        (None, NU2, 600, 600, 2), ("h4", NU2, 650, 600, 3)])  # fmt: skip
    frame["colour"] = ["red", "purple", "green", "红"]
    frame["residents_at_home"] = [0, 1, 1, 5]
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    assert faults_of(checked) == [
        (1, "residents", "bad_value"),
        (2, "colour", "bad_value"),
        (3, "code", "missing_value"),
        (4, "residents_at_home", "bad_value"),
    ]
    assert "purple" in checked.faults["message"].iloc[1]
    assert "red, orange, yellow, blue, green" in checked.faults["message"].iloc[1]


def test_chinese_aliases_and_column_mapping(tmp_path: Path) -> None:
    frame = households().rename(columns={"code": "户号", "residents": "户籍人口"})
    frame["颜色"] = ["红", "绿色", None]
    frame["编号"] = ["x1", "x2", "x3"]
    path = _gpkg(tmp_path, frame)
    checked = load.check_file(path, "households", refs=refs())
    assert checked.faults.empty
    assert checked.clean["code"].tolist() == ["h1", "h2", "h3"]  # 户号 is a household's code
    assert "columns: 户号 -> code, 户籍人口 -> residents, 颜色 -> colour" in checked.notes
    assert "columns not loaded: 编号" in checked.notes
    checked = load.check_file(path, "households", refs=refs(), columns={"编号": "code"})
    assert checked.clean["code"].tolist() == ["x1", "x2", "x3"]  # --map wins
    assert checked.clean["colour"].tolist() == ["red", "green", None]
    assert checked.clean["residents"].tolist() == [3, 4, 2]
    odd = households().rename(columns={"code": "Household ID", "residents": "hh-size"})
    odd = odd.rename(columns={"natural_unit_code": "UNIT_ID"})
    checked = load.check_file(_gpkg(tmp_path, odd, "odd.gpkg"), "households", refs=refs())
    assert checked.faults.empty
    renamed = "columns: Household ID -> code, UNIT_ID -> natural_unit_code, hh-size -> residents"
    assert renamed in checked.notes
    nothing = households().rename(columns={"code": "serial"})
    with pytest.raises(DataError, match=r"no column code for households.*--map"):
        load.check_file(_gpkg(tmp_path, nothing, "n.gpkg"), "households", refs=refs())


@pytest.mark.parametrize(
    ("kind", "column", "canonical"),
    [("households", "household_id", "code"), ("households", "户号", "code"),
     ("households", "Members", "residents"), ("households", "人口", "residents"),
     ("households", "unit id", "natural_unit_code"), ("households", "village-code",
     "village_code"), ("households", "renkou", "residents"), ("households", "常住人口",
     "residents_at_home"), ("natural_units", "village_code", "parent_code"),
     ("villages", "乡镇编码", "parent_code"), ("incidents", "id", "client_key"),
     ("incidents", "Category", "category_code"), ("visits", "户号", "household_code"),
     ("workers", "Mobile", "phone"), ("service_points", "TYPE", "kind"),
     ("households", "natural_un", "natural_unit_code")],
)  # fmt: skip
def test_alias_table(kind: str, column: str, canonical: str) -> None:
    from geo.load._kinds import column_mapping

    assert column_mapping([column], kind=kind) == {column: canonical}


def test_nothing_is_lost_every_row_loaded_or_quarantined(tmp_path: Path) -> None:
    frame = households([("h1", NU1, 150, 150, 3), ("h1", NU1, 200, 150, 4),
                        ("h3", NU2, 10, 10, 2), ("h4", NU2, 650, 600, -3)])  # fmt: skip
    checked = load.check_file(_gpkg(tmp_path, frame), "households", refs=refs())
    rows_out = set(checked.clean.index + 1) | set(checked.faults["row"])
    assert rows_out == {1, 2, 3, 4}
    assert len(checked.clean) + checked.quarantined == checked.rows_in
    raw = checked.raw_row(4)
    assert raw["code"] == "h4"
    assert raw["residents"] == -3
    assert raw["geometry"].startswith("POLYGON")


# -- files that cannot be read ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.gpkg", b"", r"empty\.gpkg: the file is empty \(0 bytes\)"),
        ("cut.geojson", b'{"type": "FeatureCollection", "features": [{"ty',
         r"cut\.geojson: not valid JSON .*truncated"),
        ("data.xlsb", b"PK\x03\x04", r"data\.xlsb: unknown format '\.xlsb'"),
        ("junk.gpkg", b"this is not a geopackage", r"junk\.gpkg: GDAL cannot read it"),
        ("missing.gpkg", None, r"missing\.gpkg: file not found"),
    ],
)  # fmt: skip
def test_unreadable_files_one_clear_line(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load.check_file(path, "households")
    assert "\n" not in str(info.value)


def test_shapefile_missing_sidecar(tmp_path: Path) -> None:
    path = _write_shp(tmp_path, "UTF-8", cpg=True)
    path.with_suffix(".shx").unlink()
    with pytest.raises(DataError, match=r"sp\.shp: Shapefile is missing its \.shx"):
        load.check_file(path, "service_points")
    path.unlink()
    with pytest.raises(DataError, match=r"missing its \.shp, \.shx"):
        load.check_file(path.with_suffix(".dbf"), "service_points")


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(DataError, match=r"unknown kind 'roads'.*households.*incidents"):
        load.check_frame(households(), "roads")
