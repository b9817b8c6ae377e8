"""A county's four grid levels beside the report it was generated from.

The four-level grid of a county (docs/architecture.md): level 1 townships and sub-district
offices, level 2 villages and communities, level 3 natural units (the "grids" of the Yanchi
report), level 4 the cells of the published plan; then households and residents.
:func:`county_levels` lays one county's figures (a row of
:func:`geo.db.io.counts_by_level`) out as one row per level and, for a county generated from
a seed profile (:func:`geo.profiles.profile_of_county`), puts the report's figures beside
them with a mark where they differ.  ``wangge info`` and the County overview page both show
this frame, so the terminal and the browser always agree.

Example
-------
>>> import pandas as pd
>>> row = pd.Series({"county_code": "640323", "townships": 9, "villages": 119,
...                  "natural_units": 2009, "cells": pd.NA, "households": 68487,
...                  "residents": 173441})
>>> county_levels(row)["mark"].tolist()
['=', '=', '=', '', '=', '=']
"""

from __future__ import annotations

import pandas as pd

from geo import profiles

__all__ = [
    "LEVELS",
    "MARK_DIFFERS",
    "MARK_SAME",
    "MISSING",
    "county_levels",
    "figure_text",
    "levels_text",
]

#: Rows of :func:`county_levels`: (column of ``counts_by_level``, label shown).
LEVELS: tuple[tuple[str, str], ...] = (
    ("townships", "1 Townships 乡镇/街道"),
    ("villages", "2 Villages 村/社区"),
    ("natural_units", "3 Natural units 自然单元"),
    ("cells", "4 Cells 网格 (published plan)"),
    ("households", "Households 户"),
    ("residents", "Residents 人"),
)
#: Mark of a figure that equals the report's, and of one that differs from it.
MARK_SAME = "="
MARK_DIFFERS = "≠"
#: How a missing figure is shown (no published plan; no figure in the report).
MISSING = "–"


def county_levels(counts: pd.Series) -> pd.DataFrame:
    """One county's levels, its figures in the database and (if any) its report's.

    Parameters
    ----------
    counts : Series
        One row of :func:`geo.db.io.counts_by_level`: ``county_code`` and the counts of
        :data:`LEVELS` (``cells`` missing when the county has no published plan).

    Returns
    -------
    DataFrame
        One row per entry of :data:`LEVELS`, columns ``level`` (label), ``in_database``
        and ``report`` (nullable integers: ``report`` is missing for a county not generated
        from a seed profile, and for a level its profile gives no figure for, e.g. Yanchi's
        cells) and ``mark`` (:data:`MARK_DIFFERS` where both figures exist and differ,
        :data:`MARK_SAME` where they agree, else empty).
    """
    missing = [key for key, _ in LEVELS if key not in counts.index]
    if missing or "county_code" not in counts.index:
        raise KeyError(f"counts lack {', '.join(missing or ['county_code'])}")
    report = _report_figures(str(counts["county_code"]))
    frame = pd.DataFrame(
        {
            "level": [label for _, label in LEVELS],
            "in_database": pd.array([counts[key] for key, _ in LEVELS], dtype="Int64"),
            "report": pd.array([report.get(key) for key, _ in LEVELS], dtype="Int64"),
        }
    )
    both = frame["in_database"].notna() & frame["report"].notna()
    differs = both & (frame["in_database"] != frame["report"])
    frame["mark"] = ""
    frame.loc[both.to_numpy(dtype=bool), "mark"] = MARK_SAME
    frame.loc[differs.fillna(False).to_numpy(dtype=bool), "mark"] = MARK_DIFFERS
    return frame


def _report_figures(county_code: str) -> dict[str, int | None]:
    """The seed profile's figure per level ({} for a county without a profile)."""
    prof = profiles.profile_of_county(county_code)
    if prof is None:
        return {}
    return {
        "townships": prof.level1,
        "villages": prof.villages,
        "natural_units": prof.natural_units,
        "cells": prof.cells,
        "households": prof.households,
        "residents": prof.residents,
    }


def figure_text(value: object) -> str:
    """A count as shown: thousands separated by commas, :data:`MISSING` when missing."""
    return MISSING if pd.isna(value) else f"{int(value):,}"


def levels_text(levels: pd.DataFrame) -> pd.DataFrame:
    """:func:`county_levels` as text, the figures formatted by :func:`figure_text`, the
    ``report`` and ``mark`` columns left out for a county without a report."""
    shown = levels.assign(
        in_database=levels["in_database"].map(figure_text),
        report=levels["report"].map(figure_text),
    )
    if levels["report"].isna().all():
        shown = shown.drop(columns=["report", "mark"])
    return shown
