"""Synthetic counties: the whole four-level hierarchy of a profile, with realistic geography.

:func:`generate_county` turns a county profile (:mod:`geo.profiles`) into a
:class:`geo.frames.County` whose counts match the profile exactly: level-1 units (townships and
sub-districts), villages and communities, natural units (hamlets, residential compounds, single
buildings), households and residents.  Everything is built in the county's UTM zone (metres)
and stored in EPSG:4326 at the profile's real location.

How the county is drawn
-----------------------
1. **Outline** -- an irregular polygon of ``area_km2`` around ``centre_lonlat`` (a random
   Fourier series of the log-radius), or the polygon the caller passes.
2. **Level 1** -- the county seat is a compact blob at the centre, sized for the seat's
   households and split into the sub-districts; the rest of the county is split into
   townships.  Both splits are Voronoi diagrams of Lloyd-relaxed random points clipped to the
   parent, so units tile their parent exactly (union = parent, no overlaps).
3. **Level 2** -- villages (communities in the seat) tile each level-1 unit the same way, their
   number proportional to area.  Each village then gets a number of grid cells and a household
   count inside ``[cell_min * cells, cell_max * cells]``, so that every village can be cut into
   cells within the bounds (a profile's ``cells`` total is honoured exactly).
4. **Level 3** -- in the countryside, natural units are hamlets strung along one to three roads
   crossing the village, spaced in proportion to their households; each owns the Voronoi
   cell of its centre within its village (centres short of room are moved to the emptiest
   part of the village).  In the seat, each community is covered by a street grid of plots;
   residential compounds (several buildings) and single buildings take runs of neighbouring
   plots, with empty plots (parks, schools) spread between them.
5. **Level 4** -- hamlet households sit on a lot grid around their unit's centre, aligned with
   the road, nearest lots first, keeping only lots wholly inside the unit's cell: courtyards
   of 10-25 m (smaller only where a cell is too cramped).  In the seat, each plot holds one
   building and its flats are small cells of the building footprint.  Lots never overlap, so
   households never do.  A hamlet's outline is the buffered convex hull of its courtyards,
   clipped to its cell; a compound's is its plots, merged.  If a unit still finds too little
   room, the natural units are drawn again (deterministically, up to five times).

All of it is vectorised with numpy and shapely 2 array functions (no Python loop per
household), and deterministic for a given ``seed``.

The layout algorithm is written here rather than taken from a library because no package
generates administrative hierarchies with exact counts; the pieces (Voronoi, buffers, hulls,
reprojection) are GEOS and PROJ through shapely and pyproj.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.errors import DataError
from geo.frames import ADMIN_COLUMNS, FIVE_COLOURS, HOUSEHOLD_COLUMNS, County
from geo.profiles import Profile, load_profile
from geo.projection import STORAGE_CRS, require_crs, utm_crs, utm_crs_for_lonlat
from geo.synth._alloc import allocate, cn_number, community_names, compound_names, place_names
from geo.synth._geom import blob, lot_templates, polygonal, relaxed_points, sample_in, tile

log = logging.getLogger(__name__)

__all__ = ["COLOUR_SHARES", "STEPS", "generate_county"]

#: Phase names passed to ``on_step``, in order.
STEPS = ("outline", "townships", "villages", "natural units", "households")

#: Share of households per five-colour status (red ... green): most need little attention.
COLOUR_SHARES = (0.01, 0.03, 0.08, 0.13, 0.75)

# Layout constants (metres unless stated).
_SEAT_M2_PER_HOUSEHOLD = 300.0  # seat area per seat household (buildings, streets, parks)
_SEAT_MIN_SHARE = 0.0015  # the seat covers at least this share of the county
_COURTYARD = (10.0, 25.0)  # side of a rural courtyard
_RURAL_PITCH = (13.5, 34.0)  # lot pitch in hamlets, adapted to the room available
_RURAL_ASPECTS = (2.0, 3.0, 4.5)  # hamlets stretched along the road
_PLOT = (76.0, 56.0)  # seat plot (building lot) on the street grid, largest size
_TEMPLATE_HALF = 80  # lot templates span (2*80+1)^2 lots
_FLAT_M2 = 12.0  # footprint area per flat (a flat is a cell of its building's footprint)
_MAX_BUILDING_LENGTH = 60.0
_LAYOUT_ATTEMPTS = 5  # natural units are drawn again if a unit has too little room
_FLAT_GAP = 0.25  # inset of each flat inside its footprint cell, so flats never touch


class _NoRoomError(DataError):
    """A natural unit's territory cannot hold its households (the layout is retried)."""


@dataclass
class _Units:
    """One admin level while it is being built (metric CRS)."""

    geoms: np.ndarray  # MultiPolygon per unit
    parent: np.ndarray  # index into the level above
    kinds: np.ndarray
    names: np.ndarray
    codes: np.ndarray


