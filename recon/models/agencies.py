from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow


class Agency(Base):
    """A collecting unit with its own bank account for VietQR."""

    __tablename__ = "agencies"
    __table_args__ = (CheckConstraint("length(bank_bin) = 6", name="bank_bin_6_digits"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    bank_bin: Mapped[str] = mapped_column(String(6))
    account_number: Mapped[str] = mapped_column(String(19))
    account_name: Mapped[str] = mapped_column(String(100))
    # as a collecting organisation: the account onward transfers are paid into (its dedicated
    # or Treasury account, Circular 74/2022 Art. 3); NULL when not known (migration 0021)
    transfer_account: Mapped[str | None] = mapped_column(String(40))
    # its tax code (MST: 10 digits, or 10-3 for a dependent unit) as it signs e-receipts;
    # NULL: it issues under RECON_RECEIPT_TAX_CODE (migration 0027, docs/receipts.md)
    tax_code: Mapped[str | None] = mapped_column(String(14))
    # its "tài khoản phí chờ nộp ngân sách" at the State Treasury (Decree 120/2016 Art. 3(2)(a));
    # NULL: its deposits are not judged (migration 0028)
    fee_pending_account: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Procedure(Base):
    """An administrative procedure (thủ tục hành chính) and its field (lĩnh vực)."""

    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    field: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
