"""Coverage and visits (覆盖与走访): assignment, five-colour visits, service distance,
worker load, household and resident density.

Presentation only: :mod:`geo.coverage` and :mod:`geo.heatmaps` through the cached helpers
of ``dashboards._centre_data``; every count of households or residents is blanked under the
suppression threshold.
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboards import _centre_data as data
from dashboards import _frame
from geo import centre_maps, coverage


def body() -> None:
    frame = _frame.current()
    st.title("Coverage · 覆盖与走访")
    if frame.county_code is None:
        st.info("No county in the database yet. Run `wangge demo` to set up the demo county.")
        return
    if data.cells(frame.county_code).empty:
        st.info(
            f"{frame.county_name} has no published grid plan yet, so nothing to measure "
            "coverage against. Run `wangge demo`."
        )
        return
    st.caption(f"{frame.county_name} · as of {frame.at:%Y-%m-%d %H:%M} · counts under "
               f"{data.k()} households are blanked")  # fmt: skip
    tabs = st.tabs(["Assignment 全覆盖", "Visits 走访", "Service distance 服务半径",
                    "Worker load 工作量", "Density 密度"])  # fmt: skip
    with tabs[0]:
        assignment(frame)
    with tabs[1]:
        visits(frame)
    with tabs[2]:
        services(frame)
    with tabs[3]:
        load(frame)
    with tabs[4]:
        density(frame)


def assignment(frame: _frame.Frame) -> None:
    table = data.assignment_by_village(frame.county_code)
    totals = table[["unassigned", "double", "cross_village"]].sum()
    c1, c2, c3 = st.columns(3)
    c1.metric("Households in no cell 未入格", f"{totals['unassigned']:,.0f}")
    c2.metric("In two cells 重复", f"{totals['double']:,.0f}")
    c3.metric("In another village's cell 跨村", f"{totals['cross_village']:,.0f}")
    problems = table[(table[["unassigned", "double", "cross_village"]].fillna(0) > 0).any(axis=1)]
    if problems.empty:
        st.success("Every household is in exactly one cell of its own village (full coverage).")
    else:
        st.dataframe(problems.drop(columns="suppressed"), hide_index=True, width="stretch")
    with st.expander("All villages"):
        st.dataframe(table.drop(columns="suppressed"), hide_index=True, width="stretch")


def visits(frame: _frame.Frame) -> None:
    if data.visit_count(frame.county_code, frame.at) == 0:
        st.info(
            "No grid-worker visits in the database yet, so the five-colour visit rules cannot "
            "be checked. Visits come with the demo's activity (`wangge demo`) once it "
            "generates them."
        )
        return
    days = st.select_slider("Window (days) 统计窗口", [7, 14, 30, 60, 90], value=30, key="cv_days")
    by_cell, by_worker = data.visits_by_cell(frame.county_code, days, frame.at)
    behind = by_cell.sort_values("share_compliant").head(20)
    left, right = st.columns(2)
    with left:
        st.markdown("**Cells furthest behind the five-colour rules**")
        st.dataframe(behind.drop(columns="suppressed"), hide_index=True, width="stretch")
    with right:
        st.markdown("**Workers**")
        if by_worker.empty:
            st.caption("No workers recorded.")
        else:
            st.dataframe(by_worker, hide_index=True, width="stretch")


def services(frame: _frame.Frame) -> None:
    points = data.service_points(frame.county_code)
    if points.empty:
        st.info(
            "No service points in the database yet (convenience centres, police posts, "
            "clinics, emergency teams). Load them with `wangge load`; the demo will add them "
            "later."
        )
        return
    kinds = [k for k in coverage.SERVICE_KINDS if k in set(points["kind"])] or sorted(
        set(points["kind"])
    )
    c1, c2 = st.columns(2)
    kind = c1.selectbox("Service 服务类型", kinds, key="cv_kind")
    distance = c2.select_slider(
        "Distance limit (m)", [500, 1000, 2000, 3000, 5000], value=2000, key="cv_dist"
    )
    by_village, gaps, sites = data.service_gaps(frame.county_code, kind, float(distance))
    left, right = st.columns([3, 2])
    with left:
        m = centre_maps.gap_map(
            gaps, points[points["kind"] == kind], sites,
            area=data.units("township", frame.county_code),
        )  # fmt: skip
        st_folium(m, height=560, use_container_width=True, key="cv_gap_map", returned_objects=[])
    with right:
        st.metric("Extra sites suggested (MCLP, 95 %)", f"{len(sites)}")
        st.dataframe(
            by_village.sort_values("share_covered").drop(columns="suppressed"),
            hide_index=True, width="stretch",
        )  # fmt: skip


def load(frame: _frame.Frame) -> None:
    table = data.worker_load(frame.county_code)
    if table.empty:
        st.info(
            "No grid workers in the database yet, so no worker load. Workers come with the "
            "demo's activity (`wangge demo`) once it generates them."
        )
        return
    outliers = table[table["outlier"] != ""]
    st.metric("Workers outside the usual load (IQR rule)", f"{len(outliers)}")
    st.dataframe(
        table.drop(columns="suppressed").style.apply(
            lambda r: ["background-color: #fddbc7" if r["outlier"] else "" for _ in r], axis=1
        ),
        hide_index=True,
        width="stretch",
    )


def density(frame: _frame.Frame) -> None:
    c1, c2 = st.columns(2)
    what = c1.radio("Density of 密度", ["households 户", "residents 人"], horizontal=True,
                    key="cv_what")  # fmt: skip
    resolution = c2.select_slider("H3 resolution", [7, 8, 9], value=8, key="cv_res")
    weight = None if what.startswith("households") else "residents"
    hexes = data.household_density(frame.county_code, resolution, weight)
    label = "households per km²" if weight is None else "residents per km²"
    m = centre_maps.value_map(
        hexes, "per_km2", name=label, tooltip={"per_km2": label, "count": "households"},
        outline_frame=data.units("township", frame.county_code),
    )  # fmt: skip
    st_folium(m, height=620, use_container_width=True, key="cv_density_map", returned_objects=[])
    st.caption(
        f"{len(hexes):,} occupied hexagons; {int(hexes['suppressed'].sum()):,} with fewer than "
        f"{data.k()} households are blanked (grey)."
    )


data.run_page(body)
