"""Figures for finance: dashboard, daily summary, quarterly report, outstanding dossiers.

Every function here is a read: set-based SQL (``GROUP BY``, ``EXISTS``, ``COUNT(DISTINCT)``),
never a loop over rows in Python, so the figures stay fast at hundreds of thousands of rows.
Money is an ``int`` of VND everywhere; shares are integers too (basis points, 1/100 of a
percent, and a rounded whole percent for display).

Time windows are Vietnam calendar days (UTC+7): "today" is 00:00–24:00 in Huế, "this month"
from the 1st, a quarter from the 1st of its first month. They are turned into UTC instants once
and compared with the UTC timestamps the database holds (indexes stay usable).

Definitions (the quarterly report, as centres publish it)
---------------------------------------------------------
- *received*: dossiers whose ``received_at`` falls in the quarter; *received online*: those
  with ``received_channel = 'online'``.
- *paid*: distinct dossiers with at least one **succeeded** payment, matched to the dossier,
  whose ``paid_at`` falls in the quarter (a payment for a dossier received in the previous
  quarter counts where the money moved).
- *paid cashless*: distinct dossiers paid, as above, by a channel other than ``cash``; the
  *amount* is the sum of those succeeded cashless payments (unmatched transfers, failed and
  refunded payments are not in it: they are discrepancies, not fees collected).
- *share*: paid cashless / paid dossiers, in basis points and rounded to a whole percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.models import (
    Agency,
    Discrepancy,
    Dossier,
    FeeLine,
    Payment,
    PaymentAllocation,
    Procedure,
    ReconRun,
    SettlementLine,
)
from recon.models.reconciliation import DISCREPANCY_KINDS
from recon.review.portal_report import PortalDay, portal_days
from recon.scope import (
    ALL,
    Scope,
    agency_condition,
    discrepancy_condition,
    line_condition,
    payment_condition,
)

CASH = "cash"
RECEIVED_CHANNELS = ("counter", "online", "postal")
PAYMENT_CHANNELS = ("vietqr", "vnpay", "momo", "zalopay", "payos", "pos", "cash")
#: Age buckets of open discrepancies and outstanding dossiers, in whole days since.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–1", 0, 1), ("2–3", 2, 3), ("4–7", 4, 7), ("> 7", 8, None))
NO_FIELD = "—"


# --------------------------------------------------------------------------- helpers


def vn_midnight(day: date) -> datetime:
    """00:00 in Vietnam on ``day``, as a UTC instant."""
    return datetime.combine(day, time(), VN_TZ).astimezone(UTC)


def vn_day_window(day: date) -> tuple[datetime, datetime]:
    return vn_midnight(day), vn_midnight(day + timedelta(days=1))


def vn_month_window(day: date) -> tuple[datetime, datetime]:
    first = day.replace(day=1)
    nxt = (first.replace(year=first.year + 1, month=1) if first.month == 12
           else first.replace(month=first.month + 1))
    return vn_midnight(first), vn_midnight(nxt)


def quarter_window(year: int, quarter: int) -> tuple[datetime, datetime]:
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1, 2, 3 or 4")
    if not 2000 <= year <= 2100:
        raise ValueError("year must be within 2000..2100")
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return vn_midnight(start), vn_midnight(end)


def vn_today(now: datetime) -> date:
    return now.astimezone(VN_TZ).date()


def age_days(since: datetime, now: datetime) -> int:
    """Whole calendar days (Vietnam time) from ``since`` to ``now``: 0 on the same day."""
    return max(0, (vn_today(now) - vn_today(since)).days)


def share_bp(part: int, whole: int) -> int:
    """``part / whole`` in basis points (1/100 %), rounded half up; 0 when ``whole`` is 0."""
    if whole <= 0:
        return 0
    return (part * 10_000 * 2 + whole) // (whole * 2)


def share_percent(part: int, whole: int) -> int:
    """``part / whole`` as a whole percent, rounded half up; 0 when ``whole`` is 0."""
    if whole <= 0:
        return 0
    return (part * 100 * 2 + whole) // (whole * 2)


def format_bp(bp: int) -> str:
    """``6099`` -> ``"60,99"`` (Vietnamese decimal comma)."""
    return f"{bp // 100},{bp % 100:02d}"


def _int(value: Any) -> int:
    return int(value or 0)


def _bucket_case(column: Any, now: datetime) -> Any:
    """A SQL ``CASE`` putting ``column`` (a timestamp) into :data:`AGE_BUCKETS` by VN day.

    age <= hi  <=>  the VN date of ``column`` >= today - hi  <=>  ``column`` >= 00:00 ICT of
    (today - hi): plain comparisons with bound instants, the same on every backend.
    """
    today = vn_today(now)
    whens = [(column >= vn_midnight(today - timedelta(days=hi)), literal(label))
             for label, _lo, hi in AGE_BUCKETS if hi is not None]
    return case(*whens, else_=literal(AGE_BUCKETS[-1][0]))


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Figure:
    key: str
    count: int
    amount: int


@dataclass(frozen=True)
class SettledFigure:
    provider: str
    count: int
    amount: int
    fee: int
    net: int


@dataclass
class Period:
    label: str
    start: datetime
    end: datetime
    collected_by_channel: list[Figure] = field(default_factory=list)
    collected_by_provider: list[Figure] = field(default_factory=list)
    collected: Figure = Figure("total", 0, 0)
    settled_by_provider: list[SettledFigure] = field(default_factory=list)
    settled: SettledFigure = SettledFigure("total", 0, 0, 0, 0)
    outstanding: Figure = Figure("outstanding", 0, 0)


@dataclass
class Dashboard:
    now: datetime
    today: Period
    month: Period
    open_by_kind: list[Figure]
    open_by_age: list[Figure]
    open_total: Figure
    pending_approval: int
    outstanding_all: Figure
    last_run: ReconRun | None


def _assessed_subquery() -> Any:
    """Per dossier: the sum of its fee lines (only dossiers that have any)."""
    return (select(FeeLine.dossier_id.label("dossier_id"),
                   func.sum(FeeLine.amount).label("assessed"))
            .group_by(FeeLine.dossier_id).subquery("assessed"))


def _has_succeeded_payment() -> Any:
    """The dossier has a succeeded payment of its own, or a share of a succeeded transfer split
    across several dossiers."""
    return or_(
        exists().where(Payment.dossier_id == Dossier.id, Payment.status == "succeeded"),
        exists().where(PaymentAllocation.dossier_id == Dossier.id,
                       PaymentAllocation.payment_id == Payment.id,
                       Payment.status == "succeeded"))


def _collected(session: Session, start: datetime, end: datetime,
               by: Any, scope: Scope = ALL) -> list[Figure]:
    """Succeeded payments in the window per ``by`` (``Payment.channel`` or ``.provider``):
    how many, and how much. The whole deployment counts every payment once, whole (matched
    or not); an agency's scope counts its dossiers' payments and its shares of transfers split
    across several dossiers (a split payment counted once per agency it paid)."""
    if not scope.is_all:
        paid = _paid_shares(start, end)
        column = paid.c[by.key]
        rows = session.execute(
            select(column, func.count(distinct(paid.c.payment_id)), func.sum(paid.c.amount))
            .join(Dossier, Dossier.id == paid.c.dossier_id)
            .where(agency_condition(Dossier.agency_id, scope))
            .group_by(column).order_by(func.sum(paid.c.amount).desc(), column))
        return [Figure(str(k), _int(c), _int(a)) for k, c, a in rows]
    rows = session.execute(
        select(by, func.count(), func.sum(Payment.amount))
        .where(Payment.status == "succeeded", Payment.paid_at >= start, Payment.paid_at < end,
               payment_condition(scope))
        .group_by(by).order_by(func.sum(Payment.amount).desc(), by))
    return [Figure(str(k), _int(c), _int(a)) for k, c, a in rows]


def _settled(session: Session, first: date, last_exclusive: date,
             scope: Scope = ALL) -> list[SettledFigure]:
    rows = session.execute(
        select(SettlementLine.provider, func.count(), func.sum(SettlementLine.amount),
               func.sum(SettlementLine.fee), func.sum(SettlementLine.net))
        .where(SettlementLine.settled_on >= first, SettlementLine.settled_on < last_exclusive,
               line_condition(scope))
        .group_by(SettlementLine.provider).order_by(SettlementLine.provider))
    return [SettledFigure(p, _int(c), _int(a), _int(f), _int(n)) for p, c, a, f, n in rows]


def _outstanding_figure(session: Session, start: datetime | None,
                        end: datetime | None, scope: Scope = ALL) -> Figure:
    """Dossiers with something assessed and no succeeded payment (received in the window).

    In a window, the dossiers are found through ``received_at`` and each one's fees summed
    by its own index; over all time, one grouped pass over the fee lines is cheaper."""
    if start is not None and end is not None:
        assessed_one = (select(func.sum(FeeLine.amount)).where(FeeLine.dossier_id == Dossier.id)
                        .correlate(Dossier).scalar_subquery())
        inner = (select(assessed_one.label("assessed")).select_from(Dossier)
                 .where(Dossier.received_at >= start, Dossier.received_at < end,
                        ~_has_succeeded_payment(),
                        agency_condition(Dossier.agency_id, scope)).subquery())
        count, amount = session.execute(
            select(func.count(), func.sum(inner.c.assessed)).where(inner.c.assessed > 0)).one()
        return Figure("outstanding", _int(count), _int(amount))
    assessed = _assessed_subquery()
    stmt = (select(func.count(), func.sum(assessed.c.assessed))
            .select_from(Dossier).join(assessed, assessed.c.dossier_id == Dossier.id)
            .where(assessed.c.assessed > 0, ~_has_succeeded_payment(),
                   agency_condition(Dossier.agency_id, scope)))
    count, amount = session.execute(stmt).one()
    return Figure("outstanding", _int(count), _int(amount))


def _period(session: Session, label: str, start: datetime, end: datetime,
            scope: Scope = ALL, agency_id: int | None = None) -> Period:
    """A window's figures, of ``scope`` and within it of ``agency_id`` only if given (its
    dossiers, their payments, the lines settling those payments)."""
    scope = scope.narrow(agency_id)
    period = Period(label, start, end)
    period.collected_by_channel = _collected(session, start, end, Payment.channel, scope)
    period.collected_by_provider = _collected(session, start, end, Payment.provider, scope)
    period.collected = Figure("total", sum(f.count for f in period.collected_by_channel),
                              sum(f.amount for f in period.collected_by_channel))
    first = vn_today(start)
    last = vn_today(end)
    period.settled_by_provider = _settled(session, first, last, scope)
    period.settled = SettledFigure(
        "total", sum(s.count for s in period.settled_by_provider),
        sum(s.amount for s in period.settled_by_provider),
        sum(s.fee for s in period.settled_by_provider),
        sum(s.net for s in period.settled_by_provider))
    period.outstanding = _outstanding_figure(session, start, end, scope)
    return period


def open_by_kind(session: Session, scope: Scope = ALL) -> list[Figure]:
    rows = dict(
        (kind, (c, a)) for kind, c, a in session.execute(
            select(Discrepancy.kind, func.count(), func.sum(func.abs(Discrepancy.delta)))
            .where(Discrepancy.status == "open", discrepancy_condition(scope))
            .group_by(Discrepancy.kind)))
    return [Figure(k, _int(rows.get(k, (0, 0))[0]), _int(rows.get(k, (0, 0))[1]))
            for k in DISCREPANCY_KINDS]


def open_by_age(session: Session, now: datetime, scope: Scope = ALL) -> list[Figure]:
    bucket = _bucket_case(Discrepancy.detected_at, now).label("bucket")
    sub = (select(bucket, func.abs(Discrepancy.delta).label("amount"))
           .where(Discrepancy.status == "open", discrepancy_condition(scope)).subquery())
    rows = {b: (c, a) for b, c, a in session.execute(
        select(sub.c.bucket, func.count(), func.sum(sub.c.amount)).group_by(sub.c.bucket))}
    return [Figure(label, _int(rows.get(label, (0, 0))[0]), _int(rows.get(label, (0, 0))[1]))
            for label, _lo, _hi in AGE_BUCKETS]


def dashboard(session: Session, now: datetime, *, day: date | None = None,
              scope: Scope = ALL) -> Dashboard:
    """Figures for ``day`` (default: today in Vietnam) and its month; discrepancy ages are
    always counted from ``now``."""
    today = day or vn_today(now)
    t_start, t_end = vn_day_window(today)
    m_start, m_end = vn_month_window(today)
    by_kind = open_by_kind(session, scope)
    pending = _int(session.scalar(
        select(func.count()).select_from(Discrepancy)
        .where(Discrepancy.status == "open", Discrepancy.proposed_by.is_not(None),
               discrepancy_condition(scope))))
    last_run = session.scalars(
        select(ReconRun).order_by(ReconRun.id.desc()).limit(1)).first()
    return Dashboard(
        now=now,
        today=_period(session, "today", t_start, t_end, scope),
        month=_period(session, "month", m_start, m_end, scope),
        open_by_kind=by_kind,
        open_by_age=open_by_age(session, now, scope),
        open_total=Figure("open", sum(f.count for f in by_kind), sum(f.amount for f in by_kind)),
        pending_approval=pending,
        outstanding_all=_outstanding_figure(session, None, None, scope),
        last_run=last_run,
    )


# --------------------------------------------------------------------------- daily summary


@dataclass(frozen=True)
class DailyRow:
    agency_code: str | None
    agency_name: str | None
    provider: str
    channel: str
    status: str
    count: int
    amount: int
    settled_count: int
    settled_amount: int

    @property
    def unsettled_count(self) -> int:
        return self.count - self.settled_count


@dataclass(frozen=True)
class KindStatusRow:
    kind: str
    open: int
    resolved: int
    auto_resolved: int
    amount: int


@dataclass
class DailySummary:
    day: date
    payments: list[DailyRow]
    settled: list[SettledFigure]
    discrepancies: list[KindStatusRow]
    runs: int
    totals: dict[str, int]


def _first_line_amount() -> Any:
    """The gross amount of the first settlement line of a payment's transaction, or NULL:
    listed by its own id, else by the bank's reference (a bank statement line)."""
    def first_by(column: Any) -> Any:
        return (select(SettlementLine.amount)
                .where(SettlementLine.provider == Payment.provider,
                       SettlementLine.provider_txn_id == column)
                .order_by(SettlementLine.id).limit(1).correlate(Payment).scalar_subquery())
    return func.coalesce(first_by(Payment.provider_txn_id), first_by(Payment.bank_reference))


