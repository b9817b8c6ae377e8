"""What every dashboard page shares: the engine, cached queries, the error boundary, the
county selector.

Pages stay presentation only: they call these helpers and ``geo`` and draw the result.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import geopandas as gpd
import pandas as pd
import streamlit as st
from scipy import sparse
from sqlalchemy import Engine, create_engine
from sqlalchemy import exc as sa_exc

from geo import hotspots, maps, wall
from geo.db import io, queries, scope
from geo.db.session import normalise_url
from geo.settings import get_settings

TTL = get_settings().cache_ttl_s
log = logging.getLogger("wangge.dashboards")

#: What to run on a database without a county (or without Wangge's tables).
EMPTY_HINT = "Run `make demo` (or `wangge demo`) to load the demo county and its incidents."


@st.cache_resource
def engine() -> Engine:
    """The database engine (one per server process).

    A short connect timeout: a wall whose database is away says so within seconds instead
    of waiting for the operating system's TCP timeout.
    """
    url = normalise_url(get_settings().url)
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 4})


@st.cache_resource
def wall_engine() -> Engine:
    """The wall's engine: the wall's own login ``wangge_wall`` (``WANGGE_WALL_URL``), which
    may read only the wall's views and functions (aggregates with small counts blanked by
    the database). Every read of the wall page goes through it, none through :func:`engine`.
    """
    url = normalise_url(get_settings().wall_url)
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 4})


# ------------------------------------------------------------------------- the error boundary


def _database_error(exc: BaseException) -> BaseException:
    """The SQLAlchemy error behind ``exc`` (pandas wraps it in its own DatabaseError)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, sa_exc.SQLAlchemyError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def problem(exc: BaseException) -> str:
    """One line for a page, saying what is wrong and what to do, never a path or a trace."""
    exc = _database_error(exc)
    if isinstance(exc, sa_exc.ProgrammingError) and "does not exist" in str(exc.orig):
        return f"The database has no Wangge tables yet. {EMPTY_HINT}"
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return "The database is unreachable; this page retries by itself."
    if isinstance(exc, sa_exc.DBAPIError):
        return f"The database refused a query ({type(exc.orig).__name__})."
    return f"This page could not be drawn ({type(exc).__name__}); the server log has details."


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (rather than a bad query)."""
    exc = _database_error(exc)
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


@contextmanager
def error_boundary() -> Iterator[None]:
    """The one error boundary: an exception becomes one calm line on the page.

    Streamlit's own control flow (``st.stop``, ``st.rerun``) derives from BaseException and
    passes through. The full traceback goes to the server log only.
    """
    try:
        yield
    except Exception as exc:
        log.warning("page error: %s", problem(exc), exc_info=True)
        st.warning(problem(exc), icon="⚠️")


def text(value: object) -> str:
    """``value`` escaped for the few places that take HTML (``st.html``): shown as text."""
    return html.escape(str(value), quote=True)


# --------------------------------------------------------------------------- cached queries

P = ParamSpec("P")
R = TypeVar("R")


def scoped_cache(
    ttl: float | None = None, *, max_entries: int | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``st.cache_data`` keyed by the row-level-security scope as well as the arguments.

    The result of a query depends on who asks (``geo.db.scope.effective()``: the logged-in
    user's township, everything, or nothing), so the scope's code is an argument of the
    cached function: two users of different scopes never share a cached result, and users
    of the same scope do.  Each decorated function gets its own cache (Streamlit keys a
    cache by the function's module, qualified name and source; the inner function carries
    the decorated one's names).  ``ttl`` defaults to ``WANGGE_CACHE_TTL`` seconds.

    The wrapper has ``clear()`` like a ``st.cache_data`` function.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        def cached(scope_code: str, /, *args: Any, **kwargs: Any) -> R:
            return func(*args, **kwargs)

        # Distinct names per function (and no __wrapped__, whose signature Streamlit would
        # read when it names the arguments it hashes).
        cached.__module__ = func.__module__
        cached.__name__ = func.__name__
        cached.__qualname__ = f"{func.__qualname__}.<scoped>"
        store = st.cache_data(
            ttl=TTL if ttl is None else ttl, max_entries=max_entries, show_spinner=False
        )(cached)

        @functools.wraps(func)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return store(scope.effective().code, *args, **kwargs)

        call.clear = store.clear  # type: ignore[attr-defined]
        return call

    return decorate


@scoped_cache()
def counties() -> pd.DataFrame:
    return queries.county_codes(engine())


@scoped_cache()
def counts() -> pd.DataFrame:
    return io.counts_by_level(engine())


@scoped_cache()
def unit_summary(level: str, county_code: str) -> gpd.GeoDataFrame:
    return queries.unit_summary(engine(), level, county_code)


@dataclass(frozen=True)
class WallShapes:
    """The wall map's geometry of one plan: units, townships and their weights."""

    key: str
    units: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    weights: sparse.csr_matrix


@scoped_cache()
def wall_counties() -> pd.DataFrame:
    """Counties for the wall (code, name, households, residents: blanked under k)."""
    return queries.wall_counties(wall_engine())


@scoped_cache()
def wall_plan_key(county_code: str) -> str:
    """Which geometry the wall draws: ``plan:<id>`` or ``villages:<county>``."""
    plan_id = queries.wall_plan_id(wall_engine(), county_code)
    return f"plan:{plan_id}" if plan_id is not None else f"villages:{county_code}"


