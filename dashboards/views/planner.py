"""Planner's workbench 规划工作台: one village of a plan on the map; select, edit, check, publish.

Presentation only: reads and edits go through :mod:`dashboards._planner` (which calls
:mod:`geo.plans`), the maps come from :mod:`geo.plan_maps`.  Every edit is a version of the
draft; the rules of the village are shown again after each one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from dashboards import _planner, _shared
from geo import grids, plan_maps, plans

MAP_HEIGHT = 720


def main() -> None:
    _planner.init_state()
    st.title("Planner's workbench 规划工作台")
    listed = _planner.plan_list()
    if listed.empty:
        st.info(f"No grid plans yet. {_shared.EMPTY_HINT}")
        return
    plan_id, village = _choose(listed)
    if village is None:
        return
    _planner.reset_if_moved(plan_id, village)
    row = _planner.plan_row(plan_id)
    view = _planner.village_view(plan_id, village, int(row["version"]))
    # every button runs its edit in its on_click callback against view.version, the version
    # this run shows: a change by another planner in between is refused, not built upon
    _header(view)
    with st.container():  # always there: the map below keeps its place, so st_folium keeps it
        _notice(view)
    left, right = st.columns([3, 2], gap="medium")
    with left:
        _map(view)
    with right:
        _rules(view, partial(_fix_unassigned, view))
        if view.status == "draft":
            _selection(view)
            _edits(view)
        else:
            _copy(view)
    st.divider()
    # lazy tabs: only the open one runs (an edit reruns the page; the others wait)
    tab_compare, tab_history, tab_publish = st.tabs(
        ["Compare with published", "History", "Publish & download"],
        key="wb_tabs",
        on_change="rerun",
    )
    if tab_compare.open:
        with tab_compare:
            _compare(view)
    if tab_history.open:
        with tab_history:
            _history(view)
    if tab_publish.open:
        with tab_publish:
            _publish(view)


# --------------------------------------------------------------------------- choosing


def _choose(listed: pd.DataFrame) -> tuple[int, str | None]:
    c1, c2, c3, c4 = st.columns([3, 2, 2, 1.4])
    labels = {int(r["id"]): _planner.plan_label(r) for _, r in listed.iterrows()}
    ids = list(labels)
    pending = st.session_state.pop("wb_plan_next", None)
    if pending in ids:
        st.session_state["wb_plan"] = pending
    if st.session_state.get("wb_plan") not in ids:
        st.session_state["wb_plan"] = ids[0]
    plan_id = c1.selectbox("Plan", ids, format_func=labels.get, key="wb_plan")
    villages = _planner.villages(plan_id)
    if villages.empty:
        st.info("This plan's county has no villages.")
        return plan_id, None
    townships = villages.drop_duplicates("township_code")
    t_names = dict(zip(townships["township_code"], townships["township_name"], strict=True))
    township = c2.selectbox(
        "Township 乡镇", list(t_names), format_func=lambda c: f"{t_names[c]} · {c}", key="wb_town"
    )
    in_town = villages.loc[villages["township_code"] == township]
    # labels an edit does not change (Streamlit resets a selector whose labels change)
    v_label = {r.village_code: f"{r.village_name} · {r.village_code}" for r in in_town.itertuples()}
    village = c3.selectbox(
        "Village 村/社区", list(v_label), format_func=v_label.get, key="wb_village"
    )
    c4.text_input(  # the logged-in user; edits are recorded as them
        "Edits recorded as", value=_planner.default_user(), key="wb_by", disabled=True
    )
    return plan_id, village


def _header(view: plans.VillageView) -> None:
    when = pd.Timestamp(view.changed_at).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    st.caption(
        f"**{view.plan_name}** — {view.status}, version {view.version}, last changed by "
        f"{view.changed_by} at {when} · village **{view.village_name}** ({view.village_code}), "
        f"{view.township_name} · bounds {view.bounds.min_size}–{view.bounds.max_size} "
        "households per cell"
    )


def _notice(view: plans.VillageView) -> None:
    """The outcome of the last edit, shown until the plan moves on or another edit is made.

    (The map reruns the page when it is redrawn, so a message shown once would vanish.)
    """
    notice = st.session_state.get("wb_notice")
    if not notice:
        return
    kind, text, version = notice
    if version is None:
        notice = st.session_state["wb_notice"] = (kind, text, view.version)
    elif version != view.version:
        st.session_state["wb_notice"] = None
        return
    if kind == "ok":
        timing = st.session_state.get("wb_timing")
        st.success(text + (f" ({timing * 1000:.0f} ms server side)" if timing else ""))
    elif kind == "stale":
        st.error(text)
    else:
        st.warning(text)


# --------------------------------------------------------------------------- map


def _map(view: plans.VillageView) -> None:
    state = st.session_state
    # the map itself depends on the village only, so st_folium keeps it (and the planner's
    # zoom) from one run to the next; the plan and the selection are swapped in as layers,
    # which after an edit is much quicker than drawing the whole map again
    m = plan_maps.village_base(view.outline, tools=view.status == "draft")
    layers = plan_maps.village_layers(
        view.cells,
        view.households,
        view.outline,
        bounds=view.bounds,
        target=state["wb_target"],
        locked=view.locked,
    )
    result = st_folium(
        m,
        height=MAP_HEIGHT,
        use_container_width=True,
        key=f"wb_map_{view.plan_id}_{view.village_code}",
        feature_group_to_add=[
            layers,
            plan_maps.selection_layer(view.households, state["wb_selection"]),
        ],
        returned_objects=[
            "last_object_clicked",
            "last_object_clicked_tooltip",
            "last_active_drawing",
        ],
    )
    if view.status == "draft" and _planner.handle_map_event(result, view.households):
        st.rerun()
    st.caption(
        "Colour: households per cell (blues within the bounds, orange too few, red too "
        "many); thick dashed red edge: a cell in pieces; dotted purple edge, labelled "
        "'locked': a locked cell. Click a household to select it, "
        "a cell to make it the target; ▭ Box / ⬠ Polygon select the households inside."
    )


# --------------------------------------------------------------------------- rules


def _rules(view: plans.VillageView, fix: Callable[[], None] | None = None) -> None:
    m = view.metrics
    lo, hi = view.bounds.min_size, view.bounds.max_size
    cells = view.cells
    sizes = cells["households"].astype(int)
    out = cells.loc[~sizes.between(lo, hi)]
    pieces = cells.loc[~cells["contiguous"].astype(bool)]
    st.subheader("Rules 规则")
    a, b, c, d = st.columns(4)
    a.metric("Cells within bounds", f"{len(cells) - len(out)} / {len(cells)}")
    b.metric("Cells in pieces", len(pieces))
    c.metric("Natural units split", f"{len(view.units_split)} / {m['natural_units']}")
    d.metric("Households left out", len(view.left_out))
    flags = []
    for r in out.itertuples():
        side = "too few" if r.households < lo else "too many"
        flags.append(f":orange[■] **{r.code}**: {r.households} households, {side} ({lo}–{hi})")
    for r in pieces.itertuples():
        flags.append(f":red[■] **{r.code}** is in pieces")
    names = dict(zip(view.natural_units["code"], view.natural_units["name"], strict=False))
    for r in view.units_split.itertuples():
        unit = names.get(r.natural_unit_code, r.natural_unit_code)
        flags.append(
            f":gray[■] natural unit {unit} ({r.households} hh) spread over {r.cells} cells"
        )
    if view.left_out:
        flags.append(f":red[■] {len(view.left_out)} household(s) in no cell")
    with st.container(border=True):
        if flags:
            st.markdown("\n".join(f"- {f}" for f in flags[:12]))
            if len(flags) > 12:
                st.caption(f"… and {len(flags) - 12} more")
        else:
            st.markdown(":green[■] Every cell within bounds, in one piece; no household left out.")
        if view.left_out and view.status == "draft" and fix is not None:
            fix()
        if view.locked:
            st.caption(
                "Locked cells (kept by edits and rebuilds): " + ", ".join(sorted(view.locked))
            )
        pm = view.plan_metrics
        share = pm.get("share_within_bounds")
        st.caption(
            f"Village: {m['households']} households, {m['cells']} cells, mean compactness "
            f"(Polsby–Popper) {m['mean_pp']:.2f}. Plan: {pm.get('cells', 0):,} cells, "
            f"{pm.get('households', 0):,} households, "
            f"{'–' if share is None else f'{share:.1%}'} of cells within bounds, "
            f"{pm.get('cells_non_contiguous', 0)} in pieces, "
            f"{pm.get('natural_units_split', 0)} natural units split."
        )


# --------------------------------------------------------------------------- selection


def _selection(view: plans.VillageView) -> None:
    state = st.session_state
    chosen = state["wb_selection"]
    st.subheader("Selection 选择")
    a, b, c = st.columns([2, 1, 1])
    a.markdown(f"**{len(chosen)}** household(s) selected")
    b.button("Clear", on_click=_planner.clear_selection, key="wb_clear", width="stretch")
    c.button(
        "Invert",
        on_click=partial(_planner.invert_selection, view.households),
        key="wb_invert",
        width="stretch",
    )
    units = view.households.groupby("natural_unit_code").size()
    names = dict(zip(view.natural_units["code"], view.natural_units["name"], strict=False))
    u1, u2 = st.columns([3, 1])
    unit = u1.selectbox(
        "Natural unit 自然村",
        list(units.index),
        format_func=lambda u: f"{names.get(u, u)} · {units[u]} hh",
        key="wb_unit",
        label_visibility="collapsed",
    )
    codes = view.households.loc[view.households["natural_unit_code"] == unit, "code"].tolist()
    u2.button(
        "Add unit",
        on_click=partial(_planner.add_to_selection, codes),
        key="wb_add_unit",
        width="stretch",
    )


# --------------------------------------------------------------------------- edits


def _edits(view: plans.VillageView) -> None:
    """The edit controls.  Each button runs its edit in its ``on_click`` callback, before
    the page reruns, so the page is drawn once, with the new version (and an edit is made
    against the version the planner was looking at: the one this run shows, with the
    choices this run shows; changing a choice reruns the page first)."""
    state = st.session_state
    by = state.get("wb_by") or _planner.default_user()
    cells = view.cells["code"].tolist()
    st.subheader("Edit 编辑")

    t1, t2 = st.columns([3, 2])
    if state["wb_target"] not in cells:
        state["wb_target"] = None
    target = t1.selectbox(
        "Move the selection to",
        cells,
        index=cells.index(state["wb_target"]) if state["wb_target"] else None,
        placeholder="click a cell, or choose",
        format_func=lambda c: f"{c} ({_size(view, c)} hh)",
        key=f"wb_target_box_{state['wb_target']}",
    )
    chosen = state["wb_selection"]
    t2.button(
        f"Move {len(chosen)} →",
        disabled=not (chosen and target),
        key="wb_move",
        type="primary",
        width="stretch",
        on_click=_on_edit,
        args=(view, lambda: plans.Move(tuple(chosen), target)),
        kwargs={"after": _planner.clear_selection},
    )

    s1, s2, s3 = st.columns([3, 1, 1])
    split_cell = s1.selectbox(
        "Split a cell",
        cells,
        key="wb_split_cell",
        format_func=lambda c: f"{c} ({_size(view, c)} hh)",
    )
    k = s2.number_input("in", min_value=2, max_value=9, value=2, key="wb_k")
    s3.button(
        "Split", key="wb_split", width="stretch", on_click=_on_edit,
        args=(view, lambda: plans.Split(split_cell, int(k))),
    )  # fmt: skip

    g1, g2, g3 = st.columns([2, 2, 1])
    first = g1.selectbox("Merge cell", cells, key="wb_merge_a")
    second = g2.selectbox(
        "with (adjacent)", _neighbours(view, first), key=f"wb_merge_b_{first}",
        placeholder="no neighbour",
    )  # fmt: skip
    g3.button(
        "Merge", key="wb_merge", disabled=second is None, width="stretch", on_click=_on_edit,
        args=(view, lambda: plans.Merge(first, second)),
    )  # fmt: skip

    r1, r2, r3 = st.columns([2, 2, 2])
    lo = r1.number_input("min", 1, 500, view.bounds.min_size, key="wb_min")
    hi = r2.number_input("max", 1, 500, view.bounds.max_size, key="wb_max")
    r3.button(
        "Rebuild village", key="wb_rebuild", width="stretch", on_click=_on_edit,
        args=(view, partial(_rebuild, view.village_code, int(lo), int(hi))),
    )  # fmt: skip

    k1, k2 = st.columns([3, 2])
    lock_cell = k1.selectbox(
        "Lock a cell (rebuilds keep it)",
        cells,
        key="wb_lock_cell",
        format_func=lambda c: (
            f"{c} ({_size(view, c)} hh)" + (" · locked" if c in view.locked else "")
        ),
    )
    is_locked = lock_cell in view.locked
    k2.button(
        "Unlock" if is_locked else "Lock", key="wb_lock", width="stretch", on_click=_on_edit,
        args=(view, lambda: (plans.Unlock if is_locked else plans.Lock)((lock_cell,))),
    )  # fmt: skip

    undo, redo = plans.undo_redo_state(_planner.history(view.plan_id))
    h1, h2 = st.columns(2)
    h1.button(
        "↶ Undo" + (f" v{undo}" if undo else ""), key="wb_undo", disabled=undo is None,
        width="stretch", on_click=_planner.run_edit,
        args=(plans.undo_edit, view.plan_id, view.version, by),
    )  # fmt: skip
    h2.button(
        "↷ Redo" + (f" v{redo}" if redo else ""), key="wb_redo", disabled=redo is None,
        width="stretch", on_click=_planner.run_edit,
        args=(plans.redo_edit, view.plan_id, view.version, by),
    )  # fmt: skip


def _rebuild(village: str, lo: int, hi: int) -> plans.Edit | None:
    """The rebuild the min/max inputs ask for (None, with a notice, if they cross)."""
    if lo > hi:
        st.session_state["wb_notice"] = ("error", f"min {lo} is above max {hi}", None)
        return None
    return plans.Rebuild(village, grids.CellBounds(lo, hi))


def _on_edit(
    view: plans.VillageView,
    make: Callable[[], plans.Edit | None],
    after: Callable[[], None] | None = None,
) -> None:
    """A button's callback: run the edit ``make()`` returns against the version shown."""
    edit = make()
    if edit is None:
        return
    by = st.session_state.get("wb_by") or _planner.default_user()
    run = partial(_planner.run_edit, plan_id=view.plan_id, version=view.version, by=by)
    if _do(run, edit) and after is not None:
        after()


