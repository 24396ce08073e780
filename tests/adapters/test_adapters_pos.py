"""POS (our own format): signature and replay window, sale/void/refund, card numbers refused,
acknowledgements."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters import (
    MalformedPayload,
    NotAPayment,
    NotSupported,
    Outcome,
    RawRequest,
    ReplayError,
    SignatureError,
)
from adapters.pos import sign
from adapters.scrub import contains_pan, holds_card_number
from tests.adapters.adapters_testkit import adapter_for

SECRET = "pos-test-secret-0123456789abcdef"
T = 1716257886
RECEIVED = datetime.fromtimestamp(T + 3, UTC)
SALE: dict[str, Any] = {
    "event_id": "evt_0001", "type": "sale", "terminal_id": "70012345",
    "merchant_id": "000000012345678", "batch_no": "000123", "invoice_no": "000456",
    "stan": "004567", "rrn": "414209001234", "approval_code": "A7F3K9", "response_code": "00",
    "masked_pan": "970436******1234", "card_brand": "NAPAS", "entry_mode": "chip",
    "amount": 150000, "currency": "704", "transaction_at": "2024-05-21T09:18:06+07:00",
    "reference": "HS6T3MBV",
}


def call(body: dict[str, Any] | bytes = SALE, *, t: int = T, secret: str = SECRET,
         received_at: datetime = RECEIVED) -> RawRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return RawRequest("POST", "/webhooks/pos", "",
                      {"X-Recon-Signature": f"t={t},v1={v1}"}, raw, received_at)


def parse(request: RawRequest, max_age_seconds: int = 300) -> Any:
    return adapter_for("pos", max_age_seconds=max_age_seconds).parse_callback(request)


def test_sale() -> None:
    event = parse(call())
    assert (event.provider_txn_id, event.amount, event.status, event.reference) == (
        "414209001234", 150000, "succeeded", "HS6T3MBV")
    assert event.transaction_at == datetime(2024, 5, 21, 2, 18, 6, tzinfo=UTC)
    assert event.channel == "pos"


def test_sign_helper_matches() -> None:
    raw = json.dumps(SALE).encode()
    header = sign(SECRET, T, raw)
    request = RawRequest("POST", "/", "", {"x-recon-signature": header}, raw, RECEIVED)
    assert parse(request).status == "succeeded"


def test_signature_is_over_the_raw_bytes() -> None:
    request = call()
    spaced = request.body.replace(b'", "', b'",  "')  # same JSON, other bytes
    with pytest.raises(SignatureError):
        parse(RawRequest("POST", "/", "", request.headers, spaced, RECEIVED))


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [("sale", "00", "succeeded"), ("sale", "05", "failed"), ("sale", "51", "failed"),
     ("sale", "", "failed"), ("sale", "0", "failed"), ("void", "00", "refunded"),
     ("refund", "00", "refunded")],
)
def test_status_mapping(kind: str, code: str, status: str) -> None:
    body = dict(SALE, type=kind, response_code=code)
    if code == "":
        with pytest.raises(MalformedPayload, match="response_code"):
            parse(call(body))
        return
    event = parse(call(body))
    assert event.status == status
    assert event.raw_status == f"type={kind},response_code={code}"


@pytest.mark.parametrize("kind", ["void", "refund"])
def test_declined_reversal_changes_nothing(kind: str) -> None:
    with pytest.raises(NotAPayment, match="unchanged"):
        parse(call(dict(SALE, type=kind, response_code="12")))


def test_replay_window() -> None:
    for seconds in (301, -301):
        with pytest.raises(ReplayError):
            parse(call(received_at=datetime.fromtimestamp(T + seconds, UTC)))
    parse(call(received_at=datetime.fromtimestamp(T + 299, UTC)))
    parse(call(received_at=datetime.fromtimestamp(T + 86_400, UTC)), max_age_seconds=0)


@pytest.mark.parametrize(
    "header",
    ["t=1716257886", "v1=ab", "t=abc,v1=ab", "t=1716257886000,v1=ab", "nonsense", "t=5,v1=ab"],
)
def test_unreadable_header(header: str) -> None:
    raw = json.dumps(SALE).encode()
    with pytest.raises(SignatureError):
        parse(RawRequest("POST", "/", "", {"X-Recon-Signature": header}, raw, RECEIVED))


PANS = ["4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444",
        "378282246310005", "6011000990139424", "9704360000000000002", "4222222222222"]


@pytest.mark.parametrize("pan", PANS)
@pytest.mark.parametrize("field", ["masked_pan", "reference", "merchant_id", "extra_note"])
def test_full_card_number_anywhere_is_refused(pan: str, field: str) -> None:
    with pytest.raises(MalformedPayload, match="full card number") as info:
        parse(call(dict(SALE, **{field: pan})))
    assert pan not in str(info.value)


def test_full_card_number_hidden_in_escapes_or_nesting_is_refused() -> None:
    escaped = json.dumps(dict(SALE, note="x")).replace('"x"', '"\\u0034111111111111111"')
    with pytest.raises(MalformedPayload, match="full card number"):
        parse(call(escaped.encode()))
    with pytest.raises(MalformedPayload, match="full card number"):
        parse(call(dict(SALE, card={"pan": 4111111111111111})))


def test_masked_pan_may_show_only_10_digits() -> None:
    parse(call(dict(SALE, masked_pan="411111******1111")))
    parse(call(dict(SALE, masked_pan="************1111")))
    with pytest.raises(MalformedPayload, match="masked_pan"):
        parse(call(dict(SALE, masked_pan="4111111*****1111")))  # 11 digits, fails Luhn anyway


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "preauth"}, "type must be"),
        ({"currency": "840"}, "currency"),
        ({"currency": 704}, None),
        ({"amount": "150.000"}, "amount"),
        ({"amount": 150000.0}, "amount"),
        ({"rrn": ""}, "rrn"),
        ({"transaction_at": "21/05/2024"}, "transaction_at"),
        ({"transaction_at": "2024-05-21T09:18:06"}, None),  # naive: Vietnam time
        ({"reference": "  "}, None),
        ({"event_id": None}, "event_id"),
    ],
)
def test_fields(changes: dict[str, Any], message: str | None) -> None:
    request = call(dict(SALE, **changes))
    if message is None:
        event = parse(request)
        assert event.transaction_at == datetime(2024, 5, 21, 2, 18, 6, tzinfo=UTC)
        if "reference" in changes:
            assert event.reference is None
        return
    with pytest.raises(MalformedPayload, match=message):
        parse(request)


@pytest.mark.parametrize(
    ("outcome", "status", "body"),
    [
        (Outcome.accepted, 200, {"status": "accepted"}),
        (Outcome.duplicate, 200, {"status": "duplicate"}),
        (Outcome.unknown_order, 200, {"status": "accepted", "note": "unknown_order"}),
        (Outcome.amount_mismatch, 200, {"status": "accepted", "note": "amount_mismatch"}),
        (Outcome.ignored, 200, {"status": "accepted", "note": "ignored"}),
        (Outcome.bad_signature, 401, {"status": "rejected", "reason": "bad_signature"}),
        (Outcome.replayed, 401, {"status": "rejected", "reason": "replayed"}),
        (Outcome.malformed, 400, {"status": "rejected", "reason": "malformed"}),
        (Outcome.retry_later, 503, {"status": "retry", "reason": "retry_later"}),
        (Outcome.not_configured, 503, {"status": "retry", "reason": "not_configured"}),
    ],
)
def test_acknowledgement(outcome: Outcome, status: int, body: dict[str, str]) -> None:
    ack = adapter_for("pos").acknowledge(outcome)
    assert (ack.status_code, json.loads(ack.body)) == (status, body)
    assert ack.content_type == "application/json"


def test_acknowledgement_carries_the_reason() -> None:
    ack = adapter_for("pos").acknowledge(Outcome.malformed, "amount must be a whole number")
    assert json.loads(ack.body)["reason"] == "amount must be a whole number"


def test_build_callback(clock: Any) -> None:
    adapter = adapter_for("pos", max_age_seconds=300, clock=clock)
    for status in ("succeeded", "failed", "refunded"):
        event = adapter.parse_callback(adapter.build_callback(amount=1000, reference="HS1",
                                                              status=status))
        assert event.status == status
    with pytest.raises(NotSupported):
        adapter.build_callback(amount=1000, reference="HS1", status="pending")
    stale = adapter.build_callback(amount=1000, reference="HS1")
    clock.advance(timedelta(minutes=10).total_seconds())
    later = RawRequest(stale.method, stale.path, "", stale.headers, stale.body, clock.now())
    with pytest.raises(ReplayError):
        adapter.parse_callback(later)


# numbers that hold a Luhn-valid window of 13-19 digits but are no card number: the stored copy
# masks part of them (adapters.scrub.contains_pan), the call itself must not be refused
NOT_CARD_NUMBERS = ["20261126070001", "41111111111111110000", "evt-0004111111111111111-2"]


@pytest.mark.parametrize("number", NOT_CARD_NUMBERS)
def test_an_id_holding_a_luhn_window_is_not_refused(number: str) -> None:
    assert contains_pan(number)  # what the stored copy masks ...
    event = parse(call(dict(SALE, reference=number)))  # ... and what the terminal may still send
    assert event.amount == SALE["amount"]


@pytest.mark.parametrize("text", ["pan 4111111111111111.", "4111 1111 1111 1111",
                                  "x5555-5555-5555-4444", "4222222222222"])
def test_whole_card_numbers_are_held(text: str) -> None:
    assert holds_card_number(text)


@pytest.mark.parametrize("text", ["4111111111111112", "4111  1111 1111 1111", "14111111111111111",
                                  "4111111111111111-9", "411111111111"])
def test_near_card_numbers_are_not_held(text: str) -> None:
    """Luhn fails, a double space splits it, a digit joins it, or it is too short."""
    assert not holds_card_number(text)
