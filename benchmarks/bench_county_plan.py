"""Whole-county grid plans through PostGIS: build, save, publish check, one edit.

Run ``python -m benchmarks.bench_county_plan`` (Yanchi and Xihua scale) or name the
counties: ``python -m benchmarks.bench_county_plan yanchi``.

For each county a fresh process (so that its peak memory is its own) generates the county
with :func:`geo.synth.generate_county` (seed 1), writes it into a scratch database, then
times :func:`geo.plans.build_county_plan` (read households/villages from PostGIS and build
with ``n_jobs=2``), :func:`geo.plans.save_plan` (COPY of cells and assignment),
:func:`geo.plans.publication_faults` (the SQL checks of publishing), one
:func:`geo.plans.split_cell` edit (one village re-tessellated and written back) and a full
:func:`geo.plans.load_plan`.  The baseline is the naive save measured in the same run:
``GeoDataFrame.to_postgis`` for the cells plus ``DataFrame.to_sql(method="multi")`` for the
assignment, into the same tables (same indexes, constraints and foreign keys) under a second
plan.  Targets (issue #5): build <= 15 s (Yanchi), <= 60 s
(Xihua), peak memory <= 4 GiB; and (issue #18) a county whose profile reports its cells
(Xihua: 8,788) gets exactly that many.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from functools import partial

from benchmarks._table import peak_rss_gib, print_table, timed

COUNTIES = {"yanchi": 15.0, "xihua": 60.0}
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MEMORY_GIB = 4.0


def _child(name: str) -> None:
    """Runs in a fresh process: every figure of one county, printed as one JSON line."""
    from geo import plans, profiles
    from geo.db import io, migrate, provision
    from geo.db.session import get_engine
    from geo.synth import generate_county

    county, t_gen = timed(lambda: generate_county(name, seed=1))
    db = f"bench_plan_{name}_{uuid.uuid4().hex[:6]}"
    url = provision.create_database(SERVER, db)
    engine = get_engine(url)
    try:
        migrate.upgrade(url)
        with engine.begin() as conn:
            _, t_write = timed(partial(io.write_county, conn, county))
        code = str(county.county["code"].iloc[0])
        county = None  # only the database copy from here on
        with engine.begin() as conn:
            plan, t_build = timed(lambda: plans.build_county_plan(conn, n_jobs=2))
            plan_id, t_save = timed(
                lambda: plans.save_plan(conn, plan, county_code=code, name="bench")
            )
        with engine.begin() as conn:
            faults, t_check = timed(lambda: plans.publication_faults(conn, plan_id))
        big = plan.cells.sort_values("households").iloc[-1]["code"]
        with engine.begin() as conn:
            edit, t_edit = timed(
                lambda: plans.split_cell(conn, plan_id, big, 2, expected_version=1, by="bench")
            )
        with engine.connect() as conn:
            _, t_load = timed(lambda: plans.load_plan(conn, plan_id))
        with engine.begin() as conn:
            _, t_naive = timed(partial(_naive_save, conn, plan, code))
        m = plan.metrics
        print(
            json.dumps(
                {
                    "county": name,
                    "households": m["households"],
                    "cells": m["cells"],
                    "report_cells": profiles.load_profile(name).cells,
                    "within": m["share_within_bounds"],
                    "gen": t_gen,
                    "write": t_write,
                    "build": t_build,
                    "engine": plan.metrics["seconds"],
                    "save": t_save,
                    "naive": t_naive,
                    "check": t_check,
                    "faults": len(faults),
                    "edit": t_edit,
                    "edit_inner": edit.seconds,
                    "load": t_load,
                    "peak": peak_rss_gib(),
                }
            ),
            flush=True,
        )
    finally:
        engine.dispose()
        provision.drop_database(SERVER, db)


def _naive_save(conn, plan, code: str) -> None:
    """The baseline: the same rows into the same tables with to_postgis and to_sql."""
    import geopandas as gpd
    import shapely
    from sqlalchemy import text

    plan_id = conn.execute(
        text("INSERT INTO grid_plan (county_code, name) VALUES (:c, 'naive') RETURNING id"),
        {"c": code},
    ).scalar_one()
    cells = plan.cells.drop(columns="geometry").assign(plan_id=plan_id)
    multi = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in
             plan.cells.geometry]  # fmt: skip
    cells = gpd.GeoDataFrame(cells, geometry=gpd.GeoSeries(multi, crs=4326)).rename_geometry("geom")
    cells.to_postgis("grid_cell", conn, if_exists="append", index=False)
    rows = plan.assignment[["household_code", "cell_code"]].assign(plan_id=plan_id)
    rows.to_sql("cell_assignment", conn, if_exists="append", index=False, method="multi",
                chunksize=5000)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        _child(args[1])
        return
    names = [a for a in args if a in COUNTIES] or list(COUNTIES)
    rows = []
    for name in names:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_county_plan", "--child", name],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            print(f"{name}: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(lines[-1])
        target = COUNTIES[name]
        exact = r["report_cells"] is None or r["cells"] == r["report_cells"]
        rows.append(
            [
                name,
                r["households"],
                r["cells"],
                "–" if r["report_cells"] is None else f"{r['report_cells']:,}",
                f"{r['within']:.1%}",
                r["build"] - r["engine"],
                r["engine"],
                f"{r['engine'] / target:.2f} of {target:.0f} s",
                r["save"],
                r["naive"],
                f"{r['naive'] / r['save']:.1f}x",
                r["check"],
                r["edit"],
                r["load"],
                r["peak"],
                "ok" if exact and r["engine"] <= target and r["peak"] <= MEMORY_GIB else "MISSED",
                os.getloadavg()[0],
            ]
        )
    print_table(
        "Whole-county plans through PostGIS (seconds; read = households/units from PostGIS, "
        "build = geo.grids.build_plan n_jobs=2; naive = to_postgis + to_sql baseline for the "
        "save; report cells = the profile's cell count, which the plan must match; load avg = "
        "1-min load of the machine after the run)",
        [
            "county",
            "households",
            "cells",
            "report cells",
            "within bounds",
            "read s",
            "build s",
            "build/target",
            "save s",
            "naive save s",
            "save speed-up",
            "publish check s",
            "split edit s",
            "load s",
            "peak GiB",
            "targets",
            "load avg",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
