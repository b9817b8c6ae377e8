"""The values of :mod:`geo.grids`: bounds, parameters, plans, diffs and the input contract.

This module imports no sibling: every other file of the package may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.errors import ConfigError, DataError
from geo.frames import ASSIGNMENT_COLUMNS, CELL_COLUMNS, check_columns
from geo.projection import same_crs, utm_crs

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "CELL_COLUMNS",
    "CHECK_RULES",
    "HOUSEHOLD_COLUMNS",
    "VILLAGE_COLUMNS",
    "CellBounds",
    "GridPlan",
    "PlanDiff",
    "PlanInputs",
    "PlanParams",
    "cell_code",
    "check_inputs",
    "resolve_bounds",
]

HOUSEHOLD_COLUMNS = ("code", "natural_unit_code", "village_code", "residents", "geometry")
VILLAGE_COLUMNS = ("code", "geometry")
CHECK_RULES = (
    "unassigned",
    "assigned_twice",
    "unknown_household",
    "unknown_cell",
    "wrong_village",
    "out_of_bounds",
    "non_contiguous",
    "outside_village",
    "household_outside_cell",
)


@dataclass(frozen=True)
class CellBounds:
    """How many households a grid cell may hold: ``min_size <= households <= max_size``.

    ``CellBounds()`` is the rule's default, 30-50 households per cell (one grid worker).

    Parameters
    ----------
    min_size, max_size : int
        Fewest and most households of a cell (counts; numpy integers are accepted).

    Raises
    ------
    ConfigError
        Not integers, or not ``1 <= min_size <= max_size``.
    """

    min_size: int = 30
    max_size: int = 50

    def __post_init__(self) -> None:
        lo, hi = self.min_size, self.max_size
        ints = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (lo, hi))
        if not ints:
            raise ConfigError(f"min_size and max_size must be integers, got {lo!r}, {hi!r}")
        if not 1 <= lo <= hi:
            raise ConfigError(f"need 1 <= min_size <= max_size, got {lo}, {hi}")
        object.__setattr__(self, "min_size", int(lo))
        object.__setattr__(self, "max_size", int(hi))

    def with_sizes(self, min_size: int | None = None, max_size: int | None = None) -> CellBounds:
        """These bounds with ``min_size`` and/or ``max_size`` replaced where given."""
        return CellBounds(
            self.min_size if min_size is None else min_size,
            self.max_size if max_size is None else max_size,
        )

    def contains(self, households: int) -> bool:
        """Whether a cell of ``households`` households is within the bounds."""
        return self.min_size <= households <= self.max_size


def resolve_bounds(
    bounds: CellBounds | None,
    min_size: int | None,
    max_size: int | None,
    *,
    base: CellBounds | None = None,
) -> CellBounds:
    """One :class:`CellBounds` from the ways a caller may give them.

    ``bounds`` wins; else ``min_size``/``max_size`` override ``base`` (default
    ``CellBounds()``) where given.

    Raises
    ------
    ConfigError
        Both ``bounds`` and ``min_size``/``max_size`` given, or bad bounds.
    """
    if bounds is not None:
        if min_size is not None or max_size is not None:
            raise ConfigError("give either bounds=CellBounds(...) or min_size/max_size, not both")
        if not isinstance(bounds, CellBounds):
            raise ConfigError(f"bounds must be a CellBounds, got {bounds!r}")
        return bounds
    return (base or CellBounds()).with_sizes(min_size, max_size)


_PARAM_KEYS = (
    "min_size",
    "max_size",
    "county_code",
    "seed",
    "metric_crs",
    "keep_natural_units",
    "village_bounds",
)


@dataclass(frozen=True)
class PlanParams:
    """How a plan was built: bounds, county, seed, metric CRS, natural-unit rule.

    Attributes
    ----------
    bounds : CellBounds
        Household bounds of the cells.
    county_code : str or None
        County part of the cell codes (None: the first 6 digits of the village code).
    seed : int
        Recorded only; the algorithm is deterministic.
    metric_crs : str or None
        The UTM CRS (e.g. ``"EPSG:32648"``) the plan was cut and measured in; None for a
        plan stored before it was recorded (:meth:`GridPlan.attach` fills it in).
    keep_natural_units : bool
        Whether natural units within the bounds stay one cell.
    village_bounds : mapping of str to CellBounds
        Bounds of villages rebuilt with other bounds than the plan's.
    locked_cells : frozenset of str
        Codes of the cells a planner locked (:mod:`geo.plans` keeps them through edits and
        rebuilds of their village); stored only when not empty.

    Stored as JSON by :meth:`to_json` / :meth:`from_json` (flat keys ``min_size``,
    ``max_size``, ``county_code``, ``seed``, ``metric_crs``, ``keep_natural_units``,
    ``village_bounds`` as ``{village: [min, max]}``, ``locked_cells`` as a sorted list).
    ``params["min_size"]`` reads a key of that JSON form, for code written when params were
    a dict.
    """

    bounds: CellBounds = field(default_factory=CellBounds)
    county_code: str | None = None
    seed: int = 0
    metric_crs: str | None = None
    keep_natural_units: bool = True
    village_bounds: Mapping[str, CellBounds] = field(default_factory=dict)
    locked_cells: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "locked_cells", frozenset(map(str, self.locked_cells)))
        if not isinstance(self.bounds, CellBounds):
            raise ConfigError(f"PlanParams.bounds must be a CellBounds, got {self.bounds!r}")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "keep_natural_units", bool(self.keep_natural_units))
        object.__setattr__(
            self, "village_bounds", {str(k): v for k, v in self.village_bounds.items()}
        )

    def bounds_for(self, village_code: str) -> CellBounds:
        """The bounds of one village: its own if it was rebuilt with others, else the plan's."""
        return self.village_bounds.get(str(village_code), self.bounds)

    def with_village_bounds(self, village_code: str, bounds: CellBounds) -> PlanParams:
        """These parameters with ``bounds`` remembered for ``village_code``."""
        return replace(self, village_bounds={**self.village_bounds, str(village_code): bounds})

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in ``grid_plan.params`` (plain values only)."""
        out: dict[str, Any] = {
            "min_size": self.bounds.min_size,
            "max_size": self.bounds.max_size,
            "county_code": self.county_code,
            "seed": self.seed,
        }
        if self.metric_crs is not None:
            out["metric_crs"] = self.metric_crs
        out["keep_natural_units"] = self.keep_natural_units
        if self.village_bounds:
            out["village_bounds"] = {
                v: [b.min_size, b.max_size] for v, b in self.village_bounds.items()
            }
        if self.locked_cells:
            out["locked_cells"] = sorted(self.locked_cells)
        return out

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any] | None, *, fallback: Mapping[str, Any] | None = None
    ) -> PlanParams:
        """Parameters from their JSON form; keys missing there are taken from ``fallback``.

        Rows stored by older versions lack some keys (``metric_crs``,
        ``keep_natural_units``): they get the defaults.  Unknown keys are ignored.
        """
        merged = {**(fallback or {}), **(data or {})}
        base = CellBounds()
        return cls(
            bounds=base.with_sizes(merged.get("min_size"), merged.get("max_size")),
            county_code=merged.get("county_code"),
            seed=merged.get("seed", 0),
            metric_crs=merged.get("metric_crs"),
            keep_natural_units=merged.get("keep_natural_units", True),
            village_bounds={
                str(v): CellBounds(int(b[0]), int(b[1]))
                for v, b in (merged.get("village_bounds") or {}).items()
            },
            locked_cells=frozenset(merged.get("locked_cells") or ()),
        )

    def __getitem__(self, key: str) -> Any:
        if key not in _PARAM_KEYS:
            raise KeyError(f"{key!r}; plan params have {', '.join(_PARAM_KEYS)}")
        return self.to_json()[key]


@dataclass(frozen=True, eq=False)
class PlanInputs:
    """The frames a plan was built from, kept (not copied) so that edits can re-tessellate.

    ``metric_crs`` is the UTM zone the plan is cut in (metres).
    """

    households: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    metric_crs: CRS


@dataclass(frozen=True, eq=False)
class GridPlan:
    """A grid plan: cells, the household -> cell assignment and plan-level metrics.

    Serialise it as ``cells`` (GeoDataFrame, EPSG:4326, columns :data:`CELL_COLUMNS`),
    ``assignment`` (DataFrame, columns :data:`ASSIGNMENT_COLUMNS`, one row per household,
    index aligned with the households frame), ``metrics`` (flat dict of numbers) and
    ``params`` (:class:`PlanParams`; a dict in its JSON form is converted).
    ``inputs`` is not part of the plan's value; re-attach it with :meth:`attach` after loading
    a plan from storage to use the edit operations.
    """

    cells: gpd.GeoDataFrame
    assignment: pd.DataFrame
    metrics: dict
    params: PlanParams
    inputs: PlanInputs | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.params, Mapping):
            object.__setattr__(self, "params", PlanParams.from_json(self.params))

    def metrics_frame(self) -> pd.DataFrame:
        """The plan metrics as a one-row DataFrame."""
        return pd.DataFrame([self.metrics])

    def attach(self, households: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> GridPlan:
        """This plan with the input frames attached (needed by the edit operations).

        A plan without a recorded metric CRS gets the UTM zone of ``villages``.

        Raises
        ------
        CRSError, DataError
            The frames break the input contract (see :func:`check_inputs`).
        """
        check_inputs(households, villages)
        params = self.params
        if params.metric_crs is None:
            params = replace(params, metric_crs=utm_crs(villages).to_string())
        crs = CRS.from_user_input(params.metric_crs)
        return replace(self, params=params, inputs=PlanInputs(households, villages, crs))


@dataclass(frozen=True, eq=False)
class PlanDiff:
    """What changed from plan ``a`` to plan ``b``.

    Attributes
    ----------
    moved : DataFrame
        ``household_code``, ``cell_before``, ``cell_after`` (None where absent).
    cells_added, cells_removed, cells_reshaped : list of str
        Cell codes only in ``b``, only in ``a``, and in both with other households or shape.
    summary : DataFrame
        ``measure``, ``a``, ``b``, ``change`` for the plan metrics.
    """

    moved: pd.DataFrame
    cells_added: list[str]
    cells_removed: list[str]
    cells_reshaped: list[str]
    summary: pd.DataFrame


def cell_code(village_code: str, number: int, county_code: str | None = None) -> str:
    """``{county}-{township3}-{village3}-{cell3}`` from a 12-digit village code."""
    v = str(village_code)
    if len(v) == 12 and v.isdigit():
        return f"{county_code or v[:6]}-{v[6:9]}-{v[9:12]}-{number:03d}"
    return f"{county_code + '-' if county_code else ''}{v}-{number:03d}"


def check_inputs(
    households: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    natural_units: gpd.GeoDataFrame | None = None,
) -> None:
    """Check the input contract of a plan: one CRS, columns, unique codes, valid geometry.

    Raises
    ------
    CRSError
        Missing or different CRSs.
    DataError
        Missing columns, duplicate codes, empty or invalid geometries, households of
        villages not in ``villages``, natural units in another village than their households.
    """
    frames = [households, villages] + ([natural_units] if natural_units is not None else [])
    same_crs(*frames)
    check_columns(households, HOUSEHOLD_COLUMNS, name="households")
    check_columns(villages, VILLAGE_COLUMNS, name="villages")
    for name, frame in (("households", households), ("villages", villages)):
        dup = frame["code"][frame["code"].duplicated()]
        if len(dup):
            raise DataError(f"{name} has duplicate code(s): {', '.join(map(str, dup[:10]))}")
        g = np.asarray(frame.geometry.values)
        bad = shapely.is_missing(g) | shapely.is_empty(g)
        if bad.any():
            raise DataError(f"{name} rows {list(frame.index[bad][:10])} have no geometry")
    invalid = ~shapely.is_valid(np.asarray(villages.geometry.values))
    if invalid.any():
        codes = villages.loc[invalid, "code"][:10]
        raise DataError(
            f"village geometries are invalid (self-intersecting?): {', '.join(map(str, codes))}; "
            "repair them first, e.g. with shapely.make_valid"
        )
    unknown = ~households["village_code"].isin(villages["code"])
    if unknown.any():
        codes = pd.unique(households.loc[unknown, "village_code"])[:10]
        raise DataError(f"households refer to villages not in `villages`: {', '.join(codes)}")
    if natural_units is not None and {"code", "parent_code"} <= set(natural_units.columns):
        _check_natural_units(households, natural_units)


def _check_natural_units(households: gpd.GeoDataFrame, natural_units: gpd.GeoDataFrame) -> None:
    nu = natural_units.set_index("code")["parent_code"]
    hh_nu = households[["natural_unit_code", "village_code"]].drop_duplicates()
    parent = hh_nu["natural_unit_code"].map(nu)
    wrong = parent.notna() & (parent != hh_nu["village_code"])
    if wrong.any():
        codes = hh_nu.loc[wrong, "natural_unit_code"][:10]
        raise DataError(
            f"natural units in another village than their households: {', '.join(map(str, codes))}"
        )
