"""The centre's pages (Hotspots, Coverage, Operations, a case) against a real PostGIS.

One scratch database per module: the tiny county, a published lattice plan of ~200 m cells
(households per cell set by hand), incidents of the last three weeks with a planted cluster,
and one case built through ``geo.incidents``' public API that was escalated, returned and
reopened.  Streamlit's ``AppTest`` runs the pages' logic (fast); Playwright + Chromium check
what needs a browser (marked ``browser``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from geo import hotspots, incidents
from geo.db import case_queries, queries
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.settings import ROOT
from tests._fixtures.county import tiny_county
from tests._fixtures.incident_plans import lattice_plan

pytestmark = [pytest.mark.db]

VIEWS = str(ROOT / "dashboards" / "views")
NOTE = "<b>bold</b> **not markdown** <script>alert(1)</script>"
DESCRIPTION = "Water pipe burst <img src=x onerror=alert(1)> near **the school**"


def _build(url: str) -> dict:
    engine = get_engine(url)
    now = datetime.now(UTC)
    rng = np.random.default_rng(7)
    with engine.begin() as conn:
        incidents.sync_platforms(conn, "small")
        plan = lattice_plan(conn, "999999", size_deg=0.002)
        conn.execute(
            text(
                "UPDATE grid_cell SET households = 20 + CAST(right(code, 2) AS integer) % 17 "
                "WHERE plan_id = :p"
            ),
            {"p": plan},
        )
        cells = queries.plan_cells(conn, plan)
        west = cells.geometry.union_all().bounds
        cats = ["dispute", "sanitation", "safety", "population"]
        for n in range(80):
            planted = n < 40  # a cluster in the south-west corner
            if planted:
                lon = west[0] + rng.uniform(0.0005, 0.004)
                lat = west[1] + rng.uniform(0.0005, 0.003)
            else:
                lon = rng.uniform(west[0] + 0.0002, west[2] - 0.0002)
                lat = rng.uniform(west[1] + 0.0002, west[3] - 0.0002)
            incidents.report(
                conn, f"t-{n}", category=cats[n % 4], source="whistle", point=(lon, lat),
                actor="W1", reported_at=now - timedelta(days=float(rng.uniform(0.5, 20))),
            )  # fmt: skip
        chain = incidents.report(
            conn, "chain", category="dispute", source="hotline_12345",
            point=(west[0] + 0.003, west[1] + 0.002), actor="12345",
            reported_at=now - timedelta(days=3), description=DESCRIPTION,
        ).id  # fmt: skip
        t = now - timedelta(days=3)
        moves = [
            ("accepted", "township", "t-01"),
            ("escalated", "township", "t-01"),
            ("accepted", "centre", "c-01"),
            ("dispatched", "centre", "c-01"),
            ("returned", "department", "d-water"),
            ("dispatched", "centre", "c-01"),
            ("in_progress", "department", "d-roads"),
            ("resolved", "department", "d-roads"),
            ("reopened", "resident", "r-1"),
            ("dispatched", "centre", "c-02"),
        ]
        for k, (state, role, actor) in enumerate(moves, start=1):
            incidents.transition(
                conn, chain, state, actor=actor, role=role, at=t + timedelta(hours=4 * k),
                note=NOTE if state == "returned" else None,
            )  # fmt: skip
    return {"plan": plan, "chain": chain, "moves": moves}


@pytest.fixture(scope="module")
def centre_db(server_url: str) -> Iterator[tuple[str, dict]]:
    with scratch_database(server_url, "centre", county=tiny_county()) as url:
        yield url, _build(url)


@pytest.fixture
def app_env(centre_db, monkeypatch) -> tuple[str, dict]:
    url, built = centre_db
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WANGGE_CACHE_TTL", "1")
    monkeypatch.setenv("WANGGE_DEV_LOGIN", "admin")  # the pages run without the router's login
    st.cache_data.clear()  # results cached by an earlier test may come from another database
    return url, built


def _page(name: str) -> AppTest:
    at = AppTest.from_file(f"{VIEWS}/{name}.py", default_timeout=60)
    at.session_state["county_code"] = "999999"
    return at


def _metric(at: AppTest, label: str) -> str:
    for metric in at.metric:
        if metric.label.startswith(label):
            return metric.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def _all_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.text, *at.caption, *at.info, *at.error)]
    return "\n".join(str(p) for p in parts)


# ------------------------------------------------------------------------------- AppTest


def test_case_queries_agree_with_the_incident_layer(app_env) -> None:
    url, built = app_env
    assert case_queries.DONE_STATES == incidents.DONE_STATES
    engine = get_engine(url)
    at = datetime.now(UTC)
    cases = case_queries.case_list(engine, "999999", at=at, open_only=True)
    assert built["chain"] in set(cases["id"])
    assert set(cases["id"]) == set(
        incidents.incident_times(engine, at=at).query("status not in @incidents.DONE_STATES")["id"]
    )
    queue = case_queries.open_queue(engine, "999999", at=at)
    assert queue["cases"].sum() == len(cases)
    steps = case_queries.step_durations(
        engine, "999999", start=at - timedelta(days=30), end=at + timedelta(days=1)
    )
    dispute = steps[steps["platform_code"] == "convenience"].set_index("step")
    assert dispute.loc["returned", "median_hours"] == pytest.approx(4.0)


def test_operations_page_shows_queues_chain_and_stuck_cases(app_env) -> None:
    _, built = app_env
    at = _page("operations").run()
    assert not at.exception
    open_cases = case_queries.case_list(
        get_engine(os.environ["DATABASE_URL"]), "999999", at=datetime.now(UTC), open_only=True
    )
    assert _metric(at, "Open cases") == f"{len(open_cases):,}"
    assert _metric(at, "Returns") == "1"
    assert _metric(at, "Escalations") == "1"
    stuck = next(df.value for df in at.dataframe if "hours_at_step" in df.value.columns)
    assert built["chain"] in set(stuck["id"])
    assert "No grid workers in the database yet" in _all_text(at)


def test_operations_case_filter_changes_the_list(app_env) -> None:
    at = _page("operations").run()
    before = next(c.value for c in at.caption if "cases reported in the period" in c.value)
    at.multiselect(key="ops_category").set_value(["safety"]).run()
    after = next(c.value for c in at.caption if "cases reported in the period" in c.value)
    assert before != after
    assert after.startswith("20 of")  # 80 incidents over 4 categories


def test_hotspot_cell_classes_equal_gi_star(app_env) -> None:
    url, built = app_env
    at = _page("hotspots").run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "gi_bin" in df.value.columns)
    engine = get_engine(url)
    cells = queries.plan_cells(engine, built["plan"])
    cells["incidents"] = (
        cells["code"].map(queries.incident_points(engine, "999999")["cell_code"].value_counts())
    ).fillna(0)
    expected = hotspots.gi_star(cells, "incidents", denominator="households")
    expected = expected.set_index("code")["gi_bin"].astype(int)
    assert len(table) == min(15, len(cells))
    assert (table.set_index("cell")["gi_bin"] == expected.loc[table["cell"]].values).all()
    assert (expected > 0).any()  # the planted cluster is a hot spot
    assert _metric(at, "Hot cells") == f"{int((expected > 0).sum()):,}"


def test_hotspot_filter_and_drill_down(app_env) -> None:
    at = _page("hotspots").run()
    assert _metric(at, "Incidents") == "81"
    at.multiselect(key="hs_category").set_value(["safety"]).run()
    assert _metric(at, "Incidents") == "20"
    at.selectbox(key="hs_township").set_value("999999101").run()
    assert not at.exception
    at.selectbox(key="hs_village").set_value("999999101001").run()
    cells = at.selectbox(key="hs_cell")
    assert len(cells.options) > 2
    cells.set_value(cells.options[1]).run()
    assert not at.exception
    assert any("Cases in cell" in m.value for m in at.markdown)


def test_case_page_shows_the_full_timeline_as_text(app_env) -> None:
    _, built = app_env
    at = _page("case")
    at.query_params["id"] = str(built["chain"])
    at.run()
    assert not at.exception
    timeline = next(df.value for df in at.dataframe if "hours in state" in df.value.columns)
    assert timeline["to"].tolist() == ["reported", *[m[0] for m in built["moves"]]]
    assert NOTE in timeline["note"].tolist()
    assert DESCRIPTION in [t.value for t in at.text]
    assert _metric(at, "State") == "dispatched"
    assert not any(DESCRIPTION in m.value for m in at.markdown)


def test_coverage_page_says_what_is_missing(app_env) -> None:
    at = _page("coverage").run()
    assert not at.exception
    text_shown = _all_text(at)
    assert "No grid-worker visits" in text_shown
    assert "No service points" in text_shown
    assert "wangge demo" in text_shown


def test_empty_database_says_to_run_wangge_demo(server_url, monkeypatch) -> None:
    with scratch_database(server_url, "centre_empty") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        st.cache_data.clear()
        for name in ("operations", "hotspots", "coverage"):
            at = AppTest.from_file(f"{VIEWS}/{name}.py", default_timeout=60).run()
            assert not at.exception
            assert "wangge demo" in _all_text(at)


def test_database_away_is_one_calm_line(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    st.cache_data.clear()
    at = AppTest.from_file(f"{VIEWS}/operations.py", default_timeout=60)
    at.session_state["county_code"] = "999999"
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert "database" in at.error[0].value
    assert "Traceback" not in at.error[0].value


# ------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from tests._fixtures.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


FEATURES = (
    "() => { const out = []; for (const k in window) { const v = window[k];"
    " if (v && window.L && v instanceof window.L.GeoJSON) v.eachLayer(l => out.push("
    "l.feature.properties)); } return out; }"
)


def _goto(page, base: str, link: str) -> None:
    """Open the app and move to a page by its sidebar link (no deep-link 404 probes)."""
    page.goto(base)
    page.get_by_role("link", name=link).first.click()


def _settled(page) -> None:
    page.wait_for_timeout(800)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(800)


@pytest.mark.browser
@pytest.mark.slow
def test_pages_in_chromium(centre_db, browser, tmp_path) -> None:
    from tests._fixtures.browser import leaflet_frame, streamlit_server

    url, built = centre_db
    with streamlit_server(url, cache_ttl_s=30) as base:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        # Operations: the N platforms, the chain, the stuck list
        _goto(page, base, "Operations")
        page.get_by_text("The centre and its 4 platforms").wait_for(timeout=60_000)
        _settled(page)
        page.screenshot(path=tmp_path / "operations.png")
        body = page.inner_text("body")
        assert "Traceback" not in body
        # Hotspots: the cell map holds every cell (plus township outlines), classes = Gi*
        _goto(page, base, "Hotspots")
        page.get_by_text("Strongest hot spots").wait_for(timeout=60_000)
        _settled(page)
        frame = leaflet_frame(page)
        features = frame.evaluate(FEATURES)
        cells = [f for f in features if "gi_bin" in f]
        engine = get_engine(url)
        plan_cells = queries.plan_cells(engine, built["plan"])
        assert len(cells) == len(plan_cells)
        plan_cells["incidents"] = (
            plan_cells["code"]
            .map(queries.incident_points(engine, "999999")["cell_code"].value_counts())
            .fillna(0)
        )
        expected = hotspots.gi_star(plan_cells, "incidents", denominator="households")
        assert {f["code"]: f["gi_bin"] for f in cells} == dict(
            zip(expected["code"], expected["gi_bin"].astype(int), strict=True)
        )
        assert page.locator(".wangge-legend").count() == 0  # the legend lives in the map frame
        assert frame.locator(".wangge-legend").count() == 1
        before = page.locator("[data-testid='stMetric']", has_text="Incidents").inner_text()
        page.get_by_label("Township 乡镇").first.click()
        page.get_by_role("option", name="西乡").click()
        _settled(page)
        page.get_by_label("Village 村/社区").first.wait_for(timeout=30_000)
        after = page.locator("[data-testid='stMetric']", has_text="Incidents").inner_text()
        assert before != after  # the drill-down changes the figures
        page.screenshot(path=tmp_path / "hotspots.png")
        # The case page: full timeline of the escalated, returned and reopened case
        page.goto(f"{base}/case?id={built['chain']}")
        page.get_by_text("Timeline").first.wait_for(timeout=60_000)
        _settled(page)
        grid = page.locator("[data-testid='stDataFrame']").first
        assert grid.is_visible()
        assert leaflet_frame(page) is not None
        page.screenshot(path=tmp_path / "case.png")
        # Coverage
        _goto(page, base, "Coverage")
        page.get_by_text("Every household is in exactly one cell").wait_for(timeout=60_000)
        _settled(page)
        body = page.inner_text("body")
        assert "Traceback" not in body
        bad = [e for e in errors if "/_stcore/" not in e and "404" not in e]
        assert not bad, bad
