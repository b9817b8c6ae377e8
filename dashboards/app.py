"""Wangge dashboards: one entry point that declares the pages (``streamlit run`` this file)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Pages import ``dashboards._shared`` and ``geo``: make the checkout importable however
# streamlit was started.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

st.set_page_config(page_title="Wangge 网格", page_icon=":material/grid_on:", layout="wide")

pages = [
    st.Page("views/overview.py", title="County overview", icon=":material/map:", default=True),
    st.Page("views/wall.py", title="Command-centre wall", icon=":material/tv:", url_path="wall"),
]
st.navigation(pages).run()
