"""Browser sessions that survive a reload, and the log-in rate limit (geo.auth, migration
0009).  Real PostgreSQL; time is moved by moving the stored instants back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text

from geo import auth
from geo.db import io
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db


@pytest.fixture
def accounts(conn: Connection) -> dict[str, str]:
    io.write_county(conn, tiny_county("999999"))
    made = {}
    for login, role in (("zhang", "centre"), ("screen", "wall")):
        _, made[login] = auth.add_user(conn, login, role=role)
    return made


def age(conn: Connection, minutes: float) -> None:
    """Move every failure and lock ``minutes`` into the past."""
    conn.execute(
        text(
            "UPDATE login_failure SET failed_at = failed_at - make_interval(secs => :m * 60), "
            "locked_until = locked_until - make_interval(secs => :m * 60)"
        ),
        {"m": minutes},
    )


@pytest.mark.parametrize("login", ["zhang", "nobody-here"])
def test_five_failures_lock_a_name_for_fifteen_minutes(
    conn: Connection, accounts: dict[str, str], login: str
) -> None:
    password = accounts.get(login, "a password of nobody")
    for _ in range(auth.MAX_FAILURES - 1):
        assert auth.authenticate(conn, login, "wrong password") is None
    assert not auth.locked_out(conn, login)
    assert auth.authenticate(conn, login.upper(), "wrong password") is None  # the 5th
    assert auth.locked_out(conn, login)  # the same for a name that has no account
    assert auth.authenticate(conn, login, password) is None  # even the right password
    assert auth.locked_out(conn, f" {login.upper()} ")
    assert not auth.locked_out(conn, "someone-else")
    # refusals while locked are not counted: the lock ends 15 minutes after the 5th failure
    age(conn, 14)
    assert auth.locked_out(conn, login)
    age(conn, 1.1)
    assert not auth.locked_out(conn, login)
    if login == "zhang":
        assert auth.authenticate(conn, login, password) is not None
    stored = conn.execute(text("SELECT DISTINCT login FROM login_failure")).scalars().all()
    assert stored == ([] if login == "zhang" else [login])  # a success forgets the failures


def test_failures_spread_over_more_than_the_window_do_not_lock(
    conn: Connection, accounts: dict[str, str]
) -> None:
    for _ in range(4):
        auth.authenticate(conn, "zhang", "wrong password")
    age(conn, 16)
    auth.authenticate(conn, "zhang", "wrong password")
    assert not auth.locked_out(conn, "zhang")
    assert auth.authenticate(conn, "zhang", accounts["zhang"]) is not None


def test_a_session_outlives_a_reload_until_it_ends(
    conn: Connection, accounts: dict[str, str]
) -> None:
    user = auth.authenticate(conn, "zhang", accounts["zhang"])
    token = auth.start_session(conn, user)
    stored = conn.execute(text("SELECT token_hash, expires_at FROM app_session")).one()
    assert token not in stored.token_hash  # only its hash is kept
    assert timedelta(hours=11.9) < stored.expires_at - datetime.now(UTC) <= timedelta(hours=12)
    assert auth.session_user(conn, token) == user
    assert auth.session_user(conn, token + "x") is None
    assert auth.session_user(conn, "") is None
    assert auth.session_user(conn, None) is None
    auth.end_session(conn, token)
    assert auth.session_user(conn, token) is None


def test_disabling_or_a_new_password_ends_the_sessions(
    conn: Connection, accounts: dict[str, str]
) -> None:
    user = auth.authenticate(conn, "zhang", accounts["zhang"])
    first, second = auth.start_session(conn, user), auth.start_session(conn, user)
    auth.set_password(conn, "zhang")
    assert auth.session_user(conn, first) is None
    assert auth.session_user(conn, second) is None
    third = auth.start_session(conn, user)
    auth.disable_user(conn, "zhang")
    assert auth.session_user(conn, third) is None


def test_sessions_expire_and_the_wall_lasts_longer(
    conn: Connection, accounts: dict[str, str]
) -> None:
    screen = auth.authenticate(conn, "screen", accounts["screen"])
    token = auth.start_session(conn, screen)
    expires = conn.execute(text("SELECT expires_at FROM app_session")).scalar_one()
    assert expires - datetime.now(UTC) > timedelta(days=29)
    conn.execute(text("UPDATE app_session SET expires_at = now() - interval '1 second'"))
    assert auth.session_user(conn, token) is None
