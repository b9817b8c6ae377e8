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

from sqlalchemy.engine import make_url

from geo.errors import ConfigError

#: Root of the repository (where ``data/`` and ``dashboards/`` live).
ROOT = Path(__file__).resolve().parent.parent
#: County profiles, one YAML file each.
PROFILES_DIR = ROOT / "data" / "profiles"
#: The county's local time zone (IANA name): naive times in files and intake records are
#: taken as local time, and days, weeks and quarters are cut at local midnight.  China keeps
#: one zone, so this is a constant rather than a setting.
LOCAL_TZ = "Asia/Shanghai"
#: PostgreSQL roles of Wangge (docs/security.md): the owner of the schema (NOLOGIN), the
#: application's login (no superuser, no BYPASSRLS) and the wall's read-only login.
OWNER_ROLE = "wangge_owner"
APP_ROLE = "wangge_app"
WALL_ROLE = "wangge_wall"


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
    admin_url : str | None
        ``WANGGE_ADMIN_URL``. URL of a role allowed to create roles and migrate (a
        superuser, or the owner's admin); used only by ``wangge db up/upgrade/downgrade/
        reset`` and the tests, never by the app. Default: ``DATABASE_URL`` when that is set,
        else the local server's superuser (``WANGGE_PG_USER``, trust on loopback).
    app_password : str | None
        ``WANGGE_APP_PASSWORD``. Password of the application login :data:`APP_ROLE`: set on
        the role by ``wangge db up`` and used in the default :attr:`url`. Default: none
        (trust authentication on loopback).
    wall_password : str | None
        ``WANGGE_WALL_PASSWORD``. Password of the wall's login :data:`WALL_ROLE`, likewise.
        Default: none.
    wall_database_url : str | None
        ``WANGGE_WALL_URL``. URL the wall connects with. Default: :attr:`url` with the user
        :data:`WALL_ROLE` and ``WANGGE_WALL_PASSWORD`` (see :attr:`wall_url`).
    allow_superuser : bool
        ``WANGGE_ALLOW_SUPERUSER``. Development only: let the app connect as a superuser (or
        a BYPASSRLS role), which row-level security does not restrict. ``1``/``true``/``yes``
        or ``0``/``false``/``no``. Default false: such a ``DATABASE_URL`` is refused.
    session_hours : int
        ``WANGGE_SESSION_HOURS``. Hours a dashboard login lasts in a browser (it survives a
        reload until then, or until logging out). Default 12.
    wall_session_days : int
        ``WANGGE_WALL_SESSION_DAYS``. Days a ``wall`` account's login lasts (the wall runs
        unattended). Default 30.
    default_scope : str | None
        ``WANGGE_SCOPE``. The row-level-security scope of transactions begun outside any
        ``with geo.db.scope.scope(...)`` in this process and the processes it starts: ``*``
        (everything: system jobs) or an admin unit code (that unit and what lies under it).
        Default unset: such transactions read no personal rows. The CLI sets ``*`` for its
        own jobs (:func:`geo.db.database.open_database`).

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
    admin_url: str | None = None
    app_password: str | None = None
    wall_password: str | None = None
    wall_database_url: str | None = None
    allow_superuser: bool = False
    default_scope: str | None = None
    session_hours: int = 12
    wall_session_days: int = 30

    def server_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of the local server, for ``database`` (default :attr:`db_name`)."""
        name = database or self.db_name
        return f"postgresql+psycopg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{name}"

    @property
    def url(self) -> str:
        """The URL the app connects to: ``DATABASE_URL`` if set, else the local database as
        the application login :data:`APP_ROLE`."""
        return self.database_url or self._login_url(APP_ROLE, self.app_password)

    @property
    def admin_database_url(self) -> str:
        """The URL of provisioning and migrations: ``WANGGE_ADMIN_URL``, else
        ``DATABASE_URL``, else the local database as the server's superuser."""
        return self.admin_url or self.database_url or self.server_url()

    @property
    def wall_url(self) -> str:
        """The URL the wall connects with: ``WANGGE_WALL_URL``, else :attr:`url` as the wall's
        login :data:`WALL_ROLE` (password ``WANGGE_WALL_PASSWORD``)."""
        if self.wall_database_url:
            return self.wall_database_url
        app = make_url(self.url)
        return app.set(username=WALL_ROLE, password=self.wall_password).render_as_string(
            hide_password=False
        )

    def _login_url(self, user: str, password: str | None) -> str:
        url = make_url(self.server_url()).set(username=user, password=password)
        return url.render_as_string(hide_password=False)


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


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(text)


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
        admin_url=env.get("WANGGE_ADMIN_URL") or None,
        app_password=env.get("WANGGE_APP_PASSWORD") or None,
        wall_password=env.get("WANGGE_WALL_PASSWORD") or None,
        wall_database_url=env.get("WANGGE_WALL_URL") or None,
        allow_superuser=_env("WANGGE_ALLOW_SUPERUSER", "0", _flag, "1/true/yes or 0/false/no"),
        default_scope=env.get("WANGGE_SCOPE") or None,
        session_hours=_env("WANGGE_SESSION_HOURS", "12", _int(1, 24 * 366), "hours (1..8784)"),
        wall_session_days=_env("WANGGE_WALL_SESSION_DAYS", "30", _int(1, 3660), "days (1..3660)"),
    )