def _fix_unassigned(view: plans.VillageView) -> None:
    """The *Fix unassigned* button: the village's left-out households into adjacent cells."""
    st.button(
        f"Fix unassigned: put the {len(view.left_out)} household(s) in adjacent cells",
        key="wb_fix",
        type="primary",
        on_click=_on_edit,
        args=(view, lambda: plans.FixUnassigned(view.village_code)),
    )


def _do(run: partial, edit: plans.Edit) -> bool:
    def action(conn, plan_id, *, expected_version, by):
        return plans.edit_plan(conn, plan_id, edit, expected_version=expected_version, by=by)

    return run(action) is not None


def _neighbours(view: plans.VillageView, code: str) -> list[str]:
    """Cells of the village sharing a boundary line with ``code`` (the ones it may merge with)."""
    g = view.cells.set_index("code").geometry
    if code not in g.index:
        return []
    return [c for c in g.index if c != code and shapely.relate_pattern(g[code], g[c], "****1****")]


def _size(view: plans.VillageView, code: str) -> int:
    return int(view.cells.loc[view.cells["code"] == code, "households"].iloc[0])


def _copy(view: plans.VillageView) -> None:
    st.subheader("Edit 编辑")
    st.info(f"'{view.plan_name}' is {view.status}: only a draft is edited. Copy it to a draft.")
    a, b = st.columns([3, 1])
    name = a.text_input("Name of the new draft", key="wb_new_name", placeholder="e.g. spring-2027")
    if b.button("Create draft", key="wb_copy", disabled=not name.strip(), width="stretch"):
        by = st.session_state.get("wb_by") or _planner.default_user()
        new_id = _planner.copy_to_draft(view.plan_id, name, by)
        if new_id is not None:
            st.session_state["wb_plan_next"] = new_id  # the selector is drawn already
        st.rerun()


