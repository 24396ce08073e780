"""Append-only, hash-chained audit events.

Each event's hash is SHA-256 over the previous event's hash and the event's own canonical
content, so changing, removing or reordering any event breaks every link after it. Appends are
serialised (SQLite: the write lock every write transaction already holds; PostgreSQL: a
transaction-scoped advisory lock) so the chain never forks under concurrent writers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.models import AuditEvent

GENESIS_HASH = "0" * 64
AUDIT_LOCK_KEY = 0x7265636F6E  # "recon"


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def event_hash(prev_hash: str, occurred_at: datetime, actor: str, action: str,
               entity_type: str, entity_id: str, data: str) -> str:
    material = canonical_json({
        "prev": prev_hash,
        "at": occurred_at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "data": data,
    })
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})


def _last_hash(session: Session) -> str:
    last = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return last or GENESIS_HASH


def record(session: Session, clock: Clock, *, actor: str, action: str, entity_type: str,
           entity_id: str | int, data: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (commit it with the change it records)."""
    _lock_chain(session)
    prev = _last_hash(session)
    occurred_at = clock.now()  # microsecond precision survives every backend
    payload = canonical_json(dict(data or {}))
    event = AuditEvent(
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        data=payload,
        prev_hash=prev,
        hash=event_hash(prev, occurred_at, actor, action, entity_type, str(entity_id), payload),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the chain in order; name the first event whose link or content does not hold."""
    prev = GENESIS_HASH
    checked = 0
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    ).scalars()
    for event in rows:
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.id,
                               f"event {event.id} points to {event.prev_hash[:12]}…, but the "
                               f"event before it has hash {prev[:12]}… (an event was removed "
                               "or reordered)")
        expected = event_hash(prev, event.occurred_at, event.actor, event.action,
                              event.entity_type, event.entity_id, event.data)
        if expected != event.hash:
            return ChainReport(False, checked, event.id,
                               f"event {event.id} ({event.action}) does not match its hash "
                               "(its content was changed)")
        prev = event.hash
        checked += 1
    return ChainReport(True, checked)
