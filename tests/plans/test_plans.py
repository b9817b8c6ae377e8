"""Grid plans in PostGIS: save/load, edits with versions, diff, publish (geo.plans)."""

from __future__ import annotations

import math

import geopandas as gpd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from geo import grids, plans
from geo.db import io
from geo.errors import ConfigError, DataError
from geo.frames import County
from geo.synth import generate_county
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db

COUNTY = "999001"  # the "small" profile


@pytest.fixture
def db(conn: Connection, small: County) -> Connection:
    io.write_county(conn, small)
    return conn


@pytest.fixture
def draft(db: Connection, built: grids.GridPlan) -> int:
    return plans.save_plan(db, built, county_code=COUNTY, name="first", created_by="ana")


def _cell_of(conn: Connection, plan_id: int, household: str) -> str:
    return conn.execute(
        text("SELECT cell_code FROM cell_assignment WHERE plan_id = :p AND household_code = :h"),
        {"p": plan_id, "h": household},
    ).scalar_one()


def _neighbours(plan: grids.GridPlan) -> tuple[str, str]:
    """Two cells of one village sharing a boundary line."""
    cells = plan.cells
    for _, group in cells.groupby("village_code"):
        rows = list(group.itertuples())
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if shapely.relate_pattern(a.geometry, b.geometry, "****1****"):
                    return a.code, b.code
    raise AssertionError("no adjacent cells")


# --------------------------------------------------------------------------- save, load, list


def test_save_then_load_gives_back_the_same_plan(draft: int, db: Connection, built) -> None:
    stored = plans.load_plan(db, "first")
    assert (stored.id, stored.status, stored.version, stored.county_code) == (
        draft,
        "draft",
        1,
        COUNTY,
    )
    assert stored.created_by == "ana"
    plan = stored.plan
    assert sorted(plan.cells["code"]) == sorted(built.cells["code"])
    mine = plan.assignment.set_index("household_code")["cell_code"].sort_index()
    theirs = built.assignment.set_index("household_code")["cell_code"].sort_index()
    assert mine.equals(theirs)
    assert list(plan.cells.columns) == list(grids.CELL_COLUMNS)
    # a single-part cell comes back as a Polygon: the stored MultiPolygon is only storage
    assert set(plan.cells.geom_type) == {"Polygon"}
    got = plan.cells.set_index("code").geometry.to_crs(32648).area
    want = built.cells.set_index("code").geometry.to_crs(32648).area
    assert (got.sort_index() - want.sort_index()).abs().max() < 0.01  # m²
    # and it is checkable as loaded: a freshly built plan of the small county is clean
    violations = grids.check_plan(plan, plan.inputs.households, villages=plan.inputs.villages)
    assert violations.empty, violations.head()


def test_metrics_recomputed_from_the_database_agree_with_the_builder(
    draft: int, db: Connection, built
) -> None:
    mine = plans.plan_metrics_from_db(db, draft)
    theirs = {k: v for k, v in built.metrics.items() if k != "seconds"}
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert math.isclose(mine[key], value, rel_tol=1e-9), key


def test_list_plans_shows_status_version_cells_and_share(draft: int, db: Connection, built):
    listed = plans.list_plans(db, COUNTY)
    row = listed.loc[listed["id"] == draft].iloc[0]
    assert (row["name"], row["status"], row["version"]) == ("first", "draft", 1)
    assert row["cells"] == len(built.cells)
    assert row["households"] == 1200
    assert row["share_within_bounds"] == pytest.approx(built.metrics["share_within_bounds"])


def test_a_second_plan_of_the_same_name_is_refused(draft: int, db: Connection, built) -> None:
    with pytest.raises(plans.PlanError, match="already has a plan named 'first'"):
        plans.save_plan(db, built, county_code=COUNTY, name="first")


def test_unknown_plan_and_unknown_county_are_clear_errors(db: Connection, built) -> None:
    with pytest.raises(plans.PlanError, match="no plan 'nope'"):
        plans.load_plan(db, "nope")
    with pytest.raises(DataError, match="no county 123456"):
        plans.save_plan(db, built, county_code="123456", name="x")


