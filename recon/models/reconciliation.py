from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    case,
    false,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from recon.db import Base, BigIntPK, UTCDateTime, utcnow
from recon.engine.kinds import KINDS, REGISTRY

# the kinds are declared once, in the engine's registry; the database's CHECK is made by the
# migrations (0001, widened by each kind's migration: see recon.engine.kinds)
DISCREPANCY_KINDS: tuple[str, ...] = KINDS
DISCREPANCY_STATUSES = ("open", "resolved", "auto_resolved")


class ReconRun(Base):
    """One reconciliation pass."""

    __tablename__ = "recon_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status_known"),
        CheckConstraint("mode IN ('full', 'incremental')", name="mode_known"),
        Index("ix_recon_runs_seen_open", "id", postgresql_where=text("seen_open"),
              sqlite_where=text("seen_open")),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    mode: Mapped[str] = mapped_column(String(12))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default="running")
    triggered_by: Mapped[str] = mapped_column(String(100))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON summary
    error: Mapped[str | None] = mapped_column(Text)
    # every change stamped below it was seen by this run (recon/engine/changes.py); NULL for
    # runs from before migration 0009
    change_mark: Mapped[int | None] = mapped_column(BigInteger)
    # the run judged every discrepancy left open after it (a full run): each of them was seen
    # by it, without its row being rewritten (migration 0014; see last_seen_run)
    seen_open: Mapped[bool | None] = mapped_column(Boolean)


class ChangeCounter(Base):
    """SQLite only (PostgreSQL stamps transaction ids): the one counter that every write stamps
    on the rows it writes (``change_seq``) and each run bumps as it opens (migration 0009)."""

    __tablename__ = "recon_change_counter"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class Discrepancy(Base):
    """A difference between assessed, paid and settled, with a stable identity (kind + subject)."""

    __tablename__ = "discrepancies"
    __table_args__ = (
        CheckConstraint(REGISTRY.check_clause(), name="kind_known"),
        CheckConstraint("status IN ('open', 'resolved', 'auto_resolved')", name="status_known"),
        Index("ix_discrepancies_status_kind", "status", "kind"),
        Index("ix_discrepancies_detected_at", "detected_at"),
        Index("ix_discrepancies_dossier_id", "dossier_id"),
        Index("ix_discrepancies_payment_id", "payment_id"),
        Index("ix_discrepancies_settlement_line_id", "settlement_line_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    identity: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(14), default="open")
    # the subject and the runs: indexed ids without foreign keys (migration 0036: findings are
    # derived from rows read in the run's snapshot, and those rows are never deleted)
    dossier_id: Mapped[int | None] = mapped_column(BigIntPK)
    payment_id: Mapped[int | None] = mapped_column(BigIntPK)
    settlement_line_id: Mapped[int | None] = mapped_column(BigIntPK)
    provider: Mapped[str | None] = mapped_column(String(20))
    expected_amount: Mapped[int | None] = mapped_column(BigInteger)
    actual_amount: Mapped[int | None] = mapped_column(BigInteger)
    delta: Mapped[int | None] = mapped_column(BigInteger)
    explanation: Mapped[str] = mapped_column(Text)  # Vietnamese, shown by default
    explanation_en: Mapped[str | None] = mapped_column(Text)
    # an amount_mismatch within the provider's explicit tolerance (still reported)
    within_tolerance: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    # why a run closed it as auto_resolved (vi, en); cleared if it is reopened
    auto_resolved_reason: Mapped[str | None] = mapped_column(Text)
    auto_resolved_reason_en: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_run_id: Mapped[int | None] = mapped_column(BigIntPK)
    last_run_id: Mapped[int | None] = mapped_column(BigIntPK)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_type: Mapped[str | None] = mapped_column(String(30))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proposed_resolution_type: Mapped[str | None] = mapped_column(String(30))
    proposed_note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str | None] = mapped_column(String(100))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the person behind ``proposed_by`` ("user:NAME", also for a token its owner): what
    # maker ≠ checker compares (0013)
    proposed_by_person: Mapped[str | None] = mapped_column(String(100))
    # stamped by the database when it becomes open again (reopened by hand or by a run)
    change_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, deferred=True)


def last_seen_run(last_run_id: ColumnElement[int | None] | Any,
                  status: ColumnElement[str] | Any) -> ColumnElement[int | None]:
    """The last run that saw a discrepancy, as SQL: its ``last_run_id`` (the last run that
    wrote it), or, while it is open, the latest successful run that saw every open
    discrepancy (``seen_open``), whichever is later. A run does not rewrite a finding it finds
    unchanged (migration 0014)."""
    seen = (select(func.max(ReconRun.id))
            .where(ReconRun.seen_open.is_(True), ReconRun.status == "succeeded")
            .scalar_subquery())
    return case(
        (and_(status == "open", seen > func.coalesce(last_run_id, 0)), seen),
        else_=last_run_id)
