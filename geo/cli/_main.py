"""The ``wangge`` command line: the everyday jobs of a county's data team.

    wangge db up | upgrade | downgrade REVISION | reset
    wangge users add | list | disable | passwd
    wangge synth --profile yanchi [--outline FILE] [--seed N]
    wangge info
    wangge dash

Every error a user can cause is printed as one line on stderr with a non-zero exit code; a
traceback only ever means a bug (set ``WANGGE_DEBUG=1`` to see tracebacks for any error).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from geo.cli import _common
from geo.cli._common import one_line_errors, out, say, start_invocation
from geo.cli._grids import app as grids_app
from geo.cli._incidents import app as incidents_app
from geo.cli._io import export_app, load_command
from geo.cli._province import app as province_app
from geo.cli._users import app as users_app
from geo.errors import WanggeError
from geo.settings import ROOT, get_settings

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    help="Wangge: grid-based governance for a county.",
    no_args_is_help=True,
    callback=start_invocation,
)
db_app = typer.Typer(help="Provision and migrate the PostGIS database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("up")
def db_up(
    server_only: Annotated[
        bool, typer.Option("--server-only", help="Only make sure the server runs (for tests).")
    ] = False,
) -> None:
    """Make sure PostGIS runs and the database exists and is migrated (idempotent)."""
    from geo.db import provision

    with one_line_errors():
        started = time.perf_counter()
        if server_only:
            settings = get_settings()
            if settings.database_url:
                say("DATABASE_URL is set: using it, provisioning nothing")
            else:
                provision.ensure_server(settings, say=say)
            out.print(f"server ready ({time.perf_counter() - started:.1f} s)")
            return
        shown = (
            _common.engine(provision=True).url.render_as_string(hide_password=True).split("@")[-1]
        )
        out.print(f"database ready: {shown} ({time.perf_counter() - started:.1f} s)")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("heads", help="Target revision.")) -> None:
    """Migrate the database up to REVISION (default: newest), through the admin URL."""
    from geo.db import migrate

    with one_line_errors():
        admin = get_settings().admin_database_url
        migrate.upgrade(admin, revision)
        revisions = ", ".join(sorted(migrate.current_revisions(admin))) or "base"
        out.print(f"database at revision {revisions}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision (e.g. 0006; 'base' drops every table).")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Migrate the database down to REVISION, after a confirmation (through the admin URL).

    A revision whose downgrade would lose data refuses and changes nothing.
    """
    from geo.db import migrate

    with one_line_errors():
        admin = get_settings().admin_database_url
        now = ", ".join(sorted(migrate.current_revisions(admin))) or "base"
        if not yes:
            lost = "every table and all data" if revision == "base" else "what the newer ones added"
            typer.confirm(
                f"downgrade the database from revision {now} to {revision}, dropping {lost}?",
                abort=True,
            )
        migrate.downgrade(admin, revision)
        revisions = ", ".join(sorted(migrate.current_revisions(admin))) or "base"
        out.print(f"database at revision {revisions}")