def daily_summary(session: Session, day: date, scope: Scope = ALL,
                  agency_id: int | None = None) -> DailySummary:
    """One Vietnam day: payments by agency, provider, channel and status (with how many of
    them are settled), lines settled that day, discrepancies detected that day by kind and
    status, and how many reconciliation runs ran. Only what ``scope`` sees and, with
    ``agency_id``, only that agency's payments, the lines settling them and the
    discrepancies about its dossiers, their payments or those lines (the runs are the
    province's)."""
    scope = scope.narrow(agency_id)
    start, end = vn_day_window(day)
    settled_amount = _first_line_amount()
    is_settled = case((settled_amount.is_not(None), 1), else_=0)
    rows = session.execute(
        select(Agency.code, Agency.name, Payment.provider, Payment.channel, Payment.status,
               func.count(), func.sum(Payment.amount), func.sum(is_settled),
               func.sum(func.coalesce(settled_amount, 0)))
        .select_from(Payment)
        .outerjoin(Dossier, Dossier.id == Payment.dossier_id)
        .outerjoin(Agency, Agency.id == Dossier.agency_id)
        .where(Payment.paid_at >= start, Payment.paid_at < end, payment_condition(scope))
        .group_by(Agency.code, Agency.name, Payment.provider, Payment.channel, Payment.status)
        .order_by(Agency.code, Payment.provider, Payment.channel, Payment.status))
    payments = [DailyRow(ac, an, p, ch, st, _int(c), _int(a), _int(sc), _int(sa))
                for ac, an, p, ch, st, c, a, sc, sa in rows]
    settled = _settled(session, day, day + timedelta(days=1), scope)
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, count, amount in session.execute(
            select(Discrepancy.kind, Discrepancy.status, func.count(),
                   func.sum(func.abs(Discrepancy.delta)))
            .where(Discrepancy.detected_at >= start, Discrepancy.detected_at < end,
                   discrepancy_condition(scope))
            .group_by(Discrepancy.kind, Discrepancy.status)):
        entry = by_kind.setdefault(kind, {"open": 0, "resolved": 0, "auto_resolved": 0,
                                          "amount": 0})
        entry[status] = _int(count)
        entry["amount"] += _int(amount)
    discrepancies = [KindStatusRow(k, v["open"], v["resolved"], v["auto_resolved"], v["amount"])
                     for k in DISCREPANCY_KINDS if (v := by_kind.get(k))]
    runs = _int(session.scalar(select(func.count()).select_from(ReconRun).where(
        ReconRun.started_at >= start, ReconRun.started_at < end)))
    succeeded = [r for r in payments if r.status == "succeeded"]
    totals = {
        "payments": sum(r.count for r in payments),
        "succeeded": sum(r.count for r in succeeded),
        "succeeded_amount": sum(r.amount for r in succeeded),
        "cashless_amount": sum(r.amount for r in succeeded if r.channel != CASH),
        "settled_count": sum(r.settled_count for r in succeeded if r.channel != CASH),
        "unsettled_count": sum(r.unsettled_count for r in succeeded if r.channel != CASH),
        "lines": sum(s.count for s in settled),
        "lines_amount": sum(s.amount for s in settled),
        "discrepancies": sum(d.open + d.resolved + d.auto_resolved for d in discrepancies),
    }
    return DailySummary(day, payments, settled, discrepancies, runs, totals)


