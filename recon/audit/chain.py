"""Append-only, hash-chained audit events.

Each sealed event's hash is SHA-256 over the previous event's hash and the event's own
canonical content, so changing, removing or reordering any sealed event breaks every link after
it. ``seq`` is an event's place in the chain.

Writers never wait for each other. On SQLite an event is sealed as it is written (the write lock
every write transaction holds keeps the chain linear at no cost). On PostgreSQL an event is
written *unsealed* (no lock, nothing read) and :func:`seal` chains the committed unsealed events
soon after, in one short transaction under an advisory lock, in id order (an event whose
transaction commits late is sealed in a later batch, so ``seq`` order is "sealed" order).
Serialising the appends themselves, as this module did first, held the lock through every
commit's fsync (PostgreSQL releases locks after the commit record is flushed): every audited
write in the service — every webhook payment — queued behind the one before it (issue 4,
``bench/webhooks.py``: 10 of 10.5 busy sessions waiting on that lock). The database refuses any
change to an event except sealing it once without touching its content (migration 0005), and
:func:`verify_chain` reports how many events are still unsealed. Who seals: the web workers
(:mod:`recon.audit.sealing`, within a couple of seconds), ``recon audit verify`` (first), or anyone
calling :func:`seal`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session, make_transient_to_detached

from recon.clock import Clock
from recon.models import AuditEvent

GENESIS_HASH = "0" * 64
AUDIT_LOCK_KEY = 0x7265636F6E  # "recon"
SEAL_BATCH = 5000

_EVENTS = cast(Table, AuditEvent.__table__)
_INSERT = insert(_EVENTS).returning(_EVENTS.c.id)
_SEAL = update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id"), _EVENTS.c.hash.is_(None))
# PostgreSQL: a batch's seals in one statement (one executor start-up, not one per event)
_SEAL_BATCH_PG = text(
    "UPDATE audit_events AS e SET seq = s.seq, prev_hash = s.prev_hash, hash = s.hash "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), "
    "CAST(:prevs AS varchar[]), CAST(:hashes AS varchar[])) AS s(id, seq, prev_hash, hash) "
    "WHERE e.id = s.id AND e.hash IS NULL")
_LAST_SEALED = select(_EVENTS.c.seq, _EVENTS.c.hash).where(
    _EVENTS.c.seq == select(func.max(_EVENTS.c.seq)).scalar_subquery())


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


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _last_sealed(session: Session) -> tuple[int, str]:
    row = session.execute(_LAST_SEALED).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)


def record(session: Session, clock: Clock, *, actor: str, action: str, entity_type: str,
           entity_id: str | int, data: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (commit it with the change it records).

    SQLite: sealed at once. PostgreSQL: unsealed until :func:`seal` chains it (no lock taken,
    so concurrent writers never queue here)."""
    occurred_at = clock.now()  # microsecond precision survives every backend
    values: dict[str, Any] = {
        "occurred_at": occurred_at,
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "data": canonical_json(dict(data or {})),
        "prev_hash": None,
        "hash": None,
        "seq": None,
    }
    if not _postgres(session):
        seq, prev = _last_sealed(session)
        values.update(seq=seq + 1, prev_hash=prev, hash=event_hash(
            prev, occurred_at, actor, action, entity_type, values["entity_id"], values["data"]))
    session.flush()  # the caller's pending changes first, in their order
    new_id = session.execute(_INSERT, values).scalar_one()
    event = AuditEvent(id=new_id, **values)
    make_transient_to_detached(event)  # as if loaded: nothing left to flush
    session.add(event)
    return event


def record_on(conn: Connection, clock: Clock, *, actor: str, action: str, entity_type: str,
              entity_id: str | int, data: Mapping[str, Any] | None = None) -> AuditEvent:
    """:func:`record` in the transaction of a Core connection (the reconciliation runner
    writes its findings through one), flushed before it returns."""
    with Session(bind=conn) as session:
        event = record(session, clock, actor=actor, action=action, entity_type=entity_type,
                       entity_id=entity_id, data=data)
        session.flush()
        return event


def seal(session: Session, *, wait: bool = True, limit: int = SEAL_BATCH) -> int | None:
    """Chain up to ``limit`` committed unsealed events, oldest id first, in the caller's
    transaction; how many. ``wait=False``: None at once when another transaction is sealing
    (PostgreSQL) instead of waiting for it. Commit promptly: the lock is held until then."""
    if _postgres(session):
        lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        got = session.execute(text(f"SELECT {lock}(:k)"), {"k": AUDIT_LOCK_KEY}).scalar()
        if not wait and not got:
            return None
    seq, prev = _last_sealed(session)
    rows = session.execute(
        select(_EVENTS.c.id, _EVENTS.c.occurred_at, _EVENTS.c.actor, _EVENTS.c.action,
               _EVENTS.c.entity_type, _EVENTS.c.entity_id, _EVENTS.c.data)
        .where(_EVENTS.c.hash.is_(None)).order_by(_EVENTS.c.id).limit(limit)).all()
    if not rows:
        return 0
    seals: list[dict[str, Any]] = []
    for row in rows:
        seq += 1
        digest = event_hash(prev, row.occurred_at, row.actor, row.action, row.entity_type,
                            row.entity_id, row.data)
        seals.append({"event_id": row.id, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if _postgres(session):
        session.execute(_SEAL_BATCH_PG, {
            "ids": [seal["event_id"] for seal in seals], "seqs": [seal["seq"] for seal in seals],
            "prevs": [seal["prev_hash"] for seal in seals],
            "hashes": [seal["hash"] for seal in seals]})
    else:
        session.execute(_SEAL, seals)
    session.expire_all()  # loaded events now have their seal
    return len(seals)


def unsealed_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(_EVENTS).where(
        _EVENTS.c.hash.is_(None))).scalar_one())


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    unsealed: int = 0  # events not chained yet (PostgreSQL, for a moment after their commit)


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the sealed chain in order; name the first event whose link or content does not
    hold. Events not sealed yet are counted, not judged (:func:`seal` them first to judge)."""
    prev = GENESIS_HASH
    checked = 0
    unsealed = unsealed_count(session)
    rows = session.execute(
        select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
        .execution_options(yield_per=batch)
    ).scalars()
    for event in rows:
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.id,
                               f"event {event.id} points to {(event.prev_hash or '')[:12]}…, "
                               f"but the event before it has hash {prev[:12]}… (an event was "
                               "removed or reordered)", unsealed)
        expected = event_hash(prev, event.occurred_at, event.actor, event.action,
                              event.entity_type, event.entity_id, event.data)
        if expected != event.hash:
            return ChainReport(False, checked, event.id,
                               f"event {event.id} ({event.action}) does not match its hash "
                               "(its content was changed)", unsealed)
        prev = expected
        checked += 1
    return ChainReport(True, checked, unsealed=unsealed)
