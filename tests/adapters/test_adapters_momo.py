"""MoMo IPN: the PROVIDERS.md vector, Vietnamese text, result codes, access-key rotation,
acknowledgements (HTTP 204) and the query request."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from adapters import MalformedPayload, NotSupported, Outcome, RawRequest, SignatureError
from adapters.momo import QUERY_PATH, RESULT_CODES, build_query_request, payment_status
from tests.adapters.adapters_testkit import NOW, adapter_for, fixture_request

ACCESS = "F8BBA842ECF85"
SECRET = "K951B6PE1waDMi640xX08PD3vg6EkVlz"
FIELDS = ("amount", "extraData", "message", "orderId", "orderInfo", "orderType", "partnerCode",
          "payType", "requestId", "responseTime", "resultCode", "transId")
VECTOR: dict[str, Any] = {
    "partnerCode": "MOMO", "orderId": "MOMO1702610780570", "requestId": "MOMO1702610780570",
    "amount": 1000, "orderInfo": "pay with MoMo", "orderType": "momo_wallet",
    "transId": 3108111745, "resultCode": 0, "message": "Successful.", "payType": "qr",
    "responseTime": 1702610801454, "extraData": "",
}


def js(value: object) -> str:
    """A value as MoMo's (JavaScript/Java) servers print it into the signed string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def signed(body: dict[str, Any], *, access: str = ACCESS, secret: str = SECRET) -> RawRequest:
    raw = f"accessKey={access}&" + "&".join(f"{k}={js(body.get(k))}" for k in FIELDS)
    signature = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    return RawRequest("POST", "/webhooks/momo", "", {"Content-Type": "application/json"},
                      json.dumps(dict(body, signature=signature), ensure_ascii=False).encode(),
                      NOW)


def test_vector_signature() -> None:
    raw = ("accessKey=F8BBA842ECF85&amount=1000&extraData=&message=Successful.&orderId="
           "MOMO1702610780570&orderInfo=pay with MoMo&orderType=momo_wallet&partnerCode=MOMO"
           "&payType=qr&requestId=MOMO1702610780570&responseTime=1702610801454&resultCode=0"
           "&transId=3108111745")
    assert hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest() == (
        "0c6d292b9a4e8d2a8113fd35a919f81c1f8839073324eb5e0209e87d9932bc87")
    body = json.loads(fixture_request("momo", "vector_success").body)
    assert body["signature"] == "0c6d292b9a4e8d2a8113fd35a919f81c1f8839073324eb5e0209e87d9932bc87"
    event = adapter_for("momo").parse_callback(fixture_request("momo", "vector_success"))
    assert (event.reference, event.amount, event.status) == ("MOMO1702610780570", 1000,
                                                             "succeeded")


def test_vietnamese_order_info_is_signed_as_raw_utf8() -> None:
    body = dict(VECTOR, orderInfo="Thanh toán lệ phí hộ tịch — Phường Phú Hội, Huế")
    event = adapter_for("momo").parse_callback(signed(body))
    assert event.memo == "Thanh toán lệ phí hộ tịch — Phường Phú Hội, Huế"
    # the same text escaped as \\uXXXX in the JSON body is the same data: still verifies
    request = signed(body)
    escaped = RawRequest(request.method, request.path, "", request.headers,
                         json.dumps(json.loads(request.body)).encode(), NOW)
    assert adapter_for("momo").parse_callback(escaped).memo == event.memo


def test_one_changed_diacritic_breaks_the_signature() -> None:
    request = signed(dict(VECTOR, orderInfo="Lệ phí"))
    forged = request.body.replace("Lệ phí".encode(), "Le phí".encode())
    with pytest.raises(SignatureError):
        adapter_for("momo").parse_callback(RawRequest("POST", "/", "", {}, forged, NOW))


@pytest.mark.parametrize(("code", "meaning"), sorted(RESULT_CODES.items()))
def test_every_documented_result_code_maps(code: int, meaning: tuple[str, str]) -> None:
    event = adapter_for("momo").parse_callback(signed(dict(VECTOR, resultCode=code)))
    assert event.status == meaning[1]
    assert event.raw_status == f"resultCode={code}"


def test_result_codes_called_out_in_the_brief() -> None:
    assert payment_status(0) == "succeeded"
    assert payment_status(1006) == "failed"  # user declined
    assert payment_status(1005) == "failed"  # expired
    assert payment_status(9000) == "pending"  # authorised, not captured: not paid yet
    assert payment_status(7000) == "pending"


