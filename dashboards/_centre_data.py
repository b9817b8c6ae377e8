"""Cached data of the centre's pages (Hotspots, Coverage, Operations, a case).

Every helper calls ``geo`` (the public functions of ``geo.centre``, ``geo.incidents``,
``geo.hotspots``, ``geo.heatmaps``, ``geo.coverage`` and the read queries of ``geo.db``) and
keeps the result for ``WANGGE_CACHE_TTL`` seconds in a cache keyed by the user's
row-level-security scope as well (:func:`dashboards._shared.scoped_cache`), so a township
official never gets rows cached for another township.  Arguments are plain values (codes,
datetimes, tuples), so cache keys are cheap and stable.

Counts that come from households (households, residents, five colours, density) pass
through :func:`geo.privacy.suppress_small` at the level they are shown, with
``k = geo.settings.get_settings().suppress_below``: the centre's staff have no household
access.  Cases themselves (an incident and its moves) are the centre's work and are shown.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from scipy import sparse
from sqlalchemy import Engine

from dashboards._shared import scoped_cache
from geo import centre, coverage, heatmaps, hotspots, incidents, privacy
from geo.db import case_queries, queries
from geo.db.session import get_engine
from geo.settings import get_settings

log = logging.getLogger(__name__)
TTL = get_settings().cache_ttl_s

#: Gi* bins (-3..3) as words, for tables and legends.
GI_LABELS = {
    3: "hot spot 99 %", 2: "hot spot 95 %", 1: "hot spot 90 %", 0: "not significant",
    -1: "cold spot 90 %", -2: "cold spot 95 %", -3: "cold spot 99 %",
}  # fmt: skip


def k() -> int:
    """The suppression threshold (households) of views without household access."""
    return get_settings().suppress_below


def engine() -> Engine:
    """The database engine (cached per URL by :func:`geo.db.session.get_engine`)."""
    return get_engine()


def run_page(body: Callable[[], None]) -> None:
    """Run a page's ``body``; a failure becomes one calm line, never a traceback.

    ``st.stop`` and ``st.rerun`` pass through (they are not ``Exception``\\ s).
    """
    try:
        body()
    except Exception as error:
        log.exception("centre page failed")
        name = type(error).__name__
        if "sqlalchemy" in type(error).__module__ or "psycopg" in type(error).__module__:
            st.error(
                "The database cannot be reached or answered with an error right now "
                f"({name}); the page will show the figures again once it answers.",
                icon="⚠️",
            )
        else:
            st.error(
                f"This view could not be drawn ({name}). The rest of the pages still work; "
                "the server log holds the details.",
                icon="⚠️",
            )


# ------------------------------------------------------------------------------ reference


@scoped_cache()
def counties() -> pd.DataFrame:
    return queries.county_codes(engine())


@scoped_cache()
def platforms() -> pd.DataFrame:
    return case_queries.platforms(engine())


@scoped_cache()
def categories() -> pd.DataFrame:
    return case_queries.categories(engine())


@scoped_cache()
def units(level: str, county_code: str) -> gpd.GeoDataFrame:
    """Townships or villages with households and residents (suppression: by the caller)."""
    return queries.unit_summary(engine(), level, county_code)


@scoped_cache()
def cells(county_code: str) -> gpd.GeoDataFrame:
    """Cells of the county's published plan, with ``township_code`` (empty when none)."""
    plan = queries.published_plan_id(engine(), county_code)
    if plan is None:
        return gpd.GeoDataFrame(
            {"code": [], "village_code": [], "households": [], "township_code": []},
            geometry=[],
            crs=4326,
        )
    frame = queries.plan_cells(engine(), plan)
    frame["township_code"] = frame["village_code"].str[:9]
    return frame


# ------------------------------------------------------------------------------- incidents


@scoped_cache()
def incidents_in_period(county_code: str, start: datetime, end: datetime) -> pd.DataFrame:
    return case_queries.incidents_in_period(engine(), county_code, start=start, end=end)


