"""The values of :mod:`geo.plans`: stored plans, edit operations and edit results.

This module imports no sibling: every other file of the package may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import geopandas as gpd
import pandas as pd
import shapely

from geo.grids import CellBounds, GridPlan

PLAN_OPS = ("move", "move_polygon", "split", "merge", "rebuild", "lock", "unlock", "fix_unassigned")
"""The edit operations, by the name :func:`geo.plans.edit_plan`'s ``op=`` keyword takes."""
OP_ARGUMENTS = {
    "move": ("household_codes", "to_cell"),
    "move_polygon": ("polygon", "to_cell"),
    "split": ("cell_code",),
    "merge": ("a", "b"),
    "rebuild": ("village_code",),
    "lock": ("cell_codes",),
    "unlock": ("cell_codes",),
    "fix_unassigned": ("village_code",),
}
"""The keywords each operation needs."""
OP_OPTIONS = {
    "move": (),
    "move_polygon": (),
    "split": ("k",),
    "merge": (),
    "rebuild": ("min_size", "max_size"),
    "lock": (),
    "unlock": (),
    "fix_unassigned": (),
}
"""The keywords each operation may also take."""
METRIC_KEYS = (
    "cells",
    "households",
    "residents",
    "villages",
    "share_within_bounds",
    "mean_pp",
    "min_size",
    "median_size",
    "max_size",
    "cells_flagged",
    "cells_non_contiguous",
    "villages_infeasible",
    "natural_units",
    "natural_units_split",
)
"""Plan-level metrics, in display order (the keys of :attr:`geo.grids.GridPlan.metrics`)."""
DEFAULT_BOUNDS = (CellBounds().min_size, CellBounds().max_size)
"""``CellBounds()`` as a ``(min_size, max_size)`` tuple (households)."""
CELL_TOLERANCE_M = 1.0
"""How far (metres) a cell may stick out of its village before publishing refuses it."""


@dataclass(frozen=True)
class Move:
    """Move households (by code) into ``to_cell`` of their own village."""

    household_codes: tuple[str, ...]
    to_cell: str
    op: ClassVar[str] = "move"

    def __post_init__(self) -> None:
        object.__setattr__(self, "household_codes", tuple(self.household_codes))


@dataclass(frozen=True)
class MovePolygon:
    """Move the households of ``to_cell``'s village whose point lies in ``polygon``.

    ``polygon`` is a shapely geometry in EPSG:4326, or a GeoSeries / GeoDataFrame in any CRS.
    """

    polygon: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame
    to_cell: str
    op: ClassVar[str] = "move_polygon"


@dataclass(frozen=True)
class Split:
    """Cut ``cell_code`` into ``k`` balanced parts (the first keeps the code)."""

    cell_code: str
    k: int = 2
    op: ClassVar[str] = "split"


@dataclass(frozen=True)
class Merge:
    """Merge adjacent cells ``a`` and ``b`` of one village under the smaller code."""

    a: str
    b: str
    op: ClassVar[str] = "merge"


@dataclass(frozen=True)
class Rebuild:
    """Cut one village's cells afresh, with ``bounds`` (default: the village's current ones).

    Bounds given are remembered for the village (``params.village_bounds``).
    """

    village_code: str
    bounds: CellBounds | None = None
    op: ClassVar[str] = "rebuild"


@dataclass(frozen=True)
class Lock:
    """Lock cells of one village: later edits leave them (and their households) exactly as
    they are, a rebuild of the village cuts only the rest; moving households into or out of
    them, splitting or merging them is refused until they are unlocked."""

    cell_codes: tuple[str, ...]
    op: ClassVar[str] = "lock"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cell_codes", tuple(self.cell_codes))


@dataclass(frozen=True)
class Unlock:
    """Unlock locked cells of one village (see :class:`Lock`)."""

    cell_codes: tuple[str, ...]
    op: ClassVar[str] = "unlock"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cell_codes", tuple(self.cell_codes))


@dataclass(frozen=True)
class FixUnassigned:
    """Put the village's households that are in no cell into adjacent cells.

    Each (by code) goes to the cell containing its point or one adjacent to that cell
    (sharing a boundary line), the nearest whose size stays within the village's maximum,
    else the smallest of them; locked cells take none.
    """

    village_code: str
    op: ClassVar[str] = "fix_unassigned"


Edit = Move | MovePolygon | Split | Merge | Rebuild | Lock | Unlock | FixUnassigned
"""Any edit operation of :func:`geo.plans.edit_plan`."""
EDIT_TYPES = (Move, MovePolygon, Split, Merge, Rebuild, Lock, Unlock, FixUnassigned)


@dataclass(frozen=True)
class StoredPlan:
    """A plan as stored: its row in ``grid_plan`` and the :class:`~geo.grids.GridPlan`.

    ``plan.inputs`` holds the county's households and villages when loaded with
    ``attach=True`` (needed by :func:`geo.grids.check_plan` and the pure edits).
    """

    id: int
    name: str
    county_code: str
    status: str
    version: int
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime | None
    published_at: datetime | None
    plan: GridPlan


@dataclass(frozen=True)
class EditResult:
    """What an edit did.

    Attributes
    ----------
    plan_id, version : int
        The plan and its new version (pass it as ``expected_version`` to the next edit).
    op, village_code : str
        The operation (one of :data:`PLAN_OPS`) and the one village it re-tessellated.
    metrics : dict
        Plan-level metrics after the edit (same keys as :attr:`geo.grids.GridPlan.metrics`).
    village_metrics : dict
        The same figures for the edited village alone.
    violations : DataFrame
        Rule violations in the edited village (:func:`geo.grids.check_plan`); empty if clean.
    cells : GeoDataFrame
        The village's new cells (EPSG:4326, :data:`geo.grids.CELL_COLUMNS`).
    seconds : float
        Wall-clock time of the edit.
    summary : str
        One line saying what was done (also stored in the plan's history).
    moved : int
        Households of the village that changed cell.
    bounds : CellBounds or None
        The village's bounds after the edit.
    """

    plan_id: int
    version: int
    op: str
    village_code: str
    metrics: dict
    village_metrics: dict
    violations: pd.DataFrame
    cells: gpd.GeoDataFrame
    seconds: float
    summary: str = ""
    moved: int = 0
    bounds: CellBounds | None = None


@dataclass(frozen=True)
class Publication:
    """What publishing a plan did (:func:`geo.plans.publish_plan`).

    Attributes
    ----------
    plan_id : int
        The plan published.
    archived : int or None
        The county's previously published plan, now archived (None if there was none).
    workers_rejoined, incidents_rejoined : int
        Grid workers posted to the new plan's cells and open incidents placed in them
        (each recorded in ``plan_rejoin`` with its old cell).
    """

    plan_id: int
    archived: int | None
    workers_rejoined: int = 0
    incidents_rejoined: int = 0