def generate_county(
    profile: str | Profile,
    *,
    seed: int = 20201,
    outline: gpd.GeoDataFrame | gpd.GeoSeries | str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> County:
    """Generate a synthetic county with the exact counts of ``profile``.

    Parameters
    ----------
    profile : str or Profile
        A profile name (``"yanchi"``, ``"xihua"``, ``"small"``), a YAML path, or a loaded
        :class:`~geo.profiles.Profile`.
    seed : int
        Seed of the random generator: the same seed gives identical frames.
    outline : GeoDataFrame, GeoSeries, str or Path, optional
        The county outline to use instead of a generated one: a frame or a file readable by
        geopandas, in any CRS it declares (its polygons are dissolved).  The profile's area is
        then ignored, and the county seat is put at ``centre_lonlat`` if that lies well
        inside, else at a point inside the outline.
    on_step : callable, optional
        Called with each phase name of :data:`STEPS` as it starts, for progress display.

    Returns
    -------
    County
        Frames in EPSG:4326 following :mod:`geo.frames`; ``meta`` holds ``seed``,
        ``metric_crs`` (e.g. ``"EPSG:32648"``), ``seconds``, ``village_cells`` (grid cells per
        village code that its household count was drawn for), ``seat_lonlat`` and
        ``layout_attempts``.

    Raises
    ------
    ConfigError
        If the profile is unknown or invalid.
    CRSError
        If ``outline`` has no CRS.
    DataError
        If ``outline`` holds no polygon, or is too small for the profile's households.

    Examples
    --------
    >>> county = generate_county("small", seed=1)
    >>> county.counts()["households"]
    1200
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    step = on_step or (lambda _name: None)
    started = perf_counter()
    rng = np.random.default_rng(seed)

    step("outline")
    county_ll, county_m, crs, outline_source = _outline(prof, outline, rng)
    step("townships")
    seat_hh_est = round(prof.households * prof.seat_share) if prof.subdistricts else 0
    level1, seat_xy = _level1(prof, county_m, _centre_xy(prof, crs), seat_hh_est, rng)
    step("villages")
    villages = _villages(prof, level1, rng)
    cells, village_hh = _village_households(prof, villages, rng)
    _check_room(prof, county_m)
    for attempt in range(_LAYOUT_ATTEMPTS):
        step("natural units")
        nu, nu_hh, lay, centres, theta, territory = _natural_units(prof, villages, village_hh, rng)
        step("households")
        try:
            hh_geoms, hh_nu, seat_outlines = _households(
                nu, nu_hh, lay, villages, centres, theta, territory, rng
            )
            attempts = attempt + 1
            break
        except _NoRoomError:
            if attempt == _LAYOUT_ATTEMPTS - 1:
                raise
            log.info("layout attempt %d found too little room; drawing the units again", attempt)
    nu.geoms = _unit_outlines(nu, hh_geoms, hh_nu, territory)
    in_seat = nu.kinds != "hamlet"
    nu.geoms[in_seat] = polygonal(seat_outlines[in_seat])
    households = _household_frame(prof, nu, villages, hh_geoms, hh_nu, rng, crs)

    county = _admin_frame(
        [prof.county_code], [prof.name_zh], [None], ["county"], [county_ll], STORAGE_CRS
    )
    to_ll = {"crs": crs}
    result = County(
        county=county,
        townships=_admin_from_units(level1, np.full(len(level1.codes), prof.county_code), **to_ll),
        villages=_admin_from_units(villages, level1.codes[villages.parent], **to_ll),
        natural_units=_admin_from_units(nu, villages.codes[nu.parent], **to_ll),
        households=households,
        profile=prof.name,
        meta={},
    )
    seat_ll = gpd.GeoSeries([shapely.Point(seat_xy)], crs=crs).to_crs(STORAGE_CRS).iloc[0]
    result.meta = {
        "seed": seed,
        "metric_crs": crs.to_string(),
        "seconds": round(perf_counter() - started, 3),
        "outline": outline_source,
        "layout_attempts": attempts,
        "seat_lonlat": (round(seat_ll.x, 6), round(seat_ll.y, 6)),
        "village_cells": dict(zip(villages.codes.tolist(), cells.tolist(), strict=True)),
    }
    log.info("generated %s (seed %d) in %.1f s", prof.name, seed, result.meta["seconds"])
    return result


def _check_room(prof: Profile, county_m) -> None:
    """Refuse an outline far too small for the profile's households (before laying them out)."""
    need = 4 * prof.households * _RURAL_PITCH[0] ** 2
    if county_m.area < need:
        raise DataError(
            f"too little room: the outline covers {county_m.area / 1e6:.3f} km², "
            f"{prof.households} households need at least {need / 1e6:.2f} km²"
        )


# --- outline -----------------------------------------------------------------------------


def _outline(prof: Profile, outline, rng: np.random.Generator):
    """County polygon in EPSG:4326 and in metres, the metric CRS, and where it came from."""
    if outline is None:
        crs = utm_crs_for_lonlat(*prof.centre_lonlat)
        centre = _centre_xy(prof, crs)
        poly = blob(rng, centre, prof.area_km2 * 1e6, roughness=0.35)
        county_m = shapely.MultiPolygon([poly])
        county_ll = gpd.GeoSeries([county_m], crs=crs).to_crs(STORAGE_CRS).iloc[0]
        return county_ll, county_m, crs, "generated"
    source = str(outline) if isinstance(outline, (str, Path)) else "frame"
    if isinstance(outline, (str, Path)):
        try:
            outline = gpd.read_file(outline)
        except Exception as exc:  # pyogrio raises several types
            raise DataError(f"cannot read outline {source}: {exc}") from exc
    if not isinstance(outline, (gpd.GeoDataFrame, gpd.GeoSeries)):
        raise DataError(
            f"outline must be a GeoDataFrame, GeoSeries or a file path, got {type(outline)}"
        )
    require_crs(outline, name=f"outline {source}")
    geoms = outline.geometry if isinstance(outline, gpd.GeoDataFrame) else outline
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if len(geoms) == 0 or not geoms.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise DataError(
            f"outline {source} must hold polygons only, got {sorted(set(geoms.geom_type))}"
        )
    ll = geoms.to_crs(STORAGE_CRS)
    county_ll = polygonal(np.array([shapely.make_valid(ll.union_all())]))[0]
    crs = utm_crs(ll)
    county_m = polygonal(
        np.array([gpd.GeoSeries([county_ll], crs=STORAGE_CRS).to_crs(crs).iloc[0]])
    )[0]
    if county_m.area < 1e4:
        raise DataError(f"outline {source} covers only {county_m.area:.0f} m²")
    return county_ll, county_m, crs, source


def _centre_xy(prof: Profile, crs: CRS) -> tuple[float, float]:
    pt = gpd.GeoSeries([shapely.Point(prof.centre_lonlat)], crs=STORAGE_CRS).to_crs(crs).iloc[0]
    return float(pt.x), float(pt.y)


# --- level 1 -----------------------------------------------------------------------------


def _level1(prof: Profile, county_m, centre_m, seat_hh: int, rng: np.random.Generator):
    """Sub-districts (the county seat) and townships, tiling the county."""
    seat_xy = centre_m
    seat_geoms = np.empty(0, dtype=object)
    region = county_m
    if prof.subdistricts:
        area = min(
            max(seat_hh * _SEAT_M2_PER_HOUSEHOLD, _SEAT_MIN_SHARE * county_m.area),
            0.25 * county_m.area,
        )
        radius = math.sqrt(area / math.pi)
        seat_xy = _seat_point(centre_m, county_m, radius)
        seat = shapely.intersection(blob(rng, seat_xy, area, roughness=0.15), county_m)
        seat = polygonal(np.array([seat]))[0]
        seeds = relaxed_points(rng, seat, prof.subdistricts, iterations=3)
        seat_geoms = tile(seat, seeds)
        region = polygonal(np.array([shapely.difference(county_m, seat)]))[0]
    seeds = relaxed_points(rng, region, prof.townships, iterations=3)
    town_geoms = tile(region, seeds)
    # nearest the seat first: the first town (花马池镇 in Yanchi) rings the county seat
    order = np.argsort(shapely.distance(town_geoms, shapely.Point(seat_xy)), kind="stable")
    town_geoms = town_geoms[order]

    sub_names, town_names = _level1_names(prof, rng)
    codes = [f"{prof.county_code}{k + 1:03d}" for k in range(prof.subdistricts)]
    zhen = xiang = 0
    for name in town_names:
        if name.endswith("镇"):
            zhen += 1
            codes.append(f"{prof.county_code}{100 + zhen:03d}")
        else:
            xiang += 1
            codes.append(f"{prof.county_code}{200 + xiang:03d}")
    units = _Units(
        geoms=np.concatenate([seat_geoms, town_geoms]),
        parent=np.zeros(prof.level1, dtype=np.int64),
        kinds=np.array(["subdistrict"] * prof.subdistricts + ["township"] * prof.townships),
        names=np.array(sub_names + town_names),
        codes=np.array(codes),
    )
    return units, seat_xy


def _seat_point(centre_m: tuple[float, float], county_m, radius: float) -> tuple[float, float]:
    """The profile's centre if the seat fits around it inside the county, else a point inside."""
    inner = county_m.buffer(-1.5 * radius)
    centre = shapely.Point(centre_m)
    if not inner.is_empty and inner.contains(centre):
        return centre_m
    p = (inner if not inner.is_empty else county_m).point_on_surface()
    return p.x, p.y


def _level1_names(prof: Profile, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    subs = prof.raw.get("subdistrict_names")
    towns = prof.raw.get("township_names")
    stems = place_names(rng, prof.level1, kind="township")
    if subs is None:
        subs = [s + "街道" for s in stems[: prof.subdistricts]]
    if towns is None:
        n_zhen = math.ceil(prof.townships / 2)
        rest = stems[prof.subdistricts :]
        towns = [s + "镇" for s in rest[:n_zhen]] + [s + "乡" for s in rest[n_zhen:]]
    return list(subs), list(towns)


# --- level 2 -----------------------------------------------------------------------------


def _villages(prof: Profile, level1: _Units, rng: np.random.Generator) -> _Units:
    """Villages tiling the townships and communities tiling the sub-districts."""
    n_comm, n_vill = _village_split(prof)
    areas = shapely.area(level1.geoms)
    s = prof.subdistricts
    per_unit = np.zeros(prof.level1, dtype=np.int64)
    if s:
        per_unit[:s] = allocate(n_comm, areas[:s], 1, n_comm)
    per_unit[s:] = allocate(n_vill, areas[s:], 1, n_vill)
    if per_unit.max() > 799:
        raise DataError(f"{per_unit.max()} villages in one township; at most 799 are supported")

    geoms, parents, kinds, codes = [], [], [], []
    for u in range(prof.level1):
        k = int(per_unit[u])
        seeds = relaxed_points(rng, level1.geoms[u], k, iterations=2)
        order = np.lexsort((seeds[:, 0], -seeds[:, 1]))  # north to south, then west to east
        geoms.append(tile(level1.geoms[u], seeds[order]))
        parents.append(np.full(k, u))
        community = level1.kinds[u] == "subdistrict"
        kinds += ["community" if community else "village"] * k
        base = 0 if community else 200
        codes += [f"{level1.codes[u]}{base + j + 1:03d}" for j in range(k)]
    kinds_a = np.array(kinds)
    names = np.empty(len(kinds_a), dtype=object)
    is_comm = kinds_a == "community"
    names[is_comm] = community_names(rng, int(is_comm.sum()))
    names[~is_comm] = [n + "村" for n in place_names(rng, int((~is_comm).sum()), kind="village")]
    return _Units(
        geoms=np.concatenate(geoms),
        parent=np.concatenate(parents),
        kinds=kinds_a,
        names=names.astype(str),
        codes=np.array(codes),
    )


def _village_split(prof: Profile) -> tuple[int, int]:
    """Communities (in the seat) and rural villages."""
    if not prof.subdistricts:
        return 0, prof.villages
    n_comm = round(prof.villages * prof.seat_share * 0.6)
    n_comm = min(max(n_comm, prof.subdistricts), prof.villages - prof.townships)
    return n_comm, prof.villages - n_comm


def _total_cells(prof: Profile) -> int:
    if prof.cells is not None:
        return prof.cells
    lo = max(prof.villages, math.ceil(prof.households / prof.cell_max))
    hi = prof.households // prof.cell_min
    return min(max(round(2 * prof.households / (prof.cell_min + prof.cell_max)), lo), hi)


def _village_households(prof: Profile, villages: _Units, rng: np.random.Generator):
    """Grid cells and households per village, feasible for cells of [cell_min, cell_max]."""
    cmin, cmax, h = prof.cell_min, prof.cell_max, prof.households
    total = _total_cells(prof)
    is_comm = villages.kinds == "community"
    n_comm = int(is_comm.sum())
    n_vill = len(is_comm) - n_comm
    if n_comm:
        c_seat = min(max(round(total * prof.seat_share), n_comm), total - n_vill)
        hh_seat = round(h * prof.seat_share)
        hh_seat = min(
            max(hh_seat, cmin * c_seat, h - cmax * (total - c_seat)),
            cmax * c_seat,
            h - cmin * (total - c_seat),
        )
    else:
        c_seat = hh_seat = 0
    areas = shapely.area(villages.geoms)
    noise = rng.lognormal(0.0, 0.35, size=len(areas))
    cells = np.zeros(len(areas), dtype=np.int64)
    hh = np.zeros(len(areas), dtype=np.int64)
    for mask, c_part, h_part in (
        (is_comm, c_seat, hh_seat),
        (~is_comm, total - c_seat, h - hh_seat),
    ):
        if not mask.any():
            continue
        c = allocate(c_part, areas[mask] * noise[mask], 1, c_part)
        jitter = rng.lognormal(0.0, 0.12, size=len(c))
        cells[mask] = c
        hh[mask] = allocate(h_part, c * jitter, cmin * c, cmax * c)
    return cells, hh


# --- level 3 -----------------------------------------------------------------------------


def _natural_units(prof: Profile, villages: _Units, village_hh: np.ndarray, rng):
    """Natural units: kinds, counts, centres, orientation and territory (metres)."""
    is_comm = villages.kinds == "community"
    hh_seat = int(village_hh[is_comm].sum())
    n_vill = int((~is_comm).sum())
    if is_comm.any():
        n_seat = round(prof.natural_units * prof.seat_share * 0.5)
        lo = max(int(is_comm.sum()), prof.natural_units - (prof.households - hh_seat))
        n_seat = min(max(n_seat, lo), prof.natural_units - n_vill, hh_seat)
    else:
        n_seat = 0
    per_village = np.zeros(len(village_hh), dtype=np.int64)
    for mask, n_part in ((is_comm, n_seat), (~is_comm, prof.natural_units - n_seat)):
        if mask.any():
            per_village[mask] = allocate(n_part, village_hh[mask], 1, village_hh[mask])

    nu_village = np.repeat(np.arange(len(village_hh)), per_village)
    seat_nu = is_comm[nu_village]
    kinds = np.where(
        seat_nu, np.where(rng.random(len(nu_village)) < 0.4, "building", "compound"), "hamlet"
    )
    weights = rng.lognormal(0.0, 0.6, size=len(nu_village)) * np.where(
        kinds == "building", 0.35, 1.0
    )
    nu_hh = np.zeros(len(nu_village), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(per_village)[:-1]])
    for v in range(len(village_hh)):
        sl = slice(starts[v], starts[v] + per_village[v])
        nu_hh[sl] = allocate(int(village_hh[v]), weights[sl], 1, min(int(village_hh[v]), 9999))

    centres = np.empty((len(nu_village), 2))
    theta = np.empty(len(nu_village))
    town_angle = rng.uniform(0, np.pi / 2)
    for v in range(len(village_hh)):
        sl = slice(starts[v], starts[v] + per_village[v])
        k = int(per_village[v])
        if is_comm[v]:
            centres[sl] = relaxed_points(rng, villages.geoms[v], k, iterations=2)
            theta[sl] = town_angle + rng.normal(0, 0.08, size=k)
        else:
            centres[sl], theta[sl] = _along_roads(rng, villages.geoms[v], nu_hh[sl])

    # each unit owns the Voronoi cell of its centre within its village: they tile the village
    territory = np.empty(len(nu_village), dtype=object)
    for v in range(len(village_hh)):
        sl = slice(starts[v], starts[v] + per_village[v])
        territory[sl] = tile(villages.geoms[v], centres[sl])
    lay = _building_layout(kinds, nu_hh, rng)
    lay.town_angle = float(town_angle)
    _make_room(rng, villages, lay, per_village, starts, centres, territory)

    names = _nu_names(rng, kinds, nu_village)
    ordinal = np.arange(len(nu_village)) - starts[nu_village] + 1
    codes = np.array(
        [f"{villages.codes[v]}{j:03d}" for v, j in zip(nu_village, ordinal, strict=True)]
    )
    if ordinal.max() > 999:
        raise DataError(f"{ordinal.max()} natural units in one village; at most 999 are supported")
    units = _Units(geoms=territory, parent=nu_village, kinds=kinds, names=names, codes=codes)
    return units, nu_hh, lay, centres, theta, territory


@dataclass
class _Layout:
    """How each natural unit is built: buildings, flats and lot sizes (metres)."""

    per_building: np.ndarray  # households per building (1 in hamlets)
    n_build: np.ndarray  # buildings (courtyards in hamlets)
    length: np.ndarray  # footprint length and depth of seat buildings
    depth: np.ndarray
    px: np.ndarray  # lot pitch along / across the road; the minimum pitch in hamlets
    py: np.ndarray
    town_angle: float = 0.0  # orientation of the seat's street grid, radians


def _building_layout(kinds: np.ndarray, nu_hh: np.ndarray, rng) -> _Layout:
    """Buildings per unit: one courtyard per hamlet household; compounds of buildings of
    18-72 flats; single buildings holding all their unit's flats."""
    n = len(kinds)
    per_building = np.where(kinds == "compound", rng.integers(18, 73, size=n), nu_hh)
    per_building = np.where(kinds == "hamlet", 1, per_building)
    n_build = -(-nu_hh // per_building)
    cap = np.maximum(per_building, 1).astype(float)
    depth = np.clip(cap * _FLAT_M2 / _MAX_BUILDING_LENGTH, 12.0, 40.0)
    length = np.clip(cap * _FLAT_M2 / depth, 20.0, _MAX_BUILDING_LENGTH)
    seat = kinds != "hamlet"
    px = np.where(seat, length + 14.0, _RURAL_PITCH[0])
    py = np.where(seat, depth + 16.0, _RURAL_PITCH[0])
    return _Layout(per_building, n_build, length, depth, px, py)


def _make_room(rng, villages: _Units, lay: _Layout, per_village, starts, centres, territory):
    """Move the centres of units whose territory is too small to the emptiest part of their
    village, and re-tile the village; a few rounds at most (modifies the arrays in place)."""
    hamlet = lay.per_building == 1
    need = np.where(hamlet, 1.6 * lay.n_build * lay.px * lay.py, 0.0)
    erosion = np.hypot(lay.px, lay.py) / 2
    for _ in range(8):
        room = shapely.area(shapely.buffer(territory, -erosion, quad_segs=2))
        short = np.flatnonzero(room < need)
        if len(short) == 0:
            return
        for v in np.unique(np.searchsorted(starts, short, side="right") - 1):
            sl = slice(starts[v], starts[v] + per_village[v])
            local = short[(short >= sl.start) & (short < sl.stop)]
            for i in local:
                cand = sample_in(rng, villages.geoms[v], 256)
                others = np.delete(centres[sl], i - sl.start, axis=0)
                if len(others) == 0:
                    continue
                gap = np.min(np.hypot(*(cand[:, None, :] - others[None, :, :]).T), axis=0)
                centres[i] = cand[np.argmax(gap)]
            territory[sl] = tile(villages.geoms[v], centres[sl])
    log.info("%d natural units still short of room after re-placing them", len(short))


def _along_roads(rng: np.random.Generator, village, households: np.ndarray):
    """Hamlet centres along one to three roads crossing ``village``, and the road direction.

    Hamlets are spaced along the roads in proportion to their households, so that a large
    hamlet gets a long stretch of road (and a large Voronoi cell).
    """
    k = len(households)
    n_roads = 1 + int(k > 4) + int(k > 12)
    minx, miny, maxx, maxy = village.bounds
    reach = 2 * math.hypot(maxx - minx, maxy - miny)
    through = sample_in(rng, village, n_roads)
    angles = rng.uniform(0, np.pi, size=n_roads)
    lines = shapely.linestrings(
        np.stack(
            [
                through - reach * np.c_[np.cos(angles), np.sin(angles)],
                through + reach * np.c_[np.cos(angles), np.sin(angles)],
            ],
            axis=1,
        )
    )
    pieces = shapely.get_parts(shapely.intersection(lines, village))
    pieces = pieces[shapely.get_type_id(pieces) == shapely.GeometryType.LINESTRING]
    lengths = shapely.length(pieces)
    keep = lengths > 1.0
    pieces, lengths = pieces[keep], lengths[keep]
    if len(pieces) == 0:
        pts = sample_in(rng, village, k)
        return pts, rng.uniform(0, np.pi, size=k)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    seg = households + 0.3 * households.mean()
    mid = np.cumsum(seg) - seg / 2 + rng.uniform(-0.15, 0.15, size=k) * seg
    pos = mid / seg.sum() * cum[-1]
    which = np.clip(np.searchsorted(cum, pos, side="right") - 1, 0, len(pieces) - 1)
    along = np.clip(pos - cum[which], 0.0, lengths[which])
    pts = shapely.get_coordinates(shapely.line_interpolate_point(pieces[which], along))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(pieces[which], np.minimum(along + 1.0, lengths[which]))
    )
    behind = shapely.get_coordinates(
        shapely.line_interpolate_point(pieces[which], np.maximum(along - 1.0, 0.0))
    )
    d = ahead - behind
    theta = np.arctan2(d[:, 1], d[:, 0])
    spacing = cum[-1] / k
    off = rng.uniform(-1, 1, size=k) * min(60.0, 0.1 * spacing)
    moved = pts + off[:, None] * np.c_[-np.sin(theta), np.cos(theta)]
    shapely.prepare(village)
    inside = shapely.contains_xy(village, moved[:, 0], moved[:, 1])
    pts = np.where(inside[:, None], moved, pts)
    bad = ~shapely.contains_xy(village, pts[:, 0], pts[:, 1])
    if bad.any():
        pts[bad] = sample_in(rng, village, int(bad.sum()))
    # break exact duplicates (two positions on the same point of a short road)
    _, first = np.unique(pts.round(2), axis=0, return_index=True)
    dup = np.setdiff1d(np.arange(k), first)
    if len(dup):
        pts[dup] = sample_in(rng, village, len(dup))
    return pts, theta


def _nu_names(rng: np.random.Generator, kinds: np.ndarray, nu_village: np.ndarray) -> np.ndarray:
    names = np.empty(len(kinds), dtype=object)
    hamlet = kinds == "hamlet"
    # hamlets: 一组, 二组 ... numbered within the village
    h_idx = np.flatnonzero(hamlet)
    h_vill = nu_village[h_idx]
    h_start = np.r_[0, np.flatnonzero(np.diff(h_vill)) + 1]
    h_ord = np.arange(len(h_idx)) - np.repeat(h_start, np.diff(np.r_[h_start, len(h_idx)])) + 1
    names[h_idx] = [cn_number(min(int(j), 999)) + "组" for j in h_ord]
    comp = np.flatnonzero(kinds == "compound")
    names[comp] = compound_names(rng, len(comp))
    b_idx = np.flatnonzero(kinds == "building")
    if len(b_idx):
        b_vill = nu_village[b_idx]
        b_start = np.r_[0, np.flatnonzero(np.diff(b_vill)) + 1]
        b_ord = np.arange(len(b_idx)) - np.repeat(b_start, np.diff(np.r_[b_start, len(b_idx)])) + 1
        names[b_idx] = [f"{j}号楼" for j in b_ord]
    return names.astype(str)


# --- level 4 -----------------------------------------------------------------------------


def _households(nu: _Units, nu_hh, lay: _Layout, villages: _Units, centres, theta, territory, rng):
    """Household polygons (metres), the natural unit of each (grouped by unit), and the
    outlines of the seat's units (``None`` for hamlets, outlined later from their households)."""
    n = len(nu_hh)
    seat = nu.kinds != "hamlet"
    n_build = lay.n_build
    b_nu = np.repeat(np.arange(n), n_build)
    b_ord = np.arange(len(b_nu)) - np.repeat(np.cumsum(n_build) - n_build, n_build)
    base, extra = np.divmod(nu_hh, n_build)
    flats = base[b_nu] + (b_ord < extra[b_nu])
    bx, by = np.empty(len(b_nu)), np.empty(len(b_nu))
    fw, fd, b_theta = np.empty(len(b_nu)), np.empty(len(b_nu)), np.empty(len(b_nu))

    # hamlets: courtyards on a lot grid along the road, inside the unit's territory
    rural = np.flatnonzero(~seat)
    rb = ~seat[b_nu]
    pitch = np.clip(np.sqrt(0.3 * shapely.area(territory[rural]) / nu_hh[rural]), *_RURAL_PITCH)
    px, py = pitch, pitch * rng.uniform(0.95, 1.15, size=len(rural))
    asp = rng.integers(0, len(_RURAL_ASPECTS), size=len(rural))
    templates = lot_templates(_RURAL_ASPECTS, _TEMPLATE_HALF)
    lots = _choose_lots(
        n_build[rural], centres[rural], theta[rural], px, py, asp, templates, territory[rural]
    )
    r_of_b = np.repeat(np.arange(len(rural)), n_build[rural])  # rural unit of each courtyard
    sc = lots["scale"][r_of_b]
    lx, ly = px[r_of_b] * sc, py[r_of_b] * sc
    w = rng.uniform(_COURTYARD[0], np.maximum(np.minimum(_COURTYARD[1], lx / sc - 2), 10.0)) * sc
    d = rng.uniform(_COURTYARD[0], np.maximum(np.minimum(_COURTYARD[1], ly / sc - 2), 10.0)) * sc
    jx = rng.uniform(-1, 1, size=len(w)) * np.maximum((lx - w) / 2 - 0.5, 0.0)
    jy = rng.uniform(-1, 1, size=len(w)) * np.maximum((ly - d) / 2 - 0.5, 0.0)
    t = theta[rural][r_of_b]
    bx[rb] = lots["xy"][:, 0] + np.cos(t) * jx - np.sin(t) * jy
    by[rb] = lots["xy"][:, 1] + np.sin(t) * jx + np.cos(t) * jy
    fw[rb], fd[rb], b_theta[rb] = w, d, t

    # the county seat: buildings on a street grid of plots in each community
    outlines = np.full(n, None, dtype=object)
    if seat.any():
        seat_b = ~rb
        xy, w, d, polys = _seat_layout(nu, lay, villages, rng)
        bx[seat_b], by[seat_b] = xy[:, 0], xy[:, 1]
        fw[seat_b], fd[seat_b], b_theta[seat_b] = w, d, lay.town_angle
        outlines[seat] = polys
    c, si = np.cos(b_theta), np.sin(b_theta)

    # flats: a grid of cells over the footprint, one household per cell
    cols = np.ceil(np.sqrt(flats * fw / fd)).astype(np.int64)
    cols = np.clip(cols, 1, flats)
    rows = -(-flats // cols)
    h_b = np.repeat(np.arange(len(b_nu)), flats)
    k = np.arange(len(h_b)) - np.repeat(np.cumsum(flats) - flats, flats)
    col, row = k % cols[h_b], k // cols[h_b]
    cw, ch = fw[h_b] / cols[h_b], fd[h_b] / rows[h_b]
    inset = np.where(flats[h_b] > 1, _FLAT_GAP, 0.0)
    x0 = -fw[h_b] / 2 + col * cw + inset
    x1 = -fw[h_b] / 2 + (col + 1) * cw - inset
    y0 = -fd[h_b] / 2 + row * ch + inset
    y1 = -fd[h_b] / 2 + (row + 1) * ch - inset
    local = np.stack(
        [np.c_[x0, y0], np.c_[x1, y0], np.c_[x1, y1], np.c_[x0, y1], np.c_[x0, y0]], axis=1
    )
    cb, sb = c[h_b][:, None], si[h_b][:, None]
    wx = bx[h_b][:, None] + cb * local[:, :, 0] - sb * local[:, :, 1]
    wy = by[h_b][:, None] + sb * local[:, :, 0] + cb * local[:, :, 1]
    geoms = shapely.polygons(np.stack([wx, wy], axis=2))
    return geoms, b_nu[h_b], outlines


def _seat_layout(nu: _Units, lay: _Layout, villages: _Units, rng):
    """Seat buildings on a grid of plots (a street grid) covering each community.

    Plots wholly inside the community are ordered row by row, snaking, and each compound or
    building takes a run of consecutive plots (one per building), with empty plots (parks,
    schools) spread between units.  The grid is made finer until the plots suffice.

    Returns footprint centres ``(m, 2)``, footprint widths and depths, in building order, and
    the outline of each seat unit (its plots, merged, 1.5 m inside the street line).
    """
    ang = lay.town_angle
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    seat_units = np.flatnonzero(nu.kinds != "hamlet")
    xy_all, w_all, d_all, polys = [], [], [], []
    for v in np.unique(nu.parent[seat_units]):
        units = seat_units[nu.parent[seat_units] == v]
        need = lay.n_build[units]
        poly = villages.geoms[v]
        shapely.prepare(poly)
        origin = np.asarray(poly.centroid.coords[0])
        local = (shapely.get_coordinates(poly) - origin) @ rot  # community in grid axes
        for s in 0.85 ** np.arange(9):
            pw, ph = _PLOT[0] * s, _PLOT[1] * s
            i = np.arange(np.floor(local[:, 0].min() / pw), np.ceil(local[:, 0].max() / pw))
            j = np.arange(np.floor(local[:, 1].min() / ph), np.ceil(local[:, 1].max() / ph))
            ii, jj = (a.ravel() for a in np.meshgrid(i, j, indexing="ij"))
            corners = np.stack(
                [
                    np.c_[ii + a, jj + b] * (pw, ph)
                    for a, b in ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))
                ],
                axis=1,
            )
            world = corners @ rot.T + origin
            ok = shapely.contains(poly, shapely.polygons(world))
            if ok.sum() >= need.sum():
                break
        else:
            raise _NoRoomError(f"community {villages.codes[v]} has too little room for its flats")
        ii, jj, world = ii[ok], jj[ok], world[ok]
        snake = np.lexsort((np.where(jj % 2 == 0, ii, -ii), jj))
        world = world[snake]
        gaps = allocate(len(world) - need.sum(), np.ones(len(units) + 1), 0, len(world))
        pos = int(gaps[0])
        margin = max(3.0, 6.0 * s)
        for u, m, gap in zip(units, need, gaps[1:], strict=True):
            plots = world[pos : pos + m]
            pos += int(m + gap)
            centre = plots[:, :4].mean(axis=1)
            w = min(lay.length[u], pw - 2 * margin)
            d = min(lay.depth[u], ph - 2 * margin)
            jitter = rng.uniform(-1, 1, size=(m, 2)) * (
                (pw - w) / 2 - margin,
                (ph - d) / 2 - margin,
            )
            xy_all.append(centre + jitter @ rot.T)
            w_all.append(np.full(m, w))
            d_all.append(np.full(m, d))
            merged = shapely.union_all(shapely.polygons(plots))
            polys.append(merged.buffer(-1.5, join_style="mitre"))
    return np.concatenate(xy_all), np.concatenate(w_all), np.concatenate(d_all), polys