@db_app.command("reset")
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop and recreate the local Wangge database (everything in it is lost)."""
    from geo.db import migrate, provision

    with one_line_errors():
        settings = get_settings()
        if settings.database_url:
            raise WanggeError("db reset only works on the local database; DATABASE_URL is set")
        if not yes:
            typer.confirm(f"drop database {settings.db_name} and everything in it?", abort=True)
        provision.ensure_server(settings, say=say)
        provision.drop_database(settings.server_url("postgres"), settings.db_name)
        provision.create_database(settings.server_url("postgres"), settings.db_name)
        migrate.upgrade(settings.admin_database_url)
        out.print(f"database {settings.db_name} recreated at the newest schema")


@app.command()
def synth(
    profile: Annotated[str, typer.Option(help="County profile in data/profiles/.")] = "yanchi",
    seed: Annotated[int | None, typer.Option(help="Random seed (default WANGGE_SEED).")] = None,
    outline: Annotated[
        Path | None, typer.Option(help="County outline file (any GDAL format, with a CRS).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace/--keep", help="Replace the county if it exists.")
    ] = False,
    province: Annotated[
        str | None,
        typer.Option(help="A province of data/profiles/provinces/ instead of one county."),
    ] = None,
    counties: Annotated[int, typer.Option(help="Counties of the --province.")] = 20,
) -> None:
    """Generate a synthetic county from a profile (or a province of them) into PostGIS."""
    if province is not None:
        from geo.cli import _province

        _province.synth(province, counties=counties, months=0, seed=seed or 20201, workers=2)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from geo import profiles, synth
    from geo.db import io

    with one_line_errors():
        prof = profiles.load_profile(profile)
        seed = get_settings().seed if seed is None else seed
        engine = _common.engine()
        counts = io.counts_by_level(engine)
        mine = counts.loc[counts["county_code"] == prof.county_code, "households"]
        exists = int(mine.iloc[0]) if len(mine) else 0
        if exists and not replace:
            out.print(
                f"county {prof.county_code} ({prof.name}) is already in the database with "
                f"{exists:,} households; keeping it (use --replace to regenerate)",
                markup=False,
            )
            return
        started = time.perf_counter()
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out
        ) as progress:
            shown = escape(prof.name)  # the description is rendered as markup
            task = progress.add_task(f"generating {shown}", total=None)

            def step(name: str) -> None:
                progress.update(task, description=f"generating {shown}: {escape(name)}")

            county = synth.generate_county(prof, seed=seed, outline=outline, on_step=step)
            progress.update(task, description="writing to PostGIS (COPY)")
            with engine.begin() as conn:
                io.clear_county(conn, prof.county_code)
                written = io.write_county(conn, county)
        seconds = time.perf_counter() - started
        out.print(
            f"{prof.name}: {written['admin_unit']:,} admin units and "
            f"{written['household']:,} households written in {seconds:.1f} s (seed {seed})",
            markup=False,
        )


@app.command()
def activity(
    months: Annotated[int, typer.Option(help="Months of incidents up to today.")] = 3,
    seed: Annotated[int | None, typer.Option(help="Random seed (default WANGGE_SEED).")] = None,
) -> None:
    """Generate the county's demo activity and write it: grid workers (one per cell of the
    published plan), visits, service points, five-colour history and incidents (with planted
    hotspots) moved along every path of the closed loop.

    Incident history is append-only, so demo activity is generated once; start over with
    ``wangge db reset``.
    """
    import pandas as pd

    from geo import incidents, profiles, synth_activity
    from geo.db import activity as db_activity
    from geo.db import io, queries

    with one_line_errors():
        engine = _common.engine()
        with engine.connect() as conn:
            existing = db_activity.demo_incidents(conn)
        if existing:
            out.print(
                f"{existing:,} demo incidents already there; keeping them (history is "
                "append-only: `wangge db reset` starts over)"
            )
            return
        county = io.read_county(engine)
        code = county.county["code"].iloc[0]
        with engine.connect() as conn:
            plan_id = queries.published_plan_id(conn, code)
            cells = None if plan_id is None else queries.plan_cells(conn, plan_id)
            assignment = None if plan_id is None else queries.plan_assignment(conn, plan_id)
        seed = get_settings().seed if seed is None else seed
        now = pd.Timestamp.now(tz="UTC")
        start = now.normalize() - pd.Timedelta(days=round(30.44 * months))
        acts = synth_activity.generate_activity(
            county.households,
            seed=seed,
            start=start,
            months=months,
            cells=None if cells is None else pd.DataFrame(cells[["code", "village_code"]]),
            assignment=assignment,
            villages=county.villages,
            townships=county.townships,
        )
        acts.incidents = acts.incidents[acts.incidents["reported_at"] < now]
        prof = _profile_of(code, profiles)
        started = time.perf_counter()
        with engine.begin() as conn:
            incidents.sync_platforms(conn, prof)
            counts = db_activity.write_activity(conn, acts, now=now, plan_id=plan_id)
        posted = "one per cell of the published plan" if plan_id else "no published plan"
        out.print(
            f"{counts['workers']:,} grid workers ({posted}), {counts['visits']:,} visits, "
            f"{counts['service_points']:,} service points, "
            f"{counts['colour_events']:,} five-colour changes"
        )
        out.print(
            f"{counts['incidents']:,} incidents over {months} months taken in, "
            f"{counts['replayed']:,} moved along the closed loop "
            f"({time.perf_counter() - started:.1f} s)"
        )


def _profile_of(county_code: str, profiles: ModuleType) -> object:
    """The profile whose county code is ``county_code``, else the default profile."""
    found = profiles.profile_of_county(county_code)
    return found if found is not None else profiles.load_profile(get_settings().profile)


@app.command()
def demo(
    profile: Annotated[str, typer.Option(help="County profile in data/profiles/.")] = "yanchi",
    seed: Annotated[int | None, typer.Option(help="Random seed (default WANGGE_SEED).")] = None,
    months: Annotated[int, typer.Option(help="Months of demo incidents.")] = 3,
) -> None:
    """Set up the demo county end to end, keeping whatever is already there.

    The synthetic county, a published grid plan of it, and months of activity (grid
    workers, visits, service points, five-colour history, incidents along every path of
    the closed loop): what the dashboards need to show a working county.
    """
    with one_line_errors():
        _common.engine(provision=True)
    synth(profile=profile, seed=seed, outline=None, replace=False)
    with one_line_errors():
        _ensure_published_plan(profile)
    activity(months=months, seed=seed)
    with one_line_errors():
        _demo_users(profile)


def _demo_users(profile: str) -> None:
    """One demo account per role, with fresh passwords printed once."""
    from rich.markup import escape

    from geo import auth, profiles

    code = profiles.load_profile(profile).county_code
    with _common.engine().begin() as conn:
        made = auth.create_demo_users(conn, code)
    table = Table(title="Demo accounts (passwords shown once; `wangge users passwd` resets)")
    table.add_column("login")
    table.add_column("password")
    for login, password in made.items():
        table.add_row(escape(login), escape(password))
    out.print(table)


def _ensure_published_plan(profile: str) -> None:
    from geo import plans, profiles
    from geo.db import queries

    code = profiles.load_profile(profile).county_code
    engine = _common.engine()
    with engine.begin() as conn:
        if queries.published_plan_id(conn, code) is not None:
            out.print(f"county {code} has a published grid plan; keeping it")
            return
        started = time.perf_counter()
        with out.status("building the demo grid plan (cells of the profile's bounds)"):
            built = plans.build_county_plan(conn, county_code=code, n_jobs=2)
            name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
            plan_id = plans.save_plan(conn, built, county_code=code, name=name, created_by="demo")
            plans.publish_plan(conn, plan_id, by="demo")
        out.print(
            f"grid plan {name!r} published: {built.metrics['cells']:,} cells, "
            f"{built.metrics['share_within_bounds']:.1%} within bounds "
            f"({time.perf_counter() - started:.1f} s)"
        )


@app.command()
def info() -> None:
    """Each county's four levels (townships, villages, natural units, cells of the published
    plan), households and residents; beside them, for a county generated from a seed profile,
    the report's figures, marked ≠ where they differ."""
    from geo import levels
    from geo.db import io

    with one_line_errors():
        counts = io.counts_by_level(_common.engine())
        if counts.empty:
            out.print("no county in the database yet: run `wangge synth` or `wangge load`")
            return
        for _, row in counts.iterrows():
            out.print(_levels_table(row, levels.levels_text(levels.county_levels(row))))
            out.print()


