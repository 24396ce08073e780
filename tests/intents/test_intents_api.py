"""POST/GET/cancel payment intents through the API: happy paths, reuse, every bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from adapters import zalopay
from recon.clock import FixedClock
from recon.db import Database
from recon.models import Agency, AuditEvent, PaymentIntent
from recon.payments.recording import PaymentEvent, record_payment
from recon.payments.references import is_valid
from recon.vietqr.codec import decode
from tests.intents.helpers import (
    ACCOUNT,
    ACCOUNT_NAME,
    BIN,
    CODE,
    TOTAL,
    bearer,
    counts,
    intents_url,
    js,
    seed,
)


@pytest.fixture
def cashier(db: Database, clock: FixedClock, make_token: Any) -> dict[str, str]:
    seed(db, clock)
    return bearer(make_token("cashier"))


def _post(client: FlaskClient, headers: dict[str, str], body: Any,
          code: str = CODE) -> Any:
    return client.post(intents_url(code), json=body, headers=headers)


def test_create_vietqr_intent(client: FlaskClient, cashier: dict[str, str], db: Database,
                              clock: FixedClock) -> None:
    response = _post(client, cashier, {"channel": "vietqr"})
    assert response.status_code == 201, js(response)
    body = js(response)
    assert body["amount"] == TOTAL
    assert body["channel"] == "vietqr"
    assert body["status"] == "issued"
    assert body["reused"] is False
    assert body["dossier_code"] == CODE
    assert is_valid(body["reference"], "HS")
    assert len(body["reference"]) <= 12
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(seconds=900)
    assert body["expires_in_seconds"] == 900
    assert body["bank"]["bin"] == BIN
    assert body["bank"]["short_name"]
    assert body["account_number"] == ACCOUNT
    assert body["account_name"] == ACCOUNT_NAME
    assert body["order_code"] is None and body["app_trans_id"] is None
    assert body["qr_png_url"] == f"/api/v1/payment-intents/{body['id']}/qr.png"
    assert body["qr_svg_url"] == f"/api/v1/payment-intents/{body['id']}/qr.svg"
    assert response.headers["Location"].endswith(f"/api/v1/payment-intents/{body['id']}")

    decoded = decode(body["qr_payload"])
    assert decoded.valid, decoded.errors
    assert decoded.initiation == "dynamic"
    assert (decoded.bin, decoded.account, decoded.amount) == (BIN, ACCOUNT, TOTAL)
    assert decoded.purpose == body["reference"]
    assert decoded.service == "QRIBFTTA"

    with db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "intent.created")).one()
        row = s.get_one(PaymentIntent, body["id"])
    assert event.entity_id == str(body["id"])
    assert event.actor == "token:cashier-client"
    assert row.created_by == "token:cashier-client"
    assert row.qr_payload == body["qr_payload"]


def test_get_intent(client: FlaskClient, cashier: dict[str, str]) -> None:
    created = js(_post(client, cashier, {"channel": "vietqr"}))
    response = client.get(f"/api/v1/payment-intents/{created['id']}", headers=cashier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    got = js(response)
    created.pop("reused")
    assert got == created
    assert client.get("/api/v1/payment-intents/999999", headers=cashier).status_code == 404


def test_partial_amount(client: FlaskClient, cashier: dict[str, str]) -> None:
    body = js(_post(client, cashier, {"channel": "vietqr", "amount": 100000}))
    assert body["amount"] == 100000
    assert decode(body["qr_payload"]).amount == 100000


def test_open_intent_is_reused_not_duplicated(client: FlaskClient, cashier: dict[str, str],
                                              db: Database, clock: FixedClock) -> None:
    first = _post(client, cashier, {"channel": "vietqr"})
    clock.advance(timedelta(minutes=5))
    again = _post(client, cashier, {"channel": "vietqr", "amount": TOTAL})
    assert again.status_code == 200
    assert js(again)["reused"] is True
    assert js(again)["id"] == js(first)["id"]
    assert js(again)["reference"] == js(first)["reference"]
    assert js(again)["expires_in_seconds"] == 600
    assert counts(db)[0] == 1
    # another amount or another channel is another intent
    assert _post(client, cashier, {"channel": "vietqr", "amount": 1000}).status_code == 201
    assert _post(client, cashier, {"channel": "momo"}).status_code == 201
    assert _post(client, cashier, {"channel": "momo"}).status_code == 200
    assert counts(db)[0] == 3


def test_changed_agency_account_is_not_reused(client: FlaskClient, cashier: dict[str, str],
                                              db: Database) -> None:
    first = js(_post(client, cashier, {"channel": "vietqr"}))
    with db.transaction() as s:
        s.execute(update(Agency).values(account_number="999888777"))
    second = _post(client, cashier, {"channel": "vietqr"})
    assert second.status_code == 201
    assert js(second)["id"] != first["id"]
    assert decode(js(second)["qr_payload"]).account == "999888777"


def test_gateway_identifiers(client: FlaskClient, cashier: dict[str, str]) -> None:
    payos = js(_post(client, cashier, {"channel": "payos"}))
    assert isinstance(payos["order_code"], int)
    assert 1 <= payos["order_code"] <= 2**53 - 1
    assert payos["qr_payload"] is None and payos["qr_png_url"] is None
    assert payos["bank"] is None
    zalo = js(_post(client, cashier, {"channel": "zalopay"}))
    # T0 is 03:00 UTC = 10:00 in Vietnam on 26/11/2026
    assert zalo["app_trans_id"] == f"261126_{zalo['reference']}"
    assert zalo["order_code"] is None
    for channel in ("vnpay", "momo", "pos"):
        body = js(_post(client, cashier, {"channel": channel}))
        assert body["channel"] == channel and body["status"] == "issued"


def test_zalopay_date_is_vietnam_time(client: FlaskClient, cashier: dict[str, str],
                                      clock: FixedClock) -> None:
    clock.advance(timedelta(hours=14))  # 17:00 UTC on the 26th = 00:00 on the 27th in Huế
    assert clock.now() == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    zalo = js(_post(client, cashier, {"channel": "zalopay"}))
    assert zalo["app_trans_id"].startswith("261127_")


def test_zalopay_date_just_before_midnight_in_hue(client: FlaskClient,
                                                  cashier: dict[str, str],
                                                  clock: FixedClock) -> None:
    clock.advance(timedelta(hours=13, minutes=59, seconds=59))  # 23:59:59 on the 26th in Huế
    zalo = js(_post(client, cashier, {"channel": "zalopay"}))
    assert zalo["app_trans_id"] == f"261126_{zalo['reference']}"
    # the id the adapter reads back is our reference (what its callbacks and queries use)
    assert zalopay.reference_from_app_trans_id(zalo["app_trans_id"]) == zalo["reference"]


def test_note_goes_after_the_reference(client: FlaskClient, cashier: dict[str, str]) -> None:
    body = js(_post(client, cashier, {"channel": "vietqr", "note": "Nộp phí"}))
    assert decode(body["qr_payload"]).purpose == f"{body['reference']} Nop phi"


@pytest.mark.parametrize(("body", "field"), [
    ({"channel": "vietqr", "amount": TOTAL + 1}, "amount"),
    ({"channel": "vietqr", "amount": "180000"}, "amount"),
    ({"channel": "vietqr", "amount": 180000.0}, "amount"),
    ({"channel": "vietqr", "amount": 1.5}, "amount"),
    ({"channel": "vietqr", "amount": True}, "amount"),
    ({"channel": "vietqr", "amount": 0}, "amount"),
    ({"channel": "vietqr", "amount": -100}, "amount"),
    ({"channel": "bitcoin"}, "channel"),
    ({"channel": "cash"}, "channel"),
    ({}, "channel"),
    ({"channel": "vietqr", "amout": 1000}, "amout"),
    ({"channel": "vietqr", "note": "Lệ phí đăng ký hộ kinh doanh"}, "note"),
    ({"channel": "momo", "note": "Nộp phí"}, "note"),
    ({"channel": "vietqr", "note": 5}, "note"),
])
def test_bad_input_is_422_and_writes_nothing(client: FlaskClient, cashier: dict[str, str],
                                             db: Database, body: dict[str, Any],
                                             field: str) -> None:
    before = counts(db)
    response = _post(client, cashier, body)
    assert response.status_code == 422, js(response)
    assert js(response)["error"] == "invalid"
    assert [e["field"] for e in js(response)["errors"]] == [field]
    assert js(response)["hint"]
    assert counts(db) == before


def test_purpose_too_long_says_how_long(client: FlaskClient, cashier: dict[str, str]) -> None:
    response = _post(client, cashier, {"channel": "vietqr",
                                       "note": "Lệ phí đăng ký hộ kinh doanh"})
    message = js(response)["errors"][0]["message"]
    assert "after transliteration" in message
    assert "'Le phi dang ky ho kinh doanh'" in message
    assert "at most 12" in message


def test_body_must_be_a_json_object(client: FlaskClient, cashier: dict[str, str]) -> None:
    assert client.post(intents_url(), data="[1]", headers={
        **cashier, "Content-Type": "application/json"}).status_code == 422
    assert client.post(intents_url(), data="{", headers={
        **cashier, "Content-Type": "application/json"}).status_code == 422


def test_unknown_dossier_is_404(client: FlaskClient, cashier: dict[str, str],
                                db: Database) -> None:
    before = counts(db)
    response = _post(client, cashier, {"channel": "vietqr"}, code="NOPE-1")
    assert response.status_code == 404
    assert "NOPE-1" in js(response)["message"]
    assert js(response)["hint"]
    assert counts(db) == before


def test_nothing_outstanding_is_409(client: FlaskClient, cashier: dict[str, str],
                                    db: Database, clock: FixedClock) -> None:
    seed(db, clock, "NO-FEE-1", agency=False, fees=[])
    before = counts(db)
    response = _post(client, cashier, {"channel": "vietqr"}, code="NO-FEE-1")
    assert response.status_code == 409
    assert "no fee" in js(response)["message"]
    assert counts(db) == before

    with db.transaction() as s:
        record_payment(s, clock, PaymentEvent(
            provider="cash", provider_txn_id="BL-1", channel="cash", amount=TOTAL,
            status="succeeded", paid_at=clock.now(), dossier_code=CODE),
            actor="test", reference_prefix="HS")
    before = counts(db)
    response = _post(client, cashier, {"channel": "vietqr"})
    assert response.status_code == 409
    assert "paid in full" in js(response)["message"]
    assert counts(db) == before


def test_outstanding_counts_succeeded_payments_only(client: FlaskClient,
                                                    cashier: dict[str, str], db: Database,
                                                    clock: FixedClock) -> None:
    with db.transaction() as s:
        for txn, amount, status in (("1", 50000, "succeeded"), ("2", 30000, "failed")):
            record_payment(s, clock, PaymentEvent(
                provider="cash", provider_txn_id=txn, channel="cash", amount=amount,
                status=status, paid_at=clock.now(), dossier_code=CODE),  # type: ignore[arg-type]
                actor="test", reference_prefix="HS")
    body = js(_post(client, cashier, {"channel": "vietqr"}))
    assert body["amount"] == TOTAL - 50000
    assert _post(client, cashier, {"channel": "vietqr", "amount": 130001}).status_code == 422


def test_agency_without_bank_account(client: FlaskClient, cashier: dict[str, str],
                                     db: Database) -> None:
    with db.transaction() as s:
        s.execute(update(Agency).values(account_number=""))
    before = counts(db)
    response = _post(client, cashier, {"channel": "vietqr"})
    assert response.status_code == 422
    assert "no bank account" in js(response)["message"]
    assert counts(db) == before
    # other channels do not need the agency's account
    assert _post(client, cashier, {"channel": "momo"}).status_code == 201


def test_bin_not_in_directory(client: FlaskClient, cashier: dict[str, str],
                              db: Database) -> None:
    with db.transaction() as s:
        s.execute(update(Agency).values(bank_bin="999999"))
    before = counts(db)
    response = _post(client, cashier, {"channel": "vietqr"})
    assert response.status_code == 422
    assert js(response)["errors"][0]["field"] == "agency.bank_bin"
    assert "not in the bank directory" in js(response)["message"]
    assert counts(db) == before


def test_amount_too_large_for_a_code(client: FlaskClient, cashier: dict[str, str],
                                     db: Database, clock: FixedClock) -> None:
    seed(db, clock, "HUGE-1", agency=False,
         fees=[{"kind": "le_phi", "name": "Lệ phí", "amount": 10**14}])
    response = _post(client, cashier, {"channel": "vietqr"}, code="HUGE-1")
    assert response.status_code == 422
    assert js(response)["errors"][0]["field"] == "amount"
    assert _post(client, cashier, {"channel": "vietqr", "amount": 10**12},
                 code="HUGE-1").status_code == 201


def test_payment_turns_intent_paid(client: FlaskClient, cashier: dict[str, str],
                                   db: Database, clock: FixedClock) -> None:
    body = js(_post(client, cashier, {"channel": "vietqr"}))
    clock.advance(timedelta(minutes=3))
    with db.transaction() as s:
        record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id="92704", channel="vietqr", amount=TOTAL,
            status="succeeded", paid_at=clock.now(),
            memo=f"MBVCB.3278907687.{body['reference'].lower()}.NGUYEN VAN A CT"),
            actor="test", reference_prefix="HS")
    got = js(client.get(f"/api/v1/payment-intents/{body['id']}", headers=cashier))
    assert got["status"] == "paid"
    assert got["paid_at"] == clock.now().isoformat()
    assert got["expires_in_seconds"] == 0
    # paid intents are never expired afterwards
    clock.advance(timedelta(hours=1))
    assert js(client.get(f"/api/v1/payment-intents/{body['id']}",
                      headers=cashier))["status"] == "paid"


def test_concurrent_creates_make_one_intent(db: Database, clock: FixedClock,
                                            app: Any) -> None:
    import threading

    from recon.payments import intents

    seed(db, clock)
    settings = app.extensions["recon.settings"]
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        try:
            barrier.wait()
            with db.transaction() as s:
                outcome = intents.create_intent(s, clock, settings, dossier_code=CODE,
                                                channel="vietqr", actor="test")
                ids.append(outcome.intent.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(ids)) == 1
    assert counts(db)[0] == 1
