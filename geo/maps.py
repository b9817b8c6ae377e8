"""Map builders shared by the dashboards and the notebooks, so both draw the same maps.

Every map is self-contained: Leaflet 1.9.4 (BSD-2, shipped in ``geo/_assets/leaflet``) is
inlined as ``data:`` URLs instead of being fetched from a CDN, because command-centre wall
displays and county networks are often offline, and a map that needs the internet to draw
is a blank wall.  Background tiles are optional for the same reason (``tiles=None`` draws the
polygons on a plain background).

Geometries are sent to the browser as GeoJSON in EPSG:4326, simplified in metres in the
county's UTM zone and rounded to 5 decimals (about 1 m), which keeps a Yanchi-scale map of
all cells under the 3 MB payload target.
"""

from __future__ import annotations

import base64
import html
import json
from functools import lru_cache
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.projection import STORAGE_CRS, require_crs, utm_crs

ASSETS = Path(__file__).resolve().parent / "_assets" / "leaflet"

#: Sequential palette (light to dark blue-purple), colour-blind safe, readable on a wall.
SEQUENTIAL = ("#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#2b8cbe", "#045a8d")
#: Blank fill for suppressed or missing values.
NO_DATA = "#d9d9d9"


@lru_cache(maxsize=2)
def _data_url(name: str, mime: str) -> str:
    payload = base64.b64encode((ASSETS / name).read_bytes()).decode("ascii")
    return f"data:{mime};base64,{payload}"


def make_offline(m: folium.Map) -> folium.Map:
    """Point ``m`` at the inlined Leaflet and drop CDN-only extras (jQuery, Bootstrap ...)."""
    m.default_js = [("leaflet", _data_url("leaflet.js", "text/javascript"))]
    m.default_css = [("leaflet_css", _data_url("leaflet.css", "text/css"))]
    return m


def base_map(
    frame: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    tiles: str | None = None,
    offline: bool = True,
    background: str = "#f7f7f4",
) -> folium.Map:
    """An empty map fitted to ``frame``'s extent.

    Parameters
    ----------
    frame
        Anything with a CRS; only its bounds are used.
    tiles
        A folium tile name (needs the internet) or None for a plain background.
    offline
        Inline Leaflet so the map draws without network access.
    background
        CSS colour behind the polygons when ``tiles`` is None.
    """
    require_crs(frame)
    minx, miny, maxx, maxy = frame.to_crs(STORAGE_CRS).total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=tiles,
        control_scale=True,
        prefer_canvas=True,
        zoom_snap=0.25,
    )
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    if tiles is None:
        m.get_root().header.add_child(
            folium.Element(
                f"<style>.leaflet-container {{ background: {background} !important; }}</style>"
            )
        )
    return make_offline(m) if offline else m


def light_geojson(
    frame: gpd.GeoDataFrame, *, columns: list[str], tolerance_m: float = 10.0, decimals: int = 5
) -> dict:
    """``frame`` as a compact GeoJSON dict: simplified (metres, UTM), rounded, few columns.

    Text values are HTML-escaped: Leaflet tooltips insert them as HTML, and names come from
    files and databases, never to be trusted as markup.
    """
    require_crs(frame)
    metric = utm_crs(frame)
    geoms = frame.geometry.to_crs(metric).simplify(tolerance_m, preserve_topology=True)
    geoms = geoms.to_crs(STORAGE_CRS)
    rounded = shapely.set_precision(np.asarray(geoms.values), 10.0**-decimals)
    properties = pd.DataFrame(frame[columns]).reset_index(drop=True)
    for column in properties.columns:
        if properties[column].dtype == object or pd.api.types.is_string_dtype(properties[column]):
            properties[column] = properties[column].map(
                lambda v: html.escape(v) if isinstance(v, str) else v
            )
    light = gpd.GeoDataFrame(
        properties,
        geometry=list(rounded),
        crs=STORAGE_CRS,
    )
    return json.loads(light.to_json(na="null", drop_id=True))


