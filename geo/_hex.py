"""H3 helpers shared by :mod:`geo.heatmaps` and :mod:`geo.hotspots` (plumbing, not public).

Cells are handled as ``uint64`` numpy arrays (H3 v4 integer ids) inside ``geo`` and shown as
the usual 15-character hexadecimal strings in output frames.  The ``h3`` package has no
vectorised point-to-cell call, so :func:`latlng_to_cells` drives the compiled scalar
``latlng_to_cell`` through ``map`` (the fastest route measured: about 0.9 s per million
points on one core, against 1.5-2.1 s through the public Python wrappers).
"""

from __future__ import annotations

from itertools import repeat

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from h3._cy import cell_to_latlng as _cy_cell_to_latlng
from h3._cy import cell_to_local_ij as _cy_cell_to_local_ij
from h3._cy import grid_disk as _cy_grid_disk
from h3._cy import latlng_to_cell as _cy_latlng_to_cell
from scipy import sparse

from geo.errors import ConfigError, DataError
from geo.projection import STORAGE_CRS, require_crs


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is an H3 resolution (0..15), else raise ConfigError."""
    if not isinstance(resolution, int | np.integer) or not 0 <= int(resolution) <= 15:
        raise ConfigError(f"H3 resolution must be an integer 0..15, got {resolution!r}")
    return int(resolution)


def point_lonlat(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (degrees) of each geometry's representative point.

    Points are used as they are; polygons (household footprints) are reduced to a point on
    their surface.  The frame is converted to EPSG:4326 when it is in another CRS.

    Raises
    ------
    CRSError
        If the frame has no CRS.
    DataError
        If a geometry is missing or empty.
    """
    require_crs(frame, name="points")
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if not geoms.crs.equals(STORAGE_CRS):
        geoms = geoms.to_crs(STORAGE_CRS)
    arr = geoms.to_numpy()
    bad = shapely.is_missing(arr) | shapely.is_empty(arr)
    if bad.any():
        first = geoms.index[np.flatnonzero(bad)[0]]
        raise DataError(f"{int(bad.sum())} geometries are missing or empty (first at {first!r})")
    types = shapely.get_type_id(arr)
    if not (types == 0).all():
        arr = np.where(types == 0, arr, shapely.point_on_surface(arr))
    return shapely.get_x(arr), shapely.get_y(arr)


