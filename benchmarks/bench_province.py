"""A province on Dask: counties per minute with 0 (serial), 1 and 2 worker processes.

Run ``python -m benchmarks.bench_province`` (8 Yanchi-scale counties of the ``henan``
province, ≈0.55 M households) or name the count: ``python -m benchmarks.bench_province 20``
(≈1.4 M households, the issue's figure; about ten minutes on 2 cores).

The counties are generated once (``synth`` task on 2 workers) into a scratch database.  Then
the ``build-grids`` task runs for every county three times under different labels: serially
in this process (``workers=0``, the single-machine baseline), on a LocalCluster of one
worker process and on one of two.  Each row gives the wall time, counties per minute, the
speed-up over the serial run of the same counties in the same run, the peak memory of each
worker process, and the busy share: the time the workers spent inside county tasks over
their wall time (what is left is cluster start-up, scheduling and waiting for the last
county).  Every worker reads from and writes to the one database, so the database's own
cores are part of the 2 cores measured here.
"""

from __future__ import annotations

import resource
import sys
import time

from benchmarks._table import print_table

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_COUNTIES = 8


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _run(task: str, codes: list[str], url: str, label: str, workers: int):
    """Wall time and peak worker memory (GiB) of one run of ``task``."""
    from distributed import Client, LocalCluster

    from geo import province

    if workers == 0:
        started = time.perf_counter()
        report = province.run(task, codes, label=label, url=url, workers=0)
        return report, time.perf_counter() - started, _peak_rss_gib()
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        started = time.perf_counter()
        report = province.run(task, codes, label=label, url=url, client=client)
        seconds = time.perf_counter() - started
        peaks = client.run(_peak_rss_gib)
    return report, seconds, max(peaks.values())


def main() -> None:
    from geo import province
    from geo.db.provision import scratch_database
    from geo.db.session import get_engine

    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else DEFAULT_COUNTIES
    with scratch_database(SERVER, "bench_province") as url:
        started = time.perf_counter()
        made = province.synth_province("henan", n, url=url, workers=2)
        t_synth = time.perf_counter() - started
        households = int(made["rows"].sum())
        codes = province.province_counties(get_engine(url), "41")
        rows = []
        serial_s = None
        for workers in (0, 1, 2):
            report, seconds, peak = _run("build-grids", codes, url, f"bench-{workers}", workers)
            failed = int((report["status"] != "done").sum())
            task_s = float(report["seconds"].sum())
            serial_s = seconds if workers == 0 else serial_s
            rows.append(
                [
                    "serial (this process)" if workers == 0 else f"LocalCluster, {workers}",
                    len(codes) - failed,
                    seconds,
                    60 * (len(codes) - failed) / seconds,
                    serial_s / seconds,
                    peak,
                    task_s / max(workers, 1) / seconds,
                ]
            )
    print_table(
        f"province build-grids: {n} counties of henan, {households:,} households "
        f"(generated on 2 workers in {t_synth:.0f} s)",
        ["run", "counties", "wall s", "counties/min", "speed-up vs serial", "peak GiB/worker",
         "busy share"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
