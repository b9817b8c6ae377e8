"""Synthetic clustered villages for the grid benchmark (and quick experiments).

A village is a mildly concave star-shaped polygon near Yanchi (107.41 E, 37.78 N); its
households are 12 m square courtyards on a jittered 25 m lattice, drawn around a few hamlet
centres (Gaussian weights), so that they cluster the way natural villages do.  Each hamlet is
a natural unit.  Everything is deterministic for a given seed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

CENTRE_LONLAT = (107.41, 37.78)
UTM_EPSG = 32648  # WGS 84 / UTM zone 48N, contains Yanchi
SPACING_M = 25.0
COURTYARD_M = 12.0


def make_village(
    n_households: int,
    *,
    seed: int = 0,
    code: str = "640323101001",
    hamlets: int | None = None,
    offset_m: tuple[float, float] = (0.0, 0.0),
    courtyards: bool = True,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``(households, natural_units, villages)`` of one synthetic village, EPSG:4326.

    Households are 12 m courtyard squares, or their centre points if ``courtyards`` is False.
    """
    rng = np.random.default_rng(seed)
    hamlets = hamlets or max(2, n_households // 40)
    radius = np.sqrt(n_households * SPACING_M**2 * 3.0 / np.pi)
    ang = np.linspace(0, 2 * np.pi, 13)[:-1] + rng.uniform(0, 0.2)
    rad = radius * rng.uniform(0.75, 1.15, len(ang))
    cx, cy = offset_m
    village_m = shapely.Polygon(np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)]))
    inner = village_m.buffer(-SPACING_M)
    minx, miny, maxx, maxy = inner.bounds
    gx, gy = np.meshgrid(np.arange(minx, maxx, SPACING_M), np.arange(miny, maxy, SPACING_M))
    sites = np.column_stack([gx.ravel(), gy.ravel()])
    sites = sites[shapely.contains_xy(inner, sites[:, 0], sites[:, 1])]
    centres = sites[rng.choice(len(sites), hamlets, replace=False)]
    sigma = radius / np.sqrt(hamlets) * 0.6
    d2 = ((sites[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    weight = np.exp(-d2 / (2 * sigma**2)).sum(axis=1) + 1e-6
    pick = rng.choice(len(sites), n_households, replace=False, p=weight / weight.sum())
    xy = sites[pick] + rng.uniform(-4, 4, (n_households, 2))
    unit = np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    half = COURTYARD_M / 2
    squares = shapely.box(xy[:, 0] - half, xy[:, 1] - half, xy[:, 0] + half, xy[:, 1] + half)
    to_ll = Transformer.from_crs(UTM_EPSG, 4326, always_xy=True)
    e0, n0 = Transformer.from_crs(4326, UTM_EPSG, always_xy=True).transform(*CENTRE_LONLAT)

    def lonlat(g):
        return shapely.transform(
            g, lambda c: np.column_stack(to_ll.transform(c[:, 0] + e0, c[:, 1] + n0))
        )

    nu_codes = np.array([f"{code}{u + 1:03d}" for u in range(hamlets)])
    households = gpd.GeoDataFrame(
        {
            "code": [f"{code}{u + 1:03d}{q:04d}" for q, u in enumerate(unit)],
            "natural_unit_code": nu_codes[unit],
            "village_code": code,
            "residents": rng.integers(1, 6, n_households),
            "residents_at_home": 1,
            "colour": "green",
        },
        geometry=lonlat(squares if courtyards else shapely.points(xy)),
        crs=4326,
    )
    used = np.unique(unit)
    hulls = [shapely.convex_hull(shapely.multipoints(xy[unit == u])).buffer(half) for u in used]
    natural_units = gpd.GeoDataFrame(
        {"code": nu_codes[used], "name": "", "parent_code": code, "kind": "hamlet"},
        geometry=lonlat(np.array(hulls)),
        crs=4326,
    )
    villages = gpd.GeoDataFrame(
        {"code": [code], "name": [""], "parent_code": [code[:9]], "kind": ["village"]},
        geometry=[lonlat(village_m)],
        crs=4326,
    )
    return households, natural_units, villages
