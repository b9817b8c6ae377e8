"""The command-centre wall in a real headless Chromium: kiosk layout at 1080p and 4K, refresh
in place, calm through a database outage, no personal data or small count in any payload,
user text shown as text."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from geo import maps
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.browser import free_port, leaflet_frame, streamlit_server
from tests._fixtures.county import tiny_county

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "about:", "blob:")
#: Where a count is shown on the wall.
COUNTS = (
    "[data-testid='wallFigure'].count .v, table.wg-board td:not(:first-child), "
    ".wg-stage .n, .wg-stage .o"
)


@pytest.fixture(scope="module")
def wall_server(wall_db: str) -> Iterator[str]:
    with streamlit_server(wall_db, cache_ttl_s=2) as base:
        yield base


def open_wall(browser, url: str, width: int = 1920, height: int = 1080):
    """A page on the wall with the map drawn and its values applied; records requests and
    errors in ``page.external`` and ``page.errors``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.external, page.errors = [], []
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else page.external.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.locator("[data-testid='wallBoard']").wait_for(timeout=60_000)
    frame = leaflet_frame(page)
    frame.wait_for_function("() => !!document.documentElement.dataset.wallApplied")
    return page, frame


def inside(box: dict, width: int, height: int) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width + 0.5
        and box["y"] + box["height"] <= height + 0.5
    )


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_kiosk_fills_the_screen_without_chrome(
    wall_server: str, browser, width: int, height: int, tmp_path: Path
) -> None:
    page, _ = open_wall(browser, f"{wall_server}/wall?kiosk=1", width, height)
    page.screenshot(path=tmp_path / f"wall_{width}.png")
    for chrome in ("stSidebar", "stHeader", "stStatusWidget", "stToolbar", "stSidebarNav"):
        assert not page.locator(f"[data-testid='{chrome}']").is_visible()
    for part in ("wallHeader", "wallLegend", "wallBoard", "wallChain"):
        box = page.locator(f"[data-testid='{part}']").bounding_box()
        assert box is not None, part
        assert inside(box, width, height), (part, box)
    legend = page.locator("[data-testid='wallLegend']").inner_text()
    assert "hot spot, 99 %" in legend
    assert "cold spot, 90 %" in legend
    assert re.search(r"last 28 days · \d+ \w+", legend)  # the period, stated with the map
    title = page.locator("[data-testid='wallHeader']").inner_text()
    assert "last 28 days" in title
    # The map takes most of the height and scales with the screen.
    box = page.locator(".st-key-wall_map iframe").bounding_box()
    assert box["height"] >= 0.7 * height
    assert inside(box, width, height)
    assert page.evaluate("() => document.documentElement.scrollHeight") <= height + 1
    body = page.inner_text("body")
    assert "Traceback" not in body
    assert "/work/" not in body
    assert page.external == []
    assert page.errors == []


def test_refresh_restyles_in_place_without_reloading_the_map(wall_server: str, browser) -> None:
    page, frame = open_wall(browser, f"{wall_server}/wall?kiosk=1")
    header = page.locator("[data-testid='wallHeader']")
    frame.evaluate("() => { window.__kept = 1; window.wanggeWall.map.setZoom(16); }")
    centre = frame.evaluate("() => window.wanggeWall.map.getCenter()")
    read = header.get_attribute("data-read")
    time.sleep(6)  # three refresh periods of 2 s
    deadline = time.monotonic() + 20  # a busy machine may stretch a period: wait, bounded
    while header.get_attribute("data-read") == read and time.monotonic() < deadline:
        time.sleep(0.5)
    assert header.get_attribute("data-read") != read  # the figures were read again ...
    assert frame.evaluate("() => window.__kept") == 1  # ... the map document was not reloaded
    assert frame.evaluate("() => window.wanggeWall.map.getZoom()") == 16  # nor the view moved
    assert frame.evaluate("() => window.wanggeWall.map.getCenter()") == centre
    # New values restyle a cell by its code, in place.
    code = frame.evaluate("() => [...window.wanggeWall.byCode.keys()][0]")
    plan = page.evaluate(
        "() => JSON.parse(document.getElementById('wangge-wall-values').textContent).plan"
    )
    values = {"plan": plan, "bins": {"3": [code]}, "suppressed": []}
    assert frame.evaluate("(v) => window.wanggeWall.apply(v)", values)
    colour = frame.evaluate("(c) => window.wanggeWall.byCode.get(c).options.fillColor", code)
    assert colour == maps.HOTSPOT_CLASSES[0][2]
    assert frame.evaluate("() => window.__kept") == 1


def test_payloads_hold_no_household_code_colour_or_small_count(wall_server: str, browser) -> None:
    frames: list[bytes] = []

    def listen(ws) -> None:
        ws.on(
            "framereceived",
            lambda payload: frames.append(
                payload if isinstance(payload, bytes) else payload.encode()
            ),
        )

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("websocket", listen)
    page.goto(f"{wall_server}/wall?kiosk=1")
    page.locator("[data-testid='wallBoard']").wait_for(timeout=60_000)
    frame = leaflet_frame(page)
    frame.wait_for_function("() => !!document.documentElement.dataset.wallApplied")
    time.sleep(3)  # a refresh or two on the websocket
    assert frames  # the websocket was listened to
    payloads = [*frames, page.content().encode(), frame.content().encode()]
    households = tiny_county().households
    for blob in payloads:
        for code in households["code"]:
            assert code.encode() not in blob
        assert b"colour" not in blob
        for colour in set(households["colour"]):
            assert f'"{colour}"'.encode() not in blob
    # Every count on the wall is blanked under the threshold (3 incidents: "<5").
    shown = [t.strip() for t in page.locator(COUNTS).all_inner_texts()]
    assert shown
    for value in shown:
        number = value.split()[0] if value else ""
        if number.startswith("<") or number.endswith("%") or number in ("–", ""):
            continue
        assert int(number.replace(",", "")) >= 5, value
    incidents = page.locator("[data-testid='wallFigure']", has_text="Incidents reported")
    assert incidents.locator(".v").inner_text() == "<5"
    values = page.evaluate(
        "() => JSON.parse(document.getElementById('wangge-wall-values').textContent)"
    )
    assert set(values) == {"plan", "bins", "suppressed"}


