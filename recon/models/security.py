from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
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
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
