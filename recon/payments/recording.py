"""Recording money that moved: exactly one Payment per (provider, provider_txn_id).

Every payment — a webhook from any provider, a cash receipt at the desk, a pulled statement —
goes through :func:`record_payment`. It inserts with ``ON CONFLICT DO NOTHING`` (both SQLite and
PostgreSQL), so concurrent deliveries of the same transaction race to one row; matching, the
intent's state and the audit event are written in the same transaction as the insert, so a
failure anywhere leaves nothing half-written and the provider's retry starts clean.

State never goes backwards: a late ``failed`` after ``succeeded`` is ignored (and said so);
``refunded`` may follow ``succeeded``; ``succeeded`` may follow ``failed`` (a retried charge).

On PostgreSQL, :func:`record_new_payment` does what :func:`record_payment` does for a payment not
recorded yet with two statements and no unit of work, the second writing everything (payment,
intent, audit event, the callback's verdict) at once: a webhook's first delivery, the hot path.
Anything else (a redelivery, a status change) it leaves to :func:`record_payment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Table, TextClause, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from adapters.scrub import mask_pans_text
from recon import driver
from recon.audit import chain as audit
from recon.clock import Clock
from recon.models import Dossier, FeeLine, Payment, PaymentAllocation, PaymentIntent
from recon.payments.references import find_references, is_valid
from recon.payments.split import (
    AllocationPlan,
    Owed,
    Refusal,
    memo_references,
    split_by_references,
)
from recon.receipts.issuing import Receipting

PaymentStatus = Literal["succeeded", "failed", "refunded"]
Outcome = Literal["recorded", "duplicate", "updated", "ignored_stale"]

# which status may replace which, on a later delivery of the same transaction
_TRANSITIONS: dict[str, frozenset[str]] = {
    "failed": frozenset({"succeeded", "refunded"}),
    "succeeded": frozenset({"refunded"}),
    "refunded": frozenset(),
}


@dataclass(frozen=True)
class PaymentEvent:
    """A normalised report of money moving (from an adapter, the desk or a statement)."""

    provider: str
    provider_txn_id: str
    channel: str
    amount: int
    status: PaymentStatus
    paid_at: datetime
    reference: str | None = None  # our payment reference, when the provider carries it
    order_code: int | None = None  # payOS numeric order code
    order_id: str | None = None  # the provider's own order id (ZaloPay app_trans_id, ...)
    memo: str | None = None  # free text to search for a reference (bank transfers)
    receipt_number: str | None = None
    dossier_code: str | None = None  # cash at the desk names its dossier directly
    bank_reference: str | None = None  # the bank's reference of a credit (bank statements)
    method: str | None = None  # how the payer paid (adapters.base.METHODS), if reported
    card_foreign: bool | None = None  # the card was issued abroad, if reported


@dataclass(frozen=True)
class RecordResult:
    payment: Payment
    outcome: Outcome
    intent: PaymentIntent | None

    @property
    def matched(self) -> bool:
        return self.payment.dossier_id is not None


# Built once: a webhook's hot path runs these for every call (no per-call statement work).
_INTENTS = cast(Table, PaymentIntent.__table__)
_INTENT_BY = {
    column: select(_INTENTS).where(_INTENTS.c[column] == bindparam("value"))
    for column in ("order_code", "provider_order_id", "reference")
}


def _intent_by(session: Session, column: str, value: object) -> PaymentIntent | None:
    """The intent whose ``column`` is ``value``: the session's own object if it has one (as a
    query would give), else one made from the row (a Core read: cheaper than an ORM load)."""
    row = session.execute(_INTENT_BY[column], {"value": value}).mappings().one_or_none()
    if row is None:
        return None
    known = session.identity_map.get(identity_key(PaymentIntent, (row["id"],)))
    if known is not None:
        return known
    intent = PaymentIntent(**row)
    make_transient_to_detached(intent)  # persistent as if loaded
    session.add(intent)
    return intent


def reference_candidates(event: PaymentEvent, prefix: str) -> list[str]:
    """The references ``event`` may be paying, best first: its reference as given (or those
    found in it), then those found in its memo."""
    candidates: list[str] = []
    if event.reference:
        ref = event.reference.strip().upper()
        if is_valid(ref, prefix):
            candidates.append(ref)
        else:
            candidates.extend(find_references(event.reference, prefix))
    if event.memo:
        candidates.extend(find_references(event.memo, prefix))
    return list(dict.fromkeys(candidates))


def find_intent(session: Session, event: PaymentEvent, prefix: str) -> PaymentIntent | None:
    """The intent a payment is for: by order code, by exact reference, then from the memo."""
    session.flush()  # an intent made in this transaction is found too (as a query would)
    if event.order_code is not None:
        intent = _intent_by(session, "order_code", event.order_code)
        if intent is not None:
            return intent
    if event.order_id:
        intent = _intent_by(session, "provider_order_id", event.order_id)
        if intent is not None:
            return intent
    for ref in reference_candidates(event, prefix):
        intent = _intent_by(session, "reference", ref)
        if intent is not None:
            return intent
    return None


_PAYMENTS = cast(Table, Payment.__table__)  # Core statements: no ORM work per call
_INSERT_OR_IGNORE = {
    name: dialect_insert(_PAYMENTS).on_conflict_do_nothing(
        index_elements=["provider", "provider_txn_id"]).returning(_PAYMENTS.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _insert_or_ignore(session: Session, values: dict[str, object]) -> Payment | None:
    """The new row, or None when this (provider, provider_txn_id) exists already.

    One round trip, a statement built once (a webhook's hot path): the new row's values are
    all ours, so its object is made from them and its id, never read back."""
    stmt = _INSERT_OR_IGNORE[session.get_bind().dialect.name]
    new_id = session.execute(stmt, values).scalar_one_or_none()
    if new_id is None:
        return None
    payment = Payment(id=new_id, **{
        k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in values.items()})
    make_transient_to_detached(payment)  # persistent as if loaded: nothing to flush
    session.add(payment)
    return payment


def intent_paid_total(session: Session, intent_id: int) -> int:
    return int(session.execute(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.intent_id == intent_id, Payment.status == "succeeded")).scalar_one())


_PAY_INTENT = update(_INTENTS).where(_INTENTS.c.id == bindparam("intent_id"),
                                     _INTENTS.c.status != "paid")


def _settle_intent(session: Session, clock: Clock, intent: PaymentIntent,
                   paid_at: datetime, covering: int = 0) -> None:
    """Mark ``intent`` paid once its succeeded payments cover it. ``covering`` is the amount
    of a succeeded payment of this intent just written: when it covers the intent alone, the
    sum over its payments (amounts are never negative) need not be read."""
    if intent.status == "paid":
        return
    if covering < intent.amount:
        # A part payment: the sum must see every other part that committed. Lock the intent
        # first (FOR NO KEY UPDATE: it does not wait for the key-share locks that the payments'
        # foreign keys take), so of two parts recorded at once the second waits for the first
        # to commit and then sums both; without the lock each would sum only itself and the
        # intent would stay unpaid (SQLite serialises writers anyway).
        status = session.execute(
            select(PaymentIntent.status).where(PaymentIntent.id == intent.id)
            .with_for_update(key_share=True)).scalar_one()
        if status == "paid":
            set_committed_value(intent, "status", status)
            return
    if covering >= intent.amount or intent_paid_total(session, intent.id) >= intent.amount:
        now = clock.now()
        changes = {"status": "paid", "paid_at": paid_at, "closed_at": now, "updated_at": now}
        session.execute(_PAY_INTENT, {"intent_id": intent.id, **changes})
        for name, value in changes.items():  # the loaded object says so too, nothing to flush
            set_committed_value(intent, name, value)


def multi_references(event: PaymentEvent, prefix: str) -> list[str]:
    """The references of a transfer that pays several dossiers at once: those its memo names
    (in the order written, a repeated one as often as written) when there are two or more and
    nothing else names what it pays (no order code or id, no dossier code); else empty."""
    if event.order_code is not None or event.order_id or event.dossier_code or not event.memo:
        return []
    refs = memo_references(event.memo, prefix)
    return refs if len(refs) >= 2 else []


def owed_by_reference(session: Session, references: list[str]) -> dict[str, Owed]:
    """Each known reference's dossier and what that dossier owes now: assessed minus its
    succeeded payments and its allocations of split payments (never below 0)."""
    out: dict[str, Owed] = {}
    for ref in dict.fromkeys(references):
        dossier_id = session.execute(select(PaymentIntent.dossier_id).where(
            PaymentIntent.reference == ref)).scalar_one_or_none()
        if dossier_id is None:
            continue
        assessed = session.execute(select(func.coalesce(func.sum(FeeLine.amount), 0)).where(
            FeeLine.dossier_id == dossier_id)).scalar_one()
        paid = session.execute(select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.dossier_id == dossier_id, Payment.status == "succeeded")).scalar_one()
        allocated = session.execute(
            select(func.coalesce(func.sum(PaymentAllocation.amount), 0))
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.dossier_id == dossier_id,
                   Payment.status == "succeeded")).scalar_one()
        out[ref] = Owed(int(dossier_id), max(int(assessed) - int(paid) - int(allocated), 0))
    return out


def refusal_json(refusal: Refusal) -> str:
    """What ``payments.split_refusal`` holds (read back by the engine's loader)."""
    return audit.canonical_json({"reason": refusal.reason, "references": list(refusal.references),
                                 "culprits": list(refusal.culprits),
                                 "difference": refusal.difference})


def _split_new_payment(session: Session, clock: Clock, payment: Payment, event: PaymentEvent,
                       references: list[str], actor: str) -> AllocationPlan | Refusal:
    """Split a new succeeded payment naming several references, or say why not; audited, in
    the caller's transaction (the payment's own)."""
    outcome = split_by_references(references, event.amount,
                                  owed_by_reference(session, references))
    now = clock.now()
    if isinstance(outcome, AllocationPlan):
        session.add_all([PaymentAllocation(payment_id=payment.id, dossier_id=share.dossier_id,
                                           amount=share.amount, created_at=now)
                         for share in outcome.shares])
        for share in outcome.shares:
            intent = _intent_by(session, "reference", share.reference)
            if intent is not None and intent.status == "issued" and share.amount >= intent.amount:
                _settle_intent(session, clock, intent, event.paid_at, covering=share.amount)
        audit.record(session, clock, actor=actor, action=ALLOCATED, entity_type="payment",
                     entity_id=payment.id,
                     data={"amount": event.amount, "allocations": [
                         {"reference": share.reference, "dossier_id": share.dossier_id,
                          "amount": share.amount} for share in outcome.shares]})
    else:
        session.execute(update(_PAYMENTS).where(_PAYMENTS.c.id == payment.id).values(
            split_refusal=refusal_json(outcome)))
        audit.record(session, clock, actor=actor, action=SPLIT_REFUSED, entity_type="payment",
                     entity_id=payment.id,
                     data={"amount": event.amount, "reason": outcome.reason,
                           "references": list(outcome.references),
                           "culprits": list(outcome.culprits),
                           "difference": outcome.difference})
    session.flush()
    return outcome


def _issue_receipts(session: Session, clock: Clock, payment: Payment, actor: str,
                    receipts: Receipting | None, *, just_recorded: bool = False) -> None:
    """The receipts of a payment that just succeeded, in its transaction (never failing it:
    :mod:`recon.receipts.issuing`). ``just_recorded``: the payment was inserted by this
    transaction and matched to one dossier (no shares, no receipt yet)."""
    if receipts is not None and payment.status == "succeeded":
        session.flush()
        receipts.issue(session, payment, moment=clock.now(), actor=actor,
                       just_recorded=just_recorded)


def record_payment(session: Session, clock: Clock, event: PaymentEvent, *, actor: str,
                   reference_prefix: str, callback_id: int | None = None,
                   receipts: Receipting | None = None) -> RecordResult:
    """Record ``event`` exactly once, match it, move its intent; all in the caller's
    transaction. Never drops money: an unmatched success is kept for reconciliation.

    A transfer whose memo names several references (:func:`multi_references`) matches no one
    intent: a new succeeded one is split across their dossiers when nothing is in doubt, else
    its refusal is kept on the payment (:mod:`recon.payments.split`), both audited here.

    Given ``receipts`` (receipts on: :func:`recon.receipts.issuing.receipting`), a payment that
    is now succeeded gets its e-receipt in the same transaction — one per share of a split
    transfer; a receipt that cannot be issued is logged and leaves the payment recorded."""
    if isinstance(event.amount, bool) or not isinstance(event.amount, int) or event.amount < 0:
        raise ValueError("payment amount must be a non-negative int of VND")
    several = multi_references(event, reference_prefix)
    if several:
        values = _payment_values(event, clock.now(), actor=actor, callback_id=callback_id,
                                 intent_id=None, reference=None, dossier_id=None)
        payment = _insert_or_ignore(session, values)
        if payment is None:
            existing = session.execute(select(Payment).where(
                Payment.provider == event.provider,
                Payment.provider_txn_id == event.provider_txn_id)).scalar_one()
            return _redelivery(session, clock, existing, event, actor, callback_id, receipts)
        audit.record(session, clock, actor=actor, action=RECORDED,
                     entity_type="payment", entity_id=payment.id,
                     data={**_recorded_data(event, None, None, callback_id),
                           "references": list(dict.fromkeys(several))})
        if event.status == "succeeded" and isinstance(
                _split_new_payment(session, clock, payment, event, several, actor),
                AllocationPlan):
            _issue_receipts(session, clock, payment, actor, receipts)
        return RecordResult(payment, "recorded", None)
    intent = find_intent(session, event, reference_prefix)
    dossier_id = intent.dossier_id if intent is not None else None
    if dossier_id is None and event.dossier_code:
        dossier_id = session.execute(select(Dossier.id).where(
            Dossier.code == event.dossier_code)).scalar_one_or_none()
    now = clock.now()
    values = _payment_values(event, now, actor=actor, callback_id=callback_id,
                             intent_id=intent.id if intent is not None else None,
                             reference=intent.reference if intent is not None else None,
                             dossier_id=dossier_id)
    payment = _insert_or_ignore(session, values)
    if payment is not None:
        new_id = payment.id
        if intent is not None and event.status == "succeeded":
            _settle_intent(session, clock, intent, event.paid_at, covering=event.amount)
        audit.record(session, clock, actor=actor, action=RECORDED,
                     entity_type="payment", entity_id=new_id,
                     data=_recorded_data(event, payment.reference, dossier_id, callback_id))
        _issue_receipts(session, clock, payment, actor, receipts, just_recorded=True)
        return RecordResult(payment, "recorded", intent)
    existing = session.execute(select(Payment).where(
        Payment.provider == event.provider,
        Payment.provider_txn_id == event.provider_txn_id)).scalar_one()
    return _redelivery(session, clock, existing, event, actor, callback_id, receipts)


RECORDED = "payment.recorded"
ALLOCATED = "payment.allocated"
SPLIT_REFUSED = "payment.split_refused"


def _payment_values(event: PaymentEvent, now: datetime, *, actor: str, callback_id: int | None,
                    intent_id: int | None, reference: str | None, dossier_id: int | None
                    ) -> dict[str, object]:
    """The row of a new payment."""
    return {
        "provider": event.provider,
        "provider_txn_id": event.provider_txn_id,
        "channel": event.channel,
        "amount": event.amount,
        "status": event.status,
        "paid_at": event.paid_at,
        "received_at": now,
        "reference": reference,
        # matched on the memo as sent; stored with any card number masked (PCI DSS)
        "memo": mask_pans_text(event.memo) if event.memo else event.memo,
        "order_id": event.order_id or (str(event.order_code) if event.order_code else None),
        "bank_reference": event.bank_reference,
        "method": event.method,
        "card_foreign": event.card_foreign,
        "intent_id": intent_id,
        "dossier_id": dossier_id,
        "callback_id": callback_id,
        "receipt_number": event.receipt_number,
        "recorded_by": actor,
        "updated_at": now,
    }


def _recorded_data(event: PaymentEvent, reference: str | None, dossier_id: int | None,
                   callback_id: int | None) -> dict[str, object]:
    """The audit event's data for a new payment."""
    return {"provider": event.provider, "txn": event.provider_txn_id, "amount": event.amount,
            "status": event.status, "reference": reference, "dossier_id": dossier_id,
            "callback_id": callback_id}


def _redelivery(session: Session, clock: Clock, payment: Payment, event: PaymentEvent,
                actor: str, callback_id: int | None,
                receipts: Receipting | None = None) -> RecordResult:
    intent = session.get(PaymentIntent, payment.intent_id) if payment.intent_id else None
    if event.status == payment.status:
        return RecordResult(payment, "duplicate", intent)
    if event.status not in _TRANSITIONS[payment.status]:
        audit.record(session, clock, actor=actor, action="payment.stale_status_ignored",
                     entity_type="payment", entity_id=payment.id,
                     data={"kept": payment.status, "ignored": event.status,
                           "callback_id": callback_id})
        return RecordResult(payment, "ignored_stale", intent)
    previous = payment.status
    payment.status = event.status
    payment.updated_at = clock.now()
    if event.status == "succeeded" and intent is not None:
        session.flush()
        _settle_intent(session, clock, intent, event.paid_at)
    audit.record(session, clock, actor=actor, action="payment.status_changed",
                 entity_type="payment", entity_id=payment.id,
                 data={"from": previous, "to": event.status, "amount": payment.amount,
                       "callback_id": callback_id})
    if event.status == "succeeded":  # a retried charge that went through
        _issue_receipts(session, clock, payment, actor, receipts)
    return RecordResult(payment, "updated", intent)


# --------------------------------------------------------------------------------------------
# PostgreSQL: a new payment in one statement (a webhook's hot path)


@dataclass(frozen=True)
class MatchedIntent:
    """The columns of an intent that recording a payment for it reads."""

    id: int
    dossier_id: int
    amount: int
    status: str
    reference: str


@dataclass(frozen=True)
class NewPayment:
    """What :func:`record_new_payment` wrote: the payment's id and the intent it matched."""

    id: int
    intent: MatchedIntent | None
    intent_paid: bool = False


# The intent (as find_intent finds it: order code, then provider order id, then the candidate
# references in order) and the id the new payment will have. ``match_and_number_sql`` puts it
# after another statement's CTE (the webhook's archive: one round trip for both).
#
# The statement has one branch per key the event carries, each an equality on a unique index
# with a scalar parameter, so PostgreSQL's generic plan of the prepared statement is as cheap as
# any custom plan and is kept: planning afresh on every call (what one statement for every shape
# of event, with NULL keys and an array of references, made PostgreSQL do) cost a third of the
# database's CPU per webhook. An event with more candidate references than
# :data:`MATCH_SCALAR_REFS` (a memo full of reference-like words: rare) takes the array form.
_SLOT_COLUMNS = ("nextval(pg_get_serial_sequence('payments', 'id')) AS payment_id, "
                 "i.id, i.dossier_id, i.amount, i.status, i.reference")
_INTENT_COLUMNS = "id, dossier_id, amount, status, reference"
#: candidate references matched by scalar branches; more take one array branch
MATCH_SCALAR_REFS = 4

#: which keys a match uses: (order code?, provider order id?, number of references, or -1 for
#: the array form)
MatchShape = tuple[bool, bool, int]


@dataclass(frozen=True)
class MatchKeys:
    """The keys that find a payment's intent: the statement's shape and its parameters."""

    shape: MatchShape
    params: dict[str, object]


def _match_branches(shape: MatchShape) -> list[str]:
    by_code, by_order_id, refs = shape
    # built only from constants of this module (ranks, columns): no value is ever spliced in
    head = f"SELECT {{rank}} AS rank, {_INTENT_COLUMNS} FROM payment_intents WHERE "  # noqa: S608
    branches = []
    if by_code:
        branches.append(head.format(rank=0) + "order_code = CAST(:order_code AS bigint)")
    if by_order_id:
        branches.append(head.format(rank=1) + "provider_order_id = CAST(:order_id AS varchar)")
    if refs < 0:
        branches.append(head.format(rank="2 + array_position(CAST(:refs AS varchar[]), "
                                          "reference)")
                        + "reference = ANY(CAST(:refs AS varchar[]))")
    branches.extend(head.format(rank=2 + k) + f"reference = CAST(:ref_{k} AS varchar)"
                    for k in range(max(refs, 0)))
    return branches


def _match_lateral(shape: MatchShape) -> str:
    branches = _match_branches(shape)
    if not branches:  # nothing to match by: no intent
        return (f"LEFT JOIN LATERAL (SELECT {_INTENT_COLUMNS} FROM payment_intents "  # noqa: S608
                "WHERE false) AS i ON true")
    union = "\n    UNION ALL ".join(branches)
    return (f"LEFT JOIN LATERAL (\n    SELECT {_INTENT_COLUMNS} FROM (\n    {union}\n    ) "  # noqa: S608
            "AS candidates ORDER BY rank LIMIT 1) AS i ON true")


_MATCH_SQL_CACHE: dict[tuple[MatchShape, str, str, str], str] = {}


def match_and_number_sql(shape: MatchShape, *, with_clause: str = "",
                         source: str = "(SELECT 1) AS one", leading: str = "") -> str:
    """The match-and-number query for events of ``shape`` (:attr:`MatchKeys.shape`) as psycopg
    takes it: ``with_clause`` (a ``WITH ...`` of the caller's, in psycopg's style) before it,
    ``leading`` columns before its own (which a row ends with: see :func:`slot_of`),
    ``source`` the one-row relation it joins to. Built once per shape."""
    key = (shape, with_clause, source, leading)
    sql = _MATCH_SQL_CACHE.get(key)
    if sql is None:
        head = f"SELECT {leading + ', ' if leading else ''}{_SLOT_COLUMNS}"
        match = _driver_sql(text(f"{head} FROM {source} {_match_lateral(shape)}"))
        sql = f"{with_clause}\n{match}" if with_clause else match
        _MATCH_SQL_CACHE[key] = sql
    return sql


def match_params(event: PaymentEvent, reference_prefix: str) -> MatchKeys:
    """The shape and parameters of :func:`match_and_number_sql` for ``event``."""
    order_id = event.order_id or None
    refs = reference_candidates(event, reference_prefix)
    params: dict[str, object] = {}
    if event.order_code is not None:
        params["order_code"] = event.order_code
    if order_id is not None:
        params["order_id"] = order_id
    if len(refs) > MATCH_SCALAR_REFS:
        params["refs"] = refs
        count = -1
    else:
        params.update((f"ref_{k}", ref) for k, ref in enumerate(refs))
        count = len(refs)
    return MatchKeys((event.order_code is not None, order_id is not None, count), params)


def slot_of(row: tuple[Any, ...]) -> NewPayment:
    """The payment id and matched intent at the end of a match-and-number row."""
    payment_id, intent_id, dossier_id, amount, status, reference = row[-6:]
    intent = (MatchedIntent(int(intent_id), int(dossier_id), int(amount), str(status),
                            str(reference)) if intent_id is not None else None)
    return NewPayment(int(payment_id), intent)


# The new payment, its intent marked paid when covered, its audit event (unsealed, as
# recon.audit.chain.record writes them on PostgreSQL) and the verdict of the callback that reported
# it: one statement, so one atomic commit in autocommit mode. When (provider, provider_txn_id)
# exists already (a redelivery, or a concurrent delivery that committed first) the insert does
# nothing and neither does anything else: the caller takes the general path.
_RECORD_NEW = """
WITH ins AS (
    INSERT INTO payments (id, provider, provider_txn_id, channel, amount, status, paid_at,
                          received_at, reference, memo, order_id, intent_id, dossier_id,
                          callback_id, receipt_number, recorded_by, updated_at,
                          bank_reference, method, card_foreign)
    VALUES (:id, :provider, :provider_txn_id, :channel, :amount, :status, :paid_at,
            :received_at, :reference, :memo, :order_id, :intent_id, :dossier_id,
            :callback_id, :receipt_number, :recorded_by, :updated_at, :bank_reference,
            :method, :card_foreign)
    ON CONFLICT (provider, provider_txn_id) DO NOTHING
    RETURNING id
), paid AS (
    UPDATE payment_intents
    SET status = 'paid', paid_at = :paid_at, closed_at = :received_at,
        updated_at = :received_at
    WHERE id = CAST(:settle_intent_id AS bigint) AND status <> 'paid'
      AND EXISTS (SELECT FROM ins)
      AND (CAST(:covering AS bigint) >= amount
           OR CAST(:covering AS bigint) + (
               SELECT coalesce(sum(p.amount), 0) FROM payments AS p
               WHERE p.intent_id = CAST(:settle_intent_id AS bigint)
                 AND p.status = 'succeeded') >= amount)
    RETURNING id
), audited AS (
    INSERT INTO audit_events (occurred_at, actor, action, entity_type, entity_id, data)
    SELECT :received_at, :recorded_by, :action, 'payment', CAST(ins.id AS varchar), :data
    FROM ins
    RETURNING id
)%s
SELECT (SELECT id FROM ins) AS payment_id, (SELECT count(*) FROM paid) AS intents_paid
"""
_CALLBACK_VERDICT = """, answered AS (
    UPDATE callbacks
    SET signature_valid = :cb_signature_valid, outcome = :cb_outcome,
        outcome_detail = :cb_outcome_detail, provider_txn_id = :cb_provider_txn_id,
        payment_id = :cb_payment_id, response_status = :cb_response_status,
        response_body = :cb_response_body
    WHERE id = CAST(:callback_id AS bigint) AND EXISTS (SELECT FROM ins)
    RETURNING id
)"""


def _driver_sql(statement: TextClause) -> str:
    """``statement`` as psycopg takes it (``%(name)s``), for ``exec_driver_sql``: that skips
    SQLAlchemy's per-call parameter and result processing (a third of a statement's client CPU
    here) and keeps its events, error wrapping and connection invalidation."""
    return str(statement.compile(dialect=pg_psycopg.dialect()))  # type: ignore[no-untyped-call]


_RECORD_NEW_ONLY = _driver_sql(text(_RECORD_NEW % ""))
_RECORD_NEW_AND_ANSWER = _driver_sql(text(_RECORD_NEW % _CALLBACK_VERDICT))
#: the callback columns a ``verdict`` gives :func:`record_new_payment`
CALLBACK_VERDICT_COLUMNS = ("signature_valid", "outcome", "outcome_detail", "provider_txn_id",
                            "payment_id", "response_status", "response_body")


def record_new_payment(conn: Connection, clock: Clock, event: PaymentEvent, *, actor: str,
                       reference_prefix: str, callback_id: int | None = None,
                       verdict: Callable[[NewPayment], Mapping[str, object]] | None = None,
                       slot: NewPayment | None = None,
                       receipts_on: bool = False) -> NewPayment | None:
    """PostgreSQL: what :func:`record_payment` does for a payment not recorded yet, in two
    statements instead of a unit of work: one finds the intent and numbers the payment, one
    writes the payment, marks the intent paid when it is covered, writes the audit event and —
    given ``verdict``, which maps the new payment to the values of
    :data:`CALLBACK_VERDICT_COLUMNS` — the callback's verdict. On a connection in autocommit
    mode the second statement is its own atomic transaction: all of it or nothing.

    None when (provider, provider_txn_id) is recorded already, or when the payment is a part
    of its intent's amount: nothing was written (a payment id was used up, harmlessly); the
    caller goes on with :func:`record_payment`, which knows redeliveries and late statuses and
    sums part payments under the intent's lock. So too, with ``receipts_on``, a succeeded
    payment that matches an intent: its e-receipt is drawn, built and signed by the unit of
    work (:mod:`recon.receipts.issuing`), in the payment's transaction. ``slot``: the row of
    the first statement, when the caller read it already (with the webhook's archive:
    :func:`match_and_number_sql`).

    Both statements go straight to psycopg (:mod:`recon.driver`): on a connection in
    autocommit mode, each commits by itself.
    """
    if conn.dialect.name != "postgresql":
        raise ValueError("record_new_payment is for PostgreSQL; use record_payment")
    if isinstance(event.amount, bool) or not isinstance(event.amount, int) or event.amount < 0:
        raise ValueError("payment amount must be a non-negative int of VND")
    if event.dossier_code:
        raise ValueError("record_new_payment matches by intent only; use record_payment")
    if multi_references(event, reference_prefix):
        # several references: split or refused (recon.payments.split), which reads what each
        # dossier owes; nothing written here, the general path records it
        return None
    new = slot
    if new is None:
        keys = match_params(event, reference_prefix)
        new = slot_of(driver.one(conn, match_and_number_sql(keys.shape), keys.params))
    intent = new.intent
    if receipts_on and intent is not None and event.status == "succeeded":
        return None  # its receipt is issued with it, by the general path (nothing written)
    intent_id, reference, dossier_id = ((intent.id, intent.reference, intent.dossier_id)
                                        if intent is not None else (None, None, None))
    params = _payment_values(event, clock.now(), actor=actor, callback_id=callback_id,
                             intent_id=intent_id, reference=reference, dossier_id=dossier_id)
    settle = intent is not None and intent.status != "paid" and event.status == "succeeded"
    if settle and intent is not None and event.amount < intent.amount:
        # A part payment: whether the parts now cover the intent needs the intent locked
        # before summing (see _settle_intent), which one statement cannot do. Nothing was
        # written (a payment id was used up, harmlessly): the general path records it.
        return None
    params.update(
        id=new.id, action=RECORDED, covering=event.amount,
        settle_intent_id=intent_id if settle else None,
        data=audit.canonical_json(_recorded_data(event, reference, dossier_id, callback_id)))
    statement = _RECORD_NEW_ONLY
    if verdict is not None:
        statement = _RECORD_NEW_AND_ANSWER
        given = verdict(new)
        params.update({f"cb_{name}": given[name] for name in CALLBACK_VERDICT_COLUMNS})
    payment_id, intents_paid = driver.one(conn, statement, params)
    if payment_id is None:
        return None
    return NewPayment(new.id, intent, intent_paid=bool(intents_paid))
