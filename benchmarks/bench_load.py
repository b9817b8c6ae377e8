"""Loading benchmark: 68,487 household polygons from a GeoPackage, validated and loaded.

    .venv/bin/python -m benchmarks.bench_load

On a throw-away database it creates and drops, with the Yanchi-scale synthetic county's
admin units in place, measures in one run:

- the baseline: ``geopandas.read_file`` + ``GeoDataFrame.to_postgis`` into a plain table
  of the same shape (no validation, no quarantine, no upsert);
- the pure part of ``geo.load`` (read + validate + repair, no database);
- ``geo.load.load_file`` end to end (read, validate against the database's natural
  units, upsert by code, quarantine, load run: one transaction) -- target <= 20 s;
- the same file loaded again (every row an update: the idempotent re-load).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd

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
            assert report.loaded + report.quarantined == n
            verdict = "PASS" if load_s <= TARGET_S else "FAIL"
            rows = [
                ["baseline: read_file + to_postgis (no checks)", base_s, n / base_s, "1.0x", ""],
                ["geo.load.check_file (read + validate, no DB)", pure_s, n / pure_s,
                 f"{base_s / pure_s:.1f}x", ""],
                ["geo.load.load_file (validate + upsert + run)", load_s, n / load_s,
                 f"{base_s / load_s:.1f}x", f"{verdict} (<= {TARGET_S:g} s)"],
                ["geo.load.load_file again (all updates)", again_s, n / again_s,
                 f"{base_s / again_s:.1f}x", ""],
            ]  # fmt: skip
            print_table(
                f"Loading {n:,} household polygons from a GeoPackage "
                f"(loaded {report.loaded:,}, repaired {report.repaired:,}, quarantined "
                f"{report.quarantined:,}; county generated in {gen_s:.1f} s, GPKG written in "
                f"{write_gpkg_s:.1f} s; peak RSS {peak_rss_gib():.1f} GiB)",
                ["step", "seconds", "rows/s", "speed vs baseline", "target"],
                rows,
            )
            del checked, again
            engine.dispose()
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
