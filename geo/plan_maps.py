"""Maps of the planner's workbench: one village of a plan, its households, a selection.

Pure folium (no database, no Streamlit), so a notebook draws the same maps as the page:

- :func:`village_map`: the village's cells coloured by households against the bounds
  (in bounds: blues by size; too small or too big: orange/red, hatched border), each cell
  labelled with its number and households, cells in pieces outlined in thick dashed red,
  locked cells in dotted purple with "locked" under their number,
  the households as points (their code in the tooltip, so a click names one), the village
  outline, and the selection tools (:class:`SelectTools`).
- :func:`village_base` and :func:`village_layers`: the same map in two parts, the map
  itself (depends on the village only) and the plan as one layer, so that a page keeps the
  map and swaps the layer after an edit (``st_folium(feature_group_to_add=...)``).
- :func:`selection_layer`: the selected households as a layer that a page can swap
  without redrawing the map (``st_folium(feature_group_to_add=...)``).
- :func:`compare_map`: a draft over the published plan: the published cells' edges
  dashed, the households that changed cell ringed.

Selection tools: a box and a polygon drawn on the map.  ``folium.plugins.Draw`` loads
Leaflet.draw from a CDN, which a county network may not reach, so the two tools are a few
lines of Leaflet here (inlined with the map, like Leaflet itself in :mod:`geo.maps`).  A
finished shape is added to ``window.drawnItems`` and announced as Leaflet.draw's
``draw:created`` event, which is what ``streamlit_folium.st_folium`` listens to: it comes
back as ``last_active_drawing`` / ``all_drawings`` (GeoJSON, EPSG:4326).
"""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from folium.utilities import JsCode
from jinja2 import Template

from geo.grids import CellBounds
from geo.maps import SEQUENTIAL, base_map, light_geojson
from geo.projection import STORAGE_CRS, require_crs

__all__ = [
    "IN_PIECES",
    "LOCKED",
    "SELECTED",
    "TOO_BIG",
    "TOO_SMALL",
    "SelectTools",
    "cell_fill",
    "compare_map",
    "selection_layer",
    "village_base",
    "village_layers",
    "village_map",
]

#: Fill of a cell with fewer households than the bounds allow.
TOO_SMALL = "#fdae61"
#: Fill of a cell with more households than the bounds allow.
TOO_BIG = "#d7191c"
#: Edge of a cell in pieces (non-contiguous).
IN_PIECES = "#b2182b"
#: Selected households.
SELECTED = "#ffd400"
#: Edge of a locked cell (dotted), which edits and rebuilds keep.
LOCKED = "#542788"

_HOUSEHOLD = "#222222"
_LABEL_STYLE = (
    "<style>.wg-label{font:600 12px/1.15 system-ui,sans-serif;text-align:center;"
    "color:#111;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff;pointer-events:none}"
    ".wg-lock{font-size:10px;color:#542788;letter-spacing:.02em}"
    "</style>"
)


def cell_fill(households: pd.Series, bounds: CellBounds) -> pd.Series:
    """Fill colour of cells by households: blues within ``bounds``, orange/red outside.

    Within the bounds the shade grows with the size (light near ``min_size``, dark near
    ``max_size``), so a planner sees which cells can take households and which cannot.
    """
    n = pd.to_numeric(households, errors="coerce").fillna(0).astype(int)
    lo, hi = bounds.min_size, bounds.max_size
    shades = SEQUENTIAL[1:]
    span = max(hi - lo, 1)
    step = ((n - lo) / span * (len(shades) - 1)).clip(0, len(shades) - 1).round().astype(int)
    fill = pd.Series([shades[s] for s in step], index=households.index, dtype=object)
    fill[n < lo] = TOO_SMALL
    fill[n > hi] = TOO_BIG
    return fill


