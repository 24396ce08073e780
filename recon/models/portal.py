"""The National Public Service Portal's daily transaction lists (migration 0023)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow

PORTAL_STATUSES = ("succeeded", "failed", "refunded", "pending")


class PortalFile(Base):
    """One imported daily list of one agency, kept verbatim; never imported twice."""

    __tablename__ = "portal_files"
    __table_args__ = (
        CheckConstraint("day_from <= day_to", name="days_ordered"),
        Index("ix_portal_files_agency_days", "agency_id", "day_from", "day_to"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    profile: Mapped[str] = mapped_column(String(64))
    day_from: Mapped[date] = mapped_column(Date)
    day_to: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class PortalLine(Base):
    """One transaction as the portal lists it."""

    __tablename__ = "portal_lines"
    __table_args__ = (
        UniqueConstraint("file_id", "line_no"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("status IN ('succeeded', 'failed', 'refunded', 'pending')",
                        name="status_known"),
        Index("ix_portal_lines_day_agency", "day", "agency_id"),
        Index("ix_portal_lines_portal_txn_id", "portal_txn_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("portal_files.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    portal_txn_id: Mapped[str] = mapped_column(String(64))
    dossier_code: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(64))
    provider_txn_id: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    transaction_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)  # the Vietnam date of transaction_at
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)
