"""`wangge load` and `wangge export plan` via CliRunner, on a database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from geo.cli._io import app
from geo.db import io
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.county import tiny_county
from tests._fixtures.load_files import NU1, households
from tests._fixtures.plans import one_cell_plan

runner = CliRunner()


@pytest.fixture(scope="module")
def cli_db(server_url: str) -> Iterator[str]:
    """A migrated database with the tiny county's admin units (the CLI commits)."""
    with scratch_database(server_url, "cli_io") as url:
        c = tiny_county()
        with get_engine(url).begin() as conn:
            for level in ("county", "township", "village", "natural_unit"):
                io.copy_frame(conn, io.admin_rows(c.level(level), level), "admin_unit")
        yield url


@pytest.fixture
def db(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", cli_db)
    with get_engine(cli_db).begin() as conn:
        conn.execute(text("DELETE FROM household; DELETE FROM quarantine; DELETE FROM grid_plan"))
    return cli_db


def _count(url: str, table: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_load_prints_a_summary_and_exits_0(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hh.gpkg"
    households().to_file(path)
    result = runner.invoke(app, ["load", "households", str(path)])
    assert result.exit_code == 0, result.output
    assert "hh.gpkg (households): 3 rows -> 3 loaded (0 repaired), 0 quarantined" in result.output
    assert _count(db, "household") == 3


def test_quarantine_exits_1_unless_allowed(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hh.gpkg"
    households([("h1", NU1, 150, 150, 3), ("h1", NU1, 200, 150, 4)]).to_file(path)
    result = runner.invoke(app, ["load", "households", str(path)])
    assert result.exit_code == 1
    assert "duplicate_code: 1 rows (e.g. row 2, code: code h1 repeats row 1)" in result.output
    assert "1 rows quarantined" in result.output
    assert "--allow-quarantine" in result.output
    assert _count(db, "quarantine") == 1
    result = runner.invoke(app, ["load", "households", str(path), "--allow-quarantine"])
    assert result.exit_code == 0
    assert _count(db, "household") == 1


def test_column_mapping_option(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hh.csv"
    frame = households().rename(columns={"code": "hh_id"})
    frame["wkt"] = frame.geometry.to_wkt()
    frame.drop(columns="geometry").to_csv(path, index=False)
    result = runner.invoke(app, ["load", "households", str(path), "--map", "hh_id=code"])
    assert result.exit_code == 0, result.output
    assert _count(db, "household") == 3
    bad = runner.invoke(app, ["load", "households", str(path), "--map", "hh_id"])
    assert bad.exit_code == 1
    assert "--map 'hh_id' is not OLD=NEW" in bad.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.gpkg", b"", "empty.gpkg: the file is empty (0 bytes)"),
        ("cut.geojson", b'{"type": "Feature', "cut.geojson: not valid JSON"),
        ("roads.dwg", b"AC1032", "roads.dwg: unknown format '.dwg'"),
    ],
)
def test_unreadable_file_is_one_line(
    db: str, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(app, ["load", "households", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    # One message (rich soft-wraps it at CliRunner's 80 columns), and nothing before it:
    # the file is read before the database is even looked up.
    assert result.output.startswith("error: DataError: ")
    assert message in result.output.replace("\n", "")
    assert result.output.count("error:") == 1


def test_check_only_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    path = tmp_path / "sp.csv"
    path.write_text("code,kind,name,lon,lat\nsp1,clinic,卫生室,106.14,37.76\n", encoding="utf-8")
    result = runner.invoke(app, ["load", "service_points", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "1 loaded" in result.output


def test_export_plan(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hh.gpkg"
    households().to_file(path)
    assert runner.invoke(app, ["load", "households", str(path)]).exit_code == 0
    with get_engine(db).begin() as conn:
        plan_id = one_cell_plan(conn)
    out = tmp_path / "plan.gpkg"
    result = runner.invoke(app, ["export", "plan", str(plan_id), str(out)])
    assert result.exit_code == 0, result.output
    assert pyogrio.list_layers(out)[:, 0].tolist() == ["cells"]
    result = runner.invoke(app, ["export", "plan", str(plan_id), str(out), "--households"])
    assert sorted(pyogrio.list_layers(out)[:, 0]) == ["cells", "households"]
    missing = runner.invoke(app, ["export", "plan", "999999", str(out)])
    assert missing.exit_code == 1
    assert "no plan with id 999999" in missing.output
    # by name, as `wangge grids` commands take it
    by_name = tmp_path / "by-name.geojson"
    result = runner.invoke(app, ["export", "plan", "试点方案", str(by_name)])
    assert result.exit_code == 0, result.output
    assert by_name.exists()
    for ref in (f"#{plan_id}", f"id:{plan_id}"):
        assert runner.invoke(app, ["export", "plan", ref, str(out)]).exit_code == 0
    ghost = runner.invoke(app, ["export", "plan", "ghost", str(out)])
    assert ghost.exit_code == 1
    assert "no plan 'ghost'" in ghost.output
