"""Who is asking: the row-level-security scope of every transaction (docs/security.md).

PostgreSQL's policies on the personal tables (households, their colour history, visits,
incidents and their events, grid workers) read the per-transaction setting ``wangge.scope``
and fail closed: a transaction without it reads and writes none of those rows.  This module
sets it, from Python, at the start of every transaction:

- :func:`scope` is a context manager that makes a scope current (a contextvar, so threads
  and asyncio tasks each have their own)::

      with scope("640323101", login="li.wei"):   # a township official
          with engine.begin() as conn:
              ...                                 # sees that township only

- a SQLAlchemy ``begin`` hook (installed on every engine, :func:`install`) runs
  ``set_config('wangge.scope', <scope>, true)`` and ``set_config('wangge.login', <login>,
  true)`` as the first thing in each transaction.  ``true`` makes both local to that
  transaction, so a pooled connection never carries one user's scope into another's
  transaction; without a current scope the setting is set to ``''`` (no rows), which also
  masks anything a session may have ``SET`` by hand.

A scope is :data:`SYSTEM` (``'*'``: every row, for system jobs), an admin unit code (that
unit and everything under it: codes are hierarchical, a township's code is the prefix of its
villages' and households'), or :data:`NOBODY` (``''``: no personal rows).  Outside any
``with scope(...)``, the process default ``WANGGE_SCOPE`` applies (:mod:`geo.settings`);
the CLI sets it to :data:`SYSTEM` for its jobs and the worker processes they start
(:func:`set_process_scope`).  The scope is read when a transaction begins: entering another
scope inside an open transaction changes nothing until the next one.

Superusers and BYPASSRLS roles ignore all of this; the app refuses to connect as one
(:func:`geo.db.database.open_database`) unless ``WANGGE_ALLOW_SUPERUSER`` says otherwise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, event

from geo.errors import ConfigError
from geo.settings import get_settings

__all__ = [
    "NOBODY",
    "SYSTEM",
    "Scope",
    "current",
    "effective",
    "install",
    "scope",
    "set_process_scope",
]

#: Every row: system jobs (loads, synthetic data, grid builds, migrations).
SYSTEM = "*"
#: No personal rows at all (the wall's app session, a page before login).
NOBODY = ""
#: The environment variable of the process default (:attr:`Settings.default_scope`).
SCOPE_VARIABLE = "WANGGE_SCOPE"
_CODE = re.compile(r"[0-9A-Za-z_-]{1,32}")


@dataclass(frozen=True)
class Scope:
    """A row-level-security scope and who acts in it.

    Attributes
    ----------
    code : str
        :data:`SYSTEM`, :data:`NOBODY` or an admin unit code (county, township, village).
    login : str | None
        The logged-in user (``app_user.login``), or None for a system job; readable in SQL
        as ``current_setting('wangge.login', true)`` and meant for actors recorded on
        incidents and plans.
    """

    code: str
    login: str | None = None

    def __post_init__(self) -> None:
        check_code(self.code)


_current: ContextVar[Scope | None] = ContextVar("wangge_scope", default=None)


def check_code(code: str) -> str:
    """``code`` if it is a valid scope, else :class:`ConfigError` listing what is allowed."""
    if not isinstance(code, str) or not (code in (SYSTEM, NOBODY) or _CODE.fullmatch(code)):
        raise ConfigError(
            f"scope {code!r} is not valid: use '*' (everything), '' (nothing) or an admin "
            "unit code (letters, digits, '_' or '-', at most 32)"
        )
    return code


@contextmanager
def scope(code: str, *, login: str | None = None) -> Iterator[Scope]:
    """Make ``code`` (and ``login``) the scope of transactions begun inside the block.

    Raises
    ------
    ConfigError
        ``code`` is not :data:`SYSTEM`, :data:`NOBODY` or an admin unit code.
    """
    token = _current.set(Scope(code, login))
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


def current() -> Scope | None:
    """The scope of the innermost ``with scope(...)``, or None outside any."""
    return _current.get()


def effective() -> Scope:
    """The scope a transaction begun now gets: the current one, else the process default
    (``WANGGE_SCOPE``), else :data:`NOBODY`."""
    found = _current.get()
    if found is not None:
        return found
    default = get_settings().default_scope
    return Scope(check_code(default)) if default else Scope(NOBODY)


def set_process_scope(code: str) -> None:
    """Make ``code`` the default scope of this process and of processes it starts later
    (it is written to ``WANGGE_SCOPE``); :data:`NOBODY` removes the default."""
    check_code(code)
    if code == NOBODY:
        os.environ.pop(SCOPE_VARIABLE, None)
    else:
        os.environ[SCOPE_VARIABLE] = code


def _on_begin(conn: Connection) -> None:
    """First statement of every transaction: the scope and login, local to it."""
    if conn.dialect.name != "postgresql":
        return
    now = effective()
    dbapi = conn.connection.dbapi_connection
    with dbapi.cursor() as cursor:  # the DBAPI directly: no SQLAlchemy events re-entered
        cursor.execute(
            "SELECT set_config('wangge.scope', %s, true), set_config('wangge.login', %s, true)",
            (now.code, now.login or ""),
        )


def install() -> None:
    """Install the ``begin`` hook on every SQLAlchemy engine of this process (idempotent).

    Called when :mod:`geo.db.session` is imported, so engines made by
    :func:`geo.db.session.get_engine` and by ``create_engine`` elsewhere (a dashboard's own
    engine, a Dask worker's) all set the scope.  Engines in ``AUTOCOMMIT`` mode carry none
    (there is no transaction to hold it): use a normal engine for personal tables.
    """
    if not event.contains(Engine, "begin", _on_begin):
        event.listen(Engine, "begin", _on_begin)
