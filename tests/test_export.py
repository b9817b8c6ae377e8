"""geo.export: every format round-trips names in Chinese; plans from PostGIS; GDAL as a client."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from geo import export
from geo.errors import ConfigError, CRSError, DataError
from tests._fixtures.load_files import households
from tests._fixtures.plans import one_cell_plan

needs_ogrinfo = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin missing")


def hexes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["甲村热点", "乙社区"], "z": [2.5, -1.0], "households": [12, 3]},
        geometry=[box(106.13, 37.76, 106.14, 37.77), box(106.14, 37.76, 106.15, 37.77)],
        crs=4326,
    )


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "parquet", "shp", "csv"])
def test_frames_round_trip_in_every_format(tmp_path: Path, fmt: str) -> None:
    suffix = export.FORMATS[fmt][1]
    [path] = export.frames_to_file({"heat": hexes()}, tmp_path / f"out{suffix}")
    if fmt == "csv":
        text = path.read_bytes()
        assert text.startswith(b"\xef\xbb\xbf")  # BOM, for Excel
        back = pd.read_csv(path, encoding="utf-8-sig")
        geoms = gpd.GeoSeries.from_wkt(back.pop("wkt"), crs=4326)
        back = gpd.GeoDataFrame(back, geometry=geoms)
    elif fmt == "parquet":
        back = gpd.read_parquet(path)
    else:
        back = gpd.read_file(path)
    assert back["name"].tolist() == ["甲村热点", "乙社区"]
    assert back["households"].tolist() == [12, 3]
    assert (
        back.geometry.normalize()
        .geom_equals_exact(hexes().geometry.normalize(), tolerance=1e-9)
        .all()
    )
    if fmt == "shp":
        assert path.with_suffix(".cpg").read_text().strip().upper() in ("UTF-8", "UTF8")


def test_geopackage_holds_one_layer_per_frame(tmp_path: Path) -> None:
    points = gpd.GeoDataFrame({"code": ["a"]}, geometry=[Point(1, 2)], crs=4326)
    [path] = export.frames_to_file({"heat": hexes(), "hotspots": points}, tmp_path / "r.gpkg")
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["heat", "hotspots"]
    # Writing again replaces the file instead of appending.
    export.frames_to_file({"heat": hexes()}, path)
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["heat"]


def test_single_layer_formats_get_one_file_per_frame(tmp_path: Path) -> None:
    utm = hexes().to_crs(32648)
    paths = export.frames_to_file({"a": utm, "b": hexes()}, tmp_path / "r.geojson")
    assert [p.name for p in paths] == ["r_a.geojson", "r_b.geojson"]
    assert gpd.read_file(paths[0]).crs.to_epsg() == 4326


def test_export_errors_name_the_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown export format 'kml'.*gpkg, geojson"):
        export.frames_to_file({"a": hexes()}, tmp_path / "x.kml", driver="kml")
    with pytest.raises(ConfigError, match="cannot tell the format"):
        export.frames_to_file({"a": hexes()}, tmp_path / "x.txt")
    with pytest.raises(CRSError):
        export.frames_to_file(
            {"a": hexes().set_crs(None, allow_override=True)}, tmp_path / "x.gpkg"
        )


def _load_households(conn: Connection, tmp_path: Path) -> None:
    from geo import load

    path = tmp_path / "hh.gpkg"
    households().to_file(path)
    load.load_file(conn, path, "households")


def test_plan_export_leaves_households_out_unless_asked(
    county: Connection,
    tmp_path: Path,
) -> None:
    _load_households(county, tmp_path)
    plan_id = one_cell_plan(county)
    path = export.plan_to_geopackage(county, plan_id, tmp_path / "plan.gpkg")
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["cells"]
    cells = gpd.read_file(path, layer="cells")
    assert cells["village_name"].tolist() == ["甲村", "乙社区"]
    assert cells["plan_name"].unique().tolist() == ["试点方案"]
    assert cells["households"].tolist() == [2, 1]
    path = export.plan_to_geopackage(county, plan_id, path, include_households=True)
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["cells", "households"]
    hh = gpd.read_file(path, layer="households")
    assert hh["cell_code"].tolist() == ["999999101001-01"] * 2 + ["999999101001-01"]
    files = export.plan_to_file(county, plan_id, tmp_path / "plan.csv")
    assert [f.name for f in files] == ["plan.csv"]


def test_unknown_plan_lists_the_plans(county: Connection, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no grid plan 424242; plans in the database"):
        export.plan_to_geopackage(county, 424242, tmp_path / "p.gpkg")


@needs_ogrinfo
def test_ogrinfo_reads_an_exported_geopackage(
    county: Connection,
    tmp_path: Path,
) -> None:
    _load_households(county, tmp_path)
    plan_id = one_cell_plan(county)
    path = export.plan_to_geopackage(county, plan_id, tmp_path / "plan.gpkg")
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(path), "cells"], capture_output=True, text=True, check=True
    ).stdout
    assert "Geometry: Multi Polygon" in listing
    assert "Feature Count: 2" in listing
    assert 'ID["EPSG",4326]' in listing
    features = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(path), "cells"], capture_output=True, text=True, check=True
    ).stdout
    assert "village_name (String) = 甲村" in features
    assert "试点方案" in features


@needs_ogrinfo
@pytest.mark.parametrize(
    ("table", "geometry"),
    [("household", "Polygon"), ("household", "Point"), ("admin_unit", "Multi Polygon"),
     ("grid_cell", "Multi Polygon"), ("incident", "Point"), ("service_point", "Point")],
)  # fmt: skip
def test_ogrinfo_reads_the_postgis_tables(db_url: str, table: str, geometry: str) -> None:
    url = make_url(db_url)
    dsn = (
        f"PG:host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
        + (f" password={url.password}" if url.password else "")
    )
    result = subprocess.run(
        ["ogrinfo", "-ro", "-so", dsn, table], capture_output=True, text=True, check=True
    )
    # household has two geometry columns (geom, point); the others one ("Geometry: ...").
    assert f"Geometry: {geometry}" in result.stdout or (
        f"Geometry ({'point' if geometry == 'Point' else 'geom'}): {geometry}" in result.stdout
    ), result.stdout
    assert 'ID["EPSG",4326]' in result.stdout
