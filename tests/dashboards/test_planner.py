"""The planner's workbench in headless Chromium: draft, select, move, flag, undo, merge, publish.

The page is served by a small entry point written for the test (the page alone, as
``dashboards/app.py`` declares it), against a database of its own holding the "small"
county with a published plan.  Screenshots go to ``WANGGE_SHOTS`` when it is set.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from geo import grids, plans
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.settings import ROOT
from geo.synth import generate_county
from tests._fixtures import browser
from tests._fixtures.plans import adjacent_cells

VILLAGE = "999001001001"


@pytest.fixture(scope="module")
def planner_db(server_url: str) -> Iterator[str]:
    county = generate_county("small", seed=2)
    with scratch_database(server_url, "planner_ui", county=county) as url:
        with get_engine(url).begin() as conn:
            built = grids.build_plan(county.households, county.natural_units, county.villages)
            plan_id = plans.save_plan(
                conn, built, county_code="999001", name="base", created_by="x"
            )
            plans.publish_plan(conn, plan_id, by="chief")
            _workers_and_incidents(conn, plan_id)
        yield url


def _workers_and_incidents(conn, plan_id: int) -> None:
    """A worker on the village's first cell and three incidents there, one closed."""
    from datetime import UTC, datetime, timedelta

    from geo import incidents

    incidents.sync_platforms(conn, "yanchi")
    first = conn.execute(
        text("SELECT min(code) FROM grid_cell WHERE plan_id = :p AND village_code = :v"),
        {"p": plan_id, "v": VILLAGE},
    ).scalar_one()
    conn.execute(
        text("INSERT INTO grid_worker (code, name, township_code, plan_id, cell_code) "
             "VALUES ('w1', 'Wang', :t, :p, :c)"), {"t": VILLAGE[:9], "p": plan_id, "c": first}
    )  # fmt: skip
    category = conn.execute(text("SELECT min(code) FROM incident_category")).scalar_one()
    homes = conn.execute(
        text("SELECT code FROM household WHERE village_code = :v ORDER BY code LIMIT 3"),
        {"v": VILLAGE},
    ).scalars()
    for i, home in enumerate(homes):
        done = incidents.report(
            conn, f"ui-{i}", category=category, source="whistle", household=home,
            reported_at=datetime.now(UTC) - timedelta(hours=3), actor="test",
        )  # fmt: skip
        if i == 2:
            conn.execute(text("UPDATE incident SET status = 'closed' WHERE id = :i"),
                         {"i": done.id})  # fmt: skip


@pytest.fixture(scope="module")
def server(planner_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    entry = tmp_path_factory.mktemp("planner") / "planner_app.py"
    entry.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT)!r})
            import streamlit as st
            st.set_option("client.showErrorDetails", "none")
            st.set_page_config(page_title="Wangge planner", layout="wide")
            page = st.navigation([st.Page({str(ROOT / "dashboards/views/planner.py")!r},
                                          title="Planner", default=True)])
            page.run()
            """
        )
    )
    with browser.streamlit_server(planner_db, app=entry, dev_login=None) as base:
        yield base


def _shot(page, name: str) -> None:
    where = os.environ.get("WANGGE_SHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / f"{name}.png"))


def _wait_text(page, text_: str, timeout_ms: int = 30_000) -> None:
    try:
        page.get_by_text(text_, exact=False).first.wait_for(timeout=timeout_ms)
    except Exception:
        _shot(page, "zz_failed")
        print(page.inner_text("body")[:1500])
        raise


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` (a substring of its label) in the Streamlit selectbox ``label``."""
    box = page.get_by_label(label, exact=False).first
    box.click()
    page.get_by_role("option", name=option, exact=False).first.click()


def _map_frame(page):
    return browser.leaflet_frame(page)


def _box_select(page, frame, lonlats: list[tuple[float, float]]) -> None:
    """Press the Box tool and drag a box around the given points (lon, lat)."""
    frame.get_by_text("Box").first.click()
    lats = [p[1] for p in lonlats]
    lons = [p[0] for p in lonlats]
    corners = frame.evaluate(
        """([s, w, n, e]) => {
            const m = window.map_div;
            const a = m.latLngToContainerPoint([n, w]), b = m.latLngToContainerPoint([s, e]);
            const r = m.getContainer().getBoundingClientRect();
            return [a.x + r.left, a.y + r.top, b.x + r.left, b.y + r.top];
        }""",
        [min(lats), min(lons), max(lats), max(lons)],
    )
    box = frame.frame_element().bounding_box()
    x0, y0 = box["x"] + corners[0] - 6, box["y"] + corners[1] - 6
    x1, y1 = box["x"] + corners[2] + 6, box["y"] + corners[3] + 6
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


