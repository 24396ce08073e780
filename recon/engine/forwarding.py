"""Onward transfers (issue 18 §2, Circular 74/2022/TT-BTC Art. 3): what a receiving centre owes
onward, the transfers that pay it, oldest first, and what does not hold. Pure, like the core.

A citizen pays the **receiver** (the agency whose account the dossier's payment went to). Each
part of the payment that another organisation **collects** (a fee line whose collector is not
the receiver; :mod:`recon.review.treasury` spreads the payment over the lines) is owed onward
within a deadline counted in **hours** from the payment (``deadline_hours``, 24 by the rule):

- a **phí** part is owed to its collector (transferred to the collector's account);
- a **lệ phí** part is owed to the state **budget** (the receiver pays it in itself).

What the receiver keeps or remits of its own fees is not this module's business (§3).

**Allocation.** Owed parts and transfers are grouped by *ledger*: (receiver, destination),
the destination being the collector's code or :data:`BUDGET`. In each ledger the transfers, in
time order (then id), pay the parts still unpaid that were collected at or before the transfer,
oldest first (``paid_at``, then payment id, then line order); a part may be paid by several
transfers. What a transfer has left once those are paid is an excess.

**Findings.**

- ``forward_overdue`` (one per payment, ``forward_overdue:payment=<id>``): a payment with a
  part still unpaid more than ``deadline_hours`` after it was collected, as of the run. It
  resolves itself once transfers pay the part (late or not).
- ``forward_mismatch`` (one per transfer, ``forward_mismatch:transfer=<id>``): a transfer that
  pays more than was owed in its ledger when it was made (``expected`` what it paid,
  ``actual`` its amount), or that matches no amount owed at all (``expected`` 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, NamedTuple

from recon.engine import explain
from recon.engine.records import Discrepancy

BUDGET: Final = "budget"
FORWARD_KINDS: Final = ("forward_overdue", "forward_mismatch")
DEFAULT_DEADLINE_HOURS: Final = 24
PHI: Final = "phi"
LE_PHI: Final = "le_phi"


class OwedPart(NamedTuple):
    """One part of a succeeded payment owed onward: ``amount`` VND of a fee line of ``kind``
    collected by ``collector``, received by ``receiver`` at ``paid_at``."""

    payment_id: int
    dossier_id: int
    receiver: str
    collector: str
    kind: str
    amount: int
    paid_at: datetime
    position: int = 0
    budget_code: str = ""  # the line's tiểu mục ("" when it has none)

    @property
    def destination(self) -> str:
        """Where it is owed: the collector for a phí, the budget for a lệ phí."""
        return BUDGET if self.kind == LE_PHI else self.collector


class TransferRow(NamedTuple):
    """One transfer out of the receiver's account to ``destination`` (a collector's code or
    :data:`BUDGET`)."""

    id: int
    receiver: str
    destination: str
    amount: int
    transferred_at: datetime
    reference: str


@dataclass(slots=True)
class PartState:
    part: OwedPart
    paid: int = 0
    paid_at: datetime | None = None  # when the last đồng was paid
    by: list[int] = field(default_factory=list)  # the transfers' ids
    amounts: list[int] = field(default_factory=list)  # what each of ``by`` paid of it

    @property
    def remaining(self) -> int:
        return self.part.amount - self.paid


@dataclass(slots=True)
class TransferState:
    transfer: TransferRow
    applied: int = 0

    @property
    def excess(self) -> int:
        return self.transfer.amount - self.applied


@dataclass
class ForwardOutcome:
    """What the allocation found, as of ``as_of``."""

    as_of: datetime
    deadline_hours: int
    parts: list[PartState]
    transfers: list[TransferState]
    findings: list[Discrepancy]

    def parts_of(self, payment_id: int) -> list[PartState]:
        return [p for p in self.parts if p.part.payment_id == payment_id]

    def transfer(self, transfer_id: int) -> TransferState | None:
        return next((t for t in self.transfers if t.transfer.id == transfer_id), None)

    def overdue(self, state: PartState) -> bool:
        return state.remaining > 0 and hours_since(state.part.paid_at, self.as_of) > \
            self.deadline_hours


def spread(amounts: Sequence[int], covered_before: int, paid: int) -> tuple[list[int], int]:
    """Spread a payment of ``paid`` over lines of ``amounts`` (in order), after
    ``covered_before`` VND of earlier payments; returns each line's part and what is left
    (:func:`recon.review.treasury.allocate` is this over fee lines)."""
    if paid < 0 or covered_before < 0:
        raise ValueError("amounts must not be negative")
    parts: list[int] = []
    before, left = covered_before, paid
    for amount in amounts:
        already = min(before, amount)
        before -= already
        part = min(left, amount - already)
        parts.append(part)
        left -= part
    return parts, left


class FeeLineShare(NamedTuple):
    """A dossier's fee line as the forwarding pass sees it."""

    amount: int
    kind: str
    collector: str
    budget_code: str = ""


