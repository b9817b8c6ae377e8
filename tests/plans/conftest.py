"""Shared fixtures of the plan tests: the "small" county (COUNTY 999001) and its plan."""

from __future__ import annotations

import pytest

from geo import grids
from geo.frames import County
from geo.synth import generate_county


@pytest.fixture(scope="module")
def small() -> County:
    """The "small" profile's county, seed 5 (county code 999001)."""
    return generate_county("small", seed=5)


@pytest.fixture(scope="module")
def built(small: County) -> grids.GridPlan:
    """The default engine's plan of :func:`small`."""
    return grids.build_plan(small.households, small.natural_units, small.villages)
