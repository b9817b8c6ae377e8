"""Engines and sessions.

One engine per URL per process (cached), psycopg 3 as the driver.  ``session_scope`` wraps a
unit of work in a transaction: committed on success, rolled back on any error.

Importing this module installs the row-level-security hook of :mod:`geo.db.scope`: every
transaction of every engine begins by setting ``wangge.scope`` (and ``wangge.login``) local
to it, from the current ``with scope(...)`` or the process default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from geo.db import scope
from geo.settings import get_settings

scope.install()


def normalise_url(url: str) -> str:
    """``url`` with the psycopg 3 driver (``postgresql+psycopg://``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, future=True)


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: :attr:`geo.settings.Settings.url`), cached per URL.

    Its transactions carry the current row-level-security scope (:mod:`geo.db.scope`).
    """
    scope.install()
    return _engine(normalise_url(url or get_settings().url))


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in a transaction: commit on success, roll back and re-raise on error."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
