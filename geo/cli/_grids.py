"""``wangge grids``: build, check, compare, publish and list grid plans stored in PostGIS.

    wangge grids build --plan NAME [--min N --max N] [--village CODE] [--county CODE]
    wangge grids check PLAN
    wangge grids diff A B
    wangge grids publish PLAN
    wangge grids list

Registered in :mod:`geo.cli` as ``wangge grids``. Each command runs in one transaction: it
lands whole or not at all.  Errors are one line on stderr with exit code 1
(:func:`geo.cli._common.one_line_errors`).
"""

from __future__ import annotations

import getpass
import math
import time
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from geo.cli._common import engine, one_line_errors, out, start_invocation
from geo.errors import ConfigError

app = typer.Typer(
    help="Build, check, compare and publish grid plans.",
    no_args_is_help=True,
    callback=start_invocation,
)

PlanArg = Annotated[str, typer.Argument(help="Plan name (or id).")]
CountyOpt = Annotated[
    str | None, typer.Option("--county", help="County code (default: the only county).")
]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no login name in some containers
        return "system"


ByOpt = Annotated[str | None, typer.Option("--by", help="Who does it (default: login name).")]


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title)
    for i, column in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[column]) or (
            i > 0 and frame[column].dtype == object and column in ("value", "a", "b", "change")
        )
        table.add_column(str(column).replace("_", " "), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_fmt(v.item() if hasattr(v, "item") else v) for v in row))
    return table


def _share(measure: str, value: object) -> object:
    if measure.startswith("share") and isinstance(value, float) and not math.isnan(value):
        return f"{value:.1%}"
    return value


def _metrics_table(title: str, metrics: dict) -> Table:
    shown = {k: _share(k, v) for k, v in metrics.items() if k != "seconds"}
    frame = pd.DataFrame({"measure": list(shown), "value": pd.Series(shown.values(), dtype=object)})
    return _table(title, frame)


