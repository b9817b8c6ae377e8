"""geo.data: readers from PostGIS and from files, and the analyst's writers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, text
from typer.testing import CliRunner

import geo
from geo.cli import app
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.errors import ConfigError, CRSError, DatabaseError, DataError

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def demo(server_url: str) -> Iterator[Engine]:
    """``wangge demo --profile small`` (one month) in a scratch database of this module."""
    with pytest.MonkeyPatch.context() as patch, scratch_database(server_url, "data") as url:
        patch.setenv("DATABASE_URL", url)
        result = CliRunner().invoke(app, ["demo", "--profile", "small", "--months", "1"])
        assert result.exit_code == 0, result.output
        yield get_engine(url)


def test_geo_connect_is_geo_data_connect_and_reads_the_url(
    demo: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = demo.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    assert geo.connect is geo.data.connect
    assert geo.connect().url == demo.url
    assert geo.connect(url).url == demo.url


def test_connect_refuses_a_superuser_unless_allowed_and_sets_the_scope(
    demo: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = demo.url.render_as_string(hide_password=False)
    monkeypatch.setenv("WANGGE_ALLOW_SUPERUSER", "0")
    with pytest.raises(DatabaseError, match="superuser"):
        geo.connect(url)
    monkeypatch.setenv("WANGGE_ALLOW_SUPERUSER", "1")
    monkeypatch.delenv("WANGGE_SCOPE", raising=False)
    geo.connect(url, scope="999001")
    assert os.environ["WANGGE_SCOPE"] == "999001"
    with pytest.raises(ConfigError):
        geo.connect(url, scope="not a code!")


def test_connect_to_a_missing_database_is_one_clear_error() -> None:
    with pytest.raises(DatabaseError, match="wangge db up"):
        geo.connect("postgresql://postgres@127.0.0.1:5432/wangge_no_such_database_16")


@pytest.mark.parametrize("level", ["county", "township", "village", "natural_unit"])
def test_units_of_every_level_with_counts(demo: Engine, level: str) -> None:
    frame = geo.data.units(demo, level)
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.name == "geometry"
    assert {"code", "name", "households", "residents"} <= set(frame.columns)
    counts = geo.db.io.counts_by_level(demo).iloc[0]
    assert frame["households"].sum() == counts["households"]
    if level != "county":
        assert len(frame) == counts[f"{level}s"]


def test_units_under_a_township_and_an_unknown_level(demo: Engine) -> None:
    township = geo.data.units(demo, "township")["code"].iloc[0]
    villages = geo.data.units(demo, "village", under=township)
    assert len(villages)
    assert villages["code"].str.startswith(township).all()
    with pytest.raises(DataError, match="natural_unit"):
        geo.data.units(demo, "hamlet")


def test_households_as_footprints_or_points(demo: Engine) -> None:
    village = geo.data.units(demo, "village")["code"].iloc[0]
    footprints = geo.data.households(demo, under=village)
    points = geo.data.households(demo, under=village, points=True)
    assert len(footprints) == len(points) > 0
    assert set(footprints.geom_type) == {"Polygon"}
    assert set(points.geom_type) == {"Point"}
    assert footprints.contains(points).all()
    assert points["village_code"].eq(village).all()


def test_plan_cells_default_to_the_published_plan_and_take_id_or_name(demo: Engine) -> None:
    cells = geo.data.plan_cells(demo)
    plan_id = int(cells["plan_id"].iloc[0])
    assert cells.crs.to_epsg() == 4326
    assert cells["households"].sum() == geo.db.io.counts_by_level(demo).iloc[0]["households"]
    name = geo.plans.describe_plan(demo.connect(), plan_id)["name"]
    pd.testing.assert_frame_equal(geo.data.plan_cells(demo, plan_id), cells)
    pd.testing.assert_frame_equal(geo.data.plan_cells(demo, name), cells)
    assignment = geo.data.plan_assignment(demo)
    assert assignment["household_code"].is_unique
    assert set(assignment["cell_code"]) == set(cells["code"])


def test_incidents_of_a_period(demo: Engine) -> None:
    every = geo.data.incidents(demo)
    assert len(every) > 0
    assert every.crs.to_epsg() == 4326
    middle = every["reported_at"].sort_values().iloc[len(every) // 2]
    later = geo.data.incidents(demo, start=middle)
    earlier = geo.data.incidents(demo, end=middle)
    assert len(later) + len(earlier) == len(every)
    assert (later["reported_at"] >= middle).all()
    assert (earlier["reported_at"] < middle).all()
    assert "household_code" not in every.columns
    assert geo.data.incidents(demo, county="000000").empty


def test_naive_times_are_china_standard_time(demo: Engine) -> None:
    every = geo.data.incidents(demo)
    local_day = every["reported_at"].iloc[0].tz_convert("Asia/Shanghai").normalize()
    naive = local_day.tz_localize(None)
    assert len(geo.data.incidents(demo, start=naive)) == len(
        geo.data.incidents(demo, start=local_day)
    )
    with pytest.raises(DataError, match="not a time"):
        geo.data.incidents(demo, start="last tuesday-ish")


def test_visits_workers_and_service_points(demo: Engine) -> None:
    visits = geo.data.visits(demo)
    workers = geo.data.workers(demo)
    services = geo.data.service_points(demo)
    clinics = geo.data.service_points(demo, kind="clinic")
    assert len(visits)
    assert set(visits.geom_type) == {"Point"}
    assert visits["visited_at"].dt.tz is not None
    assert set(visits["worker_code"]) <= set(workers["code"])
    assert "phone" not in workers.columns
    assert workers["cell_code"].notna().all()
    assert workers.geometry.notna().all()
    assert len(clinics)
    assert (clinics["kind"] == "clinic").all()
    assert len(services) > len(clinics)
    for frame in (visits, workers, services):
        assert frame.crs.to_epsg() == 4326


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_every_reader_reads_back_what_to_file_wrote(
    demo: Engine, tmp_path: Path, suffix: str
) -> None:
    readers = {
        "cells": (geo.data.plan_cells(demo), geo.data.plan_cells),
        "incidents": (geo.data.incidents(demo), geo.data.incidents),
        "visits": (geo.data.visits(demo), geo.data.visits),
        "workers": (geo.data.workers(demo), geo.data.workers),
        "services": (geo.data.service_points(demo), geo.data.service_points),
        "households": (geo.data.households(demo), geo.data.households),
    }
    for name, (frame, read) in readers.items():
        path = geo.data.to_file(frame, tmp_path / f"{name}{suffix}")
        back = read(path)
        assert back.crs.to_epsg() == 4326, name
        assert len(back) == len(frame), name
        assert back["code" if "code" in frame else "id"].tolist() == (
            frame["code" if "code" in frame else "id"].tolist()
        ), name
    villages = geo.data.units(demo, "village")
    path = geo.data.to_file(villages, tmp_path / f"villages{suffix}", layer="village")
    assert geo.data.units(path, "village")["code"].tolist() == villages["code"].tolist()


def test_file_readers_filter_like_the_database(demo: Engine, tmp_path: Path) -> None:
    every = geo.data.incidents(demo)
    path = geo.data.to_file(every, tmp_path / "incidents.parquet")
    middle = every["reported_at"].sort_values().iloc[len(every) // 2]
    assert len(geo.data.incidents(path, start=middle)) == len(
        geo.data.incidents(demo, start=middle)
    )
    township = every["township_code"].iloc[0]
    assert len(geo.data.incidents(path, county=township)) == len(
        geo.data.incidents(demo, county=township)
    )
    services = geo.data.to_file(geo.data.service_points(demo), tmp_path / "s.gpkg")
    assert (geo.data.service_points(services, kind="clinic")["kind"] == "clinic").all()


def test_a_file_in_another_crs_is_converted_and_one_without_a_crs_refused(
    demo: Engine, tmp_path: Path
) -> None:
    cells = geo.data.plan_cells(demo)
    utm = cells.to_crs(geo.projection.utm_crs(cells))
    utm.to_file(tmp_path / "utm.gpkg", layer="cells")
    back = geo.data.plan_cells(tmp_path / "utm.gpkg")
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].centroid.distance(cells.geometry.iloc[0].centroid) < 1e-6
    bare = cells.set_crs(None, allow_override=True)
    bare.to_parquet(tmp_path / "bare.parquet")
    with pytest.raises(CRSError, match="no CRS"):
        geo.data.plan_cells(tmp_path / "bare.parquet")
    with pytest.raises(DataError, match="no file"):
        geo.data.plan_cells(tmp_path / "missing.gpkg")


def _result() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["a", "b", None],
            "count": [1, 2, 3],
            "z": [0.5, float("nan"), -1.25],
            "hot": [True, False, True],
            "at": pd.to_datetime(["2026-01-01", "2026-01-02", None], utc=True),
        },
        geometry=[shapely.Point(107, 37), shapely.box(107, 37, 107.1, 37.1), None],
        crs=4326,
    )


def test_to_table_writes_reads_back_and_replaces_only_when_asked(demo: Engine) -> None:
    frame = _result()
    assert geo.data.to_table(frame, demo, "result_test_data") == 3
    back = geo.data.read_table(demo, "result_test_data")
    assert back.crs.to_epsg() == 4326
    assert back["code"].tolist()[:2] == ["a", "b"]
    assert back["code"].isna().iloc[2]
    assert back["count"].tolist() == [1, 2, 3]
    assert back["hot"].tolist() == [True, False, True]
    assert back["z"].isna().tolist() == [False, True, False]
    assert back["at"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")
    assert back.geometry.iloc[1].equals(frame.geometry.iloc[1])
    with pytest.raises(DataError, match="replace=True"):
        geo.data.to_table(frame, demo, "result_test_data")
    assert geo.data.to_table(frame.iloc[:1], demo, "result_test_data", replace=True) == 1
    assert len(geo.data.read_table(demo, "result_test_data")) == 1


def test_to_table_in_the_callers_transaction(demo: Engine) -> None:
    with demo.connect() as conn:
        transaction = conn.begin()
        geo.data.to_table(_result(), conn, "result_rolled_back")
        transaction.rollback()
    with pytest.raises(DataError, match="no analyst table"):
        geo.data.read_table(demo, "result_rolled_back")


@pytest.mark.parametrize(
    "name", ["incident", "household", "grid_cell", "admin_unit", "alembic_version",
             "spatial_ref_sys", "quarantine", "visit"],
)  # fmt: skip
def test_to_table_refuses_wangges_own_tables(demo: Engine, name: str) -> None:
    with demo.connect() as conn:
        before = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
    with pytest.raises(DataError, match="Wangge's own tables"):
        geo.data.to_table(_result(), demo, name, replace=True)
    with demo.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() == before


@pytest.mark.parametrize("name", ["Result", "1result", "result-x", "r;drop table visit", ""])
def test_to_table_refuses_names_outside_the_rule(demo: Engine, name: str) -> None:
    with pytest.raises(DataError, match="lower-case"):
        geo.data.to_table(_result(), demo, name)


def test_to_table_leaves_a_table_it_did_not_write_alone(demo: Engine) -> None:
    with demo.begin() as conn:
        conn.execute(text("CREATE TABLE someone_elses (x int)"))
    with pytest.raises(DataError, match=r"not written through geo\.data\.to_table"):
        geo.data.to_table(_result(), demo, "someone_elses", replace=True)
    with pytest.raises(DataError, match="no analyst table"):
        geo.data.read_table(demo, "someone_elses")


def test_to_table_wants_a_geodataframe_with_a_crs(demo: Engine) -> None:
    with pytest.raises(DataError, match="GeoDataFrames"):
        geo.data.to_table(pd.DataFrame({"x": [1]}), demo, "result_plain")
    with pytest.raises(CRSError):
        geo.data.to_table(_result().set_crs(None, allow_override=True), demo, "result_bare")
