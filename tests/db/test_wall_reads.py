"""The wall's reads through its own login (migration 0009): the views and functions of a
period give what the raw queries give, with every count blanked under k by the database, and
nothing else is readable to ``wangge_wall``.  Real PostGIS; the wall's calls run as the wall
role (``SET LOCAL ROLE`` inside the test's transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from geo import incidents, privacy, wall
from geo.db import io, queries
from geo.db.models import INCIDENT_DONE_STATES, INCIDENT_STATES
from geo.settings import WALL_ROLE
from tests._fixtures.county import tiny_county
from tests._fixtures.plans import split_plan

pytestmark = pytest.mark.db
COUNTY = "999999"
PERSONAL = ("household", "household_colour_event", "visit", "incident", "incident_event",
            "grid_worker", "app_user", "app_session", "login_failure", "app_setting",
            "grid_plan", "grid_cell", "cell_assignment", "admin_unit")  # fmt: skip
#: Columns of the wall's reads that count households (or residents, or incidents).
COUNTED = {
    "wall_counties": ("households", "residents"),
    "wall_period_units": ("households", "residents"),
    "wall_period_headline": ("reported", "open", "overdue", "resolved"),
    "wall_period_platforms": ("reported", "open", "overdue", "resolved"),
    "wall_weekly_platforms": ("reported",),
    "wall_period_chain": ("cases", "overdue"),
}


@pytest.fixture
def county(conn: Connection) -> Connection:
    io.write_county(conn, tiny_county(COUNTY))
    return conn


def report_everywhere(conn: Connection, now: datetime) -> None:
    """Household i (1..6) reports i incidents (21), in every state of the closed loop."""
    incidents.sync_platforms(conn, "yanchi")
    category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
    for i, code in enumerate(tiny_county(COUNTY).households["code"]):
        for j in range(i + 1):
            incidents.report(
                conn, f"wall-{code}-{j}", category=category, source="whistle", household=code,
                reported_at=now - timedelta(days=1 + 9 * j), actor="test",
            )  # fmt: skip
    conn.execute(
        text(
            "UPDATE incident SET status = (CAST(:s AS text[]))[1 + id % :n], "
            "due_at = now() - interval '1 hour' * (id % 3 - 1)"
        ),
        {"s": list(INCIDENT_STATES), "n": len(INCIDENT_STATES)},
    )


def set_k(conn: Connection, k: int) -> None:
    conn.execute(
        text("UPDATE app_setting SET value = :k WHERE name = 'suppress_below'"), {"k": str(k)}
    )


class AsWall:
    """Run the block as the wall's role (inside the test's transaction), then back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        self.conn.execute(text(f"SET LOCAL ROLE {WALL_ROLE}"))
        return self.conn

    def __exit__(self, *_: object) -> None:
        self.conn.execute(text("RESET ROLE"))


def wall_reads(conn: Connection, start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
    period = {"start": start, "end": end}
    with AsWall(conn):
        return {
            "wall_counties": queries.wall_counties(conn),
            "wall_period_units": queries.wall_period_units(conn, COUNTY, **period),
            "wall_period_headline": queries.wall_period_headline(conn, COUNTY, **period),
            "wall_period_platforms": queries.wall_period_platforms(conn, COUNTY, **period),
            "wall_weekly_platforms": queries.wall_weekly_platforms(conn, COUNTY, end=end),
            "wall_period_chain": queries.wall_period_chain(conn, COUNTY, **period),
        }


def raw_reads(conn: Connection, start: datetime, end: datetime, k: int) -> dict[str, pd.DataFrame]:
    """The raw queries (the app's, unsuppressed) with geo.privacy's rule applied in Python:
    what the wall showed before it read through its own login."""
    period = {"start": start, "end": end}
    raw = queries.wall_unit_counts(conn, COUNTY, **period)
    shown = raw["households"] >= k  # residents are blanked with the households behind them
    units = raw.assign(
        households=raw["households"].where(shown),
        residents=raw["residents"].where(shown & (raw["residents"] >= k)),
    )
    board = queries.platform_board(conn, COUNTY, **period)
    board = wall.suppress_counts(board, ["reported", "open", "overdue", "resolved"], k=k)
    board.loc[board["reported"].isna(), "resolved_share"] = float("nan")
    return {
        "wall_period_units": units,
        "wall_period_headline": wall.suppress_counts(
            queries.wall_headline(conn, COUNTY, **period),
            ["reported", "open", "overdue", "resolved"],
            k=k,
        ),
        "wall_period_platforms": board,
        "wall_weekly_platforms": wall.suppress_counts(
            queries.platform_weekly(conn, COUNTY, end=end, weeks=8), ["reported"], k=k
        ),
        "wall_period_chain": wall.suppress_counts(
            queries.chain_stages(conn, COUNTY, **period), ["cases", "overdue"], k=k
        ),
    }


def as_float(frame: pd.DataFrame) -> pd.DataFrame:
    numeric = {c: pd.to_numeric(frame[c], errors="coerce") for c in frame.columns
               if c not in ("code", "platform_code", "platform", "stage")}  # fmt: skip
    return frame.assign(**{c: v.astype(float) for c, v in numeric.items()})


@pytest.mark.parametrize("k", [0, 3, 5])
@pytest.mark.parametrize("published", [True, False])
def test_the_wall_reads_equal_the_raw_queries_suppressed(
    county: Connection, k: int, published: bool
) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=28), now + timedelta(seconds=1)
    if published:
        split_plan(county, COUNTY, 590.0, "first")
    report_everywhere(county, now)
    set_k(county, k)
    got = wall_reads(county, start, end)
    expected = raw_reads(county, start, end, k)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(
            as_float(got[name]).reset_index(drop=True),
            as_float(frame[list(got[name].columns)]).reset_index(drop=True),
            check_dtype=False,
            obj=name,
        )
    totals = got["wall_counties"].set_index("code").loc[COUNTY]
    shown = privacy.suppress_small(pd.DataFrame({"households": [6]}), k=k, columns=[])
    assert totals["households"] == pytest.approx(shown["households"].iloc[0], nan_ok=True)