def _choose_lots(n_build, centres, theta, px, py, asp, templates, territory):
    """For each unit, ``n_build`` lot centres nearest its centre whose whole lot lies in its
    territory; packs a unit tighter (``scale`` < 1) when its territory is too small."""
    n = len(n_build)
    m_tpl = templates.shape[1]
    scale = np.ones(n)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (unit, rank, xy)
    todo = np.arange(n)
    shapely.prepare(territory)
    rounds = [lambda m: 2 * m + 24, lambda m: 8 * m + 200, lambda m: np.full_like(m, m_tpl)]
    for attempt in range(4):
        if attempt:
            scale[todo] *= 0.8
        erosion = np.hypot(px, py) / 2 * scale * 1.02 + 0.5
        eroded = shapely.buffer(territory[todo], -erosion[todo], quad_segs=4)
        shapely.prepare(eroded)
        for how_many in rounds:
            if len(todo) == 0:
                break
            m = n_build[todo]
            k_each = np.minimum(how_many(m), m_tpl)
            rep = np.repeat(np.arange(len(todo)), k_each)
            unit = todo[rep]
            k = np.arange(len(rep)) - np.repeat(np.cumsum(k_each) - k_each, k_each)
            off = templates[asp[unit], k]
            lx = off[:, 0] * px[unit] * scale[unit]
            ly = off[:, 1] * py[unit] * scale[unit]
            c, s = np.cos(theta[unit]), np.sin(theta[unit])
            x = centres[unit, 0] + c * lx - s * ly
            y = centres[unit, 1] + s * lx + c * ly
            ok = shapely.contains_xy(eroded[rep], x, y)
            ok |= _lot_fits_exactly(
                ~ok, unit, x, y, c, s, px * scale / 2, py * scale / 2, territory
            )
            csum = np.cumsum(ok)
            before = np.r_[0, csum][np.cumsum(k_each) - k_each]
            rank = csum - np.repeat(before, k_each)
            take = ok & (rank <= m[rep])
            got = np.bincount(rep[take], minlength=len(todo))
            full = got >= m
            keep = take & full[rep]
            found.append((unit[keep], rank[keep], np.c_[x[keep], y[keep]]))
            todo, eroded = todo[~full], eroded[~full]
        if len(todo) == 0:
            break
    if len(todo):
        raise _NoRoomError(
            f"{len(todo)} natural unit(s) have too little room for their households "
            f"(e.g. {int(n_build[todo[0]])} households); is the outline too small?"
        )
    unit = np.concatenate([f[0] for f in found])
    rank = np.concatenate([f[1] for f in found])
    xy = np.concatenate([f[2] for f in found])
    order = np.lexsort((rank, unit))
    return {"xy": xy[order], "scale": scale}


