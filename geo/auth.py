"""Users and roles as data: passwords, log-in, and what each role may see (docs/security.md).

Accounts live in ``app_user`` (:mod:`geo.db.user_store` holds the statements).  Passwords
are hashed with argon2id (``argon2-cffi``'s defaults, re-hashed on log-in when those
change).  A logged-in :class:`User` turns into a row-level-security scope::

    user = geo.auth.authenticate(conn, login, password)   # None: refused, never why
    if user is not None:
        with geo.auth.as_user(user):                       # every transaction in the block
            ...                                            # sees only what user may see

A browser keeps its login across reloads with a session (:func:`start_session`): a random
token for its cookie, stored only as its SHA-256, ended by :func:`end_session`, by
disabling the account or by changing its password.  Log-ins are rate-limited per login
name, known or not: :data:`MAX_FAILURES` failures within :data:`LOCK_WINDOW` lock the name
for :data:`LOCK_FOR` (:func:`locked_out`), and a locked name is refused even with the right
password.

Roles (:data:`ROLES`): ``wall`` (aggregates only: its scope reads no personal row; the wall
reads the ``wall_*`` views through the wall login), ``township`` (its township's rows),
``centre``, ``planner``, ``analyst``, ``admin`` (the whole database, or the unit in
``township_code`` when one is given).  Which pages a role sees is the dashboards' business.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from geo.db import user_store
from geo.db.models_auth import LOGIN_PATTERN, USER_ROLES
from geo.db.scope import NOBODY, SYSTEM, Scope, scope
from geo.errors import ConfigError, DataError
from geo.settings import get_settings

__all__ = [
    "LOCK_FOR",
    "LOCK_WINDOW",
    "MAX_FAILURES",
    "ROLES",
    "User",
    "add_user",
    "as_user",
    "authenticate",
    "check_role",
    "create_demo_users",
    "disable_user",
    "end_session",
    "generate_password",
    "hash_password",
    "list_users",
    "locked_out",
    "scope_of",
    "session_lifetime",
    "session_user",
    "set_password",
    "start_session",
    "verify_password",
]

#: The roles a user may have.
ROLES = USER_ROLES
#: Shortest password accepted (characters).
MIN_PASSWORD = 10
#: Failed log-ins of one login name within :data:`LOCK_WINDOW` that lock it for
#: :data:`LOCK_FOR`.
MAX_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)

_hasher = PasswordHasher()
#: Verified against when a login is unknown, so that it takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A logged-in (or listed) account; never holds the password or its hash.

    Attributes
    ----------
    login : str
    role : str
        One of :data:`ROLES`.
    township_code : str | None
        The township of a ``township`` user; for other roles an optional narrower scope.
    active : bool
    created_at : datetime
    """

    login: str
    role: str
    township_code: str | None
    active: bool
    created_at: datetime

    @property
    def scope(self) -> str:
        """The row-level-security scope of this user (:func:`scope_of`)."""
        return scope_of(self)


def _user(row: user_store.UserRow) -> User:
    return User(row.login, row.role, row.township_code, row.active, row.created_at)


def check_role(role: str, township_code: str | None = None) -> str:
    """``role`` if it is one of :data:`ROLES` (and a ``township`` role names its township).

    Raises
    ------
    ConfigError
        Unknown role (the message lists the roles), or role ``township`` without a code.
    """
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "township" and not township_code:
        raise ConfigError("role township needs its township: pass --township CODE")
    return role


def scope_of(user: User) -> str:
    """The row-level-security scope of ``user``: nothing for ``wall`` or an inactive user,
    the township for ``township``, else ``township_code`` if given, else everything."""
    if not user.active or user.role == "wall":
        return NOBODY
    if user.role == "township" or user.township_code:
        return user.township_code or NOBODY
    return SYSTEM


@contextmanager
def as_user(user: User) -> Iterator[Scope]:
    """Run the block as ``user``: every transaction begun inside it carries the user's
    scope and login (:func:`geo.db.scope.scope`)."""
    with scope(scope_of(user), login=user.login) as current:
        yield current


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``.

    Raises
    ------
    ConfigError
        ``password`` is shorter than :data:`MIN_PASSWORD` characters.
    """
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for a malformed hash)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A fresh random password (16 URL-safe characters, about 96 bits)."""
    return secrets.token_urlsafe(12)


def _name(login: str) -> str:
    """A login as typed, normalised (and cut to the longest login there can be)."""
    return login.strip().lower()[:64]


