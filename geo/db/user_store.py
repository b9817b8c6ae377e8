"""Statements of ``app_user`` (the local accounts), ``app_session`` (browser sessions) and
``login_failure`` (the log-in rate limit); :mod:`geo.auth` holds the rules.

None of them is under row-level security (a login is looked up before anyone's scope is
known); the app login may read and write them, the wall login may not touch them.
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


# ------------------------------------------------------------------------ browser sessions


def insert_session(conn: Connection, login: str, token_hash: str, expires_at: datetime) -> None:
    """Record a session of ``login`` (the SHA-256 of its token, never the token)."""
    conn.execute(
        text(
            "INSERT INTO app_session (token_hash, user_id, expires_at) "
            "SELECT :hash, id, :expires FROM app_user WHERE login = :login"
        ),
        {"hash": token_hash, "expires": expires_at, "login": login},
    )


def user_by_session(conn: Connection, token_hash: str) -> UserRow | None:
    """The active account of a live session (not revoked, not expired), or None."""
    row = conn.execute(
        text(
            f"SELECT {', '.join('u.' + c for c in _COLUMNS.split(', '))} "
            "FROM app_session s JOIN app_user u ON u.id = s.user_id "
            "WHERE s.token_hash = :hash AND s.revoked_at IS NULL AND s.expires_at > now() "
            "AND u.active"
        ),
        {"hash": token_hash},
    ).one_or_none()
    return None if row is None else UserRow(*row)


def revoke_session(conn: Connection, token_hash: str) -> None:
    """End one session (kept, marked revoked)."""
    conn.execute(
        text(
            "UPDATE app_session SET revoked_at = now() "
            "WHERE token_hash = :hash AND revoked_at IS NULL"
        ),
        {"hash": token_hash},
    )


def revoke_sessions(conn: Connection, login: str) -> int:
    """End every live session of ``login``; returns how many."""
    done = conn.execute(
        text(
            "UPDATE app_session SET revoked_at = now() WHERE revoked_at IS NULL "
            "AND user_id = (SELECT id FROM app_user WHERE login = :login)"
        ),
        {"login": login},
    )
    return done.rowcount


# ------------------------------------------------------------------- the login rate limit


def locked_until(conn: Connection, login: str) -> datetime | None:
    """When the lock on the login name ``login`` ends, if it is locked now."""
    return conn.execute(
        text(
            "SELECT max(locked_until) FROM login_failure "
            "WHERE login = :login AND locked_until > now()"
        ),
        {"login": login},
    ).scalar_one()


def record_failure(
    conn: Connection, login: str, *, max_failures: int, window_s: float, lock_s: float
) -> datetime | None:
    """Record a failed log-in of the name ``login``; when it makes ``max_failures`` within
    ``window_s`` seconds, lock the name for ``lock_s`` seconds.  Returns the lock's end, or
    None.  Failures older than a day are forgotten on the way."""
    conn.execute(text("DELETE FROM login_failure WHERE failed_at < now() - interval '1 day'"))
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:login))"), {"login": login})
    return conn.execute(
        text(
            "INSERT INTO login_failure (login, locked_until) "
            "SELECT :login, CASE WHEN count(*) + 1 >= :max "
            "THEN now() + make_interval(secs => :lock) END "
            "FROM login_failure "
            "WHERE login = :login AND failed_at > now() - make_interval(secs => :window) "
            "RETURNING locked_until"
        ),
        {"login": login, "lock": lock_s, "window": window_s, "max": max_failures},
    ).scalar_one()


def clear_failures(conn: Connection, login: str) -> None:
    """Forget the failed log-ins of ``login`` (after a successful one)."""
    conn.execute(text("DELETE FROM login_failure WHERE login = :login"), {"login": login})
