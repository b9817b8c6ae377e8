"""Plan re-joins: who and what a publish moved to the new plan's cells (issue #13).

``plan_rejoin`` records, for every grid worker and open incident that publishing a plan
re-joined to the new plan's cells, the old plan and cell, the new plan and cell, when and
by whom.  The old cell stays in this history; ``grid_worker`` and ``incident`` hold the new.

Append-only like the other history tables (migration 0008): a row trigger refuses UPDATE
and DELETE, a statement trigger TRUNCATE (for every role, superusers included), and
``wangge_app`` may only read and insert.  Row-level security as on ``grid_worker``: one
policy ``scoped`` on the row's township (``wangge_in_scope``) and ``owner_reads``.  The
downgrade refuses while the table holds rows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo.errors import DatabaseError

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "plan_rejoin"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("township_code", sa.String(length=32), nullable=True),
        sa.Column("old_plan_id", sa.Integer(), nullable=True),
        sa.Column("old_cell_code", sa.String(length=40), nullable=True),
        sa.Column("new_plan_id", sa.Integer(), nullable=False),
        sa.Column("new_cell_code", sa.String(length=40), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("by", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('worker', 'incident')", name=op.f("ck_plan_rejoin_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_rejoin")),
    )
    op.create_index("ix_plan_rejoin_kind_key", TABLE, ["kind", "key"], unique=False)
    op.create_index("ix_plan_rejoin_new_plan", TABLE, ["new_plan_id"], unique=False)
    op.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_history()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_of_history()"
    )
    op.execute(f"GRANT SELECT, INSERT ON {TABLE} TO wangge_app")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {TABLE} FROM wangge_app")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {TABLE}_id_seq TO wangge_app")
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY scoped ON {TABLE} USING (wangge_in_scope(township_code))")
    op.execute(f"CREATE POLICY owner_reads ON {TABLE} FOR SELECT TO wangge_owner USING (true)")


def downgrade() -> None:
    """Downgrade schema (refused while the history holds rows: they would be lost)."""
    rows = op.get_bind().execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    if rows:
        raise DatabaseError(
            f"downgrade below 0010 would delete {rows} re-join record(s) in {TABLE}; refused "
            "(nothing changed): export them first if you really mean it"
        )
    op.execute(f"DROP TABLE {TABLE}")
