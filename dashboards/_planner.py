"""Helpers of the planner's workbench page (``views/planner.py``): state, reads, edits.

The page stays presentation: it asks this module for the plans, villages and the village
view (all from :mod:`geo.plans`), turns map events into a selection, and runs an edit in
one transaction.  Session-state defaults are in :func:`defaults`, in one place.

A stale edit (another planner changed the plan since the page read it) is refused by
:mod:`geo.plans` with who changed it; :func:`run_edit` keeps that message for the page and
clears the selection, so the next run reloads the village as it now is.
"""

from __future__ import annotations

import getpass
import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

from dashboards import _auth, _shared
from geo import export, grids, plans
from geo.errors import StaleVersionError, WanggeError

_HOUSEHOLD = re.compile(r"household (\S+)")
_CELL = re.compile(r"^cell (\S+)")


def defaults() -> dict[str, object]:
    """The page's session-state keys and their defaults."""
    return {
        "wb_selection": [],  # household codes, sorted
        "wb_target": None,  # the cell a selection moves to (chosen on the map or a list)
        "wb_last_event": None,  # the last map event handled (a rerun repeats it)
        "wb_notice": None,  # (kind, text, plan version it is about) of the last edit
        "wb_loaded": None,  # (plan id, village) the selection belongs to
        "wb_timing": None,  # seconds of the last edit, server side
    }


def init_state() -> None:
    """Set the page's session-state keys that are not set yet."""
    for key, value in defaults().items():
        st.session_state.setdefault(key, value)


def default_user() -> str:
    """The logged-in user's login (else the server process's login name, outside the app)."""
    logged_in = _auth.actor()
    if logged_in:
        return logged_in
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no login name in some containers
        return "planner"


# --------------------------------------------------------------------------- reads


@_shared.scoped_cache()
def plan_list() -> pd.DataFrame:
    """Stored plans, published first then drafts newest first (archived last)."""
    with _shared.engine().connect() as conn:
        frame = plans.list_plans(conn)
    order = frame["status"].map({"published": 0, "draft": 1, "archived": 2})
    return frame.assign(_o=order).sort_values(["_o", "id"], ascending=[True, False])


def plan_label(row: pd.Series) -> str:
    """How a plan reads in the selector: name and id.

    Nothing that an edit changes (version, status): a selector whose labels change is
    reset by Streamlit to its first option.
    """
    return f"{row['name']} · #{row['id']}"


@_shared.scoped_cache(600, max_entries=16)
def villages(plan_id: int) -> pd.DataFrame:
    """The plan's villages with township: codes and names only, which no edit changes, so
    cached (:func:`geo.plans.plan_villages` counts the plan's figures of every village in
    the county, most of a second on this machine: too slow for every run of the page)."""
    with _shared.engine().connect() as conn:
        frame = plans.plan_villages(conn, plan_id)
    return frame[["township_code", "township_name", "village_code", "village_name"]]


def plan_row(plan_id: int) -> dict:
    """The plan's row now (cheap): status, version, who changed it last."""
    with _shared.engine().connect() as conn:
        return plans.describe_plan(conn, plan_id)


@_shared.scoped_cache(600, max_entries=32)
def village_view(plan_id: int, village: str, version: int) -> plans.VillageView:
    """One village of a plan at ``version`` (cached per version: an edit makes a new one)."""
    with _shared.engine().connect() as conn:
        return plans.village_view(conn, plan_id, village)


def history(plan_id: int) -> pd.DataFrame:
    """The plan's versions (see :func:`geo.plans.plan_history`)."""
    with _shared.engine().connect() as conn:
        return plans.plan_history(conn, plan_id)


@dataclass(frozen=True)
class Comparison:
    """A draft's village against the published plan's."""

    published_name: str | None
    published_cells: gpd.GeoDataFrame
    moved: pd.DataFrame  # household_code, cell_before, cell_after
    cells_added: list[str]
    cells_removed: list[str]
    cells_reshaped: list[str]
    published: plans.VillageView | None = None
    workers: pd.DataFrame | None = None  # workers whose cell would change
    incidents: pd.DataFrame | None = None  # open incidents whose cell would change


