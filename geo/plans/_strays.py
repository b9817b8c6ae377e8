"""Fix unassigned (Districtr's equivalent): a village's households in no cell, put in one.

Households loaded after a plan was built are in no cell of it.  :func:`fix_unassigned`
gives each (in code order) to the cell containing its point or a cell adjacent to that one
(sharing a boundary line), measured in the plan's metric CRS: the nearest whose size stays
within the village's maximum, else the smallest of them.  The village is then
re-tessellated from the new assignment (:func:`geo.grids.cells_from_assignment`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo import grids
from geo.errors import DataError


def fix_unassigned(sub: grids.GridPlan, village_code: str) -> grids.GridPlan:
    """The village plan ``sub`` with its households in no cell assigned to adjacent cells.

    Raises
    ------
    DataError
        No household of the village is left out, or the village has no cell to take them.
    """
    households, a = sub.inputs.households, sub.assignment
    strays = households.loc[~households.index.isin(a.index)]
    if strays.empty:
        raise DataError(f"no household of village {village_code} is left out of a cell")
    if sub.cells.empty:
        raise DataError(f"village {village_code} has no cell to put its households in")
    cells = _strays_cells(sub, strays)
    added = pd.DataFrame(
        {
            "household_code": strays["code"].to_numpy(),
            "cell_code": cells,
            "village_code": strays["village_code"].to_numpy(),
            "natural_unit_code": strays["natural_unit_code"].to_numpy(),
        },
        index=strays.index,
    )
    assignment = pd.concat([a, added]).sort_index()
    bounds = sub.params.bounds
    tiled = grids.cells_from_assignment(
        households, sub.inputs.villages, assignment[["household_code", "cell_code"]], bounds=bounds
    )
    metrics = grids.plan_metrics(tiled, assignment, bounds)
    plan = grids.GridPlan(tiled, assignment, metrics, sub.params)
    return plan.attach(households, sub.inputs.villages)


def _strays_cells(sub: grids.GridPlan, strays: pd.DataFrame) -> list[str]:
    """The cell each stray household goes to (see the module's rule), in ``strays``' order."""
    crs = sub.inputs.metric_crs
    cells = sub.cells.to_crs(crs)
    geoms = cells.geometry.to_numpy()
    codes = cells["code"].to_numpy()
    sizes = dict(zip(codes, cells["households"].astype(int), strict=True))
    biggest = sub.params.bounds.max_size
    points = strays.geometry.to_crs(crs).representative_point().to_numpy()
    chosen = []
    for point in points:
        distance = shapely.distance(geoms, point)
        nearest = int(np.argmin(distance))
        near = shapely.relate_pattern(geoms, geoms[nearest], "****1****")
        near[nearest] = True
        order = [i for i in np.argsort(distance, kind="stable") if near[i]]
        fits = [i for i in order if sizes[codes[i]] + 1 <= biggest]
        pick = fits[0] if fits else min(order, key=lambda i: (sizes[codes[i]], distance[i]))
        sizes[codes[pick]] += 1
        chosen.append(str(codes[pick]))
    return chosen
