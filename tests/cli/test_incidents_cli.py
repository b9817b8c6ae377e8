"""The ``incidents`` sub-app, driven with Typer's CliRunner against the test database."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from geo import auth, incidents
from geo.cli._incidents import app
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db
runner = CliRunner()
COUNTY = "999998"


PASSWORD = "a long enough password"


@pytest.fixture
def env(server_url, monkeypatch):
    """A database of its own (the CLI commits, and platforms must not leak to other tests)
    with accounts: li.wei (township 101), chen (township 102), ops (centre), ana (analyst),
    all with :data:`PASSWORD` (``WANGGE_PASSWORD``).  Yields the superuser's URL."""
    with scratch_database(server_url, "incidents_cli", county=tiny_county(COUNTY)) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("WANGGE_PASSWORD", PASSWORD)
        monkeypatch.delenv("WANGGE_USER", raising=False)
        with get_engine(url).begin() as conn:
            incidents.sync_platforms(conn, "small")
            for login, role, township in (
                ("li.wei", "township", f"{COUNTY}101"),
                ("chen", "township", f"{COUNTY}102"),
                ("ops", "centre", None),
                ("ana", "analyst", None),
            ):
                auth.add_user(conn, login, role=role, township_code=township, password=PASSWORD)
        yield url  # fmt: skip


def _report(household: str, key: str) -> int:
    args = ["report", key, "--category", "fire", "--source", "whistle", "--actor", "W1",
            "--household", household]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    return int(re.search(r"incident (\d+)", done.output).group(1))


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
    ok = runner.invoke(app, ["move", str(incident_id), "accepted", "--user", "li.wei"])
    assert ok.exit_code == 0, ok.output
    assert "reported -> accepted" in ok.output
    refused = runner.invoke(app, ["move", str(incident_id), "closed", "--user", "li.wei"])
    assert refused.exit_code == 1
    assert "TransitionError" in refused.output
    assert "may move to: dispatched, escalated" in refused.output
    shown = runner.invoke(app, ["history", str(incident_id)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "accepted" in shown.output
    assert "li.wei" in shown.output  # the actor is the account, not a flag


def test_the_actor_is_the_logged_in_account(env, monkeypatch):
    incident_id = _report(f"{COUNTY}1010010010001", "cli-actor")
    monkeypatch.setenv("WANGGE_USER", "ops")  # the environment names the account too
    ok = runner.invoke(app, ["move", str(incident_id), "accepted"])
    assert ok.exit_code == 0, ok.output
    as_department = runner.invoke(app, ["move", str(incident_id), "dispatched"])
    assert as_department.exit_code == 0, as_department.output
    moved = runner.invoke(app, ["move", str(incident_id), "in_progress", "--role", "department"])
    assert moved.exit_code == 0, moved.output
    with get_engine(env).connect() as conn:
        events = conn.execute(
            text("SELECT actor, role FROM incident_event WHERE incident_id = :i AND "
                 "to_status <> 'reported' ORDER BY id"), {"i": incident_id},
        ).all()  # fmt: skip
    assert [tuple(e) for e in events] == [
        ("ops", "centre"), ("ops", "centre"), ("ops", "department"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--user", "li.wei", "--role", "centre"], "may move cases as township only"),
        (["--user", "ana"], "has the role analyst; this command needs one of"),
        ([], "say who acts: --user LOGIN or WANGGE_USER"),
        (["--user", "nobody"], "nobody: wrong login or password"),
        (["--actor", "li.wei"], "No such option: --actor"),
    ],
)
def test_moves_are_refused_without_a_fitting_account(env, args, says):
    incident_id = _report(f"{COUNTY}1010010010001", "cli-refused")
    refused = runner.invoke(app, ["move", str(incident_id), "accepted", *args])
    assert refused.exit_code != 0
    assert says in refused.output
    assert "Traceback" not in refused.output


def test_a_wrong_password_is_refused_and_prompted_when_not_in_the_environment(env, monkeypatch):
    incident_id = _report(f"{COUNTY}1010010010001", "cli-password")
    monkeypatch.delenv("WANGGE_PASSWORD")
    wrong = runner.invoke(app, ["move", str(incident_id), "accepted", "--user", "li.wei"],
                          input="not the password\n")  # fmt: skip
    assert wrong.exit_code == 1
    assert "li.wei: wrong login or password" in wrong.output
    typed = runner.invoke(app, ["move", str(incident_id), "accepted", "--user", "li.wei"],
                          input=f"{PASSWORD}\n")  # fmt: skip
    assert typed.exit_code == 0, typed.output
    assert PASSWORD not in typed.output  # the prompt hides it


def test_a_township_account_moves_only_its_townships_incidents(env, monkeypatch):
    """Through the app's login (row-level security applies): chen of township 102 cannot
    see, let alone move, an incident of township 101."""
    incident_id = _report(f"{COUNTY}1010010010001", "cli-scope")
    app_url = make_url(env).set(username="wangge_app", password=None)
    monkeypatch.setenv("DATABASE_URL", app_url.render_as_string(hide_password=False))
    monkeypatch.delenv("WANGGE_ALLOW_SUPERUSER", raising=False)
    other = runner.invoke(app, ["move", str(incident_id), "accepted", "--user", "chen"])
    assert other.exit_code == 1
    assert f"no incident {incident_id}" in other.output.replace("with id ", "")
    own = runner.invoke(app, ["move", str(incident_id), "accepted", "--user", "li.wei"])
    assert own.exit_code == 0, own.output


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
