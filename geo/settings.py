"""Settings: every knob of Wangge in one place, each with its type, default and unit.

Values come from environment variables (named in each entry) so that the CLI, the
dashboards, the tests and a notebook all see the same configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Root of the repository (where ``data/`` and ``dashboards/`` live).
ROOT = Path(__file__).resolve().parent.parent
#: County profiles, one YAML file each.
PROFILES_DIR = ROOT / "data" / "profiles"
#: The county's local time zone (IANA name): naive times in files and intake records are
#: taken as local time, and days, weeks and quarters are cut at local midnight.  China keeps
#: one zone, so this is a constant rather than a setting.
LOCAL_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class Settings:
    """Run-time configuration.

    Attributes
    ----------
    database_url : str | None
        ``DATABASE_URL``. URL of an existing PostGIS database (``postgresql://...``; the
        driver is set to psycopg 3 in one place, :func:`geo.db.session.normalise_url`).
        When set, Wangge uses it and provisions nothing. Default: unset (the local database
        of `wangge db up`).
    db_name : str
        ``WANGGE_DB_NAME``. Database created on the local server. Default ``"wangge"``.
    pg_host, pg_port, pg_user : str, int, str
        ``WANGGE_PG_HOST`` / ``WANGGE_PG_PORT`` / ``WANGGE_PG_USER``. Local server address.
        Defaults ``127.0.0.1``, ``5432``, ``postgres`` (trust authentication on loopback).
    pg_cluster : str
        ``WANGGE_PG_CLUSTER``. Name of the Debian cluster (``pg_lsclusters``) to create or
        start when the local server is not running. Default ``"main"``.
    profile : str
        ``WANGGE_PROFILE``. County profile of the demo. Default ``"yanchi"``.
    seed : int
        ``WANGGE_SEED``. Seed of the synthetic county. Default ``20201``.
    cache_ttl_s : int
        ``WANGGE_CACHE_TTL``. Seconds the dashboards keep query results. Default 60.
    suppress_below : int
        ``WANGGE_SUPPRESS_BELOW``. Aggregates of fewer households than this are blanked in
        public and wall views. Default 5.
    """

    database_url: str | None
    db_name: str
    pg_host: str
    pg_port: int
    pg_user: str
    pg_cluster: str
    profile: str
    seed: int
    cache_ttl_s: int
    suppress_below: int

    def server_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of the local server, for ``database`` (default :attr:`db_name`)."""
        name = database or self.db_name
        return f"postgresql+psycopg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{name}"

    @property
    def url(self) -> str:
        """The URL Wangge connects to: ``DATABASE_URL`` if set, else the local database."""
        return self.database_url or self.server_url()


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it where needed)."""
    env = os.environ
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        db_name=env.get("WANGGE_DB_NAME", "wangge"),
        pg_host=env.get("WANGGE_PG_HOST", "127.0.0.1"),
        pg_port=int(env.get("WANGGE_PG_PORT", "5432")),
        pg_user=env.get("WANGGE_PG_USER", "postgres"),
        pg_cluster=env.get("WANGGE_PG_CLUSTER", "main"),
        profile=env.get("WANGGE_PROFILE", "yanchi"),
        seed=int(env.get("WANGGE_SEED", "20201")),
        cache_ttl_s=int(env.get("WANGGE_CACHE_TTL", "60")),
        suppress_below=int(env.get("WANGGE_SUPPRESS_BELOW", "5")),
    )