# --------------------------------------------------------------------------- quarterly


@dataclass(frozen=True)
class QuarterRow:
    """One line of the quarterly report: totals, a channel or a procedure field."""

    key: str
    received: int
    received_online: int
    paid: int
    paid_cashless: int
    cashless_amount: int
    paid_cash: int = 0
    cash_amount: int = 0

    @property
    def share_bp(self) -> int:
        return share_bp(self.paid_cashless, self.paid)

    @property
    def share_percent(self) -> int:
        return share_percent(self.paid_cashless, self.paid)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "received": self.received,
                "received_online": self.received_online, "paid": self.paid,
                "paid_cashless": self.paid_cashless, "cashless_amount": self.cashless_amount,
                "paid_cash": self.paid_cash, "cash_amount": self.cash_amount,
                "cashless_share_bp": self.share_bp, "cashless_share_percent": self.share_percent}


@dataclass(frozen=True)
class ChannelRow:
    """Payments in the quarter by payment channel."""

    channel: str
    dossiers: int
    payments: int
    amount: int

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "dossiers": self.dossiers, "payments": self.payments,
                "amount": self.amount}


@dataclass
class QuarterlyReport:
    year: int
    quarter: int
    start: datetime
    end: datetime
    total: QuarterRow
    by_received_channel: list[QuarterRow]
    by_payment_channel: list[ChannelRow]
    by_field: list[QuarterRow]

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year, "quarter": self.quarter,
            "from": vn_today(self.start).isoformat(),
            "to": (vn_today(self.end) - timedelta(days=1)).isoformat(),
            "received": self.total.received,
            "received_online": self.total.received_online,
            "paid": self.total.paid,
            "paid_cashless": self.total.paid_cashless,
            "cashless_amount": self.total.cashless_amount,
            "paid_cash": self.total.paid_cash,
            "cash_amount": self.total.cash_amount,
            "cashless_share_bp": self.total.share_bp,
            "cashless_share_percent": self.total.share_percent,
            "by_received_channel": [r.as_dict() for r in self.by_received_channel],
            "by_payment_channel": [r.as_dict() for r in self.by_payment_channel],
            "by_field": [r.as_dict() for r in self.by_field],
        }


