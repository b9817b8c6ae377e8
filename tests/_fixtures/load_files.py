"""The tiny county's codes and hand-placed households for the loading and export tests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box

from geo import load
from tests._fixtures.county import UTM, X0, Y0, tiny_county

V1 = "999999101001"
NU1, NU2, NU3 = f"{V1}001", f"{V1}002", "999999102001001"


def units() -> gpd.GeoDataFrame:
    """The tiny county's natural units (NU1 100..400, NU2 500..900, NU3 1200..1800 m)."""
    return tiny_county().natural_units


def refs() -> load.References:
    county = tiny_county()
    return load.References(
        codes={
            "county": {"999999"},
            "township": set(county.townships["code"]),
            "village": set(county.villages["code"]),
            "natural_unit": set(county.natural_units["code"]),
        },
        natural_units=county.natural_units,
    )


def households(rows: list[tuple] | None = None, *, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """Households as (code, natural unit, x, y, residents) with 10 m squares at UTM (x, y)."""
    rows = rows or [
        ("h1", NU1, 150, 150, 3),
        ("h2", NU1, 200, 150, 4),
        ("h3", NU2, 600, 600, 2),
    ]
    frame = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "natural_unit_code": [r[1] for r in rows],
            "residents": [r[4] for r in rows],
        },
        geometry=[box(X0 + r[2], Y0 + r[3], X0 + r[2] + 10, Y0 + r[3] + 10) for r in rows],
        crs=UTM,
    )
    return frame.to_crs(crs)


def same_geoms(a, b, tolerance: float) -> bool:
    """Geometries equal up to ring orientation/start and ``tolerance`` (degrees)."""
    a, b = shapely.normalize(np.asarray(a)), shapely.normalize(np.asarray(b))
    return bool(shapely.equals_exact(a, b, tolerance=tolerance).all())


def faults_of(checked: load.Checked) -> list[tuple[int, str, str]]:
    return [(int(r.row), r.field, r.fault) for r in checked.faults.itertuples()]


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Longitude/latitude (EPSG:4326) of the tiny county's UTM point (X0 + x, Y0 + y)."""
    point = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)], crs=UTM).to_crs(4326).iloc[0]
    return point.x, point.y


def points_csv(path, rows: list[tuple]) -> None:
    """A household register as CSV: (户号, natural unit or None, x, y or None, 人口) rows,
    x/y in UTM metres from the tiny county's corner, written as 经度/纬度 (blank if None)."""
    lines = ["户号,自然村编码,经度,纬度,人口,户主"]
    for code, unit, x, y, residents in rows:
        lon, lat = lonlat(x, y) if x is not None else ("", "")
        lines.append(f"{code},{unit or ''},{lon},{lat},{residents},某某")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
