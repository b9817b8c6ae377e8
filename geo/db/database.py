"""Open Wangge's database: the one place that decides whether to provision.

``open_database()`` connects to ``DATABASE_URL`` (or the local ``wangge`` database) and checks
that it is reachable and at the newest schema; it never installs, starts or migrates
anything.  ``open_database(provision=True)`` -- what ``wangge db up`` and ``wangge demo`` do --
first makes sure the local server runs and the database exists (:mod:`geo.db.provision`),
then migrates it to the newest schema (:mod:`geo.db.migrate`).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from geo.db import migrate, provision
from geo.db.session import get_engine
from geo.errors import DatabaseError
from geo.settings import get_settings

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """Default progress callback: say nothing."""


def open_database(*, provision_server: bool = False, say: Say = _quiet) -> Engine:
    """The engine of Wangge's database, reachable and at the newest schema.

    Parameters
    ----------
    provision_server : bool
        False (default): connect only; a database that is unreachable or not migrated is an
        error that says what to run.  True: provision the local server and database when
        ``DATABASE_URL`` is unset, then migrate to the newest schema.
    say : callable, optional
        Receives one line per provisioning step (the CLI prints them).

    Raises
    ------
    DatabaseError
        The database cannot be reached, or is not at the newest schema (without
        ``provision_server``), or carries a revision this checkout does not know.
    """
    settings = get_settings()
    if provision_server:
        url = provision.ensure_database(settings, say=say)
        if not migrate.is_current(url):
            say("migrating the database to the newest schema")
            migrate.upgrade(url)
        return get_engine(url)
    engine = get_engine(settings.url)
    where = engine.url.render_as_string(hide_password=True).split("@")[-1]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseError(
            f"cannot reach the database {where} ({reason}); run `wangge db up` to set up the "
            "local server, or point DATABASE_URL at a PostGIS database"
        ) from None
    if not migrate.is_current(settings.url):
        raise DatabaseError(
            f"the database {where} is not at the newest schema; run `wangge db up` "
            "(or `wangge db upgrade`) to migrate it"
        )
    return engine