@_shared.scoped_cache(600, max_entries=32)
def rejoin_preview(plan_id: int, village: str, version: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Workers and open incidents of the village whose cell publishing the plan would change
    (:func:`geo.plans.rejoin_preview`; cached per plan version)."""
    del version  # the cache key only
    with _shared.engine().connect() as conn:
        return plans.rejoin_preview(conn, plan_id, village)


def compare(view: plans.VillageView) -> Comparison:
    """The village in ``view`` against the same village of the county's published plan."""
    listed = plan_list()
    published = listed.loc[
        (listed["status"] == "published") & (listed["county_code"] == view.county_code)
    ]
    empty = gpd.GeoDataFrame({"code": []}, geometry=[], crs=view.cells.crs)
    if published.empty:
        return Comparison(None, empty, pd.DataFrame(), [], [], [])
    pid = int(published["id"].iloc[0])
    other = village_view(pid, view.village_code, int(published["version"].iloc[0]))
    mine = view.households.set_index("code")["cell_code"]
    theirs = other.households.set_index("code")["cell_code"].reindex(mine.index)
    changed = mine.ne(theirs) & (mine.notna() | theirs.notna())
    moved = pd.DataFrame(
        {
            "household_code": mine.index[changed],
            "cell_before": theirs[changed].to_numpy(),
            "cell_after": mine[changed].to_numpy(),
        }
    )
    a = other.cells.set_index("code")
    b = view.cells.set_index("code")
    both = a.index.intersection(b.index)
    reshaped = [
        c
        for c in both
        if int(a.at[c, "households"]) != int(b.at[c, "households"])
        or not shapely.equals_exact(a.geometry[c], b.geometry[c], 1e-7)
    ]
    workers, incidents = rejoin_preview(view.plan_id, view.village_code, view.version)
    return Comparison(
        str(published["name"].iloc[0]),
        other.cells,
        moved,
        sorted(set(b.index) - set(a.index)),
        sorted(set(a.index) - set(b.index)),
        sorted(reshaped),
        other,
        workers,
        incidents,
    )


@_shared.scoped_cache(600, max_entries=16)
def publication_checks(plan_id: int, version: int) -> list[str]:
    """Why the plan cannot be published (empty: it can); county-wide SQL checks, cached per
    plan version (households loaded since show up with the next version)."""
    del version  # the cache key only
    with _shared.engine().connect() as conn:
        return plans.publication_faults(conn, plan_id)


def geopackage(plan_id: int, version: int) -> bytes:
    """The plan's cells as a GeoPackage file's bytes (:func:`geo.export.plan_to_geopackage`)."""
    del version  # part of the cache key of the caller only
    with tempfile.TemporaryDirectory() as tmp, _shared.engine().connect() as conn:
        path = export.plan_to_geopackage(conn, plan_id, Path(tmp) / "plan.gpkg")
        return Path(path).read_bytes()


# --------------------------------------------------------------------------- selection


def reset_if_moved(plan_id: int, village: str) -> None:
    """Forget the selection and target when the planner opens another plan or village."""
    state = st.session_state
    if state["wb_loaded"] != (plan_id, village):
        state["wb_loaded"] = (plan_id, village)
        state["wb_selection"] = []
        state["wb_target"] = None


def handle_map_event(result: dict | None, households: gpd.GeoDataFrame) -> bool:
    """Apply a new click or drawing from ``st_folium`` to the selection; whether it did.

    A click on a household toggles it; a click on a cell makes it the target; a drawn box
    or polygon adds the households inside it.  ``st_folium`` returns its last event on
    every rerun, so an event is applied once (remembered in ``wb_last_event``).
    """
    if not result:
        return False
    state = st.session_state
    drawing = result.get("last_active_drawing")
    tip = result.get("last_object_clicked_tooltip")
    where = result.get("last_object_clicked")
    key = json.dumps([drawing, tip, where], sort_keys=True, default=str)
    if key == state["wb_last_event"]:
        return False
    previous = state["wb_last_event"]
    state["wb_last_event"] = key
    if previous is None and not (drawing or tip):
        return False
    old = json.loads(previous) if previous else [None, None, None]
    # st_folium also reports a clicked feature of a layer group as ``last_active_drawing``
    # (the cell's polygon, the household's point); a drawn shape comes with no click point
    if drawing and where is None and drawing != old[0]:
        shape = shapely.geometry.shape(drawing["geometry"])
        inside = grids.households_in_polygon(households, shape)
        add_to_selection(inside.tolist())
        return True
    if tip:
        household = _HOUSEHOLD.search(tip)
        cell = _CELL.search(tip)
        if household:
            toggle(household.group(1))
            return True
        if cell:
            state["wb_target"] = cell.group(1)
            return True
    return False


def toggle(code: str) -> None:
    """Add ``code`` to the selection, or take it out if it is in."""
    chosen = set(st.session_state["wb_selection"])
    chosen ^= {code}
    st.session_state["wb_selection"] = sorted(chosen)


def add_to_selection(codes: list[str]) -> None:
    """Add households to the selection."""
    st.session_state["wb_selection"] = sorted(set(st.session_state["wb_selection"]) | set(codes))


def invert_selection(households: gpd.GeoDataFrame) -> None:
    """Select the village's households that are not selected, and only those."""
    chosen = set(st.session_state["wb_selection"])
    st.session_state["wb_selection"] = sorted(set(households["code"]) - chosen)


def clear_selection() -> None:
    """Select nothing."""
    st.session_state["wb_selection"] = []


# --------------------------------------------------------------------------- edits


def _by(typed: str) -> str:
    """Who an edit is recorded as: the logged-in user, whatever name the page passed (the
    typed name only outside the app's login, e.g. a page test)."""
    return _auth.actor() or typed


def run_edit(
    action: Callable[..., plans.EditResult], plan_id: int, version: int, by: str
) -> plans.EditResult | None:
    """Run one edit (``action(conn, plan_id, expected_version=..., by=...)``) in a transaction.

    The outcome is kept in ``wb_notice`` for the next run: the edit's summary, or the one
    line of why it was refused.  A stale edit also clears the selection (the village is
    read again, as another planner left it).
    """
    state = st.session_state
    started = time.perf_counter()
    try:
        with _shared.engine().begin() as conn:
            result = action(conn, plan_id, expected_version=version, by=_by(by))
    except StaleVersionError as exc:
        state["wb_notice"] = ("stale", f"{exc} — the village was reloaded as it is now.", None)
        clear_selection()
        return None
    except WanggeError as exc:
        state["wb_notice"] = ("error", str(exc).splitlines()[0], None)
        return None
    state["wb_timing"] = time.perf_counter() - started
    state["wb_notice"] = ("ok", f"version {result.version}: {result.summary}", None)
    plan_list.clear()
    return result


def copy_to_draft(plan_id: int, name: str, by: str) -> int | None:
    """A new draft from ``plan_id`` named ``name``; its id (None, with a notice, if refused)."""
    try:
        with _shared.engine().begin() as conn:
            new_id = plans.copy_plan(conn, plan_id, name=name.strip(), by=_by(by))
    except WanggeError as exc:
        st.session_state["wb_notice"] = ("error", str(exc).splitlines()[0], None)
        return None
    plan_list.clear()
    st.session_state["wb_notice"] = ("ok", f"draft {name.strip()!r} created (version 1)", None)
    return new_id


def publish(plan_id: int, version: int, by: str) -> bool:
    """Publish the draft at ``version``; whether it was published (else a notice says why)."""
    try:
        with _shared.engine().begin() as conn:
            done = plans.publish_plan(conn, plan_id, by=_by(by), expected_version=version)
    except StaleVersionError as exc:
        st.session_state["wb_notice"] = ("stale", f"{exc} — the village was reloaded.", None)
        return False
    except WanggeError as exc:
        st.session_state["wb_notice"] = ("error", str(exc).splitlines()[0], None)
        return False
    plan_list.clear()
    archived = "" if done.archived is None else "; the county's previous plan is archived"
    st.session_state["wb_notice"] = (
        "ok",
        f"published{archived}; re-joined to the new cells: {done.workers_rejoined:,} grid "
        f"worker(s), {done.incidents_rejoined:,} open incident(s) (history keeps the old cells)",
        None,
    )
    return True
