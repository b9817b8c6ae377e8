"""The centre's pages (issue #12, "Speed"): the hotspot computation behind the Hotspots page
for a year of incidents, and every centre page in headless Chromium.

    .venv/bin/python -m benchmarks.bench_centre_pages [--database-url URL]

Sets up a scratch database the way ``wangge demo --months 12`` does (the Yanchi county, a
published grid plan of ~1,700 cells, a year of activity: grid workers, visits, service
points, five-colour history, incidents moved along the closed loop) but with the background
incident rate raised so that the year holds about 120,000 incidents, as the issue asks
(``wangge demo`` draws 0.5 per household and year, ~36,000).  ``--database-url`` uses an
existing demo database instead (nothing is created or dropped).  The scratch database is
dropped at the end.

**Computation** (in this process, the page's functions and arguments: what
``dashboards/_centre_data.py`` calls): incidents of the year read with
``case_queries.incidents_in_period``, then

* *cells*: ``hotspots.gi_star`` (incidents per household, queen, FDR) on the published
  plan's cells built like the page's ``cell_incident_frame``; baseline: libpysal's queen
  contiguity and ``esda.G_Local`` (star, binary, analytic) on the same frame;
* *H3 res 9*: ``hotspots.hex_hotspots(points, resolution=9)``; baseline: the same binning,
  ring weights and hexagon polygons with ``esda.G_Local`` in place of Gi*;
* *emerging*: ``hotspots.emerging_hotspots`` over 52 weekly slices (a 364-day period) on
  the cells; baseline: points located in cells with ``geopandas.sjoin``, the cube, queen
  weights, 52 separate ``esda.G_Local`` calls with BH correction per slice
  (``scipy.stats.false_discovery_control``) and a Mann–Kendall test per cell
  (``scipy.stats.kendalltau`` of the z series against time).

Each is the median of 3 runs; the baselines likewise.

**Pages** (Playwright driving Debian's Chromium, headless, 1920x1080): Streamlit serves
``dashboards/app.py`` against the database the way ``tests/_fixtures/browser.py`` does (the
superuser URL, ``WANGGE_ALLOW_SUPERUSER=1``, ``WANGGE_DEV_LOGIN=centre``; cache period 1 h).
A page is **complete** when, continuously for 0.5 s (the time reported is the start of
that interval):

* Streamlit's script run has finished: ``.stApp[data-test-script-state=notRunning]`` (the
  running indicator is gone) and no element is stale (``[data-stale=true]``);
* the page's own elements are there: its title, its metric figures, its tables
  (``stDataFrame``), its charts drawn (a Vega ``canvas``/``svg``) and each of its
  ``st_folium`` map iframes holding a drawn Leaflet map with at least the expected number of
  GeoJSON features (Hotspots: every cell of the plan; overview: every township);
* after a filter change, additionally: the script has run since the click and the page's
  figures changed (the "Incidents" metric and the cell map's features).

*Cold* is the first visit after the server started (pages in the table's order); *warm*
is the median of 5 later visits, each a new browser page (a new Streamlit session, so the
whole script runs with the server's caches warm).  *script s* is how long Streamlit's script
ran in that time (from the browser's view: the app's script state ``running`` until it
changes), the rest is the browser loading the app and drawing.  A filter change is timed
from the click on the option to the page complete again: a category on Hotspots (3
different categories, each in a new session, so each one's analysis is computed, not
cached; median), the same category again (cached analysis), and the period from the
default 30 days to 365 days on Hotspots and on Operations (first time: read and computed;
again, in a new session: cached).  The baseline row is the County overview page, measured
the same way; ratios are against its warm render.

The load average before and after is printed: the run itself keeps both cores of a
2-core machine busy, so it says little about other work; look at it before starting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text

from benchmarks._table import print_table, timed
from geo import _hex, hotspots, incidents, plans, profiles, synth, synth_activity
from geo.db import activity, case_queries, provision, queries
from geo.db import io as db_io
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.settings import LOCAL_TZ

COUNTY = "640323"  # Yanchi
#: Background incidents per household and year: ~120,000 incidents in the year on Yanchi's
#: 68,487 households (``wangge demo`` uses 0.5).
RATE = 1.72
VIEWPORT = {"width": 1920, "height": 1080}
STABLE_S = 0.5
WARM = 5
BASELINE = "County overview (baseline)"


def _median(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        out, seconds = timed(fn)
        times.append(seconds)
    return statistics.median(times), out


# ------------------------------------------------------------------------------- set-up


def _set_up(url: str) -> None:
    """Yanchi, a published plan and a year of activity, as ``wangge demo --months 12``."""
    county = synth.generate_county("yanchi", seed=20201)
    engine = get_engine(url)
    now = pd.Timestamp.now(tz="UTC")
    with engine.begin() as conn:
        db_io.write_county(conn, county)
        built = plans.build_county_plan(conn, county_code=COUNTY, n_jobs=2)
        plan_id = plans.save_plan(conn, built, county_code=COUNTY, name="bench", created_by="bench")
        plans.publish_plan(conn, plan_id, by="bench")
        cells = queries.plan_cells(conn, plan_id)
        assignment = queries.plan_assignment(conn, plan_id)
    acts = synth_activity.generate_activity(
        county.households,
        seed=20201,
        start=now.normalize() - pd.Timedelta(days=round(30.44 * 12)),
        months=12,
        incidents_per_household_year=RATE,
        cells=pd.DataFrame(cells[["code", "village_code"]]),
        assignment=assignment,
        villages=county.villages,
        townships=county.townships,
    )
    acts.incidents = acts.incidents[acts.incidents["reported_at"] < now]
    with engine.begin() as conn:
        incidents.sync_platforms(conn, profiles.load_profile("yanchi"))
        activity.write_activity(conn, acts, now=now, plan_id=plan_id)


@contextmanager
def _database(url: str | None) -> Iterator[tuple[str, float]]:
    if url:
        yield url, 0.0
        return
    with scratch_database(provision.server_url(), "bench_centre") as scratch:
        _, setup_s = timed(lambda: _set_up(scratch))
        yield scratch, setup_s


def _year() -> tuple[datetime, datetime]:
    """The frame's "365 days" period: whole local days ending with today."""
    end = pd.Timestamp.now(tz=LOCAL_TZ).normalize() + pd.Timedelta(days=1)
    return (end - pd.Timedelta(days=365)).to_pydatetime(), end.to_pydatetime()


