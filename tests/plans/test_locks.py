"""Locked cells survive rebuilds and refuse edits; fix-unassigned puts strays in adjacent cells."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import Connection

from geo import grids, plans
from geo.db import io, plan_store
from geo.errors import DataError
from geo.frames import County

pytestmark = pytest.mark.db

COUNTY = "999001"


@pytest.fixture
def draft(conn: Connection, small: County, built: grids.GridPlan) -> int:
    io.write_county(conn, small)
    return plans.save_plan(conn, built, county_code=COUNTY, name="locks", created_by="ana")


def _village(conn: Connection, plan_id: int, cells: int = 3) -> plans.VillageView:
    villages = plans.plan_villages(conn, plan_id)
    code = villages.loc[villages["cells"] >= cells, "village_code"].iloc[0]
    return plans.village_view(conn, plan_id, code)


def _tiles(view: plans.VillageView) -> None:
    """Every household in exactly one cell of the village; the cells tile the village."""
    assert view.households["cell_code"].notna().all()
    assert set(view.households["cell_code"]) == set(view.cells["code"])
    metric = grids.metric_crs(view.outline)
    cells = view.cells.to_crs(metric).geometry
    village = view.outline.to_crs(metric).geometry.iloc[0]
    union = shapely.union_all(cells.to_numpy())
    assert abs(union.area - village.area) < 1e-3 * village.area
    assert abs(cells.area.sum() - union.area) < 1e-3 * village.area  # no overlaps


def test_a_rebuild_keeps_locked_cells_exactly(conn: Connection, draft: int) -> None:
    view = _village(conn, draft)
    locked = view.cells["code"].iloc[1]
    before = view.cells.set_index("code").loc[locked]
    members = sorted(view.households.loc[view.households["cell_code"] == locked, "code"])
    r = plans.lock_cells(conn, draft, [locked], expected_version=1, by="ana")
    assert (r.version, r.op, r.summary) == (2, "lock", f"lock cell(s) {locked}")
    assert plans.village_view(conn, draft, view.village_code).locked == {locked}

    plans.rebuild_village(conn, draft, view.village_code, min_size=10, max_size=20,
                          expected_version=2, by="ana")  # fmt: skip
    after = plans.village_view(conn, draft, view.village_code)
    kept = after.cells.set_index("code").loc[locked]
    assert shapely.equals_exact(kept.geometry, before.geometry, 0)
    assert int(kept["households"]) == int(before["households"])
    assert sorted(after.households.loc[after.households["cell_code"] == locked, "code"]) == members
    others = after.cells.loc[after.cells["code"] != locked, "households"]
    assert others.between(10, 20).all()  # the rest was cut with the new bounds
    assert after.cells["code"].is_unique
    _tiles(after)
    assert plans.publication_faults(conn, draft) == []

    # unlock is a version too, and undo puts the lock back
    plans.lock_cells(conn, draft, [locked], locked=False, expected_version=3, by="bo")
    assert plans.village_view(conn, draft, view.village_code).locked == frozenset()
    plans.undo_edit(conn, draft, expected_version=4, by="bo")
    assert plans.village_view(conn, draft, view.village_code).locked == {locked}


def test_edits_of_a_locked_cell_are_refused_and_change_nothing(
    conn: Connection, draft: int
) -> None:
    view = _village(conn, draft)
    a, b = view.cells["code"].iloc[0], view.cells["code"].iloc[1]
    plans.lock_cells(conn, draft, [a], expected_version=1, by="ana")
    in_a = view.households.loc[view.households["cell_code"] == a, "code"].iloc[0]
    in_b = view.households.loc[view.households["cell_code"] == b, "code"].iloc[0]
    refused = [
        plans.Split(a, 2),
        plans.Merge(a, b),
        plans.Move((in_b,), a),  # into a locked cell
        plans.Move((in_a,), b),  # out of one
        plans.Lock((a,)),
        plans.Unlock((b,)),
    ]
    for edit in refused:
        with pytest.raises(DataError) as info:
            plans.edit_plan(conn, draft, edit, expected_version=2, by="ana")
        message = str(info.value)
        assert "\n" not in message
        assert a in message or b in message
    assert "unlock" in str(_refusal(conn, draft, plans.Split(a, 2)))
    assert plans.describe_plan(conn, draft)["version"] == 2
    villages = plans.plan_villages(conn, draft)["village_code"]
    other = plans.village_view(conn, draft, villages[villages != view.village_code].iloc[0])
    with pytest.raises(DataError, match="one village's cells at a time"):
        plans.lock_cells(conn, draft, [b, other.cells["code"].iloc[0]], expected_version=2,
                         by="ana")  # fmt: skip


def _refusal(conn: Connection, plan_id: int, edit: plans.Edit) -> DataError:
    with pytest.raises(DataError) as info:
        plans.edit_plan(conn, plan_id, edit, expected_version=2, by="ana")
    return info.value


def test_moves_elsewhere_in_the_village_keep_a_locked_cell_exactly(
    conn: Connection, draft: int
) -> None:
    view = _village(conn, draft)
    a, b, c = view.cells["code"].iloc[:3]
    plans.lock_cells(conn, draft, [c], expected_version=1, by="ana")
    in_b = view.households.loc[view.households["cell_code"] == b, "code"].iloc[:3]
    plans.edit_plan(conn, draft, plans.Move(tuple(in_b), a), expected_version=2, by="ana")
    after = plans.village_view(conn, draft, view.village_code)
    g0 = view.cells.set_index("code").geometry[c]
    assert shapely.equals_exact(after.cells.set_index("code").geometry[c], g0, 0)
    _tiles(after)


def _leave_out(conn: Connection, plan_id: int, view: plans.VillageView, n: int) -> list[str]:
    """Take ``n`` households of the village out of every cell (rows written via plan_store)."""
    strays = view.households["code"].iloc[::7].iloc[:n].tolist()
    sub = plans.village_view(conn, plan_id, view.village_code)
    kept = sub.households.loc[~sub.households["code"].isin(strays)]
    assignment = kept.rename(columns={"code": "household_code"}).assign(
        village_code=view.village_code
    )[["household_code", "cell_code", "village_code", "natural_unit_code"]]
    plan_store.replace_village_rows(conn, plan_id, view.village_code, sub.cells, assignment)
    return strays


def test_fix_unassigned_puts_strays_in_adjacent_cells_within_bounds(
    conn: Connection, draft: int
) -> None:
    view = _village(conn, draft)
    strays = _leave_out(conn, draft, view, 4)
    left = plans.village_view(conn, draft, view.village_code)
    assert sorted(left.left_out) == sorted(strays)
    assert plans.publication_faults(conn, draft)  # not publishable like this

    r = plans.fix_unassigned_households(conn, draft, view.village_code, expected_version=1,
                                        by="ana")  # fmt: skip
    assert r.op == "fix_unassigned"
    assert "4 household(s) left out" in r.summary
    fixed = plans.village_view(conn, draft, view.village_code)
    assert fixed.left_out == []
    _tiles(fixed)
    cell_of = fixed.households.set_index("code")["cell_code"]
    geoms = left.cells.set_index("code").geometry
    points = left.households.set_index("code").geometry
    for code in strays:
        home = geoms.index[geoms.intersects(points[code])][0]
        given = cell_of[code]
        assert given == home or shapely.relate_pattern(geoms[home], geoms[given], "****1****")
    assert fixed.cells["households"].max() <= max(view.bounds.max_size,
                                                  left.cells["households"].max())  # fmt: skip
    assert plans.publication_faults(conn, draft) == []
    # undo takes the households out again
    plans.undo_edit(conn, draft, expected_version=2, by="ana")
    assert sorted(plans.village_view(conn, draft, view.village_code).left_out) == sorted(strays)


def test_fix_unassigned_with_nothing_left_out_is_refused(conn: Connection, draft: int) -> None:
    view = _village(conn, draft)
    with pytest.raises(DataError, match=r"no household of village \d+ is left out"):
        plans.fix_unassigned_households(conn, draft, view.village_code, expected_version=1,
                                        by="ana")  # fmt: skip
    assert plans.describe_plan(conn, draft)["version"] == 1
