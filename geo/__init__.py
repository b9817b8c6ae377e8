"""Wangge: geospatial analytics and mapping for county-level grid-based governance.

One home per concern: flat modules for concerns without private helpers (``heatmaps``,
``hotspots``, ``coverage``, ``maps`` ...) and packages whose ``__init__`` is their public face
for the rest (``grids``, ``plans``, ``load``, ``synth``, ``cli``, ``db``).  Concerns are
reached through the package so that calls read ``geo.grids.build_plan(...)`` or
``geo.hotspots.gi_star(...)`` (see ``docs/architecture.md``).  Modules are
imported on first use (PEP 562 ``__getattr__``) so that ``import geo`` stays fast even though
some modules pull in heavy libraries (PySAL, scikit-learn, Streamlit-free folium).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

__version__ = "0.1.0"

_MODULES = (
    "auth",
    "centre",
    "centre_maps",
    "cli",
    "coverage",
    "data",
    "db",
    "errors",
    "export",
    "frames",
    "grids",
    "heatmaps",
    "hotspots",
    "incidents",
    "load",
    "maps",
    "plan_maps",
    "plans",
    "privacy",
    "profiles",
    "projection",
    "province",
    "settings",
    "synth",
    "synth_activity",
    "wall",
)

__all__ = [*_MODULES, "connect", "__version__"]


def __getattr__(name: str) -> ModuleType | Callable:
    if name == "connect":  # the analysts' entry point, geo.data.connect
        connect = importlib.import_module(f"{__name__}.data").connect
        globals()["connect"] = connect
        return connect
    if name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'geo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
