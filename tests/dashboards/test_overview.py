"""The County overview's four levels beside the seed profile's report, in headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from geo import plans
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.levels import MARK_DIFFERS, MARK_SAME
from geo.synth import generate_county
from tests._fixtures.browser import streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

#: Where the screenshot is kept (WANGGE_SHOTS, else the test's temporary folder).
SHOTS = os.environ.get("WANGGE_SHOTS")


@pytest.fixture(scope="module")
def seed_county_db(server_url: str) -> Iterator[tuple[str, int]]:
    """The ``small`` seed county with a published plan, one household's residents raised by
    one (so that the residents differ from the report); yields the URL and the plan's cells."""
    county = generate_county("small", seed=7)
    with scratch_database(server_url, "overview", county=county) as url:
        with get_engine(url).begin() as conn:
            plan = plans.build_county_plan(conn)
            plan_id = plans.save_plan(conn, plan, county_code="999001", name="p")
            plans.publish_plan(conn, plan_id, by="test", expected_version=1)
            conn.execute(
                text(
                    "UPDATE household SET residents = residents + 1 "
                    "WHERE code = (SELECT min(code) FROM household)"
                )
            )
        yield url, len(plan.cells)


def _table_rows(page) -> dict[str, list[str]]:
    """The levels table as {level: [in database, report, mark]}."""
    rows = page.locator("[data-testid='stTable'] tbody tr")
    out = {}
    for k in range(rows.count()):
        cells = [c.strip() for c in rows.nth(k).locator("th, td").all_inner_texts()]
        out[cells[0]] = cells[1:]
    return out


def test_overview_shows_four_levels_beside_the_report(
    seed_county_db: tuple[str, int], browser, tmp_path: Path
) -> None:
    url, cells = seed_county_db
    with streamlit_server(url) as base:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        page.get_by_text("小县 — four-level grid").first.wait_for(timeout=30_000)
        page.locator("[data-testid='stTable']").wait_for(timeout=30_000)
        shots = Path(SHOTS) if SHOTS else tmp_path
        page.screenshot(path=shots / "overview-seed-county.png")
        metric = page.locator("[data-testid='stMetric']", has_text="Cells")
        assert metric.locator("[data-testid='stMetricValue']").inner_text() == f"{cells:,}"
        rows = _table_rows(page)
        assert rows["1 Townships 乡镇/街道"] == ["3", "3", MARK_SAME]
        assert rows["3 Natural units 自然单元"] == ["40", "40", MARK_SAME]
        assert rows["4 Cells 网格 (published plan)"] == [f"{cells:,}", "–", ""]
        assert rows["Households 户"] == ["1,200", "1,200", MARK_SAME]
        assert rows["Residents 人"] == ["3,001", "3,000", MARK_DIFFERS]
        assert "Traceback" not in page.inner_text("body")
        assert not errors
