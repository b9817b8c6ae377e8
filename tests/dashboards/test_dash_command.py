"""``wangge dash``: loopback by default, ``--host`` to expose, and no system scope handed to
the dashboards (their pages take the scope of the user who logs in)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from geo.cli import _main, app

pytestmark = pytest.mark.db
runner = CliRunner()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, db_url: str) -> list[tuple[list[str], dict]]:
    calls: list[tuple[list[str], dict]] = []

    def call(command: list[str], env: dict) -> int:
        calls.append((command, env))
        return 0

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WANGGE_SCOPE", "")  # restored (unset) after the CLI sets '*'
    monkeypatch.setattr(_main.subprocess, "call", call)
    return calls


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_dash_binds_to_loopback_without_the_clis_scope(started) -> None:
    result = runner.invoke(app, ["dash"])
    assert result.exit_code == 0, result.output
    ((command, env),) = started
    assert _option(command, "--server.address") == "127.0.0.1"
    assert "WANGGE_SCOPE" not in env  # opening the database set '*' for the CLI itself


def test_dash_host_exposes_it(started) -> None:
    result = runner.invoke(app, ["dash", "--host", "0.0.0.0", "--port", "8600"])
    assert result.exit_code == 0, result.output
    ((command, _),) = started
    assert _option(command, "--server.address") == "0.0.0.0"
    assert _option(command, "--server.port") == "8600"