@app.command("build")
def build(
    plan: Annotated[str, typer.Option("--plan", help="Name of the plan to create or edit.")],
    min_size: Annotated[
        int | None, typer.Option("--min", help="Fewest households per cell (default: profile).")
    ] = None,
    max_size: Annotated[
        int | None, typer.Option("--max", help="Most households per cell (default: profile).")
    ] = None,
    village: Annotated[
        str | None,
        typer.Option("--village", help="Rebuild only this village of the existing draft PLAN."),
    ] = None,
    county: CountyOpt = None,
    seed: Annotated[int, typer.Option(help="Seed recorded with the plan.")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes.")] = 1,
    ignore_natural_units: Annotated[
        bool,
        typer.Option(
            "--ignore-natural-units",
            help="Cut cells for compactness alone, splitting natural units (default: a natural "
            "unit within the bounds stays one cell).",
        ),
    ] = False,
    by: ByOpt = None,
) -> None:
    """Build a new draft plan of the county, or rebuild one village of a draft (--village)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from geo import plans

    with one_line_errors():
        who = by or _user()
        started = time.perf_counter()
        if village is not None and ignore_natural_units:
            raise ConfigError(
                "--ignore-natural-units applies to a new plan; rebuilding a village keeps the "
                "plan's own setting"
            )
        with engine().begin() as conn:
            if village is not None:
                current = plans.describe_plan(conn, plan, county_code=county)
                result = plans.rebuild_village(
                    conn,
                    current["id"],
                    village,
                    min_size=min_size,
                    max_size=max_size,
                    expected_version=current["version"],
                    by=who,
                )
                out.print(
                    f"plan {plan!r} version {result.version}: village {village} rebuilt into "
                    f"{len(result.cells)} cells, {len(result.violations)} violation(s) there; "
                    f"plan share within bounds {result.metrics['share_within_bounds']:.1%} "
                    f"({result.seconds:.1f} s)"
                )
                return
            code = plans.county_code_of(conn, county)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            ) as progress:
                task = progress.add_task(f"building {plan} (villages)", total=None)

                def on_village(_code: str, done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                built = plans.build_county_plan(
                    conn,
                    county_code=code,
                    min_size=min_size,
                    max_size=max_size,
                    seed=seed,
                    n_jobs=jobs,
                    on_village=on_village,
                    keep_natural_units=not ignore_natural_units,
                )
                progress.update(task, description="saving to PostGIS")
                plan_id = plans.save_plan(conn, built, county_code=code, name=plan, created_by=who)
        m = built.metrics
        out.print(
            f"plan {plan!r} (id {plan_id}, draft v1) of county {code}: {m['cells']:,} cells of "
            f"{built.params.bounds.min_size}-{built.params.bounds.max_size} households for "
            f"{m['households']:,} households in {m['villages']:,} villages; "
            f"{m['share_within_bounds']:.1%} within bounds, mean Polsby-Popper "
            f"{m['mean_pp']:.2f}, {m['natural_units_split']:,} of {m['natural_units']:,} natural "
            f"units split{' (ignored)' if ignore_natural_units else ''} "
            f"({time.perf_counter() - started:.1f} s)"
        )


@app.command("check")
def check(
    plan: PlanArg,
    county: CountyOpt = None,
    limit: Annotated[int, typer.Option(help="Violations to list.")] = 20,
) -> None:
    """Check every rule of a plan and print its metrics and violations."""
    from geo import plans

    with one_line_errors():
        with engine().connect() as conn:
            stored, violations = plans.check_stored_plan(conn, plan, county_code=county)
            faults = plans.publication_faults(conn, stored.id)
        title = f"plan {stored.name!r} ({stored.status}, version {stored.version})"
        out.print(_metrics_table(title, stored.plan.metrics))
        if violations.empty:
            out.print("no rule violations")
        else:
            counts = violations["rule"].value_counts().rename_axis("rule").reset_index()
            out.print(_table(f"{len(violations):,} violation(s)", counts))
            out.print(_table(f"first {min(limit, len(violations))}", violations.head(limit)))
        if faults:
            out.print("cannot be published: " + "; ".join(faults))
        else:
            out.print("publishable: every household in exactly one cell of its village")


@app.command("diff")
def diff(a: PlanArg, b: PlanArg, county: CountyOpt = None) -> None:
    """Compare plan A with plan B: summary table and households moved."""
    from geo import plans

    with one_line_errors():
        with engine().connect() as conn:
            result = plans.diff_plans(conn, a, b, county_code=county)
        summary = result.summary.astype(object)
        for column in ("a", "b"):
            summary[column] = [
                _share(m, v) for m, v in zip(summary["measure"], summary[column], strict=True)
            ]
        out.print(_table(f"{a} -> {b}", summary))
        out.print(
            f"{len(result.moved):,} households moved; cells added {len(result.cells_added):,}, "
            f"removed {len(result.cells_removed):,}, reshaped {len(result.cells_reshaped):,}"
        )


@app.command("publish")
def publish(plan: PlanArg, county: CountyOpt = None, by: ByOpt = None) -> None:
    """Publish a draft plan; the county's previously published plan is archived."""
    from geo import plans

    with one_line_errors():
        with engine().begin() as conn:
            archived = plans.publish_plan(conn, plan, by=by or _user(), county_code=county)
            new = plans.describe_plan(conn, plan, county_code=county)
            old = None if archived is None else plans.describe_plan(conn, archived)
        tail = f"; archived {old['name']!r} (id {old['id']})" if old is not None else ""
        out.print(
            f"published {new['name']!r} (id {new['id']}) of county {new['county_code']}{tail}"
        )


@app.command("list")
def list_(county: CountyOpt = None) -> None:
    """List the plans with status, version, cells and share of cells within bounds."""
    from geo import plans

    with one_line_errors():
        with engine().connect() as conn:
            frame = plans.list_plans(conn, county)
        if frame.empty:
            out.print("no plans yet: `wangge grids build --plan NAME`")
            return
        shown = frame[
            ["id", "name", "status", "version", "cells", "households", "share_within_bounds"]
        ].copy()
        shown["share_within_bounds"] = shown["share_within_bounds"].map(
            lambda v: "–" if pd.isna(v) else f"{v:.1%}"
        )
        shown["by"] = frame["updated_by"].fillna(frame["created_by"])
        shown = shown.rename(columns={"share_within_bounds": "within_bounds"})
        if (frame["county_code"] != frame["county_code"].iloc[0]).any():
            shown.insert(1, "county", frame["county_code"])
        out.print(_table("grid plans", shown))
