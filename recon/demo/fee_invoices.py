"""The demo quarter's fee invoices (issue 17 §1–§2): each subscription provider's monthly
invoice, billed apart, asking exactly what its contract expects for the month
(:func:`recon.contracts.invoices.expected_charge` over the month's payments), and one invoice
VNPay or MoMo **deducted** from a payout: the demo's first short payout credit of those two
providers (``recon.demo.payments.PAYOUT_SHORT`` short, a planned ``payout_mismatch``) is short
by exactly this invoice, so the run names it as the difference instead of leaving it
unexplained; the count of findings is unchanged.

One planned fault (:data:`INVOICE_FAULTS`): SePay's invoice for the quarter's second month asks
:data:`OVERCHARGE` more than its contract's charge, one ``fee_invoice_mismatch``.

Deterministic; a second seeding adds nothing. The amounts are the demo contracts' figures
(recon/data/fee_contracts.toml), not any provider's price.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import func, select

from recon.clock import VN_TZ, Clock
from recon.contracts import ContractBook, divide, load_contracts
from recon.contracts.invoices import InvoiceIn, expected_charge
from recon.db import Database
from recon.demo.payments import PAYOUT_SHORT
from recon.engine.payout_load import read_window
from recon.models import FeeInvoice, Payment
from recon.settlements.fee_invoices import store_invoices
from recon.settlements.payouts import payout_config

PREFIX: Final = "DEMO-HD"
DEDUCTING: Final = ("vnpay", "momo")  # who may take the demo's invoice off a payout
#: the planned fee invoice faults: one subscription month invoiced above its contract
INVOICE_FAULTS: Final = {"fee_invoice_mismatch": 1}
OVERCHARGE: Final = 22_000
OVERCHARGED: Final = "sepay"  # whose second month of the quarter is overcharged


def _vat_of(amount: int) -> int:
    """The 10 % VAT inside a VAT-inclusive amount (demo: the contracts include VAT)."""
    return divide(amount * 1_000, 11_000, "half_up")


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def subscription_invoices(db: Database, book: ContractBook, months: list[date]
                          ) -> list[InvoiceIn]:
    """One invoice per subscription contract with a price and month, billed on the 1st of the
    next month, asking what the contract expects."""
    out: list[InvoiceIn] = []
    with db.read() as s:
        for position, month in enumerate(months):
            start = datetime.combine(month, time(), VN_TZ)
            end = datetime.combine(_next_month(month), time(), VN_TZ)
            for contract in book.contracts:
                if contract.kind != "subscription" or not contract.monthly_vnd or not (
                        contract.covers(contract.provider, "*", month)):
                    continue
                count = int(s.scalar(select(func.count()).select_from(Payment).where(
                    Payment.provider == contract.provider,
                    Payment.status.in_(("succeeded", "refunded")),
                    Payment.paid_at >= start, Payment.paid_at < end)) or 0)
                amount = expected_charge(contract, count)
                if position == 1 and contract.provider == OVERCHARGED:
                    amount += OVERCHARGE  # the planned fee_invoice_mismatch
                out.append(InvoiceIn(
                    contract.provider, f"{PREFIX}-{contract.provider.upper()}-{month:%Y%m}",
                    _next_month(month), month, amount, "billed", _vat_of(amount),
                    f"Demo: phí thuê bao {contract.provider} tháng {month:%m/%Y}"))
    return out


def deducted_invoice(db: Database, low: date, high: date) -> InvoiceIn | None:
    """The invoice a planned short payout credit of VNPay or MoMo lacks (its first one)."""
    config = payout_config({})
    as_of = datetime.combine(high + timedelta(days=31), time(), VN_TZ).astimezone(UTC)
    with db.read() as s:
        outcome = read_window(s.connection(), config=config, as_of=as_of, low=low, high=high)
    short = sorted((m for m in outcome.matches
                    if m.provider in DEDUCTING and m.named == "unexplained"
                    and m.difference == -PAYOUT_SHORT),
                   key=lambda m: (m.credit.booked_on, m.credit.id))
    if not short:
        return None
    match = short[0]
    month = match.batches[0].session_on.replace(day=1)
    return InvoiceIn(match.provider, f"{PREFIX}-{match.provider.upper()}-{month:%Y%m}-TS",
                     match.batches[0].session_on, month, PAYOUT_SHORT, "deducted",
                     _vat_of(PAYOUT_SHORT),
                     "Demo: phí tra soát, nhà cung cấp trừ vào tiền chuyển về")


def seed_fee_invoices(db: Database, clock: Clock, *, year: int, quarter: int) -> int:
    """Record the demo quarter's invoices (none when some are there already); how many."""
    months = [date(year, 3 * quarter - 2 + i, 1) for i in range(3)]
    with db.read() as s:
        if s.scalar(select(FeeInvoice.id).where(FeeInvoice.number.like(f"{PREFIX}-%"))
                    .limit(1)) is not None:
            return 0
    invoices = subscription_invoices(db, load_contracts(None), months)
    deducted = deducted_invoice(db, months[0], _next_month(months[-1]) - timedelta(days=1))
    if deducted is not None:
        invoices.append(deducted)
    with db.transaction() as s:
        return len(store_invoices(s, clock, invoices, actor="demo"))


__all__ = ["INVOICE_FAULTS", "OVERCHARGE", "OVERCHARGED", "deducted_invoice",
           "seed_fee_invoices", "subscription_invoices"]
