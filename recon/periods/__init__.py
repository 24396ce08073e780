"""Closed periods (khóa sổ): which months are closed, and the guard every write path asks.

Finance closes a month (Vietnam time, :data:`recon.clock.VN_TZ`) for one agency or for all
(``periods.agency_id`` NULL); proposing and approving the close is
:mod:`recon.review.periods`. This package is the floor below the services: it answers "is the
month of this row closed?" and raises :class:`PeriodClosed` when a write would change it.

What "dated in" a month means, per row (its Vietnam-time date):

- a **dossier**: ``received_at`` (the day the centre received it); its agency is its own;
- a **payment**: ``paid_at``; its agency is its dossier's (a payment without a dossier belongs
  to no agency, so only a close for all agencies covers it);
- a **settlement line**: its transaction date, ``transaction_at``, else ``settled_on`` (a
  line says when the money moved; its file says only when it was imported); its agency is
  that of the payment it settles, if any;
- a **discrepancy**: the date and agency of the first part of its kind's subject
  (:mod:`recon.engine.kinds`): underpaid, overpaid and duplicate_payment by their dossier;
  unmatched_payment, missing_settlement, amount_mismatch and status_mismatch by their
  payment; unexpected_settlement and duplicate_settlement by their line. A
  ``late_for_closed_period`` finding is dated by when it was found (``detected_at``): it is
  how late data for a closed month shows in the current open month.

A month is closed for a row when a ``closed`` period exists for that month and either covers
every agency or names the row's agency. Writing to such a row is refused with
:class:`PeriodClosed` (it says who may reopen the month: an admin):

- intake (``recon.intake.dossiers.upsert_dossier`` and the bulk importer): a new dossier
  received in a closed month, or a change of its date, procedure, applicant or channel, is
  refused; re-sending it unchanged is accepted (idempotent); a change of its fees (a late
  reassessment) is kept, audited with the closed month, and the run reports it in the open
  month (see below);
- review (``recon.review.actions``): resolving, proposing, approving, rejecting, assigning or
  reopening a discrepancy dated in a closed month is refused;
- the run (``recon.engine.closed``): a closed month's findings are left as they are.

Data that arrives later for a closed month is kept, never refused: a settlement import only
adds lines (it changes no existing row), a payment's later status (a refund) is recorded as
always, and so is a reassessment of a dossier's fees. The run then reports it in the current
open month as a ``late_for_closed_period`` finding instead of changing the closed month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.engine.closed import LATE
from recon.engine.kinds import REGISTRY
from recon.errors import Conflict
from recon.models import Discrepancy, Dossier, Payment, Period, SettlementLine


class PeriodClosed(Conflict):
    """A write would change a row dated in a closed month."""

    code = "period_closed"

    def __init__(self, month: date, what: str, agency: str | None = None) -> None:
        scope = f" for agency {agency}" if agency else ""
        super().__init__(
            f"{month:%m/%Y} is a closed month{scope}: {what} is dated in it and cannot change",
            hint="An admin may reopen the month (recon periods reopen, with a reason); data "
                 "that arrives late is kept and reported in the current open month.")
        self.month = month
        self.reason = "period_closed"


def month_of(when: datetime | date) -> date:
    """The first day of the Vietnam-time month of ``when``."""
    if isinstance(when, datetime):
        when = when.astimezone(VN_TZ).date()
    return when.replace(day=1)


def month_window(month: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a month as UTC instants (Vietnam midnights)."""
    first = month.replace(day=1)
    nxt = (first.replace(year=first.year + 1, month=1) if first.month == 12
           else first.replace(month=first.month + 1))
    return (datetime.combine(first, time(), VN_TZ).astimezone(UTC),
            datetime.combine(nxt, time(), VN_TZ).astimezone(UTC))


def parse_month(value: object) -> date:
    """``"2021-03"`` or ``"03/2021"`` -> ``date(2021, 3, 1)``; ValueError otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if "/" in text:
            m, y = text.split("/")
        else:
            y, m = text.split("-")[:2]
        return date(int(y), int(m), 1)
    except ValueError:
        raise ValueError(f"{value!r} is not a month: write YYYY-MM, e.g. 2021-03") from None


def closed_period(session: Session, when: datetime | date | None,
                  agency_id: int | None) -> Period | None:
    """The closed period covering ``when`` for ``agency_id`` (or for all agencies), if any."""
    if when is None:
        return None
    scope: ColumnElement[bool] = Period.agency_id.is_(None)
    if agency_id is not None:
        scope = or_(scope, Period.agency_id == agency_id)
    return session.scalars(select(Period).where(
        Period.month == month_of(when), Period.status == "closed", scope)
        .order_by(Period.agency_id.is_not(None))).first()


def any_closed(session: Session) -> bool:
    return session.scalar(select(Period.id).where(Period.status == "closed").limit(1)) \
        is not None


def closed_months(session: Session) -> dict[tuple[date, int | None], Period]:
    """Every closed period by ``(month, agency_id)`` (agency None: all agencies), for a bulk
    writer that checks many rows (see :func:`closed_in`)."""
    return {(p.month, p.agency_id): p for p in session.scalars(
        select(Period).where(Period.status == "closed"))}


def closed_in(closed: dict[tuple[date, int | None], Period], when: datetime | date | None,
              agency_id: int | None) -> Period | None:
    if when is None or not closed:
        return None
    month = month_of(when)
    return closed.get((month, None)) or (
        closed.get((month, agency_id)) if agency_id is not None else None)


def ensure_open(session: Session, when: datetime | date | None, agency_id: int | None,
                what: str) -> None:
    """Raise :class:`PeriodClosed` if ``when`` lies in a closed month for ``agency_id``."""
    period = closed_period(session, when, agency_id)
    if period is not None:
        raise PeriodClosed(period.month, what,
                           str(period.agency_id) if period.agency_id is not None else None)


def payment_date_agency(session: Session, payment: Payment) -> tuple[datetime, int | None]:
    agency = None
    if payment.dossier_id is not None:
        agency = session.scalar(select(Dossier.agency_id).where(
            Dossier.id == payment.dossier_id))
    return payment.paid_at, agency


def discrepancy_date_agency(session: Session,
                            d: Discrepancy) -> tuple[datetime | date | None, int | None]:
    """The date and agency of a discrepancy's subject (see the module docstring)."""
    if d.kind == LATE:
        return d.detected_at, None
    first = REGISTRY[d.kind].subject[0] if d.kind in REGISTRY else "dossier"
    if first == "dossier" and d.dossier_id is not None:
        row = session.execute(select(Dossier.received_at, Dossier.agency_id).where(
            Dossier.id == d.dossier_id)).first()
        if row is not None:
            return row[0], row[1]
    if first == "payment" and d.payment_id is not None:
        payment = session.get(Payment, d.payment_id)
        if payment is not None:
            return payment_date_agency(session, payment)
    if first == "settlement_line" and d.settlement_line_id is not None:
        line = session.get(SettlementLine, d.settlement_line_id)
        if line is not None:
            return line.transaction_at or line.settled_on, None
    return None, None


def ensure_discrepancy_open(session: Session, d: Discrepancy) -> None:
    """Refuse to act on a discrepancy dated in a closed month."""
    if not any_closed(session):
        return
    when, agency = discrepancy_date_agency(session, d)
    ensure_open(session, when, agency, f"discrepancy {d.id}")


__all__ = [
    "PeriodClosed",
    "any_closed",
    "closed_in",
    "closed_months",
    "closed_period",
    "discrepancy_date_agency",
    "ensure_discrepancy_open",
    "ensure_open",
    "month_of",
    "month_window",
    "parse_month",
]
