"""Who is logged in, and which pages their role may open (docs/security.md).

The router (``dashboards/app.py``) asks :func:`current_user` for the user of this browser
session, builds the navigation from :data:`ROLE_PAGES` with :func:`navigation` and runs the
page inside ``geo.auth.as_user(user)``, so every transaction carries the user's
row-level-security scope.  ``st.session_state["user"]`` holds the :class:`geo.auth.User` (a
frozen dataclass without the password or its hash); logging out clears the session.

Without a session only the login page and the wall are served: every other page's address
(``/operations``, ``/case?id=1``) draws the login form, and the requested page opens once the
user has logged in (the address and its query are kept).

Development only: with ``WANGGE_ALLOW_SUPERUSER=1`` *and* ``WANGGE_DEV_LOGIN=<role>`` (or
``<role>:<unit code>``) every session is a pseudo user ``dev-<role>`` of that role, so
browser tests need not log in through the form.  Without ``WANGGE_ALLOW_SUPERUSER`` the
variable is ignored.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from geo import auth
from geo.settings import get_settings

#: The session-state key of the logged-in user.
USER_KEY = "user"
#: The development auto-login (honoured only with ``WANGGE_ALLOW_SUPERUSER``).
DEV_LOGIN_VARIABLE = "WANGGE_DEV_LOGIN"


#: The centre's pages (township officials see the same, narrowed by row-level security).
_CENTRE = ("overview", "hotspots", "coverage", "operations", "case", "wall")

#: The pages (url paths) each role may open; ``*`` every page.  The role lands on the first
#: page of the router's list that it may open.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "wall": ("wall",),
    "centre": _CENTRE,
    "township": _CENTRE,
    "planner": ("overview", "planner"),
    "analyst": ("overview", "hotspots", "coverage"),
    "admin": ("*",),
}
#: Pages served without a session (the wall runs unattended on the centre's screen).
PUBLIC_PAGES = ("wall",)
#: The one answer to a refused login: it never says which part was wrong.
REFUSED = "Wrong login or password. 用户名或密码错误。"


def page_name(page: StreamlitPage) -> str:
    """The name of a page in :data:`ROLE_PAGES`: its url path (``overview`` for the default
    page, which Streamlit serves at the root)."""
    return page.url_path or "overview"


def may_open(page: str, user: auth.User | None = None) -> bool:
    """Whether ``user`` (default: this session's) may open the page at url path ``page``."""
    user = user if user is not None else current_user()
    if user is None or not user.active:
        return False
    allowed = ROLE_PAGES.get(user.role, ())
    return page in allowed or "*" in allowed


def dev_user() -> auth.User | None:
    """The development pseudo user of ``WANGGE_DEV_LOGIN``, honoured only together with
    ``WANGGE_ALLOW_SUPERUSER`` (never in production); None otherwise."""
    raw = os.environ.get(DEV_LOGIN_VARIABLE, "").strip()
    if not raw or not get_settings().allow_superuser:
        return None
    role, _, code = raw.partition(":")
    auth.check_role(role, code or None)
    return auth.User(f"dev-{role}", role, code or None, True, datetime.now(UTC))


def current_user() -> auth.User | None:
    """The user logged in in this browser session (or the development pseudo user)."""
    user = st.session_state.get(USER_KEY)
    if isinstance(user, auth.User):
        return user
    user = dev_user()
    if user is not None:
        st.session_state[USER_KEY] = user
    return user


def actor() -> str | None:
    """The login to record as the actor of an edit, a case move or a publication: the
    logged-in user's, never a name typed on the page."""
    user = current_user()
    return user.login if user is not None else None


def log_in(user: auth.User) -> None:
    """Start this browser session as ``user``."""
    st.session_state[USER_KEY] = user


def log_out() -> None:
    """End this browser session: the user and everything the pages kept are forgotten."""
    st.session_state.clear()


def navigation(pages: list[StreamlitPage], user: auth.User | None, *, kiosk: bool):
    """``st.navigation`` over those of ``pages`` that ``user`` may open; returns the page
    to run and whether ``user`` may run it.

    Without a user: the login page (the default), the wall, and every other page's address
    drawing the login form.  With one: the role's pages in the sidebar (the first of them
    is where it lands); the other pages' addresses (and ``/login``) are hidden pages that
    say so, instead of Streamlit's "page not found".
    """
    login_file = "views/login.py"
    if user is None:
        # The default page is served at the root (not at its own path): "/login" is another.
        shown = [st.Page(login_file, title="Log in 登录", icon=":material/login:",
                         url_path="start", default=True),
                 st.Page(login_file, title="Log in 登录", url_path="login",
                         visibility="hidden")]  # fmt: skip
        for page in pages:
            if page_name(page) in PUBLIC_PAGES:
                shown.append(page)
            else:
                shown.append(st.Page(login_file, title="Log in 登录", url_path=page_name(page),
                                     visibility="hidden"))  # fmt: skip
        chosen = st.navigation(shown, position="hidden")
        return chosen, chosen.url_path in PUBLIC_PAGES
    allowed = [page for page in pages if may_open(page_name(page), user)]
    refused = [page_name(page) for page in pages if page not in allowed and page.url_path]
    shown = list(allowed)
    shown += [st.Page(_not_open, title="Not open 无权访问", url_path=path, visibility="hidden")
              for path in refused]  # fmt: skip
    if allowed:  # the login page's address once logged in: the role's first page

        def home() -> None:
            st.switch_page(allowed[0])

        shown.append(st.Page(home, title="Log in 登录", url_path="login", visibility="hidden"))
    chosen = st.navigation(shown, position="hidden" if kiosk else "sidebar")
    return chosen, any(chosen is page for page in allowed)


def _not_open() -> None:
    st.warning("This page is not open to your role. 您的角色无权访问此页面。", icon="🔒")


def user_box(user: auth.User) -> None:
    """Who is logged in, and the log-out button, at the bottom of the sidebar."""
    with st.sidebar:
        st.divider()
        where = f" · {user.township_code}" if user.township_code else ""
        st.caption(f"Logged in as **{user.login}** ({user.role}{where})")
        if st.button("Log out 退出", key="_log_out", icon=":material/logout:"):
            log_out()
            st.rerun()
