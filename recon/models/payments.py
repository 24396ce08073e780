from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from recon.db import Base, BigIntPK, UTCDateTime, utcnow
from recon.models.dossiers import Dossier

CHANNELS = ("vietqr", "vnpay", "momo", "zalopay", "payos", "pos", "cash")
INTENT_STATUSES = ("issued", "paid", "expired", "cancelled")
PAYMENT_STATUSES = ("succeeded", "failed", "refunded")
#: a callback whose signature was not verified (refused, or never checked)
UNVERIFIED = "signature_valid IS NOT TRUE"


class RefusedCallCount(Base):
    """Webhook calls refused by the per-address rate limit (not archived), counted per day."""

    __tablename__ = "refused_call_counts"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    limited: Mapped[int] = mapped_column(Integer, default=0)


class PaymentIntent(Base):
    """A request to pay: one QR code or one gateway order, with its reference."""

    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('issued', 'paid', 'expired', 'cancelled')", name="status_known"
        ),
        CheckConstraint(
            "channel IN ('vietqr', 'vnpay', 'momo', 'zalopay', 'payos', 'pos', 'cash')",
            name="channel_known",
        ),
        Index("ix_payment_intents_dossier_status", "dossier_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    channel: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="issued")
    # payOS wants an integer order code; ZaloPay an app_trans_id (yymmdd_<reference>)
    order_code: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    provider_order_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    qr_payload: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # stamped by the database on every write (migration 0009): what incremental runs read
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)

    dossier: Mapped[Dossier] = relationship()


class Payment(Base):
    """Money that moved, as a provider reported it. Exactly one per (provider, provider_txn_id)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_txn_id"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint(
            "status IN ('succeeded', 'failed', 'refunded')", name="status_known"
        ),
        Index("ix_payments_dossier_id", "dossier_id"),
        Index("ix_payments_intent_id", "intent_id"),
        Index("ix_payments_paid_at", "paid_at"),
        Index("ix_payments_updated_at", "updated_at"),
        # a bank-statement line keyed by the bank's reference finds its payment (incremental
        # reconciliation); only bank-feed payments carry one
        Index("ix_payments_provider_bank_reference", "provider", "bank_reference",
              postgresql_where=text("bank_reference IS NOT NULL"),
              sqlite_where=text("bank_reference IS NOT NULL")),
        # the payout pass's chargebacks, read by every run (migration 0035)
        Index("ix_payments_refunded", "provider",
              postgresql_where=text("status = 'refunded'"),
              sqlite_where=text("status = 'refunded'")),
        # the few payments reaching their dossier only through their intent: the incremental
        # load reads a dossier's through it (migration 0038)
        Index("ix_payments_intent_no_dossier", "intent_id",
              postgresql_where=text("dossier_id IS NULL AND intent_id IS NOT NULL"),
              sqlite_where=text("dossier_id IS NULL AND intent_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_txn_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reference: Mapped[str | None] = mapped_column(String(16))
    memo: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(64))
    # the bank's own reference for the credit (SePay referenceCode, Casso/payOS reference):
    # what a bank statement lists it by
    bank_reference: Mapped[str | None] = mapped_column(String(64))
    # how the payer paid, as the provider's call said (adapters.base.METHODS: qr,
    # domestic_card, intl_card, wallet, bank_account or a card scheme), and whether the card
    # was issued abroad; NULL when the provider did not say (migration 0029). The fee
    # contract's channel is the method (docs/reconciliation.md#fee-contracts).
    method: Mapped[str | None] = mapped_column(String(16))
    card_foreign: Mapped[bool | None] = mapped_column(Boolean)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intents.id"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    receipt_number: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # why a payment naming several references was not split (JSON: reason, references,
    # culprits, difference; recon.payments.split.Refusal), NULL otherwise (migration 0018)
    split_refusal: Mapped[str | None] = mapped_column(Text, deferred=True)
    # stamped by the database on every write (migration 0009): what incremental runs read
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)

    intent: Mapped[PaymentIntent | None] = relationship()
    dossier: Mapped[Dossier | None] = relationship()


class PaymentAllocation(Base):
    """A dossier's part of a payment that paid several dossiers at once (one bank transfer
    naming several references: recon.payments.split). The allocations of a payment sum to
    its amount; each dossier counts its allocation as paid."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        UniqueConstraint("payment_id", "dossier_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payment_allocations_dossier_id", "dossier_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # stamped by the database on every write (migrations 0009, 0018)
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)


class Callback(Base):
    """One raw webhook call, kept verbatim (card numbers masked) before anything else happens."""

    __tablename__ = "callbacks"
    __table_args__ = (
        Index("ix_callbacks_provider_received", "provider", "received_at"),
        # refused (unverified) calls only: the per-address rate limit and the retention sweep
        # (recon.payments.refused); accepted calls never enter these indexes
        Index("ix_callbacks_refused_addr", "remote_addr", "received_at",
              postgresql_where=text(UNVERIFIED), sqlite_where=text(UNVERIFIED)),
        Index("ix_callbacks_refused_received", "received_at",
              postgresql_where=text(UNVERIFIED), sqlite_where=text(UNVERIFIED)),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    query_string: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[str] = mapped_column(Text)  # JSON object
    body: Mapped[bytes] = mapped_column(LargeBinary)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    signature_valid: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20), default="received")
    outcome_detail: Mapped[str | None] = mapped_column(Text)
    provider_txn_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payment_id: Mapped[int | None] = mapped_column(Integer)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    #: a refused call whose body was cut to a prefix: its length as received (NULL: whole)
    body_length: Mapped[int | None] = mapped_column(Integer)
