"""``wangge incidents ...``: take in, move and show incidents from the command line.

    wangge incidents platforms [--profile small]
    wangge incidents report KEY --category fire --source whistle --lon .. --lat .. --actor W1
    wangge incidents load FILE.csv|FILE.json [--actor NAME]
    wangge incidents move ID STATUS [--user LOGIN] [--role ROLE] [--note ..] [--satisfaction N]
    wangge incidents history ID

Registered in ``geo/cli/_main.py`` with ``app.add_typer(incidents_app, name="incidents")``.
A load file has one row per report: ``client_key, category_code, source, reported_at`` (ISO
8601; without an offset the county's local time), ``lon, lat`` (EPSG:4326) or
``household_code``, optionally ``description, actor, role``.  User text (notes, actors,
names) is printed as text, never as Rich markup.

``move`` acts as an account (``app_user``): ``--user`` or ``WANGGE_USER``, its password from
``WANGGE_PASSWORD`` or a prompt (:func:`geo.cli._common.acting_user`); the account's login is
recorded as the actor, its role decides the incident roles it may move as
(:data:`MOVES_AS`), and row-level security its incidents.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from geo import auth, incidents
from geo.cli._common import acting_user, engine, err, one_line_errors, start_invocation
from geo.errors import ConfigError, DataError

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
    at: str | None = typer.Option(
        None, help="Time of the report, ISO 8601; without an offset it is the county's time."
    ),
    description: str | None = typer.Option(None),
) -> None:
    """Take in one incident (idempotent: the same KEY again changes nothing)."""
    with one_line_errors():
        if (lon is None) != (lat is None):
            raise DataError("give both --lon and --lat, or neither")
        point = (lon, lat) if lon is not None and lat is not None else None
        when = _parse_at(at) if at else None
        made = incidents.with_retries(
            engine(), incidents.report, key, category=category, source=source, point=point,
            household=household, reported_at=when, description=description, actor=actor,
        )  # fmt: skip
        out.print(f"incident {made.id} {'created' if made.created else 'already known'}")


def _parse_at(text: str) -> datetime:
    """``--at`` as a datetime (naive: the county's local time); :class:`DataError` if bad."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataError(
            f"--at {text!r} is not a date and time; write ISO 8601, e.g. "
            "2026-03-02T08:00+08:00 (without an offset: the county's local time)"
        ) from None


