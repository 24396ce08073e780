"""Closed periods (khóa sổ): a month, for one agency or for all, proposed, approved, reopened."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow

PERIOD_STATUSES = ("open", "proposed", "closed")
ALL_AGENCIES_KEY = 0  # periods.scope_key of a close for every agency


def _scope_key(context: Any) -> int:
    agency = context.get_current_parameters().get("agency_id")
    return ALL_AGENCIES_KEY if agency is None else int(agency)


class Period(Base):
    """One month's books (``month`` is its first day, Vietnam time) for one agency, or for
    every agency when ``agency_id`` is NULL. ``scope_key`` is ``agency_id`` or 0 (every agency):
    the unique ``(month, scope_key)`` lets the database itself refuse a second row for the same
    month and scope (NULLs are distinct in SQL, so ``agency_id`` alone could not).
    ``snapshot`` is the frozen report of the last close (JSON) and ``snapshot_sha256`` its
    hash, which the audit chain also holds; every snapshot ever taken is kept in
    ``period_snapshots``."""

    __tablename__ = "periods"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'proposed', 'closed')", name="status_known"),
        CheckConstraint("scope_key = COALESCE(agency_id, 0)", name="scope_key_agency"),
        UniqueConstraint("month", "scope_key"),
        Index("ix_periods_month", "month"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    month: Mapped[date] = mapped_column(Date)
    scope_key: Mapped[int] = mapped_column(BigIntPK, default=_scope_key)
    status: Mapped[str] = mapped_column(String(10), default="open")
    proposed_by: Mapped[str | None] = mapped_column(String(100))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proposal_note: Mapped[str | None] = mapped_column(Text)
    carried_forward: Mapped[str | None] = mapped_column(Text)  # JSON {discrepancy id: note}
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopened_by: Mapped[str | None] = mapped_column(String(100))
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[str | None] = mapped_column(Text)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the person behind ``proposed_by`` (a token's owner): what maker ≠ checker compares (0013)
    proposed_by_person: Mapped[str | None] = mapped_column(String(100))


class PeriodSnapshot(Base):
    """Every snapshot a close took, kept when the month is reopened and closed again."""

    __tablename__ = "period_snapshots"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    proposed_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str] = mapped_column(String(100))
    snapshot: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    audit_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
