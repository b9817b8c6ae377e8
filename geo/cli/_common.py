"""What every ``wangge`` command shares: the consoles, one-line errors, the database.

Kept apart from :mod:`geo.cli` so that the sub-command modules (``geo/cli/_*.py``) and
``geo.cli`` can import it without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine

from geo.errors import WanggeError

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
