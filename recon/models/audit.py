from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK, UTCDateTime, utcnow


class AuditEvent(Base):
    """Append-only; each event's hash covers its content and the previous event's hash.

    ``seq`` is the event's place in the chain. On PostgreSQL an event is written unsealed
    (``seq``, ``prev_hash`` and ``hash`` empty) and sealed soon after, once, by
    :func:`recon.audit.chain.seal`; the database refuses any other change (migration 0005).
    """

    __tablename__ = "audit_events"
    # the audit trail of one dossier, payment or discrepancy (the finance detail page)
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),
                      # what recon.audit.chain.seal looks for
                      Index("ix_audit_events_unsealed", "id",
                            postgresql_where=text("hash IS NULL"),
                            sqlite_where=text("hash IS NULL")))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