def test_default_bounds_come_from_the_profile_else_30_50() -> None:
    assert plans.default_bounds(COUNTY) == (30, 50)
    assert plans.default_bounds("640323") == (30, 50)  # yanchi profile
    assert plans.default_bounds("000000") == plans.DEFAULT_BOUNDS


# --------------------------------------------------------------------------- the workflow


def test_workflow_build_edit_stale_diff_publish_archive(db: Connection, small: County) -> None:
    built = plans.build_county_plan(db)  # the only county in the database
    assert built.params["county_code"] == COUNTY
    first = plans.save_plan(db, built, county_code=COUNTY, name="v1", created_by="ana")
    second = plans.copy_plan(db, "v1", name="v2", by="bo")
    a, b = _neighbours(built)
    hh = built.assignment.loc[built.assignment["cell_code"] == a, "household_code"].iloc[0]

    # edit v2: move one household from cell a into neighbouring cell b
    result = plans.move_households(db, "v2", [hh], b, expected_version=1, by="bo")
    assert result.version == 2
    assert result.village_code == built.cells.set_index("code").loc[a, "village_code"]
    assert _cell_of(db, second, hh) == b
    assert _cell_of(db, first, hh) == a
    assert result.metrics["households"] == 1200
    sizes = result.cells.set_index("code")["households"]
    before = built.cells.set_index("code")["households"]
    assert (sizes[a], sizes[b]) == (before[a] - 1, before[b] + 1)

    # a planner still on version 1 is refused, told the version and who changed it
    with pytest.raises(plans.StaleVersionError, match=r"version 2, not 1.*last changed by bo"):
        plans.split_cell(db, "v2", a, 2, expected_version=1, by="cy")
    described = plans.describe_plan(db, "v2")
    assert (described["version"], described["updated_by"], described["status"]) == (
        2,
        "bo",
        "draft",
    )
    assert list(described["metrics"])[:2] == ["cells", "households"]

    # diff: exactly that household moved, a and b reshaped, nothing added or removed
    diff = plans.diff_plans(db, "v1", "v2")
    assert diff.moved.to_dict("records") == [
        {"household_code": hh, "cell_before": a, "cell_after": b}
    ]
    assert set(diff.cells_reshaped) == {a, b}
    assert diff.cells_added == []
    assert diff.cells_removed == []

    # publish v1, then v2: v1 is archived, one published plan for the county
    assert plans.publish_plan(db, "v1", by="chief").archived is None
    assert plans.publish_plan(db, "v2", by="chief").archived == first
    listed = plans.list_plans(db, COUNTY).set_index("name")
    assert listed.loc["v1", "status"] == "archived"
    assert listed.loc["v2", "status"] == "published"
    assert listed.loc["v2", "published_at"] is not None

    # a published plan is no longer edited in place
    with pytest.raises(plans.PlanError, match="is published; only a draft can be edited"):
        plans.split_cell(db, "v2", a, 2, expected_version=2, by="bo")


def test_publish_refuses_an_unassigned_household_and_names_it(draft: int, db) -> None:
    victim = db.execute(
        text(
            "DELETE FROM cell_assignment WHERE plan_id = :p AND household_code = "
            "(SELECT min(household_code) FROM cell_assignment WHERE plan_id = :p) "
            "RETURNING household_code"
        ),
        {"p": draft},
    ).scalar_one()
    with pytest.raises(plans.PlanError, match=rf"1 household\(s\) .* in no cell \(first: {victim}"):
        plans.publish_plan(db, draft, by="chief")
    assert plans.load_plan(db, draft, attach=False).status == "draft"


