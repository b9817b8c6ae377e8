"""A case (案件): where it is in the chain, its full timeline and where it was reported.

The case comes from ``?id=<n>`` in the URL or from the Operations page.  The timeline is the
append-only history of :func:`geo.incidents.history`; free text (notes, the description,
actors) is shown as text, never as markup.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboards import _centre_data as data
from dashboards import _frame
from geo import centre_maps

#: The closed loop's main line, for the progress row.
MAIN_LINE = ("reported", "accepted", "dispatched", "in_progress", "resolved", "fed_back",
             "closed")  # fmt: skip
TIERS = ("township 乡镇", "county 县", "city 市")


def chosen_id() -> int | None:
    raw = st.query_params.get("id") or st.session_state.get("case_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def body() -> None:
    frame = _frame.current()
    st.title("Case 案件")
    incident_id = chosen_id()
    typed = st.columns([1, 3])[0].number_input(
        "Case number 案件编号", min_value=1, step=1, value=incident_id, key="case_number",
        placeholder="type a case number, or pick one on the Operations page",
    )  # fmt: skip
    if typed is not None and typed != incident_id:
        incident_id = int(typed)
        st.session_state["case_id"] = incident_id
        st.query_params["id"] = str(incident_id)
    if incident_id is None:
        st.info("Choose a case on the Operations page (select a row), or type its number.")
        st.page_link("views/operations.py", label="Operations · 一中心N平台", icon="↩")
        return
    case = data.case(incident_id)
    if case.empty:
        st.warning(f"There is no case #{incident_id}.")
        return
    row = case.iloc[0]
    if frame.county_code and not str(row["township_code"] or "").startswith(frame.county_code):
        st.caption(f"This case belongs to another county than {frame.county_name}.")
    history = data.case_history(incident_id)
    now = pd.Timestamp(frame.at)
    last = pd.to_datetime(history["at"], utc=True).max() if not history.empty else None
    done = row["status"] in ("resolved", "fed_back", "closed")
    due = pd.Timestamp(row["due_at"]) if pd.notna(row["due_at"]) else None
    overdue_h = (now - due).total_seconds() / 3600 if due is not None and not done else None

    st.subheader(f"#{incident_id} · {row['category']} · {row['platform'] or 'no platform'}")
    figures = [
        ("State 状态", str(row["status"])),
        ("Tier 层级", TIERS[int(row["tier"])] if 0 <= int(row["tier"]) < 3 else str(row["tier"])),
        ("Waiting at this step", "—" if done or last is None
         else f"{(now - last).total_seconds() / 3600:.1f} h"),
        ("Due 时限", "—" if due is None else _local(due)[5:]),
        ("Overdue 超期", f"{overdue_h:.1f} h" if overdue_h and overdue_h > 0 else "no"),
        ("Moves 流转", f"{len(history)}"),
    ]  # fmt: skip
    for column, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        column.metric(label, value)
    reached = set(history["to_status"])
    marks = []
    for state in MAIN_LINE:
        if state == row["status"]:
            marks.append(f":red-badge[**{state}**]")
        elif state in reached:
            marks.append(f":green-badge[{state}]")
        else:
            marks.append(f":gray-badge[{state}]")
    side = [s for s in ("escalated", "returned", "reopened") if s in reached]
    line = " → ".join(marks)
    if side:
        line += "  ·  also: " + " ".join(f":orange-badge[{s}]" for s in side)
    st.markdown(line)  # fixed state names only: no user text in this markdown

    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Timeline 流转记录** (append-only history, local time)")
        st.dataframe(
            data.timeline(history),
            hide_index=True,
            width="stretch",
            height=min(40 + 35 * len(history), 560),
        )
        st.markdown("**Reported as 上报内容**")
        st.text(row["description"] or "(no description)")
        facts = pd.DataFrame(
            {
                "field": ["client key", "source", "category", "platform", "township",
                          "village", "cell", "reported", "accepted", "resolved", "closed",
                          "satisfaction"],
                "value": [row["client_key"], row["source"], row["category_code"],
                          row["platform_code"], row["township"], row["village"],
                          row["cell_code"] or "(outside the published cells)",
                          *(_local(row[c]) for c in ("reported_at", "accepted_at",
                                                       "resolved_at", "closed_at")),
                          _satisfaction(row["satisfaction"])],
            }
        )  # fmt: skip
        st.dataframe(facts.astype(str), hide_index=True, width="stretch")
    with right:
        st.markdown("**Where 位置** — the reported point and its cell")
        cell = data.case_cell(incident_id)
        if case.geometry.iloc[0] is None or case.geometry.iloc[0].is_empty:
            st.caption("This case has no position.")
        else:
            st_folium(
                centre_maps.case_map(case, cell=cell),
                height=460,
                use_container_width=True,
                returned_objects=[],
                key=f"case_map_{incident_id}",
            )
            st.caption(f"Cell {row['cell_code'] or '—'} · village {row['village'] or '—'}")
    st.page_link("views/operations.py", label="Back to Operations · 一中心N平台", icon="↩")


def _satisfaction(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value)} / 5"


def _local(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    return pd.Timestamp(value).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M")


data.run_page(body)
