"""``wangge grids``: build, check, diff, publish, list on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from geo.cli._grids import app
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.synth import generate_county

pytestmark = pytest.mark.db
runner = CliRunner()


@pytest.fixture(scope="module")
def county_db(server_url: str) -> Iterator[str]:
    """A migrated database holding the "small" county (the CLI commits what it writes)."""
    with scratch_database(server_url, "cli_grids", county=generate_county("small", seed=2)) as url:
        yield url


@pytest.fixture
def env(county_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", county_db)
    return county_db


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _fails(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("· ")]  # progress remarks
    assert lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    return " ".join(line.strip() for line in lines)  # one line, wrapped by the terminal


def test_build_check_rebuild_diff_publish_list(env: str) -> None:
    built = _ok(["build", "--plan", "spring", "--by", "ana"])
    assert "plan 'spring'" in built
    assert "1,200 households in 6 villages" in built
    assert "100.0% within bounds" in built

    checked = _ok(["check", "spring"])
    assert "no rule violations" in checked
    assert "publishable" in checked

    _ok(["build", "--plan", "autumn"])
    with get_engine(env).connect() as conn:
        village = conn.execute(
            text("SELECT min(village_code) FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id "
                 "WHERE p.name = 'autumn'")
        ).scalar_one()  # fmt: skip
    rebuilt = _ok(["build", "--plan", "autumn", "--village", village, "--min", "10", "--max", "20"])
    assert f"version 2: village {village} rebuilt" in rebuilt

    diffed = _ok(["diff", "spring", "autumn"])
    assert "households moved" in diffed
    assert "cells added" in diffed
    assert "share within bounds" in diffed.replace("_", " ")

    assert "published 'spring'" in _ok(["publish", "spring"])
    second = _ok(["publish", "autumn", "--by", "chief"])
    assert "published 'autumn'" in second
    assert "archived 'spring'" in second

    listed = _ok(["list"])
    for word in ("spring", "autumn", "archived", "published", "100.0%"):
        assert word in listed
    with get_engine(env).connect() as conn:
        statuses = dict(conn.execute(text("SELECT name, status FROM grid_plan")).all())
    assert statuses == {"spring": "archived", "autumn": "published"}


def test_ignore_natural_units_builds_more_compact_cells_and_is_stored(env: str) -> None:
    kept = _ok(["build", "--plan", "units-kept"])
    ignored = _ok(["build", "--plan", "units-ignored", "--ignore-natural-units"])
    assert "(ignored)" in ignored
    assert "(ignored)" not in kept
    with get_engine(env).connect() as conn:
        rows = conn.execute(
            text("SELECT name, params->>'keep_natural_units', (metrics->>'mean_pp')::float, "
                 "(metrics->>'natural_units_split')::int FROM grid_plan "
                 "WHERE name LIKE 'units-%'")
        ).all()  # fmt: skip
    got = {name: (keep, pp, split) for name, keep, pp, split in rows}
    assert got["units-kept"][0] == "true"
    assert got["units-ignored"][0] == "false"
    assert got["units-ignored"][1] > got["units-kept"][1]  # more compact
    assert got["units-ignored"][2] > got["units-kept"][2]  # at the cost of split units
    refused = _fails(["build", "--plan", "units-kept", "--village", "1", "--ignore-natural-units"])
    assert "applies to a new plan" in refused


def test_errors_are_one_line_and_exit_1(env: str) -> None:
    assert "no plan 'ghost'" in _fails(["check", "ghost"])
    assert "no plan 'ghost'" in _fails(["build", "--plan", "ghost", "--village", "1"])
    _ok(["build", "--plan", "twice"])
    assert "already has a plan named 'twice'" in _fails(["build", "--plan", "twice"])
    assert "need 1 <= min_size <= max_size" in _fails(["build", "--plan", "bad", "--min", "60"])
    assert "no county 123456" in _fails(["build", "--plan", "x", "--county", "123456"])


def test_publish_of_a_broken_plan_names_the_household(env: str) -> None:
    _ok(["build", "--plan", "broken"])
    with get_engine(env).begin() as conn:
        victim = conn.execute(
            text(
                "DELETE FROM cell_assignment a USING grid_plan p WHERE p.id = a.plan_id "
                "AND p.name = 'broken' AND a.household_code = (SELECT min(household_code) "
                "FROM cell_assignment) RETURNING a.household_code"
            )
        ).scalar_one()
    line = _fails(["publish", "broken"])
    assert "cannot be published" in line
    assert victim in line
    assert "cannot be published" in _ok(["check", "broken"])
