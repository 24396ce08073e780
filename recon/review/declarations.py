"""The fee declarations (issue 18 §4): 01/PH and 01/LP for a month, 02/PH for a year.

For each collecting organisation: per fee (its tiểu mục and retention rate) the amount
collected, the retention rate and the share kept, the amount to remit, the amount remitted
(the C1-02/NS vouchers allocated to the collector, month and tiểu mục by
:mod:`recon.engine.remittances`) and the difference. The pure part (allocation of payments to
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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.engine import forward_load
from recon.engine.remittances import (
    Allocation,
    Key,
    RemittanceInputs,
    VoucherLine,
    VoucherTotal,
    discharge_lines,
    month_of,
    same_money,
    transfer_label,
)
from recon.engine.remittances import allocate as allocate_remittances
from recon.models import Agency, Dossier, FeeLine, Payment, Remittance, RemittanceLine
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
    split,
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
    remittances_recorded: bool = False  # any C1-02/NS voucher of the period's collectors

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
                out.update(remitted=r.remitted, remitted_by_receiver=r.remitted_by_receiver,
                       difference=r.difference)
            return out

        return {
            "period": self.period, "annual": self.annual, "regime": REGIME,
            "forms": list(self.forms), "agencies": self.agency_filter,
            "remittances_recorded": self.remittances_recorded,
            "payments_total": self.payments_total, "unallocated": self.unallocated,
            "collected": self.collected,
            "collectors": [{
                "code": d.code, "name": d.name, "received_elsewhere": d.received_elsewhere,
                "phi": [row(r) for r in d.phi], "le_phi": [row(r) for r in d.le_phi],
                "totals": {k: d.total(k) for k in (
                    "collected", "kept", "to_remit",
                    *(() if self.annual else ("remitted",)))},
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
    every collector), "remitted" from the vouchers allocated to the month."""
    first = month.replace(day=1)
    parts, unallocated, total = _month_parts(session, first, collectors)
    out = group(parts, _names(session))
    inputs = remittance_inputs(session)
    allocation = allocate_remittances(inputs.owed, inputs.counted)
    recorded = _fill_remitted(out, allocation, first)
    return Declaration(f"{month:%Y-%m}", False, out, unallocated, total,
                       list(collectors) if collectors is not None else None,
                       remittances_recorded=recorded or any(
                           ln.remitter in {d.code for d in out} for ln in inputs.lines))


def _fill_remitted(collectors: list[CollectorDeclaration], allocation: Allocation,
                   month: date) -> bool:
    """Each row's "remitted": the month's allocation to its collector and tiểu mục, spread
    over the sub-item's rows (several retention rates) in order, the rest on its last row;
    ``remitted_by_receiver`` likewise, what the receiving centre paid in itself."""
    found = False
    for decl in collectors:
        by_code: dict[str, list[DeclarationRow]] = {}
        for row in decl.rows:
            by_code.setdefault(row.budget_code, []).append(row)
        for code, rows in by_code.items():
            left = allocation.remitted.get((decl.code, code, month), 0)
            by_receiver = allocation.by_receiver.get((decl.code, code, month), 0)
            found = found or left > 0
            for row in rows:
                take = min(left, row.to_remit) if row is not rows[-1] else left
                row.remitted = take
                left -= take
                theirs = min(by_receiver, take) if row is not rows[-1] else by_receiver
                row.remitted_by_receiver = theirs
                by_receiver -= theirs
    return found


# --------------------------------------------------------------------------- remittances