@pytest.mark.browser
@pytest.mark.db
@pytest.mark.slow
def test_draft_select_move_flag_undo_merge_stale_lock_fix_publish(
    server: str, planner_db: str
) -> None:
    from playwright.sync_api import sync_playwright

    engine = get_engine(planner_db)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=browser.CHROMIUM, args=browser.CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(server)
        _wait_text(page, "Planner's workbench")
        _wait_text(page, "only a draft is edited")
        _shot(page, "01_published")

        # a draft from the published plan
        page.get_by_label("Name of the new draft").fill("draft-b")
        page.get_by_label("Name of the new draft").press("Enter")
        page.get_by_role("button", name="Create draft").click()
        _wait_text(page, "draft 'draft-b' created")
        _wait_text(page, "Move the selection to")

        with engine.connect() as conn:
            view = plans.village_view(conn, "draft-b", VILLAGE)
        a, b = adjacent_cells(view.cells)
        size_b = int(view.cells.loc[view.cells["code"] == b, "households"].iloc[0])
        movers = view.households.loc[view.households["cell_code"] == a]
        # enough households of a to push b over the bound, taken from one corner of a
        need = view.bounds.max_size - size_b + 1
        pts = movers.geometry.representative_point()
        order = (pts.x + pts.y).sort_values().index[:need]
        lonlats = [(pts[i].x, pts[i].y) for i in order]

        frame = _map_frame(page)
        _box_select(page, frame, lonlats)
        _wait_text(page, "household(s) selected")
        page.wait_for_function(
            "() => /([1-9][0-9]*) household\\(s\\) selected/.test(document.body.innerText)"
        )
        _shot(page, "02_selected")
        _pick(page, "Move the selection to", b)
        page.get_by_role("button", name="Move").first.click()
        _wait_text(page, "version 2: move")
        _wait_text(page, "households, too many (")  # the rule flag, not the map's caption
        _shot(page, "03_moved_out_of_bounds")
        with engine.connect() as conn:
            moved = plans.village_view(conn, "draft-b", VILLAGE)
        assert int(moved.cells.loc[moved.cells["code"] == b, "households"].iloc[0]) > 50

        page.get_by_role("button", name="Undo").click()
        _wait_text(page, "version 3: undo of version 2")
        n = len(view.cells)
        _wait_text(page, f"{n} / {n}")  # every cell within bounds again
        _shot(page, "04_undone")
        with engine.connect() as conn:
            undone = plans.village_view(conn, "draft-b", VILLAGE)
        assert undone.households["cell_code"].tolist() == view.households["cell_code"].tolist()

        # another planner edits the plan: the page's next edit is refused and it reloads
        with engine.begin() as conn:
            other = undone.cells["code"].iloc[-1]
            plans.edit_plan(conn, "draft-b", plans.Split(other, 2), expected_version=3, by="bo")
        # merge: the page offers the first cell and its first neighbour, as _adjacent finds
        page.get_by_role("button", name="Merge", exact=True).click()
        _wait_text(page, "last changed by bo")
        _shot(page, "05_stale_refused")
        _wait_text(page, "version 4")  # the header shows the village as bo left it
        page.wait_for_timeout(2500)  # the map is redrawn; the page settles
        page.get_by_role("button", name="Merge", exact=True).first.click()
        _wait_text(page, f"version 5: merge {a} and {b}")
        _shot(page, "06_merged")

        # a second planner, in another browser, edits the same village: this page's next
        # edit is refused with who changed it, and the page reloads the village
        second = chromium.new_context(viewport={"width": 1920, "height": 1080})
        page2 = second.new_page()
        page2.goto(server)
        _wait_text(page2, "Planner's workbench")
        _wait_text(page2, "only a draft is edited")  # the published plan, drawn
        page2.wait_for_timeout(1500)
        page2.get_by_label("Plan", exact=True).first.click()  # the plan selector
        page2.get_by_role("option", name="draft-b").first.click()
        _wait_text(page2, "draft, version 5")
        page2.get_by_role("button", name="Split", exact=True).click()
        _wait_text(page2, "version 6: split")
        _shot(page2, "07_second_browser_split")
        second.close()
        page.get_by_role("button", name="Split", exact=True).click()
        _wait_text(page, "is at version 6, not 5: last changed by")
        _shot(page, "08_concurrent_edit_refused")
        _wait_text(page, "draft, version 6")  # the village as the other planner left it
        page.wait_for_timeout(2500)
        page.get_by_role("button", name="Undo").click()  # and the page edits on from there
        _wait_text(page, "version 7: undo of version 6")
        _wait_text(page, "Redo v7")  # the edit panel is drawn for version 7 too
        page.wait_for_timeout(1000)

        # a household loaded after the plan was built is in no cell: lock a cell (a new
        # version, so the page reads the village again), then "Fix unassigned"
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO household (code, natural_unit_code, village_code, residents, "
                     "residents_at_home, colour, geom) SELECT left(code, 15) || '0999', "
                     "natural_unit_code, village_code, 2, 1, colour, "
                     "ST_Translate(geom, 0.00003, 0.00003) FROM household "
                     "WHERE village_code = :v ORDER BY code LIMIT 1"), {"v": VILLAGE}
            )  # fmt: skip
        page.get_by_role("button", name="Lock", exact=True).click()
        _wait_text(page, "version 8: lock cell(s)")
        _wait_text(page, "Undo v8")
        _wait_text(page, "Locked cells (kept by edits and rebuilds)")
        _wait_text(page, "1 household(s) in no cell")
        _shot(page, "09_locked_and_left_out")
        page.get_by_role("button", name="Fix unassigned").click()
        _wait_text(page, "version 9: assign the 1 household(s) left out")
        page.wait_for_timeout(2000)  # the page settles
        _shot(page, "10_fixed_unassigned")

        page.get_by_role("tab", name="Compare with published").click()
        _wait_text(page, "Workers affected")
        _wait_text(page, "Open incidents whose cell would change")
        page.get_by_text("Side by side").click()
        _wait_text(page, "Published · base")
        page.wait_for_timeout(2000)
        _shot(page, "11_compare_side_by_side")

        page.get_by_role("tab", name="Publish & download").click()
        _wait_text(page, "Publishable")
        page.get_by_role("button", name="Publish this draft").click()
        _wait_text(page, "published; the county's previous plan is archived")
        _wait_text(page, "re-joined to the new cells: 1 grid worker(s), 2 open incident(s)")
        _shot(page, "12_published")
        chromium.close()
    with engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT name, status FROM grid_plan")).all())
        counted = conn.execute(
            text("SELECT count(*) FROM cell_assignment a JOIN grid_plan p ON p.id = a.plan_id "
                 "WHERE p.status = 'published'")
        ).scalar_one()  # fmt: skip
    assert statuses == {"base": "archived", "draft-b": "published"}
    assert counted == 1201  # the published plan holds every household once, the new one too
    _wall_sums_to_its_headline(engine)