def village_map(
    cells: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    village: gpd.GeoDataFrame,
    *,
    bounds: CellBounds,
    target: str | None = None,
    tools: bool = True,
    tiles: str | None = None,
    locked: frozenset[str] | set[str] = frozenset(),
) -> folium.Map:
    """The workbench map of one village: :func:`village_base` with :func:`village_layers`.

    Parameters
    ----------
    cells : GeoDataFrame
        The village's cells (``code``, ``households``, ``contiguous``, ``flag_reason``,
        polygons), any CRS.
    households : GeoDataFrame
        ``code``, ``cell_code`` and a point or footprint per household.
    village : GeoDataFrame
        The village outline.
    bounds : CellBounds
        The village's bounds (colours and flags).
    target : str, optional
        A cell drawn with a thick edge (the cell a selection would move to).
    tools : bool
        Add the box and polygon selection tools.
    tiles : str, optional
        Background tiles (need the internet); None draws on a plain background.
    locked : set of str
        Locked cells: a dotted purple edge and "locked" in their label.

    Returns
    -------
    folium.Map
        One group ``plan`` holding the layers ``cells`` (tooltip ``cell CODE · N
        households``), ``labels``, ``households`` (tooltip ``household CODE · cell CODE``)
        and ``village``.
    """
    m = village_base(village, tools=tools, tiles=tiles)
    layers = village_layers(cells, households, village, bounds=bounds, target=target, locked=locked)
    layers.add_to(m)
    return m


def village_base(
    village: gpd.GeoDataFrame, *, tools: bool = True, tiles: str | None = None
) -> folium.Map:
    """The workbench map without the plan: fitted to ``village``, label style, tools.

    It depends on the village only, so a page can keep it (``st_folium`` keeps a map whose
    script does not change) and swap :func:`village_layers` after an edit
    (``st_folium(feature_group_to_add=...)``) instead of drawing the whole map again.
    """
    require_crs(village)
    m = base_map(village, tiles=tiles)
    m.get_root().header.add_child(folium.Element(_LABEL_STYLE))
    if tools:
        SelectTools().add_to(m)
    return m


def village_layers(
    cells: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    village: gpd.GeoDataFrame,
    *,
    bounds: CellBounds,
    target: str | None = None,
    locked: frozenset[str] | set[str] = frozenset(),
) -> folium.FeatureGroup:
    """The plan on the village map as one group ``plan``: ``cells``, ``labels``,
    ``households`` and the ``village`` outline (see :func:`village_map` for the arguments).
    """
    for frame in (cells, households, village):
        require_crs(frame)
    group = folium.FeatureGroup(name="plan")
    _cells_layer(cells, bounds, target, locked=locked).add_to(group)
    _labels_layer(cells, locked).add_to(group)
    _households_layer(households).add_to(group)
    folium.GeoJson(
        light_geojson(village, columns=[], tolerance_m=1.0),
        name="village",
        style_function=lambda _: {"color": "#111111", "weight": 3.0, "fill": False},
        interactive=False,
    ).add_to(group)
    return group


def selection_layer(
    households: gpd.GeoDataFrame, codes: list[str] | set[str]
) -> folium.FeatureGroup:
    """The households whose ``code`` is in ``codes`` as ringed yellow points (one layer).

    Meant for ``st_folium(feature_group_to_add=...)``: the page swaps this layer when the
    selection changes and the map itself is not redrawn.
    """
    group = folium.FeatureGroup(name="selection")
    chosen = households.loc[households["code"].isin(list(codes))]
    if chosen.empty:
        return group
    pts = chosen.geometry.to_crs(STORAGE_CRS).representative_point()
    for code, p in zip(chosen["code"], pts, strict=True):
        folium.CircleMarker(
            [p.y, p.x],
            radius=6,
            color="#000000",
            weight=2,
            fill=True,
            fill_color=SELECTED,
            fill_opacity=1.0,
            tooltip=f"selected {code}",
        ).add_to(group)
    return group


def compare_map(
    draft_cells: gpd.GeoDataFrame,
    published_cells: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    moved: list[str] | set[str],
    *,
    bounds: CellBounds,
    tiles: str | None = None,
) -> folium.Map:
    """A draft's cells over the published plan's: edges dashed, moved households ringed.

    ``published_cells`` may be empty (no published plan); ``moved`` lists the codes of
    households whose cell differs between the two.
    """
    for frame in (draft_cells, published_cells, households):
        require_crs(frame)
    m = base_map(draft_cells, tiles=tiles)
    _cells_layer(draft_cells, bounds, None, opacity=0.45).add_to(m)
    if len(published_cells):
        data = light_geojson(published_cells, columns=["code"], tolerance_m=1.0)
        folium.GeoJson(
            data,
            name="published",
            style_function=lambda _: {
                "color": "#000000",
                "weight": 2.5,
                "dashArray": "6 5",
                "fill": False,
            },
            tooltip=folium.GeoJsonTooltip(fields=["code"], aliases=["published cell"]),
        ).add_to(m)
    _households_layer(households, radius=2).add_to(m)
    ring = households.loc[households["code"].isin(list(moved))]
    if len(ring):
        pts = ring.geometry.to_crs(STORAGE_CRS).representative_point()
        group = folium.FeatureGroup(name="moved")
        for code, p in zip(ring["code"], pts, strict=True):
            folium.CircleMarker(
                [p.y, p.x], radius=6, color="#d7191c", weight=2.5, fill=False,
                tooltip=f"moved {code}",
            ).add_to(group)  # fmt: skip
        group.add_to(m)
    return m