def _lot_fits_exactly(maybe, unit, x, y, c, s, hx, hy, territory) -> np.ndarray:
    """Whether the lots flagged ``maybe`` (centre not in the eroded territory) still lie wholly
    inside their unit's territory: all four corners inside, then an exact polygon test."""
    fits = np.zeros(len(maybe), dtype=bool)
    mi = np.flatnonzero(maybe)
    if len(mi) == 0:
        return fits
    u = unit[mi]
    signs = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    lx = signs[None, :, 0] * hx[u][:, None]
    ly = signs[None, :, 1] * hy[u][:, None]
    cx = x[mi][:, None] + c[mi][:, None] * lx - s[mi][:, None] * ly
    cy = y[mi][:, None] + s[mi][:, None] * lx + c[mi][:, None] * ly
    inside = np.ones(len(mi), dtype=bool)
    for j in range(4):
        inside &= shapely.contains_xy(territory[u], cx[:, j], cy[:, j])
    sel = np.flatnonzero(inside)
    if len(sel):
        boxes = shapely.polygons(np.stack([cx[sel], cy[sel]], axis=2))
        fits[mi[sel]] = shapely.contains(territory[u[sel]], boxes)
    return fits


def _unit_outlines(nu: _Units, hh_geoms, hh_nu, territory) -> np.ndarray:
    """Natural-unit polygons: the buffered convex hull of their households, in their territory."""
    coords, idx = shapely.get_coordinates(hh_geoms, return_index=True)
    hulls = shapely.convex_hull(shapely.multipoints(coords, indices=hh_nu[idx]))
    margin = np.where(nu.kinds == "hamlet", 8.0, np.where(nu.kinds == "compound", 6.0, 3.0))
    return polygonal(shapely.intersection(shapely.buffer(hulls, margin, quad_segs=2), territory))


