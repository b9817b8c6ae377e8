"""Logging in to the dashboards in a real headless Chromium (issue #15).

The server connects as the application's login ``wangge_app`` (row-level security applies)
and runs without the development auto-login, so every session starts at the login page.
The accounts are the demo's, one per role (``geo.auth.create_demo_users``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from geo import auth
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.browser import streamlit_server
from tests._fixtures.county import tiny_county

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

#: The navigation's titles of each page (dashboards/app.py).
TITLES = {
    "overview": "County overview",
    "hotspots": "Hotspots 热点",
    "coverage": "Coverage 覆盖",
    "operations": "Operations 一中心N平台",
    "case": "Case 案件",
    "planner": "Planner 规划",
    "wall": "Command-centre wall",
}
CENTRE = ["overview", "wall", "hotspots", "coverage", "operations", "case"]
#: What each demo user's navigation lists, in the router's order.
EXPECTED = {
    "centre": CENTRE,
    "township": CENTRE,
    "planner": ["overview", "planner"],
    "analyst": ["overview", "hotspots", "coverage"],
    "admin": ["overview", "wall", "hotspots", "coverage", "operations", "case", "planner"],
}
REFUSED = "Wrong login or password"
SHOTS = Path(os.environ.get("WANGGE_LOGIN_SHOTS", "/tmp/login_shots"))


@pytest.fixture(scope="module")
def login_site(server_url: str, publish_with_incidents) -> Iterator[tuple[str, dict[str, str]]]:
    """A server on the tiny county (published plan, incidents, the demo users), connected
    as ``wangge_app``; yields its base URL and the demo users' passwords."""
    with scratch_database(server_url, "login", county=tiny_county()) as url:
        publish_with_incidents(url)
        with get_engine(url).begin() as conn:
            passwords = auth.create_demo_users(conn, "999999")
            passwords["lock-me"] = auth.add_user(conn, "lock-me", role="analyst")[1]
        app = make_url(url).set(username="wangge_app", password=None)
        app_url = app.render_as_string(hide_password=False)
        with streamlit_server(app_url, cache_ttl_s=30, dev_login=None) as base:
            yield base, passwords


def log_in(page, login: str, password: str) -> None:
    page.get_by_label("Login 用户名").fill(login)
    page.get_by_label("Password 密码").fill(password)
    page.get_by_role("button", name="Log in 登录").click()


def nav_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid='stSidebarNavLink']").all_inner_texts()]


def login_form(page) -> None:
    page.get_by_label("Password 密码").wait_for(timeout=30_000)


@pytest.mark.parametrize("role", ["centre", "township", "planner", "analyst", "admin"])
def test_each_demo_user_sees_only_their_roles_pages(login_site, browser, role: str) -> None:
    base, passwords = login_site
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(base)
    login_form(page)
    log_in(page, f"demo-{role}", passwords[f"demo-{role}"])
    page.get_by_text(f"Logged in as demo-{role}").wait_for(timeout=30_000)
    page.get_by_text("County overview 县域总览").first.wait_for(timeout=30_000)
    titles = [TITLES[name] for name in EXPECTED[role]]
    page.wait_for_function(
        "n => document.querySelectorAll(\"[data-testid='stSidebarNavLink']\").length === n",
        arg=len(titles),
        timeout=30_000,
    )
    assert [t.split("\n")[-1] for t in nav_titles(page)] == titles
    assert "Traceback" not in page.inner_text("body")
    page.close()


def test_the_wall_user_sees_the_wall_only(login_site, browser) -> None:
    base, passwords = login_site
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(base)
    login_form(page)
    log_in(page, "demo-wall", passwords["demo-wall"])
    page.get_by_text("Command centre").first.wait_for(timeout=30_000)
    assert nav_titles(page) in ([], [TITLES["wall"]])
    assert "County overview" not in page.inner_text("body")
    # the kiosk's own address works for the wall's account (a reload, a new tab), and the
    # root leads to it with ?kiosk=1 kept
    for path in ("/wall?kiosk=1", "/?kiosk=1"):
        page.goto(base + path)
        page.get_by_text("Command centre").first.wait_for(timeout=30_000)
        page.wait_for_url("**/wall?kiosk=1", timeout=30_000)
        page.wait_for_timeout(1_000)
        assert page.get_by_text("Page not found").count() == 0, path
    page.close()


def test_wrong_password_or_unknown_login_get_the_same_one_message(login_site, browser) -> None:
    base, _ = login_site
    said = []
    for login, password in (("demo-centre", "not-the-password"), ("nobody-here", "whatever12")):
        page = browser.new_page()
        page.goto(base)
        login_form(page)
        log_in(page, login, password)
        alert = page.locator("[data-testid='stAlert']")
        alert.wait_for(timeout=30_000)
        said.append(alert.inner_text().strip())
        body = page.inner_text("body")
        assert "Logged in as" not in body
        assert page.get_by_label("Password 密码").input_value() == ""  # not kept in the form
        page.close()
    assert said[0] == said[1]
    assert REFUSED in said[0]


@pytest.mark.parametrize("path", ["/operations", "/case?id=1", "/hotspots", "/coverage",
                                  "/overview", "/planner"])  # fmt: skip
def test_no_page_without_a_session(login_site, browser, path: str) -> None:
    base, _ = login_site
    page = browser.new_page()
    page.goto(base + path)
    login_form(page)
    body = page.inner_text("body")
    for title in TITLES.values():
        assert title not in body
    assert nav_titles(page) == []
    page.close()


