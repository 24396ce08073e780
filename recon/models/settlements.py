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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from recon.db import Base, BigIntPK, UTCDateTime, utcnow


class SettlementFile(Base):
    """One imported settlement report or statement, kept verbatim; never imported twice."""

    __tablename__ = "settlement_files"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(20), default="upload")
    profile: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)

    lines: Mapped[list[SettlementLine]] = relationship(back_populates="file")


class SettlementLine(Base):
    """One settled transaction (a sale or a refund): gross amount, fee, net. The same id may
    appear twice (a fault)."""

    __tablename__ = "settlement_lines"
    __table_args__ = (
        UniqueConstraint("file_id", "line_no"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("fee >= 0", name="fee_non_negative"),
        CheckConstraint("net = amount - fee", name="net_is_amount_less_fee"),
        CheckConstraint("kind IN ('sale', 'refund')", name="kind_known"),
        Index("ix_settlement_lines_provider_txn", "provider", "provider_txn_id"),
        Index("ix_settlement_lines_created_at", "created_at"),
        # a full run reads the open months, the payout pass its window of days (migration 0014)
        Index("ix_settlement_lines_settled_on", "settled_on"),
        Index("ix_settlement_lines_transaction_at", "transaction_at"),
        # a payment's refund lines (migration 0032)
        Index("ix_settlement_lines_provider_original", "provider", "original_txn_id"),
        # the few lines whose file stated another net, read by the payout pass of every run
        # (migration 0041)
        Index("ix_settlement_lines_stated_net", "settled_on",
              postgresql_where=text("stated_net IS NOT NULL"),
              sqlite_where=text("stated_net IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("settlement_files.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(20))
    provider_txn_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    net: Mapped[int] = mapped_column(BigInteger)
    # the net the file stated when it is not amount - fee (the file contradicts itself; the
    # engine reports a fee_mismatch); NULL otherwise. Migration 0016.
    stated_net: Mapped[int | None] = mapped_column(BigInteger)
    transaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(255))
    # a sale (the payment settled) or a refund (money given back to the payer: amount is the
    # gross refunded, fee the refund fee charged); migration 0032
    kind: Mapped[str] = mapped_column(String(10), default="sale", server_default="sale")
    # a refund line's sale, as the file names it (NULL: the refund carries the sale's own id,
    # or the file does not say); the engine pairs a refund on this, else on provider_txn_id
    original_txn_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # stamped by the database on every write (migration 0009): what incremental runs read
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)

    file: Mapped[SettlementFile] = relationship(back_populates="lines")


class TransactionSpan(Base):
    """The first and last Vietnam month of the rows naming a transaction (provider, id):
    payments by their own id or bank reference (``paid_at``'s month), settlement lines by their
    own id or sale's id (the later of the months of ``settled_on`` and ``transaction_at``).
    Kept by triggers (migration 0040), widened, never narrowed. A full run with closed months
    behind reads, from before its horizon, the rows of the spans across it (the partial index
    holds the spans of more than one month)."""

    __tablename__ = "transaction_spans"
    __table_args__ = (
        CheckConstraint("first_month <= last_month", name="first_month_first"),
        Index("ix_transaction_spans_across", "last_month",
              postgresql_where=text("first_month < last_month"),
              sqlite_where=text("first_month < last_month")),
    )

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_month: Mapped[date] = mapped_column(Date)
    last_month: Mapped[date] = mapped_column(Date)
