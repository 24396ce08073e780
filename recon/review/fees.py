"""Fees charged against the fee contracts, per provider and month (the finance fees page).

Each settlement line is judged as the engine judges it (:mod:`recon.contracts`): the contract
of its provider and its payment's method on the transaction's date, a tiered contract by the
line's place in its month's count (lines in transaction order), the foreign-card surcharge by
the payment's card; the month shown is the month the line was settled (Vietnam calendar). The
expected fee is summed line by line, since the contract's rounding applies to each
transaction. Those are sale lines; refund lines (kind ``refund``) are priced apart by
:func:`refund_fees_by_month` against the contract's refund fee, as the run judges them.

The providers billed by subscription (payOS, SePay, Casso) deduct nothing from a line: their
month is priced by the contract (:func:`recon.contracts.invoices.expected_charge`: the package
plus the overage per transaction above what it includes, counted over the provider's succeeded
and refunded payments paid that month, Vietnam time) and set against the fee invoices recorded
for that month (:func:`subscriptions_by_month`), whether billed apart or deducted from a payout.
An invoice another one replaces (``fee_invoices.replaces``) no longer counts; it is listed as
replaced. Each month's ``fee_invoice_mismatch`` (the run's fee invoice pass,
:mod:`recon.engine.fee_invoices`) is linked from its row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.contracts import ContractBook, MonthCounter
from recon.contracts.invoices import expected_charge
from recon.contracts.model import judge
from recon.engine.fee_invoices import KIND as INVOICE_KIND
from recon.engine.fee_invoices import InvoiceRow, covered_in_month, replacements
from recon.models import Discrepancy, FeeInvoice, Payment, SettlementLine
from recon.scope import ALL, Scope, line_condition, payment_condition


@dataclass
class FeeRow:
    month: date
    provider: str
    lines: int = 0
    gross: int = 0
    charged: int = 0
    expected: int = 0
    covered: int = 0  # lines a contract covers (the others count in charged, not expected)
    mismatched: int = 0  # beyond the contract's tolerance
    charged_covered: int = 0  # what those covered lines were charged
    contracts: list[str] = field(default_factory=list)

    @property
    def difference(self) -> int:
        """Charged minus expected, over the lines a contract covers."""
        return self.charged_covered - self.expected


def latest_year(session: Session, default: int) -> int:
    last = session.scalar(select(func.max(SettlementLine.settled_on)))
    return last.year if last is not None else default


def fees_by_month(session: Session, book: ContractBook, year: int,
                  scope: Scope = ALL) -> list[FeeRow]:
    """One row per (month, provider) of ``year``'s settled sale lines that ``scope`` sees (a
    line settling one of its agencies' payments), in month then provider order. Refund lines
    are left out: their fee is a refund fee (the run's ``fee_mismatch`` judges it)."""
    q = (select(SettlementLine.provider, SettlementLine.amount, SettlementLine.fee,
                SettlementLine.settled_on, SettlementLine.transaction_at, Payment.method,
                Payment.card_foreign, Payment.paid_at, Payment.status)
         .outerjoin(Payment, and_(Payment.provider == SettlementLine.provider,
                                  Payment.provider_txn_id == SettlementLine.provider_txn_id))
         .where(SettlementLine.settled_on >= date(year, 1, 1),
                SettlementLine.settled_on < date(year + 1, 1, 1))
         .order_by(func.coalesce(SettlementLine.transaction_at, Payment.paid_at),
                   SettlementLine.id))
    q = q.where(SettlementLine.kind == "sale")  # refund fees: judged by the run (0032)
    if not scope.is_all:
        q = q.where(line_condition(scope))
    rows: dict[tuple[date, str], FeeRow] = {}
    counter = MonthCounter()
    for provider, gross, fee, settled_on, at, method, foreign, paid_at, status in \
            session.execute(q):
        row = _count_line(rows, provider, settled_on, gross, fee)
        when = at or paid_at
        day = when.astimezone(VN_TZ).date() if when is not None else settled_on
        contract = book.find(provider, method, day)
        if contract is None:
            continue
        # the engine counts the lines of succeeded payments (a lower bound of the month's)
        count = counter.next(contract, day) if status == "succeeded" else 0
        check = judge(contract, int(gross), int(fee), count=count,
                      foreign=None if foreign is None else bool(foreign), method=method)
        row.covered += 1
        row.charged_covered += int(fee)
        row.expected += check.expected
        row.mismatched += 0 if check.ok else 1
        if check.contract.id not in row.contracts:
            row.contracts.append(check.contract.id)
    return [rows[k] for k in sorted(rows)]


def _count_line(rows: dict[tuple[date, str], FeeRow], provider: str, settled_on: date,
                gross: int, fee: int) -> FeeRow:
    """The row of the line's settlement month and provider (made when new), the line counted
    in it with its gross and the fee charged."""
    month = settled_on.replace(day=1)
    row = rows.get((month, provider))
    if row is None:
        row = rows[(month, provider)] = FeeRow(month, provider)
    row.lines += 1
    row.gross += int(gross)
    row.charged += int(fee)
    return row


def refund_fees_by_month(session: Session, book: ContractBook, year: int,
                         scope: Scope = ALL) -> list[FeeRow]:
    """One row per (month, provider) of ``year``'s settled refund lines, as the run judges
    their fee (:func:`recon.engine.core.detect_fee_mismatch`): each against
    :meth:`~recon.contracts.model.Contract.refund_fee` of the refunded amount, by the contract
    of its provider and its sale's payment method (the payment of the line's
    ``original_txn_id``, else of its own id; unknown: ``"*"`` only) on the refund's Vietnam
    date (its ``transaction_at``, else its ``settled_on``), within the contract's tolerance.
    ``gross`` is the amount refunded, ``charged`` the refund fees charged. The run raises a
    ``fee_mismatch`` for a refund of a *refunded* payment only (another is a
    ``status_mismatch`` or an ``unexpected_settlement``); here every refund line a contract
    covers is priced. ``scope`` sees a refund line whose sale's payment it sees."""
    sale_id = func.coalesce(SettlementLine.original_txn_id, SettlementLine.provider_txn_id)
    q = (select(SettlementLine.provider, SettlementLine.amount, SettlementLine.fee,
                SettlementLine.settled_on, SettlementLine.transaction_at, Payment.method)
         .outerjoin(Payment, and_(Payment.provider == SettlementLine.provider,
                                  Payment.provider_txn_id == sale_id))
         .where(SettlementLine.kind == "refund",
                SettlementLine.settled_on >= date(year, 1, 1),
                SettlementLine.settled_on < date(year + 1, 1, 1))
         .order_by(SettlementLine.id))
    if not scope.is_all:
        q = q.where(Payment.id.is_not(None), payment_condition(scope))
    rows: dict[tuple[date, str], FeeRow] = {}
    for provider, gross, fee, settled_on, at, method in session.execute(q):
        row = _count_line(rows, provider, settled_on, gross, fee)
        day = at.astimezone(VN_TZ).date() if at is not None else settled_on
        contract = book.find(provider, method, day)
        if contract is None:
            continue
        expected = contract.refund_fee(int(gross))
        row.covered += 1
        row.charged_covered += int(fee)
        row.expected += expected
        row.mismatched += 0 if abs(int(fee) - expected) <= contract.tolerance_vnd else 1
        if contract.id not in row.contracts:
            row.contracts.append(contract.id)
    return [rows[k] for k in sorted(rows)]


@dataclass
class SubscriptionRow:
    """One provider's month: what its subscription contract expects (``None``: no
    subscription contract covers it) against what its invoices ask."""

    month: date
    provider: str
    contract: str | None = None
    transactions: int = 0
    included: int = 0
    expected: int | None = None
    invoiced: int = 0
    invoices: list[tuple[str, str]] = field(default_factory=list)  # (number, charged_as)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (number, replaced by)
    invoice_ids: list[int] = field(default_factory=list)  # in force, by id
    finding: tuple[int, str] | None = None  # its fee_invoice_mismatch: (id, status)
    covered: bool = True  # some contract of the provider is in force in the month

    @property
    def difference(self) -> int | None:
        """Invoiced minus expected (``None`` without a subscription contract)."""
        return None if self.expected is None else self.invoiced - self.expected


def _month_start(month: date) -> datetime:
    return datetime.combine(month, time(), VN_TZ)


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def subscriptions_by_month(session: Session, book: ContractBook, year: int
                           ) -> list[SubscriptionRow]:
    """One row per (month, provider) of ``year`` with a subscription contract in force and
    payments that month, or with fee invoices for that month; in month then provider order.
    The whole deployment's (an invoice is the centre's, not an agency's)."""
    months = [date(year, m, 1) for m in range(1, 13)]
    subscribed = sorted({c.provider for c in book.contracts if c.kind == "subscription"})
    rows: dict[tuple[date, str], SubscriptionRow] = {}
    for month in months:
        if not subscribed:
            break
        counted = session.execute(
            select(Payment.provider, func.count())
            .where(Payment.provider.in_(subscribed),
                   Payment.status.in_(("succeeded", "refunded")),
                   Payment.paid_at >= _month_start(month),
                   Payment.paid_at < _month_start(_next_month(month)))
            .group_by(Payment.provider))
        for provider, count in counted:
            rows[(month, provider)] = SubscriptionRow(month, provider, transactions=int(count))
    invoices = session.execute(
        select(FeeInvoice.period, FeeInvoice.provider, FeeInvoice.number, FeeInvoice.amount,
               FeeInvoice.charged_as, FeeInvoice.id, FeeInvoice.replaces)
        .where(FeeInvoice.period >= months[0], FeeInvoice.period <= months[-1])
        .order_by(FeeInvoice.period, FeeInvoice.provider, FeeInvoice.number)).all()
    gone = replacements(InvoiceRow(int(r[5]), r[1], r[2], r[0], int(r[3]), r[6])
                        for r in invoices)
    for period, provider, number, amount, charged_as, invoice_id, _replaces in invoices:
        row = rows.setdefault((period, provider), SubscriptionRow(period, provider))
        if invoice_id in gone:
            row.replaced.append((number, gone[invoice_id].number))
            continue
        row.invoiced += int(amount)
        row.invoices.append((number, charged_as))
        row.invoice_ids.append(int(invoice_id))
    leads = {f"{INVOICE_KIND}:fee_invoice={min(r.invoice_ids)}": r
             for r in rows.values() if r.invoice_ids}
    if leads:
        for did, identity, status in session.execute(
                select(Discrepancy.id, Discrepancy.identity, Discrepancy.status)
                .where(Discrepancy.identity.in_(sorted(leads)))):
            leads[identity].finding = (int(did), status)
    for (month, provider), row in list(rows.items()):
        row.covered = covered_in_month(book, provider, month)
        contract = book.find(provider, "*", month)  # the contract in force on the 1st
        if contract is None or contract.kind != "subscription":
            if not row.invoices:  # no contract and nothing billed: nothing to show
                del rows[(month, provider)]
            continue
        row.contract = contract.id
        row.included = contract.included_transactions
        row.expected = expected_charge(contract, row.transactions)
    return [rows[k] for k in sorted(rows)]


def invoice_month(session: Session, book: ContractBook, identity: str
                  ) -> tuple[SubscriptionRow, list[FeeInvoice]] | None:
    """The month a ``fee_invoice_mismatch`` is about (its row as the fees page shows it) and
    every invoice of that provider and month, replaced ones included; None when its invoice is
    gone."""
    _kind, _sep, rest = identity.partition(":fee_invoice=")
    if not (rest.isascii() and rest.isdigit()):
        return None
    invoice = session.get(FeeInvoice, int(rest))
    if invoice is None:
        return None
    row = next((r for r in subscriptions_by_month(session, book, invoice.period.year)
                if r.provider == invoice.provider and r.month == invoice.period), None)
    if row is None:
        return None
    its = list(session.scalars(select(FeeInvoice).where(
        FeeInvoice.provider == invoice.provider, FeeInvoice.period == invoice.period)
        .order_by(FeeInvoice.id)))
    return row, its


__all__ = ["FeeRow", "SubscriptionRow", "fees_by_month", "invoice_month", "latest_year",
           "refund_fees_by_month", "subscriptions_by_month"]
