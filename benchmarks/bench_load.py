"""Loading benchmark: 68,487 households as polygons (GeoPackage) and as points (CSV).

    .venv/bin/python -m benchmarks.bench_load

On a throw-away database it creates and drops, with the Yanchi-scale synthetic county's
admin units in place, measures in one run:

- the baseline: ``geopandas.read_file`` + ``GeoDataFrame.to_postgis`` into a plain table
  of the same shape (no validation, no quarantine, no upsert);
- the pure part of ``geo.load`` (read + validate + repair, no database);
- ``geo.load.load_file`` end to end (read, validate against the database's natural
  units, upsert by code, quarantine, load run: one transaction) -- target <= 20 s;
- the same file loaded again (every row an update: the idempotent re-load);
- a register of the same 68,487 households as **points** (CSV: ``household_id``,
  ``unit_id``, ``members``, ``lon``, ``lat``; the columns found through the alias table),
  loaded with their courtyard footprints derived (repair ``footprint_from_point``) --
  target <= 20 s, and its ratio to the polygon load in the same run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from benchmarks._table import peak_rss_gib, print_table, timed
from geo import load, synth
from geo.db import io, provision
from geo.db.session import get_engine
from geo.settings import get_settings

TARGET_S = 20.0


def main() -> None:
    county, gen_s = timed(lambda: synth.generate_county("yanchi", seed=get_settings().seed))
    n = len(county.households)
    tmp = Path(tempfile.mkdtemp(prefix="wangge_bench_load_"))
    path = tmp / "households.gpkg"
    _, write_gpkg_s = timed(lambda: county.households.to_file(path, layer="households"))
    points_path = tmp / "register.csv"
    _write_register(county.households, points_path)
    try:
        with provision.scratch_database(provision.server_url(), "bench_load") as url:
            engine = get_engine(url)
            with engine.begin() as conn:
                for level in ("county", "township", "village", "natural_unit"):
                    io.copy_frame(conn, io.admin_rows(county.level(level), level), "admin_unit")

            def baseline() -> None:
                frame = gpd.read_file(path)
                frame.rename_geometry("geom").to_postgis(
                    "baseline_household", engine, if_exists="replace", index=False
                )

            _, base_s = timed(baseline)
            units = county.natural_units
            refs = load.References(
                codes={"natural_unit": set(units["code"]), "village": set(county.villages["code"])},
                natural_units=units,
            )
            checked, pure_s = timed(lambda: load.check_file(path, "households", refs=refs))
            report, load_s = timed(lambda: load.load_file(engine, path, "households"))
            again, again_s = timed(lambda: load.load_file(engine, path, "households"))
            points, points_s = timed(lambda: load.load_file(engine, points_path, "households"))
            assert report.loaded + report.quarantined == n
            assert points.loaded + points.quarantined == n
            derived = int((points.checked.repairs["repair"] == "footprint_from_point").sum())
            verdict = "PASS" if load_s <= TARGET_S else "FAIL"
            points_verdict = "PASS" if points_s <= TARGET_S else "FAIL"
            rows = [
                ["baseline: read_file + to_postgis (no checks)", base_s, n / base_s, "1.0x", ""],
                ["geo.load.check_file (read + validate, no DB)", pure_s, n / pure_s,
                 f"{base_s / pure_s:.1f}x", ""],
                ["geo.load.load_file (validate + upsert + run)", load_s, n / load_s,
                 f"{base_s / load_s:.1f}x", f"{verdict} (<= {TARGET_S:g} s)"],
                ["geo.load.load_file again (all updates)", again_s, n / again_s,
                 f"{base_s / again_s:.1f}x", ""],
                [f"points CSV -> footprints ({points_s / load_s:.2f}x the polygon load)",
                 points_s, n / points_s, f"{base_s / points_s:.1f}x",
                 f"{points_verdict} (<= {TARGET_S:g} s)"],
            ]  # fmt: skip
            print_table(
                f"Loading {n:,} household polygons from a GeoPackage "
                f"(loaded {report.loaded:,}, repaired {report.repaired:,}, quarantined "
                f"{report.quarantined:,}; as points: loaded {points.loaded:,}, footprints "
                f"derived {derived:,}, quarantined {points.quarantined:,}; county generated "
                f"in {gen_s:.1f} s, GPKG written in {write_gpkg_s:.1f} s; peak RSS "
                f"{peak_rss_gib():.1f} GiB)",
                ["step", "seconds", "rows/s", "speed vs baseline", "target"],
                rows,
            )
            del checked, again
            engine.dispose()
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


def _write_register(households: gpd.GeoDataFrame, path: Path) -> None:
    """The households as a register of points (CSV), named as registers name columns."""
    points = shapely.point_on_surface(households.to_crs(4326).geometry.values)
    xy = shapely.get_coordinates(points)
    pd.DataFrame(
        {
            "household_id": households["code"].to_numpy(),
            "unit_id": households["natural_unit_code"].to_numpy(),
            "members": households["residents"].to_numpy(),
            "lon": xy[:, 0].round(7),
            "lat": xy[:, 1].round(7),
        }
    ).to_csv(path, index=False)


if __name__ == "__main__":
    main()
