"""``wangge grids``: build, show, edit, check, compare, publish and list grid plans.

    wangge grids build --plan NAME [--min N --max N] [--village CODE] [--county CODE]
    wangge grids show PLAN [--village CODE]
    wangge grids move PLAN --household H [--household H ...] --to CELL
    wangge grids split PLAN CELL [--k 2]
    wangge grids merge PLAN CELL CELL [CELL ...]
    wangge grids rebuild PLAN VILLAGE [--min N --max N]
    wangge grids lock PLAN CELL [CELL ...] / unlock PLAN CELL [CELL ...]
    wangge grids fix-unassigned PLAN [--village CODE]
    wangge grids undo PLAN / redo PLAN / history PLAN
    wangge grids check PLAN
    wangge grids diff A B
    wangge grids publish PLAN
    wangge grids list

PLAN is an id (``12``, ``#12``, ``id:12``) or a name (``name:2024`` for a name made of
digits), the same everywhere (:data:`geo.plans.PLAN_REF_RULE`).  Every edit takes
``--expected-version`` (default: the version it reads, in the same transaction) and prints
the village's rule checks afterwards.  Registered in :mod:`geo.cli` as ``wangge grids``.
Each command runs in one transaction: it lands whole or not at all.  Errors are one line on
stderr with exit code 1 (:func:`geo.cli._common.one_line_errors`).  Names and actors are
printed as text, never as Rich markup.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from geo.cli._common import acting_user, engine, one_line_errors, out, start_invocation
from geo.errors import ConfigError, DataError

app = typer.Typer(
    help="Build, check, compare and publish grid plans.",
    no_args_is_help=True,
    callback=start_invocation,
)

PlanArg = Annotated[
    str, typer.Argument(help="Plan id (12, #12, id:12) or name (name:2024 if made of digits).")
]
CountyOpt = Annotated[
    str | None, typer.Option("--county", help="County code (default: the only county).")
]


#: Roles whose accounts may change plans from the command line.
PLANNER_ROLES = ("planner", "admin")


@contextmanager
def _acting(login: str | None) -> Iterator[str]:
    """Log in as the acting account (a planner or admin) and run the block in its scope.

    Yields its login, the actor recorded on the plan and its versions
    (:func:`geo.cli._common.acting_user`: ``--user`` or ``WANGGE_USER``, the password from
    ``WANGGE_PASSWORD`` or a prompt).
    """
    from geo import auth

    user = acting_user(PLANNER_ROLES, login=login)
    with auth.as_user(user):
        yield user.login


UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Account acting (planner or admin; default WANGGE_USER); its password from "
        "WANGGE_PASSWORD or a prompt. Recorded as who made the change.",
    ),
]


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


_WHOLE = {"name", "what", "cell", "village", "by", "measure"}


def _table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=escape(title) if title else None)
    for i, column in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[column]) or (
            i > 0 and frame[column].dtype == object and column in ("value", "a", "b", "change")
        )
        table.add_column(
            str(column).replace("_", " "),
            justify="right" if numeric else "left",
            # codes and user text are folded onto a second line, never cut with an ellipsis
            overflow="fold" if column in _WHOLE else "ellipsis",
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(_fmt(v.item() if hasattr(v, "item") else v)) for v in row))
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
    user: UserOpt = None,
) -> None:
    """Build a new draft plan of the county, or rebuild one village of a draft (--village)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from geo import plans

    with one_line_errors(), _acting(user) as who:
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
                    f"plan {escape(repr(plan))} version {result.version}: village {village} "
                    "rebuilt into "
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
            f"plan {escape(repr(plan))} (id {plan_id}, draft v1) of county {code}: "
            f"{m['cells']:,} cells of "
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
        out.print(_table(f"{a} -> {b}", summary))  # title escaped by _table
        out.print(
            f"{len(result.moved):,} households moved; cells added {len(result.cells_added):,}, "
            f"removed {len(result.cells_removed):,}, reshaped {len(result.cells_reshaped):,}"
        )


