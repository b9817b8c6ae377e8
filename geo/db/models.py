"""The Wangge schema as SQLAlchemy 2 declarative models with GeoAlchemy2 geometry columns.

Every geometry column is typed with its geometry type and SRID 4326 (PostGIS typmod, so the
server refuses any other SRID or type), carries a ``ST_IsValid`` check where it holds areas,
and has an explicitly named GiST index.  Alembic migrations in ``geo/db/migrations`` create
exactly this schema; ``tests/test_db_schema.py`` checks that the two agree.

Natural keys (admin and household codes) are the primary keys, so that loads can upsert by
code and frames map onto tables without id look-ups.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.frames import FIVE_COLOURS, LEVELS
from geo.projection import STORAGE_SRID

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PLAN_STATUSES = ("draft", "published", "archived")
INCIDENT_SOURCES = ("whistle", "hotline_12345", "video_alert", "resident")
INCIDENT_STATES = (
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "resolved",
    "fed_back",
    "closed",
    "escalated",
    "returned",
    "reopened",
)
#: Who may move an incident (``geo.incidents.TRANSITIONS``); ``system`` is the intake pipeline
#: (files, 12345 bridge, video).
INCIDENT_ROLES = ("grid_worker", "resident", "township", "centre", "department", "system")
#: The role that reports an incident of each source, when the caller names none.
INCIDENT_SOURCE_ROLES = MappingProxyType(
    {"whistle": "grid_worker", "hotline_12345": "centre", "video_alert": "system",
     "resident": "resident"}
)  # fmt: skip
#: Tiers of the escalation chain (``incident.tier`` indexes it): a new incident sits at
#: tier 0 (the township takes it); ``escalated`` moves it one tier up.
INCIDENT_TIERS = ("township", "county", "city")
#: Multiplier of a category's ``due_hours`` at each tier of :data:`INCIDENT_TIERS`.
INCIDENT_TIER_DUE_FACTORS: tuple[float, ...] = (1.0, 1.5, 2.0)
#: States in which the work on an incident is done (its due time no longer runs).
INCIDENT_DONE_STATES = ("resolved", "fed_back", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geom(kind: str) -> Geometry:
    return Geometry(geometry_type=kind, srid=STORAGE_SRID, spatial_index=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AdminUnit(Base):
    """County, township, village/community and natural unit, linked by ``parent_code``."""

    __tablename__ = "admin_unit"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("admin_unit.code", ondelete="CASCADE"), index=True
    )
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("(level = 'county') = (parent_code IS NULL)", name="parent_by_level"),
        Index("ix_admin_unit_level", "level"),
        Index("gix_admin_unit_geom", "geom", postgresql_using="gist"),
    )


class Household(Base):
    """A household: courtyard or footprint polygon, residents and five-colour status.

    ``point`` is a stored ``ST_PointOnSurface(geom)``: always inside the polygon, kept in step
    by the server.
    """

    __tablename__ = "household"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    natural_unit_code: Mapped[str] = mapped_column(
        ForeignKey("admin_unit.code", ondelete="CASCADE"), index=True
    )
    village_code: Mapped[str] = mapped_column(
        ForeignKey("admin_unit.code", ondelete="CASCADE"), index=True
    )
    residents: Mapped[int] = mapped_column(Integer)
    residents_at_home: Mapped[int] = mapped_column(Integer)
    colour: Mapped[str | None] = mapped_column(String(8))
    geom = mapped_column(_geom("POLYGON"), nullable=False)
    point = mapped_column(_geom("POINT"), Computed("ST_PointOnSurface(geom)", persisted=True))
    __table_args__ = (
        CheckConstraint("residents >= 0", name="residents_nonneg"),
        CheckConstraint(
            "residents_at_home >= 0 AND residents_at_home <= residents", name="at_home_range"
        ),
        CheckConstraint(_in("colour", FIVE_COLOURS), name="colour"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        Index("gix_household_geom", "geom", postgresql_using="gist"),
        Index("gix_household_point", "point", postgresql_using="gist"),
    )


class HouseholdColourEvent(Base):
    """History of five-colour status changes (append-only; personal data)."""

    __tablename__ = "household_colour_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_code: Mapped[str] = mapped_column(
        ForeignKey("household.code", ondelete="CASCADE"), index=True
    )
    colour: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint(_in("colour", FIVE_COLOURS), name="colour"),)


class GridPlan(Base):
    """A versioned grid plan of a county: a draft until published; one published at a time.

    ``version`` goes up by one with every edit (optimistic locking: an edit names the version
    it was made against); ``updated_at``/``updated_by`` record the last change, ``metrics``
    the plan-level figures and ``params`` the build parameters (bounds, seed, metric CRS).
    """

    __tablename__ = "grid_plan"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    parent_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_plan.id", ondelete="SET NULL")
    )
    min_size: Mapped[int] = mapped_column(Integer, server_default="30")
    max_size: Mapped[int] = mapped_column(Integer, server_default="50")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text, server_default="system")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict | None] = mapped_column(JSONB)
    params: Mapped[dict | None] = mapped_column(JSONB)
    __table_args__ = (
        CheckConstraint(_in("status", PLAN_STATUSES), name="status"),
        CheckConstraint("version >= 1", name="version_pos"),
        CheckConstraint("min_size >= 1 AND max_size >= min_size", name="bounds"),
        UniqueConstraint("county_code", "name", name="uq_grid_plan_county_name"),
        Index(
            "uq_grid_plan_one_published",
            "county_code",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )


class GridCell(Base):
    """A cell of a plan: a polygon inside one village, with its quality metrics."""

    __tablename__ = "grid_cell"
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("grid_plan.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code", ondelete="CASCADE"))
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    residents: Mapped[int] = mapped_column(Integer, server_default="0")
    area_m2: Mapped[float | None] = mapped_column(Float)
    polsby_popper: Mapped[float | None] = mapped_column(Float)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    contiguous: Mapped[bool | None] = mapped_column(Boolean)
    natural_units_split: Mapped[int | None] = mapped_column(Integer)
    within_bounds: Mapped[bool | None] = mapped_column(Boolean)
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (
        CheckConstraint("households >= 0 AND residents >= 0", name="counts_nonneg"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        Index("ix_grid_cell_village", "plan_id", "village_code"),
        Index("gix_grid_cell_geom", "geom", postgresql_using="gist"),
    )


class CellAssignment(Base):
    """Household -> cell within a plan. The primary key makes double assignment impossible."""

    __tablename__ = "cell_assignment"
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("grid_plan.id", ondelete="CASCADE"), primary_key=True
    )
    household_code: Mapped[str] = mapped_column(
        ForeignKey("household.code", ondelete="CASCADE"), primary_key=True
    )
    cell_code: Mapped[str] = mapped_column(String(40))
    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_id", "cell_code"],
            ["grid_cell.plan_id", "grid_cell.code"],
            ondelete="CASCADE",
            name="fk_cell_assignment_cell",
        ),
        Index("ix_cell_assignment_cell", "plan_id", "cell_code"),
    )


class GridWorker(Base):
    """A grid worker (网格员), posted to a cell of a plan."""

    __tablename__ = "grid_worker"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    township_code: Mapped[str | None] = mapped_column(
        ForeignKey("admin_unit.code", ondelete="SET NULL")
    )
    plan_id: Mapped[int | None] = mapped_column(Integer)
    cell_code: Mapped[str | None] = mapped_column(String(40))
    started_on: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_id", "cell_code"],
            ["grid_cell.plan_id", "grid_cell.code"],
            ondelete="SET NULL",
            name="fk_grid_worker_cell",
        ),
    )


class Visit(Base):
    """A grid worker's visit to a household."""

    __tablename__ = "visit"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_code: Mapped[str] = mapped_column(ForeignKey("grid_worker.code", ondelete="CASCADE"))
    household_code: Mapped[str] = mapped_column(ForeignKey("household.code", ondelete="CASCADE"))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_visit_household_time", "household_code", "visited_at"),
        Index("ix_visit_worker_time", "worker_code", "visited_at"),
    )


