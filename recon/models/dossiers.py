from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from recon.db import Base, BigIntPK, UTCDateTime, utcnow
from recon.models.agencies import Agency, Procedure

FEE_KINDS = ("phi", "le_phi")
RECEIVED_CHANNELS = ("counter", "online", "postal")
FOLDED_LENGTH = 255


def fold_name(text: str) -> str:
    """``"Nguyễn  Văn Đức"`` -> ``"nguyen van duc"``: no diacritics, đ/Đ as d, lower case,
    single spaces. What the desk's search compares (``dossiers.applicant_name_folded``)."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c)).lower()
    # lower() can bring marks back (İ -> i + U+0307): strip them again
    bare = "".join(c for c in unicodedata.normalize("NFD", bare) if not unicodedata.combining(c))
    return " ".join(bare.replace("đ", "d").split())[:FOLDED_LENGTH]


def _folded_default(context: DefaultExecutionContext) -> str:
    """A Core ``insert(Dossier)`` that names no folded column: fold the row's applicant."""
    params = context.get_current_parameters()  # type: ignore[no-untyped-call]
    name = params.get("applicant_name")
    return fold_name(name) if isinstance(name, str) else ""


class Dossier(Base):
    """A dossier (hồ sơ) filed for a procedure; its fee lines say what was assessed."""

    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint(
            "received_channel IN ('counter', 'online', 'postal')", name="received_channel_known"
        ),
        Index("ix_dossiers_agency_received", "agency_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(255))
    # the desk's unaccented search: fold_name(applicant_name), kept by the model on every ORM
    # write, by Core inserts through the default, and by the bulk importer explicitly
    applicant_name_folded: Mapped[str] = mapped_column(
        String(FOLDED_LENGTH), default=_folded_default, server_default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_channel: Mapped[str] = mapped_column(String(10), default="counter")
    status: Mapped[str] = mapped_column(String(20), default="received")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # the sum of the fee lines' amounts, kept by the database's triggers on fee_lines
    # (migration 0037) whatever writes them; never written by the application. What the
    # engine's loads read as a dossier's assessed total (recon/engine/load.py)
    fee_total: Mapped[int] = mapped_column(BigInteger, server_default="0", deferred=True)
    # stamped by the database on every write (migration 0009): what incremental runs read
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)

    agency: Mapped[Agency] = relationship(lazy="joined")
    procedure: Mapped[Procedure] = relationship(lazy="joined")
    fee_lines: Mapped[list[FeeLine]] = relationship(
        back_populates="dossier", order_by="FeeLine.position", cascade="all, delete-orphan"
    )

    @validates("applicant_name")
    def _keep_folded(self, _key: str, value: str) -> str:
        self.applicant_name_folded = fold_name(value) if isinstance(value, str) else ""
        return value

    @property
    def total_assessed(self) -> int:
        return sum(line.amount for line in self.fee_lines)


class FeeLine(Base):
    """One assessed fee (phí) or charge (lệ phí), an integer number of VND."""

    __tablename__ = "fee_lines"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("kind IN ('phi', 'le_phi')", name="kind_known"),
        Index("ix_fee_lines_dossier_position", "dossier_id", "position", unique=True),
        # the fee lines another organisation collects (the forwarding and remittance passes'
        # reads, in every run): found without scanning every fee line (0034)
        Index("ix_fee_lines_collected_elsewhere", "dossier_id",
              postgresql_where=text("collector_code IS NOT NULL"),
              sqlite_where=text("collector_code IS NOT NULL")),
        # the deposit pass reads only the lines under a deposit rule (0035)
        Index("ix_fee_lines_deposit_rule", "dossier_id",
              postgresql_where=text("deposit_period IS NOT NULL"),
              sqlite_where=text("deposit_period IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    # issue 18 (migration 0017, docs/treasury.md): the collecting organisation's agency code
    # (NULL: the dossier's agency), the retained share of a phí in basis points (NULL or 0:
    # nothing kept; a lệ phí is always remitted in full) and the budget sub-item (tiểu mục)
    collector_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    retention_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_code: Mapped[str | None] = mapped_column(String(4), nullable=True)
    # how often a phí is deposited into the collector's fee-pending account (migration 0028,
    # docs/treasury.md): "day", "week" or "month", due ``deposit_due_days`` after the period
    deposit_period: Mapped[str | None] = mapped_column(String(5), nullable=True)
    deposit_due_days: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    # stamped by the database (migration 0009); deleting a line stamps its dossier
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)

    dossier: Mapped[Dossier] = relationship(back_populates="fee_lines")


class DossierImport(Base):
    """An imported dossier file, kept verbatim; the same file is never imported twice."""

    __tablename__ = "dossier_imports"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))
    dossiers_created: Mapped[int] = mapped_column(Integer, default=0)
    dossiers_updated: Mapped[int] = mapped_column(Integer, default=0)
    dossiers_unchanged: Mapped[int] = mapped_column(Integer, default=0)
