"""Benchmark of the analytics layer: KDE, Gi* against esda, the hotspot pipeline, emerging.

Run: ``.venv/bin/python -m benchmarks.bench_analytics`` (about a minute on 2 cores).

Every baseline is measured in the same run on the same input, except ``gaussian_kde`` on
the full KDE case (hours): it is timed on 20,000 points × 200×200 and its cost, which grows
as points × grid cells, is scaled to 1,000,000 × 1,000,000 -- the printed ratio says so.
"""

from __future__ import annotations

import time
import warnings

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geo import _hex, heatmaps, hotspots

CENTRE = (107.41, 37.78)  # Yanchi County, degrees
ROWS: list[tuple[str, str, str, str]] = []


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def row(name: str, measured: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    ROWS.append((name, measured, target, verdict))
    print(f"  {name}: {measured}  [{target}] {verdict}", flush=True)


def bench_kde(rng: np.random.Generator) -> None:
    from scipy.stats import gaussian_kde

    n = 1_000_000
    x = rng.normal(0, 20_000, n)
    y = rng.normal(0, 15_000, n)
    side = 120_000.0
    bounds = (-side / 2, -side / 2, side / 2, side / 2)
    cell = side / 1000
    t, (dens, gb, cs, h) = best_of(
        lambda: heatmaps.kde_grid(x, y, bandwidth="scott", cell_size=cell, bounds=bounds)
    )
    # interior cells (>= 4 bandwidths from the edge): points outside the grid are not part
    # of the raster, so cells at the edge miss their outside neighbours by design
    margin = int(np.ceil(4 * h / cs))
    ri = rng.integers(margin, 1000 - margin, 200)
    ci = rng.integers(margin, 1000 - margin, 200)
    gx = gb[0] + (ci + 0.5) * cs
    gy = gb[3] - (ri + 0.5) * cs
    exact = heatmaps.kde_exact(x, y, gx, gy, h)
    err = np.abs(dens[ri, ci] - exact).max() / dens.max() * 100
    row("KDE 1M points -> 1000x1000 (numpy core)", f"{t:.3f} s", "<= 0.3 s", t <= 0.3)
    row(
        "KDE max error vs exact (200 interior cells)",
        f"{err:.4f} % of peak",
        "<= 0.5 %",
        err <= 0.5,
    )

    lon = CENTRE[0] + rng.normal(0, 0.2, n)
    lat = CENTRE[1] + rng.normal(0, 0.15, n)
    frame = gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs=4326)
    t_full, _ = best_of(lambda: heatmaps.kde_raster(frame, max_cells=1000), repeat=1)
    row("KDE 1M points from GeoDataFrame (+UTM projection, image)", f"{t_full:.3f} s", "", None)

    m = 20_000
    xs, ys = x[:m], y[:m]
    g = np.linspace(-60_000, 60_000, 200)
    gx2, gy2 = np.meshgrid(g, g)
    t0 = time.perf_counter()
    gaussian_kde(np.vstack([xs, ys]))(np.vstack([gx2.ravel(), gy2.ravel()]))
    t_scipy = time.perf_counter() - t0
    t_ours_small, _ = best_of(
        lambda: heatmaps.kde_grid(
            xs, ys, cell_size=600.0, bounds=(-60_300, -60_300, 60_300, 60_300)
        )
    )
    row(
        "scipy gaussian_kde 20k points x 200x200 (same-case ratio)",
        f"{t_scipy:.2f} s vs {t_ours_small * 1000:.1f} ms = {t_scipy / t_ours_small:,.0f}x",
        "baseline",
        None,
    )
    scaled = t_scipy * (n / m) * (1_000_000 / 40_000)
    row(
        "gaussian_kde scaled to 1M x 1000x1000 (estimate, x1250)",
        f"~{scaled / 3600:.1f} h -> ratio ~{scaled / t:,.0f}x",
        "scaled, not run",
        None,
    )


def hex_disk(radius: int) -> np.ndarray:
    centre = h3.latlng_to_cell(CENTRE[1], CENTRE[0], 9)
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, radius)), dtype=np.uint64)


