"""Models of a plan's edit history: one row per version, and the village it replaced.

Every edit of a draft (and every undo or redo) is a version of the plan, recorded in
``grid_plan_edit`` with what was done, to which village, by whom and when.  The rows the
edit replaced (that village's cells and household -> cell assignments as they were before)
are kept in ``grid_cell_before`` and ``cell_assignment_before``, so an undo puts them back
exactly: no re-tessellation, no drift.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.models import Base
from geo.projection import STORAGE_SRID

EDIT_KINDS = ("edit", "undo", "redo")
"""What a version of a plan was: an edit, the undo of one, or the redo of an undo."""


class GridPlanEdit(Base):
    """A version of a draft plan: the edit that made it, who and when, what it replaced.

    ``version`` is the plan version the edit produced; ``reverts`` the version whose change
    an undo or redo took back (None for an edit).  ``params_before`` is the plan's
    ``params`` before the edit (per-village bounds, locked cells), restored by an undo.
    """

    __tablename__ = "grid_plan_edit"
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("grid_plan.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    op: Mapped[str] = mapped_column(String(16))
    village_code: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    reverts: Mapped[int | None] = mapped_column(Integer)
    params_before: Mapped[dict | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("kind IN ('edit', 'undo', 'redo')", name="kind"),
        CheckConstraint("version >= 2", name="version_after_first"),
    )


class GridCellBefore(Base):
    """A cell of the village an edit replaced, as it was before (columns of ``grid_cell``)."""

    __tablename__ = "grid_cell_before"
    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    village_code: Mapped[str] = mapped_column(Text)
    households: Mapped[int] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)
    polsby_popper: Mapped[float | None] = mapped_column(Float)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    contiguous: Mapped[bool | None] = mapped_column(Boolean)
    natural_units_split: Mapped[int | None] = mapped_column(Integer)
    within_bounds: Mapped[bool | None] = mapped_column(Boolean)
    geom = mapped_column(
        Geometry(geometry_type="MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False),
        nullable=False,
    )
    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_id", "version"],
            ["grid_plan_edit.plan_id", "grid_plan_edit.version"],
            ondelete="CASCADE",
            name="fk_grid_cell_before_edit",
        ),
        Index("gix_grid_cell_before_geom", "geom", postgresql_using="gist"),
    )


class CellAssignmentBefore(Base):
    """A household -> cell row of the village an edit replaced, as it was before."""

    __tablename__ = "cell_assignment_before"
    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_code: Mapped[str] = mapped_column(Text, primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(40))
    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_id", "version"],
            ["grid_plan_edit.plan_id", "grid_plan_edit.version"],
            ondelete="CASCADE",
            name="fk_cell_assignment_before_edit",
        ),
    )


REJOIN_KINDS = ("worker", "incident")
"""What a publish re-joins to the new plan's cells: grid workers and open incidents."""


class PlanRejoin(Base):
    """A grid worker or open incident that a publish moved to the new plan's cell.

    Append-only history (triggers refuse UPDATE, DELETE and TRUNCATE; migration 0010):
    ``key`` is the worker code or incident id, ``old_*`` where it was (None where it had no
    plan), ``new_*`` where the publish put it; ``township_code`` scopes the row (RLS).
    """

    __tablename__ = "plan_rejoin"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(Text)
    township_code: Mapped[str | None] = mapped_column(String(32))
    old_plan_id: Mapped[int | None] = mapped_column(Integer)
    old_cell_code: Mapped[str | None] = mapped_column(String(40))
    new_plan_id: Mapped[int] = mapped_column(Integer)
    new_cell_code: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    by: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint("kind IN ('worker', 'incident')", name="kind"),
        Index("ix_plan_rejoin_kind_key", "kind", "key"),
        Index("ix_plan_rejoin_new_plan", "new_plan_id"),
    )