def _paid_shares(start: datetime, end: datetime) -> Any:
    """Succeeded payments in the window as (payment, dossier, amount, channel, provider) rows,
    one per dossier paid: a payment matched to its dossier, and each share of a transfer split
    across several dossiers (``payment_allocations``, whose payment names no dossier), as
    :func:`recon.intake.dossiers.paid_amounts` counts them."""
    in_window = (Payment.status == "succeeded", Payment.paid_at >= start, Payment.paid_at < end)
    direct = (select(Payment.id.label("payment_id"), Payment.dossier_id.label("dossier_id"),
                     Payment.amount.label("amount"), Payment.channel.label("channel"),
                     Payment.provider.label("provider"))
              .where(Payment.dossier_id.is_not(None), *in_window))
    shares = (select(Payment.id.label("payment_id"), PaymentAllocation.dossier_id,
                     PaymentAllocation.amount, Payment.channel, Payment.provider)
              .select_from(PaymentAllocation)
              .join(Payment, Payment.id == PaymentAllocation.payment_id)
              .where(*in_window))
    return union_all(direct, shares).subquery("paid_shares")


def _paid_figures(session: Session, start: datetime, end: datetime,
                  group: Any | None, scope: Scope = ALL
                  ) -> dict[Any, tuple[int, int, int, int, int]]:
    """Per group: (paid dossiers, paid cashless dossiers, cashless amount, paid cash dossiers,
    cash amount) over succeeded, matched payments in the window; a split transfer counts
    each dossier's share under that dossier (its agency, procedure, received channel)."""
    paid = _paid_shares(start, end)
    cashless = paid.c.channel != CASH
    cols: list[Any] = [
        func.count(distinct(paid.c.dossier_id)),
        func.count(distinct(case((cashless, paid.c.dossier_id)))),
        func.sum(case((cashless, paid.c.amount), else_=0)),
        func.count(distinct(case((~cashless, paid.c.dossier_id)))),
        func.sum(case((~cashless, paid.c.amount), else_=0)),
    ]
    stmt = (select(*(([group] if group is not None else []) + cols))
            .select_from(paid).join(Dossier, Dossier.id == paid.c.dossier_id)
            .where(agency_condition(Dossier.agency_id, scope)))
    if group is not None:
        stmt = stmt.join(Procedure, Procedure.id == Dossier.procedure_id).group_by(group)
    out: dict[Any, tuple[int, int, int, int, int]] = {}
    for row in session.execute(stmt):
        key = row[0] if group is not None else None
        vals = row[1:] if group is not None else row
        out[key] = (_int(vals[0]), _int(vals[1]), _int(vals[2]), _int(vals[3]), _int(vals[4]))
    return out


