"""The command centre's wall: county-wide aggregates that refresh themselves.

Readable across a room, nobody touching it: big numbers, one map, the platforms' board.
Aggregates only; every count under the suppression threshold is blanked.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboards import _shared
from geo.settings import get_settings

settings = get_settings()
st.markdown(
    "<style>[data-testid='stMetricValue']{font-size:3.2rem;}"
    "[data-testid='stMetricLabel'] p{font-size:1.3rem;}"
    "h1{font-size:2.6rem;}</style>",
    unsafe_allow_html=True,
)
county_code = _shared.county_selector()
if county_code is None:
    st.warning("No county in the database yet. Run `wangge synth --profile yanchi`.")
    st.stop()


@st.fragment(run_every=settings.cache_ttl_s)
def wall() -> None:
    row = _shared.counts().set_index("county_code").loc[county_code]
    units = _shared.wall_units(county_code)
    board = _shared.platform_board(county_code)
    st.title(f"{row['county']} 社会治理综合服务中心 · Command centre")
    columns = st.columns(5)
    figures = [
        ("Households 户", f"{int(row['households']):,}"),
        ("Residents 人", f"{int(row['residents']):,}"),
        ("Grid cells 网格" if units["unit"].eq("cell").any() else "Villages 村/社区",
         f"{len(units):,}"),
        ("Incidents, 7 days 事件", f"{int(board['reported'].sum()):,}"),
        ("Open · overdue 待办·超期",
         f"{int(board['open'].sum()):,} · {int(board['overdue'].sum()):,}"),
    ]  # fmt: skip
    for column, (label, value) in zip(columns, figures, strict=True):
        column.metric(label, value)
    left, right = st.columns([3, 1])
    with left:
        value = "incidents_per_100" if board["reported"].sum() else "households"
        label = "incidents / 100 households, 30 days" if value != "households" else "households"
        st.iframe(_shared.wall_map_html(county_code, value, label), height=720)
    with right:
        st.subheader(f"{len(board)} platforms 平台")
        st.dataframe(
            board.drop(columns="platform_code"),
            hide_index=True,
            width="stretch",
            column_config={
                "resolved_share": st.column_config.ProgressColumn(
                    "resolved", min_value=0.0, max_value=1.0, format="percent"
                )
            },
        )
    st.caption(
        f"Aggregates only; units under {settings.suppress_below} households are blanked. "
        f"Refreshed {time.strftime('%H:%M:%S')}, every {settings.cache_ttl_s} s."
    )


wall()
