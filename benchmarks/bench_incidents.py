"""Incident intake and the centre's aggregates.

    .venv/bin/python -m benchmarks.bench_incidents [--year N]

On a throw-away database (created and dropped here): the synthetic "small" county with a
lattice plan published, then

- bulk intake (:func:`geo.incidents.intake`, COPY + one INSERT ... SELECT with the spatial
  join) of 20,000 incidents in batches of 5,000, against the baseline of single
  :func:`geo.incidents.report` calls (one transaction each) measured in the same run
  (target: bulk >= 2,000 incidents/s);
- a year of incidents (default 100,000 -- more than one per Yanchi household) with their
  lifecycle events, then each aggregate of :mod:`geo.centre` (target: < 1 s each).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from sqlalchemy import text

from benchmarks._table import print_table, timed
from geo import centre, incidents, synth
from geo.db import io, provision
from geo.db.session import get_engine
from tests._fixtures.incident_plans import lattice_plan, random_incidents

START = datetime(2025, 1, 1, tzinfo=UTC)
BULK, BATCH, SINGLES = 20_000, 5_000, 500

#: A year's life cycle for the aggregates, written in SQL (much faster than moving 100,000
#: incidents one by one): most are accepted, dispatched, worked and resolved; some escalated,
#: some returned, some still open.
LIFECYCLE = """
WITH r AS (
    SELECT id, reported_at, due_at, abs(hashint4(CAST(id AS integer))) % 100 AS p
    FROM incident WHERE client_key LIKE 'year-%'
), u AS (
    UPDATE incident i SET
        status = CASE WHEN r.p < 70 THEN 'closed' WHEN r.p < 80 THEN 'resolved'
                      WHEN r.p < 85 THEN 'escalated' WHEN r.p < 90 THEN 'returned'
                      ELSE 'reported' END,
        accepted_at = CASE WHEN r.p < 90 THEN r.reported_at + (r.p % 7 + 1) * interval '1 hour'
                      END,
        resolved_at = CASE WHEN r.p < 80 THEN r.reported_at + (r.p % 50 + 2) * interval '1 hour'
                      END,
        closed_at = CASE WHEN r.p < 70 THEN r.reported_at + (r.p % 50 + 30) * interval '1 hour'
                    END,
        satisfaction = CASE WHEN r.p < 70 THEN r.p % 5 + 1 END,
        tier = CASE WHEN r.p BETWEEN 80 AND 84 THEN 1 ELSE 0 END
    FROM r WHERE i.id = r.id
    RETURNING i.id, i.status, i.accepted_at, i.resolved_at, i.closed_at
)
INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role)
SELECT id, accepted_at, 'reported', 'accepted', 'bench', 'township' FROM u
    WHERE accepted_at IS NOT NULL
UNION ALL SELECT id, accepted_at + interval '1 minute', 'accepted', status, 'bench', 'township'
    FROM u WHERE status IN ('escalated', 'returned')
UNION ALL SELECT id, resolved_at, 'in_progress', 'resolved', 'bench', 'department' FROM u
    WHERE resolved_at IS NOT NULL
UNION ALL SELECT id, closed_at, 'fed_back', 'closed', 'bench', 'centre' FROM u
    WHERE closed_at IS NOT NULL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--year", type=int, default=100_000, help="incidents in the year")
    args = parser.parse_args()
    with provision.scratch_database(provision.server_url(), "bench_incidents") as url:
        engine = get_engine(url)
        _run(engine, args.year)


def _run(engine, year: int) -> None:
    county = synth.generate_county("small", seed=1)
    code = county.county.iloc[0]["code"]
    with engine.begin() as conn:
        io.write_county(conn, county)
        incidents.sync_platforms(conn, "small")
        lattice_plan(conn, code, size_deg=0.01)
        categories = list(conn.execute(text("SELECT code FROM incident_category")).scalars())
        cells = conn.execute(text("SELECT count(*) FROM grid_cell")).scalar_one()
    households = county.households
    rows = []

    singles = random_incidents(households, SINGLES, categories=categories, start=START,
                               prefix="single", seed=2)  # fmt: skip

    def one_by_one() -> None:
        for r in singles.itertuples():
            with engine.begin() as conn:
                incidents.report(
                    conn, r.client_key, category=r.category_code, source=r.source,
                    point=(r.geometry.x, r.geometry.y), reported_at=r.reported_at, actor="b",
                )  # fmt: skip

    _, t_single = timed(one_by_one)
    single_rate = SINGLES / t_single
    rows.append(["single report() (baseline)", SINGLES, t_single, single_rate, 1.0, ""])

    bulk = random_incidents(households.to_crs(4326), BULK, categories=categories, start=START,
                            prefix="bulk", seed=3)  # fmt: skip

    def in_batches() -> None:
        for i in range(0, BULK, BATCH):
            incidents.with_retries(engine, incidents.intake, bulk.iloc[i : i + BATCH])

    _, t_bulk = timed(in_batches)
    rate = BULK / t_bulk
    rows.append([f"bulk intake() x{BATCH:,}", BULK, t_bulk, rate, rate / single_rate,
                 "PASS" if rate >= 2000 else "FAIL (>= 2,000/s)"])  # fmt: skip
    _, t_again = timed(in_batches)
    rows.append(["bulk again (all known keys)", BULK, t_again, BULK / t_again,
                 BULK / t_again / single_rate, ""])  # fmt: skip
    print_table(
        f"Incident intake ({len(households):,} households, {cells:,} cells published)",
        ["what", "incidents", "seconds", "incidents/s", "x baseline", "target"],
        rows,
    )

    year_frame = random_incidents(households.to_crs(4326), year, categories=categories,
                                  start=START, prefix="year", seed=4)  # fmt: skip

    def load_year() -> None:
        with engine.begin() as conn:
            incidents.intake(conn, year_frame)
            conn.execute(text(LIFECYCLE))
            conn.execute(text("ANALYZE incident; ANALYZE incident_event"))

    _, t_year = timed(load_year)
    with engine.connect() as conn:
        n_inc = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        n_ev = conn.execute(text("SELECT count(*) FROM incident_event")).scalar_one()
    end = datetime(2026, 1, 1, tzinfo=UTC)
    queries = {
        "platform_daily (a year)": lambda c: centre.platform_daily(c, start=START, end=end),
        "platform_daily (wall, k=5)": lambda c: centre.platform_daily(
            c, start=START, end=end, min_count=5
        ),
        "stuck": lambda c: centre.stuck(c, at=end),
        "overdue": lambda c: incidents.overdue(c, at=end),
        "colour_counts": lambda c: centre.colour_counts(c, county_code=code),
        "worker_metrics 2025Q3": lambda c: centre.worker_metrics(c, quarter="2025Q3"),
        "township_funding": lambda c: centre.township_funding(c, county_code=code),
    }
    agg = []
    with engine.connect() as conn:
        for label, fn in queries.items():
            fn(conn)  # warm
            frame, seconds = min((timed(lambda fn=fn: fn(conn)) for _ in range(3)),
                                 key=lambda t: t[1])  # fmt: skip
            agg.append([label, len(frame), seconds, "PASS" if seconds < 1 else "FAIL (< 1 s)"])
    print_table(
        f"Centre aggregates over {n_inc:,} incidents and {n_ev:,} events "
        f"(year loaded with lifecycle in {t_year:.1f} s; best of 3)",
        ["aggregate", "rows", "seconds", "target"],
        agg,
    )


if __name__ == "__main__":
    main()
