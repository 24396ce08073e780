"""The audit trail read back, for finance's audit page: newest first, narrowed by what the
page's filters say."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from recon.models import AuditEvent
from recon.scope import ALL, Scope, audit_condition


@dataclass(frozen=True)
class EventFilters:
    """Each None: not narrowed. ``action`` matches the action itself and every action under
    it (``payment`` matches ``payment.recorded``)."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None


def list_events(session: Session, filters: EventFilters, *, limit: int,
                before: int | None = None, scope: Scope = ALL) -> list[AuditEvent]:
    """Up to ``limit`` events, newest first; only ids below ``before`` when given; only
    events about entities of ``scope``'s agencies (:func:`recon.scope.audit_condition`)."""
    conditions = []
    if not scope.is_all:
        conditions.append(audit_condition(scope))
    if filters.entity_type:
        conditions.append(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        conditions.append(AuditEvent.entity_id == filters.entity_id)
    if filters.actor:
        conditions.append(AuditEvent.actor == filters.actor)
    if filters.action:
        conditions.append(or_(AuditEvent.action == filters.action,
                              AuditEvent.action.like(f"{filters.action}.%")))
    if before:
        conditions.append(AuditEvent.id < before)
    return list(session.scalars(select(AuditEvent).where(*conditions)
                                .order_by(AuditEvent.id.desc()).limit(limit)))


__all__ = ["EventFilters", "list_events"]