# -------------------------------------------------------------------------- computation


def bench_computation(url: str) -> tuple[list[list[object]], dict[str, object]]:
    import esda
    import streamlit.logger
    from libpysal.graph import Graph
    from scipy import stats

    streamlit.logger.set_log_level("error")  # no "no runtime" warnings for its caches
    from dashboards._centre_data import cell_incident_frame

    engine = get_engine(url)
    start, end = _year()
    read_s, year = _median(
        lambda: case_queries.incidents_in_period(engine, COUNTY, start=start, end=end), 1
    )
    plan = queries.published_plan_id(engine, COUNTY)
    cells = queries.plan_cells(engine, plan)
    cells["township_code"] = cells["village_code"].str[:9]
    points = gpd.GeoDataFrame(
        year, geometry=gpd.points_from_xy(year["lon"], year["lat"]), crs=4326
    )  # the page's filtered_incidents with no filter
    info = {"incidents": len(points), "cells": len(cells), "read_s": read_s}
    rows: list[list[object]] = []

    # cells: Gi* of incidents per household, queen, FDR
    frame = cell_incident_frame(cells, points)
    ours_s, ours = _median(
        lambda: hotspots.gi_star(frame, "incidents", denominator="households", weights="queen")
    )
    values = frame["incidents"].to_numpy(float) / frame["households"].to_numpy(float)
    valid = np.isfinite(values) & (frame["households"].to_numpy() > 0)

    def esda_cells():
        graph = Graph.build_contiguity(frame.reset_index(drop=True)[["geometry"]], rook=False)
        w = graph.sparse.tocsr()[valid][:, valid]
        w.setdiag(0)
        w.eliminate_zeros()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return esda.G_Local(
                values[valid], Graph.from_sparse(w), transform="B", star=True, permutations=0
            )

    base_s, ref = _median(esda_cells)
    weights_s, _ = _median(lambda: hotspots.build_weights(frame, weights="queen"))
    diff = float(np.nanmax(np.abs(ours["gi_z"].to_numpy()[valid] - ref.Zs)))
    rows.append(
        ["Gi* on the plan's cells (incidents per household, queen, FDR)",
         f"{len(frame):,} cells", base_s, ours_s, base_s / ours_s, "<= 1 s",
         _verdict(ours_s <= 1),
         f"max |z - esda| {diff:.1e}; both build queen weights (libpysal): {weights_s:.2f} s"]
    )  # fmt: skip

    # H3 resolution 9: occupied hexagons, k = 1 ring, FDR
    ours_s, hexes = _median(lambda: hotspots.hex_hotspots(points, resolution=9))

    def esda_hex():
        hx, _, counts = hotspots._bin_points(points, 9, None)
        w = _hex.ring_weights(hx, k=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = esda.G_Local(counts, Graph.from_sparse(w), transform="B", star=True, permutations=0)
        _hex.cell_polygons(hx)
        return g

    base_s, ref = _median(esda_hex)
    diff = float(np.abs(hexes["gi_z"].to_numpy() - ref.Zs).max())
    rows.append(
        ["H3 Gi* at resolution 9 (binning, ring weights, FDR, polygons)",
         f"{len(hexes):,} hexagons", base_s, ours_s, base_s / ours_s, "<= 1.5 s",
         _verdict(ours_s <= 1.5), f"max |z - esda| {diff:.1e}"]
    )  # fmt: skip

    # emerging hot spots over 52 weekly slices on the cells (the page's arguments)
    e_start = pd.Timestamp(end) - pd.Timedelta(days=364)
    in_scope = points[points["cell_code"].isin(cells["code"])]
    in_scope = in_scope[in_scope["reported_at"] >= e_start]
    units = cells[["code", "geometry"]]
    ours_s, emerging = _median(
        lambda: hotspots.emerging_hotspots(
            in_scope,
            freq="7D",
            start=e_start,
            end=pd.Timestamp(end),
            units=units,
            unit_code="code",
        )
    )
    n_slices = emerging.attrs["z"].shape[1]

    def esda_emerging():
        joined = gpd.sjoin(in_scope[["reported_at", "geometry"]], units, predicate="within")
        week = ((joined["reported_at"] - e_start) // pd.Timedelta(days=7)).to_numpy()
        loc = pd.Index(units["code"]).get_indexer(joined["code"])
        cube = np.zeros((len(units), n_slices))
        np.add.at(cube, (loc, week), 1)
        graph = Graph.build_contiguity(units.reset_index(drop=True)[["geometry"]], rook=False)
        z = np.zeros_like(cube)
        q = np.ones_like(cube)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in range(n_slices):
                g = esda.G_Local(cube[:, s], graph, transform="B", star=True, permutations=0)
                z[:, s] = np.nan_to_num(g.Zs)
                q[:, s] = stats.false_discovery_control(np.nan_to_num(2 * g.p_norm, nan=1.0))
            t = np.arange(n_slices)
            trend = np.array([stats.kendalltau(t, row).pvalue for row in z])
        return z, q, trend

    base_s, (z_ref, _, _) = _median(esda_emerging)
    diff = float(np.abs(emerging.attrs["z"] - z_ref).max())
    rows.append(
        [f"Emerging hot spots, {n_slices} weekly slices (Gi* per slice, Mann-Kendall)",
         f"{len(emerging):,} cells x {n_slices}", base_s, ours_s, base_s / ours_s, "<= 5 s",
         _verdict(ours_s <= 5 and n_slices == 52), f"max |z - esda| {diff:.1e}"]
    )  # fmt: skip
    return rows, info


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -------------------------------------------------------------------------------- pages

#: A number summing up the cell map's features (incidents and classes), to see it change.
MAP_SIGNATURE = """(frame) => { let w; try { w = frame && frame.contentWindow; } catch (e) {}
  if (!w || !w.L) return null; let sig = 0, i = 0;
  for (const k in w) { const v = w[k]; if (v && v instanceof w.L.GeoJSON) v.eachLayer(l => {
    const f = l.feature && l.feature.properties; i += 1;
    if (f && 'gi_bin' in f) sig += i * (f.gi_bin + 4) + 1e-3 * i * (Number(f.incidents) || 0);
  }); } return sig; }"""

FIRST_MAP_SIGNATURE = (
    "() => (" + MAP_SIGNATURE + ")(document.querySelector('iframe[title*=\"st_folium\"]'))"
)

#: Whether the page is complete: script run finished, nothing stale, the page's elements
#: present and drawn.  ``spec``: title, metrics, tables, charts (minimum counts), maps (a
#: list of minimum GeoJSON feature counts, one per st_folium iframe; ``visible`` maps must
#: also be drawn on a canvas), ``ran`` (a script run must have started since the flag was
#: set), ``changed`` (the "Incidents" metric must differ from this text).
COMPLETE = (
    """(spec) => {
  const mapSignature = """
    + MAP_SIGNATURE
    + """;
  const app = document.querySelector('.stApp');
  if (!app || app.dataset.testScriptState !== 'notRunning') return 'script running';
  if (document.querySelector('[data-stale="true"]')) return 'stale elements';
  if (spec.since !== null && !(window.__benchRuns || [])
      .some(r => r[0] === 'running' && r[1] >= spec.since)) return 'no script run since the click';
  const h1 = document.querySelector('h1');
  if (!h1 || !h1.innerText.includes(spec.title)) return 'no title';
  const count = (sel) => document.querySelectorAll(sel).length;
  if (count('[data-testid="stMetric"]') < spec.metrics) return 'metrics missing';
  if (count('[data-testid="stDataFrame"]') < spec.tables) return 'tables missing';
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => c.querySelector('canvas, svg'));
  if (charts.length < spec.charts) return 'charts not drawn';
  const frames = [...document.querySelectorAll('iframe[title*="st_folium"]')];
  if (frames.length < spec.maps.length) return 'map iframes missing';
  for (let i = 0; i < spec.maps.length; i++) {
    let w; try { w = frames[i].contentWindow; } catch (e) { return 'map iframe closed'; }
    if (!w || !w.L) return 'map ' + i + ' not loaded';
    if (spec.visible && !w.document.querySelector(
        '.leaflet-container canvas, .leaflet-container path')) return 'map ' + i + ' not drawn';
    let n = 0;
    for (const k in w) { const v = w[k];
      if (v && v instanceof w.L.GeoJSON) n += v.getLayers().length; }
    if (n < spec.maps[i]) return 'map ' + i + ': ' + n + ' features';
  }
  if (spec.mapsig !== null && mapSignature(frames[0]) === spec.mapsig) return 'map unchanged';
  if (spec.changed !== null) {
    const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
      .find(e => e.innerText.startsWith(spec.figure));
    if (!m || m.innerText === spec.changed) return 'figure unchanged';
  }
  return true;
}"""
)

#: Init script: ``window.__benchRuns`` records each change of Streamlit's script state
#: (``running``, ``notRunning``, ...) with its ``performance.now()``.
RECORD_RUNS = """(() => { if (window.top !== window) return; window.__benchRuns = [];
  new MutationObserver(ms => { for (const m of ms) { const el = m.target;
      if (el.classList && el.classList.contains('stApp'))
        window.__benchRuns.push([el.dataset.testScriptState, performance.now()]); } })
    .observe(document, {subtree: true, attributes: true,
                        attributeFilter: ['data-test-script-state']}); })();"""

#: Seconds Streamlit's script ran (from ``running`` to the next other state) since ``t0``
#: (ms, ``performance.now()``), and the number of runs.
SCRIPT_TIME = """(t0) => { let total = 0, runs = 0, from = null;
  for (const [state, t] of window.__benchRuns || []) { if (t < t0) continue;
    if (state === 'running' && from === null) { from = t; runs += 1; }
    else if (state !== 'running' && from !== null) { total += t - from; from = null; } }
  return [total / 1000, runs]; }"""

#: The text of the metric whose label starts with the argument (null when there is none).
FIGURE = """(label) => { const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
  .find(e => e.innerText.startsWith(label)); return m ? m.innerText : null; }"""


def _spec(
    title: str, *, metrics=0, tables=0, charts=0, maps=(), visible=True, figure="Incidents"
) -> dict:
    return {"title": title, "metrics": metrics, "tables": tables, "charts": charts,
            "maps": list(maps), "visible": visible, "since": None, "changed": None, "mapsig": None,
            "figure": figure}  # fmt: skip


def _until_complete(page, spec: dict, started: float, *, timeout_s: float = 180) -> float:
    """Seconds from ``started`` to the start of the first interval of ``STABLE_S`` in which
    the page is complete (polled every 50 ms)."""
    first, state = None, None
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        state = page.evaluate(COMPLETE, spec)
        now = time.perf_counter()
        if state is True:
            first = now if first is None else first
            if now - first >= STABLE_S:
                return first - started
        else:
            first = None
        page.wait_for_timeout(50)
    raise TimeoutError(f"{spec['title']!r} not complete after {timeout_s:.0f} s: {state}")


def _open(browser, url: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.add_init_script(RECORD_RUNS)
    return page


def _render(browser, url: str, spec: dict) -> tuple[float, float]:
    """Seconds from navigation to the page complete, and of them the script's run."""
    page = _open(browser, url)
    try:
        started = time.perf_counter()
        page.goto(url)
        seconds = _until_complete(page, spec, started)
        return seconds, page.evaluate(SCRIPT_TIME, 0)[0]
    finally:
        page.close()


def _change(
    browser, url: str, spec: dict, choose: Callable[[object], Callable[[], None]]
) -> tuple[float, float, int]:
    """Open ``url`` complete, then time ``choose(page)()`` (the click that changes a filter)
    until the page is complete again with changed figures: seconds, of them the script's
    runs, and the number of runs."""
    page = _open(browser, url)
    try:
        page.goto(url)
        _until_complete(page, spec, time.perf_counter())
        click = choose(page)  # open the widget, find the option (not timed)
        since = page.evaluate("() => performance.now()")
        after = {
            **spec,
            "since": since,
            "changed": page.evaluate(FIGURE, spec["figure"]),
            "mapsig": page.evaluate(FIRST_MAP_SIGNATURE) if spec["maps"] else None,
        }
        started = time.perf_counter()
        click()
        seconds = _until_complete(page, after, started)
        script, runs = page.evaluate(SCRIPT_TIME, since)
        return seconds, script, runs
    finally:
        page.close()


def _pick(label: str, option: str, *, sidebar: bool = False):
    """A chooser: open the select ``label`` and return the click on ``option``."""

    def choose(page):
        scope = page.locator("[data-testid='stSidebar']") if sidebar else page
        scope.get_by_label(label).first.click()
        target = page.get_by_role("option", name=option).first
        target.wait_for(timeout=30_000)
        return target.click

    return choose


def _case_id(url: str) -> int:
    """The county's case with the most moves (escalated, returned, reopened ones first)."""
    with get_engine(url).connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT e.incident_id FROM incident_event e JOIN incident i "
                    "ON i.id = e.incident_id WHERE i.township_code LIKE :c "
                    "GROUP BY e.incident_id ORDER BY count(*) DESC, e.incident_id LIMIT 1"
                ),
                {"c": f"{COUNTY}%"},
            ).scalar_one()
        )


