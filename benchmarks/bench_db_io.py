"""Foundation benchmark: Yanchi-scale county generated and written to PostGIS.

    .venv/bin/python -m benchmarks.bench_db_io

Measures, in one run, on a throw-away database it creates and drops:

- ``geo.synth.generate_county("yanchi")`` (68,487 households, 2,009 natural units);
- writing the households with ``geo.db.io.copy_frame`` (binary COPY) against the baseline
  ``GeoDataFrame.to_postgis`` into the same server, into tables of the same shape (columns
  and a GiST index), best of three runs each (target: COPY >= 5x faster);
- generation + writing the whole county (target: <= 60 s);
- reading the households back with ``geo.db.io.read_households``.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import text

from benchmarks._table import print_table, timed
from geo import synth
from geo.db import io, provision
from geo.db.session import get_engine

REPEATS = 3


def _comparison_rows(best: dict[tuple[str, bool], float], n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for indexed in (False, True):
        shape = "with GiST index" if indexed else "no index"
        base, copy = best[("to_postgis", indexed)], best[("copy", indexed)]
        ratio = base / copy
        verdict = ("PASS" if ratio >= 5 else "FAIL") if not indexed else "(server-bound)"
        rows += [
            [f"households, {shape}: to_postgis (baseline)", base, n / base, "1.0x", ""],
            [f"households, {shape}: geo.db.io.copy_frame", copy, n / copy, f"{ratio:.1f}x",
             verdict],
        ]  # fmt: skip
    return rows


def main() -> None:
    with provision.scratch_database(provision.server_url(), "bench_db_io") as url:
        engine = get_engine(url)
        county, t_gen = timed(lambda: synth.generate_county("yanchi", seed=20201))
        households = county.households

        def write_county() -> None:
            with engine.begin() as conn:
                io.write_county(conn, county)

        _, t_county = timed(write_county)

        def copy_households(indexed: bool) -> None:
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS hh_copy"))
                conn.execute(text("CREATE TABLE hh_copy (LIKE household INCLUDING DEFAULTS)"))
                conn.execute(text("ALTER TABLE hh_copy DROP COLUMN point"))
                if indexed:
                    conn.execute(text("CREATE INDEX ON hh_copy USING gist (geom)"))
                io.copy_frame(conn, households, "hh_copy")

        def to_postgis(indexed: bool) -> None:
            frame = households.rename_geometry("geom")
            geom = Geometry("POLYGON", srid=4326, spatial_index=indexed)
            frame.to_postgis(
                "hh_to_postgis", engine, if_exists="replace", index=False, dtype={"geom": geom}
            )

        # Same table shape for both, with and without a GiST index; best of three runs
        # each, interleaved, so neither gets a warmer cache.
        best: dict[tuple[str, bool], float] = {}
        for indexed in (False, True):
            for _ in range(REPEATS):
                for name, fn in (("to_postgis", to_postgis), ("copy", copy_households)):
                    seconds = timed(lambda fn=fn, indexed=indexed: fn(indexed))[1]
                    key = (name, indexed)
                    best[key] = min(best.get(key, seconds), seconds)
        back, t_read = timed(lambda: io.read_households(engine))
        assert len(back) == len(households)
        n = len(households)
        rows = [
            ["generate yanchi (synth)", t_gen, n / t_gen, "", ""],
            ["write whole county (COPY, + point on surface)", t_county, n / t_county, "", ""],
            ["generate + write county", t_gen + t_county, "", "<= 60 s",
             "PASS" if t_gen + t_county <= 60 else "FAIL"],
            *_comparison_rows(best, n),
            ["households: geo.db.io.read_households", t_read, n / t_read, "", ""],
        ]  # fmt: skip
        print_table(
            f"PostGIS I/O, Yanchi-scale county ({n:,} household polygons)",
            ["step", "seconds", "rows/s", "vs baseline / target", "result"],
            rows,
        )


if __name__ == "__main__":
    main()
