"""The shared frame of the centre's pages: one county and one period, chosen once.

The router (``dashboards/app.py``) calls :func:`shared_frame` once per run, after
``st.navigation`` has picked the page.  On the centre's pages it draws the county selector
and the period in the sidebar; on every page it keeps the selection in ``st.session_state``
(keys of :func:`defaults`), so moving from Hotspots to Operations to a case and back keeps
the same county and period.  Pages read the selection with :func:`current`.

The county is kept under ``county_code``, the key the overview and the wall already read,
so those pages follow the same county too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from geo.settings import LOCAL_TZ, get_settings

#: Period presets: label -> days back from the end of today (None: custom range).
PRESETS: dict[str, int | None] = {
    "Today 今天": 1,
    "7 days 近7天": 7,
    "30 days 近30天": 30,
    "90 days 近90天": 90,
    "365 days 近一年": 365,
    "Custom 自定义": None,
}
DEFAULT_PRESET = "30 days 近30天"
#: The pages that draw the frame (their url paths); the others keep their own controls.
FRAMED_PAGES = ("hotspots", "coverage", "operations", "case")


@dataclass(frozen=True)
class Frame:
    """What the centre's pages show: a county and a period ``[start, end)``, local time.

    ``at`` is "now" for overdue and waiting times, rounded down to the cache period so that
    cached results stay valid within it.
    """

    county_code: str | None
    county_name: str
    start: datetime
    end: datetime
    at: datetime
    label: str

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))


def defaults() -> dict[str, object]:
    """Session-state defaults of the frame, in one place."""
    today = pd.Timestamp.now(tz=LOCAL_TZ).date()
    return {
        "county_code": None,
        "frame_preset": DEFAULT_PRESET,
        "frame_range": (today - timedelta(days=29), today),
    }


def init_state() -> None:
    """Set the frame's session-state keys that are not set yet."""
    for key, value in defaults().items():
        st.session_state.setdefault(key, value)


def _now() -> pd.Timestamp:
    period = max(1, get_settings().cache_ttl_s)
    now = pd.Timestamp.now(tz=LOCAL_TZ)
    return now.floor(f"{period}s")


def period_bounds(
    preset: str, chosen: tuple[date, date] | None = None
) -> tuple[datetime, datetime]:
    """``[start, end)`` of a preset (whole local days ending with today) or a date range."""
    if preset not in PRESETS:
        raise ValueError(f"unknown period {preset!r}; allowed: {', '.join(PRESETS)}")
    days = PRESETS[preset]
    if days is None:
        first, last = chosen or defaults()["frame_range"]  # type: ignore[misc]
        first, last = min(first, last), max(first, last)
        start = pd.Timestamp(first, tz=LOCAL_TZ)
        end = pd.Timestamp(last, tz=LOCAL_TZ) + pd.Timedelta(days=1)
    else:
        end = pd.Timestamp.now(tz=LOCAL_TZ).normalize() + pd.Timedelta(days=1)
        start = end - pd.Timedelta(days=days)
    return start.to_pydatetime(), end.to_pydatetime()


def _sync(widget: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget]


def _draw(counties: pd.DataFrame) -> None:
    state = st.session_state
    labels = {r.code: f"{r.name} ({r.code})" for r in counties.itertuples()}
    codes = list(labels)
    if state["county_code"] not in codes:
        state["county_code"] = codes[0]
    sidebar = st.sidebar
    sidebar.markdown("**Centre frame 视图范围**")
    if len(codes) > 1:
        state["_frame_county"] = state["county_code"]
        sidebar.selectbox(
            "County 县", codes, format_func=labels.get, key="_frame_county",
            on_change=_sync, args=("_frame_county", "county_code"),
        )  # fmt: skip
    else:
        sidebar.text(f"County 县: {labels[codes[0]]}")
    state["_frame_preset"] = state["frame_preset"]
    sidebar.selectbox(
        "Period 时段", list(PRESETS), key="_frame_preset",
        on_change=_sync, args=("_frame_preset", "frame_preset"),
    )  # fmt: skip
    if PRESETS[state["frame_preset"]] is None:
        state["_frame_range"] = state["frame_range"]
        sidebar.date_input(
            "From – to 起止日期", key="_frame_range", on_change=_sync,
            args=("_frame_range", "frame_range"),
        )  # fmt: skip


def shared_frame(page: object | None = None) -> Frame:
    """Keep (and, on the centre's pages, draw) the county and period; return them.

    ``page`` is what ``st.navigation`` returned; the frame is drawn in the sidebar when its
    ``url_path`` is one of :data:`FRAMED_PAGES` (or when no page is given).  A database that
    cannot be reached leaves the county unset; the page then says so in one line.
    """
    from dashboards import _centre_data

    init_state()
    path = getattr(page, "url_path", None)
    if page is None or path in FRAMED_PAGES:
        try:
            counties = _centre_data.counties()
        except Exception:
            counties = pd.DataFrame(columns=["code", "name"])
        if not counties.empty:
            _draw(counties)
    return current()


def current() -> Frame:
    """The frame as kept in session state (defaults when the router has not run)."""
    init_state()
    state = st.session_state
    rng = state["frame_range"]
    if not isinstance(rng, tuple | list) or len(rng) != 2:  # a half-picked date range
        rng = (rng[0], rng[0]) if isinstance(rng, tuple | list) and rng else None
    start, end = period_bounds(state["frame_preset"], rng)
    code, name = state["county_code"], ""
    from dashboards import _centre_data

    names = _centre_data.counties().set_index("code")["name"]  # errors: the page's boundary
    if code not in names.index:
        code = None if names.empty else str(names.index[0])
    if code is not None:
        name = str(names[code])
    label = state["frame_preset"]
    if PRESETS[label] is None:
        label = f"{start:%Y-%m-%d} – {(end - timedelta(days=1)):%Y-%m-%d}"
    at = _now().to_pydatetime()
    return Frame(code, name, start, end, at, label)