# --------------------------------------------------------------------------- tabs


def _compare(view: plans.VillageView) -> None:
    found = _planner.compare(view)
    if found.published_name is None:
        st.info("The county has no published plan to compare with.")
        return
    if view.plan_name == found.published_name and view.status == "published":
        st.info("This is the published plan.")
        return
    a, b, c, d, e, f = st.columns(6)
    a.metric("Households moved", len(found.moved))
    b.metric("Cells added", len(found.cells_added))
    c.metric("Cells removed", len(found.cells_removed))
    d.metric("Cells reshaped", len(found.cells_reshaped))
    e.metric("Workers affected", len(found.workers))
    f.metric("Open incidents affected", len(found.incidents))
    mode = st.radio(
        "Maps", ["Overlay", "Side by side"], horizontal=True, key="wb_compare_mode",
        label_visibility="collapsed",
    )  # fmt: skip
    if mode == "Side by side":
        _side_by_side(view, found)
    else:
        _overlay(view, found)
    _affected(found)


def _overlay(view: plans.VillageView, found: _planner.Comparison) -> None:
    left, right = st.columns([3, 2])
    with left:
        m = plan_maps.compare_map(
            view.cells,
            found.published_cells,
            view.households,
            found.moved["household_code"].tolist() if len(found.moved) else [],
            bounds=view.bounds,
        )
        st_folium(m, height=520, use_container_width=True, key="wb_compare", returned_objects=[])
        st.caption(
            f"This draft's cells filled; the published plan '{found.published_name}' dashed; "
            "households that change cell ringed in red."
        )
    with right:
        if len(found.moved):
            st.dataframe(found.moved, hide_index=True, height=480)
        else:
            st.success("No household changes cell in this village.")


