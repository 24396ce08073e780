"""The fee declarations (issue 18 §4): 01/PH and 01/LP for a month, 02/PH for a year.

For each collecting organisation: per fee (its tiểu mục and retention rate) the amount
collected, the retention rate and the share kept, the amount to remit, the amount remitted (0
until the remittance leg exists) and the difference. The pure part (allocation of payments to
fee lines, the split, the grouping) is :mod:`recon.review.treasury`; this module only reads.

*Collected* is money, not assessment: the **succeeded** payments matched to a dossier whose
``paid_at`` falls in the period (Vietnam time), the daily report's ``succeeded_amount``, spread
over the dossier's fee lines in order after what earlier payments covered. What exceeds a
dossier's fees, and payments matched to no dossier, are *unallocated*: together with the
collected total they give back the days' sum (tests/finance/test_declarations.py).

The caller's agencies are a parameter (``collectors``): every query takes it, so agency scoping
filters the declarations the same way as every other report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recon.models import Agency, Dossier, FeeLine, Payment
from recon.review.reports import vn_month_window
from recon.review.treasury import (
    LE_PHI,
    PHI,
    Collected,
    CollectorDeclaration,
    DeclarationRow,
    Line,
    PaymentSplit,
    allocate,
    group,
    split_payment,
)

FORM_PHI = "01/PH"
FORM_LE_PHI = "01/LP"
FORM_ANNUAL = "02/PH"
#: the column set's regime (LEGS B.5): Circular 80/2021/TT-BTC; 89/2026 keeps 01/PH and 01/LP
REGIME = "TT80/2021"


@dataclass
class Declaration:
    """One period's declarations, every collector in ``collectors`` (all when None)."""

    period: str  # "2021-03" or "2021"
    annual: bool
    collectors: list[CollectorDeclaration]
    unallocated: int  # of the payments considered (in excess of fees, or matched to none)
    payments_total: int  # the succeeded payments of the period considered
    agency_filter: list[str] | None = None
    forms: tuple[str, ...] = field(default=(FORM_PHI, FORM_LE_PHI))

    @property
    def collected(self) -> int:
        return sum(d.total("collected") for d in self.collectors)

    def as_dict(self) -> dict[str, Any]:
        def row(r: DeclarationRow) -> dict[str, Any]:
            out: dict[str, Any] = {
                "kind": r.kind, "budget_code": r.budget_code, "fees": r.names,
                "collected": r.collected, "retention_bp": r.retention_bp, "kept": r.kept,
                "to_remit": r.to_remit}
            if self.annual:
                out.update(declared=r.declared, difference=r.settlement_difference)
            else:
                out.update(remitted=r.remitted, difference=r.difference)
            return out

        return {
            "period": self.period, "annual": self.annual, "regime": REGIME,
            "forms": list(self.forms), "agencies": self.agency_filter,
            "remittances_recorded": False,
            "payments_total": self.payments_total, "unallocated": self.unallocated,
            "collected": self.collected,
            "collectors": [{
                "code": d.code, "name": d.name, "received_elsewhere": d.received_elsewhere,
                "phi": [row(r) for r in d.phi], "le_phi": [row(r) for r in d.le_phi],
                "totals": {k: d.total(k) for k in ("collected", "kept", "to_remit")},
            } for d in self.collectors],
        }


