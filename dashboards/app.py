"""Wangge dashboards: one entry point that declares the pages (``streamlit run`` this file).

It holds the shared frame: page set-up, the login (``dashboards/_auth.py``: a session per
browser, the navigation built from the user's role, hidden on a kiosk wall, ``?kiosk=1``),
the user's row-level-security scope around every page run, and the one error boundary
around every page, so that however the app was started no traceback or server path reaches
a browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Pages import ``dashboards._shared`` and ``geo``: make the checkout importable however
# streamlit was started.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards import _auth, _frame, _shared
from geo import auth
from geo.db import scope

# Errors never show details in the browser, whatever the command line said; pages still
# catch them first (``_shared.error_boundary``) and say what to do in one line.
st.set_option("client.showErrorDetails", "none")
st.set_option("client.toolbarMode", "viewer")

kiosk = _shared.kiosk()
# The favicon is a file shipped here: Streamlit fetches a ":material/...:" page icon from
# fonts.gstatic.com, and a wall's network may be closed. (Page icons in the navigation are
# drawn with the Material Symbols font Streamlit serves itself.)
st.set_page_config(
    page_title="Wangge 网格",
    page_icon=str(Path(__file__).resolve().parent / "assets" / "favicon.png"),
    layout="wide",
    initial_sidebar_state="collapsed" if kiosk else "auto",
)

pages = [
    st.Page("views/overview.py", title="County overview", icon=":material/map:", default=True),
    st.Page("views/wall.py", title="Command-centre wall", icon=":material/tv:", url_path="wall"),
    st.Page(
        "views/hotspots.py",
        title="Hotspots 热点",
        icon=":material/local_fire_department:",
        url_path="hotspots",
    ),
    st.Page(
        "views/coverage.py", title="Coverage 覆盖", icon=":material/explore:", url_path="coverage"
    ),
    st.Page(
        "views/operations.py",
        title="Operations 一中心N平台",
        icon=":material/hub:",
        url_path="operations",
    ),
    st.Page("views/case.py", title="Case 案件", icon=":material/description:", url_path="case"),
    st.Page(
        "views/planner.py",
        title="Planner 规划",
        icon=":material/edit_location_alt:",
        url_path="planner",
    ),
]
# Only the pages the logged-in user's role may open (dashboards/_auth.py: ROLE_PAGES);
# without a session, the login page and the wall.
user = _auth.current_user()  # this session's, or from the browser's session cookie
page, allowed = _auth.navigation(pages, user, kiosk=kiosk)
_auth.keep_cookie(user)  # the login survives a reload (or its cookie goes, after logging out)
# Who is logged in and "log out", at the foot of the sidebar (below the centre's frame).
framed = allowed and _auth.page_name(page) in _frame.FRAMED_PAGES
if user is not None and not kiosk and not framed:
    _auth.user_box(user)
with _shared.error_boundary():  # the frame reads the database too: inside the boundary
    if page.url_path == "wall" and allowed:
        # The wall shows suppressed county aggregates only, to anyone, unattended: it reads
        # them through its own login (wangge_wall), never the app's; the app's scope is
        # nothing (docs/security.md, "The wall").
        with scope.scope(scope.NOBODY, login=user.login if user else None):
            page.run()  # the wall has its own one period and retries by itself
    elif user is None or not allowed:
        with scope.scope(scope.NOBODY):  # the login form, or "not open to your role"
            page.run()
    else:
        with auth.as_user(user):  # every transaction of the page carries the user's scope
            _frame.shared_frame(page)  # county + period of the centre's pages (_frame.py)
            if framed:
                _auth.user_box(user)
            page.run()
