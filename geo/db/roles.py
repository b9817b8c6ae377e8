"""Wangge's PostgreSQL roles: created by provisioning, never by the app (docs/security.md).

- :data:`~geo.settings.OWNER_ROLE` (``wangge_owner``, NOLOGIN) owns the schema: tables,
  views, functions.  Migrations run as it (``SET LOCAL ROLE`` in the Alembic environment).
- :data:`~geo.settings.APP_ROLE` (``wangge_app``, LOGIN, NOSUPERUSER, NOBYPASSRLS) is what
  the app, the CLI and the dashboards connect as; row-level security applies to it.
- :data:`~geo.settings.WALL_ROLE` (``wangge_wall``, LOGIN) may read only the wall's
  aggregate views, whose small counts are blanked inside the database.

Roles are cluster-wide while grants are per database: :func:`ensure_roles` creates and
corrects the roles (idempotent, and safe when several databases are set up at once: a
concurrent creation or change is retried), :func:`prepare_database` lets the owner create
in ``public`` and hands it the objects an earlier, pre-roles Wangge created as another role.
The grants on tables and the policies are in the migrations (``0008``).  Both functions need
an admin connection (a superuser, or a role with CREATEROLE for :func:`ensure_roles`); with a
lesser one they do nothing and say so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from geo.errors import DatabaseError
from geo.settings import APP_ROLE, OWNER_ROLE, WALL_ROLE, Settings, get_settings

Say = Callable[[str], None]

#: Attributes every Wangge role must have (none may bypass row-level security).
_COMMON = ("NOSUPERUSER", "NOBYPASSRLS", "NOCREATEDB", "NOCREATEROLE", "NOREPLICATION")
#: (role, may log in) in creation order.
ROLES: tuple[tuple[str, bool], ...] = ((OWNER_ROLE, False), (APP_ROLE, True), (WALL_ROLE, True))
#: SQLSTATEs of a role created or changed by a concurrent session: retry.
_RACES = {"42710", "23505", "XX000", "40001", "40P01"}


def _quiet(_: str) -> None:
    return None


def libpq_url(url: str) -> str:
    """libpq URI of the SQLAlchemy ``url`` (psycopg connects with it)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _privileges(conn: psycopg.Connection) -> tuple[bool, bool]:
    """(superuser, may create roles) of the connected role."""
    row = conn.execute(
        "SELECT rolsuper, rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return (bool(row[0]), bool(row[1])) if row else (False, False)


def _ensure_role(conn: psycopg.Connection, name: str, login: bool) -> str | None:
    """Create role ``name`` or correct its attributes; what was done, or None."""
    attributes = sql.SQL(" ").join(sql.SQL(a) for a in ("LOGIN" if login else "NOLOGIN", *_COMMON))
    for attempt in range(8):
        try:
            row = conn.execute(
                "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, "
                "rolreplication FROM pg_roles WHERE rolname = %s",
                (name,),
            ).fetchone()
            if row is None:
                conn.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(name), attributes))
                return f"created role {name}"
            if tuple(row) != (login, False, False, False, False, False):
                conn.execute(sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(name), attributes))
                return f"corrected the attributes of role {name}"
            return None
        except psycopg.Error as exc:
            if exc.sqlstate not in _RACES or attempt == 7:
                raise
            time.sleep(0.05 * (attempt + 1))  # another session created or changed it
    return None


def _set_password(conn: psycopg.Connection, name: str, password: str) -> None:
    """Set ``name``'s password as a SCRAM verifier computed here (no clear text is sent)."""
    verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(verifier.decode())
        )
    )


