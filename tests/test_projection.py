"""CRS helpers: the UTM zone of a place, and CRSs that are never guessed."""

from __future__ import annotations

import geopandas as gpd
import pytest
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from shapely.geometry import Point

from geo.errors import CRSError
from geo.projection import same_crs, utm_crs, utm_crs_for_lonlat


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(107.41, 37.78), (114.53, 33.78), (73.6, 39.5), (134.7, 48.3), (-70.6, -33.4), (0.5, 0.1)],
)
def test_zone_rule_agrees_with_the_pyproj_database(lon: float, lat: float) -> None:
    infos = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    assert utm_crs_for_lonlat(lon, lat).to_epsg() == int(infos[0].code)


def test_yanchi_is_in_zone_48n() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(107.41, 37.78)], crs=4326)
    assert utm_crs(frame).to_epsg() == 32648


def test_out_of_range_and_missing_crs_are_errors() -> None:
    with pytest.raises(CRSError, match="not a longitude/latitude"):
        utm_crs_for_lonlat(500.0, 37.0)
    with pytest.raises(CRSError, match="no CRS"):
        utm_crs(gpd.GeoDataFrame(geometry=[Point(1, 1)]))


def test_different_crs_is_an_error_naming_both() -> None:
    a = gpd.GeoDataFrame(geometry=[Point(1, 1)], crs=4326)
    b = a.to_crs(3857)
    with pytest.raises(CRSError, match=r"EPSG:4326.*EPSG:3857"):
        same_crs(a, b)
