"""Models of the province pipeline: one row per unit of a county's result of one run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.models import Base


class CountyResult(Base):
    """A result of a per-county task of a province run (:mod:`geo.province`).

    One row per unit (a cell for hot spots, a village for coverage, the county itself for
    a grid plan's figures); ``figures`` holds that unit's numbers.  A county's rows of one
    run and task are replaced in one transaction, so a retried or failed county never
    leaves half a result.
    """

    __tablename__ = "county_result"
    run_label: Mapped[str] = mapped_column(Text, primary_key=True)
    task: Mapped[str] = mapped_column(String(32), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    unit_code: Mapped[str] = mapped_column(Text, primary_key=True)
    figures: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_county_result_county", "county_code"),)
