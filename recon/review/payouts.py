"""The payouts page's reads: each provider batch of a month with its lines, net, expected
credit day, the bank credit that paid it and its state; the provider credits no batch
explains; and, for a payout discrepancy, both sides (the batch and the credit).

It matches with the same pure matcher the run uses (:mod:`recon.engine.payouts`, read by
:func:`recon.engine.payout_load.read_window`), as of the moment asked: what the page shows is
what a run at that moment would find. It writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from recon.engine.payout_load import read_window
from recon.engine.payouts import BankCredit, PayoutBatch, PayoutConfig, PayoutMatch
from recon.engine.records import SettlementLineRow
from recon.models import Discrepancy
from recon.scope import ALL, Scope


def in_net(line: SettlementLineRow) -> int:
    """What a line adds to its batch's net as :mod:`recon.engine.payouts` counts it: a sale
    its stated net; a refund (``refund_of`` set) minus the amount refunded and minus its refund
    fee, ``-(amount + fee)`` (the provider takes both out of the payout). A batch's ``net`` is
    the sum of its lines' (``tests/finance/test_payouts_page.py`` holds the two together)."""
    return -(line.amount + line.fee) if line.refund_of is not None else line.net


def refunds_of(batch: PayoutBatch) -> tuple[SettlementLineRow, ...]:
    """The batch's refund lines, in line order."""
    return tuple(line for line in batch.lines if line.refund_of is not None)


@dataclass(frozen=True)
class BatchView:
    batch: PayoutBatch
    state: str
    match: PayoutMatch | None
    discrepancy_id: int | None  # the open payout_missing / payout_mismatch about it

    @property
    def credit(self) -> BankCredit | None:
        return None if self.match is None else self.match.credit

    @property
    def refunds(self) -> tuple[SettlementLineRow, ...]:
        return refunds_of(self.batch)

    @property
    def refunds_in_net(self) -> int:
        """What its refund lines take off its net (<= 0)."""
        return sum(in_net(line) for line in self.refunds)


@dataclass(frozen=True)
class CreditView:
    provider: str
    credit: BankCredit
    discrepancy_id: int | None


@dataclass(frozen=True)
class PayoutPage:
    month: date
    provider: str | None
    batches: list[BatchView]
    unexpected: list[CreditView]
    providers: list[str]

    def count(self, state: str) -> int:
        return sum(1 for b in self.batches if b.state == state)


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _open_ids(session: Session, identities: list[str]) -> dict[str, int]:
    if not identities:
        return {}
    rows = session.execute(select(Discrepancy.identity, Discrepancy.id).where(
        Discrepancy.identity.in_(identities), Discrepancy.status == "open"))
    return {identity: int(did) for identity, did in rows}


def payout_page(session: Session, *, config: PayoutConfig, now: datetime, month: date,
                provider: str | None = None, scope: Scope = ALL) -> PayoutPage:
    """The batches whose session starts in ``month`` (of ``provider``, or of every provider
    that pays in batches), with the credits of the month that no batch explains.

    A batch is one provider's transfer for a session spanning every agency, and a bank credit
    pays a whole batch (or none): neither belongs to an agency, like a settlement file. A
    caller of some agencies sees the page with no batch and no credit (its own payments'
    settlement shows on the dashboard and in the reports, line by line)."""
    low, high = month_bounds(month)
    if not scope.is_all:
        return PayoutPage(month=low, provider=provider, batches=[], unexpected=[],
                          providers=sorted(config.providers))
    outcome = read_window(session.connection(), config=config, as_of=now, low=low, high=high)
    batches = [b for b in outcome.batches if low <= b.session_on <= high
               and (provider is None or b.provider == provider)]
    unexpected = [(p, c) for p, c in outcome.unexpected if low <= c.booked_on <= high
                  and (provider is None or p == provider)]
    wanted = [f"payout_missing:settlement_line={b.first_line_id}" for b in batches]
    wanted += [f"payout_mismatch:settlement_line={m.credit.id}" for m in outcome.matches]
    wanted += [f"payout_unexpected:settlement_line={c.id}" for _p, c in unexpected]
    ids = _open_ids(session, wanted)
    views = []
    for b in batches:
        match = outcome.paid_by.get(b.first_line_id)
        did = ids.get(f"payout_missing:settlement_line={b.first_line_id}")
        if did is None and match is not None:
            did = ids.get(f"payout_mismatch:settlement_line={match.credit.id}")
        views.append(BatchView(b, outcome.states[b.first_line_id], match, did))
    return PayoutPage(
        month=low, provider=provider, batches=views,
        unexpected=[CreditView(p, c, ids.get(f"payout_unexpected:settlement_line={c.id}"))
                    for p, c in unexpected],
        providers=sorted(config.providers))


@dataclass(frozen=True)
class PayoutSides:
    """Both sides of a payout discrepancy: the batch(es) and the credit (either may be
    missing: a batch never credited, a credit no batch explains)."""

    batches: list[PayoutBatch]
    credit: BankCredit | None
    credit_file_id: int | None
    state: str | None


