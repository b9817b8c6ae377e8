"""Fixtures of the dashboard tests: committed scratch databases (the app runs in another
process) holding the tiny county, a published plan and a few incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import text

from geo import incidents
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests._fixtures.county import tiny_county
from tests._fixtures.plans import one_cell_plan

#: Incidents reported in the tiny county's wall fixture: fewer than the threshold (5).
INCIDENTS = 3


def publish_with_incidents(url: str, *, n: int = INCIDENTS) -> int:
    """Publish the one-cell-per-village plan and report ``n`` incidents at households."""
    with get_engine(url).begin() as conn:
        incidents.sync_platforms(conn, "yanchi")
        plan_id = one_cell_plan(conn)
        conn.execute(
            text("UPDATE grid_plan SET status = 'published', published_at = now() WHERE id = :p"),
            {"p": plan_id},
        )
        category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
        households = tiny_county().households
        now = datetime.now(UTC)
        for i in range(n):
            incidents.report(
                conn,
                f"wall-test-{i}",
                category=category,
                source="whistle",
                household=households["code"].iloc[i],
                reported_at=now - timedelta(days=1 + i),
                actor="test",
            )
    return plan_id


@pytest.fixture(name="publish_with_incidents", scope="session")
def publish_with_incidents_fixture():
    """:func:`publish_with_incidents`, for tests that build their own database."""
    return publish_with_incidents


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def wall_db(server_url: str) -> Iterator[str]:
    """The tiny county with a published plan and :data:`INCIDENTS` incidents (committed)."""
    with scratch_database(server_url, "wall", county=tiny_county()) as url:
        publish_with_incidents(url)
        yield url
