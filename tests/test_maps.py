"""Map builders: offline, light, and safe with untrusted names."""

from __future__ import annotations

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
