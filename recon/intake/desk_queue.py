"""The cashier's list of the day: dossiers received on a day that still owe fees.

Read by the desk (:mod:`recon.web.cashier`): newest first, of one agency or of all, filtered by
the applicant's folded name (diacritics optional) or by a part of the code. The day (and agency)
narrow through the index on ``(agency_id, received_at)`` (or the one on ``received_at``); what
is owed is assessed − succeeded payments, as on the dossier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, Subquery, func, or_, select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.intake.dossiers import paid_expression
from recon.models import Agency, Dossier, FeeLine, Procedure
from recon.models.dossiers import fold_name
from recon.scope import ALL, Scope, agency_condition

#: rows shown at most; the count and the amount cover every match
LIST_LIMIT = 100


@dataclass(frozen=True)
class QueueRow:
    code: str
    applicant: str
    procedure: str
    agency: str
    received_at: datetime
    owed: int


@dataclass(frozen=True)
class Queue:
    """Today's dossiers that still owe fees: those shown, and how many match in all."""

    day: date
    agency: Agency | None
    query: str
    rows: list[QueueRow]
    total: int
    owed: int


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A calendar day in Vietnam, as the half-open range of ``received_at`` it covers."""
    start = datetime.combine(day, time(0), tzinfo=VN_TZ)
    return start, start + timedelta(days=1)


def _owing_today(day: date, agency: Agency | None, query: str,
                 scope: Scope = ALL) -> Subquery:
    """The dossiers received on ``day`` (of ``agency``, or of all) whose folded applicant name
    or code contains ``query`` folded, each with what it still owes (may be 0)."""
    start, end = day_bounds(day)
    assessed = (select(func.coalesce(func.sum(FeeLine.amount), 0))
                .where(FeeLine.dossier_id == Dossier.id).correlate(Dossier).scalar_subquery())
    paid = paid_expression(Dossier.id)  # its payments and its shares of split transfers
    conditions = [Dossier.received_at >= start, Dossier.received_at < end]
    if agency is not None:
        conditions.append(Dossier.agency_id == agency.id)
    if not scope.is_all:
        conditions.append(agency_condition(Dossier.agency_id, scope))
    folded = fold_name(query)
    if folded:
        conditions.append(or_(Dossier.applicant_name_folded.contains(folded, autoescape=True),
                              func.lower(Dossier.code).contains(folded, autoescape=True)))
    return (select(Dossier.id, Dossier.code, Dossier.applicant_name, Dossier.received_at,
                   Dossier.procedure_id, Dossier.agency_id, (assessed - paid).label("owed"))
            .where(*conditions).subquery("day_rows"))


def owing_statement(day: date, *, agency: Agency | None = None, query: str = "",
                    limit: int | None = None, scope: Scope = ALL) -> Select[Any]:
    """The rows of the list: those of :func:`_owing_today` that owe something, newest first.

    The day (and agency) narrow through the index on ``(agency_id, received_at)`` (or the one
    on ``received_at``); what is owed is assessed − succeeded payments, as on the dossier.
    """
    day_rows = _owing_today(day, agency, query, scope)
    return (select(day_rows.c.code, day_rows.c.applicant_name, Procedure.name, Agency.name,
                   day_rows.c.received_at, day_rows.c.owed)
            .join(Procedure, Procedure.id == day_rows.c.procedure_id)
            .join(Agency, Agency.id == day_rows.c.agency_id)
            .where(day_rows.c.owed > 0)
            .order_by(day_rows.c.received_at.desc(), day_rows.c.id.desc())
            .limit(LIST_LIMIT if limit is None else limit))


def owing_queue(s: Session, day: date, *, agency: Agency | None = None, query: str = "",
                limit: int | None = None, scope: Scope = ALL) -> Queue:
    """Today's list: the newest ``limit`` dossiers that owe fees, and how many (and how much)
    match in all."""
    day_rows = _owing_today(day, agency, query, scope)
    total, owed = s.execute(select(func.count(), func.coalesce(func.sum(day_rows.c.owed), 0))
                            .where(day_rows.c.owed > 0)).one()
    rows = s.execute(owing_statement(day, agency=agency, query=query, limit=limit,
                                     scope=scope)).all()
    return Queue(day, agency, query,
                 [QueueRow(code, applicant, procedure, agency_name, received, int(owed_by))
                  for code, applicant, procedure, agency_name, received, owed_by in rows],
                 int(total), int(owed))


def exact_dossier_code(s: Session, text: str, scope: Scope = ALL) -> str | None:
    """The code of the dossier of ``scope`` ``text`` names exactly (a scan); upper case is
    tried too."""
    for candidate in dict.fromkeys((text, text.upper())):
        found = s.scalar(select(Dossier.code).where(
            Dossier.code == candidate, agency_condition(Dossier.agency_id, scope)))
        if found is not None:
            return str(found)
    return None


def agency_by_code(s: Session, code: str, scope: Scope = ALL) -> Agency | None:
    return s.scalar(select(Agency).where(Agency.code == code,
                                         agency_condition(Agency.id, scope)))


def agency_by_id(s: Session, agency_id: int) -> Agency | None:
    return s.get(Agency, agency_id)


def agency_choices(s: Session, scope: Scope = ALL) -> list[tuple[str, str]]:
    """Every agency of ``scope`` as (code, name), by name: the desk's counter picker."""
    return [(code, name) for code, name in
            s.execute(select(Agency.code, Agency.name).where(agency_condition(Agency.id, scope))
                      .order_by(Agency.name)).all()]
