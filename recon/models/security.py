from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow


class LoginAttempt(Base):
    """One failed login, counted by every worker and host (the database is the one shared
    place). The username is stored only as a SHA-256: people type passwords into the username
    field, and this table must never hold one."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_key", "username_hash", "client", "attempted_at"),
        Index("ix_login_attempts_attempted_at", "attempted_at"),
        # the per-address limit across usernames (0013)
        Index("ix_login_attempts_client", "client", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebSession(Base):
    """One login session, kept on the server (issue 16): the cookie carries only a random id,
    and this row, found by that id's SHA-256, says whose session it is and whether it still
    holds. Logging out, a password change and disabling the user end every session of that
    user (``ended_at``); the idle and absolute limits are checked on every request."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_user_id", "user_id"),
        Index("ix_web_sessions_last_seen_at", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # written at most once a minute (recon.accounts.sessions.TOUCH_RESOLUTION)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # logout, password, disabled
    end_reason: Mapped[str | None] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(64))
