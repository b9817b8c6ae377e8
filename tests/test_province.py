"""geo.province: the per-county pipeline, serially and on a 2-worker Dask LocalCluster.

The same counties are processed one after the other in this process and on a cluster of two
worker processes; the stored plans and hot spot classes must be identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import text

from geo import plans, province
from geo.db import province_store, queries
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.errors import ConfigError

pytestmark = [pytest.mark.db]


def test_county_profiles_differ_and_are_valid() -> None:
    counties = province.county_profiles("mini", 5, seed=3)
    codes = [c.county_code for c in counties]
    assert codes == ["980101", "980102", "980103", "980104", "980105"]
    assert len({c.centre_lonlat for c in counties}) == 5
    assert len({c.households for c in counties}) > 1  # sizes vary with the scale factor
    assert counties == province.county_profiles("mini", 5, seed=3)  # deterministic


def test_unknown_province_task_and_option_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"known provinces: .*mini"):
        province.county_profiles("atlantis", 2)
    with pytest.raises(ConfigError, match="tasks: synth, build-grids"):
        province.run("paint", ["980101"], label="x", workers=0)
    with pytest.raises(ConfigError, match="has no option colour; options: days"):
        province.run("hotspots", ["980101"], label="x", workers=0, options={"colour": 1})


@pytest.fixture(scope="module")
def province_db(server_url: str) -> Iterator[str]:
    """Two counties of the mini province with a month of incidents (serial synth)."""
    with scratch_database(server_url, "province") as url:
        report = province.synth_province("mini", 2, months=1, url=url, workers=0)
        assert report["status"].tolist() == ["done", "done"], report
        yield url


def _plan(conn, name: str, county: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    stored = plans.load_plan(conn, name, county_code=county, attach=False)
    cells = queries.plan_cells(conn, stored.id)
    cells["wkb"] = cells.geometry.to_wkb()
    assignment = queries.plan_assignment(conn, stored.id)
    described = plans.describe_plan(conn, name, county_code=county)
    metrics = {k: v for k, v in described["metrics"].items() if k != "seconds"}  # a timing
    return pd.DataFrame(cells.drop(columns="geometry")), assignment, metrics


@pytest.mark.slow
def test_cluster_and_serial_runs_store_identical_results(province_db: str) -> None:
    url = province_db
    codes = province.province_counties(get_engine(url), "98")
    assert codes == ["980101", "980102"]
    serial = province.run("build-grids", codes, label="serial", url=url, workers=0)
    cluster = province.run("build-grids", codes, label="cluster", url=url, workers=2)
    assert serial["status"].tolist() == cluster["status"].tolist() == ["done", "done"]
    assert cluster["worker"].str.startswith("tcp://").all()
    with get_engine(url).begin() as conn:
        for code in codes:
            a, b = _plan(conn, "serial", code), _plan(conn, "cluster", code)
            assert_frame_equal(a[0], b[0])
            assert_frame_equal(a[1], b[1])
            assert a[2] == b[2]
            plans.publish_plan(conn, "serial", county_code=code, by="test")
    serial = province.run("hotspots", codes, label="h-serial", url=url, workers=0)
    cluster = province.run("hotspots", codes, label="h-cluster", url=url, workers=2)
    assert (serial["status"] == "done").all()
    assert (cluster["status"] == "done").all()
    a = province_store.read_results(get_engine(url), label="h-serial", task="hotspots")
    b = province_store.read_results(get_engine(url), label="h-cluster", task="hotspots")
    assert len(a) == sum(len(queries.plan_cells(get_engine(url), p)) for p in _published(url))
    assert a["incidents"].sum() > 0
    assert_frame_equal(a, b)
    cover = province.run("coverage", codes, label="c", url=url, workers=2)
    assert (cover["status"] == "done").all()
    shares = province_store.read_results(get_engine(url), label="c", task="coverage")
    assert (shares["share_assigned"] == 1.0).all()  # a published plan covers every household


def _published(url: str) -> list[int]:
    with get_engine(url).connect() as conn:
        return [queries.published_plan_id(conn, c) for c in ("980101", "980102")]


def test_a_failing_county_is_reported_and_leaves_nothing(province_db: str) -> None:
    url = province_db
    report = province.run(
        "build-grids", ["980101", "980199"], label="partial", url=url, workers=0, retries=1
    )
    assert report["status"].tolist() == ["done", "failed"]
    assert "980199" in report.loc[1, "error"]
    with get_engine(url).connect() as conn:
        names = conn.execute(
            text("SELECT county_code FROM grid_plan WHERE name = 'partial' ORDER BY 1")
        ).scalars()
        assert list(names) == ["980101"]  # the failed county stored no plan


def test_hotspots_without_a_published_plan_fail_with_what_to_run(province_db: str) -> None:
    report = province.run("hotspots", ["980199"], label="none", url=province_db, workers=0)
    assert report.loc[0, "status"] == "failed"
    assert "build-grids --publish" in report.loc[0, "error"]
    rows = province_store.read_results(get_engine(province_db), label="none", task="hotspots")
    assert rows.empty
