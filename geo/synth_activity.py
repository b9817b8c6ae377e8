"""Synthetic activity for a county: months of incidents and worker visits, with planted hotspots.

:func:`generate_activity` takes households (the frame of :mod:`geo.frames`, or any points
with ``code`` and optionally ``colour``/``village_code``) and returns incidents, visits and
the hotspots it planted, so that tests and demos know what an analysis should find.  The
same seed gives the same frames.

* Background incidents: every household reports at a Poisson rate; a share of incidents has
  no household (a road, a field) and lies up to ~150 m from a random household.  Categories
  and platforms come from ``data/profiles/_platforms.yaml`` (``incident_categories``, read by
  :func:`geo.profiles.platforms_config`).
  Times follow a daily rhythm (few at night, peaks mid-morning and mid-afternoon) and a
  weekly one (weekends at 70 %).
* Planted hotspots: an H3 hexagon and its ring (``k=1``) around a random household, with
  extra incidents whose weekly intensity is constant (``stable``), rises from zero in the
  second half of the period (``emerging``) or falls to zero by the middle (``fading``).
* Visits: each household is visited at intervals drawn below its five-colour rule
  (``visit_rules_days``); a share ``non_compliance`` of households gets intervals 1.2-2x
  the rule instead.  Workers are taken from ``assignment`` + ``workers`` when given, else
  one synthetic worker per ~40 consecutive households of a village.
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geo import _hex, profiles
from geo.errors import ConfigError, DataError
from geo.frames import Activity
from geo.projection import STORAGE_CRS, require_crs

HOTSPOT_KINDS = ("stable", "emerging", "fading")

#: Relative frequency of incidents by hour of day (0..23): quiet nights, two daytime peaks.
HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 4, 6, 9, 12, 12, 10, 7, 8, 10, 11, 10, 8, 6, 5, 4, 3, 2, 1], dtype=float
)


def generate_activity(
    households: gpd.GeoDataFrame,
    *,
    seed: int = 0,
    start: str | pd.Timestamp = "2025-01-01",
    months: int = 6,
    incidents_per_household_year: float = 0.5,
    no_household_share: float = 0.1,
    hotspots: dict[str, int] | None = None,
    hotspot_weekly: float = 25.0,
    resolution: int = 9,
    non_compliance: float = 0.1,
    rules: dict[str, int] | None = None,
    assignment: pd.DataFrame | None = None,
    workers: pd.DataFrame | None = None,
) -> Activity:
    """Months of incidents and visits for ``households``, deterministic by ``seed``.

    Parameters
    ----------
    households : GeoDataFrame
        ``code`` and geometry (polygons or points), any CRS; ``colour`` (default
        ``"green"``) and ``village_code`` are used when present.
    start : timestamp
        First day (UTC).
    months : int
        Length of the period in months of 30.44 days.
    incidents_per_household_year : float
        Background rate of incidents.
    hotspots : dict or None
        Number of planted hotspots of each kind (default one of each).
    hotspot_weekly : float
        Extra incidents per week in a hotspot at full strength (spread over its 7
        hexagons).
    resolution : int
        H3 resolution of the planted hexagons.
    non_compliance : float
        Share of households whose visits break their colour's rule.
    rules : dict or None
        Colour -> longest allowed gap in days (default: the profile's).
    assignment, workers : DataFrame or None
        ``household_code``/``cell_code`` and ``code``/``cell_code``: real workers.

    Raises
    ------
    ConfigError
        Bad counts, shares or kinds.
    DataError
        Empty households or unknown colours.
    """
    require_crs(households, name="households")
    if len(households) == 0:
        raise DataError("households is empty")
    if "code" not in households.columns:
        raise DataError("households lacks column code")
    if months < 1 or not 0 <= no_household_share <= 1 or not 0 <= non_compliance <= 1:
        raise ConfigError("months must be >= 1; shares must lie in [0, 1]")
    hotspots = {"stable": 1, "emerging": 1, "fading": 1} if hotspots is None else hotspots
    bad = sorted(set(hotspots) - set(HOTSPOT_KINDS))
    if bad:
        raise ConfigError(
            f"unknown hotspot kind(s) {', '.join(bad)}; use {', '.join(HOTSPOT_KINDS)}"
        )
    resolution = _hex.check_resolution(resolution)
    cfg = profiles.platforms_config()
    rules = {str(k): int(v) for k, v in (rules or cfg["visit_rules_days"]).items()}
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    n_days = round(months * 30.44)
    lon, lat = _hex.point_lonlat(households)
    codes = households["code"].astype(str).to_numpy()

    background = _background(
        rng, codes, lon, lat, n_days, incidents_per_household_year, no_household_share
    )
    planted, spots = _planted(rng, lon, lat, n_days, hotspots, hotspot_weekly, resolution)
    parts = [background, planted]
    inc = pd.concat(parts, ignore_index=True)
    inc = inc.assign(reported_at=t0 + _times(rng, inc["day"].to_numpy()))
    cats = cfg["incident_categories"]
    pick = rng.integers(0, len(cats), len(inc))
    inc["category"] = np.array([c["code"] for c in cats], dtype=object)[pick]
    inc["platform"] = np.array([c["platform"] for c in cats], dtype=object)[pick]
    inc = inc.sort_values("reported_at", kind="stable").reset_index(drop=True)
    inc["code"] = [f"INC{seed:04d}{i:07d}" for i in range(len(inc))]
    incidents = gpd.GeoDataFrame(
        inc[["code", "category", "platform", "reported_at", "household_code", "hotspot"]],
        geometry=shapely.points(inc["lon"].to_numpy(), inc["lat"].to_numpy()),
        crs=STORAGE_CRS,
    )
    visits, non_compliant = _visits(
        rng, households, codes, t0, n_days, rules, non_compliance, assignment, workers
    )
    return Activity(incidents, visits, spots, non_compliant)


def _background(rng, codes, lon, lat, n_days, rate, no_hh_share) -> pd.DataFrame:
    n_hh = len(codes)
    counts = rng.poisson(rate * n_days / 365.25, n_hh)
    idx = np.repeat(np.arange(n_hh), counts)
    n = len(idx)
    free = rng.random(n) < no_hh_share
    jitter = np.where(free, 150.0, 5.0) / 111_000  # degrees, roughly metres / 111 km
    coslat = np.cos(np.radians(lat[idx])) if n else np.ones(0)
    return pd.DataFrame(
        {
            "lon": lon[idx] + rng.normal(0, 1, n) * jitter / np.maximum(coslat, 0.1),
            "lat": lat[idx] + rng.normal(0, 1, n) * jitter,
            "household_code": pd.Series(np.where(free, None, codes[idx]), dtype=object),
            "hotspot": -1,
            "day": _days(rng, n, n_days),
        }
    )


def _days(rng, n: int, n_days: int) -> np.ndarray:
    """Days 0..n_days-1 with weekends at 70 % (day 0 taken as the start's weekday 0)."""
    w = np.ones(n_days)
    w[(np.arange(n_days) % 7) >= 5] = 0.7
    return rng.choice(n_days, size=n, p=w / w.sum())


def _times(rng, day: np.ndarray) -> pd.TimedeltaIndex:
    hours = rng.choice(24, size=len(day), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day * 86400 + hours * 3600 + rng.integers(0, 3600, len(day))
    return pd.to_timedelta(seconds, unit="s")


def _planted(rng, lon, lat, n_days, hotspots, weekly, resolution):
    rows, spots = [], []
    n_weeks = max(1, n_days // 7)
    used: set[str] = set()
    k = 0
    for kind in HOTSPOT_KINDS:
        for _ in range(int(hotspots.get(kind, 0))):
            for _attempt in range(50):
                i = int(rng.integers(0, len(lon)))
                centre = h3.latlng_to_cell(float(lat[i]), float(lon[i]), resolution)
                disk = h3.grid_disk(centre, 1)
                if not used.intersection(h3.grid_disk(centre, 3)):
                    break
            used.update(disk)
            week = np.arange(n_weeks)
            frac = (week + 0.5) / n_weeks
            if kind == "stable":
                strength = np.ones(n_weeks)
            elif kind == "emerging":
                strength = np.clip((frac - 0.5) * 2, 0, 1) * 1.5
            else:
                strength = np.clip(1 - frac * 2, 0, 1) * 1.5
            counts = rng.poisson(weekly * strength)
            wk = np.repeat(week, counts)
            n = len(wk)
            cell = np.array(disk, dtype=object)[rng.integers(0, len(disk), n)]
            centres = np.array([h3.cell_to_latlng(c) for c in cell]).reshape(-1, 2)
            edge = h3.average_hexagon_edge_length(resolution, unit="m") / 111_000
            rows.append(
                pd.DataFrame(
                    {
                        "lon": centres[:, 1]
                        + rng.normal(0, edge / 4, n) / np.cos(np.radians(centres[:, 0])),
                        "lat": centres[:, 0] + rng.normal(0, edge / 4, n),
                        "household_code": pd.Series([None] * n, dtype=object),
                        "hotspot": k,
                        "day": np.minimum(wk * 7 + rng.integers(0, 7, n), n_days - 1),
                    }
                )
            )
            clat, clon = h3.cell_to_latlng(centre)
            spots.append(
                (kind, centre, sorted(disk), resolution, weekly, shapely.Point(clon, clat))
            )
            k += 1
    frame = pd.DataFrame(
        spots, columns=["kind", "h3", "cells", "resolution", "weekly_peak", "geometry"]
    )
    spots_gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=STORAGE_CRS)
    planted = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["lon", "lat", "household_code", "hotspot", "day"])
    )
    return planted, spots_gdf


def _visits(rng, households, codes, t0, n_days, rules, non_compliance, assignment, workers):
    n = len(codes)
    colours = (
        households["colour"].astype(str).to_numpy()
        if "colour" in households.columns
        else np.full(n, "green")
    )
    unknown = sorted(set(colours) - set(rules))
    if unknown:
        raise DataError(f"no visit rule for colour(s) {', '.join(unknown)}")
    worker = _workers_of(households, codes, assignment, workers)
    allowed = np.array([rules[c] for c in colours], dtype=float)
    bad = rng.random(n) < non_compliance
    factor = np.where(bad, rng.uniform(1.2, 2.0, n), rng.uniform(0.5, 0.95, n))
    interval = allowed * factor
    first = rng.uniform(0, 1, n) * np.minimum(interval, n_days)
    n_visits = np.floor((n_days - first) / interval).astype(np.int64) + 1
    hh = np.repeat(np.arange(n), n_visits)
    step = np.arange(len(hh)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    day = first[hh] + step * interval[hh]
    # visits in working hours: 08:00-18:00
    day = np.floor(day) + rng.uniform(8 / 24, 18 / 24, len(day))
    keep = day < n_days
    hh, day = hh[keep], day[keep]
    visits = (
        pd.DataFrame(
            {
                "household_code": codes[hh],
                "worker_code": worker[hh],
                "visited_at": t0 + pd.to_timedelta(np.round(day * 86400), unit="s"),
            }
        )
        .sort_values(["visited_at", "household_code"], kind="stable")
        .reset_index(drop=True)
    )
    return visits, codes[bad]


def _workers_of(households, codes, assignment, workers) -> np.ndarray:
    if assignment is not None and workers is not None:
        cell = assignment.drop_duplicates("household_code").set_index("household_code")["cell_code"]
        wk = workers.drop_duplicates("cell_code").set_index("cell_code")["code"]
        out = pd.Series(codes).map(cell).map(wk)
        return out.fillna("UNASSIGNED").astype(str).to_numpy()
    village = (
        households["village_code"].astype(str).to_numpy()
        if "village_code" in households.columns
        else np.full(len(codes), "V")
    )
    frame = pd.DataFrame({"v": village, "c": codes}).sort_values(["v", "c"], kind="stable")
    rank = frame.groupby("v").cumcount().to_numpy() // 40
    names = pd.Series(
        [f"W{v}-{r:03d}" for v, r in zip(frame["v"], rank, strict=True)], index=frame.index
    )
    return names.sort_index().to_numpy()
