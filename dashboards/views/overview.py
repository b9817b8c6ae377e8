"""County overview: the hierarchy counts and a map of the townships."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboards import _shared
from geo import maps

st.title("County overview 县域总览")
county_code = _shared.county_selector()
if county_code is None:
    st.info(f"No county in the database yet. {_shared.EMPTY_HINT}")
    st.stop()

row = _shared.counts().set_index("county_code").loc[county_code]
# A county's name is data: shown as text, never as Markdown or HTML.
st.html(f'<h3 class="wg-county">{_shared.text(row["county"])} — four-level grid</h3>')
columns = st.columns(5)
for column, (label, value) in zip(
    columns,
    [
        ("Townships 乡镇/街道", row["townships"]),
        ("Villages 村/社区", row["villages"]),
        ("Natural units 自然单元", row["natural_units"]),
        ("Households 户", row["households"]),
        ("Residents 人", row["residents"]),
    ],
    strict=True,
):
    column.metric(label, f"{int(value):,}")

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
