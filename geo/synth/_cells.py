"""Household counts that make the grid engine's cell count add up to a profile's ``cells``.

Private helper of :mod:`geo.synth` (steps 3 and 4 of :mod:`geo.synth._county`).

The default engine (:func:`geo.grids.build_plan`, natural units kept, bounds
``[cell_min, cell_max]``) works village by village:

* a natural unit whose size cannot be cut within the bounds (below ``cell_min``, or in a gap
  such as 51-59 households for 30-50) is merged with a neighbour first -- which one depends on
  the geometry, so the count that comes out is hard to foresee;
* every other unit of ``n`` households is cut into the feasible number of cells whose mean
  size is nearest the middle of the bounds, ``mid = (cell_min + cell_max) / 2``; a unit of at
  most ``cell_max`` households stays one cell.

So a unit is cut into exactly ``k`` cells, whatever its neighbours, when its size lies in
:func:`unit_range` ``(k)``: ``[cell_min, cell_max]`` for ``k = 1``, and for ``k >= 2`` the
sizes above ``cell_max`` and within ``[cell_min * k, cell_max * k]`` that are nearer
``k * mid`` than ``(k +- 1) * mid`` (strictly, so that no rounding tie decides).  For 30-50:
1 cell for 30-50 households, 2 for 61-99, 3 for 101-139, ``k`` for ``40k - 19 .. 40k + 19``.

The generator gives each village a household count in ``unit_range(cells)`` of its cell
target (:func:`village_bounds`), then hands each of its natural units a number of cells ``k``
(summing to the village's target) and a size in ``unit_range(k)`` (:func:`unit_sizes`).  The
ranges are sub-additive at the bottom and super-additive at the top, so any split of a
village's cells among its units can hold the village's households; the engine then cuts
exactly the profile's ``cells``.  This is a property of the engine's documented rule, checked
against the engine itself by the tests (``tests/synth``), not a second copy of it.
"""

from __future__ import annotations

import numpy as np

from geo.synth._alloc import allocate

__all__ = ["unit_range", "unit_sizes", "village_bounds"]


def unit_range(k: np.ndarray | int, cell_min: int, cell_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive household range ``(lo, hi)`` of a unit the engine cuts into ``k`` cells.

    Parameters
    ----------
    k : int or array of int
        Cells wanted (>= 1).
    cell_min, cell_max : int
        The cell bounds, households.

    Returns
    -------
    (lo, hi) : arrays of int
        Empty (``lo > hi``) where no size gives exactly ``k`` cells for these bounds.
    """
    k = np.asarray(k, dtype=np.int64)
    s = cell_min + cell_max  # 2 * mid; nearer k * mid than (k +- 1) * mid: |4n - 2ks| < s
    lo = np.maximum.reduce([cell_min * k, np.full_like(k, cell_max + 1), (2 * k * s - s) // 4 + 1])
    hi = np.minimum(cell_max * k, -(-(2 * k * s + s) // 4) - 1)
    one = k == 1
    return np.where(one, cell_min, lo), np.where(one, cell_max, hi)


def village_bounds(
    cells: np.ndarray, cell_min: int, cell_max: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Household bounds per village (``unit_range`` of its cell target), or None if empty.

    Any split of a village's cells among its natural units can hold a household count in
    these bounds (see the module docstring).
    """
    lo, hi = unit_range(cells, cell_min, cell_max)
    return None if (lo > hi).any() else (lo, hi)


def unit_sizes(
    households: int, cells: int, weights: np.ndarray, cell_min: int, cell_max: int
) -> np.ndarray | None:
    """Households per natural unit of one village such that the engine cuts ``cells`` cells.

    Each unit gets ``k >= 1`` cells (roughly in proportion to ``weights``, summing to
    ``cells``) and a size in :func:`unit_range` ``(k)``, the sizes summing to ``households``.

    Returns
    -------
    array of int or None
        One size per weight; None where it cannot be done (more units than cells, or
        ``households`` outside the range the split allows): the caller falls back to sizes
        that only honour the household total.
    """
    n = len(weights)
    if n == 0 or n > cells:
        return None
    k = allocate(cells, weights, 1, cells)
    lo, hi = unit_range(k, cell_min, cell_max)
    if (lo > hi).any() or lo.sum() > households or hi.sum() < households:
        return None
    return allocate(households, k.astype(float), lo, hi)
