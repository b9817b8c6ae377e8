"""Who is logged in, and which pages their role may open (docs/security.md).

The router (``dashboards/app.py``) asks :func:`current_user` for the user of this browser
session, builds the navigation from :data:`ROLE_PAGES` with :func:`navigation` and runs the
page inside ``geo.auth.as_user(user)``, so every transaction carries the user's
row-level-security scope.  ``st.session_state["user"]`` holds the :class:`geo.auth.User` (a
frozen dataclass without the password or its hash); logging out clears the session.

A login survives a reload: logging in starts a database session (:func:`geo.auth.start_session`)
whose token the browser keeps in the cookie :data:`COOKIE` (written by a line of JavaScript:
``SameSite=Strict``, ``Secure`` over HTTPS, for the session's lifetime).  A new Streamlit
session (a reload, a new tab) finds the cookie in ``st.context.cookies`` and logs the user in
again while the database session lives.  Every full run checks it still does, so logging out
(which ends it and clears the cookie), disabling the account or a new password end the
login in every tab at its next run.

Without a session only the login page and the wall are served: every other page's address
(``/operations``, ``/case?id=1``) draws the login form, and the requested page opens once the
user has logged in (the address and its query are kept).

Development only: with ``WANGGE_ALLOW_SUPERUSER=1`` *and* ``WANGGE_DEV_LOGIN=<role>`` (or
``<role>:<unit code>``) every session is a pseudo user ``dev-<role>`` of that role, so
browser tests need not log in through the form.  Without ``WANGGE_ALLOW_SUPERUSER`` the
variable is ignored.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

import streamlit as st
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from streamlit.navigation.page import StreamlitPage

from dashboards import _shared
from geo import auth
from geo.settings import get_settings

log = logging.getLogger("wangge.dashboards")

#: The session-state key of the logged-in user.
USER_KEY = "user"
#: The session-state key of the login's session token (None for the development login).
TOKEN_KEY = "_session_token"
#: The session-state key of a cookie to clear at the next run (after logging out).
CLEAR_KEY = "_clear_cookie"
#: The browser's cookie holding the session token.
COOKIE = "wangge_session"
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
#: The answer while a login name is locked (too many failures): the same for every name,
#: whether or not it has an account.
LOCKED = (
    "Too many failed log-ins with this login: try again in 15 minutes. "
    "登录失败次数过多，请15分钟后再试。"
)


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
    """The user logged in in this browser session: kept in the session (while its database
    session lives), else found from the browser's cookie, else the development pseudo
    user."""
    user = st.session_state.get(USER_KEY)
    if isinstance(user, auth.User):
        token = st.session_state.get(TOKEN_KEY)
        if token is None or _session_user(token, keep=user) is not None:
            return user
        _forget()  # ended elsewhere: logged out in another tab, disabled, new password
        return None
    user = dev_user()
    if user is not None:
        st.session_state[USER_KEY] = user
        return user
    token = st.context.cookies.get(COOKIE)
    user = _session_user(token, keep=None) if token else None
    if user is not None:
        st.session_state[USER_KEY], st.session_state[TOKEN_KEY] = user, token
    return user


def _session_user(token: str, *, keep: auth.User | None) -> auth.User | None:
    """The user of the database session ``token``; ``keep`` while the database is away (a
    wall stays logged in through an outage)."""
    try:
        with _shared.engine().begin() as conn:
            return auth.session_user(conn, token)
    except sa_exc.SQLAlchemyError as exc:
        log.warning("session check: %s", _shared.problem(exc))
        return keep


def _forget() -> None:
    """Clear this browser session and, at the next run, the browser's cookie."""
    st.session_state.clear()
    st.session_state[CLEAR_KEY] = True


def actor() -> str | None:
    """The login to record as the actor of an edit, a case move or a publication: the
    logged-in user's, never a name typed on the page."""
    user = current_user()
    return user.login if user is not None else None


def log_in(conn: Connection, user: auth.User) -> None:
    """Start this browser session as ``user``, with a database session (in ``conn``'s
    transaction) whose token the browser keeps (:func:`keep_cookie`)."""
    st.session_state[USER_KEY] = user
    st.session_state[TOKEN_KEY] = auth.start_session(conn, user)
    st.session_state.pop(CLEAR_KEY, None)


def log_out() -> None:
    """End this browser session and its database session; the cookie is cleared at the
    next run, and everything the pages kept is forgotten."""
    token = st.session_state.get(TOKEN_KEY)
    if token is not None:
        try:
            with _shared.engine().begin() as conn:
                auth.end_session(conn, token)
        except sa_exc.SQLAlchemyError as exc:  # the cookie goes all the same
            log.warning("log out: %s", _shared.problem(exc))
    _forget()


def _cookie_script(value: str, max_age_s: int) -> str:
    cookie = json.dumps(f"{COOKIE}={value}; Path=/; Max-Age={max_age_s}; SameSite=Strict")
    return (
        f"<script>document.cookie = {cookie} + "
        "(window.location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


def keep_cookie(user: auth.User | None) -> None:
    """Write the session's cookie into the browser (or clear it after logging out).

    The cookie is written on every run until the browser sends it back (a new Streamlit
    session reads ``st.context.cookies`` once, from its first request), from the sidebar so
    that it takes no room on the page; a logged-out page clears it once.
    """
    token = st.session_state.get(TOKEN_KEY)
    if user is not None and token and st.context.cookies.get(COOKIE) != token:
        age = int(auth.session_lifetime(user).total_seconds())
        st.sidebar.html(_cookie_script(token, age), unsafe_allow_javascript=True)
    elif user is None and st.session_state.pop(CLEAR_KEY, False):
        st.html(_cookie_script("", 0), unsafe_allow_javascript=True)


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
            st.switch_page(allowed[0], query_params=st.query_params.to_dict())

        shown.append(st.Page(home, title="Log in 登录", url_path="login", visibility="hidden"))
        if all(page.url_path for page in allowed):
            # No page of the role is the root's (the overview): the root leads to the first,
            # which keeps its own address (Streamlit would serve it at the root instead, and
            # "/wall?kiosk=1" would be "page not found" for the wall's account).
            shown.insert(0, st.Page(home, title="Start", url_path="start", default=True,
                                    visibility="hidden"))  # fmt: skip
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