def _month_parts(session: Session, month: date, collectors: Sequence[str] | None
                 ) -> tuple[list[Collected], int, int]:
    """The allocated parts of the month's payments, the unallocated rest, and the total."""
    start, end = vn_month_window(month)
    in_month = (Payment.status == "succeeded", Payment.paid_at >= start, Payment.paid_at < end)
    total = int(session.scalar(select(func.coalesce(func.sum(Payment.amount), 0))
                               .where(*in_month)) or 0)
    unmatched = int(session.scalar(select(func.coalesce(func.sum(Payment.amount), 0))
                                   .where(*in_month, Payment.dossier_id.is_(None))) or 0)
    collector = func.coalesce(FeeLine.collector_code, Agency.code)
    dossiers = (select(Payment.dossier_id).where(*in_month, Payment.dossier_id.is_not(None))
                .distinct())
    if collectors is not None:
        dossiers = dossiers.where(Payment.dossier_id.in_(
            select(FeeLine.dossier_id).join(Dossier, Dossier.id == FeeLine.dossier_id)
            .join(Agency, Agency.id == Dossier.agency_id).where(collector.in_(collectors))))
    wanted = dossiers.subquery()
    lines: dict[int, tuple[str, list[Line]]] = {}
    for dossier_id, receiver, amount, kind, bp, code, who, name in session.execute(
            select(Dossier.id, Agency.code, FeeLine.amount, FeeLine.kind,
                   FeeLine.retention_bp, FeeLine.budget_code, collector, FeeLine.name)
            .join(Agency, Agency.id == Dossier.agency_id)
            .join(FeeLine, FeeLine.dossier_id == Dossier.id)
            .where(Dossier.id.in_(select(wanted)))
            .order_by(Dossier.id, FeeLine.position)):
        lines.setdefault(dossier_id, (receiver, []))[1].append(
            Line(int(amount), kind, bp, code, who, name))
    covered: dict[int, int] = {int(k): int(v) for k, v in session.execute(
        select(Payment.dossier_id, func.sum(Payment.amount))
        .where(Payment.status == "succeeded", Payment.paid_at < start,
               Payment.dossier_id.in_(select(wanted)))
        .group_by(Payment.dossier_id)) if k is not None}
    parts: list[Collected] = []
    unallocated = unmatched if collectors is None else 0
    considered = unmatched if collectors is None else 0
    for dossier_id_or_none, amount in session.execute(
            select(Payment.dossier_id, Payment.amount)
            .where(*in_month, Payment.dossier_id.in_(select(wanted)))
            .order_by(Payment.dossier_id, Payment.paid_at, Payment.id)):
        dossier_id = int(dossier_id_or_none or 0)
        receiver, its_lines = lines.get(dossier_id, ("", []))
        shares, left = allocate(its_lines, covered.get(dossier_id, 0), int(amount))
        covered[dossier_id] = covered.get(dossier_id, 0) + int(amount)
        unallocated += left
        considered += int(amount)
        for line, part in zip(its_lines, shares, strict=True):
            if part and (collectors is None or line.collector in collectors):
                parts.append(Collected(line.collector, receiver, line.kind, line.budget_code,
                                       line.retention_bp, line.name, part))
    return parts, unallocated, total if collectors is None else considered


def payment_split(session: Session, payment_id: int) -> PaymentSplit | None:
    """One succeeded payment's money from its receiver's side: to forward, to keep, to remit,
    and what no fee line takes (None for a payment that is not a succeeded one of a dossier)."""
    payment = session.get(Payment, payment_id)
    if payment is None or payment.status != "succeeded" or payment.dossier_id is None:
        return None
    receiver = session.scalar(select(Agency.code).join(Dossier, Dossier.agency_id == Agency.id)
                              .where(Dossier.id == payment.dossier_id)) or ""
    lines = [Line(int(a), k, bp, code, who or receiver, name)
             for a, k, bp, code, who, name in session.execute(
                 select(FeeLine.amount, FeeLine.kind, FeeLine.retention_bp, FeeLine.budget_code,
                        FeeLine.collector_code, FeeLine.name)
                 .where(FeeLine.dossier_id == payment.dossier_id).order_by(FeeLine.position))]
    earlier = (Payment.paid_at < payment.paid_at) | (
        (Payment.paid_at == payment.paid_at) & (Payment.id < payment.id))
    before = int(session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.dossier_id == payment.dossier_id, Payment.status == "succeeded", earlier)) or 0)
    return split_payment(lines, before, int(payment.amount), receiver)


