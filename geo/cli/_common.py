"""What every ``wangge`` command shares: the consoles, one-line errors, the database.

Kept apart from :mod:`geo.cli` so that the sub-command modules (``geo/cli/_*.py``) and
``geo.cli`` can import it without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine

from geo.errors import ConfigError, WanggeError

if TYPE_CHECKING:
    from geo import auth

#: Environment variables naming the account a command acts as, and its password (scripts).
USER_VARIABLE = "WANGGE_USER"
PASSWORD_VARIABLE = "WANGGE_PASSWORD"

out = Console()
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn failures into one line on stderr and a non-zero exit code, never a traceback.

    Expected failures (:class:`~geo.errors.WanggeError`, database errors, missing files,
    Alembic's unknown revisions) exit 1.  Anything else is a bug: it is still one line
    (saying so, exit 2); ``WANGGE_DEBUG=1`` shows the traceback of either.  Messages are
    printed as text: user text in them (names, notes, keys) is never read as Rich markup.
    """
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except typer.Exit:
        raise
    except (WanggeError, DBAPIError, FileNotFoundError, CommandError) as exc:
        if os.environ.get("WANGGE_DEBUG"):
            raise
        _error_line(f"{type(exc).__name__}: {_first_line(exc)}")
        raise typer.Exit(1) from None
    except Exception as exc:  # the promise is one line, never a traceback
        if os.environ.get("WANGGE_DEBUG"):
            raise
        _error_line(
            f"unexpected {type(exc).__name__}: {_first_line(exc)} (a bug in Wangge; "
            "WANGGE_DEBUG=1 shows the traceback)"
        )
        raise typer.Exit(2) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


def _error_line(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)


def say(message: str) -> None:
    """Print a progress note (``message`` is text, not markup)."""
    out.print(Text.assemble(("·", "dim"), " ", message), highlight=False)


_opened: list[Engine] = []


def start_invocation() -> None:
    """Typer callback of every command group: a new invocation opens the database afresh."""
    _opened.clear()


def engine(*, provision: bool = False) -> Engine:
    """The database of this invocation, opened once (:func:`geo.db.database.open_database`).

    Only ``db up`` and ``demo`` pass ``provision=True``; every other command connects to a
    database that is there, and says to run ``wangge db up`` when it is not.
    """
    if not _opened or provision:
        from geo.db.database import open_database

        _opened[:] = [open_database(provision_server=provision, say=say)]
    return _opened[0]


def acting_user(allowed_roles: Iterable[str], login: str | None = None) -> auth.User:
    """The account (``app_user``) this invocation acts as, logged in like on the dashboards.

    ``login`` (a command's ``--user``) or else ``WANGGE_USER`` names it; the password comes
    from ``WANGGE_PASSWORD`` (scripts) or else a hidden prompt.  The log-in is
    :func:`geo.auth.authenticate`'s: the same refusals, the same rate limit.  The account's
    role must be one of ``allowed_roles``.  Run the command's work inside
    ``geo.auth.as_user(user)`` (its row-level-security scope: a township user sees and
    moves its township's rows only) and record ``user.login`` as the actor::

        user = acting_user(("planner", "admin"), login=user_option)
        with auth.as_user(user):
            ...  # by=user.login

    Raises
    ------
    ConfigError
        No login given, a refused log-in (one message, never which part was wrong; another
        while the login is locked), or a role not in ``allowed_roles`` (listed).
    """
    from geo import auth  # argon2 work at import: only for commands that log in

    allowed = tuple(allowed_roles)
    name = (login or os.environ.get(USER_VARIABLE) or "").strip()
    if not name:
        raise ConfigError(
            f"say who acts: --user LOGIN or {USER_VARIABLE}=LOGIN (an account of "
            f"`wangge users list`; the password from {PASSWORD_VARIABLE} or a prompt)"
        )
    password = os.environ.get(PASSWORD_VARIABLE) or typer.prompt(
        f"password of {name}", hide_input=True, err=True
    )
    with engine().begin() as conn:  # commits a failure (rate limit) or a re-hash
        user = auth.authenticate(conn, name, password)
        locked = user is None and auth.locked_out(conn, name)
    if user is None:
        raise ConfigError(
            f"{name}: too many failed log-ins; try again in {auth.LOCK_FOR.seconds // 60} minutes"
            if locked
            else f"{name}: wrong login or password"
        )
    if user.role not in allowed:
        raise ConfigError(
            f"{name} has the role {user.role}; this command needs one of {', '.join(allowed)}"
        )
    return user
