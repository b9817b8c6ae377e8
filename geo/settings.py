"""Settings: every knob of Wangge in one place, each with its type, default and unit.

Values come from environment variables (named in each entry) so that the CLI, the
dashboards, the tests and a notebook all see the same configuration.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from geo.errors import ConfigError

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
    clock_skew_min : float
        ``WANGGE_CLOCK_SKEW_MIN``. Minutes a report's time may lie ahead of the server's
        clock (a device clock running fast) before intake refuses it as in the future.
        Default 10 (minutes, >= 0).
    epoch : datetime
        ``WANGGE_EPOCH``. Reports dated before this instant are refused as implausible (a
        device clock reset to 1900 or 0001). ISO 8601 date or date-time; a naive value is
        taken in :data:`LOCAL_TZ`. Default ``2000-01-01`` (local midnight), timezone-aware.

    Raises
    ------
    ConfigError
        From :func:`get_settings`, when a variable's value is not of its type (one line
        naming the variable, its value and what is expected).
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
    clock_skew_min: float = 10.0
    epoch: datetime = datetime(1999, 12, 31, 16, tzinfo=UTC)

    def server_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of the local server, for ``database`` (default :attr:`db_name`)."""
        name = database or self.db_name
        return f"postgresql+psycopg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{name}"

    @property
    def url(self) -> str:
        """The URL Wangge connects to: ``DATABASE_URL`` if set, else the local database."""
        return self.database_url or self.server_url()


T = TypeVar("T")


def _env(name: str, default: str, parse: Callable[[str], T], expected: str) -> T:
    """``parse`` of variable ``name`` (or of ``default``); :class:`ConfigError` if it fails."""
    raw = os.environ.get(name, default)
    try:
        return parse(raw.strip())
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(
            f"setting {name}={raw!r} is not {expected}; fix or unset it (default {default})"
        ) from None


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low or (high is not None and value > high):
            raise ValueError(text)
        return value

    return parse


def _minutes(text: str) -> float:
    value = float(text)
    if not 0 <= value < 10_000_000:  # also refuses nan and inf
        raise ValueError(text)
    return value


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(LOCAL_TZ))
    return value


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it where needed).

    Raises
    ------
    ConfigError
        If a variable holds a value that is not of its type (e.g. ``WANGGE_PG_PORT=abc``);
        the message names the variable.
    """
    env = os.environ
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        db_name=env.get("WANGGE_DB_NAME", "wangge"),
        pg_host=env.get("WANGGE_PG_HOST", "127.0.0.1"),
        pg_port=_env("WANGGE_PG_PORT", "5432", _int(1, 65535), "a port number (1..65535)"),
        pg_user=env.get("WANGGE_PG_USER", "postgres"),
        pg_cluster=env.get("WANGGE_PG_CLUSTER", "main"),
        profile=env.get("WANGGE_PROFILE", "yanchi"),
        seed=_env("WANGGE_SEED", "20201", _int(0), "an integer >= 0"),
        cache_ttl_s=_env("WANGGE_CACHE_TTL", "60", _int(0), "a whole number of seconds >= 0"),
        suppress_below=_env("WANGGE_SUPPRESS_BELOW", "5", _int(0), "an integer >= 0"),
        clock_skew_min=_env("WANGGE_CLOCK_SKEW_MIN", "10", _minutes, "a number of minutes >= 0"),
        epoch=_env("WANGGE_EPOCH", "2000-01-01", _instant, "an ISO 8601 date (e.g. 2000-01-01)"),
    )
