"""Models of logins and database-side settings: users are data (docs/security.md).

``app_user`` holds the dashboards' and CLI's local accounts: a login, an argon2 password
hash (:mod:`geo.auth`), a role of :data:`USER_ROLES` and, for a township official, the
township whose rows they may see.  ``app_setting`` holds the few settings the database
applies by itself (the wall views' suppression threshold), written by ``wangge db up``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.models import Base

#: What a user may be; each role's pages and row-level-security scope are in
#: :mod:`geo.auth` (``wall`` reads aggregates only, ``township`` one township's rows).
USER_ROLES = ("wall", "centre", "township", "planner", "analyst", "admin")
#: A login: lower-case letters, digits, ``.``, ``_``, ``-``; 2 to 64 characters.
LOGIN_PATTERN = "^[a-z0-9][a-z0-9._-]{1,63}$"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AppUser(Base):
    """A local account. Never deleted (``active`` turns it off), so actors stay resolvable."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    township_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(_in("role", USER_ROLES), name="role"),
        CheckConstraint(f"login ~ '{LOGIN_PATTERN}'", name="login_format"),
        CheckConstraint("role <> 'township' OR township_code IS NOT NULL", name="township_scope"),
    )


class AppSetting(Base):
    """A setting the database applies itself (name -> text value), e.g. ``suppress_below``."""

    __tablename__ = "app_setting"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AppSession(Base):
    """A browser's login that survives a reload (:mod:`geo.auth`): the SHA-256 of its token
    (the token itself lives only in the browser's cookie), expiry and revocation."""

    __tablename__ = "app_session"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("token_hash ~ '^[0-9a-f]{64}$'", name="hash"),
        Index("ix_app_session_user_id", "user_id"),
    )


class LoginFailure(Base):
    """A failed log-in for a login name, known or not (the rate limit of :mod:`geo.auth`);
    ``locked_until`` is set on the failure that locked the name."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    login: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("length(login) <= 64", name="login_length"),
        Index("ix_login_failure_login_failed_at", "login", "failed_at"),
    )
