"""Benchmark of geo.synth.generate_county: small, Yanchi and Xihua profiles.

Run with ``.venv/bin/python -m benchmarks.bench_synth``.  Each profile is generated in its own
subprocess so that its peak resident memory (``getrusage``, which also counts GEOS and PROJ
memory that tracemalloc cannot see) is its own.  The table gives seconds, households per
second, the ratio of throughput to the ``small`` baseline measured in the same run, and the
ratio of seconds to the generation target (Yanchi <= 30 s, of the 60 s end-to-end target that
includes the PostGIS write benchmarked in ``bench_db_io``; Xihua <= 120 s).

Options: ``--profiles small,yanchi`` to run a subset, ``--seed N``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchmarks._table import peak_rss_gib, print_table

TARGETS_S = {"small": 5.0, "yanchi": 30.0, "xihua": 120.0}


def run_one(profile: str, seed: int) -> dict:
    """Generate ``profile`` in this process; return its figures."""
    from geo.synth import generate_county

    phases: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def on_step(name: str) -> None:
        now = time.perf_counter()
        if last[1]:
            phases[last[1]] = now - last[0]
        last[0], last[1] = now, name

    started = time.perf_counter()
    county = generate_county(profile, seed=seed, on_step=on_step)
    seconds = time.perf_counter() - started
    phases[last[1]] = time.perf_counter() - last[0]
    counts = county.counts()
    return {
        "profile": profile,
        "households": counts["households"],
        "natural_units": counts["natural_units"],
        "seconds": seconds,
        "peak_gib": peak_rss_gib(),
        "phases": phases,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="small,yanchi,xihua")
    parser.add_argument("--seed", type=int, default=20201)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return

    results = []
    for profile in args.profiles.split(","):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_synth",
                "--one",
                profile,
                "--seed",
                str(args.seed),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    base = next((r for r in results if r["profile"] == "small"), results[0])
    base_rate = base["households"] / base["seconds"]
    rows = []
    for r in results:
        rate = r["households"] / r["seconds"]
        target = TARGETS_S.get(r["profile"])
        slowest = max(r["phases"], key=r["phases"].get)
        rows.append(
            [
                r["profile"],
                r["households"],
                r["natural_units"],
                r["seconds"],
                rate,
                rate / base_rate,
                r["peak_gib"],
                target if target is not None else "-",
                r["seconds"] / target if target else "-",
                f"{slowest} {r['phases'][slowest]:.1f} s",
            ]
        )
    print_table(
        f"geo.synth.generate_county, seed {args.seed} (baseline for x-rate: {base['profile']})",
        [
            "profile",
            "households",
            "nat. units",
            "seconds",
            "households/s",
            "x rate",
            "peak GiB",
            "target s",
            "s / target",
            "slowest phase",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
