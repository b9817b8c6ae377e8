"""Log in 登录: local accounts (``app_user``), checked by :func:`geo.auth.authenticate`.

A refused login gets one message whatever was wrong (unknown login, disabled account or
wrong password); a login name locked by too many failures gets another, the same whether or
not the account exists.  On success the session holds the :class:`geo.auth.User` and the page the
address asked for opens (``/operations``, ``/case?id=1``), or the role's first page.
"""

from __future__ import annotations

import streamlit as st

from dashboards import _auth, _shared
from geo import auth

st.html(
    """<style>
    .wg-login-head { text-align: center; margin: 8vh 0 1.2rem; }
    .wg-login-head h1 { font-size: 2.4rem; margin: 0; padding: 0; }
    .wg-login-head p { color: #5f6b7a; margin: .3rem 0 0; }
    </style>
    <div class="wg-login-head"><h1>Wangge 网格</h1>
    <p>County grid governance · 县域网格化治理</p></div>"""
)
_, middle, _ = st.columns([1, 1.1, 1])
with middle, st.form("login", clear_on_submit=True, border=True):
    st.markdown("**Log in 登录**")
    login = st.text_input("Login 用户名", key="login_name", autocomplete="username")
    password = st.text_input(
        "Password 密码", type="password", key="login_password", autocomplete="current-password"
    )
    submitted = st.form_submit_button("Log in 登录", type="primary", width="stretch")
    if submitted:
        # One transaction: the failure (rate limit) or the session is recorded with it.
        with _shared.engine().begin() as conn:
            user = auth.authenticate(conn, login or "", password or "")
            locked = user is None and auth.locked_out(conn, login or "")
            if user is not None:
                _auth.log_in(conn, user)
        if user is None:
            st.error(_auth.LOCKED if locked else _auth.REFUSED, icon="🔒")
        else:
            st.rerun()
    st.caption("Accounts are given by the centre's administrator (`wangge users add`).")
