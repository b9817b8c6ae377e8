"""Throw-away databases on the test server, for tests whose writes must be committed
(the dashboards and notebooks run in other processes) or whose schema state is the subject.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from geo.db import io, migrate, provision
from geo.db.session import get_engine
from geo.frames import County


@contextmanager
def scratch_database(
    server_url: str, prefix: str, *, migrated: bool = True, county: County | None = None
) -> Iterator[str]:
    """A new database (PostGIS extension, optionally migrated and holding ``county``).

    Yields its SQLAlchemy URL; the database is dropped afterwards, whatever happened.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    name = f"wangge_test_{prefix}_{worker}_{uuid.uuid4().hex[:8]}"
    url = provision.create_database(server_url, name)
    try:
        if migrated:
            migrate.upgrade(url)
        if county is not None:
            with get_engine(url).begin() as conn:
                io.write_county(conn, county)
        yield url
    finally:
        get_engine(url).dispose()
        provision.drop_database(server_url, name)
