"""Security (issue #15): roles, row-level security, the wall's views, history that cannot be
rewritten, downgrades that refuse, users as data.  Real PostgreSQL, connecting as the app
and wall logins (the rest of the suite connects as the superuser, which RLS does not bind).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError
from typer.testing import CliRunner

from geo import auth, incidents, privacy
from geo.cli import app
from geo.db import migrate, roles
from geo.db.provision import scratch_database
from geo.db.scope import SYSTEM, effective, scope
from geo.db.session import get_engine
from geo.errors import ConfigError, DatabaseError
from geo.settings import APP_ROLE, OWNER_ROLE, WALL_ROLE
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db
runner = CliRunner()

T1, T2 = "999999101", "999999102"  # the tiny county's townships: 4 and 2 households
PERSONAL = ("household", "household_colour_event", "visit", "incident", "incident_event",
            "grid_worker")  # fmt: skip


def as_login(url: str, user: str) -> str:
    """``url`` logging in as ``user`` (trust on loopback, as provisioned)."""
    return make_url(url).set(username=user, password=None).render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def no_process_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process default scope (a CLI test elsewhere may have set '*' in this process)."""
    monkeypatch.delenv("WANGGE_SCOPE", raising=False)


@pytest.fixture(scope="module")
def secure_db(server_url: str) -> Iterator[str]:
    """The tiny county with a worker, a visit, a colour change and an incident per
    township (committed; written as the superuser). Yields the superuser's URL."""
    with scratch_database(server_url, "security", county=tiny_county()) as url:
        households = tiny_county().households.set_index("village_code")["code"]
        with get_engine(url).begin() as conn:
            incidents.sync_platforms(conn, "yanchi")
            category = conn.execute(text("SELECT min(code) FROM incident_category")).scalar_one()
            for i, (township, village) in enumerate(((T1, "999999101001"),
                                                     (T2, "999999102001"))):  # fmt: skip
                household = households.loc[village].iloc[0]
                incidents.report(
                    conn, f"sec-{i}", category=category, source="whistle", household=household,
                    reported_at=datetime.now(UTC) - timedelta(days=1), actor="test",
                )  # fmt: skip
                for statement in (
                    "INSERT INTO grid_worker (code, name, township_code) VALUES (:w, 'w', :t)",
                    "INSERT INTO visit (worker_code, household_code, visited_at) "
                    "VALUES (:w, :h, now())",
                    "INSERT INTO household_colour_event (household_code, colour) "
                    "VALUES (:h, 'green')",
                ):
                    conn.execute(text(statement), {"w": f"w{i}", "t": township, "h": household})
        yield url


@pytest.fixture(scope="module")
def app_engine(secure_db: str) -> Iterator[Engine]:
    """The app's login, one pooled connection (so users share it one after the other)."""
    engine = create_engine(as_login(secure_db, APP_ROLE), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in PERSONAL}


# ----------------------------------------------------------------------------- roles


