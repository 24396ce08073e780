"""payOS webhook: the PROVIDERS.md vector (with "Thành công"), null → "", codes, order codes,
acknowledgements."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from adapters import MalformedPayload, NotSupported, Outcome, RawRequest, SignatureError
from adapters.payos import signature_message
from tests.adapters.adapters_testkit import NOW, adapter_for, fixture_request

KEY = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
VECTOR_SIGNATURE = "412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"
DATA: dict[str, Any] = {
    "orderCode": 123, "amount": 3000, "description": "VQRIO123", "accountNumber": "12345678",
    "reference": "TF230204212323", "transactionDateTime": "2023-02-04 18:25:00",
    "currency": "VND", "paymentLinkId": "124c33293c43417ab7879e14c8d9eb18", "code": "00",
    "desc": "Thành công", "counterAccountBankId": "", "counterAccountBankName": "",
    "counterAccountName": "", "counterAccountNumber": "", "virtualAccountName": "",
    "virtualAccountNumber": "",
}


def js(value: object) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def signed(data: dict[str, Any], *, code: object = "00", key: str = KEY) -> RawRequest:
    text = "&".join(f"{k}={js(data[k])}" for k in sorted(data))
    signature = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    body = {"code": code, "desc": "success", "success": True, "data": data,
            "signature": signature}
    return RawRequest("POST", "/webhooks/payos", "", {},
                      json.dumps(body, ensure_ascii=False).encode(), NOW)


def test_vector() -> None:
    text = "&".join(f"{k}={DATA[k]}" for k in sorted(DATA))
    assert text.startswith("accountNumber=12345678&amount=3000&code=00&counterAccountBankId=&")
    assert "desc=Thành công" in text
    assert signature_message(DATA) == text.encode()
    assert hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest() == VECTOR_SIGNATURE
    event = adapter_for("payos").parse_callback(fixture_request("payos", "vector_success"))
    assert (event.order_code, event.provider_txn_id, event.amount) == (123, "TF230204212323",
                                                                       3000)
    assert event.reference is None


def test_desc_without_diacritics_does_not_verify() -> None:
    request = fixture_request("payos", "vector_success")
    forged = request.body.replace("Thành công".encode(), b"Thanh cong")
    with pytest.raises(SignatureError):
        adapter_for("payos").parse_callback(RawRequest("POST", "/", "", {}, forged, NOW))


def test_vector_body_with_escaped_vietnamese_still_verifies() -> None:
    request = fixture_request("payos", "vector_success")
    escaped = json.dumps(json.loads(request.body)).encode()  # "Th\\u00e0nh c\\u00f4ng"
    assert b"\\u00e0" in escaped
    assert adapter_for("payos").parse_callback(
        RawRequest("POST", "/", "", {}, escaped, NOW)).amount == 3000


def test_null_signs_as_empty() -> None:
    data = dict(DATA, counterAccountBankId=None, virtualAccountName=None)
    assert adapter_for("payos").parse_callback(signed(data)).status == "succeeded"


@pytest.mark.parametrize(
    ("data_code", "envelope_code", "status"),
    [("00", "00", "succeeded"), ("01", "00", "failed"), ("01", "01", "failed"),
     ("99", "99", "failed"), ("", "00", "failed"), ("00", None, "succeeded")],
)
def test_status(data_code: str, envelope_code: str | None, status: str) -> None:
    event = adapter_for("payos").parse_callback(signed(dict(DATA, code=data_code),
                                                       code=envelope_code))
    assert event.status == status


@pytest.mark.parametrize("envelope_code", ["01", "10", "99"])
def test_an_unsigned_envelope_cannot_fail_a_signed_success(envelope_code: str) -> None:
    """Only data is signed (found by tests/hardening/test_fuzz.py: a replayed success with the
    envelope's code changed to "10" was recorded as failed)."""
    with pytest.raises(MalformedPayload, match=r"contradicts the signed data\.code"):
        adapter_for("payos").parse_callback(signed(dict(DATA, code="00"), code=envelope_code))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"orderCode": "abc"}, "orderCode"),
        ({"orderCode": 12.5}, "orderCode"),
        ({"amount": "3.000"}, "amount"),
        ({"amount": -3000}, "negative"),
        ({"reference": ""}, "reference"),
        ({"transactionDateTime": "04/02/2023 18:25"}, "transactionDateTime"),
        ({"code": 0}, "data.code"),
    ],
)
def test_bad_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        adapter_for("payos").parse_callback(signed(dict(DATA, **changes)))