def _psql(server_url: str, query: str) -> None:
    url = make_url(server_url)
    subprocess.run(
        ["psql", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U",
         url.username or "postgres", "-d", "postgres", "-qc", query],
        check=True, capture_output=True,
    )  # fmt: skip


def _rename(server_url: str, old: str, new: str) -> None:
    """Rename a database the wall is reading: its connections are ended first, and again
    when the wall's next refresh reconnects in between (a few tries)."""
    for attempt in range(5):
        _psql(
            server_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{old}' AND pid <> pg_backend_pid()",
        )
        try:
            _psql(server_url, f'ALTER DATABASE "{old}" RENAME TO "{new}"')
            return
        except subprocess.CalledProcessError:
            if attempt == 4:
                raise
            time.sleep(0.2)


def test_database_away_keeps_the_last_figures_and_recovers(
    server_url: str, browser, publish_with_incidents
) -> None:
    with scratch_database(server_url, "wall_away", county=tiny_county()) as url:
        publish_with_incidents(url)
        name = make_url(url).database
        with streamlit_server(url, cache_ttl_s=2) as base:
            page, frame = open_wall(browser, f"{base}/wall?kiosk=1")
            frame.evaluate("() => { window.__kept = 1; }")
            households = page.locator("[data-testid='wallFigure']", has_text="Households")
            assert households.locator(".v").inner_text() == "6"
            get_engine(url).dispose()
            _rename(server_url, name, f"{name}_away")
            try:
                page.get_by_text("database unreachable").first.wait_for(timeout=60_000)
                time.sleep(3)  # more refreshes while away
                body = page.inner_text("body")
                assert re.search(r"data as of \d\d:\d\d — database unreachable", body)
                assert households.locator(".v").inner_text() == "6"
                assert page.locator("[data-testid='wallBoard']").is_visible()
                assert frame.evaluate("() => window.__kept") == 1  # the map stayed
                assert "Traceback" not in body
                assert 'File "' not in body
                assert "/work/" not in page.content()
            finally:
                _rename(server_url, f"{name}_away", name)
            page.wait_for_function(
                "() => !document.body.innerText.includes('database unreachable')",
                timeout=60_000,
            )
            assert households.locator(".v").inner_text() == "6"
            assert frame.evaluate("() => window.__kept") == 1
            assert page.errors == []
            assert page.external == []


def test_a_county_named_with_markup_is_shown_literally(server_url: str, browser) -> None:
    name = "**粗体县** [link](http://example.invalid/x) <img src=http://example.invalid/i.png>"
    county = tiny_county()
    county.county.loc[county.county.index[0], "name"] = name
    with (
        scratch_database(server_url, "wall_markup", county=county) as url,
        streamlit_server(url, cache_ttl_s=2) as base,
    ):
        with get_engine(url).begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM admin_unit")).scalar_one() > 0
        page, _ = open_wall(browser, f"{base}/wall?kiosk=1")
        title = page.locator("[data-testid='wallHeader'] .wg-title").inner_text()
        assert name in title
        page.goto(base)
        page.get_by_text("four-level grid").first.wait_for(timeout=60_000)
        assert name in page.inner_text("body")
        assert page.locator("img[src*='example'], a[href*='example']").count() == 0
        assert page.external == []


@pytest.mark.parametrize("path", ["", "/wall?kiosk=1"])
def test_no_traceback_on_a_database_without_tables_or_without_server(
    server_url: str, browser, path: str
) -> None:
    away = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"  # nothing listens there
    with scratch_database(server_url, "wall_bare", migrated=False) as bare:
        for url, says in ((bare, "make demo"), (away, "unreachable")):
            with streamlit_server(url, cache_ttl_s=2) as base:
                page = browser.new_page()
                page.goto(base + path)
                page.get_by_text(says).first.wait_for(timeout=60_000)
                body = page.inner_text("body")
                assert "Traceback" not in body
                assert 'File "' not in body
                assert "/work/" not in page.content()
                page.close()


def test_the_wall_reads_through_the_wall_login_only(
    wall_db: str, browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's URL points at a database that does not exist; the wall's at the real one as
    ``wangge_wall``, which may read only the wall's views and functions: the wall is drawn
    whole, so it read nothing else (and nothing through the app's login)."""
    wall_url = make_url(wall_db).set(username="wangge_wall", password=None)
    monkeypatch.setenv("WANGGE_WALL_URL", wall_url.render_as_string(hide_password=False))
    nowhere = make_url(wall_db).set(database="wangge_no_such_database")
    with streamlit_server(
        nowhere.render_as_string(hide_password=False), cache_ttl_s=2, dev_login=None
    ) as base:
        page, _ = open_wall(browser, f"{base}/wall?kiosk=1")
        households = page.locator("[data-testid='wallFigure']", has_text="Households")
        assert households.locator(".v").inner_text() == "6"
        assert page.locator("table.wg-board tbody tr").count() > 0
        assert page.locator(".wg-stage").count() == 4
        body = page.inner_text("body")
        assert "unreachable" not in body
        assert "Traceback" not in body
        values = page.evaluate(
            "() => JSON.parse(document.getElementById('wangge-wall-values').textContent)"
        )
        assert values["plan"].startswith("plan:")
        page.close()