def test_publish_refuses_a_cell_outside_its_village(draft: int, db: Connection) -> None:
    cell = db.execute(
        text(
            "UPDATE grid_cell SET geom = ST_Translate(geom, 0.05, 0) WHERE plan_id = :p "
            "AND code = (SELECT min(code) FROM grid_cell WHERE plan_id = :p) RETURNING code"
        ),
        {"p": draft},
    ).scalar_one()
    with pytest.raises(
        plans.PlanError, match=rf"1 cell\(s\) outside their village \(first: {cell}"
    ):
        plans.publish_plan(db, draft, by="chief")


def test_publish_refuses_a_household_in_a_cell_of_another_village(draft: int, db) -> None:
    villages = db.execute(
        text("SELECT DISTINCT village_code FROM grid_cell WHERE plan_id = :p ORDER BY 1"),
        {"p": draft},
    ).scalars()
    v1, v2 = list(villages)[:2]
    db.execute(
        text(
            "UPDATE cell_assignment SET cell_code = (SELECT min(code) FROM grid_cell "
            "WHERE plan_id = :p AND village_code = :v2) WHERE plan_id = :p AND household_code = "
            "(SELECT min(code) FROM household WHERE village_code = :v1)"
        ),
        {"p": draft, "v1": v1, "v2": v2},
    )
    with pytest.raises(plans.PlanError, match="cell of another village"):
        plans.publish_plan(db, draft, by="chief")


# --------------------------------------------------------------------------- each edit


def test_split_adds_a_cell_and_leaves_other_villages_alone(draft: int, db, built) -> None:
    big = built.cells.sort_values("households").iloc[-1]
    result = plans.split_cell(db, draft, big["code"], 2, expected_version=1, by="ana")
    assert result.metrics["cells"] == len(built.cells) + 1
    parts = result.cells.loc[~result.cells["code"].isin(built.cells["code"])]
    assert len(parts) == 1
    sizes = sorted(
        [
            int(parts["households"].iloc[0]),
            int(result.cells.set_index("code").loc[big["code"], "households"]),
        ]
    )
    assert sum(sizes) == big["households"]
    assert sizes[1] - sizes[0] <= 1
    stored = plans.load_plan(db, draft)
    others = stored.plan.cells.loc[stored.plan.cells["village_code"] != big["village_code"]]
    same = built.cells.set_index("code").geometry.loc[others["code"]]
    assert shapely.equals_exact(others.geometry.values, same.values, tolerance=1e-9).all()
    # the village still tiles: its cells' union is the village outline
    v = stored.plan.inputs.villages.set_index("code").geometry.loc[big["village_code"]]
    mine = stored.plan.cells.loc[stored.plan.cells["village_code"] == big["village_code"]]
    assert shapely.union_all(mine.geometry.values).symmetric_difference(v).area < 1e-12


def test_merge_joins_two_neighbours_and_refuses_other_villages(draft: int, db, built) -> None:
    a, b = _neighbours(built)
    result = plans.merge_cells(db, draft, a, b, expected_version=1, by="ana")
    assert result.metrics["cells"] == len(built.cells) - 1
    keep = min(a, b)
    n = built.cells.set_index("code")["households"]
    assert result.cells.set_index("code").loc[keep, "households"] == n[a] + n[b]
    assert max(a, b) not in set(result.cells["code"])
    other = built.cells.loc[
        built.cells["village_code"] != built.cells.set_index("code").loc[keep, "village_code"],
        "code",
    ].iloc[0]
    with pytest.raises(DataError, match="different villages"):
        plans.merge_cells(db, draft, keep, other, expected_version=2, by="ana")


def test_metrics_after_each_edit_equal_a_full_recount(draft: int, db, built) -> None:
    """Edits update the plan metrics from the edited village alone; they must agree with
    the county-wide recount of plan_metrics_from_db after every kind of edit."""
    big = built.cells.sort_values("households").iloc[-1]
    a, b = _neighbours(built)
    village = built.cells["village_code"].iloc[-1]
    edits = [
        lambda v: plans.split_cell(db, draft, big["code"], 3, expected_version=v, by="ana"),
        lambda v: plans.merge_cells(db, draft, a, b, expected_version=v, by="ana"),
        lambda v: plans.rebuild_village(
            db, draft, village, min_size=12, max_size=20, expected_version=v, by="ana"
        ),
    ]
    for version, edit in enumerate(edits, start=1):
        result = edit(version)
        assert result.metrics == plans.plan_metrics_from_db(db, draft)