def latlng_to_cells(lat: np.ndarray, lng: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell (uint64) of each ``(lat, lng)`` pair in degrees."""
    n = len(lat)
    return np.fromiter(
        map(
            _cy_latlng_to_cell,
            np.asarray(lat, dtype=float).tolist(),
            np.asarray(lng, dtype=float).tolist(),
            repeat(int(resolution)),
        ),
        dtype=np.uint64,
        count=n,
    )


def factorize_sorted(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique cells and the position of each input cell among them.

    Same result as ``np.unique(cells, return_inverse=True)``, by hashing (pandas) and
    sorting only the unique values: about 4x faster for a million points.
    """
    codes, uniques = pd.factorize(pd.Series(cells, copy=False), sort=False)
    uniques = np.asarray(uniques, dtype=np.uint64)
    order = np.argsort(uniques)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return uniques[order], rank[codes]


def cells_to_str(cells: np.ndarray) -> np.ndarray:
    """Hexadecimal string ids of ``cells`` (object array)."""
    return np.array([format(int(c), "x") for c in cells], dtype=object)


def cells_from_any(cells) -> np.ndarray:
    """Cells given as hex strings or integers, as a uint64 array."""
    arr = np.asarray(cells)
    if arr.dtype.kind in "iu":
        return arr.astype(np.uint64)
    return np.array([h3.str_to_int(str(c)) for c in arr], dtype=np.uint64)


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """Hexagon (or pentagon) polygons of ``cells`` in EPSG:4326 (shapely array)."""
    rings = []
    for c in cells:
        boundary = h3.cell_to_boundary(format(int(c), "x"))  # ((lat, lng), ...)
        rings.append([(lng, lat) for lat, lng in boundary])
    return shapely.polygons(rings) if rings else np.array([], dtype=object)


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (degrees) of cell centres."""
    ll = np.array([_cy_cell_to_latlng(int(c)) for c in cells], dtype=float).reshape(-1, 2)
    return ll[:, 1], ll[:, 0]


def cell_areas_km2(cells: np.ndarray) -> np.ndarray:
    """Exact spherical area of each cell in km²."""
    return np.array([h3.cell_area(format(int(c), "x"), unit="km^2") for c in cells])


def ring_weights(cells: np.ndarray, *, k: int = 1) -> sparse.csr_matrix:
    """Binary H3 k-ring weights between ``cells`` (only cells present in the array).

    ``w[i, j] = 1`` when cell ``j`` lies within ``k`` grid steps of cell ``i`` (``i != j``);
    the diagonal is zero.  Rows follow the order of ``cells``; ids must be unique.

    The fast path places every cell in H3's local IJ coordinates around one origin
    (``cell_to_local_ij``, 0.3 µs a cell) and finds neighbours by integer offsets, where
    the hexagonal grid distance of an offset ``(di, dj)`` is ``max(|di|, |dj|, |di - dj|)``.
    Local IJ coordinates can fail or jump near pentagons or far from the origin, so the fast
    result is checked against ``grid_disk`` on a sample of cells, and the exact (slower,
    ``grid_disk`` per cell) path is used whenever anything fails or disagrees.

    Raises
    ------
    ConfigError
        If ``k`` is not a positive integer.
    DataError
        If ``cells`` holds duplicates.
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k (rings of neighbours) must be a positive integer, got {k!r}")
    cells = np.asarray(cells, dtype=np.uint64)
    n = len(cells)
    if n > 1 and (np.diff(np.sort(cells).astype(np.int64)) == 0).any():
        raise DataError("cells must be unique to build weights")
    if n == 0:
        return sparse.csr_matrix((0, 0))
    fast = _local_ij_weights(cells, int(k))
    if fast is not None and _agrees_with_disks(fast, cells, int(k)):
        return fast
    return _disk_weights(cells, int(k))


def _local_ij_weights(cells: np.ndarray, k: int) -> sparse.csr_matrix | None:
    """k-ring weights from local IJ coordinates, or None if H3 cannot place every cell."""
    n = len(cells)
    ordered = cells.tolist()
    origin = ordered[n // 2]
    try:
        ij = np.array([_cy_cell_to_local_ij(origin, c) for c in ordered], dtype=np.int64)
    except Exception:  # H3 raises when a cell is too far or behind a pentagon
        return None
    ij = ij.reshape(n, 2)
    lo = ij.min(axis=0) - k
    span = int(ij[:, 1].max() - lo[1]) + k + 1
    keys = (ij[:, 0] - lo[0]) * span + (ij[:, 1] - lo[1])
    order = np.argsort(keys)
    sorted_keys = keys[order]
    if (np.diff(sorted_keys) == 0).any():
        return None
    offsets = [
        (di, dj)
        for di in range(-k, k + 1)
        for dj in range(-k, k + 1)
        if 0 < max(abs(di), abs(dj), abs(di - dj)) <= k
    ]
    rows_l, cols_l = [], []
    for di, dj in offsets:
        target = keys + di * span + dj
        pos = np.minimum(np.searchsorted(sorted_keys, target), n - 1)
        hit = sorted_keys[pos] == target
        rows_l.append(np.flatnonzero(hit))
        cols_l.append(order[pos[hit]])
    rows = np.concatenate(rows_l)
    cols = np.concatenate(cols_l)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def _agrees_with_disks(w: sparse.csr_matrix, cells: np.ndarray, k: int, sample: int = 256) -> bool:
    """Whether ``w`` matches ``grid_disk`` on an evenly spread sample of rows."""
    n = len(cells)
    rows = np.unique(np.linspace(0, n - 1, min(sample, n)).astype(np.int64))
    exact = _disk_weights(cells, k, rows=rows)
    return (abs(exact - w[rows]) > 0).nnz == 0


def _disk_weights(cells: np.ndarray, k: int, rows: np.ndarray | None = None) -> sparse.csr_matrix:
    """k-ring weights from ``grid_disk`` of each cell (exact; about 8 µs a cell)."""
    n = len(cells)
    rows = np.arange(n) if rows is None else rows
    order = np.argsort(cells)
    sorted_cells = cells[order]
    disks = [np.asarray(_cy_grid_disk(int(cells[r]), k)) for r in rows]
    lengths = np.fromiter((len(d) for d in disks), dtype=np.int64, count=len(rows))
    row_idx = np.repeat(np.arange(len(rows)), lengths)
    nbrs = np.concatenate(disks).astype(np.uint64)
    pos = np.minimum(np.searchsorted(sorted_cells, nbrs), n - 1)
    found = sorted_cells[pos] == nbrs
    cols = order[pos[found]]
    row_idx = row_idx[found]
    keep = rows[row_idx] != cols
    return sparse.csr_matrix(
        (np.ones(int(keep.sum())), (row_idx[keep], cols[keep])), shape=(len(rows), n)
    )
