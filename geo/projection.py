"""Coordinate reference systems: storage CRS, and the metric CRS for a county.

Geometries are stored in EPSG:4326 (WGS 84 longitude/latitude, degrees).  Metric work -- areas,
distances, buffers, Voronoi tessellations -- happens in the WGS 84 UTM zone that contains the
data, chosen by one rule (:func:`utm_crs_for_lonlat`; :func:`utm_crs` for a frame).  The
choice is logged (logger ``geo.projection``, INFO) so that an analyst can see which zone
was used.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import geopandas as gpd
import numpy as np
from pyproj import CRS

from geo.errors import CRSError

log = logging.getLogger(__name__)

#: The CRS every geometry is stored in: WGS 84 longitude/latitude in degrees.
STORAGE_CRS = CRS.from_epsg(4326)
STORAGE_SRID = 4326


def utm_crs_for_lonlat(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone (metres) that contains the point ``(lon, lat)`` in degrees.

    The one UTM chooser of Wangge (:func:`utm_crs` and :func:`utm_crs_for_extent` call it).
    Zones by the 6-degree rule (EPSG:326xx north, 327xx south), longitude 180 in zone 60;
    the Norway and Svalbard exceptions of the UTM grid are not applied (no county of this
    platform lies there).  Cached: no pyproj database query after the first call per zone.

    Raises
    ------
    CRSError
        ``(lon, lat)`` is not inside the UTM range (longitude -180..180, latitude -80..84).
    """
    if not (-180 <= lon <= 180 and -80 <= lat <= 84):
        raise CRSError(f"({lon}, {lat}) is not a longitude/latitude inside the UTM range")
    zone = min(int((lon + 180) // 6) + 1, 60)
    return _utm_zone_crs((32600 if lat >= 0 else 32700) + zone)


@lru_cache(maxsize=128)
def _utm_zone_crs(epsg: int) -> CRS:
    crs = CRS.from_epsg(epsg)
    log.info("metric CRS: %s (%s)", crs.to_string(), crs.name)
    return crs


def utm_crs_for_extent(lon: np.ndarray, lat: np.ndarray) -> CRS:
    """The UTM zone (:func:`utm_crs_for_lonlat`) at the centre of lon/lat arrays (degrees)."""
    cx = (float(np.min(lon)) + float(np.max(lon))) / 2
    cy = (float(np.min(lat)) + float(np.max(lat))) / 2
    return utm_crs_for_lonlat(cx, cy)


def utm_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """The WGS 84 UTM zone (metres) at the centre of ``frame``'s extent.

    Raises
    ------
    CRSError
        If ``frame`` has no CRS, or its centre is outside the UTM range.
    """
    crs = require_crs(frame)
    ll = frame if crs == STORAGE_CRS else frame.to_crs(STORAGE_CRS)
    minx, miny, maxx, maxy = ll.total_bounds
    return utm_crs_for_lonlat((minx + maxx) / 2, (miny + maxy) / 2)


def require_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, *, name: str = "frame") -> CRS:
    """Return ``frame``'s CRS, or raise :class:`CRSError` if it has none (never guessed)."""
    if frame.crs is None:
        raise CRSError(f"{name} has no CRS; set one with .set_crs(...) before passing it in")
    return frame.crs


def same_crs(*frames: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """Return the CRS all ``frames`` share, or raise :class:`CRSError` naming the mismatch."""
    crss = [require_crs(f, name=f"input {i}") for i, f in enumerate(frames)]
    for i, crs in enumerate(crss[1:], start=1):
        if crs != crss[0]:
            raise CRSError(
                f"inputs are in different CRSs: input 0 is {crss[0].to_string()}, "
                f"input {i} is {crs.to_string()}; convert one with .to_crs(...) first"
            )
    return crss[0]


#: Longest edge (degrees, about 50 m) kept when reprojecting outlines out of EPSG:4326.
MAX_SEGMENT_DEG = 0.0005


def to_crs_densified(
    geoms: gpd.GeoSeries, crs: CRS | str | int, *, max_segment_deg: float = MAX_SEGMENT_DEG
) -> gpd.GeoSeries:
    """``geoms`` reprojected to ``crs`` with edges densified first when they are in degrees.

    An edge that is straight in EPSG:4326 (how PostGIS and every GIS read the stored
    outline) is curved in UTM. Reprojecting only the vertices replaces it by the chord, and
    what is cut along that chord (grid cells along a village edge) comes back tens of
    metres off the stored outline on long edges. Densifying to ``max_segment_deg`` first
    keeps the two within millimetres.
    """
    require_crs(geoms)
    if geoms.crs.is_geographic:
        geoms = geoms.segmentize(max_segment_deg)
    return geoms.to_crs(crs)


def to_storage(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in the storage CRS (EPSG:4326); a copy, the input is never mutated."""
    require_crs(frame)
    return frame.to_crs(STORAGE_CRS)