def test_rebuild_village_with_other_bounds_is_remembered(draft: int, db, built) -> None:
    village = built.cells["village_code"].iloc[0]
    result = plans.rebuild_village(
        db, draft, village, min_size=15, max_size=25, expected_version=1, by="ana"
    )
    assert result.cells["households"].between(15, 25).all()
    assert result.cells["within_bounds"].all()
    assert result.violations.empty
    stored = plans.load_plan(db, draft, attach=False)
    assert stored.plan.params["village_bounds"] == {village: [15, 25]}
    # later edits of that village keep its bounds
    cell = result.cells["code"].iloc[0]
    again = plans.split_cell(db, draft, cell, 2, expected_version=2, by="ana")
    assert again.village_metrics["share_within_bounds"] < 1.0  # halves of ~20 are below 15
    assert "below min" in str(again.violations["detail"].tolist())


def test_move_by_polygon_picks_the_households_inside(draft: int, db, built, small) -> None:
    a, b = _neighbours(built)
    codes = built.assignment.loc[built.assignment["cell_code"] == a, "household_code"][:2]
    pts = small.households.set_index("code").loc[codes].geometry.representative_point()
    lasso = gpd.GeoSeries(pts, crs=4326).to_crs(32648).buffer(0.5).to_crs(4326)
    result = plans.move_households_in_polygon(db, draft, lasso, b, expected_version=1, by="ana")
    assert {_cell_of(db, draft, h) for h in codes} == {b}
    assert result.cells.set_index("code").loc[b, "households"] == (
        built.cells.set_index("code").loc[b, "households"] + 2
    )


def test_bad_edits_are_clear_errors(draft: int, db: Connection, built) -> None:
    a, _ = _neighbours(built)
    with pytest.raises(ConfigError, match="expected one of move, move_polygon"):
        plans.edit_plan(db, draft, expected_version=1, op="rotate", by="x")
    with pytest.raises(ConfigError, match="needs argument"):
        plans.edit_plan(db, draft, expected_version=1, op="merge", by="x", a=a)
    with pytest.raises(DataError, match="unknown cell"):
        plans.split_cell(db, draft, "nope", expected_version=1, by="x")
    with pytest.raises(DataError, match="unknown household"):
        plans.move_households(db, draft, ["0"], a, expected_version=1, by="x")
    far = built.assignment.loc[
        built.assignment["village_code"] != built.cells.set_index("code").loc[a, "village_code"],
        "household_code",
    ].iloc[0]
    with pytest.raises(DataError, match="not in village"):
        plans.move_households(db, draft, [far], a, expected_version=1, by="x")
    assert plans.load_plan(db, draft, attach=False).version == 1


def test_an_unknown_edit_keyword_is_named_not_ignored(draft: int, db: Connection, built) -> None:
    a, b = _neighbours(built)
    with pytest.raises(ConfigError, match=r"no argument\(s\) kk; it takes cell_code, k"):
        plans.edit_plan(db, draft, expected_version=1, op="split", by="x", cell_code=a, kk=3)
    with pytest.raises(ConfigError, match="not both"):
        plans.edit_plan(db, draft, plans.Merge(a, b), expected_version=1, by="x", op="merge")
    assert plans.load_plan(db, draft, attach=False).version == 1


