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

With ``cells`` (the published plan's cells) the county gets the rest of what a centre
watches (:func:`generate_activity`'s parameters say how much):

* Grid workers: one per cell, with a synthetic name, a phone number in a format that cannot
  be dialled (``000-XXXX-XXXX``), the cell's village and township.
* Visit lapses: besides single households, a share of workers lags (every household of
  their cell visited at 1.15-1.6x its rule) and a share of red and orange households is
  overdue at the end of the period (visits stop more than a rule's gap before the end).
  :attr:`~geo.frames.Activity.lapses` says which household lapses and why.
* Five-colour history: a share of households changed colour once or twice in the period
  (one step along :data:`~geo.frames.FIVE_COLOURS`), the last change giving today's colour.
* Service points (with ``villages`` and ``townships``): a convenience centre, police post
  and clinic at the centre of each township, emergency teams in the county seat and some
  townships, convenience stations and clinics in some villages -- so coverage has gaps.
* Every incident's path through the closed loop (:data:`PATHS`: straight, escalated by the
  township or by a department, returned, reopened, resolved late), some cut short (stuck),
  as events checked against :data:`geo.incidents.TRANSITIONS`.
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geo import _hex, profiles
from geo.errors import ConfigError, DataError
from geo.frames import FIVE_COLOURS, Activity, check_columns
from geo.incidents import check_move
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
    non_compliance: float = 0.05,
    rules: dict[str, int] | None = None,
    assignment: pd.DataFrame | None = None,
    workers: pd.DataFrame | None = None,
    cells: pd.DataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    townships: gpd.GeoDataFrame | None = None,
    lagging_workers: float = 0.05,
    overdue_share: float = 0.25,
    colour_change_share: float = 0.06,
    path_shares: dict[str, float] | None = None,
    stuck_share: float = 0.08,
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
        Share of single households whose visits break their colour's rule (intervals
        1.2-2x the rule).
    rules : dict or None
        Colour -> longest allowed gap in days (default: the profile's).
    assignment, workers : DataFrame or None
        ``household_code``/``cell_code`` and ``code``/``cell_code``: real workers.
    cells : DataFrame or None
        The published plan's cells (``code``, ``village_code``): one synthetic grid worker
        per cell, who visits the households ``assignment`` puts in the cell (``assignment``
        is then required; ``workers`` must be None).
    villages, townships : GeoDataFrame or None
        Admin units (``code``, ``name``, ``parent_code``, ``kind``): the workers' townships
        and the service points' places and names (no service points without them).
    lagging_workers : float
        Share of workers whose every household is visited 1.15-1.6x too rarely.
    overdue_share : float
        Share of red and orange households whose visits stop more than a rule's gap
        before the end of the period.
    colour_change_share : float
        Share of households whose five colour changed in the period (a fifth of them twice).
    path_shares : dict or None
        Path name of :data:`PATHS` -> share of incidents taking it (default
        :data:`PATH_SHARES`; normalised).
    stuck_share : float
        Share of incidents whose path stops at a random step before its end (stuck).

    Raises
    ------
    ConfigError
        Bad counts, shares, kinds or paths.
    DataError
        Empty households, unknown colours, or ``cells`` without ``assignment``.
    """
    require_crs(households, name="households")
    if len(households) == 0:
        raise DataError("households is empty")
    if "code" not in households.columns:
        raise DataError("households lacks column code")
    shares = (
        no_household_share, non_compliance, lagging_workers, overdue_share,
        colour_change_share, stuck_share,
    )  # fmt: skip
    if months < 1 or not all(0 <= s <= 1 for s in shares):
        raise ConfigError("months must be >= 1; shares must lie in [0, 1]")
    hotspots = {"stable": 1, "emerging": 1, "fading": 1} if hotspots is None else hotspots
    bad = sorted(set(hotspots) - set(HOTSPOT_KINDS))
    if bad:
        raise ConfigError(
            f"unknown hotspot kind(s) {', '.join(bad)}; use {', '.join(HOTSPOT_KINDS)}"
        )
    path_p = _path_probabilities(PATH_SHARES if path_shares is None else path_shares)
    if cells is not None and (assignment is None or workers is not None):
        raise DataError("cells need the plan's assignment (and no workers of their own)")
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
    colours = _colours(households, rules)
    township_of = _township_map(villages)
    if cells is not None:
        crew = _cell_workers(np.random.default_rng([seed, 1]), cells, t0, township_of)
        worker = _workers_of(households, codes, assignment, crew)
    else:
        worker = _workers_of(households, codes, assignment, workers)
        crew = (
            workers
            if workers is not None
            else _group_workers(np.random.default_rng([seed, 1]), households, worker, t0)
        )
    history, strictest = _colour_history(
        np.random.default_rng([seed, 2]), codes, colours, worker, t0, n_days, rules,
        colour_change_share,
    )  # fmt: skip
    visits, lapses = _visits(
        rng, np.random.default_rng([seed, 3]), codes, colours, strictest, worker, t0, n_days,
        non_compliance, lagging_workers, overdue_share,
    )  # fmt: skip
    due = {c["code"]: float(c["due_hours"]) for c in cats}
    worker_of = dict(zip(codes, worker, strict=True))
    path, events = _paths(
        np.random.default_rng([seed, 4]), incidents, due, worker_of, path_p, stuck_share,
        t0 + pd.Timedelta(days=n_days),
    )  # fmt: skip
    incidents["path"] = path
    reporter = incidents["household_code"].map(worker_of).astype(object)
    incidents["reported_by"] = reporter.where(reporter.notna() & (reporter != UNASSIGNED), None)
    services = _service_points(
        np.random.default_rng([seed, 5]), households, lon, lat, villages, townships
    )
    non_compliant = lapses["household_code"].to_numpy()
    return Activity(
        incidents, visits, spots, non_compliant,
        workers=crew, events=events, service_points=services, colour_events=history,
        lapses=lapses,
    )  # fmt: skip


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


def _colours(households, rules) -> np.ndarray:
    n = len(households)
    colours = (
        households["colour"].astype(str).to_numpy()
        if "colour" in households.columns
        else np.full(n, "green")
    )
    unknown = sorted(set(colours) - set(rules))
    if unknown:
        raise DataError(f"no visit rule for colour(s) {', '.join(unknown)}")
    return colours


def _visits(
    rng, lapse_rng, codes, colours, allowed, worker, t0, n_days, non_compliance, lagging, overdue
):
    """Visits at intervals below each household's strictest rule of the period, with lapses:
    single households (``non_compliance``), every household of a lagging worker, and red or
    orange households whose visits stop early (``overdue``)."""
    n = len(codes)
    bad = rng.random(n) < non_compliance
    names = np.unique(worker[worker != UNASSIGNED])
    chosen = lapse_rng.choice(names, round(lagging * len(names)), replace=False)
    lag = np.isin(worker, chosen) & ~bad
    late = np.isin(colours, ("red", "orange")) & ~bad & ~lag & (lapse_rng.random(n) < overdue)
    factor = np.where(bad, rng.uniform(1.2, 2.0, n), rng.uniform(0.5, 0.95, n))
    factor = np.where(lag, lapse_rng.uniform(1.15, 1.6, n), factor)
    interval = allowed * factor
    cut = np.where(late, n_days - allowed * lapse_rng.uniform(1.3, 3.0, n), n_days)
    first = rng.uniform(0, 1, n) * np.minimum(interval, n_days)
    n_visits = np.floor((n_days - first) / interval).astype(np.int64) + 1
    hh = np.repeat(np.arange(n), n_visits)
    step = np.arange(len(hh)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    day = first[hh] + step * interval[hh]
    # visits in working hours: 08:00-18:00
    day = np.floor(day) + rng.uniform(8 / 24, 18 / 24, len(day))
    keep = (day < n_days) & (day < cut[hh]) & (worker[hh] != UNASSIGNED)
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
    reason = np.select([bad, lag, late], ["household", "worker", "overdue"], "")
    lapsed = reason != ""
    lapses = pd.DataFrame({"household_code": codes[lapsed], "reason": reason[lapsed]})
    return visits, lapses


#: The worker code of households no cell (and so no worker) covers.
UNASSIGNED = "UNASSIGNED"


def _workers_of(households, codes, assignment, workers) -> np.ndarray:
    if assignment is not None and workers is not None:
        cell = assignment.drop_duplicates("household_code").set_index("household_code")["cell_code"]
        wk = workers.drop_duplicates("cell_code").set_index("cell_code")["code"]
        out = pd.Series(codes).map(cell).map(wk)
        return out.fillna(UNASSIGNED).astype(str).to_numpy()
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


# ------------------------------------------------------------------------------ grid workers

_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
)
_GIVEN = list(
    "伟芳娜英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红建国志海燕文慧鹏飞宁梅琴云峰亮成"
)

#: Columns of :attr:`geo.frames.Activity.workers`.
WORKER_COLUMNS = (
    "code", "name", "phone", "township_code", "village_code", "cell_code", "started_on",
)  # fmt: skip


def _township_map(villages) -> dict[str, str]:
    if villages is None or len(villages) == 0:
        return {}
    return dict(zip(villages["code"].astype(str), villages["parent_code"].astype(str), strict=True))


def _crew(rng, keys: np.ndarray, village: np.ndarray, cell, t0, township_of) -> pd.DataFrame:
    """Workers named ``keys``: synthetic names, undiallable phones, start dates."""
    n = len(keys)
    two = rng.random(n) < 0.7
    g1, g2 = rng.integers(0, len(_GIVEN), n), rng.integers(0, len(_GIVEN), n)
    sur = np.array(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), n)]
    given = np.array(_GIVEN, dtype=object)
    names = sur + given[g1] + np.where(two, given[g2], "")
    digits = rng.integers(0, 10_000, (n, 2))
    phones = [f"000-{a:04d}-{b:04d}" for a, b in digits]
    started = t0.normalize() - pd.to_timedelta(rng.integers(30, 2000, n), unit="D")
    township = [township_of.get(v, v[:9]) for v in village]
    return pd.DataFrame(
        {
            "code": keys, "name": names, "phone": phones, "township_code": township,
            "village_code": village, "cell_code": cell, "started_on": started,
        }
    )  # fmt: skip


def _cell_workers(rng, cells, t0, township_of) -> pd.DataFrame:
    """One worker per cell of the plan, in cell-code order; code ``GW<cell code>``."""
    check_columns(cells, ("code", "village_code"), name="cells")
    cells = cells.drop_duplicates("code").sort_values("code", kind="stable")
    cell = cells["code"].astype(str).to_numpy()
    keys = np.array(
        [
            "GW" + c
            if len(c) <= 30
            else "GW" + hashlib.blake2b(c.encode(), digest_size=8).hexdigest()
            for c in cell
        ],
        dtype=object,
    )
    return _crew(rng, keys, cells["village_code"].astype(str).to_numpy(), cell, t0, township_of)


def _group_workers(rng, households, worker, t0) -> pd.DataFrame:
    """Workers of the groups of :func:`_workers_of` (no plan: no cell)."""
    village = (
        households["village_code"].astype(str).to_numpy()
        if "village_code" in households.columns
        else np.full(len(worker), "V")
    )
    first = pd.DataFrame({"code": worker, "v": village}).drop_duplicates("code")
    first = first[first["code"] != UNASSIGNED].sort_values("code", kind="stable")
    return _crew(rng, first["code"].to_numpy(), first["v"].to_numpy(), None, t0, {})


# ------------------------------------------------------------------------------ five colours


def _colour_history(rng, codes, colours, worker, t0, n_days, rules, share):
    """Colour events of the households that changed colour (one step along FIVE_COLOURS,
    once or twice; the last change gives today's colour), and each household's strictest
    visit rule over the period (days)."""
    n = len(codes)
    palette = np.array(FIVE_COLOURS, dtype=object)
    pos = pd.Series(colours).map({c: i for i, c in enumerate(FIVE_COLOURS)}).to_numpy()
    changed = rng.random(n) < share
    twice = changed & (rng.random(n) < 0.2)
    step1 = rng.choice([-1, 1], n)
    prev = pos + step1
    prev = np.where((prev < 0) | (prev >= len(palette)), pos - step1, prev)
    step2 = rng.choice([-1, 1], n)
    prev2 = prev + step2
    prev2 = np.where((prev2 < 0) | (prev2 >= len(palette)), prev - step2, prev2)
    last = rng.uniform(0.3, 1.0, n) * n_days
    first = rng.uniform(0.05, 0.9, n) * last
    hour = pd.Timedelta(hours=9)
    t_last = t0 + hour + pd.to_timedelta(np.round(last * 86400), unit="s")
    t_first = t0 + hour + pd.to_timedelta(np.round(first * 86400), unit="s")
    rows = []
    once = changed & ~twice
    sequences = (
        (once, ((prev, None), (pos, t_last))),
        (twice, ((prev2, None), (prev, t_first), (pos, t_last))),
    )
    for mask, seq in sequences:
        idx = np.flatnonzero(mask)
        for k, (which, at) in enumerate(seq):
            when = pd.DatetimeIndex([t0 + hour] * len(idx)) if at is None else at[idx]
            rows.append(
                pd.DataFrame(
                    {
                        "household_code": codes[idx],
                        "colour": palette[which[idx]],
                        "changed_at": when,
                        "changed_by": worker[idx],
                        "order": k,
                    }
                )
            )
    history = (
        pd.concat(rows, ignore_index=True)
        .sort_values(["changed_at", "household_code", "order"], kind="stable")
        .drop(columns="order")
        .reset_index(drop=True)
    )
    history["changed_by"] = history["changed_by"].where(history["changed_by"] != UNASSIGNED, "demo")
    rule = np.array([rules[c] for c in FIVE_COLOURS], dtype=float)
    strictest = rule[pos]
    strictest = np.where(changed, np.minimum(strictest, rule[prev]), strictest)
    strictest = np.where(twice, np.minimum(strictest, rule[prev2]), strictest)
    return history, strictest


# ------------------------------------------------------------------------- incident paths

#: Paths through the closed loop: name -> steps after ``reported`` (state, role making the
#: move, time since the previous step in units of the category's ``due_hours``, stretched
#: by a pace of 0.6-1.2 per incident). Every step is a move of
#: :data:`geo.incidents.TRANSITIONS` by a role allowed to make it (checked on import).
#: On-time paths resolve within 0.85 of the time allowed since the clock last restarted;
#: ``late`` resolves after 1.2 of it.
PATHS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "straight": (
        ("accepted", "township", 0.05), ("dispatched", "township", 0.07),
        ("in_progress", "department", 0.13), ("resolved", "department", 0.45),
        ("fed_back", "grid_worker", 0.15), ("closed", "township", 0.1),
    ),
    # the township reports up: the county's centre takes it (tier 1)
    "escalated_township": (
        ("escalated", "township", 0.05), ("accepted", "centre", 0.05),
        ("dispatched", "centre", 0.05), ("in_progress", "department", 0.15),
        ("resolved", "department", 0.5), ("fed_back", "grid_worker", 0.2),
        ("closed", "centre", 0.1),
    ),
    # the department reports in: beyond its remit, up to the centre (tier 1)
    "escalated_department": (
        ("accepted", "township", 0.05), ("dispatched", "township", 0.07),
        ("in_progress", "department", 0.15), ("escalated", "department", 0.1),
        ("accepted", "centre", 0.05), ("dispatched", "centre", 0.05),
        ("in_progress", "department", 0.1), ("resolved", "department", 0.5),
        ("fed_back", "grid_worker", 0.2), ("closed", "centre", 0.1),
    ),
    # escalated twice: by the township, then by the department (tier 2, the city)
    "escalated_twice": (
        ("escalated", "township", 0.05), ("accepted", "centre", 0.05),
        ("dispatched", "centre", 0.05), ("escalated", "department", 0.2),
        ("accepted", "centre", 0.05), ("dispatched", "centre", 0.05),
        ("in_progress", "department", 0.1), ("resolved", "department", 0.5),
        ("fed_back", "grid_worker", 0.2), ("closed", "centre", 0.1),
    ),
    # the wrong department returns it; re-dispatched (the clock restarts)
    "returned": (
        ("accepted", "township", 0.05), ("dispatched", "township", 0.07),
        ("returned", "department", 0.1), ("dispatched", "township", 0.08),
        ("in_progress", "department", 0.1), ("resolved", "department", 0.5),
        ("fed_back", "grid_worker", 0.15), ("closed", "township", 0.1),
    ),
    # the resident is not satisfied at feedback: reopened by the township
    "reopened_feedback": (
        ("accepted", "township", 0.05), ("dispatched", "township", 0.07),
        ("in_progress", "department", 0.13), ("resolved", "department", 0.45),
        ("fed_back", "resident", 0.15), ("reopened", "township", 0.1),
        ("dispatched", "township", 0.05), ("in_progress", "department", 0.1),
        ("resolved", "department", 0.5), ("fed_back", "grid_worker", 0.15),
        ("closed", "township", 0.1),
    ),
    # closed, then the problem comes back: the centre reopens it
    "reopened_closed": (
        ("accepted", "township", 0.05), ("dispatched", "township", 0.07),
        ("in_progress", "department", 0.13), ("resolved", "department", 0.45),
        ("fed_back", "grid_worker", 0.15), ("closed", "township", 0.1),
        ("reopened", "centre", 0.8), ("accepted", "township", 0.05),
        ("dispatched", "township", 0.05), ("in_progress", "department", 0.1),
        ("resolved", "department", 0.4), ("fed_back", "resident", 0.1),
        ("closed", "township", 0.1),
    ),
    # resolved after its due time
    "late": (
        ("accepted", "township", 0.1), ("dispatched", "township", 0.15),
        ("in_progress", "department", 0.35), ("resolved", "department", 1.4),
        ("fed_back", "grid_worker", 0.2), ("closed", "township", 0.1),
    ),
}  # fmt: skip

#: Default share of incidents taking each path of :data:`PATHS`.
PATH_SHARES = {
    "straight": 0.70, "escalated_township": 0.05, "escalated_department": 0.04,
    "escalated_twice": 0.01, "returned": 0.05, "reopened_feedback": 0.02,
    "reopened_closed": 0.02, "late": 0.11,
}  # fmt: skip


def _check_paths() -> None:
    for steps in PATHS.values():
        state = "reported"
        for to_status, role, gap in steps:
            check_move(state, to_status, role)  # raises TransitionError if refused
            if gap <= 0:
                raise ConfigError("a path's steps must take time")
            state = to_status


_check_paths()


def _path_probabilities(shares: dict[str, float]) -> dict[str, float]:
    bad = sorted(set(shares) - set(PATHS))
    if bad:
        raise ConfigError(f"unknown path(s) {', '.join(bad)}; use {', '.join(PATHS)}")
    total = float(sum(shares.values()))
    if total <= 0 or any(v < 0 for v in shares.values()):
        raise ConfigError("path shares must be >= 0 with a positive sum")
    return {k: float(v) / total for k, v in shares.items()}


#: Columns of :attr:`geo.frames.Activity.events`.
EVENT_COLUMNS = ("incident_code", "step", "to_status", "role", "actor", "at", "satisfaction")


def _paths(rng, incidents, due, worker_of, shares, stuck_share, end):
    """Each incident's path name and its events up to ``end`` (stuck ones cut short)."""
    n = len(incidents)
    names = list(shares)
    pick = rng.choice(len(names), n, p=[shares[k] for k in names])
    pace = rng.uniform(0.6, 1.2, n)
    lengths = np.array([len(PATHS[k]) for k in names])[pick]
    kept = np.where(rng.random(n) < stuck_share, rng.integers(0, lengths), lengths)
    hours = incidents["category"].map(due).to_numpy(dtype=float) * pace
    reported = incidents["reported_at"]
    worker = incidents["household_code"].map(worker_of)
    worker = worker.where(worker.notna() & (worker != UNASSIGNED), "grid-worker").to_numpy()
    dept = ("dept-" + incidents["platform"].astype(str)).to_numpy()
    parts = []
    for j, name in enumerate(names):
        idx = np.flatnonzero(pick == j)
        steps = PATHS[name]
        m = len(steps)
        status = np.array([s[0] for s in steps], dtype=object)
        role = np.array([s[1] for s in steps], dtype=object)
        cum = np.cumsum([s[2] for s in steps])
        before_reopen = np.array(
            [k + 1 < m and steps[k + 1][0] == "reopened" for k in range(m)], dtype=bool
        )
        ii = np.repeat(idx, m)
        k = np.tile(np.arange(m), len(idx))
        keep = k < kept[ii]
        ii, k = ii[keep], k[keep]
        actor = np.select(
            [role[k] == "grid_worker", role[k] == "department", role[k] == "township",
             role[k] == "centre"],
            [worker[ii], dept[ii], "township-office", "centre-dispatch"], "resident",
        )  # fmt: skip
        parts.append(
            pd.DataFrame(
                {
                    "i": ii,
                    "step": k + 1,
                    "to_status": status[k],
                    "role": role[k],
                    "actor": actor,
                    "offset_h": hours[ii] * cum[k],
                    "low": before_reopen[k],
                }
            )
        )
    ev = pd.concat(parts, ignore_index=True).sort_values(["i", "step"], kind="stable")
    at = reported.reset_index(drop=True).iloc[ev["i"].to_numpy()].reset_index(drop=True)
    at = at + pd.to_timedelta(np.round(ev["offset_h"].to_numpy() * 3600), unit="s")
    fed = (ev["to_status"] == "fed_back").to_numpy()
    score = np.where(ev["low"], rng.integers(1, 3, len(ev)), rng.integers(3, 6, len(ev)))
    events = pd.DataFrame(
        {
            "incident_code": incidents["code"].to_numpy()[ev["i"].to_numpy()],
            "step": ev["step"].to_numpy(),
            "to_status": ev["to_status"].to_numpy(),
            "role": ev["role"].to_numpy(),
            "actor": ev["actor"].to_numpy(),
            "at": at.to_numpy(),
            "satisfaction": pd.array(np.where(fed, score, 0), dtype="Int64"),
        }
    )
    events["at"] = at.to_numpy()
    events["satisfaction"] = events["satisfaction"].where(fed, pd.NA)
    events = events[events["at"] < end].reset_index(drop=True)
    return np.array(names, dtype=object)[pick], events


# ---------------------------------------------------------------------------- service points

#: Service point names by kind: (township level, village level).
_SERVICE_NAMES = {
    "convenience_centre": ("便民服务中心", "便民服务站"),
    "police_post": ("派出所", "警务室"),
    "clinic": ("卫生院", "卫生室"),
    "emergency_team": ("应急救援队", "应急分队"),
}
#: Share of villages (other than the township's seat village) with a point of each kind.
_VILLAGE_SHARES = {"convenience_centre": 0.3, "police_post": 0.08, "clinic": 0.2}
_KIND_TAGS = {
    "convenience_centre": "CC",
    "police_post": "PP",
    "clinic": "CL",
    "emergency_team": "ET",
}


def _service_points(rng, households, lon, lat, villages, townships) -> gpd.GeoDataFrame:
    """Service points at the centres of townships (their biggest village), in the county
    seat and in some villages: points near the household nearest each village's median."""
    empty = gpd.GeoDataFrame(
        {"code": [], "kind": [], "name": [], "village_code": []}, geometry=[], crs=STORAGE_CRS
    )
    if villages is None or townships is None or "village_code" not in households.columns:
        return empty
    hh = pd.DataFrame(
        {"v": households["village_code"].astype(str).to_numpy(), "lon": lon, "lat": lat}
    )
    med = hh.groupby("v")[["lon", "lat"]].transform("median")
    hh["d"] = (hh["lon"] - med["lon"]) ** 2 + (hh["lat"] - med["lat"]) ** 2
    centre = hh.loc[hh.groupby("v")["d"].idxmin()].set_index("v")[["lon", "lat"]]
    size = hh.groupby("v").size()
    vil = villages.assign(code=villages["code"].astype(str)).set_index("code")
    vil = vil.loc[vil.index.isin(centre.index)].sort_index()
    vil["households"] = size.reindex(vil.index).to_numpy()
    seat_village = (
        vil.reset_index().sort_values(["households", "code"], ascending=[False, True])
        .drop_duplicates("parent_code").set_index("parent_code")["code"]
    )  # fmt: skip
    rows = []
    towns = townships.assign(code=townships["code"].astype(str)).sort_values("code")
    for t in towns.itertuples():
        if t.code not in seat_village.index:
            continue
        v = seat_village[t.code]
        kinds = ["convenience_centre", "police_post", "clinic"]
        if t.kind == "subdistrict" or rng.random() < 0.4:
            kinds.append("emergency_team")
        rows += [(v, k, f"{t.name}{_SERVICE_NAMES[k][0]}", 0) for k in kinds]
    seats = set(seat_village)
    for v in vil.index:
        if v in seats:
            continue
        for k, share in _VILLAGE_SHARES.items():
            if rng.random() < share:
                rows.append((v, k, f"{vil.at[v, 'name']}{_SERVICE_NAMES[k][1]}", 1))
    frame = pd.DataFrame(rows, columns=["village_code", "kind", "name", "level"])
    if frame.empty:
        return empty
    frame["code"] = (
        frame["village_code"] + "-" + frame["kind"].map(_KIND_TAGS) + frame["level"].astype(str)
    )
    xy = centre.loc[frame["village_code"]].to_numpy()
    jitter = rng.normal(0, 40, (len(frame), 2)) / 111_000  # ~40 m apart
    jitter[:, 0] /= np.cos(np.radians(xy[:, 1]))
    return gpd.GeoDataFrame(
        frame[["code", "kind", "name", "village_code"]],
        geometry=shapely.points(xy[:, 0] + jitter[:, 0], xy[:, 1] + jitter[:, 1]),
        crs=STORAGE_CRS,
    )
