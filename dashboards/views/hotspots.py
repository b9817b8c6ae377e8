"""Hotspots (热点分析): Gi* on the published cells and on H3, KDE heat, emerging hot spots.

Presentation only: the analysis is :func:`geo.hotspots.gi_star` (cells, incidents per
household, queen contiguity, FDR), :func:`geo.hotspots.hex_hotspots`,
:func:`geo.heatmaps.kde_raster` and :func:`geo.hotspots.emerging_hotspots`, cached in
``dashboards._centre_data``; maps come from :mod:`geo.centre_maps`.
"""

from __future__ import annotations

import io
import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboards import _auth, _frame
from dashboards import _centre_data as data
from geo import centre_maps, export, maps

VIEWS = ("Cells Gi* 网格", "H3 Gi* 六边形", "KDE heat 热力", "Emerging 时空趋势")
SOURCES = ("whistle", "hotline_12345", "video_alert", "resident")
ALL = "— all —"


def drill(frame: _frame.Frame) -> tuple[str | None, str | None, str | None]:
    """County → township → village → cell, chosen in three selectors (or by a map click)."""
    state = st.session_state
    for key in ("hs_township", "hs_village", "hs_cell"):
        state.setdefault(key, ALL)
    townships = data.units("township", frame.county_code)
    names = dict(zip(townships["code"], townships["name"], strict=True))
    c1, c2, c3 = st.columns(3)
    township = c1.selectbox(
        "Township 乡镇", [ALL, *names], key="hs_township",
        format_func=lambda c: c if c == ALL else f"{names[c]} ({c})",
        on_change=lambda: state.update(hs_village=ALL, hs_cell=ALL),
    )  # fmt: skip
    township = None if township == ALL else township
    village = cell = None
    if township:
        villages = data.units("village", frame.county_code)
        villages = villages[villages["parent_code"] == township]
        vnames = dict(zip(villages["code"], villages["name"], strict=True))
        if state["hs_village"] not in (ALL, *vnames):
            state["hs_village"] = ALL
        village = c2.selectbox(
            "Village 村/社区", [ALL, *vnames], key="hs_village",
            format_func=lambda c: c if c == ALL else f"{vnames[c]} ({c})",
            on_change=lambda: state.update(hs_cell=ALL),
        )  # fmt: skip
        village = None if village == ALL else village
    if village:
        cells = data.scope_cells(frame.county_code, township, village)["code"].tolist()
        if state["hs_cell"] not in (ALL, *cells):
            state["hs_cell"] = ALL
        cell = c3.selectbox("Cell 网格", [ALL, *cells], key="hs_cell")
        cell = None if cell == ALL else cell
    return township, village, cell


def select_from_click(clicked: dict | None, result: pd.DataFrame) -> None:
    """A click on a cell drills to it (its township, village and the cell)."""
    if not clicked or "properties" not in clicked:
        return
    code = clicked["properties"].get("code")
    row = result[result["code"] == code]
    if row.empty or st.session_state.get("hs_cell") == code:
        return
    state = st.session_state
    state["hs_township"] = row["township_code"].iloc[0]
    state["hs_village"] = row["village_code"].iloc[0]
    state["hs_cell"] = code
    st.rerun()


