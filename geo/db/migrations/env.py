"""Alembic environment for Wangge, wired with GeoAlchemy2's helpers.

Migrations run as the schema's owner role ``wangge_owner`` (``SET LOCAL ROLE``) when the
connected role may become it (a superuser, docs/security.md), so every table, view and
function belongs to the owner; and in the system scope ``'*'``, so a data step sees every
row despite row-level security.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from geo.db import roles
from geo.db.all_models import Base
from geo.db.scope import SYSTEM, scope
from geo.db.session import get_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or get_engine(config.get_main_option("sqlalchemy.url"))
    with scope(SYSTEM), engine.connect() as connection:
        roles.become_owner(connection)  # begins the one transaction of this run
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=alembic_helpers.include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