def _received_figures(session: Session, start: datetime, end: datetime,
                      group: Any | None, scope: Scope = ALL) -> dict[Any, tuple[int, int]]:
    online = func.sum(case((Dossier.received_channel == "online", 1), else_=0))
    stmt = (select(*(([group] if group is not None else []) + [func.count(), online]))
            .select_from(Dossier)
            .where(Dossier.received_at >= start, Dossier.received_at < end,
                   agency_condition(Dossier.agency_id, scope)))
    if group is not None:
        stmt = stmt.join(Procedure, Procedure.id == Dossier.procedure_id).group_by(group)
    out: dict[Any, tuple[int, int]] = {}
    for row in session.execute(stmt):
        key = row[0] if group is not None else None
        vals = row[1:] if group is not None else row
        out[key] = (_int(vals[0]), _int(vals[1]))
    return out


def _rows(received: dict[Any, tuple[int, int]],
          paid: dict[Any, tuple[int, int, int, int, int]],
          keys: Sequence[Any], label: Any) -> list[QuarterRow]:
    out = []
    for key in keys:
        r = received.get(key, (0, 0))
        p = paid.get(key, (0, 0, 0, 0, 0))
        out.append(QuarterRow(label(key), r[0], r[1], p[0], p[1], p[2], p[3], p[4]))
    return out


def quarterly_report(session: Session, year: int, quarter: int,
                     scope: Scope = ALL) -> QuarterlyReport:
    start, end = quarter_window(year, quarter)
    received = _received_figures(session, start, end, None, scope)
    paid = _paid_figures(session, start, end, None, scope)
    total = _rows(received, paid, [None], lambda _k: "total")[0]

    by_rc_received = _received_figures(session, start, end, Dossier.received_channel, scope)
    by_rc_paid = _paid_figures(session, start, end, Dossier.received_channel, scope)
    rc_keys = [k for k in RECEIVED_CHANNELS] + sorted(
        k for k in set(by_rc_received) | set(by_rc_paid) if k not in RECEIVED_CHANNELS)
    by_received_channel = _rows(by_rc_received, by_rc_paid, rc_keys, str)

    paid_shares = _paid_shares(start, end)
    channel_rows = session.execute(
        select(paid_shares.c.channel, func.count(distinct(paid_shares.c.dossier_id)),
               func.count(distinct(paid_shares.c.payment_id)), func.sum(paid_shares.c.amount))
        .join(Dossier, Dossier.id == paid_shares.c.dossier_id)
        .where(agency_condition(Dossier.agency_id, scope))
        .group_by(paid_shares.c.channel))
    by_channel = {ch: ChannelRow(ch, _int(d), _int(n), _int(a)) for ch, d, n, a in channel_rows}
    by_payment_channel = [by_channel.get(ch, ChannelRow(ch, 0, 0, 0)) for ch in PAYMENT_CHANNELS]
    by_payment_channel += [v for k, v in sorted(by_channel.items()) if k not in PAYMENT_CHANNELS]

    by_f_received = _received_figures(session, start, end, Procedure.field, scope)
    by_f_paid = _paid_figures(session, start, end, Procedure.field, scope)
    f_keys = sorted(set(by_f_received) | set(by_f_paid),
                    key=lambda k: (-(by_f_received.get(k, (0, 0))[0]), k or ""))
    by_field = _rows(by_f_received, by_f_paid, f_keys, lambda k: k or NO_FIELD)
    return QuarterlyReport(year, quarter, start, end, total, by_received_channel,
                           by_payment_channel, by_field)


