"""The dashboards in a real headless Chromium against a real PostGIS database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo import maps
from geo.db.provision import scratch_database
from tests._fixtures.browser import leaflet_frame, streamlit_server
from tests._fixtures.county import tiny_county

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]


@pytest.fixture(scope="module")
def dashboard_db(server_url: str) -> Iterator[str]:
    """A committed database holding the tiny county (the dashboards run in another process)."""
    with scratch_database(server_url, "dash", county=tiny_county()) as url:
        yield url


def test_overview_shows_hierarchy_counts_and_township_map(
    dashboard_db: str, browser, tmp_path: Path
) -> None:
    with streamlit_server(dashboard_db) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.monotonic()
        page.goto(base)
        page.get_by_text("County overview").first.wait_for(timeout=30_000)
        frame = leaflet_frame(page)
        seconds = time.monotonic() - started
        body = page.inner_text("body")
        page.screenshot(path=tmp_path / "overview.png", full_page=True)
        assert "测试县" in body
        for label, value in [("Townships", "2"), ("Natural units", "3"), ("Households", "6")]:
            metric = page.locator("[data-testid='stMetric']", has_text=label)
            assert metric.locator("[data-testid='stMetricValue']").inner_text() == value
        assert "Traceback" not in body
        assert not errors
        # Two township polygons drawn by Leaflet from the inlined (offline) library.
        layers = frame.evaluate(
            "() => { let n = 0; for (const k in window) { const v = window[k];"
            " if (v && v instanceof window.L.GeoJSON) n += v.getLayers().length; } return n; }"
        )
        assert layers == 2
        assert seconds < 60


def test_empty_database_says_what_to_do(server_url: str, browser) -> None:
    with scratch_database(server_url, "dash_empty") as url, streamlit_server(url) as base:
        page = browser.new_page()
        page.goto(base)
        page.get_by_text("wangge demo").first.wait_for(timeout=30_000)
        assert "Traceback" not in page.inner_text("body")


def test_wall_shows_aggregates_only_with_small_counts_suppressed(
    dashboard_db: str, browser, tmp_path: Path
) -> None:
    with streamlit_server(dashboard_db) as base:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{base}/wall")
        page.get_by_text("Command centre").first.wait_for(timeout=30_000)
        frame = leaflet_frame(page)
        frame.wait_for_function("() => !!document.documentElement.dataset.wallApplied")
        page.screenshot(path=tmp_path / "wall.png")
        metric = page.locator("[data-testid='wallFigure']", has_text="Households")
        assert metric.locator(".v").inner_text() == "6"
        html = frame.content()
        # Both villages hold fewer than 5 households: no count of theirs reaches the browser
        # (the map's features carry their code only) and they are drawn as suppressed.
        features = frame.evaluate(
            "() => { const out = []; window.wanggeWall.layer.eachLayer(l => out.push("
            "[l.feature.properties, l.options.fillColor])); return out; }"
        )
        assert len(features) == 2
        assert all(set(props) == {"code"} for props, _ in features)
        assert all(colour == maps.SUPPRESSED for _, colour in features)
        for code in tiny_county().households["code"]:
            assert code not in html
            assert code not in page.content()
