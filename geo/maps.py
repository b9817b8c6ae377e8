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
from branca.element import MacroElement
from jinja2 import Template

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
    zoom_control: bool = True,
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
    zoom_control
        Show Leaflet's zoom buttons, scale and attribution (off on a wall nobody touches).
    """
    require_crs(frame)
    minx, miny, maxx, maxy = frame.to_crs(STORAGE_CRS).total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=tiles,
        control_scale=zoom_control,
        prefer_canvas=True,
        zoom_snap=0.25,
        zoom_control=zoom_control,
        attribution_control=zoom_control,
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
    return filled_layer(
        m, frame, fill=class_colours(frame[column]), name=name, tooltip=tooltip or {},
        keep=[column], line_colour=line_colour, line_weight=line_weight,
        fill_opacity=fill_opacity, tolerance_m=tolerance_m, smooth_factor=1.0,
    )  # fmt: skip


def filled_layer(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    *,
    fill: pd.Series | np.ndarray,
    name: str,
    tooltip: dict[str, str],
    keep: list[str] | tuple[str, ...] = (),
    line_colour: str = "#555555",
    line_weight: float = 0.6,
    fill_opacity: float = 0.85,
    tolerance_m: float = 10.0,
    highlight: bool = False,
    smooth_factor: float | None = None,
) -> folium.GeoJson:
    """Add ``frame`` to ``m`` with each feature filled in its colour of ``fill`` (aligned).

    Only the ``tooltip`` and ``keep`` columns travel to the browser (geometry simplified to
    ``tolerance_m`` metres, :func:`light_geojson`); ``tooltip`` maps columns to labels shown
    on hover; ``highlight`` outlines the feature under the pointer.  Returns the layer.
    """
    styled = frame.assign(_fill=np.asarray(fill))
    data = light_geojson(
        styled, columns=sorted({*tooltip, *keep, "_fill"}), tolerance_m=tolerance_m
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
        highlight_function=(lambda _: {"weight": 2.5, "color": "#000000"}) if highlight else None,
        tooltip=folium.GeoJsonTooltip(fields=list(tooltip), aliases=list(tooltip.values()))
        if tooltip
        else None,
        smooth_factor=smooth_factor,
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


#: Gi* classes as drawn on the wall and in notebooks: (bin, label, colour). ArcGIS's
#: convention (red hot, blue cold, stronger with confidence), readable on a dark wall; a
#: cell that is not significant recedes into the background.
HOTSPOT_CLASSES = (
    (3, "hot spot, 99 % confidence", "#ff3b2f"),
    (2, "hot spot, 95 %", "#ff8a50"),
    (1, "hot spot, 90 %", "#ffc58a"),
    (0, "not significant", "#22374d"),
    (-1, "cold spot, 90 %", "#9ecae1"),
    (-2, "cold spot, 95 %", "#4f9bd9"),
    (-3, "cold spot, 99 %", "#1f6fd1"),
)
#: Fill of a unit whose counts are suppressed (fewer households than the threshold).
SUPPRESSED = "#4a4f57"
#: The wall's background and cell edges.
WALL_BACKGROUND = "#0b1520"

_WALL_TEMPLATE = """
{% macro header(this, kwargs) %}
<style>
  .leaflet-container { background: {{ this.background }} !important; }
  .wg-label { background: none; border: none; }
  .wg-label span {
    display: inline-block; transform: translate(-50%, -50%); white-space: nowrap;
    color: #f4f7fa; font: 600 clamp(14px, 1.45vw, 56px)/1.1 "Noto Sans CJK SC",
      "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif;
    text-shadow: 0 0 3px #000, 0 0 6px #000, 0 0 10px #000;
  }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  const map = {{ this._parent.get_name() }};
  const classes = {{ this.classes_json }};
  const cells = {{ this.cells_json }};
  const outlines = {{ this.outlines_json }};
  const labels = {{ this.labels_json }};
  const planKey = {{ this.plan_key_json }};
  const byCode = new Map();
  const layer = L.geoJSON(cells, {
    interactive: false,
    style: () => ({ fillColor: classes["0"], fillOpacity: 0.92, color: "{{ this.background }}",
                    weight: 0.5, opacity: 0.8 }),
    onEachFeature: (f, l) => byCode.set(f.properties.code, l),
  }).addTo(map);
  if (outlines) {
    L.geoJSON(outlines, { interactive: false,
      style: { color: "#dfe8f1", weight: 2.2, opacity: 0.95, fill: false } }).addTo(map);
  }
  for (const [lat, lon, name] of labels) {
    const el = document.createElement("span");
    el.textContent = name;  // names are text, never markup
    L.marker([lat, lon], { interactive: false, keyboard: false,
      icon: L.divIcon({ className: "wg-label", html: el, iconSize: null }) }).addTo(map);
  }
  const current = new Map();
  let applied = "";
  // values = {"plan": key, "bins": {"3": [codes], "-2": [codes], ...}, "suppressed": [codes]}:
  // every cell not listed is "not significant".  Only changed cells are restyled.
  function apply(values) {
    if (!values || values.plan !== planKey) return false;
    const next = new Map();
    for (const [bin, codes] of Object.entries(values.bins || {})) {
      for (const code of codes) next.set(code, bin);
    }
    for (const code of values.suppressed || []) next.set(code, "x");
    for (const [code, l] of byCode) {
      const bin = next.get(code) || "0";
      if (current.get(code) !== bin) {
        l.setStyle({ fillColor: classes[bin] });
        current.set(code, bin);
      }
    }
    document.documentElement.dataset.wallApplied = String(Date.now());
    return true;
  }
  window.wanggeWall = { apply, map, layer, byCode };
  const initial = {{ this.values_json }};
  if (initial) apply(initial);
  // On the wall the page next to this frame holds the latest values (refreshed in place by
  // the dashboard); read them every second, restyle only when they change.
  function poll() {
    try {
      const el = window.parent.document.getElementById("wangge-wall-values");
      if (el && el.textContent !== applied) {
        if (apply(JSON.parse(el.textContent))) applied = el.textContent;
      }
    } catch (e) { /* no parent page (a notebook, a file): nothing to follow */ }
  }
  if (window.parent !== window) { poll(); setInterval(poll, 1000); }
  // The frame takes the wall's size: keep the whole county in view when (only when) the
  // frame is resized, never on a refresh.
  const bounds = layer.getBounds();
  let size = "";
  new ResizeObserver(() => {
    const c = map.getContainer(), now = c.clientWidth + "x" + c.clientHeight;
    if (now === size || !c.clientWidth) return;
    size = now;
    map.invalidateSize(false);
    if (bounds.isValid()) map.fitBounds(bounds, { animate: false, padding: [8, 8] });
  }).observe(map.getContainer());
})();
{% endmacro %}
"""


def _script_json(value: object) -> str:
    """``value`` as JSON safe inside a ``<script>`` element (no ``</script>`` break-out)."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