# --- frames ------------------------------------------------------------------------------


def _household_frame(prof: Profile, nu: _Units, villages: _Units, geoms, hh_nu, rng, crs):
    n = len(geoms)
    residents = _residents(rng, n, prof.residents)
    seat = nu.kinds[hh_nu] != "hamlet"
    village_rate = rng.beta(6.5, 3.5, size=len(villages.codes))
    rate = np.where(seat, 0.85, village_rate[nu.parent[hh_nu]])
    at_home = rng.binomial(residents, rate)
    colour = np.asarray(FIVE_COLOURS)[rng.choice(len(FIVE_COLOURS), size=n, p=COLOUR_SHARES)]
    start = np.r_[0, np.flatnonzero(np.diff(hh_nu)) + 1]
    ordinal = np.arange(n) - np.repeat(start, np.diff(np.r_[start, n])) + 1
    nu_codes = pd.Series(nu.codes[hh_nu])
    codes = nu_codes + pd.Series(ordinal).astype(str).str.zfill(4)
    frame = gpd.GeoDataFrame(
        {
            "code": codes.to_numpy(),
            "natural_unit_code": nu_codes.to_numpy(),
            "village_code": villages.codes[nu.parent[hh_nu]],
            "residents": residents,
            "residents_at_home": at_home.astype(np.int64),
            "colour": colour,
        },
        geometry=gpd.GeoSeries(geoms, crs=crs).to_crs(STORAGE_CRS).to_numpy(),
        crs=STORAGE_CRS,
    )
    return frame[list(HOUSEHOLD_COLUMNS)]


