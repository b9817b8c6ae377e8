"""``wangge info``: each county's four levels, households and residents, beside the report of
the seed profile it was generated from, readable in 80 columns."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.cells import cell_len
from typer.testing import CliRunner

from geo import auth, settings
from geo.cli import app
from geo.db import io
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.levels import LEVELS, MARK_DIFFERS, MARK_SAME
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db
runner = CliRunner()
WIDTH = {"COLUMNS": "80"}


@pytest.fixture
def env(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database of its own in DATABASE_URL: the CLI commits what it writes."""
    with scratch_database(server_url, "cli_info") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


def _info() -> list[str]:
    """The lines ``wangge info`` prints in an 80-column terminal (checked to fit)."""
    result = runner.invoke(app, ["info"], env=WIDTH)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    too_wide = [ln for ln in lines if cell_len(ln) > 80]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in result.output  # nothing cut
    return lines


def _row(lines: list[str], label: str) -> list[str]:
    """The cells of the table row whose level is ``label``, without the label."""
    found = [ln for ln in lines if label in ln]
    assert len(found) == 1, "\n".join(lines)
    return [c.strip() for c in found[0].replace(label, "").split("│") if c.strip()]


def test_info_without_a_seed_profile_shows_the_levels_and_no_report(env: str) -> None:
    with get_engine(env).begin() as conn:
        io.write_county(conn, tiny_county())
    lines = _info()
    text = "\n".join(lines)
    assert "测试县 999999" in text
    assert "not from a seed profile" in text
    assert "report" not in text
    figures = [_row(lines, label) for _, label in LEVELS]
    assert figures == [["2"], ["2"], ["3"], ["–"], ["6"], ["24"]]


@pytest.fixture
def profiles_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A profiles folder holding a copy of ``small`` (the test edits its figures)."""
    for name in ("_platforms.yaml", "small.yaml"):
        shutil.copy(Path(settings.PROFILES_DIR) / name, tmp_path / name)
    monkeypatch.setattr(settings, "PROFILES_DIR", tmp_path)
    return tmp_path


def _edit_profile(folder: Path, **figures: int) -> None:
    path = folder / "small.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, **figures}, allow_unicode=True), encoding="utf-8")


def test_info_puts_the_report_beside_the_database_and_marks_differences(
    env: str, profiles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["synth", "--profile", "small", "--seed", "7"]).exit_code == 0
    lines = _info()
    assert "report" in "\n".join(lines)
    same = [
        ["3", "3", MARK_SAME],
        ["6", "6", MARK_SAME],
        ["40", "40", MARK_SAME],
        ["–", "–"],  # no published plan, and small's profile gives no cell count
        ["1,200", "1,200", MARK_SAME],
        ["3,000", "3,000", MARK_SAME],
    ]
    assert [_row(lines, label) for _, label in LEVELS] == same

    password = "a long enough password"
    with get_engine(env).begin() as conn:
        auth.add_user(conn, "pia", role="planner", password=password)
    monkeypatch.setenv("WANGGE_USER", "pia")
    monkeypatch.setenv("WANGGE_PASSWORD", password)
    built = runner.invoke(app, ["grids", "build", "--plan", "p"])
    assert built.exit_code == 0, built.output
    assert runner.invoke(app, ["grids", "publish", "p"]).exit_code == 0
    with get_engine(env).connect() as conn:
        cells = int(io.counts_by_level(conn).iloc[0]["cells"])
    report_cells = 30 if cells != 30 else 29
    _edit_profile(profiles_dir, cells=report_cells, residents=3001)
    lines = _info()
    rows = {key: _row(lines, label) for key, label in LEVELS}
    assert rows["cells"] == [f"{cells:,}", str(report_cells), MARK_DIFFERS]
    assert rows["residents"] == ["3,000", "3,001", MARK_DIFFERS]
    assert rows["households"] == ["1,200", "1,200", MARK_SAME]
