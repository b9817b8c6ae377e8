"""``wangge load KIND FILE`` and ``wangge export plan PLAN FILE``.

Registered in :mod:`geo.cli` as ``wangge load`` and ``wangge export``. ``app`` below holds
both commands, for testing them on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geo.cli._common import start_invocation
from geo.cli._grids import PlanArg

app = typer.Typer(
    help="Load county files and export plans.", no_args_is_help=True, callback=start_invocation
)
export_app = typer.Typer(
    help="Export plans, heatmaps and hotspots to GIS files.",
    no_args_is_help=True,
    callback=start_invocation,
)


def load_command(
    kind: Annotated[
        str,
        typer.Argument(
            help="county, townships, villages, natural_units, households, service_points, "
            "workers, visits or incidents."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="GPKG, GeoJSON, SHP, Parquet, FGB or CSV file.")],
    crs: Annotated[
        str | None, typer.Option(help="CRS of a file that declares none, e.g. EPSG:4490.")
    ] = None,
    gcj02: Annotated[
        bool, typer.Option("--gcj02", help="Coordinates are GCJ-02 (Chinese phone maps).")
    ] = False,
    swap_xy: Annotated[
        bool, typer.Option("--swap-xy", help="The file has latitude first: swap x and y.")
    ] = False,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a column: OLD=NEW (repeatable).")
    ] = None,
    layer: Annotated[str | None, typer.Option(help="Layer of a multi-layer file.")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Encoding of a Shapefile .dbf (default: .cpg/sniffed).")
    ] = None,
    allow_quarantine: Annotated[
        bool,
        typer.Option("--allow-quarantine", help="Exit 0 even if rows were quarantined."),
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Only read and validate; no database.")
    ] = False,
) -> None:
    """Load FILE as KIND: validate every row, quarantine bad rows, upsert the rest.

    Exits 1 when any row was quarantined, unless --allow-quarantine.
    """
    from geo import load
    from geo.cli._common import err, one_line_errors, out

    with one_line_errors():
        columns = load.parse_mapping(mapping)
        options = {
            "columns": columns,
            "crs": crs,
            "gcj02": gcj02,
            "swap_xy": swap_xy,
            "layer": layer,
            "encoding": encoding,
        }
        if check:
            checked = load.check_file(file, kind, **options)
            out.print(load.summary(checked), highlight=False, markup=False, soft_wrap=True)
            quarantined = checked.quarantined
        else:
            from geo.cli._common import engine

            source = load.read(file, crs=crs, swap_xy=swap_xy, layer=layer, encoding=encoding)
            report = load.load_file(engine(), source, kind, columns=columns, gcj02=gcj02)
            out.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
            quarantined = report.quarantined
    if quarantined and not allow_quarantine:
        err.print(
            f"{quarantined:,} rows quarantined (see the quarantine table); "
            "pass --allow-quarantine to accept that",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1)


@export_app.command("plan")
def export_plan(
    plan: PlanArg,
    file: Annotated[Path, typer.Argument(help="Target file (.gpkg, .geojson, .parquet, ...).")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="gpkg, geojson, parquet, shp or csv (default: suffix)."),
    ] = None,
    households: Annotated[
        bool,
        typer.Option(
            "--households", help="Include households (personal data: only for their owners)."
        ),
    ] = False,
) -> None:
    """Export grid plan PLAN (cells, and households with --households) to FILE.

    PLAN is an id or a name, read as the `wangge grids` commands read it.
    """
    from geo import export, plans
    from geo.cli._common import engine, one_line_errors, out

    with one_line_errors():
        engine = engine()
        with engine.connect() as conn:
            plan_id = plans.describe_plan(conn, plan)["id"]
        written = export.plan_to_file(
            engine, plan_id, file, driver=fmt, include_households=households
        )
        for path in written:
            out.print(f"wrote {path}", highlight=False, markup=False)


@export_app.command("hotspots")
def export_hotspots(
    file: Annotated[Path, typer.Argument(help="Target file (.gpkg, .geojson, .parquet, ...).")],
    days: Annotated[int, typer.Option(help="Incidents of the last DAYS days.")] = 90,
    resolution: Annotated[int, typer.Option(help="H3 resolution of the hexagons.")] = 9,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="gpkg, geojson, parquet, shp or csv (default: suffix)."),
    ] = None,
) -> None:
    """Export incident hotspots (Gi* with FDR and 90/95/99 % bins on H3 hexagons) to FILE."""
    _export_frame(file, fmt, "hotspots", lambda engine, code: _hotspots(engine, code, days,
                                                                        resolution))  # fmt: skip


@export_app.command("heatmap")
def export_heatmap(
    file: Annotated[Path, typer.Argument(help="Target file (.gpkg, .geojson, .parquet, ...).")],
    resolution: Annotated[int, typer.Option(help="H3 resolution of the hexagons.")] = 8,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="gpkg, geojson, parquet, shp or csv (default: suffix)."),
    ] = None,
) -> None:
    """Export household and resident density on H3 hexagons to FILE (small counts blanked)."""
    from geo import heatmaps
    from geo.db import queries
    from geo.settings import get_settings

    def density(engine, code):
        points = queries.household_points(engine, code)
        k = get_settings().suppress_below
        return heatmaps.hex_density(points, resolution=resolution, weight="residents", k=k)

    _export_frame(file, fmt, "household_density", density)


def _hotspots(engine, code: str, days: int, resolution: int):
    from geo import hotspots
    from geo.db import queries
    from geo.errors import DataError

    points = queries.incident_points(engine, code, days=days)
    if points.empty:
        raise DataError(f"no incidents in the last {days} days in county {code}")
    return hotspots.hex_hotspots(points, resolution=resolution)


def _export_frame(file: Path, fmt: str | None, layer: str, make) -> None:
    """Compute a frame from the database's (only or default) county and write it to FILE."""
    from geo import export
    from geo.cli._common import engine, one_line_errors, out
    from geo.db import io

    with one_line_errors():
        engine = engine()
        code = io.read_admin(engine, "county")["code"].iloc[0]
        frame = make(engine, code)
        for path in export.frames_to_file({layer: frame}, file, driver=fmt):
            out.print(f"wrote {path} ({len(frame):,} hexagons)", highlight=False, markup=False)


app.command("load")(load_command)
app.add_typer(export_app, name="export")
