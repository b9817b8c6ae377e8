"""The upper levels of a synthetic county: outline, level-1 units (sub-districts and
townships) and villages, with the grid cells and households of each village.

Steps 1-3 of :mod:`geo.synth._county`; everything in the county's UTM zone (metres).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.errors import DataError
from geo.profiles import Profile
from geo.projection import STORAGE_CRS, require_crs, utm_crs, utm_crs_for_lonlat
from geo.synth._alloc import allocate, community_names, place_names
from geo.synth._cells import village_bounds
from geo.synth._geom import blob, polygonal, relaxed_points, tile
from geo.synth._units import RURAL_PITCH, SEAT_M2_PER_HOUSEHOLD, SEAT_MIN_SHARE, Units

log = logging.getLogger(__name__)


def check_room(prof: Profile, county_m) -> None:
    """Refuse an outline far too small for the profile's households (before laying them out)."""
    need = 4 * prof.households * RURAL_PITCH[0] ** 2
    if county_m.area < need:
        raise DataError(
            f"too little room: the outline covers {county_m.area / 1e6:.3f} km², "
            f"{prof.households} households need at least {need / 1e6:.2f} km²"
        )


def county_outline(prof: Profile, outline, rng: np.random.Generator):
    """County polygon in EPSG:4326 and in metres, the metric CRS, and where it came from."""
    if outline is None:
        crs = utm_crs_for_lonlat(*prof.centre_lonlat)
        centre = centre_xy(prof, crs)
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


def centre_xy(prof: Profile, crs: CRS) -> tuple[float, float]:
    pt = gpd.GeoSeries([shapely.Point(prof.centre_lonlat)], crs=STORAGE_CRS).to_crs(crs).iloc[0]
    return float(pt.x), float(pt.y)


def level1_units(prof: Profile, county_m, centre_m, seat_hh: int, rng: np.random.Generator):
    """Sub-districts (the county seat) and townships, tiling the county."""
    seat_xy = centre_m
    seat_geoms = np.empty(0, dtype=object)
    region = county_m
    if prof.subdistricts:
        area = min(
            max(seat_hh * SEAT_M2_PER_HOUSEHOLD, SEAT_MIN_SHARE * county_m.area),
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
    units = Units(
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


def village_units(prof: Profile, level1: Units, rng: np.random.Generator) -> Units:
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
    return Units(
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


def village_households(prof: Profile, villages: Units, rng: np.random.Generator):
    """Grid cells and households per village, feasible for cells of [cell_min, cell_max].

    Where the profile gives ``cells`` and its households allow it, each village's households
    lie in :func:`geo.synth._cells.unit_range` of its cells, so that its natural units can be
    sized for the engine to cut exactly those cells (:mod:`geo.synth._cells`); otherwise in
    ``[cell_min * cells, cell_max * cells]``.
    """
    h = prof.households
    total = _total_cells(prof)
    is_comm = villages.kinds == "community"
    n_comm = int(is_comm.sum())
    n_vill = len(is_comm) - n_comm
    c_seat = min(max(round(total * prof.seat_share), n_comm), total - n_vill) if n_comm else 0
    areas = shapely.area(villages.geoms)
    noise = rng.lognormal(0.0, 0.35, size=len(areas))
    cells = np.zeros(len(areas), dtype=np.int64)
    parts = [(m, c) for m, c in ((is_comm, c_seat), (~is_comm, total - c_seat)) if m.any()]
    for mask, c_part in parts:
        cells[mask] = allocate(c_part, areas[mask] * noise[mask], 1, c_part)
    lo, hi = _household_bounds(prof, cells)
    hh_seat = 0
    if n_comm:
        seat_lo, seat_hi = int(lo[is_comm].sum()), int(hi[is_comm].sum())
        rest_lo, rest_hi = int(lo[~is_comm].sum()), int(hi[~is_comm].sum())
        hh_seat = min(max(round(h * prof.seat_share), seat_lo, h - rest_hi), seat_hi, h - rest_lo)
    hh = np.zeros(len(areas), dtype=np.int64)
    for mask, _ in parts:
        h_part = hh_seat if mask is is_comm else h - hh_seat
        jitter = rng.lognormal(0.0, 0.12, size=int(mask.sum()))
        hh[mask] = allocate(h_part, cells[mask] * jitter, lo[mask], hi[mask])
    return cells, hh


def _household_bounds(prof: Profile, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Households allowed per village: the engine-exact range of its cells where the profile
    gives ``cells`` and its households fit those ranges, else ``cell_min/max * cells``."""
    if prof.cells is not None:
        bounds = village_bounds(cells, prof.cell_min, prof.cell_max)
        if bounds is not None and bounds[0].sum() <= prof.households <= bounds[1].sum():
            return bounds
        log.warning(
            "profile %s: %d households are too far from %d cells of %d-%d for every village "
            "to be cut into exactly its cells; the plan's cell count may differ",
            prof.name,
            prof.households,
            prof.cells,
            prof.cell_min,
            prof.cell_max,
        )
    return prof.cell_min * cells, prof.cell_max * cells