def filtered_incidents(
    county_code: str,
    start: datetime,
    end: datetime,
    *,
    categories: tuple[str, ...] = (),
    platforms: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    township: str | None = None,
    village: str | None = None,
) -> gpd.GeoDataFrame:
    """Incidents of the period matching the filters (an empty tuple: no filter), as points."""
    chosen_rows = filtered_rows(
        county_code, start, end, categories=categories, platforms=platforms, sources=sources,
        township=township, village=village,
    )  # fmt: skip
    return gpd.GeoDataFrame(
        chosen_rows,
        geometry=gpd.points_from_xy(chosen_rows["lon"], chosen_rows["lat"]),
        crs=4326,
    )


def filtered_rows(
    county_code: str,
    start: datetime,
    end: datetime,
    *,
    categories: tuple[str, ...] = (),
    platforms: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    township: str | None = None,
    village: str | None = None,
) -> pd.DataFrame:
    """The rows of :func:`filtered_incidents` without building their points (counts by cell
    need only ``cell_code``; building 120,000 points costs ~0.3 s per run)."""
    frame = incidents_in_period(county_code, start, end)
    keep = np.ones(len(frame), dtype=bool)
    for column, chosen in (
        ("category_code", categories),
        ("platform_code", platforms),
        ("source", sources),
    ):
        if chosen:
            keep &= frame[column].isin(chosen).to_numpy()
    if township:
        keep &= (frame["township_code"] == township).to_numpy()
    if village:
        keep &= (frame["village_code"] == village).to_numpy()
    return frame[keep]


def scope_cells(county_code: str, township: str | None, village: str | None) -> gpd.GeoDataFrame:
    """The published cells of the county, a township or a village."""
    frame = cells(county_code)
    if village:
        return frame[frame["village_code"] == village].reset_index(drop=True)
    if township:
        return frame[frame["township_code"] == township].reset_index(drop=True)
    return frame


def cell_incident_frame(cells_in_scope: gpd.GeoDataFrame, points: pd.DataFrame) -> gpd.GeoDataFrame:
    """``cells_in_scope`` with ``incidents``: the points placed in each cell (0 when none)."""
    counts = points["cell_code"].value_counts()
    out = cells_in_scope[["code", "village_code", "township_code", "households", "geometry"]]
    out = out.copy()
    out["incidents"] = out["code"].map(counts).fillna(0).astype(int)
    return out


@scoped_cache()
def cell_hotspots(
    county_code: str,
    start: datetime,
    end: datetime,
    filters: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    township: str | None,
    village: str | None,
) -> gpd.GeoDataFrame:
    """Gi* of incidents per household on the published cells in scope (FDR, queen).

    Exactly :func:`geo.hotspots.gi_star` on :func:`cell_incident_frame`; households and
    incident counts of cells under the threshold are blanked *after* the analysis (the
    class of a cell is not a count).  Empty frame when the scope has fewer than 3 cells.
    """
    scope = scope_cells(county_code, township, village)
    rows = filtered_rows(
        county_code, start, end, categories=filters[0], platforms=filters[1], sources=filters[2]
    )
    frame = cell_incident_frame(scope, rows)
    if len(frame) < 3:
        return frame.iloc[0:0].assign(gi_value=[], gi_z=[], gi_p=[], gi_q=[], gi_bin=[])
    weights = cell_weights(county_code, township, village)  # queen, built once per scope
    result = hotspots.gi_star(frame, "incidents", denominator="households", weights=weights)
    result["gi_bin"] = result["gi_bin"].astype(int)
    result["per_100"] = (100 * result["gi_value"]).round(2)
    return result


@scoped_cache()
def cell_weights(county_code: str, township: str | None, village: str | None) -> sparse.csr_matrix:
    """Queen contiguity of the published cells in scope, rows in :func:`scope_cells` order.

    The same matrix :func:`geo.hotspots.gi_star` builds for ``weights="queen"``; built once
    per scope (and cache period) instead of on every filter change (~0.4 s on 1,720 cells).
    """
    return hotspots.build_weights(scope_cells(county_code, township, village), weights="queen")


