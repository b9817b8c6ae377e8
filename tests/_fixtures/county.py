"""A tiny hand-made county (2 townships, 2 villages, 3 natural units, 6 households).

Built in UTM zone 48N metres around Yanchi and returned in EPSG:4326, so every geometry is
checkable by eye: townships are the west and east halves of a 2 km x 1 km county.
"""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import MultiPolygon, box

from geo.frames import County

UTM = "EPSG:32648"
X0, Y0 = 600_000.0, 4_180_000.0


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM).to_crs(4326)


def tiny_county(code: str = "999999") -> County:
    """The tiny county; ``code`` is the 6-digit county code."""
    t1, t2 = f"{code}101", f"{code}102"
    v1, v2 = f"{t1}001", f"{t2}001"
    county = _frame(
        [
            {
                "code": code,
                "name": "测试县",
                "parent_code": None,
                "kind": "county",
                "geometry": MultiPolygon([box(X0, Y0, X0 + 2000, Y0 + 1000)]),
            }
        ]
    )
    townships = _frame(
        [
            {
                "code": t1,
                "name": "西乡",
                "parent_code": code,
                "kind": "township",
                "geometry": box(X0, Y0, X0 + 1000, Y0 + 1000),
            },
            {
                "code": t2,
                "name": "东街道",
                "parent_code": code,
                "kind": "subdistrict",
                "geometry": box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
            },
        ]
    )
    villages = _frame(
        [
            {
                "code": v1,
                "name": "甲村",
                "parent_code": t1,
                "kind": "village",
                "geometry": box(X0, Y0, X0 + 1000, Y0 + 1000),
            },
            {
                "code": v2,
                "name": "乙社区",
                "parent_code": t2,
                "kind": "community",
                "geometry": box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
            },
        ]
    )
    naturals = _frame(
        [
            {
                "code": f"{v1}001",
                "name": "一组",
                "parent_code": v1,
                "kind": "hamlet",
                "geometry": box(X0 + 100, Y0 + 100, X0 + 400, Y0 + 400),
            },
            {
                "code": f"{v1}002",
                "name": "二组",
                "parent_code": v1,
                "kind": "hamlet",
                "geometry": box(X0 + 500, Y0 + 500, X0 + 900, Y0 + 900),
            },
            {
                "code": f"{v2}001",
                "name": "幸福小区",
                "parent_code": v2,
                "kind": "compound",
                "geometry": box(X0 + 1200, Y0 + 200, X0 + 1800, Y0 + 800),
            },
        ]
    )
    households = []
    specs = [(f"{v1}001", v1, 150), (f"{v1}002", v1, 600), (f"{v2}001", v2, 1300)]
    for i, (nu, village, x) in enumerate(specs):
        for j in range(2):
            households.append(
                {
                    "code": f"{nu}{j + 1:04d}",
                    "natural_unit_code": nu,
                    "village_code": village,
                    "residents": 3 + i,
                    "residents_at_home": 2 + j,
                    "colour": ["green", "yellow", "red"][i],
                    "geometry": box(
                        X0 + x + 40 * j, Y0 + 250 + 20 * i, X0 + x + 40 * j + 20, Y0 + 270 + 20 * i
                    ),
                }
            )
    return County(county, townships, villages, naturals, _frame(households), profile="tiny")
