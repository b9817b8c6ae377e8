"""Open Wangge's database: the one place that decides whether to provision.

``open_database()`` connects to :attr:`~geo.settings.Settings.url` (``DATABASE_URL``, or the
local ``wangge`` database as the application login ``wangge_app``) and checks that it is
reachable, that it is not a superuser (or BYPASSRLS) login -- row-level security would not
apply -- unless ``WANGGE_ALLOW_SUPERUSER`` is set, and that it is at the newest schema; it
never installs, starts or migrates anything.  ``open_database(provision_server=True)`` --
what ``wangge db up`` and ``wangge demo`` do -- first makes sure, through the admin URL
(``WANGGE_ADMIN_URL``), that the local server runs and the database exists
(:mod:`geo.db.provision`), that the roles exist (:mod:`geo.db.roles`), and migrates the
database to the newest schema (:mod:`geo.db.migrate`).

Either way the process then runs in the given row-level-security scope (default
:data:`~geo.db.scope.SYSTEM`, ``'*'``: the CLI's jobs are system jobs), which processes it
starts inherit (:func:`geo.db.scope.set_process_scope`).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from geo.db import migrate, provision, roles
from geo.db.scope import SYSTEM, set_process_scope
from geo.db.session import get_engine
from geo.errors import DatabaseError
from geo.settings import APP_ROLE, Settings, get_settings

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """Default progress callback: say nothing."""


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True).split("@")[-1]


def provision_database(settings: Settings | None = None, *, say: Say = _quiet) -> str:
    """Server, database, roles, schema and database-side settings, all through the admin
    URL; idempotent.  Returns the admin URL of the database."""
    settings = settings or get_settings()
    provision.ensure_database(settings, say=say)  # says "provisioning nothing" for a URL
    admin = settings.admin_database_url
    roles.ensure_roles(admin, settings=settings, say=say)
    if not migrate.is_current(admin):
        say("migrating the database to the newest schema")
        migrate.upgrade(admin)
    else:
        roles.prepare_database(admin, say=say)
    roles.sync_settings(admin, settings=settings)
    return admin


def reachable_engine(url: str | None = None) -> Engine:
    """The engine of ``url`` (default: the app's URL) once a connection to it worked.

    Raises
    ------
    DatabaseError
        One line: where, why, and to run ``wangge db up`` or set ``DATABASE_URL``.
    """
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseError(
            f"cannot reach the database {_where(engine)} ({reason}); run `wangge db up` to set "
            "up the local server (and `wangge demo` for a demo county), or point DATABASE_URL "
            "at a PostGIS database"
        ) from None
    return engine


def refuse_superuser(engine: Engine, settings: Settings | None = None) -> None:
    """Raise :class:`DatabaseError` when ``engine`` logs in as a superuser or a BYPASSRLS
    role and ``WANGGE_ALLOW_SUPERUSER`` is not set."""
    settings = settings or get_settings()
    if settings.allow_superuser:
        return
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).one()
    if row.rolsuper or row.rolbypassrls:
        kind = "a superuser" if row.rolsuper else "a BYPASSRLS role"
        raise DatabaseError(
            f"the app's database login {row.current_user!r} is {kind}, which row-level "
            f"security does not restrict; refused: point DATABASE_URL at the app login "
            f"{APP_ROLE!r} (see docs/security.md), or set WANGGE_ALLOW_SUPERUSER=1 for "
            "development"
        )


def open_database(
    *, provision_server: bool = False, say: Say = _quiet, scope: str = SYSTEM
) -> Engine:
    """The engine of Wangge's database, reachable, safe and at the newest schema.

    Parameters
    ----------
    provision_server : bool
        False (default): connect only; a database that is unreachable or not migrated is an
        error that says what to run.  True: provision (:func:`provision_database`) first.
    say : callable, optional
        Receives one line per provisioning step (the CLI prints them).
    scope : str
        The row-level-security scope of this process from now on (default ``'*'``, the
        system scope of CLI jobs; see :mod:`geo.db.scope`).

    Raises
    ------
    DatabaseError
        The database cannot be reached, the app's login is a superuser (without
        ``WANGGE_ALLOW_SUPERUSER``), the database is not at the newest schema (without
        ``provision_server``), or it carries a revision this checkout does not know.
    """
    settings = get_settings()
    if provision_server:
        provision_database(settings, say=say)
    engine = reachable_engine(settings.url)
    refuse_superuser(engine, settings)
    try:
        current = migrate.is_current(settings.url)
    except DBAPIError:  # e.g. the app login may not read a schema older than its grants
        current = False
    if not current:
        raise DatabaseError(
            f"the database {_where(engine)} is not at the newest schema; run `wangge db up` "
            "(or `wangge db upgrade`) to migrate it"
        )
    set_process_scope(scope)
    return engine