def shown_cells(result: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cell hot spots ready to show: counts under the threshold blanked, class as words."""
    shown = privacy.suppress_small(
        result, k=k(), count="households", columns=["incidents", "per_100"]
    )
    shown["class"] = shown["gi_bin"].map(GI_LABELS)
    return shown


@scoped_cache()
def hex_hotspots(
    county_code: str,
    start: datetime,
    end: datetime,
    filters: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    township: str | None,
    village: str | None,
    resolution: int,
) -> gpd.GeoDataFrame:
    """Gi* on the H3 hexagons holding incidents (k = 1 ring, FDR); counts under k blanked."""
    points = filtered_incidents(
        county_code, start, end, categories=filters[0], platforms=filters[1],
        sources=filters[2], township=township, village=village,
    )  # fmt: skip
    if len(points) < 3:
        return gpd.GeoDataFrame({"h3": [], "count": [], "gi_bin": []}, geometry=[], crs=4326)
    result = hotspots.hex_hotspots(points, resolution=resolution)
    result["gi_bin"] = result["gi_bin"].astype(int)
    shown = privacy.suppress_small(result, k=k(), count="count", columns=["value"])
    shown["class"] = shown["gi_bin"].map(GI_LABELS)
    return shown


@scoped_cache()
def kde(
    county_code: str,
    start: datetime,
    end: datetime,
    filters: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    township: str | None,
    village: str | None,
) -> heatmaps.KDERaster | None:
    """Kernel density of the filtered incidents (None with fewer than 5 points)."""
    points = filtered_incidents(
        county_code, start, end, categories=filters[0], platforms=filters[1],
        sources=filters[2], township=township, village=village,
    )  # fmt: skip
    if len(points) < 5:
        return None
    return heatmaps.kde_raster(points, max_cells=300)


@scoped_cache()
def emerging(
    county_code: str,
    start: datetime,
    end: datetime,
    filters: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    township: str | None,
    village: str | None,
) -> gpd.GeoDataFrame:
    """Emerging hot spots over weekly slices on the published cells in scope."""
    scope = scope_cells(county_code, township, village)
    points = filtered_incidents(
        county_code, start, end, categories=filters[0], platforms=filters[1], sources=filters[2]
    )
    points = points[points["cell_code"].isin(scope["code"])]
    if len(scope) < 3 or len(points) < 3 or (end - start) < timedelta(days=21):
        return gpd.GeoDataFrame({"code": [], "category": []}, geometry=[], crs=4326)
    return hotspots.emerging_hotspots(
        points,
        freq="7D",
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
        units=scope[["code", "geometry"]],
        unit_code="code",
    )


def weekly_counts(points: pd.DataFrame) -> pd.DataFrame:
    """Incidents per local week (Monday) and platform, for the trend chart."""
    if points.empty:
        return pd.DataFrame(columns=["week", "platform_code", "incidents"])
    local = points["reported_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    week = (local.dt.normalize() - pd.to_timedelta(local.dt.weekday, unit="D")).dt.strftime(
        "%Y-%m-%d"
    )
    return (
        points.assign(week=week)
        .groupby(["week", "platform_code"])
        .size()
        .rename("incidents")
        .reset_index()
    )


# ------------------------------------------------------------------------------ operations


@scoped_cache()
def case_list(
    county_code: str, start: datetime, end: datetime, at: datetime, open_only: bool
) -> pd.DataFrame:
    return case_queries.case_list(
        engine(), county_code, start=start, end=end, at=at, open_only=open_only
    )


@scoped_cache()
def open_queue(county_code: str, at: datetime) -> pd.DataFrame:
    return case_queries.open_queue(engine(), county_code, at=at)


@scoped_cache()
def step_durations(county_code: str, start: datetime, end: datetime) -> pd.DataFrame:
    return case_queries.step_durations(engine(), county_code, start=start, end=end)


@scoped_cache()
def incident_times(county_code: str, start: datetime, end: datetime, at: datetime) -> pd.DataFrame:
    """:func:`geo.incidents.incident_times` for the county's townships."""
    frame = incidents.incident_times(engine(), start=start, end=end, at=at)
    frame = frame[frame["township_code"].fillna("").str.startswith(county_code)]
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    return frame.reset_index(drop=True)


@scoped_cache()
def platform_daily(county_code: str, start: datetime, end: datetime, at: datetime) -> pd.DataFrame:
    """:func:`geo.centre.platform_daily` for the county's townships."""
    frame = centre.platform_daily(engine(), start=start, end=end, at=at)
    return frame[frame["township_code"].fillna("").str.startswith(county_code)]


def platform_board(county_code: str, start: datetime, end: datetime, at: datetime) -> pd.DataFrame:
    """One row per platform: reported today / 7 / 30 days and in the period, open, overdue,
    median hours to accept and resolve, escalations and returns in the period."""
    names = platforms().set_index("code")
    recent_start = min(start, at - timedelta(days=30))
    times = incident_times(county_code, recent_start, end, at)
    now = pd.Timestamp(at)
    local_today = now.tz_convert("Asia/Shanghai").normalize()
    daily = platform_daily(county_code, start, end, at)
    queue = open_queue(county_code, at)
    in_period = times[(times["reported_at"] >= pd.Timestamp(start))]
    rows = []
    for code, row in names.iterrows():
        mine = times[times["platform_code"] == code]
        period = in_period[in_period["platform_code"] == code]
        q = queue[queue["platform_code"] == code]
        d = daily[daily["platform_code"] == code]
        rows.append(
            {
                "platform_code": code,
                "platform": f"{row['name']} · {row['name_en'] or code}",
                "today": int((mine["reported_at"] >= local_today).sum()),
                "7 days": int((mine["reported_at"] >= now - timedelta(days=7)).sum()),
                "30 days": int((mine["reported_at"] >= now - timedelta(days=30)).sum()),
                "period": len(period),
                "open": int(q["cases"].sum()),
                "overdue": int(q["overdue"].sum()),
                "h to accept": _median(period["hours_to_accept"]),
                "h to resolve": _median(period["hours_to_resolve"]),
                "escalations": int(d["escalations"].sum()),
                "returns": int(d["returns"].sum()),
            }
        )
    return pd.DataFrame(rows)


def _median(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return None if values.empty else round(float(values.median()), 1)


@scoped_cache()
def case(incident_id: int) -> gpd.GeoDataFrame:
    return case_queries.case_detail(engine(), incident_id)


@scoped_cache()
def case_history(incident_id: int) -> pd.DataFrame:
    return incidents.history(engine(), incident_id)


@scoped_cache()
def case_cell(incident_id: int) -> gpd.GeoDataFrame:
    return case_queries.case_cell(engine(), incident_id)


def timeline(history: pd.DataFrame, *, due_at: pd.Timestamp | None = None) -> pd.DataFrame:
    """A case's history as the page shows it: one row per move, with the hours each state
    lasted (the last one: until now) -- pure, from :func:`geo.incidents.history`."""
    if history.empty:
        return history
    at = pd.to_datetime(history["at"], utc=True)
    following = at.shift(-1).fillna(pd.Timestamp.now(tz="UTC"))
    out = pd.DataFrame(
        {
            "step": np.arange(1, len(history) + 1),
            "when (local)": at.dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d %H:%M"),
            "from": history["from_status"].fillna("—"),
            "to": history["to_status"],
            "by": history["actor"],
            "role": history["role"],
            "hours in state": ((following - at).dt.total_seconds() / 3600).round(1),
            "note": history["note"].fillna(""),
        }
    )
    return out


# ------------------------------------------------------------------------- colours, workers


@scoped_cache()
def colour_by_township(county_code: str) -> pd.DataFrame:
    """Households per township and colour (wide), counts under k blanked per township."""
    per_cell = centre.colour_counts(engine(), county_code=county_code, min_count=0)
    if per_cell.empty:
        return pd.DataFrame()
    township_of = cells(county_code).set_index("code")["township_code"]
    per_cell["township_code"] = per_cell["cell_code"].map(township_of)
    per_cell["colour"] = per_cell["colour"].fillna("none")
    long = per_cell.groupby(["township_code", "colour"], as_index=False)["households"].sum()
    long = privacy.suppress_small(long, k=k(), count="households", columns=[])
    wide = long.pivot_table(
        index="township_code", columns="colour", values="households", aggfunc="sum",
        dropna=False,
    )  # fmt: skip
    order = [c for c in ("red", "orange", "yellow", "blue", "green", "none") if c in wide.columns]
    names = units("township", county_code).set_index("code")["name"]
    wide = wide[order]
    wide.insert(0, "township", wide.index.map(names))
    return wide.reset_index()


@scoped_cache()
def colour_changes_by_township(county_code: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Colour changes per township and (from, to) in ``[since, until)``, blanked under k."""
    per_cell = centre.colour_changes(
        engine(), county_code=county_code, since=since, until=until, min_count=0
    )
    if per_cell.empty:
        return pd.DataFrame(columns=["township_code", "from_colour", "to_colour", "changes"])
    township_of = cells(county_code).set_index("code")["township_code"]
    per_cell["township_code"] = per_cell["cell_code"].map(township_of)
    per_cell["from_colour"] = per_cell["from_colour"].fillna("(first)")
    long = per_cell.groupby(["township_code", "from_colour", "to_colour"], as_index=False)[
        "changes"
    ].sum()
    return privacy.suppress_small(long, k=k(), count="changes", columns=[])


@scoped_cache()
def workers(county_code: str, quarter: str) -> pd.DataFrame:
    """Quarterly metrics and stars of the county's grid workers (empty when there are none)."""
    metrics = centre.worker_metrics(engine(), quarter=quarter)
    metrics = metrics[metrics["township_code"].fillna("").str.startswith(county_code)]
    if metrics.empty:
        return metrics
    metrics = metrics.assign(stars=centre.star_rating(metrics))
    columns = ["stars", "worker_code", "name", "township_code", "cell_code", "households",
               "visits_required", "visits_done", "visit_completion", "incidents_reported",
               "share_resolved", "overdue"]  # fmt: skip
    return metrics[columns].sort_values(["stars", "worker_code"], ascending=[False, True])


@scoped_cache()
def funding(county_code: str) -> pd.DataFrame:
    table = centre.township_funding(engine(), county_code=county_code)
    names = units("township", county_code).set_index("code")["name"]
    table.insert(1, "township", table["township_code"].map(names))
    return table


def quarter_of(moment: datetime) -> str:
    stamp = pd.Timestamp(moment).tz_convert("Asia/Shanghai")
    return f"{stamp.year}Q{math.ceil(stamp.month / 3)}"


# -------------------------------------------------------------------------------- coverage


@scoped_cache()
def _households(county_code: str) -> gpd.GeoDataFrame:
    return queries.household_points(engine(), county_code, with_colour=True)


@scoped_cache()
def _assignment(county_code: str) -> pd.DataFrame:
    plan = queries.published_plan_id(engine(), county_code)
    if plan is None:
        return pd.DataFrame(columns=["household_code", "cell_code"])
    return queries.plan_assignment(engine(), plan)


@scoped_cache()
def grid_workers(county_code: str) -> pd.DataFrame:
    return case_queries.grid_workers(engine(), county_code)


@scoped_cache()
def assignment_by_village(county_code: str) -> pd.DataFrame:
    """Households in no cell / in two cells / in another village's cell, per village."""
    households = _households(county_code)
    result = coverage.assignment_coverage(
        households[["code", "village_code"]], _assignment(county_code), cells(county_code)
    )
    table = result.by_village.copy()
    names = units("village", county_code).set_index("code")["name"]
    first = table.columns[0]
    table.insert(1, "village", table[first].map(names))
    return privacy.suppress_small(
        table, k=k(), count="households", columns=["unassigned", "double", "cross_village"]
    )


@scoped_cache()
def visits_by_cell(county_code: str, days: int, at: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Visits against the five-colour rules per cell and per worker, blanked under k."""
    households = _households(county_code)
    since = pd.Timestamp(at) - timedelta(days=max(days, 120))
    visits = queries.visits(engine(), county_code, since=since)
    workers_frame = grid_workers(county_code)
    result = coverage.visit_coverage(
        households[["code", "colour"]].assign(colour=households["colour"].fillna("green")),
        visits,
        _assignment(county_code),
        days=days,
        now=pd.Timestamp(at),
        workers=workers_frame[["code", "cell_code"]] if not workers_frame.empty else None,
    )
    by_cell = privacy.suppress_small(
        result.by_cell, k=k(), count="households",
        columns=["visited", "never_visited", "compliant", "share_visited", "share_compliant"],
    )  # fmt: skip
    by_worker = result.by_worker
    if "households" in by_worker.columns:
        by_worker = privacy.suppress_small(by_worker, k=k(), count="households", columns=[])
    return by_cell, by_worker


@scoped_cache()
def visit_count(county_code: str, at: datetime) -> int:
    return len(queries.visits(engine(), county_code, since=pd.Timestamp(at) - timedelta(days=365)))


@scoped_cache()
def service_points(county_code: str) -> gpd.GeoDataFrame:
    return queries.service_points(engine(), county_code)


@scoped_cache()
def service_gaps(
    county_code: str, kind: str, max_distance_m: float
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Per village: households beyond ``max_distance_m`` of ``kind``; gaps as H3 (res 8,
    blanked under k); extra sites MCLP suggests to reach 95 %."""
    households = _households(county_code)[["code", "village_code", "residents", "geometry"]]
    services = service_points(county_code)
    result = coverage.service_coverage(
        households, services, max_distance_m=max_distance_m, kinds=(kind,)
    )
    by_village = privacy.suppress_small(
        result.by_village, k=k(), count="households",
        columns=["residents", "uncovered_households", "uncovered_residents"],
    )  # fmt: skip
    gaps = result.uncovered
    gap_hexes = (
        heatmaps.hex_density(gaps, resolution=8, k=k())
        if len(gaps)
        else gpd.GeoDataFrame({"h3": [], "count": []}, geometry=[], crs=4326)
    )
    sites = gpd.GeoDataFrame({"code": []}, geometry=[], crs=4326)
    if len(gaps):
        candidates = units("village", county_code)[["code", "geometry"]].copy()
        candidates["geometry"] = candidates.representative_point()
        try:
            sites = coverage.extra_sites(
                households, services, candidates, kind=kind, max_distance_m=max_distance_m,
                max_sites=10,
            )  # fmt: skip
        except ValueError as error:  # no feasible site: say so on the page
            log.info("no extra sites: %s", error)
    return by_village, gap_hexes, sites


@scoped_cache()
def worker_load(county_code: str) -> pd.DataFrame:
    workers_frame = grid_workers(county_code)
    if workers_frame.empty:
        return pd.DataFrame()
    households = _households(county_code)[["code", "residents"]]
    load = coverage.worker_load(households, _assignment(county_code), workers_frame)
    return privacy.suppress_small(load, k=k(), count="households", columns=["residents"])


@scoped_cache()
def household_density(county_code: str, resolution: int, weight: str | None) -> gpd.GeoDataFrame:
    """Households (or residents) per H3 hexagon; hexagons of fewer than k households blanked."""
    points = _households(county_code)[["code", "residents", "geometry"]]
    return heatmaps.hex_density(points, resolution=resolution, weight=weight, k=k())
