"""geo.load against PostGIS: quarantine rows, load runs, idempotence, all-or-nothing loads."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Polygon
from sqlalchemy import Connection, text

from geo import export, load
from geo.db import io
from geo.errors import CRSError, DataError
from tests._fixtures.county import UTM, X0, Y0, tiny_county
from tests._fixtures.load_files import NU1, NU2, V1, households
from tests._fixtures.plans import one_cell_plan

T1 = "999999101"


def _counts(conn: Connection) -> dict[str, int]:
    tables = ("household", "quarantine", "load_run", "visit", "grid_worker", "incident")
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def _bad_file(tmp_path: Path) -> Path:
    frame = households([("h1", NU1, 150, 150, 3), ("h2", NU1, 200, 150, 4),
                        ("h1", NU2, 600, 600, 2), ("h4", NU2, 650, 600, 1)])  # fmt: skip
    bowtie = Polygon([(X0 + 650, Y0 + 600), (X0 + 660, Y0 + 610), (X0 + 660, Y0 + 600),
                      (X0 + 650, Y0 + 610)])  # fmt: skip
    frame.loc[3, "geometry"] = gpd.GeoSeries([bowtie], crs=UTM).to_crs(4326).iloc[0]
    frame["名称"] = ["张家", "李家", "王家", "赵家"]  # an extra column, kept in the raw row
    path = tmp_path / "households.gpkg"
    frame.to_file(path)
    return path


def test_load_writes_clean_rows_quarantine_and_run(county: Connection, tmp_path: Path) -> None:
    report = load.load_file(county, _bad_file(tmp_path), "households")
    assert (report.rows_in, report.loaded, report.quarantined) == (4, 2, 2)
    codes = county.execute(text("SELECT code FROM household ORDER BY code")).scalars().all()
    assert codes == ["h1", "h2"]
    rows = county.execute(
        text(
            "SELECT file, row_number, field, fault, raw FROM quarantine "
            "WHERE load_id = :id ORDER BY row_number"
        ),
        {"id": report.load_id},
    ).all()
    assert [(r.file, r.row_number, r.field) for r in rows] == [
        ("households.gpkg", 3, "code"),
        ("households.gpkg", 4, "geometry"),
    ]
    assert rows[0].fault == "duplicate_code: code h1 repeats row 1"
    assert rows[1].fault.startswith("invalid_geometry: Self-intersection")
    assert rows[0].raw["名称"] == "王家"
    assert rows[1].raw["code"] == "h4"
    assert rows[1].raw["geometry"].startswith("POLYGON")
    run = county.execute(
        text("SELECT * FROM load_run WHERE id = :id"), {"id": report.load_id}
    ).one()
    assert (run.kind, run.file, run.rows_in, run.loaded, run.quarantined) == (
        "households", "households.gpkg", 4, 2, 2,
    )  # fmt: skip
    assert run.source_crs == "EPSG:4326"
    assert run.notes["by_fault"] == {"duplicate_code": 1, "invalid_geometry": 1}
    assert "quarantined" in report.summary()


def test_reloading_the_same_file_is_idempotent(county: Connection, tmp_path: Path) -> None:
    path = tmp_path / "hh.gpkg"
    households().to_file(path)
    load.load_file(county, path, "households")
    first = io.read_households(county)
    report = load.load_file(county, path, "households")
    assert report.loaded == 3
    assert_geodataframe_equal(io.read_households(county), first)
    runs = county.execute(text("SELECT count(*) FROM load_run")).scalar_one()
    assert runs == 2


def test_reload_updates_changed_rows_by_code(county: Connection, tmp_path: Path) -> None:
    path = tmp_path / "hh.gpkg"
    households().to_file(path)
    load.load_file(county, path, "households")
    changed = households()
    changed["residents"] = [9, 9, 9]
    changed.to_file(path)
    load.load_file(county, path, "households")
    residents = county.execute(text("SELECT residents FROM household ORDER BY code")).scalars()
    assert residents.all() == [9, 9, 9]


def test_database_refusal_leaves_database_unchanged(county: Connection, tmp_path: Path) -> None:
    path = tmp_path / "hh.gpkg"
    households().to_file(path)
    load.load_file(county, path, "households")
    before = _counts(county)
    frame = households([("h9", NU1, 300, 300, 3_000_000_000)])  # overflows INTEGER
    frame.to_file(tmp_path / "big.gpkg")
    with pytest.raises(DataError, match=r"the database refused the load .*nothing was written"):
        load.load_file(county, tmp_path / "big.gpkg", "households")
    assert _counts(county) == before


def test_failure_after_rows_were_written_rolls_back_everything(
    county: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _counts(county)

    def fail(*args, **kwargs):
        raise DataError("simulated failure while recording the load run")

    monkeypatch.setattr("geo.db.load_store.write_run", fail)
    with pytest.raises(DataError, match="simulated"):
        load.load_file(county, _bad_file(tmp_path), "households")
    assert _counts(county) == before  # households and quarantine rows were rolled back


def test_fatal_file_errors_touch_nothing(county: Connection, tmp_path: Path) -> None:
    before = _counts(county)
    csv = tmp_path / "metres.csv"
    csv.write_text("code,natural_unit_code,residents,wkt\nh1,x,1,POINT (600000 4180000)\n")
    with pytest.raises(CRSError, match="--crs"):
        load.load_file(county, csv, "households")
    (tmp_path / "empty.geojson").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load.load_file(county, tmp_path / "empty.geojson", "households")
    nocode = households().drop(columns="code")
    nocode.to_file(tmp_path / "nocode.gpkg")
    with pytest.raises(DataError, match="no column code"):
        load.load_file(county, tmp_path / "nocode.gpkg", "households")
    assert _counts(county) == before


def test_natural_units_upsert_and_unknown_parent(county: Connection, tmp_path: Path) -> None:
    units = tiny_county().natural_units.copy()
    units.loc[0, "name"] = "一组（新）"
    units.loc[2, "parent_code"] = "999999109001"
    path = tmp_path / "nu.shp"
    units.to_file(path, encoding="GB18030")
    path.with_suffix(".cpg").unlink()
    report = load.load_file(county, path, "natural_units")
    assert report.checked.by_fault() == {"unknown_parent": 1}
    name = county.execute(text("SELECT name FROM admin_unit WHERE code = :c"), {"c": NU1})
    assert name.scalar_one() == "一组（新）"


def test_workers_visits_service_points_and_incidents(county: Connection, tmp_path: Path) -> None:
    hh = tmp_path / "hh.gpkg"
    households().to_file(hh)
    load.load_file(county, hh, "households")
    workers = tmp_path / "workers.csv"
    workers.write_text(
        f"编码,姓名,电话,乡镇编码\nw1,张三,13800000000,{T1}\nw2,李四,,{T1}\nw3,王五,,999999555\n",
        encoding="gb18030",
    )
    report = load.load_file(county, workers, "workers")
    assert (report.loaded, report.checked.by_fault()) == (2, {"unknown_parent": 1})
    names = county.execute(text("SELECT name FROM grid_worker ORDER BY code")).scalars().all()
    assert names == ["张三", "李四"]
    visits = tmp_path / "visits.csv"
    visits.write_text(
        "worker_code,household_code,visited_at\n"
        "w1,h1,2024-05-01 09:30\nw1,h2,2024-05-01 10:00\nw2,h9,2024-05-02 09:00\n"
        "w2,h3,yesterday\n"
    )
    report = load.load_file(county, visits, "visits")
    assert report.checked.by_fault() == {"unknown_parent": 1, "bad_value": 1}
    load.load_file(county, visits, "visits")  # again: no duplicate visits
    stamps = county.execute(text("SELECT visited_at FROM visit ORDER BY visited_at")).scalars()
    assert [s.isoformat() for s in stamps.all()] == [
        "2024-05-01T01:30:00+00:00",  # 09:30 in Asia/Shanghai
        "2024-05-01T02:00:00+00:00",
    ]
    points = tmp_path / "sp.geojson"
    gpd.GeoDataFrame(
        {"code": ["sp1"], "kind": ["clinic"], "name": ["卫生室"], "village_code": [V1]},
        geometry=[shapely.Point(106.14, 37.765)],
        crs=4326,
    ).to_file(points)
    assert load.load_file(county, points, "service_points").loaded == 1
    county.execute(text("INSERT INTO platform (code, name) VALUES ('em', '应急管理')"))
    county.execute(
        text(
            "INSERT INTO incident_category (code, name, platform_code, due_hours) "
            "VALUES ('fire', '火情', 'em', 2)"
        )
    )
    incidents = tmp_path / "incidents.csv"
    incidents.write_text(
        "code,category,source,reported_at,lon,lat\n"
        "k1,fire,whistle,2024-05-01T08:00+08:00,106.14,37.765\n"
        "k2,flood,whistle,2024-05-01T08:00+08:00,106.14,37.765\n"
        "k3,fire,pigeon,2024-05-01T08:00+08:00,106.14,37.765\n"
    )
    report = load.load_file(county, incidents, "incidents")
    assert report.checked.by_fault() == {"bad_value": 1, "unknown_parent": 1}
    row = county.execute(text("SELECT client_key, status, reported_at FROM incident")).one()
    assert row.client_key == "k1"
    assert row.status == "reported"
    assert row.reported_at.isoformat() == "2024-05-01T00:00:00+00:00"


def test_round_trip_load_export_load(county: Connection, tmp_path: Path) -> None:
    path = tmp_path / "hh.shp"
    frame = households()
    frame["colour"] = ["红", "green", None]
    frame.to_file(path, encoding="GB18030")
    load.load_file(county, path, "households")
    original = io.read_households(county)
    plan_id = one_cell_plan(county)
    gpkg = export.plan_to_geopackage(county, plan_id, tmp_path / "plan.gpkg",
                                     include_households=True)  # fmt: skip
    county.execute(text("DELETE FROM household"))
    report = load.load_file(county, gpkg, "households", layer="households")
    assert report.quarantined == 0
    assert report.loaded == 3
    assert_geodataframe_equal(io.read_households(county), original, check_less_precise=True)
    assert original["colour"].tolist()[:2] == ["red", "green"]
    assert pd.isna(original["colour"].iloc[2])


def test_load_frame_without_a_file(county: Connection) -> None:
    frame = households().drop(columns="natural_unit_code")
    report = load.load_frame(county, frame, "households", name="notebook")
    assert report.loaded == 3
    units = county.execute(text("SELECT natural_unit_code FROM household ORDER BY code"))
    assert units.scalars().all() == [NU1, NU1, NU2]
    assert pd.Series(report.checked.notes).str.contains("filled from location").any()