def body() -> None:
    frame = _frame.current()
    st.title("Hotspots · 热点分析")
    if frame.county_code is None:
        st.info("No county in the database yet. Run `wangge demo` to set up the demo county.")
        return
    cells_all = data.cells(frame.county_code)
    if cells_all.empty:
        st.info(
            f"{frame.county_name} has no published grid plan, so there are no cells to analyse. "
            "Run `wangge demo` (it builds and publishes one) or `wangge grids publish`."
        )
        return
    cats = data.categories()
    f1, f2, f3, f4 = st.columns([3, 2, 2, 2])
    category = f1.multiselect(
        "Category 类别", cats["code"].tolist(), key="hs_category",
        format_func=dict(zip(cats["code"], cats["name"], strict=True)).get,
    )  # fmt: skip
    platform = f2.multiselect("Platform 平台", data.platforms()["code"].tolist(), key="hs_platform")
    source = f3.multiselect("Source 来源", list(SOURCES), key="hs_source")
    resolution = f4.select_slider("H3 resolution", [7, 8, 9], value=8, key="hs_res")
    filters = (tuple(category), tuple(platform), tuple(source))

    start, end = frame.start, frame.end
    weeks = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="7D")[:-1]
    if len(weeks) >= 2:
        options = ["whole period", *[f"{w:%Y-%m-%d}" for w in weeks]]
        week = st.select_slider(
            "Playback 逐周回放 — one week at a time, or the whole period", options,
            value="whole period", key="hs_week",
        )  # fmt: skip
        if week != "whole period":
            start = pd.Timestamp(week, tz=pd.Timestamp(start).tz).to_pydatetime()
            end = min(pd.Timestamp(start) + timedelta(days=7), pd.Timestamp(end)).to_pydatetime()
    township, village, cell = drill(frame)
    scope_name = (
        f"cell {cell}" if cell else f"village {village}" if village
        else f"township {township}" if township else frame.county_name
    )  # fmt: skip
    st.caption(
        f"{frame.county_name} › {township or 'all townships'} › {village or '…'} › "
        f"{cell or '…'} · {start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d} · incidents per "
        f"household on the published cells (Gi*, queen contiguity, FDR-corrected)"
    )

    result = data.cell_hotspots(frame.county_code, start, end, filters, township, village)
    points = data.filtered_incidents(
        frame.county_code, start, end, categories=filters[0], platforms=filters[1],
        sources=filters[2], township=township, village=village,
    )  # fmt: skip
    if points.empty:
        st.info(
            f"No incident in {scope_name} for this period and these filters. Widen the period "
            "or the filters; for demo incidents run `wangge demo`."
        )
    shown = data.shown_cells(result) if len(result) else result
    hot = int((result["gi_bin"] > 0).sum()) if len(result) else 0
    cold = int((result["gi_bin"] < 0).sum()) if len(result) else 0
    open_cases = points[~points["status"].isin(("resolved", "fed_back", "closed"))]
    hot_codes = set(result.loc[result["gi_bin"] > 0, "code"]) if len(result) else set()
    figures = [
        ("Incidents 事件", f"{len(points):,}"),
        ("Cells analysed 网格", f"{len(result):,}"),
        ("Hot cells 热点", f"{hot:,}"),
        ("Cold cells 冷点", f"{cold:,}"),
        ("Open cases in hot cells", f"{int(open_cases['cell_code'].isin(hot_codes).sum()):,}"),
    ]
    for column, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        column.metric(label, value)

    view = st.segmented_control("Map 地图", VIEWS, default=VIEWS[0], key="hs_view") or VIEWS[0]
    left, right = st.columns([3, 2])
    outline = _outline(frame, township, village)
    with left:
        draw_map(view, frame, shown, outline, filters, start, end, township, village, resolution)
    with right:
        strongest(shown, points, end, cell)
    st.markdown("**Incidents per week and platform** (scope and filters above)")
    weekly = data.weekly_counts(points)
    if weekly.empty:
        st.caption("No incidents to chart.")
    else:
        st.bar_chart(weekly, x="week", y="incidents", color="platform_code", height=240)
    exports(frame, shown, outline, scope_name)


def _outline(frame: _frame.Frame, township: str | None, village: str | None):
    if village:
        villages = data.units("village", frame.county_code)
        return villages[villages["code"] == village]
    if township:
        villages = data.units("village", frame.county_code)
        return villages[villages["parent_code"] == township]
    return data.units("township", frame.county_code)


def draw_map(view, frame, shown, outline, filters, start, end, township, village, resolution):
    if view == VIEWS[0]:
        if shown.empty:
            st.info("Fewer than 3 cells in this scope: Gi* needs neighbours. Go up a level.")
            return
        m = centre_maps.hotspot_map(
            shown, name="incidents per household", key="code",
            tooltip={"code": "cell 网格", "class": "Gi*", "incidents": "incidents",
                     "households": "households", "per_100": "per 100 households"},
            outline_frame=outline,
        )  # fmt: skip
        clicked = st_folium(
            m, height=600, use_container_width=True, key="hs_cells_map",
            returned_objects=["last_active_drawing"],
        )  # fmt: skip
        select_from_click((clicked or {}).get("last_active_drawing"), shown)
        st.caption("Click a cell to drill down to it. Counts under "
                   f"{data.k()} households are blanked; the class is shown.")  # fmt: skip
    elif view == VIEWS[1]:
        hexes = data.hex_hotspots(
            frame.county_code, start, end, filters, township, village, resolution
        )
        if hexes.empty:
            st.info("Too few incidents for hexagon hot spots in this scope.")
            return
        m = centre_maps.hotspot_map(
            hexes, name=f"incidents per H3 hexagon (res {resolution})", key="h3",
            tooltip={"h3": "H3", "class": "Gi*", "count": "incidents"}, outline_frame=outline,
        )  # fmt: skip
        st_folium(m, height=600, use_container_width=True, key="hs_hex_map", returned_objects=[])
        st.caption(
            f"{len(hexes):,} occupied hexagons, k = 1 ring, FDR. Counts under {data.k()} blanked."
        )
    elif view == VIEWS[2]:
        raster = data.kde(frame.county_code, start, end, filters, township, village)
        if raster is None:
            st.info("Too few incidents for a heat surface in this scope.")
            return
        m = maps.base_map(outline)
        maps.outline(m, outline, name="boundaries", colour="#222222", weight=1.5)
        centre_maps.add_kde(m, raster)
        centre_maps.add_legend(
            m, f"KDE heat (bandwidth {raster.bandwidth:,.0f} m)",
            [("#ffffb2", "low"), ("#fd8d3c", "medium"), ("#bd0026", "high")],
        )  # fmt: skip
        st_folium(m, height=600, use_container_width=True, key="hs_kde_map", returned_objects=[])
    else:
        result = data.emerging(frame.county_code, start, end, filters, township, village)
        if result.empty:
            st.info("Emerging hot spots need at least 3 weeks and 3 cells: widen the period.")
            return
        m = centre_maps.emerging_map(result, key="code", outline_frame=outline)
        st_folium(m, height=600, use_container_width=True, key="hs_em_map", returned_objects=[])
        st.caption(f"{len(result.attrs.get('slices', []))} weekly slices, Mann–Kendall trend.")


