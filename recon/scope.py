"""Which agencies a caller may see: the :class:`Scope` value and the one place that turns it
into SQL conditions.

A scope is either the whole deployment (province finance, administrators, and every user or
token that was never narrowed) or a set of agency ids. It is resolved once per request from the
user or token (``recon.accounts.scopes.scope_of``) and handed to every read and every action;
services add the conditions below to their selects. Each kind of row reaches its agency one way:

- a dossier by ``agency_id``; a fee line, an intent and a payment through their dossier (a
  payment matched to an intent carries the intent's dossier);
- a settlement line through the payment it settles (same provider transaction, or a bank
  statement's line by the payment's bank reference);
- a discrepancy through its dossier, its payment or its settlement line (any one in scope),
  or the onward transfer it is about, or the collecting organisation its identity names
  (the remittance kinds and ``deposit_overdue``);
- an audit event through the entity it is about (dossier, intent, payment, discrepancy,
  period); events about anything else (users, tokens, runs, imports) only with the whole
  deployment;
- a settlement file is one provider's report spanning agencies: only the whole deployment
  downloads it or lists it.
- a payout batch (a provider's transfer for a session of every agency) and the bank credit
  paying it belong to no agency: only the whole deployment sees them
  (``recon.review.payouts``).

A token that belongs to a person sees the intersection of its scope and its owner's
(``recon.accounts.scopes.scope_of``).

Rows that reach no agency (money matching no dossier) belong to no agency: only the whole
deployment sees them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, cast, exists, false, literal, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from recon.models import (
    AuditEvent,
    Discrepancy,
    Dossier,
    Payment,
    PaymentIntent,
    SettlementLine,
    Transfer,
)
from recon.models.periods import Period


@dataclass(frozen=True)
class Scope:
    """``agencies`` None: the whole deployment; otherwise exactly these agency ids (possibly
    none at all: then nothing is visible)."""

    agencies: frozenset[int] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, agency_ids: Iterable[int]) -> Scope:
        return cls(frozenset(agency_ids))

    @property
    def is_all(self) -> bool:
        return self.agencies is None

    def allows(self, agency_id: int | None) -> bool:
        """Whether a row of agency ``agency_id`` is visible (None: a row of no agency)."""
        if self.agencies is None:
            return True
        return agency_id is not None and agency_id in self.agencies

    def allows_period(self, agency_id: int | None) -> bool:
        """A period of one agency (``agency_id``) or of every agency (None): the latter's
        figures span all agencies, so only the whole deployment sees it."""
        return self.agencies is None or (agency_id is not None and agency_id in self.agencies)

    def intersect(self, other: Scope) -> Scope:
        """What both scopes see (a token of a person: never more than the person)."""
        if self.agencies is None:
            return other
        if other.agencies is None:
            return self
        return Scope(self.agencies & other.agencies)

    def narrow(self, agency_id: int | None) -> Scope:
        """This scope within agency ``agency_id`` (None: unchanged), e.g. one agency's month."""
        return self if agency_id is None else self.intersect(Scope.of((agency_id,)))

    @property
    def only(self) -> int | None:
        """The one agency of a scope of exactly one (the desk needs not ask which)."""
        if self.agencies is not None and len(self.agencies) == 1:
            return next(iter(self.agencies))
        return None

    def describe(self, codes: dict[int, str] | None = None) -> str:
        if self.agencies is None:
            return "whole deployment"
        if not self.agencies:
            return "no agency"
        names = sorted((codes or {}).get(a, str(a)) for a in self.agencies)
        return ", ".join(names)


ALL = Scope.everything()


def agency_condition(column: Any, scope: Scope) -> ColumnElement[bool]:
    """``column`` (an agency id) is in the scope."""
    if scope.agencies is None:
        return true()
    if not scope.agencies:
        return false()
    found: ColumnElement[bool] = column.in_(sorted(scope.agencies))
    return found


def _dossier_ids(scope: Scope) -> Any:
    return select(Dossier.id).where(agency_condition(Dossier.agency_id, scope))


def dossier_condition(dossier_id: Any, scope: Scope) -> ColumnElement[bool]:
    """``dossier_id`` (a dossier id column) is a dossier in the scope."""
    if scope.agencies is None:
        return true()
    found: ColumnElement[bool] = dossier_id.in_(_dossier_ids(scope))
    return found


def intent_condition(scope: Scope) -> ColumnElement[bool]:
    return dossier_condition(PaymentIntent.dossier_id, scope)


def payment_condition(scope: Scope, payment: Any = Payment) -> ColumnElement[bool]:
    """A payment of a dossier of the scope. A payment matched to an intent carries the
    intent's dossier (``recon.payments.recording``), so its dossier is the one path."""
    if scope.agencies is None:
        return true()
    found: ColumnElement[bool] = payment.dossier_id.in_(_dossier_ids(scope))
    return found