def class_colours(
    values: pd.Series, *, k: int = 5, palette: tuple[str, ...] = SEQUENTIAL
) -> pd.Series:
    """Quantile classes of ``values`` as colours (NaN -> :data:`NO_DATA`), index kept."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    colours = pd.Series(NO_DATA, index=values.index, dtype=object)
    valid = numbers.notna()
    if valid.sum() == 0:
        return colours
    ranks = numbers[valid].rank(method="average", pct=True)
    steps = np.minimum((ranks * k).astype(int), k - 1)
    take = np.linspace(1, len(palette) - 1, k).round().astype(int)
    colours[valid] = [palette[take[s]] for s in steps]
    return colours


def choropleth(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    column: str,
    *,
    name: str,
    tooltip: dict[str, str] | None = None,
    line_colour: str = "#444444",
    line_weight: float = 1.0,
    fill_opacity: float = 0.75,
    tolerance_m: float = 10.0,
) -> folium.GeoJson:
    """Add ``frame`` coloured by quantile classes of ``column`` to ``m``.

    ``tooltip`` maps column names to labels shown on hover. Returns the layer.
    """
    fields = list(tooltip or {})
    styled = frame.assign(_fill=class_colours(frame[column]))
    data = light_geojson(
        styled, columns=sorted({*fields, column, "_fill"}), tolerance_m=tolerance_m
    )
    layer = folium.GeoJson(
        data,
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": line_colour,
            "weight": line_weight,
            "fillOpacity": fill_opacity,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=list((tooltip or {}).values()))
        if fields
        else None,
        smooth_factor=1.0,
    )
    layer.add_to(m)
    return layer


def outline(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    colour: str = "#222222",
    weight: float = 2.5,
    tolerance_m: float = 20.0,
) -> folium.GeoJson:
    """Add the boundaries of ``frame`` (no fill) to ``m``. Returns the layer."""
    data = light_geojson(frame, columns=[], tolerance_m=tolerance_m)
    layer = folium.GeoJson(
        data,
        name=name,
        style_function=lambda _: {"color": colour, "weight": weight, "fill": False},
        interactive=False,
    )
    layer.add_to(m)
    return layer


def township_map(
    townships: gpd.GeoDataFrame, *, value: str = "households", tiles: str | None = None
) -> folium.Map:
    """The county's townships coloured by ``value`` with name and counts on hover."""
    m = base_map(townships, tiles=tiles)
    labels = {"name": "乡镇 township", value: value.replace("_", " ")}
    if "residents" in townships.columns and value != "residents":
        labels["residents"] = "residents"
    choropleth(m, townships, value, name="townships", tooltip=labels, tolerance_m=30.0)
    return m


def map_html(m: folium.Map) -> str:
    """The whole map as one self-contained HTML document (for a wall, a file or an iframe)."""
    return m.get_root().render()


def wall_map(
    units: gpd.GeoDataFrame,
    value: str,
    *,
    label: str,
    outline_frame: gpd.GeoDataFrame | None = None,
    tolerance_m: float = 15.0,
) -> folium.Map:
    """The command-centre wall map: every unit coloured by ``value``, no tiles, no clutter.

    ``units`` must already be aggregates with small counts suppressed (NaN values are drawn
    in :data:`NO_DATA`). ``outline_frame`` (e.g. townships) is drawn on top in dark lines.
    """
    m = base_map(units, background="#0b1a2a")
    choropleth(
        m,
        units,
        value,
        name=label,
        tooltip={"name": "unit", value: label},
        line_colour="#0b1a2a",
        line_weight=0.4,
        fill_opacity=0.9,
        tolerance_m=tolerance_m,
    )
    if outline_frame is not None:
        outline(m, outline_frame, name="townships", colour="#f0f0f0", weight=2.0)
    return m
