"""Shared fixtures: one fresh PostGIS database per test run (per xdist worker).

The database is created on the server Wangge would use (``DATABASE_URL``'s server, or the
local one, provisioned if needed), migrated to head, and dropped at the end of the run.
Each test that takes ``conn`` runs inside a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine

from geo.db import io, provision
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.county import tiny_county

# The tests connect as the server's superuser (scratch databases they create and drop), so
# the development flag that lets the app connect as one is on for the whole session
# (docs/security.md); tests/db/test_security.py connects as the app and wall logins.
os.environ.setdefault("WANGGE_ALLOW_SUPERUSER", "1")

# CI replays the same Hypothesis examples every run (a red CI is then a real regression, not
# a newly drawn example); on a developer's machine examples are drawn afresh.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def server_url() -> str:
    """SQLAlchemy URL of a database on the test server (to create more databases from)."""
    return provision.server_url()


@pytest.fixture(scope="session")
def empty_db_url(server_url: str) -> Iterator[str]:
    """A brand-new database with nothing but the postgis extension; dropped afterwards."""
    with scratch_database(server_url, "empty", migrated=False) as url:
        yield url


@pytest.fixture(scope="session")
def db_url(server_url: str) -> Iterator[str]:
    """A fresh database migrated to head for this test run; dropped afterwards."""
    with scratch_database(server_url, "run") as url:
        yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return get_engine(db_url)


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def county(conn: Connection) -> Connection:
    """The tiny county's admin units (no households) in the test transaction."""
    c = tiny_county()
    for level in ("county", "township", "village", "natural_unit"):
        io.copy_frame(conn, io.admin_rows(c.level(level), level), "admin_unit")
    return conn
