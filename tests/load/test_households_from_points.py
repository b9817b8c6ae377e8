"""Households given as points, or only by their natural unit: placed, given a derived
courtyard footprint, recorded as repairs, and usable by everything downstream (grids).

The tiny county's natural units are UTM squares NU1 100..400 m, NU2 500..900 m (village V1)
and NU3 1200..1800 x 200..800 m (village V2); the courtyard is a 16 m square.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Connection, text

from geo import grids, load
from geo.load._footprints import COURTYARD_SIDE_M, courtyards, lattice_points
from tests._fixtures.county import UTM, X0, Y0, tiny_county
from tests._fixtures.load_files import NU1, NU2, NU3, V1, faults_of, lonlat, points_csv, refs
from tests._fixtures.villages import assert_tiles


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.to_crs(UTM)


def test_points_become_courtyards_clipped_and_cut_by_neighbours(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    points_csv(path, [("h1", None, 200, 200, 3), ("h2", None, 210, 200, 4),
                      ("h3", None, 103, 300, 2), ("h4", NU2, 700, 700, 5)])  # fmt: skip
    checked = load.check_file(path, "households", refs=refs())
    assert checked.faults.empty
    assert checked.repairs[["row", "repair"]].values.tolist() == [
        [1, "footprint_from_point"], [2, "footprint_from_point"], [3, "footprint_from_point"],
        [4, "footprint_from_point"]]  # fmt: skip
    clean = _metric(checked.clean)
    assert (clean.geom_type == "Polygon").all()
    # h1 and h2 are 10 m apart: each keeps its 5 m half of the other side -> 13 x 16 m
    assert clean.area.round(1).tolist() == [13 * 16, 13 * 16, 11 * 16, 16 * 16]
    assert clean.area.max() <= COURTYARD_SIDE_M**2 + 1e-6
    # no two courtyards overlap; each holds its point; h3 is clipped at NU1's west edge (100)
    assert shapely.area(shapely.intersection(clean.geometry[0], clean.geometry[1])) < 1e-6
    assert clean.geometry.bounds["minx"].iloc[2] == pytest.approx(X0 + 100, abs=1e-3)
    assert checked.clean["natural_unit_code"].tolist() == [NU1, NU1, NU1, NU2]
    assert checked.clean["village_code"].eq(V1).all()
    assert "columns: 户号 -> code, 自然村编码 -> natural_unit_code, 人口 -> residents" in (
        checked.notes
    )
    assert "columns not loaded: 户主" in checked.notes


def test_wkt_points_and_rows_with_only_a_unit(tmp_path: Path) -> None:
    wkt = tmp_path / "wkt.csv"
    lon, lat = lonlat(650, 650)
    wkt.write_text(f"household_id,unit_id,members,wkt\nw1,,2,POINT ({lon} {lat})\n"
                   f"w2,{NU3},3,\nw3,,1,\nw4,{NU3},2,\n", encoding="utf-8")  # fmt: skip
    checked = load.check_file(wkt, "households", refs=refs())
    assert faults_of(checked) == [(3, "geometry", "empty_geometry")]
    assert checked.repairs[["row", "repair"]].values.tolist() == [
        [1, "footprint_from_point"], [2, "placed_in_unit"], [4, "placed_in_unit"]]  # fmt: skip
    clean = _metric(checked.clean)
    nu3 = tiny_county().natural_units.set_index("code").to_crs(UTM).geometry[NU3]
    placed = clean.loc[clean["code"].isin(["w2", "w4"])]
    assert placed.within(nu3.buffer(1e-6)).all()
    assert shapely.area(shapely.intersection(*placed.geometry.values)) < 1e-6
    codes_only = tmp_path / "codes.csv"
    codes_only.write_text(f"户号,自然村编码,人口\nc1,{NU1},2\nc2,{NU1},3\nc3,{NU2},1\n",
                          encoding="utf-8")  # fmt: skip
    checked = load.check_file(codes_only, "households", refs=refs())
    assert checked.faults.empty
    assert (checked.repairs["repair"] == "placed_in_unit").all()
    assert len(checked.clean) == 3
    # without the natural units (no database) such rows cannot be placed: faulted, not lost
    alone = load.check_file(codes_only, "households")
    assert set(alone.faults["fault"]) == {"empty_geometry"}
    assert alone.rows_in == len(alone.clean) + alone.quarantined


def test_lattice_spreads_households_inside_a_unit() -> None:
    unit = tiny_county().natural_units.geometry.iloc[0]
    pts = lattice_points(unit, 7, UTM)
    assert len(pts) == 7
    assert shapely.within(pts, unit).all()
    assert len({(p.x, p.y) for p in pts}) == 7


def test_courtyards_of_equal_points_and_one_point() -> None:
    a = gpd.GeoSeries([shapely.Point(X0 + 200, Y0 + 200)] * 2, crs=UTM).to_crs(4326).values
    shapes = gpd.GeoSeries(courtyards(np.asarray(a), None, UTM), crs=4326).to_crs(UTM)
    assert shapes.area.round(6).tolist() == [256.0, 256.0]
    one = courtyards(np.asarray(a[:1]), None, UTM)
    assert gpd.GeoSeries(one, crs=4326).to_crs(UTM).area.round(6).tolist() == [256.0]


def test_grids_tile_villages_of_a_county_loaded_from_points(tmp_path: Path) -> None:
    county = tiny_county()
    rng = np.random.default_rng(3)
    rows = []
    for k, (unit, x0, y0, x1, y1) in enumerate(
        [(NU1, 110, 110, 390, 390), (NU2, 510, 510, 890, 890), (NU3, 1210, 210, 1790, 790)]
    ):
        xy = rng.uniform((x0, y0), (x1, y1), size=(12, 2))
        rows += [(f"p{k}{i:02d}", unit, x, y, 3) for i, (x, y) in enumerate(xy)]
    rows += [("q1", NU1, None, None, 2), ("q2", NU3, None, None, 4)]
    path = tmp_path / "register.csv"
    points_csv(path, rows)
    checked = load.check_file(path, "households", refs=refs())
    assert checked.faults.empty
    assert len(checked.clean) == len(rows)
    plan = grids.build_plan(
        checked.clean, county.natural_units, county.villages, min_size=4, max_size=8
    )
    assert_tiles(plan, county.villages)
    assert plan.assignment["cell_code"].notna().all()
    assert len(plan.assignment) == len(rows)


def test_load_run_records_point_repairs(county: Connection, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    points_csv(path, [("h1", None, 200, 200, 3), ("h2", NU2, None, None, 1),
                      ("h3", None, 5000, 5000, 1), ("h4", None, 405, 200, 2)])  # fmt: skip
    report = load.load_file(county, path, "households")
    assert (report.rows_in, report.loaded, report.repaired, report.quarantined) == (4, 3, 3, 1)
    run = county.execute(
        text("SELECT loaded, repaired, quarantined, notes FROM load_run WHERE id = :i"),
        {"i": report.load_id},
    ).one()
    assert run.notes["repairs"] == {
        "footprint_from_point": 2, "placed_in_unit": 1, "snapped_into_natural_unit": 1}  # fmt: skip
    assert (run.loaded, run.repaired, run.quarantined) == (3, 3, 1)
    stored = pd.DataFrame(
        county.execute(
            text("SELECT code, ST_GeometryType(geom) AS t FROM household ORDER BY code")
        ).all()
    )
    assert stored["code"].tolist() == ["h1", "h2", "h4"]
    assert set(stored["t"]) == {"ST_Polygon"}
    fault = county.execute(
        text("SELECT fault, raw FROM quarantine WHERE load_id = :i"), {"i": report.load_id}
    ).one()
    assert fault.fault.startswith("outside_natural_units")
    assert fault.raw["户号"] == "h3"
    assert "footprint_from_point" in report.summary()


def test_unreadable_wkt_is_a_fault_not_a_missing_location(tmp_path: Path) -> None:
    path = tmp_path / "wkt.csv"
    lon, lat = lonlat(650, 650)
    text = (
        f"code,natural_unit_code,residents,wkt\na,{NU2},2,POINT ({lon} {lat})\n"
        f"b,{NU2},1,POINT (1 2\nc,{NU2},1,not wkt at all\n"
    )
    path.write_text(text, encoding="utf-8")
    checked = load.check_file(path, "households", refs=refs())
    assert faults_of(checked) == [(2, "geometry", "invalid_geometry"),
                                  (3, "geometry", "invalid_geometry")]  # fmt: skip
    assert "'POINT (1 2' is not readable WKT" in checked.faults["message"].iloc[0]
    sp = tmp_path / "sp.csv"
    sp.write_text("code,kind,name,wkt\ns,clinic,x,POINT (1\n", encoding="utf-8")
    assert faults_of(load.check_file(sp, "service_points")) == [
        (1, "geometry", "invalid_geometry")]  # fmt: skip
