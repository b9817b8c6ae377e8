"""Map builders: offline, light, and safe with untrusted names."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo import maps
from tests._fixtures.county import tiny_county


def test_maps_are_offline_and_self_contained() -> None:
    townships = tiny_county().townships.assign(households=[4, 2])
    html = maps.map_html(maps.township_map(townships))
    assert "cdn." not in html
    assert "data:text/javascript;base64," in html


def test_names_are_escaped_before_they_reach_a_tooltip() -> None:
    townships = tiny_county().townships.assign(households=[4, 2])
    townships.loc[0, "name"] = '<img src=x onerror="alert(1)">'
    data = maps.light_geojson(townships, columns=["name", "households"])
    names = [f["properties"]["name"] for f in data["features"]]
    assert names[0] == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert names[1] == "东街道"
    assert "<img" not in maps.map_html(maps.township_map(townships))


def _cells() -> gpd.GeoDataFrame:
    villages = tiny_county().villages
    return villages.assign(code=[f"{c}-01" for c in villages["code"]])[["code", "geometry"]]


def test_wall_map_holds_geometry_and_codes_only() -> None:
    townships = tiny_county().townships.assign(households=[4, 2])
    townships.loc[0, "name"] = '<img src=x onerror="alert(1)"></script>'
    html = maps.map_html(maps.wall_map(_cells(), townships=townships, plan_key="plan:1"))
    assert "cdn." not in html
    assert "https://" not in html
    assert "<img src=x" not in html  # the name travels as JSON, drawn as text
    assert "\\u003cimg src=x" in html
    assert "households" not in html  # no counts in the document: values come later
    assert "wangge-wall-values" in html  # ... read from the page around it


def test_hotspot_values_list_classes_by_code() -> None:
    hot = pd.DataFrame(
        {"code": ["a", "b", "c", "d"], "gi_bin": pd.array([3, 0, -2, None], dtype="Int8")}
    )
    values = maps.hotspot_values(hot, plan_key="plan:7")
    assert values == {"plan": "plan:7", "bins": {"3": ["a"], "-2": ["c"]}, "suppressed": ["d"]}
    cells = _cells()
    drawn = pd.DataFrame({"code": cells["code"], "gi_bin": pd.array([3, 0], dtype="Int8")})
    m = maps.wall_map(cells, hot=drawn)
    assert '"bins":{"3":' in maps.map_html(m)  # a notebook draws the classes at once
