"""SQL of the province pipeline: the ``county_result`` rows of per-county tasks.

Every function works inside the caller's transaction and never commits; a county's rows of
one run and task are replaced together (delete + insert), so a retried county leaves no
duplicate and a failed one no half result.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import JSONB

from geo.db.models_province import CountyResult

RESULT_COLUMNS = ("run_label", "task", "county_code", "unit_code", "figures")


def replace_results(
    conn: Connection, *, label: str, task: str, county_code: str, figures: pd.DataFrame
) -> int:
    """Store one county's result of a task: one row per unit; returns the rows written.

    Parameters
    ----------
    figures : DataFrame
        ``unit_code`` plus one column per figure (numbers, strings, booleans; NaN -> null).
    """
    table = CountyResult.__table__
    conn.execute(
        delete(table).where(
            table.c.run_label == label, table.c.task == task, table.c.county_code == county_code
        )
    )
    if figures.empty:
        return 0
    values = figures.drop(columns="unit_code")
    rows = [
        {
            "run_label": label,
            "task": task,
            "county_code": county_code,
            "unit_code": str(unit),
            "figures": json.loads(record),
        }
        for unit, record in zip(
            figures["unit_code"],
            values.to_json(orient="records", lines=True).splitlines(),
            strict=True,
        )
    ]
    stmt = insert(table).values(
        run_label=bindparam("run_label"),
        task=bindparam("task"),
        county_code=bindparam("county_code"),
        unit_code=bindparam("unit_code"),
        figures=bindparam("figures", type_=JSONB),
    )
    conn.execute(stmt, rows)
    return len(rows)


def read_results(
    con: Connection | Engine, *, label: str, task: str, county_code: str | None = None
) -> pd.DataFrame:
    """The stored rows of a run and task (one county if given), figures as columns.

    Returns
    -------
    DataFrame
        ``county_code``, ``unit_code`` and one column per figure, sorted by county and unit.
    """
    table = CountyResult.__table__
    query = select(table.c.county_code, table.c.unit_code, table.c.figures).where(
        table.c.run_label == label, table.c.task == task
    )
    if county_code is not None:
        query = query.where(table.c.county_code == county_code)
    query = query.order_by(table.c.county_code, table.c.unit_code)
    if isinstance(con, Engine):
        with con.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = con.execute(query).all()
    keys = pd.DataFrame({"county_code": [r.county_code for r in rows],
                         "unit_code": [r.unit_code for r in rows]})  # fmt: skip
    figures = pd.DataFrame([r.figures for r in rows], index=keys.index)
    return pd.concat([keys, figures], axis=1)
