"""The ``wangge`` command line, run as a user would, against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from geo.cli import app
from geo.db import io
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.profiles import load_profile

pytestmark = pytest.mark.db
runner = CliRunner()


@pytest.fixture
def env(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database of its own in DATABASE_URL: the CLI commits what it writes."""
    with scratch_database(server_url, "cli_env") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


def test_db_up_with_database_url_provisions_nothing(env: str) -> None:
    result = runner.invoke(app, ["db", "up"])
    assert result.exit_code == 0, result.output
    assert "provisioning nothing" in result.output
    assert "database ready" in result.output


def test_info_on_an_empty_database_says_what_to_do(env: str) -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0
    assert "wangge synth" in result.output


def test_unreachable_database_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "Traceback" not in result.output


def test_unmigrated_database_says_to_run_db_up_and_is_left_alone(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_database(server_url, "unmigrated", migrated=False) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = runner.invoke(app, ["info"])
        assert result.exit_code == 1
        assert "wangge db up" in result.output
        with get_engine(url).connect() as conn:  # nothing was migrated behind its back
            assert conn.execute(text("SELECT to_regclass('household')")).scalar_one() is None


def test_unknown_profile_is_one_line_and_lists_the_profiles(env: str) -> None:
    result = runner.invoke(app, ["synth", "--profile", "atlantis"])
    assert result.exit_code == 1
    assert "atlantis" in result.output
    assert "yanchi" in result.output


def test_reset_refuses_a_database_url(env: str) -> None:
    result = runner.invoke(app, ["db", "reset", "--yes"])
    assert result.exit_code == 1
    assert "DATABASE_URL" in result.output


@pytest.fixture
def fresh_db(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database of its own (the CLI commits what it writes)."""
    with scratch_database(server_url, "cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


def test_synth_small_migrates_writes_and_keeps_on_second_run(fresh_db: str) -> None:
    first = runner.invoke(app, ["synth", "--profile", "small", "--seed", "7"])
    assert first.exit_code == 0, first.output
    profile = load_profile("small")
    with get_engine(fresh_db).connect() as conn:
        counts = io.counts_by_level(conn).iloc[0]
    assert counts.households == profile.households
    assert counts.residents == profile.residents
    assert counts.natural_units == profile.natural_units
    second = runner.invoke(app, ["synth", "--profile", "small"])
    assert second.exit_code == 0
    assert "already in the database" in second.output
    third = runner.invoke(app, ["synth", "--profile", "small", "--seed", "8", "--replace"])
    assert third.exit_code == 0, third.output
    with get_engine(fresh_db).connect() as conn:
        assert io.counts_by_level(conn).iloc[0].households == profile.households


@pytest.mark.slow
def test_demo_sets_up_county_plan_and_incidents_then_keeps_them(fresh_db: str) -> None:
    first = runner.invoke(app, ["demo", "--profile", "small", "--months", "1"])
    assert first.exit_code == 0, first.output
    with get_engine(fresh_db).connect() as conn:
        plans = conn.execute(text("SELECT status, count(*) FROM grid_plan GROUP BY 1")).all()
        placed = conn.execute(
            text("SELECT count(*), count(cell_code) FROM incident WHERE client_key LIKE 'demo-%'")
        ).one()
    assert plans == [("published", 1)]
    assert placed[0] > 0
    assert placed[1] > 0.8 * placed[0]  # most incidents fall in a cell of the published plan
    assert "grid workers (one per cell of the published plan)" in first.output
    with get_engine(fresh_db).connect() as conn:
        roles = conn.execute(text("SELECT role FROM app_user ORDER BY role")).scalars().all()
    assert roles == ["admin", "analyst", "centre", "planner", "township", "wall"]
    assert "demo-wall" in first.output  # the accounts and their passwords, shown once
    filled = (
        "household_colour_event", "grid_worker", "visit", "service_point", "incident_event",
    )  # fmt: skip

    def counts() -> dict[str, int]:
        with get_engine(fresh_db).connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in filled}

    before = counts()
    assert min(before.values()) > 0, before
    with get_engine(fresh_db).connect() as conn:
        per_cell = conn.execute(
            text(
                "SELECT count(w.code) FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id "
                "AND p.status = 'published' LEFT JOIN grid_worker w "
                "ON w.plan_id = c.plan_id AND w.cell_code = c.code GROUP BY c.code"
            )
        ).scalars()
        assert set(per_cell) == {1}  # exactly one worker in every cell
    again = runner.invoke(app, ["demo", "--profile", "small", "--months", "1"])
    assert again.exit_code == 0, again.output
    assert "keeping" in again.output
    with get_engine(fresh_db).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM grid_plan")).scalar_one() == 1
    assert counts() == before


@pytest.mark.slow
def test_export_hotspots_and_heatmap_of_the_demo(fresh_db: str, tmp_path) -> None:
    assert runner.invoke(app, ["demo", "--profile", "small", "--months", "2"]).exit_code == 0
    hot = runner.invoke(app, ["export", "hotspots", str(tmp_path / "hot.gpkg"), "--days", "90"])
    assert hot.exit_code == 0, hot.output
    frame = gpd.read_file(tmp_path / "hot.gpkg", layer="hotspots")
    assert {"h3", "count", "gi_z", "gi_q", "gi_bin"} <= set(frame.columns)
    assert frame["gi_bin"].between(-3, 3).all()
    assert frame.crs.to_epsg() == 4326
    heat = runner.invoke(app, ["export", "heatmap", str(tmp_path / "heat.geojson")])
    assert heat.exit_code == 0, heat.output
    density = gpd.read_file(tmp_path / "heat.geojson")
    shown = density.loc[~density["suppressed"].astype(bool), "count"]
    assert (shown >= 5).all()  # small counts never leave the database unblanked
    assert density.loc[density["suppressed"].astype(bool), "count"].isna().all()
