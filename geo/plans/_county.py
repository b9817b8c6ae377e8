"""Which county a plan is of, its default bounds, and building a plan of a stored county."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Connection

from geo import grids, profiles
from geo.db import io, plan_store
from geo.errors import DataError
from geo.grids import CellBounds


def county_code_of(conn: Connection, county_code: str | None = None) -> str:
    """The county to work on: ``county_code`` if it exists, else the only county stored.

    Raises
    ------
    DataError
        No such county, no county at all, or several counties and none named.
    """
    codes = plan_store.county_codes(conn)
    if county_code is not None:
        if county_code not in codes:
            known = ", ".join(codes) or "none"
            raise DataError(f"no county {county_code} in the database (counties: {known})")
        return county_code
    if not codes:
        raise DataError("no county in the database; run `wangge synth` or `wangge load` first")
    if len(codes) > 1:
        raise DataError(f"several counties in the database ({', '.join(codes)}); name one")
    return codes[0]


def county_bounds(county_code: str) -> CellBounds:
    """Cell bounds of a county: its profile's ``cell_min``/``cell_max`` households.

    The profile is the one in ``data/profiles/`` with this ``county_code``; counties not
    generated from a profile get ``CellBounds()`` (30-50 households).
    """
    prof = profiles.profile_of_county(county_code)
    if prof is None:
        return CellBounds()
    return CellBounds(int(prof.cell_min), int(prof.cell_max))


def default_bounds(county_code: str) -> tuple[int, int]:
    """:func:`county_bounds` as a ``(min_size, max_size)`` tuple of households (the plans'
    ``DEFAULT_BOUNDS``, 30-50, for a county without a profile)."""
    bounds = county_bounds(county_code)
    return (bounds.min_size, bounds.max_size)


def build_county_plan(
    conn: Connection,
    *,
    county_code: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    bounds: CellBounds | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    on_village: Callable[[str, int, int], None] | None = None,
    keep_natural_units: bool = True,
) -> grids.GridPlan:
    """Read a county from PostGIS and build a plan of it with :func:`geo.grids.build_plan`.

    Bounds default to :func:`county_bounds`, with ``min_size``/``max_size`` (households)
    replaced where given, or ``bounds`` as a whole.  The plan is not saved (see
    :func:`geo.plans.save_plan`); ``plan.params.county_code`` is the county's code.

    Raises
    ------
    DataError
        Unknown county, or a county without households.
    ConfigError
        Bad bounds.
    """
    code = county_code_of(conn, county_code)
    bounds = grids.resolve_bounds(bounds, min_size, max_size, base=county_bounds(code))
    households = io.read_households(conn, under=code)
    naturals = io.read_admin(conn, "natural_unit", under=code)
    villages = io.read_admin(conn, "village", under=code)
    if households.empty:
        raise DataError(f"county {code} has no households in the database")
    plan = grids.build_plan(
        households,
        naturals,
        villages,
        bounds=bounds,
        seed=seed,
        n_jobs=n_jobs,
        on_village=on_village,
        keep_natural_units=keep_natural_units,
    )
    return replace(plan, params=replace(plan.params, county_code=code))
