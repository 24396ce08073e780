"""Fee invoices against the fee contracts, pure: ``fee_invoice_mismatch``.

A provider billed by subscription (payOS, SePay, Casso: a contract of kind ``subscription``)
sends one invoice a month (:mod:`recon.contracts.invoices`). For each provider and billed
month, the invoices **in force** (those no later invoice of the provider replaces: an invoice
names the one it corrects in ``replaces``) are summed and set against what the contract in
force on the month's first day expects (:func:`recon.contracts.invoices.expected_charge`: the
package, plus the overage per transaction above what it includes, counted over the provider's
succeeded and refunded payments paid that month, Vietnam time; VAT added when the contract
quotes without it). A difference beyond the contract's ``tolerance_vnd`` is a finding.

An invoice of a month in which no contract of its provider is in force (on any day of the
month) is a finding too: nothing says what it may ask. A month of a provider whose contract
prices per transaction (VNPay, MoMo, ZaloPay, POS: their fees are judged line by line,
``fee_mismatch``) is not judged here; neither is anything when the book holds no contract at
all (production without ``RECON_CONTRACTS_FILE`` judges no fee).

The finding's subject is the month's first invoice in force (the lowest id):
``fee_invoice_mismatch:fee_invoice=<id>``. ``expected`` is the contract's charge (0 without a
contract), ``actual`` what the invoices in force ask. A corrected invoice (one that replaces
the wrong one) changes the month's first invoice in force, so the old finding no longer holds
and is auto-resolved; if the correction is wrong too, it is a new finding about it.

The pass reads every invoice in every run (a handful a month), so an incremental run judges
exactly what a full run does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, NamedTuple

from recon.contracts.invoices import expected_charge
from recon.contracts.model import Contract, ContractBook
from recon.engine import explain
from recon.engine.records import Discrepancy

KIND: Final = "fee_invoice_mismatch"


class InvoiceRow(NamedTuple):
    """One recorded fee invoice (``fee_invoices``)."""

    id: int
    provider: str
    number: str
    period: date  # the billed month's first day
    amount: int
    replaces: str | None = None  # the number of the provider's invoice this one corrects


def month_end(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1) - timedelta(days=1)


def covered_in_month(book: ContractBook, provider: str, month: date) -> bool:
    """Whether some contract of ``provider`` is in force on some day of ``month``."""
    last = month_end(month)
    return any(c.provider == provider and c.valid_from <= last
               and (c.valid_to is None or c.valid_to >= month) for c in book.contracts)


@dataclass(frozen=True, slots=True)
class MonthJudgement:
    """One provider's billed month: its invoices in force against its contract."""

    provider: str
    month: date
    invoices: tuple[InvoiceRow, ...]  # in force, by id
    contract: Contract | None  # the subscription contract judging it (None: see covered)
    covered: bool  # some contract of the provider is in force in the month
    transactions: int
    expected: int | None  # the contract's charge (None: not a subscription month)
    invoiced: int

    @property
    def lead(self) -> InvoiceRow:
        return self.invoices[0]

    @property
    def judged(self) -> bool:
        """Whether this month is judged at all (a subscription, or no contract at all)."""
        return self.contract is not None or not self.covered

    @property
    def difference(self) -> int | None:
        return None if self.expected is None else self.invoiced - self.expected

    @property
    def ok(self) -> bool:
        if not self.judged:
            return True
        if self.contract is None:
            return False
        assert self.expected is not None
        return abs(self.invoiced - self.expected) <= self.contract.tolerance_vnd


@dataclass
class InvoiceOutcome:
    """What the pass found: every month judged, the findings, which invoice replaced which."""

    months: list[MonthJudgement] = field(default_factory=list)
    findings: list[Discrepancy] = field(default_factory=list)
    replaced_by: dict[int, InvoiceRow] = field(default_factory=dict)
    active: bool = True  # False: the book holds no contract, nothing was judged

    def month_of(self, invoice_id: int) -> MonthJudgement | None:
        """The month an invoice (in force, or replaced, through any chain of replacements)
        belongs to, as judged now."""
        current, seen = invoice_id, set()
        while current in self.replaced_by and current not in seen:
            seen.add(current)
            current = self.replaced_by[current].id
        return next((m for m in self.months if any(i.id == current for i in m.invoices)), None)


def replacements(invoices: Iterable[InvoiceRow]) -> dict[int, InvoiceRow]:
    """Replaced invoice id -> the invoice replacing it (the provider's, by number)."""
    rows = list(invoices)
    by_number = {(r.provider, r.number): r for r in rows}
    out: dict[int, InvoiceRow] = {}
    for r in sorted(rows, key=lambda r: r.id):
        if r.replaces is None:
            continue
        old = by_number.get((r.provider, r.replaces))
        if old is not None and old.id != r.id:
            out[old.id] = r
    return out


def needed_months(invoices: Iterable[InvoiceRow], book: ContractBook
                  ) -> list[tuple[str, date]]:
    """The (provider, month) pairs whose payments must be counted: months of invoices in
    force judged against a subscription contract."""
    rows = list(invoices)
    gone = replacements(rows)
    out: set[tuple[str, date]] = set()
    for r in rows:
        if r.id in gone:
            continue
        contract = book.find(r.provider, "*", r.period)
        if contract is not None and contract.kind == "subscription":
            out.add((r.provider, r.period))
    return sorted(out)


def judge_invoices(invoices: Iterable[InvoiceRow], counts: Mapping[tuple[str, date], int],
                   book: ContractBook) -> InvoiceOutcome:
    """Every month of the invoices in force, judged; ``counts`` (provider, month) -> the
    provider's transactions that month (see :func:`needed_months`). Any input order."""
    rows = sorted(invoices, key=lambda r: r.id)
    gone = replacements(rows)
    outcome = InvoiceOutcome(replaced_by=gone, active=bool(book.contracts))
    if not outcome.active:
        return outcome
    groups: dict[tuple[str, date], list[InvoiceRow]] = {}
    for r in rows:
        if r.id not in gone:
            groups.setdefault((r.provider, r.period), []).append(r)
    for (provider, month), its in sorted(groups.items()):
        found = book.find(provider, "*", month)
        contract = found if found is not None and found.kind == "subscription" else None
        covered = found is not None or covered_in_month(book, provider, month)
        count = counts.get((provider, month), 0)
        judgement = MonthJudgement(
            provider, month, tuple(its), contract, covered, count,
            expected_charge(contract, count) if contract is not None else None,
            sum(r.amount for r in its))
        outcome.months.append(judgement)
        if judgement.ok:
            continue
        expected = judgement.expected or 0
        numbers = tuple(r.number for r in its)
        replaced = tuple(r.replaces for r in its if r.replaces)
        if contract is None:
            vi, en = explain.fee_invoice_without_contract(provider, month, numbers,
                                                          judgement.invoiced)
        else:
            vi, en = explain.fee_invoice_mismatch(
                provider, month, numbers, judgement.invoiced, contract.id, expected, count,
                contract.included_transactions, contract.monthly_vnd, contract.overage_vnd,
                contract.vat_included, contract.tolerance_vnd, replaced)
        outcome.findings.append(Discrepancy(
            f"{KIND}:fee_invoice={judgement.lead.id}", KIND, None, None, None, provider,
            expected, judgement.invoiced, judgement.invoiced - expected, vi, en))
    return outcome


__all__ = ["KIND", "InvoiceOutcome", "InvoiceRow", "MonthJudgement", "covered_in_month",
           "judge_invoices", "month_end", "needed_months",
           "replacements"]
