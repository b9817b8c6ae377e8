"""Publishing re-joins grid workers and open incidents to the new cells; history keeps the old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from geo import grids, incidents, plans
from geo.db import io, queries
from geo.db import scope as db_scope
from geo.errors import PlanError
from geo.frames import County

pytestmark = pytest.mark.db

COUNTY = "999001"


@pytest.fixture
def published(conn: Connection, small: County, built: grids.GridPlan) -> int:
    io.write_county(conn, small)
    plan_id = plans.save_plan(conn, built, county_code=COUNTY, name="base", created_by="x")
    plans.publish_plan(conn, plan_id, by="chief")
    incidents.sync_platforms(conn, "yanchi")
    return plan_id


def _village_cells(conn: Connection, plan_id: int, n: int) -> tuple[str, list[str]]:
    """A village with at least ``n`` cells and its cells, adjacent ones first."""
    villages = plans.plan_villages(conn, plan_id)
    village = villages.loc[villages["cells"] >= n, "village_code"].iloc[0]
    cells = plans.village_view(conn, plan_id, village).cells.set_index("code").geometry
    first = cells.index[0]
    touching = [c for c in cells.index[1:] if cells[first].touches(cells[c])]
    rest = [c for c in cells.index[1:] if c not in touching]
    return village, [first, *touching, *rest]


def _worker(conn: Connection, code: str, plan_id: int, cell: str) -> None:
    conn.execute(
        text(
            "INSERT INTO grid_worker (code, name, township_code, plan_id, cell_code) "
            "VALUES (:w, :n, :t, :p, :c)"
        ),
        {"w": code, "n": code, "t": cell.replace("-", "")[:9], "p": plan_id, "c": cell},
    )


def _report(conn: Connection, key: str, household: str) -> int:
    category = conn.execute(text("SELECT min(code) FROM incident_category")).scalar_one()
    intake = incidents.report(
        conn, key, category=category, source="whistle", household=household,
        reported_at=datetime.now(UTC) - timedelta(hours=2), actor="test",
    )  # fmt: skip
    return int(intake.id)


def _placed(conn: Connection, table: str, key: str, value: object) -> tuple:
    row = conn.execute(
        text(f"SELECT plan_id, cell_code FROM {table} WHERE {key} = :v"), {"v": value}
    ).one()
    return tuple(row)


def test_publish_rejoins_workers_and_open_incidents_and_keeps_history(
    conn: Connection, published: int
) -> None:
    village, (a, b, *_) = _village_cells(conn, published, 3)
    view = plans.village_view(conn, published, village)
    cell_of = view.households.set_index("code")["cell_code"]
    in_b = cell_of.index[cell_of == b].tolist()
    in_a = cell_of.index[cell_of == a].tolist()
    for code, cell in (("w-a", a), ("w-b", b)):
        _worker(conn, code, published, cell)
    open_b = _report(conn, "open-b", in_b[0])
    closed_b = _report(conn, "closed-b", in_b[1])
    open_a = _report(conn, "open-a", in_a[0])
    conn.execute(text("UPDATE incident SET status = 'closed' WHERE id = :i"), {"i": closed_b})
    assert _placed(conn, "incident", "id", open_b) == (published, b)

    draft = plans.copy_plan(conn, published, name="next", by="ana")
    merged = plans.merge_cells(conn, draft, a, b, expected_version=1, by="ana")
    keep = min(a, b)
    assert keep in set(merged.cells["code"])
    # the compare tab's preview: who would change cell, and where to (nothing written)
    workers, open_ = plans.rejoin_preview(conn, draft, village)
    assert dict(zip(workers["code"], workers["cell_after"], strict=True)) == {
        "w-a": keep, "w-b": keep
    }  # fmt: skip
    assert sorted(open_["id"]) == sorted([open_a, open_b])
    assert set(open_["cell_after"]) == {keep}
    assert _placed(conn, "grid_worker", "code", "w-b") == (published, b)
    untouched = next(v for v in plans.plan_villages(conn, draft)["village_code"] if v != village)
    assert all(frame.empty for frame in plans.rejoin_preview(conn, draft, untouched))
    done = plans.publish_plan(conn, draft, by="chief")

    assert (done.plan_id, done.archived) == (draft, published)
    assert (done.workers_rejoined, done.incidents_rejoined) >= (2, 2)
    # workers follow the households of their old cell; open incidents their point's cell
    assert _placed(conn, "grid_worker", "code", "w-a") == (draft, keep)
    assert _placed(conn, "grid_worker", "code", "w-b") == (draft, keep)
    assert _placed(conn, "incident", "id", open_b) == (draft, keep)
    assert _placed(conn, "incident", "id", open_a) == (draft, keep)
    # a closed incident stays in the cell it was handled in
    assert _placed(conn, "incident", "id", closed_b) == (published, b)

    history = plans.plan_rejoins(conn, draft).set_index(["kind", "key"])
    worker_b = history.loc[("worker", "w-b")]
    assert (worker_b["old_plan_id"], worker_b["old_cell_code"]) == (published, b)
    assert worker_b["new_cell_code"] == keep
    assert history.loc[("incident", str(open_b)), "old_cell_code"] == b
    assert ("incident", str(closed_b)) not in history.index
    assert set(history["by"]) == {"chief"}
    assert len(history) == done.workers_rejoined + done.incidents_rejoined

    # the wall's cell counts still sum to its headline
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(days=1)
    counts = queries.wall_unit_counts(conn, COUNTY, start=start, end=end)
    headline = queries.wall_headline(conn, COUNTY, start=start, end=end).iloc[0]
    assert int(counts["incidents"].sum()) == int(headline["reported"]) == 3
    open_on_plan = conn.execute(
        text("SELECT count(*) FROM incident WHERE plan_id = :p"), {"p": draft}
    ).scalar_one()
    assert open_on_plan == int(headline["open"]) == 2


def test_a_split_cells_worker_goes_where_most_of_its_households_went(
    conn: Connection, published: int
) -> None:
    village, (a, *_) = _village_cells(conn, published, 2)
    _worker(conn, "w-split", published, a)
    draft = plans.copy_plan(conn, published, name="split", by="ana")
    plans.split_cell(conn, draft, a, 2, expected_version=1, by="ana")
    moved = plans.publish_plan(conn, draft, by="chief")
    assert moved.workers_rejoined == 1
    after = plans.village_view(conn, draft, village).households
    before = plans.village_view(conn, published, village).households
    went = after.set_index("code").loc[before.loc[before["cell_code"] == a, "code"], "cell_code"]
    counts = went.value_counts()
    expected = min(counts.index[counts == counts.max()])  # ties: the lowest code
    assert _placed(conn, "grid_worker", "code", "w-split") == (draft, expected)


def test_first_publish_places_open_incidents_of_no_plan(
    conn: Connection, small: County, built: grids.GridPlan
) -> None:
    io.write_county(conn, small)
    incidents.sync_platforms(conn, "yanchi")
    household = small.households["code"].iloc[0]
    incident = _report(conn, "before-any-plan", household)
    assert _placed(conn, "incident", "id", incident) == (None, None)
    plan_id = plans.save_plan(conn, built, county_code=COUNTY, name="first", created_by="x")
    done = plans.publish_plan(conn, plan_id, by="chief")
    assert (done.archived, done.workers_rejoined, done.incidents_rejoined) == (None, 0, 1)
    cell = built.assignment.set_index("household_code").at[household, "cell_code"]
    assert _placed(conn, "incident", "id", incident) == (plan_id, cell)


@pytest.mark.parametrize("statement", ["UPDATE plan_rejoin SET by = 'x'", "DELETE FROM plan_rejoin",
                                       "TRUNCATE plan_rejoin"])  # fmt: skip
def test_the_rejoin_history_is_append_only(
    conn: Connection, published: int, statement: str
) -> None:
    _, (a, *_) = _village_cells(conn, published, 2)
    _worker(conn, "w-h", published, a)
    draft = plans.copy_plan(conn, published, name="h", by="ana")
    plans.publish_plan(conn, draft, by="chief")
    savepoint = conn.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))
    savepoint.rollback()
    assert len(plans.plan_rejoins(conn, draft)) == 1


def test_publishing_from_a_township_scope_is_refused_and_changes_nothing(
    conn: Connection, small: County, built: grids.GridPlan
) -> None:
    io.write_county(conn, small)
    plan_id = plans.save_plan(conn, built, county_code=COUNTY, name="narrow", created_by="x")
    township = small.townships["code"].iloc[0]
    with db_scope.scope(township, login="li"), pytest.raises(PlanError, match="li's scope"):
        plans.publish_plan(conn, plan_id, by="li")
    assert plans.describe_plan(conn, plan_id)["status"] == "draft"
    with db_scope.scope(COUNTY, login="chief"):
        assert plans.publish_plan(conn, plan_id, by="chief").archived is None