def _side_by_side(view: plans.VillageView, found: _planner.Comparison) -> None:
    """The published plan's village and the draft's, one map each (no tools)."""
    left, right = st.columns(2)
    for column, shown, title in (
        (left, found.published, f"Published · {found.published_name}"),
        (right, view, f"This draft · {view.plan_name} v{view.version}"),
    ):
        with column:
            st.markdown(f"**{title}**")
            m = plan_maps.village_map(
                shown.cells, shown.households, shown.outline, bounds=shown.bounds, tools=False,
                locked=shown.locked,
            )  # fmt: skip
            st_folium(
                m, height=480, use_container_width=True, returned_objects=[],
                key=f"wb_side_{shown.plan_id}",
            )  # fmt: skip


def _affected(found: _planner.Comparison) -> None:
    """Workers and open incidents whose cell publishing this draft would change."""
    left, right = st.columns(2)
    with left:
        st.markdown("**Grid workers whose cell would change**")
        if len(found.workers):
            st.dataframe(found.workers, hide_index=True, width="stretch")
        else:
            st.caption("None in this village.")
    with right:
        st.markdown("**Open incidents whose cell would change**")
        if len(found.incidents):
            st.dataframe(found.incidents, hide_index=True, width="stretch")
        else:
            st.caption("None in this village.")


