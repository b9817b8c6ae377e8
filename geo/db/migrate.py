"""Alembic migrations driven from Python (``wangge db upgrade`` and the tests).

The migration scripts live in ``geo/db/migrations`` inside the package, so an installed
``geo`` can migrate a database without an ``alembic.ini`` in the working directory.

Migrate with an admin URL (``WANGGE_ADMIN_URL``, :attr:`geo.settings.Settings.admin_database_url`):
:func:`upgrade` first makes sure the roles exist and the owner may create in the schema
(:mod:`geo.db.roles`), and the migrations then run as the owner role.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from geo.db import roles
from geo.db.session import get_engine
from geo.errors import DatabaseError
from geo.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic :class:`Config` pointing at Wangge's migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = get_engine(url)
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    """The migration scripts of this checkout (read once per process)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def prepare(url: str | None = None) -> None:
    """Roles and ownership before migrating (:func:`geo.db.roles.ensure_roles` and
    :func:`geo.db.roles.prepare_database`); a no-op for a connection that may not."""
    url = url or get_settings().admin_database_url
    roles.ensure_roles(url)
    roles.prepare_database(url)


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Migrate the database at ``url`` (default: the admin URL) up to ``revision`` (default:
    every newest head), as the owner role."""
    url = url or get_settings().admin_database_url
    prepare(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None, revision: str) -> None:
    """Migrate the database at ``url`` (None: the admin URL) down to ``revision``.

    There is no default revision: ``"base"`` (drop everything) must be asked for by name.
    A migration whose downgrade would lose data refuses (:class:`geo.errors.DatabaseError`)
    and leaves the database as it was.
    """
    url = url or get_settings().admin_database_url
    prepare(url)
    command.downgrade(alembic_config(url), revision)


def current_revisions(url: str | None = None) -> set[str]:
    """The revisions the database at ``url`` is at (empty when it was never migrated)."""
    with get_engine(url).connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    """The newest revision(s) among the migration scripts (one, unless branches are open)."""
    return set(_scripts().get_heads())


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


def is_current(url: str | None = None) -> bool:
    """True when the database at ``url`` is at the newest schema.

    Raises
    ------
    DatabaseError
        When the database carries a revision these migration scripts do not know (it was
        migrated by a newer or another checkout of Wangge).
    """
    current, heads = current_revisions(url), head_revisions()
    scripts = _scripts()
    unknown = sorted(r for r in current if not _known(scripts, r))
    if unknown:
        raise DatabaseError(
            f"the database is at revision {', '.join(unknown)}, which this checkout does not "
            "know (migrated by another version of Wangge); use that version, or start over "
            "with `wangge db reset`"
        )
    return current == heads