@pytest.mark.parametrize("k", [3, 5])
def test_no_count_the_wall_reads_is_under_the_threshold(county: Connection, k: int) -> None:
    now = datetime.now(UTC)
    split_plan(county, COUNTY, 590.0, "first")
    report_everywhere(county, now)
    set_k(county, k)
    got = wall_reads(county, now - timedelta(days=90), now + timedelta(seconds=1))
    for name, columns in COUNTED.items():
        for column in columns:
            shown = pd.to_numeric(got[name][column], errors="coerce").dropna()
            assert (shown >= k).all(), (name, column, shown.tolist())
    # the incidents per unit are whole: Gi* needs them (a count of incidents, not households)
    assert got["wall_period_units"]["incidents"].sum() == 21


def test_wall_counts_still_sum_to_the_headline_across_a_publish(county: Connection) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=90), now + timedelta(seconds=1)
    split_plan(county, COUNTY, 590.0, "first")
    report_everywhere(county, now)
    second = split_plan(county, COUNTY, 630.0, "second")
    set_k(county, 0)
    got = wall_reads(county, start, end)
    with AsWall(county):
        assert queries.wall_plan_id(county, COUNTY) == second
        shapes = queries.wall_unit_shapes(county, COUNTY)
        outlines = queries.wall_township_shapes(county, COUNTY)
    assert shapes["code"].tolist() == got["wall_period_units"]["code"].tolist()
    assert set(shapes["unit"]) == {"cell"}
    assert len(outlines) == 2
    assert outlines.crs.to_epsg() == 4326
    units = got["wall_period_units"].set_index("code")
    assert units["incidents"].sum() == got["wall_period_headline"].iloc[0]["reported"] == 21
    assert units.loc[f"{COUNTY}101001-A", "incidents"] == 1 + 2 + 3


def test_without_a_published_plan_the_wall_draws_villages(county: Connection) -> None:
    with AsWall(county):
        assert queries.wall_plan_id(county, COUNTY) is None
        shapes = queries.wall_unit_shapes(county, COUNTY)
    assert set(shapes["unit"]) == {"village"}
    assert len(shapes) == 2


def test_the_done_states_of_the_database_are_the_models(county: Connection) -> None:
    done = county.execute(text("SELECT wangge_done_states()")).scalar_one()
    assert tuple(done) == INCIDENT_DONE_STATES


@pytest.fixture
def wall_login(db_url: str) -> Iterator[Connection]:
    url = make_url(db_url).set(username=WALL_ROLE, password=None)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@pytest.mark.parametrize("table", PERSONAL)
def test_the_wall_login_reads_no_table(wall_login: Connection, table: str) -> None:
    with pytest.raises(ProgrammingError, match="permission denied"):
        wall_login.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
    wall_login.rollback()


def test_the_wall_login_reads_its_views_and_functions(wall_login: Connection) -> None:
    now = datetime.now(UTC)
    assert list(queries.wall_counties(wall_login).columns) == [
        "code", "name", "households", "residents",
    ]  # fmt: skip
    chain = queries.wall_period_chain(wall_login, COUNTY, start=now - timedelta(days=1), end=now)
    assert chain["stage"].tolist() == ["worker", "township", "department", "feedback"]


def test_nobody_else_may_call_the_wall_functions(county: Connection) -> None:
    """EXECUTE is revoked from PUBLIC: a role of its own (not the wall's) cannot call them."""
    county.execute(text("CREATE ROLE wangge_test_stranger NOLOGIN"))
    county.execute(text("SET LOCAL ROLE wangge_test_stranger"))
    with pytest.raises(ProgrammingError, match="permission denied"):
        county.execute(text("SELECT * FROM wall_period_headline('999999', now(), now())"))


def test_whole_counts_per_unit_need_a_period_of_a_week(county: Connection) -> None:
    now = datetime.now(UTC)
    county.execute(text(f"SET LOCAL ROLE {WALL_ROLE}"))  # the transaction ends refused
    with pytest.raises(pd.errors.DatabaseError, match="at least 7 days"):
        queries.wall_period_units(county, COUNTY, start=now - timedelta(days=6), end=now)