def test_edits_as_values_match_the_keyword_form(draft: int, db: Connection, built) -> None:
    a, b = _neighbours(built)
    result = plans.edit_plan(db, draft, plans.Merge(a, b), expected_version=1, by="ana")
    assert (result.op, result.version) == ("merge", 2)
    village = result.village_code
    rebuilt = plans.edit_plan(
        db, draft, plans.Rebuild(village, grids.CellBounds(15, 25)), expected_version=2, by="ana"
    )
    assert rebuilt.cells["households"].between(15, 25).all()
    stored = plans.load_plan(db, draft, attach=False)
    assert stored.plan.params.bounds_for(village) == grids.CellBounds(15, 25)
    # the keyword form replaces one bound and keeps the village's other one
    again = plans.rebuild_village(db, draft, village, max_size=30, expected_version=3, by="ana")
    assert again.cells["households"].between(15, 30).all()
    stored = plans.load_plan(db, draft, attach=False)
    assert stored.plan.params.village_bounds == {village: grids.CellBounds(15, 30)}


def test_the_tiny_county_plan_publishes_despite_small_villages(conn: Connection) -> None:
    io.write_county(conn, tiny_county())
    plan = plans.build_county_plan(conn, county_code="999999")
    assert plan.metrics["cells"] == 2  # one cell per village of 2 and 4 households
    pid = plans.save_plan(conn, plan, county_code="999999", name="tiny")
    assert plans.publish_plan(conn, pid, by="chief").archived is None
    stored, violations = plans.check_stored_plan(conn, "tiny")
    assert stored.status == "published"
    assert set(violations["rule"]) == {"out_of_bounds"}  # flagged, not blocking


@pytest.mark.slow
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_edit_sequence_keeps_each_household_in_exactly_one_cell(
    draft: int, db: Connection, built, data
) -> None:
    savepoint = db.begin_nested()
    try:
        version = 1
        for _ in range(data.draw(st.integers(1, 3))):
            cells = plans.load_plan(db, draft, attach=False).plan.cells
            cell = data.draw(st.sampled_from(sorted(cells["code"])))
            size = int(cells.set_index("code").loc[cell, "households"])
            if data.draw(st.booleans()) and size >= 2:
                result = plans.split_cell(db, draft, cell, 2, expected_version=version, by="h")
            else:
                village = cells.set_index("code").loc[cell, "village_code"]
                result = plans.rebuild_village(db, draft, village, expected_version=version, by="h")
            version += 1
            assert result.version == version
        counts = db.execute(
            text(
                "SELECT count(*), count(DISTINCT household_code) FROM cell_assignment "
                "WHERE plan_id = :p"
            ),
            {"p": draft},
        ).one()
        assert tuple(counts) == (1200, 1200)
        assert plans.publication_faults(db, draft) == []
    finally:
        savepoint.rollback()


@pytest.mark.slow
def test_two_planners_on_one_version_the_second_waits_then_is_refused(server_url: str) -> None:
    """Real concurrency: two connections, the first edit holds the row lock until commit."""
    import threading

    from geo.db.provision import scratch_database
    from geo.db.session import get_engine

    with scratch_database(server_url, "plans_race", county=generate_county("small", seed=5)) as url:
        engine = get_engine(url)
        with engine.begin() as c:
            plan = plans.build_county_plan(c)
            plans.save_plan(c, plan, county_code=COUNTY, name="race")
        cell = plan.cells.sort_values("households").iloc[-1]["code"]
        other = plan.cells.sort_values("households").iloc[-2]["code"]
        outcome: dict[str, object] = {}
        first = engine.connect()
        tx = first.begin()
        plans.split_cell(first, "race", cell, 2, expected_version=1, by="ana")  # holds the lock

        def second() -> None:
            with engine.begin() as c:
                try:
                    plans.split_cell(c, "race", other, 2, expected_version=1, by="bo")
                    outcome["result"] = "applied"
                except plans.StaleVersionError as exc:
                    outcome["result"] = str(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # blocked on ana's row lock, not silently writing
        tx.commit()
        first.close()
        thread.join(timeout=30)
        assert "version 2, not 1" in str(outcome["result"])
        assert "ana" in str(outcome["result"])
        with engine.connect() as c:
            assert plans.load_plan(c, "race", attach=False).version == 2
