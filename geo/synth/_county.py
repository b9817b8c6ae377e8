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
   cells within the bounds (a profile's ``cells`` total is honoured exactly).  Where the
   profile gives ``cells`` (Xihua's 8,788), the range is narrowed to the sizes the grid
   engine cuts into exactly that many cells (about ``40 * cells +- 19`` for 30-50), see
   :mod:`geo.synth._cells`.
4. **Level 3** -- in the countryside, natural units are hamlets strung along one to three roads
   crossing the village, spaced in proportion to their households; each owns the Voronoi
   cell of its centre within its village (centres short of room are moved to the emptiest
   part of the village).  Where the profile gives ``cells``, a village has at most one unit
   per cell, each unit gets ``k`` of its village's cells and ``k * 40 +- 19`` households
   (for 30-50; one cell: 30-50), so that the default engine (natural units kept) cuts each
   unit into exactly ``k`` cells and the plan has exactly the profile's cells.  In the seat,
   each community is covered by a street grid of plots;
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

Where the steps live: :mod:`geo.synth._admin` (steps 1-3), :mod:`geo.synth._natural`
(step 4), :mod:`geo.synth._households` (step 5), :mod:`geo.synth._frames` (the output frames)
and :mod:`geo.synth._units` (the types and layout constants); this module runs them in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import geopandas as gpd
import numpy as np
import shapely

from geo.frames import County
from geo.profiles import Profile, load_profile
from geo.projection import STORAGE_CRS
from geo.synth._admin import (
    centre_xy,
    check_room,
    county_outline,
    level1_units,
    village_households,
    village_units,
)
from geo.synth._frames import admin_frame, admin_from_units, household_frame
from geo.synth._geom import polygonal
from geo.synth._households import household_geoms, unit_outlines
from geo.synth._natural import natural_units
from geo.synth._units import COLOUR_SHARES, LAYOUT_ATTEMPTS, STEPS, NoRoomError

log = logging.getLogger(__name__)

__all__ = ["COLOUR_SHARES", "STEPS", "generate_county"]


def generate_county(
    profile: str | Profile,
    *,
    seed: int = 20201,
    outline: gpd.GeoDataFrame | gpd.GeoSeries | str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> County:
    """Generate a synthetic county with the exact counts of ``profile``.

    Where the profile gives ``cells``, the plan the default grid engine builds of the county
    (:func:`geo.plans.build_county_plan`: profile bounds, natural units kept) has exactly
    that many cells: villages and natural units are sized for it (see the module docstring,
    step 3 and 4, and docs/seed-counties.md).

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
    county_ll, county_m, crs, outline_source = county_outline(prof, outline, rng)
    step("townships")
    seat_hh_est = round(prof.households * prof.seat_share) if prof.subdistricts else 0
    level1, seat_xy = level1_units(prof, county_m, centre_xy(prof, crs), seat_hh_est, rng)
    step("villages")
    villages = village_units(prof, level1, rng)
    cells, village_hh = village_households(prof, villages, rng)
    check_room(prof, county_m)
    exact_cells = cells if prof.cells is not None else None
    for attempt in range(LAYOUT_ATTEMPTS):
        step("natural units")
        nu, nu_hh, lay, centres, theta, territory = natural_units(
            prof, villages, village_hh, rng, village_cells=exact_cells
        )
        step("households")
        try:
            hh_geoms, hh_nu, seat_outlines = household_geoms(
                nu, nu_hh, lay, villages, centres, theta, territory, rng
            )
            attempts = attempt + 1
            break
        except NoRoomError:
            if attempt == LAYOUT_ATTEMPTS - 1:
                raise
            log.info("layout attempt %d found too little room; drawing the units again", attempt)
    nu.geoms = unit_outlines(nu, hh_geoms, hh_nu, territory)
    in_seat = nu.kinds != "hamlet"
    nu.geoms[in_seat] = polygonal(seat_outlines[in_seat])
    households = household_frame(prof, nu, villages, hh_geoms, hh_nu, rng, crs)

    county = admin_frame(
        [prof.county_code], [prof.name_zh], [None], ["county"], [county_ll], STORAGE_CRS
    )
    to_ll = {"crs": crs}
    result = County(
        county=county,
        townships=admin_from_units(level1, np.full(len(level1.codes), prof.county_code), **to_ll),
        villages=admin_from_units(villages, level1.codes[villages.parent], **to_ll),
        natural_units=admin_from_units(nu, villages.codes[nu.parent], **to_ll),
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