@pytest.mark.parametrize("code", [1, 2, 5555, -1, 123456])
def test_unknown_result_code_is_never_success(code: int) -> None:
    assert adapter_for("momo").parse_callback(signed(dict(VECTOR, resultCode=code))).status == (
        "failed")


def test_result_code_as_text_is_accepted() -> None:
    event = adapter_for("momo").parse_callback(signed(dict(VECTOR, resultCode="0")))
    assert event.status == "succeeded"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"partnerCode": "OTHER"}, "not ours"),
        ({"amount": 1000.5}, "amount"),
        ({"amount": "1.000"}, "amount"),
        ({"amount": -1000}, "negative"),
        ({"amount": True}, "amount"),
        ({"orderId": ""}, "orderId"),
        ({"resultCode": None}, "resultCode"),
        ({"responseTime": "yesterday"}, "responseTime"),
        ({"transId": 0}, "transId"),
    ],
)
def test_bad_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        adapter_for("momo").parse_callback(signed(dict(VECTOR, **changes)))


def test_failed_payment_without_trans_id_gets_an_order_scoped_id() -> None:
    event = adapter_for("momo").parse_callback(signed(dict(VECTOR, transId=0, resultCode=1006)))
    assert event.provider_txn_id == "unpaid:MOMO1702610780570"


def test_signature_not_text_is_missing() -> None:
    body = dict(VECTOR, signature=12345)
    request = RawRequest("POST", "/", "", {}, json.dumps(body).encode(), NOW)
    with pytest.raises(SignatureError, match="missing"):
        adapter_for("momo").parse_callback(request)


def test_previous_access_key_pairs_with_previous_secret() -> None:
    request = signed(VECTOR, access="OLD-ACCESS", secret="old-secret-0123456789")
    adapter = adapter_for(
        "momo",
        RECON_MOMO_ACCESS_KEY="NEW-ACCESS",
        RECON_MOMO_SECRET_KEY="new-secret-0123456789",
        RECON_MOMO_ACCESS_KEY_PREVIOUS="OLD-ACCESS",
        RECON_MOMO_SECRET_KEY_PREVIOUS="old-secret-0123456789",
    )
    assert adapter.parse_callback(request).status == "succeeded"
    # the old secret is not accepted with the new access key
    only_new_access = adapter_for(
        "momo", RECON_MOMO_ACCESS_KEY="NEW-ACCESS", RECON_MOMO_SECRET_KEY="new-secret-0123456789",
        RECON_MOMO_SECRET_KEY_PREVIOUS="old-secret-0123456789")
    with pytest.raises(SignatureError):
        only_new_access.parse_callback(request)


def test_wrong_access_key_is_refused() -> None:
    with pytest.raises(SignatureError):
        adapter_for("momo").parse_callback(signed(VECTOR, access="SOMEONE-ELSE"))


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.accepted, 204), (Outcome.duplicate, 204), (Outcome.unknown_order, 204),
        (Outcome.amount_mismatch, 204), (Outcome.ignored, 204), (Outcome.bad_signature, 401),
        (Outcome.replayed, 401), (Outcome.malformed, 400), (Outcome.retry_later, 503),
        (Outcome.not_configured, 503),
    ],
)
def test_acknowledgement(outcome: Outcome, status: int) -> None:
    ack = adapter_for("momo").acknowledge(outcome, "why")
    assert ack.status_code == status
    if status == 204:
        assert ack.body == b""
    else:
        assert json.loads(ack.body) == {"message": "why"}


def test_build_callback_statuses() -> None:
    adapter = adapter_for("momo")
    for status in ("succeeded", "failed", "pending"):
        request = adapter.build_callback(amount=50000, reference="HS1", status=status)
        assert adapter.parse_callback(request).status == status
    with pytest.raises(NotSupported, match="refunded"):
        adapter.build_callback(amount=50000, reference="HS1", status="refunded")
    with pytest.raises(ValueError, match="reference"):
        adapter.build_callback(amount=50000)


def test_query_request() -> None:
    path, body = build_query_request(partner_code="MOMO", access_key=ACCESS, secret_key=SECRET,
                                     order_id="MOMO1702610780570", request_id="Q1")
    assert path == QUERY_PATH == "/v2/gateway/api/query"
    raw = "accessKey=F8BBA842ECF85&orderId=MOMO1702610780570&partnerCode=MOMO&requestId=Q1"
    assert body == {
        "partnerCode": "MOMO", "requestId": "Q1", "orderId": "MOMO1702610780570", "lang": "vi",
        "signature": hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest(),
    }
    assert adapter_for("momo").query_request(order_id="MOMO1702610780570",
                                             request_id="Q1") == (path, body)
