"""Maps of the centre's pages: hot and cold spots, emerging hot spots, KDE heat, a case.

Pure functions returning folium maps (or adding a layer to one), built on :mod:`geo.maps`
(offline Leaflet, light GeoJSON, no tiles by default), so a notebook draws the same map as
the Hotspots, Coverage and Operations pages::

    from geo import centre_maps, hotspots
    result = hotspots.gi_star(cells, "incidents", denominator="households")
    centre_maps.hotspot_map(result, name="incidents per household")

Every text that reaches a tooltip or a legend is HTML-escaped (names come from files).
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo import maps
from geo.errors import DataError
from geo.projection import require_crs

__all__ = [
    "EMERGING_COLOURS",
    "HOTSPOT_COLOURS",
    "add_kde",
    "add_legend",
    "case_map",
    "emerging_map",
    "gap_map",
    "hotspot_map",
    "hotspot_png",
    "value_map",
]

#: Gi* confidence bins (-3..3) -> (colour, label): ArcGIS-style diverging red/blue,
#: readable for colour-blind viewers (ColorBrewer RdBu).
HOTSPOT_COLOURS: dict[int, tuple[str, str]] = {
    3: ("#b2182b", "Hot spot, 99 % confidence"),
    2: ("#ef8a62", "Hot spot, 95 % confidence"),
    1: ("#fddbc7", "Hot spot, 90 % confidence"),
    0: ("#f7f7f7", "Not significant"),
    -1: ("#d1e5f0", "Cold spot, 90 % confidence"),
    -2: ("#67a9cf", "Cold spot, 95 % confidence"),
    -3: ("#2166ac", "Cold spot, 99 % confidence"),
}

#: Emerging hot spot categories (ArcGIS names, :func:`geo.hotspots.classify_emerging`).
EMERGING_COLOURS: dict[str, str] = {
    "new hot spot": "#67000d",
    "consecutive hot spot": "#a50f15",
    "intensifying hot spot": "#cb181d",
    "persistent hot spot": "#ef3b2c",
    "diminishing hot spot": "#fb6a4a",
    "sporadic hot spot": "#fc9272",
    "oscillating hot spot": "#fcbba1",
    "historical hot spot": "#fee0d2",
    "new cold spot": "#08306b",
    "consecutive cold spot": "#08519c",
    "intensifying cold spot": "#2171b5",
    "persistent cold spot": "#4292c6",
    "diminishing cold spot": "#6baed6",
    "sporadic cold spot": "#9ecae1",
    "oscillating cold spot": "#c6dbef",
    "historical cold spot": "#deebf7",
    "no pattern": "#f4f4f4",
}


def add_legend(m: folium.Map, title: str, items: list[tuple[str, str]]) -> folium.Map:
    """Add a legend box (bottom right) of ``(colour, label)`` swatches to ``m``."""
    rows = "".join(
        f"<div><span style='display:inline-block;width:14px;height:14px;margin-right:6px;"
        f"vertical-align:-2px;border:1px solid #777;background:{html.escape(colour)}'></span>"
        f"{html.escape(label)}</div>"
        for colour, label in items
    )
    box = (
        "<div class='wangge-legend' style='position:absolute;bottom:24px;right:12px;"
        "z-index:1000;background:rgba(255,255,255,0.93);padding:8px 10px;border-radius:4px;"
        "font:12px/1.5 sans-serif;color:#222;box-shadow:0 1px 4px rgba(0,0,0,.3)'>"
        f"<b>{html.escape(title)}</b>{rows}</div>"
    )
    m.get_root().html.add_child(folium.Element(box))
    return m


def hotspot_map(
    result: gpd.GeoDataFrame,
    *,
    name: str,
    key: str = "code",
    tooltip: dict[str, str] | None = None,
    outline_frame: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
    tolerance_m: float = 10.0,
) -> folium.Map:
    """Gi* hot and cold spots (``gi_bin`` -3..3, :func:`geo.hotspots.gi_star`) with a legend.

    Parameters
    ----------
    result
        Polygons with ``gi_bin`` (cells, villages or H3 hexagons); small counts already
        blanked by the caller.
    name
        What was analysed ("incidents per household"), the legend's title.
    key
        The column identifying each polygon; sent with every feature (with ``gi_bin``) so a
        click can say which one it was.
    tooltip
        Column -> label shown on hover (default: the key and the class).
    outline_frame
        Boundaries drawn on top (townships, the village in view).

    Raises
    ------
    DataError
        ``result`` lacks ``gi_bin`` or ``key``.
    """
    missing = [c for c in ("gi_bin", key) if c not in result.columns]
    if missing:
        raise DataError(f"hotspot_map needs column(s) {', '.join(missing)}")
    require_crs(result)
    m = maps.base_map(result, tiles=tiles)
    bins = result["gi_bin"].fillna(0).astype(int).clip(-3, 3)
    fill = bins.map(lambda b: HOTSPOT_COLOURS[b][0])
    shown = result.assign(gi_bin=bins.to_numpy())
    if "class" not in shown.columns:
        shown["class"] = bins.map(lambda b: HOTSPOT_COLOURS[b][1]).to_numpy()
    tips = tooltip or {key: key, "class": "Gi*"}
    maps.filled_layer(
        m, shown, highlight=True, fill=fill, name=name, tooltip=tips, keep=[key, "gi_bin"],
        tolerance_m=tolerance_m,
    )  # fmt: skip
    if outline_frame is not None and len(outline_frame):
        maps.outline(m, outline_frame, name="boundaries", colour="#222222", weight=2.0)
    present = sorted(set(bins.tolist()), reverse=True)
    add_legend(m, f"Gi* · {name}", [HOTSPOT_COLOURS[b] for b in present])
    return m


def emerging_map(
    result: gpd.GeoDataFrame,
    *,
    key: str = "code",
    outline_frame: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """Emerging hot spot categories (:func:`geo.hotspots.emerging_hotspots`) with a legend."""
    if "category" not in result.columns or key not in result.columns:
        raise DataError(f"emerging_map needs the columns category and {key}")
    require_crs(result)
    m = maps.base_map(result, tiles=tiles)
    fill = result["category"].map(EMERGING_COLOURS).fillna(maps.NO_DATA)
    maps.filled_layer(
        m, result, highlight=True, fill=fill, name="emerging hot spots",
        tooltip={key: key, "category": "pattern", "total": "incidents"}
        if "total" in result.columns else {key: key, "category": "pattern"},
        keep=[key, "category"],
    )  # fmt: skip
    if outline_frame is not None and len(outline_frame):
        maps.outline(m, outline_frame, name="boundaries", colour="#222222", weight=2.0)
    present = [c for c in EMERGING_COLOURS if c in set(result["category"])]
    add_legend(m, "Emerging hot spots (weekly)", [(EMERGING_COLOURS[c], c) for c in present])
    return m


def add_kde(m: folium.Map, raster, *, name: str = "KDE heat", opacity: float = 0.7) -> folium.Map:
    """Add a :class:`geo.heatmaps.KDERaster` to ``m`` as an image overlay (Web Mercator)."""
    image, bounds = raster.overlay(max_side=800)
    folium.raster_layers.ImageOverlay(
        image=image, bounds=bounds, name=name, opacity=opacity, interactive=False, zindex=400
    ).add_to(m)
    return m


def value_map(
    frame: gpd.GeoDataFrame,
    value: str,
    *,
    name: str,
    tooltip: dict[str, str],
    outline_frame: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """Polygons coloured by quantile classes of ``value`` (blanked values grey), a legend of
    the class ranges, optional outlines.  For densities, coverage shares and loads."""
    require_crs(frame)
    m = maps.base_map(frame, tiles=tiles)
    maps.choropleth(m, frame, value, name=name, tooltip=tooltip, line_weight=0.4)
    numbers = pd.to_numeric(frame[value], errors="coerce").dropna()
    if len(numbers):
        edges = np.quantile(numbers, np.linspace(0, 1, 6))
        take = np.linspace(1, len(maps.SEQUENTIAL) - 1, 5).round().astype(int)
        items = [
            (maps.SEQUENTIAL[take[i]], f"{edges[i]:,.3g} – {edges[i + 1]:,.3g}") for i in range(5)
        ]
        items.append((maps.NO_DATA, "blanked (small count) or none"))
        add_legend(m, name, items)
    if outline_frame is not None and len(outline_frame):
        maps.outline(m, outline_frame, name="boundaries", colour="#222222", weight=1.5)
    return m


def gap_map(
    gaps: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    area: gpd.GeoDataFrame,
    tiles: str | None = None,
) -> folium.Map:
    """Households beyond the service distance (H3 ``count``, blanked under k), the existing
    service points (blue) and the extra sites suggested by MCLP (red stars)."""
    require_crs(area)
    m = maps.base_map(area, tiles=tiles)
    maps.outline(m, area, name="townships", colour="#444444", weight=1.5)
    if len(gaps):
        maps.choropleth(
            m, gaps, "count", name="households beyond the distance",
            tooltip={"count": "households beyond"}, line_weight=0.3,
        )  # fmt: skip
    for row in services.to_crs(4326).itertuples():
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x], radius=5, color="#08519c", fill=True,
            fill_opacity=0.9, tooltip=html.escape(str(getattr(row, "name", row.code))),
        ).add_to(m)  # fmt: skip
    for row in sites.to_crs(4326).itertuples():
        point = row.geometry.representative_point()
        folium.RegularPolygonMarker(
            [point.y, point.x], number_of_sides=5, radius=9, color="#b2182b", fill=True,
            fill_opacity=0.95, tooltip="suggested extra site",
        ).add_to(m)  # fmt: skip
    add_legend(
        m,
        "Service coverage",
        [("#08519c", "service point"), ("#b2182b", "suggested extra site (MCLP)"),
         (maps.SEQUENTIAL[4], "households beyond the distance")],
    )  # fmt: skip
    return m


def case_map(
    case: gpd.GeoDataFrame,
    *,
    cell: gpd.GeoDataFrame | None = None,
    context: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """Where a case was reported: its point, the cell it was placed in and the context
    boundaries (village or township), zoomed on the cell."""
    if case.empty:
        raise DataError("case_map needs a case with a position")
    require_crs(case)
    extent = cell if cell is not None and len(cell) else case.to_crs(4326).buffer(0.005)
    m = maps.base_map(extent, tiles=tiles)
    if context is not None and len(context):
        maps.outline(m, context, name="village", colour="#777777", weight=1.5)
    if cell is not None and len(cell):
        data = maps.light_geojson(cell.assign(name=cell["code"]), columns=["name"])
        folium.GeoJson(
            data, name="cell",
            style_function=lambda _: {"color": "#b2182b", "weight": 3, "fillColor": "#fddbc7",
                                      "fillOpacity": 0.35},
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["cell"]),
        ).add_to(m)  # fmt: skip
    point = case.to_crs(4326).geometry.iloc[0]
    folium.CircleMarker(
        [point.y, point.x], radius=8, color="#000000", weight=2, fill=True,
        fill_color="#b2182b", fill_opacity=1.0, tooltip="reported here",
    ).add_to(m)  # fmt: skip
    return m


def hotspot_png(
    result: gpd.GeoDataFrame,
    *,
    title: str,
    outline_frame: gpd.GeoDataFrame | None = None,
    dpi: int = 150,
) -> bytes:
    """The hot and cold spots of ``result`` (``gi_bin``) as a PNG image with a legend.

    The same classes and colours as :func:`hotspot_map`, drawn with matplotlib (no browser
    needed), for reports and the pages' "download PNG" button.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    if "gi_bin" not in result.columns:
        raise DataError("hotspot_png needs the column gi_bin")
    require_crs(result)
    bins = result["gi_bin"].fillna(0).astype(int).clip(-3, 3)
    fig, ax = plt.subplots(figsize=(10, 8), dpi=dpi)
    result.to_crs(4326).plot(
        ax=ax, color=bins.map(lambda b: HOTSPOT_COLOURS[b][0]).tolist(), edgecolor="#777777",
        linewidth=0.3,
    )  # fmt: skip
    if outline_frame is not None and len(outline_frame):
        outline_frame.to_crs(4326).boundary.plot(ax=ax, color="#222222", linewidth=1.2)
    present = sorted(set(bins.tolist()), reverse=True)
    ax.legend(
        handles=[Patch(facecolor=HOTSPOT_COLOURS[b][0], edgecolor="#777777",
                       label=HOTSPOT_COLOURS[b][1]) for b in present],
        loc="lower right", fontsize=8, framealpha=0.9,
    )  # fmt: skip
    ax.set_title(title, fontsize=11)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
