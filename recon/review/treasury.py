"""Who keeps what (issue 18 §1): the pure split of collected money, and the declarations' rows.

No database, no clock: plain integers in, plain integers out (docs/treasury.md has the rules
and their sources).

- A **lệ phí** (charge) is remitted to the state budget in full (Law 97/2015/QH13 Art. 13).
- A **phí** (fee) keeps its retained share (tỷ lệ để lại, Decree 120/2016 Art. 5 as amended by
  Decree 82/2023) and remits the rest.
- **Rounding**: ``kept = floor(collected × retention_bp / 10000)``, ``remit = collected − kept``:
  whole VND, the collector never keeps a fraction more than its share, and kept + remit is
  exactly what was collected.
- A provider's fee does not reduce what the budget is owed: the split is of the gross amount.
- Money received by an organisation other than the fee's collector is **to forward** to the
  collector, who then keeps and remits its shares.
- A payment is spread over its dossier's fee lines in their order (position), after what the
  dossier's earlier payments already covered; what exceeds the fees is **unallocated**
  (an overpayment, reported by reconciliation, never declared as a fee).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from recon.engine.forwarding import spread

BP = 10_000
PHI = "phi"
LE_PHI = "le_phi"


def kept_share(collected: int, kind: str, retention_bp: int | None) -> int:
    """What the collector keeps of ``collected``: 0 for a lệ phí, floor(amount × bp / 10000)
    for a phí."""
    if collected < 0:
        raise ValueError("collected must not be negative")
    if kind == LE_PHI or not retention_bp:
        return 0
    if not 0 <= retention_bp <= BP:
        raise ValueError("retention_bp must be within 0..10000")
    return collected * retention_bp // BP


def split(collected: int, kind: str, retention_bp: int | None) -> tuple[int, int]:
    """``(kept, to_remit)``; their sum is ``collected``."""
    kept = kept_share(collected, kind, retention_bp)
    return kept, collected - kept


@dataclass(frozen=True, slots=True)
class Line:
    """One fee line as the split sees it."""

    amount: int
    kind: str
    retention_bp: int | None
    budget_code: str | None
    collector: str
    name: str = ""


def allocate(lines: Sequence[Line], covered_before: int, paid: int) -> tuple[list[int], int]:
    """Spread a payment of ``paid`` over ``lines`` (in order), after ``covered_before`` VND of
    earlier payments; returns the part of each line and what is left unallocated."""
    return spread([line.amount for line in lines], covered_before, paid)


@dataclass(frozen=True, slots=True)
class PaymentSplit:
    """One payment's money from the receiving organisation's side."""

    to_forward: int
    to_keep: int
    to_remit: int
    unallocated: int

    @property
    def total(self) -> int:
        return self.to_forward + self.to_keep + self.to_remit + self.unallocated


def split_payment(lines: Sequence[Line], covered_before: int, paid: int,
                  receiver: str) -> PaymentSplit:
    """What the receiver forwards (lines another organisation collects), keeps and remits."""
    parts, left = allocate(lines, covered_before, paid)
    forward = keep = remit = 0
    for line, part in zip(lines, parts, strict=True):
        if line.collector != receiver:
            forward += part
            continue
        kept, to_remit = split(part, line.kind, line.retention_bp)
        keep += kept
        remit += to_remit
    return PaymentSplit(forward, keep, remit, left)


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Collected:
    """One allocated part of a payment: ``amount`` of a fee line received by ``receiver``."""

    collector: str
    receiver: str
    kind: str
    budget_code: str | None
    retention_bp: int | None
    name: str
    amount: int


@dataclass
class DeclarationRow:
    """One fee (by its tiểu mục and retention rate) of one collector in one period: the
    columns of 01/PH (phí) or 01/LP (lệ phí), and for a year those of 02/PH."""

    kind: str
    budget_code: str
    retention_bp: int
    names: list[str]
    collected: int = 0
    kept: int = 0
    to_remit: int = 0
    remitted: int = 0  # the vouchers allocated to it (recon.review.declarations)
    #: of ``remitted``: paid into the budget by the receiving centre (its transfers)
    remitted_by_receiver: int = 0
    declared: int = 0  # 02/PH column (8): what the months declared (annual only)

    @property
    def difference(self) -> int:
        """Monthly: to remit − remitted. Annual (02/PH column 9): to remit − declared."""
        return self.to_remit - self.remitted

    @property
    def settlement_difference(self) -> int:
        return self.to_remit - self.declared


@dataclass
class CollectorDeclaration:
    code: str
    name: str
    phi: list[DeclarationRow] = field(default_factory=list)
    le_phi: list[DeclarationRow] = field(default_factory=list)
    received_elsewhere: int = 0  # collected through another organisation's account (forwarded)

    @property
    def rows(self) -> list[DeclarationRow]:
        return self.phi + self.le_phi

    def total(self, attr: str) -> int:
        return sum(int(getattr(r, attr)) for r in self.rows)


def group(parts: Iterable[Collected], names: dict[str, str]) -> list[CollectorDeclaration]:
    """The declaration rows: per collector, per (kind, tiểu mục, retention rate); the split is
    applied to each row's total (the form's column (6) = (4) × (5))."""
    by_collector: dict[str, CollectorDeclaration] = {}
    rows: dict[tuple[str, str, str, int], DeclarationRow] = {}
    for part in parts:
        decl = by_collector.get(part.collector)
        if decl is None:
            decl = by_collector[part.collector] = CollectorDeclaration(
                part.collector, names.get(part.collector, part.collector))
        bp = 0 if part.kind == LE_PHI else part.retention_bp or 0
        key = (part.collector, part.kind, part.budget_code or "", bp)
        row = rows.get(key)
        if row is None:
            row = rows[key] = DeclarationRow(part.kind, part.budget_code or "", bp, [])
            (decl.phi if part.kind == PHI else decl.le_phi).append(row)
        if part.name and part.name not in row.names:
            row.names.append(part.name)
        row.collected += part.amount
        if part.receiver != part.collector:
            decl.received_elsewhere += part.amount
    for row in rows.values():
        row.kept, row.to_remit = split(row.collected, row.kind, row.retention_bp)
        row.names.sort()
    out = sorted(by_collector.values(), key=lambda d: d.code)
    for decl in out:
        decl.phi.sort(key=lambda r: (r.budget_code, r.retention_bp))
        decl.le_phi.sort(key=lambda r: (r.budget_code, r.retention_bp))
    return out