@app.command("publish")
def publish(
    plan: PlanArg,
    county: CountyOpt = None,
    user: UserOpt = None,
    expected_version: Annotated[
        int | None,
        typer.Option("--expected-version", help="Refuse if the plan is at another version."),
    ] = None,
) -> None:
    """Publish a draft plan; the county's previously published plan is archived."""
    from geo import plans

    with one_line_errors(), _acting(user) as who:
        with engine().begin() as conn:
            row = plans.describe_plan(conn, plan, county_code=county)
            done = plans.publish_plan(conn, row["id"], by=who, expected_version=expected_version)
            new = plans.describe_plan(conn, row["id"])
            old = None if done.archived is None else plans.describe_plan(conn, done.archived)
        tail = f"; archived {old['name']!r} (id {old['id']})" if old is not None else ""
        _say(f"published {new['name']!r} (id {new['id']}) of county {new['county_code']}{tail}")
        _say(
            f"re-joined to the new cells: {done.workers_rejoined:,} grid worker(s), "
            f"{done.incidents_rejoined:,} open incident(s) (the old cells stay in the history)"
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
        shown = shown.rename(
            columns={"share_within_bounds": "in bounds", "version": "v", "households": "hh"}
        )
        if (frame["county_code"] != frame["county_code"].iloc[0]).any():
            shown.insert(1, "county", frame["county_code"])
        out.print(_table("grid plans", shown))


# --------------------------------------------------------------------------- workbench commands

ExpectedOpt = Annotated[
    int | None,
    typer.Option(
        "--expected-version",
        help="The plan version the edit was made on; refused if the plan has moved on "
        "(default: the version read now).",
    ),
]
VillageOpt = Annotated[str | None, typer.Option("--village", help="Village code.")]


def _say(text: str) -> None:
    """Print ``text`` as text, never as markup (it holds names and actors)."""
    out.print(escape(text), highlight=False)


def _version_of(conn: object, plan: str, county: str | None, expected: int | None) -> tuple:
    """``(id, version to expect)`` of a plan; ``expected`` wins when given."""
    from geo import plans

    row = plans.describe_plan(conn, plan, county_code=county)
    return row["id"], (row["version"] if expected is None else expected)


def _cells_table(title: str, view: object) -> Table:
    cells = view.cells
    lo, hi = view.bounds.min_size, view.bounds.max_size
    frame = pd.DataFrame(
        {
            "cell": cells["code"],
            "hh": cells["households"].astype(int),
            "size": [
                "ok" if lo <= n <= hi else ("small" if n < lo else "big")
                for n in cells["households"]
            ],
            "pieces": ["1" if c else "2+" for c in cells["contiguous"].astype(bool)],
            "pp": cells["polsby_popper"].astype(float).round(2),
            "lock": ["yes" if c in view.locked else "" for c in cells["code"]],
            "flag": cells["flag_reason"],
        }
    )
    return _table(title, frame)


def _print_checks(view: object) -> None:
    """The rule checks of one village, then the plan's totals."""
    m, pm = view.metrics, view.plan_metrics
    lo, hi = view.bounds.min_size, view.bounds.max_size
    out_of = int((~view.cells["households"].between(lo, hi)).sum())
    pieces = int((~view.cells["contiguous"].astype(bool)).sum())
    title = (
        f"village {view.village_code} {view.village_name}: {m['cells']} cells, "
        f"{m['households']} households, bounds {lo}-{hi}"
    )
    _say(title)
    out.print(_cells_table("", view))
    checks = [
        f"sizes: {out_of} cell(s) outside {lo}-{hi}",
        f"contiguity: {pieces} cell(s) in pieces",
        f"natural units split: {len(view.units_split)} of {m['natural_units']}",
        f"compactness: mean Polsby-Popper {_fmt(m['mean_pp'])}",
        f"left out: {len(view.left_out)} household(s)"
        + (" (`wangge grids fix-unassigned PLAN`)" if view.left_out else ""),
        f"locked: {', '.join(sorted(view.locked)) or 'no cell'}",
    ]
    for line in checks:
        _say("  " + line)
    if not view.violations.empty:
        counts = view.violations["rule"].value_counts()
        _say("  violations: " + ", ".join(f"{r} {n}" for r, n in counts.items()))
    share = pm.get("share_within_bounds")
    _say(
        f"plan {view.plan_name!r} v{view.version}: {pm.get('cells', 0):,} cells, "
        f"{pm.get('households', 0):,} households, "
        f"{'–' if share is None else f'{share:.1%}'} of cells within bounds, "
        f"{pm.get('cells_non_contiguous', 0)} in pieces, "
        f"{pm.get('natural_units_split', 0)} natural units split"
    )


def _after_edit(result: object, plan_id: int) -> None:
    from geo import plans

    _say(f"version {result.version}: {result.summary} ({result.seconds * 1000:.0f} ms)")
    with engine().connect() as conn:
        view = plans.village_view(conn, plan_id, result.village_code)
    _print_checks(view)


@app.command("show")
def show(plan: PlanArg, village: VillageOpt = None, county: CountyOpt = None) -> None:
    """List a plan's villages, or one village's cells and their households (--village)."""
    from geo import plans

    with one_line_errors():
        with engine().connect() as conn:
            row = plans.describe_plan(conn, plan, county_code=county)
            if village is None:
                villages = plans.plan_villages(conn, row["id"])
            else:
                view = plans.village_view(conn, row["id"], village)
        head = (
            f"plan {row['name']!r} (id {row['id']}, {row['status']}, version {row['version']}, "
            f"county {row['county_code']})"
        )
        if village is None:
            shown = villages.rename(
                columns={"township_name": "township", "village_code": "village",
                         "village_name": "name", "households": "hh", "cells_flagged": "flagged"}
            )  # fmt: skip
            shown["left out"] = villages["households"] - villages["assigned"]
            out.print(
                _table(head, shown[["township", "village", "name", "hh", "cells", "flagged",
                                    "left out"]])
            )  # fmt: skip
            _say("`wangge grids show PLAN --village CODE`: a village's cells and households")
            return
        _say(head)
        _print_checks(view)
        for code, group in view.households.groupby("cell_code", sort=True):
            _say(f"{code} ({len(group)} households):")
            _print_codes(group["code"].tolist())
        if view.left_out:
            _say(f"left out ({len(view.left_out)} households):")
            _print_codes(view.left_out)


def _print_codes(codes: list[str], per_line: int = 3) -> None:
    for i in range(0, len(codes), per_line):
        _say("  " + "  ".join(codes[i : i + per_line]))


@app.command("copy")
def copy(
    plan: PlanArg,
    name: Annotated[str, typer.Option("--name", help="Name of the new draft.")],
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Start a new draft (version 1) from any plan, e.g. the published one."""
    from geo import plans

    with one_line_errors(), _acting(user) as who:
        with engine().begin() as conn:
            row = plans.describe_plan(conn, plan, county_code=county)
            new_id = plans.copy_plan(conn, row["id"], name=name, by=who)
        _say(f"draft {name!r} (id {new_id}, version 1) copied from {row['name']!r}")


@app.command("move")
def move(
    plan: PlanArg,
    to: Annotated[str, typer.Option("--to", help="The cell the households move into.")],
    household: Annotated[
        list[str], typer.Option("--household", help="Household code (repeat for several).")
    ],
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Move households into a cell of their village; prints the village's rule checks."""
    _edit(plan, county, expected_version, user, "move", household_codes=household, to_cell=to)


@app.command("split")
def split(
    plan: PlanArg,
    cell: Annotated[str, typer.Argument(help="The cell to split.")],
    k: Annotated[int, typer.Option("--k", help="Into how many cells.")] = 2,
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Split a cell into k balanced cells; prints the village's rule checks."""
    _edit(plan, county, expected_version, user, "split", cell_code=cell, k=k)


@app.command("merge")
def merge(
    plan: PlanArg,
    cells: Annotated[list[str], typer.Argument(help="Two or more adjacent cells to merge.")],
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Merge adjacent cells of one village (one version per pair); prints the rule checks."""
    if len(cells) < 2:
        with one_line_errors():
            raise ConfigError("merge needs two or more cells")
    _edit(plan, county, expected_version, user, "merge", cells=cells)


@app.command("rebuild")
def rebuild(
    plan: PlanArg,
    village: Annotated[str, typer.Argument(help="The village to cut afresh.")],
    min_size: Annotated[
        int | None, typer.Option("--min", help="Fewest households per cell.")
    ] = None,
    max_size: Annotated[int | None, typer.Option("--max", help="Most households per cell.")] = None,
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Cut one village's cells afresh (other bounds are remembered for it)."""
    _edit(
        plan, county, expected_version, user, "rebuild",
        village_code=village, min_size=min_size, max_size=max_size,
    )  # fmt: skip


@app.command("lock")
def lock(
    plan: PlanArg,
    cells: Annotated[list[str], typer.Argument(help="Cells of one village to lock.")],
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Lock cells: edits leave them as they are and a rebuild of the village keeps them."""
    _edit(plan, county, expected_version, user, "lock", cell_codes=cells)


@app.command("unlock")
def unlock(
    plan: PlanArg,
    cells: Annotated[list[str], typer.Argument(help="Locked cells of one village.")],
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Unlock locked cells (a version, like any edit)."""
    _edit(plan, county, expected_version, user, "unlock", cell_codes=cells)


@app.command("fix-unassigned")
def fix_unassigned(
    plan: PlanArg,
    village: Annotated[
        str | None,
        typer.Option("--village", help="Only this village (default: every village with some)."),
    ] = None,
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Put households left out of every cell into adjacent cells (one version per village).

    Each goes to the cell containing its point or one adjacent to it: the nearest whose
    size stays within the village's maximum, else the smallest of them.
    """
    _edit(plan, county, expected_version, user, "fix_unassigned", village_code=village)


@app.command("undo")
def undo(
    plan: PlanArg,
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Take back the plan's last edit (itself a new version); prints the rule checks."""
    _edit(plan, county, expected_version, user, "undo")


@app.command("redo")
def redo(
    plan: PlanArg,
    expected_version: ExpectedOpt = None,
    county: CountyOpt = None,
    user: UserOpt = None,
) -> None:
    """Take back the last undo, while no edit was made since."""
    _edit(plan, county, expected_version, user, "redo")


@app.command("history")
def history(plan: PlanArg, county: CountyOpt = None) -> None:
    """The plan's versions: what each edit, undo or redo did, who and when."""
    from geo import plans

    with one_line_errors():
        with engine().connect() as conn:
            row = plans.describe_plan(conn, plan, county_code=county)
            edits = plans.plan_history(conn, row["id"])
        head = f"plan {row['name']!r} (id {row['id']}) is at version {row['version']}"
        if edits.empty:
            _say(f"{head}; no edits since it was created by {row['created_by']}")
            return
        shown = pd.DataFrame(
            {
                "v": edits["version"],
                "what": edits["summary"],
                "by": edits["created_by"],
                "when": pd.to_datetime(edits["created_at"], utc=True).dt.tz_localize(None),
            }
        )
        out.print(_table(head, shown))


def _edit(
    plan: str, county: str | None, expected: int | None, login: str | None, op: str, **fields
) -> None:
    """Run one edit (or undo/redo) as ``login``'s account in one transaction, then print the
    village's checks."""
    from geo import plans

    with one_line_errors(), _acting(login) as who:
        with engine().begin() as conn:
            plan_id, version = _version_of(conn, plan, county, expected)
            if op == "undo":
                results = [plans.undo_edit(conn, plan_id, expected_version=version, by=who)]
            elif op == "redo":
                results = [plans.redo_edit(conn, plan_id, expected_version=version, by=who)]
            elif op == "merge":
                results = _merge_all(conn, plan_id, fields["cells"], version, who)
            elif op == "fix_unassigned":
                results = _fix_all(conn, plan_id, fields["village_code"], version, who)
            elif op in ("lock", "unlock"):
                results = [
                    plans.lock_cells(conn, plan_id, fields["cell_codes"], locked=op == "lock",
                                     expected_version=version, by=who)
                ]  # fmt: skip
            elif op == "rebuild":
                results = [
                    plans.rebuild_village(
                        conn, plan_id, fields["village_code"], min_size=fields["min_size"],
                        max_size=fields["max_size"], expected_version=version, by=who,
                    )
                ]  # fmt: skip
            else:
                edit = (
                    plans.Move(tuple(fields["household_codes"]), fields["to_cell"])
                    if op == "move"
                    else plans.Split(fields["cell_code"], fields["k"])
                )
                results = [plans.edit_plan(conn, plan_id, edit, expected_version=version, by=who)]
        for result in results[:-1]:
            _say(f"version {result.version}: {result.summary}")
        _after_edit(results[-1], plan_id)


def _merge_all(conn: object, plan_id: int, cells: list[str], version: int, who: str) -> list:
    """Merge ``cells`` into the first, pair by pair (each pair a version)."""
    from geo import plans

    results = []
    keep = cells[0]
    for other in cells[1:]:
        result = plans.merge_cells(conn, plan_id, keep, other, expected_version=version, by=who)
        keep, version = min(keep, other), result.version
        results.append(result)
    return results


def _fix_all(conn: object, plan_id: int, village: str | None, version: int, who: str) -> list:
    """Fix the left-out households of ``village`` (else of every village with some)."""
    from geo import plans

    if village is None:
        listed = plans.plan_villages(conn, plan_id)
        stray = listed.loc[listed["households"] > listed["assigned"], "village_code"].tolist()
        if not stray:
            raise DataError("no household of the plan's county is left out of a cell")
    else:
        stray = [village]
    results = []
    for code in stray:
        result = plans.fix_unassigned_households(
            conn, plan_id, code, expected_version=version, by=who
        )
        version = result.version
        results.append(result)
    return results
