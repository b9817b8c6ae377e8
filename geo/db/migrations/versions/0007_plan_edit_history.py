"""Plan edit history: one row per version of a draft and the village rows it replaced.

grid_plan_edit records each edit, undo and redo (kind, op, village, summary, who, when,
which version it reverts, params before); grid_cell_before and cell_assignment_before keep
the replaced village's cells and assignments so an undo restores them exactly.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00

"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "grid_plan_edit",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("village_code", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reverts", sa.Integer(), nullable=True),
        sa.Column("params_before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('edit', 'undo', 'redo')", name=op.f("ck_grid_plan_edit_kind")),
        sa.CheckConstraint("version >= 2", name=op.f("ck_grid_plan_edit_version_after_first")),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["grid_plan.id"],
            name=op.f("fk_grid_plan_edit_plan_id_grid_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "version", name=op.f("pk_grid_plan_edit")),
    )
    op.create_table(
        "grid_cell_before",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("village_code", sa.Text(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("polsby_popper", sa.Float(), nullable=True),
        sa.Column("flag_reason", sa.Text(), nullable=True),
        sa.Column("contiguous", sa.Boolean(), nullable=True),
        sa.Column("natural_units_split", sa.Integer(), nullable=True),
        sa.Column("within_bounds", sa.Boolean(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plan_id", "version"],
            ["grid_plan_edit.plan_id", "grid_plan_edit.version"],
            name="fk_grid_cell_before_edit",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "version", "code", name=op.f("pk_grid_cell_before")),
    )
    op.create_index(
        "gix_grid_cell_before_geom",
        "grid_cell_before",
        ["geom"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "cell_assignment_before",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("household_code", sa.Text(), nullable=False),
        sa.Column("cell_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id", "version"],
            ["grid_plan_edit.plan_id", "grid_plan_edit.version"],
            name="fk_cell_assignment_before_edit",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "plan_id", "version", "household_code", name=op.f("pk_cell_assignment_before")
        ),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("cell_assignment_before")
    op.drop_index(
        "gix_grid_cell_before_geom", table_name="grid_cell_before", postgresql_using="gist"
    )
    op.drop_table("grid_cell_before")
    op.drop_table("grid_plan_edit")