def bench_gi_vs_esda(rng: np.random.Generator) -> None:
    import esda
    from libpysal.graph import Graph

    cells = hex_disk(182)  # 99,919 hexagons
    w = _hex.ring_weights(cells, k=1)
    y = rng.poisson(10, len(cells)).astype(float)
    graph = Graph.from_sparse(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_esda, ref = best_of(
            lambda: esda.G_Local(y, graph, transform="B", star=True, permutations=0), repeat=1
        )
    # like for like: esda returns z and normal p-values, no FDR
    t_ours, gi = best_of(lambda: hotspots.GiStar(fdr=False).fit(y, w), repeat=5)
    t_fdr, _ = best_of(lambda: hotspots.GiStar(fdr=True).fit(y, w), repeat=5)
    diff = np.abs(gi.z_ - ref.Zs).max()
    ratio = t_esda / t_ours
    row(f"esda G_Local, {len(cells):,} hexagons (baseline)", f"{t_esda:.2f} s", "", None)
    row(
        "GiStar.fit: z, p, bins (esda's outputs)",
        f"{t_ours * 1000:.1f} ms = {ratio:,.0f}x faster",
        ">= 50x",
        ratio >= 50,
    )
    row("GiStar.fit with FDR (BH) as well", f"{t_fdr * 1000:.1f} ms", "", None)
    row("max |z - esda z|", f"{diff:.1e}", "<= 1e-9", diff <= 1e-9)


def incidents(rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    lon = CENTRE[0] + rng.normal(0, 0.2, n)
    lat = CENTRE[1] + rng.normal(0, 0.15, n)
    return gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs=4326)


def bench_pipeline(rng: np.random.Generator) -> None:
    frame = incidents(rng, 1_000_000)
    t, out = best_of(lambda: hotspots.hex_hotspots(frame, resolution=9, geometry=False))
    row(
        f"pipeline 1M incidents -> {len(out):,} hexagons, weights, Gi*, FDR, bins",
        f"{t:.2f} s",
        "<= 1.5 s",
        t <= 1.5,
    )
    t_perm, _ = best_of(
        lambda: hotspots.hex_hotspots(
            frame, resolution=9, geometry=False, inference="permutation", permutations=999, seed=1
        ),
        repeat=1,
    )
    row("same with 999 permutations", f"{t_perm:.2f} s", "<= 5 s", t_perm <= 5)
    lon, lat = _hex.point_lonlat(frame)
    t_bin, _ = best_of(lambda: _hex.latlng_to_cells(lat, lon, 9), repeat=1)
    row("  of which: H3 binning (scalar h3 calls)", f"{t_bin:.2f} s", "", None)
    cells = np.sort(pd.unique(_hex.latlng_to_cells(lat, lon, 9)))
    t_fast, _ = best_of(lambda: _hex.ring_weights(cells, k=1), repeat=1)
    t_disk, _ = best_of(lambda: _hex._disk_weights(cells, 1), repeat=1)
    row(
        "  ring weights: local IJ vs grid_disk per cell",
        f"{t_fast:.2f} s vs {t_disk:.2f} s",
        "",
        None,
    )
    t_geom, _ = best_of(lambda: _hex.cell_polygons(cells), repeat=1)
    row("  hexagon polygons (not in the pipeline figure)", f"{t_geom:.2f} s", "", None)


def bench_emerging(rng: np.random.Generator) -> None:
    cells = hex_disk(81)  # 19,927 hexagons at res 9, about 2,100 km²
    n = 300_000
    pick = rng.integers(0, len(cells), n)
    lat, lon = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells]).T
    times = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 365 * 24 * 60, n), unit="min"
    )
    events = gpd.GeoDataFrame(
        {"reported_at": times},
        geometry=shapely.points(
            lon[pick] + rng.normal(0, 3e-4, n), lat[pick] + rng.normal(0, 3e-4, n)
        ),
        crs=4326,
    )
    t, out = best_of(lambda: hotspots.emerging_hotspots(events, resolution=9, freq="7D"), repeat=1)
    row(
        f"emerging: {n:,} incidents, {len(out):,} hexagons x {out.attrs['z'].shape[1]} weeks",
        f"{t:.2f} s",
        "<= 30 s",
        t <= 30,
    )


def main() -> None:
    rng = np.random.default_rng(20201)
    print("Wangge analytics benchmark (best of several runs where cheap)\n", flush=True)
    bench_kde(rng)
    bench_gi_vs_esda(rng)
    bench_pipeline(rng)
    bench_emerging(rng)
    width = max(len(r[0]) for r in ROWS)
    mwidth = max(len(r[1]) for r in ROWS)
    twidth = max(len(r[2]) for r in ROWS)
    print("\n" + "-" * (width + mwidth + twidth + 14))
    print(f"{'measure':<{width}}  {'measured':<{mwidth}}  {'target':<{twidth}}  result")
    print("-" * (width + mwidth + twidth + 14))
    for name, measured, target, verdict in ROWS:
        print(f"{name:<{width}}  {measured:<{mwidth}}  {target:<{twidth}}  {verdict}")


if __name__ == "__main__":
    main()