def _residents(rng: np.random.Generator, n: int, total: int) -> np.ndarray:
    """``n`` household sizes summing exactly to ``total`` (at least 1 each when possible)."""
    mean = total / n
    floor = 1 if total >= n else 0
    res = rng.poisson(max(mean - floor, 0.0), size=n) + floor
    diff = int(total - res.sum())
    if diff > 0:
        np.add.at(res, rng.integers(0, n, size=diff), 1)
    while diff < 0:
        eligible = np.flatnonzero(res > floor)
        take = rng.choice(eligible, size=min(-diff, len(eligible)), replace=False)
        res[take] -= 1
        diff += len(take)
    return res.astype(np.int64)


def _admin_from_units(units: _Units, parent_codes, *, crs) -> gpd.GeoDataFrame:
    return _admin_frame(units.codes, units.names, parent_codes, units.kinds, units.geoms, crs)


def _admin_frame(codes, names, parents, kinds, geoms, crs) -> gpd.GeoDataFrame:
    series = gpd.GeoSeries(polygonal(np.asarray(geoms, dtype=object)), crs=crs)
    if series.crs != STORAGE_CRS:
        series = series.to_crs(STORAGE_CRS)
    frame = gpd.GeoDataFrame(
        {
            "code": np.asarray(codes, dtype=object).astype(str),
            "name": np.asarray(names, dtype=object).astype(str),
            "parent_code": pd.array(list(parents), dtype=object),
            "kind": np.asarray(kinds, dtype=object).astype(str),
        },
        geometry=series.to_numpy(),
        crs=STORAGE_CRS,
    )
    return frame[list(ADMIN_COLUMNS)]