def authenticate(conn: Connection, login: str, password: str) -> User | None:
    """The active user ``login`` if ``password`` is theirs, else None.

    An unknown login, a disabled account, a wrong password and a locked login name
    (:func:`locked_out`) all give None after the same argon2 work, so neither the answer
    nor its timing says which part was wrong.  A failure is recorded against the name,
    known or not (:data:`MAX_FAILURES` within :data:`LOCK_WINDOW` lock it); a success
    forgets the name's failures.  A correct password whose hash uses outdated parameters is
    re-hashed.  All in ``conn``'s transaction: commit it (``engine.begin()``).
    """
    name = _name(login or "")
    if name and user_store.locked_until(conn, name) is not None:
        verify_password(_DUMMY_HASH, password)  # the same work as any other refusal
        return None
    row = user_store.user_by_login(conn, name) if name else None
    ok = verify_password(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not ok or not row.active:
        if name:
            user_store.record_failure(
                conn,
                name,
                max_failures=MAX_FAILURES,
                window_s=LOCK_WINDOW.total_seconds(),
                lock_s=LOCK_FOR.total_seconds(),
            )
        return None
    user_store.clear_failures(conn, name)
    if _hasher.check_needs_rehash(row.password_hash):
        user_store.set_password_hash(conn, row.login, _hasher.hash(password))
    return _user(row)


def locked_out(conn: Connection, login: str) -> bool:
    """Whether the login name ``login`` is locked now (too many failed log-ins), whether
    or not an account of that name exists."""
    name = _name(login or "")
    return bool(name) and user_store.locked_until(conn, name) is not None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_lifetime(user: User) -> timedelta:
    """How long a browser session of ``user`` lasts: ``WANGGE_SESSION_HOURS`` (12 h), or
    ``WANGGE_WALL_SESSION_DAYS`` (30 days) for a ``wall`` account."""
    settings = get_settings()
    if user.role == "wall":
        return timedelta(days=settings.wall_session_days)
    return timedelta(hours=settings.session_hours)


def start_session(conn: Connection, user: User) -> str:
    """A new browser session of ``user`` for :func:`session_lifetime`; returns its token
    (for the browser's cookie: the database keeps only its SHA-256)."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + session_lifetime(user)
    user_store.insert_session(conn, user.login, _token_hash(token), expires)
    return token


def session_user(conn: Connection, token: str | None) -> User | None:
    """The user of the live session ``token`` (not ended, not expired, account active),
    else None."""
    if not token or len(token) > 256:
        return None
    row = user_store.user_by_session(conn, _token_hash(token))
    return None if row is None else _user(row)


def end_session(conn: Connection, token: str | None) -> None:
    """End the session ``token`` (logging out); nothing when there is none."""
    if token and len(token) <= 256:
        user_store.revoke_session(conn, _token_hash(token))


def _check_login(login: str) -> str:
    if not re.fullmatch(LOGIN_PATTERN, login):
        raise ConfigError(
            f"login {login!r} is not valid: 2 to 64 lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    return login


def add_user(
    conn: Connection,
    login: str,
    *,
    role: str,
    township_code: str | None = None,
    password: str | None = None,
) -> tuple[User, str]:
    """Add an active account; returns it and its password (``password`` or a generated one).

    Raises
    ------
    ConfigError
        Bad login, role or password, or a township code that is not a township.
    DataError
        The login exists already.
    """
    _check_login(login)
    check_role(role, township_code)
    if township_code and not user_store.township_exists(conn, township_code):
        raise ConfigError(f"{township_code!r} is not a township in the database")
    if user_store.user_by_login(conn, login) is not None:
        raise DataError(f"user {login!r} exists already; use `wangge users passwd {login}`")
    password = password or generate_password()
    row = user_store.insert_user(conn, login, hash_password(password), role, township_code)
    return _user(row), password


def set_password(conn: Connection, login: str, password: str | None = None) -> str:
    """Give ``login`` a new password (``password`` or a generated one); returns it.  The
    account's browser sessions end.

    Raises
    ------
    DataError
        No such user.
    """
    password = password or generate_password()
    if not user_store.set_password_hash(conn, login, hash_password(password)):
        raise DataError(f"no user {login!r}; see `wangge users list`")
    user_store.revoke_sessions(conn, login)
    return password


def disable_user(conn: Connection, login: str) -> None:
    """Turn ``login`` off: it can no longer log in, and its browser sessions end (the row
    stays for the record).

    Raises
    ------
    DataError
        No such user.
    """
    if not user_store.set_active(conn, login, False):
        raise DataError(f"no user {login!r}; see `wangge users list`")
    user_store.revoke_sessions(conn, login)


def list_users(conn: Connection) -> list[User]:
    """Every account, by login."""
    return [_user(r) for r in user_store.all_users(conn)]


def create_demo_users(conn: Connection, county_code: str) -> dict[str, str]:
    """One active demo account per role (``demo-<role>``), with fresh passwords.

    The township user gets the county's first township.  Accounts that exist get a new
    password and are re-activated, so the returned passwords always work.  Returns
    ``{login: password}``, to be shown once.

    Raises
    ------
    DataError
        The county has no township.
    """
    township = user_store.first_township(conn, county_code)
    if township is None:
        raise DataError(f"county {county_code!r} has no township for the demo township user")
    made: dict[str, str] = {}
    for role in ROLES:
        login = f"demo-{role}"
        password = generate_password()
        hashed = hash_password(password)
        if not user_store.set_password_hash(conn, login, hashed, activate=True):
            scope_code = township if role == "township" else None
            user_store.insert_user(conn, login, hashed, role, scope_code)
        made[login] = password
    return made
