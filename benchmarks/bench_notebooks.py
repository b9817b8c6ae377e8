"""Analysts' notebooks: each one's run time, top to bottom, on the demo counties.

    .venv/bin/python -m benchmarks.bench_notebooks

Sets up two throw-away databases the way an analyst gets one, ``wangge demo --profile
<p>`` through the real CLI (the county, a published grid plan, workers, visits, service
points, five-colour history, three months of incidents): the Yanchi demo (68,487
households, ~1,720 cells) and the small demo as the reference row.  Each notebook of
``notebooks/`` is executed with nbclient in a fresh kernel (kernel start included), against
``DATABASE_URL`` of that database.  Target (issue #16): <= 60 s a notebook on the Yanchi demo.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import nbformat
from nbclient import NotebookClient
from typer.testing import CliRunner

from benchmarks._table import print_table, timed
from geo.cli import app
from geo.db import provision
from geo.db.provision import scratch_database
from geo.settings import ROOT

# Throw-away databases of the server's superuser, as the test suite uses (docs/security.md).
os.environ.setdefault("WANGGE_ALLOW_SUPERUSER", "1")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TARGET_S = 60.0


@contextmanager
def _demo(profile: str) -> Iterator[tuple[str, float]]:
    """A scratch database holding ``wangge demo --profile <profile>``; its URL and set-up s."""
    with scratch_database(provision.server_url(), f"bench_nb_{profile}") as url:
        before = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = url
        try:
            result, seconds = timed(lambda: CliRunner().invoke(app, ["demo", "--profile", profile]))
            if result.exit_code != 0:
                raise RuntimeError(f"wangge demo --profile {profile} failed:\n{result.output}")
            yield url, seconds
        finally:
            if before is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = before


def _run(path, url: str) -> float:
    notebook = nbformat.read(path, as_version=4)
    os.environ["DATABASE_URL"] = url
    with tempfile.TemporaryDirectory() as work:
        client = NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}
        )
        return timed(client.execute)[1]


def main() -> None:
    times: dict[str, dict[str, float]] = {}
    setups = {}
    for profile in ("small", "yanchi"):
        with _demo(profile) as (url, setup_s):
            setups[profile] = setup_s
            times[profile] = {path.name: _run(path, url) for path in NOTEBOOKS}
    rows = []
    for path in NOTEBOOKS:
        small, yanchi = times["small"][path.name], times["yanchi"][path.name]
        rows.append([path.name, small, yanchi, "PASS" if yanchi <= TARGET_S else "FAIL"])
    rows.append(["all notebooks", sum(times["small"].values()), sum(times["yanchi"].values()), ""])
    print_table(
        f"Notebooks top to bottom (nbclient, fresh kernel each); demo set-up small "
        f"{setups['small']:.0f} s, yanchi {setups['yanchi']:.0f} s; target <= {TARGET_S:.0f} s "
        "a notebook on the Yanchi demo",
        ["notebook", "small demo s (reference)", "yanchi demo s", "result"],
        rows,
    )


if __name__ == "__main__":
    main()