class ServicePoint(Base):
    """A service point (convenience centre, police post, clinic, emergency team ...)."""

    __tablename__ = "service_point"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    village_code: Mapped[str | None] = mapped_column(
        ForeignKey("admin_unit.code", ondelete="SET NULL")
    )
    geom = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (
        Index("ix_service_point_kind", "kind"),
        Index("gix_service_point_geom", "geom", postgresql_using="gist"),
    )


class Platform(Base):
    """A platform around the centre ("one centre, N platforms"): data, not an enum."""

    __tablename__ = "platform"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)


class IncidentCategory(Base):
    """An incident category, routed to a platform, with the time allowed to resolve it."""

    __tablename__ = "incident_category"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    platform_code: Mapped[str] = mapped_column(ForeignKey("platform.code"))
    due_hours: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("due_hours > 0", name="due_pos"),)


class Incident(Base):
    """An incident, placed in its cell, village and township at the moment it is reported."""

    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    client_key: Mapped[str] = mapped_column(Text, unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("incident_category.code"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="reported")
    tier: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    platform_code: Mapped[str | None] = mapped_column(ForeignKey("platform.code"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("grid_plan.id", ondelete="SET NULL"))
    cell_code: Mapped[str | None] = mapped_column(String(40))
    village_code: Mapped[str | None] = mapped_column(String(32))
    township_code: Mapped[str | None] = mapped_column(String(32))
    household_code: Mapped[str | None] = mapped_column(
        ForeignKey("household.code", ondelete="SET NULL")
    )
    description: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    geom = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (
        CheckConstraint(_in("source", INCIDENT_SOURCES), name="source"),
        CheckConstraint(_in("status", INCIDENT_STATES), name="status"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        Index("ix_incident_reported_at", "reported_at"),
        Index("ix_incident_township_time", "township_code", "reported_at"),
        Index("gix_incident_geom", "geom", postgresql_using="gist"),
    )


class IncidentEvent(Base):
    """One transition in an incident's life. Append-only: a trigger refuses UPDATE/DELETE."""

    __tablename__ = "incident_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class Quarantine(Base):
    """An input row that could not be loaded, with file, row, field, fault and the raw row."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    load_id: Mapped[str] = mapped_column(Text, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    file: Mapped[str] = mapped_column(Text)
    row_number: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(Text)
    fault: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict | None] = mapped_column(JSONB)
    quarantined_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
