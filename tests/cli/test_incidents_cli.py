"""The ``incidents`` sub-app, driven with Typer's CliRunner against the test database."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from geo import incidents
from geo.cli._incidents import app
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db
runner = CliRunner()
COUNTY = "999998"


@pytest.fixture
def env(server_url, monkeypatch):
    """A database of its own: the CLI commits, and platforms must not leak to other tests."""
    with scratch_database(server_url, "incidents_cli", county=tiny_county(COUNTY)) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        with get_engine(url).begin() as conn:
            incidents.sync_platforms(conn, "small")
        yield


def test_report_move_history(env, tmp_path):
    hh = f"{COUNTY}1010010010001"
    args = ["report", "cli-1", "--category", "fire", "--source", "whistle", "--actor", "W1",
            "--household", hh, "--at", "2026-03-02T08:00+08:00"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "created" in first.output
    again = runner.invoke(app, args)
    assert "already known" in again.output
    incident_id = int(re.search(r"incident (\d+) created", first.output).group(1))
    ok = runner.invoke(app, ["move", str(incident_id), "accepted", "--actor", "t", "--role",
                             "township"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "reported -> accepted" in ok.output
    refused = runner.invoke(app, ["move", str(incident_id), "closed", "--actor", "t", "--role",
                                  "township"])  # fmt: skip
    assert refused.exit_code == 1
    assert "TransitionError" in refused.output
    assert "may move to: dispatched, escalated" in refused.output
    shown = runner.invoke(app, ["history", str(incident_id)])
    assert shown.exit_code == 0
    assert "accepted" in shown.output


def test_load_csv_and_json(env, tmp_path):
    hh = f"{COUNTY}1010010010001"
    csv = tmp_path / "in.csv"
    csv.write_text(
        "client_key,category_code,source,reported_at,household_code,actor\n"
        f"cli-a,dispute,resident,2026-03-02T08:00+08:00,{hh},R1\n"
        f"cli-b,flood,whistle,2026-03-02T09:00+08:00,{hh},W1\n",
        encoding="utf-8",
    )
    done = runner.invoke(app, ["load", str(csv)])
    assert done.exit_code == 0, done.output
    assert "2 new incidents" in done.output
    rows = [{"client_key": "cli-b", "category_code": "flood", "source": "whistle",
             "reported_at": "2026-03-02T09:00+08:00", "household_code": hh},
            {"client_key": "cli-c", "category_code": "fire", "source": "video_alert",
             "reported_at": "2026-03-02T10:00+08:00", "household_code": hh}]  # fmt: skip
    js = tmp_path / "in.json"
    js.write_text(json.dumps(rows), encoding="utf-8")
    done = runner.invoke(app, ["load", str(js)])
    assert "1 new incidents, 1 known" in done.output
    bad = tmp_path / "bad.csv"
    header = "client_key,category_code,source,reported_at,household_code\n"
    bad.write_text(f"{header}cli-x,alien,whistle,2026-03-02T08:00+08:00,{hh}\n", encoding="utf-8")
    failed = runner.invoke(app, ["load", str(bad)])
    assert failed.exit_code == 1
    assert "unknown incident category 'alien'" in failed.output