@st.cache_resource(max_entries=4, show_spinner=False)
def wall_shapes(county_code: str, key: str) -> WallShapes:
    """The geometry of plan ``key`` (read once per plan, kept for the server's life)."""
    units = queries.wall_unit_shapes(wall_engine(), county_code)
    townships = queries.wall_township_shapes(wall_engine(), county_code)
    return WallShapes(key, units, townships, hotspots.build_weights(units, weights="queen"))


@st.cache_resource(max_entries=4, show_spinner=False)
def wall_map_document(county_code: str, key: str) -> str:
    """The wall's map as one HTML document per plan: geometry only, the values come later."""
    shapes = wall_shapes(county_code, key)
    m = maps.wall_map(shapes.units, townships=shapes.townships, plan_key=key)
    return maps.map_html(m)


@dataclass(frozen=True)
class WallFigures:
    """Everything the wall shows for one period, small counts already blanked."""

    county: str
    key: str
    period: wall.Period
    households: float
    residents: float
    units: int
    unit_kind: str
    headline: dict[str, Any]
    board: pd.DataFrame
    weekly: pd.DataFrame
    chain: pd.DataFrame
    values: dict
    hot_cells: int
    cold_cells: int
    read_at: datetime


@scoped_cache()
def wall_figures(county_code: str, end_iso: str) -> WallFigures:
    """The wall's figures for the period ending at ``end_iso``, read through the wall's
    login only (:func:`wall_engine`): every count arrives blanked under k from the database;
    a unit whose households are blanked is left out of Gi* (:func:`geo.wall.unit_hotspots`).
    """
    k = get_settings().suppress_below
    period = wall.period_ending(datetime.fromisoformat(end_iso), step_s=1)
    con, within = wall_engine(), {"start": period.start, "end": period.end}
    key = wall_plan_key(county_code)
    shapes = wall_shapes(county_code, key)
    unit_counts = queries.wall_period_units(con, county_code, **within)
    # A blanked household count (NULL) is read as 0: under k, so the unit is left out.
    aligned = shapes.units[["code"]].merge(unit_counts, on="code", how="left").fillna(0)
    hot = wall.unit_hotspots(aligned, shapes.weights, k=k)
    row = wall_counties().set_index("code").loc[county_code]
    headline = queries.wall_period_headline(con, county_code, **within)
    return WallFigures(
        county=str(row["name"]),
        key=key,
        period=period,
        households=row["households"],
        residents=row["residents"],
        units=len(shapes.units),
        unit_kind="cell" if key.startswith("plan:") else "village",
        headline=headline.iloc[0].to_dict(),
        board=queries.wall_period_platforms(con, county_code, **within),
        weekly=queries.wall_weekly_platforms(con, county_code, end=period.end, weeks=8),
        chain=queries.wall_period_chain(con, county_code, **within),
        values=maps.hotspot_values(hot, plan_key=key),
        hot_cells=int(hot["gi_bin"].fillna(0).gt(0).sum()),
        cold_cells=int(hot["gi_bin"].fillna(0).lt(0).sum()),
        read_at=datetime.now().astimezone(),
    )


@st.cache_resource(show_spinner=False)
def last_good() -> dict[str, WallFigures]:
    """The last figures read per county, kept by the server so a wall (or a reload of it)
    keeps showing them while the database is away."""
    return {}


def latest_wall(
    county_code: str, make: Callable[[], WallFigures]
) -> tuple[WallFigures | None, str]:
    """The wall's figures now, or the last good ones and the one-line reason why not."""
    try:
        figures = make()
    except Exception as exc:
        log.warning("wall: %s", problem(exc), exc_info=not is_unreachable(exc))
        return last_good().get(county_code), problem(exc)
    last_good()[county_code] = figures
    return figures, ""


# ------------------------------------------------------------------------- state and frame


def init_state() -> None:
    """Session-state defaults, set once in one place."""
    st.session_state.setdefault("county_code", None)


def kiosk() -> bool:
    """Whether the page was opened as a kiosk (``?kiosk=1``): no sidebar, no chrome."""
    return st.query_params.get("kiosk", "0") not in ("0", "", "false", "no")


def county_selector(*, sidebar: bool = True, available: pd.DataFrame | None = None) -> str | None:
    """The county chosen in the sidebar (the only one, when there is one).

    With ``sidebar=False`` (the kiosk wall) the county comes from ``?county=<code>`` or is
    the first one; nothing is drawn.  ``available`` (code, name) defaults to
    :func:`counties`; the wall passes :func:`wall_counties`, read through its own login.
    """
    init_state()
    available = counties() if available is None else available
    if available.empty:
        return None
    labels = {r.code: f"{r.name} ({r.code})" for r in available.itertuples()}
    codes = list(labels)
    current = st.query_params.get("county") or st.session_state["county_code"]
    index = codes.index(current) if current in codes else 0
    if not sidebar:
        st.session_state["county_code"] = codes[index]
        return codes[index]
    chosen = st.sidebar.selectbox("County 县", codes, index=index, format_func=labels.get)
    st.session_state["county_code"] = chosen
    return chosen