def test_a_deep_link_opens_after_logging_in(login_site, browser) -> None:
    base, passwords = login_site
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/case?id=1")
    login_form(page)
    log_in(page, "demo-centre", passwords["demo-centre"])
    page.get_by_text("Logged in as demo-centre").wait_for(timeout=30_000)
    page.get_by_role("heading", name="Case 案件").wait_for(timeout=30_000)
    assert "case=1" in page.url.replace("?id=", "case=") or page.url.endswith("/case?id=1")
    page.close()


def test_logging_in_at_the_login_address_lands_on_the_roles_first_page(login_site, browser) -> None:
    base, passwords = login_site
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/login")
    login_form(page)
    log_in(page, "demo-analyst", passwords["demo-analyst"])
    page.get_by_text("County overview 县域总览").first.wait_for(timeout=30_000)
    assert "not open to your role" not in page.inner_text("body")
    page.close()


def test_the_wall_needs_no_login(login_site, browser) -> None:
    base, _ = login_site
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base}/wall?kiosk=1")
    page.get_by_text("Command centre").first.wait_for(timeout=30_000)
    metric = page.locator("[data-testid='wallFigure']", has_text="Households")
    metric.wait_for(timeout=30_000)
    assert metric.locator(".v").inner_text() == "6"  # the whole county, not nobody's
    page.close()


def _households(page) -> str:
    metric = page.locator("[data-testid='stMetric']", has_text="Households")
    metric.wait_for(timeout=30_000)
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def test_the_township_user_sees_their_township_only(login_site, browser) -> None:
    base, passwords = login_site
    seen = {}
    for role in ("township", "centre"):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        login_form(page)
        log_in(page, f"demo-{role}", passwords[f"demo-{role}"])
        page.get_by_text(f"Logged in as demo-{role}").wait_for(timeout=30_000)
        seen[role] = _households(page)
        page.close()
    # The demo township user has the county's first township: 4 of its 6 households.
    assert seen == {"township": "4", "centre": "6"}


def test_screenshots_of_the_login_page_and_a_centre_users_operations(login_site, browser) -> None:
    base, passwords = login_site
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(base)
    login_form(page)
    page.wait_for_timeout(500)
    page.screenshot(path=SHOTS / "login.png")
    log_in(page, "demo-centre", passwords["demo-centre"])
    page.get_by_text("Logged in as demo-centre").wait_for(timeout=30_000)
    page.get_by_role("link", name="Operations 一中心N平台").click()
    page.get_by_role("heading", name="Operations").first.wait_for(timeout=30_000)
    page.wait_for_timeout(2500)
    page.screenshot(path=SHOTS / "operations_centre.png")
    assert "Traceback" not in page.inner_text("body")
    # Logging out ends the session: the login form again, and no page without logging in.
    page.get_by_role("button", name="Log out 退出").click()
    login_form(page)
    assert nav_titles(page) == []
    page.close()


def test_a_login_survives_a_reload_until_logging_out(login_site, browser) -> None:
    base, passwords = login_site
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/hotspots")
    login_form(page)
    log_in(page, "demo-analyst", passwords["demo-analyst"])
    page.get_by_text("Logged in as demo-analyst").wait_for(timeout=30_000)
    page.wait_for_function("() => document.cookie.includes('wangge_session=')", timeout=30_000)
    cookie = next(c for c in context.cookies() if c["name"] == "wangge_session")
    assert cookie["sameSite"] == "Strict"
    assert cookie["expires"] > time.time() + 11 * 3600  # the session's 12 hours
    page.reload()
    page.get_by_text("Logged in as demo-analyst").wait_for(timeout=30_000)
    assert page.get_by_label("Password 密码").count() == 0
    other = context.new_page()  # another tab of the same browser
    other.goto(f"{base}/coverage")
    other.get_by_text("Logged in as demo-analyst").wait_for(timeout=30_000)
    page.get_by_role("button", name="Log out 退出").click()
    login_form(page)
    page.wait_for_function("() => !document.cookie.includes('wangge_session=')")
    page.reload()
    login_form(page)
    assert "Logged in as" not in page.inner_text("body")
    # The other tab's login ended with the session: its next run shows the login form.
    other.reload()
    login_form(other)
    # A stolen cookie of an ended session opens nothing either.
    thief = browser.new_context()
    thief.add_cookies([{**cookie, "expires": time.time() + 3600}])
    stolen = thief.new_page()
    stolen.goto(f"{base}/hotspots")
    login_form(stolen)
    context.close()
    thief.close()


def test_five_failures_lock_a_login_alike_for_known_and_unknown_names(login_site, browser) -> None:
    base, passwords = login_site
    said = {}
    for login in ("lock-me", "nobody-at-all"):
        page = browser.new_page()
        page.goto(base)
        login_form(page)
        for attempt in range(auth.MAX_FAILURES):
            log_in(page, login, f"wrong password {attempt}")
            # the form forgets the password once the server has answered
            page.wait_for_function(
                "() => document.querySelector('input[type=password]').value === ''",
                timeout=30_000,
            )
            page.locator("[data-testid='stAlert']").wait_for(timeout=30_000)
            page.wait_for_timeout(500)
        log_in(page, login, passwords.get(login, "still wrong 123"))  # even the right one
        page.get_by_text("Too many failed log-ins").wait_for(timeout=30_000)
        said[login] = page.locator("[data-testid='stAlert']").inner_text().strip()
        assert "Logged in as" not in page.inner_text("body")
        page.screenshot(path=SHOTS / f"locked_{login}.png")
        page.close()
    assert said["lock-me"] == said["nobody-at-all"]
    assert "15 minutes" in said["lock-me"]
