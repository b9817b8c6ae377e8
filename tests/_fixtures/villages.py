"""Hand-made villages in local metres near Yanchi for the grid tests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo import grids

UTM = 32648  # UTM 48N, Yanchi
E0, N0 = Transformer.from_crs(4326, UTM, always_xy=True).transform(107.41, 37.78)
TO_LL = Transformer.from_crs(UTM, 4326, always_xy=True)


def to_ll(geoms):
    """Local metres (origin near Yanchi) -> EPSG:4326 geometries."""
    return shapely.transform(
        np.asarray(geoms),
        lambda c: np.column_stack(TO_LL.transform(c[:, 0] + E0, c[:, 1] + N0)),
    )


def make_frames(
    xy,
    units,
    village,
    *,
    village_code="640323101012",
    courtyard_m: float | None = None,
):
    """``(households, natural_units, villages)`` in EPSG:4326 from local-metre inputs.

    ``xy`` (n, 2) household points in metres, ``units`` their natural-unit suffixes,
    ``village`` a shapely polygon in metres, or a list of (code, polygon, mask) for several.
    """
    xy = np.asarray(xy, dtype=float)
    units = np.asarray(units)
    if isinstance(village, list):
        vcodes = np.empty(len(xy), dtype=object)
        for code, _, mask in village:
            vcodes[mask] = code
        vrows = [(code, poly) for code, poly, _ in village]
    else:
        vcodes = np.full(len(xy), village_code, dtype=object)
        vrows = [(village_code, village)]
    if courtyard_m:
        h = courtyard_m / 2
        geoms = shapely.box(xy[:, 0] - h, xy[:, 1] - h, xy[:, 0] + h, xy[:, 1] + h)
    else:
        geoms = shapely.points(xy)
    nu_codes = np.array([f"{v}{u:03d}" for v, u in zip(vcodes, units, strict=True)])
    households = gpd.GeoDataFrame(
        {
            "code": [f"{c}{q:04d}" for q, c in enumerate(nu_codes)],
            "natural_unit_code": nu_codes,
            "village_code": vcodes.astype(str),
            "residents": np.full(len(xy), 3),
        },
        geometry=to_ll(geoms),
        crs=4326,
    )
    nus = pd.unique(nu_codes)
    natural_units = gpd.GeoDataFrame(
        {"code": nus, "parent_code": [c[:12] for c in nus]},
        geometry=[shapely.Point(0, 0)] * len(nus),
        crs=4326,
    )
    villages = gpd.GeoDataFrame(
        {"code": [c for c, _ in vrows]},
        geometry=to_ll([p for _, p in vrows]),
        crs=4326,
    )
    return households, natural_units, villages


def grid_points(n, *, x0=0.0, y0=0.0, cols=10, step=20.0):
    q = np.arange(n)
    return np.column_stack([x0 + 10 + (q % cols) * step, y0 + 10 + (q // cols) * step])


def square(size, x0=0.0, y0=0.0):
    return shapely.box(x0, y0, x0 + size, y0 + size)


def build(n, units=None, size=400.0, **kw):
    xy = grid_points(n, cols=int(np.ceil(np.sqrt(n))), step=size / np.ceil(np.sqrt(n)))
    units = np.zeros(n, int) if units is None else units
    hh, nu, v = make_frames(xy, units, square(size))
    return grids.build_plan(hh, nu, v, **kw), hh, v


def assert_tiles(plan, villages):
    """Cells of each village tile it as stored (EPSG:4326): union = village, no overlaps."""
    cells = plan.cells.to_crs(villages.crs)
    for code, vg in villages.set_index("code").geometry.items():
        cg = cells.loc[cells["village_code"] == code].geometry.values
        if len(cg) == 0:
            continue
        union = shapely.union_all(cg)
        # 1e-7 of the area: float noise of the EPSG:4326 <-> UTM round trip (mm^2 here)
        assert shapely.area(shapely.symmetric_difference(union, vg)) <= 1e-7 * vg.area
        assert abs(shapely.area(cg).sum() - vg.area) <= 1e-7 * vg.area  # no overlaps
