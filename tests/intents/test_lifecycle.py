"""Expiry (lazy on read and the sweep) and cancellation, with the FixedClock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.errors import Conflict, NotFound
from recon.models import AuditEvent, PaymentIntent
from recon.payments import intents
from recon.payments.recording import PaymentEvent, record_payment
from tests.intents.helpers import CODE, TOTAL, bearer, counts, intents_url, js, seed


@pytest.fixture
def cashier(db: Database, clock: FixedClock, make_token: Any) -> dict[str, str]:
    seed(db, clock)
    return bearer(make_token("cashier"))


def _create(client: FlaskClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(intents_url(), json={"channel": "vietqr", **body}, headers=headers)
    assert response.status_code == 201, js(response)
    result: dict[str, Any] = js(response)
    return result


def _actions(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_expiry_on_read(client: FlaskClient, cashier: dict[str, str], db: Database,
                        clock: FixedClock) -> None:
    body = _create(client, cashier)
    url = f"/api/v1/payment-intents/{body['id']}"
    clock.advance(timedelta(seconds=899))
    got = js(client.get(url, headers=cashier))
    assert (got["status"], got["expires_in_seconds"]) == ("issued", 1)
    assert not _actions(db, "intent.expired")
    clock.advance(timedelta(seconds=1))  # at expires_at exactly
    got = js(client.get(url, headers=cashier))
    assert got["status"] == "expired"
    assert got["expires_in_seconds"] == 0
    assert got["closed_at"] == clock.now().isoformat()
    events = _actions(db, "intent.expired")
    assert len(events) == 1
    assert events[0].actor == "system"
    assert '"via":"read"' in events[0].data
    # reading again writes nothing more
    client.get(url, headers=cashier)
    assert len(_actions(db, "intent.expired")) == 1


def test_expired_intent_is_not_reused(client: FlaskClient, cashier: dict[str, str],
                                      clock: FixedClock) -> None:
    first = _create(client, cashier)
    clock.advance(timedelta(minutes=15))
    second = _create(client, cashier)  # 201, not 200
    assert second["id"] != first["id"]
    assert second["reference"] != first["reference"]


def test_ttl_comes_from_settings(db: Database, clock: FixedClock, app: Flask) -> None:
    seed(db, clock)
    settings = app.extensions["recon.settings"].with_overrides(intent_ttl_seconds=60)
    with db.transaction() as s:
        outcome = intents.create_intent(s, clock, settings, dossier_code=CODE,
                                        channel="vietqr", actor="test")
    assert outcome.intent.expires_at == clock.now() + timedelta(seconds=60)


def test_sweep_expires_what_is_due(client: FlaskClient, cashier: dict[str, str],
                                   db: Database, clock: FixedClock) -> None:
    early = [_create(client, cashier, channel=c) for c in ("vietqr", "momo", "vnpay")]
    clock.advance(timedelta(minutes=10))
    late = _create(client, cashier, channel="payos")
    clock.advance(timedelta(minutes=5))
    with db.transaction() as s:
        assert intents.expire_due(s, clock) == 3
    with db.transaction() as s:
        assert intents.expire_due(s, clock) == 0
    with db.read() as s:
        statuses = {i.id: i.status for i in s.scalars(select(PaymentIntent))}
    assert all(statuses[b["id"]] == "expired" for b in early)
    assert statuses[late["id"]] == "issued"
    events = _actions(db, "intent.expired")
    assert len(events) == 3 and all('"via":"sweep"' in e.data for e in events)


def test_sweep_never_overwrites_a_payment(client: FlaskClient, cashier: dict[str, str],
                                          db: Database, clock: FixedClock) -> None:
    body = _create(client, cashier)
    clock.advance(timedelta(minutes=20))
    with db.transaction() as s:  # money arrived late, before any sweep or read
        record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id="1", channel="vietqr", amount=TOTAL,
            status="succeeded", paid_at=clock.now(), reference=body["reference"]),
            actor="test", reference_prefix="HS")
    with db.transaction() as s:
        assert intents.expire_due(s, clock) == 0
        assert s.get_one(PaymentIntent, body["id"]).status == "paid"


def test_cancel(client: FlaskClient, cashier: dict[str, str], db: Database,
                clock: FixedClock) -> None:
    body = _create(client, cashier)
    url = f"/api/v1/payment-intents/{body['id']}/cancel"
    response = client.post(url, headers=cashier)
    assert response.status_code == 200
    assert js(response)["status"] == "cancelled"
    assert js(response)["closed_at"] == clock.now().isoformat()
    events = _actions(db, "intent.cancelled")
    assert len(events) == 1 and events[0].actor == "token:cashier-client"
    # idempotent: again changes nothing
    before = counts(db)
    assert js(client.post(url, headers=cashier))["status"] == "cancelled"
    assert counts(db) == before
    # a cancelled intent is not reused
    assert _create(client, cashier)["id"] != body["id"]


def test_cancel_expired_paid_or_unknown(client: FlaskClient, cashier: dict[str, str],
                                        db: Database, clock: FixedClock) -> None:
    assert client.post("/api/v1/payment-intents/4242/cancel",
                       headers=cashier).status_code == 404
    paid = _create(client, cashier, amount=1000)
    with db.transaction() as s:
        record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id="1", channel="vietqr", amount=1000,
            status="succeeded", paid_at=clock.now(), reference=paid["reference"]),
            actor="test", reference_prefix="HS")
    before = counts(db)
    response = client.post(f"/api/v1/payment-intents/{paid['id']}/cancel", headers=cashier)
    assert response.status_code == 409
    assert "already paid" in js(response)["message"]
    assert counts(db) == before

    stale = _create(client, cashier)
    clock.advance(timedelta(minutes=16))
    response = client.post(f"/api/v1/payment-intents/{stale['id']}/cancel", headers=cashier)
    assert response.status_code == 409
    assert "expired" in js(response)["message"]
    # an error writes nothing (not even the expiry it noticed); the next read persists it
    assert not _actions(db, "intent.cancelled")
    assert js(client.get(f"/api/v1/payment-intents/{stale['id']}",
                      headers=cashier))["status"] == "expired"
    with db.read() as s:
        assert s.get_one(PaymentIntent, stale["id"]).status == "expired"


def test_service_errors_carry_reasons(db: Database, clock: FixedClock, app: Flask) -> None:
    seed(db, clock)
    with db.transaction() as s, pytest.raises(NotFound) as missing:
        intents.cancel_intent(s, clock, 77, actor="test")
    assert intents.reason_of(missing.value) == "intent_not_found"
    with db.transaction() as s:
        intent = intents.create_intent(s, clock, app.extensions["recon.settings"],
                                       dossier_code=CODE, channel="vietqr",
                                       actor="test").intent
    clock.advance(timedelta(minutes=15))
    with db.transaction() as s, pytest.raises(Conflict) as expired:
        intents.cancel_intent(s, clock, intent.id, actor="test")
    assert intents.reason_of(expired.value) == "intent_expired"


def test_reference_collision_is_retried(db: Database, clock: FixedClock, app: Flask,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from recon.payments import references

    seed(db, clock)
    settings = app.extensions["recon.settings"]
    with db.transaction() as s:
        first = intents.create_intent(s, clock, settings, dossier_code=CODE,
                                      channel="momo", actor="test").intent
    fresh = references.mint("HS")
    minted = iter([first.reference, first.reference, fresh])
    monkeypatch.setattr(intents, "mint", lambda prefix: next(minted))
    with db.transaction() as s:
        second = intents.create_intent(s, clock, settings, dossier_code=CODE,
                                       channel="vnpay", actor="test").intent
    assert second.reference == fresh
    with db.read() as s:
        assert len(s.scalars(select(PaymentIntent)).all()) == 2
    assert len(_actions(db, "intent.created")) == 2
