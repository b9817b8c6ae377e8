"""Intake and moves under concurrent writers: 8 real processes against a fresh PostGIS database.

Between them the processes submit 10,000 incidents in overlapping batches (each key is sent
by two processes, and every process re-sends its first batch as a client retry would), partly
one by one; then all of them race to accept the same incidents. Exactly 10,000 incidents must
exist, each with exactly one ``reported`` event, and each contested incident must have been
accepted exactly once.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo import incidents
from geo.db import migrate, provision
from geo.db.io import write_county
from geo.db.session import get_engine
from tests._fixtures.county import tiny_county
from tests._fixtures.incident_plans import insert_plan

pytestmark = [pytest.mark.db, pytest.mark.slow]

N, PROCS, BATCH, CONTESTED, SINGLES = 10_000, 8, 1000, 100, 40
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _keys_for(proc: int) -> list[int]:
    """Keys of ``proc``: its own eighth and the next process' eighth (every key sent twice)."""
    own = list(range(proc, N, PROCS))
    other = list(range((proc + 1) % PROCS, N, PROCS))
    return sorted(own + other, key=lambda k: (k * 7919 + proc) % N)  # a per-process order


def _frame(keys: list[int], box: tuple[float, float, float, float]) -> pd.DataFrame:
    x0, y0, x1, y1 = box
    rng = np.random.default_rng(keys[0])
    return pd.DataFrame(
        {
            "client_key": [f"c-{k:05d}" for k in keys],
            "category_code": ["dispute", "fire", "safety", "sanitation"] * (len(keys) // 4)
            + ["dispute"] * (len(keys) % 4),
            "source": "whistle",
            "reported_at": [T0 + timedelta(seconds=k) for k in keys],
            "lon": rng.uniform(x0, x1, len(keys)),
            "lat": rng.uniform(y0, y1, len(keys)),
            "actor": [f"W{k % 50:03d}" for k in keys],
        }
    )


def _writer(url: str, proc: int, box: tuple[float, float, float, float]) -> int:
    engine = get_engine(url)
    keys = _keys_for(proc)
    singles, keys = keys[:SINGLES], keys[SINGLES:]  # a few go in one by one
    batches = [keys[i : i + BATCH] for i in range(0, len(keys), BATCH)]
    for batch in [*batches, batches[0]]:  # the first batch again: a client retry
        incidents.with_retries(engine, incidents.intake, _frame(batch, box), actor="bulk")
    row = _frame(singles, box)
    for r in row.itertuples():
        incidents.with_retries(
            engine, incidents.report, r.client_key, category=r.category_code, source=r.source,
            point=(r.lon, r.lat), reported_at=r.reported_at.to_pydatetime(), actor=r.actor,
        )  # fmt: skip
    engine.dispose()
    return len(keys) + len(singles)


def _acceptor(url: str, proc: int, ids: list[int]) -> int:
    engine = get_engine(url)
    won = 0
    for incident_id in ids[proc:] + ids[:proc]:
        try:
            incidents.with_retries(
                engine, incidents.transition, incident_id, "accepted",
                actor=f"township-{proc}", role="township",
            )  # fmt: skip
            won += 1
        except incidents.TransitionError:
            pass
    engine.dispose()
    return won


@pytest.fixture
def fresh_db(server_url):
    name = f"wangge_test_incidents_{uuid.uuid4().hex[:8]}"
    url = provision.create_database(server_url, name)
    try:
        migrate.upgrade(url)
        tiny = tiny_county()
        with get_engine(url).begin() as conn:
            write_county(conn, tiny)
            incidents.sync_platforms(conn, "small")
            x0, y0, x1, y1 = tiny.villages.total_bounds  # points well inside the villages
            x0, y0, x1, y1 = (
                x0 + (x1 - x0) / 10,
                y0 + (y1 - y0) / 10,
                x1 - (x1 - x0) / 10,
                y1 - (y1 - y0) / 10,
            )
            cells = tiny.villages[["code", "geometry"]].assign(village_code=tiny.villages["code"])
            insert_plan(conn, "999999", cells, name="villages as cells")
        yield url, (x0, y0, x1, y1)
    finally:
        get_engine(url).dispose()
        provision.drop_database(server_url, name)


def test_eight_writers_leave_exactly_n_incidents(fresh_db):
    url, box = fresh_db
    ctx = mp.get_context("spawn")
    with ctx.Pool(PROCS) as pool:
        pool.map(time.sleep, [0] * PROCS)  # start every process before timing the writes
        started = time.perf_counter()
        sent = pool.starmap(_writer, [(url, p, box) for p in range(PROCS)])
        print(f"8 writers: {time.perf_counter() - started:.1f} s")
    assert sum(sent) == 2 * N
    engine = get_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == N
        per = conn.execute(
            text(
                "SELECT count(*) AS events, count(DISTINCT incident_id) AS incidents, "
                "count(*) FILTER (WHERE to_status <> 'reported') AS other "
                "FROM incident_event"
            )
        ).one()
        assert (per.events, per.incidents, per.other) == (N, N, 0)
        unplaced = conn.execute(
            text("SELECT count(*) FROM incident WHERE village_code IS NULL")
        ).scalar_one()
        assert unplaced == 0
        keys = set(conn.execute(text("SELECT client_key FROM incident")).scalars())
        assert keys == {f"c-{k:05d}" for k in range(N)}
        contested = conn.execute(
            text("SELECT id FROM incident ORDER BY id LIMIT :n"), {"n": CONTESTED}
        ).scalars()
        ids = list(contested)

    with ctx.Pool(PROCS) as pool:
        won = pool.starmap(_acceptor, [(url, p, ids) for p in range(PROCS)])
    assert sum(won) == CONTESTED
    with engine.connect() as conn:
        accepted = conn.execute(
            text(
                "SELECT incident_id, count(*) FROM incident_event WHERE to_status = 'accepted' "
                "GROUP BY 1"
            )
        ).all()
        assert sorted(a for a, _ in accepted) == sorted(ids)
        assert {n for _, n in accepted} == {1}
        statuses = conn.execute(
            text("SELECT status, count(*) FROM incident GROUP BY 1 ORDER BY 1")
        ).all()
        assert [tuple(s) for s in statuses] == [
            ("accepted", CONTESTED),
            ("reported", N - CONTESTED),
        ]
    engine.dispose()