def read_reports(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """A CSV, JSON (a list of objects) or JSON-lines file of reports, and each row's line.

    Values are kept as written (times as text: :func:`geo.incidents.intake` parses and
    checks them); the line numbers are the file's own (a CSV header is line 1).

    Raises
    ------
    DataError
        If the file is missing, empty, binary, not UTF-8/GB18030 text, not valid CSV or JSON
        (the message names the line), or lacks the columns a report needs.
    """
    name = path.name
    if not path.exists():
        raise DataError(f"{name}: file not found")
    if path.is_dir():
        raise DataError(f"{name}: is a directory, not a file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".jsonl"):
        raise DataError(f"{name}: expected a .csv, .json or .jsonl file")
    text = _text(path)
    if suffix == ".csv":
        records, lines = _csv_records(text, name)
    else:
        records, lines = _json_records(text, name)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    missing = [c for c in incidents.INTAKE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: no column {', '.join(missing)}; a report needs "
            f"{', '.join(incidents.INTAKE_COLUMNS)} and lon/lat or household_code"
        )
    if "household_code" not in frame.columns and not {"lon", "lat"} <= set(frame.columns):
        raise DataError(f"{name}: needs lon/lat columns or household_code")
    for column in ("lon", "lat"):
        if column not in frame.columns:
            frame[column] = None
    return frame, lines


def _text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path.name}: the file is empty")
    if b"\x00" in data[:65536]:
        raise DataError(f"{path.name}: a binary file, not CSV or JSON text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path.name}: not UTF-8 or GB18030 text")  # pragma: no cover


def _csv_records(text: str, name: str) -> tuple[list[dict], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        if not any(header):
            raise DataError(f"{name}: line 1: the header is empty")
        records, lines, start = [], [], reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                if len(row) != len(header):
                    raise DataError(
                        f"{name}: line {start}: {len(row)} fields where the header has "
                        f"{len(header)}"
                    )
                records.append({h: (v if v.strip() else None) for h, v in zip(header, row,
                                strict=True)})  # fmt: skip
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{name}: line {reader.line_num}: not valid CSV ({exc})") from None
    return records, lines


def _json_records(text: str, name: str) -> tuple[list[dict], list[int]]:
    """Records of a JSON array (each with the line it starts on) or of JSON lines."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    records, lines = [], []
    if stripped.startswith("["):
        pos = len(text) - len(stripped) + 1
        while True:
            pos = _skip(text, pos)
            if pos < len(text) and text[pos] == "]" and not records:
                pos += 1
                break
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise _json_error(name, exc) from None
            records.append(_record(value, name, text.count("\n", 0, pos) + 1))
            lines.append(text.count("\n", 0, pos) + 1)
            pos = _skip(text, end)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            line = text.count("\n", 0, pos) + 1
            raise DataError(f"{name}: line {line}: not valid JSON (expected ',' or ']'); "
                            "is the file truncated?")  # fmt: skip
        if _skip(text, pos) < len(text):
            line = text.count("\n", 0, _skip(text, pos)) + 1
            raise DataError(f"{name}: line {line}: not valid JSON (extra data after the list)")
        return records, lines
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{name}: line {number}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        records.append(_record(value, name, number))
        lines.append(number)
    return records, lines


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _record(value: object, name: str, line: int) -> dict:
    if not isinstance(value, dict):
        raise DataError(
            f"{name}: line {line}: a report must be a JSON object, not {type(value).__name__}"
        )
    return value


def _json_error(name: str, exc: json.JSONDecodeError) -> DataError:
    return DataError(
        f"{name}: line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}); "
        "is the file truncated?"
    )


@app.command("load")
def load(
    path: Path,
    actor: str = typer.Option("intake", help="Reporter for rows without an actor."),
    allow_quarantine: bool = typer.Option(
        False, "--allow-quarantine", help="Exit 0 even if rows were quarantined."
    ),
) -> None:
    """Take in a CSV/JSON file of incidents in one transaction (idempotent by client_key).

    Rows with an empty key, an implausible or unreadable time, bad coordinates or no place
    are quarantined (with the file's line number); exits 1 then, unless --allow-quarantine.
    """
    with one_line_errors():
        frame, lines = read_reports(path)
        done = incidents.with_retries(
            engine(), incidents.intake, frame, actor=actor, file=path.name, row_numbers=lines
        )
        created = int(done["created"].sum())
        bad = done["fault"].notna()
        known = len(done) - created - int(bad.sum())
        out.print(
            f"{len(done)} rows: {created} new incidents, {known} known, "
            f"{int(bad.sum())} quarantined",
            markup=False,
            highlight=False,
        )
        for line, fault in zip(lines, done["fault"], strict=True):
            if fault is not None and not pd.isna(fault):
                err.print(f"{path.name}: line {line}: {fault}", markup=False, highlight=False)
    if bad.any():
        load_id = done.attrs.get("load_id")
        err.print(
            f"{int(bad.sum())} rows quarantined (load id {load_id}); "
            "pass --allow-quarantine to accept that",
            markup=False,
            highlight=False,
        )
        if not allow_quarantine:
            raise typer.Exit(1)


#: The incident roles (:data:`geo.incidents.ROLES`) each account role may move cases as: a
#: township official as the township, the centre as itself or for a department (it records
#: the departments' answers), an administrator as any.
MOVES_AS = {
    "township": ("township",),
    "centre": ("centre", "department"),
    "admin": incidents.ROLES,
}


@app.command("move")
def move(
    incident_id: int,
    status: str,
    user: str | None = typer.Option(
        None,
        "--user",
        help="Account that moves it (default WANGGE_USER); password from "
        "WANGGE_PASSWORD or a prompt. Recorded as the actor.",
    ),
    role: str | None = typer.Option(
        None,
        help="Incident role to act in, one the account may take (township: township; "
        "centre: centre or department; admin: any). Default: the first of those.",
    ),
    note: str | None = typer.Option(None),
    platform: str | None = typer.Option(None, help="Platform, when dispatching."),
    category: str | None = typer.Option(None, help="New category, when re-dispatching."),
    satisfaction: int | None = typer.Option(None, help="1..5, with fed_back."),
) -> None:
    """Move an incident to STATUS as a logged-in account (refused with the allowed moves if
    the rules forbid it; a township account sees only its township's incidents)."""
    with one_line_errors():
        acting = acting_user(MOVES_AS, login=user)
        allowed = MOVES_AS[acting.role]
        role = role or allowed[0]
        if role not in allowed:
            raise ConfigError(
                f"--role {role}: {acting.login} ({acting.role}) may move cases as "
                f"{', '.join(allowed)} only"
            )
        with auth.as_user(acting):  # row-level security: the account's scope
            event = incidents.with_retries(
                engine(), incidents.transition, incident_id, status, actor=acting.login,
                role=role, note=note, platform=platform, category=category,
                satisfaction=satisfaction,
            )  # fmt: skip
        out.print(f"incident {incident_id}: {event.from_status} -> {event.to_status}", markup=False)


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
            table.add_row(*(Text("" if pd.isna(v) else str(v)) for v in cells))
        out.print(table)