def strongest(shown, points, end, cell: str | None) -> None:
    """The strongest hot spots with counts, trend and open cases (or the chosen cell's cases)."""
    if cell:
        st.markdown(f"**Cases in cell {cell}**")
        here = points[points["cell_code"] == cell].sort_values("reported_at", ascending=False)
        if here.empty:
            st.caption("No incident in this cell for the period and filters.")
            return
        table = here[["id", "status", "category_code", "platform_code", "reported_at"]]
        cases = _auth.may_open("case")  # the case page is for roles that may see cases
        event = st.dataframe(
            table, hide_index=True, width="stretch", height=520, key="hs_cell_cases",
            on_select="rerun" if cases else "ignore", selection_mode="single-row",
            column_config={"id": st.column_config.NumberColumn("case", format="#%d")},
        )  # fmt: skip
        if cases and event is not None and event.selection.rows:
            chosen = int(table.iloc[event.selection.rows[0]]["id"])
            st.session_state["case_id"] = chosen
            st.switch_page("views/case.py", query_params={"id": str(chosen)})
        return
    st.markdown("**Strongest hot spots 最强热点** — select a row to drill to the cell")
    if shown.empty:
        st.caption("No cells analysed.")
        return
    recent = points[points["reported_at"] >= pd.Timestamp(end) - timedelta(days=7)]
    before = points[
        (points["reported_at"] < pd.Timestamp(end) - timedelta(days=7))
        & (points["reported_at"] >= pd.Timestamp(end) - timedelta(days=14))
    ]
    is_open = ~points["status"].isin(("resolved", "fed_back", "closed"))
    table = shown.sort_values("gi_z", ascending=False).head(15)
    table = pd.DataFrame(
        {
            "cell": table["code"],
            "class": table["class"],
            "gi_bin": table["gi_bin"],
            "z": table["gi_z"].round(2),
            "incidents": table["incidents"],
            "per 100 hh": table["per_100"],
            "last 7 d": table["code"].map(recent["cell_code"].value_counts()).fillna(0),
            "7 d before": table["code"].map(before["cell_code"].value_counts()).fillna(0),
            "open cases": table["code"]
            .map(points.loc[is_open, "cell_code"].value_counts())
            .fillna(0)
            .astype(int),
            "township_code": table["township_code"],
            "village_code": table["village_code"],
        }
    )
    table["trend"] = (table["last 7 d"] - table["7 d before"]).map(
        lambda d: f"↑ +{d:.0f}" if d > 0 else (f"↓ {d:.0f}" if d < 0 else "→ 0")
    )
    event = st.dataframe(
        table.drop(columns=["township_code", "village_code", "last 7 d", "7 d before"]),
        hide_index=True, width="stretch", height=560, key="hs_strongest",
        on_select="rerun", selection_mode="single-row",
    )  # fmt: skip
    if event is not None and event.selection.rows:
        row = table.iloc[event.selection.rows[0]]
        st.session_state.update(
            hs_township=row["township_code"], hs_village=row["village_code"], hs_cell=row["cell"]
        )
        st.rerun()


def exports(frame: _frame.Frame, shown, outline, scope_name: str) -> None:
    if shown.empty:
        return
    c1, c2, c3 = st.columns(3)
    table = pd.DataFrame(shown.drop(columns="geometry"))
    c1.download_button(
        "Download this frame (CSV)", table.to_csv(index=False).encode("utf-8"),
        file_name=f"hotspots-{frame.county_code}.csv", mime="text/csv",
    )  # fmt: skip
    c2.download_button(
        "Download this frame (GeoPackage)", lambda: _geopackage(shown),
        file_name=f"hotspots-{frame.county_code}.gpkg", mime="application/geopackage+sqlite3",
    )  # fmt: skip
    c3.download_button(
        "Download the map (PNG)",
        lambda: centre_maps.hotspot_png(
            shown, title=f"Gi* hot spots of incidents per household, county {frame.county_code}",
            outline_frame=outline,
        ),
        file_name=f"hotspots-{frame.county_code}.png", mime="image/png",
    )  # fmt: skip


def _geopackage(shown) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hotspots.gpkg"
        export.frames_to_file({"hotspots": shown.drop(columns=["class"])}, path)
        return io.BytesIO(path.read_bytes()).getvalue()


data.run_page(body)
