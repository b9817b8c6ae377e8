"""A province: the per-county pipeline for many counties at once, on a Dask cluster.

A province's centre wants the same products for every county: redrawn grids, a weekly hot
spot report, coverage tables.  Each county is one task on a Dask ``distributed`` client --
a :class:`~distributed.LocalCluster` of worker processes by default, or the scheduler of a
real cluster -- partitioned by county:

* a task opens the database itself (its URL is passed in), reads its county, computes, and
  writes its result back in **one transaction** (``county_result`` rows, or a grid plan), so
  a county that fails is retried, then reported, and never leaves half a result;
* the computation is the single-county library (:mod:`geo.synth`, :mod:`geo.plans`,
  :mod:`geo.hotspots`, :mod:`geo.coverage`), so a county computed on a cluster is identical
  to the same county computed on one machine (a test checks it).

Tasks (:data:`TASKS`):

``synth``
    generate a county from its (derived) profile and write it, optionally with months of
    synthetic incidents (:func:`synth_province` makes the profiles);
``build-grids``
    build the county's grid plan with the default engine and save it as a draft named by the
    run's label (published with ``publish=True``); figures: the plan's metrics;
``hotspots``
    Gi* (FDR) of incidents per household on the cells of the published plan over the last
    ``days`` days; figures per cell: incidents, households, z, p, q, bin (-3..3);
``coverage``
    assignment coverage of the published plan; figures per village: households, assigned,
    unassigned, assigned twice, share.

Example
-------
>>> import geo
>>> report = geo.province.run("build-grids", ["410101", "410102"], label="census-2026",
...                           workers=2)                                    # doctest: +SKIP
>>> report[["county_code", "status", "seconds"]]                             # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo import profiles
from geo.errors import ConfigError, DataError

__all__ = [
    "TASKS",
    "CountyOutcome",
    "county_profiles",
    "province_counties",
    "run",
    "run_county",
    "synth_province",
]

log = logging.getLogger(__name__)

TASKS = ("synth", "build-grids", "hotspots", "coverage")
#: Options each task accepts (anything else is refused, naming it).
TASK_OPTIONS: dict[str, tuple[str, ...]] = {
    "synth": ("months",),
    "build-grids": ("publish",),
    "hotspots": ("days",),
    "coverage": (),
}
OUTCOME_COLUMNS = ("county_code", "task", "status", "seconds", "rows", "worker", "error")


@dataclass(frozen=True)
class CountyOutcome:
    """How one county's task ended.

    Attributes
    ----------
    county_code, task : str
    status : str
        ``"done"`` or ``"failed"`` (after the retries).
    seconds : float
        Wall-clock time of the task on its worker (last attempt).
    rows : int
        Rows the task wrote (result rows, households of a generated county, cells of a plan).
    worker : str
        Address of the Dask worker, or ``"local"`` for a serial run.
    error : str or None
        One line: the error of the last attempt.
    """

    county_code: str
    task: str
    status: str
    seconds: float = float("nan")
    rows: int = 0
    worker: str = "local"
    error: str | None = None
    figures: dict[str, Any] = field(default_factory=dict, compare=False)


# --------------------------------------------------------------------------- the province


def county_profiles(
    province: str | profiles.ProvinceProfile, n: int, *, seed: int = 20201
) -> list[profiles.Profile]:
    """``n`` county profiles of a province, each with its own code, centre, size and name.

    Counties are drawn in turn from the province's seed profiles, their counts scaled by a
    factor from the province's ``scale`` range (deterministic per ``seed``), their centres
    laid on a grid inside the province's box.  County codes are
    ``{province}{prefecture:02d}{county:02d}``, twenty counties per prefecture.

    Raises
    ------
    ConfigError
        Unknown province, ``n`` outside 1..1980, or a derived profile that is not valid.
    """
    prov = province if isinstance(province, profiles.ProvinceProfile) else (
        profiles.load_province_profile(province)
    )  # fmt: skip
    if not 1 <= n <= 1980:
        raise ConfigError(f"a province holds 1 to 1980 counties, got {n}")
    rng = np.random.default_rng(seed)
    bases = [profiles.load_profile(b) for b in prov.base_profiles]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    x0, y0, x1, y1 = prov.bbox_lonlat
    out = []
    for k in range(n):
        base = bases[k % len(bases)]
        f = float(rng.uniform(*prov.scale))
        lon = x0 + (x1 - x0) * ((k % cols) + 0.5) / cols
        lat = y0 + (y1 - y0) * ((k // cols) + 0.5) / rows
        out.append(_derived(base, prov, k, f, (lon, lat)))
    return out


def _derived(base: profiles.Profile, prov: profiles.ProvinceProfile, k: int, f: float,
             centre: tuple[float, float]) -> profiles.Profile:  # fmt: skip
    """County ``k`` of the province: ``base`` scaled by ``f`` and moved to ``centre``."""
    raw = {key: v for key, v in base.raw.items() if not key.endswith("_names")}
    level1 = base.townships + base.subdistricts
    villages = max(level1, round(base.villages * f))
    natural_units = max(villages, round(base.natural_units * f))
    households = max(natural_units, round(base.households * f))
    code = f"{prov.code_prefix}{k // 20 + 1:02d}{k % 20 + 1:02d}"
    raw.update(
        name=f"{prov.name}-{code}",
        name_zh=f"{prov.name_zh}{code[2:]}县",
        county_code=code,
        centre_lonlat=[round(centre[0], 4), round(centre[1], 4)],
        area_km2=float(base.area_km2) * f,
        villages=villages,
        natural_units=natural_units,
        households=households,
        residents=round(base.residents * households / base.households),
        cells=None,
    )
    return profiles.profile_from_mapping(raw, source=f"province {prov.name}, county {k + 1}")


def province_counties(con: Any, prefix: str = "") -> list[str]:
    """Codes of the counties in the database whose code starts with ``prefix``, sorted."""
    from geo.db import queries

    codes = queries.county_codes(con)["code"].astype(str)
    return sorted(c for c in codes if c.startswith(prefix))


# --------------------------------------------------------------------------- running


def run(
    task: str,
    counties: Sequence[str] | Sequence[profiles.Profile],
    *,
    label: str,
    url: str | None = None,
    client: Any | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    retries: int = 1,
    options: dict[str, Any] | None = None,
    on_done: Callable[[CountyOutcome, int, int], None] | None = None,
) -> pd.DataFrame:
    """Run ``task`` for every county, one Dask task per county; one row per county.

    Parameters
    ----------
    task : str
        One of :data:`TASKS`.
    counties : sequence of str or Profile
        County codes (Profiles for ``"synth"``, see :func:`county_profiles`).
    label : str
        Names this run: the plan name of ``build-grids``, the ``run_label`` of results.
    url : str, optional
        Database URL the workers connect to (default: :attr:`geo.settings.Settings.url`).
    client : distributed.Client, optional
        An existing client.  Else ``scheduler`` (address of a running scheduler), else a
        new ``LocalCluster`` of ``workers`` single-threaded processes, closed at the end.
        ``workers=0`` runs the counties one after the other in this process (the
        single-machine reference).
    retries : int
        Extra attempts of a failed county before it is reported.
    options : dict, optional
        Task options (:data:`TASK_OPTIONS`); an unknown one is an error naming it.
    on_done : callable, optional
        Called as ``on_done(outcome, done, total)`` as each county ends (progress bars).

    Returns
    -------
    DataFrame
        :data:`OUTCOME_COLUMNS`, one row per county in the order given.

    Raises
    ------
    ConfigError
        Unknown task or option, bad ``workers``/``retries``, empty ``label``.
    """
    options = _check_run(task, counties, label, workers, retries, options)
    from geo.settings import get_settings

    url = url or get_settings().url
    ids = [c.county_code if isinstance(c, profiles.Profile) else str(c) for c in counties]
    if client is None and scheduler is None and workers == 0:
        outcomes = _run_serial(task, counties, ids, url, label, options, retries, on_done)
    else:
        outcomes = _run_dask(
            task, counties, ids, url, label, options, retries, on_done,
            client=client, scheduler=scheduler, workers=workers,
        )  # fmt: skip
    frame = pd.DataFrame([{c: getattr(o, c) for c in OUTCOME_COLUMNS} for o in outcomes])
    order = {code: i for i, code in enumerate(ids)}
    return frame.sort_values("county_code", key=lambda s: s.map(order), ignore_index=True)


def _check_run(task, counties, label, workers, retries, options) -> dict[str, Any]:
    if task not in TASKS:
        raise ConfigError(f"unknown province task {task!r}; tasks: {', '.join(TASKS)}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(TASK_OPTIONS[task]))
    if unknown:
        allowed = ", ".join(TASK_OPTIONS[task]) or "none"
        raise ConfigError(f"task {task!r} has no option {', '.join(unknown)}; options: {allowed}")
    if not label or not str(label).strip():
        raise ConfigError("a province run needs a non-empty label")
    if not isinstance(workers, int) or workers < 0:
        raise ConfigError(f"workers must be a whole number >= 0, got {workers!r}")
    if not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries must be a whole number >= 0, got {retries!r}")
    if not counties:
        raise ConfigError("no county to run: generate a province first (wangge synth --province)")
    return options


def _run_serial(task, items, ids, url, label, options, retries, on_done) -> list[CountyOutcome]:
    outcomes = []
    for n, (item, code) in enumerate(zip(items, ids, strict=True), start=1):
        for attempt in range(retries + 1):
            try:
                outcome = run_county(task, item, url=url, label=label, options=options)
                break
            except Exception as exc:
                outcome = _failed(task, code, exc)
                log.info("county %s, attempt %d of %s failed: %s", code, attempt + 1, task, exc)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome, n, len(ids))
    return outcomes


def _run_dask(task, items, ids, url, label, options, retries, on_done, *, client, scheduler,
              workers) -> list[CountyOutcome]:  # fmt: skip
    from distributed import Client, LocalCluster, as_completed

    owned: list[Any] = []
    if client is None:
        if scheduler is not None:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR,
            )  # fmt: skip
            client = Client(cluster)
            owned.append(cluster)
        owned.insert(0, client)
    try:
        token = uuid.uuid4().hex[:8]
        futures = {
            client.submit(
                run_county, task, item, url=url, label=label, options=options,
                key=f"{task}-{code}-{token}", retries=retries, pure=False,
            ): code
            for item, code in zip(items, ids, strict=True)
        }  # fmt: skip
        outcomes = []
        for n, future in enumerate(as_completed(futures), start=1):
            code = futures[future]
            if future.status == "finished":
                outcome = future.result()
            else:
                outcome = _failed(task, code, future.exception())
            outcomes.append(outcome)
            if on_done:
                on_done(outcome, n, len(ids))
        return outcomes
    finally:
        for thing in owned:
            thing.close()


def _failed(task: str, code: str, exc: BaseException | None) -> CountyOutcome:
    text = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else ""
    error = f"{type(exc).__name__}: {text}" if exc is not None else "unknown error"
    return CountyOutcome(county_code=code, task=task, status="failed", error=error)


# --------------------------------------------------------------------------- one county


def run_county(
    task: str,
    county: str | profiles.Profile,
    *,
    url: str,
    label: str,
    options: dict[str, Any] | None = None,
) -> CountyOutcome:
    """Run one task for one county in one transaction (what a Dask worker executes).

    Raises whatever the task raises (the runner retries, then reports it); nothing of the
    county's result is stored unless the whole task succeeds.
    """
    from geo.db.session import get_engine

    started = time.perf_counter()
    options = dict(options or {})
    code = county.county_code if isinstance(county, profiles.Profile) else str(county)
    work = _TASK_FUNCTIONS[task]
    with get_engine(url).begin() as conn:
        rows, figures = work(conn, county, label, **options)
    return CountyOutcome(
        county_code=code,
        task=task,
        status="done",
        seconds=round(time.perf_counter() - started, 3),
        rows=int(rows),
        worker=_worker_address(),
        figures=figures,
    )


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def _synth(conn, profile: profiles.Profile, label: str, *, months: int = 0):
    """Generate a county (seed from its code, so reruns are identical) and write it."""
    from geo import synth
    from geo.db import io

    if not isinstance(profile, profiles.Profile):
        raise ConfigError("the synth task takes county profiles (geo.province.county_profiles)")
    county = synth.generate_county(profile, seed=int(profile.county_code))
    io.clear_county(conn, profile.county_code)
    written = io.write_county(conn, county)
    if months:
        _synth_activity(conn, county, profile, months)
    return written["household"], {"households": written["household"]}


def _synth_activity(conn, county, profile: profiles.Profile, months: int) -> None:
    from geo import incidents, synth_activity
    from geo.db import activity

    now = pd.Timestamp.now(tz="UTC").floor("D")
    start = now - pd.Timedelta(days=round(30.44 * months))
    acts = synth_activity.generate_activity(
        county.households, seed=int(profile.county_code), start=start, months=months
    )
    acts.incidents = acts.incidents[acts.incidents["reported_at"] < now]
    incidents.sync_platforms(conn, profile)
    activity.write_activity(conn, acts, now=now)


def _build_grids(conn, code: str, label: str, *, publish: bool = False):
    """Build, save (and publish) the county's plan; figures: the plan's metrics."""
    from geo import plans

    built = plans.build_county_plan(conn, county_code=str(code), n_jobs=1)
    plan_id = plans.save_plan(conn, built, county_code=str(code), name=label, created_by="province")
    if publish:
        plans.publish_plan(conn, plan_id, by="province")
    metrics = {k: v for k, v in built.metrics.items() if k != "seconds"}
    return int(metrics["cells"]), {"plan_id": plan_id, **metrics}


def _published_cells(conn, code: str):
    from geo.db import queries

    plan_id = queries.published_plan_id(conn, code)
    if plan_id is None:
        raise DataError(
            f"county {code} has no published grid plan; run `wangge province build-grids "
            "--publish` first"
        )
    return plan_id, queries.plan_cells(conn, plan_id)


def _hotspots(conn, code: str, label: str, *, days: int = 30):
    """Gi* of incidents per household on the published cells; one result row per cell."""
    import geopandas as gpd

    from geo import hotspots
    from geo.db import province_store, queries

    plan_id, cells = _published_cells(conn, str(code))
    points = queries.incident_points(conn, str(code), days=int(days))
    joined = gpd.sjoin(points[["geometry"]], cells[["code", "geometry"]], predicate="within")
    counts = joined.groupby("code").size()
    cells = cells.assign(incidents=cells["code"].map(counts).fillna(0).astype(int))
    result = hotspots.gi_star(cells, "incidents", denominator="households", weights="queen")
    figures = pd.DataFrame(
        {
            "unit_code": result["code"],
            "plan_id": plan_id,
            "incidents": result["incidents"],
            "households": result["households"],
            "z": result["gi_z"],
            "p": result["gi_p"],
            "q": result["gi_q"],
            "bin": result["gi_bin"],
        }
    )
    rows = province_store.replace_results(
        conn, label=label, task="hotspots", county_code=str(code), figures=figures
    )
    hot = int((result["gi_bin"] > 0).sum())
    return rows, {"cells": len(result), "hot": hot, "incidents": int(cells["incidents"].sum())}


def _coverage(conn, code: str, label: str):
    """Assignment coverage of the published plan; one result row per village."""
    from geo import coverage
    from geo.db import io, province_store, queries

    plan_id, cells = _published_cells(conn, str(code))
    households = io.read_households(conn, under=str(code))
    assignment = queries.plan_assignment(conn, plan_id)
    result = coverage.assignment_coverage(households, assignment, cells)
    figures = result.by_village.rename(columns={"village_code": "unit_code"})
    rows = province_store.replace_results(
        conn, label=label, task="coverage", county_code=str(code), figures=figures
    )
    return rows, dict(result.summary)


_TASK_FUNCTIONS: dict[str, Callable[..., tuple[int, dict]]] = {
    "synth": _synth,
    "build-grids": _build_grids,
    "hotspots": _hotspots,
    "coverage": _coverage,
}


def synth_province(
    province: str,
    n: int,
    *,
    seed: int = 20201,
    months: int = 0,
    url: str | None = None,
    workers: int = 2,
    client: Any | None = None,
    scheduler: str | None = None,
    on_done: Callable[[CountyOutcome, int, int], None] | None = None,
) -> pd.DataFrame:
    """Generate ``n`` counties of ``province`` into the database (one task per county).

    See :func:`county_profiles` for how the counties differ and :func:`run` for the
    parameters.  Returns the outcomes, one row per county.
    """
    counties = county_profiles(province, n, seed=seed)
    options = {"months": int(months)} if months else {}
    return run(
        "synth", counties, label=f"synth-{province}", url=url, client=client,
        scheduler=scheduler, workers=workers, options=options, on_done=on_done,
    )  # fmt: skip