# --------------------------------------------------------------------------- layers


def _cells_layer(
    cells: gpd.GeoDataFrame,
    bounds: CellBounds,
    target: str | None,
    *,
    opacity: float = 0.6,
    locked: frozenset[str] | set[str] = frozenset(),
) -> folium.GeoJson:
    lo, hi = bounds.min_size, bounds.max_size
    n = cells["households"].astype(int)
    frame = cells.assign(
        _fill=cell_fill(n, bounds),
        _pieces=~cells["contiguous"].astype(bool),
        _out=~n.between(lo, hi),
        _target=cells["code"] == target,
        _locked=cells["code"].isin(list(locked)),
        _tip=[f"cell {c} · {k} households" for c, k in zip(cells["code"], n, strict=True)],
    )
    frame["_tip"] = [
        t + (f" · {r}" if isinstance(r, str) and r else "") + (" · locked" if k else "")
        for t, r, k in zip(frame["_tip"], cells["flag_reason"], frame["_locked"], strict=True)
    ]
    data = light_geojson(
        frame,
        columns=["code", "_fill", "_pieces", "_out", "_target", "_locked", "_tip"],
        tolerance_m=0.5,
    )

    def style(feature: dict) -> dict:
        p = feature["properties"]
        edge = {"color": "#333333", "weight": 1.2}
        if p["_out"]:
            edge = {"color": TOO_BIG, "weight": 2.5}
        if p["_locked"]:
            edge = {"color": LOCKED, "weight": 3.5, "dashArray": "2 6"}
        if p["_pieces"]:
            edge = {"color": IN_PIECES, "weight": 4, "dashArray": "8 6"}
        if p["_target"]:
            edge = {"color": "#000000", "weight": 4.5}
        return {"fillColor": p["_fill"], "fillOpacity": opacity, **edge}

    return folium.GeoJson(
        data,
        name="cells",
        style_function=style,
        on_each_feature=JsCode(
            "function (feature, layer) { layer.bindTooltip(feature.properties._tip); }"
        ),
    )


def _labels_layer(
    cells: gpd.GeoDataFrame, locked: frozenset[str] | set[str] = frozenset()
) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="labels")
    pts = cells.geometry.to_crs(STORAGE_CRS).representative_point()
    for code, n, p in zip(cells["code"], cells["households"].astype(int), pts, strict=True):
        number = str(code).rsplit("-", 1)[-1]
        lock = '<br><span class="wg-lock">locked</span>' if code in locked else ""
        folium.Marker(
            [p.y, p.x],
            icon=folium.DivIcon(
                html=(f'<div class="wg-label"><b>{number}</b><br>{n}{lock}</div>'),
                icon_size=(44, 42 if lock else 30),
                icon_anchor=(22, 21 if lock else 15),
            ),
            interactive=False,
        ).add_to(group)
    return group


def _households_layer(households: gpd.GeoDataFrame, *, radius: float = 3.5) -> folium.GeoJson:
    pts = households.geometry.to_crs(STORAGE_CRS).representative_point()
    tips = [
        f"household {h} · cell {c if isinstance(c, str) else 'none (left out)'}"
        for h, c in zip(households["code"], households["cell_code"], strict=True)
    ]
    frame = gpd.GeoDataFrame({"_tip": tips}, geometry=pts.values, crs=STORAGE_CRS)
    data = light_geojson(frame, columns=["_tip"], tolerance_m=0.0, decimals=6)
    return folium.GeoJson(
        data,
        name="households",
        marker=folium.CircleMarker(
            radius=radius, color=_HOUSEHOLD, weight=1, fill=True, fill_opacity=0.9
        ),
        style_function=lambda _: {"fillColor": "#ffffff", "color": _HOUSEHOLD},
        on_each_feature=JsCode(
            "function (feature, layer) { layer.bindTooltip(feature.properties._tip); }"
        ),
    )


# --------------------------------------------------------------------------- selection tools


