"""Per-village jobs of :mod:`geo.grids`: household seeds, partition + tessellation + repair.

Everything here works on numpy arrays and shapely geometries in metres (UTM), one village per
job, so that villages can be farmed out to worker processes (``n_jobs``) by chunk.

Why a plain ``ProcessPoolExecutor`` and not dask: villages are independent and a county has a
few hundred of them, so a handful of chunks balanced by household count keeps two cores busy
with one pickle round-trip per chunk; dask would add a scheduler and a dependency for no gain
at county scale.  Province scale maps :func:`geo.grids.build_plan` over counties instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.grids._partition import partition_village
from geo.grids._polish import polish_labels
from geo.grids._rejoin import rejoin
from geo.grids._tessellate import neighbour_for, seed_cells, spread_duplicates, tessellate
from geo.grids._types import CellBounds

#: Most corners of a courtyard polygon used as Voronoi seeds.
MAX_CORNERS = 8
#: Corners are pulled this share of the way towards the household's point (avoids ties with
#: a neighbour's coinciding corner).
CORNER_PULL = 0.1
#: Rounds of moving detached household pieces to a neighbouring cell.
REPAIR_ROUNDS = 4
#: ``prctl`` option: the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


@dataclass
class Seeds:
    """Households as metric points: representative points plus Voronoi seeds."""

    rep_xy: np.ndarray  # (n, 2) metres
    seeds: np.ndarray  # (m, 2) metres
    owner: np.ndarray  # (m,) household position 0..n-1 of each seed


def rep_points(geometry: gpd.GeoSeries) -> np.ndarray:
    """A point per household (in the frame's CRS): the point itself, or a point on the
    surface of a courtyard polygon."""
    geoms = np.asarray(geometry.values)
    is_point = shapely.get_type_id(geoms) == 0
    out = geoms.copy()
    if (~is_point).any():
        out[~is_point] = shapely.point_on_surface(geoms[~is_point])
    return out


def household_seeds(geometry: gpd.GeoSeries, metric_crs: CRS, *, corners: bool = True) -> Seeds:
    """Representative points and Voronoi seeds of households, in ``metric_crs`` metres."""
    geoms = np.asarray(geometry.values)
    n = len(geoms)
    is_point = shapely.get_type_id(geoms) == 0
    rep = rep_points(geometry)
    to_metric = Transformer.from_crs(geometry.crs, metric_crs, always_xy=True)
    rx, ry = to_metric.transform(shapely.get_x(rep), shapely.get_y(rep))
    rep_xy = np.column_stack([rx, ry])
    seeds, owner = spread_duplicates(rep_xy), np.arange(n)
    if corners and (~is_point).any():
        poly_idx = np.flatnonzero(~is_point)
        rings = shapely.get_exterior_ring(shapely.get_geometry(geoms[poly_idx], 0))
        coords, ring = shapely.get_coordinates(rings, return_index=True)
        if len(coords):
            # drop each ring's closing vertex, keep at most MAX_CORNERS evenly spaced
            counts = np.bincount(ring, minlength=len(poly_idx))
            start = np.concatenate([[0], np.cumsum(counts)[:-1]])
            pos = np.arange(len(ring)) - start[ring]
            usable = np.maximum(counts[ring] - 1, 1)
            step = np.ceil(usable / MAX_CORNERS).astype(np.int64)
            keep = (pos < counts[ring] - 1) & (pos % step == 0)
            coords, ring = coords[keep], ring[keep]
            cx, cy = to_metric.transform(coords[:, 0], coords[:, 1])
            own = poly_idx[ring]
            cxy = np.column_stack([cx, cy])
            cxy = cxy + CORNER_PULL * (rep_xy[own] - cxy)
            seeds = spread_duplicates(np.concatenate([seeds, cxy]))
            owner = np.concatenate([owner, own])
    return Seeds(rep_xy=rep_xy, seeds=seeds, owner=owner)


@dataclass
class VillageJob:
    """Inputs of one village: its polygon and its households' seeds (metres)."""

    code: str
    village: shapely.Geometry
    rep_xy: np.ndarray
    seeds: np.ndarray
    owner: np.ndarray
    natural_units: np.ndarray | None  # None: labels are given
    labels: np.ndarray | None
    bounds: CellBounds
    repair: bool


@dataclass
class VillageResult:
    """Cell label per household (0..k-1) and the k cell polygons (metres)."""

    code: str
    labels: np.ndarray
    geoms: list


def _within(size: int, lo: int, hi: int) -> bool:
    return lo <= size <= hi


def run_village(job: VillageJob) -> VillageResult:
    """Partition (unless labels are given), polish, tessellate and repair one village.

    The polished labels (:func:`polish_labels`, boundary moves that raise Polsby-Popper)
    are kept only if every tessellated cell comes out in one piece; otherwise the
    partition's own labels are used.

    When the fast partition leaves a cell in pieces that the repair cannot join, the
    slower strategies of :func:`partition_village` are tried and the result with the fewest
    cells in pieces is kept (the first, on a tie); cells still in pieces are then re-cut
    together with a neighbour (:func:`geo.grids._rejoin.rejoin`).
    """
    shapely.prepare(job.village)
    cells = seed_cells(job.seeds, job.village) if len(job.seeds) > 1 else None
    if job.labels is not None:
        labels = job.labels.copy()
        geoms, _ = tessellate(job.village, job.rep_xy, job.seeds, job.owner, labels, cells)
        return VillageResult(code=job.code, labels=labels, geoms=geoms)
    best = None
    for strategy in STRATEGIES:
        labels = partition_village(
            job.rep_xy,
            job.natural_units,
            job.village,
            job.bounds.min_size,
            job.bounds.max_size,
            strategy=strategy,
        )
        if cells is not None:
            polished = polish_labels(
                labels,
                job.seeds,
                cells,
                job.village,
                job.natural_units,
                job.bounds.min_size,
                job.bounds.max_size,
            )
            p_labels, p_geoms = _repair(job, polished, cells)
            if not any(shapely.get_num_geometries(g) > 1 for g in p_geoms):
                labels, geoms = p_labels, p_geoms
            else:
                labels, geoms = _repair(job, labels, cells)
        else:
            labels, geoms = _repair(job, labels, cells)
        broken = sum(shapely.get_num_geometries(g) > 1 for g in geoms)
        if best is None or broken < best[0]:
            best = (broken, labels, geoms)
        if broken == 0:
            break
    broken, labels, geoms = best
    if broken and job.repair:
        labels, geoms = rejoin(
            job.village,
            job.rep_xy,
            job.seeds,
            job.owner,
            labels,
            geoms,
            cells,
            job.bounds.min_size,
            job.bounds.max_size,
        )
    return VillageResult(code=job.code, labels=labels, geoms=geoms)


#: Partition strategies tried in turn until every cell of the village is in one piece.
STRATEGIES = ("fast", "geodesic", "bisection")


def _repair(job: VillageJob, labels: np.ndarray, cells) -> tuple[np.ndarray, list]:
    """Tessellate; move detached household pieces to a neighbour where bounds allow."""
    geoms, detached = tessellate(job.village, job.rep_xy, job.seeds, job.owner, labels, cells)
    lo, hi = job.bounds.min_size, job.bounds.max_size
    for _ in range(REPAIR_ROUNDS if job.repair else 0):
        if not detached:
            break
        sizes = np.bincount(labels)
        moved = False
        for cell, members in detached:
            m = len(members)
            if m == 0 or sizes[cell] - m <= 0:
                continue
            for to in neighbour_for(cell, members, geoms, job.rep_xy):
                src_ok = _within(sizes[cell] - m, lo, hi) >= _within(sizes[cell], lo, hi)
                dst_ok = _within(sizes[to] + m, lo, hi) >= _within(sizes[to], lo, hi)
                if src_ok and dst_ok:
                    labels[members] = to
                    sizes[cell] -= m
                    sizes[to] += m
                    moved = True
                    break
        if not moved:
            break
        geoms, detached = tessellate(job.village, job.rep_xy, job.seeds, job.owner, labels, cells)
    return labels, geoms


def _run_chunk(jobs: list[VillageJob]) -> list[VillageResult]:
    return [run_village(j) for j in jobs]


def run_villages(
    jobs: list[VillageJob],
    *,
    n_jobs: int = 1,
    on_village: Callable[[str, int, int], None] | None = None,
) -> list[VillageResult]:
    """Run all village jobs, in worker processes by chunk when ``n_jobs > 1``."""
    total = len(jobs)
    results: list[VillageResult] = []
    if n_jobs <= 1 or total < 2:
        for done, job in enumerate(jobs, start=1):
            results.append(run_village(job))
            if on_village is not None:
                on_village(job.code, done, total)
        return results
    chunks = list(_chunks(jobs, n_chunks=min(total, 4 * n_jobs)))
    done = 0
    with worker_pool(n_jobs) as pool:
        futures = [pool.submit(_run_chunk, c) for c in chunks]
        for fut in as_completed(futures):
            part = fut.result()
            results.extend(part)
            for r in part:
                done += 1
                if on_village is not None:
                    on_village(r.code, done, total)
    order = {j.code: q for q, j in enumerate(jobs)}
    results.sort(key=lambda r: order[r.code])
    return results


def worker_pool(n_jobs: int) -> ProcessPoolExecutor:
    """A pool of ``n_jobs`` worker processes that die with the process that started them.

    On Linux each worker asks the kernel for SIGKILL when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``): a ``wangge grids build --jobs 2`` killed with ``kill -9``
    takes its workers with it, and with them their copies of the parent's database socket,
    so the server ends the session and its transaction instead of keeping its locks.
    """
    return ProcessPoolExecutor(
        max_workers=n_jobs, initializer=_die_with_parent, initargs=(os.getpid(),)
    )


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: SIGKILL this process when its parent exits (Linux; else a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _chunks(jobs: list[VillageJob], *, n_chunks: int) -> Iterable[list[VillageJob]]:
    """Split jobs into ``n_chunks`` lists of similar household counts (largest first)."""
    bins: list[list[VillageJob]] = [[] for _ in range(n_chunks)]
    load = np.zeros(n_chunks)
    for job in sorted(jobs, key=lambda j: -len(j.rep_xy)):
        b = int(np.argmin(load))
        bins[b].append(job)
        load[b] += len(job.seeds)
    return [b for b in bins if b]