def owed(session: Session, collectors: Sequence[str] | None = None) -> dict[Key, int]:
    """What each collector owes the budget per tiểu mục and month: the declarations' "to
    remit" (per row, as 01/PH and 01/LP compute it), for every month with payments.

    One query for every month at once (:data:`_COLLECTED`): each succeeded payment of a
    dossier covers the span of the dossier's fees after what its earlier payments covered
    (``paid_at``, then id), and each fee line its own span (by position), so a line's part of
    a payment is the overlap of the two spans -- what :func:`_month_parts` and
    :func:`recon.review.treasury.allocate` give payment by payment (held to them in
    tests/finance/test_owed_fast.py). The server sums the parts per month (Vietnam time),
    collector, kind, tiểu mục and retention rate; the split is then applied to each row's
    total, as :func:`recon.review.treasury.group` does."""
    rows: dict[tuple[date, str, str, str, int], int] = {}
    month_sql = _MONTH_PG if session.get_bind().dialect.name == "postgresql" else _MONTH_SQLITE
    for yyyymm, collector, kind, code, bp, collected in session.execute(
            text(_COLLECTED.replace("{MONTH}", month_sql))):
        if collectors is not None and collector not in collectors:
            continue
        key = (date(int(yyyymm) // 100, int(yyyymm) % 100, 1), str(collector), str(kind),
               code or "", 0 if kind == LE_PHI else int(bp or 0))
        rows[key] = rows.get(key, 0) + int(collected)
    out: dict[Key, int] = {}
    for (month, collector, kind, code, bp), collected in sorted(rows.items()):
        _kept, to_remit = split(collected, kind, bp)
        out[(collector, code, month)] = out.get((collector, code, month), 0) + to_remit
    return out


# Vietnam's month of a UTC timestamp as YYYYMM (VN_TZ is a fixed offset; SQLite keeps UTC text)
_VN_HOURS: Final = int((VN_TZ.utcoffset(None) or timedelta()).total_seconds()) // 3600
_MONTH_PG: Final = ("CAST(to_char((p.paid_at AT TIME ZONE 'UTC') + "
                    f"interval '{_VN_HOURS} hours', 'YYYYMM') AS INTEGER)")
_MONTH_SQLITE: Final = f"CAST(strftime('%Y%m', p.paid_at, '+{_VN_HOURS} hours') AS INTEGER)"
_COLLECTED: Final = """
SELECT x.month, x.collector, x.kind, x.budget_code, x.retention_bp, SUM(x.part)
FROM (SELECT p.month, COALESCE(f.collector_code, p.receiver) AS collector, f.kind,
             f.budget_code, f.retention_bp,
             (CASE WHEN p.upto < f.upto THEN p.upto ELSE f.upto END)
             - (CASE WHEN p.upto - p.amount > f.upto - f.amount THEN p.upto - p.amount
                     ELSE f.upto - f.amount END) AS part
      FROM (SELECT p.dossier_id, p.amount, {MONTH} AS month, a.code AS receiver,
                   CAST(SUM(p.amount) OVER (PARTITION BY p.dossier_id ORDER BY p.paid_at, p.id
                                            ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto
            FROM payments p
            JOIN dossiers d ON d.id = p.dossier_id
            JOIN agencies a ON a.id = d.agency_id
            WHERE p.status = 'succeeded' AND p.paid_at IS NOT NULL) p
      JOIN (SELECT f.dossier_id, f.amount, f.kind, f.budget_code, f.retention_bp,
                   f.collector_code,
                   CAST(SUM(f.amount) OVER (PARTITION BY f.dossier_id ORDER BY f.position
                                            ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto
            FROM fee_lines f) f
        ON f.dossier_id = p.dossier_id AND f.upto - f.amount < p.upto
       AND p.upto - p.amount < f.upto) x
WHERE x.part > 0
GROUP BY x.month, x.collector, x.kind, x.budget_code, x.retention_bp
"""


def voucher_lines(session: Session, collectors: Sequence[str] | None = None
                  ) -> list[VoucherLine]:
    """Every C1-02/NS voucher line, with the month it names: its kỳ thuế, else its dossier's
    first succeeded payment's Vietnam month, else None (allocated oldest first)."""
    query = (select(RemittanceLine.id, Remittance.voucher_no, Remittance.voucher_date,
                    Remittance.remitter_code, RemittanceLine.budget_code,
                    RemittanceLine.amount, RemittanceLine.period, RemittanceLine.position,
                    RemittanceLine.dossier_code)
             .join(Remittance, Remittance.id == RemittanceLine.remittance_id))
    if collectors is not None:
        query = query.where(Remittance.remitter_code.in_(collectors))
    rows = session.execute(query).all()
    codes = {r[8] for r in rows if r[8]}
    paid: dict[str, date] = {}
    if codes:
        for code, at in session.execute(
                select(Dossier.code, func.min(Payment.paid_at))
                .join(Payment, Payment.dossier_id == Dossier.id)
                .where(Dossier.code.in_(sorted(codes)), Payment.status == "succeeded")
                .group_by(Dossier.code)):
            if at is not None:
                paid[code] = month_of(at.astimezone(VN_TZ).date())
    return [VoucherLine(int(i), no, on, who, code, int(amount),
                        period or (paid.get(dossier) if dossier else None), int(pos))
            for i, no, on, who, code, amount, period, pos, dossier in rows]


def voucher_totals(session: Session) -> list[VoucherTotal]:
    """Every voucher's total and bank reference (for :func:`~recon.engine.remittances.
    same_money`)."""
    return [VoucherTotal(no, on, who, int(total or 0), ref) for no, on, who, ref, total in
            session.execute(
                select(Remittance.voucher_no, Remittance.voucher_date, Remittance.remitter_code,
                       Remittance.bank_reference, func.sum(RemittanceLine.amount))
                .join(RemittanceLine, RemittanceLine.remittance_id == Remittance.id)
                .group_by(Remittance.id, Remittance.voucher_no, Remittance.voucher_date,
                          Remittance.remitter_code, Remittance.bank_reference))]


def remittance_inputs(session: Session, owed_amounts: Mapping[Key, int] | None = None
                      ) -> RemittanceInputs:
    """What the remittance pass judges (every collector, every month): what is owed, the
    vouchers, and the lệ phí the receiving centres paid into the budget themselves (their
    transfers, allocated by the forwarding pass), a voucher recording such a transfer being
    counted once, through the transfer (docs/remittances.md). ``owed_amounts``: what is owed
    when the caller has it already (a run: :mod:`recon.review.owed_store`); else
    :func:`owed`."""
    agencies = session.execute(select(Agency.code, Agency.id, Agency.name)).all()
    discharges, transfers = forward_load.budget_paid(session.connection())
    labels = {t.id: transfer_label(t.reference, t.receiver) for t in transfers}
    same = same_money(voucher_totals(session), transfers)
    return RemittanceInputs(owed(session) if owed_amounts is None else owed_amounts,
                            voucher_lines(session),
                            {c: int(i) for c, i, _n in agencies},
                            {c: f"{c} – {n}" for c, _i, n in agencies},
                            discharge_lines(discharges),
                            {no: labels[tid] for no, tid in same.items()})


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
