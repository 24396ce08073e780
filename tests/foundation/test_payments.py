"""record_payment: exactly once, matched, never backwards."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import AuditEvent, Dossier, Payment, PaymentIntent
from recon.payments.recording import PaymentEvent, record_payment
from recon.payments.references import mint
from tests.foundation.helpers import dossier_body, seed_agency

PREFIX = "HS"


@pytest.fixture
def intent(db: Database, clock: FixedClock) -> PaymentIntent:
    seed_agency(db, clock)
    with db.transaction() as s:
        dossier, _ = upsert_dossier(s, clock, parse_dossier(dossier_body()), actor="test")
        row = PaymentIntent(dossier_id=dossier.id, channel="vietqr", amount=180000,
                            reference=mint(PREFIX), status="issued", created_at=clock.now(),
                            expires_at=clock.now() + timedelta(minutes=15),
                            updated_at=clock.now())
        s.add(row)
    return row


def _event(intent: PaymentIntent, **changes: object) -> PaymentEvent:
    base = PaymentEvent(provider="sepay", provider_txn_id="92704", channel="vietqr",
                        amount=180000, status="succeeded",
                        paid_at=intent.created_at + timedelta(minutes=2),
                        memo=f"MBVCB.3278907687.{intent.reference.lower()}.NGUYEN VAN A CT")
    return replace(base, **changes)  # type: ignore[arg-type]


def _record(db: Database, clock: FixedClock, event: PaymentEvent) -> str:
    with db.transaction() as s:
        return record_payment(s, clock, event, actor="test", reference_prefix=PREFIX).outcome


def test_memo_match_marks_intent_paid(db: Database, clock: FixedClock,
                                      intent: PaymentIntent) -> None:
    assert _record(db, clock, _event(intent)) == "recorded"
    with db.read() as s:
        payment = s.scalars(select(Payment)).one()
        row = s.get_one(PaymentIntent, intent.id)
        dossier = s.scalars(select(Dossier)).one()
    assert payment.dossier_id == dossier.id
    assert payment.paid_at == intent.created_at + timedelta(minutes=2)
    assert row.status == "paid"


def test_redelivery_is_a_duplicate(db: Database, clock: FixedClock,
                                   intent: PaymentIntent) -> None:
    _record(db, clock, _event(intent))
    with db.read() as s:
        events = s.scalar(select(func.count()).select_from(AuditEvent))
    assert _record(db, clock, _event(intent)) == "duplicate"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_late_failure_never_undoes_success(db: Database, clock: FixedClock,
                                           intent: PaymentIntent) -> None:
    _record(db, clock, _event(intent))
    assert _record(db, clock, _event(intent, status="failed")) == "ignored_stale"
    with db.read() as s:
        assert s.scalars(select(Payment.status)).one() == "succeeded"
        assert s.get_one(PaymentIntent, intent.id).status == "paid"


def test_success_after_failure_and_refund_after_success(db: Database, clock: FixedClock,
                                                       intent: PaymentIntent) -> None:
    assert _record(db, clock, _event(intent, status="failed")) == "recorded"
    with db.read() as s:
        assert s.get_one(PaymentIntent, intent.id).status == "issued"
    assert _record(db, clock, _event(intent)) == "updated"
    with db.read() as s:
        assert s.get_one(PaymentIntent, intent.id).status == "paid"
    assert _record(db, clock, _event(intent, status="refunded")) == "updated"
    assert _record(db, clock, _event(intent)) == "ignored_stale"


def test_partial_payment_leaves_intent_open(db: Database, clock: FixedClock,
                                            intent: PaymentIntent) -> None:
    _record(db, clock, _event(intent, amount=100000))
    with db.read() as s:
        assert s.get_one(PaymentIntent, intent.id).status == "issued"
    _record(db, clock, _event(intent, provider_txn_id="92705", amount=80000))
    with db.read() as s:
        assert s.get_one(PaymentIntent, intent.id).status == "paid"


def test_unmatched_success_is_kept(db: Database, clock: FixedClock,
                                   intent: PaymentIntent) -> None:
    wrong = intent.reference[:-1] + ("2" if intent.reference[-1] != "2" else "3")
    assert _record(db, clock, _event(intent, memo=f"CK {wrong} chuyen tien")) == "recorded"
    with db.read() as s:
        payment = s.scalars(select(Payment)).one()
        assert payment.dossier_id is None
        assert payment.amount == 180000
        assert s.get_one(PaymentIntent, intent.id).status == "issued"


def test_float_amount_refused(db: Database, clock: FixedClock, intent: PaymentIntent) -> None:
    with pytest.raises(ValueError, match="int of VND"):
        _record(db, clock, _event(intent, amount=180000.0))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 0
