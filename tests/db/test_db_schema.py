"""The schema: migrations up and down, models agree with the database, bad rows refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from geo.db import io, migrate
from geo.db.all_models import Base
from geo.db.session import get_engine
from geo.errors import DatabaseError
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db


def test_upgrade_empty_database_to_head_then_models_and_schema_agree(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    assert migrate.is_current(empty_db_url)
    with get_engine(empty_db_url).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": alembic_helpers.include_object, "compare_type": True},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_base_leaves_no_table(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert migrate.current_revisions(empty_db_url) == set()
    tables = set(inspect(get_engine(empty_db_url)).get_table_names()) - {"spatial_ref_sys"}
    assert tables <= {"alembic_version"}
    migrate.upgrade(empty_db_url)  # and back up again: the migration is repeatable
    assert "household" in inspect(get_engine(empty_db_url)).get_table_names()


def test_every_geometry_column_has_srid_4326_and_a_named_gist_index(conn: Connection) -> None:
    rows = conn.execute(  # tables only: a view (the wall's) has no index of its own
        text(
            "SELECT g.f_table_name, g.f_geometry_column, g.srid FROM geometry_columns g "
            "JOIN pg_class c ON c.relname = g.f_table_name AND c.relkind IN ('r', 'p')"
        )
    ).all()
    assert rows, "no geometry columns registered"
    assert {r.srid for r in rows} == {4326}
    indexes = conn.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
    ).all()
    indexed = {
        (i.indexdef.split(" ON ")[1].split()[0].split(".")[-1], i.indexname) for i in indexes
    }
    for row in rows:
        assert any(t == row.f_table_name for t, _ in indexed), row
    assert all(name.startswith("gix_") for _, name in indexed)


@pytest.fixture
def loaded(conn: Connection) -> Connection:
    io.write_county(conn, tiny_county())
    return conn


def _fails(conn: Connection, sql: str, params: dict | None = None) -> str:
    savepoint = conn.begin_nested()
    with pytest.raises((IntegrityError, DBAPIError)) as info:
        conn.execute(text(sql), params or {})
    savepoint.rollback()
    return str(info.value)


HH = "999999101001001"


def test_negative_residents_refused(loaded: Connection) -> None:
    msg = _fails(loaded, f"UPDATE household SET residents = -1 WHERE code = '{HH}0001'")
    assert "residents_nonneg" in msg or "at_home_range" in msg


def test_more_at_home_than_residents_refused(loaded: Connection) -> None:
    msg = _fails(loaded, "UPDATE household SET residents_at_home = residents + 1")
    assert "ck_household_at_home_range" in msg


def test_unknown_colour_refused(loaded: Connection) -> None:
    assert "ck_household_colour" in _fails(loaded, "UPDATE household SET colour = 'purple'")


def test_wrong_srid_refused(loaded: Connection) -> None:
    msg = _fails(
        loaded,
        "UPDATE household SET geom = ST_SetSRID(geom, 3857) WHERE code = :c",
        {"c": f"{HH}0001"},
    )
    assert "SRID" in msg


def test_wrong_geometry_type_refused(loaded: Connection) -> None:
    msg = _fails(loaded, "UPDATE household SET geom = ST_Centroid(geom)")
    assert "Point" in msg or "type" in msg.lower()


def test_invalid_polygon_refused(loaded: Connection) -> None:
    bowtie = "SRID=4326;POLYGON((107 37, 107.001 37.001, 107.001 37, 107 37.001, 107 37))"
    msg = _fails(loaded, "UPDATE household SET geom = ST_GeomFromEWKT(:g)", {"g": bowtie})
    assert "ck_household_geom_valid" in msg


def _plan_with_cell(conn: Connection) -> int:
    plan_id = conn.execute(
        text("INSERT INTO grid_plan (county_code, name) VALUES ('999999', 'p') RETURNING id")
    ).scalar_one()
    for cell in ("c1", "c2"):
        conn.execute(
            text(
                "INSERT INTO grid_cell (plan_id, code, village_code, geom) SELECT :p, :c, code, "
                "geom FROM admin_unit WHERE code = '999999101001'"
            ),
            {"p": plan_id, "c": cell},
        )
    return plan_id


def test_household_in_two_cells_of_one_plan_refused(loaded: Connection) -> None:
    plan_id = _plan_with_cell(loaded)
    insert = "INSERT INTO cell_assignment VALUES (:p, :h, :c)"
    loaded.execute(text(insert), {"p": plan_id, "h": f"{HH}0001", "c": "c1"})
    msg = _fails(loaded, insert, {"p": plan_id, "h": f"{HH}0001", "c": "c2"})
    assert "pk_cell_assignment" in msg


def test_only_one_published_plan_per_county(loaded: Connection) -> None:
    insert = "INSERT INTO grid_plan (county_code, name, status) VALUES ('999999', :n, 'published')"
    loaded.execute(text(insert), {"n": "a"})
    assert "uq_grid_plan_one_published" in _fails(loaded, insert, {"n": "b"})


def test_incident_history_is_append_only(loaded: Connection) -> None:
    loaded.execute(text("INSERT INTO platform VALUES ('p', '平台', 'Platform')"))
    loaded.execute(text("INSERT INTO incident_category VALUES ('c', '类', 'p', 24)"))
    incident = loaded.execute(
        text(
            "INSERT INTO incident (client_key, category_code, source, reported_at, geom) "
            "VALUES ('k1', 'c', 'whistle', now(), ST_SetSRID(ST_MakePoint(107.4, 37.8), 4326)) "
            "RETURNING id"
        )
    ).scalar_one()
    loaded.execute(
        text(
            "INSERT INTO incident_event (incident_id, to_status, actor, role) "
            "VALUES (:i, 'reported', 'w1', 'grid_worker')"
        ),
        {"i": incident},
    )
    assert "append-only" in _fails(loaded, "UPDATE incident_event SET note = 'rewritten'")
    assert "append-only" in _fails(loaded, "DELETE FROM incident_event")


def test_database_from_another_version_is_a_clear_error(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    with get_engine(empty_db_url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    try:
        with pytest.raises(DatabaseError, match=r"f00dfeed.*wangge db reset"):
            migrate.is_current(empty_db_url)
    finally:
        with get_engine(empty_db_url).begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            for head in migrate.head_revisions():
                conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    assert migrate.is_current(empty_db_url)
