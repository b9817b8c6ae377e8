"""Statements of ``app_user``: the local accounts (:mod:`geo.auth` holds the rules).

``app_user`` is not under row-level security (a login is looked up before anyone's scope is
known); the app login may read and write it, the wall login may not touch it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, text


class UserRow(NamedTuple):
    """One row of ``app_user``."""

    id: int
    login: str
    password_hash: str
    role: str
    township_code: str | None
    active: bool
    created_at: datetime


_COLUMNS = "id, login, password_hash, role, township_code, active, created_at"


def user_by_login(conn: Connection, login: str) -> UserRow | None:
    """The account ``login``, or None."""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM app_user WHERE login = :login"), {"login": login}
    ).one_or_none()
    return None if row is None else UserRow(*row)


def all_users(conn: Connection) -> list[UserRow]:
    """Every account, by login."""
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM app_user ORDER BY login"))
    return [UserRow(*r) for r in rows]


def insert_user(
    conn: Connection, login: str, password_hash: str, role: str, township_code: str | None
) -> UserRow:
    """Add an active account; the database refuses a login that exists (IntegrityError)."""
    row = conn.execute(
        text(
            "INSERT INTO app_user (login, password_hash, role, township_code) "
            f"VALUES (:login, :hash, :role, :township) RETURNING {_COLUMNS}"
        ),
        {"login": login, "hash": password_hash, "role": role, "township": township_code},
    ).one()
    return UserRow(*row)


def set_password_hash(
    conn: Connection, login: str, password_hash: str, *, activate: bool = False
) -> bool:
    """Replace ``login``'s hash (and make it active when ``activate``); False if no account."""
    done = conn.execute(
        text(
            "UPDATE app_user SET password_hash = :hash, active = active OR :activate "
            "WHERE login = :login"
        ),
        {"login": login, "hash": password_hash, "activate": activate},
    )
    return done.rowcount == 1


def set_active(conn: Connection, login: str, active: bool) -> bool:
    """Turn ``login`` on or off; False if there is no such account."""
    done = conn.execute(
        text("UPDATE app_user SET active = :active WHERE login = :login"),
        {"login": login, "active": active},
    )
    return done.rowcount == 1


def township_exists(conn: Connection, code: str) -> bool:
    """Whether ``code`` is a township in ``admin_unit``."""
    found = conn.execute(
        text("SELECT 1 FROM admin_unit WHERE code = :c AND level = 'township'"), {"c": code}
    ).first()
    return found is not None


def first_township(conn: Connection, county_code: str) -> str | None:
    """The county's township with the smallest code, or None when it has none."""
    return conn.execute(
        text("SELECT min(code) FROM admin_unit WHERE level = 'township' AND parent_code = :c"),
        {"c": county_code},
    ).scalar_one()
