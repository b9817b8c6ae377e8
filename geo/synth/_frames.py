"""The frames of a synthetic county (:mod:`geo.frames` columns, EPSG:4326): admin units
and households with residents, residents at home and five-colour status.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.frames import ADMIN_COLUMNS, FIVE_COLOURS, HOUSEHOLD_COLUMNS
from geo.profiles import Profile
from geo.projection import STORAGE_CRS
from geo.synth._geom import polygonal
from geo.synth._units import COLOUR_SHARES, Units


def household_frame(prof: Profile, nu: Units, villages: Units, geoms, hh_nu, rng, crs):
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


def admin_from_units(units: Units, parent_codes, *, crs) -> gpd.GeoDataFrame:
    return admin_frame(units.codes, units.names, parent_codes, units.kinds, units.geoms, crs)


def admin_frame(codes, names, parents, kinds, geoms, crs) -> gpd.GeoDataFrame:
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