def quarterly_text(report: QuarterlyReport) -> str:
    """The report as plain text (what ``recon report quarterly`` prints)."""
    t = report.total
    lines = [
        f"Quarterly report Q{report.quarter}/{report.year} "
        f"({vn_today(report.start):%d/%m/%Y} – "
        f"{vn_today(report.end) - timedelta(days=1):%d/%m/%Y}, Vietnam time)",
        "",
        f"Dossiers received:            {t.received:>12,}",
        f"  received online:            {t.received_online:>12,} "
        f"({share_percent(t.received_online, t.received)}%)",
        f"Dossiers paid:                {t.paid:>12,}",
        f"  paid cashless:              {t.paid_cashless:>12,} "
        f"({t.share_percent}% of paid dossiers; {format_bp(t.share_bp)}%)",
        f"  cashless amount (VND):      {t.cashless_amount:>12,}",
        f"  paid in cash:               {t.paid_cash:>12,}",
        f"  cash amount (VND):          {t.cash_amount:>12,}",
        "",
        "By payment channel             dossiers   payments        amount (VND)",
    ]
    for c in report.by_payment_channel:
        lines.append(f"  {c.channel:<26} {c.dossiers:>9,} {c.payments:>10,} {c.amount:>19,}")
    lines += ["", "By received channel            received       paid   cashless  share"
              "    cashless (VND)"]
    for r in report.by_received_channel:
        lines.append(f"  {r.key:<26} {r.received:>9,} {r.paid:>10,} {r.paid_cashless:>10,} "
                     f"{r.share_percent:>5}% {r.cashless_amount:>17,}")
    lines += ["", "By procedure field             received     online       paid   cashless"
              "  share    cashless (VND)"]
    for r in report.by_field:
        lines.append(f"  {r.key[:26]:<26} {r.received:>9,} {r.received_online:>10,} "
                     f"{r.paid:>10,} {r.paid_cashless:>10,} {r.share_percent:>5}% "
                     f"{r.cashless_amount:>17,}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- outstanding


@dataclass(frozen=True)
class OutstandingRow:
    dossier_id: int
    code: str
    agency_code: str
    procedure_name: str
    field: str | None
    received_at: datetime
    received_channel: str
    assessed: int
    age_days: int


@dataclass
class OutstandingPage:
    rows: list[OutstandingRow]
    total: Figure
    by_age: list[Figure]
    next_after: str | None


def _outstanding_conditions(agency_code: str | None, min_age_days: int | None,
                            now: datetime, scope: Scope = ALL) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        exists().where(FeeLine.dossier_id == Dossier.id, FeeLine.amount > 0),
        ~_has_succeeded_payment(),
    ]
    if not scope.is_all:
        conditions.append(agency_condition(Dossier.agency_id, scope))
    if agency_code:
        conditions.append(Dossier.agency_id == select(Agency.id).where(
            Agency.code == agency_code).scalar_subquery())
    if min_age_days:
        conditions.append(Dossier.received_at < vn_midnight(
            vn_today(now) - timedelta(days=min_age_days - 1)))
    return conditions


def parse_outstanding_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    stamp, _, id_ = value.rpartition("_")
    try:
        at = datetime.fromisoformat(stamp)
        return (at if at.tzinfo else at.replace(tzinfo=UTC)), int(id_)
    except ValueError:
        return None


def outstanding(session: Session, now: datetime, *, agency_code: str | None = None,
                min_age_days: int | None = None, limit: int = 50,
                after: str | None = None, with_totals: bool = True,
                scope: Scope = ALL) -> OutstandingPage:
    """Dossiers with fees assessed and no succeeded payment, oldest first (keyset by
    ``(received_at, id)``; pass the previous page's ``next_after``)."""
    conditions = _outstanding_conditions(agency_code, min_age_days, now, scope)
    assessed = (select(func.sum(FeeLine.amount)).where(FeeLine.dossier_id == Dossier.id)
                .correlate(Dossier).scalar_subquery())
    stmt = (select(Dossier.id, Dossier.code, Agency.code, Procedure.name, Procedure.field,
                   Dossier.received_at, Dossier.received_channel, assessed)
            .select_from(Dossier)
            .join(Agency, Agency.id == Dossier.agency_id)
            .join(Procedure, Procedure.id == Dossier.procedure_id)
            .where(*conditions)
            .order_by(Dossier.received_at, Dossier.id))
    cursor = parse_outstanding_cursor(after)
    if cursor is not None:
        at, id_ = cursor
        stmt = stmt.where((Dossier.received_at > at)
                          | and_(Dossier.received_at == at, Dossier.id > id_))
    if limit:
        stmt = stmt.limit(limit)
    rows = [OutstandingRow(i, c, a, pn, pf, r, ch, _int(amt), age_days(r, now))
            for i, c, a, pn, pf, r, ch, amt in session.execute(stmt)]
    next_after = (f"{rows[-1].received_at.isoformat()}_{rows[-1].dossier_id}"
                  if limit and len(rows) == limit else None)
    total = Figure("outstanding", 0, 0)
    buckets: list[Figure] = []
    if with_totals:
        fee_sum = _assessed_subquery()
        bucket = _bucket_case(Dossier.received_at, now).label("bucket")
        sub = (select(bucket, fee_sum.c.assessed.label("assessed"))
               .select_from(Dossier).join(fee_sum, fee_sum.c.dossier_id == Dossier.id)
               .where(*conditions).subquery())
        got = {b: (c, a) for b, c, a in session.execute(
            select(sub.c.bucket, func.count(), func.sum(sub.c.assessed)).group_by(sub.c.bucket))}
        buckets = [Figure(label, _int(got.get(label, (0, 0))[0]),
                          _int(got.get(label, (0, 0))[1])) for label, _lo, _hi in AGE_BUCKETS]
        total = Figure("outstanding", sum(b.count for b in buckets),
                       sum(b.amount for b in buckets))
    return OutstandingPage(rows, total, buckets, next_after)


