"""Types and constants of the synthetic-county layout: the admin level being built
(:class:`Units`), how each natural unit is built (:class:`Layout`), the retryable
:class:`NoRoomError`, and the layout sizes (metres unless stated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.errors import DataError

#: Phase names passed to ``on_step``, in order.
STEPS = ("outline", "townships", "villages", "natural units", "households")

#: Share of households per five-colour status (red ... green): most need little attention.
COLOUR_SHARES = (0.01, 0.03, 0.08, 0.13, 0.75)

# Layout constants (metres unless stated).
SEAT_M2_PER_HOUSEHOLD = 300.0  # seat area per seat household (buildings, streets, parks)
SEAT_MIN_SHARE = 0.0015  # the seat covers at least this share of the county
COURTYARD = (10.0, 25.0)  # side of a rural courtyard
RURAL_PITCH = (13.5, 34.0)  # lot pitch in hamlets, adapted to the room available
RURAL_ASPECTS = (2.0, 3.0, 4.5)  # hamlets stretched along the road
PLOT = (76.0, 56.0)  # seat plot (building lot) on the street grid, largest size
TEMPLATE_HALF = 80  # lot templates span (2*80+1)^2 lots
FLAT_M2 = 12.0  # footprint area per flat (a flat is a cell of its building's footprint)
MAX_BUILDING_LENGTH = 60.0
LAYOUT_ATTEMPTS = 5  # natural units are drawn again if a unit has too little room
FLAT_GAP = 0.25  # inset of each flat inside its footprint cell, so flats never touch


class NoRoomError(DataError):
    """A natural unit's territory cannot hold its households (the layout is retried)."""


@dataclass
class Units:
    """One admin level while it is being built (metric CRS)."""

    geoms: np.ndarray  # MultiPolygon per unit
    parent: np.ndarray  # index into the level above
    kinds: np.ndarray
    names: np.ndarray
    codes: np.ndarray


@dataclass
class Layout:
    """How each natural unit is built: buildings, flats and lot sizes (metres)."""

    per_building: np.ndarray  # households per building (1 in hamlets)
    n_build: np.ndarray  # buildings (courtyards in hamlets)
    length: np.ndarray  # footprint length and depth of seat buildings
    depth: np.ndarray
    px: np.ndarray  # lot pitch along / across the road; the minimum pitch in hamlets
    py: np.ndarray
    town_angle: float = 0.0  # orientation of the seat's street grid, radians