def sides(session: Session, *, config: PayoutConfig, now: datetime, kind: str,
          line_id: int) -> PayoutSides | None:
    """The batch and credit a ``payout_*`` discrepancy about settlement line ``line_id`` is
    about, as matched now."""
    day = session.execute(text("SELECT settled_on FROM settlement_lines WHERE id = :i"),
                          {"i": line_id}).scalar()
    if day is None:
        return None
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    outcome = read_window(session.connection(), config=config, as_of=now, low=day, high=day)
    if kind == "payout_missing":
        batch = outcome.batch_of_line(line_id)
        if batch is None:
            return None
        match = outcome.paid_by.get(line_id)
        credit = None if match is None else match.credit
        return PayoutSides([batch], credit, None if credit is None else credit.file_id,
                           outcome.states.get(line_id))
    found = outcome.credits.get(line_id)
    if found is None:
        return None
    credit = found[1]
    match = next((m for m in outcome.matches if m.credit.id == line_id), None)
    return PayoutSides(list(match.batches) if match else [], credit, credit.file_id,
                       None if match is None else outcome.states.get(
                           match.batches[0].first_line_id))


LINE_HEADER_KEYS = ("Statement", "Line", "Bank reference", "Credited on", "Credited", "Memo",
                    "Provider")


def statement_line(session: Session, line_id: int, config: PayoutConfig,
                   scope: Scope = ALL) -> list[Any] | None:
    """One line of an imported bank statement (a file of one of ``config``'s statement
    profiles), in the order of :data:`LINE_HEADER_KEYS`; ``None`` for any other line, and
    for a caller of some agencies (a bank credit pays a provider's batch spanning agencies)."""
    if not scope.is_all:
        return None
    row = session.execute(text(
        "SELECT f.filename, l.line_no, l.provider_txn_id, l.settled_on, l.amount, "
        "COALESCE(l.reference, ''), l.provider, f.profile FROM settlement_lines l "
        "JOIN settlement_files f ON f.id = l.file_id WHERE l.id = :i"), {"i": line_id}).first()
    if row is not None and row[7] not in config.statement_profiles:
        row = None
    if row is None:
        return None
    day = row[3]
    return [row[0], int(row[1]), row[2],  # the memo is made inert by the export
            day.isoformat() if isinstance(day, date) else str(day)[:10], int(row[4]), row[5],
            row[6]]


HEADER_KEYS = ("Provider", "Session from", "Session to", "Transactions", "Gross", "Fee", "Net",
               "Expected credit", "State", "Bank reference", "Credited on", "Credited",
               "Difference", "Refund lines", "Refunded", "Refund fees", "Refunds in the net")
AMOUNT_COLUMNS = frozenset({4, 5, 6, 11, 12, 14, 15, 16})


def export_rows(page: PayoutPage) -> Iterator[list[Any]]:
    """One row per batch, in the order of :data:`HEADER_KEYS` (labels translated by the
    view; cells made inert by the house's export functions). Gross, fee and net are the
    engine's (refunds already taken off); the last four columns are its refund lines'."""
    for view in page.batches:
        b, c = view.batch, view.credit
        refunds = view.refunds
        yield [b.provider, b.session_on.isoformat(), b.last_day.isoformat(), len(b.lines),
               b.gross, b.fee, b.net, b.expected_on.isoformat(), view.state,
               "" if c is None else c.bank_reference,
               "" if c is None else c.booked_on.isoformat(),
               "" if c is None else c.amount,
               "" if view.match is None else view.match.difference,
               len(refunds), sum(line.amount for line in refunds),
               sum(line.fee for line in refunds), view.refunds_in_net]


LINES_HEADER_KEYS = ("Provider", "Session from", "Provider transaction", "Kind",
                     "Original transaction", "Settled on", "Gross", "Fee", "Net",
                     "In the batch net")
LINES_AMOUNT_COLUMNS = frozenset({6, 7, 8, 9})


def export_line_rows(page: PayoutPage) -> Iterator[list[Any]]:
    """One row per line of each batch, in the order of :data:`LINES_HEADER_KEYS`: its kind
    (``sale`` or ``refund``, labelled by the view), a refund's sale (the transaction it
    reverses) and what it adds to the batch's net (:func:`in_net`)."""
    for view in page.batches:
        b = view.batch
        for line in b.lines:
            yield [b.provider, b.session_on.isoformat(), line.provider_txn_id,
                   "sale" if line.refund_of is None else "refund", line.refund_of or "",
                   line.settled_on.isoformat(), line.amount, line.fee, line.net, in_net(line)]


__all__ = ["LINES_HEADER_KEYS", "LINE_HEADER_KEYS", "BatchView", "CreditView", "PayoutPage",
           "PayoutSides", "export_line_rows", "export_rows", "in_net", "month_bounds",
           "payout_page", "refunds_of", "sides", "statement_line"]