def bench_pages(url: str) -> tuple[list[list[object]], list[list[object]]]:
    from playwright.sync_api import sync_playwright

    from tests._fixtures.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

    engine = get_engine(url)
    n_cells = len(queries.plan_cells(engine, queries.published_plan_id(engine, COUNTY)))
    n_townships = len(queries.unit_summary(engine, "township", COUNTY))
    case_id = _case_id(url)
    n_platforms = len(case_queries.platforms(engine))
    pages = {
        BASELINE: (
            "/", _spec("County overview", metrics=5, tables=1, maps=[n_townships])
        ),
        "Operations": (
            "/operations",
            _spec("Operations", metrics=6 + 2 * n_platforms, tables=3, charts=1,
                  figure="Reported in period"),
        ),
        "Hotspots": (
            "/hotspots", _spec("Hotspots", metrics=5, tables=1, charts=1, maps=[n_cells])
        ),
        "Coverage": (
            "/coverage", _spec("Coverage", metrics=3, tables=1, maps=[0, 1], visible=False)
        ),
        f"Case #{case_id}": (
            f"/case?id={case_id}", _spec("Case", metrics=6, tables=2, maps=[1])
        ),
    }  # fmt: skip
    os.environ["WANGGE_ALLOW_SUPERUSER"] = "1"  # the superuser URL, as the browser tests
    render_rows, change_rows = [], []
    with (
        streamlit_server(url, cache_ttl_s=3600, dev_login="centre", timeout_s=120) as base,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        cold = {
            name: _render(browser, base + path, spec)[0] for name, (path, spec) in pages.items()
        }
        warm: dict[str, list[tuple[float, float]]] = {name: [] for name in pages}
        for _ in range(WARM):
            for name, (path, spec) in pages.items():
                warm[name].append(_render(browser, base + path, spec))
        baseline = statistics.median(t for t, _ in warm[BASELINE])
        for name in pages:
            median = statistics.median(t for t, _ in warm[name])
            script = statistics.median(s for _, s in warm[name])
            target = name != BASELINE
            render_rows.append(
                [name, cold[name], median, script, min(t for t, _ in warm[name]),
                 median / baseline, "<= 3 s" if target else "baseline",
                 _verdict(median <= 3) if target else ""]
            )  # fmt: skip

        hot_url, hot_spec = base + pages["Hotspots"][0], pages["Hotspots"][1]
        ops_url, ops_spec = base + pages["Operations"][0], pages["Operations"][1]
        cats = case_queries.categories(engine)["name"].tolist()[:3]
        year = "365 days 近一年"
        per_category = [
            _change(browser, hot_url, hot_spec, _pick("Category 类别", c)) for c in cats
        ]
        changes = [
            ("Hotspots: a category (3 different ones, median)",
             [statistics.median(x) for x in zip(*per_category, strict=True)],
             f"max {max(t for t, _, _ in per_category):.2f} s; each analysed afresh"),
            ("Hotspots: the same category again",
             _change(browser, hot_url, hot_spec, _pick("Category 类别", cats[0])),
             "cached analysis"),
            ("Hotspots: period 30 days -> 365 days",
             _change(browser, hot_url, hot_spec, _pick("Period 时段", year, sidebar=True)),
             "first time: a year read and analysed"),
            ("Hotspots: period 30 days -> 365 days again",
             _change(browser, hot_url, hot_spec, _pick("Period 时段", year, sidebar=True)),
             "cached"),
            ("Operations: period 30 days -> 365 days",
             _change(browser, ops_url, ops_spec, _pick("Period 时段", year, sidebar=True)),
             "first time"),
            ("Operations: period 30 days -> 365 days again",
             _change(browser, ops_url, ops_spec, _pick("Period 时段", year, sidebar=True)),
             "cached"),
        ]  # fmt: skip
        browser.close()
    for name, (seconds, script, runs), note in changes:
        change_rows.append(
            [name, seconds, script, int(runs), seconds / baseline, "<= 1.5 s",
             _verdict(seconds <= 1.5), note]
        )  # fmt: skip
    return render_rows, change_rows


# --------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench_centre_pages")
    parser.add_argument("--database-url", help="an existing demo database (skips set-up)")
    args, _ = parser.parse_known_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    with _database(args.database_url) as (url, setup_s):
        compute_rows, info = bench_computation(url)
        render_rows, change_rows = bench_pages(url)
    load_after = os.getloadavg()
    setup = f"set-up {setup_s:.0f} s" if setup_s else "existing database"
    print_table(
        f"Hotspot computation behind the Hotspots page, Yanchi demo, a year: "
        f"{info['incidents']:,} incidents ({info['read_s']:.2f} s to read them with "
        f"incidents_in_period), {info['cells']:,} published cells; {setup}; median of 3",
        ["analysis", "size", "baseline s", "geo.hotspots s", "baseline / ours", "target",
         "result", "check"],
        compute_rows,
    )  # fmt: skip
    print_table(
        "Centre pages in headless Chromium 1920x1080: first complete render; baseline: "
        f"County overview; warm = median of {WARM} new sessions (default period: 30 days)",
        [
            "page",
            "cold s",
            "warm s",
            "of which script s",
            "warm best s",
            "x overview",
            "target",
            "result",
        ],
        render_rows,
    )
    print_table(
        "Changing a filter: from the click to the page complete again with changed figures",
        ["change", "s", "of which script s", "script runs", "x overview warm", "target",
         "result", "note"],
        change_rows,
    )  # fmt: skip
    print(
        f"\nload average (1/5/15 min): before {_load(load_before)}, after {_load(load_after)}"
        f"; run date {time.strftime('%Y-%m-%d %H:%M %Z')}, {time.perf_counter() - started:.0f} s"
    )


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