def line_condition(scope: Scope, line: Any = SettlementLine) -> ColumnElement[bool]:
    """A settlement line is in scope when the payment it settles is: the payment of its
    provider transaction, or (a bank statement's line) the payment with that bank reference."""
    if scope.agencies is None:
        return true()
    found: ColumnElement[bool] = exists().where(
        Payment.provider == line.provider,
        or_(Payment.provider_txn_id == line.provider_txn_id,
            Payment.bank_reference == line.provider_txn_id),
        payment_condition(scope)).correlate(line)
    return found


def discrepancy_condition(scope: Scope, discrepancy: Any = Discrepancy) -> ColumnElement[bool]:
    if scope.agencies is None:
        return true()
    scoped_lines = (select(SettlementLine.id)
                    .join(Payment, and_(Payment.provider == SettlementLine.provider,
                                        Payment.provider_txn_id == SettlementLine.provider_txn_id))
                    .where(payment_condition(scope)))
    return or_(
        discrepancy.dossier_id.in_(_dossier_ids(scope)),
        discrepancy.payment_id.in_(select(Payment.id).where(payment_condition(scope))),
        discrepancy.settlement_line_id.in_(scoped_lines),
        # a finding about an onward transfer (forward_mismatch): the transfer's agency
        discrepancy.identity.in_(
            select(literal("forward_mismatch:transfer=") + cast(Transfer.id, String))
            .where(agency_condition(Transfer.agency_id, scope))),
        # a finding about what a collecting organisation owes the budget (remittance_*) or
        # its fee-pending account (deposit_overdue): its identity names the agency
        # (remittance_short:agency=7:month=202103:…, deposit_overdue:agency=7:period=…)
        *(discrepancy.identity.like(f"{prefix}:agency={agency}:%", escape="!")
          for prefix in ("remittance!_%", "deposit!_overdue")
          for agency in sorted(scope.agencies)),
    )


def period_condition(scope: Scope) -> ColumnElement[bool]:
    """A period of one agency in scope; a period of every agency only for the whole
    deployment (its figures span all agencies)."""
    if scope.agencies is None:
        return true()
    return agency_condition(Period.agency_id, scope)


def audit_condition(scope: Scope) -> ColumnElement[bool]:
    """An audit event about an entity in the scope (see the module's note)."""
    if scope.agencies is None:
        return true()

    def ids(column: Any, condition: ColumnElement[bool]) -> Any:
        return select(cast(column, String)).where(condition)

    kind = AuditEvent.entity_type
    eid = AuditEvent.entity_id
    return or_(
        and_(kind == "dossier",
             eid.in_(select(Dossier.code).where(agency_condition(Dossier.agency_id, scope)))),
        and_(kind == "payment_intent", eid.in_(ids(PaymentIntent.id, intent_condition(scope)))),
        and_(kind == "payment", eid.in_(ids(Payment.id, payment_condition(scope)))),
        and_(kind == "discrepancy",
             eid.in_(ids(Discrepancy.id, discrepancy_condition(scope)))),
        and_(kind == "period", eid.in_(ids(Period.id, period_condition(scope)))),
    )


def _visible(session: Session, column: Any, row_id: int, condition: ColumnElement[bool]
             ) -> bool:
    return session.execute(select(column).where(column == row_id, condition)).first() is not None


def dossier_visible(session: Session, dossier_id: int, scope: Scope) -> bool:
    return scope.is_all or _visible(session, Dossier.id, dossier_id,
                                    agency_condition(Dossier.agency_id, scope))


def intent_visible(session: Session, intent_id: int, scope: Scope) -> bool:
    return scope.is_all or _visible(session, PaymentIntent.id, intent_id,
                                    intent_condition(scope))


def payment_visible(session: Session, payment_id: int, scope: Scope) -> bool:
    return scope.is_all or _visible(session, Payment.id, payment_id, payment_condition(scope))


def discrepancy_visible(session: Session, discrepancy_id: int, scope: Scope) -> bool:
    return scope.is_all or _visible(session, Discrepancy.id, discrepancy_id,
                                    discrepancy_condition(scope))


def period_visible(session: Session, period_id: int, scope: Scope) -> bool:
    return scope.is_all or _visible(session, Period.id, period_id, period_condition(scope))


__all__ = ["ALL", "Scope", "agency_condition", "audit_condition", "discrepancy_condition",
           "discrepancy_visible", "dossier_condition", "dossier_visible", "intent_condition",
           "intent_visible", "line_condition", "payment_condition", "payment_visible",
           "period_condition", "period_visible"]
