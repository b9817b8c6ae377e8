"""Natural units of a synthetic county: hamlets strung along village roads, residential
compounds and single buildings in the seat, their territories (Voronoi cells within the
village), names, codes and building layout.

Step 4 of :mod:`geo.synth._county`; everything in the county's UTM zone (metres).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import shapely

from geo.errors import DataError
from geo.profiles import Profile
from geo.synth._alloc import allocate, cn_number, compound_names
from geo.synth._cells import unit_sizes
from geo.synth._geom import relaxed_points, sample_in, tile
from geo.synth._units import FLAT_M2, MAX_BUILDING_LENGTH, RURAL_PITCH, Layout, Units

log = logging.getLogger(__name__)


def natural_units(
    prof: Profile,
    villages: Units,
    village_hh: np.ndarray,
    rng,
    *,
    village_cells: np.ndarray | None = None,
):
    """Natural units: kinds, counts, centres, orientation and territory (metres).

    With ``village_cells`` (the profile gives ``cells``), each village has at most as many
    units as cells, and its units are sized so that the grid engine cuts exactly the
    village's cells (:func:`geo.synth._cells.unit_sizes`); villages where that cannot be
    done keep sizes that only honour their household total (logged).
    """
    is_comm = villages.kinds == "community"
    per_village = _units_per_village(prof, is_comm, village_hh, village_cells)

    nu_village = np.repeat(np.arange(len(village_hh)), per_village)
    seat_nu = is_comm[nu_village]
    kinds = np.where(
        seat_nu, np.where(rng.random(len(nu_village)) < 0.4, "building", "compound"), "hamlet"
    )
    weights = rng.lognormal(0.0, 0.6, size=len(nu_village)) * np.where(
        kinds == "building", 0.35, 1.0
    )
    starts = np.concatenate([[0], np.cumsum(per_village)[:-1]])
    nu_hh = _unit_households(prof, village_hh, village_cells, per_village, starts, weights)

    centres, theta, town_angle = _centres(rng, villages, is_comm, per_village, starts, nu_hh)
    territory = _territories(villages, per_village, starts, centres)
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
    units = Units(geoms=territory, parent=nu_village, kinds=kinds, names=names, codes=codes)
    return units, nu_hh, lay, centres, theta, territory


def _units_per_village(
    prof: Profile, is_comm: np.ndarray, village_hh: np.ndarray, cells: np.ndarray | None
) -> np.ndarray:
    """Natural units per village: the seat's share in communities, at least one per village
    and at most one per household (and, with ``cells``, one per cell where possible)."""
    if cells is not None:
        per_village = _spread_units(prof, is_comm, np.minimum(village_hh, cells))
        if per_village is not None:
            return per_village
        log.warning("profile %s: more natural units than cells in part of the county", prof.name)
    per_village = _spread_units(prof, is_comm, village_hh)
    if per_village is None:
        raise DataError(f"profile {prof.name}: cannot spread {prof.natural_units} natural units")
    return per_village


def _spread_units(prof: Profile, is_comm: np.ndarray, cap: np.ndarray) -> np.ndarray | None:
    """Units per village, at most ``cap`` each, weighted by ``cap``; None if they don't fit."""
    n_vill = int((~is_comm).sum())
    n_seat = 0
    if is_comm.any():
        n_seat = round(prof.natural_units * prof.seat_share * 0.5)
        lo = max(int(is_comm.sum()), prof.natural_units - int(cap[~is_comm].sum()))
        n_seat = min(max(n_seat, lo), prof.natural_units - n_vill, int(cap[is_comm].sum()))
    per_village = np.zeros(len(cap), dtype=np.int64)
    for mask, n_part in ((is_comm, n_seat), (~is_comm, prof.natural_units - n_seat)):
        if mask.any():
            if not mask.sum() <= n_part <= cap[mask].sum():
                return None
            per_village[mask] = allocate(n_part, cap[mask], 1, cap[mask])
    return per_village


def _unit_households(prof: Profile, village_hh, cells, per_village, starts, weights) -> np.ndarray:
    """Households per natural unit: engine-exact sizes where ``cells`` is given and they
    fit (:func:`geo.synth._cells.unit_sizes`), else a split honouring the village total."""
    nu_hh = np.zeros(int(per_village.sum()), dtype=np.int64)
    inexact = 0
    for v in range(len(village_hh)):
        sl = slice(starts[v], starts[v] + per_village[v])
        h = int(village_hh[v])
        sizes = None
        if cells is not None:
            sizes = unit_sizes(h, int(cells[v]), weights[sl], prof.cell_min, prof.cell_max)
            inexact += sizes is None
        nu_hh[sl] = sizes if sizes is not None else allocate(h, weights[sl], 1, min(h, 9999))
    if inexact:
        log.warning(
            "profile %s: %d villages' natural units could not be sized for exactly their cells",
            prof.name,
            inexact,
        )
    return nu_hh


def _centres(rng, villages: Units, is_comm, per_village, starts, nu_hh):
    """Unit centres (metres) and orientations (radians): relaxed random points turned with
    the seat's street grid in communities, hamlets along roads elsewhere; and the grid angle."""
    centres = np.empty((len(nu_hh), 2))
    theta = np.empty(len(nu_hh))
    town_angle = rng.uniform(0, np.pi / 2)
    for v in range(len(per_village)):
        sl = slice(starts[v], starts[v] + per_village[v])
        k = int(per_village[v])
        if is_comm[v]:
            centres[sl] = relaxed_points(rng, villages.geoms[v], k, iterations=2)
            theta[sl] = town_angle + rng.normal(0, 0.08, size=k)
        else:
            centres[sl], theta[sl] = _along_roads(rng, villages.geoms[v], nu_hh[sl])
    return centres, theta, town_angle


def _territories(villages: Units, per_village, starts, centres) -> np.ndarray:
    """Each unit's Voronoi cell of its centre within its village (they tile the village)."""
    territory = np.empty(int(per_village.sum()), dtype=object)
    for v in range(len(per_village)):
        sl = slice(starts[v], starts[v] + per_village[v])
        territory[sl] = tile(villages.geoms[v], centres[sl])
    return territory


def _building_layout(kinds: np.ndarray, nu_hh: np.ndarray, rng) -> Layout:
    """Buildings per unit: one courtyard per hamlet household; compounds of buildings of
    18-72 flats; single buildings holding all their unit's flats."""
    n = len(kinds)
    per_building = np.where(kinds == "compound", rng.integers(18, 73, size=n), nu_hh)
    per_building = np.where(kinds == "hamlet", 1, per_building)
    n_build = -(-nu_hh // per_building)
    cap = np.maximum(per_building, 1).astype(float)
    depth = np.clip(cap * FLAT_M2 / MAX_BUILDING_LENGTH, 12.0, 40.0)
    length = np.clip(cap * FLAT_M2 / depth, 20.0, MAX_BUILDING_LENGTH)
    seat = kinds != "hamlet"
    px = np.where(seat, length + 14.0, RURAL_PITCH[0])
    py = np.where(seat, depth + 16.0, RURAL_PITCH[0])
    return Layout(per_building, n_build, length, depth, px, py)


def _make_room(rng, villages: Units, lay: Layout, per_village, starts, centres, territory):
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
