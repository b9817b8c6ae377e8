"""``wangge incidents ...``: take in, move and show incidents from the command line.

    wangge incidents platforms [--profile small]
    wangge incidents report KEY --category fire --source whistle --lon .. --lat .. --actor W1
    wangge incidents load FILE.csv|FILE.json [--actor NAME]
    wangge incidents move ID STATUS --actor NAME --role ROLE [--note ..] [--satisfaction N]
    wangge incidents history ID

Registered in ``geo/cli/_main.py`` with ``app.add_typer(incidents_app, name="incidents")``.
A load file has one row per report: ``client_key, category_code, source, reported_at`` (ISO
8601 with a UTC offset), ``lon, lat`` (EPSG:4326) or ``household_code``, optionally
``description, actor, role``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from geo import incidents
from geo.cli._common import engine, one_line_errors, start_invocation
from geo.errors import DataError

app = typer.Typer(
    help="Incidents: intake, moves, history.", no_args_is_help=True, callback=start_invocation
)
out = Console()


@app.command("platforms")
def platforms(profile: str = typer.Option("small", help="Profile to read platforms from.")) -> None:
    """Load the platforms and incident categories of a profile (upsert)."""
    with one_line_errors(), engine().begin() as conn:
        done = incidents.sync_platforms(conn, profile)
        out.print(f"{done['platforms']} platforms, {done['categories']} categories")


@app.command("report")
def report(
    key: str,
    category: str = typer.Option(..., help="Incident category code."),
    source: str = typer.Option(..., help=f"One of: {', '.join(incidents.INCIDENT_SOURCES)}."),
    actor: str = typer.Option(..., help="Who reports (worker code, operator)."),
    lon: float | None = typer.Option(None, help="Longitude, EPSG:4326."),
    lat: float | None = typer.Option(None, help="Latitude, EPSG:4326."),
    household: str | None = typer.Option(None, help="Household code."),
    at: str | None = typer.Option(None, help="Time of the report, ISO 8601 with offset."),
    description: str | None = typer.Option(None),
) -> None:
    """Take in one incident (idempotent: the same KEY again changes nothing)."""
    with one_line_errors():
        point = (lon, lat) if lon is not None and lat is not None else None
        when = datetime.fromisoformat(at) if at else None
        made = incidents.with_retries(
            engine(), incidents.report, key, category=category, source=source, point=point,
            household=household, reported_at=when, description=description, actor=actor,
        )  # fmt: skip
        out.print(f"incident {made.id} {'created' if made.created else 'already known'}")


def read_reports(path: Path) -> pd.DataFrame:
    """A CSV or JSON (list of objects, or JSON lines) file of reports as a DataFrame."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype={"client_key": str, "household_code": str})
    elif path.suffix.lower() in (".json", ".jsonl"):
        raw = path.read_text(encoding="utf-8").strip()
        rows = json.loads(raw) if raw.startswith("[") else [json.loads(x) for x in raw.splitlines()]
        frame = pd.DataFrame(rows)
    else:
        raise DataError(f"{path}: expected a .csv, .json or .jsonl file")
    if "household_code" not in frame.columns and not {"lon", "lat"} <= set(frame.columns):
        raise DataError(f"{path}: needs lon/lat columns or household_code")
    for column in ("lon", "lat"):
        if column not in frame.columns:
            frame[column] = float("nan")
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], format="ISO8601", utc=False)
    return frame


@app.command("load")
def load(
    path: Path,
    actor: str = typer.Option("intake", help="Reporter for rows without an actor."),
) -> None:
    """Take in a CSV/JSON file of incidents in one transaction (idempotent by client_key)."""
    with one_line_errors():
        frame = read_reports(path)
        done = incidents.with_retries(engine(), incidents.intake, frame, actor=actor)
        created = int(done["created"].sum())
        out.print(f"{len(done)} rows: {created} new incidents, {len(done) - created} known")


@app.command("move")
def move(
    incident_id: int,
    status: str,
    actor: str = typer.Option(..., help="Who makes the move."),
    role: str = typer.Option(..., help=f"One of: {', '.join(incidents.ROLES)}."),
    note: str | None = typer.Option(None),
    platform: str | None = typer.Option(None, help="Platform, when dispatching."),
    category: str | None = typer.Option(None, help="New category, when re-dispatching."),
    satisfaction: int | None = typer.Option(None, help="1..5, with fed_back."),
) -> None:
    """Move an incident to STATUS (refused with the allowed moves if the rules forbid it)."""
    with one_line_errors():
        event = incidents.with_retries(
            engine(), incidents.transition, incident_id, status, actor=actor, role=role,
            note=note, platform=platform, category=category, satisfaction=satisfaction,
        )  # fmt: skip
        out.print(f"incident {incident_id}: {event.from_status} -> {event.to_status}")


@app.command("history")
def history(incident_id: int) -> None:
    """Show the events of an incident, oldest first."""
    with one_line_errors():
        frame = incidents.history(engine(), incident_id)
        if frame.empty:
            raise DataError(f"no incident with id {incident_id}")
        table = Table("at", "from", "to", "actor", "role", "note")
        for r in frame.itertuples():
            cells = (r.at, r.from_status, r.to_status, r.actor, r.role, r.note)
            table.add_row(*("" if pd.isna(v) else str(v) for v in cells))
        out.print(table)
