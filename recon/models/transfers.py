"""Onward transfers (issue 18 §2): money leaving a receiving centre's account for a collecting
organisation's account, or into the state budget (docs/transfers.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow

SOURCES = ("statement", "manual")


class TransferFile(Base):
    """One imported bank statement of debits, kept verbatim; never imported twice."""

    __tablename__ = "transfer_files"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    profile: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class Transfer(Base):
    """One transfer out of ``agency``'s account to ``destination``: a collector's agency code,
    or ``budget`` (lệ phí paid into the state budget)."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("agency_id", "bank_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("source IN ('statement', 'manual')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    destination: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    transferred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    bank_reference: Mapped[str] = mapped_column(String(100))
    counterparty_account: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_files.id"))
    line_no: Mapped[int | None] = mapped_column(Integer)
    # into the destination's fee-pending account at the Treasury: a deposit (0028); the
    # destination may then be the sending agency itself
    into_fee_account: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
