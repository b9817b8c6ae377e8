"""Operations — one centre, N platforms (一中心N平台): queues, the chain, cases, workers, funds.

Presentation only: figures come from ``dashboards._centre_data`` (cached calls of ``geo``).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboards import _centre_data as data
from dashboards import _frame

#: The escalation chain as centre staff read it: step -> the states of an open case there.
CHAIN_STEPS = {
    "1 Whistle 上报": ("reported",),
    "2 Township 乡镇": ("accepted", "returned", "reopened"),
    "3 Escalated 上级": ("escalated",),
    "4 Department 部门": ("dispatched", "in_progress"),
}
STATES = ("reported", "accepted", "escalated", "dispatched", "returned", "in_progress",
          "reopened", "resolved", "fed_back", "closed")  # fmt: skip


def open_case(incident_id: int) -> None:
    """Go to the case page showing ``incident_id`` (kept in session state and the URL)."""
    st.session_state["case_id"] = int(incident_id)
    st.switch_page("views/case.py", query_params={"id": str(int(incident_id))})


def case_table(cases: pd.DataFrame, *, key: str, height: int = 420) -> None:
    """Cases as a table; selecting a row opens the case page."""
    shown = cases.assign(
        reported=cases["reported_at"].dt.tz_convert("Asia/Shanghai").dt.strftime("%m-%d %H:%M"),
        due=cases["due_at"].dt.tz_convert("Asia/Shanghai").dt.strftime("%m-%d %H:%M"),
    )[
        ["id", "overdue", "status", "tier", "platform", "category", "township", "cell_code",
         "reported", "due", "hours_at_step", "hours_overdue"]
    ]  # fmt: skip
    event = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=height,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "id": st.column_config.NumberColumn("case", format="#%d"),
            "overdue": st.column_config.CheckboxColumn("overdue"),
            "tier": st.column_config.NumberColumn("tier", help="0 township, 1 county, 2 city"),
            "hours_at_step": st.column_config.NumberColumn("h at step", format="%.1f"),
            "hours_overdue": st.column_config.NumberColumn("h overdue", format="%.1f"),
        },
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        open_case(int(shown.iloc[rows[0]]["id"]))


def _hours(value: float) -> str:
    return "—" if pd.isna(value) else f"{float(value):,.1f}"


def body() -> None:
    frame = _frame.current()
    st.title("Operations · 一中心N平台")
    if frame.county_code is None:
        st.info("No county in the database yet. Run `wangge demo` to set up the demo county.")
        return
    platforms = data.platforms()
    if platforms.empty:
        st.info(
            f"{frame.county_name}: no platforms configured yet. Run `wangge demo` (or "
            "`wangge incidents platforms --profile <county>`) to set up the N platforms."
        )
        return
    st.caption(
        f"{frame.county_name} · period: {frame.label} "
        f"({frame.start:%Y-%m-%d} – {frame.end - timedelta(days=1):%Y-%m-%d}) · "
        f"as of {frame.at:%H:%M} · one centre, {len(platforms)} platforms"
    )
    board = data.platform_board(frame.county_code, frame.start, frame.end, frame.at)
    queue = data.open_queue(frame.county_code, frame.at)
    if board["30 days"].sum() == 0 and board["period"].sum() == 0 and queue.empty:
        st.info(
            f"{frame.county_name} has no incidents in the last 30 days or the period. Run "
            "`wangge demo` for months of demo incidents, or report one with "
            "`wangge incidents report`."
        )
    figures = [
        ("Open cases 待办", int(board["open"].sum())),
        ("Overdue 超期", int(board["overdue"].sum())),
        ("Reported in period 本期上报", int(board["period"].sum())),
        ("Today 今日", int(board["today"].sum())),
        ("Escalations 上报上级", int(board["escalations"].sum())),
        ("Returns 退回", int(board["returns"].sum())),
    ]
    for column, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        column.metric(label, f"{value:,}")

    st.subheader(f"The centre and its {len(platforms)} platforms 中心与平台")
    columns = st.columns(len(board))
    for column, row in zip(columns, board.to_dict("records"), strict=True):
        with column.container(border=True):
            st.text(row["platform"])
            left, right = st.columns(2)
            left.metric("open", f"{row['open']:,}")
            right.metric("overdue", f"{row['overdue']:,}")
            st.caption(
                f"reported today {row['today']} · 7 d {row['7 days']} · 30 d {row['30 days']} "
                f"· returns {row['returns']} · escalations {row['escalations']}"
            )
            mine = queue[queue["platform_code"] == row["platform_code"]]
            if not mine.empty:
                by_state = mine.groupby("status", sort=False)[["cases", "overdue"]].sum()
                st.dataframe(by_state, width="stretch")
    st.dataframe(
        board.drop(columns="platform_code"),
        hide_index=True,
        width="stretch",
        column_config={
            "h to accept": st.column_config.NumberColumn("median h to accept", format="%.1f"),
            "h to resolve": st.column_config.NumberColumn("median h to resolve", format="%.1f"),
        },
    )

    st.subheader("Escalation chain: where open cases wait 升级链条")
    chain_rows = []
    for step, states in CHAIN_STEPS.items():
        here = queue[queue["status"].isin(states)]
        chain_rows.append(
            {
                "step": step,
                "open": int(here["cases"].sum()),
                "overdue": int(here["overdue"].sum()),
                "median wait (h)": _hours(here["median_hours_waiting"].median()),
                "longest wait (h)": _hours(here["max_hours_waiting"].max()),
                "states": ", ".join(states),
            }
        )
    chain = pd.DataFrame(chain_rows)
    left, right = st.columns([2, 3])
    with left:
        chart = chain.set_index("step")[["open", "overdue"]].assign(
            **{"on time": lambda c: c["open"] - c["overdue"]}
        )[["on time", "overdue"]]
        st.bar_chart(chart, horizontal=True, color=["#4292c6", "#b2182b"], height=260)
        st.dataframe(chain, hide_index=True, width="stretch")
    with right:
        steps = data.step_durations(frame.county_code, frame.start, frame.end)
        if steps.empty:
            st.caption("No moves in the period yet: median time per step appears once cases move.")
        else:
            names = platforms.set_index("code")["name"]
            table = steps.pivot_table(
                index="platform_code", columns="step", values="median_hours", aggfunc="first"
            )
            table = table[[s for s in STATES if s in table.columns]]
            table.index = table.index.map(lambda c: f"{names.get(c, c)}")
            st.markdown("**Median hours in each state before the next move** (period)")
            st.dataframe(table.round(1), width="stretch")

    tabs = st.tabs(
        ["Stuck & overdue 超期积压", "Case list 案件列表", "Five colours 五色",
         "Workers 网格员", "Funding 经费"]
    )  # fmt: skip
    with tabs[0]:
        stuck = data.case_list(frame.county_code, None, None, frame.at, True)
        st.caption(
            f"{len(stuck):,} open cases, overdue first, then the longest waiting at their step. "
            "Select a row to open the case."
        )
        if stuck.empty:
            st.success("No open case: every case is resolved or closed.")
        else:
            case_table(stuck, key="stuck_table")
    with tabs[1]:
        case_list_tab(frame)
    with tabs[2]:
        colours_tab(frame)
    with tabs[3]:
        workers_tab(frame)
    with tabs[4]:
        funding_tab(frame)


def case_list_tab(frame: _frame.Frame) -> None:
    cases = data.case_list(frame.county_code, frame.start, frame.end, frame.at, False)
    cats = data.categories()
    townships = data.units("township", frame.county_code)
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 2, 1])
    platform = c1.multiselect(
        "Platform 平台", data.platforms()["code"].tolist(), key="ops_platform"
    )
    category = c2.multiselect(
        "Category 类别", cats["code"].tolist(), key="ops_category",
        format_func=dict(zip(cats["code"], cats["name"], strict=True)).get,
    )  # fmt: skip
    state = c3.multiselect("State 状态", list(STATES), key="ops_state")
    township = c4.multiselect(
        "Township 乡镇", townships["code"].tolist(), key="ops_township",
        format_func=dict(zip(townships["code"], townships["name"], strict=True)).get,
    )  # fmt: skip
    late = c5.checkbox("Overdue only 仅超期", key="ops_overdue")
    keep = pd.Series(True, index=cases.index)
    for column, chosen in (("platform_code", platform), ("category_code", category),
                           ("status", state), ("township_code", township)):  # fmt: skip
        if chosen:
            keep &= cases[column].isin(chosen)
    if late:
        keep &= cases["overdue"]
    chosen_cases = cases[keep]
    st.caption(f"{len(chosen_cases):,} of {len(cases):,} cases reported in the period.")
    if chosen_cases.empty:
        st.info("No case matches these filters in the period.")
        return
    case_table(chosen_cases, key="case_table", height=460)
    st.download_button(
        "Download these cases (CSV)",
        chosen_cases.to_csv(index=False).encode("utf-8"),
        file_name=f"cases-{frame.county_code}.csv",
        mime="text/csv",
    )


def colours_tab(frame: _frame.Frame) -> None:
    wide = data.colour_by_township(frame.county_code)
    if wide.empty:
        st.info("No published grid plan, so no five-colour counts yet. Run `wangge demo`.")
        return
    st.markdown("**Households per township and colour** (aggregates only)")
    st.dataframe(wide, hide_index=True, width="stretch")
    since = pd.Timestamp(frame.at) - pd.Timedelta(days=7)
    changes = data.colour_changes_by_township(frame.county_code, since.to_pydatetime(), frame.at)
    week_start = pd.Timestamp(frame.start)
    period = data.colour_changes_by_township(frame.county_code, week_start.to_pydatetime(),
                                             frame.end)  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.markdown("**Colour changes, last 7 days**")
        if changes.empty:
            st.caption("No colour changed in the last 7 days.")
        else:
            st.dataframe(changes.drop(columns="suppressed"), hide_index=True, width="stretch")
    with right:
        st.markdown(f"**Colour changes in the period** ({frame.label})")
        if period.empty:
            st.caption("No colour changed in the period.")
        else:
            st.dataframe(period.drop(columns="suppressed"), hide_index=True, width="stretch")
    st.caption(
        f"Counts under {data.k()} households are blanked. Single households' colours are "
        "not shown here."
    )


def workers_tab(frame: _frame.Frame) -> None:
    this_quarter = data.quarter_of(frame.at)
    year, q = int(this_quarter[:4]), int(this_quarter[5:])
    quarters = []
    for _ in range(4):
        quarters.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    quarter = st.selectbox("Quarter 季度", quarters, key="ops_quarter")
    table = data.workers(frame.county_code, quarter)
    if table.empty:
        st.info(
            "No grid workers in the database yet, so no star ratings. Workers and their "
            "visits come with the demo's activity (`wangge demo`) once it generates them."
        )
        return
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "stars": st.column_config.NumberColumn("★ stars", format="%.1f ★"),
            "visit_completion": st.column_config.ProgressColumn(
                "visits done", min_value=0.0, max_value=1.0, format="percent"
            ),
            "share_resolved": st.column_config.ProgressColumn(
                "cases resolved", min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
    st.caption(
        "Stars: 1 + 4 × (½ visits done against the five-colour rules + ¼ share of raised "
        "cases resolved + ¼ share on time), to the half star."
    )


def funding_tab(frame: _frame.Frame) -> None:
    table = data.funding(frame.county_code)
    if table.empty:
        st.info("No townships yet. Run `wangge demo`.")
        return
    totals = table[["annual_yuan", "quarterly_payment_yuan", "reward_reserve_yuan"]].sum()
    c1, c2, c3 = st.columns(3)
    c1.metric("Annual fund 年度经费 (yuan)", f"{totals['annual_yuan']:,.0f}")
    c2.metric("Paid each quarter 每季度拨付", f"{totals['quarterly_payment_yuan']:,.0f}")
    c3.metric("Reward fund 奖励资金", f"{totals['reward_reserve_yuan']:,.0f}")
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "Xihua's rule: 10 yuan per registered resident per year; 20 % paid to the township "
        "each quarter; the remaining 20 % of the year is the reward fund. The allowance "
        "check (20–100 yuan a month per worker) needs workers in the database."
    )


data.run_page(body)
