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
from sqlalchemy import Connection, Engine, text

from geo import profiles, settings
from geo.db.models import INCIDENT_STATES
from geo.errors import DataError
from geo.frames import FIVE_COLOURS
from geo.incidents import DONE_STATES
from geo.privacy import suppress_small

TZ = settings.LOCAL_TZ
_DONE = ", ".join(f"'{s}'" for s in DONE_STATES)


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
    states = ", ".join(
        f"count(*) FILTER (WHERE i.status = '{s}') AS n_{s}" for s in INCIDENT_STATES
    )
    query = f"""
        WITH ev AS (
            SELECT e.incident_id,
                   count(*) FILTER (WHERE e.to_status = 'escalated') AS escalations,
                   count(*) FILTER (WHERE e.to_status = 'returned') AS returns
            FROM incident_event e JOIN incident i ON i.id = e.incident_id
            WHERE i.reported_at >= :start AND i.reported_at < :end
              AND e.to_status IN ('escalated', 'returned')
            GROUP BY 1
        )
        SELECT i.platform_code, i.township_code,
               CAST(i.reported_at AT TIME ZONE :tz AS date) AS day,
               count(*) AS incidents, {states},
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                   extract(epoch FROM i.accepted_at - i.reported_at) / 3600.0)
                   AS median_hours_to_accept,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                   extract(epoch FROM i.resolved_at - i.reported_at) / 3600.0)
                   AS median_hours_to_resolve,
               avg(CASE WHEN coalesce(i.resolved_at, CAST(:at AS timestamptz)) > i.due_at
                        THEN 1.0 ELSE 0.0 END) AS overdue_share,
               avg(i.satisfaction) AS satisfaction,
               coalesce(sum(ev.escalations), 0) AS escalations,
               coalesce(sum(ev.returns), 0) AS returns
        FROM incident i LEFT JOIN ev ON ev.incident_id = i.id
        WHERE i.reported_at >= :start AND i.reported_at < :end
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    """
    params = {"start": start, "end": end, "at": at or end, "tz": tz}
    frame = pd.read_sql(text(query), con, params=params)
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
    query = f"""
        SELECT i.status, i.tier, i.platform_code, count(*) AS incidents,
               count(*) FILTER (WHERE i.due_at < CAST(:at AS timestamptz)) AS overdue,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                   extract(epoch FROM CAST(:at AS timestamptz) - last.at) / 3600.0)
                   AS median_hours_waiting,
               max(extract(epoch FROM CAST(:at AS timestamptz) - last.at) / 3600.0)
                   AS max_hours_waiting
        FROM incident i
        CROSS JOIN LATERAL (
            SELECT max(e.at) AS at FROM incident_event e WHERE e.incident_id = i.id
        ) last
        WHERE i.status NOT IN ({_DONE})
        GROUP BY 1, 2, 3
    """
    now = at or pd.Timestamp.now(tz="UTC").to_pydatetime()
    frame = pd.read_sql(text(query), con, params={"at": now})
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
    current = conn.execute(
        text("SELECT code, colour FROM household WHERE code = :h FOR UPDATE"),
        {"h": household_code},
    ).first()
    if current is None:
        raise DataError(f"unknown household {household_code!r}")
    if current.colour == colour:
        return False
    conn.execute(
        text("UPDATE household SET colour = :c WHERE code = :h"),
        {"c": colour, "h": household_code},
    )
    conn.execute(
        text(
            "INSERT INTO household_colour_event (household_code, colour, changed_at, changed_by) "
            "VALUES (:h, :c, coalesce(CAST(:at AS timestamptz), clock_timestamp()), :by)"
        ),
        {"h": household_code, "c": colour, "at": at, "by": by},
    )
    return True


def colour_history(con: Connection | Engine, household_code: str) -> pd.DataFrame:
    """One household's colour changes, oldest first (personal data: not for walls)."""
    return pd.read_sql(
        text(
            "SELECT changed_at, colour, changed_by FROM household_colour_event "
            "WHERE household_code = :h ORDER BY changed_at, id"
        ),
        con,
        params={"h": household_code},
    )


