"""``wangge province``: the per-county pipeline for every county of a province, on Dask.

    wangge province synth NAME --counties N [--months M]
    wangge province build-grids [--publish] [--label L]
    wangge province hotspots [--days 30] [--label L]
    wangge province coverage [--label L]

Every command takes ``--workers N`` (a LocalCluster of N processes; 0 runs the counties one
after the other here), ``--scheduler ADDRESS`` (a running Dask scheduler), ``--prefix`` (the
counties whose code starts with it) and ``--county CODE`` (repeatable).  Registered in
:mod:`geo.cli._main` as ``wangge province``; the one-county work is :mod:`geo.province`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from geo.cli._common import engine, one_line_errors, out, start_invocation

app = typer.Typer(
    help="Run the per-county pipeline for every county of a province (Dask).",
    no_args_is_help=True,
    callback=start_invocation,
)

Workers = Annotated[
    int, typer.Option("--workers", help="Local worker processes (0: one after the other here).")
]
Scheduler = Annotated[
    str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler.")
]
Prefix = Annotated[str, typer.Option("--prefix", help="Only counties whose code starts so.")]
Counties = Annotated[list[str] | None, typer.Option("--county", help="A county code (repeat).")]
Label = Annotated[
    str | None, typer.Option("--label", help="Name of this run (default: task-time).")
]


@app.command("synth")
def synth(
    name: Annotated[str, typer.Argument(help="Province profile in data/profiles/provinces/.")],
    counties: Annotated[int, typer.Option("--counties", help="How many counties.")] = 20,
    months: Annotated[int, typer.Option("--months", help="Months of incidents each.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the county profiles.")] = 20201,
    workers: Workers = 2,
    scheduler: Scheduler = None,
) -> None:
    """Generate N counties of a province (each its own code, outline and seed) into PostGIS."""
    from geo import province

    with one_line_errors():
        url = _url()
        with _progress(f"generating {counties} counties of {escape(name)}", counties) as done:
            report = province.synth_province(
                name, counties, seed=seed, months=months, url=url, workers=workers,
                scheduler=scheduler, on_done=done,
            )  # fmt: skip
        _finish(report)


@app.command("build-grids")
def build_grids(
    publish: Annotated[bool, typer.Option("--publish", help="Publish each county's plan.")] = False,
    label: Label = None,
    prefix: Prefix = "",
    county: Counties = None,
    workers: Workers = 2,
    scheduler: Scheduler = None,
) -> None:
    """Build (and publish) a grid plan for every county, named by the run's label."""
    _run("build-grids", label, prefix, county, workers, scheduler, {"publish": publish})


@app.command("hotspots")
def hotspots(
    days: Annotated[int, typer.Option("--days", help="Incidents of the last N days.")] = 30,
    label: Label = None,
    prefix: Prefix = "",
    county: Counties = None,
    workers: Workers = 2,
    scheduler: Scheduler = None,
) -> None:
    """Gi* hot and cold spots of incidents per household on each county's published cells."""
    _run("hotspots", label, prefix, county, workers, scheduler, {"days": days})


@app.command("coverage")
def coverage(
    label: Label = None,
    prefix: Prefix = "",
    county: Counties = None,
    workers: Workers = 2,
    scheduler: Scheduler = None,
) -> None:
    """Assignment coverage of each county's published plan, per village."""
    _run("coverage", label, prefix, county, workers, scheduler, {})


def _run(task, label, prefix, county, workers, scheduler, options) -> None:
    from geo import province

    with one_line_errors():
        url = _url()
        codes = list(county) if county else province.province_counties(engine(), prefix)
        label = label or f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
        with _progress(f"{task} of {len(codes)} counties", len(codes)) as done:
            report = province.run(
                task, codes, label=label, url=url, workers=workers, scheduler=scheduler,
                options=options, on_done=done,
            )  # fmt: skip
        _finish(report, label=label)


def _url() -> str:
    """The URL of this invocation's database, for the workers to connect to."""
    return engine().url.render_as_string(hide_password=False)


@contextmanager
def _progress(title: str, total: int) -> Iterator[Callable[..., None]]:
    """A progress bar of counties done; yields the ``on_done`` callback of the runner."""
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=out,
    )  # fmt: skip
    task = bar.add_task(title, total=total)

    def done(outcome: object, n: int, total: int) -> None:
        bar.update(task, completed=n)

    with bar:
        yield done


def _finish(report: pd.DataFrame, *, label: str | None = None) -> None:
    """Print one line per county and exit 1 when any county failed."""
    table = Table(title=Text(f"run {label}") if label else None)
    for column in ("county_code", "status", "seconds", "rows", "worker", "error"):
        table.add_column(column.replace("_", " "))
    for row in report.itertuples(index=False):
        cells = (row.county_code, row.status, f"{row.seconds:.1f}", f"{row.rows:,}",
                 str(row.worker), row.error or "")  # fmt: skip
        table.add_row(*(Text(str(c)) for c in cells))  # user text, never markup
    out.print(table)
    failed = int((report["status"] != "done").sum())
    done = len(report) - failed
    out.print(f"{done} of {len(report)} counties done" + (f", {failed} failed" if failed else ""))
    if failed:
        raise typer.Exit(1)
