"""Make sure a PostGIS server and the Wangge database are there and running.

With ``DATABASE_URL`` set, nothing is installed or started: the server named there is used
as it is (only the database's ``postgis`` extension is created if missing and allowed).

Without it, the local server at ``WANGGE_PG_HOST:WANGGE_PG_PORT`` (default 127.0.0.1:5432)
is used, and made to exist on a Debian machine with the distribution's packages:

1. installs ``postgresql`` and ``postgresql-<major>-postgis-3`` with apt when missing (root);
2. creates the cluster (``WANGGE_PG_CLUSTER``, default ``main``) when there is none, and
   starts it when it is down;
3. lets local loopback connections in with ``trust`` when the server refuses them (a cluster
   Wangge created itself on a development machine; said loudly when done);
4. creates the database and ``CREATE EXTENSION postgis``.

Each step is idempotent, so a second run only checks and returns in well under a second.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from geo.errors import DatabaseError
from geo.frames import County
from geo.settings import Settings, get_settings

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _conninfo(settings: Settings, database: str = "postgres") -> str:
    return (
        f"host={settings.pg_host} port={settings.pg_port} user={settings.pg_user} "
        f"dbname={database} connect_timeout=3"
    )


def _try_connect(settings: Settings, database: str = "postgres") -> str | None:
    """None when a connection works, else the server's or the network's error text."""
    try:
        with psycopg.connect(_conninfo(settings, database)):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip() or exc.__class__.__name__


def _run(cmd: list[str], say: Say) -> None:
    say("$ " + " ".join(cmd))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise DatabaseError(f"{' '.join(cmd)} failed ({done.returncode}): {' | '.join(tail)}")


def _majors() -> list[str]:
    """PostgreSQL major versions installed from Debian packages, newest first."""
    found = [Path(p).parent.parent.name for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")]
    return sorted(found, key=lambda v: int(v), reverse=True)


def _apt_install(packages: list[str], say: Say) -> None:
    if os.geteuid() != 0:
        raise DatabaseError(
            f"PostgreSQL/PostGIS is missing and installing {' '.join(packages)} needs root; "
            "install them, or set DATABASE_URL to an existing PostGIS database"
        )
    if shutil.which("apt-get") is None:
        raise DatabaseError("no apt-get here: set DATABASE_URL to an existing PostGIS database")
    _run(["apt-get", "update", "-qq"], say)
    _run(["apt-get", "install", "-y", "-qq", *packages], say)


def _ensure_packages(say: Say) -> str:
    majors = _majors()
    if not majors:
        say("PostgreSQL is not installed: installing the distribution's packages")
        _apt_install(["postgresql", "postgresql-contrib"], say)
        majors = _majors()
        if not majors:
            raise DatabaseError("apt installed postgresql but no server binary was found")
    major = majors[0]
    if not glob.glob(f"/usr/share/postgresql/{major}/extension/postgis.control"):
        say(f"PostGIS for PostgreSQL {major} is not installed: installing it")
        _apt_install([f"postgresql-{major}-postgis-3"], say)
    return major


def _cluster_status(major: str, cluster: str) -> str | None:
    """'online', 'down', or None when there is no cluster ``cluster`` of ``major``."""
    if shutil.which("pg_lsclusters") is None:
        return None
    out = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == major and parts[1] == cluster:
            return parts[3]
    return None


def _allow_loopback_trust(major: str, cluster: str, say: Say) -> None:
    hba = Path(f"/etc/postgresql/{major}/{cluster}/pg_hba.conf")
    if not hba.exists():
        raise DatabaseError(f"cannot find {hba} to let local connections in")
    lines = (
        "# Added by Wangge (geo.db.provision): trust loopback for local development.\n"
        "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
    )
    text = hba.read_text()
    if "Added by Wangge" not in text:
        hba.write_text(lines + text)
        say(f"NOTE: {hba} now trusts loopback connections (local development server)")
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", major, cluster, "reload"], say)


def _refused_login(error: str) -> bool:
    """True when the server is up but refused us (authentication), not unreachable."""
    return re.search(r"authentication|password", error) is not None


def _wait_for_server(settings: Settings, seconds: float = 30) -> str | None:
    deadline = time.monotonic() + seconds
    error = _try_connect(settings)
    while error and not _refused_login(error) and time.monotonic() < deadline:
        time.sleep(0.5)
        error = _try_connect(settings)
    return error


def ensure_server(settings: Settings | None = None, *, say: Say = _quiet) -> None:
    """Make sure the local server accepts connections and has PostGIS available.

    Raises
    ------
    DatabaseError
        When the server cannot be installed, started or reached; the message says why.
    """
    settings = settings or get_settings()
    error = _try_connect(settings)
    if error is None and _postgis_available(settings):
        return
    local = settings.pg_host in ("127.0.0.1", "localhost", "::1")
    if not local:
        raise DatabaseError(f"cannot reach PostgreSQL at {settings.pg_host}: {error}")
    major = _ensure_packages(say)
    cluster = settings.pg_cluster
    status = _cluster_status(major, cluster)
    if status is None:
        say(f"creating PostgreSQL {major} cluster {cluster!r} on port {settings.pg_port}")
        _run(["pg_createcluster", major, cluster, "--port", str(settings.pg_port)], say)
        status = "down"
    if status != "online":
        say(f"starting PostgreSQL {major} cluster {cluster!r}")
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", major, cluster, "start"], say)
    error = _wait_for_server(settings)
    if error and _refused_login(error):
        _allow_loopback_trust(major, cluster, say)
        error = _wait_for_server(settings)
    if error:
        raise DatabaseError(f"PostgreSQL at {settings.pg_host}:{settings.pg_port}: {error}")
    if not _postgis_available(settings):
        raise DatabaseError(f"PostGIS is not available on the server (PostgreSQL {major})")


def _postgis_available(settings: Settings) -> bool:
    with psycopg.connect(_conninfo(settings)) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
    return row is not None


def _libpq(url: str, database: str | None = None) -> str:
    """libpq URI for the SQLAlchemy ``url``, optionally pointing at another ``database``."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def create_database(server_url: str, name: str, *, say: Say = _quiet) -> str:
    """Create database ``name`` with PostGIS on the server of ``server_url`` if missing.

    ``server_url`` is the SQLAlchemy URL of any database on that server (its role must be
    allowed to create databases). Returns the SQLAlchemy URL of the database ``name``.
    """
    with psycopg.connect(_libpq(server_url), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            say(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_libpq(server_url, name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` on the server of ``server_url``, closing its connections."""
    with psycopg.connect(_libpq(server_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_url(settings: Settings | None = None, *, say: Say = _quiet) -> str:
    """SQLAlchemy URL of a database on the server Wangge uses, to create others from.

    ``DATABASE_URL`` when set (nothing provisioned); else the local server's ``postgres``
    database, after making sure that server runs (:func:`ensure_server`).
    """
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    ensure_server(settings, say=say)
    return settings.server_url("postgres")


@contextmanager
def scratch_database(
    server_url: str, prefix: str, *, migrated: bool = True, county: County | None = None
) -> Iterator[str]:
    """A throw-away database for tests and benchmarks: created, optionally migrated and
    holding ``county``, dropped afterwards whatever happened. Yields its SQLAlchemy URL."""
    from geo.db import io, migrate
    from geo.db.session import get_engine

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    name = f"wangge_{prefix}_{worker}_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        if migrated:
            migrate.upgrade(url)
        if county is not None:
            with get_engine(url).begin() as conn:
                io.write_county(conn, county)
        yield url
    finally:
        get_engine(url).dispose()
        drop_database(server_url, name)


def ensure_database(settings: Settings | None = None, *, say: Say = _quiet) -> str:
    """Provision as needed and return the SQLAlchemy URL of Wangge's database."""
    settings = settings or get_settings()
    if settings.database_url:
        say("DATABASE_URL is set: using it, provisioning nothing")
        return settings.database_url
    ensure_server(settings, say=say)
    return create_database(settings.server_url("postgres"), settings.db_name, say=say)
