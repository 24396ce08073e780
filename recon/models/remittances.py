"""Remittances to the state budget (issue 18 §3): the Treasury's payment-to-budget vouchers
(Giấy nộp tiền vào NSNN, C1-02/NS) and the statements they were imported from (migration
0022). docs/remittances.md."""

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
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from recon.db import Base, BigIntPK, UTCDateTime, utcnow


class RemittanceFile(Base):
    """One imported Treasury statement of C1-02/NS vouchers, kept verbatim; never twice."""

    __tablename__ = "remittance_files"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    profile: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))


class Remittance(Base):
    """One C1-02/NS voucher: its number (Số) and date, the remitting (collecting)
    organisation, and its lines."""

    __tablename__ = "remittances"
    __table_args__ = (
        CheckConstraint("source IN ('import', 'manual')", name="source_known"),
        Index("ix_remittances_remitter_code", "remitter_code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    voucher_no: Mapped[str] = mapped_column(String(40), unique=True)
    voucher_date: Mapped[date] = mapped_column(Date)
    remitter_code: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_files.id"))
    note: Mapped[str | None] = mapped_column(Text)
    # the bank reference of the payment the voucher records, where known (0028): a voucher for
    # a receiver's budget debit is the same money as that debit (docs/remittances.md)
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))

    lines: Mapped[list[RemittanceLine]] = relationship(
        back_populates="remittance", order_by="RemittanceLine.position")


class RemittanceLine(Base):
    """One line of a voucher: dossier identifier (where given), chương, tiểu mục, ĐBHC, the
    tax period (kỳ thuế, a month, where given) and the amount in VND."""

    __tablename__ = "remittance_lines"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_remittance_lines_remittance_id", "remittance_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    position: Mapped[int] = mapped_column(Integer)
    dossier_code: Mapped[str | None] = mapped_column(String(64))
    chapter: Mapped[str] = mapped_column(String(8))
    budget_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(16))
    period: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)

    remittance: Mapped[Remittance] = relationship(back_populates="lines")


class OwedPart(Base):
    """What one dossier's succeeded payments contribute to what is owed the budget, per Vietnam
    month (``yyyymm``), collector, kind, tiểu mục ('' when none) and retention rate (0 for a
    lệ phí): the sum of its fee lines' parts (migration 0034). Kept between runs so that a run
    recomputes only the dossiers that changed (:mod:`recon.review.owed_store`)."""

    __tablename__ = "owed_parts"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    dossier_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    collector: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    budget_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    retention_bp: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class OwedTotal(Base):
    """The sum of :class:`OwedPart` per (month, collector, kind, tiểu mục, retention rate),
    kept by delta (0034): what the declarations' rows collect, before the split."""

    __tablename__ = "owed_totals"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    collector: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    budget_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    retention_bp: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class OwedState(Base):
    """The one row saying what :class:`OwedPart` and :class:`OwedTotal` hold (0034): the parts
    as of a snapshot whose every later change is stamped at or above ``change_mark``, and the
    agency codes (id -> code, JSON) they were computed with. No row: never built."""

    __tablename__ = "owed_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    change_mark: Mapped[int] = mapped_column(BigInteger)
    agencies: Mapped[str] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
