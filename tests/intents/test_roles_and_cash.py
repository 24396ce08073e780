"""Who may do what, CSRF for browser calls, and cash recorded once per receipt."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import AuditEvent, Payment, PaymentIntent
from tests.intents.helpers import CODE, TOTAL, bearer, cash_url, counts, intents_url, js, seed


@pytest.fixture
def seeded(db: Database, clock: FixedClock) -> None:
    seed(db, clock)


@pytest.mark.parametrize("role", ["finance", "intake"])
def test_readers_cannot_create_cancel_or_take_cash(client: FlaskClient, db: Database,
                                                   make_token: Any, seeded: None,
                                                   role: str) -> None:
    cashier = bearer(make_token("cashier"))
    other = bearer(make_token(role))
    created = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    before = counts(db)
    assert client.post(intents_url(), json={"channel": "momo"},
                       headers=other).status_code == 403
    assert client.post(f"/api/v1/payment-intents/{created['id']}/cancel",
                       headers=other).status_code == 403
    assert client.post(cash_url(), json={"amount": TOTAL, "receipt_number": "BL-1"},
                       headers=other).status_code == 403
    assert counts(db) == before
    # but they may read
    assert client.get(f"/api/v1/payment-intents/{created['id']}",
                      headers=other).status_code == 200
    assert client.get(created["qr_png_url"], headers=other).status_code == 200
    assert client.get(created["qr_svg_url"], headers=other).status_code == 200


def test_finance_user_session_cannot_create(client: FlaskClient, login: Any,
                                            seeded: None, db: Database) -> None:
    csrf = login("finance")
    response = client.post(intents_url(), json={"channel": "vietqr"},
                           headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert counts(db)[0] == 0


def test_admin_may_create(client: FlaskClient, make_token: Any, seeded: None) -> None:
    assert client.post(intents_url(), json={"channel": "vietqr"},
                       headers=bearer(make_token("admin"))).status_code == 201


def test_anonymous_is_401(client: FlaskClient, seeded: None) -> None:
    assert client.post(intents_url(), json={"channel": "vietqr"}).status_code == 401
    assert client.get("/api/v1/payment-intents/1").status_code == 401
    assert client.get("/api/v1/payment-intents/1/qr.png").status_code == 401


def test_browser_calls_need_the_csrf_header(client: FlaskClient, login: Any, seeded: None,
                                            db: Database) -> None:
    csrf = login("cashier")
    refused = client.post(intents_url(), json={"channel": "vietqr"})
    assert refused.status_code == 400
    assert js(refused)["error"] == "csrf"
    assert counts(db)[0] == 0
    ok = client.post(intents_url(), json={"channel": "vietqr"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert js(ok)["reference"]
    cancel = f"/api/v1/payment-intents/{js(ok)['id']}/cancel"
    assert client.post(cancel).status_code == 400
    assert client.post(cancel, headers={"X-CSRF-Token": csrf}).status_code == 200
    # reading needs no token
    assert client.get(f"/api/v1/payment-intents/{js(ok)['id']}").status_code == 200


# --------------------------------------------------------------------------------------------
# cash


@pytest.fixture
def cashier(seeded: None, make_token: Any) -> dict[str, str]:
    return bearer(make_token("cashier"))


def test_cash_recorded_once_per_receipt(client: FlaskClient, cashier: dict[str, str],
                                        db: Database, clock: FixedClock) -> None:
    response = client.post(cash_url(), json={"amount": TOTAL, "receipt_number": " BL-0001 "},
                           headers=cashier)
    assert response.status_code == 201, js(response)
    body = js(response)
    assert body["outcome"] == "recorded"
    assert body["payment"]["provider"] == "cash"
    assert body["payment"]["channel"] == "cash"
    assert body["payment"]["receipt_number"] == "BL-0001"
    assert body["payment"]["amount"] == TOTAL
    assert body["dossier"] == {"code": CODE, "total_assessed": TOTAL, "total_paid": TOTAL,
                               "outstanding": 0}
    with db.read() as s:
        payment = s.scalars(select(Payment)).one()
        assert payment.provider_txn_id == "BL-0001"
        assert payment.paid_at == clock.now()
        assert payment.recorded_by == "token:cashier-client"
        assert s.scalars(select(AuditEvent).where(
            AuditEvent.action == "payment.recorded")).one().entity_id == str(payment.id)
    before = counts(db)
    again = client.post(cash_url(), json={"amount": TOTAL, "receipt_number": "BL-0001"},
                        headers=cashier)
    assert again.status_code == 200
    assert js(again)["outcome"] == "duplicate"
    assert js(again)["payment"]["id"] == body["payment"]["id"]
    assert counts(db) == before
    # the dossier is paid: no more cash, no more intents
    assert client.post(cash_url(), json={"amount": 1000, "receipt_number": "BL-0002"},
                       headers=cashier).status_code == 409
    assert client.post(intents_url(), json={"channel": "vietqr"},
                       headers=cashier).status_code == 409


def test_partial_cash_then_intent_for_the_rest(client: FlaskClient, cashier: dict[str, str]
                                               ) -> None:
    assert js(client.post(cash_url(), json={"amount": 100000, "receipt_number": "BL-1"},
                       headers=cashier))["dossier"]["outstanding"] == 80000
    intent = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    assert intent["amount"] == 80000


def test_receipt_reused_for_other_money_is_409(client: FlaskClient, cashier: dict[str, str],
                                               db: Database, clock: FixedClock) -> None:
    seed(db, clock, "OTHER-1", agency=False)
    client.post(cash_url(), json={"amount": 100000, "receipt_number": "BL-7"}, headers=cashier)
    before = counts(db)
    other_amount = client.post(cash_url(), json={"amount": 80000, "receipt_number": "BL-7"},
                               headers=cashier)
    assert other_amount.status_code == 409
    assert "BL-7" in js(other_amount)["message"]
    other_dossier = client.post(cash_url("OTHER-1"),
                                json={"amount": 100000, "receipt_number": "BL-7"},
                                headers=cashier)
    assert other_dossier.status_code == 409
    assert counts(db) == before


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"amount": TOTAL + 1, "receipt_number": "BL-1"}, 422, "amount"),
    ({"amount": 180000.0, "receipt_number": "BL-1"}, 422, "amount"),
    ({"amount": "180000", "receipt_number": "BL-1"}, 422, "amount"),
    ({"amount": 0, "receipt_number": "BL-1"}, 422, "amount"),
    ({"receipt_number": "BL-1"}, 422, "amount"),
    ({"amount": TOTAL}, 422, "receipt_number"),
    ({"amount": TOTAL, "receipt_number": "  "}, 422, "receipt_number"),
    ({"amount": TOTAL, "receipt_number": "X" * 65}, 422, "receipt_number"),
    ({"amount": TOTAL, "receipt_number": "BL\n1"}, 422, "receipt_number"),
    ({"amount": TOTAL, "receipt_number": "BL-1", "channel": "cash"}, 422, "channel"),
])
def test_bad_cash_writes_nothing(client: FlaskClient, cashier: dict[str, str], db: Database,
                                 body: dict[str, Any], status: int, field: str) -> None:
    before = counts(db)
    response = client.post(cash_url(), json=body, headers=cashier)
    assert response.status_code == status, js(response)
    assert js(response)["errors"][0]["field"] == field
    assert counts(db) == before


def test_cash_for_unknown_dossier_is_404(client: FlaskClient, cashier: dict[str, str],
                                         db: Database) -> None:
    before = counts(db)
    response = client.post(cash_url("NOPE"), json={"amount": 1, "receipt_number": "BL-1"},
                           headers=cashier)
    assert response.status_code == 404
    assert counts(db) == before


def test_cash_in_full_cancels_open_intents(client: FlaskClient, cashier: dict[str, str],
                                           db: Database) -> None:
    qr = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    client.post(cash_url(), json={"amount": TOTAL, "receipt_number": "BL-9"}, headers=cashier)
    with db.read() as s:
        assert s.get_one(PaymentIntent, qr["id"]).status == "cancelled"
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "intent.cancelled")).one()
    assert "BL-9" in event.data


def test_receipt_taken_by_another_desk_meanwhile_is_409(client: FlaskClient,
                                                        cashier: dict[str, str], db: Database,
                                                        clock: FixedClock,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    from recon.payments import intents
    from recon.payments.recording import PaymentEvent, record_payment

    seed(db, clock, "OTHER-2", agency=False)

    def racing(session: Any, clk: Any, event: PaymentEvent, **kwargs: Any) -> Any:
        # another desk records the same receipt for another dossier just before us
        record_payment(session, clk, PaymentEvent(
            provider="cash", provider_txn_id=event.provider_txn_id, channel="cash",
            amount=event.amount, status="succeeded", paid_at=event.paid_at,
            dossier_code="OTHER-2"), **kwargs)
        return record_payment(session, clk, event, **kwargs)

    monkeypatch.setattr(intents, "record_payment", racing)
    before = counts(db)
    response = client.post(cash_url(), json={"amount": 1000, "receipt_number": "BL-R"},
                           headers=cashier)
    assert response.status_code == 409
    assert "BL-R" in js(response)["message"]
    assert counts(db) == before
