"""Provisioning: the server is found, or created and started; databases come and go."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import replace

import psycopg
import pytest

from geo.db import provision
from geo.settings import get_settings
from tests._fixtures.browser import free_port

pytestmark = pytest.mark.db


def test_second_run_on_a_running_server_is_fast() -> None:
    settings = get_settings()
    if settings.database_url:
        pytest.skip("DATABASE_URL is set: nothing is provisioned")
    provision.ensure_server(settings)
    started = time.perf_counter()
    provision.ensure_server(settings)
    assert time.perf_counter() - started < 2.0


def test_create_database_is_idempotent_and_has_postgis(server_url: str) -> None:
    name = f"wangge_test_prov_{uuid.uuid4().hex[:8]}"
    try:
        url = provision.create_database(server_url, name)
        assert provision.create_database(server_url, name) == url
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq) as conn:
            version = conn.execute("SELECT postgis_version()").fetchone()[0]
        assert version.startswith("3")
    finally:
        provision.drop_database(server_url, name)


def test_database_url_means_nothing_is_provisioned() -> None:
    settings = replace(get_settings(), database_url="postgresql+psycopg://u@192.0.2.1:1/x")
    said: list[str] = []
    assert provision.ensure_database(settings, say=said.append) == settings.database_url
    assert any("provisioning nothing" in s for s in said)


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("pg_createcluster") is None,
    reason="needs root and Debian's postgresql-common",
)
def test_a_server_that_is_not_there_is_created_started_and_let_in() -> None:
    """The 'no PostgreSQL running' path, on a throw-away cluster and port of its own."""
    cluster = f"wangge_t{uuid.uuid4().hex[:6]}"
    settings = replace(get_settings(), database_url=None, pg_port=free_port(), pg_cluster=cluster)
    said: list[str] = []
    major = provision._majors()[0]
    try:
        url = provision.create_database(
            provision_url(settings, say=said.append), "wangge_probe", say=said.append
        )
        assert url.endswith("/wangge_probe")
        assert any("creating PostgreSQL" in s for s in said)
        assert any("starting PostgreSQL" in s for s in said)
        said.clear()
        provision.ensure_server(settings, say=said.append)  # running now: nothing to do
        assert said == []
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", major, cluster], capture_output=True, check=False
        )


def provision_url(settings, *, say) -> str:
    provision.ensure_server(settings, say=say)
    return settings.server_url("postgres")
