
"""The run's fee invoice pass: read every fee invoice and the transactions of each judged
subscription month, judge them (the pure :mod:`recon.engine.fee_invoices`) and fold
``fee_invoice_mismatch`` into the run's result.

Every run, full or incremental, reads all the invoices (a handful a month) and counts the
payments of the months they bill, so an incremental run finds and resolves exactly what a
full run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, bindparam, text

from recon.clock import VN_TZ
from recon.contracts.model import ContractBook
from recon.db import UTCDateTime
from recon.engine.core import Reconciliation, WithPass
from recon.engine.fee_invoices import (
    KIND,
    InvoiceOutcome,
    InvoiceRow,
    judge_invoices,
    month_end,
    needed_months,
)

_INVOICES = ("SELECT id, provider, number, period, amount, replaces FROM fee_invoices "
             "ORDER BY id")
_COUNT = ("SELECT COUNT(*) FROM payments WHERE provider = :provider "
          "AND status IN ('succeeded', 'refunded') AND paid_at >= :start AND paid_at < :end")
_OPEN = "SELECT identity FROM discrepancies WHERE status = 'open' AND kind IN :kinds"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), VN_TZ)


def read_invoices(conn: Connection) -> list[InvoiceRow]:
    out: list[InvoiceRow] = []
    for id_, provider, number, period, amount, replaces in conn.execute(text(_INVOICES)):
        day = period if isinstance(period, date) else date.fromisoformat(str(period))
        out.append(InvoiceRow(int(id_), provider, number, day, int(amount), replaces))
    return out


def count_payments(conn: Connection, provider: str, month: date) -> int:
    """The provider's succeeded and refunded payments paid in ``month`` (Vietnam time)."""
    query = text(_COUNT).bindparams(bindparam("start", type_=UTCDateTime()),
                                    bindparam("end", type_=UTCDateTime()))
    return int(conn.execute(query, {
        "provider": provider, "start": _start(month),
        "end": _start(month_end(month) + timedelta(days=1))}).scalar() or 0)


def outcome(conn: Connection, book: ContractBook) -> InvoiceOutcome:
    """Read and judge; nothing is written (the fees page uses this too)."""
    invoices = read_invoices(conn)
    counts = {key: count_payments(conn, *key) for key in needed_months(invoices, book)}
    return judge_invoices(invoices, counts, book)


class FeeInvoiceReconciliation(WithPass):
    """A run's result with its fee invoice findings added: the pass reads every invoice, so it
    judged every ``fee_invoice_mismatch`` identity."""

    __slots__ = ("fee_invoices",)

    def __init__(self, base: Reconciliation, found: InvoiceOutcome) -> None:
        super().__init__(base, sorted([*base.discrepancies, *found.findings],
                                      key=lambda d: d.identity))
        self.fee_invoices = found

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        return True if kind == KIND else None


class FeeInvoicePass:
    """One run's fee invoice pass."""

    def __init__(self, found: InvoiceOutcome, previous_open: list[str]) -> None:
        self.outcome = found
        self.previous_open = previous_open

    def apply(self, result: Reconciliation) -> FeeInvoiceReconciliation:
        return FeeInvoiceReconciliation(result, self.outcome)

    def previous(self, loaded: Sequence[str]) -> list[str]:
        return sorted({*loaded, *self.previous_open})


def prepare(conn: Connection, book: ContractBook) -> FeeInvoicePass:
    found = outcome(conn, book)
    opened = conn.execute(text(_OPEN).bindparams(bindparam("kinds", expanding=True)),
                          {"kinds": [KIND]}).scalars().all()
    return FeeInvoicePass(found, list(opened))


__all__ = ["FeeInvoicePass", "FeeInvoiceReconciliation", "count_payments", "outcome",
           "prepare", "read_invoices"]
