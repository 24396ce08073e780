"""E-receipts: the number counters and the register of every number drawn (docs/receipts.md).

A number is drawn by raising its ``(form_code, series)`` counter and writing its register row in
the same transaction, so a rolled-back draw leaves no hole and a committed one always has a
row: no number is reused (the unique key) and none is skipped (the counter and the register move
together). A drawn number is ``reserved`` until its receipt is signed (``issued``); one that is
never signed is kept as ``spoiled`` with the reason.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow

MAX_RECEIPT_NUMBER = 99_999_999  # at most 8 digits (ND 254/2026 Art. 23.2.c)
RECEIPT_STATUSES = ("reserved", "issued", "spoiled")


class ReceiptCounter(Base):
    """The last number drawn in one ``(form_code, series)``; the series names the year."""

    __tablename__ = "receipt_counters"
    __table_args__ = (
        UniqueConstraint("form_code", "series"),
        CheckConstraint(f"last_number BETWEEN 0 AND {MAX_RECEIPT_NUMBER}",
                        name="last_number_range"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    form_code: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(String(16))
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class Receipt(Base):
    """One drawn number of the register, and the receipt issued under it, if any."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("form_code", "series", "number"),
        CheckConstraint(f"number BETWEEN 1 AND {MAX_RECEIPT_NUMBER}", name="number_range"),
        CheckConstraint("status IN ('reserved', 'issued', 'spoiled')", name="status_known"),
        CheckConstraint("status <> 'spoiled' OR spoiled_reason IS NOT NULL",
                        name="spoiled_has_reason"),
        Index("ix_receipts_payment_id", "payment_id"),
        Index("ix_receipts_issued_on", "issued_on"),
        # the public lookup (0025): one receipt per code
        Index("ux_receipts_lookup_code", "lookup_code", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    form_code: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="reserved")
    issued_on: Mapped[date] = mapped_column(Date)  # the date of issue, Vietnam time
    drawn_by: Mapped[str] = mapped_column(String(100))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    document: Mapped[str | None] = mapped_column(Text)  # the signed XML, UTF-8
    spoiled_reason: Mapped[str | None] = mapped_column(Text)
    spoiled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # stamped by the database on every write (migration 0024), for incremental runs
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)
    # the random code printed on the receipt (MTCuu), by which the payer looks it up
    lookup_code: Mapped[str | None] = mapped_column(String(16))


class ReceiptLookupFailure(Base):
    """One wrong code typed into the public receipt lookup, by client address: the lookup's
    rate limit counts them (every worker and host shares the database)."""

    __tablename__ = "receipt_lookup_failures"
    __table_args__ = (
        Index("ix_receipt_lookup_failures_client", "client", "attempted_at"),
        Index("ix_receipt_lookup_failures_attempted_at", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
