"""The planner's workbench, server side: one edit on a village of ~1,000 households.

Generates the Yanchi-scale county (seed 1) into a scratch database, builds and saves its
plan (the full-county build is the baseline, timed in the same run), takes the village whose
household count is nearest 1,000 and times, each in its own transaction rolled back (so every
repetition starts from the same plan):

- ``move`` 5 households to the adjacent cell, ``split`` the largest cell in 2, ``merge`` two
  adjacent cells (each: lock, read the village, edit, re-tessellate, rule checks, write back,
  plan metrics, history snapshot) - target p95 <= 150 ms;
- ``undo`` of a move (restore the replaced rows, metrics, rule checks);
- ``open`` the village as the page does (:func:`geo.plans.village_view`) - target <= 2 s.

Then, in the browser (headless Debian Chromium through Playwright, the dashboards served by
Streamlit as a planner): open each of the villages nearest 1,000 households in the
workbench (from choosing it until its map shows all its cells; first opening, nothing
cached) - target <= 2 s; and split a cell, then undo, each from the click until the map
shows the new number of cells - target <= 1 s.  ``--no-browser`` skips this part.

    python -m benchmarks.bench_planner [--reps 30] [--browser-reps 5] [--no-browser]
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import numpy as np

from benchmarks._table import machine, print_table, timed
from tests._fixtures.plans import adjacent_cells

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_EDIT_S = 0.150
TARGET_OPEN_S = 2.0
TARGET_SHOWN_S = 1.0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 30
    from geo import plans
    from geo.db import io, migrate, provision
    from geo.db.session import get_engine
    from geo.synth import generate_county

    county = generate_county("yanchi", seed=1)
    db = f"bench_planner_{uuid.uuid4().hex[:6]}"
    url = provision.create_database(SERVER, db)
    engine = get_engine(url)
    try:
        migrate.upgrade(url)
        with engine.begin() as conn:
            io.write_county(conn, county)
        code = str(county.county["code"].iloc[0])
        county = None
        with engine.begin() as conn:
            plan, t_build = timed(lambda: plans.build_county_plan(conn, n_jobs=1))
            plan_id = plans.save_plan(conn, plan, county_code=code, name="bench")
        sizes = plan.assignment.groupby("village_code").size()
        village = str((sizes - 1000).abs().idxmin())
        n_village = int(sizes[village])
        with engine.connect() as conn:
            view, _t_first_open = timed(lambda: plans.village_view(conn, plan_id, village))
        a, b = adjacent_cells(view.cells)
        movers = tuple(view.households.loc[view.households["cell_code"] == a, "code"][:5])
        biggest = view.cells.sort_values("households")["code"].iloc[-1]
        edits = {
            "move 5 households": plans.Move(movers, b),
            "split largest cell in 2": plans.Split(biggest, 2),
            "merge two cells": plans.Merge(a, b),
        }

        def once(fn) -> tuple[float, float]:
            with engine.connect() as conn:
                tx = conn.begin()
                try:
                    started = time.perf_counter()
                    inner = fn(conn)
                    return time.perf_counter() - started, inner
                finally:
                    tx.rollback()

        rows = []
        for name, edit in edits.items():
            times = []
            for _ in range(reps):
                t, _inner = once(
                    lambda conn, e=edit: (
                        plans.edit_plan(conn, plan_id, e, expected_version=1, by="bench").seconds
                    )
                )
                times.append(t)
            rows.append(_row(name, times, TARGET_EDIT_S, t_build))

        def move_then_undo(conn):
            plans.edit_plan(conn, plan_id, edits["move 5 households"], expected_version=1, by="b")
            started = time.perf_counter()
            plans.undo_edit(conn, plan_id, expected_version=2, by="b")
            return time.perf_counter() - started

        undo_times = [once(move_then_undo)[1] for _ in range(reps)]
        rows.append(_row("undo (after a move)", undo_times, TARGET_EDIT_S, t_build))
        open_times = []
        for _ in range(reps):
            with engine.connect() as conn:
                _, t = timed(lambda c=conn: plans.village_view(c, plan_id, village))
            open_times.append(t)
        rows.append(_row("open the village (read + checks)", open_times, TARGET_OPEN_S, t_build))
        print_table(
            f"Workbench edits, server side, village {village} of {n_village} households "
            f"({reps} repetitions each, ms; full-county build {t_build:.1f} s in this run; "
            f"{machine()}; load avg {os.getloadavg()[0]:.1f})",
            ["operation", "p50 ms", "p95 ms", "max ms", "target ms", "p95 / full build", "ok"],
            rows,
        )
        if "--no-browser" not in args:
            n_browser = (
                int(args[args.index("--browser-reps") + 1]) if "--browser-reps" in args else 5
            )
            near = (sizes - 1000).abs().sort_values().index[:n_browser]
            browser_rows = bench_browser(url, plan_id, [str(v) for v in near], t_build)
    finally:
        engine.dispose()
        provision.drop_database(SERVER, db)
    if "--no-browser" not in args:
        print_table(
            "Workbench in headless Chromium, villages of "
            f"{', '.join(str(int(sizes[v])) for v in near)} households (ms; "
            f"load avg {os.getloadavg()[0]:.1f})",
            ["operation", "p50 ms", "p95 ms", "max ms", "target ms", "p95 / full build", "ok"],
            browser_rows,
        )


def bench_browser(url: str, plan_id: int, villages: list[str], t_build: float) -> list[list]:
    """Open each village in the workbench, then split a cell and undo it, timing each until
    the map shows the result (a count of cell labels); rows for :func:`print_table`."""
    from playwright.sync_api import sync_playwright

    from geo import plans
    from geo.db.session import get_engine
    from tests._fixtures.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

    os.environ["WANGGE_ALLOW_SUPERUSER"] = "1"  # the superuser URL, as the browser tests
    with get_engine(url).connect() as conn:
        cells = {v: plans.village_view(conn, plan_id, v).cells["code"].tolist() for v in villages}
        town = plans.plan_villages(conn, plan_id).set_index("village_code")["township_code"]
    opened, edited, undone = [], [], []
    with (
        streamlit_server(url, cache_ttl_s=3600, dev_login="planner", timeout_s=120) as base,
        sync_playwright() as p,
    ):
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{base}/planner")
        try:
            page.get_by_label("Village 村/社区", exact=True).first.wait_for(timeout=120_000)
        except Exception:
            page.screenshot(path="/tmp/bench_planner_failed.png")
            print(page.url, page.inner_text("body")[:500])
            raise
        for village in villages:
            _choose(page, "Township 乡镇", town[village])
            page.wait_for_timeout(3000)  # the township's first village is drawn first
            started = time.perf_counter()
            _choose(page, "Village 村/社区", village)
            opened.append(_until_map(page, cells[village], started))
            n = len(cells[village])
            started = time.perf_counter()
            page.get_by_role("button", name="Split", exact=True).click()
            edited.append(_until_labels(page, n + 1, started))
            page.wait_for_timeout(1500)
            started = time.perf_counter()
            page.get_by_role("button", name="Undo").click()
            undone.append(_until_labels(page, n, started))
            page.wait_for_timeout(1500)
        chromium.close()
    return [
        _row("open a village (choose -> map drawn)", opened, TARGET_OPEN_S, t_build),
        _row("split a cell (click -> map shows it)", edited, TARGET_SHOWN_S, t_build),
        _row("undo (click -> map shows it)", undone, TARGET_SHOWN_S, t_build),
    ]


def _choose(page, label: str, code: str) -> None:
    """Choose the option holding ``code`` in a Streamlit selectbox (typed: the list is
    virtual, options far down are not in the page until scrolled to)."""
    page.get_by_label(label, exact=True).first.click()
    page.keyboard.type(code)
    page.get_by_role("option", name=code, exact=False).first.click()


# the number of cell labels, and whether the map holds a feature of cell ``code`` (the
# workbench adds its cells as a layer to a kept map, so they are not in the page's HTML)
_LABELS = "(code) => [document.querySelectorAll('.wg-label').length, " \
    "!!window.map && Object.values(window.map._layers).some(" \
    "(l) => !!(l.feature && l.feature.properties.code === code))]"  # fmt: skip


def _until_map(page, codes: list[str], started: float, timeout_s: float = 60) -> float:
    """Seconds from ``started`` until a map shows ``len(codes)`` cell labels and the
    village's first cell (a feature of the map)."""
    return _poll(page, lambda got: got == [len(codes), True], codes[0], started, timeout_s)


def _until_labels(page, n: int, started: float, timeout_s: float = 60) -> float:
    return _poll(page, lambda got: got[0] == n, "", started, timeout_s)


def _poll(page, ok, code: str, started: float, timeout_s: float) -> float:
    while time.perf_counter() - started < timeout_s:
        for frame in page.frames:
            try:
                got = frame.evaluate(_LABELS, code)
            except Exception:  # a frame being replaced
                continue
            if got[0] and ok(got):
                return time.perf_counter() - started
        time.sleep(0.02)
    raise TimeoutError(f"the map did not show the expected cells within {timeout_s} s")


def _row(name: str, times: list[float], target: float, full: float) -> list[object]:
    t = np.asarray(times)
    p95 = float(np.percentile(t, 95))
    return [
        name,
        round(float(np.median(t)) * 1000, 1),
        round(p95 * 1000, 1),
        round(float(t.max()) * 1000, 1),
        round(target * 1000),
        f"1/{full / p95:,.0f}",
        "ok" if p95 <= target else "MISSED",
    ]


if __name__ == "__main__":
    main()
