"""The centre's numbers ("one centre, N platforms"): incidents, five colours, workers, funding.

Everything comes back as a pandas DataFrame for dashboards and notebooks. Aggregates over
incidents, events, households and visits are computed in SQL (one query each, grouped in the
server), so a year of a Yanchi-scale county's incidents answers in well under a second
(``benchmarks/bench_incidents.py`` measures it). Days and quarters are calendar days in
China Standard Time (``Asia/Shanghai``) unless ``tz`` says otherwise; durations are hours.

Wall displays get aggregates only, with small counts blanked: pass ``min_count`` (e.g. 5) to
the functions that take it, which applies :func:`geo.privacy.suppress_small`. Five-colour
status is personal data: :func:`colour_history` is for roles that own the area, never a wall.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from geo import profiles, settings
from geo.db import centre_store as store
from geo.errors import DataError
from geo.frames import FIVE_COLOURS
from geo.privacy import suppress_small

TZ = settings.LOCAL_TZ


def _suppress(frame: pd.DataFrame, count: str, min_count: int) -> pd.DataFrame:
    return suppress_small(frame, count=count, k=min_count) if min_count > 0 else frame


# ----------------------------------------------------------------------------------- incidents


def platform_daily(
    con: Connection | Engine,
    *,
    start: datetime,
    end: datetime,
    at: datetime | None = None,
    tz: str = TZ,
    min_count: int = 0,
) -> pd.DataFrame:
    """Per platform, township and day of report: the centre's daily table.

    Parameters
    ----------
    start, end
        Incidents reported in ``[start, end)`` (timezone-aware).
    at
        "Now" for overdue open incidents (default: ``end``).
    min_count
        Blank every number of a row with fewer than ``min_count`` incidents (walls: 5).

    Returns
    -------
    pandas.DataFrame
        ``platform_code, township_code, day, incidents``, one ``n_<state>`` column per state
        of :data:`geo.db.models.INCIDENT_STATES` (current state), ``median_hours_to_accept``,
        ``median_hours_to_resolve``, ``overdue_share`` (0..1: resolved late, or open past due
        at ``at``), ``satisfaction`` (mean 1..5 of fed-back cases), ``escalations`` and
        ``returns`` (events, counted on the incident's row).
    """
    frame = store.platform_daily(con, start=start, end=end, at=at or end, tz=tz)
    return _suppress(frame, "incidents", min_count)


#: The order of the chain, for reading where cases are stuck.
CHAIN = ("reported", "accepted", "escalated", "dispatched", "returned", "in_progress",
         "reopened")  # fmt: skip


def stuck(
    con: Connection | Engine, *, at: datetime | None = None, min_count: int = 0
) -> pd.DataFrame:
    """Where open cases wait along the chain: per state, tier and platform at ``at``.

    Returns
    -------
    pandas.DataFrame
        ``status, tier, platform_code, incidents, overdue`` (count past due at ``at``),
        ``median_hours_waiting`` and ``max_hours_waiting`` (since the last move), in the order
        of :data:`CHAIN`.
    """
    now = at or pd.Timestamp.now(tz="UTC").to_pydatetime()
    frame = store.open_by_state(con, at=now)
    order = {s: k for k, s in enumerate(CHAIN)}
    frame = frame.sort_values(
        ["status", "tier", "platform_code"], key=lambda c: c.map(order) if c.name == "status" else c
    ).reset_index(drop=True)
    return _suppress(frame, "incidents", min_count)


# --------------------------------------------------------------------------------- five colours


def set_colour(
    conn: Connection, household_code: str, colour: str, *, by: str, at: datetime | None = None
) -> bool:
    """Set a household's five-colour status and record the change, in one transaction.

    Returns False (and records nothing) when the household already has ``colour``.

    Raises
    ------
    DataError
        If ``colour`` is not one of :data:`geo.frames.FIVE_COLOURS` or the household is unknown.
    """
    if colour not in FIVE_COLOURS:
        raise DataError(f"unknown colour {colour!r}; allowed: {', '.join(FIVE_COLOURS)}")
    current = store.lock_household(conn, household_code)
    if current is None:
        raise DataError(f"unknown household {household_code!r}")
    if current.colour == colour:
        return False
    store.write_colour(conn, household_code, colour, by=by, at=at)
    return True


def colour_history(con: Connection | Engine, household_code: str) -> pd.DataFrame:
    """One household's colour changes, oldest first (personal data: not for walls)."""
    return store.colour_history(con, household_code)


def colour_counts(
    con: Connection | Engine,
    *,
    county_code: str,
    plan_id: int | None = None,
    min_count: int = 5,
) -> pd.DataFrame:
    """Households per cell and colour under ``plan_id`` (default: the county's published plan).

    Long format: ``cell_code, colour, households`` (colour None for households without one);
    counts below ``min_count`` are blanked (set ``min_count=0`` for roles that own the area).
    """
    frame = store.colour_counts(con, county_code=county_code, plan_id=plan_id)
    return _suppress(frame, "households", min_count)


def colour_changes(
    con: Connection | Engine,
    *,
    county_code: str,
    since: datetime | None = None,
    until: datetime | None = None,
    plan_id: int | None = None,
    min_count: int = 5,
) -> pd.DataFrame:
    """Colour changes per cell in ``[since, until)`` (default: the last 7 days).

    Returns ``cell_code, from_colour, to_colour, changes`` (from None for a first colour);
    counts below ``min_count`` are blanked.
    """
    until = until or pd.Timestamp.now(tz="UTC").to_pydatetime()
    since = since or until - timedelta(days=7)
    frame = store.colour_changes(
        con, county_code=county_code, since=since, until=until, plan_id=plan_id
    )
    return _suppress(frame, "changes", min_count)


# -------------------------------------------------------------------------------------- workers


def quarter_bounds(quarter: str, *, tz: str = TZ) -> tuple[datetime, datetime]:
    """``"2026Q1"`` -> (2026-01-01 00:00, 2026-04-01 00:00) in ``tz``."""
    try:
        year, q = int(quarter[:4]), int(quarter[5:])
        if quarter[4] not in "Qq" or not 1 <= q <= 4:
            raise ValueError
    except (ValueError, IndexError):
        raise DataError(f"quarter must look like '2026Q1', not {quarter!r}") from None
    start = pd.Timestamp(year=year, month=3 * q - 2, day=1, tz=tz)
    return start.to_pydatetime(), (start + pd.DateOffset(months=3)).to_pydatetime()


def worker_metrics(
    con: Connection | Engine,
    *,
    quarter: str,
    visit_rules: Mapping[str, float] | None = None,
    tz: str = TZ,
) -> pd.DataFrame:
    """Quarterly star-rating metrics per grid worker (and the cell the worker looks after).

    A household of colour *c* needs ``ceil(days in quarter / visit_rules[c])`` visits in the
    quarter; a visit counts when made by the worker whose cell the household is assigned to.

    Returns
    -------
    pandas.DataFrame
        ``worker_code, name, township_code, cell_code, households``, per colour
        ``required_<c>`` and ``done_<c>``, ``visits_required``, ``visits_done``,
        ``visit_completion`` (visits credited up to the requirement per household / required,
        0..1), ``incidents_reported`` (the worker is the actor of the ``reported`` event),
        ``share_resolved`` (of those, share resolved or beyond), ``overdue`` (of those,
        resolved late or open past due at the quarter's end).
    """
    rules = dict(visit_rules or profiles.visit_rules())
    bad = sorted(set(rules) - set(FIVE_COLOURS))
    if bad:
        raise DataError(f"unknown colour(s) {bad} in visit rules; allowed: {FIVE_COLOURS}")
    start, end = quarter_bounds(quarter, tz=tz)
    days = (end - start).total_seconds() / 86400
    required = {c: math.ceil(days / float(d)) for c, d in rules.items()}
    long = store.worker_quarter(
        con, colours=list(required), required=list(required.values()), start=start, end=end
    )
    return _worker_frame(long)


def star_rating(metrics: pd.DataFrame) -> pd.Series:
    """Quarterly star rating of grid workers, 1 to 5 in half stars, aligned with ``metrics``.

    Score = 0.5 * visit completion + 0.25 * share of raised cases resolved + 0.25 * (1 -
    overdue share of the cases raised); a missing part (no visits due, no case raised)
    counts as its mean over the workers, or 0.5 when no worker has it.  Stars = 1 + 4 *
    score, rounded to the nearest half star.  Xihua rates its workers quarterly; the
    weights are Wangge's, stated here so that every page and notebook shows the same stars.

    Parameters
    ----------
    metrics : DataFrame
        :func:`worker_metrics` output: ``visit_completion``, ``share_resolved``,
        ``incidents_reported``, ``overdue``.
    """
    visits = metrics["visit_completion"].astype(float)
    resolved = metrics["share_resolved"].astype(float)
    raised = metrics["incidents_reported"].astype(float)
    on_time = (1 - metrics["overdue"].astype(float) / raised.where(raised > 0)).clip(0, 1)
    parts = [p.fillna(p.mean()).fillna(0.5) for p in (visits, resolved, on_time)]
    score = 0.5 * parts[0] + 0.25 * parts[1] + 0.25 * parts[2]
    return ((1 + 4 * score) * 2).round() / 2


def _worker_frame(long: pd.DataFrame) -> pd.DataFrame:
    keys = ["worker_code", "name", "township_code", "cell_code"]
    base = (
        long.groupby("worker_code", sort=True)
        .agg(
            name=("name", "first"),
            township_code=("township_code", "first"),
            cell_code=("cell_code", "first"),
            households=("households", "sum"),
            visits_required=("required", "sum"),
            visits_done=("done", "sum"),
            credited=("credited", "sum"),
            incidents_reported=("incidents_reported", "first"),
            resolved=("resolved", "first"),
            overdue=("overdue", "first"),
        )
        .reset_index()
    )
    by_colour = long.dropna(subset=["colour"]).pivot_table(
        index="worker_code", columns="colour", values=["required", "done"], aggfunc="sum"
    )
    wide = pd.DataFrame(index=base["worker_code"])
    for colour in FIVE_COLOURS:
        for what in ("required", "done"):
            col = (what, colour)
            present = col in by_colour.columns
            values = by_colour[col].reindex(wide.index).fillna(0) if present else 0
            wide[f"{what}_{colour}"] = values
            wide[f"{what}_{colour}"] = wide[f"{what}_{colour}"].astype(int)
    out = base.merge(wide.reset_index(), on="worker_code")
    out["visit_completion"] = (out["credited"] / out["visits_required"]).where(
        out["visits_required"] > 0
    )
    out["share_resolved"] = (out["resolved"] / out["incidents_reported"]).where(
        out["incidents_reported"] > 0
    )
    columns = [*keys, "households", *wide.columns, "visits_required", "visits_done",
               "visit_completion", "incidents_reported", "share_resolved", "overdue"]  # fmt: skip
    return out[columns]


# -------------------------------------------------------------------------------------- funding

#: Xihua: 10 yuan per registered resident per year.
YUAN_PER_RESIDENT_YEAR = 10.0
#: Xihua: 20 % of the year's fund paid to the township each quarter.
QUARTERLY_SHARE = 0.20
#: Xihua: every worker gets 20-100 yuan a month (phone allowance).
ALLOWANCE_YUAN_MONTH = (20.0, 100.0)


def funding(
    townships: pd.DataFrame,
    *,
    yuan_per_resident: float = YUAN_PER_RESIDENT_YEAR,
    quarterly_share: float = QUARTERLY_SHARE,
    allowance: tuple[float, float] = ALLOWANCE_YUAN_MONTH,
) -> pd.DataFrame:
    """The grid fund per township, as the Xihua report sets it out. Pure; yuan throughout.

    How the report is read: "按照每年10元/人的标准列入财政预算，每季度向乡镇、办事处拨付20%的
    专项资金，其余预留资金作为奖励资金" -- the county budgets 10 yuan per *registered* resident
    per year; each quarter 20 % of that year's fund is paid to the township; what is not paid
    out is kept as the reward fund (for the quarterly star ratings). So four quarterly
    payments make 80 % of the year and 20 % is kept for rewards: 1,000 residents -> 10,000
    yuan a year, 2,000 paid each quarter, 8,000 paid over the year, 2,000 kept for rewards.
    (Reading "the rest" as 80 % kept would leave nothing for the second to fourth quarter's
    payments.) The allowance per worker ("每月平均20元~100元不等") is a range every worker is
    guaranteed; ``allowance_yuan_month`` is what the routine payments give each worker a
    month, and ``allowance_ok`` says whether that falls in the range.

    Parameters
    ----------
    townships
        Columns ``township_code``, ``residents`` (registered), optionally ``workers``.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``townships``: ``township_code, residents, annual_yuan,
        quarterly_payment_yuan, paid_per_year_yuan, reward_reserve_yuan`` and, with
        ``workers``, ``allowance_yuan_month`` and ``allowance_ok``.

    Raises
    ------
    DataError
        Missing columns or negative residents; a share outside [0, 0.25].
    """
    missing = [c for c in ("township_code", "residents") if c not in townships.columns]
    if missing:
        raise DataError(f"funding needs column(s) {', '.join(missing)}")
    if (townships["residents"] < 0).any():
        raise DataError("residents must be >= 0")
    if not 0 <= quarterly_share <= 0.25:
        raise DataError(f"quarterly_share must be in [0, 0.25], not {quarterly_share}")
    out = townships[["township_code", "residents"]].copy()
    out["annual_yuan"] = out["residents"] * float(yuan_per_resident)
    out["quarterly_payment_yuan"] = out["annual_yuan"] * quarterly_share
    out["paid_per_year_yuan"] = out["quarterly_payment_yuan"] * 4
    out["reward_reserve_yuan"] = out["annual_yuan"] - out["paid_per_year_yuan"]
    if "workers" in townships.columns:
        workers = townships["workers"].astype(float)
        out["workers"] = townships["workers"]
        out["allowance_yuan_month"] = (out["paid_per_year_yuan"] / 12 / workers).where(workers > 0)
        low, high = allowance
        out["allowance_ok"] = out["allowance_yuan_month"].between(low, high)
    return out


def township_funding(con: Connection | Engine, *, county_code: str, **options: Any) -> pd.DataFrame:
    """:func:`funding` for the townships of a county, residents summed from the households
    and workers counted from ``grid_worker``."""
    frame = store.township_residents(con, county_code=county_code)
    return funding(frame, **options)