def _names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Agency.code, Agency.name)).all())


def monthly(session: Session, month: date, *, collectors: Sequence[str] | None = None
            ) -> Declaration:
    """01/PH and 01/LP of ``month`` for each collector (``collectors``: agency codes; None:
    every collector)."""
    parts, unallocated, total = _month_parts(session, month.replace(day=1), collectors)
    return Declaration(f"{month:%Y-%m}", False, group(parts, _names(session)), unallocated,
                       total, list(collectors) if collectors is not None else None)


def annual(session: Session, year: int, *, collectors: Sequence[str] | None = None
           ) -> Declaration:
    """02/PH of ``year``: phí only, the split applied to the year's total per fee, with
    column (8) the sum of what the twelve months declared to remit and (9) the difference."""
    every: list[Collected] = []
    declared: dict[tuple[str, str, int], int] = {}
    unallocated = total = 0
    for m in range(1, 13):
        parts, left, paid = _month_parts(session, date(year, m, 1), collectors)
        phi = [p for p in parts if p.kind == PHI]
        every += phi
        unallocated += left
        total += paid
        for decl in group(phi, {}):
            for r in decl.phi:
                key = (decl.code, r.budget_code, r.retention_bp)
                declared[key] = declared.get(key, 0) + r.to_remit
    collectors_out = group(every, _names(session))
    for decl in collectors_out:
        for r in decl.phi:
            r.declared = declared.get((decl.code, r.budget_code, r.retention_bp), 0)
    return Declaration(str(year), True, collectors_out, unallocated, total,
                       list(collectors) if collectors is not None else None,
                       forms=(FORM_ANNUAL,))


# --------------------------------------------------------------------------- table form

#: the columns of the table exports (English keys, translated by the caller)
MONTHLY_HEADER = ("Collecting organisation", "Form", "Fee", "Budget sub-item", "Amount collected",
                  "Retention rate (%)", "Kept", "To remit", "Remitted", "Difference")
ANNUAL_HEADER = ("Collecting organisation", "Form", "Fee", "Budget sub-item", "Amount collected",
                 "Retention rate (%)", "Kept", "To remit", "Declared in the months",
                 "Difference")
AMOUNT_COLUMNS = frozenset({4, 6, 7, 8, 9})


def percent(bp: int) -> str:
    """``5000`` -> ``"50"``, ``3750`` -> ``"37,5"`` (Vietnamese decimal comma)."""
    whole, rest = divmod(bp, 100)
    return f"{whole}" if not rest else f"{whole},{rest:02d}".rstrip("0")


def table_rows(decl: Declaration) -> Iterator[list[Any]]:
    """One row per fee per collector, then the collector's total; figures as integers."""
    for d in decl.collectors:
        label = f"{d.code} – {d.name}"
        for r in d.rows:
            form = FORM_ANNUAL if decl.annual else FORM_PHI if r.kind == PHI else FORM_LE_PHI
            last = r.declared if decl.annual else r.remitted
            diff = r.settlement_difference if decl.annual else r.difference
            yield [label, form, "; ".join(r.names), r.budget_code, r.collected,
                   percent(r.retention_bp) if r.kind != LE_PHI else "0", r.kept, r.to_remit,
                   last, diff]
        yield [label, "", "Σ", "", d.total("collected"), "", d.total("kept"),
               d.total("to_remit"), d.total("declared" if decl.annual else "remitted"),
               d.total("to_remit") - d.total("declared" if decl.annual else "remitted")]


def parse_month(text: str) -> date:
    """``YYYY-MM`` -> the first day of that month; ValueError saying what to type."""
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m").date()  # noqa: DTZ007 - a date
    except ValueError:
        raise ValueError(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2021-03") from None
    if not 2000 <= parsed.year <= 2100:
        raise ValueError("the year must be within 2000..2100")
    return parsed