_PLAN = """coalesce(CAST(:plan AS integer),
    (SELECT id FROM grid_plan WHERE status = 'published' AND county_code = :county))"""


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
    query = f"""
        SELECT a.cell_code, h.colour, count(*) AS households
        FROM cell_assignment a JOIN household h ON h.code = a.household_code
        WHERE a.plan_id = {_PLAN}
        GROUP BY 1, 2 ORDER BY 1, 2
    """
    frame = pd.read_sql(text(query), con, params={"plan": plan_id, "county": county_code})
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
    query = f"""
        WITH ch AS (
            SELECT household_code, changed_at, colour AS to_colour,
                   lag(colour) OVER (PARTITION BY household_code ORDER BY changed_at, id)
                       AS from_colour
            FROM household_colour_event WHERE household_code LIKE :prefix
        )
        SELECT a.cell_code, ch.from_colour, ch.to_colour, count(*) AS changes
        FROM ch JOIN cell_assignment a
          ON a.household_code = ch.household_code AND a.plan_id = {_PLAN}
        WHERE ch.changed_at >= :since AND ch.changed_at < :until
        GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS FIRST, 3
    """
    params = {"plan": plan_id, "county": county_code, "prefix": f"{county_code}%",
              "since": since, "until": until}  # fmt: skip
    frame = pd.read_sql(text(query), con, params=params)
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
    query = f"""
        WITH req(colour, required) AS (
            SELECT * FROM unnest(CAST(:colours AS text[]), CAST(:required AS integer[]))
        ), hh AS (
            SELECT w.code AS worker_code, h.code AS household, h.colour,
                   coalesce(req.required, 0) AS required
            FROM grid_worker w
            JOIN cell_assignment a ON a.plan_id = w.plan_id AND a.cell_code = w.cell_code
            JOIN household h ON h.code = a.household_code
            LEFT JOIN req ON req.colour = h.colour
        ), done AS (
            SELECT worker_code, household_code AS household, count(*) AS n FROM visit
            WHERE visited_at >= :start AND visited_at < :end GROUP BY 1, 2
        ), visits AS (
            SELECT hh.worker_code, hh.colour, count(*) AS households,
                   sum(hh.required) AS required, coalesce(sum(done.n), 0) AS done,
                   coalesce(sum(least(coalesce(done.n, 0), hh.required)), 0) AS credited
            FROM hh LEFT JOIN done USING (worker_code, household)
            GROUP BY 1, 2
        ), reported AS (
            SELECT e.actor AS worker_code, count(*) AS incidents_reported,
                   count(*) FILTER (WHERE i.status IN ({_DONE})) AS resolved,
                   count(*) FILTER (WHERE coalesce(i.resolved_at, CAST(:end AS timestamptz))
                                    > i.due_at) AS overdue
            FROM incident_event e JOIN incident i ON i.id = e.incident_id
            WHERE e.to_status = 'reported' AND e.at >= :start AND e.at < :end
            GROUP BY 1
        )
        SELECT w.code AS worker_code, w.name, w.township_code, w.cell_code, v.colour,
               coalesce(v.households, 0) AS households, coalesce(v.required, 0) AS required,
               coalesce(v.done, 0) AS done, coalesce(v.credited, 0) AS credited,
               coalesce(r.incidents_reported, 0) AS incidents_reported,
               coalesce(r.resolved, 0) AS resolved, coalesce(r.overdue, 0) AS overdue
        FROM grid_worker w
        LEFT JOIN visits v ON v.worker_code = w.code
        LEFT JOIN reported r ON r.worker_code = w.code
        ORDER BY 1, 5
    """
    params = {"colours": list(required), "required": list(required.values()),
              "start": start, "end": end}  # fmt: skip
    long = pd.read_sql(text(query), con, params=params)
    return _worker_frame(long)


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
    query = """
        SELECT t.code AS township_code, coalesce(r.residents, 0) AS residents,
               coalesce(w.workers, 0) AS workers
        FROM admin_unit t
        LEFT JOIN (SELECT left(code, 9) AS t, sum(residents) AS residents FROM household
                   WHERE code LIKE :prefix GROUP BY 1) r ON r.t = t.code
        LEFT JOIN (SELECT township_code AS t, count(*) AS workers FROM grid_worker
                   GROUP BY 1) w ON w.t = t.code
        WHERE t.level = 'township' AND t.code LIKE :prefix ORDER BY 1
    """
    frame = pd.read_sql(text(query), con, params={"prefix": f"{county_code}%"})
    return funding(frame, **options)