def test_order_code_as_digits_is_accepted() -> None:
    assert adapter_for("payos").parse_callback(signed(dict(DATA, orderCode="123"))).order_code \
        == 123


def test_data_must_be_an_object() -> None:
    body = json.dumps({"code": "00", "data": "x", "signature": "ab"}).encode()
    with pytest.raises(MalformedPayload, match="data"):
        adapter_for("payos").parse_callback(RawRequest("POST", "/", "", {}, body, NOW))


@pytest.mark.parametrize(
    ("outcome", "status", "success"),
    [
        (Outcome.accepted, 200, True), (Outcome.duplicate, 200, True),
        (Outcome.unknown_order, 200, True), (Outcome.amount_mismatch, 200, True),
        (Outcome.ignored, 200, True), (Outcome.bad_signature, 401, False),
        (Outcome.replayed, 401, False), (Outcome.malformed, 400, False),
        (Outcome.retry_later, 503, False), (Outcome.not_configured, 503, False),
    ],
)
def test_acknowledgement(outcome: Outcome, status: int, success: bool) -> None:
    ack = adapter_for("payos").acknowledge(outcome)
    assert ack.status_code == status
    assert json.loads(ack.body)["success"] is success
    if success:
        assert json.loads(ack.body) == {"success": True}


def test_build_callback_needs_an_order_code_and_success() -> None:
    adapter = adapter_for("payos")
    with pytest.raises(ValueError, match="order_code"):
        adapter.build_callback(amount=1000, reference="HS1")
    with pytest.raises(NotSupported):
        adapter.build_callback(amount=1000, order_code=1, status="failed")
    event = adapter.parse_callback(adapter.build_callback(amount=1000, order_code=77,
                                                          reference="HS1"))
    assert (event.order_code, event.memo) == (77, "HS1")


@pytest.mark.parametrize("text", ["null", "undefined"])
def test_null_like_strings_sign_either_way(text: str) -> None:
    data = dict(DATA, counterAccountName=text)
    sdk = "&".join(f"{k}={'' if k == 'counterAccountName' else js(data[k])}" for k in sorted(data))
    body = {"code": "00", "data": data,
            "signature": hmac.new(KEY.encode(), sdk.encode(), hashlib.sha256).hexdigest()}
    request = RawRequest("POST", "/", "", {}, json.dumps(body).encode(), NOW)
    assert adapter_for("payos").parse_callback(request).status == "succeeded"
    assert adapter_for("payos").parse_callback(signed(data)).status == "succeeded"  # literal


def test_arrays_sign_as_compact_json_with_sorted_keys() -> None:
    data = dict(DATA, transactions=[{"b": 1, "a": "x"}])
    array_text = '[{"a":"x","b":1}]'
    text = "&".join(f"{k}={array_text if k == 'transactions' else js(data[k])}"
                    for k in sorted(data))
    body = {"code": "00", "data": data,
            "signature": hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()}
    request = RawRequest("POST", "/", "", {}, json.dumps(body).encode(), NOW)
    assert adapter_for("payos").parse_callback(request).amount == 3000


def test_reference_is_the_transaction_id_and_the_bank_reference() -> None:
    """payOS keys a payment by ``data.reference``, the bank's own reference: a bank statement
    line lists it by the same value."""
    for name in ("vector_success", "nulls_and_vietnamese"):
        event = adapter_for("payos").parse_callback(fixture_request("payos", name))
        assert event.bank_reference == event.provider_txn_id
    assert adapter_for("payos").parse_callback(signed(DATA)).bank_reference == "TF230204212323"
