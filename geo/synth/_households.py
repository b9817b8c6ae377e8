"""Household polygons of a synthetic county: courtyards on lot grids in hamlets, flats in
the seat's buildings on a street grid of plots, and natural-unit outlines.

Step 5 of :mod:`geo.synth._county`; everything in the county's UTM zone (metres).
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.synth._alloc import allocate
from geo.synth._geom import lot_templates, polygonal
from geo.synth._units import (
    COURTYARD,
    FLAT_GAP,
    PLOT,
    RURAL_ASPECTS,
    RURAL_PITCH,
    TEMPLATE_HALF,
    Layout,
    NoRoomError,
    Units,
)


def household_geoms(nu: Units, nu_hh, lay: Layout, villages: Units, centres, theta, territory, rng):
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
    bx[rb], by[rb], fw[rb], fd[rb], b_theta[rb] = _courtyards(
        rng, n_build[rural], nu_hh[rural], centres[rural], theta[rural], territory[rural]
    )

    # the county seat: buildings on a street grid of plots in each community
    outlines = np.full(n, None, dtype=object)
    if seat.any():
        seat_b = ~rb
        xy, w, d, polys = _seat_layout(nu, lay, villages, rng)
        bx[seat_b], by[seat_b] = xy[:, 0], xy[:, 1]
        fw[seat_b], fd[seat_b], b_theta[seat_b] = w, d, lay.town_angle
        outlines[seat] = polys
    geoms, h_b = _flat_polygons(flats, bx, by, fw, fd, b_theta)
    return geoms, b_nu[h_b], outlines


def _courtyards(rng, n_build, nu_hh, centres, theta, territory):
    """Courtyards of the hamlets: centres ``x``, ``y`` (metres), widths, depths and
    orientations (radians), one per household, on each hamlet's lot grid (courtyards of
    :data:`COURTYARD` metres, smaller only where a territory is too cramped)."""
    pitch = np.clip(np.sqrt(0.3 * shapely.area(territory) / nu_hh), *RURAL_PITCH)
    px, py = pitch, pitch * rng.uniform(0.95, 1.15, size=len(n_build))
    asp = rng.integers(0, len(RURAL_ASPECTS), size=len(n_build))
    templates = lot_templates(RURAL_ASPECTS, TEMPLATE_HALF)
    lots = _choose_lots(n_build, centres, theta, px, py, asp, templates, territory)
    r_of_b = np.repeat(np.arange(len(n_build)), n_build)  # rural unit of each courtyard
    sc = lots["scale"][r_of_b]
    lx, ly = px[r_of_b] * sc, py[r_of_b] * sc
    w = rng.uniform(COURTYARD[0], np.maximum(np.minimum(COURTYARD[1], lx / sc - 2), 10.0)) * sc
    d = rng.uniform(COURTYARD[0], np.maximum(np.minimum(COURTYARD[1], ly / sc - 2), 10.0)) * sc
    jx = rng.uniform(-1, 1, size=len(w)) * np.maximum((lx - w) / 2 - 0.5, 0.0)
    jy = rng.uniform(-1, 1, size=len(w)) * np.maximum((ly - d) / 2 - 0.5, 0.0)
    t = theta[r_of_b]
    x = lots["xy"][:, 0] + np.cos(t) * jx - np.sin(t) * jy
    y = lots["xy"][:, 1] + np.sin(t) * jx + np.cos(t) * jy
    return x, y, w, d, t


def _flat_polygons(flats, bx, by, fw, fd, b_theta):
    """One polygon per flat (metres): a grid of cells over each building footprint (centre
    ``bx``, ``by``, width ``fw``, depth ``fd``, turned by ``b_theta``); and the building of each."""
    c, si = np.cos(b_theta), np.sin(b_theta)
    cols = np.ceil(np.sqrt(flats * fw / fd)).astype(np.int64)
    cols = np.clip(cols, 1, flats)
    rows = -(-flats // cols)
    h_b = np.repeat(np.arange(len(flats)), flats)
    k = np.arange(len(h_b)) - np.repeat(np.cumsum(flats) - flats, flats)
    col, row = k % cols[h_b], k // cols[h_b]
    cw, ch = fw[h_b] / cols[h_b], fd[h_b] / rows[h_b]
    inset = np.where(flats[h_b] > 1, FLAT_GAP, 0.0)
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
    return geoms, h_b


def _seat_layout(nu: Units, lay: Layout, villages: Units, rng):
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
            pw, ph = PLOT[0] * s, PLOT[1] * s
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
            raise NoRoomError(f"community {villages.codes[v]} has too little room for its flats")
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
        raise NoRoomError(
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


def unit_outlines(nu: Units, hh_geoms, hh_nu, territory) -> np.ndarray:
    """Natural-unit polygons: the buffered convex hull of their households, in their territory."""
    coords, idx = shapely.get_coordinates(hh_geoms, return_index=True)
    hulls = shapely.convex_hull(shapely.multipoints(coords, indices=hh_nu[idx]))
    margin = np.where(nu.kinds == "hamlet", 8.0, np.where(nu.kinds == "compound", 6.0, 3.0))
    return polygonal(shapely.intersection(shapely.buffer(hulls, margin, quad_segs=2), territory))