def ensure_roles(
    url: str | None = None, *, settings: Settings | None = None, say: Say = _quiet
) -> bool:
    """Create the three roles if missing and correct their attributes (idempotent).

    Passwords ``WANGGE_APP_PASSWORD`` / ``WANGGE_WALL_PASSWORD`` are set when given.

    Parameters
    ----------
    url : str, optional
        An admin URL (default :attr:`Settings.admin_database_url`).

    Returns
    -------
    bool
        False when the connected role may not create roles (nothing was done).
    """
    settings = settings or get_settings()
    url = url or settings.admin_database_url
    with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5) as conn:
        if not _privileges(conn)[1]:
            say("the admin connection may not create roles: roles left as they are")
            return False
        for name, login in ROLES:
            done = _ensure_role(conn, name, login)
            if done:
                say(done)
        for name, password in ((APP_ROLE, settings.app_password),
                               (WALL_ROLE, settings.wall_password)):  # fmt: skip
            if password:
                _set_password(conn, name, password)
    return True


def roles_exist(conn: psycopg.Connection) -> bool:
    """True when all three Wangge roles exist on the server."""
    names = [name for name, _ in ROLES]
    row = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (names,)).fetchone()
    return row is not None and row[0] == len(names)


#: Objects in ``public`` that are not the owner's and not part of an extension (PostGIS).
_FOREIGN_OBJECTS = """
SELECT 'TABLE' AS kind, c.oid::regclass::text AS name
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
  AND c.relowner <> %(owner)s::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT 'SEQUENCE', c.oid::regclass::text
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
  AND c.relowner <> %(owner)s::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('e', 'a'))
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> %(owner)s::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
"""


def prepare_database(url: str, *, say: Say = _quiet) -> bool:
    """Let :data:`OWNER_ROLE` create in schema ``public`` of the database at ``url`` and own
    what is there (tables, views, sequences, functions; extensions' objects stay as they
    are).  Needs a superuser; idempotent.

    Returns
    -------
    bool
        False when the connection is not a superuser's or the roles are missing (nothing
        was done; migrations then run as the connected role).
    """
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        if not _privileges(conn)[0] or not roles_exist(conn):
            return False
        owner = sql.Identifier(OWNER_ROLE)
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(owner))
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}, {}").format(
                sql.Identifier(APP_ROLE), sql.Identifier(WALL_ROLE)
            )
        )
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}, {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE), sql.Identifier(WALL_ROLE)
            )
        )
        moved = conn.execute(_FOREIGN_OBJECTS, {"owner": OWNER_ROLE}).fetchall()
        for kind, name in moved:
            # ``name`` comes from regclass/regprocedure output: already quoted as needed.
            conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(kind), sql.SQL(name), owner))  # fmt: skip
        if moved:
            say(f"{len(moved)} objects of {database} now owned by {OWNER_ROLE}")
    return True


def become_owner(conn: Connection) -> bool:
    """Make the rest of ``conn``'s transaction run as :data:`OWNER_ROLE` (``SET LOCAL ROLE``),
    when the role exists and the connected role may become it (a superuser or a member).

    What migrations call, so that the schema belongs to the owner; it begins a transaction.
    Returns whether the role was changed.
    """
    may = conn.execute(
        text(
            "SELECT CASE WHEN current_user = :o THEN false "
            "WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :o) THEN false "
            "ELSE pg_has_role(current_user, :o, 'MEMBER') END"
        ),
        {"o": OWNER_ROLE},
    ).scalar_one()
    if may:
        conn.execute(text(f'SET LOCAL ROLE "{OWNER_ROLE}"'))  # a constant, not user input
    return bool(may)


def sync_settings(url: str, *, settings: Settings | None = None) -> None:
    """Write the settings the database itself applies (``app_setting``: the wall views'
    suppression threshold ``WANGGE_SUPPRESS_BELOW``) from :mod:`geo.settings`."""
    settings = settings or get_settings()
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass('app_setting')").fetchone()[0]
        if exists is None:
            raise DatabaseError("the database has no app_setting table: run `wangge db up`")
        conn.execute(
            "INSERT INTO app_setting (name, value) VALUES ('suppress_below', %s) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (str(settings.suppress_below),),
        )