class SelectTools(MacroElement):
    """Box and polygon selection on a Leaflet map, without Leaflet.draw (works offline).

    Two buttons (top left): *Box* (press, then drag a rectangle) and *Polygon* (press, click
    the corners, double-click or click the first corner to close; Esc cancels).  The shape
    is kept in ``window.drawnItems`` (only the last one) and announced as ``draw:created``
    with ``layerType`` ``"polygon"``, as Leaflet.draw would.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  window.drawnItems = new L.FeatureGroup().addTo(map);
  var drawnItems = window.drawnItems;
  var mode = null, pts = [], preview = null, start = null, boxDone = 0;
  var Tools = L.Control.extend({
    options: {position: 'topleft'},
    onAdd: function () {
      var bar = L.DomUtil.create('div', 'leaflet-bar wg-tools');
      [['box', '▭ Box', 'Select the households in a box you drag'],
       ['polygon', '⬠ Polygon', 'Select the households in a polygon you click']].forEach(
        function (t) {
          var a = L.DomUtil.create('a', 'wg-tool', bar);
          a.href = '#'; a.innerHTML = t[1]; a.title = t[2]; a.dataset.tool = t[0];
          a.setAttribute('role', 'button');
          L.DomEvent.on(a, 'click', function (e) {
            L.DomEvent.stop(e); begin(mode === t[0] ? null : t[0]);
          });
        });
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    }
  });
  new Tools().addTo(map);
  function buttons() {
    document.querySelectorAll('.wg-tool').forEach(function (a) {
      a.classList.toggle('wg-on', a.dataset.tool === mode);
    });
  }
  function clearPreview() { if (preview) { map.removeLayer(preview); preview = null; } }
  function begin(m) {
    mode = m; pts = []; start = null; clearPreview(); buttons();
    map.getContainer().style.cursor = m ? 'crosshair' : '';
    if (m === 'box') { map.dragging.disable(); } else { map.dragging.enable(); }
    if (m === 'polygon') { map.doubleClickZoom.disable(); } else { map.doubleClickZoom.enable(); }
  }
  function finish(latlngs) {
    clearPreview();
    var layer = L.polygon(latlngs, {color: '#111', weight: 2, dashArray: '5 4',
                                    fillColor: '#ffd400', fillOpacity: 0.12});
    drawnItems.clearLayers();
    drawnItems.addLayer(layer);
    begin(null);
    map.fire('draw:created', {layer: layer, layerType: 'polygon'});
  }
  map.on('mousedown', function (e) {
    if (mode !== 'box') return;
    start = e.latlng;
    preview = L.rectangle([start, start], {color: '#111', weight: 1.5, dashArray: '4 3',
                                           fillOpacity: 0.08}).addTo(map);
  });
  map.on('mousemove', function (e) {
    if (mode === 'box' && start && preview) { preview.setBounds([start, e.latlng]); }
    if (mode === 'polygon' && pts.length) {
      clearPreview();
      preview = L.polyline(pts.concat([e.latlng]), {color: '#111', weight: 1.5,
                                                    dashArray: '4 3'}).addTo(map);
    }
  });
  map.on('mouseup', function (e) {
    if (mode !== 'box' || !start) return;
    var b = L.latLngBounds(start, e.latlng); start = null;
    if (b.getNorthEast().equals(b.getSouthWest())) { begin(null); return; }
    boxDone = Date.now();
    finish([b.getSouthWest(), b.getNorthWest(), b.getNorthEast(), b.getSouthEast()]);
  });
  function corner(latlng) {
    if (pts.length >= 3) {
      var first = map.latLngToContainerPoint(pts[0]);
      if (first.distanceTo(map.latLngToContainerPoint(latlng)) < 10) { finish(pts); return; }
    }
    pts.push(latlng);
  }
  // a click while drawing (or the one a box's mouseup makes) is the tool's, not a click on
  // the cell or household under it (st_folium would report that as a click and a drawing)
  map.getContainer().addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('.leaflet-control')) return;
    if (mode === 'polygon') { L.DomEvent.stop(e); corner(map.mouseEventToLatLng(e)); return; }
    if (Date.now() - boxDone < 400) { L.DomEvent.stop(e); boxDone = 0; }
  }, true);
  map.on('dblclick', function () { if (mode === 'polygon' && pts.length >= 3) finish(pts); });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') begin(null); });
})();
{% endmacro %}
{% macro header(this, kwargs) %}
<style>
.wg-tools a.wg-tool { width: auto; padding: 0 8px; font: 600 13px/30px system-ui, sans-serif;
  color: #222; white-space: nowrap; }
.wg-tools a.wg-on { background: #ffd400; }
</style>
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "SelectTools"
