"""The workbench's side of geo.plans: versions with undo/redo, one village's view, plan refs."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from geo import grids, plans
from geo.db import io
from geo.errors import ConfigError, DataError, PlanError, StaleVersionError
from geo.frames import County

pytestmark = pytest.mark.db

COUNTY = "999001"


@pytest.fixture
def draft(conn: Connection, small: County, built: grids.GridPlan) -> int:
    io.write_county(conn, small)
    return plans.save_plan(conn, built, county_code=COUNTY, name="wb", created_by="ana")


def _rows(conn: Connection, plan_id: int) -> tuple:
    cells = conn.execute(
        text("SELECT code, households, ST_AsBinary(geom) FROM grid_cell WHERE plan_id = :p "
             "ORDER BY code"), {"p": plan_id}
    ).all()  # fmt: skip
    assigned = conn.execute(
        text("SELECT household_code, cell_code FROM cell_assignment WHERE plan_id = :p "
             "ORDER BY 1"), {"p": plan_id}
    ).all()  # fmt: skip
    params = conn.execute(
        text("SELECT params FROM grid_plan WHERE id = :p"), {"p": plan_id}
    ).scalar_one()
    return [tuple(r) for r in cells], [tuple(r) for r in assigned], params


def _two_cells(view: plans.VillageView) -> tuple[str, str]:
    codes = view.cells["code"].tolist()
    return codes[0], codes[1]


def _village_with_two_cells(conn: Connection, plan_id: int) -> str:
    villages = plans.plan_villages(conn, plan_id)
    return villages.loc[villages["cells"] >= 2, "village_code"].iloc[0]


def test_undo_puts_back_exactly_what_each_edit_replaced(conn: Connection, draft: int) -> None:
    village = _village_with_two_cells(conn, draft)
    view = plans.village_view(conn, draft, village)
    a, b = _two_cells(view)
    states = [_rows(conn, draft)]
    hh = view.households.loc[view.households["cell_code"] == b, "code"].iloc[0]
    plans.edit_plan(conn, draft, plans.Move((hh,), a), expected_version=1, by="bo")
    states.append(_rows(conn, draft))
    plans.edit_plan(conn, draft, plans.Split(a, 2), expected_version=2, by="bo")
    states.append(_rows(conn, draft))
    plans.edit_plan(conn, draft, plans.Rebuild(village, grids.CellBounds(10, 20)),
                    expected_version=3, by="cy")  # fmt: skip
    states.append(_rows(conn, draft))
    assert states[3][2]["village_bounds"] == {village: [10, 20]}

    r = plans.undo_edit(conn, draft, expected_version=4, by="cy")
    assert (r.version, r.op, r.village_code) == (5, "undo", village)
    assert _rows(conn, draft) == states[2]  # params too: the village's bounds are gone
    plans.undo_edit(conn, draft, expected_version=5, by="cy")
    assert _rows(conn, draft) == states[1]
    plans.redo_edit(conn, draft, expected_version=6, by="cy")
    assert _rows(conn, draft) == states[2]
    plans.undo_edit(conn, draft, expected_version=7, by="cy")
    plans.undo_edit(conn, draft, expected_version=8, by="cy")
    assert _rows(conn, draft) == states[0]
    with pytest.raises(PlanError, match="nothing to undo"):
        plans.undo_edit(conn, draft, expected_version=9, by="cy")
    # a new edit clears what could be redone
    plans.edit_plan(conn, draft, plans.Move((hh,), a), expected_version=9, by="bo")
    with pytest.raises(PlanError, match="nothing to redo"):
        plans.redo_edit(conn, draft, expected_version=10, by="bo")
    history = plans.plan_history(conn, "wb")
    assert history["version"].tolist() == list(range(2, 11))
    assert history["kind"].tolist() == ["edit"] * 3 + [
        "undo",
        "undo",
        "redo",
        "undo",
        "undo",
        "edit",
    ]
    assert history["created_by"].iloc[0] == "bo"
    metrics = plans.plan_metrics_from_db(conn, draft)
    stored = plans.describe_plan(conn, draft)["metrics"]
    assert metrics["cells"] == stored["cells"]
    # undo and redo update the stored metrics by the village's figures: the same as a re-read
    plans.undo_edit(conn, draft, expected_version=10, by="bo")
    stored = plans.describe_plan(conn, draft)["metrics"]
    assert stored == pytest.approx(plans.plan_metrics_from_db(conn, draft))


def test_stale_undo_is_refused_with_who_changed_it(conn: Connection, draft: int) -> None:
    village = _village_with_two_cells(conn, draft)
    a, _ = _two_cells(plans.village_view(conn, draft, village))
    plans.edit_plan(conn, draft, plans.Split(a, 2), expected_version=1, by="bo")
    with pytest.raises(StaleVersionError, match="at version 2, not 1: last changed by bo"):
        plans.undo_edit(conn, draft, expected_version=1, by="cy")


def test_village_view_has_every_rule(conn: Connection, draft: int) -> None:
    village = _village_with_two_cells(conn, draft)
    view = plans.village_view(conn, "wb", village)
    assert (view.plan_id, view.version, view.status, view.changed_by) == (draft, 1, "draft", "ana")
    assert view.households["cell_code"].notna().all()
    assert set(view.households["cell_code"]) == set(view.cells["code"])
    assert view.metrics["households"] == len(view.households)
    assert view.violations.empty
    assert view.left_out == []
    assert view.township_name
    assert view.village_name
    assert len(view.natural_units) >= 1
    a, b = _two_cells(view)
    movers = view.households.loc[view.households["cell_code"] == b, "code"].head(25).tolist()
    plans.edit_plan(conn, draft, plans.Move(tuple(movers), a), expected_version=1, by="bo")
    after = plans.village_view(conn, draft, village)
    assert "out_of_bounds" in set(after.violations["rule"])
    assert after.version == 2
    assert after.changed_by == "bo"
    with pytest.raises(DataError, match="no village"):
        plans.village_view(conn, draft, "123")


def test_plan_refs_and_names_that_look_like_ids(conn: Connection, draft: int, built) -> None:
    for ref in (draft, str(draft), f"#{draft}", f"id:{draft}", "wb", "name:wb"):
        assert plans.describe_plan(conn, ref)["id"] == draft
    for bad in ("2024", "#3", "id:9", "name:x", " "):
        with pytest.raises(ConfigError):
            plans.save_plan(conn, built, county_code=COUNTY, name=bad)
    # a plan stored with a name of digits (by hand, or before the rule) is reached by name:
    conn.execute(text("UPDATE grid_plan SET name = '2024' WHERE id = :p"), {"p": draft})
    assert plans.describe_plan(conn, "name:2024")["id"] == draft
    with pytest.raises(PlanError, match="the plan named '2024' is name:2024"):
        plans.describe_plan(conn, "2024")