def test_roles_have_the_attributes_the_design_asks_for(secure_db: str) -> None:
    with get_engine(secure_db).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles "
                "WHERE rolname LIKE 'wangge\\_%' ORDER BY 1"
            )
        ).all()
        owners = conn.execute(
            text(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename IN ('household', "
                "'incident_event', 'app_user', 'alembic_version')"
            )
        ).scalars()
        assert set(owners) == {OWNER_ROLE}
    found = {r.rolname: (r.rolcanlogin, r.rolsuper, r.rolbypassrls) for r in rows}
    assert found[OWNER_ROLE] == (False, False, False)
    assert found[APP_ROLE] == (True, False, False)
    assert found[WALL_ROLE] == (True, False, False)


def test_creating_the_roles_is_idempotent_and_safe_in_parallel(secure_db: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            assert roles.ensure_roles(secure_db)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ------------------------------------------------------------------ row-level security


def test_a_township_user_reads_only_its_township(app_engine: Engine) -> None:
    with scope(T1, login="t1"), app_engine.connect() as conn:
        villages = conn.execute(text("SELECT DISTINCT village_code FROM household")).scalars()
        assert {v[:9] for v in villages} == {T1}
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 4
        # hand-written SQL asking for the other township directly gets nothing
        other = conn.execute(
            text("SELECT count(*) FROM household WHERE village_code LIKE :t || '%'"), {"t": T2}
        ).scalar_one()
        assert other == 0
        joined = conn.execute(
            text(
                "SELECT count(*) FROM incident i JOIN incident_event e ON e.incident_id = i.id "
                "WHERE i.township_code = :t"
            ),
            {"t": T2},
        ).scalar_one()
        assert joined == 0
        for table in ("incident", "grid_worker", "visit", "household_colour_event"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1, table


def test_one_pooled_connection_two_users_no_leak(app_engine: Engine) -> None:
    def read(code: str) -> tuple[int, set[str]]:
        with scope(code, login=f"user-{code}"), app_engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            villages = set(conn.execute(text("SELECT village_code FROM household")).scalars())
            conn.execute(text("SET wangge.scope = '*'"))  # a session-level setting left over
            conn.commit()
        return pid, {v[:9] for v in villages}

    pid1, first = read(T1)
    pid2, second = read(T2)
    assert pid1 == pid2  # the same server session served both users
    assert first == {T1}
    assert second == {T2}
    assert counts(app_engine) == dict.fromkeys(PERSONAL, 0)  # and then nobody's


def test_without_a_scope_every_personal_table_is_empty(app_engine: Engine) -> None:
    assert effective().code == ""
    assert counts(app_engine) == dict.fromkeys(PERSONAL, 0)
    with scope(""), app_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 0


def test_the_system_scope_and_a_county_scope_read_everything(app_engine: Engine) -> None:
    with scope(SYSTEM):
        everything = counts(app_engine)
    with scope("999999"):
        assert counts(app_engine) == everything
    assert everything["household"] == 6


def test_a_township_user_cannot_write_into_another_township(app_engine: Engine) -> None:
    with (
        scope(T1),
        app_engine.connect() as conn,
        pytest.raises(ProgrammingError, match="row-level security"),
    ):
        conn.execute(
            text("INSERT INTO grid_worker (code, name, township_code) VALUES ('x', 'x', :t)"),
            {"t": T2},
        )


def test_the_app_login_bulk_loads_under_row_level_security(app_engine: Engine) -> None:
    """COPY FROM is refused under RLS: copy_frame stages and INSERTs instead (synth, load)."""
    from geo.db import io

    moved = tiny_county().households.head(2).assign(code=["x-1", "x-2"])
    with scope(SYSTEM), app_engine.connect() as conn:
        transaction = conn.begin()
        try:
            assert io.copy_frame(conn, moved, "household") == 2
            assert (
                conn.execute(
                    text("SELECT count(*) FROM household WHERE code LIKE 'x-%'")
                ).scalar_one()
                == 2
            )
        finally:
            transaction.rollback()


def test_a_bad_scope_is_refused_before_reaching_sql() -> None:
    with pytest.raises(ConfigError, match="scope"), scope("999' OR true --"):
        pass


# ----------------------------------------------------------------------------- the wall


def test_the_wall_login_cannot_read_personal_tables(secure_db: str) -> None:
    wall = create_engine(as_login(secure_db, WALL_ROLE))
    try:
        for table in (*PERSONAL, "app_user"):
            with wall.connect() as conn, pytest.raises(ProgrammingError, match="permission"):
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
        with scope(SYSTEM), wall.connect() as conn, pytest.raises(ProgrammingError):
            conn.execute(text("SELECT 1 FROM household LIMIT 1"))  # a scope changes nothing
    finally:
        wall.dispose()


VIEWS = {
    "wall_township_counts": ("households", "residents", "incidents_30d", "open_incidents"),
    "wall_cell_counts": ("households", "residents", "incidents_30d", "open_incidents"),
    "wall_platform_counts": ("open_incidents", "overdue", "reported_30d", "resolved_30d"),
    "wall_daily_incidents": ("reported",),
}


@pytest.mark.parametrize("k", [5, 3])
def test_wall_views_hold_no_count_under_the_threshold(secure_db: str, k: int) -> None:
    admin = get_engine(secure_db)
    with admin.begin() as conn:
        conn.execute(text("UPDATE app_setting SET value = :k WHERE name = 'suppress_below'"),
                     {"k": str(k)})  # fmt: skip
    wall = create_engine(as_login(secure_db, WALL_ROLE))
    try:
        with wall.connect() as conn:
            for view, columns in VIEWS.items():
                frame = pd.read_sql(text(f"SELECT * FROM {view}"), conn)
                for column in columns:
                    shown = frame[column].dropna()
                    assert (shown >= k).all(), (view, column, shown.tolist())
            townships = pd.read_sql(text("SELECT * FROM wall_township_counts"), conn)
    finally:
        wall.dispose()
        with admin.begin() as conn:
            conn.execute(text("UPDATE app_setting SET value = '5' WHERE name = 'suppress_below'"))
    # the database blanks exactly what geo.privacy blanks
    raw = pd.DataFrame({"township_code": [T1, T2], "households": [4, 2]})
    expected = privacy.suppress_small(raw, k=k, columns=[])
    got = townships.set_index("township_code").loc[[T1, T2], "households"].astype(float)
    assert got.tolist() == pytest.approx(expected["households"].tolist(), nan_ok=True)


# ------------------------------------------------------------------------------ history


@pytest.mark.parametrize("table", ["incident_event", "household_colour_event"])
@pytest.mark.parametrize("statement", ["TRUNCATE {t}", "DELETE FROM {t}", "UPDATE {t} SET id = id"])
def test_the_app_cannot_rewrite_history(
    app_engine: Engine, secure_db: str, table: str, statement: str
) -> None:
    with scope(SYSTEM), app_engine.connect() as conn, pytest.raises(ProgrammingError):
        conn.execute(text(statement.format(t=table)))
    with scope(SYSTEM):
        assert counts(app_engine)[table] == 2


@pytest.mark.parametrize("table", ["incident_event", "household_colour_event"])
def test_truncate_of_history_is_refused_even_for_the_superuser(secure_db: str, table: str) -> None:
    with get_engine(secure_db).connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(f"TRUNCATE {table} CASCADE"))


# ---------------------------------------------------------------------- the app's login


def test_a_superuser_database_url_is_refused_without_the_flag(
    secure_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", secure_db)
    monkeypatch.setenv("WANGGE_ALLOW_SUPERUSER", "0")
    refused = runner.invoke(app, ["info"])
    assert refused.exit_code == 1
    assert "superuser" in refused.output
    assert "WANGGE_ALLOW_SUPERUSER" in refused.output
    assert "Traceback" not in refused.output
    monkeypatch.setenv("DATABASE_URL", as_login(secure_db, APP_ROLE))
    allowed = runner.invoke(app, ["info"], env={"COLUMNS": "200"})
    assert allowed.exit_code == 0, allowed.output
    assert "999999" in allowed.output  # the CLI's jobs run in the system scope


def test_db_downgrade_without_a_revision_fails_and_changes_nothing(
    secure_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", secure_db)
    before = migrate.current_revisions(secure_db)
    result = runner.invoke(app, ["db", "downgrade"])
    assert result.exit_code != 0
    assert "Missing argument" in result.output
    declined = runner.invoke(app, ["db", "downgrade", "base"], input="n\n")
    assert declined.exit_code != 0
    assert migrate.current_revisions(secure_db) == before
    with get_engine(secure_db).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 6


def test_downgrades_that_would_lose_data_refuse_and_change_nothing(server_url: str) -> None:
    with scratch_database(server_url, "downgrade", county=tiny_county()) as url:
        with get_engine(url).begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO grid_plan (county_code, name, metrics) "
                    "VALUES ('999999', 'p', '{\"cells\": 2}')"
                )
            )
            auth.add_user(conn, "keeper", role="admin")
        with pytest.raises(DatabaseError, match="app_user"):
            migrate.downgrade(url, "0007")
        with get_engine(url).begin() as conn:
            conn.execute(text("DELETE FROM app_user"))
        with pytest.raises(DatabaseError, match=r"grid_plan\.metrics"):
            migrate.downgrade(url, "0002")
        assert migrate.current_revisions(url) == migrate.head_revisions()
        with get_engine(url).connect() as conn:
            metrics = conn.execute(text("SELECT metrics FROM grid_plan")).scalar_one()
        assert metrics == {"cells": 2}


# -------------------------------------------------------------------------------- users


def test_users_add_list_disable_passwd(secure_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", as_login(secure_db, APP_ROLE))
    monkeypatch.delenv("WANGGE_ALLOW_SUPERUSER")
    added = runner.invoke(app, ["users", "add", "li.wei", "--role", "township", "--township", T1])
    assert added.exit_code == 0, added.output
    password = added.output.split("(shown once): ")[1].split()[0]
    missing = runner.invoke(app, ["users", "add", "wang", "--role", "township"])
    assert missing.exit_code == 1
    assert "--township" in missing.output
    unknown = runner.invoke(app, ["users", "add", "wang", "--role", "mayor"])
    assert unknown.exit_code == 1
    assert "planner" in unknown.output
    again = runner.invoke(app, ["users", "add", "li.wei", "--role", "admin"])
    assert again.exit_code == 1
    assert "exists" in again.output
    listed = runner.invoke(app, ["users", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "li.wei" in listed.output
    assert T1 in listed.output
    assert password not in listed.output

    engine = get_engine(as_login(secure_db, APP_ROLE))
    with engine.begin() as conn:
        user = auth.authenticate(conn, "li.wei", password)
    assert user is not None
    assert user.role == "township"
    assert user.scope == T1
    with auth.as_user(user), engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 4

    changed = runner.invoke(app, ["users", "passwd", "li.wei"])
    assert changed.exit_code == 0, changed.output
    new = changed.output.split("(shown once): ")[1].split()[0]
    with engine.begin() as conn:
        assert auth.authenticate(conn, "li.wei", password) is None
        assert auth.authenticate(conn, "li.wei", new) is not None
    disabled = runner.invoke(app, ["users", "disable", "li.wei"])
    assert disabled.exit_code == 0
    with engine.begin() as conn:
        assert auth.authenticate(conn, "li.wei", new) is None
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 1


def test_authenticate_refuses_wrong_passwords_alike(secure_db: str) -> None:
    engine = get_engine(as_login(secure_db, APP_ROLE))
    with engine.begin() as conn:
        _, password = auth.add_user(conn, "zhang", role="centre")
    with engine.begin() as conn:
        assert auth.authenticate(conn, "zhang", password) is not None
        assert auth.authenticate(conn, "ZHANG ", password) is not None  # login is normalised
        assert auth.authenticate(conn, "zhang", password + "x") is None
        assert auth.authenticate(conn, "zhang", "") is None
        assert auth.authenticate(conn, "nobody-here", password) is None

        def took(login: str) -> float:
            started = time.perf_counter()
            auth.authenticate(conn, login, "wrong password")
            return time.perf_counter() - started

        wrong = min(took("zhang") for _ in range(3))
        unknown = min(took("nobody-here") for _ in range(3))
    assert 0.33 < unknown / wrong < 3  # both do the same argon2 work


def test_demo_users_one_per_role_with_working_passwords(secure_db: str) -> None:
    engine = get_engine(as_login(secure_db, APP_ROLE))
    with engine.begin() as conn:
        made = auth.create_demo_users(conn, "999999")
        again = auth.create_demo_users(conn, "999999")  # idempotent, fresh passwords
    assert set(made) == {f"demo-{r}" for r in auth.ROLES}
    with engine.begin() as conn:
        users = {login: auth.authenticate(conn, login, p) for login, p in again.items()}
        assert auth.authenticate(conn, "demo-admin", made["demo-admin"]) is None
    assert all(u is not None for u in users.values())
    assert users["demo-township"].scope == T1
    assert users["demo-wall"].scope == ""
    assert users["demo-centre"].scope == SYSTEM
