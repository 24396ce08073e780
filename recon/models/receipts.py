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
#: what a receipt is: the first one of its payment, or one correcting an issued receipt
RECEIPT_KINDS = ("original", "replacement", "adjustment")
#: what became of an issued receipt that was corrected (it stays issued and readable)
CORRECTED_AS = ("replaced", "adjusted")
CORRECTION_STATUSES = ("proposed", "approved", "rejected")
#: the columns that repeat what an issued receipt's signed XML states (0031)
FIGURE_COLUMNS = ("dossier_code", "total", "lines")


class ReceiptCounter(Base):
    """The last number drawn in one ``(issuer_tax_code, form_code, series)``: one numbering per
    collecting organisation (its MST; '' when none is configured), form and series (the series
    names the year). Migration 0027 keyed it per organisation."""

    __tablename__ = "receipt_counters"
    __table_args__ = (
        UniqueConstraint("issuer_tax_code", "form_code", "series"),
        CheckConstraint(f"last_number BETWEEN 0 AND {MAX_RECEIPT_NUMBER}",
                        name="last_number_range"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    issuer_tax_code: Mapped[str] = mapped_column(String(14), default="", server_default="")
    form_code: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(String(16))
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class Receipt(Base):
    """One drawn number of the register, and the receipt issued under it, if any."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("issuer_tax_code", "form_code", "series", "number"),
        CheckConstraint(f"number BETWEEN 1 AND {MAX_RECEIPT_NUMBER}", name="number_range"),
        CheckConstraint("status IN ('reserved', 'issued', 'spoiled')", name="status_known"),
        CheckConstraint("status <> 'spoiled' OR spoiled_reason IS NOT NULL",
                        name="spoiled_has_reason"),
        CheckConstraint("kind IN ('original', 'replacement', 'adjustment')", name="kind_known"),
        CheckConstraint("corrected_as IS NULL OR corrected_as IN ('replaced', 'adjusted')",
                        name="corrected_as_known"),
        Index("ix_receipts_payment_id", "payment_id"),
        Index("ix_receipts_issued_on", "issued_on"),
        # the public lookup (0025): one receipt per code
        Index("ux_receipts_lookup_code", "lookup_code", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # the collecting organisation (0027): the agency whose fee lines the receipt carries, and
    # the MST its number is drawn under ('' when none is configured): numbers are per
    # (issuer_tax_code, form_code, series)
    collector_code: Mapped[str | None] = mapped_column(String(40))
    issuer_tax_code: Mapped[str] = mapped_column(String(14), default="", server_default="")
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
    # what the signed XML states, for the run's receipt pass (0031): written with the document
    # in one transaction (recon.receipts.document.figures); NULL on rows without a document
    # (the pass then reads the XML). ``recon receipts verify`` checks the XML's signature.
    dossier_code: Mapped[str | None] = mapped_column(String(64))  # MHSo
    total: Mapped[int | None] = mapped_column(BigInteger)  # TgTien, VND
    lines: Mapped[str | None] = mapped_column(Text)  # [[LKThu, STien], ...] as JSON

    # corrections (0026): a replacement or adjustment names the receipt it corrects; the
    # corrected receipt stays issued and is marked ``replaced`` or ``adjusted``
    kind: Mapped[str] = mapped_column(String(12), default="original",
                                      server_default="original")
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    corrected_as: Mapped[str | None] = mapped_column(String(10))


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


class ReceiptCorrection(Base):
    """A proposed replacement or adjustment of an issued receipt, with its error notice;
    applied (a new receipt drawn and signed) only when a second person approves it."""

    __tablename__ = "receipt_corrections"
    __table_args__ = (
        CheckConstraint("kind IN ('replacement', 'adjustment')", name="kind_known"),
        CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="status_known"),
        Index("ix_receipt_corrections_receipt_id", "receipt_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    kind: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text)
    payer_name: Mapped[str | None] = mapped_column(String(255))
    lines: Mapped[str] = mapped_column(Text)  # JSON: [[kind, name, amount], ...]
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_by_person: Mapped[str | None] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    new_receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    notice: Mapped[str | None] = mapped_column(Text)  # the error notice (04/SS-CTĐT), XML


class ReceiptSummary(Base):
    """The same-day summary table of one organisation's receipts of one day: when it was
    prepared, and when (by whom, under which reference) a person sent it by hand."""

    __tablename__ = "receipt_summaries"
    __table_args__ = (UniqueConstraint("agency_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    day: Mapped[date] = mapped_column(Date)
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    prepared_by: Mapped[str] = mapped_column(String(100))
    receipts: Mapped[int] = mapped_column(BigInteger, default=0)
    sent_on: Mapped[date | None] = mapped_column(Date)
    sent_reference: Mapped[str | None] = mapped_column(String(255))
    sent_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
