"""Models of the loading pipeline: one row per load, for the record of what came in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.models import Base


class LoadRun(Base):
    """One load of one file: what it was, what CRS it came in, and how its rows ended up.

    ``id`` is the ``load_id`` that quarantine rows of this load carry.
    """

    __tablename__ = "load_run"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    file: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_in: Mapped[int] = mapped_column(Integer, server_default="0")
    loaded: Mapped[int] = mapped_column(Integer, server_default="0")
    repaired: Mapped[int] = mapped_column(Integer, server_default="0")
    quarantined: Mapped[int] = mapped_column(Integer, server_default="0")
    source_crs: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[dict | None] = mapped_column(JSONB)