def _levels_table(row: pd.Series, shown: pd.DataFrame) -> Table:
    """One county's levels (:func:`geo.levels.levels_text`) as a table of at most ~60
    characters, so that it fits an 80-column terminal."""
    has_report = "report" in shown.columns
    source = "beside its seed profile's report" if has_report else "not from a seed profile"
    notes = ["– none: no published plan" + (", or no figure in the report" if has_report else "")]
    if has_report:
        notes.append("= as in the report, ≠ differs")
    table = Table(
        title=Text(f"{row['county']} {row['county_code']} — {source}"),
        title_justify="left",
        caption="\n".join(notes),
        caption_justify="left",
    )
    table.add_column("level")
    table.add_column("in database", justify="right")
    if has_report:
        table.add_column("report", justify="right")
        table.add_column("", justify="center")
    for values in shown.itertuples(index=False):
        table.add_row(*(Text(str(v)) for v in values))
    return table


@app.command()
def dash(
    port: Annotated[int, typer.Option(help="Port to serve the dashboards on.")] = 8501,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Default 127.0.0.1 (this machine only): put a reverse "
            "proxy with TLS in front (docs/security.md) rather than exposing Streamlit; "
            "0.0.0.0 listens on every interface.",
        ),
    ] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="Do not try to open a browser.")] = True,
    wall: Annotated[
        bool,
        typer.Option(
            "--wall",
            help="Open (or, headless, print) the command-centre wall in kiosk mode: "
            "/wall?kiosk=1, no sidebar, no chrome.",
        ),
    ] = False,
) -> None:
    """Start the Streamlit dashboards (Ctrl-C stops them); users log in on the first page."""
    import os

    from geo.db.scope import SCOPE_VARIABLE

    with one_line_errors():
        _common.engine()
        app_file = ROOT / "dashboards" / "app.py"
        if not app_file.exists():
            raise WanggeError(f"{app_file} not found: run from a Wangge checkout")
        shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "::") else host
        base = f"http://{shown}:{port}"
        out.print(f"dashboards on {base}  (Ctrl-C to stop)")
        if wall:
            out.print(f"command-centre wall: {base}/wall?kiosk=1  (full screen: F11)")
        command = [
            sys.executable, "-m", "streamlit", "run", str(app_file),
            "--server.port", str(port), "--server.address", host,
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
            "--client.showErrorDetails", "none",
        ]  # fmt: skip
        # The pages take their scope from the user who logs in, never from the CLI's system
        # scope (which opening the database above set for this process).
        env = {k: v for k, v in os.environ.items() if k != SCOPE_VARIABLE}
        if not headless:
            # Streamlit opens the root page; open the page asked for once it answers.
            import threading
            import urllib.request
            import webbrowser

            def _open() -> None:
                for _ in range(60):
                    try:
                        urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.5)
                webbrowser.open(f"{base}/wall?kiosk=1" if wall else base)

            threading.Thread(target=_open, daemon=True).start()
        raise typer.Exit(subprocess.call(command, env=env))


app.command("load")(load_command)
app.add_typer(export_app, name="export")
app.add_typer(incidents_app, name="incidents")
app.add_typer(grids_app, name="grids")
app.add_typer(province_app, name="province")
app.add_typer(users_app, name="users")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
