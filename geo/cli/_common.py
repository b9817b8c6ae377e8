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
from sqlalchemy import Engine

from geo.errors import WanggeError

out = Console()
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit code 1."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except (WanggeError, DBAPIError, FileNotFoundError) as exc:
        if os.environ.get("WANGGE_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {message}", highlight=False)
        raise typer.Exit(1) from None


def say(message: str) -> None:
    out.print(f"[dim]·[/] {message}", highlight=False)


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