def _history(view: plans.VillageView) -> None:
    edits = _planner.history(view.plan_id)
    if edits.empty:
        st.info("No edits yet: this is version 1.")
        return
    shown = edits.rename(columns={"created_by": "by", "created_at": "when"})
    st.dataframe(
        shown[["version", "summary", "village_code", "by", "when"]].iloc[::-1],
        hide_index=True,
        width="stretch",
    )


def _publish(view: plans.VillageView) -> None:
    a, b = st.columns(2)
    with a:
        if view.status == "draft":
            faults = _planner.publication_checks(view.plan_id, view.version)
            if faults:
                st.error("Cannot be published: " + "; ".join(faults))
            else:
                st.success(
                    "Publishable: every household of the county in exactly one cell of its "
                    "village; every cell inside its village."
                )
            by = st.session_state.get("wb_by") or _planner.default_user()
            st.button(
                "Publish this draft", key="wb_publish", disabled=bool(faults),
                on_click=_planner.publish, args=(view.plan_id, view.version, by),
            )  # fmt: skip
        else:
            st.info(f"This plan is {view.status}.")
    with b:
        st.download_button(
            "Download the plan (GeoPackage)",
            data=partial(_planner.geopackage, view.plan_id, view.version),
            file_name=f"plan-{view.plan_id}-v{view.version}.gpkg",
            mime="application/geopackage+sqlite3",
            key="wb_download",
        )


with _shared.error_boundary():
    main()