def _wall_sums_to_its_headline(engine) -> None:
    from datetime import UTC, datetime, timedelta

    from geo.db import queries

    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(days=2)
    with engine.connect() as conn:
        units = queries.wall_unit_counts(conn, "999001", start=start, end=end)
        headline = queries.wall_headline(conn, "999001", start=start, end=end).iloc[0]
        on_plan = conn.execute(
            text("SELECT count(*) FROM incident i JOIN grid_plan p ON p.id = i.plan_id "
                 "WHERE p.status = 'published'")
        ).scalar_one()  # fmt: skip
    assert int(units["incidents"].sum()) == int(headline["reported"]) == 3
    assert on_plan == int(headline["open"]) == 2  # the open ones follow the new plan


def _view_frames():
    from tests._fixtures.county import tiny_county

    c = tiny_county()
    plan = grids.build_plan(
        c.households, c.natural_units, c.villages, bounds=grids.CellBounds(1, 2)
    )
    village = c.villages.iloc[[0]]
    cells = plan.cells.loc[plan.cells["village_code"] == village["code"].iloc[0]]
    hh = c.households.loc[c.households["village_code"] == village["code"].iloc[0]].copy()
    hh["cell_code"] = hh["code"].map(plan.assignment.set_index("household_code")["cell_code"])
    return cells, hh, village


def test_village_map_is_offline_and_escapes_text() -> None:
    from geo import maps, plan_maps

    cells, hh, village = _view_frames()
    hh.loc[hh.index[0], "code"] = "<b>x</b>"
    html = maps.map_html(plan_maps.village_map(cells, hh, village, bounds=grids.CellBounds(1, 2)))
    assert "https://" not in html
    assert "http://" not in html
    assert "window.drawnItems" in html  # the selection tools, as st_folium expects them
    assert "<b>x</b>" not in html
    layer = plan_maps.selection_layer(hh, {"<b>x</b>"})
    assert len(layer._children) == 1


def test_cell_fill_flags_sizes_outside_the_bounds() -> None:
    import pandas as pd

    from geo import plan_maps

    fill = plan_maps.cell_fill(pd.Series([10, 30, 40, 50, 60]), grids.CellBounds(30, 50))
    assert fill.iloc[0] == plan_maps.TOO_SMALL
    assert fill.iloc[4] == plan_maps.TOO_BIG
    assert len(set(fill.iloc[1:4])) == 3  # shades grow with the size within the bounds
