"""What every ``wangge`` command shares: the consoles, one-line errors, the database URL.

Kept apart from :mod:`geo.cli` so that the sub-command modules (``geo/cli/_*.py``) and
``geo.cli`` can import it without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

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


def database_url() -> str:
    from geo.db import migrate, provision

    url = provision.ensure_database(say=say)
    if not migrate.is_current(url):
        say("migrating the database to the newest schema")
        migrate.upgrade(url)
    return url
