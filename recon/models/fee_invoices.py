"""The providers' fee invoices (issue 17 §1–§2) and the files they were imported from
(migration 0030; ``replaces``: 0033). docs/reconciliation.md#fee-invoices."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow

#: how an invoice is paid: taken off a payout by the provider, or billed and paid apart
CHARGED_AS = ("deducted", "billed")


class FeeInvoiceFile(Base):
    """One imported file of fee invoices, kept verbatim; never twice."""

    __tablename__ = "fee_invoice_files"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))


class FeeInvoice(Base):
    """One provider's invoice for its fees: the month it bills, its amount (VAT included)
    and whether the provider deducted it from a payout or billed it apart."""

    __tablename__ = "fee_invoices"
    __table_args__ = (
        UniqueConstraint("provider", "number"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("vat_amount IS NULL OR (vat_amount >= 0 AND vat_amount <= amount)",
                        name="vat_within_amount"),
        CheckConstraint("charged_as IN ('deducted', 'billed')", name="charged_as_known"),
        Index("ix_fee_invoices_period", "period"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date] = mapped_column(Date)
    period: Mapped[date] = mapped_column(Date)  # the billed month's first day
    amount: Mapped[int] = mapped_column(BigInteger)
    vat_amount: Mapped[int | None] = mapped_column(BigInteger)
    charged_as: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    # the number of the provider's invoice this one corrects (a replacement invoice, 0033):
    # the replaced one no longer counts
    replaces: Mapped[str | None] = mapped_column(String(64))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("fee_invoice_files.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)