class _WallLayers(MacroElement):
    """Cells, township outlines and names, and the in-place restyle hook of the wall map."""

    _template = Template(_WALL_TEMPLATE)

    def __init__(self, **parts: str) -> None:
        super().__init__()
        self._name = "WallLayers"
        for name, value in parts.items():
            setattr(self, name, value)


def hotspot_values(hot: pd.DataFrame, *, plan_key: str) -> dict:
    """The small JSON the wall map restyles itself from, by unit code.

    ``hot`` has ``code`` and ``gi_bin`` (nullable, ``<NA>`` = suppressed), as returned by
    :func:`geo.wall.unit_hotspots`.  Only classes other than "not significant" are listed,
    so the values of a county of ~1,800 cells weigh a few hundred bytes. No counts.
    """
    bins: dict[str, list[str]] = {}
    for code, value in zip(hot["code"], hot["gi_bin"], strict=True):
        if pd.notna(value) and int(value) != 0:
            bins.setdefault(str(int(value)), []).append(str(code))
    suppressed = [str(c) for c, v in zip(hot["code"], hot["gi_bin"], strict=True) if pd.isna(v)]
    return {"plan": plan_key, "bins": bins, "suppressed": suppressed}


def wall_map(
    units: gpd.GeoDataFrame,
    *,
    townships: gpd.GeoDataFrame | None = None,
    hot: pd.DataFrame | None = None,
    plan_key: str = "",
    tolerance_m: float = 15.0,
) -> folium.Map:
    """The command-centre wall map: the units (cells) by Gi* class, townships named.

    The document holds the geometry and no figures: the classes come as a small JSON of
    values by unit code (:func:`hotspot_values`), either ``hot`` given here (a notebook,
    a file) or, on the wall, read from the page around the map's frame (an element with id
    ``wangge-wall-values`` holding that JSON), so a refresh restyles the cells in place and
    never reloads the map or moves the view.  No tiles, no controls, nothing to hover.

    Parameters
    ----------
    units
        Unit polygons with a ``code`` column (any CRS); no counts are read from it.
    townships
        Township polygons with a ``name`` column, outlined and labelled (names are text).
    hot
        ``code`` and ``gi_bin`` per unit (:func:`geo.wall.unit_hotspots`) to draw now.
    plan_key
        Identifies the geometry (e.g. ``"plan:12"``): values for another key are ignored.
    tolerance_m
        Simplification of the cells, metres.
    """
    require_crs(units)
    m = base_map(units, background=WALL_BACKGROUND, zoom_control=False)
    classes = {str(b): colour for b, _, colour in HOTSPOT_CLASSES} | {"x": SUPPRESSED}
    cells = light_geojson(units, columns=["code"], tolerance_m=tolerance_m)
    outlines, labels = None, []
    if townships is not None and len(townships):
        outlines = light_geojson(townships, columns=[], tolerance_m=2 * tolerance_m)
        points = townships.to_crs(utm_crs(townships)).representative_point().to_crs(STORAGE_CRS)
        labels = [
            [round(p.y, 5), round(p.x, 5), str(name)]
            for p, name in zip(points, townships["name"], strict=True)
        ]
    values = hotspot_values(hot, plan_key=plan_key) if hot is not None else None
    _WallLayers(
        background=WALL_BACKGROUND,
        classes_json=_script_json(classes),
        cells_json=_script_json(cells),
        outlines_json=_script_json(outlines),
        labels_json=_script_json(labels),
        plan_key_json=_script_json(plan_key),
        values_json=_script_json(values),
    ).add_to(m)
    return m
