"""The onward transfers' page and a forward_overdue's two sides (issue 18 §2): the reads.

The allocation is :mod:`recon.engine.forwarding`'s, read by :mod:`recon.engine.forward_load`
as a run reads it, as of now; this module groups it per ledger (receiving agency,
destination) and keeps only the receiving agencies of the caller's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.engine import forward_load
from recon.engine.forwarding import (
    BUDGET,
    ForwardOutcome,
    PartState,
    TransferState,
    hours_since,
)
from recon.models import Agency
from recon.scope import Scope


@dataclass
class Ledger:
    receiver: str
    destination: str
    name: str
    owed: int = 0
    forwarded: int = 0
    overdue: int = 0
    oldest_unpaid: datetime | None = None
    transfers: list[TransferState] = field(default_factory=list)

    @property
    def still_owed(self) -> int:
        return self.owed - self.forwarded

    @property
    def is_budget(self) -> bool:
        return self.destination == BUDGET


def _receivers(session: Session, scope: Scope) -> set[str] | None:
    if scope.agencies is None:
        return None
    return set(session.scalars(select(Agency.code).where(Agency.id.in_(sorted(scope.agencies)))))


def _outcome(session: Session, now: datetime, deadline_hours: int) -> ForwardOutcome:
    return forward_load.outcome(session.connection(), as_of=now, deadline_hours=deadline_hours)


def ledgers(session: Session, *, now: datetime, deadline_hours: int, scope: Scope
            ) -> list[Ledger]:
    """Per (receiving agency, destination): owed, forwarded, overdue, and the transfers."""
    found = _outcome(session, now, deadline_hours)
    allowed = _receivers(session, scope)
    names = forward_load.read_names(session.connection())
    out: dict[tuple[str, str], Ledger] = {}

    def ledger(receiver: str, destination: str) -> Ledger:
        key = (receiver, destination)
        if key not in out:
            out[key] = Ledger(receiver, destination, names.get(destination, destination))
        return out[key]

    for state in found.parts:
        p = state.part
        if allowed is not None and p.receiver not in allowed:
            continue
        row = ledger(p.receiver, p.destination)
        row.owed += p.amount
        row.forwarded += state.paid
        if found.overdue(state):
            row.overdue += state.remaining
        if state.remaining and (row.oldest_unpaid is None or p.paid_at < row.oldest_unpaid):
            row.oldest_unpaid = p.paid_at
    for t in found.transfers:
        if allowed is not None and t.transfer.receiver not in allowed:
            continue
        ledger(t.transfer.receiver, t.transfer.destination).transfers.append(t)
    for row in out.values():
        row.transfers.sort(key=lambda t: (t.transfer.transferred_at, t.transfer.id),
                           reverse=True)
    return sorted(out.values(), key=lambda r: (r.receiver, r.is_budget, r.destination))


@dataclass
class OverdueSides:
    """A forward_overdue's two sides: the payment's parts owed onward, and the transfers of
    the same ledgers (the ones that paid any part first)."""

    parts: list[PartState]
    transfers: list[TransferState]
    names: dict[str, str]
    deadline_hours: int
    now: datetime

    def hours(self, moment: datetime) -> int:
        """Whole hours from ``moment`` to now."""
        return hours_since(moment, self.now)


def overdue_sides(session: Session, payment_id: int, *, now: datetime, deadline_hours: int
                  ) -> OverdueSides:
    found = _outcome(session, now, deadline_hours)
    parts = found.parts_of(payment_id)
    keys = {(p.part.receiver, p.part.destination) for p in parts}
    transfers = [t for t in found.transfers
                 if (t.transfer.receiver, t.transfer.destination) in keys]
    transfers.sort(key=lambda t: (t.transfer.transferred_at, t.transfer.id))
    return OverdueSides(parts, transfers, forward_load.read_names(session.connection()),
                        deadline_hours, now)


__all__ = ["Ledger", "OverdueSides", "ledgers", "overdue_sides"]
