"""What every dashboard page shares: the engine, cached queries, the county selector.

Pages stay presentation only: they call these helpers and ``geo`` and draw the result.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from geo import privacy
from geo.db import io, queries
from geo.db.session import get_engine
from geo.settings import get_settings

TTL = get_settings().cache_ttl_s


@st.cache_resource
def engine() -> Engine:
    """The database engine (one per server process)."""
    return get_engine()


@st.cache_data(ttl=TTL)
def counties() -> pd.DataFrame:
    return queries.county_codes(engine())


@st.cache_data(ttl=TTL)
def counts() -> pd.DataFrame:
    return io.counts_by_level(engine())


@st.cache_data(ttl=TTL)
def unit_summary(level: str, county_code: str) -> gpd.GeoDataFrame:
    return queries.unit_summary(engine(), level, county_code)


@st.cache_data(ttl=TTL)
def wall_units(county_code: str) -> gpd.GeoDataFrame:
    """Wall map units with small counts suppressed (see geo.db.queries.wall_units)."""
    units = queries.wall_units(engine(), county_code)
    k = get_settings().suppress_below
    return privacy.suppress_small(
        units, k=k, columns=["households", "residents", "incidents", "incidents_per_100"]
    )


@st.cache_data(ttl=TTL)
def wall_map_html(county_code: str, value: str, label: str) -> str:
    """The wall's map as one HTML document, built once per refresh period.

    Building the folium map of ~1,800 cells and rendering it costs ~0.5 s: cached, every
    wall and every reload within the period gets the same document.
    """
    from geo import maps

    m = maps.wall_map(
        wall_units(county_code),
        value,
        label=label,
        outline_frame=unit_summary("township", county_code),
    )
    return maps.map_html(m)


@st.cache_data(ttl=TTL)
def platform_board(county_code: str) -> pd.DataFrame:
    return queries.platform_board(engine(), county_code)


def init_state() -> None:
    """Session-state defaults, set once in one place."""
    st.session_state.setdefault("county_code", None)


def county_selector() -> str | None:
    """The county chosen in the sidebar (the only one, when there is one)."""
    init_state()
    available = counties()
    if available.empty:
        return None
    labels = {r.code: f"{r.name} ({r.code})" for r in available.itertuples()}
    codes = list(labels)
    current = st.session_state["county_code"]
    index = codes.index(current) if current in codes else 0
    chosen = st.sidebar.selectbox("County 县", codes, index=index, format_func=labels.get)
    st.session_state["county_code"] = chosen
    return chosen
