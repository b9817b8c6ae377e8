"""County overview: the four levels (beside the seed profile's report, if any) and a map of
the townships."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboards import _shared
from geo import levels, maps

st.title("County overview 县域总览")
county_code = _shared.county_selector()
if county_code is None:
    st.info(f"No county in the database yet. {_shared.EMPTY_HINT}")
    st.stop()

row = _shared.counts().set_index("county_code", drop=False).loc[county_code]
# A county's name is data: shown as text, never as Markdown or HTML.
st.html(f'<h3 class="wg-county">{_shared.text(row["county"])} — four-level grid</h3>')
shown = levels.levels_text(levels.county_levels(row))
for column, figure in zip(st.columns(len(shown)), shown.itertuples(index=False), strict=True):
    column.metric(figure.level, figure.in_database)
if "report" in shown.columns:
    st.caption(
        "Beside the report the county was generated from (its seed profile): "
        f"{levels.MARK_SAME} as in the report, {levels.MARK_DIFFERS} differs, "
        f"{levels.MISSING} none (no published plan, or no figure in the report)."
    )
    table = (
        shown.rename(columns={"in_database": "In database", "report": "Report", "mark": ""})
        .set_index("level")
        .rename_axis("Level")
    )
    numbers = {"text-align": "right", "min-width": "8em", "font-variant-numeric": "tabular-nums"}
    styled = table.style.set_properties(subset=["In database", "Report"], **numbers).map(
        lambda m: "color: #c0392b; font-weight: 700" if m == levels.MARK_DIFFERS else "",
        subset=[""],
    )
    st.table(styled, width="content")
else:
    st.caption(
        "Not generated from a seed profile: no report to compare with. "
        f"Cells {levels.MISSING} = no published plan yet."
    )

townships = _shared.unit_summary("township", county_code)
st_folium(
    maps.township_map(townships),
    height=560,
    width="stretch",
    returned_objects=[],
    key="township_map",
)
st.caption("Townships coloured by households (quantile classes). Hover for counts.")
st.dataframe(
    townships.drop(columns="geometry").rename(columns=str),
    hide_index=True,
    width="stretch",
)
