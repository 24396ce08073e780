"""Closing a month (khóa sổ): propose, approve by a second person, reopen; the frozen snapshot.

- :func:`propose` (finance): a month, for one agency or for all. Refused while the month has
  open discrepancies (dated in it, see :mod:`recon.periods`) unless each is *carried forward*
  with a note (``carry_forward={discrepancy id: note}``): those stay open and are worked in a
  later month; the snapshot lists them with their note.
- :func:`approve` (finance, not the proposer: maker ≠ checker, as for write-offs): checks again
  that nothing new is open, takes the snapshot (the month's figures, the figures of each day,
  every discrepancy dated in it and how it was resolved or carried forward), stores it with
  its sha256 in ``periods`` and in ``period_snapshots``, and writes the hash into the audit
  chain (``period.closed``).
- :func:`reopen` (admin only, with a reason, audited as ``period.reopened``): the month is open
  again; its snapshots are kept and the next close adds a new one.

The figures are those of :mod:`recon.review.reports` (the finance dashboard and daily
summary): a close for every agency freezes the province's figures, a close for one agency
only that agency's (its dossiers, their payments, the settlement lines of those payments, the
discrepancies about them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from recon.audit import chain as audit
from recon.audit.four_eyes import SameUser as ActionsSameUser
from recon.audit.four_eyes import check_second_person, four_eyes_person
from recon.clock import Clock
from recon.engine.closed import LATE
from recon.engine.kinds import REGISTRY
from recon.errors import FieldError, Forbidden, NotFound, ValidationError
from recon.models import (
    Agency,
    Discrepancy,
    Dossier,
    Payment,
    Period,
    PeriodSnapshot,
    SettlementLine,
)
from recon.periods import month_of, month_window
from recon.review import reports
from recon.review.actions import MAX_NOTE, ReviewError
from recon.scope import ALL, Scope, period_condition

CLOSE_ROLES: Final = ("finance", "admin")
REOPEN_ROLES: Final = ("admin",)


class SameUser(Forbidden):
    code = "maker_checker"

    def __init__(self) -> None:
        super().__init__("the person who proposed closing the month cannot approve it",
                         hint="Ask another finance officer to approve it.")
        self.reason = "same_user"


def _text(value: object, field: str, *, required: bool) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise ValidationError(FieldError(field, "write why"),
                                  hint="A note is required: it is what an auditor reads.")
        return None
    if len(text) > MAX_NOTE:
        raise ValidationError(FieldError(field, f"at most {MAX_NOTE} characters"))
    return text


class WholeDeploymentOnly(Forbidden):
    """A month of every agency, asked by a user or token of some agencies only."""

    def __init__(self) -> None:
        super().__init__("closing a month of every agency needs the whole deployment",
                         hint="Name one of your agencies, or ask province finance.")
        self.reason = "whole_deployment"


def _agency(session: Session, code: str | None, scope: Scope = ALL) -> Agency | None:
    if code is None or not code.strip():
        if not scope.is_all:
            raise WholeDeploymentOnly()
        return None
    agency = session.scalars(select(Agency).where(Agency.code == code.strip())).first()
    if agency is None:
        raise ValidationError(FieldError("agency", f"no agency has the code {code}"))
    if not scope.allows(agency.id):
        raise NotFound(f"no agency {code} among yours",
                       hint="Name one of your agencies (GET /api/v1/agencies lists them).")
    return agency


def _find(session: Session, month: date, agency_id: int | None, *,
          lock: bool = False) -> Period | None:
    stmt = select(Period).where(Period.month == month.replace(day=1),
                                Period.agency_id.is_(None) if agency_id is None
                                else Period.agency_id == agency_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).first()


def get(session: Session, period_id: int, *, lock: bool = False, scope: Scope = ALL) -> Period:
    """The period ``period_id``; one out of ``scope`` (another agency's, or every agency's
    for a narrower scope) is not found."""
    stmt = select(Period).where(Period.id == period_id).execution_options(
        populate_existing=True)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    period = session.scalars(stmt).first()
    if period is None or not scope.allows_period(period.agency_id):
        raise NotFound(f"period {period_id} does not exist",
                       hint="List the months with `recon periods list`.")
    return period


def agency_codes(session: Session) -> dict[int, str]:
    """Every agency's code by id (the periods page names a close's agency by its code)."""
    return {i: c for i, c in session.execute(select(Agency.id, Agency.code))}


def list_periods(session: Session, scope: Scope = ALL) -> list[Period]:
    return list(session.scalars(select(Period).where(period_condition(scope))
                                .order_by(Period.month.desc(), Period.agency_id)))


def discrepancies_of(session: Session, month: date, agency_id: int | None,
                     *, status: str | None = None) -> list[Discrepancy]:
    """The discrepancies dated in ``month`` (by their subject's first part, see
    :mod:`recon.periods`; a ``late_for_closed_period`` by when it was found),
    for ``agency_id`` (None: all), by id."""
    start, end = month_window(month)
    first = month.replace(day=1)
    nxt = month_of(end)
    pd = aliased(Dossier)
    by_part = {part: [k.name for k in REGISTRY if k.subject[0] == part and k.name != LATE]
               for part in ("dossier", "payment", "settlement_line")}
    dated = or_(
        and_(Discrepancy.kind.in_(by_part["dossier"]), Dossier.received_at >= start,
             Dossier.received_at < end),
        and_(Discrepancy.kind.in_(by_part["payment"]),
             Payment.paid_at >= start, Payment.paid_at < end),
        and_(Discrepancy.kind.in_(by_part["settlement_line"]),
             or_(and_(SettlementLine.transaction_at >= start,
                      SettlementLine.transaction_at < end),
                 and_(SettlementLine.transaction_at.is_(None),
                      SettlementLine.settled_on >= first,
                      SettlementLine.settled_on < nxt))),
        # late data for a closed month belongs to the month it was found in
        and_(Discrepancy.kind == LATE, Discrepancy.detected_at >= start,
             Discrepancy.detected_at < end))
    stmt = (select(Discrepancy)
            .outerjoin(Dossier, Dossier.id == Discrepancy.dossier_id)
            .outerjoin(Payment, Payment.id == Discrepancy.payment_id)
            .outerjoin(pd, pd.id == Payment.dossier_id)
            .outerjoin(SettlementLine, SettlementLine.id == Discrepancy.settlement_line_id)
            .where(dated).order_by(Discrepancy.id))
    if agency_id is not None:
        stmt = stmt.where(or_(and_(Discrepancy.kind.in_(by_part["dossier"]),
                                   Dossier.agency_id == agency_id),
                              and_(Discrepancy.kind.in_([*by_part["payment"], LATE]),
                                   pd.agency_id == agency_id),
                              # a late finding about a dossier (a reassessment)
                              and_(Discrepancy.kind == LATE, Discrepancy.payment_id.is_(None),
                                   Dossier.agency_id == agency_id)))
    if status is not None:
        stmt = stmt.where(Discrepancy.status == status)
    return list(session.scalars(stmt))


def _carry(session: Session, month: date, agency_id: int | None,
           carry_forward: dict[int, str]) -> dict[str, str]:
    open_ids = [d.id for d in discrepancies_of(session, month, agency_id, status="open")]
    missing = [i for i in open_ids if i not in carry_forward]
    if missing:
        shown = ", ".join(str(i) for i in missing[:20])
        raise ReviewError(
            "open_discrepancies",
            f"{month:%m/%Y} has {len(missing)} open discrepancies ({shown}"
            f"{', …' if len(missing) > 20 else ''})",
            "Resolve them first, or carry each forward with a note "
            "(--carry-forward ID=NOTE).")
    out: dict[str, str] = {}
    for i in open_ids:
        note = _text(carry_forward[i], f"carry_forward[{i}]", required=True)
        out[str(i)] = note or ""
    return out


def propose(session: Session, clock: Clock, *, actor: str, month: date,
            agency_code: str | None = None, note: object = None,
            carry_forward: dict[int, str] | None = None,
            person: str | None = None, scope: Scope = ALL) -> Period:
    """Propose closing ``month`` (see the module docstring); only for an agency of
    ``scope`` (every agency: only for the whole deployment). ``person`` is who answers for
    ``actor`` (a token's owner), which the approver must not be."""
    maker = four_eyes_person(actor, person)
    agency = _agency(session, agency_code, scope)
    agency_id = agency.id if agency else None
    month = month.replace(day=1)
    text = _text(note, "note", required=False)
    period = _find(session, month, agency_id, lock=True)
    if period is not None and period.status != "open":
        raise ReviewError(f"already_{period.status}",
                          f"{month:%m/%Y} is already {period.status}",
                          "Approve or reopen it instead." if period.status == "proposed"
                          else "An admin may reopen it, with a reason.")
    carried = _carry(session, month, agency_id, carry_forward or {})
    now = clock.now()
    if period is None:
        period = Period(agency_id=agency_id, month=month, status="open", created_at=now,
                        updated_at=now)
        session.add(period)
    period.status = "proposed"
    period.proposed_by = actor
    period.proposed_by_person = maker
    period.proposed_at = now
    period.proposal_note = text
    period.carried_forward = json.dumps(carried, ensure_ascii=False, sort_keys=True)
    period.updated_at = now
    try:
        session.flush()
    except IntegrityError as exc:
        # uq_periods_month_scope_key: another proposal for this month and scope was stored
        # between our look and our insert (the row lock cannot cover a row not yet there)
        if "scope_key" not in str(exc.orig) and "uq_periods" not in str(exc.orig):
            raise
        raise ReviewError(
            "close_in_progress",
            f"{month:%m/%Y} ({agency_code or 'all agencies'}) was proposed for closing by "
            "someone else at the same moment; this proposal was not stored",
            "Reload the list of months: approve or reject the proposal that is there.",
        ) from None
    audit.record(session, clock, actor=actor, action="period.close_proposed",
                 entity_type="period", entity_id=period.id,
                 data={"month": month.isoformat(), "agency": agency_code,
                       "note": text, "carried_forward": carried,
                       **({"person": maker} if maker != actor else {})})
    return period


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot_of(session: Session, period: Period) -> dict[str, Any]:
    """The frozen report of a month: its figures, each day's, its discrepancies."""
    start, end = month_window(period.month)
    agency = period.agency_id  # a close for one agency freezes that agency's figures only
    month_fig = reports._period(session, f"{period.month:%m/%Y}", start, end, agency_id=agency)
    days = []
    day = period.month
    while day.month == period.month.month:
        summary = reports.daily_summary(session, day, agency_id=agency)
        days.append({"day": day.isoformat(), "totals": summary.totals,
                     "settled": _jsonable(summary.settled)})
        day += timedelta(days=1)
    carried = json.loads(period.carried_forward or "{}")
    rows = []
    for d in discrepancies_of(session, period.month, period.agency_id):
        rows.append({"id": d.id, "identity": d.identity, "kind": d.kind, "status": d.status,
                     "expected": d.expected_amount, "actual": d.actual_amount,
                     "delta": d.delta, "explanation": d.explanation,
                     "resolution_type": d.resolution_type,
                     "resolution_note": d.resolution_note, "resolved_by": d.resolved_by,
                     "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
                     "auto_resolved_reason": d.auto_resolved_reason,
                     "carried_forward": carried.get(str(d.id))})
    agency_code = None
    if period.agency_id is not None:
        agency_code = session.scalar(select(Agency.code).where(Agency.id == period.agency_id))
    return {"month": period.month.isoformat(), "agency": agency_code,
            "proposed_by": period.proposed_by, "month_figures": _jsonable(month_fig),
            "days": days, "discrepancies": rows}


def snapshot_hash(snapshot: dict[str, Any]) -> tuple[str, str]:
    text = audit.canonical_json(snapshot)
    return text, hashlib.sha256(text.encode()).hexdigest()


def approve(session: Session, clock: Clock, period_id: int, *, actor: str,
            person: str | None = None, scope: Scope = ALL) -> Period:
    """Close the month: a second person approves the proposal (see the module docstring)."""
    checker = four_eyes_person(actor, person)
    period = get(session, period_id, lock=True, scope=scope)
    if period.status != "proposed" or period.proposed_by is None:
        raise ReviewError("not_proposed", f"{period.month:%m/%Y} has no proposal to approve",
                          "Propose closing it first.")
    try:
        check_second_person(period.proposed_by, period.proposed_by_person, checker)
    except ActionsSameUser:
        raise SameUser() from None
    carried = {int(k): v for k, v in json.loads(period.carried_forward or "{}").items()}
    _carry(session, period.month, period.agency_id, carried)  # anything new opened since?
    now = clock.now()
    period.approved_by = actor
    period.approved_at = now
    snap = snapshot_of(session, period)
    snap["approved_by"] = actor
    snap["approved_at"] = now.isoformat()
    text, digest = snapshot_hash(snap)
    period.status = "closed"
    period.snapshot = text
    period.snapshot_sha256 = digest
    period.updated_at = now
    event = audit.record(session, clock, actor=actor, action="period.closed",
                         entity_type="period", entity_id=period.id,
                         data={"month": period.month.isoformat(), "agency": snap["agency"],
                               "proposed_by": period.proposed_by, "sha256": digest,
                               "discrepancies": len(snap["discrepancies"])})
    session.add(PeriodSnapshot(period_id=period.id, taken_at=now,
                               proposed_by=period.proposed_by, approved_by=actor,
                               snapshot=text, sha256=digest, audit_event_id=event.id))
    session.flush()
    return period


def reject(session: Session, clock: Clock, period_id: int, *, actor: str,
           scope: Scope = ALL) -> Period:
    """Withdraw or turn down a proposal: the month is open again."""
    period = get(session, period_id, lock=True, scope=scope)
    if period.status != "proposed":
        raise ReviewError("not_proposed", f"{period.month:%m/%Y} has no proposal")
    audit.record(session, clock, actor=actor, action="period.close_rejected",
                 entity_type="period", entity_id=period.id,
                 data={"month": period.month.isoformat(), "proposed_by": period.proposed_by})
    period.status = "open"
    period.proposed_by_person = None
    period.updated_at = clock.now()
    return period


def reopen(session: Session, clock: Clock, period_id: int, *, actor: str, role: str,
           reason: object, scope: Scope = ALL) -> Period:
    """An admin opens a closed month again, saying why; its snapshots are kept."""
    period = get(session, period_id, lock=True, scope=scope)  # another agency's: 404 first
    if role not in REOPEN_ROLES:
        raise Forbidden("only an admin may reopen a closed month",
                        hint="Ask an administrator to reopen it.")
    text = _text(reason, "reason", required=True)
    if period.status != "closed":
        raise ReviewError("not_closed", f"{period.month:%m/%Y} is {period.status}, not closed")
    now = clock.now()
    audit.record(session, clock, actor=actor, action="period.reopened",
                 entity_type="period", entity_id=period.id,
                 data={"month": period.month.isoformat(), "reason": text,
                       "sha256": period.snapshot_sha256, "approved_by": period.approved_by})
    period.status = "open"
    period.reopened_by = actor
    period.reopened_at = now
    period.reopen_reason = text
    period.updated_at = now
    return period


def snapshots(session: Session, period_id: int) -> list[PeriodSnapshot]:
    return list(session.scalars(select(PeriodSnapshot).where(
        PeriodSnapshot.period_id == period_id).order_by(PeriodSnapshot.id)))


def as_dict(period: Period, snapshots_count: int = 0) -> dict[str, Any]:
    """A period as the API and the CLI show it."""
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None
    month = f"{period.month.year:04d}-{period.month.month:02d}"  # %Y does not pad year 600
    return {"id": period.id, "month": month, "agency_id": period.agency_id,
            "status": period.status, "proposed_by": period.proposed_by,
            "proposed_at": iso(period.proposed_at), "proposal_note": period.proposal_note,
            "carried_forward": json.loads(period.carried_forward or "{}"),
            "approved_by": period.approved_by, "approved_at": iso(period.approved_at),
            "reopened_by": period.reopened_by, "reopened_at": iso(period.reopened_at),
            "reopen_reason": period.reopen_reason, "snapshot_sha256": period.snapshot_sha256,
            "snapshots": snapshots_count}


REPORT_HEADER: Final = ("Mã", "Loại", "Trạng thái", "Kỳ vọng (₫)", "Thực tế (₫)",
                        "Chênh lệch (₫)", "Giải thích", "Cách xử lý", "Ghi chú",
                        "Người xử lý", "Chuyển kỳ sau")


def report_rows(snapshot: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The discrepancy rows of a snapshot, for its XLSX and HTML report."""
    return [(r["identity"], r["kind"], r["status"], r["expected"], r["actual"], r["delta"],
             r["explanation"], r["resolution_type"] or r["auto_resolved_reason"],
             r["resolution_note"], r["resolved_by"], r["carried_forward"])
            for r in snapshot.get("discrepancies", [])]


def write_report_xlsx(snapshot: dict[str, Any], out: Any) -> int:
    """The snapshot's discrepancies as an XLSX sheet (amounts as integers of VND)."""
    from recon.review.exports import write_table_xlsx  # noqa: PLC0415 - openpyxl on demand

    return write_table_xlsx(out, f"Khoa so {snapshot['month'][:7]}", REPORT_HEADER,
                            report_rows(snapshot), amounts=frozenset({3, 4, 5}))