def owed_parts(dossier_id: int, receiver: str, lines: Sequence[FeeLineShare],
               payments: Iterable[tuple[int, int, datetime]]) -> list[OwedPart]:
    """The parts of a dossier's succeeded ``payments`` (id, amount, paid_at; in payment order)
    that lines collected by another organisation than ``receiver`` take."""
    out: list[OwedPart] = []
    covered = 0
    amounts = [ln.amount for ln in lines]
    for payment_id, amount, paid_at in payments:
        shares, _left = spread(amounts, covered, amount)
        covered += amount
        for position, (line, part) in enumerate(zip(lines, shares, strict=True)):
            if part and line.collector != receiver:
                out.append(OwedPart(payment_id, dossier_id, receiver, line.collector,
                                    line.kind, part, paid_at, position, line.budget_code))
    return out


def hours_since(start: datetime, end: datetime) -> int:
    """Whole hours from ``start`` to ``end`` (rounded down; 0 when ``end`` is earlier)."""
    return max(0, int((end - start) / timedelta(hours=1)))


def allocate(parts: Iterable[OwedPart], transfers: Iterable[TransferRow]
             ) -> tuple[list[PartState], list[TransferState]]:
    """Pay the owed parts with the transfers, ledger by ledger, oldest first (module doc)."""
    ledgers: dict[tuple[str, str], list[PartState]] = {}
    states = [PartState(p) for p in sorted(
        parts, key=lambda p: (p.paid_at, p.payment_id, p.position))]
    for state in states:
        ledgers.setdefault((state.part.receiver, state.part.destination), []).append(state)
    out = [TransferState(t) for t in sorted(transfers, key=lambda t: (t.transferred_at, t.id))]
    for ts in out:
        t = ts.transfer
        for state in ledgers.get((t.receiver, t.destination), ()):
            if ts.excess == 0:
                break
            if state.remaining == 0 or state.part.paid_at > t.transferred_at:
                continue
            pay = min(state.remaining, ts.excess)
            state.paid += pay
            ts.applied += pay
            state.by.append(t.id)
            state.amounts.append(pay)
            if state.remaining == 0:
                state.paid_at = t.transferred_at
    return states, out


def match_forwarding(parts: Sequence[OwedPart], transfers: Sequence[TransferRow], *,
                     as_of: datetime, deadline_hours: int = DEFAULT_DEADLINE_HOURS,
                     names: dict[str, str] | None = None) -> ForwardOutcome:
    """Allocate and say what does not hold as of ``as_of``. ``names``: collectors' names for
    the sentences (their codes otherwise)."""
    if isinstance(deadline_hours, bool) or not isinstance(deadline_hours, int) \
            or deadline_hours < 0:
        raise ValueError(f"deadline_hours must be a whole number >= 0, got {deadline_hours!r}")
    states, transfers_out = allocate(parts, transfers)
    outcome = ForwardOutcome(as_of, deadline_hours, states, transfers_out, [])
    by_payment: dict[int, list[PartState]] = {}
    for state in states:
        if outcome.overdue(state):
            by_payment.setdefault(state.part.payment_id, []).append(state)
    label = names or {}
    findings: list[Discrepancy] = []
    for payment_id, overdue in by_payment.items():
        first = overdue[0].part
        owed = sum(s.part.amount for s in overdue)
        paid = sum(s.paid for s in overdue)
        items = [(s.part.destination, label.get(s.part.collector, s.part.collector),
                  s.remaining) for s in overdue]
        vi, en = explain.forward_overdue(first.receiver, items, first.paid_at,
                                         hours_since(first.paid_at, as_of), deadline_hours)
        findings.append(Discrepancy(
            f"forward_overdue:payment={payment_id}", "forward_overdue", first.dossier_id,
            payment_id, None, None, owed, paid, paid - owed, vi, en))
    for ts in transfers_out:
        if ts.excess <= 0:
            continue
        t = ts.transfer
        vi, en = explain.forward_mismatch(
            t.reference, t.receiver, t.destination, label.get(t.destination, t.destination),
            t.amount, ts.applied, t.transferred_at)
        findings.append(Discrepancy(
            f"forward_mismatch:transfer={t.id}", "forward_mismatch", None, None, None, None,
            ts.applied, t.amount, ts.excess, vi, en))
    findings.sort(key=lambda d: d.identity)
    outcome.findings = findings
    return outcome


__all__ = [
    "BUDGET",
    "DEFAULT_DEADLINE_HOURS",
    "FORWARD_KINDS",
    "FeeLineShare",
    "ForwardOutcome",
    "OwedPart",
    "PartState",
    "TransferRow",
    "TransferState",
    "allocate",
    "hours_since",
    "match_forwarding",
    "owed_parts",
    "spread",
]
