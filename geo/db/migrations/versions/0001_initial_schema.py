"""Initial schema: admin hierarchy, households, grid plans, workers, incidents, quarantine.

Written by Alembic autogenerate from ``geo.db.models`` and then extended by hand with the
PostGIS extension and the append-only trigger on ``incident_event``.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 06:02:07.446245

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_change_of_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER incident_event_append_only
BEFORE UPDATE OR DELETE ON incident_event
FOR EACH ROW EXECUTE FUNCTION refuse_change_of_history()
"""

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_unit",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(level = 'county') = (parent_code IS NULL)", name=op.f("ck_admin_unit_parent_by_level")
        ),
        sa.CheckConstraint(
            "level IN ('county', 'township', 'village', 'natural_unit')",
            name=op.f("ck_admin_unit_level"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_admin_unit_geom_valid")),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["admin_unit.code"],
            name=op.f("fk_admin_unit_parent_code_admin_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_admin_unit")),
    )
    op.create_geospatial_index(
        "gix_admin_unit_geom",
        "admin_unit",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_admin_unit_level", "admin_unit", ["level"], unique=False)
    op.create_index(op.f("ix_admin_unit_parent_code"), "admin_unit", ["parent_code"], unique=False)
    op.create_table(
        "platform",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_platform")),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("load_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "quarantined_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_load_id"), "quarantine", ["load_id"], unique=False)
    op.create_table(
        "grid_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("parent_plan_id", sa.Integer(), nullable=True),
        sa.Column("min_size", sa.Integer(), server_default="30", nullable=False),
        sa.Column("max_size", sa.Integer(), server_default="50", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), server_default="system", nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'archived')", name=op.f("ck_grid_plan_status")
        ),
        sa.CheckConstraint(
            "min_size >= 1 AND max_size >= min_size", name=op.f("ck_grid_plan_bounds")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_grid_plan_version_pos")),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["admin_unit.code"],
            name=op.f("fk_grid_plan_county_code_admin_unit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_plan_id"],
            ["grid_plan.id"],
            name=op.f("fk_grid_plan_parent_plan_id_grid_plan"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_plan")),
        sa.UniqueConstraint("county_code", "name", name="uq_grid_plan_county_name"),
    )
    op.create_index(
        "uq_grid_plan_one_published",
        "grid_plan",
        ["county_code"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_geospatial_table(
        "household",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("natural_unit_code", sa.String(length=32), nullable=False),
        sa.Column("village_code", sa.String(length=32), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column("residents_at_home", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "point",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_PointOnSurface(geom)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "colour IN ('red', 'orange', 'yellow', 'blue', 'green')",
            name=op.f("ck_household_colour"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_household_geom_valid")),
        sa.CheckConstraint("residents >= 0", name=op.f("ck_household_residents_nonneg")),
        sa.CheckConstraint(
            "residents_at_home >= 0 AND residents_at_home <= residents",
            name=op.f("ck_household_at_home_range"),
        ),
        sa.ForeignKeyConstraint(
            ["natural_unit_code"],
            ["admin_unit.code"],
            name=op.f("fk_household_natural_unit_code_admin_unit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["admin_unit.code"],
            name=op.f("fk_household_village_code_admin_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_household")),
    )
    op.create_geospatial_index(
        "gix_household_geom",
        "household",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "gix_household_point",
        "household",
        ["point"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_household_natural_unit_code"), "household", ["natural_unit_code"], unique=False
    )
    op.create_index(op.f("ix_household_village_code"), "household", ["village_code"], unique=False)
    op.create_table(
        "incident_category",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("due_hours", sa.Integer(), nullable=False),
        sa.CheckConstraint("due_hours > 0", name=op.f("ck_incident_category_due_pos")),
        sa.ForeignKeyConstraint(
            ["platform_code"],
            ["platform.code"],
            name=op.f("fk_incident_category_platform_code_platform"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_incident_category")),
    )
    op.create_geospatial_table(
        "service_point",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("village_code", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["admin_unit.code"],
            name=op.f("fk_service_point_village_code_admin_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_point")),
    )
    op.create_geospatial_index(
        "gix_service_point_geom",
        "service_point",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_service_point_kind", "service_point", ["kind"], unique=False)
    op.create_geospatial_table(
        "grid_cell",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("village_code", sa.String(length=32), nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("residents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("polsby_popper", sa.Float(), nullable=True),
        sa.Column("flag_reason", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_cell_geom_valid")),
        sa.CheckConstraint(
            "households >= 0 AND residents >= 0", name=op.f("ck_grid_cell_counts_nonneg")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["grid_plan.id"],
            name=op.f("fk_grid_cell_plan_id_grid_plan"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["admin_unit.code"],
            name=op.f("fk_grid_cell_village_code_admin_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "code", name=op.f("pk_grid_cell")),
    )
    op.create_geospatial_index(
        "gix_grid_cell_geom",
        "grid_cell",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_grid_cell_village", "grid_cell", ["plan_id", "village_code"], unique=False)
    op.create_table(
        "household_colour_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_code", sa.String(length=32), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "colour IN ('red', 'orange', 'yellow', 'blue', 'green')",
            name=op.f("ck_household_colour_event_colour"),
        ),
        sa.ForeignKeyConstraint(
            ["household_code"],
            ["household.code"],
            name=op.f("fk_household_colour_event_household_code_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_colour_event")),
    )
    op.create_index(
        op.f("ix_household_colour_event_household_code"),
        "household_colour_event",
        ["household_code"],
        unique=False,
    )
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("client_key", sa.Text(), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="reported", nullable=False),
        sa.Column("tier", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("platform_code", sa.String(length=32), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("cell_code", sa.String(length=40), nullable=True),
        sa.Column("village_code", sa.String(length=32), nullable=True),
        sa.Column("township_code", sa.String(length=32), nullable=True),
        sa.Column("household_code", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('whistle', 'hotline_12345', 'video_alert', 'resident')",
            name=op.f("ck_incident_source"),
        ),
        sa.CheckConstraint(
            "status IN ('reported', 'accepted', 'dispatched', 'in_progress', 'resolved', 'fed_back', 'closed', 'escalated', 'returned', 'reopened')",
            name=op.f("ck_incident_status"),
        ),
        sa.CheckConstraint(
            "satisfaction BETWEEN 1 AND 5", name=op.f("ck_incident_satisfaction_range")
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["incident_category.code"],
            name=op.f("fk_incident_category_code_incident_category"),
        ),
        sa.ForeignKeyConstraint(
            ["household_code"],
            ["household.code"],
            name=op.f("fk_incident_household_code_household"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["grid_plan.id"],
            name=op.f("fk_incident_plan_id_grid_plan"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["platform_code"], ["platform.code"], name=op.f("fk_incident_platform_code_platform")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("client_key", name=op.f("uq_incident_client_key")),
    )
    op.create_geospatial_index(
        "gix_incident_geom",
        "incident",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_incident_category_code"), "incident", ["category_code"], unique=False)
    op.create_index("ix_incident_reported_at", "incident", ["reported_at"], unique=False)
    op.create_index(
        "ix_incident_township_time", "incident", ["township_code", "reported_at"], unique=False
    )
    op.create_table(
        "cell_assignment",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("household_code", sa.String(length=32), nullable=False),
        sa.Column("cell_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_code"],
            ["household.code"],
            name=op.f("fk_cell_assignment_household_code_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id", "cell_code"],
            ["grid_cell.plan_id", "grid_cell.code"],
            name="fk_cell_assignment_cell",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["grid_plan.id"],
            name=op.f("fk_cell_assignment_plan_id_grid_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "household_code", name=op.f("pk_cell_assignment")),
    )
    op.create_index(
        "ix_cell_assignment_cell", "cell_assignment", ["plan_id", "cell_code"], unique=False
    )
    op.create_table(
        "grid_worker",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("township_code", sa.String(length=32), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("cell_code", sa.String(length=40), nullable=True),
        sa.Column("started_on", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id", "cell_code"],
            ["grid_cell.plan_id", "grid_cell.code"],
            name="fk_grid_worker_cell",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["township_code"],
            ["admin_unit.code"],
            name=op.f("fk_grid_worker_township_code_admin_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_grid_worker")),
    )
    op.create_table(
        "incident_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_event_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index(
        op.f("ix_incident_event_incident_id"), "incident_event", ["incident_id"], unique=False
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("worker_code", sa.String(length=32), nullable=False),
        sa.Column("household_code", sa.String(length=32), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_code"],
            ["household.code"],
            name=op.f("fk_visit_household_code_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_code"],
            ["grid_worker.code"],
            name=op.f("fk_visit_worker_code_grid_worker"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    op.create_index(
        "ix_visit_household_time", "visit", ["household_code", "visited_at"], unique=False
    )
    op.create_index("ix_visit_worker_time", "visit", ["worker_code", "visited_at"], unique=False)
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP TRIGGER IF EXISTS incident_event_append_only ON incident_event")
    op.execute("DROP FUNCTION IF EXISTS refuse_change_of_history()")
    op.drop_index("ix_visit_worker_time", table_name="visit")
    op.drop_index("ix_visit_household_time", table_name="visit")
    op.drop_table("visit")
    op.drop_index(op.f("ix_incident_event_incident_id"), table_name="incident_event")
    op.drop_table("incident_event")
    op.drop_table("grid_worker")
    op.drop_index("ix_cell_assignment_cell", table_name="cell_assignment")
    op.drop_table("cell_assignment")
    op.drop_index("ix_incident_township_time", table_name="incident")
    op.drop_index("ix_incident_reported_at", table_name="incident")
    op.drop_index(op.f("ix_incident_category_code"), table_name="incident")
    op.drop_geospatial_index(
        "gix_incident_geom", table_name="incident", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incident")
    op.drop_index(
        op.f("ix_household_colour_event_household_code"), table_name="household_colour_event"
    )
    op.drop_table("household_colour_event")
    op.drop_index("ix_grid_cell_village", table_name="grid_cell")
    op.drop_geospatial_index(
        "gix_grid_cell_geom", table_name="grid_cell", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid_cell")
    op.drop_index("ix_service_point_kind", table_name="service_point")
    op.drop_geospatial_index(
        "gix_service_point_geom",
        table_name="service_point",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("service_point")
    op.drop_table("incident_category")
    op.drop_index(op.f("ix_household_village_code"), table_name="household")
    op.drop_index(op.f("ix_household_natural_unit_code"), table_name="household")
    op.drop_geospatial_index(
        "gix_household_point", table_name="household", postgresql_using="gist", column_name="point"
    )
    op.drop_geospatial_index(
        "gix_household_geom", table_name="household", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("household")
    op.drop_index(
        "uq_grid_plan_one_published",
        table_name="grid_plan",
        postgresql_where=sa.text("status = 'published'"),
    )
    op.drop_table("grid_plan")
    op.drop_index(op.f("ix_quarantine_load_id"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_table("platform")
    op.drop_index(op.f("ix_admin_unit_parent_code"), table_name="admin_unit")
    op.drop_index("ix_admin_unit_level", table_name="admin_unit")
    op.drop_geospatial_index(
        "gix_admin_unit_geom", table_name="admin_unit", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_unit")