# --------------------------------------------------------------------------- Art. 36 report
#
# Decision 31/2021/QĐ-TTg, Art. 36: every day the agency and the bank or intermediary
# reconcile online payments by agency, by provider, by transaction type, as a summary or in
# detail, with status, processing result and amount, and the time of the reconciliation.

#: A transaction's type: a refunded payment is a refund, every other one a payment.
TXN_TYPES = ("payment", "refund")
#: Processing results, in the order the report lists them.
RESULTS = ("settled", "awaiting_settlement", "discrepancy", "cash", "no_settlement")


@dataclass(frozen=True)
class CoveringRun:
    """The latest succeeded (not dry) reconciliation run; ``covers_day``: its ``as_of`` is at
    or after the end of the day, so it saw every transaction of the day."""

    id: int
    as_of: datetime
    finished_at: datetime | None
    covers_day: bool


@dataclass(frozen=True)
class Art36Row:
    agency_code: str | None
    agency_name: str | None
    provider: str
    txn_type: str
    status: str
    result: str
    count: int
    amount: int
    kinds: tuple[str, ...]
    reconciled_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"agency": self.agency_code, "agency_name": self.agency_name,
                "provider": self.provider, "type": self.txn_type, "status": self.status,
                "result": self.result, "discrepancy_kinds": list(self.kinds),
                "count": self.count, "amount": self.amount,
                "reconciled_at": self.reconciled_at.isoformat() if self.reconciled_at else None}


@dataclass(frozen=True)
class Art36Line:
    payment_id: int
    agency_code: str | None
    dossier_code: str | None
    provider: str
    provider_txn_id: str
    channel: str
    txn_type: str
    status: str
    amount: int
    paid_at: datetime
    result: str
    kinds: tuple[str, ...]
    reconciled_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"payment_id": self.payment_id, "agency": self.agency_code,
                "dossier": self.dossier_code, "provider": self.provider,
                "provider_txn_id": self.provider_txn_id, "channel": self.channel,
                "type": self.txn_type, "status": self.status, "amount": self.amount,
                "paid_at": self.paid_at.isoformat(), "result": self.result,
                "discrepancy_kinds": list(self.kinds),
                "reconciled_at": self.reconciled_at.isoformat() if self.reconciled_at else None}


@dataclass
class Art36Report:
    day: date
    agency: str | None
    run: CoveringRun | None
    summary: list[Art36Row]
    count: int
    amount: int
    # the National Public Service Portal's side, per agency (recon.review.portal_report)
    portal: list[PortalDay] = field(default_factory=list)

    def as_dict(self, detail: Sequence[Art36Line] = ()) -> dict[str, Any]:
        run = self.run
        return {
            "day": self.day.isoformat(), "agency": self.agency,
            "basis": "Decision 31/2021/QĐ-TTg, Art. 36",
            "reconciliation_run": None if run is None else {
                "id": run.id, "as_of": run.as_of.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "covers_day": run.covers_day},
            "count": self.count, "amount": self.amount,
            "summary": [r.as_dict() for r in self.summary],
            "portal": {"imported": any(p.imported for p in self.portal),
                       "agencies": [p.as_dict() for p in self.portal]},
            "detail": [d.as_dict() for d in detail],
        }


def _txn_type() -> Any:
    return case((Payment.status == "refunded", literal("refund")), else_=literal("payment"))


def _open_discrepancy_of_payment() -> Any:
    return exists().where(Discrepancy.payment_id == Payment.id, Discrepancy.status == "open")


def _result() -> Any:
    """The processing result of a payment, as SQL (see :data:`RESULTS`)."""
    return case(
        (_open_discrepancy_of_payment(), literal("discrepancy")),
        (Payment.status != "succeeded", literal("no_settlement")),
        (Payment.channel == CASH, literal("cash")),
        (_first_line_amount().is_not(None), literal("settled")),
        else_=literal("awaiting_settlement"))


def covering_run(session: Session, day: date) -> CoveringRun | None:
    run = session.execute(
        select(ReconRun.id, ReconRun.as_of, ReconRun.finished_at)
        .where(ReconRun.status == "succeeded", ReconRun.dry_run.is_(False))
        .order_by(ReconRun.as_of.desc(), ReconRun.id.desc()).limit(1)).first()
    if run is None:
        return None
    return CoveringRun(run[0], run[1], run[2], run[1] >= vn_day_window(day)[1])


def _reconciled_at(run: CoveringRun | None, latest_paid: datetime | None) -> datetime | None:
    """The run's finish when it saw the transaction(s) (``as_of`` at or after the last one)."""
    if run is None or latest_paid is None or run.as_of < latest_paid:
        return None
    return run.finished_at or run.as_of


def art36_report(session: Session, day: date, scope: Scope = ALL,
                 agency_id: int | None = None, agency: str | None = None) -> Art36Report:
    """The Art. 36 summary of one Vietnam day: the day's payments (as :func:`daily_summary`
    counts them) by agency, provider, transaction type, status and processing result."""
    scope = scope.narrow(agency_id)
    start, end = vn_day_window(day)
    run = covering_run(session, day)
    txn_type = _txn_type().label("txn_type")
    result = _result().label("result")
    inner = (select(Agency.code.label("agency_code"), Agency.name.label("agency_name"),
                    Payment.provider.label("provider"), txn_type,
                    Payment.status.label("status"), result,
                    Payment.amount.label("amount"), Payment.paid_at.label("paid_at"))
             .select_from(Payment)
             .outerjoin(Dossier, Dossier.id == Payment.dossier_id)
             .outerjoin(Agency, Agency.id == Dossier.agency_id)
             .where(Payment.paid_at >= start, Payment.paid_at < end, payment_condition(scope))
             .subquery())
    keys = (inner.c.agency_code, inner.c.agency_name, inner.c.provider, inner.c.txn_type,
            inner.c.status, inner.c.result)
    grouped = session.execute(
        select(*keys, func.count(), func.sum(inner.c.amount), func.max(inner.c.paid_at))
        .group_by(*keys).order_by(*keys)).all()
    kinds: dict[tuple[str | None, str, str], set[str]] = {}
    for ac, provider, status, kind in session.execute(
            select(Agency.code, Payment.provider, Payment.status, Discrepancy.kind).distinct()
            .select_from(Payment)
            .join(Discrepancy, and_(Discrepancy.payment_id == Payment.id,
                                    Discrepancy.status == "open"))
            .outerjoin(Dossier, Dossier.id == Payment.dossier_id)
            .outerjoin(Agency, Agency.id == Dossier.agency_id)
            .where(Payment.paid_at >= start, Payment.paid_at < end,
                   payment_condition(scope))):
        kinds.setdefault((ac, provider, status), set()).add(kind)
    summary = [
        Art36Row(ac, an, p, tt, st, res, _int(c), _int(a),
                 tuple(sorted(kinds.get((ac, p, st), ()))) if res == "discrepancy" else (),
                 _reconciled_at(run, latest))
        for ac, an, p, tt, st, res, c, a, latest in grouped]
    return Art36Report(day, agency, run, summary, sum(r.count for r in summary),
                       sum(r.amount for r in summary), portal_days(session, day, scope))


def art36_detail(session: Session, day: date, scope: Scope = ALL,
                 agency_id: int | None = None, *, run: CoveringRun | None = None,
                 limit: int | None = None, after_id: int = 0) -> list[Art36Line]:
    """One line per payment of the day, by id (keyset: pass the last line's ``payment_id``)."""
    scope = scope.narrow(agency_id)
    start, end = vn_day_window(day)
    stmt = (select(Payment.id, Agency.code, Dossier.code, Payment.provider,
                   Payment.provider_txn_id, Payment.channel, _txn_type(), Payment.status,
                   Payment.amount, Payment.paid_at, _result())
            .select_from(Payment)
            .outerjoin(Dossier, Dossier.id == Payment.dossier_id)
            .outerjoin(Agency, Agency.id == Dossier.agency_id)
            .where(Payment.paid_at >= start, Payment.paid_at < end, payment_condition(scope),
                   Payment.id > after_id)
            .order_by(Payment.id))
    if limit:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    ids = [r[0] for r in rows if r[10] == "discrepancy"]
    kinds: dict[int, set[str]] = {}
    if ids:
        for pid, kind in session.execute(
                select(Discrepancy.payment_id, Discrepancy.kind)
                .where(Discrepancy.payment_id.in_(ids), Discrepancy.status == "open")):
            kinds.setdefault(_int(pid), set()).add(kind)
    return [Art36Line(pid, ac, dc, p, txn, ch, tt, st, _int(a), paid, res,
                      tuple(sorted(kinds.get(pid, ()))), _reconciled_at(run, paid))
            for pid, ac, dc, p, txn, ch, tt, st, a, paid, res in rows]


def art36_all_detail(session_factory: Any, day: date, scope: Scope = ALL,
                     agency_id: int | None = None, run: CoveringRun | None = None,
                     batch: int = 2000) -> Any:
    """Every detail line of the day, read in batches (``session_factory()`` opens a read)."""
    after = 0
    while True:
        with session_factory() as s:
            page = art36_detail(s, day, scope, agency_id, run=run, limit=batch, after_id=after)
        yield from page
        if len(page) < batch:
            return
        after = page[-1].payment_id


ART36_SUMMARY_HEADER = ("Agency", "Provider", "Transaction type", "Status",
                        "Processing result", "Discrepancy kinds", "Count", "Amount",
                        "Reconciled at")
ART36_DETAIL_HEADER = ("Agency", "Dossier", "Provider", "Provider transaction id",
                       "Transaction type", "Status", "Amount", "Paid at",
                       "Processing result", "Discrepancy kinds", "Reconciled at")


def _same(_column: str, value: str) -> str:
    return value


def art36_summary_cells(row: Art36Row, label: Any = _same) -> list[Any]:
    """A summary row as export cells; ``label(column, code)`` names the codes (default: the
    codes themselves)."""
    return [row.agency_code or "", label("provider", row.provider), label("type", row.txn_type),
            label("status", row.status), label("result", row.result),
            ", ".join(label("kind", k) for k in row.kinds), row.count, row.amount,
            row.reconciled_at]


def art36_detail_cells(line: Art36Line, label: Any = _same) -> list[Any]:
    return [line.agency_code or "", line.dossier_code or "", label("provider", line.provider),
            line.provider_txn_id, label("type", line.txn_type), label("status", line.status),
            line.amount, line.paid_at, label("result", line.result),
            ", ".join(label("kind", k) for k in line.kinds), line.reconciled_at]


#: the amount columns of the two tables (XLSX ``#,##0``)
ART36_SUMMARY_AMOUNTS = frozenset({7})
ART36_DETAIL_AMOUNTS = frozenset({6})
